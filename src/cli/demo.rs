//! `kindred demo`: index a small sample corpus into a temporary database and ask it questions.

use std::io::Write;
use std::sync::Arc;

use anyhow::Result;
use kindred::ingest::chunk::ChunkOptions;
use kindred::ingest::{IndexOptions, Progress};
use kindred::viz::{render_to_file, ColorBy, Method, PlotFormat, RenderOptions, ViewOptions};
use kindred::{CollectionOptions, Database, Embedder, SearchOptions};
use serde_json::Value;

use super::{stdout, ModelArgs};

/// Thirty-two short documents on eight topics, written for this demo (see demo/README.md).
const CORPUS: &str = include_str!("../../demo/corpus.jsonl");

/// Questions whose best answers are found by meaning more than by shared words.
const QUESTIONS: [&str; 5] = [
    "How do I make bread at home?",
    "Why does the Moon look different from night to night?",
    "How can a programming language prevent data races?",
    "What helps my body adjust after a long flight?",
    "Which flowers feed bees?",
];

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Hits shown per question.
    #[arg(short, long, default_value_t = 3, value_parser = super::parse_positive)]
    k: usize,
    /// Also draw the corpus's embedding space (UMAP, coloured by topic) to this .html, .svg or
    /// .png file.
    #[arg(long, value_name = "FILE")]
    plot: Option<std::path::PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
}

pub fn demo(args: DemoArgs) -> Result<()> {
    if let Some(plot) = &args.plot {
        // Checked before the work, so a typo costs nothing.
        PlotFormat::from_path(plot)?;
    }
    let dir = tempfile::tempdir()?;
    let corpus = dir.path().join("corpus.jsonl");
    std::fs::write(&corpus, CORPUS)?;
    let embedder = Arc::new(args.model.load(None)?);
    let db = Database::open(dir.path().join("demo.kindred"))?;
    let docs = db.create_collection("demo", CollectionOptions::with_embedder(embedder.clone()))?;
    let max_tokens = embedder.max_seq_length().saturating_sub(2);
    let options = IndexOptions {
        walk: Default::default(),
        chunk: Some(ChunkOptions { max_tokens, overlap_tokens: 0 }),
    };
    let count = |text: &str| super::docs::token_count(&embedder, text);
    let start = std::time::Instant::now();
    let report =
        kindred::ingest::index(&docs, &[corpus], &options, &count, &mut |_: Progress<'_>| {})?;
    let mut out = stdout();
    writeln!(
        out,
        "kindred demo: {} documents on 8 topics embedded with {} and indexed in {:.1} s\n",
        report.passages(),
        embedder.fingerprint().model_id,
        start.elapsed().as_secs_f64()
    )?;
    for question in QUESTIONS {
        writeln!(out, "? {question}")?;
        for hit in docs.search(question, &SearchOptions::new(args.k))? {
            let topic = hit.metadata.get("topic").and_then(Value::as_str).unwrap_or("");
            let text = hit.text.unwrap_or_default();
            let title: String = text.chars().take(70).collect();
            writeln!(out, "  {:.3}  [{topic}] {title}…", hit.score)?;
        }
        writeln!(out)?;
    }
    writeln!(out, "Scores are cosine similarities of the embeddings: near 1, the same meaning; near 0, unrelated.")?;
    if let Some(path) = &args.plot {
        let mut options = ViewOptions::new(Method::Umap);
        options.color_by = ColorBy::Field("topic".into());
        let view = kindred::viz::view(&docs, &options)?;
        render_to_file(&view.plot, path, &RenderOptions::default())?;
        writeln!(out, "\nDrew the {} documents to {}:", view.ids.len(), path.display())?;
        for note in &view.plot.notes {
            writeln!(out, "  {note}")?;
        }
    }
    out.flush()?;
    Ok(())
}
