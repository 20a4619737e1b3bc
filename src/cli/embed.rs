//! `kindred embed`, `kindred similarity` and `kindred tokenize`.

use std::io::Write;

use anyhow::{bail, Result};
use kindred::similarity::Reading;
use kindred::{cosine, Embedder};
use serde_json::{json, Value};

use super::input::read_jsonl;
use super::{stdout, write_json_line, InputPath, ModelArgs, VectorArgs};

/// How many texts are embedded between two writes to stdout.
const STREAM_BLOCK: usize = 1024;

#[derive(Debug, clap::Args)]
pub struct EmbedArgs {
    /// Texts to embed.
    #[arg(required_unless_present = "jsonl", conflicts_with = "jsonl")]
    texts: Vec<String>,
    /// A JSON-lines file of {"text", "id"?} objects (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    jsonl: Option<InputPath>,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    vector: VectorArgs,
}

pub fn embed(args: EmbedArgs) -> Result<()> {
    let inputs: Vec<(Option<Value>, String)> = match &args.jsonl {
        Some(path) => read_jsonl(path)?
            .iter()
            .map(|r| Ok((r.fields.get("id").cloned(), r.string(path, "text")?.to_string())))
            .collect::<Result<_>>()?,
        None => args.texts.iter().map(|t| (None, t.clone())).collect(),
    };
    let embedder = args.model.load(Some(&args.vector))?;
    let dim = embedder.dimension();
    let mut out = stdout();
    for block in inputs.chunks(STREAM_BLOCK) {
        let texts: Vec<&str> = block.iter().map(|(_, t)| t.as_str()).collect();
        for ((id, _), vector) in block.iter().zip(embedder.embed(&texts)?) {
            let line = match id {
                Some(id) => json!({"id": id, "dim": dim, "embedding": vector}),
                None => json!({"dim": dim, "embedding": vector}),
            };
            write_json_line(&mut out, &line)?;
        }
    }
    out.flush()?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct SimilarityArgs {
    /// The first text.
    #[arg(required_unless_present = "jsonl", conflicts_with = "jsonl")]
    a: Option<String>,
    /// The second text.
    #[arg(required_unless_present = "jsonl")]
    b: Option<String>,
    /// A JSON-lines file of {"a", "b"} pairs: prints {"cosine"} per line, in order.
    #[arg(long, value_name = "FILE")]
    jsonl: Option<InputPath>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    vector: VectorArgs,
}

pub fn similarity(args: SimilarityArgs) -> Result<()> {
    if let Some(path) = &args.jsonl {
        let records = read_jsonl(path)?;
        let mut pairs = Vec::with_capacity(records.len());
        for r in &records {
            pairs.push((r.string(path, "a")?, r.string(path, "b")?));
        }
        let embedder = args.model.load(Some(&args.vector))?;
        let texts: Vec<&str> = pairs.iter().flat_map(|(a, b)| [*a, *b]).collect();
        let vectors = embedder.embed(&texts)?;
        let mut out = stdout();
        for pair in vectors.chunks_exact(2) {
            write_json_line(&mut out, &json!({"cosine": cosine(&pair[0], &pair[1])}))?;
        }
        out.flush()?;
        return Ok(());
    }
    let (Some(a), Some(b)) = (&args.a, &args.b) else { bail!("give two texts, or --jsonl FILE") };
    let embedder = args.model.load(Some(&args.vector))?;
    let v = embedder.embed(&[a, b])?;
    let score = cosine(&v[0], &v[1]);
    let reading = Reading::of(score);
    let mut out = stdout();
    if args.json {
        write_json_line(&mut out, &json!({"cosine": score, "reading": reading}))?;
    } else {
        writeln!(out, "cosine similarity: {score:.4}")?;
        writeln!(out, "reading: {}", reading.describe())?;
    }
    out.flush()?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct TokenizeArgs {
    /// The text to tokenize.
    text: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: ModelArgs,
}

pub fn tokenize(args: TokenizeArgs) -> Result<()> {
    let embedder = args.model.load(None)?;
    let tokens = embedder.tokenize(&args.text)?;
    let mut out = stdout();
    if args.json {
        write_json_line(&mut out, &json!({"tokens": tokens}))?;
    } else {
        let width = tokens.iter().map(|t| t.text.chars().count()).max().unwrap_or(5).max(5);
        writeln!(out, "{:<width$}  id", "token")?;
        for t in &tokens {
            writeln!(out, "{:<width$}  {}", t.text, t.id)?;
        }
        writeln!(out, "{} tokens (max {})", tokens.len(), embedder.max_seq_length())?;
    }
    out.flush()?;
    Ok(())
}
