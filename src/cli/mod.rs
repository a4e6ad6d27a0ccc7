//! Administration commands on a data directory: `box`, `user`, `cert` and
//! `fixtures`. They open the store directly, so the gateway must not be
//! serving the same directory (the store allows one process at a time).
//!
//! Each command returns its output as text (human-readable, or JSON with
//! `--json`); `main` prints it.

pub mod admin_http;
pub mod advice;
pub mod box_cmd;
pub mod cert;
pub mod clock;
pub mod fixtures;
pub mod mep;
pub mod user_cmd;
pub mod zfo;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::domain::admin::{AccessData, AdminError};
use crate::domain::boxes::repo::RepoError;
use crate::domain::world::WorldError;
use crate::domain::{DataBox, User};
use crate::store::{self, Store, StoreError};

/// Where the store is and how to print.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Data directory of the gateway (its store is DIR/store).
    #[arg(
        long,
        env = "ISDS_GATEWAY_DATA",
        default_value = "./data",
        global = true
    )]
    pub data: PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// An administration command failed; the store was not changed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(
        "no gateway store at {0} (start the gateway once on this data directory, or use `fixtures load --init`)"
    )]
    NoStore(PathBuf),
    #[error("{0}; stop the gateway serving this data directory first")]
    Locked(StoreError),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("refused: {0}")]
    Admin(#[from] AdminError),
    #[error(transparent)]
    World(#[from] WorldError),
    #[error(transparent)]
    Credit(#[from] crate::domain::boxes::credit::CreditError),
    #[error(transparent)]
    Synth(#[from] crate::domain::world::synth::SynthError),
    #[error("{0}")]
    NotFound(String),
    /// A command line that lacks something the command needs.
    #[error("{0}")]
    Usage(String),
}

/// The store of data directory `data`; `create` allows a new one.
pub fn open_store(data: &Path, create: bool) -> Result<Arc<dyn Store>, CliError> {
    let dir = data.join("store");
    if !create && !dir.is_dir() {
        return Err(CliError::NoStore(dir));
    }
    // With the documents directory, so that content deleted from here
    // (a box made inaccessible) removes its files.
    store::open_sled_with_files(&dir, store::DEFAULT_CACHE_MB, &data.join("documents")).map_err(
        |e| match e {
            StoreError::Locked { .. } => CliError::Locked(e),
            other => CliError::Store(other),
        },
    )
}

/// Unix time now, for password stamps.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn state_name(b: &DataBox) -> &'static str {
    match u8::from(b.state) {
        1 => "accessible",
        2 => "temporarily inaccessible at the owner's request",
        3 => "not yet active",
        4 => "permanently inaccessible",
        5 => "removed",
        _ => "temporarily inaccessible by law",
    }
}

fn owner_name(b: &DataBox) -> String {
    let o = &b.owner;
    if !o.firm_name.is_empty() {
        o.firm_name.clone()
    } else {
        format!("{} {}", o.first_name, o.last_name)
            .trim()
            .to_owned()
    }
}

fn person_name(u: &User) -> String {
    u.name.full()
}

/// A box as JSON (everything but nothing secret).
fn box_json(b: &DataBox, users: &[User]) -> serde_json::Value {
    serde_json::json!({
        "id": b.id.as_str(),
        "type": b.box_type.name(),
        "state": u8::from(b.state),
        "owner": b.owner,
        "effective_ovm": b.effective_ovm,
        "open_addressing": b.open_addressing,
        "attachment_limit_mb": b.attachment_limit_mb,
        "unlimited_password_validity": b.unlimited_password_validity,
        "users": users.iter().map(user_json).collect::<Vec<_>>(),
    })
}

/// A user as JSON, without the password hash.
fn user_json(u: &User) -> serde_json::Value {
    serde_json::json!({
        "id": u.id.as_str(),
        "isds_id": u.id.isds_id(),
        "box_id": u.box_id.as_str(),
        "login": u.login,
        "type": u.user_type.name(),
        "privileges": u.privileges.0,
        "name": u.name,
        "must_change_password": u.must_change_password,
    })
}

fn access_json(a: &AccessData) -> serde_json::Value {
    serde_json::json!({
        "user_id": a.user_id.as_str(),
        "login": a.login,
        "password": a.password,
        "must_change_password": a.must_change_password,
    })
}

fn access_text(a: &AccessData) -> String {
    format!(
        "login {}  password {}{}",
        a.login,
        a.password,
        if a.must_change_password {
            "  (must be changed at the first login)"
        } else {
            ""
        }
    )
}

fn user_line(u: &User) -> String {
    format!(
        "{}  {:<7}  {:<16}  {:<14}  {:>3}  {}",
        u.id,
        u.box_id,
        u.login,
        u.user_type.name(),
        u.privileges.0,
        person_name(u)
    )
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}
