//! Embedding throughput with the default model: short sentences (STS-B dev) at batch 1 and 32,
//! and long passages (Cranfield abstracts, truncated at 256 tokens) at batch 32.
//!
//! Run with `cargo bench --bench embed`. Threads: `RAYON_NUM_THREADS` (default: all cores).

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kindred::{BertEmbedder, EmbedOptions, Embedder, ModelSpec, Resolver};

fn texts(file: &str, n: usize) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data").join(file);
    let body = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    body.lines()
        .take(n)
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn embedder(batch_size: usize) -> BertEmbedder {
    let model =
        Resolver::from_env().resolve(&ModelSpec::default_model()).expect("the default model");
    BertEmbedder::load(&model, &EmbedOptions { batch_size, ..EmbedOptions::default() }).unwrap()
}

fn bench_embed(c: &mut Criterion) {
    let mut group = c.benchmark_group("embed");
    group.sample_size(10);
    let short = texts("stsb-dev-sentences.jsonl", 256);
    let long = texts("cranfield-long.jsonl", 64);
    let short_refs: Vec<&str> = short.iter().map(String::as_str).collect();
    let long_refs: Vec<&str> = long.iter().map(String::as_str).collect();

    let batched = embedder(32);
    group.throughput(Throughput::Elements(short_refs.len() as u64));
    group.bench_function("short_batch32", |b| b.iter(|| batched.embed(&short_refs).unwrap()));
    group.throughput(Throughput::Elements(long_refs.len() as u64));
    group.bench_function("long_batch32", |b| b.iter(|| batched.embed(&long_refs).unwrap()));

    let single = embedder(1);
    group.throughput(Throughput::Elements(1));
    group.bench_function("short_batch1", |b| b.iter(|| single.embed(&short_refs[..1]).unwrap()));
    group.finish();
}

criterion_group!(benches, bench_embed);
criterion_main!(benches);
