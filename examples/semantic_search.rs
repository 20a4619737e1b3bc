//! Semantic search in a few lines: link kindred, add documents, search by meaning, filter by
//! metadata.
//!
//! Run it with `cargo run --release --example semantic_search`. The first run fetches the default
//! model (all-MiniLM-L6-v2) into kindred's cache.

use std::sync::Arc;

use kindred::{BertEmbedder, CollectionOptions, Database, Document, Filter, SearchOptions};
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // ## Open a database
    //
    // A database is one file. Here it lives in a temporary folder; a real program would keep it,
    // say in `~/.local/share/myapp/search.kindred`, and reopen it on the next run.
    let dir = tempfile::tempdir()?;
    let db = Database::open(dir.path().join("search.kindred"))?;

    // ## Create a collection with an embedder
    //
    // The collection remembers the embedder's fingerprint (model, weights, pooling, dimension),
    // and will refuse to be queried by a different one later.
    let embedder = Arc::new(BertEmbedder::default_model()?);
    let articles = db.create_collection("articles", CollectionOptions::with_embedder(embedder))?;

    // ## Add documents
    //
    // Texts are embedded on write, in batches, each batch in one transaction. Metadata is any
    // JSON object.
    articles.add(&[
        Document::new("sourdough", "Feed the starter, mix the dough and let it proof overnight.")
            .metadata(json!({"section": "food", "year": 2023})),
        Document::new("risotto", "Toast the rice, then add warm stock one ladle at a time.")
            .metadata(json!({"section": "food", "year": 2021})),
        Document::new("borrowck", "The borrow checker rejects two mutable references at once.")
            .metadata(json!({"section": "programming", "year": 2024})),
        Document::new("gc-pauses", "Garbage-collected runtimes can pause to reclaim memory.")
            .metadata(json!({"section": "programming", "year": 2020})),
        Document::new("marathon", "Long runs at an easy pace build the base for a marathon.")
            .metadata(json!({"section": "sport", "year": 2022})),
    ])?;

    // ## Search by meaning
    //
    // No word of the query appears in the best answer: the match is on meaning. Scores are
    // cosine similarities.
    println!("baking bread at home:");
    for hit in articles.search("baking bread at home", &SearchOptions::new(3))? {
        println!("  {:.3}  {:<10} {}", hit.score, hit.id, hit.text.unwrap_or_default());
    }

    // ## Filter by metadata
    //
    // Filters use the JSON shape of Chroma's `where`: `$eq $ne $gt $gte $lt $lte $in $nin
    // $exists $and $or $not`.
    let recent_code =
        Filter::parse(&json!({"$and": [{"section": "programming"}, {"year": {"$gte": 2022}}]}))?;
    println!("\nmemory safety, programming articles since 2022:");
    for hit in articles.search("memory safety", &SearchOptions::new(3).filter(recent_code))? {
        println!("  {:.3}  {:<10} {}", hit.score, hit.id, hit.metadata["year"]);
    }

    // ## Update and delete
    //
    // `upsert` replaces a record with the same id; `delete` removes records by id.
    articles
        .upsert(&[Document::new("marathon", "Intervals on the track sharpen a runner's speed.")])?;
    articles.delete(&["gc-pauses"])?;
    println!("\n{} articles remain", articles.count()?);
    Ok(())
}
