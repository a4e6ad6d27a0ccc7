//! Byte-oriented key-value storage behind an object-safe trait.
//!
//! Everything above this module talks to [`Store`] and [`Tree`] only; the
//! sled backend ([`open_sled`]) and the in-memory backend ([`open_memory`])
//! are interchangeable. Typed repositories live in `domain`.
//!
//! # Model
//! - A store holds named trees (keyspaces). Keys and values are raw bytes,
//!   ordered lexicographically by key.
//! - Single-key operations are atomic. [`Store::apply`] applies a [`Batch`]
//!   of puts, deletes and preconditions across several trees atomically.
//! - Range reads are lazy ([`Tree::iter`]), so reading one page costs time
//!   proportional to the page, not to the tree.
//!
//! # Durability
//! Plain writes are durable eventually (the sled backend writes its log in
//! the background every 500 ms, its default). A call documented as durable
//! ([`Store::apply_durable`], [`Store::flush_durable`]) returns only after
//! the data and every write that completed before it are on stable storage,
//! so they survive a process kill or a power loss. These calls block; async
//! code uses [`apply_durable_async`] / [`flush_durable_async`]: the first
//! hands the batch to the store's committer thread when it has one
//! ([`Store::submit_durable`], a callback, no thread waiting), both
//! otherwise run on tokio's blocking pool. The trait stays synchronous on
//! purpose: it keeps it object-safe without boxed futures, and sled is
//! synchronous.
//!
//! # Format version
//! Every store records [`FORMAT_VERSION`] and the crate version that created
//! it. Opening a store written with another format version fails with
//! [`StoreError::FormatVersion`], with one exception: a version this build
//! reads unchanged ([`UPGRADABLE_FROM`]) is re-labelled to the current
//! version on open (logged), so that an older build, which would misread
//! what this one writes, refuses the store afterwards. Nothing is rewritten.

mod files;
mod memory;
mod sled_store;

use std::fmt;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Arc;

pub use files::FileDir;
pub use memory::open_memory;
pub use sled_store::{
    DEFAULT_CACHE_MB, open_sled, open_sled_with_cache, open_sled_with_files, open_sled_with_options,
};

/// On-disk format version written by this build. Version 2: documents of
/// 256 KiB and more live in files beside the store (`documents/`), the
/// store keeps references to them. Version 3: the message lists have
/// counts kept by every write (built at the first start of a version-2
/// store), which an older build would leave behind. Version 4: a delivery
/// by listing may be kept in the message's received list entry instead of
/// its record, which an older build would not see. Version 5: the state
/// changes of one listing's deliveries may share an entry per box (the
/// IDs after the first in its value), of which an older build would see
/// the first only. Version 6: the lifecycle queue entries one listing's
/// deliveries queue for one time may share an entry (the IDs after the
/// first in its value), which an older build would never consume.
pub const FORMAT_VERSION: u32 = 6;

/// Older format versions this build reads as they are (see the module
/// documentation).
pub const UPGRADABLE_FROM: &[u32] = &[1, 2, 3, 4, 5];

/// Name of the crate and version recorded as `created_by` in new stores.
pub const CREATED_BY: &str = concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION"));

/// Longest accepted tree or sequence name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// One key-value pair as returned by range reads.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Lazy iterator over a key range. It owns what it needs (no borrow of the
/// tree) and holds no lock between items, so writers are never blocked by
/// it. It is not a snapshot: writes made while it runs may or may not show
/// up, but every entry it yields is a value that was committed at some
/// point, and keys come strictly in the requested order.
pub type EntryIter = Box<dyn Iterator<Item = Result<Entry, StoreError>> + Send>;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store directory could not be created or accessed.
    #[error("store directory {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another process (or a still-open handle in this one) holds the
    /// store directory.
    #[error("store directory {} is in use by another process", path.display())]
    Locked { path: PathBuf },
    /// The sled engine reported an error (I/O, corruption found by sled,
    /// or another process holding the lock on the directory).
    #[error("storage engine: {0}")]
    Sled(#[from] sled::Error),
    /// Stored data does not have the shape this layer wrote.
    #[error("store data is corrupt: {0}")]
    Corrupt(String),
    /// The store was written with a format version this build cannot read.
    #[error(
        "store format version {found} is not supported; this build reads format version {supported} only"
    )]
    FormatVersion { found: u32, supported: u32 },
    /// A batch precondition ([`Batch::expect`]) did not hold; nothing of
    /// the batch was applied.
    #[error("conflict: tree `{tree}`, key {} does not hold the expected value", show_key(.key))]
    Conflict { tree: String, key: Vec<u8> },
    /// Tree or sequence names must be 1..=64 bytes of `[A-Za-z0-9_.-]` and
    /// must not start with `__` (reserved for the store itself).
    #[error("invalid tree or sequence name {0:?}")]
    InvalidName(String),
    /// A sequence reached `u64::MAX`.
    #[error("sequence `{0}` is exhausted")]
    SequenceExhausted(String),
    /// A blocking task running a store call did not complete.
    #[error("store task failed: {0}")]
    Background(String),
}

impl StoreError {
    /// Whether the failure is a full disk (or an exhausted quota): the
    /// request could not be stored, but nothing is wrong with it or with
    /// the stored data.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Io { source, .. } => is_disk_full(source),
            StoreError::Sled(sled::Error::Io(source)) => is_disk_full(source),
            _ => false,
        }
    }
}

/// Whether an I/O error says the disk is full (`ENOSPC`) or a quota is
/// exhausted (`EDQUOT`).
pub fn is_disk_full(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::StorageFull || matches!(err.raw_os_error(), Some(28 | 122))
}

/// Renders a key for messages: printable ASCII as is, other bytes escaped.
pub fn show_key(key: &[u8]) -> String {
    key.escape_ascii().to_string()
}

/// Direction of a range read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Ascending,
    Descending,
}

/// A range of keys with explicit bounds.
///
/// For paging, continue after the last key seen with
/// [`KeyRange::after`] (ascending) or [`KeyRange::before`] (descending).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Bound<Vec<u8>>,
    pub end: Bound<Vec<u8>>,
}

impl KeyRange {
    /// Every key.
    pub fn all() -> Self {
        KeyRange {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
        }
    }

    /// Keys `k` with `start <= k < end`.
    pub fn between(start: impl Into<Vec<u8>>, end: impl Into<Vec<u8>>) -> Self {
        KeyRange {
            start: Bound::Included(start.into()),
            end: Bound::Excluded(end.into()),
        }
    }

    /// Keys starting with `prefix`.
    pub fn prefix(prefix: &[u8]) -> Self {
        KeyRange {
            start: Bound::Included(prefix.to_vec()),
            end: match prefix_successor(prefix) {
                Some(end) => Bound::Excluded(end),
                None => Bound::Unbounded,
            },
        }
    }

    /// The same range restricted to keys strictly greater than `key`.
    pub fn after(mut self, key: &[u8]) -> Self {
        let tighter = match &self.start {
            Bound::Unbounded => true,
            Bound::Included(s) => key >= s.as_slice(),
            Bound::Excluded(s) => key > s.as_slice(),
        };
        if tighter {
            self.start = Bound::Excluded(key.to_vec());
        }
        self
    }

    /// The same range restricted to keys strictly less than `key`.
    pub fn before(mut self, key: &[u8]) -> Self {
        let tighter = match &self.end {
            Bound::Unbounded => true,
            Bound::Included(e) => key <= e.as_slice(),
            Bound::Excluded(e) => key < e.as_slice(),
        };
        if tighter {
            self.end = Bound::Excluded(key.to_vec());
        }
        self
    }

    /// True when no key can lie in the range. Backends check this first:
    /// ordered maps panic on inverted ranges.
    pub fn is_empty(&self) -> bool {
        match (&self.start, &self.end) {
            (Bound::Unbounded, _) | (_, Bound::Unbounded) => false,
            (Bound::Included(s), Bound::Included(e)) => s > e,
            (Bound::Included(s), Bound::Excluded(e))
            | (Bound::Excluded(s), Bound::Included(e))
            | (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
        }
    }

    /// Whether `key` lies in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        let above = match &self.start {
            Bound::Unbounded => true,
            Bound::Included(s) => key >= s.as_slice(),
            Bound::Excluded(s) => key > s.as_slice(),
        };
        let below = match &self.end {
            Bound::Unbounded => true,
            Bound::Included(e) => key <= e.as_slice(),
            Bound::Excluded(e) => key < e.as_slice(),
        };
        above && below
    }
}

/// Smallest key greater than every key starting with `prefix`, or `None`
/// if there is none (empty prefix or all bytes 0xFF).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Result of [`Tree::compare_and_swap`].
#[must_use]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CasOutcome {
    /// The key held the expected value and now holds the new one.
    Swapped,
    /// The key held `current` instead; nothing was written.
    Mismatch { current: Option<Vec<u8>> },
}

/// One step of a [`Batch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchOp {
    Put {
        tree: String,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        tree: String,
        key: Vec<u8>,
    },
    /// Precondition: the key holds `value` (`None`: is absent) at this point
    /// of the batch, i.e. after the batch's own earlier steps.
    Expect {
        tree: String,
        key: Vec<u8>,
        value: Option<Vec<u8>>,
    },
    /// Adds `deltas` element-wise to the counter vector stored at the key
    /// ([`add_counters`]); the key is removed when every counter is zero.
    Add {
        tree: String,
        key: Vec<u8>,
        deltas: Vec<i64>,
    },
}

impl BatchOp {
    /// Name of the tree the step touches.
    pub fn tree(&self) -> &str {
        match self {
            BatchOp::Put { tree, .. }
            | BatchOp::Delete { tree, .. }
            | BatchOp::Expect { tree, .. }
            | BatchOp::Add { tree, .. } => tree,
        }
    }
}

/// Writes and preconditions over several trees, applied all or nothing by
/// [`Store::apply`], in order. If any precondition fails the store is left
/// unchanged and [`StoreError::Conflict`] is returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    ops: Vec<BatchOp>,
    /// Where each key's [`BatchOp::Add`] is, so repeated additions to one
    /// counter merge into one step (one read and one write when applied).
    adds: std::collections::HashMap<(String, Vec<u8>), usize>,
}

impl Batch {
    pub fn new() -> Self {
        Batch::default()
    }

    /// Sets `key` to `value` in `tree`.
    pub fn put(
        &mut self,
        tree: &str,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> &mut Self {
        self.ops.push(BatchOp::Put {
            tree: tree.to_owned(),
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// Removes `key` from `tree` (no error if absent).
    pub fn delete(&mut self, tree: &str, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp::Delete {
            tree: tree.to_owned(),
            key: key.into(),
        });
        self
    }

    /// Requires `key` in `tree` to hold `value` (`None`: to be absent).
    pub fn expect(
        &mut self,
        tree: &str,
        key: impl Into<Vec<u8>>,
        value: Option<Vec<u8>>,
    ) -> &mut Self {
        self.ops.push(BatchOp::Expect {
            tree: tree.to_owned(),
            key: key.into(),
            value,
        });
        self
    }

    /// Adds `deltas` element-wise to the counters stored at `key` in `tree`
    /// (a value written only this way, see [`add_counters`]). Additions to
    /// the same key merge into the step of the first one.
    pub fn add(&mut self, tree: &str, key: impl Into<Vec<u8>>, deltas: &[i64]) -> &mut Self {
        let slot = (tree.to_owned(), key.into());
        if let Some(&at) = self.adds.get(&slot)
            && let Some(BatchOp::Add { deltas: sum, .. }) = self.ops.get_mut(at)
        {
            if sum.len() < deltas.len() {
                sum.resize(deltas.len(), 0);
            }
            for (s, d) in sum.iter_mut().zip(deltas) {
                *s = s.saturating_add(*d);
            }
            return self;
        }
        self.adds.insert(slot.clone(), self.ops.len());
        self.ops.push(BatchOp::Add {
            tree: slot.0,
            key: slot.1,
            deltas: deltas.to_vec(),
        });
        self
    }

    /// Requires `key` to be absent from `tree`.
    pub fn expect_absent(&mut self, tree: &str, key: impl Into<Vec<u8>>) -> &mut Self {
        self.expect(tree, key, None)
    }

    /// Drops the preconditions, for a bulk loader that checked them itself
    /// ([`Store::apply_bulk`] takes none).
    pub fn drop_preconditions(&mut self) {
        self.ops.retain(|op| !matches!(op, BatchOp::Expect { .. }));
    }

    pub fn ops(&self) -> &[BatchOp] {
        &self.ops
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Distinct tree names, in order of first use, after validating each.
    pub(crate) fn tree_names(&self) -> Result<Vec<&str>, StoreError> {
        let mut names: Vec<&str> = Vec::new();
        for op in &self.ops {
            let name = op.tree();
            if !names.contains(&name) {
                validate_name(name)?;
                names.push(name);
            }
        }
        Ok(names)
    }
}

/// Facts about an open store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreInfo {
    /// `"sled"` or `"memory"`.
    pub backend: &'static str,
    pub format_version: u32,
    /// Crate name and version that created the store, e.g. `isds-gateway 0.1.0`.
    pub created_by: String,
    /// Whether durable calls really reach stable storage (false for memory).
    pub persistent: bool,
}

/// One named keyspace. Handles are cheap to clone via `Arc`.
pub trait Tree: Send + Sync {
    fn name(&self) -> &str;

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Sets `key` to `value`, returning the previous value.
    fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Removes `key`, returning the previous value.
    fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Atomically replaces the value of `key` by `new` (`None`: delete) if
    /// it currently is `expected` (`None`: absent).
    fn compare_and_swap(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<CasOutcome, StoreError>;

    /// Lazy iterator over `range` in `order`.
    fn iter(&self, range: KeyRange, order: Order) -> EntryIter;

    fn contains_key(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.get(key)?.is_some())
    }

    /// At most `limit` entries of `range` in `order`; costs O(limit).
    fn range(&self, range: KeyRange, order: Order, limit: usize) -> Result<Vec<Entry>, StoreError> {
        self.iter(range, order).take(limit).collect()
    }

    /// At most `limit` entries whose key starts with `prefix`.
    fn scan_prefix(
        &self,
        prefix: &[u8],
        order: Order,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.range(KeyRange::prefix(prefix), order, limit)
    }

    /// First entry of `range` in `order`.
    fn first_in(&self, range: KeyRange, order: Order) -> Result<Option<Entry>, StoreError> {
        self.iter(range, order).next().transpose()
    }
}

/// A storage backend. Object-safe: use it as `Arc<dyn Store>`.
pub trait Store: Send + Sync + 'static {
    /// The tree named `name`, created empty if it does not exist yet.
    fn tree(&self, name: &str) -> Result<Arc<dyn Tree>, StoreError>;

    /// Applies `batch` atomically: other readers and writers see all of it
    /// or none of it. Safe to call from many threads at once.
    fn apply(&self, batch: Batch) -> Result<(), StoreError>;

    /// Like [`Store::apply`], then [`Store::flush_durable`]: when it returns
    /// `Ok`, the batch survives a process kill or power loss. Blocks.
    fn apply_durable(&self, batch: Batch) -> Result<(), StoreError> {
        self.apply(batch)?;
        self.flush_durable()
    }

    /// Hands `batch` over to be applied as by [`Store::apply_durable`]
    /// without blocking the caller: `done` gets the outcome once the batch
    /// is on stable storage (or failed), on the thread that committed it.
    /// A store that commits on a thread of its own (sled with group
    /// commit) takes the batch; otherwise both come back (the default) and
    /// the caller runs [`Store::apply_durable`] where it may block, as
    /// [`apply_durable_async`] does.
    fn submit_durable(&self, batch: Batch, done: DurableDone) -> Result<(), (Batch, DurableDone)> {
        Err((batch, done))
    }

    /// Applies the puts and deletes of `batch` for bulk loads: atomic per
    /// tree but not across trees, without preconditions (a batch holding
    /// one is refused as [`StoreError::Conflict`] before anything is
    /// written). Much cheaper than [`Store::apply`] for large batches; a
    /// crash may leave some trees of the batch written and others not, so
    /// the loader must be able to tell and repair that.
    fn apply_bulk(&self, batch: Batch) -> Result<(), StoreError> {
        self.apply(batch)
    }

    /// Next value of the named sequence: 1, 2, 3, ... strictly increasing
    /// and without gaps while the process runs.
    ///
    /// The increment is an ordinary write: it becomes durable with the next
    /// durable call. After a crash a value may be handed out again only if
    /// no durable call completed after it was issued, i.e. only if every
    /// write that could have used it was lost too (sled recovers a prefix
    /// of its log). Callers that show an id to the outside must therefore
    /// make the write that uses it durable before answering.
    fn next_id(&self, sequence: &str) -> Result<u64, StoreError>;

    /// Writes every completed write to stable storage (fsync). Blocks.
    fn flush_durable(&self) -> Result<(), StoreError>;

    fn info(&self) -> StoreInfo;

    /// The directory of large values kept as files beside the trees, if
    /// this store has one (see [`FileDir`] for the write protocol);
    /// without one, callers keep such values in the trees.
    fn files(&self) -> Option<&FileDir> {
        None
    }

    /// A count that moves on after every write applied to `tree` while
    /// this store is open (batches and single writes alike), read before
    /// reading values of the tree: a cache of those values is current as
    /// long as the count has not moved. `None`: this store does not count,
    /// and nothing read from it may be cached on the strength of a count.
    fn writes_to(&self, tree: &str) -> Option<u64> {
        self.write_count(tree).map(|count| count.get())
    }

    /// A handle on the count [`Store::writes_to`] reads for `tree`, for a
    /// caller that reads it on every request: reading the handle is one
    /// atomic load, with no look-up of the tree by name. `None`: this
    /// store does not count.
    fn write_count(&self, tree: &str) -> Option<WriteCount> {
        let _ = tree;
        None
    }
}

/// The write count of one tree ([`Store::write_count`]), shared with the
/// store that moves it on.
#[derive(Debug, Clone)]
pub struct WriteCount(Arc<std::sync::atomic::AtomicU64>);

impl WriteCount {
    /// The count now (what [`Store::writes_to`] reads).
    pub fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Where [`Store::submit_durable`] sends a durable batch's outcome.
pub type DurableDone = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// [`Store::apply_durable`] for async code: handed to the store's own
/// committer when it has one ([`Store::submit_durable`]), the task
/// waiting for the outcome without holding a thread; otherwise run on
/// tokio's blocking pool.
pub async fn apply_durable_async(store: Arc<dyn Store>, batch: Batch) -> Result<(), StoreError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let done: DurableDone = Box::new(move |outcome| {
        // The caller may have gone (its request was dropped): the batch
        // is committed all the same, nobody is told.
        let _ = tx.send(outcome);
    });
    match store.submit_durable(batch, done) {
        Ok(()) => rx.await.unwrap_or_else(|_| {
            Err(StoreError::Background(
                "the store's committer stopped before answering".into(),
            ))
        }),
        Err((batch, _)) => tokio::task::spawn_blocking(move || store.apply_durable(batch))
            .await
            .map_err(|e| StoreError::Background(e.to_string()))?,
    }
}

/// [`Store::flush_durable`] on tokio's blocking pool.
pub async fn flush_durable_async(store: Arc<dyn Store>) -> Result<(), StoreError> {
    tokio::task::spawn_blocking(move || store.flush_durable())
        .await
        .map_err(|e| StoreError::Background(e.to_string()))?
}

/// Checks a user-supplied tree or sequence name (see
/// [`StoreError::InvalidName`]).
pub fn validate_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with("__")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidName(name.to_owned()))
    }
}

/// The counters of a value kept by [`BatchOp::Add`]: unsigned LEB128
/// numbers one after the other (trailing zeros left out, so most values
/// are a few bytes). `None` for bytes not of that form.
pub fn decode_counters(bytes: &[u8]) -> Option<Vec<u64>> {
    let mut out = Vec::new();
    let mut value: u64 = 0;
    let mut shift = 0u32;
    for &b in bytes {
        if shift >= 64 {
            return None;
        }
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            out.push(value);
            value = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
    (shift == 0).then_some(out)
}

/// Encodes counters as [`decode_counters`] reads them.
pub fn encode_counters(counters: &[u64]) -> Vec<u8> {
    let used = counters.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    let mut out = Vec::with_capacity(used * 2);
    for &c in &counters[..used] {
        let mut v = c;
        loop {
            let low = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(low);
                break;
            }
            out.push(low | 0x80);
        }
    }
    out
}

/// The value `current` (a counter vector or absent) becomes after adding
/// `deltas`; `None` when every counter is zero (the key goes). A counter
/// never goes below zero; unreadable bytes count as zeros, so a damaged
/// counter heals by the next rebuild rather than failing every write.
pub fn add_counters(current: Option<&[u8]>, deltas: &[i64]) -> Option<Vec<u8>> {
    let mut counters = current.and_then(decode_counters).unwrap_or_default();
    if counters.len() < deltas.len() {
        counters.resize(deltas.len(), 0);
    }
    for (c, d) in counters.iter_mut().zip(deltas) {
        *c = c.saturating_add_signed(*d);
    }
    let encoded = encode_counters(&counters);
    (!encoded.is_empty()).then_some(encoded)
}

/// Decodes a stored big-endian u64 counter.
pub(crate) fn decode_u64(what: &str, bytes: &[u8]) -> Result<u64, StoreError> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| {
        StoreError::Corrupt(format!("{what}: expected 8 bytes, found {}", bytes.len()))
    })?;
    Ok(u64::from_be_bytes(arr))
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Order::Ascending => "ascending",
            Order::Descending => "descending",
        })
    }
}

/// Behaviour every backend must show; run against each backend by its
/// own test module.
#[cfg(test)]
pub(crate) mod conformance {
    use super::*;
    use std::collections::HashSet;

    fn kv(k: &str, v: &str) -> Entry {
        (k.as_bytes().to_vec(), v.as_bytes().to_vec())
    }

    pub fn crud(store: &dyn Store) {
        let t = store.tree("boxes").unwrap();
        assert_eq!(t.name(), "boxes");
        assert_eq!(t.get(b"a").unwrap(), None);
        assert_eq!(t.insert(b"a", b"1").unwrap(), None);
        assert_eq!(t.insert(b"a", b"2").unwrap(), Some(b"1".to_vec()));
        assert_eq!(t.get(b"a").unwrap(), Some(b"2".to_vec()));
        assert!(t.contains_key(b"a").unwrap());
        assert_eq!(t.remove(b"a").unwrap(), Some(b"2".to_vec()));
        assert_eq!(t.remove(b"a").unwrap(), None);
        assert!(!t.contains_key(b"a").unwrap());
        // Trees are separate keyspaces; handles to the same name share data.
        let u = store.tree("users").unwrap();
        t.insert(b"k", b"boxes").unwrap();
        u.insert(b"k", b"users").unwrap();
        assert_eq!(
            store.tree("boxes").unwrap().get(b"k").unwrap(),
            Some(b"boxes".to_vec())
        );
        assert_eq!(u.get(b"k").unwrap(), Some(b"users".to_vec()));
        // Empty keys and values are allowed.
        t.insert(b"", b"").unwrap();
        assert_eq!(t.get(b"").unwrap(), Some(Vec::new()));
    }

    pub fn names(store: &dyn Store) {
        for bad in ["", "__meta", "__sled__default", "a b", "ä", &"x".repeat(65)] {
            assert!(
                matches!(store.tree(bad), Err(StoreError::InvalidName(_))),
                "{bad:?} accepted"
            );
            assert!(matches!(
                store.next_id(bad),
                Err(StoreError::InvalidName(_))
            ));
        }
        let mut b = Batch::new();
        b.put("__meta", "format_version", "x");
        assert!(matches!(store.apply(b), Err(StoreError::InvalidName(_))));
        store.tree("ok_name-1.2").unwrap();
    }

    pub fn cas(store: &dyn Store) {
        let t = store.tree("cas").unwrap();
        assert_eq!(
            t.compare_and_swap(b"k", None, Some(b"1")).unwrap(),
            CasOutcome::Swapped
        );
        assert_eq!(
            t.compare_and_swap(b"k", None, Some(b"2")).unwrap(),
            CasOutcome::Mismatch {
                current: Some(b"1".to_vec())
            }
        );
        assert_eq!(
            t.compare_and_swap(b"k", Some(b"1"), Some(b"2")).unwrap(),
            CasOutcome::Swapped
        );
        assert_eq!(
            t.compare_and_swap(b"k", Some(b"2"), None).unwrap(),
            CasOutcome::Swapped
        );
        assert_eq!(t.get(b"k").unwrap(), None);
        assert_eq!(
            t.compare_and_swap(b"k", Some(b"2"), None).unwrap(),
            CasOutcome::Mismatch { current: None }
        );
    }

    pub fn scans(store: &dyn Store) {
        let t = store.tree("msgs").unwrap();
        for k in ["a/1", "a/2", "a/3", "a/4", "b/1", "a", "a0", "\u{7f}"] {
            t.insert(k.as_bytes(), k.as_bytes()).unwrap();
        }
        t.insert(&[b'a', b'/', 0xff], b"ff").unwrap();

        let fwd = t.scan_prefix(b"a/", Order::Ascending, 3).unwrap();
        assert_eq!(
            fwd,
            vec![kv("a/1", "a/1"), kv("a/2", "a/2"), kv("a/3", "a/3")]
        );
        let rev = t.scan_prefix(b"a/", Order::Descending, 2).unwrap();
        assert_eq!(
            rev,
            vec![(b"a/\xff".to_vec(), b"ff".to_vec()), kv("a/4", "a/4")]
        );
        assert_eq!(
            t.scan_prefix(b"a/", Order::Ascending, 100).unwrap().len(),
            5
        );
        assert_eq!(t.scan_prefix(b"a/", Order::Ascending, 0).unwrap(), vec![]);
        assert_eq!(t.scan_prefix(b"zz", Order::Ascending, 10).unwrap(), vec![]);
        assert_eq!(t.scan_prefix(b"", Order::Ascending, 100).unwrap().len(), 9);

        // Reverse range with limit, then the next page.
        let range = KeyRange::between("a/2", "a0");
        let page1 = t.range(range.clone(), Order::Descending, 2).unwrap();
        assert_eq!(
            page1,
            vec![(b"a/\xff".to_vec(), b"ff".to_vec()), kv("a/4", "a/4")]
        );
        let last = &page1[1].0;
        let page2 = t
            .range(range.clone().before(last), Order::Descending, 2)
            .unwrap();
        assert_eq!(page2, vec![kv("a/3", "a/3"), kv("a/2", "a/2")]);
        let page3 = t
            .range(range.before(&page2[1].0), Order::Descending, 2)
            .unwrap();
        assert!(page3.is_empty());

        // Forward paging with after().
        let range = KeyRange::prefix(b"a/");
        let p1 = t.range(range.clone(), Order::Ascending, 2).unwrap();
        let p2 = t.range(range.after(&p1[1].0), Order::Ascending, 2).unwrap();
        assert_eq!(p2, vec![kv("a/3", "a/3"), kv("a/4", "a/4")]);

        // Inclusive and inverted ranges never panic.
        let incl = KeyRange {
            start: Bound::Included(b"a/2".to_vec()),
            end: Bound::Included(b"a/3".to_vec()),
        };
        assert_eq!(t.range(incl, Order::Descending, 10).unwrap().len(), 2);
        let inverted = KeyRange::between("b", "a");
        assert!(t.range(inverted, Order::Ascending, 10).unwrap().is_empty());
        let point = KeyRange {
            start: Bound::Excluded(b"a/2".to_vec()),
            end: Bound::Excluded(b"a/2".to_vec()),
        };
        assert!(t.range(point, Order::Descending, 10).unwrap().is_empty());
        assert_eq!(
            t.first_in(KeyRange::all(), Order::Descending).unwrap(),
            Some(kv("\u{7f}", "\u{7f}"))
        );

        // Writes during iteration are allowed (no lock is held); whether
        // the iterator sees them is unspecified, but it stays ordered.
        let mut it = t.iter(KeyRange::prefix(b"a/"), Order::Ascending);
        assert_eq!(it.next().unwrap().unwrap(), kv("a/1", "a/1"));
        t.insert(b"a/15", b"new").unwrap();
        let rest: Vec<Entry> = it.collect::<Result<_, _>>().unwrap();
        assert!(rest.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(rest.iter().all(|(k, _)| k.as_slice() > b"a/1".as_slice()));
        assert_eq!(rest.last().map(|e| e.0.clone()), Some(b"a/\xff".to_vec()));
    }

    pub fn batch_atomic(store: &dyn Store) {
        let boxes = store.tree("boxes").unwrap();
        let users = store.tree("users").unwrap();
        boxes.insert(b"old", b"x").unwrap();

        let mut ok = Batch::new();
        ok.expect_absent("boxes", "b1")
            .put("boxes", "b1", "box one")
            .put("users", "u1", "user of b1")
            .delete("boxes", "old")
            .expect("boxes", "b1", Some(b"box one".to_vec()));
        assert_eq!(ok.len(), 5);
        store.apply(ok).unwrap();
        assert_eq!(boxes.get(b"b1").unwrap(), Some(b"box one".to_vec()));
        assert_eq!(users.get(b"u1").unwrap(), Some(b"user of b1".to_vec()));
        assert_eq!(boxes.get(b"old").unwrap(), None);

        // A failing precondition late in the batch leaves everything unchanged.
        let mut bad = Batch::new();
        bad.put("users", "u2", "user 2")
            .delete("boxes", "b1")
            .put("boxes", "b2", "box two")
            .expect_absent("users", "u1");
        match store.apply(bad) {
            Err(StoreError::Conflict { tree, key }) => {
                assert_eq!(tree, "users");
                assert_eq!(key, b"u1");
            }
            other => panic!("expected conflict, got {other:?}"),
        }
        assert_eq!(users.get(b"u2").unwrap(), None);
        assert_eq!(boxes.get(b"b1").unwrap(), Some(b"box one".to_vec()));
        assert_eq!(boxes.get(b"b2").unwrap(), None);

        // Invalid tree names reject the whole batch before anything is written.
        let mut invalid = Batch::new();
        invalid.put("users", "u3", "x").put("bad name", "k", "v");
        assert!(matches!(
            store.apply(invalid),
            Err(StoreError::InvalidName(_))
        ));
        assert_eq!(users.get(b"u3").unwrap(), None);

        store.apply(Batch::new()).unwrap();
        store.apply_durable(Batch::new()).unwrap();
    }

    /// Counter additions merge within a batch, add to what is stored,
    /// never go below zero, remove the key at all zeros, and roll back with
    /// a failed precondition.
    pub fn counters(store: &dyn Store) {
        let t = store.tree("counts").unwrap();
        let read = |k: &[u8]| t.get(k).unwrap().map(|v| decode_counters(&v).unwrap());
        let mut b = Batch::new();
        b.add("counts", "a", &[1, 0, 2])
            .add("counts", "a", &[0, 0, 1, 5])
            .add("counts", "b", &[0, 300]);
        assert_eq!(b.len(), 2);
        store.apply(b).unwrap();
        assert_eq!(read(b"a"), Some(vec![1, 0, 3, 5]));
        assert_eq!(read(b"b"), Some(vec![0, 300]));
        let mut b = Batch::new();
        b.add("counts", "a", &[-1, -4, -3, -5])
            .add("counts", "b", &[0, -1]);
        store.apply(b).unwrap();
        assert_eq!(read(b"a"), None, "all zeros: the key goes");
        assert_eq!(read(b"b"), Some(vec![0, 299]));
        let mut bad = Batch::new();
        bad.add("counts", "b", &[7]).expect_absent("counts", "b");
        assert!(matches!(store.apply(bad), Err(StoreError::Conflict { .. })));
        assert_eq!(read(b"b"), Some(vec![0, 299]));
    }

    pub fn ids(store: &dyn Store) {
        assert_eq!(store.next_id("messages").unwrap(), 1);
        assert_eq!(store.next_id("messages").unwrap(), 2);
        assert_eq!(store.next_id("boxes").unwrap(), 1);
        assert_eq!(store.next_id("messages").unwrap(), 3);
    }

    /// Several threads write distinct keys, draw ids, bump a shared counter
    /// with CAS and with batch preconditions; nothing may be lost.
    pub fn concurrent(store: Arc<dyn Store>) {
        const THREADS: usize = 8;
        const PER: usize = 200;
        let mut handles = Vec::new();
        for t in 0..THREADS {
            let store = Arc::clone(&store);
            handles.push(std::thread::spawn(move || {
                let tree = store.tree("conc").unwrap();
                let mut ids = Vec::new();
                for i in 0..PER {
                    tree.insert(format!("k/{t}/{i}").as_bytes(), b"v").unwrap();
                    ids.push(store.next_id("conc").unwrap());
                    loop {
                        let cur = tree.get(b"cas-counter").unwrap();
                        let n = cur
                            .as_deref()
                            .map_or(0, |b| decode_u64("counter", b).unwrap());
                        let next = (n + 1).to_be_bytes();
                        if tree
                            .compare_and_swap(b"cas-counter", cur.as_deref(), Some(&next))
                            .unwrap()
                            == CasOutcome::Swapped
                        {
                            break;
                        }
                    }
                    loop {
                        let cur = tree.get(b"batch-counter").unwrap();
                        let n = cur
                            .as_deref()
                            .map_or(0, |b| decode_u64("counter", b).unwrap());
                        let mut b = Batch::new();
                        b.expect("conc", "batch-counter", cur)
                            .put("conc", "batch-counter", (n + 1).to_be_bytes().to_vec())
                            .put("conc-log", format!("{n:08}"), format!("{t}/{i}"));
                        match store.apply(b) {
                            Ok(()) => break,
                            Err(StoreError::Conflict { .. }) => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
                ids
            }));
        }
        let mut all_ids = HashSet::new();
        for h in handles {
            for id in h.join().unwrap() {
                assert!(all_ids.insert(id), "id {id} issued twice");
            }
        }
        let total = (THREADS * PER) as u64;
        assert_eq!(all_ids.len() as u64, total);
        assert_eq!(all_ids.iter().max().copied(), Some(total), "ids are dense");
        let tree = store.tree("conc").unwrap();
        assert_eq!(
            tree.scan_prefix(b"k/", Order::Ascending, usize::MAX)
                .unwrap()
                .len(),
            THREADS * PER
        );
        let cas = decode_u64("c", &tree.get(b"cas-counter").unwrap().unwrap()).unwrap();
        assert_eq!(cas, total);
        let batch = decode_u64("c", &tree.get(b"batch-counter").unwrap().unwrap()).unwrap();
        assert_eq!(batch, total);
        let log = store.tree("conc-log").unwrap();
        assert_eq!(
            log.range(KeyRange::all(), Order::Ascending, usize::MAX)
                .unwrap()
                .len(),
            THREADS * PER
        );
    }

    pub fn all(store: Arc<dyn Store>) {
        crud(&*store);
        names(&*store);
        cas(&*store);
        scans(&*store);
        batch_atomic(&*store);
        counters(&*store);
        ids(&*store);
        concurrent(store);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_cases() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
        assert_eq!(prefix_successor(b""), None);
    }

    #[test]
    fn key_range_helpers() {
        let r = KeyRange::prefix(b"a/");
        assert!(r.contains(b"a/"));
        assert!(r.contains(b"a/\xff\xff"));
        assert!(!r.contains(b"a0"));
        assert!(!r.is_empty());
        // after() never widens a range.
        let r2 = KeyRange::between("m", "z").after(b"c");
        assert_eq!(r2.start, Bound::Included(b"m".to_vec()));
        let r3 = KeyRange::between("m", "z").before(b"zz");
        assert_eq!(r3.end, Bound::Excluded(b"z".to_vec()));
        assert!(KeyRange::between("b", "a").is_empty());
        assert!(KeyRange::between("a", "a").is_empty());
    }

    #[test]
    fn counters_round_trip() {
        for c in [vec![], vec![0, 1], vec![127, 128, 300, u64::MAX]] {
            let bytes = encode_counters(&c);
            let mut trimmed = c.clone();
            while trimmed.last() == Some(&0) {
                trimmed.pop();
            }
            assert_eq!(decode_counters(&bytes), Some(trimmed));
        }
        assert_eq!(encode_counters(&[5, 0, 0]), vec![5]);
        assert_eq!(decode_counters(&[0x80]), None);
        assert_eq!(add_counters(Some(&[0x80]), &[2]), Some(vec![2]));
        assert_eq!(add_counters(None, &[-3]), None);
    }

    #[test]
    fn show_key_escapes() {
        assert_eq!(show_key(b"a/\x00\xff"), "a/\\x00\\xff");
    }

    #[test]
    fn conflict_message_names_tree_and_key() {
        let e = StoreError::Conflict {
            tree: "boxes".into(),
            key: b"b\x01".to_vec(),
        };
        assert_eq!(
            e.to_string(),
            "conflict: tree `boxes`, key b\\x01 does not hold the expected value"
        );
        let e = StoreError::FormatVersion {
            found: 7,
            supported: 1,
        };
        assert!(e.to_string().contains("version 7"));
    }
}
