//! The plot as one self-contained HTML page: the data inlined as JSON, the drawing done by the
//! page's own script (`page.js`) on a `<canvas>`, nothing fetched from anywhere, so the file
//! works offline and from `file://`.
//!
//! The page reports to tests through `<body>` attributes: `data-points-drawn` (points on the
//! canvas after each draw) and `data-errors` (script errors and `console.error` calls, one per
//! line; empty when all went well).

use serde::Serialize;

use super::layout::{truncate_middle, LEGEND_SIZE};
use super::legend::{hex, Legend};
use super::RenderOptions;
use crate::viz::Plot;

/// The page's script and style, kept as files of their own so that they read as JavaScript and
/// CSS.
const SCRIPT: &str = include_str!("page.js");
const STYLE: &str = include_str!("page.css");
/// The error hook runs first, in `<head>`, so that it also sees a failure of the main script.
const ERROR_HOOK: &str = include_str!("errors.js");

/// Passages are cut to this many characters for the hover text (and the file's size).
const PASSAGE_CHARS: usize = 200;
/// The room for a name in the page's legend column (240 pixels less marker and count).
const LEGEND_NAME_WIDTH: f64 = 150.0;

/// Draws `plot` as a self-contained interactive HTML page.
///
/// The page fills the browser window (`options` is not used): wheel zooms about the cursor, a
/// drag pans, a double-click resets the view, hovering a point shows its id, category, source,
/// score and passage, and clicking a legend entry hides or shows its points. Points with a NaN
/// or infinite coordinate are left out.
pub fn render_html(plot: &Plot, options: &RenderOptions) -> String {
    let _ = options;
    let legend = Legend::of(plot);
    let data = script_json(&PageData::new(plot, &legend));
    let mut page = String::with_capacity(data.len() + SCRIPT.len() + 4096);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // An empty icon: without it a browser may ask the server (or file system) for favicon.ico.
    page.push_str("<link rel=\"icon\" href=\"data:,\">\n");
    page.push_str(&format!("<title>{}</title>\n", escape_html(&plot.title)));
    page.push_str(&format!("<script>\n{ERROR_HOOK}</script>\n<style>\n{STYLE}</style>\n</head>\n"));
    page.push_str("<body data-errors=\"\" data-points-drawn=\"0\">\n<header>\n");
    page.push_str(&format!("<h1>{}</h1>\n<div class=\"notes\">\n", escape_html(&plot.title)));
    for note in &plot.notes {
        page.push_str(&format!("<p>{}</p>\n", escape_html(note)));
    }
    page.push_str("</div>\n</header>\n<main>\n<div id=\"plot\"><canvas id=\"canvas\"></canvas>");
    page.push_str("<div id=\"tip\" role=\"tooltip\"></div></div>\n<aside id=\"legend\"></aside>\n");
    page.push_str("</main>\n<script type=\"application/json\" id=\"plot-data\">");
    page.push_str(&data);
    page.push_str(&format!("</script>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n"));
    page
}

/// The columns the page's script reads; one entry per drawn point in each point column.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageData<'a> {
    x_label: &'a str,
    y_label: &'a str,
    legend_title: &'a str,
    score_label: &'a str,
    legend: Vec<PageLegendEntry>,
    /// The plot's own category names: a point folded into "other" still shows its own.
    categories: &'a [String],
    x: Vec<f32>,
    y: Vec<f32>,
    /// The legend entry each point is drawn under.
    slot: Vec<usize>,
    /// The point's category, or -1 when its index is out of range.
    category: Vec<i64>,
    id: Vec<&'a str>,
    source: Vec<Option<&'a str>>,
    score: Vec<Option<f32>>,
    text: Vec<String>,
}

#[derive(Serialize)]
struct PageLegendEntry {
    name: String,
    /// The name cut in the middle to fit the legend's column (the full name shows on hover).
    label: String,
    colour: String,
    count: usize,
}

impl<'a> PageData<'a> {
    fn new(plot: &'a Plot, legend: &Legend) -> PageData<'a> {
        let points: Vec<_> =
            plot.points.iter().filter(|p| p.x.is_finite() && p.y.is_finite()).collect();
        let in_range = |c: usize| if c < plot.categories.len() { c as i64 } else { -1 };
        PageData {
            x_label: &plot.x_label,
            y_label: &plot.y_label,
            legend_title: &plot.legend_title,
            score_label: &plot.score_label,
            legend: legend
                .entries
                .iter()
                .map(|e| PageLegendEntry {
                    name: e.name.clone(),
                    label: truncate_middle(&e.name, LEGEND_SIZE, LEGEND_NAME_WIDTH),
                    colour: hex(e.colour),
                    count: e.count,
                })
                .collect(),
            categories: &plot.categories,
            x: points.iter().map(|p| p.x).collect(),
            y: points.iter().map(|p| p.y).collect(),
            slot: points.iter().map(|p| legend.slot(p.category)).collect(),
            category: points.iter().map(|p| in_range(p.category)).collect(),
            id: points.iter().map(|p| p.id.as_str()).collect(),
            source: points.iter().map(|p| p.source.as_deref()).collect(),
            score: points.iter().map(|p| p.score.filter(|s| s.is_finite())).collect(),
            text: points.iter().map(|p| shorten(&p.text, PASSAGE_CHARS)).collect(),
        }
    }
}

/// `value` as JSON that can sit inside a `<script>` element.
///
/// Every `<` becomes `\u003c`: JSON has `<` only inside strings, where the escape means the
/// same, and without any `<` no `</script>` or `<!--` can end or bend the element early.
pub(crate) fn script_json(value: &impl Serialize) -> String {
    let json = serde_json::to_string(value).expect("plot data serializes: keys are strings");
    json.replace('<', "\\u003c")
}

/// `text` made safe for HTML character data and quoted attribute values: XML's escaping,
/// whose entities (`&apos;` included) HTML5 reads the same.
pub(crate) fn escape_html(text: &str) -> String {
    super::svg::escape_xml(text)
}

/// `text` with runs of white space made one space, cut to `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    let squeezed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match squeezed.char_indices().nth(max) {
        None => squeezed,
        Some((end, _)) => format!("{}\u{2026}", squeezed[..end].trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_the_script_element() {
        let json = script_json(&vec!["</script><script>alert(1)</script>", "<!-- x -->"]);
        assert!(!json.contains('<'), "{json}");
        let back: Vec<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ["</script><script>alert(1)</script>", "<!-- x -->"]);
    }

    #[test]
    fn html_text_is_escaped() {
        assert_eq!(
            escape_html(r#"<b>"Tom" & 'Jerry'</b>"#),
            "&lt;b&gt;&quot;Tom&quot; &amp; &apos;Jerry&apos;&lt;/b&gt;"
        );
    }

    #[test]
    fn passages_are_squeezed_and_cut() {
        assert_eq!(shorten("a  b\n\tc", 10), "a b c");
        assert_eq!(shorten("héllo wörld", 5), "héllo\u{2026}");
        assert_eq!(shorten("abc", 3), "abc");
    }

    #[test]
    fn the_page_is_self_contained() {
        let plot = crate::viz::Plot {
            title: "</title><script>bad()</script>".into(),
            notes: vec!["k-NN kept: 0.8 & more".into()],
            x_label: "x".into(),
            y_label: "y".into(),
            legend_title: "c".into(),
            categories: vec!["a".into()],
            score_label: String::new(),
            points: vec![],
        };
        let page = render_html(&plot, &RenderOptions::default());
        assert!(!page.contains("<script>bad()"));
        assert!(page.contains("k-NN kept: 0.8 &amp; more"));
        for external in ["src=", "http://", "https://", "@import", "url("] {
            assert!(!page.contains(external), "the page refers to something outside: {external}");
        }
    }
}
