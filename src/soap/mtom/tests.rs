use super::*;
use futures_util::StreamExt;

const BOUNDARY: &str = "uuid:5f2c-b0";
const ENVELOPE_START: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><v:Op xmlns:v="urn:x"><v:a>"#;
const ENVELOPE_END: &str = "</v:a></v:Op></s:Body></s:Envelope>";

fn content_type(start: Option<&str>) -> String {
    let start = start.map_or(String::new(), |s| format!(" start=\"{s}\";"));
    format!(
        "multipart/related; type=\"application/xop+xml\";{start} start-info=\"application/soap+xml\"; boundary=\"{BOUNDARY}\""
    )
}

fn part(headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("--{BOUNDARY}\r\n").into_bytes();
    for (name, value) in headers {
        out.extend(format!("{name}: {value}\r\n").bytes());
    }
    out.extend(b"\r\n");
    out.extend(body);
    out.extend(b"\r\n");
    out
}

fn body(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = parts.concat();
    out.extend(format!("--{BOUNDARY}--\r\n").bytes());
    out
}

fn root(inner: &str) -> Vec<u8> {
    part(
        &[
            (
                "Content-Type",
                "application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"",
            ),
            ("Content-Transfer-Encoding", "8bit"),
            ("Content-ID", "<root@x>"),
        ],
        format!("{ENVELOPE_START}{inner}{ENVELOPE_END}").as_bytes(),
    )
}

fn binary(cid: &str, data: &[u8]) -> Vec<u8> {
    part(
        &[
            ("Content-Type", "application/octet-stream"),
            ("Content-Transfer-Encoding", "binary"),
            ("Content-ID", cid),
        ],
        data,
    )
}

fn include(href: &str) -> String {
    format!(r#"<xop:Include xmlns:xop="{XOP_NS}" href="{href}"/>"#)
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// The envelope `body` stands for, fed in pieces of `piece` bytes.
async fn resolve(body: &[u8], content_type: &str, piece: usize) -> Result<String, MtomError> {
    let dir = tempfile::tempdir().unwrap();
    let chunks: Vec<Result<Bytes, std::io::Error>> = body
        .chunks(piece)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let options = MtomOptions {
        spool_dir: dir.path().join("parts"),
        max_root_bytes: 1 << 20,
    };
    let mut stream = envelope_stream(futures_util::stream::iter(chunks), content_type, options)?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    drop(stream);
    // Spooled parts leave nothing behind.
    if let Ok(entries) = std::fs::read_dir(dir.path().join("parts")) {
        assert_eq!(entries.count(), 0);
    }
    Ok(String::from_utf8(out).unwrap())
}

async fn resolve_in_all_pieces(body: &[u8], content_type: &str) -> Result<String, String> {
    let whole = resolve(body, content_type, body.len().max(1))
        .await
        .map_err(|e| e.to_string());
    for piece in [1, 2, 7, 64, 4096] {
        let pieces = resolve(body, content_type, piece)
            .await
            .map_err(|e| e.to_string());
        assert_eq!(pieces, whole, "in pieces of {piece}");
    }
    whole
}

#[test]
fn outer_content_types_of_real_clients_are_read() {
    // soapUI (the operator's example), CXF, WCF (no spaces), Metro.
    for (ct, boundary, start) in [
        (
            r#"multipart/related; type="application/xop+xml"; start="<rootpart@soapui.org>"; start-info="application/soap+xml"; action=""; boundary="----=_Part_3_11130068.1639402668471""#,
            "----=_Part_3_11130068.1639402668471",
            Some("rootpart@soapui.org"),
        ),
        (
            r#"multipart/related; type="application/xop+xml"; boundary="uuid:0b8a1c2e-7d2f-4a5e"; start="<root.message@cxf.apache.org>"; start-info="text/xml""#,
            "uuid:0b8a1c2e-7d2f-4a5e",
            Some("root.message@cxf.apache.org"),
        ),
        (
            r#"multipart/related;type="application/xop+xml";start="<http://tempuri.org/0>";boundary="uuid:9e2+id=1";start-info="application/soap+xml""#,
            "uuid:9e2+id=1",
            Some("http://tempuri.org/0"),
        ),
        (
            "Multipart/Related; TYPE=\"Application/XOP+XML\"; BOUNDARY=plain",
            "plain",
            None,
        ),
    ] {
        let outer = OuterType::parse(ct).unwrap_or_else(|e| panic!("{ct}: {e}"));
        assert_eq!(outer.boundary, boundary, "{ct}");
        assert_eq!(outer.start.as_deref(), start, "{ct}");
        assert!(is_multipart_related(ct));
    }
    assert_eq!(
        announced_version(
            r#"multipart/related; type="application/xop+xml"; start-info="text/xml"; boundary=b"#
        ),
        Some(SoapVersion::V11)
    );
    assert_eq!(
        announced_version(
            r#"multipart/related; type="application/xop+xml"; start-info="application/soap+xml"; boundary=b"#
        ),
        Some(SoapVersion::V12)
    );
    assert!(!is_multipart_related("text/xml; charset=utf-8"));
}

#[test]
fn wrong_outer_content_types_are_named() {
    let err = |ct: &str| OuterType::parse(ct).err().unwrap();
    assert!(matches!(
        err(r#"multipart/related; type="application/xop+xml""#),
        MtomError::NoBoundary
    ));
    assert_eq!(
        err(r#"multipart/related; type="application/soap+xml"; boundary=b"#).to_string(),
        "Outer Content-Type has type parameter=application/soap+xml, should be application/xop+xml"
    );
    assert!(matches!(
        err("multipart/related; boundary=b"),
        MtomError::NotXop { found: None }
    ));
    assert!(matches!(
        err(r#"multipart/form-data; boundary=b"#),
        MtomError::NotMultipartRelated(_)
    ));
    assert!(matches!(err("multipart"), MtomError::BadContentType(..)));
    let fault = err("multipart/related; boundary=b").fault();
    assert_eq!(fault.http_status, 599);
    assert_eq!(fault.code, crate::soap::FaultCode::Client);
}

#[test]
fn cid_urls_name_content_ids() {
    assert_eq!(cid_of_href("cid:att_1").as_deref(), Some("att_1"));
    assert_eq!(cid_of_href("CID:a%40b.c").as_deref(), Some("a@b.c"));
    assert_eq!(
        cid_of_href("cid:http%3A%2F%2Ftempuri.org%2F1%2F63").as_deref(),
        Some("http://tempuri.org/1/63")
    );
    assert_eq!(cid_of_href("http://x/y"), None);
    assert_eq!(cid_of_href("cid"), None);
    assert_eq!(content_id(" <a@b> "), "a@b");
    assert_eq!(content_id("a@b"), "a@b");
}

#[test]
fn includes_are_found_in_both_forms_under_any_prefix() {
    let root = format!(
        r#"<e xmlns:x="{XOP_NS}"><a>{}</a><b><x:Include href="cid:two"></x:Include></b><c><Include xmlns="{XOP_NS}" href="cid:3"><ext xmlns="urn:y"/></Include></c><Include href="cid:not-xop"/></e>"#,
        include("cid:one")
    );
    let includes = find_includes(root.as_bytes()).unwrap();
    let spans: Vec<(&str, &str)> = includes
        .iter()
        .map(|i| (&root[i.start..i.end], i.cid.as_str()))
        .collect();
    assert_eq!(
        spans,
        [
            (include("cid:one").as_str(), "one"),
            (r#"<x:Include href="cid:two"></x:Include>"#, "two"),
            (
                &format!(r#"<Include xmlns="{XOP_NS}" href="cid:3"><ext xmlns="urn:y"/></Include>"#)
                    as &str,
                "3"
            ),
        ]
    );
    let bad = format!(r#"<e><x:Include xmlns:x="{XOP_NS}"/></e>"#);
    assert!(matches!(
        find_includes(bad.as_bytes()),
        Err(MtomError::IncludeWithoutCid)
    ));
    // Malformed XML: scanning stops, the parser downstream reports it.
    assert_eq!(find_includes(b"<e><f></e>").unwrap(), []);
}

#[test]
fn base64_text_in_pieces_is_the_text_of_the_whole() {
    let bytes = data(1000, 7);
    for piece in [1, 2, 3, 4, 5, 100, 999] {
        let mut encoder = Base64Encoder::default();
        let mut text = Vec::new();
        for chunk in bytes.chunks(piece) {
            text.extend_from_slice(&encoder.push(chunk));
        }
        text.extend_from_slice(&encoder.finish());
        assert_eq!(text, b64(&bytes).as_bytes(), "pieces of {piece}");
    }
}

#[test]
fn base64_parts_are_decoded_across_pieces_and_line_breaks() {
    let bytes = data(301, 1);
    let text: String = b64(&bytes)
        .as_bytes()
        .chunks(76)
        .map(|l| format!("{}\r\n", std::str::from_utf8(l).unwrap()))
        .collect();
    for piece in [1, 3, 5, 77, 1000] {
        let mut decoder = PartDecoder::Base64 {
            pending: Vec::new(),
            ended: false,
        };
        let mut out = Vec::new();
        for chunk in text.as_bytes().chunks(piece) {
            out.extend_from_slice(&decoder.decode(Bytes::copy_from_slice(chunk), "p").unwrap());
        }
        decoder.finish("p").unwrap();
        assert_eq!(out, bytes);
    }
    let decode_all = |text: &str| {
        let mut decoder = PartDecoder::Base64 {
            pending: Vec::new(),
            ended: false,
        };
        decoder.decode(Bytes::copy_from_slice(text.as_bytes()), "p")?;
        decoder.finish("p")
    };
    assert!(decode_all("QQ==QUJD").is_err());
    assert!(decode_all("QUJ").is_err());
    assert!(decode_all("QU*D").is_err());
    assert!(decode_all("QUJD\r\nQQ==").is_ok());
}

#[tokio::test]
async fn parts_after_the_root_are_encoded_in_place() {
    let one = data(100_000, 1);
    let two = data(5, 2);
    let inner = format!(
        "{}</v:a><v:a>{}",
        include("cid:one"),
        include("cid:two%40x")
    );
    let body = body(&[root(&inner), binary("<one>", &one), binary("two@x", &two)]);
    let envelope = resolve_in_all_pieces(&body, &content_type(None))
        .await
        .unwrap();
    assert_eq!(
        envelope,
        format!(
            "{ENVELOPE_START}{}</v:a><v:a>{}{ENVELOPE_END}",
            b64(&one),
            b64(&two)
        )
    );
}

#[tokio::test]
async fn parts_before_the_root_and_out_of_order_are_spooled() {
    let one = data(70_001, 3);
    let two = data(2, 4);
    let three = data(4, 5);
    // Root third (named by start); "three" before "two" though used after;
    // "one" used twice; an unused part without a Content-ID.
    let inner = format!(
        "{}</v:a><v:a>{}</v:a><v:a>{}</v:a><v:a>{}",
        include("cid:two"),
        include("cid:one"),
        include("cid:three"),
        include("cid:one")
    );
    let body = body(&[
        binary("<one>", &one),
        part(&[("Content-Type", "text/plain")], b"ignored"),
        root(&inner),
        binary("<three>", &three),
        binary("<unused>", b"x"),
        binary("<two>", &two),
    ]);
    let envelope = resolve_in_all_pieces(&body, &content_type(Some("<root@x>")))
        .await
        .unwrap();
    assert_eq!(
        envelope,
        format!(
            "{ENVELOPE_START}{}</v:a><v:a>{}</v:a><v:a>{}</v:a><v:a>{}{ENVELOPE_END}",
            b64(&two),
            b64(&one),
            b64(&three),
            b64(&one)
        )
    );
}

#[tokio::test]
async fn base64_and_empty_parts_and_a_preamble_are_read() {
    let one = data(1000, 9);
    let wrapped: String = b64(&one)
        .as_bytes()
        .chunks(76)
        .map(|l| format!("{}\r\n", std::str::from_utf8(l).unwrap()))
        .collect();
    let inner = format!("{}</v:a><v:a>{}", include("cid:one"), include("cid:empty"));
    let mut with_preamble = b"This is a preamble.\r\n".to_vec();
    with_preamble.extend(body(&[
        root(&inner),
        part(
            &[
                ("Content-ID", "<one>"),
                ("Content-Transfer-Encoding", "BASE64"),
            ],
            wrapped.as_bytes(),
        ),
        binary("<empty>", b""),
    ]));
    let envelope = resolve_in_all_pieces(&with_preamble, &content_type(None))
        .await
        .unwrap();
    assert_eq!(
        envelope,
        format!("{ENVELOPE_START}{}</v:a><v:a>{ENVELOPE_END}", b64(&one))
    );
}

#[tokio::test]
async fn malformed_bodies_are_named() {
    let ct = content_type(None);
    let inner = include("cid:one");
    let good = body(&[root(&inner), binary("<one>", &[b'a'; 100])]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "no parts",
            b"no boundary here".to_vec(),
            "no complete part delimited",
        ),
        ("empty body", Vec::new(), "no complete part delimited"),
        (
            "cid not found",
            body(&[root(&inner), binary("<other>", b"abc")]),
            "no part has the Content-ID <one> an xop:Include",
        ),
        (
            "truncated part",
            good[..good.len() - 30].to_vec(),
            "ends inside a part",
        ),
        (
            "no closing delimiter",
            good[..good.len() - 4].to_vec(),
            "ends before its closing delimiter",
        ),
        (
            "headers cut short",
            format!("--{BOUNDARY}\r\nContent-ID: <a>").into_bytes(),
            "no complete part delimited",
        ),
        (
            "bad header line",
            body(&[part(&[("Bad Header", "x")], b"<e/>")]),
            "headers cannot be read",
        ),
        (
            "duplicate content id",
            body(&[root(&inner), binary("<one>", b"a"), binary("<one>", b"b")]),
            "two parts have the Content-ID <one>",
        ),
        (
            "quoted-printable",
            body(&[
                root(&inner),
                part(
                    &[
                        ("Content-ID", "<one>"),
                        ("Content-Transfer-Encoding", "quoted-printable"),
                    ],
                    b"a",
                ),
            ]),
            "Content-Transfer-Encoding \"quoted-printable\"",
        ),
        (
            "bad base64 part",
            body(&[
                root(&inner),
                part(
                    &[
                        ("Content-ID", "<one>"),
                        ("Content-Transfer-Encoding", "base64"),
                    ],
                    b"@@@@",
                ),
            ]),
            "not valid base64",
        ),
        (
            "include without cid",
            body(&[root(&include("http://x/one"))]),
            "no cid: URL",
        ),
    ];
    for (what, body, expected) in cases {
        let err = resolve(&body, &ct, 5).await.err();
        let err = err.unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(err.is_malformed(), "{what}: {err}");
        assert_eq!(err.fault().http_status, 599, "{what}");
        assert!(err.to_string().contains(expected), "{what}: {err}");
    }
    let missing_root = resolve(&good, &content_type(Some("<nope>")), 5).await;
    assert!(
        matches!(&missing_root, Err(MtomError::MissingRoot { start: Some(s) }) if s == "nope"),
        "{missing_root:?}"
    );
}

#[tokio::test]
async fn a_root_over_the_limit_is_refused_without_reading_on() {
    let dir = tempfile::tempdir().unwrap();
    let body = body(&[root(&"x".repeat(2000))]);
    let options = MtomOptions {
        spool_dir: dir.path().to_owned(),
        max_root_bytes: 1000,
    };
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(body))]);
    let mut stream = envelope_stream(chunks, &content_type(None), options).unwrap();
    let err = stream.next().await.unwrap().unwrap_err();
    assert!(
        matches!(err, MtomError::RootTooLarge { limit: 1000 }),
        "{err}"
    );
    assert_eq!(err.fault().http_status, 413);
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn a_failing_body_stream_keeps_its_own_error() {
    #[derive(Debug, thiserror::Error)]
    #[error("the wire broke")]
    struct Broken;
    let dir = tempfile::tempdir().unwrap();
    let chunks =
        futures_util::stream::iter([Ok(Bytes::from(root(&include("cid:one")))), Err(Broken)]);
    let options = MtomOptions {
        spool_dir: dir.path().to_owned(),
        max_root_bytes: 1000,
    };
    let mut stream = envelope_stream(chunks, &content_type(None), options).unwrap();
    let err = loop {
        match stream.next().await {
            Some(Ok(_)) => continue,
            Some(Err(e)) => break e,
            None => panic!("ended without the error"),
        }
    };
    let MtomError::Read(inner) = err else {
        panic!("{err}")
    };
    assert!(inner.downcast::<Broken>().is_ok());
}

#[test]
fn media_type_parameters_are_read_as_rfc_9110_says() {
    let m = MediaType::parse(r#"Multipart/Related ; A="x\"y;z" ;b=plain=1;; c = "" "#).unwrap();
    assert_eq!(m.essence, "multipart/related");
    assert_eq!(m.param("a"), Some(r#"x"y;z"#));
    assert_eq!(m.param("b"), Some("plain=1"));
    assert_eq!(m.param("c"), Some(""));
    assert_eq!(m.param("d"), None);
    for bad in [
        "",
        "multipart",
        "a/b; x",
        r#"a/b; x="open"#,
        r#"a/b; x="q"z"#,
        "a/b; =1",
    ] {
        assert!(MediaType::parse(bad).is_err(), "{bad:?}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Any order of parts around the root, any sizes, any transfer
    /// encoding, any way the body is cut into chunks: the envelope is the
    /// root with each include replaced by its part's base64 text.
    #[test]
    fn any_layout_resolves_to_the_same_envelope(
        sizes in proptest::collection::vec(0usize..5000, 1..5),
        root_at in 0usize..5,
        base64_mask in 0u8..16,
        order_seed in 0u64..1000,
        piece in 1usize..3000,
    ) {
        let parts: Vec<(String, Vec<u8>)> = sizes
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("p{i}@x"), data(*n, i as u8)))
            .collect();
        // Includes in an order of their own, one part used twice.
        let mut used: Vec<usize> = (0..parts.len()).collect();
        used.rotate_left((order_seed as usize) % parts.len());
        used.push(used[0]);
        let inner = used
            .iter()
            .map(|i| include(&format!("cid:{}", parts[*i].0)))
            .collect::<Vec<_>>()
            .join("</v:a><v:a>");
        let expected = format!(
            "{ENVELOPE_START}{}{ENVELOPE_END}",
            used.iter().map(|i| b64(&parts[*i].1)).collect::<Vec<_>>().join("</v:a><v:a>")
        );
        let mut wire: Vec<Vec<u8>> = parts
            .iter()
            .enumerate()
            .map(|(i, (cid, bytes))| {
                if base64_mask & (1 << (i % 4)) != 0 {
                    part(
                        &[("Content-ID", &format!("<{cid}>")), ("Content-Transfer-Encoding", "base64")],
                        b64(bytes).as_bytes(),
                    )
                } else {
                    binary(&format!("<{cid}>"), bytes)
                }
            })
            .collect();
        wire.insert(root_at.min(wire.len()), root(&inner));
        let body = body(&wire);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let envelope = runtime.block_on(resolve(&body, &content_type(Some("<root@x>")), piece));
        proptest::prop_assert_eq!(envelope.unwrap(), expected);
    }
}
