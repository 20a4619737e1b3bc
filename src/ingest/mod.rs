//! Turning folders of documents into passages in a collection: walking, text extraction,
//! chunking, and incremental re-indexing by content hash.
//!
//! **Invariant:** each file is replaced in one transaction (its old passages out, its new ones
//! in, its hash recorded), so an interrupted run leaves every file either fully old or fully new,
//! and the next run redoes exactly the files whose hash the store does not hold.

pub mod chunk;
pub mod extract;
pub mod walk;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::{Collection, Document, Error, Result};
use chunk::{ChunkOptions, Markup};
use extract::{Extracted, JsonRecord};
use walk::{Found, WalkOptions};

/// How a folder is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexOptions {
    /// Which files are read.
    pub walk: WalkOptions,
    /// How documents are cut into passages; `None` indexes each document whole (the model then
    /// truncates it).
    pub chunk: Option<ChunkOptions>,
}

/// What a run did, file by file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexReport {
    /// Files (re)indexed, with their passage counts.
    pub indexed: Vec<(PathBuf, usize)>,
    /// Files whose content had not changed.
    pub unchanged: Vec<PathBuf>,
    /// Sources no longer found under the given roots, whose passages were removed.
    pub removed: Vec<String>,
    /// Paths passed over, and why (hidden files and ignored paths are not listed).
    pub skipped: Vec<(PathBuf, String)>,
    /// Files that could not be indexed, and why; their previous passages are kept.
    pub failed: Vec<(PathBuf, String)>,
}

impl IndexReport {
    /// Passages written by this run.
    pub fn passages(&self) -> usize {
        self.indexed.iter().map(|(_, n)| n).sum()
    }
}

/// Progress reported while indexing.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// The walk found this many files to look at.
    Files(usize),
    /// One file is done: stored (its passages committed), unchanged, skipped or failed.
    Done(&'a Path, FileStatus<'a>),
}

/// What became of one file, as [`Progress::Done`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus<'a> {
    /// Its passages, this many, are committed.
    Indexed(usize),
    /// Its content and the passage settings are those already stored.
    Unchanged,
    /// Passed over, and why.
    Skipped(&'a str),
    /// Could not be indexed, and why; its previous passages are kept.
    Failed(&'a str),
}

/// Indexes every file under `roots` into `collection`; see the [module docs](self).
/// `count_tokens` counts a passage's tokens without special tokens.
///
/// # Errors
///
/// A store failure stops the run ([`Error::Store`]); a file that cannot be read or embedded is
/// reported in [`IndexReport::failed`] and the run goes on.
pub fn index(
    collection: &Collection,
    roots: &[PathBuf],
    options: &IndexOptions,
    count_tokens: &dyn Fn(&str) -> usize,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<IndexReport> {
    let mut report = IndexReport::default();
    let known: HashMap<String, String> =
        collection.sources()?.into_iter().map(|(source, entry)| (source, entry.hash)).collect();
    let found = walk::walk(roots, options.walk);
    let files: Vec<PathBuf> = found
        .into_iter()
        .filter_map(|f| match f {
            Found::File(path) => Some(path),
            Found::Skipped(path, why) => {
                report.skipped.push((path, why));
                None
            }
        })
        .collect();
    progress(Progress::Files(files.len()));
    let mut seen = HashSet::new();
    for path in &files {
        let source = source_key(path);
        seen.insert(source.clone());
        let outcome =
            index_file(collection, path, &source, known.get(&source), options, count_tokens);
        match outcome {
            Ok(FileOutcome::Unchanged) => {
                progress(Progress::Done(path, FileStatus::Unchanged));
                report.unchanged.push(path.clone());
            }
            Ok(FileOutcome::Indexed(n)) => {
                progress(Progress::Done(path, FileStatus::Indexed(n)));
                report.indexed.push((path.clone(), n));
            }
            Ok(FileOutcome::Skipped(why)) => {
                progress(Progress::Done(path, FileStatus::Skipped(&why)));
                report.skipped.push((path.clone(), why));
            }
            Err(FileError::File(why)) => {
                progress(Progress::Done(path, FileStatus::Failed(&why)));
                report.failed.push((path.clone(), why));
            }
            Err(FileError::Fatal(err)) => return Err(err),
        }
    }
    let roots: Vec<String> = roots.iter().map(|r| source_key(r)).collect();
    for source in known.keys().filter(|s| !seen.contains(*s)) {
        if roots.iter().any(|root| is_under(source, root)) {
            collection.remove_source(source)?;
            report.removed.push(source.clone());
        }
    }
    report.removed.sort();
    Ok(report)
}

enum FileOutcome {
    Unchanged,
    Indexed(usize),
    Skipped(String),
}

enum FileError {
    /// This file cannot be indexed; the run goes on.
    File(String),
    /// The database failed; the run stops.
    Fatal(Error),
}

fn index_file(
    collection: &Collection,
    path: &Path,
    source: &str,
    known_hash: Option<&String>,
    options: &IndexOptions,
    count_tokens: &dyn Fn(&str) -> usize,
) -> Result<FileOutcome, FileError> {
    let bytes = std::fs::read(path).map_err(|e| FileError::File(format!("cannot read: {e}")))?;
    let hash = source_hash(&bytes, options);
    if known_hash == Some(&hash) {
        return Ok(FileOutcome::Unchanged);
    }
    let extracted = match extract::extract(path, &bytes) {
        Ok(extracted) => extracted,
        Err(extract::ExtractError::Binary) => {
            return Ok(FileOutcome::Skipped("binary file".into()))
        }
        Err(err) => return Err(FileError::File(err.to_string())),
    };
    let documents = match extracted {
        Extracted::Document { text, markup } => {
            file_passages(source, &text, markup, options, count_tokens)
        }
        Extracted::Records(records) => record_passages(source, &records, options, count_tokens),
    };
    if documents.is_empty() && known_hash.is_none() {
        collection.replace_source(source, &hash, &[]).map_err(FileError::Fatal)?;
        return Ok(FileOutcome::Skipped("empty (no text)".into()));
    }
    match collection.replace_source(source, &hash, &documents) {
        Ok(()) => Ok(FileOutcome::Indexed(documents.len())),
        Err(err @ (Error::DuplicateId { .. } | Error::InvalidVector { .. } | Error::Embed(_))) => {
            Err(FileError::File(err.to_string()))
        }
        Err(err) => Err(FileError::Fatal(err)),
    }
}

/// What the store records of a file to tell whether it must be indexed again: the sha256 of its
/// bytes and the passage settings it was cut with, so a run with another `--chunk-tokens`,
/// `--overlap` or `--no-chunk` re-cuts every file rather than calling it unchanged.
pub fn source_hash(bytes: &[u8], options: &IndexOptions) -> String {
    let digest = hex(&Sha256::digest(bytes));
    match options.chunk {
        Some(c) => format!("{digest} chunk:{}/{}", c.max_tokens, c.overlap_tokens),
        None => format!("{digest} whole"),
    }
}

/// The two parts of a [`source_hash`]: the content's sha256 and the passage settings (empty
/// for hashes written before the settings were recorded).
pub fn split_source_hash(hash: &str) -> (&str, &str) {
    hash.split_once(' ').unwrap_or((hash, ""))
}

/// The passages of one document, with ids `SOURCE#N`.
fn file_passages(
    source: &str,
    text: &str,
    markup: Markup,
    options: &IndexOptions,
    count_tokens: &dyn Fn(&str) -> usize,
) -> Vec<Document> {
    let chunks = match options.chunk {
        Some(chunk_options) => chunk::chunk(text, markup, chunk_options, count_tokens),
        None => whole(text),
    };
    chunks
        .into_iter()
        .enumerate()
        .map(|(n, c)| {
            let meta = passage_metadata(source, source, n, &c, Map::new());
            Document { id: format!("{source}#{n}"), text: c.text, metadata: meta }
        })
        .collect()
}

/// The passages of JSON-lines records: a record that fits in one passage keeps its own id; a
/// longer one becomes `ID#0`, `ID#1`, …
fn record_passages(
    source: &str,
    records: &[JsonRecord],
    options: &IndexOptions,
    count_tokens: &dyn Fn(&str) -> usize,
) -> Vec<Document> {
    let mut out = Vec::new();
    for record in records {
        let chunks = match options.chunk {
            Some(chunk_options) => {
                chunk::chunk(&record.text, Markup::Plain, chunk_options, count_tokens)
            }
            None => whole(&record.text),
        };
        let single = chunks.len() == 1;
        for (n, mut c) in chunks.into_iter().enumerate() {
            c.lines = (record.line, record.line);
            let id = if single { record.id.clone() } else { format!("{}#{n}", record.id) };
            let meta = passage_metadata(source, &record.id, n, &c, record.metadata.clone());
            out.push(Document { id, text: c.text, metadata: meta });
        }
    }
    out
}

fn whole(text: &str) -> Vec<chunk::Chunk> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    let lines = text.lines().count().max(1);
    vec![chunk::Chunk {
        text: text.to_string(),
        byte_range: 0..text.len(),
        lines: (1, lines),
        heading: None,
    }]
}

/// Where a passage lies, from the metadata indexing records: its source path and first line,
/// when it has them.
pub fn passage_place(metadata: &Map<String, Value>) -> Option<(&str, Option<u64>)> {
    let path = metadata.get("path").and_then(Value::as_str)?;
    Some((path, metadata.get("lines").and_then(|l| l.get(0)).and_then(Value::as_u64)))
}

fn passage_metadata(
    source: &str,
    doc_id: &str,
    n: usize,
    c: &chunk::Chunk,
    mut meta: Map<String, Value>,
) -> Map<String, Value> {
    meta.insert("path".into(), json!(source));
    meta.insert("doc_id".into(), json!(doc_id));
    meta.insert("chunk".into(), json!(n));
    meta.insert("lines".into(), json!([c.lines.0, c.lines.1]));
    meta.insert("bytes".into(), json!([c.byte_range.start, c.byte_range.end]));
    if let Some(heading) = &c.heading {
        meta.insert("heading".into(), json!(heading));
    }
    meta
}

/// A file's identity across runs: its absolute, canonical path.
fn source_key(path: &Path) -> String {
    let absolute = path.canonicalize().unwrap_or_else(|_| {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
    });
    absolute.to_string_lossy().into_owned()
}

fn is_under(source: &str, root: &str) -> bool {
    source == root
        || source.strip_prefix(root).is_some_and(|rest| rest.starts_with(std::path::MAIN_SEPARATOR))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
