//! Box and user administration (db_manipulations) by the gateway operator
//! and by box administrators, through the real interface; and the
//! administration command line on a data directory.

mod common;

use common::box_requests::*;
use common::*;
use isds_gateway::config::OperatorConfig;

const OPERATOR: (&str, &str) = ("provozovatel", "Operator-Heslo-2026");
const DS_MANAGE: &str = "/DS/DsManage";
const DUMMY: &str = r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#;
/// A call a user who must change the password may not make (DummyOperation
/// passes: it is how clients log in before ChangeISDSPassword).
const OWNER_INFO_CALL: &str = r#"<GetOwnerInfoFromLogin xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetOwnerInfoFromLogin>"#;

fn db_id(id: &str) -> String {
    format!("<dbID>{id}</dbID>")
}

/// The text of a direct child of the response element.
fn child(resp: &SoapResponse, name: &str) -> Option<String> {
    resp.body()
        .elements()
        .find(|e| e.name == name)
        .map(|e| e.text())
}

/// `(login, password)` from a `dbAccessDataId` of one user.
fn access(resp: &SoapResponse) -> (String, String) {
    let token = child(resp, "dbAccessDataId").expect("dbAccessDataId");
    let (login, password) = token.split_once(':').expect("LOGIN:PASSWORD");
    (login.to_owned(), password.to_owned())
}

async fn start() -> TestGateway {
    TestGateway::start_with(|cfg| {
        cfg.operator = Some(OperatorConfig {
            login: OPERATOR.0.into(),
            password: OPERATOR.1.into(),
        })
    })
    .await
}

/// Calls a DsManage operation and checks the answer against both schemas.
async fn call(t: &TestGateway, who: (&str, &str), body: &str) -> SoapResponse {
    let resp = t.soap_as(who, DS_MANAGE, body).await;
    assert_eq!(resp.status, 200, "{body}\n{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Db);
    resp
}

async fn expect_code(t: &TestGateway, who: (&str, &str), body: &str, code: &str) -> SoapResponse {
    let resp = call(t, who, body).await;
    assert_eq!(resp.status().0, code, "{body}\n{}", resp.text);
    resp
}

/// An owner-info item of GetOwnerInfoFromLogin for `who`.
async fn owner_item(t: &TestGateway, who: (&str, &str), item: &str) -> String {
    let resp = expect_code(t, who, &op("GetOwnerInfoFromLogin", "<dbDummy/>"), "0000").await;
    let body = resp.body();
    let info = body.elements().find(|e| e.name == "dbOwnerInfo").unwrap();
    info.elements()
        .find(|e| e.name == item)
        .map(|e| e.text())
        .unwrap_or_default()
}

async fn user_privileges(t: &TestGateway, who: (&str, &str)) -> String {
    let resp = expect_code(t, who, &op("GetUserInfoFromLogin", "<dbDummy/>"), "0000").await;
    let body = resp.body();
    let info = body.elements().find(|e| e.name == "dbUserInfo").unwrap();
    info.elements()
        .find(|e| e.name == "userPrivils")
        .map(|e| e.text())
        .unwrap_or_default()
}

async fn dummy_status(t: &TestGateway, who: (&str, &str)) -> u16 {
    t.soap_as(who, "/DS/dz", DUMMY).await.status
}

fn assert_401(resp: &SoapResponse, code: &str) {
    assert_eq!(resp.status, 401, "{}", resp.text);
    assert_eq!(
        resp.headers.get("x-response-message-code").unwrap(),
        code,
        "{}",
        resp.text
    );
}

fn add_user_v1(box_id: &str, privileges: &str) -> String {
    op(
        "AddDataBoxUser",
        &(complex("dbOwnerInfo", OWNER_INFO_EXT, &[("dbID", box_id)])
            + &complex(
                "dbUserInfo",
                USER_INFO_EXT,
                &[
                    ("pnFirstName", "Alena"),
                    ("pnLastName", "Veselá"),
                    ("userType", "ENTRUSTED_USER"),
                    ("userPrivils", privileges),
                ],
            )),
    )
}

fn add_user_v2(box_id: &str, user_type: &str, privileges: &str) -> String {
    op(
        "AddDataBoxUser2",
        &(db_id(box_id)
            + &complex(
                "dbUserInfo",
                USER_INFO_EXT2,
                &[
                    ("aifoIsds", "false"),
                    ("pnGivenNames", "Karel Jan"),
                    ("pnLastName", "Dlouhý"),
                    ("userType", user_type),
                    ("userPrivils", privileges),
                ],
            )),
    )
}

#[tokio::test]
async fn the_operator_creates_a_box_whose_new_user_must_change_the_password() {
    let t = start().await;
    let create = op(
        "CreateDataBox",
        &(complex(
            "dbOwnerInfo",
            OWNER_INFO_EXT,
            &[
                ("dbType", "PO"),
                ("ic", "12345678"),
                ("firmName", "Nová Firma s.r.o."),
                ("adCity", "Praha"),
                ("adState", "CZ"),
                ("dbOpenAddressing", "false"),
            ],
        ) + &format!(
            "<dbPrimaryUsers>{}</dbPrimaryUsers>",
            complex(
                "dbUserInfo",
                USER_INFO_EXT,
                &[
                    ("pnFirstName", "Jiří"),
                    ("pnLastName", "Nový"),
                    ("adCity", "Praha"),
                    ("adStreet", "Dlouhá"),
                    ("adNumberInStreet", "5"),
                    ("adZipCode", "11000"),
                    ("biDate", "1970-01-02"),
                    ("userType", "PRIMARY_USER"),
                    ("userPrivils", "255")
                ]
            )
        )),
    );
    let resp = expect_code(&t, OPERATOR, &create, "0000").await;
    let box_id = child(&resp, "dbID").unwrap();
    assert_eq!(box_id.len(), 7);
    assert!(
        box_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    let user_id = child(&resp, "dbUserID").unwrap();
    assert_eq!(user_id.len(), 6);
    let (login, password) = access(&resp);
    assert_eq!(login, user_id, "a generated login is the user ID");

    // The first login may only change the password, the way libdatovka
    // does it: log in with DummyOperation, then ChangeISDSPassword.
    let primary = (login.as_str(), password.as_str());
    assert_401(
        &t.soap_as(primary, "/DS/DsManage", OWNER_INFO_CALL).await,
        "authentication.error.paswordExpired",
    );
    let resp = t.soap_as(primary, "/DS/dz", DUMMY).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let new_password = "Vlastni-Heslo-42";
    let change = op(
        "ChangeISDSPassword",
        &format!(
            "<dbOldPassword>{password}</dbOldPassword><dbNewPassword>{new_password}</dbNewPassword>"
        ),
    );
    expect_code(&t, primary, &change, "0000").await;
    let primary = (login.as_str(), new_password);
    let resp = t.soap_as(primary, "/DS/dz", DUMMY).await;
    assert_eq!(resp.status().0, "0000");
    assert_eq!(owner_item(&t, primary, "dbID").await, box_id);
    assert_eq!(
        owner_item(&t, primary, "firmName").await,
        "Nová Firma s.r.o."
    );
    assert_eq!(owner_item(&t, primary, "dbState").await, "1");

    // The operator adds an entrusted user; they too start with a change.
    let resp = expect_code(&t, OPERATOR, &add_user_v1(&box_id, "9"), "0000").await;
    assert_eq!(child(&resp, "dbID").as_deref(), Some(box_id.as_str()));
    let (login2, password2) = access(&resp);
    let entrusted = (login2.as_str(), password2.as_str());
    assert_401(
        &t.soap_as(entrusted, "/DS/DsManage", OWNER_INFO_CALL).await,
        "authentication.error.paswordExpired",
    );
    let change = op(
        "ChangeISDSPassword",
        &format!(
            "<dbOldPassword>{password2}</dbOldPassword><dbNewPassword>Druhe-Heslo-77</dbNewPassword>"
        ),
    );
    expect_code(&t, entrusted, &change, "0000").await;
    let entrusted = (login2.as_str(), "Druhe-Heslo-77");
    assert_eq!(user_privileges(&t, entrusted).await, "9");

    // A change of rights applies from the user's next request.
    let update = op(
        "UpdateDataBoxUser",
        &(complex("dbOwnerInfo", OWNER_INFO_EXT, &[("dbID", &box_id)])
            + &complex("dbOldUserInfo", USER_INFO_EXT, &[("userID", &login2)])
            + &complex("dbNewUserInfo", USER_INFO_EXT, &[("userPrivils", "31")])),
    );
    expect_code(&t, primary, &update, "0000").await;
    assert_eq!(user_privileges(&t, entrusted).await, "31");

    // The new primary user lists the box's users.
    let resp = expect_code(
        &t,
        primary,
        &op("GetDataBoxUsers2", &db_id(&box_id)),
        "0000",
    )
    .await;
    let body = resp.body();
    let users = body.elements().find(|e| e.name == "dbUsers").unwrap();
    let ids: Vec<String> = users
        .elements()
        .map(|u| {
            u.elements()
                .find(|e| e.name == "isdsID")
                .map(|e| e.text())
                .unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&format!("000000{user_id}")), "{ids:?}");

    // Creating a box with an existing ID is refused.
    let dup = op(
        "CreateDataBox2",
        &(complex(
            "dbOwnerInfo",
            OWNER_INFO_EXT2,
            &[("dbID", "po4demo"), ("dbType", "PO")],
        ) + "<dbPrimaryUsers/>"),
    );
    expect_code(&t, OPERATOR, &dup, "2031").await;
    t.stop().await;
}

#[tokio::test]
async fn box_administrators_manage_only_their_own_box() {
    let t = start().await;
    // The primary user of po4demo adds and removes an entrusted user.
    let resp = expect_code(
        &t,
        PO_LOGIN,
        &add_user_v2("po4demo", "ENTRUSTED_USER", "9"),
        "0000",
    )
    .await;
    let (login, password) = access(&resp);
    let isds_id = format!("000000{login}");
    assert_401(
        &t.soap_as((&login, &password), "/DS/DsManage", OWNER_INFO_CALL)
            .await,
        "authentication.error.paswordExpired",
    );
    // New access data on request: a new user name and password; the old
    // ones stop working, the isdsID stays. Only the operator may confirm
    // the fee (1032).
    let reissue = |fee_paid: bool| {
        op(
            "NewAccessData2",
            &format!(
                "{}<isdsID>{isds_id}</isdsID><dbFeePaid>{fee_paid}</dbFeePaid>",
                db_id("po4demo")
            ),
        )
    };
    let resp = expect_code(&t, PO_LOGIN, &reissue(true), "1032").await;
    assert_eq!(
        resp.status().1,
        "Vaše oprávnění nedovolují potvrdit zaplacení správního poplatku"
    );
    assert!(child(&resp, "dbAccessDataId").is_none());
    let resp = expect_code(&t, PO_LOGIN, &reissue(false), "0000").await;
    let (new_login, new_password) = access(&resp);
    assert_eq!(
        child(&resp, "dbUserID").as_deref(),
        Some(new_login.as_str())
    );
    assert_ne!(new_login, login);
    assert_ne!(new_password, password);
    for old in [
        (&login, &password),
        (&login, &new_password),
        (&new_login, &password),
    ] {
        assert_401(
            &t.soap_as((old.0, old.1), "/DS/dz", DUMMY).await,
            "authentication.error.userIsNotAuthenticated",
        );
    }
    // The new password must be changed first; the way in is open.
    assert_401(
        &t.soap_as((&new_login, &new_password), "/DS/DsManage", OWNER_INFO_CALL)
            .await,
        "authentication.error.paswordExpired",
    );
    let resp = t
        .soap_as((&new_login, &new_password), "/DS/dz", DUMMY)
        .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    // Same user: same isdsID in the list, same rights.
    let resp = expect_code(
        &t,
        PO_LOGIN,
        &op("GetDataBoxUsers2", &db_id("po4demo")),
        "0000",
    )
    .await;
    assert!(resp.text.contains(&isds_id), "{}", resp.text);
    // The operator may confirm the fee.
    let resp = expect_code(&t, OPERATOR, &reissue(true), "0000").await;
    let (login, new_password) = access(&resp);
    assert_ne!(login, new_login);
    let delete = op(
        "DeleteDataBoxUser2",
        &format!("{}<isdsID>{isds_id}</isdsID>", db_id("po4demo")),
    );
    expect_code(&t, PO_LOGIN, &delete, "0000").await;
    // The login is gone.
    assert_401(
        &t.soap_as((&login, &new_password), "/DS/dz", DUMMY).await,
        "authentication.error.userIsNotAuthenticated",
    );
    expect_code(&t, PO_LOGIN, &delete, "5002").await;

    // Another box is out of reach, as are primary users.
    expect_code(
        &t,
        PO_LOGIN,
        &add_user_v2("ovm4dem", "ENTRUSTED_USER", "9"),
        "1004",
    )
    .await;
    expect_code(
        &t,
        PO_LOGIN,
        &add_user_v2("po4demo", "PRIMARY_USER", "255"),
        "1004",
    )
    .await;
    expect_code(
        &t,
        PO_LOGIN,
        &op("GetDataBoxUsers2", &db_id("ovm4dem")),
        "1004",
    )
    .await;
    let delete_other = op(
        "DeleteDataBoxUser",
        &(complex("dbOwnerInfo", OWNER_INFO, &[("dbID", "ovm4dem")])
            + &complex("dbUserInfo", USER_INFO, &[("userID", "ovmpu1")])),
    );
    expect_code(&t, PO_LOGIN, &delete_other, "1004").await;
    assert_eq!(dummy_status(&t, OVM_LOGIN).await, 200);

    // An entrusted user without the administration right may do nothing.
    expect_code(&t, PO_ENTRUSTED_LOGIN, &add_user_v1("po4demo", "9"), "1004").await;
    expect_code(
        &t,
        PO_ENTRUSTED_LOGIN,
        &op("GetDataBoxUsers2", &db_id("po4demo")),
        "1004",
    )
    .await;
    expect_code(
        &t,
        PO_ENTRUSTED_LOGIN,
        &op("SetOpenAddressing", &db_id("po4demo")),
        "1004",
    )
    .await;
    // Operator-only operations are refused to box administrators.
    let disable = op(
        "DisableDataBoxExternally2",
        &(db_id("po4demo") + r#"<dbOwnerDisableDate xsi:nil="true"/>"#),
    );
    expect_code(&t, PO_LOGIN, &disable, "1004").await;
    let remove = op(
        "DeleteDataBox2",
        &(db_id("po4demo") + "<dbOwnerTerminationDate>2026-01-31</dbOwnerTerminationDate>"),
    );
    expect_code(&t, PO_LOGIN, &remove, "1004").await;

    // Users of po4demo as the primary user sees them.
    let resp = expect_code(
        &t,
        PO_LOGIN,
        &op("GetDataBoxUsers2", &db_id("po4demo")),
        "0000",
    )
    .await;
    let text = resp.body_xml();
    assert!(
        text.contains("000000popu01") && text.contains("000000poeu01"),
        "{text}"
    );
    t.stop().await;
}

#[tokio::test]
async fn owners_disable_and_enable_their_box_and_switch_open_addressing() {
    let t = start().await;
    let po = db_id("po4demo");
    expect_code(&t, PO_LOGIN, &op("DisableOwnDataBox2", &po), "0000").await;
    // Users still log in to an inaccessible box.
    assert_eq!(dummy_status(&t, PO_ENTRUSTED_LOGIN).await, 200);
    assert_eq!(owner_item(&t, PO_LOGIN, "dbState").await, "2");
    expect_code(&t, PO_LOGIN, &op("DisableOwnDataBox2", &po), "1024").await;
    // Version 1 without a dbID means the caller's own box.
    let enable = op("EnableOwnDataBox", &complex("dbOwnerInfo", OWNER_INFO, &[]));
    expect_code(&t, PO_LOGIN, &enable, "0000").await;
    assert_eq!(owner_item(&t, PO_LOGIN, "dbState").await, "1");

    assert_eq!(owner_item(&t, PO_LOGIN, "dbOpenAddressing").await, "true");
    expect_code(&t, PO_LOGIN, &op("ClearOpenAddressing", &po), "0000").await;
    assert_eq!(owner_item(&t, PO_LOGIN, "dbOpenAddressing").await, "false");
    expect_code(&t, PO_LOGIN, &op("SetOpenAddressing", &po), "0000").await;
    assert_eq!(owner_item(&t, PO_LOGIN, "dbOpenAddressing").await, "true");
    t.stop().await;
}

#[tokio::test]
async fn operator_only_operations_and_the_operators_limits() {
    let t = start().await;
    // The operator cannot use the services of a box user.
    let resp = t
        .soap_as(
            OPERATOR,
            DS_MANAGE,
            &op("GetOwnerInfoFromLogin", "<dbDummy/>"),
        )
        .await;
    assert_401(&resp, "authentication.error.badRole");
    assert_401(
        &t.soap_as(OPERATOR, "/DS/dz", DUMMY).await,
        "authentication.error.badRole",
    );
    assert_401(
        &t.soap_as(
            (OPERATOR.0, "wrong"),
            DS_MANAGE,
            &op("GetDataBoxUsers2", &db_id("po4demo")),
        )
        .await,
        "authentication.error.userIsNotAuthenticated",
    );

    // Changing the description.
    let update = op(
        "UpdateDataBoxDescr2",
        &(db_id("fo4demo")
            + &complex(
                "dbNewOwnerInfo",
                OWNER_INFO_EXT2,
                &[("adCity", "Přerov"), ("adZipCode", "75002")],
            )),
    );
    expect_code(&t, OPERATOR, &update, "0000").await;
    let fo = ("fo_cerny", "Demo-Fo-2026!");
    assert_eq!(owner_item(&t, fo, "adCity").await, "Přerov");
    assert_eq!(owner_item(&t, fo, "pnLastName").await, "Černý");

    // Disabling by law, and errors for unknown boxes and users.
    let disable = op(
        "DisableDataBoxExternally",
        &(complex("dbOwnerInfo", OWNER_INFO, &[("dbID", "fo4demo")])
            + r#"<dbOwnerDisableDate xsi:nil="true"/>"#),
    );
    expect_code(&t, OPERATOR, &disable, "0000").await;
    assert_eq!(owner_item(&t, fo, "dbState").await, "6");
    // A box disabled by law is not the owner's to enable.
    expect_code(&t, fo, &op("EnableOwnDataBox2", &db_id("fo4demo")), "1024").await;
    expect_code(
        &t,
        OPERATOR,
        &op("SetOpenAddressing", &db_id("nobox00")),
        "5001",
    )
    .await;
    let unknown_user = op(
        "DeleteDataBoxUser2",
        &format!("{}<isdsID>000000zzzzzz</isdsID>", db_id("po4demo")),
    );
    expect_code(&t, OPERATOR, &unknown_user, "5002").await;
    // The primary user of an FO box stays (1009, box-management manual
    // 2.5); an OVM box may be left without one.
    let last = op(
        "DeleteDataBoxUser",
        &(complex("dbOwnerInfo", OWNER_INFO, &[("dbID", "fo4demo")])
            + &complex("dbUserInfo", USER_INFO, &[("userID", "fo_cerny")])),
    );
    expect_code(&t, OPERATOR, &last, "1009").await;
    let last = op(
        "DeleteDataBoxUser",
        &(complex("dbOwnerInfo", OWNER_INFO, &[("dbID", "ovm4dem")])
            + &complex("dbUserInfo", USER_INFO, &[("userID", "ovm_starosta")])),
    );
    expect_code(&t, OPERATOR, &last, "0000").await;
    // The operator must name the box.
    expect_code(
        &t,
        OPERATOR,
        &op(
            "DisableOwnDataBox",
            &complex("dbOwnerInfo", OWNER_INFO, &[]),
        ),
        "2031",
    )
    .await;

    // Removing a box: it stays, marked removed, and its users are out.
    let remove = op(
        "DeleteDataBox",
        &(complex("dbOwnerInfo", OWNER_INFO, &[("dbID", "po4demo")])
            + "<dbOwnerTerminationDate>2026-01-31</dbOwnerTerminationDate>"),
    );
    expect_code(&t, OPERATOR, &remove, "0000").await;
    assert_401(
        &t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await,
        "authentication.error.userIsNotAuthenticated",
    );
    expect_code(&t, OPERATOR, &remove, "1037").await;
    expect_code(
        &t,
        OPERATOR,
        &add_user_v2("po4demo", "ENTRUSTED_USER", "1"),
        "1037",
    )
    .await;
    t.stop().await;
}

#[tokio::test]
async fn without_an_operator_configured_no_login_is_the_operator() {
    let t = TestGateway::start().await;
    assert_401(
        &t.soap_as(
            OPERATOR,
            DS_MANAGE,
            &op("GetDataBoxUsers2", &db_id("po4demo")),
        )
        .await,
        "authentication.error.userIsNotAuthenticated",
    );
    t.stop().await;
}

const GOOD_FIXTURE: &str = r#"
[[boxes]]
id = "fixbox1"
type = "PFO_ADVOK"
[boxes.owner]
first_name = "Marie"
last_name = "Zákonná"
[[boxes.users]]
id = "fixpu1"
login = "advokatka"
password = "Fixture-Heslo-1"
type = "PRIMARY_USER"
"#;

/// A good box, then one whose type is misspelt (reported at its id, line 7).
const BAD_FIXTURE: &str = r#"
[[boxes]]
id = "fixbox2"
type = "PO"

[[boxes]]
id = "fixbox3"
type = "P0"
"#;

fn cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_isds-gateway"))
        .args(args)
        .env_remove("ISDS_GATEWAY_DATA")
        .output()
        .expect("the binary runs")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn the_command_line_loads_fixtures_all_or_nothing_and_lists_boxes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let bad = dir.path().join("bad.toml");
    let good = dir.path().join("good.toml");
    std::fs::write(&bad, BAD_FIXTURE).unwrap();
    std::fs::write(&good, GOOD_FIXTURE).unwrap();

    // No store yet: a clear error, nothing created.
    let out = cli(&["box", "list", "--data", data]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no gateway store"),
        "{}",
        text(&out.stderr)
    );

    let out = cli(&[
        "fixtures",
        "load",
        bad.to_str().unwrap(),
        "--data",
        data,
        "--init",
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.toml: line 7: box fixbox3: unknown box type"),
        "{err}"
    );
    let out = cli(&["box", "list", "--data", data]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "0 boxes\n",
        "nothing of the bad file was loaded"
    );

    let out = cli(&["fixtures", "load", good.to_str().unwrap(), "--data", data]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 boxes, 1 users"));
    // Loading the same fixture again adds nothing and says so.
    let out = cli(&["fixtures", "load", good.to_str().unwrap(), "--data", data]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("was loaded into this store already"),
        "{}",
        text(&out.stdout)
    );
    // Another fixture with a box the store holds is refused.
    let other = dir.path().join("other.toml");
    std::fs::write(
        &other,
        std::fs::read_to_string(&good).unwrap() + "\n# another fixture\n",
    )
    .unwrap();
    let out = cli(&["fixtures", "load", other.to_str().unwrap(), "--data", data]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("line 3: box fixbox1 exists in the store already"),
        "{}",
        text(&out.stderr)
    );

    let out = cli(&["box", "list", "--data", data]);
    let listing = text(&out.stdout);
    assert!(listing.contains("fixbox1  PFO_ADVOK"), "{listing}");
    assert!(listing.contains("Marie Zákonná"), "{listing}");
    assert!(listing.ends_with("1 boxes\n"), "{listing}");

    // Boxes and users by command, read back as JSON.
    let out = cli(&[
        "box",
        "create",
        "--type",
        "PO",
        "--id",
        "clibox1",
        "--firm-name",
        "CLI a.s.",
        "--login",
        "cli_jednatel",
        "--password",
        "Cli-Heslo-123",
        "--data",
        data,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = cli(&[
        "user",
        "add",
        "clibox1",
        "--privileges",
        "9",
        "--last-name",
        "Pověřená",
        "--data",
        data,
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let added: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let login = added["login"].as_str().unwrap().to_owned();
    assert_eq!(added["must_change_password"], true);
    let out = cli(&["user", "set-privileges", &login, "25", "--data", data]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = cli(&["box", "set-state", "clibox1", "2", "--data", data]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = cli(&["box", "show", "clibox1", "--json", "--data", data]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["state"], 2);
    assert_eq!(shown["users"].as_array().unwrap().len(), 2);
    assert!(!text(&out.stdout).contains("argon2"), "no password hashes");
    let out = cli(&["user", "show", &login, "--json", "--data", data]);
    let user: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(user["privileges"], 25);
    // A refused change says why.
    let out = cli(&[
        "user",
        "set-password",
        "cli_jednatel",
        "--password",
        "short",
        "--data",
        data,
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("8 to 32"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn the_store_of_a_running_gateway_is_refused_and_serve_loads_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("good.toml");
    std::fs::write(&fixture, GOOD_FIXTURE).unwrap();
    let data = dir.path().join("gw");
    let t = TestGateway::start_in(tempfile::tempdir().unwrap(), {
        let fixture = fixture.clone();
        let data = data.clone();
        move |cfg| {
            cfg.data_dir = data;
            cfg.fixtures = vec![fixture];
        }
    })
    .await;
    // The fixture was added to the demo world at start.
    assert_eq!(
        dummy_status(&t, ("advokatka", "Fixture-Heslo-1")).await,
        200
    );
    assert_eq!(dummy_status(&t, PO_LOGIN).await, 200);

    let out = cli(&["box", "list", "--data", data.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("in use") && err.contains("stop the gateway"),
        "{err}"
    );
    t.stop().await;

    // Started again with the same fixture: it was loaded already, so the
    // start goes on without adding it twice.
    let config = {
        let mut c = isds_gateway::config::Config::ephemeral(&data);
        c.fixtures = vec![fixture.clone()];
        c
    };
    let gw = common::when_unlocked(|| {
        let config = config.clone();
        async move {
            match isds_gateway::http::start(config).await {
                Err(isds_gateway::http::ServeError::Store(e)) => Err(e),
                Err(e) => panic!("the same fixture again must not refuse the start: {e}"),
                Ok(gw) => Ok(gw),
            }
        }
    })
    .await;
    gw.shutdown().await.unwrap();

    // Another fixture with the same box is refused, and the start fails.
    let other = dir.path().join("other.toml");
    std::fs::write(&other, format!("{GOOD_FIXTURE}\n# changed\n")).unwrap();
    let config = {
        let mut c = isds_gateway::config::Config::ephemeral(&data);
        c.fixtures = vec![other];
        c
    };
    let err = common::when_unlocked(|| {
        let config = config.clone();
        async move {
            match isds_gateway::http::start(config).await {
                Ok(_) => panic!("a clashing fixture must refuse the start"),
                Err(isds_gateway::http::ServeError::Store(e)) => Err(e),
                Err(e) => Ok(e.to_string()),
            }
        }
    })
    .await;
    assert!(err.contains("fixbox1 exists in the store already"), "{err}");
}

/// `userPrivils` of the user `isds_id` as GetDataBoxUsers2 of po4demo lists it.
async fn listed_privileges(t: &TestGateway, isds_id: &str) -> String {
    let resp = expect_code(
        t,
        PO_LOGIN,
        &op("GetDataBoxUsers2", &db_id("po4demo")),
        "0000",
    )
    .await;
    let body = resp.body();
    let users = body.elements().find(|e| e.name == "dbUsers").unwrap();
    let user = users
        .elements()
        .find(|u| {
            u.elements()
                .any(|e| e.name == "isdsID" && e.text() == isds_id)
        })
        .unwrap_or_else(|| panic!("{isds_id} in {}", resp.text));
    user.elements()
        .find(|e| e.name == "userPrivils")
        .map(|e| e.text())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_administrator_keeps_the_right_to_administer() {
    // Messages manual 1.4: an administrator's PRIVIL_OWNER_ADM (32) cannot
    // be taken away; other rights may be added. GetDataBoxUsers2 shows it.
    let t = start().await;
    let resp = expect_code(
        &t,
        PO_LOGIN,
        &add_user_v2("po4demo", "ADMINISTRATOR", "1"),
        "0000",
    )
    .await;
    let (login, _) = access(&resp);
    let isds_id = format!("000000{login}");
    assert_eq!(listed_privileges(&t, &isds_id).await, "33");
    for (sent, kept) in [("4", "36"), ("0", "32"), ("255", "255")] {
        let update = op(
            "UpdateDataBoxUser2",
            &(db_id("po4demo")
                + &format!("<isdsID>{isds_id}</isdsID>")
                + &complex(
                    "dbNewUserInfo",
                    USER_INFO_EXT2,
                    &[
                        ("aifoIsds", "false"),
                        ("userType", "ADMINISTRATOR"),
                        ("userPrivils", sent),
                    ],
                )),
        );
        expect_code(&t, PO_LOGIN, &update, "0000").await;
        assert_eq!(listed_privileges(&t, &isds_id).await, kept, "sent {sent}");
    }
    // An entrusted user's rights are what is sent.
    let resp = expect_code(
        &t,
        PO_LOGIN,
        &add_user_v2("po4demo", "ENTRUSTED_USER", "9"),
        "0000",
    )
    .await;
    let (login, _) = access(&resp);
    assert_eq!(listed_privileges(&t, &format!("000000{login}")).await, "9");
    t.stop().await;
}

/// The `dbUserInfo` entry of GetDataBoxUsers2 with this `isdsID`, as
/// (element, text) pairs.
fn listed_user(resp: &SoapResponse, isds_id: &str) -> Vec<(String, String)> {
    let body = resp.body();
    let users = body
        .elements()
        .find(|e| e.name == "dbUsers")
        .expect("dbUsers");
    let user = users
        .elements()
        .find(|u| {
            u.elements()
                .any(|e| e.name == "isdsID" && e.text() == isds_id)
        })
        .unwrap_or_else(|| panic!("no user {isds_id}: {}", resp.text));
    user.elements()
        .map(|e| (e.name.clone(), e.text()))
        .collect()
}

fn item<'a>(items: &'a [(String, String)], name: &str) -> &'a str {
    items
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// The body's child `name` and its items.
fn items_of(resp: &SoapResponse, name: &str) -> Vec<(String, String)> {
    let body = resp.body();
    let e = body
        .elements()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no {name}: {}", resp.text));
    e.elements().map(|e| (e.name.clone(), e.text())).collect()
}

#[tokio::test]
async fn personal_data_round_trip_for_users_and_owners() {
    let t = start().await;
    let person = [
        ("pnGivenNames", "Jana Marie"),
        ("pnLastName", "Veselá"),
        ("adCode", "61862134"),
        ("adCity", "Brno"),
        ("adDistrict", "Královo Pole"),
        ("adStreet", "Masarykova"),
        ("adNumberInStreet", "1"),
        ("adNumberInMunicipality", "1035"),
        ("adZipCode", "60200"),
        ("adState", "CZ"),
        ("biDate", "1980-05-17"),
        ("caStreet", "Údolní 53"),
        ("caCity", "Brno"),
        ("caZipCode", "60200"),
    ];
    let mut primary = person.to_vec();
    primary.extend([
        ("aifoIsds", "false"),
        ("userType", "PRIMARY_USER"),
        ("userPrivils", "255"),
    ]);
    let create = op(
        "CreateDataBox2",
        &(complex(
            "dbOwnerInfo",
            OWNER_INFO_EXT2,
            &[
                ("dbType", "OVM"),
                ("ic", "11223344"),
                ("firmName", "Obec Osobní"),
                ("biCounty", "Brno-město"),
                ("biState", "CZ"),
                ("adCode", "21867654"),
                ("adCity", "Osobní"),
                ("adDistrict", "Horní"),
                ("adStreet", "Náves"),
                ("adNumberInStreet", "2"),
                ("adNumberInMunicipality", "12"),
                ("adZipCode", "59101"),
                ("adState", "CZ"),
                ("nationality", "CZ"),
                ("dbIdOVM", "11223344"),
            ],
        ) + &format!(
            "<dbPrimaryUsers>{}</dbPrimaryUsers>",
            complex("dbUserInfo", USER_INFO_EXT2, &primary)
        )),
    );
    let resp = expect_code(&t, OPERATOR, &create, "0000").await;
    let box_id = child(&resp, "dbID").unwrap();
    let (login, password) = access(&resp);
    let isds_id = format!("000000{login}");

    // GetDataBoxUsers2 returns every item given.
    let list = op("GetDataBoxUsers2", &db_id(&box_id));
    let resp = expect_code(&t, OPERATOR, &list, "0000").await;
    let listed = listed_user(&resp, &isds_id);
    for (name, value) in person {
        assert_eq!(item(&listed, name), value, "{name}");
    }
    assert_eq!(item(&listed, "userType"), "PRIMARY_USER");

    // The user reads the same about themselves (after the first change).
    let change = op(
        "ChangeISDSPassword",
        &format!(
            "<dbOldPassword>{password}</dbOldPassword><dbNewPassword>Osobni-Heslo-42</dbNewPassword>"
        ),
    );
    expect_code(&t, (&login, &password), &change, "0000").await;
    let me = (login.as_str(), "Osobni-Heslo-42");
    let dummy = "<dbDummy/>";
    let resp = expect_code(&t, me, &op("GetUserInfoFromLogin2", dummy), "0000").await;
    let info = items_of(&resp, "dbUserInfo");
    for (name, value) in person {
        assert_eq!(item(&info, name), value, "GetUserInfoFromLogin2 {name}");
    }
    let resp = expect_code(&t, me, &op("GetUserInfoFromLogin", dummy), "0000").await;
    let info = items_of(&resp, "dbUserInfo");
    for (name, value) in [
        ("pnFirstName", "Jana"),
        ("pnMiddleName", "Marie"),
        ("pnLastName", "Veselá"),
        ("adCity", "Brno"),
        ("adStreet", "Masarykova"),
        ("adNumberInStreet", "1"),
        ("adNumberInMunicipality", "1035"),
        ("adZipCode", "60200"),
        ("adState", "CZ"),
        ("biDate", "1980-05-17"),
        ("caStreet", "Údolní 53"),
        ("caCity", "Brno"),
        ("caZipCode", "60200"),
    ] {
        assert_eq!(item(&info, name), value, "GetUserInfoFromLogin {name}");
    }
    // The owner's description, both versions.
    let resp = expect_code(&t, me, &op("GetOwnerInfoFromLogin2", dummy), "0000").await;
    let owner = items_of(&resp, "dbOwnerInfo");
    for (name, value) in [
        ("firmName", "Obec Osobní"),
        ("ic", "11223344"),
        ("biCounty", "Brno-město"),
        ("biState", "CZ"),
        ("adCode", "21867654"),
        ("adCity", "Osobní"),
        ("adDistrict", "Horní"),
        ("adStreet", "Náves"),
        ("adNumberInStreet", "2"),
        ("adNumberInMunicipality", "12"),
        ("adZipCode", "59101"),
        ("nationality", "CZ"),
        ("dbIdOVM", "11223344"),
    ] {
        assert_eq!(item(&owner, name), value, "GetOwnerInfoFromLogin2 {name}");
    }
    let resp = expect_code(&t, me, &op("GetOwnerInfoFromLogin", dummy), "0000").await;
    let owner = items_of(&resp, "dbOwnerInfo");
    assert_eq!(item(&owner, "adCity"), "Osobní");
    assert_eq!(item(&owner, "nationality"), "CZ");

    // AddDataBoxUser2 keeps an entrusted user's items; UpdateDataBoxUser2
    // replaces them with the new complete description.
    let mut entrusted = person.to_vec();
    entrusted.retain(|(n, _)| *n != "pnGivenNames" && *n != "pnLastName");
    entrusted.extend([
        ("aifoIsds", "false"),
        ("pnGivenNames", "Petr"),
        ("pnLastName", "Pověřený"),
        ("userType", "ENTRUSTED_USER"),
        ("userPrivils", "9"),
    ]);
    let add = op(
        "AddDataBoxUser2",
        &(db_id(&box_id) + &complex("dbUserInfo", USER_INFO_EXT2, &entrusted)),
    );
    let resp = expect_code(&t, me, &add, "0000").await;
    let (login2, _) = access(&resp);
    let isds_id2 = format!("000000{login2}");
    let resp = expect_code(&t, me, &list, "0000").await;
    let listed = listed_user(&resp, &isds_id2);
    assert_eq!(item(&listed, "pnLastName"), "Pověřený");
    assert_eq!(item(&listed, "biDate"), "1980-05-17");
    assert_eq!(item(&listed, "caStreet"), "Údolní 53");
    assert_eq!(item(&listed, "adDistrict"), "Královo Pole");

    let update = op(
        "UpdateDataBoxUser2",
        &format!(
            "{}<isdsID>{isds_id2}</isdsID>{}",
            db_id(&box_id),
            complex(
                "dbNewUserInfo",
                USER_INFO_EXT2,
                &[
                    ("aifoIsds", "false"),
                    ("pnGivenNames", "Petr"),
                    ("pnLastName", "Pověřený"),
                    ("adCity", "Olomouc"),
                    ("adStreet", "Horní náměstí"),
                    ("adNumberInMunicipality", "583"),
                    ("adZipCode", "77900"),
                    ("biDate", "1980-05-17"),
                    ("userType", "ENTRUSTED_USER"),
                    ("userPrivils", "9"),
                ]
            )
        ),
    );
    expect_code(&t, me, &update, "0000").await;
    let resp = expect_code(&t, me, &list, "0000").await;
    let listed = listed_user(&resp, &isds_id2);
    assert_eq!(item(&listed, "adCity"), "Olomouc");
    assert_eq!(item(&listed, "adNumberInMunicipality"), "583");
    // Items left out of the complete description are gone (manual 1.4).
    assert_eq!(item(&listed, "caStreet"), "");
    assert_eq!(item(&listed, "adDistrict"), "");
    t.stop().await;
}

#[tokio::test]
async fn a_primary_user_without_the_required_items_is_refused() {
    let t = start().await;
    let full = [
        ("aifoIsds", "false"),
        ("pnGivenNames", "Karel"),
        ("pnLastName", "Úplný"),
        ("adCity", "Praha"),
        ("adStreet", "Dlouhá"),
        ("adNumberInStreet", "5"),
        ("adZipCode", "11000"),
        ("biDate", "1970-01-02"),
        ("userType", "PRIMARY_USER"),
        ("userPrivils", "255"),
    ];
    let create = |leave_out: &[&str], extra: &[(&str, &str)]| {
        let mut user: Vec<(&str, &str)> = full
            .iter()
            .copied()
            .filter(|(n, _)| !leave_out.contains(n))
            .collect();
        user.extend_from_slice(extra);
        op(
            "CreateDataBox2",
            &(complex(
                "dbOwnerInfo",
                OWNER_INFO_EXT2,
                &[
                    ("dbType", "PO"),
                    ("ic", "55667788"),
                    ("firmName", "Neúplná s.r.o."),
                ],
            ) + &format!(
                "<dbPrimaryUsers>{}</dbPrimaryUsers>",
                complex("dbUserInfo", USER_INFO_EXT2, &user)
            )),
        )
    };
    for (leave_out, code, text) in [
        (&["pnLastName"][..], "1014", "Chybí příjmení osoby"),
        (&["biDate"][..], "1015", "Chybí datum narození"),
        (&["adCity"][..], "1018", "Chybí město v adrese"),
        (
            &["adNumberInStreet"][..],
            "1019",
            "Chybí číslo popisné i orientační v adrese",
        ),
        (&["adZipCode"][..], "1033", "Chybí PSČ v adrese"),
    ] {
        let resp = expect_code(&t, OPERATOR, &create(leave_out, &[]), code).await;
        assert_eq!(resp.status().1, text);
        assert!(child(&resp, "dbID").is_none(), "{}", resp.text);
    }
    // A contact address stands in for the home address.
    let resp = expect_code(
        &t,
        OPERATOR,
        &create(
            &["adCity", "adStreet", "adNumberInStreet", "adZipCode"],
            &[
                ("caStreet", "Údolní 53"),
                ("caCity", "Brno"),
                ("caZipCode", "60200"),
            ],
        ),
        "0000",
    )
    .await;
    let box_id = child(&resp, "dbID").unwrap();
    // Nothing nameless was created: the box has its one complete user.
    let resp = expect_code(
        &t,
        OPERATOR,
        &op("GetDataBoxUsers2", &db_id(&box_id)),
        "0000",
    )
    .await;
    let body = resp.body();
    let users = body.elements().find(|e| e.name == "dbUsers").unwrap();
    assert_eq!(users.elements().count(), 1);
    // AddDataBoxUser2 of a primary user is held to the same rule; an
    // entrusted user is not.
    let mut primary = full.to_vec();
    primary.retain(|(n, _)| *n != "biDate");
    let add = |user: &[(&str, &str)]| {
        op(
            "AddDataBoxUser2",
            &(db_id(&box_id) + &complex("dbUserInfo", USER_INFO_EXT2, user)),
        )
    };
    expect_code(&t, OPERATOR, &add(&primary), "1015").await;
    expect_code(
        &t,
        OPERATOR,
        &add(&[
            ("aifoIsds", "false"),
            ("pnLastName", "Jen Jméno"),
            ("userType", "ENTRUSTED_USER"),
            ("userPrivils", "9"),
        ]),
        "0000",
    )
    .await;
    t.stop().await;
}

/// A login that succeeded a moment ago is decided from memory only while
/// nothing it was decided from changed: a deleted user, a box disabled by
/// law or a removed box show on the very next request of a login that
/// was just recalled.
#[tokio::test]
async fn a_recalled_login_sees_its_user_and_box_change_at_once() {
    let t = start().await;
    let fo = ("fo_cerny", "Demo-Fo-2026!");
    for who in [PO_LOGIN, OVM_LOGIN, fo] {
        for _ in 0..3 {
            let resp = t.soap_as(who, "/DS/dz", DUMMY).await;
            assert_eq!(resp.status().0, "0000", "{who:?}: {}", resp.text);
        }
    }
    assert_eq!(owner_item(&t, fo, "dbState").await, "1");

    let delete_user = op(
        "DeleteDataBoxUser",
        &(complex("dbOwnerInfo", OWNER_INFO, &[("dbID", "ovm4dem")])
            + &complex("dbUserInfo", USER_INFO, &[("userID", "ovm_starosta")])),
    );
    expect_code(&t, OPERATOR, &delete_user, "0000").await;
    assert_401(
        &t.soap_as(OVM_LOGIN, "/DS/dz", DUMMY).await,
        "authentication.error.userIsNotAuthenticated",
    );

    let disable = op(
        "DisableDataBoxExternally",
        &(complex("dbOwnerInfo", OWNER_INFO, &[("dbID", "fo4demo")])
            + r#"<dbOwnerDisableDate xsi:nil="true"/>"#),
    );
    expect_code(&t, OPERATOR, &disable, "0000").await;
    assert_eq!(owner_item(&t, fo, "dbState").await, "6");

    let remove = op(
        "DeleteDataBox",
        &(complex("dbOwnerInfo", OWNER_INFO, &[("dbID", "po4demo")])
            + "<dbOwnerTerminationDate>2026-01-31</dbOwnerTerminationDate>"),
    );
    expect_code(&t, OPERATOR, &remove, "0000").await;
    assert_401(
        &t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await,
        "authentication.error.userIsNotAuthenticated",
    );
    t.stop().await;
}

/// FindDataBox by ID answers what the box is now, also when the same box
/// was found a moment ago: a description changed in between shows at once,
/// in both versions of the operation.
#[tokio::test]
async fn a_box_found_by_id_a_moment_ago_is_found_as_changed() {
    let t = start().await;
    let find = |v2: bool| {
        if v2 {
            op(
                "FindDataBox2",
                &complex("dbOwnerInfo", OWNER_INFO_EXT2, &[("dbID", "fo4demo")]),
            )
        } else {
            op(
                "FindDataBox",
                &complex("dbOwnerInfo", OWNER_INFO, &[("dbID", "fo4demo")]),
            )
        }
    };
    let city = |resp: &SoapResponse| {
        let xml = resp.body_xml();
        let at = xml.find("adCity>").expect("an adCity") + "adCity>".len();
        xml[at..].split('<').next().unwrap_or_default().to_owned()
    };
    for v2 in [false, true] {
        for _ in 0..3 {
            let resp = found_by_id(&t, &find(v2)).await;
            assert_ne!(city(&resp), "Přerov", "{}", resp.text);
        }
    }
    let update = op(
        "UpdateDataBoxDescr2",
        &(db_id("fo4demo")
            + &complex(
                "dbNewOwnerInfo",
                OWNER_INFO_EXT2,
                &[("adCity", "Přerov"), ("adZipCode", "75002")],
            )),
    );
    expect_code(&t, OPERATOR, &update, "0000").await;
    for v2 in [false, true] {
        let resp = found_by_id(&t, &find(v2)).await;
        assert_eq!(city(&resp), "Přerov", "{}", resp.text);
    }
    t.stop().await;
}

/// A FindDataBox call on `/DS/df` that finds one box.
async fn found_by_id(t: &TestGateway, body: &str) -> SoapResponse {
    let resp = t.soap_as(PO_LOGIN, "/DS/df", body).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Db);
    resp
}
