//! Text from files: plain text as it is, Markdown and reStructuredText with their headings, the
//! visible text of HTML, and JSON-lines files as one record per line.

use std::path::Path;

use serde_json::{Map, Value};

use super::chunk::Markup;

/// How many leading bytes are searched for a NUL to decide a file is binary.
const BINARY_PROBE: usize = 8192;

/// What a file holds, ready for chunking.
#[derive(Debug, Clone, PartialEq)]
pub enum Extracted {
    /// One document.
    Document {
        /// Its text (for HTML, the visible text, with headings written as Markdown).
        text: String,
        /// How to find its headings.
        markup: Markup,
    },
    /// A JSON-lines file: one record per line.
    Records(Vec<JsonRecord>),
}

/// One record of a JSON-lines file.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonRecord {
    /// Its `"id"` (a string or number), or `PATH:LINE` when it has none.
    pub id: String,
    /// `"title"` + " " + `"text"`, or `"text"` alone.
    pub text: String,
    /// Every other field.
    pub metadata: Map<String, Value>,
    /// Its line in the file, counted from 1.
    pub line: usize,
}

/// Why a file yields no text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// A NUL byte early in the file.
    #[error("binary file")]
    Binary,
    /// Bytes that are not UTF-8.
    #[error("not valid UTF-8 (at byte {0})")]
    InvalidUtf8(usize),
    /// A JSON-lines record that cannot be read.
    #[error("line {line}: {reason}")]
    BadRecord {
        /// The line, counted from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Extracts the text of `path`, whose content is `bytes`.
///
/// # Errors
///
/// [`ExtractError`] for binary content, invalid UTF-8, or a malformed JSON-lines record.
pub fn extract(path: &Path, bytes: &[u8]) -> Result<Extracted, ExtractError> {
    if bytes[..bytes.len().min(BINARY_PROBE)].contains(&0) {
        return Err(ExtractError::Binary);
    }
    let text =
        std::str::from_utf8(bytes).map_err(|e| ExtractError::InvalidUtf8(e.valid_up_to()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    Ok(match ext.as_str() {
        "md" | "markdown" | "mdx" => {
            Extracted::Document { text: text.into(), markup: Markup::Markdown }
        }
        "rst" => Extracted::Document { text: text.into(), markup: Markup::Rst },
        "html" | "htm" | "xhtml" => {
            Extracted::Document { text: html_text(text), markup: Markup::Markdown }
        }
        "jsonl" | "ndjson" => Extracted::Records(records(path, text)?),
        _ => Extracted::Document { text: text.into(), markup: Markup::Plain },
    })
}

/// The text a reader sees: no tags, scripts, styles or comments; block elements become
/// paragraphs and `h1`–`h6` Markdown headings, so chunking finds both.
pub fn html_text(html: &str) -> String {
    let document = scraper::Html::parse_document(html);
    let mut out = String::new();
    walk(document.tree.root(), &mut out);
    let paragraphs: Vec<String> = out
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect();
    paragraphs.join("\n\n")
}

fn walk(node: ego_tree::NodeRef<'_, scraper::Node>, out: &mut String) {
    match node.value() {
        scraper::Node::Text(text) => out.push_str(text),
        scraper::Node::Element(element) => {
            let name = element.name();
            if matches!(name, "script" | "style" | "noscript" | "template" | "head" | "svg") {
                if name == "head" {
                    // The title is what a browser shows for the page.
                    for child in node.descendants() {
                        if let scraper::Node::Element(e) = child.value() {
                            if e.name() == "title" {
                                out.push_str("\n\n# ");
                                child.children().for_each(|c| walk(c, out));
                                out.push_str("\n\n");
                            }
                        }
                    }
                }
                return;
            }
            let heading = match name {
                "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => name[1..].parse::<usize>().ok(),
                _ => None,
            };
            let block = heading.is_some() || is_block(name);
            if block {
                out.push_str("\n\n");
            }
            if let Some(level) = heading {
                out.push_str(&"#".repeat(level));
                out.push(' ');
            }
            if name == "br" {
                out.push('\n');
            }
            node.children().for_each(|c| walk(c, out));
            if block {
                out.push_str("\n\n");
            } else {
                out.push(' ');
            }
        }
        _ => node.children().for_each(|c| walk(c, out)),
    }
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "li"
            | "ul"
            | "ol"
            | "tr"
            | "table"
            | "section"
            | "article"
            | "pre"
            | "blockquote"
            | "header"
            | "footer"
            | "nav"
            | "main"
            | "aside"
            | "dd"
            | "dt"
            | "dl"
            | "figcaption"
            | "figure"
            | "hr"
            | "body"
            | "form"
            | "fieldset"
            | "address"
            | "caption"
    )
}

fn records(path: &Path, text: &str) -> Result<Vec<JsonRecord>, ExtractError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| ExtractError::BadRecord { line: line_no, reason };
        let value: Value =
            serde_json::from_str(line).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        let Value::Object(mut fields) = value else {
            return Err(bad("expected a JSON object".into()));
        };
        let body = match fields.remove("text") {
            Some(Value::String(s)) => s,
            Some(_) => return Err(bad("\"text\" must be a string".into())),
            None => return Err(bad("missing \"text\"".into())),
        };
        let id = match fields.remove("id").or_else(|| fields.remove("_id")) {
            Some(Value::String(s)) => s,
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => return Err(bad("\"id\" must be a string or a number".into())),
            None => format!("{}:{line_no}", path.display()),
        };
        let title = match fields.remove("title") {
            Some(Value::String(t)) if !t.trim().is_empty() => Some(t),
            Some(Value::String(_) | Value::Null) | None => None,
            Some(_) => return Err(bad("\"title\" must be a string".into())),
        };
        let text = match title {
            Some(t) if body.trim().is_empty() => t,
            Some(t) => format!("{t} {body}"),
            None => body,
        };
        out.push(JsonRecord { id, text, metadata: fields, line: line_no });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(path: &str, body: &str) -> (String, Markup) {
        match extract(Path::new(path), body.as_bytes()).unwrap() {
            Extracted::Document { text, markup } => (text, markup),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn file_types_are_recognized_by_extension() {
        assert_eq!(doc("a/b.md", "# T\n").1, Markup::Markdown);
        assert_eq!(doc("x.RST", "T\n=\n").1, Markup::Rst);
        assert_eq!(doc("main.rs", "fn main() {}").1, Markup::Plain);
        assert_eq!(doc("README", "\u{feff}hello").0, "hello", "a byte-order mark is dropped");
    }

    #[test]
    fn html_gives_the_visible_text_with_headings_and_paragraphs() {
        let html = "<html><head><title>Page</title><style>p{color:red}</style><script>var x=1;</script></head>\
            <body><h2>Intro</h2><p>Hello <b>bold</b>\n   world.</p><!-- hidden --><div>Second<br>line</div>\
            <noscript>no js</noscript></body></html>";
        let (text, markup) = doc("page.html", html);
        assert_eq!(markup, Markup::Markdown);
        assert_eq!(text, "# Page\n\n## Intro\n\nHello bold world.\n\nSecond line");
    }

    #[test]
    fn binary_and_invalid_utf8_are_refused() {
        assert_eq!(extract(Path::new("a.bin"), b"abc\0def"), Err(ExtractError::Binary));
        assert_eq!(extract(Path::new("a.txt"), b"caf\xe9"), Err(ExtractError::InvalidUtf8(3)));
    }

    #[test]
    fn jsonl_records_take_id_title_and_text_and_keep_the_rest_as_metadata() {
        let body = "{\"id\": \"d1\", \"title\": \"Wings\", \"text\": \"Lift and drag.\", \"year\": 1962}\n\n\
                    {\"id\": 7, \"text\": \"No title.\"}\n{\"text\": \"No id.\", \"title\": \"\"}\n";
        let Extracted::Records(records) = extract(Path::new("c.jsonl"), body.as_bytes()).unwrap()
        else {
            panic!()
        };
        assert_eq!(records.len(), 3);
        assert_eq!(
            (records[0].id.as_str(), records[0].text.as_str()),
            ("d1", "Wings Lift and drag.")
        );
        assert_eq!(records[0].metadata["year"], 1962);
        assert_eq!((records[1].id.as_str(), records[1].line), ("7", 3));
        assert_eq!((records[2].id.as_str(), records[2].text.as_str()), ("c.jsonl:4", "No id."));
        let err = extract(Path::new("c.jsonl"), b"{\"text\": 1}\n").unwrap_err();
        assert_eq!(err.to_string(), "line 1: \"text\" must be a string");
        let err = extract(Path::new("c.jsonl"), b"{\"id\": 1}\n{oops\n").unwrap_err();
        assert!(err.to_string().starts_with("line 1: missing \"text\""), "{err}");
    }
}
