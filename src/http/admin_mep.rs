//! The simulated Mobile Key phone, for the operator (HTTP Basic with the
//! operator's credentials, as every `/admin/` endpoint):
//!
//! - `GET /admin/mep`: `{"pending": [...]}`, the login requests waiting for
//!   an answer, each with its ID, notification text and account (user ID,
//!   user type in words, box name, box type, box ID).
//! - `POST /admin/mep` with `{"confirm": ID}` or `{"reject": ID}`: answers
//!   a request on the phone; `{"code": USER_ID}`: generates a new
//!   communication code for an account linked to a key and answers it
//!   (`{"user_id", "code"}`), the one time it is shown.
//! - `GET /admin/mep/keys`: `{"keys": [...]}`, every key with the accounts
//!   linked to it.

use std::sync::Arc;

use http_body_util::{BodyExt, Limited};
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;

use super::admin::{authenticate, json_error};
use super::app::App;
use super::responses::{HttpResponse, method_not_allowed, plain};
use crate::domain::UserId;
use crate::domain::boxes::mobile_key::{self, Answer, CodeError};

/// Largest accepted request body.
const MAX_BODY: usize = 4096;

/// An answer on the phone, or a new code: exactly one key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneAction {
    confirm: Option<String>,
    reject: Option<String>,
    code: Option<String>,
}

pub(super) async fn handle<B>(app: &Arc<App>, name: &str, req: Request<B>) -> HttpResponse
where
    B: hyper::body::Body<Data = bytes::Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let keys = name == "mep/keys";
    match (req.method(), keys) {
        (&Method::GET, _) | (&Method::POST, false) => {}
        (_, true) => return method_not_allowed("GET"),
        (_, false) => return method_not_allowed("GET, POST"),
    }
    if let Err(failure) = authenticate(app, &req).await {
        return super::responses::unauthorized_with(&failure, "Basic realm=\"ISDS\"");
    }
    if keys {
        return key_list(app).await;
    }
    if req.method() == Method::GET {
        return pending(app);
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return json_error(StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
    };
    let action: PhoneAction = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}")),
    };
    let (id, answer) = match action {
        PhoneAction {
            confirm: Some(id),
            reject: None,
            code: None,
        } => (id, Answer::Confirm),
        PhoneAction {
            confirm: None,
            reject: Some(id),
            code: None,
        } => (id, Answer::Reject),
        PhoneAction {
            confirm: None,
            reject: None,
            code: Some(user),
        } => return new_code(app, &user).await,
        _ => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "expected exactly one of \"confirm\", \"reject\", \"code\"",
            );
        }
    };
    if !app.auth.mep_answer(&id, answer) {
        return json_error(StatusCode::NOT_FOUND, "no undecided request of that ID");
    }
    pending(app)
}

fn pending(app: &App) -> HttpResponse {
    let body = serde_json::json!({ "pending": app.auth.mep_pending() }).to_string();
    plain(StatusCode::OK, "application/json", body)
}

async fn key_list(app: &App) -> HttpResponse {
    let store = app.store.clone();
    let listed = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for key in mobile_key::all_keys(store.as_ref())? {
            let accounts = mobile_key::accounts_of_key(store.as_ref(), &key.id)?;
            out.push(serde_json::json!({
                "id": key.id,
                "holder": key.holder,
                "accounts": accounts,
            }));
        }
        Ok::<_, crate::domain::boxes::repo::RepoError>(out)
    })
    .await;
    match listed {
        Ok(Ok(keys)) => plain(
            StatusCode::OK,
            "application/json",
            serde_json::json!({ "keys": keys }).to_string(),
        ),
        Ok(Err(e)) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn new_code(app: &App, user: &str) -> HttpResponse {
    let Ok(user_id) = UserId::parse(user) else {
        return json_error(StatusCode::BAD_REQUEST, "not a user ID");
    };
    let store = app.store.clone();
    let id = user_id.clone();
    let renewed =
        tokio::task::spawn_blocking(move || mobile_key::renew_code(store.as_ref(), &id)).await;
    match renewed {
        Ok(Ok(code)) => {
            tracing::info!(user = %user_id, "generated a new Mobile Key communication code");
            plain(
                StatusCode::OK,
                "application/json",
                serde_json::json!({ "user_id": user_id.as_str(), "code": code }).to_string(),
            )
        }
        Ok(Err(e @ (CodeError::NoUser(_) | CodeError::NotLinked(_)))) => {
            json_error(StatusCode::NOT_FOUND, &e.to_string())
        }
        Ok(Err(e)) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
