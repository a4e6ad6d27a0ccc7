//! Replaying transcripts (`isds-gateway replay DIR [--against URL]`): send
//! the recorded requests in order, compare each answer with the recorded one
//! structurally, report the differences by element path.
//!
//! Without `--against`, an embedded gateway is started from the
//! transcript's world fixture on a test clock set to the transcript's start
//! time, in a temporary data directory removed afterwards.

pub mod capture;
pub mod compare;
pub mod junit;
pub mod transcript;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use self::capture::Vars;
use self::compare::Mismatch;
use self::transcript::{Expected, Transcript};
use crate::config::{Config, OperatorConfig};
use crate::domain::clock::TestClock;

/// How long one exchange may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(120);
/// The password sent for an exchange whose recorded login was refused.
const WRONG_PASSWORD: &str = "not-the-recorded-password";

/// A replay could not be run (as opposed to: it ran and found differences).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("--against {0:?}: expected an address like http://127.0.0.1:8080")]
    Target(String),
    #[error("cannot start the embedded gateway: {0}")]
    Gateway(#[from] crate::http::ServeError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What to replay against and where to report.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// A running gateway (`http://host:port`); `None`: an embedded one.
    pub against: Option<String>,
    /// Write a JUnit XML report here.
    pub junit: Option<PathBuf>,
}

/// The outcome of one exchange.
#[derive(Debug, Clone)]
pub struct ExchangeResult {
    pub number: u32,
    pub operation: String,
    pub endpoint: String,
    pub login: Option<String>,
    pub mismatches: Vec<Mismatch>,
    /// The exchange could not be carried out.
    pub error: Option<String>,
    pub seconds: f64,
}

impl ExchangeResult {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.mismatches.is_empty()
    }

    pub fn title(&self) -> String {
        format!("{:04} {}", self.number, self.operation)
    }
}

/// The outcome of a replay.
#[derive(Debug, Clone)]
pub struct Report {
    /// The transcript's directory name.
    pub name: String,
    pub target: String,
    pub results: Vec<ExchangeResult>,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed()).count()
    }

    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    pub fn ok(&self) -> bool {
        self.failed() == 0
    }

    /// A readable account: one line per exchange, the differences under
    /// each failed one, and a closing count.
    pub fn render(&self) -> String {
        let mut s = format!("replaying {} against {}\n", self.name, self.target);
        for r in &self.results {
            let who = r.login.as_deref().unwrap_or("anonymous");
            if r.passed() {
                s.push_str(&format!("  ok    {} ({}, {who})\n", r.title(), r.endpoint));
                continue;
            }
            s.push_str(&format!("  FAIL  {} ({}, {who})\n", r.title(), r.endpoint));
            if let Some(e) = &r.error {
                s.push_str(&format!("    error: {e}\n"));
            }
            for m in &r.mismatches {
                s.push_str(&format!("    {m}\n"));
            }
        }
        s.push_str(&format!(
            "replay: {} exchanges, {} passed, {} failed\n",
            self.results.len(),
            self.passed(),
            self.failed()
        ));
        s
    }
}

/// Where requests go.
struct Target {
    addr: SocketAddr,
    host: String,
    /// Path prefix of the target URL (usually empty).
    base: String,
}

/// Loads a transcript, replays it as the options say, writes the JUnit
/// report if asked.
pub async fn run(dir: &Path, options: &ReplayOptions) -> Result<Report, ReplayError> {
    let transcript = transcript::load(dir)?;
    let report = match &options.against {
        Some(url) => {
            let target = parse_target(url).await?;
            replay(&transcript, &target, url).await
        }
        None => {
            let data = scratch_dir();
            let result = async {
                let gateway = start_embedded(&transcript, &data).await?;
                let target = Target {
                    addr: gateway.http_addr,
                    host: gateway.http_addr.to_string(),
                    base: String::new(),
                };
                let label = format!("an embedded gateway at http://{}", gateway.http_addr);
                let report = replay(&transcript, &target, &label).await;
                gateway.shutdown().await?;
                Ok::<_, ReplayError>(report)
            }
            .await;
            let _ = std::fs::remove_dir_all(&data);
            result?
        }
    };
    if let Some(path) = &options.junit {
        std::fs::write(path, junit::render(&report)).map_err(|source| ReplayError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(report)
}

fn scratch_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("isds-replay-{}-{nanos}", std::process::id()))
}

/// A gateway for one replay: the transcript's world, a test clock at the
/// transcript's start, plain HTTP on an ephemeral loopback port.
async fn start_embedded(
    t: &Transcript,
    data: &Path,
) -> Result<crate::http::RunningGateway, ReplayError> {
    let mut config = Config::ephemeral(data.join("data"));
    config.tls_listen = None;
    config.test_clock = true;
    config.demo_world = t.manifest.world.as_ref().map(|w| t.dir.join(w));
    config.fixtures = t.manifest.fixtures.iter().map(|f| t.dir.join(f)).collect();
    config.operator = t.credentials.operator.as_ref().map(|o| OperatorConfig {
        login: o.login.clone(),
        password: o.password.clone(),
    });
    let clock = TestClock::new();
    if let Some(start) = t
        .manifest
        .start
        .as_deref()
        .and_then(crate::domain::clock::czech_time::parse_instant)
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
    {
        clock.set(start);
    }
    Ok(crate::http::start_with_test_clock(config, clock).await?)
}

async fn parse_target(url: &str) -> Result<Target, ReplayError> {
    let bad = || ReplayError::Target(url.to_owned());
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (authority, base) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(bad());
    }
    let with_port = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let addr = tokio::net::lookup_host(&with_port)
        .await
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)?;
    Ok(Target {
        addr,
        host: authority.to_owned(),
        base: base.to_owned(),
    })
}

/// Passwords of the logins the transcript uses: credentials file first,
/// then the users of its world fixtures (the built-in demo world when it
/// names none).
fn passwords(t: &Transcript) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let mut worlds: Vec<String> = Vec::new();
    match &t.manifest.world {
        Some(w) => worlds.extend(std::fs::read_to_string(t.dir.join(w)).ok()),
        None => worlds.push(crate::domain::world::DEMO_WORLD.to_owned()),
    }
    for f in &t.manifest.fixtures {
        worlds.extend(std::fs::read_to_string(t.dir.join(f)).ok());
    }
    for text in worlds {
        let Ok(value) = text.parse::<toml::Table>() else {
            continue;
        };
        let boxes = value.get("boxes").and_then(|b| b.as_array());
        for b in boxes.into_iter().flatten() {
            let users = b.get("users").and_then(|u| u.as_array());
            for u in users.into_iter().flatten() {
                if let (Some(l), Some(p)) = (
                    u.get("login").and_then(|v| v.as_str()),
                    u.get("password").and_then(|v| v.as_str()),
                ) {
                    map.insert(l.to_owned(), p.to_owned());
                }
            }
        }
    }
    if let Some(op) = &t.credentials.operator {
        map.insert(op.login.clone(), op.password.clone());
    }
    for (l, p) in &t.credentials.logins {
        map.insert(l.clone(), p.clone());
    }
    map
}

/// Login methods a replay can act out (HTTP Basic only; `/admin/clock`
/// with the operator's).
fn replayable(endpoint: &str) -> bool {
    !["/cert/", "/certds/", "/hspis/", "/apps/"]
        .iter()
        .any(|p| endpoint.starts_with(p))
}

const EMPTY_ENVELOPE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body/></soap:Envelope>\n";

async fn replay(t: &Transcript, target: &Target, label: &str) -> Report {
    let mut passwords = passwords(t);
    let mut vars = Vars::default();
    let mut results = Vec::with_capacity(t.exchanges.len());
    let name = t
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| t.dir.display().to_string());
    for ex in &t.exchanges {
        let started = Instant::now();
        let mut result = ExchangeResult {
            number: ex.number,
            operation: ex.meta.operation.clone().unwrap_or_else(|| "-".into()),
            endpoint: ex.meta.endpoint.clone(),
            login: ex.meta.login.clone(),
            mismatches: Vec::new(),
            error: None,
            seconds: 0.0,
        };
        match one(t, ex, target, &mut passwords, &mut vars).await {
            Ok(m) => result.mismatches = m,
            Err(e) => result.error = Some(e),
        }
        result.seconds = started.elapsed().as_secs_f64();
        results.push(result);
    }
    Report {
        name,
        target: label.to_owned(),
        results,
    }
}

/// Sends one exchange and compares; `Err` when it could not be sent.
async fn one(
    t: &Transcript,
    ex: &transcript::Exchange,
    target: &Target,
    passwords: &mut HashMap<String, String>,
    vars: &mut Vars,
) -> Result<Vec<Mismatch>, String> {
    if !replayable(&ex.meta.endpoint) {
        return Err(format!(
            "{}: only HTTP Basic logins (/DS/…) can be replayed",
            ex.meta.endpoint
        ));
    }
    let password = match (&ex.meta.login, ex.meta.credentials.as_deref()) {
        (_, Some("invalid")) => Some(WRONG_PASSWORD.to_owned()),
        (Some(login), _) => Some(passwords.get(login).cloned().ok_or_else(|| {
            format!(
                "no password for the login {login:?}: give it in the transcript's credentials.toml, \
                 under [logins] as {login} = \"PASSWORD\", or, if {login:?} is the gateway \
                 operator, as [operator] login = \"{login}\" and password = \"PASSWORD\" \
                 (which also makes it the operator of the replaying gateway)"
            )
        })?),
        (None, _) => None,
    };
    // `{{secret:password}}` is the login's password; `{{secret:X-NNNN}}`
    // is looked up as such, then as `X`.
    let secret = |name: &str| -> Option<String> {
        if let Some(v) = t.credentials.secrets.get(name) {
            return Some(v.clone());
        }
        if name == "password" {
            return ex
                .meta
                .login
                .as_ref()
                .and_then(|l| passwords.get(l).cloned());
        }
        let general = name.rsplit_once('-').map(|(g, _)| g)?;
        t.credentials.secrets.get(general).cloned()
    };
    let body = match &ex.request {
        Some(text) => vars.fill(text, &secret).map_err(|e| e.to_string())?,
        None => EMPTY_ENVELOPE.to_owned(),
    };
    // The new password of a ChangeISDSPassword, for the login's next calls.
    let new_password = ex.request.as_deref().and_then(|text| {
        let start = text.find("dbNewPassword>")? + "dbNewPassword>".len();
        let end = start + text[start..].find('<')?;
        let raw = text[start..end].trim();
        let name = raw.strip_prefix("{{secret:")?.strip_suffix("}}")?;
        secret(name.trim())
    });
    let mut headers: Vec<(&str, String)> = vec![(
        "content-type",
        ex.meta
            .request_content_type
            .clone()
            .unwrap_or_else(|| "text/xml; charset=utf-8".into()),
    )];
    if let Some(action) = &ex.meta.soap_action {
        headers.push(("soapaction", action.clone()));
    }
    if let (Some(login), Some(pw)) = (&ex.meta.login, &password) {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{login}:{pw}"));
        headers.push(("authorization", format!("Basic {token}")));
    }
    let path = format!("{}{}", target.base, ex.meta.endpoint);
    let sent = tokio::time::timeout(EXCHANGE_TIMEOUT, post(target, &path, &headers, body)).await;
    let answer = match sent {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {EXCHANGE_TIMEOUT:?}")),
    };

    let mut mismatches = Vec::new();
    let (status, text) = match answer {
        Err(e) if ex.meta.http_status == 0 => {
            let _ = e;
            return Ok(mismatches);
        }
        Err(e) => return Err(e),
        Ok(a) => a,
    };
    if ex.meta.http_status == 0 {
        mismatches.push(Mismatch {
            path: "(connection)".into(),
            expected: "dropped without an answer".into(),
            actual: format!("HTTP {status}"),
        });
        return Ok(mismatches);
    }
    if status != ex.meta.http_status {
        mismatches.push(Mismatch {
            path: "(HTTP status)".into(),
            expected: ex.meta.http_status.to_string(),
            actual: status.to_string(),
        });
    }
    match &ex.expected {
        Expected::None | Expected::Json(_) => {}
        Expected::Text(expected) => {
            mismatches.extend(compare::compare_text(expected, &text, vars));
        }
        Expected::Xml { root, .. } => {
            match crate::xml::parse(text.as_bytes(), &transcript::compare_limits()) {
                Ok(actual) => {
                    mismatches.extend(compare::compare(root, &actual, vars));
                    if ex.meta.operation.as_deref() == Some("ChangeISDSPassword")
                        && status_code(&actual).as_deref() == Some("0000")
                        && let (Some(login), Some(new)) = (&ex.meta.login, new_password.clone())
                    {
                        passwords.insert(login.clone(), new);
                    }
                }
                Err(e) => mismatches.push(Mismatch {
                    path: "(body)".into(),
                    expected: "an XML document".into(),
                    actual: format!("unreadable XML: {e}"),
                }),
            }
        }
    }
    Ok(mismatches)
}

/// The first `dbStatusCode`/`dmStatusCode` of a response.
fn status_code(e: &crate::xml::Element) -> Option<String> {
    if e.name == "dbStatusCode" || e.name == "dmStatusCode" {
        return Some(e.text().trim().to_owned());
    }
    e.elements().find_map(status_code)
}

/// One POST on a fresh connection; the status and the body as text.
async fn post(
    target: &Target,
    path: &str,
    headers: &[(&str, String)],
    body: String,
) -> Result<(u16, String), String> {
    let stream = tokio::net::TcpStream::connect(target.addr)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", target.addr))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = hyper::Request::post(path).header("host", &target.host);
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("the connection closed without an answer: {e}"))?;
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("the answer broke off: {e}"))?
        .to_bytes();
    driver.abort();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

/// Shared handle for tests: replay an already loaded transcript against a
/// running gateway's plain HTTP address.
pub async fn replay_against(transcript: &Transcript, addr: SocketAddr) -> Report {
    let target = Target {
        addr,
        host: addr.to_string(),
        base: String::new(),
    };
    replay(transcript, &target, &format!("http://{addr}")).await
}
