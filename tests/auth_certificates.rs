//! Client-certificate logins over real mutual-TLS handshakes: `/cert`
//! (a box's system certificate), `/certds` (a user's commercial certificate
//! plus the password), `/hspis` (a hosted provider's certificate plus the
//! target box ID), Basic refused once a user has a certificate, validity
//! dates, trust roots, and the `cert` command.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use isds_gateway::domain::world::DEMO_WORLD;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

const DUMMY: &str = r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#;
const OWNER_INFO: &str = r#"<GetOwnerInfoFromLogin xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetOwnerInfoFromLogin>"#;
const USER_INFO: &str = r#"<GetUserInfoFromLogin xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetUserInfoFromLogin>"#;

const NOT_AUTHENTICATED: &str = "authentication.error.userIsNotAuthenticated";
const BAD_ROLE: &str = "authentication.error.badRole";
const PROVIDER: &str = "Hostovaná spisovka s.r.o.";

/// A client certificate and its private key, PEM.
struct ClientCert {
    cert_pem: String,
    key_pem: String,
    /// SHA-256 of the DER certificate, lowercase hex.
    sha256: String,
}

impl ClientCert {
    /// Self-signed, valid from `from` to `to`.
    fn new(cn: &str, from: OffsetDateTime, to: OffsetDateTime) -> Self {
        let key = KeyPair::generate().expect("key");
        let cert = params(cn, from, to).self_signed(&key).expect("certificate");
        Self::from_parts(cert, key)
    }

    /// Self-signed, valid from a year ago for ten years.
    fn valid(cn: &str) -> Self {
        let now = OffsetDateTime::now_utc();
        Self::new(cn, now - Duration::days(365), now + Duration::days(3650))
    }

    fn from_parts(cert: rcgen::Certificate, key: KeyPair) -> Self {
        ClientCert {
            sha256: isds_gateway::tls::sha256_hex(cert.der()),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.cert_pem).expect("write certificate");
        path
    }
}

fn params(cn: &str, from: OffsetDateTime, to: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = from;
    params.not_after = to;
    params
}

/// An HTTPS client trusting the gateway's CA, presenting `cert` if given.
fn client(t: &TestGateway, cert: Option<&ClientCert>) -> reqwest::Client {
    let ca = std::fs::read(t.gw.ca_cert_path.as_ref().expect("local CA")).expect("CA file");
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA PEM"));
    if let Some(c) = cert {
        let pem = format!("{}{}", c.cert_pem, c.key_pem);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).expect("identity"));
    }
    builder.build().expect("client")
}

/// POSTs a SOAP 1.1 body over HTTPS with the certificate and Basic given.
async fn call(
    t: &TestGateway,
    cert: Option<&ClientCert>,
    login: Option<(&str, &str)>,
    path: &str,
    body: &str,
) -> SoapResponse {
    let mut req = client(t, cert).post(t.https_url(path));
    if let Some((user, password)) = login {
        req = req.header("authorization", basic(user, password));
    }
    send(req, soap11(body), "text/xml; charset=utf-8").await
}

fn assert_refused(resp: &SoapResponse, code: &str, what: &str) {
    assert_eq!(resp.status, 401, "{what}: {}", resp.text);
    assert_eq!(
        resp.headers.get("www-authenticate").unwrap(),
        "Basic realm=\"ISDS\"",
        "{what}"
    );
    assert_eq!(
        resp.headers.get("x-response-message-code").unwrap(),
        code,
        "{what}"
    );
}

fn assert_dummy_ok(resp: &SoapResponse, what: &str) {
    assert_eq!(resp.status, 200, "{what}: {}", resp.text);
    assert_eq!(resp.status().0, "0000", "{what}");
    assert_valid(&resp.body_xml(), Xsd::Dm);
}

/// The `dbID` a successful GetOwnerInfoFromLogin reports, after validating
/// the response.
fn owner_box(resp: &SoapResponse) -> String {
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Db);
    let body = resp.body();
    let info = body
        .elements()
        .find(|e| e.name == "dbOwnerInfo")
        .expect("dbOwnerInfo");
    info.elements()
        .find(|e| e.name == "dbID")
        .map(|e| e.text())
        .expect("dbID")
}

/// Every certificate of the demo world extended for these tests.
struct Certs {
    ovm_app: ClientCert,
    po_app: ClientCert,
    expired: ClientCert,
    not_yet_valid: ClientCert,
    po_jednatel: ClientCert,
    fo_cerny: ClientCert,
    provider: ClientCert,
    unregistered: ClientCert,
}

/// Writes the demo world plus certificates next to it and returns the
/// fixture path: system certificates for ovm4dem (also an expired and a
/// not-yet-valid one) and po4demo, commercial certificates for po_jednatel
/// and fo_cerny, a hosted provider authorised by ovm4dem only.
fn certificate_world(dir: &Path) -> (PathBuf, Certs) {
    let now = OffsetDateTime::now_utc();
    let certs = Certs {
        ovm_app: ClientCert::valid("ovm4dem records system"),
        po_app: ClientCert::valid("po4demo accounting"),
        expired: ClientCert::new(
            "expired",
            now - Duration::days(400),
            now - Duration::days(35),
        ),
        not_yet_valid: ClientCert::new(
            "too early",
            now + Duration::days(30),
            now + Duration::days(400),
        ),
        po_jednatel: ClientCert::valid("Petr Novák"),
        fo_cerny: ClientCert::valid("Tomáš Černý"),
        provider: ClientCert::valid("hosted records provider"),
        unregistered: ClientCert::valid("stranger"),
    };
    let cert_dir = dir.join("certs");
    std::fs::create_dir_all(&cert_dir).unwrap();
    for (c, name) in [
        (&certs.ovm_app, "ovm-app.pem"),
        (&certs.po_app, "po-app.pem"),
        (&certs.expired, "expired.pem"),
        (&certs.not_yet_valid, "not-yet-valid.pem"),
        (&certs.po_jednatel, "po-jednatel.pem"),
        (&certs.fo_cerny, "fo-cerny.pem"),
        (&certs.provider, "provider.pem"),
    ] {
        c.write(&cert_dir, name);
    }
    let world = extend_demo(&[
        (
            "id = \"ovm4dem\"\n",
            "certificates = [\"certs/ovm-app.pem\", \"certs/expired.pem\", \"certs/not-yet-valid.pem\"]\n",
        ),
        (
            "id = \"po4demo\"\n",
            "certificates = [\"certs/po-app.pem\"]\n",
        ),
        (
            "login = \"po_jednatel\"\n",
            "certificates = [\"certs/po-jednatel.pem\"]\n",
        ),
        (
            "login = \"fo_cerny\"\n",
            "certificates = [\"certs/fo-cerny.pem\"]\n",
        ),
    ]) + &format!(
        "\n[[providers]]\nname = \"{PROVIDER}\"\ncertificate = \"certs/provider.pem\"\nboxes = [\"ovm4dem\"]\n"
    );
    let path = dir.join("world.toml");
    std::fs::write(&path, world).unwrap();
    (path, certs)
}

/// The demo world with `addition` inserted after each `anchor` line.
fn extend_demo(insertions: &[(&str, &str)]) -> String {
    let mut text = DEMO_WORLD.to_owned();
    for (anchor, addition) in insertions {
        assert_eq!(text.matches(anchor).count(), 1, "{anchor}");
        text = text.replace(anchor, &format!("{anchor}{addition}"));
    }
    text
}

async fn start_certificate_world() -> (TestGateway, Certs, tempfile::TempDir) {
    let fixtures = tempfile::tempdir().unwrap();
    let (world, certs) = certificate_world(fixtures.path());
    let t = TestGateway::start_with(|c| c.demo_world = Some(world)).await;
    (t, certs, fixtures)
}

#[tokio::test]
async fn a_system_certificate_logs_in_as_its_box() {
    let (t, c, _fixtures) = start_certificate_world().await;

    let resp = call(&t, Some(&c.ovm_app), None, "/cert/DS/dz", DUMMY).await;
    assert_dummy_ok(&resp, "box certificate on /cert");
    let resp = call(&t, Some(&c.ovm_app), None, "/cert/DS/DsManage", OWNER_INFO).await;
    assert_eq!(owner_box(&resp), "ovm4dem");
    // Each certificate reaches its own box only, whatever Basic says.
    let resp = call(&t, Some(&c.po_app), None, "/cert/DS/DsManage", OWNER_INFO).await;
    assert_eq!(owner_box(&resp), "po4demo");
    let resp = call(
        &t,
        Some(&c.po_app),
        Some(OVM_LOGIN),
        "/cert/DS/DsManage",
        OWNER_INFO,
    )
    .await;
    assert_eq!(owner_box(&resp), "po4demo");

    let resp = call(&t, None, None, "/cert/DS/dz", DUMMY).await;
    assert_refused(&resp, NOT_AUTHENTICATED, "no certificate");
    let resp = call(&t, None, Some(OVM_LOGIN), "/cert/DS/dz", DUMMY).await;
    assert_refused(&resp, NOT_AUTHENTICATED, "Basic instead of a certificate");
    let resp = t.soap("/cert/DS/dz", DUMMY).await;
    assert_refused(&resp, NOT_AUTHENTICATED, "plain HTTP has no certificate");
    let resp = call(&t, Some(&c.unregistered), None, "/cert/DS/dz", DUMMY).await;
    assert_refused(&resp, NOT_AUTHENTICATED, "unregistered certificate");
    // Known certificates of another kind are in the wrong role here.
    let resp = call(&t, Some(&c.po_jednatel), None, "/cert/DS/dz", DUMMY).await;
    assert_refused(&resp, BAD_ROLE, "a user's certificate on /cert");
    let resp = call(&t, Some(&c.provider), None, "/cert/DS/dz", DUMMY).await;
    assert_refused(&resp, BAD_ROLE, "a provider's certificate on /cert");
    t.stop().await;
}

#[tokio::test]
async fn expired_and_not_yet_valid_certificates_are_refused() {
    let (t, c, _fixtures) = start_certificate_world().await;
    for (cert, what) in [(&c.expired, "expired"), (&c.not_yet_valid, "not yet valid")] {
        let resp = call(&t, Some(cert), None, "/cert/DS/dz", DUMMY).await;
        assert_refused(&resp, NOT_AUTHENTICATED, what);
    }
    t.stop().await;
}

#[tokio::test]
async fn validity_follows_the_gateways_clock() {
    let fixtures = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();
    let ending = ClientCert::new("ending", now - Duration::days(1), now + Duration::days(2));
    let starting = ClientCert::new("starting", now + Duration::days(1), now + Duration::days(9));
    ending.write(fixtures.path(), "ending.pem");
    starting.write(fixtures.path(), "starting.pem");
    let world = fixtures.path().join("world.toml");
    std::fs::write(
        &world,
        extend_demo(&[(
            "id = \"fo4demo\"\n",
            "certificates = [\"ending.pem\", \"starting.pem\"]\n",
        )]),
    )
    .unwrap();
    let clock = isds_gateway::domain::clock::TestClock::new();
    let t = TestGateway::start_full(
        tempfile::tempdir().unwrap(),
        |c| c.demo_world = Some(world),
        clock.clone(),
    )
    .await;

    let resp = call(&t, Some(&ending), None, "/cert/DS/dz", DUMMY).await;
    assert_dummy_ok(&resp, "still valid");
    let resp = call(&t, Some(&starting), None, "/cert/DS/dz", DUMMY).await;
    assert_refused(&resp, NOT_AUTHENTICATED, "not valid yet");

    clock.advance(Duration::days(3));
    let resp = call(&t, Some(&ending), None, "/cert/DS/dz", DUMMY).await;
    assert_refused(&resp, NOT_AUTHENTICATED, "expired by the clock");
    let resp = call(&t, Some(&starting), None, "/cert/DS/DsManage", OWNER_INFO).await;
    assert_eq!(owner_box(&resp), "fo4demo");
    t.stop().await;
}

#[tokio::test]
async fn a_commercial_certificate_needs_its_users_password() {
    let (t, c, _fixtures) = start_certificate_world().await;

    let resp = call(
        &t,
        Some(&c.po_jednatel),
        Some(PO_LOGIN),
        "/certds/DS/DsManage",
        OWNER_INFO,
    )
    .await;
    assert_eq!(owner_box(&resp), "po4demo");
    let resp = call(
        &t,
        Some(&c.po_jednatel),
        Some(PO_LOGIN),
        "/certds/DS/DsManage",
        USER_INFO,
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Db);
    let body = resp.body();
    let user_id = body
        .elements()
        .find(|e| e.name == "dbUserInfo")
        .and_then(|info| info.elements().find(|e| e.name == "userID"))
        .map(|e| e.text());
    assert_eq!(user_id.as_deref(), Some("popu01"), "{}", resp.text);
    let resp = call(
        &t,
        Some(&c.po_jednatel),
        Some(PO_LOGIN),
        "/certds/DS/dz",
        DUMMY,
    )
    .await;
    assert_dummy_ok(&resp, "certds dz");

    let refusals = [
        (
            Some(&c.po_jednatel),
            Some((PO_LOGIN.0, "Wrong-Password-1")),
            "wrong password",
        ),
        (Some(&c.po_jednatel), None, "no Basic"),
        (None, Some(PO_LOGIN), "no certificate"),
        (
            Some(&c.fo_cerny),
            Some(PO_LOGIN),
            "someone else's certificate",
        ),
        (
            Some(&c.unregistered),
            Some(PO_LOGIN),
            "unregistered certificate",
        ),
        (
            Some(&c.po_app),
            Some(PO_LOGIN),
            "the box's system certificate",
        ),
        (
            Some(&c.po_jednatel),
            Some(PO_ENTRUSTED_LOGIN),
            "a colleague's password with my certificate",
        ),
        (Some(&c.expired), Some(PO_LOGIN), "expired certificate"),
    ];
    for (cert, login, what) in refusals {
        let resp = call(&t, cert, login, "/certds/DS/dz", DUMMY).await;
        assert_refused(&resp, NOT_AUTHENTICATED, what);
    }

    // The password part is a real Basic login: failures block the user.
    let fo = ("fo_cerny", "Demo-Fo-2026!");
    for _ in 0..4 {
        let resp = call(
            &t,
            Some(&c.fo_cerny),
            Some((fo.0, "nope")),
            "/certds/DS/dz",
            DUMMY,
        )
        .await;
        assert_refused(&resp, NOT_AUTHENTICATED, "fo wrong password");
    }
    let resp = call(
        &t,
        Some(&c.fo_cerny),
        Some((fo.0, "nope")),
        "/certds/DS/dz",
        DUMMY,
    )
    .await;
    assert_refused(
        &resp,
        "authentication.error.intruderDetected",
        "fifth failure",
    );
    let resp = call(&t, Some(&c.fo_cerny), Some(fo), "/certds/DS/dz", DUMMY).await;
    assert_refused(&resp, "authentication.error.intruderDetected", "blocked");
    t.stop().await;
}

#[tokio::test]
async fn basic_alone_is_refused_once_a_user_has_a_certificate() {
    let (t, _c, _fixtures) = start_certificate_world().await;
    let resp = t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await;
    assert_refused(&resp, BAD_ROLE, "po_jednatel has a certificate");
    // The password is still checked first.
    let resp = t.soap_as((PO_LOGIN.0, "Wrong-1"), "/DS/dz", DUMMY).await;
    assert_refused(&resp, NOT_AUTHENTICATED, "wrong password");
    // Users without a certificate are not affected, even in a box that
    // has a system certificate.
    for login in [PO_ENTRUSTED_LOGIN, OVM_LOGIN] {
        let resp = t.soap_as(login, "/DS/dz", DUMMY).await;
        assert_eq!(resp.status().0, "0000", "{login:?}: {}", resp.text);
    }
    t.stop().await;
}

#[tokio::test]
async fn a_hosted_provider_acts_for_the_boxes_that_authorised_it() {
    let (t, c, _fixtures) = start_certificate_world().await;
    let resp = call(
        &t,
        Some(&c.provider),
        Some(("ovm4dem", "")),
        "/hspis/DS/dz",
        DUMMY,
    )
    .await;
    assert_dummy_ok(&resp, "authorised box");
    let resp = call(
        &t,
        Some(&c.provider),
        Some(("ovm4dem", "")),
        "/hspis/DS/DsManage",
        OWNER_INFO,
    )
    .await;
    assert_eq!(owner_box(&resp), "ovm4dem");

    let resp = call(
        &t,
        Some(&c.provider),
        Some(("po4demo", "")),
        "/hspis/DS/dz",
        DUMMY,
    )
    .await;
    assert_refused(&resp, BAD_ROLE, "box that did not authorise the provider");

    let refusals = [
        (
            Some(&c.provider),
            Some(("ovm4dem", "x")),
            "non-empty password",
        ),
        (
            Some(&c.provider),
            Some(("ovm4dem", "Demo-Ovm-2026!")),
            "a password at all",
        ),
        (Some(&c.provider), Some(("nobox00", "")), "unknown box"),
        (
            Some(&c.provider),
            Some(("ovm_starosta", "")),
            "a login, not a box",
        ),
        (Some(&c.provider), None, "no Basic"),
        (None, Some(("ovm4dem", "")), "no certificate"),
        (
            Some(&c.unregistered),
            Some(("ovm4dem", "")),
            "unregistered certificate",
        ),
    ];
    for (cert, login, what) in refusals {
        let resp = call(&t, cert, login, "/hspis/DS/dz", DUMMY).await;
        assert_refused(&resp, NOT_AUTHENTICATED, what);
    }
    let resp = call(
        &t,
        Some(&c.ovm_app),
        Some(("ovm4dem", "")),
        "/hspis/DS/dz",
        DUMMY,
    )
    .await;
    assert_refused(&resp, BAD_ROLE, "a box's own certificate on /hspis");
    t.stop().await;
}

#[tokio::test]
async fn client_ca_decides_which_issuers_are_accepted() {
    let fixtures = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "trusted client CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let ca_path = fixtures.path().join("client-ca.pem");
    std::fs::write(&ca_path, ca.pem()).unwrap();

    let leaf_key = KeyPair::generate().unwrap();
    let leaf = params("issued", now - Duration::days(1), now + Duration::days(30))
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let issued = ClientCert::from_parts(leaf, leaf_key);
    let stranger = ClientCert::valid("self-signed");
    issued.write(fixtures.path(), "issued.pem");
    stranger.write(fixtures.path(), "stranger.pem");
    let world = fixtures.path().join("world.toml");
    std::fs::write(
        &world,
        extend_demo(&[
            ("id = \"ovm4dem\"\n", "certificates = [\"issued.pem\"]\n"),
            ("id = \"po4demo\"\n", "certificates = [\"stranger.pem\"]\n"),
        ]),
    )
    .unwrap();
    let t = TestGateway::start_with(|c| {
        c.demo_world = Some(world);
        c.tls.client_ca = Some(ca_path);
    })
    .await;

    let resp = call(&t, Some(&issued), None, "/cert/DS/DsManage", OWNER_INFO).await;
    assert_eq!(owner_box(&resp), "ovm4dem");
    // Registered, but its issuer is not trusted: the handshake fails.
    let refused = client(&t, Some(&stranger))
        .post(t.https_url("/cert/DS/dz"))
        .header("content-type", "text/xml")
        .body(soap11(DUMMY))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
    // Without a certificate the connection stands; the route says 401.
    let resp = call(&t, None, None, "/cert/DS/dz", DUMMY).await;
    assert_refused(&resp, NOT_AUTHENTICATED, "no certificate");
    t.stop().await;
}

// ---------------------------------------------------------------------------
// The `cert` command

fn gateway_cmd(data: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_isds-gateway"))
        .arg("cert")
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("ISDS_GATEWAY_DATA")
        .output()
        .expect("run isds-gateway")
}

/// Runs a `cert` command that must succeed; returns its stdout. The store
/// lock of a gateway that just stopped may take a moment to go.
fn cert_ok(data: &Path, args: &[&str]) -> String {
    for _ in 0..50 {
        let out = gateway_cmd(data, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(stderr.contains("is in use"), "{args:?}: {stderr}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{args:?}: the store stayed locked");
}

async fn restart(dir: tempfile::TempDir) -> TestGateway {
    TestGateway::start_in(dir, |_| {}).await
}

async fn stop_keeping_dir(t: TestGateway) -> tempfile::TempDir {
    let TestGateway { gw, dir, .. } = t;
    gw.shutdown().await.expect("clean shutdown");
    dir
}

#[tokio::test]
async fn the_cert_command_registers_lists_and_removes_offline() {
    let t = TestGateway::start().await;
    let data = t.dir.path().join("data");
    let files = tempfile::tempdir().unwrap();
    let app = ClientCert::valid("app");
    let user = ClientCert::valid("fo user");
    let provider = ClientCert::valid("provider");
    let app_pem = app.write(files.path(), "app.pem");
    let user_pem = user.write(files.path(), "user.pem");
    let provider_pem = provider.write(files.path(), "provider.pem");

    // While the gateway runs, its store is locked: a clear refusal.
    let out = gateway_cmd(&data, &["list"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is in use") && stderr.contains("stop the gateway"),
        "{stderr}"
    );
    let dir = stop_keeping_dir(t).await;

    let out = cert_ok(
        &data,
        &[
            "register",
            "--file",
            app_pem.to_str().unwrap(),
            "--box",
            "ovm4dem",
        ],
    );
    assert!(
        out.contains(&app.sha256) && out.contains("box ovm4dem"),
        "{out}"
    );
    let out = cert_ok(
        &data,
        &[
            "register",
            "--file",
            user_pem.to_str().unwrap(),
            "--user",
            "fo_cerny",
        ],
    );
    assert!(out.contains("user fo_cerny (fopu01)"), "{out}");
    cert_ok(
        &data,
        &[
            "register",
            "--file",
            provider_pem.to_str().unwrap(),
            "--provider",
            PROVIDER,
        ],
    );
    let out = cert_ok(
        &data,
        &[
            "authorize-provider",
            "--provider-cert",
            provider_pem.to_str().unwrap(),
            "--box",
            "po4demo",
        ],
    );
    assert!(out.contains("po4demo"), "{out}");

    // Mistakes are refused with a reason.
    for (args, expected) in [
        (
            vec![
                "register",
                "--file",
                app_pem.to_str().unwrap(),
                "--box",
                "po4demo",
            ],
            "already registered (to box ovm4dem)",
        ),
        (
            vec!["register", "--file", app_pem.to_str().unwrap()],
            "--user",
        ),
        (
            vec![
                "register",
                "--file",
                files.path().join("nope.pem").to_str().unwrap(),
                "--box",
                "po4demo",
            ],
            "nope.pem",
        ),
        (
            vec![
                "register",
                "--file",
                app_pem.to_str().unwrap(),
                "--user",
                "nobody",
            ],
            "no user with login",
        ),
        (
            vec![
                "authorize-provider",
                "--provider-cert",
                app_pem.to_str().unwrap(),
                "--box",
                "po4demo",
            ],
            "not registered to a hosted provider",
        ),
        (
            vec!["remove", "--fingerprint", "abcd"],
            "invalid fingerprint",
        ),
    ] {
        let out = gateway_cmd(&data, &args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }

    let listing = cert_ok(&data, &["list"]);
    for expected in [&app.sha256, &user.sha256, &provider.sha256] {
        assert!(listing.contains(expected.as_str()), "{listing}");
    }
    assert!(
        listing.contains(&format!("provider {PROVIDER:?} authorised by box po4demo")),
        "{listing}"
    );

    let t = restart(dir).await;
    let resp = call(&t, Some(&app), None, "/cert/DS/DsManage", OWNER_INFO).await;
    assert_eq!(owner_box(&resp), "ovm4dem");
    let fo = ("fo_cerny", "Demo-Fo-2026!");
    let resp = call(&t, Some(&user), Some(fo), "/certds/DS/dz", DUMMY).await;
    assert_dummy_ok(&resp, "registered by the command");
    let resp = t.soap_as(fo, "/DS/dz", DUMMY).await;
    assert_refused(&resp, BAD_ROLE, "Basic alone after registration");
    let resp = call(
        &t,
        Some(&provider),
        Some(("po4demo", "")),
        "/hspis/DS/DsManage",
        OWNER_INFO,
    )
    .await;
    assert_eq!(owner_box(&resp), "po4demo");
    let dir = stop_keeping_dir(t).await;

    // Fingerprints as openssl prints them (upper case, colons) are fine.
    let colons = user
        .sha256
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":");
    let out = cert_ok(&data, &["remove", "--fingerprint", &colons]);
    assert!(
        out.contains("removed") && out.contains(&user.sha256),
        "{out}"
    );
    let out = gateway_cmd(&data, &["remove", "--fingerprint", &user.sha256]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is registered"),
        "not registered any more"
    );

    let t = restart(dir).await;
    let resp = t.soap_as(fo, "/DS/dz", DUMMY).await;
    assert_eq!(resp.status().0, "0000", "Basic works again: {}", resp.text);
    let resp = call(&t, Some(&user), Some(fo), "/certds/DS/dz", DUMMY).await;
    assert_refused(&resp, NOT_AUTHENTICATED, "removed certificate");
    t.stop().await;
}

/// `userPrivils` of every user of po4demo as its primary user lists them
/// (with the commercial certificate this world gives him, and his password).
async fn po_users(t: &TestGateway, c: &Certs) -> Vec<(String, String)> {
    let resp = call(
        t,
        Some(&c.po_jednatel),
        Some(PO_LOGIN),
        "/certds/DS/DsManage",
        &op("GetDataBoxUsers2", "<dbID>po4demo</dbID>"),
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let body = resp.body();
    let users = body.elements().find(|e| e.name == "dbUsers").unwrap();
    users
        .elements()
        .map(|u| {
            let item = |name: &str| {
                u.elements()
                    .find(|e| e.name == name)
                    .map(|e| e.text())
                    .unwrap_or_default()
            };
            (item("isdsID"), item("userPrivils"))
        })
        .collect()
}

#[tokio::test]
async fn software_identities_cannot_administer_users() {
    // Messages manual 1.4: "virtual" users (a box's server certificate, a
    // hosted records service) have the fixed rights 159, without
    // PRIVIL_OWNER_ADM, which every user administration needs
    // (box-management manual 2.4-2.7, 2.9, 2.10): 1004.
    use common::box_requests::{USER_INFO_EXT2, complex};
    let (t, c, _fixtures) = start_certificate_world().await;
    let entrusted = "000000poeu01";
    let before = po_users(&t, &c).await;
    assert!(before.iter().any(|(id, _)| id == entrusted), "{before:?}");
    let user2 = |privileges: &str| {
        complex(
            "dbUserInfo",
            USER_INFO_EXT2,
            &[
                ("aifoIsds", "false"),
                ("pnGivenNames", "Petr"),
                ("pnLastName", "Převzatý"),
                ("userType", "ENTRUSTED_USER"),
                ("userPrivils", privileges),
            ],
        )
    };
    let new_info = complex(
        "dbNewUserInfo",
        USER_INFO_EXT2,
        &[("aifoIsds", "false"), ("userPrivils", "255")],
    );
    let calls = |box_id: &str| {
        let id = format!("<dbID>{box_id}</dbID>");
        let who = format!("{id}<isdsID>{entrusted}</isdsID>");
        vec![
            op("AddDataBoxUser2", &format!("{id}{}", user2("255"))),
            op("UpdateDataBoxUser2", &format!("{who}{new_info}")),
            op(
                "NewAccessData2",
                &format!("{who}<dbFeePaid>true</dbFeePaid>"),
            ),
            op("DeleteDataBoxUser2", &who),
            op("GetDataBoxUsers2", &id),
            op("DisableOwnDataBox2", &id),
            op("EnableOwnDataBox2", &id),
        ]
    };
    // The box's own system certificate on /cert.
    for body in calls("po4demo") {
        let resp = call(&t, Some(&c.po_app), None, "/cert/DS/DsManage", &body).await;
        assert_eq!(resp.status, 200, "{body}: {}", resp.text);
        assert_eq!(resp.status().0, "1004", "{body}: {}", resp.text);
        assert_valid(&resp.body_xml(), Xsd::Db);
    }
    // A hosted records service on /hspis, for the box that authorised it.
    for body in calls("ovm4dem") {
        let resp = call(
            &t,
            Some(&c.provider),
            Some(("ovm4dem", "")),
            "/hspis/DS/DsManage",
            &body,
        )
        .await;
        assert_eq!(resp.status, 200, "{body}: {}", resp.text);
        assert_eq!(resp.status().0, "1004", "{body}: {}", resp.text);
    }
    // Nothing changed: the entrusted user kept its rights and its account.
    assert_eq!(po_users(&t, &c).await, before);
    let resp = t.soap_as(PO_ENTRUSTED_LOGIN, "/DS/dz", DUMMY).await;
    assert_eq!(resp.status, 200, "{}", resp.text);

    // What the manuals allow software: the message and search services.
    let resp = call(&t, Some(&c.po_app), None, "/cert/DS/dz", DUMMY).await;
    assert_dummy_ok(&resp, "system certificate, messages");
    let resp = call(
        &t,
        Some(&c.po_app),
        None,
        "/cert/DS/dx",
        &common::messages::list("GetListOfReceivedMessages"),
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let resp = call(
        &t,
        Some(&c.po_app),
        None,
        "/cert/DS/df",
        &op("CheckDataBox", "<dbID>ovm4dem</dbID>"),
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    // It reports the fixed rights 159.
    let resp = call(&t, Some(&c.po_app), None, "/cert/DS/DsManage", USER_INFO).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert!(resp.text.contains("userPrivils>159<"), "{}", resp.text);
    t.stop().await;
}
