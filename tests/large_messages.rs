//! Large attachments through the real interface: 20 MB and 50 MB documents
//! go in with CreateMessage and come back byte for byte with
//! MessageDownload; the stored hash is the hash of exactly those bytes.
//! (Speed and memory are measured by `cargo run --release --bin bench`.)

mod common;

use std::sync::Arc;

use base64::Engine;
use common::*;
use isds_gateway::domain::messages;
use isds_gateway::domain::messages::message::{Message, MessageId, MessageState};
use isds_gateway::domain::messages::wire::compute_hash;
use isds_gateway::store::{self, Store};

const DZ: &str = "/DS/dz";
const DX: &str = "/DS/dx";
const OPERATOR: (&str, &str) = ("provozovatel", "Operator-Heslo-2026");

/// Deterministic, incompressible-looking bytes.
fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The demo world with a 60 MB attachment limit for the OVM box.
fn world_file(dir: &std::path::Path) -> std::path::PathBuf {
    let demo = std::fs::read_to_string(repo_dir().join("fixtures/demo-world.toml"))
        .expect("demo world readable");
    let marker = "id = \"ovm4dem\"\ntype = \"OVM\"\n";
    assert!(demo.contains(marker), "demo world layout changed");
    let world = demo.replacen(marker, &format!("{marker}attachment_limit_mb = 60\n"), 1);
    let path = dir.join("world.toml");
    std::fs::write(&path, world).expect("world written");
    path
}

fn create_body(encoded: &str) -> String {
    format!(
        r#"<CreateMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>po4demo</dbIDRecipient><dmAnnotation>Velká příloha</dmAnnotation></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="velky.pdf"><dmEncodedContent>{encoded}</dmEncodedContent></dmFile></dmFiles></CreateMessage>"#
    )
}

/// The text between the first start tag `<name …>`/`<p:name …>` and its
/// end tag.
fn element_text<'a>(xml: &'a str, name: &str) -> &'a str {
    let mut from = 0;
    let start = loop {
        let at = from
            + xml[from..]
                .find(name)
                .unwrap_or_else(|| panic!("no <{name}> in {:.300}", xml));
        from = at + name.len();
        // `<` and an optional prefix right before, `>` or a space after.
        let tag = &xml[xml[..at].rfind('<').unwrap_or(0)..at];
        let prefix_ok = tag == "<"
            || (tag.ends_with(':')
                && tag[1..tag.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric()));
        if prefix_ok && matches!(xml[from..].chars().next(), Some('>' | ' ')) {
            break at;
        }
    };
    let open_end = start + xml[start..].find('>').expect("start tag ends");
    let rest = &xml[open_end + 1..];
    let end = rest.find("</").expect("end tag");
    &rest[..end]
}

async fn roundtrip(t: &TestGateway, bytes: &[u8], wrapped: bool) -> String {
    let mut encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    if wrapped {
        // Line-wrapped at 76 characters, as MIME encoders do.
        encoded = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect::<Vec<_>>()
            .join("\r\n");
    }
    let resp = t.soap_as(OVM_LOGIN, DZ, &create_body(&encoded)).await;
    drop(encoded);
    assert_eq!(resp.status, 200, "{:.500}", resp.text);
    assert_eq!(resp.status().0, "0000", "{:.500}", resp.text);
    let id = element_text(&resp.text, "dmID").to_owned();
    // The recipient's listing delivers it; only then does it download.
    common::messages::deliver(t, PO_LOGIN).await;

    let resp = t
        .soap_as(
            PO_LOGIN,
            DZ,
            &format!(r#"<MessageDownload xmlns="{ISDS_NS}"><dmID>{id}</dmID></MessageDownload>"#),
        )
        .await;
    assert_eq!(resp.status, 200);
    assert!(
        resp.text.contains("<q:dmStatusCode>0000<"),
        "{:.500}",
        resp.text
    );
    // Encoded while sent, yet with its exact length announced up front
    // (not chunked): clients that size a buffer from it get it right.
    let announced = resp
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    assert_eq!(announced, Some(resp.text.len()));
    assert!(resp.headers.get("transfer-encoding").is_none());
    let content = element_text(&resp.text, "dmEncodedContent");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(content)
        .expect("downloaded content is base64");
    assert_eq!(decoded.len(), bytes.len());
    assert!(
        decoded == bytes,
        "downloaded bytes differ from the sent ones"
    );
    let hash = element_text(&resp.text, "dmHash").to_owned();

    let verify = verify_message(t, &id).await;
    assert_valid(&verify.body_xml(), Xsd::Dm);
    assert_eq!(element_text(&verify.text, "dmHash"), hash);
    id
}

/// VerifyMessage of `id` by the recipient, answered 0000.
async fn verify_message(t: &TestGateway, id: &str) -> SoapResponse {
    let verify = t
        .soap_as(
            PO_LOGIN,
            DX,
            &format!(r#"<VerifyMessage xmlns="{ISDS_NS}"><dmID>{id}</dmID></VerifyMessage>"#),
        )
        .await;
    assert_eq!(verify.status().0, "0000", "{}", verify.text);
    verify
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_attachments_round_trip_byte_for_byte() {
    let dir = tempfile::tempdir().expect("temp dir");
    let world = world_file(dir.path());
    let t = TestGateway::start_in(dir, |c| {
        c.demo_world = Some(world);
        // Room for a body over the box's 60 MB limit.
        c.limits.max_body_bytes = 100 * 1024 * 1024;
    })
    .await;

    let mb20 = payload(20 * 1024 * 1024, 20);
    let mb50 = payload(50 * 1024 * 1024, 50);
    let id20 = roundtrip(&t, &mb20, true).await;
    let id50 = roundtrip(&t, &mb50, false).await;

    // Over the box's limit: refused with 1282, nothing stored.
    let over = payload(61 * 1024 * 1024, 61);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&over);
    drop(over);
    let resp = t.soap_as(OVM_LOGIN, DZ, &create_body(&encoded)).await;
    drop(encoded);
    assert_eq!(resp.status().0, "1282", "{:.500}", resp.text);

    // What is on disk: the same bytes, and the hash is theirs.
    let TestGateway { gw, dir, .. } = t;
    gw.shutdown().await.expect("clean shutdown");
    let store = open_store(&dir.path().join("data").join("store")).await;
    for (id, bytes) in [(id20, &mb20), (id50, &mb50)] {
        let id = MessageId(id.parse().expect("numeric dmID"));
        let msg: Message = messages::repo::get_message(store.as_ref(), id)
            .expect("store readable")
            .expect("message stored");
        let docs = messages::repo::get_documents(store.as_ref(), id).expect("documents");
        assert_eq!(docs.len(), 1);
        assert!(docs[0] == *bytes, "stored bytes differ");
        assert_eq!(msg.documents[0].size, bytes.len() as u64);
        assert_eq!(msg.hash, compute_hash(&msg, &[bytes.as_slice()]).unwrap());
    }
}

async fn open_store(path: &std::path::Path) -> Arc<dyn Store> {
    let documents = path.parent().expect("data dir").join("documents");
    when_unlocked(|| async {
        store::open_sled_with_files(path, store::DEFAULT_CACHE_MB, &documents)
    })
    .await
}

/// Starts `serve`'s way on `dir` (its own test clock, moved through
/// /admin/clock by the operator), waiting out the store lock of a gateway
/// that just stopped on the same directory.
async fn start_on(dir: tempfile::TempDir) -> TestGateway {
    TestGateway::serve_on(dir, OPERATOR, |config| config.test_clock = true).await
}

async fn restart(t: TestGateway) -> TestGateway {
    let TestGateway { gw, dir, .. } = t;
    gw.shutdown().await.expect("clean shutdown");
    start_on(dir).await
}

async fn advance(t: &TestGateway, by: &str) {
    let resp = t
        .http
        .post(t.http_url("/admin/clock"))
        .header("authorization", basic(OPERATOR.0, OPERATOR.1))
        .header("content-type", "application/json")
        .body(format!(r#"{{"advance":"{by}"}}"#))
        .send()
        .await
        .expect("clock request sent");
    assert_eq!(resp.status().as_u16(), 200);
}

fn documents_dir(t: &TestGateway) -> std::path::PathBuf {
    t.dir.path().join("data").join("documents")
}

/// Names in the documents directory, sorted.
fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("documents directory exists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Sends a message with a large main document (kept as a file) and a small
/// attachment (kept in the store); returns its dmID.
async fn send_two(t: &TestGateway, big: &[u8], small: &[u8]) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let body = format!(
        r#"<CreateMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>po4demo</dbIDRecipient><dmAnnotation>Soubory</dmAnnotation></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="hlavni.pdf"><dmEncodedContent>{}</dmEncodedContent></dmFile><dmFile dmMimeType="text/plain" dmFileMetaType="enclosure" dmFileDescr="priloha.txt"><dmEncodedContent>{}</dmEncodedContent></dmFile></dmFiles></CreateMessage>"#,
        b64(big),
        b64(small)
    );
    let resp = t.soap_as(OVM_LOGIN, DZ, &body).await;
    assert_eq!(resp.status().0, "0000", "{:.500}", resp.text);
    // Delivered by the recipient's listing, so it downloads.
    common::messages::deliver(t, PO_LOGIN).await;
    element_text(&resp.text, "dmID").to_owned()
}

fn download_body(id: &str) -> String {
    format!(r#"<MessageDownload xmlns="{ISDS_NS}"><dmID>{id}</dmID></MessageDownload>"#)
}

/// The documents of a MessageDownload answer, decoded, in order.
fn downloaded(resp: &SoapResponse) -> Vec<Vec<u8>> {
    assert_eq!(resp.status().0, "0000", "{:.500}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Dm);
    resp.text
        .split("dmEncodedContent>")
        .skip(1)
        .step_by(2)
        .map(|part| {
            let text = &part[..part.find("</").expect("end tag")];
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("base64")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_files_survive_a_restart_and_go_with_the_content() {
    let t = start_on(tempfile::tempdir().expect("temp dir")).await;
    let big = payload(1024 * 1024 + 3, 7);
    let small = b"a small attachment stays in the store".to_vec();
    let id = send_two(&t, &big, &small).await;
    // One file: the large document's; the small one is in the store.
    assert_eq!(files_in(&documents_dir(&t)), vec![format!("{id}-0")]);

    let t = restart(t).await;
    let resp = t.soap_as(PO_LOGIN, DZ, &download_body(&id)).await;
    assert_eq!(downloaded(&resp), vec![big.clone(), small.clone()]);
    let hash = element_text(&resp.text, "dmHash").to_owned();
    let verify = verify_message(&t, &id).await;
    assert_eq!(element_text(&verify.text, "dmHash"), hash);

    // The signed copy for the sender carries the same bytes.
    let signed = t
        .soap_as(
            OVM_LOGIN,
            DZ,
            &format!(
                r#"<SignedSentMessageDownload xmlns="{ISDS_NS}"><dmID>{id}</dmID></SignedSentMessageDownload>"#
            ),
        )
        .await;
    assert_eq!(signed.status().0, "0000", "{:.500}", signed.text);
    let zfo = base64::engine::general_purpose::STANDARD
        .decode(element_text(&signed.text, "dmSignature"))
        .expect("zfo is base64");
    let big_b64 = base64::engine::general_purpose::STANDARD.encode(&big);
    assert!(
        zfo.windows(big_b64.len()).any(|w| w == big_b64.as_bytes()),
        "the signed message does not hold the document"
    );

    // Accepted by that download's login; 90 days later the content is
    // deleted (state 9), and with it the file.
    // (Moving the clock applies what fell due; the demo passwords have
    // expired by then, so the store is looked at directly.)
    advance(&t, "91d").await;
    assert!(files_in(&documents_dir(&t)).is_empty());
    let TestGateway { gw, dir, .. } = t;
    gw.shutdown().await.expect("clean shutdown");
    let store = open_store(&dir.path().join("data").join("store")).await;
    let id = MessageId(id.parse().expect("numeric dmID"));
    let msg = messages::repo::get_message(store.as_ref(), id)
        .expect("store readable")
        .expect("message kept");
    assert_eq!(msg.state, MessageState::ContentDeleted);
    assert!(
        messages::repo::get_documents(store.as_ref(), id)
            .expect("documents")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_files_are_removed_at_start_and_a_bad_file_is_an_error() {
    let t = start_on(tempfile::tempdir().expect("temp dir")).await;
    let big = payload(512 * 1024, 11);
    let id = send_two(&t, &big, b"x").await;
    let own = format!("{id}-0");
    let docs = documents_dir(&t);
    // What a crash between writing files and committing leaves behind:
    // a complete file nothing refers to and a half-written one.
    std::fs::write(docs.join("10999999-0"), b"orphan").unwrap();
    std::fs::write(docs.join(format!("{id}-1")), b"orphan").unwrap();
    std::fs::write(docs.join("10999999-1.tmp"), b"half").unwrap();
    let t = restart(t).await;
    assert_eq!(files_in(&docs), vec![own.clone()]);
    let resp = t.soap_as(PO_LOGIN, DZ, &download_body(&id)).await;
    assert_eq!(downloaded(&resp), vec![big.clone(), b"x".to_vec()]);

    // Altered on disk (same size): a server fault, never other bytes.
    let mut altered = big.clone();
    altered[1000] ^= 0xFF;
    std::fs::write(docs.join(&own), &altered).unwrap();
    let resp = t.soap_as(PO_LOGIN, DZ, &download_body(&id)).await;
    assert_eq!(resp.status, 500, "{:.500}", resp.text);
    let (code, text) = resp.fault();
    assert!(code.ends_with("Server"), "{code}");
    assert!(text.contains(&own), "{text}");
    // Shortened, and missing: the same.
    std::fs::write(docs.join(&own), &big[..1000]).unwrap();
    let resp = t.soap_as(PO_LOGIN, DZ, &download_body(&id)).await;
    assert_eq!(resp.status, 500, "{:.500}", resp.text);
    std::fs::remove_file(docs.join(&own)).unwrap();
    let resp = t.soap_as(PO_LOGIN, DZ, &download_body(&id)).await;
    assert_eq!(resp.status, 500, "{:.500}", resp.text);
    assert!(resp.fault().1.contains("missing"), "{}", resp.text);
    // Put back, it reads again.
    std::fs::write(docs.join(&own), &big).unwrap();
    let resp = t.soap_as(PO_LOGIN, DZ, &download_body(&id)).await;
    assert_eq!(downloaded(&resp), vec![big, b"x".to_vec()]);
    t.stop().await;
}
