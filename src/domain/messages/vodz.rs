//! Big messages (VoDZ, velkoobjemové datové zprávy): the limits, the store
//! of uploaded attachments, and the documents of a big message as files.
//!
//! The operator's VoDZ specification (Info_pro_vyvojare_2022_1_VoDZ_ZIP_ASiC,
//! "the VoDZ manual" below) is the source of every rule here:
//! - 3.6.1: an upload (UploadAttachment) is kept unused for a configured
//!   time (24 hours by default), then deleted; the unused uploads of one
//!   box may not exceed ten times the largest big message (1286). An
//!   upload may be used in several messages while it exists.
//! - 3.1 and 3.7: a big message's documents total at most the technical
//!   limit (1 GB in production) and more than the VoDZ threshold (20 MB
//!   less a tolerance of 2 MB, so 18 MB).
//! - chapter 6: at most 100 documents, names of at most 255 characters.
//!
//! Layout: tree `vodz_uploads`: upload ID (8 bytes big-endian) → [`Upload`]
//! (JSON); the upload's bytes are the file `att-<id>` in the store's
//! document directory. A big message's documents are files of that
//! directory too, named and referenced as every large document is (see
//! `message_repo`): an upload becomes a hard link, an inline document is
//! its spooled file renamed. So deleting a message's content or an
//! upload never touches the other's bytes.
//!
//! Where the manual is silent: a used upload stays usable (and its file
//! kept) for as long as the store lives; the gateway keeps no count of
//! the messages that share it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::domain::boxes::databox::BoxId;
use crate::domain::boxes::repo::RepoError;
use crate::domain::messages;
use crate::domain::messages::message::{DocumentDigest, Message, MessageId, Timestamp};
use crate::store::{Batch, FileDir, KeyRange, Order, Store, StoreError};

const UPLOADS: &str = "vodz_uploads";
const UPLOAD_SEQUENCE: &str = "vodz_att_id";

/// Megabyte as the VoDZ manual counts sizes.
const MB: u64 = 1024 * 1024;

/// The VoDZ limits (`[vodz]` in the configuration); the defaults are
/// ISDS's production values.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct VodzLimits {
    /// Most bytes of all documents of one big message (manual 3.1: 1 GB
    /// in production); also the most one upload may hold (1287).
    pub max_total_bytes: u64,
    /// Fewest bytes of all documents of a big message, exclusive (manual
    /// 3.7: 20 MB less the tolerance of 2 MB; 1297 at or below).
    pub min_total_bytes: u64,
    /// Most bytes of a box's unused uploads (manual 3.6.1: ten times the
    /// largest message; 1286 over it).
    pub unused_uploads_cap_bytes: u64,
    /// Seconds an unused upload is kept (manual 3.6.1: 24 hours).
    pub keep_unused_secs: i64,
    /// Most documents of one message (manual chapter 6: 100).
    pub max_documents: usize,
}

impl Default for VodzLimits {
    fn default() -> Self {
        VodzLimits {
            max_total_bytes: 1024 * MB,
            min_total_bytes: 18 * MB,
            unused_uploads_cap_bytes: 10 * 1024 * MB,
            keep_unused_secs: 24 * 3600,
            max_documents: 100,
        }
    }
}

/// Longest document name, in characters (manual chapter 6; 1280).
pub const MAX_FILE_NAME_CHARS: usize = 255;

/// The digest algorithms an upload's hashes are given in, as the
/// `AttHashAlg` / `dmAttHash1Alg` attributes name them (manual 3.6.1).
pub const HASH1_ALGORITHM: &str = "SHA-256";
pub const HASH2_ALGORITHM: &str = "SHA3-256";

/// One uploaded attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    pub id: u64,
    pub owner: BoxId,
    pub mime_type: String,
    /// `dmFileDescr`: the file name.
    pub descr: String,
    pub size: u64,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
    /// SHA3-256 of the bytes, lower-case hex.
    pub sha3_256: String,
    pub uploaded_at: Timestamp,
    /// Used in a sent message at least once.
    pub used: bool,
}

impl Upload {
    /// The name of the upload's file in the document directory.
    pub fn file_name(&self) -> String {
        upload_file_name(self.id)
    }
}

fn upload_file_name(id: u64) -> String {
    format!("att-{id}")
}

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn encode(u: &Upload) -> Vec<u8> {
    serde_json::to_vec(u).unwrap_or_default()
}

fn decode(bytes: &[u8]) -> Result<Upload, RepoError> {
    serde_json::from_slice(bytes).map_err(|source| RepoError::Corrupt {
        what: "VoDZ upload".to_owned(),
        source,
    })
}

/// The store's document directory, which VoDZ needs.
pub fn files(store: &dyn Store) -> Result<&FileDir, RepoError> {
    store.files().ok_or_else(|| {
        RepoError::Store(StoreError::Corrupt(
            "big messages (VoDZ) need a store with a document directory".to_owned(),
        ))
    })
}

/// A fresh upload ID.
pub fn next_upload_id(store: &dyn Store) -> Result<u64, RepoError> {
    Ok(store.next_id(UPLOAD_SEQUENCE)? + 1)
}

/// Records an upload whose file is in place, durably.
pub fn put_upload(store: &dyn Store, upload: &Upload) -> Result<(), RepoError> {
    let mut batch = Batch::new();
    batch.put(UPLOADS, upload.id.to_be_bytes(), encode(upload));
    store.apply_durable(batch)?;
    Ok(())
}

pub fn get_upload(store: &dyn Store, id: u64) -> Result<Option<Upload>, RepoError> {
    match store.tree(UPLOADS)?.get(&id.to_be_bytes())? {
        Some(bytes) => Ok(Some(decode(&bytes)?)),
        None => Ok(None),
    }
}

/// Bytes of the box's unused uploads.
pub fn unused_bytes(store: &dyn Store, owner: &BoxId) -> Result<u64, RepoError> {
    let mut total = 0u64;
    for entry in store.tree(UPLOADS)?.iter(KeyRange::all(), Order::Ascending) {
        let (_, bytes) = entry?;
        let u = decode(&bytes)?;
        if !u.used && u.owner == *owner {
            total = total.saturating_add(u.size);
        }
    }
    Ok(total)
}

/// Deletes the unused uploads older than the keeping time at `now`
/// (manual 3.6.1): the record durably first, then the file. Returns how
/// many went.
pub fn expire_unused(
    store: &dyn Store,
    limits: &VodzLimits,
    now: Timestamp,
) -> Result<usize, RepoError> {
    let cutoff = now.plus_micros(-limits.keep_unused_secs.saturating_mul(1_000_000));
    let mut gone = Vec::new();
    for entry in store.tree(UPLOADS)?.iter(KeyRange::all(), Order::Ascending) {
        let (key, bytes) = entry?;
        let u = decode(&bytes)?;
        if !u.used && u.uploaded_at < cutoff {
            gone.push((key, u.file_name()));
        }
    }
    if gone.is_empty() {
        return Ok(0);
    }
    let mut batch = Batch::new();
    for (key, _) in &gone {
        batch.delete(UPLOADS, key.clone());
    }
    store.apply_durable(batch)?;
    if let Some(files) = store.files() {
        for (_, name) in &gone {
            if let Err(err) = files.remove(name) {
                tracing::warn!(file = %name, error = %err, "could not remove an expired upload");
            }
        }
    }
    Ok(gone.len())
}

/// Marks uploads as used (they no longer count against the cap nor
/// expire), in the batch that stores the message using them.
pub fn stage_mark_used(batch: &mut Batch, uploads: &[Upload]) {
    for u in uploads {
        let mut used = u.clone();
        used.used = true;
        batch.put(UPLOADS, u.id.to_be_bytes(), encode(&used));
    }
}

/// Where the bytes of one document of a stored message are, for a
/// streamed download.
#[derive(Debug, Clone)]
pub enum DocSource {
    /// A file of the document directory.
    File { path: PathBuf, size: u64 },
    /// Held in the store's tree (small documents of ordinary messages).
    Memory(bytes::Bytes),
}

impl DocSource {
    pub fn size(&self) -> u64 {
        match self {
            DocSource::File { size, .. } => *size,
            DocSource::Memory(b) => b.len() as u64,
        }
    }
}

/// Where each document of `msg` is, in order, without reading files.
pub fn document_sources(store: &dyn Store, msg: &Message) -> Result<Vec<DocSource>, RepoError> {
    let count = u16::try_from(msg.documents.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(msg.documents.len());
    for index in 0..count {
        out.push(document_source(store, msg.id, index)?);
    }
    Ok(out)
}

/// Where document `index` of message `id` is.
pub fn document_source(
    store: &dyn Store,
    id: MessageId,
    index: u16,
) -> Result<DocSource, RepoError> {
    if let (Some(files), Some((name, size))) = (
        store.files(),
        messages::repo::document_file(store, id, index)?,
    ) {
        return Ok(DocSource::File {
            path: files.path().join(name),
            size,
        });
    }
    let bytes = messages::repo::get_document(store, id, index)?.unwrap_or_default();
    Ok(DocSource::Memory(bytes::Bytes::from(bytes)))
}

/// One document of a new big message, as a file of the document
/// directory already named for the message.
pub struct StagedFile {
    pub name: String,
    pub size: u64,
    pub sha256: DocumentDigest,
}

/// Removes files made for a message that was not stored after all.
pub struct FileGuard<'a> {
    files: &'a FileDir,
    names: Vec<String>,
    committed: bool,
}

impl<'a> FileGuard<'a> {
    pub fn new(files: &'a FileDir) -> Self {
        FileGuard {
            files,
            names: Vec::new(),
            committed: false,
        }
    }

    pub fn add(&mut self, name: String) {
        self.names.push(name);
    }

    pub fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for FileGuard<'_> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for name in &self.names {
            let _ = self.files.remove(name);
        }
    }
}

/// The file name document `index` of message `id` is kept under.
pub fn document_file_name(id: MessageId, index: u16) -> String {
    messages::repo::document_file_name(id, index)
}

/// Raw bytes read per piece of a streamed document: a multiple of 3, so
/// the pieces' base64 texts join into the text of the whole.
pub const STREAM_PIECE: usize = 3 * 64 * 1024;

/// Calls `f` with the bytes of `source` piece by piece (each piece a
/// multiple of 3 bytes but the last), never holding the whole; stops
/// when `f` answers false.
pub fn for_each_piece(source: &DocSource, mut f: impl FnMut(&[u8]) -> bool) -> std::io::Result<()> {
    use std::io::Read;
    match source {
        DocSource::Memory(bytes) => {
            for piece in bytes.chunks(STREAM_PIECE) {
                if !f(piece) {
                    break;
                }
            }
            Ok(())
        }
        DocSource::File { path, size } => {
            let mut file = std::fs::File::open(path)?;
            let mut buf = vec![0u8; STREAM_PIECE];
            let mut left = *size;
            while left > 0 {
                let want = usize::try_from(left.min(STREAM_PIECE as u64)).unwrap_or(STREAM_PIECE);
                file.read_exact(&mut buf[..want])?;
                if !f(&buf[..want]) {
                    break;
                }
                left -= want as u64;
            }
            Ok(())
        }
    }
}

/// Calls `f` with the base64 text of `source` piece by piece.
pub fn for_each_base64_piece(
    source: &DocSource,
    mut f: impl FnMut(&[u8]) -> bool,
) -> std::io::Result<()> {
    use base64::Engine as _;
    let mut text = vec![0u8; crate::xml::fragment::base64_len(STREAM_PIECE)];
    for_each_piece(source, |piece| {
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(piece, &mut text)
            .unwrap_or(0);
        f(&text[..n])
    })
}

/// Why the hash of a big message could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Wire(#[from] crate::domain::messages::wire::WireError),
    #[error("reading a document file: {0}")]
    Io(#[from] std::io::Error),
}

/// Stand-ins for the documents of a message while its `dmDm` is written
/// (each a distinct allocation, found again by address).
pub fn markers(count: usize) -> Vec<bytes::Bytes> {
    (0..count)
        .map(|i| bytes::Bytes::from(format!("document-{i}").into_bytes()))
        .collect()
}

/// Which of `markers` `bytes` is (the same allocation).
pub fn marker_index(markers: &[bytes::Bytes], bytes: &bytes::Bytes) -> Option<usize> {
    markers
        .iter()
        .position(|m| m.as_ptr() == bytes.as_ptr() && m.len() == bytes.len())
}

/// `dmHash` of a message whose documents are at `sources`: SHA-256 of its
/// `dmDm` exactly as `message_wire` writes it, the documents' base64
/// texts streamed from their files.
pub fn dm_dm_hash(msg: &Message, sources: &[DocSource]) -> Result<[u8; 32], StreamError> {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let marks = markers(sources.len());
    let dm = crate::domain::messages::wire::dm_dm(msg, marks.clone())?;
    let mut w = crate::xml::XmlWriter::deferring_all_binaries();
    w.set_prefixing(crate::schema::isds_prefixing("q"));
    crate::domain::messages::wire::write(&mut w, &dm);
    drop(dm);
    let mut h = Sha256::new();
    for part in w.into_fragment().into_parts() {
        match part {
            crate::xml::Part::Text(t) => h.update(t.as_bytes()),
            crate::xml::Part::Base64(b) => match marker_index(&marks, &b) {
                Some(i) => for_each_base64_piece(&sources[i], |text| {
                    h.update(text);
                    true
                })?,
                None => h.update(base64::engine::general_purpose::STANDARD.encode(&b)),
            },
        }
    }
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_manuals_values() {
        let l = VodzLimits::default();
        assert_eq!(l.max_total_bytes, 1 << 30);
        assert_eq!(l.min_total_bytes, 18 << 20);
        assert_eq!(l.unused_uploads_cap_bytes, 10 * l.max_total_bytes);
        assert_eq!(l.keep_unused_secs, 86_400);
        assert_eq!(l.max_documents, 100);
        assert_eq!(hex(&[0, 255, 16]), "00ff10");
    }
}
