//! HTTP Basic logins, lockout, password expiry and the db_access services,
//! through the real interface.

mod common;

use base64::Engine;
use common::*;

const DUMMY: &str = r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#;

fn db_access(op: &str, inner: &str) -> String {
    format!(r#"<{op} xmlns="http://isds.czechpoint.cz/v20">{inner}</{op}>"#)
}

const DUMMY_INPUT: &str = "<dbDummy/>";

fn decode_rfc2047(v: &str) -> String {
    let inner = v
        .strip_prefix("=?UTF-8?B?")
        .and_then(|r| r.strip_suffix("?="))
        .unwrap_or_else(|| panic!("not RFC 2047 base64: {v}"));
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(inner)
            .unwrap(),
    )
    .unwrap()
}

fn assert_refused(resp: &SoapResponse, code: &str) {
    assert_eq!(resp.status, 401, "{}", resp.text);
    assert_eq!(
        resp.headers.get("www-authenticate").unwrap(),
        "Basic realm=\"ISDS\""
    );
    assert_eq!(resp.headers.get("x-response-message-code").unwrap(), code);
    let text = resp
        .headers
        .get("x-response-message-text")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(!decode_rfc2047(text).is_empty());
}

#[tokio::test]
async fn missing_and_wrong_credentials_are_refused_before_the_body_is_read() {
    let t = TestGateway::start().await;
    let url = t.http_url("/DS/dz");
    let resp = send(t.http.post(&url), soap11(DUMMY), "text/xml").await;
    assert_refused(&resp, "authentication.error.userIsNotAuthenticated");

    let resp = t.soap_as(("ovm_starosta", "wrong"), "/DS/dz", DUMMY).await;
    assert_refused(&resp, "authentication.error.userIsNotAuthenticated");
    let resp = t
        .soap_as(("nobody", "Demo-Ovm-2026!"), "/DS/dz", DUMMY)
        .await;
    assert_refused(&resp, "authentication.error.userIsNotAuthenticated");

    // A refused caller's oversize body is not read: still 401, not 413.
    let big = "x".repeat(200 * 1024 * 1024 / 100);
    let resp = send(t.http.post(&url), big, "text/xml").await;
    assert_eq!(resp.status, 401);

    // Every demo user logs in.
    for login in [
        OVM_LOGIN,
        PO_LOGIN,
        PO_ENTRUSTED_LOGIN,
        ("fo_cerny", "Demo-Fo-2026!"),
    ] {
        let resp = t.soap_as(login, "/DS/dz", DUMMY).await;
        assert_eq!(resp.status().0, "0000", "{login:?}");
    }
    t.stop().await;
}

#[tokio::test]
async fn repeated_failures_block_the_user_for_an_hour() {
    let (t, clock) = TestGateway::start_clocked().await;
    for _ in 0..4 {
        let resp = t.soap_as(("po_jednatel", "bad"), "/DS/dz", DUMMY).await;
        assert_refused(&resp, "authentication.error.userIsNotAuthenticated");
    }
    let resp = t.soap_as(("po_jednatel", "bad"), "/DS/dz", DUMMY).await;
    assert_refused(&resp, "authentication.error.intruderDetected");
    // Blocked even with the right password.
    let resp = t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await;
    assert_refused(&resp, "authentication.error.intruderDetected");
    // Other users are not affected.
    assert_eq!(
        t.soap_as(PO_ENTRUSTED_LOGIN, "/DS/dz", DUMMY).await.status,
        200
    );

    clock.advance(time::Duration::minutes(59));
    let resp = t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await;
    assert_refused(&resp, "authentication.error.intruderDetected");
    clock.advance(time::Duration::minutes(2));
    assert_eq!(
        t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await.status().0,
        "0000"
    );
    // A success resets the count: four more failures do not block.
    for _ in 0..4 {
        t.soap_as(("po_jednatel", "bad"), "/DS/dz", DUMMY).await;
    }
    assert_eq!(
        t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await.status().0,
        "0000"
    );
    t.stop().await;
}

/// A password that verified moments ago is recalled without the slow
/// hash; the lockout still counts and blocks as for any other password.
#[tokio::test]
async fn a_recalled_password_counts_failures_and_is_refused_while_blocked() {
    let (t, clock) = TestGateway::start_clocked().await;
    let ok = |resp: SoapResponse| assert_eq!(resp.status().0, "0000", "{}", resp.text);
    ok(t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await);
    ok(t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await);
    // A failure on record: the right password still logs in and clears
    // it, so the next four failures do not block.
    let resp = t.soap_as(("po_jednatel", "bad"), "/DS/dz", DUMMY).await;
    assert_refused(&resp, "authentication.error.userIsNotAuthenticated");
    ok(t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await);
    for _ in 0..4 {
        let resp = t.soap_as(("po_jednatel", "bad"), "/DS/dz", DUMMY).await;
        assert_refused(&resp, "authentication.error.userIsNotAuthenticated");
    }
    let resp = t.soap_as(("po_jednatel", "bad"), "/DS/dz", DUMMY).await;
    assert_refused(&resp, "authentication.error.intruderDetected");
    // Blocked, though the right password verified a moment ago.
    for _ in 0..2 {
        let resp = t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await;
        assert_refused(&resp, "authentication.error.intruderDetected");
    }
    clock.advance(time::Duration::minutes(61));
    ok(t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await);
    ok(t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await);
    t.stop().await;
}

/// A password recalled from the previous requests is forgotten the moment
/// it is changed: the old one is refused on the next request, the new one
/// accepted.
#[tokio::test]
async fn a_recalled_password_is_refused_once_changed() {
    let t = TestGateway::start().await;
    for _ in 0..3 {
        let resp = t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await;
        assert_eq!(resp.status().0, "0000", "{}", resp.text);
    }
    let change = db_access(
        "ChangeISDSPassword",
        &format!(
            "<dbOldPassword>{}</dbOldPassword><dbNewPassword>Nove-Heslo-42</dbNewPassword>",
            PO_LOGIN.1
        ),
    );
    let resp = t.soap_as(PO_LOGIN, "/DS/DsManage", &change).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let resp = t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await;
    assert_refused(&resp, "authentication.error.userIsNotAuthenticated");
    for _ in 0..2 {
        let resp = t
            .soap_as(("po_jednatel", "Nove-Heslo-42"), "/DS/dz", DUMMY)
            .await;
        assert_eq!(resp.status().0, "0000", "{}", resp.text);
    }
    t.stop().await;
}

#[tokio::test]
async fn an_expired_password_allows_only_the_password_services() {
    let (t, clock) = TestGateway::start_clocked().await;
    let info = t
        .soap_as(
            PO_LOGIN,
            "/DS/DsManage",
            &db_access("GetPasswordInfo", DUMMY_INPUT),
        )
        .await;
    assert_eq!(info.status().0, "0000");
    assert_valid(&info.body_xml(), Xsd::Db);
    let expiry = info
        .body()
        .elements()
        .find(|e| e.name == "pswExpDate")
        .map(|e| e.text())
        .expect("an expiry date");
    let expiry =
        time::OffsetDateTime::parse(&expiry, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let days = (expiry - time::OffsetDateTime::now_utc()).whole_days();
    assert!((89..=90).contains(&days), "{days}");

    clock.advance(time::Duration::days(91));
    // The way in for a password change: libdatovka logs in with
    // DummyOperation, then calls ChangeISDSPassword. Nothing else passes.
    let resp = t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let list = r#"<GetListOfSentMessages xmlns="http://isds.czechpoint.cz/v20"><dmFromTime xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/><dmToTime xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/><dmSenderOrgUnitNum xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/><dmStatusFilter>-1</dmStatusFilter><dmOffset>1</dmOffset><dmLimit>10</dmLimit></GetListOfSentMessages>"#;
    let resp = t.soap_as(PO_LOGIN, "/DS/dx", list).await;
    assert_refused(&resp, "authentication.error.paswordExpired");
    let resp = t
        .soap_as(
            PO_LOGIN,
            "/DS/DsManage",
            &db_access("GetOwnerInfoFromLogin", DUMMY_INPUT),
        )
        .await;
    assert_refused(&resp, "authentication.error.paswordExpired");
    let info = t
        .soap_as(
            PO_LOGIN,
            "/DS/DsManage",
            &db_access("GetPasswordInfo", DUMMY_INPUT),
        )
        .await;
    assert_eq!(info.status().0, "0000");

    let change = |old: &str, new: &str| {
        db_access(
            "ChangeISDSPassword",
            &format!("<dbOldPassword>{old}</dbOldPassword><dbNewPassword>{new}</dbNewPassword>"),
        )
    };
    // Wrong current password, weak new password: refused, nothing changes.
    let resp = t
        .soap_as(PO_LOGIN, "/DS/DsManage", &change("nope", "Nove-Heslo-42"))
        .await;
    assert_eq!(resp.status().0, "1090", "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Db);
    for (weak, code) in [
        ("short1A", "1066"),
        ("Demo-Po-2026!", "1067"),
        ("Heslo s mezerou-1", "1079"),
        ("nocapitals-42", "1080"),
        ("Po_jednatel-1x", "1082"),
        ("Heslooo-12A", "1081"),
        ("Qwerty-Heslo-12", "1083"),
    ] {
        let resp = t
            .soap_as(PO_LOGIN, "/DS/DsManage", &change(PO_LOGIN.1, weak))
            .await;
        assert_eq!(resp.status().0, code, "{weak}: {}", resp.text);
        assert_valid(&resp.body_xml(), Xsd::Db);
    }
    let resp = t
        .soap_as(
            PO_LOGIN,
            "/DS/DsManage",
            &change(PO_LOGIN.1, "Nove-Heslo-42"),
        )
        .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Db);

    // The old password is gone, the new one works for everything.
    let resp = t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await;
    assert_eq!(resp.status, 401);
    let resp = t
        .soap_as(("po_jednatel", "Nove-Heslo-42"), "/DS/dz", DUMMY)
        .await;
    assert_eq!(resp.status().0, "0000");
    t.stop().await;
}

#[tokio::test]
async fn owner_and_user_info_describe_the_logged_in_box_and_user() {
    let t = TestGateway::start().await;
    for (login, box_id, db_type) in [
        (OVM_LOGIN, "ovm4dem", "OVM"),
        (PO_LOGIN, "po4demo", "PO"),
        (("fo_cerny", "Demo-Fo-2026!"), "fo4demo", "FO"),
    ] {
        for op in ["GetOwnerInfoFromLogin", "GetOwnerInfoFromLogin2"] {
            let resp = t
                .soap_as(login, "/DS/DsManage", &db_access(op, DUMMY_INPUT))
                .await;
            assert_eq!(resp.status().0, "0000", "{op}: {}", resp.text);
            assert_valid(&resp.body_xml(), Xsd::Db);
            let body = resp.body();
            let info = body.elements().find(|e| e.name == "dbOwnerInfo").unwrap();
            let field = |n: &str| info.elements().find(|e| e.name == n).map(|e| e.text());
            assert_eq!(field("dbID").as_deref(), Some(box_id), "{op}");
            assert_eq!(field("dbType").as_deref(), Some(db_type), "{op}");
            assert_eq!(field("dbState").as_deref(), Some("1"), "{op}");
        }
    }
    // isdsID is 12 characters: the gateway derives it from the user ID.
    for (op, id_field, id) in [
        ("GetUserInfoFromLogin", "userID", "poeu01"),
        ("GetUserInfoFromLogin2", "isdsID", "000000poeu01"),
    ] {
        let resp = t
            .soap_as(
                PO_ENTRUSTED_LOGIN,
                "/DS/DsManage",
                &db_access(op, DUMMY_INPUT),
            )
            .await;
        assert_eq!(resp.status().0, "0000", "{op}: {}", resp.text);
        assert_valid(&resp.body_xml(), Xsd::Db);
        let body = resp.body();
        let info = body.elements().find(|e| e.name == "dbUserInfo").unwrap();
        let field = |n: &str| info.elements().find(|e| e.name == n).map(|e| e.text());
        assert_eq!(field(id_field).as_deref(), Some(id), "{op}");
        assert_eq!(field("userType").as_deref(), Some("ENTRUSTED_USER"), "{op}");
        assert_eq!(field("userPrivils").as_deref(), Some("9"), "{op}");
    }
    t.stop().await;
}
