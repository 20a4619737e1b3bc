//! The fvecs and ivecs formats: each row is a little-endian `i32` count, then that many
//! little-endian `f32` (fvecs) or `i32` (ivecs) values.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Reads an fvecs file into rows.
pub fn read_fvecs(path: &Path) -> Result<Vec<Vec<f32>>> {
    read_rows(path, f32::from_le_bytes)
}

/// Reads an ivecs file into rows.
pub fn read_ivecs(path: &Path) -> Result<Vec<Vec<i32>>> {
    read_rows(path, i32::from_le_bytes)
}

/// Writes rows as fvecs.
pub fn write_fvecs(path: &Path, rows: &[Vec<f32>]) -> Result<()> {
    write_rows(path, rows, |x: &f32| x.to_le_bytes())
}

/// Writes rows as ivecs.
pub fn write_ivecs(path: &Path, rows: &[Vec<i32>]) -> Result<()> {
    write_rows(path, rows, |x: &i32| x.to_le_bytes())
}

fn read_rows<T>(path: &Path, decode: impl Fn([u8; 4]) -> T) -> Result<Vec<Vec<T>>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let word = |at: usize| [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
    let mut rows: Vec<Vec<T>> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if at + 4 > bytes.len() {
            bail!("{}: truncated row header at byte {at}", path.display());
        }
        let n = i32::from_le_bytes(word(at));
        if n <= 0 || n > 1 << 16 {
            bail!("{}: row {} declares {n} values", path.display(), rows.len());
        }
        let end = at + 4 + 4 * n as usize;
        if end > bytes.len() {
            bail!("{}: row {} is truncated", path.display(), rows.len());
        }
        rows.push((at + 4..end).step_by(4).map(|i| decode(word(i))).collect());
        at = end;
    }
    if let Some(first) = rows.first() {
        if let Some(i) = rows.iter().position(|r| r.len() != first.len()) {
            bail!(
                "{}: row {i} has {} values, row 0 has {}",
                path.display(),
                rows[i].len(),
                first.len()
            );
        }
    }
    Ok(rows)
}

fn write_rows<T>(path: &Path, rows: &[Vec<T>], encode: impl Fn(&T) -> [u8; 4]) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    for row in rows {
        out.write_all(&(row.len() as i32).to_le_bytes())?;
        for x in row {
            out.write_all(&encode(x))?;
        }
    }
    out.flush().with_context(|| format!("cannot write {}", path.display()))
}
