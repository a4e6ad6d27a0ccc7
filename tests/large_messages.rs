//! Large attachments through the real interface: 20 MB and 50 MB documents
//! go in with CreateMessage and come back byte for byte with
//! MessageDownload; the stored hash is the hash of exactly those bytes.
//! (Speed and memory are measured by `cargo run --release --bin bench`.)

mod common;

use std::sync::Arc;

use base64::Engine;
use common::*;
use isds_gateway::domain::message::{Message, MessageId, compute_hash};
use isds_gateway::domain::message_repo;
use isds_gateway::store::{self, Store};

const DZ: &str = "/DS/dz";
const DX: &str = "/DS/dx";

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

/// The text between `<name>`/`<p:name ...>` and its end tag (first one).
fn element_text<'a>(xml: &'a str, name: &str) -> &'a str {
    let start = xml
        .find(&format!(":{name}>"))
        .or_else(|| xml.find(&format!("<{name}>")))
        .or_else(|| xml.find(&format!("<{name} ")))
        .unwrap_or_else(|| panic!("no <{name}> in {:.300}", xml));
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

    let resp = t
        .soap_as(
            PO_LOGIN,
            DZ,
            &format!(r#"<MessageDownload xmlns="{ISDS_NS}"><dmID>{id}</dmID></MessageDownload>"#),
        )
        .await;
    assert_eq!(resp.status, 200);
    assert!(
        resp.text.contains("<dmStatusCode>0000<"),
        "{:.500}",
        resp.text
    );
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

    let verify = t
        .soap_as(
            PO_LOGIN,
            DX,
            &format!(r#"<VerifyMessage xmlns="{ISDS_NS}"><dmID>{id}</dmID></VerifyMessage>"#),
        )
        .await;
    assert_eq!(verify.status().0, "0000", "{}", verify.text);
    assert_valid(&verify.body_xml(), Xsd::Dm);
    assert_eq!(element_text(&verify.text, "dmHash"), hash);
    id
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

    // Over the box's limit: refused with 1296, nothing stored.
    let over = payload(61 * 1024 * 1024, 61);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&over);
    drop(over);
    let resp = t.soap_as(OVM_LOGIN, DZ, &create_body(&encoded)).await;
    drop(encoded);
    assert_eq!(resp.status().0, "1296", "{:.500}", resp.text);

    // What is on disk: the same bytes, and the hash is theirs.
    let TestGateway { gw, dir, .. } = t;
    gw.shutdown().await.expect("clean shutdown");
    let store = open_store(&dir.path().join("data").join("store")).await;
    for (id, bytes) in [(id20, &mb20), (id50, &mb50)] {
        let id = MessageId(id.parse().expect("numeric dmID"));
        let msg: Message = message_repo::get_message(store.as_ref(), id)
            .expect("store readable")
            .expect("message stored");
        let docs = message_repo::get_documents(store.as_ref(), id).expect("documents");
        assert_eq!(docs.len(), 1);
        assert!(docs[0] == *bytes, "stored bytes differ");
        assert_eq!(msg.documents[0].size, bytes.len() as u64);
        assert_eq!(msg.hash, compute_hash(&msg, &[bytes.as_slice()]));
    }
}

async fn open_store(path: &std::path::Path) -> Arc<dyn Store> {
    let mut attempts = 0;
    loop {
        match store::open_sled(path) {
            Ok(s) => return s,
            Err(store::StoreError::Locked { .. }) if attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("store opens: {e}"),
        }
    }
}
