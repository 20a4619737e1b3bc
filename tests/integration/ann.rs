//! The HNSW index on tens of thousands of real sentence embeddings: recall against exact
//! search, self-retrieval, deletions and reopening.

use std::path::PathBuf;
use std::sync::OnceLock;

use kindred::ann::{FlatIndex, VectorIndex};
use kindred::{CollectionOptions, Database, Embedder, IndexOrigin, SearchOptions, VectorRecord};

use crate::util::{embedder, fixtures, tempdir};

/// The test corpus (tests/fixtures/corpus), embedded with the default model.
pub struct Corpus {
    pub ids: Vec<String>,
    pub vectors: Vec<Vec<f32>>,
}

/// Embeds the corpus once; the vectors are cached under Cargo's test temporary folder, keyed by
/// the model's weights, so later runs read them back.
pub fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let body = std::fs::read_to_string(fixtures().join("corpus/sentences.jsonl")).unwrap();
        let rows: Vec<serde_json::Value> =
            body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let ids: Vec<String> = rows.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
        let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
        let fp = embedder().fingerprint();
        let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "corpus-{}-{}.f32",
            &fp.weights_sha256[..16],
            texts.len()
        ));
        let vectors = match std::fs::read(&cache) {
            Ok(bytes) if bytes.len() == texts.len() * fp.dimension * 4 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect::<Vec<f32>>()
                .chunks_exact(fp.dimension)
                .map(<[f32]>::to_vec)
                .collect(),
            _ => {
                let vectors = embedder().embed(&texts).unwrap();
                let bytes: Vec<u8> =
                    vectors.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
                let tmp = cache.with_extension("partial");
                std::fs::write(&tmp, bytes).unwrap();
                std::fs::rename(&tmp, &cache).unwrap();
                vectors
            }
        };
        Corpus { ids, vectors }
    })
}

/// Every 23rd text is held out as a query; the rest are indexed.
fn split() -> (Vec<usize>, Vec<usize>) {
    (0..corpus().ids.len()).partition(|i| i % 23 != 0)
}

fn records(indices: &[usize]) -> Vec<VectorRecord> {
    let c = corpus();
    indices.iter().map(|&i| VectorRecord::new(c.ids[i].clone(), c.vectors[i].clone())).collect()
}

/// The exact top-10 ids of each query among `base`.
fn truth(base: &[usize], queries: &[usize]) -> Vec<Vec<String>> {
    let c = corpus();
    let flat = FlatIndex::new(384);
    let items: Vec<(u64, &[f32])> =
        base.iter().map(|&i| (i as u64, c.vectors[i].as_slice())).collect();
    flat.insert(&items);
    queries
        .iter()
        .map(|&q| {
            flat.search(&c.vectors[q], 10, 0, None)
                .iter()
                .map(|h| c.ids[h.id as usize].clone())
                .collect()
        })
        .collect()
}

fn recall(db_collection: &kindred::Collection, queries: &[usize], truth: &[Vec<String>]) -> f64 {
    recall_with(db_collection, queries, truth, &SearchOptions::new(10))
}

fn recall_with(
    db_collection: &kindred::Collection,
    queries: &[usize],
    truth: &[Vec<String>],
    options: &SearchOptions,
) -> f64 {
    let c = corpus();
    let mut found = 0;
    for (&q, want) in queries.iter().zip(truth) {
        let hits = db_collection.search_vector(&c.vectors[q], options).unwrap();
        found += hits.iter().filter(|h| want.contains(&h.id)).count();
    }
    found as f64 / (queries.len() * 10) as f64
}

#[test]
fn hnsw_on_real_sentences_reaches_recall_0_95_finds_every_vector_and_forgets_deletions() {
    let (base, queries) = split();
    assert!(base.len() >= 20_000, "{} base vectors", base.len());
    let tmp = tempdir();
    let path = tmp.path().join("ann.db");
    let db = Database::builder().exact_threshold(0).open(&path).unwrap();
    let c = db.create_collection("corpus", CollectionOptions::with_dimension(384)).unwrap();
    for chunk in records(&base).chunks(5000) {
        c.add_vectors(chunk).unwrap();
    }

    // Recall@10 with the default parameters, against exact search.
    let want = truth(&base, &queries);
    let r = recall(&c, &queries, &want);
    assert!(r >= 0.95, "recall@10 {r:.4} < 0.95");

    // Every stored vector is reachable in the graph and finds itself. This checks connectivity,
    // not recall, so it searches wide: at the default ef a handful of points in 22k fall just
    // outside the beam, as in any HNSW. (Texts that embed identically may share the top rank.)
    let corpus = corpus();
    for &i in &base {
        let hits = c.search_vector(&corpus.vectors[i], &SearchOptions::new(10).ef(256)).unwrap();
        assert!(
            hits.iter().any(|h| h.id == corpus.ids[i]),
            "{} does not find itself",
            corpus.ids[i]
        );
    }

    // Deleted records never come back, before and after the rebuild that enough deletions cause.
    for round in 0..2 {
        let doomed: Vec<&str> = base
            .iter()
            .skip(round)
            .step_by(5)
            .map(|&i| corpus.ids[i].as_str())
            .take(2500)
            .collect();
        assert_eq!(c.delete(&doomed).unwrap(), doomed.len());
        for &i in base.iter().skip(round).step_by(5).take(2500).step_by(10) {
            let hits = c.search_vector(&corpus.vectors[i], &SearchOptions::new(10)).unwrap();
            assert!(
                hits.iter().all(|h| h.id != corpus.ids[i]),
                "deleted {} came back",
                corpus.ids[i]
            );
            assert_eq!(hits.len(), 10);
        }
    }

    // A reopened database answers identically.
    let sample: Vec<usize> = queries.iter().copied().step_by(5).collect();
    let before: Vec<_> = sample
        .iter()
        .map(|&q| c.search_vector(&corpus.vectors[q], &SearchOptions::new(10)).unwrap())
        .collect();
    drop(c);
    drop(db);
    let db = Database::builder().exact_threshold(0).open(&path).unwrap();
    let c = db.collection("corpus").unwrap();
    assert!(
        matches!(c.index_origin(), IndexOrigin::Snapshot { caught_up: 0 }),
        "{:?}",
        c.index_origin()
    );
    let after: Vec<_> = sample
        .iter()
        .map(|&q| c.search_vector(&corpus.vectors[q], &SearchOptions::new(10)).unwrap())
        .collect();
    assert_eq!(before, after);
}

#[test]
fn the_matryoshka_funnel_indexes_a_prefix_and_rescores_with_full_vectors() {
    let (base, queries) = split();
    let base: Vec<usize> = base.into_iter().take(6000).collect();
    let queries: Vec<usize> = queries.into_iter().take(200).collect();
    let tmp = tempdir();
    let db = Database::builder().exact_threshold(0).open(tmp.path().join("f.db")).unwrap();
    let options = CollectionOptions::with_dimension(384).index_dim(128);
    let c = db.create_collection("funnel", options).unwrap();
    c.add_vectors(&records(&base)).unwrap();
    let stored =
        c.get(&[base[0..1].iter().map(|&i| corpus().ids[i].as_str()).next().unwrap()]).unwrap();
    assert_eq!(stored[0].vector.len(), 384, "full vectors are stored");
    let want = truth(&base, &queries);
    let r = recall(&c, &queries, &want);
    assert!(r >= 0.9, "funnel recall@10 {r:.4}");
    // Rescoring more candidates per hit finds more of the true neighbours; one per hit is the
    // 128-d index's own ranking.
    let wide = recall_with(&c, &queries, &want, &SearchOptions::new(10).rescore(16));
    let narrow = recall_with(&c, &queries, &want, &SearchOptions::new(10).rescore(1));
    assert!(wide > r && r > narrow, "rescore 16: {wide:.4}, 4: {r:.4}, 1: {narrow:.4}");
    let hits = c.search_vector(&corpus().vectors[queries[0]], &SearchOptions::new(10)).unwrap();
    for h in &hits {
        let full = &c.get(&[h.id.as_str()]).unwrap()[0].vector;
        let exact = kindred::ann::dot(full, &corpus().vectors[queries[0]]);
        assert!((h.score - exact).abs() < 1e-5, "scores come from the full vectors");
    }
}
