//! ISDS's host layout (`serve --isds-domain`): clients that address
//! `ws1`, `ws1c`, `ws2`, `ws2c` and `www` under an ISDS domain reach the
//! gateway unchanged. The host names resolve to loopback inside the HTTP
//! client (nothing touches the machine's hosts file); the server
//! certificate covers them; each path is answered only on its host.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::*;
use isds_gateway::config::OperatorConfig;
use isds_gateway::domain::clock::SystemClock;
use reqwest::redirect::Policy;

const DOMAIN: &str = "datovka-test.gov.cz";
const OLD_DOMAIN: &str = "czebox.cz";
const HOSTS: [&str; 5] = ["ws1", "ws1c", "ws2", "ws2c", "www"];
const DUMMY: &str = r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#;
const OWNER_INFO: &str = r#"<GetOwnerInfoFromLogin xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetOwnerInfoFromLogin>"#;

const BASIC: (&str, &str) = ("host_basic", "Host-Basic-2026!");
const CERTDS: (&str, &str) = ("host_certds", "Host-Certds-2026!");
const HOTP: (&str, &str) = ("host_otp", "Host-Otp-2026!");
/// RFC 4226 Appendix D, counter 0, for the RFC's test key.
const HOTP_FIRST_CODE: &str = "755224";
const MEP: (&str, &str) = ("host_mep", "Kod-Host-0001");

/// A client certificate and its key, PEM.
struct ClientCert {
    cert_pem: String,
    key_pem: String,
}

impl ClientCert {
    fn new(cn: &str) -> Self {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).expect("certificate params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(365);
        let cert = params.self_signed(&key).expect("certificate");
        Self {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

struct World {
    t: TestGateway,
    box_cert: ClientCert,
    user_cert: ClientCert,
}

fn world_text() -> String {
    format!(
        r#"
[[boxes]]
id = "hostovm"
type = "OVM"
certificates = ["box.pem"]
[boxes.owner]
firm_name = "Úřad hostitelský"
ic = "00000003"
[[boxes.users]]
id = "hbasic"
login = "{}"
password = "{}"
type = "PRIMARY_USER"
[[boxes.users]]
id = "hcerts"
login = "{}"
password = "{}"
type = "ENTRUSTED_USER"
certificates = ["user.pem"]
[[boxes.users]]
id = "hotpus"
login = "{}"
password = "{}"
type = "ENTRUSTED_USER"
otp = {{ kind = "hotp", secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" }}
[[boxes.users]]
id = "hmepus"
login = "{}"
password = "Host-Mep-2026!"
type = "ENTRUSTED_USER"
mobile_key = {{ code = "{}", confirm_after = "0s" }}
"#,
        BASIC.0, BASIC.1, CERTDS.0, CERTDS.1, HOTP.0, HOTP.1, MEP.0, MEP.1
    )
}

async fn start() -> World {
    let dir = tempfile::tempdir().expect("temp dir");
    let box_cert = ClientCert::new("hostovm spisová služba");
    let user_cert = ClientCert::new("host certds user");
    std::fs::write(dir.path().join("box.pem"), &box_cert.cert_pem).unwrap();
    std::fs::write(dir.path().join("user.pem"), &user_cert.cert_pem).unwrap();
    let world = dir.path().join("world.toml");
    std::fs::write(&world, world_text()).unwrap();
    let t = TestGateway::start_full(
        dir,
        |cfg| {
            cfg.demo_world = Some(world);
            cfg.isds_domain = vec![DOMAIN.into(), OLD_DOMAIN.into()];
            cfg.operator = Some(OperatorConfig {
                login: "provozovatel".into(),
                password: "Provoz-Heslo-2026!".into(),
            });
        },
        Arc::new(SystemClock),
    )
    .await;
    World {
        t,
        box_cert,
        user_cert,
    }
}

/// A client that resolves every ISDS host name of both domains to the
/// gateway's loopback address, trusts the gateway's CA only, presents
/// `cert` if given and follows no redirects.
fn client(t: &TestGateway, cert: Option<&ClientCert>) -> reqwest::Client {
    let ca = std::fs::read(t.gw.ca_cert_path.as_ref().expect("local CA")).expect("CA file");
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA PEM"))
        .redirect(Policy::none());
    for domain in [DOMAIN, OLD_DOMAIN] {
        for host in HOSTS {
            // The port comes from the URL; the address only names loopback.
            builder = builder.resolve(
                &format!("{host}.{domain}"),
                SocketAddr::from(([127, 0, 0, 1], 0)),
            );
        }
    }
    if let Some(c) = cert {
        let pem = format!("{}{}", c.cert_pem, c.key_pem);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).expect("identity"));
    }
    builder.build().expect("client")
}

/// `https://HOST.DOMAIN:PORT/PATH` on the gateway's HTTPS port.
fn https(t: &TestGateway, host: &str, domain: &str, path: &str) -> String {
    let port = t.gw.https_addr.expect("https").port();
    format!("https://{host}.{domain}:{port}{path}")
}

/// `http://HOST.DOMAIN:PORT/PATH` on the gateway's plain port.
fn http(t: &TestGateway, host: &str, path: &str) -> String {
    format!("http://{host}.{DOMAIN}:{}{path}", t.gw.http_addr.port())
}

async fn soap(
    c: &reqwest::Client,
    url: &str,
    login: Option<(&str, &str)>,
    cookie: Option<&str>,
    body: &str,
) -> SoapResponse {
    let mut req = c.post(url);
    if let Some((l, p)) = login {
        req = req.header("authorization", basic(l, p));
    }
    if let Some(s) = cookie {
        req = req.header("cookie", format!("IPCZ-X-COOKIE={s}"));
    }
    send(req, soap11(body), "text/xml; charset=utf-8").await
}

fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(n, v)| *n == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

#[tokio::test]
async fn clients_reach_every_service_on_its_isds_host() {
    let w = start().await;
    let t = &w.t;
    let plain = client(t, None);

    // Password logins on ws1, under both domains.
    for domain in [DOMAIN, OLD_DOMAIN] {
        let resp = soap(
            &plain,
            &https(t, "ws1", domain, "/DS/dz"),
            Some(BASIC),
            None,
            DUMMY,
        )
        .await;
        assert_eq!(resp.status().0, "0000", "{domain}: {}", resp.text);
    }
    for wrong in ["ws1c", "ws2", "www"] {
        let resp = soap(
            &plain,
            &https(t, wrong, DOMAIN, "/DS/dz"),
            Some(BASIC),
            None,
            DUMMY,
        )
        .await;
        assert_eq!(resp.status, 404, "{wrong}");
    }

    // Certificate logins on ws1c.
    let with_box = client(t, Some(&w.box_cert));
    let resp = soap(
        &with_box,
        &https(t, "ws1c", DOMAIN, "/cert/DS/DsManage"),
        None,
        None,
        OWNER_INFO,
    )
    .await;
    assert!(resp.text.contains("hostovm"), "{}", resp.text);
    let resp = soap(
        &with_box,
        &https(t, "ws1", DOMAIN, "/cert/DS/DsManage"),
        None,
        None,
        OWNER_INFO,
    )
    .await;
    assert_eq!(resp.status, 404);
    let with_user = client(t, Some(&w.user_cert));
    let resp = soap(
        &with_user,
        &https(t, "ws1c", DOMAIN, "/certds/DS/dz"),
        Some(CERTDS),
        None,
        DUMMY,
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);

    // The big-message endpoint on ws2 (its operations answer from there;
    // the routing is what is proved here), not on ws1.
    let req = plain
        .post(https(t, "ws2", DOMAIN, "/DS/vodz"))
        .header("authorization", basic(BASIC.0, BASIC.1));
    let resp = send(
        req,
        soap12(r#"<UploadAttachment xmlns="http://isds.czechpoint.cz/v20"/>"#),
        "application/soap+xml; charset=utf-8",
    )
    .await;
    assert_ne!(resp.status, 404, "{}", resp.text);
    assert!(resp.text.contains("Envelope"), "{}", resp.text);
    let resp = soap(
        &plain,
        &https(t, "ws1", DOMAIN, "/DS/vodz"),
        Some(BASIC),
        None,
        DUMMY,
    )
    .await;
    assert_eq!(resp.status, 404);

    // HOTP on www, then the cookie session on www's /apps/DS/.
    let target = https(t, "www", DOMAIN, "/apps/DS/dz");
    let login = format!("/as/processLogin?type=hotp&uri={target}");
    let wrong_host = plain
        .post(https(t, "ws1", DOMAIN, &login))
        .header(
            "authorization",
            basic(HOTP.0, &format!("{}{HOTP_FIRST_CODE}", HOTP.1)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_host.status(), 404);
    let resp = plain
        .post(https(t, "www", DOMAIN, &login))
        .header(
            "authorization",
            basic(HOTP.0, &format!("{}{HOTP_FIRST_CODE}", HOTP.1)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302, "{resp:?}");
    assert_eq!(resp.headers()["location"], target.as_str());
    let session = set_cookie(&resp, "IPCZ-X-COOKIE").expect("session cookie");
    let resp = soap(&plain, &target, None, Some(&session), DUMMY).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let resp = soap(
        &plain,
        &https(t, "ws1", DOMAIN, "/apps/DS/dz"),
        None,
        Some(&session),
        DUMMY,
    )
    .await;
    assert_eq!(resp.status, 404);

    // Mobile Key on www: request, poll, confirm (the fixture's phone
    // confirms at once), session.
    let login = format!("/as/processLogin?type=mep-ws&applicationName=Interop&uri={target}");
    let resp = plain
        .post(https(t, "www", DOMAIN, &login))
        .header("authorization", basic(MEP.0, MEP.1))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302, "{resp:?}");
    let state_url = https(t, "www", DOMAIN, "/as/mepWsStateUpdate");
    assert_eq!(resp.headers()["location"], state_url.as_str());
    let request = set_cookie(&resp, "S-COOKIE").expect("request cookie");
    let poll = plain
        .get(format!("{state_url}2"))
        .header("cookie", format!("S-COOKIE={request}"))
        .send()
        .await
        .unwrap();
    assert!(poll.text().await.unwrap().contains("\"status\":2"));
    let wrong_poll = plain
        .get(https(t, "ws1", DOMAIN, "/as/mepWsStateUpdate"))
        .header("cookie", format!("S-COOKIE={request}"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_poll.status(), 404);
    let resp = plain
        .post(https(t, "www", DOMAIN, &login))
        .header("authorization", basic(MEP.0, MEP.1))
        .header("cookie", format!("S-COOKIE={request}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302, "{resp:?}");
    let session = set_cookie(&resp, "IPCZ-X-COOKIE").expect("session cookie");
    let resp = soap(
        &plain,
        &https(t, "www", DOMAIN, "/apps/DS/DsManage"),
        None,
        Some(&session),
        OWNER_INFO,
    )
    .await;
    assert!(resp.text.contains("hostovm"), "{}", resp.text);

    // The plain layout still answers on the address itself.
    let resp = t.soap_as(BASIC, "/DS/dz", DUMMY).await;
    assert_eq!(resp.status().0, "0000");
}

#[tokio::test]
async fn served_wsdls_address_the_isds_host_names() {
    let w = start().await;
    let t = &w.t;
    let c = client(t, None);
    let get = |url: String| {
        let c = c.clone();
        async move {
            let resp = c.get(url).send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let port = t.gw.https_addr.unwrap().port();
    let (status, text) = get(https(t, "ws2", DOMAIN, "/DS/vodz?wsdl")).await;
    assert_eq!(status, 200);
    assert!(
        text.contains(&format!("https://ws2.{DOMAIN}:{port}/DS/vodz")),
        "{text}"
    );
    let (status, text) = get(https(t, "ws1c", OLD_DOMAIN, "/cert/DS/dz?wsdl")).await;
    assert_eq!(status, 200);
    assert!(
        text.contains(&format!("https://ws1c.{OLD_DOMAIN}:{port}/cert/DS/dz")),
        "{text}"
    );
    // A WSDL fetched by name from any host names its service's host.
    let (status, text) = get(https(t, "www", DOMAIN, "/wsdl/dm_VoDZ.wsdl")).await;
    assert_eq!(status, 200);
    assert!(
        text.contains(&format!("https://ws2.{DOMAIN}:{port}/DS/vodz")),
        "{text}"
    );
    let (status, _) = get(https(t, "ws1", DOMAIN, "/DS/vodz?wsdl")).await;
    assert_eq!(status, 404);
}

/// Which host answers `prefix/DS/endpoint`, as ISDS lays them out
/// (WS_manipulace_s_datovymi_zpravami 1.2.1, Info pro vývojáře 2022/1 3.2).
fn expected_host(prefix: &str, endpoint: &str) -> Option<&'static str> {
    let big = matches!(endpoint, "vodz" | "arch");
    match prefix {
        "" => Some(if big { "ws2" } else { "ws1" }),
        "/cert" | "/certds" | "/hspis" => Some(if big { "ws2c" } else { "ws1c" }),
        "/apps" => Some("www"),
        // /hssu is ws1c's, but the gateway does not serve it.
        _ => None,
    }
}

#[tokio::test]
async fn each_host_answers_only_its_prefixes_and_endpoints() {
    let w = start().await;
    let t = &w.t;
    let c = client(t, None);
    let prefixes = ["", "/cert", "/certds", "/hspis", "/hssu", "/apps"];
    let endpoints = ["dz", "dx", "df", "DsManage", "vodz", "arch"];
    let mut wrong = Vec::new();
    for host in HOSTS {
        for prefix in prefixes {
            for endpoint in endpoints {
                let path = format!("{prefix}/DS/{endpoint}?wsdl");
                let status = c.get(http(t, host, &path)).send().await.unwrap().status();
                let want = if expected_host(prefix, endpoint) == Some(host) {
                    200
                } else {
                    404
                };
                if status.as_u16() != want {
                    wrong.push(format!("{host} {path}: {status}, want {want}"));
                }
            }
        }
        for (path, method) in [
            ("/as/processLogin?type=hotp&uri=/apps/DS/dz", "POST"),
            ("/as/processLogout", "GET"),
            ("/as/mepWsStateUpdate", "GET"),
            ("/as/mepWsStateUpdate2", "GET"),
            ("/asws/changePassword", "POST"),
        ] {
            let url = http(t, host, path);
            let req = if method == "POST" {
                c.post(url)
            } else {
                c.get(url)
            };
            let status = req.send().await.unwrap().status().as_u16();
            // www answers (a login refused, a state, or -- for a service
            // the gateway lacks -- 404 as well); every other host is 404.
            if host != "www" && status != 404 {
                wrong.push(format!("{host} {path}: {status}, want 404"));
            }
            if host == "www" && path.starts_with("/as/") && status == 404 {
                wrong.push(format!("{host} {path}: 404"));
            }
        }
        let status = c
            .get(http(t, host, "/health"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "{host} /health");
    }
    // A name under the domain that ISDS does not use answers nothing.
    let c2 = reqwest::Client::builder()
        .resolve(
            &format!("ws3.{DOMAIN}"),
            SocketAddr::from(([127, 0, 0, 1], 0)),
        )
        .build()
        .unwrap();
    let url = format!("http://ws3.{DOMAIN}:{}/DS/dz?wsdl", t.gw.http_addr.port());
    assert_eq!(c2.get(url).send().await.unwrap().status(), 404);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
