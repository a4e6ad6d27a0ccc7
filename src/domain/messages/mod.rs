//! Data messages: the model ([`message`]), the `dmDm` wire form and
//! `dmHash` ([`wire`]), storage, indexes and lists ([`repo`]), the rules
//! for sending ([`rules`]), the lifecycle of delivery, acceptance by
//! fiction and deletion ([`lifecycle`]), read marks and other extras
//! ([`extras`]), the operator's system messages ([`system_message`]) and
//! the statistics service's count ([`statistics`]).
//!
//! Depends on [`crate::domain::boxes`] (senders, recipients, rights) and
//! [`crate::domain::clock`].

pub mod extras;
pub mod lifecycle;
pub mod message;
pub mod repo;
pub mod rules;
pub mod statistics;
pub mod system_message;
pub mod vodz;
pub mod wire;
