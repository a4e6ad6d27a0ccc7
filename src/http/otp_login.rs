//! The OTP login endpoints as ISDS has them: `/as/processLogin` (HOTP, and
//! TOTP in two steps with an SMS in between) answers with redirects and the
//! `IPCZ-X-COOKIE` session cookie; `/as/processLogout` ends the session
//! (200).
//!
//! The `uri` parameter says where to go after the login. It must address
//! this gateway's `/apps/DS/…` services (as a path, or as an absolute URL
//! with the host the request was sent to); anything else is refused with
//! 400, so the gateway never redirects elsewhere.

use base64::Engine;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, StatusCode};

use super::app::{App, ConnInfo, origin};
use super::responses::{HttpResponse, plain, unauthorized_with};
use super::routes::{LoginMethod, Route, route};
use crate::auth::{OtpLoginOutcome, OtpStep, SESSION_COOKIE};

/// Sent with the redirect after the simulated SMS (ISDS's spelling).
const TOTP_SENT_CODE: &str = "authentication.info.totpSended";
const TOTP_SENT_TEXT: &str = "Bezpečnostní kód byl odeslán v SMS zprávě.";

/// One step of an OTP login.
pub(super) async fn process_login(
    app: &App,
    conn: &ConnInfo,
    req: &Request<Incoming>,
) -> HttpResponse {
    let query = req.uri().query();
    let send_sms = query_value(query, "sendSms").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let Some(step) = query_value(query, "type").and_then(|t| OtpStep::from_query(t, send_sms))
    else {
        return bad_request("the login type must be hotp or totp");
    };
    let Some(raw_uri) = query_value(query, "uri") else {
        return bad_request("the uri parameter is missing");
    };
    let origin = origin(req, conn);
    let Some(target) = target_uri(raw_uri, &origin) else {
        return bad_request("uri must address this gateway's /apps/DS/ services");
    };
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());

    match app.auth.otp_login(step, authorization).await {
        Ok(OtpLoginOutcome::Refused(failure)) => unauthorized_with(&failure, step.challenge()),
        Ok(OtpLoginOutcome::SmsSent) => {
            // The client sends the code to the same login with type=totp.
            let next = format!("{origin}/as/processLogin?type=totp&uri={raw_uri}");
            let Some(mut resp) = redirect(&next) else {
                return bad_request("uri cannot be used in a header");
            };
            let text = format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(TOTP_SENT_TEXT)
            );
            let headers = resp.headers_mut();
            headers.insert(
                "x-response-message-code",
                HeaderValue::from_static(TOTP_SENT_CODE),
            );
            if let Ok(v) = HeaderValue::from_str(&text) {
                headers.insert("x-response-message-text", v);
            }
            resp
        }
        Ok(OtpLoginOutcome::SessionOpened { session_id }) => {
            let Some(mut resp) = redirect(&target) else {
                return bad_request("uri cannot be used in a header");
            };
            let secure = if conn.tls { "; Secure" } else { "" };
            let cookie = format!("{SESSION_COOKIE}={session_id}; Path=/; HttpOnly{secure}");
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            resp
        }
        Err(err) => {
            tracing::error!(error = %err, "OTP login could not be decided");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                "the login could not be decided\n".into(),
            )
        }
    }
}

/// Ends the OTP session named by the cookie and answers 200.
///
/// ISDS_OTP_autentizace (2.3) names the `uri` parameter but gives no
/// answer; libdatovka, written against the real ISDS, treats anything but
/// 200 as a failed logout. So the answer is 200 whatever `uri` says, and
/// the gateway never redirects from here (so `uri` cannot be abused as an
/// open redirect either).
pub(super) fn process_logout(app: &App, conn: &ConnInfo, req: &Request<Incoming>) -> HttpResponse {
    let cookie = req
        .headers()
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok());
    app.auth.otp_logout(cookie);

    let mut resp = plain(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        "logged out\n".into(),
    );
    let secure = if conn.tls { "; Secure" } else { "" };
    let expired = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly{secure}");
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&expired) {
        headers.insert(header::SET_COOKIE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// 302 to `location`; `None` if it cannot be a header value.
pub(super) fn redirect(location: &str) -> Option<HttpResponse> {
    let location = HeaderValue::from_str(location).ok()?;
    let mut resp = plain(
        StatusCode::FOUND,
        "text/plain; charset=utf-8",
        String::new(),
    );
    let headers = resp.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Some(resp)
}

pub(super) fn bad_request(why: &str) -> HttpResponse {
    plain(
        StatusCode::BAD_REQUEST,
        "text/plain; charset=utf-8",
        format!("{why}\n"),
    )
}

/// The raw value of a query parameter (name matched case-insensitively).
pub(super) fn query_value<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        key.eq_ignore_ascii_case(name).then_some(value)
    })
}

/// The decoded `uri` parameter if it addresses this gateway's `/apps/DS/…`
/// (`origin` is the scheme and authority the request was sent to). Clients
/// send it as is (`uri=https://host/apps/DS/dz`) or percent-encoded.
pub(super) fn target_uri(raw: &str, origin: &str) -> Option<String> {
    let uri = percent_decode(raw)?;
    if uri.is_empty() || !uri.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
        return None;
    }
    let path_and_query = if uri.starts_with('/') {
        uri.as_str()
    } else {
        let (scheme, rest) = uri.split_once("://")?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        let (authority, path) = rest.split_at(rest.find('/')?);
        let (_, ours) = origin.split_once("://")?;
        if !authority.eq_ignore_ascii_case(ours) {
            return None;
        }
        path
    };
    let path = path_and_query.split(['?', '#']).next()?;
    if !path.starts_with("/apps/DS/") {
        return None;
    }
    match route(path) {
        Route::Service {
            login: LoginMethod::OtpSession,
            ..
        }
        | Route::Wsdl { .. }
        | Route::Schema { .. } => Some(uri),
        _ => None,
    }
}

/// Decodes `%XX` escapes; `None` for a broken escape or non-UTF-8 result.
pub(super) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "https://gw.example:8443";

    #[test]
    fn targets_on_this_gateway_are_accepted() {
        for uri in [
            "/apps/DS/dz",
            "/apps/DS/DsManage",
            "https://gw.example:8443/apps/DS/dz",
            "HTTPS://GW.example:8443/apps/DS/df",
            "http://gw.example:8443/apps/DS/dx",
            "https%3A%2F%2Fgw.example%3A8443%2Fapps%2FDS%2Fdz",
            "%2Fapps%2FDS%2Fvodz",
            "/apps/DS/dz?wsdl",
        ] {
            assert!(target_uri(uri, ORIGIN).is_some(), "{uri}");
        }
        assert_eq!(
            target_uri("https%3A%2F%2Fgw.example%3A8443%2Fapps%2FDS%2Fdz", ORIGIN).as_deref(),
            Some("https://gw.example:8443/apps/DS/dz")
        );
    }

    #[test]
    fn other_targets_are_refused() {
        for uri in [
            "",
            "https://evil.example/apps/DS/dz",
            "https://gw.example:8443.evil.example/apps/DS/dz",
            "https://user@gw.example:8443/apps/DS/dz",
            "https://gw.example:9999/apps/DS/dz",
            "//evil.example/apps/DS/dz",
            "javascript:alert(1)",
            "ftp://gw.example:8443/apps/DS/dz",
            "/DS/dz",
            "/apps/DS/nope",
            "/apps/DS/../../x",
            "/apps/DS/dz%0d%0aSet-Cookie:%20x=y",
            "/apps/DS/dz\\x",
            "%zz",
            "https://gw.example:8443",
        ] {
            assert!(target_uri(uri, ORIGIN).is_none(), "{uri}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(percent_decode("a+b").as_deref(), Some("a+b"));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%ff"), None);
        assert_eq!(percent_decode("%C3%A1").as_deref(), Some("á"));
    }
}
