//! The gateway's notion of "now". Every rule that depends on time (password
//! validity, lockouts, delivery by fiction) asks a [`Clock`], so tests and
//! test-mode operators can move time instead of waiting for it.

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

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
            + time::Duration::nanoseconds(self.offset_ns.load(Ordering::SeqCst))
    }
}

/// Unix seconds as an `xs:dateTime` as ISDS writes it, in Czech time with
/// milliseconds and offset, e.g. `2026-02-20T11:00:00.000+01:00` (see
/// [`super::czech_time`]).
pub fn xml_datetime(unix: i64) -> String {
    super::czech_time::format_unix(unix)
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
}
