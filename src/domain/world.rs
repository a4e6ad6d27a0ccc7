//! World fixtures: a declarative TOML description of boxes and users, loaded
//! all-or-nothing into a store.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::credentials::{HashError, PasswordHash};
use super::databox::{BoxId, BoxState, BoxType, DataBox, Owner};
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
    id: toml::Spanned<BoxId>,
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
    id: toml::Spanned<UserId>,
    login: toml::Spanned<String>,
    password: String,
    #[serde(rename = "type")]
    user_type: UserType,
    #[serde(default = "all_privileges")]
    privileges: u32,
    #[serde(default)]
    name: PersonName,
    #[serde(default)]
    must_change_password: bool,
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
    /// The fixture line of each box's `id` (parallel to `boxes`).
    pub box_lines: Vec<usize>,
    /// The fixture line of each user's `id` (parallel to `users`).
    pub user_lines: Vec<usize>,
}

/// What a fixture added to a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    pub boxes: usize,
    pub users: usize,
}

/// The 1-based line of byte offset `at` in `text`.
fn line_at(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
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
            box_lines: Vec::new(),
            user_lines: Vec::new(),
        };
        let at = |span: std::ops::Range<usize>, message: String| {
            invalid(format!("line {}: {message}", line_at(text, span.start)))
        };
        let mut box_ids = std::collections::HashSet::new();
        let mut user_ids = std::collections::HashSet::new();
        let mut logins = std::collections::HashSet::new();
        for spec in file.boxes {
            let box_span = spec.id.span();
            let box_id = spec.id.into_inner();
            let box_type = BoxType::from_name(&spec.box_type).ok_or_else(|| {
                at(
                    box_span.clone(),
                    format!("box {box_id}: unknown box type {:?}", spec.box_type),
                )
            })?;
            if !box_ids.insert(box_id.clone()) {
                return Err(at(box_span, format!("box {box_id} is defined twice")));
            }
            for u in spec.users {
                let user_span = u.id.span();
                let user_id = u.id.into_inner();
                let login_span = u.login.span();
                let login = u.login.into_inner();
                if !user_ids.insert(user_id.clone()) {
                    return Err(at(user_span, format!("user {user_id} is defined twice")));
                }
                if login.is_empty() || !logins.insert(login.clone()) {
                    return Err(at(
                        login_span,
                        format!("user {user_id}: login {login:?} is empty or already used"),
                    ));
                }
                if u.privileges > Privileges::ALL.0 {
                    return Err(at(
                        user_span,
                        format!(
                            "user {user_id}: privileges {} exceed the mask 255",
                            u.privileges
                        ),
                    ));
                }
                world.user_lines.push(line_at(text, user_span.start));
                world.users.push(User {
                    id: user_id,
                    box_id: box_id.clone(),
                    login,
                    user_type: u.user_type,
                    privileges: Privileges(u.privileges),
                    name: u.name,
                    password: PasswordHash::new(&u.password)?,
                    password_set_at: now,
                    must_change_password: u.must_change_password,
                });
            }
            world.box_lines.push(line_at(text, box_span.start));
            world.boxes.push(DataBox {
                id: box_id,
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

/// Adds the world fixture at `path` to `store`, all or nothing: a box, user
/// or login the store already holds is refused (naming its line), and
/// nothing is written. Returns what was added.
pub fn load_fixture_file(store: &dyn Store, path: &Path, now: i64) -> Result<Loaded, WorldError> {
    let text = std::fs::read_to_string(path).map_err(|source| WorldError::Read {
        path: path.to_owned(),
        source,
    })?;
    load_fixture(store, &text, &path.display().to_string(), now)
}

/// [`load_fixture_file`] for a fixture's text; `origin` names it in errors.
pub fn load_fixture(
    store: &dyn Store,
    text: &str,
    origin: &str,
    now: i64,
) -> Result<Loaded, WorldError> {
    let world = World::parse(text, origin, now)?;
    let clash = |line: usize, message: String| WorldError::Invalid {
        origin: origin.to_owned(),
        message: format!("line {line}: {message}"),
    };
    for (b, line) in world.boxes.iter().zip(&world.box_lines) {
        if repo::get_box(store, &b.id)?.is_some() {
            return Err(clash(
                *line,
                format!("box {} exists in the store already", b.id),
            ));
        }
    }
    for (u, line) in world.users.iter().zip(&world.user_lines) {
        if repo::get_user(store, &u.id)?.is_some() {
            return Err(clash(
                *line,
                format!("user {} exists in the store already", u.id),
            ));
        }
        if repo::login_exists(store, &u.login)? {
            return Err(clash(
                *line,
                format!("user {}: login {:?} is taken in the store", u.id, u.login),
            ));
        }
    }
    // Checked again atomically: a concurrent writer cannot slip in between.
    repo::insert_world(store, &world)?;
    Ok(Loaded {
        boxes: world.boxes.len(),
        users: world.users.len(),
    })
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
    fn errors_name_the_origin_and_line() {
        let text = "[[boxes]]\nid = \"short\"\ntype = \"PO\"\n";
        let err = World::parse(text, "world.toml", 0).unwrap_err().to_string();
        assert!(err.starts_with("world.toml: "), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("invalid box ID"), "{err}");

        let text = "[[boxes]]\nid = \"abcdefg\"\ntype = \"NOPE\"\n";
        let err = World::parse(text, "w", 0).unwrap_err().to_string();
        assert!(err.contains("unknown box type"), "{err}");
        assert!(err.starts_with("w: line 2: "), "{err}");

        let text = "[[boxes]]\nid = \"abcdefg\"\ntype = \"PO\"\ncolour = 1\n";
        let err = World::parse(text, "w", 0).unwrap_err().to_string();
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn loading_adds_to_a_store_all_or_nothing_and_refuses_what_exists() {
        let store = crate::store::open_memory();
        let loaded = load_fixture(store.as_ref(), DEMO_WORLD, "demo", 0).unwrap();
        assert_eq!(loaded.boxes, 3);
        assert_eq!(loaded.users, 4);
        let text = "[[boxes]]\nid = \"newbox1\"\ntype = \"PO\"\n\n[[boxes]]\nid = \"po4demo\"\ntype = \"PO\"\n";
        let err = load_fixture(store.as_ref(), text, "more.toml", 0)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "more.toml: line 6: box po4demo exists in the store already"
        );
        let new = BoxId::parse("newbox1").unwrap();
        assert!(repo::get_box(store.as_ref(), &new).unwrap().is_none());

        let text = "[[boxes]]\nid = \"newbox1\"\ntype = \"PO\"\n[[boxes.users]]\nid = \"nbpu01\"\nlogin = \"po_jednatel\"\npassword = \"Xy-12345678\"\ntype = \"PRIMARY_USER\"\n";
        let err = load_fixture(store.as_ref(), text, "more.toml", 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("more.toml: line 5: user nbpu01: login"),
            "{err}"
        );
        assert!(repo::get_box(store.as_ref(), &new).unwrap().is_none());
    }
}
