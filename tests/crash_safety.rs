//! Crash safety: the real `isds-gateway` binary runs as a child process
//! while several clients send messages (small ones and ~1 MB
//! attachments); it is killed with SIGKILL at an unannounced moment,
//! restarted on the same data directory, and then checked through the SOAP
//! interface:
//!
//! - every message whose `dmID` was answered (0000) is there: the
//!   recipient downloads exactly the bytes sent, `VerifyMessage` gives the
//!   hash of the download, the sender's list shows it;
//! - nothing half-written is visible: every listed message downloads
//!   completely with all its documents; a message whose answer never
//!   arrived is either absent or complete;
//! - the gateway keeps working (a new message is accepted).
//!
//! Several kill/restart rounds run on the same data directory. Loopback
//! only, bounded by counts and timeouts; the child is killed on failure.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use isds_gateway::xml::{self, Element, ParseLimits};

const DZ: &str = "/DS/dz";
const DX: &str = "/DS/dx";
const FO_LOGIN: (&str, &str) = ("fo_cerny", "Demo-Fo-2026!");

/// Kill/restart rounds on one data directory.
const ROUNDS: usize = 5;
/// Concurrent sending clients per round.
const CLIENTS: usize = 8;
/// The group-commit round after the others: this many clients, small
/// messages only (many commits per flush).
const GROUP_CLIENTS: usize = 16;
/// Messages one client sends at most per round.
const MAX_PER_CLIENT: usize = 60;
/// The kill comes this long into the sending (uniform, milliseconds)...
const KILL_AFTER_MS: std::ops::Range<u64> = 200..800;
/// ...but not before the first answer of the round, waited for this long
/// at most (an unoptimised build needs a while for a 1 MB message).
const FIRST_ANSWER_WAIT: Duration = Duration::from_secs(20);
/// Once an answer came, the kill follows within this many milliseconds
/// (uniform), so it may hit any stage of the requests in flight.
const AFTER_FIRST_ANSWER_MS: u64 = 400;
/// The large document: 48 bytes naming the message, then this many bytes
/// shared by all large messages of a client (a multiple of 3, so the base64
/// text is the two texts concatenated).
const LARGE_TAIL: usize = 1_048_575;
const LARGE_HEAD: usize = 48;

/// (login, password).
type Login = (&'static str, &'static str);

/// Who sends to whom: (sender login, recipient box, recipient login).
const ROUTES: [(Login, &str, Login); 3] = [
    (PO_LOGIN, "ovm4dem", OVM_LOGIN),
    (FO_LOGIN, "ovm4dem", OVM_LOGIN),
    (OVM_LOGIN, "po4demo", PO_LOGIN),
];

/// xorshift64: reproducible, incompressible-looking bytes and delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| (self.next() >> 24) as u8).collect()
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A document as sent: `head` followed by `tail` (if any).
#[derive(Clone)]
struct Doc {
    name: String,
    head: Vec<u8>,
    tail: Option<Arc<(Vec<u8>, String)>>,
}

impl Doc {
    fn len(&self) -> usize {
        self.head.len() + self.tail.as_ref().map_or(0, |t| t.0.len())
    }

    fn matches(&self, got: &[u8]) -> bool {
        got.len() == self.len()
            && got[..self.head.len()] == self.head[..]
            && self
                .tail
                .as_ref()
                .is_none_or(|t| got[self.head.len()..] == t.0[..])
    }

    fn encoded(&self) -> String {
        let mut text = b64(&self.head);
        if let Some(t) = &self.tail {
            text.push_str(&t.1);
        }
        text
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// The request is out; no answer (yet).
    Pending,
    /// 0000 with this dmID.
    Acked(String),
    /// An answer other than 0000 (never expected).
    Refused(String),
}

/// One CreateMessage as sent, keyed by its annotation (unique).
#[derive(Clone)]
struct Attempt {
    sender: Login,
    recipient_login: Login,
    docs: Vec<Doc>,
    outcome: Outcome,
}

type Ledger = Arc<Mutex<HashMap<String, Attempt>>>;

fn create_body(recipient: &str, tag: &str, docs: &[Doc]) -> String {
    let files: String = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let meta = if i == 0 { "main" } else { "enclosure" };
            format!(
                r#"<dmFile dmMimeType="application/pdf" dmFileMetaType="{meta}" dmFileDescr="{}"><dmEncodedContent>{}</dmEncodedContent></dmFile>"#,
                d.name,
                d.encoded()
            )
        })
        .collect();
    soap11(&format!(
        r#"<CreateMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>{recipient}</dbIDRecipient><dmAnnotation>{tag}</dmAnnotation></dmEnvelope><dmFiles>{files}</dmFiles></CreateMessage>"#
    ))
}

/// The documents of one message: a small main PDF, and for every other
/// message a ~1 MB enclosure.
fn documents(rng: &mut Rng, tag: &str, large: Option<&Arc<(Vec<u8>, String)>>) -> Vec<Doc> {
    let mut main = format!("%PDF-1.4\n% {tag}\n").into_bytes();
    let extra = 200 + rng.below(3000) as usize;
    main.extend(rng.bytes(extra));
    main.extend_from_slice(b"\n%%EOF\n");
    let mut docs = vec![Doc {
        name: "zadost.pdf".into(),
        head: main,
        tail: None,
    }];
    if let Some(tail) = large {
        let mut head = format!("%PDF-1.4\n% {tag}\n").into_bytes();
        head.resize(LARGE_HEAD, b' ');
        docs.push(Doc {
            name: "priloha.pdf".into(),
            head,
            tail: Some(Arc::clone(tail)),
        });
    }
    docs
}

/// The gateway binary as a child process; killed when dropped.
struct Server {
    child: Option<Child>,
    http: String,
}

impl Server {
    async fn start(dir: &Path, round: usize) -> Server {
        let (child, addr) = spawn_gateway(dir, &format!("server-{round}.log"), &[], &[]).await;
        Server {
            child: Some(child),
            http: format!("http://{addr}"),
        }
    }

    /// SIGKILL (std's `Child::kill` on Unix), then reap it.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.http)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn call(
    client: &reqwest::Client,
    server: &Server,
    who: (&str, &str),
    path: &str,
    body: &str,
) -> SoapResponse {
    let req = client
        .post(server.url(path))
        .header("authorization", basic(who.0, who.1));
    let resp = send(req, soap11(body), "text/xml; charset=utf-8").await;
    assert_eq!(resp.status, 200, "{:.2000}", resp.text);
    resp
}

fn child<'a>(el: &'a Element, name: &str) -> &'a Element {
    el.elements()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no {name} in {}", el.name))
}

fn text_of(el: &Element, path: &[&str]) -> String {
    path.iter().fold(el, |e, name| child(e, name)).text()
}

/// The body element of a SOAP response (large base64 kept decoded).
fn body_of(text: &str) -> Element {
    let root = xml::parse(text.as_bytes(), &ParseLimits::default())
        .unwrap_or_else(|e| panic!("response is not XML ({e}): {:.2000}", text));
    let body = child(&root, "Body");
    body.elements().next().expect("body element").clone()
}

fn status_code(body: &Element) -> String {
    text_of(body, &["dmStatus", "dmStatusCode"])
}

fn id_body(op: &str, id: &str) -> String {
    format!(r#"<{op} xmlns="{ISDS_NS}"><dmID>{id}</dmID></{op}>"#)
}

fn list_body(op: &str) -> String {
    let unit = if op == "GetListOfSentMessages" {
        "dmSenderOrgUnitNum"
    } else {
        "dmRecipientOrgUnitNum"
    };
    format!(
        r#"<{op} xmlns="{ISDS_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dmFromTime xsi:nil="true"/><dmToTime xsi:nil="true"/><{unit} xsi:nil="true"/><dmStatusFilter>-1</dmStatusFilter><dmOffset>1</dmOffset><dmLimit>10000</dmLimit></{op}>"#
    )
}

/// (dmID, dmAnnotation) of every record of a list, validated.
async fn list(
    client: &reqwest::Client,
    server: &Server,
    who: (&str, &str),
    op: &str,
) -> Vec<(String, String)> {
    let resp = call(client, server, who, DX, &list_body(op)).await;
    assert_valid(&resp.body_xml(), Xsd::Dm);
    let body = resp.body();
    assert_eq!(status_code(&body), "0000", "{:.2000}", resp.text);
    let Some(records) = body.elements().find(|e| e.name == "dmRecords") else {
        return Vec::new();
    };
    let out: Vec<(String, String)> = records
        .elements()
        .map(|r| (text_of(r, &["dmID"]), text_of(r, &["dmAnnotation"])))
        .collect();
    assert!(out.len() < 10_000, "list longer than one page");
    out
}

/// The decoded bytes of a `dmEncodedContent`.
fn content(file: &Element) -> Vec<u8> {
    let enc = child(file, "dmEncodedContent");
    if let Some(b) = enc.binary() {
        return b.to_vec();
    }
    let clean: String = enc.text().chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .expect("document is base64")
}

/// Downloads `id` as the recipient and checks that it is complete: 0000,
/// every document there, the bytes sent (when `expected` is known), the
/// annotation, and VerifyMessage's hash equal to the download's.
async fn check_download(
    client: &reqwest::Client,
    server: &Server,
    recipient: (&str, &str),
    id: &str,
    expected: Option<(&str, &[Doc])>,
    validate: bool,
) {
    let resp = call(
        client,
        server,
        recipient,
        DZ,
        &id_body("MessageDownload", id),
    )
    .await;
    if validate {
        assert_valid(&resp.body_xml(), Xsd::Dm);
    }
    let body = body_of(&resp.text);
    assert_eq!(
        status_code(&body),
        "0000",
        "listed message {id} does not download: {:.2000}",
        resp.text
    );
    let msg = child(&body, "dmReturnedMessage");
    let dm = child(msg, "dmDm");
    assert_eq!(text_of(dm, &["dmID"]), id);
    let files: Vec<&Element> = child(dm, "dmFiles").elements().collect();
    assert!(!files.is_empty(), "message {id} without documents");
    if let Some((tag, docs)) = expected {
        assert_eq!(text_of(dm, &["dmAnnotation"]), tag, "message {id}");
        assert_eq!(files.len(), docs.len(), "documents of {id} ({tag})");
        for (file, doc) in files.iter().zip(docs) {
            assert_eq!(file.attr("dmFileDescr"), Some(doc.name.as_str()));
            let got = content(file);
            assert!(
                doc.matches(&got),
                "document {} of {id} ({tag}): {} bytes back, {} sent, or different bytes",
                doc.name,
                got.len(),
                doc.len()
            );
        }
    } else {
        for file in &files {
            let _ = content(file);
        }
    }
    let hash = child(msg, "dmHash").text();
    assert!(!hash.trim().is_empty(), "message {id} without hash");

    let resp = call(client, server, recipient, DX, &id_body("VerifyMessage", id)).await;
    if validate {
        assert_valid(&resp.body_xml(), Xsd::Dm);
    }
    let body = resp.body();
    assert_eq!(status_code(&body), "0000", "{:.2000}", resp.text);
    assert_eq!(text_of(&body, &["dmHash"]), hash, "hash of {id}");
}

/// Checks the store the restarted gateway serves, through SOAP. Messages
/// in `checked` were verified after an earlier restart and are only
/// looked up in the lists unless `full`.
/// Returns how many messages whose answer never arrived are there
/// (complete).
async fn verify(
    server: &Server,
    ledger: &Ledger,
    checked: &mut HashSet<String>,
    full: bool,
) -> usize {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let snapshot: HashMap<String, Attempt> = ledger.lock().expect("ledger").clone();

    // Everything the recipients list downloads completely (the listing
    // delivered it); a message of ours is exactly what was sent,
    // acknowledged or not.
    let mut received: HashMap<String, String> = HashMap::new();
    let mut validated = false;
    for recipient in [OVM_LOGIN, PO_LOGIN] {
        for (id, annotation) in list(&client, server, recipient, "GetListOfReceivedMessages").await
        {
            if let Some(previous) = received.insert(id.clone(), annotation.clone()) {
                panic!("{id} listed twice ({previous}, {annotation})");
            }
            if !full && checked.contains(&id) {
                continue;
            }
            let expected = snapshot.get(&annotation).map(|a| {
                assert_eq!(
                    a.recipient_login, recipient,
                    "{annotation} delivered to another box"
                );
                if let Outcome::Acked(acked) = &a.outcome {
                    assert_eq!(acked, &id, "{annotation} listed under another dmID");
                }
                (annotation.as_str(), a.docs.as_slice())
            });
            check_download(&client, server, recipient, &id, expected, !validated).await;
            validated = true;
            checked.insert(id);
        }
    }

    // Every acknowledged message is there, for both parties.
    let mut sent: HashMap<Login, HashSet<String>> = HashMap::new();
    for (sender, _, _) in ROUTES {
        let ids = list(&client, server, sender, "GetListOfSentMessages")
            .await
            .into_iter()
            .map(|(id, _)| id);
        sent.entry(sender).or_default().extend(ids);
    }
    let mut acked = 0;
    for (tag, attempt) in &snapshot {
        match &attempt.outcome {
            Outcome::Acked(id) => {
                acked += 1;
                assert_eq!(
                    received.get(id).map(String::as_str),
                    Some(tag.as_str()),
                    "acknowledged message {id} ({tag}) missing from the recipient's list"
                );
                assert!(
                    sent[&attempt.sender].contains(id),
                    "acknowledged message {id} ({tag}) missing from the sender's list"
                );
            }
            Outcome::Refused(answer) => panic!("{tag} refused: {answer}"),
            Outcome::Pending => {}
        }
    }
    assert!(acked <= received.len());
    snapshot
        .iter()
        .filter(|(tag, a)| a.outcome == Outcome::Pending && received.values().any(|x| x == *tag))
        .count()
}

/// One sending client of a round.
struct ClientSpec {
    server_url: String,
    round: usize,
    client_no: usize,
    seed: u64,
    ledger: Ledger,
    stop: Arc<AtomicBool>,
    /// Answers received by all clients of the round.
    answers: Arc<AtomicUsize>,
    /// No large documents (the group-commit round).
    small_only: bool,
}

/// Sends messages until told to stop, the server goes away, or the count
/// is reached; records each attempt before it goes out.
async fn client_loop(c: ClientSpec) {
    let ClientSpec {
        server_url,
        round,
        client_no,
        seed,
        ledger,
        stop,
        answers,
        small_only,
    } = c;
    let (sender, recipient, recipient_login) = ROUTES[client_no % ROUTES.len()];
    let mut rng = Rng(seed | 1);
    let large = Arc::new({
        let bytes = rng.bytes(LARGE_TAIL);
        let text = b64(&bytes);
        (bytes, text)
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    for n in 0..MAX_PER_CLIENT {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let tag = format!("crash r{round} c{client_no} n{n}");
        let big = !small_only && (n + client_no) % 2 == 1;
        let docs = documents(&mut rng, &tag, big.then_some(&large));
        let body = create_body(recipient, &tag, &docs);
        ledger.lock().expect("ledger").insert(
            tag.clone(),
            Attempt {
                sender,
                recipient_login,
                docs,
                outcome: Outcome::Pending,
            },
        );
        let result = async {
            let resp = client
                .post(format!("{server_url}{DZ}"))
                .header("authorization", basic(sender.0, sender.1))
                .header("content-type", "text/xml; charset=utf-8")
                .header("soapaction", "\"\"")
                .body(body)
                .send()
                .await?;
            let status = resp.status().as_u16();
            Ok::<_, reqwest::Error>((status, resp.text().await?))
        }
        .await;
        let Ok((status, text)) = result else {
            // The server is gone: the answer never arrived.
            return;
        };
        let body = body_of(&text);
        let code = if status == 200 {
            status_code(&body)
        } else {
            String::new()
        };
        let outcome = if code == "0000" {
            Outcome::Acked(text_of(&body, &["dmID"]))
        } else {
            Outcome::Refused(format!("HTTP {status}: {text:.500}"))
        };
        if let Some(a) = ledger.lock().expect("ledger").get_mut(&tag) {
            a.outcome = outcome;
        }
        answers.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_sigkill_and_nothing_half_written_shows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = std::env::var("CRASH_SAFETY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("crash safety: seed {seed} (CRASH_SAFETY_SEED={seed} repeats the kill delays)");
    let mut rng = Rng(seed | 1);
    let ledger: Ledger = Arc::new(Mutex::new(HashMap::new()));
    let mut checked = HashSet::new();
    let mut server = Server::start(dir.path(), 0).await;

    let last = ROUNDS + 1;
    for round in 1..=last {
        let group_round = round == last;
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let clients = if group_round { GROUP_CLIENTS } else { CLIENTS };
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                tokio::spawn(client_loop(ClientSpec {
                    server_url: server.http.clone(),
                    round,
                    client_no: c,
                    seed: rng.next(),
                    ledger: Arc::clone(&ledger),
                    stop: Arc::clone(&stop),
                    answers: Arc::clone(&answers),
                    small_only: group_round,
                }))
            })
            .collect();

        // Kill at a random moment, once at least one answer came.
        let delay = Duration::from_millis(
            KILL_AFTER_MS.start + rng.below(KILL_AFTER_MS.end - KILL_AFTER_MS.start),
        );
        tokio::time::sleep(delay).await;
        let wait_until = Instant::now() + FIRST_ANSWER_WAIT;
        while answers.load(Ordering::SeqCst) == 0 && Instant::now() < wait_until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let extra = Duration::from_millis(rng.below(AFTER_FIRST_ANSWER_MS));
        tokio::time::sleep(extra).await;
        server.kill();
        let killed_at = started.elapsed();
        stop.store(true, Ordering::SeqCst);
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .expect("client stops once the server is gone")
                .expect("client task");
        }
        let (acked, pending) = {
            let l = ledger.lock().expect("ledger");
            let prefix = format!("crash r{round} ");
            let mine = l.iter().filter(|(t, _)| t.starts_with(&prefix));
            let (mut acked, mut pending) = (0, 0);
            for (_, a) in mine {
                match a.outcome {
                    Outcome::Acked(_) => acked += 1,
                    Outcome::Pending => pending += 1,
                    Outcome::Refused(_) => {}
                }
            }
            (acked, pending)
        };

        server = Server::start(dir.path(), round).await;
        let before = Instant::now();
        let unanswered_there = verify(&server, &ledger, &mut checked, round == last).await;

        // Still working: a new message goes through and downloads.
        let client = reqwest::Client::new();
        let tag = format!("after crash r{round}");
        let docs = documents(&mut rng, &tag, None);
        let resp = {
            let req = client
                .post(server.url(DZ))
                .header("authorization", basic(PO_LOGIN.0, PO_LOGIN.1));
            send(
                req,
                create_body("ovm4dem", &tag, &docs),
                "text/xml; charset=utf-8",
            )
            .await
        };
        assert_valid(&resp.body_xml(), Xsd::Dm);
        assert_eq!(resp.status().0, "0000", "{:.2000}", resp.text);
        let id = text_of(&resp.body(), &["dmID"]);
        // The recipient's listing delivers it; only then does it download.
        list(&client, &server, OVM_LOGIN, "GetListOfReceivedMessages").await;
        check_download(&client, &server, OVM_LOGIN, &id, Some((&tag, &docs)), false).await;
        checked.insert(id.clone());
        ledger.lock().expect("ledger").insert(
            tag,
            Attempt {
                sender: PO_LOGIN,
                recipient_login: OVM_LOGIN,
                docs,
                outcome: Outcome::Acked(id),
            },
        );
        println!(
            "round {round}: killed {} ms into sending; {acked} acknowledged, {pending} unanswered ({unanswered_there} of all unanswered so far stored complete); checked in {} ms",
            killed_at.as_millis(),
            before.elapsed().as_millis()
        );
    }

    let total_acked = ledger
        .lock()
        .expect("ledger")
        .iter()
        .filter(|(tag, a)| tag.starts_with("crash ") && matches!(a.outcome, Outcome::Acked(_)))
        .count();
    assert!(
        total_acked > 0,
        "no message was acknowledged before a kill: nothing was tested"
    );
    server.kill();
}
