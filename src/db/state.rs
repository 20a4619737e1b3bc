//! A collection's in-memory side: its HNSW index, its tombstones, and keeping both in step with
//! the store across writes, snapshots and reopening.
//!
//! **Invariant:** under the collection's writer lock, the index holds exactly the points written
//! since it was built, and the tombstones are those of them the store no longer holds; so a
//! snapshot taken under that lock matches the store at the commit it is stamped with.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::index::{HnswIndex, SnapshotStamp, VectorIndex};
use crate::store::{CollectionConfig, CollectionTables, StoreError};
use crate::{Error, Result};

use super::DbInner;

/// Added points since the last snapshot that make a new one worth writing during writes.
const SNAPSHOT_EVERY_MIN: usize = 10_000;
/// Collections smaller than this rebuild without a progress bar.
const PROGRESS_MIN: usize = 10_000;
/// Tombstones below this count never trigger a rebuild by themselves.
const REBUILD_MIN_TOMBSTONES: usize = 1_000;

/// How a collection's index came to be when it was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexOrigin {
    /// Built from the store, for the reason given (no snapshot, a stale or damaged one).
    Rebuilt(String),
    /// Loaded from its snapshot, then brought up to date with this many newer records.
    Snapshot {
        /// Records committed after the snapshot and added on open.
        caught_up: usize,
    },
}

pub(crate) struct CollectionState {
    pub config: CollectionConfig,
    pub tables: CollectionTables,
    index: RwLock<Arc<HnswIndex>>,
    tombstones: RwLock<HashSet<u64>>,
    writer: Mutex<()>,
    snapshot_seq: Mutex<Option<u64>>,
    added_since_snapshot: AtomicUsize,
    pub origin: IndexOrigin,
}

impl CollectionState {
    pub(crate) fn open(db: &DbInner, config: CollectionConfig) -> Result<Self> {
        let tables = CollectionTables::new(config.table_id);
        let mut state = CollectionState {
            index: RwLock::new(Arc::new(HnswIndex::new(
                config.hnsw,
                config.indexed_dimension(),
                0,
            ))),
            tables,
            config,
            tombstones: RwLock::new(HashSet::new()),
            writer: Mutex::new(()),
            snapshot_seq: Mutex::new(None),
            added_since_snapshot: AtomicUsize::new(0),
            origin: IndexOrigin::Rebuilt(String::new()),
        };
        state.origin = match state.load_snapshot(db)? {
            Ok(caught_up) => IndexOrigin::Snapshot { caught_up },
            Err(reason) => {
                state.rebuild(db)?;
                IndexOrigin::Rebuilt(reason)
            }
        };
        Ok(state)
    }

    /// The index and a guard over the tombstones, for one search.
    pub(crate) fn index(&self) -> (Arc<HnswIndex>, std::sync::RwLockReadGuard<'_, HashSet<u64>>) {
        let index = self.index.read().expect("index lock").clone();
        (index, self.tombstones.read().expect("tombstones lock"))
    }

    /// Serializes writers, so that index updates follow commits in order.
    pub(crate) fn lock_writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().expect("writer lock")
    }

    /// The vector the index holds for a stored vector: a renormalized prefix under the Matryoshka
    /// funnel, else the vector itself.
    pub(crate) fn index_vector(&self, v: &[f32]) -> Vec<f32> {
        let mut v = v[..self.config.indexed_dimension()].to_vec();
        if self.config.index_dim.is_some() {
            crate::l2_normalize(&mut v);
        }
        v
    }

    /// Follows a committed write: adds the new points, tombstones the removed ones, and rebuilds
    /// or snapshots when due. The caller holds the writer lock.
    pub(crate) fn apply(
        &self,
        db: &DbInner,
        added: &[(u64, &[f32])],
        removed: &[u64],
    ) -> Result<()> {
        if !added.is_empty() {
            let vectors: Vec<Vec<f32>> = added.iter().map(|(_, v)| self.index_vector(v)).collect();
            let items: Vec<(u64, &[f32])> =
                added.iter().zip(&vectors).map(|((id, _), v)| (*id, v.as_slice())).collect();
            self.index.read().expect("index lock").insert(&items);
            self.added_since_snapshot.fetch_add(added.len(), Ordering::Relaxed);
        }
        let tombstones = {
            let mut t = self.tombstones.write().expect("tombstones lock");
            t.extend(removed);
            t.len()
        };
        let points = self.index.read().expect("index lock").len();
        if tombstones >= REBUILD_MIN_TOMBSTONES
            && tombstones as f64 > db.options.rebuild_ratio * points as f64
        {
            self.rebuild_locked(db)?;
        }
        let due = SNAPSHOT_EVERY_MIN.max(points / 10);
        if self.added_since_snapshot.load(Ordering::Relaxed) >= due {
            self.save_locked(db)?;
        }
        Ok(())
    }

    /// Rebuilds the index from the store, dropping tombstones.
    pub(crate) fn rebuild(&self, db: &DbInner) -> Result<()> {
        let _writer = self.lock_writer();
        self.rebuild_locked(db)
    }

    fn rebuild_locked(&self, db: &DbInner) -> Result<()> {
        let store = db.read_store();
        let txn = store.begin_read()?;
        let count = self.tables.count(&txn).map_err(|e| store.err(e))? as usize;
        let bar =
            progress_bar(db.options.progress && count >= PROGRESS_MIN, count, &self.config.name);
        let index = HnswIndex::new(self.config.hnsw, self.config.indexed_dimension(), count);
        let mut batch: Vec<(u64, Vec<f32>)> = Vec::with_capacity(4096);
        let flush = |batch: &mut Vec<(u64, Vec<f32>)>| {
            let items: Vec<(u64, &[f32])> =
                batch.iter().map(|(id, v)| (*id, v.as_slice())).collect();
            index.insert(&items);
            bar.inc(items.len() as u64);
            batch.clear();
        };
        self.tables
            .for_each_vector(&txn, 0, |id, v| {
                batch.push((id, self.index_vector(&v)));
                if batch.len() == batch.capacity() {
                    flush(&mut batch);
                }
            })
            .map_err(|e| store.err(e))?;
        flush(&mut batch);
        bar.finish_and_clear();
        *self.index.write().expect("index lock") = Arc::new(index);
        self.tombstones.write().expect("tombstones lock").clear();
        *self.snapshot_seq.lock().expect("snapshot lock") = None;
        self.added_since_snapshot.store(count, Ordering::Relaxed);
        Ok(())
    }

    /// Writes a snapshot when the index has changed since the last one.
    pub(crate) fn save_snapshot(&self, db: &DbInner) -> Result<()> {
        let _writer = self.lock_writer();
        self.save_locked(db)
    }

    fn save_locked(&self, db: &DbInner) -> Result<()> {
        let store = db.read_store();
        let txn = store.begin_read()?;
        let (commit_seq, next_id) = self.tables.sequence(&txn).map_err(|e| store.err(e))?;
        let mut saved = self.snapshot_seq.lock().expect("snapshot lock");
        if *saved == Some(commit_seq) {
            return Ok(());
        }
        let index = self.index.read().expect("index lock").clone();
        let stamp = SnapshotStamp {
            collection_uid: self.config.uid,
            commit_seq,
            next_id,
            points: index.len(),
        };
        let dir = db.snapshot_dir(&self.config);
        index.save(&dir, stamp).map_err(|reason| Error::Io {
            path: dir.clone(),
            source: std::io::Error::other(reason),
        })?;
        *saved = Some(commit_seq);
        self.added_since_snapshot.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Loads the snapshot and catches it up with the store. The outer error is a store failure;
    /// the inner one says why the snapshot cannot be used.
    fn load_snapshot(&self, db: &DbInner) -> Result<Result<usize, String>, StoreError> {
        let dir = db.snapshot_dir(&self.config);
        if !dir.exists() {
            return Ok(Err("no index snapshot".into()));
        }
        let (index, stamp) =
            match HnswIndex::load(&dir, self.config.hnsw, self.config.indexed_dimension()) {
                Ok(loaded) => loaded,
                Err(reason) => return Ok(Err(reason)),
            };
        let store = db.read_store();
        let txn = store.begin_read()?;
        let (commit_seq, next_id) = self.tables.sequence(&txn).map_err(|e| store.err(e))?;
        if stamp.collection_uid != self.config.uid
            || stamp.commit_seq > commit_seq
            || stamp.next_id > next_id
        {
            return Ok(Err(format!("{}: stale index snapshot", dir.display())));
        }
        let live: HashSet<u64> =
            self.tables.internal_ids(&txn).map_err(|e| store.err(e))?.into_iter().collect();
        let tombstones: HashSet<u64> =
            index.ids().into_iter().filter(|id| !live.contains(id)).collect();
        let mut newer = Vec::new();
        self.tables
            .for_each_vector(&txn, stamp.next_id, |id, v| newer.push((id, self.index_vector(&v))))
            .map_err(|e| store.err(e))?;
        let items: Vec<(u64, &[f32])> = newer.iter().map(|(id, v)| (*id, v.as_slice())).collect();
        index.insert(&items);
        *self.index.write().expect("index lock") = Arc::new(index);
        *self.tombstones.write().expect("tombstones lock") = tombstones;
        *self.snapshot_seq.lock().expect("snapshot lock") = Some(stamp.commit_seq);
        self.added_since_snapshot.store(newer.len(), Ordering::Relaxed);
        Ok(Ok(newer.len()))
    }
}

fn progress_bar(show: bool, len: usize, name: &str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    let style = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {pos}/{len} vectors, {per_sec}, {eta} left",
    )
    .expect("a valid template");
    bar.set_style(style.progress_chars("=> "));
    bar.set_message(format!("indexing collection {name:?}"));
    bar
}
