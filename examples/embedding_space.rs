//! The tutorial's last step: look at the embedding space.
//!
//! Thirty-two short documents on eight topics (kindred's demo corpus) are embedded with the
//! default model, projected from 384 dimensions to two with PCA, t-SNE and UMAP, and drawn
//! coloured by topic. For each projection we print how faithful it is: how many of each
//! document's nearest neighbours survive the flattening, and how well the topics stand apart.
//!
//! Run it with `cargo run --release --example embedding_space`; it writes
//! `embedding-space-{pca,tsne,umap}.png` and `embedding-space.html` in the current folder.

use kindred::viz::{
    knn_preservation, render_to_file, silhouette, Method, Plot, PlotPoint, Projection,
    RenderOptions,
};
use kindred::{BertEmbedder, Embedder};

const CORPUS: &str = include_str!("../demo/corpus.jsonl");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // ## Embed
    //
    // Each line of the corpus is a JSON object with a title, a text and a topic.
    let docs: Vec<serde_json::Value> =
        CORPUS.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    let texts: Vec<String> =
        docs.iter().map(|d| format!("{} {}", d["title"], d["text"]).replace('"', "")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let embedder = BertEmbedder::default_model()?;
    let vectors: Vec<f32> = embedder.embed(&refs)?.concat();
    let dim = embedder.dimension();

    // ## Topics as labels
    //
    // A projection never sees the labels: they only colour the points and score the result.
    let mut topics: Vec<String> = docs.iter().map(|d| d["topic"].to_string()).collect();
    topics.iter_mut().for_each(|t| *t = t.trim_matches('"').to_string());
    let mut names = topics.clone();
    names.sort();
    names.dedup();
    let labels: Vec<usize> = topics.iter().map(|t| names.binary_search(t).unwrap()).collect();

    // ## Project, measure, draw
    //
    // k-NN preservation: of each document's 10 nearest neighbours in 384-d, the share that are
    // still among its 10 nearest on the page (a random layout keeps 10/31 here). Silhouette by
    // topic: from −1 to 1, above 0 when documents sit closer to their own topic than to the next.
    // The same silhouette measured on the full vectors is the bar: a projection can show the
    // topics about as apart as they are in 384-d, rarely more.
    let full = silhouette(&vectors, dim, &labels).unwrap_or(f64::NAN);
    println!("384-d  silhouette by topic {full:.2} (the full vectors, for reference)");
    for method in Method::ALL {
        let layout = Projection::new(method).seed(7).run(&vectors, dim)?;
        let kept = knn_preservation(&vectors, dim, &layout, 10);
        let separation = silhouette(layout.coords(), 2, &labels).unwrap_or(f64::NAN);
        println!(
            "{:<6} k-NN preservation {kept:.2}, silhouette by topic {separation:.2}",
            method.name()
        );

        let points = (0..layout.len())
            .map(|i| PlotPoint {
                x: layout.point(i)[0],
                y: layout.point(i)[1],
                category: labels[i],
                id: docs[i]["id"].as_str().unwrap_or_default().to_string(),
                text: texts[i].clone(),
                source: None,
                score: None,
            })
            .collect();
        let plot = Plot {
            title: format!("{} of the demo corpus", method.axis_name()),
            notes: vec![format!(
                "k-NN preservation {kept:.2}; silhouette by topic {separation:.2}"
            )],
            x_label: format!("{} 1", method.axis_name()),
            y_label: format!("{} 2", method.axis_name()),
            legend_title: "topic".into(),
            categories: names.clone(),
            score_label: String::new(),
            points,
        };
        let options = RenderOptions::default();
        render_to_file(&plot, format!("embedding-space-{method}.png").as_ref(), &options)?;
        if method == Method::Umap {
            render_to_file(&plot, "embedding-space.html".as_ref(), &options)?;
        }
    }
    println!("\nwrote embedding-space-{{pca,tsne,umap}}.png and embedding-space.html");
    Ok(())
}
