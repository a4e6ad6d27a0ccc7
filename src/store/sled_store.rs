//! sled backend.
//!
//! Layout: each user tree is a sled tree of the same name; the reserved
//! trees `__meta` (format version, creator) and `__sequences` (one
//! big-endian u64 per sequence) belong to this module. sled's background
//! flush interval is left at its default (500 ms); durable calls fsync
//! explicitly with `Db::flush`, which covers every tree of the database.
//!
//! Group commit, in two parts:
//! - Durable calls made at the same time share flushes ([`FlushGate`]).
//!   At most one `Db::flush` runs at a time; a caller whose writes are
//!   applied waits for the first flush that *starts* after that (so it
//!   covers them) and returns with its outcome.
//! - Durable batches made at the same time share one sled transaction
//!   ([`Committer`]). Every sled transaction (and `apply_batch`) seals
//!   the log buffer twice, before and after it reserves its batch marker
//!   (`PageCache::pin_log` in sled 0.34), and each sealed buffer is
//!   written with its own `sync_file_range`; transactions also run one at
//!   a time (sled's global transaction lock). One transaction per durable
//!   batch therefore cost about two syncs per message, whatever the flush
//!   sharing did (measured: 2.2 `sync_file_range` per CreateMessage). A
//!   committer thread of the store takes every batch waiting at that
//!   moment, applies them in one transaction, each batch still all or
//!   nothing with its own preconditions, then flushes once for all of
//!   them and hands each caller its own outcome. Callers hand batches
//!   over through a channel and get the outcome through a callback
//!   ([`Store::submit_durable`]): an async request waits without holding
//!   a thread, a blocking caller ([`Store::apply_durable`]) waits on a
//!   channel of its own. A thread of its own (rather than one of the
//!   callers leading the group) spares a hand-over per message: the
//!   request's task no longer moves to the blocking pool to wait.
//!
//! Each request is still answered only once its write is on disk. Stores
//! opened with `group_commit` off ([`open_sled_with_options`],
//! `serve --no-group-commit`) run one transaction and one flush per
//! durable call instead, so the gain can be measured against the same
//! build.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use super::{
    Batch, BatchOp, CREATED_BY, CasOutcome, DurableDone, EntryIter, FORMAT_VERSION, FileDir,
    KeyRange, Order, Store, StoreError, StoreInfo, Tree, WriteCount, decode_u64, validate_name,
};

/// Default page cache given to sled, in MiB. Modest: the working set of a
/// local gateway is small, and sled's cache is in addition to the OS page
/// cache. Large registers set more (`store_cache_mb`), see
/// [`open_sled_with_cache`].
pub const DEFAULT_CACHE_MB: u64 = 64;

/// How long [`open_sled`] waits for a lock released by a store closed in
/// this process a moment ago.
const LOCK_RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(2);

const META_TREE: &str = "__meta";
const SEQUENCE_TREE: &str = "__sequences";
const SLED_DEFAULT_TREE: &[u8] = b"__sled__default";
const KEY_FORMAT_VERSION: &[u8] = b"format_version";
const KEY_CREATED_BY: &[u8] = b"created_by";

struct SledStore {
    /// What the committer thread shares with the callers.
    core: Arc<SledCore>,
    /// With group commit: durable batches go to its thread; without: none,
    /// one transaction and one flush per durable call.
    committer: Option<Committer>,
    sequences: sled::Tree,
    info: StoreInfo,
    files: Option<FileDir>,
}

/// The database and the tree handles, shared by the callers and the
/// committer thread.
struct SledCore {
    db: sled::Db,
    /// Durable calls share flushes ([`FlushGate`]) when group commit is
    /// on; off: one flush each.
    flushes: FlushGate,
    group_commit: bool,
    dir: std::path::PathBuf,
    trees: RwLock<HashMap<String, Arc<SledTree>>>,
}

/// Opens (creating if needed) the sled store in `dir`.
///
/// A new store gets [`FORMAT_VERSION`] and [`CREATED_BY`] written and
/// flushed before this returns. An existing store must carry exactly
/// [`FORMAT_VERSION`], otherwise [`StoreError::FormatVersion`]; a store
/// holding data but no version is [`StoreError::Corrupt`]. Fails with
/// [`StoreError::Locked`] if the directory stays locked for two seconds
/// (open elsewhere); sled's background threads keep the lock for a moment
/// after the last handle in this process is dropped, which this waits out.
pub fn open_sled(dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
    open_sled_with_cache(dir, DEFAULT_CACHE_MB)
}

/// [`open_sled`] with a page cache of `cache_mb` MiB (at least 1).
pub fn open_sled_with_cache(dir: &Path, cache_mb: u64) -> Result<Arc<dyn Store>, StoreError> {
    open(dir, cache_mb, None, true)
}

/// [`open_sled_with_cache`] with the directory `files_dir` (created if
/// needed) for values kept as files, [`Store::files`].
pub fn open_sled_with_files(
    dir: &Path,
    cache_mb: u64,
    files_dir: &Path,
) -> Result<Arc<dyn Store>, StoreError> {
    open(dir, cache_mb, Some(files_dir), true)
}

/// [`open_sled_with_files`], choosing whether durable calls made at the
/// same time share flushes (group commit, the default elsewhere) or each
/// run their own (for measuring what sharing gains).
pub fn open_sled_with_options(
    dir: &Path,
    cache_mb: u64,
    files_dir: &Path,
    group_commit: bool,
) -> Result<Arc<dyn Store>, StoreError> {
    open(dir, cache_mb, Some(files_dir), group_commit)
}

fn open(
    dir: &Path,
    cache_mb: u64,
    files_dir: Option<&Path>,
    group_commit: bool,
) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(open_store(
        dir,
        cache_mb,
        files_dir,
        group_commit,
    )?))
}

fn open_store(
    dir: &Path,
    cache_mb: u64,
    files_dir: Option<&Path>,
    group_commit: bool,
) -> Result<SledStore, StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let config = sled::Config::new()
        .path(dir)
        .cache_capacity(cache_mb.max(1).saturating_mul(1024 * 1024));
    // sled's background threads release the directory lock a moment after
    // the last handle is dropped, so a store closed just now (a restart, a
    // start that failed after opening it) is retried briefly before it
    // counts as held by someone else.
    let deadline = std::time::Instant::now() + LOCK_RETRY_FOR;
    let db = loop {
        match config.open() {
            Ok(db) => break db,
            Err(sled::Error::Io(io)) if is_lock_error(&io) => {
                if std::time::Instant::now() >= deadline {
                    return Err(StoreError::Locked {
                        path: dir.to_path_buf(),
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            Err(other) => return Err(StoreError::Sled(other)),
        }
    };
    let (format_version, created_by) = check_or_init_meta(&db)?;
    let sequences = db.open_tree(SEQUENCE_TREE)?;
    let files = files_dir.map(FileDir::open).transpose()?;
    let core = Arc::new(SledCore {
        db,
        flushes: FlushGate::default(),
        group_commit,
        dir: dir.to_path_buf(),
        trees: RwLock::new(HashMap::new()),
    });
    let committer = if group_commit {
        Some(
            Committer::start(Arc::clone(&core)).map_err(|source| StoreError::Io {
                path: dir.to_path_buf(),
                source,
            })?,
        )
    } else {
        None
    };
    Ok(SledStore {
        core,
        committer,
        sequences,
        info: StoreInfo {
            backend: "sled",
            format_version,
            created_by,
            persistent: true,
        },
        files,
    })
}

/// Shares flushes between durable calls made at the same time (see the
/// module documentation).
#[derive(Default)]
struct FlushGate {
    state: Mutex<FlushState>,
    finished: Condvar,
}

#[derive(Default)]
struct FlushState {
    /// Flushes started so far (the number of the latest).
    started: u64,
    /// The latest flush finished, and how (an error's kind and text).
    finished: u64,
    outcome: Option<(std::io::ErrorKind, String)>,
    running: bool,
}

impl FlushGate {
    /// Returns once a flush that started after this call began has
    /// finished, running it when none is running; `flush` is the flush.
    fn flush(
        &self,
        dir: &Path,
        flush: impl FnOnce() -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        // The flush numbered `wanted` starts after this point, so after
        // the caller's writes: it covers them.
        let wanted = state.started + 1;
        loop {
            if state.finished >= wanted {
                // A later flush covers everything an earlier one did; its
                // outcome is the one that counts.
                return match &state.outcome {
                    None => Ok(()),
                    Some((kind, text)) => Err(StoreError::Io {
                        path: dir.to_path_buf(),
                        source: std::io::Error::new(*kind, text.clone()),
                    }),
                };
            }
            if !state.running {
                state.running = true;
                state.started += 1;
                let number = state.started;
                drop(state);
                let outcome = flush();
                let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                state.running = false;
                state.finished = number;
                state.outcome = outcome.as_ref().err().map(|e| {
                    let kind = if e.is_disk_full() {
                        std::io::ErrorKind::StorageFull
                    } else {
                        std::io::ErrorKind::Other
                    };
                    (kind, e.to_string())
                });
                drop(state);
                self.finished.notify_all();
                return outcome;
            }
            state = self.finished.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// sled 0.34 reports a held directory lock only as an I/O error with this
/// message (`Config::open`).
fn is_lock_error(e: &std::io::Error) -> bool {
    e.to_string().contains("could not acquire lock")
}

fn check_or_init_meta(db: &sled::Db) -> Result<(u32, String), StoreError> {
    let meta = db.open_tree(META_TREE)?;
    if let Some(raw) = meta.get(KEY_FORMAT_VERSION)? {
        let bytes: [u8; 4] = raw.as_ref().try_into().map_err(|_| {
            StoreError::Corrupt(format!(
                "format_version must be 4 bytes, found {} bytes",
                raw.len()
            ))
        })?;
        let mut found = u32::from_be_bytes(bytes);
        if super::UPGRADABLE_FROM.contains(&found) {
            meta.insert(KEY_FORMAT_VERSION, &FORMAT_VERSION.to_be_bytes()[..])?;
            db.flush()?;
            tracing::info!(
                from = found,
                to = FORMAT_VERSION,
                "store format version upgraded (data read as it is)"
            );
            found = FORMAT_VERSION;
        }
        if found != FORMAT_VERSION {
            return Err(StoreError::FormatVersion {
                found,
                supported: FORMAT_VERSION,
            });
        }
        let created_by = match meta.get(KEY_CREATED_BY)? {
            Some(raw) => String::from_utf8(raw.to_vec())
                .map_err(|_| StoreError::Corrupt("created_by is not UTF-8".into()))?,
            None => return Err(StoreError::Corrupt("created_by is missing".into())),
        };
        return Ok((found, created_by));
    }

    // No version yet: only acceptable for a store without data.
    if !db.is_empty() {
        return Err(StoreError::Corrupt(
            "store holds data but records no format version".into(),
        ));
    }
    for name in db.tree_names() {
        if name.as_ref() == SLED_DEFAULT_TREE || name.as_ref() == META_TREE.as_bytes() {
            continue;
        }
        if !db.open_tree(&name)?.is_empty() {
            return Err(StoreError::Corrupt(format!(
                "tree `{}` holds data but the store records no format version",
                String::from_utf8_lossy(&name)
            )));
        }
    }
    let mut init = sled::Batch::default();
    init.insert(KEY_CREATED_BY, CREATED_BY.as_bytes());
    init.insert(KEY_FORMAT_VERSION, &FORMAT_VERSION.to_be_bytes()[..]);
    meta.apply_batch(init)?;
    db.flush()?;
    Ok((FORMAT_VERSION, CREATED_BY.to_owned()))
}

impl SledCore {
    fn sled_tree(&self, name: &str) -> Result<Arc<SledTree>, StoreError> {
        validate_name(name)?;
        if let Some(t) = self
            .trees
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Ok(Arc::clone(t));
        }
        let mut trees = self.trees.write().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = trees.get(name) {
            return Ok(Arc::clone(t));
        }
        let tree = Arc::new(SledTree {
            tree: self.db.open_tree(name)?,
            name: name.to_owned(),
            writes: Arc::new(AtomicU64::new(0)),
        });
        trees.insert(name.to_owned(), Arc::clone(&tree));
        Ok(tree)
    }
}

impl SledCore {
    /// Applies `batches` in order in one sled transaction, each all or
    /// nothing: a batch whose precondition fails (checked against the
    /// store as the batches before it in the group left it) is left out
    /// and gets [`StoreError::Conflict`], the others are applied. `Err`:
    /// the transaction failed and nothing was applied.
    fn apply_together(&self, batches: &[Batch]) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        // A batch naming an invalid tree is refused before anything is
        // written; the others go on.
        let mut names: Vec<&str> = Vec::new();
        let mut valid: Vec<bool> = Vec::with_capacity(batches.len());
        let mut outcomes: Vec<Result<(), StoreError>> = Vec::with_capacity(batches.len());
        for batch in batches {
            match batch.tree_names() {
                Ok(own) => {
                    for name in own {
                        if !names.contains(&name) {
                            names.push(name);
                        }
                    }
                    valid.push(true);
                    outcomes.push(Ok(()));
                }
                Err(e) => {
                    valid.push(false);
                    outcomes.push(Err(e));
                }
            }
        }
        if names.is_empty() {
            return Ok(outcomes);
        }
        let handles = names
            .iter()
            .map(|n| self.sled_tree(n))
            .collect::<Result<Vec<Arc<SledTree>>, _>>()?;
        let trees: Vec<sled::Tree> = handles.iter().map(|t| t.tree.clone()).collect();
        // sled reruns the closure on conflicts with concurrent transactions;
        // it only reads `batches` and builds its answer afresh, so reruns
        // are harmless.
        let result = trees.as_slice().transaction(|txs| {
            let mut unmet: Vec<Option<Unmet>> = Vec::with_capacity(batches.len());
            for (batch, _) in batches.iter().zip(&valid).filter(|(_, ok)| **ok) {
                // The batch's writes are staged first and reach the
                // transaction only if all its preconditions hold; a step
                // reads what the batch's earlier steps staged.
                let mut staged: Staged<'_> = HashMap::new();
                let mut failed = None;
                for op in batch.ops() {
                    // A batch names a few trees: a scan beats hashing each step's.
                    let slot = names.iter().position(|n| *n == op.tree()).unwrap_or(0);
                    match op {
                        BatchOp::Put { key, value, .. } => {
                            staged.insert(
                                (slot, key.as_slice()),
                                Some(Cow::Borrowed(value.as_slice())),
                            );
                        }
                        BatchOp::Delete { key, .. } => {
                            staged.insert((slot, key.as_slice()), None);
                        }
                        BatchOp::Add { key, deltas, .. } => {
                            let value = match staged.get(&(slot, key.as_slice())) {
                                Some(v) => super::add_counters(v.as_deref(), deltas),
                                None => {
                                    let current = txs[slot].get(key.as_slice())?;
                                    super::add_counters(current.as_deref(), deltas)
                                }
                            };
                            staged.insert((slot, key.as_slice()), value.map(Cow::Owned));
                        }
                        BatchOp::Expect { tree, key, value } => {
                            let holds = match staged.get(&(slot, key.as_slice())) {
                                Some(v) => v.as_deref() == value.as_deref(),
                                None => {
                                    txs[slot].get(key.as_slice())?.as_deref() == value.as_deref()
                                }
                            };
                            if !holds {
                                failed = Some(Unmet {
                                    tree: tree.clone(),
                                    key: key.clone(),
                                });
                                break;
                            }
                        }
                    }
                }
                if failed.is_none() {
                    for ((slot, key), value) in staged {
                        match value {
                            Some(v) => txs[slot].insert(key, v.as_ref())?,
                            None => txs[slot].remove(key)?,
                        };
                    }
                }
                unmet.push(failed);
            }
            Ok::<_, ConflictableTransactionError<()>>(unmet)
        });
        // Counted whatever the outcome (a refused batch changed nothing,
        // and counting it costs a cache no more than one miss).
        for tree in &handles {
            tree.wrote();
        }
        let unmet = match result {
            Ok(unmet) => unmet,
            Err(TransactionError::Storage(e)) => return Err(e.into()),
            Err(TransactionError::Abort(())) => {
                return Err(StoreError::Background("transaction aborted".into()));
            }
        };
        let mut unmet = unmet.into_iter();
        for (outcome, ok) in outcomes.iter_mut().zip(&valid) {
            if *ok && let Some(Some(Unmet { tree, key })) = unmet.next() {
                *outcome = Err(StoreError::Conflict { tree, key });
            }
        }
        Ok(outcomes)
    }

    /// The commit of one group of the [`Committer`]: its batches in one
    /// transaction, then one flush for all of them. Every caller gets its
    /// batch's own outcome; a failed transaction or flush fails each.
    fn apply_group(&self, batches: &[Batch]) -> Vec<Result<(), StoreError>> {
        let mut outcomes = match self.apply_together(batches) {
            Ok(outcomes) => outcomes,
            Err(e) => {
                return batches
                    .iter()
                    .map(|_| Err(copy_error(&e, &self.dir)))
                    .collect();
            }
        };
        if outcomes.iter().any(Result::is_ok)
            && let Err(e) = self.flush()
        {
            for outcome in outcomes.iter_mut().filter(|o| o.is_ok()) {
                *outcome = Err(copy_error(&e, &self.dir));
            }
        }
        outcomes
    }

    /// [`Store::flush_durable`]: shared with the durable calls made at the
    /// same time when group commit is on.
    fn flush(&self) -> Result<(), StoreError> {
        if !self.group_commit {
            self.db.flush()?;
            return Ok(());
        }
        self.flushes.flush(&self.dir, || {
            self.db.flush()?;
            Ok(())
        })
    }
}

/// The same failure for another caller of a group: a conflict as it is,
/// anything else as an I/O error of the store directory with the same
/// text, keeping whether the disk is full.
fn copy_error(e: &StoreError, dir: &Path) -> StoreError {
    if let StoreError::Conflict { tree, key } = e {
        return StoreError::Conflict {
            tree: tree.clone(),
            key: key.clone(),
        };
    }
    let kind = if e.is_disk_full() {
        std::io::ErrorKind::StorageFull
    } else {
        std::io::ErrorKind::Other
    };
    StoreError::Io {
        path: dir.to_path_buf(),
        source: std::io::Error::new(kind, e.to_string()),
    }
}

/// The store's committer thread (see the module documentation): takes
/// every durable batch waiting, commits them as one group
/// ([`SledCore::apply_group`]) and hands each caller its outcome; the
/// batches handed over meanwhile wait in the channel for the next group.
/// Dropping it closes the channel: the thread commits what is still
/// waiting and ends, and the drop waits for it, so the database is closed
/// when the store is.
struct Committer {
    jobs: Mutex<Option<Sender<Job>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A durable batch and where its outcome goes.
type Job = (Batch, DurableDone);

impl Committer {
    fn start(core: Arc<SledCore>) -> std::io::Result<Self> {
        let (jobs, waiting) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("store-commit".into())
            .spawn(move || commit_groups(&core, &waiting))?;
        Ok(Self {
            jobs: Mutex::new(Some(jobs)),
            thread: Some(thread),
        })
    }

    /// Queues `batch`; gives it back if the thread is gone.
    fn submit(&self, batch: Batch, done: DurableDone) -> Result<(), (Batch, DurableDone)> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        match jobs.as_ref() {
            Some(jobs) => jobs.send((batch, done)).map_err(|e| e.0),
            None => Err((batch, done)),
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How long the committer lets batches gather before it takes the next
/// group, while callers commit together (the last group held more than
/// one batch). The request handlers stage their batches one after another
/// on a few threads, each a fraction of a millisecond apart; taken as
/// they come, nearly every batch was a group of its own (measured: 2.4
/// `sync_file_range` per CreateMessage, as without grouping). A lone
/// caller never waits: after a group of one the thread sleeps on the
/// channel and wakes for the next batch at once.
const GATHER: std::time::Duration = std::time::Duration::from_micros(300);

/// The committer thread's loop; returns once every sender is gone and
/// nothing waits.
fn commit_groups(core: &SledCore, waiting: &Receiver<Job>) {
    let mut together = false;
    loop {
        let first = if together {
            std::thread::sleep(GATHER);
            match waiting.try_recv() {
                Ok(job) => job,
                Err(TryRecvError::Empty) => {
                    together = false;
                    continue;
                }
                Err(TryRecvError::Disconnected) => return,
            }
        } else {
            match waiting.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let mut batches = vec![first.0];
        let mut dones = vec![first.1];
        while let Ok((batch, done)) = waiting.try_recv() {
            batches.push(batch);
            dones.push(done);
        }
        together = batches.len() > 1;
        // A panic in the commit fails the group's callers instead of
        // leaving them waiting, and the thread goes on with the next.
        let outcomes =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| core.apply_group(&batches)));
        drop(batches);
        let mut outcomes = match outcomes {
            Ok(outcomes) => outcomes.into_iter(),
            Err(_) => {
                tracing::error!("a group commit panicked; its batches fail");
                Vec::new().into_iter()
            }
        };
        for done in dones {
            done(
                outcomes.next().unwrap_or_else(|| {
                    Err(StoreError::Background("the group commit failed".into()))
                }),
            );
        }
    }
}

/// A batch's writes before they reach the transaction: by tree (its slot)
/// and key, the value (`None`: removed).
type Staged<'b> = HashMap<(usize, &'b [u8]), Option<Cow<'b, [u8]>>>;

/// Abort reason inside a sled transaction.
struct Unmet {
    tree: String,
    key: Vec<u8>,
}

impl Store for SledStore {
    fn tree(&self, name: &str) -> Result<Arc<dyn Tree>, StoreError> {
        Ok(self.core.sled_tree(name)?)
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        self.core
            .apply_together(std::slice::from_ref(&batch))?
            .pop()
            .unwrap_or(Ok(()))
    }

    /// With group commit on, hands the batch to the [`Committer`] and
    /// waits: the batches handed over together are applied in one
    /// transaction and made durable by one flush.
    fn apply_durable(&self, batch: Batch) -> Result<(), StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let done: DurableDone = Box::new(move |outcome| {
            let _ = tx.send(outcome);
        });
        match self.submit_durable(batch, done) {
            Ok(()) => rx.recv().unwrap_or_else(|_| {
                Err(StoreError::Background(
                    "the store's committer stopped before answering".into(),
                ))
            }),
            Err((batch, _)) => {
                self.apply(batch)?;
                self.flush_durable()
            }
        }
    }

    fn submit_durable(&self, batch: Batch, done: DurableDone) -> Result<(), (Batch, DurableDone)> {
        match &self.committer {
            Some(committer) => committer.submit(batch, done),
            None => Err((batch, done)),
        }
    }

    /// One sled batch per tree (sled applies each atomically); no
    /// transaction, whose write set would hold the whole batch twice.
    fn apply_bulk(&self, batch: Batch) -> Result<(), StoreError> {
        // Counters are read, added to and written back: that needs the
        // transaction.
        if batch
            .ops()
            .iter()
            .any(|op| matches!(op, BatchOp::Add { .. }))
        {
            return self.apply(batch);
        }
        let names = batch.tree_names()?;
        let mut per_tree: Vec<(Arc<SledTree>, sled::Batch)> = Vec::with_capacity(names.len());
        for name in &names {
            per_tree.push((self.core.sled_tree(name)?, sled::Batch::default()));
        }
        for op in batch.ops() {
            let slot = names.iter().position(|n| *n == op.tree()).unwrap_or(0);
            let target = &mut per_tree[slot].1;
            match op {
                BatchOp::Put { key, value, .. } => target.insert(key.as_slice(), value.as_slice()),
                BatchOp::Delete { key, .. } => target.remove(key.as_slice()),
                BatchOp::Expect { tree, key, .. } | BatchOp::Add { tree, key, .. } => {
                    return Err(StoreError::Conflict {
                        tree: tree.clone(),
                        key: key.clone(),
                    });
                }
            }
        }
        for (tree, b) in per_tree {
            let applied = tree.tree.apply_batch(b);
            tree.wrote();
            applied?;
        }
        Ok(())
    }

    fn next_id(&self, sequence: &str) -> Result<u64, StoreError> {
        validate_name(sequence)?;
        loop {
            let current = self.sequences.get(sequence)?;
            let n = match &current {
                Some(raw) => decode_u64(&format!("sequence `{sequence}`"), raw)?,
                None => 0,
            };
            let next = n
                .checked_add(1)
                .ok_or_else(|| StoreError::SequenceExhausted(sequence.to_owned()))?;
            let swapped = self.sequences.compare_and_swap(
                sequence,
                current,
                Some(&next.to_be_bytes()[..]),
            )?;
            if swapped.is_ok() {
                return Ok(next);
            }
        }
    }

    fn flush_durable(&self) -> Result<(), StoreError> {
        self.core.flush()
    }

    fn info(&self) -> StoreInfo {
        self.info.clone()
    }

    fn files(&self) -> Option<&FileDir> {
        self.files.as_ref()
    }

    fn writes_to(&self, tree: &str) -> Option<u64> {
        let tree = self.core.sled_tree(tree).ok()?;
        Some(tree.writes.load(Ordering::Acquire))
    }

    fn write_count(&self, tree: &str) -> Option<WriteCount> {
        let tree = self.core.sled_tree(tree).ok()?;
        Some(WriteCount(Arc::clone(&tree.writes)))
    }
}

struct SledTree {
    tree: sled::Tree,
    name: String,
    /// Writes applied to the tree through this store ([`Store::writes_to`]).
    writes: Arc<AtomicU64>,
}

impl SledTree {
    /// Counts a write, once it is applied: a reader that saw the count
    /// before it read the tree then sees the count moved (the count never
    /// moves ahead of the data it stands for).
    fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::Release);
    }
}

impl Tree for SledTree {
    fn name(&self) -> &str {
        &self.name
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let old = self.tree.insert(key, value);
        self.wrote();
        Ok(old?.map(|v| v.to_vec()))
    }

    fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let old = self.tree.remove(key);
        self.wrote();
        Ok(old?.map(|v| v.to_vec()))
    }

    fn compare_and_swap(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<CasOutcome, StoreError> {
        let swapped = self.tree.compare_and_swap(key, expected, new);
        self.wrote();
        Ok(match swapped? {
            Ok(()) => CasOutcome::Swapped,
            Err(e) => CasOutcome::Mismatch {
                current: e.current.map(|v| v.to_vec()),
            },
        })
    }

    fn iter(&self, range: KeyRange, order: Order) -> EntryIter {
        if range.is_empty() {
            return Box::new(std::iter::empty());
        }
        let iter = self.tree.range((range.start, range.end));
        let convert = |item: sled::Result<(sled::IVec, sled::IVec)>| {
            item.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(StoreError::from)
        };
        match order {
            Order::Ascending => Box::new(iter.map(convert)),
            Order::Descending => Box::new(iter.rev().map(convert)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::conformance;
    use super::*;
    use std::io::Write;
    use std::process::Command;

    /// Opens `dir` again. sled's background threads may hold the previous
    /// handle's directory lock for a moment after the last handle is
    /// dropped, so a lock failure is retried briefly.
    fn reopen(dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
        let mut attempts = 0;
        loop {
            match open_sled(dir) {
                Err(StoreError::Locked { .. }) if attempts < 100 => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }

    fn raw_open(dir: &Path) -> sled::Db {
        for _ in 0..100 {
            match sled::open(dir) {
                Err(sled::Error::Io(e)) if is_lock_error(&e) => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => return other.unwrap(),
            }
        }
        panic!("sled directory stayed locked");
    }

    fn raw_meta_put(dir: &Path, key: &[u8], value: &[u8]) {
        let db = raw_open(dir);
        db.open_tree(META_TREE).unwrap().insert(key, value).unwrap();
        db.flush().unwrap();
    }

    #[test]
    fn bulk_writes_land_per_tree_and_refuse_preconditions() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_sled(dir.path()).unwrap();
        let mut batch = Batch::new();
        batch
            .put("a", "k1", "v1")
            .put("b", "k2", "v2")
            .put("a", "k3", "v3");
        batch.delete("a", "k3");
        store.apply_bulk(batch).unwrap();
        let a = store.tree("a").unwrap();
        assert_eq!(a.get(b"k1").unwrap().as_deref(), Some(&b"v1"[..]));
        assert_eq!(a.get(b"k3").unwrap(), None);
        assert_eq!(
            store.tree("b").unwrap().get(b"k2").unwrap().as_deref(),
            Some(&b"v2"[..])
        );
        let mut guarded = Batch::new();
        guarded.put("a", "k4", "v4").expect_absent("a", "k1");
        assert!(matches!(
            store.apply_bulk(guarded.clone()),
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(a.get(b"k4").unwrap(), None, "nothing written");
        guarded.drop_preconditions();
        store.apply_bulk(guarded).unwrap();
        assert_eq!(a.get(b"k4").unwrap().as_deref(), Some(&b"v4"[..]));
    }

    #[test]
    fn conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        conformance::all(open_sled(dir.path()).unwrap());
    }

    #[test]
    fn new_store_records_format_and_creator() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/store");
        let info = open_sled(&path).unwrap().info();
        assert_eq!(info.backend, "sled");
        assert_eq!(info.format_version, FORMAT_VERSION);
        assert_eq!(info.created_by, CREATED_BY);
        assert!(info.persistent);
        assert!(CREATED_BY.starts_with("isds-gateway "));
        // Reopening keeps the creator.
        let info = reopen(&path).unwrap().info();
        assert_eq!(info.created_by, CREATED_BY);
    }

    #[test]
    fn refuses_unknown_format_version() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open_sled(dir.path()).unwrap();
            store.tree("boxes").unwrap().insert(b"k", b"v").unwrap();
            store.flush_durable().unwrap();
        }
        raw_meta_put(dir.path(), KEY_FORMAT_VERSION, &99u32.to_be_bytes());
        match reopen(dir.path()) {
            Err(StoreError::FormatVersion { found, supported }) => {
                assert_eq!(found, 99);
                assert_eq!(supported, FORMAT_VERSION);
            }
            Err(e) => panic!("unexpected error: {e}"),
            Ok(_) => panic!("store with format version 99 was opened"),
        }
        raw_meta_put(dir.path(), KEY_FORMAT_VERSION, b"\x01");
        assert!(matches!(reopen(dir.path()), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn upgrades_a_readable_older_format_version_in_place() {
        // The oldest and the latest before this one.
        for old in [1u32, FORMAT_VERSION - 1] {
            assert!(super::super::UPGRADABLE_FROM.contains(&old));
            let dir = tempfile::tempdir().unwrap();
            {
                let store = open_sled(dir.path()).unwrap();
                store.tree("boxes").unwrap().insert(b"k", b"v").unwrap();
                store.flush_durable().unwrap();
            }
            raw_meta_put(dir.path(), KEY_FORMAT_VERSION, &old.to_be_bytes());
            let store = reopen(dir.path()).unwrap();
            assert_eq!(store.info().format_version, FORMAT_VERSION);
            assert_eq!(
                store.tree("boxes").unwrap().get(b"k").unwrap().as_deref(),
                Some(&b"v"[..])
            );
            drop(store);
            // Recorded: the next open finds the current version.
            assert_eq!(
                reopen(dir.path()).unwrap().info().format_version,
                FORMAT_VERSION
            );
        }
    }

    #[test]
    fn refuses_data_without_format_version() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = raw_open(dir.path());
            db.open_tree("boxes").unwrap().insert(b"k", b"v").unwrap();
            db.flush().unwrap();
        }
        match reopen(dir.path()) {
            Err(StoreError::Corrupt(msg)) => assert!(msg.contains("boxes"), "{msg}"),
            Err(e) => panic!("unexpected error: {e}"),
            Ok(_) => panic!("versionless store with data was opened"),
        }
    }

    #[test]
    fn ids_stay_unique_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open_sled(dir.path()).unwrap();
            for expected in 1..=5 {
                assert_eq!(store.next_id("messages").unwrap(), expected);
            }
            store.flush_durable().unwrap();
        }
        let store = reopen(dir.path()).unwrap();
        assert_eq!(store.next_id("messages").unwrap(), 6);
        assert_eq!(store.next_id("other").unwrap(), 1);
    }

    #[test]
    fn data_survives_reopen_after_apply_durable() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open_sled(dir.path()).unwrap();
            let mut b = Batch::new();
            b.put("boxes", "b1", "one").put("users", "u1", "uone");
            store.apply_durable(b).unwrap();
        }
        let store = reopen(dir.path()).unwrap();
        assert_eq!(
            store.tree("boxes").unwrap().get(b"b1").unwrap(),
            Some(b"one".to_vec())
        );
        assert_eq!(
            store.tree("users").unwrap().get(b"u1").unwrap(),
            Some(b"uone".to_vec())
        );
    }

    #[test]
    fn second_open_of_same_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let _first = open_sled(dir.path()).unwrap();
        match open_sled(dir.path()) {
            Err(StoreError::Locked { path }) => assert_eq!(path, dir.path()),
            Err(e) => panic!("unexpected error: {e}"),
            Ok(_) => panic!("directory opened twice"),
        }
    }

    #[tokio::test]
    async fn async_helpers_apply_durably_and_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_sled(dir.path()).unwrap();
        let mut b = Batch::new();
        b.put("boxes", "a", "1");
        super::super::apply_durable_async(Arc::clone(&store), b)
            .await
            .unwrap();
        super::super::flush_durable_async(Arc::clone(&store))
            .await
            .unwrap();
        assert_eq!(
            store.tree("boxes").unwrap().get(b"a").unwrap(),
            Some(b"1".to_vec())
        );
    }

    /// Durable calls made together share flushes, and each returns only
    /// after a flush that started after its write; a failed flush fails
    /// every call that waited on it.
    #[test]
    fn concurrent_durable_calls_share_flushes() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let gate = Arc::new(FlushGate::default());
        let written = Arc::new(AtomicU64::new(0));
        let durable = Arc::new(AtomicU64::new(0));
        let flushes = Arc::new(AtomicU64::new(0));
        let calls = 16 * 20;
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (gate, written, durable, flushes) = (
                    Arc::clone(&gate),
                    Arc::clone(&written),
                    Arc::clone(&durable),
                    Arc::clone(&flushes),
                );
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let mine = written.fetch_add(1, Ordering::SeqCst) + 1;
                        gate.flush(Path::new("store"), || {
                            let covered = written.load(Ordering::SeqCst);
                            flushes.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(2));
                            durable.fetch_max(covered, Ordering::SeqCst);
                            Ok(())
                        })
                        .unwrap();
                        assert!(
                            durable.load(Ordering::SeqCst) >= mine,
                            "answered before its flush"
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let n = flushes.load(Ordering::SeqCst);
        assert!(n < calls, "{n} flushes for {calls} calls: none shared");
        // A failure reaches the caller that ran it and those that waited.
        let gate = Arc::new(FlushGate::default());
        let started = Arc::new(std::sync::Barrier::new(2));
        let leader = {
            let (gate, started) = (Arc::clone(&gate), Arc::clone(&started));
            std::thread::spawn(move || {
                gate.flush(Path::new("store"), || {
                    started.wait();
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    Err(StoreError::Corrupt("disk gone".into()))
                })
            })
        };
        started.wait();
        // Starts while the failing flush runs: waits for the next one.
        let follower = gate.flush(Path::new("store"), || {
            Err(StoreError::Corrupt("again".into()))
        });
        assert!(leader.join().unwrap().is_err());
        assert!(follower.is_err());
    }

    /// Batches committed as one group keep their own preconditions,
    /// checked in order against what the batches before them wrote: a
    /// refused batch writes nothing, the others are applied.
    #[test]
    fn grouped_batches_keep_their_own_preconditions() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(dir.path(), 1, None, true).unwrap();
        let mut first = Batch::new();
        first.put("a", "k", "1").add("n", "c", &[1]);
        let mut refused = Batch::new();
        refused.put("a", "x", "lost").expect_absent("a", "k");
        let mut invalid = Batch::new();
        invalid.put("bad name", "k", "v");
        let mut third = Batch::new();
        third
            .expect("a", "k", Some(b"1".to_vec()))
            .delete("a", "k")
            .add("n", "c", &[1])
            .put("a", "y", "kept")
            .expect("a", "y", Some(b"kept".to_vec()));
        let outcomes = store
            .core
            .apply_together(&[first, refused, invalid, third])
            .unwrap();
        assert!(outcomes[0].is_ok(), "{:?}", outcomes[0]);
        assert!(
            matches!(&outcomes[1], Err(StoreError::Conflict { tree, key }) if tree == "a" && key == b"k"),
            "{:?}",
            outcomes[1]
        );
        assert!(matches!(outcomes[2], Err(StoreError::InvalidName(_))));
        assert!(outcomes[3].is_ok(), "{:?}", outcomes[3]);
        let a = store.tree("a").unwrap();
        assert_eq!(a.get(b"k").unwrap(), None);
        assert_eq!(a.get(b"x").unwrap(), None, "the refused batch wrote");
        assert_eq!(a.get(b"y").unwrap().as_deref(), Some(&b"kept"[..]));
        let c = store.tree("n").unwrap().get(b"c").unwrap().unwrap();
        assert_eq!(super::super::decode_counters(&c), Some(vec![2]));
    }

    /// Durable batches from many threads at once, conflicting with each
    /// other on one counter: each caller learns its own batch's outcome,
    /// and every applied batch is there after a reopen, none twice.
    #[test]
    fn concurrent_durable_batches_are_committed_in_groups() {
        const THREADS: usize = 16;
        const PER: usize = 25;
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open_sled(dir.path()).unwrap();
            let threads: Vec<_> = (0..THREADS)
                .map(|t| {
                    let store = Arc::clone(&store);
                    std::thread::spawn(move || {
                        let tree = store.tree("g").unwrap();
                        for i in 0..PER {
                            loop {
                                let cur = tree.get(b"counter").unwrap();
                                let n = cur.as_deref().map_or(0, |b| decode_u64("c", b).unwrap());
                                let mut b = Batch::new();
                                b.expect("g", "counter", cur)
                                    .put("g", "counter", (n + 1).to_be_bytes().to_vec())
                                    .put("g-log", format!("{t}/{i}"), n.to_be_bytes().to_vec());
                                match store.apply_durable(b) {
                                    Ok(()) => break,
                                    Err(StoreError::Conflict { .. }) => continue,
                                    Err(e) => panic!("{e}"),
                                }
                            }
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        }
        let store = reopen(dir.path()).unwrap();
        let total = (THREADS * PER) as u64;
        let counter = store.tree("g").unwrap().get(b"counter").unwrap().unwrap();
        assert_eq!(decode_u64("c", &counter).unwrap(), total);
        let log = store
            .tree("g-log")
            .unwrap()
            .range(KeyRange::all(), Order::Ascending, usize::MAX)
            .unwrap();
        assert_eq!(log.len() as u64, total);
        // Each counter value was taken by exactly one batch.
        let mut seen: Vec<u64> = log
            .iter()
            .map(|(_, v)| decode_u64("n", v).unwrap())
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..total).collect::<Vec<_>>());
    }

    const CRASH_DIR_ENV: &str = "ISDS_GATEWAY_TEST_CRASH_STORE_DIR";
    const CRASH_MARK: &str = "durable-writes-returned";

    /// Child half of `durable_writes_survive_process_abort`: writes, then
    /// aborts the process without running any destructor.
    #[test]
    #[ignore = "run as a child process by durable_writes_survive_process_abort"]
    fn crash_child() {
        let Ok(dir) = std::env::var(CRASH_DIR_ENV) else {
            return;
        };
        let store = open_sled(Path::new(&dir)).unwrap();
        let mut b = Batch::new();
        for i in 0..500u32 {
            b.put("docs", format!("doc/{i:04}"), vec![(i % 251) as u8; 300]);
        }
        store.apply_durable(b).unwrap();
        let id = store.next_id("messages").unwrap();
        let mut b = Batch::new();
        b.put("messages", id.to_be_bytes().to_vec(), "message one");
        store.apply_durable(b).unwrap();
        println!("{CRASH_MARK}");
        std::io::stdout().flush().unwrap();
        std::process::abort();
    }

    #[test]
    fn durable_writes_survive_process_abort() {
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let out = Command::new(exe)
            .args([
                "--exact",
                "store::sled_store::tests::crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_DIR_ENV, dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(CRASH_MARK),
            "child did not reach the crash point; stdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "child was supposed to abort");

        let store = reopen(dir.path()).unwrap();
        let docs = store.tree("docs").unwrap();
        let all = docs
            .scan_prefix(b"doc/", Order::Ascending, usize::MAX)
            .unwrap();
        assert_eq!(all.len(), 500);
        assert_eq!(all[7].1, vec![7u8; 300]);
        let msgs = store.tree("messages").unwrap();
        assert_eq!(
            msgs.get(&1u64.to_be_bytes()).unwrap(),
            Some(b"message one".to_vec())
        );
        assert_eq!(store.next_id("messages").unwrap(), 2);
    }
}
