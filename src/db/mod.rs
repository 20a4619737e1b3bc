//! `Database` and `Collection`: the one place that coordinates store, index and embedder.
//!
//! **Invariant:** the store is the source of truth. A write commits to the store first and only
//! then updates the in-memory index, and every hit from the index is looked up in a read
//! transaction taken before the search, so a search sees one committed state and never returns
//! an id that state does not hold.

mod collection;
mod records;
mod state;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

pub use collection::{Collection, CollectionOptions, SearchOptions, RESCORE_FACTOR};
pub use records::{Document, Hit, Page, Record, VectorRecord};
pub use state::IndexOrigin;

use crate::store::{CollectionConfig, Store};
use crate::{Error, Result};
use state::CollectionState;

/// An embedded vector database in one file.
///
/// A `Database` is cheap to clone and `Send + Sync`: searches run concurrently with one writer,
/// and each sees a committed state. A second process opening the same file gets
/// [`StoreError::InUse`](crate::StoreError::InUse).
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use kindred::{BertEmbedder, CollectionOptions, Database, Document, SearchOptions};
///
/// let db = Database::open("notes.kindred")?;
/// let embedder = Arc::new(BertEmbedder::default_model()?);
/// let notes = db.create_collection("notes", CollectionOptions::with_embedder(embedder))?;
/// notes.add(&[Document::new("1", "Knead the dough and let it rise")])?;
/// for hit in notes.search("baking bread", &SearchOptions::new(5))? {
///     println!("{:.3} {}", hit.score, hit.id);
/// }
/// # Ok::<(), kindred::Error>(())
/// ```
#[derive(Clone)]
pub struct Database {
    inner: Arc<DbInner>,
}

pub(crate) struct DbInner {
    /// Write-locked only by `compact`, which needs the redb file to itself.
    store: RwLock<Store>,
    index_dir: PathBuf,
    options: DatabaseBuilder,
    open: Mutex<HashMap<String, Arc<CollectionState>>>,
}

/// Options for opening a [`Database`].
#[derive(Debug, Clone)]
pub struct DatabaseBuilder {
    write_batch: usize,
    exact_threshold: usize,
    rebuild_ratio: f64,
    progress: bool,
}

impl Default for DatabaseBuilder {
    fn default() -> Self {
        DatabaseBuilder {
            write_batch: 256,
            exact_threshold: 2048,
            rebuild_ratio: 0.2,
            progress: false,
        }
    }
}

impl DatabaseBuilder {
    /// Sets how many texts are embedded and committed per transaction by `add` and `upsert`:
    /// each batch is written whole or not at all. By default, 256.
    pub fn write_batch(&mut self, texts: usize) -> &mut Self {
        self.write_batch = texts;
        self
    }

    /// Sets the number of candidates at or below which a search scans exactly instead of using
    /// HNSW: small collections and selective filters. By default, 2048.
    pub fn exact_threshold(&mut self, records: usize) -> &mut Self {
        self.exact_threshold = records;
        self
    }

    /// Sets the share of removed records in the index past which it is rebuilt. By default, 0.2.
    pub fn rebuild_ratio(&mut self, ratio: f64) -> &mut Self {
        self.rebuild_ratio = ratio;
        self
    }

    /// Shows a progress bar on stderr while an index is rebuilt. By default, off.
    pub fn progress(&mut self, progress: bool) -> &mut Self {
        self.progress = progress;
        self
    }

    /// Opens (or creates) the database file at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for out-of-range options; [`Error::Store`] when the file is in
    /// use by another process, is not a kindred database, or was written by a newer format.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<Database> {
        if self.write_batch == 0 {
            return Err(Error::invalid("the write batch must hold at least one text"));
        }
        if !(self.rebuild_ratio > 0.0 && self.rebuild_ratio <= 1.0) {
            return Err(Error::invalid(format!(
                "rebuild ratio {} is not in (0, 1]",
                self.rebuild_ratio
            )));
        }
        let path = path.as_ref();
        let store = Store::open(path)?;
        let mut index_dir = path.as_os_str().to_owned();
        index_dir.push(".hnsw");
        Ok(Database {
            inner: Arc::new(DbInner {
                store: RwLock::new(store),
                index_dir: PathBuf::from(index_dir),
                options: self.clone(),
                open: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl Database {
    /// Opens (or creates) the database file at `path` with default options.
    ///
    /// # Errors
    ///
    /// As [`DatabaseBuilder::open`].
    pub fn open(path: impl AsRef<Path>) -> Result<Database> {
        DatabaseBuilder::default().open(path)
    }

    /// Options for opening a database.
    pub fn builder() -> DatabaseBuilder {
        DatabaseBuilder::default()
    }

    /// The database file.
    pub fn path(&self) -> PathBuf {
        self.inner.read_store().path().to_path_buf()
    }

    /// Creates a collection. Its embedder's fingerprint (or its dimension, for precomputed
    /// vectors), its Matryoshka index dimension and its HNSW parameters are fixed from now on.
    ///
    /// # Errors
    ///
    /// [`Error::CollectionExists`] when the name is taken; [`Error::InvalidArgument`] for an
    /// empty name or out-of-range options.
    pub fn create_collection(&self, name: &str, options: CollectionOptions) -> Result<Collection> {
        let config = options.config(name)?;
        let created = self.inner.read_store().create_collection(config)?;
        let config = created.ok_or_else(|| Error::CollectionExists(name.to_string()))?;
        let state = self.inner.state(config)?;
        Ok(Collection::new(self.inner.clone(), state, options.embedder))
    }

    /// Opens an existing collection. Attach an embedder with [`Collection::with_embedder`] to
    /// write or search by text.
    ///
    /// # Errors
    ///
    /// [`Error::CollectionNotFound`] when there is none by that name.
    pub fn collection(&self, name: &str) -> Result<Collection> {
        let config = self.inner.read_store().collection(name)?;
        let config = config.ok_or_else(|| Error::CollectionNotFound(name.to_string()))?;
        let state = self.inner.state(config)?;
        Ok(Collection::new(self.inner.clone(), state, None))
    }

    /// Opens a collection, creating it with `options` when it does not exist. An existing
    /// collection must match the options' embedder.
    ///
    /// # Errors
    ///
    /// As [`Database::create_collection`] and [`Collection::with_embedder`].
    pub fn get_or_create_collection(
        &self,
        name: &str,
        options: CollectionOptions,
    ) -> Result<Collection> {
        match self.collection(name) {
            Ok(existing) => match options.embedder {
                Some(embedder) => existing.with_embedder(embedder),
                None => Ok(existing),
            },
            Err(Error::CollectionNotFound(_)) => self.create_collection(name, options),
            Err(other) => Err(other),
        }
    }

    /// Every collection's configuration.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the catalog cannot be read.
    pub fn collections(&self) -> Result<Vec<CollectionConfig>> {
        Ok(self.inner.read_store().collections()?)
    }

    /// Deletes a collection, its records and its index. Returns whether it existed.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the deletion cannot be committed.
    pub fn delete_collection(&self, name: &str) -> Result<bool> {
        let mut open = self.inner.open.lock().expect("collections lock");
        let config = self.inner.read_store().collection(name)?;
        let existed = self.inner.read_store().delete_collection(name)?;
        open.remove(name);
        if let Some(config) = config {
            let _ = std::fs::remove_dir_all(self.inner.snapshot_dir(&config));
        }
        Ok(existed)
    }

    /// Saves every open collection's index as a snapshot, so the next open loads it instead of
    /// rebuilding. Also done when the last handle to the database is dropped.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when a snapshot cannot be written.
    pub fn checkpoint(&self) -> Result<()> {
        let open: Vec<_> =
            self.inner.open.lock().expect("collections lock").values().cloned().collect();
        for state in open {
            state.save_snapshot(&self.inner)?;
        }
        Ok(())
    }

    /// Rebuilds every open collection's index without its removed records, then compacts the
    /// file so it gives back the space they held. Waits for running reads and writes.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when compaction fails.
    pub fn compact(&self) -> Result<()> {
        let open: Vec<_> =
            self.inner.open.lock().expect("collections lock").values().cloned().collect();
        for state in &open {
            state.rebuild(&self.inner)?;
        }
        self.inner.store.write().expect("store lock").compact()?;
        for state in &open {
            state.save_snapshot(&self.inner)?;
        }
        Ok(())
    }
}

impl DbInner {
    pub(crate) fn read_store(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().expect("store lock")
    }

    fn snapshot_dir(&self, config: &CollectionConfig) -> PathBuf {
        self.index_dir.join(format!("c{}", config.table_id))
    }

    /// The shared in-memory state of a collection, loading its index on first use.
    fn state(&self, config: CollectionConfig) -> Result<Arc<CollectionState>> {
        let mut open = self.open.lock().expect("collections lock");
        if let Some(state) = open.get(&config.name) {
            if state.config.uid == config.uid {
                return Ok(state.clone());
            }
        }
        let state = Arc::new(CollectionState::open(self, config)?);
        open.insert(state.config.name.clone(), state.clone());
        Ok(state)
    }
}

impl Drop for DbInner {
    fn drop(&mut self) {
        let open = self.open.get_mut().map(std::mem::take).unwrap_or_default();
        for state in open.values() {
            // Dropping cannot report an error; a missing snapshot only costs a rebuild on open.
            let _ = state.save_snapshot(self);
        }
    }
}
