//! One collection's tables and the record operations on them, inside a caller's transaction.

use std::collections::HashSet;

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, TableError};
use serde_json::{Map, Value};

use super::{decode_vector, encode_vector};

/// The names of one collection's tables, derived from its table number.
pub(crate) struct CollectionTables {
    vectors: String,
    ids: String,
    keys: String,
    texts: String,
    metadata: String,
    state: String,
    sources: String,
}

/// What the store remembers of a source (a file, usually): its content hash and the records it
/// produced, so re-indexing can skip it when unchanged and replace exactly its records otherwise.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceEntry {
    /// What tells whether the source must be indexed again: for files, the sha256 of the content
    /// and the passage settings (see `kindred::ingest::source_hash`).
    pub hash: String,
    /// The user ids of its records.
    pub ids: Vec<String>,
}

/// A record on its way into the store: the vector is already checked and normalized.
pub(crate) struct NewRecord<'a> {
    pub id: &'a str,
    pub vector: &'a [f32],
    pub text: Option<&'a str>,
    pub metadata: &'a Map<String, Value>,
}

/// A record read back.
#[derive(Debug, Clone)]
pub(crate) struct StoredRecord {
    pub internal: u64,
    pub id: String,
    pub text: Option<String>,
    pub metadata: Map<String, Value>,
}

/// Whether an existing id is an error or is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteMode {
    Add,
    Upsert,
}

/// The ids a write changed, for the index to follow once the transaction commits.
#[derive(Debug, Default)]
pub(crate) struct WriteOutcome {
    /// New internal ids, in the order of the records written.
    pub added: Vec<u64>,
    /// Internal ids whose records were removed or replaced.
    pub removed: Vec<u64>,
}

/// A record operation refused before anything was written.
#[derive(Debug)]
pub(crate) enum RecordError {
    Storage(redb::Error),
    /// `add` of an id that exists, or an id twice in one batch.
    Duplicate(String),
}

impl<E: Into<redb::Error>> From<E> for RecordError {
    fn from(e: E) -> Self {
        RecordError::Storage(e.into())
    }
}

const NEXT_ID: &str = "next_id";
const COMMIT_SEQ: &str = "commit_seq";

impl CollectionTables {
    pub(crate) fn new(table_id: u32) -> Self {
        let name = |what: &str| format!("c{table_id}.{what}");
        CollectionTables {
            vectors: name("vectors"),
            ids: name("ids"),
            keys: name("keys"),
            texts: name("texts"),
            metadata: name("metadata"),
            state: name("state"),
            sources: name("sources"),
        }
    }

    fn vectors(&self) -> TableDefinition<'_, u64, &'static [u8]> {
        TableDefinition::new(&self.vectors)
    }
    fn ids(&self) -> TableDefinition<'_, &'static str, u64> {
        TableDefinition::new(&self.ids)
    }
    fn keys(&self) -> TableDefinition<'_, u64, &'static str> {
        TableDefinition::new(&self.keys)
    }
    fn texts(&self) -> TableDefinition<'_, u64, &'static str> {
        TableDefinition::new(&self.texts)
    }
    fn metadata(&self) -> TableDefinition<'_, u64, &'static [u8]> {
        TableDefinition::new(&self.metadata)
    }
    fn state(&self) -> TableDefinition<'_, &'static str, u64> {
        TableDefinition::new(&self.state)
    }
    fn sources(&self) -> TableDefinition<'_, &'static str, &'static str> {
        TableDefinition::new(&self.sources)
    }

    pub(crate) fn create(&self, txn: &redb::WriteTransaction) -> Result<(), TableError> {
        txn.open_table(self.vectors())?;
        txn.open_table(self.ids())?;
        txn.open_table(self.keys())?;
        txn.open_table(self.texts())?;
        txn.open_table(self.metadata())?;
        txn.open_table(self.state())?;
        Ok(())
    }

    pub(crate) fn delete(&self, txn: &redb::WriteTransaction) -> Result<(), TableError> {
        txn.delete_table(self.vectors())?;
        txn.delete_table(self.ids())?;
        txn.delete_table(self.keys())?;
        txn.delete_table(self.texts())?;
        txn.delete_table(self.metadata())?;
        txn.delete_table(self.state())?;
        txn.delete_table(self.sources())?;
        Ok(())
    }

    /// Writes `records`, allocating internal ids, and bumps the commit sequence.
    pub(crate) fn write(
        &self,
        txn: &redb::WriteTransaction,
        records: &[NewRecord<'_>],
        mode: WriteMode,
    ) -> Result<WriteOutcome, RecordError> {
        let mut seen = HashSet::with_capacity(records.len());
        if let Some(dup) = records.iter().find(|r| !seen.insert(r.id)) {
            return Err(RecordError::Duplicate(dup.id.to_string()));
        }
        let mut ids = txn.open_table(self.ids())?;
        let mut state = txn.open_table(self.state())?;
        let mut next_id = state.get(NEXT_ID)?.map_or(0, |v| v.value());
        let mut outcome = WriteOutcome::default();
        let mut vectors = txn.open_table(self.vectors())?;
        let mut keys = txn.open_table(self.keys())?;
        let mut texts = txn.open_table(self.texts())?;
        let mut metadata = txn.open_table(self.metadata())?;
        for record in records {
            let existing = ids.get(record.id)?.map(|v| v.value());
            if let Some(old) = existing {
                if mode == WriteMode::Add {
                    return Err(RecordError::Duplicate(record.id.to_string()));
                }
                vectors.remove(old)?;
                keys.remove(old)?;
                texts.remove(old)?;
                metadata.remove(old)?;
                outcome.removed.push(old);
            }
            let internal = next_id;
            next_id += 1;
            ids.insert(record.id, internal)?;
            keys.insert(internal, record.id)?;
            vectors.insert(internal, encode_vector(record.vector).as_slice())?;
            if let Some(text) = record.text {
                texts.insert(internal, text)?;
            }
            if !record.metadata.is_empty() {
                let json = serde_json::to_vec(record.metadata).expect("metadata serializes");
                metadata.insert(internal, json.as_slice())?;
            }
            outcome.added.push(internal);
        }
        state.insert(NEXT_ID, next_id)?;
        bump_commit(&mut state)?;
        Ok(outcome)
    }

    /// Removes records by user id; ids not present are skipped. Returns the removed internal ids.
    pub(crate) fn remove(
        &self,
        txn: &redb::WriteTransaction,
        user_ids: &[&str],
    ) -> Result<Vec<u64>, redb::Error> {
        let mut ids = txn.open_table(self.ids())?;
        let mut vectors = txn.open_table(self.vectors())?;
        let mut keys = txn.open_table(self.keys())?;
        let mut texts = txn.open_table(self.texts())?;
        let mut metadata = txn.open_table(self.metadata())?;
        let mut removed = Vec::new();
        for id in user_ids {
            let Some(internal) = ids.remove(*id)?.map(|v| v.value()) else { continue };
            vectors.remove(internal)?;
            keys.remove(internal)?;
            texts.remove(internal)?;
            metadata.remove(internal)?;
            removed.push(internal);
        }
        bump_commit(&mut txn.open_table(self.state())?)?;
        Ok(removed)
    }

    /// Removes every record whose metadata satisfies `matches`, deciding and removing in the
    /// same transaction. Returns the removed internal ids.
    pub(crate) fn remove_matching(
        &self,
        txn: &redb::WriteTransaction,
        mut matches: impl FnMut(&Map<String, Value>) -> bool,
    ) -> Result<Vec<u64>, redb::Error> {
        let mut doomed = Vec::new();
        {
            let keys = txn.open_table(self.keys())?;
            let metadata = txn.open_table(self.metadata())?;
            let empty = Map::new();
            for entry in keys.iter()? {
                let (internal, id) = entry?;
                let hit = match metadata.get(internal.value())? {
                    Some(bytes) => matches(&parse_metadata(internal.value(), bytes.value())?),
                    None => matches(&empty),
                };
                if hit {
                    doomed.push(id.value().to_string());
                }
            }
        }
        let ids: Vec<&str> = doomed.iter().map(String::as_str).collect();
        self.remove(txn, &ids)
    }

    /// Replaces a source's records with `records` and records its hash, in the caller's
    /// transaction. The old records are removed first, so the new ones may reuse their ids.
    pub(crate) fn replace_source(
        &self,
        txn: &redb::WriteTransaction,
        source: &str,
        hash: &str,
        records: &[NewRecord<'_>],
    ) -> Result<WriteOutcome, RecordError> {
        let removed = self.remove_source(txn, source)?;
        let mut outcome = self.write(txn, records, WriteMode::Add)?;
        outcome.removed.extend(removed);
        let entry = SourceEntry {
            hash: hash.into(),
            ids: records.iter().map(|r| r.id.to_string()).collect(),
        };
        let json = serde_json::to_string(&entry).expect("a source entry serializes");
        txn.open_table(self.sources())?.insert(source, json.as_str())?;
        Ok(outcome)
    }

    /// Removes a source's records and its entry. Returns the removed internal ids.
    pub(crate) fn remove_source(
        &self,
        txn: &redb::WriteTransaction,
        source: &str,
    ) -> Result<Vec<u64>, redb::Error> {
        let old = txn.open_table(self.sources())?.remove(source)?.map(|v| v.value().to_string());
        let Some(old) = old else { return Ok(Vec::new()) };
        let entry: SourceEntry = serde_json::from_str(&old)
            .map_err(|e| redb::Error::Corrupted(format!("source {source:?}: {e}")))?;
        let ids: Vec<&str> = entry.ids.iter().map(String::as_str).collect();
        self.remove(txn, &ids)
    }

    /// Every source and its entry, by source name.
    pub(crate) fn source_entries(
        &self,
        txn: &redb::ReadTransaction,
    ) -> Result<Vec<(String, SourceEntry)>, redb::Error> {
        let table = match txn.open_table(self.sources()) {
            Ok(table) => table,
            // Collections written before any source was indexed have no sources table.
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            let parsed: SourceEntry = serde_json::from_str(value.value())
                .map_err(|e| redb::Error::Corrupted(format!("source {:?}: {e}", key.value())))?;
            out.push((key.value().to_string(), parsed));
        }
        Ok(out)
    }

    /// Replaces one record's metadata. Returns `false` when the id does not exist.
    pub(crate) fn set_metadata(
        &self,
        txn: &redb::WriteTransaction,
        user_id: &str,
        value: &Map<String, Value>,
    ) -> Result<bool, redb::Error> {
        let Some(internal) = txn.open_table(self.ids())?.get(user_id)?.map(|v| v.value()) else {
            return Ok(false);
        };
        let mut metadata = txn.open_table(self.metadata())?;
        if value.is_empty() {
            metadata.remove(internal)?;
        } else {
            metadata.insert(
                internal,
                serde_json::to_vec(value).expect("metadata serializes").as_slice(),
            )?;
        }
        bump_commit(&mut txn.open_table(self.state())?)?;
        Ok(true)
    }

    /// The commit sequence and the next internal id, as of `txn`.
    pub(crate) fn sequence(&self, txn: &redb::ReadTransaction) -> Result<(u64, u64), redb::Error> {
        let state = txn.open_table(self.state())?;
        let get =
            |key| -> Result<u64, redb::Error> { Ok(state.get(key)?.map_or(0, |v| v.value())) };
        Ok((get(COMMIT_SEQ)?, get(NEXT_ID)?))
    }

    pub(crate) fn count(&self, txn: &redb::ReadTransaction) -> Result<u64, redb::Error> {
        Ok(txn.open_table(self.ids())?.len()?)
    }

    /// The internal id of a user id.
    pub(crate) fn internal_id(
        &self,
        txn: &redb::ReadTransaction,
        user_id: &str,
    ) -> Result<Option<u64>, redb::Error> {
        Ok(txn.open_table(self.ids())?.get(user_id)?.map(|v| v.value()))
    }

    /// A record by internal id, without its vector.
    pub(crate) fn record(
        &self,
        txn: &redb::ReadTransaction,
        internal: u64,
    ) -> Result<Option<StoredRecord>, redb::Error> {
        let Some(id) = txn.open_table(self.keys())?.get(internal)?.map(|v| v.value().to_string())
        else {
            return Ok(None);
        };
        let text = txn.open_table(self.texts())?.get(internal)?.map(|v| v.value().to_string());
        let metadata = self.metadata_of(txn, internal)?;
        Ok(Some(StoredRecord { internal, id, text, metadata }))
    }

    pub(crate) fn metadata_of(
        &self,
        txn: &redb::ReadTransaction,
        internal: u64,
    ) -> Result<Map<String, Value>, redb::Error> {
        let table = txn.open_table(self.metadata())?;
        let Some(bytes) = table.get(internal)? else { return Ok(Map::new()) };
        parse_metadata(internal, bytes.value())
    }

    /// A stored vector by internal id.
    pub(crate) fn vector(
        &self,
        txn: &redb::ReadTransaction,
        internal: u64,
    ) -> Result<Option<Vec<f32>>, redb::Error> {
        let table = txn.open_table(self.vectors())?;
        let Some(bytes) = table.get(internal)? else { return Ok(None) };
        decode_vector(bytes.value()).map(Some).ok_or_else(|| {
            redb::Error::Corrupted(format!("vector of record {internal} has a partial component"))
        })
    }

    /// Visits every stored vector with an internal id at or above `from`, in id order.
    pub(crate) fn for_each_vector(
        &self,
        txn: &redb::ReadTransaction,
        from: u64,
        mut visit: impl FnMut(u64, Vec<f32>),
    ) -> Result<(), redb::Error> {
        let table = txn.open_table(self.vectors())?;
        for entry in table.range(from..)? {
            let (key, bytes) = entry?;
            let v = decode_vector(bytes.value()).ok_or_else(|| {
                redb::Error::Corrupted(format!(
                    "vector of record {} has a partial component",
                    key.value()
                ))
            })?;
            visit(key.value(), v);
        }
        Ok(())
    }

    /// Every live internal id, ascending.
    pub(crate) fn internal_ids(
        &self,
        txn: &redb::ReadTransaction,
    ) -> Result<Vec<u64>, redb::Error> {
        let table = txn.open_table(self.keys())?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            out.push(entry?.0.value());
        }
        Ok(out)
    }

    /// Internal ids whose metadata satisfies `keep`, ascending.
    pub(crate) fn matching(
        &self,
        txn: &redb::ReadTransaction,
        mut keep: impl FnMut(&Map<String, Value>) -> bool,
    ) -> Result<Vec<u64>, redb::Error> {
        let keys = txn.open_table(self.keys())?;
        let metadata = txn.open_table(self.metadata())?;
        let empty = Map::new();
        let mut out = Vec::new();
        for entry in keys.iter()? {
            let internal = entry?.0.value();
            let matched = match metadata.get(internal)? {
                Some(bytes) => keep(&parse_metadata(internal, bytes.value())?),
                None => keep(&empty),
            };
            if matched {
                out.push(internal);
            }
        }
        Ok(out)
    }

    /// Up to `limit` records with internal ids above `after`, in insertion order.
    pub(crate) fn page(
        &self,
        txn: &redb::ReadTransaction,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, redb::Error> {
        let keys = txn.open_table(self.keys())?;
        let start = after.map_or(0, |a| a + 1);
        let mut internals = Vec::with_capacity(limit);
        for entry in keys.range(start..)?.take(limit) {
            internals.push(entry?.0.value());
        }
        let mut out = Vec::with_capacity(internals.len());
        for internal in internals {
            out.extend(self.record(txn, internal)?);
        }
        Ok(out)
    }
}

fn bump_commit(state: &mut redb::Table<'_, &'static str, u64>) -> Result<(), redb::Error> {
    let seq = state.get(COMMIT_SEQ)?.map_or(0, |v| v.value());
    state.insert(COMMIT_SEQ, seq + 1)?;
    Ok(())
}

fn parse_metadata(internal: u64, bytes: &[u8]) -> Result<Map<String, Value>, redb::Error> {
    serde_json::from_slice(bytes)
        .map_err(|e| redb::Error::Corrupted(format!("metadata of record {internal}: {e}")))
}
