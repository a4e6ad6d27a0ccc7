//! Box search (db_search, `/DS/df`) through the real interface: every
//! operation against a world built for it, each response validated
//! against the project's and the official schema.

mod common;

use common::box_requests::*;
use common::*;
use isds_gateway::config::OperatorConfig;
use isds_gateway::domain::world::synth::ic_from;
use isds_gateway::xml::Element;

const DF: &str = "/DS/df";
const PASSWORD: &str = "Hledani-Heslo-2026";
const OPERATOR: (&str, &str) = ("provozovatel", "Operator-Heslo-2026");

const OVM_ALL: (&str, &str) = ("ovm_all", PASSWORD);
const OVM_NO16: (&str, &str) = ("ovm_no16", PASSWORD);
const PO_ALL: (&str, &str) = ("po_all", PASSWORD);
const PO_NO16: (&str, &str) = ("po_no16", PASSWORD);

/// How many bakeries the world holds (more than a FindDataBox answer and
/// more than a page).
const BAKERIES: usize = 120;

fn find(values: &[(&str, &str)]) -> String {
    op(
        "FindDataBox",
        &format!("<dbOwnerInfo>{}</dbOwnerInfo>", fields(OWNER_INFO, values)),
    )
}

fn find2(values: &[(&str, &str)]) -> String {
    op(
        "FindDataBox2",
        &format!(
            "<dbOwnerInfo>{}</dbOwnerInfo>",
            fields(OWNER_INFO_EXT2, values)
        ),
    )
}

fn search(version: &str, values: &[(&str, &str)]) -> String {
    op(version, &fields(SEARCH, values))
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

fn date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The world: an OVM, a company with credit, people (one unlisted), an
/// inaccessible company and a hundred and twenty bakeries.
fn world() -> String {
    let t = today();
    let storage_now = (
        date(t - time::Duration::days(10)),
        date(t + time::Duration::days(355)),
    );
    let storage_next = (
        date(t + time::Duration::days(356)),
        date(t + time::Duration::days(720)),
    );
    let user = |id: &str, login: &str, privileges: u32, t: &str| {
        format!(
            "[[boxes.users]]\nid = \"{id}\"\nlogin = \"{login}\"\npassword = \"{PASSWORD}\"\ntype = \"{t}\"\nprivileges = {privileges}\n"
        )
    };
    let mut w = String::new();
    w.push_str(&format!(
        r#"[[boxes]]
id = "ovmsrch"
type = "OVM"
[boxes.owner]
firm_name = "Městský úřad Horní Bříza"
ic = "{ovm_ic}"
[boxes.owner.address]
city = "Horní Bříza"
street = "Třída 1. máje"
number_in_municipality = "300"
zip_code = "33012"
state = "CZ"
{ovm_all}{ovm_no16}
[[boxes]]
id = "posrch1"
type = "PO"
open_addressing = true
credit = 100000
[boxes.owner]
firm_name = "Novák Stavby s.r.o."
ic = "27074358"
[boxes.owner.address]
city = "Brno"
street = "Údolní"
number_in_street = "53"
zip_code = "60200"
state = "CZ"
[[boxes.credit_events]]
type = "message"
amount = 1000
recipient = "fonovak"
message_id = "1001"
[[boxes.credit_events]]
type = "storage"
amount = 20000
capacity = 100
from = "{s1f}"
to = "{s1t}"
[[boxes.credit_events]]
type = "storage"
amount = 20000
capacity = 200
from = "{s2f}"
to = "{s2t}"
{po_all}{po_no16}
[[boxes]]
id = "fonovak"
type = "FO"
[boxes.owner]
first_name = "Jan"
last_name = "Novák"
birth_date = "1970-01-02"
[boxes.owner.address]
city = "Brno"
street = "Lidická"
number_in_municipality = "12"
zip_code = "60200"
state = "CZ"

[[boxes]]
id = "fonovk2"
type = "FO"
[boxes.owner]
first_name = "Jana"
last_name = "Nováková"
[boxes.owner.address]
city = "Praha"
zip_code = "11000"
state = "CZ"

[[boxes]]
id = "fohide1"
type = "FO"
public_listing = false
[boxes.owner]
first_name = "Petr"
last_name = "Novák"
[boxes.owner.address]
city = "Brno"
zip_code = "60200"
state = "CZ"

[[boxes]]
id = "foopen1"
type = "FO"
public_listing = false
open_addressing = true
[boxes.owner]
first_name = "Eva"
last_name = "Nováková"
[boxes.owner.address]
city = "Brno"
zip_code = "60200"
state = "CZ"

[[boxes]]
id = "poinac1"
type = "PO"
state = 4
[boxes.owner]
firm_name = "Novák Logistika a.s."
ic = "{inac_ic}"
[boxes.owner.address]
city = "Brno"
zip_code = "60200"
state = "CZ"
"#,
        ovm_ic = ic_from(23140),
        inac_ic = ic_from(4_444_444),
        ovm_all = user("ovmsu1", "ovm_all", 255, "PRIMARY_USER"),
        ovm_no16 = user("ovmsu2", "ovm_no16", 255 & !16, "ENTRUSTED_USER"),
        po_all = user("posu01", "po_all", 255, "PRIMARY_USER"),
        po_no16 = user("posu02", "po_no16", 255 & !16, "ENTRUSTED_USER"),
        s1f = storage_now.0,
        s1t = storage_now.1,
        s2f = storage_next.0,
        s2t = storage_next.1,
    ));
    for n in 0..BAKERIES {
        w.push_str(&format!(
            "\n[[boxes]]\nid = \"pek{n:04}\"\ntype = \"PO\"\n[boxes.owner]\nfirm_name = \"Pekárna Plzeň číslo {n}\"\nic = \"{}\"\n[boxes.owner.address]\ncity = \"Plzeň\"\nzip_code = \"30100\"\nstate = \"CZ\"\n",
            ic_from(5_000_000 + n as u64)
        ));
    }
    w
}

async fn gateway() -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search-world.toml");
    std::fs::write(&path, world()).unwrap();
    TestGateway::start_in(dir, |c| {
        c.demo_world = Some(path);
        c.operator = Some(OperatorConfig {
            login: OPERATOR.0.to_owned(),
            password: OPERATOR.1.to_owned(),
        });
    })
    .await
}

/// Calls `/DS/df`, checks the status code and validates the response.
async fn call(t: &TestGateway, who: (&str, &str), body: &str, code: &str) -> SoapResponse {
    let resp = t.soap_as(who, DF, body).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.status().0, code, "{body}\n{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Db);
    resp
}

fn children<'a>(e: &'a Element, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
    e.elements().filter(move |c| c.name == name)
}

fn child_text(e: &Element, name: &str) -> String {
    children(e, name)
        .next()
        .map(|c| c.text())
        .unwrap_or_default()
}

/// The `dbID`s of a FindDataBox(2) answer.
fn found_ids(resp: &SoapResponse) -> Vec<String> {
    let body = resp.body();
    let Some(results) = children(&body, "dbResults").next() else {
        return Vec::new();
    };
    children(results, "dbOwnerInfo")
        .map(|o| child_text(o, "dbID"))
        .collect()
}

/// The `dbResult` elements of an ISDSSearch2/3 answer.
fn results(resp: &SoapResponse) -> Vec<Element> {
    let body = resp.body();
    children(&body, "dbResults")
        .next()
        .map(|r| children(r, "dbResult").cloned().collect())
        .unwrap_or_default()
}

fn result_ids(resp: &SoapResponse) -> Vec<String> {
    results(resp)
        .iter()
        .map(|r| child_text(r, "dbID"))
        .collect()
}

#[tokio::test]
async fn find_data_box_by_id_ic_and_names_with_the_type_rules() {
    let t = gateway().await;
    // By IČ.
    let r = call(
        &t,
        PO_ALL,
        &find(&[("dbType", "PO"), ("ic", "27074358")]),
        "0000",
    )
    .await;
    assert_eq!(found_ids(&r), ["posrch1"]);
    // By firm name, case and diacritics ignored, as a word of the name.
    let r = call(
        &t,
        PO_ALL,
        &find(&[("dbType", "PO"), ("firmName", "NOVAK")]),
        "0000",
    )
    .await;
    assert_eq!(
        found_ids(&r),
        ["poinac1", "posrch1"],
        "the inaccessible box too"
    );
    let body = r.body();
    let inaccessible = children(children(&body, "dbResults").next().unwrap(), "dbOwnerInfo")
        .find(|o| child_text(o, "dbID") == "poinac1")
        .unwrap();
    assert_eq!(child_text(inaccessible, "dbState"), "4");
    // People by last name: the unlisted box is not found by a PO searcher,
    // but an OVM searcher finds it; the one accepting PDZ stays findable.
    let people = find(&[("dbType", "FO"), ("pnLastName", "novák")]);
    let r = call(&t, PO_ALL, &people, "0000").await;
    assert_eq!(found_ids(&r), ["fonovak", "foopen1", "fonovk2"], "by name");
    let r = call(&t, OVM_ALL, &people, "0000").await;
    assert_eq!(found_ids(&r), ["fonovak", "fohide1", "foopen1", "fonovk2"]);
    let r = call(
        &t,
        PO_ALL,
        &find(&[
            ("dbType", "FO"),
            ("pnLastName", "Novák"),
            ("adCity", "brno"),
        ]),
        "0000",
    )
    .await;
    assert_eq!(found_ids(&r), ["fonovak", "foopen1"]);
    // By exact ID any box is found, the unlisted one too.
    let r = call(&t, PO_ALL, &find(&[("dbID", "fohide1")]), "0000").await;
    assert_eq!(found_ids(&r), ["fohide1"]);
    call(&t, PO_ALL, &find(&[("dbID", "nobox00")]), "5001").await;
    // Nothing found; no type; too general for the type.
    call(
        &t,
        PO_ALL,
        &find(&[("dbType", "PO"), ("firmName", "Zlatnictví")]),
        "0002",
    )
    .await;
    call(&t, PO_ALL, &find(&[("firmName", "Novák")]), "1101").await;
    call(
        &t,
        PO_ALL,
        &find(&[("dbType", "PO"), ("firmName", "No")]),
        "0003",
    )
    .await;
    call(
        &t,
        PO_ALL,
        &find(&[("dbType", "FO"), ("adCity", "Brno")]),
        "0003",
    )
    .await;
    // More than a FindDataBox answer holds: truncated to 100.
    let r = call(
        &t,
        PO_ALL,
        &find(&[("dbType", "PO"), ("firmName", "pekarna")]),
        "0003",
    )
    .await;
    assert_eq!(found_ids(&r).len(), 100);
    // FindDataBox2 takes the version-2 description.
    let r = call(
        &t,
        PO_ALL,
        &find2(&[
            ("dbType", "FO"),
            ("pnLastName", "NOVÁKOVÁ"),
            ("pnGivenNames", "jana"),
        ]),
        "0000",
    )
    .await;
    assert_eq!(found_ids(&r), ["fonovk2"]);
    let r = call(
        &t,
        OVM_ALL,
        &find2(&[("dbType", "OVM"), ("firmName", "briza")]),
        "0000",
    )
    .await;
    assert_eq!(found_ids(&r), ["ovmsrch"]);
    let body = r.body();
    let owner = children(children(&body, "dbResults").next().unwrap(), "dbOwnerInfo")
        .next()
        .unwrap();
    assert_eq!(child_text(owner, "dbIdOVM"), ic_from(23140));
    t.stop().await;
}

#[tokio::test]
async fn full_text_search_folds_case_and_diacritics_and_hides_unlisted_boxes() {
    let t = gateway().await;
    let ids = |r: &SoapResponse| {
        let mut v = result_ids(r);
        v.sort();
        v
    };
    let mut seen = Vec::new();
    for text in ["Novák brno", "NOVAK BRNO", "novák Brno", "nov brn"] {
        let r = call(
            &t,
            PO_ALL,
            &search("ISDSSearch2", &[("searchText", text)]),
            "0000",
        )
        .await;
        seen.push(ids(&r));
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    assert_eq!(seen[0], ["fonovak", "foopen1", "poinac1", "posrch1"]);
    // The OVM searcher also finds the unlisted box.
    let r = call(
        &t,
        OVM_ALL,
        &search("ISDSSearch2", &[("searchText", "novák brno")]),
        "0000",
    )
    .await;
    assert_eq!(
        ids(&r),
        ["fohide1", "fonovak", "foopen1", "poinac1", "posrch1"]
    );
    // Scopes, address-only search, IČ, box ID.
    let r = call(
        &t,
        PO_ALL,
        &search(
            "ISDSSearch2",
            &[("searchText", "novák"), ("searchScope", "FO")],
        ),
        "0000",
    )
    .await;
    assert_eq!(ids(&r), ["fonovak", "fonovk2", "foopen1"]);
    let r = call(
        &t,
        PO_ALL,
        &search(
            "ISDSSearch2",
            &[("searchText", "praha"), ("searchType", "ADDRESS")],
        ),
        "0000",
    )
    .await;
    assert_eq!(ids(&r), ["fonovk2"]);
    let r = call(
        &t,
        PO_ALL,
        &search(
            "ISDSSearch2",
            &[("searchText", "27074358"), ("searchType", "ICO")],
        ),
        "0000",
    )
    .await;
    assert_eq!(ids(&r), ["posrch1"]);
    let r = call(
        &t,
        PO_ALL,
        &search(
            "ISDSSearch2",
            &[("searchText", "fohide1"), ("searchType", "DBID")],
        ),
        "0000",
    )
    .await;
    assert_eq!(
        ids(&r),
        ["fohide1"],
        "an exact box ID finds the unlisted box"
    );
    // The result: name, address, send options (DISABLED for the
    // inaccessible box, PDZ for the one accepting commercial messages,
    // NONE for the one that does not), highlighting markers.
    let r = call(
        &t,
        PO_ALL,
        &search(
            "ISDSSearch2",
            &[("searchText", "novák brno"), ("highlighting", "true")],
        ),
        "0000",
    )
    .await;
    let by_id = |id: &str| {
        results(&r)
            .into_iter()
            .find(|e| child_text(e, "dbID") == id)
            .unwrap()
    };
    let po = by_id("posrch1");
    assert_eq!(
        child_text(&po, "dbName"),
        "|$*HL_START*$|Novák|$*HL_END*$| Stavby s.r.o."
    );
    assert_eq!(
        child_text(&po, "dbAddress"),
        "Údolní 53, 60200 |$*HL_START*$|Brno|$*HL_END*$|"
    );
    assert_eq!(child_text(&po, "dbICO"), "27074358");
    assert_eq!(child_text(&po, "dbSendOptions"), "PDZ");
    assert_eq!(child_text(&po, "dbEffectiveOVM"), "false");
    assert_eq!(child_text(&by_id("poinac1"), "dbSendOptions"), "DISABLED");
    assert_eq!(child_text(&by_id("fonovak"), "dbSendOptions"), "NONE");
    assert_eq!(child_text(&by_id("fonovak"), "dbBiDate"), "1970-01-02");
    // To an OVM searcher the person is reachable by public messages.
    let r = call(
        &t,
        OVM_ALL,
        &search("ISDSSearch2", &[("searchText", "jan novák")]),
        "0000",
    )
    .await;
    let fo = results(&r)
        .into_iter()
        .find(|e| child_text(e, "dbID") == "fonovak")
        .unwrap();
    assert_eq!(child_text(&fo, "dbSendOptions"), "DZ");
    assert_eq!(
        child_text(&fo, "dbName"),
        "Jan Novák",
        "no markers unless asked"
    );
    // Nothing found is a success with no results.
    let r = call(
        &t,
        PO_ALL,
        &search("ISDSSearch2", &[("searchText", "zlatokop")]),
        "0000",
    )
    .await;
    assert_eq!(child_text(&r.body(), "totalCount"), "0");
    t.stop().await;
}

#[tokio::test]
async fn full_text_paging_limits_and_isdssearch3() {
    let t = gateway().await;
    let page = |p: &str, size: &str| {
        search(
            "ISDSSearch2",
            &[
                ("searchText", "pekárna plzeň"),
                ("page", p),
                ("pageSize", size),
            ],
        )
    };
    let mut all = Vec::new();
    for (p, current, last) in [("0", 50, "false"), ("1", 50, "false"), ("2", 20, "true")] {
        let r = call(&t, PO_ALL, &page(p, "50"), "0000").await;
        let body = r.body();
        assert_eq!(child_text(&body, "totalCount"), BAKERIES.to_string());
        assert_eq!(child_text(&body, "currentCount"), current.to_string());
        assert_eq!(
            child_text(&body, "position"),
            (p.parse::<usize>().unwrap() * 50).to_string()
        );
        assert_eq!(child_text(&body, "lastPage"), last);
        all.extend(result_ids(&r));
    }
    let distinct: std::collections::BTreeSet<_> = all.iter().collect();
    assert_eq!(distinct.len(), BAKERIES, "pages do not overlap");
    // Default page size is 50; over 100 is refused; short phrases too.
    let r = call(
        &t,
        PO_ALL,
        &search("ISDSSearch2", &[("searchText", "pekárna")]),
        "0000",
    )
    .await;
    assert_eq!(result_ids(&r).len(), 50);
    call(&t, PO_ALL, &page("0", "101"), "1156").await;
    call(&t, PO_ALL, &page("-1", "10"), "1155").await;
    call(
        &t,
        PO_ALL,
        &search("ISDSSearch2", &[("searchText", "a")]),
        "1180",
    )
    .await;
    call(
        &t,
        PO_ALL,
        &search("ISDSSearch2", &[("searchText", "a b")]),
        "1180",
    )
    .await;
    call(
        &t,
        PO_ALL,
        &search(
            "ISDSSearch2",
            &[("searchText", "12x"), ("searchType", "ICO")],
        ),
        "1154",
    )
    .await;
    call(
        &t,
        PO_ALL,
        &search(
            "ISDSSearch2",
            &[("searchText", "BAD_ID!"), ("searchType", "DBID")],
        ),
        "1153",
    )
    .await;
    // ISDSSearch3: the OVM identifier search and dbIdOVM.
    let ovm_ic = ic_from(23140);
    let r = call(
        &t,
        PO_ALL,
        &search(
            "ISDSSearch3",
            &[("searchText", &ovm_ic), ("searchType", "IDOVM")],
        ),
        "0000",
    )
    .await;
    let hits = results(&r);
    assert_eq!(hits.len(), 1);
    assert_eq!(child_text(&hits[0], "dbID"), "ovmsrch");
    assert_eq!(child_text(&hits[0], "dbIdOVM"), ovm_ic);
    assert_eq!(child_text(&hits[0], "dbSendOptions"), "DZ");
    let r = call(
        &t,
        PO_ALL,
        &search(
            "ISDSSearch3",
            &[("searchText", "27074358"), ("searchType", "IDOVM")],
        ),
        "0000",
    )
    .await;
    assert!(results(&r).is_empty(), "a company has no OVM identifier");
    let r = call(
        &t,
        PO_ALL,
        &search(
            "ISDSSearch3",
            &[("searchText", "horní bříza"), ("searchScope", "OVM_MAIN")],
        ),
        "0000",
    )
    .await;
    assert_eq!(result_ids(&r), ["ovmsrch"]);
    t.stop().await;
}

#[tokio::test]
async fn searching_needs_the_search_right() {
    let t = gateway().await;
    for who in [PO_NO16, OVM_NO16] {
        call(
            &t,
            who,
            &find(&[("dbType", "PO"), ("ic", "27074358")]),
            "1004",
        )
        .await;
        call(
            &t,
            who,
            &find2(&[("dbType", "PO"), ("ic", "27074358")]),
            "1004",
        )
        .await;
        call(
            &t,
            who,
            &search("ISDSSearch2", &[("searchText", "novák")]),
            "1004",
        )
        .await;
        call(
            &t,
            who,
            &search("ISDSSearch3", &[("searchText", "novák")]),
            "1004",
        )
        .await;
        // Checking a known box needs no right.
        call(&t, who, &op("CheckDataBox", "<dbID>posrch1</dbID>"), "0000").await;
    }
    // FindPersonalDataBox: right 16 in an OVM box.
    let personal = |last: &str| {
        op(
            "FindPersonalDataBox",
            &format!(
                "<dbOwnerInfo>{}</dbOwnerInfo>",
                fields(PERSONAL_OWNER_INFO, &[("pnLastName", last)])
            ),
        )
    };
    call(&t, PO_ALL, &personal("Novák"), "1004").await;
    call(&t, OVM_NO16, &personal("Novák"), "1004").await;
    let r = call(&t, OVM_ALL, &personal("NOVÁK"), "0000").await;
    assert_eq!(found_ids(&r), ["fonovak", "fohide1"]);
    call(&t, OVM_ALL, &personal("Novákov"), "0002").await;
    t.stop().await;
}

#[tokio::test]
async fn check_data_box_reports_states() {
    let t = gateway().await;
    let check = |id: &str| op("CheckDataBox", &format!("<dbID>{id}</dbID>"));
    let r = call(&t, PO_NO16, &check("posrch1"), "0000").await;
    assert_eq!(child_text(&r.body(), "dbState"), "1");
    let r = call(&t, PO_NO16, &check("poinac1"), "0000").await;
    assert_eq!(child_text(&r.body(), "dbState"), "4");
    let r = call(&t, PO_NO16, &check("fohide1"), "0000").await;
    assert_eq!(child_text(&r.body(), "dbState"), "1");
    call(&t, PO_NO16, &check("nobox00"), "5001").await;
    t.stop().await;
}

#[tokio::test]
async fn malformed_box_ids_are_answered_with_a_status_not_a_fault() {
    let t = gateway().await;
    // WS_vyhledavani_datovych_schranek 2.3: a malformed box ID is 2011 (or
    // 1007 when none is given), in the operation's own response.
    let check = |id: &str| op("CheckDataBox", &format!("<dbID>{id}</dbID>"));
    for bad in ["NOBOX00", "x", "posrch12", "pos rch", "po-srch"] {
        let r = call(&t, PO_NO16, &check(bad), "2011").await;
        assert_eq!(r.body().name, "CheckDataBoxResponse");
        assert_eq!(r.status().1, "Chyba ve struktuře ID datové schránky.");
    }
    call(&t, PO_NO16, &check(""), "1007").await;
    for (operation, inner) in [
        (
            "DataBoxCreditInfo",
            "<dbID>abc</dbID><ciFromDate xsi:nil=\"true\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"/><ciTodate xsi:nil=\"true\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"/>",
        ),
        ("DTInfo", "<dbID>ABCDEFGH</dbID>"),
        ("PDZSendInfo", "<dbId>12</dbId><PDZType>Normal</PDZType>"),
        ("PDZInfo", "<PDZSender>too-long-id</PDZSender>"),
    ] {
        let r = call(&t, PO_ALL, &op(operation, inner), "2011").await;
        assert_eq!(r.body().name, format!("{operation}Response"));
    }
    let activity = op(
        "GetDataBoxActivityStatus",
        "<dbID>bad</dbID><baFrom>2020-01-01T00:00:00</baFrom><baTo>2020-01-02T00:00:00</baTo>",
    );
    call(&t, OVM_ALL, &activity, "2011").await;
    t.stop().await;
}

#[tokio::test]
async fn find_data_box2_by_the_ovm_identifier_and_activity_until_now() {
    let t = gateway().await;
    // dbIdOVM alone finds the one OVM box; other items are ignored.
    let ovm_id = ic_from(23140);
    for who in [PO_ALL, OVM_ALL] {
        let r = call(&t, who, &find2(&[("dbIdOVM", &ovm_id)]), "0000").await;
        assert_eq!(found_ids(&r), ["ovmsrch"]);
    }
    let r = call(
        &t,
        PO_ALL,
        &find2(&[("dbIdOVM", &ovm_id), ("dbType", "PO"), ("firmName", "nic")]),
        "0000",
    )
    .await;
    assert_eq!(found_ids(&r), ["ovmsrch"]);
    // No OVM has it: 0002 (a PO's IČ is no OVM identifier).
    call(&t, PO_ALL, &find2(&[("dbIdOVM", "99999999")]), "0002").await;
    let po_ic = ic_from(5_000_000);
    call(&t, PO_ALL, &find2(&[("dbIdOVM", &po_ic)]), "0002").await;

    // GetDataBoxActivityStatus without baTo (empty, nil or absent) asks
    // until now; without baFrom since the box was created.
    let xsi = "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"";
    for inner in [
        "<dbID>posrch1</dbID><baFrom>2020-01-01T00:00:00</baFrom><baTo/>".to_owned(),
        "<dbID>posrch1</dbID><baFrom>2020-01-01T00:00:00</baFrom><baTo></baTo>".to_owned(),
        format!(
            "<dbID>posrch1</dbID><baFrom>2020-01-01T00:00:00</baFrom><baTo xsi:nil=\"true\" {xsi}/>"
        ),
        "<dbID>posrch1</dbID><baFrom>2020-01-01T00:00:00</baFrom>".to_owned(),
        "<dbID>posrch1</dbID>".to_owned(),
        format!(
            "<dbID>posrch1</dbID><baFrom xsi:nil=\"true\" {xsi}/><baTo xsi:nil=\"true\" {xsi}/>"
        ),
    ] {
        let before = time::OffsetDateTime::now_utc() - time::Duration::seconds(2);
        let r = call(&t, OVM_ALL, &op("GetDataBoxActivityStatus", &inner), "0000").await;
        let body = r.body();
        assert_eq!(child_text(&body, "dbID"), "posrch1", "{inner}");
        let periods: Vec<Element> = children(children(&body, "Periods").next().unwrap(), "Period")
            .cloned()
            .collect();
        let last = periods
            .last()
            .unwrap_or_else(|| panic!("no period: {inner}"));
        assert_eq!(child_text(last, "DbState"), "1", "{inner}");
        let to = time::OffsetDateTime::parse(
            &child_text(last, "PeriodTo"),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert!(to >= before, "{inner}: {to} is not now");
        assert!(
            to <= time::OffsetDateTime::now_utc() + time::Duration::seconds(2),
            "{inner}"
        );
    }
    t.stop().await;
}

#[tokio::test]
async fn credit_commercial_messages_and_the_long_term_storage() {
    let t = gateway().await;
    let credit = |id: &str, from: &str, to: &str| {
        let given: Vec<(&str, &str)> = [("ciFromDate", from), ("ciTodate", to)]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let dates = fields(&["ciFromDate", "ciTodate"], &given);
        op("DataBoxCreditInfo", &format!("<dbID>{id}</dbID>{dates}"))
    };
    let t0 = date(today() - time::Duration::days(1));
    let t1 = date(today() + time::Duration::days(1));
    let r = call(&t, PO_NO16, &credit("posrch1", &t0, &t1), "0000").await;
    let body = r.body();
    // 100000 - 1000 (message) - 2 × 20000 (storage orders).
    assert_eq!(child_text(&body, "currentCredit"), "59000");
    let records: Vec<Element> = children(children(&body, "ciRecords").next().unwrap(), "ciRecord")
        .cloned()
        .collect();
    let types: Vec<String> = records
        .iter()
        .map(|r| child_text(r, "ciEventType"))
        .collect();
    assert_eq!(types, ["1", "3", "4", "4"]);
    assert_eq!(child_text(&records[1], "ciRecipientID"), "fonovak");
    assert_eq!(child_text(&records[1], "ciCreditChange"), "-1000");
    assert_eq!(child_text(&records[1], "ciCreditAfter"), "99000");
    assert_eq!(child_text(&records[2], "ciNewCapacity"), "100");
    // Without an interval: the balance and no history.
    let r = call(&t, PO_ALL, &credit("posrch1", "", ""), "0000").await;
    assert!(
        children(children(&r.body(), "ciRecords").next().unwrap(), "ciRecord")
            .next()
            .is_none()
    );
    // Only the own box; not too long an interval.
    call(&t, PO_ALL, &credit("ovmsrch", "", ""), "1004").await;
    call(&t, PO_ALL, &credit("nobox00", "", ""), "5001").await;
    call(
        &t,
        PO_ALL,
        &credit("posrch1", "2026-01-01", "2026-06-30"),
        "1137",
    )
    .await;

    // PDZ: paid from the credit.
    let r = call(
        &t,
        PO_ALL,
        &op("PDZInfo", "<PDZSender>posrch1</PDZSender>"),
        "0000",
    )
    .await;
    let body = r.body();
    let rec = children(
        children(&body, "dbPDZRecords").next().unwrap(),
        "dbPDZRecord",
    )
    .next()
    .unwrap()
    .clone();
    assert_eq!(child_text(&rec, "PDZType"), "E");
    assert_eq!(child_text(&rec, "PDZPayer"), "posrch1");
    assert_eq!(child_text(&rec, "PDZCnt"), "59");
    call(
        &t,
        PO_ALL,
        &op("PDZInfo", "<PDZSender>ovmsrch</PDZSender>"),
        "1004",
    )
    .await;
    let send_info = |kind: &str| {
        op(
            "PDZSendInfo",
            &format!("<dbId>posrch1</dbId><PDZType>{kind}</PDZType>"),
        )
    };
    for kind in ["Normal", "Init", "VoDZ"] {
        let r = call(&t, PO_ALL, &send_info(kind), "0000").await;
        assert_eq!(child_text(&r.body(), "PDZsiResult"), "true", "{kind}");
    }
    // A box without credit cannot pay.
    let r = call(
        &t,
        OVM_ALL,
        &op(
            "PDZSendInfo",
            "<dbId>ovmsrch</dbId><PDZType>Normal</PDZType>",
        ),
        "0000",
    )
    .await;
    assert_eq!(child_text(&r.body(), "PDZsiResult"), "false");

    // The storage: the active order and the next one.
    let r = call(&t, PO_ALL, &op("DTInfo", "<dbId>posrch1</dbId>"), "0000").await;
    let body = r.body();
    assert_eq!(child_text(&body, "ActDTType"), "1");
    assert_eq!(child_text(&body, "ActDTCapacity"), "100");
    assert_eq!(child_text(&body, "FutDTCapacity"), "200");
    assert_eq!(child_text(&body, "FutDTPaid"), "1");
    let r = call(&t, OVM_ALL, &op("DTInfo", "<dbId>ovmsrch</dbId>"), "0000").await;
    assert_eq!(child_text(&r.body(), "ActDTType"), "0");
    call(&t, OVM_ALL, &op("DTInfo", "<dbId>posrch1</dbId>"), "1004").await;
    t.stop().await;
}

#[tokio::test]
async fn activity_history_and_the_index_follow_box_changes() {
    let t = gateway().await;
    let from = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    let fmt = |d: time::OffsetDateTime| {
        d.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    // The owner disables the box; search and checks see it at once.
    let manage = |name: &str| op(name, "<dbID>posrch1</dbID>");
    let r = t
        .soap_as(PO_ALL, "/DS/DsManage", &manage("DisableOwnDataBox2"))
        .await;
    assert_eq!(r.status().0, "0000", "{}", r.text);
    let r = call(
        &t,
        PO_ALL,
        &search("ISDSSearch2", &[("searchText", "novák stavby")]),
        "0000",
    )
    .await;
    let hit = results(&r).into_iter().next().unwrap();
    assert_eq!(child_text(&hit, "dbSendOptions"), "DISABLED");
    let r = call(
        &t,
        PO_ALL,
        &op("CheckDataBox", "<dbID>posrch1</dbID>"),
        "0000",
    )
    .await;
    assert_eq!(child_text(&r.body(), "dbState"), "2");

    let to = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let activity = op(
        "GetDataBoxActivityStatus",
        &format!(
            "<dbID>posrch1</dbID><baFrom>{}</baFrom><baTo>{}</baTo>",
            fmt(from),
            fmt(to)
        ),
    );
    let r = call(&t, OVM_ALL, &activity, "0000").await;
    let body = r.body();
    assert_eq!(child_text(&body, "dbID"), "posrch1");
    let periods: Vec<Element> = children(children(&body, "Periods").next().unwrap(), "Period")
        .cloned()
        .collect();
    let states: Vec<String> = periods.iter().map(|p| child_text(p, "DbState")).collect();
    assert_eq!(states, ["1", "0"]);
    assert_eq!(
        child_text(&periods[0], "PeriodTo"),
        child_text(&periods[1], "PeriodFrom")
    );
    call(&t, PO_ALL, &activity, "1004").await;

    // The operator renames the company: the index follows in the same
    // write.
    let rename = op(
        "UpdateDataBoxDescr2",
        &format!(
            "<dbID>posrch1</dbID><dbNewOwnerInfo>{}</dbNewOwnerInfo>",
            fields(OWNER_INFO_EXT2, &[("firmName", "Dvořák Stavby s.r.o.")])
        ),
    );
    let r = t.soap_as(OPERATOR, "/DS/DsManage", &rename).await;
    assert_eq!(r.status().0, "0000", "{}", r.text);
    let r = call(
        &t,
        PO_ALL,
        &search("ISDSSearch2", &[("searchText", "dvořák stavby")]),
        "0000",
    )
    .await;
    assert_eq!(result_ids(&r), ["posrch1"]);
    let r = call(
        &t,
        PO_ALL,
        &search("ISDSSearch2", &[("searchText", "novák stavby")]),
        "0000",
    )
    .await;
    assert!(result_ids(&r).is_empty());
    let r = call(
        &t,
        PO_ALL,
        &find(&[("dbType", "PO"), ("firmName", "dvorak")]),
        "0000",
    )
    .await;
    assert_eq!(found_ids(&r), ["posrch1"]);
    t.stop().await;
}

/// The `dbOwnerInfo` of box `id` in a FindDataBox(2) answer.
fn found_owner(resp: &SoapResponse, id: &str) -> Element {
    let body = resp.body();
    let results = children(&body, "dbResults").next().expect("results");
    children(results, "dbOwnerInfo")
        .find(|o| child_text(o, "dbID") == id)
        .cloned()
        .expect("the box is found")
}

#[tokio::test]
async fn answers_show_a_description_changed_after_the_start_in_fields_no_search_reads() {
    let t = gateway().await;
    let by_name = find2(&[("dbType", "PO"), ("firmName", "novák stavby")]);
    let r = call(&t, PO_ALL, &by_name, "0000").await;
    let owner = found_owner(&r, "posrch1");
    assert_eq!(child_text(&owner, "nationality"), "");
    assert_eq!(child_text(&owner, "adCode"), "");
    // The operator adds the nationality and the address code; every
    // searched field stays as it was.
    let same = [
        ("dbType", "PO"),
        ("firmName", "Novák Stavby s.r.o."),
        ("ic", "27074358"),
        ("adCity", "Brno"),
        ("adStreet", "Údolní"),
        ("adNumberInStreet", "53"),
        ("adZipCode", "60200"),
        ("adState", "CZ"),
    ];
    let mut values = same.to_vec();
    values.extend([("nationality", "SK"), ("adCode", "21467641")]);
    let update = op(
        "UpdateDataBoxDescr2",
        &format!(
            "<dbID>posrch1</dbID><dbNewOwnerInfo>{}</dbNewOwnerInfo>",
            fields(OWNER_INFO_EXT2, &values)
        ),
    );
    let r = t.soap_as(OPERATOR, "/DS/DsManage", &update).await;
    assert_eq!(r.status().0, "0000", "{}", r.text);
    // The next answers show the new values, by name and by IČ alike.
    for query in [
        by_name.clone(),
        find2(&[("dbType", "PO"), ("ic", "27074358")]),
    ] {
        let r = call(&t, PO_ALL, &query, "0000").await;
        let owner = found_owner(&r, "posrch1");
        assert_eq!(child_text(&owner, "nationality"), "SK", "{}", r.text);
        assert_eq!(child_text(&owner, "adCode"), "21467641", "{}", r.text);
    }
    t.stop().await;
}

#[tokio::test]
async fn constants_addresses_and_box_lists() {
    let t = gateway().await;
    let r = call(
        &t,
        PO_NO16,
        &op("GetConstants", r#"<constDate xsi:nil="true"/>"#),
        "0000",
    )
    .await;
    let body = r.body();
    let names: Vec<String> = children(
        children(&body, "constRecords").next().unwrap(),
        "constRecord",
    )
    .map(|c| child_text(c, "cName"))
    .collect();
    assert!(names.contains(&"PDZ_PRICE_NORMAL".to_owned()), "{names:?}");
    let r = call(
        &t,
        PO_NO16,
        &op("GetConstants", "<constDate>2000-01-01</constDate>"),
        "0000",
    )
    .await;
    assert!(
        children(
            children(&r.body(), "constRecords").next().unwrap(),
            "constRecord"
        )
        .next()
        .is_none()
    );

    // GetDataBoxAddress has no status block.
    let r = t
        .soap_as(
            PO_NO16,
            DF,
            &op("GetDataBoxAddress", "<dbID>posrch1</dbID>"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_valid(&r.body_xml(), Xsd::Db);
    let body = r.body();
    assert_eq!(child_text(&body, "adCity"), "Brno");
    assert_eq!(child_text(&body, "adFullAddress1"), "Údolní 53");
    assert_eq!(child_text(&body, "adFullAddress2"), "60200 Brno");
    let r = t
        .soap_as(
            PO_NO16,
            DF,
            &op("GetDataBoxAddress", "<dbID>nobox00</dbID>"),
        )
        .await;
    let (code, text) = r.fault();
    assert!(
        code.ends_with("Client") && text.starts_with("5001"),
        "{code} {text}"
    );

    // Box lists: a ZIP with a CSV; the full list only for OVM boxes.
    let list = |kind: &str| op("GetDataBoxList", &format!("<dblType>{kind}</dblType>"));
    let csv_of = |r: &SoapResponse| {
        use base64::Engine;
        let zip = base64::engine::general_purpose::STANDARD
            .decode(child_text(&r.body(), "dblData").trim())
            .unwrap();
        assert_eq!(&zip[..4], b"PK\x03\x04");
        // A stored entry: the data follows the 30-byte header and the name.
        let name_len = u16::from_le_bytes([zip[26], zip[27]]) as usize;
        let size = u32::from_le_bytes([zip[18], zip[19], zip[20], zip[21]]) as usize;
        let name = String::from_utf8(zip[30..30 + name_len].to_vec()).unwrap();
        let data = &zip[30 + name_len..30 + name_len + size];
        (name, String::from_utf8(data.to_vec()).unwrap())
    };
    let r = call(&t, PO_NO16, &list("POA"), "0000").await;
    let (name, csv) = csv_of(&r);
    assert!(
        name.starts_with("puboa") && name.ends_with(".csv"),
        "{name}"
    );
    assert!(csv.starts_with("dbID,ic\n"));
    assert!(csv.contains("posrch1,27074358\n"));
    assert!(!csv.contains("fonovak"));
    call(&t, PO_NO16, &list("ALL"), "1004").await;
    call(&t, PO_NO16, &list("OPN"), "1004").await;
    let r = call(&t, OVM_ALL, &list("ALL"), "0000").await;
    let (name, csv) = csv_of(&r);
    assert!(name.starts_with("actds"), "{name}");
    assert!(csv.contains("fohide1,FO,Petr,,Novák,"), "{csv}");
    assert!(
        !csv.contains("poinac1"),
        "inaccessible boxes are not listed"
    );
    t.stop().await;
}

fn cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_isds-gateway"))
        .args(args)
        .env_remove("ISDS_GATEWAY_DATA")
        .output()
        .expect("the binary runs")
}

#[tokio::test]
async fn a_synthetic_population_is_searchable_and_its_credit_adjustable() {
    use isds_gateway::domain::world::synth::{SYNTH_PASSWORD, box_id_of, login_of};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let out = cli(&[
        "fixtures", "synth", "--boxes", "400", "--seed", "5", "--batch", "128", "--data", data_arg,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["boxes"], 400);
    assert_eq!(report["users"], 400);
    assert_eq!(report["by_type"].as_object().unwrap().len(), 22);
    assert_eq!(report["first_login"], login_of(0, 5));

    // The credit of a box: charged, then refused below zero.
    let first = box_id_of(0, 5);
    let out = cli(&[
        "box", "credit", "--box", &first, "--amount", "25000", "--data", data_arg,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&[
        "box",
        "credit",
        "--box",
        &first,
        "--amount",
        "-999999999",
        "--data",
        data_arg,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("below zero"));
    let out = cli(&[
        "box", "credit", "--box", &first, "--data", data_arg, "--json",
    ]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let credit = shown["credit"].as_i64().unwrap();
    assert!(credit >= 25000, "{shown}");

    // Served: the first box's user finds their own box by its name.
    let t = TestGateway::start_in(dir, |c| c.data_dir = data.clone()).await;
    let me = (login_of(0, 5), SYNTH_PASSWORD.to_owned());
    let me = (me.0.as_str(), me.1.as_str());
    let r = call(
        &t,
        me,
        &op("CheckDataBox", &format!("<dbID>{first}</dbID>")),
        "0000",
    )
    .await;
    assert!(!child_text(&r.body(), "dbState").is_empty());
    let r = t
        .soap_as(
            me,
            DF,
            &op("GetDataBoxAddress", &format!("<dbID>{first}</dbID>")),
        )
        .await;
    let city = child_text(&r.body(), "adCity");
    assert!(!city.is_empty());
    let r = call(
        &t,
        me,
        &search(
            "ISDSSearch2",
            &[("searchText", &first), ("searchType", "DBID")],
        ),
        "0000",
    )
    .await;
    assert_eq!(result_ids(&r), std::slice::from_ref(&first));
    let name = child_text(&results(&r)[0], "dbName");
    let r = call(
        &t,
        me,
        &search("ISDSSearch2", &[("searchText", &name), ("pageSize", "100")]),
        "0000",
    )
    .await;
    assert!(result_ids(&r).contains(&first), "{name}: {}", r.text);
    let r = call(
        &t,
        me,
        &op(
            "DataBoxCreditInfo",
            &format!(
                r#"<dbID>{first}</dbID><ciFromDate xsi:nil="true"/><ciTodate xsi:nil="true"/>"#
            ),
        ),
        "0000",
    )
    .await;
    assert_eq!(child_text(&r.body(), "currentCredit"), credit.to_string());
    t.stop().await;
}

/// Boxes of every kind named after smiths, for the type rules.
fn smiths_world() -> String {
    let user = format!(
        "[[boxes.users]]\nid = \"kovsu1\"\nlogin = \"kov_all\"\npassword = \"{PASSWORD}\"\ntype = \"PRIMARY_USER\"\nprivileges = 255\n"
    );
    let boxes = [
        ("kovovm1", "OVM", "Obecní úřad Kovářov", "00510521", ""),
        (
            "kovovm2",
            "OVM_REQ",
            "Obecní úřad Kovářov podatelna",
            "00510521",
            "",
        ),
        ("kovovm3", "OVM_PO", "Kovárna Kovářov a.s.", "27000001", ""),
        (
            "kovovm4",
            "OVM_PFO",
            "Notářka Kovářová",
            "27000002",
            "Kovářová",
        ),
        ("kovpo01", "PO", "Kovářství Kovář s.r.o.", "27000003", ""),
        ("kovpo02", "PO_REQ", "Spolek kovářů Kovář", "27000004", ""),
        ("kovpfo1", "PFO", "Josef Kovář", "27000005", "Kovář"),
        ("kovpfo2", "PFO_ADVOK", "Advokát Kovář", "27000006", "Kovář"),
        (
            "kovpfo3",
            "PFO_INSSPR",
            "Insolvenční správce Kovář",
            "27000007",
            "Kovář",
        ),
    ];
    let mut w = String::new();
    for (i, (id, kind, firm, ic, last)) in boxes.iter().enumerate() {
        let names = if last.is_empty() {
            String::new()
        } else {
            format!("first_name = \"Jana\"\nlast_name = \"{last}\"\n")
        };
        w.push_str(&format!(
            "[[boxes]]\nid = \"{id}\"\ntype = \"{kind}\"\n[boxes.owner]\nfirm_name = \"{firm}\"\nic = \"{ic}\"\n{names}[boxes.owner.address]\ncity = \"Kovářov\"\nzip_code = \"39855\"\nstate = \"CZ\"\n"
        ));
        if i == 0 {
            w.push_str(&user);
        }
        w.push('\n');
    }
    w
}

/// FindDataBox2's 3.11 input: the virtual types OVM_MAIN, PO_BASE and
/// PFO_BASE take the base type alone, the gross types their kinds as the
/// search manual's table gives them, and the 3.09 names 3.11 dropped keep
/// working with the manual's translations; ISDSSearch2/3 alike.
#[tokio::test]
async fn find_data_box2_and_full_text_take_the_3_11_types_and_the_old_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smiths.toml");
    std::fs::write(&path, smiths_world()).unwrap();
    let t = TestGateway::start_in(dir, |c| c.demo_world = Some(path)).await;
    let who = ("kov_all", PASSWORD);
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    for (db_type, criterion, expected) in [
        (
            "OVM",
            ("firmName", "Kovářov"),
            &["kovovm1", "kovovm2", "kovovm3", "kovovm4"][..],
        ),
        ("OVM_MAIN", ("firmName", "Kovářov"), &["kovovm1"]),
        ("OVM_REQ", ("firmName", "Kovářov"), &["kovovm2"]),
        // OVM_PO is searched among OVM (manual: old types on input).
        (
            "OVM_PO",
            ("firmName", "Kovářov"),
            &["kovovm1", "kovovm2", "kovovm3", "kovovm4"],
        ),
        ("OVM_PFO", ("ic", "27000002"), &["kovovm4"]),
        ("OVM_NOTAR", ("ic", "27000002"), &["kovovm4"]),
        ("OVM_EXEKUT", ("ic", "27000002"), &["kovovm4"]),
        (
            "PO",
            ("firmName", "Kovář"),
            &["kovovm3", "kovpo01", "kovpo02"],
        ),
        ("PO_BASE", ("firmName", "Kovář"), &["kovpo01"]),
        (
            "PO_ZAK",
            ("firmName", "Kovář"),
            &["kovovm3", "kovpo01", "kovpo02"],
        ),
        ("PO_REQ", ("firmName", "Kovář"), &["kovpo02"]),
        (
            "PFO",
            ("pnLastName", "Kovář"),
            &["kovpfo1", "kovpfo2", "kovpfo3"],
        ),
        ("PFO_BASE", ("pnLastName", "Kovář"), &["kovpfo1"]),
        ("PFO_ADVOK", ("pnLastName", "Kovář"), &["kovpfo2"]),
        ("PFO_INSSPR", ("pnLastName", "Kovář"), &["kovpfo3"]),
    ] {
        let r = call(&t, who, &find2(&[("dbType", db_type), criterion]), "0000").await;
        assert_eq!(
            sorted(found_ids(&r)),
            expected,
            "FindDataBox2 dbType {db_type}"
        );
    }
    // A name neither version knows is still refused by the schema.
    let r = t
        .soap_as(
            who,
            DF,
            &find2(&[("dbType", "PO_NOPE"), ("ic", "27000003")]),
        )
        .await;
    assert_eq!(r.status, 500, "{}", r.text);

    for version in ["ISDSSearch2", "ISDSSearch3"] {
        for (scope, expected) in [
            ("OVM_MAIN", &["kovovm1"][..]),
            ("PO", &["kovovm3", "kovpo01", "kovpo02"]),
            ("PO_BASE", &["kovpo01"]),
            ("PO_ZAK", &["kovovm3", "kovpo01", "kovpo02"]),
            ("PFO_BASE", &["kovpfo1"]),
            ("PFO_INSSPR", &["kovpfo3"]),
            ("OVM_NOTAR", &["kovovm4"]),
            ("OVM_EXEKUT", &["kovovm4"]),
            ("OVM_PO", &["kovovm1", "kovovm2", "kovovm3", "kovovm4"]),
        ] {
            let body = search(
                version,
                &[
                    ("searchText", "Kovářov"),
                    ("searchType", "GENERAL"),
                    ("searchScope", scope),
                    ("page", "0"),
                    ("pageSize", "50"),
                ],
            );
            let r = call(&t, who, &body, "0000").await;
            assert_eq!(
                sorted(result_ids(&r)),
                expected,
                "{version} searchScope {scope}"
            );
        }
    }
    t.stop().await;
}

/// The bakeries `n` of `range` in the order of a FindDataBox answer: by
/// their folded names, then ID.
fn bakeries_by_name(range: impl Iterator<Item = usize>) -> Vec<String> {
    let mut v: Vec<(String, String)> = range
        .map(|n| (format!("pekarna plzen cislo {n}"), format!("pek{n:04}")))
        .collect();
    v.sort();
    v.into_iter().map(|(_, id)| id).collect()
}

#[tokio::test]
async fn a_truncated_answer_keeps_its_boxes_and_order_and_follows_writes_at_once() {
    let t = gateway().await;
    // More bakeries than an answer holds: the first hundred in the order of
    // the index (box IDs), ordered by name.
    let bakeries = find(&[("dbType", "PO"), ("firmName", "pekarna")]);
    let r = call(&t, PO_ALL, &bakeries, "0003").await;
    assert_eq!(found_ids(&r), bakeries_by_name(0..100));

    // A bakery renamed after the start leaves the answer at once, and the
    // next one takes its place.
    let rename = op(
        "UpdateDataBoxDescr2",
        &format!(
            "<dbID>pek0005</dbID><dbNewOwnerInfo>{}</dbNewOwnerInfo>",
            fields(OWNER_INFO_EXT2, &[("firmName", "Cukrárna Plzeň")])
        ),
    );
    let r = t.soap_as(OPERATOR, "/DS/DsManage", &rename).await;
    assert_eq!(r.status().0, "0000", "{}", r.text);
    let r = call(&t, PO_ALL, &bakeries, "0003").await;
    assert_eq!(
        found_ids(&r),
        bakeries_by_name((0..101).filter(|&n| n != 5))
    );
    let r = call(
        &t,
        PO_ALL,
        &find(&[("dbType", "PO"), ("firmName", "cukrárna")]),
        "0000",
    )
    .await;
    assert_eq!(found_ids(&r), ["pek0005"]);
    // The name and the municipality together, each word the beginning of a
    // word of its field.
    let r = call(
        &t,
        PO_ALL,
        &find(&[("dbType", "PO"), ("firmName", "Pekárna Plzeň číslo 42")]),
        "0000",
    )
    .await;
    assert_eq!(found_ids(&r), ["pek0042"]);
    let r = call(
        &t,
        PO_ALL,
        &search(
            "ISDSSearch2",
            &[("searchText", "cukrarna plzen"), ("pageSize", "10")],
        ),
        "0000",
    )
    .await;
    assert_eq!(result_ids(&r), ["pek0005"]);
    t.stop().await;
}
