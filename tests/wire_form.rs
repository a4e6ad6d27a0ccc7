//! The wire form of real ISDS, compared with the real responses in the
//! reference samples (`samples/real-isds/responses` and `messages`): for
//! each, the gateway answers the same operation, and its answer has the
//! sample's shape — the same prefix on every ISDS element (never a
//! default namespace), the same envelope, the elements in the sample's
//! order, `xsi:nil` elements with an end tag, `dmDm` declaring its own
//! `p:` prefix — and, where clients cut substrings or the content is the
//! same, the same text. HTTP/1.1 header names arrive in ISDS's casing
//! over a raw connection.

mod common;

use std::collections::BTreeMap;

use common::messages::*;
use common::*;
use quick_xml::events::Event;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DZ: &str = "/DS/dz";
const DX: &str = "/DS/dx";
const DS_MANAGE: &str = "/DS/DsManage";

fn sample(path: &str) -> String {
    let file = repo_dir()
        .join("../shared/isds-reference/samples/real-isds")
        .join(path);
    let raw = std::fs::read(&file).unwrap_or_else(|e| {
        panic!(
            "the ISDS reference samples are missing: {} ({e}); expected ../shared/isds-reference next to the repository",
            file.display()
        )
    });
    if file.extension().is_some_and(|e| e == "zfo") {
        return String::from_utf8(zfo_content(&file)).expect("UTF-8 content");
    }
    String::from_utf8(raw).expect("UTF-8 sample")
}

/// The signed content of a real `.zfo` (BER), by `openssl cms`.
fn zfo_content(path: &std::path::Path) -> Vec<u8> {
    let out = std::process::Command::new("openssl")
        .args(["cms", "-verify", "-noverify", "-inform", "DER", "-in"])
        .arg(path)
        .output()
        .expect("the openssl command must be installed for these tests");
    assert!(out.status.success(), "{}: {out:?}", path.display());
    out.stdout
}

/// One element as written: its qualified name, the path of local names
/// from the compared root, its attributes (names as written), whether it
/// is `xsi:nil` and whether its tag was shortened (`<x/>`).
#[derive(Debug, Clone)]
struct Written {
    qname: String,
    path: Vec<String>,
    attrs: Vec<String>,
    nil: bool,
    shortened: bool,
}

impl Written {
    fn prefix(&self) -> &str {
        self.qname.split_once(':').map_or("", |(p, _)| p)
    }
    fn local(&self) -> &str {
        self.path.last().map(String::as_str).unwrap_or("")
    }
}

/// The elements of `xml` from the first element named `root` (local
/// name) on, in document order; the content of `dmXMLContent` (a client's
/// document) is left out.
fn shape(xml: &str, root: &str) -> Vec<Written> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut inside = false;
    let mut skip_depth: Option<usize> = None;
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let (start, shortened) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(_) => {
                if inside {
                    stack.pop();
                    if skip_depth.is_some_and(|d| stack.len() < d) {
                        skip_depth = None;
                    }
                    if stack.is_empty() {
                        break;
                    }
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let Some(e) = start else { continue };
        let qname = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
        let local = qname.rsplit(':').next().unwrap().to_owned();
        if !inside && local != root {
            continue;
        }
        inside = true;
        stack.push(local);
        if skip_depth.is_none() {
            let attrs: Vec<(String, String)> = e
                .attributes()
                .map(|a| {
                    let a = a.expect("attribute");
                    (
                        String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                        String::from_utf8(a.value.to_vec()).unwrap(),
                    )
                })
                .collect();
            out.push(Written {
                qname: qname.clone(),
                path: stack.clone(),
                nil: attrs.iter().any(|(k, v)| k == "xsi:nil" && v == "true"),
                attrs: attrs.into_iter().map(|(k, _)| k).collect(),
                shortened,
            });
            if qname.ends_with("dmXMLContent") {
                skip_depth = Some(stack.len() + 1);
            }
        }
        if shortened {
            stack.pop();
            if stack.is_empty() {
                break;
            }
        }
    }
    assert!(!out.is_empty(), "no element {root} in:\n{xml:.300}");
    out
}

/// The child names under each parent path, repeats merged (a list of
/// `dmFile` or `dmEvent` counts once).
fn children(shape: &[Written]) -> BTreeMap<Vec<String>, Vec<String>> {
    let mut map: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for w in shape {
        let parent = w.path[..w.path.len() - 1].to_vec();
        let names = map.entry(parent).or_default();
        if names.last().map(String::as_str) != Some(w.local()) {
            names.push(w.local().to_owned());
        }
    }
    map
}

fn is_subsequence(small: &[String], big: &[String]) -> bool {
    let mut it = big.iter();
    small.iter().all(|s| it.any(|b| b == s))
}

/// What to compare besides the prefixes and the order.
#[derive(Clone, Copy)]
struct Checks {
    /// The sample writes nil elements with an end tag (a capture
    /// re-serialised by a client may not).
    nil_spelling: bool,
    /// The sample's root is as ISDS wrote it (a client's capture may have
    /// moved the namespace to a default declaration on the root).
    root: bool,
}

const ALL: Checks = Checks {
    nil_spelling: true,
    root: true,
};

/// Compares the gateway's `ours` with the sample `theirs` from element
/// `root` on.
fn assert_same_shape(what: &str, ours: &str, theirs: &str, root: &str, checks: Checks) {
    let ours_shape = shape(ours, root);
    let theirs_shape = shape(theirs, root);

    // Same prefix for the same element, everywhere the sample has it.
    let mut prefix_of: BTreeMap<Vec<String>, String> = BTreeMap::new();
    for w in &theirs_shape {
        if w.path.len() == 1 && !checks.root {
            continue;
        }
        prefix_of.insert(w.path.clone(), w.prefix().to_owned());
    }
    let mut compared = 0;
    for w in &ours_shape {
        if let Some(p) = prefix_of.get(&w.path) {
            assert_eq!(w.prefix(), p, "{what}: prefix of {:?}", w.path);
            compared += 1;
        }
        assert!(!w.prefix().is_empty(), "{what}: {:?} has no prefix", w.path);
        assert!(
            !w.attrs.iter().any(|a| a == "xmlns"),
            "{what}: {:?} declares a default namespace",
            w.path
        );
        // ISDS never shortens a tag.
        assert!(!w.shortened, "{what}: {} written as <…/>", w.qname);
    }
    assert!(
        compared * 2 >= theirs_shape.len(),
        "{what}: too few elements in common ({compared} of {})",
        theirs_shape.len()
    );

    // The sample's elements come in the same order in ours.
    let ours_children = children(&ours_shape);
    for (parent, names) in children(&theirs_shape) {
        if let Some(our_names) = ours_children.get(&parent) {
            assert!(
                is_subsequence(&names, our_names),
                "{what}: children of {parent:?} in another order:\n sample: {names:?}\n ours:   {our_names:?}"
            );
        }
    }

    // Namespace declarations on the root: the prefix and xsi.
    let our_root = &ours_shape[0];
    let their_root = &theirs_shape[0];
    if checks.root {
        for decl in &their_root.attrs {
            if decl.starts_with("xmlns") {
                assert!(
                    our_root.attrs.contains(decl),
                    "{what}: root lacks {decl}: {:?}",
                    our_root.attrs
                );
            }
        }
    }
    assert!(our_root.attrs.iter().any(|a| a == "xmlns:xsi"), "{what}");

    // dmDm: its own prefix declaration, as clients cut it out.
    if theirs.contains(":dmDm ") {
        let dm_start = r#"<p:dmDm xmlns:p="http://isds.czechpoint.cz/v20">"#;
        assert!(theirs.contains(dm_start), "{what}: sample changed");
        assert!(ours.contains(dm_start), "{what}: dmDm start tag");
        assert!(ours.contains("</p:dmDm>"), "{what}: dmDm end tag");
    }

    // Nil elements: `<p:x xsi:nil="true"></p:x>`, as in the sample.
    let our_nils: Vec<&Written> = ours_shape.iter().filter(|w| w.nil).collect();
    if checks.nil_spelling && theirs_shape.iter().any(|w| w.nil) {
        let sample_nil = theirs_shape.iter().find(|w| w.nil).unwrap();
        let spelled = format!(r#"<{q} xsi:nil="true"></{q}>"#, q = sample_nil.qname);
        assert!(theirs.contains(&spelled), "{what}: sample nil {spelled}");
    }
    for w in our_nils {
        let spelled = format!(r#"<{q} xsi:nil="true"></{q}>"#, q = w.qname);
        assert!(
            ours.contains(&spelled),
            "{what}: nil spelled otherwise: {spelled}"
        );
    }
}

/// The part of a response from `<SOAP-ENV:Body>` on (the samples of
/// body elements hold no envelope).
fn body_text(resp: &SoapResponse) -> &str {
    let at = resp.text.find("<SOAP-ENV:Body>").expect("SOAP 1.1 body");
    &resp.text[at + "<SOAP-ENV:Body>".len()..]
}

fn signed_content(resp: &SoapResponse) -> String {
    assert_eq!(resp.status().0, "0000", "{:.400}", resp.text);
    let zfo = unb64(&text_of(&resp.body(), &["dmSignature"]));
    let content = isds_gateway::sign::inspect(&zfo).expect("a zfo").content;
    String::from_utf8(content).expect("UTF-8 content")
}

#[tokio::test]
async fn status_only_responses_are_textually_those_of_isds() {
    let t = TestGateway::start().await;
    let dummy = t
        .soap_as(
            PO_LOGIN,
            DZ,
            r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#,
        )
        .await;
    assert_eq!(dummy.status, 200);
    assert_eq!(
        dummy.text,
        sample("responses/DummyOperationResponse-0000.xml").trim_end()
    );
    let bogus = t
        .soap_as(
            PO_LOGIN,
            DZ,
            r#"<X-BogusOperation xmlns="http://isds.czechpoint.cz/v20"/>"#,
        )
        .await;
    assert_eq!(bogus.status, 200);
    assert_eq!(
        bogus.text,
        sample("responses/X-BogusOperationResponse-2006.xml").trim_end()
    );
    t.stop().await;
}

#[tokio::test]
async fn box_and_send_responses_have_the_shape_of_isds() {
    let t = TestGateway::start().await;
    let owner = t
        .soap_as(
            PO_LOGIN,
            DS_MANAGE,
            r#"<GetOwnerInfoFromLogin xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetOwnerInfoFromLogin>"#,
        )
        .await;
    assert_eq!(owner.status().0, "0000", "{}", owner.text);
    let theirs = sample("responses/GetOwnerInfoFromLogin-0000.xml");
    // The envelope is ISDS's, byte for byte, up to the body element.
    let head = |s: &str| s[..s.find("<SOAP-ENV:Body>").unwrap()].to_owned();
    assert_eq!(head(&owner.text), head(&theirs));
    assert_same_shape(
        "GetOwnerInfoFromLogin",
        &owner.text,
        &theirs,
        "GetOwnerInfoFromLoginResponse",
        ALL,
    );
    assert!(
        owner.text.contains("xsi:nil=\"true\"></p:"),
        "{}",
        owner.text
    );

    // A refused CreateMessage: the status block alone.
    let refused = t
        .soap_as(OVM_LOGIN, DZ, &create_body("zz99zzz", "Nikomu", false))
        .await;
    assert_eq!(refused.status, 200, "{}", refused.text);
    assert_ne!(refused.status().0, "0000", "{}", refused.text);
    assert_same_shape(
        "CreateMessage refused",
        &refused.text,
        &sample("responses/CreateMessageResponse-9005.xml"),
        "CreateMessageResponse",
        ALL,
    );
    t.stop().await;
}

#[tokio::test]
async fn message_responses_and_signed_contents_have_the_shape_of_isds() {
    let t = TestGateway::start().await;
    let id = send_message(&t, OVM_LOGIN, "po4demo", "Tvar odpovědi", false).await;
    let listed = t
        .soap_as(PO_LOGIN, DX, &list("GetListOfReceivedMessages"))
        .await;
    assert_eq!(listed.status().0, "0000", "{:.300}", listed.text);

    let download = t
        .soap_as(PO_LOGIN, DZ, &id_body("MessageDownload", &id))
        .await;
    assert_eq!(download.status().0, "0000", "{:.300}", download.text);
    assert_same_shape(
        "MessageDownload",
        body_text(&download),
        &sample("messages/received_message-151916.xml"),
        "MessageDownloadResponse",
        ALL,
    );

    let signed = signed_content(
        &t.soap_as(PO_LOGIN, DZ, &id_body("SignedMessageDownload", &id))
            .await,
    );
    for theirs in [
        "messages/received_signed_message-330141.xml",
        "messages/received_message-330141.zfo",
    ] {
        assert_same_shape(
            theirs,
            &signed,
            &sample(theirs),
            "MessageDownloadResponse",
            ALL,
        );
    }

    let sent = signed_content(
        &t.soap_as(OVM_LOGIN, DZ, &id_body("SignedSentMessageDownload", &id))
            .await,
    );
    for theirs in [
        "messages/sent_message-206720.xml",
        "messages/signed_sent_xml_message-376701.xml",
        "messages/signed_sent_xml_message-376701.zfo",
        "messages/signed_sent_message-151874.zfo",
    ] {
        assert_same_shape(
            theirs,
            &sent,
            &sample(theirs),
            "MessageDownloadResponse",
            ALL,
        );
    }

    let delivery = t
        .soap_as(OVM_LOGIN, DX, &id_body("GetDeliveryInfo", &id))
        .await;
    assert_eq!(delivery.status().0, "0000", "{:.300}", delivery.text);
    // This sample is a client's capture: its root took a default
    // namespace and its nil elements were shortened on the way.
    assert_same_shape(
        "GetDeliveryInfo",
        body_text(&delivery),
        &sample("messages/delivery_info-316590.xml"),
        "GetDeliveryInfoResponse",
        Checks {
            nil_spelling: false,
            root: false,
        },
    );
    let signed_delivery = signed_content(
        &t.soap_as(OVM_LOGIN, DX, &id_body("GetSignedDeliveryInfo", &id))
            .await,
    );
    for theirs in [
        "messages/signed_delivered-DD_170272.xml",
        "messages/signed_delivered-DD_170272.zfo",
    ] {
        assert_same_shape(
            theirs,
            &signed_delivery,
            &sample(theirs),
            "GetDeliveryInfoResponse",
            ALL,
        );
    }
    // The dmDm of the delivery info is the message's without documents,
    // textually (what libdatovka compares).
    let dm = |s: &str| {
        let a = s.find("<p:dmDm ").unwrap();
        let b = s.find("</p:dmDm>").unwrap();
        s[a..b].to_owned()
    };
    let without_files = dm(body_text(&download));
    let cut = without_files.find("<p:dmFiles>").unwrap();
    let envelope_part = &without_files[..cut];
    assert!(
        signed_delivery.contains(
            envelope_part
                .split("<p:dmAmbiguousRecipient>")
                .next()
                .unwrap()
        )
    );
    t.stop().await;
}

/// Reads one HTTP/1.1 response head from a raw connection.
async fn raw_head(t: &TestGateway, request: String) -> String {
    let mut stream = tokio::net::TcpStream::connect(t.gw.http_addr)
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("answer in time")
            .expect("read");
        assert!(
            n > 0,
            "connection closed: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn header_names(head: &str) -> Vec<String> {
    head.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_owned()))
        .collect()
}

#[tokio::test]
async fn http1_header_names_arrive_in_isds_casing() {
    let t = TestGateway::start().await;
    let addr = t.gw.http_addr;
    let body = soap11(r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#);

    // A refused login: the challenge and ISDS's reason headers.
    let refused = raw_head(
        &t,
        format!(
            "POST /DS/dz HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/xml; charset=utf-8\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n{body}",
            basic("po_jednatel", "wrong-password"),
            body.len()
        ),
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let names = header_names(&refused);
    for expected in [
        "WWW-Authenticate",
        "X-Response-message-code",
        "X-Response-message-text",
        "Content-Type",
        "Content-Length",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing in {names:?}"
        );
    }

    // The first step of a TOTP login: a redirect to the second.
    let redirect = raw_head(
        &t,
        format!(
            "POST /as/processLogin?type=totp&sendSms=true&uri=/apps/DS/dz HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\nContent-Length: 0\r\n\r\n",
            basic("po_otp", "Demo-Otp-2026!"),
        ),
    )
    .await;
    assert!(redirect.starts_with("HTTP/1.1 302"), "{redirect}");
    let names = header_names(&redirect);
    assert!(names.iter().any(|n| n == "Location"), "{names:?}");
    for n in names
        .iter()
        .filter(|n| n.eq_ignore_ascii_case("set-cookie"))
    {
        assert_eq!(n, "Set-Cookie");
    }

    // A successful call.
    let ok = raw_head(
        &t,
        format!(
            "POST /DS/dz HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/xml; charset=utf-8\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n{body}",
            basic(PO_LOGIN.0, PO_LOGIN.1),
            body.len()
        ),
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let names = header_names(&ok);
    for expected in ["Content-Type", "Content-Length"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    // No header name in lower case.
    for n in &names {
        assert!(
            n.chars().next().is_some_and(|c| c.is_ascii_uppercase()),
            "{n} in lower case: {ok}"
        );
    }
    t.stop().await;
}
