//! HTTP Basic logins: parsing the header, checking the password, counting
//! failures and blocking intruders, password expiry.

use std::sync::Arc;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::lockout::AttemptGuard;
use super::{Actor, AuthError, AuthFailure, AuthPolicy, Authenticator, Identity};
use crate::domain::boxes::certificates;
use crate::domain::boxes::credentials::PasswordHash;
use crate::domain::boxes::otp;
use crate::domain::boxes::repo;
use crate::domain::{BoxState, DataBox, User, UserId};
use crate::http::routes::LoginMethod;
use crate::store::{Batch, Store};

/// Failed-login bookkeeping per user ID.
pub(super) const LOGIN_FAILURES: &str = "login_failures";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Failures {
    /// Failed attempts in a row.
    count: u32,
    /// Blocked until this Unix time (0: not blocked).
    blocked_until: i64,
}

/// `(login, password)` from an `Authorization: Basic …` header value.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (login, password) = text.split_once(':')?;
    Some((login.to_owned(), password.to_owned()))
}

/// Checks a login and password; counts failures and blocks after too many.
/// On `/DS/…` (`method` Basic) a user with a registered certificate or
/// with OTP login set up is refused even with the right password: their
/// login needs the certificate or the one-time code.
pub(super) async fn login(
    auth: &Authenticator,
    login: String,
    password: String,
    method: LoginMethod,
) -> Result<Result<Identity, AuthFailure>, AuthError> {
    let (login, password) = match recalled_login(auth, login, password, method).await? {
        Recalled::Identity(identity) => return Ok(Ok(*identity)),
        Recalled::No { login, password } => (login, password),
    };
    let (user, _attempt) = match verify_password(auth, login, password).await? {
        Ok(verified) => verified,
        Err(failure) => return Ok(Err(failure)),
    };
    let policy = auth.policy.clone();
    let now = auth.clock.unix();
    auth.on_store(move |store| {
        clear_failures(store, &user.id)?;
        if method == LoginMethod::Basic && certificates::user_has_certificate(store, &user.id)? {
            return Ok(Err(AuthFailure::BadRole));
        }
        // A user with OTP login set up (HOTP or TOTP) has no password-only
        // login: ISDS_OTP_autentizace (1, 2) gives such an account its web
        // services only under `/apps/DS/…` after an OTP login, and the
        // messages manual (1.2.1) lists that address as the way in for it.
        if method == LoginMethod::Basic && otp::get_secret(store, &user.id)?.is_some() {
            return Ok(Err(AuthFailure::BadRole));
        }
        identity(store, &policy, now, user, method)
    })
    .await
}

/// What [`recalled_login`] found.
enum Recalled {
    /// The login succeeded exactly as the full check would have.
    Identity(Box<Identity>),
    /// The full check decides; the credentials are handed back.
    No { login: String, password: String },
}

/// The common case of a client sending the same right password with every
/// request, decided without the login's gate: the user's password
/// verified recently against the hash stored now ([`super::verified`])
/// and the user has no failed attempts on record. Such a login writes
/// nothing (there are no failures to clear), so it needs no serialising
/// with parallel attempts: it counts as decided before any of them. The
/// same checks as [`login`] follow (certificate or OTP login required on
/// `/DS/`, the box, the password's expiry). Anything else (an unknown
/// login, a password not recalled, failures on record) goes the full way,
/// under the gate.
///
/// A login decided so before, whose trees nobody wrote since, is decided
/// again from memory on this thread ([`super::recalled`]); otherwise the
/// store is read in one visit on the blocking pool.
async fn recalled_login(
    auth: &Authenticator,
    login: String,
    password: String,
    method: LoginMethod,
) -> Result<Recalled, AuthError> {
    let now = auth.clock.unix();
    if let Some(counts) = auth.recalled.counts(auth.store.as_ref())
        && let Some((user, databox)) = auth.recalled.get(counts, method, &login)
        && auth.verified.recalls(&user, &password)
    {
        return Ok(
            match identity_of(&auth.policy, now, user, databox, method) {
                Ok(identity) => Recalled::Identity(Box::new(identity)),
                Err(_) => Recalled::No { login, password },
            },
        );
    }
    let policy = auth.policy.clone();
    let verified = auth.verified.clone();
    let recalled = auth.recalled.clone();
    auth.on_store(move |store| {
        let no = |login, password| Ok(Recalled::No { login, password });
        // Read before the trees, so a write in between leaves the entry
        // below stale from the start rather than wrongly current.
        let counts = recalled.counts(store);
        let Some(user) = repo::user_by_login(store, &login)? else {
            return no(login, password);
        };
        let failures = read_failures(store, &user.id)?;
        if failures.count > 0 || failures.blocked_until > 0 || !verified.recalls(&user, &password) {
            return no(login, password);
        }
        if method == LoginMethod::Basic && certificates::user_has_certificate(store, &user.id)? {
            return no(login, password);
        }
        if method == LoginMethod::Basic && otp::get_secret(store, &user.id)?.is_some() {
            return no(login, password);
        }
        let Some(databox) = repo::get_box(store, &user.box_id)? else {
            return no(login, password);
        };
        let (user, databox) = (Arc::new(user), Arc::new(databox));
        if let Some(counts) = counts {
            recalled.remember(counts, method, &user, &databox);
        }
        match identity_of(&policy, now, user, databox, method) {
            Ok(identity) => Ok(Recalled::Identity(Box::new(identity))),
            Err(_) => no(login, password),
        }
    })
    .await
}

/// Checks a login and password, refusing blocked users and counting a
/// wrong password as a failure. A right password does not clear earlier
/// failures: the caller does that with [`clear_failures`] once every factor
/// of its login method passed (or counts a failure with
/// [`record_failure`] when another factor fails), while it still holds the
/// returned guard, so parallel attempts of the login are decided one after
/// another and a burst cannot outrun the count.
///
/// An unknown login costs the same hash work as a real one and is blocked
/// after as many failures; a blocked login costs the same hash work too, so
/// neither the answer nor its time tells which logins exist.
pub(super) async fn verify_password<'a>(
    auth: &'a Authenticator,
    login: String,
    password: String,
) -> Result<Result<(User, AttemptGuard<'a>), AuthFailure>, AuthError> {
    let attempt = auth.lockout.enter(&login).await;
    let now = auth.clock.unix();
    let stored = {
        let login = login.clone();
        auth.on_store(move |store| {
            let Some(user) = repo::user_by_login(store, &login)? else {
                return Ok(None);
            };
            let failures = read_failures(store, &user.id)?;
            Ok(Some((user, failures)))
        })
        .await?
    };
    let Some((user, failures)) = stored else {
        if auth.lockout.unstored_blocked(&login, now) {
            drop(attempt);
            auth.hashing.run(move || dummy_verify(&password)).await?;
            return Ok(Err(AuthFailure::IntruderDetected));
        }
        auth.hashing.run(move || dummy_verify(&password)).await?;
        let blocked = auth.lockout.unstored_failure(&login, &auth.policy, now);
        return Ok(Err(if blocked {
            AuthFailure::IntruderDetected
        } else {
            AuthFailure::BadCredentials
        }));
    };
    if failures.blocked_until > now {
        drop(attempt);
        auth.hashing.run(move || dummy_verify(&password)).await?;
        return Ok(Err(AuthFailure::IntruderDetected));
    }
    if auth.verified.recalls(&user, &password) {
        return Ok(Ok((user, attempt)));
    }
    let hash = user.password.clone();
    let (ok, password) = auth
        .hashing
        .run(move || (hash.verify(&password), password))
        .await?;
    if !ok {
        let policy = auth.policy.clone();
        let id = user.id.clone();
        let failure = auth
            .on_store(move |store| record_failure(store, &policy, now, &id))
            .await?;
        return Ok(Err(failure));
    }
    auth.verified.remember(&user, &password);
    Ok(Ok((user, attempt)))
}

/// The gateway operator's login (configured, not stored): its password is
/// checked against a slow hash like a user's, and it is blocked after the
/// same number of failures.
pub(super) async fn operator_login(
    auth: &Authenticator,
    operator_hash: &PasswordHash,
    login: String,
    password: String,
    method: LoginMethod,
) -> Result<Result<Identity, AuthFailure>, AuthError> {
    let attempt = auth.lockout.enter(&login).await;
    let now = auth.clock.unix();
    if auth.lockout.unstored_blocked(&login, now) {
        drop(attempt);
        auth.hashing.run(move || dummy_verify(&password)).await?;
        return Ok(Err(AuthFailure::IntruderDetected));
    }
    let hash = operator_hash.clone();
    let ok = auth.hashing.run(move || hash.verify(&password)).await?;
    if ok {
        auth.lockout.unstored_success(&login);
        return Ok(Identity::operator(&login, method).ok_or(AuthFailure::BadCredentials));
    }
    Ok(Err(
        if auth.lockout.unstored_failure(&login, &auth.policy, now) {
            AuthFailure::IntruderDetected
        } else {
            AuthFailure::BadCredentials
        },
    ))
}

/// Counts one failed login of `user`, blocking them after too many.
/// Returns the failure to report.
pub(super) fn record_failure(
    store: &dyn Store,
    policy: &AuthPolicy,
    now: i64,
    user: &UserId,
) -> Result<AuthFailure, AuthError> {
    let mut f = read_failures(store, user)?;
    f.count += 1;
    if f.count >= policy.max_failed_logins {
        f.blocked_until = now + policy.block_seconds;
        f.count = 0;
    }
    write_failures(store, user, &f)?;
    Ok(if f.blocked_until > now {
        AuthFailure::IntruderDetected
    } else {
        AuthFailure::BadCredentials
    })
}

/// Forgets the failed logins of `user` after a successful login.
pub(super) fn clear_failures(store: &dyn Store, user: &UserId) -> Result<(), AuthError> {
    let failures = read_failures(store, user)?;
    if failures.count > 0 || failures.blocked_until > 0 {
        write_failures(store, user, &Failures::default())?;
    }
    Ok(())
}

/// Whether `user` is blocked after repeated failed logins.
pub(super) fn is_blocked(store: &dyn Store, user: &UserId, now: i64) -> Result<bool, AuthError> {
    Ok(read_failures(store, user)?.blocked_until > now)
}

/// Spends the effort of one password verification on nothing (a login
/// that does not exist), so timing does not tell it apart.
pub(super) fn waste_verification(password: &str) {
    dummy_verify(password)
}

/// The identity of a user whose credentials were accepted.
pub(super) fn identity(
    store: &dyn Store,
    policy: &AuthPolicy,
    now: i64,
    user: User,
    method: LoginMethod,
) -> Result<Result<Identity, AuthFailure>, AuthError> {
    let Some(databox) = repo::get_box(store, &user.box_id)? else {
        return Ok(Err(AuthFailure::BadCredentials));
    };
    Ok(identity_of(
        policy,
        now,
        Arc::new(user),
        Arc::new(databox),
        method,
    ))
}

/// [`identity`] with the user's box read.
pub(super) fn identity_of(
    policy: &AuthPolicy,
    now: i64,
    user: Arc<User>,
    databox: Arc<DataBox>,
    method: LoginMethod,
) -> Result<Identity, AuthFailure> {
    // A removed box (state 5) is gone with its access data; users of an
    // inaccessible box still log in.
    if databox.state == BoxState::Removed {
        return Err(AuthFailure::BadCredentials);
    }
    let expired = !databox.unlimited_password_validity
        && now - user.password_set_at >= policy.password_validity_seconds;
    Ok(Identity {
        must_change_password: expired || user.must_change_password,
        user,
        databox,
        method,
        actor: Actor::Person,
    })
}

fn read_failures(store: &dyn Store, id: &UserId) -> Result<Failures, AuthError> {
    Ok(store
        .tree(LOGIN_FAILURES)
        .map_err(repo::RepoError::from)?
        .get(id.as_str().as_bytes())
        .map_err(repo::RepoError::from)?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default())
}

fn write_failures(store: &dyn Store, id: &UserId, f: &Failures) -> Result<(), AuthError> {
    let mut batch = Batch::new();
    batch.put(
        LOGIN_FAILURES,
        id.as_str(),
        serde_json::to_vec(f).unwrap_or_default(),
    );
    store.apply(batch).map_err(repo::RepoError::from)?;
    Ok(())
}

/// Verifies against a fixed hash, to equalise timing for unknown logins.
fn dummy_verify(password: &str) {
    static DUMMY: std::sync::OnceLock<Option<crate::domain::boxes::credentials::PasswordHash>> =
        std::sync::OnceLock::new();
    if let Some(hash) =
        DUMMY.get_or_init(|| crate::domain::boxes::credentials::PasswordHash::new("x").ok())
    {
        let _ = hash.verify(password);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_headers() {
        // "user:pa:ss" — the password may contain colons.
        assert_eq!(
            parse_basic("Basic dXNlcjpwYTpzcw=="),
            Some(("user".into(), "pa:ss".into()))
        );
        assert_eq!(
            parse_basic("basic dXNlcjpwYTpzcw=="),
            Some(("user".into(), "pa:ss".into()))
        );
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(parse_basic("Basic"), None);
        // "nocolon"
        assert_eq!(parse_basic("Basic bm9jb2xvbg=="), None);
    }
}
