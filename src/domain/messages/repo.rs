//! Typed access to data messages over the byte-oriented [`Store`].
//!
//! Layout (tree: key → value; box IDs are their 7 ASCII bytes, message IDs
//! 8 bytes big-endian, times 8 bytes as [`Timestamp::key`] so they sort):
//! - `messages`: id → [`Message`] (JSON, without document bytes)
//! - `documents`: id ++ u16 index ++ u32 chunk → the document's bytes in
//!   chunks of [`DOCUMENT_CHUNK`] (a document of 0 bytes has one empty
//!   chunk; stores written before chunking have id ++ u16 index → all
//!   bytes, still read); or, for a document of [`FILE_THRESHOLD`] bytes
//!   and more written by [`DocumentWriter`] to a store with a file
//!   directory ([`Store::files`]), id ++ u16 index ++ `F` → a reference
//!   (JSON: file name, size, SHA-256) to the file `<id>-<index>` there
//! - `received`: recipient box ++ submitted_at ++ id → empty
//! - `sent`: sender box ++ submitted_at ++ id → empty
//! - `pending_accept`: recipient box ++ id → empty (states 4 and 5, not yet
//!   delivered by a listing)
//! - `due`: due time ++ id ++ kind → empty (the lifecycle queue; kind
//!   [`DueKind`]); or, for the entries one listing's write queues at one
//!   time ([`ListingDeliveries`]), one shared entry keyed by the first of
//!   its messages with [`SHARED_DUE`] after the kind, the IDs of the others
//!   (8 bytes each, ascending) as value (format version 6)
//! - `state_changes`: box ++ change time ++ id ++ state → empty, for both the
//!   sender's and the recipient's box; or, for the deliveries of one
//!   listing's write ([`ListingDeliveries`]), one entry per box keyed by
//!   the first of its messages, with the IDs of the others (8 bytes each,
//!   ascending) as value (format version 5)
//! - `list_counts`: list (`r` received, `s` sent) ++ box ++ level ++ time
//!   bucket → how many entries of that list fall in the bucket, per state
//!   (counters, [`crate::store::decode_counters`], indexed by state code);
//!   buckets of 2^20, 2^27, 2^34 and 2^41 µs (about 1 s, 2 min, 5 h and 25
//!   days), so a page at any offset is found by adding up buckets instead
//!   of stepping over entries ([`list_received`]); kept exact by every
//!   write below, rebuilt at start by [`ensure_list_counts`] when absent
//!
//! `pending_accept` and `due` are derived from a message alone (its state
//! and times), so every write keeps them exact: [`insert_message`] adds a
//! message's entries, [`update_message`] swaps the old ones for the new.
//!
//! A delivery by listing ([`stage_deliver_by_listing`]) leaves the record
//! as it was and keeps the change (time and event) in the message's
//! `received` entry instead, with every index updated as for a rewritten
//! record: a listing that delivers 100,000 messages then writes small
//! entries only, not 100,000 records (whose rewrite was most of its
//! time). Every read here applies it ([`get_message`] and the lists
//! return the message as delivered), and the next rewrite of the record
//! takes it in and clears it from the entry, so what a reader sees is the
//! same as if the record had been rewritten.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::boxes::databox::BoxId;
use crate::domain::boxes::repo::RepoError;
use crate::domain::messages::message::{
    DocumentDigest, EnvelopeFields, Event, EventCode, Message, MessageId, MessageState, Party,
    Timestamp, deletion_due, fiction_due,
};
use crate::store::{Batch, FileDir, KeyRange, Order, Store, StoreError, Tree};

const MESSAGES: &str = "messages";
const DOCUMENTS: &str = "documents";
const RECEIVED: &str = "received";
const SENT: &str = "sent";
const PENDING_ACCEPT: &str = "pending_accept";
const DUE: &str = "due";
const STATE_CHANGES: &str = "state_changes";
const LIST_COUNTS: &str = "list_counts";

/// The key in `list_counts` saying the counts are complete (built once
/// for a store written before them, then kept by every write).
const COUNTS_BUILT: &[u8] = b"\x00built";

/// Bucket sizes of the list counts, coarsest last, as shifts of the
/// order-preserving time key (µs). Each level splits a bucket of the next
/// into 128, so finding a position visits at most 128 buckets per level
/// (plus the coarsest level's, one per 25 days of the box's history) and
/// the entries of one finest bucket (one second of arrivals).
const COUNT_SHIFTS: [u32; 4] = [20, 27, 34, 41];

/// Offsets below this are stepped over entry by entry: cheaper than
/// adding up buckets for the first pages.
const COUNT_SKIP_FROM: usize = 256;

/// The store sequence message IDs come from.
const DM_ID_SEQUENCE: &str = "dm_id";

/// What falls due in the lifecycle queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum DueKind {
    /// Acceptance by fiction (state 4 → 5).
    Fiction = 1,
    /// Deletion of the documents (accepted → 9).
    ContentDeletion = 2,
}

impl DueKind {
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(DueKind::Fiction),
            2 => Some(DueKind::ContentDeletion),
            _ => None,
        }
    }
}

/// One entry of the lifecycle queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DueEntry {
    pub at: Timestamp,
    pub id: MessageId,
    pub kind: DueKind,
}

impl DueEntry {
    fn key(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(17);
        k.extend_from_slice(&self.at.key());
        k.extend_from_slice(&self.id.key());
        k.push(self.kind as u8);
        k
    }

    fn from_key(key: &[u8]) -> Option<Self> {
        if key.len() != 17 {
            return None;
        }
        Some(DueEntry {
            at: Timestamp::from_key(&key[..8])?,
            id: MessageId::from_key(&key[8..16])?,
            kind: DueKind::from_code(key[16])?,
        })
    }
}

/// The mark after the kind that makes a `due` key a shared one: the
/// entries of several messages due at one time for one kind, the first
/// message's ID in the key and the others' in the value. Such a key is
/// never one a single message's change deletes (those are 17 bytes), so
/// the lifecycle queue removes it only once it has gone through all of
/// its messages ([`DueRound`]).
const SHARED_DUE: u8 = b'+';

/// The key of a shared entry of the queue for `first` and the others.
fn shared_due_key(at: Timestamp, first: MessageId, kind: DueKind) -> Vec<u8> {
    let mut k = DueEntry {
        at,
        id: first,
        kind,
    }
    .key();
    k.push(SHARED_DUE);
    k
}

/// The queue entries a message in its current state needs.
fn due_entries(msg: &Message) -> Vec<DueEntry> {
    due_entries_at(msg.id, msg.fiction_due(), msg.deletion_due())
}

/// The queue entries of message `id` with fiction and deletion due at
/// those times.
fn due_entries_at(
    id: MessageId,
    fiction: Option<Timestamp>,
    deletion: Option<Timestamp>,
) -> Vec<DueEntry> {
    let fiction = fiction.map(|at| DueEntry {
        at,
        id,
        kind: DueKind::Fiction,
    });
    let deletion = deletion.map(|at| DueEntry {
        at,
        id,
        kind: DueKind::ContentDeletion,
    });
    fiction.into_iter().chain(deletion).collect()
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain structs with string keys: serialising cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode_message(id: MessageId, bytes: &[u8]) -> Result<Message, RepoError> {
    serde_json::from_slice(bytes).map_err(|source| RepoError::Corrupt {
        what: format!("message {id}"),
        source,
    })
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn document_key(id: MessageId, index: u16) -> Vec<u8> {
    cat(&[&id.key(), &index.to_be_bytes()])
}

/// Bytes per stored piece of a document. sled keeps up to 16 entries in
/// one leaf and rewrites a leaf whole, so whole multi-megabyte documents
/// as single values made every write copy hundreds of megabytes; pieces
/// keep a leaf at a few megabytes at most.
pub const DOCUMENT_CHUNK: usize = 128 * 1024;

fn chunk_key(id: MessageId, index: u16, chunk: u32) -> Vec<u8> {
    cat(&[&id.key(), &index.to_be_bytes(), &chunk.to_be_bytes()])
}

/// The document index a `documents` key belongs to.
fn index_of_key(key: &[u8]) -> Option<u16> {
    let bytes: [u8; 2] = key.get(8..10)?.try_into().ok()?;
    Some(u16::from_be_bytes(bytes))
}

/// Stages the pieces of one document.
fn stage_document(batch: &mut Batch, id: MessageId, index: u16, doc: &[u8]) {
    if doc.is_empty() {
        batch.put(DOCUMENTS, chunk_key(id, index, 0), Vec::new());
        return;
    }
    for (n, piece) in doc.chunks(DOCUMENT_CHUNK).enumerate() {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        batch.put(DOCUMENTS, chunk_key(id, index, n), piece.to_vec());
    }
}

/// Documents of at least this many bytes are kept as files when the store
/// has a file directory ([`DocumentWriter`]); smaller ones stay in the
/// `documents` tree.
pub const FILE_THRESHOLD: usize = 256 * 1024;

/// Last byte of the key of a document kept as a file.
const FILE_MARK: u8 = b'F';

fn file_key(id: MessageId, index: u16) -> Vec<u8> {
    cat(&[&id.key(), &index.to_be_bytes(), &[FILE_MARK]])
}

fn is_file_key(key: &[u8]) -> bool {
    key.len() == 11 && key[10] == FILE_MARK
}

/// The name of the file of document `index` of message `id`.
fn file_name(id: MessageId, index: u16) -> String {
    format!("{id}-{index}")
}

/// The message and document index a file name stands for.
fn parse_file_name(name: &str) -> Option<(MessageId, u16)> {
    let (id, index) = name.split_once('-')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(id) || !all_digits(index) {
        return None;
    }
    Some((MessageId(id.parse().ok()?), index.parse().ok()?))
}

/// What the `documents` tree holds for a document kept as a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileRef {
    file: String,
    size: u64,
    /// SHA-256 of the bytes, lower-case hex.
    sha256: String,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes).into())
}

fn hex(digest: &DocumentDigest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn corrupt(what: String) -> RepoError {
    RepoError::Store(StoreError::Corrupt(what))
}

/// Reads a document kept as a file and checks it against its reference:
/// a missing, shortened or altered file is an error, never other bytes.
fn read_file_document(
    store: &dyn Store,
    id: MessageId,
    key: &[u8],
    value: &[u8],
) -> Result<Vec<u8>, RepoError> {
    let index = index_of_key(key).unwrap_or(0);
    let what = || format!("document {index} of message {id}");
    let reference: FileRef =
        serde_json::from_slice(value).map_err(|source| RepoError::Corrupt {
            what: what(),
            source,
        })?;
    let Some(files) = store.files() else {
        return Err(corrupt(format!(
            "{} is kept in file {}, but this store has no file directory",
            what(),
            reference.file
        )));
    };
    let Some(bytes) = files.read(&reference.file)? else {
        return Err(corrupt(format!(
            "{}: file {} is missing",
            what(),
            reference.file
        )));
    };
    if bytes.len() as u64 != reference.size || sha256_hex(&bytes) != reference.sha256 {
        return Err(corrupt(format!(
            "{}: file {} does not match its record (size {} instead of {}, or altered)",
            what(),
            reference.file,
            bytes.len(),
            reference.size
        )));
    }
    Ok(bytes)
}

/// Writes the large documents of new messages to the store's file
/// directory and stages everything else, then commits: the files are on
/// disk, names included, before the batch that references them is
/// applied. Files of a writer dropped without a successful
/// [`DocumentWriter::commit`] are removed again.
///
/// The same document (the same bytes in memory) given for several
/// messages is written once and linked under each message's name.
pub struct DocumentWriter<'s> {
    files: Option<&'s FileDir>,
    /// Files written so far, removed unless committed.
    written: Vec<String>,
    /// The first file written for each document, by its address and
    /// length: the messages of one request share documents.
    done: HashMap<(usize, usize), String>,
    /// The file written for each document, by message and document index.
    names: HashMap<(MessageId, u16), String>,
    committed: bool,
}

impl<'s> DocumentWriter<'s> {
    pub fn new(store: &'s dyn Store) -> Self {
        Self {
            files: store.files(),
            written: Vec::new(),
            done: HashMap::new(),
            names: HashMap::new(),
            committed: false,
        }
    }

    /// Whether any of `documents` would be kept as a file.
    pub fn writes_files(&self, documents: &[&[u8]]) -> bool {
        self.files.is_some() && documents.iter().any(|d| d.len() >= FILE_THRESHOLD)
    }

    /// Writes the files of the large documents of message `id` now (they
    /// do not depend on the rest of the message, so this can run while
    /// the documents are hashed); [`DocumentWriter::stage_insert_message`]
    /// with the same documents then only references them.
    pub fn write_documents(&mut self, id: MessageId, documents: &[&[u8]]) -> Result<(), RepoError> {
        let Some(files) = self.files else {
            return Ok(());
        };
        for (index, doc) in documents.iter().enumerate() {
            let index = u16::try_from(index).unwrap_or(u16::MAX);
            if doc.len() >= FILE_THRESHOLD && !self.names.contains_key(&(id, index)) {
                self.write_file(files, id, index, doc)?;
            }
        }
        Ok(())
    }

    /// [`stage_insert_message`], with documents of [`FILE_THRESHOLD`]
    /// bytes and more written to files (when the store has a file
    /// directory) and referenced. `digests` are the documents' SHA-256
    /// ([`crate::domain::messages::message::document_digests`]), recorded for the
    /// check on every read.
    pub fn stage_insert_message(
        &mut self,
        batch: &mut Batch,
        msg: &Message,
        documents: &[&[u8]],
        digests: &[DocumentDigest],
    ) -> Result<(), RepoError> {
        if digests.len() != documents.len() {
            // A caller's mistake; staging fewer documents would lose some.
            return Err(corrupt(format!(
                "message {}: {} documents but {} digests",
                msg.id,
                documents.len(),
                digests.len()
            )));
        }
        for ((position, doc), digest) in documents.iter().enumerate().zip(digests) {
            let index = u16::try_from(position).unwrap_or(u16::MAX);
            match self.files {
                Some(files) if doc.len() >= FILE_THRESHOLD => {
                    let file = match self.names.get(&(msg.id, index)) {
                        Some(name) => name.clone(),
                        None => self.write_file(files, msg.id, index, doc)?,
                    };
                    let reference = FileRef {
                        file,
                        size: doc.len() as u64,
                        sha256: hex(digest),
                    };
                    batch.put(DOCUMENTS, file_key(msg.id, index), encode(&reference));
                }
                _ => stage_document(batch, msg.id, index, doc),
            }
        }
        stage_message_record(batch, msg);
        Ok(())
    }

    /// Writes (or links, for a document written before) the file of
    /// document `index` of message `id`; returns its name.
    fn write_file(
        &mut self,
        files: &FileDir,
        id: MessageId,
        index: u16,
        doc: &[u8],
    ) -> Result<String, RepoError> {
        let name = file_name(id, index);
        let identity = (doc.as_ptr() as usize, doc.len());
        match self.done.get(&identity) {
            Some(first) => files.link(first, &name)?,
            None => files.write(&name, doc)?,
        }
        self.written.push(name.clone());
        self.done.entry(identity).or_insert_with(|| name.clone());
        self.names.insert((id, index), name.clone());
        Ok(name)
    }

    /// Whether a document was written to a file (the batch then has to
    /// go through [`DocumentWriter::commit`]).
    pub fn wrote_files(&self) -> bool {
        !self.written.is_empty()
    }

    /// Makes the files' names durable, then applies `batch` durably.
    /// [`RepoError::Conflict`] when a precondition failed (nothing
    /// written, files removed).
    pub fn commit(mut self, store: &dyn Store, batch: Batch) -> Result<(), RepoError> {
        if let (Some(files), false) = (self.files, self.written.is_empty()) {
            files.sync()?;
        }
        commit(store, batch)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for DocumentWriter<'_> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if let Some(files) = self.files {
            for name in &self.written {
                if let Err(err) = files.remove(name) {
                    tracing::warn!(file = %name, error = %err, "could not remove an unused document file");
                }
            }
        }
    }
}

/// Removes the files of a message's documents, once no stored record
/// refers to them any more (content deleted, committed). The deletion is
/// made durable first, so a crash cannot leave a record whose file is
/// gone. A failure here loses nothing: it is logged, and the files are
/// swept at the next start ([`sweep_document_files`]).
fn remove_document_files(store: &dyn Store, msg: &Message) {
    let Some(files) = store.files() else {
        return;
    };
    let count = u16::try_from(msg.documents.len()).unwrap_or(u16::MAX);
    let names: Vec<String> = (0..count)
        .map(|index| file_name(msg.id, index))
        .filter(|name| files.path().join(name).exists())
        .collect();
    if names.is_empty() {
        return;
    }
    if let Err(err) = store.flush_durable() {
        tracing::warn!(message = %msg.id, error = %err, "document files kept: the deletion is not durable yet");
        return;
    }
    for name in &names {
        if let Err(err) = files.remove(name) {
            tracing::warn!(file = %name, error = %err, "could not remove a deleted document's file");
        }
    }
}

/// Removes the files in the store's file directory that no record refers
/// to: left by a crash between writing a message's files and committing
/// it. Only for when nothing else writes (at start). Returns how many
/// were removed.
pub fn sweep_document_files(store: &dyn Store) -> Result<usize, RepoError> {
    let Some(files) = store.files() else {
        return Ok(0);
    };
    let documents = store.tree(DOCUMENTS)?;
    let mut removed = 0;
    for name in files.names()? {
        let Some((id, index)) = parse_file_name(&name) else {
            continue;
        };
        let referenced = match documents.get(&file_key(id, index))? {
            Some(value) => serde_json::from_slice::<FileRef>(&value).is_ok_and(|r| r.file == name),
            None => false,
        };
        if !referenced {
            files.remove(&name)?;
            removed += 1;
        }
    }
    if removed > 0 {
        files.sync()?;
    }
    Ok(removed)
}

fn box_time_id_key(box_id: &BoxId, at: Timestamp, id: MessageId) -> Vec<u8> {
    cat(&[box_id.as_str().as_bytes(), &at.key(), &id.key()])
}

fn pending_key(box_id: &BoxId, id: MessageId) -> Vec<u8> {
    cat(&[box_id.as_str().as_bytes(), &id.key()])
}

fn state_change_key(box_id: &BoxId, at: Timestamp, id: MessageId, state: MessageState) -> Vec<u8> {
    cat(&[
        box_id.as_str().as_bytes(),
        &at.key(),
        &id.key(),
        &[state.code()],
    ])
}

/// [`Store::apply_durable`] of a batch staged here, on a thread that may
/// block; [`RepoError::Conflict`] when a precondition failed (nothing
/// written).
pub fn commit(store: &dyn Store, batch: Batch) -> Result<(), RepoError> {
    store.apply_durable(batch).map_err(commit_error)
}

/// [`Store::apply_durable`] of a batch staged here, for async code: the
/// task waits for the outcome without holding a thread when the store
/// commits on its own ([`crate::store::apply_durable_async`]).
/// [`RepoError::Conflict`] when a precondition failed (nothing written).
pub async fn commit_async(store: Arc<dyn Store>, batch: Batch) -> Result<(), RepoError> {
    crate::store::apply_durable_async(store, batch)
        .await
        .map_err(commit_error)
}

fn commit_error(e: StoreError) -> RepoError {
    match e {
        StoreError::Conflict { .. } => RepoError::Conflict(e.to_string()),
        other => RepoError::Store(other),
    }
}

/// A fresh message ID. The caller must make the message that uses it
/// durable before showing the ID to anyone (see [`Store::next_id`]).
pub fn next_message_id(store: &dyn Store) -> Result<MessageId, RepoError> {
    Ok(MessageId(store.next_id(DM_ID_SEQUENCE)? + MessageId::BASE))
}

/// Stages a new message: the record, its documents (in order) and every
/// index entry; the ID must be unused.
pub fn stage_insert_message<D: AsRef<[u8]>>(batch: &mut Batch, msg: &Message, documents: &[D]) {
    for (index, doc) in documents.iter().enumerate() {
        let index = u16::try_from(index).unwrap_or(u16::MAX);
        stage_document(batch, msg.id, index, doc.as_ref());
    }
    stage_message_record(batch, msg);
}

/// Stages a new message's record and index entries, without documents.
fn stage_message_record(batch: &mut Batch, msg: &Message) {
    let id = msg.id;
    batch.expect_absent(MESSAGES, id.key());
    batch.put(MESSAGES, id.key(), encode(msg));
    stage_list_entries(batch, msg);
    if awaits_delivery(msg.state) {
        batch.put(
            PENDING_ACCEPT,
            pending_key(&msg.recipient.box_id, id),
            Vec::new(),
        );
    }
    for entry in due_entries(msg) {
        batch.put(DUE, entry.key(), Vec::new());
    }
    let at = msg.delivery_time.unwrap_or(msg.submitted_at);
    stage_state_change(batch, msg, at);
    stage_list_counts(batch, msg, msg.state, 1);
}

/// The order-preserving time key of a list entry as a number.
fn time_key(at: Timestamp) -> u64 {
    u64::from_be_bytes(at.key())
}

fn direction_byte(dir: Direction) -> u8 {
    match dir {
        Direction::Received => b'r',
        Direction::Sent => b's',
    }
}

fn count_key(dir: Direction, box_id: &[u8], level: usize, bucket: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(17);
    key.push(direction_byte(dir));
    key.extend_from_slice(box_id);
    key.push(level as u8);
    key.extend_from_slice(&bucket.to_be_bytes());
    key
}

/// Adds `delta` messages in `state` to every bucket holding `msg`'s entry,
/// in the received and the sent list.
fn stage_list_counts(batch: &mut Batch, msg: &Message, state: MessageState, delta: i64) {
    for (dir, box_id) in [
        (Direction::Received, &msg.recipient.box_id),
        (Direction::Sent, &msg.sender.box_id),
    ] {
        stage_count(
            batch,
            dir,
            box_id.as_str().as_bytes(),
            msg.submitted_at,
            state,
            delta,
        );
    }
}

fn stage_count(
    batch: &mut Batch,
    dir: Direction,
    box_id: &[u8],
    at: Timestamp,
    state: MessageState,
    delta: i64,
) {
    let code = usize::from(state.code()).min(10);
    let mut deltas = [0i64; 11];
    deltas[code] = delta;
    let tk = time_key(at);
    for (level, shift) in COUNT_SHIFTS.iter().enumerate() {
        batch.add(
            LIST_COUNTS,
            count_key(dir, box_id, level, tk >> shift),
            &deltas[..=code],
        );
    }
}

/// Puts the message's entries in the received and sent lists, each with
/// its [`ListSummary`] as value, so a filtered list reads only the messages
/// it returns.
fn stage_list_entries(batch: &mut Batch, msg: &Message) {
    batch.put(
        RECEIVED,
        box_time_id_key(&msg.recipient.box_id, msg.submitted_at, msg.id),
        ListSummary::of(msg, Direction::Received).encode(),
    );
    batch.put(
        SENT,
        box_time_id_key(&msg.sender.box_id, msg.submitted_at, msg.id),
        ListSummary::of(msg, Direction::Sent).encode(),
    );
}

/// What a list filter looks at, kept as the value of a list index entry:
/// the state and the org unit of the list's side (the recipient's for
/// received messages, the sender's for sent ones).
///
/// In a received entry it also keeps a delivery by listing not yet taken
/// into the record ([`ListedDelivery`]); `state` is then the state after it.
///
/// Encoding: state (1 byte), 1 if an org unit number follows (1 byte), the
/// number (8 bytes big-endian, present or zero), then a mark: 0 nothing
/// follows, 1 the org unit name follows (UTF-8), 2 a delivery follows
/// (time key, 8 bytes, and event code, 1 byte), 3 a delivery and then the
/// org unit name. Entries written before summaries existed are empty and
/// decode to `None`: the list then reads the message itself.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ListSummary {
    state: MessageState,
    org_unit_num: Option<i64>,
    org_unit: Option<String>,
    delivery: Option<ListedDelivery>,
}

/// A delivery by listing kept in the received entry of a message whose
/// record still shows it waiting (state 4 or 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ListedDelivery {
    at: Timestamp,
    /// EV11, EV12 or EV13: who listed.
    event: EventCode,
}

impl ListedDelivery {
    /// The record as the delivery leaves it: state 6 with the listing's
    /// event; a message in state 4 gets the listing's time as its
    /// acceptance time, one accepted by fiction keeps its own. A record
    /// no longer waiting has taken it in already.
    fn apply(&self, msg: &mut Message) {
        if !awaits_delivery(msg.state) {
            return;
        }
        if msg.state == MessageState::Delivered {
            msg.acceptance_time = Some(self.at);
        }
        msg.state = MessageState::AcceptedByLogin;
        msg.events.push(Event::new(self.at, self.event));
    }

    fn event_code(event: EventCode) -> u8 {
        match event {
            EventCode::EV11 => 11,
            EventCode::EV12 => 12,
            EventCode::EV13 => 13,
            // Only the listing events are kept here.
            _ => 0,
        }
    }

    fn event_from(code: u8) -> Option<EventCode> {
        match code {
            11 => Some(EventCode::EV11),
            12 => Some(EventCode::EV12),
            13 => Some(EventCode::EV13),
            _ => None,
        }
    }
}

impl ListSummary {
    fn of(msg: &Message, dir: Direction) -> Self {
        let (unit, unit_num) = match dir {
            Direction::Received => (
                &msg.envelope.recipient_org_unit,
                msg.envelope.recipient_org_unit_num,
            ),
            Direction::Sent => (
                &msg.envelope.sender_org_unit,
                msg.envelope.sender_org_unit_num,
            ),
        };
        Self {
            state: msg.state,
            org_unit_num: unit_num,
            org_unit: unit.clone(),
            delivery: None,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(21);
        out.push(self.state.code());
        out.push(u8::from(self.org_unit_num.is_some()));
        out.extend_from_slice(&self.org_unit_num.unwrap_or(0).to_be_bytes());
        let mark = u8::from(self.org_unit.is_some()) | (u8::from(self.delivery.is_some()) << 1);
        out.push(mark);
        if let Some(d) = &self.delivery {
            out.extend_from_slice(&d.at.key());
            out.push(ListedDelivery::event_code(d.event));
        }
        if let Some(unit) = &self.org_unit {
            out.extend_from_slice(unit.as_bytes());
        }
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let (&state, rest) = bytes.split_first()?;
        let (&has_num, rest) = rest.split_first()?;
        let num = i64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
        let (&mark, mut rest) = rest.get(8..)?.split_first()?;
        if mark > 3 {
            return None;
        }
        let delivery = if mark & 2 != 0 {
            let d = ListedDelivery {
                at: Timestamp::from_key(rest.get(..8)?)?,
                event: ListedDelivery::event_from(*rest.get(8)?)?,
            };
            rest = rest.get(9..)?;
            Some(d)
        } else {
            None
        };
        Some(Self {
            state: MessageState::try_from(state).ok()?,
            org_unit_num: (has_num == 1).then_some(num),
            org_unit: if mark & 1 != 0 {
                Some(String::from_utf8(rest.to_vec()).ok()?)
            } else if rest.is_empty() {
                None
            } else {
                return None;
            },
            delivery,
        })
    }

    fn matches(&self, q: &ListQuery) -> bool {
        summary_matches(self.state, self.org_unit.as_deref(), self.org_unit_num, q)
    }
}

fn stage_state_change(batch: &mut Batch, msg: &Message, at: Timestamp) {
    for box_id in [&msg.sender.box_id, &msg.recipient.box_id] {
        batch.put(
            STATE_CHANGES,
            state_change_key(box_id, at, msg.id, msg.state),
            Vec::new(),
        );
    }
}

/// Stores a new message with its documents and index entries, atomically
/// and durably. Fails with [`RepoError::Exists`] if the ID is taken.
pub fn insert_message(
    store: &dyn Store,
    msg: &Message,
    documents: &[Vec<u8>],
) -> Result<(), RepoError> {
    let mut batch = Batch::new();
    stage_insert_message(&mut batch, msg, documents);
    commit(store, batch).map_err(|e| match e {
        RepoError::Conflict(_) => RepoError::Exists(format!("message {}", msg.id)),
        other => other,
    })
}

/// The key of a message's entry in the received list.
fn received_key(msg: &Message) -> Vec<u8> {
    box_time_id_key(&msg.recipient.box_id, msg.submitted_at, msg.id)
}

/// Applies to a decoded record the delivery by listing its received entry
/// (`entry`, the stored value) keeps, if any.
fn apply_listed(msg: &mut Message, entry: Option<&[u8]>) {
    if let Some(delivery) = entry
        .and_then(ListSummary::decode)
        .and_then(|summary| summary.delivery)
    {
        delivery.apply(msg);
    }
}

/// [`apply_listed`] with the entry read from the received list.
fn apply_listed_from(received: &dyn Tree, msg: &mut Message) -> Result<(), RepoError> {
    let entry = received.get(&received_key(msg))?;
    apply_listed(msg, entry.as_deref());
    Ok(())
}

/// A message as stored: its record's bytes and its received entry's value
/// (for [`stage_update_read`] and [`stage_deliver_by_listing`], which
/// require both unchanged when their batch is applied).
#[derive(Debug, Clone)]
pub struct StoredMessage {
    record: Vec<u8>,
    entry: Option<Vec<u8>>,
}

impl StoredMessage {
    /// Whether the received entry keeps a delivery the record lacks.
    fn has_listed_delivery(&self) -> bool {
        self.entry
            .as_deref()
            .and_then(ListSummary::decode)
            .is_some_and(|summary| summary.delivery.is_some())
    }
}

/// The message as it stands (a delivery kept in its received entry
/// applied) with what is stored for it.
fn load(store: &dyn Store, id: MessageId) -> Result<Option<(Message, StoredMessage)>, RepoError> {
    let Some(record) = store.tree(MESSAGES)?.get(&id.key())? else {
        return Ok(None);
    };
    let mut msg = decode_message(id, &record)?;
    let entry = store.tree(RECEIVED)?.get(&received_key(&msg))?;
    apply_listed(&mut msg, entry.as_deref());
    Ok(Some((msg, StoredMessage { record, entry })))
}

pub fn get_message(store: &dyn Store, id: MessageId) -> Result<Option<Message>, RepoError> {
    Ok(load(store, id)?.map(|(msg, _)| msg))
}

/// How many messages are in each state (indexed by state code), for the
/// inspector's charts and the metrics.
pub fn count_by_state(store: &dyn Store) -> Result<[u64; 11], RepoError> {
    let mut counts = [0u64; 11];
    let received = store.tree(RECEIVED)?;
    for entry in store
        .tree(MESSAGES)?
        .iter(KeyRange::all(), Order::Ascending)
    {
        let (key, bytes) = entry?;
        let Some(id) = MessageId::from_key(&key) else {
            continue;
        };
        let mut msg = decode_message(id, &bytes)?;
        if awaits_delivery(msg.state) {
            apply_listed_from(received.as_ref(), &mut msg)?;
        }
        counts[usize::from(msg.state.code())] += 1;
    }
    Ok(counts)
}

/// The bytes of document `index` (from 0) of a message; `None` when there
/// is no such document or the content was deleted.
pub fn get_document(
    store: &dyn Store,
    id: MessageId,
    index: u16,
) -> Result<Option<Vec<u8>>, RepoError> {
    let mut doc: Option<Vec<u8>> = None;
    for entry in store
        .tree(DOCUMENTS)?
        .iter(KeyRange::prefix(&document_key(id, index)), Order::Ascending)
    {
        let (key, piece) = entry?;
        if is_file_key(&key) {
            return Ok(Some(read_file_document(store, id, &key, &piece)?));
        }
        match &mut doc {
            Some(d) => d.extend_from_slice(&piece),
            None => doc = Some(piece),
        }
    }
    Ok(doc)
}

/// Every stored document of a message, in order.
pub fn get_documents(store: &dyn Store, id: MessageId) -> Result<Vec<Vec<u8>>, RepoError> {
    let mut docs: Vec<Vec<u8>> = Vec::new();
    let mut current: Option<u16> = None;
    for entry in store
        .tree(DOCUMENTS)?
        .iter(KeyRange::prefix(&id.key()), Order::Ascending)
    {
        let (key, mut piece) = entry?;
        let index = index_of_key(&key);
        if is_file_key(&key) {
            piece = read_file_document(store, id, &key, &piece)?;
        }
        match docs.last_mut() {
            Some(doc) if index == current => doc.extend_from_slice(&piece),
            _ => {
                current = index;
                docs.push(piece);
            }
        }
    }
    Ok(docs)
}

/// Stages a change of a message from `before` to `after`: the record, the
/// pending and due entries the change makes (un)necessary, a state change
/// entry for both boxes at `at` when the state changed, and removal of the
/// documents when `after` has them deleted.
///
/// The stored message must be `before` now ([`RepoError::Conflict`]
/// otherwise), and the batch requires its stored bytes unchanged when
/// applied. (Comparing decoded values, not re-encoded bytes, keeps records
/// written by an older build with fewer fields updatable.)
pub fn stage_update_message(
    store: &dyn Store,
    batch: &mut Batch,
    before: &Message,
    after: &Message,
    at: Timestamp,
) -> Result<(), RepoError> {
    let id = after.id;
    let loaded = load(store, id)?;
    let raw = match loaded {
        Some((current, raw)) if current == *before => Some(raw),
        _ => None,
    };
    stage_update_read(store, batch, raw, before, after, at)
}

/// [`stage_update_message`] for a caller that has just read the message
/// as `before` with what is stored for it, `raw` ([`get_message_raw`]):
/// one read and one decode fewer.
pub fn stage_update_read(
    store: &dyn Store,
    batch: &mut Batch,
    raw: Option<StoredMessage>,
    before: &Message,
    after: &Message,
    at: Timestamp,
) -> Result<(), RepoError> {
    let id = after.id;
    let Some(raw) = raw.filter(|_| before.id == id) else {
        return Err(RepoError::Conflict(format!("message {id} changed")));
    };
    // A delivery kept in the received entry is taken into the record now,
    // and the entry rewritten without it.
    let listed = raw.has_listed_delivery();
    batch.expect(MESSAGES, id.key(), Some(raw.record));
    batch.expect(RECEIVED, received_key(before), raw.entry);
    batch.put(MESSAGES, id.key(), encode(after));
    let was_pending = awaits_delivery(before.state);
    let is_pending = awaits_delivery(after.state);
    if was_pending && !is_pending {
        batch.delete(PENDING_ACCEPT, pending_key(&before.recipient.box_id, id));
    } else if is_pending && !was_pending {
        batch.put(
            PENDING_ACCEPT,
            pending_key(&after.recipient.box_id, id),
            Vec::new(),
        );
    }
    let old_due = due_entries(before);
    let new_due = due_entries(after);
    for e in old_due.iter().filter(|e| !new_due.contains(e)) {
        batch.delete(DUE, e.key());
    }
    for e in new_due.iter().filter(|e| !old_due.contains(e)) {
        batch.put(DUE, e.key(), Vec::new());
    }
    if before.state != after.state {
        stage_state_change(batch, after, at);
        stage_list_entries(batch, after);
        stage_list_counts(batch, before, before.state, -1);
        stage_list_counts(batch, after, after.state, 1);
    } else if listed {
        stage_list_entries(batch, after);
    }
    if after.content_deleted && !before.content_deleted {
        for entry in store
            .tree(DOCUMENTS)?
            .iter(KeyRange::prefix(&id.key()), Order::Ascending)
        {
            batch.delete(DOCUMENTS, entry?.0);
        }
    }
    Ok(())
}

/// Stages the delivery of a waiting message (state 4 or 5, as read with
/// `raw` by [`get_message_raw`]) by a listing at `at` with `event`
/// (EV11-EV13): state 6, acceptance time `at` unless accepted by fiction,
/// the event. The record is left as it is: the delivery is kept in the
/// message's received entry (which every read applies) and the other
/// indexes change as for a rewritten record, so the write is a few small
/// entries. Requires the record and the entry unchanged when applied.
/// Returns the message as delivered. (A [`ListingDeliveries`] of one.)
pub fn stage_deliver_by_listing(
    batch: &mut Batch,
    raw: StoredMessage,
    before: &Message,
    at: Timestamp,
    event: EventCode,
) -> Result<Message, RepoError> {
    let mut deliveries = ListingDeliveries::new(at, event);
    deliveries.stage(batch, raw, &WaitingMessage::from(before))?;
    deliveries.finish(batch);
    let mut after = before.clone();
    ListedDelivery { at, event }.apply(&mut after);
    Ok(after)
}

/// What a delivery by listing reads of a stored record: the parties'
/// boxes, the envelope items that decide who may read it and what its
/// list entries show, the state and the times; the rest of the record
/// (documents, events, author, hash, names) is skipped unparsed. Fields
/// as in [`Message`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WaitingMessage {
    pub id: MessageId,
    sender: PartyBox,
    recipient: PartyBox,
    envelope: WaitingEnvelope,
    pub state: MessageState,
    submitted_at: Timestamp,
    delivery_time: Option<Timestamp>,
    acceptance_time: Option<Timestamp>,
    content_deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct PartyBox {
    box_id: BoxId,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
struct WaitingEnvelope {
    sender_org_unit: Option<String>,
    sender_org_unit_num: Option<i64>,
    recipient_org_unit: Option<String>,
    recipient_org_unit_num: Option<i64>,
    personal_delivery: bool,
    allow_subst_delivery: bool,
}

impl From<&Message> for WaitingMessage {
    fn from(m: &Message) -> Self {
        let e = &m.envelope;
        WaitingMessage {
            id: m.id,
            sender: PartyBox {
                box_id: m.sender.box_id.clone(),
            },
            recipient: PartyBox {
                box_id: m.recipient.box_id.clone(),
            },
            envelope: WaitingEnvelope {
                sender_org_unit: e.sender_org_unit.clone(),
                sender_org_unit_num: e.sender_org_unit_num,
                recipient_org_unit: e.recipient_org_unit.clone(),
                recipient_org_unit_num: e.recipient_org_unit_num,
                personal_delivery: e.personal_delivery,
                allow_subst_delivery: e.allow_subst_delivery,
            },
            state: m.state,
            submitted_at: m.submitted_at,
            delivery_time: m.delivery_time,
            acceptance_time: m.acceptance_time,
            content_deleted: m.content_deleted,
        }
    }
}

impl WaitingMessage {
    /// `dmPersonalDelivery`: only users with right 2 may read it.
    pub fn personal_delivery(&self) -> bool {
        self.envelope.personal_delivery
    }

    /// The lifecycle queue entries of the message as it is
    /// ([`due_entries`] of its record) and as a listing at `at` leaves it
    /// (state 6, accepted at `at` unless accepted by fiction before).
    fn due_before_and_after(&self, at: Timestamp) -> (Vec<DueEntry>, Vec<DueEntry>) {
        let before = due_entries_at(
            self.id,
            fiction_due(
                self.state,
                self.envelope.allow_subst_delivery,
                self.delivery_time,
            ),
            deletion_due(self.state, self.content_deleted, self.acceptance_time),
        );
        let accepted = if self.state == MessageState::Delivered {
            Some(at)
        } else {
            self.acceptance_time
        };
        let after = due_entries_at(
            self.id,
            None,
            deletion_due(
                MessageState::AcceptedByLogin,
                self.content_deleted,
                accepted,
            ),
        );
        (before, after)
    }

    fn summary(&self, dir: Direction, delivery: Option<ListedDelivery>) -> ListSummary {
        let e = &self.envelope;
        let (unit, unit_num) = match dir {
            Direction::Received => (&e.recipient_org_unit, e.recipient_org_unit_num),
            Direction::Sent => (&e.sender_org_unit, e.sender_org_unit_num),
        };
        ListSummary {
            state: MessageState::AcceptedByLogin,
            org_unit_num: unit_num,
            org_unit: unit.clone(),
            delivery,
        }
    }
}

/// The deliveries of one listing staged into one write: for each message
/// what [`stage_deliver_by_listing`] stages, except that what they share
/// is written once for the write: the list counts (one change per bucket,
/// not four per message and list), the state changes (one entry per box
/// for all its messages delivered, see [`state_changes`]) and the queue
/// entries for the deletion of their documents (one shared entry per due
/// time, see [`due_round`]), three small writes per message fewer.
pub struct ListingDeliveries {
    at: Timestamp,
    event: EventCode,
    /// Count key → per-state deltas.
    counts: std::collections::BTreeMap<Vec<u8>, [i64; 11]>,
    /// Box → the messages delivered that it sent or received.
    changed: std::collections::BTreeMap<BoxId, Vec<MessageId>>,
    /// Queue entries to add, by due time and kind.
    due: std::collections::BTreeMap<(Timestamp, DueKind), Vec<MessageId>>,
}

impl ListingDeliveries {
    pub fn new(at: Timestamp, event: EventCode) -> Self {
        Self {
            at,
            event,
            counts: Default::default(),
            changed: Default::default(),
            due: Default::default(),
        }
    }

    /// Stages one message's own entries; [`ListingDeliveries::finish`]
    /// stages the shared ones. The message must wait (state 4 or 5) with
    /// no delivery kept in its entry ([`RepoError::Conflict`] otherwise).
    pub fn stage(
        &mut self,
        batch: &mut Batch,
        raw: StoredMessage,
        before: &WaitingMessage,
    ) -> Result<(), RepoError> {
        let id = before.id;
        if !awaits_delivery(before.state) || raw.has_listed_delivery() {
            return Err(RepoError::Conflict(format!("message {id} changed")));
        }
        let delivery = ListedDelivery {
            at: self.at,
            event: self.event,
        };
        let key = box_time_id_key(&before.recipient.box_id, before.submitted_at, id);
        batch.expect(MESSAGES, id.key(), Some(raw.record));
        batch.expect(RECEIVED, key.clone(), raw.entry);
        batch.put(
            RECEIVED,
            key,
            before.summary(Direction::Received, Some(delivery)).encode(),
        );
        batch.put(
            SENT,
            box_time_id_key(&before.sender.box_id, before.submitted_at, id),
            before.summary(Direction::Sent, None).encode(),
        );
        batch.delete(PENDING_ACCEPT, pending_key(&before.recipient.box_id, id));
        let (old_due, new_due) = before.due_before_and_after(self.at);
        for e in old_due.iter().filter(|e| !new_due.contains(e)) {
            batch.delete(DUE, e.key());
        }
        for e in new_due.iter().filter(|e| !old_due.contains(e)) {
            self.due.entry((e.at, e.kind)).or_default().push(id);
        }
        for box_id in [&before.sender.box_id, &before.recipient.box_id] {
            self.changed.entry(box_id.clone()).or_default().push(id);
        }
        let tk = time_key(before.submitted_at);
        let was = usize::from(before.state.code()).min(10);
        let now = usize::from(MessageState::AcceptedByLogin.code()).min(10);
        for (dir, box_id) in [
            (Direction::Received, &before.recipient.box_id),
            (Direction::Sent, &before.sender.box_id),
        ] {
            for (level, shift) in COUNT_SHIFTS.iter().enumerate() {
                let key = count_key(dir, box_id.as_str().as_bytes(), level, tk >> shift);
                let deltas = self.counts.entry(key).or_default();
                deltas[was] -= 1;
                deltas[now] += 1;
            }
        }
        Ok(())
    }

    /// Stages what the messages staged share: their state changes (to 6
    /// at the listing's time, one entry per box), the list counts and the
    /// queue entries (one per due time and kind, shared when several
    /// messages have it).
    pub fn finish(self, batch: &mut Batch) {
        let state = MessageState::AcceptedByLogin;
        for (box_id, mut ids) in self.changed {
            // A message to its own box changes once for it.
            ids.sort_unstable();
            ids.dedup();
            let Some((&first, others)) = ids.split_first() else {
                continue;
            };
            batch.put(
                STATE_CHANGES,
                state_change_key(&box_id, self.at, first, state),
                id_list(others),
            );
        }
        for ((at, kind), mut ids) in self.due {
            ids.sort_unstable();
            ids.dedup();
            match ids.as_slice() {
                [] => {}
                [id] => {
                    batch.put(DUE, DueEntry { at, id: *id, kind }.key(), Vec::new());
                }
                [first, others @ ..] => {
                    batch.put(DUE, shared_due_key(at, *first, kind), id_list(others));
                }
            }
        }
        for (key, deltas) in self.counts {
            if let Some(last) = deltas.iter().rposition(|&d| d != 0) {
                batch.add(LIST_COUNTS, key, &deltas[..=last]);
            }
        }
    }
}

/// Message IDs one after the other, 8 bytes each (the value of a shared
/// entry).
fn id_list(ids: &[MessageId]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ids.len() * 8);
    for id in ids {
        out.extend_from_slice(&id.key());
    }
    out
}

/// Changes a message from `before` to `after` (see
/// [`stage_update_message`]), atomically and durably. Fails with
/// [`RepoError::Conflict`] (writing nothing) if the stored message is no
/// longer `before`.
pub fn update_message(
    store: &dyn Store,
    before: &Message,
    after: &Message,
    at: Timestamp,
) -> Result<(), RepoError> {
    let mut batch = Batch::new();
    stage_update_message(store, &mut batch, before, after, at)?;
    commit(store, batch)?;
    if after.content_deleted && !before.content_deleted {
        remove_document_files(store, before);
    }
    Ok(())
}

/// To be called after a batch staged by [`stage_update_message`] was
/// applied: removes the files of the documents the change deleted, if
/// any (after making the change durable).
pub fn after_update_applied(store: &dyn Store, before: &Message, after: &Message) {
    if after.content_deleted && !before.content_deleted {
        remove_document_files(store, before);
    }
}

/// Removes every document of a message (content deletion); the record,
/// hash and events stay.
pub fn delete_documents(store: &dyn Store, id: MessageId) -> Result<(), RepoError> {
    let tree = store.tree(DOCUMENTS)?;
    let mut batch = Batch::new();
    for entry in tree.iter(KeyRange::prefix(&id.key()), Order::Ascending) {
        let (key, _) = entry?;
        batch.delete(DOCUMENTS, key);
    }
    if !batch.is_empty() {
        commit(store, batch)?;
    }
    if let Some(msg) = get_message(store, id)? {
        remove_document_files(store, &msg);
    }
    Ok(())
}

/// A page of a box's received or sent messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub box_id: BoxId,
    /// Submitted at or after.
    pub from: Option<Timestamp>,
    /// Submitted at or before.
    pub to: Option<Timestamp>,
    /// States to include: bit `1 << state`; [`MessageState::ALL_MASK`] all.
    pub state_mask: u32,
    /// The first match to return, counting from 1.
    pub offset: usize,
    pub limit: usize,
    /// Only messages for (received) or from (sent) this org unit number.
    pub org_unit_num: Option<i64>,
    /// Only messages for (received) or from (sent) this org unit.
    pub org_unit: Option<String>,
}

impl ListQuery {
    /// Every message of the box, first page of `limit`.
    pub fn all(box_id: BoxId, limit: usize) -> Self {
        Self {
            box_id,
            from: None,
            to: None,
            state_mask: MessageState::ALL_MASK,
            offset: 1,
            limit,
            org_unit_num: None,
            org_unit: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Received,
    Sent,
}

/// Messages received by `q.box_id`, in submission order (then ID).
pub fn list_received(store: &dyn Store, q: &ListQuery) -> Result<Vec<Message>, RepoError> {
    list(store, q, Direction::Received)
}

/// Messages sent from `q.box_id`, in submission order (then ID).
pub fn list_sent(store: &dyn Store, q: &ListQuery) -> Result<Vec<Message>, RepoError> {
    list(store, q, Direction::Sent)
}

/// [`list_received`] as [`ListedMessage`]s: what a list record shows,
/// decoded without the rest of each record.
pub fn list_received_rows(
    store: &dyn Store,
    q: &ListQuery,
) -> Result<Vec<ListedMessage>, RepoError> {
    list(store, q, Direction::Received)
}

/// [`list_sent`] as [`ListedMessage`]s.
pub fn list_sent_rows(store: &dyn Store, q: &ListQuery) -> Result<Vec<ListedMessage>, RepoError> {
    list(store, q, Direction::Sent)
}

/// What a record of GetListOf{Received,Sent}Messages shows of a message
/// (`tRecord`: the envelope, state, size and times), decoded from the
/// stored record without its documents' descriptions, events, author,
/// hash and time-stamp token: a page of a list decodes 100 records, and
/// building those parts was most of its cost. Fields as in [`Message`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListedMessage {
    pub id: MessageId,
    pub sender: Party,
    pub recipient: Party,
    pub envelope: EnvelopeFields,
    pub attachment_size_kb: u64,
    pub state: MessageState,
    pub submitted_at: Timestamp,
    pub delivery_time: Option<Timestamp>,
    pub acceptance_time: Option<Timestamp>,
    #[serde(default)]
    pub vodz: bool,
}

impl From<&Message> for ListedMessage {
    fn from(m: &Message) -> Self {
        ListedMessage {
            id: m.id,
            sender: m.sender.clone(),
            recipient: m.recipient.clone(),
            envelope: m.envelope.clone(),
            attachment_size_kb: m.attachment_size_kb,
            state: m.state,
            submitted_at: m.submitted_at,
            delivery_time: m.delivery_time,
            acceptance_time: m.acceptance_time,
            vodz: m.vodz,
        }
    }
}

/// What [`list`] reads a stored record as: the whole [`Message`] or the
/// part a list record shows ([`ListedMessage`]).
trait ListItem: Sized {
    fn decode(id: MessageId, bytes: &[u8]) -> Result<Self, RepoError>;
    fn state(&self) -> MessageState;
    /// The received entry's delivery by listing, taken in as
    /// [`ListedDelivery::apply`] takes it into a record.
    fn take_delivery(&mut self, entry: Option<&[u8]>);
    /// What a list filter looks at ([`ListSummary::of`]).
    fn summary(&self, dir: Direction) -> ListSummary;
    /// Where its received entry is.
    fn received_key(&self) -> Vec<u8>;
}

impl ListItem for Message {
    fn decode(id: MessageId, bytes: &[u8]) -> Result<Self, RepoError> {
        decode_message(id, bytes)
    }
    fn state(&self) -> MessageState {
        self.state
    }
    fn take_delivery(&mut self, entry: Option<&[u8]>) {
        apply_listed(self, entry);
    }
    fn summary(&self, dir: Direction) -> ListSummary {
        ListSummary::of(self, dir)
    }
    fn received_key(&self) -> Vec<u8> {
        received_key(self)
    }
}

impl ListItem for ListedMessage {
    fn decode(id: MessageId, bytes: &[u8]) -> Result<Self, RepoError> {
        serde_json::from_slice(bytes).map_err(|source| RepoError::Corrupt {
            what: format!("message {id}"),
            source,
        })
    }
    fn state(&self) -> MessageState {
        self.state
    }
    fn take_delivery(&mut self, entry: Option<&[u8]>) {
        // As `ListedDelivery::apply`, without the event (a list record
        // shows none).
        let Some(delivery) = entry
            .and_then(ListSummary::decode)
            .and_then(|summary| summary.delivery)
        else {
            return;
        };
        if !awaits_delivery(self.state) {
            return;
        }
        if self.state == MessageState::Delivered {
            self.acceptance_time = Some(delivery.at);
        }
        self.state = MessageState::AcceptedByLogin;
    }
    fn summary(&self, dir: Direction) -> ListSummary {
        let (unit, unit_num) = match dir {
            Direction::Received => (
                &self.envelope.recipient_org_unit,
                self.envelope.recipient_org_unit_num,
            ),
            Direction::Sent => (
                &self.envelope.sender_org_unit,
                self.envelope.sender_org_unit_num,
            ),
        };
        ListSummary {
            state: self.state,
            org_unit_num: unit_num,
            org_unit: unit.clone(),
            delivery: None,
        }
    }
    fn received_key(&self) -> Vec<u8> {
        box_time_id_key(&self.recipient.box_id, self.submitted_at, self.id)
    }
}

/// The key range of a box ++ time index between two optional times
/// (inclusive).
fn box_time_range(box_id: &BoxId, from: Option<Timestamp>, to: Option<Timestamp>) -> KeyRange {
    let prefix = box_id.as_str().as_bytes();
    let start = match from {
        Some(t) => cat(&[prefix, &t.key()]),
        None => prefix.to_vec(),
    };
    let range = KeyRange::prefix(prefix);
    let range = KeyRange {
        start: std::ops::Bound::Included(start),
        end: range.end,
    };
    match to.and_then(|t| t.0.checked_add(1)).map(Timestamp) {
        Some(after) => KeyRange {
            end: std::ops::Bound::Excluded(cat(&[prefix, &after.key()])),
            ..range
        },
        None => range,
    }
}

fn list<T: ListItem>(
    store: &dyn Store,
    q: &ListQuery,
    dir: Direction,
) -> Result<Vec<T>, RepoError> {
    let mut out = Vec::new();
    if q.limit == 0 {
        return Ok(out);
    }
    let tree = match dir {
        Direction::Received => store.tree(RECEIVED)?,
        Direction::Sent => store.tree(SENT)?,
    };
    let prefix_len = 7;
    let messages = store.tree(MESSAGES)?;
    let received = store.tree(RECEIVED)?;
    let mut to_skip = q.offset.saturating_sub(1);
    let mut range = box_time_range(&q.box_id, q.from, q.to);
    // A deep page starts where the counts say, with at most a second of
    // entries left to step over; an org unit filter is not counted, so
    // such a page steps over the index entries (deciding each from its
    // summary, never reading the message).
    if to_skip >= COUNT_SKIP_FROM
        && q.org_unit_num.is_none()
        && q.org_unit.is_none()
        && counts_ready(store)?
    {
        let counter = ListCounter {
            counts: store.tree(LIST_COUNTS)?,
            list: tree.as_ref(),
            messages: messages.as_ref(),
            dir,
            box_id: &q.box_id,
            mask: q.state_mask & MessageState::ALL_MASK,
        };
        let before = match q.from {
            Some(from) => counter.rank(time_key(from))?,
            None => 0,
        };
        let (start, skip) =
            counter.select(before.saturating_add(u64::try_from(to_skip).unwrap_or(u64::MAX)))?;
        // The start may lie before `from`: the entries between are part
        // of `skip`, as they are of the position.
        range.start =
            std::ops::Bound::Included(cat(&[q.box_id.as_str().as_bytes(), &start.to_be_bytes()]));
        to_skip = usize::try_from(skip).unwrap_or(usize::MAX);
    }
    // Without a filter every index entry matches, so the entries before the
    // offset are skipped without reading their messages.
    let unfiltered = q.state_mask & MessageState::ALL_MASK == MessageState::ALL_MASK
        && q.org_unit_num.is_none()
        && q.org_unit.is_none();
    for entry in tree.iter(range, Order::Ascending) {
        let (key, value) = entry?;
        let Some(id) = key.get(prefix_len + 8..).and_then(MessageId::from_key) else {
            continue;
        };
        // Decided from the index entry where it carries a summary:
        // messages that do not match, or fall before the offset, are never
        // read. Entries without one (older stores) are decided on the
        // message itself.
        let summary = if unfiltered {
            None
        } else {
            ListSummary::decode(&value)
        };
        let decided = unfiltered || summary.is_some();
        if let Some(summary) = &summary
            && !summary.matches(q)
        {
            continue;
        }
        if decided && to_skip > 0 {
            to_skip -= 1;
            continue;
        }
        let Some(bytes) = messages.get(&id.key())? else {
            continue;
        };
        let mut msg = T::decode(id, &bytes)?;
        if awaits_delivery(msg.state()) {
            match dir {
                Direction::Received => msg.take_delivery(Some(&value)),
                Direction::Sent => {
                    let entry = received.get(&msg.received_key())?;
                    msg.take_delivery(entry.as_deref());
                }
            }
        }
        if !decided {
            if !msg.summary(dir).matches(q) {
                continue;
            }
            if to_skip > 0 {
                to_skip -= 1;
                continue;
            }
        }
        out.push(msg);
        if out.len() >= q.limit {
            break;
        }
    }
    Ok(out)
}

/// Whether the list counts are complete for this store.
fn counts_ready(store: &dyn Store) -> Result<bool, RepoError> {
    Ok(store.tree(LIST_COUNTS)?.get(COUNTS_BUILT)?.is_some())
}

/// Positions in one box's received or sent list by the list counts, for
/// the messages in the states of `mask`.
struct ListCounter<'a> {
    counts: Arc<dyn Tree>,
    list: &'a dyn Tree,
    messages: &'a dyn Tree,
    dir: Direction,
    box_id: &'a BoxId,
    mask: u32,
}

impl ListCounter<'_> {
    /// How many of the box's entries in a bucket are in the states wanted.
    fn wanted(&self, value: &[u8]) -> u64 {
        let counters = crate::store::decode_counters(value).unwrap_or_default();
        counters
            .iter()
            .enumerate()
            .filter(|(code, _)| *code < 32 && self.mask & (1 << code) != 0)
            .map(|(_, n)| *n)
            .sum()
    }

    /// The buckets of `level` from `first` up to (without) `end` (`None`:
    /// to the last), with their wanted counts.
    fn buckets(
        &self,
        level: usize,
        first: u64,
        end: Option<u64>,
    ) -> impl Iterator<Item = Result<(u64, u64), RepoError>> + '_ {
        let start = count_key(self.dir, self.box_id.as_str().as_bytes(), level, first);
        let stop = match end {
            Some(end) => std::ops::Bound::Excluded(count_key(
                self.dir,
                self.box_id.as_str().as_bytes(),
                level,
                end,
            )),
            None => {
                let mut level_prefix =
                    count_key(self.dir, self.box_id.as_str().as_bytes(), level, 0);
                level_prefix.truncate(level_prefix.len() - 8);
                match crate::store::prefix_successor(&level_prefix) {
                    Some(after) => std::ops::Bound::Excluded(after),
                    None => std::ops::Bound::Unbounded,
                }
            }
        };
        let range = KeyRange {
            start: std::ops::Bound::Included(start),
            end: stop,
        };
        self.counts.iter(range, Order::Ascending).map(move |entry| {
            let (key, value) = entry?;
            let bucket = key
                .get(key.len().saturating_sub(8)..)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| {
                    corrupt(format!("list count key {}", crate::store::show_key(&key)))
                })?;
            Ok((bucket, self.wanted(&value)))
        })
    }

    /// The wanted entries with a time key in `[from, to)`, counted one by
    /// one (at most one finest bucket's worth).
    fn count_entries(&self, from: u64, to: u64) -> Result<u64, RepoError> {
        let prefix = self.box_id.as_str().as_bytes();
        let range = KeyRange::between(
            cat(&[prefix, &from.to_be_bytes()]),
            cat(&[prefix, &to.to_be_bytes()]),
        );
        let mut n = 0;
        for entry in self.list.iter(range, Order::Ascending) {
            let (key, value) = entry?;
            let state = match ListSummary::decode(&value) {
                Some(summary) => Some(summary.state),
                None => match key.get(prefix.len() + 8..).and_then(MessageId::from_key) {
                    Some(id) => match self.messages.get(&id.key())? {
                        Some(bytes) => Some(decode_message(id, &bytes)?.state),
                        None => None,
                    },
                    None => None,
                },
            };
            if state.is_some_and(|s| self.mask & s.filter_bit() != 0) {
                n += 1;
            }
        }
        Ok(n)
    }

    /// How many wanted entries come before time key `at`.
    fn rank(&self, at: u64) -> Result<u64, RepoError> {
        let mut total = 0u64;
        // `low` is where the part not yet counted starts, aligned to the
        // level above the one being read.
        let mut low = 0u64;
        for level in (0..COUNT_SHIFTS.len()).rev() {
            let shift = COUNT_SHIFTS[level];
            let target = at >> shift;
            for bucket in self.buckets(level, low >> shift, Some(target)) {
                total = total.saturating_add(bucket?.1);
            }
            low = target << shift;
        }
        Ok(total.saturating_add(self.count_entries(low, at)?))
    }

    /// Where the wanted entry at position `target` (from 0) is: a time key
    /// to start reading the list from, and how many wanted entries to step
    /// over from there.
    fn select(&self, target: u64) -> Result<(u64, u64), RepoError> {
        let mut remaining = target;
        let mut low = 0u64;
        let top = COUNT_SHIFTS.len() - 1;
        for level in (0..COUNT_SHIFTS.len()).rev() {
            let shift = COUNT_SHIFTS[level];
            // The buckets of this level inside the bucket of the level
            // above that holds the target (all of them at the top).
            let end = (level < top).then(|| {
                let parent = COUNT_SHIFTS[level + 1];
                ((low >> parent) + 1)
                    .checked_shl(parent - shift)
                    .unwrap_or(u64::MAX)
            });
            let mut inside = None;
            for bucket in self.buckets(level, low >> shift, end) {
                let (bucket, count) = bucket?;
                if count > remaining {
                    inside = Some(bucket);
                    break;
                }
                remaining -= count;
            }
            match inside {
                Some(bucket) => low = bucket << shift,
                // Past the last entry (or counts that disagree): start
                // after everything counted, which finds nothing to return
                // or steps over what is left.
                None => {
                    return Ok((
                        end.map_or(u64::MAX, |e| e.checked_shl(shift).unwrap_or(u64::MAX)),
                        remaining,
                    ));
                }
            }
        }
        Ok((low, remaining))
    }
}

/// Makes the list counts complete: for a store written before them (or
/// whose build was interrupted), counts every list entry once. Only for
/// when nothing else writes (at start). Returns whether it built them.
pub fn ensure_list_counts(store: &dyn Store) -> Result<bool, RepoError> {
    let counts = store.tree(LIST_COUNTS)?;
    if counts.get(COUNTS_BUILT)?.is_some() {
        return Ok(false);
    }
    // Whatever an interrupted build left is counted again from scratch.
    let mut batch = Batch::new();
    for entry in counts.iter(KeyRange::all(), Order::Ascending) {
        batch.delete(LIST_COUNTS, entry?.0);
        if batch.len() >= 10_000 {
            store.apply(std::mem::take(&mut batch))?;
        }
    }
    store.apply(std::mem::take(&mut batch))?;
    let messages = store.tree(MESSAGES)?;
    for (dir, name) in [(Direction::Received, RECEIVED), (Direction::Sent, SENT)] {
        for entry in store.tree(name)?.iter(KeyRange::all(), Order::Ascending) {
            let (key, value) = entry?;
            let (Some(box_id), Some(at), Some(id)) = (
                key.get(..7),
                key.get(7..15).and_then(Timestamp::from_key),
                key.get(15..).and_then(MessageId::from_key),
            ) else {
                continue;
            };
            let state = match ListSummary::decode(&value) {
                Some(summary) => summary.state,
                None => match messages.get(&id.key())? {
                    Some(bytes) => decode_message(id, &bytes)?.state,
                    None => continue,
                },
            };
            stage_count(&mut batch, dir, box_id, at, state, 1);
            if batch.len() >= 10_000 {
                store.apply(std::mem::take(&mut batch))?;
            }
        }
    }
    batch.put(LIST_COUNTS, COUNTS_BUILT, vec![1]);
    commit(store, batch)?;
    Ok(true)
}

fn summary_matches(
    state: MessageState,
    unit: Option<&str>,
    unit_num: Option<i64>,
    q: &ListQuery,
) -> bool {
    if q.state_mask & state.filter_bit() == 0 {
        return false;
    }
    if q.org_unit_num.is_some() && q.org_unit_num != unit_num {
        return false;
    }
    if let Some(want) = &q.org_unit
        && unit != Some(want.as_str())
    {
        return false;
    }
    true
}

/// State changes of messages sent or received by `box_id` between two
/// optional times (inclusive), in time order.
pub fn state_changes(
    store: &dyn Store,
    box_id: &BoxId,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> Result<Vec<(MessageId, Timestamp, MessageState)>, RepoError> {
    let mut out = Vec::new();
    let mut grouped = false;
    for entry in store
        .tree(STATE_CHANGES)?
        .iter(box_time_range(box_id, from, to), Order::Ascending)
    {
        let (key, others) = entry?;
        let rest = &key[key.len().min(7)..];
        if rest.len() != 17 {
            continue;
        }
        let (Some(at), Some(id), Some(state)) = (
            Timestamp::from_key(&rest[..8]),
            MessageId::from_key(&rest[8..16]),
            MessageState::from_code(rest[16]),
        ) else {
            continue;
        };
        out.push((id, at, state));
        // The other messages of one listing's deliveries (format 5).
        for other in others.chunks_exact(8).filter_map(MessageId::from_key) {
            grouped = true;
            out.push((other, at, state));
        }
    }
    if grouped {
        // Key order, as if each change had an entry of its own.
        out.sort_unstable_by_key(|&(id, at, state)| (at, id, state.code()));
    }
    Ok(out)
}

/// Whether a received message waits to be delivered by a listing of its
/// recipient: states 4 (dodáno) and 5 (doručeno fikcí), which
/// GetListOfReceivedMessages turns into 6 (messages manual 2.7.1).
fn awaits_delivery(state: MessageState) -> bool {
    matches!(
        state,
        MessageState::Delivered | MessageState::AcceptedByFiction
    )
}

/// IDs of the messages of `box_id` waiting for delivery by listing (states
/// 4 and 5), in ID order. Stores written before state 5 was indexed here
/// hold only their state-4 messages.
pub fn pending_acceptance(store: &dyn Store, box_id: &BoxId) -> Result<Vec<MessageId>, RepoError> {
    let prefix = box_id.as_str().as_bytes();
    let mut out = Vec::new();
    for entry in store
        .tree(PENDING_ACCEPT)?
        .iter(KeyRange::prefix(prefix), Order::Ascending)
    {
        let (key, _) = entry?;
        if let Some(id) = key.get(prefix.len()..).and_then(MessageId::from_key) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Up to `limit` IDs of the messages of `box_id` waiting for delivery by
/// listing ([`pending_acceptance`]) after `after` (from the first when
/// `None`), in ID order: for going through many in bounded memory.
pub fn pending_acceptance_page(
    store: &dyn Store,
    box_id: &BoxId,
    after: Option<MessageId>,
    limit: usize,
) -> Result<Vec<MessageId>, RepoError> {
    let prefix = box_id.as_str().as_bytes();
    let mut range = KeyRange::prefix(prefix);
    if let Some(id) = after {
        range = range.after(&pending_key(box_id, id));
    }
    // Grown as found: most listings find nothing waiting, and reserving
    // room for a whole page made each of them ask the allocator for
    // 32 KB (measured: 5 % of a page of 100 of a big box).
    let mut out = Vec::new();
    for entry in store
        .tree(PENDING_ACCEPT)?
        .iter(range, Order::Ascending)
        .take(limit)
    {
        let (key, _) = entry?;
        if let Some(id) = key.get(prefix.len()..).and_then(MessageId::from_key) {
            out.push(id);
        }
    }
    Ok(out)
}

/// The message with what is stored for it (for [`stage_update_read`]
/// and [`stage_deliver_by_listing`]).
pub fn get_message_raw(
    store: &dyn Store,
    id: MessageId,
) -> Result<Option<(Message, StoredMessage)>, RepoError> {
    load(store, id)
}

/// Reads messages as a delivery by listing needs them
/// ([`WaitingMessage`]), with what is stored for them.
pub struct WaitingReader {
    messages: Arc<dyn Tree>,
    received: Arc<dyn Tree>,
}

impl WaitingReader {
    pub fn new(store: &dyn Store) -> Result<Self, RepoError> {
        Ok(Self {
            messages: store.tree(MESSAGES)?,
            received: store.tree(RECEIVED)?,
        })
    }

    /// The message `id` with its record's bytes and its received entry's
    /// value; `None` when there is none. One whose received entry keeps a
    /// delivery already reads as delivered (state 6), as [`get_message`]
    /// reads it.
    pub fn get(&self, id: MessageId) -> Result<Option<(WaitingMessage, StoredMessage)>, RepoError> {
        let Some(record) = self.messages.get(&id.key())? else {
            return Ok(None);
        };
        let mut msg: WaitingMessage =
            serde_json::from_slice(&record).map_err(|source| RepoError::Corrupt {
                what: format!("message {id}"),
                source,
            })?;
        let key = box_time_id_key(&msg.recipient.box_id, msg.submitted_at, msg.id);
        let entry = self.received.get(&key)?;
        let raw = StoredMessage { record, entry };
        if awaits_delivery(msg.state) && raw.has_listed_delivery() {
            msg.state = MessageState::AcceptedByLogin;
        }
        Ok(Some((msg, raw)))
    }
}

/// Up to `limit` queue entries due at or before `now`, in due-time order
/// (for showing what falls due; [`due_round`] is what the lifecycle
/// queue consumes).
pub fn due_until(
    store: &dyn Store,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<DueEntry>, RepoError> {
    let mut entries = due_round(store, now, limit)?.entries;
    entries.truncate(limit);
    Ok(entries)
}

/// What one round of the lifecycle queue reads ([`due_round`]): the
/// entries due, each shared entry read in full, and the shared entries'
/// keys, to be removed ([`DueRound::finish`]) once every entry has been
/// applied or found stale.
#[derive(Debug, Default)]
pub struct DueRound {
    pub entries: Vec<DueEntry>,
    shared: Vec<Vec<u8>>,
}

impl DueRound {
    /// Removes the shared entries read. Called only after every entry of
    /// the round was dealt with: a crash before leaves them to be read
    /// again, and their messages already moved on are then found stale.
    pub fn finish(self, store: &dyn Store) -> Result<(), RepoError> {
        if self.shared.is_empty() {
            return Ok(());
        }
        let due = store.tree(DUE)?;
        for key in self.shared {
            due.remove(&key)?;
        }
        Ok(())
    }
}

/// The queue entries due at or before `now`, from up to `limit` stored
/// entries (a shared one counts once and yields one entry per message),
/// in due-time order.
pub fn due_round(store: &dyn Store, now: Timestamp, limit: usize) -> Result<DueRound, RepoError> {
    let end = match now.0.checked_add(1) {
        Some(after) => std::ops::Bound::Excluded(Timestamp(after).key().to_vec()),
        None => std::ops::Bound::Unbounded,
    };
    let range = KeyRange {
        start: std::ops::Bound::Unbounded,
        end,
    };
    let mut round = DueRound::default();
    for entry in store.tree(DUE)?.iter(range, Order::Ascending).take(limit) {
        let (key, others) = entry?;
        if key.len() == 18 && key[17] == SHARED_DUE {
            if let Some(first) = DueEntry::from_key(&key[..17]) {
                round.entries.push(first);
                for id in others.chunks_exact(8).filter_map(MessageId::from_key) {
                    round.entries.push(DueEntry { id, ..first });
                }
            }
            round.shared.push(key);
        } else if let Some(e) = DueEntry::from_key(&key) {
            round.entries.push(e);
        }
    }
    Ok(round)
}

/// Removes a queue entry that no longer matches its message (a message's
/// own entry; a shared one goes with [`DueRound::finish`]).
pub fn drop_due(store: &dyn Store, entry: &DueEntry) -> Result<(), RepoError> {
    store.tree(DUE)?.remove(&entry.key())?;
    Ok(())
}

/// Calls `f` with every stored message, in ID order (whole-store reads
/// such as statistics).
pub(crate) fn for_each_message(
    store: &dyn Store,
    mut f: impl FnMut(&Message),
) -> Result<(), RepoError> {
    let tree = store.tree(MESSAGES)?;
    let received = store.tree(RECEIVED)?;
    for entry in tree.iter(KeyRange::all(), Order::Ascending) {
        let (key, value) = entry?;
        let id = MessageId::from_key(&key).ok_or_else(|| RepoError::Corrupt {
            what: format!("message key {}", crate::store::show_key(&key)),
            source: serde_json::Error::io(std::io::Error::other("not a message ID")),
        })?;
        let mut msg = decode_message(id, &value)?;
        if awaits_delivery(msg.state) {
            apply_listed_from(received.as_ref(), &mut msg)?;
        }
        f(&msg);
    }
    Ok(())
}

/// The file a document of a message is kept in (name and size), when it
/// is kept as a file; `None` for a document held in the tree.
pub fn document_file(
    store: &dyn Store,
    id: MessageId,
    index: u16,
) -> Result<Option<(String, u64)>, RepoError> {
    let Some(value) = store.tree(DOCUMENTS)?.get(&file_key(id, index))? else {
        return Ok(None);
    };
    let reference: FileRef =
        serde_json::from_slice(&value).map_err(|source| RepoError::Corrupt {
            what: format!("document {index} of message {id}"),
            source,
        })?;
    Ok(Some((reference.file, reference.size)))
}

/// The name of the file of document `index` of message `id`.
pub fn document_file_name(id: MessageId, index: u16) -> String {
    file_name(id, index)
}

/// Stages a new message whose documents are files already in the store's
/// file directory under their names ([`document_file_name`]): big
/// messages (VoDZ), whose documents never pass through memory. The
/// caller syncs the directory before applying the batch.
pub fn stage_insert_message_with_files(
    batch: &mut Batch,
    msg: &Message,
    files: &[(String, u64, DocumentDigest)],
) {
    for (position, (file, size, digest)) in files.iter().enumerate() {
        let index = u16::try_from(position).unwrap_or(u16::MAX);
        let reference = FileRef {
            file: file.clone(),
            size: *size,
            sha256: hex(digest),
        };
        batch.put(DOCUMENTS, file_key(msg.id, index), encode(&reference));
    }
    stage_message_record(batch, msg);
}

/// Applies a batch durably ([`RepoError::Conflict`] when a precondition
/// failed).
pub fn commit_batch(store: &dyn Store, batch: Batch) -> Result<(), RepoError> {
    commit(store, batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::messages::message::tests::sample;
    use crate::domain::messages::message::{EventCode, document_digests};
    use crate::domain::messages::wire::compute_hash;
    use crate::store::open_memory;

    fn stored(store: &dyn Store, id: u64, at: i64) -> Message {
        let mut m = sample(id);
        m.submitted_at = Timestamp(at);
        m.delivery_time = Some(Timestamp(at));
        m.hash = compute_hash(&m, &[b"pdf"]).unwrap();
        insert_message(store, &m, &[b"pdf".to_vec()]).unwrap();
        m
    }

    #[test]
    fn ids_come_from_the_sequence_above_the_base() {
        let store = open_memory();
        let a = next_message_id(store.as_ref()).unwrap();
        let b = next_message_id(store.as_ref()).unwrap();
        assert_eq!(a, MessageId(10_000_001));
        assert_eq!(b, MessageId(10_000_002));
    }

    #[test]
    fn insert_get_and_refuse_a_taken_id() {
        let store = open_memory();
        let s = store.as_ref();
        let m = stored(s, 10_000_001, 1_000);
        assert_eq!(get_message(s, m.id).unwrap(), Some(m.clone()));
        assert_eq!(get_document(s, m.id, 0).unwrap(), Some(b"pdf".to_vec()));
        assert_eq!(get_document(s, m.id, 1).unwrap(), None);
        assert_eq!(get_documents(s, m.id).unwrap(), vec![b"pdf".to_vec()]);
        assert!(matches!(
            insert_message(s, &m, &[]),
            Err(RepoError::Exists(_))
        ));
        assert_eq!(get_message(s, MessageId(1)).unwrap(), None);
        assert_eq!(
            pending_acceptance(s, &m.recipient.box_id).unwrap(),
            vec![m.id]
        );
        let due = due_until(s, Timestamp(i64::MAX), 10).unwrap();
        assert_eq!(
            due,
            vec![DueEntry {
                at: Timestamp(1_000).plus_days(10),
                id: m.id,
                kind: DueKind::Fiction
            }]
        );
        assert!(
            due_until(s, Timestamp(1_000).plus_days(9), 10)
                .unwrap()
                .is_empty()
        );
        let changes = state_changes(s, &m.sender.box_id, None, None).unwrap();
        assert_eq!(
            changes,
            vec![(m.id, Timestamp(1_000), MessageState::Delivered)]
        );
    }

    #[test]
    fn documents_are_stored_in_pieces_and_read_whole() {
        let store = open_memory();
        let s = store.as_ref();
        let mut m = crate::domain::messages::message::tests::sample(10_000_001);
        let big: Vec<u8> = (0..DOCUMENT_CHUNK * 3 + 17)
            .map(|i| (i % 251) as u8)
            .collect();
        let docs = vec![big.clone(), vec![], b"x".to_vec()];
        m.documents = vec![m.documents[0].clone(); 3];
        insert_message(s, &m, &docs).unwrap();
        let pieces = s
            .tree(DOCUMENTS)
            .unwrap()
            .iter(KeyRange::prefix(&m.id.key()), Order::Ascending)
            .count();
        assert_eq!(pieces, 4 + 1 + 1);
        assert_eq!(
            get_documents(s, m.id).unwrap(),
            vec![big.clone(), vec![], b"x".to_vec()]
        );
        assert_eq!(get_document(s, m.id, 0).unwrap(), Some(big));
        assert_eq!(get_document(s, m.id, 1).unwrap(), Some(vec![]));
        assert_eq!(get_document(s, m.id, 3).unwrap(), None);
        // A store written before pieces: one value per document.
        let old = MessageId(10_000_002);
        let mut batch = Batch::new();
        batch.put(DOCUMENTS, document_key(old, 0), b"old".to_vec());
        batch.put(DOCUMENTS, document_key(old, 1), b"two".to_vec());
        commit(s, batch).unwrap();
        assert_eq!(
            get_documents(s, old).unwrap(),
            vec![b"old".to_vec(), b"two".to_vec()]
        );
        // Content deletion removes every piece.
        let mut deleted = m.clone();
        deleted.content_deleted = true;
        update_message(s, &m, &deleted, Timestamp(9_000)).unwrap();
        assert!(get_documents(s, m.id).unwrap().is_empty());
    }

    #[test]
    fn updates_keep_the_indexes_exact() {
        let store = open_memory();
        let s = store.as_ref();
        let m = stored(s, 10_000_001, 1_000);
        let mut accepted = m.clone();
        accepted.state = MessageState::AcceptedByLogin;
        accepted.acceptance_time = Some(Timestamp(5_000));
        accepted
            .events
            .push(Event::new(Timestamp(5_000), EventCode::EV1));
        update_message(s, &m, &accepted, Timestamp(5_000)).unwrap();
        assert!(
            pending_acceptance(s, &m.recipient.box_id)
                .unwrap()
                .is_empty()
        );
        let due = due_until(s, Timestamp(i64::MAX), 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].kind, DueKind::ContentDeletion);
        assert_eq!(due[0].at, Timestamp(5_000).plus_days(90));
        // A stale `before` is a conflict and changes nothing.
        assert!(matches!(
            update_message(s, &m, &accepted, Timestamp(6_000)),
            Err(RepoError::Conflict(_))
        ));
        let changes = state_changes(s, &m.recipient.box_id, Some(Timestamp(2_000)), None).unwrap();
        assert_eq!(
            changes,
            vec![(m.id, Timestamp(5_000), MessageState::AcceptedByLogin)]
        );
        // Content deletion removes the documents and the queue entry.
        let mut deleted = accepted.clone();
        deleted.state = MessageState::ContentDeleted;
        deleted.content_deleted = true;
        update_message(s, &accepted, &deleted, Timestamp(9_000)).unwrap();
        assert_eq!(get_document(s, m.id, 0).unwrap(), None);
        assert!(due_until(s, Timestamp(i64::MAX), 10).unwrap().is_empty());
        assert_eq!(get_message(s, m.id).unwrap().unwrap().hash, m.hash);
    }

    #[test]
    fn a_delivery_by_listing_reads_as_a_rewritten_record_until_one_is_written() {
        let store = open_memory();
        let s = store.as_ref();
        let m = stored(s, 10_000_001, 1_000);
        let mut fiction = sample(10_000_002);
        fiction.submitted_at = Timestamp(2_000);
        fiction.delivery_time = Some(Timestamp(2_000));
        fiction.state = MessageState::AcceptedByFiction;
        fiction.acceptance_time = Some(Timestamp(3_000));
        fiction.hash = compute_hash(&fiction, &[b"pdf"]).unwrap();
        insert_message(s, &fiction, &[b"pdf".to_vec()]).unwrap();
        let at = Timestamp(5_000);
        let mut batch = Batch::new();
        let mut delivered = Vec::new();
        for id in [m.id, fiction.id] {
            let (before, raw) = get_message_raw(s, id).unwrap().unwrap();
            delivered.push(
                stage_deliver_by_listing(&mut batch, raw, &before, at, EventCode::EV12).unwrap(),
            );
        }
        commit(s, batch).unwrap();
        // As if the records had been rewritten: state 6, the event, the
        // listing's time as acceptance time unless accepted by fiction.
        let mut expected = m.clone();
        expected.state = MessageState::AcceptedByLogin;
        expected.acceptance_time = Some(at);
        expected.events.push(Event::new(at, EventCode::EV12));
        let mut expected_fiction = fiction.clone();
        expected_fiction.state = MessageState::AcceptedByLogin;
        expected_fiction
            .events
            .push(Event::new(at, EventCode::EV12));
        assert_eq!(delivered, vec![expected.clone(), expected_fiction.clone()]);
        assert_eq!(get_message(s, m.id).unwrap(), Some(expected.clone()));
        assert_eq!(
            get_message(s, fiction.id).unwrap(),
            Some(expected_fiction.clone())
        );
        // ... while the records are unchanged.
        let record = store
            .tree(MESSAGES)
            .unwrap()
            .get(&m.id.key())
            .unwrap()
            .unwrap();
        assert_eq!(decode_message(m.id, &record).unwrap(), m);
        let box_id = &m.recipient.box_id;
        assert!(pending_acceptance(s, box_id).unwrap().is_empty());
        let due = due_until(s, Timestamp(i64::MAX), 10).unwrap();
        assert_eq!(
            due.iter().map(|e| (e.id, e.at, e.kind)).collect::<Vec<_>>(),
            vec![
                (
                    fiction.id,
                    Timestamp(3_000).plus_days(90),
                    DueKind::ContentDeletion
                ),
                (m.id, at.plus_days(90), DueKind::ContentDeletion),
            ]
        );
        assert_eq!(
            state_changes(s, box_id, Some(at), Some(at)).unwrap(),
            vec![
                (m.id, at, MessageState::AcceptedByLogin),
                (fiction.id, at, MessageState::AcceptedByLogin),
            ]
        );
        let mut q = ListQuery::all(box_id.clone(), 10);
        q.state_mask = MessageState::AcceptedByLogin.filter_bit();
        assert_eq!(
            list_received(s, &q).unwrap(),
            vec![expected.clone(), expected_fiction.clone()]
        );
        let mut q = ListQuery::all(m.sender.box_id.clone(), 10);
        q.state_mask = MessageState::AcceptedByLogin.filter_bit();
        assert_eq!(
            list_sent(s, &q).unwrap(),
            vec![expected.clone(), expected_fiction.clone()]
        );
        let counts = count_by_state(s).unwrap();
        assert_eq!((counts[4], counts[5], counts[6]), (0, 0, 2));
        let mut all = Vec::new();
        for_each_message(s, |msg| all.push(msg.clone())).unwrap();
        assert_eq!(all, vec![expected.clone(), expected_fiction.clone()]);
        // Delivered once only; an update from the record's old state is a
        // conflict.
        let (before, raw) = get_message_raw(s, m.id).unwrap().unwrap();
        assert!(matches!(
            stage_deliver_by_listing(&mut Batch::new(), raw, &before, at, EventCode::EV11),
            Err(RepoError::Conflict(_))
        ));
        let mut read_old = m.clone();
        read_old.state = MessageState::Read;
        assert!(matches!(
            update_message(s, &m, &read_old, Timestamp(6_000)),
            Err(RepoError::Conflict(_))
        ));
        // The next write of the record takes the delivery in and clears it
        // from the entry; the state changes on from 6.
        let mut read = expected.clone();
        read.state = MessageState::Read;
        update_message(s, &expected, &read, Timestamp(6_000)).unwrap();
        let record = store
            .tree(MESSAGES)
            .unwrap()
            .get(&m.id.key())
            .unwrap()
            .unwrap();
        assert_eq!(decode_message(m.id, &record).unwrap(), read);
        let entry = store
            .tree(RECEIVED)
            .unwrap()
            .get(&received_key(&m))
            .unwrap()
            .unwrap();
        assert_eq!(ListSummary::decode(&entry).unwrap().delivery, None);
        assert_eq!(get_message(s, m.id).unwrap(), Some(read));
        // A write that keeps the state takes it in as well.
        let mut erased = expected_fiction.clone();
        erased.erased_by_sender = true;
        update_message(s, &expected_fiction, &erased, Timestamp(7_000)).unwrap();
        let entry = store
            .tree(RECEIVED)
            .unwrap()
            .get(&received_key(&fiction))
            .unwrap()
            .unwrap();
        assert_eq!(ListSummary::decode(&entry).unwrap().delivery, None);
        assert_eq!(get_message(s, fiction.id).unwrap(), Some(erased));
        let counts = count_by_state(s).unwrap();
        assert_eq!((counts[6], counts[7]), (1, 1));
    }

    /// The deliveries of one write share a state change entry per box and
    /// one count change per bucket; what reads see is what one entry per
    /// message showed (format 4), in key order among single entries and
    /// for a message sent to its own box once.
    #[test]
    fn a_listings_deliveries_read_as_one_state_change_each() {
        let store = open_memory();
        let s = store.as_ref();
        assert!(ensure_list_counts(s).unwrap());
        let at = Timestamp(5_000);
        let mut sent = Vec::new();
        for (i, id) in [10_000_005u64, 10_000_002, 10_000_009]
            .into_iter()
            .enumerate()
        {
            sent.push(stored(s, id, 1_000 + i as i64));
        }
        let mut own = sample(10_000_007);
        own.recipient.box_id = own.sender.box_id.clone();
        own.submitted_at = Timestamp(1_500);
        own.delivery_time = Some(Timestamp(1_500));
        own.hash = compute_hash(&own, &[b"pdf"]).unwrap();
        insert_message(s, &own, &[b"pdf".to_vec()]).unwrap();
        // A change of another message at the same time, written alone
        // (format 4: its own entry, empty value), between the IDs.
        let lone = stored(s, 10_000_004, 900);
        let mut read = lone.clone();
        read.state = MessageState::Read;
        update_message(s, &lone, &read, at).unwrap();

        let mut batch = Batch::new();
        let mut deliveries = ListingDeliveries::new(at, EventCode::EV11);
        let reader = WaitingReader::new(s).unwrap();
        for m in sent.iter().chain([&own]) {
            let (before, raw) = reader.get(m.id).unwrap().unwrap();
            deliveries.stage(&mut batch, raw, &before).unwrap();
        }
        deliveries.finish(&mut batch);
        let changes = batch
            .ops()
            .iter()
            .filter(|op| op.tree() == STATE_CHANGES)
            .count();
        assert_eq!(changes, 2, "one entry per box");
        commit(s, batch).unwrap();

        let six = MessageState::AcceptedByLogin;
        let recipient = &sent[0].recipient.box_id;
        assert_eq!(
            state_changes(s, recipient, Some(at), Some(at)).unwrap(),
            vec![
                (MessageId(10_000_002), at, six),
                (MessageId(10_000_004), at, MessageState::Read),
                (MessageId(10_000_005), at, six),
                (MessageId(10_000_009), at, six),
            ]
        );
        let sender = &sent[0].sender.box_id;
        assert_eq!(
            state_changes(s, sender, Some(at), None).unwrap(),
            vec![
                (MessageId(10_000_002), at, six),
                (MessageId(10_000_004), at, MessageState::Read),
                (MessageId(10_000_005), at, six),
                (MessageId(10_000_007), at, six),
                (MessageId(10_000_009), at, six),
            ]
        );
        // Outside the time range: nothing of them.
        assert!(
            state_changes(s, recipient, None, Some(Timestamp(4_999)))
                .unwrap()
                .iter()
                .all(|(_, t, _)| *t < at)
        );
        // The counts kept are those a count of every entry gives.
        let counts = store.tree(LIST_COUNTS).unwrap();
        let kept = counts
            .range(KeyRange::all(), Order::Ascending, usize::MAX)
            .unwrap();
        counts.remove(COUNTS_BUILT).unwrap();
        assert!(ensure_list_counts(s).unwrap());
        let rebuilt = counts
            .range(KeyRange::all(), Order::Ascending, usize::MAX)
            .unwrap();
        assert_eq!(kept, rebuilt);
        assert!(kept.iter().any(|(_, v)| {
            crate::store::decode_counters(v).is_some_and(|c| c.get(6) == Some(&4))
        }));
        assert_eq!(
            state_changes(s, sender, Some(at), None).unwrap().len(),
            5,
            "the message to its own box is one change"
        );
    }

    /// A delivery reads of a record what the record says, and queues and
    /// unqueues what a rewrite of the record as delivered would.
    #[test]
    fn a_waiting_message_is_read_and_queued_as_its_record() {
        let store = open_memory();
        let s = store.as_ref();
        let at = Timestamp(1_000_000_000_000_000);
        let mut variants = Vec::new();
        for (i, (state, fiction, deleted, unit)) in [
            (MessageState::Delivered, true, false, true),
            (MessageState::Delivered, false, false, false),
            (MessageState::Delivered, true, true, false),
            (MessageState::AcceptedByFiction, true, false, true),
            (MessageState::AcceptedByFiction, true, true, false),
        ]
        .into_iter()
        .enumerate()
        {
            let mut m = sample(10_000_100 + i as u64);
            m.submitted_at = Timestamp(at.0 - 20 * 86_400_000_000);
            m.delivery_time = Some(m.submitted_at);
            m.state = state;
            m.envelope.allow_subst_delivery = fiction;
            m.envelope.personal_delivery = i % 2 == 0;
            m.content_deleted = deleted;
            if unit {
                m.envelope.sender_org_unit = Some("Podatelna".into());
                m.envelope.recipient_org_unit_num = Some(42);
            }
            if state == MessageState::AcceptedByFiction {
                m.acceptance_time = Some(m.submitted_at.plus_days(10));
            }
            m.hash = compute_hash(&m, &[b"pdf"]).unwrap();
            insert_message(s, &m, &[b"pdf".to_vec()]).unwrap();
            variants.push(m);
        }
        let reader = WaitingReader::new(s).unwrap();
        for m in &variants {
            let (waiting, _) = reader.get(m.id).unwrap().unwrap();
            assert_eq!(waiting, WaitingMessage::from(m));
            assert_eq!(waiting.personal_delivery(), m.envelope.personal_delivery);
            let mut after = m.clone();
            ListedDelivery {
                at,
                event: EventCode::EV11,
            }
            .apply(&mut after);
            assert_eq!(
                waiting.due_before_and_after(at),
                (due_entries(m), due_entries(&after)),
                "{:?}",
                m.id
            );
            for dir in [Direction::Received, Direction::Sent] {
                assert_eq!(
                    waiting.summary(dir, None),
                    ListSummary::of(&after, dir),
                    "{dir:?}"
                );
            }
        }
        // One already delivered by a listing reads as delivered.
        let m = &variants[1];
        let (_, raw) = get_message_raw(s, m.id).unwrap().unwrap();
        let mut batch = Batch::new();
        stage_deliver_by_listing(&mut batch, raw, m, at, EventCode::EV12).unwrap();
        commit(s, batch).unwrap();
        let (waiting, _) = reader.get(m.id).unwrap().unwrap();
        assert_eq!(waiting.state, MessageState::AcceptedByLogin);
        assert!(reader.get(MessageId(10_000_999)).unwrap().is_none());
    }

    /// The deletions a listing's write queues for one time share one
    /// entry of the queue, read as one entry per message and removed only
    /// when the round that read it is finished; one delivered alone keeps
    /// an entry of its own. The fiction entries of the messages delivered
    /// go.
    #[test]
    fn a_listings_deletions_share_one_queue_entry() {
        let store = open_memory();
        let s = store.as_ref();
        let at = Timestamp(1_000_000_000_000_000);
        let sent: Vec<Message> = (0..4)
            .map(|i| stored(s, 10_000_010 + i, 900_000_000_000_000 + i as i64))
            .collect();
        let fiction = |m: &Message| m.fiction_due().unwrap();
        assert_eq!(due_until(s, Timestamp(i64::MAX), 100).unwrap().len(), 4);

        let reader = WaitingReader::new(s).unwrap();
        let mut batch = Batch::new();
        let mut deliveries = ListingDeliveries::new(at, EventCode::EV11);
        for m in &sent[..3] {
            let (before, raw) = reader.get(m.id).unwrap().unwrap();
            deliveries.stage(&mut batch, raw, &before).unwrap();
        }
        deliveries.finish(&mut batch);
        commit(s, batch).unwrap();
        let deletion = at.plus_days(crate::domain::messages::message::CONTENT_RETENTION_DAYS);
        let due = store.tree(DUE).unwrap();
        let keys: Vec<Vec<u8>> = due
            .range(KeyRange::all(), Order::Ascending, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            keys,
            vec![
                DueEntry {
                    at: fiction(&sent[3]),
                    id: sent[3].id,
                    kind: DueKind::Fiction
                }
                .key(),
                shared_due_key(deletion, sent[0].id, DueKind::ContentDeletion),
            ]
        );
        let round = due_round(s, deletion, 100).unwrap();
        let expected: Vec<DueEntry> = std::iter::once(DueEntry {
            at: fiction(&sent[3]),
            id: sent[3].id,
            kind: DueKind::Fiction,
        })
        .chain(sent[..3].iter().map(|m| DueEntry {
            at: deletion,
            id: m.id,
            kind: DueKind::ContentDeletion,
        }))
        .collect();
        assert_eq!(round.entries, expected);
        assert_eq!(due_until(s, deletion, 2).unwrap(), expected[..2]);
        assert_eq!(
            due_until(s, Timestamp(deletion.0 - 1), 100).unwrap(),
            expected[..1]
        );
        // Dropping one message's entry leaves the shared one whole.
        drop_due(s, &expected[2]).unwrap();
        assert_eq!(due_round(s, deletion, 100).unwrap().entries, expected);
        round.finish(s).unwrap();
        assert_eq!(due_round(s, deletion, 100).unwrap().entries, expected[..1]);

        // Delivered alone: an entry of its own, as before.
        let (before, raw) = get_message_raw(s, sent[3].id).unwrap().unwrap();
        let mut batch = Batch::new();
        stage_deliver_by_listing(&mut batch, raw, &before, at, EventCode::EV11).unwrap();
        commit(s, batch).unwrap();
        assert_eq!(
            due.range(KeyRange::all(), Order::Ascending, usize::MAX)
                .unwrap()
                .into_iter()
                .map(|(k, _)| k)
                .collect::<Vec<_>>(),
            vec![
                DueEntry {
                    at: deletion,
                    id: sent[3].id,
                    kind: DueKind::ContentDeletion
                }
                .key()
            ]
        );
    }

    #[test]
    fn a_message_changed_after_it_was_read_is_not_delivered() {
        let store = open_memory();
        let s = store.as_ref();
        let m = stored(s, 10_000_001, 1_000);
        let (before, raw) = get_message_raw(s, m.id).unwrap().unwrap();
        let mut batch = Batch::new();
        stage_deliver_by_listing(&mut batch, raw, &before, Timestamp(5_000), EventCode::EV11)
            .unwrap();
        // Read (downloaded) meanwhile: the delivery's batch is refused.
        let mut read = m.clone();
        read.state = MessageState::Read;
        update_message(s, &m, &read, Timestamp(4_000)).unwrap();
        assert!(matches!(commit(s, batch), Err(RepoError::Conflict(_))));
        assert_eq!(get_message(s, m.id).unwrap(), Some(read));
    }

    #[test]
    fn lists_page_filter_and_keep_order() {
        let store = open_memory();
        let s = store.as_ref();
        let a = stored(s, 10_000_001, 3_000);
        let b = stored(s, 10_000_002, 1_000);
        let mut c = sample(10_000_003);
        c.submitted_at = Timestamp(2_000);
        c.state = MessageState::Read;
        c.envelope.recipient_org_unit_num = Some(7);
        insert_message(s, &c, &[]).unwrap();
        let rcpt = a.recipient.box_id.clone();
        let ids = |v: Vec<Message>| v.into_iter().map(|m| m.id.0).collect::<Vec<_>>();
        let all = ListQuery::all(rcpt.clone(), 10);
        assert_eq!(
            ids(list_received(s, &all).unwrap()),
            vec![10_000_002, 10_000_003, 10_000_001]
        );
        assert!(list_sent(s, &all).unwrap().is_empty());
        assert_eq!(
            ids(list_sent(s, &ListQuery::all(a.sender.box_id.clone(), 10)).unwrap()).len(),
            3
        );
        let page = ListQuery {
            offset: 2,
            limit: 1,
            ..all.clone()
        };
        assert_eq!(ids(list_received(s, &page).unwrap()), vec![10_000_003]);
        let delivered = ListQuery {
            state_mask: MessageState::Delivered.filter_bit(),
            ..all.clone()
        };
        assert_eq!(
            ids(list_received(s, &delivered).unwrap()),
            vec![10_000_002, 10_000_001]
        );
        let window = ListQuery {
            from: Some(Timestamp(2_000)),
            to: Some(Timestamp(2_000)),
            ..all.clone()
        };
        assert_eq!(ids(list_received(s, &window).unwrap()), vec![10_000_003]);
        let unit = ListQuery {
            org_unit_num: Some(7),
            ..all.clone()
        };
        assert_eq!(ids(list_received(s, &unit).unwrap()), vec![10_000_003]);
        let zero = ListQuery { limit: 0, ..all };
        assert!(list_received(s, &zero).unwrap().is_empty());
        let _ = b;
    }

    /// Lists through the counts give exactly what stepping over every
    /// entry gives, for deep offsets, time windows and state filters, in
    /// boxes dense (many messages a second, many at one instant) and
    /// sparse (days apart), before and after state changes, and after the
    /// counts are rebuilt for a store written without them.
    #[test]
    fn counted_lists_agree_with_every_entry() {
        let store = open_memory();
        let s = store.as_ref();
        let mut rng: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n.max(1)
        };
        let states = [
            MessageState::Delivered,
            MessageState::AcceptedByFiction,
            MessageState::AcceptedByLogin,
            MessageState::Read,
            MessageState::ContentDeleted,
        ];
        let base = 1_780_000_000_000_000i64;
        let other = BoxId::parse("abc2def").unwrap();
        let mut all: Vec<Message> = Vec::new();
        for i in 0..1_400u64 {
            let mut m = sample(10_000_001 + i);
            m.submitted_at = Timestamp(match i {
                // A second holding hundreds, and one instant many times.
                0..=599 => base + (next(900_000) as i64),
                600..=699 => base + 2_000_000,
                // Minutes, hours and weeks apart.
                _ => base + (next(60 * 86_400) as i64) * 1_000_000,
            });
            m.state = states[next(states.len() as u64) as usize];
            if i % 7 == 0 {
                m.recipient.box_id = other.clone();
            }
            insert_message(s, &m, &[]).unwrap();
            all.push(m);
        }
        let expected = |all: &[Message], q: &ListQuery, dir: Direction| -> Vec<u64> {
            let mut v: Vec<&Message> = all
                .iter()
                .filter(|m| match dir {
                    Direction::Received => m.recipient.box_id == q.box_id,
                    Direction::Sent => m.sender.box_id == q.box_id,
                })
                .filter(|m| q.from.is_none_or(|f| m.submitted_at >= f))
                .filter(|m| q.to.is_none_or(|t| m.submitted_at <= t))
                .filter(|m| q.state_mask & m.state.filter_bit() != 0)
                .collect();
            v.sort_by_key(|m| (m.submitted_at, m.id));
            v.iter()
                .skip(q.offset - 1)
                .take(q.limit)
                .map(|m| m.id.0)
                .collect()
        };
        let check = |all: &[Message], next: &mut dyn FnMut(u64) -> u64, rounds: usize| {
            for round in 0..rounds {
                let (dir, box_id) = match round % 3 {
                    0 => (Direction::Received, BoxId::parse("po4demo").unwrap()),
                    1 => (Direction::Received, other.clone()),
                    _ => (Direction::Sent, BoxId::parse("ovm4dem").unwrap()),
                };
                let pick_time = |r: u64| match r % 4 {
                    0 => None,
                    1 => Some(Timestamp(base + 2_000_000)),
                    2 => Some(Timestamp(base + (r as i64 % 900_000))),
                    _ => Some(Timestamp(base + (r as i64 % (60 * 86_400)) * 1_000_000)),
                };
                let mut from = pick_time(next(1 << 40));
                let mut to = pick_time(next(1 << 40));
                if let (Some(f), Some(t)) = (from, to)
                    && f > t
                {
                    (from, to) = (to, from);
                }
                let q = ListQuery {
                    box_id,
                    from,
                    to,
                    state_mask: match next(3) {
                        0 => MessageState::ALL_MASK,
                        1 => MessageState::RECEIVED_LIST_MASK,
                        _ => MessageState::Read.filter_bit() | MessageState::Delivered.filter_bit(),
                    },
                    offset: 1 + next(1_300) as usize,
                    limit: 1 + next(120) as usize,
                    org_unit_num: None,
                    org_unit: None,
                };
                let got: Vec<u64> = list::<Message>(s, &q, dir)
                    .unwrap()
                    .iter()
                    .map(|m| m.id.0)
                    .collect();
                assert_eq!(got, expected(all, &q, dir), "{q:?} {}", direction_byte(dir));
                // The lists' records read through the same walk.
                let rows: Vec<u64> = list::<ListedMessage>(s, &q, dir)
                    .unwrap()
                    .iter()
                    .map(|m| m.id.0)
                    .collect();
                assert_eq!(rows, got);
            }
        };
        // Written before the counts were complete: rebuilt, then used.
        assert!(!counts_ready(s).unwrap());
        assert!(ensure_list_counts(s).unwrap());
        assert!(!ensure_list_counts(s).unwrap());
        check(&all, &mut next, 150);
        // State changes move counts between states.
        for _ in 0..300 {
            let i = next(all.len() as u64) as usize;
            let mut after = all[i].clone();
            after.state = states[next(states.len() as u64) as usize];
            update_message(s, &all[i], &after, Timestamp(base + 90 * 86_400_000_000)).unwrap();
            all[i] = after;
        }
        check(&all, &mut next, 150);
        // A stale partial count is thrown away by a rebuild.
        s.tree(LIST_COUNTS).unwrap().remove(COUNTS_BUILT).unwrap();
        let mut stale = Batch::new();
        stage_count(
            &mut stale,
            Direction::Received,
            b"po4demo",
            Timestamp(base),
            MessageState::Read,
            5,
        );
        s.apply(stale).unwrap();
        assert!(ensure_list_counts(s).unwrap());
        check(&all, &mut next, 60);
    }

    #[test]
    fn list_summaries_round_trip_and_refuse_garbage() {
        for summary in [
            ListSummary {
                state: MessageState::Read,
                org_unit_num: Some(-42),
                org_unit: Some("Odbor výstavby".into()),
                delivery: None,
            },
            ListSummary {
                state: MessageState::Delivered,
                org_unit_num: None,
                org_unit: None,
                delivery: None,
            },
            ListSummary {
                state: MessageState::ContentDeleted,
                org_unit_num: Some(0),
                org_unit: Some(String::new()),
                delivery: None,
            },
            ListSummary {
                state: MessageState::AcceptedByLogin,
                org_unit_num: Some(7),
                org_unit: Some("Podatelna".into()),
                delivery: Some(ListedDelivery {
                    at: Timestamp(1_700_000_000_000_000),
                    event: EventCode::EV13,
                }),
            },
            ListSummary {
                state: MessageState::AcceptedByLogin,
                org_unit_num: None,
                org_unit: None,
                delivery: Some(ListedDelivery {
                    at: Timestamp(-5),
                    event: EventCode::EV11,
                }),
            },
        ] {
            assert_eq!(ListSummary::decode(&summary.encode()), Some(summary));
        }
        // A delivery cut short, or with an event no listing records.
        assert_eq!(
            ListSummary::decode(&[6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1]),
            None
        );
        let mut ev5 = vec![6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        ev5.extend_from_slice(&Timestamp(1).key());
        ev5.push(5);
        assert_eq!(ListSummary::decode(&ev5), None);
        assert_eq!(
            ListSummary::decode(&[4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4]),
            None
        );
        assert_eq!(ListSummary::decode(&[]), None);
        assert_eq!(ListSummary::decode(&[4, 0, 1]), None);
        assert_eq!(
            ListSummary::decode(&[99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            None
        );
    }

    #[test]
    fn filtered_lists_follow_state_changes_and_read_old_entries() {
        let store = open_memory();
        let s = store.as_ref();
        let a = stored(s, 10_000_001, 1_000);
        let b = stored(s, 10_000_002, 2_000);
        let rcpt = a.recipient.box_id.clone();
        let ids = |v: Vec<Message>| v.into_iter().map(|m| m.id.0).collect::<Vec<_>>();
        let read = ListQuery {
            state_mask: MessageState::Read.filter_bit(),
            ..ListQuery::all(rcpt.clone(), 10)
        };
        assert!(list_received(s, &read).unwrap().is_empty());
        let mut a_read = a.clone();
        a_read.state = MessageState::Read;
        update_message(s, &a, &a_read, Timestamp(3_000)).unwrap();
        assert_eq!(ids(list_received(s, &read).unwrap()), vec![10_000_001]);
        assert_eq!(
            ids(list_sent(
                s,
                &ListQuery {
                    box_id: a.sender.box_id.clone(),
                    ..read.clone()
                }
            )
            .unwrap()),
            vec![10_000_001]
        );
        // An index entry written before summaries existed (empty value) is
        // decided on the message itself.
        let key = box_time_id_key(&rcpt, b.submitted_at, b.id);
        let mut batch = Batch::new();
        batch.put(RECEIVED, key, Vec::new());
        s.apply(batch).unwrap();
        let delivered = ListQuery {
            state_mask: MessageState::Delivered.filter_bit(),
            ..ListQuery::all(rcpt.clone(), 10)
        };
        assert_eq!(ids(list_received(s, &delivered).unwrap()), vec![10_000_002]);
        let second = ListQuery {
            offset: 2,
            state_mask: MessageState::Delivered.filter_bit() | MessageState::Read.filter_bit(),
            ..ListQuery::all(rcpt, 10)
        };
        assert_eq!(ids(list_received(s, &second).unwrap()), vec![10_000_002]);
    }

    #[test]
    fn large_documents_go_to_files_shared_by_messages_and_swept() {
        let tmp = tempfile::tempdir().unwrap();
        let store = crate::store::open_sled_with_files(
            &tmp.path().join("store"),
            8,
            &tmp.path().join("documents"),
        )
        .unwrap();
        let s = store.as_ref();
        let files = s.files().unwrap();
        let big: Vec<u8> = (0..FILE_THRESHOLD + 5).map(|i| (i % 253) as u8).collect();
        let small = b"small".to_vec();
        let docs: Vec<&[u8]> = vec![&big, &small];
        let mut a = sample(10_000_001);
        a.documents = vec![a.documents[0].clone(); 2];
        let mut b = a.clone();
        b.id = MessageId(10_000_002);
        // Two messages of one request share the written file.
        let mut writer = DocumentWriter::new(s);
        let mut batch = Batch::new();
        let digests = document_digests(&docs);
        writer.write_documents(a.id, &docs).unwrap();
        writer
            .stage_insert_message(&mut batch, &a, &docs, &digests)
            .unwrap();
        writer
            .stage_insert_message(&mut batch, &b, &docs, &digests)
            .unwrap();
        writer.commit(s, batch).unwrap();
        let mut names = files.names().unwrap();
        names.sort();
        assert_eq!(names, vec!["10000001-0", "10000002-0"]);
        for m in [&a, &b] {
            assert_eq!(
                get_documents(s, m.id).unwrap(),
                vec![big.clone(), small.clone()]
            );
            assert_eq!(get_document(s, m.id, 0).unwrap(), Some(big.clone()));
        }
        // Deleting one message's content leaves the other's file.
        let mut deleted = a.clone();
        deleted.content_deleted = true;
        update_message(s, &a, &deleted, Timestamp(9_000)).unwrap();
        assert_eq!(files.names().unwrap(), vec!["10000002-0"]);
        assert_eq!(get_document(s, b.id, 0).unwrap(), Some(big.clone()));
        // A writer dropped before committing leaves no file.
        let c = MessageId(10_000_003);
        let mut writer = DocumentWriter::new(s);
        writer.write_documents(c, &docs).unwrap();
        assert!(files.path().join("10000003-0").exists());
        drop(writer);
        assert!(!files.path().join("10000003-0").exists());
        // A taken ID: its file is neither replaced nor removed.
        let mut writer = DocumentWriter::new(s);
        let mut batch = Batch::new();
        assert!(
            writer
                .stage_insert_message(&mut batch, &b, &docs, &digests)
                .is_err()
        );
        drop(writer);
        assert_eq!(files.names().unwrap(), vec!["10000002-0"]);
        // A commit refused by its precondition removes its files.
        let mut d = b.clone();
        d.id = MessageId(10_000_004);
        let mut writer = DocumentWriter::new(s);
        let mut batch = Batch::new();
        writer
            .stage_insert_message(&mut batch, &d, &docs, &digests)
            .unwrap();
        batch.expect_absent(MESSAGES, b.id.key());
        assert!(matches!(
            writer.commit(s, batch),
            Err(RepoError::Conflict(_))
        ));
        assert_eq!(files.names().unwrap(), vec!["10000002-0"]);
        // Without a file directory such a record is an error, not bytes.
        drop(store);
        let plain = loop {
            match crate::store::open_sled(&tmp.path().join("store")) {
                Ok(s) => break s,
                Err(StoreError::Locked { .. }) => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert!(get_documents(plain.as_ref(), b.id).is_err());
    }

    #[test]
    fn file_names_parse_strictly() {
        assert_eq!(
            parse_file_name("10000001-0"),
            Some((MessageId(10_000_001), 0))
        );
        assert_eq!(
            parse_file_name("10000001-65535"),
            Some((MessageId(10_000_001), 65535))
        );
        for bad in ["10000001", "-0", "1-", "a-0", "1-0.tmp", "1-65536", "1--0"] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn delete_documents_keeps_the_record() {
        let store = open_memory();
        let s = store.as_ref();
        let m = stored(s, 10_000_001, 1_000);
        delete_documents(s, m.id).unwrap();
        assert!(get_documents(s, m.id).unwrap().is_empty());
        assert!(get_message(s, m.id).unwrap().is_some());
        delete_documents(s, m.id).unwrap();
    }
}
