//! The cockpit over plain HTTP: `/metrics` in the Prometheus text format,
//! `/advice` and `isds-gateway advice` after clients misbehave as the
//! manuals describe, the inspector's login, and `--no-ui`. (The pages
//! themselves are exercised in a browser by `cockpit_browser.rs`.)

mod common;

use std::sync::Arc;

use common::messages::{call, id_body, send_message};
use common::{ISDS_NS, OVM_LOGIN, PO_LOGIN, TestGateway, basic, op};
use isds_gateway::config::{Config, OperatorConfig};
use isds_gateway::domain::clock::{Clock, TestClock};

const OPERATOR: (&str, &str) = ("operator", "Operator-Test-2026!");

async fn gateway(adjust: impl FnOnce(&mut Config)) -> (TestGateway, Arc<TestClock>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = TestClock::new();
    let mut config = Config::ephemeral(dir.path().join("data"));
    config.tls_listen = None;
    config.operator = Some(OperatorConfig {
        login: OPERATOR.0.into(),
        password: OPERATOR.1.into(),
    });
    adjust(&mut config);
    let gw = isds_gateway::http::start_with_test_clock(config, Arc::clone(&clock))
        .await
        .expect("gateway starts");
    let t = TestGateway {
        gw,
        dir,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        https: reqwest::Client::new(),
    };
    (t, clock)
}

async fn advice(t: &TestGateway) -> serde_json::Value {
    let resp = t
        .http
        .get(t.http_url("/advice"))
        .header("authorization", basic(OPERATOR.0, OPERATOR.1))
        .send()
        .await
        .expect("advice");
    assert_eq!(resp.status(), 200);
    serde_json::from_str(&resp.text().await.expect("body")).expect("advice is JSON")
}

fn advisory<'a>(advice: &'a serde_json::Value, kind: &str) -> Option<&'a serde_json::Value> {
    advice["advisories"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|a| a["kind"] == kind)
}

fn window(op_name: &str, from: &str, to: &str, offset: u32, limit: u32) -> String {
    let unit = if op_name == "GetListOfSentMessages" {
        "dmSenderOrgUnitNum"
    } else {
        "dmRecipientOrgUnitNum"
    };
    op(
        op_name,
        &format!(
            r#"<dmFromTime>{from}</dmFromTime><dmToTime>{to}</dmToTime><{unit} xsi:nil="true"/><dmStatusFilter>-1</dmStatusFilter><dmOffset>{offset}</dmOffset><dmLimit>{limit}</dmLimit>"#
        ),
    )
}

#[tokio::test]
async fn metrics_count_requests_messages_boxes_and_advisories() {
    let (t, _clock) = gateway(|_| {}).await;
    send_message(&t, OVM_LOGIN, "po4demo", "Metriky", false).await;
    // An upload larger than the cockpit keeps is still counted.
    let big = format!(
        r#"<CreateMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>po4demo</dbIDRecipient><dmAnnotation>Velka</dmAnnotation></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="velka.pdf"><dmEncodedContent>{}</dmEncodedContent></dmFile></dmFiles></CreateMessage>"#,
        common::messages::b64(&vec![b'%'; 700_000])
    );
    let resp = call(&t, OVM_LOGIN, "/DS/dz", &big).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let dummy = op("DummyOperation", "");
    let resp = t.soap_as(OVM_LOGIN, "/DS/dz", &dummy).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let resp = t
        .http
        .get(t.http_url("/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let text = resp.text().await.expect("body");
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix}... in\n{text}"))
            .to_owned()
    };
    let created = line(
        "isds_gateway_requests_total{endpoint=\"dz\",operation=\"CreateMessage\",http_status=\"200\",isds_status=\"0000\"}",
    );
    assert!(created.ends_with(" 2"), "{created}");
    line(
        "isds_gateway_requests_total{endpoint=\"dz\",operation=\"DummyOperation\",http_status=\"200\"",
    );
    line(
        "isds_gateway_request_duration_seconds_count{endpoint=\"dz\",operation=\"CreateMessage\"} 2",
    );
    line(
        "isds_gateway_request_duration_seconds_bucket{le=\"0.00025\",endpoint=\"dz\",operation=\"CreateMessage\"}",
    );
    let bytes_in = line("isds_gateway_request_bytes_total{endpoint=\"dz\"}");
    let n: u64 = bytes_in
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number");
    assert!(n > 900_000, "{bytes_in}");
    line("isds_gateway_response_bytes_total{endpoint=\"dz\"}");
    assert!(!line("isds_gateway_boxes ").ends_with(" 0"));
    assert!(!line("isds_gateway_users ").ends_with(" 0"));
    assert!(!line("isds_gateway_store_size_bytes ").ends_with(" 0"));
    let delivered = line("isds_gateway_messages{state=\"delivered\"}");
    let accepted = line("isds_gateway_messages{state=\"accepted_by_login\"}");
    assert!(
        !delivered.ends_with(" 0") || !accepted.ends_with(" 0"),
        "{delivered} {accepted}"
    );
    line("isds_gateway_advisories_total{kind=\"list_window_gap\"} 0");
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics ends with # EOF"
    );
    t.stop().await;
}

#[tokio::test]
async fn advice_names_paging_overlap_repeats_and_polling_with_the_manual() {
    let (t, clock) = gateway(|_| {}).await;
    let id = send_message(&t, OVM_LOGIN, "po4demo", "Rada", false).await;

    // Windows up to the present without the minute of overlap, paged by
    // offset, the page full.
    let now = clock.now();
    let iso = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .expect("formats")
    };
    let t0 = iso(now - time::Duration::hours(1));
    let t1 = iso(now);
    let first = window("GetListOfReceivedMessages", &t0, &t1, 1, 1);
    let resp = call(&t, PO_LOGIN, "/DS/dx", &first).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let t2 = iso(now + time::Duration::seconds(1));
    let second = window("GetListOfReceivedMessages", &t1, &t2, 2, 1);
    call(&t, PO_LOGIN, "/DS/dx", &second).await;

    // The same message downloaded twice; its delivery info asked twice a
    // minute apart.
    for _ in 0..2 {
        let resp = call(&t, PO_LOGIN, "/DS/dz", &id_body("MessageDownload", &id)).await;
        assert_eq!(resp.status().0, "0000", "{}", resp.text);
    }
    for _ in 0..2 {
        call(&t, OVM_LOGIN, "/DS/dx", &id_body("GetDeliveryInfo", &id)).await;
        clock.advance(time::Duration::minutes(1));
    }

    let advice = advice(&t).await;
    let expect = |kind: &str, manual: &str, login: &str| {
        let a = advisory(&advice, kind).unwrap_or_else(|| panic!("no {kind} in {advice:#}"));
        assert!(a["manual"].as_str().expect("text").contains(manual), "{a}");
        assert!(a["count"].as_u64().expect("count") >= 1, "{a}");
        assert!(a["logins"][login].as_u64().is_some(), "{a}");
        assert_eq!(a["example"]["login"], login, "{a}");
        a.clone()
    };
    expect("list_window_without_overlap", "2.7.1", PO_LOGIN.0);
    let offset = expect("offset_paging", "2.7.1", PO_LOGIN.0);
    assert!(
        offset["example"]["detail"]
            .as_str()
            .expect("detail")
            .contains("dmOffset 2")
    );
    expect("full_page_returned", "2.7.1", PO_LOGIN.0);
    let repeated = expect("repeated_download", "doporuceni_pouzivani_WS", PO_LOGIN.0);
    assert_eq!(repeated["count"], 1, "{repeated}");
    expect("sent_state_polling", "1.2", OVM_LOGIN.0);
    assert!(advisory(&advice, "list_window_gap").is_none(), "{advice:#}");

    // The example exchange is kept for the inspector, without the password.
    let n = offset["example"]["exchange"].as_u64().expect("exchange id");
    let page = login_and_get(&t, &format!("/ui/traffic/{n}")).await;
    assert!(
        page.contains("dmOffset") && page.contains("GetListOfReceivedMessages"),
        "{page}"
    );
    assert!(!page.contains(PO_LOGIN.1));

    // The command line prints the same advisories.
    // Off the runtime's thread: the gateway answering it runs there.
    let url = t.http_url("");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_isds-gateway"))
            .args(["advice", "--url", &url])
            .env(
                "ISDS_GATEWAY_OPERATOR",
                format!("{}:{}", OPERATOR.0, OPERATOR.1),
            )
            .output()
    })
    .await
    .expect("joined")
    .expect("isds-gateway advice runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("offset_paging") && stdout.contains("2.7.1"),
        "{stdout}"
    );
    assert!(stdout.contains("repeated_download"), "{stdout}");
    t.stop().await;
}

#[tokio::test]
async fn advice_notices_parallel_calls_and_expired_password_loops() {
    let (t, clock) = gateway(|c| c.limits.max_parallel_requests_per_user = 1).await;
    let list = common::messages::list("GetListOfReceivedMessages");
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let req = t
            .http
            .post(t.http_url("/DS/dx"))
            .header("authorization", basic(PO_LOGIN.0, PO_LOGIN.1));
        let body = common::soap11(&list);
        calls.spawn(async move { common::send(req, body, "text/xml; charset=utf-8").await });
    }
    while let Some(done) = calls.join_next().await {
        assert_eq!(done.expect("call").status, 200);
    }
    let a = advice(&t).await;
    assert!(advisory(&a, "parallel_over_limit").is_some(), "{a:#}");

    // Past the password's validity every call is refused; the third in a
    // row is a loop.
    clock.advance(time::Duration::days(400));
    for _ in 0..3 {
        let resp = t.soap_as(PO_LOGIN, "/DS/dx", &list).await;
        assert_eq!(resp.status, 401, "{}", resp.text);
    }
    let a = advice(&t).await;
    let looped = advisory(&a, "expired_password_loop").unwrap_or_else(|| panic!("{a:#}"));
    assert!(
        looped["manual"]
            .as_str()
            .expect("text")
            .contains("ISDS_OTP_autentizace")
    );
    t.stop().await;
}

/// Two gateways in one process (here on one thread) count each its own
/// requests, though the series' handles are kept per thread.
#[tokio::test]
async fn two_gateways_count_only_their_own_requests() {
    let (a, _) = gateway(|_| {}).await;
    let (b, _) = gateway(|_| {}).await;
    let dummy = op("DummyOperation", "");
    for (t, n) in [(&a, 3), (&b, 1), (&a, 2)] {
        for _ in 0..n {
            let resp = t.soap_as(OVM_LOGIN, "/DS/dz", &dummy).await;
            assert_eq!(resp.status, 200, "{}", resp.text);
        }
    }
    for (t, n) in [(&a, 5), (&b, 1)] {
        let text = metrics_text(t).await;
        let expected = format!(
            "isds_gateway_requests_total{{endpoint=\"dz\",operation=\"DummyOperation\",http_status=\"200\",isds_status=\"0000\"}} {n}"
        );
        assert!(text.contains(&expected), "{expected} in\n{text}");
        let count = format!(
            "isds_gateway_request_duration_seconds_count{{endpoint=\"dz\",operation=\"DummyOperation\"}} {n}"
        );
        assert!(text.contains(&count), "{count} in\n{text}");
    }
    b.stop().await;
    a.stop().await;
}

/// The advisor skips the calls it has nothing to say about (most of
/// them), yet an answered call of any kind still ends a run of refusals
/// for an expired password: two refused lists, an answered
/// DummyOperation and two more refusals are no loop; a third refusal in
/// a row is. The traffic view keeps every one of these exchanges all the
/// same.
#[tokio::test]
async fn any_answered_call_ends_a_run_of_expired_password_refusals() {
    let (t, clock) = gateway(|_| {}).await;
    let dummy = op("DummyOperation", "");
    let list = common::messages::list("GetListOfReceivedMessages");
    let refused = |n: usize| {
        let t = &t;
        let list = &list;
        async move {
            for _ in 0..n {
                let resp = t.soap_as(PO_LOGIN, "/DS/dx", list).await;
                assert_eq!(resp.status, 401, "{}", resp.text);
                assert_eq!(
                    resp.headers
                        .get("x-response-message-code")
                        .and_then(|v| v.to_str().ok()),
                    Some("authentication.error.paswordExpired")
                );
            }
        }
    };
    // The login is recalled from memory before the password expires.
    let resp = t.soap_as(PO_LOGIN, "/DS/dz", &dummy).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    clock.advance(time::Duration::days(400));
    refused(2).await;
    clock.advance(time::Duration::days(-400));
    let resp = t.soap_as(PO_LOGIN, "/DS/dz", &dummy).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    clock.advance(time::Duration::days(400));
    refused(2).await;
    let a = advice(&t).await;
    assert!(
        advisory(&a, "expired_password_loop").is_none(),
        "the answered call ended the run: {a:#}"
    );
    refused(1).await;
    let a = advice(&t).await;
    let looped = advisory(&a, "expired_password_loop").unwrap_or_else(|| panic!("{a:#}"));
    assert_eq!(looped["count"], 1, "{looped:#}");

    let list = login_and_get(&t, "/ui/traffic").await;
    assert!(list.contains("7 exchanges"), "{list}");
    t.stop().await;
}

/// Logs in to the inspector as the operator and GETs `path`.
/// The traffic view keeps each SOAP exchange with both bodies as sent: a
/// DummyOperation and its answer, a login refused before its body was
/// read (named by the login it tried, its password nowhere), a fault,
/// and the client gets every answer whole.
#[tokio::test]
async fn the_traffic_view_keeps_each_exchange_with_its_bodies() {
    let (t, _clock) = gateway(|_| {}).await;
    let dummy = op("DummyOperation", "");
    let resp = t.soap_as(OVM_LOGIN, "/DS/dz", &dummy).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert!(
        resp.text.contains("dmStatusCode>0000</") && resp.text.ends_with("</SOAP-ENV:Envelope>"),
        "{}",
        resp.text
    );
    let refused = t
        .soap_as((OVM_LOGIN.0, "Wrong-Password-1"), "/DS/dz", &dummy)
        .await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    let unknown = t
        .soap_as(OVM_LOGIN, "/DS/dz", &op("NoSuchOperation", ""))
        .await;
    assert_ne!(unknown.status, 401, "{}", unknown.text);

    let list = login_and_get(&t, "/ui/traffic").await;
    assert!(list.contains("3 exchanges"), "{list}");
    assert!(
        list.contains("DummyOperation") && list.contains("NoSuchOperation"),
        "{list}"
    );
    // Newest first: exchange 1 is the DummyOperation.
    let first = login_and_get(&t, "/ui/traffic/1").await;
    assert!(
        first.contains("DummyOperation") && first.contains(OVM_LOGIN.0),
        "{first}"
    );
    // Both bodies, pretty-printed (escaped in the page).
    assert!(first.contains("&lt;DummyOperation"), "{first}");
    assert!(
        first.contains("DummyOperationResponse") && first.contains("0000"),
        "{first}"
    );
    assert!(!first.contains("too large to keep"), "{first}");
    let second = login_and_get(&t, "/ui/traffic/2").await;
    assert!(second.contains(OVM_LOGIN.0), "{second}");
    assert!(second.contains("authentication.error"), "{second}");
    assert!(
        second.contains("not read because the login was refused"),
        "{second}"
    );
    assert!(!second.contains("Wrong-Password-1") && !second.contains(OVM_LOGIN.1));
    let third = login_and_get(&t, "/ui/traffic/3").await;
    assert!(third.contains("&lt;NoSuchOperation"), "{third}");
    assert!(!third.contains("too large to keep"), "{third}");

    // The metrics count them under the schema's names and statuses.
    let text = metrics_text(&t).await;
    assert!(
        text.contains(
            "isds_gateway_requests_total{endpoint=\"dz\",operation=\"DummyOperation\",http_status=\"200\",isds_status=\"0000\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("operation=\"NoSuchOperation\""), "{text}");
    t.stop().await;
}

/// Every request the gateway answers is one line of its access log, with
/// the UI on: SOAP calls (answered, refused, faulted), pages and unknown
/// paths alike.
#[tokio::test]
async fn every_request_is_one_access_log_line() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, addr) =
        common::spawn_gateway(dir.path(), "server.log", &[], &[("RUST_LOG", "info")]).await;
    let log_path = dir.path().join("server.log");
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = reqwest::Client::new();
    let soap = |login: (&str, &str), body: String| {
        client
            .post(format!("http://{addr}/DS/dz"))
            .header("authorization", basic(login.0, login.1))
            .header("content-type", "text/xml; charset=utf-8")
            .body(common::soap11(&body))
            .send()
    };
    let dummy = op("DummyOperation", "");
    for _ in 0..5 {
        let resp = soap(OVM_LOGIN, dummy.clone()).await.expect("answered");
        assert_eq!(resp.status(), 200);
    }
    let refused = soap((OVM_LOGIN.0, "Wrong-Password-1"), dummy.clone())
        .await
        .expect("answered");
    assert_eq!(refused.status(), 401);
    let unknown = soap(OVM_LOGIN, op("NoSuchOperation", ""))
        .await
        .expect("answered");
    assert_ne!(unknown.status(), 401);
    let missing = client
        .get(format!("http://{addr}/no/such/path"))
        .send()
        .await
        .expect("answered");
    assert_eq!(missing.status(), 404);
    // The line is written after the answer: give the last one a moment.
    let expected = 8;
    let lines = loop {
        let text = std::fs::read_to_string(&log_path).expect("log");
        let lines: Vec<String> = text
            .lines()
            .filter(|l| l.contains("isds_gateway::access"))
            .map(str::to_owned)
            .collect();
        if lines.len() >= expected || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(lines.len(), expected, "{lines:#?}");
    let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    let dummies = lines
        .iter()
        .filter(|l| l.contains("DummyOperation") && l.contains("status=200"))
        .count();
    assert_eq!(dummies, 5, "{lines:#?}");
    assert_eq!(count("status=401"), 1, "{lines:#?}");
    assert_eq!(count("NoSuchOperation"), 1, "{lines:#?}");
    assert_eq!(count("/no/such/path"), 1, "{lines:#?}");
    assert!(lines.iter().all(|l| !l.contains("Wrong-Password-1")));
}

async fn login_and_get(t: &TestGateway, path: &str) -> String {
    let cookie = ui_cookie(t).await;
    let resp = t
        .http
        .get(t.http_url(path))
        .header("cookie", cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(resp.status(), 200);
    resp.text().await.expect("body")
}

/// The inspector's session cookie (`name=value`) of a fresh login.
async fn ui_cookie(t: &TestGateway) -> String {
    let resp = t
        .http
        .post(t.http_url("/ui/login"))
        .form(&[("login", OPERATOR.0), ("password", OPERATOR.1)])
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 303);
    resp.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("cookie")
        .to_owned()
}

/// A Mobile Key account (MobilniKlic_autentizace 2.1) beside the demo world.
const MOBILE_KEY_WORLD: &str = r#"
[[boxes]]
id = "mepobec"
type = "OVM"
[boxes.owner]
firm_name = "Obec Testov"
ic = "00000001"
[[boxes.users]]
id = "novak1"
login = "novak_obec"
password = "Novak-Obec-2026!"
type = "ADMINISTRATOR"
name = { first_name = "Jan", last_name = "Novák" }
mobile_key = { code = "Kod-Obec-0001" }
"#;

#[tokio::test]
async fn rejecting_on_the_phone_page_refuses_the_mobile_key_login() {
    let world = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(world.path(), MOBILE_KEY_WORLD).expect("world written");
    let (t, _clock) = gateway(|c| c.fixtures.push(world.path().to_owned())).await;
    let login_url = t.http_url(&format!(
        "/as/processLogin?type=mep-ws&applicationName=Spisovka&uri={}",
        t.http_url("/apps/DS/dz")
    ));
    let resp = t
        .http
        .post(&login_url)
        .header("authorization", basic("novak_obec", "Kod-Obec-0001"))
        .send()
        .await
        .expect("login POST");
    assert_eq!(resp.status(), 302);
    let request_cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').next()?.strip_prefix("S-COOKIE="))
        .expect("S-COOKIE")
        .to_owned();
    // The request the admin endpoint lists is the one the page answers.
    let pending: serde_json::Value = serde_json::from_str(
        &t.http
            .get(t.http_url("/admin/mep"))
            .header("authorization", basic(OPERATOR.0, OPERATOR.1))
            .send()
            .await
            .expect("admin")
            .text()
            .await
            .expect("body"),
    )
    .expect("JSON");
    let id = pending["pending"][0]["id"]
        .as_str()
        .expect("a pending request")
        .to_owned();
    let cookie = ui_cookie(&t).await;
    let page = t
        .http
        .get(t.http_url("/ui/mobile-key"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(page.contains(&format!("data-request=\"{id}\"")), "{page}");
    assert!(!page.contains("Kod-Obec-0001"));
    let answer = |answer: &'static str| {
        t.http
            .post(t.http_url("/ui/mobile-key"))
            .header("cookie", &cookie)
            .form(&[("request", id.as_str()), ("answer", answer)])
            .send()
    };
    let resp = answer("reject").await.expect("answered");
    assert_eq!(resp.status(), 303);
    // Decided: a second answer finds no undecided request.
    assert_eq!(answer("confirm").await.expect("answered").status(), 404);
    let state = t
        .http
        .get(t.http_url("/as/mepWsStateUpdate"))
        .header("cookie", format!("S-COOKIE={request_cookie}"))
        .send()
        .await
        .expect("poll")
        .text()
        .await
        .expect("body");
    assert_eq!(state, "3");
    let resp = t
        .http
        .post(&login_url)
        .header("authorization", basic("novak_obec", "Kod-Obec-0001"))
        .header("cookie", format!("S-COOKIE={request_cookie}"))
        .send()
        .await
        .expect("second POST");
    assert_eq!(resp.status(), 401);
    // Without --record the traffic page says how to record.
    let page = login_and_get(&t, "/ui/traffic").await;
    assert!(page.contains("Not recording"), "{page}");
    t.stop().await;
}

#[tokio::test]
async fn the_inspector_needs_the_operators_login() {
    let (t, _clock) = gateway(|_| {}).await;
    let resp = t
        .http
        .get(t.http_url("/ui/boxes"))
        .send()
        .await
        .expect("page");
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/ui/login");
    // A box user is no operator; a wrong password fails.
    for (login, password) in [PO_LOGIN, (OPERATOR.0, "wrong")] {
        let resp = t
            .http
            .post(t.http_url("/ui/login"))
            .form(&[("login", login), ("password", password)])
            .send()
            .await
            .expect("login");
        assert_eq!(resp.status(), 401, "{login}");
        assert!(resp.headers().get("set-cookie").is_none());
    }
    let resp = t
        .http
        .get(t.http_url("/advice"))
        .send()
        .await
        .expect("advice");
    assert_eq!(resp.status(), 401);
    let resp = t
        .http
        .get(t.http_url("/advice"))
        .header("authorization", basic(PO_LOGIN.0, PO_LOGIN.1))
        .send()
        .await
        .expect("advice");
    assert_eq!(resp.status(), 401);
    // HTML in stored data is shown as text.
    let page = login_and_get(&t, "/ui/boxes?q=%3Cscript%3Ealert(1)%3C/script%3E").await;
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script>alert(1)"));
    t.stop().await;
}

#[tokio::test]
async fn no_ui_serves_no_cockpit() {
    let (t, _clock) = gateway(|c| c.no_ui = true).await;
    for path in ["/ui/", "/ui/login", "/metrics", "/advice"] {
        let resp = t
            .http
            .get(t.http_url(path))
            .header("authorization", basic(OPERATOR.0, OPERATOR.1))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 404, "{path}");
    }
    let dummy = op("DummyOperation", "");
    let resp = t.soap_as(OVM_LOGIN, "/DS/dz", &dummy).await;
    assert_eq!(resp.status, 200);
    let _ = ISDS_NS;
    t.stop().await;
}

/// The text of the gateway's `/metrics` page.
async fn metrics_text(t: &TestGateway) -> String {
    t.http
        .get(t.http_url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body")
}
