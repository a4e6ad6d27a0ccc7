//! Mobile Key logins (MobilniKlic_autentizace 2.1): the login requests
//! waiting for the simulated phone, keyed by their `S-COOKIE`, and the
//! step that turns a confirmed request into an `IPCZ-X-COOKIE` session
//! (the same sessions OTP logins open, see `otp.rs`).
//!
//! The communication code follows the password rules of Basic logins: a
//! wrong code counts as a failed login and blocks the user after too many;
//! a right one clears the failures.
//!
//! Requests live in memory: a restart forgets them, and clients start
//! again, as after an expiry.

use std::collections::HashMap;
use std::sync::Mutex;

use rand_core::{OsRng, RngCore};
use serde::Serialize;

use super::basic;
use super::otp::{lock, new_session_id};
use super::{AuthError, AuthFailure, Authenticator};
use crate::domain::boxes::mobile_key::{
    self, AccountView, Answer, PhonePolicy, REQUEST_LIFETIME_SECONDS, RequestState,
};
use crate::domain::boxes::repo;
use crate::domain::{User, UserId};

/// The working cookie of a login request (MobilniKlic_autentizace 2.1.3).
pub const REQUEST_COOKIE: &str = "S-COOKIE";
/// Requests are forgotten this long after they expired, so a late poll
/// still reads 3 rather than -1.
const FORGET_AFTER_SECONDS: i64 = REQUEST_LIFETIME_SECONDS + 600;
/// Requests one account may have at once; a new one beyond this replaces
/// the account's oldest (each needs the right code, but memory stays
/// bounded however often a client starts again).
const REQUESTS_PER_ACCOUNT: usize = 16;

/// What a `type=mep-ws` POST achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MepLoginOutcome {
    /// A request was made and pushed to the phone; its `S-COOKIE` value.
    RequestMade { request_cookie: String },
    /// The request was confirmed: a session was opened with this ID.
    SessionOpened { session_id: String },
    /// Refused; answer 401.
    Refused(AuthFailure),
}

/// A login request as the simulated phone and the operator see it.
#[derive(Debug, Clone, Serialize)]
pub struct PendingRequest {
    /// The request's public ID, for `isds-gateway mep confirm|reject`.
    pub id: String,
    /// The Mobile Key it was pushed to.
    pub key: String,
    pub application: String,
    /// The push notification's text.
    pub notification: String,
    pub account: AccountView,
    /// The state as `mepWsStateUpdate2` reports it.
    pub status: i32,
    pub description: &'static str,
    /// Unix times.
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
struct Request {
    id: String,
    user: UserId,
    key: String,
    application: String,
    account: AccountView,
    policy: PhonePolicy,
    created_at: i64,
    answer: Option<Answer>,
    /// A session was opened from it: the cookie is spent.
    used: bool,
}

impl Request {
    fn state(&self, now: i64) -> RequestState {
        if self.used {
            return RequestState::Unknown;
        }
        mobile_key::state_at(&self.policy, self.created_at, self.answer, now)
    }
}

/// The requests, held by the [`Authenticator`].
#[derive(Debug, Default)]
pub(super) struct MepState {
    /// By `S-COOKIE` value.
    requests: Mutex<HashMap<String, Request>>,
}

impl Authenticator {
    /// Runs a `type=mep-ws` POST with the request's raw `Authorization` and
    /// `Cookie` headers: without a known `S-COOKIE` it makes a request and
    /// pushes it to the phone; with one it opens a session if the phone
    /// confirmed (MobilniKlic_autentizace 2.1.2 and 2.1.5).
    pub async fn mep_login(
        &self,
        application: &str,
        authorization: Option<&str>,
        cookie_header: Option<&str>,
    ) -> Result<MepLoginOutcome, AuthError> {
        let Some((login, code)) = authorization.and_then(super::parse_basic) else {
            return Ok(MepLoginOutcome::Refused(AuthFailure::NoCredentials));
        };
        let user = match self.verify_code(login, code).await? {
            Ok(user) => user,
            Err(failure) => return Ok(MepLoginOutcome::Refused(failure)),
        };
        let now = self.clock.unix();

        // The second POST: the request named by the cookie, if it is this
        // user's.
        {
            let mut requests = lock(&self.mep.requests);
            requests.retain(|_, r| now - r.created_at <= FORGET_AFTER_SECONDS);
            let mine = request_cookies(cookie_header)
                .find(|c| requests.get(*c).is_some_and(|r| r.user == user.id))
                .map(str::to_owned);
            if let Some(cookie) = mine
                && let Some(request) = requests.get_mut(&cookie)
            {
                if request.state(now) != RequestState::Confirmed {
                    // Not confirmed (yet), refused, expired or spent.
                    return Ok(MepLoginOutcome::Refused(AuthFailure::NoCredentials));
                }
                request.used = true;
                drop(requests);
                let session_id = self.open_session(&user, now);
                tracing::info!(login = %user.login, user = %user.id, "Mobile Key login opened a session");
                return Ok(MepLoginOutcome::SessionOpened { session_id });
            }
        }

        // The first POST: a new request, pushed to the phone.
        let (id, box_id) = (user.id.clone(), user.box_id.clone());
        let (link, databox) = self
            .on_store(move |store| {
                let link = mobile_key::linked_account(store, &id)?;
                let databox = match &link {
                    Some(_) => repo::get_box(store, &box_id)?,
                    None => None,
                };
                Ok((link, databox))
            })
            .await?;
        let Some(link) = link else {
            return Ok(MepLoginOutcome::Refused(AuthFailure::BadRole));
        };
        let Some(databox) = databox else {
            return Ok(MepLoginOutcome::Refused(AuthFailure::BadCredentials));
        };
        let request = Request {
            id: short_id(),
            user: user.id.clone(),
            key: link.key,
            application: application.to_owned(),
            account: AccountView::new(&user, &databox, true),
            policy: link.policy,
            created_at: now,
            answer: None,
            used: false,
        };
        let request_cookie = new_session_id();
        tracing::info!(
            request = %request.id,
            login = %user.login,
            notification = %mobile_key::notification_text(application, &request.account),
            "Mobile Key login request pushed to the simulated phone"
        );
        let mut requests = lock(&self.mep.requests);
        let mut own: Vec<(i64, String)> = requests
            .iter()
            .filter(|(_, r)| r.user == user.id)
            .map(|(cookie, r)| (r.created_at, cookie.clone()))
            .collect();
        if own.len() >= REQUESTS_PER_ACCOUNT {
            own.sort();
            for (_, cookie) in &own[..=own.len() - REQUESTS_PER_ACCOUNT] {
                requests.remove(cookie);
            }
        }
        requests.insert(request_cookie.clone(), request);
        Ok(MepLoginOutcome::RequestMade { request_cookie })
    }

    /// The state of the request named in a `Cookie` header (-1 if none).
    pub fn mep_state(&self, cookie_header: Option<&str>) -> RequestState {
        let now = self.clock.unix();
        let requests = lock(&self.mep.requests);
        request_cookies(cookie_header)
            .find_map(|c| requests.get(c))
            .map_or(RequestState::Unknown, |r| r.state(now))
    }

    /// The requests the phone has not decided yet, oldest first.
    pub fn mep_pending(&self) -> Vec<PendingRequest> {
        let now = self.clock.unix();
        let requests = lock(&self.mep.requests);
        let mut out: Vec<PendingRequest> = requests
            .values()
            .filter(|r| !r.state(now).is_final())
            .map(|r| {
                let state = r.state(now);
                PendingRequest {
                    id: r.id.clone(),
                    key: r.key.clone(),
                    application: r.application.clone(),
                    notification: mobile_key::notification_text(&r.application, &r.account),
                    account: r.account.clone(),
                    status: state.code(),
                    description: state.description(),
                    created_at: r.created_at,
                    expires_at: r.created_at + REQUEST_LIFETIME_SECONDS,
                }
            })
            .collect();
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        out
    }

    /// Answers the undecided request `id` on the phone. Returns `false` if
    /// there is no such request or it is decided already.
    pub fn mep_answer(&self, id: &str, answer: Answer) -> bool {
        let now = self.clock.unix();
        let mut requests = lock(&self.mep.requests);
        match requests
            .values_mut()
            .find(|r| r.id == id && !r.state(now).is_final())
        {
            Some(request) => {
                request.answer = Some(answer);
                tracing::info!(request = %id, ?answer, "Mobile Key request answered on the phone");
                true
            }
            None => false,
        }
    }

    /// Checks a login and communication code: blocked users are refused,
    /// a wrong code counts as a failed login.
    async fn verify_code(
        &self,
        login: String,
        code: String,
    ) -> Result<Result<User, AuthFailure>, AuthError> {
        let now = self.clock.unix();
        let (user, link, blocked) = self
            .on_store(move |store| {
                let user = repo::user_by_login(store, &login)?;
                let (link, blocked) = match &user {
                    Some(u) => (
                        mobile_key::linked_account(store, &u.id)?,
                        basic::is_blocked(store, &u.id, now)?,
                    ),
                    None => (None, false),
                };
                Ok((user, link, blocked))
            })
            .await?;
        let (Some(user), Some(hash)) = (user, link.and_then(|l| l.code)) else {
            // The same effort as a real check, so timing does not tell
            // which logins have a Mobile Key.
            self.hashing
                .run(move || basic::waste_verification(&code))
                .await?;
            return Ok(Err(AuthFailure::BadCredentials));
        };
        if blocked {
            return Ok(Err(AuthFailure::IntruderDetected));
        }
        let ok = self.hashing.run(move || hash.verify(&code)).await?;
        let policy = self.policy.clone();
        let id = user.id.clone();
        let failure = self
            .on_store(move |store| {
                if !ok {
                    return basic::record_failure(store, &policy, now, &id).map(Some);
                }
                basic::clear_failures(store, &id)?;
                Ok(None)
            })
            .await?;
        Ok(match failure {
            Some(failure) => Err(failure),
            None => Ok(user),
        })
    }
}

/// The values of every `S-COOKIE` in a `Cookie` header.
fn request_cookies(cookie_header: Option<&str>) -> impl Iterator<Item = &str> {
    cookie_header
        .into_iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == REQUEST_COOKIE)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// A short random ID the operator types (not the secret cookie).
fn short_id() -> String {
    let mut bytes = [0u8; 5];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_cookies_are_found_among_others() {
        let h = Some("IPCZ-X-COOKIE=a; S-COOKIE=abc; x=1");
        assert_eq!(request_cookies(h).collect::<Vec<_>>(), ["abc"]);
        assert_eq!(request_cookies(Some("S-COOKIE=")).count(), 0);
    }
}
