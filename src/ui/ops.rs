//! Operator pages: the test clock, the fault rules, the traffic (with the
//! recording, see `recording`), the advice and the charts.

use maud::{Markup, PreEscaped, html};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Cockpit, Page, Request, UiError, ok, show_time, show_unix};
use crate::domain::clock::Clock;
use crate::domain::messages;
use crate::domain::messages::lifecycle;
use crate::domain::messages::message::{MessageState, Timestamp};
use crate::domain::messages::repo::DueKind;
use crate::observe::metrics::state_name;
use crate::observe::traffic::pretty;

/// The moves the time page offers: label and seconds.
const MOVES: [(&str, i64); 4] = [
    ("1 hour", 3_600),
    ("1 day", 86_400),
    ("10 days", 864_000),
    ("90 days", 7_776_000),
];
/// The most due items listed after a move.
const DUE_SHOWN: usize = 200;

pub fn time(c: &Cockpit, req: &Request) -> Result<Page, UiError> {
    let now = c.clock.unix();
    let fell: Vec<(i64, String, String)> = req
        .query("fell")
        .map(|list| {
            list.split(',')
                .filter_map(|item| {
                    let (id, rest) = item.split_once(':')?;
                    let (kind, at) = rest.split_once(':')?;
                    Some((at.parse().ok()?, id.to_owned(), kind.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    let moved = req.query("moved");
    ok(
        "Time",
        html! {
            h1 { "Time" }
            p { "The gateway's clock: " strong id="now" { (show_unix(now)) } }
            @if c.test_clock.is_none() {
                p role="note" { "The gateway runs on the wall clock; start it with " code { "--test-clock" } " to move time." }
            } @else {
                form method="post" action="/ui/time" {
                    fieldset {
                        legend { "Move the clock forward" }
                        @for (label, secs) in MOVES {
                            button type="submit" name="advance" value=(secs) { "+ " (label) }
                        }
                    }
                }
                form method="post" action="/ui/time" {
                    fieldset {
                        legend { "Set the clock" }
                        label for="set" { "Date and time (UTC)" }
                        input id="set" name="set" type="datetime-local" step="1";
                        button type="submit" { "Set" }
                    }
                }
            }
            @if let Some(moved) = moved {
                h2 { "What fell due" }
                p { (moved) " transitions applied by the last move." }
                @if fell.is_empty() { p { "Nothing fell due." } }
                ul id="fell-due" {
                    @for (at, id, kind) in &fell {
                        li { (show_time(*at)) ": message " a href={"/ui/message/" (id)} { (id) } " — " (kind) }
                    }
                }
            }
        },
    )
}

/// Moves the test clock as `/admin/clock` does (the same clock and the
/// same `lifecycle::run_due`), then shows what fell due.
pub fn move_clock(c: &Cockpit, req: &Request) -> Result<Page, UiError> {
    let Some(clock) = &c.test_clock else {
        return Err(UiError::BadInput(
            "the gateway runs on the wall clock (no --test-clock)".into(),
        ));
    };
    let target = if let Some(secs) = req.form("advance") {
        let secs: i64 = secs
            .parse()
            .ok()
            .filter(|s| *s >= 0)
            .ok_or_else(|| UiError::BadInput("advance by a whole number of seconds".into()))?;
        clock
            .now()
            .checked_add(time::Duration::seconds(secs))
            .ok_or_else(|| UiError::BadInput("too far".into()))?
    } else if let Some(at) = req.form("set") {
        // datetime-local sends "YYYY-MM-DDThh:mm[:ss]" without a zone.
        let text = if at.len() == 16 {
            format!("{at}:00Z")
        } else {
            format!("{at}Z")
        };
        OffsetDateTime::parse(&text, &Rfc3339)
            .map_err(|e| UiError::BadInput(format!("not a date and time: {e}")))?
    } else {
        return Err(UiError::BadInput("expected advance or set".into()));
    };
    let due = messages::repo::due_until(
        c.store.as_ref(),
        Timestamp::from_datetime(target),
        DUE_SHOWN,
    )?;
    clock.set(target);
    let applied = lifecycle::run_due(c.store.as_ref(), clock.as_ref())?;
    tracing::info!(transitions = applied, "test clock moved from the inspector");
    let fell: Vec<String> = due
        .iter()
        .map(|e| {
            let kind = match e.kind {
                DueKind::Fiction => "accepted by fiction",
                DueKind::ContentDeletion => "content deleted",
            };
            format!("{}:{kind}:{}", e.id, e.at.0)
        })
        .collect();
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("moved", &applied.to_string())
        .append_pair("fell", &fell.join(","))
        .finish();
    Ok(Page::Redirect(format!("/ui/time?{query}")))
}

pub fn faults(c: &Cockpit) -> Page {
    let rules = c.faults.view();
    let body = super::layout(
        "Faults",
        html! {
            h1 { "Fault rules" }
            @if rules.is_empty() { p { "No rules. Load them with " code { "serve --faults FILE" } " or add them at " code { "POST /admin/faults" } "." } }
            table {
                thead { tr { th scope="col" { "Rule" } th scope="col" { "Operation" } th scope="col" { "On" } th scope="col" { "Hits" } th scope="col" { "Left" } th scope="col" { "Switch" } } }
                tbody {
                    @for r in &rules {
                        tr {
                            td { (r.name) }
                            td { (r.rule.operation) }
                            td class=(if r.enabled { "ok" } else { "bad" }) { (if r.enabled { "on" } else { "off" }) }
                            td data-hits=(r.name) { (r.hits) }
                            td { (r.remaining.map(|n| n.to_string()).unwrap_or_else(|| "unlimited".into())) }
                            td {
                                form.inline method="post" action="/ui/faults" {
                                    input type="hidden" name="rule" value=(r.name);
                                    input type="hidden" name="on" value=(if r.enabled { "false" } else { "true" });
                                    button type="submit" aria-label={(if r.enabled { "Switch off " } else { "Switch on " }) (r.name)} {
                                        (if r.enabled { "Switch off" } else { "Switch on" })
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    );
    Page::Html { status: 200, body }
}

/// Switches a rule as `/admin/faults` does.
pub fn toggle_fault(c: &Cockpit, req: &Request) -> Result<Page, UiError> {
    let name = req
        .form("rule")
        .ok_or_else(|| UiError::BadInput("which rule?".into()))?;
    let on = req.form("on") == Some("true");
    if !c.faults.set_enabled(name, on) {
        return Err(UiError::NotFound(format!("rule {name:?}")));
    }
    tracing::info!(rule = %name, on, "fault rule switched from the inspector");
    Ok(Page::Redirect("/ui/faults".into()))
}

/// Reloads the page every few seconds while the box is ticked.
pub(super) const LIVE_SCRIPT: &str = r#"
(function(){var box=document.getElementById('live');var key='cockpit-live';
box.checked=sessionStorage.getItem(key)==='1';
box.addEventListener('change',function(){sessionStorage.setItem(key,box.checked?'1':'0');});
setInterval(function(){if(box.checked){location.reload();}},3000);})();
"#;

pub fn traffic(c: &Cockpit, req: &Request) -> Page {
    let login = req.query("login");
    let op = req.query("operation");
    let all = c.observer.traffic();
    let mut logins: Vec<String> = all.iter().filter_map(|e| e.login.clone()).collect();
    logins.sort();
    logins.dedup();
    let mut ops: Vec<String> = all.iter().filter_map(|e| e.operation.clone()).collect();
    ops.sort();
    ops.dedup();
    let shown: Vec<_> = all
        .iter()
        .filter(|e| login.is_none_or(|l| e.login.as_deref() == Some(l)))
        .filter(|e| op.is_none_or(|o| e.operation.as_deref() == Some(o)))
        .collect();
    let body = super::layout(
        "Traffic",
        html! {
            h1 { "Traffic" }
            form method="get" {
                label for="login" { "Login" }
                select id="login" name="login" {
                    option value="" { "any" }
                    @for l in &logins { option value=(l) selected[login == Some(l.as_str())] { (l) } }
                }
                label for="operation" { "Operation" }
                select id="operation" name="operation" {
                    option value="" { "any" }
                    @for o in &ops { option value=(o) selected[op == Some(o.as_str())] { (o) } }
                }
                button type="submit" { "Filter" }
                input id="live" type="checkbox";
                label for="live" { "Live (reload every 3 s)" }
            }
            p { (shown.len()) " exchanges, newest first (the last " (crate::observe::TRAFFIC_KEPT) " are kept)." }
            table {
                thead { tr { th scope="col" { "#" } th scope="col" { "Time" } th scope="col" { "Login" } th scope="col" { "Operation" } th scope="col" { "HTTP" } th scope="col" { "ISDS" } th scope="col" { "ms" } } }
                tbody {
                    @for e in &shown {
                        tr {
                            td { a href={"/ui/traffic/" (e.id)} { (e.id) } }
                            td { (show_unix(e.at)) }
                            td { (e.login.clone().unwrap_or_default()) }
                            td { (e.operation.clone().unwrap_or_else(|| e.path.clone())) }
                            td { (e.http_status) }
                            td { (e.isds_status.clone().or_else(|| e.auth_failure.clone()).unwrap_or_default()) }
                            td { (format!("{:.1}", e.duration.as_secs_f64() * 1000.0)) }
                        }
                    }
                }
            }
            (super::recording::section(c))
            script { (PreEscaped(LIVE_SCRIPT)) }
        },
    );
    Page::Html { status: 200, body }
}

pub fn exchange(c: &Cockpit, id: &str) -> Result<Page, UiError> {
    let e = id
        .parse::<u64>()
        .ok()
        .and_then(|n| c.observer.exchange(n))
        .ok_or_else(|| UiError::NotFound(format!("exchange {id:?} (no longer kept?)")))?;
    ok(
        &format!("Exchange {}", e.id),
        html! {
            h1 { "Exchange " (e.id) ": " (e.operation.clone().unwrap_or_default()) }
            table {
                tbody {
                    tr { th scope="row" { "Time" } td { (show_unix(e.at)) } }
                    tr { th scope="row" { "Path" } td { (e.path) } }
                    tr { th scope="row" { "Login" } td { (e.login.clone().unwrap_or_default()) } }
                    tr { th scope="row" { "HTTP status" } td { (e.http_status) } }
                    tr { th scope="row" { "ISDS status" } td { (e.isds_status.clone().unwrap_or_default()) } }
                    @if let Some(f) = &e.auth_failure { tr { th scope="row" { "Login refused" } td { (f) } } }
                    tr { th scope="row" { "Duration" } td { (format!("{:.2} ms", e.duration.as_secs_f64() * 1000.0)) } }
                }
            }
            h2 { "Request" }
            pre { (e.request.as_deref().map(pretty).unwrap_or_else(|| "(not kept: too large, or not read because the login was refused first)".into())) }
            h2 { "Response" }
            pre { (e.response.as_deref().map(pretty).unwrap_or_else(|| format!("({} bytes, too large to keep)", e.response_len))) }
        },
    )
}

pub fn advice(c: &Cockpit) -> Page {
    let list = c.observer.advisories();
    let body = super::layout(
        "Advice",
        html! {
            h1 { "Advice on the clients' behaviour" }
            p { "What real ISDS would punish without saying why, as the operator's manuals describe it. Also at " code { "GET /advice" } " and " code { "isds-gateway advice" } "." }
            @if list.is_empty() { p id="no-advice" { "No advisories: the clients behaved as recommended." } }
            @for a in &list {
                section class="advisory" data-kind=(a.kind.name()) {
                    h2 { (a.kind.name()) " (" (a.count) "×)" }
                    p { (a.explanation) }
                    p { "Manual: " (a.manual) }
                    p { "Logins: " @for (i, (l, n)) in a.logins.iter().enumerate() { @if i > 0 { ", " } (l) " ×" (n) } }
                    p { "Example: " a href={"/ui/traffic/" (a.example.exchange)} { "exchange " (a.example.exchange) } " (" (a.example.operation) " by " (a.example.login) "): " (a.example.detail) }
                }
            }
        },
    );
    Page::Html { status: 200, body }
}

/// A horizontal bar chart as inline SVG.
fn bars(id: &str, title: &str, rows: &[(String, u64)]) -> Markup {
    let max = rows.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let height = (rows.len().max(1) * 22 + 10).to_string();
    html! {
        svg role="img" aria-labelledby={(id) "-title"} id=(id) width="720" height=(height) xmlns="http://www.w3.org/2000/svg" {
            title id={(id) "-title"} { (title) }
            @for (i, (label, n)) in rows.iter().enumerate() {
                @let y = 5 + i * 22;
                @let w = (*n * 400 / max).max(1);
                text x="0" y=(y + 14) font-size="12" { (label) }
                rect x="260" y=(y) width=(w) height="16" fill="#12355b" {}
                text x=(265 + w) y=(y + 13) font-size="12" { (n) }
            }
        }
    }
}

pub fn charts(c: &Cockpit) -> Result<Page, UiError> {
    let per_minute = c.observer.requests_per_minute();
    let last_minutes: Vec<(String, u64)> = {
        let newest = per_minute.iter().map(|(m, _, _)| *m).max().unwrap_or(0);
        per_minute
            .iter()
            .filter(|(m, _, _)| newest - m < 10)
            .map(|(m, label, n)| (format!("{} {label}", &show_unix(m * 60)[11..16]), *n))
            .collect()
    };
    let counts = messages::repo::count_by_state(c.store.as_ref())?;
    let states: Vec<(String, u64)> = MessageState::ALL
        .iter()
        .map(|s| (state_name(*s).to_owned(), counts[usize::from(s.code())]))
        .collect();
    ok(
        "Charts",
        html! {
            h1 { "Charts" }
            h2 { "Requests per minute by operation and status (last 10 minutes of kept traffic)" }
            @if last_minutes.is_empty() { p { "No SOAP traffic yet." } }
            (bars("requests-chart", "Requests per minute by operation and status", &last_minutes))
            h2 { "Messages by state" }
            (bars("states-chart", "Messages by state", &states))
        },
    )
}
