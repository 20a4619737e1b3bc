//! A collection seen whole: sample its records, project their vectors, colour them by a metadata
//! field, their source or clusters found on the full vectors, and measure how faithful the
//! picture is. The result is a [`Plot`] for the renderers and the numbers behind its notes.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{
    consistency, kmeans, kmeans_auto, knn_preservation_per_point, silhouette, Layout, Method, Plot,
    PlotPoint, Projection,
};
use crate::{Collection, Error, Result};

/// How many neighbours the faithfulness measures compare (the issue's and the literature's 10).
pub const FAITHFUL_K: usize = 10;

/// What colours the points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColorBy {
    /// A metadata field's value (strings as they are, other values as JSON).
    Field(String),
    /// The file a passage came from (the `path` metadata that `kindred index` records).
    Source,
    /// Clusters found by k-means on the full vectors, labelled by their most distinctive words.
    Cluster,
}

impl std::str::FromStr for ColorBy {
    type Err = std::convert::Infallible;

    /// `source`, `cluster`, or any other word as a metadata field.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "source" => ColorBy::Source,
            "cluster" => ColorBy::Cluster,
            field => ColorBy::Field(field.to_string()),
        })
    }
}

/// How a collection is drawn.
#[derive(Debug, Clone)]
pub struct ViewOptions {
    /// The projection method.
    pub method: Method,
    /// 2 or 3.
    pub dims: usize,
    /// What colours the points.
    pub color_by: ColorBy,
    /// At most this many records, drawn at random (seeded) when the collection holds more.
    pub sample: usize,
    /// The seed of the sample, the projection and the clustering.
    pub seed: u64,
    /// Projections with seeds `seed`, `seed + 1`, …; more than one measures their consistency.
    pub runs: usize,
    /// The number of clusters for [`ColorBy::Cluster`]; `None` chooses by silhouette.
    pub clusters: Option<usize>,
    /// A query vector: each point's score is then its cosine similarity to it.
    pub query: Option<(String, Vec<f32>)>,
}

impl ViewOptions {
    /// UMAP to 2-D, coloured by cluster, at most 5,000 points, seed 42, one run.
    pub fn new(method: Method) -> Self {
        ViewOptions {
            method,
            dims: 2,
            color_by: ColorBy::Cluster,
            sample: 5000,
            seed: 42,
            runs: 1,
            clusters: None,
            query: None,
        }
    }
}

/// How faithful a projection is, with the figures its plot's notes give.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Faithfulness {
    /// The share of each point's [`FAITHFUL_K`] nearest neighbours in full dimension that stay
    /// among its nearest in the projection, averaged over points.
    pub knn_preservation: f64,
    /// What random placement would score: k / (n − 1).
    pub knn_chance: f64,
    /// The silhouette of the colour groups in the projection, when there are at least two.
    pub silhouette: Option<f64>,
    /// How alike the runs' layouts are, when there was more than one run.
    pub consistency: Option<f64>,
}

/// A projected collection: the plot, the layouts of every run, and the measures.
#[derive(Debug, Clone)]
pub struct View {
    /// The projection method.
    pub method: Method,
    /// The seed of the first run (the one drawn).
    pub seed: u64,
    /// The plot of the first run.
    pub plot: Plot,
    /// Each run's layout, in the order of [`View::ids`].
    pub layouts: Vec<Layout>,
    /// The ids of the projected records.
    pub ids: Vec<String>,
    /// The category of each projected record, by name.
    pub categories: Vec<String>,
    /// The records in the collection.
    pub total: u64,
    /// How faithful the first run is, and how consistent the runs are.
    pub faithfulness: Faithfulness,
    /// Seconds per projection run (the measures excluded).
    pub seconds: Vec<f64>,
}

/// Projects a collection as `options` say.
///
/// # Errors
///
/// [`Error::InvalidArgument`] when the collection holds fewer than 3 records, or for options out
/// of range; [`Error::Store`] when the records cannot be read.
pub fn view(collection: &Collection, options: &ViewOptions) -> Result<View> {
    if options.runs == 0 || options.sample < 3 {
        return Err(Error::InvalidArgument(format!(
            "runs ({}) must be at least 1 and sample ({}) at least 3",
            options.runs, options.sample
        )));
    }
    let total = collection.count()?;
    if total < 3 {
        return Err(Error::InvalidArgument(format!(
            "collection {:?} holds {total} records: a plot needs at least 3",
            collection.name()
        )));
    }
    let records = sample(collection, options.sample, options.seed)?;
    let dim = records[0].vector.len();
    if let Some((_, query)) = &options.query {
        if query.len() != dim {
            return Err(Error::InvalidArgument(format!(
                "the query vector has {} dimensions, the collection {dim}",
                query.len()
            )));
        }
    }
    let vectors: Vec<f32> = records.iter().flat_map(|r| r.vector.iter().copied()).collect();

    let (labels, legend_title) = match &options.color_by {
        ColorBy::Field(field) => {
            (records.iter().map(|r| field_label(&r.metadata, field)).collect(), field.clone())
        }
        ColorBy::Source => (sources(&records), "file".to_string()),
        ColorBy::Cluster => (clusters(&records, &vectors, dim, options)?, "cluster".to_string()),
    };

    let mut projection = Projection::new(options.method);
    projection.dims(options.dims);
    let mut layouts = Vec::with_capacity(options.runs);
    let mut seconds = Vec::with_capacity(options.runs);
    for run in 0..options.runs as u64 {
        let start = Instant::now();
        layouts.push(projection.seed(options.seed.wrapping_add(run)).run(&vectors, dim)?);
        seconds.push(start.elapsed().as_secs_f64());
    }
    let layout = &layouts[0];

    let (category_names, category_of) = categories(&labels);
    let kept = knn_preservation_per_point(&vectors, dim, layout, FAITHFUL_K);
    let knn = kept.iter().map(|&x| f64::from(x)).sum::<f64>() / kept.len() as f64;
    let others = records.len() - 1;
    let knn_chance = FAITHFUL_K.min(others) as f64 / others as f64;
    let silhouette = silhouette(layout.coords(), layout.dims(), &category_of);
    let consistency = (layouts.len() > 1).then(|| consistency(&layouts, FAITHFUL_K));
    let faithfulness = Faithfulness { knn_preservation: knn, knn_chance, silhouette, consistency };

    let (scores, score_label) = match &options.query {
        Some((text, query)) => {
            let scores = records.iter().map(|r| crate::ann::dot(&r.vector, query)).collect();
            (scores, format!("similarity to {text:?}"))
        }
        None => (kept, format!("share of its {FAITHFUL_K} nearest neighbours kept")),
    };

    let axis = options.method.axis_name();
    let name = match options.method {
        Method::Pca => "PCA",
        _ => axis,
    };
    let points = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let p = layout.point(i);
            PlotPoint {
                x: p[0],
                y: p[1],
                category: category_of[i],
                id: r.id.clone(),
                text: r.text.clone().unwrap_or_default(),
                source: place(&r.metadata),
                score: Some(scores[i]),
            }
        })
        .collect();
    let plot = Plot {
        title: format!(
            "{name} of collection {:?} ({} of {total} passages)",
            collection.name(),
            records.len()
        ),
        notes: notes(&faithfulness, &legend_title, options, layout.dims(), dim),
        x_label: format!("{axis} 1"),
        y_label: format!("{axis} 2"),
        legend_title,
        categories: category_names.clone(),
        score_label,
        points,
    };
    Ok(View {
        method: options.method,
        seed: options.seed,
        plot,
        ids: records.iter().map(|r| r.id.clone()).collect(),
        categories: category_of.iter().map(|&c| category_names[c].clone()).collect(),
        layouts,
        total,
        faithfulness,
        seconds,
    })
}

/// Writes the coordinates of the drawn run, for other tools to plot: `.json` (method, seed,
/// legend, measures, and per point its id, category, coordinates and score) or `.csv` (`id`,
/// `category`, then `x`, `y` and, in 3-D, `z`). Written beside `path` and renamed over it, as
/// plots are.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for another extension; [`Error::Io`] when the file cannot be
/// written.
pub fn write_coordinates(view: &View, path: &Path) -> Result<()> {
    let layout = &view.layouts[0];
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let body = match extension.as_deref() {
        Some("json") => {
            let points: Vec<Value> = (0..layout.len())
                .map(|i| {
                    serde_json::json!({
                        "id": view.ids[i], "category": view.categories[i],
                        "coords": layout.point(i), "score": view.plot.points[i].score,
                    })
                })
                .collect();
            let doc = serde_json::json!({
                "method": view.method.name(), "dims": layout.dims(), "seed": view.seed,
                "legend": view.plot.legend_title, "score": view.plot.score_label,
                "faithfulness": view.faithfulness, "points": points,
            });
            doc.to_string() + "\n"
        }
        Some("csv") => {
            let mut body = format!("id,category,{}\n", ["x", "y", "z"][..layout.dims()].join(","));
            for i in 0..layout.len() {
                let coords: Vec<String> = layout.point(i).iter().map(f32::to_string).collect();
                let (id, category) = (csv_field(&view.ids[i]), csv_field(&view.categories[i]));
                writeln!(body, "{id},{category},{}", coords.join(",")).expect("a String");
            }
            body
        }
        _ => {
            return Err(Error::InvalidArgument(format!(
                "{}: coordinates are written as .json or .csv",
                path.display()
            )))
        }
    };
    super::render::write_atomically(path, body.as_bytes())
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The lines under a plot's title, in words a reader needs.
fn notes(
    f: &Faithfulness,
    legend: &str,
    options: &ViewOptions,
    low: usize,
    high: usize,
) -> Vec<String> {
    let mut notes = vec![format!(
        "k-NN preservation: {:.2} of each point's {FAITHFUL_K} nearest neighbours in {high}-d \
         stay among its {FAITHFUL_K} nearest in {low}-d (random: {:.3})",
        f.knn_preservation, f.knn_chance
    )];
    if let Some(s) = f.silhouette {
        notes.push(format!(
            "silhouette by {legend}: {s:.2} (from -1 to 1; above 0, the groups stand apart)"
        ));
    }
    if let Some(c) = f.consistency {
        notes.push(format!(
            "consistency over {} seeds: {c:.2} of neighbours shared between runs \
             (seed {} drawn)",
            options.runs, options.seed
        ));
    } else {
        notes.push(format!("seed {}", options.seed));
    }
    notes
}

/// A projected record.
struct Sampled {
    id: String,
    text: Option<String>,
    metadata: Map<String, Value>,
    vector: Vec<f32>,
}

/// Up to `n` records, drawn at random with `seed` when there are more, in insertion order.
fn sample(collection: &Collection, n: usize, seed: u64) -> Result<Vec<Sampled>> {
    // A record is kept when its rank by a seeded hash of its position is below n: every record
    // has the same chance, one pass, and the same seed draws the same records.
    let total = collection.count()? as usize;
    let keep: Option<std::collections::HashSet<usize>> = (total > n).then(|| {
        let mut order: Vec<(u64, usize)> = (0..total).map(|i| (mix(seed, i as u64), i)).collect();
        order.select_nth_unstable(n - 1);
        order[..n].iter().map(|&(_, i)| i).collect()
    });
    let mut out = Vec::with_capacity(n.min(total));
    let (mut after, mut position) = (None, 0usize);
    loop {
        let page = collection.list(after, 1024)?;
        for r in page.records {
            if keep.as_ref().is_none_or(|k| k.contains(&position)) {
                out.push(Sampled {
                    id: r.id,
                    text: r.text,
                    metadata: r.metadata,
                    vector: r.vector,
                });
            }
            position += 1;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(out)
}

/// splitmix64 of the seed and a position.
fn mix(seed: u64, i: u64) -> u64 {
    let mut z = seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn field_label(metadata: &Map<String, Value>, field: &str) -> String {
    match metadata.get(field) {
        None | Some(Value::Null) => "(none)".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Each record's file, without the folders all of them share.
fn sources(records: &[Sampled]) -> Vec<String> {
    let paths: Vec<String> = records
        .iter()
        .map(|r| {
            r.metadata.get("path").and_then(Value::as_str).unwrap_or("(no source)").to_string()
        })
        .collect();
    let distinct: Vec<&String> = {
        let mut d: Vec<&String> = paths.iter().collect();
        d.sort();
        d.dedup();
        d
    };
    if distinct.len() < 2 {
        return paths;
    }
    let mut prefix = distinct[0].as_str();
    for p in &distinct[1..] {
        while !p.starts_with(prefix) {
            let mut shorter = prefix.chars();
            shorter.next_back();
            prefix = shorter.as_str();
        }
    }
    let cut = prefix.rfind('/').map_or(0, |i| i + 1);
    paths.into_iter().map(|p| p[cut.min(p.len())..].to_string()).collect()
}

/// Cluster labels: k-means on the full vectors, each cluster named by its most distinctive words.
fn clusters(
    records: &[Sampled],
    vectors: &[f32],
    dim: usize,
    options: &ViewOptions,
) -> Result<Vec<String>> {
    let clustering = match options.clusters {
        Some(k) => kmeans(vectors, dim, k.min(records.len()), options.seed)?,
        None => kmeans_auto(vectors, dim, options.seed)?,
    };
    let k = clustering.k;
    let mut texts: Vec<Vec<&str>> = vec![Vec::new(); k];
    for (r, &c) in records.iter().zip(&clustering.labels) {
        texts[c].push(r.text.as_deref().unwrap_or(""));
    }
    let words = distinctive_words(&texts, 3);
    // Numbered by size, the largest first, as the legend lists them.
    let mut by_size: Vec<usize> = (0..k).collect();
    by_size.sort_by_key(|&c| (std::cmp::Reverse(texts[c].len()), c));
    let mut names = vec![String::new(); k];
    for (rank, &c) in by_size.iter().enumerate() {
        names[c] = if words[c].is_empty() {
            format!("{}", rank + 1)
        } else {
            format!("{}: {}", rank + 1, words[c].join(", "))
        };
    }
    Ok(clustering.labels.iter().map(|&c| names[c].clone()).collect())
}

/// Words too common to name a cluster.
const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was",
    "one", "our", "out", "has", "have", "his", "how", "its", "may", "new", "now", "see", "two",
    "who", "did", "get", "let", "say", "she", "too", "use", "with", "that", "this", "from", "they",
    "will", "would", "there", "their", "what", "about", "which", "when", "make", "like", "than",
    "then", "them", "these", "some", "into", "more", "been", "were", "also", "each", "only",
    "other", "such", "very", "your", "over", "after", "before", "where", "while", "most", "just",
    "because", "does", "being", "both", "same", "those", "under", "between", "through", "could",
    "should", "here", "well", "much", "many", "even", "still", "upon", "must", "shall", "own",
    "off", "why", "yet",
];

/// The `n` words of each group that best tell it from the others: frequency in the group times
/// the log of how few groups use the word (a class-based tf-idf).
fn distinctive_words(groups: &[Vec<&str>], n: usize) -> Vec<Vec<String>> {
    let counts: Vec<HashMap<String, usize>> = groups
        .iter()
        .map(|texts| {
            let mut c = HashMap::new();
            for text in texts {
                // Apostrophes stay inside words, so "don't" is one word, then left out with
                // the other contractions and possessives rather than leaving "don" behind.
                for word in text.split(|ch: char| !ch.is_alphanumeric() && ch != '\'' && ch != '’')
                {
                    let word = word.to_lowercase();
                    if word.chars().count() >= 3
                        && !word.contains(['\'', '’'])
                        && word.chars().any(char::is_alphabetic)
                        && !STOP_WORDS.contains(&word.as_str())
                    {
                        *c.entry(word).or_insert(0) += 1;
                    }
                }
            }
            c
        })
        .collect();
    let mut groups_with: HashMap<&str, usize> = HashMap::new();
    for c in &counts {
        for word in c.keys() {
            *groups_with.entry(word.as_str()).or_insert(0) += 1;
        }
    }
    let groups_n = groups.len() as f64;
    counts
        .iter()
        .map(|c| {
            let total: usize = c.values().sum::<usize>().max(1);
            let mut scored: Vec<(f64, &str)> = c
                .iter()
                .map(|(w, &k)| {
                    let idf = (1.0 + groups_n / groups_with[w.as_str()] as f64).ln();
                    (k as f64 / total as f64 * idf, w.as_str())
                })
                .collect();
            // Ties broken by the word, so the names are the same run after run.
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
            scored.into_iter().take(n).map(|(_, w)| w.to_string()).collect()
        })
        .collect()
}

/// The categories by size, the largest first (so the legend, which folds the smallest into
/// "other" beyond its palette, keeps the largest), and each point's index into them.
fn categories(labels: &[String]) -> (Vec<String>, Vec<usize>) {
    let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
    for l in labels {
        *sizes.entry(l.as_str()).or_insert(0) += 1;
    }
    let mut by_size: Vec<(&str, usize)> = sizes.into_iter().collect();
    by_size.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let names: Vec<String> = by_size.iter().map(|(l, _)| l.to_string()).collect();
    let index: HashMap<&str, usize> =
        by_size.iter().enumerate().map(|(i, (l, _))| (*l, i)).collect();
    let of = labels.iter().map(|l| index[l.as_str()]).collect();
    (names, of)
}

/// `path:line` of a passage, when its metadata says.
fn place(metadata: &Map<String, Value>) -> Option<String> {
    crate::ingest::passage_place(metadata).map(|(path, line)| match line {
        Some(line) => format!("{path}:{line}"),
        None => path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_are_ordered_by_size_then_name() {
        let labels: Vec<String> =
            ["b", "a", "b", "c", "b", "a", "d"].iter().map(|s| s.to_string()).collect();
        let (names, of) = categories(&labels);
        assert_eq!(names, ["b", "a", "c", "d"]);
        assert_eq!(of, [0, 1, 0, 2, 0, 1, 3]);
    }

    #[test]
    fn distinctive_words_name_each_group_by_what_sets_it_apart() {
        let groups = vec![
            vec!["Bake the bread in the oven", "The oven bakes bread and cake"],
            vec!["The compiler checks the code", "Rust code and the compiler"],
        ];
        let words = distinctive_words(&groups, 2);
        assert_eq!(words[0], ["bread", "oven"]);
        assert_eq!(words[1], ["code", "compiler"]);
    }

    #[test]
    fn csv_fields_are_quoted_when_they_must_be() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }

    #[test]
    fn a_field_label_is_its_string_or_its_json() {
        let meta: Map<String, Value> =
            serde_json::from_str(r#"{"topic": "cooking", "year": 1960}"#).unwrap();
        assert_eq!(field_label(&meta, "topic"), "cooking");
        assert_eq!(field_label(&meta, "year"), "1960");
        assert_eq!(field_label(&meta, "missing"), "(none)");
    }

    #[test]
    fn the_sample_hash_spreads_positions() {
        let mut seen: Vec<u64> = (0..1000).map(|i| mix(7, i) % 1000).collect();
        seen.sort_unstable();
        seen.dedup();
        assert!(seen.len() > 600, "{}", seen.len());
        assert_ne!(mix(1, 5), mix(2, 5));
    }
}
