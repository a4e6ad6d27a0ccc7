//! Authentication: who is calling, decided from the login prefix, the HTTP
//! `Authorization` header and the TLS client certificate, before the body is
//! read.
//!
//! Failures are HTTP 401 with `WWW-Authenticate` and the ISDS
//! `X-Response-message-code`/`-text` headers; they never reach a handler.

mod basic;
mod certificate;
mod otp;

use std::sync::Arc;

use crate::domain::clock::Clock;
use crate::domain::repo::RepoError;
use crate::domain::{DataBox, User};
use crate::http::routes::LoginMethod;
use crate::store::Store;
use crate::tls::PeerCertificate;

pub use basic::parse_basic;
pub use otp::{OtpLoginOutcome, OtpStep, SESSION_COOKIE, SESSION_IDLE_SECONDS, SentSms};

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
    /// ([`crate::domain::certificates::application_user`]), which is never
    /// stored and has no password.
    pub user: User,
    pub databox: DataBox,
    pub method: LoginMethod,
    /// Who is acting: a person, or software acting for the box.
    pub actor: Actor,
    /// The password expired (or was set by someone else): only the password
    /// services may be called.
    pub must_change_password: bool,
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
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, policy: AuthPolicy) -> Self {
        Self {
            store,
            clock,
            policy,
            otp: otp::OtpState::default(),
        }
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
                basic::login(
                    self.store.clone(),
                    self.clock.as_ref(),
                    &self.policy,
                    login,
                    password,
                    creds.method,
                )
                .await
            }
            LoginMethod::SystemCertificate
            | LoginMethod::CertificateAndBasic
            | LoginMethod::HostedProvider => certificate::login(self, creds).await,
            LoginMethod::OtpSession => otp::session(self, creds).await,
        }
    }
}
