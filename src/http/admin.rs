//! The operator's test-mode endpoints under `/admin/`.
//!
//! `GET /admin/clock` answers `{"now": "<RFC 3339>"}`; `POST /admin/clock`
//! with `{"set": "<RFC 3339>"}`, `{"advance": "10d"}` (units `s`, `m`,
//! `h`, `d`) or `{"reset": true}` (back to wall time) moves the gateway's
//! clock, persists it for the next start, and answers the new time, after
//! applying every message transition the move made due. Both need the
//! operator's HTTP Basic credentials. Outside test mode (`serve
//! --test-clock`) `/admin/clock` is 404, as if it did not exist.
//! `/admin/faults` (scripted faults, see `faults.rs`) exists when rules are
//! configured or in test mode. The simulated Mobile Key
//! phone's `/admin/mep` and `/admin/mep/keys` are in `admin_mep.rs`.

use std::sync::Arc;

use crate::domain::clock::czech_time;
use http_body_util::{BodyExt, Limited};
use hyper::header;
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;

use super::app::App;
use super::responses::{HttpResponse, method_not_allowed, not_found, plain};
use super::routes::LoginMethod;
use crate::auth::{AuthFailure, Credentials};
use crate::domain::clock::{Clock, TestClock};
use crate::domain::messages::lifecycle;

/// Largest accepted request body.
const MAX_BODY: usize = 4096;

/// A request to move the clock.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    set: Option<String>,
    advance: Option<String>,
    /// `true`: back to wall time.
    #[serde(default)]
    reset: bool,
}

pub(super) async fn handle<B>(app: &Arc<App>, name: &str, req: Request<B>) -> HttpResponse
where
    B: hyper::body::Body<Data = bytes::Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if name == "faults" && app.faults_admin {
        return faults(app, req).await;
    }
    let Some(clock) = app.test_clock.clone() else {
        return not_found();
    };
    if name != "clock" {
        return not_found();
    }
    if req.method() != Method::GET && req.method() != Method::POST {
        return method_not_allowed("GET, POST");
    }
    if let Err(failure) = authenticate(app, &req).await {
        return super::responses::unauthorized_with(&failure, "Basic realm=\"ISDS\"");
    }
    if req.method() == Method::GET {
        return now_response(clock.as_ref());
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return json_error(StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
    };
    let change: ClockChange = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}")),
    };
    match (change.set, change.advance) {
        (None, None) if change.reset => clock.set_offset_ns(0),
        (Some(at), None) if !change.reset => match czech_time::parse_datetime(&at) {
            Some(t) => clock.set(t),
            None => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "\"set\" is no xs:dateTime (a time without a zone is Czech time)",
                );
            }
        },
        (None, Some(by)) if !change.reset => match parse_duration(&by) {
            Some(d) => clock.advance(d),
            None => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "\"advance\" must be a whole number with a unit s, m, h or d, e.g. \"10d\"",
                );
            }
        },
        _ => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "expected exactly one of \"set\", \"advance\" and \"reset\"",
            );
        }
    }
    // What fell due by the move happens now, not at the next message call.
    let store = app.store.clone();
    let c = clock.clone();
    // The new time is persisted first, so a restart resumes it.
    let ran = tokio::task::spawn_blocking(move || {
        if let Err(e) = crate::domain::clock::persist_test_clock(store.as_ref(), c.as_ref()) {
            tracing::error!(error = %e, "the moved test clock could not be persisted");
        }
        lifecycle::run_due(store.as_ref(), c.as_ref())
    })
    .await;
    match ran {
        Ok(Ok(n)) => {
            tracing::info!(transitions = n, now = %now_text(clock.as_ref()), "test clock moved")
        }
        Ok(Err(e)) => tracing::error!(error = %e, "due transitions after a clock move failed"),
        Err(e) => tracing::error!(error = %e, "due transitions after a clock move failed"),
    }
    now_response(clock.as_ref())
}

/// A change to the fault rules: exactly one key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultChange {
    enable: Option<String>,
    disable: Option<String>,
    reset: Option<String>,
    remove: Option<String>,
    add: Option<super::faults::RuleSpec>,
}

/// `GET /admin/faults` lists the rules with their hit counts; `POST` with
/// `{"enable": NAME}`, `{"disable": NAME}`, `{"reset": NAME}` (count the
/// `times` again), `{"remove": NAME}` or `{"add": RULE}` (a rule as in
/// `[[faults]]`) changes them and answers the new list.
async fn faults<B>(app: &Arc<App>, req: Request<B>) -> HttpResponse
where
    B: hyper::body::Body<Data = bytes::Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if req.method() != Method::GET && req.method() != Method::POST {
        return method_not_allowed("GET, POST");
    }
    if let Err(failure) = authenticate(app, &req).await {
        return super::responses::unauthorized_with(&failure, "Basic realm=\"ISDS\"");
    }
    if req.method() == Method::POST {
        let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return json_error(StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
        };
        let change: FaultChange = match serde_json::from_slice(&body) {
            Ok(c) => c,
            Err(e) => return json_error(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}")),
        };
        let rules = &app.faults;
        let found = match change {
            FaultChange {
                enable: Some(n),
                disable: None,
                reset: None,
                remove: None,
                add: None,
            } => rules.set_enabled(&n, true),
            FaultChange {
                enable: None,
                disable: Some(n),
                reset: None,
                remove: None,
                add: None,
            } => rules.set_enabled(&n, false),
            FaultChange {
                enable: None,
                disable: None,
                reset: Some(n),
                remove: None,
                add: None,
            } => rules.reset(&n),
            FaultChange {
                enable: None,
                disable: None,
                reset: None,
                remove: Some(n),
                add: None,
            } => rules.remove(&n),
            FaultChange {
                enable: None,
                disable: None,
                reset: None,
                remove: None,
                add: Some(spec),
            } => match rules.add(spec) {
                Ok(name) => {
                    tracing::info!(rule = %name, "fault rule added");
                    true
                }
                Err(e) => return json_error(StatusCode::BAD_REQUEST, &e),
            },
            _ => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "expected exactly one of \"enable\", \"disable\", \"reset\", \"remove\", \"add\"",
                );
            }
        };
        if !found {
            return json_error(StatusCode::NOT_FOUND, "no rule of that name");
        }
    }
    let body = serde_json::json!({ "rules": app.faults.view() }).to_string();
    plain(StatusCode::OK, "application/json", body)
}

/// Only the operator's Basic credentials open the admin endpoints.
pub(super) async fn authenticate<B>(app: &App, req: &Request<B>) -> Result<(), AuthFailure> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let creds = Credentials {
        method: LoginMethod::Basic,
        authorization,
        peer_certificate: None,
        cookie: None,
    };
    match app.auth.authenticate(creds).await {
        Ok(Ok(identity)) if identity.is_operator() => Ok(()),
        Ok(Ok(_)) => Err(AuthFailure::BadRole),
        Ok(Err(failure)) => Err(failure),
        Err(e) => {
            tracing::error!(error = %e, "authentication failed internally");
            Err(AuthFailure::BadCredentials)
        }
    }
}

fn now_text(clock: &TestClock) -> String {
    czech_time::format_datetime(clock.now())
}

fn now_response(clock: &TestClock) -> HttpResponse {
    let body = serde_json::json!({ "now": now_text(clock) }).to_string();
    plain(StatusCode::OK, "application/json", body)
}

pub(super) fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    let body = serde_json::json!({ "error": message }).to_string();
    plain(status, "application/json", body)
}

/// `"10d"`, `"3600s"`, `"2h"`, `"30m"`: a whole, non-negative number and a
/// unit.
pub fn parse_duration(s: &str) -> Option<time::Duration> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let number: i64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    if number < 0 {
        return None;
    }
    let seconds = match unit {
        's' => number,
        'm' => number.checked_mul(60)?,
        'h' => number.checked_mul(3_600)?,
        'd' => number.checked_mul(86_400)?,
        _ => return None,
    };
    Some(time::Duration::seconds(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10d"), Some(time::Duration::days(10)));
        assert_eq!(parse_duration("3600s"), Some(time::Duration::hours(1)));
        assert_eq!(parse_duration("2h"), Some(time::Duration::hours(2)));
        assert_eq!(parse_duration(" 5m "), Some(time::Duration::minutes(5)));
        for bad in [
            "",
            "d",
            "10",
            "-1d",
            "1.5d",
            "10w",
            "ád",
            "99999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
