//! Message pages: a box's received or sent messages (filtered by state
//! and time), one message with its envelope, documents, dmHash, the
//! check of its time stamp, and a timeline picture of its life.
//!
//! The timeline is drawn from whatever the store records of the message
//! (its delivery events and its state changes), not from a fixed script,
//! so it shows delivery by listing, by login or by fiction alike.

use maud::{Markup, html};

use super::{Cockpit, Page, Request, UiError, ok, show_time};
use crate::domain::boxes::databox::BoxId;
use crate::domain::messages;
use crate::domain::messages::message::{EventCode, Message, MessageId, MessageState, Timestamp};
use crate::domain::messages::repo::ListQuery;
use crate::observe::metrics::state_name;

/// Messages shown per page.
const PAGE: usize = 100;

pub fn state_text(s: MessageState) -> &'static str {
    match s {
        MessageState::Submitted => "submitted",
        MessageState::Timestamped => "time-stamped",
        MessageState::Infected => "infected",
        MessageState::Delivered => "delivered",
        MessageState::AcceptedByFiction => "accepted by fiction",
        MessageState::AcceptedByLogin => "accepted",
        MessageState::Read => "read",
        MessageState::Undeliverable => "undeliverable",
        MessageState::ContentDeleted => "content deleted",
        MessageState::InVault => "in the vault",
    }
}

/// A date (`YYYY-MM-DD`) as the start of that day, UTC.
fn day_start(s: &str) -> Option<Timestamp> {
    Timestamp::parse_xml(&format!("{s}T00:00:00Z"))
}

pub fn list(c: &Cockpit, id: &str, req: &Request) -> Result<Page, UiError> {
    let box_id = BoxId::parse(id).map_err(|_| UiError::NotFound(format!("box {id:?}")))?;
    let sent = req.query("dir") == Some("sent");
    let state = req
        .query("state")
        .and_then(|s| s.parse::<u8>().ok())
        .and_then(MessageState::from_code);
    let from_text = req.query("from").unwrap_or("");
    let to_text = req.query("to").unwrap_or("");
    let from = if from_text.is_empty() {
        None
    } else {
        Some(day_start(from_text).ok_or_else(|| UiError::BadInput("\"from\" is no date".into()))?)
    };
    let to = if to_text.is_empty() {
        None
    } else {
        let start =
            day_start(to_text).ok_or_else(|| UiError::BadInput("\"to\" is no date".into()))?;
        Some(start.plus_days(1).plus_micros(-1))
    };
    let mut q = ListQuery::all(box_id.clone(), PAGE);
    q.from = from;
    q.to = to;
    if let Some(s) = state {
        q.state_mask = s.filter_bit();
    }
    let messages = if sent {
        messages::repo::list_sent(c.store.as_ref(), &q)?
    } else {
        messages::repo::list_received(c.store.as_ref(), &q)?
    };
    let dir = if sent { "sent" } else { "received" };
    ok(
        &format!("Messages of {box_id}"),
        html! {
            h1 { (if sent { "Sent" } else { "Received" }) " messages of box " a href={"/ui/box/" (box_id.as_str())} { (box_id.as_str()) } }
            form method="get" {
                label for="dir" { "Direction" }
                select id="dir" name="dir" {
                    option value="received" selected[!sent] { "received" }
                    option value="sent" selected[sent] { "sent" }
                }
                label for="state" { "State" }
                select id="state" name="state" {
                    option value="" { "any" }
                    @for s in MessageState::ALL {
                        option value=(s.code()) selected[state == Some(s)] { (state_text(s)) }
                    }
                }
                label for="from" { "Submitted from" }
                input id="from" name="from" type="date" value=(from_text);
                label for="to" { "to" }
                input id="to" name="to" type="date" value=(to_text);
                button type="submit" { "Filter" }
            }
            p { (messages.len()) " " (dir) " messages" @if messages.len() == PAGE { " (the first " (PAGE) ")" } "." }
            table {
                thead { tr { th scope="col" { "ID" } th scope="col" { "Subject" } th scope="col" { (if sent { "Recipient" } else { "Sender" }) } th scope="col" { "Submitted" } th scope="col" { "State" } } }
                tbody {
                    @for m in &messages {
                        tr {
                            td { a href={"/ui/message/" (m.id.to_string())} { (m.id.to_string()) } }
                            td { (m.envelope.annotation) }
                            td { @if sent { (m.recipient.name) " (" (m.recipient.box_id.as_str()) ")" } @else { (m.sender.name) " (" (m.sender.box_id.as_str()) ")" } }
                            td { (show_time(m.submitted_at.0)) }
                            td { (state_text(m.state)) }
                        }
                    }
                }
            }
        },
    )
}

fn load(c: &Cockpit, id: &str) -> Result<Message, UiError> {
    let mid = MessageId::parse(id).ok_or_else(|| UiError::NotFound(format!("message {id:?}")))?;
    messages::repo::get_message(c.store.as_ref(), mid)?
        .ok_or_else(|| UiError::NotFound(format!("message {id}")))
}

/// One point of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moment {
    pub at: Timestamp,
    pub what: String,
    pub who: String,
}

/// What happened to a message, in time order: its submission, time stamp,
/// every recorded delivery event, and every state change recorded for the
/// recipient's box that the events do not already tell.
pub fn moments(c: &Cockpit, m: &Message) -> Result<Vec<Moment>, UiError> {
    let author = if m.author.name.is_empty() {
        m.author.user_type.clone()
    } else {
        format!("{} ({})", m.author.name, m.author.user_type)
    };
    let mut out = vec![Moment {
        at: m.submitted_at,
        what: "submitted".into(),
        who: format!("{author}, box {}", m.sender.box_id),
    }];
    if let Some(token) = &m.qtimestamp
        && let Ok(ci) = crate::sign::tsa::from_der(token)
        && let Ok(facts) = crate::sign::tsa::read(&ci)
    {
        // The token's time has whole seconds; it never precedes the
        // submission it stamps.
        out.push(Moment {
            at: Timestamp::from_unix_seconds(facts.gen_time as i64).max(m.submitted_at),
            what: "time-stamped".into(),
            who: "the time-stamp authority".into(),
        });
    }
    let mut told: Vec<MessageState> = vec![MessageState::Submitted, MessageState::Timestamped];
    for e in &m.events {
        let (what, who, state) = match e.code {
            EventCode::EV0 => ("entered ISDS", "ISDS".to_owned(), None),
            EventCode::EV5 => (
                "delivered to the box",
                format!("ISDS, into box {}", m.recipient.box_id),
                Some(MessageState::Delivered),
            ),
            EventCode::EV1 => (
                "accepted by a user entitled to read it",
                format!("a user of box {}", m.recipient.box_id),
                Some(MessageState::AcceptedByLogin),
            ),
            EventCode::EV2 => (
                "accepted by fiction",
                "the lapse of ten days".to_owned(),
                Some(MessageState::AcceptedByFiction),
            ),
            EventCode::EV3 => (
                "undeliverable",
                "the recipient's box became inaccessible".to_owned(),
                Some(MessageState::Undeliverable),
            ),
            EventCode::EV4 => (
                "delivery confirmed (paid)",
                format!("box {}", m.recipient.box_id),
                None,
            ),
            EventCode::EV11 | EventCode::EV12 | EventCode::EV13 => (
                "login into the recipient's box",
                e.code.text().to_owned(),
                None,
            ),
        };
        if let Some(s) = state {
            told.push(s);
        }
        out.push(Moment {
            at: e.at,
            what: format!("{what} ({})", e.code.name()),
            who,
        });
    }
    let changes = messages::repo::state_changes(
        c.store.as_ref(),
        &m.recipient.box_id,
        Some(m.submitted_at),
        None,
    )?;
    for (id, at, state) in changes {
        if id != m.id || told.contains(&state) {
            continue;
        }
        told.push(state);
        let who = match state {
            MessageState::Read => format!("a user of box {} downloaded it", m.recipient.box_id),
            MessageState::ContentDeleted => "ISDS, 90 days after acceptance".to_owned(),
            _ => "ISDS".to_owned(),
        };
        out.push(Moment {
            at,
            what: state_text(state).to_owned(),
            who,
        });
    }
    if !told.contains(&m.state) {
        out.push(Moment {
            at: m
                .acceptance_time
                .or(m.delivery_time)
                .unwrap_or(m.submitted_at),
            what: format!("now {}", state_text(m.state)),
            who: "ISDS".into(),
        });
    }
    // Stable: moments at the same time keep the order they happen in.
    out.sort_by_key(|x| x.at);
    Ok(out)
}

/// The timeline as an inline SVG: one marker per moment, evenly spaced
/// (the gaps range from milliseconds to months), each with what happened,
/// when, and who caused it.
pub fn timeline_svg(moments: &[Moment]) -> Markup {
    const STEP: usize = 190;
    let width = (moments.len().max(1) * STEP + 40).to_string();
    html! {
        svg role="img" aria-labelledby="timeline-title" width=(width) height="100"
            viewBox={"0 0 " (width) " 100"} xmlns="http://www.w3.org/2000/svg" id="timeline" {
            title id="timeline-title" { "Timeline: " @for (i, m) in moments.iter().enumerate() { @if i > 0 { ", " } (m.what) } }
            line x1="20" y1="40" x2=((moments.len().max(1) * STEP).to_string()) y2="40" stroke="#12355b" stroke-width="2" {}
            @for (i, m) in moments.iter().enumerate() {
                @let x = 30 + i * STEP;
                g class="moment" {
                    title { (m.what) " — " (show_time(m.at.0)) " — " (m.who) }
                    circle cx=(x) cy="40" r="7" fill="#f5a623" stroke="#12355b" {}
                    text x=(x) y="22" font-size="12" text-anchor="start" font-weight="bold" { (m.what) }
                    text x=(x) y="64" font-size="11" text-anchor="start" { (show_time(m.at.0)) }
                    text x=(x) y="80" font-size="11" text-anchor="start" fill="#555" { (truncate(&m.who, 30)) }
                }
            }
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// The check of the message's time stamp (`dmQTimestamp`) against the
/// gateway's time-stamp authority and the message's dmHash.
fn timestamp_check(c: &Cockpit, m: &Message) -> (bool, String) {
    let Some(token) = &m.qtimestamp else {
        return (
            false,
            "no time stamp (written without the time-stamp authority)".into(),
        );
    };
    let Some(signer) = &c.signer else {
        return (
            false,
            "the gateway has no signing identity to check it with".into(),
        );
    };
    let verified = crate::sign::tsa::from_der(token)
        .and_then(|ci| crate::sign::tsa::verify(&ci, &signer.identity().tsa, &m.hash));
    match verified {
        Ok(facts) => (
            true,
            format!(
                "valid: issued {} by the gateway's authority over this dmHash (serial {})",
                show_time(Timestamp::from_unix_seconds(facts.gen_time as i64).0),
                facts.serial
            ),
        ),
        Err(e) => (false, format!("invalid: {e}")),
    }
}

pub fn detail(c: &Cockpit, id: &str) -> Result<Page, UiError> {
    let m = load(c, id)?;
    let moments = moments(c, &m)?;
    let (stamp_ok, stamp_text) = timestamp_check(c, &m);
    let e = &m.envelope;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    ok(
        &format!("Message {}", m.id),
        html! {
            h1 { "Message " (m.id.to_string()) }
            p { (e.annotation) }
            h2 { "Timeline" }
            (timeline_svg(&moments))
            ol {
                @for mo in &moments { li { (show_time(mo.at.0)) ": " strong { (mo.what) } " — " (mo.who) } }
            }
            h2 { "Envelope" }
            table {
                tbody {
                    tr { th scope="row" { "State" } td { (state_text(m.state)) " (" (m.state.code()) ", " (state_name(m.state)) ")" } }
                    tr { th scope="row" { "Sender" } td { a href={"/ui/box/" (m.sender.box_id.as_str())} { (m.sender.box_id.as_str()) } " " (m.sender.name) ", " (m.sender.address) } }
                    tr { th scope="row" { "Recipient" } td { a href={"/ui/box/" (m.recipient.box_id.as_str())} { (m.recipient.box_id.as_str()) } " " (m.recipient.name) ", " (m.recipient.address) } }
                    tr { th scope="row" { "Author" } td { (m.author.name) " (" (m.author.user_type) ")" } }
                    tr { th scope="row" { "Submitted" } td { (show_time(m.submitted_at.0)) } }
                    tr { th scope="row" { "Delivered" } td { (m.delivery_time.map(|t| show_time(t.0)).unwrap_or_default()) } }
                    tr { th scope="row" { "Accepted" } td { (m.acceptance_time.map(|t| show_time(t.0)).unwrap_or_default()) } }
                    tr { th scope="row" { "Sender's reference" } td { (opt(&e.sender_ref_number)) " " (opt(&e.sender_ident)) } }
                    tr { th scope="row" { "Recipient's reference" } td { (opt(&e.recipient_ref_number)) " " (opt(&e.recipient_ident)) } }
                    tr { th scope="row" { "To hands" } td { (opt(&e.to_hands)) } }
                    tr { th scope="row" { "Personal delivery" } td { (if e.personal_delivery { "yes" } else { "no" }) } }
                    tr { th scope="row" { "Fiction allowed" } td { (if e.allow_subst_delivery { "yes" } else { "no" }) } }
                    tr { th scope="row" { "Kind" } td { (e.dm_type.clone().map(|t| format!("commercial ({t})")).unwrap_or_else(|| "public".into())) } }
                    tr { th scope="row" { "Attachments" } td { (m.attachment_size_kb) " kB" } }
                    tr { th scope="row" { "dmHash" } td { code { (m.hash_hex()) } } }
                }
            }
            h2 { "Documents" }
            @if m.content_deleted { p { "The content was deleted." } }
            ul {
                @for (i, d) in m.documents.iter().enumerate() {
                    li {
                        @if m.content_deleted { (d.descr) } @else {
                            a href={"/ui/message/" (m.id.to_string()) "/document/" (i)} download=(d.descr) { (d.descr) }
                        }
                        " (" (d.mime_type) ", " (d.meta_type) ", " (d.size) " bytes)"
                    }
                }
            }
            h2 { "Signed artefacts" }
            p {
                "Time stamp over the dmHash (dmQTimestamp): "
                span class=(if stamp_ok { "ok" } else { "bad" }) id="timestamp-check" { (stamp_text) }
            }
            p { "The signed message and delivery receipt (.zfo) are made when a client asks for them (SignedMessageDownload, GetSignedDeliveryInfo); " code { "isds-gateway zfo verify" } " checks them." }
        },
    )
}

pub fn document(c: &Cockpit, id: &str, n: &str) -> Result<Page, UiError> {
    let m = load(c, id)?;
    let index: u16 = n
        .parse()
        .map_err(|_| UiError::NotFound(format!("document {n:?}")))?;
    let meta = m
        .documents
        .get(usize::from(index))
        .ok_or_else(|| UiError::NotFound(format!("document {index}")))?;
    let bytes = messages::repo::get_document(c.store.as_ref(), m.id, index)?
        .ok_or_else(|| UiError::NotFound("the content was deleted".into()))?;
    Ok(Page::Download {
        content_type: meta.mime_type.clone(),
        file_name: meta.descr.clone(),
        bytes,
    })
}
