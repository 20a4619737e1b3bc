//! Finding the files to index: folders walked recursively, `.gitignore` and `.ignore` honoured,
//! hidden files skipped by default, symbolic links not followed unless asked (and loops never).

use std::path::{Path, PathBuf};

/// How folders are walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkOptions {
    /// Include hidden files and folders. By default, off.
    pub hidden: bool,
    /// Follow symbolic links (loops are detected and reported). By default, off.
    pub follow_links: bool,
    /// Files larger than this many bytes are reported as skipped. By default, 16 MiB.
    pub max_file_bytes: u64,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions { hidden: false, follow_links: false, max_file_bytes: 16 << 20 }
    }
}

/// One entry the walk met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A file to read.
    File(PathBuf),
    /// A path passed over, and why.
    Skipped(PathBuf, String),
}

/// Walks `roots` (folders or files), returning every file to read and every path passed over
/// with the reason, sorted by path.
pub fn walk(roots: &[PathBuf], options: WalkOptions) -> Vec<Found> {
    let mut out = Vec::new();
    for root in roots {
        if !root.exists() && root.symlink_metadata().is_err() {
            out.push(Found::Skipped(root.clone(), "no such file or folder".into()));
            continue;
        }
        let mut builder = ignore::WalkBuilder::new(root);
        builder
            .hidden(!options.hidden)
            .follow_links(options.follow_links)
            .require_git(false)
            .git_global(false)
            .parents(true)
            .sort_by_file_path(|a, b| a.cmp(b));
        for entry in builder.build() {
            out.extend(classify(entry, options));
        }
    }
    out.sort_by(|a, b| path_of(a).cmp(path_of(b)));
    out.dedup_by(|a, b| path_of(a) == path_of(b));
    out
}

fn classify(entry: Result<ignore::DirEntry, ignore::Error>, options: WalkOptions) -> Option<Found> {
    let entry = match entry {
        Ok(entry) => entry,
        Err(err) => {
            let path = error_path(&err).unwrap_or_default();
            let reason =
                if is_loop(&err) { "symbolic link loop".to_string() } else { err.to_string() };
            return Some(Found::Skipped(path, reason));
        }
    };
    let path = entry.path().to_path_buf();
    let file_type = entry.file_type()?;
    if file_type.is_symlink() {
        return Some(Found::Skipped(path, "symbolic link (not followed)".into()));
    }
    if !file_type.is_file() {
        return None;
    }
    match entry.metadata() {
        Ok(meta) if meta.len() > options.max_file_bytes => Some(Found::Skipped(
            path,
            format!("too large ({} bytes; the limit is {})", meta.len(), options.max_file_bytes),
        )),
        Ok(_) => Some(Found::File(path)),
        Err(err) => Some(Found::Skipped(path, err.to_string())),
    }
}

fn path_of(found: &Found) -> &Path {
    match found {
        Found::File(p) | Found::Skipped(p, _) => p,
    }
}

fn is_loop(err: &ignore::Error) -> bool {
    match err {
        ignore::Error::Loop { .. } => true,
        ignore::Error::WithPath { err, .. } | ignore::Error::WithDepth { err, .. } => is_loop(err),
        _ => false,
    }
}

fn error_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn ignores_hidden_and_gitignored_files_and_reports_links_and_huge_files() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("docs/deep")).unwrap();
        fs::create_dir_all(root.join(".hidden")).unwrap();
        fs::write(root.join(".gitignore"), "build/\n*.log\n").unwrap();
        fs::write(root.join("docs/a.md"), "a").unwrap();
        fs::write(root.join("docs/deep/b.txt"), "b").unwrap();
        fs::write(root.join("docs/skip.log"), "x").unwrap();
        fs::create_dir_all(root.join("build")).unwrap();
        fs::write(root.join("build/out.txt"), "x").unwrap();
        fs::write(root.join(".hidden/secret.txt"), "x").unwrap();
        fs::write(root.join("big.txt"), vec![b'x'; 2000]).unwrap();
        std::os::unix::fs::symlink(root.join("docs"), root.join("docs/deep/loop")).unwrap();

        let options = WalkOptions { max_file_bytes: 1000, ..WalkOptions::default() };
        let found = walk(&[root.to_path_buf()], options);
        let files: Vec<_> = found
            .iter()
            .filter_map(|f| match f {
                Found::File(p) => Some(p.strip_prefix(root).unwrap().to_path_buf()),
                Found::Skipped(..) => None,
            })
            .collect();
        assert_eq!(files, [PathBuf::from("docs/a.md"), PathBuf::from("docs/deep/b.txt")]);
        let skipped: Vec<_> = found
            .iter()
            .filter_map(|f| match f {
                Found::Skipped(p, why) => {
                    Some((p.strip_prefix(root).unwrap().to_path_buf(), why.clone()))
                }
                Found::File(_) => None,
            })
            .collect();
        assert!(
            skipped.iter().any(|(p, why)| p.ends_with("big.txt") && why.contains("too large")),
            "{skipped:?}"
        );
        assert!(
            skipped.iter().any(|(p, why)| p.ends_with("loop") && why.contains("symbolic link")),
            "{skipped:?}"
        );

        let following =
            WalkOptions { follow_links: true, max_file_bytes: 1000, ..WalkOptions::default() };
        let found = walk(&[root.to_path_buf()], following);
        assert!(
            found
                .iter()
                .any(|f| matches!(f, Found::Skipped(_, why) if why == "symbolic link loop")),
            "{found:?}"
        );
    }
}
