//! The gateway foundation through its real interface: listeners, routing,
//! the SOAP layer, WSDL serving and DummyOperation.

mod common;

use common::*;

const DUMMY: &str = r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#;

#[tokio::test]
async fn health_answers_ok() {
    let t = TestGateway::start().await;
    let resp = t.http.get(t.http_url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.text().await.unwrap(),
        r#"{"status":"ok","store":"ok"}"#
    );
    t.stop().await;
}

#[tokio::test]
async fn dummy_operation_over_http_validates() {
    let t = TestGateway::start().await;
    let resp = t.soap("/DS/dz", DUMMY).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert!(
        resp.content_type.starts_with("text/xml"),
        "{}",
        resp.content_type
    );
    assert_eq!(resp.body().name, "DummyOperationResponse");
    assert_eq!(resp.status().0, "0000");
    assert_valid(&resp.body_xml(), Xsd::Dm);
    t.stop().await;
}

/// The same small request sent again is answered as the first (the
/// gateway remembers such envelopes parsed), and a gateway with tighter
/// parse limits refuses those very bytes, before and after the other
/// one answered them.
#[tokio::test]
async fn a_repeated_request_is_answered_alike_and_each_gateway_keeps_its_limits() {
    let t = TestGateway::start().await;
    let shallow = TestGateway::start_with(|c| c.limits.max_xml_depth = 2).await;
    for _ in 0..3 {
        let resp = t.soap("/DS/dz", DUMMY).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(resp.body().name, "DummyOperationResponse");
        assert_eq!(resp.status().0, "0000");
        let refused = shallow.soap("/DS/dz", DUMMY).await;
        assert_eq!(refused.status, 500, "{}", refused.text);
        assert!(refused.text.contains("SOAP-ENV:Client"), "{}", refused.text);
    }
    // One byte more (a space) is another request, parsed on its own.
    let spaced = soap11(r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20" />"#);
    let resp = t
        .post(&t.http, &t.http_url("/DS/dz"), spaced, "text/xml")
        .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    // The operation with content the schema does not allow is refused
    // by its own parse.
    let invalid = t
        .soap(
            "/DS/dz",
            r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"><dbID>x</dbID></DummyOperation>"#,
        )
        .await;
    assert!(
        !(invalid.status == 200 && invalid.text.contains("dmStatusCode>0000<")),
        "{}",
        invalid.text
    );
    shallow.stop().await;
    t.stop().await;
}

#[tokio::test]
async fn dummy_operation_over_https_with_the_generated_ca() {
    let t = TestGateway::start().await;
    let ca = t.gw.ca_cert_path.clone().expect("a local CA was created");
    assert!(
        ca.starts_with(t.dir.path()),
        "the CA lives in the data directory"
    );
    let resp = t
        .post(&t.https, &t.https_url("/DS/dz"), soap11(DUMMY), "text/xml")
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.status().0, "0000");
    assert_valid(&resp.body_xml(), Xsd::Dm);
    t.stop().await;
}

#[tokio::test]
async fn any_prefix_whitespace_comments_and_declared_encoding_are_accepted() {
    let t = TestGateway::start().await;
    let request = "<?xml version='1.0' encoding='utf-8'?>\n<!-- a client comment -->\n\
        <S:Envelope xmlns:S='http://schemas.xmlsoap.org/soap/envelope/' xmlns:v20='http://isds.czechpoint.cz/v20'>\n\
          <S:Header/>\n  <S:Body>\n    <!-- inside -->\n    <v20:DummyOperation xsi:nil='true' xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance'/>\n  </S:Body>\n</S:Envelope>\n";
    let resp = t
        .post(
            &t.http,
            &t.http_url("/DS/dz"),
            request.to_owned(),
            "text/xml",
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.status().0, "0000");
    t.stop().await;
}

#[tokio::test]
async fn soap12_requests_get_soap12_answers() {
    let t = TestGateway::start().await;
    let resp = t
        .post(
            &t.http,
            &t.http_url("/DS/dz"),
            soap12(DUMMY),
            "application/soap+xml; charset=utf-8",
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert!(
        resp.content_type.starts_with("application/soap+xml"),
        "{}",
        resp.content_type
    );
    assert!(resp.text.contains(SOAP12_NS));
    assert_eq!(resp.status().0, "0000");
    t.stop().await;
}

#[tokio::test]
async fn every_login_prefix_routes_every_endpoint() {
    let t = TestGateway::start().await;
    for prefix in ["", "/cert", "/certds", "/hspis", "/apps"] {
        for endpoint in ["dz", "dx", "df", "DsManage", "vodz", "arch"] {
            let path = format!("{prefix}/DS/{endpoint}");
            let resp = t.soap(&path, DUMMY).await;
            if !prefix.is_empty() {
                // The route exists (not 404); Basic alone is not its login.
                assert_eq!(resp.status, 401, "{path}: {}", resp.text);
                continue;
            }
            assert_eq!(resp.status, 200, "{path}: {}", resp.text);
            assert_eq!(resp.body().name, "DummyOperationResponse", "{path}");
            let (code, _) = resp.status();
            // DummyOperation belongs to dm_operations, served at dz only.
            let expected = if endpoint == "dz" { "0000" } else { "2006" };
            assert_eq!(code, expected, "{path}");
            let block = resp.body().elements().next().unwrap().name.clone();
            let flavour = if matches!(endpoint, "df" | "DsManage") {
                "dbStatus"
            } else {
                "dmStatus"
            };
            assert_eq!(block, flavour, "{path}");
        }
    }
    t.stop().await;
}

#[tokio::test]
async fn unknown_operation_answers_2006_in_a_response_of_its_name() {
    let t = TestGateway::start().await;
    let resp = t
        .soap(
            "/DS/dz",
            r#"<p:NoSuchThing xmlns:p="http://isds.czechpoint.cz/v20"><p:x/></p:NoSuchThing>"#,
        )
        .await;
    assert_eq!(resp.status, 200);
    let body = resp.body();
    assert_eq!(body.name, "NoSuchThingResponse");
    assert_eq!(body.ns.as_deref(), Some(ISDS_NS));
    assert_eq!(resp.status().0, "2006");

    // A known operation posted to the wrong endpoint is unknown there.
    let resp = t
        .soap(
            "/DS/DsManage",
            r#"<GetListOfReceivedMessages xmlns="http://isds.czechpoint.cz/v20"/>"#,
        )
        .await;
    assert_eq!(resp.body().name, "GetListOfReceivedMessagesResponse");
    assert_eq!(resp.status().0, "2006");
    t.stop().await;
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let t = TestGateway::start().await;
    for path in ["/", "/DS", "/DS/nope", "/x/DS/dz", "/DS/dz/extra"] {
        let resp = t
            .http
            .post(t.http_url(path))
            .body(soap11(DUMMY))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    let resp = t.http.get(t.http_url("/DS/dz")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    assert!(resp.headers().get("allow").is_some());
    let resp = t.http.delete(t.http_url("/DS/dz")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    t.stop().await;
}

/// Each hostile or broken request gets one precise fault, never a panic.
#[tokio::test]
async fn hostile_and_broken_requests_get_precise_faults() {
    let t = TestGateway::start_with(|c| c.limits.max_body_bytes = 64 * 1024).await;
    let cases: Vec<(&str, String, u16, &str, &str)> = vec![
        (
            "malformed",
            "<S:Envelope xmlns:S='http://schemas.xmlsoap.org/soap/envelope/'><S:Body></S:Envelope>".into(),
            500,
            "SOAP-ENV:Client",
            "not well-formed",
        ),
        (
            "not XML at all",
            "hello".into(),
            500,
            "SOAP-ENV:Client",
            "XML",
        ),
        (
            "XXE",
            r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><DummyOperation xmlns="http://isds.czechpoint.cz/v20">&e;</DummyOperation></S:Body></S:Envelope>"#.into(),
            500,
            "SOAP-ENV:Client",
            "DOCTYPE",
        ),
        ("billion laughs", billion_laughs(), 500, "SOAP-ENV:Client", "DOCTYPE"),
        (
            "invalid UTF-8",
            soap11(r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20">@@</DummyOperation>"#),
            500,
            "SOAP-ENV:Client",
            "UTF-8",
        ),
        (
            "too many attributes",
            soap11(&format!(
                r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20" {}/>"#,
                (0..200).map(|i| format!("a{i}='x'")).collect::<Vec<_>>().join(" ")
            )),
            500,
            "SOAP-ENV:Client",
            "attributes",
        ),
        (
            "missing Body",
            "<S:Envelope xmlns:S='http://schemas.xmlsoap.org/soap/envelope/'><S:Header/></S:Envelope>".into(),
            500,
            "SOAP-ENV:Client",
            "no Body",
        ),
        (
            "empty Body",
            soap11(""),
            500,
            "SOAP-ENV:Client",
            "Body is empty",
        ),
        (
            "not an envelope",
            r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#.into(),
            500,
            "SOAP-ENV:Client",
            "not a SOAP envelope",
        ),
        (
            "foreign envelope namespace",
            r#"<e:Envelope xmlns:e="urn:other"><e:Body/></e:Envelope>"#.into(),
            500,
            "SOAP-ENV:VersionMismatch",
            "urn:other",
        ),
        (
            "body outside the ISDS namespace",
            soap11(r#"<DummyOperation xmlns="urn:elsewhere"/>"#),
            500,
            "SOAP-ENV:Client",
            "not in the ISDS namespace",
        ),
        (
            "deep nesting",
            soap11(&format!("{}{}", "<a>".repeat(5000), "</a>".repeat(5000))),
            500,
            "SOAP-ENV:Client",
            "deeper",
        ),
        (
            "oversize",
            soap11(&format!(
                r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20">{}</DummyOperation>"#,
                "x".repeat(100 * 1024)
            )),
            413,
            "SOAP-ENV:Client",
            "exceeds the limit of 65536 bytes",
        ),
        (
            "mustUnderstand header",
            "<S:Envelope xmlns:S='http://schemas.xmlsoap.org/soap/envelope/'><S:Header><w:Security xmlns:w='urn:ws' S:mustUnderstand='1'/></S:Header><S:Body><DummyOperation xmlns='http://isds.czechpoint.cz/v20'/></S:Body></S:Envelope>".into(),
            500,
            "SOAP-ENV:MustUnderstand",
            "Security",
        ),
    ];
    for (name, payload, http_status, code, reason_part) in cases {
        // "@@" marks where a byte that is never valid in UTF-8 goes.
        let payload: Vec<u8> = payload
            .replace("@@", "\u{1}")
            .into_bytes()
            .into_iter()
            .map(|b| if b == 1 { 0xFF } else { b })
            .collect();
        let resp = t
            .post(&t.http, &t.http_url("/DS/dz"), payload, "text/xml")
            .await;
        assert_eq!(resp.status, http_status, "{name}: {}", resp.text);
        let (fault_code, reason) = resp.fault();
        assert_eq!(fault_code, code, "{name}: {}", resp.text);
        assert!(
            reason.contains(reason_part),
            "{name}: {reason:?} lacks {reason_part:?}"
        );
        assert!(!reason.is_empty(), "{name}");
    }
    // The server is still healthy afterwards.
    assert_eq!(t.soap("/DS/dz", DUMMY).await.status().0, "0000");
    t.stop().await;
}

#[tokio::test]
async fn schema_invalid_requests_are_client_faults_naming_the_element() {
    let t = TestGateway::start().await;
    let resp = t
        .soap(
            "/DS/dz",
            r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"><unexpected/></DummyOperation>"#,
        )
        .await;
    assert_eq!(resp.status, 500, "{}", resp.text);
    let (code, reason) = resp.fault();
    assert_eq!(code, "SOAP-ENV:Client");
    assert!(reason.contains("DummyOperation"), "{reason}");
    t.stop().await;
}

#[tokio::test]
async fn soap12_faults_on_soap12_endpoints() {
    let t = TestGateway::start().await;
    let resp = t
        .post(
            &t.http,
            &t.http_url("/DS/vodz"),
            "garbage".to_owned(),
            "application/soap+xml",
        )
        .await;
    assert_eq!(resp.status, 500);
    assert!(resp.content_type.starts_with("application/soap+xml"));
    let (code, reason) = resp.fault();
    assert_eq!(code, "env:Sender");
    assert!(!reason.is_empty());
    t.stop().await;
}

#[tokio::test]
async fn wsdl_is_served_with_the_callers_address_and_its_schemas_resolve() {
    let t = TestGateway::start().await;
    let wsdl = t.http.get(t.http_url("/DS/dz?wsdl")).send().await.unwrap();
    assert_eq!(wsdl.status(), 200);
    let text = wsdl.text().await.unwrap();
    assert!(
        text.contains(&format!("location=\"{}\"", t.http_url("/DS/dz"))),
        "{text}"
    );
    assert!(text.contains("dmBaseTypes.xsd"));

    let https = t
        .https
        .get(t.https_url("/certds/DS/DsManage?wsdl=db_access"))
        .send()
        .await
        .unwrap();
    let text = https.text().await.unwrap();
    assert!(
        text.contains(&format!(
            "location=\"{}\"",
            t.https_url("/certds/DS/DsManage")
        )),
        "{text}"
    );
    assert!(text.contains("GetOwnerInfoFromLogin"));

    // A family that is not served at that endpoint is not found there.
    let wrong = t
        .http
        .get(t.http_url("/DS/dz?wsdl=db_access"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);

    for xsd in ["dmBaseTypes.xsd", "dbTypes.xsd", "IsdsStat.xsd"] {
        let resp = t
            .http
            .get(t.http_url(&format!("/DS/{xsd}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{xsd}");
        assert!(
            resp.text()
                .await
                .unwrap()
                .contains("http://isds.czechpoint.cz/v20")
        );
    }
    t.stop().await;
}

#[tokio::test]
async fn data_survives_a_restart_and_the_demo_world_is_seeded_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let t = TestGateway::start_in(dir, |_| {}).await;
    assert!(path.join("data/store").is_dir());
    assert!(path.join("data/tls/ca.pem").is_file());
    let ca_before = std::fs::read(path.join("data/tls/ca.pem")).unwrap();
    let TestGateway { gw, dir, .. } = t;
    gw.shutdown().await.unwrap();

    let t = TestGateway::start_in(dir, |_| {}).await;
    let ca_after = std::fs::read(path.join("data/tls/ca.pem")).unwrap();
    assert_eq!(ca_before, ca_after, "the local CA is kept across restarts");
    assert_eq!(t.soap("/DS/dz", DUMMY).await.status().0, "0000");
    t.stop().await;
}

/// Nine levels of ten-fold entity references: a gigabyte if expanded.
fn billion_laughs() -> String {
    let mut decl = String::from(r#"<!ENTITY lol0 "lol">"#);
    for i in 1..10 {
        let refs = format!("&lol{};", i - 1).repeat(10);
        decl.push_str(&format!(r#"<!ENTITY lol{i} "{refs}">"#));
    }
    format!(
        r#"<?xml version="1.0"?><!DOCTYPE lolz [{decl}]><S:Envelope xmlns:S="{SOAP11_NS}"><S:Body>&lol9;</S:Body></S:Envelope>"#
    )
}

/// SIGTERM-style shutdown lets a request that is already on the wire
/// finish, while new connections are refused.
#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let t = TestGateway::start().await;
    let addr = t.gw.http_addr;
    let body = soap11(DUMMY);
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /DS/dz HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/xml\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n",
        basic(OVM_LOGIN.0, OVM_LOGIN.1),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let TestGateway { gw, dir, .. } = t;
    let shutdown = tokio::spawn(gw.shutdown());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections once shutdown began"
    );
    assert!(
        !shutdown.is_finished(),
        "shutdown waits for the open request"
    );

    stream.write_all(rest.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("<q:dmStatusCode>0000</q:dmStatusCode>"),
        "{response}"
    );
    shutdown.await.unwrap().unwrap();
    drop(dir);
}
