//! dmHash is the hash of the `dmDm` bytes (messages manual
//! `WS_manipulace_s_datovymi_zpravami`, 2.3.2): the project's routine
//! reproduces the `dmHash` of every real ISDS message in the reference
//! samples (SHA-1 in the old ones, SHA-256 in newer ones), and for the
//! gateway's own messages (small, 20 MB, several documents) the SHA-256 of
//! the substring `<p:dmDm …</p:dmDm>` of the MessageDownload response is
//! VerifyMessage's `dmHash` and the very substring inside the signed XML of
//! SignedMessageDownload and SignedSentMessageDownload, before and after a
//! restart of the gateway.

mod common;

use base64::Engine;
use common::messages::*;
use common::*;
use isds_gateway::domain::messages::wire::{dm_dm_bytes, hash_of_dm_dm_in};
use isds_gateway::xml::{self, Element, ParseLimits};
use sha2::{Digest, Sha256};

const DZ: &str = "/DS/dz";
const DX: &str = "/DS/dx";

fn samples_dir() -> std::path::PathBuf {
    let dir = repo_dir().join("../shared/isds-reference/samples/real-isds/messages");
    assert!(
        dir.is_dir(),
        "the ISDS reference samples are missing: expected {} (../shared/isds-reference next to the repository)",
        dir.display()
    );
    dir
}

/// The signed content of a real `.zfo` (BER with indefinite lengths,
/// which the gateway's own strict DER reader refuses), by `openssl cms`.
fn zfo_content(path: &std::path::Path) -> Vec<u8> {
    let out = std::process::Command::new("openssl")
        .args(["cms", "-verify", "-noverify", "-inform", "DER", "-in"])
        .arg(path)
        .output()
        .expect("the openssl command must be installed for these tests");
    assert!(out.status.success(), "{}: {out:?}", path.display());
    out.stdout
}

/// Every element named `name` below and including `e`.
fn all<'e>(e: &'e Element, name: &str) -> Vec<&'e Element> {
    let mut out = Vec::new();
    if e.name == name {
        out.push(e);
    }
    descendants(e, name, &mut out);
    out
}

#[test]
fn the_hash_routine_reproduces_every_real_isds_message_hash() {
    let mut reproduced = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(samples_dir())
        .expect("samples readable")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let raw = std::fs::read(&path).expect("sample readable");
        // A .zfo is the signed DER; the hash is checked in its content.
        let xml_bytes = match path.extension().and_then(|e| e.to_str()) {
            Some("zfo") => zfo_content(&path),
            Some("xml") => raw,
            _ => continue,
        };
        let limits = ParseLimits {
            max_bytes: xml_bytes.len() + 1,
            ..ParseLimits::default()
        };
        let doc = xml::parse(&xml_bytes, &limits).unwrap_or_else(|e| panic!("{name}: {e}"));
        let hash_el = all(&doc, "dmHash");
        assert_eq!(hash_el.len(), 1, "{name}: one dmHash");
        let algorithm = hash_el[0].attr("algorithm").expect("algorithm attribute");
        let expected = unb64(&hash_el[0].text());
        let dm = all(&doc, "dmDm");
        assert_eq!(dm.len(), 1, "{name}: one dmDm");
        let computed = hash_of_dm_dm_in(&xml_bytes, algorithm)
            .unwrap_or_else(|| panic!("{name}: no dmDm bytes or unknown {algorithm}"));
        if doc.name == "GetDeliveryInfoResponse" {
            // A delivery info carries the message's hash, but its dmDm
            // leaves the documents out: there is nothing to reproduce it
            // from (and its own dmDm bytes hash to something else).
            assert!(all(dm[0], "dmFiles").is_empty(), "{name}");
            assert_ne!(computed, expected, "{name}");
            continue;
        }
        assert_eq!(computed, expected, "{name}: {algorithm} of the dmDm bytes");
        reproduced.push((name, algorithm.to_owned()));
    }
    assert!(
        reproduced.len() >= 5,
        "too few messages among the samples: {reproduced:?}"
    );
    assert!(
        reproduced.iter().any(|(_, a)| a == "SHA-1"),
        "{reproduced:?}"
    );
    assert!(
        reproduced.iter().any(|(_, a)| a == "SHA-256"),
        "{reproduced:?}"
    );
}

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

fn encoded_file(descr: &str, meta: &str, bytes: &[u8]) -> String {
    format!(
        r#"<dmFile dmMimeType="application/pdf" dmFileMetaType="{meta}" dmFileDescr="{descr}"><dmEncodedContent>{}</dmEncodedContent></dmFile>"#,
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

fn create(annotation: &str, files: &str) -> String {
    format!(
        r#"<CreateMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>po4demo</dbIDRecipient><dmToHands>K rukám &amp; "p. Nováka"</dmToHands><dmAnnotation>{annotation}</dmAnnotation></dmEnvelope><dmFiles>{files}</dmFiles></CreateMessage>"#
    )
}

async fn send(t: &TestGateway, body: &str) -> String {
    let resp = t.soap_as(OVM_LOGIN, DZ, body).await;
    assert_eq!(resp.status, 200, "{:.500}", resp.text);
    assert_eq!(resp.status().0, "0000", "{:.500}", resp.text);
    text_of(&resp.body(), &["dmID"])
}

/// The dmDm bytes of a response or signed content, as a client cuts them.
fn cut(text: &[u8]) -> Vec<u8> {
    let dm = dm_dm_bytes(text).expect("a dmDm element");
    assert!(dm.starts_with(b"<p:dmDm xmlns:p=\"http://isds.czechpoint.cz/v20\">"));
    assert!(dm.ends_with(b"</p:dmDm>"));
    dm.to_vec()
}

fn signed_content(resp: &SoapResponse) -> Vec<u8> {
    assert_eq!(resp.status().0, "0000", "{:.500}", resp.text);
    let zfo = unb64(&text_of(&resp.body(), &["dmSignature"]));
    isds_gateway::sign::inspect(&zfo).expect("a zfo").content
}

/// Checks one message: the recipient's MessageDownload, VerifyMessage and
/// SignedMessageDownload and the sender's SignedSentMessageDownload agree
/// on the dmDm bytes and their hash. Returns the bytes.
async fn check(t: &TestGateway, id: &str) -> Vec<u8> {
    // Delivery by login first, so the download reads an accepted message.
    let list = t
        .soap_as(PO_LOGIN, DX, &list("GetListOfReceivedMessages"))
        .await;
    assert_eq!(list.status().0, "0000", "{:.500}", list.text);

    let download = t
        .soap_as(PO_LOGIN, DZ, &id_body("MessageDownload", id))
        .await;
    assert_eq!(download.status().0, "0000", "{:.500}", download.text);
    let dm = cut(download.text.as_bytes());
    let digest = Sha256::digest(&dm).to_vec();
    let returned = find(&download.body(), &["dmReturnedMessage", "dmHash"]).clone();
    assert_eq!(returned.attr("algorithm"), Some("SHA-256"));
    assert_eq!(unb64(&returned.text()), digest, "MessageDownload's dmHash");

    let verify = t.soap_as(PO_LOGIN, DX, &id_body("VerifyMessage", id)).await;
    assert_eq!(verify.status().0, "0000", "{:.500}", verify.text);
    let verified = find(&verify.body(), &["dmHash"]).clone();
    assert_eq!(verified.attr("algorithm"), Some("SHA-256"));
    assert_eq!(unb64(&verified.text()), digest, "VerifyMessage's dmHash");

    let signed = t
        .soap_as(PO_LOGIN, DZ, &id_body("SignedMessageDownload", id))
        .await;
    let content = signed_content(&signed);
    assert!(content.starts_with(
        b"<q:MessageDownloadResponse xmlns:q=\"http://isds.czechpoint.cz/v20/message\""
    ));
    assert!(
        cut(&content) == dm,
        "SignedMessageDownload's dmDm bytes differ"
    );
    assert_eq!(hash_of_dm_dm_in(&content, "SHA-256"), Some(digest.clone()));

    let sent = t
        .soap_as(OVM_LOGIN, DZ, &id_body("SignedSentMessageDownload", id))
        .await;
    let content = signed_content(&sent);
    assert!(content.starts_with(
        b"<q:MessageDownloadResponse xmlns:q=\"http://isds.czechpoint.cz/v20/SentMessage\""
    ));
    assert!(
        cut(&content) == dm,
        "SignedSentMessageDownload's dmDm bytes differ"
    );
    dm
}

#[tokio::test]
async fn the_dm_hash_is_the_hash_of_the_dm_dm_bytes_in_every_download_and_survives_a_restart() {
    let t = TestGateway::start().await;
    let small = send(
        &t,
        &create_body(
            "po4demo",
            "Malá zpráva \"v uvozovkách\" &amp; s ampersandem",
            false,
        ),
    )
    .await;
    // 20 MB: the document is written to a file and streamed on download.
    let big = payload(20_000_000, 7);
    let large = send(
        &t,
        &create("Velká příloha", &encoded_file("velka.pdf", "main", &big)),
    )
    .await;
    drop(big);
    let several_files = [
        encoded_file("hlavni.pdf", "main", &payload(300 * 1024, 1)),
        r#"<dmFile dmMimeType="application/xml" dmFileMetaType="enclosure" dmFileDescr="data.xml"><dmXMLContent><root xmlns:ns="urn:local"><p>Text1</p><empty></empty><ns:x a="1&amp;2">žluťoučký</ns:x></root></dmXMLContent></dmFile>"#
            .to_owned(),
        encoded_file("prazdna.pdf", "enclosure", b""),
        encoded_file("mala.pdf", "enclosure", &payload(5, 2)),
    ]
    .concat();
    let several = send(&t, &create("Více příloh", &several_files)).await;

    let mut before = Vec::new();
    for id in [&small, &large, &several] {
        before.push(check(&t, id).await);
    }
    // A second download yields the same bytes.
    assert!(check(&t, &small).await == before[0]);

    let TestGateway { gw, dir, .. } = t;
    gw.shutdown().await.expect("clean shutdown");
    let t = when_unlocked(|| {
        let data = dir.path().join("data");
        async move {
            match isds_gateway::http::start_with_clock(
                isds_gateway::config::Config::ephemeral(data),
                std::sync::Arc::new(isds_gateway::domain::clock::SystemClock),
            )
            .await
            {
                Err(isds_gateway::http::ServeError::Store(e)) => Err(e),
                Err(e) => panic!("gateway restarts: {e}"),
                Ok(gw) => Ok(gw),
            }
        }
    })
    .await;
    let t = TestGateway {
        gw: t,
        dir,
        http: reqwest::Client::new(),
        https: reqwest::Client::new(),
    };
    for (id, dm) in [&small, &large, &several].into_iter().zip(&before) {
        assert!(
            check(&t, id).await == *dm,
            "the dmDm bytes of {id} changed over a restart"
        );
    }
    t.stop().await;
}
