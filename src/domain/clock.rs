//! The gateway's notion of "now". Every rule that depends on time (password
//! validity, lockouts, delivery by fiction) asks a [`Clock`], so tests and
//! test-mode operators can move time instead of waiting for it. Civil time
//! in the Czech Republic (how ISDS reads and writes times) is [`czech_time`].

pub mod czech_time;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC.
    fn now(&self) -> OffsetDateTime;

    /// Now as Unix seconds.
    fn unix(&self) -> i64 {
        self.now().unix_timestamp()
    }
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    /// As [`Clock::unix`] does it, without building a calendar date
    /// (asked several times per request).
    fn unix(&self) -> i64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            // Before 1970: seconds floored, as `unix_timestamp` does.
            Err(before) => {
                let before = before.duration();
                let secs = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
                if before.subsec_nanos() > 0 {
                    -secs - 1
                } else {
                    -secs
                }
            }
        }
    }
}

/// A clock that runs with real time from an offset that can be set or
/// advanced; used in test mode. Time never runs backwards unless `set`
/// says so explicitly.
#[derive(Debug, Default)]
pub struct TestClock {
    /// Offset from the wall clock in nanoseconds.
    offset_ns: AtomicI64,
}

impl TestClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Moves time forward (or back, for a negative duration).
    pub fn advance(&self, by: time::Duration) {
        let ns = i64::try_from(by.whole_nanoseconds()).unwrap_or(i64::MAX);
        self.offset_ns.fetch_add(ns, Ordering::SeqCst);
    }

    /// Sets the current time.
    pub fn set(&self, to: OffsetDateTime) {
        let diff = to - OffsetDateTime::now_utc();
        let ns = i64::try_from(diff.whole_nanoseconds()).unwrap_or(i64::MAX);
        self.offset_ns.store(ns, Ordering::SeqCst);
    }
}

impl TestClock {
    /// The offset from the wall clock, in nanoseconds.
    pub fn offset_ns(&self) -> i64 {
        self.offset_ns.load(Ordering::SeqCst)
    }

    /// Sets the offset from the wall clock, in nanoseconds (0: wall time).
    pub fn set_offset_ns(&self, ns: i64) {
        self.offset_ns.store(ns, Ordering::SeqCst);
    }
}

/// The tree and key where a test clock's offset survives a restart.
const META_TREE: &str = "gateway_meta";
const TEST_CLOCK_KEY: &[u8] = b"test_clock_offset_ns";

/// Sets `clock` at start: to `start` (RFC 3339) when given, else to the
/// offset the data directory's last run left (a test clock keeps running
/// with real time across a restart, as it does while serving), else to
/// wall time. The result is persisted.
pub fn restore_test_clock(
    store: &dyn crate::store::Store,
    clock: &TestClock,
    start: Option<&str>,
) -> Result<(), String> {
    match start {
        Some(text) => {
            let at = OffsetDateTime::parse(
                text.trim(),
                &time::format_description::well_known::Rfc3339,
            )
            .map_err(|e| {
                format!("--clock-start {text:?} is no RFC 3339 date-time (e.g. 2026-03-01T08:00:00+01:00): {e}")
            })?;
            clock.set(at);
        }
        None => {
            let stored = store
                .tree(META_TREE)
                .and_then(|t| t.get(TEST_CLOCK_KEY))
                .map_err(|e| e.to_string())?;
            if let Some(ns) = stored
                .as_deref()
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(i64::from_be_bytes)
            {
                clock.set_offset_ns(ns);
            }
        }
    }
    persist_test_clock(store, clock)
}

/// Now on the test clock a data directory's last test-mode run left, if
/// any (commands that work on a stopped gateway's store read relative
/// fixture times against it).
pub fn stored_test_clock_now(store: &dyn crate::store::Store) -> Option<i64> {
    let ns = store
        .tree(META_TREE)
        .and_then(|t| t.get(TEST_CLOCK_KEY))
        .ok()
        .flatten()
        .as_deref()
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(i64::from_be_bytes)?;
    let clock = TestClock::default();
    clock.set_offset_ns(ns);
    Some(clock.unix())
}

/// Records `clock`'s offset durably, so a restart resumes it.
pub fn persist_test_clock(
    store: &dyn crate::store::Store,
    clock: &TestClock,
) -> Result<(), String> {
    let mut batch = crate::store::Batch::new();
    batch.put(
        META_TREE,
        TEST_CLOCK_KEY,
        clock.offset_ns().to_be_bytes().to_vec(),
    );
    store.apply_durable(batch).map_err(|e| e.to_string())
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
            + time::Duration::nanoseconds(self.offset_ns.load(Ordering::SeqCst))
    }
}

/// Unix seconds as an `xs:dateTime` as ISDS writes it, in Czech time with
/// milliseconds and offset, e.g. `2026-02-20T11:00:00.000+01:00` (see
/// [`czech_time`]).
pub fn xml_datetime(unix: i64) -> String {
    crate::domain::clock::czech_time::format_unix(unix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clock_advances_and_sets() {
        let c = TestClock::new();
        let before = c.unix();
        c.advance(time::Duration::days(10));
        assert!(c.unix() - before >= 10 * 86_400);
        let target = time::macros::datetime!(2030-01-01 00:00 UTC);
        c.set(target);
        assert!((c.now() - target).whole_seconds().abs() < 2);
    }

    #[test]
    fn system_clock_unix_is_the_unix_time_of_now() {
        let c = SystemClock;
        let before = c.now().unix_timestamp();
        let unix = c.unix();
        let after = c.now().unix_timestamp();
        assert!(before <= unix && unix <= after, "{before} {unix} {after}");
    }
}
