//! The HTTP responses every front end builds: the response type, plain
//! text or XML bodies, SOAP faults, ISDS's 401 refusal of a login, and the
//! 404 and 405 answers.

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

use crate::auth::AuthFailure;
use crate::soap::{Fault, SoapVersion};

/// A response of any front end.
pub(crate) type HttpResponse = Response<super::body::ResponseBody>;

/// A SOAP fault in the request's version, with the fault's HTTP status.
pub(crate) fn fault_response(fault: &Fault, version: SoapVersion) -> HttpResponse {
    let status =
        StatusCode::from_u16(fault.http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    plain(status, version.content_type(), fault.to_envelope(version))
}

/// ISDS's refusal of a login: [`unauthorized_with`] the Basic challenge.
pub(crate) fn unauthorized(failure: &AuthFailure) -> HttpResponse {
    unauthorized_with(failure, "Basic realm=\"ISDS\"")
}

/// ISDS's refusal of a login: 401 with the `WWW-Authenticate` challenge
/// and the reason in `X-Response-message-code` and, RFC 2047-encoded,
/// `-text`.
pub(crate) fn unauthorized_with(failure: &AuthFailure, challenge: &'static str) -> HttpResponse {
    use base64::Engine;
    let mut resp = plain(
        StatusCode::UNAUTHORIZED,
        "text/plain; charset=utf-8",
        format!("{failure}\n"),
    );
    let text = format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(failure.message_text())
    );
    let headers = resp.headers_mut();
    headers.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    headers.insert(
        "x-response-message-code",
        HeaderValue::from_static(failure.message_code()),
    );
    if let Ok(v) = HeaderValue::from_str(&text) {
        headers.insert("x-response-message-text", v);
    }
    resp
}

pub(crate) fn plain(status: StatusCode, content_type: &'static str, body: String) -> HttpResponse {
    let mut resp = Response::new(super::body::ResponseBody::whole(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

pub(crate) fn not_found() -> HttpResponse {
    plain(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        "not found\n".into(),
    )
}

pub(crate) fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut resp = plain(
        StatusCode::METHOD_NOT_ALLOWED,
        "text/plain; charset=utf-8",
        "method not allowed\n".into(),
    );
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}
