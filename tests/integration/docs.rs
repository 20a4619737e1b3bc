//! `kindred index`, `query`, `get`, `delete`, `ls` and `demo` on a folder of real files.

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use crate::util::{fails, kindred, ok, tempdir};

fn write(root: &Path, name: &str, body: &[u8]) {
    let path = root.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, body).unwrap();
}

/// A folder with nested notes, an ignore file, and every kind of file indexing must survive.
fn fixture(root: &Path) {
    write(root, ".gitignore", b"ignored/\n");
    write(root, "notes/bread.md", b"# Baking\n\nKnead the dough and let the bread rise for an hour.\n\n## Oven\n\nBake it in a hot oven until the crust is brown.\n");
    write(root, "notes/deep/rust.txt", b"Rust programs are compiled to fast native code.\n");
    write(root, "notes/page.html", b"<html><head><title>Stars</title><script>x()</script></head><body><p>A black hole swallows light.</p></body></html>");
    write(root, "ignored/secret.txt", b"This must never be indexed.");
    write(root, "blob.bin", b"\x00\x01\x02binary");
    write(root, "latin1.txt", b"caf\xe9 cr\xe8me");
    write(root, "empty.txt", b"");
    write(root, "huge.txt", &vec![b'a'; 6000]);
    std::os::unix::fs::symlink(root.join("notes"), root.join("notes/deep/loop")).unwrap();
}

fn index(root: &Path, db: &Path) -> Value {
    let out = ok(kindred()
        .args(["index", "--quiet", "--json", "--max-file-size", "5000", "--db"])
        .arg(db)
        .arg(root));
    serde_json::from_str(out.trim()).unwrap()
}

fn reasons(summary: &Value, key: &str) -> Vec<(String, String)> {
    summary[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (v["path"].as_str().unwrap().to_string(), v["reason"].as_str().unwrap().to_string())
        })
        .collect()
}

fn query(db: &Path, text: &str) -> Vec<Value> {
    let out = ok(kindred().args(["query", "--json", "-k", "3", text, "--db"]).arg(db));
    let line: Value = serde_json::from_str(out.trim()).unwrap();
    line["hits"].as_array().unwrap().clone()
}

#[test]
fn a_folder_is_indexed_and_every_odd_file_is_reported_not_fatal() {
    let tmp = tempdir();
    let root = tmp.path().join("docs");
    fixture(&root);
    let db = tmp.path().join("k.db");
    let summary = index(&root, &db);
    assert_eq!(summary["indexed"], 3, "{summary}");
    let skipped = reasons(&summary, "skipped");
    let failed = reasons(&summary, "failed");
    let has = |list: &[(String, String)], file: &str, why: &str| {
        list.iter().any(|(p, r)| p.ends_with(file) && r.contains(why))
    };
    assert!(has(&skipped, "blob.bin", "binary"), "{skipped:?}");
    assert!(has(&skipped, "huge.txt", "too large"), "{skipped:?}");
    assert!(has(&skipped, "empty.txt", "empty"), "{skipped:?}");
    assert!(has(&skipped, "loop", "symbolic link"), "{skipped:?}");
    assert!(has(&failed, "latin1.txt", "UTF-8"), "{failed:?}");
    assert!(
        !skipped.iter().chain(&failed).any(|(p, _)| p.contains("ignored")),
        "ignored files are not even listed"
    );

    let hits = query(&db, "how long should dough rise");
    assert!(hits[0]["path"].as_str().unwrap().ends_with("notes/bread.md"), "{hits:?}");
    assert_eq!(hits[0]["heading"], "Baking");
    assert_eq!(hits[0]["lines"][0], 3);
    let hits = query(&db, "what happens to light near a black hole");
    assert!(hits[0]["path"].as_str().unwrap().ends_with("page.html"));
    assert!(!hits[0]["text"].as_str().unwrap().contains("x()"), "scripts are not text");
    let all = ok(kindred().args(["query", "--json", "-k", "20", "secret", "--db"]).arg(&db));
    assert!(!all.contains("must never be indexed"));
}

#[test]
fn reindexing_skips_unchanged_files_and_follows_edits_and_deletions() {
    let tmp = tempdir();
    let root = tmp.path().join("docs");
    fixture(&root);
    let db = tmp.path().join("k.db");
    index(&root, &db);
    let again = index(&root, &db);
    assert_eq!(
        (again["indexed"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(4)),
        "{again}"
    );

    write(&root, "notes/deep/rust.txt", b"Python is an interpreted language with dynamic types.\n");
    fs::remove_file(root.join("notes/page.html")).unwrap();
    let after = index(&root, &db);
    assert_eq!(after["indexed"], 1, "{after}");
    assert_eq!(after["removed"].as_array().unwrap().len(), 1, "{after}");
    let hits = query(&db, "compiled native code");
    assert!(
        hits.iter().all(|h| !h["text"].as_str().unwrap().contains("Rust programs")),
        "the old text is gone"
    );
    let hits = query(&db, "black hole");
    assert!(
        hits.iter().all(|h| !h["path"].as_str().unwrap().ends_with("page.html")),
        "the deleted file is gone"
    );
    let listed = ok(kindred().args(["ls", "--db"]).arg(&db));
    assert!(listed.contains("bread.md") && !listed.contains("page.html"), "{listed}");
}

#[test]
fn jsonl_corpora_load_as_documents_and_queries_run_in_bulk_per_document() {
    let tmp = tempdir();
    let corpus = tmp.path().join("corpus.jsonl");
    fs::write(
        &corpus,
        "{\"id\": \"d1\", \"title\": \"Wings\", \"text\": \"Lift grows with the angle of attack until the wing stalls.\", \"year\": 1960}\n\
         {\"id\": \"d2\", \"title\": \"Engines\", \"text\": \"Jet engines compress air, burn fuel and expel hot gas.\", \"year\": 1970}\n",
    )
    .unwrap();
    let db = tmp.path().join("k.db");
    ok(kindred().args(["index", "--quiet", "--db"]).arg(&db).arg(&corpus));
    let queries = tmp.path().join("q.jsonl");
    fs::write(&queries, "{\"id\": \"q1\", \"text\": \"when does a wing stall\"}\n{\"id\": 2, \"text\": \"how does a jet engine work\"}\n").unwrap();
    let out = ok(kindred()
        .args(["query", "--per-doc", "-k", "2", "--jsonl"])
        .arg(&queries)
        .arg("--db")
        .arg(&db));
    let lines: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        (&lines[0]["query_id"], &lines[1]["query_id"]),
        (&Value::from("q1"), &Value::from(2))
    );
    assert_eq!(
        (&lines[0]["hits"][0]["id"], &lines[1]["hits"][0]["id"]),
        (&Value::from("d1"), &Value::from("d2"))
    );

    let bare = ok(kindred()
        .args(["query", "--per-doc", "--no-text", "-k", "2", "--jsonl"])
        .arg(&queries)
        .arg("--db")
        .arg(&db));
    let bare: Value = serde_json::from_str(bare.lines().next().unwrap()).unwrap();
    assert_eq!(bare["hits"][0]["id"], "d1");
    assert!(bare["hits"][0].get("text").is_none() && lines[0]["hits"][0]["text"].is_string());

    let filtered = ok(kindred()
        .args(["query", "--json", "wing", "--filter", "{\"year\": {\"$gt\": 1965}}", "--db"])
        .arg(&db));
    assert!(filtered.contains("\"d2\"") && !filtered.contains("\"d1\""), "{filtered}");
    let got = ok(kindred().args(["get", "d1", "--db"]).arg(&db));
    assert!(got.contains("Wings Lift grows"), "{got}");
    let err = fails(kindred().args(["get", "nope", "--db"]).arg(&db), 1);
    assert!(err.contains("nope"), "{err}");
    let err = fails(
        kindred().args(["query", "x", "--filter", "{\"year\": {\"$gt\": [1]}}", "--db"]).arg(&db),
        1,
    );
    assert!(err.contains("filter.year.$gt"), "{err}");
    assert!(ok(kindred().args(["delete", "d1", "--db"]).arg(&db)).contains("deleted 1"));
    let err = fails(kindred().args(["query", "x", "--db"]).arg(tmp.path().join("missing.db")), 1);
    assert!(err.contains("missing.db") && err.contains("no such database"), "{err}");
}

#[test]
fn the_demo_answers_its_questions_by_meaning() {
    let tmp = tempdir();
    let plot = tmp.path().join("demo.svg");
    let out = ok(kindred().args(["demo", "--quiet", "-k", "1", "--plot"]).arg(&plot));
    let firsts: Vec<&str> = out.lines().filter(|l| l.starts_with("  0.")).collect();
    let topics = ["[cooking]", "[astronomy]", "[programming]", "[travel]", "[gardening]"];
    assert_eq!(firsts.len(), topics.len(), "{out}");
    for (line, topic) in firsts.iter().zip(topics) {
        assert!(line.contains(topic), "{line} should be {topic}");
    }
    assert!(out.contains("Drew the 32 documents to") && out.contains("k-NN preservation"), "{out}");
    let svg = fs::read_to_string(&plot).unwrap();
    assert_eq!(svg.matches("<circle").count(), 32 + 8, "32 documents and 8 topics in the legend");
}

/// Every passage of a collection, by id: `kindred ls --passages --json`.
fn passages(db: &Path, collection: &str) -> std::collections::BTreeMap<String, Value> {
    let out = ok(kindred().args(["ls", "--passages", "--json", "-c", collection, "--db"]).arg(db));
    out.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["id"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// Counts a text's tokens the way the model does, without `[CLS]` and `[SEP]`.
fn tokens(text: &str) -> usize {
    crate::util::embedder().tokenize(text).unwrap().len().saturating_sub(2)
}

/// A few hundred words in paragraphs of varied sentences, different for each `seed`.
fn essay(seed: usize, paragraphs: usize) -> String {
    let subjects = ["The pilot", "A gardener", "The compiler", "Our baker", "A comet", "The river"];
    let verbs = ["watches", "shapes", "checks", "warms", "crosses", "follows"];
    let objects = ["the northern ridge", "a loaf of rye", "every borrowed value", "the old bridge"];
    let mut text = format!("# Notes {seed}\n\n");
    for p in 0..paragraphs {
        for s in 0..4 {
            let k = seed * 31 + p * 7 + s;
            text += &format!(
                "{} {} {} on day {k}. ",
                subjects[k % subjects.len()],
                verbs[(k / 3) % verbs.len()],
                objects[(k / 5) % objects.len()]
            );
        }
        text += "\n\n";
    }
    text
}

#[test]
fn passage_size_overlap_and_whole_documents_shape_the_passages() {
    let tmp = tempdir();
    let root = tmp.path().join("docs");
    write(&root, "essay.md", essay(1, 12).as_bytes());
    let db = tmp.path().join("k.db");
    let run = |collection: &str, extra: &[&str]| {
        ok(kindred()
            .args(["index", "--quiet", "-c", collection])
            .args(extra)
            .arg("--db")
            .arg(&db)
            .arg(&root));
        let mut list: Vec<Value> = passages(&db, collection).into_values().collect();
        list.sort_by_key(|p| p["metadata"]["chunk"].as_u64());
        list
    };
    let text = |p: &Value| p["text"].as_str().unwrap().to_string();

    let whole = run("whole", &["--no-chunk"]);
    assert_eq!(whole.len(), 1);
    assert_eq!(text(&whole[0]), essay(1, 12), "--no-chunk keeps the document as it is");

    let standard = run("standard", &[]);
    let small = run("small", &["--chunk-tokens", "40", "--overlap", "0"]);
    let overlapping = run("overlapping", &["--chunk-tokens", "40", "--overlap", "16"]);
    assert!(small.len() > standard.len(), "{} vs {}", small.len(), standard.len());
    for p in standard.iter().chain(&small) {
        let limit = if small.contains(p) { 40 } else { 254 };
        assert!(tokens(&text(p)) <= limit, "{} tokens > {limit}: {}", tokens(&text(p)), text(p));
    }
    // Without overlap the passages tile the file: each starts where the previous one ended
    // (give or take the whitespace between them).
    for pair in small.windows(2) {
        let (a, b) = (&pair[0]["metadata"]["bytes"], &pair[1]["metadata"]["bytes"]);
        assert!(a[1].as_u64() <= b[0].as_u64(), "{a} then {b}");
    }
    // With overlap each passage starts inside the previous one and repeats its end.
    assert!(overlapping.len() > small.len());
    let mut repeated = 0;
    for pair in overlapping.windows(2) {
        let (a, b) = (&pair[0]["metadata"]["bytes"], &pair[1]["metadata"]["bytes"]);
        if b[0].as_u64() < a[1].as_u64() {
            repeated += 1;
            let first_words: String = text(&pair[1]).split_whitespace().take(3).collect();
            let a_words: String = text(&pair[0]).split_whitespace().collect();
            assert!(a_words.contains(&first_words), "{} / {}", text(&pair[0]), text(&pair[1]));
        }
    }
    assert!(repeated * 2 >= overlapping.len() - 1, "{repeated} of {} overlap", overlapping.len());

    // Changing the settings re-cuts a file whose content has not changed.
    let again = ok(kindred()
        .args(["index", "--quiet", "--json", "-c", "small", "--chunk-tokens", "60", "--db"])
        .arg(&db)
        .arg(&root));
    let summary: Value = serde_json::from_str(again.trim()).unwrap();
    assert_eq!((&summary["indexed"], &summary["unchanged"]), (&Value::from(1), &Value::from(0)));
    let recut = passages(&db, "small");
    assert!(recut.len() < small.len(), "{} passages of 60 tokens", recut.len());
    let listed = ok(kindred().args(["ls", "--json", "-c", "small", "--db"]).arg(&db));
    let file: Value = serde_json::from_str(listed.trim()).unwrap();
    assert_eq!(file["passage_settings"], "chunk:60/32", "{file}");
    assert_eq!(file["passages"], recut.len(), "{file}");

    let err =
        fails(kindred().args(["index", "--chunk-tokens", "600", "--db"]).arg(&db).arg(&root), 1);
    assert!(err.contains("--chunk-tokens must be between 1 and 254"), "{err}");
    let err = fails(
        kindred()
            .args(["index", "--chunk-tokens", "40", "--overlap", "40", "--db"])
            .arg(&db)
            .arg(&root),
        1,
    );
    assert!(err.contains("--overlap (40) must be smaller than the passage size (40)"), "{err}");
}

/// Starts `kindred index --verbose` on `root`, waits until `files` files are reported done, then
/// stops it with `signal` (`KILL`, or `INT` as Ctrl-C sends). Returns whether the signal ended
/// the run (on a loaded machine the run may, rarely, finish before the signal lands).
fn interrupt_index(root: &Path, db: &Path, files: usize, signal: &str) -> bool {
    use std::io::{BufRead, BufReader};
    let mut child = kindred()
        .args(["index", "--verbose", "--chunk-tokens", "48", "--db"])
        .arg(db)
        .arg(root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kindred starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for _ in 0..files {
        let line = lines.next().expect("a line per file").unwrap();
        assert!(line.starts_with("indexed ("), "{line}");
    }
    let pid = child.id().to_string();
    let sent = std::process::Command::new("kill").args([&format!("-{signal}"), &pid]).status();
    assert!(sent.unwrap().success());
    !child.wait().unwrap().success()
}

#[test]
fn an_interrupted_index_resumes_to_exactly_the_passages_of_an_uninterrupted_run() {
    let tmp = tempdir();
    let root = tmp.path().join("docs");
    let files = 40;
    for n in 0..files {
        write(&root, &format!("part-{}/essay-{n:03}.md", n % 4), essay(n, 4).as_bytes());
    }
    let index_json = |db: &Path| -> Value {
        let out = ok(kindred()
            .args(["index", "--quiet", "--json", "--chunk-tokens", "48", "--db"])
            .arg(db)
            .arg(&root));
        serde_json::from_str(out.trim()).unwrap()
    };
    let reference_db = tmp.path().join("reference.db");
    let reference_summary = index_json(&reference_db);
    assert_eq!(reference_summary["indexed"], files, "{reference_summary}");
    let reference = passages(&reference_db, "default");
    assert!(reference.len() > 2 * files, "{} passages", reference.len());

    let mut interrupted = 0;
    for (signal, after) in [("KILL", 3), ("INT", 17), ("KILL", 31)] {
        let db = tmp.path().join(format!("{signal}-{after}.db"));
        let stopped = interrupt_index(&root, &db, after, signal);
        interrupted += usize::from(stopped);
        let resumed = index_json(&db);
        let (indexed, unchanged) =
            (resumed["indexed"].as_u64().unwrap(), resumed["unchanged"].as_u64().unwrap());
        assert!(unchanged >= after as u64, "{signal}: {resumed}");
        assert!(!stopped || unchanged < files as u64, "{signal}: {resumed}");
        assert_eq!(indexed + unchanged, files as u64, "{signal}: {resumed}");

        let got = passages(&db, "default");
        let missing: Vec<_> = reference.keys().filter(|id| !got.contains_key(*id)).collect();
        let extra: Vec<_> = got.keys().filter(|id| !reference.contains_key(*id)).collect();
        assert!(missing.is_empty() && extra.is_empty(), "missing {missing:?}, extra {extra:?}");
        assert!(got == reference, "{signal} after {after}: a passage differs in text or metadata");

        let stats = ok(kindred().args(["stats", "--json", "--db"]).arg(&db));
        let stats: Value = serde_json::from_str(stats.trim()).unwrap();
        assert_eq!((&stats["count"], &stats["files"]), (&json!(reference.len()), &json!(files)));
        // The index answers from the resumed store: a passage finds itself first.
        let (id, passage) = reference.iter().nth(reference.len() / 2).unwrap();
        let hits = query(&db, passage["text"].as_str().unwrap());
        assert_eq!(hits[0]["id"], json!(id), "{signal}: {hits:?}");
    }
    assert!(interrupted >= 2, "only {interrupted} of 3 runs were stopped before they finished");
}

#[test]
fn every_command_answers_in_text_and_json_and_names_what_is_wrong() {
    let tmp = tempdir();
    let root = tmp.path().join("docs");
    fixture(&root);
    let db = tmp.path().join("k.db");
    index(&root, &db);

    let text = ok(kindred().args(["query", "-k", "2", "when is the crust brown", "--db"]).arg(&db));
    let first: Vec<&str> = text.lines().take(3).collect();
    assert!(first[0].starts_with(" 1. 0.") && first[0].ends_with("notes/bread.md:7"), "{text}");
    assert_eq!(first[1], "    § Baking > Oven", "{text}");
    assert!(first[2].contains("Bake it in a hot oven"), "{text}");
    let hit = &query(&db, "when is the crust brown")[0];
    for field in ["id", "score", "doc_id", "path", "lines", "heading", "text"] {
        assert!(!hit[field].is_null(), "{field} missing from {hit}");
    }

    let stats = ok(kindred().args(["stats", "--db"]).arg(&db));
    assert!(stats.contains("default: 4 records from 3 files, 384-d"), "{stats}");
    let listed = ok(kindred().args(["ls", "--passages", "--db"]).arg(&db));
    assert!(listed.lines().any(|l| l.ends_with("notes/bread.md:7  § Baking > Oven")), "{listed}");

    let oven = ok(kindred()
        .args(["delete", "--filter", "{\"heading\": \"Baking > Oven\"}", "--db"])
        .arg(&db));
    assert_eq!(oven.trim(), "deleted 1 passages");
    assert!(query(&db, "when is the crust brown").iter().all(|h| h["heading"] != "Baking > Oven"));
    let rust = passages(&db, "default").into_keys().find(|id| id.ends_with("rust.txt#0")).unwrap();
    let err = fails(kindred().args(["delete", &rust, "no-such-id", "--db"]).arg(&db), 1);
    assert!(err.contains("no passage with id no-such-id"), "{err}");
    assert!(!passages(&db, "default").contains_key(&rust), "the id that exists is deleted");

    let missing_db = tmp.path().join("missing.db");
    for (args, message) in [
        (vec!["index", "/no/such/folder"], "/no/such/folder: no such file or folder"),
        (vec!["query", "-k", "0", "x"], "invalid value '0' for '--k <K>': must be at least 1"),
        (vec!["query", "x", "-c", "nope"], "collection \"nope\" does not exist"),
        (vec!["delete", "--filter", "{bad"], "invalid filter at filter: not JSON"),
        (vec!["ls", "-c", "nope"], "collection \"nope\" does not exist"),
    ] {
        let code = if args[1] == "-k" { 2 } else { 1 };
        let err = fails(kindred().args(&args).arg("--db").arg(&db), code);
        assert!(err.contains(message), "{args:?}: {err}");
    }
    for command in ["ls", "stats", "get"] {
        let mut cmd = kindred();
        cmd.arg(command).arg("--db").arg(&missing_db);
        if command == "get" {
            cmd.arg("x");
        }
        let err = fails(&mut cmd, 1);
        assert!(err.contains("missing.db") && err.contains("no such database"), "{err}");
    }
    assert!(!missing_db.exists(), "reading commands never create a database");
    let err = fails(kindred().args(["index", "/no/such/folder", "--db"]).arg(&missing_db), 1);
    assert!(err.contains("/no/such/folder"), "{err}");
    assert!(!missing_db.exists(), "a mistyped path creates nothing");
}
