//! What a plot shows, independent of how it is drawn: the projected points, their categories,
//! and the lines that say how faithful the projection is.

use serde::Serialize;

/// A 2-D scatter plot of a projected collection, ready to be drawn as SVG, PNG or HTML.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plot {
    /// The title, e.g. `"UMAP of collection \"default\" (2,000 of 23,195 passages)"`.
    pub title: String,
    /// Lines drawn under the title: how faithful the projection is (k-NN preservation,
    /// silhouette by label, consistency across runs), in the words a reader needs.
    pub notes: Vec<String>,
    /// The horizontal axis label, e.g. `"UMAP 1"`.
    pub x_label: String,
    /// The vertical axis label, e.g. `"UMAP 2"`.
    pub y_label: String,
    /// The legend's heading: what the colours mean, e.g. `"source"` or `"cluster"`.
    pub legend_title: String,
    /// The category names, in legend order; a point's `category` indexes this list.
    pub categories: Vec<String>,
    /// What a point's `score` means, e.g. `"neighbours kept"`; empty when points carry none.
    pub score_label: String,
    /// The points.
    pub points: Vec<PlotPoint>,
}

/// One point of a [`Plot`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlotPoint {
    /// Horizontal position, in the projection's own units.
    pub x: f32,
    /// Vertical position, in the projection's own units.
    pub y: f32,
    /// Index into [`Plot::categories`].
    pub category: usize,
    /// The record's id.
    pub id: String,
    /// The passage (may be long: renderers shorten it for display).
    pub text: String,
    /// Where the passage came from (`path:line`), when known.
    pub source: Option<String>,
    /// A per-point score, described by [`Plot::score_label`].
    pub score: Option<f32>,
}
