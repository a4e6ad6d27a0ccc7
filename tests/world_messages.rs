//! Messages declared in world fixtures: listed, downloaded and aged like
//! sent ones; malformed ones refused whole, naming the line.

mod common;

use std::sync::Arc;

use base64::Engine;
use common::messages::{descendants, list, texts};
use common::*;
use isds_gateway::domain::clock::TestClock;

const INVOICE: &[u8] = b"%PDF-1.4\n% fixture invoice\n%%EOF\n";

const FIXTURE: &str = r#"
[[messages]]
from = "ovm4dem"
to = "po4demo"
annotation = "Unread invoice"
submitted = "2026-02-27T09:00:00Z"
sender_ref_number = "OVM-17/2026"
[[messages.documents]]
file = "docs/invoice.pdf"
[[messages.documents]]
text = "Payment by 31 March."
name = "note.txt"

[[messages]]
from = "ovm4dem"
to = "po4demo"
annotation = "Personal summons"
personal_delivery = true
submitted = "2026-02-28T09:00:00Z"
[[messages.documents]]
text = "Come in person."

[[messages]]
from = "ovm4dem"
to = "po4demo"
annotation = "Old notice"
state = "accepted_by_fiction"
submitted = "2026-02-10T08:00:00Z"
[[messages.documents]]
text = "An old notice."

[[messages]]
from = "ovm4dem"
to = "fo4demo"
annotation = "To a citizen"
submitted = "2026-02-25T12:00:00Z"
[[messages.documents]]
text = "Dear citizen."

[[messages]]
from = "po4demo"
to = "ovm4dem"
annotation = "Read reply"
state = "read"
author = "po_ucetni"
submitted = "2026-02-20T10:00:00Z"
accepted = "2026-02-21T10:00:00Z"
[[messages.documents]]
text = "Our reply."
"#;

/// (dmID, annotation, state) of a list answer's records.
fn records(resp: &SoapResponse) -> Vec<(String, String, String)> {
    let mut recs = Vec::new();
    let body = resp.body();
    descendants(&body, "dmRecord", &mut recs);
    recs.into_iter()
        .map(|r| {
            let t = |n: &str| texts(r, n).into_iter().next().unwrap_or_default();
            (t("dmID"), t("dmAnnotation"), t("dmMessageStatus"))
        })
        .collect()
}

async fn start() -> (TestGateway, Arc<TestClock>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("docs")).unwrap();
    std::fs::write(dir.path().join("docs/invoice.pdf"), INVOICE).unwrap();
    let fixture = dir.path().join("messages.toml");
    std::fs::write(&fixture, FIXTURE).unwrap();
    let clock = TestClock::new();
    clock.set(time::macros::datetime!(2026-03-01 10:00 UTC));
    let t = TestGateway::start_full(dir, |cfg| cfg.fixtures.push(fixture), clock.clone()).await;
    (t, clock)
}

#[tokio::test]
async fn fixture_messages_list_download_and_age_like_sent_ones() {
    let (t, clock) = start().await;

    // The sender sees what it "sent", in the state the fixture gave.
    let sent = t
        .soap_as(OVM_LOGIN, "/DS/dx", &list("GetListOfSentMessages"))
        .await;
    assert_eq!(sent.status().0, "0000", "{}", sent.text);
    assert_valid(&sent.body_xml(), Xsd::Dm);
    let sent = records(&sent);
    let annotations: Vec<&str> = sent.iter().map(|r| r.1.as_str()).collect();
    for a in [
        "Unread invoice",
        "Personal summons",
        "Old notice",
        "To a citizen",
    ] {
        assert!(annotations.contains(&a), "{annotations:?}");
    }
    let state_of = |recs: &[(String, String, String)], a: &str| {
        recs.iter().find(|r| r.1 == a).map(|r| r.2.clone()).unwrap()
    };
    assert_eq!(state_of(&sent, "Unread invoice"), "4");
    assert_eq!(state_of(&sent, "Old notice"), "5");
    let citizen = sent
        .iter()
        .find(|r| r.1 == "To a citizen")
        .unwrap()
        .0
        .clone();
    let invoice = sent
        .iter()
        .find(|r| r.1 == "Unread invoice")
        .unwrap()
        .0
        .clone();

    // The recipient's box holds three messages; the primary user's listing
    // delivers them, the one accepted by fiction too (messages manual
    // 2.7.1: states 4 and 5 become 6).
    let received = t
        .soap_as(PO_LOGIN, "/DS/dx", &list("GetListOfReceivedMessages"))
        .await;
    assert_valid(&received.body_xml(), Xsd::Dm);
    let received = records(&received);
    assert_eq!(received.len(), 3, "{received:?}");
    assert_eq!(state_of(&received, "Old notice"), "6");
    assert_eq!(state_of(&received, "Unread invoice"), "6");

    // The documents come from the files next to the fixture.
    let resp = t
        .soap_as(
            PO_LOGIN,
            "/DS/dz",
            &op("MessageDownload", &format!("<dmID>{invoice}</dmID>")),
        )
        .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Dm);
    let body = resp.body();
    let contents = texts(&body, "dmEncodedContent");
    let decode = |s: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .unwrap()
    };
    assert_eq!(decode(&contents[0]), INVOICE);
    assert_eq!(decode(&contents[1]), b"Payment by 31 March.");
    assert_eq!(texts(&body, "dmSenderRefNumber"), ["OVM-17/2026"]);
    let mut files = Vec::new();
    descendants(&body, "dmFile", &mut files);
    assert_eq!(files[0].attr("dmMimeType"), Some("application/pdf"));
    assert_eq!(files[0].attr("dmFileDescr"), Some("invoice.pdf"));
    assert_eq!(files[1].attr("dmFileMetaType"), Some("enclosure"));

    // The message to the citizen waits for fiction like any delivered one:
    // ten days after 25 February.
    let info = op("GetDeliveryInfo", &format!("<dmID>{citizen}</dmID>"));
    let resp = t.soap_as(OVM_LOGIN, "/DS/dx", &info).await;
    assert_valid(&resp.body_xml(), Xsd::Dm);
    assert_eq!(texts(&resp.body(), "dmMessageStatus"), ["4"]);
    clock.advance(time::Duration::days(7));
    let resp = t.soap_as(OVM_LOGIN, "/DS/dx", &info).await;
    let body = resp.body();
    assert_eq!(texts(&body, "dmMessageStatus"), ["5"], "{}", resp.text);
    assert!(
        texts(&body, "dmEventDescr")
            .iter()
            .any(|d| d.starts_with("EV2")),
        "{}",
        resp.text
    );
    assert_eq!(
        texts(&body, "dmAcceptanceTime")
            .first()
            // 12:00 UTC in Czech winter time.
            .map(|s| s.starts_with("2026-03-07T13:00:00.000+01:00")),
        Some(true),
        "{}",
        resp.text
    );
    t.stop().await;
}

#[tokio::test]
async fn a_malformed_fixture_message_is_refused_by_line_and_nothing_is_loaded() {
    for (fixture, line, needle) in [
        (
            "[[boxes]]\nid = \"newbox1\"\ntype = \"PO\"\n\n[[messages]]\nfrom = \"ovm4dem\"\nto = \"nobox00\"\n[[messages.documents]]\ntext = \"x\"\n",
            5,
            "recipient box nobox00 does not exist",
        ),
        (
            "[[boxes]]\nid = \"newbox1\"\ntype = \"PO\"\n\n[[messages]]\nfrom = \"ovm4dem\"\nto = \"newbox1\"\n[[messages.documents]]\nfile = \"missing.pdf\"\n",
            5,
            "missing.pdf",
        ),
        (
            "[[boxes]]\nid = \"newbox1\"\ntype = \"PO\"\n\n[[messages]]\nfrom = \"ovm4dem\"\nto = \"newbox1\"\nstate = \"lost\"\n[[messages.documents]]\ntext = \"x\"\n",
            5,
            "unknown state",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, fixture).unwrap();
        let mut config = isds_gateway::config::Config::ephemeral(dir.path().join("data"));
        config.fixtures.push(path);
        let err = match isds_gateway::http::start(config).await {
            Ok(_) => panic!("accepted {fixture}"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(&format!("bad.toml: line {line}")), "{err}");
        assert!(err.contains(needle), "{err}");

        // The box of the refused fixture was not stored either.
        let t = TestGateway::start_in(dir, |_| {}).await;
        let resp = t
            .soap_as(
                OVM_LOGIN,
                "/DS/df",
                &op("CheckDataBox", "<dbID>newbox1</dbID>"),
            )
            .await;
        assert_eq!(resp.status().0, "5001", "{}", resp.text);
        t.stop().await;
    }
}

#[tokio::test]
async fn the_example_fixture_gives_the_company_three_unread_messages() {
    let example = repo_dir().join("fixtures").join("example-messages.toml");
    let clock = TestClock::new();
    clock.set(time::macros::datetime!(2026-03-01 10:00 UTC));
    let dir = tempfile::tempdir().unwrap();
    let t = TestGateway::start_full(dir, |cfg| cfg.fixtures.push(example), clock).await;
    // The entrusted user may not read personal deliveries, so the list of
    // the primary user is the full one.
    let resp = t
        .soap_as(PO_LOGIN, "/DS/dx", &list("GetListOfReceivedMessages"))
        .await;
    assert_valid(&resp.body_xml(), Xsd::Dm);
    let recs = records(&resp);
    assert_eq!(recs.len(), 3, "{recs:?}");
    // The listing delivered all three (the one accepted by fiction too);
    // none is read yet.
    assert!(recs.iter().all(|r| r.2 == "6"), "{recs:?}");
    let body = resp.body();
    assert_eq!(
        texts(&body, "dmPersonalDelivery")
            .iter()
            .filter(|v| *v == "true")
            .count(),
        1
    );
    t.stop().await;
}
