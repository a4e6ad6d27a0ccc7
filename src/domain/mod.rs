//! The ISDS world the gateway simulates: data boxes, their users and
//! credentials (messages follow). Types here know ISDS rules, not XML or
//! storage formats.

pub mod activity;
pub mod admin;
pub mod box_search;
pub mod certificates;
pub mod clock;
pub mod credentials;
pub mod credit;
pub mod czech_time;
pub mod databox;
pub mod fixture_files;
pub mod fixture_time;
pub mod lifecycle;
pub mod message;
pub mod message_extras;
pub mod message_repo;
pub mod message_rules;
pub mod message_wire;
pub mod mobile_key;
pub mod otp;
pub mod repo;
pub mod search_index;
pub mod statistics;
pub mod synth;
pub mod system_message;
pub mod user;
pub mod vodz;
pub mod world;
pub mod world_messages;

pub use databox::{BoxAddress, BoxId, BoxState, BoxType, DataBox, Owner};
pub use user::{
    ContactAddress, MissingPersonalData, PersonName, PersonalData, Privileges, User, UserId,
    UserType,
};
