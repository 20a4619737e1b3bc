//! `kindred viz` end to end: a collection indexed from the demo corpus, drawn in every format,
//! with its measures, seeds, samples, clusters and query scores; and its errors.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{fails, kindred, ok, tempdir};
use crate::viz_render::{
    assert_no_console_errors, assert_not_blank, body_tag, chromium, decode_png,
};

/// Indexes the demo corpus (32 documents, 4 on each of 8 topics) into `dir/demo.db`.
fn demo_db(dir: &Path) -> PathBuf {
    let db = dir.join("demo.db");
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/corpus.jsonl");
    ok(kindred().args(["index", "--quiet", "--db"]).arg(&db).arg(corpus));
    db
}

/// Runs `kindred viz --json` and returns its report.
fn viz(db: &Path, out: &Path, extra: &[&str]) -> Value {
    let stdout = ok(kindred()
        .args(["viz", "--quiet", "--json", "--db"])
        .arg(db)
        .arg("--out")
        .arg(out)
        .args(extra));
    serde_json::from_str(stdout.trim()).unwrap()
}

#[test]
fn viz_draws_a_collection_in_every_format_and_says_how_faithful_it_is() {
    let tmp = tempdir();
    let db = demo_db(tmp.path());
    let at = |name: &str| tmp.path().join(name);

    for method in ["umap", "tsne", "pca"] {
        let png = at(&format!("{method}.png"));
        let report = viz(&db, &png, &["--method", method, "--color-by", "topic"]);
        assert_eq!((report["points"].as_u64(), report["total"].as_u64()), (Some(32), Some(32)));
        assert_eq!(report["categories"].as_array().unwrap().len(), 8, "{report}");
        let (knn, chance) =
            (report["knn_preservation"].as_f64().unwrap(), report["knn_chance"].as_f64().unwrap());
        assert!(knn > chance + 0.1, "{method}: k-NN preservation {knn} vs chance {chance}");
        assert!(report["silhouette"].as_f64().unwrap() > -1.0, "{report}");
        let image = decode_png(&std::fs::read(&png).unwrap());
        assert_eq!((image.width, image.height), (1000, 750));
        assert_not_blank(&image);
    }

    // The interactive page works offline in a browser and draws every point.
    let page = at("plot.html");
    viz(&db, &page, &["--color-by", "topic", "--title", "Demo <corpus>"]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Demo &lt;corpus&gt;") || html.contains("Demo \\u003ccorpus>"));
    assert!(!html.contains("http://") && !html.contains("https://"), "nothing is fetched");
    let output = chromium(tmp.path(), &["--dump-dom", &format!("file://{}", page.display())]);
    let dom = String::from_utf8_lossy(&output.stdout);
    let body = body_tag(&dom).expect("a <body>");
    assert!(
        body.contains("data-points-drawn=\"32\"") && body.contains("data-errors=\"\""),
        "{body}"
    );
    assert_no_console_errors(&output);

    // SVG: the title, the axis labels and one mark per point.
    let svg = at("plot.svg");
    viz(&db, &svg, &["--method", "tsne", "--color-by", "topic"]);
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.contains("t-SNE of collection") && svg.contains("t-SNE 1"), "{svg}");
    assert_eq!(svg.matches("<circle").count() - 8, 32, "32 points and 8 legend markers");

    // The same seed draws the same plot; another seed, another layout.
    let csv = |name: &str, seed: &str| {
        let path = at(name);
        viz(&db, &path, &["--seed", seed, "--color-by", "topic"]);
        std::fs::read_to_string(path).unwrap()
    };
    let (a, b, c) = (csv("a.csv", "7"), csv("b.csv", "7"), csv("c.csv", "8"));
    assert_eq!(a, b, "the same seed repeats");
    assert_ne!(a, c, "another seed moves the points");
    assert_eq!(a.lines().next(), Some("id,category,x,y"));
    assert_eq!(a.lines().count(), 33);

    // Several runs report their consistency; a sample keeps that many points; clusters are
    // found on the full vectors and named by their words.
    let runs = viz(&db, &at("runs.svg"), &["--runs", "3", "--sample", "20"]);
    let consistency = runs["consistency"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&consistency), "{runs}");
    assert_eq!(runs["points"], 20);
    assert_eq!(runs["seconds"].as_array().unwrap().len(), 3);
    let clusters = viz(&db, &at("clusters.png"), &["--color-by", "cluster", "--clusters", "4"]);
    let names = clusters["categories"].as_array().unwrap();
    assert_eq!(names.len(), 4, "{clusters}");
    assert!(names[0].as_str().unwrap().starts_with("1: "), "{clusters}");

    // Three dimensions, as coordinates; scores by similarity to a question.
    let json = at("points.json");
    viz(&db, &json, &["--dims", "3", "--query", "baking bread", "--color-by", "topic"]);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let points = doc["points"].as_array().unwrap();
    assert_eq!(points[0]["coords"].as_array().unwrap().len(), 3);
    let best = points
        .iter()
        .max_by(|a, b| a["score"].as_f64().unwrap().total_cmp(&b["score"].as_f64().unwrap()))
        .unwrap();
    assert_eq!(best["category"], "cooking", "{best}");
    assert!(doc["score"].as_str().unwrap().contains("baking bread"), "{doc}");
    // Coloured by source file: the legend names the files, without the folders they share.
    let notes = at("notes");
    std::fs::create_dir_all(&notes).unwrap();
    for (name, body) in [
        ("bread.md", "Knead the dough.\n\nLet it rise for an hour.\n\nBake it until brown."),
        ("stars.md", "A comet has a tail.\n\nThe Moon has phases.\n\nMars looks red."),
    ] {
        std::fs::write(notes.join(name), body).unwrap();
    }
    ok(kindred()
        .args(["index", "--quiet", "--chunk-tokens", "8", "--overlap", "0", "-c", "notes", "--db"])
        .arg(&db)
        .arg(&notes));
    let by_file = viz(&db, &at("files.svg"), &["-c", "notes", "--color-by", "source"]);
    assert_eq!(by_file["categories"], serde_json::json!(["bread.md", "stars.md"]), "{by_file}");
    let report =
        ok(kindred().args(["viz", "--quiet", "--db"]).arg(&db).arg("--out").arg(at("p.svg")));
    assert!(report.contains("k-NN preservation") && report.contains("wrote "), "{report}");
}

#[test]
fn viz_names_what_is_wrong_before_it_works() {
    let tmp = tempdir();
    let db = demo_db(tmp.path());
    let out = |name: &str| tmp.path().join(name).to_string_lossy().into_owned();
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (vec!["--out".into(), out("plot.pdf")], 1, "plot.pdf: unknown output type"),
        (
            vec!["--out".into(), out("p.png"), "--dims".into(), "3".into()],
            1,
            "--dims 3 writes coordinates only",
        ),
        (
            vec!["--out".into(), out("p.png"), "--dims".into(), "4".into()],
            1,
            "--dims must be 2 or 3, not 4",
        ),
        (vec!["--out".into(), out("nowhere/p.png")], 1, "no such folder"),
        (
            vec!["--out".into(), out("p.svg"), "--width".into(), "10".into()],
            1,
            "a plot of 10 x 750 pixels cannot be drawn",
        ),
        (
            vec!["--out".into(), out("p.png"), "-c".into(), "nope".into()],
            1,
            "collection \"nope\" does not exist",
        ),
        (
            vec!["--out".into(), out("p.png"), "--method".into(), "mds".into()],
            2,
            "expected one of pca, tsne, umap",
        ),
        (vec!["--out".into(), out("p.png"), "--runs".into(), "0".into()], 2, "must be at least 1"),
        (vec!["--out".into(), out("p.png"), "--sample".into(), "2".into()], 1, "at least 3"),
    ];
    for (args, code, message) in cases {
        let err = fails(kindred().args(["viz", "--quiet", "--db"]).arg(&db).args(&args), code);
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let written: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("demo.db"))
        .collect();
    assert!(written.is_empty(), "a failed run writes nothing: {written:?}");

    ok(kindred()
        .args(["delete", "--filter", "{\"topic\": {\"$ne\": \"music\"}}", "--db"])
        .arg(&db));
    let music = ok(kindred().args(["ls", "--passages", "--json", "--db"]).arg(&db));
    let ids: Vec<String> = music
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect();
    ok(kindred().arg("delete").args(&ids[2..]).arg("--db").arg(&db));
    let err = fails(
        kindred().args(["viz", "--quiet", "--db"]).arg(&db).args(["--out", &out("p.png")]),
        1,
    );
    assert!(err.contains("holds 2 records: a plot needs at least 3"), "{err}");
}
