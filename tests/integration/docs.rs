//! `kindred index`, `query`, `get`, `delete`, `ls` and `demo` on a folder of real files.

use std::fs;
use std::path::Path;

use serde_json::Value;

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
    let out = ok(kindred().args(["demo", "--quiet", "-k", "1"]));
    let firsts: Vec<&str> = out.lines().filter(|l| l.starts_with("  0.")).collect();
    let topics = ["[cooking]", "[astronomy]", "[programming]", "[travel]", "[gardening]"];
    assert_eq!(firsts.len(), topics.len(), "{out}");
    for (line, topic) in firsts.iter().zip(topics) {
        assert!(line.contains(topic), "{line} should be {topic}");
    }
}
