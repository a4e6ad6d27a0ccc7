//! What a newcomer meets first: fixtures that never go stale (relative
//! times, a test clock that starts where asked and survives restarts,
//! idempotent fixture loads) and start-up and command-line messages that
//! name the flag or file at fault and say what to do, with nothing created
//! before a start-up failure.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use common::messages::{list, texts};
use common::{OVM_LOGIN, TestGateway, repo_dir};

const OPERATOR: (&str, &str) = ("operator", "Operator-Heslo-2026!");

fn gateway() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_isds-gateway"));
    for var in [
        "ISDS_GATEWAY_DATA",
        "ISDS_GATEWAY_CONFIG",
        "ISDS_GATEWAY_LISTEN",
        "ISDS_GATEWAY_TLS_LISTEN",
        "ISDS_GATEWAY_OPERATOR",
    ] {
        c.env_remove(var);
    }
    c
}

fn run(args: &[&str]) -> Output {
    gateway().args(args).output().expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `serve` on free ports that must fail at start; returns its output.
fn serve_fails(data: &Path, extra: &[&str]) -> Output {
    let data = data.display().to_string();
    let mut args = vec![
        "serve",
        "--data",
        &data,
        "--listen",
        "127.0.0.1:0",
        "--tls-listen",
        "off",
    ];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(!out.status.success(), "serve must fail: {}", stderr(&out));
    out
}

#[test]
fn a_missing_fixture_file_names_the_flag_and_nothing_is_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    for flag in ["--fixtures", "--demo-world"] {
        let out = serve_fails(&data, &[flag, "no-such-world.toml"]);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{flag} no-such-world.toml: cannot read the file")),
            "{err}"
        );
        assert!(!err.contains("fault rules"), "{err}");
        assert!(!data.exists(), "nothing may be created before the failure");
    }
}

#[test]
fn a_typo_in_a_fixture_is_reported_as_the_fixtures_not_the_demo_world() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = dir.path().join("typo.toml");
    std::fs::write(&fixture, "[[boxes]]\nid = \"typo001\"\ntpye = \"PO\"\n").expect("write");
    let out = serve_fails(
        &dir.path().join("data"),
        &["--fixtures", &fixture.display().to_string()],
    );
    let err = stderr(&out);
    assert!(err.contains("isds-gateway: --fixtures: "), "{err}");
    assert!(err.contains("typo.toml"), "{err}");
    assert!(err.contains("tpye"), "{err}");
    assert!(!err.contains("demo world:"), "{err}");
    assert!(
        !dir.path().join("data").exists(),
        "a broken fixture fails the start before anything is created"
    );
}

#[test]
fn a_port_in_use_names_the_flag_and_creates_nothing() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let out = run(&[
        "serve",
        "--data",
        &data.display().to_string(),
        "--listen",
        &addr,
        "--tls-listen",
        "off",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(err.contains("--listen ADDR"), "{err}");
    assert!(
        !data.exists(),
        "the data directory is created only after binding"
    );

    let out = run(&[
        "serve",
        "--data",
        &data.display().to_string(),
        "--listen",
        "127.0.0.1:0",
        "--tls-listen",
        &addr,
    ]);
    let err = stderr(&out);
    assert!(err.contains("--tls-listen ADDR"), "{err}");
    assert!(!data.exists(), "no CA or store before binding");
}

#[tokio::test]
async fn a_second_serve_on_a_busy_data_directory_says_what_to_do() {
    let t = TestGateway::serve_on(tempfile::tempdir().expect("dir"), OPERATOR, |_| {}).await;
    let data = t.dir.path().join("data");
    let out = tokio::task::spawn_blocking(move || serve_fails(&data, &[]))
        .await
        .expect("join");
    let err = stderr(&out);
    assert!(err.contains("is in use by another process"), "{err}");
    assert!(err.contains("--data DIR"), "{err}");
    t.stop().await;
}

#[tokio::test]
async fn an_unknown_wsdl_choice_lists_the_valid_ones() {
    let t = TestGateway::start().await;
    let resp = reqwest::get(t.http_url("/DS/DsManage?wsdl=bogus"))
        .await
        .expect("GET");
    assert_eq!(resp.status(), 404);
    let body = resp.text().await.expect("body");
    assert!(body.contains("\"bogus\""), "{body}");
    for choice in ["?wsdl=db_access", "?wsdl=db_manipulations"] {
        assert!(body.contains(choice), "{body}");
    }
    t.stop().await;
}

#[test]
fn box_commands_need_owner_names_and_speak_in_words() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data").display().to_string();
    let demo = repo_dir()
        .join("fixtures/demo-world.toml")
        .display()
        .to_string();
    let init = run(&["fixtures", "load", &demo, "--data", &data, "--init"]);
    assert!(init.status.success(), "{}", stderr(&init));
    let before = stdout(&run(&["box", "list", "--data", &data]));

    let out = run(&["box", "create", "--type", "PO", "--data", &data]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--firm-name NAME"),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "box",
        "create",
        "--type",
        "FO",
        "--last-name",
        "Nová",
        "--data",
        &data,
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--first-name NAME"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        stdout(&run(&["box", "list", "--data", &data])),
        before,
        "a refused create writes nothing"
    );

    // The box ID is positional, as in `box show`; events are in words.
    let out = run(&[
        "box", "credit", "po4demo", "--amount", "10000", "--data", &data,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("charged (1)"), "{text}");
    assert!(!text.contains("type 1"), "{text}");
    // The older flag still works.
    let out = run(&["box", "credit", "--box", "po4demo", "--data", &data]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Annotation → `dmMessageStatus` of the messages ovm4dem sent (the sent
/// list delivers nothing, so reading it changes no state).
async fn sent_states(t: &TestGateway) -> BTreeMap<String, String> {
    let resp = t
        .soap_as(OVM_LOGIN, "/DS/dx", &list("GetListOfSentMessages"))
        .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let body = resp.body();
    texts(&body, "dmAnnotation")
        .into_iter()
        .zip(texts(&body, "dmMessageStatus"))
        .collect()
}

async fn example_world_at(day: &str) -> (TestGateway, BTreeMap<String, String>) {
    let fixture = repo_dir().join("fixtures/example-messages.toml");
    let day = day.to_owned();
    let t = TestGateway::serve_on(tempfile::tempdir().expect("dir"), OPERATOR, move |c| {
        c.test_clock = true;
        c.clock_start = Some(day.clone());
        c.fixtures = vec![fixture.clone()];
    })
    .await;
    let states = sent_states(&t).await;
    (t, states)
}

#[tokio::test]
async fn relative_fixture_times_give_the_same_states_on_any_day() {
    let (a, winter) = example_world_at("2026-01-15T10:00:00+01:00").await;
    a.stop().await;
    let (b, summer) = example_world_at("2031-07-04T18:30:00+02:00").await;
    b.stop().await;
    assert_eq!(winter.len(), 4, "{winter:?}");
    assert_eq!(winter, summer);
    // Three unread messages for po4demo and one waiting for fiction: none
    // content-deleted (9), one accepted by fiction (5).
    let mut states: Vec<&str> = winter.values().map(String::as_str).collect();
    states.sort_unstable();
    assert_eq!(states, ["4", "4", "4", "5"], "{winter:?}");
}

async fn clock_now(t: &TestGateway) -> time::OffsetDateTime {
    let resp = t
        .http
        .get(t.http_url("/admin/clock"))
        .basic_auth(OPERATOR.0, Some(OPERATOR.1))
        .send()
        .await
        .expect("GET /admin/clock");
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value =
        serde_json::from_str(&resp.text().await.expect("body")).expect("json");
    let now = v["now"].as_str().expect("now");
    time::OffsetDateTime::parse(now, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339")
}

#[tokio::test]
async fn the_test_clock_survives_a_restart_until_reset_and_fixtures_load_once() {
    let fixture = repo_dir().join("fixtures/example-messages.toml");
    let start = time::macros::datetime!(2027-03-01 09:00 +01:00);
    let f = fixture.clone();
    let t = TestGateway::serve_on(tempfile::tempdir().expect("dir"), OPERATOR, move |c| {
        c.test_clock = true;
        c.clock_start = Some("2027-03-01T09:00:00+01:00".into());
        c.fixtures = vec![f.clone()];
    })
    .await;
    assert!((clock_now(&t).await - start).whole_seconds().abs() < 60);
    let first = sent_states(&t).await;
    let dir = t.dir;
    t.gw.shutdown().await.expect("stop");

    // Same data directory, no --clock-start, the same fixture again.
    let f = fixture.clone();
    let t = TestGateway::serve_on(dir, OPERATOR, move |c| {
        c.test_clock = true;
        c.fixtures = vec![f.clone()];
    })
    .await;
    assert!(
        (clock_now(&t).await - start).whole_seconds().abs() < 60,
        "the clock resumes where it was"
    );
    assert_eq!(sent_states(&t).await, first, "loaded once, not twice");

    let resp = t
        .http
        .post(t.http_url("/admin/clock"))
        .basic_auth(OPERATOR.0, Some(OPERATOR.1))
        .body(r#"{"reset": true}"#)
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), 200);
    let wall = time::OffsetDateTime::now_utc();
    assert!((clock_now(&t).await - wall).whole_seconds().abs() < 60);
    let dir = t.dir;
    t.gw.shutdown().await.expect("stop");
    let t = TestGateway::serve_on(dir, OPERATOR, |c| c.test_clock = true).await;
    assert!(
        (clock_now(&t).await - wall).whole_seconds().abs() < 60,
        "a reset clock stays reset"
    );
    t.stop().await;
}

#[test]
fn loading_a_fixture_twice_adds_nothing_and_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data").display().to_string();
    let fixture = repo_dir()
        .join("fixtures/example-messages.toml")
        .display()
        .to_string();
    let demo = repo_dir()
        .join("fixtures/demo-world.toml")
        .display()
        .to_string();
    let out = run(&["fixtures", "load", &demo, "--data", &data, "--init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["fixtures", "load", &fixture, "--data", &data]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("0 boxes, 0 users, 4 messages"),
        "{}",
        stdout(&out)
    );
    let out = run(&["fixtures", "load", &fixture, "--data", &data]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("was loaded into this store already"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_replay_without_a_password_says_where_to_give_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = repo_dir().join("fixtures/transcripts/db-access");
    for entry in std::fs::read_dir(&src).expect("transcript") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    let meta = dir.path().join("0001-meta.toml");
    let text = std::fs::read_to_string(&meta).expect("meta");
    std::fs::write(
        &meta,
        text.replace("login = \"po_jednatel\"", "login = \"kdo_jiny\""),
    )
    .expect("write");
    let out = run(&["replay", &dir.path().display().to_string()]);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("no password for the login \"kdo_jiny\""),
        "{all}"
    );
    assert!(all.contains("[logins]"), "{all}");
    assert!(all.contains("[operator]"), "{all}");
}
