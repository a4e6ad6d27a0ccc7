//! Delivery only by listing (messages manual 1.8.1, 2.7.1): a received
//! message waits in state 4 whatever else its recipients do — downloads
//! (1222), envelopes, delivery info, state changes, the empty operation,
//! logins to any service — until a user who may read it lists the received
//! messages; then it is state 6 with the event of who listed it and its
//! acceptance time. Each listing delivers only what its user may read.

mod common;

use common::messages::*;
use common::*;

const DZ: &str = "/DS/dz";
const DX: &str = "/DS/dx";

fn list_received() -> String {
    list("GetListOfReceivedMessages")
}

/// The state the sender's delivery info reports for message `id`, with the
/// event prefixes and the acceptance time.
async fn sender_view(t: &TestGateway, id: &str) -> (String, Vec<String>, String) {
    let resp = call(t, OVM_LOGIN, DX, &id_body("GetDeliveryInfo", id)).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let body = resp.body();
    let delivery = child(&body, "dmDelivery");
    let events = child(delivery, "dmEvents")
        .elements()
        .map(|e| {
            text_of(e, &["dmEventDescr"])
                .split(':')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    let accepted = delivery
        .elements()
        .find(|e| e.name == "dmAcceptanceTime")
        .map(|e| e.text())
        .unwrap_or_default();
    (text_of(delivery, &["dmMessageStatus"]), events, accepted)
}

#[tokio::test]
async fn only_a_listing_by_a_user_who_may_read_delivers() {
    let t = TestGateway::start().await;
    let ordinary = send_message(&t, OVM_LOGIN, "po4demo", "Běžná", false).await;
    let personal = send_message(&t, OVM_LOGIN, "po4demo", "Do vlastních rukou", true).await;

    // Nothing the recipients do but listing delivers; reads of the
    // undelivered messages answer 1222.
    for login in [PO_LOGIN, PO_ENTRUSTED_LOGIN] {
        for id in [&ordinary, &personal] {
            for (path, op, code) in [
                (DZ, "DummyOperation", "0000"),
                (DZ, "MessageDownload", "1222"),
                (DZ, "SignedMessageDownload", "1222"),
                (DX, "MessageEnvelopeDownload", "1222"),
                (DX, "GetDeliveryInfo", "1222"),
                (DX, "GetSignedDeliveryInfo", "1222"),
                (DX, "MarkMessageAsDownloaded", "1248"),
            ] {
                let body = if op == "DummyOperation" {
                    format!(r#"<DummyOperation xmlns="{ISDS_NS}"/>"#)
                } else {
                    id_body(op, id)
                };
                let resp = call(&t, login, path, &body).await;
                let want = match (login, id == &personal, code) {
                    // The entrusted user may not read the personal message
                    // at all (1208) before its state is looked at.
                    (l, true, "1222" | "1248")
                        if l == PO_ENTRUSTED_LOGIN
                            && matches!(
                                op,
                                "MessageDownload"
                                    | "SignedMessageDownload"
                                    | "MessageEnvelopeDownload"
                                    | "MarkMessageAsDownloaded"
                            ) =>
                    {
                        "1208"
                    }
                    _ => code,
                };
                assert_eq!(resp.status().0, want, "{op} as {}: {}", login.0, resp.text);
            }
        }
        let resp = call(
            &t,
            login,
            DX,
            &format!(
                r#"<GetMessageStateChanges xmlns="{ISDS_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dmFromTime xsi:nil="true"/><dmToTime xsi:nil="true"/></GetMessageStateChanges>"#
            ),
        )
        .await;
        assert_eq!(resp.status().0, "0000", "{}", resp.text);
        // Logins to the other services.
        let resp = t
            .soap_as(
                login,
                "/DS/DsManage",
                &format!(
                    r#"<GetOwnerInfoFromLogin xmlns="{ISDS_NS}"><dbDummy/></GetOwnerInfoFromLogin>"#
                ),
            )
            .await;
        assert_eq!(resp.status().0, "0000", "{}", resp.text);
    }
    for id in [&ordinary, &personal] {
        let (state, events, accepted) = sender_view(&t, id).await;
        assert_eq!(state, "4", "{id}");
        assert_eq!(events, ["EV0", "EV5"], "{id}");
        assert!(accepted.is_empty(), "{id}: {accepted}");
    }

    // The entrusted user (rights 1 + 8) lists: the list shows the ordinary
    // message delivered (6) and the personal one still waiting (4).
    let resp = call(&t, PO_ENTRUSTED_LOGIN, DX, &list_received()).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Dm);
    let body = resp.body();
    let listed: Vec<(String, String)> = child(&body, "dmRecords")
        .elements()
        .map(|r| (text_of(r, &["dmID"]), text_of(r, &["dmMessageStatus"])))
        .collect();
    assert!(
        listed.contains(&(ordinary.clone(), "6".into())),
        "{listed:?}"
    );
    assert!(
        listed.contains(&(personal.clone(), "4".into())),
        "{listed:?}"
    );
    let (state, events, accepted) = sender_view(&t, &ordinary).await;
    assert_eq!(state, "6");
    // An entrusted user's listing is EV12 (messages manual 2.6.1).
    assert_eq!(events, ["EV0", "EV5", "EV12"]);
    assert!(!accepted.is_empty());
    assert_eq!(sender_view(&t, &personal).await.0, "4");

    // Delivered, the ordinary message reads; the personal one still 1222
    // for the primary user, who may read it but has not listed.
    let resp = call(
        &t,
        PO_ENTRUSTED_LOGIN,
        DZ,
        &id_body("MessageDownload", &ordinary),
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let resp = call(&t, PO_LOGIN, DZ, &id_body("MessageDownload", &personal)).await;
    assert_eq!(resp.status().0, "1222", "{}", resp.text);

    // The primary user lists: the personal message is delivered (EV11).
    let resp = call(&t, PO_LOGIN, DX, &list_received()).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let (state, events, accepted) = sender_view(&t, &personal).await;
    assert_eq!(state, "6");
    assert_eq!(events, ["EV0", "EV5", "EV11"]);
    assert!(!accepted.is_empty());
    // A second listing changes nothing.
    let resp = call(&t, PO_LOGIN, DX, &list_received()).await;
    assert_eq!(resp.status().0, "0000");
    assert_eq!(sender_view(&t, &personal).await.1, ["EV0", "EV5", "EV11"]);
    // Marking it downloaded: 6 → 7.
    let resp = call(
        &t,
        PO_LOGIN,
        DX,
        &id_body("MarkMessageAsDownloaded", &personal),
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let resp = call(&t, PO_LOGIN, DX, &id_body("GetDeliveryInfo", &personal)).await;
    assert_eq!(
        text_of(&resp.body(), &["dmDelivery", "dmMessageStatus"]),
        "7"
    );
    t.stop().await;
}

#[tokio::test]
async fn a_list_holds_only_the_states_a_received_list_may_hold() {
    let t = TestGateway::start().await;
    let id = send_message(&t, OVM_LOGIN, "po4demo", "Filtr", false).await;
    let body = |filter: &str| {
        list_received().replace(
            "<dmStatusFilter>-1</dmStatusFilter>",
            &format!("<dmStatusFilter>{filter}</dmStatusFilter>"),
        )
    };
    // Asking for state 4 only: the listing delivered it first, so nothing
    // is in state 4 any more.
    let resp = call(&t, PO_LOGIN, DX, &body("16")).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert!(!resp.text.contains(&id), "{}", resp.text);
    // States 8 and 9 only: never listed.
    let resp = call(&t, PO_LOGIN, DX, &body("768")).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert!(!resp.text.contains("dmRecord>"), "{}", resp.text);
    // State 6: there it is.
    let resp = call(&t, PO_LOGIN, DX, &body("64")).await;
    assert!(resp.text.contains(&id), "{}", resp.text);
    t.stop().await;
}

/// Writes `n` messages from ovm4dem to po4demo straight into the store
/// under `data` (before a gateway starts on it): every 50th personal,
/// every 10th accepted by fiction ten days after it came twenty days ago,
/// the rest delivered (4) an hour ago. Returns the IDs of each kind.
fn seed_waiting(data: &std::path::Path, n: u64) -> Seeded {
    use isds_gateway::domain::clock::SystemClock;
    use isds_gateway::domain::messages::message::{
        Event, EventCode, Message, MessageId, MessageState, Party, Timestamp,
    };
    use isds_gateway::domain::messages::{repo, wire::compute_hash};
    use isds_gateway::domain::{BoxId, BoxType};

    let store = isds_gateway::store::open_sled(&data.join("store")).expect("store opens");
    let party = |id: &str, box_type: BoxType| Party {
        box_id: BoxId::parse(id).expect("box ID"),
        name: format!("Schránka {id}"),
        address: "Náměstí Míru 1, 74766 Dolní Lhota".into(),
        box_type,
        system: false,
    };
    let now = Timestamp::now(&SystemClock);
    let doc = b"%PDF-1.4 seeded".to_vec();
    let mut seeded = Seeded::default();
    let mut batch = isds_gateway::store::Batch::new();
    for i in 0..n {
        let personal = i % 50 == 7;
        let fiction = !personal && i % 10 == 3;
        let at = if fiction {
            now.plus_days(-20).plus_micros(i as i64)
        } else {
            now.plus_micros(-3_600_000_000 + i as i64)
        };
        let mut m = Message::seeded_delivered(
            MessageId(MessageId::BASE + 500_000_000 + i),
            party("ovm4dem", BoxType::OVM),
            party("po4demo", BoxType::PO),
            format!("Hromadná {i}"),
            "a.pdf",
            doc.len() as u64,
            at,
        );
        m.envelope.personal_delivery = personal;
        m.envelope.allow_subst_delivery = true;
        if fiction {
            m.state = MessageState::AcceptedByFiction;
            m.acceptance_time = Some(at.plus_days(10));
            m.events.push(Event::new(at.plus_days(10), EventCode::EV2));
        }
        m.hash = compute_hash(&m, &[doc.as_slice()]).expect("hash");
        repo::stage_insert_message(&mut batch, &m, std::slice::from_ref(&doc));
        let id = m.id.to_string();
        match (personal, fiction) {
            (true, _) => seeded.personal.push(id),
            (_, true) => seeded.fiction.push(id),
            _ => seeded.waiting.push(id),
        }
        if batch.len() >= 5_000 {
            store.apply(std::mem::take(&mut batch)).expect("seeded");
        }
    }
    store.apply_durable(batch).expect("seeded");
    seeded
}

#[derive(Default)]
struct Seeded {
    waiting: Vec<String>,
    fiction: Vec<String>,
    personal: Vec<String>,
}

/// A page of the received list: IDs and states.
async fn page(
    t: &TestGateway,
    login: (&str, &str),
    filter: i64,
    offset: usize,
    limit: usize,
) -> Vec<(String, String)> {
    let body = list_received()
        .replace(
            "<dmStatusFilter>-1</dmStatusFilter>",
            &format!("<dmStatusFilter>{filter}</dmStatusFilter>"),
        )
        .replace(
            r#"<dmOffset xsi:nil="true"/><dmLimit xsi:nil="true"/>"#,
            &format!("<dmOffset>{offset}</dmOffset><dmLimit>{limit}</dmLimit>"),
        );
    let resp = call(t, login, DX, &body).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let body = resp.body();
    child(&body, "dmRecords")
        .elements()
        .map(|r| (text_of(r, &["dmID"]), text_of(r, &["dmMessageStatus"])))
        .collect()
}

#[tokio::test]
async fn a_listing_delivers_thousands_of_waiting_messages_as_one_by_one() {
    const N: u64 = 2_600;
    let dir = tempfile::tempdir().expect("temp dir");
    let seeded = seed_waiting(&dir.path().join("data"), N);
    let ours = |id: &String| {
        seeded.waiting.contains(id) || seeded.fiction.contains(id) || seeded.personal.contains(id)
    };
    let operator = ("provozovatel", "Tajne-Heslo-1");
    let t = TestGateway::serve_on(dir, operator, |_| {}).await;
    let fiction_time = sender_view(&t, &seeded.fiction[0]).await.2;
    assert!(!fiction_time.is_empty());

    // The entrusted user lists (a page of 10): everything it may read is
    // delivered, more than two atomic writes' worth, with EV12 and one
    // acceptance time; the personal messages wait for the primary user.
    assert_eq!(page(&t, PO_ENTRUSTED_LOGIN, -1, 1, 10).await.len(), 10);
    let mut listing_time = None;
    for id in seeded.waiting.iter().step_by(97) {
        let (state, events, accepted) = sender_view(&t, id).await;
        assert_eq!(state, "6", "{id}");
        assert_eq!(events, ["EV0", "EV5", "EV12"], "{id}");
        assert!(!accepted.is_empty(), "{id}");
        assert_eq!(listing_time.get_or_insert(accepted.clone()), &accepted);
    }
    // Accepted by fiction: delivered, keeping its fiction time.
    for id in seeded.fiction.iter().step_by(31) {
        let (state, events, accepted) = sender_view(&t, id).await;
        assert_eq!(state, "6", "{id}");
        assert_eq!(events, ["EV0", "EV5", "EV2", "EV12"], "{id}");
        assert_ne!(Some(&accepted), listing_time.as_ref(), "{id}");
    }
    assert_eq!(sender_view(&t, &seeded.fiction[0]).await.2, fiction_time);
    for id in &seeded.personal {
        assert_eq!(sender_view(&t, id).await.0, "4", "{id}");
    }

    // The lists and their filters agree, at any offset.
    let mut waiting: Vec<String> = page(&t, PO_ENTRUSTED_LOGIN, 1 << 4, 1, 1000)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .filter(ours)
        .collect();
    waiting.sort();
    assert_eq!(waiting, seeded.personal);
    let delivered = page(&t, PO_ENTRUSTED_LOGIN, 1 << 6, 1, 10_000).await;
    assert_eq!(
        delivered.iter().filter(|(id, _)| ours(id)).count(),
        seeded.waiting.len() + seeded.fiction.len()
    );
    assert!(delivered.iter().all(|(_, state)| state == "6"));
    let deep = page(&t, PO_ENTRUSTED_LOGIN, 1 << 6, delivered.len() - 99, 1000).await;
    assert_eq!(deep, delivered[delivered.len() - 100..]);

    // The sender's list shows them delivered as well.
    let resp = call(
        &t,
        OVM_LOGIN,
        DX,
        &list("GetListOfSentMessages").replace(
            "<dmStatusFilter>-1</dmStatusFilter>",
            "<dmStatusFilter>64</dmStatusFilter>",
        ),
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let body = resp.body();
    let sent: Vec<&isds_gateway::xml::Element> = child(&body, "dmRecords").elements().collect();
    assert_eq!(sent.len(), 1000);
    assert!(sent.iter().all(|r| text_of(r, &["dmMessageStatus"]) == "6"));

    // Each delivery is a state change the sender sees.
    let resp = call(
        &t,
        OVM_LOGIN,
        DX,
        &format!(
            r#"<GetMessageStateChanges xmlns="{ISDS_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dmFromTime xsi:nil="true"/><dmToTime xsi:nil="true"/></GetMessageStateChanges>"#
        ),
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let body = resp.body();
    let to_six = child(&body, "dmRecords")
        .elements()
        .filter(|r| ours(&text_of(r, &["dmID"])) && text_of(r, &["dmMessageStatus"]) == "6")
        .count();
    assert_eq!(to_six, seeded.waiting.len() + seeded.fiction.len());

    // Reading one moves it on from 6, as ever.
    let id = &seeded.waiting[5];
    let resp = call(&t, PO_ENTRUSTED_LOGIN, DZ, &id_body("MessageDownload", id)).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let (state, events, accepted) = sender_view(&t, id).await;
    assert_eq!(state, "7");
    assert_eq!(events, ["EV0", "EV5", "EV12"]);
    assert_eq!(Some(&accepted), listing_time.as_ref());
    let read: Vec<_> = page(&t, PO_ENTRUSTED_LOGIN, 1 << 7, 1, 1000)
        .await
        .into_iter()
        .filter(|(id, _)| ours(id))
        .collect();
    assert_eq!(read, [(id.clone(), "7".to_owned())]);

    // The primary user's listing delivers the personal ones, with EV11.
    assert_eq!(page(&t, PO_LOGIN, -1, 1, 1).await.len(), 1);
    for id in &seeded.personal {
        let (state, events, accepted) = sender_view(&t, id).await;
        assert_eq!(state, "6", "{id}");
        assert_eq!(events, ["EV0", "EV5", "EV11"], "{id}");
        assert_ne!(Some(&accepted), listing_time.as_ref(), "{id}");
    }

    // All of it is in the store: the same after a restart.
    let TestGateway { gw, dir, .. } = t;
    gw.shutdown().await.expect("clean shutdown");
    let t = TestGateway::serve_on(dir, operator, |_| {}).await;
    let (state, events, accepted) = sender_view(&t, &seeded.waiting[6]).await;
    assert_eq!(state, "6");
    assert_eq!(events, ["EV0", "EV5", "EV12"]);
    assert_eq!(Some(&accepted), listing_time.as_ref());
    let six = page(&t, PO_LOGIN, 1 << 6, 1, 10_000).await;
    assert_eq!(
        six.iter().filter(|(id, _)| ours(id)).count(),
        N as usize - 1
    );
    t.stop().await;
}

/// The state changes to 6 the sender `OVM_LOGIN` sees, as message IDs.
async fn sender_changes_to_six(t: &TestGateway) -> Vec<String> {
    let resp = call(
        t,
        OVM_LOGIN,
        DX,
        &format!(
            r#"<GetMessageStateChanges xmlns="{ISDS_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dmFromTime xsi:nil="true"/><dmToTime xsi:nil="true"/></GetMessageStateChanges>"#
        ),
    )
    .await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let body = resp.body();
    child(&body, "dmRecords")
        .elements()
        .filter(|r| text_of(r, &["dmMessageStatus"]) == "6")
        .map(|r| text_of(r, &["dmID"]))
        .collect()
}

/// Messages sent to the box while a listing delivers thousands: each is
/// delivered exactly once (by that listing or the next), every delivery is
/// one state change, and the counted lists (deep pages, state filters)
/// agree with the entries.
#[tokio::test]
async fn messages_arriving_during_a_big_delivery_are_delivered_once_and_counted() {
    const N: u64 = 3_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let seeded = seed_waiting(&dir.path().join("data"), N);
    let operator = ("provozovatel", "Tajne-Heslo-1");
    let t = TestGateway::serve_on(dir, operator, |_| {}).await;

    let sending = async {
        let mut ids = Vec::new();
        for i in 0..12 {
            ids.push(send_message(&t, OVM_LOGIN, "po4demo", &format!("Mezitím {i}"), false).await);
        }
        ids
    };
    let (listed, arrived) = tokio::join!(page(&t, PO_ENTRUSTED_LOGIN, -1, 1, 1), sending);
    assert_eq!(listed.len(), 1);
    // Whatever the first listing left waiting, the next one delivers.
    assert_eq!(page(&t, PO_ENTRUSTED_LOGIN, -1, 1, 1).await.len(), 1);

    for id in &arrived {
        let (state, events, accepted) = sender_view(&t, id).await;
        assert_eq!(state, "6", "{id}");
        assert_eq!(events, ["EV0", "EV5", "EV12"], "{id}");
        assert!(!accepted.is_empty(), "{id}");
    }
    let delivered_ids: Vec<&String> = seeded
        .waiting
        .iter()
        .chain(&seeded.fiction)
        .chain(&arrived)
        .collect();
    let mut changes = sender_changes_to_six(&t).await;
    changes.retain(|id| delivered_ids.contains(&id));
    changes.sort();
    let mut expected: Vec<String> = delivered_ids.iter().map(|id| (*id).clone()).collect();
    expected.sort();
    assert_eq!(changes, expected, "one state change to 6 per delivery");

    // The box's list by state, whole and from deep offsets (counted); the
    // entrusted user's listings leave the personal ones waiting.
    let six = page(&t, PO_ENTRUSTED_LOGIN, 1 << 6, 1, 10_000).await;
    let four = page(&t, PO_ENTRUSTED_LOGIN, 1 << 4, 1, 10_000).await;
    let all = page(&t, PO_ENTRUSTED_LOGIN, -1, 1, 10_000).await;
    assert!(six.len() >= delivered_ids.len());
    let mut personal: Vec<String> = four
        .iter()
        .map(|(id, _)| id.clone())
        .filter(|id| seeded.personal.contains(id) || delivered_ids.contains(&id))
        .collect();
    personal.sort();
    assert_eq!(personal, seeded.personal, "only the personal ones wait");
    let in_state = |s: &str| all.iter().filter(|(_, state)| state == s).count();
    assert_eq!((in_state("6"), in_state("4")), (six.len(), four.len()));
    for (list, filter) in [(&six, 1 << 6), (&all, -1)] {
        for back in [100, 1_000, 2_500] {
            let offset = list.len() - back + 1;
            let deep = page(&t, PO_ENTRUSTED_LOGIN, filter, offset, 50).await;
            assert_eq!(deep, list[offset - 1..offset + 49], "offset {offset}");
        }
    }
    t.stop().await;
}

/// After a listing that delivers more than two writes' worth, time runs on
/// (test clock): the messages it left waiting (personal ones, for a user
/// who may not read them) are accepted by fiction ten days after their
/// delivery, and every message it delivered, in each of its writes, has
/// its documents deleted 90 days after the listing (state 9), seen by the
/// sender and in the recipient's lists.
#[tokio::test]
async fn fiction_and_deletion_follow_a_big_delivery_for_every_message() {
    const N: u64 = 2_600;
    let dir = tempfile::tempdir().expect("temp dir");
    let seeded = seed_waiting(&dir.path().join("data"), N);
    let (t, clock) = TestGateway::start_time_travelling(dir).await;
    let ours = |id: &String| {
        seeded.waiting.contains(id) || seeded.fiction.contains(id) || seeded.personal.contains(id)
    };
    assert_eq!(page(&t, PO_ENTRUSTED_LOGIN, -1, 1, 1).await.len(), 1);
    let in_state = |list: Vec<(String, String)>| list.iter().filter(|(id, _)| ours(id)).count();

    // Ten days and an hour on: the personal ones (delivered an hour before
    // the listing, fiction allowed) are accepted by fiction; the ones
    // delivered by the listing are not.
    clock.advance(time::Duration::days(10) + time::Duration::hours(1));
    for id in &seeded.personal {
        let (state, events, accepted) = sender_view(&t, id).await;
        assert_eq!(state, "5", "{id}");
        assert_eq!(events, ["EV0", "EV5", "EV2"], "{id}");
        assert!(!accepted.is_empty(), "{id}");
    }
    for id in seeded.waiting.iter().step_by(101) {
        assert_eq!(sender_view(&t, id).await.0, "6", "{id}");
    }

    // 89 days after the listing the ones it delivered from state 4 keep
    // their documents (state 6); those accepted by fiction ten days before
    // it lost theirs 80 days after it. 91 days after it every message it
    // delivered has, in each of its writes, and a received list no longer
    // holds them (it holds states 4-7 and 10 only); the personal ones,
    // accepted by fiction ten days after, still have their documents.
    clock.advance(time::Duration::days(79));
    assert_eq!(sender_view(&t, &seeded.waiting[0]).await.0, "6");
    assert_eq!(
        in_state(page(&t, PO_ENTRUSTED_LOGIN, 1 << 6, 1, 10_000).await),
        seeded.waiting.len()
    );
    for id in seeded.fiction.iter().step_by(37) {
        assert_eq!(sender_view(&t, id).await.0, "9", "{id}");
    }
    clock.advance(time::Duration::days(2));
    for id in seeded
        .waiting
        .iter()
        .step_by(97)
        .chain(seeded.waiting.last())
    {
        assert_eq!(sender_view(&t, id).await.0, "9", "{id}");
    }
    let mut left: Vec<(String, String)> = page(&t, PO_ENTRUSTED_LOGIN, -1, 1, 10_000)
        .await
        .into_iter()
        .filter(|(id, _)| ours(id))
        .collect();
    left.sort();
    let personal: Vec<(String, String)> = seeded
        .personal
        .iter()
        .map(|id| (id.clone(), "5".to_owned()))
        .collect();
    assert_eq!(left, personal);
    t.stop().await;
}
