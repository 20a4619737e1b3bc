//! Durability and concurrency: a writer killed mid-batch, a second process, readers beside a
//! writer.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kindred::{CollectionOptions, Database, SearchOptions, VectorRecord};

use crate::util::{fails, kindred, tempdir};

const BATCH: u64 = 400;

/// Starts `kindred bench insert` writing batches into `path`, waits for `batches` commits, waits
/// `delay` more, and kills it with SIGKILL. Returns the records it reported committed.
fn kill_writer(path: &std::path::Path, batches: usize, delay: Duration) -> u64 {
    let mut child = kindred()
        .args(["bench", "insert", "--vectors", "1000000", "--dim", "64", "--report-batches"])
        .args(["--batch", &BATCH.to_string(), "--db"])
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kindred starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut committed = 0;
    for _ in 0..batches {
        let line = lines.next().expect("a batch report").unwrap();
        let report: serde_json::Value = serde_json::from_str(&line).unwrap();
        committed = report["records"].as_u64().unwrap();
    }
    std::thread::sleep(delay);
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    committed
}

#[test]
fn a_writer_killed_mid_batch_leaves_whole_batches_searchable() {
    for (run, delay_ms) in [0u64, 7, 45].into_iter().enumerate() {
        let tmp = tempdir();
        let path = tmp.path().join("crash.db");
        let reported = kill_writer(&path, 3 + run, Duration::from_millis(delay_ms));

        let db = Database::builder()
            .exact_threshold(0)
            .open(&path)
            .expect("a killed writer's file opens");
        let c = db.collection("vectors").unwrap();
        let count = c.count().unwrap();
        assert_eq!(count % BATCH, 0, "run {run}: {count} records is not a whole number of batches");
        assert!(
            count >= reported,
            "run {run}: {count} records, but {reported} were reported committed"
        );
        let last = format!("v{}", count - 1);
        let next = format!("v{count}");
        assert_eq!(
            c.get(&[&last, &next]).unwrap().len(),
            1,
            "run {run}: ids are v0..v{}",
            count - 1
        );
        let mut after = None;
        loop {
            let page = c.list(after, 500).unwrap();
            for r in &page.records {
                let hits = c.search_vector(&r.vector, &SearchOptions::new(3).ef(128)).unwrap();
                assert_eq!(hits[0].id, r.id, "run {run}: {} is not searchable", r.id);
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
    }
}

#[test]
fn a_second_process_is_told_the_database_is_in_use() {
    let tmp = tempdir();
    let path = tmp.path().join("busy.db");
    let db = Database::open(&path).unwrap();
    db.create_collection("v", CollectionOptions::with_dimension(4)).unwrap();
    let err = fails(kindred().args(["stats", "--db"]).arg(&path), 1);
    assert!(err.contains("in use") && err.contains("busy.db"), "{err}");
    drop(db);
    let out = crate::util::ok(kindred().args(["stats", "--json", "--db"]).arg(&path));
    let line: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!((line["collection"].as_str(), line["count"].as_u64()), (Some("v"), Some(0)));
}

#[test]
fn readers_see_only_whole_committed_batches_while_a_writer_writes() {
    let tmp = tempdir();
    let db = Database::builder().exact_threshold(0).open(tmp.path().join("c.db")).unwrap();
    let c = db.create_collection("v", CollectionOptions::with_dimension(32)).unwrap();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            for b in 0..30u64 {
                let batch: Vec<_> = (0..100u64)
                    .map(|i| {
                        VectorRecord::new(
                            format!("r{}", b * 100 + i),
                            crate::db::unit(b * 100 + i, 32),
                        )
                    })
                    .collect();
                c.add_vectors(&batch).unwrap();
            }
            done.store(true, Ordering::SeqCst);
        });
        for _ in 0..2 {
            scope.spawn(|| {
                let mut checks = 0;
                while !done.load(Ordering::SeqCst) || checks == 0 {
                    let count = c.count().unwrap();
                    assert_eq!(count % 100, 0, "a reader saw part of a batch: {count}");
                    let q = crate::db::unit(checks, 32);
                    for hit in c.search_vector(&q, &SearchOptions::new(5)).unwrap() {
                        assert_eq!(
                            c.get(&[&hit.id]).unwrap().len(),
                            1,
                            "hit {} is not stored",
                            hit.id
                        );
                    }
                    checks += 1;
                }
            });
        }
        writer.join().unwrap();
    });
    assert_eq!(c.count().unwrap(), 3000);
}
