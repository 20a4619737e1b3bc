//! `kindred stats`: what a database file holds.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use kindred::Database;
use serde_json::json;

use super::{stdout, write_json_line};

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// The database file.
    #[arg(long, env = "KINDRED_DB", default_value = "kindred.db")]
    db: PathBuf,
    /// Print JSON lines, one per collection.
    #[arg(long)]
    json: bool,
}

pub fn stats(args: StatsArgs) -> Result<()> {
    if !args.db.exists() {
        anyhow::bail!("{}: no such database file", args.db.display());
    }
    let db = Database::open(&args.db)?;
    let mut out = stdout();
    let configs = db.collections()?;
    if !args.json {
        let bytes = std::fs::metadata(&args.db).map(|m| m.len()).unwrap_or(0);
        let size = format!("{:.1} MB", bytes as f64 / 1e6);
        writeln!(out, "{}: {} collection(s), {size}", args.db.display(), configs.len())?;
    }
    for config in configs {
        let c = db.collection(&config.name)?;
        let count = c.count()?;
        // Files with passages: an empty file is tracked (so it is not re-read) but holds none.
        let files = c.sources()?.iter().filter(|(_, entry)| !entry.ids.is_empty()).count();
        let model = config.fingerprint.as_ref().map(|f| f.model_id.clone());
        if args.json {
            let line = json!({
                "collection": config.name, "count": count, "files": files,
                "dimension": config.dimension,
                "index_dim": config.index_dim, "model": model, "hnsw": config.hnsw,
                "index": format!("{:?}", c.index_origin()),
            });
            write_json_line(&mut out, &line)?;
        } else {
            let model = model.unwrap_or_else(|| "precomputed vectors".into());
            let files = if files > 0 { format!(" from {files} files") } else { String::new() };
            writeln!(
                out,
                "  {}: {count} records{files}, {}-d, {model}",
                config.name, config.dimension
            )?;
        }
    }
    out.flush()?;
    Ok(())
}
