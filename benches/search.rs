//! Box search at national scale: synthesises a population into a temporary
//! data directory, serves it in-process and measures search latency over
//! HTTP on loopback.
//!
//! ```text
//! cargo bench --bench search -- [--boxes N] [--seed S] [--queries Q] [--clients C] [--data DIR] [--no-rebuild] [--cache-mb MB] [--dump FILE] [--renames N] [--rounds N]
//! ```
//!
//! `--boxes` defaults to 1,000,000 (the real register holds about a
//! million boxes). `--data DIR` keeps the population in `DIR` and reuses
//! it when it exists (the generation is then skipped; `--no-rebuild`
//! skips the separate index build too). Prints the build
//! time and size of the index and p50/p99 latencies of FindDataBox by IČ,
//! FindDataBox by name and ISDSSearch2 full text (20 results a page), with
//! `--clients` concurrent clients (default 1) sharing the queries, and the
//! gateway's RSS (it runs in this process) after each kind, and the
//! gateway's CPU time per query (the process's less the clients' threads')
//! with its ratio to the floor's. `--dump FILE` appends every query and its
//! answer to `FILE`, to compare the answers of two builds. `--renames N`
//! renames `N` boxes through UpdateDataBoxDescr2 after the start, so the
//! searches run over the index's log. `--rounds N` measures the three
//! kinds N times in one process (the spread of the rounds is the noise a
//! comparison of two builds has to exceed).
//!
//! The client logs in once by HOTP and sends every request in the cookie
//! session (`/apps/DS/df`), so the figures are the search, not the Argon2
//! password check a Basic login pays on every request.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use isds_gateway::config::Config;
use isds_gateway::domain::boxes::otp::{self, OtpKind, OtpSecret};
use isds_gateway::domain::boxes::search_index::{self, TREES};
use isds_gateway::domain::clock::SystemClock;
use isds_gateway::domain::search::{Gross, gross};
use isds_gateway::domain::world::synth::{self, Rng, SynthOptions};
use isds_gateway::domain::{BoxId, UserId};
use isds_gateway::store::{self, Batch, KeyRange, Order};

// The request builders the tests use, so both follow one element list.
#[path = "../tests/common/box_requests.rs"]
#[allow(dead_code)] // the bench uses part of it
mod box_requests;

// The suite's keep-alive client, so both measure with one client.
#[path = "../src/bin/bench/load.rs"]
#[allow(dead_code)] // the bench uses part of it
mod load;

use load::{Connection, Request};

const ISDS_NS: &str = "http://isds.czechpoint.cz/v20";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const OTP_SECRET: &[u8] = b"bench-search-hotp-secret";

struct Args {
    boxes: u64,
    seed: u64,
    queries: usize,
    data: Option<PathBuf>,
    /// Skip rebuilding the index alone (its figures).
    no_rebuild: bool,
    /// The gateway's store page cache in MiB (`store_cache_mb`).
    cache_mb: u64,
    /// Concurrent clients sending the queries.
    clients: usize,
    /// Writes every query and its answer here, to compare two builds.
    dump: Option<PathBuf>,
    /// Boxes renamed through UpdateDataBoxDescr2 after the start, before
    /// the queries: searches then lay the index's log over its snapshot.
    renames: u64,
    /// Times the three kinds are measured, one after another: the spread
    /// of one process's rounds is the noise a comparison must exceed.
    rounds: usize,
}

fn args() -> Args {
    let mut a = Args {
        boxes: 1_000_000,
        seed: 1,
        queries: 500,
        data: None,
        no_rebuild: false,
        cache_mb: store::DEFAULT_CACHE_MB,
        clients: 1,
        dump: None,
        renames: 0,
        rounds: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match arg.as_str() {
            "--boxes" => a.boxes = value().parse().unwrap_or(a.boxes),
            "--seed" => a.seed = value().parse().unwrap_or(a.seed),
            "--queries" => a.queries = value().parse().unwrap_or(a.queries),
            "--data" => a.data = Some(PathBuf::from(value())),
            "--dump" => a.dump = Some(PathBuf::from(value())),
            "--no-rebuild" => a.no_rebuild = true,
            "--renames" => a.renames = value().parse().unwrap_or(0),
            "--cache-mb" => a.cache_mb = value().parse().unwrap_or(a.cache_mb),
            "--clients" => a.clients = value().parse().unwrap_or(a.clients).max(1),
            "--rounds" => a.rounds = value().parse().unwrap_or(a.rounds).max(1),
            // `cargo bench` passes --bench; other flags are ignored.
            _ => {}
        }
    }
    a
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| format!("{:.0} GiB RAM", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cores} cores ({cpu}), {mem}")
}

/// Opens the store, waiting while the handle dropped just before still
/// holds the directory lock (sled releases it a moment later).
fn open_store(dir: &Path) -> Arc<dyn store::Store> {
    let mut tries = 0;
    loop {
        match store::open_sled(dir) {
            Ok(s) => return s,
            Err(_) if tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("store opens: {e:?}"),
        }
    }
}

/// Builds the population, or reuses the one in the directory.
fn populate(data: &Path, a: &Args) -> Duration {
    let store_dir = data.join("store");
    if store_dir.is_dir() {
        println!("reusing the population in {}", data.display());
        let store = open_store(&store_dir);
        set_otp_secret(store.as_ref(), a);
        return Duration::ZERO;
    }
    let store = open_store(&store_dir);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let opts = SynthOptions::new(a.boxes, a.seed, now);
    let started = Instant::now();
    let report = synth::generate(store.as_ref(), &opts, |done| {
        if done.is_multiple_of(100_000) || done == a.boxes {
            eprintln!(
                "  {done} boxes written ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    })
    .expect("the population is written");
    set_otp_secret(store.as_ref(), a);
    println!(
        "population: {} boxes, {} users in {:.1} s ({:.0} boxes/s, index written with them)",
        report.boxes,
        report.users,
        report.elapsed.as_secs_f64(),
        report.boxes as f64 / report.elapsed.as_secs_f64()
    );
    report.elapsed
}

/// Gives the bench user (the first box's primary user) an HOTP secret
/// whose next code is the one for counter 0.
fn set_otp_secret(store: &dyn store::Store, a: &Args) {
    let login = synth::login_of(0, a.seed);
    let user = UserId::parse(&login).expect("synthetic user ID");
    let mut batch = Batch::new();
    otp::put_secret(
        &mut batch,
        &user,
        &OtpSecret {
            kind: OtpKind::Hotp,
            secret: OTP_SECRET.to_vec(),
            counter: 0,
        },
    );
    store.apply_durable(batch).expect("secret stored");
}

/// The index's figures: the size of its trees in the store, and the time
/// and memory the in-memory index takes to build from them (what the
/// gateway does when it starts).
fn index_figures(data: &Path) {
    let store = open_store(&data.join("store"));
    let mut logical = 0u64;
    let mut entries = 0u64;
    for tree in TREES {
        let t = store.tree(tree).expect("tree");
        for e in t.iter(KeyRange::all(), Order::Ascending) {
            let (k, v) = e.expect("entry");
            logical += (k.len() + v.len()) as u64;
            entries += 1;
        }
    }
    search_index::forget(store.as_ref()).expect("index forgotten");
    let started = Instant::now();
    let view = search_index::view(store.as_ref()).expect("index built");
    let build = started.elapsed();
    println!(
        "index: {entries} entries, {} of keys and values in the store; in-memory index of {} boxes built in {:.1} s, {} of arrays (whole store on disk {})",
        mib(logical),
        view.len(),
        build.as_secs_f64(),
        mib(view.heap_bytes() as u64),
        mib(dir_size(&data.join("store")))
    );
    drop(view);
    search_index::forget(store.as_ref()).expect("index forgotten");
}

fn op(name: &str, inner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><{name} xmlns="{ISDS_NS}" xmlns:xsi="{XSI}">{inner}</{name}></soapenv:Body></soapenv:Envelope>"#
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;")
}

fn find_body(values: &[(&str, String)]) -> String {
    let escaped: Vec<(&str, String)> = values.iter().map(|(k, v)| (*k, escape(v))).collect();
    let pairs: Vec<(&str, &str)> = escaped.iter().map(|(k, v)| (*k, v.as_str())).collect();
    op(
        "FindDataBox",
        &box_requests::complex("dbOwnerInfo", box_requests::OWNER_INFO, &pairs),
    )
}

fn search_body(text: &str) -> String {
    op(
        "ISDSSearch2",
        &format!(
            r#"<searchText>{}</searchText><searchType>GENERAL</searchType><searchScope>ALL</searchScope><page>0</page><pageSize>20</pageSize>"#,
            escape(text)
        ),
    )
}

/// The operator of `--renames`.
const OPERATOR: (&str, &str) = ("bench-operator", "Bench-Operator-Heslo-2026");

/// Renames `a.renames` boxes spread over the population through
/// UpdateDataBoxDescr2 (the firm or last name gains a word, the rest of
/// the description stays), skipping removed boxes; returns how many it
/// renamed.
async fn rename_boxes(http: &str, a: &Args) -> u64 {
    let client = reqwest::Client::new();
    let mut done = 0;
    for k in 0..a.renames {
        let i = (k * 7_919 + 13) % a.boxes;
        let Ok(id) = BoxId::parse(&synth::box_id_of(i, a.seed)) else {
            continue;
        };
        let ic = synth::ic_of(i, a.seed);
        let b = synth::synth_box(i, a.seed, id.clone(), &ic, 0).databox;
        let o = &b.owner;
        let ad = &o.address;
        let renamed = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{s} Nová")
            }
        };
        let firm = renamed(&o.firm_name);
        let last = if o.firm_name.is_empty() {
            renamed(&o.last_name)
        } else {
            o.last_name.clone()
        };
        let values: Vec<(&str, String)> = [
            ("ic", o.ic.clone()),
            ("pnGivenNames", o.first_name.clone()),
            ("pnLastName", last),
            ("firmName", firm),
            ("biDate", o.birth_date.clone()),
            ("biCity", o.birth_city.clone()),
            ("adCity", ad.city.clone()),
            ("adDistrict", ad.district.clone()),
            ("adStreet", ad.street.clone()),
            ("adNumberInStreet", ad.number_in_street.clone()),
            ("adNumberInMunicipality", ad.number_in_municipality.clone()),
            ("adZipCode", ad.zip_code.clone()),
            ("adState", ad.state.clone()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, escape(&v)))
        .collect();
        let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let body = op(
            "UpdateDataBoxDescr2",
            &format!(
                "<dbID>{id}</dbID>{}",
                box_requests::complex("dbNewOwnerInfo", box_requests::OWNER_INFO_EXT2, &pairs)
            ),
        );
        let text = client
            .post(format!("http://{http}/DS/DsManage"))
            .basic_auth(OPERATOR.0, Some(OPERATOR.1))
            .header("content-type", "text/xml; charset=utf-8")
            .header("soapaction", "\"\"")
            .body(body)
            .send()
            .await
            .expect("rename sent")
            .text()
            .await
            .expect("rename answered");
        // 1037: the box was removed (state 5) and keeps its description.
        if text.contains("dbStatusCode>1037<") {
            continue;
        }
        assert!(
            text.contains("dbStatusCode>0000<"),
            "rename of {id}: {text}"
        );
        done += 1;
    }
    done
}

/// The three query kinds for one sampled box.
fn queries_for(i: u64, seed: u64) -> Option<[String; 3]> {
    let id = BoxId::parse(&synth::box_id_of(i, seed)).ok()?;
    let ic = synth::ic_of(i, seed);
    let b = synth::synth_box(i, seed, id, &ic, 0).databox;
    let o = &b.owner;
    let gross_name = match gross(b.box_type) {
        Gross::Ovm => "OVM",
        Gross::Po => "PO",
        Gross::Pfo => "PFO",
        Gross::Fo => "FO",
    };
    let by_ic = if o.ic.is_empty() {
        return None;
    } else {
        find_body(&[("dbType", gross_name.to_owned()), ("ic", o.ic.clone())])
    };
    // People by their names and municipality, organisations by their name
    // (the criteria ISDS requires for the type).
    let person = matches!(gross(b.box_type), Gross::Fo | Gross::Pfo);
    let by_name = if person {
        find_body(&[
            ("dbType", b.box_type.name().to_owned()),
            ("pnLastName", o.last_name.clone()),
            ("pnFirstName", o.first_name.clone()),
            ("adCity", o.address.city.clone()),
        ])
    } else {
        find_body(&[
            ("dbType", b.box_type.name().to_owned()),
            ("firmName", o.firm_name.clone()),
        ])
    };
    let full_text = search_body(&format!("{} {}", b.display_name(), o.address.city));
    Some([by_ic, by_name, full_text])
}

/// A logged-in web session: the cookie every query is sent with.
struct Session {
    addr: SocketAddr,
    cookie: String,
}

impl Session {
    /// A query's request, its bytes on the wire prepared before the
    /// clients start.
    fn request(&self, body: &str) -> Request {
        Request::soap_in_session(self.addr, "/apps/DS/df", &self.cookie, body.as_bytes())
    }

    /// A client's own keep-alive connection.
    async fn connect(&self) -> Connection {
        Connection::open(self.addr).await.expect("client connects")
    }
}

/// Sends one query; the answer's bytes as they came (the clients search
/// them for what they keep, without a UTF-8 pass over the whole answer:
/// the clients share the gateway's cores).
async fn call(connection: &mut Connection, request: &Request) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let (status, answer) = connection.exchange(request).await.expect("query answered");
    assert_eq!(status, 200, "a search is answered with HTTP 200");
    (started.elapsed(), answer)
}

async fn login(http: &str, a: &Args) -> Session {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let uri = format!("http://{http}/apps/DS/df");
    let code = otp::format_code(otp::hotp(OTP_SECRET, 0));
    let resp = client
        .post(format!("http://{http}/as/processLogin?type=hotp&uri={uri}"))
        .basic_auth(
            synth::login_of(0, a.seed),
            Some(format!("{}{code}", synth::SYNTH_PASSWORD)),
        )
        .send()
        .await
        .expect("login sent");
    assert_eq!(resp.status().as_u16(), 302, "HOTP login succeeds");
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(isds_gateway::auth::SESSION_COOKIE))
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_owned();
    Session {
        addr: http.parse().expect("gateway address"),
        cookie,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// This process's resident memory and its peak.
fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| mib(kb * 1024))
            .unwrap_or_default()
    };
    format!("{} (peak {})", field("VmRSS:"), field("VmHWM:"))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let a = args();
    println!("machine: {}", machine());
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = a.data.clone().unwrap_or_else(|| tmp.path().join("data"));
    std::fs::create_dir_all(&data).expect("data dir");
    println!(
        "synthesising {} boxes (seed {}) into {}",
        a.boxes,
        a.seed,
        data.display()
    );
    populate(&data, &a);
    if !a.no_rebuild {
        index_figures(&data);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The clients run on a runtime of their own, in threads named
    // CLIENT_THREAD, so the gateway's CPU time is the process's minus
    // theirs (and the main thread's, which drives them).
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(CLIENT_THREAD)
        .enable_all()
        .build()
        .expect("client runtime");
    let mut config = Config::ephemeral(&data);
    config.tls_listen = None;
    config.store_cache_mb = a.cache_mb;
    if a.renames > 0 {
        config.operator = Some(isds_gateway::config::OperatorConfig {
            login: OPERATOR.0.to_owned(),
            password: OPERATOR.1.to_owned(),
        });
    }
    let starting = Instant::now();
    let gw = runtime.block_on(async {
        // sled may hold the directory lock a moment after the last handle.
        let mut tries = 0;
        loop {
            match isds_gateway::http::start_with_clock(config.clone(), Arc::new(SystemClock)).await
            {
                Ok(gw) => break gw,
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("gateway starts: {e}"),
            }
        }
    });
    println!(
        "gateway started in {:.1} s (building the in-memory index); RSS {}",
        starting.elapsed().as_secs_f64(),
        rss()
    );
    let http = gw.http_addr.to_string();
    clients.block_on(async {
        let session = login(&http, &a).await;
        if a.renames > 0 {
            let renamed = rename_boxes(&http, &a).await;
            println!(
                "renamed {renamed} of {} boxes after the start (the others were removed); the index's log lays them over its snapshot",
                a.renames
            );
        }

        let mut rng = Rng::new(a.seed ^ 0xBE7C);
        let mut sets: [Vec<String>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        while sets[0].len() < a.queries + 50 {
            let i = rng.below(a.boxes);
            if let Some(qs) = queries_for(i, a.seed) {
                for (set, q) in sets.iter_mut().zip(qs) {
                    set.push(q);
                }
            }
        }
        let names = [
            "FindDataBox by IČ",
            "FindDataBox by name",
            "ISDSSearch2 full text (name + municipality, 20 a page)",
        ];
        println!(
            "{} queries of each kind over HTTP on loopback, {} client(s), after 50 warm-up queries; load average {}:",
            a.queries,
            a.clients,
            load_average()
        );
        for round in 1..=a.rounds {
            if a.rounds > 1 {
                println!("round {round} of {}:", a.rounds);
            }
            // FindDataBox by IČ, a point lookup with one box to answer, is the
            // floor the searches are compared with.
            let mut floor: Option<(Duration, f64)> = None;
            for (name, set) in names.iter().zip(&sets) {
                measure_kind(&session, &a, name, set, &mut floor).await;
            }
        }
    });
    drop(clients);
    runtime.block_on(gw.shutdown()).expect("clean shutdown");
}

/// Measures one kind of query: 50 warm-up queries, then the rest of `set`
/// shared among the clients, each on its own connection; prints its row.
/// The first kind of a round is the `floor` the others are compared with.
async fn measure_kind(
    session: &Session,
    a: &Args,
    name: &str,
    set: &[String],
    floor: &mut Option<(Duration, f64)>,
) {
    let mut warming = session.connect().await;
    for q in set.iter().take(50) {
        call(&mut warming, &session.request(q)).await;
    }
    // Each client's queries, prepared, and its connection, open,
    // before the clock starts.
    let mut clients = Vec::with_capacity(a.clients);
    for c in 0..a.clients {
        let mine: Vec<(String, Request)> = set
            .iter()
            .skip(50)
            .skip(c)
            .step_by(a.clients)
            .map(|q| (q.clone(), session.request(q)))
            .collect();
        clients.push((mine, session.connect().await));
    }
    let cpu_before = gateway_cpu_s();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (mine, mut connection) in clients {
        let dumping = a.dump.is_some();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(mine.len());
            for (q, request) in &mine {
                let (d, text) = call(&mut connection, request).await;
                // Only what the figures need is kept (the whole
                // answer only for --dump): the answers of a long
                // run would otherwise show in the RSS reported as
                // the gateway's, which shares this process.
                let dump =
                    dumping.then(|| (q.clone(), String::from_utf8_lossy(&text).replace('\n', " ")));
                out.push(Answer::of(d, &text, dump));
            }
            out
        }));
    }
    let mut answers = Vec::with_capacity(a.queries);
    for t in tasks {
        answers.extend(t.await.expect("client task"));
    }
    let wall = started.elapsed();
    let cpu = gateway_cpu_s() - cpu_before;
    let mut times = Vec::with_capacity(a.queries);
    let mut found = 0usize;
    let mut codes = std::collections::BTreeMap::new();
    if let Some(path) = &a.dump {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("dump file opens");
        for (q, text) in answers.iter().filter_map(|x| x.dump.as_ref()) {
            writeln!(file, "{name}\t{q}\t{text}").expect("dump written");
        }
    }
    // The codes of the slowest hundredth, the queries p99 is
    // made of: whether the tail is the long answers (0003, a
    // hundred boxes) or queries waiting behind them.
    answers.sort_by_key(|x| x.took);
    let tail_from = answers.len() - answers.len().div_ceil(100);
    let mut tail_codes = std::collections::BTreeMap::new();
    for (i, x) in answers.into_iter().enumerate() {
        times.push(x.took);
        if x.with_boxes {
            found += 1;
        }
        if i >= tail_from {
            *tail_codes.entry(x.code.clone()).or_insert(0usize) += 1;
        }
        *codes.entry(x.code).or_insert(0usize) += 1;
    }
    let p99 = percentile(&times, 0.99);
    let cpu_ms = cpu * 1000.0 / times.len().max(1) as f64;
    let ratio = match *floor {
        None => {
            *floor = Some((p99, cpu_ms));
            "floor".to_owned()
        }
        Some((f, f_cpu)) => format!(
            "{:.1}x the floor's p99, {:.1}x its CPU",
            p99.as_secs_f64() / f.as_secs_f64().max(1e-9),
            cpu_ms / f_cpu.max(1e-9)
        ),
    };
    let mean = times.iter().sum::<Duration>() / times.len().max(1) as u32;
    println!(
        "  {name:<55} p50 {:>9}  p99 {:>9}  gateway CPU {cpu_ms:.3} ms/query ({ratio})  max {:>9}  mean {:>9}  {:.0} req/s  answered with boxes {found}/{}  codes {codes:?} (slowest 1 %: {tail_codes:?})  load {}  RSS {}",
        ms(percentile(&times, 0.50)),
        ms(p99),
        ms(percentile(&times, 1.0)),
        ms(mean),
        times.len() as f64 / wall.as_secs_f64().max(1e-9),
        times.len(),
        load_average(),
        rss()
    );
}

/// What the figures keep of one answer.
struct Answer {
    took: Duration,
    /// `dbStatusCode`, `????` when there is none.
    code: String,
    /// The answer names a box.
    with_boxes: bool,
    /// The query and the answer on one line, for `--dump`.
    dump: Option<(String, String)>,
}

impl Answer {
    fn of(took: Duration, answer: &[u8], dump: Option<(String, String)>) -> Answer {
        // Elements may carry a namespace prefix (`<p:dbStatusCode>`). The
        // status follows the boxes: searched for from the end, the closing
        // tag first, then the opening one before it.
        let tag = b"dbStatusCode>".as_slice();
        let code = memchr::memmem::rfind(answer, tag)
            .and_then(|close| memchr::memmem::rfind(&answer[..close], tag))
            .and_then(|at| answer.get(at + tag.len()..at + tag.len() + 4))
            .and_then(|code| std::str::from_utf8(code).ok())
            .unwrap_or("????")
            .to_owned();
        Answer {
            took,
            code,
            with_boxes: memchr::memmem::find(answer, b"dbID>").is_some(),
            dump,
        }
    }
}

/// The name of the client runtime's threads.
const CLIENT_THREAD: &str = "bench-client";

/// The CPU time (user and system, seconds) of the gateway in this process:
/// the process's (which counts threads that ended too) minus the clients'
/// threads' and the main thread's.
fn gateway_cpu_s() -> f64 {
    // Fields 14 and 15 (utime, stime) after the command in parentheses.
    let ticks = |stat: &str| -> u64 {
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        // `rest` starts at field 3 (state).
        field(11) + field(12)
    };
    let process = ticks(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default());
    let me = std::process::id().to_string();
    let mut clients = 0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if comm.trim() == CLIENT_THREAD || t.file_name().to_string_lossy() == me {
                clients +=
                    ticks(&std::fs::read_to_string(t.path().join("stat")).unwrap_or_default());
            }
        }
    }
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    process.saturating_sub(clients) as f64 / hz
}

/// The machine's load averages (1, 5, 15 minutes).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
