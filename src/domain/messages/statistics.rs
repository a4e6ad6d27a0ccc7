//! The statistics ISDS publishes to every user (`isds_stat`): the number of
//! delivered data messages (statistics manual `WS_ISDS_statistiky`,
//! chapter 1.2, NumOfMessages).
//!
//! The manual's rules: every message in a state past 3 counts (delivered,
//! accepted, read, undeliverable, deleted, in the vault); system messages
//! do not; a message to several recipients counts once per recipient
//! (each is its own message here anyway); commercial messages count. The
//! value is recomputed once per period (20 minutes in ISDS), not per call,
//! and answered with the moment it was computed.

use std::sync::Mutex;

use crate::domain::boxes::repo::RepoError;
use crate::domain::messages;
use crate::domain::messages::message::MessageState;
use crate::store::Store;

/// How often ISDS recomputes the count (chapter 1.2: "dnes nastavena na
/// 20 minut").
pub const NUM_OF_MESSAGES_PERIOD_SECS: i64 = 20 * 60;

/// One computation of the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveredCount {
    /// Delivered data messages, system messages aside.
    pub messages: u64,
    /// When it was computed, as Unix seconds on the gateway's clock.
    pub computed_at: i64,
}

/// The last computation, kept for its period.
#[derive(Debug, Default)]
pub struct Statistics {
    last: Mutex<Option<DeliveredCount>>,
}

impl Statistics {
    /// The count as of its last computation, recomputed first when the
    /// period has passed since then (or the clock went back before it).
    /// Blocks: a recomputation reads every message.
    pub fn delivered_messages(
        &self,
        store: &dyn Store,
        now: i64,
    ) -> Result<DeliveredCount, RepoError> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = *last
            && now >= known.computed_at
            && now - known.computed_at < NUM_OF_MESSAGES_PERIOD_SECS
        {
            return Ok(known);
        }
        let fresh = DeliveredCount {
            messages: count_delivered(store)?,
            computed_at: now,
        };
        *last = Some(fresh);
        Ok(fresh)
    }
}

/// Messages in a state past 3 whose sender is not the system box.
fn count_delivered(store: &dyn Store) -> Result<u64, RepoError> {
    let mut n = 0u64;
    messages::repo::for_each_message(store, |m| {
        let delivered = m.state.code() > MessageState::Infected.code();
        if delivered && m.sender.sender_type_code() != 0 {
            n += 1;
        }
    })?;
    Ok(n)
}
