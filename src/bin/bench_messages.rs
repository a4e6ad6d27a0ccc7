//! Message benchmark (not a test): starts the gateway in-process on
//! loopback with the demo world plus a box of many received messages, then
//! measures
//! 1. GetListOfReceivedMessages latency on a box holding `--list-messages`
//!    messages (seeded through the message repository in batches): first,
//!    middle and last page by offset, a page by time window, and a state
//!    filter that matches few messages;
//! 2. CreateMessage throughput and p50/p99 latency at `--clients`
//!    concurrent clients with a 1 KB and a 1 MB attachment, logged in with
//!    a system certificate (`/cert`, how records-management systems send in
//!    bulk), and with a password (`/DS`, one password hash check per
//!    request) for comparison;
//! 3. signed downloads (SignedSentMessageDownload: build the message XML,
//!    sign it, time-stamp the signature) of a 1 KB and a 10 MB message at
//!    `--clients` concurrent clients.
//!
//! `--only signed` runs the signed downloads alone (no seeding).
//!
//! Each client keeps one HTTP/1.1 connection. Each run stops after its
//! request count or its time budget, whichever comes first.
//!
//! Run it in release mode: `cargo run --release --bin bench_messages`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use isds_gateway::config::Config;
use isds_gateway::domain::clock::SystemClock;
use isds_gateway::domain::messages::message::{Message, MessageId, MessageState, Party, Timestamp};
use isds_gateway::domain::messages::wire::compute_hash;
use isds_gateway::domain::{BoxId, BoxType, messages};
use isds_gateway::store::{self, Batch};

#[derive(Parser, Debug)]
#[command(about = "CreateMessage and GetListOfReceivedMessages benchmark")]
struct Args {
    /// Concurrent clients for CreateMessage.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Most CreateMessage requests per run with the 1 KB attachment.
    #[arg(long, default_value_t = 20_000)]
    small_count: usize,
    /// Most CreateMessage requests per run with the 1 MB attachment.
    #[arg(long, default_value_t = 1_000)]
    big_count: usize,
    /// Time budget per CreateMessage run, in seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Messages in the received box for the list benchmark.
    #[arg(long, default_value_t = 100_000)]
    list_messages: usize,
    /// Repetitions of each list request.
    #[arg(long, default_value_t = 30)]
    list_repeats: usize,
    /// Most signed downloads per run of the 1 KB message.
    #[arg(long, default_value_t = 5_000)]
    signed_small_count: usize,
    /// Most signed downloads per run of the 10 MB message.
    #[arg(long, default_value_t = 100)]
    signed_big_count: usize,
    /// Run only this scenario (`signed`); all by default.
    #[arg(long)]
    only: Option<String>,
}

const NS: &str = "http://isds.czechpoint.cz/v20";
const PO_LOGIN: (&str, &str) = ("po_jednatel", "Demo-Po-2026!");
/// Messages per batch when seeding.
const SEED_BATCH: usize = 2_000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let dir = tempfile_dir()?;
    let data = dir.join("data");
    println!("# isds-gateway message benchmark");
    println!(
        "machine: {} CPU(s), {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::env::consts::ARCH
    );

    // A system certificate for po4demo, registered through the world file.
    let app = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "po4demo benchmark");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let app_cert = params.self_signed(&app)?;
    std::fs::write(dir.join("app.pem"), app_cert.pem())?;
    let world = isds_gateway::domain::world::DEMO_WORLD.replace(
        "id = \"po4demo\"\n",
        "id = \"po4demo\"\ncertificates = [\"app.pem\"]\n",
    );
    std::fs::write(dir.join("world.toml"), world)?;

    let signed_only = match args.only.as_deref() {
        None => false,
        Some("signed") => true,
        Some(other) => return Err(format!("unknown scenario {other} (known: signed)").into()),
    };
    let list_messages = if signed_only { 0 } else { args.list_messages };
    let t = Instant::now();
    let recent = seed(&data, list_messages)?;
    println!(
        "seeded {} received messages into po4demo in {:.1} s",
        list_messages,
        t.elapsed().as_secs_f64()
    );

    let mut config = Config::ephemeral(&data);
    config.demo_world = Some(dir.join("world.toml"));
    let gw = isds_gateway::http::start_with_clock(config, Arc::new(SystemClock)).await?;
    let https = gw.https_addr.ok_or("HTTPS listener is off")?;
    let ca_pem = std::fs::read(gw.ca_cert_path.as_ref().ok_or("no local CA")?)?;
    let tls = tls_client(&ca_pem, &app_cert, &app)?;
    let target = Target {
        http: gw.http_addr,
        https,
        tls,
    };

    if signed_only {
        signed_benchmarks(&target, &args).await?;
        gw.shutdown().await?;
        std::fs::remove_dir_all(&dir).ok();
        return Ok(());
    }
    list_benchmark(&target, &args, recent).await?;

    println!("\n## CreateMessage, {} concurrent clients", args.clients);
    println!(
        "| login | attachment | requests | seconds | messages/s | MB/s in | p50 ms | p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (auth, size, count) in [
        (Auth::Certificate, 1024, args.small_count),
        (Auth::Certificate, 1024 * 1024, args.big_count),
        (Auth::Password, 1024, args.small_count),
    ] {
        create_benchmark(&target, &args, auth, size, count).await?;
    }
    signed_benchmarks(&target, &args).await?;
    gw.shutdown().await?;
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf, BoxError> {
    let dir = std::env::temp_dir().join(format!("isds-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Writes `n` messages from ovm4dem to po4demo, one millisecond apart and
/// ending an hour ago, in states 5..9 in turn. Returns the submission time
/// of the 100th newest.
fn seed(data: &Path, n: usize) -> Result<Timestamp, BoxError> {
    let store = store::open_sled(&data.join("store"))?;
    let sender = Party {
        box_id: BoxId::parse("ovm4dem")?,
        name: "Městský úřad Dolní Lhota".into(),
        address: "Náměstí Míru 1, 74766 Dolní Lhota".into(),
        box_type: BoxType::OVM,
        system: false,
    };
    let recipient = Party {
        box_id: BoxId::parse("po4demo")?,
        name: "Účetnictví Novák s.r.o.".into(),
        address: "Údolní 53, 60200 Brno".into(),
        box_type: BoxType::PO,
        system: false,
    };
    let now = Timestamp::now(&SystemClock);
    let start = now.plus_micros(-3_600_000_000 - (n as i64) * 1_000);
    let doc = b"%PDF-1.4 seeded document".to_vec();
    let states = [
        MessageState::AcceptedByFiction,
        MessageState::AcceptedByLogin,
        MessageState::Read,
        MessageState::Undeliverable,
        MessageState::ContentDeleted,
    ];
    let mut batch = Batch::new();
    for i in 0..n {
        let at = start.plus_micros(i as i64 * 1_000);
        let state = states[i % states.len()];
        let deleted = state == MessageState::ContentDeleted;
        let mut m = Message::seeded_delivered(
            MessageId(MessageId::BASE + 1_000_000_000 + i as u64),
            sender.clone(),
            recipient.clone(),
            format!("Zpráva číslo {i}"),
            "zprava.pdf",
            doc.len() as u64,
            at,
        );
        m.envelope.ovm = true;
        m.state = state;
        m.acceptance_time = state.is_accepted().then_some(at);
        m.content_deleted = deleted;
        let docs = if deleted { vec![] } else { vec![doc.clone()] };
        m.hash = compute_hash(&m, &[doc.as_slice()])?;
        messages::repo::stage_insert_message(&mut batch, &m, &docs);
        if batch.len() >= SEED_BATCH * 5 {
            store.apply(std::mem::take(&mut batch))?;
        }
    }
    store.apply_durable(batch)?;
    Ok(start.plus_micros(n.saturating_sub(100) as i64 * 1_000))
}

fn tls_client(
    ca_pem: &[u8],
    cert: &rcgen::Certificate,
    key: &rcgen::KeyPair,
) -> Result<tokio_rustls::TlsConnector, BoxError> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut &ca_pem[..]) {
        roots.add(c?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(isds_gateway::tls::crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )?;
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// The box's system certificate on `/cert`.
    Certificate,
    /// po_jednatel's password on `/DS`.
    Password,
}

struct Target {
    http: std::net::SocketAddr,
    https: std::net::SocketAddr,
    tls: tokio_rustls::TlsConnector,
}

/// One client connection (HTTP/1.1 keep-alive).
struct Client {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    auth: Auth,
}

impl Client {
    async fn connect(target: &Target, auth: Auth) -> Result<Self, BoxError> {
        let sender = match auth {
            Auth::Certificate => {
                let tcp = TcpStream::connect(target.https).await?;
                tcp.set_nodelay(true)?;
                let name = rustls::pki_types::ServerName::try_from("localhost")?;
                let tls = target.tls.connect(name, tcp).await?;
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
                tokio::spawn(conn);
                sender
            }
            Auth::Password => {
                let tcp = TcpStream::connect(target.http).await?;
                tcp.set_nodelay(true)?;
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
                tokio::spawn(conn);
                sender
            }
        };
        Ok(Self { sender, auth })
    }

    /// Posts a SOAP body to the endpoint (`dz`, `dx`) and returns the
    /// response text.
    async fn call(&mut self, endpoint: &str, body: Bytes) -> Result<String, BoxError> {
        let (path, authorization) = match self.auth {
            Auth::Certificate => (format!("/cert/DS/{endpoint}"), None),
            Auth::Password => {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", PO_LOGIN.0, PO_LOGIN.1));
                (format!("/DS/{endpoint}"), Some(format!("Basic {token}")))
            }
        };
        let mut req = Request::post(path)
            .header("host", "localhost")
            .header("content-type", "text/xml; charset=utf-8")
            .header("soapaction", "\"\"");
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        self.sender.ready().await?;
        let resp = self.sender.send_request(req.body(Full::new(body))?).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if !status.is_success() {
            return Err(format!("HTTP {status}: {text}").into());
        }
        Ok(text)
    }
}

fn envelope(body: &str) -> Bytes {
    Bytes::from(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>{body}</s:Body></s:Envelope>"#
    ))
}

fn ok_status(text: &str) -> bool {
    text.contains("<dmStatusCode>0000</dmStatusCode>")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

async fn list_benchmark(target: &Target, args: &Args, recent: Timestamp) -> Result<(), BoxError> {
    let n = args.list_messages;
    let mut client = Client::connect(target, Auth::Certificate).await?;
    let list = |from: Option<String>, filter: &str, offset: usize, limit: usize| {
        let from = match from {
            Some(t) => format!("<dmFromTime>{t}</dmFromTime>"),
            None => r#"<dmFromTime xsi:nil="true"/>"#.to_owned(),
        };
        envelope(&format!(
            r#"<GetListOfReceivedMessages xmlns="{NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{from}<dmToTime xsi:nil="true"/><dmRecipientOrgUnitNum xsi:nil="true"/><dmStatusFilter>{filter}</dmStatusFilter><dmOffset>{offset}</dmOffset><dmLimit>{limit}</dmLimit></GetListOfReceivedMessages>"#
        ))
    };
    let cases: Vec<(String, Bytes, usize)> = vec![
        (
            "first page, 100 records".into(),
            list(None, "-1", 1, 100),
            100,
        ),
        (
            format!("page at offset {}, 100 records", n / 2),
            list(None, "-1", n / 2, 100),
            100,
        ),
        (
            format!("last page (offset {}), 100 records", n.saturating_sub(99)),
            list(None, "-1", n.saturating_sub(99), 100),
            100,
        ),
        (
            "first page, 1000 records".into(),
            list(None, "-1", 1, 1_000),
            1_000,
        ),
        (
            "newest messages by dmFromTime, 100 records".into(),
            list(Some(recent.to_xml()), "-1", 1, 100),
            100,
        ),
        (
            "state filter matching nothing (state 4), whole box scanned".into(),
            list(None, "16", 1, 100),
            0,
        ),
    ];
    println!(
        "\n## GetListOfReceivedMessages on a box of {n} messages (system certificate login, one client)"
    );
    println!("| request | records | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    for (name, body, expect) in cases {
        let mut times = Vec::with_capacity(args.list_repeats);
        let mut records = 0;
        for _ in 0..args.list_repeats {
            let t = Instant::now();
            let text = client.call("dx", body.clone()).await?;
            times.push(t.elapsed());
            if !ok_status(&text) {
                return Err(format!("{name}: {text}").into());
            }
            records = text.matches("<dmRecord ").count() + text.matches("<dmRecord>").count();
        }
        if expect > 0 && records != expect {
            return Err(format!("{name}: {records} records, expected {expect}").into());
        }
        times.sort();
        println!(
            "| {name} | {records} | {:.1} | {:.1} | {:.1} |",
            ms(percentile(&times, 50.0)),
            ms(percentile(&times, 99.0)),
            ms(*times.last().unwrap_or(&Duration::ZERO)),
        );
    }
    Ok(())
}

async fn create_benchmark(
    target: &Target,
    args: &Args,
    auth: Auth,
    size: usize,
    count: usize,
) -> Result<(), BoxError> {
    let attachment: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let content = base64::engine::general_purpose::STANDARD.encode(&attachment);
    let body = envelope(&format!(
        r#"<CreateMessage xmlns="{NS}"><dmEnvelope><dbIDRecipient>ovm4dem</dbIDRecipient><dmAnnotation>Benchmark</dmAnnotation></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="priloha.pdf"><dmEncodedContent>{content}</dmEncodedContent></dmFile></dmFiles></CreateMessage>"#
    ));
    let issued = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let mut client = Client::connect(target, auth).await?;
        let issued = issued.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < count {
                let t = Instant::now();
                let text = client.call("dz", body.clone()).await?;
                times.push(t.elapsed());
                if !ok_status(&text) {
                    return Err::<_, BoxError>(format!("CreateMessage failed: {text}").into());
                }
            }
            Ok(times)
        }));
    }
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    times.sort();
    let n = times.len();
    let label = match auth {
        Auth::Certificate => "system certificate",
        Auth::Password => "password",
    };
    let size_label = if size >= 1024 * 1024 {
        format!("{} MB", size / (1024 * 1024))
    } else {
        format!("{} KB", size / 1024)
    };
    println!(
        "| {label} | {size_label} | {n} | {elapsed:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
        n as f64 / elapsed,
        (n * body.len()) as f64 / elapsed / 1e6,
        ms(percentile(&times, 50.0)),
        ms(percentile(&times, 99.0)),
    );
    Ok(())
}

async fn signed_benchmarks(target: &Target, args: &Args) -> Result<(), BoxError> {
    println!(
        "\n## SignedSentMessageDownload, {} concurrent clients, system certificate",
        args.clients
    );
    println!(
        "| attachment | .zfo bytes | requests | seconds | downloads/s | MB/s out | p50 ms | p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (size, count) in [
        (1024, args.signed_small_count),
        (10 * 1024 * 1024, args.signed_big_count),
    ] {
        signed_benchmark(target, args, size, count).await?;
    }
    Ok(())
}

/// Sends one message with a `size`-byte attachment from po4demo, then has
/// `--clients` clients download it signed (as its sender) until `count`
/// downloads or the time budget.
async fn signed_benchmark(
    target: &Target,
    args: &Args,
    size: usize,
    count: usize,
) -> Result<(), BoxError> {
    let attachment: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let content = base64::engine::general_purpose::STANDARD.encode(&attachment);
    let create = envelope(&format!(
        r#"<CreateMessage xmlns="{NS}"><dmEnvelope><dbIDRecipient>ovm4dem</dbIDRecipient><dmAnnotation>Signed benchmark</dmAnnotation></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="priloha.pdf"><dmEncodedContent>{content}</dmEncodedContent></dmFile></dmFiles></CreateMessage>"#
    ));
    let mut client = Client::connect(target, Auth::Certificate).await?;
    let text = client.call("dz", create).await?;
    let id = text
        .split("<dmID>")
        .nth(1)
        .and_then(|rest| rest.split("</dmID>").next())
        .ok_or_else(|| format!("CreateMessage answered no dmID: {text}"))?
        .to_owned();
    let body = envelope(&format!(
        r#"<SignedSentMessageDownload xmlns="{NS}"><dmID>{id}</dmID></SignedSentMessageDownload>"#
    ));
    let zfo_len = {
        let text = client.call("dz", body.clone()).await?;
        if !ok_status(&text) {
            return Err(format!("SignedSentMessageDownload failed: {text}").into());
        }
        text.split("<dmSignature>")
            .nth(1)
            .and_then(|rest| rest.split("</dmSignature>").next())
            .map_or(0, |b64| b64.len() / 4 * 3)
    };
    let issued = Arc::new(AtomicUsize::new(0));
    let received = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let mut client = Client::connect(target, Auth::Certificate).await?;
        let issued = issued.clone();
        let received = received.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < count {
                let t = Instant::now();
                let text = client.call("dz", body.clone()).await?;
                times.push(t.elapsed());
                received.fetch_add(text.len(), Ordering::Relaxed);
                if !ok_status(&text) {
                    return Err::<_, BoxError>(
                        format!("SignedSentMessageDownload failed: {text}").into(),
                    );
                }
            }
            Ok(times)
        }));
    }
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    times.sort();
    let n = times.len();
    let size_label = if size >= 1024 * 1024 {
        format!("{} MB", size / (1024 * 1024))
    } else {
        format!("{} KB", size / 1024)
    };
    println!(
        "| {size_label} | {zfo_len} | {n} | {elapsed:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
        n as f64 / elapsed,
        received.load(Ordering::Relaxed) as f64 / elapsed / 1e6,
        ms(percentile(&times, 50.0)),
        ms(percentile(&times, 99.0)),
    );
    Ok(())
}
