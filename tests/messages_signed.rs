//! Signed artefacts through the real interface: SignedMessageDownload,
//! SignedSentMessageDownload and GetSignedDeliveryInfo answer `.zfo` files
//! that `openssl cms -verify` accepts against the gateway's signing root,
//! whose content is the expected XML, and whose embedded time-stamp token
//! `openssl ts -verify` accepts against the TSA certificate;
//! AuthenticateMessage tells an untouched artefact from a changed one;
//! Re-signISDSDocument re-stamps; the signed downloads answer exactly what
//! their unsigned twins answer (rights, other boxes, personal delivery)
//! and change state the same way. Every response is validated against the
//! project's and the official XSD.

mod common;

use std::path::Path;
use std::process::Command;

use common::messages::*;
use common::*;
use isds_gateway::xml::{self, Element, ParseLimits};

const DZ: &str = "/DS/dz";
const DX: &str = "/DS/dx";
const FO_LOGIN: (&str, &str) = ("fo_cerny", "Demo-Fo-2026!");

const MESSAGE_NS: &str = "http://isds.czechpoint.cz/v20/message";
const SENT_NS: &str = "http://isds.czechpoint.cz/v20/SentMessage";
const DELIVERY_NS: &str = "http://isds.czechpoint.cz/v20/delivery";

fn text(el: &Element, path: &[&str]) -> String {
    text_of(el, path)
}

/// The `.zfo` of a successful signed call.
fn zfo_of(resp: &SoapResponse) -> Vec<u8> {
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    unb64(&text(&resp.body(), &["dmSignature"]))
}

fn openssl(args: &[&str], dir: &Path) -> std::process::Output {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command must be installed for these tests");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Verifies `zfo` with `openssl cms -verify` against the gateway's root and
/// its embedded time-stamp token with `openssl ts -verify` against the TSA
/// certificate; returns the signed content parsed.
fn verify_externally(t: &TestGateway, zfo: &[u8], name: &str) -> Element {
    let work = tempfile::tempdir().expect("temp dir");
    let root = t.gw.signing_root_path.clone();
    let tsa = root.with_file_name("tsa.pem");
    std::fs::write(work.path().join(format!("{name}.zfo")), zfo).unwrap();
    openssl(
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            &format!("{name}.zfo"),
            "-CAfile",
            root.to_str().unwrap(),
            "-out",
            "content.xml",
        ],
        work.path(),
    );
    let (token, signature) = isds_gateway::sign::embedded_token(zfo).expect("token");
    std::fs::write(work.path().join("token.tsr"), token).unwrap();
    std::fs::write(work.path().join("signature.bin"), signature).unwrap();
    let out = openssl(
        &[
            "ts",
            "-verify",
            "-in",
            "token.tsr",
            "-token_in",
            "-data",
            "signature.bin",
            "-CAfile",
            root.to_str().unwrap(),
            "-untrusted",
            tsa.to_str().unwrap(),
        ],
        work.path(),
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Verification: OK"),
        "{out:?}"
    );
    // Another root must not do: the checks above really check.
    let other = tempfile::tempdir().unwrap();
    let other_id = isds_gateway::sign::SigningIdentity::load_or_create(
        other.path(),
        &isds_gateway::sign::SigningSettings::default(),
    )
    .unwrap();
    let refused = Command::new("openssl")
        .args([
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            &format!("{name}.zfo"),
            "-CAfile",
            other_id.root_path.to_str().unwrap(),
            "-out",
            "/dev/null",
        ])
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let content = std::fs::read(work.path().join("content.xml")).unwrap();
    xml::parse(&content, &ParseLimits::default()).expect("signed content is XML")
}

async fn authenticate(t: &TestGateway, login: (&str, &str), zfo: &[u8]) -> bool {
    let body = format!(
        r#"<AuthenticateMessage xmlns="{ISDS_NS}"><dmMessage>{}</dmMessage></AuthenticateMessage>"#,
        b64(zfo)
    );
    let resp = call(t, login, DZ, &body).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    match text(&resp.body(), &["dmAuthResult"]).as_str() {
        "true" => true,
        "false" => false,
        other => panic!("dmAuthResult {other}"),
    }
}

/// The state of message `id` as its sender's delivery info tells it.
async fn state(t: &TestGateway, sender: (&str, &str), id: &str) -> String {
    let resp = call(t, sender, DX, &id_body("GetDeliveryInfo", id)).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    text(&resp.body(), &["dmDelivery", "dmMessageStatus"])
}

#[tokio::test]
async fn signed_artefacts_verify_with_openssl_and_authenticate() {
    let t = TestGateway::start().await;
    let id = send_message(&t, OVM_LOGIN, "po4demo", "Výzva k doplnění", false).await;
    deliver(&t, PO_LOGIN).await;

    // The received message, signed; downloading it reads it (7).
    let resp = call(&t, PO_LOGIN, DZ, &id_body("SignedMessageDownload", &id)).await;
    let received = zfo_of(&resp);
    let content = verify_externally(&t, &received, "received");
    assert_eq!(content.name, "MessageDownloadResponse");
    assert_eq!(content.ns.as_deref(), Some(MESSAGE_NS));
    let returned = child(&content, "dmReturnedMessage");
    assert_eq!(returned.ns.as_deref(), Some(MESSAGE_NS));
    let dm = child(returned, "dmDm");
    assert_eq!(dm.ns.as_deref(), Some(ISDS_NS));
    assert_eq!(text(dm, &["dmID"]), id);
    assert_eq!(text(dm, &["dmAnnotation"]), "Výzva k doplnění");
    assert_eq!(text(dm, &["dbIDRecipient"]), "po4demo");
    let files: Vec<&Element> = child(dm, "dmFiles").elements().collect();
    assert_eq!(files.len(), 2);
    assert_eq!(unb64(&text(files[0], &["dmEncodedContent"])), pdf_bytes());
    assert_eq!(child(returned, "dmHash").ns.as_deref(), Some(MESSAGE_NS));
    assert_eq!(text(returned, &["dmMessageStatus"]), "7");
    assert_eq!(state(&t, PO_LOGIN, &id).await, "7");

    // The sent message, signed, for the sender.
    let resp = call(
        &t,
        OVM_LOGIN,
        DZ,
        &id_body("SignedSentMessageDownload", &id),
    )
    .await;
    let sent = zfo_of(&resp);
    let content = verify_externally(&t, &sent, "sent");
    assert_eq!(content.name, "MessageDownloadResponse");
    assert_eq!(content.ns.as_deref(), Some(SENT_NS));
    assert_eq!(text(&content, &["dmReturnedMessage", "dmDm", "dmID"]), id);
    assert_eq!(
        find(&content, &["dmReturnedMessage", "dmDm"]).ns.as_deref(),
        Some(ISDS_NS)
    );

    // The delivery receipt, signed, for either side.
    let resp = call(&t, OVM_LOGIN, DX, &id_body("GetSignedDeliveryInfo", &id)).await;
    let delivery = zfo_of(&resp);
    let content = verify_externally(&t, &delivery, "delivery");
    assert_eq!(content.name, "GetDeliveryInfoResponse");
    assert_eq!(content.ns.as_deref(), Some(DELIVERY_NS));
    let d = child(&content, "dmDelivery");
    assert_eq!(text(d, &["dmDm", "dmID"]), id);
    assert_eq!(child(d, "dmDm").ns.as_deref(), Some(ISDS_NS));
    let events: Vec<String> = child(d, "dmEvents")
        .elements()
        .map(|e| text(e, &["dmEventDescr"]))
        .collect();
    assert!(events.iter().any(|e| e.starts_with("EV5")), "{events:?}");
    assert_eq!(child(d, "dmEvents").ns.as_deref(), Some(DELIVERY_NS));
    let resp = call(&t, PO_LOGIN, DX, &id_body("GetSignedDeliveryInfo", &id)).await;
    verify_externally(&t, &zfo_of(&resp), "delivery-recipient");

    // AuthenticateMessage: each untouched artefact yes; a flipped byte
    // anywhere (content, signature, certificate, time stamp) no.
    for zfo in [&received, &sent, &delivery] {
        assert!(authenticate(&t, FO_LOGIN, zfo).await);
        for at in [
            10,
            zfo.len() / 3,
            zfo.len() / 2,
            zfo.len() - 40,
            zfo.len() - 1,
        ] {
            let mut bad = zfo.to_vec();
            bad[at] ^= 0x20;
            assert!(!authenticate(&t, FO_LOGIN, &bad).await, "byte {at}");
        }
    }
    assert!(!authenticate(&t, FO_LOGIN, b"not a zfo").await);

    // Re-signISDSDocument: a fresh time stamp on the same signature.
    let body = format!(
        r#"<Re-signISDSDocument xmlns="{ISDS_NS}"><dmDoc>{}</dmDoc></Re-signISDSDocument>"#,
        b64(&received)
    );
    let resp = call(&t, PO_LOGIN, DZ, &body).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let restamped = unb64(&text(&resp.body(), &["dmResultDoc"]));
    assert_ne!(restamped, received);
    assert_eq!(text(&resp.body(), &["dmValidTo"]).len(), 10);
    verify_externally(&t, &restamped, "restamped");
    assert!(authenticate(&t, PO_LOGIN, &restamped).await);
    let mut bad = received.clone();
    bad[received.len() / 2] ^= 1;
    let body = format!(
        r#"<Re-signISDSDocument xmlns="{ISDS_NS}"><dmDoc>{}</dmDoc></Re-signISDSDocument>"#,
        b64(&bad)
    );
    let resp = call(&t, PO_LOGIN, DZ, &body).await;
    // 2201: no document of this system (messages manual 2.3.3).
    assert_eq!(resp.status().0, "2201", "{}", resp.text);

    // ArchiveISDSDocument (dm_arch, SOAP 1.2 on /DS/arch): the same for
    // archives, with the day by which to stamp again.
    let archive = |doc: &[u8]| {
        soap12(&format!(
            r#"<ArchiveISDSDocument xmlns="{ISDS_NS}"><dmMessage>{}</dmMessage></ArchiveISDSDocument>"#,
            b64(doc)
        ))
    };
    let req = t
        .http
        .post(t.http_url("/DS/arch"))
        .header("authorization", basic(PO_LOGIN.0, PO_LOGIN.1));
    let resp = send(
        req,
        archive(&received),
        "application/soap+xml; charset=utf-8",
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert!(resp.text.contains(SOAP12_NS), "answered in SOAP 1.2");
    assert_valid(&resp.body_xml(), Xsd::Dm);
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let archived = unb64(&text(&resp.body(), &["dmResultDoc"]));
    assert_ne!(archived, received);
    assert_eq!(text(&resp.body(), &["nextStampTo"]).len(), 10);
    verify_externally(&t, &archived, "archived");
    assert!(authenticate(&t, PO_LOGIN, &archived).await);
    let req = t
        .http
        .post(t.http_url("/DS/arch"))
        .header("authorization", basic(PO_LOGIN.0, PO_LOGIN.1));
    let resp = send(req, archive(&bad), "application/soap+xml; charset=utf-8").await;
    assert_valid(&resp.body_xml(), Xsd::Dm);
    assert_eq!(resp.status().0, "2201", "{}", resp.text);
    t.stop().await;
}

#[tokio::test]
async fn signed_downloads_answer_what_their_unsigned_twins_answer() {
    let t = TestGateway::start().await;
    let ordinary = send_message(&t, OVM_LOGIN, "po4demo", "Oznámení", false).await;
    let personal = send_message(&t, OVM_LOGIN, "po4demo", "Do vlastních rukou", true).await;
    let outgoing = send_message(&t, PO_LOGIN, "ovm4dem", "Odpověď", false).await;
    // The entrusted user's listing delivers the ordinary message only.
    deliver(&t, PO_ENTRUSTED_LOGIN).await;

    // Rights 9 may not read the personal message (1208): refused alike,
    // and the refused signed download changes nothing.
    let signed = call(
        &t,
        PO_ENTRUSTED_LOGIN,
        DZ,
        &id_body("SignedMessageDownload", &personal),
    )
    .await;
    assert_eq!(signed.status().0, "1208", "{}", signed.text);
    assert!(!signed.text.contains("dmSignature"), "{}", signed.text);
    assert_eq!(state(&t, OVM_LOGIN, &personal).await, "4");
    // The ordinary one, delivered by this user's listing (6), is read by
    // the signed download (7), as MessageDownload does.
    assert_eq!(state(&t, OVM_LOGIN, &ordinary).await, "6");
    let signed = call(
        &t,
        PO_ENTRUSTED_LOGIN,
        DZ,
        &id_body("SignedMessageDownload", &ordinary),
    )
    .await;
    zfo_of(&signed);
    assert_eq!(state(&t, OVM_LOGIN, &ordinary).await, "7");

    let twins = [
        (DZ, "MessageDownload", DZ, "SignedMessageDownload"),
        (
            DX,
            "SentMessageEnvelopeDownload",
            DZ,
            "SignedSentMessageDownload",
        ),
        (DX, "GetDeliveryInfo", DX, "GetSignedDeliveryInfo"),
    ];
    let logins = [OVM_LOGIN, PO_LOGIN, PO_ENTRUSTED_LOGIN, FO_LOGIN];
    let ids = [
        ordinary.as_str(),
        personal.as_str(),
        outgoing.as_str(),
        "99999999",
        "x",
    ];
    let mut seen = std::collections::BTreeSet::new();
    for login in logins {
        for id in ids {
            for (path, op, signed_path, signed_op) in twins {
                // Signed first: its state change must be the one the
                // unsigned call then finds.
                let s = call(&t, login, signed_path, &id_body(signed_op, id)).await;
                let u = call(&t, login, path, &id_body(op, id)).await;
                assert_eq!(
                    s.status().0,
                    u.status().0,
                    "{} {signed_op} vs {op} on {id}: {} / {}",
                    login.0,
                    s.text,
                    u.text
                );
                if s.status().0 == "0000" {
                    assert!(s.text.contains("dmSignature"));
                }
                seen.insert(s.status().0);
            }
        }
    }
    // The matrix covered success, missing rights (1206, 1208), foreign
    // messages (1211), unknown ones (1219), a message not yet delivered
    // (1222) and an ID that is none (2019).
    let seen: Vec<String> = seen.into_iter().collect();
    assert_eq!(
        seen,
        ["0000", "1206", "1208", "1211", "1219", "1222", "2019"]
    );
    t.stop().await;
}

#[tokio::test]
async fn zfo_command_inspects_and_verifies() {
    let t = TestGateway::start().await;
    let id = send_message(&t, OVM_LOGIN, "po4demo", "Rozhodnutí", false).await;
    let resp = call(&t, OVM_LOGIN, DX, &id_body("GetSignedDeliveryInfo", &id)).await;
    let zfo = zfo_of(&resp);
    let work = tempfile::tempdir().unwrap();
    let good = work.path().join("dorucenka.zfo");
    std::fs::write(&good, &zfo).unwrap();
    let mut changed = zfo.clone();
    changed[zfo.len() / 2] ^= 4;
    let bad = work.path().join("zmenena.zfo");
    std::fs::write(&bad, &changed).unwrap();
    // base64 as dmSignature carries it is read too.
    let text = work.path().join("dorucenka.b64");
    std::fs::write(&text, b64(&zfo)).unwrap();
    let data = t.dir.path().join("data");
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_isds-gateway"))
            .args(args)
            .output()
            .expect("binary runs")
    };
    let os = |s: &str| std::ffi::OsString::from(s);

    let out = run(&[&os("zfo"), &os("inspect"), text.as_os_str()]);
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("message seal"), "{printed}");
    assert!(printed.contains("time-stamping authority"), "{printed}");
    assert!(printed.contains("delivery info"), "{printed}");
    assert!(printed.contains(&id), "{printed}");

    let out = run(&[&os("zfo"), &os("inspect"), &os("--json"), good.as_os_str()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["content"]["dm_id"], serde_json::json!(id));
    assert_eq!(v["content"]["namespace"], serde_json::json!(DELIVERY_NS));

    for file in [&good, &text] {
        let out = run(&[
            &os("zfo"),
            &os("verify"),
            file.as_os_str(),
            &os("--data"),
            data.as_os_str(),
        ]);
        assert!(out.status.success(), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("authentic"));
    }
    let out = run(&[
        &os("zfo"),
        &os("verify"),
        bad.as_os_str(),
        &os("--data"),
        data.as_os_str(),
    ]);
    assert!(!out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOT AUTHENTIC"));
    t.stop().await;
}

/// `dmQTimestamp` of a sent message is a time-stamp token of the built-in
/// TSA over its `dmHash`, the same in every answer that carries it, and
/// `openssl ts -verify` accepts it for that digest.
#[tokio::test]
async fn messages_carry_a_time_stamp_of_their_hash() {
    let t = TestGateway::start().await;
    let id = send_message(&t, OVM_LOGIN, "po4demo", "Razítko", false).await;
    deliver(&t, PO_LOGIN).await;
    let envelope = call(&t, PO_LOGIN, DX, &id_body("MessageEnvelopeDownload", &id)).await;
    let env = envelope.body();
    let returned = child(&env, "dmReturnedMessageEnvelope");
    let hash = text(returned, &["dmHash"]);
    let stamp = text(returned, &["dmQTimestamp"]);
    assert!(!stamp.trim().is_empty(), "dmQTimestamp empty");
    let delivery = call(&t, OVM_LOGIN, DX, &id_body("GetDeliveryInfo", &id)).await;
    assert_eq!(
        text(&delivery.body(), &["dmDelivery", "dmQTimestamp"]),
        stamp
    );
    let download = call(&t, PO_LOGIN, DZ, &id_body("MessageDownload", &id)).await;
    assert_eq!(
        text(&download.body(), &["dmReturnedMessage", "dmQTimestamp"]),
        stamp
    );

    let digest: String = unb64(&hash).iter().map(|b| format!("{b:02x}")).collect();
    let work = tempfile::tempdir().expect("temp dir");
    std::fs::write(work.path().join("stamp.tsr"), unb64(&stamp)).unwrap();
    let root = t.gw.signing_root_path.clone();
    let tsa = root.with_file_name("tsa.pem");
    let verify = |digest: &str| {
        Command::new("openssl")
            .args([
                "ts",
                "-verify",
                "-in",
                "stamp.tsr",
                "-token_in",
                "-digest",
                digest,
            ])
            .args([
                "-CAfile",
                root.to_str().unwrap(),
                "-untrusted",
                tsa.to_str().unwrap(),
            ])
            .current_dir(work.path())
            .output()
            .expect("the openssl command must be installed for these tests")
    };
    let out = verify(&digest);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Verification: OK"),
        "{out:?}"
    );
    // Another digest is refused: the check really checks.
    let other = format!(
        "{}{}",
        if digest.starts_with('0') { "1" } else { "0" },
        &digest[1..]
    );
    assert!(!verify(&other).status.success());
}
