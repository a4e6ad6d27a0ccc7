//! Writing a world into a store: its boxes, users, credentials,
//! certificates, credit ledgers, Mobile Keys and messages in one atomic,
//! durable batch, so a fixture is loaded entirely or not at all.

use crate::domain::boxes::repo::{self, RepoError};
use crate::domain::boxes::{certificates, credit};
use crate::store::{Batch, Store, StoreError};

use super::World;

/// Writes every box and user of `world` in one atomic, durable batch;
/// refuses (writing nothing) if any box ID, user ID or login exists.
pub fn insert_world(store: &dyn Store, world: &World) -> Result<(), RepoError> {
    insert_world_with_messages(store, world, &[], None)
}

/// [`insert_world`] with the world's messages (built by
/// `fixture_messages::build`) in the same all-or-nothing batch.
pub fn insert_world_with_messages(
    store: &dyn Store,
    world: &World,
    messages: &[(crate::domain::messages::message::Message, Vec<Vec<u8>>)],
    loaded_mark: Option<(&[u8], Vec<u8>)>,
) -> Result<(), RepoError> {
    let mut batch = Batch::new();
    // The fixture's mark (see `world::FIXTURES_LOADED`) goes in the same
    // batch: a fixture is recorded as loaded exactly when its content is.
    if let Some((key, value)) = loaded_mark {
        batch.expect_absent(super::FIXTURES_LOADED, key);
        batch.put(super::FIXTURES_LOADED, key, value);
    }
    super::fixture_messages::stage(&mut batch, messages);
    for b in &world.boxes {
        repo::stage_insert_box(&mut batch, b);
    }
    for u in &world.users {
        repo::stage_insert_user(&mut batch, u);
    }
    for (user, secret) in &world.otp_secrets {
        crate::domain::boxes::otp::put_secret(&mut batch, user, secret);
    }
    // Its client certificates and credit ledgers, in the same
    // all-or-nothing batch.
    certificates::stage_registrations(&mut batch, &world.certificates, &world.provider_boxes);
    credit::stage_ledgers(&mut batch, &world.credits);
    for key in &world.mobile_keys {
        crate::domain::boxes::mobile_key::put_key(&mut batch, key);
    }
    for (user, account) in &world.mobile_key_accounts {
        crate::domain::boxes::mobile_key::put_account(&mut batch, user, account);
    }
    store.apply_durable(batch).map_err(|e| match e {
        StoreError::Conflict { .. } => {
            RepoError::Exists(format!("a box, user or login of the world ({e})"))
        }
        other => RepoError::Store(other),
    })
}
