//! The credit of a box for commercial services: a ledger of events, the
//! balance after each.
//!
//! ISDS keeps a prepaid credit per box from which commercial messages
//! (PDZ) and the long-term storage (data vault) are paid;
//! DataBoxCreditInfo reports the balance and the events of an interval.
//! Amounts are integers in hundredths of Czech crowns (haléře), as ISDS
//! reports them: `100000` is 1000 Kč.
//!
//! # Layout
//! Tree `credit`: `<box ID>/<sequence, 8 hex digits>` → event (JSON), in
//! the order they happened. The balance is the `after` of the last event
//! (0 without events). Appending requires the next sequence number to be
//! free, so two concurrent writers cannot both append at one position.
//!
//! # Event types (`ciEventType`)
//! 1 credit charged, 2 credit discharged (refunded), 3 commercial message
//! sent, 4 long-term storage ordered, 5 credit expired, 7 messages restored
//! from the storage's bin. Only charging raises the balance; the balance
//! never goes below zero.

use serde::{Deserialize, Serialize};

use crate::domain::boxes::databox::BoxId;
use crate::domain::boxes::repo::{self, RepoError};
use crate::store::{Batch, KeyRange, Order, Store, StoreError};

/// The ledger tree.
pub const CREDIT: &str = "credit";

/// The kinds of commercial message PDZSendInfo asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PdzKind {
    /// An ordinary commercial message.
    Normal,
    /// An initiating message that pays the recipient's reply in advance.
    Init,
    /// A high-volume commercial message (VoDZ).
    Vodz,
}

impl PdzKind {
    pub fn from_name(name: &str) -> Option<PdzKind> {
        match name {
            "Normal" => Some(PdzKind::Normal),
            "Init" => Some(PdzKind::Init),
            "VoDZ" => Some(PdzKind::Vodz),
            _ => None,
        }
    }

    /// The price the gateway charges from the credit, in hundredths of CZK.
    /// ISDS's prices are set by contract with the postal operator and are
    /// not part of the interface; these are the gateway's (GetConstants
    /// reports them).
    pub fn price(self) -> u64 {
        match self {
            PdzKind::Normal => 1_000,
            PdzKind::Init => 2_000,
            PdzKind::Vodz => 5_000,
        }
    }
}

/// What happened to the credit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CreditKind {
    /// 1: credit charged (paid in).
    Charged { trans_id: String },
    /// 2: credit discharged (paid back).
    Discharged { trans_id: String },
    /// 3: a commercial message was paid.
    MessageSent {
        recipient: BoxId,
        message_id: String,
    },
    /// 4: the long-term storage was ordered (dates are `YYYY-MM-DD`).
    StorageSet {
        new_capacity: u64,
        new_from: String,
        new_to: String,
        old_capacity: Option<u64>,
        old_from: Option<String>,
        old_to: Option<String>,
        done_by: Option<String>,
    },
    /// 5: credit expired.
    Expired { trans_id: String },
    /// 7: messages were restored from the long-term storage's bin.
    Restored { done_by: String },
}

impl CreditKind {
    /// The `ciEventType` number.
    pub fn code(&self) -> i64 {
        match self {
            CreditKind::Charged { .. } => 1,
            CreditKind::Discharged { .. } => 2,
            CreditKind::MessageSent { .. } => 3,
            CreditKind::StorageSet { .. } => 4,
            CreditKind::Expired { .. } => 5,
            CreditKind::Restored { .. } => 7,
        }
    }

    /// Whether the event adds to the credit (only charging does).
    pub fn adds(&self) -> bool {
        matches!(self, CreditKind::Charged { .. })
    }
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditEvent {
    /// When, as Unix seconds.
    pub at: i64,
    /// The change of the credit (negative for payments).
    pub change: i64,
    /// The credit after the event.
    pub after: i64,
    #[serde(flatten)]
    pub kind: CreditKind,
}

/// An event to record: when, how much (a positive amount; the kind says
/// whether it is added or taken), what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredit {
    pub at: i64,
    pub amount: u64,
    pub kind: CreditKind,
}

/// Why an event was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum CreditError {
    #[error("box {0} does not exist")]
    NoSuchBox(BoxId),
    #[error(
        "box {box_id}: the credit of {balance} would fall below zero by taking {amount} (hundredths of CZK)"
    )]
    Insufficient {
        box_id: BoxId,
        balance: i64,
        amount: u64,
    },
    #[error("amount {0} is too large")]
    TooLarge(u64),
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl From<StoreError> for CreditError {
    fn from(e: StoreError) -> Self {
        CreditError::Repo(e.into())
    }
}

fn key(box_id: &BoxId, seq: u32) -> String {
    format!("{box_id}/{seq:08x}")
}

fn decode(box_id: &BoxId, bytes: &[u8]) -> Result<CreditEvent, RepoError> {
    serde_json::from_slice(bytes).map_err(|source| RepoError::Corrupt {
        what: format!("credit event of box {box_id}"),
        source,
    })
}

fn encode(e: &CreditEvent) -> Vec<u8> {
    // A plain struct of numbers and strings always serialises.
    serde_json::to_vec(e).unwrap_or_default()
}

/// The last event of a box's ledger and its sequence number.
fn last(store: &dyn Store, box_id: &BoxId) -> Result<Option<(u32, CreditEvent)>, RepoError> {
    let prefix = format!("{box_id}/");
    let Some((k, v)) = store
        .tree(CREDIT)?
        .first_in(KeyRange::prefix(prefix.as_bytes()), Order::Descending)?
    else {
        return Ok(None);
    };
    let seq = std::str::from_utf8(&k[prefix.len()..])
        .ok()
        .and_then(|s| u32::from_str_radix(s, 16).ok())
        .unwrap_or(0);
    Ok(Some((seq, decode(box_id, &v)?)))
}

/// The current credit of a box (0 if it never had any).
pub fn balance(store: &dyn Store, box_id: &BoxId) -> Result<i64, RepoError> {
    Ok(last(store, box_id)?.map_or(0, |(_, e)| e.after))
}

/// The events of a box that happened in `[from, to]` (Unix seconds), in
/// order.
pub fn events(
    store: &dyn Store,
    box_id: &BoxId,
    from: i64,
    to: i64,
) -> Result<Vec<CreditEvent>, RepoError> {
    let prefix = format!("{box_id}/");
    let mut out = Vec::new();
    for entry in store
        .tree(CREDIT)?
        .iter(KeyRange::prefix(prefix.as_bytes()), Order::Ascending)
    {
        let (_, v) = entry?;
        let e = decode(box_id, &v)?;
        if e.at >= from && e.at <= to {
            out.push(e);
        }
    }
    Ok(out)
}

/// Every long-term storage order of a box, in order.
pub fn storage_orders(store: &dyn Store, box_id: &BoxId) -> Result<Vec<CreditEvent>, RepoError> {
    Ok(events(store, box_id, i64::MIN, i64::MAX)?
        .into_iter()
        .filter(|e| matches!(e.kind, CreditKind::StorageSet { .. }))
        .collect())
}

/// Stages `new` events after a ledger whose last position is `seq` and
/// balance `balance`; returns the events as recorded.
fn stage_after(
    batch: &mut Batch,
    box_id: &BoxId,
    mut seq: u32,
    mut balance: i64,
    new: &[NewCredit],
) -> Result<Vec<CreditEvent>, CreditError> {
    let mut recorded = Vec::new();
    for n in new {
        let amount = i64::try_from(n.amount).map_err(|_| CreditError::TooLarge(n.amount))?;
        let change = if n.kind.adds() { amount } else { -amount };
        let after = balance
            .checked_add(change)
            .ok_or(CreditError::TooLarge(n.amount))?;
        if after < 0 {
            return Err(CreditError::Insufficient {
                box_id: box_id.clone(),
                balance,
                amount: n.amount,
            });
        }
        seq += 1;
        let event = CreditEvent {
            at: n.at,
            change,
            after,
            kind: n.kind.clone(),
        };
        batch.expect_absent(CREDIT, key(box_id, seq));
        batch.put(CREDIT, key(box_id, seq), encode(&event));
        balance = after;
        recorded.push(event);
    }
    Ok(recorded)
}

/// Stages `new` events at the end of a box's ledger as it is now.
pub fn stage_append(
    store: &dyn Store,
    batch: &mut Batch,
    box_id: &BoxId,
    new: &[NewCredit],
) -> Result<Vec<CreditEvent>, CreditError> {
    let (seq, balance) = last(store, box_id)?.map_or((0, 0), |(s, e)| (s, e.after));
    stage_after(batch, box_id, seq, balance, new)
}

/// Stages the ledger of a box that has none yet (a box being created in
/// the same batch).
pub fn stage_new_ledger(
    batch: &mut Batch,
    box_id: &BoxId,
    new: &[NewCredit],
) -> Result<(), CreditError> {
    stage_after(batch, box_id, 0, 0, new).map(|_| ())
}

/// Records events for an existing box, durably; returns them as recorded.
pub fn append(
    store: &dyn Store,
    box_id: &BoxId,
    new: &[NewCredit],
) -> Result<Vec<CreditEvent>, CreditError> {
    if repo::get_box(store, box_id)?.is_none() {
        return Err(CreditError::NoSuchBox(box_id.clone()));
    }
    let mut batch = Batch::new();
    let recorded = stage_append(store, &mut batch, box_id, new)?;
    repo::commit(store, batch)?;
    Ok(recorded)
}

/// Stages the ledgers of new boxes (empty until now), e.g. a world
/// fixture's, whose amounts were checked when it was parsed.
pub fn stage_ledgers(batch: &mut Batch, credits: &[(BoxId, Vec<NewCredit>)]) {
    for (box_id, new) in credits {
        // Checked by `check_world_ledger` when the world was parsed.
        let _ = stage_after(batch, box_id, 0, 0, new);
    }
}

/// Checks that a fixture's events of one box keep the credit at or above
/// zero.
pub fn check_ledger(box_id: &BoxId, new: &[NewCredit]) -> Result<(), CreditError> {
    stage_after(&mut Batch::new(), box_id, 0, 0, new).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::world::{DEMO_WORLD, World};
    use crate::store::open_memory;

    #[test]
    fn a_ledger_keeps_its_balance_and_refuses_to_go_negative() {
        let store = open_memory();
        let world = World::parse(DEMO_WORLD, "demo", 0).unwrap();
        crate::domain::world::store::insert_world(store.as_ref(), &world).unwrap();
        let po = BoxId::parse("po4demo").unwrap();
        let start = balance(store.as_ref(), &po).unwrap();
        let charge = NewCredit {
            at: 100,
            amount: 5000,
            kind: CreditKind::Charged {
                trans_id: "t1".into(),
            },
        };
        let sent = NewCredit {
            at: 200,
            amount: 1500,
            kind: CreditKind::MessageSent {
                recipient: BoxId::parse("fo4demo").unwrap(),
                message_id: "42".into(),
            },
        };
        let rec = append(store.as_ref(), &po, &[charge, sent.clone()]).unwrap();
        assert_eq!(rec[0].after, start + 5000);
        assert_eq!(rec[1].change, -1500);
        assert_eq!(balance(store.as_ref(), &po).unwrap(), start + 3500);
        let all = events(store.as_ref(), &po, 0, i64::MAX).unwrap();
        assert_eq!(&all[all.len() - 2..], &rec[..]);
        assert_eq!(events(store.as_ref(), &po, 150, 250).unwrap().len(), 1);

        let too_much = NewCredit {
            amount: 1_000_000_000,
            ..sent
        };
        assert!(matches!(
            append(store.as_ref(), &po, &[too_much]),
            Err(CreditError::Insufficient { .. })
        ));
        assert_eq!(balance(store.as_ref(), &po).unwrap(), start + 3500);
        assert!(matches!(
            append(store.as_ref(), &BoxId::parse("nobox00").unwrap(), &[]),
            Err(CreditError::NoSuchBox(_))
        ));
    }

    #[test]
    fn world_fixtures_carry_ledgers_and_refuse_bad_ones_with_their_line() {
        let world = |events: &str| {
            format!("[[boxes]]\nid = \"abcdefg\"\ntype = \"PO\"\ncredit = 1000\n{events}")
        };
        let ok = world(
            "[[boxes.credit_events]]\ntype = \"storage\"\namount = 400\ncapacity = 10\n\
             from = \"2026-01-01\"\nto = \"2026-12-31\"\nat = \"2026-01-01T08:00:00Z\"\n",
        );
        let w = World::parse(&ok, "w", 50).unwrap();
        let (id, ledger) = &w.credits[0];
        assert_eq!(id.as_str(), "abcdefg");
        assert_eq!(ledger.len(), 2);
        assert_eq!(ledger[0].at, 50);
        let store = open_memory();
        crate::domain::world::store::insert_world(store.as_ref(), &w).unwrap();
        assert_eq!(balance(store.as_ref(), id).unwrap(), 600);
        assert_eq!(storage_orders(store.as_ref(), id).unwrap().len(), 1);

        for (events, expected) in [
            (
                "[[boxes.credit_events]]\ntype = \"discharge\"\namount = 5000\n",
                "below zero",
            ),
            (
                "[[boxes.credit_events]]\ntype = \"gift\"\n",
                "unknown credit event type",
            ),
            (
                "[[boxes.credit_events]]\ntype = \"storage\"\ncapacity = 1\nfrom = \"x\"\nto = \"2026-01-01\"\n",
                "no YYYY-MM-DD date",
            ),
            (
                "[[boxes.credit_events]]\ntype = \"message\"\n",
                "needs recipient",
            ),
        ] {
            let err = World::parse(&world(events), "w", 0)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("w: line 2: "), "{err}");
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn events_serialise_with_their_kind() {
        let e = CreditEvent {
            at: 1,
            change: -10,
            after: 90,
            kind: CreditKind::Restored {
                done_by: "Eva".into(),
            },
        };
        let json = String::from_utf8(encode(&e)).unwrap();
        assert!(json.contains("\"kind\":\"restored\""), "{json}");
        assert_eq!(
            decode(&BoxId::parse("abcdefg").unwrap(), json.as_bytes()).unwrap(),
            e
        );
        assert_eq!(e.kind.code(), 7);
    }
}
