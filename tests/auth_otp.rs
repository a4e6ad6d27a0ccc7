//! OTP logins (HOTP, TOTP with the simulated SMS), the `IPCZ-X-COOKIE`
//! sessions of `/apps/DS/…`, logout and the redirect target checks, through
//! the real interface.

mod common;

use std::sync::Arc;

use common::*;
use isds_gateway::domain::boxes::otp;
use isds_gateway::domain::clock::{Clock, SystemClock};
use reqwest::redirect::Policy;

const DUMMY: &str = r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#;

/// The demo world's TOTP user (README, fixtures/demo-world.toml).
const OTP_LOGIN: (&str, &str) = ("po_otp", "Demo-Otp-2026!");
const OTP_SECRET: &str = "WBCMXKWZSVBKYATEZC2JDZH7HI5XTHCF";

/// A world with a HOTP user whose secret is the RFC 4226 test key, so the
/// codes are the RFC's Appendix D values.
const HOTP_WORLD: &str = r#"
[[boxes]]
id = "otp4tst"
type = "PO"
[boxes.owner]
firm_name = "Test OTP s.r.o."
ic = "12345679"
[[boxes.users]]
id = "hotpu1"
login = "hotp_user"
password = "Hotp-Test-2026!"
type = "PRIMARY_USER"
otp = { kind = "hotp", secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" }
"#;
const HOTP_LOGIN: (&str, &str) = ("hotp_user", "Hotp-Test-2026!");
/// RFC 4226 Appendix D: HOTP values for counters 0..9.
const HOTP_CODES: [&str; 10] = [
    "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
    "520489",
];

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

async fn start_hotp_world() -> TestGateway {
    let dir = tempfile::tempdir().expect("temp dir");
    let world = dir.path().join("world.toml");
    std::fs::write(&world, HOTP_WORLD).expect("world written");
    TestGateway::start_full(
        dir,
        |cfg| cfg.demo_world = Some(world),
        Arc::new(SystemClock),
    )
    .await
}

fn login_url(t: &TestGateway, query: &str) -> String {
    t.http_url(&format!("/as/processLogin?{query}"))
}

/// POSTs to a login URL, with Basic credentials if given.
async fn post(
    client: &reqwest::Client,
    url: &str,
    creds: Option<(&str, &str)>,
) -> reqwest::Response {
    let mut req = client.post(url);
    if let Some((login, password)) = creds {
        req = req.header("authorization", basic(login, password));
    }
    req.send().await.expect("request sent")
}

fn header<'r>(resp: &'r reqwest::Response, name: &str) -> &'r str {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {resp:?}"))
        .to_str()
        .expect("ASCII header")
}

/// A 401 from the login endpoint with the given challenge and reason.
fn assert_refused(resp: &reqwest::Response, challenge: &str, code: &str) {
    assert_eq!(resp.status(), 401, "{resp:?}");
    assert_eq!(header(resp, "www-authenticate"), challenge);
    assert_eq!(header(resp, "x-response-message-code"), code);
    assert!(header(resp, "x-response-message-text").starts_with("=?UTF-8?B?"));
}

/// The session ID of a successful login's 302, after checking the cookie's
/// attributes and the redirect target.
fn session_of(resp: &reqwest::Response, location: &str, secure: bool) -> String {
    assert_eq!(resp.status(), 302, "{resp:?}");
    assert_eq!(header(resp, "location"), location);
    let set_cookie = header(resp, "set-cookie");
    let mut parts = set_cookie.split("; ");
    let id = parts
        .next()
        .and_then(|kv| kv.strip_prefix("IPCZ-X-COOKIE="))
        .unwrap_or_else(|| panic!("not the session cookie: {set_cookie}"))
        .to_owned();
    assert!(id.len() >= 32, "{set_cookie}");
    let mut attrs: Vec<_> = parts.collect();
    attrs.sort_unstable();
    let mut want = vec!["HttpOnly", "Path=/"];
    if secure {
        want.push("Secure");
    }
    assert_eq!(attrs, want, "{set_cookie}");
    id
}

/// DummyOperation on `/apps/DS/dz` with the session cookie (if any).
async fn dummy_with(t: &TestGateway, session: Option<&str>) -> SoapResponse {
    let mut req = t.http.post(t.http_url("/apps/DS/dz"));
    if let Some(id) = session {
        req = req.header("cookie", format!("lang=cs; IPCZ-X-COOKIE={id}"));
    }
    send(req, soap11(DUMMY), "text/xml; charset=utf-8").await
}

async fn assert_session_works(t: &TestGateway, session: &str) {
    let resp = dummy_with(t, Some(session)).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Dm);
}

async fn assert_session_refused(t: &TestGateway, session: Option<&str>) {
    let resp = dummy_with(t, session).await;
    assert_eq!(resp.status, 401, "{}", resp.text);
    assert_eq!(
        resp.headers.get("x-response-message-code").unwrap(),
        "authentication.error.userIsNotAuthenticated"
    );
}

/// A six-digit code that is not the TOTP code of any step accepted at `now`.
fn wrong_totp(now: i64) -> String {
    let secret = otp::decode_base32(OTP_SECRET).unwrap();
    let valid: Vec<_> = [-30, 0, 30]
        .iter()
        .map(|d| otp::totp(&secret, now + d))
        .collect();
    (0..)
        .map(|n| format!("{:06}", 123_456 + n))
        .find(|c| !valid.contains(c))
        .unwrap()
}

/// Both TOTP steps for the demo OTP user; returns the session ID.
async fn totp_login(t: &TestGateway, client: &reqwest::Client) -> String {
    let resp = post(
        client,
        &login_url(t, "type=totp&sendSms=true&uri=/apps/DS/dz"),
        Some(OTP_LOGIN),
    )
    .await;
    assert_eq!(resp.status(), 302, "{resp:?}");
    let next = header(&resp, "location").to_owned();
    let code =
        t.gw.authenticator()
            .last_sms_code(OTP_LOGIN.0)
            .expect("an SMS was sent");
    let resp = post(
        client,
        &next,
        Some((OTP_LOGIN.0, &format!("{}{code}", OTP_LOGIN.1))),
    )
    .await;
    session_of(&resp, "/apps/DS/dz", false)
}

#[tokio::test]
async fn hotp_login_opens_a_cookie_session_for_apps_ds() {
    let t = start_hotp_world().await;
    let client = no_redirects();
    let uri = t.http_url("/apps/DS/dz");
    let url = login_url(&t, &format!("type=hotp&uri={uri}"));

    // Clients first POST without credentials.
    let resp = post(&client, &url, None).await;
    assert_refused(&resp, "hotp", "authentication.error.userIsNotAuthenticated");
    // Without a session, /apps/DS/ refuses.
    assert_session_refused(&t, None).await;
    assert_session_refused(&t, Some("not-a-session")).await;

    let with_code = |code: &str| format!("{}{code}", HOTP_LOGIN.1);
    let resp = post(
        &client,
        &url,
        Some((HOTP_LOGIN.0, &with_code(HOTP_CODES[0]))),
    )
    .await;
    let session = session_of(&resp, &uri, false);
    assert_session_works(&t, &session).await;
    // The session is not a Basic login: /DS/ still wants credentials.
    let resp = send(
        t.http
            .post(t.http_url("/DS/dz"))
            .header("cookie", format!("IPCZ-X-COOKIE={session}")),
        soap11(DUMMY),
        "text/xml",
    )
    .await;
    assert_eq!(resp.status, 401);

    // A used code is refused, as is a wrong one and a password without one.
    for password in [
        with_code(HOTP_CODES[0]),
        with_code("000000"),
        HOTP_LOGIN.1.to_owned(),
        format!("Wrong-Password-1{}", HOTP_CODES[1]),
    ] {
        let resp = post(&client, &url, Some((HOTP_LOGIN.0, &password))).await;
        assert_refused(&resp, "hotp", "authentication.error.userIsNotAuthenticated");
    }

    // A code ahead of the counter (token pressed unused) is accepted within
    // the look-ahead window and resynchronises: the skipped ones are gone.
    let resp = post(
        &client,
        &url,
        Some((HOTP_LOGIN.0, &with_code(HOTP_CODES[5]))),
    )
    .await;
    let second = session_of(&resp, &uri, false);
    assert_ne!(second, session);
    let resp = post(
        &client,
        &url,
        Some((HOTP_LOGIN.0, &with_code(HOTP_CODES[3]))),
    )
    .await;
    assert_refused(&resp, "hotp", "authentication.error.userIsNotAuthenticated");
    let resp = post(
        &client,
        &url,
        Some((HOTP_LOGIN.0, &with_code(HOTP_CODES[6]))),
    )
    .await;
    session_of(&resp, &uri, false);

    // Both sessions stay valid side by side.
    assert_session_works(&t, &session).await;
    assert_session_works(&t, &second).await;
    t.stop().await;
}

#[tokio::test]
async fn hotp_over_https_sets_a_secure_cookie() {
    let t = start_hotp_world().await;
    let pem = std::fs::read(t.gw.ca_cert_path.as_ref().expect("local CA")).unwrap();
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let uri = t.https_url("/apps/DS/dz");
    let url = t.https_url(&format!("/as/processLogin?type=hotp&uri={uri}"));
    let resp = post(
        &client,
        &url,
        Some((HOTP_LOGIN.0, &format!("{}{}", HOTP_LOGIN.1, HOTP_CODES[0]))),
    )
    .await;
    let session = session_of(&resp, &uri, true);
    let resp = send(
        client
            .post(&uri)
            .header("cookie", format!("IPCZ-X-COOKIE={session}")),
        soap11(DUMMY),
        "text/xml; charset=utf-8",
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Dm);
    t.stop().await;
}

#[tokio::test]
async fn a_client_with_a_cookie_store_follows_the_login_redirect() {
    let t = start_hotp_world().await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    // Following the 302 turns the POST into a GET; ask for the WSDL there.
    let url = login_url(&t, "type=hotp&uri=/apps/DS/dz?wsdl");
    let resp = post(
        &client,
        &url,
        Some((HOTP_LOGIN.0, &format!("{}{}", HOTP_LOGIN.1, HOTP_CODES[0]))),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.url().path(), "/apps/DS/dz");
    let wsdl = resp.text().await.unwrap();
    assert!(wsdl.contains("/apps/DS/dz"), "{wsdl}");

    // The stored cookie authenticates the SOAP call.
    let resp = send(
        client.post(t.http_url("/apps/DS/dz")),
        soap11(DUMMY),
        "text/xml; charset=utf-8",
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Dm);
    t.stop().await;
}

#[tokio::test]
async fn totp_login_in_two_steps_with_the_simulated_sms() {
    let (t, clock) = TestGateway::start_clocked().await;
    let client = no_redirects();
    let uri = t.http_url("/apps/DS/dz");
    let step1 = login_url(&t, &format!("type=totp&sendSms=true&uri={uri}"));

    let resp = post(&client, &step1, None).await;
    assert_refused(
        &resp,
        "totpsendsms",
        "authentication.error.userIsNotAuthenticated",
    );
    let resp = post(&client, &step1, Some((OTP_LOGIN.0, "Wrong-Password-1"))).await;
    assert_refused(
        &resp,
        "totpsendsms",
        "authentication.error.userIsNotAuthenticated",
    );
    assert!(t.gw.authenticator().sent_sms().is_empty());

    let resp = post(&client, &step1, Some(OTP_LOGIN)).await;
    assert_eq!(resp.status(), 302, "{resp:?}");
    assert_eq!(
        header(&resp, "x-response-message-code"),
        "authentication.info.totpSended"
    );
    assert!(header(&resp, "x-response-message-text").starts_with("=?UTF-8?B?"));
    let step2 = header(&resp, "location").to_owned();
    assert_eq!(step2, login_url(&t, &format!("type=totp&uri={uri}")));

    // The "SMS" carries the RFC 6238 code of the gateway's clock.
    let sms = t.gw.authenticator().sent_sms();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].login, OTP_LOGIN.0);
    assert_eq!(sms[0].user.as_str(), "pootp1");
    let secret = otp::decode_base32(OTP_SECRET).unwrap();
    assert_eq!(sms[0].code, otp::totp(&secret, sms[0].sent_at));
    assert!((clock.unix() - sms[0].sent_at).abs() <= 5);
    let code = sms[0].code.clone();

    let resp = post(&client, &step2, None).await;
    assert_refused(&resp, "totp", "authentication.error.userIsNotAuthenticated");
    let wrong = format!("{}{}", OTP_LOGIN.1, wrong_totp(clock.unix()));
    let resp = post(&client, &step2, Some((OTP_LOGIN.0, &wrong))).await;
    assert_refused(&resp, "totp", "authentication.error.userIsNotAuthenticated");

    let right = format!("{}{code}", OTP_LOGIN.1);
    let resp = post(&client, &step2, Some((OTP_LOGIN.0, &right))).await;
    let session = session_of(&resp, &uri, false);
    assert_session_works(&t, &session).await;

    // A code is good for one login only.
    let resp = post(&client, &step2, Some((OTP_LOGIN.0, &right))).await;
    assert_refused(&resp, "totp", "authentication.error.userIsNotAuthenticated");

    // The session works on every /apps/DS/ endpoint.
    let resp = send(
        t.http
            .post(t.http_url("/apps/DS/DsManage"))
            .header("cookie", format!("IPCZ-X-COOKIE={session}")),
        soap11(r#"<GetOwnerInfoFromLogin xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetOwnerInfoFromLogin>"#),
        "text/xml; charset=utf-8",
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Db);
    assert!(resp.text.contains("po4demo"), "{}", resp.text);
    t.stop().await;
}

#[tokio::test]
async fn an_old_totp_code_is_refused() {
    let (t, clock) = TestGateway::start_clocked().await;
    let client = no_redirects();
    let resp = post(
        &client,
        &login_url(&t, "type=totp&sendSms=true&uri=/apps/DS/dz"),
        Some(OTP_LOGIN),
    )
    .await;
    assert_eq!(resp.status(), 302);
    let step2 = header(&resp, "location").to_owned();
    let code = t.gw.authenticator().last_sms_code(OTP_LOGIN.0).unwrap();

    // Two minutes later the code is four steps old.
    clock.advance(time::Duration::minutes(2));
    let resp = post(
        &client,
        &step2,
        Some((OTP_LOGIN.0, &format!("{}{code}", OTP_LOGIN.1))),
    )
    .await;
    assert_refused(&resp, "totp", "authentication.error.userIsNotAuthenticated");

    // A fresh SMS works.
    let session = totp_login(&t, &client).await;
    assert_session_works(&t, &session).await;
    t.stop().await;
}

#[tokio::test]
async fn sessions_expire_after_30_idle_minutes_and_refresh_on_use() {
    let (t, clock) = TestGateway::start_clocked().await;
    let client = no_redirects();

    let idle = totp_login(&t, &client).await;
    clock.advance(time::Duration::minutes(1));
    let used = totp_login(&t, &client).await;

    // 20 and 40 minutes after its login, the used session still works:
    // each use restarts its 30 minutes. The idle one has lapsed at 41.
    clock.advance(time::Duration::minutes(20));
    assert_session_works(&t, &used).await;
    clock.advance(time::Duration::minutes(20));
    assert_session_works(&t, &used).await;
    assert_session_refused(&t, Some(&idle)).await;

    clock.advance(time::Duration::minutes(31));
    assert_session_refused(&t, Some(&used)).await;
    // Expired is gone for good, even if time went back.
    clock.advance(time::Duration::minutes(-31));
    assert_session_refused(&t, Some(&used)).await;
    t.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session() {
    let (t, clock) = TestGateway::start_clocked().await;
    let client = no_redirects();
    let session = totp_login(&t, &client).await;
    assert_session_works(&t, &session).await;

    // As libdatovka calls it, and as it requires the answer: 200.
    let uri = t.http_url("/apps/DS/dz");
    let resp = client
        .get(t.http_url(&format!("/as/processLogout?uri={uri}")))
        .header("cookie", format!("IPCZ-X-COOKIE={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("location").is_none());
    assert!(header(&resp, "set-cookie").contains("Max-Age=0"));
    assert_session_refused(&t, Some(&session)).await;

    // Without uri: 200; logging out twice is harmless. (A TOTP code is
    // good once: the next login needs the next time step.)
    clock.advance(time::Duration::seconds(30));
    let other = totp_login(&t, &client).await;
    for _ in 0..2 {
        let resp = client
            .get(t.http_url("/as/processLogout"))
            .header("cookie", format!("IPCZ-X-COOKIE={other}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    assert_session_refused(&t, Some(&other)).await;
    t.stop().await;
}

#[tokio::test]
async fn redirect_targets_must_be_this_gateways_apps_ds() {
    let t = start_hotp_world().await;
    let client = no_redirects();
    let creds = (HOTP_LOGIN.0, format!("{}{}", HOTP_LOGIN.1, HOTP_CODES[0]));
    for query in [
        "type=hotp&uri=https://evil.example/apps/DS/dz".to_owned(),
        "type=hotp&uri=//evil.example/apps/DS/dz".to_owned(),
        "type=hotp&uri=/DS/dz".to_owned(),
        "type=hotp&uri=/apps/DS/dz%0d%0aSet-Cookie:x=y".to_owned(),
        format!(
            "type=hotp&uri=http://{}.evil.example/apps/DS/dz",
            t.gw.http_addr
        ),
        "type=hotp".to_owned(),
        "type=sms&uri=/apps/DS/dz".to_owned(),
        "uri=/apps/DS/dz".to_owned(),
    ] {
        let resp = post(&client, &login_url(&t, &query), Some((creds.0, &creds.1))).await;
        assert_eq!(resp.status(), 400, "{query}");
    }
    // Logout never redirects, wherever uri points.
    let resp = client
        .get(t.http_url("/as/processLogout?uri=https://evil.example/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("location").is_none());

    // None of them used the code: it still logs in, percent-encoded uri too.
    let uri = t.http_url("/apps/DS/dz");
    let encoded = uri.replace(':', "%3A").replace('/', "%2F");
    let resp = post(
        &client,
        &login_url(&t, &format!("type=hotp&uri={encoded}")),
        Some((creds.0, &creds.1)),
    )
    .await;
    session_of(&resp, &uri, false);

    let resp = client
        .put(login_url(&t, "type=hotp&uri=/apps/DS/dz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    t.stop().await;
}

#[tokio::test]
async fn wrong_codes_count_towards_the_lockout() {
    let (t, clock) = TestGateway::start_clocked().await;
    let client = no_redirects();
    let step1 = login_url(&t, "type=totp&sendSms=true&uri=/apps/DS/dz");
    let step2 = login_url(&t, "type=totp&uri=/apps/DS/dz");
    let wrong = || format!("{}{}", OTP_LOGIN.1, wrong_totp(clock.unix()));

    // Four wrong codes; a right password in between (step 1) does not
    // clear the count.
    for _ in 0..4 {
        let resp = post(&client, &step1, Some(OTP_LOGIN)).await;
        assert_eq!(resp.status(), 302);
        let resp = post(&client, &step2, Some((OTP_LOGIN.0, &wrong()))).await;
        assert_refused(&resp, "totp", "authentication.error.userIsNotAuthenticated");
    }
    let resp = post(&client, &step2, Some((OTP_LOGIN.0, &wrong()))).await;
    assert_refused(&resp, "totp", "authentication.error.intruderDetected");

    // Blocked: the right code, a new SMS and Basic login are all refused.
    let code = t.gw.authenticator().last_sms_code(OTP_LOGIN.0).unwrap();
    let resp = post(
        &client,
        &step2,
        Some((OTP_LOGIN.0, &format!("{}{code}", OTP_LOGIN.1))),
    )
    .await;
    assert_refused(&resp, "totp", "authentication.error.intruderDetected");
    let resp = post(&client, &step1, Some(OTP_LOGIN)).await;
    assert_refused(
        &resp,
        "totpsendsms",
        "authentication.error.intruderDetected",
    );
    let resp = t.soap_as(OTP_LOGIN, "/DS/dz", DUMMY).await;
    assert_eq!(
        resp.headers.get("x-response-message-code").unwrap(),
        "authentication.error.intruderDetected"
    );

    // An hour later the user gets in again.
    clock.advance(time::Duration::minutes(61));
    let session = totp_login(&t, &client).await;
    assert_session_works(&t, &session).await;
    t.stop().await;
}

#[tokio::test]
async fn users_without_a_matching_otp_secret_get_bad_role() {
    let t = TestGateway::start().await;
    let client = no_redirects();
    // A user without OTP, with the right password.
    let resp = post(
        &client,
        &login_url(&t, "type=totp&sendSms=true&uri=/apps/DS/dz"),
        Some(PO_LOGIN),
    )
    .await;
    assert_refused(&resp, "totpsendsms", "authentication.error.badRole");
    let resp = post(
        &client,
        &login_url(&t, "type=hotp&uri=/apps/DS/dz"),
        Some((PO_LOGIN.0, &format!("{}123456", PO_LOGIN.1))),
    )
    .await;
    assert_refused(&resp, "hotp", "authentication.error.badRole");
    // The TOTP user asking for HOTP.
    let resp = post(
        &client,
        &login_url(&t, "type=hotp&uri=/apps/DS/dz"),
        Some((OTP_LOGIN.0, &format!("{}123456", OTP_LOGIN.1))),
    )
    .await;
    assert_refused(&resp, "hotp", "authentication.error.badRole");
    assert!(t.gw.authenticator().sent_sms().is_empty());

    t.stop().await;
}

#[tokio::test]
async fn an_otp_user_cannot_log_in_with_the_password_alone_on_ds() {
    let t = TestGateway::start().await;
    // With the right password: refused, and nothing of the box is read.
    let list = r#"<GetListOfReceivedMessages xmlns="http://isds.czechpoint.cz/v20"><dmFromTime xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/><dmToTime xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/><dmRecipientOrgUnitNum xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/><dmStatusFilter>-1</dmStatusFilter><dmOffset>1</dmOffset><dmLimit>10</dmLimit></GetListOfReceivedMessages>"#;
    for (path, body) in [("/DS/dz", DUMMY), ("/DS/dx", list)] {
        let resp = t.soap_as(OTP_LOGIN, path, body).await;
        assert_eq!(resp.status, 401, "{path}: {}", resp.text);
        assert_eq!(
            resp.headers.get("x-response-message-code").unwrap(),
            "authentication.error.badRole",
            "{path}"
        );
        assert!(!resp.text.contains("dmRecord"), "{}", resp.text);
    }
    // A wrong password is the ordinary refusal.
    let resp = t
        .soap_as((OTP_LOGIN.0, "Wrong-2026!"), "/DS/dz", DUMMY)
        .await;
    assert_eq!(
        resp.headers.get("x-response-message-code").unwrap(),
        "authentication.error.userIsNotAuthenticated"
    );
    // The way in is the OTP login.
    let session = totp_login(&t, &no_redirects()).await;
    assert_session_works(&t, &session).await;
    t.stop().await;
}

#[tokio::test]
async fn an_expired_password_gives_a_session_for_the_password_services_only() {
    let (t, clock) = TestGateway::start_clocked().await;
    let client = no_redirects();
    clock.advance(time::Duration::days(91));
    let session = totp_login(&t, &client).await;
    // DummyOperation (the clients' login call) passes; the rest does not.
    let resp = dummy_with(&t, Some(&session)).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let resp = send(
        t.http
            .post(t.http_url("/apps/DS/DsManage"))
            .header("cookie", format!("IPCZ-X-COOKIE={session}")),
        soap11(r#"<GetOwnerInfoFromLogin xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetOwnerInfoFromLogin>"#),
        "text/xml; charset=utf-8",
    )
    .await;
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.headers.get("x-response-message-code").unwrap(),
        "authentication.error.paswordExpired"
    );
    let resp = send(
        t.http
            .post(t.http_url("/apps/DS/DsManage"))
            .header("cookie", format!("IPCZ-X-COOKIE={session}")),
        soap11(r#"<GetPasswordInfo xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetPasswordInfo>"#),
        "text/xml; charset=utf-8",
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Db);
    t.stop().await;
}

const ASWS_NS: &str = "http://isds.czechpoint.cz/v20/asws";

/// POSTs one operation to `/asws/changePassword` with Basic credentials.
async fn asws(t: &TestGateway, creds: (&str, &str), body: &str) -> SoapResponse {
    send(
        t.http
            .post(t.http_url("/asws/changePassword"))
            .header("authorization", basic(creds.0, creds.1)),
        soap11(body),
        "text/xml; charset=utf-8",
    )
    .await
}

fn change_otp(old: &str, new: &str, kind: &str) -> String {
    format!(
        r#"<ChangePasswordOTP xmlns="{ASWS_NS}"><dbOldPassword>{old}</dbOldPassword><dbNewPassword>{new}</dbNewPassword><dbOTPType>{kind}</dbOTPType></ChangePasswordOTP>"#
    )
}

/// The status of an `/asws` answer: the response element and its status
/// block in the asws namespace.
fn asws_status(resp: &SoapResponse, operation: &str) -> (String, String) {
    assert_eq!(resp.status, 200, "{}", resp.text);
    let body = resp.body();
    assert_eq!(body.name, format!("{operation}Response"), "{}", resp.text);
    assert_eq!(body.ns.as_deref(), Some(ASWS_NS));
    let status = body
        .elements()
        .find(|e| e.name == "dbStatus" && e.ns.as_deref() == Some(ASWS_NS))
        .expect("dbStatus");
    let item = |name: &str| {
        status
            .elements()
            .find(|e| e.name == name && e.ns.as_deref() == Some(ASWS_NS))
            .map(|e| e.text())
            .unwrap_or_default()
    };
    (item("dbStatusCode"), item("dbStatusMessage"))
}

#[tokio::test]
async fn totp_user_changes_the_password_with_send_sms_code_and_change_password_otp() {
    let (t, clock) = TestGateway::start_clocked().await;
    let send_sms = format!(r#"<SendSMSCode xmlns="{ASWS_NS}"/>"#);

    // SendSMSCode: the password alone; a code goes out.
    let resp = asws(&t, OTP_LOGIN, &send_sms).await;
    assert_eq!(
        asws_status(&resp, "SendSMSCode"),
        ("0000".to_owned(), "Provedeno úspěšně.".to_owned())
    );
    let code =
        t.gw.authenticator()
            .last_sms_code(OTP_LOGIN.0)
            .expect("an SMS");
    // Once per 30 seconds (ISDS_OTP_autentizace 3.3).
    let resp = asws(&t, OTP_LOGIN, &send_sms).await;
    assert_eq!(asws_status(&resp, "SendSMSCode").0, "2301");
    assert_eq!(t.gw.authenticator().sent_sms().len(), 1);
    // A wrong password sends nothing: the OTP login's 401.
    let resp = asws(&t, (OTP_LOGIN.0, "Wrong-2026!x"), &send_sms).await;
    assert_eq!(resp.status, 401);
    assert_eq!(resp.headers.get("www-authenticate").unwrap(), "totpsendsms");

    // ChangePasswordOTP: password and the SMS code in Basic.
    let with_code = format!("{}{code}", OTP_LOGIN.1);
    let creds = (OTP_LOGIN.0, with_code.as_str());
    // A code is good once: each attempt below uses the next time step.
    let resp = asws(
        &t,
        creds,
        &change_otp("Not-The-Current-1", "Nove-Heslo-42", "TOTP"),
    )
    .await;
    assert_eq!(asws_status(&resp, "ChangePasswordOTP").0, "1090");
    for (weak, code_want) in [
        ("short1A", "1066"),
        (OTP_LOGIN.1, "1067"),
        ("Po_otp-heslo-1", "1082"),
        ("Heslooo-12A", "1083"),
        ("nocapitals-42", "1083"),
        ("Heslo s mezerou-1", "1083"),
    ] {
        clock.advance(time::Duration::seconds(30));
        let code = otp::totp(&otp::decode_base32(OTP_SECRET).unwrap(), clock.unix());
        let with_code = format!("{}{code}", OTP_LOGIN.1);
        let resp = asws(
            &t,
            (OTP_LOGIN.0, &with_code),
            &change_otp(OTP_LOGIN.1, weak, "TOTP"),
        )
        .await;
        assert_eq!(
            asws_status(&resp, "ChangePasswordOTP").0,
            code_want,
            "{weak}"
        );
    }
    // The same code again: refused, it was used.
    let resp = asws(&t, creds, &change_otp(OTP_LOGIN.1, "Nove-Heslo-42", "TOTP")).await;
    assert_eq!(resp.status, 401);
    assert_eq!(resp.headers.get("www-authenticate").unwrap(), "totp");

    clock.advance(time::Duration::seconds(30));
    let code = otp::totp(&otp::decode_base32(OTP_SECRET).unwrap(), clock.unix());
    let with_code = format!("{}{code}", OTP_LOGIN.1);
    let resp = asws(
        &t,
        (OTP_LOGIN.0, &with_code),
        &change_otp(OTP_LOGIN.1, "Nove-Heslo-42", "TOTP"),
    )
    .await;
    assert_eq!(
        asws_status(&resp, "ChangePasswordOTP").0,
        "0000",
        "{}",
        resp.text
    );

    // The new password opens an OTP session; the old one does not.
    clock.advance(time::Duration::seconds(30));
    let client = no_redirects();
    let resp = post(
        &client,
        &login_url(&t, "type=totp&sendSms=true&uri=/apps/DS/dz"),
        Some(OTP_LOGIN),
    )
    .await;
    assert_eq!(resp.status(), 401);
    let resp = post(
        &client,
        &login_url(&t, "type=totp&sendSms=true&uri=/apps/DS/dz"),
        Some((OTP_LOGIN.0, "Nove-Heslo-42")),
    )
    .await;
    assert_eq!(resp.status(), 302, "{resp:?}");
    t.stop().await;
}

#[tokio::test]
async fn hotp_user_changes_the_password_and_others_are_refused() {
    let t = start_hotp_world().await;
    let with_code = format!("{}{}", HOTP_LOGIN.1, HOTP_CODES[0]);
    // The OTP type must be the user's own.
    let resp = asws(
        &t,
        (HOTP_LOGIN.0, &with_code),
        &change_otp(HOTP_LOGIN.1, "Nove-Heslo-42", "TOTP"),
    )
    .await;
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.headers.get("x-response-message-code").unwrap(),
        "authentication.error.badRole"
    );
    // An unknown type is the manual's unexpected error.
    let resp = asws(
        &t,
        (HOTP_LOGIN.0, &with_code),
        &change_otp(HOTP_LOGIN.1, "Nove-Heslo-42", "SMS"),
    )
    .await;
    assert_eq!(asws_status(&resp, "ChangePasswordOTP").0, "2300");
    // A SendSMSCode for a HOTP user: no SMS login, bad role.
    let resp = asws(
        &t,
        HOTP_LOGIN,
        &format!(r#"<SendSMSCode xmlns="{ASWS_NS}"/>"#),
    )
    .await;
    assert_eq!(resp.status, 401);
    let resp = asws(
        &t,
        (HOTP_LOGIN.0, &with_code),
        &change_otp(HOTP_LOGIN.1, "Nove-Heslo-42", "HOTP"),
    )
    .await;
    assert_eq!(
        asws_status(&resp, "ChangePasswordOTP").0,
        "0000",
        "{}",
        resp.text
    );
    let with_new = format!("Nove-Heslo-42{}", HOTP_CODES[1]);
    let resp = post(
        &no_redirects(),
        &login_url(&t, "type=hotp&uri=/apps/DS/dz"),
        Some((HOTP_LOGIN.0, &with_new)),
    )
    .await;
    assert_eq!(resp.status(), 302, "{resp:?}");

    // Not in the asws namespace, or not an operation: client faults.
    let resp = asws(
        &t,
        HOTP_LOGIN,
        r#"<SendSMSCode xmlns="http://isds.czechpoint.cz/v20"/>"#,
    )
    .await;
    assert_eq!(resp.status, 500);
    assert!(resp.text.contains("Fault"), "{}", resp.text);
    let resp = t
        .http
        .get(t.http_url("/asws/changePassword"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    t.stop().await;
}

#[tokio::test]
async fn a_user_without_otp_cannot_use_the_otp_password_service() {
    let t = TestGateway::start().await;
    let with_code = format!("{}123456", PO_LOGIN.1);
    let resp = asws(
        &t,
        (PO_LOGIN.0, &with_code),
        &change_otp(PO_LOGIN.1, "Nove-Heslo-42", "HOTP"),
    )
    .await;
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.headers.get("x-response-message-code").unwrap(),
        "authentication.error.badRole"
    );
    // The password is unchanged.
    let resp = t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await;
    assert_eq!(resp.status().0, "0000");
    t.stop().await;
}

/// A session's requests are decided from memory only while nothing they
/// read changed: its user deleted, the very next request is refused.
#[tokio::test]
async fn a_session_sees_its_user_deleted_at_once() {
    const OPERATOR: (&str, &str) = ("provozovatel", "Operator-Heslo-2026");
    let t = TestGateway::start_with(|cfg| {
        cfg.operator = Some(isds_gateway::config::OperatorConfig {
            login: OPERATOR.0.into(),
            password: OPERATOR.1.into(),
        })
    })
    .await;
    let session = totp_login(&t, &no_redirects()).await;
    for _ in 0..3 {
        assert_session_works(&t, &session).await;
    }
    let delete_user = op(
        "DeleteDataBoxUser",
        &(common::box_requests::complex(
            "dbOwnerInfo",
            common::box_requests::OWNER_INFO,
            &[("dbID", "po4demo")],
        ) + &common::box_requests::complex(
            "dbUserInfo",
            common::box_requests::USER_INFO,
            &[("userID", "pootp1")],
        )),
    );
    let resp = t.soap_as(OPERATOR, "/DS/DsManage", &delete_user).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert_session_refused(&t, Some(&session)).await;
    t.stop().await;
}
