//! Advice on a client's behaviour: the gateway watches each login's SOAP
//! calls and names what the operator's manuals ask clients not to do.
//! Real ISDS punishes these silently (restricted mode, blocked accounts,
//! messages never listed); the gateway only counts and explains them.
//!
//! Every advisory cites where the manuals say so:
//! - `doporuceni_pouzivani_WS` ("Doporučené způsoby volání webových
//!   služeb", version 2.0), chapters 1.1 (received mail) and 1.2 (sent
//!   mail);
//! - `WS_manipulace_s_datovymi_zpravami` (the messages manual), chapters
//!   1.9.1 (parallel requests), 2.4.1/2.4.2 (downloads: 1219, 1222), 2.7.1
//!   (lists: overlapping windows, `dmOffset`, a full page);
//! - `ISDS_OTP_autentizace` chapter 2.2.1.2 (the `paswordExpired`
//!   refusal). No manual states how often a refused login may be retried;
//!   the gateway counts three refusals in a row as a loop (its choice).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use super::Exchange;
use super::traffic::{count_elements, leaf, leaves};
use crate::domain::messages::message::Timestamp;

/// The kinds of advisory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    ListWindowGap,
    ListWindowWithoutOverlap,
    ListRepeatedFromStart,
    OffsetPaging,
    FullPageReturned,
    SentStatePolling,
    DownloadAfter1219,
    DownloadBeforeDelivery1222,
    RepeatedDownload,
    ParallelOverLimit,
    ExpiredPasswordLoop,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::ListWindowGap,
        Kind::ListWindowWithoutOverlap,
        Kind::ListRepeatedFromStart,
        Kind::OffsetPaging,
        Kind::FullPageReturned,
        Kind::SentStatePolling,
        Kind::DownloadAfter1219,
        Kind::DownloadBeforeDelivery1222,
        Kind::RepeatedDownload,
        Kind::ParallelOverLimit,
        Kind::ExpiredPasswordLoop,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::ListWindowGap => "list_window_gap",
            Kind::ListWindowWithoutOverlap => "list_window_without_overlap",
            Kind::ListRepeatedFromStart => "list_repeated_from_start",
            Kind::OffsetPaging => "offset_paging",
            Kind::FullPageReturned => "full_page_returned",
            Kind::SentStatePolling => "sent_state_polling",
            Kind::DownloadAfter1219 => "download_after_1219",
            Kind::DownloadBeforeDelivery1222 => "download_before_delivery_1222",
            Kind::RepeatedDownload => "repeated_download",
            Kind::ParallelOverLimit => "parallel_over_limit",
            Kind::ExpiredPasswordLoop => "expired_password_loop",
        }
    }

    /// What the client did and why it matters, in a sentence or two.
    pub fn explanation(self) -> &'static str {
        match self {
            Kind::ListWindowGap => {
                "A list window started after the previous one ended: messages delivered in between are never listed."
            }
            Kind::ListWindowWithoutOverlap => {
                "A list window reaching up to the present was followed by one starting exactly at its end: a message delivered at that moment can be missed by both. The manual asks for windows that overlap by about a minute."
            }
            Kind::ListRepeatedFromStart => {
                "The same list was fetched again from the same start instead of from where the last one ended: the whole history is listed again and again."
            }
            Kind::OffsetPaging => {
                "dmOffset was used to page through a list; the manual says offsets slow the answer down and asks for a narrower time interval instead."
            }
            Kind::FullPageReturned => {
                "A list answer held as many records as the limit: more may exist. The manual asks to narrow the interval rather than to page."
            }
            Kind::SentStatePolling => {
                "The delivery state of sent messages was asked for again within a day; the recommendation is at most once a day (and GetDeliveryInfo for single old messages)."
            }
            Kind::DownloadAfter1219 => {
                "A message whose content was deleted (1219) was downloaded again; the manual says retrying is pointless and may count as excessive activity."
            }
            Kind::DownloadBeforeDelivery1222 => {
                "A received message was downloaded before it was delivered (1222): list the received messages first, which delivers them."
            }
            Kind::RepeatedDownload => {
                "The content of the same message was downloaded more than once; the recommendation is to download each message once and keep it."
            }
            Kind::ParallelOverLimit => {
                "More monitored calls (downloads and lists) ran at once for one account than the limit; ISDS refuses the excess with 3008."
            }
            Kind::ExpiredPasswordLoop => {
                "The client keeps calling with an expired password; every call is refused until the password is changed."
            }
        }
    }

    /// Where the manuals say so.
    pub fn citation(self) -> &'static str {
        match self {
            Kind::ListWindowGap => {
                "doporuceni_pouzivani_WS 1.1 (2); WS_manipulace_s_datovymi_zpravami 2.7.1"
            }
            Kind::ListWindowWithoutOverlap => "WS_manipulace_s_datovymi_zpravami 2.7.1",
            Kind::ListRepeatedFromStart => {
                "doporuceni_pouzivani_WS 1 (example 1), 1.1 (1-2), 1.2 (1)"
            }
            Kind::OffsetPaging | Kind::FullPageReturned => {
                "WS_manipulace_s_datovymi_zpravami 2.7.1"
            }
            Kind::SentStatePolling => "doporuceni_pouzivani_WS 1.2 (2, 5)",
            Kind::DownloadAfter1219 | Kind::DownloadBeforeDelivery1222 => {
                "WS_manipulace_s_datovymi_zpravami 2.4.1, 2.4.2"
            }
            Kind::RepeatedDownload => "doporuceni_pouzivani_WS 1 (example 2), 1.1 (3)",
            Kind::ParallelOverLimit => "WS_manipulace_s_datovymi_zpravami 1.9.1",
            Kind::ExpiredPasswordLoop => "ISDS_OTP_autentizace 2.2.1.2 (paswordExpired)",
        }
    }
}

/// One kind of advisory with its counts and an example exchange.
#[derive(Debug, Clone, Serialize)]
pub struct Advisory {
    pub kind: Kind,
    pub explanation: &'static str,
    pub manual: &'static str,
    pub count: u64,
    /// How often each login did it.
    pub logins: BTreeMap<String, u64>,
    pub example: Example,
}

/// The exchange that last raised an advisory.
#[derive(Debug, Clone, Serialize)]
pub struct Example {
    pub exchange: u64,
    pub login: String,
    pub operation: String,
    pub detail: String,
}

/// A list call's time window (microsecond timestamps; `None`: open).
#[derive(Debug, Clone, Copy)]
struct Window {
    from: Option<i64>,
    to: Option<i64>,
    /// Gateway time of the call, Unix seconds.
    at: i64,
}

/// What the advisor remembers of one login.
#[derive(Debug, Default)]
struct LoginState {
    last_window: HashMap<String, Window>,
    /// Sent-state checks per message: last time asked (Unix seconds).
    state_checks: HashMap<String, i64>,
    downloaded: HashSet<String>,
    deleted_1219: HashSet<String>,
    expired_streak: u32,
    /// End times of the monitored calls still counted as running.
    running: Vec<std::time::Instant>,
}

/// The most messages remembered per login (older ones are forgotten).
const REMEMBERED: usize = 10_000;
/// A list window "reaches the present" when it ends this close to the
/// gateway's time of the call (seconds).
const PRESENT: i64 = 60;
/// A day, in seconds: how often sent-message state may be asked.
const DAY: i64 = 86_400;
/// Refusals for an expired password in a row that make a loop.
const EXPIRED_LOOP: u32 = 3;
/// The calls ISDS counts as parallel (manual chapter 1.9.1).
const MONITORED: &[&str] = &[
    "SignedMessageDownload",
    "SignedSentMessageDownload",
    "MessageDownload",
    "GetListOfSentMessages",
    "GetListOfReceivedMessages",
];
const DOWNLOADS: &[&str] = &[
    "MessageDownload",
    "SignedMessageDownload",
    "SignedSentMessageDownload",
];

struct Raised {
    kind: Kind,
    count: u64,
    logins: BTreeMap<String, u64>,
    example: Example,
    exchange: Arc<Exchange>,
}

/// The `X-Response-message-code` of a refusal for an expired password.
const PASSWORD_EXPIRED: &str = "authentication.error.paswordExpired";

/// The operations whose requests the advisor reads.
fn is_advised(op: &str) -> bool {
    matches!(
        op,
        "GetListOfReceivedMessages"
            | "GetListOfSentMessages"
            | "GetDeliveryInfo"
            | "GetSignedDeliveryInfo"
    ) || DOWNLOADS.contains(&op)
}

/// Whether an exchange can change what the advisor knows or says, so
/// that the caller need not take the advisor's lock for the others (most
/// calls: DummyOperation, searches, sends). `streaks_open`: whether some
/// login has refusals for an expired password in a row on record
/// ([`Advisor::streaks_open`]), which any answer other than a 401 ends.
/// Such an exchange is exactly one for which [`Advisor::look`] would
/// change nothing but create an empty record of its login.
pub fn concerns(
    operation: Option<&str>,
    http_status: u16,
    auth_failure: Option<&str>,
    streaks_open: bool,
) -> bool {
    let op = operation.unwrap_or("");
    auth_failure == Some(PASSWORD_EXPIRED)
        || (http_status != 401 && streaks_open)
        || MONITORED.contains(&op)
        || is_advised(op)
}

/// Watches exchanges and keeps the advisories.
pub struct Advisor {
    max_parallel: usize,
    logins: HashMap<String, LoginState>,
    raised: BTreeMap<Kind, Raised>,
    /// Logins whose `expired_streak` is above zero.
    open_streaks: usize,
}

impl Advisor {
    pub fn new(max_parallel: usize) -> Self {
        Advisor {
            max_parallel: max_parallel.max(1),
            logins: HashMap::new(),
            raised: BTreeMap::new(),
            open_streaks: 0,
        }
    }

    /// Whether some login has refusals for an expired password in a row
    /// on record (see [`concerns`]).
    pub fn streaks_open(&self) -> bool {
        self.open_streaks > 0
    }

    /// Looks at one exchange; returns the kinds it raised.
    pub fn look(&mut self, ex: &Arc<Exchange>) -> Vec<Kind> {
        let Some(login) = ex.login.as_deref() else {
            return Vec::new();
        };
        let op = ex.operation.as_deref().unwrap_or("");
        let mut found: Vec<(Kind, String)> = Vec::new();
        // The login is copied only the first time it is seen.
        if !self.logins.contains_key(login) {
            self.logins.insert(login.to_owned(), LoginState::default());
        }
        let Some(state) = self.logins.get_mut(login) else {
            return Vec::new();
        };

        let streak_was_open = state.expired_streak > 0;
        if ex.auth_failure.as_deref() == Some(PASSWORD_EXPIRED) {
            state.expired_streak += 1;
            if state.expired_streak >= EXPIRED_LOOP {
                found.push((
                    Kind::ExpiredPasswordLoop,
                    format!("{} refusals in a row", state.expired_streak),
                ));
            }
        } else if ex.http_status != 401 {
            state.expired_streak = 0;
        }
        match (streak_was_open, state.expired_streak > 0) {
            (false, true) => self.open_streaks += 1,
            (true, false) => self.open_streaks = self.open_streaks.saturating_sub(1),
            _ => {}
        }

        if MONITORED.contains(&op) {
            state.running.retain(|end| *end > ex.started);
            state.running.push(ex.finished);
            if state.running.len() > self.max_parallel
                || matches!(ex.isds_status.as_deref(), Some("3008") | Some("3009"))
            {
                found.push((
                    Kind::ParallelOverLimit,
                    format!(
                        "{} monitored calls at once (limit {})",
                        state.running.len(),
                        self.max_parallel
                    ),
                ));
            }
        }

        // Only the operations advised on are read (DummyOperation and the
        // like cost nothing here).
        let request = match (&ex.request, is_advised(op)) {
            (Some(body), true) => leaves(body),
            _ => Vec::new(),
        };
        let status = ex.isds_status.as_deref().unwrap_or("");
        match op {
            "GetListOfReceivedMessages" | "GetListOfSentMessages" => {
                list_call(state, ex, op, &request, &mut found);
            }
            "GetDeliveryInfo" | "GetSignedDeliveryInfo" => {
                if let Some(id) = leaf(&request, "dmID") {
                    if let Some(last) = state.state_checks.get(id)
                        && ex.at - last < DAY
                    {
                        found.push((
                            Kind::SentStatePolling,
                            format!("{op} of message {id} again after {} s", ex.at - last),
                        ));
                    }
                    if state.state_checks.len() < REMEMBERED {
                        state.state_checks.insert(id.to_owned(), ex.at);
                    }
                }
            }
            _ if DOWNLOADS.contains(&op) => {
                if let Some(id) = leaf(&request, "dmID") {
                    if state.deleted_1219.contains(id) {
                        found.push((
                            Kind::DownloadAfter1219,
                            format!("{op} of message {id}, deleted (1219) before"),
                        ));
                    }
                    match status {
                        "1219" if state.deleted_1219.len() < REMEMBERED => {
                            state.deleted_1219.insert(id.to_owned());
                        }
                        "1222" => found.push((
                            Kind::DownloadBeforeDelivery1222,
                            format!("{op} of message {id} answered 1222"),
                        )),
                        "0000" => {
                            if !state.downloaded.insert(id.to_owned()) {
                                found.push((
                                    Kind::RepeatedDownload,
                                    format!("{op} of message {id} again"),
                                ));
                            }
                            if state.downloaded.len() > REMEMBERED {
                                state.downloaded.clear();
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }

        let mut kinds = Vec::new();
        for (kind, detail) in found {
            kinds.push(kind);
            let example = Example {
                exchange: ex.id,
                login: login.to_owned(),
                operation: op.to_owned(),
                detail,
            };
            let entry = self.raised.entry(kind).or_insert_with(|| Raised {
                kind,
                count: 0,
                logins: BTreeMap::new(),
                example: example.clone(),
                exchange: ex.clone(),
            });
            entry.count += 1;
            *entry.logins.entry(login.to_owned()).or_insert(0) += 1;
            entry.example = example;
            entry.exchange = ex.clone();
        }
        kinds
    }

    pub fn advisories(&self) -> Vec<Advisory> {
        let mut list: Vec<Advisory> = self
            .raised
            .values()
            .map(|r| Advisory {
                kind: r.kind,
                explanation: r.kind.explanation(),
                manual: r.kind.citation(),
                count: r.count,
                logins: r.logins.clone(),
                example: r.example.clone(),
            })
            .collect();
        list.sort_by(|a, b| b.count.cmp(&a.count).then(a.kind.cmp(&b.kind)));
        list
    }

    /// The example exchange of an advisory (kept even when the traffic
    /// view has dropped it).
    pub fn example(&self, id: u64) -> Option<Arc<Exchange>> {
        self.raised
            .values()
            .find(|r| r.exchange.id == id)
            .map(|r| r.exchange.clone())
    }
}

fn time_of(leaves: &[(String, String)], name: &str) -> Option<i64> {
    leaf(leaves, name)
        .filter(|v| !v.is_empty())
        .and_then(Timestamp::parse_xml)
        .map(|t| t.0)
}

/// The advice on one list call: its window against the previous one of
/// the same operation, paging and a full answer.
fn list_call(
    state: &mut LoginState,
    ex: &Exchange,
    op: &str,
    request: &[(String, String)],
    found: &mut Vec<(Kind, String)>,
) {
    let window = Window {
        from: time_of(request, "dmFromTime"),
        to: time_of(request, "dmToTime"),
        at: ex.at,
    };
    let show = |t: Option<i64>| t.map_or("open".to_owned(), |t| Timestamp(t).to_xml());
    if let Some(prev) = state.last_window.get(op).copied() {
        let reached_present = prev.to.is_none_or(|to| to / 1_000_000 >= prev.at - PRESENT);
        match (prev.to, window.from) {
            (Some(prev_to), Some(from)) if from > prev_to => found.push((
                Kind::ListWindowGap,
                format!(
                    "{op}: previous window ended {}, this one starts {}",
                    show(prev.to),
                    show(window.from)
                ),
            )),
            (Some(prev_to), Some(from)) if from == prev_to && reached_present => found.push((
                Kind::ListWindowWithoutOverlap,
                format!(
                    "{op}: window starts exactly at the previous end {}",
                    show(prev.to)
                ),
            )),
            _ => {}
        }
        if window.from == prev.from {
            found.push((
                Kind::ListRepeatedFromStart,
                format!("{op}: listed again from {}", show(window.from)),
            ));
        }
        if op == "GetListOfSentMessages" && window.at - prev.at < DAY {
            let overlaps = match (window.from, prev.to) {
                (Some(from), Some(prev_to)) => from < prev_to,
                _ => true,
            };
            if overlaps {
                found.push((
                    Kind::SentStatePolling,
                    format!(
                        "{op}: sent messages listed again after {} s",
                        window.at - prev.at
                    ),
                ));
            }
        }
    }
    state.last_window.insert(op.to_owned(), window);

    let offset = leaf(request, "dmOffset")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1);
    if offset > 1 {
        found.push((Kind::OffsetPaging, format!("{op} with dmOffset {offset}")));
    }
    // dmLimit empty means 1000 (manual 2.7.1).
    let limit = leaf(request, "dmLimit")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1000);
    if let Some(body) = &ex.response
        && ex.isds_status.as_deref() == Some("0000")
    {
        let records = count_elements(body, "dmRecord");
        if limit > 0 && records >= limit {
            found.push((
                Kind::FullPageReturned,
                format!("{op} returned {records} records, the limit"),
            ));
        }
    }
}
