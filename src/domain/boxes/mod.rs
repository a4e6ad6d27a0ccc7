//! Data boxes and the accounts that use them: the box record and its
//! owner ([`databox`]), users and their rights ([`user`]), passwords
//! ([`credentials`]), client certificates ([`certificates`]), one-time
//! codes ([`otp`]), Mobile Keys ([`mobile_key`]), credit ([`credit`]),
//! activity ([`activity`]) and the typed store access for boxes and users
//! ([`repo`]), which writes the box search index ([`search_index`]) in
//! the same batch as each box.
//!
//! Depends only on [`crate::domain::clock`] and the store.

pub mod activity;
pub mod certificates;
pub mod credentials;
pub mod credit;
pub mod databox;
pub mod mobile_key;
pub mod otp;
pub mod repo;
pub mod search_index;
pub mod user;
