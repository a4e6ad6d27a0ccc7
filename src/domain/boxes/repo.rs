//! Typed access to boxes and users over the byte-oriented [`Store`].
//!
//! Layout (tree: key → value):
//! - `boxes`: box ID → `DataBox` (JSON)
//! - `users`: user ID → `User` (JSON)
//! - `logins`: login name → user ID (unique index)
//! - `box_users`: `<box ID>/<user ID>` → empty (users of a box, in ID order)
//!
//! Every write of a box also stages the box search index
//! ([`super::search_index`]) in the same batch.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::boxes::databox::{BoxId, DataBox};
use crate::domain::boxes::user::{User, UserId};
use crate::store::{Batch, KeyRange, Order, Store, StoreError};

pub(crate) const BOXES: &str = "boxes";
pub(crate) const USERS: &str = "users";
pub(crate) const LOGINS: &str = "logins";
const BOX_USERS: &str = "box_users";

/// Reading or writing domain records failed.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored {what} is unreadable: {source}")]
    Corrupt {
        what: String,
        source: serde_json::Error,
    },
    #[error("{0} already exists")]
    Exists(String),
    /// A staged batch found the store changed since it was read (or a fresh
    /// ID taken); nothing was written. Re-read and retry.
    #[error("concurrent change: {0}")]
    Conflict(String),
}

impl RepoError {
    /// Whether the store failed because the disk is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, RepoError::Store(e) if e.is_disk_full())
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs to JSON cannot fail: no maps with
    // non-string keys, no custom serialisers that error.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    what: impl FnOnce() -> String,
) -> Result<T, RepoError> {
    serde_json::from_slice(bytes).map_err(|source| RepoError::Corrupt {
        what: what(),
        source,
    })
}

/// Whether the store holds any box at all.
pub fn has_any_box(store: &dyn Store) -> Result<bool, RepoError> {
    Ok(store
        .tree(BOXES)?
        .first_in(KeyRange::all(), Order::Ascending)?
        .is_some())
}

pub fn get_box(store: &dyn Store, id: &BoxId) -> Result<Option<DataBox>, RepoError> {
    match store.tree(BOXES)?.get(id.as_str().as_bytes())? {
        Some(bytes) => Ok(Some(decode(&bytes, || format!("box {id}"))?)),
        None => Ok(None),
    }
}

pub fn get_user(store: &dyn Store, id: &UserId) -> Result<Option<User>, RepoError> {
    match store.tree(USERS)?.get(id.as_str().as_bytes())? {
        Some(bytes) => Ok(Some(decode(&bytes, || format!("user {id}"))?)),
        None => Ok(None),
    }
}

pub fn user_by_login(store: &dyn Store, login: &str) -> Result<Option<User>, RepoError> {
    let Some(id) = store.tree(LOGINS)?.get(login.as_bytes())? else {
        return Ok(None);
    };
    let id = String::from_utf8(id)
        .ok()
        .and_then(|s| UserId::parse(&s).ok());
    match id {
        Some(id) => get_user(store, &id),
        None => Ok(None),
    }
}

/// The users of a box, in user ID order.
pub fn users_of_box(store: &dyn Store, box_id: &BoxId) -> Result<Vec<User>, RepoError> {
    let prefix = format!("{box_id}/");
    let mut users = Vec::new();
    for entry in store
        .tree(BOX_USERS)?
        .iter(KeyRange::prefix(prefix.as_bytes()), Order::Ascending)
    {
        let (key, _) = entry?;
        let id = std::str::from_utf8(&key[prefix.len()..])
            .ok()
            .and_then(|s| UserId::parse(s).ok());
        if let Some(user) = id.map(|id| get_user(store, &id)).transpose()?.flatten() {
            users.push(user);
        }
    }
    Ok(users)
}

/// A record together with the exact bytes it was read from, so a later
/// write can require that nobody changed it in between.
#[derive(Debug, Clone)]
pub struct Stored<T> {
    pub value: T,
    raw: Vec<u8>,
}

pub fn get_box_stored(store: &dyn Store, id: &BoxId) -> Result<Option<Stored<DataBox>>, RepoError> {
    match store.tree(BOXES)?.get(id.as_str().as_bytes())? {
        Some(raw) => Ok(Some(Stored {
            value: decode(&raw, || format!("box {id}"))?,
            raw,
        })),
        None => Ok(None),
    }
}

pub fn get_user_stored(store: &dyn Store, id: &UserId) -> Result<Option<Stored<User>>, RepoError> {
    match store.tree(USERS)?.get(id.as_str().as_bytes())? {
        Some(raw) => Ok(Some(Stored {
            value: decode(&raw, || format!("user {id}"))?,
            raw,
        })),
        None => Ok(None),
    }
}

/// Every box, in box ID order.
pub fn all_boxes(store: &dyn Store) -> Result<Vec<DataBox>, RepoError> {
    let mut boxes = Vec::new();
    for entry in store.tree(BOXES)?.iter(KeyRange::all(), Order::Ascending) {
        let (key, value) = entry?;
        boxes.push(decode(&value, || {
            format!("box {}", String::from_utf8_lossy(&key))
        })?);
    }
    Ok(boxes)
}

/// Calls `f` with every box, in box ID order, without holding them all
/// in memory.
pub fn for_each_box(
    store: &dyn Store,
    mut f: impl FnMut(&DataBox) -> Result<(), RepoError>,
) -> Result<(), RepoError> {
    for entry in store.tree(BOXES)?.iter(KeyRange::all(), Order::Ascending) {
        let (key, value) = entry?;
        let b: DataBox = decode(&value, || format!("box {}", String::from_utf8_lossy(&key)))?;
        f(&b)?;
    }
    Ok(())
}

/// Up to `limit` boxes after box ID `after` (exclusive), in box ID order,
/// that `keep` accepts: a page of the register for the inspector.
pub fn boxes_page(
    store: &dyn Store,
    after: Option<&str>,
    limit: usize,
    mut keep: impl FnMut(&DataBox) -> bool,
) -> Result<Vec<DataBox>, RepoError> {
    let mut range = KeyRange::all();
    if let Some(after) = after {
        range = range.after(after.as_bytes());
    }
    let mut page = Vec::new();
    for entry in store.tree(BOXES)?.iter(range, Order::Ascending) {
        if page.len() >= limit {
            break;
        }
        let (key, value) = entry?;
        let b: DataBox = decode(&value, || format!("box {}", String::from_utf8_lossy(&key)))?;
        if keep(&b) {
            page.push(b);
        }
    }
    Ok(page)
}

/// How many boxes and users the register holds (counted, not decoded).
pub fn register_counts(store: &dyn Store) -> Result<(u64, u64), RepoError> {
    let count = |tree: &str| -> Result<u64, RepoError> {
        let mut n = 0;
        for entry in store.tree(tree)?.iter(KeyRange::all(), Order::Ascending) {
            entry?;
            n += 1;
        }
        Ok(n)
    };
    Ok((count(BOXES)?, count(USERS)?))
}

/// Every user of every box, in user ID order.
pub fn all_users(store: &dyn Store) -> Result<Vec<User>, RepoError> {
    let mut users = Vec::new();
    for entry in store.tree(USERS)?.iter(KeyRange::all(), Order::Ascending) {
        let (key, value) = entry?;
        users.push(decode(&value, || {
            format!("user {}", String::from_utf8_lossy(&key))
        })?);
    }
    Ok(users)
}

/// Whether `login` names a user.
pub fn login_exists(store: &dyn Store, login: &str) -> Result<bool, RepoError> {
    Ok(store.tree(LOGINS)?.contains_key(login.as_bytes())?)
}

// Staging: each function adds to a batch the writes of one change, with the
// preconditions that keep it consistent (fresh IDs and logins absent,
// updated records unchanged since read). `commit` applies the batch durably.

/// A new box; its ID must be unused.
pub fn stage_insert_box(batch: &mut Batch, b: &DataBox) {
    batch.expect_absent(BOXES, b.id.as_str());
    batch.put(BOXES, b.id.as_str(), encode(b));
    crate::domain::boxes::search_index::stage_insert(batch, b);
}

/// A new box without the precondition that its ID is unused, for bulk
/// loads that checked the IDs themselves. Its search-index entry bypasses
/// the index's log: the loader calls [`crate::domain::boxes::search_index::forget`]
/// before and after its writes.
pub fn stage_insert_box_unchecked(batch: &mut Batch, b: &DataBox) {
    batch.put(BOXES, b.id.as_str(), encode(b));
    crate::domain::boxes::search_index::stage_bulk_insert(batch, b);
}

/// A changed box (same ID), which must still be as read.
pub fn stage_update_box(batch: &mut Batch, old: &Stored<DataBox>, new: &DataBox) {
    batch.expect(BOXES, new.id.as_str(), Some(old.raw.clone()));
    batch.put(BOXES, new.id.as_str(), encode(new));
    crate::domain::boxes::search_index::stage_update(batch, &old.value, new);
}

/// A new user with its login and box index entries; its ID and login must
/// be unused.
pub fn stage_insert_user(batch: &mut Batch, u: &User) {
    batch.expect_absent(USERS, u.id.as_str());
    batch.expect_absent(LOGINS, u.login.as_str());
    batch.put(USERS, u.id.as_str(), encode(u));
    batch.put(LOGINS, u.login.as_str(), u.id.as_str());
    batch.put(BOX_USERS, box_user_key(&u.box_id, &u.id), Vec::new());
}

/// A new user without the preconditions that its ID and login are unused,
/// for bulk loads that checked them themselves.
pub fn stage_insert_user_unchecked(batch: &mut Batch, u: &User) {
    stage_user_record_unchecked(batch, u);
    stage_box_user(batch, u);
}

/// The user record and login entry of [`stage_insert_user_unchecked`]
/// alone: a bulk load writes them in user-ID order, apart from the box
/// index entry it writes in box order ([`stage_box_user`]).
pub fn stage_user_record_unchecked(batch: &mut Batch, u: &User) {
    batch.put(USERS, u.id.as_str(), encode(u));
    batch.put(LOGINS, u.login.as_str(), u.id.as_str());
}

/// The box's index entry of a new user (see
/// [`stage_user_record_unchecked`]).
pub fn stage_box_user(batch: &mut Batch, u: &User) {
    batch.put(BOX_USERS, box_user_key(&u.box_id, &u.id), Vec::new());
}

/// A changed user (same ID and box), which must still be as read. A new
/// login moves the login index entry.
pub fn stage_update_user(batch: &mut Batch, old: &Stored<User>, new: &User) {
    batch.expect(USERS, new.id.as_str(), Some(old.raw.clone()));
    if old.value.login != new.login {
        batch.delete(LOGINS, old.value.login.as_str());
        batch.expect_absent(LOGINS, new.login.as_str());
        batch.put(LOGINS, new.login.as_str(), new.id.as_str());
    }
    batch.put(USERS, new.id.as_str(), encode(new));
}

/// Removes a user, its login and its box index entry; the user must still
/// be as read.
pub fn stage_delete_user(batch: &mut Batch, old: &Stored<User>) {
    let u = &old.value;
    batch.expect(USERS, u.id.as_str(), Some(old.raw.clone()));
    batch.delete(USERS, u.id.as_str());
    batch.delete(LOGINS, u.login.as_str());
    batch.delete(BOX_USERS, box_user_key(&u.box_id, &u.id));
}

/// Applies a staged batch atomically and durably. A failed precondition is
/// [`RepoError::Conflict`] and writes nothing.
pub fn commit(store: &dyn Store, batch: Batch) -> Result<(), RepoError> {
    store.apply_durable(batch).map_err(|e| match e {
        StoreError::Conflict { .. } => RepoError::Conflict(e.to_string()),
        other => RepoError::Store(other),
    })
}

fn box_user_key(box_id: &BoxId, user_id: &UserId) -> String {
    format!("{box_id}/{user_id}")
}

/// Replaces a user record (same ID, same login).
pub fn update_user(store: &dyn Store, user: &User) -> Result<(), RepoError> {
    let mut batch = Batch::new();
    batch.put(USERS, user.id.as_str(), encode(user));
    store.apply_durable(batch)?;
    Ok(())
}
