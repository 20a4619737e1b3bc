//! Filtered search agrees with brute force, over random filters and random data (property
//! tests with a fixed seed, so a failure reproduces).

use std::sync::OnceLock;

use kindred::{Collection, CollectionOptions, Database, Filter, SearchOptions, VectorRecord};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Map, Value};

use crate::db::unit;

const N: u64 = 600;
const DIM: usize = 24;

struct Fixture {
    _dir: tempfile::TempDir,
    exact: Collection,
    indexed: Collection,
    metadata: Vec<Map<String, Value>>,
    vectors: Vec<Vec<f32>>,
}

fn metadata_for(i: u64) -> Value {
    let tags = ["a", "b", "c"];
    let mut m = json!({"n": i % 10, "tag": tags[(i * 7 % 3) as usize], "score": (i * 37 % 100) as f64 / 10.0});
    if !i.is_multiple_of(4) {
        m["flag"] = json!(i.is_multiple_of(3));
    }
    if i.is_multiple_of(5) {
        m["nested"] = json!({"k": tags[(i % 3) as usize]});
    }
    m
}

/// One database, written once, read through two handles: one that scans exactly for this
/// size, one that always goes through HNSW.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = crate::util::tempdir();
        let records: Vec<VectorRecord> = (0..N)
            .map(|i| VectorRecord::new(format!("r{i}"), unit(i, DIM)).metadata(metadata_for(i)))
            .collect();
        let exact_db = Database::open(dir.path().join("exact.db")).unwrap();
        let exact =
            exact_db.create_collection("c", CollectionOptions::with_dimension(DIM)).unwrap();
        exact.add_vectors(&records).unwrap();
        let indexed_db =
            Database::builder().exact_threshold(0).open(dir.path().join("indexed.db")).unwrap();
        let indexed =
            indexed_db.create_collection("c", CollectionOptions::with_dimension(DIM)).unwrap();
        indexed.add_vectors(&records).unwrap();
        Fixture {
            _dir: dir,
            exact,
            indexed,
            metadata: records.iter().map(|r| r.metadata.clone()).collect(),
            vectors: records.iter().map(|r| r.vector.clone()).collect(),
        }
    })
}

/// A value of the kind a field holds (most of the time), so that filters pass some records.
fn value_for(field: &'static str) -> BoxedStrategy<Value> {
    let typed = match field {
        "n" => (0i64..11).prop_map(Value::from).boxed(),
        "score" => (0.0f64..10.0).prop_map(Value::from).boxed(),
        "flag" => any::<bool>().prop_map(Value::from).boxed(),
        _ => prop_oneof![Just("a"), Just("b"), Just("c"), Just("z")].prop_map(Value::from).boxed(),
    };
    let any_kind = prop_oneof![
        (0i64..11).prop_map(Value::from),
        Just(Value::from("a")),
        any::<bool>().prop_map(Value::from)
    ];
    prop_oneof![9 => typed, 1 => any_kind].boxed()
}

fn leaf() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        4 => Just("n"), 3 => Just("tag"), 3 => Just("score"), 2 => Just("flag"), 2 => Just("nested.k"),
        1 => Just("absent")
    ];
    let op = prop_oneof![
        Just("$eq"),
        Just("$ne"),
        Just("$gt"),
        Just("$gte"),
        Just("$lt"),
        Just("$lte"),
        Just("$in"),
        Just("$nin"),
        Just("$exists"),
        Just("bare")
    ];
    (field, op)
        .prop_flat_map(|(field, op)| {
            (
                Just(field),
                Just(op),
                value_for(field),
                proptest::collection::vec(value_for(field), 1..4),
                any::<bool>(),
            )
        })
        .prop_map(|(field, op, value, list, flag)| match op {
            "bare" => json!({ field: value }),
            "$in" | "$nin" => json!({ field: { op: list } }),
            "$exists" => json!({ field: { "$exists": flag } }),
            "$gt" | "$gte" | "$lt" | "$lte" if value.is_boolean() => json!({ field: { op: 5 } }),
            _ => json!({ field: { op: value } }),
        })
}

fn filter() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..4).prop_map(|v| json!({"$and": v})),
            proptest::collection::vec(inner.clone(), 1..4).prop_map(|v| json!({"$or": v})),
            inner.prop_map(|f| json!({"$not": f})),
        ]
    })
}

/// The true top-10 among records the filter passes.
fn brute_force(f: &Filter, query: &[f32]) -> (usize, Vec<String>) {
    let fx = fixture();
    let mut scored: Vec<(f32, usize)> = (0..N as usize)
        .filter(|&i| f.matches(&fx.metadata[i]))
        .map(|i| (kindred::ann::dot(query, &fx.vectors[i]), i))
        .collect();
    let passing = scored.len();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    (passing, scored.iter().take(10).map(|(_, i)| format!("r{i}")).collect())
}

#[test]
fn filtered_search_agrees_with_brute_force() {
    let fx = fixture();
    let config = Config { cases: 300, failure_persistence: None, ..Config::default() };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let (found, wanted) = (std::cell::Cell::new(0usize), std::cell::Cell::new(0usize));
    let kinds = std::cell::Cell::new([0usize; 3]); // cases passing none, some, all records
    runner
        .run(&(filter(), 0u64..10_000), |(filter_json, seed)| {
            let f = Filter::parse(&filter_json).expect("generated filters are valid");
            let query = unit(1_000_000 + seed, DIM);
            let (passing, truth) = brute_force(&f, &query);
            let mut k = kinds.get();
            k[if passing == 0 {
                0
            } else if passing < N as usize {
                1
            } else {
                2
            }] += 1;
            kinds.set(k);

            let exact =
                fx.exact.search_vector(&query, &SearchOptions::new(10).filter(f.clone())).unwrap();
            let ids: Vec<String> = exact.iter().map(|h| h.id.clone()).collect();
            prop_assert_eq!(&ids, &truth, "exact path, filter {}", filter_json);

            let options = SearchOptions::new(10).filter(f.clone()).ef(N as usize);
            let approx = fx.indexed.search_vector(&query, &options).unwrap();
            prop_assert_eq!(
                approx.len(),
                passing.min(10),
                "index path count, filter {}",
                filter_json
            );
            for hit in &approx {
                prop_assert!(f.matches(&hit.metadata), "{} fails {}", hit.id, filter_json);
            }
            found.set(found.get() + approx.iter().filter(|h| truth.contains(&h.id)).count());
            wanted.set(wanted.get() + truth.len());
            Ok(())
        })
        .unwrap();
    let [none, some, all] = kinds.get();
    assert!(
        none > 10 && some > 150 && all > 10,
        "degenerate filters: {none} none, {some} some, {all} all"
    );
    let recall = found.get() as f64 / wanted.get().max(1) as f64;
    assert!(recall >= 0.99, "filtered HNSW recall@10 {recall:.4} over all cases");
}
