//! OTP logins (HOTP, TOTP) and the cookie sessions they open for
//! `/apps/DS/…`.

use super::{AuthError, AuthFailure, Authenticator, Credentials, Identity};

/// Authenticates a request by its OTP session cookie (not supported yet).
pub(super) async fn session(
    _auth: &Authenticator,
    _creds: Credentials<'_>,
) -> Result<Result<Identity, AuthFailure>, AuthError> {
    Ok(Err(AuthFailure::Unsupported))
}
