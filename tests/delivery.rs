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
