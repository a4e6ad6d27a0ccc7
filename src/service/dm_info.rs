//! dm_info (`/DS/dx`): lists of messages, envelopes, delivery info, state
//! changes, authors, hashes, marking as downloaded, erasing from the vault,
//! reports of suspicious messages, notifications for applications and the
//! asynchronous list of erased messages.
//!
//! Who may see which message, and the mapping to the response types, live
//! in [`super::message_read`]. Every operation runs its store work on the
//! blocking pool.

use std::sync::Arc;

use bytes::Bytes;

use super::message_read::{
    self, Side, Want, has, read_refusal, send_refusal, state_refusal, view_refusal,
};
use super::{CallContext, Reply, ServiceError, Services, dm_status, not_implemented, respond};
use crate::auth::{Actor, Identity};
use crate::domain::Privileges;
use crate::domain::boxes::repo::{self, RepoError};
use crate::domain::messages;
use crate::domain::messages::extras::{AsyncRequest, SuspiciousReport};
use crate::domain::messages::message::{Message, MessageId, MessageState, Timestamp};
use crate::domain::messages::repo::ListQuery;
use crate::schema::{
    EraseMessageResponse, GetDeliveryInfoResponse, GetListForNotificationsResponse,
    GetListOfErasedMessagesResponse, GetListOfReceivedMessagesResponse,
    GetListOfSentMessagesResponse, GetMessageAuthor2Response,
    GetMessageAuthor2ResponseDmMessageAuthor, GetMessageAuthor2ResponseDmMessageAuthorMaItem,
    GetMessageAuthorResponse, GetMessageStateChangesResponse, MarkMessageAsDownloadedResponse,
    MessageEnvelopeDownloadResponse, OperationInfo, PickUpAsyncResponseResponse,
    RegisterForNotificationsResponse, Request, SentMessageEnvelopeDownloadResponse,
    SuspMessageReportResponse, TDeliveryMessageOutput, TEraseMessageOutput, TGetAuthorOutput,
    TGetListOfErasedInput, TGetListOfErasedOutput, TGetStateChangesOutput, TListForNotifOutput,
    TListOfMessOutput, TMarkMessOutput, TMessEnvelDownOutput, TMessageVerifyOutput, TNtfRecord,
    TNtfRecordsArray, TPickUpAsyncOutput, TRecordsArray, TStateChangesArray, TStateChangesRecord,
    VerifyMessageResponse,
};
use crate::status::{IsdsCode, IsdsStatus};
use crate::store::Store;

/// Records a list answers when the request sets no `dmLimit` (ISDS's
/// documented default).
pub const DEFAULT_LIST_LIMIT: usize = 1_000;
/// The most records one list answers, whatever `dmLimit` asks for (a
/// gateway bound on response size; ISDS documents none).
pub const MAX_LIST_LIMIT: usize = 10_000;
/// GetMessageStateChanges reports changes of the last this many days only.
pub const STATE_CHANGES_DAYS: i64 = 15;
/// Records one GetListForNotifications answers; `ntfListContinues` says
/// whether more follow.
pub const NOTIFICATIONS_PAGE: usize = 1_000;
/// The most messages one list of erased messages holds.
pub const MAX_ERASED: usize = 100_000;
/// `asyncReqType` of the list of erased messages (as clients name it when
/// picking the list up).
pub const ASYNC_LIST_ERASED: &str = "LIST_ERASED";
/// `ntfType` of a record telling that a message was delivered.
const NTF_DELIVERED: i64 = 1;

pub(super) async fn handle(
    svc: &Services,
    ctx: &CallContext<'_>,
    op: &OperationInfo,
    request: Request,
) -> Reply {
    let me = ctx.identity.clone();
    let now = Timestamp::now(svc.clock.as_ref());
    match request {
        Request::GetListOfReceivedMessages(req) => {
            let resp = blocking(svc, move |s| {
                let q = ListParams {
                    from: req.dm_from_time.clone(),
                    to: req.dm_to_time.clone(),
                    org_unit_num: req.dm_recipient_org_unit_num,
                    filter: req.dm_status_filter.clone(),
                    offset: req.dm_offset,
                    limit: req.dm_limit,
                };
                list(s, now, &me, &q, Want::Received)
            })
            .await?;
            respond_list(&GetListOfReceivedMessagesResponse(resp.0), resp.1)
        }
        Request::GetListOfSentMessages(req) => {
            let resp = blocking(svc, move |s| {
                let q = ListParams {
                    from: req.dm_from_time.clone(),
                    to: req.dm_to_time.clone(),
                    org_unit_num: req.dm_sender_org_unit_num,
                    filter: req.dm_status_filter.clone(),
                    offset: req.dm_offset,
                    limit: req.dm_limit,
                };
                list(s, now, &me, &q, Want::Sent)
            })
            .await?;
            respond_list(&GetListOfSentMessagesResponse(resp.0), resp.1)
        }
        Request::MessageEnvelopeDownload(req) => {
            let resp = blocking(svc, move |s| {
                envelope_download(s, &me, &req.dm_id, Want::Received)
            })
            .await?;
            respond(&MessageEnvelopeDownloadResponse(resp))
        }
        Request::SentMessageEnvelopeDownload(req) => {
            let resp = blocking(svc, move |s| {
                envelope_download(s, &me, &req.dm_id, Want::Sent)
            })
            .await?;
            respond(&SentMessageEnvelopeDownloadResponse {
                dm_returned_message_envelope: resp.dm_returned_message_envelope,
                dm_status: resp.dm_status,
            })
        }
        Request::MarkMessageAsDownloaded(req) => {
            let status = blocking(svc, move |s| mark_downloaded(s, &me, &req.dm_id, now)).await?;
            respond(&MarkMessageAsDownloadedResponse(TMarkMessOutput {
                dm_status: dm_status(&status),
            }))
        }
        Request::GetDeliveryInfo(req) => {
            let resp = blocking(svc, move |s| delivery_info(s, &me, &req.dm_id)).await?;
            respond(&GetDeliveryInfoResponse(resp))
        }
        Request::GetSignedDeliveryInfo(req) => {
            super::signed::signed_delivery_info(svc, ctx, req.0.dm_id).await
        }
        Request::GetMessageStateChanges(req) => {
            let resp = blocking(svc, move |s| {
                state_changes(
                    s,
                    &me,
                    req.dm_from_time.as_deref(),
                    req.dm_to_time.as_deref(),
                    now,
                )
            })
            .await?;
            respond(&GetMessageStateChangesResponse(resp))
        }
        Request::GetMessageAuthor(req) => {
            let resp = blocking(svc, move |s| author(s, &me, &req.dm_id)).await?;
            respond(&GetMessageAuthorResponse(resp))
        }
        Request::GetMessageAuthor2(req) => {
            let resp = blocking(svc, move |s| author2(s, &me, &req.dm_id)).await?;
            respond(&resp)
        }
        Request::VerifyMessage(req) => {
            let resp = blocking(svc, move |s| verify(s, &me, &req.dm_id)).await?;
            respond(&VerifyMessageResponse(resp))
        }
        Request::EraseMessage(req) => {
            let status = blocking(svc, move |s| {
                erase(s, &me, &req.dm_id, req.dm_incoming, now)
            })
            .await?;
            respond(&EraseMessageResponse(TEraseMessageOutput {
                dm_status: dm_status(&status),
            }))
        }
        Request::GetListOfErasedMessages(req) => {
            let resp = blocking(svc, move |s| erased_list(s, &me, &req, now)).await?;
            respond(&GetListOfErasedMessagesResponse(resp))
        }
        Request::PickUpAsyncResponse(req) => {
            let resp = blocking(svc, move |s| {
                pick_up(s, &me, &req.async_id, &req.async_req_type, now)
            })
            .await?;
            respond(&PickUpAsyncResponseResponse(resp))
        }
        Request::SuspMessageReport(req) => {
            let status = blocking(svc, move |s| {
                let report = Report {
                    dm_id: req.dm_id,
                    name: req.rep_name,
                    mail: req.rep_mail,
                    tel: req.rep_tel,
                    allow_complete: req.allow_complete,
                    note: req.note,
                };
                suspicious(s, &me, report, now)
            })
            .await?;
            respond(&SuspMessageReportResponse {
                dm_status: dm_status(&status),
            })
        }
        Request::RegisterForNotifications(req) => {
            let status = blocking(svc, move |s| {
                register_notifications(s, &me, req.action, now)
            })
            .await?;
            respond(&RegisterForNotificationsResponse {
                dm_status: dm_status(&status),
            })
        }
        Request::GetListForNotifications(req) => {
            let resp = blocking(svc, move |s| notifications(s, &me, &req.ntf_from_time)).await?;
            respond(&GetListForNotificationsResponse(resp))
        }
        _ => not_implemented(op),
    }
}

/// About how many bytes one list record takes in a response (the bench's
/// records take 1,600-1,700): the response buffer is reserved for the
/// whole list at once.
const RECORD_BYTES: usize = 1_800;

/// [`respond`] for a list of `records` records.
fn respond_list<T: crate::schema::XmlRoot>(response: &T, records: usize) -> Reply {
    Ok(crate::schema::to_response_fragment_sized(
        response,
        records.saturating_mul(RECORD_BYTES).saturating_add(1_024),
    ))
}

/// Runs store work on the blocking pool.
async fn blocking<T, F>(svc: &Services, f: F) -> Result<T, ServiceError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Store) -> Result<T, RepoError> + Send + 'static,
{
    let store: Arc<dyn Store> = svc.store.clone();
    Ok(tokio::task::spawn_blocking(move || f(store.as_ref())).await??)
}

fn ok() -> IsdsStatus {
    IsdsStatus::ok()
}

/// 1131 naming the request item with a wrong value.
fn bad_parameter(name: &str) -> IsdsStatus {
    IsdsStatus::fill(IsdsCode::InvalidParameter, &[name])
}

// ---------------------------------------------------------------------------
// Lists

/// The criteria of GetListOf{Received,Sent}Messages as sent.
struct ListParams {
    from: Option<String>,
    to: Option<String>,
    org_unit_num: Option<i64>,
    filter: String,
    offset: Option<i64>,
    limit: Option<i64>,
}

/// Reads `dmStatusFilter`: a decimal mask with bit `1 << state` per state
/// wanted; `-1`, and masks naming no state (0, 1), mean every state.
pub fn parse_status_filter(filter: &str) -> Option<u32> {
    let n: i64 = filter.trim().parse().ok()?;
    if n == -1 {
        return Some(MessageState::ALL_MASK);
    }
    if n < 0 {
        return None;
    }
    let mask = u32::try_from(n & i64::from(MessageState::ALL_MASK)).ok()?;
    Some(if mask == 0 {
        MessageState::ALL_MASK
    } else {
        mask
    })
}

/// The time of an `xs:dateTime` item (already checked by the schema).
/// 2017 (table row: date syntax) names the value that does not parse.
fn parse_time(value: Option<&str>) -> Result<Option<Timestamp>, IsdsStatus> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => Timestamp::parse_xml(v)
            .map(Some)
            .ok_or_else(|| IsdsStatus::fill(IsdsCode::InvalidDateTime, &[v])),
    }
}

fn list_query(me: &Identity, p: &ListParams) -> Result<ListQuery, IsdsStatus> {
    let state_mask =
        parse_status_filter(&p.filter).ok_or_else(|| bad_parameter("dmStatusFilter"))?;
    let offset = p
        .offset
        .filter(|&o| o > 1)
        .map_or(1, |o| usize::try_from(o).unwrap_or(usize::MAX));
    let limit = match p.limit {
        Some(l) if l > 0 => usize::try_from(l).unwrap_or(usize::MAX).min(MAX_LIST_LIMIT),
        _ => DEFAULT_LIST_LIMIT,
    };
    Ok(ListQuery {
        box_id: me.databox.id.clone(),
        from: parse_time(p.from.as_deref())?,
        to: parse_time(p.to.as_deref())?,
        state_mask,
        offset,
        limit,
        org_unit_num: p.org_unit_num,
        org_unit: None,
    })
}

/// GetListOfReceivedMessages / GetListOfSentMessages: PRIVIL_VIEW_INFO
/// (1209 without it); records in delivery order (then message ID),
/// numbered from `dmOffset`.
///
/// The received list is the one call that delivers (messages manual
/// 1.8.1, 2.7.1): before it is read, every message of the box in state 4
/// or 5 that the caller may read becomes state 6, durably, so the answer
/// shows them delivered. It lists only states 4, 5, 6, 7 and 10; a
/// `dmStatusFilter` can only narrow that set.
fn list(
    store: &dyn Store,
    clock_now: Timestamp,
    me: &Identity,
    p: &ListParams,
    want: Want,
) -> Result<(TListOfMessOutput, usize), RepoError> {
    let fail = |status: IsdsStatus| {
        let out = TListOfMessOutput {
            dm_records: None,
            dm_status: dm_status(&status),
        };
        (out, 0)
    };
    if let Some(refusal) = view_refusal(me) {
        return Ok(fail(refusal));
    }
    let mut q = match list_query(me, p) {
        Ok(q) => q,
        Err(status) => return Ok(fail(status)),
    };
    let messages = match want {
        Want::Sent => messages::repo::list_sent_rows(store, &q)?,
        _ => {
            crate::domain::messages::lifecycle::deliver_by_listing(store, clock_now, me)?;
            q.state_mask &= MessageState::RECEIVED_LIST_MASK;
            if q.state_mask == 0 {
                Vec::new()
            } else {
                messages::repo::list_received_rows(store, &q)?
            }
        }
    };
    let dm_record = messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| message_read::listed_record(m, q.offset + i))
        .collect::<Vec<_>>();
    let count = dm_record.len();
    let out = TListOfMessOutput {
        dm_records: Some(TRecordsArray { dm_record }),
        dm_status: dm_status(&ok()),
    };
    Ok((out, count))
}

// ---------------------------------------------------------------------------
// One message

/// MessageEnvelopeDownload (messages manual 2.4.4: PRIVIL_VIEW_INFO and
/// the right to read the message; 1222 before delivery, 1211 for another
/// box's or a sent message) and SentMessageEnvelopeDownload (2.4.5:
/// PRIVIL_CREATE_DM).
fn envelope_download(
    store: &dyn Store,
    me: &Identity,
    dm_id: &str,
    want: Want,
) -> Result<TMessEnvelDownOutput, RepoError> {
    let fail = |status: IsdsStatus| TMessEnvelDownOutput {
        dm_returned_message_envelope: None,
        dm_status: dm_status(&status),
    };
    let (msg, side) = match message_read::lookup(store, me, dm_id, want)? {
        Ok(found) => found,
        Err(nf) => return Ok(fail(nf.status(dm_id))),
    };
    let refusal = match side {
        Side::Recipient => view_refusal(me)
            .or_else(|| read_refusal(me, &msg))
            .or_else(|| state_refusal(&msg)),
        Side::Sender => send_refusal(me),
    };
    if let Some(refusal) = refusal {
        return Ok(fail(refusal));
    }
    Ok(TMessEnvelDownOutput {
        dm_returned_message_envelope: Some(message_read::envelope(&msg)),
        dm_status: dm_status(&ok()),
    })
}

/// MarkMessageAsDownloaded (messages manual 2.5): the recipient, with the
/// right to read the message by its kind (1207, 1208), marks a delivered
/// message (6) read (7); a message read already stays so; any other state
/// is 1248 ("Zpráva není ve stavu doručená"). It delivers nothing.
fn mark_downloaded(
    store: &dyn Store,
    me: &Identity,
    dm_id: &str,
    now: Timestamp,
) -> Result<IsdsStatus, RepoError> {
    let (msg, _) = match message_read::lookup(store, me, dm_id, Want::Received)? {
        Ok(found) => found,
        Err(nf) => return Ok(nf.status(dm_id)),
    };
    if let Some(refusal) = read_refusal(me, &msg) {
        return Ok(refusal);
    }
    match msg.state {
        MessageState::AcceptedByLogin | MessageState::Read => {
            message_read::mark_read(store, msg.id, now)?;
            Ok(ok())
        }
        _ => Ok(IsdsStatus::new(IsdsCode::NotInDeliveredState)),
    }
}

/// GetDeliveryInfo (and GetSignedDeliveryInfo): sent or received message,
/// PRIVIL_VIEW_INFO (messages manual 2.6.1; 1209 without it). A received
/// message in state 4 or 5 is 1222: since delivery happens only by
/// listing, its delivery info cannot be had before (1.8.1).
pub(super) fn delivery_info(
    store: &dyn Store,
    me: &Identity,
    dm_id: &str,
) -> Result<TDeliveryMessageOutput, RepoError> {
    let fail = |status: IsdsStatus| TDeliveryMessageOutput {
        dm_delivery: None,
        dm_status: Some(dm_status(&status)),
    };
    let (msg, side) = match message_read::lookup(store, me, dm_id, Want::Either)? {
        Ok(found) => found,
        Err(nf) => return Ok(fail(nf.status(dm_id))),
    };
    if let Some(refusal) = view_refusal(me) {
        return Ok(fail(refusal));
    }
    if side == Side::Recipient
        && matches!(
            msg.state,
            MessageState::Delivered | MessageState::AcceptedByFiction
        )
    {
        return Ok(fail(IsdsStatus::new(IsdsCode::MessageNotDelivered)));
    }
    Ok(TDeliveryMessageOutput {
        dm_delivery: Some(message_read::delivery(&msg)),
        dm_status: Some(dm_status(&ok())),
    })
}

/// VerifyMessage (messages manual 2.3.2): the stored hash of a sent or
/// received message; PRIVIL_READ_NON_PERSONAL (1207 without a read right).
fn verify(
    store: &dyn Store,
    me: &Identity,
    dm_id: &str,
) -> Result<TMessageVerifyOutput, RepoError> {
    let fail = |status: IsdsStatus| TMessageVerifyOutput {
        dm_hash: None,
        dm_status: dm_status(&status),
    };
    let (msg, _) = match message_read::lookup(store, me, dm_id, Want::Either)? {
        Ok(found) => found,
        Err(nf) => return Ok(fail(nf.status(dm_id))),
    };
    if !me.user.privileges.can_read_non_personal() {
        return Ok(fail(IsdsStatus::new(IsdsCode::NoRightToRead)));
    }
    Ok(TMessageVerifyOutput {
        dm_hash: Some(message_read::hash(&msg)),
        dm_status: dm_status(&ok()),
    })
}

/// Whether the author's name may be told to the caller: always to the
/// sender's box; to the recipient if the sender published it
/// (`dmPublishOwnID`).
fn reveals_author(msg: &Message, side: Side) -> bool {
    side == Side::Sender || msg.envelope.publish_own_id
}

/// GetMessageAuthor: the sender's user type and (if published) name.
fn author(store: &dyn Store, me: &Identity, dm_id: &str) -> Result<TGetAuthorOutput, RepoError> {
    let fail = |status: IsdsStatus| TGetAuthorOutput {
        user_type: None,
        author_name: None,
        dm_status: dm_status(&status),
    };
    let (msg, side) = match message_read::lookup(store, me, dm_id, Want::Either)? {
        Ok(found) => found,
        Err(nf) => return Ok(fail(nf.status(dm_id))),
    };
    // PRIVIL_VIEW_INFO (messages manual 2.10).
    if let Some(refusal) = view_refusal(me) {
        return Ok(fail(refusal));
    }
    let name =
        Some(msg.author.name.clone()).filter(|n| !n.is_empty() && reveals_author(&msg, side));
    Ok(TGetAuthorOutput {
        user_type: Some(msg.author.user_type.clone()),
        author_name: name,
        dm_status: dm_status(&ok()),
    })
}

/// GetMessageAuthor2: the author as key/value items (`userType`, and the
/// published name as `pnGivenNames` and `pnLastName`).
fn author2(
    store: &dyn Store,
    me: &Identity,
    dm_id: &str,
) -> Result<GetMessageAuthor2Response, RepoError> {
    let fail = |status: IsdsStatus| GetMessageAuthor2Response {
        dm_message_author: None,
        dm_status: dm_status(&status),
    };
    let (msg, side) = match message_read::lookup(store, me, dm_id, Want::Either)? {
        Ok(found) => found,
        Err(nf) => return Ok(fail(nf.status(dm_id))),
    };
    // PRIVIL_VIEW_INFO (messages manual 2.10).
    if let Some(refusal) = view_refusal(me) {
        return Ok(fail(refusal));
    }
    let item = |key: &str, value: String| GetMessageAuthor2ResponseDmMessageAuthorMaItem {
        key: key.to_owned(),
        value,
    };
    let mut items = vec![item("userType", msg.author.user_type.clone())];
    if reveals_author(&msg, side) {
        let user = match &msg.author.user_id {
            Some(id) => repo::get_user(store, id)?,
            None => None,
        };
        let (given, last) = match user {
            Some(u) => (u.name.given_names(), u.name.last_name),
            None => (String::new(), msg.author.name.clone()),
        };
        if !given.is_empty() {
            items.push(item("pnGivenNames", given));
        }
        if !last.is_empty() {
            items.push(item("pnLastName", last));
        }
    }
    Ok(GetMessageAuthor2Response {
        dm_message_author: Some(GetMessageAuthor2ResponseDmMessageAuthor { ma_item: items }),
        dm_status: dm_status(&ok()),
    })
}

/// EraseMessage: only a message in the long-term vault (state 10) may be
/// erased on request, by a user with right 128; ISDS's published codes:
/// 1211 another box's message, 1218 no right, 1219 not in the vault or not
/// of the direction given. The gateway has no vault yet, so no message is
/// ever in state 10 and every request that gets that far is 1219.
fn erase(
    store: &dyn Store,
    me: &Identity,
    dm_id: &str,
    incoming: bool,
    now: Timestamp,
) -> Result<IsdsStatus, RepoError> {
    let (msg, _) = match message_read::lookup(store, me, dm_id, Want::Either)? {
        Ok(found) => found,
        Err(nf) => return Ok(nf.status(dm_id)),
    };
    if !has(me, Privileges::ERASE_VAULT) {
        return Ok(IsdsStatus::new(IsdsCode::EraseNotPermitted));
    }
    // The box may be on both sides of a message it sent to itself.
    let mine = &me.databox.id;
    let on_side = if incoming {
        msg.recipient.box_id == *mine && !msg.erased_by_recipient
    } else {
        msg.sender.box_id == *mine && !msg.erased_by_sender
    };
    if !on_side || msg.state != MessageState::InVault {
        return Ok(IsdsStatus::fill(IsdsCode::MessageNotFound, &[dm_id.trim()]));
    }
    let mut after = msg.clone();
    if incoming {
        after.erased_by_recipient = true;
    } else {
        after.erased_by_sender = true;
    }
    messages::repo::update_message(store, &msg, &after, now)?;
    Ok(ok())
}

/// Longest name, e-mail address or telephone number of a SuspMessageReport.
/// The schema leaves these texts unbounded and the manuals say nothing of
/// SuspMessageReport; the gateway stores them, so it takes the usual width
/// of a name or address item in the ISDS schemas (255).
const MAX_REPORT_ITEM_CHARS: usize = 255;
/// Longest note of a SuspMessageReport (unbounded in the schema, the
/// manuals silent): a few paragraphs, the size of a message's annotation
/// many times over, not megabytes kept for ever.
const MAX_REPORT_NOTE_CHARS: usize = 4000;

/// What SuspMessageReport carries.
struct Report {
    dm_id: String,
    name: Option<String>,
    mail: Option<String>,
    tel: Option<String>,
    allow_complete: bool,
    note: Option<String>,
}

/// SuspMessageReport: a user who may read a received message reports it as
/// suspicious; the report is recorded.
fn suspicious(
    store: &dyn Store,
    me: &Identity,
    r: Report,
    now: Timestamp,
) -> Result<IsdsStatus, RepoError> {
    for (name, text, max) in [
        ("repName", &r.name, MAX_REPORT_ITEM_CHARS),
        ("repMail", &r.mail, MAX_REPORT_ITEM_CHARS),
        ("repTel", &r.tel, MAX_REPORT_ITEM_CHARS),
        ("note", &r.note, MAX_REPORT_NOTE_CHARS),
    ] {
        if text.as_ref().is_some_and(|t| t.chars().count() > max) {
            // No code of its own in the table: the wrong parameter, named.
            return Ok(bad_parameter(name));
        }
    }
    let (msg, _) = match message_read::lookup(store, me, &r.dm_id, Want::Received)? {
        Ok(found) => found,
        Err(nf) => return Ok(nf.status(&r.dm_id)),
    };
    if let Some(refusal) = read_refusal(me, &msg) {
        return Ok(refusal);
    }
    messages::extras::add_suspicious_report(
        store,
        &SuspiciousReport {
            message: msg.id,
            box_id: me.databox.id.clone(),
            user_id: me.user.id.clone(),
            reported_at: now,
            name: r.name,
            mail: r.mail,
            tel: r.tel,
            allow_complete: r.allow_complete,
            note: r.note,
        },
    )?;
    Ok(ok())
}

// ---------------------------------------------------------------------------
// State changes

/// GetMessageStateChanges: right 8; the changes of the box's sent messages
/// to states 4, 5, 6 and 8 (delivered, accepted, undeliverable) between the
/// two times, no older than [`STATE_CHANGES_DAYS`] days; a missing
/// `dmFromTime` means that far back, a missing `dmToTime` now.
fn state_changes(
    store: &dyn Store,
    me: &Identity,
    from: Option<&str>,
    to: Option<&str>,
    now: Timestamp,
) -> Result<TGetStateChangesOutput, RepoError> {
    let fail = |status: IsdsStatus| TGetStateChangesOutput {
        dm_records: None,
        dm_status: dm_status(&status),
    };
    if let Some(refusal) = view_refusal(me) {
        return Ok(fail(refusal));
    }
    let (from, to) = match (parse_time(from), parse_time(to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(status), _) | (_, Err(status)) => return Ok(fail(status)),
    };
    let oldest = now.plus_days(-STATE_CHANGES_DAYS);
    let from = Some(from.map_or(oldest, |f| f.max(oldest)));
    let to = Some(to.unwrap_or(now));
    let mut records = Vec::new();
    let mut sent_by_me: std::collections::HashMap<MessageId, bool> = Default::default();
    for (id, at, state) in messages::repo::state_changes(store, &me.databox.id, from, to)? {
        if !matches!(
            state,
            MessageState::Delivered
                | MessageState::AcceptedByFiction
                | MessageState::AcceptedByLogin
                | MessageState::Undeliverable
        ) {
            continue;
        }
        let mine = match sent_by_me.get(&id) {
            Some(&mine) => mine,
            None => {
                let mine = messages::repo::get_message(store, id)?
                    .is_some_and(|m| m.sender.box_id == me.databox.id);
                sent_by_me.insert(id, mine);
                mine
            }
        };
        if mine {
            records.push(TStateChangesRecord {
                dm_id: id.to_string(),
                dm_event_time: at.to_xml(),
                dm_message_status: i64::from(state.code()),
            });
        }
    }
    Ok(TGetStateChangesOutput {
        dm_records: Some(TStateChangesArray { dm_record: records }),
        dm_status: dm_status(&ok()),
    })
}

// ---------------------------------------------------------------------------
// Notifications for applications

/// Whether software, not a person, is logged in: notifications are offered
/// to applications with certificate access (records-management systems,
/// hosted ones too).
fn is_application(me: &Identity) -> bool {
    matches!(me.actor, Actor::Application | Actor::HostedProvider { .. })
}

/// RegisterForNotifications: `action` 1 registers the caller's box for
/// notifications of delivered messages, 0 cancels the registration.
fn register_notifications(
    store: &dyn Store,
    me: &Identity,
    action: i64,
    now: Timestamp,
) -> Result<IsdsStatus, RepoError> {
    // Messages manual 2.11: certificate logins only, else 1004.
    if !is_application(me) {
        return Ok(IsdsStatus::new(IsdsCode::NotPermitted));
    }
    let on = match action {
        1 => true,
        0 => false,
        other => {
            // Table row 1268 ("action musí být 0 nebo 1, je <action>").
            return Ok(IsdsStatus::fill(
                IsdsCode::NotificationActionInvalid,
                &[&other.to_string()],
            ));
        }
    };
    messages::extras::set_notifications(store, &me.databox.id, on, now)?;
    Ok(ok())
}

/// GetListForNotifications: for a registered box, the messages delivered
/// to it since `ntfFromTime` (and since the registration), oldest first, a
/// page of [`NOTIFICATIONS_PAGE`] at a time. Listing them neither accepts
/// nor marks any message.
fn notifications(
    store: &dyn Store,
    me: &Identity,
    from: &str,
) -> Result<TListForNotifOutput, RepoError> {
    let fail = |status: IsdsStatus| TListForNotifOutput {
        ntf_records: None,
        ntf_list_continues: None,
        dm_status: dm_status(&status),
    };
    // Messages manual 2.12: certificate logins only (1004); a box not
    // registered is 1273.
    if !is_application(me) {
        return Ok(fail(IsdsStatus::new(IsdsCode::NotPermitted)));
    }
    let Some(reg) = messages::extras::notification_registration(store, &me.databox.id)? else {
        return Ok(fail(IsdsStatus::new(IsdsCode::NotificationsNotRegistered)));
    };
    let from = match parse_time(Some(from)) {
        Ok(t) => t.map_or(reg.registered_at, |t| t.max(reg.registered_at)),
        Err(status) => return Ok(fail(status)),
    };
    let q = ListQuery {
        from: Some(from),
        limit: NOTIFICATIONS_PAGE + 1,
        ..ListQuery::all(me.databox.id.clone(), NOTIFICATIONS_PAGE + 1)
    };
    let mut messages = messages::repo::list_received(store, &q)?;
    let continues = messages.len() > NOTIFICATIONS_PAGE;
    messages.truncate(NOTIFICATIONS_PAGE);
    let ntf_record = messages
        .iter()
        .filter_map(|m| {
            let delivered = m.delivery_time?;
            Some(TNtfRecord {
                ntf_type: NTF_DELIVERED,
                dm_id: m.id.to_string(),
                dm_personal_delivery: i64::from(m.envelope.personal_delivery),
                dm_delivery_time: delivered.to_xml(),
                db_id_recipient: m.recipient.box_id.to_string(),
                dm_annotation: m.envelope.annotation.clone(),
                db_id_sender: m.sender.box_id.to_string(),
                dm_sender: m.sender.name.clone(),
            })
        })
        .collect();
    Ok(TListForNotifOutput {
        ntf_records: Some(TNtfRecordsArray { ntf_record }),
        ntf_list_continues: Some(continues),
        dm_status: dm_status(&ok()),
    })
}

// ---------------------------------------------------------------------------
// Erased messages (asynchronous)

/// GetListOfErasedMessages: right 8; the box's sent or received messages
/// whose content was deleted (state 9), delivered within the dates asked
/// (`dmFromDate`..`dmToDate` inclusive, or a year or month; UTC days),
/// as one XML or CSV file in a ZIP archive. ISDS prepares the list
/// asynchronously; the gateway prepares it at once and answers its
/// `asyncID`, so PickUpAsyncResponse finds it ready.
fn erased_list(
    store: &dyn Store,
    me: &Identity,
    req: &TGetListOfErasedInput,
    now: Timestamp,
) -> Result<TGetListOfErasedOutput, RepoError> {
    let fail = |status: IsdsStatus| TGetListOfErasedOutput {
        async_id: None,
        dm_status: dm_status(&status),
    };
    if let Some(refusal) = view_refusal(me) {
        return Ok(fail(refusal));
    }
    let (from, to) = match erased_window(req) {
        Ok(window) => window,
        Err(status) => return Ok(fail(status)),
    };
    // Messages manual 2.8: with M (15) requests of the box already waiting,
    // 3014; the table (row 3014) says to pick up older ones or wait until
    // they are deleted.
    if messages::extras::waiting_async_requests(store, &me.databox.id, now)?
        >= messages::extras::MAX_WAITING_ASYNC_REQUESTS
    {
        return Ok(fail(IsdsStatus::new(IsdsCode::TooManyAsyncRequests)));
    }
    let q = ListQuery {
        from: Some(from),
        to: Some(to),
        state_mask: MessageState::ContentDeleted.filter_bit(),
        ..ListQuery::all(me.databox.id.clone(), MAX_ERASED)
    };
    let sent = req.dm_message_type == "SENT";
    let messages = if sent {
        messages::repo::list_sent(store, &q)?
    } else {
        messages::repo::list_received(store, &q)?
    };
    let csv = req.dm_out_format == "CSV";
    let (name, content) = if csv {
        ("erased-messages.csv", erased_csv(&messages))
    } else {
        ("erased-messages.xml", erased_xml(&messages))
    };
    let zip = zip_stored(name, content.as_bytes(), now);
    let id = messages::extras::put_async_response(
        store,
        &AsyncRequest {
            box_id: me.databox.id.clone(),
            req_type: ASYNC_LIST_ERASED.to_owned(),
            requested_at: now,
            picked_up_at: None,
        },
        zip,
    )?;
    Ok(TGetListOfErasedOutput {
        async_id: Some(id.to_string()),
        dm_status: dm_status(&ok()),
    })
}

/// The first and last microsecond of the period a list of erased messages
/// asks for.
fn erased_window(req: &TGetListOfErasedInput) -> Result<(Timestamp, Timestamp), IsdsStatus> {
    use time::{Date, Month};
    // The dates are Czech days (ISDS's local time, messages manual 1.3.2).
    let day_start =
        |d: Date| Timestamp::from_datetime(crate::domain::clock::czech_time::day_start(d));
    let parse_date = |name: &str, s: &str| {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        // xs:date may carry a zone; the gateway counts Czech days.
        let core = s.trim().get(..10).unwrap_or(s);
        Date::parse(core, &format).map_err(|_| {
            let _ = name;
            IsdsStatus::fill(IsdsCode::InvalidDateTime, &[s.trim()])
        })
    };
    let (first, last) = if let Some(seq) = &req.dm_from_date_seq {
        (
            parse_date("dmFromDate", &seq.dm_from_date)?,
            parse_date("dmToDate", &seq.dm_to_date)?,
        )
    } else if let Some(seq) = &req.dm_year_seq {
        let year = i32::try_from(seq.dm_year)
            .ok()
            .filter(|y| (1..=9999).contains(y))
            .ok_or_else(|| bad_parameter("dmYear"))?;
        let month = |m: i64| {
            u8::try_from(m)
                .ok()
                .and_then(|m| Month::try_from(m).ok())
                .ok_or_else(|| bad_parameter("dmMonth"))
        };
        let (first_month, last_month) = match seq.dm_month {
            Some(m) => (month(m)?, month(m)?),
            None => (Month::January, Month::December),
        };
        let first =
            Date::from_calendar_date(year, first_month, 1).map_err(|_| bad_parameter("dmYear"))?;
        let last_start =
            Date::from_calendar_date(year, last_month, 1).map_err(|_| bad_parameter("dmYear"))?;
        let last = last_start
            .replace_day(last_month.length(year))
            .map_err(|_| bad_parameter("dmYear"))?;
        (first, last)
    } else {
        return Err(bad_parameter("dmFromDate"));
    };
    if last < first {
        return Err(bad_parameter("dmToDate"));
    }
    let end = last
        .next_day()
        .map_or(Timestamp(i64::MAX), |d| day_start(d).plus_micros(-1));
    Ok((day_start(first), end))
}

/// The columns of a list of erased messages, in order.
const ERASED_COLUMNS: [&str; 9] = [
    "dmID",
    "dbIDSender",
    "dmSender",
    "dbIDRecipient",
    "dmRecipient",
    "dmAnnotation",
    "dmMessageStatus",
    "dmDeliveryTime",
    "dmAcceptanceTime",
];

fn erased_values(m: &Message) -> [String; 9] {
    [
        m.id.to_string(),
        m.sender.box_id.to_string(),
        m.sender.name.clone(),
        m.recipient.box_id.to_string(),
        m.recipient.name.clone(),
        m.envelope.annotation.clone(),
        m.state.code().to_string(),
        m.delivery_time.map(Timestamp::to_xml).unwrap_or_default(),
        m.acceptance_time.map(Timestamp::to_xml).unwrap_or_default(),
    ]
}

/// The list as XML: `dmRecords` with one `dmRecord` per message, in the
/// ISDS namespace with prefix `q` and `xsi` declared, as the real list
/// ISDS delivers.
fn erased_xml(messages: &[Message]) -> String {
    let mut w = crate::xml::XmlWriter::new();
    w.declaration();
    w.set_prefixing(crate::schema::isds_prefixing("q"));
    w.pending_attr("xmlns:q", crate::schema::ISDS_NS);
    w.pending_attr("xmlns:xsi", crate::xml::XSI_NS);
    w.start("dmRecords");
    for m in messages {
        w.start("dmRecord");
        for (name, value) in ERASED_COLUMNS.iter().zip(erased_values(m)) {
            if !value.is_empty() {
                w.text_element(name, &value);
            }
        }
        w.end("dmRecord");
    }
    w.end("dmRecords");
    w.into_string()
}

/// The list as CSV (RFC 4180): a header line, then one line per message.
fn erased_csv(messages: &[Message]) -> String {
    fn field(out: &mut String, value: &str) {
        if value.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&value.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(value);
        }
    }
    let mut out = ERASED_COLUMNS.join(",");
    out.push_str("\r\n");
    for m in messages {
        for (i, value) in erased_values(m).iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            field(&mut out, value);
        }
        out.push_str("\r\n");
    }
    out
}

/// CRC-32 (IEEE 802.3, as ZIP uses it).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A ZIP archive holding one file, stored (method 0), with a UTF-8 name.
pub fn zip_stored(name: &str, data: &[u8], at: Timestamp) -> Vec<u8> {
    // DOS times are local: Czech time, like every ISDS time.
    let t = crate::domain::clock::czech_time::to_czech(at.to_datetime());
    let dos_time =
        (u16::from(t.hour()) << 11) | (u16::from(t.minute()) << 5) | u16::from(t.second() / 2);
    let year = u16::try_from(t.year() - 1980).unwrap_or(0).min(127);
    let dos_date = (year << 9) | (u16::from(u8::from(t.month())) << 5) | u16::from(t.day());
    let crc = crc32(data);
    let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
    let name = &name.as_bytes()[..usize::from(name_len)];
    const UTF8_NAMES: u16 = 1 << 11;

    let mut out = Vec::with_capacity(data.len() + 2 * name.len() + 100);
    let common = |out: &mut Vec<u8>| {
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed: 2.0
        out.extend_from_slice(&UTF8_NAMES.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // stored
        out.extend_from_slice(&dos_time.to_le_bytes());
        out.extend_from_slice(&dos_date.to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes()); // compressed size
        out.extend_from_slice(&size.to_le_bytes()); // uncompressed size
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // extra field length
    };
    // Local file header and data.
    out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    common(&mut out);
    out.extend_from_slice(name);
    out.extend_from_slice(data);
    // Central directory.
    let cd_offset = u32::try_from(out.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    out.extend_from_slice(&20u16.to_le_bytes()); // version made by
    common(&mut out);
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    out.extend_from_slice(&0u16.to_le_bytes()); // disk number
    out.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
    out.extend_from_slice(&0u32.to_le_bytes()); // external attributes
    out.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    out.extend_from_slice(name);
    let cd_size = u32::try_from(out.len()).unwrap_or(u32::MAX) - cd_offset;
    // End of central directory.
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// PickUpAsyncResponse: the finished response of the caller's box's
/// asynchronous request. `asyncReqType` must name the request's type
/// (`LIST_ERASED`; the operation name `GetListOfErasedMessages` is taken
/// too). A response is kept 15 days, or one day after it was first picked
/// up; the request is forgotten after 90 days (WS_manipulace_s_datovymi_
/// zpravami, chapter 2.9).
fn pick_up(
    store: &dyn Store,
    me: &Identity,
    async_id: &str,
    req_type: &str,
    now: Timestamp,
) -> Result<TPickUpAsyncOutput, RepoError> {
    let fail = |status: IsdsStatus| TPickUpAsyncOutput {
        async_req_type: None,
        async_response: None,
        dm_status: dm_status(&status),
    };
    // PRIVIL_VIEW_INFO for LIST_ERASED (messages manual 2.9); table rows
    // 2350 (unknown type) and 2351 (no such request of this user).
    if let Some(refusal) = view_refusal(me) {
        return Ok(fail(refusal));
    }
    let unknown = || {
        fail(IsdsStatus::fill(
            IsdsCode::AsyncRequestNotFound,
            &[async_id.trim()],
        ))
    };
    let Ok(id) = async_id.trim().parse::<u64>() else {
        return Ok(unknown());
    };
    let (request, payload) = match messages::extras::pick_up_async_response(store, id, now)? {
        messages::extras::AsyncPickUp::Unknown => return Ok(unknown()),
        messages::extras::AsyncPickUp::Deleted(request) if request.box_id == me.databox.id => {
            // Responses are kept 15 days, or one day after they were
            // picked up (messages manual 2.9).
            return Ok(fail(IsdsStatus::new(IsdsCode::AsyncResponseDeleted)));
        }
        messages::extras::AsyncPickUp::Deleted(_) => return Ok(unknown()),
        messages::extras::AsyncPickUp::Ready(request, payload) => (request, payload),
    };
    if request.box_id != me.databox.id {
        return Ok(unknown());
    }
    let wanted = req_type.trim();
    let matches = wanted.eq_ignore_ascii_case(&request.req_type)
        || (request.req_type == ASYNC_LIST_ERASED && wanted == "GetListOfErasedMessages");
    if !matches {
        return Ok(fail(IsdsStatus::fill(
            IsdsCode::AsyncTypeUnknown,
            &[wanted],
        )));
    }
    Ok(TPickUpAsyncOutput {
        async_req_type: Some(request.req_type),
        async_response: Some(Bytes::from(payload)),
        dm_status: dm_status(&ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filters() {
        assert_eq!(parse_status_filter("-1"), Some(0x7FE));
        assert_eq!(parse_status_filter("2046"), Some(0x7FE));
        assert_eq!(parse_status_filter(" 16 "), Some(16));
        assert_eq!(parse_status_filter("144"), Some(144));
        assert_eq!(parse_status_filter("0"), Some(0x7FE));
        assert_eq!(parse_status_filter("1"), Some(0x7FE));
        assert_eq!(parse_status_filter("4095"), Some(0x7FE));
        assert_eq!(parse_status_filter("-2"), None);
        assert_eq!(parse_status_filter("all"), None);
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn zip_has_one_stored_file() {
        let zip = zip_stored(
            "a.xml",
            b"<x/>",
            Timestamp::from_unix_seconds(1_780_000_000),
        );
        assert_eq!(&zip[..4], b"PK\x03\x04");
        assert_eq!(&zip[30..35], b"a.xml");
        assert_eq!(&zip[35..39], b"<x/>");
        let eocd = zip.len() - 22;
        assert_eq!(&zip[eocd..eocd + 4], b"PK\x05\x06");
    }

    #[test]
    fn erased_lists_in_csv_and_xml() {
        let mut m = crate::domain::messages::message::tests::sample(10_000_001);
        m.envelope.annotation = "Výzva, \"naléhavá\"".into();
        let csv = erased_csv(std::slice::from_ref(&m));
        let mut lines = csv.split("\r\n");
        assert_eq!(lines.next(), Some(ERASED_COLUMNS.join(",").as_str()));
        let row = lines.next().unwrap();
        assert!(row.starts_with("10000001,ovm4dem,"), "{row}");
        assert!(row.contains(",\"Výzva, \"\"naléhavá\"\"\","), "{row}");
        let xml = erased_xml(&[m]);
        assert!(
            xml.contains("<q:dmRecord><q:dmID>10000001</q:dmID>"),
            "{xml}"
        );
        assert!(!xml.contains("dmAcceptanceTime"), "{xml}");
    }
}
