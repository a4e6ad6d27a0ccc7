//! The recording (`serve --record DIR`) on the traffic page: the last
//! exchanges written to the directory, the files of one of them, and
//! replays of the recording so far with their reports.
//!
//! A replay is `isds-gateway replay DIR` run in the gateway (the same
//! [`crate::replay::run`], against an embedded gateway of its own started
//! from the recording's world), on a thread of its own so the page answers
//! at once; the report shows up when it is done.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use maud::{Markup, html};

use super::{Cockpit, Page, UiError, ok, show_unix};
use crate::observe::traffic::pretty;
use crate::replay::transcript::Meta;
use crate::replay::{ReplayOptions, Report};

/// Recorded exchanges listed on the traffic page (the newest).
const SHOWN: usize = 50;
/// Replay reports kept (the newest).
const REPORTS_KEPT: usize = 10;
/// Files larger than this are not shown whole.
const MAX_SHOWN_FILE: u64 = 1024 * 1024;

/// The replays started from the traffic page.
#[derive(Default)]
pub struct Replays {
    /// When the running replay started (gateway clock), if one runs.
    running: Option<i64>,
    /// Newest first.
    reports: VecDeque<Finished>,
}

/// A replay that ended.
struct Finished {
    started_at: i64,
    took: Duration,
    /// The report, or why the replay could not run.
    outcome: Result<Report, String>,
}

fn lock(replays: &Mutex<Replays>) -> MutexGuard<'_, Replays> {
    replays.lock().unwrap_or_else(|e| e.into_inner())
}

/// One exchange's number and metadata (`NNNN-meta.toml`).
struct Recorded {
    number: u32,
    /// `None`: the file could not be read (still being written?).
    meta: Option<Meta>,
}

/// The numbers of the exchanges in a recording directory, ascending.
fn numbers(dir: &Path) -> std::io::Result<Vec<u32>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_suffix("-meta.toml"))
            .and_then(|n| n.parse().ok())
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The section of the traffic page: the recording and the replays.
pub fn section(c: &Cockpit) -> Markup {
    let Some(dir) = &c.recording else {
        return html! {
            h2 { "Recording" }
            p { "Not recording: start the gateway with " code { "serve --record DIR" } " to record every exchange and replay the recording here." }
        };
    };
    let listed = numbers(dir).map(|all| {
        let total = all.len();
        let newest: Vec<Recorded> = all
            .iter()
            .rev()
            .take(SHOWN)
            .map(|&number| Recorded {
                number,
                meta: std::fs::read_to_string(dir.join(format!("{number:04}-meta.toml")))
                    .ok()
                    .and_then(|text| toml::from_str(&text).ok()),
            })
            .collect();
        (total, newest)
    });
    let replays = lock(&c.replays);
    html! {
        h2 id="recording" { "Recording" }
        p { "Every exchange is recorded in " code { (dir.display()) } "; replay it with " code { "isds-gateway replay " (dir.display()) } " or the button below." }
        @match &listed {
            Err(e) => p.bad role="alert" { "The recording directory cannot be read: " (e) },
            Ok((total, newest)) => {
                p { (total) " exchanges recorded, newest first (the last " (SHOWN) " are listed)." }
                table id="recorded" {
                    caption { "Recorded exchanges" }
                    thead { tr { th scope="col" { "#" } th scope="col" { "Time" } th scope="col" { "Login" } th scope="col" { "Operation" } th scope="col" { "Endpoint" } th scope="col" { "HTTP" } } }
                    tbody {
                        @for r in newest {
                            tr {
                                td { a href={"/ui/recording/" (r.number)} { (format!("{:04}", r.number)) } }
                                @if let Some(m) = &r.meta {
                                    td { (m.time.clone().unwrap_or_default()) }
                                    td { (m.login.clone().unwrap_or_default()) }
                                    td { (m.operation.clone().unwrap_or_default()) }
                                    td { (m.endpoint) }
                                    td { (m.http_status) }
                                } @else {
                                    td colspan="5" { "(being written)" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 id="replays" { "Replays" }
        form method="post" action="/ui/traffic/replay" {
            button type="submit" disabled[replays.running.is_some()] { "Replay the recording so far" }
        }
        @if let Some(at) = replays.running {
            p role="status" id="replay-running" { "A replay started at " (show_unix(at)) " is running; reload to see its report." }
        }
        @if replays.reports.is_empty() && replays.running.is_none() { p { "No replay yet." } }
        @for (i, f) in replays.reports.iter().enumerate() {
            section.replay-report data-newest[i == 0] {
                h3 { "Replay started " (show_unix(f.started_at)) " (" (format!("{:.1}", f.took.as_secs_f64())) " s)" }
                @match &f.outcome {
                    Ok(report) => {
                        p class=(if report.ok() { "ok" } else { "bad" }) {
                            (report.results.len()) " exchanges: " (report.passed()) " passed, " (report.failed()) " failed"
                        }
                        pre { (report.render()) }
                    }
                    Err(e) => p.bad role="alert" { "The replay could not run: " (e) },
                }
            }
        }
    }
}

/// Starts a replay of the recording so far, unless one runs.
pub fn start_replay(c: &Cockpit) -> Result<Page, UiError> {
    let Some(dir) = c.recording.clone() else {
        return Err(UiError::BadInput(
            "the gateway is not recording (no --record)".into(),
        ));
    };
    let started_at = c.clock.unix();
    {
        let mut replays = lock(&c.replays);
        if replays.running.is_some() {
            return Ok(Page::Redirect("/ui/traffic#replays".into()));
        }
        replays.running = Some(started_at);
    }
    let replays = Arc::clone(&c.replays);
    let spawned = std::thread::Builder::new()
        .name("cockpit-replay".into())
        .spawn(move || {
            let t0 = Instant::now();
            // Its own runtime: a replay runs an embedded gateway and a
            // client, as `isds-gateway replay` does from the command line.
            let outcome = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a runtime: {e}"))
                .and_then(|rt| {
                    rt.block_on(crate::replay::run(&dir, &ReplayOptions::default()))
                        .map_err(|e| e.to_string())
                });
            if let Ok(report) = &outcome {
                tracing::info!(
                    passed = report.passed(),
                    failed = report.failed(),
                    "replay of the recording from the inspector"
                );
            }
            let mut replays = lock(&replays);
            replays.running = None;
            replays.reports.push_front(Finished {
                started_at,
                took: t0.elapsed(),
                outcome,
            });
            replays.reports.truncate(REPORTS_KEPT);
        });
    if let Err(e) = spawned {
        lock(&c.replays).running = None;
        return Err(UiError::Internal(format!("cannot start the replay: {e}")));
    }
    Ok(Page::Redirect("/ui/traffic#replays".into()))
}

/// The files of one recorded exchange.
pub fn exchange(c: &Cockpit, number: &str) -> Result<Page, UiError> {
    let dir = c
        .recording
        .as_ref()
        .ok_or_else(|| UiError::NotFound("the gateway is not recording".into()))?;
    let n: u32 = number
        .parse()
        .map_err(|_| UiError::NotFound(format!("recorded exchange {number:?}")))?;
    let stem = format!("{n:04}");
    let read = |suffix: &str| -> Option<(String, String)> {
        let path = dir.join(format!("{stem}-{suffix}"));
        let len = std::fs::metadata(&path).ok()?.len();
        let text = if len > MAX_SHOWN_FILE {
            format!("({len} bytes, too large to show here)")
        } else {
            let text = std::fs::read_to_string(&path).ok()?;
            if suffix.ends_with(".xml") {
                pretty(text.as_bytes())
            } else {
                text
            }
        };
        Some((format!("{stem}-{suffix}"), text))
    };
    let meta =
        read("meta.toml").ok_or_else(|| UiError::NotFound(format!("recorded exchange {stem}")))?;
    let request = ["request.xml", "request.json"].into_iter().find_map(read);
    let response = ["response.xml", "response.txt", "response.json"]
        .into_iter()
        .find_map(read);
    ok(
        &format!("Recorded exchange {stem}"),
        html! {
            h1 { "Recorded exchange " (stem) }
            p { a href="/ui/traffic#recording" { "Back to the recording" } }
            @for (title, file) in [("Metadata", Some(&meta)), ("Request", request.as_ref()), ("Response", response.as_ref())] {
                h2 { (title) }
                @match file {
                    Some((name, text)) => { p { code { (name) } } pre { (text) } }
                    None => p { "Not recorded." },
                }
            }
        },
    )
}
