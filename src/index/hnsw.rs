//! The HNSW index: hnsw_rs under a dot-product distance, with snapshots on disk.
//!
//! hnsw_rs has no deletion, so removed records stay in the graph as tombstones that searches
//! skip (the collection tracks them and rebuilds past a threshold).
//!
//! A snapshot is a folder holding hnsw_rs's dump (`index.hnsw.graph`, `index.hnsw.data`) and a
//! `snapshot.json` that stamps it with the store's commit sequence and records the sha256 of each
//! file. **Invariant:** hnsw_rs only ever reads a dump whose checksums match, since its loader
//! asserts on malformed input; a snapshot that fails any check is reported and rebuilt from the
//! store, never trusted.

use std::fs;
use std::path::{Path, PathBuf};

use hnsw_rs::prelude::{AnnT, Distance, Hnsw, HnswIo};
use serde::{Deserialize, Serialize};

use super::{dot, sort_scored, Accept, HnswParams, Scored, VectorIndex};

/// hnsw_rs caps the number of layers at 16.
const MAX_LAYERS: usize = 16;
const BASENAME: &str = "index";
const SNAPSHOT_FORMAT: u32 = 1;
/// `snapshot.json` is small; anything larger is not ours.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// Below this many items per call, hnsw_rs's parallel insert does not pay.
const PARALLEL_INSERT_MIN: usize = 2000;

/// `1 − a·b`, clamped at 0: on unit vectors, the cosine distance. Rounding can make `a·a`
/// slightly above 1; the clamp keeps the distance non-negative where hnsw_rs's own dot distance
/// would panic.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DotDistance;

impl Distance<f32> for DotDistance {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - dot(a, b)).max(0.0)
    }
}

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
    files: Vec<FileSum>,
}

#[derive(Serialize, Deserialize)]
struct FileSum {
    name: String,
    size: u64,
    sha256: String,
}

/// Approximate search: an HNSW graph (hnsw_rs) over unit vectors, under a dot-product distance.
pub struct HnswIndex {
    graph: Hnsw<'static, f32, DotDistance>,
    params: HnswParams,
    dim: usize,
}

impl HnswIndex {
    /// An empty graph for `dim`-dimensional vectors; `capacity` is a hint for allocations.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for parameters out of range.
    pub fn with_params(params: HnswParams, dim: usize, capacity: usize) -> crate::Result<Self> {
        params.validate().map_err(crate::Error::InvalidArgument)?;
        Ok(Self::new(params, dim, capacity))
    }

    /// An empty graph; the parameters were validated by the caller.
    pub(crate) fn new(params: HnswParams, dim: usize, capacity: usize) -> Self {
        debug_assert!(params.validate().is_ok());
        let graph = Hnsw::new(
            params.m,
            capacity.max(1024),
            MAX_LAYERS,
            params.ef_construction,
            DotDistance,
        );
        HnswIndex { graph, params, dim }
    }

    /// The internal ids of every point in the graph, tombstones included.
    pub(crate) fn ids(&self) -> Vec<u64> {
        self.graph.get_point_indexation().into_iter().map(|p| p.get_origin_id() as u64).collect()
    }

    /// Writes a snapshot into `dir`, replacing any snapshot there. The new snapshot is assembled
    /// beside `dir` and renamed into place, so a crash leaves the old snapshot or none.
    pub(crate) fn save(&self, dir: &Path, stamp: SnapshotStamp) -> Result<(), String> {
        let parent = dir.parent().ok_or("a snapshot folder needs a parent")?;
        fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        let staging = tempfile::Builder::new()
            .prefix(".snapshot-")
            .tempdir_in(parent)
            .map_err(|e| format!("{}: {e}", parent.display()))?;
        let basename = self.graph.file_dump(staging.path(), BASENAME).map_err(|e| e.to_string())?;
        if basename != BASENAME {
            return Err(format!("hnsw_rs wrote {basename:?} instead of {BASENAME:?}"));
        }
        let files = [".hnsw.graph", ".hnsw.data"]
            .iter()
            .map(|ext| file_sum(&staging.path().join(format!("{BASENAME}{ext}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let manifest =
            Manifest { format: SNAPSHOT_FORMAT, stamp, params: self.params, dim: self.dim, files };
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
        if manifest.format != SNAPSHOT_FORMAT
            || manifest.dim != dim
            || !same_graph(manifest.params, params)
        {
            return Err(format!("{}: made for other index settings", manifest_path.display()));
        }
        for sum in &manifest.files {
            let actual = file_sum(&dir.join(&sum.name))?;
            if actual.size != sum.size || actual.sha256 != sum.sha256 {
                return Err(format!(
                    "{}: damaged (checksum mismatch)",
                    dir.join(&sum.name).display()
                ));
            }
        }
        let graph = load_graph(dir)?;
        if graph.get_nb_point() != manifest.stamp.points {
            return Err(format!(
                "{}: holds {} points, expected {}",
                dir.display(),
                graph.get_nb_point(),
                manifest.stamp.points
            ));
        }
        Ok((HnswIndex { graph, params, dim }, manifest.stamp))
    }
}

impl std::fmt::Debug for HnswIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HnswIndex")
            .field("params", &self.params)
            .field("dim", &self.dim)
            .field("points", &self.graph.get_nb_point())
            .finish()
    }
}

impl VectorIndex for HnswIndex {
    fn insert(&self, items: &[(u64, &[f32])]) {
        let items: Vec<(&[f32], usize)> = items.iter().map(|(id, v)| (*v, *id as usize)).collect();
        if items.len() >= PARALLEL_INSERT_MIN {
            self.graph.parallel_insert_slice(&items);
        } else {
            items.into_iter().for_each(|item| self.graph.insert_slice(item));
        }
    }

    fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        accept: Option<Accept<'_>>,
    ) -> Vec<Scored> {
        if k == 0 {
            return Vec::new();
        }
        let ef = ef.max(k);
        let neighbours = match accept {
            None => self.graph.search(query, k, ef),
            Some(accept) => {
                let filter = |id: &usize| accept(*id as u64);
                self.graph.search_filter(query, k, ef, Some(&filter))
            }
        };
        let mut hits: Vec<Scored> = neighbours
            .into_iter()
            .map(|n| Scored { id: n.d_id as u64, score: 1.0 - n.distance })
            .collect();
        sort_scored(&mut hits);
        hits
    }

    fn len(&self) -> usize {
        self.graph.get_nb_point()
    }
}

/// `ef_search` is a query-time setting: a snapshot built with another one is still the same graph.
fn same_graph(a: HnswParams, b: HnswParams) -> bool {
    a.m == b.m && a.ef_construction == b.ef_construction
}

fn read_manifest(path: &Path) -> Result<Manifest, String> {
    let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(format!("{}: too large to be a snapshot manifest", path.display()));
    }
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a dump whose checksums were verified. hnsw_rs's loaded graph borrows its `HnswIo`
/// (which holds only paths and options, as no memory map is used), so the `HnswIo` is leaked to
/// give the graph a `'static` lifetime: a few hundred bytes per load, and loads happen once per
/// open. A panic inside hnsw_rs is caught and reported as a damaged snapshot.
fn load_graph(dir: &Path) -> Result<Hnsw<'static, f32, DotDistance>, String> {
    let dir = dir.to_path_buf();
    let loaded = std::panic::catch_unwind(move || {
        let io: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(&dir, BASENAME)));
        io.load_hnsw::<f32, DotDistance>().map_err(|e| e.to_string())
    });
    match loaded {
        Ok(result) => result,
        Err(_) => Err("hnsw_rs could not read the snapshot".into()),
    }
}

fn file_sum(path: &Path) -> Result<FileSum, String> {
    let size = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?.len();
    let sha256 = crate::embed::sha256_file(path).map_err(|e| e.to_string())?;
    let name = path.file_name().expect("snapshot files have names").to_string_lossy().into_owned();
    Ok(FileSum { name, size, sha256 })
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

    fn sample(n: u64) -> Vec<Vec<f32>> {
        (0..n)
            .map(|i| {
                let mut v: Vec<f32> =
                    (0..16).map(|j| ((i * 31 + j * 17) % 97) as f32 - 48.0).collect();
                crate::l2_normalize(&mut v);
                v
            })
            .collect()
    }

    fn built(n: u64) -> (HnswIndex, Vec<Vec<f32>>) {
        let index = HnswIndex::new(HnswParams::default(), 16, n as usize);
        let vectors = sample(n);
        let items: Vec<(u64, &[f32])> =
            vectors.iter().enumerate().map(|(i, v)| (i as u64 * 3, v.as_slice())).collect();
        index.insert(&items);
        (index, vectors)
    }

    #[test]
    fn a_snapshot_reloads_to_the_same_answers() {
        let tmp = tempfile::tempdir().unwrap();
        let (index, vectors) = built(300);
        let stamp = SnapshotStamp { collection_uid: 1, commit_seq: 7, next_id: 900, points: 300 };
        index.save(&tmp.path().join("snap"), stamp).unwrap();
        index.save(&tmp.path().join("snap"), stamp).unwrap(); // replacing works too
        let (loaded, got) =
            HnswIndex::load(&tmp.path().join("snap"), HnswParams::default(), 16).unwrap();
        assert_eq!(got, stamp);
        let mut ids = loaded.ids();
        ids.sort_unstable();
        assert_eq!(ids, (0..300).map(|i| i * 3).collect::<Vec<u64>>());
        for v in vectors.iter().step_by(10) {
            assert_eq!(index.search(v, 5, 64, None), loaded.search(v, 5, 64, None));
        }
    }

    #[test]
    fn damaged_missing_or_foreign_snapshots_are_refused_with_a_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("snap");
        let (index, _) = built(100);
        let stamp = SnapshotStamp { collection_uid: 1, commit_seq: 1, next_id: 300, points: 100 };
        index.save(&dir, stamp).unwrap();

        let other = HnswParams { m: 8, ..HnswParams::default() };
        assert!(HnswIndex::load(&dir, other, 16).unwrap_err().contains("other index settings"));
        let data = dir.join("index.hnsw.data");
        let mut bytes = fs::read(&data).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        fs::write(&data, &bytes).unwrap();
        assert!(HnswIndex::load(&dir, HnswParams::default(), 16).unwrap_err().contains("damaged"));
        fs::remove_file(dir.join("snapshot.json")).unwrap();
        assert!(HnswIndex::load(&dir, HnswParams::default(), 16)
            .unwrap_err()
            .contains("snapshot.json"));
    }
}
