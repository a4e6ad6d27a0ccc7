//! `cargo run --release --bin bench [-- --seconds S --clients N]`
//!
//! Starts the gateway (the release binary next to this one) on loopback,
//! drives it with concurrent keep-alive clients, bounded in count and time,
//! and prints requests/s and p50/p99/max latency per scenario, the
//! server's peak RSS, and each figure next to its physical floor: a bare
//! hyper server answering a fixed SOAP response, and base64 + SHA-256
//! throughput over a 20 MB buffer.

mod floor;
mod load;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use load::{Measured, Request};

struct Options {
    seconds: u64,
    clients: usize,
}

fn options() -> Options {
    let mut o = Options {
        seconds: 5,
        clients: 16,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (args[i].as_str(), value) {
            ("--seconds", Some(v)) => o.seconds = v.max(1),
            ("--clients", Some(v)) => o.clients = (v as usize).max(1),
            _ => {
                eprintln!("usage: bench [--seconds S] [--clients N]");
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

fn start_gateway() -> Result<Gateway, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let binary = exe.with_file_name("isds-gateway");
    if !binary.exists() {
        return Err(format!(
            "{} not found: build it first (cargo build --release)",
            binary.display()
        ));
    }
    let dir = std::env::temp_dir().join(format!("isds-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = dir.join("bench.toml");
    // Benchmarks measure the gateway, not its per-user limits.
    std::fs::write(
        &config,
        "[limits]\nmax_parallel_requests_per_user = 0\nmax_requests_per_user_per_minute = 0\n",
    )
    .map_err(|e| e.to_string())?;
    let ready = dir.join("ready.json");
    let child = Command::new(&binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-listen", "off"])
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(&config)
        .arg("--ready-file")
        .arg(&ready)
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

/// Peak resident set size of a process, from /proc (Linux).
fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
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

fn ok_status(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    text.contains("StatusCode>0000<")
}

fn row(name: &str, m: &Measured, floor: Option<&Measured>) {
    let ratio = floor
        .map(|f| format!("{:>6.2}x", f.per_second() / m.per_second().max(1e-9)))
        .unwrap_or_else(|| "      -".into());
    let mb_s = m.bytes_received as f64 / 1_048_576.0 / m.elapsed.as_secs_f64().max(1e-9);
    println!(
        "{name:<34} {:>8} {:>6} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9.1}  {ratio}",
        m.requests,
        m.errors,
        m.per_second(),
        m.percentile(0.50).as_secs_f64() * 1000.0,
        m.percentile(0.99).as_secs_f64() * 1000.0,
        m.max().as_secs_f64() * 1000.0,
        mb_s,
    );
}

#[tokio::main]
async fn main() {
    let o = options();
    let gw = match start_gateway() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(1);
        }
    };
    let budget = Duration::from_secs(o.seconds);
    let per_client = 1_000_000;
    println!(
        "machine: {} cores; {} clients; {} s per scenario; loopback HTTP/1.1 keep-alive",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        o.clients,
        o.seconds
    );
    println!(
        "{:<34} {:>8} {:>6} {:>10} {:>9} {:>9} {:>9} {:>9}  floor/gw",
        "scenario", "requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms", "MB/s in"
    );

    let dummy = envelope(r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#);
    let auth = basic("ovm_starosta", "Demo-Ovm-2026!");

    let floor_addr = match floor::bare_hyper_server().await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench: floor server: {e}");
            std::process::exit(1);
        }
    };
    let floor_req = Arc::new(Request::soap(floor_addr, "/DS/dz", &auth, &dummy));
    let floor = load::run(
        floor_addr, floor_req, o.clients, per_client, budget, ok_status,
    )
    .await;
    row("floor: bare hyper, fixed response", &floor, None);

    let req = Arc::new(Request::soap(gw.http, "/DS/dz", &auth, &dummy));
    let m = load::run(gw.http, req, o.clients, per_client, budget, ok_status).await;
    row("DummyOperation", &m, Some(&floor));

    let (mbps, took) = floor::base64_sha256_mb_per_s(20, 3);
    println!(
        "floor: base64 decode + SHA-256 of 20 MB: {:.0} MB/s ({:.1} ms)",
        mbps,
        took.as_secs_f64() * 1000.0
    );
    match peak_rss_mb(gw.child.id()) {
        Some(mb) => println!("gateway peak RSS: {mb:.1} MB"),
        None => println!("gateway peak RSS: unavailable (no /proc)"),
    }
}
