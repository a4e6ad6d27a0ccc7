//! `cargo run --release --bin bench [-- --seconds S --clients N --ui-boxes B]`
//!
//! Starts the gateway (the release binary next to this one) on loopback,
//! drives it with concurrent keep-alive clients, bounded in count and time,
//! and prints per scenario requests/s, p50/p99/max latency, attachment
//! MB/s, the server's RSS growth (peak during the scenario over its RSS
//! before it), and each figure as a ratio to its physical floor: request
//! rates to a bare hyper server answering a fixed SOAP response, large
//! messages to base64 decoding + SHA-256 of a 20 MB buffer. `--only
//! NAME-PART` runs the scenarios whose name contains it; `--only floor`
//! measures the floors alone, without starting a gateway. Box search at a
//! million boxes has its own benchmark (`cargo bench --bench search`).
//!
//! The inspector's pages are also measured on a large register: a second
//! gateway on a store of `--ui-boxes` synthetic boxes (100,000 by default,
//! written by `isds-gateway fixtures synth`, as an operator would) beside
//! the demo world, one client, so the latency is the server's time.

// The request builders the tests use, so both follow one element list.
#[path = "../../../tests/common/box_requests.rs"]
#[allow(dead_code)] // the bench uses part of it
mod box_requests;
mod floor;
mod lists;
mod load;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use load::{Measured, Request};

const DEMO_WORLD: &str = include_str!("../../../fixtures/demo-world.toml");
const ISDS_NS: &str = "http://isds.czechpoint.cz/v20";
const MB: usize = 1024 * 1024;

struct Options {
    seconds: u64,
    clients: usize,
    /// Run only the scenarios whose name contains this.
    only: Option<String>,
    /// Synthetic boxes of the register the inspector's pages are measured
    /// on (0: not measured).
    ui_boxes: u64,
}

fn options() -> Options {
    let mut o = Options {
        seconds: 5,
        clients: 16,
        only: None,
        ui_boxes: 100_000,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        if args[i] == "--only"
            && let Some(v) = args.get(i + 1)
        {
            o.only = Some(v.clone());
            i += 2;
            continue;
        }
        match (args[i].as_str(), value) {
            ("--seconds", Some(v)) => o.seconds = v.max(1),
            ("--clients", Some(v)) => o.clients = (v as usize).max(1),
            ("--ui-boxes", Some(v)) => o.ui_boxes = v,
            _ => {
                eprintln!(
                    "usage: bench [--seconds S] [--clients N] [--only NAME-PART | --only floor] [--ui-boxes B]"
                );
                std::process::exit(2);
            }
        }
        i += 2;
    }
    o
}

/// The gateway as a child process, so its memory is measured alone.
struct Gateway {
    child: Child,
    http: SocketAddr,
    _dir: PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

/// The gateway operator of the bench's gateways (the inspector's login).
const OPERATOR: (&str, &str) = ("bench", "Bench-Operator-2026!");

fn start_gateway(extra: &[&str]) -> Result<Gateway, String> {
    start_gateway_with(extra, 0)
}

/// Runs `isds-gateway ARGS` to completion (a store command).
fn run_cli(binary: &Path, args: &[&std::ffi::OsStr]) -> Result<(), String> {
    let out = Command::new(binary)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "isds-gateway {:?} failed: {}",
            args,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Starts the gateway; with `synth_boxes` > 0 on a store that holds the
/// demo world and that many synthetic boxes (no users), written before it
/// starts by `isds-gateway fixtures load` and `fixtures synth`.
fn start_gateway_with(extra: &[&str], synth_boxes: u64) -> Result<Gateway, String> {
    start_gateway_full(extra, synth_boxes, |_| Ok(()))
}

/// [`start_gateway`] on a data directory that `seed` writes first.
fn start_gateway_seeded(
    extra: &[&str],
    seed: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<Gateway, String> {
    start_gateway_full(extra, 0, seed)
}

/// [`start_gateway_with`] and then `seed` on its data directory, before
/// the gateway starts.
fn start_gateway_full(
    extra: &[&str],
    synth_boxes: u64,
    seed: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<Gateway, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let binary = exe.with_file_name("isds-gateway");
    if !binary.exists() {
        return Err(format!(
            "{} not found: build it first (cargo build --release)",
            binary.display()
        ));
    }
    let dir = std::env::temp_dir().join(format!(
        "isds-bench-{}-{}-{synth_boxes}",
        std::process::id(),
        extra.join("")
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = dir.join("bench.toml");
    // Benchmarks measure the gateway, not its per-user limits.
    std::fs::write(
        &config,
        "[limits]\nmax_parallel_requests_per_user = 0\nmax_requests_per_user_per_minute = 0\n",
    )
    .map_err(|e| e.to_string())?;
    // The demo world, with room for 50 MB attachments from the OVM box.
    let marker = "id = \"ovm4dem\"\ntype = \"OVM\"\n";
    let world = DEMO_WORLD.replacen(marker, &format!("{marker}attachment_limit_mb = 60\n"), 1);
    let world_file = dir.join("world.toml");
    std::fs::write(&world_file, world).map_err(|e| e.to_string())?;
    if synth_boxes > 0 {
        let data = dir.join("data");
        let count = synth_boxes.to_string();
        run_cli(
            &binary,
            &[
                "fixtures".as_ref(),
                "load".as_ref(),
                world_file.as_os_str(),
                "--init".as_ref(),
                "--data".as_ref(),
                data.as_os_str(),
            ],
        )?;
        run_cli(
            &binary,
            &[
                "fixtures".as_ref(),
                "synth".as_ref(),
                "--boxes".as_ref(),
                count.as_ref(),
                "--no-users".as_ref(),
                "--data".as_ref(),
                data.as_os_str(),
            ],
        )?;
    }
    seed(&dir.join("data"))?;
    let ready = dir.join("ready.json");
    let child = Command::new(&binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-listen", "off"])
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(&config)
        .arg("--ready-file")
        .arg(&ready)
        .arg("--demo-world")
        .arg(&world_file)
        .args(extra)
        .env(
            "ISDS_GATEWAY_OPERATOR",
            format!("{}:{}", OPERATOR.0, OPERATOR.1),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let started = Instant::now();
    let http = loop {
        if let Ok(text) = std::fs::read_to_string(&ready)
            && let Some(addr) = text
                .split('"')
                .skip_while(|s| *s != "http")
                .nth(2)
                .and_then(|a| a.parse().ok())
        {
            break addr;
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err("the gateway did not become ready in 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Gateway {
        child,
        http,
        _dir: dir,
    })
}

/// A memory figure of a process from /proc (Linux): `VmRSS`, `VmHWM`.
fn proc_mb(pid: u32, field: &str) -> Option<f64> {
    let status =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU time (user and system) a process has used so far, in seconds
/// (Linux, `/proc/<pid>/stat`); on a loaded machine steadier than the
/// wall time of what it did.
fn proc_cpu_s(pid: u32) -> Option<f64> {
    let stat =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    clock_ticks().map(|ticks| (utime + stime) / ticks)
}

/// Clock ticks per second, the unit of the times in `/proc/<pid>/stat`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn clock_ticks() -> Option<f64> {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then_some(ticks as f64)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn clock_ticks() -> Option<f64> {
    None
}

/// Resets the peak RSS (`VmHWM`) of a process to its current RSS.
fn reset_peak(pid: u32) {
    let _ = std::fs::write(
        Path::new("/proc").join(pid.to_string()).join("clear_refs"),
        "5",
    );
}

fn basic(login: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{login}:{password}"))
    )
}

fn envelope(body: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>{body}</s:Body></s:Envelope>"#
    )
    .into_bytes()
}

/// Success: the status block (the last thing in every response) says 0000.
fn ok_status(body: &[u8]) -> bool {
    let tail = &body[body.len().saturating_sub(4096)..];
    tail.windows(16).any(|w| w == b"StatusCode>0000<")
}

/// Deterministic, incompressible-looking bytes.
fn payload(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn create_message(size: usize) -> Vec<u8> {
    let content = base64::engine::general_purpose::STANDARD.encode(payload(size));
    envelope(&format!(
        r#"<CreateMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>po4demo</dbIDRecipient><dmAnnotation>Benchmark</dmAnnotation></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="bench.pdf"><dmEncodedContent>{content}</dmEncodedContent></dmFile></dmFiles></CreateMessage>"#
    ))
}

/// [`create_message`] as MTOM/XOP (as JAX-WS sends it): the envelope as
/// the root part, the document as a binary part after it; with its
/// `Content-Type`.
fn create_message_mtom(size: usize) -> (String, Vec<u8>) {
    const BOUNDARY: &str = "uuid:bench-0000-mtom";
    let root = envelope(&format!(
        r#"<CreateMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>po4demo</dbIDRecipient><dmAnnotation>Benchmark</dmAnnotation></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="bench.pdf"><dmEncodedContent><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:document"/></dmEncodedContent></dmFile></dmFiles></CreateMessage>"#
    ));
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"text/xml\"\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <root>\r\n\r\n"
    )
    .into_bytes();
    body.extend(root);
    body.extend(
        format!("\r\n--{BOUNDARY}\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <document>\r\n\r\n").bytes(),
    );
    body.extend(payload(size));
    body.extend(format!("\r\n--{BOUNDARY}--\r\n").bytes());
    let content_type = format!(
        "multipart/related; type=\"application/xop+xml\"; start=\"<root>\"; start-info=\"text/xml\"; boundary=\"{BOUNDARY}\""
    );
    (content_type, body)
}

fn by_id(op: &str, id: &str) -> Vec<u8> {
    envelope(&format!(
        r#"<{op} xmlns="{ISDS_NS}"><dmID>{id}</dmID></{op}>"#
    ))
}

fn find_data_box() -> Vec<u8> {
    let fields = box_requests::fields(
        box_requests::OWNER_INFO,
        &[("dbType", "PO"), ("firmName", "Účetnictví")],
    );
    envelope(&format!(
        r#"<FindDataBox xmlns="{ISDS_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dbOwnerInfo>{fields}</dbOwnerInfo></FindDataBox>"#
    ))
}

/// FindDataBox naming one box by its ID (the full element list, as
/// clients send it, the other fields nil).
fn find_data_box_by_id() -> Vec<u8> {
    let fields = box_requests::fields(box_requests::OWNER_INFO, &[("dbID", "po4demo")]);
    envelope(&format!(
        r#"<FindDataBox xmlns="{ISDS_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dbOwnerInfo>{fields}</dbOwnerInfo></FindDataBox>"#
    ))
}

fn list_received(limit: usize) -> Vec<u8> {
    envelope(&format!(
        r#"<GetListOfReceivedMessages xmlns="{ISDS_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dmFromTime xsi:nil="true"/><dmToTime xsi:nil="true"/><dmRecipientOrgUnitNum xsi:nil="true"/><dmStatusFilter>-1</dmStatusFilter><dmOffset>1</dmOffset><dmLimit>{limit}</dmLimit></GetListOfReceivedMessages>"#
    ))
}

/// The text of the first `<name>` element of a response, with or without
/// a namespace prefix (`<p:dmID>`).
fn text_of(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = [format!("<{name}>"), format!(":{name}>")]
        .iter()
        .filter_map(|open| text.find(open.as_str()).map(|i| i + open.len()))
        .min()?;
    let end = start + text[start..].find('<')?;
    Some(text[start..end].to_owned())
}

/// What a scenario is compared with.
#[derive(Clone, Copy)]
enum Floor {
    /// Requests per second of the bare hyper server.
    Hyper,
    /// MB/s of base64 decoding + SHA-256; the scenario moves `bytes` of
    /// attachment per request.
    Base64Sha256 { bytes: usize },
}

struct Figures {
    hyper_rps: f64,
    b64_mbps: f64,
    peak_rss: f64,
}

struct Bench {
    gw: Gateway,
    only: Option<String>,
    budget: Duration,
    figures: Figures,
}

impl Bench {
    fn pid(&self) -> u32 {
        self.gw.child.id()
    }

    async fn one(&self, path: &str, auth: &str, envelope: &[u8]) -> Option<(u16, Vec<u8>)> {
        let req = Request::soap(self.gw.http, path, auth, envelope);
        load::once(self.gw.http, &req).await.ok()
    }

    #[allow(clippy::too_many_arguments)]
    async fn scenario(
        &mut self,
        name: &str,
        path: &str,
        auth: &str,
        envelope: Vec<u8>,
        clients: usize,
        per_client: usize,
        floor: Floor,
    ) {
        if self
            .only
            .as_ref()
            .is_some_and(|o| !name.contains(o.as_str()))
        {
            return;
        }
        let req = Request::soap(self.gw.http, path, auth, &envelope);
        drop(envelope);
        self.scenario_of(name, req, clients, per_client, floor)
            .await;
    }

    /// [`Bench::scenario`] with a request built by the caller.
    async fn scenario_of(
        &mut self,
        name: &str,
        req: Request,
        clients: usize,
        per_client: usize,
        floor: Floor,
    ) {
        if self
            .only
            .as_ref()
            .is_some_and(|o| !name.contains(o.as_str()))
        {
            return;
        }
        let pid = self.pid();
        let before = proc_mb(pid, "VmRSS:").unwrap_or(0.0);
        reset_peak(pid);
        let req = Arc::new(req);
        let m = load::run(
            self.gw.http,
            req,
            clients,
            per_client,
            self.budget,
            ok_status,
        )
        .await;
        let peak = proc_mb(pid, "VmHWM:").unwrap_or(0.0);
        self.figures.peak_rss = self.figures.peak_rss.max(peak);
        row(name, clients, &m, floor, &self.figures, peak - before);
    }
}

/// UploadAttachment of 100 MB (base64) and BigMessageDownload of a big
/// message of 100 MB on `/DS/vodz`: streamed to and from files, so the
/// RSS growth should not follow the size.
async fn vodz_scenarios(b: &mut Bench, ovm: &str, po: &str) {
    const SIZE: usize = 100 * MB;
    let upload = || {
        let content = base64::engine::general_purpose::STANDARD.encode(payload(SIZE));
        envelope(&format!(
            r#"<UploadAttachment xmlns="{ISDS_NS}"><dmFile dmMimeType="application/pdf" dmFileDescr="bench.pdf"><dmEncodedContent>{content}</dmEncodedContent></dmFile></UploadAttachment>"#
        ))
    };
    b.scenario(
        "UploadAttachment 100 MB",
        "/DS/vodz",
        ovm,
        upload(),
        1,
        3,
        Floor::Base64Sha256 { bytes: SIZE },
    )
    .await;
    if b.only
        .as_ref()
        .is_some_and(|o| !"BigMessageDownload 100 MB".contains(o.as_str()))
    {
        return;
    }
    // One big message to download, delivered by the recipient's listing.
    let Some((_, answer)) = b.one("/DS/vodz", ovm, &upload()).await else {
        println!("BigMessageDownload: the upload failed; skipped");
        return;
    };
    let (Some(att), Some(h1)) = (hash_of(&answer, "dmAttID"), hash_of(&answer, "dmAttHash1"))
    else {
        println!("BigMessageDownload: no upload ID in the answer; skipped");
        return;
    };
    let h2 = hash_of(&answer, "dmAttHash2").unwrap_or_default();
    let create = envelope(&format!(
        r#"<CreateBigMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>po4demo</dbIDRecipient><dmAnnotation>Benchmark</dmAnnotation></dmEnvelope><dmFiles><dmExtFile dmFileMetaType="main" dmAttID="{att}" dmAttHash1="{h1}" dmAttHash1Alg="SHA-256" dmAttHash2="{h2}" dmAttHash2Alg="SHA3-256"/></dmFiles></CreateBigMessage>"#
    ));
    let Some(id) = b
        .one("/DS/vodz", ovm, &create)
        .await
        .and_then(|(_, body)| hash_of(&body, "dmID"))
    else {
        println!("BigMessageDownload: CreateBigMessage failed; skipped");
        return;
    };
    let _ = b.one("/DS/dx", po, &list_received(1)).await;
    b.scenario(
        "BigMessageDownload 100 MB",
        "/DS/vodz",
        po,
        by_id("BigMessageDownload", &id),
        1,
        3,
        Floor::Base64Sha256 { bytes: SIZE },
    )
    .await;
}

/// The text of the first element `name` (any prefix, with or without
/// attributes).
fn hash_of(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let at = text
        .find(&format!(":{name} "))
        .or_else(|| text.find(&format!(":{name}>")))?;
    let start = at + text[at..].find('>')? + 1;
    let end = start + text[start..].find('<')?;
    Some(text[start..end].trim().to_owned())
}

/// The inspector's session cookie after logging in as the operator.
async fn ui_login(addr: SocketAddr) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let form = format!("login={}&password={}", OPERATOR.0, OPERATOR.1);
    let wire = format!(
        "POST /ui/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    stream.write_all(wire.as_bytes()).await.ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok()?;
    answer
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// An inspector page came back whole.
fn html_page(body: &[u8]) -> bool {
    body.starts_with(b"<!DOCTYPE html>") && body.ends_with(b"</html>")
}

fn row(name: &str, clients: usize, m: &Measured, floor: Floor, f: &Figures, rss_growth: f64) {
    let (mb_s, ratio) = match floor {
        Floor::Hyper => ("-".to_owned(), f.hyper_rps / m.per_second().max(1e-9)),
        Floor::Base64Sha256 { bytes } => {
            let mbps = m.per_second() * bytes as f64 / MB as f64;
            (format!("{mbps:.0}"), f.b64_mbps / mbps.max(1e-9))
        }
    };
    println!(
        "{name:<32} {clients:>3} {:>7} {:>5} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {mb_s:>6} {rss_growth:>7.1} {ratio:>8.2}x",
        m.requests,
        m.errors,
        m.per_second(),
        m.percentile(0.50).as_secs_f64() * 1000.0,
        m.percentile(0.99).as_secs_f64() * 1000.0,
        m.max().as_secs_f64() * 1000.0,
    );
}

/// The inspector's box list and message page on a register of
/// `--ui-boxes` synthetic boxes: one client, so p50/p99 are the server's
/// time per page (plus loopback).
async fn ui_on_large_register(o: &Options, ovm: &str, figures: &Figures) {
    let names = [
        "UI box list (50), register",
        "UI box list, later page, register",
        "UI box search by name, register",
        "UI message page, register",
    ];
    if o.only
        .as_ref()
        .is_some_and(|x| !names.iter().any(|n| n.contains(x.as_str())))
    {
        return;
    }
    let t0 = Instant::now();
    let gw = match start_gateway_with(&[], o.ui_boxes) {
        Ok(g) => g,
        Err(e) => {
            println!("UI pages on {} boxes: {e}", o.ui_boxes);
            return;
        }
    };
    println!(
        "(register of {} synthetic boxes + the demo world written and the gateway started in {:.1} s)",
        o.ui_boxes,
        t0.elapsed().as_secs_f64()
    );
    let req = Request::soap(gw.http, "/DS/dz", ovm, &create_message(1024));
    let id = load::once(gw.http, &req)
        .await
        .ok()
        .and_then(|(_, body)| text_of(&body, "dmID"));
    let (Some(cookie), Some(id)) = (ui_login(gw.http).await, id) else {
        println!("UI pages, register: could not send a message or log in; skipped");
        return;
    };
    // A page half-way through the register (box IDs are 7 characters).
    let later = "/ui/boxes?after=m".to_owned();
    let paths = [
        "/ui/boxes".to_owned(),
        later,
        "/ui/boxes?q=novak".to_owned(),
        format!("/ui/message/{id}"),
    ];
    let budget = Duration::from_secs(o.seconds);
    for (name, path) in names.iter().zip(paths) {
        if o.only.as_ref().is_some_and(|x| !name.contains(x.as_str())) {
            continue;
        }
        let req = Arc::new(Request::get(gw.http, &path, &cookie));
        let m = load::run(gw.http, req, 1, 1_000_000, budget, html_page).await;
        row(name, 1, &m, Floor::Hyper, figures, 0.0);
    }
}

#[tokio::main]
async fn main() {
    let o = options();
    // `--only floor`: the floors alone, without a gateway.
    let floors_only = o.only.as_deref() == Some("floor");
    let budget = Duration::from_secs(o.seconds);
    let n = o.clients;
    println!(
        "machine: {} cores; {} s per scenario; loopback HTTP/1.1 keep-alive; gateway as a child process",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        o.seconds
    );

    // The floors, measured in the same run.
    let (b64_mbps, took) = floor::base64_sha256_mb_per_s(20, 3);
    println!(
        "floor: base64 decode + SHA-256 of 20 MB: {:.0} MB/s ({:.1} ms)",
        b64_mbps,
        took.as_secs_f64() * 1000.0
    );
    let (digest_only, dm_hash) = floor::dm_hash_cost(20 * MB, 3);
    println!(
        "upload hashing of a 20 MB document: SHA-256 of the bytes {:.1} ms; with dmHash over the dmDm bytes (base64 + SHA-256 of the text, same pass) {:.1} ms",
        digest_only.as_secs_f64() * 1000.0,
        dm_hash.as_secs_f64() * 1000.0
    );
    let ovm = basic("ovm_starosta", "Demo-Ovm-2026!");
    let po = basic("po_jednatel", "Demo-Po-2026!");
    let dummy = envelope(&format!(r#"<DummyOperation xmlns="{ISDS_NS}"/>"#));
    let floor_addr = match floor::bare_hyper_server().await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench: floor server: {e}");
            std::process::exit(1);
        }
    };
    let floor_req = Arc::new(Request::soap(floor_addr, "/DS/dz", &ovm, &dummy));
    let hyper = load::run(floor_addr, floor_req, n, 1_000_000, budget, ok_status).await;
    println!(
        "floor: bare hyper, fixed SOAP response, {n} clients: {:.0} req/s (p50 {:.2} ms, p99 {:.2} ms)",
        hyper.per_second(),
        hyper.percentile(0.50).as_secs_f64() * 1000.0,
        hyper.percentile(0.99).as_secs_f64() * 1000.0,
    );
    if floors_only {
        return;
    }
    let gw = match start_gateway(&[]) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(1);
        }
    };
    let idle = proc_mb(gw.child.id(), "VmRSS:").unwrap_or(0.0);
    println!("gateway RSS when idle: {idle:.1} MB");
    println!();
    println!(
        "{:<32} {:>3} {:>7} {:>5} {:>9} {:>8} {:>8} {:>8} {:>6} {:>7} {:>9}",
        "scenario",
        "cl",
        "reqs",
        "errs",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "MB/s",
        "RSS+ MB",
        "vs floor"
    );
    let mut b = Bench {
        gw,
        only: o.only.clone(),
        budget,
        figures: Figures {
            hyper_rps: hyper.per_second(),
            b64_mbps,
            peak_rss: 0.0,
        },
    };
    let many = 1_000_000;
    b.scenario(
        "DummyOperation",
        "/DS/dz",
        &ovm,
        dummy.clone(),
        n,
        many,
        Floor::Hyper,
    )
    .await;
    b.scenario(
        "DummyOperation, 1 client",
        "/DS/dz",
        &ovm,
        dummy.clone(),
        1,
        many,
        Floor::Hyper,
    )
    .await;
    b.scenario(
        "FindDataBox",
        "/DS/df",
        &ovm,
        find_data_box(),
        n,
        many,
        Floor::Hyper,
    )
    .await;
    b.scenario(
        "FindDataBox by ID",
        "/DS/df",
        &ovm,
        find_data_box_by_id(),
        n,
        many,
        Floor::Hyper,
    )
    .await;
    b.scenario(
        "CreateMessage 1 KB",
        "/DS/dz",
        &ovm,
        create_message(1024),
        n,
        many,
        Floor::Hyper,
    )
    .await;
    b.scenario(
        "CreateMessage 1 MB",
        "/DS/dz",
        &ovm,
        create_message(MB),
        n,
        many,
        Floor::Base64Sha256 { bytes: MB },
    )
    .await;
    for (size, count) in [(20, 10), (50, 4)] {
        b.scenario(
            &format!("CreateMessage {size} MB"),
            "/DS/dz",
            &ovm,
            create_message(size * MB),
            1,
            count,
            Floor::Base64Sha256 { bytes: size * MB },
        )
        .await;
    }
    // The same 20 MB document as a binary MTOM/XOP part: the gateway
    // encodes it into the envelope as it arrives, then parses as above.
    let (content_type, mtom) = create_message_mtom(20 * MB);
    let req = Request::post(b.gw.http, "/DS/dz", &ovm, &content_type, &mtom);
    drop(mtom);
    b.scenario_of(
        "CreateMessage 20 MB via MTOM",
        req,
        1,
        10,
        Floor::Base64Sha256 { bytes: 20 * MB },
    )
    .await;
    // Large uploads side by side: both cores busy, memory per upload.
    b.scenario(
        "CreateMessage 20 MB, 4 clients",
        "/DS/dz",
        &ovm,
        create_message(20 * MB),
        4,
        5,
        Floor::Base64Sha256 { bytes: 20 * MB },
    )
    .await;

    // Messages to download, one of each size.
    let mut ids = Vec::new();
    for size in [1024, 20 * MB] {
        let id = b
            .one("/DS/dz", &ovm, &create_message(size))
            .await
            .and_then(|(_, body)| text_of(&body, "dmID"));
        ids.push(id);
    }
    // The recipient's first listing delivers every message waiting for it
    // (ISDS: only GetListOfReceivedMessages delivers); done once here, so
    // it is not in the downloads, which need delivered messages.
    let before = proc_mb(b.pid(), "VmRSS:").unwrap_or(0.0);
    reset_peak(b.pid());
    let t0 = Instant::now();
    let _ = b.one("/DS/dx", &po, &list_received(1)).await;
    let peak = proc_mb(b.pid(), "VmHWM:").unwrap_or(0.0);
    b.figures.peak_rss = b.figures.peak_rss.max(peak);
    println!(
        "(first listing of the recipient, delivering the messages sent so far: {:.1} s, RSS {before:.0} MB before, peak {peak:.0} MB)",
        t0.elapsed().as_secs_f64()
    );
    match &ids[..] {
        [Some(small), Some(large)] => {
            b.scenario(
                "MessageDownload 1 KB",
                "/DS/dz",
                &po,
                by_id("MessageDownload", small),
                n,
                many,
                Floor::Hyper,
            )
            .await;
            b.scenario(
                "MessageDownload 20 MB",
                "/DS/dz",
                &po,
                by_id("MessageDownload", large),
                1,
                10,
                Floor::Base64Sha256 { bytes: 20 * MB },
            )
            .await;
            // SignedMessageDownload: measured once the gateway signs; until
            // then the operation answers that it is not implemented.
            let signed = by_id("SignedMessageDownload", small);
            match b.one("/DS/dz", &po, &signed).await {
                Some((200, body)) if ok_status(&body) => {
                    b.scenario(
                        "SignedMessageDownload 1 KB",
                        "/DS/dz",
                        &po,
                        signed,
                        n,
                        many,
                        Floor::Hyper,
                    )
                    .await;
                }
                Some((_, body)) if String::from_utf8_lossy(&body).contains("not implement") => {
                    println!(
                        "{:<32} skipped: the gateway does not implement it yet",
                        "SignedMessageDownload"
                    );
                }
                other => println!(
                    "{:<32} skipped: unexpected answer (HTTP {:?})",
                    "SignedMessageDownload",
                    other.map(|(s, _)| s)
                ),
            }
        }
        _ => println!("MessageDownload: could not send the messages to download; skipped"),
    }
    vodz_scenarios(&mut b, &ovm, &po).await;
    // The inspector: a page of the box list and a message page, server
    // time (loopback), on the demo world's register.
    match (ui_login(b.gw.http).await, ids.first().cloned().flatten()) {
        (Some(cookie), Some(id)) => {
            for (name, path) in [
                ("UI box list (50)", "/ui/boxes".to_owned()),
                ("UI box search by name", "/ui/boxes?q=novak".to_owned()),
                ("UI message page", format!("/ui/message/{id}")),
            ] {
                if b.only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
                    continue;
                }
                let req = Arc::new(Request::get(b.gw.http, &path, &cookie));
                let m = load::run(b.gw.http, req, n, many, b.budget, html_page).await;
                row(name, n, &m, Floor::Hyper, &b.figures, 0.0);
            }
        }
        _ => println!("UI pages: could not log in to the inspector; skipped"),
    }
    b.scenario(
        "GetListOfReceivedMessages (100)",
        "/DS/dx",
        &po,
        list_received(100),
        n,
        many,
        Floor::Hyper,
    )
    .await;
    if o.ui_boxes > 0 {
        ui_on_large_register(&o, &ovm, &b.figures).await;
    }
    // The cockpit watches every exchange; without it (--no-ui) nothing is
    // kept: the difference is what watching costs when nobody looks.
    if o.only
        .as_ref()
        .is_none_or(|x| "DummyOperation, --no-ui".contains(x.as_str()))
    {
        match start_gateway(&["--no-ui"]) {
            Ok(plain) => {
                let mut quiet = Bench {
                    gw: plain,
                    only: None,
                    budget,
                    figures: Figures {
                        hyper_rps: b.figures.hyper_rps,
                        b64_mbps,
                        peak_rss: 0.0,
                    },
                };
                quiet
                    .scenario(
                        "DummyOperation, --no-ui",
                        "/DS/dz",
                        &ovm,
                        dummy.clone(),
                        n,
                        many,
                        Floor::Hyper,
                    )
                    .await;
                // One client: the latency of a single call, the figure
                // to compare with "DummyOperation, 1 client".
                quiet
                    .scenario(
                        "DummyOperation, 1 client, --no-ui",
                        "/DS/dz",
                        &ovm,
                        dummy.clone(),
                        1,
                        many,
                        Floor::Hyper,
                    )
                    .await;
            }
            Err(e) => println!("DummyOperation, --no-ui: {e}"),
        }
    }
    // What group commit gains: the same 1 KB sends on a gateway whose
    // durable writes each run their own flush (`--no-group-commit`).
    let solo = "CreateMessage 1 KB, no group commit";
    if o.only.as_ref().is_none_or(|x| solo.contains(x.as_str())) {
        match start_gateway(&["--no-group-commit"]) {
            Ok(gw) => {
                let mut solo_bench = Bench {
                    gw,
                    only: None,
                    budget,
                    figures: Figures {
                        hyper_rps: b.figures.hyper_rps,
                        b64_mbps,
                        peak_rss: 0.0,
                    },
                };
                solo_bench
                    .scenario(
                        solo,
                        "/DS/dz",
                        &ovm,
                        create_message(1024),
                        n,
                        many,
                        Floor::Hyper,
                    )
                    .await;
            }
            Err(e) => println!("{solo}: {e}"),
        }
    }
    // A box of 100,000 messages: its first listing, and deep pages.
    if o.only
        .as_ref()
        .is_none_or(|x| "List 100 @ of 100k".contains(x.as_str()))
    {
        lists::run(n, budget, &b.figures).await;
    }
    println!();
    println!(
        "gateway peak RSS: {:.1} MB (idle {idle:.1} MB); RSS+ = peak during the scenario over RSS before it",
        b.figures.peak_rss
    );
    println!(
        "vs floor: hyper req/s / gateway req/s, or base64+SHA-256 MB/s / gateway attachment MB/s"
    );
}
