//! The users and boxes of recent Basic logins that the store decided
//! without any failure on record, kept so that the next request of the
//! same login is decided on the request's own thread, without reading the
//! store and without a hand-over to the blocking pool (ISDS clients send
//! their credentials with every request). The users and boxes of OTP
//! sessions are kept the same way, by user: every request of a session
//! reads them.
//!
//! An entry holds what the store said, together with the write counts
//! ([`Store::writes_to`]) of every tree that decision read, taken before
//! reading them. It is used only while none of those counts has moved: a
//! changed password, a failed attempt, a block, a certificate or OTP
//! login set up, or a changed box all write one of these trees and send
//! the next request the full way. The password itself is checked on every
//! use against the verified-password memory ([`super::verified`]), and
//! the password's expiry against the clock of the request.
//!
//! The counts are read through handles taken from the store once
//! ([`Store::write_count`]), so checking that an entry is current costs a
//! few atomic loads, and the records are shared ([`Arc`]) with the
//! identities handed out, not copied per request.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use crate::domain::{DataBox, Privileges, User, UserId};
use crate::http::routes::LoginMethod;
use crate::store::{Store, WriteCount};

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

/// Handles on the write counts of [`TREES`].
struct Counters([WriteCount; TREES.len()]);

impl Counters {
    /// The handles of `store`; `None` when it does not count writes.
    fn of(store: &dyn Store) -> Option<Counters> {
        let mut counters = Vec::with_capacity(TREES.len());
        for tree in TREES {
            counters.push(store.write_count(tree)?);
        }
        counters.try_into().ok().map(Counters)
    }

    fn read(&self) -> Counts {
        Counts(std::array::from_fn(|i| self.0[i].get()))
    }
}

struct Entry {
    method: LoginMethod,
    counts: Counts,
    user: Arc<User>,
    databox: Arc<DataBox>,
}

/// The user (with its session's privileges) and box an OTP session's
/// request read.
struct SessionEntry {
    privileges: Privileges,
    counts: Counts,
    user: Arc<User>,
    databox: Arc<DataBox>,
}

/// Recent successful Basic logins, by login (one login method each: the
/// latest), and the users of OTP sessions, by user. Read by every request
/// of a recalled login and written only when the store decided one: a
/// read-write lock, so parallel requests do not queue on each other.
#[derive(Default)]
pub(super) struct RecalledLogins {
    entries: RwLock<HashMap<String, Entry>>,
    sessions: RwLock<HashMap<UserId, SessionEntry>>,
    /// Taken from the authenticator's store on first use (one store for
    /// the authenticator's life).
    counters: OnceLock<Counters>,
}

impl RecalledLogins {
    /// The write counts of [`TREES`] in `store` now; `None` when the store
    /// does not count writes. `store` is always the authenticator's.
    pub(super) fn counts(&self, store: &dyn Store) -> Option<Counts> {
        if let Some(counters) = self.counters.get() {
            return Some(counters.read());
        }
        // Not kept when the store gave none: a store that does not count
        // is asked again (cheaply) rather than trusted to start.
        let counters = Counters::of(store)?;
        Some(self.counters.get_or_init(|| counters).read())
    }

    /// The user and box the store gave for `login` under `method`, if
    /// nothing they were read from was written since (`counts` read now).
    pub(super) fn get(
        &self,
        counts: Counts,
        method: LoginMethod,
        login: &str,
    ) -> Option<(Arc<User>, Arc<DataBox>)> {
        let entries = self.entries.read().ok()?;
        let entry = entries.get(login)?;
        (entry.method == method && entry.counts == counts)
            .then(|| (Arc::clone(&entry.user), Arc::clone(&entry.databox)))
    }

    /// Remembers a login the store decided, with the counts read before
    /// the store was.
    pub(super) fn remember(
        &self,
        counts: Counts,
        method: LoginMethod,
        user: &Arc<User>,
        databox: &Arc<DataBox>,
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
                    user: Arc::clone(user),
                    databox: Arc::clone(databox),
                },
            );
        }
    }

    /// The user (its privileges those of the session) and box the store
    /// gave for a request of an OTP session of user `id`, if nothing they
    /// were read from was written since (`counts` read now).
    pub(super) fn session(
        &self,
        counts: Counts,
        id: &UserId,
        privileges: Privileges,
    ) -> Option<(Arc<User>, Arc<DataBox>)> {
        let sessions = self.sessions.read().ok()?;
        let entry = sessions.get(id)?;
        (entry.privileges == privileges && entry.counts == counts)
            .then(|| (Arc::clone(&entry.user), Arc::clone(&entry.databox)))
    }

    /// Remembers what the store gave for a request of an OTP session, with
    /// the counts read before the store was; `user` carries the session's
    /// privileges.
    pub(super) fn remember_session(
        &self,
        counts: Counts,
        user: &Arc<User>,
        databox: &Arc<DataBox>,
    ) {
        if let Ok(mut sessions) = self.sessions.write() {
            if sessions.len() >= CAPACITY {
                sessions.clear();
            }
            sessions.insert(
                user.id.clone(),
                SessionEntry {
                    privileges: user.privileges,
                    counts,
                    user: Arc::clone(user),
                    databox: Arc::clone(databox),
                },
            );
        }
    }
}
