//! Splitting a document into passages that fit the model: at headings, then paragraphs, then
//! sentences, then words, with an optional overlap.
//!
//! **Invariant:** a chunk's text is exactly `source[byte_range]`: chunks are slices of the
//! document, never rewritten, so a hit can always be shown in place (`path:line`).

use std::ops::Range;

/// What kind of markup a document uses, for finding its headings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// Markdown: `#` headings.
    Markdown,
    /// reStructuredText: titles underlined (and optionally overlined) with punctuation.
    Rst,
    /// Anything else: no headings.
    Plain,
}

/// How passages are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkOptions {
    /// The most tokens a passage may hold (the model's limit, less its special tokens).
    pub max_tokens: usize,
    /// Tokens of the previous passage repeated at the start of the next, at unit boundaries.
    pub overlap_tokens: usize,
}

/// One passage of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The passage: `source[byte_range]`.
    pub text: String,
    /// Where it lies in the source, in bytes.
    pub byte_range: Range<usize>,
    /// Its first and last lines, counted from 1.
    pub lines: (usize, usize),
    /// The headings it sits under, outermost first, joined by " > ".
    pub heading: Option<String>,
}

/// Cuts `text` into passages of at most `options.max_tokens` tokens, as counted by
/// `count_tokens`. Blank text gives no passages.
pub fn chunk(
    text: &str,
    markup: Markup,
    options: ChunkOptions,
    count_tokens: &dyn Fn(&str) -> usize,
) -> Vec<Chunk> {
    let max = options.max_tokens.max(1);
    let mut chunks = Vec::new();
    for section in sections(text, markup) {
        let units = units(text, section.body.clone(), max, count_tokens);
        for range in pack(&units, max, options.overlap_tokens) {
            let byte_range = units[range.start].range.start..units[range.end - 1].range.end;
            chunks.push(Chunk {
                text: text[byte_range.clone()].to_string(),
                lines: (
                    line_of(text, byte_range.start),
                    line_of(text, byte_range.end.saturating_sub(1)),
                ),
                byte_range,
                heading: section.heading.clone(),
            });
        }
    }
    chunks
}

struct Section {
    heading: Option<String>,
    body: Range<usize>,
}

/// A piece that is never split further unless it is too long: a paragraph, a sentence, or a run
/// of words.
struct Unit {
    range: Range<usize>,
    tokens: usize,
}

/// Splits the text at headings; each section's body excludes its heading lines.
fn sections(text: &str, markup: Markup) -> Vec<Section> {
    let lines = line_spans(text);
    let mut out = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut rst_levels: Vec<(char, bool)> = Vec::new();
    let mut body_start = 0;
    let mut i = 0;
    while i < lines.len() {
        let line = &text[lines[i].clone()];
        let found = match markup {
            Markup::Markdown => markdown_heading(line).map(|(level, title)| (level, title, 1)),
            Markup::Rst => rst_heading(text, &lines, i, &mut rst_levels),
            Markup::Plain => None,
        };
        let Some((level, title, consumed)) = found else {
            i += 1;
            continue;
        };
        let heading_start = lines[i].start;
        push_section(&mut out, &path, body_start..heading_start, text);
        path.retain(|(l, _)| *l < level);
        path.push((level, title));
        i += consumed;
        body_start = lines.get(i).map_or(text.len(), |l| l.start);
    }
    push_section(&mut out, &path, body_start..text.len(), text);
    out
}

fn push_section(out: &mut Vec<Section>, path: &[(usize, String)], body: Range<usize>, text: &str) {
    if text[body.clone()].trim().is_empty() {
        return;
    }
    let heading = (!path.is_empty())
        .then(|| path.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join(" > "));
    out.push(Section { heading, body });
}

fn markdown_heading(line: &str) -> Option<(usize, String)> {
    let trimmed = line.trim_end();
    let hashes = trimmed.len() - trimmed.trim_start_matches('#').len();
    let rest = &trimmed[hashes..];
    if (1..=6).contains(&hashes) && (rest.is_empty() || rest.starts_with(' ')) {
        let title = rest.trim().trim_end_matches('#').trim();
        return (!title.is_empty()).then(|| (hashes, title.to_string()));
    }
    None
}

/// An rST title: a text line underlined (optionally also overlined) by one repeated punctuation
/// character at least as long as the title. Levels follow the order adornments first appear.
fn rst_heading(
    text: &str,
    lines: &[Range<usize>],
    i: usize,
    levels: &mut Vec<(char, bool)>,
) -> Option<(usize, String, usize)> {
    let adornment = |j: usize| -> Option<(char, usize)> {
        let l = text[lines.get(j)?.clone()].trim_end();
        let c = l.chars().next()?;
        (l.len() >= 2 && "=-~^\"'`#*+:._".contains(c) && l.chars().all(|x| x == c))
            .then_some((c, l.len()))
    };
    let (title_line, consumed, over) = match adornment(i) {
        Some(_) if adornment(i + 2).is_some() => (i + 1, 3, true),
        Some(_) => return None,
        None => (i, 2, false),
    };
    let title = text[lines.get(title_line)?.clone()].trim();
    let (c, len) = adornment(title_line + 1)?;
    if title.is_empty() || len < title.chars().count() || (over && adornment(i)?.0 != c) {
        return None;
    }
    let key = (c, over);
    let level = match levels.iter().position(|&l| l == key) {
        Some(p) => p + 1,
        None => {
            levels.push(key);
            levels.len()
        }
    };
    Some((level, title.to_string(), consumed))
}

/// Breaks a section into units that each fit `max` tokens: paragraphs, else sentences, else
/// runs of words.
fn units(text: &str, body: Range<usize>, max: usize, count: &dyn Fn(&str) -> usize) -> Vec<Unit> {
    let mut out = Vec::new();
    for para in split_ranges(text, body, paragraph_breaks) {
        let tokens = count(&text[para.clone()]);
        if tokens <= max {
            out.push(Unit { range: para, tokens });
            continue;
        }
        for sentence in split_ranges(text, para, sentence_breaks) {
            let tokens = count(&text[sentence.clone()]);
            if tokens <= max {
                out.push(Unit { range: sentence, tokens });
            } else {
                out.extend(word_runs(text, sentence, max, count));
            }
        }
    }
    out
}

/// Splits `range` at the break positions `breaks` yields, trimming whitespace off each piece and
/// dropping empty ones.
fn split_ranges(
    text: &str,
    range: Range<usize>,
    breaks: fn(&str) -> Vec<usize>,
) -> Vec<Range<usize>> {
    let slice = &text[range.clone()];
    let mut cuts = breaks(slice);
    cuts.push(slice.len());
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts {
        let piece = &slice[start..cut];
        let lead = piece.len() - piece.trim_start().len();
        let trail = piece.len() - piece.trim_end().len();
        if lead + trail < piece.len() {
            out.push(range.start + start + lead..range.start + cut - trail);
        }
        start = cut;
    }
    out
}

fn paragraph_breaks(s: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut blank_run = false;
    let mut offset = 0;
    for line in s.split_inclusive('\n') {
        let blank = line.trim().is_empty();
        if blank && !blank_run {
            out.push(offset);
        }
        blank_run = blank;
        offset += line.len();
    }
    out
}

/// After `.`, `!` or `?` (and closing quotes or brackets) followed by whitespace.
fn sentence_breaks(s: &str) -> Vec<usize> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(b, b'.' | b'!' | b'?') {
            let mut j = i + 1;
            while j < bytes.len() && matches!(bytes[j], b'"' | b'\'' | b')' | b']') {
                j += 1;
            }
            if j < bytes.len() && bytes[j].is_ascii_whitespace() {
                out.push(j);
            }
        }
    }
    out
}

/// Runs of whole words that fit `max` tokens; a single word longer than that stands alone (the
/// model truncates it).
fn word_runs(
    text: &str,
    range: Range<usize>,
    max: usize,
    count: &dyn Fn(&str) -> usize,
) -> Vec<Unit> {
    let words: Vec<Range<usize>> = split_ranges(text, range, |s| {
        s.char_indices().filter(|(_, c)| c.is_whitespace()).map(|(i, _)| i).collect()
    });
    let mut out = Vec::new();
    let mut first = 0;
    while first < words.len() {
        // The longest run from `first` that fits, found by bisection on the word count.
        let (mut lo, mut hi) = (first + 1, words.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if count(&text[words[first].start..words[mid - 1].end]) <= max {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let range = words[first].start..words[lo - 1].end;
        out.push(Unit { tokens: count(&text[range.clone()]), range });
        first = lo;
    }
    out
}

/// Groups consecutive units into chunks of at most `max` tokens; each chunk after the first
/// starts with trailing units of the previous one worth at most `overlap` tokens.
fn pack(units: &[Unit], max: usize, overlap: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < units.len() {
        let mut end = start;
        let mut tokens = 0;
        while end < units.len() && (end == start || tokens + units[end].tokens <= max) {
            tokens += units[end].tokens;
            end += 1;
        }
        out.push(start..end);
        if end == units.len() {
            break;
        }
        let mut next = end;
        let mut carried = 0;
        while next > start + 1 && carried + units[next - 1].tokens <= overlap {
            carried += units[next - 1].tokens;
            next -= 1;
        }
        start = next;
    }
    out
}

fn line_spans(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let content = line.strip_suffix('\n').unwrap_or(line);
        let content = content.strip_suffix('\r').unwrap_or(content);
        out.push(start..start + content.len());
        start += line.len();
    }
    out
}

fn line_of(text: &str, byte: usize) -> usize {
    text.as_bytes()[..byte.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One token per whitespace-separated word: easy to reason about in tests.
    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    fn opts(max_tokens: usize, overlap_tokens: usize) -> ChunkOptions {
        ChunkOptions { max_tokens, overlap_tokens }
    }

    #[test]
    fn paragraphs_pack_together_until_the_budget_and_keep_exact_ranges() {
        let text = "one two three\nfour\n\nfive six\n\n\nseven eight nine ten\n";
        let chunks = chunk(text, Markup::Plain, opts(6, 0), &words);
        let texts: Vec<_> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["one two three\nfour\n\nfive six", "seven eight nine ten"]);
        for c in &chunks {
            assert_eq!(&text[c.byte_range.clone()], c.text);
        }
        assert_eq!((chunks[0].lines, chunks[1].lines), ((1, 4), (7, 7)));
    }

    #[test]
    fn long_paragraphs_split_at_sentences_then_words() {
        let text =
            "Alpha beta gamma. Delta epsilon! Zeta eta theta iota kappa lambda mu nu xi omicron.";
        let chunks = chunk(text, Markup::Plain, opts(4, 0), &words);
        let texts: Vec<_> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Alpha beta gamma.",
                "Delta epsilon!",
                "Zeta eta theta iota",
                "kappa lambda mu nu",
                "xi omicron."
            ]
        );
        assert!(chunks.iter().all(|c| words(&c.text) <= 4));
    }

    #[test]
    fn overlap_repeats_trailing_units_of_the_previous_chunk() {
        let text = "a b. c d. e f. g h. i j.";
        let chunks = chunk(text, Markup::Plain, opts(4, 2), &words);
        let texts: Vec<_> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["a b. c d.", "c d. e f.", "e f. g h.", "g h. i j."]);
    }

    #[test]
    fn markdown_headings_start_sections_and_label_their_chunks() {
        let text =
            "Intro line.\n\n# Install\n\nRun it.\n\n## From source\n\nBuild it.\n\n# Use\nAsk.\n";
        let chunks = chunk(text, Markup::Markdown, opts(50, 0), &words);
        let got: Vec<_> = chunks.iter().map(|c| (c.heading.as_deref(), c.text.as_str())).collect();
        assert_eq!(
            got,
            [
                (None, "Intro line."),
                (Some("Install"), "Run it."),
                (Some("Install > From source"), "Build it."),
                (Some("Use"), "Ask."),
            ]
        );
        assert_eq!(chunks[2].lines, (9, 9));
    }

    #[test]
    fn rst_titles_are_headings_in_the_order_their_adornments_appear() {
        let text =
            "=====\nGuide\n=====\n\nTop.\n\nSetup\n-----\n\nSteps.\n\nOther\n-----\n\nMore.\n";
        let chunks = chunk(text, Markup::Rst, opts(50, 0), &words);
        let got: Vec<_> = chunks.iter().map(|c| (c.heading.as_deref(), c.text.as_str())).collect();
        assert_eq!(
            got,
            [
                (Some("Guide"), "Top."),
                (Some("Guide > Setup"), "Steps."),
                (Some("Guide > Other"), "More.")
            ]
        );
    }

    #[test]
    fn blank_text_gives_no_chunks() {
        assert!(chunk(" \n\n\t\n", Markup::Plain, opts(10, 0), &words).is_empty());
        assert!(chunk("", Markup::Markdown, opts(10, 0), &words).is_empty());
    }
}
