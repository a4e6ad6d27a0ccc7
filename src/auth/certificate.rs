//! Logins with a client certificate over mutual TLS: `/cert`, `/certds`
//! and `/hspis`.
//!
//! The TLS layer has already checked that the client holds the
//! certificate's key and, with `tls.client_ca` set, that a trusted issuer
//! signed it. Here the certificate's validity dates are checked against the
//! gateway's clock and its SHA-256 fingerprint is looked up among the
//! registrations ([`crate::domain::boxes::certificates`]):
//!
//! - `/cert`: a system certificate registered to a box logs in as that
//!   box's application;
//! - `/certds`: a commercial certificate registered to a user, plus that
//!   user's HTTP Basic credentials (checked as on `/DS/…`: lockout, expiry);
//! - `/hspis`: a hosted provider's system certificate, plus HTTP Basic with
//!   the target box ID as user name and an empty password; only for boxes
//!   that authorised the provider.
//!
//! No certificate, an unknown or out-of-date one, or wrong Basic
//! credentials are "not authenticated"; a known certificate used on a route
//! that is not its own, or a box that did not authorise the provider, is
//! "bad role".

use std::sync::Arc;

use super::{Actor, AuthError, AuthFailure, Authenticator, Credentials, Identity, basic};
use crate::domain::boxes::certificates::{self, Fingerprint, Holder, Registration};
use crate::domain::{BoxId, boxes::repo};
use crate::http::routes::LoginMethod;
use crate::store::Store;

type Outcome = Result<Result<Identity, AuthFailure>, AuthError>;

/// Authenticates a certificate login.
pub(super) async fn login(auth: &Authenticator, creds: Credentials<'_>) -> Outcome {
    let Some(cert) = creds.peer_certificate else {
        return Ok(Err(AuthFailure::NoCredentials));
    };
    if !cert.is_valid_at(auth.clock.unix()) {
        return Ok(Err(AuthFailure::BadCredentials));
    }
    let fingerprint = Fingerprint::of(cert);
    let registration = auth
        .on_store(move |store| Ok(certificates::lookup(store, &fingerprint)?))
        .await?;
    match creds.method {
        LoginMethod::SystemCertificate => {
            auth.on_store(move |store| system(store, registration))
                .await
        }
        LoginMethod::CertificateAndBasic => commercial(auth, creds, registration).await,
        LoginMethod::HostedProvider => {
            let basic = creds.authorization.and_then(basic::parse_basic);
            auth.on_store(move |store| hosted(store, basic, registration))
                .await
        }
        LoginMethod::Basic | LoginMethod::OtpSession => Ok(Err(AuthFailure::Unsupported)),
    }
}

/// The refusal for a certificate that is not of the kind a route needs:
/// unknown ones are not authenticated, others are in the wrong role.
fn wrong_kind(registration: Option<Registration>) -> Outcome {
    Ok(Err(match registration {
        None => AuthFailure::BadCredentials,
        Some(_) => AuthFailure::BadRole,
    }))
}

/// `/cert`: the box's application.
fn system(store: &dyn Store, registration: Option<Registration>) -> Outcome {
    let box_id = match registration {
        Some(Registration {
            holder: Holder::Box { box_id },
            ..
        }) => box_id,
        other => return wrong_kind(other),
    };
    application(
        store,
        &box_id,
        LoginMethod::SystemCertificate,
        Actor::Application,
    )
}

/// `/certds`: the user's password first (as on `/DS/…`), then the
/// certificate must be registered to that very user.
async fn commercial(
    auth: &Authenticator,
    creds: Credentials<'_>,
    registration: Option<Registration>,
) -> Outcome {
    let Some((login, password)) = creds.authorization.and_then(basic::parse_basic) else {
        return Ok(Err(AuthFailure::NoCredentials));
    };
    let identity =
        match basic::login(auth, login, password, LoginMethod::CertificateAndBasic).await? {
            Ok(identity) => identity,
            Err(failure) => return Ok(Err(failure)),
        };
    match registration {
        Some(Registration {
            holder: Holder::User { user },
            ..
        }) if user == identity.user.id => Ok(Ok(identity)),
        // The password is right but the certificate is not this user's.
        _ => Ok(Err(AuthFailure::BadCredentials)),
    }
}

/// `/hspis`: a provider acting for a box that authorised it (`basic`: the
/// request's HTTP Basic login and password).
fn hosted(
    store: &dyn Store,
    basic: Option<(String, String)>,
    registration: Option<Registration>,
) -> Outcome {
    let provider = match registration {
        Some(Registration {
            holder: Holder::Provider { name },
            ..
        }) => name,
        other => return wrong_kind(other),
    };
    let Some((login, password)) = basic else {
        return Ok(Err(AuthFailure::NoCredentials));
    };
    if !password.is_empty() {
        return Ok(Err(AuthFailure::BadCredentials));
    }
    let Ok(box_id) = BoxId::parse(&login) else {
        return Ok(Err(AuthFailure::BadCredentials));
    };
    if repo::get_box(store, &box_id)?.is_none() {
        return Ok(Err(AuthFailure::BadCredentials));
    }
    if !certificates::provider_may_act_for(store, &provider, &box_id)? {
        return Ok(Err(AuthFailure::BadRole));
    }
    application(
        store,
        &box_id,
        LoginMethod::HostedProvider,
        Actor::HostedProvider { provider },
    )
}

/// The identity of software acting for a box.
fn application(store: &dyn Store, box_id: &BoxId, method: LoginMethod, actor: Actor) -> Outcome {
    let Some(databox) = repo::get_box(store, box_id)? else {
        return Ok(Err(AuthFailure::BadCredentials));
    };
    Ok(Ok(Identity {
        user: Arc::new(certificates::application_user(&databox)),
        databox: Arc::new(databox),
        method,
        actor,
        must_change_password: false,
    }))
}
