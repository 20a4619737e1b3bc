//! The static plot as SVG: title and notes on top, a framed scatter with ticks and axis labels,
//! and a legend with counts to the right, after matplotlib's look. The PNG is this SVG rasterized.
//!
//! Points carry no `<title>` (no hover text): at 50,000 points the passages would make the file
//! many megabytes, and the HTML page is the one to explore. Each category is one `<g>` whose
//! circles hold only their centre, so a point costs about 30 bytes.

use std::fmt::Write;

use super::layout::{
    truncate, Layout, LABEL_SIZE, LEGEND_LINE, LEGEND_SIZE, NOTE_SIZE, TICK_SIZE, TITLE_SIZE,
};
use super::legend::{hex, Legend};
use super::RenderOptions;
use crate::viz::Plot;

/// The font stack: DejaVu Sans first (matplotlib's face, and the one the PNG embeds).
pub(crate) const FONT_FAMILY: &str = "DejaVu Sans, Verdana, Arial, sans-serif";

/// Draws `plot` as a standalone SVG document of `options.width` x `options.height` pixels.
///
/// Points with a NaN or infinite coordinate are left out; categories beyond the palette are
/// drawn as one grey "other" entry (see [`Legend`]).
pub fn render_svg(plot: &Plot, options: &RenderOptions) -> String {
    let legend = Legend::of(plot);
    let layout = Layout::new(plot, &legend, options.width, options.height);
    let mut svg = String::with_capacity(4096 + plot.points.len() * 40);
    open(&mut svg, plot, &layout);
    header(&mut svg, plot, &layout);
    grid(&mut svg, &layout);
    points(&mut svg, plot, &legend, &layout);
    axes(&mut svg, plot, &layout);
    legend_box(&mut svg, plot, &legend, &layout);
    svg.push_str("</svg>\n");
    svg
}

/// `text` made safe for XML character data and attribute values.
///
/// The five markup characters become entities; control characters that XML 1.0 forbids are
/// dropped (a passage may hold them, and one would make the whole file unreadable).
pub(crate) fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The marker radius and opacity for `n` points: smaller and fainter as they crowd, so that
/// dense regions read darker instead of as a solid blot.
pub(crate) fn marker(n: usize) -> (f64, f64) {
    match n {
        0..=500 => (3.5, 0.8),
        501..=5_000 => (2.5, 0.7),
        5_001..=20_000 => (1.8, 0.6),
        _ => (1.3, 0.5),
    }
}

fn open(svg: &mut String, plot: &Plot, layout: &Layout) {
    let (w, h) = (layout.width, layout.height);
    let _ = write!(
        svg,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" font-family=\"{FONT_FAMILY}\">\n\
         <title>{}</title>\n<rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n",
        escape_xml(&plot.title)
    );
}

fn header(svg: &mut String, plot: &Plot, layout: &Layout) {
    let title = truncate(&plot.title, TITLE_SIZE, layout.width - 24.0);
    let _ = writeln!(
        svg,
        "<text class=\"title\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"{TITLE_SIZE}\" \
         font-weight=\"bold\" text-anchor=\"middle\" fill=\"#222222\">{}</text>",
        layout.width / 2.0,
        16.0 + TITLE_SIZE,
        escape_xml(&title)
    );
    let _ = writeln!(
        svg,
        "<g class=\"notes\" font-size=\"{NOTE_SIZE}\" text-anchor=\"middle\" fill=\"#555555\">"
    );
    for (i, note) in layout.notes.iter().enumerate() {
        let y = layout.notes_top + i as f64 * NOTE_SIZE * 1.35;
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            layout.width / 2.0,
            escape_xml(note)
        );
    }
    svg.push_str("</g>\n");
}

fn grid(svg: &mut String, layout: &Layout) {
    let f = layout.frame;
    svg.push_str("<g class=\"grid\" stroke=\"#ececec\" stroke-width=\"1\">\n");
    for &t in &layout.x.ticks {
        let (x, _) = layout.place(t, layout.y.lo);
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>",
            f.y,
            f.y + f.h
        );
    }
    for &t in &layout.y.ticks {
        let (_, y) = layout.place(layout.x.lo, t);
        let _ = writeln!(
            svg,
            "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>",
            f.x,
            f.x + f.w
        );
    }
    svg.push_str("</g>\n");
}

/// The points, one group per legend entry; the largest groups first, so that small categories
/// are not buried under big ones.
fn points(svg: &mut String, plot: &Plot, legend: &Legend, layout: &Layout) {
    let mut by_slot: Vec<Vec<(f64, f64)>> = vec![Vec::new(); legend.entries.len()];
    for p in plot.points.iter().filter(|p| p.x.is_finite() && p.y.is_finite()) {
        by_slot[legend.slot(p.category)].push(layout.place(p.x as f64, p.y as f64));
    }
    let drawn: usize = by_slot.iter().map(Vec::len).sum();
    let (radius, opacity) = marker(drawn);
    let mut order: Vec<usize> = (0..by_slot.len()).collect();
    order.sort_by_key(|&s| std::cmp::Reverse(by_slot[s].len()));
    let _ = writeln!(svg, "<g class=\"points\" stroke=\"none\" fill-opacity=\"{opacity}\">");
    for slot in order.into_iter().filter(|&s| !by_slot[s].is_empty()) {
        let _ = writeln!(svg, "<g fill=\"{}\">", hex(legend.entries[slot].colour));
        for (x, y) in &by_slot[slot] {
            let _ = writeln!(svg, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{radius}\"/>");
        }
        svg.push_str("</g>\n");
    }
    svg.push_str("</g>\n");
}

/// The frame, outward ticks with their labels, and the axis labels.
fn axes(svg: &mut String, plot: &Plot, layout: &Layout) {
    let f = layout.frame;
    let _ = writeln!(
        svg,
        "<rect class=\"frame\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
         fill=\"none\" stroke=\"#333333\" stroke-width=\"1\"/>",
        f.x, f.y, f.w, f.h
    );
    let _ = writeln!(svg, "<g class=\"ticks\" font-size=\"{TICK_SIZE}\" fill=\"#333333\">");
    let bottom = f.y + f.h;
    for (t, label) in layout.x.ticks.iter().zip(&layout.x.labels) {
        let (x, _) = layout.place(*t, layout.y.lo);
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{bottom:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#333333\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            bottom + 5.0,
            bottom + 8.0 + TICK_SIZE,
            escape_xml(label)
        );
    }
    for (t, label) in layout.y.ticks.iter().zip(&layout.y.labels) {
        let (_, y) = layout.place(layout.x.lo, *t);
        let _ = writeln!(
            svg,
            "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#333333\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            f.x - 5.0,
            f.x,
            f.x - 8.0,
            y + TICK_SIZE * 0.35,
            escape_xml(label)
        );
    }
    svg.push_str("</g>\n");
    let x_label = truncate(&plot.x_label, LABEL_SIZE, f.w);
    let y_label = truncate(&plot.y_label, LABEL_SIZE, f.h);
    let (cx, cy) = (f.x + f.w / 2.0, f.y + f.h / 2.0);
    let _ = writeln!(
        svg,
        "<text class=\"x-label\" x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"{LABEL_SIZE}\" \
         text-anchor=\"middle\" fill=\"#222222\">{}</text>",
        bottom + 8.0 + TICK_SIZE + 10.0 + LABEL_SIZE,
        escape_xml(&x_label)
    );
    let lx = 14.0 + LABEL_SIZE;
    let _ = writeln!(
        svg,
        "<text class=\"y-label\" x=\"{lx:.1}\" y=\"{cy:.1}\" font-size=\"{LABEL_SIZE}\" \
         text-anchor=\"middle\" fill=\"#222222\" transform=\"rotate(-90 {lx:.1} {cy:.1})\">{}</text>",
        escape_xml(&y_label)
    );
}

/// The legend: a framed box with the heading, then per entry a marker, the (cut) name, and
/// the count right-aligned.
fn legend_box(svg: &mut String, plot: &Plot, legend: &Legend, layout: &Layout) {
    let b = layout.legend;
    let _ = writeln!(
        svg,
        "<g class=\"legend\" font-size=\"{LEGEND_SIZE}\">\n\
         <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"4\" fill=\"#ffffff\" \
         stroke=\"#cccccc\"/>",
        b.x, b.y, b.w, b.h
    );
    let heading = truncate(&plot.legend_title, LEGEND_SIZE, b.w - 20.0);
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"bold\" fill=\"#222222\">{}</text>",
        b.x + 10.0,
        b.y + 5.0 + LEGEND_LINE * 0.75,
        escape_xml(&heading)
    );
    for (i, (entry, name)) in legend.entries.iter().zip(&layout.legend_names).enumerate() {
        let mid = b.y + 5.0 + LEGEND_LINE * (i as f64 + 1.5);
        let _ = writeln!(
            svg,
            "<g class=\"entry\"><circle cx=\"{:.1}\" cy=\"{mid:.1}\" r=\"5\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#222222\">{}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#777777\">{}</text></g>",
            b.x + 16.0,
            hex(entry.colour),
            b.x + 30.0,
            mid + LEGEND_SIZE * 0.35,
            escape_xml(name),
            b.x + b.w - 10.0,
            mid + LEGEND_SIZE * 0.35,
            thousands(entry.count)
        );
    }
    svg.push_str("</g>\n");
}

/// `12345` as `12,345`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_become_entities() {
        assert_eq!(
            escape_xml(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"
        );
    }

    #[test]
    fn characters_xml_forbids_are_dropped() {
        assert_eq!(escape_xml("a\u{0}b\u{1b}c\td\ne"), "abc\td\ne");
    }

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn markers_shrink_as_points_crowd() {
        assert!(marker(100).0 > marker(50_000).0);
        assert!(marker(100).1 > marker(50_000).1);
    }
}
