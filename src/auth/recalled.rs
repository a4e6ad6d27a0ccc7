//! The users and boxes of recent Basic logins that the store decided
//! without any failure on record, kept so that the next request of the
//! same login is decided on the request's own thread, without reading the
//! store and without a hand-over to the blocking pool (ISDS clients send
//! their credentials with every request).
//!
//! An entry holds what the store said, together with the write counts
//! ([`Store::writes_to`]) of every tree that decision read, taken before
//! reading them. It is used only while none of those counts has moved: a
//! changed password, a failed attempt, a block, a certificate or OTP
//! login set up, or a changed box all write one of these trees and send
//! the next request the full way. The password itself is checked on every
//! use against the verified-password memory ([`super::verified`]), and
//! the password's expiry against the clock of the request.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::domain::{DataBox, User};
use crate::http::routes::LoginMethod;
use crate::store::Store;

/// Most entries kept; past it the memory starts afresh (bounded, simple).
const CAPACITY: usize = 10_000;

/// The trees a recalled login's decision reads: the login's user, its
/// failed attempts, its certificates and OTP secret, and its box.
const TREES: [&str; 6] = [
    crate::domain::boxes::repo::LOGINS,
    crate::domain::boxes::repo::USERS,
    super::basic::LOGIN_FAILURES,
    crate::domain::boxes::certificates::USER_CERTIFICATES,
    crate::domain::boxes::otp::OTP_SECRETS,
    crate::domain::boxes::repo::BOXES,
];

/// The write counts of [`TREES`] at one moment.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Counts([u64; TREES.len()]);

impl Counts {
    /// The counts now; `None` when the store does not count writes.
    pub(super) fn read(store: &dyn Store) -> Option<Counts> {
        let mut counts = [0; TREES.len()];
        for (count, tree) in counts.iter_mut().zip(TREES) {
            *count = store.writes_to(tree)?;
        }
        Some(Counts(counts))
    }
}

struct Entry {
    method: LoginMethod,
    counts: Counts,
    user: User,
    databox: DataBox,
}

/// Recent successful Basic logins, by login (one login method each: the
/// latest). Read by every request of a recalled login and written only
/// when the store decided one: a read-write lock, so parallel requests
/// do not queue on each other.
#[derive(Default)]
pub(super) struct RecalledLogins {
    entries: RwLock<HashMap<String, Entry>>,
}

impl RecalledLogins {
    /// The user and box the store gave for `login` under `method`, if
    /// nothing they were read from was written since (`counts` read now).
    pub(super) fn get(
        &self,
        counts: Counts,
        method: LoginMethod,
        login: &str,
    ) -> Option<(User, DataBox)> {
        let entries = self.entries.read().ok()?;
        let entry = entries.get(login)?;
        (entry.method == method && entry.counts == counts)
            .then(|| (entry.user.clone(), entry.databox.clone()))
    }

    /// Remembers a login the store decided, with the counts read before
    /// the store was.
    pub(super) fn remember(
        &self,
        counts: Counts,
        method: LoginMethod,
        user: &User,
        databox: &DataBox,
    ) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(
                user.login.clone(),
                Entry {
                    method,
                    counts,
                    user: user.clone(),
                    databox: databox.clone(),
                },
            );
        }
    }
}
