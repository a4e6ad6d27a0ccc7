//! What the reading side of the message services keeps besides the messages
//! themselves: boxes registered for notifications, the results of
//! asynchronous requests waiting to be picked up, and reports of suspicious
//! messages.
//!
//! Layout (tree: key → value):
//! - `ntf_registrations`: box ID → [`NotificationRegistration`] (JSON)
//! - `async_requests`: async ID (8 bytes big-endian) → [`AsyncRequest`] (JSON)
//! - `async_payloads`: async ID → the finished response's bytes
//! - `susp_reports`: message ID ++ report time → [`SuspiciousReport`] (JSON)

use serde::{Deserialize, Serialize};

use crate::domain::boxes::databox::BoxId;
use crate::domain::boxes::repo::RepoError;
use crate::domain::boxes::user::UserId;
use crate::domain::messages::message::{MessageId, Timestamp};
use crate::store::{Batch, KeyRange, Order, Store};

const NTF_REGISTRATIONS: &str = "ntf_registrations";
const ASYNC_REQUESTS: &str = "async_requests";
const ASYNC_PAYLOADS: &str = "async_payloads";
const SUSP_REPORTS: &str = "susp_reports";

/// The store sequence asynchronous request IDs come from.
const ASYNC_ID_SEQUENCE: &str = "async_id";

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain structs with string keys: serialising cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: for<'de> Deserialize<'de>>(what: String, bytes: &[u8]) -> Result<T, RepoError> {
    serde_json::from_slice(bytes).map_err(|source| RepoError::Corrupt { what, source })
}

/// A box's registration for notifications of delivered messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRegistration {
    pub registered_at: Timestamp,
}

/// Registers `box_id` for notifications (`on`) or cancels its registration.
pub fn set_notifications(
    store: &dyn Store,
    box_id: &BoxId,
    on: bool,
    at: Timestamp,
) -> Result<(), RepoError> {
    let mut batch = Batch::new();
    if on {
        let reg = NotificationRegistration { registered_at: at };
        batch.put(NTF_REGISTRATIONS, box_id.as_str(), encode(&reg));
    } else {
        batch.delete(NTF_REGISTRATIONS, box_id.as_str());
    }
    store.apply_durable(batch)?;
    Ok(())
}

/// The box's registration for notifications, if it has one.
pub fn notification_registration(
    store: &dyn Store,
    box_id: &BoxId,
) -> Result<Option<NotificationRegistration>, RepoError> {
    match store
        .tree(NTF_REGISTRATIONS)?
        .get(box_id.as_str().as_bytes())?
    {
        Some(bytes) => Ok(Some(decode(
            format!("notification registration of {box_id}"),
            &bytes,
        )?)),
        None => Ok(None),
    }
}

/// An asynchronous request and who may pick up its response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsyncRequest {
    /// The box whose users may pick the response up.
    pub box_id: BoxId,
    /// The request type the client names when picking up, e.g. `LIST_ERASED`.
    pub req_type: String,
    pub requested_at: Timestamp,
    /// When the response was first picked up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picked_up_at: Option<Timestamp>,
}

// How long asynchronous requests are kept, as ISDS keeps them
// (WS_manipulace_s_datovymi_zpravami, chapter 2.9, PickUpAsyncResponse).
/// A response that was picked up is deleted one day later.
const PICKED_UP_RESPONSE_DAYS: i64 = 1;
/// A response never picked up is deleted 15 days after the request.
const UNPICKED_RESPONSE_DAYS: i64 = 15;
/// The request itself is forgotten 90 days after it was made.
const REQUEST_RECORD_DAYS: i64 = 90;

impl AsyncRequest {
    /// Whether the request is forgotten at `now`.
    fn forgotten(&self, now: Timestamp) -> bool {
        self.requested_at.plus_days(REQUEST_RECORD_DAYS) < now
    }

    /// Whether the response is deleted at `now`.
    fn response_deleted(&self, now: Timestamp) -> bool {
        self.requested_at.plus_days(UNPICKED_RESPONSE_DAYS) < now
            || self
                .picked_up_at
                .is_some_and(|at| at.plus_days(PICKED_UP_RESPONSE_DAYS) < now)
    }
}

/// What picking up an asynchronous response finds.
#[derive(Debug, PartialEq, Eq)]
pub enum AsyncPickUp {
    /// No such request (or forgotten).
    Unknown,
    /// The request is known, its response deleted.
    Deleted(AsyncRequest),
    /// The response.
    Ready(AsyncRequest, Vec<u8>),
}

/// Picks up the response of request `id` at `now`, noting the first pick-up
/// (best effort: a full disk must not stop a read).
pub fn pick_up_async_response(
    store: &dyn Store,
    id: u64,
    now: Timestamp,
) -> Result<AsyncPickUp, RepoError> {
    let Some((mut request, payload)) = get_async_response(store, id)? else {
        return Ok(AsyncPickUp::Unknown);
    };
    if request.forgotten(now) {
        return Ok(AsyncPickUp::Unknown);
    }
    if request.response_deleted(now) {
        return Ok(AsyncPickUp::Deleted(request));
    }
    if request.picked_up_at.is_none() {
        request.picked_up_at = Some(now);
        let mut batch = Batch::new();
        batch.put(ASYNC_REQUESTS, id.to_be_bytes(), encode(&request));
        if let Err(err) = store.apply(batch) {
            tracing::warn!(error = %err, id, "cannot note the pick-up of an asynchronous response");
        }
    }
    Ok(AsyncPickUp::Ready(request, payload))
}

/// Deletes the responses and requests that have expired at `now`, so what
/// asynchronous requests keep stays bounded.
fn expire_async(store: &dyn Store, now: Timestamp, batch: &mut Batch) -> Result<(), RepoError> {
    for entry in store
        .tree(ASYNC_REQUESTS)?
        .iter(KeyRange::all(), Order::Ascending)
    {
        let (key, value) = entry?;
        let Ok(request) = serde_json::from_slice::<AsyncRequest>(&value) else {
            continue;
        };
        if request.forgotten(now) {
            batch.delete(ASYNC_REQUESTS, key.clone());
            batch.delete(ASYNC_PAYLOADS, key);
        } else if request.response_deleted(now) {
            batch.delete(ASYNC_PAYLOADS, key);
        }
    }
    Ok(())
}

/// Most asynchronous requests one box may have waiting (made, response
/// neither picked up nor deleted yet): the messages manual (2.8,
/// GetListOfErasedMessages) puts M = 15 and answers 3014 beyond it.
pub const MAX_WAITING_ASYNC_REQUESTS: usize = 15;

/// How many asynchronous requests of `box_id` wait at `now` for their
/// response to be picked up.
pub fn waiting_async_requests(
    store: &dyn Store,
    box_id: &BoxId,
    now: Timestamp,
) -> Result<usize, RepoError> {
    let mut waiting = 0;
    for entry in store
        .tree(ASYNC_REQUESTS)?
        .iter(KeyRange::all(), Order::Ascending)
    {
        let (_, value) = entry?;
        let Ok(request) = serde_json::from_slice::<AsyncRequest>(&value) else {
            continue;
        };
        if request.box_id == *box_id
            && request.picked_up_at.is_none()
            && !request.response_deleted(now)
        {
            waiting += 1;
        }
    }
    Ok(waiting)
}

/// Stores the finished response of an asynchronous request and returns the
/// request's ID (`asyncID`), durable before it is returned.
pub fn put_async_response(
    store: &dyn Store,
    request: &AsyncRequest,
    payload: Vec<u8>,
) -> Result<u64, RepoError> {
    let id = store.next_id(ASYNC_ID_SEQUENCE)?;
    let mut batch = Batch::new();
    expire_async(store, request.requested_at, &mut batch)?;
    batch.put(ASYNC_REQUESTS, id.to_be_bytes(), encode(request));
    batch.put(ASYNC_PAYLOADS, id.to_be_bytes(), payload);
    store.apply_durable(batch)?;
    Ok(id)
}

/// An asynchronous request and its finished response, if the ID is known.
pub fn get_async_response(
    store: &dyn Store,
    id: u64,
) -> Result<Option<(AsyncRequest, Vec<u8>)>, RepoError> {
    let Some(meta) = store.tree(ASYNC_REQUESTS)?.get(&id.to_be_bytes())? else {
        return Ok(None);
    };
    let request: AsyncRequest = decode(format!("asynchronous request {id}"), &meta)?;
    let payload = store
        .tree(ASYNC_PAYLOADS)?
        .get(&id.to_be_bytes())?
        .unwrap_or_default();
    Ok(Some((request, payload)))
}

/// A user's report that a received message looks suspicious
/// (SuspMessageReport).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspiciousReport {
    pub message: MessageId,
    pub box_id: BoxId,
    pub user_id: UserId,
    pub reported_at: Timestamp,
    pub name: Option<String>,
    pub mail: Option<String>,
    pub tel: Option<String>,
    /// The reporter allows ISDS to complete the message's investigation
    /// with its content.
    pub allow_complete: bool,
    pub note: Option<String>,
}

/// Records a report durably.
pub fn add_suspicious_report(
    store: &dyn Store,
    report: &SuspiciousReport,
) -> Result<(), RepoError> {
    let key = [report.message.key(), report.reported_at.key()].concat();
    let mut batch = Batch::new();
    batch.put(SUSP_REPORTS, key, encode(report));
    store.apply_durable(batch)?;
    Ok(())
}

/// The reports on one message, oldest first.
pub fn suspicious_reports(
    store: &dyn Store,
    message: MessageId,
) -> Result<Vec<SuspiciousReport>, RepoError> {
    let mut out = Vec::new();
    for entry in store
        .tree(SUSP_REPORTS)?
        .iter(KeyRange::prefix(&message.key()), Order::Ascending)
    {
        let (_, value) = entry?;
        out.push(decode(format!("report on message {message}"), &value)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::open_memory;

    #[test]
    fn notification_registrations_come_and_go() {
        let store = open_memory();
        let s = store.as_ref();
        let b = BoxId::parse("ovm4dem").unwrap();
        assert_eq!(notification_registration(s, &b).unwrap(), None);
        set_notifications(s, &b, true, Timestamp(5)).unwrap();
        assert_eq!(
            notification_registration(s, &b).unwrap(),
            Some(NotificationRegistration {
                registered_at: Timestamp(5)
            })
        );
        set_notifications(s, &b, false, Timestamp(6)).unwrap();
        assert_eq!(notification_registration(s, &b).unwrap(), None);
    }

    #[test]
    fn async_responses_are_kept_by_id() {
        let store = open_memory();
        let s = store.as_ref();
        let req = AsyncRequest {
            box_id: BoxId::parse("po4demo").unwrap(),
            req_type: "LIST_ERASED".into(),
            requested_at: Timestamp(1),
            picked_up_at: None,
        };
        let a = put_async_response(s, &req, b"zip".to_vec()).unwrap();
        let b = put_async_response(s, &req, Vec::new()).unwrap();
        assert_ne!(a, b);
        assert_eq!(
            get_async_response(s, a).unwrap(),
            Some((req.clone(), b"zip".to_vec()))
        );
        assert_eq!(get_async_response(s, b).unwrap(), Some((req, Vec::new())));
        assert_eq!(get_async_response(s, 999).unwrap(), None);
    }

    #[test]
    fn async_responses_expire_as_in_isds() {
        let store = open_memory();
        let s = store.as_ref();
        let day = Timestamp(0).plus_days(1).0;
        let req = |at: i64| AsyncRequest {
            box_id: BoxId::parse("po4demo").unwrap(),
            req_type: "LIST_ERASED".into(),
            requested_at: Timestamp(at),
            picked_up_at: None,
        };
        let picked = put_async_response(s, &req(0), b"a".to_vec()).unwrap();
        let unpicked = put_async_response(s, &req(0), b"b".to_vec()).unwrap();
        let ready = |p| matches!(p, AsyncPickUp::Ready(_, ref bytes) if !bytes.is_empty());
        assert!(ready(
            pick_up_async_response(s, picked, Timestamp(day / 2)).unwrap()
        ));
        // Picked up: kept one more day; never picked up: 15 days.
        assert!(ready(
            pick_up_async_response(s, picked, Timestamp(day)).unwrap()
        ));
        let later = Timestamp(2 * day);
        assert!(matches!(
            pick_up_async_response(s, picked, later).unwrap(),
            AsyncPickUp::Deleted(_)
        ));
        assert!(ready(
            pick_up_async_response(s, unpicked, Timestamp(14 * day)).unwrap()
        ));
        // A new request deletes what expired; after 90 days nothing is known.
        put_async_response(s, &req(16 * day), Vec::new()).unwrap();
        assert_eq!(
            get_async_response(s, picked).unwrap().unwrap().1,
            Vec::<u8>::new()
        );
        put_async_response(s, &req(91 * day), Vec::new()).unwrap();
        assert_eq!(get_async_response(s, picked).unwrap(), None);
        assert_eq!(
            pick_up_async_response(s, unpicked, Timestamp(91 * day)).unwrap(),
            AsyncPickUp::Unknown
        );
    }

    #[test]
    fn reports_are_kept_per_message() {
        let store = open_memory();
        let s = store.as_ref();
        let report = SuspiciousReport {
            message: MessageId(10_000_001),
            box_id: BoxId::parse("po4demo").unwrap(),
            user_id: UserId::parse("popu01").unwrap(),
            reported_at: Timestamp(7),
            name: Some("Petr Novák".into()),
            mail: None,
            tel: None,
            allow_complete: true,
            note: Some("phishing".into()),
        };
        add_suspicious_report(s, &report).unwrap();
        assert_eq!(
            suspicious_reports(s, MessageId(10_000_001)).unwrap(),
            vec![report]
        );
        assert!(
            suspicious_reports(s, MessageId(10_000_002))
                .unwrap()
                .is_empty()
        );
    }
}
