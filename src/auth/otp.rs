//! OTP logins (HOTP, TOTP with a simulated SMS) and the cookie sessions
//! they open for `/apps/DS/…`.
//!
//! The password part of an OTP login follows the Basic rules: a wrong
//! password or a wrong code counts as a failed login and blocks the user
//! after too many; failures are cleared only when both factors pass. An
//! expired password still opens a session, which then offers only the
//! password services, as a Basic login would.
//!
//! Sessions live in memory: a restart logs every OTP user out, and they
//! log in again. A session expires after [`SESSION_IDLE_SECONDS`] without
//! use, measured on the authenticator's clock.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use rand_core::{OsRng, RngCore};

use super::basic::{self, parse_basic};
use super::{AuthError, AuthFailure, Authenticator, Credentials, Identity};
use crate::domain::boxes::otp::{self, DIGITS, OtpKind};
use crate::domain::boxes::repo;
use crate::domain::{Privileges, User, UserId};
use crate::http::routes::LoginMethod;

/// The session cookie ISDS sets after an OTP login.
pub const SESSION_COOKIE: &str = "IPCZ-X-COOKIE";
/// A session ends after this many seconds without a request.
pub const SESSION_IDLE_SECONDS: i64 = 30 * 60;
/// How many simulated SMS messages are kept for inspection.
const OUTBOX_CAPACITY: usize = 100;

/// One step of an OTP login, chosen by the `type` and `sendSms` query
/// parameters of `/as/processLogin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpStep {
    /// `type=hotp`: password followed by the token's code.
    Hotp,
    /// `type=totp&sendSms=true`: password only; a code is sent by SMS.
    TotpSendSms,
    /// `type=totp`: password followed by the code from the SMS.
    Totp,
}

impl OtpStep {
    /// The step for a `type` value (case-insensitive) and `sendSms` flag.
    pub fn from_query(kind: &str, send_sms: bool) -> Option<Self> {
        if kind.eq_ignore_ascii_case("hotp") {
            Some(OtpStep::Hotp)
        } else if kind.eq_ignore_ascii_case("totp") {
            Some(if send_sms {
                OtpStep::TotpSendSms
            } else {
                OtpStep::Totp
            })
        } else {
            None
        }
    }

    /// The `WWW-Authenticate` challenge ISDS sends when this step fails.
    pub fn challenge(self) -> &'static str {
        match self {
            OtpStep::Hotp => "hotp",
            OtpStep::TotpSendSms => "totpsendsms",
            OtpStep::Totp => "totp",
        }
    }

    fn kind(self) -> OtpKind {
        match self {
            OtpStep::Hotp => OtpKind::Hotp,
            OtpStep::TotpSendSms | OtpStep::Totp => OtpKind::Totp,
        }
    }
}

/// What an OTP login step achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OtpLoginOutcome {
    /// Both factors passed: a session was opened with this ID (the value of
    /// the [`SESSION_COOKIE`]).
    SessionOpened { session_id: String },
    /// The password passed and a TOTP code was "sent" (see
    /// [`Authenticator::sent_sms`]).
    SmsSent,
    /// Refused; answer 401 with the step's challenge.
    Refused(AuthFailure),
}

/// What [`Authenticator::otp_verify`] found.
#[derive(Debug, Clone)]
pub enum OtpVerified {
    /// Password and code are right: this user.
    User(crate::domain::User),
    /// The password is right and a TOTP code was "sent".
    SmsSent,
    /// The password is right, but a code was sent too recently.
    SmsTooSoon,
    /// Refused; answer 401 with the step's challenge.
    Refused(AuthFailure),
}

/// A simulated SMS carrying a TOTP login code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    pub login: String,
    pub user: UserId,
    pub code: String,
    /// Unix time it was sent.
    pub sent_at: i64,
}

/// Sessions and the SMS outbox, held by the [`Authenticator`].
#[derive(Debug, Default)]
pub(super) struct OtpState {
    sessions: Mutex<HashMap<String, Session>>,
    outbox: Mutex<VecDeque<SentSms>>,
}

#[derive(Debug, Clone)]
struct Session {
    user: UserId,
    last_used: i64,
    /// The user's rights at the login: a change applies at the next login
    /// (as ISDS applies rights at login), not within an open session.
    privileges: Privileges,
}

/// Locks a mutex even if a panicking thread poisoned it: the maps stay
/// consistent because every critical section is a single map operation.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Authenticator {
    /// Runs one step of an OTP login with the request's raw
    /// `Authorization` header.
    pub async fn otp_login(
        &self,
        step: OtpStep,
        authorization: Option<&str>,
    ) -> Result<OtpLoginOutcome, AuthError> {
        let user = match self.otp_verify(step, authorization, None).await? {
            OtpVerified::User(user) => user,
            // No interval is asked for here, so no SMS is ever held back.
            OtpVerified::SmsSent | OtpVerified::SmsTooSoon => {
                return Ok(OtpLoginOutcome::SmsSent);
            }
            OtpVerified::Refused(failure) => return Ok(OtpLoginOutcome::Refused(failure)),
        };
        let now = self.clock.unix();
        let session_id = self.open_session(&user, now);
        tracing::info!(login = %user.login, user = %user.id, kind = step.kind().name(), "OTP login opened a session");
        Ok(OtpLoginOutcome::SessionOpened { session_id })
    }

    /// Opens a cookie session for `user` (an OTP or Mobile Key login
    /// passed) and returns its ID, the value of the [`SESSION_COOKIE`].
    pub(super) fn open_session(&self, user: &User, now: i64) -> String {
        let session_id = new_session_id();
        let mut sessions = lock(&self.otp.sessions);
        sessions.retain(|_, s| now - s.last_used <= SESSION_IDLE_SECONDS);
        sessions.insert(
            session_id.clone(),
            Session {
                user: user.id.clone(),
                last_used: now,
                privileges: user.privileges,
            },
        );
        session_id
    }

    /// Checks the credentials of one OTP step without opening a session
    /// (the login steps and the OTP password services of `/asws/…` share
    /// it): for [`OtpStep::TotpSendSms`] the password, then a code is
    /// "sent"; for the others the password followed by a valid, unused
    /// code of the user's own OTP kind. With `sms_interval`, no code is
    /// sent if the user got one fewer than that many seconds ago.
    pub async fn otp_verify(
        &self,
        step: OtpStep,
        authorization: Option<&str>,
        sms_interval: Option<i64>,
    ) -> Result<OtpVerified, AuthError> {
        let Some((login, password)) = authorization.and_then(parse_basic) else {
            return Ok(OtpVerified::Refused(AuthFailure::NoCredentials));
        };
        let (password, code) = match step {
            OtpStep::TotpSendSms => (password, None),
            OtpStep::Hotp | OtpStep::Totp => split_code(password),
        };
        // The attempt guard is held until the code is decided too, so the
        // failure count of this login cannot be outrun by parallel guesses.
        let (user, _attempt) = match basic::verify_password(self, login.clone(), password).await? {
            Ok(verified) => verified,
            Err(failure) => return Ok(OtpVerified::Refused(failure)),
        };
        let secret = {
            let id = user.id.clone();
            self.on_store(move |store| Ok(otp::get_secret(store, &id)?))
                .await?
        };
        let secret = match secret {
            Some(secret) if secret.kind == step.kind() => secret,
            _ => return Ok(OtpVerified::Refused(AuthFailure::BadRole)),
        };
        let now = self.clock.unix();

        if step == OtpStep::TotpSendSms {
            let recent = |interval| {
                lock(&self.otp.outbox)
                    .iter()
                    .any(|sms| sms.user == user.id && (0..interval).contains(&(now - sms.sent_at)))
            };
            if sms_interval.is_some_and(recent) {
                return Ok(OtpVerified::SmsTooSoon);
            }
            let sms = SentSms {
                login,
                user: user.id.clone(),
                code: secret.totp_code(now),
                sent_at: now,
            };
            tracing::info!(
                login = %sms.login,
                user = %sms.user,
                code = %sms.code,
                "simulated SMS with a TOTP login code"
            );
            let mut outbox = lock(&self.otp.outbox);
            if outbox.len() >= OUTBOX_CAPACITY {
                outbox.pop_front();
            }
            outbox.push_back(sms);
            return Ok(OtpVerified::SmsSent);
        }

        let counter = code.as_deref().and_then(|c| secret.check(c, now));
        let policy = self.policy.clone();
        let id = user.id.clone();
        let refused = self
            .on_store(move |store| {
                let accepted = match counter {
                    // A concurrent login that used a code first wins; this
                    // one is refused like a wrong code.
                    Some(counter) => otp::advance_counter(store, &id, &secret, counter)?,
                    None => false,
                };
                if !accepted {
                    return basic::record_failure(store, &policy, now, &id).map(Some);
                }
                basic::clear_failures(store, &id)?;
                Ok(None)
            })
            .await?;
        Ok(match refused {
            Some(failure) => OtpVerified::Refused(failure),
            None => OtpVerified::User(user),
        })
    }

    /// Ends the sessions named in a `Cookie` header. Returns whether one
    /// existed.
    pub fn otp_logout(&self, cookie_header: Option<&str>) -> bool {
        let mut sessions = lock(&self.otp.sessions);
        session_ids(cookie_header)
            .filter(|id| sessions.remove(*id).is_some())
            .count()
            > 0
    }

    /// The simulated SMS messages sent so far (the latest
    /// [`OUTBOX_CAPACITY`]), oldest first.
    pub fn sent_sms(&self) -> Vec<SentSms> {
        lock(&self.otp.outbox).iter().cloned().collect()
    }

    /// The code of the latest simulated SMS sent for `login`.
    pub fn last_sms_code(&self, login: &str) -> Option<String> {
        lock(&self.otp.outbox)
            .iter()
            .rev()
            .find(|sms| sms.login == login)
            .map(|sms| sms.code.clone())
    }
}

/// Authenticates a request by its OTP session cookie, refreshing the
/// session.
pub(super) async fn session(
    auth: &Authenticator,
    creds: Credentials<'_>,
) -> Result<Result<Identity, AuthFailure>, AuthError> {
    let now = auth.clock.unix();
    let user_id = {
        let mut sessions = lock(&auth.otp.sessions);
        let mut found = None;
        for id in session_ids(creds.cookie) {
            let Some(session) = sessions.get_mut(id) else {
                continue;
            };
            if now - session.last_used > SESSION_IDLE_SECONDS {
                sessions.remove(id);
                continue;
            }
            session.last_used = now;
            found = Some((session.user.clone(), session.privileges));
            break;
        }
        found
    };
    let Some((user_id, privileges)) = user_id else {
        return Ok(Err(AuthFailure::NoCredentials));
    };
    // The session's user and box as a request of it read them last, while
    // nothing they came from was written (see [`super::recalled`]): decided
    // on this thread, without the store.
    let method = LoginMethod::OtpSession;
    if let Some(counts) = auth.recalled.counts(auth.store.as_ref())
        && let Some((user, databox)) = auth.recalled.session(counts, &user_id, privileges)
    {
        return Ok(basic::identity_of(&auth.policy, now, user, databox, method));
    }
    let policy = auth.policy.clone();
    let recalled = auth.recalled.clone();
    let id = user_id.clone();
    let found = auth
        .on_store(move |store| {
            // Read before the trees, so a write in between leaves the
            // entry stale from the start rather than wrongly current.
            let counts = recalled.counts(store);
            let Some(mut user) = repo::get_user(store, &id)? else {
                return Ok(None);
            };
            user.privileges = privileges;
            let Some(databox) = repo::get_box(store, &user.box_id)? else {
                return Ok(Some(Err(AuthFailure::BadCredentials)));
            };
            let (user, databox) = (Arc::new(user), Arc::new(databox));
            if let Some(counts) = counts {
                recalled.remember_session(counts, &user, &databox);
            }
            Ok(Some(basic::identity_of(
                &policy, now, user, databox, method,
            )))
        })
        .await?;
    let Some(identity) = found else {
        lock(&auth.otp.sessions).retain(|_, s| s.user != user_id);
        return Ok(Err(AuthFailure::BadCredentials));
    };
    Ok(identity)
}

/// Splits `PASSWORD<CODE>` into the password and the trailing code; a
/// password without a trailing code is returned whole.
fn split_code(password: String) -> (String, Option<String>) {
    let digits = DIGITS as usize;
    let n = password.len();
    if n > digits
        && password.is_char_boundary(n - digits)
        && password.as_bytes()[n - digits..]
            .iter()
            .all(u8::is_ascii_digit)
    {
        let code = password[n - digits..].to_owned();
        let mut password = password;
        password.truncate(n - digits);
        (password, Some(code))
    } else {
        (password, None)
    }
}

/// The values of every `IPCZ-X-COOKIE` in a `Cookie` header.
fn session_ids(cookie_header: Option<&str>) -> impl Iterator<Item = &str> {
    cookie_header
        .into_iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// 256 random bits from the operating system, hex-encoded.
pub(super) fn new_session_id() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_split_off_passwords() {
        assert_eq!(
            split_code("Secret-1!123456".into()),
            ("Secret-1!".into(), Some("123456".into()))
        );
        // A password ending in digits keeps the rest.
        assert_eq!(
            split_code("Pass1234567".into()),
            ("Pass1".into(), Some("234567".into()))
        );
        assert_eq!(split_code("short".into()), ("short".into(), None));
        assert_eq!(split_code("123456".into()), ("123456".into(), None));
        assert_eq!(
            split_code("Heslo12345a".into()),
            ("Heslo12345a".into(), None)
        );
        assert_eq!(
            split_code("Žluť123456".into()),
            ("Žluť".into(), Some("123456".into()))
        );
    }

    #[test]
    fn session_cookies_are_found_among_others() {
        let h = Some("a=1; IPCZ-X-COOKIE=abc; b=2; IPCZ-X-COOKIE=\"def\"");
        assert_eq!(session_ids(h).collect::<Vec<_>>(), ["abc", "def"]);
        assert_eq!(session_ids(Some("IPCZ-X-COOKIE=")).count(), 0);
        assert_eq!(session_ids(None).count(), 0);
    }

    #[test]
    fn session_ids_are_long_and_distinct() {
        let a = new_session_id();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_session_id());
    }

    #[test]
    fn steps_from_the_query() {
        assert_eq!(OtpStep::from_query("hotp", false), Some(OtpStep::Hotp));
        assert_eq!(
            OtpStep::from_query("TOTP", true),
            Some(OtpStep::TotpSendSms)
        );
        assert_eq!(OtpStep::from_query("totp", false), Some(OtpStep::Totp));
        assert_eq!(OtpStep::from_query("sms", false), None);
    }
}
