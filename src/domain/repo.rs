//! Typed access to boxes and users over the byte-oriented [`Store`].
//!
//! Layout (tree: key → value):
//! - `boxes`: box ID → `DataBox` (JSON)
//! - `users`: user ID → `User` (JSON)
//! - `logins`: login name → user ID (unique index)
//! - `box_users`: `<box ID>/<user ID>` → empty (users of a box, in ID order)

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::databox::{BoxId, DataBox};
use super::user::{User, UserId};
use super::world::World;
use crate::store::{Batch, KeyRange, Order, Store, StoreError};

const BOXES: &str = "boxes";
const USERS: &str = "users";
const LOGINS: &str = "logins";
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

/// Replaces a user record (same ID, same login).
pub fn update_user(store: &dyn Store, user: &User) -> Result<(), RepoError> {
    let mut batch = Batch::new();
    batch.put(USERS, user.id.as_str(), encode(user));
    store.apply_durable(batch)?;
    Ok(())
}

/// Writes every box and user of `world` in one atomic, durable batch;
/// refuses (writing nothing) if any box ID, user ID or login exists.
pub fn insert_world(store: &dyn Store, world: &World) -> Result<(), RepoError> {
    let mut batch = Batch::new();
    for b in &world.boxes {
        batch.expect_absent(BOXES, b.id.as_str());
        batch.put(BOXES, b.id.as_str(), encode(b));
    }
    for u in &world.users {
        batch.expect_absent(USERS, u.id.as_str());
        batch.expect_absent(LOGINS, u.login.as_str());
        batch.put(USERS, u.id.as_str(), encode(u));
        batch.put(LOGINS, u.login.as_str(), u.id.as_str());
        batch.put(BOX_USERS, format!("{}/{}", u.box_id, u.id), Vec::new());
    }
    for (user, secret) in &world.otp_secrets {
        super::otp::put_secret(&mut batch, user, secret);
    }
    // Its client certificates, in the same all-or-nothing batch.
    super::certificates::stage_world(&mut batch, world);
    store.apply_durable(batch).map_err(|e| match e {
        StoreError::Conflict { .. } => {
            RepoError::Exists(format!("a box, user or login of the world ({e})"))
        }
        other => RepoError::Store(other),
    })
}
