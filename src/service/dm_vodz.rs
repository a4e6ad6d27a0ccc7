//! dm_VoDZ (`/DS/vodz`): big messages (VoDZ), the seven operations of
//! `dm_VoDZ.wsdl` as the operator's VoDZ specification describes them
//! (Info_pro_vyvojare_2022_1_VoDZ_ZIP_ASiC, "the VoDZ manual" below).
//!
//! Documents never pass through memory whole: the request's base64 texts
//! arrive already decoded into spool files ([`VodzIo::spooled`], filled by
//! the streamed request path of `http`), and a download names the files
//! of its documents ([`VodzIo::register`]) for the response to stream
//! them, as base64 inside the XML or as MTOM parts. Only the signed
//! downloads and AuthenticateBigMessage hold a message whole (a CMS
//! signature covers its content).
//!
//! Checks and their codes (official table rows 1280-1299):
//! - UploadAttachment (manual 3.6.1): right to send (1206), name of at
//!   most 255 characters (1280), an allowed format and MIME type (1214),
//!   at most the VoDZ limit (1287), the box's unused uploads under their
//!   cap (1286).
//! - CreateBigMessage (manual 3.7): right to send (1206); per `dmExtFile`
//!   the attributes (1291, 1292; 1284 for an empty `dmAttID`, the manual
//!   is silent on which code that is) and digests (1288 missing, 1289
//!   malformed or of another algorithm, 1290 not the upload's), the
//!   upload exists (1294) and is the box's (1293); inline documents at
//!   most the ordinary limit (1295); the total above the VoDZ threshold
//!   (1297) and within the limit (1296); then every rule of CreateMessage
//!   (sender box, formats, recipient). One recipient only (manual 3.7:
//!   no big multiple messages; the schema has room for one).
//! - Downloads (manual 3.6.2, 3.8): the rules of their ordinary twins
//!   (1219, 1211, 1206-1208, 1222, 1230); an ordinary message is 1281;
//!   DownloadAttachment past the last document is 1299.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::dm_operations::{self, CommonEnvelope, Document, RecipientSpec};
use super::message_read::{self, Side, Want};
use super::{CallContext, Rejection, Reply, ServiceError, Services, dm_status, not_implemented};
use crate::auth::Identity;
use crate::domain::boxes::repo::RepoError;
use crate::domain::messages;
use crate::domain::messages::message::{ContentKind, DocumentMeta, Message, Timestamp};
use crate::domain::messages::vodz::{self, DocSource, Upload, VodzLimits};
use crate::schema::{
    self, AuthenticateBigMessageResponse, BigMessageDownloadResponse, CreateBigMessageResponse,
    DownloadAttachmentResponse, DownloadAttachmentResponseDmFile, OperationInfo, Request,
    SignedBigMessageDownloadResponse, SignedSentBigMessageDownloadResponse, TBigMessEnvelope,
    TBigMessageOutput, ToXml, UploadAttachmentResponse, UploadAttachmentResponseDmAttHash1,
    UploadAttachmentResponseDmAttHash2, XmlRoot, rt,
};
use crate::soap::Fault;
use crate::soap::spool::{Spooled, SpooledContent};
use crate::status::{IsdsCode, IsdsStatus};
use crate::store::{Batch, Store};
use crate::xml::{Element, Fragment, XmlWriter};

/// What the streamed path of a VoDZ call hands to the operation and
/// takes back: the spooled documents of the request, and the files of
/// the response.
pub struct VodzIo {
    pub spooled: Spooled,
    /// Binary contents of the reply kept out of its XML: each part of the
    /// reply's fragment whose bytes are one of these markers stands for
    /// the source next to it.
    out: Mutex<Vec<(Bytes, DocSource)>>,
}

impl VodzIo {
    pub fn new(spooled: Spooled) -> VodzIo {
        VodzIo {
            spooled,
            out: Mutex::new(Vec::new()),
        }
    }

    /// Makes `marker` (written into the reply as a binary content) stand
    /// for `source`.
    fn register(&self, marker: Bytes, source: DocSource) {
        if let Ok(mut out) = self.out.lock() {
            out.push((marker, source));
        }
    }

    /// The binary contents kept out of the reply, with their markers.
    pub fn take_out(&self) -> Vec<(Bytes, DocSource)> {
        self.out
            .lock()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default()
    }
}

fn io<'a>(ctx: &CallContext<'a>) -> Result<&'a VodzIo, Rejection> {
    ctx.vodz.ok_or_else(|| {
        Rejection::from(Fault::server(
            "the VoDZ services are served on the streamed request path only",
        ))
    })
}

/// The spooled content an element value stands for.
fn spooled(io: &VodzIo, value: &Bytes) -> Result<Arc<SpooledContent>, Rejection> {
    io.spooled.content(value).ok_or_else(|| {
        Rejection::from(Fault::server(
            "a document of the request was not spooled; the request path is broken",
        ))
    })
}

pub(super) async fn handle(
    svc: &Services,
    ctx: &CallContext<'_>,
    op: &OperationInfo,
    request: Request,
) -> Reply {
    let store = svc.store.clone();
    let limits = svc.vodz.clone();
    let now = Timestamp::now(svc.clock.as_ref());
    // Unused uploads whose keeping time ran out go first (manual 3.6.1).
    tokio::task::spawn_blocking(move || vodz::expire_unused(store.as_ref(), &limits, now))
        .await
        .map_err(ServiceError::from)?
        .map_err(ServiceError::from)?;
    match request {
        Request::UploadAttachment(req) => upload(svc, ctx, req.dm_file).await,
        Request::CreateBigMessage(req) => create(svc, ctx, req.0).await,
        Request::BigMessageDownload(req) => big_download(svc, ctx, req.dm_id).await,
        Request::DownloadAttachment(req) => attachment(svc, ctx, req.dm_id, req.att_num).await,
        Request::SignedBigMessageDownload(req) => signed(svc, ctx, req.dm_id, Want::Received).await,
        Request::SignedSentBigMessageDownload(req) => signed(svc, ctx, req.dm_id, Want::Sent).await,
        Request::AuthenticateBigMessage(req) => authenticate(svc, ctx, req.dm_message).await,
        _ => not_implemented(op),
    }
}

/// The reply's fragment with every binary content kept as bytes (so the
/// registered markers stay parts of their own).
fn fragment<T: XmlRoot>(v: &T) -> Fragment {
    let mut w = XmlWriter::deferring_all_binaries();
    schema::write_root(&mut w, v);
    w.into_fragment()
}

fn blocking_err(e: tokio::task::JoinError) -> Rejection {
    ServiceError::from(e).into()
}

fn repo_err(e: RepoError) -> Rejection {
    ServiceError::from(e).into()
}

/// ISDS's answer to a CreateBigMessage whose `dmExtFile` lacks an
/// attribute the schema requires: a status, not a fault (table rows
/// 1284, 1288, 1291, 1292), checked on the raw body.
pub(super) fn precheck(op: &OperationInfo, body: &Element) -> Option<Reply> {
    if op.name != "CreateBigMessage" {
        return None;
    }
    let files = body.elements().find(|e| e.name == "dmFiles")?;
    let mut status = None;
    for ext in files.elements().filter(|e| e.name == "dmExtFile") {
        let missing = |name: &str| ext.attr(name).is_none();
        status = if missing("dmFileMetaType") {
            Some(IsdsStatus::new(IsdsCode::VodzMetaTypeMissing))
        } else if missing("dmAttID") {
            Some(IsdsStatus::new(IsdsCode::VodzAttIdMissing))
        } else if ext.attr("dmAttID").is_some_and(|v| v.trim().is_empty()) {
            Some(IsdsStatus::new(IsdsCode::VodzReferenceIncomplete))
        } else if ["dmAttHash1", "dmAttHash1Alg", "dmAttHash2", "dmAttHash2Alg"]
            .iter()
            .any(|a| ext.attr(a).is_none_or(|v| v.trim().is_empty()))
        {
            Some(IsdsStatus::new(IsdsCode::VodzDigestMissing))
        } else {
            None
        };
        if status.is_some() {
            break;
        }
    }
    let status = status?;
    Some(Ok(fragment(&CreateBigMessageResponse(TBigMessageOutput {
        dm_id: None,
        dm_status: dm_status(&status),
    }))))
}

/// 1280 for a name over 255 characters, 1214 for a format or MIME type
/// ISDS refuses.
fn name_and_format(descr: &str, mime: &str) -> Option<IsdsStatus> {
    if descr.chars().count() > vodz::MAX_FILE_NAME_CHARS {
        return Some(IsdsStatus::new(IsdsCode::FileNameTooLong));
    }
    if !messages::rules::format_allowed(descr) {
        return Some(IsdsStatus::new(IsdsCode::AttachmentRejected));
    }
    if messages::rules::mime_refused(mime) {
        return Some(IsdsStatus::new(IsdsCode::AttachmentMimeRejected));
    }
    None
}

/// UploadAttachment (manual 3.6.1).
async fn upload(
    svc: &Services,
    ctx: &CallContext<'_>,
    file: schema::UploadAttachmentDmFile,
) -> Reply {
    let io = io(ctx)?;
    let content = spooled(io, &file.dm_encoded_content)?;
    let answer = |status: IsdsStatus, done: Option<&Upload>| {
        Ok(fragment(&UploadAttachmentResponse {
            dm_att_id: done.map(|u| u.id.to_string()),
            dm_att_hash1: done.map(|u| UploadAttachmentResponseDmAttHash1 {
                value: u.sha256.clone(),
                att_hash_alg: Some(vodz::HASH1_ALGORITHM.to_owned()),
            }),
            dm_att_hash2: done.map(|u| UploadAttachmentResponseDmAttHash2 {
                value: u.sha3_256.clone(),
                att_hash_alg: Some(vodz::HASH2_ALGORITHM.to_owned()),
            }),
            dm_status: dm_status(&status),
        }))
    };
    if let Some(refusal) = message_read::send_refusal(ctx.identity) {
        return answer(refusal, None);
    }
    if let Some(refusal) = name_and_format(&file.dm_file_descr, &file.dm_mime_type) {
        return answer(refusal, None);
    }
    if content.size > svc.vodz.max_total_bytes {
        return answer(IsdsStatus::new(IsdsCode::VodzAttachmentTooLarge), None);
    }
    let store = svc.store.clone();
    let limits = svc.vodz.clone();
    let owner = ctx.identity.databox.id.clone();
    let now = Timestamp::now(svc.clock.as_ref());
    // Checked and stored in one blocking step; the spool file is renamed,
    // never copied.
    let result =
        tokio::task::spawn_blocking(move || -> Result<Result<Upload, IsdsStatus>, RepoError> {
            let store = store.as_ref();
            let files = vodz::files(store)?;
            let unused = vodz::unused_bytes(store, &owner)?;
            if unused.saturating_add(content.size) > limits.unused_uploads_cap_bytes {
                return Ok(Err(IsdsStatus::new(IsdsCode::VodzUploadCapReached)));
            }
            let id = vodz::next_upload_id(store)?;
            let upload = Upload {
                id,
                owner,
                mime_type: file.dm_mime_type.clone(),
                descr: file.dm_file_descr.clone(),
                size: content.size,
                sha256: vodz::hex(&content.sha256),
                sha3_256: vodz::hex(&content.sha3_256),
                uploaded_at: now,
                used: false,
            };
            let name = upload.file_name();
            content.keep_as(&files.path().join(&name)).map_err(|e| {
                RepoError::Store(crate::store::StoreError::Io {
                    path: files.path().to_path_buf(),
                    source: e,
                })
            })?;
            let stored = files
                .sync()
                .map_err(RepoError::from)
                .and_then(|()| vodz::put_upload(store, &upload));
            if let Err(e) = stored {
                let _ = files.remove(&name);
                return Err(e);
            }
            Ok(Ok(upload))
        })
        .await
        .map_err(blocking_err)?
        .map_err(repo_err)?;
    match result {
        Ok(upload) => answer(IsdsStatus::ok(), Some(&upload)),
        Err(status) => answer(status, None),
    }
}

/// The envelope of a big message as CreateMessage's checks take it.
fn split_big(e: TBigMessEnvelope) -> (CommonEnvelope, RecipientSpec) {
    super::dm_operations::split_envelope!(e)
}

/// Where a document of a new big message comes from.
enum Origin {
    Upload(Upload),
    Inline(Arc<SpooledContent>),
}

/// Checks one digest of a `dmExtFile` against the upload: 1289 for an
/// algorithm the gateway does not give or a value that is no hex digest,
/// 1290 for another value.
fn digest_status(upload: &Upload, value: &str, algorithm: &str) -> Option<IsdsStatus> {
    let expected = match algorithm.trim() {
        vodz::HASH1_ALGORITHM => &upload.sha256,
        vodz::HASH2_ALGORITHM => &upload.sha3_256,
        _ => return Some(IsdsStatus::new(IsdsCode::VodzDigestMalformed)),
    };
    let value = value.trim();
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(IsdsStatus::new(IsdsCode::VodzDigestMalformed));
    }
    (!value.eq_ignore_ascii_case(expected)).then(|| IsdsStatus::new(IsdsCode::VodzDigestMismatch))
}

/// CreateBigMessage (manual 3.7).
async fn create(svc: &Services, ctx: &CallContext<'_>, req: schema::TBigMessageInput) -> Reply {
    let io = io(ctx)?;
    let answer = |status: IsdsStatus, id: Option<String>| {
        Ok(fragment(&CreateBigMessageResponse(TBigMessageOutput {
            dm_id: id,
            dm_status: dm_status(&status),
        })))
    };
    if let Some(refusal) = message_read::send_refusal(ctx.identity) {
        return answer(refusal, None);
    }
    // Inline documents first: their spool files are this request's.
    let mut inline = Vec::new();
    for f in &req.dm_files.dm_file {
        let content = spooled(io, &f.dm_encoded_content)?;
        if let Some(refusal) = name_and_format(&f.dm_file_descr, &f.dm_mime_type) {
            return answer(refusal, None);
        }
        inline.push((f.clone(), content));
    }
    let store = svc.store.clone();
    let clock = svc.clock.clone();
    let signer = svc.signer.clone();
    let limits = svc.vodz.clone();
    let identity = ctx.identity.clone();
    let (common, recipient) = split_big(req.dm_envelope);
    let ext_files = req.dm_files.dm_ext_file;
    let outcome = tokio::task::spawn_blocking(move || {
        create_blocking(
            store.as_ref(),
            clock.as_ref(),
            signer.as_deref(),
            &limits,
            &identity,
            common,
            recipient,
            ext_files,
            inline,
        )
    })
    .await
    .map_err(blocking_err)?
    .map_err(Rejection::from)?;
    match outcome {
        Ok(id) => answer(IsdsStatus::ok(), Some(id)),
        Err(status) => answer(status, None),
    }
}

#[allow(clippy::too_many_arguments)]
fn create_blocking(
    store: &dyn Store,
    clock: &dyn crate::domain::clock::Clock,
    signer: Option<&crate::sign::Signer>,
    limits: &VodzLimits,
    identity: &Identity,
    common: CommonEnvelope,
    recipient: RecipientSpec,
    ext_files: Vec<schema::TBigMessageInputDmFilesDmExtFile>,
    inline: Vec<(schema::TBigMessageInputDmFilesDmFile, Arc<SpooledContent>)>,
) -> Result<Result<String, IsdsStatus>, ServiceError> {
    let me = &identity.databox.id;
    // External documents: the uploads they name, with their digests.
    let mut docs: Vec<(DocumentMeta, Origin)> = Vec::new();
    for ext in ext_files {
        let att = ext.dm_att_id.trim();
        let upload = match att.parse::<u64>() {
            Ok(id) => vodz::get_upload(store, id)?,
            Err(_) => None,
        };
        let Some(upload) = upload else {
            return Ok(Err(IsdsStatus::fill(
                IsdsCode::VodzAttachmentNotFound,
                &[att],
            )));
        };
        if upload.owner != *me {
            return Ok(Err(IsdsStatus::fill(
                IsdsCode::VodzAttachmentOfAnotherBox,
                &[att],
            )));
        }
        let digests = [
            (&ext.dm_att_hash1, &ext.dm_att_hash1_alg),
            (&ext.dm_att_hash2, &ext.dm_att_hash2_alg),
        ];
        if let Some(status) = digests
            .iter()
            .find_map(|(value, alg)| digest_status(&upload, value, alg))
        {
            return Ok(Err(status));
        }
        let meta = DocumentMeta {
            mime_type: upload.mime_type.clone(),
            meta_type: ext.dm_file_meta_type.clone(),
            guid: ext.dm_file_guid.clone(),
            up_guid: ext.dm_up_file_guid.clone(),
            descr: upload.descr.clone(),
            format: None,
            kind: ContentKind::Encoded,
            size: upload.size,
        };
        docs.push((meta, Origin::Upload(upload)));
    }
    let mut inline_total = 0u64;
    for (f, content) in inline {
        inline_total = inline_total.saturating_add(content.size);
        let meta = DocumentMeta {
            mime_type: f.dm_mime_type.clone(),
            meta_type: f.dm_file_meta_type.clone(),
            guid: f.dm_file_guid.clone(),
            up_guid: f.dm_up_file_guid.clone(),
            descr: f.dm_file_descr.clone(),
            format: None,
            kind: ContentKind::Encoded,
            size: content.size,
        };
        docs.push((meta, Origin::Inline(content)));
    }
    let total: u64 = docs.iter().map(|(m, _)| m.size).sum();
    let sender = crate::domain::boxes::repo::get_box(store, me)?
        .unwrap_or_else(|| crate::domain::DataBox::clone(&identity.databox));
    if inline_total > messages::rules::attachment_limit_bytes(&sender) {
        return Ok(Err(IsdsStatus::new(IsdsCode::VodzInlineTooLarge)));
    }
    if total > limits.max_total_bytes {
        return Ok(Err(IsdsStatus::new(IsdsCode::VodzTooLarge)));
    }
    if total <= limits.min_total_bytes {
        return Ok(Err(IsdsStatus::new(IsdsCode::VodzTooSmall)));
    }
    if docs.len() > limits.max_documents {
        // The table has no code of its own for too many documents; the
        // general parameter error names what is wrong.
        return Ok(Err(IsdsStatus::fill(
            IsdsCode::InvalidParameter,
            &["dmFiles"],
        )));
    }
    let documents: Vec<Document> = docs
        .iter()
        .map(|(meta, _)| Document {
            meta: meta.clone(),
            bytes: Bytes::new(),
        })
        .collect();
    let prepared = match dm_operations::prepare(store, identity, common, documents, true)? {
        Ok(p) => p,
        Err(status) => return Ok(Err(status)),
    };
    let (recipient_box, envelope) = match dm_operations::address(store, &prepared, &recipient)? {
        Ok(found) => found,
        Err(status) => return Ok(Err(status)),
    };
    let now = Timestamp::now(clock);
    let id = messages::repo::next_message_id(store)?;
    let mut msg = dm_operations::build_message(&prepared, id, &recipient_box, envelope, now);
    msg.vodz = true;

    // The documents' files, named for the message: an upload linked, an
    // inline document renamed from its spool file.
    let files = vodz::files(store)?;
    let mut guard = vodz::FileGuard::new(files);
    let mut staged = Vec::with_capacity(docs.len());
    let mut sources = Vec::with_capacity(docs.len());
    let mut used = Vec::new();
    for (index, (meta, origin)) in docs.into_iter().enumerate() {
        let index = u16::try_from(index).unwrap_or(u16::MAX);
        let name = vodz::document_file_name(id, index);
        let digest: [u8; 32] = match &origin {
            Origin::Upload(u) => {
                files.link(&u.file_name(), &name)?;
                guard.add(name.clone());
                hex_digest(&u.sha256)
            }
            Origin::Inline(content) => {
                content.keep_as(&files.path().join(&name)).map_err(|e| {
                    crate::store::StoreError::Io {
                        path: files.path().to_path_buf(),
                        source: e,
                    }
                })?;
                guard.add(name.clone());
                content.sha256
            }
        };
        if let Origin::Upload(u) = origin {
            used.push(u);
        }
        sources.push(DocSource::File {
            path: files.path().join(&name),
            size: meta.size,
        });
        staged.push((name, meta.size, digest));
    }
    msg.hash = vodz::dm_dm_hash(&msg, &sources).map_err(|e| match e {
        vodz::StreamError::Wire(w) => ServiceError::from(w),
        vodz::StreamError::Io(source) => ServiceError::Store(crate::store::StoreError::Io {
            path: files.path().to_path_buf(),
            source,
        }),
    })?;
    if let Some(signer) = signer {
        // dmQTimestamp as for every sent message (9500 without one).
        let at = u64::try_from(now.unix_seconds()).unwrap_or(0);
        match signer.timestamp(&msg.hash, at) {
            Ok(token) => msg.qtimestamp = Some(token),
            Err(err) => {
                tracing::error!(error = %err, "time stamp of a new big message failed");
                return Ok(Err(crate::status::timestamp_failure()));
            }
        }
    }
    files.sync()?;
    let mut batch = Batch::new();
    messages::repo::stage_insert_message_with_files(&mut batch, &msg, &staged);
    vodz::stage_mark_used(&mut batch, &used);
    messages::repo::commit_batch(store, batch)?;
    guard.commit();
    Ok(Ok(id.to_string()))
}

/// A digest from its lower-case hex (as the gateway stored it).
fn hex_digest(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = text
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0);
    }
    out
}

/// A big message of the caller's box for a download: the rules of the
/// ordinary downloads (see `message_read`), 1281 for an ordinary message.
/// A received message being downloaded whole becomes read (`mark`).
fn find_big(
    store: &dyn Store,
    me: &Identity,
    dm_id: &str,
    want: Want,
    mark_at: Option<Timestamp>,
) -> Result<Result<Message, IsdsStatus>, RepoError> {
    let (msg, side) = match message_read::lookup(store, me, dm_id, want)? {
        Ok(found) => found,
        Err(nf) => return Ok(Err(nf.own_status(me, dm_id))),
    };
    if !msg.vodz {
        return Ok(Err(IsdsStatus::new(IsdsCode::WrongServiceForMessage)));
    }
    let refusal = match side {
        Side::Recipient => {
            message_read::read_refusal(me, &msg).or_else(|| message_read::state_refusal(&msg))
        }
        Side::Sender => message_read::send_refusal(me),
    };
    if let Some(refusal) = refusal {
        return Ok(Err(refusal));
    }
    if msg.content_deleted {
        return Ok(Err(message_read::own_message_gone(me, dm_id)));
    }
    if let (Side::Recipient, Some(now)) = (side, mark_at) {
        return match message_read::mark_read(store, msg.id, now) {
            Ok(after) => Ok(Ok(after.unwrap_or(msg))),
            Err(err) if err.is_disk_full() => Ok(Ok(msg)),
            Err(err) => Err(err),
        };
    }
    Ok(Ok(msg))
}

/// BigMessageDownload (manual 3.8): MessageDownload's answer with
/// `dmVODZ` and `attsNum`; the documents streamed from their files.
async fn big_download(svc: &Services, ctx: &CallContext<'_>, dm_id: String) -> Reply {
    let io = io(ctx)?;
    let store = svc.store.clone();
    let me = ctx.identity.clone();
    let now = Timestamp::now(svc.clock.as_ref());
    let found = tokio::task::spawn_blocking(move || {
        let msg = match find_big(store.as_ref(), &me, &dm_id, Want::Received, Some(now))? {
            Ok(msg) => msg,
            Err(status) => return Ok(Err(status)),
        };
        let sources = vodz::document_sources(store.as_ref(), &msg)?;
        Ok::<_, RepoError>(Ok((msg, sources)))
    })
    .await
    .map_err(blocking_err)?
    .map_err(repo_err)?;
    let (msg, sources) = match found {
        Ok(found) => found,
        Err(status) => {
            return Ok(fragment(&BigMessageDownloadResponse {
                dm_returned_message: None,
                dm_status: dm_status(&status),
            }));
        }
    };
    let marks = vodz::markers(sources.len());
    let dm = messages::wire::dm_dm(&msg, marks.clone()).map_err(ServiceError::from)?;
    let envelope = message_read::envelope(&msg);
    let root = BigMessageDownloadResponse::ELEMENT;
    let prefix = schema::response_prefix(root);
    let mut w = XmlWriter::deferring_all_binaries();
    w.set_prefixing(schema::isds_prefixing(prefix));
    w.pending_attr(&format!("xmlns:{prefix}"), schema::ISDS_NS);
    w.pending_attr("xmlns:xsi", crate::xml::XSI_NS);
    w.start(root);
    w.start("dmReturnedMessage");
    rt::write_attr_optional(&mut w, "dmType", &envelope.dm_type);
    rt::write_attr_optional(&mut w, "dmVODZ", &Some(true));
    rt::write_attr_optional(&mut w, "attsNum", &envelope.atts_num);
    // The very bytes dmHash covers (see message_wire).
    messages::wire::write(&mut w, &dm);
    envelope.dm_hash.write_xml(&mut w, "dmHash");
    rt::write_nillable(
        &mut w,
        "dmQTimestamp",
        &msg.qtimestamp.clone().map(Bytes::from),
    );
    rt::write_nillable(&mut w, "dmDeliveryTime", &envelope.dm_delivery_time);
    rt::write_nillable(&mut w, "dmAcceptanceTime", &envelope.dm_acceptance_time);
    envelope
        .dm_message_status
        .write_xml(&mut w, "dmMessageStatus");
    rt::write_nillable(&mut w, "dmAttachmentSize", &envelope.dm_attachment_size);
    w.end("dmReturnedMessage");
    dm_status(&IsdsStatus::ok()).write_xml(&mut w, "dmStatus");
    w.end(root);
    for (mark, source) in marks.into_iter().zip(sources) {
        io.register(mark, source);
    }
    Ok(w.into_fragment())
}

/// DownloadAttachment (manual 3.6.2): one document, numbered from 0.
async fn attachment(svc: &Services, ctx: &CallContext<'_>, dm_id: String, att_num: i64) -> Reply {
    let io = io(ctx)?;
    let store = svc.store.clone();
    let me = ctx.identity.clone();
    let found = tokio::task::spawn_blocking(move || {
        let msg = match find_big(store.as_ref(), &me, &dm_id, Want::Either, None)? {
            Ok(msg) => msg,
            Err(status) => return Ok(Err(status)),
        };
        let index = usize::try_from(att_num)
            .ok()
            .filter(|&i| i < msg.documents.len());
        let Some(index) = index else {
            let n = att_num.to_string();
            return Ok(Err(IsdsStatus::fill(
                IsdsCode::VodzAttachmentIndexOutOfRange,
                &[&n],
            )));
        };
        let meta = msg.documents[index].clone();
        let source = vodz::document_source(
            store.as_ref(),
            msg.id,
            u16::try_from(index).unwrap_or(u16::MAX),
        )?;
        Ok::<_, RepoError>(Ok((meta, source)))
    })
    .await
    .map_err(blocking_err)?
    .map_err(repo_err)?;
    match found {
        Ok((meta, source)) => {
            let mark = vodz::markers(1).remove(0);
            let reply = fragment(&DownloadAttachmentResponse {
                dm_file: Some(DownloadAttachmentResponseDmFile {
                    dm_encoded_content: mark.clone(),
                    dm_file_meta_type: Some(meta.meta_type),
                    dm_mime_type: Some(meta.mime_type),
                    dm_file_descr: Some(meta.descr),
                }),
                dm_status: dm_status(&IsdsStatus::ok()),
            });
            io.register(mark, source);
            Ok(reply)
        }
        Err(status) => Ok(fragment(&DownloadAttachmentResponse {
            dm_file: None,
            dm_status: dm_status(&status),
        })),
    }
}

/// SignedBigMessageDownload / SignedSentBigMessageDownload (manual 3.8):
/// the ZFO of the message, in the format of the ordinary signed
/// downloads (the manual: "shodný s formátem ZFO pro normální zprávy").
async fn signed(svc: &Services, ctx: &CallContext<'_>, dm_id: String, want: Want) -> Reply {
    let io = io(ctx)?;
    let Some(signer) = svc.signer.clone() else {
        return Err(Fault::server("this gateway was started without a signing identity").into());
    };
    let store = svc.store.clone();
    let me = ctx.identity.clone();
    let now = Timestamp::now(svc.clock.as_ref());
    let at = u64::try_from(now.unix_seconds()).unwrap_or(0);
    let ns = match want {
        Want::Sent => super::SIGNED_SENT_MESSAGE_NS,
        _ => super::SIGNED_MESSAGE_NS,
    };
    let outcome =
        tokio::task::spawn_blocking(move || -> Result<Result<Vec<u8>, IsdsStatus>, Rejection> {
            let mark = (want == Want::Received).then_some(now);
            let msg = match find_big(store.as_ref(), &me, &dm_id, want, mark).map_err(repo_err)? {
                Ok(msg) => msg,
                Err(status) => return Ok(Err(status)),
            };
            let docs = messages::repo::get_documents(store.as_ref(), msg.id).map_err(repo_err)?;
            let returned = message_read::returned_message(&msg, docs)?;
            let xml = super::signed::message_xml(ns, &returned);
            drop(returned);
            match signer.sign(xml.as_bytes(), at) {
                Ok(zfo) => Ok(Ok(zfo)),
                Err(e) => {
                    tracing::error!(error = %e, "signing a big message failed");
                    Ok(Err(crate::status::timestamp_failure()))
                }
            }
        })
        .await
        .map_err(blocking_err)??;
    let (signature, status) = match outcome {
        Ok(zfo) => (Some(Bytes::from(zfo)), IsdsStatus::ok()),
        Err(status) => (None, status),
    };
    if let Some(sig) = &signature {
        io.register(sig.clone(), DocSource::Memory(sig.clone()));
    }
    Ok(match want {
        Want::Sent => fragment(&SignedSentBigMessageDownloadResponse {
            dm_signature: signature,
            dm_status: dm_status(&status),
        }),
        _ => fragment(&SignedBigMessageDownloadResponse {
            dm_signature: signature,
            dm_status: dm_status(&status),
        }),
    })
}

/// AuthenticateBigMessage (manual 3.10): whether the ZFO is an untouched
/// artefact of this gateway, as AuthenticateMessage answers.
async fn authenticate(svc: &Services, ctx: &CallContext<'_>, dm_message: Bytes) -> Reply {
    let io = io(ctx)?;
    let Some(signer) = svc.signer.clone() else {
        return Err(Fault::server("this gateway was started without a signing identity").into());
    };
    let content = spooled(io, &dm_message)?;
    let verdict = tokio::task::spawn_blocking(move || {
        let zfo = content.read_all().map_err(|e| e.to_string())?;
        signer.verify(&zfo).map_err(|e| e.to_string())
    })
    .await
    .map_err(blocking_err)?;
    if let Err(e) = &verdict {
        tracing::info!(reason = %e, "AuthenticateBigMessage: not authentic");
    }
    Ok(fragment(&AuthenticateBigMessageResponse {
        dm_auth_result: Some(verdict.is_ok()),
        dm_status: dm_status(&IsdsStatus::ok()),
    }))
}
