//! World fixtures: a declarative TOML description of boxes and users, loaded
//! all-or-nothing into a store.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::credentials::{HashError, PasswordHash};
use super::databox::{BoxId, BoxState, BoxType, DataBox, Owner};
use super::otp::{self, OtpKind, OtpSecret};
use super::repo::{self, RepoError};
use super::user::{PersonName, Privileges, User, UserId, UserType};
use crate::store::Store;

/// The built-in demo world (`fixtures/demo-world.toml`).
pub const DEMO_WORLD: &str = include_str!("../../fixtures/demo-world.toml");

/// Default attachment limit of a box, in MB.
const DEFAULT_ATTACHMENT_LIMIT_MB: u32 = 20;

/// A world fixture could not be loaded; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("cannot read world fixture {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Repo(#[from] RepoError),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorldFile {
    #[serde(default)]
    boxes: Vec<BoxSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BoxSpec {
    id: BoxId,
    #[serde(rename = "type")]
    box_type: String,
    #[serde(default = "accessible")]
    state: BoxState,
    effective_ovm: Option<bool>,
    #[serde(default)]
    open_addressing: bool,
    #[serde(default)]
    unlimited_password_validity: bool,
    attachment_limit_mb: Option<u32>,
    #[serde(default)]
    owner: Owner,
    #[serde(default)]
    users: Vec<UserSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserSpec {
    id: UserId,
    login: String,
    password: String,
    #[serde(rename = "type")]
    user_type: UserType,
    #[serde(default = "all_privileges")]
    privileges: u32,
    #[serde(default)]
    name: PersonName,
    #[serde(default)]
    must_change_password: bool,
    /// An OTP secret enables the OTP logins (`/as/processLogin`).
    otp: Option<OtpSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OtpSpec {
    kind: OtpKind,
    /// Base32 (RFC 4648), as authenticator apps and `oathtool -b` take it.
    secret: String,
    /// HOTP: the counter of the next expected code.
    #[serde(default)]
    counter: u64,
}

fn accessible() -> BoxState {
    BoxState::Accessible
}

fn all_privileges() -> u32 {
    Privileges::ALL.0
}

/// Boxes and users ready to be written.
#[derive(Debug)]
pub struct World {
    pub boxes: Vec<DataBox>,
    pub users: Vec<User>,
    /// OTP secrets of the users that have one.
    pub otp_secrets: Vec<(UserId, OtpSecret)>,
}

impl World {
    /// Parses and checks a world fixture. `origin` names it in errors
    /// (a file path); TOML errors carry the line and column.
    pub fn parse(text: &str, origin: &str, now: i64) -> Result<World, WorldError> {
        let invalid = |message: String| WorldError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        let file: WorldFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut world = World {
            boxes: Vec::new(),
            users: Vec::new(),
            otp_secrets: Vec::new(),
        };
        let mut box_ids = std::collections::HashSet::new();
        let mut user_ids = std::collections::HashSet::new();
        let mut logins = std::collections::HashSet::new();
        for spec in file.boxes {
            let box_type = BoxType::from_name(&spec.box_type).ok_or_else(|| {
                invalid(format!(
                    "box {}: unknown box type {:?}",
                    spec.id, spec.box_type
                ))
            })?;
            if !box_ids.insert(spec.id.clone()) {
                return Err(invalid(format!("box {} is defined twice", spec.id)));
            }
            for u in spec.users {
                if !user_ids.insert(u.id.clone()) {
                    return Err(invalid(format!("user {} is defined twice", u.id)));
                }
                if u.login.is_empty() || !logins.insert(u.login.clone()) {
                    return Err(invalid(format!(
                        "user {}: login {:?} is empty or already used",
                        u.id, u.login
                    )));
                }
                if u.privileges > Privileges::ALL.0 {
                    return Err(invalid(format!(
                        "user {}: privileges {} exceed the mask 255",
                        u.id, u.privileges
                    )));
                }
                if let Some(spec) = u.otp {
                    let secret = otp::decode_base32(&spec.secret)
                        .map_err(|e| invalid(format!("user {}: OTP secret: {e}", u.id)))?;
                    if secret.len() < otp::MIN_SECRET_BYTES {
                        return Err(invalid(format!(
                            "user {}: OTP secret must be at least {} bytes (base32 of 128 bits)",
                            u.id,
                            otp::MIN_SECRET_BYTES
                        )));
                    }
                    let counter = match spec.kind {
                        OtpKind::Hotp => spec.counter,
                        OtpKind::Totp => 0,
                    };
                    world.otp_secrets.push((
                        u.id.clone(),
                        OtpSecret {
                            kind: spec.kind,
                            secret,
                            counter,
                        },
                    ));
                }
                world.users.push(User {
                    id: u.id,
                    box_id: spec.id.clone(),
                    login: u.login,
                    user_type: u.user_type,
                    privileges: Privileges(u.privileges),
                    name: u.name,
                    password: PasswordHash::new(&u.password)?,
                    password_set_at: now,
                    must_change_password: u.must_change_password,
                });
            }
            world.boxes.push(DataBox {
                id: spec.id,
                box_type,
                state: spec.state,
                owner: spec.owner,
                effective_ovm: spec.effective_ovm.unwrap_or(box_type.is_ovm()),
                open_addressing: spec.open_addressing,
                attachment_limit_mb: spec
                    .attachment_limit_mb
                    .unwrap_or(DEFAULT_ATTACHMENT_LIMIT_MB),
                unlimited_password_validity: spec.unlimited_password_validity,
            });
        }
        Ok(world)
    }
}

/// Loads the demo world (or the fixture at `path`) when the store holds no
/// box yet. Returns whether it seeded anything.
pub fn seed_demo_if_empty(store: &dyn Store, path: Option<&Path>) -> Result<bool, WorldError> {
    if repo::has_any_box(store)? {
        return Ok(false);
    }
    let (text, origin) = match path {
        Some(p) => (
            std::fs::read_to_string(p).map_err(|source| WorldError::Read {
                path: p.to_owned(),
                source,
            })?,
            p.display().to_string(),
        ),
        None => (DEMO_WORLD.to_owned(), "fixtures/demo-world.toml".to_owned()),
    };
    let world = World::parse(&text, &origin, unix_now())?;
    repo::insert_world(store, &world)?;
    Ok(true)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_world_parses_and_has_what_the_readme_promises() {
        let w = World::parse(DEMO_WORLD, "demo", 0).unwrap();
        let types: Vec<_> = w.boxes.iter().map(|b| b.box_type).collect();
        assert!(types.contains(&BoxType::OVM));
        assert!(types.contains(&BoxType::PO));
        assert!(types.contains(&BoxType::FO));
        for b in &w.boxes {
            assert!(
                w.users
                    .iter()
                    .any(|u| u.box_id == b.id && u.user_type == UserType::PrimaryUser),
                "{} has a primary user",
                b.id
            );
        }
        assert!(
            w.users
                .iter()
                .any(|u| u.user_type == UserType::EntrustedUser && u.privileges != Privileges::ALL)
        );
    }

    #[test]
    fn otp_secrets_parse_from_base32() {
        let w = World::parse(DEMO_WORLD, "demo", 0).unwrap();
        let (id, secret) = w
            .otp_secrets
            .iter()
            .find(|(id, _)| id.as_str() == "pootp1")
            .expect("the demo world has an OTP user");
        assert_eq!(secret.kind, OtpKind::Totp);
        assert_eq!(secret.secret.len(), 20);
        assert!(w.users.iter().any(|u| &u.id == id && u.login == "po_otp"));

        let user = |otp: &str| {
            format!(
                "[[boxes]]\nid = \"abcdefg\"\ntype = \"PO\"\n[[boxes.users]]\nid = \"abcdef\"\n\
                 login = \"x\"\npassword = \"Secret-2026!\"\ntype = \"PRIMARY_USER\"\notp = {otp}\n"
            )
        };
        let w = World::parse(
            &user(r#"{ kind = "hotp", secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", counter = 7 }"#),
            "w",
            0,
        )
        .unwrap();
        assert_eq!(w.otp_secrets[0].1.secret, b"12345678901234567890");
        assert_eq!(w.otp_secrets[0].1.counter, 7);

        let err = World::parse(&user(r#"{ kind = "totp", secret = "MZXW6===" }"#), "w", 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 16 bytes"), "{err}");
        let err = World::parse(
            &user(r#"{ kind = "totp", secret = "not base32!" }"#),
            "w",
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("OTP secret: invalid base32"), "{err}");
        let err = World::parse(&user(r#"{ kind = "sms", secret = "MZXW6===" }"#), "w", 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant"), "{err}");
    }

    #[test]
    fn errors_name_the_origin_and_line() {
        let text = "[[boxes]]\nid = \"short\"\ntype = \"PO\"\n";
        let err = World::parse(text, "world.toml", 0).unwrap_err().to_string();
        assert!(err.starts_with("world.toml: "), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("invalid box ID"), "{err}");

        let text = "[[boxes]]\nid = \"abcdefg\"\ntype = \"NOPE\"\n";
        let err = World::parse(text, "w", 0).unwrap_err().to_string();
        assert!(err.contains("unknown box type"), "{err}");

        let text = "[[boxes]]\nid = \"abcdefg\"\ntype = \"PO\"\ncolour = 1\n";
        let err = World::parse(text, "w", 0).unwrap_err().to_string();
        assert!(err.contains("unknown field"), "{err}");
    }
}
