//! `cargo run --release --bin bench [-- --seconds S --clients N]`
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

// The request builders the tests use, so both follow one element list.
#[path = "../../../tests/common/box_requests.rs"]
#[allow(dead_code)] // the bench uses part of it
mod box_requests;
mod floor;
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
}

fn options() -> Options {
    let mut o = Options {
        seconds: 5,
        clients: 16,
        only: None,
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
            _ => {
                eprintln!(
                    "usage: bench [--seconds S] [--clients N] [--only NAME-PART | --only floor]"
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
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let binary = exe.with_file_name("isds-gateway");
    if !binary.exists() {
        return Err(format!(
            "{} not found: build it first (cargo build --release)",
            binary.display()
        ));
    }
    let dir = std::env::temp_dir().join(format!(
        "isds-bench-{}-{}",
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

fn list_received(limit: usize) -> Vec<u8> {
    envelope(&format!(
        r#"<GetListOfReceivedMessages xmlns="{ISDS_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dmFromTime xsi:nil="true"/><dmToTime xsi:nil="true"/><dmRecipientOrgUnitNum xsi:nil="true"/><dmStatusFilter>-1</dmStatusFilter><dmOffset>1</dmOffset><dmLimit>{limit}</dmLimit></GetListOfReceivedMessages>"#
    ))
}

/// The text of the first `<name>` element of a response.
fn text_of(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
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
        let pid = self.pid();
        let before = proc_mb(pid, "VmRSS:").unwrap_or(0.0);
        reset_peak(pid);
        let req = Arc::new(Request::soap(self.gw.http, path, auth, &envelope));
        drop(envelope);
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
            }
            Err(e) => println!("DummyOperation, --no-ui: {e}"),
        }
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
