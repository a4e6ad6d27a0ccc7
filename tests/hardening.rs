//! Hardening against hostile or careless clients and hosts, through the
//! real interface: the password lockout under a burst, idle and slow
//! connections, a full disk, amplifying request bodies, private files and
//! fixture paths. Everything runs on loopback, bounded in count and time.

mod common;

use common::*;

const DUMMY: &str = r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#;

fn message_code(resp: &SoapResponse) -> String {
    assert_eq!(resp.status, 401, "{}", resp.text);
    resp.headers
        .get("x-response-message-code")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// 200 parallel wrong guesses block the login before the right password
/// that follows them can get in; an unknown login and the operator's are
/// blocked after as many failures and answer the same code.
#[tokio::test]
async fn the_lockout_holds_under_a_burst_and_tells_no_logins_apart() {
    let t = TestGateway::start_with(|c| {
        c.operator = Some(isds_gateway::config::OperatorConfig {
            login: "provozovatel".into(),
            password: "Tajne-Heslo-1".into(),
        });
    })
    .await;
    let t = std::sync::Arc::new(t);
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..200 {
        let t = t.clone();
        burst.spawn(async move {
            let guess = format!("wrong-{i}");
            message_code(&t.soap_as(("po_jednatel", &guess), "/DS/dz", DUMMY).await)
        });
    }
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    while let Some(code) = burst.join_next().await {
        *codes.entry(code.expect("guess task")).or_default() += 1;
    }
    // Exactly the first four failures are plain refusals.
    assert_eq!(
        codes.get("authentication.error.userIsNotAuthenticated"),
        Some(&4),
        "{codes:?}"
    );
    let resp = t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await;
    assert_eq!(
        message_code(&resp),
        "authentication.error.intruderDetected"
    );

    // An unknown login, and the operator's, behave exactly like a user's.
    for login in ["nikdo_takovy", "provozovatel"] {
        for attempt in 0..5 {
            let code = message_code(&t.soap_as((login, "bad"), "/DS/dz", DUMMY).await);
            let expected = if attempt < 4 {
                "authentication.error.userIsNotAuthenticated"
            } else {
                "authentication.error.intruderDetected"
            };
            assert_eq!(code, expected, "{login} attempt {attempt}");
        }
    }
    let resp = t
        .soap_as(("provozovatel", "Tajne-Heslo-1"), "/DS/dz", DUMMY)
        .await;
    assert_eq!(
        message_code(&resp),
        "authentication.error.intruderDetected"
    );
    let t = std::sync::Arc::into_inner(t).expect("no other owner");
    t.stop().await;
}
