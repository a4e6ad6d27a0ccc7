//! A short-lived memory of passwords that verified, so a client that sends
//! Basic credentials with every request (as ISDS clients do) pays for one
//! Argon2 verification per few minutes instead of one per request.
//!
//! Nothing reversible is kept: an entry is keyed by SHA-256 over a secret
//! drawn at start-up, the login and the password, and remembers the stored
//! hash the password matched. A changed password (new stored hash) misses;
//! lockout and expiry are still checked on every request by the caller.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::domain::User;
use crate::domain::boxes::credentials::PasswordHash;

/// How long a verification is trusted.
const TTL: Duration = Duration::from_secs(300);
/// Most entries kept; past it the memory starts afresh (bounded, simple).
const CAPACITY: usize = 10_000;

struct Entry {
    matched: PasswordHash,
    at: Instant,
}

/// Remembered successful password verifications.
pub(super) struct VerifiedPasswords {
    secret: [u8; 32],
    /// Read by every request, written after an Argon2 verification.
    entries: RwLock<HashMap<[u8; 32], Entry>>,
}

impl Default for VerifiedPasswords {
    fn default() -> Self {
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        Self {
            secret,
            entries: RwLock::new(HashMap::new()),
        }
    }
}

impl VerifiedPasswords {
    fn key(&self, login: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update((login.len() as u64).to_be_bytes());
        h.update(login.as_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// Whether `password` verified for `user`, with the user's current
    /// stored hash, within the last few minutes.
    pub(super) fn recalls(&self, user: &User, password: &str) -> bool {
        let key = self.key(&user.login, password);
        let Ok(entries) = self.entries.read() else {
            return false;
        };
        entries
            .get(&key)
            .is_some_and(|e| e.matched == user.password && e.at.elapsed() < TTL)
    }

    /// Remembers that `password` verified against `user`'s stored hash.
    pub(super) fn remember(&self, user: &User, password: &str) {
        let key = self.key(&user.login, password);
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(
                key,
                Entry {
                    matched: user.password.clone(),
                    at: Instant::now(),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BoxId, PersonName, Privileges, UserId, UserType};

    fn user(hash: PasswordHash) -> User {
        User {
            id: UserId::parse("abc123").unwrap(),
            box_id: BoxId::parse("abcdefg").unwrap(),
            login: "alice".into(),
            user_type: UserType::PrimaryUser,
            privileges: Privileges::ALL,
            name: PersonName::default(),
            password: hash,
            password_set_at: 0,
            must_change_password: false,
            personal: Default::default(),
        }
    }

    #[test]
    fn recalls_only_the_same_password_against_the_same_stored_hash() {
        let v = VerifiedPasswords::default();
        let alice = user(PasswordHash::new("Heslo-1234A").unwrap());
        assert!(!v.recalls(&alice, "Heslo-1234A"));
        v.remember(&alice, "Heslo-1234A");
        assert!(v.recalls(&alice, "Heslo-1234A"));
        assert!(!v.recalls(&alice, "Heslo-1234B"));
        // After a password change the stored hash differs: forgotten.
        let changed = user(PasswordHash::new("Heslo-1234A").unwrap());
        assert!(!v.recalls(&changed, "Heslo-1234A"));
        // Another process (another secret) knows nothing.
        assert!(!VerifiedPasswords::default().recalls(&alice, "Heslo-1234A"));
    }
}
