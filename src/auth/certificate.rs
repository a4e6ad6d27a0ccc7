//! Logins with a client certificate over mutual TLS: `/cert`, `/certds`
//! and `/hspis`.

use super::{AuthError, AuthFailure, Authenticator, Credentials, Identity};

/// Authenticates a certificate login (not supported yet).
pub(super) async fn login(
    _auth: &Authenticator,
    _creds: Credentials<'_>,
) -> Result<Result<Identity, AuthFailure>, AuthError> {
    Ok(Err(AuthFailure::Unsupported))
}
