//! dm_operations (`/DS/dz`): sending and downloading messages.
//!
//! Sending checks, in this order, each refusal with its status code:
//! the caller's right to send (4; 1004), the sender box accessible (1201),
//! OVM mode only from a box acting as a public authority (1204), the
//! documents (2032 none, 1207 main document, 1214 format or MIME type,
//! 1296 total size over the sender box's limit), then per recipient: the
//! box exists (5001), is accessible (1203), and for a commercial message
//! accepts commercial messages (1232) of an allowed kind (1205). Envelope
//! texts are rewritten as ISDS does ([`messages::rules::rewrite_text`]). A
//! message ID is answered only once the message is on disk.

use std::sync::Arc;

use super::{CallContext, Reply, ServiceError, Services, dm_status, not_implemented, respond};
use crate::auth::{Actor, Identity};
use crate::domain::boxes::repo;
use crate::domain::clock::Clock;
use crate::domain::messages;
use crate::domain::messages::message::{
    Author, ContentKind, DocumentDigest, DocumentMeta, EnvelopeFields, Event, EventCode, HashForm,
    Message, MessageState, Party, Timestamp,
};
use crate::domain::messages::rules::{DocumentFacts, DocumentProblem};
use crate::domain::{BoxId, DataBox, Privileges};
use crate::schema::{
    CreateMessageResponse, CreateMultipleMessageResponse, DummyOperationResponse, OperationInfo,
    Request, TDummyOutput, TFilesArray, TMStatus, TMessageCreateInputDmEnvelope,
    TMessageCreateOutput, TMultipleMessageCreateInputDmEnvelope, TMultipleMessageCreateOutput,
    TMultipleStatus,
};
use crate::status::{IsdsCode, IsdsStatus};
use crate::store::{Batch, Store};
use crate::xml::{Element, XmlWriter};

pub(super) async fn handle(
    svc: &Services,
    ctx: &CallContext<'_>,
    op: &OperationInfo,
    request: Request,
) -> Reply {
    match request {
        // DummyOperation does nothing but prove that the caller got through
        // authentication to the message services; it always succeeds, with
        // the same answer, written once.
        Request::DummyOperation(_) => {
            static ANSWER: std::sync::OnceLock<crate::xml::Fragment> = std::sync::OnceLock::new();
            let answer = ANSWER.get_or_init(|| {
                crate::schema::to_response_fragment(&DummyOperationResponse(TDummyOutput {
                    dm_status: dm_status(&IsdsStatus::ok()),
                }))
            });
            Ok(answer.clone())
        }
        Request::MessageDownload(req) => super::message_read::message_download(svc, ctx, req).await,
        Request::SignedMessageDownload(req) => {
            super::signed::signed_download(svc, ctx, req.0.dm_id, super::signed::Which::Received)
                .await
        }
        Request::SignedSentMessageDownload(req) => {
            super::signed::signed_download(svc, ctx, req.0.dm_id, super::signed::Which::Sent).await
        }
        Request::AuthenticateMessage(req) => {
            super::signed::authenticate(svc, req.0.dm_message).await
        }
        Request::ReSignISDSDocument(req) => super::signed::resign(svc, req.0.dm_doc).await,
        Request::CreateMessage(req) => {
            let req = req.0;
            let (common, recipient) = split_single(req.dm_envelope);
            let outcome = submit(svc, ctx.identity, common, req.dm_files, vec![recipient]).await?;
            let (dm_id, status) = match outcome {
                Err(status) => (None, status),
                Ok(mut results) => match results.pop() {
                    Some(Ok(id)) => (Some(id), IsdsStatus::ok()),
                    Some(Err(status)) => (None, status),
                    None => (None, IsdsStatus::new(IsdsCode::InternalError)),
                },
            };
            respond(&CreateMessageResponse(TMessageCreateOutput {
                dm_id,
                dm_status: dm_status(&status),
            }))
        }
        Request::CreateMultipleMessage(req) => {
            let req = req.0;
            let common = common_of_multiple(req.dm_envelope);
            let recipients: Vec<RecipientSpec> = req
                .dm_recipients
                .dm_recipient
                .into_iter()
                .map(|r| RecipientSpec {
                    box_id: Some(r.db_id_recipient),
                    org_unit: r.dm_recipient_org_unit,
                    org_unit_num: r.dm_recipient_org_unit_num,
                    to_hands: r.dm_to_hands,
                })
                .collect();
            if recipients.len() > messages::rules::MAX_RECIPIENTS {
                return respond(&CreateMultipleMessageResponse(
                    TMultipleMessageCreateOutput {
                        dm_multiple_status: None,
                        dm_status: dm_status(&IsdsStatus::fill(
                            IsdsCode::TooManyRecipients,
                            &[&messages::rules::MAX_RECIPIENTS.to_string()],
                        )),
                    },
                ));
            }
            let outcome = submit(svc, ctx.identity, common, req.dm_files, recipients).await?;
            let response = match outcome {
                Err(status) => TMultipleMessageCreateOutput {
                    dm_multiple_status: None,
                    dm_status: dm_status(&status),
                },
                Ok(results) => {
                    // ISDS answers 0004 when any recipient failed; each
                    // recipient's own block tells which and why.
                    let failed = results.iter().filter(|r| r.is_err()).count();
                    let overall = if failed == 0 {
                        IsdsStatus::ok()
                    } else {
                        IsdsStatus::new(IsdsCode::PartialSuccess)
                    };
                    let single = results
                        .into_iter()
                        .map(|r| {
                            Some(match r {
                                Ok(id) => TMStatus {
                                    dm_id: Some(id),
                                    dm_status: dm_status(&IsdsStatus::ok()),
                                },
                                Err(status) => TMStatus {
                                    dm_id: None,
                                    dm_status: dm_status(&status),
                                },
                            })
                        })
                        .collect();
                    TMultipleMessageCreateOutput {
                        dm_multiple_status: Some(TMultipleStatus {
                            dm_single_status: single,
                        }),
                        dm_status: dm_status(&overall),
                    }
                }
            };
            respond(&CreateMultipleMessageResponse(response))
        }
        _ => not_implemented(op),
    }
}

/// ISDS answers a send request without any document with 2032, a status,
/// not a fault: checked on the raw body, before the schema (which requires
/// a document) would refuse it.
pub(super) fn precheck(op: &OperationInfo, body: &Element) -> Option<Reply> {
    if !matches!(op.name, "CreateMessage" | "CreateMultipleMessage") {
        return None;
    }
    let has_document = body
        .elements()
        .find(|e| e.name == "dmFiles")
        .is_some_and(|files| files.elements().any(|e| e.name == "dmFile"));
    if has_document {
        return None;
    }
    let status = dm_status(&IsdsStatus::new(IsdsCode::NoDocument));
    Some(if op.name == "CreateMessage" {
        respond(&CreateMessageResponse(TMessageCreateOutput {
            dm_id: None,
            dm_status: status,
        }))
    } else {
        respond(&CreateMultipleMessageResponse(
            TMultipleMessageCreateOutput {
                dm_multiple_status: None,
                dm_status: status,
            },
        ))
    })
}

/// Envelope items common to all recipients, as sent.
#[derive(Default)]
pub(super) struct CommonEnvelope {
    pub(super) sender_org_unit: Option<String>,
    pub(super) sender_org_unit_num: Option<i64>,
    pub(super) annotation: Option<String>,
    pub(super) recipient_ref_number: Option<String>,
    pub(super) sender_ref_number: Option<String>,
    pub(super) recipient_ident: Option<String>,
    pub(super) sender_ident: Option<String>,
    pub(super) legal_title_law: Option<i64>,
    pub(super) legal_title_year: Option<i64>,
    pub(super) legal_title_sect: Option<String>,
    pub(super) legal_title_par: Option<String>,
    pub(super) legal_title_point: Option<String>,
    pub(super) personal_delivery: Option<bool>,
    pub(super) allow_subst_delivery: Option<bool>,
    pub(super) publish_own_id: Option<bool>,
    pub(super) id_level: Option<i64>,
    pub(super) dm_type: Option<String>,
}

/// One recipient, as sent.
pub(super) struct RecipientSpec {
    pub(super) box_id: Option<String>,
    pub(super) org_unit: Option<String>,
    pub(super) org_unit_num: Option<i64>,
    pub(super) to_hands: Option<String>,
}

/// The envelope of CreateMessage or CreateBigMessage (two generated types
/// with the same fields) as the checks of a new message take it:
/// `(CommonEnvelope, RecipientSpec)`. The caller has both in scope.
macro_rules! split_envelope {
    ($envelope:expr) => {{
        let e = $envelope;
        let (publish_own_id, id_level) = match e.dm_publish_own_id {
            Some(p) => (Some(p.value), p.id_level),
            None => (None, None),
        };
        (
            CommonEnvelope {
                sender_org_unit: e.dm_sender_org_unit,
                sender_org_unit_num: e.dm_sender_org_unit_num,
                annotation: e.dm_annotation,
                recipient_ref_number: e.dm_recipient_ref_number,
                sender_ref_number: e.dm_sender_ref_number,
                recipient_ident: e.dm_recipient_ident,
                sender_ident: e.dm_sender_ident,
                legal_title_law: e.dm_legal_title_law,
                legal_title_year: e.dm_legal_title_year,
                legal_title_sect: e.dm_legal_title_sect,
                legal_title_par: e.dm_legal_title_par,
                legal_title_point: e.dm_legal_title_point,
                personal_delivery: e.dm_personal_delivery,
                allow_subst_delivery: e.dm_allow_subst_delivery,
                publish_own_id,
                id_level,
                dm_type: e.dm_type,
            },
            RecipientSpec {
                box_id: e.db_id_recipient,
                org_unit: e.dm_recipient_org_unit,
                org_unit_num: e.dm_recipient_org_unit_num,
                to_hands: e.dm_to_hands,
            },
        )
    }};
}
pub(super) use split_envelope;

fn split_single(e: TMessageCreateInputDmEnvelope) -> (CommonEnvelope, RecipientSpec) {
    split_envelope!(e)
}

fn common_of_multiple(e: TMultipleMessageCreateInputDmEnvelope) -> CommonEnvelope {
    let (publish_own_id, id_level) = match e.dm_publish_own_id {
        Some(p) => (Some(p.value), p.id_level),
        None => (None, None),
    };
    CommonEnvelope {
        sender_org_unit: e.dm_sender_org_unit,
        sender_org_unit_num: e.dm_sender_org_unit_num,
        annotation: e.dm_annotation,
        recipient_ref_number: e.dm_recipient_ref_number,
        sender_ref_number: e.dm_sender_ref_number,
        recipient_ident: e.dm_recipient_ident,
        sender_ident: e.dm_sender_ident,
        legal_title_law: e.dm_legal_title_law,
        legal_title_year: e.dm_legal_title_year,
        legal_title_sect: e.dm_legal_title_sect,
        legal_title_par: e.dm_legal_title_par,
        legal_title_point: e.dm_legal_title_point,
        personal_delivery: e.dm_personal_delivery,
        allow_subst_delivery: e.dm_allow_subst_delivery,
        publish_own_id,
        id_level,
        dm_type: e.dm_type,
    }
}

/// A document ready to store.
pub(super) struct Document {
    pub(super) meta: DocumentMeta,
    /// Shared with the parsed request: never copied before the store.
    pub(super) bytes: bytes::Bytes,
}

fn documents_of(files: TFilesArray) -> Vec<Document> {
    files
        .dm_file
        .into_iter()
        .map(|f| {
            let (kind, bytes) = match (f.dm_encoded_content, f.dm_xml_content) {
                (Some(b), _) => (ContentKind::Encoded, b),
                (None, Some(xml)) => {
                    let mut w = XmlWriter::new();
                    for el in &xml.any {
                        w.raw_element(el);
                    }
                    (ContentKind::Xml, w.into_bytes().into())
                }
                // The schema requires one of the two.
                (None, None) => (ContentKind::Encoded, bytes::Bytes::new()),
            };
            Document {
                meta: DocumentMeta {
                    mime_type: f.dm_mime_type,
                    meta_type: f.dm_file_meta_type,
                    guid: f.dm_file_guid,
                    up_guid: f.dm_up_file_guid,
                    descr: f.dm_file_descr,
                    format: f.dm_format,
                    kind,
                    size: bytes.len() as u64,
                },
                bytes,
            }
        })
        .collect()
}

/// Result per recipient: the new message's ID, or why it was not sent.
type PerRecipient = Vec<Result<String, IsdsStatus>>;

/// Submissions whose documents come to at most this many bytes, for at
/// most [`INLINE_RECIPIENTS`] recipients, are checked, hashed,
/// time-stamped and staged on the request's own task (store reads, a
/// hash of a few kilobytes and one signature per message: well under a
/// millisecond), and only wait for their commit, without a thread; larger
/// ones go to the blocking pool. Far below [`messages::repo::FILE_THRESHOLD`],
/// so none of them writes a file.
const INLINE_BYTES: usize = 64 * 1024;

/// See [`INLINE_BYTES`].
const INLINE_RECIPIENTS: usize = 4;

/// Checks and stores a submission for each recipient. `Err` refuses the
/// whole request (the sender, the envelope or the documents are wrong);
/// `Ok` has one result per recipient, in order. Every message reported as
/// sent is durable.
async fn submit(
    svc: &Services,
    identity: &Identity,
    common: CommonEnvelope,
    files: TFilesArray,
    recipients: Vec<RecipientSpec>,
) -> Result<Result<PerRecipient, IsdsStatus>, ServiceError> {
    let documents = documents_of(files);
    let bytes: usize = documents.iter().map(|d| d.bytes.len()).sum();
    if bytes <= INLINE_BYTES && recipients.len() <= INLINE_RECIPIENTS {
        return submit_inline(svc, identity, common, documents, recipients).await;
    }
    let store = svc.store.clone();
    let clock = svc.clock.clone();
    let identity = identity.clone();
    let signer = svc.signer.clone();
    tokio::task::spawn_blocking(move || {
        submit_blocking(
            store,
            clock,
            signer.as_deref(),
            &identity,
            common,
            documents,
            recipients,
        )
    })
    .await?
}

/// [`submit`] of a small submission ([`INLINE_BYTES`]) on the request's
/// task; the lifecycle's catch-up goes to the blocking pool only when
/// something fell due.
async fn submit_inline(
    svc: &Services,
    identity: &Identity,
    common: CommonEnvelope,
    documents: Vec<Document>,
    recipients: Vec<RecipientSpec>,
) -> Result<Result<PerRecipient, IsdsStatus>, ServiceError> {
    let now = Timestamp::now(svc.clock.as_ref());
    if messages::lifecycle::anything_due(svc.store.as_ref(), now)? {
        super::message_read::catch_up(svc).await?;
    }
    let staged = stage_batch(
        svc.store.as_ref(),
        svc.clock.as_ref(),
        svc.signer.as_deref(),
        identity,
        common,
        documents,
        recipients,
    )?;
    match staged {
        Err(status) => Ok(Err(status)),
        Ok((results, None)) => Ok(Ok(results)),
        Ok((results, Some(batch))) => {
            // All messages of the request in one atomic, durable write:
            // the IDs are answered only once it is on disk.
            messages::repo::commit_async(svc.store.clone(), batch).await?;
            Ok(Ok(results))
        }
    }
}

/// Stages a submission; the batch still to commit, if any (`None` when
/// nothing was staged, or when it was committed here because documents
/// went to files, whose names must be made durable before the batch).
#[allow(clippy::type_complexity)]
fn stage_batch(
    store: &dyn Store,
    clock: &dyn Clock,
    signer: Option<&crate::sign::Signer>,
    identity: &Identity,
    common: CommonEnvelope,
    documents: Vec<Document>,
    recipients: Vec<RecipientSpec>,
) -> Result<Result<(PerRecipient, Option<Batch>), IsdsStatus>, ServiceError> {
    let mut writer = messages::repo::DocumentWriter::new(store);
    let (results, batch) = match stage_submission(
        store,
        clock,
        signer,
        identity,
        common,
        documents,
        recipients,
        &mut writer,
    )? {
        Ok(staged) => staged,
        Err(status) => return Ok(Err(status)),
    };
    if batch.is_empty() {
        return Ok(Ok((results, None)));
    }
    if writer.wrote_files() {
        // Not for documents below the file threshold; kept correct
        // anyway: the files' names are made durable before the batch.
        writer.commit(store, batch)?;
        return Ok(Ok((results, None)));
    }
    Ok(Ok((results, Some(batch))))
}

/// Everything fixed before looking at a recipient.
pub(super) struct Prepared {
    pub(super) sender: DataBox,
    ovm: bool,
    envelope: EnvelopeFields,
    allow_subst_requested: Option<bool>,
    dm_type: Option<String>,
    author: Author,
    documents: Vec<Document>,
}

fn submit_blocking(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    signer: Option<&crate::sign::Signer>,
    identity: &Identity,
    common: CommonEnvelope,
    documents: Vec<Document>,
    recipients: Vec<RecipientSpec>,
) -> Result<Result<PerRecipient, IsdsStatus>, ServiceError> {
    let store = store.as_ref();
    // The lifecycle's catch-up that precedes every message call (see
    // `Services::dispatch`), here on this thread.
    messages::lifecycle::run_due(store, clock.as_ref())?;
    let staged = stage_batch(
        store,
        clock.as_ref(),
        signer,
        identity,
        common,
        documents,
        recipients,
    )?;
    match staged {
        Err(status) => Ok(Err(status)),
        Ok((results, None)) => Ok(Ok(results)),
        Ok((results, Some(batch))) => {
            // All messages of the request in one atomic, durable write:
            // the IDs are answered only once it is on disk.
            messages::repo::commit(store, batch)?;
            Ok(Ok(results))
        }
    }
}

/// The checks, then per recipient the message, its hash and time stamp,
/// staged in one batch (large documents written to files by `writer`);
/// nothing is committed here.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn stage_submission(
    store: &dyn Store,
    clock: &dyn Clock,
    signer: Option<&crate::sign::Signer>,
    identity: &Identity,
    common: CommonEnvelope,
    documents: Vec<Document>,
    recipients: Vec<RecipientSpec>,
    writer: &mut messages::repo::DocumentWriter<'_>,
) -> Result<Result<(PerRecipient, Batch), IsdsStatus>, ServiceError> {
    let prepared = match prepare(store, identity, common, documents, false)? {
        Ok(p) => p,
        Err(status) => return Ok(Err(status)),
    };
    let now = Timestamp::now(clock);
    let mut batch = Batch::new();
    let mut results = Vec::with_capacity(recipients.len());
    let bytes: Vec<&[u8]> = prepared.documents.iter().map(|d| &d.bytes[..]).collect();
    let shared: Vec<bytes::Bytes> = prepared.documents.iter().map(|d| d.bytes.clone()).collect();
    // Each document's own digest (for its file reference) is computed once
    // per request, in the same pass as the first recipient's dmHash, while
    // its file (if large) is written. Every recipient's dmHash covers its
    // own dmDm (ID and recipient differ), so it is computed per message.
    let mut digests: Option<Vec<DocumentDigest>> = None;
    for spec in recipients {
        match address(store, &prepared, &spec)? {
            Err(status) => results.push(Err(status)),
            Ok((recipient, envelope)) => {
                let id = messages::repo::next_message_id(store)?;
                let mut msg = build_message(&prepared, id, &recipient, envelope, now);
                let mut computed = digests.is_none().then(Vec::new);
                let hashed = if writer.writes_files(&bytes) {
                    let (written, hashed) = std::thread::scope(|scope| {
                        let files = scope.spawn(|| writer.write_documents(id, &bytes));
                        let hashed = messages::wire::hash(&msg, &shared, computed.as_mut());
                        (files.join(), hashed)
                    });
                    match written {
                        Ok(result) => result?,
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                    hashed
                } else {
                    messages::wire::hash(&msg, &shared, computed.as_mut())
                };
                msg.hash = hashed?;
                let digests = digests.get_or_insert_with(|| computed.unwrap_or_default());
                if let Some(signer) = signer {
                    // dmQTimestamp: the TSA stamps the hash at submission;
                    // without a stamp nothing is sent (9500, table row).
                    let at = u64::try_from(now.unix_seconds()).unwrap_or(0);
                    match signer.timestamp(&msg.hash, at) {
                        Ok(token) => msg.qtimestamp = Some(token),
                        Err(err) => {
                            tracing::error!(error = %err, "time stamp of a new message failed");
                            return Ok(Err(crate::status::timestamp_failure()));
                        }
                    }
                }
                writer.stage_insert_message(&mut batch, &msg, &bytes, digests)?;
                results.push(Ok(id.to_string()));
            }
        }
    }
    Ok(Ok((results, batch)))
}

/// The sender-side checks; builds what every recipient's message shares.
pub(super) fn prepare(
    store: &dyn Store,
    identity: &Identity,
    common: CommonEnvelope,
    documents: Vec<Document>,
    vodz: bool,
) -> Result<Result<Prepared, IsdsStatus>, ServiceError> {
    // PRIVIL_CREATE_DM (messages manual 2.1); 1206 without it.
    if !identity.user.privileges.has(Privileges::CREATE_DM) {
        return Ok(Err(IsdsStatus::new(IsdsCode::NoRightToSend)));
    }
    // The box as stored now, not as it was at login.
    let sender = repo::get_box(store, &identity.databox.id)?
        .unwrap_or_else(|| DataBox::clone(&identity.databox));
    if !sender.is_accessible() {
        return Ok(Err(IsdsStatus::new(IsdsCode::SenderBoxInaccessible)));
    }
    // dmOVM is ignored: the mode follows the box (messages manual 2.1,
    // promotion of boxes to OVM was abolished).
    let ovm = messages::rules::acts_as_ovm(&sender);
    let facts: Vec<DocumentFacts<'_>> = documents
        .iter()
        .map(|d| DocumentFacts {
            meta_type: &d.meta.meta_type,
            file_name: &d.meta.descr,
            mime_type: &d.meta.mime_type,
        })
        .collect();
    if let Err(problem) = messages::rules::check_documents(&facts) {
        return Ok(Err(match problem {
            DocumentProblem::NoDocument => IsdsStatus::new(IsdsCode::NoDocument),
            DocumentProblem::Format(_) => IsdsStatus::new(IsdsCode::AttachmentRejected),
            DocumentProblem::MimeType(_) => IsdsStatus::new(IsdsCode::AttachmentMimeRejected),
        }));
    }
    // A big message has limits of its own (VoDZ manual 3.7), checked by
    // CreateBigMessage; the ordinary limit is for ordinary messages.
    let total: u64 = documents.iter().map(|d| d.meta.size).sum();
    if !vodz && total > messages::rules::attachment_limit_bytes(&sender) {
        return Ok(Err(IsdsStatus::new(IsdsCode::AttachmentsTooLarge)));
    }
    let rw = |s: Option<String>| s.as_deref().map(messages::rules::rewrite_text);
    let envelope = EnvelopeFields {
        sender_org_unit: rw(common.sender_org_unit),
        sender_org_unit_num: common.sender_org_unit_num,
        recipient_org_unit: None,
        recipient_org_unit_num: None,
        to_hands: None,
        annotation: rw(common.annotation).unwrap_or_default(),
        recipient_ref_number: rw(common.recipient_ref_number),
        sender_ref_number: rw(common.sender_ref_number),
        recipient_ident: rw(common.recipient_ident),
        sender_ident: rw(common.sender_ident),
        legal_title_law: common.legal_title_law,
        legal_title_year: common.legal_title_year,
        legal_title_sect: rw(common.legal_title_sect),
        legal_title_par: rw(common.legal_title_par),
        legal_title_point: rw(common.legal_title_point),
        personal_delivery: common.personal_delivery.unwrap_or(false),
        allow_subst_delivery: true,
        ovm,
        publish_own_id: common.publish_own_id.unwrap_or(false),
        dm_type: None,
        id_level: common.id_level,
    };
    Ok(Ok(Prepared {
        sender,
        ovm,
        envelope,
        allow_subst_requested: common.allow_subst_delivery,
        dm_type: common.dm_type,
        author: author_of(identity),
        documents,
    }))
}

/// Who sent it, as GetMessageAuthor reports it: the user, or `VIRTUAL`
/// for software acting for the box.
fn author_of(identity: &Identity) -> Author {
    match &identity.actor {
        Actor::Person | Actor::Operator => Author {
            user_id: Some(identity.user.id.clone()),
            user_type: identity.user.user_type.name().to_owned(),
            name: identity.user.name.full(),
        },
        Actor::Application => Author {
            user_id: None,
            user_type: "VIRTUAL".to_owned(),
            name: String::new(),
        },
        Actor::HostedProvider { provider } => Author {
            user_id: None,
            user_type: "VIRTUAL".to_owned(),
            name: provider.clone(),
        },
    }
}

/// The system box of ISDS's operator, which receives nothing either (table
/// row 1203).
const OPERATOR_SYSTEM_BOX_ID: &str = "zzzzzzq";

/// The per-recipient checks; the recipient's box and the envelope for it.
pub(super) fn address(
    store: &dyn Store,
    p: &Prepared,
    spec: &RecipientSpec,
) -> Result<Result<(DataBox, EnvelopeFields), IsdsStatus>, ServiceError> {
    // Nothing goes to the system box of the administrator (aaaaaaa) or of
    // the operator (zzzzzzq) (table row 1203).
    let named = spec.box_id.as_deref().map(str::trim).unwrap_or("");
    if named == crate::domain::boxes::databox::SYSTEM_BOX_ID || named == OPERATOR_SYSTEM_BOX_ID {
        return Ok(Err(IsdsStatus::new(IsdsCode::SystemBoxMessage)));
    }
    let recipient = match spec.box_id.as_deref().map(BoxId::parse) {
        Some(Ok(id)) => repo::get_box(store, &id)?,
        _ => None,
    };
    let Some(recipient) = recipient else {
        let shown = spec.box_id.as_deref().unwrap_or("").trim();
        return Ok(Err(IsdsStatus::fill(IsdsCode::RecipientNotFound, &[shown])));
    };

    if !recipient.is_accessible() {
        return Ok(Err(IsdsStatus::new(IsdsCode::RecipientInaccessible)));
    }
    let commercial = messages::rules::is_commercial(p.ovm, &recipient);
    let mut envelope = p.envelope.clone();
    if commercial {
        if !recipient.open_addressing {
            return Ok(Err(IsdsStatus::new(IsdsCode::CommercialNotAccepted)));
        }
        let kind = p
            .dm_type
            .clone()
            .unwrap_or_else(|| messages::rules::DEFAULT_COMMERCIAL_TYPE.to_owned());
        if !messages::rules::COMMERCIAL_SEND_TYPES.contains(&kind.as_str()) {
            return Ok(Err(IsdsStatus::new(IsdsCode::InvalidCommercialType)));
        }
        envelope.dm_type = Some(kind);
        // Commercial messages are delivered by login only.
        envelope.allow_subst_delivery = false;
    } else {
        // Only a public authority may exclude acceptance by fiction; a
        // kind asked for a public message is ignored.
        envelope.dm_type = None;
        envelope.allow_subst_delivery = !p.ovm || p.allow_subst_requested.unwrap_or(true);
    }
    let rw = |s: &Option<String>| s.as_deref().map(messages::rules::rewrite_text);
    envelope.recipient_org_unit = rw(&spec.org_unit);
    envelope.recipient_org_unit_num = spec.org_unit_num;
    envelope.to_hands = rw(&spec.to_hands);
    Ok(Ok((recipient, envelope)))
}

pub(super) fn build_message(
    p: &Prepared,
    id: crate::domain::messages::message::MessageId,
    recipient: &DataBox,
    envelope: EnvelopeFields,
    now: Timestamp,
) -> Message {
    let documents: Vec<DocumentMeta> = p.documents.iter().map(|d| d.meta.clone()).collect();
    // `hash` is filled in by the caller, over this message's dmDm.
    Message {
        id,
        sender: Party::of_box(&p.sender),
        recipient: Party::of_box(recipient),
        envelope,
        attachment_size_kb: Message::size_kb(&documents),
        documents,
        hash: [0; 32],
        hash_form: HashForm::DmDmBytes,
        // Submitted, time-stamped and delivered at once: the recipient box
        // is accessible.
        state: MessageState::Delivered,
        submitted_at: now,
        delivery_time: Some(now),
        acceptance_time: None,
        events: vec![
            Event::new(now, EventCode::EV0),
            Event::new(now, EventCode::EV5),
        ],
        author: p.author.clone(),
        content_deleted: false,
        erased_by_recipient: false,
        erased_by_sender: false,
        qtimestamp: None,
        vodz: false,
    }
}
