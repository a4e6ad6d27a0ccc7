//! Sending data messages (CreateMessage, CreateMultipleMessage) through the
//! real SOAP interface, and what happens to them afterwards on the test
//! clock: delivery by listing, by fiction, content deletion, undeliverable.
//! What the read services will show is checked in the store the gateway
//! leaves behind once stopped.

mod common;

use std::sync::Arc;

use base64::Engine;
use common::*;
use isds_gateway::domain::messages;
use isds_gateway::domain::messages::message::{
    ContentKind, EventCode, Message, MessageId, MessageState,
};
use isds_gateway::store::{self, Store};

const OPERATOR: (&str, &str) = ("provozovatel", "Operator-Heslo-2026");
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const FO_LOGIN: (&str, &str) = ("fo_cerny", "Demo-Fo-2026!");
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

/// Extra boxes next to the demo world: a small attachment limit, an
/// inaccessible recipient, a sender box disabled by its owner.
const EXTRA_WORLD: &str = r#"
[[boxes]]
id = "tiny001"
type = "PO"
attachment_limit_mb = 1
[boxes.owner]
firm_name = "Malá s.r.o."
[[boxes.users]]
id = "tinyu1"
login = "tiny_user"
password = "Tiny-Heslo-2026"
type = "PRIMARY_USER"

[[boxes]]
id = "gone001"
type = "PO"
state = 4
open_addressing = true
[boxes.owner]
firm_name = "Zaniklá a.s."

[[boxes]]
id = "zavreno"
type = "PO"
state = 2
[boxes.owner]
firm_name = "Zavřená v.o.s."
[[boxes.users]]
id = "zavru1"
login = "zavreno_user"
password = "Zavreno-Heslo-2026"
type = "PRIMARY_USER"
"#;
const TINY_LOGIN: (&str, &str) = ("tiny_user", "Tiny-Heslo-2026");
const CLOSED_LOGIN: (&str, &str) = ("zavreno_user", "Zavreno-Heslo-2026");

async fn gateway(test_clock: bool) -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("extra.toml");
    std::fs::write(&extra, EXTRA_WORLD).unwrap();
    start_on(dir, test_clock, Some(extra)).await
}

/// Starts a gateway on `dir` as `serve` does (`http::start`: with
/// `test_clock` it runs on its own test clock, moved through
/// /admin/clock), adding the fixture `extra` if given.
async fn start_on(
    dir: tempfile::TempDir,
    test_clock: bool,
    extra: Option<std::path::PathBuf>,
) -> TestGateway {
    TestGateway::serve_on(dir, OPERATOR, |config| {
        config.fixtures.extend(extra.clone());
        config.test_clock = test_clock;
    })
    .await
}

/// Stops the gateway and opens the store it leaves behind.
async fn stop_and_open(t: TestGateway) -> (tempfile::TempDir, Arc<dyn Store>) {
    let TestGateway { gw, dir, .. } = t;
    gw.shutdown().await.expect("clean shutdown");
    let path = dir.path().join("data").join("store");
    let store = when_unlocked(|| async { store::open_sled(&path) }).await;
    (dir, store)
}

fn message(store: &dyn Store, id: &str) -> Message {
    let id = MessageId::parse(id).expect("a message ID");
    messages::repo::get_message(store, id)
        .expect("store readable")
        .expect("message stored")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A `dmFile` with base64 content.
fn encoded_file(meta: &str, mime: &str, name: &str, bytes: &[u8]) -> String {
    format!(
        r#"<dmFile dmMimeType="{mime}" dmFileMetaType="{meta}" dmFileDescr="{name}"><dmEncodedContent>{}</dmEncodedContent></dmFile>"#,
        b64(bytes)
    )
}

fn pdf(meta: &str, name: &str) -> String {
    encoded_file(meta, "application/pdf", name, PDF)
}

/// A `dmFile` with XML content.
fn xml_file(meta: &str, name: &str, xml: &str) -> String {
    format!(
        r#"<dmFile dmMimeType="application/xml" dmFileMetaType="{meta}" dmFileDescr="{name}"><dmXMLContent>{xml}</dmXMLContent></dmFile>"#
    )
}

/// GetListOfReceivedMessages of every message: the one call that delivers
/// (messages manual 1.8.1).
fn list_received() -> String {
    common::messages::list("GetListOfReceivedMessages")
}

/// A CreateMessage body: envelope children and files.
fn create(envelope: &str, files: &[String]) -> String {
    format!(
        r#"<CreateMessage xmlns="{ISDS_NS}" xmlns:xsi="{XSI}"><dmEnvelope>{envelope}</dmEnvelope><dmFiles>{}</dmFiles></CreateMessage>"#,
        files.concat()
    )
}

/// The simplest envelope to `recipient`.
fn to(recipient: &str, annotation: &str) -> String {
    format!("<dbIDRecipient>{recipient}</dbIDRecipient><dmAnnotation>{annotation}</dmAnnotation>")
}

/// Sends and checks the code and the response's validity; returns the
/// response.
async fn send_expect(t: &TestGateway, who: (&str, &str), body: &str, code: &str) -> SoapResponse {
    let resp = t.soap_as(who, "/DS/dz", body).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Dm);
    let (got, message) = resp.status();
    assert_eq!(got, code, "{message}\n{}", resp.text);
    resp
}

/// Sends a message that must be accepted; returns its dmID.
async fn send_ok(t: &TestGateway, who: (&str, &str), body: &str) -> String {
    let resp = send_expect(t, who, body, "0000").await;
    let id = resp
        .body()
        .elements()
        .find(|e| e.name == "dmID")
        .map(|e| e.text())
        .unwrap_or_else(|| panic!("no dmID:\n{}", resp.text));
    assert!(
        id.len() >= 8 && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );
    id
}

fn codes(m: &Message) -> Vec<EventCode> {
    m.events.iter().map(|e| e.code).collect()
}

#[tokio::test]
async fn documents_travel_both_ways_between_authority_and_company() {
    let t = gateway(false).await;
    let invoice = r#"<f:faktura xmlns:f="urn:example:faktura"><f:castka mena="CZK">1210</f:castka></f:faktura>"#;

    // PO → OVM: a public message (the recipient is an authority), PDF and
    // XML documents, full envelope.
    let envelope = "<dmSenderOrgUnit>Účtárna</dmSenderOrgUnit><dmSenderOrgUnitNum>12</dmSenderOrgUnitNum>\
        <dbIDRecipient>ovm4dem</dbIDRecipient><dmRecipientOrgUnit>Podatelna</dmRecipientOrgUnit>\
        <dmRecipientOrgUnitNum>3</dmRecipientOrgUnitNum><dmToHands>Ing. Jana Dvořáková</dmToHands>\
        <dmAnnotation>Daňové přiznání 2025</dmAnnotation><dmRecipientRefNumber>MU/123/2026</dmRecipientRefNumber>\
        <dmSenderRefNumber>UN-77</dmSenderRefNumber><dmRecipientIdent>SZ 5/2026</dmRecipientIdent>\
        <dmSenderIdent>A-1</dmSenderIdent><dmLegalTitleLaw>280</dmLegalTitleLaw><dmLegalTitleYear>2009</dmLegalTitleYear>\
        <dmLegalTitleSect>135</dmLegalTitleSect><dmLegalTitlePar>1</dmLegalTitlePar><dmLegalTitlePoint>a</dmLegalTitlePoint>\
        <dmPersonalDelivery>false</dmPersonalDelivery><dmAllowSubstDelivery>true</dmAllowSubstDelivery>\
        <dmPublishOwnID IdLevel=\"1\">true</dmPublishOwnID>";
    let to_ovm = send_ok(
        &t,
        PO_LOGIN,
        &create(
            envelope,
            &[
                pdf("main", "priznani.pdf"),
                xml_file("enclosure", "faktura.xml", invoice),
            ],
        ),
    )
    .await;

    // OVM → PO in OVM mode, personal delivery, no fiction.
    let to_po = send_ok(
        &t,
        OVM_LOGIN,
        &create(
            "<dbIDRecipient>po4demo</dbIDRecipient><dmAnnotation>Výzva</dmAnnotation>\
             <dmPersonalDelivery>true</dmPersonalDelivery><dmAllowSubstDelivery>false</dmAllowSubstDelivery>",
            &[pdf("main", "vyzva.pdf")],
        ),
    )
    .await;
    assert_ne!(to_ovm, to_po);

    // PO → PO of open addressing: commercial (PDZ), kind K by default;
    // an authority's dmOVM=false is ignored (messages manual 2.1, promotion
    // was abolished): its message to a PO is public.
    let pdz = send_ok(
        &t,
        TINY_LOGIN,
        &create(&to("po4demo", "Nabídka"), &[pdf("main", "nabidka.pdf")]),
    )
    .await;
    let ovm_public = send_ok(
        &t,
        OVM_LOGIN,
        &create(
            "<dbIDRecipient>po4demo</dbIDRecipient><dmAnnotation>Nájem</dmAnnotation><dmOVM>false</dmOVM>",
            &[pdf("main", "najem.pdf")],
        ),
    )
    .await;
    // A commercial message to a box without open addressing is refused;
    // from an authority it is public and goes through, dmOVM=false or not.
    send_expect(
        &t,
        PO_LOGIN,
        &create(&to("fo4demo", "Nabídka"), &[pdf("main", "n.pdf")]),
        "1232",
    )
    .await;
    send_expect(
        &t,
        OVM_LOGIN,
        &create(
            "<dbIDRecipient>fo4demo</dbIDRecipient><dmAnnotation>Nájem</dmAnnotation><dmOVM>false</dmOVM>",
            &[pdf("main", "n.pdf")],
        ),
        "0000",
    )
    .await;
    let to_fo = send_ok(
        &t,
        OVM_LOGIN,
        &create(&to("fo4demo", "Rozhodnutí"), &[pdf("main", "r.pdf")]),
    )
    .await;

    // Sending delivers nothing of what waits in the sender's box; the
    // authority's listing of its received messages does.
    let resp = t.soap_as(OVM_LOGIN, "/DS/dx", &list_received()).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);

    let (_dir, store) = stop_and_open(t).await;
    let s = store.as_ref();

    let m = message(s, &to_ovm);
    assert_eq!(m.sender.box_id.as_str(), "po4demo");
    assert_eq!(m.sender.name, "Účetnictví Novák s.r.o.");
    assert_eq!(m.sender.address, "Údolní 53, 60200 Brno");
    assert_eq!(m.recipient.name, "Městský úřad Dolní Lhota");
    assert_eq!(m.recipient.box_type.code(), 10);
    assert_eq!(m.delivery_time, Some(m.submitted_at));
    // The authority's primary user listed afterwards: that delivered it
    // (EV11; EV1 belongs to messages from before 2010).
    assert_eq!(m.state, MessageState::AcceptedByLogin);
    assert_eq!(codes(&m), [EventCode::EV0, EventCode::EV5, EventCode::EV11]);
    let e = &m.envelope;
    assert_eq!(e.sender_org_unit.as_deref(), Some("Účtárna"));
    assert_eq!(e.sender_org_unit_num, Some(12));
    assert_eq!(e.recipient_org_unit.as_deref(), Some("Podatelna"));
    assert_eq!(e.recipient_org_unit_num, Some(3));
    assert_eq!(e.to_hands.as_deref(), Some("Ing. Jana Dvořáková"));
    assert_eq!(e.annotation, "Daňové přiznání 2025");
    assert_eq!(e.recipient_ref_number.as_deref(), Some("MU/123/2026"));
    assert_eq!(e.sender_ref_number.as_deref(), Some("UN-77"));
    assert_eq!(e.recipient_ident.as_deref(), Some("SZ 5/2026"));
    assert_eq!(e.sender_ident.as_deref(), Some("A-1"));
    assert_eq!(
        (e.legal_title_law, e.legal_title_year),
        (Some(280), Some(2009))
    );
    assert_eq!(e.legal_title_sect.as_deref(), Some("135"));
    assert_eq!(e.legal_title_par.as_deref(), Some("1"));
    assert_eq!(e.legal_title_point.as_deref(), Some("a"));
    assert!(!e.personal_delivery && e.allow_subst_delivery && !e.ovm);
    assert!(e.publish_own_id);
    assert_eq!(e.id_level, Some(1));
    assert_eq!(e.dm_type, None, "a message to an authority is public");
    assert_eq!(m.author.user_type, "PRIMARY_USER");
    assert_eq!(m.author.name, "Petr Novák");
    assert_eq!(
        m.author.user_id.as_ref().map(|u| u.as_str()),
        Some("popu01")
    );
    // Documents: metadata, bytes as decoded / re-serialised, size, hash.
    assert_eq!(m.documents.len(), 2);
    assert_eq!(m.documents[0].descr, "priznani.pdf");
    assert_eq!(m.documents[0].meta_type, "main");
    assert_eq!(m.documents[0].kind, ContentKind::Encoded);
    assert_eq!(m.documents[1].kind, ContentKind::Xml);
    assert_eq!(m.documents[1].mime_type, "application/xml");
    let docs = messages::repo::get_documents(s, m.id).unwrap();
    assert_eq!(docs[0], PDF);
    assert_eq!(
        String::from_utf8(docs[1].clone()).unwrap(),
        r#"<faktura xmlns="urn:example:faktura"><castka mena="CZK">1210</castka></faktura>"#
    );
    assert_eq!(m.documents[1].size, docs[1].len() as u64);
    assert_eq!(
        m.attachment_size_kb,
        (PDF.len() + docs[1].len()).div_ceil(1024) as u64
    );
    let doc_refs: Vec<&[u8]> = docs.iter().map(|d| d.as_slice()).collect();
    assert_eq!(
        m.hash,
        isds_gateway::domain::messages::wire::compute_hash(&m, &doc_refs).unwrap()
    );

    let m = message(s, &to_po);
    assert!(m.envelope.ovm && m.envelope.personal_delivery);
    assert!(
        !m.envelope.allow_subst_delivery,
        "an authority may exclude fiction"
    );
    assert_eq!(m.envelope.dm_type, None);
    assert_eq!(m.sender.box_type.code(), 10);

    let m = message(s, &pdz);
    assert_eq!(m.envelope.dm_type.as_deref(), Some("K"));
    assert!(!m.envelope.ovm && !m.envelope.allow_subst_delivery);
    let m = message(s, &ovm_public);
    assert_eq!(m.envelope.dm_type, None);
    assert!(m.envelope.ovm && m.envelope.allow_subst_delivery);
    assert!(message(s, &to_fo).envelope.allow_subst_delivery);
}

#[tokio::test]
async fn every_refusal_has_its_status_code() {
    let t = gateway(false).await;
    let ok_files = [pdf("main", "a.pdf")];

    // The right to send (4): the entrusted user has 1 and 8 only; 1206.
    send_expect(
        &t,
        PO_ENTRUSTED_LOGIN,
        &create(&to("ovm4dem", "x"), &ok_files),
        "1206",
    )
    .await;
    // A box disabled by its owner sends nothing.
    send_expect(
        &t,
        CLOSED_LOGIN,
        &create(&to("ovm4dem", "x"), &ok_files),
        "1201",
    )
    .await;
    // dmOVM is ignored (messages manual 2.1): a company's dmOVM=true
    // sends an ordinary message.
    send_ok(
        &t,
        PO_LOGIN,
        &create(
            "<dbIDRecipient>ovm4dem</dbIDRecipient><dmAnnotation>x</dmAnnotation><dmOVM>true</dmOVM>",
            &ok_files,
        ),
    )
    .await;
    // No document at all: a status, not a fault.
    send_expect(&t, PO_LOGIN, &create(&to("ovm4dem", "x"), &[]), "2032").await;
    // The first document *should* be the main one (messages manual 2.1);
    // ISDS takes the message either way.
    send_ok(
        &t,
        PO_LOGIN,
        &create(&to("ovm4dem", "x"), &[pdf("enclosure", "a.pdf")]),
    )
    .await;
    send_ok(
        &t,
        PO_LOGIN,
        &create(
            &to("ovm4dem", "x"),
            &[pdf("main", "a.pdf"), pdf("main", "b.pdf")],
        ),
    )
    .await;
    // Formats by file name, case-insensitively; two MIME types refused.
    let resp = send_expect(
        &t,
        PO_LOGIN,
        &create(
            &to("ovm4dem", "x"),
            &[pdf("main", "a.pdf"), pdf("enclosure", "program.exe")],
        ),
        "1214",
    )
    .await;
    assert_eq!(
        resp.status().1,
        "Přípona souboru přiloženého k datové zprávě není v seznamu povolených přípon."
    );
    for (mime, name) in [
        ("application/x-msdownload", "a.pdf"),
        ("application/x-zip-compressed", "b.zip"),
    ] {
        let resp = send_expect(
            &t,
            PO_LOGIN,
            &create(
                &to("ovm4dem", "x"),
                &[encoded_file("main", mime, name, PDF)],
            ),
            "1214",
        )
        .await;
        assert_eq!(
            resp.status().1,
            "Zadaný MIME typ souboru neodpovídá.",
            "{name}"
        );
    }
    for name in [
        "SKEN.PDF",
        "foto.JPeG",
        "archiv.zip",
        "podpis.p7s",
        "mapa.shp",
    ] {
        send_ok(
            &t,
            PO_LOGIN,
            &create(
                &to("ovm4dem", "x"),
                &[encoded_file("main", "application/octet-stream", name, PDF)],
            ),
        )
        .await;
    }
    // The sender box's attachment limit, on decoded sizes: 1 MB here.
    let mb = vec![b'x'; 1024 * 1024];
    send_ok(
        &t,
        TINY_LOGIN,
        &create(
            &to("ovm4dem", "x"),
            &[encoded_file("main", "text/plain", "a.txt", &mb)],
        ),
    )
    .await;
    send_expect(
        &t,
        TINY_LOGIN,
        &create(
            &to("ovm4dem", "x"),
            &[
                encoded_file("main", "text/plain", "a.txt", &mb),
                encoded_file("enclosure", "text/plain", "b.txt", b"!"),
            ],
        ),
        "1282",
    )
    .await;
    // Recipients: unknown (1202, naming it), none given, inaccessible
    // (1204), the system box (1203).
    let resp = send_expect(
        &t,
        OVM_LOGIN,
        &create(&to("nobox00", "x"), &ok_files),
        "1202",
    )
    .await;
    assert_eq!(resp.status().1, "Schránka příjemce nobox00 neexistuje.");
    send_expect(
        &t,
        OVM_LOGIN,
        &create("<dmAnnotation>x</dmAnnotation>", &ok_files),
        "1202",
    )
    .await;
    send_expect(
        &t,
        OVM_LOGIN,
        &create(&to("gone001", "x"), &ok_files),
        "1204",
    )
    .await;
    send_expect(
        &t,
        OVM_LOGIN,
        &create(&to("aaaaaaa", "x"), &ok_files),
        "1203",
    )
    .await;
    // Commercial rules: no open addressing; a kind not for sending.
    send_expect(
        &t,
        PO_LOGIN,
        &create(&to("fo4demo", "x"), &ok_files),
        "1232",
    )
    .await;
    let body = create(&to("po4demo", "x"), &ok_files)
        .replace("<dmEnvelope>", r#"<dmEnvelope dmType="X">"#);
    send_expect(&t, TINY_LOGIN, &body, "2042").await;
    let body = create(&to("po4demo", "x"), &ok_files)
        .replace("<dmEnvelope>", r#"<dmEnvelope dmType="I">"#);
    send_ok(&t, TINY_LOGIN, &body).await;
    // A document meta type outside the schema is a client fault.
    let resp = t
        .soap_as(
            PO_LOGIN,
            "/DS/dz",
            &create(&to("ovm4dem", "x"), &[pdf("hlavni", "a.pdf")]),
        )
        .await;
    assert_eq!(resp.status, 500, "{}", resp.text);
    assert!(resp.fault().0.contains("Client"), "{}", resp.text);
    t.stop().await;
}

#[tokio::test]
async fn envelope_texts_are_rewritten_as_isds_does() {
    let t = gateway(false).await;
    let envelope = "<dbIDRecipient>ovm4dem</dbIDRecipient>\
        <dmToHands>Ing.\u{A0}Jana\u{2009}Dvořáková</dmToHands>\
        <dmAnnotation>\u{201E}Žádost\u{201C} &lt;naléhavé&gt;&#13;\nro\u{AD}zhod\u{200B}nutí\t\u{2013} \u{2018}č. 5\u{2019}</dmAnnotation>\
        <dmSenderRefNumber>A\u{2014}1\u{FEFF}</dmSenderRefNumber>";
    let id = send_ok(&t, PO_LOGIN, &create(envelope, &[pdf("main", "a.pdf")])).await;
    let (_dir, store) = stop_and_open(t).await;
    let m = message(store.as_ref(), &id);
    // (A literal CR LF would reach the gateway as LF alone, as XML
    // parsers normalise line ends; the CR is sent as a reference.)
    assert_eq!(
        m.envelope.annotation,
        "\"Žádost\" _naléhavé_  rozhodnutí - 'č. 5'"
    );
    assert_eq!(m.envelope.to_hands.as_deref(), Some("Ing. Jana Dvořáková"));
    assert_eq!(m.envelope.sender_ref_number.as_deref(), Some("A-1"));
}

#[tokio::test]
async fn multiple_recipients_each_get_their_own_message_and_status() {
    let t = gateway(false).await;
    let recipient = |id: &str, unit: &str| {
        format!(
            "<dmRecipient><dbIDRecipient>{id}</dbIDRecipient><dmRecipientOrgUnit>{unit}</dmRecipientOrgUnit><dmToHands>k rukám\u{2013}{id}</dmToHands></dmRecipient>"
        )
    };
    let multiple = |recipients: &str, files: &str| {
        format!(
            r#"<CreateMultipleMessage xmlns="{ISDS_NS}"><dmRecipients>{recipients}</dmRecipients><dmEnvelope><dmAnnotation>Oznámení</dmAnnotation></dmEnvelope><dmFiles>{files}</dmFiles></CreateMultipleMessage>"#
        )
    };
    let recipients = [
        recipient("po4demo", "Vedení"),
        recipient("nobox00", "-"),
        recipient("fo4demo", ""),
        recipient("gone001", "-"),
    ]
    .concat();
    let resp = send_expect(
        &t,
        OVM_LOGIN,
        &multiple(&recipients, &pdf("main", "o.pdf")),
        "0004",
    )
    .await;
    let body = resp.body();
    let statuses: Vec<(Option<String>, String)> = body
        .elements()
        .find(|e| e.name == "dmMultipleStatus")
        .expect("per-recipient statuses")
        .elements()
        .map(|single| {
            let id = single
                .elements()
                .find(|e| e.name == "dmID")
                .map(|e| e.text());
            let code = single
                .elements()
                .find(|e| e.name == "dmStatus")
                .and_then(|s| s.elements().find(|e| e.name == "dmStatusCode"))
                .map(|e| e.text())
                .unwrap_or_default();
            (id, code)
        })
        .collect();
    let got_codes: Vec<&str> = statuses.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(got_codes, ["0000", "1202", "0000", "1204"]);
    assert!(statuses[1].0.is_none() && statuses[3].0.is_none());
    let po_id = statuses[0].0.clone().expect("an ID for po4demo");
    let fo_id = statuses[2].0.clone().expect("an ID for fo4demo");
    assert_ne!(po_id, fo_id);

    // All succeeded: 0000 with a status each.
    let resp = send_expect(
        &t,
        OVM_LOGIN,
        &multiple(
            &[recipient("po4demo", "a"), recipient("fo4demo", "b")].concat(),
            &pdf("main", "o.pdf"),
        ),
        "0000",
    )
    .await;
    assert!(resp.text.contains("dmMultipleStatus"), "{}", resp.text);
    // Whole-request refusals have no per-recipient part.
    let many: String = (0..51).map(|_| recipient("po4demo", "x")).collect();
    let resp = send_expect(
        &t,
        OVM_LOGIN,
        &multiple(&many, &pdf("main", "o.pdf")),
        "1217",
    )
    .await;
    assert!(resp.text.contains("více než 50 příjemců"), "{}", resp.text);
    assert!(!resp.text.contains("dmMultipleStatus"), "{}", resp.text);
    send_expect(
        &t,
        OVM_LOGIN,
        &multiple(&recipients, &pdf("main", "o.exe")),
        "1214",
    )
    .await;
    send_expect(&t, OVM_LOGIN, &multiple(&recipients, ""), "2032").await;

    let (_dir, store) = stop_and_open(t).await;
    let po = message(store.as_ref(), &po_id);
    let fo = message(store.as_ref(), &fo_id);
    assert_eq!(po.recipient.box_id.as_str(), "po4demo");
    assert_eq!(po.envelope.recipient_org_unit.as_deref(), Some("Vedení"));
    assert_eq!(po.envelope.to_hands.as_deref(), Some("k rukám-po4demo"));
    assert_eq!(fo.recipient.box_id.as_str(), "fo4demo");
    assert_eq!(fo.envelope.annotation, "Oznámení");
    assert_eq!(po.hash.len(), 32);
    assert_ne!(po.hash, fo.hash);
}

/// GET or POST `/admin/clock`; returns (HTTP status, body).
async fn clock_call(
    t: &TestGateway,
    who: Option<(&str, &str)>,
    json: Option<&str>,
) -> (u16, String) {
    let url = t.http_url("/admin/clock");
    let mut req = match json {
        Some(_) => t.http.post(&url),
        None => t.http.get(&url),
    };
    if let Some((l, p)) = who {
        req = req.header("authorization", basic(l, p));
    }
    if let Some(j) = json {
        req = req
            .header("content-type", "application/json")
            .body(j.to_owned());
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

fn now_of(body: &str) -> time::OffsetDateTime {
    let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
    let text = v["now"].as_str().expect("now").to_owned();
    time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339")
}

#[tokio::test]
async fn the_admin_clock_is_the_operators_and_only_in_test_mode() {
    let t = gateway(false).await;
    assert_eq!(clock_call(&t, Some(OPERATOR), None).await.0, 404);
    t.stop().await;

    let t = gateway(true).await;
    assert_eq!(clock_call(&t, None, None).await.0, 401);
    assert_eq!(clock_call(&t, Some(PO_LOGIN), None).await.0, 401);
    assert_eq!(
        clock_call(&t, Some((OPERATOR.0, "wrong")), None).await.0,
        401
    );
    let (status, body) = clock_call(&t, Some(OPERATOR), None).await;
    assert_eq!(status, 200, "{body}");
    let start = now_of(&body);
    let (status, body) = clock_call(&t, Some(OPERATOR), Some(r#"{"advance":"10d"}"#)).await;
    assert_eq!(status, 200, "{body}");
    let later = now_of(&body);
    assert!(
        (later - start - time::Duration::days(10))
            .whole_seconds()
            .abs()
            < 5
    );
    let (status, body) = clock_call(
        &t,
        Some(OPERATOR),
        Some(r#"{"set":"2030-01-02T03:04:05Z"}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        (now_of(&body) - time::macros::datetime!(2030-01-02 03:04:05 UTC))
            .whole_seconds()
            .abs()
            < 5
    );
    for bad in [
        r#"{"advance":"soon"}"#,
        r#"{"set":"zítra"}"#,
        "{}",
        "nonsense",
        r#"{"set":"2030-01-01T00:00:00Z","advance":"1d"}"#,
    ] {
        assert_eq!(
            clock_call(&t, Some(OPERATOR), Some(bad)).await.0,
            400,
            "{bad}"
        );
    }

    // The command line does the same.
    let url = t.http_url("");
    let op = format!("{}:{}", OPERATOR.0, OPERATOR.1);
    let run = |args: Vec<String>| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_isds-gateway"))
            .args(&args)
            .output()
            .expect("the binary runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let args = |cmd: &[&str]| {
        let mut v: Vec<String> = vec!["clock".into()];
        v.extend(cmd.iter().map(|s| s.to_string()));
        v.extend([
            "--url".to_owned(),
            url.clone(),
            "--operator".to_owned(),
            op.clone(),
        ]);
        v
    };
    let (ok, out, err) = tokio::task::spawn_blocking({
        let a = args(&["advance", "1d"]);
        move || run(a)
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    let moved = now_of(&out);
    assert!(
        (moved - time::macros::datetime!(2030-01-03 03:04:05 UTC))
            .whole_seconds()
            .abs()
            < 10,
        "{out}"
    );
    let (ok, out, err) = tokio::task::spawn_blocking({
        let a = args(&["set", "2031-06-01T12:00:00Z"]);
        move || run(a)
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    // Reported as every gateway time: Czech time with milliseconds and its
    // offset (the test clock runs on from the time set, so the
    // milliseconds are those of the answer).
    assert!(out.contains("2031-06-01T14:00:0"), "{out}");
    assert!(out.contains("+02:00"), "{out}");
    let millis = out
        .split("2031-06-01T14:00:0")
        .nth(1)
        .and_then(|rest| rest.get(1..5))
        .unwrap_or_default();
    assert!(
        millis.starts_with('.') && millis[1..].chars().all(|c| c.is_ascii_digit()),
        "{out}"
    );
    let (ok, out, _) = tokio::task::spawn_blocking({
        let a = args(&["get"]);
        move || run(a)
    })
    .await
    .unwrap();
    assert!(ok && out.contains("2031-06-01"), "{out}");
    let (ok, _, err) = tokio::task::spawn_blocking({
        let mut a = args(&["get"]);
        a.pop();
        a.push(format!("{}:wrong", OPERATOR.0));
        move || run(a)
    })
    .await
    .unwrap();
    assert!(!ok && err.contains("refused"), "{err}");
    t.stop().await;
}

#[tokio::test]
async fn delivery_by_listing_by_fiction_and_content_deletion_on_the_test_clock() {
    let t = gateway(true).await;
    let plain = send_ok(
        &t,
        OVM_LOGIN,
        &create(&to("po4demo", "Běžná"), &[pdf("main", "a.pdf")]),
    )
    .await;
    let personal = send_ok(
        &t,
        OVM_LOGIN,
        &create(
            "<dbIDRecipient>po4demo</dbIDRecipient><dmAnnotation>Do vlastních rukou</dmAnnotation><dmPersonalDelivery>true</dmPersonalDelivery>",
            &[pdf("main", "b.pdf")],
        ),
    )
    .await;
    let for_fo = send_ok(
        &t,
        OVM_LOGIN,
        &create(&to("fo4demo", "Fikce"), &[pdf("main", "c.pdf")]),
    )
    .await;

    // The entrusted user (rights 1 and 8) lists the received messages: the
    // ordinary message is delivered, the personal one waits for right 2.
    // Logging in (DummyOperation) before delivers nothing.
    clock_call(&t, Some(OPERATOR), Some(r#"{"advance":"1h"}"#)).await;
    send_expect(
        &t,
        PO_ENTRUSTED_LOGIN,
        r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#,
        "0000",
    )
    .await;
    let resp = t
        .soap_as(PO_ENTRUSTED_LOGIN, "/DS/dx", &list_received())
        .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    clock_call(&t, Some(OPERATOR), Some(r#"{"advance":"1h"}"#)).await;
    let resp = t.soap_as(PO_LOGIN, "/DS/dx", &list_received()).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    // Nobody of fo4demo lists: fiction after 10 days, then deletion 90
    // days after each acceptance.
    clock_call(&t, Some(OPERATOR), Some(r#"{"advance":"10d"}"#)).await;
    clock_call(&t, Some(OPERATOR), Some(r#"{"advance":"101d"}"#)).await;

    let (_dir, store) = stop_and_open(t).await;
    let s = store.as_ref();
    let hour = 3_600_000_000i64;

    let p = message(s, &plain);
    assert_eq!(codes(&p), [EventCode::EV0, EventCode::EV5, EventCode::EV12]);
    let accepted = p.acceptance_time.expect("accepted");
    assert!(
        (accepted.0 - p.submitted_at.0 - hour).abs() < 60_000_000,
        "an hour after sending"
    );
    assert_eq!(p.state, MessageState::ContentDeleted);

    let q = message(s, &personal);
    assert_eq!(codes(&q), [EventCode::EV0, EventCode::EV5, EventCode::EV11]);
    let accepted_personal = q.acceptance_time.expect("accepted");
    assert!(
        accepted_personal.0 - accepted.0 >= hour - 60_000_000,
        "not by the entrusted user"
    );

    let f = message(s, &for_fo);
    let delivered = f.delivery_time.expect("delivered");
    assert_eq!(codes(&f), [EventCode::EV0, EventCode::EV5, EventCode::EV2]);
    assert_eq!(f.acceptance_time, Some(delivered.plus_days(10)));
    assert_eq!(f.events[2].at, delivered.plus_days(10));

    // Content deletion: documents gone, envelope and hash stay.
    for m in [&p, &q, &f] {
        assert_eq!(m.state, MessageState::ContentDeleted, "{}", m.id);
        assert!(m.content_deleted);
        assert!(messages::repo::get_documents(s, m.id).unwrap().is_empty());
        assert_eq!(m.documents.len(), 1, "the metadata stays");
    }
    let changes = messages::repo::state_changes(s, &f.recipient.box_id, None, None).unwrap();
    let f_changes: Vec<_> = changes
        .iter()
        .filter(|c| c.0 == f.id)
        .map(|c| (c.1, c.2))
        .collect();
    assert_eq!(
        f_changes,
        [
            (delivered, MessageState::Delivered),
            (delivered.plus_days(10), MessageState::AcceptedByFiction),
            (delivered.plus_days(100), MessageState::ContentDeleted),
        ]
    );
}

#[tokio::test]
async fn fiction_is_visible_after_a_restart_and_personal_messages_wait_for_right_2() {
    let t = gateway(true).await;
    let to_fo = send_ok(
        &t,
        OVM_LOGIN,
        &create(&to("fo4demo", "Fikce"), &[pdf("main", "c.pdf")]),
    )
    .await;
    let personal = send_ok(
        &t,
        OVM_LOGIN,
        &create(
            "<dbIDRecipient>po4demo</dbIDRecipient><dmAnnotation>DVR</dmAnnotation><dmPersonalDelivery>true</dmPersonalDelivery><dmAllowSubstDelivery>false</dmAllowSubstDelivery>",
            &[pdf("main", "b.pdf")],
        ),
    )
    .await;
    send_expect(
        &t,
        PO_ENTRUSTED_LOGIN,
        r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#,
        "0000",
    )
    .await;
    clock_call(&t, Some(OPERATOR), Some(r#"{"advance":"9d"}"#)).await;
    // Not yet due after 9 days; due after 10.
    clock_call(&t, Some(OPERATOR), Some(r#"{"advance":"1d"}"#)).await;
    clock_call(&t, Some(OPERATOR), Some(r#"{"advance":"60s"}"#)).await;
    let (dir, store) = stop_and_open(t).await;
    let f = message(store.as_ref(), &to_fo);
    assert_eq!(f.state, MessageState::AcceptedByFiction);
    let p = message(store.as_ref(), &personal);
    assert_eq!(
        p.state,
        MessageState::Delivered,
        "no right 2, no fiction allowed"
    );
    drop(store);

    // Restarted on the same data (clock back to wall time): the states stay.
    let t = start_on(dir, false, None).await;
    let (_dir, store) = stop_and_open(t).await;
    assert_eq!(
        message(store.as_ref(), &to_fo).state,
        MessageState::AcceptedByFiction
    );
}

#[tokio::test]
async fn messages_waiting_in_a_box_disabled_by_the_operator_become_undeliverable() {
    let t = gateway(false).await;
    let waiting = send_ok(
        &t,
        OVM_LOGIN,
        &create(&to("fo4demo", "Čeká"), &[pdf("main", "a.pdf")]),
    )
    .await;
    let read = send_ok(
        &t,
        OVM_LOGIN,
        &create(&to("fo4demo", "Přijatá"), &[pdf("main", "b.pdf")]),
    )
    .await;
    // The owner lists the received messages: both delivered. Then a third
    // arrives and waits.
    let resp = t.soap_as(FO_LOGIN, "/DS/dx", &list_received()).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let third = send_ok(
        &t,
        OVM_LOGIN,
        &create(&to("fo4demo", "Třetí"), &[pdf("main", "c.pdf")]),
    )
    .await;

    let disable = format!(
        r#"<DisableDataBoxExternally2 xmlns="{ISDS_NS}" xmlns:xsi="{XSI}"><dbID>fo4demo</dbID><dbOwnerDisableDate xsi:nil="true"/></DisableDataBoxExternally2>"#
    );
    let resp = t.soap_as(OPERATOR, "/DS/DsManage", &disable).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    // Nothing more can be sent there.
    send_expect(
        &t,
        OVM_LOGIN,
        &create(&to("fo4demo", "Pozdě"), &[pdf("main", "d.pdf")]),
        "1204",
    )
    .await;

    // The sender's box got a system message about it from the system box
    // (sender type 0), readable like any other message.
    let list = format!(
        r#"<GetListOfReceivedMessages xmlns="{ISDS_NS}" xmlns:xsi="{XSI}"><dmFromTime xsi:nil="true"/><dmToTime xsi:nil="true"/><dmRecipientOrgUnitNum xsi:nil="true"/><dmStatusFilter>-1</dmStatusFilter><dmOffset xsi:nil="true"/><dmLimit xsi:nil="true"/></GetListOfReceivedMessages>"#
    );
    let resp = t.soap_as(OVM_LOGIN, "/DS/dx", &list).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Dm);
    let records: Vec<_> = resp
        .body()
        .elements()
        .flat_map(|e| e.elements())
        .filter(|e| e.name == "dmRecord")
        .cloned()
        .collect();
    assert_eq!(records.len(), 1, "one notice, for the third message only");
    let field = |name: &str| {
        records[0]
            .elements()
            .find(|e| e.name == name)
            .map(|e| e.text())
            .unwrap_or_default()
    };
    assert_eq!(field("dbIDSender"), "aaaaaaa");
    assert_eq!(field("dmSenderType"), "0");
    assert_eq!(field("dbIDRecipient"), "ovm4dem");
    assert_eq!(
        field("dmAnnotation"),
        format!("Nedoručitelná datová zpráva č. {third}")
    );
    let notice = field("dmID");
    let download =
        format!(r#"<MessageDownload xmlns="{ISDS_NS}"><dmID>{notice}</dmID></MessageDownload>"#);
    let resp = t.soap_as(OVM_LOGIN, "/DS/dz", &download).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Dm);
    let encoded = resp
        .text
        .split("<p:dmEncodedContent>")
        .nth(1)
        .or_else(|| resp.text.split("dmEncodedContent>").nth(1))
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_default()
        .to_owned();
    let text = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .expect("base64 document"),
    )
    .expect("UTF-8 notice");
    assert!(text.contains(&third) && text.contains("fo4demo"), "{text}");
    let (_dir, store) = stop_and_open(t).await;
    let s = store.as_ref();
    let notice = message(s, &notice);
    // Accepted by the login that listed it, read by the download.
    assert_eq!(notice.state, MessageState::Read);
    assert!(notice.sender.system);
    assert_eq!(notice.recipient.box_id.as_str(), "ovm4dem");
    let m = message(s, &third);
    assert_eq!(m.state, MessageState::Undeliverable);
    assert_eq!(codes(&m), [EventCode::EV0, EventCode::EV5, EventCode::EV3]);
    for id in [&waiting, &read] {
        assert_eq!(message(s, id).state, MessageState::AcceptedByLogin, "{id}");
    }
}

/// Sends made at the same time are committed together (one store write
/// and one flush for the group): each still gets its own ID, its own
/// envelope and documents, and every one is listed for the recipient and
/// found in the store after a restart.
#[tokio::test]
async fn messages_sent_together_are_each_stored_once_with_their_own_content() {
    const SENDS: usize = 24;
    let t = gateway(false).await;
    let bodies: Vec<String> = (0..SENDS)
        .map(|i| {
            let doc = encoded_file(
                "main",
                "application/pdf",
                &format!("s{i}.pdf"),
                format!("%PDF-1.4 odeslání {i}").as_bytes(),
            );
            create(&to("po4demo", &format!("Souběžně {i}")), &[doc])
        })
        .collect();
    // At most 8 in flight, half the login's limit of parallel requests
    // (16), past which ISDS (and the gateway) answers 3008 instead of
    // storing: a slot may be released just after its answer reached the
    // client. The answers come back in the order of the bodies.
    use futures_util::StreamExt;
    let ids: Vec<String> = futures_util::stream::iter(bodies.iter())
        .map(|body| send_ok(&t, OVM_LOGIN, body))
        .buffered(8)
        .collect()
        .await;
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), SENDS, "an ID answered twice: {ids:?}");
    let listed = t.soap_as(PO_LOGIN, "/DS/dx", &list_received()).await;
    for id in &ids {
        assert!(listed.text.contains(id.as_str()), "{id} not listed");
    }
    let (_dir, store) = stop_and_open(t).await;
    for (i, id) in ids.iter().enumerate() {
        let m = message(store.as_ref(), id);
        assert_eq!(m.envelope.annotation, format!("Souběžně {i}"));
        let docs = messages::repo::get_documents(store.as_ref(), m.id).unwrap();
        assert_eq!(docs, vec![format!("%PDF-1.4 odeslání {i}").into_bytes()]);
    }
}

/// A send catches up what fell due before it stores anything, as every
/// message call does, though a small one is staged on the request's task
/// and reaches the blocking pool only when something is due: a message
/// left waiting ten days is accepted by fiction by the next send, with
/// no other call between (the test clock moved directly, which runs
/// nothing by itself); the send itself is stored and answered as usual.
#[tokio::test]
async fn a_small_send_first_catches_up_what_fell_due() {
    let (t, clock) = TestGateway::start_time_travelling(tempfile::tempdir().unwrap()).await;
    let waiting = send_ok(
        &t,
        OVM_LOGIN,
        &create(&to("fo4demo", "Čeká"), &[pdf("main", "a.pdf")]),
    )
    .await;
    clock.advance(time::Duration::days(10) + time::Duration::hours(1));
    let next = send_ok(
        &t,
        OVM_LOGIN,
        &create(&to("fo4demo", "Další"), &[pdf("main", "b.pdf")]),
    )
    .await;
    let (_dir, store) = stop_and_open(t).await;
    let first = message(store.as_ref(), &waiting);
    assert_eq!(first.state, MessageState::AcceptedByFiction);
    assert_eq!(
        codes(&first),
        [EventCode::EV0, EventCode::EV5, EventCode::EV2]
    );
    let second = message(store.as_ref(), &next);
    assert_eq!(second.state, MessageState::Delivered);
    assert_eq!(second.envelope.annotation, "Další");
    assert_eq!(
        messages::repo::get_documents(store.as_ref(), second.id).unwrap(),
        vec![PDF.to_vec()]
    );
}
