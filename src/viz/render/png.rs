//! The static plot as PNG: the SVG of [`render_svg`](super::render_svg) rasterized by resvg.
//!
//! Text is set in DejaVu Sans compiled into the binary (the `dejavu` crate): the system's fonts
//! are never consulted, so a machine with none installed draws the same picture as any other.

use std::sync::{Arc, OnceLock};

use resvg::tiny_skia;
use resvg::usvg::{self, fontdb};

use super::layout::{MIN_HEIGHT, MIN_WIDTH};
use super::{render_svg, RenderOptions};
use crate::viz::Plot;
use crate::{Error, Result};

/// The largest PNG side: a 16384 x 16384 canvas already takes a gigabyte of memory.
pub(crate) const MAX_SIDE: u32 = 16_384;

/// Draws `plot` as a PNG image of `options.width` x `options.height` pixels.
///
/// # Errors
///
/// [`Error::InvalidArgument`] when a side is below 320 x 240 or above 16384 pixels, or when
/// the drawn SVG cannot be rasterized (a bug: the message says what resvg reported).
pub fn render_png(plot: &Plot, options: &RenderOptions) -> Result<Vec<u8>> {
    check_size(options)?;
    let svg = render_svg(plot, options);
    let usvg_options = usvg::Options {
        font_family: "DejaVu Sans".to_string(),
        fontdb: fonts(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(&svg, &usvg_options)
        .map_err(|err| Error::invalid(format!("the plot's SVG cannot be rasterized: {err}")))?;
    let mut pixmap = tiny_skia::Pixmap::new(options.width, options.height).ok_or_else(|| {
        Error::invalid(format!("no {} x {} canvas can be made", options.width, options.height))
    })?;
    resvg::render(&tree, tiny_skia::Transform::identity(), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|err| Error::invalid(format!("PNG encoding failed: {err}")))
}

fn check_size(options: &RenderOptions) -> Result<()> {
    let RenderOptions { width, height } = *options;
    if width < MIN_WIDTH || height < MIN_HEIGHT || width > MAX_SIDE || height > MAX_SIDE {
        return Err(Error::invalid(format!(
            "a PNG plot of {width} x {height} pixels cannot be drawn: each side must be between \
             {MIN_WIDTH} x {MIN_HEIGHT} and {MAX_SIDE} pixels"
        )));
    }
    Ok(())
}

/// DejaVu Sans regular and bold, parsed once; every family name in the SVG resolves to it.
fn fonts() -> Arc<fontdb::Database> {
    static FONTS: OnceLock<Arc<fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = fontdb::Database::new();
            for face in [dejavu::sans::regular(), dejavu::sans::bold()] {
                db.load_font_source(fontdb::Source::Binary(Arc::new(face)));
            }
            db.set_sans_serif_family("DejaVu Sans");
            Arc::new(db)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_out_of_range_are_refused_with_the_size() {
        let err = check_size(&RenderOptions { width: 10, height: 750 }).unwrap_err();
        assert!(err.to_string().contains("10 x 750"), "{err}");
        assert!(check_size(&RenderOptions { width: 20_000, height: 750 }).is_err());
        assert!(check_size(&RenderOptions::default()).is_ok());
    }

    #[test]
    fn the_embedded_font_is_found_under_the_svg_family_names() {
        let db = fonts();
        for family in [fontdb::Family::Name("DejaVu Sans"), fontdb::Family::SansSerif] {
            let query = fontdb::Query { families: &[family], ..fontdb::Query::default() };
            assert!(db.query(&query).is_some());
        }
    }
}
