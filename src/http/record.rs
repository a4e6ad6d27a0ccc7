//! Recording (`serve --record DIR`): every SOAP exchange becomes a numbered
//! pair of pretty-printed XML files and a small metadata file, which
//! `isds-gateway replay DIR` sends again and compares.
//!
//! Written per exchange `NNNN`:
//! - `NNNN-request.xml`: the request envelope (absent when the gateway
//!   refused the login before reading the body);
//! - `NNNN-response.xml` (XML answers) or `NNNN-response.txt` (anything
//!   else: 401 text, a maintenance page);
//! - `NNNN-meta.toml`: endpoint, operation, login, HTTP status, time.
//!
//! Moves of the test clock (`POST /admin/clock`) are recorded too, as
//! `NNNN-request.json` and `NNNN-response.json`, so a replay moves its clock
//! at the same points.
//!
//! Never written: passwords (HTTP Basic, and elements whose name says
//! password, like ChangeISDSPassword's: the login's own password becomes
//! `{{secret:password}}`, any other `{{secret:ELEMENT-NNNN}}`),
//! the Authorization and Cookie headers, OTP codes (the OTP login form is
//! not a SOAP exchange and is not recorded). Text over
//! [`MAX_RECORDED_TEXT`] bytes (large base64 attachments) is replaced by
//! `{{omitted:N bytes}}`; such a request cannot be replayed as recorded.
//!
//! Volatile values are written as placeholders the replay understands:
//! a message ID first seen in a response becomes `{{capture:dmID_N}}` there
//! and `{{dmID_N}}` wherever it appears later (in requests and responses);
//! times, hashes, time stamps and signatures in responses become `{{any}}`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::BodyExt;
use quick_xml::events::{BytesText, Event};

use super::responses::HttpResponse;

/// Element text longer than this is not written to a recording.
pub const MAX_RECORDED_TEXT: usize = 1024 * 1024;

/// Names of the elements whose values are captured for later use.
///
/// `dbAccessDataId` carries the password the gateway generated for a new
/// user (NewAccessData, AddDataBoxUser, CreateDataBox): captured, it is
/// never written, and later texts equal to it are written as its name.
const CAPTURED: &[&str] = &["dmID", "dbAccessDataId"];

/// Names of response elements whose values differ from run to run.
const VOLATILE: &[&str] = &[
    "dmHash",
    "dmQTimestamp",
    "dmSignature",
    "dmDeliveryTime",
    "dmAcceptanceTime",
    "dmEventTime",
];

/// What the handler learnt about one exchange, for the recorder.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    pub active: bool,
    pub request: Option<Bytes>,
    /// Bytes of the request body read (also when `request` is not kept).
    pub request_len: u64,
    pub login: Option<String>,
    /// The HTTP Basic password, only to recognise it inside the body (it
    /// is never written).
    pub basic_password: Option<String>,
    pub auth_failed: bool,
    pub request_content_type: Option<String>,
    pub soap_action: Option<String>,
    /// The request is JSON (an `/admin/clock` move), not SOAP.
    pub json: bool,
}

impl Capture {
    pub fn new(active: bool) -> Capture {
        Capture {
            active,
            ..Capture::default()
        }
    }
}

/// Reads a (small) `/admin/clock` request body for the recording and
/// gives the request back with it.
pub(crate) async fn buffer_admin(
    req: hyper::Request<hyper::body::Incoming>,
    capture: &mut Capture,
) -> hyper::Request<http_body_util::Full<Bytes>> {
    /// As much as `/admin/clock` reads.
    const MAX: usize = 4096;
    let (parts, body) = req.into_parts();
    let bytes = match http_body_util::Limited::new(body, MAX).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => Bytes::new(),
    };
    capture.json = true;
    capture.request_content_type = Some("application/json".to_owned());
    capture.login = parts
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_login)
        .map(|(login, _)| login);
    capture.request = Some(bytes.clone());
    hyper::Request::from_parts(parts, http_body_util::Full::new(bytes))
}

/// The recording could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot prepare the recording directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} holds a recording already (transcript.toml); choose an empty directory")]
    NotEmpty(PathBuf),
}

#[derive(Debug, Default)]
struct State {
    next: u64,
    /// Captured value → placeholder name.
    values: HashMap<String, String>,
    counters: HashMap<String, u32>,
}

/// Writes exchanges into a directory, in the order they complete.
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    state: Mutex<State>,
}

/// Facts about the recording session written to `transcript.toml`.
pub struct SessionInfo<'a> {
    pub start: String,
    pub world: Option<&'a Path>,
    pub fixtures: &'a [PathBuf],
}

impl Recorder {
    /// Prepares `dir` (created if missing; refused if it holds a recording).
    pub fn create(dir: &Path, info: &SessionInfo<'_>) -> Result<Arc<Recorder>, RecordError> {
        let io = |source| RecordError::Io {
            path: dir.to_owned(),
            source,
        };
        crate::private_files::create_private_dir(dir).map_err(|e| io(e.source))?;
        let manifest = dir.join("transcript.toml");
        if manifest.exists() {
            return Err(RecordError::NotEmpty(dir.to_owned()));
        }
        let mut text = String::from(
            "# A transcript recorded by `isds-gateway serve --record`; replay it with\n\
             # `isds-gateway replay DIR`. Paths are relative to this directory.\n",
        );
        text.push_str(&format!("start = {}\n", toml_string(&info.start)));
        if let Some(world) = info.world {
            let abs = std::path::absolute(world).unwrap_or_else(|_| world.to_owned());
            text.push_str(&format!(
                "world = {}\n",
                toml_string(&abs.display().to_string())
            ));
        }
        if !info.fixtures.is_empty() {
            let list: Vec<String> = info
                .fixtures
                .iter()
                .map(|p| {
                    let abs = std::path::absolute(p).unwrap_or_else(|_| p.clone());
                    toml_string(&abs.display().to_string())
                })
                .collect();
            text.push_str(&format!("fixtures = [{}]\n", list.join(", ")));
        }
        text.push_str(
            "# Passwords are never recorded: replay takes them from the world fixture\n\
             # or from credentials.toml ([logins] LOGIN = \"password\", [secrets] NAME = \"value\").\n",
        );
        crate::private_files::write_private(&manifest, text.as_bytes()).map_err(io)?;
        Ok(Arc::new(Recorder {
            dir: dir.to_owned(),
            state: Mutex::new(State {
                next: 1,
                ..State::default()
            }),
        }))
    }

    /// Records one exchange and gives the response back unchanged.
    pub(crate) async fn record(
        self: &Arc<Self>,
        capture: Capture,
        endpoint: &str,
        operation: Option<&str>,
        time: String,
        response: HttpResponse,
    ) -> HttpResponse {
        let dropped = response
            .extensions()
            .get::<super::faults::DropConnection>()
            .is_some();
        let (parts, body) = response.into_parts();
        let bytes = match body.collect().await {
            Ok(c) => c.to_bytes(),
            Err(never) => match never {},
        };
        let content_type = parts
            .headers
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let exchange = Exchange {
            endpoint: endpoint.to_owned(),
            operation: operation.map(str::to_owned),
            http_status: if dropped { 0 } else { parts.status.as_u16() },
            time,
            content_type,
            capture,
            response: bytes.clone(),
        };
        let me = self.clone();
        match tokio::task::spawn_blocking(move || me.write(exchange)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "cannot write the recording"),
            Err(e) => tracing::error!(error = %e, "cannot write the recording"),
        }
        HttpResponse::from_parts(parts, super::body::ResponseBody::whole(bytes))
    }

    fn write(&self, ex: Exchange) -> std::io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let n = state.next;
        state.next += 1;
        let stem = self.dir.join(format!("{n:04}"));
        let file = |suffix: &str| PathBuf::from(format!("{}-{suffix}", stem.display()));

        let mut meta = String::new();
        meta.push_str(&format!("endpoint = {}\n", toml_string(&ex.endpoint)));
        if let Some(op) = &ex.operation {
            meta.push_str(&format!("operation = {}\n", toml_string(op)));
        }
        if let Some(login) = &ex.capture.login {
            meta.push_str(&format!("login = {}\n", toml_string(login)));
        }
        if ex.capture.auth_failed {
            meta.push_str("credentials = \"invalid\"\n");
        }
        meta.push_str(&format!("http_status = {}\n", ex.http_status));
        meta.push_str(&format!("time = {}\n", toml_string(&ex.time)));
        if let Some(ct) = &ex.capture.request_content_type {
            meta.push_str(&format!("request_content_type = {}\n", toml_string(ct)));
        }
        if let Some(action) = &ex.capture.soap_action {
            meta.push_str(&format!("soap_action = {}\n", toml_string(action)));
        }
        if !ex.content_type.is_empty() {
            meta.push_str(&format!(
                "response_content_type = {}\n",
                toml_string(&ex.content_type)
            ));
        }
        write_private(&file("meta.toml"), meta)?;

        if let (Some(req), true) = (&ex.capture.request, ex.capture.json) {
            if !contains_ci(req, b"password") {
                write_private(&file("request.json"), req)?;
            }
        } else if let Some(req) = &ex.capture.request {
            let ctx = Ctx {
                number: n,
                password: ex.capture.basic_password.as_deref(),
            };
            let text = match render(req, Direction::Request, &ctx, &mut state) {
                Some(t) => t,
                None if contains_ci(req, b"password") => {
                    "<!-- an unreadable request that may hold a password was not recorded -->\n"
                        .to_owned()
                }
                None => String::from_utf8_lossy(req).into_owned(),
            };
            write_private(&file("request.xml"), text)?;
        }
        if ex.http_status != 0 {
            let is_xml = ex.content_type.contains("xml");
            let rendered = if is_xml {
                let ctx = Ctx {
                    number: n,
                    password: None,
                };
                render(&ex.response, Direction::Response, &ctx, &mut state)
            } else {
                None
            };
            match rendered {
                Some(t) => write_private(&file("response.xml"), t)?,
                None if ex.content_type.contains("json") => {
                    write_private(&file("response.json"), &ex.response)?
                }
                None => write_private(&file("response.txt"), &ex.response)?,
            }
        }
        Ok(())
    }
}

struct Exchange {
    endpoint: String,
    operation: Option<String>,
    http_status: u16,
    time: String,
    content_type: String,
    capture: Capture,
    response: Bytes,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

/// Writes a recording file, readable by the owner only.
fn write_private(path: &Path, contents: impl AsRef<[u8]>) -> std::io::Result<()> {
    crate::private_files::write_private(path, contents.as_ref())
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// User name and password of an HTTP Basic `Authorization` value (the
/// password is never written).
pub(crate) fn basic_login(authorization: &str) -> Option<(String, String)> {
    use base64::Engine;
    let (scheme, value) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':')
        .map(|(login, password)| (login.to_owned(), password.to_owned()))
}

/// A TOML basic string.
pub(crate) fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// An element whose text is a secret.
pub fn is_secret_element(local: &str) -> bool {
    let l = local.to_ascii_lowercase();
    l.contains("password") || l.ends_with("pwd") || l.contains("otp")
}

/// Looks like `xs:dateTime` (`YYYY-MM-DDThh:mm:ss...`).
fn looks_like_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
}

/// Pretty-prints an XML document (2-space indent, prefixes kept), masking
/// secrets and replacing volatile values by placeholders. `None` when the
/// bytes are not well-formed XML.
fn render(input: &[u8], dir: Direction, ctx: &Ctx<'_>, state: &mut State) -> Option<String> {
    let mut reader = quick_xml::Reader::from_reader(input);
    reader.config_mut().trim_text(false);
    let mut writer = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
    let mut stack: Vec<String> = Vec::new();
    loop {
        let event = reader.read_event().ok()?;
        match event {
            Event::Eof => break,
            Event::Start(e) => {
                stack.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                writer.write_event(Event::Start(e)).ok()?;
            }
            Event::End(e) => {
                stack.pop();
                writer.write_event(Event::End(e)).ok()?;
            }
            Event::Empty(e) => writer.write_event(Event::Empty(e)).ok()?,
            Event::Text(t) => {
                let text = t.unescape().ok()?;
                if text.trim().is_empty() {
                    continue;
                }
                let local = stack.last().map(String::as_str).unwrap_or("");
                let out = transform(&text, local, dir, ctx, state);
                writer.write_event(Event::Text(BytesText::new(&out))).ok()?;
            }
            Event::CData(c) => {
                let text = String::from_utf8_lossy(&c.into_inner()).into_owned();
                let local = stack.last().map(String::as_str).unwrap_or("");
                let out = transform(&text, local, dir, ctx, state);
                writer.write_event(Event::Text(BytesText::new(&out))).ok()?;
            }
            Event::Decl(d) => writer.write_event(Event::Decl(d)).ok()?,
            Event::Comment(c) => writer.write_event(Event::Comment(c)).ok()?,
            Event::PI(_) | Event::DocType(_) => {}
        }
    }
    let mut out = String::from_utf8(writer.into_inner()).ok()?;
    out.push('\n');
    Some(out)
}

/// The exchange being rendered.
struct Ctx<'a> {
    number: u64,
    /// The login's password (HTTP Basic).
    password: Option<&'a str>,
}

fn transform(text: &str, local: &str, dir: Direction, ctx: &Ctx<'_>, state: &mut State) -> String {
    if is_secret_element(local) {
        // The login's own password is named as such; any other secret gets
        // a name of its own that credentials.toml can give a value.
        if ctx.password == Some(text) {
            return "{{secret:password}}".to_owned();
        }
        return format!("{{{{secret:{local}-{:04}}}}}", ctx.number);
    }
    if text.len() > MAX_RECORDED_TEXT {
        return format!("{{{{omitted:{} bytes}}}}", text.len());
    }
    let value = text.trim();
    if let Some(name) = state.values.get(value) {
        return format!("{{{{{name}}}}}");
    }
    if dir == Direction::Response {
        if CAPTURED.contains(&local) {
            let counter = state.counters.entry(local.to_owned()).or_insert(0);
            *counter += 1;
            let name = format!("{local}_{counter}");
            state.values.insert(value.to_owned(), name.clone());
            return format!("{{{{capture:{name}}}}}");
        }
        if VOLATILE.contains(&local) || looks_like_datetime(value) {
            return "{{any}}".to_owned();
        }
    }
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_masks_and_captures() {
        let mut state = State::default();
        let resp = br#"<?xml version="1.0"?><s:Envelope xmlns:s="urn:s"><s:Body><R xmlns="urn:i"><dmID>42</dmID><dmDeliveryTime>2026-01-01T10:00:00.123+01:00</dmDeliveryTime><x>a &amp; b</x></R></s:Body></s:Envelope>"#;
        let ctx = Ctx {
            number: 7,
            password: Some("Secret-1"),
        };
        let out = render(resp, Direction::Response, &ctx, &mut state).unwrap();
        assert!(out.contains("<dmID>{{capture:dmID_1}}</dmID>"), "{out}");
        assert!(
            out.contains("<dmDeliveryTime>{{any}}</dmDeliveryTime>"),
            "{out}"
        );
        assert!(out.contains("<x>a &amp; b</x>"), "{out}");
        assert!(
            out.contains("\n    <s:Body>") || out.contains("\n  <s:Body>"),
            "{out}"
        );
        let req = br#"<E><dmID>42</dmID><dbOldPassword>Secret-1</dbOldPassword><dbNewPassword>Secret-2</dbNewPassword></E>"#;
        let out = render(req, Direction::Request, &ctx, &mut state).unwrap();
        assert!(out.contains("<dmID>{{dmID_1}}</dmID>"), "{out}");
        assert!(!out.contains("Secret-"), "{out}");
        assert!(out.contains("{{secret:dbNewPassword-0007}}"), "{out}");
        assert!(
            out.contains("<dbOldPassword>{{secret:password}}</dbOldPassword>"),
            "{out}"
        );
        assert!(render(b"<a><b></a>", Direction::Request, &ctx, &mut state).is_none());
    }
}
