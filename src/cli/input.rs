//! Reading JSON-lines input files, with errors that name the file and line.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};

/// One JSON object read from a line of a JSON-lines file.
pub struct Record {
    /// The 1-based line number, for error messages.
    pub line: usize,
    /// The object.
    pub fields: Map<String, Value>,
}

/// Reads every non-blank line of `path` (`-` for stdin) as a JSON object.
pub fn read_jsonl(path: &Path) -> Result<Vec<Record>> {
    let bytes = read_all(path)?;
    let mut records = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = std::str::from_utf8(raw).map_err(|e| {
            anyhow::anyhow!(
                "{}:{line}: invalid UTF-8 at byte {}",
                path.display(),
                e.valid_up_to() + 1
            )
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}:{line}: invalid JSON: {e}", path.display()))?;
        let Value::Object(fields) = value else {
            bail!("{}:{line}: expected a JSON object, found {}", path.display(), kind(&value));
        };
        records.push(Record { line, fields });
    }
    Ok(records)
}

impl Record {
    /// The string field `key`, or an error naming the file, line and field.
    pub fn string(&self, path: &Path, key: &str) -> Result<&str> {
        match self.fields.get(key) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => {
                bail!(
                    "{}:{}: field {key:?} must be a string, found {}",
                    path.display(),
                    self.line,
                    kind(other)
                )
            }
            None => bail!("{}:{}: missing field {key:?}", path.display(), self.line),
        }
    }
}

fn read_all(path: &Path) -> Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).context("cannot read stdin")?;
        return Ok(bytes);
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
