//! What makes the password lockout hold under concurrency and reveal
//! nothing: a per-login gate that serialises "read the failure count,
//! check the password, record the outcome" (so a burst of parallel guesses
//! cannot all pass the count before any failure is written), and failure
//! counts kept in memory for logins that are not stored users (unknown
//! logins and the gateway operator), so an unknown login is "blocked" after
//! as many failures as a real one and the two cannot be told apart.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use tokio::sync::{Mutex as AsyncMutex, MutexGuard as AsyncGuard};

use super::AuthPolicy;

/// Gates per login, picked by hash: bounded memory whatever the number of
/// logins tried; two logins sharing a gate only wait for each other.
const GATES: usize = 256;

/// Most logins whose failures are remembered in memory; beyond it entries
/// no longer blocked are forgotten first.
const MAX_REMEMBERED: usize = 100_000;

/// Failed attempts in a row and the end of a block.
#[derive(Debug, Default, Clone, Copy)]
struct Failures {
    count: u32,
    blocked_until: i64,
}

/// Serialises the attempts per login and counts failures of logins that
/// have no stored failure record.
pub(super) struct Lockout {
    gates: Vec<AsyncMutex<()>>,
    unstored: Mutex<HashMap<String, Failures>>,
}

/// Held while one attempt of a login is decided.
pub(super) type AttemptGuard<'a> = AsyncGuard<'a, ()>;

impl Default for Lockout {
    fn default() -> Self {
        Self {
            gates: (0..GATES).map(|_| AsyncMutex::new(())).collect(),
            unstored: Mutex::new(HashMap::new()),
        }
    }
}

impl Lockout {
    /// Waits for the gate of `login`; the attempt is decided while it is
    /// held.
    pub(super) async fn enter(&self, login: &str) -> AttemptGuard<'_> {
        let digest = Sha256::digest(login.as_bytes());
        let index = usize::from(u16::from_be_bytes([digest[0], digest[1]])) % GATES;
        self.gates[index].lock().await
    }

    /// Whether a login that is no stored user is blocked at `now`.
    pub(super) fn unstored_blocked(&self, login: &str, now: i64) -> bool {
        self.map().get(login).is_some_and(|f| f.blocked_until > now)
    }

    /// Counts a failure of a login that is no stored user; `true` when it
    /// is now blocked.
    pub(super) fn unstored_failure(&self, login: &str, policy: &AuthPolicy, now: i64) -> bool {
        let mut map = self.map();
        if map.len() >= MAX_REMEMBERED && !map.contains_key(login) {
            map.retain(|_, f| f.blocked_until > now);
            if map.len() >= MAX_REMEMBERED {
                map.clear();
            }
        }
        let f = map.entry(login.to_owned()).or_default();
        f.count += 1;
        if f.count >= policy.max_failed_logins {
            f.blocked_until = now + policy.block_seconds;
            f.count = 0;
        }
        f.blocked_until > now
    }

    /// Forgets the failures of a login that is no stored user.
    pub(super) fn unstored_success(&self, login: &str) {
        self.map().remove(login);
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.unstored
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unstored_logins_are_blocked_after_the_same_number_of_failures() {
        let l = Lockout::default();
        let policy = AuthPolicy::default();
        for _ in 0..4 {
            assert!(!l.unstored_failure("nobody", &policy, 100));
        }
        assert!(l.unstored_failure("nobody", &policy, 100));
        assert!(l.unstored_blocked("nobody", 100));
        assert!(!l.unstored_blocked("nobody", 100 + policy.block_seconds));
        assert!(!l.unstored_blocked("somebody", 100));
        l.unstored_success("nobody");
        assert!(!l.unstored_blocked("nobody", 100));
    }
}
