//! Mobile Key logins (MobilniKlic_autentizace 2.1) through the real
//! interface: the request and its `S-COOKIE`, both state URLs, the
//! simulated phone (operator endpoint and fixture policies), expiry on the
//! test clock, the session on `/apps/DS/…`, logout, and one person's two
//! accounts each with its own communication code.

mod common;

use std::sync::Arc;

use common::*;
use isds_gateway::config::OperatorConfig;
use isds_gateway::domain::clock::TestClock;
use reqwest::redirect::Policy;
use serde_json::Value;

const DUMMY: &str = r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#;
const OPERATOR: (&str, &str) = ("provozovatel", "Provoz-Heslo-2026!");

/// One person (Jan Novák) with an administrator account in a town's box
/// and an entrusted account in a company's box, each linked to his key
/// with its own code; and accounts whose phones answer by themselves.
const WORLD: &str = r#"
[[persons]]
id = "jan-novak"
name = "Jan Novák"

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
person = "jan-novak"
mobile_key = { code = "Kod-Obec-0001" }
[[boxes.users]]
id = "skript"
login = "mep_skript"
password = "Mep-Skript-2026!"
type = "PRIMARY_USER"
name = { first_name = "Eva", last_name = "Skriptová" }
mobile_key = { code = "Kod-Skript-03", states = [1, 11, 12, 13, 2], step = "10s" }
[[boxes.users]]
id = "odmita"
login = "mep_odmita"
password = "Mep-Odmita-2026!"
type = "PRIMARY_USER"
mobile_key = { code = "Kod-Odmita-04", reject = true }
[[boxes.users]]
id = "janapr"
login = "janapr"
password = "Mep-Jana-2026!"
type = "ENTRUSTED_USER"
privileges = 9
name = { first_name = "Jana", last_name = "Práva" }
mobile_key = { code = "Kod-Jana-0006", confirm_after = "0s" }
[[boxes.users]]
id = "nechce"
login = "mep_nechce"
password = "Mep-Nechce-2026!"
type = "PRIMARY_USER"
mobile_key = { code = "Kod-Nechce-05", expire = true }

[[boxes]]
id = "mepfirm"
type = "PO"
[boxes.owner]
firm_name = "Novák a syn s.r.o."
ic = "00000002"
[[boxes.users]]
id = "novak2"
login = "novak_firma"
password = "Novak-Firma-2026!"
type = "ENTRUSTED_USER"
privileges = 9
name = { first_name = "Jan", last_name = "Novák" }
person = "jan-novak"
mobile_key = { code = "Kod-Firma-0002", confirm_after = "2s" }
[[boxes.users]]
id = "bezkli"
login = "bez_klice"
password = "Bez-Klice-2026!"
type = "PRIMARY_USER"
"#;

const OBEC: (&str, &str) = ("novak_obec", "Kod-Obec-0001");
const FIRMA: (&str, &str) = ("novak_firma", "Kod-Firma-0002");
const SKRIPT: (&str, &str) = ("mep_skript", "Kod-Skript-03");
const ODMITA: (&str, &str) = ("mep_odmita", "Kod-Odmita-04");
const NECHCE: (&str, &str) = ("mep_nechce", "Kod-Nechce-05");
const JANA: (&str, &str) = ("janapr", "Kod-Jana-0006");

async fn start() -> (TestGateway, Arc<TestClock>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let world = dir.path().join("world.toml");
    std::fs::write(&world, WORLD).expect("world written");
    let clock = TestClock::new();
    let t = TestGateway::start_full(
        dir,
        |cfg| {
            cfg.demo_world = Some(world);
            cfg.operator = Some(OperatorConfig {
                login: OPERATOR.0.into(),
                password: OPERATOR.1.into(),
            });
        },
        clock.clone(),
    )
    .await;
    (t, clock)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

fn login_url(t: &TestGateway) -> String {
    // As libdatovka builds it: the application name escaped, the target
    // absolute.
    t.http_url(&format!(
        "/as/processLogin?type=mep-ws&applicationName=Testovac%C3%AD%20aplikace&uri={}",
        t.http_url("/apps/DS/dz")
    ))
}

/// The login POST (with a SOAP body, as libdatovka sends it).
async fn login_post(
    t: &TestGateway,
    (login, code): (&str, &str),
    request_cookie: Option<&str>,
) -> reqwest::Response {
    let mut req = client()
        .post(login_url(t))
        .header("authorization", basic(login, code))
        .header("content-type", "text/xml")
        .body(soap11(DUMMY));
    if let Some(c) = request_cookie {
        req = req.header("cookie", format!("S-COOKIE={c}"));
    }
    req.send().await.expect("request sent")
}

fn set_cookie_value(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(n, v)| *n == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

/// The first POST: 302 to the state URL with the request cookie.
async fn begin(t: &TestGateway, creds: (&str, &str)) -> String {
    let resp = login_post(t, creds, None).await;
    assert_eq!(resp.status(), 302, "{resp:?}");
    assert_eq!(
        resp.headers()["location"],
        t.http_url("/as/mepWsStateUpdate").as_str()
    );
    set_cookie_value(&resp, "S-COOKIE").expect("S-COOKIE set")
}

async fn poll(t: &TestGateway, request_cookie: Option<&str>) -> String {
    let mut req = client().get(t.http_url("/as/mepWsStateUpdate"));
    if let Some(c) = request_cookie {
        req = req.header("cookie", format!("lang=cs; S-COOKIE={c}"));
    }
    let resp = req.send().await.expect("poll sent");
    assert_eq!(resp.status(), 200);
    resp.text().await.expect("body")
}

async fn poll2(t: &TestGateway, request_cookie: Option<&str>) -> (i64, String) {
    let mut req = client()
        .get(t.http_url("/as/mepWsStateUpdate2"))
        .header("accept", "application/json");
    if let Some(c) = request_cookie {
        req = req.header("cookie", format!("S-COOKIE={c}"));
    }
    let resp = req.send().await.expect("poll sent");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("JSON");
    (
        v["status"].as_i64().expect("status is a number"),
        v["description"]
            .as_str()
            .expect("description is text")
            .to_owned(),
    )
}

/// The second POST of a confirmed request: 302 to `uri` with the session.
async fn finish(t: &TestGateway, creds: (&str, &str), request_cookie: &str) -> String {
    let resp = login_post(t, creds, Some(request_cookie)).await;
    assert_eq!(resp.status(), 302, "{resp:?}");
    assert_eq!(
        resp.headers()["location"],
        t.http_url("/apps/DS/dz").as_str()
    );
    set_cookie_value(&resp, "IPCZ-X-COOKIE").expect("IPCZ-X-COOKIE set")
}

async fn dummy_with(t: &TestGateway, session: &str) -> SoapResponse {
    let req = t
        .http
        .post(t.http_url("/apps/DS/dz"))
        .header("cookie", format!("IPCZ-X-COOKIE={session}"));
    send(req, soap11(DUMMY), "text/xml; charset=utf-8").await
}

async fn admin(t: &TestGateway, path: &str, body: Option<Value>) -> (u16, Value) {
    let c = client();
    let req = match body {
        Some(b) => c.post(t.http_url(path)).body(b.to_string()),
        None => c.get(t.http_url(path)),
    };
    let resp = req
        .header("authorization", basic(OPERATOR.0, OPERATOR.1))
        .send()
        .await
        .expect("admin call");
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_str(&resp.text().await.expect("body")).expect("JSON"),
    )
}

/// The pending request of `user_id` on the phone.
async fn pending_of(t: &TestGateway, user_id: &str) -> Option<Value> {
    let (status, v) = admin(t, "/admin/mep", None).await;
    assert_eq!(status, 200, "{v}");
    v["pending"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|r| r["account"]["user_id"] == user_id)
        .cloned()
}

#[tokio::test]
async fn confirmed_on_the_phone_opens_a_session_for_apps_ds_until_logout() {
    let (t, _clock) = start().await;
    let cookie = begin(&t, OBEC).await;
    assert_eq!(poll(&t, Some(&cookie)).await, "1");
    let (status, description) = poll2(&t, Some(&cookie)).await;
    assert_eq!(status, 11);
    assert_eq!(description, "Push notifikace odeslána na mobilní zařízení");

    // The phone shows the application, the box and the user.
    let request = pending_of(&t, "novak1").await.expect("the request waits");
    let notification = request["notification"].as_str().unwrap();
    for part in ["Testovací aplikace", "Obec Testov", "Jan Novák"] {
        assert!(notification.contains(part), "{notification}");
    }
    assert_eq!(request["account"]["user_type"], "Administrátor");
    assert_eq!(request["account"]["box_type"], "OVM");
    assert_eq!(request["account"]["box_id"], "mepobec");
    assert_eq!(request["account"]["box_name"], "Obec Testov");

    // Finishing before the phone answered is refused.
    let early = login_post(&t, OBEC, Some(&cookie)).await;
    assert_eq!(early.status(), 401);

    let id = request["id"].as_str().unwrap();
    let (status, _) = admin(&t, "/admin/mep", Some(serde_json::json!({ "confirm": id }))).await;
    assert_eq!(status, 200);
    assert_eq!(poll(&t, Some(&cookie)).await, "2");
    assert_eq!(
        poll2(&t, Some(&cookie)).await,
        (2, "Přihlášení potvrzeno".to_owned())
    );
    assert!(pending_of(&t, "novak1").await.is_none());

    let session = finish(&t, OBEC, &cookie).await;
    let resp = dummy_with(&t, &session).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);

    // The request cookie is spent: polling does not know it, and a second
    // session cannot be had from it.
    assert_eq!(poll(&t, Some(&cookie)).await, "-1");
    assert_eq!(poll2(&t, Some(&cookie)).await.0, -1);
    let reused = login_post(&t, OBEC, Some(&cookie)).await;
    assert_eq!(reused.status(), 401, "{reused:?}");

    // Logout as for OTP sessions.
    let resp = client()
        .get(t.http_url(&format!(
            "/as/processLogout?uri={}",
            t.http_url("/apps/DS/dz")
        )))
        .header("cookie", format!("IPCZ-X-COOKIE={session}"))
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success() || resp.status() == 302,
        "{resp:?}"
    );
    let after = dummy_with(&t, &session).await;
    assert_eq!(after.status, 401, "{}", after.text);
    t.stop().await;
}

#[tokio::test]
async fn rejected_on_the_phone_or_by_policy_reads_3_and_opens_nothing() {
    let (t, _clock) = start().await;
    let cookie = begin(&t, OBEC).await;
    let id = pending_of(&t, "novak1").await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = admin(&t, "/admin/mep", Some(serde_json::json!({ "reject": id }))).await;
    assert_eq!(status, 200);
    assert_eq!(poll(&t, Some(&cookie)).await, "3");
    assert_eq!(poll2(&t, Some(&cookie)).await.0, 3);
    assert_eq!(login_post(&t, OBEC, Some(&cookie)).await.status(), 401);
    // A decided request cannot be answered again.
    let (status, _) = admin(&t, "/admin/mep", Some(serde_json::json!({ "confirm": id }))).await;
    assert_eq!(status, 404);

    // A phone whose policy rejects.
    let cookie = begin(&t, ODMITA).await;
    assert_eq!(poll(&t, Some(&cookie)).await, "3");
    assert_eq!(login_post(&t, ODMITA, Some(&cookie)).await.status(), 401);
    t.stop().await;
}

#[tokio::test]
async fn unanswered_requests_expire_after_240_seconds_on_the_test_clock() {
    let (t, clock) = start().await;
    let manual = begin(&t, OBEC).await;
    let by_policy = begin(&t, NECHCE).await;
    clock.advance(time::Duration::seconds(230));
    assert_eq!(poll(&t, Some(&manual)).await, "1");
    assert_eq!(poll2(&t, Some(&by_policy)).await.0, 11);
    clock.advance(time::Duration::seconds(11));
    for cookie in [&manual, &by_policy] {
        assert_eq!(poll(&t, Some(cookie)).await, "3");
        let (status, description) = poll2(&t, Some(cookie)).await;
        assert_eq!(status, 3);
        assert!(description.contains("vypršel"), "{description}");
    }
    assert!(pending_of(&t, "novak1").await.is_none());
    assert_eq!(login_post(&t, OBEC, Some(&manual)).await.status(), 401);
    t.stop().await;
}

#[tokio::test]
async fn a_wrong_code_is_401_and_counts_as_a_failed_login() {
    let (t, _clock) = start().await;
    for _ in 0..4 {
        let resp = login_post(&t, (OBEC.0, "Spatny-Kod"), None).await;
        assert_eq!(resp.status(), 401);
        assert_eq!(
            resp.headers()["x-response-message-code"],
            "authentication.error.userIsNotAuthenticated"
        );
        assert!(set_cookie_value(&resp, "S-COOKIE").is_none());
    }
    // The fifth failure in a row blocks the user, the right code too.
    let resp = login_post(&t, (OBEC.0, "Spatny-Kod"), None).await;
    assert_eq!(
        resp.headers()["x-response-message-code"],
        "authentication.error.intruderDetected"
    );
    let resp = login_post(&t, OBEC, None).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["x-response-message-code"],
        "authentication.error.intruderDetected"
    );
    // The password is no communication code; a user without a key has none.
    let resp = login_post(&t, ("novak_firma", "Novak-Firma-2026!"), None).await;
    assert_eq!(resp.status(), 401);
    let resp = login_post(&t, ("bez_klice", "Bez-Klice-2026!"), None).await;
    assert_eq!(resp.status(), 401);
    // No credentials, and polling without a request.
    let resp = client().post(login_url(&t)).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(poll(&t, None).await, "-1");
    assert_eq!(
        poll2(&t, Some("no-such-request")).await,
        (-1, "Zadané ID požadavku neexistuje".to_owned())
    );
    t.stop().await;
}

#[tokio::test]
async fn a_scripted_phone_walks_through_the_intermediate_states() {
    let (t, clock) = start().await;
    let cookie = begin(&t, SKRIPT).await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        let (status, description) = poll2(&t, Some(&cookie)).await;
        assert!(!description.is_empty());
        // The original URL knows only -1, 1, 2 and 3.
        let basic = poll(&t, Some(&cookie)).await;
        assert_eq!(basic, if status == 2 { "2" } else { "1" }, "{status}");
        seen.push(status);
        clock.advance(time::Duration::seconds(10));
    }
    assert_eq!(seen, [1, 11, 12, 13, 2]);
    let session = finish(&t, SKRIPT, &cookie).await;
    assert_eq!(dummy_with(&t, &session).await.status().0, "0000");
    t.stop().await;
}

#[tokio::test]
async fn two_accounts_of_one_person_log_in_each_with_its_own_code() {
    let (t, clock) = start().await;

    // The key lists both accounts of Jan Novák.
    let (status, v) = admin(&t, "/admin/mep/keys", None).await;
    assert_eq!(status, 200);
    let key = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == "jan-novak")
        .expect("Jan Novák's key")
        .clone();
    assert_eq!(key["holder"], "Jan Novák");
    let accounts: Vec<(String, String, String, String, String)> = key["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap().to_owned();
            (
                s("user_id"),
                s("user_type"),
                s("box_name"),
                s("box_type"),
                s("box_id"),
            )
        })
        .collect();
    assert_eq!(
        accounts,
        [
            (
                "novak1".into(),
                "Administrátor".into(),
                "Obec Testov".into(),
                "OVM".into(),
                "mepobec".into()
            ),
            (
                "novak2".into(),
                "Pověřená osoba".into(),
                "Novák a syn s.r.o.".into(),
                "PO".into(),
                "mepfirm".into()
            ),
        ]
    );

    // One account's code does not open the other.
    assert_eq!(login_post(&t, (FIRMA.0, OBEC.1), None).await.status(), 401);

    // The company account's phone confirms by itself after 2 s.
    let firma = begin(&t, FIRMA).await;
    let obec = begin(&t, OBEC).await;
    let id = pending_of(&t, "novak1").await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(poll(&t, Some(&firma)).await, "1");
    clock.advance(time::Duration::seconds(2));
    assert_eq!(poll(&t, Some(&firma)).await, "2");
    // The cookie of one account's request is not the other's: with it,
    // the town account only makes a request of its own.
    let other = login_post(&t, OBEC, Some(&firma)).await;
    assert_eq!(other.status(), 302);
    assert!(set_cookie_value(&other, "IPCZ-X-COOKIE").is_none());
    let firma_session = finish(&t, FIRMA, &firma).await;

    admin(&t, "/admin/mep", Some(serde_json::json!({ "confirm": id }))).await;
    let obec_session = finish(&t, OBEC, &obec).await;

    // Each session acts as its own account.
    for (session, box_id) in [(&firma_session, "mepfirm"), (&obec_session, "mepobec")] {
        let req = t
            .http
            .post(t.http_url("/apps/DS/DsManage"))
            .header("cookie", format!("IPCZ-X-COOKIE={session}"));
        let resp = send(
            req,
            soap11(r#"<GetOwnerInfoFromLogin xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetOwnerInfoFromLogin>"#),
            "text/xml; charset=utf-8",
        )
        .await;
        assert!(resp.text.contains(box_id), "{}", resp.text);
    }

    // A new code replaces the old one and is shown once.
    let (status, v) = admin(
        &t,
        "/admin/mep",
        Some(serde_json::json!({ "code": "novak2" })),
    )
    .await;
    assert_eq!(status, 200);
    let code = v["code"].as_str().unwrap().to_owned();
    assert!(code.len() >= 16);
    assert_eq!(login_post(&t, FIRMA, None).await.status(), 401);
    assert_eq!(login_post(&t, (FIRMA.0, &code), None).await.status(), 302);
    let (status, _) = admin(
        &t,
        "/admin/mep",
        Some(serde_json::json!({ "code": "bezkli" })),
    )
    .await;
    assert_eq!(status, 404);
    t.stop().await;
}

/// `isds-gateway mep …` (the real binary) against the running gateway.
fn mep_cli(t: &TestGateway, operator: (&str, &str), cmd: &[&str]) -> (bool, String, String) {
    let mut args: Vec<String> = vec!["mep".into()];
    args.extend(cmd.iter().map(|s| s.to_string()));
    args.extend([
        "--url".to_owned(),
        t.http_url(""),
        "--operator".to_owned(),
        format!("{}:{}", operator.0, operator.1),
    ]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isds-gateway"))
        .args(&args)
        .env_remove("ISDS_GATEWAY_URL")
        .env_remove("ISDS_GATEWAY_OPERATOR")
        .output()
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mep_command_is_the_phone_of_a_running_gateway() {
    let (t, _clock) = start().await;
    let t = Arc::new(t);
    let cli = |operator: (&'static str, &'static str), cmd: &'static [&'static str]| {
        let t = t.clone();
        tokio::task::spawn_blocking(move || mep_cli(&t, operator, cmd))
    };

    let (ok, out, err) = cli(OPERATOR, &["pending"]).await.unwrap();
    assert!(ok, "{err}");
    assert_eq!(out, "no pending requests\n");

    let cookie = begin(&t, OBEC).await;
    let (ok, out, err) = cli(OPERATOR, &["pending"]).await.unwrap();
    assert!(ok, "{err}");
    for part in [
        "Testovací aplikace",
        "novak1",
        "Jan Novák",
        "Administrátor",
        "Obec Testov",
        "OVM",
        "mepobec",
        "status 11",
    ] {
        assert!(out.contains(part), "{part} missing in {out}");
    }
    let id = out.split_whitespace().next().unwrap().to_owned();

    let (ok, out, err) = mep_blocking(&t, &["reject", "nosuchid"]).await;
    assert!(!ok && out.is_empty(), "{out}");
    assert!(err.contains("no undecided request"), "{err}");
    let (ok, _, err) = cli(("provozovatel", "Spatne-Heslo-1"), &["pending"])
        .await
        .unwrap();
    assert!(!ok);
    assert!(err.contains("refused the operator's credentials"), "{err}");

    let (ok, out, err) = mep_blocking(&t, &["confirm", &id]).await;
    assert!(ok, "{err}");
    assert_eq!(out, format!("confirmed {id}\n"));
    assert_eq!(poll(&t, Some(&cookie)).await, "2");
    finish(&t, OBEC, &cookie).await;

    // The key's accounts, and a new communication code shown once.
    let (ok, out, err) = cli(OPERATOR, &["keys"]).await.unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("key jan-novak of Jan Novák"), "{out}");
    assert!(
        out.contains("novak2  Jan Novák  Pověřená osoba  Novák a syn s.r.o. (PO, mepfirm)"),
        "{out}"
    );
    let (ok, out, err) = cli(OPERATOR, &["code", "novak1"]).await.unwrap();
    assert!(ok, "{err}");
    let code = out
        .lines()
        .next()
        .and_then(|l| l.rsplit(' ').next())
        .unwrap()
        .to_owned();
    assert_eq!(login_post(&t, OBEC, None).await.status(), 401);
    assert_eq!(login_post(&t, (OBEC.0, &code), None).await.status(), 302);
    let (ok, out, err) = cli(OPERATOR, &["--json", "pending"]).await.unwrap();
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["pending"].as_array().unwrap().len(), 1);
}

async fn mep_blocking(t: &Arc<TestGateway>, cmd: &[&str]) -> (bool, String, String) {
    let t = t.clone();
    let cmd: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
        mep_cli(&t, OPERATOR, &refs)
    })
    .await
    .unwrap()
}

/// `userPrivils` of the session's user.
async fn session_privileges(t: &TestGateway, session: &str) -> String {
    let req = t
        .http
        .post(t.http_url("/apps/DS/DsManage"))
        .header("cookie", format!("IPCZ-X-COOKIE={session}"));
    let resp = send(
        req,
        soap11(&op("GetUserInfoFromLogin", "<dbDummy/>")),
        "text/xml; charset=utf-8",
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let body = resp.body();
    let info = body.elements().find(|e| e.name == "dbUserInfo").unwrap();
    info.elements()
        .find(|e| e.name == "userPrivils")
        .map(|e| e.text())
        .unwrap_or_default()
}

#[tokio::test]
async fn changed_rights_apply_at_the_accounts_next_login() {
    use common::box_requests::{OWNER_INFO_EXT, USER_INFO_EXT, complex};
    let (t, _clock) = start().await;
    let login = || async {
        let cookie = begin(&t, JANA).await;
        finish(&t, JANA, &cookie).await
    };
    let before = login().await;
    assert_eq!(session_privileges(&t, &before).await, "9");

    let update = op(
        "UpdateDataBoxUser",
        &(complex("dbOwnerInfo", OWNER_INFO_EXT, &[("dbID", "mepobec")])
            + &complex("dbOldUserInfo", USER_INFO_EXT, &[("userID", "janapr")])
            + &complex("dbNewUserInfo", USER_INFO_EXT, &[("userPrivils", "31")])),
    );
    let resp = t.soap_as(OPERATOR, "/DS/DsManage", &update).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);

    // The open session keeps the rights of its login; the next login has
    // the new ones.
    assert_eq!(session_privileges(&t, &before).await, "9");
    let after = login().await;
    assert_eq!(session_privileges(&t, &after).await, "31");
    t.stop().await;
}
