//! The web inspector in a real browser: headless Chromium driven through
//! WebDriver (chromedriver) with fantoccini. One scenario walks the
//! tester's day: log in, find a box, open a message sent over SOAP in the
//! same test, move the clock ten days and see the fiction on the timeline,
//! switch a fault rule on and see a SOAP call hit it, and see an advisory
//! after a badly windowed polling loop. A second scenario answers a Mobile
//! Key login on the simulated phone page, sees the communication codes
//! masked on the box page, and replays the recording from the traffic
//! page. Every page is checked for
//! accessibility basics (labelled controls, one h1, every control reached
//! by Tab) and saved as a screenshot under the target directory.
//!
//! `tests/run.sh` installs Debian's `chromium` and `chromium-driver`;
//! without them the test says so loudly and skips, except under CI,
//! where it fails.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::messages::{b64, call, pdf_bytes, text_of};
use common::{ISDS_NS, OVM_LOGIN, PO_LOGIN, TestGateway, op};
use fantoccini::{Client, ClientBuilder, Locator};
use isds_gateway::config::{Config, OperatorConfig};
use isds_gateway::domain::clock::TestClock;

const OPERATOR: (&str, &str) = ("operator", "Operator-Test-2026!");

/// chromedriver, killed when the test ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names
        .iter()
        .flat_map(|n| std::env::split_paths(&path).map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

async fn start_browser(data: &std::path::Path) -> Option<(Driver, Client)> {
    let (Some(driver), Some(chromium)) = (
        find_program(&["chromedriver"]),
        find_program(&["chromium", "chromium-browser"]),
    ) else {
        let message = "chromium and chromedriver are not installed (tests/run.sh installs \
                       Debian's chromium and chromium-driver)";
        if std::env::var_os("CI").is_some() {
            panic!("{message}: the browser tests cannot run");
        }
        eprintln!("\n!!!!!!!!\n!!! SKIPPED the inspector's browser test: {message}\n!!!!!!!!\n");
        return None;
    };
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let profile = data.join("chromium-profile");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    // chromedriver takes a moment to listen.
    for attempt in 0..50 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return Some((driver, client)),
            Err(e) if attempt == 49 => panic!("cannot start a Chromium session: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    None
}

fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cockpit-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

/// Checks the page's accessibility basics and keeps a screenshot.
async fn check_page(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(screenshots_dir().join(format!("{name}.png")), png).expect("screenshot saved");
    let report = c
        .execute(
            r#"
            const controls = [...document.querySelectorAll('input, select, textarea')]
              .filter(e => e.type !== 'hidden');
            const unlabelled = controls.filter(e =>
              !(e.id && document.querySelector('label[for="' + e.id + '"]')) &&
              !e.getAttribute('aria-label') && !e.closest('label'))
              .map(e => e.outerHTML.slice(0, 120));
            const buttons = [...document.querySelectorAll('button')]
              .filter(b => !(b.textContent.trim() || b.getAttribute('aria-label')))
              .map(b => b.outerHTML.slice(0, 120));
            const svgs = [...document.querySelectorAll('svg')]
              .filter(s => !s.querySelector('title'))
              .map(s => s.id);
            return { h1: document.querySelectorAll('h1').length, unlabelled, buttons, svgs,
                     lang: document.documentElement.lang };
            "#,
            vec![],
        )
        .await
        .expect("accessibility script");
    assert_eq!(report["h1"], 1, "{name}: one h1 per page: {report}");
    assert_eq!(
        report["unlabelled"],
        serde_json::json!([]),
        "{name}: {report}"
    );
    assert_eq!(report["buttons"], serde_json::json!([]), "{name}: {report}");
    assert_eq!(report["svgs"], serde_json::json!([]), "{name}: {report}");
    assert_eq!(report["lang"], "en", "{name}");
    keyboard_reaches_every_control(c, name).await;
}

/// Pressing Tab from the top of the page visits every link, button and
/// form control.
async fn keyboard_reaches_every_control(c: &Client, name: &str) {
    let total = c
        .execute(
            r#"
            document.querySelectorAll('a[href], button:not([disabled]), input, select, textarea').forEach((e, i) => {
              if (e.type !== 'hidden') e.setAttribute('data-tab-probe', String(i));
            });
            if (document.activeElement) document.activeElement.blur();
            return document.querySelectorAll('[data-tab-probe]').length;
            "#,
            vec![],
        )
        .await
        .expect("probe script")
        .as_u64()
        .expect("a count");
    let mut seen = std::collections::HashSet::new();
    let tab = String::from(char::from(fantoccini::key::Key::Tab));
    // Date inputs take a Tab per field (day, month, year), so allow more
    // presses than controls, stopping once all were reached.
    for _ in 0..(total * 4 + 4) {
        if seen.len() as u64 == total {
            break;
        }
        let active = c.active_element().await.expect("active element");
        active.send_keys(&tab).await.expect("Tab pressed");
        let probe = c
            .execute(
                "return document.activeElement && document.activeElement.getAttribute('data-tab-probe');",
                vec![],
            )
            .await
            .expect("focus read");
        if let Some(p) = probe.as_str() {
            seen.insert(p.to_owned());
        }
    }
    assert_eq!(
        seen.len() as u64,
        total,
        "{name}: Tab reached {} of {total} controls",
        seen.len()
    );
}

/// Clicks `el` and waits until the page it leads to has loaded (a click
/// returns before the navigation, and forms answer with a redirect).
async fn click_and_load(c: &Client, el: fantoccini::elements::Element) {
    c.execute("window.__stale = true;", vec![])
        .await
        .expect("mark the page");
    el.click().await.expect("clicked");
    for _ in 0..200 {
        let fresh = c
            .execute(
                "return window.__stale === undefined && document.readyState === 'complete';",
                vec![],
            )
            .await;
        if matches!(fresh, Ok(serde_json::Value::Bool(true))) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the click led to no new page within 10 s");
}

async fn page_text(c: &Client) -> String {
    c.find(Locator::Css("main"))
        .await
        .expect("main")
        .text()
        .await
        .expect("text")
}

/// A CreateMessage that allows delivery by fiction.
fn create_message(recipient: &str, annotation: &str) -> String {
    format!(
        r#"<CreateMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>{recipient}</dbIDRecipient><dmAnnotation>{annotation}</dmAnnotation><dmPersonalDelivery>false</dmPersonalDelivery><dmAllowSubstDelivery>true</dmAllowSubstDelivery></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="vyzva.pdf"><dmEncodedContent>{pdf}</dmEncodedContent></dmFile></dmFiles></CreateMessage>"#,
        pdf = b64(&pdf_bytes()),
    )
}

/// A list of received messages in the window `[from, to]`.
fn received_window(from: &str, to: &str) -> String {
    op(
        "GetListOfReceivedMessages",
        &format!(
            r#"<dmFromTime>{from}</dmFromTime><dmToTime>{to}</dmToTime><dmRecipientOrgUnitNum xsi:nil="true"/><dmStatusFilter>-1</dmStatusFilter><dmOffset>1</dmOffset><dmLimit>100</dmLimit>"#
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tester_walks_the_inspector_in_a_real_browser() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("faults.toml");
    std::fs::write(
        &rules,
        r#"
[[faults]]
name = "busy-owner-info"
operation = "GetOwnerInfoFromLogin"
action = "status"
code = "1214"
message = "Server busy, try again"
enabled = false
"#,
    )
    .expect("rules written");
    let Some((_driver, c)) = start_browser(dir.path()).await else {
        return;
    };
    let clock = TestClock::new();
    let mut config = Config::ephemeral(dir.path().join("data"));
    config.tls_listen = None;
    config.fault_rules.push(rules);
    config.operator = Some(OperatorConfig {
        login: OPERATOR.0.into(),
        password: OPERATOR.1.into(),
    });
    let gw = isds_gateway::http::start_with_test_clock(config, Arc::clone(&clock))
        .await
        .expect("gateway starts");
    let t = TestGateway {
        gw,
        dir,
        http: reqwest::Client::new(),
        https: reqwest::Client::new(),
    };
    let ui = |p: &str| t.http_url(p);

    // A message sent over SOAP in this test.
    let resp = call(
        &t,
        OVM_LOGIN,
        "/DS/dz",
        &create_message("po4demo", "Výzva k doplnění podání"),
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let dm_id = text_of(&resp.body(), &["dmID"]);

    // Log in.
    c.goto(&ui("/ui/")).await.expect("goto");
    assert!(
        c.current_url()
            .await
            .expect("url")
            .path()
            .ends_with("/ui/login")
    );
    check_page(&c, "01-login").await;
    c.find(Locator::Id("login"))
        .await
        .expect("login field")
        .send_keys(OPERATOR.0)
        .await
        .expect("typed");
    c.find(Locator::Id("password"))
        .await
        .expect("password field")
        .send_keys(OPERATOR.1)
        .await
        .expect("typed");
    click_and_load(
        &c,
        c.find(Locator::Css("button[type=submit]"))
            .await
            .expect("submit"),
    )
    .await;
    assert!(page_text(&c).await.contains("Boxes"));

    // Find the recipient's box by name and open it.
    let q = c.find(Locator::Id("q")).await.expect("search field");
    q.send_keys("po4demo").await.expect("typed");
    click_and_load(
        &c,
        c.find(Locator::Css("form[role=search] button"))
            .await
            .expect("search button"),
    )
    .await;
    check_page(&c, "02-boxes").await;
    click_and_load(
        &c,
        c.find(Locator::LinkText("po4demo"))
            .await
            .expect("the box is found"),
    )
    .await;
    let text = page_text(&c).await;
    assert!(text.contains("po_jednatel"), "{text}");
    assert!(text.contains("send messages and read sent ones"), "{text}");
    check_page(&c, "03-box").await;

    // The received messages of the box list the message; open it.
    click_and_load(
        &c,
        c.find(Locator::LinkText("Received messages"))
            .await
            .expect("link"),
    )
    .await;
    check_page(&c, "04-messages").await;
    click_and_load(
        &c,
        c.find(Locator::LinkText(&dm_id))
            .await
            .expect("the sent message is listed"),
    )
    .await;
    let timeline = c
        .find(Locator::Id("timeline"))
        .await
        .expect("timeline")
        .html(false)
        .await
        .expect("svg");
    assert!(timeline.contains("submitted"), "{timeline}");
    assert!(!timeline.contains("accepted by fiction"), "{timeline}");
    let stamp = c
        .find(Locator::Id("timestamp-check"))
        .await
        .expect("stamp check")
        .text()
        .await
        .expect("text");
    assert!(stamp.starts_with("valid"), "{stamp}");
    check_page(&c, "05-message").await;

    // Ten days later the message is accepted by fiction.
    c.goto(&ui("/ui/time")).await.expect("goto");
    check_page(&c, "06-time").await;
    click_and_load(
        &c,
        c.find(Locator::Css("button[name=advance][value='864000']"))
            .await
            .expect("+10 days"),
    )
    .await;
    // The move answers with a redirect: wait for the page it leads to.
    let fell = c
        .wait()
        .at_most(std::time::Duration::from_secs(10))
        .for_element(Locator::Id("fell-due"))
        .await
        .expect("what fell due")
        .text()
        .await
        .expect("text");
    assert!(
        fell.contains(&dm_id) && fell.contains("accepted by fiction"),
        "{fell}"
    );
    check_page(&c, "07-time-moved").await;
    c.goto(&ui(&format!("/ui/message/{dm_id}")))
        .await
        .expect("goto");
    let timeline = c
        .find(Locator::Id("timeline"))
        .await
        .expect("timeline")
        .html(false)
        .await
        .expect("svg");
    assert!(timeline.contains("accepted by fiction"), "{timeline}");
    check_page(&c, "08-message-after-fiction").await;

    // Switch the fault rule on; a SOAP call hits it.
    c.goto(&ui("/ui/faults")).await.expect("goto");
    check_page(&c, "09-faults").await;
    click_and_load(
        &c,
        c.find(Locator::Css(
            "button[aria-label='Switch on busy-owner-info']",
        ))
        .await
        .expect("switch"),
    )
    .await;
    // The switch answers with a redirect to the page that shows it on.
    c.wait()
        .at_most(std::time::Duration::from_secs(10))
        .for_element(Locator::Css(
            "button[aria-label='Switch off busy-owner-info']",
        ))
        .await
        .expect("the rule is on");
    let owner_info = op("GetOwnerInfoFromLogin", "<dbDummy></dbDummy>");
    let resp = t.soap_as(OVM_LOGIN, "/DS/DsManage", &owner_info).await;
    assert_eq!(resp.status().0, "1214", "{}", resp.text);
    c.refresh().await.expect("reload");
    let hits = c
        .find(Locator::Css("td[data-hits='busy-owner-info']"))
        .await
        .expect("hits")
        .text()
        .await
        .expect("text");
    assert_eq!(hits, "1");

    // A polling loop whose windows leave gaps.
    for (from, to) in [
        ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"),
        ("2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z"),
        ("2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z"),
    ] {
        let resp = call(&t, PO_LOGIN, "/DS/dx", &received_window(from, to)).await;
        assert_eq!(resp.status().0, "0000", "{}", resp.text);
    }
    c.goto(&ui("/ui/advice")).await.expect("goto");
    let gap = c
        .find(Locator::Css("section[data-kind=list_window_gap]"))
        .await
        .expect("the gap advisory is shown")
        .text()
        .await
        .expect("text");
    assert!(gap.contains("(2×)"), "{gap}");
    assert!(gap.contains("po_jednatel"), "{gap}");
    assert!(gap.contains("2.7.1"), "{gap}");
    check_page(&c, "10-advice").await;

    // The traffic shows the exchanges, newest first, without passwords.
    c.goto(&ui("/ui/traffic")).await.expect("goto");
    let text = page_text(&c).await;
    assert!(text.contains("GetListOfReceivedMessages"), "{text}");
    assert!(!text.contains(PO_LOGIN.1), "a password is shown");
    check_page(&c, "11-traffic").await;
    click_and_load(
        &c,
        c.find(Locator::Css("tbody a"))
            .await
            .expect("newest exchange"),
    )
    .await;
    let text = page_text(&c).await;
    assert!(text.contains("dmFromTime"), "{text}");
    assert!(!text.contains(PO_LOGIN.1));
    check_page(&c, "12-exchange").await;

    c.goto(&ui("/ui/charts")).await.expect("goto");
    let chart = c
        .find(Locator::Id("states-chart"))
        .await
        .expect("chart")
        .html(false)
        .await
        .expect("svg");
    assert!(chart.contains("accepted_by_fiction"), "{chart}");
    check_page(&c, "13-charts").await;

    c.close().await.expect("browser closed");
    t.stop().await;
}

/// A person with Mobile Key accounts in two boxes, added to the demo world.
const MOBILE_KEY_WORLD: &str = r#"
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
mobile_key = {}
"#;
const MEP_OBEC: (&str, &str) = ("novak_obec", "Kod-Obec-0001");
/// The demo world's TOTP secret (of `po_otp` in po4demo).
const DEMO_OTP_SECRET: &str = "WBCMXKWZSVBKYATEZC2JDZH7HI5XTHCF";

/// A Mobile Key login POST (MobilniKlic_autentizace 2.1.2, 2.1.5): 302,
/// and the cookie the answer sets (`S-COOKIE` on the first POST,
/// `IPCZ-X-COOKIE` on the second).
async fn mep_post(t: &TestGateway, request_cookie: Option<&str>, wanted: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let url = t.http_url(&format!(
        "/as/processLogin?type=mep-ws&applicationName=Spisovka&uri={}",
        t.http_url("/apps/DS/dz")
    ));
    let mut req = client
        .post(url)
        .header("authorization", common::basic(MEP_OBEC.0, MEP_OBEC.1));
    if let Some(c) = request_cookie {
        req = req.header("cookie", format!("S-COOKIE={c}"));
    }
    let resp = req.send().await.expect("login POST");
    assert_eq!(resp.status(), 302, "{resp:?}");
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(n, v)| *n == wanted && !v.is_empty())
        .map(|(_, v)| v.to_owned())
        .unwrap_or_else(|| panic!("{wanted} set: {resp:?}"))
}

async fn log_in(c: &Client, t: &TestGateway) {
    c.goto(&t.http_url("/ui/login")).await.expect("goto");
    for (id, text) in [("login", OPERATOR.0), ("password", OPERATOR.1)] {
        c.find(Locator::Id(id))
            .await
            .expect("login form")
            .send_keys(text)
            .await
            .expect("typed");
    }
    click_and_load(
        c,
        c.find(Locator::Css("button[type=submit]"))
            .await
            .expect("submit"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tester_answers_the_mobile_key_phone_and_replays_the_recording() {
    let dir = tempfile::tempdir().expect("temp dir");
    let world = dir.path().join("mobile-key.toml");
    std::fs::write(&world, MOBILE_KEY_WORLD).expect("world written");
    let Some((_driver, c)) = start_browser(dir.path()).await else {
        return;
    };
    let clock = TestClock::new();
    let mut config = Config::ephemeral(dir.path().join("data"));
    config.tls_listen = None;
    config.fixtures.push(world);
    config.record = Some(dir.path().join("recording"));
    config.operator = Some(OperatorConfig {
        login: OPERATOR.0.into(),
        password: OPERATOR.1.into(),
    });
    let gw = isds_gateway::http::start_with_test_clock(config, Arc::clone(&clock))
        .await
        .expect("gateway starts");
    let t = TestGateway {
        gw,
        dir,
        http: reqwest::Client::new(),
        https: reqwest::Client::new(),
    };

    // Two exchanges to record.
    let owner_info = op("GetOwnerInfoFromLogin", "<dbDummy></dbDummy>");
    let resp = t.soap_as(OVM_LOGIN, "/DS/DsManage", &owner_info).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let dummy = op("DummyOperation", "");
    let resp = t.soap_as(PO_LOGIN, "/DS/dz", &dummy).await;
    assert_eq!(resp.status, 200, "{}", resp.text);

    log_in(&c, &t).await;

    // Communication codes are masked: the Mobile Key code is kept only as
    // a hash, the OTP secret is never shown.
    c.goto(&t.http_url("/ui/box/mepobec")).await.expect("goto");
    let codes = c
        .find(Locator::Css("tr[data-user=novak1] td.codes"))
        .await
        .expect("codes of novak1")
        .text()
        .await
        .expect("text");
    assert_eq!(
        codes,
        "Mobile Key (key jan-novak): ******** (set; only its hash is kept)"
    );
    assert!(!page_text(&c).await.contains(MEP_OBEC.1));
    check_page(&c, "20-box-mobile-key-codes").await;
    c.goto(&t.http_url("/ui/box/po4demo")).await.expect("goto");
    let codes = c
        .find(Locator::Css("tr[data-user=pootp1] td.codes"))
        .await
        .expect("codes of pootp1")
        .text()
        .await
        .expect("text");
    assert_eq!(codes, "TOTP secret: ******** (160 bits)");
    let text = page_text(&c).await;
    assert!(!text.contains(DEMO_OTP_SECRET), "{text}");
    assert!(!text.contains(&DEMO_OTP_SECRET[28..]), "{text}");

    // The recording, newest first, and one recorded exchange.
    c.goto(&t.http_url("/ui/traffic")).await.expect("goto");
    let recorded = c
        .find(Locator::Id("recorded"))
        .await
        .expect("the recorded exchanges")
        .text()
        .await
        .expect("text");
    let owner_row = recorded
        .lines()
        .find(|l| l.contains("GetOwnerInfoFromLogin"))
        .unwrap_or_else(|| panic!("{recorded}"));
    assert!(
        owner_row.starts_with("0001") && owner_row.contains(OVM_LOGIN.0),
        "{recorded}"
    );
    assert!(!recorded.contains(OVM_LOGIN.1));
    check_page(&c, "21-traffic-recording").await;
    click_and_load(
        &c,
        c.find(Locator::LinkText("0001"))
            .await
            .expect("link to 0001"),
    )
    .await;
    let text = page_text(&c).await;
    assert!(text.contains("0001-request.xml"), "{text}");
    assert!(text.contains("GetOwnerInfoFromLogin"), "{text}");
    assert!(text.contains("dbID"), "{text}");
    check_page(&c, "22-recorded-exchange").await;

    // Replay the recording so far; the report appears when it is done.
    c.goto(&t.http_url("/ui/traffic")).await.expect("goto");
    click_and_load(
        &c,
        c.find(Locator::Css("form[action='/ui/traffic/replay'] button"))
            .await
            .expect("replay button"),
    )
    .await;
    let mut report = None;
    for _ in 0..240 {
        if let Ok(section) = c.find(Locator::Css("section.replay-report")).await {
            report = Some(section.text().await.expect("text"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        c.refresh().await.expect("reload");
    }
    let report = report.expect("a replay report within two minutes");
    assert!(
        report.contains("2 exchanges: 2 passed, 0 failed"),
        "{report}"
    );
    assert!(report.contains("GetOwnerInfoFromLogin"), "{report}");
    check_page(&c, "23-replay-report").await;

    // A Mobile Key login waits for the phone; the phone page shows it with
    // the account, and confirming it lets the login finish.
    let request_cookie = mep_post(&t, None, "S-COOKIE").await;
    c.goto(&t.http_url("/ui/mobile-key")).await.expect("goto");
    let row = c
        .find(Locator::Css("#pending tbody tr"))
        .await
        .expect("the request is pending")
        .text()
        .await
        .expect("text");
    for part in [
        "Spisovka",
        "novak1",
        "Administrátor",
        "Obec Testov",
        "OVM",
        "mepobec",
    ] {
        assert!(row.contains(part), "{part} in {row}");
    }
    let accounts = c
        .find(Locator::Css("section[data-key=jan-novak]"))
        .await
        .expect("the key")
        .text()
        .await
        .expect("text");
    for part in [
        "Jan Novák",
        "novak1",
        "novak2",
        "Pověřená osoba",
        "Novák a syn s.r.o.",
        "PO",
        "mepfirm",
        "not generated yet",
    ] {
        assert!(accounts.contains(part), "{part} in {accounts}");
    }
    assert!(!page_text(&c).await.contains(MEP_OBEC.1));
    check_page(&c, "24-mobile-key").await;

    // Finishing before the phone answered is refused.
    let early = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(t.http_url(&format!(
            "/as/processLogin?type=mep-ws&applicationName=Spisovka&uri={}",
            t.http_url("/apps/DS/dz")
        )))
        .header("authorization", common::basic(MEP_OBEC.0, MEP_OBEC.1))
        .header("cookie", format!("S-COOKIE={request_cookie}"))
        .send()
        .await
        .expect("early POST");
    assert_eq!(early.status(), 401);

    click_and_load(
        &c,
        c.find(Locator::Css("button[aria-label^='Confirm request']"))
            .await
            .expect("confirm button"),
    )
    .await;
    let answered = c
        .find(Locator::Id("answered"))
        .await
        .expect("the answer is reported")
        .text()
        .await
        .expect("text");
    assert!(answered.ends_with("confirmed."), "{answered}");
    c.find(Locator::Id("no-requests"))
        .await
        .expect("nothing waits any more");
    check_page(&c, "25-mobile-key-confirmed").await;

    let session = mep_post(&t, Some(&request_cookie), "IPCZ-X-COOKIE").await;
    let req = t
        .http
        .post(t.http_url("/apps/DS/dz"))
        .header("cookie", format!("IPCZ-X-COOKIE={session}"));
    let resp = common::send(req, common::soap11(&dummy), "text/xml; charset=utf-8").await;
    assert_eq!(resp.status, 200, "{}", resp.text);

    c.close().await.expect("browser closed");
    t.stop().await;
}
