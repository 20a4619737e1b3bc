//! Drawing a [`Plot`]: a static SVG or PNG (title, notes, framed axes with round ticks, legend
//! with counts), or a self-contained HTML page to explore (zoom, pan, hover, category toggles).
//!
//! The three share one [`Legend`] (colours, counts, the folding of categories beyond the
//! palette). SVG and HTML need no dependency; PNG rasterizes the SVG and needs the `viz`
//! feature. Files are written whole or not at all: to a temporary file beside the target, then
//! renamed over it.

mod html;
mod layout;
mod legend;
#[cfg(feature = "viz")]
mod png;
mod svg;

use std::io::Write;
use std::path::Path;

pub use html::render_html;
pub use legend::{Legend, LegendEntry, Rgb, OTHER_COLOUR, PALETTE};
#[cfg(feature = "viz")]
pub use png::render_png;
pub use svg::render_svg;

use super::Plot;
use crate::{Error, Result};

/// The size of a static plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Width in pixels. By default, 1000.
    pub width: u32,
    /// Height in pixels. By default, 750.
    pub height: u32,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions { width: 1000, height: 750 }
    }
}

/// The file formats a plot is drawn in, told apart by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotFormat {
    /// `.html` or `.htm`: the interactive page (fills the browser window: the size is unused).
    Html,
    /// `.svg`: the static plot as vector graphics.
    Svg,
    /// `.png`: the static plot as an image.
    Png,
}

impl PlotFormat {
    /// The format `path`'s extension names (case does not matter).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the path and the accepted extensions, when the
    /// extension is missing or none of them.
    pub fn from_path(path: &Path) -> Result<PlotFormat> {
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("html" | "htm") => Ok(PlotFormat::Html),
            Some("svg") => Ok(PlotFormat::Svg),
            Some("png") => Ok(PlotFormat::Png),
            _ => Err(Error::invalid(format!(
                "{}: cannot tell which kind of plot to draw; the file name must end in .html, \
                 .htm, .svg or .png",
                path.display()
            ))),
        }
    }
}

/// Draws `plot` into the file at `path`, in the format its extension names.
///
/// The file is written to a temporary file in the same folder and renamed over `path`, so a
/// failed run leaves any earlier file as it was and never half a file.
///
/// # Errors
///
/// [`Error::InvalidArgument`] when the extension is not `.html`, `.htm`, `.svg` or `.png`, or
/// when a PNG cannot be drawn (see [`render_png`]); [`Error::Io`] naming the path when the file
/// cannot be written.
pub fn render_to_file(plot: &Plot, path: &Path, options: &RenderOptions) -> Result<()> {
    let bytes = match PlotFormat::from_path(path)? {
        PlotFormat::Html => render_html(plot, options).into_bytes(),
        PlotFormat::Svg => render_svg(plot, options).into_bytes(),
        PlotFormat::Png => render_png(plot, options)?,
    };
    write_atomically(path, &bytes)
}

/// Without the `viz` feature there is no rasterizer: PNG plots are refused with the reason.
///
/// # Errors
///
/// Always [`Error::InvalidArgument`].
#[cfg(not(feature = "viz"))]
pub fn render_png(_plot: &Plot, _options: &RenderOptions) -> Result<Vec<u8>> {
    Err(Error::invalid(
        "PNG plots need kindred built with the `viz` feature; draw an .svg or .html plot instead",
    ))
}

/// Writes `bytes` to a temporary file in `path`'s folder, then renames it to `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // The temporary file deletes itself when dropped, so every early return below cleans up.
    // A plot is a document to share, readable by others as any file the user saves (a temporary
    // file alone would be private to its owner).
    let mut builder = tempfile::Builder::new();
    builder.prefix(".kindred-plot-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut file = builder.tempfile_in(folder).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.as_file().sync_all().map_err(io)?;
    file.persist(path).map_err(|err| io(err.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_plot() -> Plot {
        Plot {
            title: "tiny".into(),
            notes: vec![],
            x_label: "x".into(),
            y_label: "y".into(),
            legend_title: "c".into(),
            categories: vec!["a".into()],
            score_label: String::new(),
            points: vec![crate::viz::PlotPoint {
                x: 0.0,
                y: 0.0,
                category: 0,
                id: "p".into(),
                text: "t".into(),
                source: None,
                score: None,
            }],
        }
    }

    #[test]
    fn the_extension_chooses_the_format() {
        assert_eq!(PlotFormat::from_path(Path::new("a/plot.html")).unwrap(), PlotFormat::Html);
        assert_eq!(PlotFormat::from_path(Path::new("plot.HTM")).unwrap(), PlotFormat::Html);
        assert_eq!(PlotFormat::from_path(Path::new("plot.Svg")).unwrap(), PlotFormat::Svg);
        assert_eq!(PlotFormat::from_path(Path::new("plot.png")).unwrap(), PlotFormat::Png);
    }

    #[test]
    fn an_unknown_extension_names_the_path_and_the_choices() {
        for name in ["plot.jpg", "plot", "plot.svg.bak"] {
            let err = PlotFormat::from_path(Path::new(name)).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
            let message = err.to_string();
            assert!(message.starts_with(name), "{message}");
            for accepted in [".html", ".htm", ".svg", ".png"] {
                assert!(message.contains(accepted), "{message}");
            }
        }
    }

    #[test]
    fn render_to_file_writes_the_format_the_extension_names() {
        let dir = tempfile::tempdir().unwrap();
        let (svg, html) = (dir.path().join("p.svg"), dir.path().join("p.html"));
        render_to_file(&tiny_plot(), &svg, &RenderOptions::default()).unwrap();
        render_to_file(&tiny_plot(), &html, &RenderOptions::default()).unwrap();
        assert!(std::fs::read_to_string(svg).unwrap().contains("<svg"));
        assert!(std::fs::read_to_string(html).unwrap().starts_with("<!DOCTYPE html>"));
        let refused = dir.path().join("p.gif");
        assert!(render_to_file(&tiny_plot(), &refused, &RenderOptions::default()).is_err());
        assert!(!refused.exists());
    }

    #[test]
    fn a_failed_write_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should go: the final rename fails after the data is written.
        let target = dir.path().join("plot.svg");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), "x").unwrap();
        let err = render_to_file(&tiny_plot(), &target, &RenderOptions::default()).unwrap_err();
        match &err {
            Error::Io { path, .. } => assert_eq!(path, &target),
            other => panic!("expected an Io error naming the path, got {other:?}"),
        }
        let left: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["plot.svg"], "a temporary file was left behind");
    }

    #[test]
    fn a_missing_folder_is_an_io_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("no such folder").join("plot.svg");
        let err = render_to_file(&tiny_plot(), &target, &RenderOptions::default()).unwrap_err();
        assert!(err.to_string().contains("no such folder"), "{err}");
        assert!(!target.exists());
    }
}
