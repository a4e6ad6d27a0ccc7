//! Reading messages through the real interface: send with CreateMessage,
//! list, download (bytes identical), mark, delivery info with events,
//! state changes, authors, hashes; the privilege rules; another box's
//! message; paging over a thousand messages; state filters; the
//! asynchronous list of erased messages; notifications for applications.
//! Every response is validated against the project's and the official XSD.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use common::messages::*;
use common::*;
use isds_gateway::domain::BoxId;
use isds_gateway::domain::BoxType;
use isds_gateway::domain::messages;
use isds_gateway::domain::messages::message::{
    Author, ContentKind, DocumentMeta, EnvelopeFields, Event, EventCode, HashForm, Message,
    MessageId, MessageState, Party, Timestamp,
};
use isds_gateway::domain::messages::wire::compute_hash;
use isds_gateway::xml::{Element, ParseLimits, XmlWriter};

const DZ: &str = "/DS/dz";
const DX: &str = "/DS/dx";
const FO_LOGIN: (&str, &str) = ("fo_cerny", "Demo-Fo-2026!");

/// A GetListOf{Received,Sent}Messages body; `None` items are sent nil.
fn list_body(
    op: &str,
    from: Option<&str>,
    to: Option<&str>,
    filter: &str,
    offset: Option<usize>,
    limit: Option<usize>,
) -> String {
    let unit = if op == "GetListOfSentMessages" {
        "dmSenderOrgUnitNum"
    } else {
        "dmRecipientOrgUnitNum"
    };
    let opt = |name: &str, v: Option<String>| match v {
        Some(v) => format!("<{name}>{v}</{name}>"),
        None => format!(r#"<{name} xsi:nil="true"/>"#),
    };
    format!(
        r#"<{op} xmlns="{ISDS_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{}{}{}<dmStatusFilter>{filter}</dmStatusFilter>{}{}</{op}>"#,
        opt("dmFromTime", from.map(str::to_owned)),
        opt("dmToTime", to.map(str::to_owned)),
        opt(unit, None),
        opt("dmOffset", offset.map(|o| o.to_string())),
        opt("dmLimit", limit.map(|l| l.to_string())),
    )
}

/// (dmID, ordinal, state) of every record of a list response.
fn records(resp: &SoapResponse) -> Vec<(String, usize, u8)> {
    let body = resp.body();
    let Some(records) = body.elements().find(|e| e.name == "dmRecords") else {
        return Vec::new();
    };
    records
        .elements()
        .map(|r| {
            (
                text_of(r, &["dmID"]),
                text_of(r, &["dmOrdinal"]).parse().unwrap(),
                text_of(r, &["dmMessageStatus"]).parse().unwrap(),
            )
        })
        .collect()
}

/// The element re-serialised on its own, for comparing XML content.
fn canonical(el: &Element) -> String {
    let mut w = XmlWriter::new();
    w.raw_element(el);
    w.into_string()
}

fn event_codes(delivery: &Element) -> Vec<String> {
    child(delivery, "dmEvents")
        .elements()
        .map(|e| {
            let descr = text_of(e, &["dmEventDescr"]);
            descr.split(':').next().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn send_list_download_mark_and_delivery_info() {
    let t = TestGateway::start().await;
    let id = send_message(&t, PO_LOGIN, "ovm4dem", "Žádost o dotaci", false).await;

    // The recipient lists its received messages: the listing delivered the
    // message (6).
    let resp = call(
        &t,
        OVM_LOGIN,
        DX,
        &list_body("GetListOfReceivedMessages", None, None, "-1", None, None),
    )
    .await;
    assert_eq!(resp.status().0, "0000");
    assert_eq!(records(&resp), vec![(id.clone(), 1, 6)]);
    let body = resp.body();
    let rec = find(&body, &["dmRecords", "dmRecord"]);
    assert_eq!(text_of(rec, &["dbIDSender"]), "po4demo");
    assert_eq!(text_of(rec, &["dmSender"]), "Účetnictví Novák s.r.o.");
    assert_eq!(text_of(rec, &["dmSenderType"]), "20");
    assert_eq!(text_of(rec, &["dbIDRecipient"]), "ovm4dem");
    assert_eq!(text_of(rec, &["dmAnnotation"]), "Žádost o dotaci");
    assert!(!text_of(rec, &["dmDeliveryTime"]).is_empty());
    assert!(!text_of(rec, &["dmAcceptanceTime"]).is_empty());

    // Download: the documents come back exactly as sent; the message is
    // now read (7).
    let resp = call(&t, OVM_LOGIN, DZ, &id_body("MessageDownload", &id)).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let body = resp.body();
    let msg = child(&body, "dmReturnedMessage");
    assert_eq!(text_of(msg, &["dmMessageStatus"]), "7");
    assert_eq!(text_of(msg, &["dmDm", "dmID"]), id);
    let files: Vec<&Element> = find(msg, &["dmDm", "dmFiles"]).elements().collect();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0].attr("dmFileDescr"), Some("vyzva.pdf"));
    assert_eq!(files[0].attr("dmFileMetaType"), Some("main"));
    assert_eq!(files[0].attr("dmMimeType"), Some("application/pdf"));
    assert_eq!(
        unb64(&text_of(files[0], &["dmEncodedContent"])),
        pdf_bytes()
    );
    assert_eq!(files[1].attr("dmFileDescr"), Some("faktura.xml"));
    let got = child(files[1], "dmXMLContent")
        .elements()
        .next()
        .expect("XML document");
    let sent = isds_gateway::xml::parse(XML_DOC.as_bytes(), &ParseLimits::default()).unwrap();
    assert_eq!(canonical(got), canonical(&sent));
    let hash = find(msg, &["dmHash"]);
    assert_eq!(hash.attr("algorithm"), Some("SHA-256"));
    let hash_value = hash.text();
    assert_eq!(unb64(&hash_value).len(), 32);

    let resp = call(&t, OVM_LOGIN, DX, &id_body("MarkMessageAsDownloaded", &id)).await;
    assert_eq!(resp.status().0, "0000");

    // Delivery info for the recipient and for the sender, with events.
    for login in [OVM_LOGIN, PO_LOGIN] {
        let resp = call(&t, login, DX, &id_body("GetDeliveryInfo", &id)).await;
        assert_eq!(resp.status().0, "0000", "{}", resp.text);
        let body = resp.body();
        let delivery = child(&body, "dmDelivery");
        assert_eq!(text_of(delivery, &["dmMessageStatus"]), "7");
        assert_eq!(text_of(delivery, &["dmHash"]), hash_value);
        let codes = event_codes(delivery);
        // Delivery by the primary user's listing is EV11 alone; EV1 is only
        // in delivery info of messages from before 2010 (messages manual
        // 2.6.1).
        assert_eq!(codes, ["EV0", "EV5", "EV11"], "{codes:?}");
        assert_eq!(codes[0], "EV0", "{codes:?}");
    }

    // The envelope, the hash, the author.
    let resp = call(&t, OVM_LOGIN, DX, &id_body("MessageEnvelopeDownload", &id)).await;
    assert_eq!(resp.status().0, "0000");
    let body = resp.body();
    let env = child(&body, "dmReturnedMessageEnvelope");
    assert_eq!(text_of(env, &["dmDm", "dmAnnotation"]), "Žádost o dotaci");
    assert_eq!(env.attr("attsNum"), Some("2"));
    let resp = call(&t, OVM_LOGIN, DX, &id_body("VerifyMessage", &id)).await;
    assert_eq!(resp.status().0, "0000");
    let body = resp.body();
    assert_eq!(text_of(&body, &["dmHash"]), hash_value);
    assert_eq!(child(&body, "dmHash").attr("algorithm"), Some("SHA-256"));
    let resp = call(&t, OVM_LOGIN, DX, &id_body("GetMessageAuthor", &id)).await;
    assert_eq!(resp.status().0, "0000");
    assert_eq!(text_of(&resp.body(), &["userType"]), "PRIMARY_USER");
    // The sender did not publish its identity: no name for the recipient,
    // but the sender's own box sees it.
    assert!(!resp.text.contains("authorName>"), "{}", resp.text);
    let resp = call(&t, PO_LOGIN, DX, &id_body("GetMessageAuthor2", &id)).await;
    assert_eq!(resp.status().0, "0000");
    let body = resp.body();
    let items: Vec<(String, String)> = child(&body, "dmMessageAuthor")
        .elements()
        .map(|i| {
            (
                i.attr("key").unwrap().to_owned(),
                i.attr("value").unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        items.contains(&("userType".into(), "PRIMARY_USER".into())),
        "{items:?}"
    );
    assert!(
        items.contains(&("pnLastName".into(), "Novák".into())),
        "{items:?}"
    );

    // The sender's lists and envelope; its state changes: delivered, then
    // accepted (the read is not a reported change).
    let resp = call(
        &t,
        PO_LOGIN,
        DX,
        &list_body(
            "GetListOfSentMessages",
            None,
            None,
            "2046",
            Some(1),
            Some(10),
        ),
    )
    .await;
    assert_eq!(records(&resp), vec![(id.clone(), 1, 7)]);
    let resp = call(
        &t,
        PO_LOGIN,
        DX,
        &id_body("SentMessageEnvelopeDownload", &id),
    )
    .await;
    assert_eq!(resp.status().0, "0000");
    let resp = call(
        &t,
        PO_LOGIN,
        DX,
        &format!(
            r#"<GetMessageStateChanges xmlns="{ISDS_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dmFromTime xsi:nil="true"/><dmToTime xsi:nil="true"/></GetMessageStateChanges>"#
        ),
    )
    .await;
    assert_eq!(resp.status().0, "0000");
    let body = resp.body();
    let changes: Vec<(String, String)> = child(&body, "dmRecords")
        .elements()
        .map(|r| (text_of(r, &["dmID"]), text_of(r, &["dmMessageStatus"])))
        .collect();
    assert_eq!(
        changes,
        vec![(id.clone(), "4".to_owned()), (id.clone(), "6".to_owned())]
    );
    // The recipient sent nothing: no changes of its own.
    let resp = call(
        &t,
        OVM_LOGIN,
        DX,
        &format!(r#"<GetMessageStateChanges xmlns="{ISDS_NS}"><dmFromTime>2020-01-01T00:00:00Z</dmFromTime></GetMessageStateChanges>"#),
    )
    .await;
    assert!(!resp.text.contains(":dmRecord>"), "{}", resp.text);

    // A suspicious-message report by the recipient.
    let report = format!(
        r#"<SuspMessageReport xmlns="{ISDS_NS}"><dmID>{id}</dmID><repName>Jana Dvořáková</repName><allowComplete>true</allowComplete><note>Podezřelá příloha</note></SuspMessageReport>"#
    );
    let resp = call(&t, OVM_LOGIN, DX, &report).await;
    assert_eq!(resp.status().0, "0000");
    t.stop().await;
}

#[tokio::test]
async fn an_entrusted_user_sees_what_rights_nine_allow() {
    let t = TestGateway::start().await;
    let ordinary = send_message(&t, OVM_LOGIN, "po4demo", "Oznámení", false).await;
    let personal = send_message(&t, OVM_LOGIN, "po4demo", "Do vlastních rukou", true).await;
    let outgoing = send_message(&t, PO_LOGIN, "ovm4dem", "Odpověď", false).await;

    // Rights 9 = read ordinary messages (1) + lists (8).
    let resp = call(
        &t,
        PO_ENTRUSTED_LOGIN,
        DX,
        &list_body("GetListOfReceivedMessages", None, None, "-1", None, None),
    )
    .await;
    assert_eq!(resp.status().0, "0000");
    let listed: Vec<(String, u8)> = records(&resp)
        .into_iter()
        .map(|(id, _, s)| (id, s))
        .collect();
    // The listing delivered the ordinary message only: the personal one
    // waits for someone with right 2 (PRIVIL_READ_ALL).
    assert_eq!(listed, vec![(ordinary.clone(), 6), (personal.clone(), 4)]);

    let resp = call(
        &t,
        PO_ENTRUSTED_LOGIN,
        DZ,
        &id_body("MessageDownload", &ordinary),
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let resp = call(
        &t,
        PO_ENTRUSTED_LOGIN,
        DZ,
        &id_body("MessageDownload", &personal),
    )
    .await;
    // 1208: no right to read messages for personal delivery.
    assert_eq!(resp.status().0, "1208", "{}", resp.text);
    assert!(!resp.text.contains("dmReturnedMessage>"), "{}", resp.text);
    let resp = call(
        &t,
        PO_ENTRUSTED_LOGIN,
        DX,
        &id_body("MarkMessageAsDownloaded", &personal),
    )
    .await;
    assert_eq!(resp.status().0, "1208");
    // The envelope needs the right to read the message too (messages
    // manual 2.4.4); the delivery info of a message not yet delivered is
    // 1222 (1.8.1); the hash needs a read right, which the user has.
    for (op, code) in [
        ("MessageEnvelopeDownload", "1208"),
        ("GetDeliveryInfo", "1222"),
        ("VerifyMessage", "0000"),
    ] {
        let resp = call(&t, PO_ENTRUSTED_LOGIN, DX, &id_body(op, &personal)).await;
        assert_eq!(resp.status().0, code, "{op}: {}", resp.text);
    }
    // The delivered ordinary message's envelope and delivery info: yes.
    for op in ["MessageEnvelopeDownload", "GetDeliveryInfo"] {
        let resp = call(&t, PO_ENTRUSTED_LOGIN, DX, &id_body(op, &ordinary)).await;
        assert_eq!(resp.status().0, "0000", "{op}: {}", resp.text);
    }
    // Sent messages: listed (right 8), but not readable without right 4.
    let resp = call(
        &t,
        PO_ENTRUSTED_LOGIN,
        DX,
        &list_body("GetListOfSentMessages", None, None, "-1", None, None),
    )
    .await;
    assert_eq!(resp.status().0, "0000");
    let resp = call(
        &t,
        PO_ENTRUSTED_LOGIN,
        DX,
        &id_body("SentMessageEnvelopeDownload", &outgoing),
    )
    .await;
    // 1206: sent messages need PRIVIL_CREATE_DM.
    assert_eq!(resp.status().0, "1206", "{}", resp.text);
    // Nor can the user send.
    let resp = call(
        &t,
        PO_ENTRUSTED_LOGIN,
        DZ,
        &create_body("ovm4dem", "Nelze", false),
    )
    .await;
    assert_eq!(resp.status().0, "1206", "{}", resp.text);

    // The primary user may read the personal message: not before a
    // listing delivered it (1222); after the listing, downloading it reads
    // it.
    let resp = call(&t, PO_LOGIN, DZ, &id_body("MessageDownload", &personal)).await;
    assert_eq!(resp.status().0, "1222", "{}", resp.text);
    let resp = call(
        &t,
        PO_LOGIN,
        DX,
        &list_body("GetListOfReceivedMessages", None, None, "-1", None, None),
    )
    .await;
    assert_eq!(resp.status().0, "0000");
    let resp = call(&t, PO_LOGIN, DZ, &id_body("MessageDownload", &personal)).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert_eq!(
        text_of(&resp.body(), &["dmReturnedMessage", "dmMessageStatus"]),
        "7"
    );
    let resp = call(&t, OVM_LOGIN, DX, &id_body("GetDeliveryInfo", &personal)).await;
    let body = resp.body();
    let codes = event_codes(child(&body, "dmDelivery"));
    assert!(codes.contains(&"EV11".to_owned()), "{codes:?}");
    t.stop().await;
}

#[tokio::test]
async fn another_box_message_does_not_exist_for_the_caller() {
    let t = TestGateway::start().await;
    let id = send_message(&t, OVM_LOGIN, "po4demo", "Pro firmu", false).await;
    for (path, op) in [
        (DZ, "MessageDownload"),
        (DX, "MessageEnvelopeDownload"),
        (DX, "SentMessageEnvelopeDownload"),
        (DX, "MarkMessageAsDownloaded"),
        (DX, "GetDeliveryInfo"),
        (DX, "VerifyMessage"),
        (DX, "GetMessageAuthor"),
        (DX, "GetMessageAuthor2"),
    ] {
        // Another box's message: 1211 (messages manual 2.4.4); no such
        // message: 1219; no message ID at all: 2019.
        let resp = call(&t, FO_LOGIN, path, &id_body(op, &id)).await;
        assert_eq!(resp.status().0, "1211", "{op}: {}", resp.text);
        let resp = call(&t, FO_LOGIN, path, &id_body(op, "99999999")).await;
        assert_eq!(resp.status().0, "1219", "{op}: {}", resp.text);
        assert!(resp.text.contains("99999999"), "{op}: {}", resp.text);
        let resp = call(&t, FO_LOGIN, path, &id_body(op, "not-an-id")).await;
        assert_eq!(resp.status().0, "2019", "{op}: {}", resp.text);
    }
    // The sender cannot download its sent message as a received one, nor
    // the recipient the received one as sent: 1211.
    let resp = call(&t, OVM_LOGIN, DZ, &id_body("MessageDownload", &id)).await;
    assert_eq!(resp.status().0, "1211");
    let resp = call(
        &t,
        PO_LOGIN,
        DX,
        &id_body("SentMessageEnvelopeDownload", &id),
    )
    .await;
    assert_eq!(resp.status().0, "1211");
    // Erasing: another box's message 1211; own message, not in the vault,
    // 1219; the wrong direction 1219.
    let erase = |id: &str, incoming: bool| {
        format!(
            r#"<EraseMessage xmlns="{ISDS_NS}"><dmID>{id}</dmID><dmIncoming>{incoming}</dmIncoming></EraseMessage>"#
        )
    };
    let resp = call(&t, FO_LOGIN, DX, &erase(&id, true)).await;
    assert_eq!(resp.status().0, "1211");
    let resp = call(&t, PO_LOGIN, DX, &erase(&id, true)).await;
    assert_eq!(resp.status().0, "1219");
    let resp = call(&t, PO_LOGIN, DX, &erase(&id, false)).await;
    assert_eq!(resp.status().0, "1219");
    // Without the right to erase (128): 1218.
    let resp = call(&t, PO_ENTRUSTED_LOGIN, DX, &erase(&id, true)).await;
    assert_eq!(resp.status().0, "1218");
    t.stop().await;
}

// ---------------------------------------------------------------------------
// Paging

const MESSAGES: usize = 1_000;

fn party(box_id: &str, name: &str, box_type: BoxType) -> Party {
    Party {
        box_id: BoxId::parse(box_id).unwrap(),
        name: name.to_owned(),
        address: "Náměstí Míru 1, 74766 Dolní Lhota".to_owned(),
        box_type,
        system: false,
    }
}

/// The state of seeded message `i`: 6, 7, 10, 8, 9 in turn (200 each).
/// A received list holds the first three (messages manual 2.7.1); states
/// 8 and 9 are never listed, whatever the filter.
fn seeded_state(i: usize) -> MessageState {
    [
        MessageState::AcceptedByLogin,
        MessageState::Read,
        MessageState::InVault,
        MessageState::Undeliverable,
        MessageState::ContentDeleted,
    ][i % 5]
}

/// The seeded state of the message with ID `id` (seeded message i got ID
/// 20,000,000 + (MESSAGES - 1 - i)).
fn seeded_state_of(id: &str) -> MessageState {
    seeded_state(MESSAGES - 1 - (id.parse::<u64>().unwrap() - 20_000_000) as usize)
}

/// Messages a received list may hold.
const LISTED: usize = MESSAGES / 5 * 3;

/// Writes `MESSAGES` messages from ovm4dem to po4demo into a store at
/// `dir`, two at a time with the same submission time, so the order must
/// fall back to the message ID. Returns their IDs in list order and their
/// submission times.
fn seed_messages(dir: &Path) -> Vec<(String, Timestamp)> {
    let store = isds_gateway::store::open_sled(&dir.join("store")).unwrap();
    let base =
        Timestamp::from_unix_seconds(time::OffsetDateTime::now_utc().unix_timestamp() - 3_600);
    let mut batch = isds_gateway::store::Batch::new();
    let mut out = Vec::new();
    // IDs descend while times ascend in pairs: the pair order needs the ID.
    let ids = (0..MESSAGES as u64).rev().map(|i| 20_000_000 + i);
    for (i, id) in ids.enumerate() {
        let at = Timestamp(base.0 + (i / 2) as i64 * 1_000);
        let state = seeded_state(i);
        let deleted = state == MessageState::ContentDeleted;
        let docs = if deleted {
            vec![]
        } else {
            vec![b"%PDF-1.4 seeded".to_vec()]
        };
        let mut m = Message {
            id: MessageId(id),
            sender: party("ovm4dem", "Městský úřad Dolní Lhota", BoxType::OVM),
            recipient: party("po4demo", "Účetnictví Novák s.r.o.", BoxType::PO),
            envelope: EnvelopeFields {
                annotation: format!("Hromadná zpráva {i}"),
                recipient_org_unit_num: Some((i % 3) as i64),
                ovm: true,
                ..EnvelopeFields::default()
            },
            documents: vec![DocumentMeta {
                mime_type: "application/pdf".into(),
                meta_type: "main".into(),
                guid: None,
                up_guid: None,
                descr: "zprava.pdf".into(),
                format: None,
                kind: ContentKind::Encoded,
                size: 15,
            }],
            attachment_size_kb: 1,
            hash: [0; 32],
            hash_form: HashForm::DmDmBytes,
            state,
            submitted_at: at,
            delivery_time: Some(at),
            acceptance_time: matches!(
                state,
                MessageState::AcceptedByFiction
                    | MessageState::AcceptedByLogin
                    | MessageState::Read
            )
            .then_some(at),
            events: vec![
                Event::new(at, EventCode::EV0),
                Event::new(at, EventCode::EV5),
            ],
            author: Author {
                user_id: None,
                user_type: "PRIMARY_USER".into(),
                name: "Jana Dvořáková".into(),
            },
            content_deleted: deleted,
            erased_by_recipient: false,
            erased_by_sender: false,
            qtimestamp: None,
            vodz: false,
        };
        // The hash covers the documents as sent, deleted later or not.
        m.hash = compute_hash(&m, &[b"%PDF-1.4 seeded"]).unwrap();
        messages::repo::stage_insert_message(&mut batch, &m, &docs);
        out.push((m.id.to_string(), at));
    }
    store.apply_durable(batch).unwrap();
    // List order: time, then ID.
    let mut sorted: Vec<(Timestamp, u64, String)> = out
        .iter()
        .map(|(id, at)| (*at, id.parse().unwrap(), id.clone()))
        .collect();
    sorted.sort();
    sorted.into_iter().map(|(at, _, id)| (id, at)).collect()
}

async fn list_page(
    t: &TestGateway,
    filter: &str,
    from: Option<&str>,
    to: Option<&str>,
    offset: Option<usize>,
    limit: Option<usize>,
    validate: bool,
) -> Vec<(String, usize, u8)> {
    let body = list_body("GetListOfReceivedMessages", from, to, filter, offset, limit);
    let resp = t.soap_as(PO_LOGIN, DX, &body).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    if validate {
        assert_valid(&resp.body_xml(), Xsd::Dm);
    }
    records(&resp)
}

#[tokio::test]
async fn paging_covers_a_thousand_messages_once_in_stable_order() {
    let dir = tempfile::tempdir().unwrap();
    let expected = seed_messages(&dir.path().join("data"));
    let t = TestGateway::start_in(dir, |_| {}).await;
    let all_seeded = expected.clone();
    let expected: Vec<(String, Timestamp)> = expected
        .into_iter()
        .filter(|(id, _)| seeded_state_of(id).code() <= 7 || seeded_state_of(id).code() == 10)
        .collect();
    assert_eq!(expected.len(), LISTED);
    let all_ids: Vec<String> = expected.iter().map(|(id, _)| id.clone()).collect();

    // Pages of several sizes, the last one short, cover every message once,
    // in order, numbered from the offset.
    for limit in [1usize, 97, 250, 1_000] {
        if limit == 1 {
            // One record per page: check the first and last few only.
            for offset in [1usize, 2, 300, LISTED - 1, LISTED] {
                let page =
                    list_page(&t, "-1", None, None, Some(offset), Some(1), offset == 1).await;
                assert_eq!(page.len(), 1);
                assert_eq!(page[0].0, all_ids[offset - 1]);
                assert_eq!(page[0].1, offset);
            }
            continue;
        }
        let mut seen = Vec::new();
        let mut offset = 1;
        loop {
            let page = list_page(
                &t,
                "2046",
                None,
                None,
                Some(offset),
                Some(limit),
                offset == 1,
            )
            .await;
            for (i, (_, ordinal, _)) in page.iter().enumerate() {
                assert_eq!(*ordinal, offset + i, "limit {limit}");
            }
            let n = page.len();
            seen.extend(page.into_iter().map(|(id, _, _)| id));
            if n < limit {
                break;
            }
            offset += limit;
        }
        assert_eq!(seen, all_ids, "limit {limit}");
    }
    // Past the end: an empty list.
    assert!(
        list_page(&t, "-1", None, None, Some(LISTED + 1), Some(10), true)
            .await
            .is_empty()
    );
    // No limit: ISDS's default of 1000; no offset: from the first.
    let page = list_page(&t, "-1", None, None, None, None, true).await;
    assert_eq!(page.len(), LISTED);
    assert_eq!(page[0].0, all_ids[0]);

    // State filters: bit 1 << state.
    let ids_of =
        |page: Vec<(String, usize, u8)>| page.into_iter().map(|r| (r.0, r.2)).collect::<Vec<_>>();
    // A filter only narrows the states 4, 5, 6, 7 and 10: asking for 8 or
    // 9 lists nothing.
    for (mask, states) in [
        ("64", vec![6u8]),
        ("192", vec![6, 7]),
        ("256", vec![]),
        ("512", vec![]),
        ("16", vec![]),
        ("1024", vec![10]),
        ("2016", vec![6, 7, 10]),
    ] {
        let page = ids_of(list_page(&t, mask, None, None, Some(1), Some(1_000), false).await);
        let want: Vec<(String, u8)> = expected
            .iter()
            .filter_map(|(id, _)| {
                let s = seeded_state_of(id).code();
                states.contains(&s).then(|| (id.clone(), s))
            })
            .collect();
        assert_eq!(page, want, "mask {mask}");
    }
    // A filter that is no number: status 1131 naming the parameter.
    let resp = t
        .soap_as(
            PO_LOGIN,
            DX,
            &list_body("GetListOfReceivedMessages", None, None, "nove", None, None),
        )
        .await;
    assert_eq!(resp.status().0, "1131");
    assert!(resp.text.contains("dmStatusFilter"), "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Dm);

    // A time window (inclusive at both ends) selects a contiguous run.
    let (from, to) = (expected[100].1, expected[299].1);
    let page = list_page(
        &t,
        "-1",
        Some(&from.to_xml()),
        Some(&to.to_xml()),
        None,
        None,
        true,
    )
    .await;
    let got: Vec<String> = page.iter().map(|r| r.0.clone()).collect();
    let want: Vec<String> = expected
        .iter()
        .filter(|(_, at)| *at >= from && *at <= to)
        .map(|(id, _)| id.clone())
        .collect();
    assert!(want.len() >= 200);
    assert_eq!(got, want);
    assert_eq!(page[0].1, 1);

    // The recipient org unit filter.
    let body = list_body("GetListOfReceivedMessages", None, None, "-1", None, None).replace(
        r#"<dmRecipientOrgUnitNum xsi:nil="true"/>"#,
        "<dmRecipientOrgUnitNum>2</dmRecipientOrgUnitNum>",
    );
    let resp = call(&t, PO_LOGIN, DX, &body).await;
    let unit2 = records(&resp);
    assert!(!unit2.is_empty());
    let listed_unit2 = (0..MESSAGES)
        .filter(|i| i % 3 == 2 && matches!(i % 5, 0..=2))
        .count();
    assert_eq!(unit2.len(), listed_unit2);
    let _ = all_seeded;

    // The sender's list holds the same thousand.
    let resp = t
        .soap_as(
            OVM_LOGIN,
            DX,
            &list_body("GetListOfSentMessages", None, None, "-1", None, Some(5_000)),
        )
        .await;
    let sent: HashSet<String> = records(&resp).into_iter().map(|r| r.0).collect();
    assert_eq!(sent.len(), MESSAGES);
    t.stop().await;
}

/// Deep pages (offsets past the first few hundred, which the gateway
/// finds from its list counts rather than by stepping over entries) give
/// exactly the records a full list gives at those positions: with time
/// windows, state filters, in the received and the sent list, and after
/// messages changed state through the interface.
#[tokio::test]
async fn deep_pages_with_filters_match_the_whole_list() {
    let dir = tempfile::tempdir().unwrap();
    let seeded = seed_messages(&dir.path().join("data"));
    let t = TestGateway::start_in(dir, |_| {}).await;
    // Marking read moves a few delivered (6) messages to 7.
    let mut state: std::collections::HashMap<String, u8> = seeded
        .iter()
        .map(|(id, _)| (id.clone(), seeded_state_of(id).code()))
        .collect();
    let delivered: Vec<String> = seeded
        .iter()
        .filter(|(id, _)| state[id] == 6)
        .map(|(id, _)| id.clone())
        .collect();
    for id in delivered.iter().skip(100).step_by(9) {
        let resp = call(&t, PO_LOGIN, DX, &id_body("MarkMessageAsDownloaded", id)).await;
        assert_eq!(resp.status().0, "0000", "{}", resp.text);
        state.insert(id.clone(), 7);
    }
    let times: Vec<Timestamp> = seeded.iter().map(|(_, at)| *at).collect();
    let windows = [
        (None, None),
        (Some(times[150]), None),
        (None, Some(times[900])),
        (Some(times[101]), Some(times[998])),
    ];
    for (op, login, listed) in [
        ("GetListOfReceivedMessages", PO_LOGIN, &[6u8, 7, 10][..]),
        ("GetListOfSentMessages", OVM_LOGIN, &[6u8, 7, 8, 9, 10][..]),
    ] {
        for (mask, states) in [
            ("-1", listed.to_vec()),
            ("128", vec![7u8]),
            ("1088", vec![6, 10]),
        ] {
            let states: Vec<u8> = states.into_iter().filter(|s| listed.contains(s)).collect();
            for (from, to) in windows {
                let want: Vec<String> = seeded
                    .iter()
                    .filter(|(id, at)| {
                        states.contains(&state[id])
                            && from.is_none_or(|f| *at >= f)
                            && to.is_none_or(|t| *at <= t)
                    })
                    .map(|(id, _)| id.clone())
                    .collect();
                for (offset, limit) in [
                    (257usize, 50usize),
                    (300, 3),
                    (want.len().saturating_sub(4).max(1), 10),
                    (700, 100),
                ] {
                    let body = list_body(
                        op,
                        from.map(|f| f.to_xml()).as_deref(),
                        to.map(|t| t.to_xml()).as_deref(),
                        mask,
                        Some(offset),
                        Some(limit),
                    );
                    let resp = t.soap_as(login, DX, &body).await;
                    assert_eq!(resp.status().0, "0000", "{}", resp.text);
                    let got = records(&resp);
                    let expect: Vec<String> =
                        want.iter().skip(offset - 1).take(limit).cloned().collect();
                    assert_eq!(
                        got.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
                        expect,
                        "{op} mask {mask} window {from:?}..{to:?} offset {offset} limit {limit}"
                    );
                    for (i, r) in got.iter().enumerate() {
                        assert_eq!(r.1, offset + i, "ordinal");
                        assert_eq!(r.2, state[&r.0], "state of {}", r.0);
                    }
                }
            }
        }
    }
    t.stop().await;
}

// ---------------------------------------------------------------------------
// Erased messages

/// The one file of a stored (uncompressed) ZIP archive: (name, content).
fn unzip_one(zip: &[u8]) -> (String, Vec<u8>) {
    assert_eq!(&zip[..4], b"PK\x03\x04", "a ZIP local file header");
    let u16_at = |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]) as usize;
    let u32_at =
        |i: usize| u32::from_le_bytes([zip[i], zip[i + 1], zip[i + 2], zip[i + 3]]) as usize;
    assert_eq!(u16_at(8), 0, "stored");
    let size = u32_at(18);
    let name_len = u16_at(26);
    let extra = u16_at(28);
    let name = String::from_utf8(zip[30..30 + name_len].to_vec()).unwrap();
    let start = 30 + name_len + extra;
    (name, zip[start..start + size].to_vec())
}

#[tokio::test]
async fn erased_messages_are_listed_asynchronously() {
    // Passwords must outlive the 91 days the clock jumps.
    let (t, clock) = TestGateway::start_time_travelling(tempfile::tempdir().unwrap()).await;
    let id = send_message(&t, OVM_LOGIN, "po4demo", "Smazat po 90 dnech", false).await;
    let keep = send_message(&t, OVM_LOGIN, "po4demo", "Nepřečtená", false).await;
    // The listing delivers both.
    let resp = call(
        &t,
        PO_LOGIN,
        DX,
        &list_body("GetListOfReceivedMessages", None, None, "-1", None, None),
    )
    .await;
    assert_eq!(resp.status().0, "0000");
    let resp = call(&t, PO_LOGIN, DZ, &id_body("MessageDownload", &id)).await;
    assert_eq!(resp.status().0, "0000");
    let _ = keep;
    // 90 days after acceptance the content goes (state 9); the envelope and
    // the delivery info stay.
    clock.advance(time::Duration::days(91));
    let resp = call(&t, PO_LOGIN, DZ, &id_body("MessageDownload", &id)).await;
    assert_eq!(resp.status().0, "1219", "{}", resp.text);
    let resp = call(&t, PO_LOGIN, DX, &id_body("GetDeliveryInfo", &id)).await;
    assert_eq!(
        text_of(&resp.body(), &["dmDelivery", "dmMessageStatus"]),
        "9"
    );

    let year = time::OffsetDateTime::now_utc().year();
    for (format, kind) in [("XML", "RECEIVED"), ("CSV", "RECEIVED"), ("XML", "SENT")] {
        // Both messages were delivered by PO's listing; both are gone by
        // now. The year (or the year before, at New Year) holds them.
        let req = format!(
            r#"<GetListOfErasedMessages xmlns="{ISDS_NS}"><dmFromDate>{}-01-01</dmFromDate><dmToDate>{}-12-31</dmToDate><dmMessageType>{kind}</dmMessageType><dmOutFormat>{format}</dmOutFormat></GetListOfErasedMessages>"#,
            year - 1,
            year
        );
        let login = if kind == "SENT" { OVM_LOGIN } else { PO_LOGIN };
        let resp = call(&t, login, DX, &req).await;
        assert_eq!(resp.status().0, "0000", "{}", resp.text);
        let async_id = text_of(&resp.body(), &["asyncID"]);
        let pick = format!(
            r#"<PickUpAsyncResponse xmlns="{ISDS_NS}"><asyncID>{async_id}</asyncID><asyncReqType>LIST_ERASED</asyncReqType></PickUpAsyncResponse>"#
        );
        let resp = call(&t, login, DX, &pick).await;
        assert_eq!(resp.status().0, "0000", "{}", resp.text);
        let body = resp.body();
        assert_eq!(text_of(&body, &["asyncReqType"]), "LIST_ERASED");
        let (name, content) = unzip_one(&unb64(&text_of(&body, &["asyncResponse"])));
        let content = String::from_utf8(content).unwrap();
        assert!(name.ends_with(&format.to_lowercase()), "{name}");
        assert!(content.contains(&id), "{content}");
        if format == "XML" {
            let root =
                isds_gateway::xml::parse(content.as_bytes(), &ParseLimits::default()).unwrap();
            assert_eq!(root.name, "dmRecords");
            assert_eq!(root.elements().count(), 2);
            assert_erased_list_has_the_wire_form_of_isds(&content, &root);
        } else {
            assert!(content.starts_with("dmID,dbIDSender,"), "{content}");
            assert_eq!(content.lines().count(), 3, "{content}");
        }
        // Another box cannot pick it up: 2351, no such request of its.
        let resp = call(&t, FO_LOGIN, DX, &pick).await;
        assert_eq!(resp.status().0, "2351");
    }
    t.stop().await;
}

/// The XML list of erased messages is written as the real ISDS list
/// (`samples/real-isds/responses/GetListOfErasedMessages-*`): `q:`
/// prefixes with `xmlns:q` and `xmlns:xsi` on `q:dmRecords`, no default
/// namespace, and each record's items in the sample's order.
fn assert_erased_list_has_the_wire_form_of_isds(ours: &str, root: &isds_gateway::xml::Element) {
    let path = repo_dir().join(
        "../shared/isds-reference/samples/real-isds/responses/GetListOfErasedMessages-async-response-extracted.xml",
    );
    let sample = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the ISDS reference sample {} is missing ({e}): expected ../shared/isds-reference next to the repository",
            path.display()
        )
    });
    for head in [
        "<q:dmRecords ",
        r#"xmlns:q="http://isds.czechpoint.cz/v20""#,
        r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance""#,
        "<q:dmRecord>",
        "</q:dmRecords>",
    ] {
        assert!(sample.contains(head), "the sample changed: {head}");
        assert!(ours.contains(head), "{head} missing in:\n{ours}");
    }
    assert!(!ours.contains("xmlns=\""), "a default namespace:\n{ours}");
    let sample_root =
        isds_gateway::xml::parse(sample.as_bytes(), &ParseLimits::default()).expect("sample");
    let order: Vec<String> = sample_root
        .elements()
        .next()
        .expect("a record in the sample")
        .elements()
        .map(|e| e.name.clone())
        .collect();
    for record in root.elements() {
        let names: Vec<String> = record.elements().map(|e| e.name.clone()).collect();
        let mut it = order.iter();
        assert!(
            names.iter().all(|n| it.any(|o| o == n)),
            "items {names:?} not in the sample's order {order:?}"
        );
        assert!(
            names.len() * 10 >= order.len() * 8,
            "a record lacks items of the sample: {names:?} vs {order:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Notifications for applications

/// The demo world with a system certificate for po4demo; returns the
/// fixture path and the certificate with its key (PEM).
fn world_with_application(dir: &Path) -> (PathBuf, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "po4demo spisová služba");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365);
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("po-app.pem"), cert.pem()).unwrap();
    let world = isds_gateway::domain::world::DEMO_WORLD.replace(
        "id = \"po4demo\"\n",
        "id = \"po4demo\"\ncertificates = [\"po-app.pem\"]\n",
    );
    let path = dir.join("world.toml");
    std::fs::write(&path, world).unwrap();
    (path, format!("{}{}", cert.pem(), key.serialize_pem()))
}

#[tokio::test]
async fn applications_list_delivered_messages_without_accepting_them() {
    let fixtures = tempfile::tempdir().unwrap();
    let (world, identity) = world_with_application(fixtures.path());
    let t = TestGateway::start_with(|c| c.demo_world = Some(world)).await;
    let ca = std::fs::read(t.gw.ca_cert_path.as_ref().unwrap()).unwrap();
    let app = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap())
        .build()
        .unwrap();
    let app_call = |body: String| {
        let req = app.post(t.https_url("/cert/DS/dx"));
        async move {
            let resp = send(req, soap11(&body), "text/xml; charset=utf-8").await;
            assert_eq!(resp.status, 200, "{}", resp.text);
            assert_valid(&resp.body_xml(), Xsd::Dm);
            resp
        }
    };
    let register = |action: i64| {
        format!(
            r#"<RegisterForNotifications xmlns="{ISDS_NS}"><action>{action}</action></RegisterForNotifications>"#
        )
    };
    let list = format!(
        r#"<GetListForNotifications xmlns="{ISDS_NS}"><ntfFromTime>2000-01-01T00:00:00Z</ntfFromTime><ntfScope>ALL</ntfScope></GetListForNotifications>"#
    );

    // Not for people (1004, messages manual 2.11); not before registering
    // (1273); the action is 0 or 1 (1268).
    let resp = call(&t, PO_LOGIN, DX, &register(1)).await;
    assert_eq!(resp.status().0, "1004");
    let resp = app_call(list.clone()).await;
    assert_eq!(resp.status().0, "1273");
    let resp = app_call(register(7)).await;
    assert_eq!(resp.status().0, "1268");
    let resp = app_call(register(1)).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);

    let id = send_message(&t, OVM_LOGIN, "po4demo", "Pro spisovou službu", true).await;
    let resp = app_call(list.clone()).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let body = resp.body();
    let recs: Vec<&Element> = child(&body, "ntfRecords").elements().collect();
    assert_eq!(recs.len(), 1);
    assert_eq!(text_of(recs[0], &["dmID"]), id);
    assert_eq!(text_of(recs[0], &["ntfType"]), "1");
    assert_eq!(text_of(recs[0], &["dmPersonalDelivery"]), "1");
    assert_eq!(text_of(recs[0], &["dbIDSender"]), "ovm4dem");
    assert_eq!(text_of(&body, &["ntfListContinues"]), "false");
    // The message is still waiting for acceptance.
    let resp = call(&t, OVM_LOGIN, DX, &id_body("GetDeliveryInfo", &id)).await;
    assert_eq!(
        text_of(&resp.body(), &["dmDelivery", "dmMessageStatus"]),
        "4"
    );

    let resp = app_call(register(0)).await;
    assert_eq!(resp.status().0, "0000");
    let resp = app_call(list).await;
    assert_eq!(resp.status().0, "1273");
    t.stop().await;
}

// ---------------------------------------------------------------------------
// What a list record shows

/// Messages of [`seed_varied`].
const VARIED: usize = 700;

/// The seeded state of varied message `i`: waiting (4), read (7), or
/// accepted by fiction and still waiting for a listing (5).
fn varied_state(i: usize) -> MessageState {
    [
        MessageState::Delivered,
        MessageState::Read,
        MessageState::AcceptedByFiction,
    ][i % 3]
}

/// Writes `VARIED` messages from ovm4dem to po4demo, a millisecond apart,
/// with org units on both sides and the optional envelope items in turn.
/// Returns (ID, submission time, recipient org unit number, sender org
/// unit number) in list order.
fn seed_varied(dir: &Path) -> Vec<(String, Timestamp, Option<i64>, Option<i64>)> {
    let store = isds_gateway::store::open_sled(&dir.join("store")).unwrap();
    let base =
        Timestamp::from_unix_seconds(time::OffsetDateTime::now_utc().unix_timestamp() - 7_200);
    let mut batch = isds_gateway::store::Batch::new();
    let mut out = Vec::new();
    for i in 0..VARIED {
        let at = Timestamp(base.0 + i as i64 * 1_000);
        let state = varied_state(i);
        let mut envelope = EnvelopeFields {
            annotation: format!("Zpráva <{i}> & \"příloha\""),
            ovm: true,
            ..EnvelopeFields::default()
        };
        if i % 2 == 0 {
            envelope.recipient_org_unit_num = Some((i % 4) as i64);
            envelope.recipient_org_unit = Some(format!("Odbor {} & spol.", i % 4));
        }
        if i % 3 != 0 {
            envelope.sender_org_unit_num = Some((i % 5) as i64);
            envelope.sender_org_unit = Some("Podatelna".into());
        }
        if i % 7 == 0 {
            envelope.to_hands = Some("K rukám paní Novákové".into());
            envelope.sender_ref_number = Some(format!("č.j. {i}/2026"));
            envelope.recipient_ident = Some("SZ-1".into());
        }
        if i % 11 == 0 {
            envelope.legal_title_law = Some(500);
            envelope.legal_title_year = Some(2004);
            envelope.legal_title_sect = Some("§ 17".into());
        }
        envelope.dm_type = match i % 13 {
            0 => Some("K".into()),
            1 => Some("V".into()),
            _ => None,
        };
        envelope.personal_delivery = i % 19 == 0;
        envelope.allow_subst_delivery = i % 2 == 1;
        let mut m = Message::seeded_delivered(
            MessageId(30_000_000 + i as u64),
            party("ovm4dem", "Městský úřad Dolní Lhota", BoxType::OVM),
            party("po4demo", "Účetnictví Novák s.r.o.", BoxType::PO),
            String::new(),
            "zprava.pdf",
            15,
            at,
        );
        m.envelope = envelope;
        m.attachment_size_kb = 1 + (i % 5) as u64;
        m.state = state;
        m.acceptance_time = match state {
            MessageState::Read => Some(Timestamp(at.0 + 5_000_000)),
            MessageState::AcceptedByFiction => Some(Timestamp(at.0 + 86_400_000_000)),
            _ => None,
        };
        m.hash = compute_hash(&m, &[b"%PDF-1.4 seeded"]).unwrap();
        messages::repo::stage_insert_message(&mut batch, &m, &[b"%PDF-1.4 seeded".to_vec()]);
        out.push((
            m.id.to_string(),
            at,
            m.envelope.recipient_org_unit_num,
            m.envelope.sender_org_unit_num,
        ));
    }
    store.apply_durable(batch).unwrap();
    out
}

/// A list body with an org unit number.
fn list_body_unit(
    op: &str,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    unit: i64,
    filter: &str,
    offset: usize,
    limit: usize,
) -> String {
    let element = if op == "GetListOfSentMessages" {
        "dmSenderOrgUnitNum"
    } else {
        "dmRecipientOrgUnitNum"
    };
    list_body(
        op,
        from.map(|f| f.to_xml()).as_deref(),
        to.map(|t| t.to_xml()).as_deref(),
        filter,
        Some(offset),
        Some(limit),
    )
    .replace(
        &format!(r#"<{element} xsi:nil="true"/>"#),
        &format!("<{element}>{unit}</{element}>"),
    )
}

/// Checks that every record of a list response says what the message's
/// envelope download says (`op` for `login`): every element and the
/// `dmType` and `dmVODZ` attributes. Returns how many were checked.
async fn records_match_envelopes(
    t: &TestGateway,
    login: (&str, &str),
    list: &SoapResponse,
    op: &str,
) -> usize {
    let body = list.body();
    let records = child(&body, "dmRecords");
    let mut checked = 0;
    for record in records.elements() {
        let id = text_of(record, &["dmID"]);
        let resp = call(t, login, DX, &id_body(op, &id)).await;
        assert_eq!(resp.status().0, "0000", "{}", resp.text);
        let env_body = resp.body();
        let env = child(&env_body, "dmReturnedMessageEnvelope");
        let dm = child(env, "dmDm");
        for item in record.elements().filter(|e| e.name != "dmOrdinal") {
            let same = dm
                .elements()
                .chain(env.elements())
                .find(|e| e.name == item.name)
                .unwrap_or_else(|| panic!("{id}: no {} in the envelope", item.name));
            assert_eq!(
                canonical(item),
                canonical(same),
                "{id}: {} of the record and the envelope",
                item.name
            );
        }
        assert_eq!(record.attr("dmType"), env.attr("dmType"), "{id}: dmType");
        assert_eq!(record.attr("dmVODZ"), env.attr("dmVODZ"), "{id}: dmVODZ");
        checked += 1;
    }
    checked
}

/// Records of deep pages say what the messages' envelopes say, before and
/// after the listing that delivers them (in the sender's list a waiting
/// message shows 4 or 5, then 6 with the listing's acceptance time), and
/// org unit filters combined with time windows and state filters give,
/// at any offset, exactly the records a full list gives there.
#[tokio::test]
async fn list_records_say_what_envelopes_say_and_org_units_filter_deep_pages() {
    let dir = tempfile::tempdir().unwrap();
    let seeded = seed_varied(&dir.path().join("data"));
    let t = TestGateway::start_in(dir, |_| {}).await;
    let ids: Vec<String> = seeded.iter().map(|s| s.0.clone()).collect();

    // The sender's list before any listing: waiting messages show 4 and 5.
    let body = list_body(
        "GetListOfSentMessages",
        None,
        None,
        "-1",
        Some(300),
        Some(12),
    );
    let resp = call(&t, OVM_LOGIN, DX, &body).await;
    let page = records(&resp);
    assert_eq!(
        page.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        ids[299..311].to_vec()
    );
    for (n, r) in page.iter().enumerate() {
        assert_eq!(r.1, 300 + n);
        assert_eq!(r.2, varied_state(299 + n).code(), "{}", r.0);
    }
    assert_eq!(
        records_match_envelopes(&t, OVM_LOGIN, &resp, "SentMessageEnvelopeDownload").await,
        12
    );

    // The recipient's first listing delivers the waiting ones (6); a read
    // message stays 7.
    let delivered = |i: usize| match varied_state(i) {
        MessageState::Read => 7u8,
        _ => 6,
    };
    let resp = call(
        &t,
        PO_LOGIN,
        DX,
        &list_body(
            "GetListOfReceivedMessages",
            None,
            None,
            "-1",
            Some(400),
            Some(15),
        ),
    )
    .await;
    let page = records(&resp);
    assert_eq!(
        page.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        ids[399..414].to_vec()
    );
    for (n, r) in page.iter().enumerate() {
        assert_eq!(r.2, delivered(399 + n), "{}", r.0);
    }
    assert_eq!(
        records_match_envelopes(&t, PO_LOGIN, &resp, "MessageEnvelopeDownload").await,
        15
    );
    // The sender's list shows the delivery too.
    let resp = call(&t, OVM_LOGIN, DX, &body).await;
    for (n, r) in records(&resp).iter().enumerate() {
        assert_eq!(r.2, delivered(299 + n), "{}", r.0);
    }
    assert_eq!(
        records_match_envelopes(&t, OVM_LOGIN, &resp, "SentMessageEnvelopeDownload").await,
        12
    );

    // Org unit filters, alone and with time windows and states, at offsets
    // near the start, deep and at the end.
    let times: Vec<Timestamp> = seeded.iter().map(|s| s.1).collect();
    for (op, login) in [
        ("GetListOfReceivedMessages", PO_LOGIN),
        ("GetListOfSentMessages", OVM_LOGIN),
    ] {
        let sent = op == "GetListOfSentMessages";
        for unit in [0i64, 2, 3] {
            for (mask, states) in [("-1", vec![6u8, 7]), ("128", vec![7]), ("64", vec![6])] {
                for (from, to) in [
                    (None, None),
                    (Some(times[120]), None),
                    (Some(times[33]), Some(times[650])),
                ] {
                    let want: Vec<&String> = seeded
                        .iter()
                        .enumerate()
                        .filter(|(i, (_, at, r_unit, s_unit))| {
                            let unit_of = if sent { *s_unit } else { *r_unit };
                            unit_of == Some(unit)
                                && states.contains(&delivered(*i))
                                && from.is_none_or(|f| *at >= f)
                                && to.is_none_or(|t| *at <= t)
                        })
                        .map(|(_, s)| &s.0)
                        .collect();
                    for (offset, limit) in [(1usize, 20usize), (30, 7), (want.len().max(3) - 2, 5)]
                    {
                        let body = list_body_unit(op, from, to, unit, mask, offset, limit);
                        let resp = t.soap_as(login, DX, &body).await;
                        assert_eq!(resp.status().0, "0000", "{}", resp.text);
                        let got = records(&resp);
                        let expect: Vec<String> = want
                            .iter()
                            .skip(offset - 1)
                            .take(limit)
                            .map(|s| (*s).clone())
                            .collect();
                        assert_eq!(
                            got.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
                            expect,
                            "{op} unit {unit} mask {mask} {from:?}..{to:?} @{offset}/{limit}"
                        );
                        for (n, r) in got.iter().enumerate() {
                            assert_eq!(r.1, offset + n, "ordinal");
                        }
                    }
                }
            }
        }
    }
    t.stop().await;
}
