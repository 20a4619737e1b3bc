//! Colours and the legend: which colour each category gets, how many points it has, and how
//! categories beyond the palette are folded into one "other" entry.
//!
//! The palette has 20 colours that stay apart from one another and from the light grey kept for
//! "other": matplotlib's ten "tab10" hues (its grey swapped for indigo) and ten darker or lighter
//! ones chosen not to sit next to any of the first ten. A plot with more than 20 categories keeps
//! its 19 largest, each with its own colour, and draws the rest in grey as one legend entry
//! "other (N categories)"; reusing colours instead would make two categories look like one.

use super::super::Plot;

/// An sRGB colour.
pub type Rgb = [u8; 3];

/// The category colours, in the order categories take them.
pub const PALETTE: [Rgb; 20] = [
    [0x1f, 0x77, 0xb4], // blue
    [0xff, 0x7f, 0x0e], // orange
    [0x2c, 0xa0, 0x2c], // green
    [0xd6, 0x27, 0x28], // red
    [0x94, 0x67, 0xbd], // purple
    [0x8c, 0x56, 0x4b], // brown
    [0xe3, 0x77, 0xc2], // pink
    [0xbc, 0xbd, 0x22], // olive
    [0x17, 0xbe, 0xcf], // cyan
    [0x39, 0x3b, 0x79], // indigo
    [0xe7, 0xba, 0x52], // gold
    [0x63, 0x79, 0x39], // moss
    [0x1b, 0x6e, 0x6a], // teal
    [0x7b, 0x41, 0x73], // plum
    [0x6b, 0xae, 0xd6], // sky
    [0x74, 0xc4, 0x76], // mint
    [0x25, 0x25, 0x25], // near black
    [0xb1, 0x59, 0x28], // rust
    [0xe7, 0x96, 0x9c], // salmon
    [0xf0, 0x02, 0x7f], // magenta
];

/// The colour of the "other" entry, and of points whose category index is out of range.
pub const OTHER_COLOUR: Rgb = [0xb4, 0xb4, 0xb4];

/// What the colours of a plot mean: one entry per drawn colour, in legend order.
#[derive(Debug, Clone, PartialEq)]
pub struct Legend {
    /// The entries: the plot's categories in their order, then "other" when some were folded.
    pub entries: Vec<LegendEntry>,
    /// For each of the plot's categories, the index of its entry.
    slot_of_category: Vec<usize>,
    /// The entry of points whose category index is out of range, when there are such points.
    other_slot: Option<usize>,
}

/// One line of a [`Legend`].
#[derive(Debug, Clone, PartialEq)]
pub struct LegendEntry {
    /// The category's name, or `"other (N categories)"`.
    pub name: String,
    /// How many points are drawn in this colour.
    pub count: usize,
    /// The colour.
    pub colour: Rgb,
}

impl Legend {
    /// The legend of `plot`: each category its palette colour, the smallest folded into "other"
    /// when there are more categories than colours.
    pub fn of(plot: &Plot) -> Legend {
        let counts = category_counts(plot);
        let kept = kept_categories(&counts);
        let mut entries = Vec::new();
        let mut slot_of_category = vec![usize::MAX; plot.categories.len()];
        for (category, name) in plot.categories.iter().enumerate() {
            if kept[category] {
                slot_of_category[category] = entries.len();
                let colour = PALETTE[entries.len()];
                entries.push(LegendEntry { name: name.clone(), count: counts[category], colour });
            }
        }
        let folded = kept.iter().filter(|k| !**k).count();
        let stray = counts.len() > plot.categories.len() && counts[plot.categories.len()] > 0;
        let other_slot = (folded > 0 || stray).then(|| {
            let count =
                (0..counts.len()).filter(|c| kept.get(*c) != Some(&true)).map(|c| counts[c]);
            let name = match folded {
                0 => "other".to_string(),
                1 => "other (1 category)".to_string(),
                n => format!("other ({n} categories)"),
            };
            entries.push(LegendEntry { name, count: count.sum(), colour: OTHER_COLOUR });
            entries.len() - 1
        });
        for slot in slot_of_category.iter_mut().filter(|s| **s == usize::MAX) {
            *slot = other_slot.expect("a folded category has the other entry");
        }
        Legend { entries, slot_of_category, other_slot }
    }

    /// The index of the entry a point of `category` is drawn under.
    pub fn slot(&self, category: usize) -> usize {
        // An out-of-range category only occurs when `of` saw such a point, so `other_slot` is
        // set; a category `of` never saw falls back to the first entry rather than panic.
        self.slot_of_category.get(category).copied().or(self.other_slot).unwrap_or(0)
    }
}

/// Points per category; one extra slot at the end counts points whose category is out of range.
fn category_counts(plot: &Plot) -> Vec<usize> {
    let mut counts = vec![0; plot.categories.len() + 1];
    for point in &plot.points {
        counts[point.category.min(plot.categories.len())] += 1;
    }
    counts
}

/// Which categories get a colour of their own: all, when they fit; else the largest 19 (ties go
/// to the earlier category, so the choice is stable).
fn kept_categories(counts: &[usize]) -> Vec<bool> {
    let n = counts.len() - 1;
    if n <= PALETTE.len() {
        return vec![true; n];
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&c| (std::cmp::Reverse(counts[c]), c));
    let mut kept = vec![false; n];
    for &c in &order[..PALETTE.len() - 1] {
        kept[c] = true;
    }
    kept
}

/// `#rrggbb`.
pub(crate) fn hex(colour: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", colour[0], colour[1], colour[2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viz::PlotPoint;

    fn plot_with(categories: usize, points_per_category: impl Fn(usize) -> usize) -> Plot {
        let mut points = Vec::new();
        for category in 0..categories {
            for i in 0..points_per_category(category) {
                points.push(PlotPoint {
                    x: i as f32,
                    y: category as f32,
                    category,
                    id: format!("{category}-{i}"),
                    text: String::new(),
                    source: None,
                    score: None,
                });
            }
        }
        Plot {
            title: "t".into(),
            notes: vec![],
            x_label: "x".into(),
            y_label: "y".into(),
            legend_title: "c".into(),
            categories: (0..categories).map(|c| format!("cat {c}")).collect(),
            score_label: String::new(),
            points,
        }
    }

    #[test]
    fn palette_colours_are_distinct_from_each_other_and_from_other() {
        let mut all = PALETTE.to_vec();
        all.push(OTHER_COLOUR);
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                let distance: i32 = (0..3).map(|k| (a[k] as i32 - b[k] as i32).pow(2)).sum();
                assert!(distance > 40 * 40, "{} and {} are too close", hex(*a), hex(*b));
            }
        }
    }

    #[test]
    fn few_categories_keep_their_order_and_counts() {
        let legend = Legend::of(&plot_with(3, |c| c + 1));
        let names: Vec<_> = legend.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["cat 0", "cat 1", "cat 2"]);
        assert_eq!(legend.entries.iter().map(|e| e.count).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(legend.entries[2].colour, PALETTE[2]);
        assert_eq!(legend.slot(1), 1);
    }

    #[test]
    fn the_smallest_categories_fold_into_other() {
        // Category c has c + 1 points: the five smallest (0..5) fold.
        let legend = Legend::of(&plot_with(24, |c| c + 1));
        assert_eq!(legend.entries.len(), 20);
        let other = legend.entries.last().unwrap();
        assert_eq!(other.name, "other (5 categories)");
        assert_eq!(other.count, 1 + 2 + 3 + 4 + 5);
        assert_eq!(other.colour, OTHER_COLOUR);
        assert_eq!(legend.entries[0].name, "cat 5");
        assert_eq!(legend.slot(0), 19);
        assert_eq!(legend.slot(5), 0);
    }

    #[test]
    fn out_of_range_categories_are_drawn_as_other() {
        let mut plot = plot_with(2, |_| 2);
        plot.points[0].category = 7;
        let legend = Legend::of(&plot);
        assert_eq!(legend.entries.len(), 3);
        assert_eq!(legend.entries[2].name, "other");
        assert_eq!(legend.entries[2].count, 1);
        assert_eq!(legend.slot(7), 2);
    }
}
