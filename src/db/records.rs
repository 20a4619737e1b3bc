//! What goes into a collection and what comes back out.

use serde::Serialize;
use serde_json::{Map, Value};

/// A text to embed and store, with its id and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The caller's id; unique within the collection.
    pub id: String,
    /// The text, embedded on write.
    pub text: String,
    /// Metadata to filter on; a JSON object.
    pub metadata: Map<String, Value>,
}

impl Document {
    /// A document without metadata.
    pub fn new(id: impl Into<String>, text: impl Into<String>) -> Self {
        Document { id: id.into(), text: text.into(), metadata: Map::new() }
    }

    /// Sets the metadata. A value that is not a JSON object becomes `{"value": …}`.
    #[must_use]
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = into_object(metadata);
        self
    }
}

/// A precomputed vector to store, with its id, optional text and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorRecord {
    /// The caller's id; unique within the collection.
    pub id: String,
    /// The vector: the collection's dimension, finite, not all zeros. Normalized on write.
    pub vector: Vec<f32>,
    /// A text to keep beside the vector.
    pub text: Option<String>,
    /// Metadata to filter on; a JSON object.
    pub metadata: Map<String, Value>,
}

impl VectorRecord {
    /// A record with a vector only.
    pub fn new(id: impl Into<String>, vector: Vec<f32>) -> Self {
        VectorRecord { id: id.into(), vector, text: None, metadata: Map::new() }
    }

    /// Sets the text.
    #[must_use]
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Sets the metadata. A value that is not a JSON object becomes `{"value": …}`.
    #[must_use]
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = into_object(metadata);
        self
    }
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// The caller's id.
    pub id: String,
    /// The text, when one was stored.
    pub text: Option<String>,
    /// The metadata (an empty object when none was stored).
    pub metadata: Map<String, Value>,
    /// The stored unit vector.
    pub vector: Vec<f32>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// The record's id.
    pub id: String,
    /// The cosine similarity to the query, from −1 to 1.
    pub score: f32,
    /// The record's text, when one was stored.
    pub text: Option<String>,
    /// The record's metadata.
    pub metadata: Map<String, Value>,
}

/// One page of records in insertion order, and where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The records.
    pub records: Vec<Record>,
    /// Pass this to the next call to continue; `None` after the last page.
    pub next: Option<u64>,
}

fn into_object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => Map::from_iter([("value".to_string(), other)]),
    }
}
