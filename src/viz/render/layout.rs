//! Where things go on a static plot: the data range and its "nice" ticks, the estimated width of
//! text, and the boxes for the title, notes, axes and legend.
//!
//! Text is measured without a font: widths are estimates for DejaVu Sans (the face the PNG
//! embeds, and the first choice of the SVG), erring wide so that text fits its box.

use super::legend::Legend;
use crate::viz::Plot;

/// Title, notes, tick and legend font sizes in pixels.
pub(crate) const TITLE_SIZE: f64 = 18.0;
pub(crate) const NOTE_SIZE: f64 = 12.5;
pub(crate) const LABEL_SIZE: f64 = 14.0;
pub(crate) const TICK_SIZE: f64 = 12.0;
pub(crate) const LEGEND_SIZE: f64 = 12.5;
/// The height of one legend line.
pub(crate) const LEGEND_LINE: f64 = 19.0;
/// The widest a legend may be, as a share of the whole width; names beyond it are cut short.
const LEGEND_MAX_SHARE: f64 = 0.3;
/// The smallest plot drawn: below this, nothing readable fits.
pub(crate) const MIN_WIDTH: u32 = 320;
pub(crate) const MIN_HEIGHT: u32 = 240;

/// A rectangle in pixels, y downwards.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// One axis: its data range, its ticks, and their labels.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub ticks: Vec<f64>,
    pub labels: Vec<String>,
}

/// Everything a static renderer needs to place, computed once from the plot and the size.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub width: f64,
    pub height: f64,
    /// The notes, wrapped to the width.
    pub notes: Vec<String>,
    /// Where the first note's baseline is; notes follow every `NOTE_SIZE * 1.35`.
    pub notes_top: f64,
    /// The axes' frame, in which points are drawn.
    pub frame: Rect,
    pub x: Axis,
    pub y: Axis,
    /// The legend's box, to the right of the frame.
    pub legend: Rect,
    /// The legend names, cut to fit the legend's width.
    pub legend_names: Vec<String>,
}

impl Layout {
    /// The layout of `plot` on a `width` x `height` canvas (each raised to the minimum).
    pub fn new(plot: &Plot, legend: &Legend, width: u32, height: u32) -> Layout {
        let (width, height) = (width.max(MIN_WIDTH) as f64, height.max(MIN_HEIGHT) as f64);
        let notes: Vec<String> =
            plot.notes.iter().flat_map(|n| wrap(n, NOTE_SIZE, width - 40.0)).collect();
        let notes_top = 16.0 + TITLE_SIZE + 8.0 + NOTE_SIZE;
        let header = notes_top - NOTE_SIZE + notes.len() as f64 * NOTE_SIZE * 1.35 + 14.0;
        let (legend_box, legend_names) = legend_box(plot, legend, width, header);
        let (xs, ys) = finite_coordinates(plot);
        let (x, y) = (axis(&xs), axis(&ys));
        let y_tick_width = y.labels.iter().map(|l| text_width(l, TICK_SIZE)).fold(0.0, f64::max);
        let left = 14.0 + LABEL_SIZE + 8.0 + y_tick_width + 8.0;
        let bottom = 8.0 + TICK_SIZE + 10.0 + LABEL_SIZE + 14.0;
        let right = legend_box.x - 16.0;
        let frame = Rect {
            x: left,
            y: header,
            w: (right - left).max(40.0),
            h: (height - header - bottom).max(40.0),
        };
        Layout { width, height, notes, notes_top, frame, x, y, legend: legend_box, legend_names }
    }

    /// The pixel position of a data point inside the frame.
    pub fn place(&self, x: f64, y: f64) -> (f64, f64) {
        let px = self.frame.x + (x - self.x.lo) / (self.x.hi - self.x.lo) * self.frame.w;
        let py =
            self.frame.y + self.frame.h - (y - self.y.lo) / (self.y.hi - self.y.lo) * self.frame.h;
        (px, py)
    }
}

/// The data range of `values` widened by 5 % each side (as matplotlib does), with its ticks.
pub(crate) fn axis(values: &[f64]) -> Axis {
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-9 * lo.abs().max(1.0) {
        // One distinct value: give it a unit-wide (or 10 %-wide) range to sit in the middle of.
        let half = (lo.abs() * 0.05).max(0.5);
        (lo, hi) = (lo - half, hi + half);
    }
    let pad = (hi - lo) * 0.05;
    let (lo, hi) = (lo - pad, hi + pad);
    let ticks = nice_ticks(lo, hi, 7);
    let labels = tick_labels(&ticks);
    Axis { lo, hi, ticks, labels }
}

/// Round tick values inside `[lo, hi]`, at most `max_ticks` of them, spaced 1, 2, 2.5 or 5
/// times a power of ten.
pub(crate) fn nice_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<f64> {
    let step = nice_step(lo, hi, max_ticks);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    // Multiplying the index (not adding steps) keeps 0.1 * 3 from drifting to 0.30000000000000004
    // beyond what the label's rounding hides.
    (first..=last).map(|i| i as f64 * step).map(|v| if v == 0.0 { 0.0 } else { v }).collect()
}

/// The tick spacing `nice_ticks` uses.
fn nice_step(lo: f64, hi: f64, max_ticks: usize) -> f64 {
    let raw = (hi - lo) / max_ticks.max(2) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let mantissa = [1.0, 2.0, 2.5, 5.0, 10.0].into_iter().find(|m| m * magnitude >= raw);
    mantissa.unwrap_or(10.0) * magnitude
}

/// Labels for evenly spaced ticks, with as many decimals as the spacing needs and no more.
pub(crate) fn tick_labels(ticks: &[f64]) -> Vec<String> {
    let step = match ticks {
        [a, b, ..] => (b - a).abs(),
        _ => 1.0,
    };
    // The fewest decimals that show the step exactly: 0.25 needs two, 0.5 one, 10 none.
    let decimals = (0..=12)
        .find(|d| {
            let scaled = step * 10f64.powi(*d);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(12) as usize;
    ticks
        .iter()
        .map(|t| {
            let label = format!("{t:.decimals$}");
            // A tick at -0.0000001 rounds to "-0": minus signs belong to negative labels only.
            if label.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
                label.trim_start_matches('-').to_string()
            } else {
                label.replace('-', "\u{2212}")
            }
        })
        .collect()
}

/// The estimated width of `text` set in DejaVu Sans at `size` pixels.
pub(crate) fn text_width(text: &str, size: f64) -> f64 {
    text.chars().map(|c| char_width(c) * size).sum()
}

/// An estimate of a character's advance in DejaVu Sans, in ems (measured classes, rounded up).
fn char_width(c: char) -> f64 {
    match c {
        'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | ' ' | 'I' => 0.33,
        'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' | '"' => 0.42,
        'm' | 'w' | 'M' | 'W' | '%' | '@' => 0.92,
        c if c.is_ascii_uppercase() => 0.72,
        c if c.is_ascii() => 0.62,
        // Wide scripts (CJK) take a full em; other letters about what Latin capitals do.
        c if c as u32 >= 0x2E80 => 1.0,
        _ => 0.72,
    }
}

/// `text` cut to at most `max_width` pixels at `size`, ending in an ellipsis when cut.
pub(crate) fn truncate(text: &str, size: f64, max_width: f64) -> String {
    if text_width(text, size) <= max_width {
        return text.to_string();
    }
    let budget = max_width - text_width("\u{2026}", size);
    let mut width = 0.0;
    let mut out = String::new();
    for c in text.chars() {
        width += char_width(c) * size;
        if width > budget {
            break;
        }
        out.push(c);
    }
    format!("{}\u{2026}", out.trim_end())
}

/// `text` cut to at most `max_width` pixels at `size` by an ellipsis in the middle.
///
/// Legend names are often paths that share a long prefix (`docs/guide/...`): cutting the end
/// would make them all read alike, while the start and the end together tell them apart.
pub(crate) fn truncate_middle(text: &str, size: f64, max_width: f64) -> String {
    if text_width(text, size) <= max_width {
        return text.to_string();
    }
    let budget = max_width - text_width("\u{2026}", size);
    let chars: Vec<char> = text.chars().collect();
    let (mut head, mut head_width) = (0, 0.0);
    while head < chars.len() && head_width + char_width(chars[head]) * size <= budget * 0.4 {
        head_width += char_width(chars[head]) * size;
        head += 1;
    }
    let (mut tail, mut tail_width) = (chars.len(), 0.0);
    while tail > head && head_width + tail_width + char_width(chars[tail - 1]) * size <= budget {
        tail_width += char_width(chars[tail - 1]) * size;
        tail -= 1;
    }
    let start: String = chars[..head].iter().collect();
    let end: String = chars[tail..].iter().collect();
    format!("{}\u{2026}{}", start.trim_end(), end.trim_start())
}

/// `text` broken at spaces into lines of at most `max_width` pixels (a word wider than that
/// is cut with an ellipsis).
pub(crate) fn wrap(text: &str, size: f64, max_width: f64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
        if text_width(&candidate, size) <= max_width || line.is_empty() {
            line = candidate;
        } else {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        }
    }
    lines.push(line);
    lines.into_iter().map(|l| truncate(&l, size, max_width)).collect()
}

/// The legend's box at the top right, and its names cut to fit.
fn legend_box(plot: &Plot, legend: &Legend, width: f64, top: f64) -> (Rect, Vec<String>) {
    let max_name = width * LEGEND_MAX_SHARE - legend_chrome();
    let names: Vec<String> =
        legend.entries.iter().map(|e| truncate_middle(&e.name, LEGEND_SIZE, max_name)).collect();
    let name_width = names
        .iter()
        .chain(std::iter::once(&plot.legend_title))
        .map(|n| text_width(n, LEGEND_SIZE))
        .fold(60.0, f64::max)
        .min(max_name);
    let w = name_width + legend_chrome();
    let h = 10.0 + LEGEND_LINE * (names.len() + 1) as f64;
    (Rect { x: width - w - 12.0, y: top, w, h }, names)
}

/// The legend's width beyond the name: padding, the marker, and the right-aligned count.
pub(crate) fn legend_chrome() -> f64 {
    10.0 + 12.0 + 8.0 + 12.0 + text_width("00,000", LEGEND_SIZE) + 10.0
}

/// The finite coordinates of the plot's points (a point with a NaN or infinite coordinate is
/// not drawn).
fn finite_coordinates(plot: &Plot) -> (Vec<f64>, Vec<f64>) {
    plot.points
        .iter()
        .filter(|p| p.x.is_finite() && p.y.is_finite())
        .map(|p| (p.x as f64, p.y as f64))
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_are_round_and_inside_the_range() {
        assert_eq!(nice_ticks(0.0, 10.0, 7), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(nice_ticks(-1.1, 1.1, 7), [-1.0, -0.5, 0.0, 0.5, 1.0]);
        assert_eq!(nice_ticks(0.0, 1.0, 4), [0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(nice_ticks(13.0, 987.0, 7), [200.0, 400.0, 600.0, 800.0]);
        let ticks = nice_ticks(-0.0371, 0.0412, 7);
        let expected = [-0.02, 0.0, 0.02, 0.04];
        assert_eq!(ticks.len(), expected.len(), "{ticks:?}");
        assert!(ticks.iter().zip(expected).all(|(t, e)| (t - e).abs() < 1e-12), "{ticks:?}");
    }

    #[test]
    fn tick_labels_use_the_decimals_the_step_needs() {
        assert_eq!(tick_labels(&[0.0, 0.25, 0.5]), ["0.00", "0.25", "0.50"]);
        assert_eq!(tick_labels(&[-10.0, 0.0, 10.0]), ["\u{2212}10", "0", "10"]);
        assert_eq!(tick_labels(&[0.1, 0.2, 0.30000000000000004]), ["0.1", "0.2", "0.3"]);
        assert_eq!(tick_labels(&[-1e-17, 0.5]), ["0.0", "0.5"]);
    }

    #[test]
    fn an_axis_of_one_value_or_none_still_has_a_range() {
        let one = axis(&[3.0, 3.0]);
        assert!(one.lo < 3.0 && one.hi > 3.0 && !one.ticks.is_empty());
        let none = axis(&[]);
        assert!(none.lo < 0.0 && none.hi > 1.0);
    }

    #[test]
    fn truncation_ends_in_an_ellipsis_and_fits() {
        assert_eq!(truncate("short", 12.0, 200.0), "short");
        let long = "a category name far too long to fit in any legend box";
        let cut = truncate(long, 12.0, 100.0);
        assert!(cut.ends_with('\u{2026}') && text_width(&cut, 12.0) <= 100.0, "{cut}");
    }

    #[test]
    fn middle_truncation_keeps_both_ends() {
        assert_eq!(truncate_middle("short", 12.0, 200.0), "short");
        let cut = truncate_middle("docs/some/deeply/nested/folder/file12.md", 12.0, 150.0);
        assert!(cut.starts_with("docs/") && cut.ends_with("file12.md"), "{cut}");
        assert!(cut.contains('\u{2026}') && text_width(&cut, 12.0) <= 150.0, "{cut}");
    }

    #[test]
    fn wrapping_breaks_at_spaces() {
        let lines = wrap("one two three four five six", 10.0, 60.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.join(" "), "one two three four five six");
    }
}
