//! Seeing the embedding space: projections of a collection's vectors to 2-D or 3-D (PCA, t-SNE,
//! UMAP), measures of how faithful a projection is, clustering on the full vectors, and plots
//! drawn as SVG, PNG or a self-contained HTML page.

mod cluster;
mod knn;
mod measure;
mod pca;
mod plot;
mod project;
mod render;
mod rng;
mod tsne;
mod umap;
mod view;

pub use cluster::{choose_k, kmeans, kmeans_auto, Clustering};
pub use knn::Neighbors;
pub use measure::{consistency, knn_preservation, knn_preservation_per_point, silhouette};
pub use plot::{Plot, PlotPoint};
pub use project::{Layout, Method, Projection};
pub use view::{view, write_coordinates, ColorBy, Faithfulness, View, ViewOptions, FAITHFUL_K};

pub(crate) use project::check_rows;
pub use render::{
    render_html, render_png, render_svg, render_to_file, Legend, LegendEntry, PlotFormat,
    RenderOptions, Rgb, OTHER_COLOUR, PALETTE,
};
