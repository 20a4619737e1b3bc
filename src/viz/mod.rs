//! Seeing the embedding space: projections of a collection's vectors to 2-D or 3-D (PCA, t-SNE,
//! UMAP), measures of how faithful a projection is, clustering on the full vectors, and plots
//! drawn as SVG, PNG or a self-contained HTML page.

mod plot;
mod render;

pub use plot::{Plot, PlotPoint};
pub use render::{
    render_html, render_png, render_svg, render_to_file, Legend, LegendEntry, PlotFormat,
    RenderOptions, Rgb, OTHER_COLOUR, PALETTE,
};
