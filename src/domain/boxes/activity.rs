//! The history of a box's state, for GetDataBoxActivityStatus.
//!
//! Tree `box_states`: `<box ID>/<Unix seconds, 16 hex digits>` → the state
//! (one byte) the box entered at that time. Box administration records
//! every state change in the batch of the change itself
//! ([`stage_change`]), and a box's creation ([`stage_created`]). A box that
//! came from a fixture has no entry until its first change; the first
//! change then also records the state it left, as held since the
//! beginning of time.

use crate::domain::boxes::databox::{BoxId, BoxState};
use crate::domain::boxes::repo::RepoError;
use crate::store::{Batch, KeyRange, Order, Store};

/// The history tree.
pub const BOX_STATES: &str = "box_states";

fn key(box_id: &BoxId, at: i64) -> String {
    // Times before 1970 do not occur; clamp so the key stays ordered.
    format!("{box_id}/{:016x}", at.max(0))
}

/// Stages the creation of a box in `state` at `at`.
pub fn stage_created(batch: &mut Batch, box_id: &BoxId, at: i64, state: BoxState) {
    batch.put(BOX_STATES, key(box_id, at), vec![u8::from(state)]);
}

/// Stages a change of a box's state from `from` to `to` at `at`.
pub fn stage_change(
    store: &dyn Store,
    batch: &mut Batch,
    box_id: &BoxId,
    at: i64,
    from: BoxState,
    to: BoxState,
) -> Result<(), RepoError> {
    if from == to {
        return Ok(());
    }
    if history(store, box_id)?.is_empty() {
        batch.put(BOX_STATES, key(box_id, 0), vec![u8::from(from)]);
    }
    batch.put(BOX_STATES, key(box_id, at), vec![u8::from(to)]);
    Ok(())
}

/// `(since, state)` entries of a box, in time order.
pub fn history(store: &dyn Store, box_id: &BoxId) -> Result<Vec<(i64, BoxState)>, RepoError> {
    let prefix = format!("{box_id}/");
    let mut out = Vec::new();
    for entry in store
        .tree(BOX_STATES)?
        .iter(KeyRange::prefix(prefix.as_bytes()), Order::Ascending)
    {
        let (k, v) = entry?;
        let at = std::str::from_utf8(&k[prefix.len()..])
            .ok()
            .and_then(|s| i64::from_str_radix(s, 16).ok());
        let state = v.first().and_then(|b| BoxState::try_from(*b).ok());
        if let (Some(at), Some(state)) = (at, state) {
            out.push((at, state));
        }
    }
    Ok(out)
}

/// A stretch of time in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: i64,
    pub to: i64,
    pub state: BoxState,
}

/// The periods of a box within `[from, to]`, given its history and its
/// current state. Neighbouring periods that `same` deems equal merge.
pub fn periods(
    history: &[(i64, BoxState)],
    current: BoxState,
    from: i64,
    to: i64,
    same: impl Fn(BoxState, BoxState) -> bool,
) -> Vec<Period> {
    let mut spans: Vec<Period> = Vec::new();
    if history.is_empty() {
        spans.push(Period {
            from: i64::MIN,
            to: i64::MAX,
            state: current,
        });
    }
    for (i, (since, state)) in history.iter().enumerate() {
        let until = history.get(i + 1).map_or(i64::MAX, |(next, _)| *next);
        spans.push(Period {
            from: *since,
            to: until,
            state: *state,
        });
    }
    let mut out: Vec<Period> = Vec::new();
    for s in spans {
        // Spans are half-open, `[from, to)`; the query is closed.
        let (a, b) = (s.from.max(from), s.to.min(to));
        let instant_inside = a == b && s.from <= a && a < s.to;
        if a > b || (a == b && !instant_inside) {
            continue;
        }
        match out.last_mut() {
            Some(prev) if same(prev.state, s.state) => prev.to = b,
            _ => out.push(Period {
                from: a,
                to: b,
                state: s.state,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::open_memory;

    #[test]
    fn history_records_changes_and_the_state_before_the_first() {
        let store = open_memory();
        let id = BoxId::parse("abcdefg").unwrap();
        let mut batch = Batch::new();
        stage_change(
            store.as_ref(),
            &mut batch,
            &id,
            1000,
            BoxState::Accessible,
            BoxState::TemporarilyInaccessible,
        )
        .unwrap();
        store.apply(batch).unwrap();
        let mut batch = Batch::new();
        stage_change(
            store.as_ref(),
            &mut batch,
            &id,
            2000,
            BoxState::TemporarilyInaccessible,
            BoxState::Accessible,
        )
        .unwrap();
        store.apply(batch).unwrap();
        let h = history(store.as_ref(), &id).unwrap();
        assert_eq!(
            h,
            vec![
                (0, BoxState::Accessible),
                (1000, BoxState::TemporarilyInaccessible),
                (2000, BoxState::Accessible)
            ]
        );
        let p = periods(&h, BoxState::Accessible, 500, 3000, |a, b| a == b);
        assert_eq!(
            p,
            vec![
                Period {
                    from: 500,
                    to: 1000,
                    state: BoxState::Accessible
                },
                Period {
                    from: 1000,
                    to: 2000,
                    state: BoxState::TemporarilyInaccessible
                },
                Period {
                    from: 2000,
                    to: 3000,
                    state: BoxState::Accessible
                },
            ]
        );
        // Without a history the current state held all along.
        let p = periods(&[], BoxState::Removed, 10, 20, |a, b| a == b);
        assert_eq!(
            p,
            vec![Period {
                from: 10,
                to: 20,
                state: BoxState::Removed
            }]
        );
        // A box created later has no period before its creation.
        let p = periods(
            &[(50, BoxState::Accessible)],
            BoxState::Accessible,
            10,
            20,
            |a, b| a == b,
        );
        assert!(p.is_empty());
    }
}
