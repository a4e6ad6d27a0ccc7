//! Big messages (VoDZ) on `/DS/vodz`, through the real interface: the
//! whole flow (uploads, CreateBigMessage, lists, downloads in base64 and
//! MTOM, signed downloads checked with `openssl cms -verify`,
//! AuthenticateBigMessage; one upload as MTOM/XOP, a malformed one 599),
//! every refusal of the VoDZ specification
//! (Info_pro_vyvojare_2022_1_VoDZ_ZIP_ASiC) with its code from the
//! official table, and the expiry of an unused upload on the test clock.

mod common;

use std::path::Path;
use std::process::Command;

use common::messages::{b64, deliver, id_body, send_message, text_of, unb64};
use common::{
    ISDS_NS, OVM_LOGIN, PO_ENTRUSTED_LOGIN, PO_LOGIN, SoapResponse, TestGateway, Xsd, assert_valid,
    basic, soap12,
};
use isds_gateway::domain::clock::TestClock;
use isds_gateway::domain::messages::vodz::VodzLimits;
use isds_gateway::xml::{self, Element, ParseLimits};
use sha2::Digest;

const VODZ: &str = "/DS/vodz";
const PO_BOX: &str = "po4demo";
const OVM_BOX: &str = "ovm4dem";

/// Deterministic bytes of every value.
fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The raw answer of a VoDZ call.
struct Raw {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// POSTs a SOAP 1.2 request to `/DS/vodz`; `mtom` asks for an MTOM answer.
async fn post(t: &TestGateway, login: (&str, &str), body: &str, mtom: bool) -> Raw {
    let mut req = t
        .http
        .post(t.http_url(VODZ))
        .header("authorization", basic(login.0, login.1))
        .header("content-type", "application/soap+xml; charset=utf-8");
    if mtom {
        req = req.header("accept", "multipart/related, application/soap+xml");
    }
    let resp = req.body(soap12(body)).send().await.expect("request sent");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = resp.bytes().await.expect("body").to_vec();
    Raw {
        status,
        content_type,
        body,
    }
}

/// A base64 VoDZ call, its answer checked against the schema.
async fn call(t: &TestGateway, login: (&str, &str), body: &str) -> SoapResponse {
    let raw = post(t, login, body, false).await;
    let resp = SoapResponse {
        status: raw.status,
        content_type: raw.content_type,
        headers: Default::default(),
        text: String::from_utf8(raw.body).expect("UTF-8 answer"),
    };
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert!(
        resp.content_type.starts_with("application/soap+xml"),
        "{}",
        resp.content_type
    );
    assert_valid(&resp.body_xml(), Xsd::Dm);
    resp
}

fn code(resp: &SoapResponse) -> String {
    resp.status().0
}

fn upload_body(name: &str, mime: &str, bytes: &[u8]) -> String {
    format!(
        r#"<UploadAttachment xmlns="{ISDS_NS}"><dmFile dmMimeType="{mime}" dmFileDescr="{name}"><dmEncodedContent>{}</dmEncodedContent></dmFile></UploadAttachment>"#,
        b64(bytes)
    )
}

/// An upload's ID and digests.
struct Uploaded {
    id: String,
    sha256: String,
    sha3: String,
}

async fn upload(t: &TestGateway, login: (&str, &str), name: &str, bytes: &[u8]) -> Uploaded {
    let resp = call(t, login, &upload_body(name, "application/pdf", bytes)).await;
    assert_eq!(code(&resp), "0000", "{}", resp.text);
    let body = resp.body();
    let h1 = common::messages::find(&body, &["dmAttHash1"]);
    let h2 = common::messages::find(&body, &["dmAttHash2"]);
    assert_eq!(h1.attr("AttHashAlg"), Some("SHA-256"));
    assert_eq!(h2.attr("AttHashAlg"), Some("SHA3-256"));
    // The digests are those of the bytes sent (manual 3.6.1: the client
    // checks them).
    assert_eq!(h1.text(), hex(&sha2::Sha256::digest(bytes)));
    assert_eq!(h2.text(), hex(&sha3::Sha3_256::digest(bytes)));
    Uploaded {
        id: text_of(&body, &["dmAttID"]),
        sha256: h1.text(),
        sha3: h2.text(),
    }
}

/// An MTOM/XOP request to `/DS/vodz` (SOAP 1.2) whose root is `envelope`
/// and whose one binary part, `cid:doc@gw`, is `bytes`.
fn mtom_request(envelope: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "uuid:7b0d2a64-vodz-boundary";
    let content_type = format!(
        "multipart/related; type=\"application/xop+xml\"; boundary=\"{boundary}\"; \
         start=\"<root@gw>\"; start-info=\"application/soap+xml\""
    );
    let mut body = format!(
        "--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; \
         type=\"application/soap+xml\"\r\nContent-Transfer-Encoding: binary\r\n\
         Content-ID: <root@gw>\r\n\r\n{envelope}\r\n--{boundary}\r\n\
         Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\
         Content-ID: <doc@gw>\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (content_type, body)
}

/// UploadAttachment with the document as an MTOM/XOP binary part, as
/// JAX-WS with MTOM on sends it.
async fn upload_mtom(t: &TestGateway, login: (&str, &str), name: &str, bytes: &[u8]) -> Uploaded {
    let envelope = soap12(&format!(
        r#"<UploadAttachment xmlns="{ISDS_NS}"><dmFile dmMimeType="application/pdf" dmFileDescr="{name}"><dmEncodedContent><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:doc@gw"/></dmEncodedContent></dmFile></UploadAttachment>"#
    ));
    let (content_type, body) = mtom_request(&envelope, bytes);
    let resp = t
        .http
        .post(t.http_url(VODZ))
        .header("authorization", basic(login.0, login.1))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    assert_eq!(status, 200, "{text}");
    let resp = response_of(text);
    assert_eq!(code(&resp), "0000", "{}", resp.text);
    let body = resp.body();
    let h1 = common::messages::find(&body, &["dmAttHash1"]);
    let h2 = common::messages::find(&body, &["dmAttHash2"]);
    // The digests are those of the part's bytes.
    assert_eq!(h1.text(), hex(&sha2::Sha256::digest(bytes)));
    assert_eq!(h2.text(), hex(&sha3::Sha3_256::digest(bytes)));
    Uploaded {
        id: text_of(&body, &["dmAttID"]),
        sha256: h1.text(),
        sha3: h2.text(),
    }
}

fn ext_file(u: &Uploaded, meta: &str) -> String {
    format!(
        r#"<dmExtFile dmFileMetaType="{meta}" dmAttID="{}" dmAttHash1="{}" dmAttHash1Alg="SHA-256" dmAttHash2="{}" dmAttHash2Alg="SHA3-256"/>"#,
        u.id, u.sha256, u.sha3
    )
}

fn create_body(recipient: &str, files: &str) -> String {
    format!(
        r#"<CreateBigMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>{recipient}</dbIDRecipient><dmAnnotation>Stavební výkresy</dmAnnotation></dmEnvelope><dmFiles>{files}</dmFiles></CreateBigMessage>"#
    )
}

fn inline_file(name: &str, bytes: &[u8]) -> String {
    format!(
        r#"<dmFile dmFileMetaType="enclosure" dmFileDescr="{name}" dmMimeType="text/plain"><dmEncodedContent>{}</dmEncodedContent></dmFile>"#,
        b64(bytes)
    )
}

async fn create(t: &TestGateway, login: (&str, &str), body: &str) -> SoapResponse {
    call(t, login, body).await
}

/// Limits small enough for tests: a big message from 100 kB to 1 MB.
fn small_limits(config: &mut isds_gateway::config::Config) {
    config.vodz = VodzLimits {
        min_total_bytes: 100_000,
        max_total_bytes: 1_000_000,
        unused_uploads_cap_bytes: 1_500_000,
        ..VodzLimits::default()
    };
}

fn documents(el: &Element) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    common::messages::descendants(el, "dmEncodedContent", &mut files);
    files.into_iter().map(|f| unb64(&f.text())).collect()
}

/// Verifies `zfo` with `openssl cms -verify` against the gateway's root;
/// returns the signed content.
fn cms_verify(t: &TestGateway, zfo: &[u8]) -> Vec<u8> {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("m.zfo"), zfo).unwrap();
    let out = Command::new("openssl")
        .args([
            "cms", "-verify", "-inform", "DER", "-in", "m.zfo", "-CAfile",
        ])
        .arg(&t.gw.signing_root_path)
        .args(["-out", "content.xml"])
        .current_dir(work.path())
        .output()
        .expect("the openssl command must be installed for these tests");
    assert!(
        out.status.success(),
        "openssl cms -verify failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(work.path().join("content.xml")).unwrap()
}

/// The parts of a `multipart/related` body by their Content-ID (without
/// angle brackets); the root part under "".
fn multipart(content_type: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    assert!(
        content_type.starts_with("multipart/related"),
        "{content_type}"
    );
    assert!(content_type.contains("type=\"application/xop+xml\""));
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .expect("a boundary")
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let first = find(rest, delimiter.as_bytes()).expect("first boundary");
    rest = &rest[first + delimiter.len()..];
    while !rest.starts_with(b"--") {
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after boundary");
        let head_end = find(rest, b"\r\n\r\n").expect("part headers");
        let head = String::from_utf8_lossy(&rest[..head_end]).to_string();
        let content = &rest[head_end + 4..];
        let end = find(content, format!("\r\n{delimiter}").as_bytes()).expect("closing boundary");
        let id = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase().starts_with("content-id:").then(|| {
                    l[11..]
                        .trim()
                        .trim_matches(|c| c == '<' || c == '>')
                        .to_owned()
                })
            })
            .unwrap_or_default();
        parts.push((id, content[..end].to_vec()));
        rest = &content[end + 2 + delimiter.len()..];
    }
    parts
}

/// Resolves an MTOM answer: the root XML with every `xop:Include`'s
/// part put back as base64 text.
fn resolve_mtom(raw: &Raw) -> String {
    let parts = multipart(&raw.content_type, &raw.body);
    let mut root = String::from_utf8(parts[0].1.clone()).unwrap();
    for (id, bytes) in &parts[1..] {
        let include = format!(
            r#"<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:{id}"/>"#
        );
        assert!(root.contains(&include), "{root}");
        root = root.replace(&include, &b64(bytes));
    }
    assert!(!root.contains("xop:Include"));
    root
}

/// An answer read off the wire by hand (an MTOM answer's root, an MTOM
/// request's answer), checked against the official schema.
fn response_of(text: String) -> SoapResponse {
    let resp = SoapResponse {
        status: 200,
        content_type: String::new(),
        headers: Default::default(),
        text,
    };
    assert_valid(&resp.body_xml(), Xsd::Dm);
    resp
}

#[tokio::test]
async fn the_whole_vodz_flow() {
    let t = TestGateway::start_with(small_limits).await;
    let a = payload(300_000, 1);
    let b = payload(200_000, 2);
    let c = payload(50_001, 3);
    let note = "Průvodní dopis".as_bytes().to_vec();
    let ua = upload(&t, OVM_LOGIN, "vykres-a.pdf", &a).await;
    let ub = upload(&t, OVM_LOGIN, "vykres-b.pdf", &b).await;
    // The third as an MTOM/XOP binary part.
    let uc = upload_mtom(&t, OVM_LOGIN, "vykres-c.pdf", &c).await;
    assert_ne!(ua.id, ub.id);
    assert_ne!(ub.id, uc.id);
    let files = format!(
        "{}{}{}{}",
        ext_file(&ua, "main"),
        ext_file(&ub, "enclosure"),
        ext_file(&uc, "enclosure"),
        inline_file("dopis.txt", &note)
    );
    let resp = create(&t, OVM_LOGIN, &create_body(PO_BOX, &files)).await;
    assert_eq!(code(&resp), "0000", "{}", resp.text);
    let id = text_of(&resp.body(), &["dmID"]);
    let expected = [a.clone(), b.clone(), c.clone(), note.clone()];

    // The recipient lists it, marked VoDZ (manual 3.9); listing delivers.
    let list = common::messages::call(
        &t,
        PO_LOGIN,
        "/DS/dx",
        &common::messages::list("GetListOfReceivedMessages"),
    )
    .await;
    let list_body = list.body();
    let mut records = Vec::new();
    common::messages::descendants(&list_body, "dmRecord", &mut records);
    let record = records
        .iter()
        .find(|r| r.elements().any(|e| e.name == "dmID" && e.text() == id))
        .expect("the big message is listed");
    assert_eq!(record.attr("dmVODZ"), Some("true"));
    // An ordinary message is marked false.
    let ordinary = send_message(&t, OVM_LOGIN, PO_BOX, "Obyčejná", false).await;
    deliver(&t, PO_LOGIN).await;

    // The envelope names the count of documents (manual 3.8.1).
    let env = common::messages::call(
        &t,
        PO_LOGIN,
        "/DS/dx",
        &id_body("MessageEnvelopeDownload", &id),
    )
    .await;
    let env_body = env.body();
    let returned = common::messages::find(&env_body, &["dmReturnedMessageEnvelope"]);
    assert_eq!(returned.attr("dmVODZ"), Some("true"));
    assert_eq!(returned.attr("attsNum"), Some("4"));

    // The ordinary service refuses a big message, and the other way round
    // (1281, manual 3.8).
    let refused =
        common::messages::call(&t, PO_LOGIN, "/DS/dz", &id_body("MessageDownload", &id)).await;
    assert_eq!(code(&refused), "1281", "{}", refused.text);
    let refused = call(&t, PO_LOGIN, &id_body("BigMessageDownload", &ordinary)).await;
    assert_eq!(code(&refused), "1281", "{}", refused.text);
    let refused = call(
        &t,
        PO_LOGIN,
        &id_body("SignedBigMessageDownload", &ordinary),
    )
    .await;
    assert_eq!(code(&refused), "1281", "{}", refused.text);

    // BigMessageDownload in base64: the documents byte for byte, dmVODZ
    // and attsNum, and dmHash over the dmDm bytes as for every message.
    let down = call(&t, PO_LOGIN, &id_body("BigMessageDownload", &id)).await;
    assert_eq!(code(&down), "0000", "{}", down.text);
    let body = down.body();
    let msg = common::messages::find(&body, &["dmReturnedMessage"]);
    assert_eq!(msg.attr("dmVODZ"), Some("true"));
    assert_eq!(msg.attr("attsNum"), Some("4"));
    assert_eq!(documents(msg), expected);
    let hash = text_of(msg, &["dmHash"]);
    let dm_dm = isds_gateway::domain::messages::wire::dm_dm_bytes(down.text.as_bytes()).unwrap();
    assert_eq!(unb64(&hash), sha2::Sha256::digest(dm_dm).to_vec());
    // VerifyMessage answers the same hash.
    let verify =
        common::messages::call(&t, PO_LOGIN, "/DS/dx", &id_body("VerifyMessage", &id)).await;
    assert_eq!(text_of(&verify.body(), &["dmHash"]), hash);

    // The same as MTOM/XOP: each document a binary part.
    let raw = post(&t, PO_LOGIN, &id_body("BigMessageDownload", &id), true).await;
    assert_eq!(raw.status, 200);
    let parts = multipart(&raw.content_type, &raw.body);
    assert_eq!(parts.len(), 5, "root and four documents");
    for (part, doc) in parts[1..].iter().zip(&expected) {
        assert_eq!(&part.1, doc);
    }
    let resolved = response_of(resolve_mtom(&raw));
    assert_eq!(
        documents(common::messages::find(
            &resolved.body(),
            &["dmReturnedMessage"]
        )),
        expected
    );
    assert_eq!(
        isds_gateway::domain::messages::wire::dm_dm_bytes(resolved.text.as_bytes()).unwrap(),
        dm_dm,
        "the resolved MTOM answer holds the same dmDm"
    );

    // DownloadAttachment, numbered from 0, by either side, in both forms.
    for (n, doc) in expected.iter().enumerate() {
        let body = format!(
            r#"<DownloadAttachment xmlns="{ISDS_NS}"><dmID>{id}</dmID><attNum>{n}</attNum></DownloadAttachment>"#
        );
        for login in [PO_LOGIN, OVM_LOGIN] {
            let resp = call(&t, login, &body).await;
            assert_eq!(code(&resp), "0000", "{}", resp.text);
            assert_eq!(documents(&resp.body()), vec![doc.clone()]);
        }
        let raw = post(&t, PO_LOGIN, &body, true).await;
        let parts = multipart(&raw.content_type, &raw.body);
        assert_eq!(&parts[1].1, doc);
        assert_valid(&response_of(resolve_mtom(&raw)).body_xml(), Xsd::Dm);
    }
    let past = format!(
        r#"<DownloadAttachment xmlns="{ISDS_NS}"><dmID>{id}</dmID><attNum>4</attNum></DownloadAttachment>"#
    );
    let resp = call(&t, PO_LOGIN, &past).await;
    assert_eq!(
        resp.status(),
        (
            "1299".into(),
            "Příloha 4 neexistuje (číslováno od nuly).".into()
        )
    );

    // The signed downloads verify with openssl and hold the same dmDm.
    let signed = call(&t, PO_LOGIN, &id_body("SignedBigMessageDownload", &id)).await;
    assert_eq!(code(&signed), "0000", "{}", signed.text);
    let zfo = unb64(&text_of(&signed.body(), &["dmSignature"]));
    let content = cms_verify(&t, &zfo);
    assert_eq!(
        isds_gateway::domain::messages::wire::dm_dm_bytes(&content).unwrap(),
        dm_dm
    );
    let raw = post(
        &t,
        PO_LOGIN,
        &id_body("SignedBigMessageDownload", &id),
        true,
    )
    .await;
    // Each signing is new (time, signature): the MTOM part is another
    // artefact of the same message, verified the same way.
    let mtom_zfo = &multipart(&raw.content_type, &raw.body)[1].1;
    let mtom_content = cms_verify(&t, mtom_zfo);
    assert!(
        isds_gateway::domain::messages::wire::dm_dm_bytes(&mtom_content) == Some(dm_dm),
        "the MTOM artefact holds the same dmDm"
    );
    let sent = call(&t, OVM_LOGIN, &id_body("SignedSentBigMessageDownload", &id)).await;
    assert_eq!(code(&sent), "0000", "{}", sent.text);
    let sent_zfo = unb64(&text_of(&sent.body(), &["dmSignature"]));
    let sent_content = cms_verify(&t, &sent_zfo);
    let sent_xml = xml::parse(&sent_content, &ParseLimits::default()).unwrap();
    assert_eq!(
        sent_xml.ns.as_deref(),
        Some("http://isds.czechpoint.cz/v20/SentMessage")
    );

    // AuthenticateBigMessage: true for the artefact, false once touched.
    for (zfo, expected) in [(zfo.clone(), "true"), (tampered(&zfo), "false")] {
        let body = format!(
            r#"<AuthenticateBigMessage xmlns="{ISDS_NS}"><dmMessage>{}</dmMessage></AuthenticateBigMessage>"#,
            b64(&zfo)
        );
        let resp = call(&t, OVM_LOGIN, &body).await;
        assert_eq!(code(&resp), "0000", "{}", resp.text);
        assert_eq!(text_of(&resp.body(), &["dmAuthResult"]), expected);
    }

    // An upload can be used again while it exists (manual 3.6.1).
    let again = create(&t, OVM_LOGIN, &create_body(PO_BOX, &ext_file(&ua, "main"))).await;
    assert_eq!(code(&again), "0000", "{}", again.text);
    t.stop().await;
}

fn tampered(zfo: &[u8]) -> Vec<u8> {
    let mut z = zfo.to_vec();
    let at = z.len() / 2;
    z[at] ^= 0x55;
    z
}

#[tokio::test]
async fn every_refusal_of_the_specification() {
    let t = TestGateway::start_with(small_limits).await;
    let refused = |resp: &SoapResponse| code(resp);

    // 1206: UploadAttachment needs the right to send (manual 3.6.1).
    let resp = call(
        &t,
        PO_ENTRUSTED_LOGIN,
        &upload_body("a.pdf", "application/pdf", b"x"),
    )
    .await;
    assert_eq!(refused(&resp), "1206");
    // 1280: a name of more than 255 characters.
    let long = format!("{}.pdf", "a".repeat(252));
    let resp = call(&t, OVM_LOGIN, &upload_body(&long, "application/pdf", b"x")).await;
    assert_eq!(refused(&resp), "1280");
    let ok_name = format!("{}.pdf", "a".repeat(251));
    let resp = call(
        &t,
        OVM_LOGIN,
        &upload_body(&ok_name, "application/pdf", b"x"),
    )
    .await;
    assert_eq!(refused(&resp), "0000");
    // 1214: a format ISDS refuses.
    let resp = call(
        &t,
        OVM_LOGIN,
        &upload_body("setup.exe", "application/octet-stream", b"x"),
    )
    .await;
    assert_eq!(refused(&resp), "1214");
    // 1287: one upload over the VoDZ limit; the answer comes before the
    // rest of the body is read.
    let resp = call(
        &t,
        OVM_LOGIN,
        &upload_body("big.pdf", "application/pdf", &payload(1_100_000, 9)),
    )
    .await;
    assert_eq!(refused(&resp), "1287");

    let u1 = upload(&t, OVM_LOGIN, "one.pdf", &payload(600_000, 1)).await;
    let u2 = upload(&t, OVM_LOGIN, "two.pdf", &payload(600_000, 2)).await;
    // 1286: the unused uploads over their cap (1.5 MB here).
    let resp = call(
        &t,
        OVM_LOGIN,
        &upload_body("three.pdf", "application/pdf", &payload(400_000, 3)),
    )
    .await;
    assert_eq!(refused(&resp), "1286");
    let small = upload(&t, OVM_LOGIN, "small.pdf", &payload(50_000, 4)).await;
    // 1296: over the VoDZ limit together.
    let both = format!("{}{}", ext_file(&u1, "main"), ext_file(&u2, "enclosure"));
    assert_eq!(
        refused(&create(&t, OVM_LOGIN, &create_body(PO_BOX, &both)).await),
        "1296"
    );
    // 1297: under the VoDZ threshold (manual 3.7).
    let resp = create(
        &t,
        OVM_LOGIN,
        &create_body(PO_BOX, &ext_file(&small, "main")),
    )
    .await;
    assert_eq!(refused(&resp), "1297");
    // 1294: no such upload; 1293: another box's upload.
    let missing = Uploaded {
        id: "999999".into(),
        sha256: u1.sha256.clone(),
        sha3: u1.sha3.clone(),
    };
    let resp = create(
        &t,
        OVM_LOGIN,
        &create_body(PO_BOX, &ext_file(&missing, "main")),
    )
    .await;
    assert_eq!(
        resp.status(),
        ("1294".into(), "Příloha s ID 999999 neexistuje.".into())
    );
    let theirs = upload(&t, PO_LOGIN, "cizi.pdf", &payload(200_000, 5)).await;
    let resp = create(
        &t,
        OVM_LOGIN,
        &create_body(PO_BOX, &ext_file(&theirs, "main")),
    )
    .await;
    assert_eq!(refused(&resp), "1293");
    // Digests: 1290 not the upload's, 1289 malformed or of another
    // algorithm, 1288 missing.
    let wrong = Uploaded {
        sha256: u2.sha256.clone(),
        ..clone(&u1)
    };
    assert_eq!(
        refused(
            &create(
                &t,
                OVM_LOGIN,
                &create_body(PO_BOX, &ext_file(&wrong, "main"))
            )
            .await
        ),
        "1290"
    );
    let malformed = Uploaded {
        sha3: "xyz".into(),
        ..clone(&u1)
    };
    assert_eq!(
        refused(
            &create(
                &t,
                OVM_LOGIN,
                &create_body(PO_BOX, &ext_file(&malformed, "main"))
            )
            .await
        ),
        "1289"
    );
    let md5 = ext_file(&u1, "main").replace("SHA3-256", "MD5");
    assert_eq!(
        refused(&create(&t, OVM_LOGIN, &create_body(PO_BOX, &md5)).await),
        "1289"
    );
    let no_digest = ext_file(&u1, "main").replace(&format!(" dmAttHash2=\"{}\"", u1.sha3), "");
    assert_eq!(
        refused(&create(&t, OVM_LOGIN, &create_body(PO_BOX, &no_digest)).await),
        "1288"
    );
    // 1291, 1292, 1284: the reference's attributes.
    let no_meta = ext_file(&u1, "main").replace(" dmFileMetaType=\"main\"", "");
    assert_eq!(
        refused(&create(&t, OVM_LOGIN, &create_body(PO_BOX, &no_meta)).await),
        "1291"
    );
    let no_id = ext_file(&u1, "main").replace(&format!(" dmAttID=\"{}\"", u1.id), "");
    assert_eq!(
        refused(&create(&t, OVM_LOGIN, &create_body(PO_BOX, &no_id)).await),
        "1292"
    );
    let empty_id = ext_file(&u1, "main").replace(&format!("dmAttID=\"{}\"", u1.id), "dmAttID=\"\"");
    assert_eq!(
        refused(&create(&t, OVM_LOGIN, &create_body(PO_BOX, &empty_id)).await),
        "1284"
    );
    // 1206: CreateBigMessage needs the right to send too.
    let resp = create(
        &t,
        PO_ENTRUSTED_LOGIN,
        &create_body(OVM_BOX, &ext_file(&theirs, "main")),
    )
    .await;
    assert_eq!(refused(&resp), "1206");
    // The rules of CreateMessage hold: 1202 for a box that does not exist.
    let resp = create(
        &t,
        OVM_LOGIN,
        &create_body("zzzzzzz", &ext_file(&u1, "main")),
    )
    .await;
    assert_eq!(refused(&resp), "1202");
    // A sound one still goes, and its uploads no longer count as unused:
    // the cap has room again.
    assert_eq!(
        refused(&create(&t, OVM_LOGIN, &create_body(PO_BOX, &ext_file(&u1, "main"))).await),
        "0000"
    );
    let resp = call(
        &t,
        OVM_LOGIN,
        &upload_body("three.pdf", "application/pdf", &payload(400_000, 3)),
    )
    .await;
    assert_eq!(refused(&resp), "0000");
    // Downloads of a message of another box: 1211; of none: 1219.
    let resp = call(&t, OVM_LOGIN, &id_body("BigMessageDownload", "99999999")).await;
    assert_eq!(refused(&resp), "1219");
    t.stop().await;
}

fn clone(u: &Uploaded) -> Uploaded {
    Uploaded {
        id: u.id.clone(),
        sha256: u.sha256.clone(),
        sha3: u.sha3.clone(),
    }
}

/// Names of the uploads' files in the document directory.
fn upload_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("data").join("documents"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("att-") || n.starts_with("spool-"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn an_unused_upload_expires_on_the_test_clock() {
    let clock = TestClock::new();
    let dir = tempfile::tempdir().unwrap();
    let t = TestGateway::start_full(
        dir,
        |c| {
            c.vodz.min_total_bytes = 10;
            c.vodz.keep_unused_secs = 3600;
        },
        clock.clone(),
    )
    .await;
    let kept = upload(&t, OVM_LOGIN, "kept.pdf", &payload(1000, 1)).await;
    let used = upload(&t, OVM_LOGIN, "used.pdf", &payload(1000, 2)).await;
    let resp = create(
        &t,
        OVM_LOGIN,
        &create_body(PO_BOX, &ext_file(&used, "main")),
    )
    .await;
    assert_eq!(code(&resp), "0000", "{}", resp.text);
    assert_eq!(upload_files(t.dir.path()).len(), 2);
    clock.advance(time::Duration::minutes(59));
    // Still there just before its time.
    let body = create_body(PO_BOX, &ext_file(&kept, "main"));
    let probe = create_body("zzzzzzz", &ext_file(&kept, "main"));
    assert_eq!(code(&create(&t, OVM_LOGIN, &probe).await), "1202");
    clock.advance(time::Duration::minutes(2));
    let resp = create(&t, OVM_LOGIN, &body).await;
    assert_eq!(code(&resp), "1294", "{}", resp.text);
    // Its file is gone; the used one stays, usable.
    assert_eq!(upload_files(t.dir.path()), vec![format!("att-{}", used.id)]);
    let again = create(
        &t,
        OVM_LOGIN,
        &create_body(PO_BOX, &ext_file(&used, "main")),
    )
    .await;
    assert_eq!(code(&again), "0000", "{}", again.text);
    t.stop().await;
}

#[tokio::test]
async fn broken_uploads_leave_nothing_behind() {
    let t = TestGateway::start_with(small_limits).await;
    // Not base64: a client fault, no file.
    let raw = post(
        &t,
        OVM_LOGIN,
        &format!(
            r#"<UploadAttachment xmlns="{ISDS_NS}"><dmFile dmMimeType="application/pdf" dmFileDescr="a.pdf"><dmEncodedContent>QUJD*RA==</dmEncodedContent></dmFile></UploadAttachment>"#
        ),
        false,
    )
    .await;
    assert_eq!(raw.status, 400, "{}", String::from_utf8_lossy(&raw.body));
    // Refused after spooling (1214): the spooled file goes too.
    let resp = call(
        &t,
        OVM_LOGIN,
        &upload_body(
            "setup.exe",
            "application/octet-stream",
            &payload(300_000, 1),
        ),
    )
    .await;
    assert_eq!(code(&resp), "1214");
    // A client that stops half-way.
    let body = soap12(&upload_body(
        "a.pdf",
        "application/pdf",
        &payload(500_000, 2),
    ));
    let cut = &body.as_bytes()[..body.len() / 2];
    let mut stream = tokio::net::TcpStream::connect(t.gw.http_addr)
        .await
        .unwrap();
    use tokio::io::AsyncWriteExt;
    let head = format!(
        "POST /DS/vodz HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Type: application/soap+xml\r\nContent-Length: {}\r\n\r\n",
        basic(OVM_LOGIN.0, OVM_LOGIN.1),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(cut).await.unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(stream);
    // The gateway notices the end of the connection and cleans up.
    let mut left = upload_files(t.dir.path());
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left = upload_files(t.dir.path());
    }
    assert!(left.is_empty(), "{left:?}");
    t.stop().await;
}

#[tokio::test]
async fn a_malformed_mtom_upload_is_599_and_leaves_nothing() {
    let t = TestGateway::start_with(small_limits).await;
    let before = upload_files(t.dir.path());
    let envelope = soap12(&format!(
        r#"<UploadAttachment xmlns="{ISDS_NS}"><dmFile dmMimeType="application/pdf" dmFileDescr="x.pdf"><dmEncodedContent><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:doc@gw"/></dmEncodedContent></dmFile></UploadAttachment>"#
    ));
    let bytes = payload(100_000, 9);
    let (content_type, body) = mtom_request(&envelope, &bytes);
    // Three ways to break it: the part it names is missing, the body stops
    // before its closing delimiter, the outer type is not XOP.
    let missing_part = String::from_utf8_lossy(&body).replace("cid:doc@gw", "cid:nothing@gw");
    let truncated = body[..body.len() - 200].to_vec();
    let cases: Vec<(String, Vec<u8>)> = vec![
        (content_type.clone(), missing_part.into_bytes()),
        (content_type.clone(), truncated),
        (
            content_type.replace("application/xop+xml", "text/xml"),
            body.clone(),
        ),
    ];
    for (ct, wire) in cases {
        let resp = t
            .http
            .post(t.http_url(VODZ))
            .header("authorization", basic(OVM_LOGIN.0, OVM_LOGIN.1))
            .header("content-type", ct)
            .body(wire)
            .send()
            .await
            .expect("request sent");
        assert_eq!(resp.status().as_u16(), 599);
        let text = resp.text().await.expect("body");
        assert!(text.contains("Fault"), "{text}");
        assert!(
            text.contains("http://www.w3.org/2003/05/soap-envelope"),
            "{text}"
        );
    }
    assert_eq!(upload_files(t.dir.path()), before);
}
