//! NumOfMessages (isds_stat on `/DS/DsManage`): the count of delivered
//! messages, recomputed on the manual's 20-minute period, never per call.

mod common;

use std::process::Command;

use common::messages::{send_message, text_of};
use common::{ISDS_NS, OVM_LOGIN, PO_LOGIN, TestGateway, official_dir, repo_dir};

const FO_LOGIN: (&str, &str) = ("fo_cerny", "Demo-Fo-2026!");

fn num_of_messages() -> String {
    format!(r#"<NumOfMessages xmlns="{ISDS_NS}"><statType>0</statType></NumOfMessages>"#)
}

/// Validates against the project's and the official `IsdsStat.xsd`.
fn assert_valid_stat(body_xml: &str) {
    let tmp = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(tmp.path(), body_xml).expect("write");
    for schema in [
        repo_dir().join("schemas/IsdsStat.xsd"),
        official_dir().join("IsdsStat.xsd"),
    ] {
        let out = Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(&schema)
            .arg(tmp.path())
            .output()
            .expect("xmllint runs");
        assert!(
            out.status.success(),
            "{}: {}\n{body_xml}",
            schema.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

async fn stats(t: &TestGateway, login: (&str, &str)) -> (u64, String) {
    let resp = t.soap_as(login, "/DS/DsManage", &num_of_messages()).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert_valid_stat(&resp.body_xml());
    let body = resp.body();
    let count = text_of(&body, &["statResult"])
        .trim()
        .parse()
        .expect("a number");
    (count, text_of(&body, &["statTime"]))
}

#[tokio::test]
async fn num_of_messages_changes_only_on_its_period() {
    let (t, clock) = TestGateway::start_clocked().await;
    let (before, at) = stats(&t, PO_LOGIN).await;

    send_message(&t, OVM_LOGIN, "po4demo", "Statistika 1", false).await;
    send_message(&t, OVM_LOGIN, "fo4demo", "Statistika 2", false).await;
    // Within the period: the same value and the same time, for anyone.
    for login in [PO_LOGIN, OVM_LOGIN, FO_LOGIN] {
        assert_eq!(stats(&t, login).await, (before, at.clone()));
    }

    clock.advance(time::Duration::minutes(19));
    assert_eq!(stats(&t, PO_LOGIN).await, (before, at.clone()));

    clock.advance(time::Duration::minutes(1));
    let (after, later) = stats(&t, PO_LOGIN).await;
    assert_eq!(after, before + 2, "both delivered messages count");
    assert_ne!(later, at, "statTime is the new computation's");
    t.stop().await;
}
