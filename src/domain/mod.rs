//! The ISDS world the gateway simulates, by area. Types here know ISDS
//! rules, not XML or storage formats.
//!
//! Areas, each depending only on the ones listed before it:
//! - [`clock`]: the gateway's clock (real or test) and Czech civil time.
//! - [`boxes`]: data boxes, their users, credentials, certificates,
//!   one-time codes, Mobile Keys, credit, activity, and the box search
//!   index written with every box.
//! - [`messages`]: data messages: the model, its wire form and `dmHash`,
//!   storage and lists, the rules for sending, the lifecycle (delivery,
//!   fiction, deletion), extras and system messages, statistics.
//! - [`search`]: the box search rules of FindDataBox and ISDSSearch over
//!   the index.
//! - [`admin`]: box and user administration, as ISDS's administration
//!   does it, including what it does to a box's messages.
//! - [`world`]: whole worlds: fixtures (boxes, users, messages, relative
//!   times) and synthetic populations, written in one batch.

pub mod admin;
pub mod boxes;
pub mod clock;
pub mod messages;
pub mod search;
pub mod world;

pub use boxes::databox::{BoxAddress, BoxId, BoxState, BoxType, DataBox, Owner};
pub use boxes::user::{
    ContactAddress, MissingPersonalData, PersonName, PersonalData, Privileges, User, UserId,
    UserType,
};
