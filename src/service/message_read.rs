//! Reading messages, shared by dm_operations (MessageDownload) and dm_info:
//! which messages a caller may see and with which rights, the mapping of a
//! stored message to the response types ISDS answers with, and the move of
//! a downloaded message to state 7.
//!
//! Rules (messages manual, 1.4 and the chapter of each operation):
//! - An ID no message has is 1219; a message of another box is 1211
//!   ("Nemáte právo na přístup k zásilkám v cizí schránce", messages
//!   manual 2.4.4 and 2.13).
//! - Content (documents) of a received message needs PRIVIL_READ_NON_PERSONAL
//!   (1) or PRIVIL_READ_ALL (2), personal delivery (`dmPersonalDelivery`)
//!   PRIVIL_READ_ALL; lacking them is 1207, lacking the personal one 1208.
//!   Sent messages need PRIVIL_CREATE_DM (4; 1206 without it). Lists,
//!   delivery info and envelopes need PRIVIL_VIEW_INFO (8; 1209 without
//!   it): a user without read rights still sees envelopes and delivery
//!   info, never documents.
//! - A received message is read only once delivered: in state 4 or 5 every
//!   read of it answers 1222 (messages manual 1.8.1); only
//!   GetListOfReceivedMessages delivers (2.7.1, [`lifecycle::deliver_by_listing`]).

use bytes::Bytes;

use super::{CallContext, Rejection, Reply, ServiceError, Services, dm_status, respond};
use crate::auth::Identity;
use crate::domain::boxes::repo::RepoError;
use crate::domain::messages::message::{
    Event, EventCode, Message, MessageId, MessageState, Timestamp,
};
use crate::domain::messages::repo::ListedMessage;
use crate::domain::messages::wire::envelope_of;
use crate::domain::{Privileges, messages, messages::lifecycle};
use crate::schema::{
    MessageDownload, MessageDownloadResponse, TDelivery, TDeliveryDmDm, TEvent, TEventsArray,
    THash, TMessDownOutput, TRecord, TReturnedMessage, TReturnedMessageEnvelope,
    TReturnedMessageEnvelopeDmDm,
};
use crate::soap::Fault;
use crate::status::{IsdsCode, IsdsStatus};
use crate::store::Store;

/// The hash algorithm of every `dmHash` the gateway computes.
pub(super) const HASH_ALGORITHM: &str = messages::wire::HASH_ALGORITHM;

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
    /// The ID is no message ID (2019).
    Malformed,
    /// No message has the ID.
    Missing,
    /// The message exists, but the caller's box is on no side the
    /// operation serves.
    OtherBox,
}

impl NotFound {
    /// The status ISDS answers for it: 1219 naming the message for an ID no
    /// message has, 1211 for another box's message.
    pub(super) fn status(self, dm_id: &str) -> IsdsStatus {
        match self {
            NotFound::Malformed => IsdsStatus::new(IsdsCode::MalformedMessageId),
            NotFound::Missing => IsdsStatus::fill(IsdsCode::MessageNotFound, &[dm_id.trim()]),
            NotFound::OtherBox => IsdsStatus::new(IsdsCode::MessageOfAnotherBox),
        }
    }

    /// The status of a download of the box's own message: 1219 in its
    /// form naming the box (table row 1219, second text), 1211 for another
    /// box's message.
    pub(super) fn own_status(self, me: &Identity, dm_id: &str) -> IsdsStatus {
        match self {
            NotFound::Malformed => IsdsStatus::new(IsdsCode::MalformedMessageId),
            NotFound::Missing => own_message_gone(me, dm_id),
            NotFound::OtherBox => IsdsStatus::new(IsdsCode::MessageOfAnotherBox),
        }
    }
}

/// 1219 for the box's own message that is not (or no longer) there.
pub(super) fn own_message_gone(me: &Identity, dm_id: &str) -> IsdsStatus {
    IsdsStatus::fill(
        IsdsCode::OwnMessageNotFound,
        &[dm_id.trim(), me.databox.id.as_str()],
    )
}

/// Looks a message up for the caller's box.
pub(super) fn lookup(
    store: &dyn Store,
    me: &Identity,
    dm_id: &str,
    want: Want,
) -> Result<Result<(Message, Side), NotFound>, RepoError> {
    let Some(id) = MessageId::parse(dm_id.trim()) else {
        return Ok(Err(NotFound::Malformed));
    };
    let Some(msg) = messages::repo::get_message(store, id)? else {
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

/// 1209 unless the caller holds PRIVIL_VIEW_INFO (lists, delivery info,
/// envelopes; messages manual 1.4).
pub(super) fn view_refusal(me: &Identity) -> Option<IsdsStatus> {
    (!has(me, Privileges::VIEW_INFO)).then(|| {
        IsdsStatus::fill(
            IsdsCode::NoRightToViewInfo,
            &[me.user.id.as_str(), &me.user.privileges.0.to_string()],
        )
    })
}

/// 1207 without any read right, 1208 for a message for personal delivery
/// without PRIVIL_READ_ALL; `None` when the caller may read the received
/// message (messages manual 1.4, 2.4.1).
pub(super) fn read_refusal(me: &Identity, msg: &Message) -> Option<IsdsStatus> {
    if !me.user.privileges.can_read_non_personal() {
        Some(IsdsStatus::new(IsdsCode::NoRightToRead))
    } else if !may_read_received(me, msg) {
        Some(IsdsStatus::new(IsdsCode::NoRightToReadPersonal))
    } else {
        None
    }
}

/// 1206 unless the caller holds PRIVIL_CREATE_DM, which also reads sent
/// messages (messages manual 1.4).
pub(super) fn send_refusal(me: &Identity) -> Option<IsdsStatus> {
    (!has(me, Privileges::CREATE_DM)).then(|| IsdsStatus::new(IsdsCode::NoRightToSend))
}

/// The refusal of a read of a received message by its state: 1222 before
/// delivery (4, 5), 1230 when undeliverable (8); messages manual 1.8.1,
/// 2.4.1.
pub(super) fn state_refusal(msg: &Message) -> Option<IsdsStatus> {
    match msg.state {
        MessageState::Delivered | MessageState::AcceptedByFiction => {
            Some(IsdsStatus::new(IsdsCode::MessageNotDelivered))
        }
        MessageState::Undeliverable => Some(IsdsStatus::new(IsdsCode::MessageUndeliverable)),
        _ => None,
    }
}

/// [`record`] of a message read for a list ([`ListedMessage`]), taking
/// its strings rather than copying them: the same record, field by field.
pub(super) fn listed_record(m: ListedMessage, ordinal: usize) -> TRecord {
    let e = m.envelope;
    TRecord {
        dm_id: m.id.to_string(),
        db_id_sender: Some(m.sender.box_id.to_string()),
        dm_sender_type: i64::from(m.sender.sender_type_code()),
        dm_sender: Some(m.sender.name),
        dm_sender_address: Some(m.sender.address),
        dm_recipient: Some(m.recipient.name),
        dm_recipient_address: Some(m.recipient.address),
        dm_ambiguous_recipient: None,
        dm_sender_org_unit: e.sender_org_unit,
        dm_sender_org_unit_num: e.sender_org_unit_num,
        db_id_recipient: Some(m.recipient.box_id.to_string()),
        dm_recipient_org_unit: e.recipient_org_unit,
        dm_recipient_org_unit_num: e.recipient_org_unit_num,
        dm_to_hands: e.to_hands,
        dm_annotation: Some(e.annotation),
        dm_recipient_ref_number: e.recipient_ref_number,
        dm_sender_ref_number: e.sender_ref_number,
        dm_recipient_ident: e.recipient_ident,
        dm_sender_ident: e.sender_ident,
        dm_legal_title_law: e.legal_title_law,
        dm_legal_title_year: e.legal_title_year,
        dm_legal_title_sect: e.legal_title_sect,
        dm_legal_title_par: e.legal_title_par,
        dm_legal_title_point: e.legal_title_point,
        dm_personal_delivery: Some(e.personal_delivery),
        dm_allow_subst_delivery: Some(e.allow_subst_delivery),
        dm_ordinal: i64::try_from(ordinal).unwrap_or(i64::MAX),
        dm_message_status: i64::from(m.state.code()),
        dm_attachment_size: Some(i64::try_from(m.attachment_size_kb).unwrap_or(i64::MAX)),
        dm_delivery_time: time(m.delivery_time),
        dm_acceptance_time: time(m.acceptance_time),
        dm_type: e.dm_type.filter(|t| t != "V"),
        dm_vodz: Some(m.vodz),
        spec_mess_flag: None,
    }
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

fn attachment_size(msg: &Message) -> Option<i64> {
    Some(i64::try_from(msg.attachment_size_kb).unwrap_or(i64::MAX))
}

/// One record of a message list; `ordinal` is its position in the whole
/// list (counting from 1, so offset + index). The lists build it with
/// [`listed_record`]; this is the reference it is checked against.
#[cfg(test)]
pub(super) fn record(msg: &Message, ordinal: usize) -> TRecord {
    envelope_of!(TRecord, msg, {
        dm_ordinal: i64::try_from(ordinal).unwrap_or(i64::MAX),
        dm_message_status: i64::from(msg.state.code()),
        dm_attachment_size: attachment_size(msg),
        dm_delivery_time: time(msg.delivery_time),
        dm_acceptance_time: time(msg.acceptance_time),
        dm_type: dm_type(msg),
        dm_vodz: Some(msg.vodz),
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
        dm_vodz: Some(msg.vodz),
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

/// The whole message with its documents (MessageDownload).
pub(super) fn returned_message(
    msg: &Message,
    docs: Vec<Vec<u8>>,
) -> Result<TReturnedMessage, Rejection> {
    let docs = docs.into_iter().map(Bytes::from).collect();
    let dm_dm = messages::wire::dm_dm(msg, docs)
        .map_err(|e| Rejection::from(Fault::server(e.to_string())))?;
    Ok(TReturnedMessage {
        dm_dm,
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

/// Applies the time-driven message transitions that fell due (fiction,
/// content deletion). Nothing is delivered here: only
/// GetListOfReceivedMessages delivers (messages manual 1.8.1).
pub(super) async fn catch_up(svc: &Services) -> Result<(), ServiceError> {
    let store = svc.store.clone();
    let clock = svc.clock.clone();
    tokio::task::spawn_blocking(move || lifecycle::run_due(store.as_ref(), clock.as_ref()))
        .await??;
    Ok(())
}

/// Attempts at a state change before giving up on concurrent writers.
const CAS_ATTEMPTS: usize = 16;

/// Moves a delivered received message (state 6) to state 7 (read) because
/// the recipient downloaded it or marked it downloaded. Other states stay
/// (7 and 10 are read already; the callers refuse 4, 5 and 8). Returns the
/// message as stored afterwards.
pub(super) fn mark_read(
    store: &dyn Store,
    id: MessageId,
    now: Timestamp,
) -> Result<Option<Message>, RepoError> {
    for _ in 0..CAS_ATTEMPTS {
        let Some(before) = messages::repo::get_message(store, id)? else {
            return Ok(None);
        };
        if before.state != MessageState::AcceptedByLogin {
            return Ok(Some(before));
        }
        let mut after = before.clone();
        after.state = MessageState::Read;
        match messages::repo::update_message(store, &before, &after, now) {
            Ok(()) => return Ok(Some(after)),
            Err(RepoError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(RepoError::Conflict(format!(
        "message {id} kept changing while being marked read"
    )))
}

/// A received or sent message with its stored documents, in order.
pub(super) type Download = (Message, Vec<Vec<u8>>);

/// A received message with its documents for a download by the caller
/// (MessageDownload, SignedMessageDownload; messages manual 2.4.1, 2.4.2):
/// the caller's box received it (else 1219 naming the box, or 1211 for
/// another box's message), the caller may read it (else 1207 or 1208), it
/// is delivered (else 1222; 1230 when undeliverable), its content is still
/// there (else 1219). A delivered message (6) becomes read (7).
pub(super) fn download_received(
    store: &dyn Store,
    me: &Identity,
    dm_id: &str,
    now: Timestamp,
) -> Result<Result<Download, IsdsStatus>, RepoError> {
    let (msg, _) = match lookup(store, me, dm_id, Want::Received)? {
        Ok(found) => found,
        Err(nf) => return Ok(Err(nf.own_status(me, dm_id))),
    };
    if msg.vodz {
        return Ok(Err(IsdsStatus::new(IsdsCode::WrongServiceForMessage)));
    }
    if let Some(refusal) = read_refusal(me, &msg).or_else(|| state_refusal(&msg)) {
        return Ok(Err(refusal));
    }
    if msg.content_deleted {
        return Ok(Err(own_message_gone(me, dm_id)));
    }
    let docs = messages::repo::get_documents(store, msg.id)?;
    let msg = match mark_read(store, msg.id, now) {
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

/// A sent message with its documents for the caller (SignedSentMessageDownload,
/// messages manual 2.4.3): the caller's box sent it (else 1219 naming the
/// box, or 1211), the caller holds PRIVIL_CREATE_DM (else 1206), its
/// content is still there (else 1219). Nothing changes.
pub(super) fn download_sent(
    store: &dyn Store,
    me: &Identity,
    dm_id: &str,
) -> Result<Result<Download, IsdsStatus>, RepoError> {
    let (msg, _) = match lookup(store, me, dm_id, Want::Sent)? {
        Ok(found) => found,
        Err(nf) => return Ok(Err(nf.own_status(me, dm_id))),
    };
    if msg.vodz {
        return Ok(Err(IsdsStatus::new(IsdsCode::WrongServiceForMessage)));
    }
    if let Some(refusal) = send_refusal(me) {
        return Ok(Err(refusal));
    }
    if msg.content_deleted {
        return Ok(Err(own_message_gone(me, dm_id)));
    }
    let docs = messages::repo::get_documents(store, msg.id)?;
    Ok(Ok((msg, docs)))
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
    use crate::domain::messages::message::tests::sample;

    /// A list record built from the part of a stored message a list reads
    /// is the record of the whole message, for messages with and without
    /// every optional envelope item.
    #[test]
    fn listed_records_are_the_records_of_whole_messages() {
        let mut full = sample(10_000_042);
        let e = &mut full.envelope;
        e.sender_org_unit = Some("Odbor <výstavby> & \"územního\" plánování".into());
        e.sender_org_unit_num = Some(-3);
        e.recipient_org_unit = Some(String::new());
        e.recipient_org_unit_num = Some(0);
        e.to_hands = Some("K rukám".into());
        e.recipient_ref_number = Some("R/1".into());
        e.sender_ref_number = Some("S/2".into());
        e.recipient_ident = Some("RI".into());
        e.sender_ident = Some("SI".into());
        e.legal_title_law = Some(500);
        e.legal_title_year = Some(2004);
        e.legal_title_sect = Some("§ 17".into());
        e.legal_title_par = Some("2".into());
        e.legal_title_point = Some("a".into());
        e.personal_delivery = true;
        e.dm_type = Some("K".into());
        full.state = MessageState::Read;
        full.acceptance_time = Some(Timestamp(1_790_000_000_123_456));
        full.vodz = true;
        full.qtimestamp = Some(vec![1, 2, 3]);
        full.sender = crate::domain::messages::message::Party::system();
        let mut public = sample(10_000_043);
        public.envelope.dm_type = Some("V".into());
        public.delivery_time = None;
        public.attachment_size_kb = u64::MAX;
        for (i, msg) in [sample(10_000_041), full, public].iter().enumerate() {
            let stored = serde_json::to_vec(msg).unwrap();
            let listed: ListedMessage = serde_json::from_slice(&stored).unwrap();
            assert_eq!(listed, ListedMessage::from(msg));
            assert_eq!(listed_record(listed, 7 + i), record(msg, 7 + i));
        }
    }
}
