//! HTTP for the testers' cockpit: `/ui/…` (the inspector, behind the
//! operator's login), `GET /advice` (JSON, operator's Basic credentials or
//! inspector login) and `GET /metrics` (Prometheus text, open like a
//! health check: it names no secret). All are 404 with `serve --no-ui`.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};

use super::app::App;
use super::responses::{HttpResponse, method_not_allowed, not_found, plain};
use super::routes::{LoginMethod, Route};
use crate::auth::Credentials;
use crate::ui::{self, Page, SESSION_COOKIE};

/// Largest form the inspector reads.
const MAX_FORM: usize = 16 * 1024;

pub(super) async fn handle(app: &Arc<App>, route: Route, req: Request<Incoming>) -> HttpResponse {
    let Some(cockpit) = app.cockpit.clone() else {
        return not_found();
    };
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    match route {
        Route::Metrics if get => {
            let text = tokio::task::spawn_blocking(move || cockpit.observer.metrics_text())
                .await
                .unwrap_or_default();
            plain(
                StatusCode::OK,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                text,
            )
        }
        Route::Advice if get => {
            if session(&cockpit, &req).is_none() && !is_operator(app, &req).await {
                return super::responses::unauthorized_with(
                    &crate::auth::AuthFailure::NoCredentials,
                    "Basic realm=\"ISDS\"",
                );
            }
            let body = serde_json::json!({ "advisories": cockpit.observer.advisories() });
            plain(StatusCode::OK, "application/json", body.to_string())
        }
        Route::Metrics | Route::Advice => method_not_allowed("GET"),
        Route::Ui { rest } => ui_page(app, &cockpit, rest, req).await,
        _ => not_found(),
    }
}

async fn ui_page(
    app: &Arc<App>,
    cockpit: &Arc<ui::Cockpit>,
    rest: String,
    req: Request<Incoming>,
) -> HttpResponse {
    let post = req.method() == Method::POST;
    if !post && req.method() != Method::GET {
        return method_not_allowed("GET, POST");
    }
    if req.uri().path() == "/ui" {
        return redirect("/ui/");
    }
    let token = session(cockpit, &req);
    match (rest.as_str(), post) {
        ("login", false) => return html(StatusCode::OK, ui::login_page(false)),
        ("login", true) => {
            let form = match read_form(req).await {
                Some(f) => f,
                None => {
                    return plain(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "text/plain",
                        "form too large\n".into(),
                    );
                }
            };
            let field = |n: &str| {
                form.iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or("")
            };
            if operator_credentials(app, field("login"), field("password")).await {
                let token = cockpit.open_session();
                let mut resp = redirect("/ui/");
                if let Ok(v) = HeaderValue::from_str(&format!(
                    "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
                )) {
                    resp.headers_mut().insert(header::SET_COOKIE, v);
                }
                return resp;
            }
            return html(StatusCode::UNAUTHORIZED, ui::login_page(true));
        }
        ("logout", true) => {
            if let Some(t) = &token {
                cockpit.close_session(t);
            }
            let mut resp = redirect("/ui/login");
            resp.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_static(
                    "isds_cockpit=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict",
                ),
            );
            return resp;
        }
        _ => {}
    }
    if token.is_none() {
        return redirect("/ui/login");
    }
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let form = if post {
        match read_form(req).await {
            Some(f) => f,
            None => {
                return plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "text/plain",
                    "form too large\n".into(),
                );
            }
        }
    } else {
        Vec::new()
    };
    let request = ui::Request {
        post,
        path: rest,
        query,
        form,
    };
    let cockpit = cockpit.clone();
    let page = match tokio::task::spawn_blocking(move || cockpit.page(&request)).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "inspector page panicked");
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                "internal error\n".into(),
            );
        }
    };
    match page {
        Page::Html { status, body } => html(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        ),
        Page::Redirect(to) => redirect(&to),
        Page::Download {
            content_type,
            file_name,
            bytes,
        } => {
            let mut resp = HttpResponse::new(super::body::ResponseBody::whole(Bytes::from(bytes)));
            let ct = HeaderValue::from_str(&content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            resp.headers_mut().insert(header::CONTENT_TYPE, ct);
            // Only a plain file name goes into the header; others download
            // under a neutral one.
            let safe: String = file_name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                .collect();
            let name = if safe.is_empty() {
                "document".to_owned()
            } else {
                safe
            };
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
                resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            resp
        }
    }
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    let mut resp = plain(status, "text/html; charset=utf-8", body);
    resp.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    resp
}

fn redirect(to: &str) -> HttpResponse {
    let mut resp = plain(
        StatusCode::SEE_OTHER,
        "text/plain; charset=utf-8",
        String::new(),
    );
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// The inspector login the request's cookie names, if open.
fn session<B>(cockpit: &ui::Cockpit, req: &Request<B>) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == SESSION_COOKIE && cockpit.has_session(v))
        .map(|(_, v)| v.to_owned())
}

async fn read_form(req: Request<Incoming>) -> Option<Vec<(String, String)>> {
    let bytes = Limited::new(req.into_body(), MAX_FORM)
        .collect()
        .await
        .ok()?
        .to_bytes();
    Some(form_urlencoded::parse(&bytes).into_owned().collect())
}

/// The request carries the operator's HTTP Basic credentials.
async fn is_operator<B>(app: &App, req: &Request<B>) -> bool {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    check(app, authorization).await
}

/// A login form with the operator's credentials, checked by the same
/// authenticator as every other login (lockout included).
async fn operator_credentials(app: &App, login: &str, password: &str) -> bool {
    use base64::Engine;
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{login}:{password}"))
    );
    check(app, Some(&value)).await
}

async fn check(app: &App, authorization: Option<&str>) -> bool {
    let creds = Credentials {
        method: LoginMethod::Basic,
        authorization,
        peer_certificate: None,
        cookie: None,
    };
    matches!(app.auth.authenticate(creds).await, Ok(Ok(identity)) if identity.is_operator())
}
