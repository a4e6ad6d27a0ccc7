//! Scripted responses and faults, observed by a real HTTP client.

mod common;

use std::time::{Duration, Instant};

use common::*;
use isds_gateway::config::OperatorConfig;

const OPERATOR: (&str, &str) = ("provozovatel", "Operator-Heslo-2026");

const OWNER_INFO: &str = r#"<GetOwnerInfoFromLogin xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetOwnerInfoFromLogin>"#;

fn download(id: &str) -> String {
    format!(
        r#"<MessageDownload xmlns="http://isds.czechpoint.cz/v20"><dmID>{id}</dmID></MessageDownload>"#
    )
}

/// A gateway with these `[[faults]]` rules (and the operator configured).
async fn with_rules(rules: &str) -> TestGateway {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("faults.toml");
    std::fs::write(&path, rules).expect("rules written");
    TestGateway::start_in(dir, move |cfg| {
        cfg.fault_rules.push(path);
        cfg.operator = Some(OperatorConfig {
            login: OPERATOR.0.into(),
            password: OPERATOR.1.into(),
        });
    })
    .await
}

async fn admin(t: &TestGateway, body: Option<&str>) -> (u16, serde_json::Value) {
    let url = t.http_url("/admin/faults");
    let req = match body {
        Some(b) => t.http.post(url).body(b.to_owned()),
        None => t.http.get(url),
    };
    let resp = req
        .header("authorization", basic(OPERATOR.0, OPERATOR.1))
        .send()
        .await
        .expect("admin call");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("admin body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn a_status_rule_answers_in_the_operations_own_response_the_first_n_times() {
    let t = with_rules(
        r#"
[[faults]]
name = "busy"
operation = "GetOwnerInfoFromLogin"
action = "status"
code = "1214"
message = "Server busy, try again"
times = 2
"#,
    )
    .await;
    for _ in 0..2 {
        let resp = t.soap_as(OVM_LOGIN, "/DS/DsManage", OWNER_INFO).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        assert_eq!(resp.body().name, "GetOwnerInfoFromLoginResponse");
        assert_eq!(
            resp.status(),
            ("1214".to_owned(), "Server busy, try again".to_owned())
        );
        assert_valid(&resp.body_xml(), Xsd::Db);
    }
    // The third call is answered normally.
    let resp = t.soap_as(OVM_LOGIN, "/DS/DsManage", OWNER_INFO).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    // Other operations were never affected.
    let (status, view) = admin(&t, None).await;
    assert_eq!(status, 200);
    assert_eq!(view["rules"][0]["name"], "busy");
    assert_eq!(view["rules"][0]["hits"], 2);
    assert_eq!(view["rules"][0]["remaining"], 0);
    t.stop().await;
}

#[tokio::test]
async fn soap_faults_maintenance_pages_and_http_statuses() {
    let t = with_rules(
        r#"
[[faults]]
operation = "GetOwnerInfoFromLogin"
action = "fault"
fault_code = "Server"
fault_string = "Time-stamp authority unavailable"
times = 1

[[faults]]
operation = "GetOwnerInfoFromLogin"
action = "maintenance"
retry_after = 120
times = 1

[[faults]]
operation = "GetOwnerInfoFromLogin"
action = "http"
http_status = 429
body = "slow down"
times = 1
"#,
    )
    .await;
    let resp = t.soap_as(OVM_LOGIN, "/DS/DsManage", OWNER_INFO).await;
    assert_eq!(resp.status, 500, "{}", resp.text);
    assert_eq!(
        resp.fault(),
        (
            "SOAP-ENV:Server".to_owned(),
            "Time-stamp authority unavailable".to_owned()
        )
    );

    // ISDS's own maintenance answer: 503, a SOAP fault of the real
    // sample's shape, and the connection closed.
    let resp = t.soap_as(OVM_LOGIN, "/DS/DsManage", OWNER_INFO).await;
    assert_eq!(resp.status, 503);
    assert!(
        resp.content_type.starts_with("text/xml"),
        "{}",
        resp.content_type
    );
    assert_eq!(
        resp.headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("120")
    );
    assert_eq!(
        resp.headers.get("connection").and_then(|v| v.to_str().ok()),
        Some("close")
    );
    assert_same_markup_as_isds_maintenance(&resp.text);

    let resp = t.soap_as(OVM_LOGIN, "/DS/DsManage", OWNER_INFO).await;
    assert_eq!(resp.status, 429);
    assert_eq!(resp.text, "slow down");

    let resp = t.soap_as(OVM_LOGIN, "/DS/DsManage", OWNER_INFO).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    t.stop().await;
}

#[tokio::test]
async fn conditions_select_requests_delays_wait_and_drops_close_the_connection() {
    let t = with_rules(
        r#"
[[faults]]
name = "slow"
operation = "MessageDownload"
when = "dmID = '1111'"
action = "delay"
delay_ms = 400

[[faults]]
name = "cut"
operation = "MessageDownload"
when = "//dmID = 2222"
action = "drop"
times = 1
"#,
    )
    .await;
    // The delayed call still gets its normal answer.
    let started = Instant::now();
    let resp = t.soap_as(OVM_LOGIN, "/DS/dz", &download("1111")).await;
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_ne!(resp.status().0, "0000");

    // A client with a shorter timeout gives up on it.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let err = impatient
        .post(t.http_url("/DS/dz"))
        .header("authorization", basic(OVM_LOGIN.0, OVM_LOGIN.1))
        .header("content-type", "text/xml; charset=utf-8")
        .body(soap11(&download("1111")))
        .send()
        .await
        .expect_err("the delay outlasts the client's timeout");
    assert!(err.is_timeout(), "{err}");

    // The dropped connection gives no HTTP answer at all.
    let err = t
        .http
        .post(t.http_url("/DS/dz"))
        .header("authorization", basic(OVM_LOGIN.0, OVM_LOGIN.1))
        .header("content-type", "text/xml; charset=utf-8")
        .body(soap11(&download("2222")))
        .send()
        .await
        .expect_err("the connection is dropped");
    assert!(err.is_request() || err.is_connect(), "{err}");
    // Only once; another message ID was never affected.
    let resp = t.soap_as(OVM_LOGIN, "/DS/dz", &download("2222")).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let resp = t.soap_as(OVM_LOGIN, "/DS/dz", &download("3333")).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    t.stop().await;
}

#[tokio::test]
async fn rules_are_listed_switched_added_and_removed_by_the_operator() {
    let t = with_rules(
        r#"
[[faults]]
name = "down"
action = "maintenance"
enabled = false
"#,
    )
    .await;
    // Disabled rules do nothing.
    let resp = t.soap_as(OVM_LOGIN, "/DS/DsManage", OWNER_INFO).await;
    assert_eq!(resp.status().0, "0000");

    // Users of boxes cannot see or change the rules.
    let resp = t
        .http
        .get(t.http_url("/admin/faults"))
        .header("authorization", basic(OVM_LOGIN.0, OVM_LOGIN.1))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    let (status, view) = admin(&t, Some(r#"{"enable": "down"}"#)).await;
    assert_eq!(status, 200);
    assert_eq!(view["rules"][0]["enabled"], true);
    // Every operation on every endpoint is now in maintenance.
    let resp = t.soap_as(OVM_LOGIN, "/DS/DsManage", OWNER_INFO).await;
    assert_eq!(resp.status, 503);
    let resp = t.soap_as(OVM_LOGIN, "/DS/dz", &download("1")).await;
    assert_eq!(resp.status, 503);

    let (status, _) = admin(&t, Some(r#"{"disable": "down"}"#)).await;
    assert_eq!(status, 200);
    let resp = t.soap_as(OVM_LOGIN, "/DS/DsManage", OWNER_INFO).await;
    assert_eq!(resp.status().0, "0000");

    let (status, view) = admin(
        &t,
        Some(r#"{"add": {"name": "tsa", "operation": "GetOwnerInfoFromLogin", "action": "fault", "fault_string": "TSA down", "times": 1}}"#),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["rules"][1]["name"], "tsa");
    let resp = t.soap_as(OVM_LOGIN, "/DS/DsManage", OWNER_INFO).await;
    assert_eq!(resp.fault().1, "TSA down");
    let (status, view) = admin(&t, Some(r#"{"reset": "tsa"}"#)).await;
    assert_eq!(
        (status, &view["rules"][1]["remaining"]),
        (200, &serde_json::json!(1))
    );
    let (status, _) = admin(&t, Some(r#"{"remove": "tsa"}"#)).await;
    assert_eq!(status, 200);
    let resp = t.soap_as(OVM_LOGIN, "/DS/DsManage", OWNER_INFO).await;
    assert_eq!(resp.status().0, "0000");

    // Mistakes are refused with a reason.
    let (status, view) = admin(&t, Some(r#"{"enable": "nope"}"#)).await;
    assert_eq!(status, 404, "{view}");
    let (status, view) = admin(&t, Some(r#"{"add": {"action": "explode"}}"#)).await;
    assert_eq!(status, 400);
    assert!(
        view["error"].as_str().unwrap_or("").contains("explode"),
        "{view}"
    );
    t.stop().await;
}

#[tokio::test]
async fn without_rules_or_test_mode_there_is_no_faults_endpoint() {
    let t = TestGateway::start().await;
    let resp = t
        .http
        .get(t.http_url("/admin/faults"))
        .header("authorization", basic(OPERATOR.0, OPERATOR.1))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    t.stop().await;
}

#[tokio::test]
async fn a_malformed_rule_stops_the_start_naming_the_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faults.toml");
    std::fs::write(
        &path,
        "[[faults]]\naction = \"drop\"\n\n[[faults]]\noperation = \"CreateMessage\"\nwhen = \"dmID\"\naction = \"drop\"\n",
    )
    .unwrap();
    let mut config = isds_gateway::config::Config::ephemeral(dir.path().join("data"));
    config.fault_rules.push(path);
    let err = match isds_gateway::http::start(config).await {
        Ok(_) => panic!("a malformed rule must stop the start"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("faults.toml, line 4"), "{err}");
    assert!(err.contains("PATH = VALUE"), "{err}");
    assert!(!dir.path().join("data").exists(), "nothing written");
}

/// The tags (with their attribute names) of an XML text, in order, and the
/// text of its `faultcode`.
fn markup(xml: &str) -> (Vec<String>, String) {
    let mut tags = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        let Some(end) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start + 1..start + end];
        if !tag.starts_with('?') {
            let mut parts = tag.split_whitespace();
            let mut name = parts.next().unwrap_or_default().to_owned();
            for attr in parts {
                if let Some((a, _)) = attr.split_once('=') {
                    name.push(' ');
                    name.push_str(a);
                }
            }
            tags.push(name);
        }
        rest = &rest[start + end + 1..];
    }
    let code = xml
        .split_once("<faultcode")
        .and_then(|(_, r)| r.split_once('>'))
        .and_then(|(_, r)| r.split_once("</faultcode>"))
        .map(|(t, _)| t.to_owned())
        .unwrap_or_default();
    (tags, code)
}

fn assert_same_markup_as_isds_maintenance(ours: &str) {
    let path =
        common::repo_dir().join("../shared/isds-reference/samples/real-isds/responses/soap_fault");
    let sample = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the ISDS reference sample {} is missing ({e}): expected ../shared/isds-reference next to the repository",
            path.display()
        )
    });
    // The sample is a whole HTTP answer: status line, headers, body.
    let (head, body) = sample.split_once("\n\n").expect("HTTP head and body");
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(head.contains("Connection: close"), "{head}");
    let (their_tags, their_code) = markup(body);
    let (our_tags, our_code) = markup(ours);
    assert_eq!(our_tags, their_tags, "{ours}");
    assert_eq!(our_code, their_code);
}
