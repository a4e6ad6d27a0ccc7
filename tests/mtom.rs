//! MTOM/XOP requests through the real interface: hand-built
//! `multipart/related` bodies whose documents travel as binary parts
//! referenced by `xop:Include`, on every endpoint, in SOAP 1.1 and 1.2;
//! and the HTTP 599 with a SOAP fault that a malformed multipart gets
//! (the operator's VoDZ specification, chapter 3.4).

mod common;

use std::io::Write;

use common::messages::{b64, call, deliver, id_body, texts, unb64};
use common::*;

/// Held by every test here, so the one that measures the process's peak
/// memory never counts another's gateway or bodies (the tests of one file
/// run in one process, in parallel).
static MEMORY_HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const XOP_NS: &str = "http://www.w3.org/2004/08/xop/include";
const BOUNDARY: &str = "----=_Part_7_1234567.1700000000000";

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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Soap {
    V11,
    V12,
}

impl Soap {
    fn envelope(self, body: &str) -> String {
        match self {
            Soap::V11 => soap11(body),
            Soap::V12 => soap12(body),
        }
    }

    /// The root part's media type, as `start-info` and the root's `type`.
    fn media_type(self) -> &'static str {
        match self {
            Soap::V11 => "text/xml",
            Soap::V12 => "application/soap+xml",
        }
    }

    fn namespace(self) -> &'static str {
        match self {
            Soap::V11 => SOAP11_NS,
            Soap::V12 => SOAP12_NS,
        }
    }
}

/// One part of a multipart body: its headers and bytes.
struct Part {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Part {
    /// The root part: the envelope as XOP's `application/xop+xml`.
    fn root(soap: Soap, envelope: &str) -> Part {
        Part {
            headers: vec![
                (
                    "Content-Type".into(),
                    format!(
                        "application/xop+xml; charset=UTF-8; type=\"{}\"",
                        soap.media_type()
                    ),
                ),
                ("Content-Transfer-Encoding".into(), "8bit".into()),
                ("Content-ID".into(), "<rootpart@example.org>".into()),
            ],
            body: envelope.as_bytes().to_vec(),
        }
    }

    /// A binary part with the Content-ID header `content_id` (as given:
    /// with or without angle brackets).
    fn binary(content_id: &str, bytes: &[u8]) -> Part {
        Part {
            headers: vec![
                ("Content-Type".into(), "application/pdf".into()),
                ("Content-Transfer-Encoding".into(), "binary".into()),
                ("Content-ID".into(), content_id.into()),
            ],
            body: bytes.to_vec(),
        }
    }

    /// A part in base64 transfer encoding, in lines of 76 characters.
    fn base64(content_id: &str, bytes: &[u8]) -> Part {
        let text = b64(bytes)
            .as_bytes()
            .chunks(76)
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect::<Vec<_>>()
            .join("\r\n");
        Part {
            headers: vec![
                ("Content-Type".into(), "application/octet-stream".into()),
                ("Content-Transfer-Encoding".into(), "base64".into()),
                ("Content-ID".into(), content_id.into()),
            ],
            body: text.into_bytes(),
        }
    }
}

/// The body of `parts`, closed by the final delimiter.
fn multipart(parts: &[Part]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend(format!("--{BOUNDARY}\r\n").bytes());
        for (name, value) in &part.headers {
            out.extend(format!("{name}: {value}\r\n").bytes());
        }
        out.extend(b"\r\n");
        out.extend(&part.body);
        out.extend(b"\r\n");
    }
    out.extend(format!("--{BOUNDARY}--\r\n").bytes());
    out
}

/// The outer Content-Type, as soapUI and JAX-WS send it; `start` names
/// the root part (else it is the first).
fn content_type(soap: Soap, start: Option<&str>) -> String {
    let start = start.map_or(String::new(), |s| format!(" start=\"{s}\";"));
    format!(
        "multipart/related; type=\"application/xop+xml\";{start} start-info=\"{}\"; action=\"\"; boundary=\"{BOUNDARY}\"",
        soap.media_type()
    )
}

fn include(cid: &str) -> String {
    format!(r#"<xop:Include xmlns:xop="{XOP_NS}" href="cid:{cid}"/>"#)
}

/// POSTs a multipart body to `path` as `login`.
async fn post_mtom(
    t: &TestGateway,
    login: (&str, &str),
    path: &str,
    body: Vec<u8>,
    content_type: &str,
) -> SoapResponse {
    let req = t
        .http
        .post(t.http_url(path))
        .header("authorization", basic(login.0, login.1));
    send(req, body, content_type).await
}

/// A CreateMessage to po4demo whose main document is `content` (an
/// include, or base64 text).
fn create_message(content: &str) -> String {
    format!(
        r#"<CreateMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>po4demo</dbIDRecipient><dmAnnotation>MTOM</dmAnnotation></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="plan.pdf"><dmEncodedContent>{content}</dmEncodedContent></dmFile><dmFile dmMimeType="application/pdf" dmFileMetaType="enclosure" dmFileDescr="priloha.pdf"><dmEncodedContent>{}</dmEncodedContent></dmFile></dmFiles></CreateMessage>"#,
        include("second")
    )
}

/// The documents of message `id` as its recipient downloads them.
async fn downloaded(t: &TestGateway, id: &str) -> Vec<Vec<u8>> {
    deliver(t, PO_LOGIN).await;
    let resp = call(t, PO_LOGIN, "/DS/dz", &id_body("MessageDownload", id)).await;
    assert_eq!(resp.status().0, "0000", "{:.500}", resp.text);
    texts(&resp.body(), "dmEncodedContent")
        .iter()
        .map(|t| unb64(t))
        .collect()
}

fn sent_id(resp: &SoapResponse) -> String {
    assert_eq!(resp.status, 200, "{:.1000}", resp.text);
    assert_eq!(resp.status().0, "0000", "{:.1000}", resp.text);
    texts(&resp.body(), "dmID").remove(0)
}

/// JAX-WS with MTOM on: CreateMessage on /DS/dz in SOAP 1.1, the
/// documents as binary parts after the root; the recipient downloads
/// exactly those bytes (as base64 inside the XML).
#[tokio::test]
async fn a_create_message_with_xop_parts_after_the_root_stores_their_bytes() {
    let _heavy = MEMORY_HEAVY.lock().await;
    let t = TestGateway::start().await;
    let main = payload(300_001, 1);
    let second = payload(1_000, 2);
    let envelope = Soap::V11.envelope(&create_message(&include("main%40example.org")));
    let body = multipart(&[
        Part::root(Soap::V11, &envelope),
        Part::binary("<main@example.org>", &main),
        Part::binary("<second>", &second),
    ]);
    let resp = post_mtom(
        &t,
        OVM_LOGIN,
        "/DS/dz",
        body,
        &content_type(Soap::V11, None),
    )
    .await;
    assert!(
        resp.content_type.starts_with("text/xml"),
        "answered in SOAP 1.1: {}",
        resp.content_type
    );
    assert_valid(&resp.body_xml(), Xsd::Dm);
    let id = sent_id(&resp);
    assert_eq!(downloaded(&t, &id).await, [main, second]);
    t.stop().await;
}

/// SOAP 1.2 (soapUI, WCF): the root named by `start` comes last, its
/// parts before it (spooled until needed), one in base64 transfer
/// encoding, one with a Content-ID without angle brackets named by a
/// percent-encoded cid: URL. The answer matches the plain base64 request.
#[tokio::test]
async fn parts_before_the_root_and_in_base64_are_resolved_in_soap_1_2() {
    let _heavy = MEMORY_HEAVY.lock().await;
    let t = TestGateway::start().await;
    let main = payload(200_000, 3);
    let second = payload(77, 4);
    let envelope = Soap::V12.envelope(&create_message(&include("plan%2F1@example.org")));
    let body = multipart(&[
        Part::base64("<second>", &second),
        Part::binary("plan/1@example.org", &main),
        Part::root(Soap::V12, &envelope),
    ]);
    let resp = post_mtom(
        &t,
        OVM_LOGIN,
        "/DS/dz",
        body,
        &content_type(Soap::V12, Some("<rootpart@example.org>")),
    )
    .await;
    assert!(
        resp.content_type.starts_with("application/soap+xml"),
        "answered in SOAP 1.2: {}",
        resp.content_type
    );
    assert!(resp.text.contains(SOAP12_NS), "{:.300}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Dm);
    let id = sent_id(&resp);
    assert_eq!(downloaded(&t, &id).await, [main.clone(), second.clone()]);

    // The same message as plain base64 is stored alike.
    let plain = create_message(&b64(&main)).replace(&include("second"), &b64(&second));
    let resp = t.soap_as(OVM_LOGIN, "/DS/dz", &plain).await;
    let plain_id = sent_id(&resp);
    assert_eq!(downloaded(&t, &plain_id).await, [main, second]);
    t.stop().await;
}

/// Not only the message services: ArchiveISDSDocument on /DS/arch (SOAP
/// 1.2) and AuthenticateMessage on /DS/dz (SOAP 1.1) take their signed
/// message as an xop part.
#[tokio::test]
async fn other_endpoints_take_xop_parts_too() {
    let _heavy = MEMORY_HEAVY.lock().await;
    let t = TestGateway::start().await;
    let resp = t
        .soap_as(
            OVM_LOGIN,
            "/DS/dz",
            &create_message(&b64(b"%PDF-1.4 x")).replace(&include("second"), &b64(b"y")),
        )
        .await;
    let id = sent_id(&resp);
    deliver(&t, PO_LOGIN).await;
    let resp = call(
        &t,
        PO_LOGIN,
        "/DS/dz",
        &id_body("SignedMessageDownload", &id),
    )
    .await;
    let zfo = unb64(&texts(&resp.body(), "dmSignature")[0]);

    let archive = Soap::V12.envelope(&format!(
        r#"<ArchiveISDSDocument xmlns="{ISDS_NS}"><dmMessage>{}</dmMessage></ArchiveISDSDocument>"#,
        include("zfo")
    ));
    let body = multipart(&[Part::root(Soap::V12, &archive), Part::binary("<zfo>", &zfo)]);
    let resp = post_mtom(
        &t,
        PO_LOGIN,
        "/DS/arch",
        body,
        &content_type(Soap::V12, None),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Dm);
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let archived = unb64(&texts(&resp.body(), "dmResultDoc")[0]);
    assert_ne!(archived, zfo);

    for (document, expected) in [
        (zfo.clone(), "true"),
        (zfo[..zfo.len() - 1].to_vec(), "false"),
    ] {
        let authenticate = Soap::V11.envelope(&format!(
            r#"<AuthenticateMessage xmlns="{ISDS_NS}"><dmMessage>{}</dmMessage></AuthenticateMessage>"#,
            include("zfo")
        ));
        let body = multipart(&[
            Part::binary("<zfo>", &document),
            Part::root(Soap::V11, &authenticate),
        ]);
        let ct = content_type(Soap::V11, Some("<rootpart@example.org>"));
        let resp = post_mtom(&t, PO_LOGIN, "/DS/dz", body, &ct).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(resp.status().0, "0000", "{}", resp.text);
        assert_eq!(texts(&resp.body(), "dmAuthResult"), [expected]);
    }
    t.stop().await;
}

/// An MTOM body sent with `Content-Encoding: gzip` is decoded as it
/// arrives, as any request body is.
#[tokio::test]
async fn a_compressed_mtom_body_is_read() {
    let _heavy = MEMORY_HEAVY.lock().await;
    let t = TestGateway::start().await;
    let main = payload(100_000, 5);
    let envelope = Soap::V11.envelope(&create_message(&include("main")));
    let body = multipart(&[
        Part::root(Soap::V11, &envelope),
        Part::binary("<main>", &main),
        Part::binary("<second>", b"2"),
    ]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&body).unwrap();
    let req = t
        .http
        .post(t.http_url("/DS/dz"))
        .header("authorization", basic(OVM_LOGIN.0, OVM_LOGIN.1))
        .header("content-encoding", "gzip");
    let resp = send(req, gz.finish().unwrap(), &content_type(Soap::V11, None)).await;
    let id = sent_id(&resp);
    assert_eq!(downloaded(&t, &id).await, [main, b"2".to_vec()]);
    t.stop().await;
}

/// Every kind of malformed multipart gets HTTP 599 and a SOAP fault
/// (`Client`, SOAP 1.2 `Sender`) in the version the request announced,
/// with a reason naming what is wrong; nothing is sent.
#[tokio::test]
async fn a_malformed_multipart_gets_599_with_a_soap_fault() {
    let _heavy = MEMORY_HEAVY.lock().await;
    let t = TestGateway::start().await;
    let good = |soap: Soap| {
        vec![
            Part::root(soap, &soap.envelope(&create_message(&include("main")))),
            Part::binary("<main>", b"%PDF-1.4 main"),
            Part::binary("<second>", b"%PDF-1.4 second"),
        ]
    };
    for soap in [Soap::V11, Soap::V12] {
        let ct = content_type(soap, None);
        let whole = multipart(&good(soap));
        let mut cases: Vec<(&str, Vec<u8>, String, &str)> = vec![
            (
                "no boundary",
                whole.clone(),
                format!(
                    "multipart/related; type=\"application/xop+xml\"; start-info=\"{}\"",
                    soap.media_type()
                ),
                "no boundary",
            ),
            (
                "not XOP",
                whole.clone(),
                ct.replace("application/xop+xml", soap.media_type()),
                "Outer Content-Type has type parameter=",
            ),
            (
                "missing root",
                whole.clone(),
                content_type(soap, Some("<nothing@example.org>")),
                "no part has the Content-ID <nothing@example.org>",
            ),
            (
                "cid not found",
                multipart(&good(soap)[..2]),
                ct.clone(),
                "no part has the Content-ID <second>",
            ),
            (
                "truncated part",
                whole[..whole.len() - 40].to_vec(),
                ct.clone(),
                "ends inside a part",
            ),
            (
                "no closing delimiter",
                whole[..whole.len() - 4].to_vec(),
                ct.clone(),
                "ends before its closing delimiter",
            ),
            (
                "wrong boundary",
                whole.clone(),
                ct.replace(BOUNDARY, "other-boundary"),
                "no complete part delimited",
            ),
            (
                "bad part headers",
                {
                    let mut parts = good(soap);
                    parts[1].headers.push(("Not A Header".into(), "x".into()));
                    multipart(&parts)
                },
                ct.clone(),
                "headers cannot be read",
            ),
            (
                "bad base64 part",
                {
                    let mut parts = good(soap);
                    parts[1] = Part::base64("<main>", b"x");
                    parts[1].body = b"*not base64*".to_vec();
                    multipart(&parts)
                },
                ct.clone(),
                "not valid base64",
            ),
            (
                "duplicate Content-ID",
                {
                    let mut parts = good(soap);
                    parts.push(Part::binary("<main>", b"again"));
                    multipart(&parts)
                },
                ct.clone(),
                "two parts have the Content-ID <main>",
            ),
        ];
        cases.push((
            "include without cid",
            multipart(&[Part::root(
                soap,
                &soap.envelope(&create_message(&format!(
                    r#"<xop:Include xmlns:xop="{XOP_NS}" href="http://example.org/main"/>"#
                ))),
            )]),
            ct.clone(),
            "no cid: URL",
        ));
        for (what, body, content_type, reason) in cases {
            let resp = post_mtom(&t, OVM_LOGIN, "/DS/dz", body, &content_type).await;
            assert_eq!(resp.status, 599, "{soap:?} {what}: {}", resp.text);
            assert!(
                resp.text.contains(soap.namespace()),
                "{soap:?} {what}: answered in the request's version: {}",
                resp.text
            );
            let (code, text) = resp.fault();
            let expected_code = match soap {
                Soap::V11 => "SOAP-ENV:Client",
                Soap::V12 => "env:Sender",
            };
            assert_eq!(code, expected_code, "{soap:?} {what}");
            assert!(text.contains(reason), "{soap:?} {what}: {text}");
        }
    }
    // Nothing was sent; the gateway answers on.
    let resp = call(
        &t,
        OVM_LOGIN,
        "/DS/dx",
        &common::messages::list("GetListOfSentMessages"),
    )
    .await;
    assert!(texts(&resp.body(), "dmID").is_empty(), "{}", resp.text);
    let resp = post_mtom(
        &t,
        OVM_LOGIN,
        "/DS/dz",
        multipart(&good(Soap::V11)),
        &content_type(Soap::V11, None),
    )
    .await;
    sent_id(&resp);
    t.stop().await;
}

/// The peak resident memory of this process since the last
/// [`reset_peak_rss`], in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Starts the peak over from the present resident memory (Linux; where
/// refused, the peak stays the process's, and growth is measured from it),
/// after handing the allocator's free pages back, so a measurement does
/// not profit from memory an earlier one left resident.
fn reset_peak_rss() {
    isds_gateway::allocator::release_free_memory();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The growth of the peak resident memory while `f` runs.
async fn peak_growth<T>(f: impl std::future::Future<Output = T>) -> (T, Option<u64>) {
    reset_peak_rss();
    let before = peak_rss();
    let out = f.await;
    let grown = before.zip(peak_rss()).map(|(b, a)| a.saturating_sub(b));
    (out, grown)
}

/// The documents of message `id`, downloaded by its recipient without
/// checking the answer against the schemas (xmllint refuses text nodes
/// this large).
async fn downloaded_unchecked(t: &TestGateway, id: &str) -> Vec<Vec<u8>> {
    deliver(t, PO_LOGIN).await;
    let resp = t
        .soap_as(PO_LOGIN, "/DS/dz", &id_body("MessageDownload", id))
        .await;
    assert_eq!(resp.status().0, "0000", "{:.500}", resp.text);
    texts(&resp.body(), "dmEncodedContent")
        .iter()
        .map(|t| unb64(t))
        .collect()
}

/// Large parts cost no copies of themselves: a 15 MB part nothing
/// references is read and dropped (memory does not grow by its size); a
/// 15 MB document as a binary part before the root (spooled to disk until
/// the root needs it) costs the envelope the ordinary endpoints parse and
/// what CreateMessage makes of it, and goes through byte for byte; no
/// spooled file is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_15_mb_part_goes_through_in_bounded_memory() {
    let _heavy = MEMORY_HEAVY.lock().await;
    const SIZE: usize = 15 * 1024 * 1024;
    let t = TestGateway::start().await;
    let big = payload(SIZE, 6);
    let ct = content_type(Soap::V12, Some("<rootpart@example.org>"));

    let envelope = Soap::V12.envelope(&create_message(&include("small")));
    let unused = multipart(&[
        Part::binary("<unused>", &big),
        Part::binary("<small>", b"1"),
        Part::binary("<second>", b"2"),
        Part::root(Soap::V12, &envelope),
    ]);
    // Warm-up: the first message of a fresh gateway costs its own (about
    // 20 MiB).
    let small = multipart(&[
        Part::binary("<small>", b"1"),
        Part::binary("<second>", b"2"),
        Part::root(Soap::V12, &envelope),
    ]);
    sent_id(&post_mtom(&t, OVM_LOGIN, "/DS/dz", small, &ct).await);
    let (resp, grown) = peak_growth(post_mtom(&t, OVM_LOGIN, "/DS/dz", unused, &ct)).await;
    let id = sent_id(&resp);
    if let Some(grown) = grown {
        eprintln!("peak RSS growth with an unused {SIZE}-byte part: {grown} bytes");
        assert!(
            grown < SIZE as u64 / 2,
            "an unused part cost {} MiB",
            grown >> 20
        );
    }
    assert_eq!(downloaded(&t, &id).await, [b"1".to_vec(), b"2".to_vec()]);

    let envelope = Soap::V12.envelope(&create_message(&include("big")));
    let body = multipart(&[
        Part::binary("<big>", &big),
        Part::binary("<second>", b"2"),
        Part::root(Soap::V12, &envelope),
    ]);
    let (resp, mtom_grown) = peak_growth(post_mtom(&t, OVM_LOGIN, "/DS/dz", body, &ct)).await;
    let id = sent_id(&resp);
    let documents = downloaded_unchecked(&t, &id).await;
    assert_eq!(documents.len(), 2);
    assert!(documents[0] == big, "the downloaded document differs");
    drop(documents);
    let spool = t.dir.path().join("data/mtom-parts");
    let left: Vec<_> = std::fs::read_dir(&spool)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "spooled parts left behind: {left:?}");

    if let Some(grown) = mtom_grown {
        eprintln!("peak RSS growth for a {SIZE}-byte document part: {grown} bytes");
        // Measured: about 2.5 times the document (the envelope of 4/3 of
        // it, what CreateMessage makes of it, the client's side in this
        // process), as much as the same message sent as base64 costs; a
        // part held whole on its way would add its size and more.
        assert!(
            grown < 5 * SIZE as u64,
            "peak memory grew by {} MiB",
            grown >> 20
        );
    }
    t.stop().await;
}
