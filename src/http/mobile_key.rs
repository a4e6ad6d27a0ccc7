//! The Mobile Key login endpoints as ISDS has them
//! (MobilniKlic_autentizace 2.1):
//!
//! - `POST /as/processLogin?type=mep-ws&applicationName=…&uri=…` with Basic
//!   login:communication code. Without a request cookie: 302 to
//!   `/as/mepWsStateUpdate` with `S-COOKIE` (401 on a wrong code). With
//!   the cookie of a confirmed request: 302 to `uri` with the
//!   `IPCZ-X-COOKIE` session cookie.
//! - `GET /as/mepWsStateUpdate` with the cookie: the state as bare text,
//!   `-1`, `1`, `2` or `3` (2.1.4); `GET /as/mepWsStateUpdate2`: JSON
//!   `{"status":N,"description":"…"}` with the intermediate states too
//!   (version 1.3 of the manual).
//!
//! Logout is `/as/processLogout`, as for OTP sessions.

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, StatusCode};

use super::app::{App, ConnInfo, origin};
use super::otp_login::{bad_request, percent_decode, query_value, redirect, target_uri};
use super::responses::{HttpResponse, plain, unauthorized_with};
use crate::auth::{MepLoginOutcome, REQUEST_COOKIE, SESSION_COOKIE};

/// The login type of Mobile Key logins.
const MEP_TYPE: &str = "mep-ws";
/// The challenge of a refused Mobile Key login. The manual gives only the
/// status (401, 2.1.3); the challenge is that of the Basic logins.
const CHALLENGE: &str = "Basic realm=\"ISDS\"";

/// Whether a `/as/processLogin` request is a Mobile Key login.
pub(super) fn is_mep(req: &Request<Incoming>) -> bool {
    query_value(req.uri().query(), "type").is_some_and(|t| t.eq_ignore_ascii_case(MEP_TYPE))
}

/// One `type=mep-ws` POST.
pub(super) async fn process_login(
    app: &App,
    conn: &ConnInfo,
    req: &Request<Incoming>,
) -> HttpResponse {
    let query = req.uri().query();
    let Some(raw_uri) = query_value(query, "uri") else {
        return bad_request("the uri parameter is missing");
    };
    let origin = origin(req, conn);
    let Some(target) = target_uri(raw_uri, &origin) else {
        return bad_request("uri must address this gateway's /apps/DS/ services");
    };
    // Shown in the push notification (2.1.2); clients escape it.
    let Some(application) = percent_decode(query_value(query, "applicationName").unwrap_or(""))
    else {
        return bad_request("applicationName is not a valid escaped UTF-8 text");
    };
    let header_str = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let outcome = app
        .auth
        .mep_login(
            &application,
            header_str(header::AUTHORIZATION),
            header_str(header::COOKIE),
        )
        .await;
    let secure = if conn.tls { "; Secure" } else { "" };
    match outcome {
        Ok(MepLoginOutcome::Refused(failure)) => unauthorized_with(&failure, CHALLENGE),
        Ok(MepLoginOutcome::RequestMade { request_cookie }) => {
            let Some(mut resp) = redirect(&format!("{origin}/as/mepWsStateUpdate")) else {
                return bad_request("the request cannot be redirected");
            };
            let cookie = format!("{REQUEST_COOKIE}={request_cookie}; Path=/; HttpOnly{secure}");
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }
        Ok(MepLoginOutcome::SessionOpened { session_id }) => {
            let Some(mut resp) = redirect(&target) else {
                return bad_request("uri cannot be used in a header");
            };
            let headers = resp.headers_mut();
            for cookie in [
                format!("{SESSION_COOKIE}={session_id}; Path=/; HttpOnly{secure}"),
                // The request cookie is spent.
                format!("{REQUEST_COOKIE}=; Path=/; Max-Age=0; HttpOnly{secure}"),
            ] {
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    headers.append(header::SET_COOKIE, v);
                }
            }
            resp
        }
        Err(err) => {
            tracing::error!(error = %err, "Mobile Key login could not be decided");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                "the login could not be decided\n".into(),
            )
        }
    }
}

/// `GET /as/mepWsStateUpdate[2]`: the state of the request named by the
/// cookie. Always 200; an unknown request is -1.
pub(super) fn state_update(app: &App, req: &Request<Incoming>, extended: bool) -> HttpResponse {
    let cookie = req
        .headers()
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok());
    let state = app.auth.mep_state(cookie);
    let mut resp = if extended {
        let body = serde_json::json!({
            "status": state.code(),
            "description": state.description(),
        })
        .to_string();
        plain(StatusCode::OK, "application/json; charset=utf-8", body)
    } else {
        // The bare number and nothing else: libdatovka reads the whole
        // body as one integer.
        plain(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            state.basic_code().to_string(),
        )
    };
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
