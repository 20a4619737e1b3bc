//! `kindred index`, `query`, `get`, `delete` and `ls`: a folder of documents, asked in plain
//! language.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use kindred::ingest::chunk::ChunkOptions;
use kindred::ingest::walk::WalkOptions;
use kindred::ingest::{FileStatus, IndexOptions, Progress};
use kindred::{
    BertEmbedder, Collection, CollectionOptions, Database, Embedder, Filter, Hit, SearchOptions,
};
use serde_json::{json, Value};

use super::input::read_jsonl;
use super::{stdout, write_json_line, InputPath, ModelArgs};

/// Which database and collection.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// The database file.
    #[arg(long, env = "KINDRED_DB", default_value = "kindred.db")]
    pub db: PathBuf,
    /// The collection.
    #[arg(long, short = 'c', env = "KINDRED_COLLECTION", default_value = "default")]
    pub collection: String,
}

#[derive(Debug, clap::Args)]
pub struct IndexArgs {
    /// Folders and files to index.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    target: DbArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// The most tokens per passage. By default, the model's maximum.
    #[arg(long)]
    chunk_tokens: Option<usize>,
    /// Tokens repeated between consecutive passages.
    #[arg(long, default_value_t = 32)]
    overlap: usize,
    /// Index each document whole (the model truncates it, as sentence-transformers does).
    #[arg(long)]
    no_chunk: bool,
    /// Include hidden files and folders.
    #[arg(long)]
    hidden: bool,
    /// Follow symbolic links (loops are detected).
    #[arg(long)]
    follow: bool,
    /// Skip files larger than this many bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_file_size: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Print a line on stderr as each file is done: indexed (its passages committed),
    /// unchanged, skipped or failed.
    #[arg(long, short = 'v')]
    verbose: bool,
}

pub fn index(args: IndexArgs) -> Result<()> {
    let embedder = Arc::new(args.model.load(None)?);
    let max = embedder.max_seq_length().saturating_sub(2).max(1);
    let chunk_tokens = args.chunk_tokens.unwrap_or(max);
    if chunk_tokens == 0 || chunk_tokens > max {
        bail!("--chunk-tokens must be between 1 and {max} for this model");
    }
    if args.overlap >= chunk_tokens {
        bail!(
            "--overlap ({}) must be smaller than the passage size ({chunk_tokens})",
            args.overlap
        );
    }
    // A path that is not there is a mistake on the command line, not a folder emptied: going on
    // would remove every passage once indexed from under it.
    for path in &args.paths {
        if std::fs::symlink_metadata(path).is_err() {
            bail!("{}: no such file or folder", path.display());
        }
    }
    let db = Database::builder().progress(!args.model.quiet).open(&args.target.db)?;
    let options = CollectionOptions::with_embedder(embedder.clone());
    let collection = db.get_or_create_collection(&args.target.collection, options)?;
    let index_options = IndexOptions {
        walk: WalkOptions {
            hidden: args.hidden,
            follow_links: args.follow,
            max_file_bytes: args.max_file_size,
        },
        chunk: (!args.no_chunk)
            .then_some(ChunkOptions { max_tokens: chunk_tokens, overlap_tokens: args.overlap }),
    };
    let count = |text: &str| token_count(&embedder, text);
    let bar = indicatif::ProgressBar::new(0);
    if args.model.quiet {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} files, {msg}, {elapsed} elapsed, {eta} left",
        )
        .expect("a valid template"),
    );
    let mut passages = 0usize;
    let start = std::time::Instant::now();
    let report = kindred::ingest::index(
        &collection,
        &args.paths,
        &index_options,
        &count,
        &mut |p| match p {
            Progress::Files(n) => bar.set_length(n as u64),
            Progress::Done(path, status) => {
                if args.verbose {
                    let what = match status {
                        FileStatus::Indexed(n) => format!("indexed ({n} passages)"),
                        FileStatus::Unchanged => "unchanged".to_string(),
                        FileStatus::Skipped(why) => format!("skipped: {why}"),
                        FileStatus::Failed(why) => format!("failed: {why}"),
                    };
                    bar.suspend(|| eprintln!("{what}  {}", display(path)));
                }
                if let FileStatus::Indexed(n) = status {
                    passages += n;
                }
                let rate = passages as f64 / start.elapsed().as_secs_f64().max(1e-3);
                bar.set_message(format!("{passages} passages ({rate:.1}/s)"));
                bar.inc(1);
            }
        },
    )?;
    bar.finish_and_clear();
    db.checkpoint()?;
    print_report(&report, args.json)
}

fn print_report(report: &kindred::ingest::IndexReport, as_json: bool) -> Result<()> {
    let mut out = stdout();
    let list = |items: &[(PathBuf, String)]| -> Vec<Value> {
        items.iter().map(|(p, why)| json!({"path": display(p), "reason": why})).collect()
    };
    if as_json {
        write_json_line(
            &mut out,
            &json!({
                "indexed": report.indexed.len(), "passages": report.passages(),
                "unchanged": report.unchanged.len(), "removed": report.removed,
                "skipped": list(&report.skipped), "failed": list(&report.failed),
            }),
        )?;
    } else {
        writeln!(
            out,
            "indexed {} files ({} passages), {} unchanged, {} removed, {} skipped, {} failed",
            report.indexed.len(),
            report.passages(),
            report.unchanged.len(),
            report.removed.len(),
            report.skipped.len(),
            report.failed.len()
        )?;
        for (p, why) in &report.skipped {
            writeln!(out, "  skipped {}: {why}", display(p))?;
        }
        for (p, why) in &report.failed {
            writeln!(out, "  failed  {}: {why}", display(p))?;
        }
        for source in &report.removed {
            writeln!(out, "  removed {}", display(Path::new(source)))?;
        }
    }
    out.flush()?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// What to look for, in plain language.
    #[arg(required_unless_present = "jsonl", conflicts_with = "jsonl")]
    text: Option<String>,
    /// A JSON-lines file of {"id", "text"} queries: one JSON line of hits per query.
    #[arg(long, value_name = "FILE")]
    jsonl: Option<InputPath>,
    /// How many passages (or documents, with --per-doc).
    #[arg(short, long, default_value_t = 10, value_parser = super::parse_positive)]
    k: usize,
    /// A metadata filter, e.g. '{"path": {"$ne": "x"}}'.
    #[arg(long)]
    filter: Option<String>,
    /// Keep only the best passage of each document.
    #[arg(long)]
    per_doc: bool,
    /// HNSW's search breadth.
    #[arg(long)]
    ef: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Leave each hit's text out of the JSON: ids, scores and places only (evaluation runs
    /// over many queries stay small).
    #[arg(long)]
    no_text: bool,
    #[command(flatten)]
    target: DbArgs,
    #[command(flatten)]
    model: ModelArgs,
}

pub fn query(args: QueryArgs) -> Result<()> {
    let filter = args.filter.as_deref().map(Filter::parse_str).transpose()?;
    let (db, collection) = open_collection(&args.target)?;
    let embedder = Arc::new(args.model.load(None)?);
    let collection = collection.with_embedder(embedder.clone())?;
    let mut options = SearchOptions::new(if args.per_doc { args.k * 5 } else { args.k });
    options.filter = filter;
    options.ef = args.ef;
    let mut out = stdout();
    if let Some(path) = &args.jsonl {
        let queries = read_jsonl(path)?;
        for q in &queries {
            let id = q.fields.get("id").cloned().unwrap_or(Value::Null);
            let hits =
                search(&collection, embedder.as_ref(), q.string(path, "text")?, &options, &args)?;
            let hits: Vec<Value> = hits.iter().map(|h| hit_json(h, &args)).collect();
            write_json_line(&mut out, &json!({"query_id": id, "hits": hits}))?;
        }
    } else {
        let text = args.text.as_deref().expect("clap requires text or --jsonl");
        let hits = search(&collection, embedder.as_ref(), text, &options, &args)?;
        if args.json {
            let hits: Vec<Value> = hits.iter().map(|h| hit_json(h, &args)).collect();
            write_json_line(&mut out, &json!({"query": text, "hits": hits}))?;
        } else if hits.is_empty() {
            writeln!(out, "no passages found")?;
        } else {
            for (rank, hit) in hits.iter().enumerate() {
                print_hit(&mut out, rank + 1, hit)?;
            }
        }
    }
    out.flush()?;
    drop(db);
    Ok(())
}

fn search(
    collection: &Collection,
    embedder: &BertEmbedder,
    text: &str,
    options: &SearchOptions,
    args: &QueryArgs,
) -> Result<Vec<Hit>> {
    let vector = embedder.embed_one(text)?;
    let hits = collection.search_vector(&vector, options)?;
    if !args.per_doc {
        return Ok(hits);
    }
    let mut seen = HashSet::new();
    Ok(hits.into_iter().filter(|h| seen.insert(doc_id(h))).take(args.k).collect())
}

fn doc_id(hit: &Hit) -> String {
    hit.metadata
        .get("doc_id")
        .and_then(Value::as_str)
        .map_or_else(|| hit.id.clone(), str::to_string)
}

fn hit_json(hit: &Hit, args: &QueryArgs) -> Value {
    let id = if args.per_doc { doc_id(hit) } else { hit.id.clone() };
    let mut line = json!({
        "id": id, "score": hit.score, "doc_id": doc_id(hit),
        "path": hit.metadata.get("path"), "lines": hit.metadata.get("lines"),
        "heading": hit.metadata.get("heading"),
    });
    if !args.no_text {
        line["text"] = json!(hit.text);
    }
    line
}

/// Where a passage lies, as `path:line`, when its metadata says.
fn place(metadata: &serde_json::Map<String, Value>) -> Option<String> {
    kindred::ingest::passage_place(metadata).map(|(path, line)| {
        let path = display(Path::new(path));
        match line {
            Some(line) => format!("{path}:{line}"),
            None => path,
        }
    })
}

fn print_hit(out: &mut impl Write, rank: usize, hit: &Hit) -> Result<()> {
    let place = place(&hit.metadata).unwrap_or_else(|| hit.id.clone());
    writeln!(out, "{rank:>2}. {:.3}  {place}", hit.score)?;
    if let Some(heading) = hit.metadata.get("heading").and_then(Value::as_str) {
        writeln!(out, "    § {heading}")?;
    }
    writeln!(out, "    {}", snippet(hit.text.as_deref().unwrap_or(""), 200))?;
    Ok(())
}

fn snippet(text: &str, max_chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// Passage ids.
    #[arg(required = true)]
    ids: Vec<String>,
    #[command(flatten)]
    target: DbArgs,
}

pub fn get(args: GetArgs) -> Result<()> {
    let (_db, collection) = open_collection(&args.target)?;
    let ids: Vec<&str> = args.ids.iter().map(String::as_str).collect();
    let records = collection.get(&ids)?;
    let mut out = stdout();
    for r in &records {
        write_json_line(&mut out, &json!({"id": r.id, "text": r.text, "metadata": r.metadata}))?;
    }
    out.flush()?;
    let found: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    let missing: Vec<&str> = ids.into_iter().filter(|id| !found.contains(id)).collect();
    if !missing.is_empty() {
        bail!("no passage with id {}", missing.join(", "));
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// Passage ids to delete.
    #[arg(required_unless_present = "filter", conflicts_with = "filter")]
    ids: Vec<String>,
    /// Delete every passage whose metadata matches this filter.
    #[arg(long)]
    filter: Option<String>,
    #[command(flatten)]
    target: DbArgs,
}

pub fn delete(args: DeleteArgs) -> Result<()> {
    let filter = args.filter.as_deref().map(Filter::parse_str).transpose()?;
    let (_db, collection) = open_collection(&args.target)?;
    let ids: Vec<&str> = args.ids.iter().map(String::as_str).collect();
    let missing = match &filter {
        Some(_) => Vec::new(),
        None => {
            let found: HashSet<String> = collection.get(&ids)?.into_iter().map(|r| r.id).collect();
            ids.iter().filter(|id| !found.contains(**id)).copied().collect()
        }
    };
    let deleted = match &filter {
        Some(f) => collection.delete_where(f)?,
        None => collection.delete(&ids)?,
    };
    let mut out = stdout();
    writeln!(out, "deleted {deleted} passages")?;
    out.flush()?;
    if !missing.is_empty() {
        bail!("no passage with id {}", missing.join(", "));
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    #[command(flatten)]
    target: DbArgs,
    /// Print JSON lines.
    #[arg(long)]
    json: bool,
    /// List every passage (id, place, heading; with --json also its text and metadata)
    /// instead of the files.
    #[arg(long)]
    passages: bool,
}

pub fn ls(args: LsArgs) -> Result<()> {
    let (_db, collection) = open_collection(&args.target)?;
    let mut out = stdout();
    if args.passages {
        let mut after = None;
        loop {
            let page = collection.list(after, 1024)?;
            for r in &page.records {
                if args.json {
                    let line = json!({"id": r.id, "text": r.text, "metadata": r.metadata});
                    write_json_line(&mut out, &line)?;
                } else {
                    let place = place(&r.metadata).unwrap_or_default();
                    let heading = r.metadata.get("heading").and_then(Value::as_str);
                    match heading {
                        Some(h) => writeln!(out, "{}  {place}  \u{a7} {h}", r.id)?,
                        None => writeln!(out, "{}  {place}", r.id)?,
                    }
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        out.flush()?;
        return Ok(());
    }
    for (source, entry) in collection.sources()? {
        let (sha256, settings) = kindred::ingest::split_source_hash(&entry.hash);
        if args.json {
            write_json_line(
                &mut out,
                &json!({
                    "path": source, "passages": entry.ids.len(), "sha256": sha256,
                    "passage_settings": settings,
                }),
            )?;
        } else {
            writeln!(out, "{:>6}  {}", entry.ids.len(), display(Path::new(&source)))?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Opens an existing database and collection, with errors that say which is missing.
pub(super) fn open_collection(target: &DbArgs) -> Result<(Database, Collection)> {
    if !target.db.exists() {
        bail!("{}: no such database (create one with `kindred index PATH`)", target.db.display());
    }
    let db = Database::open(&target.db)?;
    let collection =
        db.collection(&target.collection).with_context(|| format!("in {}", target.db.display()))?;
    Ok((db, collection))
}

/// A path shown relative to the current folder when it lies inside it.
fn display(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let relative = cwd.as_deref().and_then(|cwd| path.strip_prefix(cwd).ok());
    relative.unwrap_or(path).display().to_string()
}

/// A passage's tokens as the model counts them, without `[CLS]` and `[SEP]`; saturates at the
/// model's maximum, which is all chunking needs to know.
pub(super) fn token_count(embedder: &BertEmbedder, text: &str) -> usize {
    embedder.token_ids(&[text]).map_or(usize::MAX, |ids| ids[0].len().saturating_sub(2))
}
