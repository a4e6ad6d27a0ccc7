//! How messages move through their states after submission.
//!
//! - Delivery: a message enters state 4 at submission (`dmDeliveryTime` =
//!   submission time) when its recipient box is accessible.
//! - Acceptance by fiction: ten days after delivery a message still in
//!   state 4 that allows it goes to state 5 (EV2), [`run_due`].
//! - Delivery by listing: GetListOfReceivedMessages is the only call that
//!   delivers (messages manual 1.8.1, 2.7.1). The box's messages in state 4
//!   or 5 that the listing user may read go to state 6 with the event of
//!   who listed (EV11 primary user, EV12 entrusted user, EV13 application;
//!   2.6.1), [`deliver_by_listing`]. A message in state 4 gets its
//!   acceptance time then; one accepted by fiction keeps its fiction time
//!   (2.4.1, `dmAcceptanceTime` is the first delivery). No login as such,
//!   and no other call, delivers anything.
//! - Content deletion: 90 days after acceptance the documents are deleted,
//!   state 9; envelope, hash and events stay, [`run_due`].
//! - Undeliverable: when the recipient's box becomes inaccessible, its
//!   messages still in state 4 go to state 8 (EV3), and the system box
//!   sends each one's sender a system message saying so,
//!   [`box_became_inaccessible`].
//!
//! Time-driven transitions are stamped with the time they fell due, not
//! with the time they were noticed, so however far the clock jumps the
//! result is the same as if the gateway had watched all along. Every
//! transition is a compare-and-swap on the stored message, so none happens
//! twice.

use crate::auth::{Actor, Identity};
use crate::domain::boxes::databox::BoxId;
use crate::domain::boxes::repo::RepoError;
use crate::domain::boxes::user::{Privileges, UserType};
use crate::domain::clock::Clock;
use crate::domain::messages;
use crate::domain::messages::message::{
    Event, EventCode, Message, MessageId, MessageState, Timestamp,
};
use crate::domain::messages::repo::{DueEntry, DueKind};
use crate::domain::messages::system_message;
use crate::store::{Batch, Store, StoreError};

/// Due entries read per round of [`run_due`].
const DUE_CHUNK: usize = 256;

/// Messages delivered per write by [`deliver_by_listing`]: one atomic
/// write each, made durable together at the end.
const ACCEPT_CHUNK: usize = 1024;

/// Attempts at a transition that keeps meeting concurrent changes.
const MAX_ATTEMPTS: usize = 16;

/// Applies every time-driven transition due at the clock's now.
pub fn run_due(store: &dyn Store, clock: &dyn Clock) -> Result<usize, RepoError> {
    run_due_at(store, Timestamp::now(clock))
}

/// Whether any transition is due at or before `now` (one range read, no
/// write): a caller that must not block runs [`run_due`] elsewhere only
/// then.
pub fn anything_due(store: &dyn Store, now: Timestamp) -> Result<bool, RepoError> {
    Ok(!messages::repo::due_round(store, now, 1)?.entries.is_empty())
}

/// Applies every transition due at or before `now`, in due-time order,
/// each stamped with its own due time. Returns how many were applied.
/// Cheap when nothing is due: one range read.
pub fn run_due_at(store: &dyn Store, now: Timestamp) -> Result<usize, RepoError> {
    let mut applied = 0;
    loop {
        // Each entry read is consumed below (applied or found stale and
        // dropped), so every round makes progress; transitions may queue
        // new entries (deletion after fiction), which a later round sees.
        let round = messages::repo::due_round(store, now, DUE_CHUNK)?;
        if round.entries.is_empty() {
            return Ok(applied);
        }
        for entry in &round.entries {
            if apply_due(store, entry)? {
                applied += 1;
            }
        }
        // The entries of one listing's write share one queue entry; it
        // goes once all of them were applied or found stale.
        round.finish(store)?;
    }
}

/// Applies one queue entry; false when it no longer applied (dropped).
fn apply_due(store: &dyn Store, entry: &DueEntry) -> Result<bool, RepoError> {
    for _ in 0..MAX_ATTEMPTS {
        let Some(msg) = messages::repo::get_message(store, entry.id)? else {
            messages::repo::drop_due(store, entry)?;
            return Ok(false);
        };
        let after = match entry.kind {
            DueKind::Fiction if msg.fiction_due() == Some(entry.at) => {
                accept_by_fiction(&msg, entry.at)
            }
            DueKind::ContentDeletion if msg.deletion_due() == Some(entry.at) => {
                delete_content(&msg)
            }
            _ => {
                // The message moved on (accepted, undeliverable): the entry
                // is stale.
                messages::repo::drop_due(store, entry)?;
                return Ok(false);
            }
        };
        let mut batch = Batch::new();
        match messages::repo::stage_update_message(store, &mut batch, &msg, &after, entry.at) {
            Ok(()) => {}
            Err(RepoError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
        // Not forced to disk: a transition lost in a crash is due again and
        // is redone identically, with the same due time.
        match store.apply(batch) {
            Ok(()) => {
                messages::repo::after_update_applied(store, &msg, &after);
                return Ok(true);
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(RepoError::Conflict(format!(
        "message {} keeps changing; transition not applied",
        entry.id
    )))
}

fn accept_by_fiction(msg: &Message, at: Timestamp) -> Message {
    let mut m = msg.clone();
    m.state = MessageState::AcceptedByFiction;
    m.acceptance_time = Some(at);
    m.events.push(Event::new(at, EventCode::EV2));
    m
}

fn delete_content(msg: &Message) -> Message {
    let mut m = msg.clone();
    m.state = MessageState::ContentDeleted;
    m.content_deleted = true;
    m
}

/// The delivery event of a listing by this identity (messages manual
/// 2.6.1): EV11 a primary user (and the types with its rights), EV12 an
/// entrusted user or administrator, EV13 an application (system
/// certificate, hosted records service). The operator delivers nothing.
fn delivery_event(identity: &Identity) -> Option<EventCode> {
    match identity.actor {
        Actor::Operator => None,
        Actor::Application | Actor::HostedProvider { .. } => Some(EventCode::EV13),
        Actor::Person => Some(match identity.user.user_type {
            UserType::PrimaryUser
            | UserType::Liquidator
            | UserType::Receiver
            | UserType::Guardian => EventCode::EV11,
            _ => EventCode::EV12,
        }),
    }
}

/// Whether `privileges` allow reading a message of this kind.
pub fn may_read(privileges: Privileges, msg: &Message) -> bool {
    may_read_personal(privileges, msg.envelope.personal_delivery)
}

/// [`may_read`] for a message to be delivered into the recipient's own
/// hands (`dmPersonalDelivery`) or not.
fn may_read_personal(privileges: Privileges, personal_delivery: bool) -> bool {
    if personal_delivery {
        privileges.has(Privileges::READ_ALL)
    } else {
        privileges.can_read_non_personal()
    }
}

/// Delivers, because this identity lists its box's received messages,
/// every message of the box in state 4 or 5 that the identity may read:
/// state 6 with the listing's event; a message in state 4 gets `now` as
/// its acceptance time. Durable when it returns, so the list read after
/// it shows the messages delivered. Returns how many were delivered.
pub fn deliver_by_listing(
    store: &dyn Store,
    now: Timestamp,
    identity: &Identity,
) -> Result<usize, RepoError> {
    let Some(event) = delivery_event(identity) else {
        return Ok(0);
    };
    let privileges = identity.user.privileges;
    if !privileges.can_read_non_personal() {
        return Ok(0);
    }
    let box_id = &identity.databox.id;
    let mut delivered = 0;
    // In writes of a bounded size, reading the waiting IDs a page at a
    // time: a box with thousands of waiting messages would otherwise be
    // delivered in one write held in memory whole (measured: 7,000
    // messages, +300 MB). Each message's delivery stands alone, so a crash
    // between writes leaves the rest waiting for the next listing, as if
    // it had not happened yet; one flush at the end makes them all durable
    // before the list is answered.
    let mut after = None;
    loop {
        let ids = messages::repo::pending_acceptance_page(store, box_id, after, ACCEPT_CHUNK)?;
        let Some(&last) = ids.last() else {
            break;
        };
        after = Some(last);
        delivered += deliver_ids(store, &ids, privileges, event, now, box_id)?;
    }
    if delivered > 0 {
        store.flush_durable()?;
    }
    Ok(delivered)
}

/// Delivers those of `ids` still waiting that `privileges` may read, in
/// one atomic write (made durable by the caller); retried from a fresh
/// read when a message changed meanwhile. Each delivery is a few small
/// index entries, the record is not rewritten, and the list counts and
/// state changes are written once for the whole write
/// ([`messages::repo::ListingDeliveries`]).
fn deliver_ids(
    store: &dyn Store,
    ids: &[MessageId],
    privileges: Privileges,
    event: EventCode,
    now: Timestamp,
    box_id: &BoxId,
) -> Result<usize, RepoError> {
    // Only what the decision and the entries need is read of each record.
    let reader = messages::repo::WaitingReader::new(store)?;
    'attempt: for _ in 0..MAX_ATTEMPTS {
        let mut batch = Batch::new();
        let mut deliveries = messages::repo::ListingDeliveries::new(now, event);
        let mut delivered = 0;
        for &id in ids {
            let Some((msg, raw)) = reader.get(id)? else {
                continue;
            };
            let waiting = matches!(
                msg.state,
                MessageState::Delivered | MessageState::AcceptedByFiction
            );
            if !waiting || !may_read_personal(privileges, msg.personal_delivery()) {
                continue;
            }
            match deliveries.stage(&mut batch, raw, &msg) {
                Ok(_) => delivered += 1,
                Err(RepoError::Conflict(_)) => continue 'attempt,
                Err(e) => return Err(e),
            }
        }
        if delivered == 0 {
            return Ok(0);
        }
        deliveries.finish(&mut batch);
        match store.apply(batch) {
            Ok(()) => return Ok(delivered),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(RepoError::Conflict(format!(
        "messages of box {box_id} keep changing; delivery not applied"
    )))
}

/// Marks undeliverable (state 8, EV3) every message of `box_id` still
/// waiting in state 4, because the box became inaccessible. Transitions
/// due before are applied first. Durable when it returns.
pub fn box_became_inaccessible(
    store: &dyn Store,
    clock: &dyn Clock,
    box_id: &BoxId,
) -> Result<usize, RepoError> {
    let now = Timestamp::now(clock);
    run_due_at(store, now)?;
    for _ in 0..MAX_ATTEMPTS {
        let mut batch = Batch::new();
        let n = match stage_box_became_inaccessible(store, &mut batch, box_id, now) {
            Ok(n) => n,
            Err(RepoError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(0);
        }
        match store.apply_durable(batch) {
            Ok(()) => return Ok(n),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(RepoError::Conflict(format!(
        "messages of box {box_id} keep changing; not marked undeliverable"
    )))
}

/// Stages [`box_became_inaccessible`]'s transitions into `batch` (for a
/// caller that changes the box's state in the same batch); each requires
/// its message unchanged since read. Returns how many were staged.
pub fn stage_box_became_inaccessible(
    store: &dyn Store,
    batch: &mut Batch,
    box_id: &BoxId,
    at: Timestamp,
) -> Result<usize, RepoError> {
    let mut n = 0;
    for id in messages::repo::pending_acceptance(store, box_id)? {
        let Some(msg) = messages::repo::get_message(store, id)? else {
            continue;
        };
        if msg.state != MessageState::Delivered {
            continue;
        }
        let mut after = msg.clone();
        after.state = MessageState::Undeliverable;
        after.events.push(Event::new(at, EventCode::EV3));
        messages::repo::stage_update_message(store, batch, &msg, &after, at)?;
        // The sender learns of it by a system message, in the same write.
        system_message::stage_undeliverable_notice(store, batch, &after, at)?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clock::TestClock;
    use crate::domain::messages::message::tests::sample;
    use crate::domain::messages::wire::compute_hash;
    use crate::domain::{BoxState, BoxType, DataBox, Owner, PersonName, User, UserId};
    use crate::http::routes::LoginMethod;
    use crate::store::open_memory;

    fn send(store: &dyn Store, id: u64, at: Timestamp, personal: bool, fiction: bool) -> Message {
        let mut m = sample(id);
        m.submitted_at = at;
        m.delivery_time = Some(at);
        m.envelope.personal_delivery = personal;
        m.envelope.allow_subst_delivery = fiction;
        m.hash = compute_hash(&m, &[b"doc"]).unwrap();
        messages::repo::insert_message(store, &m, &[b"doc".to_vec()]).unwrap();
        m
    }

    fn identity(user_type: UserType, privileges: u32, actor: Actor) -> Identity {
        let box_id = BoxId::parse("po4demo").unwrap();
        Identity {
            user: std::sync::Arc::new(User {
                id: UserId::parse("user01").unwrap(),
                box_id: box_id.clone(),
                login: "u".into(),
                user_type,
                privileges: Privileges(privileges),
                name: PersonName::default(),
                password: crate::domain::boxes::credentials::PasswordHash::unusable(),
                password_set_at: 0,
                must_change_password: false,
                personal: Default::default(),
            }),
            databox: std::sync::Arc::new(DataBox {
                id: box_id,
                box_type: BoxType::PO,
                state: BoxState::Accessible,
                owner: Owner::default(),
                effective_ovm: false,
                open_addressing: false,
                attachment_limit_mb: 20,
                unlimited_password_validity: false,
                public_listing: true,
            }),
            method: LoginMethod::Basic,
            actor,
            must_change_password: false,
        }
    }

    fn state(store: &dyn Store, m: &Message) -> Message {
        messages::repo::get_message(store, m.id).unwrap().unwrap()
    }

    #[test]
    fn fiction_then_deletion_however_far_time_jumps() {
        let store = open_memory();
        let s = store.as_ref();
        let t0 = Timestamp(1_000_000_000_000_000);
        let m = send(s, 10_000_001, t0, false, true);
        let no_fiction = send(s, 10_000_002, t0, false, false);
        assert_eq!(run_due_at(s, t0.plus_days(9)).unwrap(), 0);
        // 200 days in one jump: fiction at +10, deletion at +100.
        assert_eq!(run_due_at(s, t0.plus_days(200)).unwrap(), 2);
        let after = state(s, &m);
        assert_eq!(after.state, MessageState::ContentDeleted);
        assert_eq!(after.acceptance_time, Some(t0.plus_days(10)));
        assert_eq!(after.events.last().unwrap().code, EventCode::EV2);
        assert_eq!(after.events.last().unwrap().at, t0.plus_days(10));
        assert_eq!(after.hash, m.hash);
        assert!(messages::repo::get_documents(s, m.id).unwrap().is_empty());
        let changes = messages::repo::state_changes(s, &m.recipient.box_id, None, None).unwrap();
        assert!(changes.contains(&(m.id, t0.plus_days(10), MessageState::AcceptedByFiction)));
        assert!(changes.contains(&(m.id, t0.plus_days(100), MessageState::ContentDeleted)));
        // Idempotent; the message without fiction waits for a listing.
        assert_eq!(run_due_at(s, t0.plus_days(400)).unwrap(), 0);
        assert_eq!(state(s, &no_fiction).state, MessageState::Delivered);
    }

    #[test]
    fn listing_delivers_what_the_user_may_read() {
        let store = open_memory();
        let s = store.as_ref();
        let clock = TestClock::new();
        let t0 = Timestamp::now(clock.as_ref());
        let plain = send(s, 10_000_001, t0, false, true);
        let personal = send(s, 10_000_002, t0, true, true);
        let now = Timestamp::now(clock.as_ref());
        // No read right: nothing.
        let viewer = identity(UserType::EntrustedUser, 8, Actor::Person);
        assert_eq!(deliver_by_listing(s, now, &viewer).unwrap(), 0);
        // Right 1: the non-personal one, with EV12 only (EV1 is history).
        let reader = identity(UserType::EntrustedUser, 9, Actor::Person);
        assert_eq!(deliver_by_listing(s, now, &reader).unwrap(), 1);
        let a = state(s, &plain);
        assert_eq!(a.state, MessageState::AcceptedByLogin);
        assert_eq!(a.acceptance_time, Some(now));
        let codes: Vec<_> = a.events.iter().map(|e| e.code).collect();
        assert_eq!(codes[2..], [EventCode::EV12]);
        assert_eq!(state(s, &personal).state, MessageState::Delivered);
        // The primary user (right 2): the personal one too, with EV11.
        let primary = identity(UserType::PrimaryUser, 255, Actor::Person);
        assert_eq!(deliver_by_listing(s, now, &primary).unwrap(), 1);
        let p = state(s, &personal);
        assert_eq!(p.state, MessageState::AcceptedByLogin);
        assert_eq!(p.events.last().unwrap().code, EventCode::EV11);
        // Deletion is now scheduled 90 days after acceptance.
        let due = messages::repo::due_until(s, Timestamp(i64::MAX), 10).unwrap();
        assert_eq!(due.len(), 2);
        assert!(due.iter().all(|e| e.kind == DueKind::ContentDeletion));
        assert_eq!(deliver_by_listing(s, now, &primary).unwrap(), 0);
    }

    #[test]
    fn listing_delivers_a_message_accepted_by_fiction_keeping_its_time() {
        let store = open_memory();
        let s = store.as_ref();
        let t0 = Timestamp(1_000_000_000_000_000);
        let m = send(s, 10_000_001, t0, false, true);
        assert_eq!(run_due_at(s, t0.plus_days(11)).unwrap(), 1);
        assert_eq!(state(s, &m).state, MessageState::AcceptedByFiction);
        let reader = identity(UserType::EntrustedUser, 9, Actor::Person);
        let later = t0.plus_days(12);
        assert_eq!(deliver_by_listing(s, later, &reader).unwrap(), 1);
        let after = state(s, &m);
        assert_eq!(after.state, MessageState::AcceptedByLogin);
        assert_eq!(after.acceptance_time, Some(t0.plus_days(10)));
        assert_eq!(after.events.last().unwrap().code, EventCode::EV12);
        // Content deletion stays 90 days after the first delivery.
        assert_eq!(run_due_at(s, t0.plus_days(99)).unwrap(), 0);
        assert_eq!(run_due_at(s, t0.plus_days(101)).unwrap(), 1);
    }

    #[test]
    fn listing_delivers_many_waiting_messages_in_bounded_batches() {
        let store = open_memory();
        let s = store.as_ref();
        let clock = TestClock::new();
        let t0 = Timestamp::now(clock.as_ref());
        // More than two batches, one of them personal (not for this user).
        let count = 2 * ACCEPT_CHUNK + 7;
        let sent: Vec<Message> = (0..count as u64)
            .map(|i| send(s, 10_000_001 + i, t0, i == 300, true))
            .collect();
        let reader = identity(UserType::EntrustedUser, 9, Actor::Person);
        let now = Timestamp::now(clock.as_ref());
        assert_eq!(deliver_by_listing(s, now, &reader).unwrap(), count - 1);
        for (i, m) in sent.iter().enumerate() {
            let expected = if i == 300 {
                MessageState::Delivered
            } else {
                MessageState::AcceptedByLogin
            };
            assert_eq!(state(s, m).state, expected, "message {i}");
        }
        assert_eq!(deliver_by_listing(s, now, &reader).unwrap(), 0);
    }

    /// A listing that stops after its first write (a crash) leaves the
    /// rest waiting: they are accepted by fiction ten days after their
    /// delivery, and the ones delivered have their documents deleted 90
    /// days after, each by the one queue entry their write shared, however
    /// often the queue is run over it.
    #[test]
    fn the_messages_of_a_write_are_deleted_on_time_and_the_rest_wait() {
        let store = open_memory();
        let s = store.as_ref();
        let t0 = Timestamp(1_000_000_000_000_000);
        let sent: Vec<Message> = (0..7u64)
            .map(|i| send(s, 10_000_001 + i, t0, false, true))
            .collect();
        let reader = identity(UserType::EntrustedUser, 9, Actor::Person);
        let listed = t0.plus_days(2);
        let box_id = &sent[0].recipient.box_id;
        let first: Vec<MessageId> = sent[..4].iter().map(|m| m.id).collect();
        // The first write only, then "the crash".
        let n = deliver_ids(
            s,
            &first,
            reader.user.privileges,
            EventCode::EV12,
            listed,
            box_id,
        )
        .unwrap();
        assert_eq!(n, 4);
        assert_eq!(
            messages::repo::pending_acceptance(s, box_id).unwrap(),
            sent[4..].iter().map(|m| m.id).collect::<Vec<_>>()
        );
        // Fiction for the rest only, ten days after their delivery.
        assert_eq!(run_due_at(s, t0.plus_days(10)).unwrap(), 3);
        for (i, m) in sent.iter().enumerate() {
            let expected = if i < 4 {
                MessageState::AcceptedByLogin
            } else {
                MessageState::AcceptedByFiction
            };
            assert_eq!(state(s, m).state, expected, "message {i}");
        }
        // A round stopped half-way through the shared entry (one message
        // done) is finished by the next one.
        let deletion = listed.plus_days(90);
        let round = messages::repo::due_round(s, deletion, DUE_CHUNK).unwrap();
        assert_eq!(round.entries.len(), 4);
        assert!(apply_due(s, &round.entries[1]).unwrap());
        drop(round);
        assert_eq!(run_due_at(s, deletion.plus_micros(-1)).unwrap(), 0);
        assert_eq!(run_due_at(s, deletion).unwrap(), 3);
        for m in &sent[..4] {
            let after = state(s, m);
            assert_eq!(after.state, MessageState::ContentDeleted);
            assert!(messages::repo::get_documents(s, m.id).unwrap().is_empty());
            let changes = messages::repo::state_changes(s, box_id, None, None).unwrap();
            assert!(changes.contains(&(m.id, deletion, MessageState::ContentDeleted)));
        }
        assert!(
            messages::repo::due_until(s, deletion, 100)
                .unwrap()
                .is_empty()
        );
        assert_eq!(run_due_at(s, deletion).unwrap(), 0);
        // The rest: delivered by the next listing, deleted 90 days after
        // their fiction.
        assert_eq!(deliver_by_listing(s, t0.plus_days(11), &reader).unwrap(), 3);
        assert_eq!(run_due_at(s, t0.plus_days(100)).unwrap(), 3);
        for m in &sent[4..] {
            assert_eq!(state(s, m).state, MessageState::ContentDeleted);
        }
    }

    #[test]
    fn applications_deliver_with_ev13() {
        let store = open_memory();
        let s = store.as_ref();
        let clock = TestClock::new();
        let now = Timestamp::now(clock.as_ref());
        let m = send(s, 10_000_001, now, true, true);
        let app = identity(UserType::PrimaryUser, 159, Actor::Application);
        assert_eq!(deliver_by_listing(s, now, &app).unwrap(), 1);
        assert_eq!(state(s, &m).events.last().unwrap().code, EventCode::EV13);
    }

    #[test]
    fn inaccessible_box_makes_waiting_messages_undeliverable() {
        let store = open_memory();
        let s = store.as_ref();
        let clock = TestClock::new();
        let now = Timestamp::now(clock.as_ref());
        let waiting = send(s, 10_000_001, now, false, true);
        // Already accepted by fiction before the box went away.
        let old = send(s, 10_000_002, now.plus_days(-20), false, true);
        let n = box_became_inaccessible(s, clock.as_ref(), &waiting.recipient.box_id).unwrap();
        assert_eq!(n, 1);
        let w = state(s, &waiting);
        assert_eq!(w.state, MessageState::Undeliverable);
        assert_eq!(w.events.last().unwrap().code, EventCode::EV3);
        assert_eq!(state(s, &old).state, MessageState::AcceptedByFiction);
        // No fiction for an undeliverable message.
        assert_eq!(run_due_at(s, now.plus_days(30)).unwrap(), 0);
        // Only the one accepted by fiction still waits for a listing.
        assert_eq!(
            messages::repo::pending_acceptance(s, &waiting.recipient.box_id).unwrap(),
            vec![old.id]
        );
    }
}
