//! World fixtures: a declarative TOML description of boxes and users, loaded
//! all-or-nothing into a store.
//!
//! The area of whole worlds: the fixture format here, its messages
//! ([`fixture_messages`]), times ([`fixture_time`]) and files
//! ([`fixture_files`]), and synthetic populations ([`synth`]). It sits on
//! top of every other domain area and nothing in the domain depends on it.

pub mod fixture_files;
pub mod fixture_messages;
pub mod fixture_time;
pub mod store;
pub mod synth;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::boxes::certificates::{self, CertificateError, Holder, Registration};
use crate::domain::boxes::credentials::{HashError, PasswordHash};
use crate::domain::boxes::credit::{self, CreditKind, NewCredit};
use crate::domain::boxes::databox::{BoxId, BoxState, BoxType, DataBox, Owner};
use crate::domain::boxes::otp::{self, OtpKind, OtpSecret};
use crate::domain::boxes::repo::{self, RepoError};
use crate::domain::boxes::user::{PersonName, Privileges, User, UserId, UserType};
use crate::domain::world::fixture_files::FixtureDir;
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
    #[error(transparent)]
    Certificate(#[from] CertificateError),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorldFile {
    #[serde(default)]
    boxes: Vec<BoxSpec>,
    #[serde(default)]
    providers: Vec<ProviderSpec>,
    /// Scripted responses and faults, read by the HTTP layer
    /// (`http::faults`); the world loader ignores them.
    #[serde(default)]
    #[allow(dead_code)]
    faults: Vec<toml::Value>,
    /// Data messages in any state (`world_messages`).
    #[serde(default)]
    messages: Vec<toml::Spanned<fixture_messages::MessageSpec>>,
    /// People who hold accounts (users) in one or more boxes, and the
    /// Mobile Key each of them has.
    #[serde(default)]
    persons: Vec<PersonSpec>,
}

/// A person: accounts name them with `person = ID`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonSpec {
    id: String,
    /// As the Mobile Key app shows the holder (default: the ID).
    name: Option<String>,
}

/// An account's link to its person's Mobile Key: the communication code
/// (if given here; else generated on request) and how the simulated phone
/// answers. At most one of `confirm_after`, `reject_after`, `reject`,
/// `expire` and `states`; none: someone answers with `isds-gateway mep`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MobileKeySpec {
    code: Option<String>,
    /// Confirmed this long after the request, e.g. `"2s"`.
    confirm_after: Option<String>,
    /// Rejected this long after the request.
    reject_after: Option<String>,
    /// Rejected at once.
    #[serde(default)]
    reject: bool,
    /// Never answered: the request expires.
    #[serde(default)]
    expire: bool,
    /// `mepWsStateUpdate2` states in order, e.g. `[11, 12, 13, 2]`.
    states: Option<Vec<i32>>,
    /// Time between the scripted states (default `"1s"`).
    step: Option<String>,
}

impl MobileKeySpec {
    fn policy(&self) -> Result<crate::domain::boxes::mobile_key::PhonePolicy, String> {
        use crate::domain::boxes::mobile_key::{PhonePolicy, RequestState};
        let seconds = |what: &str, v: &str| {
            parse_seconds(v).ok_or_else(|| {
                format!("{what} {v:?} must be a whole number with a unit s, m or h, e.g. \"2s\"")
            })
        };
        let chosen = [
            self.confirm_after.is_some(),
            self.reject_after.is_some(),
            self.reject,
            self.expire,
            self.states.is_some(),
        ]
        .into_iter()
        .filter(|b| *b)
        .count();
        if chosen > 1 {
            return Err(
                "choose one of confirm_after, reject_after, reject, expire and states".into(),
            );
        }
        if self.step.is_some() && self.states.is_none() {
            return Err("step needs states".into());
        }
        Ok(if let Some(v) = &self.confirm_after {
            PhonePolicy::ConfirmAfter {
                seconds: seconds("confirm_after", v)?,
            }
        } else if let Some(v) = &self.reject_after {
            PhonePolicy::RejectAfter {
                seconds: seconds("reject_after", v)?,
            }
        } else if self.reject {
            PhonePolicy::RejectAfter { seconds: 0 }
        } else if self.expire {
            PhonePolicy::Expire
        } else if let Some(states) = &self.states {
            if states.is_empty() {
                return Err("states must not be empty".into());
            }
            if let Some(bad) = states
                .iter()
                .find(|&&c| RequestState::from_code(c).is_none_or(|s| s == RequestState::Unknown))
            {
                return Err(format!("state {bad} is none of 1, 11, 12, 13, 19, 2 and 3"));
            }
            PhonePolicy::Script {
                states: states.clone(),
                step_seconds: match &self.step {
                    Some(v) => seconds("step", v)?.max(1),
                    None => 1,
                },
            }
        } else {
            PhonePolicy::Manual
        })
    }
}

/// `"2s"`, `"5m"`, `"1h"`: whole seconds.
fn parse_seconds(s: &str) -> Option<i64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    if n < 0 {
        return None;
    }
    match unit {
        's' => Some(n),
        'm' => n.checked_mul(60),
        'h' => n.checked_mul(3600),
        _ => None,
    }
}

/// A hosted records-management provider and the boxes that authorised it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderSpec {
    name: String,
    /// PEM file of the provider's system certificate, relative to the
    /// fixture file.
    certificate: PathBuf,
    #[serde(default)]
    boxes: Vec<BoxId>,
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
    /// PEM files of the box's system certificates, relative to the fixture
    /// file.
    #[serde(default)]
    certificates: Vec<PathBuf>,
    /// The owner lets the box be listed and found by search (default).
    #[serde(default = "listed")]
    public_listing: bool,
    /// Opening credit in hundredths of CZK (a charge at load time).
    credit: Option<u64>,
    /// Credit events after the opening credit, in order.
    #[serde(default)]
    credit_events: Vec<CreditEventSpec>,
}

/// One event of a box's credit ledger.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreditEventSpec {
    /// charge, discharge, message, storage, expired or restored.
    #[serde(rename = "type")]
    kind: String,
    /// Hundredths of CZK, positive; only a charge adds to the credit.
    #[serde(default)]
    amount: u64,
    /// RFC 3339 date-time or `YYYY-MM-DD` (default: load time).
    at: Option<String>,
    trans_id: Option<String>,
    recipient: Option<BoxId>,
    message_id: Option<String>,
    capacity: Option<u64>,
    from: Option<String>,
    to: Option<String>,
    old_capacity: Option<u64>,
    old_from: Option<String>,
    old_to: Option<String>,
    done_by: Option<String>,
}

fn listed() -> bool {
    true
}

/// A `YYYY-MM-DD` date, checked.
fn check_date(s: &str) -> Option<String> {
    time::Date::parse(
        s.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
    .map(|_| s.trim().to_owned())
}

impl CreditEventSpec {
    fn to_new(&self, n: usize, now: i64) -> Result<NewCredit, String> {
        let at = match &self.at {
            Some(s) => fixture_time::parse_fixture_time(s, now)
                .ok_or_else(|| format!("at {s:?} is no date, date-time or relative time"))?,
            None => now,
        };
        let trans_id = || {
            self.trans_id
                .clone()
                .unwrap_or_else(|| format!("fixture-{n}"))
        };
        let date = |what: &str, v: &Option<String>| -> Result<String, String> {
            let v = v
                .as_deref()
                .ok_or_else(|| format!("a storage event needs {what}"))?;
            check_date(v).ok_or_else(|| format!("{what} {v:?} is no YYYY-MM-DD date"))
        };
        let optional_date = |what: &str, v: &Option<String>| -> Result<Option<String>, String> {
            v.as_deref()
                .map(|d| check_date(d).ok_or_else(|| format!("{what} {d:?} is no YYYY-MM-DD date")))
                .transpose()
        };
        let kind = match self.kind.as_str() {
            "charge" => CreditKind::Charged {
                trans_id: trans_id(),
            },
            "discharge" => CreditKind::Discharged {
                trans_id: trans_id(),
            },
            "expired" => CreditKind::Expired {
                trans_id: trans_id(),
            },
            "message" => CreditKind::MessageSent {
                recipient: self
                    .recipient
                    .clone()
                    .ok_or("a message event needs recipient")?,
                message_id: self.message_id.clone().unwrap_or_else(|| n.to_string()),
            },
            "storage" => CreditKind::StorageSet {
                new_capacity: self.capacity.ok_or("a storage event needs capacity")?,
                new_from: date("from", &self.from)?,
                new_to: date("to", &self.to)?,
                old_capacity: self.old_capacity,
                old_from: optional_date("old_from", &self.old_from)?,
                old_to: optional_date("old_to", &self.old_to)?,
                done_by: self.done_by.clone(),
            },
            "restored" => CreditKind::Restored {
                done_by: self.done_by.clone().unwrap_or_default(),
            },
            other => {
                return Err(format!(
                    "unknown credit event type {other:?} (charge, discharge, message, storage, expired, restored)"
                ));
            }
        };
        Ok(NewCredit {
            at,
            amount: self.amount,
            kind,
        })
    }
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
    /// PEM files of the user's commercial certificates, relative to the
    /// fixture file.
    #[serde(default)]
    certificates: Vec<PathBuf>,
    /// An OTP secret enables the OTP logins (`/as/processLogin`).
    otp: Option<OtpSpec>,
    /// The person (`[[persons]]`) this account belongs to.
    person: Option<String>,
    /// Links the account to its person's Mobile Key (or, without a
    /// person, to a key of its own).
    mobile_key: Option<MobileKeySpec>,
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

/// Boxes, users and certificate registrations ready to be written.
#[derive(Debug)]
pub struct World {
    pub boxes: Vec<DataBox>,
    pub users: Vec<User>,
    /// OTP secrets of the users that have one.
    pub otp_secrets: Vec<(UserId, OtpSecret)>,
    /// Client certificates of boxes, users and hosted providers.
    pub certificates: Vec<Registration>,
    /// `(provider name, box ID)`: the box authorised the hosted provider.
    pub provider_boxes: Vec<(String, BoxId)>,
    /// The fixture line of each box's `id` (parallel to `boxes`).
    pub box_lines: Vec<usize>,
    /// The fixture line of each user's `id` (parallel to `users`).
    pub user_lines: Vec<usize>,
    /// The credit ledgers of boxes that have one.
    pub credits: Vec<(BoxId, Vec<NewCredit>)>,
    /// Data messages, checked; stored at load with IDs from the store.
    pub messages: Vec<fixture_messages::PlannedMessage>,
    /// Mobile Keys of the world's persons.
    pub mobile_keys: Vec<crate::domain::boxes::mobile_key::MobileKey>,
    /// Accounts linked to a Mobile Key.
    pub mobile_key_accounts: Vec<(UserId, crate::domain::boxes::mobile_key::LinkedAccount)>,
}

/// What a fixture added to a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    pub boxes: usize,
    pub users: usize,
    pub messages: usize,
    /// The same fixture text was loaded into this store before (at this
    /// Unix time); nothing was added again.
    pub already_loaded_at: Option<i64>,
}

/// The tree recording which fixture texts a store has loaded: key the
/// SHA-256 of the text, value `Unix seconds of loading` (8 bytes, big
/// endian). Loading is idempotent: the same text is loaded once per store,
/// so `serve --fixtures F` may be repeated at every start, and a fixture
/// with relative times is not loaded again, shifted, on a later day.
pub(crate) const FIXTURES_LOADED: &str = "fixtures_loaded";

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
    /// (a file path); TOML errors carry the line and column. A fixture
    /// parsed this way may not refer to certificate files (see
    /// [`World::parse_at`]).
    pub fn parse(text: &str, origin: &str, now: i64) -> Result<World, WorldError> {
        Self::parse_at(text, origin, None, now)
    }

    /// [`World::parse`] for a fixture whose certificate files are found
    /// relative to `base_dir` (the fixture file's directory).
    pub fn parse_at(
        text: &str,
        origin: &str,
        base_dir: Option<&Path>,
        now: i64,
    ) -> Result<World, WorldError> {
        Self::parse_in(text, origin, base_dir.map(FixtureDir::confined), now)
    }

    /// [`World::parse`] for a fixture whose files are read from `files`.
    pub fn parse_in(
        text: &str,
        origin: &str,
        files: Option<FixtureDir<'_>>,
        now: i64,
    ) -> Result<World, WorldError> {
        let invalid = |message: String| WorldError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        let file: WorldFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut world = World {
            boxes: Vec::new(),
            users: Vec::new(),
            otp_secrets: Vec::new(),
            certificates: Vec::new(),
            provider_boxes: Vec::new(),
            box_lines: Vec::new(),
            user_lines: Vec::new(),
            credits: Vec::new(),
            messages: Vec::new(),
            mobile_keys: Vec::new(),
            mobile_key_accounts: Vec::new(),
        };
        let mut persons = std::collections::HashMap::new();
        for p in &file.persons {
            if p.id.is_empty() || persons.insert(p.id.clone(), p).is_some() {
                return Err(invalid(format!(
                    "person {:?} is empty or defined twice",
                    p.id
                )));
            }
        }
        let mut used_keys = std::collections::BTreeSet::new();
        let at = |span: std::ops::Range<usize>, message: String| {
            invalid(format!("line {}: {message}", line_at(text, span.start)))
        };
        let mut fingerprints = std::collections::HashSet::new();
        let mut registrations = Vec::new();
        let mut register = |file: &Path, holder: Holder| -> Result<(), WorldError> {
            let Some(files) = files else {
                return Err(invalid(format!(
                    "certificate {}: certificate files need a fixture file to be found relative to",
                    file.display()
                )));
            };
            let pem = files
                .read(
                    file,
                    crate::domain::world::fixture_files::MAX_FIXTURE_FILE_BYTES,
                )
                .map_err(|e| invalid(format!("certificate {e}")))?;
            let cert = certificates::parse_pem(&pem, &file.display().to_string())?;
            let registration = Registration::new(&cert, holder);
            if !fingerprints.insert(registration.fingerprint.clone()) {
                return Err(invalid(format!(
                    "certificate {} is registered twice",
                    file.display()
                )));
            }
            registrations.push(registration);
            Ok(())
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
            for file in &spec.certificates {
                register(
                    file,
                    Holder::Box {
                        box_id: box_id.clone(),
                    },
                )?;
            }
            for u in spec.users {
                let user_span = u.id.span();
                let user_id = u.id.into_inner();
                let login_span = u.login.span();
                let login = u.login.into_inner();
                if user_id.as_str() == certificates::APPLICATION_USER_ID {
                    return Err(at(
                        user_span,
                        format!("user ID {user_id} is reserved for a box's application"),
                    ));
                }
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
                if let Some(spec) = u.otp {
                    let secret = otp::decode_base32(&spec.secret).map_err(|e| {
                        at(
                            user_span.clone(),
                            format!("user {user_id}: OTP secret: {e}"),
                        )
                    })?;
                    if secret.len() < otp::MIN_SECRET_BYTES {
                        return Err(at(
                            user_span,
                            format!(
                                "user {user_id}: OTP secret must be at least {} bytes (base32 of 128 bits)",
                                otp::MIN_SECRET_BYTES
                            ),
                        ));
                    }
                    let counter = match spec.kind {
                        OtpKind::Hotp => spec.counter,
                        OtpKind::Totp => 0,
                    };
                    world.otp_secrets.push((
                        user_id.clone(),
                        OtpSecret {
                            kind: spec.kind,
                            secret,
                            counter,
                        },
                    ));
                }
                for file in &u.certificates {
                    register(
                        file,
                        Holder::User {
                            user: user_id.clone(),
                        },
                    )?;
                }
                if let Some(person) = &u.person
                    && !persons.contains_key(person)
                {
                    return Err(at(
                        user_span,
                        format!("user {user_id}: person {person:?} is not defined"),
                    ));
                }
                if let Some(spec) = &u.mobile_key {
                    let policy = spec.policy().map_err(|m| {
                        at(
                            user_span.clone(),
                            format!("user {user_id}: mobile_key: {m}"),
                        )
                    })?;
                    let code = match spec.code.as_deref() {
                        Some("") => {
                            return Err(at(
                                user_span,
                                format!("user {user_id}: mobile_key: the code is empty"),
                            ));
                        }
                        Some(code) => Some(PasswordHash::new(code)?),
                        None => None,
                    };
                    // Without a person the account has a key of its own.
                    let key = u.person.clone().unwrap_or_else(|| user_id.to_string());
                    if used_keys.insert(key.clone()) {
                        let holder = match u.person.as_ref().and_then(|p| persons.get(p)) {
                            Some(p) => p.name.clone().unwrap_or_else(|| p.id.clone()),
                            None => u.name.full(),
                        };
                        world
                            .mobile_keys
                            .push(crate::domain::boxes::mobile_key::MobileKey {
                                id: key.clone(),
                                holder,
                            });
                    }
                    world.mobile_key_accounts.push((
                        user_id.clone(),
                        crate::domain::boxes::mobile_key::LinkedAccount { key, code, policy },
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
                    personal: Default::default(),
                });
            }
            let mut ledger = Vec::new();
            if let Some(amount) = spec.credit {
                ledger.push(NewCredit {
                    at: now,
                    amount,
                    kind: CreditKind::Charged {
                        trans_id: "fixture-0".to_owned(),
                    },
                });
            }
            for (n, e) in spec.credit_events.iter().enumerate() {
                ledger.push(e.to_new(n + 1, now).map_err(|m| {
                    at(
                        box_span.clone(),
                        format!("box {box_id}: credit event {}: {m}", n + 1),
                    )
                })?);
            }
            if !ledger.is_empty() {
                credit::check_ledger(&box_id, &ledger)
                    .map_err(|e| at(box_span.clone(), e.to_string()))?;
                world.credits.push((box_id.clone(), ledger));
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
                public_listing: spec.public_listing,
            });
        }
        let mut provider_names = std::collections::HashSet::new();
        for p in file.providers {
            certificates::check_provider_name(&p.name)
                .map_err(|e| invalid(format!("provider: {e}")))?;
            if !provider_names.insert(p.name.clone()) {
                return Err(invalid(format!("provider {:?} is defined twice", p.name)));
            }
            register(
                &p.certificate,
                Holder::Provider {
                    name: p.name.clone(),
                },
            )?;
            for b in p.boxes {
                if !box_ids.contains(&b) {
                    return Err(invalid(format!(
                        "provider {:?}: box {b} is not defined in this world",
                        p.name
                    )));
                }
                world.provider_boxes.push((p.name.clone(), b));
            }
        }
        world.certificates = registrations;
        for (i, spanned) in file.messages.into_iter().enumerate() {
            let span = spanned.span();
            let line = line_at(text, span.start);
            let planned = spanned
                .into_inner()
                .plan(line, files, now)
                .map_err(|m| at(span, format!("message {}: {m}", i + 1)))?;
            world.messages.push(planned);
        }
        Ok(world)
    }
}

/// Adds the world fixture at `path` to `store`, all or nothing: a box, user
/// or login the store already holds is refused (naming its line), and
/// nothing is written. Returns what was added. Files the fixture names are
/// read inside its directory, or anywhere by absolute name with
/// `absolute_paths`.
pub fn load_fixture_file(
    store: &dyn Store,
    path: &Path,
    now: i64,
    absolute_paths: bool,
) -> Result<Loaded, WorldError> {
    let text = std::fs::read_to_string(path).map_err(|source| WorldError::Read {
        path: path.to_owned(),
        source,
    })?;
    let files = FixtureDir {
        dir: path.parent().unwrap_or(Path::new(".")),
        absolute_paths,
    };
    load_fixture_at(store, &text, &path.display().to_string(), Some(files), now)
}

/// Reads and checks the world fixture at `path` without touching any
/// store, so a start-up can refuse a broken fixture before it creates
/// anything. Loading checks again against the store (existing boxes,
/// logins).
pub fn check_fixture_file(path: &Path, now: i64, absolute_paths: bool) -> Result<(), WorldError> {
    let text = std::fs::read_to_string(path).map_err(|source| WorldError::Read {
        path: path.to_owned(),
        source,
    })?;
    let files = FixtureDir {
        dir: path.parent().unwrap_or(Path::new(".")),
        absolute_paths,
    };
    World::parse_in(&text, &path.display().to_string(), Some(files), now).map(|_| ())
}

/// [`load_fixture_file`] for a fixture's text; `origin` names it in errors.
pub fn load_fixture(
    store: &dyn Store,
    text: &str,
    origin: &str,
    now: i64,
) -> Result<Loaded, WorldError> {
    load_fixture_at(store, text, origin, None, now)
}

/// [`load_fixture`] with files read from `files`.
fn load_fixture_at(
    store: &dyn Store,
    text: &str,
    origin: &str,
    files: Option<FixtureDir<'_>>,
    now: i64,
) -> Result<Loaded, WorldError> {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    if let Some(at) = store
        .tree(FIXTURES_LOADED)
        .and_then(|t| t.get(&digest))
        .map_err(RepoError::Store)?
    {
        let at = at
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, i64::from_be_bytes);
        return Ok(Loaded {
            boxes: 0,
            users: 0,
            messages: 0,
            already_loaded_at: Some(at),
        });
    }
    let world = World::parse_in(text, origin, files, now)?;
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
    let messages = build_messages(store, &world, origin)?;
    // Checked again atomically: a concurrent writer cannot slip in between.
    store::insert_world_with_messages(
        store,
        &world,
        &messages,
        Some((digest.as_slice(), now.to_be_bytes().to_vec())),
    )?;
    Ok(Loaded {
        boxes: world.boxes.len(),
        users: world.users.len(),
        messages: messages.len(),
        already_loaded_at: None,
    })
}

/// Loads the demo world (or the fixture at `path`) when the store holds no
/// box yet. Returns whether it seeded anything. Files the fixture names are
/// read as [`load_fixture_file`] reads them.
pub fn seed_demo_if_empty(
    store: &dyn Store,
    path: Option<&Path>,
    now: i64,
    absolute_paths: bool,
) -> Result<bool, WorldError> {
    if repo::has_any_box(store)? {
        return Ok(false);
    }
    let (text, origin, files) = match path {
        Some(p) => (
            std::fs::read_to_string(p).map_err(|source| WorldError::Read {
                path: p.to_owned(),
                source,
            })?,
            p.display().to_string(),
            Some(FixtureDir {
                dir: p.parent().unwrap_or(Path::new(".")),
                absolute_paths,
            }),
        ),
        None => (
            DEMO_WORLD.to_owned(),
            "fixtures/demo-world.toml".to_owned(),
            None,
        ),
    };
    let world = World::parse_in(&text, &origin, files, now)?;
    let messages = build_messages(store, &world, &origin)?;
    store::insert_world_with_messages(store, &world, &messages, None)?;
    Ok(true)
}

/// The world's messages, ready to stage; errors name the fixture line.
fn build_messages(
    store: &dyn Store,
    world: &World,
    origin: &str,
) -> Result<fixture_messages::BuiltMessages, WorldError> {
    use fixture_messages::BuildError;
    fixture_messages::build(store, world).map_err(|e| match e {
        BuildError::Invalid(line, message) => WorldError::Invalid {
            origin: origin.to_owned(),
            message: format!("line {line}: {message}"),
        },
        BuildError::Repo(e) => WorldError::Repo(e),
    })
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
        assert!(err.starts_with("w: line 2: "), "{err}");

        let text = "[[boxes]]\nid = \"abcdefg\"\ntype = \"PO\"\ncolour = 1\n";
        let err = World::parse(text, "w", 0).unwrap_err().to_string();
        assert!(err.contains("unknown field"), "{err}");
    }

    fn write_cert(dir: &Path, name: &str) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let pem = format!("{}{}", cert.pem(), key.serialize_pem());
        std::fs::create_dir_all(dir.join("certs")).unwrap();
        std::fs::write(dir.join("certs").join(name), pem).unwrap();
        format!("certs/{name}")
    }

    const CERT_WORLD: &str = r#"
[[boxes]]
id = "abcdefg"
type = "PO"
certificates = ["certs/app.pem"]
[[boxes.users]]
id = "user01"
login = "alice"
password = "Heslo-12345"
type = "PRIMARY_USER"
certificates = ["certs/alice.pem"]

[[boxes]]
id = "hijklmn"
type = "FO"

[[providers]]
name = "Hosted Records"
certificate = "certs/hosted.pem"
boxes = ["abcdefg"]
"#;

    #[test]
    fn certificates_and_providers_load_relative_to_the_fixture() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["app.pem", "alice.pem", "hosted.pem"] {
            write_cert(dir.path(), name);
        }
        let w = World::parse_at(CERT_WORLD, "w", Some(dir.path()), 0).unwrap();
        let holders: Vec<_> = w
            .certificates
            .iter()
            .map(|r| r.holder.to_string())
            .collect();
        assert_eq!(
            holders,
            ["box abcdefg", "user user01", "provider \"Hosted Records\""]
        );
        assert_eq!(
            w.provider_boxes,
            vec![(
                "Hosted Records".to_owned(),
                BoxId::parse("abcdefg").unwrap()
            )]
        );

        // The whole world, certificates included, is one atomic write.
        let store = crate::store::open_memory();
        store::insert_world(store.as_ref(), &w).unwrap();
        let mut expected = w.certificates.clone();
        expected.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
        assert_eq!(certificates::list(store.as_ref()).unwrap(), expected);
        let err = store::insert_world(store.as_ref(), &w).unwrap_err();
        assert!(matches!(err, RepoError::Exists(_)), "{err}");

        // Without a fixture file there is nothing to resolve paths against.
        let err = World::parse(CERT_WORLD, "w", 0).unwrap_err().to_string();
        assert!(err.contains("need a fixture file"), "{err}");
    }

    #[test]
    fn certificate_mistakes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["app.pem", "alice.pem", "hosted.pem"] {
            write_cert(dir.path(), name);
        }
        let parse = |text: &str| {
            World::parse_at(text, "w", Some(dir.path()), 0)
                .unwrap_err()
                .to_string()
        };
        let err = parse(&CERT_WORLD.replace("certs/hosted.pem", "certs/app.pem"));
        assert!(err.contains("registered twice"), "{err}");
        let err = parse(&CERT_WORLD.replace("boxes = [\"abcdefg\"]", "boxes = [\"zzzzzzz\"]"));
        assert!(err.contains("box zzzzzzz is not defined"), "{err}");
        let err = parse(&CERT_WORLD.replace("certs/alice.pem", "certs/missing.pem"));
        assert!(err.contains("missing.pem"), "{err}");
        let err = parse(&CERT_WORLD.replace("\"user01\"", "\"system\""));
        assert!(err.contains("reserved"), "{err}");
        let err = parse(&CERT_WORLD.replace("Hosted Records", "a/b"));
        assert!(err.contains("invalid provider name"), "{err}");
        std::fs::write(dir.path().join("certs/app.pem"), "not a certificate").unwrap();
        let err = parse(CERT_WORLD);
        assert!(err.contains("no CERTIFICATE block"), "{err}");
    }
    #[test]
    fn loading_adds_to_a_store_all_or_nothing_and_refuses_what_exists() {
        let store = crate::store::open_memory();
        let loaded = load_fixture(store.as_ref(), DEMO_WORLD, "demo", 0).unwrap();
        assert_eq!(loaded.boxes, 3);
        assert_eq!(loaded.users, 5);
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
