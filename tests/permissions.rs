//! The permission matrix: every implemented operation, called by users who
//! each lack one privilege bit, gets exactly the outcome ISDS gives.

mod common;

use common::*;

/// Privilege bits of `userPrivils`, as the fact sheet lists them.
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
/// (all of them), and the schema its response validates against.
struct Case {
    endpoint: &'static str,
    operation: &'static str,
    body: &'static str,
    needs: u32,
    xsd: Xsd,
}

const CASES: &[Case] = &[
    Case {
        endpoint: "dz",
        operation: "DummyOperation",
        body: r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#,
        needs: 0,
        xsd: Xsd::Dm,
    },
    Case {
        endpoint: "DsManage",
        operation: "GetOwnerInfoFromLogin",
        body: r#"<GetOwnerInfoFromLogin xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetOwnerInfoFromLogin>"#,
        needs: 0,
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "DsManage",
        operation: "GetOwnerInfoFromLogin2",
        body: r#"<GetOwnerInfoFromLogin2 xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetOwnerInfoFromLogin2>"#,
        needs: 0,
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "DsManage",
        operation: "GetUserInfoFromLogin",
        body: r#"<GetUserInfoFromLogin xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetUserInfoFromLogin>"#,
        needs: 0,
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "DsManage",
        operation: "GetUserInfoFromLogin2",
        body: r#"<GetUserInfoFromLogin2 xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetUserInfoFromLogin2>"#,
        needs: 0,
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "DsManage",
        operation: "GetPasswordInfo",
        body: r#"<GetPasswordInfo xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetPasswordInfo>"#,
        needs: 0,
        xsd: Xsd::Db,
    },
    // Administering the box's users needs the administration right (32)
    // for an entrusted user; ISDS refuses with 1004.
    Case {
        endpoint: "DsManage",
        operation: "GetDataBoxUsers2",
        body: r#"<GetDataBoxUsers2 xmlns="http://isds.czechpoint.cz/v20"><dbID>mtx4box</dbID></GetDataBoxUsers2>"#,
        needs: 32,
        xsd: Xsd::Db,
    },
    Case {
        endpoint: "DsManage",
        operation: "SetOpenAddressing",
        body: r#"<SetOpenAddressing xmlns="http://isds.czechpoint.cz/v20"><dbID>mtx4box</dbID></SetOpenAddressing>"#,
        needs: 32,
        xsd: Xsd::Db,
    },
    // Sending needs the right to send (4).
    Case {
        endpoint: "dz",
        operation: "CreateMessage",
        body: r#"<CreateMessage xmlns="http://isds.czechpoint.cz/v20"><dmEnvelope><dbIDRecipient>mtxovm1</dbIDRecipient><dmAnnotation>Matice</dmAnnotation></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="a.pdf"><dmEncodedContent>JVBERi0=</dmEncodedContent></dmFile></dmFiles></CreateMessage>"#,
        needs: 4,
        xsd: Xsd::Dm,
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
                assert_eq!(code, "1004", "{} as {login} lacks rights", case.operation);
                assert_valid(&resp.body_xml(), case.xsd);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, CASES.len() * (BITS.len() + 1));
    t.stop().await;
}
