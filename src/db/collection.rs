//! A handle on one collection: writing records, reading them back, searching.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::records::{Document, Hit, Page, Record, VectorRecord};
use super::state::{CollectionState, IndexOrigin};
use super::DbInner;
use crate::embed::Embedder;
use crate::filter::Filter;
use crate::index::{dot, FlatIndex, HnswParams, Scored, VectorIndex};
use crate::store::{CollectionConfig, NewRecord, RecordError, WriteMode};
use crate::{Error, Result};

/// Candidates fetched per requested hit, by default, when an index over truncated vectors is
/// rescored with the full vectors (the Matryoshka funnel).
pub const RESCORE_FACTOR: usize = 4;

/// How a new collection is set up.
#[derive(Clone)]
pub struct CollectionOptions {
    pub(crate) embedder: Option<Arc<dyn Embedder>>,
    dimension: Option<usize>,
    hnsw: HnswParams,
    index_dim: Option<usize>,
}

impl CollectionOptions {
    /// A collection of texts embedded by `embedder`; it fixes the dimension and the fingerprint.
    pub fn with_embedder(embedder: Arc<dyn Embedder>) -> Self {
        CollectionOptions {
            embedder: Some(embedder),
            dimension: None,
            hnsw: HnswParams::default(),
            index_dim: None,
        }
    }

    /// A collection of precomputed vectors of `dimension` components.
    pub fn with_dimension(dimension: usize) -> Self {
        CollectionOptions {
            embedder: None,
            dimension: Some(dimension),
            hnsw: HnswParams::default(),
            index_dim: None,
        }
    }

    /// Sets HNSW's parameters. By default, `M` 16, `ef_construction` 200, `ef_search` 64.
    #[must_use]
    pub fn hnsw(mut self, params: HnswParams) -> Self {
        self.hnsw = params;
        self
    }

    /// Stores full vectors but indexes their first `dim` components, renormalized, then rescores
    /// the best candidates with the full vectors (the Matryoshka funnel). By default, the index
    /// holds the full vectors.
    #[must_use]
    pub fn index_dim(mut self, dim: usize) -> Self {
        self.index_dim = Some(dim);
        self
    }

    pub(crate) fn config(&self, name: &str) -> Result<CollectionConfig> {
        if name.trim().is_empty() {
            return Err(Error::invalid("a collection needs a non-empty name"));
        }
        self.hnsw.validate().map_err(Error::invalid)?;
        let fingerprint = self.embedder.as_ref().map(|e| e.fingerprint().clone());
        let dimension = match (&fingerprint, self.dimension) {
            (Some(fp), _) => fp.dimension,
            (None, Some(d)) if d > 0 => d,
            _ => {
                return Err(Error::invalid(
                    "a collection needs an embedder or a dimension of at least 1",
                ))
            }
        };
        if let Some(d) = self.index_dim {
            if d == 0 || d > dimension {
                return Err(Error::invalid(format!(
                    "index dimension {d} must be between 1 and {dimension}"
                )));
            }
        }
        Ok(CollectionConfig {
            name: name.to_string(),
            table_id: 0,
            uid: fresh_uid(),
            fingerprint,
            dimension,
            metric: crate::store::Metric::Cosine,
            index_dim: self.index_dim.filter(|&d| d < dimension),
            hnsw: self.hnsw,
        })
    }
}

/// What a search returns and how it looks.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    /// How many hits. By default, 10.
    pub k: usize,
    /// HNSW's search breadth for this query. By default, the collection's `ef_search`.
    pub ef: Option<usize>,
    /// Only records whose metadata matches.
    pub filter: Option<Filter>,
    /// Scan every candidate instead of using the index. By default, only for small collections
    /// and selective filters.
    pub exact: bool,
    /// For a collection that indexes a prefix of its vectors (Matryoshka): candidates fetched
    /// from the index per hit, then rescored with the full vectors. By default,
    /// [`RESCORE_FACTOR`].
    pub rescore: Option<usize>,
}

impl SearchOptions {
    /// The `k` best hits, with defaults for the rest.
    pub fn new(k: usize) -> Self {
        SearchOptions { k, ef: None, filter: None, exact: false, rescore: None }
    }

    /// Sets HNSW's search breadth.
    #[must_use]
    pub fn ef(mut self, ef: usize) -> Self {
        self.ef = Some(ef);
        self
    }

    /// Keeps only records whose metadata matches `filter`.
    #[must_use]
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Forces (or stops forcing) an exact scan.
    #[must_use]
    pub fn exact(mut self, exact: bool) -> Self {
        self.exact = exact;
        self
    }

    /// Sets how many candidates per hit the Matryoshka funnel rescores with the full vectors
    /// (at least 1): more finds more of the true neighbours, at the cost of reading more
    /// vectors. Ignored by collections that index their full vectors.
    #[must_use]
    pub fn rescore(mut self, factor: usize) -> Self {
        self.rescore = Some(factor.max(1));
        self
    }
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions::new(10)
    }
}

/// A handle on one collection. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Collection {
    db: Arc<DbInner>,
    state: Arc<CollectionState>,
    embedder: Option<Arc<dyn Embedder>>,
}

impl Collection {
    pub(crate) fn new(
        db: Arc<DbInner>,
        state: Arc<CollectionState>,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> Self {
        Collection { db, state, embedder }
    }

    /// Attaches the embedder that turns texts into this collection's vectors.
    ///
    /// # Errors
    ///
    /// [`Error::EmbedderMismatch`] when its fingerprint differs from the one the collection was
    /// created with (or its dimension, for a collection of precomputed vectors).
    pub fn with_embedder(mut self, embedder: Arc<dyn Embedder>) -> Result<Self> {
        let config = &self.state.config;
        let mismatch = match &config.fingerprint {
            Some(fp) => fp.difference(embedder.fingerprint()),
            None => (embedder.dimension() != config.dimension)
                .then(|| format!("dimension: {} vs {}", config.dimension, embedder.dimension())),
        };
        if let Some(difference) = mismatch {
            return Err(Error::EmbedderMismatch { collection: config.name.clone(), difference });
        }
        self.embedder = Some(embedder);
        Ok(self)
    }

    /// The collection's name.
    pub fn name(&self) -> &str {
        &self.state.config.name
    }

    /// The configuration fixed at creation.
    pub fn config(&self) -> &CollectionConfig {
        &self.state.config
    }

    /// How the index was obtained when the collection was opened.
    pub fn index_origin(&self) -> &IndexOrigin {
        &self.state.origin
    }

    /// Embeds and adds documents, in transactions of the database's write batch: each batch is
    /// committed whole or not at all.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateId`] when an id exists already or twice in a batch (that batch and the
    /// ones after it are not written); [`Error::NoEmbedder`] without an embedder.
    pub fn add(&self, documents: &[Document]) -> Result<()> {
        self.write_documents(documents, WriteMode::Add)
    }

    /// Embeds and adds documents, replacing records with the same id.
    ///
    /// # Errors
    ///
    /// As [`Collection::add`], except that existing ids are replaced.
    pub fn upsert(&self, documents: &[Document]) -> Result<()> {
        self.write_documents(documents, WriteMode::Upsert)
    }

    /// Adds precomputed vectors in one transaction.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidVector`] naming the record whose vector has the wrong dimension, a NaN or
    /// infinite component, or only zeros; [`Error::DuplicateId`] as for [`Collection::add`].
    /// Nothing is written on error.
    pub fn add_vectors(&self, records: &[VectorRecord]) -> Result<()> {
        self.write_vectors(records, WriteMode::Add)
    }

    /// Adds precomputed vectors, replacing records with the same id, in one transaction.
    ///
    /// # Errors
    ///
    /// As [`Collection::add_vectors`], except that existing ids are replaced.
    pub fn upsert_vectors(&self, records: &[VectorRecord]) -> Result<()> {
        self.write_vectors(records, WriteMode::Upsert)
    }

    /// Replaces everything a source (a file, usually) contributed with `documents`, in one
    /// transaction, and remembers the source's content hash. Documents are embedded first; if
    /// anything fails, the source keeps its old records.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateId`] when a document's id belongs to another source or record;
    /// [`Error::NoEmbedder`] without an embedder.
    pub fn replace_source(&self, source: &str, hash: &str, documents: &[Document]) -> Result<()> {
        let records = self.embed_documents(documents)?;
        self.commit_records(&records, |tables, txn, new| {
            tables.replace_source(txn, source, hash, new)
        })
    }

    /// Removes a source's records. Returns how many were removed.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the removal cannot be committed.
    pub fn remove_source(&self, source: &str) -> Result<usize> {
        self.commit_removal(|tables, txn| tables.remove_source(txn, source))
    }

    /// Every source indexed into this collection, with its content hash and record ids.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when they cannot be read.
    pub fn sources(&self) -> Result<Vec<(String, crate::store::SourceEntry)>> {
        let store = self.db.read_store();
        let txn = store.begin_read()?;
        self.state.tables.source_entries(&txn).map_err(|e| store.err(e).into())
    }

    /// Replaces a record's metadata.
    ///
    /// # Errors
    ///
    /// [`Error::RecordNotFound`] when there is no record with that id.
    pub fn update_metadata(&self, id: &str, metadata: Map<String, Value>) -> Result<()> {
        let _writer = self.state.lock_writer();
        let store = self.db.read_store();
        let txn = store.begin_write()?;
        let found =
            self.state.tables.set_metadata(&txn, id, &metadata).map_err(|e| store.err(e))?;
        if !found {
            return Err(Error::RecordNotFound { collection: self.name().into(), id: id.into() });
        }
        txn.commit().map_err(|e| store.err(e))?;
        Ok(())
    }

    /// Deletes records by id; ids that do not exist are skipped. Returns how many were deleted.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the deletion cannot be committed; nothing is deleted then.
    pub fn delete(&self, ids: &[&str]) -> Result<usize> {
        self.commit_removal(|tables, txn| tables.remove(txn, ids))
    }

    /// Deletes every record whose metadata matches `filter`, in one transaction. Returns how
    /// many were deleted.
    ///
    /// # Errors
    ///
    /// As [`Collection::delete`].
    pub fn delete_where(&self, filter: &Filter) -> Result<usize> {
        self.commit_removal(|tables, txn| tables.remove_matching(txn, |m| filter.matches(m)))
    }

    /// The records with these ids, in the order asked; ids that do not exist are skipped.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the records cannot be read.
    pub fn get(&self, ids: &[&str]) -> Result<Vec<Record>> {
        let store = self.db.read_store();
        let txn = store.begin_read()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(internal) =
                self.state.tables.internal_id(&txn, id).map_err(|e| store.err(e))?
            else {
                continue;
            };
            out.extend(self.full_record(&store, &txn, internal)?);
        }
        Ok(out)
    }

    /// How many records the collection holds.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the count cannot be read.
    pub fn count(&self) -> Result<u64> {
        let store = self.db.read_store();
        let txn = store.begin_read()?;
        self.state.tables.count(&txn).map_err(|e| store.err(e).into())
    }

    /// Up to `limit` records in insertion order, starting after `after` (the `next` of the
    /// previous page, or `None` for the first).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the records cannot be read.
    pub fn list(&self, after: Option<u64>, limit: usize) -> Result<Page> {
        let store = self.db.read_store();
        let txn = store.begin_read()?;
        let page = self.state.tables.page(&txn, after, limit).map_err(|e| store.err(e))?;
        let next =
            (page.len() == limit && limit > 0).then(|| page.last().map(|r| r.internal)).flatten();
        let mut records = Vec::with_capacity(page.len());
        for r in page {
            records.extend(self.full_record(&store, &txn, r.internal)?);
        }
        Ok(Page { records, next })
    }

    /// The records most similar to `text`, best first.
    ///
    /// # Errors
    ///
    /// [`Error::NoEmbedder`] without an embedder; as [`Collection::search_vector`] otherwise.
    pub fn search(&self, text: &str, options: &SearchOptions) -> Result<Vec<Hit>> {
        let query = self.embedder()?.embed_one(text)?;
        self.search_vector(&query, options)
    }

    /// The records most similar to `vector`, best first. The vector is normalized first.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a query of the wrong dimension, with a NaN or infinite
    /// component, or all zeros.
    pub fn search_vector(&self, vector: &[f32], options: &SearchOptions) -> Result<Vec<Hit>> {
        let query = checked_unit(vector, self.state.config.dimension)
            .map_err(|reason| Error::invalid(format!("query vector: {reason}")))?;
        if options.k == 0 {
            return Ok(Vec::new());
        }
        let store = self.db.read_store();
        let txn = store.begin_read()?;
        let tables = &self.state.tables;
        let passing = match &options.filter {
            Some(filter) => {
                Some(tables.matching(&txn, |m| filter.matches(m)).map_err(|e| store.err(e))?)
            }
            None => None,
        };
        let candidates = match &passing {
            Some(ids) => ids.len(),
            None => tables.count(&txn).map_err(|e| store.err(e))? as usize,
        };
        let scored = if options.exact || candidates <= self.db.options.exact_threshold {
            self.exact_search(&store, &txn, &query, options.k, passing.as_deref())?
        } else {
            self.index_search(&store, &txn, &query, options, passing.as_deref())?
        };
        let mut hits = Vec::with_capacity(scored.len());
        for s in scored {
            if let Some(r) = tables.record(&txn, s.id).map_err(|e| store.err(e))? {
                hits.push(Hit { id: r.id, score: s.score, text: r.text, metadata: r.metadata });
            }
            if hits.len() == options.k {
                break;
            }
        }
        Ok(hits)
    }

    fn embedder(&self) -> Result<&Arc<dyn Embedder>> {
        self.embedder.as_ref().ok_or_else(|| Error::NoEmbedder { collection: self.name().into() })
    }

    fn write_documents(&self, documents: &[Document], mode: WriteMode) -> Result<()> {
        for batch in documents.chunks(self.db.options.write_batch) {
            self.write_vectors(&self.embed_documents(batch)?, mode)?;
        }
        Ok(())
    }

    /// Embeds documents, a write batch at a time, into records ready to store.
    fn embed_documents(&self, documents: &[Document]) -> Result<Vec<VectorRecord>> {
        let embedder = self.embedder()?;
        let mut records = Vec::with_capacity(documents.len());
        for batch in documents.chunks(self.db.options.write_batch) {
            let texts: Vec<&str> = batch.iter().map(|d| d.text.as_str()).collect();
            let vectors = embedder.embed(&texts)?;
            records.extend(batch.iter().zip(vectors).map(|(d, vector)| VectorRecord {
                id: d.id.clone(),
                vector,
                text: Some(d.text.clone()),
                metadata: d.metadata.clone(),
            }));
        }
        Ok(records)
    }

    /// Runs a removal in one write transaction, commits, and tombstones the removed ids in the
    /// index. Returns how many records were removed.
    fn commit_removal(
        &self,
        op: impl FnOnce(
            &crate::store::CollectionTables,
            &redb::WriteTransaction,
        ) -> std::result::Result<Vec<u64>, redb::Error>,
    ) -> Result<usize> {
        let _writer = self.state.lock_writer();
        let store = self.db.read_store();
        let txn = store.begin_write()?;
        let removed = op(&self.state.tables, &txn).map_err(|e| store.err(e))?;
        txn.commit().map_err(|e| store.err(e))?;
        drop(store);
        self.state.apply(&self.db, &[], &removed)?;
        Ok(removed.len())
    }

    fn write_vectors(&self, records: &[VectorRecord], mode: WriteMode) -> Result<()> {
        self.commit_records(records, |tables, txn, new| tables.write(txn, new, mode))
    }

    /// Validates and normalizes `records`, runs `op` on them in one write transaction, commits,
    /// and brings the index up to date.
    fn commit_records(
        &self,
        records: &[VectorRecord],
        op: impl FnOnce(
            &crate::store::CollectionTables,
            &redb::WriteTransaction,
            &[NewRecord<'_>],
        ) -> std::result::Result<crate::store::WriteOutcome, RecordError>,
    ) -> Result<()> {
        let dim = self.state.config.dimension;
        let mut vectors = Vec::with_capacity(records.len());
        for r in records {
            let v = checked_unit(&r.vector, dim)
                .map_err(|reason| Error::InvalidVector { id: r.id.clone(), reason })?;
            vectors.push(v);
        }
        let new: Vec<NewRecord<'_>> = records
            .iter()
            .zip(&vectors)
            .map(|(r, v)| NewRecord {
                id: &r.id,
                vector: v,
                text: r.text.as_deref(),
                metadata: &r.metadata,
            })
            .collect();
        let _writer = self.state.lock_writer();
        let store = self.db.read_store();
        let txn = store.begin_write()?;
        let outcome = match op(&self.state.tables, &txn, &new) {
            Ok(outcome) => outcome,
            Err(RecordError::Duplicate(id)) => {
                return Err(Error::DuplicateId { collection: self.name().into(), id })
            }
            Err(RecordError::Storage(e)) => return Err(store.err(e).into()),
        };
        txn.commit().map_err(|e| store.err(e))?;
        drop(store);
        let added: Vec<(u64, &[f32])> =
            outcome.added.iter().zip(&vectors).map(|(id, v)| (*id, v.as_slice())).collect();
        self.state.apply(&self.db, &added, &outcome.removed)
    }

    fn full_record(
        &self,
        store: &crate::store::Store,
        txn: &redb::ReadTransaction,
        internal: u64,
    ) -> Result<Option<Record>> {
        let tables = &self.state.tables;
        let Some(r) = tables.record(txn, internal).map_err(|e| store.err(e))? else {
            return Ok(None);
        };
        let vector = tables.vector(txn, internal).map_err(|e| store.err(e))?.unwrap_or_default();
        Ok(Some(Record { id: r.id, text: r.text, metadata: r.metadata, vector }))
    }

    /// Exact top-k over the passing ids, or over every record.
    fn exact_search(
        &self,
        store: &crate::store::Store,
        txn: &redb::ReadTransaction,
        query: &[f32],
        k: usize,
        passing: Option<&[u64]>,
    ) -> Result<Vec<Scored>> {
        let flat = FlatIndex::new(self.state.config.dimension);
        let tables = &self.state.tables;
        match passing {
            Some(ids) => {
                for &id in ids {
                    if let Some(v) = tables.vector(txn, id).map_err(|e| store.err(e))? {
                        flat.insert(&[(id, v.as_slice())]);
                    }
                }
            }
            None => tables
                .for_each_vector(txn, 0, |id, v| flat.insert(&[(id, v.as_slice())]))
                .map_err(|e| store.err(e))?,
        }
        Ok(flat.search(query, k, 0, None))
    }

    /// Approximate top-k through HNSW, skipping tombstones and records the filter rejects, then
    /// rescoring with full vectors under the Matryoshka funnel.
    fn index_search(
        &self,
        store: &crate::store::Store,
        txn: &redb::ReadTransaction,
        query: &[f32],
        options: &SearchOptions,
        passing: Option<&[u64]>,
    ) -> Result<Vec<Scored>> {
        let (index, tombstones) = self.state.index();
        let funnel = self.state.config.index_dim.is_some();
        let factor = options.rescore.unwrap_or(RESCORE_FACTOR).max(1);
        let fetch = if funnel { options.k.saturating_mul(factor) } else { options.k };
        let ef = options.ef.unwrap_or(self.state.config.hnsw.ef_search).max(fetch);
        let index_query = self.state.index_vector(query);
        let accept = |id: u64| {
            !tombstones.contains(&id) && passing.is_none_or(|p| p.binary_search(&id).is_ok())
        };
        let needs_filter = passing.is_some() || !tombstones.is_empty();
        let mut scored =
            index.search(&index_query, fetch, ef, needs_filter.then_some(&accept as _));
        drop(tombstones);
        if funnel {
            for s in &mut scored {
                if let Some(v) = self.state.tables.vector(txn, s.id).map_err(|e| store.err(e))? {
                    s.score = dot(query, &v);
                }
            }
            crate::index::sort_scored(&mut scored);
        }
        Ok(scored)
    }
}

/// Checks a vector's dimension and values and scales it to unit length.
fn checked_unit(v: &[f32], dim: usize) -> std::result::Result<Vec<f32>, String> {
    if v.len() != dim {
        return Err(format!("has {} dimensions, the collection's vectors have {dim}", v.len()));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(format!("component {i} is {}", v[i]));
    }
    let norm = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
    if norm == 0.0 {
        return Err("is all zeros, so it has no direction".into());
    }
    Ok(v.iter().map(|x| (f64::from(*x) / norm) as f32).collect())
}

fn fresh_uid() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    h.finish()
}
