//! Authentication: who is calling, decided from the login prefix, the HTTP
//! `Authorization` header and the TLS client certificate, before the body is
//! read.
//!
//! Failures are HTTP 401 with `WWW-Authenticate` and the ISDS
//! `X-Response-message-code`/`-text` headers; they never reach a handler.

mod basic;
mod certificate;
mod hash_pool;
mod lockout;
mod mobile_key;
mod otp;
mod recalled;
mod verified;

use std::sync::Arc;

use crate::config::OperatorConfig;
use crate::domain::boxes::repo::RepoError;
use crate::domain::clock::Clock;
use crate::domain::{
    BoxAddress, BoxId, BoxState, BoxType, DataBox, Owner, PersonName, Privileges, User, UserId,
    UserType,
};
use crate::http::routes::LoginMethod;
use crate::store::Store;
use crate::tls::PeerCertificate;

pub use basic::parse_basic;
pub use mobile_key::{MepLoginOutcome, PendingRequest, REQUEST_COOKIE};
pub use otp::{
    OtpLoginOutcome, OtpStep, OtpVerified, SESSION_COOKIE, SESSION_IDLE_SECONDS, SentSms,
};

/// Rules for password logins.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    /// Failed logins in a row after which the user is blocked.
    pub max_failed_logins: u32,
    /// How long a blocked user stays blocked, in seconds.
    pub block_seconds: i64,
    /// How long a password is valid, in seconds (unless the box set
    /// unlimited validity).
    pub password_validity_seconds: i64,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        Self {
            max_failed_logins: 5,
            block_seconds: 60 * 60,
            password_validity_seconds: 90 * 24 * 60 * 60,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The user acting: a real user of the box for [`Actor::Person`];
    /// otherwise the box's synthetic application user
    /// ([`crate::domain::boxes::certificates::application_user`]), which is never
    /// stored and has no password.
    ///
    /// Shared: a login recalled from memory ([`recalled`]) hands every
    /// request of the login the same records instead of a copy each.
    pub user: Arc<User>,
    pub databox: Arc<DataBox>,
    pub method: LoginMethod,
    /// Who is acting: a person, or software acting for the box.
    pub actor: Actor,
    /// The password expired (or was set by someone else): only the password
    /// services may be called.
    pub must_change_password: bool,
}

impl Identity {
    pub fn is_operator(&self) -> bool {
        self.actor == Actor::Operator
    }

    /// The operator's identity, logged in as `login`.
    fn operator(login: &str, method: LoginMethod) -> Option<Identity> {
        let box_id = BoxId::parse(crate::domain::boxes::databox::SYSTEM_BOX_ID).ok()?;
        let user = User {
            id: UserId::parse("aaaaaa").ok()?,
            box_id: box_id.clone(),
            login: login.to_owned(),
            user_type: UserType::Administrator,
            privileges: Privileges::ALL,
            name: PersonName {
                last_name: "Provozovatel ISDS".to_owned(),
                ..PersonName::default()
            },
            // Never checked: the operator's password is compared with the
            // configuration, not with a stored hash.
            password: crate::domain::boxes::credentials::PasswordHash::unusable(),
            password_set_at: 0,
            must_change_password: false,
            personal: Default::default(),
        };
        let databox = DataBox {
            id: box_id,
            box_type: BoxType::OVM,
            state: BoxState::Accessible,
            owner: Owner {
                firm_name: "Informační systém datových schránek".to_owned(),
                address: BoxAddress::default(),
                ..Owner::default()
            },
            effective_ovm: true,
            open_addressing: false,
            attachment_limit_mb: 0,
            unlimited_password_validity: true,
            public_listing: true,
        };
        Some(Identity {
            user: Arc::new(user),
            databox: Arc::new(databox),
            method,
            must_change_password: false,
            actor: Actor::Operator,
        })
    }
}

/// Who stands behind an [`Identity`]. ISDS records this: messages sent by
/// a box's application carry the author type `VIRTUAL` (as
/// GetMessageAuthor reports it) instead of the user's type, and acceptance
/// by such a login is its own delivery event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person with their own credentials (password, commercial
    /// certificate, OTP).
    Person,
    /// The box's own application, by a system certificate registered to
    /// the box (`/cert`).
    Application,
    /// A hosted records-management provider acting for a box that
    /// authorised it (`/hspis`).
    HostedProvider { provider: String },
    /// The gateway operator (configured credentials, not a box user). It
    /// acts for ISDS itself: its identity carries the system box `aaaaaaa`
    /// and a user record that is stored nowhere, and the dispatcher lets it
    /// call the db_manipulations operations only.
    Operator,
}

impl Actor {
    /// Whether a person (not software acting for the box) is logged in.
    pub fn is_person(&self) -> bool {
        matches!(self, Actor::Person)
    }
}

/// Why a caller was not let in. Each maps to ISDS's 401 headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("no credentials were sent")]
    NoCredentials,
    #[error("the user name or password is wrong")]
    BadCredentials,
    #[error("the user is blocked after repeated failed logins")]
    IntruderDetected,
    #[error("the password has expired; only the password services may be called")]
    PasswordExpired,
    #[error("this login method is not available for this user")]
    BadRole,
    #[error("this login method is not supported by the gateway yet")]
    Unsupported,
}

impl AuthFailure {
    /// The `X-Response-message-code` ISDS sends with the 401.
    pub fn message_code(&self) -> &'static str {
        match self {
            AuthFailure::NoCredentials | AuthFailure::BadCredentials => {
                "authentication.error.userIsNotAuthenticated"
            }
            AuthFailure::IntruderDetected => "authentication.error.intruderDetected",
            // ISDS spells it this way.
            AuthFailure::PasswordExpired => "authentication.error.paswordExpired",
            AuthFailure::BadRole | AuthFailure::Unsupported => "authentication.error.badRole",
        }
    }

    /// The Czech text ISDS shows with the code.
    pub fn message_text(&self) -> &'static str {
        match self {
            AuthFailure::NoCredentials | AuthFailure::BadCredentials => {
                "Uživatel nebyl ověřen: chybné přihlašovací údaje."
            }
            AuthFailure::IntruderDetected => {
                "Přístup byl zablokován na 60 minut kvůli opakovaným neúspěšným přihlášením."
            }
            AuthFailure::PasswordExpired => "Platnost hesla vypršela, heslo je nutné změnit.",
            AuthFailure::BadRole => "Tento způsob přihlášení není pro uživatele povolen.",
            AuthFailure::Unsupported => "Tento způsob přihlášení brána zatím nepodporuje.",
        }
    }
}

/// Authentication could not be decided (the store failed).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("password verification task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Hashing(#[from] hash_pool::PoolGone),
}

/// What the HTTP layer knows about a request's credentials.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    pub method: LoginMethod,
    /// The raw `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// The client certificate of the TLS connection, if any.
    pub peer_certificate: Option<&'a PeerCertificate>,
    /// The raw `Cookie` header, if any.
    pub cookie: Option<&'a str>,
}

/// Decides who is calling.
pub struct Authenticator {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    policy: AuthPolicy,
    /// OTP sessions and the simulated SMS outbox.
    otp: otp::OtpState,
    /// Mobile Key login requests waiting for the simulated phone.
    mep: mobile_key::MepState,
    /// The operator's login and a slow hash of its password.
    operator: Option<(String, crate::domain::boxes::credentials::PasswordHash)>,
    /// Serialised attempts per login; failures of unstored logins.
    lockout: lockout::Lockout,
    /// Passwords that verified recently (saves Argon2 work per request).
    verified: Arc<verified::VerifiedPasswords>,
    /// Basic logins decided recently, while their trees are unchanged.
    recalled: Arc<recalled::RecalledLogins>,
    /// The threads that run Argon2 verifications (bounded memory and CPU).
    hashing: hash_pool::HashPool,
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, policy: AuthPolicy) -> Self {
        Self {
            store,
            clock,
            policy,
            otp: otp::OtpState::default(),
            mep: mobile_key::MepState::default(),
            operator: None,
            lockout: lockout::Lockout::default(),
            verified: Arc::default(),
            recalled: Arc::default(),
            hashing: hash_pool::HashPool::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
        }
    }

    /// Accepts the gateway operator's credentials on HTTP Basic logins
    /// (`None`: there is no operator). The operator's login shadows a box
    /// user with the same login.
    ///
    /// The password is kept only as an Argon2 hash, checked like a user's.
    pub fn with_operator(mut self, operator: Option<OperatorConfig>) -> Self {
        self.operator = operator.and_then(|op| {
            match crate::domain::boxes::credentials::PasswordHash::new(&op.password) {
                Ok(hash) => Some((op.login, hash)),
                Err(err) => {
                    tracing::error!(error = %err, "cannot hash the operator's password; no operator");
                    None
                }
            }
        });
        self
    }

    /// Runs store work of a login on tokio's blocking pool and waits for
    /// it. Store calls block (a page read from disk, a write waiting for
    /// space in the engine's log, a full disk), and a login must never hold
    /// an async worker thread while they do: the other requests,
    /// `/health` among them, run on those threads.
    async fn on_store<R, F>(&self, work: F) -> Result<R, AuthError>
    where
        R: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<R, AuthError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || work(store.as_ref())).await?
    }

    /// Authenticates one request.
    pub async fn authenticate(
        &self,
        creds: Credentials<'_>,
    ) -> Result<Result<Identity, AuthFailure>, AuthError> {
        match creds.method {
            LoginMethod::Basic => {
                let Some((login, password)) = creds.authorization.and_then(parse_basic) else {
                    return Ok(Err(AuthFailure::NoCredentials));
                };
                if let Some((_, hash)) = self.operator.as_ref().filter(|(l, _)| *l == login) {
                    return basic::operator_login(self, hash, login, password, creds.method).await;
                }
                basic::login(self, login, password, creds.method).await
            }
            LoginMethod::SystemCertificate
            | LoginMethod::CertificateAndBasic
            | LoginMethod::HostedProvider => certificate::login(self, creds).await,
            LoginMethod::OtpSession => otp::session(self, creds).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::domain::clock::SystemClock;
    use crate::store::{Batch, StoreError, StoreInfo, Tree, open_memory};

    /// A store whose every call waits while it is held: a disk that does
    /// not answer.
    struct StalledStore {
        inner: Arc<dyn Store>,
        held: Mutex<bool>,
        released: Condvar,
        waiting: AtomicUsize,
    }

    impl StalledStore {
        fn wait_while_held(&self) {
            let mut held = self.held.lock().unwrap();
            self.waiting.fetch_add(1, Ordering::SeqCst);
            // Bounded, so a failing test ends.
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while *held && std::time::Instant::now() < deadline {
                held = self
                    .released
                    .wait_timeout(held, Duration::from_millis(50))
                    .unwrap()
                    .0;
            }
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }

        fn release(&self) {
            *self.held.lock().unwrap() = false;
            self.released.notify_all();
        }
    }

    impl Store for StalledStore {
        fn tree(&self, name: &str) -> Result<Arc<dyn Tree>, StoreError> {
            self.wait_while_held();
            self.inner.tree(name)
        }
        fn apply(&self, batch: Batch) -> Result<(), StoreError> {
            self.wait_while_held();
            self.inner.apply(batch)
        }
        fn next_id(&self, sequence: &str) -> Result<u64, StoreError> {
            self.inner.next_id(sequence)
        }
        fn flush_durable(&self) -> Result<(), StoreError> {
            self.inner.flush_durable()
        }
        fn info(&self) -> StoreInfo {
            self.inner.info()
        }
    }

    /// A login whose store call hangs does not hold the async runtime: on
    /// a single-threaded runtime (as every test gateway runs), other tasks
    /// go on while it waits, and the login completes once the store
    /// answers.
    #[tokio::test(flavor = "current_thread")]
    async fn a_login_waiting_for_the_store_does_not_hold_the_runtime() {
        let store = Arc::new(StalledStore {
            inner: open_memory(),
            held: Mutex::new(true),
            released: Condvar::new(),
            waiting: AtomicUsize::new(0),
        });
        let auth = Arc::new(Authenticator::new(
            store.clone(),
            Arc::new(SystemClock),
            AuthPolicy::default(),
        ));
        let header = format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "nikdo:heslo")
        );
        let login = {
            let auth = auth.clone();
            tokio::spawn(async move {
                auth.authenticate(Credentials {
                    method: LoginMethod::Basic,
                    authorization: Some(&header),
                    peer_certificate: None,
                    cookie: None,
                })
                .await
            })
        };
        // This loop runs on the runtime's only thread: it sees the login
        // waiting in the store only if the login does not hold the thread.
        let seen_waiting = AtomicBool::new(false);
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if store.waiting.load(Ordering::SeqCst) > 0 {
                seen_waiting.store(true, Ordering::SeqCst);
                break;
            }
        }
        assert!(
            seen_waiting.load(Ordering::SeqCst),
            "the runtime stalled while the login waited for the store"
        );
        assert!(!login.is_finished());
        store.release();
        let outcome = login.await.unwrap().unwrap();
        assert_eq!(outcome.err(), Some(AuthFailure::BadCredentials));
    }
}
