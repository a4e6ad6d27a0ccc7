//! Times on the wire (messages manual, chapter 1.3.2): output times carry
//! the Czech offset of their instant (+01:00 in winter, +02:00 in summer)
//! with milliseconds; an input time without a zone is Czech local time.
//! Driven through the real interface on a test clock.

mod common;

use common::messages::*;
use common::*;
use isds_gateway::xml::Element;
use time::macros::datetime;

/// `YYYY-MM-DDThh:mm:ss.mmm` followed by `offset`.
fn assert_isds_time(value: &str, offset: &str, what: &str) {
    let ok = value.len() == 29
        && value.ends_with(offset)
        && value.as_bytes()[10] == b'T'
        && value.as_bytes()[19] == b'.'
        && value[20..23].bytes().all(|b| b.is_ascii_digit());
    assert!(
        ok,
        "{what}: {value:?} is not YYYY-MM-DDThh:mm:ss.mmm{offset}"
    );
}

/// Every text of elements whose name ends with `Time` (dmDeliveryTime,
/// dmAcceptanceTime, dmEventTime, …) below `e`.
fn times(e: &Element, out: &mut Vec<(String, String)>) {
    for c in e.elements() {
        if c.name.ends_with("Time") && c.first_element().is_none() && !c.text().is_empty() {
            out.push((c.name.clone(), c.text()));
        }
        times(c, out);
    }
}

/// Sends a message at `at` (UTC) and checks the times of every view of it:
/// list, envelope, delivery info with its events, and the signed delivery
/// info's XML.
async fn check_message_at(
    t: &TestGateway,
    clock: &isds_gateway::domain::clock::TestClock,
    at: time::OffsetDateTime,
    local: &str,
    offset: &str,
) {
    clock.set(at);
    let id = send_message(t, OVM_LOGIN, "po4demo", "Čas", false).await;
    // The list delivers (acceptance by login) at the same instant.
    let listed = call(t, PO_LOGIN, "/DS/dx", &list("GetListOfReceivedMessages")).await;
    let mut seen = Vec::new();
    for (op, path) in [
        ("MessageEnvelopeDownload", "/DS/dx"),
        ("GetDeliveryInfo", "/DS/dx"),
        ("MessageDownload", "/DS/dz"),
    ] {
        let r = call(t, PO_LOGIN, path, &id_body(op, &id)).await;
        assert_eq!(r.status().0, "0000", "{op}: {}", r.text);
        times(&r.body(), &mut seen);
    }
    let record = {
        let body = listed.body();
        let mut records = Vec::new();
        descendants(&body, "dmRecord", &mut records);
        records
            .into_iter()
            .find(|r| texts(r, "dmID").first() == Some(&id))
            .cloned()
            .expect("the message is listed")
    };
    times(&record, &mut seen);
    assert!(
        seen.iter().any(|(n, _)| n == "dmDeliveryTime")
            && seen.iter().any(|(n, _)| n == "dmAcceptanceTime")
            && seen.iter().any(|(n, _)| n == "dmEventTime"),
        "{seen:?}"
    );
    for (name, value) in &seen {
        assert_isds_time(value, offset, name);
        assert!(
            value.starts_with(local),
            "{name}: {value} is not at {local}"
        );
    }

    // The signed delivery info carries the same text in its signed XML.
    let r = call(
        t,
        PO_LOGIN,
        "/DS/dx",
        &id_body("GetSignedDeliveryInfo", &id),
    )
    .await;
    let zfo = unb64(&text_of(&r.body(), &["dmSignature"]));
    let signed = String::from_utf8_lossy(&zfo);
    let delivery = seen
        .iter()
        .find(|(n, _)| n == "dmDeliveryTime")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    assert!(
        signed.contains(&format!("DeliveryTime>{delivery}<")),
        "signed delivery info lacks {delivery}"
    );
}

#[tokio::test]
async fn winter_and_summer_messages_show_the_czech_offset() {
    let (t, clock) = TestGateway::start_clocked().await;
    // 10:00 UTC is 11:00 CET in January and 12:00 CEST in July.
    check_message_at(
        &t,
        &clock,
        datetime!(2026-01-15 10:00:00 UTC),
        "2026-01-15T11:00:0",
        "+01:00",
    )
    .await;
    check_message_at(
        &t,
        &clock,
        datetime!(2026-07-15 10:00:00 UTC),
        "2026-07-15T12:00:0",
        "+02:00",
    )
    .await;
    t.stop().await;
}

/// GetListOfSentMessages from `from` (as given) on: the dmIDs listed.
async fn sent_since(t: &TestGateway, from: &str) -> Vec<String> {
    let body = op(
        "GetListOfSentMessages",
        &format!(
            "<dmFromTime>{from}</dmFromTime><dmToTime/><dmSenderOrgUnitNum/><dmStatusFilter>-1</dmStatusFilter><dmOffset/><dmLimit/>"
        ),
    );
    let r = call(t, OVM_LOGIN, "/DS/dx", &body).await;
    let code = r.status().0;
    assert!(code == "0000" || code == "0002", "{}", r.text);
    texts(&r.body(), "dmID")
}

#[tokio::test]
async fn zone_less_input_times_are_prague_time() {
    let (t, clock) = TestGateway::start_clocked().await;
    clock.set(datetime!(2026-01-15 10:00:00 UTC)); // 11:00 CET
    let winter = send_message(&t, OVM_LOGIN, "po4demo", "Zima", false).await;
    clock.set(datetime!(2026-07-15 10:00:00 UTC)); // 12:00 CEST
    let summer = send_message(&t, OVM_LOGIN, "po4demo", "Léto", false).await;

    // January: 10:30 Prague (09:30 UTC) is before the message, 11:30
    // Prague (10:30 UTC) after it. Read as UTC, both would be after.
    assert!(
        sent_since(&t, "2026-01-15T10:30:00")
            .await
            .contains(&winter)
    );
    assert!(
        !sent_since(&t, "2026-01-15T11:30:00")
            .await
            .contains(&winter)
    );
    // July (CEST, +02:00): 11:30 Prague is 09:30 UTC, before the message;
    // read with the winter offset it would be 10:30 UTC, after it.
    assert!(
        sent_since(&t, "2026-07-15T11:30:00")
            .await
            .contains(&summer)
    );
    assert!(
        !sent_since(&t, "2026-07-15T12:30:00")
            .await
            .contains(&summer)
    );
    // A zone or Z is honoured as given.
    assert!(
        sent_since(&t, "2026-07-15T09:59:00Z")
            .await
            .contains(&summer)
    );
    assert!(
        !sent_since(&t, "2026-07-15T10:01:00Z")
            .await
            .contains(&summer)
    );
    assert!(
        sent_since(&t, "2026-07-15T10:59:00+01:00")
            .await
            .contains(&summer)
    );
    assert!(
        !sent_since(&t, "2026-07-15T12:01:00+02:00")
            .await
            .contains(&summer)
    );
    t.stop().await;
}
