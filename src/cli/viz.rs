//! `kindred viz`: a collection's embedding space drawn as a plot (HTML, SVG, PNG) or written as
//! coordinates (JSON, CSV), with how faithful the projection is.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use kindred::viz::{
    render_to_file, view, write_coordinates, ColorBy, Method, RenderOptions, View, ViewOptions,
};
use kindred::Embedder;
use serde_json::json;

use super::docs::{open_collection, DbArgs};
use super::{parse_positive, stdout, write_json_line, ModelArgs};

#[derive(Debug, clap::Args)]
pub struct VizArgs {
    #[command(flatten)]
    target: DbArgs,
    /// Where to write: .html (interactive: zoom, pan, hover), .svg, .png, or .json/.csv (the
    /// coordinates).
    #[arg(long, short = 'o')]
    out: PathBuf,
    /// The projection: umap (a first look), tsne (detailed clusters) or pca (linear and exact).
    #[arg(long, default_value = "umap")]
    method: Method,
    /// What colours the points: a metadata field, `source` (the file) or `cluster` (k-means on
    /// the full vectors, named by their most distinctive words).
    #[arg(long, default_value = "cluster")]
    color_by: String,
    /// How many clusters for --color-by cluster. By default, the count with the best
    /// silhouette.
    #[arg(long, value_parser = parse_positive)]
    clusters: Option<usize>,
    /// Draw at most this many passages, sampled at random (with --seed).
    #[arg(long, default_value_t = 5000, value_parser = parse_positive)]
    sample: usize,
    /// The seed of the sample, the projection and the clustering: the same seed draws the same
    /// plot.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Project with this many seeds (seed, seed+1, …) and report how consistent the layouts
    /// are; the first is drawn.
    #[arg(long, default_value_t = 1, value_parser = parse_positive)]
    runs: usize,
    /// Score each point by its similarity to this text (shown on hover).
    #[arg(long)]
    query: Option<String>,
    /// Project to 2 or 3 dimensions (3 only for .json and .csv).
    #[arg(long, default_value_t = 2)]
    dims: usize,
    /// The plot's title. By default, the method, collection and sample size.
    #[arg(long)]
    title: Option<String>,
    /// Width of an SVG or PNG, in pixels.
    #[arg(long, default_value_t = 1000)]
    width: u32,
    /// Height of an SVG or PNG, in pixels.
    #[arg(long, default_value_t = 750)]
    height: u32,
    /// Print what was drawn and its measures as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: ModelArgs,
}

/// What `--out` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Plot,
    Json,
    Csv,
}

fn output_kind(path: &Path) -> Result<Output> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    Ok(match ext.as_deref() {
        Some("html" | "htm" | "svg" | "png") => Output::Plot,
        Some("json") => Output::Json,
        Some("csv") => Output::Csv,
        _ => {
            bail!("{}: unknown output type (use .html, .svg, .png, .json or .csv)", path.display())
        }
    })
}

pub fn viz(args: VizArgs) -> Result<()> {
    // Every argument is checked before the minutes of work, so a typo costs nothing.
    let kind = output_kind(&args.out)?;
    if !(2..=3).contains(&args.dims) {
        bail!("--dims must be 2 or 3, not {}", args.dims);
    }
    if !(320..=16384).contains(&args.width) || !(240..=16384).contains(&args.height) {
        bail!(
            "a plot of {} x {} pixels cannot be drawn: the width must be 320 to 16384 and the \
             height 240 to 16384",
            args.width,
            args.height
        );
    }
    if args.dims == 3 && kind == Output::Plot {
        bail!("--dims 3 writes coordinates only: use --out FILE.json or FILE.csv");
    }
    let folder = args.out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !folder.is_dir() {
        bail!("{}: no such folder to write {} in", folder.display(), args.out.display());
    }
    let (_db, collection) = open_collection(&args.target)?;
    let query = match &args.query {
        Some(text) => {
            let embedder = std::sync::Arc::new(args.model.load(None)?);
            // The question must be embedded as the passages were: attaching the embedder
            // checks its fingerprint against the collection's.
            collection.clone().with_embedder(embedder.clone())?;
            Some((text.clone(), embedder.embed_one(text)?))
        }
        None => None,
    };
    let options = ViewOptions {
        method: args.method,
        dims: args.dims,
        color_by: args.color_by.parse::<ColorBy>().expect("infallible"),
        sample: args.sample,
        seed: args.seed,
        runs: args.runs,
        clusters: args.clusters,
        query,
    };
    if !args.model.quiet {
        let n = collection.count()?.min(args.sample as u64);
        eprintln!("projecting {n} passages with {} ({} run(s))…", args.method, args.runs);
    }
    let mut view = view(&collection, &options)
        .with_context(|| format!("collection {:?}", args.target.collection))?;
    if let Some(title) = &args.title {
        view.plot.title = title.clone();
    }
    match kind {
        Output::Plot => {
            let render = RenderOptions { width: args.width, height: args.height };
            render_to_file(&view.plot, &args.out, &render)?;
        }
        Output::Json | Output::Csv => write_coordinates(&view, &args.out)?,
    }
    report(&view, &args)
}

fn report(view: &View, args: &VizArgs) -> Result<()> {
    let f = &view.faithfulness;
    let mut out = stdout();
    if args.json {
        let line = json!({
            "out": args.out, "method": args.method.to_string(), "dims": args.dims,
            "points": view.ids.len(), "total": view.total, "seed": args.seed,
            "categories": view.plot.categories, "seconds": view.seconds,
            "knn_preservation": f.knn_preservation, "knn_chance": f.knn_chance,
            "silhouette": f.silhouette, "consistency": f.consistency,
        });
        write_json_line(&mut out, &line)?;
    } else {
        let seconds: Vec<String> = view.seconds.iter().map(|s| format!("{s:.1}")).collect();
        writeln!(
            out,
            "wrote {}: {} of {} passages, {} in {} s, {} {}",
            args.out.display(),
            view.ids.len(),
            view.total,
            args.method,
            seconds.join(" / "),
            view.plot.categories.len(),
            view.plot.legend_title,
        )?;
        for note in &view.plot.notes {
            writeln!(out, "  {note}")?;
        }
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_type_comes_from_the_extension() {
        assert_eq!(output_kind(Path::new("a/plot.HTML")).unwrap(), Output::Plot);
        assert_eq!(output_kind(Path::new("p.csv")).unwrap(), Output::Csv);
        let err = output_kind(Path::new("plot.pdf")).unwrap_err().to_string();
        assert!(err.contains("plot.pdf: unknown output type"), "{err}");
    }
}
