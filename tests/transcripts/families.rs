//! Scenarios of the transcripts organised by service family
//! (`dm-operations`, `dm-info`, `db-access`, `db-manipulations`,
//! `db-search`): each implemented operation once with success and once or
//! twice with its main refusals.
//!
//! Values the gateway chooses afresh on every run (box and user IDs of new
//! boxes and users, generated passwords, signatures handed back in later
//! requests) are returned as [`Rewrite`]s, which [`rewrite`] turns into
//! placeholders after the recording.

use std::path::Path;

use crate::common::box_requests::*;
use crate::common::*;

use super::{FO_LOGIN, OPERATOR, create, dm_id, id_body, op};

/// A recorded value to replace by a placeholder.
pub enum Rewrite {
    /// A literal value (element text): captured as `name` in the first
    /// response that holds it, `{{name}}` everywhere after.
    Value { value: String, name: String },
    /// A literal value of responses that nothing uses later: `{{any}}`.
    Any(String),
    /// The `{{any}}` the recorder wrote for `element` in exchange `number`'s
    /// response becomes `{{capture:name}}` (the value itself, a signed
    /// document, is given too, to replace it in later requests).
    Masked {
        number: u32,
        element: &'static str,
        name: String,
        value: String,
    },
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Applies rewrites to the recorded files, in exchange order.
pub fn rewrite(dir: &Path, rules: &[Rewrite]) {
    if rules.is_empty() {
        return;
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with("-request.xml") || n.ends_with("-response.xml")
        })
        .collect();
    files.sort();
    let mut captured = std::collections::HashSet::new();
    for path in files {
        let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
        let response = file_name.ends_with("-response.xml");
        let number: u32 = file_name[..4].parse().unwrap();
        let mut text = std::fs::read_to_string(&path).unwrap();
        for rule in rules {
            match rule {
                Rewrite::Masked {
                    number: n,
                    element,
                    name,
                    value,
                } => {
                    if *n == number && response {
                        let from = format!("<{element}>{{{{any}}}}</{element}>");
                        assert!(text.contains(&from), "{file_name}: no {from}");
                        text = text.replacen(
                            &from,
                            &format!("<{element}>{{{{capture:{name}}}}}</{element}>"),
                            1,
                        );
                        captured.insert(name.clone());
                    } else {
                        let from = format!(">{}<", escape(value));
                        if text.contains(&from) {
                            assert!(captured.contains(name), "{file_name} uses {name} early");
                            text = text.replace(&from, &format!(">{{{{{name}}}}}<"));
                        }
                    }
                }
                Rewrite::Value { value, name } => {
                    let from = format!(">{}<", escape(value));
                    while text.contains(&from) {
                        let to = if response && !captured.contains(name) {
                            captured.insert(name.clone());
                            format!(">{{{{capture:{name}}}}}<")
                        } else {
                            assert!(captured.contains(name), "{file_name} uses {name} early");
                            format!(">{{{{{name}}}}}<")
                        };
                        text = text.replacen(&from, &to, 1);
                    }
                }
                Rewrite::Any(value) => {
                    if response {
                        text = text.replace(&format!(">{}<", escape(value)), ">{{any}}<");
                    }
                }
            }
        }
        std::fs::write(&path, text).unwrap();
    }
}

/// Calls `body` on `path` as `who` and checks the status code of the
/// answer's status block.
async fn expect(
    t: &TestGateway,
    who: (&str, &str),
    path: &str,
    body: &str,
    code: &str,
) -> SoapResponse {
    let r = t.soap_as(who, path, body).await;
    assert_eq!(r.status, 200, "{body}\n{}", r.text);
    assert_eq!(r.status().0, code, "{body}\n{}", r.text);
    r
}

fn child(r: &SoapResponse, name: &str) -> String {
    r.body()
        .elements()
        .find(|e| e.name == name)
        .map(|e| e.text())
        .unwrap_or_else(|| panic!("no {name}:\n{}", r.text))
}

const DZ: &str = "/DS/dz";
const DX: &str = "/DS/dx";
const DF: &str = "/DS/df";
const DS_MANAGE: &str = "/DS/DsManage";
const NOT_A_ZFO: &str = "bm90IGEgemZv";

/// Sending and the signed documents: DummyOperation, CreateMultipleMessage,
/// the signed downloads, AuthenticateMessage, Re-signISDSDocument and
/// ArchiveISDSDocument (SOAP 1.2 on /DS/arch).
pub async fn dm_operations(t: &TestGateway) -> Vec<Rewrite> {
    let mut rules = Vec::new();
    expect(t, OVM_LOGIN, DZ, &op("DummyOperation", ""), "0000").await;
    let sent = expect(t, OVM_LOGIN, DZ, &create("po4demo", "Rozhodnutí"), "0000").await;
    let id = dm_id(&sent);
    // Without the right to send (po_ucetni): refused, 1206.
    expect(
        t,
        PO_ENTRUSTED_LOGIN,
        DZ,
        &create("ovm4dem", "Bez práva"),
        "1206",
    )
    .await;
    // One message to several recipients: a status for each (an unknown
    // box among them).
    let pdf = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, super::PDF);
    let recipient =
        |id: &str| format!("<dmRecipient><dbIDRecipient>{id}</dbIDRecipient></dmRecipient>");
    let multiple = op(
        "CreateMultipleMessage",
        &format!(
            r#"<dmRecipients>{}{}</dmRecipients><dmEnvelope><dmAnnotation>Oznámení</dmAnnotation></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="oznameni.pdf"><dmEncodedContent>{pdf}</dmEncodedContent></dmFile></dmFiles>"#,
            recipient("fo4demo"),
            recipient("nobox00")
        ),
    );
    let r = t.soap_as(OVM_LOGIN, DZ, &multiple).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.status().0, "0004", "{}", r.text);

    // The recipient's listing delivers the message (the only call that
    // does); then the signed received message, then a stranger's try.
    let received = crate::common::messages::list("GetListOfReceivedMessages");
    expect(t, PO_LOGIN, DX, &received, "0000").await;
    let r = expect(
        t,
        PO_LOGIN,
        DZ,
        &id_body("SignedMessageDownload", &id),
        "0000",
    )
    .await;
    let signed = child(&r, "dmSignature");
    rules.push(Rewrite::Masked {
        number: 6,
        element: "dmSignature",
        name: "zfo_1".into(),
        value: signed.clone(),
    });
    expect(
        t,
        FO_LOGIN,
        DZ,
        &id_body("SignedMessageDownload", &id),
        "1211",
    )
    .await;
    expect(
        t,
        OVM_LOGIN,
        DZ,
        &id_body("SignedSentMessageDownload", &id),
        "0000",
    )
    .await;
    expect(
        t,
        PO_LOGIN,
        DZ,
        &id_body("SignedSentMessageDownload", &id),
        "1211",
    )
    .await;

    // AuthenticateMessage: the gateway's own document yes, anything else no.
    let auth = |doc: &str| {
        op(
            "AuthenticateMessage",
            &format!("<dmMessage>{doc}</dmMessage>"),
        )
    };
    let r = expect(t, FO_LOGIN, DZ, &auth(&signed), "0000").await;
    assert_eq!(child(&r, "dmAuthResult"), "true");
    let r = expect(t, FO_LOGIN, DZ, &auth(NOT_A_ZFO), "0000").await;
    assert_eq!(child(&r, "dmAuthResult"), "false");

    // Re-signISDSDocument: a fresh time stamp; a foreign document 2201.
    let resign = |doc: &str| op("Re-signISDSDocument", &format!("<dmDoc>{doc}</dmDoc>"));
    let r = expect(t, PO_LOGIN, DZ, &resign(&signed), "0000").await;
    rules.push(Rewrite::Any(child(&r, "dmResultDoc")));
    // The day by which to stamp again follows the gateway's certificate.
    rules.push(Rewrite::Any(child(&r, "dmValidTo")));
    expect(t, PO_LOGIN, DZ, &resign(NOT_A_ZFO), "2201").await;

    // ArchiveISDSDocument: SOAP 1.2 on /DS/arch.
    let archive = |doc: &str| {
        soap12(&op(
            "ArchiveISDSDocument",
            &format!("<dmMessage>{doc}</dmMessage>"),
        ))
    };
    for (doc, code) in [(signed.as_str(), "0000"), (NOT_A_ZFO, "2201")] {
        let req = t
            .http
            .post(t.http_url("/DS/arch"))
            .header("authorization", basic(PO_LOGIN.0, PO_LOGIN.1));
        let r = send(req, archive(doc), "application/soap+xml; charset=utf-8").await;
        assert_eq!(r.status().0, code, "{}", r.text);
        if code == "0000" {
            rules.push(Rewrite::Any(child(&r, "dmResultDoc")));
            rules.push(Rewrite::Any(child(&r, "nextStampTo")));
        }
    }
    rules
}

/// The message information services not in `messages`: sent envelopes,
/// signed delivery info, state changes, authors, reports, erasing and the
/// list of erased messages, notifications (refused to a password login),
/// and the refusals of a foreign message.
pub async fn dm_info(t: &TestGateway) -> Vec<Rewrite> {
    let mut rules = Vec::new();
    let sent = expect(
        t,
        OVM_LOGIN,
        DZ,
        &create("po4demo", "Oznámení o zahájení"),
        "0000",
    )
    .await;
    let id = dm_id(&sent);
    for (who, name, code) in [
        (OVM_LOGIN, "SentMessageEnvelopeDownload", "0000"),
        (PO_LOGIN, "SentMessageEnvelopeDownload", "1211"),
        (FO_LOGIN, "MessageEnvelopeDownload", "1211"),
        (OVM_LOGIN, "GetSignedDeliveryInfo", "0000"),
        // Not yet delivered: the recipient's delivery info waits (1222).
        (PO_LOGIN, "GetDeliveryInfo", "1222"),
        (FO_LOGIN, "GetSignedDeliveryInfo", "1211"),
        (FO_LOGIN, "GetDeliveryInfo", "1211"),
        (FO_LOGIN, "MarkMessageAsDownloaded", "1211"),
        (FO_LOGIN, "VerifyMessage", "1211"),
        (PO_LOGIN, "GetMessageAuthor", "0000"),
        (FO_LOGIN, "GetMessageAuthor", "1211"),
        (PO_LOGIN, "GetMessageAuthor2", "0000"),
        (FO_LOGIN, "GetMessageAuthor2", "1211"),
    ] {
        expect(t, who, DX, &id_body(name, &id), code).await;
    }
    let changes = op(
        "GetMessageStateChanges",
        r#"<dmFromTime xsi:nil="true"/><dmToTime xsi:nil="true"/>"#,
    );
    expect(t, PO_LOGIN, DX, &changes, "0000").await;
    let bad_changes = op(
        "GetMessageStateChanges",
        "<dmFromTime>2026-13-45T99:00:00Z</dmFromTime>",
    );
    let r = t.soap_as(PO_LOGIN, DX, &bad_changes).await;
    // A malformed time: a client fault naming the element.
    assert!(r.fault().1.contains("dmFromTime"), "{}", r.text);

    let report = |id: &str| {
        op(
            "SuspMessageReport",
            &format!(
                "<dmID>{id}</dmID><repName>Petr Novák</repName><allowComplete>true</allowComplete><note>Podezřelá příloha</note>"
            ),
        )
    };
    expect(t, PO_LOGIN, DX, &report(&id), "0000").await;
    expect(t, FO_LOGIN, DX, &report(&id), "1211").await;

    // Erasing: a foreign message 1211, without the right 1218, a message
    // not in the long-term storage 1219.
    let erase = |incoming: bool| {
        op(
            "EraseMessage",
            &format!("<dmID>{id}</dmID><dmIncoming>{incoming}</dmIncoming>"),
        )
    };
    expect(t, FO_LOGIN, DX, &erase(true), "1211").await;
    expect(t, PO_ENTRUSTED_LOGIN, DX, &erase(true), "1218").await;
    expect(t, PO_LOGIN, DX, &erase(true), "1219").await;

    // The list of erased messages: asked for, then picked up; another box
    // cannot pick it up.
    let erased = op(
        "GetListOfErasedMessages",
        "<dmYear>2026</dmYear><dmMessageType>RECEIVED</dmMessageType><dmOutFormat>XML</dmOutFormat>",
    );
    let r = expect(t, PO_LOGIN, DX, &erased, "0000").await;
    let async_id = child(&r, "asyncID");
    rules.push(Rewrite::Value {
        value: async_id.clone(),
        name: "asyncID_1".into(),
    });
    let bad = op(
        "GetListOfErasedMessages",
        "<dmFromDate>2026-02-30</dmFromDate><dmToDate>2026-03-01</dmToDate><dmMessageType>RECEIVED</dmMessageType><dmOutFormat>XML</dmOutFormat>",
    );
    expect(t, PO_LOGIN, DX, &bad, "2017").await;
    let pick = op(
        "PickUpAsyncResponse",
        &format!("<asyncID>{async_id}</asyncID><asyncReqType>LIST_ERASED</asyncReqType>"),
    );
    let r = expect(t, PO_LOGIN, DX, &pick, "0000").await;
    rules.push(Rewrite::Any(child(&r, "asyncResponse")));
    expect(t, FO_LOGIN, DX, &pick, "2351").await;

    // Notifications are for applications logged in with a certificate.
    let r = t
        .soap_as(
            PO_LOGIN,
            DX,
            &op("RegisterForNotifications", "<action>1</action>"),
        )
        .await;
    assert_eq!(r.status().0, "1004", "{}", r.text);
    let r = t
        .soap_as(
            PO_LOGIN,
            DX,
            &op(
                "GetListForNotifications",
                "<ntfFromTime>2026-01-01T00:00:00Z</ntfFromTime><ntfScope>ALL</ntfScope>",
            ),
        )
        .await;
    assert_eq!(r.status().0, "1004", "{}", r.text);
    rules
}

/// The version-2 login information, the operator's place, and the
/// statistics service.
pub async fn db_access(t: &TestGateway) {
    let dummy = |name: &str| op(name, "<dbDummy/>");
    for (who, name) in [
        (PO_LOGIN, "GetOwnerInfoFromLogin2"),
        (PO_ENTRUSTED_LOGIN, "GetUserInfoFromLogin2"),
        (FO_LOGIN, "GetOwnerInfoFromLogin"),
        (FO_LOGIN, "GetUserInfoFromLogin"),
        (OVM_LOGIN, "GetPasswordInfo"),
    ] {
        expect(t, who, DS_MANAGE, &dummy(name), "0000").await;
    }
    // The gateway operator administers boxes and has no box of its own.
    let r = t
        .soap_as(OPERATOR, DS_MANAGE, &dummy("GetOwnerInfoFromLogin2"))
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    // A wrong password.
    let r = t
        .soap_as(
            (FO_LOGIN.0, "Wrong-Password-1"),
            DS_MANAGE,
            &dummy("GetUserInfoFromLogin2"),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    // The statistics service on the same endpoint, open to every user.
    expect(
        t,
        PO_LOGIN,
        DS_MANAGE,
        &op("NumOfMessages", "<statType>0</statType>"),
        "0000",
    )
    .await;
}

fn db_id(id: &str) -> String {
    format!("<dbID>{id}</dbID>")
}

/// Box and user administration: the gateway operator (boxes) and the
/// primary user of po4demo (its users and settings), each version of each
/// operation, with the refusals (right 1004, unknown box 5001, unknown
/// user 1041, a box in the wrong state 1044, a duplicate box 1042).
pub async fn db_manipulations(t: &TestGateway) -> Vec<Rewrite> {
    let mut rules = Vec::new();
    let call = |who: (&'static str, &'static str), body: String, code: &'static str| async move {
        expect(t, who, DS_MANAGE, &body, code).await
    };
    // The operator creates two boxes (both versions) and refuses a
    // duplicate.
    let primary_v1 = complex(
        "dbUserInfo",
        USER_INFO_EXT,
        &[
            ("pnFirstName", "Jiří"),
            ("pnLastName", "Nový"),
            ("adCity", "Praha"),
            ("adNumberInStreet", "5"),
            ("adZipCode", "11000"),
            ("biDate", "1970-01-02"),
            ("userType", "PRIMARY_USER"),
            ("userPrivils", "255"),
        ],
    );
    let r = call(
        OPERATOR,
        op(
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
            ) + &format!("<dbPrimaryUsers>{primary_v1}</dbPrimaryUsers>")),
        ),
        "0000",
    )
    .await;
    let new_box = child(&r, "dbID");
    rules.push(Rewrite::Value {
        value: new_box.clone(),
        name: "dbID_1".into(),
    });
    rules.push(Rewrite::Any(child(&r, "dbUserID")));
    rules.push(Rewrite::Any(child(&r, "dbAccessDataId")));
    let primary_v2 = complex(
        "dbUserInfo",
        USER_INFO_EXT2,
        &[
            ("aifoIsds", "false"),
            ("pnGivenNames", "Marta"),
            ("pnLastName", "Druhá"),
            ("adCity", "Praha"),
            ("adNumberInStreet", "5"),
            ("adZipCode", "11000"),
            ("biDate", "1970-01-02"),
            ("userType", "PRIMARY_USER"),
            ("userPrivils", "255"),
        ],
    );
    let create2 = |id: &str| {
        let mut values = vec![("dbType", "PO"), ("firmName", "Druhá Firma a.s.")];
        if !id.is_empty() {
            values.push(("dbID", id));
        }
        op(
            "CreateDataBox2",
            &(complex("dbOwnerInfo", OWNER_INFO_EXT2, &values)
                + &format!("<dbPrimaryUsers>{primary_v2}</dbPrimaryUsers>")),
        )
    };
    let r = call(OPERATOR, create2(""), "0000").await;
    let second_box = child(&r, "dbID");
    rules.push(Rewrite::Value {
        value: second_box.clone(),
        name: "dbID_2".into(),
    });
    rules.push(Rewrite::Any(child(&r, "dbUserID")));
    rules.push(Rewrite::Any(child(&r, "dbAccessDataId")));
    call(OPERATOR, create2("po4demo"), "2031").await;

    // Descriptions: both versions; an unknown box.
    let update = op(
        "UpdateDataBoxDescr",
        &(complex("dbOldOwnerInfo", OWNER_INFO_EXT, &[("dbID", &new_box)])
            + &complex(
                "dbNewOwnerInfo",
                OWNER_INFO_EXT,
                &[("adCity", "Kolín"), ("adZipCode", "28002")],
            )),
    );
    call(OPERATOR, update, "0000").await;
    let update2 = |id: &str| {
        op(
            "UpdateDataBoxDescr2",
            &(db_id(id) + &complex("dbNewOwnerInfo", OWNER_INFO_EXT2, &[("adCity", "Přerov")])),
        )
    };
    call(OPERATOR, update2(&second_box), "0000").await;
    call(OPERATOR, update2("nobox00"), "5001").await;

    // Disabled from outside (both versions); not by a box's own user.
    let disable = op(
        "DisableDataBoxExternally",
        &(complex("dbOwnerInfo", OWNER_INFO, &[("dbID", &new_box)])
            + r#"<dbOwnerDisableDate xsi:nil="true"/>"#),
    );
    call(OPERATOR, disable, "0000").await;
    let disable2 = |id: &str| {
        op(
            "DisableDataBoxExternally2",
            &(db_id(id) + r#"<dbOwnerDisableDate xsi:nil="true"/>"#),
        )
    };
    call(OPERATOR, disable2(&second_box), "0000").await;
    call(PO_LOGIN, disable2("po4demo"), "1004").await;

    // Deleted (both versions); a deleted box cannot be deleted again.
    let delete = |id: &str| {
        op(
            "DeleteDataBox",
            &(complex("dbOwnerInfo", OWNER_INFO, &[("dbID", id)])
                + "<dbOwnerTerminationDate>2026-01-31</dbOwnerTerminationDate>"),
        )
    };
    call(OPERATOR, delete(&new_box), "0000").await;
    call(OPERATOR, delete(&new_box), "1037").await;
    // The status text names the new box, whose ID differs on every run.
    rules.push(Rewrite::Any(format!("Schránka {new_box} je již zrušená")));
    let delete2 = op(
        "DeleteDataBox2",
        &(db_id(&second_box) + "<dbOwnerTerminationDate>2026-01-31</dbOwnerTerminationDate>"),
    );
    call(OPERATOR, delete2.clone(), "0000").await;
    let delete2_po = op(
        "DeleteDataBox2",
        &(db_id("po4demo") + "<dbOwnerTerminationDate>2026-01-31</dbOwnerTerminationDate>"),
    );
    call(PO_LOGIN, delete2_po, "1004").await;

    // The primary user of po4demo manages its users: add (both versions),
    // list, update, new access data, delete.
    let add_v1 = |box_id: &str| {
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
                        ("userPrivils", "9"),
                    ],
                )),
        )
    };
    // New users' IDs and passwords are chosen afresh on every run; the
    // changes below act on the demo world's users po_ucetni (poeu01) and
    // po_otp (pootp1).
    // The users of the box (listed before new ones join: their IDs
    // would order the list differently on every run).
    call(PO_LOGIN, op("GetDataBoxUsers2", &db_id("po4demo")), "0000").await;
    let r = call(PO_LOGIN, add_v1("po4demo"), "0000").await;
    rules.push(Rewrite::Any(child(&r, "dbAccessDataId")));
    call(PO_LOGIN, add_v1("ovm4dem"), "1004").await;
    let add_v2 = |box_id: &str| {
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
                        ("userType", "ENTRUSTED_USER"),
                        ("userPrivils", "9"),
                    ],
                )),
        )
    };
    let r = call(PO_LOGIN, add_v2("po4demo"), "0000").await;
    for name in ["dbUserID", "dbAccessDataId"] {
        if let Some(e) = r.body().elements().find(|e| e.name == name) {
            rules.push(Rewrite::Any(e.text()));
        }
    }
    call(PO_ENTRUSTED_LOGIN, add_v2("po4demo"), "1004").await;
    call(
        PO_ENTRUSTED_LOGIN,
        op("SetOpenAddressing", &db_id("po4demo")),
        "1004",
    )
    .await;

    call(PO_LOGIN, op("GetDataBoxUsers2", &db_id("ovm4dem")), "1004").await;

    let update_user = op(
        "UpdateDataBoxUser",
        &(complex("dbOwnerInfo", OWNER_INFO_EXT, &[("dbID", "po4demo")])
            + &complex("dbOldUserInfo", USER_INFO_EXT, &[("userID", "poeu01")])
            + &complex("dbNewUserInfo", USER_INFO_EXT, &[("userPrivils", "31")])),
    );
    call(PO_LOGIN, update_user, "0000").await;
    let update_user2 = |isds_id: &str| {
        op(
            "UpdateDataBoxUser2",
            &(db_id("po4demo")
                + &format!("<isdsID>{isds_id}</isdsID>")
                + &complex(
                    "dbNewUserInfo",
                    USER_INFO_EXT2,
                    &[("aifoIsds", "false"), ("userPrivils", "25")],
                )),
        )
    };
    call(PO_LOGIN, update_user2("000000pootp1"), "0000").await;
    call(PO_LOGIN, update_user2("000000zzzzzz"), "5002").await;

    let new_access = op(
        "NewAccessData",
        &(complex("dbOwnerInfo", OWNER_INFO, &[("dbID", "po4demo")])
            + &complex("dbUserInfo", USER_INFO, &[("userID", "poeu01")])
            + "<dbFeePaid>false</dbFeePaid>"),
    );
    // New access data are a new user name (random) and password.
    let r = call(PO_LOGIN, new_access, "0000").await;
    rules.push(Rewrite::Any(child(&r, "dbUserID")));
    rules.push(Rewrite::Any(child(&r, "dbAccessDataId")));
    let new_access2 = |isds_id: &str| {
        op(
            "NewAccessData2",
            &format!(
                "{}<isdsID>{isds_id}</isdsID><dbFeePaid>false</dbFeePaid>",
                db_id("po4demo")
            ),
        )
    };
    let r = call(PO_LOGIN, new_access2("000000pootp1"), "0000").await;
    rules.push(Rewrite::Any(child(&r, "dbUserID")));
    rules.push(Rewrite::Any(child(&r, "dbAccessDataId")));
    call(PO_LOGIN, new_access2("000000zzzzzz"), "5002").await;

    let delete_user = |box_id: &str, user: &str| {
        op(
            "DeleteDataBoxUser",
            &(complex("dbOwnerInfo", OWNER_INFO, &[("dbID", box_id)])
                + &complex("dbUserInfo", USER_INFO, &[("userID", user)])),
        )
    };
    call(PO_LOGIN, delete_user("po4demo", "poeu01"), "0000").await;
    call(PO_LOGIN, delete_user("ovm4dem", "ovmpu1"), "1004").await;
    let delete_user2 = |isds_id: &str| {
        op(
            "DeleteDataBoxUser2",
            &format!("{}<isdsID>{isds_id}</isdsID>", db_id("po4demo")),
        )
    };
    call(PO_LOGIN, delete_user2("000000pootp1"), "0000").await;
    call(PO_LOGIN, delete_user2("000000pootp1"), "5002").await;

    // Settings of the own box: open addressing, disabling and enabling.
    let po = db_id("po4demo");
    call(PO_LOGIN, op("ClearOpenAddressing", &po), "0000").await;
    call(PO_LOGIN, op("SetOpenAddressing", &po), "0000").await;
    call(OPERATOR, op("SetOpenAddressing", &db_id("nobox00")), "5001").await;
    call(PO_LOGIN, op("DisableOwnDataBox2", &po), "0000").await;
    call(PO_LOGIN, op("DisableOwnDataBox2", &po), "1024").await;
    call(PO_LOGIN, op("EnableOwnDataBox2", &po), "0000").await;
    let owner_only = |name: &str| op(name, &complex("dbOwnerInfo", OWNER_INFO, &[]));
    call(PO_LOGIN, owner_only("DisableOwnDataBox"), "0000").await;
    call(PO_LOGIN, owner_only("EnableOwnDataBox"), "0000").await;
    call(PO_LOGIN, owner_only("EnableOwnDataBox"), "1025").await;
    call(OPERATOR, owner_only("DisableOwnDataBox"), "2031").await;
    rules
}

/// Box search over the demo world: every search operation with success
/// and its refusals.
pub async fn db_search(t: &TestGateway) {
    let find = |values: &[(&str, &str)]| {
        op(
            "FindDataBox",
            &format!("<dbOwnerInfo>{}</dbOwnerInfo>", fields(OWNER_INFO, values)),
        )
    };
    let po = ("dbType", "PO");
    expect(
        t,
        OVM_LOGIN,
        DF,
        &find(&[po, ("firmName", "Účetnictví")]),
        "0000",
    )
    .await;
    expect(
        t,
        OVM_LOGIN,
        DF,
        &find(&[po, ("firmName", "Neexistující")]),
        "0002",
    )
    .await;
    // Without the box type.
    expect(
        t,
        OVM_LOGIN,
        DF,
        &find(&[("firmName", "Účetnictví")]),
        "1101",
    )
    .await;
    let find2 = |values: &[(&str, &str)]| {
        op(
            "FindDataBox2",
            &format!(
                "<dbOwnerInfo>{}</dbOwnerInfo>",
                fields(OWNER_INFO_EXT2, values)
            ),
        )
    };
    expect(t, PO_LOGIN, DF, &find2(&[("dbID", "ovm4dem")]), "0000").await;
    expect(t, PO_LOGIN, DF, &find2(&[]), "1101").await;
    let search3 = |text: &str| op("ISDSSearch3", &fields(SEARCH, &[("searchText", text)]));
    expect(t, PO_LOGIN, DF, &search3("Lhota"), "0000").await;
    expect(t, PO_LOGIN, DF, &search3(""), "1152").await;
    let personal = |last: &str| {
        op(
            "FindPersonalDataBox",
            &format!(
                "<dbOwnerInfo>{}</dbOwnerInfo>",
                fields(PERSONAL_OWNER_INFO, &[("pnLastName", last)])
            ),
        )
    };
    expect(t, OVM_LOGIN, DF, &personal("Černý"), "0000").await;
    expect(t, PO_LOGIN, DF, &personal("Černý"), "1004").await;
    let check = |id: &str| op("CheckDataBox", &format!("<dbID>{id}</dbID>"));
    expect(t, FO_LOGIN, DF, &check("NOBOX00"), "2011").await;
    let list = |kind: &str| op("GetDataBoxList", &format!("<dblType>{kind}</dblType>"));
    expect(t, OVM_LOGIN, DF, &list("ALL"), "0000").await;
    expect(t, FO_LOGIN, DF, &list("ALL"), "1004").await;
    let credit = |id: &str| {
        op(
            "DataBoxCreditInfo",
            &format!(r#"<dbID>{id}</dbID><ciFromDate xsi:nil="true"/><ciTodate xsi:nil="true"/>"#),
        )
    };
    expect(t, PO_LOGIN, DF, &credit("po4demo"), "0000").await;
    expect(t, PO_LOGIN, DF, &credit("ovm4dem"), "1004").await;
    expect(t, PO_LOGIN, DF, &credit("nobox00"), "5001").await;
    let pdz = |id: &str| op("PDZInfo", &format!("<PDZSender>{id}</PDZSender>"));
    expect(t, PO_LOGIN, DF, &pdz("po4demo"), "0000").await;
    expect(t, PO_LOGIN, DF, &pdz("ovm4dem"), "1004").await;
    let send_info = |id: &str| {
        op(
            "PDZSendInfo",
            &format!("<dbId>{id}</dbId><PDZType>Normal</PDZType>"),
        )
    };
    expect(t, PO_LOGIN, DF, &send_info("po4demo"), "0000").await;
    expect(t, PO_LOGIN, DF, &send_info("ovm4dem"), "1004").await;
    let dt = |id: &str| op("DTInfo", &format!("<dbId>{id}</dbId>"));
    expect(t, PO_LOGIN, DF, &dt("po4demo"), "0000").await;
    expect(t, OVM_LOGIN, DF, &dt("po4demo"), "1004").await;
    let activity = |id: &str| {
        op(
            "GetDataBoxActivityStatus",
            &format!(
                "<dbID>{id}</dbID><baFrom>2026-01-01T00:00:00Z</baFrom><baTo>2026-12-31T00:00:00Z</baTo>"
            ),
        )
    };
    expect(t, OVM_LOGIN, DF, &activity("po4demo"), "0000").await;
    expect(t, OVM_LOGIN, DF, &activity("nobox00"), "5001").await;
    expect(
        t,
        OVM_LOGIN,
        DF,
        &op("GetConstants", r#"<constDate xsi:nil="true"/>"#),
        "0000",
    )
    .await;
    let address = |id: &str| op("GetDataBoxAddress", &format!("<dbID>{id}</dbID>"));
    let r = t.soap_as(OVM_LOGIN, DF, &address("po4demo")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // No status block in its answer: an unknown box is a fault with the code.
    let r = t.soap_as(OVM_LOGIN, DF, &address("nobox00")).await;
    assert!(r.fault().1.contains("5001"), "{}", r.text);
}
