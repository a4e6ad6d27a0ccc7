//! Recording and replaying transcripts: the repository's own transcripts
//! (`fixtures/transcripts/`) replay green against an embedded gateway; a
//! session recorded here replays green, turns red when an expected value is
//! edited, and malformed transcripts are refused whole.
//!
//! The repository's transcripts are made by the scenarios below:
//! `cargo test --test transcripts -- --ignored record_the_repos_transcripts`
//! rewrites `fixtures/transcripts/` (review the diff before committing).

mod common;
#[path = "transcripts/families.rs"]
mod families;

use std::path::{Path, PathBuf};

use base64::Engine;
use common::messages::list;
use common::*;
use isds_gateway::config::{Config, OperatorConfig};
use isds_gateway::replay::{self, ReplayOptions};

const FO_LOGIN: (&str, &str) = ("fo_cerny", "Demo-Fo-2026!");
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

fn id_body(name: &str, id: &str) -> String {
    op(name, &format!("<dmID>{id}</dmID>"))
}

fn create(recipient: &str, annotation: &str) -> String {
    let pdf = base64::engine::general_purpose::STANDARD.encode(PDF);
    op(
        "CreateMessage",
        &format!(
            r#"<dmEnvelope><dbIDRecipient>{recipient}</dbIDRecipient><dmAnnotation>{annotation}</dmAnnotation></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="invoice.pdf"><dmEncodedContent>{pdf}</dmEncodedContent></dmFile></dmFiles>"#
        ),
    )
}

fn dm_id(resp: &SoapResponse) -> String {
    resp.body()
        .elements()
        .find(|e| e.name == "dmID")
        .map(|e| e.text())
        .unwrap_or_else(|| panic!("no dmID:\n{}", resp.text))
}

/// Messages: sending, lists, downloads, delivery info, and refusals.
async fn messages(t: &TestGateway) {
    let sent = t
        .soap_as(OVM_LOGIN, "/DS/dz", &create("po4demo", "Invoice 2026/17"))
        .await;
    assert_eq!(sent.status().0, "0000", "{}", sent.text);
    let id = dm_id(&sent);
    for (who, body) in [
        (OVM_LOGIN, list("GetListOfSentMessages")),
        (PO_LOGIN, list("GetListOfReceivedMessages")),
        (PO_LOGIN, id_body("MessageEnvelopeDownload", &id)),
    ] {
        let r = t.soap_as(who, "/DS/dx", &body).await;
        assert_eq!(r.status().0, "0000", "{}", r.text);
    }
    let r = t
        .soap_as(PO_LOGIN, "/DS/dz", &id_body("MessageDownload", &id))
        .await;
    assert_eq!(r.status().0, "0000", "{}", r.text);
    for (who, body) in [
        (PO_LOGIN, id_body("MarkMessageAsDownloaded", &id)),
        (OVM_LOGIN, id_body("GetDeliveryInfo", &id)),
        (OVM_LOGIN, id_body("VerifyMessage", &id)),
    ] {
        let r = t.soap_as(who, "/DS/dx", &body).await;
        assert_eq!(r.status().0, "0000", "{}", r.text);
    }
    // Refusals: a message the user may not see, a recipient that does not
    // exist, a wrong password.
    let r = t
        .soap_as(FO_LOGIN, "/DS/dz", &id_body("MessageDownload", &id))
        .await;
    assert_ne!(r.status().0, "0000", "{}", r.text);
    let r = t
        .soap_as(OVM_LOGIN, "/DS/dz", &create("nobox00", "Nowhere"))
        .await;
    assert_ne!(r.status().0, "0000", "{}", r.text);
    let r = t
        .soap_as(
            (PO_LOGIN.0, "Wrong-Password-1"),
            "/DS/dx",
            &list("GetListOfReceivedMessages"),
        )
        .await;
    assert_eq!(r.status, 401);
}

/// Box access: owner and user info, password info and changes.
async fn box_access(t: &TestGateway) -> Vec<(String, String)> {
    let dummy = |name: &str| op(name, "<dbDummy/>");
    for name in [
        "GetOwnerInfoFromLogin",
        "GetUserInfoFromLogin",
        "GetPasswordInfo",
    ] {
        let r = t.soap_as(PO_LOGIN, "/DS/DsManage", &dummy(name)).await;
        assert_eq!(r.status().0, "0000", "{}", r.text);
    }
    let change = |old: &str, new: &str| {
        op(
            "ChangeISDSPassword",
            &format!("<dbOldPassword>{old}</dbOldPassword><dbNewPassword>{new}</dbNewPassword>"),
        )
    };
    // 4: a wrong current password; 5: a weak new one; 6: a good change.
    let r = t
        .soap_as(PO_LOGIN, "/DS/DsManage", &change("nope", "Nove-Heslo-42"))
        .await;
    assert_eq!(r.status().0, "1090", "{}", r.text);
    let r = t
        .soap_as(PO_LOGIN, "/DS/DsManage", &change(PO_LOGIN.1, "short1A"))
        .await;
    assert_eq!(r.status().0, "1066", "{}", r.text);
    let r = t
        .soap_as(
            PO_LOGIN,
            "/DS/DsManage",
            &change(PO_LOGIN.1, "Nove-Heslo-42"),
        )
        .await;
    assert_eq!(r.status().0, "0000", "{}", r.text);
    let r = t
        .soap_as(
            (PO_LOGIN.0, "Nove-Heslo-42"),
            "/DS/DsManage",
            &dummy("GetOwnerInfoFromLogin"),
        )
        .await;
    assert_eq!(r.status().0, "0000", "{}", r.text);
    vec![
        ("dbOldPassword-0004".into(), "nope".into()),
        ("dbNewPassword-0004".into(), "Nove-Heslo-42".into()),
        ("dbNewPassword-0005".into(), "short1A".into()),
        ("dbNewPassword-0006".into(), "Nove-Heslo-42".into()),
    ]
}

/// Box search: checks and full-text search.
async fn search(t: &TestGateway) {
    let check = |id: &str| op("CheckDataBox", &format!("<dbID>{id}</dbID>"));
    for (id, code) in [("po4demo", "0000"), ("nobox00", "5001")] {
        let r = t.soap_as(OVM_LOGIN, "/DS/df", &check(id)).await;
        assert_eq!(r.status().0, code, "{}", r.text);
    }
    let r = t
        .soap_as(
            OVM_LOGIN,
            "/DS/df",
            &op(
                "ISDSSearch2",
                r#"<searchText>Brno</searchText><searchType xsi:nil="true"/><searchScope xsi:nil="true"/><page xsi:nil="true"/><pageSize xsi:nil="true"/>"#,
            ),
        )
        .await;
    assert_eq!(r.status().0, "0000", "{}", r.text);
}

const FAULT_RULES: &str = r#"# Scripted faults of the "faults" transcript.
[[faults]]
name = "maintenance-once"
operation = "GetOwnerInfoFromLogin"
action = "maintenance"
times = 1

[[faults]]
name = "busy-once"
operation = "GetOwnerInfoFromLogin"
action = "status"
code = "1214"
message = "The system is busy, try again later"
times = 1

[[faults]]
name = "drop-once"
operation = "MessageDownload"
when = "dmID = '2222'"
action = "drop"
times = 1
"#;

/// Scripted faults: a maintenance page, a status, a dropped connection,
/// each once, then normal answers.
async fn faults(t: &TestGateway) {
    let owner = op("GetOwnerInfoFromLogin", "<dbDummy/>");
    let r = t.soap_as(OVM_LOGIN, "/DS/DsManage", &owner).await;
    assert_eq!(r.status, 503);
    let r = t.soap_as(OVM_LOGIN, "/DS/DsManage", &owner).await;
    assert_eq!(r.status().0, "1214");
    let r = t.soap_as(OVM_LOGIN, "/DS/DsManage", &owner).await;
    assert_eq!(r.status().0, "0000");
    let down = id_body("MessageDownload", "2222");
    let dropped = t
        .http
        .post(t.http_url("/DS/dz"))
        .header("authorization", basic(OVM_LOGIN.0, OVM_LOGIN.1))
        .header("content-type", "text/xml; charset=utf-8")
        .body(soap11(&down))
        .send()
        .await;
    assert!(dropped.is_err());
    let r = t.soap_as(OVM_LOGIN, "/DS/dz", &down).await;
    assert_eq!(r.status, 200);
}

/// The gateway operator of the recordings (a made-up test account).
const OPERATOR: (&str, &str) = ("provozovatel", "Operator-Heslo-2026");

/// Fiction on the test clock: a message waits, the operator moves the clock
/// eleven days, the message is accepted by fiction (EV2).
async fn lifecycle(t: &TestGateway) {
    let sent = t
        .soap_as(OVM_LOGIN, "/DS/dz", &create("fo4demo", "Výzva k doplnění"))
        .await;
    assert_eq!(sent.status().0, "0000", "{}", sent.text);
    let id = dm_id(&sent);
    let info = id_body("GetDeliveryInfo", &id);
    let r = t.soap_as(OVM_LOGIN, "/DS/dx", &info).await;
    assert_eq!(r.status().0, "0000", "{}", r.text);
    let moved = t
        .http
        .post(t.http_url("/admin/clock"))
        .header("authorization", basic(OPERATOR.0, OPERATOR.1))
        .header("content-type", "application/json")
        .body(r#"{"advance": "11d"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    let r = t.soap_as(OVM_LOGIN, "/DS/dx", &info).await;
    assert!(r.text.contains("EV2"), "{}", r.text);
    let r = t
        .soap_as(OVM_LOGIN, "/DS/dx", &list("GetListOfSentMessages"))
        .await;
    assert_eq!(r.status().0, "0000", "{}", r.text);
}

/// Records one scenario into `dir` (which must not hold a recording).
async fn record(name: &str, dir: &Path) {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("faults.toml");
    let with_faults = name == "faults";
    if with_faults {
        std::fs::write(&rules, FAULT_RULES).unwrap();
    }
    let mut config = Config::ephemeral(tmp.path().join("data"));
    config.record = Some(dir.to_owned());
    config.tls_listen = None;
    if with_faults {
        config.fixtures.push(rules.clone());
    }
    // The lifecycle scenario moves the clock: test mode, with an operator.
    config.test_clock = name == "lifecycle";
    config.operator = Some(OperatorConfig {
        login: OPERATOR.0.into(),
        password: OPERATOR.1.into(),
    });
    let t = TestGateway {
        gw: isds_gateway::http::start(config)
            .await
            .expect("gateway starts"),
        dir: tmp,
        http: reqwest::Client::new(),
        https: reqwest::Client::new(),
    };
    let mut secrets = Vec::new();
    let mut rules = Vec::new();
    match name {
        "messages" => messages(&t).await,
        "box-access" => secrets = box_access(&t).await,
        "search" => search(&t).await,
        "faults" => faults(&t).await,
        "lifecycle" => lifecycle(&t).await,
        "dm-operations" => rules = families::dm_operations(&t).await,
        "dm-info" => rules = families::dm_info(&t).await,
        "db-access" => families::db_access(&t).await,
        "db-manipulations" => rules = families::db_manipulations(&t).await,
        "db-search" => families::db_search(&t).await,
        other => panic!("no scenario {other}"),
    }
    t.stop().await;
    families::rewrite(dir, &rules);
    if !secrets.is_empty() {
        let mut text = String::from(
            "# Values of the secrets the recording masked (made-up test passwords).\n[secrets]\n",
        );
        for (k, v) in secrets {
            text.push_str(&format!("{k:?} = {v:?}\n"));
        }
        std::fs::write(dir.join("credentials.toml"), text).unwrap();
    }
    if ["lifecycle", "db-access", "db-manipulations"].contains(&name) {
        let role = if name == "lifecycle" {
            "who moves the clock"
        } else {
            "who administers boxes"
        };
        let text = format!(
            "# The gateway operator {role} (a made-up test account).\n[operator]\nlogin = {:?}\npassword = {:?}\n",
            OPERATOR.0, OPERATOR.1
        );
        std::fs::write(dir.join("credentials.toml"), text).unwrap();
    }
    if with_faults {
        // The rules travel with the transcript, by a relative path.
        std::fs::write(dir.join("faults.toml"), FAULT_RULES).unwrap();
        let manifest = dir.join("transcript.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with("fixtures = ") {
                    "fixtures = [\"faults.toml\"]".to_owned()
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&manifest, text + "\n").unwrap();
    }
}

const SCENARIOS: &[&str] = &[
    "messages",
    "box-access",
    "search",
    "faults",
    "lifecycle",
    "dm-operations",
    "dm-info",
    "db-access",
    "db-manipulations",
    "db-search",
];

fn transcripts_dir() -> PathBuf {
    repo_dir().join("fixtures").join("transcripts")
}

#[tokio::test]
async fn the_repos_transcripts_replay_green() {
    let dir = transcripts_dir();
    for name in SCENARIOS {
        let path = dir.join(name);
        assert!(path.is_dir(), "missing transcript {}", path.display());
        let started = std::time::Instant::now();
        let report = replay::run(&path, &ReplayOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(report.ok(), "{}", report.render());
        assert!(report.results.len() >= 3, "{}", report.render());
        // A figure for the README (not asserted).
        println!(
            "{name}: {} exchanges replayed in {:.2} s",
            report.results.len(),
            started.elapsed().as_secs_f64()
        );
    }
}

#[tokio::test]
async fn a_recorded_session_replays_green_and_an_edited_value_turns_it_red() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("session");
    record("messages", &dir).await;

    // No password was written anywhere.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for (_, pw) in [OVM_LOGIN, PO_LOGIN, FO_LOGIN] {
            assert!(!text.contains(pw));
        }
        assert!(!text.contains("Wrong-Password-1"));
        assert!(!text.to_ascii_lowercase().contains("authorization"));
    }
    let meta = std::fs::read_to_string(dir.join("0001-meta.toml")).unwrap();
    assert!(meta.contains("operation = \"CreateMessage\""), "{meta}");
    assert!(meta.contains("login = \"ovm_starosta\""), "{meta}");
    assert!(meta.contains("http_status = 200"), "{meta}");
    let first = std::fs::read_to_string(dir.join("0001-response.xml")).unwrap();
    assert!(first.contains("{{capture:dmID_1}}"), "{first}");
    let download = std::fs::read_to_string(dir.join("0005-request.xml")).unwrap();
    assert!(download.contains("<dmID>{{dmID_1}}</dmID>"), "{download}");

    let junit = tmp.path().join("junit.xml");
    let options = ReplayOptions {
        against: None,
        junit: Some(junit.clone()),
    };
    let report = replay::run(&dir, &options).await.unwrap();
    assert!(report.ok(), "{}", report.render());
    assert_eq!(report.results.len(), 11, "{}", report.render());
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"tests="11" failures="0""#), "{xml}");

    // Edit one expected value: the replay fails, naming the element.
    let path = dir.join("0005-response.xml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("Invoice 2026/17"), "{text}");
    std::fs::write(&path, text.replace("Invoice 2026/17", "Invoice 2026/18")).unwrap();
    let report = replay::run(&dir, &options).await.unwrap();
    assert!(!report.ok());
    assert_eq!(report.failed(), 1, "{}", report.render());
    let failed = report.results.iter().find(|r| !r.passed()).unwrap();
    assert_eq!(failed.number, 5);
    assert_eq!(failed.mismatches.len(), 1, "{}", report.render());
    let m = &failed.mismatches[0];
    assert!(m.path.ends_with("/dmDm/dmAnnotation"), "{}", m.path);
    assert!(
        m.path
            .starts_with("/Envelope/Body/MessageDownloadResponse/"),
        "{}",
        m.path
    );
    assert_eq!(m.expected, "\"Invoice 2026/18\"");
    assert_eq!(m.actual, "\"Invoice 2026/17\"");
    let text = report.render();
    assert!(text.contains("FAIL  0005 MessageDownload"), "{text}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"failures="1""#), "{xml}");
    assert!(xml.contains("dmAnnotation"), "{xml}");
}

#[tokio::test]
async fn passwords_in_bodies_are_never_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("session");
    record("box-access", &dir).await;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "credentials.toml") {
            continue; // written by the test driver, not by the recorder
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in [PO_LOGIN.1, "Nove-Heslo-42", "short1A", ">nope<"] {
            assert!(!text.contains(secret), "{secret} in {}", path.display());
        }
    }
    let change = std::fs::read_to_string(dir.join("0006-request.xml")).unwrap();
    assert!(
        change.contains("<dbOldPassword>{{secret:password}}</dbOldPassword>"),
        "{change}"
    );
    assert!(
        change.contains("<dbNewPassword>{{secret:dbNewPassword-0006}}</dbNewPassword>"),
        "{change}"
    );
    let wrong = std::fs::read_to_string(dir.join("0004-request.xml")).unwrap();
    assert!(wrong.contains("{{secret:dbOldPassword-0004}}"), "{wrong}");
    // And the replay, given the secrets, acts the changes out again.
    let report = replay::run(&dir, &ReplayOptions::default()).await.unwrap();
    assert!(report.ok(), "{}", report.render());
}

#[tokio::test]
async fn large_attachments_are_left_out_of_recordings() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("session");
    let mut config = Config::ephemeral(tmp.path().join("data"));
    config.record = Some(dir.clone());
    config.tls_listen = None;
    let t = TestGateway {
        gw: isds_gateway::http::start(config)
            .await
            .expect("gateway starts"),
        dir: tempfile::tempdir().unwrap(),
        http: reqwest::Client::new(),
        https: reqwest::Client::new(),
    };
    let mut big = PDF.to_vec();
    big.resize(1536 * 1024, b' ');
    let pdf = base64::engine::general_purpose::STANDARD.encode(&big);
    let body = op(
        "CreateMessage",
        &format!(
            r#"<dmEnvelope><dbIDRecipient>po4demo</dbIDRecipient><dmAnnotation>Big</dmAnnotation></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="big.pdf"><dmEncodedContent>{pdf}</dmEncodedContent></dmFile></dmFiles>"#
        ),
    );
    let r = t.soap_as(OVM_LOGIN, "/DS/dz", &body).await;
    assert_eq!(r.status().0, "0000", "{}", r.text);
    let id = dm_id(&r);
    // The listing delivers it (exchange 2); then it downloads (3).
    let r = t
        .soap_as(PO_LOGIN, "/DS/dx", &list("GetListOfReceivedMessages"))
        .await;
    assert_eq!(r.status().0, "0000");
    let r = t
        .soap_as(PO_LOGIN, "/DS/dz", &id_body("MessageDownload", &id))
        .await;
    assert_eq!(r.status().0, "0000");
    t.stop().await;

    let request = std::fs::metadata(dir.join("0001-request.xml"))
        .unwrap()
        .len();
    let response = std::fs::metadata(dir.join("0003-response.xml"))
        .unwrap()
        .len();
    assert!(request < 8192 && response < 8192, "{request} {response}");
    let text = std::fs::read_to_string(dir.join("0003-response.xml")).unwrap();
    assert!(
        text.contains(&format!("{{{{omitted:{} bytes}}}}", pdf.len())),
        "{text}"
    );
    // Such a request cannot be sent again: the transcript is refused whole.
    let e = err(&dir).await;
    assert!(
        e.contains("0001-request.xml") && e.contains("too large"),
        "{e}"
    );
}

#[tokio::test]
async fn a_replay_against_a_running_gateway_uses_its_address() {
    let t = TestGateway::start().await;
    let report = replay::run(
        &transcripts_dir().join("search"),
        &ReplayOptions {
            against: Some(format!("http://{}", t.gw.http_addr)),
            junit: None,
        },
    )
    .await
    .unwrap();
    assert!(report.ok(), "{}", report.render());
    assert!(report.target.contains(&t.gw.http_addr.to_string()));
    t.stop().await;
}

#[tokio::test]
async fn malformed_transcripts_are_refused_before_anything_is_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = |name: &str| -> PathBuf {
        let dst = tmp.path().join(name);
        std::fs::create_dir_all(&dst).unwrap();
        for e in std::fs::read_dir(transcripts_dir().join("search")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
        dst
    };

    let d = copy("bad-xml");
    std::fs::write(
        d.join("0002-request.xml"),
        "<?xml version=\"1.0\"?>\n<a>\n  <b>\n</a>\n",
    )
    .unwrap();
    let e = err(&d).await;
    assert!(e.contains("0002-request.xml, line"), "{e}");

    let d = copy("bad-meta");
    std::fs::write(
        d.join("0003-meta.toml"),
        "endpoint = \"/DS/df\"\nhttp_status = \"x\"\n",
    )
    .unwrap();
    let e = err(&d).await;
    assert!(e.contains("0003-meta.toml, line 2"), "{e}");

    let d = copy("bad-manifest");
    std::fs::write(d.join("transcript.toml"), "start = \"yesterday\"\n").unwrap();
    let e = err(&d).await;
    assert!(
        e.contains("transcript.toml") && e.contains("yesterday"),
        "{e}"
    );

    let d = copy("no-response");
    std::fs::remove_file(d.join("0001-response.xml")).unwrap();
    let e = err(&d).await;
    assert!(e.contains("0001-response.xml"), "{e}");

    let e = err(tmp.path()).await;
    assert!(e.contains("no transcript.toml"), "{e}");
}

async fn err(dir: &Path) -> String {
    match replay::run(dir, &ReplayOptions::default()).await {
        Ok(r) => panic!("accepted:\n{}", r.render()),
        Err(e) => e.to_string(),
    }
}

/// Rewrites `fixtures/transcripts/` from the scenarios above, then replays
/// them.
#[tokio::test]
#[ignore = "rewrites fixtures/transcripts; run on purpose and review the diff"]
async fn record_the_repos_transcripts() {
    let root = transcripts_dir();
    // `TRANSCRIPTS=dm-info,db-search` re-records only those.
    let only = std::env::var("TRANSCRIPTS").unwrap_or_default();
    for name in SCENARIOS {
        if !only.is_empty() && !only.split(',').any(|o| o.trim() == *name) {
            continue;
        }
        let dir = root.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        record(name, &dir).await;
        let report = replay::run(&dir, &ReplayOptions::default()).await.unwrap();
        assert!(report.ok(), "{}", report.render());
    }
}

/// Operations of `OPERATIONS` no shipped transcript needs to hold, each with
/// the reason.
const NOT_IN_TRANSCRIPTS: &[(&str, &str)] = &[
    // dm_VoDZ (big messages): no scenario records them yet; a big message
    // needs 18 MB of documents, too much for a shipped transcript.
    // tests/vodz.rs and tests/interop/test_vodz.py cover them.
    ("UploadAttachment", VODZ_NOT_RECORDED),
    ("DownloadAttachment", VODZ_NOT_RECORDED),
    ("CreateBigMessage", VODZ_NOT_RECORDED),
    ("AuthenticateBigMessage", VODZ_NOT_RECORDED),
    ("SignedBigMessageDownload", VODZ_NOT_RECORDED),
    ("SignedSentBigMessageDownload", VODZ_NOT_RECORDED),
    ("BigMessageDownload", VODZ_NOT_RECORDED),
];

const VODZ_NOT_RECORDED: &str =
    "a big message needs 18 MB of documents; covered by tests/vodz.rs instead";

/// Implemented operations whose transcripts show only refusals, each with
/// the reason.
const NO_SUCCESS_IN_TRANSCRIPTS: &[(&str, &str)] = &[
    (
        "EraseMessage",
        "erases only messages in long-term storage, which the demo world has none of",
    ),
    (
        "RegisterForNotifications",
        "for applications logged in with a certificate; replay speaks HTTP Basic only",
    ),
    (
        "GetListForNotifications",
        "for applications logged in with a certificate; replay speaks HTTP Basic only",
    ),
];

/// The operations named by the exchanges of the shipped transcripts, and
/// those of them with a successful exchange (HTTP 200, no fault, status
/// 0000 when the answer has a status).
fn operations_in_transcripts() -> (
    std::collections::BTreeSet<String>,
    std::collections::BTreeSet<String>,
) {
    let mut seen = std::collections::BTreeSet::new();
    let mut succeeded = std::collections::BTreeSet::new();
    for name in SCENARIOS {
        let dir = transcripts_dir().join(name);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().ends_with("-meta.toml") {
                continue;
            }
            let meta: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
            let Some(op) = meta.get("operation").and_then(|v| v.as_str()) else {
                continue;
            };
            seen.insert(op.to_owned());
            let response = PathBuf::from(
                path.to_string_lossy()
                    .replace("-meta.toml", "-response.xml"),
            );
            let text = std::fs::read_to_string(&response).unwrap_or_default();
            let ok = meta.get("http_status").and_then(|v| v.as_integer()) == Some(200)
                && !text.contains(":Fault>")
                && (!text.contains("StatusCode>") || text.contains("StatusCode>0000<"));
            if ok {
                succeeded.insert(op.to_owned());
            }
        }
    }
    (seen, succeeded)
}

#[test]
fn every_implemented_operation_is_in_a_shipped_transcript() {
    let (seen, succeeded) = operations_in_transcripts();
    let missing: Vec<&str> = isds_gateway::schema::OPERATIONS
        .iter()
        .map(|op| op.name)
        .filter(|name| !NOT_IN_TRANSCRIPTS.iter().any(|(n, _)| n == name))
        .filter(|name| !seen.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "operations in no transcript of fixtures/transcripts (add them to a scenario and re-record): {missing:?}"
    );
    // The exclusions stay honest: each names an operation of the table
    // that no transcript holds.
    for (name, _) in NOT_IN_TRANSCRIPTS {
        assert!(
            isds_gateway::schema::OPERATIONS
                .iter()
                .any(|op| op.name == *name),
            "{name} is no operation"
        );
        assert!(!seen.contains(*name), "{name} is excluded but recorded");
    }
    let without_success: Vec<&String> = seen
        .iter()
        .filter(|op| !succeeded.contains(*op))
        .filter(|op| !NO_SUCCESS_IN_TRANSCRIPTS.iter().any(|(n, _)| n == op))
        .collect();
    assert!(
        without_success.is_empty(),
        "operations with no successful exchange in the transcripts: {without_success:?}"
    );
    for (name, _) in NO_SUCCESS_IN_TRANSCRIPTS {
        assert!(seen.contains(*name), "{name}: no refusal recorded either");
        assert!(
            !succeeded.contains(*name),
            "{name} succeeds now: drop the exclusion"
        );
    }
    // Every transcript directory is a scenario (and so replayed in CI).
    for entry in std::fs::read_dir(transcripts_dir()).unwrap() {
        let entry = entry.unwrap();
        if entry.path().is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(SCENARIOS.contains(&name.as_str()), "{name} is no scenario");
        }
    }
}
