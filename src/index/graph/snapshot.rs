//! Snapshots: the graph written to a folder so that opening a collection loads it instead of
//! rebuilding it.
//!
//! A snapshot folder holds `snapshot.json` (the format, the store stamp, the parameters and the
//! graph file's size and CRC-32) and `index.graph`, all little-endian:
//!
//! | field | bytes |
//! | --- | --- |
//! | magic `KINDHNSW`, format `u32`, dim `u32`, M `u32`, ef_construction `u32` | 24 |
//! | points `u64`, entry slot `u32` (`u32::MAX` when empty), entry level `u32` | 16 |
//! | upper-layer words `u64` | 8 |
//! | ids: `u64` per point | 8·n |
//! | levels: `u8` per point, zero-padded to a multiple of 4 | ⌈n/4⌉·4 |
//! | layer-0 lists: `1 + 2M` `u32` per point (count, then slots) | 4·(1+2M)·n |
//! | upper lists: for each point in slot order, `level` lists of `1 + M` `u32` | 4·words |
//! | vectors: `dim` `f32` per point | 4·dim·n |
//! | CRC-32 of everything above | 4 |
//!
//! **Invariant:** `load` trusts nothing in the file: it checks the size and checksum first, then
//! every count against the file's length before allocating, and every link, level and the entry
//! point against the graph, so a damaged or crafted file is refused with a reason and never
//! panics. A folder is written beside its destination and renamed into place, so a crash leaves
//! the old snapshot or none.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

use super::layout::{Graph, MAX_LEVEL};
use super::HnswIndex;
use crate::index::HnswParams;

/// Format 1 was the previous index's dump; such snapshots are refused, so the index is rebuilt.
const SNAPSHOT_FORMAT: u32 = 2;
const GRAPH_FILE: &str = "index.graph";
const MAGIC: &[u8; 8] = b"KINDHNSW";
const HEADER_BYTES: u64 = 48;
/// `snapshot.json` is small; anything larger is not ours.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// Which store state a snapshot reflects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SnapshotStamp {
    /// The collection's `uid`.
    pub collection_uid: u64,
    /// The store's commit sequence when the snapshot was taken.
    pub commit_seq: u64,
    /// The highest internal id allocated by then; later ids are not in the snapshot.
    pub next_id: u64,
    /// Points in the graph, tombstones included.
    pub points: usize,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    format: u32,
    stamp: SnapshotStamp,
    params: HnswParams,
    dim: usize,
    graph: FileSum,
}

#[derive(Serialize, Deserialize)]
struct FileSum {
    name: String,
    size: u64,
    crc32: u32,
}

/// Read first, so a manifest of another format is told apart from a damaged one.
#[derive(Deserialize)]
struct FormatOnly {
    format: u32,
}

impl HnswIndex {
    /// Writes a snapshot into `dir`, replacing any snapshot there. The new snapshot is assembled
    /// beside `dir` and renamed into place, so a crash leaves the old snapshot or none.
    pub(crate) fn save(&self, dir: &Path, stamp: SnapshotStamp) -> Result<(), String> {
        let _writer = self.writer.lock();
        let graph = self.graph.read();
        let parent = dir.parent().ok_or("a snapshot folder needs a parent")?;
        fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        let staging = tempfile::Builder::new()
            .prefix(".snapshot-")
            .tempdir_in(parent)
            .map_err(|e| format!("{}: {e}", parent.display()))?;
        let path = staging.path().join(GRAPH_FILE);
        let sum = write_graph(&graph, self.params, &path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let manifest = Manifest {
            format: SNAPSHOT_FORMAT,
            stamp,
            params: self.params,
            dim: self.dim,
            graph: sum,
        };
        let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
        fs::write(staging.path().join("snapshot.json"), json).map_err(|e| e.to_string())?;
        replace_dir(&staging.keep(), dir)
    }

    /// Loads the snapshot in `dir` if it is whole and was made for these parameters.
    ///
    /// # Errors
    ///
    /// A sentence saying what is missing, damaged or different.
    pub(crate) fn load(
        dir: &Path,
        params: HnswParams,
        dim: usize,
    ) -> Result<(Self, SnapshotStamp), String> {
        let manifest_path = dir.join("snapshot.json");
        let manifest = read_manifest(&manifest_path)?;
        if manifest.dim != dim || !same_graph(manifest.params, params) {
            return Err(format!("{}: made for other index settings", manifest_path.display()));
        }
        let path = dir.join(GRAPH_FILE);
        let damaged = |why: &str| format!("{}: damaged ({why})", path.display());
        let bytes = read_checked(&path, &manifest.graph).map_err(|why| damaged(&why))?;
        let graph = parse_graph(&bytes, params.m, dim).map_err(|why| damaged(&why))?;
        if graph.len() != manifest.stamp.points {
            let why =
                format!("{} points, the manifest says {}", graph.len(), manifest.stamp.points);
            return Err(damaged(&why));
        }
        Ok((HnswIndex::from_graph(params, graph), manifest.stamp))
    }
}

/// `ef_search` is a query-time setting: a snapshot built with another one is the same graph.
fn same_graph(a: HnswParams, b: HnswParams) -> bool {
    a.m == b.m && a.ef_construction == b.ef_construction
}

fn read_manifest(path: &Path) -> Result<Manifest, String> {
    let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(format!("{}: too large to be a snapshot manifest", path.display()));
    }
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let format: FormatOnly =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if format.format != SNAPSHOT_FORMAT {
        return Err(format!(
            "{}: snapshot format {}, this version reads {SNAPSHOT_FORMAT}",
            path.display(),
            format.format
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads the graph file whole and checks its size and CRC against the manifest and its trailer.
fn read_checked(path: &Path, sum: &FileSum) -> Result<Vec<u8>, String> {
    let size = fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size != sum.size {
        return Err(format!("{size} bytes, the manifest says {}", sum.size));
    }
    let bytes = fs::read(path).map_err(|e| e.to_string())?;
    if bytes.len() as u64 != size || bytes.len() < 4 {
        return Err("changed while being read".into());
    }
    let (body, trailer) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes(trailer.try_into().expect("4 bytes"));
    if crc32fast::hash(body) != stored || stored != sum.crc32 {
        return Err("checksum mismatch".into());
    }
    Ok(bytes)
}

/// Writes `graph` in the format above and returns the file's size and CRC.
fn write_graph(graph: &Graph, params: HnswParams, path: &Path) -> std::io::Result<FileSum> {
    let mut out = Encoder::create(path)?;
    let n = graph.len();
    let (entry_slot, entry_level) = graph.entry().map_or((u32::MAX, 0), |(s, l)| (s, l as u32));
    let upper_words: usize = graph.upper.iter().map(|u| u.len()).sum();
    out.bytes(MAGIC)?;
    for field in [SNAPSHOT_FORMAT, graph.dim as u32, params.m as u32, params.ef_construction as u32]
    {
        out.u32s([field])?;
    }
    out.bytes(&(n as u64).to_le_bytes())?;
    out.u32s([entry_slot, entry_level])?;
    out.bytes(&(upper_words as u64).to_le_bytes())?;
    for id in &graph.ids {
        out.bytes(&id.to_le_bytes())?;
    }
    out.bytes(&graph.levels)?;
    out.bytes(&[0u8; 3][..padding(n)])?;
    out.u32s(graph.layer0.iter().map(|w| w.load(Relaxed)))?;
    out.u32s(graph.upper.iter().flat_map(|u| u.iter().map(|w| w.load(Relaxed))))?;
    out.u32s(graph.vectors.iter().map(|x| x.to_bits()))?;
    out.finish(path)
}

/// Zero bytes after `n` one-byte levels, to keep the following words 4-byte aligned in the file.
fn padding(n: usize) -> usize {
    (4 - n % 4) % 4
}

/// A buffered file writer that keeps a running CRC of what it wrote.
struct Encoder {
    file: BufWriter<fs::File>,
    crc: crc32fast::Hasher,
    size: u64,
    buffer: Vec<u8>,
}

impl Encoder {
    fn create(path: &Path) -> std::io::Result<Self> {
        let file = BufWriter::with_capacity(1 << 20, fs::File::create(path)?);
        Ok(Encoder { file, crc: crc32fast::Hasher::new(), size: 0, buffer: Vec::new() })
    }

    fn bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.crc.update(bytes);
        self.size += bytes.len() as u64;
        self.file.write_all(bytes)
    }

    /// Writes words little-endian, a block at a time.
    fn u32s(&mut self, words: impl IntoIterator<Item = u32>) -> std::io::Result<()> {
        let mut words = words.into_iter().peekable();
        let mut buffer = std::mem::take(&mut self.buffer);
        while words.peek().is_some() {
            buffer.clear();
            buffer.extend(words.by_ref().take(16 * 1024).flat_map(u32::to_le_bytes));
            self.bytes(&buffer)?;
        }
        self.buffer = buffer;
        Ok(())
    }

    /// Appends the CRC. The file is not synced: snapshots are taken while writes wait, and a
    /// snapshot torn by a power loss fails its size or checksum on open and is rebuilt.
    fn finish(mut self, path: &Path) -> std::io::Result<FileSum> {
        let crc = self.crc.clone().finalize();
        self.file.write_all(&crc.to_le_bytes())?;
        self.file.flush()?;
        let name = path.file_name().expect("a file name").to_string_lossy().into_owned();
        Ok(FileSum { name, size: self.size + 4, crc32: crc })
    }
}

/// The sizes a header promises, each checked against the file's length before any allocation.
struct Shape {
    points: usize,
    entry: Option<(u32, usize)>,
    upper_words: usize,
}

/// Rebuilds a graph from checked bytes, refusing anything inconsistent.
fn parse_graph(bytes: &[u8], m: usize, dim: usize) -> Result<Graph, String> {
    let mut input = Decoder { bytes: &bytes[..bytes.len() - 4] };
    let shape = parse_header(&mut input, m, dim)?;
    let n = shape.points;
    let ids: Vec<u64> = input
        .take(n * 8)?
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let levels = input.take(n)?.to_vec();
    input.take(padding(n))?;
    let layer0 = input.words(n * (1 + 2 * m))?;
    let upper_flat = input.words(shape.upper_words)?;
    let vectors = input.floats(n * dim)?;
    if !input.bytes.is_empty() {
        return Err(format!("{} bytes after the vectors", input.bytes.len()));
    }
    check_levels(&levels, shape.entry, shape.upper_words, m)?;
    check_lists(&layer0, 2 * m, n)?;
    check_lists(&upper_flat, m, n)?;
    let mut graph = Graph::new(dim, m, 0);
    graph.upper = split_upper(upper_flat, &levels, m);
    (graph.vectors, graph.ids, graph.levels, graph.layer0) = (vectors, ids, levels, layer0);
    if let Some((slot, level)) = shape.entry {
        graph.set_entry(slot, level);
    }
    Ok(graph)
}

/// Reads the header and checks that the file's length is exactly what it implies.
fn parse_header(input: &mut Decoder<'_>, m: usize, dim: usize) -> Result<Shape, String> {
    if input.take(8)? != MAGIC {
        return Err("not a kindred graph file".into());
    }
    let [format, file_dim, file_m, _ef] = [input.u32()?, input.u32()?, input.u32()?, input.u32()?];
    if format != SNAPSHOT_FORMAT || file_dim as usize != dim || file_m as usize != m {
        return Err(format!("header says format {format}, dim {file_dim}, M {file_m}"));
    }
    let points = input.u64()?;
    let (entry_slot, entry_level) = (input.u32()?, input.u32()?);
    let upper_words = input.u64()?;
    let per_point = 8 + 4 * (1 + 2 * m as u64) + 4 * dim as u64;
    let expected = points
        .checked_mul(per_point + 1)
        .and_then(|b| b.checked_add(padding(points as usize) as u64))
        .and_then(|b| b.checked_add(upper_words.checked_mul(4)?))
        .and_then(|b| b.checked_add(HEADER_BYTES));
    if expected != Some(HEADER_BYTES + input.bytes.len() as u64) {
        return Err(format!("{points} points and {upper_words} link words do not fit the file"));
    }
    let entry = (entry_slot != u32::MAX).then_some((entry_slot, entry_level as usize));
    Ok(Shape { points: points as usize, entry, upper_words: upper_words as usize })
}

/// Levels within range, an entry point on the top layer (or none for an empty graph), and
/// upper-layer storage that adds up.
fn check_levels(
    levels: &[u8],
    entry: Option<(u32, usize)>,
    upper_words: usize,
    m: usize,
) -> Result<(), String> {
    let top = levels.iter().copied().max().map(usize::from);
    if top.is_some_and(|t| t > MAX_LEVEL) {
        return Err(format!("a level above {MAX_LEVEL}"));
    }
    let entry_ok = match (entry, top) {
        (None, None) => true,
        (Some((slot, level)), Some(top)) => {
            levels.get(slot as usize).is_some_and(|&l| usize::from(l) == level) && level == top
        }
        _ => false,
    };
    if !entry_ok {
        return Err("the entry point is not a node on the top layer".into());
    }
    let words: usize = levels.iter().map(|&l| usize::from(l) * (1 + m)).sum();
    if words != upper_words {
        return Err(format!("levels need {words} upper link words, the file has {upper_words}"));
    }
    Ok(())
}

/// Every list's count fits its room, and every word (counted or not) names a stored node, as
/// the layout's readers rely on.
fn check_lists(words: &[AtomicU32], max: usize, points: usize) -> Result<(), String> {
    for list in words.chunks_exact(1 + max) {
        if list[0].load(Relaxed) as usize > max {
            return Err(format!("a link list of {} in room for {max}", list[0].load(Relaxed)));
        }
        if list[1..].iter().any(|w| w.load(Relaxed) as usize >= points) {
            return Err(format!("a link to a node past the {points} stored"));
        }
    }
    Ok(())
}

fn split_upper(flat: Vec<AtomicU32>, levels: &[u8], m: usize) -> Vec<Box<[AtomicU32]>> {
    let mut words = flat.into_iter();
    levels.iter().map(|&l| words.by_ref().take(usize::from(l) * (1 + m)).collect()).collect()
}

/// A cursor over bytes whose total length was checked against the header.
struct Decoder<'a> {
    bytes: &'a [u8],
}

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.bytes.len() {
            return Err("ends early".into());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn floats(&mut self, n: usize) -> Result<Vec<f32>, String> {
        let bytes = self.take(n.checked_mul(4).ok_or("a count overflows")?)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect())
    }

    fn words(&mut self, n: usize) -> Result<Vec<AtomicU32>, String> {
        let bytes = self.take(n.checked_mul(4).ok_or("a count overflows")?)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| AtomicU32::new(u32::from_le_bytes(b.try_into().expect("4 bytes"))))
            .collect())
    }
}

/// Renames `staged` to `dir`, moving any folder already at `dir` out of the way first.
fn replace_dir(staged: &Path, dir: &Path) -> Result<(), String> {
    let err = |e: std::io::Error| format!("{}: {e}", dir.display());
    let old: Option<PathBuf> =
        dir.exists().then(|| dir.with_extension(format!("old-{}", std::process::id())));
    if let Some(old) = &old {
        fs::rename(dir, old).map_err(err)?;
    }
    fs::rename(staged, dir).map_err(err)?;
    if let Some(old) = old {
        let _ = fs::remove_dir_all(old);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::graph::tests::clustered;
    use crate::index::VectorIndex;

    fn built(n: usize) -> (HnswIndex, Vec<Vec<f32>>) {
        let index = HnswIndex::new(HnswParams::default(), 16, n);
        let vectors = clustered(n, 16, 11);
        let items: Vec<(u64, &[f32])> =
            vectors.iter().enumerate().map(|(i, v)| (i as u64 * 3, v.as_slice())).collect();
        index.insert(&items);
        (index, vectors)
    }

    fn stamp(points: usize) -> SnapshotStamp {
        SnapshotStamp { collection_uid: 1, commit_seq: 7, next_id: 3 * points as u64, points }
    }

    fn load(dir: &Path) -> Result<(HnswIndex, SnapshotStamp), String> {
        HnswIndex::load(dir, HnswParams::default(), 16)
    }

    /// Rewrites the graph file with `edit` applied, then fixes its checksum and the manifest, as
    /// a crafted file would.
    fn forge(dir: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
        let path = dir.join(GRAPH_FILE);
        let mut bytes = fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 4);
        edit(&mut bytes);
        let crc = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        fs::write(&path, &bytes).unwrap();
        let manifest_path = dir.join("snapshot.json");
        let mut manifest: Manifest =
            serde_json::from_slice(&fs::read(&manifest_path).unwrap()).unwrap();
        manifest.graph.size = bytes.len() as u64;
        manifest.graph.crc32 = crc;
        fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    }

    #[test]
    fn a_snapshot_reloads_to_the_same_answers() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("snap");
        let (index, vectors) = built(1500);
        index.save(&dir, stamp(1500)).unwrap();
        index.save(&dir, stamp(1500)).unwrap(); // replacing works too
        let (loaded, got) = load(&dir).unwrap();
        assert_eq!(got, stamp(1500));
        assert_eq!(loaded.ids(), index.ids());
        for v in vectors.iter().step_by(10) {
            assert_eq!(index.search(v, 5, 64, None), loaded.search(v, 5, 64, None));
        }
        // A loaded graph keeps growing.
        let more = clustered(200, 16, 12);
        let items: Vec<(u64, &[f32])> =
            more.iter().enumerate().map(|(i, v)| (10_000 + i as u64, v.as_slice())).collect();
        loaded.insert(&items);
        assert_eq!(loaded.search(&more[7], 1, 64, None)[0].id, 10_007);
    }

    #[test]
    fn an_empty_index_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("snap");
        HnswIndex::new(HnswParams::default(), 16, 0).save(&dir, stamp(0)).unwrap();
        let (loaded, _) = load(&dir).unwrap();
        assert_eq!(loaded.len(), 0);
        assert!(loaded.search(&[0.25; 16], 3, 16, None).is_empty());
    }

    #[test]
    fn damaged_missing_or_foreign_snapshots_are_refused_with_a_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("snap");
        let (index, _) = built(100);
        index.save(&dir, stamp(100)).unwrap();

        let other = HnswParams { m: 8, ..HnswParams::default() };
        assert!(HnswIndex::load(&dir, other, 16).unwrap_err().contains("other index settings"));
        assert!(HnswIndex::load(&dir, HnswParams::default(), 32)
            .unwrap_err()
            .contains("other index settings"));
        let data = dir.join(GRAPH_FILE);
        let original = fs::read(&data).unwrap();
        let mut bytes = original.clone();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        fs::write(&data, &bytes).unwrap();
        assert!(load(&dir).unwrap_err().contains("checksum mismatch"));
        fs::write(&data, &original[..original.len() / 2]).unwrap();
        assert!(load(&dir).unwrap_err().contains("damaged"));
        fs::write(&data, &original).unwrap();
        assert!(load(&dir).is_ok());
        fs::remove_file(dir.join("snapshot.json")).unwrap();
        assert!(load(&dir).unwrap_err().contains("snapshot.json"));
    }

    #[test]
    fn a_snapshot_of_another_format_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("snap");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("snapshot.json"), r#"{"format": 1, "files": []}"#).unwrap();
        assert!(load(&dir).unwrap_err().contains("snapshot format 1"));
    }

    #[test]
    fn crafted_files_with_valid_checksums_are_refused_without_panicking() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("snap");
        let (index, _) = built(100);
        index.save(&dir, stamp(100)).unwrap();
        let pristine = fs::read(dir.join(GRAPH_FILE)).unwrap();
        let manifest = fs::read(dir.join("snapshot.json")).unwrap();
        let layer0 = HEADER_BYTES as usize + 100 * 8 + 100;
        type Edit = Box<dyn Fn(&mut Vec<u8>)>;
        let edits: Vec<(&str, Edit)> = vec![
            ("points", Box::new(|b| b[24..32].copy_from_slice(&u64::MAX.to_le_bytes()))),
            ("upper words", Box::new(|b| b[40..48].copy_from_slice(&(1u64 << 61).to_le_bytes()))),
            ("entry", Box::new(|b| b[32..36].copy_from_slice(&500u32.to_le_bytes()))),
            ("level", Box::new(|b| b[HEADER_BYTES as usize + 800] = 200)),
            (
                "count",
                Box::new(move |b| b[layer0..layer0 + 4].copy_from_slice(&99u32.to_le_bytes())),
            ),
            (
                "link",
                Box::new(move |b| b[layer0 + 4..layer0 + 8].copy_from_slice(&100u32.to_le_bytes())),
            ),
            ("magic", Box::new(|b| b[0] = b'X')),
            ("trailing", Box::new(|b| b.extend_from_slice(&[0; 8]))),
        ];
        for (what, edit) in edits {
            fs::write(dir.join(GRAPH_FILE), &pristine).unwrap();
            fs::write(dir.join("snapshot.json"), &manifest).unwrap();
            forge(&dir, edit);
            let err = load(&dir).err().unwrap_or_else(|| panic!("a forged {what} was accepted"));
            assert!(err.contains("damaged"), "{what}: {err}");
        }
    }
}
