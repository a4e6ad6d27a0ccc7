//! Per-user request limits, answered as ISDS answers them: status 3008 for
//! too many parallel requests, 3009 for too many requests in a minute.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::status::IsdsCode;

/// Length of the rate window.
const WINDOW: Duration = Duration::from_secs(60);

/// In-flight counts and per-minute counts per user.
pub(crate) struct UserLimits {
    max_parallel: usize,
    per_minute: u32,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    in_flight: HashMap<String, usize>,
    /// Requests counted in the current window, and when it started.
    windows: HashMap<String, (Instant, u32)>,
}

/// Holds one of the user's parallel-request slots until dropped (none
/// when parallel requests are not limited).
pub(crate) struct Slot {
    held: Option<(String, Arc<Mutex<State>>)>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some((user, state)) = &self.held else {
            return;
        };
        if let Ok(mut s) = state.lock()
            && let Some(n) = s.in_flight.get_mut(user)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.in_flight.remove(user);
            }
        }
    }
}

impl UserLimits {
    /// `0` disables a limit.
    pub(crate) fn new(max_parallel: usize, per_minute: u32) -> Self {
        Self {
            max_parallel,
            per_minute,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    /// Whether any limit is set (else [`UserLimits::enter`] needs no key).
    pub(crate) fn enabled(&self) -> bool {
        self.max_parallel > 0 || self.per_minute > 0
    }

    /// Counts one request of `user`. A refused request takes no slot, but
    /// does count towards the rate (ISDS counts attempts).
    pub(crate) fn enter(&self, user: &str) -> Result<Slot, IsdsCode> {
        if !self.enabled() {
            return Ok(Slot { held: None });
        }
        let Ok(mut s) = self.state.lock() else {
            return Err(IsdsCode::InternalError);
        };
        if self.per_minute > 0 {
            let now = Instant::now();
            let window = s.windows.entry(user.to_owned()).or_insert((now, 0));
            if now.duration_since(window.0) >= WINDOW {
                *window = (now, 0);
            }
            window.1 = window.1.saturating_add(1);
            if window.1 > self.per_minute {
                return Err(IsdsCode::TooManyRequests);
            }
            // Forget idle users now and then so the map stays bounded.
            if s.windows.len() > 100_000 {
                s.windows.retain(|_, w| now.duration_since(w.0) < WINDOW);
            }
        }
        if self.max_parallel == 0 {
            return Ok(Slot { held: None });
        }
        let n = s.in_flight.entry(user.to_owned()).or_insert(0);
        if *n >= self.max_parallel {
            return Err(IsdsCode::TooManyParallelRequests);
        }
        *n += 1;
        Ok(Slot {
            held: Some((user.to_owned(), self.state.clone())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_slots_are_returned_and_rates_counted() {
        let l = UserLimits::new(2, 3);
        let a = l.enter("u").unwrap();
        let _b = l.enter("u").unwrap();
        assert_eq!(l.enter("u").err(), Some(IsdsCode::TooManyParallelRequests));
        assert!(l.enter("other").is_ok());
        drop(a);
        // Four attempts by "u" so far: over the rate of three.
        assert_eq!(l.enter("u").err(), Some(IsdsCode::TooManyRequests));
        let unlimited = UserLimits::new(0, 0);
        let slots: Vec<_> = (0..100).map(|_| unlimited.enter("u").unwrap()).collect();
        assert_eq!(slots.len(), 100);
    }
}
