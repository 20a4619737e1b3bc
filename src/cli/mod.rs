//! The command line: clap arguments, turned into validated options, turned into library calls.

mod bench;
mod demo;
mod docs;
mod embed;
mod input;
mod model;
mod stats;
mod vecs;
mod viz;

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use kindred::{BertEmbedder, EmbedOptions, ModelSpec, Pooling, Resolver, DEFAULT_MODEL};

/// kindred: an embedded vector database with in-process sentence embeddings.
#[derive(Debug, Parser)]
#[command(name = "kindred", version, about, propagate_version = true)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Index a small sample corpus into a temporary database and ask it questions.
    Demo(demo::DemoArgs),
    /// Index folders and files into a collection: walk, extract, chunk, embed, store.
    Index(docs::IndexArgs),
    /// Ask the indexed documents a question: the best passages with score and place.
    Query(docs::QueryArgs),
    /// Show passages by id.
    Get(docs::GetArgs),
    /// Delete passages by id or by metadata filter.
    Delete(docs::DeleteArgs),
    /// List the indexed files and their passage counts.
    Ls(docs::LsArgs),
    /// Embed texts: one JSON line per input, in input order, on stdout.
    Embed(embed::EmbedArgs),
    /// The cosine similarity of two texts, and what it means.
    Similarity(embed::SimilarityArgs),
    /// Show the subword tokens and ids a text becomes.
    Tokenize(embed::TokenizeArgs),
    /// What a database file holds: its collections and their sizes.
    Stats(stats::StatsArgs),
    /// Draw a collection's embedding space: UMAP, t-SNE or PCA to HTML, SVG or PNG.
    Viz(viz::VizArgs),
    /// Fetch, list and describe models.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Measure speed.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Run one parsed command line.
pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Demo(a) => demo::demo(a),
        Command::Index(a) => docs::index(a),
        Command::Query(a) => docs::query(a),
        Command::Get(a) => docs::get(a),
        Command::Delete(a) => docs::delete(a),
        Command::Ls(a) => docs::ls(a),
        Command::Embed(a) => embed::embed(a),
        Command::Similarity(a) => embed::similarity(a),
        Command::Tokenize(a) => embed::tokenize(a),
        Command::Stats(a) => stats::stats(a),
        Command::Viz(a) => viz::viz(a),
        Command::Model(c) => model::run(c),
        Command::Bench(c) => bench::run(c),
    }
}

/// Which model to use and where to find it.
#[derive(Debug, Clone, clap::Args)]
struct ModelArgs {
    /// A model id (`ORG/NAME[@REVISION]`, or a known short name) or a folder holding the model.
    #[arg(long, short = 'm', env = "KINDRED_MODEL", default_value = DEFAULT_MODEL)]
    model: String,
    /// Never download: use only local folders and caches (also KINDRED_OFFLINE=1).
    #[arg(long)]
    offline: bool,
    /// Print no download progress.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// How a model's output becomes a vector.
#[derive(Debug, Clone, clap::Args)]
struct VectorArgs {
    /// Keep the first DIM dimensions (Matryoshka truncation), renormalized.
    #[arg(long, value_name = "DIM")]
    dim: Option<usize>,
    /// Pooling: mean, cls, max or mean_sqrt_len. By default, the model's own.
    #[arg(long, value_parser = parse_pooling)]
    pooling: Option<Pooling>,
    /// Do not L2-normalize the vectors.
    #[arg(long)]
    no_normalize: bool,
    /// Texts per transformer batch.
    #[arg(long, default_value_t = 32)]
    batch: usize,
}

/// A count that must be at least 1 (`-k`, `--sample`, `--runs`).
fn parse_positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_pooling(s: &str) -> Result<Pooling, String> {
    s.parse()
}

impl ModelArgs {
    fn resolver(&self) -> Resolver {
        let mut resolver = Resolver::from_env();
        if self.offline {
            resolver.offline(true);
        }
        resolver.progress(!self.quiet);
        resolver
    }

    fn resolve(&self) -> Result<kindred::ResolvedModel> {
        Ok(self.resolver().resolve(&ModelSpec::parse(&self.model))?)
    }

    fn load(&self, vector: Option<&VectorArgs>) -> Result<BertEmbedder> {
        let model = self.resolve()?;
        let mut options = EmbedOptions::default();
        if let Some(v) = vector {
            options.truncate_dim = v.dim;
            options.pooling = v.pooling;
            options.normalize = v.no_normalize.then_some(false);
            options.batch_size = v.batch;
        }
        BertEmbedder::load(&model, &options)
            .with_context(|| format!("cannot load model {} from {}", model.id, model.dir.display()))
    }
}

/// Buffered stdout; callers flush at the end so a closed pipe surfaces as an error to ignore.
fn stdout() -> BufWriter<io::StdoutLock<'static>> {
    BufWriter::new(io::stdout().lock())
}

fn write_json_line(out: &mut impl Write, value: &impl serde::Serialize) -> Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// A path argument that may be `-` for stdin.
type InputPath = PathBuf;
