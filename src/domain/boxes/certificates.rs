//! Client certificates registered for mutual-TLS logins, and the boxes that
//! authorised a hosted records-management provider.
//!
//! A certificate is identified by the SHA-256 fingerprint of its DER form
//! and belongs to exactly one holder:
//! - a **user** (a commercial certificate): `/certds/DS/…` together with the
//!   user's password; once registered, the password alone on `/DS/…` is
//!   refused;
//! - a **box** (a system certificate): `/cert/DS/…` logs in as the box's
//!   application;
//! - a **hosted provider** (its system certificate, under the provider's
//!   name): `/hspis/DS/…` for every box that authorised that provider.
//!   Authorisations are kept per provider name, so they survive a renewal
//!   of the provider's certificate.
//!
//! Layout (tree: key → value):
//! - `certificates`: fingerprint → [`Registration`] (JSON)
//! - `user_certificates`: `<user ID>/<fingerprint>` → empty
//! - `provider_boxes`: `<provider name>/<box ID>` → empty
//!
//! Which issuers are accepted at all is decided earlier, in the TLS
//! handshake (`tls.client_ca`); validity dates are checked at each login.

use std::fmt;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::boxes::credentials::PasswordHash;
use crate::domain::boxes::databox::{BoxId, DataBox};
use crate::domain::boxes::repo::{self, RepoError};
use crate::domain::boxes::user::{PersonName, Privileges, User, UserId, UserType};
use crate::store::{Batch, KeyRange, Order, Store, StoreError};
use crate::tls::PeerCertificate;

const CERTIFICATES: &str = "certificates";
pub(crate) const USER_CERTIFICATES: &str = "user_certificates";
const PROVIDER_BOXES: &str = "provider_boxes";

/// The user ID of the synthetic user a box's application acts as (see
/// [`application_user`]). World fixtures may not use it.
pub const APPLICATION_USER_ID: &str = "system";

/// Longest accepted provider name, in characters.
const MAX_PROVIDER_NAME: usize = 100;

/// A certificate's SHA-256 fingerprint over its DER form: 64 lowercase hex
/// digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Fingerprint(String);

/// A string that is not a SHA-256 fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fingerprint {0:?}: expected 64 hex digits (SHA-256), colons allowed")]
pub struct InvalidFingerprint(pub String);

impl Fingerprint {
    /// Accepts hex in either case, with or without `:` or space separators
    /// (as `openssl x509 -fingerprint -sha256` prints it).
    pub fn parse(s: &str) -> Result<Self, InvalidFingerprint> {
        let hex: String = s
            .trim()
            .chars()
            .filter(|c| *c != ':' && *c != ' ')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Fingerprint(hex))
        } else {
            Err(InvalidFingerprint(s.to_owned()))
        }
    }

    /// The fingerprint of a certificate.
    pub fn of(cert: &PeerCertificate) -> Self {
        Fingerprint(crate::tls::sha256_hex(&cert.der))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Fingerprint {
    type Error = InvalidFingerprint;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Fingerprint::parse(&s)
    }
}

impl From<Fingerprint> for String {
    fn from(f: Fingerprint) -> String {
        f.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whom a certificate is registered to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Holder {
    /// A user's commercial certificate (`/certds`).
    User { user: UserId },
    /// A box's system certificate (`/cert`).
    Box { box_id: BoxId },
    /// A hosted records-management provider's system certificate (`/hspis`).
    Provider { name: String },
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Holder::User { user } => write!(f, "user {user}"),
            Holder::Box { box_id } => write!(f, "box {box_id}"),
            Holder::Provider { name } => write!(f, "provider {name:?}"),
        }
    }
}

/// One registered certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub fingerprint: Fingerprint,
    pub holder: Holder,
    /// Subject and issuer DN, for people reading listings.
    pub subject: String,
    pub issuer: String,
    /// Validity bounds, Unix seconds (informative: logins check the
    /// presented certificate itself).
    pub not_before: i64,
    pub not_after: i64,
}

impl Registration {
    /// A registration of `cert` to `holder`.
    pub fn new(cert: &PeerCertificate, holder: Holder) -> Self {
        Registration {
            fingerprint: Fingerprint::of(cert),
            holder,
            subject: cert.subject.clone(),
            issuer: cert.issuer.clone(),
            not_before: cert.not_before,
            not_after: cert.not_after,
        }
    }
}

/// Registering or reading certificates failed.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("cannot read certificate file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {reason}")]
    Pem { origin: String, reason: String },
    #[error(transparent)]
    Fingerprint(#[from] InvalidFingerprint),
    #[error("certificate {fingerprint} is already registered (to {holder})")]
    AlreadyRegistered { fingerprint: String, holder: String },
    #[error("no user with login {0:?}")]
    NoSuchLogin(String),
    #[error("no user with ID {0}")]
    NoSuchUser(UserId),
    #[error("no box with ID {0}")]
    NoSuchBox(BoxId),
    #[error("invalid provider name {0:?}: 1 to 100 characters, no '/' and no control characters")]
    InvalidProviderName(String),
    #[error("certificate {0} is not registered to a hosted provider")]
    NotAProvider(Fingerprint),
}

/// The leaf (first) certificate of a PEM file; other blocks (a chain, a
/// private key) are ignored.
pub fn read_pem_file(path: &Path) -> Result<PeerCertificate, CertificateError> {
    let bytes = std::fs::read(path).map_err(|source| CertificateError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_pem(&bytes, &path.display().to_string())
}

/// The first CERTIFICATE block of PEM text; `origin` names it in errors.
pub fn parse_pem(bytes: &[u8], origin: &str) -> Result<PeerCertificate, CertificateError> {
    let pem_error = |reason: String| CertificateError::Pem {
        origin: origin.to_owned(),
        reason,
    };
    let first = rustls_pemfile::certs(&mut BufReader::new(bytes))
        .next()
        .ok_or_else(|| pem_error("no CERTIFICATE block found".into()))?
        .map_err(|e| pem_error(format!("malformed PEM: {e}")))?;
    PeerCertificate::from_der(&first).map_err(|e| pem_error(e.to_string()))
}

/// Checks a hosted provider's name: it keys the authorisations, so `/` and
/// control characters are out.
pub fn check_provider_name(name: &str) -> Result<(), CertificateError> {
    let len = name.chars().count();
    if (1..=MAX_PROVIDER_NAME).contains(&len)
        && !name.contains('/')
        && !name.chars().any(char::is_control)
        && name.trim() == name
    {
        Ok(())
    } else {
        Err(CertificateError::InvalidProviderName(name.to_owned()))
    }
}

/// The synthetic user a box's application acts as: it belongs to the box,
/// holds every privilege, has no password (nothing verifies against it) and
/// is never stored. Its login is the box ID.
pub fn application_user(databox: &DataBox) -> User {
    User {
        // A constant that the unit tests below parse.
        id: UserId::parse(APPLICATION_USER_ID).expect("APPLICATION_USER_ID is a valid user ID"),
        box_id: databox.id.clone(),
        login: databox.id.to_string(),
        user_type: UserType::PrimaryUser,
        // "Virtual" users, applications with a server certificate of their
        // own or of a hosted records service, have the fixed rights 159:
        // every message and search right, not PRIVIL_OWNER_ADM (messages
        // manual 1.4). They administer nobody.
        privileges: Privileges::APPLICATION,
        name: PersonName::default(),
        password: PasswordHash::unusable(),
        password_set_at: 0,
        must_change_password: false,
        personal: Default::default(),
    }
}

// ---------------------------------------------------------------------------
// Reading

/// The registration of a certificate, if any.
pub fn lookup(
    store: &dyn Store,
    fingerprint: &Fingerprint,
) -> Result<Option<Registration>, RepoError> {
    match store
        .tree(CERTIFICATES)?
        .get(fingerprint.as_str().as_bytes())?
    {
        Some(bytes) => Ok(Some(decode(&bytes, fingerprint.as_str())?)),
        None => Ok(None),
    }
}

/// Whether any certificate is registered to the user (then the password
/// alone no longer logs them in).
pub fn user_has_certificate(store: &dyn Store, user: &UserId) -> Result<bool, RepoError> {
    let prefix = format!("{user}/");
    Ok(store
        .tree(USER_CERTIFICATES)?
        .first_in(KeyRange::prefix(prefix.as_bytes()), Order::Ascending)?
        .is_some())
}

/// Whether the box authorised the hosted provider.
pub fn provider_may_act_for(
    store: &dyn Store,
    provider: &str,
    box_id: &BoxId,
) -> Result<bool, RepoError> {
    Ok(store
        .tree(PROVIDER_BOXES)?
        .contains_key(provider_box_key(provider, box_id).as_bytes())?)
}

/// Every registration, in fingerprint order.
pub fn list(store: &dyn Store) -> Result<Vec<Registration>, RepoError> {
    let mut out = Vec::new();
    for entry in store
        .tree(CERTIFICATES)?
        .iter(KeyRange::all(), Order::Ascending)
    {
        let (key, value) = entry?;
        out.push(decode(&value, &String::from_utf8_lossy(&key))?);
    }
    Ok(out)
}

/// Every `(provider name, box ID)` authorisation, in that order.
pub fn provider_authorisations(store: &dyn Store) -> Result<Vec<(String, BoxId)>, RepoError> {
    let mut out = Vec::new();
    for entry in store
        .tree(PROVIDER_BOXES)?
        .iter(KeyRange::all(), Order::Ascending)
    {
        let (key, _) = entry?;
        let parsed = std::str::from_utf8(&key)
            .ok()
            .and_then(|k| k.rsplit_once('/'))
            .and_then(|(name, id)| Some((name.to_owned(), BoxId::parse(id).ok()?)));
        match parsed {
            Some(pair) => out.push(pair),
            None => {
                return Err(RepoError::Store(StoreError::Corrupt(format!(
                    "provider authorisation key {}",
                    crate::store::show_key(&key)
                ))));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Writing (every write is durable)

/// Registers a certificate to its holder, who must exist (a hosted
/// provider exists once a certificate is registered under its name).
/// Refuses a certificate that is registered already, to anyone.
pub fn register(store: &dyn Store, registration: &Registration) -> Result<(), CertificateError> {
    match &registration.holder {
        Holder::User { user } => {
            if repo::get_user(store, user)?.is_none() {
                return Err(CertificateError::NoSuchUser(user.clone()));
            }
        }
        Holder::Box { box_id } => {
            if repo::get_box(store, box_id)?.is_none() {
                return Err(CertificateError::NoSuchBox(box_id.clone()));
            }
        }
        Holder::Provider { name } => check_provider_name(name)?,
    }
    let mut batch = Batch::new();
    stage_register(&mut batch, registration);
    match store.apply_durable(batch) {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict { .. }) => {
            let holder = lookup(store, &registration.fingerprint)?
                .map(|r| r.holder.to_string())
                .unwrap_or_else(|| "someone".into());
            Err(CertificateError::AlreadyRegistered {
                fingerprint: registration.fingerprint.to_string(),
                holder,
            })
        }
        Err(e) => Err(RepoError::from(e).into()),
    }
}

/// Removes a registration; returns it, or `None` if there was none.
/// Provider authorisations stay (they belong to the provider's name).
pub fn unregister(
    store: &dyn Store,
    fingerprint: &Fingerprint,
) -> Result<Option<Registration>, CertificateError> {
    let Some(registration) = lookup(store, fingerprint)? else {
        return Ok(None);
    };
    let mut batch = Batch::new();
    batch.expect(
        CERTIFICATES,
        fingerprint.as_str(),
        Some(encode(&registration)),
    );
    batch.delete(CERTIFICATES, fingerprint.as_str());
    if let Holder::User { user } = &registration.holder {
        batch.delete(USER_CERTIFICATES, user_cert_key(user, fingerprint));
    }
    store.apply_durable(batch).map_err(RepoError::from)?;
    Ok(Some(registration))
}

/// Records that `box_id` (which must exist) authorised the hosted provider
/// `provider`. Authorising twice is harmless.
pub fn authorise_provider(
    store: &dyn Store,
    provider: &str,
    box_id: &BoxId,
) -> Result<(), CertificateError> {
    check_provider_name(provider)?;
    if repo::get_box(store, box_id)?.is_none() {
        return Err(CertificateError::NoSuchBox(box_id.clone()));
    }
    let mut batch = Batch::new();
    batch.put(
        PROVIDER_BOXES,
        provider_box_key(provider, box_id),
        Vec::new(),
    );
    store.apply_durable(batch).map_err(RepoError::from)?;
    Ok(())
}

/// Withdraws a box's authorisation of a provider; returns whether there
/// was one.
pub fn revoke_provider(
    store: &dyn Store,
    provider: &str,
    box_id: &BoxId,
) -> Result<bool, CertificateError> {
    let key = provider_box_key(provider, box_id);
    let existed = store
        .tree(PROVIDER_BOXES)
        .map_err(RepoError::from)?
        .contains_key(key.as_bytes())
        .map_err(RepoError::from)?;
    let mut batch = Batch::new();
    batch.delete(PROVIDER_BOXES, key);
    store.apply_durable(batch).map_err(RepoError::from)?;
    Ok(existed)
}

/// Adds a registration's writes to `batch`, with the precondition that the
/// certificate is not registered yet.
pub fn stage_register(batch: &mut Batch, registration: &Registration) {
    let fp = registration.fingerprint.as_str();
    batch.expect_absent(CERTIFICATES, fp);
    batch.put(CERTIFICATES, fp, encode(registration));
    if let Holder::User { user } = &registration.holder {
        batch.put(
            USER_CERTIFICATES,
            user_cert_key(user, &registration.fingerprint),
            Vec::new(),
        );
    }
}

/// Adds certificate registrations and provider authorisations (a world
/// fixture's) to the batch that writes their boxes and users.
pub fn stage_registrations(
    batch: &mut Batch,
    registrations: &[Registration],
    provider_boxes: &[(String, BoxId)],
) {
    for registration in registrations {
        stage_register(batch, registration);
    }
    for (provider, box_id) in provider_boxes {
        batch.put(
            PROVIDER_BOXES,
            provider_box_key(provider, box_id),
            Vec::new(),
        );
    }
}

fn user_cert_key(user: &UserId, fingerprint: &Fingerprint) -> String {
    format!("{user}/{fingerprint}")
}

fn provider_box_key(provider: &str, box_id: &BoxId) -> String {
    format!("{provider}/{box_id}")
}

fn encode(registration: &Registration) -> Vec<u8> {
    // Plain struct with string keys: serialising cannot fail.
    serde_json::to_vec(registration).unwrap_or_default()
}

fn decode(bytes: &[u8], what: &str) -> Result<Registration, RepoError> {
    serde_json::from_slice(bytes).map_err(|source| RepoError::Corrupt {
        what: format!("certificate registration {what}"),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::open_memory;

    fn cert(cn: &str) -> PeerCertificate {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let cert = params.self_signed(&key).unwrap();
        parse_pem(cert.pem().as_bytes(), "test").unwrap()
    }

    fn demo_store() -> std::sync::Arc<dyn Store> {
        let store = open_memory();
        let world = crate::domain::world::World::parse(crate::domain::world::DEMO_WORLD, "demo", 0)
            .unwrap();
        crate::domain::world::store::insert_world(store.as_ref(), &world).unwrap();
        store
    }

    #[test]
    fn the_application_user_id_is_a_user_id() {
        assert!(UserId::parse(APPLICATION_USER_ID).is_ok());
    }

    #[test]
    fn fingerprints_normalise() {
        let hex = "AB".repeat(32);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(
            Fingerprint::parse(&hex).unwrap(),
            Fingerprint::parse(&colons).unwrap()
        );
        assert_eq!(Fingerprint::parse(&hex).unwrap().as_str(), "ab".repeat(32));
        assert!(Fingerprint::parse("abc").is_err());
        assert!(Fingerprint::parse(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn register_lookup_unregister() {
        let store = demo_store();
        let s = store.as_ref();
        let alice = cert("alice");
        let user = UserId::parse("popu01").unwrap();
        let reg = Registration::new(&alice, Holder::User { user: user.clone() });
        assert!(!user_has_certificate(s, &user).unwrap());
        register(s, &reg).unwrap();
        assert_eq!(lookup(s, &reg.fingerprint).unwrap(), Some(reg.clone()));
        assert!(user_has_certificate(s, &user).unwrap());

        // One certificate, one holder.
        let again = Registration::new(
            &alice,
            Holder::Box {
                box_id: BoxId::parse("ovm4dem").unwrap(),
            },
        );
        let err = register(s, &again).unwrap_err().to_string();
        assert!(err.contains("already registered (to user popu01)"), "{err}");

        assert_eq!(list(s).unwrap(), vec![reg.clone()]);
        assert_eq!(unregister(s, &reg.fingerprint).unwrap(), Some(reg.clone()));
        assert!(!user_has_certificate(s, &user).unwrap());
        assert_eq!(unregister(s, &reg.fingerprint).unwrap(), None);
    }

    #[test]
    fn holders_must_exist() {
        let store = demo_store();
        let s = store.as_ref();
        let c = cert("x");
        let missing_user = Registration::new(
            &c,
            Holder::User {
                user: UserId::parse("nobody").unwrap(),
            },
        );
        assert!(matches!(
            register(s, &missing_user),
            Err(CertificateError::NoSuchUser(_))
        ));
        let missing_box = Registration::new(
            &c,
            Holder::Box {
                box_id: BoxId::parse("nobox00").unwrap(),
            },
        );
        assert!(matches!(
            register(s, &missing_box),
            Err(CertificateError::NoSuchBox(_))
        ));
        let bad_name = Registration::new(&c, Holder::Provider { name: "a/b".into() });
        assert!(matches!(
            register(s, &bad_name),
            Err(CertificateError::InvalidProviderName(_))
        ));
        assert!(list(s).unwrap().is_empty());
    }

    #[test]
    fn provider_authorisations_by_name() {
        let store = demo_store();
        let s = store.as_ref();
        let ovm = BoxId::parse("ovm4dem").unwrap();
        let po = BoxId::parse("po4demo").unwrap();
        authorise_provider(s, "Hosted Records", &ovm).unwrap();
        authorise_provider(s, "Hosted Records", &ovm).unwrap();
        assert!(provider_may_act_for(s, "Hosted Records", &ovm).unwrap());
        assert!(!provider_may_act_for(s, "Hosted Records", &po).unwrap());
        assert!(!provider_may_act_for(s, "Other", &ovm).unwrap());
        assert_eq!(
            provider_authorisations(s).unwrap(),
            vec![("Hosted Records".to_owned(), ovm.clone())]
        );
        assert!(matches!(
            authorise_provider(s, "Hosted Records", &BoxId::parse("nobox00").unwrap()),
            Err(CertificateError::NoSuchBox(_))
        ));
        assert!(revoke_provider(s, "Hosted Records", &ovm).unwrap());
        assert!(!provider_may_act_for(s, "Hosted Records", &ovm).unwrap());
    }

    #[test]
    fn pem_errors_name_the_origin() {
        let err = parse_pem(b"hello", "x.pem").unwrap_err().to_string();
        assert!(err.starts_with("x.pem: no CERTIFICATE"), "{err}");
    }
}
