//! Shared test harness: a real gateway on ephemeral loopback ports, HTTP and
//! HTTPS clients, SOAP helpers, and response validation with xmllint against
//! the project's and the official schemas.
#![allow(dead_code)] // each test binary uses its own subset

pub mod box_requests;
pub mod messages;

use std::path::{Path, PathBuf};
use std::process::Command;

use std::sync::Arc;

use isds_gateway::config::Config;
use isds_gateway::domain::clock::{Clock, SystemClock, TestClock};
use isds_gateway::http::{self, RunningGateway};
use isds_gateway::xml::{self, Element, ParseLimits, XmlWriter};

pub const ISDS_NS: &str = "http://isds.czechpoint.cz/v20";
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";

/// The demo world's OVM primary user (README, fixtures/demo-world.toml).
pub const OVM_LOGIN: (&str, &str) = ("ovm_starosta", "Demo-Ovm-2026!");
/// The demo world's PO primary user.
pub const PO_LOGIN: (&str, &str) = ("po_jednatel", "Demo-Po-2026!");
/// The demo world's PO entrusted user with rights 9.
pub const PO_ENTRUSTED_LOGIN: (&str, &str) = ("po_ucetni", "Demo-Ucetni-2026!");

/// The gateway binary as a child process serving `dir/data` over plain
/// HTTP on an ephemeral loopback port (no TLS), with `args` after those
/// and `envs` set, its log in `dir/<log_name>`. Returns the child and its
/// HTTP address once the ready file (`dir/ready.json`) names it; panics
/// with the log if the child exits first or is not ready within 60 s. The
/// caller kills the child.
pub async fn spawn_gateway(
    dir: &Path,
    log_name: &str,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (std::process::Child, std::net::SocketAddr) {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let ready = dir.join("ready.json");
    let _ = std::fs::remove_file(&ready);
    let log_path = dir.join(log_name);
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_isds-gateway"))
        .arg("serve")
        .arg("--data")
        .arg(dir.join("data"))
        .args(["--listen", "127.0.0.1:0", "--tls-listen", "off"])
        .arg("--ready-file")
        .arg(&ready)
        .args(args)
        .env_remove("ISDS_GATEWAY_CONFIG")
        .env_remove("ISDS_GATEWAY_DATA")
        .env_remove("ISDS_GATEWAY_LISTEN")
        .env_remove("ISDS_GATEWAY_TLS_LISTEN")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("gateway binary starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(text) = std::fs::read_to_string(&ready)
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(addr) = json["http"].as_str()
        {
            return (child, addr.parse().expect("address in the ready file"));
        }
        let exited = child.try_wait().ok().flatten();
        if exited.is_some() || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("gateway did not become ready (exit {exited:?}):\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `Authorization` header value for HTTP Basic.
pub fn basic(login: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{login}:{password}"))
    )
}

/// A gateway started for one test, with its own data directory.
pub struct TestGateway {
    pub gw: RunningGateway,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    pub https: reqwest::Client,
}

impl TestGateway {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, |_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, adjust).await
    }

    pub async fn start_in(dir: tempfile::TempDir, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_full(dir, adjust, Arc::new(SystemClock)).await
    }

    /// A gateway on a test clock the test can move.
    pub async fn start_clocked() -> (Self, Arc<TestClock>) {
        let clock = TestClock::new();
        let dir = tempfile::tempdir().expect("temp dir");
        let t = Self::start_full(dir, |_| {}, clock.clone()).await;
        (t, clock)
    }

    /// A gateway in `dir` on a test clock the test can move by months:
    /// its passwords stay valid for ten years, so logins outlive the jumps.
    pub async fn start_time_travelling(dir: tempfile::TempDir) -> (Self, Arc<TestClock>) {
        let clock = TestClock::new();
        let t = Self::start_full(
            dir,
            |c| c.auth.password_validity_days = 3_650,
            clock.clone(),
        )
        .await;
        (t, clock)
    }

    pub async fn start_full(
        dir: tempfile::TempDir,
        adjust: impl FnOnce(&mut Config),
        clock: Arc<dyn Clock>,
    ) -> Self {
        let mut config = Config::ephemeral(dir.path().join("data"));
        adjust(&mut config);
        let gw = http::start_with_clock(config, clock)
            .await
            .expect("gateway starts");
        let mut https = reqwest::Client::builder();
        if let Some(ca) = &gw.ca_cert_path {
            let pem = std::fs::read(ca).expect("CA file readable");
            https = https
                .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("CA is PEM"));
        }
        Self {
            http: reqwest::Client::new(),
            https: https.build().expect("https client"),
            gw,
            dir,
        }
    }

    /// Starts a gateway on `dir` the way `serve` does (`http::start`: no
    /// TLS listener, `operator` as the gateway operator; `adjust` sets the
    /// rest, such as a test clock or extra fixtures). Waits out the store
    /// lock of a gateway that has just stopped on the same directory.
    pub async fn serve_on(
        dir: tempfile::TempDir,
        operator: (&str, &str),
        adjust: impl Fn(&mut Config),
    ) -> Self {
        let gw = when_unlocked(|| {
            let mut config = Config::ephemeral(dir.path().join("data"));
            config.tls_listen = None;
            config.operator = Some(isds_gateway::config::OperatorConfig {
                login: operator.0.into(),
                password: operator.1.into(),
            });
            adjust(&mut config);
            async move {
                match http::start(config).await {
                    Err(http::ServeError::Store(e)) => Err(e),
                    Err(e) => panic!("gateway starts: {e}"),
                    Ok(gw) => Ok(gw),
                }
            }
        })
        .await;
        Self {
            gw,
            dir,
            http: reqwest::Client::new(),
            https: reqwest::Client::new(),
        }
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.gw.http_addr)
    }

    /// The HTTPS URL by name (`localhost`), so the server certificate's SAN
    /// is checked for real.
    pub fn https_url(&self, path: &str) -> String {
        let port = self.gw.https_addr.expect("https enabled").port();
        format!("https://localhost:{port}{path}")
    }

    /// POSTs a SOAP 1.1 envelope around `body` to `path` over plain HTTP,
    /// logged in as the demo OVM primary user.
    pub async fn soap(&self, path: &str, body: &str) -> SoapResponse {
        self.soap_as(OVM_LOGIN, path, body).await
    }

    /// POSTs a SOAP 1.1 envelope over plain HTTP with Basic credentials.
    pub async fn soap_as(
        &self,
        (login, password): (&str, &str),
        path: &str,
        body: &str,
    ) -> SoapResponse {
        let req = self
            .http
            .post(self.http_url(path))
            .header("authorization", basic(login, password));
        send(req, soap11(body), "text/xml; charset=utf-8").await
    }

    /// POSTs `payload` as the demo OVM primary user.
    pub async fn post(
        &self,
        client: &reqwest::Client,
        url: &str,
        payload: impl Into<reqwest::Body>,
        content_type: &str,
    ) -> SoapResponse {
        let req = client
            .post(url)
            .header("authorization", basic(OVM_LOGIN.0, OVM_LOGIN.1));
        send(req, payload, content_type).await
    }

    pub async fn stop(self) {
        self.gw.shutdown().await.expect("clean shutdown");
    }
}

/// Sends a prepared request with a SOAP body and collects the answer.
pub async fn send(
    req: reqwest::RequestBuilder,
    payload: impl Into<reqwest::Body>,
    content_type: &str,
) -> SoapResponse {
    let resp = req
        .header("content-type", content_type)
        .header("soapaction", "\"\"")
        .body(payload)
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("response body");
    SoapResponse {
        status,
        content_type,
        headers,
        text,
    }
}

/// A SOAP 1.1 envelope around a body fragment.
/// The XML Schema instance namespace (`xsi:nil` in requests).
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Request element `name` in the ISDS namespace, with `xsi` declared,
/// around `inner`.
pub fn op(name: &str, inner: &str) -> String {
    format!(r#"<{name} xmlns="{ISDS_NS}" xmlns:xsi="{XSI_NS}">{inner}</{name}>"#)
}

pub fn soap11(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP11_NS}"><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"#
    )
}

/// A SOAP 1.2 envelope around a body fragment.
pub fn soap12(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{SOAP12_NS}"><env:Body>{body}</env:Body></env:Envelope>"#
    )
}

#[derive(Debug)]
pub struct SoapResponse {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl SoapResponse {
    /// The parsed envelope's single body element.
    pub fn body(&self) -> Element {
        let root = xml::parse(self.text.as_bytes(), &ParseLimits::default())
            .unwrap_or_else(|e| panic!("response is not XML ({e}):\n{}", self.text));
        assert_eq!(root.name, "Envelope", "{}", self.text);
        let body = root
            .elements()
            .find(|e| e.name == "Body")
            .unwrap_or_else(|| panic!("no Body:\n{}", self.text));
        body.elements()
            .next()
            .unwrap_or_else(|| panic!("empty Body:\n{}", self.text))
            .clone()
    }

    /// The body element re-serialised on its own, namespaces declared.
    pub fn body_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.raw_element(&self.body());
        w.into_string()
    }

    /// `(code, message)` of the `dmStatus`/`dbStatus` block of the body.
    pub fn status(&self) -> (String, String) {
        let body = self.body();
        let block = body
            .elements()
            .find(|e| e.name == "dmStatus" || e.name == "dbStatus")
            .unwrap_or_else(|| panic!("no status block:\n{}", self.text));
        let code = find_text(block, &["dmStatusCode", "dbStatusCode"]);
        let message = find_text(block, &["dmStatusMessage", "dbStatusMessage"]);
        (code, message)
    }

    /// `(faultcode or Code/Value, faultstring or Reason/Text)` of a fault.
    pub fn fault(&self) -> (String, String) {
        let fault = self.body();
        assert_eq!(fault.name, "Fault", "expected a fault:\n{}", self.text);
        if let Some(code) = fault.elements().find(|e| e.name == "faultcode") {
            let string = find_text(&fault, &["faultstring"]);
            return (code.text().trim().to_owned(), string);
        }
        let code = fault
            .elements()
            .find(|e| e.name == "Code")
            .and_then(|c| c.elements().find(|e| e.name == "Value"))
            .map(|v| v.text().trim().to_owned())
            .unwrap_or_default();
        let reason = fault
            .elements()
            .find(|e| e.name == "Reason")
            .and_then(|r| r.elements().find(|e| e.name == "Text"))
            .map(|t| t.text())
            .unwrap_or_default();
        (code, reason)
    }
}

fn find_text(parent: &Element, names: &[&str]) -> String {
    parent
        .elements()
        .find(|e| names.contains(&e.name.as_str()))
        .map(|e| e.text())
        .unwrap_or_default()
}

/// The schema family a response body belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Xsd {
    /// Message services (dz, dx, vodz, arch): `dmBaseTypes.xsd`.
    Dm,
    /// Box services (df, DsManage): `dbTypes.xsd`.
    Db,
}

impl Xsd {
    fn file(self) -> &'static str {
        match self {
            Xsd::Dm => "dmBaseTypes.xsd",
            Xsd::Db => "dbTypes.xsd",
        }
    }
}

pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The official ISDS reference of the current interface (3.11); its
/// absence fails the calling test loudly.
pub fn official_dir() -> PathBuf {
    let dir = repo_dir().join("../shared/isds-reference/official-3.11");
    assert!(
        dir.is_dir(),
        "\n\n!!! The official ISDS reference is missing at {}.\n!!! Responses cannot be validated against the official XSD.\n\n",
        dir.display()
    );
    dir
}

/// Validates a response body element with xmllint against the project's
/// schema and the official one. Panics with xmllint's report on failure.
pub fn assert_valid(body_xml: &str, xsd: Xsd) {
    let tmp = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(tmp.path(), body_xml).expect("write body");
    for schema in [
        repo_dir().join("schemas").join(xsd.file()),
        official_dir().join(xsd.file()),
    ] {
        xmllint(&schema, tmp.path(), body_xml);
    }
}

fn xmllint(schema: &Path, doc: &Path, body_xml: &str) {
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema)
        .arg(doc)
        .output()
        .expect("xmllint must be installed (libxml2-utils); tests/run.sh installs it");
    assert!(
        out.status.success(),
        "response does not validate against {}:\n{}\n{}",
        schema.display(),
        String::from_utf8_lossy(&out.stderr),
        body_xml
    );
}

/// Runs `attempt` until it does not fail for the store's lock: sled's
/// background threads may hold a data directory for a moment after the
/// gateway on it stopped. Any other error fails the test.
pub async fn when_unlocked<T, F, Fut>(mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, isds_gateway::store::StoreError>>,
{
    for _ in 0..100 {
        match attempt().await {
            Ok(v) => return v,
            Err(isds_gateway::store::StoreError::Locked { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("store opens: {e}"),
        }
    }
    panic!("the store stayed locked for 5 s")
}
