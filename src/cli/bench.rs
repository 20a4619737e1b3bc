//! `kindred bench`: embedding throughput, index recall and speed, durable insert speed, and
//! projections to 2-D.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use kindred::ann::{FlatIndex, HnswIndex, HnswParams, VectorIndex};
use kindred::{CollectionOptions, Database, Document, Embedder, SearchOptions, VectorRecord};
use serde_json::json;

use super::input::read_jsonl;
use super::vecs::{read_fvecs, read_ivecs, write_fvecs, write_ivecs};
use super::{stdout, write_json_line, InputPath, ModelArgs, VectorArgs};

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Texts/s and tokens/s (real tokens, padding excluded) on a JSON-lines file of {"text"}.
    Embed(EmbedBenchArgs),
    /// HNSW build time, memory, and recall@k with single-thread queries/s per ef.
    Ann(AnnArgs),
    /// Exact nearest neighbours of each query, as an ivecs ground-truth file.
    Gt(GtArgs),
    /// Embed a JSON-lines file of {"text"} into an fvecs file.
    Fvecs(FvecsArgs),
    /// Durable inserts/s (precomputed vectors and texts), and the time to reopen and query.
    Insert(InsertArgs),
    /// What Matryoshka choices cost: full vectors, a truncated index with full-vector rescoring,
    /// or truncated storage, in recall, queries/s and bytes.
    Matryoshka(MatryoshkaArgs),
    /// Projection to 2-D (PCA, t-SNE, UMAP): seconds, k-NN preservation and, over several
    /// seeds, how consistent the layouts are.
    Viz(VizArgs),
}

pub fn run(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Embed(args) => embed(args),
        BenchCommand::Ann(args) => ann(args),
        BenchCommand::Gt(args) => gt(args),
        BenchCommand::Fvecs(args) => fvecs(args),
        BenchCommand::Insert(args) => insert(args),
        BenchCommand::Matryoshka(args) => matryoshka(args),
        BenchCommand::Viz(args) => viz(args),
    }
}

#[derive(Debug, clap::Args)]
pub struct EmbedBenchArgs {
    /// A JSON-lines file whose objects have a "text" field.
    #[arg(long, value_name = "FILE")]
    jsonl: InputPath,
    /// Use only the first N texts.
    #[arg(long)]
    limit: Option<usize>,
    /// Timed runs over the whole set; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    vector: VectorArgs,
}

fn embed(args: EmbedBenchArgs) -> Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let texts = read_texts(&args.jsonl, args.limit)?;
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let embedder = args.model.load(Some(&args.vector))?;
    let tokens: usize = embedder.token_ids(&texts)?.iter().map(Vec::len).sum();
    embedder.embed(&texts[..texts.len().min(args.vector.batch)])?; // warm-up
    let mut seconds: Vec<f64> = (0..args.runs)
        .map(|_| {
            let start = Instant::now();
            embedder.embed(&texts).map(|_| start.elapsed().as_secs_f64())
        })
        .collect::<kindred::Result<_>>()?;
    let median = median(&mut seconds);
    emit(&json!({
        "bench": "embed",
        "model": embedder.fingerprint().model_id,
        "texts": texts.len(),
        "tokens": tokens,
        "mean_tokens": tokens as f64 / texts.len() as f64,
        "batch": args.vector.batch,
        "threads": candle_threads(),
        "runs": args.runs,
        "median_seconds": median,
        "texts_per_s": texts.len() as f64 / median,
        "tokens_per_s": tokens as f64 / median,
    }))
}

#[derive(Debug, clap::Args)]
pub struct AnnArgs {
    #[command(flatten)]
    files: AnnFiles,
    /// HNSW's M.
    #[arg(long, default_value_t = 16)]
    m: usize,
    /// HNSW's ef_construction.
    #[arg(long, default_value_t = 200)]
    ef_construction: usize,
    /// Search breadths to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128,256")]
    ef: Vec<usize>,
    /// Neighbours per query.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Timed passes over the queries per ef; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

fn ann(args: AnnArgs) -> Result<()> {
    let (base, queries, gt) = args.files.load(args.k)?;
    let dim = base[0].len();
    let params = HnswParams { m: args.m, ef_construction: args.ef_construction, ef_search: 64 };
    let rss_before = resident_bytes();
    let start = Instant::now();
    let index = HnswIndex::with_params(params, dim, base.len())?;
    let items: Vec<(u64, &[f32])> =
        base.iter().enumerate().map(|(i, v)| (i as u64, v.as_slice())).collect();
    index.insert(&items);
    let build_seconds = start.elapsed().as_secs_f64();
    let index_bytes =
        resident_bytes().zip(rss_before).map(|(after, before)| after.saturating_sub(before));
    emit(&json!({
        "bench": "ann", "phase": "build", "base": base.len(), "dim": dim, "m": args.m,
        "ef_construction": args.ef_construction, "build_seconds": build_seconds,
        "inserts_per_s": base.len() as f64 / build_seconds,
        "index_resident_bytes": index_bytes, "resident_bytes": resident_bytes(),
    }))?;
    for &ef in &args.ef {
        let mut found = 0usize;
        let mut seconds = Vec::with_capacity(args.runs);
        for run in 0..args.runs.max(1) {
            let start = Instant::now();
            for (q, truth) in queries.iter().zip(&gt) {
                let hits = index.search(q, args.k, ef, None);
                if run == 0 {
                    let truth = &truth[..args.k];
                    found += hits.iter().filter(|h| truth.contains(&(h.id as i32))).count();
                }
            }
            seconds.push(start.elapsed().as_secs_f64());
        }
        let median = median(&mut seconds);
        emit(&json!({
            "bench": "ann", "phase": "search", "ef": ef, "k": args.k, "queries": queries.len(),
            "recall": found as f64 / (queries.len() * args.k) as f64,
            "qps": queries.len() as f64 / median, "threads": 1,
        }))?;
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct GtArgs {
    /// The vectors to search (fvecs); normalized on load.
    #[arg(long, value_name = "FILE")]
    base: PathBuf,
    /// The queries (fvecs); normalized on load.
    #[arg(long, value_name = "FILE")]
    query: PathBuf,
    /// Neighbours per query.
    #[arg(long, default_value_t = 100)]
    k: usize,
    /// Where to write the ivecs file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

fn gt(args: GtArgs) -> Result<()> {
    let base = normalized(read_fvecs(&args.base)?, &args.base)?;
    let queries = normalized(read_fvecs(&args.query)?, &args.query)?;
    let dim = base.first().map_or(0, Vec::len);
    let flat = FlatIndex::new(dim);
    let items: Vec<(u64, &[f32])> =
        base.iter().enumerate().map(|(i, v)| (i as u64, v.as_slice())).collect();
    flat.insert(&items);
    let rows: Vec<Vec<i32>> = queries
        .iter()
        .map(|q| flat.search(q, args.k, 0, None).iter().map(|h| h.id as i32).collect())
        .collect();
    write_ivecs(&args.out, &rows)?;
    emit(&json!({"bench": "gt", "queries": rows.len(), "k": args.k, "out": args.out}))
}

#[derive(Debug, clap::Args)]
pub struct FvecsArgs {
    /// A JSON-lines file whose objects have a "text" field.
    #[arg(long, value_name = "FILE")]
    jsonl: InputPath,
    /// Use only the first N texts.
    #[arg(long)]
    limit: Option<usize>,
    /// Where to write the fvecs file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    vector: VectorArgs,
}

fn fvecs(args: FvecsArgs) -> Result<()> {
    let texts = read_texts(&args.jsonl, args.limit)?;
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let embedder = args.model.load(Some(&args.vector))?;
    let vectors = embedder.embed(&texts)?;
    write_fvecs(&args.out, &vectors)?;
    emit(
        &json!({"bench": "fvecs", "vectors": vectors.len(), "dim": embedder.dimension(), "out": args.out}),
    )
}

#[derive(Debug, clap::Args)]
pub struct InsertArgs {
    /// The database file to write (created; it must not exist). By default, a temporary file.
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// How many precomputed (random, seeded) vectors to insert.
    #[arg(long, default_value_t = 100_000)]
    vectors: usize,
    /// Their dimension.
    #[arg(long, default_value_t = 384)]
    dim: usize,
    /// Records per transaction.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Also embed and insert the texts of this JSON-lines file of {"text"}.
    #[arg(long, value_name = "FILE")]
    texts: Option<InputPath>,
    /// Use only the first N texts.
    #[arg(long)]
    limit: Option<usize>,
    /// Print a JSON line after each committed batch of vectors.
    #[arg(long)]
    report_batches: bool,
    #[command(flatten)]
    model: ModelArgs,
}

fn insert(args: InsertArgs) -> Result<()> {
    if args.batch == 0 || args.dim == 0 {
        bail!("--batch and --dim must be at least 1");
    }
    let tmp = tempfile::tempdir()?;
    let path = args.db.clone().unwrap_or_else(|| tmp.path().join("bench.kindred"));
    if path.exists() {
        bail!("{}: exists already; bench insert writes a new database", path.display());
    }
    {
        let db = Database::builder().progress(true).open(&path)?;
        let c = db.create_collection("vectors", CollectionOptions::with_dimension(args.dim))?;
        let start = Instant::now();
        for (i, first) in (0..args.vectors).step_by(args.batch).enumerate() {
            let end = (first + args.batch).min(args.vectors);
            let batch: Vec<VectorRecord> = (first..end)
                .map(|n| VectorRecord::new(format!("v{n}"), seeded_vector(n as u64, args.dim)))
                .collect();
            c.add_vectors(&batch)?;
            if args.report_batches {
                emit(&json!({"committed_batch": i, "records": end}))?;
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        emit(&json!({
            "bench": "insert", "kind": "vectors", "records": args.vectors, "dim": args.dim,
            "batch": args.batch, "seconds": seconds, "records_per_s": args.vectors as f64 / seconds,
        }))?;
        if let Some(file) = &args.texts {
            insert_texts(&db, &args, file)?;
        }
        let start = Instant::now();
        db.checkpoint()?;
        emit(
            &json!({"bench": "insert", "kind": "snapshot", "seconds": start.elapsed().as_secs_f64()}),
        )?;
    }
    let start = Instant::now();
    let db = Database::open(&path)?;
    let c = db.collection("vectors")?;
    let opened = start.elapsed().as_secs_f64();
    let hits = c.search_vector(&seeded_vector(0, args.dim), &SearchOptions::new(10))?;
    let first_query = start.elapsed().as_secs_f64() - opened;
    emit(&json!({
        "bench": "open", "records": c.count()?, "index": format!("{:?}", c.index_origin()),
        "open_seconds": opened, "first_query_seconds": first_query,
        "first_hit_is_itself": hits.first().is_some_and(|h| h.id == "v0"),
    }))
}

fn insert_texts(db: &Database, args: &InsertArgs, file: &std::path::Path) -> Result<()> {
    let texts = read_texts(file, args.limit)?;
    let embedder = std::sync::Arc::new(args.model.load(None)?);
    let c = db.create_collection("texts", CollectionOptions::with_embedder(embedder))?;
    let docs: Vec<Document> =
        texts.iter().enumerate().map(|(i, t)| Document::new(format!("t{i}"), t.as_str())).collect();
    let start = Instant::now();
    c.add(&docs)?;
    let seconds = start.elapsed().as_secs_f64();
    emit(&json!({
        "bench": "insert", "kind": "texts", "records": docs.len(), "seconds": seconds,
        "records_per_s": docs.len() as f64 / seconds, "threads": candle_threads(),
    }))
}

#[derive(Debug, clap::Args)]
pub struct MatryoshkaArgs {
    #[command(flatten)]
    files: AnnFiles,
    /// Truncated dimensions to try, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "256,128,64")]
    dims: Vec<usize>,
    /// HNSW's search breadth.
    #[arg(long, default_value_t = 64)]
    ef: usize,
    /// Neighbours per query.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Candidates per hit the funnel rescores with the full vectors.
    #[arg(long, default_value_t = kindred::RESCORE_FACTOR, value_parser = super::parse_positive)]
    rescore: usize,
}

fn matryoshka(args: MatryoshkaArgs) -> Result<()> {
    let (base, queries, gt) = args.files.load(args.k)?;
    let full = base[0].len();
    let mut configs = vec![("full", full, None)];
    for &d in args.dims.iter().filter(|&&d| d > 0 && d < full) {
        configs.push(("funnel", full, Some(d)));
        configs.push(("truncated", d, None));
    }
    for (kind, stored, index_dim) in configs {
        let tmp = tempfile::tempdir()?;
        let path = tmp.path().join("m.kindred");
        let db = Database::builder().exact_threshold(0).open(&path)?;
        let mut options = CollectionOptions::with_dimension(stored);
        if let Some(d) = index_dim {
            options = options.index_dim(d);
        }
        let c = db.create_collection("m", options)?;
        let start = Instant::now();
        for (n, chunk) in base.chunks(5000).enumerate() {
            let records: Vec<VectorRecord> = chunk
                .iter()
                .enumerate()
                .map(|(i, v)| VectorRecord::new((n * 5000 + i).to_string(), v[..stored].to_vec()))
                .collect();
            c.add_vectors(&records)?;
        }
        let build_seconds = start.elapsed().as_secs_f64();
        db.checkpoint()?;
        let file_bytes = std::fs::metadata(&path)?.len();
        let (mut found, start) = (0usize, Instant::now());
        for (q, truth) in queries.iter().zip(&gt) {
            let options = SearchOptions::new(args.k).ef(args.ef).rescore(args.rescore);
            let hits = c.search_vector(&q[..stored], &options)?;
            let truth: Vec<String> = truth[..args.k].iter().map(|t| t.to_string()).collect();
            found += hits.iter().filter(|h| truth.contains(&h.id)).count();
        }
        let seconds = start.elapsed().as_secs_f64();
        emit(&json!({
            "bench": "matryoshka", "kind": kind, "stored_dim": stored,
            "index_dim": index_dim.unwrap_or(stored), "records": base.len(), "ef": args.ef,
            "rescore": index_dim.map(|_| args.rescore),
            "recall": found as f64 / (queries.len() * args.k) as f64,
            "qps": queries.len() as f64 / seconds, "build_seconds": build_seconds,
            "vector_bytes": stored * 4, "file_bytes_per_record": file_bytes as f64 / base.len() as f64,
        }))?;
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct VizArgs {
    /// The vectors to project (fvecs), as stored (not normalized).
    #[arg(long, value_name = "FILE")]
    fvecs: PathBuf,
    /// Use only the first N vectors.
    #[arg(long)]
    limit: Option<usize>,
    /// Methods to measure, comma-separated: pca, tsne, umap.
    #[arg(long, value_delimiter = ',', default_value = "pca,tsne,umap")]
    method: Vec<kindred::viz::Method>,
    /// Runs per method, seeds 1..=R; the median time is reported, and consistency when R > 1.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Output dimensions: 2 or 3.
    #[arg(long, default_value_t = 2)]
    dims: usize,
    /// Neighbours for k-NN preservation and consistency.
    #[arg(long, default_value_t = 10)]
    k: usize,
}

fn viz(args: VizArgs) -> Result<()> {
    use kindred::viz::{consistency, Layout, Method, Neighbors, Projection};
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let mut rows = read_fvecs(&args.fvecs)?;
    rows.truncate(args.limit.unwrap_or(rows.len()));
    if rows.len() <= args.k {
        bail!("{}: {} vectors, need more than k = {}", args.fvecs.display(), rows.len(), args.k);
    }
    let dim = rows[0].len();
    let vectors: Vec<f32> = rows.concat();
    let full = Neighbors::exact(&vectors, dim, args.k)?;
    for &method in &args.method {
        let runs = if method == Method::Pca { 1 } else { args.runs };
        let mut seconds = Vec::with_capacity(runs);
        let mut layouts: Vec<Layout> = Vec::with_capacity(runs);
        for seed in 1..=runs as u64 {
            let start = Instant::now();
            let layout = Projection::new(method).dims(args.dims).seed(seed).run(&vectors, dim)?;
            seconds.push(start.elapsed().as_secs_f64());
            layouts.push(layout);
        }
        let preserved: Vec<f64> = layouts
            .iter()
            .map(|l| {
                let flat = Neighbors::exact(l.coords(), l.dims(), args.k)?;
                let kept = full.overlap(&flat, args.k);
                Ok(kept.iter().map(|&x| f64::from(x)).sum::<f64>() / kept.len() as f64)
            })
            .collect::<kindred::Result<_>>()?;
        emit(&json!({
            "bench": "viz", "method": method.name(), "vectors": rows.len(), "dim": dim,
            "dims": args.dims, "runs": runs, "threads": rayon::current_num_threads(),
            "median_seconds": median(&mut seconds),
            "knn_preservation": median(&mut preserved.clone()), "k": args.k,
            "chance": args.k as f64 / (rows.len() - 1) as f64,
            "consistency": (runs > 1).then(|| consistency(&layouts, args.k)),
        }))?;
    }
    Ok(())
}

/// A unit vector drawn from a fixed generator: record `n` always gets the same one.
fn seeded_vector(n: u64, dim: usize) -> Vec<f32> {
    let mut state = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut v: Vec<f32> = (0..dim)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    kindred::l2_normalize(&mut v);
    v
}

fn read_texts(path: &std::path::Path, limit: Option<usize>) -> Result<Vec<String>> {
    let records = read_jsonl(path)?;
    let limit = limit.unwrap_or(records.len()).min(records.len());
    let texts: Vec<String> = records[..limit]
        .iter()
        .map(|r| r.string(path, "text").map(str::to_string))
        .collect::<Result<_>>()?;
    if texts.is_empty() {
        bail!("{}: no texts", path.display());
    }
    Ok(texts)
}

/// The files of an ANN benchmark: base and query vectors and the true neighbours.
#[derive(Debug, clap::Args)]
pub struct AnnFiles {
    /// The vectors to index (fvecs); normalized on load.
    #[arg(long, value_name = "FILE")]
    base: PathBuf,
    /// The queries (fvecs); normalized on load.
    #[arg(long, value_name = "FILE")]
    query: PathBuf,
    /// The true neighbours of each query (ivecs), best first.
    #[arg(long, value_name = "FILE")]
    gt: PathBuf,
}

/// Base and query vectors (normalized) and the true neighbours, checked against each other.
type AnnSet = (Vec<Vec<f32>>, Vec<Vec<f32>>, Vec<Vec<i32>>);

impl AnnFiles {
    /// Reads the three files and checks that they fit together for `k` neighbours per query.
    fn load(&self, k: usize) -> Result<AnnSet> {
        let base = normalized(read_fvecs(&self.base)?, &self.base)?;
        let queries = normalized(read_fvecs(&self.query)?, &self.query)?;
        let gt = read_ivecs(&self.gt)?;
        if base.is_empty() || queries.is_empty() {
            bail!("the base and query files need at least one vector each");
        }
        let dim = base[0].len();
        if queries[0].len() != dim {
            bail!("{}: {}-d queries for a {dim}-d base", self.query.display(), queries[0].len());
        }
        if gt.len() != queries.len() {
            bail!("{}: {} rows for {} queries", self.gt.display(), gt.len(), queries.len());
        }
        if gt[0].len() < k {
            bail!(
                "{}: {} neighbours per query, fewer than k = {k}",
                self.gt.display(),
                gt[0].len()
            );
        }
        Ok((base, queries, gt))
    }
}

fn normalized(mut rows: Vec<Vec<f32>>, path: &std::path::Path) -> Result<Vec<Vec<f32>>> {
    for (i, row) in rows.iter_mut().enumerate() {
        if row.iter().any(|x| !x.is_finite()) || row.iter().all(|&x| x == 0.0) {
            bail!("{}: row {i} is not a usable vector (non-finite or all zeros)", path.display());
        }
        kindred::l2_normalize(row);
    }
    Ok(rows)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn emit(value: &serde_json::Value) -> Result<()> {
    let mut out = stdout();
    write_json_line(&mut out, value)?;
    out.flush().context("cannot write to stdout")
}

/// Resident memory of this process, from /proc (Linux only).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The thread count the encoder runs with: the size of candle's CPU pool, which its forward pass
/// runs on (`RAYON_NUM_THREADS`, else the physical cores).
fn candle_threads() -> usize {
    candle_core::Device::Cpu.with_context(rayon::current_num_threads)
}
