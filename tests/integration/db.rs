//! The database: writes, reads, filters, persistence and the errors that guard the data.

use std::sync::Arc;

use kindred::{
    CollectionOptions, Database, Document, EmbedOptions, Error, Filter, IndexOrigin, Pooling,
    SearchOptions, VectorRecord,
};
use serde_json::json;

use crate::util::{default_model, embedder_arc, load, tempdir};

fn docs() -> Vec<Document> {
    vec![
        Document::new("bread", "Knead the dough and let the bread rise for an hour.")
            .metadata(json!({"topic": "cooking", "minutes": 60})),
        Document::new("soup", "Add salt and pepper to the soup and let it simmer.")
            .metadata(json!({"topic": "cooking", "minutes": 30})),
        Document::new("rust", "Rust programs are compiled to fast native code.")
            .metadata(json!({"topic": "programming", "lang": "rust"})),
        Document::new("bug", "The program crashed because of a bug in the source code.")
            .metadata(json!({"topic": "programming"})),
        Document::new("plain", "A sentence with no metadata at all."),
    ]
}

fn notes(db: &Database) -> kindred::Collection {
    db.create_collection("notes", CollectionOptions::with_embedder(embedder_arc())).unwrap()
}

#[test]
fn texts_are_embedded_on_write_and_found_by_meaning() {
    let tmp = tempdir();
    let db = Database::open(tmp.path().join("k.db")).unwrap();
    let c = notes(&db);
    c.add(&docs()).unwrap();
    assert_eq!(c.count().unwrap(), 5);

    let hits = c.search("baking a loaf", &SearchOptions::new(2)).unwrap();
    assert_eq!(hits[0].id, "bread");
    assert_eq!(hits[0].metadata["minutes"], 60);
    assert!(hits[0].text.as_deref().unwrap().starts_with("Knead"));
    assert!(hits[0].score > hits[1].score);

    let filter = Filter::parse(&json!({"topic": "programming"})).unwrap();
    let hits = c.search("baking a loaf", &SearchOptions::new(5).filter(filter)).unwrap();
    let ids: Vec<_> = hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"rust") && ids.contains(&"bug"));

    let got = c.get(&["soup", "missing", "plain"]).unwrap();
    assert_eq!(got.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["soup", "plain"]);
    let norm: f32 = got[0].vector.iter().map(|x| x * x).sum();
    assert!((norm - 1.0).abs() < 1e-5);
    assert!(got[1].metadata.is_empty());
}

#[test]
fn upsert_replaces_delete_removes_and_neither_comes_back() {
    let tmp = tempdir();
    let db = index_only(&tmp.path().join("k.db"));
    let c = notes(&db);
    c.add(&docs()).unwrap();

    let err = c.add(&[Document::new("soup", "duplicate")]).unwrap_err();
    assert!(matches!(&err, Error::DuplicateId { id, .. } if id == "soup"), "{err}");
    let err = c.add(&[Document::new("new1", "a"), Document::new("new1", "b")]).unwrap_err();
    assert!(matches!(&err, Error::DuplicateId { id, .. } if id == "new1"), "{err}");
    assert_eq!(c.count().unwrap(), 5, "a refused batch writes nothing");

    c.upsert(&[Document::new("soup", "Python is a popular programming language.")]).unwrap();
    assert_eq!(c.count().unwrap(), 5);
    let hits = c.search("simmering soup with salt and pepper", &SearchOptions::new(5)).unwrap();
    let soup = hits.iter().find(|h| h.id == "soup").unwrap();
    assert!(soup.text.as_deref().unwrap().starts_with("Python"), "the old text never returns");
    assert!(soup.metadata.is_empty(), "upsert replaces metadata too");

    assert_eq!(c.delete(&["bread", "nope"]).unwrap(), 1);
    let hits = c.search("Knead the dough and let the bread rise", &SearchOptions::new(10)).unwrap();
    assert!(hits.iter().all(|h| h.id != "bread"));
    assert!(c.get(&["bread"]).unwrap().is_empty());

    let gone = c.delete_where(&Filter::parse(&json!({"topic": "programming"})).unwrap()).unwrap();
    assert_eq!(gone, 2);
    assert_eq!(c.count().unwrap(), 2);

    c.update_metadata("plain", json!({"seen": true}).as_object().unwrap().clone()).unwrap();
    assert_eq!(c.get(&["plain"]).unwrap()[0].metadata["seen"], true);
    let err = c.update_metadata("bread", Default::default()).unwrap_err();
    assert!(matches!(err, Error::RecordNotFound { .. }), "{err}");
}

#[test]
fn pages_walk_every_record_once_in_insertion_order() {
    let tmp = tempdir();
    let db = Database::open(tmp.path().join("k.db")).unwrap();
    let c = db.create_collection("v", CollectionOptions::with_dimension(3)).unwrap();
    let records: Vec<_> =
        (0..25).map(|i| VectorRecord::new(format!("r{i}"), vec![1.0, i as f32, 0.5])).collect();
    c.add_vectors(&records).unwrap();
    c.delete(&["r3"]).unwrap();
    let (mut seen, mut after) = (Vec::new(), None);
    loop {
        let page = c.list(after, 10).unwrap();
        seen.extend(page.records.into_iter().map(|r| r.id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let want: Vec<String> = (0..25).filter(|&i| i != 3).map(|i| format!("r{i}")).collect();
    assert_eq!(seen, want);
}

#[test]
fn bad_vectors_are_refused_naming_the_record_and_nothing_is_written() {
    let tmp = tempdir();
    let db = Database::open(tmp.path().join("k.db")).unwrap();
    let c = db.create_collection("v", CollectionOptions::with_dimension(3)).unwrap();
    let cases = [
        (vec![1.0, 2.0], "has 2 dimensions"),
        (vec![1.0, f32::NAN, 0.0], "component 1 is NaN"),
        (vec![f32::INFINITY, 0.0, 0.0], "component 0 is inf"),
        (vec![0.0, 0.0, 0.0], "all zeros"),
    ];
    for (vector, reason) in cases {
        let batch =
            [VectorRecord::new("fine", vec![1.0, 0.0, 0.0]), VectorRecord::new("bad-one", vector)];
        let err = c.add_vectors(&batch).unwrap_err().to_string();
        assert!(err.contains("\"bad-one\"") && err.contains(reason), "{err}");
    }
    assert_eq!(c.count().unwrap(), 0);
    c.add_vectors(&[VectorRecord::new("scaled", vec![3.0, 4.0, 0.0])]).unwrap();
    assert_eq!(c.get(&["scaled"]).unwrap()[0].vector, vec![0.6, 0.8, 0.0], "normalized on write");
    let err = c.search_vector(&[1.0, 0.0], &SearchOptions::new(1)).unwrap_err().to_string();
    assert!(err.contains("query vector") && err.contains("2 dimensions"), "{err}");
    let err = c.search("text", &SearchOptions::new(1)).unwrap_err();
    assert!(matches!(err, Error::NoEmbedder { .. }), "{err}");
}

#[test]
fn a_collection_refuses_a_mismatched_embedder_or_dimension() {
    let tmp = tempdir();
    let path = tmp.path().join("k.db");
    {
        let db = Database::open(&path).unwrap();
        notes(&db);
        db.create_collection("v", CollectionOptions::with_dimension(8)).unwrap();
        let err =
            db.create_collection("notes", CollectionOptions::with_dimension(8)).err().unwrap();
        assert!(matches!(err, Error::CollectionExists(_)), "{err}");
    }
    let db = Database::open(&path).unwrap();
    let cls = load(
        default_model(),
        EmbedOptions { pooling: Some(Pooling::Cls), ..EmbedOptions::default() },
    );
    let err = db.collection("notes").unwrap().with_embedder(Arc::new(cls)).err().unwrap();
    let text = err.to_string();
    assert!(
        matches!(err, Error::EmbedderMismatch { .. }) && text.contains("pooling: mean vs cls"),
        "{text}"
    );
    let small =
        load(default_model(), EmbedOptions { truncate_dim: Some(64), ..EmbedOptions::default() });
    let err = db.collection("notes").unwrap().with_embedder(Arc::new(small)).err().unwrap();
    assert!(err.to_string().contains("dimension: 384 vs 64"), "{err}");
    let err = db.collection("v").unwrap().with_embedder(embedder_arc()).err().unwrap();
    assert!(err.to_string().contains("dimension: 8 vs 384"), "{err}");
    assert!(db.collection("notes").unwrap().with_embedder(embedder_arc()).is_ok());
    assert!(matches!(db.collection("nope").err().unwrap(), Error::CollectionNotFound(_)));
}

#[test]
fn a_reopened_database_answers_identically_from_its_snapshot() {
    let tmp = tempdir();
    let path = tmp.path().join("k.db");
    let queries = ["bread", "a software bug", "metadata"];
    let before: Vec<_> = {
        let db = index_only(&path);
        let c = notes(&db);
        c.add(&docs()).unwrap();
        queries.iter().map(|q| c.search(q, &SearchOptions::new(3)).unwrap()).collect()
    };
    let db = index_only(&path);
    let c = db.collection("notes").unwrap().with_embedder(embedder_arc()).unwrap();
    assert_eq!(c.index_origin(), &IndexOrigin::Snapshot { caught_up: 0 });
    let after: Vec<_> =
        queries.iter().map(|q| c.search(q, &SearchOptions::new(3)).unwrap()).collect();
    assert_eq!(before, after);
}

#[test]
fn a_damaged_or_missing_index_is_rebuilt_and_never_stops_an_open() {
    let tmp = tempdir();
    let path = tmp.path().join("k.db");
    let records: Vec<_> =
        (0..300).map(|i| VectorRecord::new(format!("r{i}"), unit(i, 16))).collect();
    {
        let db = Database::open(&path).unwrap();
        let c = db.create_collection("v", CollectionOptions::with_dimension(16)).unwrap();
        c.add_vectors(&records).unwrap();
    }
    let snapshot = tmp.path().join("k.db.hnsw").join("c0");
    let data = snapshot.join("index.graph");
    let mut bytes = std::fs::read(&data).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&data, &bytes).unwrap();
    {
        let db = index_only(&path);
        let c = db.collection("v").unwrap();
        let IndexOrigin::Rebuilt(reason) = c.index_origin() else {
            panic!("{:?}", c.index_origin())
        };
        assert!(reason.contains("damaged"), "{reason}");
        check_self_search(&c, &records);
    }
    std::fs::remove_dir_all(&snapshot).unwrap();
    let db = index_only(&path);
    let c = db.collection("v").unwrap();
    assert_eq!(c.index_origin(), &IndexOrigin::Rebuilt("no index snapshot".into()));
    check_self_search(&c, &records);
}

#[test]
fn writes_after_a_snapshot_are_caught_up_on_open() {
    let tmp = tempdir();
    let path = tmp.path().join("k.db");
    let snapshot = tmp.path().join("k.db.hnsw").join("c0");
    let saved = tmp.path().join("saved-snapshot");
    let records: Vec<_> =
        (0..200).map(|i| VectorRecord::new(format!("r{i}"), unit(i, 16))).collect();
    {
        let db = Database::open(&path).unwrap();
        let c = db.create_collection("v", CollectionOptions::with_dimension(16)).unwrap();
        c.add_vectors(&records[..150]).unwrap();
        db.checkpoint().unwrap();
        copy_dir(&snapshot, &saved);
        c.add_vectors(&records[150..]).unwrap();
        c.delete(&["r0", "r160"]).unwrap();
    }
    // Put back the snapshot taken before the last writes, as if the process had been killed.
    std::fs::remove_dir_all(&snapshot).unwrap();
    copy_dir(&saved, &snapshot);
    let db = index_only(&path);
    let c = db.collection("v").unwrap();
    assert_eq!(c.index_origin(), &IndexOrigin::Snapshot { caught_up: 49 });
    let live: Vec<_> = records.iter().filter(|r| r.id != "r0" && r.id != "r160").cloned().collect();
    check_self_search(&c, &live);
    for gone in [&records[0], &records[160]] {
        let hits = c.search_vector(&gone.vector, &SearchOptions::new(5)).unwrap();
        assert!(hits.iter().all(|h| h.id != gone.id), "{} came back", gone.id);
    }
}

#[test]
fn a_file_in_use_damaged_or_foreign_gives_a_clear_error() {
    let tmp = tempdir();
    let path = tmp.path().join("k.db");
    let db = Database::open(&path).unwrap();
    let err = Database::open(&path).err().unwrap().to_string();
    assert!(err.contains("in use") && err.contains("k.db"), "{err}");
    drop(db);

    let foreign = tmp.path().join("notes.txt");
    std::fs::write(&foreign, "just some text, not a database\n".repeat(200)).unwrap();
    let err = Database::open(&foreign).err().unwrap().to_string();
    assert!(err.contains("notes.txt") && err.contains("not a readable kindred database"), "{err}");

    {
        let db = Database::open(&path).unwrap();
        let c = db.create_collection("v", CollectionOptions::with_dimension(4)).unwrap();
        let records: Vec<_> =
            (0..2000).map(|i| VectorRecord::new(format!("r{i}"), unit(i, 4))).collect();
        c.add_vectors(&records).unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    for b in &mut bytes[..len.min(4096)] {
        *b = 0xAB;
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = Database::open(&path).err().unwrap().to_string();
    assert!(err.contains("k.db") && err.contains("not a readable kindred database"), "{err}");
}

/// A database whose searches always go through HNSW, however small the collection.
fn index_only(path: &std::path::Path) -> Database {
    Database::builder().exact_threshold(0).open(path).unwrap()
}

/// Every record is its own nearest neighbour.
fn check_self_search(c: &kindred::Collection, records: &[VectorRecord]) {
    for r in records {
        let hits = c.search_vector(&r.vector, &SearchOptions::new(1)).unwrap();
        assert_eq!(hits[0].id, r.id);
    }
}

pub fn unit(seed: u64, dim: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(7);
    let mut v: Vec<f32> = (0..dim)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 2001) as f32 / 1000.0 - 1.0
        })
        .collect();
    kindred::l2_normalize(&mut v);
    v
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn a_database_written_by_format_1_still_opens_and_answers() {
    let tmp = tempdir();
    let path = tmp.path().join("v1.kindred");
    std::fs::copy(crate::util::fixtures().join("format-v1.kindred"), &path).unwrap();
    let db = Database::open(&path).unwrap();
    let names: Vec<_> = db.collections().unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["texts", "vectors"]);

    let v = db.collection("vectors").unwrap();
    assert_eq!((v.config().dimension, v.config().index_dim), (4, Some(2)));
    assert_eq!(v.count().unwrap(), 2);
    let b = &v.get(&["b"]).unwrap()[0];
    assert_eq!((b.text.as_deref(), &b.metadata["tag"]), (Some("bee"), &json!("x")));
    let hits = v.search_vector(&[0.1, 1.0, 0.0, 0.0], &SearchOptions::new(5)).unwrap();
    assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["b", "a"]);

    let t = db.collection("texts").unwrap().with_embedder(embedder_arc()).unwrap();
    let hits = t.search("baking", &SearchOptions::new(1)).unwrap();
    assert_eq!((hits[0].id.as_str(), &hits[0].metadata["topic"]), ("bread", &json!("cooking")));
}

#[test]
fn compact_drops_removed_records_from_index_and_file() {
    let tmp = tempdir();
    let path = tmp.path().join("k.db");
    let db = index_only(&path);
    let c = db.create_collection("v", CollectionOptions::with_dimension(64)).unwrap();
    let records: Vec<_> =
        (0..3000).map(|i| VectorRecord::new(format!("r{i}"), unit(i, 64))).collect();
    c.add_vectors(&records).unwrap();
    let kept: Vec<_> = records.iter().step_by(10).cloned().collect();
    let doomed: Vec<&str> =
        records.iter().filter(|r| !kept.contains(r)).map(|r| r.id.as_str()).collect();
    c.delete(&doomed).unwrap();
    db.checkpoint().unwrap();
    let before = std::fs::metadata(&path).unwrap().len();
    db.compact().unwrap();
    let after = std::fs::metadata(&path).unwrap().len();
    assert!(after < before, "compaction shrinks the file: {before} -> {after} bytes");
    assert_eq!(c.count().unwrap(), 300);
    check_self_search(&c, &kept);
    drop(c);
    drop(db);
    let db = index_only(&path);
    let c = db.collection("v").unwrap();
    assert!(matches!(c.index_origin(), IndexOrigin::Snapshot { .. }), "{:?}", c.index_origin());
    check_self_search(&c, &kept);
}
