//! The permission matrix: every implemented operation, called by users who
//! each lack one privilege bit, gets exactly the outcome the manuals give:
//! the privilege each operation's chapter names (PRIVIL_*) and the table's
//! code for lacking it (1206-1209 for message services, messages manual
//! 1.4; 1004 for box administration and search, box-management and search
//! manuals).

mod common;

use common::*;

/// Privilege bits of `userPrivils` (messages manual 1.4).
const BITS: [u32; 8] = [1, 2, 4, 8, 16, 32, 64, 128];
const PASSWORD: &str = "Matice-Prav-2026";

/// A world with one box whose users each lack one bit (`mx<bit>`), plus a
/// user with every right (`mxall`).
fn matrix_world() -> String {
    let mut world = String::from(
        "[[boxes]]\nid = \"mtx4box\"\ntype = \"PO\"\n[boxes.owner]\nfirm_name = \"Matice s.r.o.\"\nic = \"12345678\"\n",
    );
    let mut user = |id: &str, privileges: u32| {
        world.push_str(&format!(
            "[[boxes.users]]\nid = \"{id}\"\nlogin = \"{id}\"\npassword = \"{PASSWORD}\"\ntype = \"ENTRUSTED_USER\"\nprivileges = {privileges}\n"
        ));
    };
    user("mxall0", 255);
    // PRIVIL_VIEW_INFO alone: envelopes in lists and delivery info only.
    user("mxview", 8);
    for bit in BITS {
        user(&format!("mx{bit:04}"), 255 & !bit);
    }
    // A public authority to send messages to.
    world.push_str(
        "[[boxes]]\nid = \"mtxovm1\"\ntype = \"OVM\"\n[boxes.owner]\nfirm_name = \"Úřad matice\"\n",
    );
    world
}

/// One implemented operation: where it goes, its body, the rights it needs
/// (all of them), the code for lacking them, and the schema its response
/// validates against.
struct Case {
    endpoint: &'static str,
    operation: &'static str,
    body: &'static str,
    needs: u32,
    refused: &'static str,
    xsd: Xsd,
}

const CASES: &[Case] = &[
    Case {
        endpoint: "dz",
        operation: "DummyOperation",
        body: r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#,
        needs: 0,
        refused: "1004",
        xsd: Xsd::Dm,
    },
    Case {
        endpoint: "DsManage",
        operation: "GetOwnerInfoFromLogin",
        body: r#"<GetOwnerInfoFromLogin xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetOwnerInfoFromLogin>"#,
        needs: 0,
        refused: "1004",
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "DsManage",
        operation: "GetOwnerInfoFromLogin2",
        body: r#"<GetOwnerInfoFromLogin2 xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetOwnerInfoFromLogin2>"#,
        needs: 0,
        refused: "1004",
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "DsManage",
        operation: "GetUserInfoFromLogin",
        body: r#"<GetUserInfoFromLogin xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetUserInfoFromLogin>"#,
        needs: 0,
        refused: "1004",
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "DsManage",
        operation: "GetUserInfoFromLogin2",
        body: r#"<GetUserInfoFromLogin2 xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetUserInfoFromLogin2>"#,
        needs: 0,
        refused: "1004",
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "DsManage",
        operation: "GetPasswordInfo",
        body: r#"<GetPasswordInfo xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetPasswordInfo>"#,
        needs: 0,
        refused: "1004",
        xsd: Xsd::Db,
    },
    // Administering the box's users needs the administration right (32)
    // for an entrusted user; ISDS refuses with 1004.
    Case {
        endpoint: "DsManage",
        operation: "GetDataBoxUsers2",
        body: r#"<GetDataBoxUsers2 xmlns="http://isds.czechpoint.cz/v20"><dbID>mtx4box</dbID></GetDataBoxUsers2>"#,
        needs: 32,
        refused: "1004",
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "DsManage",
        operation: "SetOpenAddressing",
        body: r#"<SetOpenAddressing xmlns="http://isds.czechpoint.cz/v20"><dbID>mtx4box</dbID></SetOpenAddressing>"#,
        needs: 32,
        refused: "1004",
        xsd: Xsd::Db,
    },
    // Sending needs PRIVIL_CREATE_DM (4); 1206 without it (messages
    // manual 2.1).
    Case {
        endpoint: "dz",
        operation: "CreateMessage",
        body: r#"<CreateMessage xmlns="http://isds.czechpoint.cz/v20"><dmEnvelope><dbIDRecipient>mtxovm1</dbIDRecipient><dmAnnotation>Matice</dmAnnotation></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="a.pdf"><dmEncodedContent>JVBERi0=</dmEncodedContent></dmFile></dmFiles></CreateMessage>"#,
        needs: 4,
        refused: "1206",
        xsd: Xsd::Dm,
    },
    // Searching for boxes needs PRIVIL_SEARCH_DB (16); 1004 without it
    // (search manual).
    Case {
        endpoint: "df",
        operation: "FindDataBox",
        body: r#"<FindDataBox xmlns="http://isds.czechpoint.cz/v20" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dbOwnerInfo><dbID xsi:nil="true"/><dbType>PO</dbType><ic>12345678</ic><pnFirstName xsi:nil="true"/><pnMiddleName xsi:nil="true"/><pnLastName xsi:nil="true"/><pnLastNameAtBirth xsi:nil="true"/><firmName xsi:nil="true"/><biDate xsi:nil="true"/><biCity xsi:nil="true"/><biCounty xsi:nil="true"/><biState xsi:nil="true"/><adCity xsi:nil="true"/><adStreet xsi:nil="true"/><adNumberInStreet xsi:nil="true"/><adNumberInMunicipality xsi:nil="true"/><adZipCode xsi:nil="true"/><adState xsi:nil="true"/><nationality xsi:nil="true"/><identifier xsi:nil="true"/><registryCode xsi:nil="true"/><dbState xsi:nil="true"/><dbEffectiveOVM xsi:nil="true"/><dbOpenAddressing xsi:nil="true"/></dbOwnerInfo></FindDataBox>"#,
        needs: 16,
        refused: "1004",
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "df",
        operation: "FindDataBox2",
        body: r#"<FindDataBox2 xmlns="http://isds.czechpoint.cz/v20" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dbOwnerInfo><dbID xsi:nil="true"/><dbType>PO</dbType><ic xsi:nil="true"/><pnGivenNames xsi:nil="true"/><pnLastName xsi:nil="true"/><firmName>matice</firmName><biDate xsi:nil="true"/><biCity xsi:nil="true"/><biCounty xsi:nil="true"/><biState xsi:nil="true"/><adCode xsi:nil="true"/><adCity xsi:nil="true"/><adDistrict xsi:nil="true"/><adStreet xsi:nil="true"/><adNumberInStreet xsi:nil="true"/><adNumberInMunicipality xsi:nil="true"/><adZipCode xsi:nil="true"/><adState xsi:nil="true"/><nationality xsi:nil="true"/><dbIdOVM xsi:nil="true"/><dbState xsi:nil="true"/><dbOpenAddressing xsi:nil="true"/><dbUpperID xsi:nil="true"/></dbOwnerInfo></FindDataBox2>"#,
        needs: 16,
        refused: "1004",
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "df",
        operation: "ISDSSearch2",
        body: r#"<ISDSSearch2 xmlns="http://isds.czechpoint.cz/v20" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><searchText>Matice</searchText><searchType xsi:nil="true"/><searchScope xsi:nil="true"/><page xsi:nil="true"/><pageSize xsi:nil="true"/></ISDSSearch2>"#,
        needs: 16,
        refused: "1004",
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "df",
        operation: "ISDSSearch3",
        body: r#"<ISDSSearch3 xmlns="http://isds.czechpoint.cz/v20" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><searchText>matice s.r.o.</searchText><searchType xsi:nil="true"/><searchScope xsi:nil="true"/><page xsi:nil="true"/><pageSize xsi:nil="true"/></ISDSSearch3>"#,
        needs: 16,
        refused: "1004",
        xsd: Xsd::Db,
    },
    // Checking a known box, the own box's credit, PDZ and storage, the
    // constants and the public lists need no right.
    Case {
        endpoint: "df",
        operation: "CheckDataBox",
        body: r#"<CheckDataBox xmlns="http://isds.czechpoint.cz/v20" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dbID>mtx4box</dbID></CheckDataBox>"#,
        needs: 0,
        refused: "1004",
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "df",
        operation: "DataBoxCreditInfo",
        body: r#"<DataBoxCreditInfo xmlns="http://isds.czechpoint.cz/v20" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dbID>mtx4box</dbID><ciFromDate xsi:nil="true"/><ciTodate xsi:nil="true"/></DataBoxCreditInfo>"#,
        needs: 0,
        refused: "1004",
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "df",
        operation: "PDZInfo",
        body: r#"<PDZInfo xmlns="http://isds.czechpoint.cz/v20" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><PDZSender>mtx4box</PDZSender></PDZInfo>"#,
        needs: 0,
        refused: "1004",
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "df",
        operation: "PDZSendInfo",
        body: r#"<PDZSendInfo xmlns="http://isds.czechpoint.cz/v20" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dbId>mtx4box</dbId><PDZType>Normal</PDZType></PDZSendInfo>"#,
        needs: 0,
        refused: "1004",
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "df",
        operation: "DTInfo",
        body: r#"<DTInfo xmlns="http://isds.czechpoint.cz/v20" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dbId>mtx4box</dbId></DTInfo>"#,
        needs: 0,
        refused: "1004",
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "df",
        operation: "GetConstants",
        body: r#"<GetConstants xmlns="http://isds.czechpoint.cz/v20" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><constDate xsi:nil="true"/></GetConstants>"#,
        needs: 0,
        refused: "1004",
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "df",
        operation: "GetDataBoxList",
        body: r#"<GetDataBoxList xmlns="http://isds.czechpoint.cz/v20" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dblType>POA</dblType></GetDataBoxList>"#,
        needs: 0,
        refused: "1004",
        xsd: Xsd::Db,
    },
];

#[tokio::test]
async fn every_operation_against_every_missing_privilege() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("matrix.toml");
    std::fs::write(&world, matrix_world()).unwrap();
    let t = TestGateway::start_in(dir, |c| c.demo_world = Some(world)).await;

    let mut checked = 0;
    for case in CASES {
        let mut users = vec![("mxall0".to_owned(), 255u32)];
        users.extend(BITS.iter().map(|b| (format!("mx{b:04}"), 255 & !b)));
        for (login, privileges) in users {
            let path = format!("/DS/{}", case.endpoint);
            let resp = t.soap_as((&login, PASSWORD), &path, case.body).await;
            assert_eq!(
                resp.status, 200,
                "{} as {login}: {}",
                case.operation, resp.text
            );
            let (code, _) = resp.status();
            if privileges & case.needs == case.needs {
                assert_eq!(code, "0000", "{} as {login}", case.operation);
                assert_valid(&resp.body_xml(), case.xsd);
            } else {
                assert_eq!(
                    code, case.refused,
                    "{} as {login} lacks rights",
                    case.operation
                );
                assert_valid(&resp.body_xml(), case.xsd);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, CASES.len() * (BITS.len() + 1));
    t.stop().await;
}

/// A message operation in the matrix: its body names the messages by
/// placeholder (`{received}`, `{personal}`, `{sent}`), and `expect` gives
/// from the user's rights the code ISDS answers.
struct MessageCase {
    endpoint: &'static str,
    operation: &'static str,
    body: &'static str,
    expect: fn(u32) -> &'static str,
}

/// PRIVIL_VIEW_INFO (8): lists, delivery info, authors; 1209 without it.
fn view_info(p: u32) -> &'static str {
    if p & 8 != 0 { "0000" } else { "1209" }
}
/// PRIVIL_READ_NON_PERSONAL or PRIVIL_READ_ALL (1 or 2): content of a
/// message not for personal delivery; 1207 without either.
fn read_ordinary(p: u32) -> &'static str {
    if p & 3 != 0 { "0000" } else { "1207" }
}
/// PRIVIL_READ_ALL (2): content of a personal-delivery message; 1208 with
/// only the lesser read right, 1207 with none.
fn read_personal(p: u32) -> &'static str {
    if p & 2 != 0 {
        "0000"
    } else if p & 1 != 0 {
        "1208"
    } else {
        "1207"
    }
}
/// PRIVIL_CREATE_DM (4): sent messages; 1206 without it.
fn read_sent(p: u32) -> &'static str {
    if p & 4 != 0 { "0000" } else { "1206" }
}
/// MessageEnvelopeDownload: PRIVIL_VIEW_INFO and the right to read the
/// message (messages manual 2.4.4).
fn envelope_received(p: u32) -> &'static str {
    match view_info(p) {
        "0000" => read_ordinary(p),
        refused => refused,
    }
}
/// PRIVIL_ERASE_VAULT (128): only messages in the long-term vault may be
/// erased (none is): with it 1219, without it 1218.
fn erase_vault(p: u32) -> &'static str {
    if p & 128 != 0 { "1219" } else { "1218" }
}

const NS: &str = r#"xmlns="http://isds.czechpoint.cz/v20" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance""#;

const MESSAGE_CASES: &[MessageCase] = &[
    MessageCase {
        endpoint: "dx",
        operation: "GetListOfReceivedMessages",
        body: r#"<GetListOfReceivedMessages NS><dmFromTime xsi:nil="true"/><dmToTime xsi:nil="true"/><dmRecipientOrgUnitNum xsi:nil="true"/><dmStatusFilter>-1</dmStatusFilter><dmOffset>1</dmOffset><dmLimit>100</dmLimit></GetListOfReceivedMessages>"#,
        expect: view_info,
    },
    MessageCase {
        endpoint: "dx",
        operation: "GetListOfSentMessages",
        body: r#"<GetListOfSentMessages NS><dmFromTime xsi:nil="true"/><dmToTime xsi:nil="true"/><dmSenderOrgUnitNum xsi:nil="true"/><dmStatusFilter>2046</dmStatusFilter><dmOffset xsi:nil="true"/><dmLimit xsi:nil="true"/></GetListOfSentMessages>"#,
        expect: view_info,
    },
    MessageCase {
        endpoint: "dx",
        operation: "GetMessageStateChanges",
        body: r#"<GetMessageStateChanges NS><dmFromTime xsi:nil="true"/><dmToTime xsi:nil="true"/></GetMessageStateChanges>"#,
        expect: view_info,
    },
    MessageCase {
        endpoint: "dx",
        operation: "GetDeliveryInfo",
        body: r#"<GetDeliveryInfo NS><dmID>{received}</dmID></GetDeliveryInfo>"#,
        expect: view_info,
    },
    MessageCase {
        endpoint: "dx",
        operation: "GetDeliveryInfo",
        body: r#"<GetDeliveryInfo NS><dmID>{personal}</dmID></GetDeliveryInfo>"#,
        expect: view_info,
    },
    MessageCase {
        endpoint: "dx",
        operation: "GetDeliveryInfo",
        body: r#"<GetDeliveryInfo NS><dmID>{sent}</dmID></GetDeliveryInfo>"#,
        expect: view_info,
    },
    MessageCase {
        endpoint: "dz",
        operation: "MessageDownload",
        body: r#"<MessageDownload NS><dmID>{received}</dmID></MessageDownload>"#,
        expect: read_ordinary,
    },
    MessageCase {
        endpoint: "dz",
        operation: "MessageDownload",
        body: r#"<MessageDownload NS><dmID>{personal}</dmID></MessageDownload>"#,
        expect: read_personal,
    },
    MessageCase {
        endpoint: "dx",
        operation: "MarkMessageAsDownloaded",
        body: r#"<MarkMessageAsDownloaded NS><dmID>{received}</dmID></MarkMessageAsDownloaded>"#,
        expect: read_ordinary,
    },
    MessageCase {
        endpoint: "dx",
        operation: "MarkMessageAsDownloaded",
        body: r#"<MarkMessageAsDownloaded NS><dmID>{personal}</dmID></MarkMessageAsDownloaded>"#,
        expect: read_personal,
    },
    MessageCase {
        endpoint: "dx",
        operation: "MessageEnvelopeDownload",
        body: r#"<MessageEnvelopeDownload NS><dmID>{received}</dmID></MessageEnvelopeDownload>"#,
        expect: envelope_received,
    },
    MessageCase {
        endpoint: "dx",
        operation: "SentMessageEnvelopeDownload",
        body: r#"<SentMessageEnvelopeDownload NS><dmID>{sent}</dmID></SentMessageEnvelopeDownload>"#,
        expect: read_sent,
    },
    MessageCase {
        endpoint: "dz",
        operation: "SignedSentMessageDownload",
        body: r#"<SignedSentMessageDownload NS><dmID>{sent}</dmID></SignedSentMessageDownload>"#,
        expect: read_sent,
    },
    MessageCase {
        endpoint: "dx",
        operation: "VerifyMessage",
        body: r#"<VerifyMessage NS><dmID>{received}</dmID></VerifyMessage>"#,
        expect: read_ordinary,
    },
    MessageCase {
        endpoint: "dx",
        operation: "GetMessageAuthor",
        body: r#"<GetMessageAuthor NS><dmID>{received}</dmID></GetMessageAuthor>"#,
        expect: view_info,
    },
    MessageCase {
        endpoint: "dx",
        operation: "GetMessageAuthor2",
        body: r#"<GetMessageAuthor2 NS><dmID>{received}</dmID></GetMessageAuthor2>"#,
        expect: view_info,
    },
    MessageCase {
        endpoint: "dx",
        operation: "SuspMessageReport",
        body: r#"<SuspMessageReport NS><dmID>{received}</dmID><allowComplete>false</allowComplete></SuspMessageReport>"#,
        expect: read_ordinary,
    },
    MessageCase {
        endpoint: "dx",
        operation: "GetListOfErasedMessages",
        body: r#"<GetListOfErasedMessages NS><dmYear>2026</dmYear><dmMessageType>RECEIVED</dmMessageType><dmOutFormat>XML</dmOutFormat></GetListOfErasedMessages>"#,
        expect: view_info,
    },
    MessageCase {
        endpoint: "dx",
        operation: "EraseMessage",
        body: r#"<EraseMessage NS><dmID>{received}</dmID><dmIncoming>true</dmIncoming></EraseMessage>"#,
        expect: erase_vault,
    },
];

/// A CreateMessage body with one PDF.
fn create_message(recipient: &str, annotation: &str, personal: bool) -> String {
    format!(
        r#"<CreateMessage {NS}><dmEnvelope><dbIDRecipient>{recipient}</dbIDRecipient><dmAnnotation>{annotation}</dmAnnotation><dmPersonalDelivery>{personal}</dmPersonalDelivery></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="a.pdf"><dmEncodedContent>JVBERi0xLjQK</dmEncodedContent></dmFile></dmFiles></CreateMessage>"#
    )
}

async fn create(
    t: &TestGateway,
    login: (&str, &str),
    to: &str,
    annotation: &str,
    personal: bool,
) -> String {
    let resp = t
        .soap_as(login, "/DS/dz", &create_message(to, annotation, personal))
        .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    resp.body()
        .elements()
        .find(|e| e.name == "dmID")
        .expect("dmID")
        .text()
}

#[tokio::test]
async fn every_message_operation_against_every_missing_privilege() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("matrix.toml");
    // A second box that exchanges messages with the matrix box.
    let partner = format!(
        "[[boxes]]\nid = \"mtx2ovm\"\ntype = \"OVM\"\n[boxes.owner]\nfirm_name = \"Úřad matice\"\nic = \"87654321\"\n[[boxes.users]]\nid = \"mxovm0\"\nlogin = \"mxovm0\"\npassword = \"{PASSWORD}\"\ntype = \"PRIMARY_USER\"\n"
    );
    std::fs::write(&world, format!("{}{partner}", matrix_world())).unwrap();
    let t = TestGateway::start_in(dir, |c| c.demo_world = Some(world)).await;

    let received = create(&t, ("mxovm0", PASSWORD), "mtx4box", "Běžná", false).await;
    let personal = create(
        &t,
        ("mxovm0", PASSWORD),
        "mtx4box",
        "Do vlastních rukou",
        true,
    )
    .await;
    let sent = create(&t, ("mxall0", PASSWORD), "mtx2ovm", "Odeslaná", false).await;
    // The user with rights 8 only lists: the list shows both messages, but
    // delivers neither (no right to read them); the user with every right
    // lists and delivers both (messages manual 2.7.1).
    let list = MESSAGE_CASES[0].body.replace("NS", NS);
    for (login, state) in [("mxview", "4"), ("mxall0", "6")] {
        let resp = t.soap_as((login, PASSWORD), "/DS/dx", &list).await;
        assert_eq!(resp.status().0, "0000", "{}", resp.text);
        let body = resp.body();
        let records = body.elements().find(|e| e.name == "dmRecords").unwrap();
        let states: Vec<String> = records
            .elements()
            .map(|r| {
                r.elements()
                    .find(|e| e.name == "dmMessageStatus")
                    .unwrap()
                    .text()
            })
            .collect();
        assert_eq!(states, [state, state], "{login}: {}", resp.text);
    }

    let mut checked = 0;
    for case in MESSAGE_CASES {
        let body = case
            .body
            .replace("NS", NS)
            .replace("{received}", &received)
            .replace("{personal}", &personal)
            .replace("{sent}", &sent);
        let mut users = vec![("mxall0".to_owned(), 255u32), ("mxview".to_owned(), 8)];
        users.extend(BITS.iter().map(|b| (format!("mx{b:04}"), 255 & !b)));
        for (login, privileges) in users {
            let path = format!("/DS/{}", case.endpoint);
            let resp = t.soap_as((&login, PASSWORD), &path, &body).await;
            assert_eq!(
                resp.status, 200,
                "{} as {login}: {}",
                case.operation, resp.text
            );
            let (code, _) = resp.status();
            let want = (case.expect)(privileges);
            assert_eq!(
                code, want,
                "{} as {login} (rights {privileges})",
                case.operation
            );
            assert_valid(&resp.body_xml(), Xsd::Dm);
            checked += 1;
        }
    }
    assert_eq!(checked, MESSAGE_CASES.len() * (BITS.len() + 2));
    t.stop().await;
}
