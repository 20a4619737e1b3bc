//! Durable storage in one redb file: the catalog of collections and each collection's records.
//!
//! The store knows records, internal ids and commit sequences; it knows nothing of HNSW. Its
//! tables are described in `docs/file-format.md`.
//!
//! **Invariant:** internal ids are allocated in increasing order and never reused, so "added
//! after commit N" is "id ≥ the next id at commit N", and an index snapshot can be brought up to
//! date from the store alone.
//! **Invariant:** every write transaction of a collection increments its commit sequence.

mod codec;
mod records;

use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::embed::Fingerprint;
use crate::index::HnswParams;

pub(crate) use codec::{decode_vector, encode_vector};
pub use records::SourceEntry;
pub(crate) use records::{CollectionTables, NewRecord, RecordError, WriteMode, WriteOutcome};

/// The file format this version of kindred writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const META: TableDefinition<&str, &str> = TableDefinition::new("kindred.meta");
const COLLECTIONS: TableDefinition<&str, &str> = TableDefinition::new("kindred.collections");

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process has the database open.
    #[error("{}: the database is in use by another process", .path.display())]
    InUse {
        /// The database file.
        path: PathBuf,
    },
    /// The file is not a kindred database, or is damaged.
    #[error("{}: not a readable kindred database: {reason}", .path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What redb or kindred found wrong.
        reason: String,
    },
    /// The file was written by a newer format.
    #[error("{}: file format {found} is newer than this kindred supports ({FORMAT_VERSION})", .path.display())]
    FormatTooNew {
        /// The database file.
        path: PathBuf,
        /// The format version in the file.
        found: u32,
    },
    /// A read or write failed.
    #[error("{}: storage error: {reason}", .path.display())]
    Storage {
        /// The database file.
        path: PathBuf,
        /// What redb reported.
        reason: String,
    },
}

/// How vectors are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Cosine similarity, computed as the dot product of unit vectors.
    #[default]
    Cosine,
}

/// How a collection is set up, fixed at creation and persisted in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionConfig {
    /// The collection's name.
    pub name: String,
    /// The number that names the collection's tables.
    pub(crate) table_id: u32,
    /// A number drawn at creation, so that a collection recreated under the same name and table
    /// number never takes the old one's index snapshot for its own.
    pub(crate) uid: u64,
    /// The embedder whose vectors the collection holds; `None` for precomputed vectors only.
    pub fingerprint: Option<Fingerprint>,
    /// The stored vectors' dimension.
    pub dimension: usize,
    /// How vectors are compared.
    #[serde(default)]
    pub metric: Metric,
    /// Index a truncated, renormalized prefix of this many dimensions and rescore candidates with
    /// the full vectors (the Matryoshka funnel). `None` indexes the full vectors.
    pub index_dim: Option<usize>,
    /// HNSW's parameters.
    pub hnsw: HnswParams,
}

impl CollectionConfig {
    /// The dimension the index works in.
    pub fn indexed_dimension(&self) -> usize {
        self.index_dim.unwrap_or(self.dimension)
    }
}

/// The redb file and its catalog.
pub(crate) struct Store {
    db: redb::Database,
    path: PathBuf,
}

impl Store {
    /// Opens `path`, creating it (with the current format) when it does not exist.
    pub(crate) fn open(path: &Path) -> Result<Store, StoreError> {
        let db = redb::Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse { path: path.into() },
            redb::DatabaseError::Storage(redb::StorageError::Io(io))
                if io.kind() != std::io::ErrorKind::InvalidData =>
            {
                StoreError::Storage { path: path.into(), reason: io.to_string() }
            }
            other => StoreError::Corrupt { path: path.into(), reason: other.to_string() },
        })?;
        let store = Store { db, path: path.into() };
        store.check_format()?;
        Ok(store)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Maps any redb error to a [`StoreError`] naming this file.
    pub(crate) fn err(&self, e: impl Into<redb::Error>) -> StoreError {
        match e.into() {
            redb::Error::Corrupted(reason) => {
                StoreError::Corrupt { path: self.path.clone(), reason }
            }
            other => StoreError::Storage { path: self.path.clone(), reason: other.to_string() },
        }
    }

    pub(crate) fn begin_read(&self) -> Result<redb::ReadTransaction, StoreError> {
        self.db.begin_read().map_err(|e| self.err(e))
    }

    pub(crate) fn begin_write(&self) -> Result<redb::WriteTransaction, StoreError> {
        self.db.begin_write().map_err(|e| self.err(e))
    }

    pub(crate) fn compact(&mut self) -> Result<bool, StoreError> {
        self.db.compact().map_err(|e| self.err(e))
    }

    /// Writes the format version into a new file, or checks the one already there.
    fn check_format(&self) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        let found = {
            let mut meta = txn.open_table(META).map_err(|e| self.err(e))?;
            let found =
                meta.get("format_version").map_err(|e| self.err(e))?.map(|v| v.value().to_string());
            match found {
                Some(v) => v,
                None => {
                    meta.insert("format_version", FORMAT_VERSION.to_string().as_str())
                        .map_err(|e| self.err(e))?;
                    FORMAT_VERSION.to_string()
                }
            }
        };
        txn.open_table(COLLECTIONS).map_err(|e| self.err(e))?;
        let found: u32 = found.parse().map_err(|_| StoreError::Corrupt {
            path: self.path.clone(),
            reason: format!("format version {found:?} is not a number"),
        })?;
        if found > FORMAT_VERSION {
            return Err(StoreError::FormatTooNew { path: self.path.clone(), found });
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// Every collection's configuration, by name.
    pub(crate) fn collections(&self) -> Result<Vec<CollectionConfig>, StoreError> {
        let txn = self.begin_read()?;
        let table = txn.open_table(COLLECTIONS).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(|e| self.err(e))? {
            let (name, json) = entry.map_err(|e| self.err(e))?;
            out.push(self.parse_config(name.value(), json.value())?);
        }
        Ok(out)
    }

    pub(crate) fn collection(&self, name: &str) -> Result<Option<CollectionConfig>, StoreError> {
        let txn = self.begin_read()?;
        let table = txn.open_table(COLLECTIONS).map_err(|e| self.err(e))?;
        let json = table.get(name).map_err(|e| self.err(e))?;
        json.map(|j| self.parse_config(name, j.value())).transpose()
    }

    fn parse_config(&self, name: &str, json: &str) -> Result<CollectionConfig, StoreError> {
        serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            reason: format!("collection {name:?}: configuration unreadable: {e}"),
        })
    }

    /// Records a new collection, giving it the next free table number. Returns `None` when the
    /// name is taken.
    pub(crate) fn create_collection(
        &self,
        mut config: CollectionConfig,
    ) -> Result<Option<CollectionConfig>, StoreError> {
        let txn = self.begin_write()?;
        {
            let mut table = txn.open_table(COLLECTIONS).map_err(|e| self.err(e))?;
            if table.get(config.name.as_str()).map_err(|e| self.err(e))?.is_some() {
                return Ok(None);
            }
            let mut next = 0;
            for entry in table.iter().map_err(|e| self.err(e))? {
                let (name, json) = entry.map_err(|e| self.err(e))?;
                next = next.max(self.parse_config(name.value(), json.value())?.table_id + 1);
            }
            config.table_id = next;
            let json = serde_json::to_string(&config).expect("a configuration serializes");
            table.insert(config.name.as_str(), json.as_str()).map_err(|e| self.err(e))?;
            CollectionTables::new(next).create(&txn).map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))?;
        Ok(Some(config))
    }

    /// Removes a collection and all its records. Returns whether it existed.
    pub(crate) fn delete_collection(&self, name: &str) -> Result<bool, StoreError> {
        let txn = self.begin_write()?;
        let existed = {
            let mut table = txn.open_table(COLLECTIONS).map_err(|e| self.err(e))?;
            let removed =
                table.remove(name).map_err(|e| self.err(e))?.map(|j| j.value().to_string());
            match removed {
                Some(json) => {
                    let config = self.parse_config(name, &json)?;
                    CollectionTables::new(config.table_id).delete(&txn).map_err(|e| self.err(e))?;
                    true
                }
                None => false,
            }
        };
        txn.commit().map_err(|e| self.err(e))?;
        Ok(existed)
    }
}
