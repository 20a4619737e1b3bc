//! `kindred bench embed`: embedding throughput on a file of texts.

use std::io::Write;
use std::time::Instant;

use anyhow::{bail, Result};
use kindred::Embedder;
use serde_json::json;

use super::input::read_jsonl;
use super::{stdout, write_json_line, InputPath, ModelArgs, VectorArgs};

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Texts/s and tokens/s (real tokens, padding excluded) on a JSON-lines file of {"text"}.
    Embed(EmbedBenchArgs),
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

pub fn run(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Embed(args) => embed(args),
    }
}

fn embed(args: EmbedBenchArgs) -> Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let records = read_jsonl(&args.jsonl)?;
    let limit = args.limit.unwrap_or(records.len()).min(records.len());
    let texts: Vec<&str> =
        records[..limit].iter().map(|r| r.string(&args.jsonl, "text")).collect::<Result<_>>()?;
    if texts.is_empty() {
        bail!("{}: no texts to embed", args.jsonl.display());
    }
    let embedder = args.model.load(Some(&args.vector))?;
    let tokens: usize = embedder.token_ids(&texts)?.iter().map(Vec::len).sum();
    embedder.embed(&texts[..texts.len().min(args.vector.batch)])?; // warm-up
    let mut seconds: Vec<f64> = (0..args.runs)
        .map(|_| {
            let start = Instant::now();
            embedder.embed(&texts).map(|_| start.elapsed().as_secs_f64())
        })
        .collect::<kindred::Result<_>>()?;
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    let line = json!({
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
    });
    let mut out = stdout();
    write_json_line(&mut out, &line)?;
    out.flush()?;
    Ok(())
}

/// The thread count the encoder runs with: the size of candle's CPU pool, which its forward pass
/// runs on (`RAYON_NUM_THREADS`, else the physical cores).
fn candle_threads() -> usize {
    candle_core::Device::Cpu.with_context(rayon::current_num_threads)
}
