//! The testers' cockpit: a web inspector at `/ui/` rendered on the server
//! (HTML from `maud` templates, escaped by construction; inline SVG for
//! pictures; a few lines of inline script for live updates only).
//!
//! Pages: boxes ([`boxes`]), messages and their timeline ([`messages`]),
//! the test clock, fault rules, traffic, advice and charts ([`ops`]), the
//! recording and its replays ([`recording`]), the Mobile Key phone
//! ([`phone`]). What the pages change goes through the same code as SOAP
//! and `/admin/`: the test clock and `lifecycle::run_due`, `FaultRules`,
//! the authenticator's Mobile Key requests, `isds-gateway replay`.
//!
//! This module knows nothing of HTTP beyond a [`Request`] and a
//! [`Page`]; `http::cockpit` adapts it and checks the operator's login.

pub mod boxes;
pub mod messages;
pub mod ops;
pub mod phone;
pub mod recording;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::auth::Authenticator;
use crate::domain::clock::{Clock, TestClock};
use crate::http::faults::FaultRules;
use crate::observe::Observer;
use crate::sign::Signer;
use crate::store::Store;

/// How long an inspector login lasts.
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// The most open inspector logins (the oldest is dropped).
const MAX_SESSIONS: usize = 64;
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "isds_cockpit";

/// What the inspector works with; one per gateway.
pub struct Cockpit {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// `Some` when the gateway runs on a test clock (`--test-clock`).
    pub test_clock: Option<Arc<TestClock>>,
    pub faults: Arc<FaultRules>,
    pub observer: Arc<Observer>,
    pub signer: Option<Arc<Signer>>,
    /// The gateway's authenticator, which holds the Mobile Key requests
    /// waiting for the phone (`None`: the phone page shows none).
    pub auth: Option<Arc<Authenticator>>,
    /// The recording directory (`serve --record`).
    pub recording: Option<PathBuf>,
    /// Replays of the recording started from the traffic page.
    pub replays: Arc<Mutex<recording::Replays>>,
    sessions: Mutex<HashMap<String, Instant>>,
}

/// One request to a page, already decoded.
pub struct Request {
    pub post: bool,
    /// The path after `/ui/`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
}

impl Request {
    pub fn query(&self, name: &str) -> Option<&str> {
        find(&self.query, name)
    }

    pub fn form(&self, name: &str) -> Option<&str> {
        find(&self.form, name)
    }
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// What a page answers.
pub enum Page {
    Html {
        status: u16,
        body: String,
    },
    /// See other (after a change): the page to show next.
    Redirect(String),
    Download {
        content_type: String,
        file_name: String,
        bytes: Vec<u8>,
    },
}

impl Cockpit {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        test_clock: Option<Arc<TestClock>>,
        faults: Arc<FaultRules>,
        observer: Arc<Observer>,
        signer: Option<Arc<Signer>>,
    ) -> Self {
        Cockpit {
            store,
            clock,
            test_clock,
            faults,
            observer,
            signer,
            auth: None,
            recording: None,
            replays: Arc::default(),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Shows the Mobile Key requests of `auth` and answers them through it.
    pub fn with_authenticator(mut self, auth: Arc<Authenticator>) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Shows the recording in `dir` (`serve --record DIR`) and replays it.
    pub fn with_recording(mut self, dir: Option<PathBuf>) -> Self {
        self.recording = dir;
        self
    }

    /// Opens an inspector login; returns its cookie value.
    pub fn open_session(&self) -> String {
        use rand_core::RngCore;
        let mut bytes = [0u8; 24];
        rand_core::OsRng.fill_bytes(&mut bytes);
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, opened| opened.elapsed() < SESSION_LIFETIME);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(token.clone(), Instant::now());
        token
    }

    /// Whether a cookie value is an open inspector login.
    pub fn has_session(&self, token: &str) -> bool {
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .get(token)
            .is_some_and(|opened| opened.elapsed() < SESSION_LIFETIME)
    }

    pub fn close_session(&self, token: &str) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.remove(token);
    }

    /// Answers a page for a logged-in operator. Blocking (reads the store).
    pub fn page(&self, req: &Request) -> Page {
        let path = req.path.trim_end_matches('/');
        let parts: Vec<&str> = path.split('/').collect();
        let result = match parts.as_slice() {
            [""] | ["boxes"] => boxes::list(self, req),
            ["box", id] => boxes::detail(self, id),
            ["box", id, "messages"] => messages::list(self, id, req),
            ["message", id] => messages::detail(self, id),
            ["message", id, "document", n] => messages::document(self, id, n),
            ["time"] if req.post => ops::move_clock(self, req),
            ["time"] => ops::time(self, req),
            ["faults"] if req.post => ops::toggle_fault(self, req),
            ["faults"] => Ok(ops::faults(self)),
            ["traffic", "replay"] if req.post => recording::start_replay(self),
            ["traffic"] => Ok(ops::traffic(self, req)),
            ["traffic", id] => ops::exchange(self, id),
            ["recording", number] => recording::exchange(self, number),
            ["mobile-key"] if req.post => phone::answer(self, req),
            ["mobile-key"] => phone::phone(self, req),
            ["advice"] => Ok(ops::advice(self)),
            ["charts"] => ops::charts(self),
            _ => Err(UiError::NotFound("no such page".into())),
        };
        match result {
            Ok(page) => page,
            Err(e) => {
                let status = match e {
                    UiError::NotFound(_) => 404,
                    UiError::BadInput(_) => 400,
                    UiError::Repo(_) | UiError::Store(_) | UiError::Internal(_) => 500,
                };
                if status == 500 {
                    tracing::error!(error = %e, "inspector page failed");
                }
                Page::Html {
                    status,
                    body: layout("Error", html! { h1 { "Error" } p role="alert" { (e) } }),
                }
            }
        }
    }
}

/// A page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    BadInput(String),
    #[error("store: {0}")]
    Repo(#[from] crate::domain::boxes::repo::RepoError),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Internal(String),
}

/// A page of HTML in the inspector's frame.
pub fn ok(title: &str, content: Markup) -> Result<Page, UiError> {
    Ok(Page::Html {
        status: 200,
        body: layout(title, content),
    })
}

const CSS: &str = r#"
body{font-family:system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#12355b;color:#fff;padding:.4rem 1rem;display:flex;gap:1.2rem;align-items:center;flex-wrap:wrap}
header a{color:#fff;text-decoration:none;padding:.2rem .3rem}
header a:focus,header a:hover{text-decoration:underline;outline:2px solid #ffd54f}
main{padding:1rem;max-width:1200px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eef2f7}
pre{background:#fff;border:1px solid #ddd;padding:.5rem;overflow:auto;max-height:30rem;font-size:.85rem}
form.inline{display:inline}
.ok{color:#1b7f2a}.bad{color:#b00020}
fieldset{border:1px solid #ccc;margin:.5rem 0}
label{margin-right:.3rem}
button,input,select{font:inherit;margin:.15rem}
:focus{outline:2px solid #f5a623}
"#;

/// The frame of every page: navigation, one `h1` from the content.
pub fn layout(title: &str, content: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · isds-gateway cockpit" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    strong { "isds-gateway cockpit" }
                    nav aria-label="Main" {
                        a href="/ui/boxes" { "Boxes" }
                        a href="/ui/time" { "Time" }
                        a href="/ui/faults" { "Faults" }
                        a href="/ui/traffic" { "Traffic" }
                        a href="/ui/mobile-key" { "Mobile Key" }
                        a href="/ui/advice" { "Advice" }
                        a href="/ui/charts" { "Charts" }
                    }
                    form.inline method="post" action="/ui/logout" {
                        button type="submit" { "Log out" }
                    }
                }
                main { (content) }
            }
        }
    }
    .into_string()
}

/// The login page (also shown after a failed login).
pub fn login_page(failed: bool) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Log in · isds-gateway cockpit" }
                style { (PreEscaped(CSS)) }
            }
            body {
                main {
                    h1 { "isds-gateway cockpit" }
                    p { "Log in with the gateway operator's credentials." }
                    @if failed {
                        p.bad role="alert" { "The operator's login name or password is wrong." }
                    }
                    form method="post" action="/ui/login" {
                        p {
                            label for="login" { "Login" }
                            input id="login" name="login" type="text" autocomplete="username" required autofocus;
                        }
                        p {
                            label for="password" { "Password" }
                            input id="password" name="password" type="password" autocomplete="current-password" required;
                        }
                        button type="submit" { "Log in" }
                    }
                }
            }
        }
    }
    .into_string()
}

/// A time as the inspector shows it: the ISDS form, UTC.
pub fn show_time(unix_micros: i64) -> String {
    let t = crate::domain::messages::message::Timestamp(unix_micros).to_datetime();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// [`show_time`] of Unix seconds.
pub fn show_unix(secs: i64) -> String {
    show_time(secs.saturating_mul(1_000_000))
}
