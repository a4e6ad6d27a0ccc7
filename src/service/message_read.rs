//! Reading messages, shared by dm_operations (MessageDownload) and dm_info:
//! which messages a caller may see and with which rights, the mapping of a
//! stored message to the response types ISDS answers with, and the move of
//! a downloaded message to state 7.
//!
//! Rules (fact sheet and public ISDS documentation):
//! - A message exists for a caller only if the caller's box sent or
//!   received it; any other ID is status 1219, so IDs of other boxes'
//!   messages cannot be probed.
//! - Content (documents) of a received message needs right 1 (messages not
//!   for personal delivery) or 2 (all, personal delivery too); content of a
//!   sent message needs right 4. Lists, delivery info and other envelope
//!   data need right 8. A user lacking the right gets status 1004.

use bytes::Bytes;

use super::{CallContext, Rejection, Reply, ServiceError, Services, dm_status, respond};
use crate::auth::{Actor, Identity};
use crate::domain::message::{
    ContentKind, Event, EventCode, Message, MessageId, MessageState, Timestamp,
};
use crate::domain::repo::RepoError;
use crate::domain::{Privileges, UserType, lifecycle, message_repo};
use crate::schema::{
    MessageDownload, MessageDownloadResponse, TDelivery, TDeliveryDmDm, TEvent, TEventsArray,
    TFileDmXMLContent, TFilesArray, TFilesArrayDmFile, THash, TMessDownOutput, TRecord,
    TReturnedMessage, TReturnedMessageDmDm, TReturnedMessageEnvelope, TReturnedMessageEnvelopeDmDm,
};
use crate::soap::Fault;
use crate::status::{IsdsCode, IsdsStatus};
use crate::store::Store;
use crate::xml::{self, Element, ParseLimits};

/// The hash algorithm of every `dmHash` the gateway computes.
pub(super) const HASH_ALGORITHM: &str = "SHA-256";

/// Which side of a message the caller's box is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// The caller's box received the message.
    Recipient,
    /// The caller's box sent the message.
    Sender,
}

/// Which sides an operation serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    Received,
    Sent,
    Either,
}

/// Why a message cannot be served to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NotFound {
    /// No message has the ID (or it is no valid ID).
    Missing,
    /// The message exists, but the caller's box is on no side the
    /// operation serves.
    OtherBox,
}

impl NotFound {
    /// The status ISDS answers for it: 1219 either way (another box's
    /// message does not exist for the caller).
    pub(super) fn status(self) -> IsdsStatus {
        IsdsStatus::new(IsdsCode::MessageNotFound)
    }
}

/// Looks a message up for the caller's box.
pub(super) fn lookup(
    store: &dyn Store,
    me: &Identity,
    dm_id: &str,
    want: Want,
) -> Result<Result<(Message, Side), NotFound>, RepoError> {
    let Some(id) = MessageId::parse(dm_id.trim()) else {
        return Ok(Err(NotFound::Missing));
    };
    let Some(msg) = message_repo::get_message(store, id)? else {
        return Ok(Err(NotFound::Missing));
    };
    let mine = &me.databox.id;
    let received = msg.recipient.box_id == *mine && !msg.erased_by_recipient;
    let sent = msg.sender.box_id == *mine && !msg.erased_by_sender;
    let side = match want {
        Want::Received if received => Side::Recipient,
        Want::Sent if sent => Side::Sender,
        Want::Either if received => Side::Recipient,
        Want::Either if sent => Side::Sender,
        _ => return Ok(Err(NotFound::OtherBox)),
    };
    Ok(Ok((msg, side)))
}

/// Whether the caller holds every bit of `bits`.
pub(super) fn has(me: &Identity, bits: u32) -> bool {
    me.user.privileges.has(bits)
}

/// Whether the caller may read the content of a message their box received:
/// right 2 for personal delivery, right 1 or 2 otherwise.
pub(super) fn may_read_received(me: &Identity, msg: &Message) -> bool {
    lifecycle::may_read(me.user.privileges, msg)
}

/// Whether the caller may read the content of the message on `side`.
pub(super) fn may_read(me: &Identity, msg: &Message, side: Side) -> bool {
    match side {
        Side::Recipient => may_read_received(me, msg),
        Side::Sender => has(me, Privileges::CREATE_DM),
    }
}

/// Whether the caller may see the message's envelope data: right 8, or a
/// right to read its content.
pub(super) fn may_see(me: &Identity, msg: &Message, side: Side) -> bool {
    has(me, Privileges::VIEW_INFO) || may_read(me, msg, side)
}

/// Status 1004 naming what the caller lacks.
pub(super) fn refused(what: &str) -> IsdsStatus {
    IsdsStatus::with_message(
        IsdsCode::NotPermitted,
        format!("Nedostatečná oprávnění: {what}."),
    )
}

/// The `dmHash` of a message.
pub(super) fn hash(msg: &Message) -> THash {
    THash {
        value: Bytes::copy_from_slice(&msg.hash),
        algorithm: Some(HASH_ALGORITHM.to_owned()),
    }
}

/// The `dmType` attribute: the commercial kind; absent for public messages
/// (`V`, "public", is only a request on sending).
fn dm_type(msg: &Message) -> Option<String> {
    msg.envelope.dm_type.clone().filter(|t| t != "V")
}

fn time(t: Option<Timestamp>) -> Option<String> {
    t.map(Timestamp::to_xml)
}

/// The envelope items every message structure shares (the `dmDm` children
/// and the list record), for a struct literal of type `$ty` with `$extra`
/// fields.
macro_rules! envelope_of {
    ($ty:ident, $m:expr, { $($extra:tt)* }) => {{
        let m: &Message = $m;
        let e = &m.envelope;
        $ty {
            dm_id: m.id.to_string(),
            db_id_sender: Some(m.sender.box_id.to_string()),
            dm_sender: Some(m.sender.name.clone()),
            dm_sender_address: Some(m.sender.address.clone()),
            dm_sender_type: i64::from(m.sender.sender_type_code()),
            dm_recipient: Some(m.recipient.name.clone()),
            dm_recipient_address: Some(m.recipient.address.clone()),
            dm_ambiguous_recipient: None,
            dm_sender_org_unit: e.sender_org_unit.clone(),
            dm_sender_org_unit_num: e.sender_org_unit_num,
            db_id_recipient: Some(m.recipient.box_id.to_string()),
            dm_recipient_org_unit: e.recipient_org_unit.clone(),
            dm_recipient_org_unit_num: e.recipient_org_unit_num,
            dm_to_hands: e.to_hands.clone(),
            dm_annotation: Some(e.annotation.clone()),
            dm_recipient_ref_number: e.recipient_ref_number.clone(),
            dm_sender_ref_number: e.sender_ref_number.clone(),
            dm_recipient_ident: e.recipient_ident.clone(),
            dm_sender_ident: e.sender_ident.clone(),
            dm_legal_title_law: e.legal_title_law,
            dm_legal_title_year: e.legal_title_year,
            dm_legal_title_sect: e.legal_title_sect.clone(),
            dm_legal_title_par: e.legal_title_par.clone(),
            dm_legal_title_point: e.legal_title_point.clone(),
            dm_personal_delivery: Some(e.personal_delivery),
            dm_allow_subst_delivery: Some(e.allow_subst_delivery),
            $($extra)*
        }
    }};
}

fn attachment_size(msg: &Message) -> Option<i64> {
    Some(i64::try_from(msg.attachment_size_kb).unwrap_or(i64::MAX))
}

/// One record of a message list; `ordinal` is its position in the whole
/// list (counting from 1, so offset + index).
pub(super) fn record(msg: &Message, ordinal: usize) -> TRecord {
    envelope_of!(TRecord, msg, {
        dm_ordinal: i64::try_from(ordinal).unwrap_or(i64::MAX),
        dm_message_status: i64::from(msg.state.code()),
        dm_attachment_size: attachment_size(msg),
        dm_delivery_time: time(msg.delivery_time),
        dm_acceptance_time: time(msg.acceptance_time),
        dm_type: dm_type(msg),
        dm_vodz: Some(false),
        spec_mess_flag: None,
    })
}

/// `dmQTimestamp`: the message's time-stamp token, or nothing.
fn q_timestamp(msg: &Message) -> Bytes {
    msg.qtimestamp.clone().map(Bytes::from).unwrap_or_default()
}

/// The envelope of a message with its hash and times, without documents
/// (MessageEnvelopeDownload, SentMessageEnvelopeDownload).
///
/// `dmQTimestamp` is the time-stamp token made at submission (empty for
/// messages that have none, as ISDS too may answer).
pub(super) fn envelope(msg: &Message) -> TReturnedMessageEnvelope {
    TReturnedMessageEnvelope {
        dm_dm: envelope_of!(TReturnedMessageEnvelopeDmDm, msg, {}),
        dm_hash: hash(msg),
        dm_q_timestamp: q_timestamp(msg),
        dm_delivery_time: time(msg.delivery_time),
        dm_acceptance_time: time(msg.acceptance_time),
        dm_message_status: i64::from(msg.state.code()),
        dm_attachment_size: attachment_size(msg),
        dm_type: dm_type(msg),
        dm_vodz: Some(false),
        atts_num: Some(i64::try_from(msg.documents.len()).unwrap_or(i64::MAX)),
        spec_mess_flag: None,
    }
}

/// The delivery info of a message: envelope, hash, times and events
/// (GetDeliveryInfo).
pub(super) fn delivery(msg: &Message) -> TDelivery {
    let mut events: Vec<TEvent> = msg
        .events
        .iter()
        .map(|ev| TEvent {
            dm_event_time: Some(ev.at.to_xml()),
            dm_event_descr: Some(ev.description()),
        })
        .collect();
    if events.is_empty() {
        // The schema wants at least one event; every message entered ISDS.
        let ev = Event::new(msg.submitted_at, EventCode::EV0);
        events.push(TEvent {
            dm_event_time: Some(ev.at.to_xml()),
            dm_event_descr: Some(ev.description()),
        });
    }
    TDelivery {
        dm_dm: envelope_of!(TDeliveryDmDm, msg, {}),
        dm_hash: hash(msg),
        dm_q_timestamp: q_timestamp(msg),
        dm_delivery_time: time(msg.delivery_time),
        dm_acceptance_time: time(msg.acceptance_time),
        dm_message_status: i64::from(msg.state.code()),
        dm_events: TEventsArray { dm_event: events },
    }
}

/// The elements of a stored XML document (`dmXMLContent`): the stored
/// bytes are the content's elements serialised one after another.
pub(super) fn xml_content(bytes: &[u8]) -> Result<Vec<Element>, xml::XmlError> {
    let mut text = std::str::from_utf8(bytes)
        .map_err(|e| xml::XmlError::InvalidUtf8 {
            pos: e.valid_up_to(),
        })?
        .trim_start();
    // An XML declaration cannot stand inside the wrapper below.
    if text.starts_with("<?xml")
        && let Some(end) = text.find("?>")
    {
        text = &text[end + 2..];
    }
    let wrapped = format!("<content>{text}</content>");
    let defaults = ParseLimits::default();
    let limits = ParseLimits {
        max_bytes: defaults.max_bytes.max(wrapped.len().saturating_add(1)),
        ..defaults
    };
    let root = xml::parse(wrapped.as_bytes(), &limits)?;
    Ok(root.elements().cloned().collect())
}

/// The documents of a message with their stored bytes, in order.
fn files(msg: &Message, mut docs: Vec<Vec<u8>>) -> Result<TFilesArray, Rejection> {
    if docs.len() != msg.documents.len() {
        return Err(Fault::server(format!(
            "message {} has {} documents stored but {} described",
            msg.id,
            docs.len(),
            msg.documents.len()
        ))
        .into());
    }
    let mut out = Vec::with_capacity(docs.len());
    for (meta, bytes) in msg.documents.iter().zip(docs.drain(..)) {
        let (encoded, xml_content) = match meta.kind {
            ContentKind::Encoded => (Some(Bytes::from(bytes)), None),
            ContentKind::Xml => {
                let any = xml_content(&bytes).map_err(|e| {
                    Rejection::from(Fault::server(format!(
                        "stored XML document of message {} is unreadable: {e}",
                        msg.id
                    )))
                })?;
                (None, Some(TFileDmXMLContent { any }))
            }
        };
        out.push(TFilesArrayDmFile {
            dm_encoded_content: encoded,
            dm_xml_content: xml_content,
            dm_mime_type: meta.mime_type.clone(),
            dm_file_meta_type: meta.meta_type.clone(),
            dm_file_guid: meta.guid.clone(),
            dm_up_file_guid: meta.up_guid.clone(),
            dm_file_descr: meta.descr.clone(),
            dm_format: meta.format.clone(),
        });
    }
    Ok(TFilesArray { dm_file: out })
}

/// The whole message with its documents (MessageDownload).
pub(super) fn returned_message(
    msg: &Message,
    docs: Vec<Vec<u8>>,
) -> Result<TReturnedMessage, Rejection> {
    let dm_files = files(msg, docs)?;
    Ok(TReturnedMessage {
        dm_dm: envelope_of!(TReturnedMessageDmDm, msg, { dm_files }),
        dm_hash: hash(msg),
        dm_q_timestamp: msg.qtimestamp.clone().map(Bytes::from),
        dm_delivery_time: time(msg.delivery_time),
        dm_acceptance_time: time(msg.acceptance_time),
        dm_message_status: i64::from(msg.state.code()),
        dm_attachment_size: attachment_size(msg),
        dm_type: dm_type(msg),
        spec_mess_flag: None,
    })
}

/// The login event ISDS records when the caller accepts a message.
fn login_event(me: &Identity) -> EventCode {
    match me.actor {
        Actor::Person => match me.user.user_type {
            UserType::PrimaryUser => EventCode::EV11,
            _ => EventCode::EV12,
        },
        _ => EventCode::EV13,
    }
}

/// Operations that leave messages waiting for acceptance alone: ISDS
/// accepts delivered messages when an entitled user logs in, but public
/// documentation names these as not doing so (libisds's list of
/// operations "not marking incoming messages as delivered"; the
/// notification services were introduced precisely to look at delivered
/// messages without accepting them).
const NO_ACCEPTANCE: [&str; 9] = [
    "CreateMessage",
    "CreateMultipleMessage",
    "AuthenticateMessage",
    "Re-signISDSDocument",
    "VerifyMessage",
    "MarkMessageAsDownloaded",
    "EraseMessage",
    "GetListForNotifications",
    "RegisterForNotifications",
];

/// Whether calling `operation` accepts the messages the caller may read
/// (see [`NO_ACCEPTANCE`]).
pub(super) fn accepts_on_login(operation: &str) -> bool {
    !NO_ACCEPTANCE.contains(&operation)
}

/// Applies the time-driven message transitions that fell due, without
/// accepting anything by this login (for the [`NO_ACCEPTANCE`] operations).
pub(super) async fn catch_up(svc: &Services) -> Result<(), ServiceError> {
    let store = svc.store.clone();
    let clock = svc.clock.clone();
    tokio::task::spawn_blocking(move || lifecycle::run_due(store.as_ref(), clock.as_ref()))
        .await??;
    Ok(())
}

/// Attempts at a state change before giving up on concurrent writers.
const CAS_ATTEMPTS: usize = 16;

/// Moves a received message to state 7 (read) because the recipient
/// downloaded it or marked it downloaded: a delivered message (4) is first
/// accepted (6, with the acceptance events), an accepted one (5, 6) is read.
/// Other states stay. Returns the message as stored afterwards.
pub(super) fn mark_read(
    store: &dyn Store,
    me: &Identity,
    id: MessageId,
    now: Timestamp,
) -> Result<Option<Message>, RepoError> {
    for _ in 0..CAS_ATTEMPTS {
        let Some(before) = message_repo::get_message(store, id)? else {
            return Ok(None);
        };
        let mut after = before.clone();
        match before.state {
            MessageState::Delivered => {
                after.state = MessageState::AcceptedByLogin;
                after.acceptance_time = Some(now);
                after.events.push(Event::new(now, EventCode::EV1));
                after.events.push(Event::new(now, login_event(me)));
            }
            MessageState::AcceptedByFiction | MessageState::AcceptedByLogin => {
                after.state = MessageState::Read;
            }
            _ => return Ok(Some(before)),
        }
        match message_repo::update_message(store, &before, &after, now) {
            Ok(()) if after.state == MessageState::Read => return Ok(Some(after)),
            // Accepted now; go round once more to read it.
            Ok(()) => continue,
            Err(RepoError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(RepoError::Conflict(format!(
        "message {id} kept changing while being marked read"
    )))
}

/// A message with its stored documents, in order.
pub(super) type Download = (Message, Vec<Vec<u8>>);

/// A received message with its documents for a download by the caller
/// (MessageDownload, SignedMessageDownload): the caller's box received it
/// (else 1219), the caller may read it (right 1, or 2 for personal
/// delivery; else 1004), its content is still there (else 1219). The
/// message becomes read (state 7).
pub(super) fn download_received(
    store: &dyn Store,
    me: &Identity,
    dm_id: &str,
    now: Timestamp,
) -> Result<Result<Download, IsdsStatus>, RepoError> {
    let (msg, _) = match lookup(store, me, dm_id, Want::Received)? {
        Ok(found) => found,
        Err(nf) => return Ok(Err(nf.status())),
    };
    if !may_read_received(me, &msg) {
        return Ok(Err(refused(if msg.envelope.personal_delivery {
            "zprávu do vlastních rukou smí číst jen uživatel s právem číst všechny zprávy"
        } else {
            "ke čtení přijatých zpráv je třeba právo číst zprávy"
        })));
    }
    if msg.content_deleted {
        return Ok(Err(content_gone()));
    }
    let docs = message_repo::get_documents(store, msg.id)?;
    let msg = match mark_read(store, me, msg.id, now) {
        Ok(after) => after.unwrap_or(msg),
        // A full disk must not stop a read: the message is handed out and
        // its state change recorded at the next download or listing.
        Err(err) if err.is_disk_full() => {
            tracing::warn!(error = %err, message = %msg.id, "disk full: the download is not recorded");
            msg
        }
        Err(err) => return Err(err),
    };
    Ok(Ok((msg, docs)))
}

/// A sent message with its documents for the caller (SignedSentMessageDownload):
/// the caller's box sent it (else 1219), the caller may send (right 4, as
/// for SentMessageEnvelopeDownload; else 1004), its content is still there
/// (else 1219). Nothing changes.
pub(super) fn download_sent(
    store: &dyn Store,
    me: &Identity,
    dm_id: &str,
) -> Result<Result<Download, IsdsStatus>, RepoError> {
    let (msg, _) = match lookup(store, me, dm_id, Want::Sent)? {
        Ok(found) => found,
        Err(nf) => return Ok(Err(nf.status())),
    };
    if !has(me, Privileges::CREATE_DM) {
        return Ok(Err(refused(SENT_NEEDS_RIGHT)));
    }
    if msg.content_deleted {
        return Ok(Err(content_gone()));
    }
    let docs = message_repo::get_documents(store, msg.id)?;
    Ok(Ok((msg, docs)))
}

/// Why a sent message is refused to a user without right 4.
pub(super) const SENT_NEEDS_RIGHT: &str = "odeslané zprávy smí číst jen uživatel s právem odesílat";

/// Status 1219 for a message whose documents were deleted.
fn content_gone() -> IsdsStatus {
    IsdsStatus::with_message(IsdsCode::MessageNotFound, "Obsah zprávy již byl smazán.")
}

/// MessageDownload (`/DS/dz`): a received message with its documents; the
/// message becomes read (state 7).
pub(super) async fn message_download(
    svc: &Services,
    ctx: &CallContext<'_>,
    req: MessageDownload,
) -> Reply {
    let fail = |status: IsdsStatus| {
        respond(&MessageDownloadResponse(TMessDownOutput {
            dm_returned_message: None,
            dm_status: Some(dm_status(&status)),
        }))
    };
    let store = svc.store.clone();
    let me = ctx.identity.clone();
    let now = Timestamp::now(svc.clock.as_ref());
    let outcome = tokio::task::spawn_blocking(move || {
        download_received(store.as_ref(), &me, &req.dm_id, now)
    })
    .await
    .map_err(ServiceError::from)?
    .map_err(ServiceError::from)?;
    match outcome {
        Ok((msg, docs)) => respond(&MessageDownloadResponse(TMessDownOutput {
            dm_returned_message: Some(returned_message(&msg, docs)?),
            dm_status: Some(dm_status(&IsdsStatus::ok())),
        })),
        Err(status) => fail(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_content_reads_elements_back() {
        let els = xml_content(br#"<a xmlns="urn:x"><b>1</b></a><c xmlns="urn:y" k="v"/>"#).unwrap();
        assert_eq!(els.len(), 2);
        assert_eq!(els[0].name, "a");
        assert_eq!(els[0].ns.as_deref(), Some("urn:x"));
        assert_eq!(els[1].attr("k"), Some("v"));
        let with_decl = xml_content(br#"<?xml version="1.0"?><a/>"#).unwrap();
        assert_eq!(with_decl.len(), 1);
        assert!(xml_content(b"<a>").is_err());
        assert!(xml_content(&[0xff, 0xfe]).is_err());
    }
}
