//! One HTTP request: route it, read the body within limits, hand SOAP to the
//! services, and log one line about it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::app::{App, ConnInfo, origin};
use super::request_body::{self, BodyError, ContentCoding};
use super::responses::{
    HttpResponse, fault_response, method_not_allowed, not_found, plain, unauthorized,
};
use super::routes::{Endpoint, LoginMethod, Route, route};
use crate::auth::Credentials;
use crate::service::{CallContext, Rejection, status_only_response};
use crate::soap::{self, Fault, SoapVersion};
use crate::status::IsdsStatus;
use crate::wsdl;
use crate::xml::ParseLimits;

/// Answers one request; never fails at the HTTP level (errors are responses).
pub(crate) async fn handle(
    app: Arc<App>,
    conn: Arc<ConnInfo>,
    req: Request<Incoming>,
) -> Result<HttpResponse, super::faults::DropConnection> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut operation: Option<String> = None;
    let mut capture = super::record::Capture::new(false);

    // Under an ISDS domain each path is answered only on its host.
    let admitted = app.hosts.admits(request_authority(&req), &path);
    let response = match if admitted {
        route(&path)
    } else {
        Route::NotFound
    } {
        Route::Health if method == Method::GET || method == Method::HEAD => {
            let state = app.health.store_state(&app.store).await;
            let (status, body) = super::health::report(state);
            plain(
                StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                "application/json",
                body,
            )
        }
        Route::Service { login, endpoint } if method == Method::POST => {
            capture.active = app.recorder.is_some() || app.cockpit.is_some();
            let (op, resp) = soap_call(&app, &conn, login, endpoint, req, &mut capture).await;
            operation = op;
            resp
        }
        Route::Service { login, endpoint } if method == Method::GET => {
            match query_param(req.uri().query(), "wsdl") {
                Some(choice) => match wsdl::wsdl_for_endpoint(endpoint, Some(choice)) {
                    Some(family) => {
                        let origin = app.hosts.service_origin(
                            &origin(&req, &conn),
                            login,
                            Endpoint::from_segment(family.endpoint()).unwrap_or(endpoint),
                        );
                        xml_document(wsdl::render(family, &origin, login.prefix()))
                    }
                    None => {
                        let choices: Vec<String> = wsdl::wsdl_choices(endpoint)
                            .into_iter()
                            .map(|c| format!("?wsdl={c}"))
                            .collect();
                        plain(
                            StatusCode::NOT_FOUND,
                            "text/plain; charset=utf-8",
                            format!(
                                "no WSDL {choice:?} is served at {path}; choose one of: {}\n",
                                choices.join(", ")
                            ),
                        )
                    }
                },
                None => method_not_allowed("POST"),
            }
        }
        Route::Service { .. } => answered_without_body(&app, req, method_not_allowed("POST, GET")),
        Route::Wsdl { name } if method == Method::GET => match wsdl::wsdl_by_name(&name) {
            Some(family) => {
                let prefix = login_prefix_of(&path);
                let origin = match Endpoint::from_segment(family.endpoint()) {
                    Some(endpoint) => app.hosts.service_origin(
                        &origin(&req, &conn),
                        login_method_of(prefix),
                        endpoint,
                    ),
                    None => origin(&req, &conn),
                };
                xml_document(wsdl::render(family, &origin, prefix))
            }
            None => not_found(),
        },
        Route::Schema { name } if method == Method::GET => match wsdl::schema_by_name(&name) {
            Some(text) => xml_document(text.to_owned()),
            None => not_found(),
        },
        Route::Health | Route::Wsdl { .. } | Route::Schema { .. } => {
            answered_without_body(&app, req, method_not_allowed("GET"))
        }
        Route::ProcessLogin if method == Method::POST && super::mobile_key::is_mep(&req) => {
            let resp = super::mobile_key::process_login(&app, &conn, &req).await;
            answered_without_body(&app, req, resp)
        }
        Route::ProcessLogin if method == Method::POST || method == Method::GET => {
            let resp = super::otp_login::process_login(&app, &conn, &req).await;
            answered_without_body(&app, req, resp)
        }
        Route::MepStateUpdate { extended } if method == Method::GET => {
            let resp = super::mobile_key::state_update(&app, &req, extended);
            answered_without_body(&app, req, resp)
        }
        Route::MepStateUpdate { .. } => answered_without_body(&app, req, method_not_allowed("GET")),
        Route::ProcessLogout if method == Method::GET || method == Method::POST => {
            let resp = super::otp_login::process_logout(&app, &conn, &req);
            answered_without_body(&app, req, resp)
        }
        Route::ProcessLogin | Route::ProcessLogout => {
            answered_without_body(&app, req, method_not_allowed("POST, GET"))
        }
        Route::AswsChangePassword if method == Method::POST => {
            super::asws::change_password(&app, req).await
        }
        Route::AswsChangePassword => answered_without_body(&app, req, method_not_allowed("POST")),
        // Clock moves are part of a recorded session: replay repeats them.
        Route::Admin { name }
            if name == "clock" && method == Method::POST && app.recorder.is_some() =>
        {
            capture.active = true;
            operation = Some("clock".to_owned());
            let req = super::record::buffer_admin(req, &mut capture).await;
            super::admin::handle(&app, &name, req).await
        }
        // The Mobile Key phone's endpoints (`/admin/mep`, `/admin/mep/keys`).
        Route::Admin { name } if name == "mep" || name == "mep/keys" => {
            super::admin_mep::handle(&app, &name, req).await
        }
        Route::Admin { name } => super::admin::handle(&app, &name, req).await,
        r @ (Route::Ui { .. } | Route::Metrics | Route::Advice) => {
            super::cockpit::handle(&app, r, req).await
        }
        Route::NotFound => answered_without_body(&app, req, not_found()),
    };
    let response = match &app.cockpit {
        Some(c) => {
            let seen = crate::observe::Seen {
                started,
                path: &path,
                operation: operation.as_deref(),
                login: capture.login.as_deref(),
                request: capture.request.as_ref(),
                request_len: capture.request_len,
                now: app.services.clock.unix(),
            };
            c.observer.observe(seen, response).await
        }
        None => response,
    };

    let response = match &app.recorder {
        Some(recorder) if capture.active => {
            let time = crate::domain::clock::xml_datetime(app.services.clock.unix());
            recorder
                .record(capture, &path, operation.as_deref(), time, response)
                .await
        }
        _ => response,
    };
    tracing::info!(
        target: "isds_gateway::access",
        %method,
        path = %path,
        operation = operation.as_deref().unwrap_or("-"),
        status = response.status().as_u16(),
        // Three decimals: the bare float printed binary noise
        // (e.g. 0.30000000000000004).
        duration_ms = %format_args!("{:.3}", started.elapsed().as_secs_f64() * 1000.0),
        remote = %conn.remote,
    );
    if response
        .extensions()
        .get::<super::faults::DropConnection>()
        .is_some()
    {
        return Err(super::faults::DropConnection);
    }
    Ok(response)
}

/// `response`, to a request whose body was not read: on HTTP/2 the body
/// is read and dropped in the background so the client sees the answer
/// cleanly (see `request_body`).
fn answered_without_body(
    app: &App,
    req: Request<Incoming>,
    response: HttpResponse,
) -> HttpResponse {
    let timeout = Duration::from_secs(app.config.limits.body_read_timeout_secs);
    let version = req.version();
    request_body::discard_rest(req.into_body(), version, timeout);
    response
}

/// Takes `bytes` (rounded up to KiB) from the bound on request bodies held
/// at once (`None`: no bound), adding to `held`; the permits hold them
/// until the request is answered.
fn take_in_flight(
    in_flight: Option<&Arc<Semaphore>>,
    held: &mut Option<OwnedSemaphorePermit>,
    bytes: usize,
) -> Result<(), UploadsBusy> {
    let Some(sem) = in_flight else {
        return Ok(());
    };
    let kib = u32::try_from(bytes.div_ceil(1024)).map_err(|_| UploadsBusy)?;
    if kib == 0 {
        return Ok(());
    }
    let permit = sem
        .clone()
        .try_acquire_many_owned(kib)
        .map_err(|_| UploadsBusy)?;
    match held {
        Some(h) => h.merge(permit),
        None => *held = Some(permit),
    }
    Ok(())
}

/// The answer when the bound on request bodies in flight is reached.
fn uploads_busy(version: SoapVersion) -> HttpResponse {
    let fault = Fault {
        http_status: 503,
        ..Fault::server("the gateway is receiving too many large requests at once; retry later")
    };
    fault_response(&fault, version)
}

/// The bound on request bodies in flight is reached.
#[derive(Debug, thiserror::Error)]
#[error("the gateway is receiving too many request bodies at once")]
struct UploadsBusy;

/// The operation a SOAP request names, read from at most `max` bytes of its
/// body, and only until it is found (the rest is never read): the first
/// element inside `Body`.
async fn operation_from_prefix(mut body: Incoming, max: usize) -> Option<String> {
    let mut buf = Vec::new();
    loop {
        if let Some(name) = request_body::first_body_element(&buf) {
            return Some(name);
        }
        if buf.len() >= max {
            return None;
        }
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                }
            }
            _ => return None,
        }
    }
}

/// Bytes of a body read to name the operation of a refused request.
const OPERATION_PREFIX_BYTES: usize = 16 * 1024;

/// Reads, parses and dispatches one SOAP request. Returns the operation
/// name (when the body got that far) for the access log.
async fn soap_call(
    app: &App,
    conn: &ConnInfo,
    login: LoginMethod,
    endpoint: Endpoint,
    req: Request<Incoming>,
    capture: &mut super::record::Capture,
) -> (Option<String>, HttpResponse) {
    let (parts, mut body) = req.into_parts();
    // An answer given before the whole body is read; on HTTP/2 the rest of
    // the body is read and dropped so the client sees the answer cleanly.
    let read_timeout = Duration::from_secs(app.config.limits.body_read_timeout_secs);
    let version = parts.version;
    let early = |body: Incoming, response: HttpResponse| {
        request_body::discard_rest(body, version, read_timeout);
        (None, response)
    };
    // Until the envelope is read, answer in the version the request
    // announces, else in the endpoint's own binding version.
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    // An MTOM request (`multipart/related`) names its version in
    // `start-info`.
    let multipart = content_type.filter(|ct| soap::mtom::is_multipart_related(ct));
    let announced = match multipart {
        Some(ct) => soap::mtom::announced_version(ct),
        None => content_type.and_then(SoapVersion::from_content_type),
    };
    let fallback = announced.unwrap_or(if endpoint.is_soap12() {
        SoapVersion::V12
    } else {
        SoapVersion::V11
    });

    // Authenticate before reading the body: a stranger's upload is refused
    // without being read (on HTTP/2 its rest is then only discarded).
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let cookie = parts
        .headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok());
    let creds = Credentials {
        method: login,
        authorization,
        peer_certificate: conn.peer_certificate.as_deref(),
        cookie,
    };
    // What only a recording keeps (the cockpit takes the login from the
    // identity, or from the header only when the login is refused).
    let recording = capture.active && app.recorder.is_some();
    if recording {
        capture.request_content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        capture.soap_action = parts
            .headers
            .get("soapaction")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some((login, password)) = authorization.and_then(super::record::basic_login) {
            capture.login = Some(login);
            capture.basic_password = Some(password);
        }
    }
    let identity = match app.auth.authenticate(creds).await {
        Ok(Ok(identity)) => identity,
        Ok(Err(failure)) => {
            capture.auth_failed = true;
            if capture.active && !recording {
                capture.login = authorization
                    .and_then(super::record::basic_login)
                    .map(|(login, _)| login);
            }
            return early(body, unauthorized(&failure));
        }
        Err(err) => {
            if capture.active && !recording {
                capture.login = authorization
                    .and_then(super::record::basic_login)
                    .map(|(login, _)| login);
            }
            tracing::error!(error = %err, "authentication failed internally");
            let disk_full = matches!(&err, crate::auth::AuthError::Repo(e) if e.is_disk_full());
            let fault = Fault::server(crate::service::public_reason(disk_full));
            return early(body, fault_response(&fault, fallback));
        }
    };

    if capture.active {
        capture.login = Some(identity.user.login.clone());
    }

    let limit = app.config.limits.max_body_bytes;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Big messages (VoDZ) are streamed to disk, never held: their bodies
    // are bounded by the VoDZ limits instead.
    if endpoint != Endpoint::Vodz && declared.is_some_and(|len| len > limit as u64) {
        return early(body, fault_response(&Fault::too_large(limit), fallback));
    }
    // A body the gateway cannot decode is refused before it is read
    // (RFC 9110 15.5.16: 415 for an unsupported content coding).
    let coding = match ContentCoding::from_headers(&parts.headers) {
        Ok(coding) => coding,
        Err(name) => {
            let fault = Fault {
                http_status: 415,
                ..Fault::client(format!(
                    "unsupported Content-Encoding {name:?}: the gateway reads gzip, deflate and identity"
                ))
            };
            return early(body, fault_response(&fault, fallback));
        }
    };
    // The user's parallel slot is held while the body arrives too. A
    // refused request costs nothing: only the start of its body is read,
    // to name the operation in the answer.
    let user_key = if app.limits.enabled() {
        format!("{}/{}", identity.databox.id, identity.user.id)
    } else {
        String::new()
    };
    let _slot = match app.limits.enter(&user_key) {
        Ok(slot) => slot,
        Err(code) => {
            let name = tokio::time::timeout(
                read_timeout,
                operation_from_prefix(body, OPERATION_PREFIX_BYTES),
            )
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
            // 3008 names the box and the limit (table row 3008).
            let limit = app.config.limits.max_parallel_requests_per_user.to_string();
            let status = IsdsStatus::fill(code, &[identity.databox.id.as_str(), &limit]);
            // The operation's own response with only the status set, so it
            // still validates; an unknown element gets the bare status.
            let fragment =
                crate::schema::status_response(&name, status.code.code(), &status.message)
                    .unwrap_or_else(|| status_only_response(&name, endpoint, &status));
            let body = soap::response_envelope(fallback, &fragment);
            let mut resp = plain(StatusCode::OK, fallback.content_type(), body);
            // The unread rest of the body: this connection cannot go on.
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return (Some(name), resp);
        }
    };

    if endpoint == Endpoint::Vodz {
        return super::vodz_request::call(
            app,
            conn,
            login,
            &parts.headers,
            parts.version,
            body,
            coding,
            &identity,
            fallback,
        )
        .await;
    }

    // The declared length is taken from the bound on bodies in flight
    // before anything is read; what a body without one brings, after.
    let mut body_permit = None;
    if take_in_flight(
        app.bodies_in_flight.as_ref(),
        &mut body_permit,
        declared.map_or(0, |n| usize::try_from(n).unwrap_or(limit).min(limit)),
    )
    .is_err()
    {
        return early(body, uploads_busy(fallback));
    }
    let collected = tokio::time::timeout(read_timeout, async {
        match multipart {
            // The envelope an MTOM body stands for, its parts resolved as
            // they arrive (see `soap::mtom`).
            Some(ct) => {
                let data_dir = &app.config.data_dir;
                request_body::read_multipart(&mut body, declared, coding, limit, ct, data_dir).await
            }
            None => request_body::read(&mut body, declared, coding, limit).await,
        }
    })
    .await;
    let bytes = match collected {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(BodyError::TooLarge { limit })) => {
            return early(body, fault_response(&Fault::too_large(limit), fallback));
        }
        // Not valid MTOM: HTTP 599 (VoDZ specification, chapter 3.4); the
        // rest of the body is not read.
        Ok(Err(BodyError::Multipart(err))) => {
            return early(body, fault_response(&err.fault(), fallback));
        }
        Ok(Err(err)) => {
            let fault = Fault::client(err.to_string());
            return (None, fault_response(&fault, fallback));
        }
        Err(_) => {
            let fault = Fault {
                http_status: 408,
                ..Fault::client(format!(
                    "the request body did not arrive within {} seconds",
                    read_timeout.as_secs()
                ))
            };
            return (None, fault_response(&fault, fallback));
        }
    };
    drop(body);
    // A body without a declared length is counted once it is in.
    if take_in_flight(
        app.bodies_in_flight.as_ref(),
        &mut body_permit,
        bytes
            .len()
            .saturating_sub(declared.map_or(0, |n| usize::try_from(n).unwrap_or(limit).min(limit))),
    )
    .is_err()
    {
        return (None, uploads_busy(fallback));
    }
    let _body_permit = body_permit;

    if capture.active {
        // What is kept is the envelope, not the multipart it came in.
        if multipart.is_some() {
            capture.request_content_type = Some(fallback.content_type().to_owned());
        }
        capture.request_len = bytes.len() as u64;
        // The cockpit alone keeps small requests only: a large upload is
        // not held beyond its parse.
        if app.recorder.is_some() || bytes.len() <= crate::observe::MAX_KEPT_BODY {
            capture.request = Some(bytes.clone());
        }
    }
    let limits = ParseLimits {
        max_bytes: limit,
        max_depth: app.config.limits.max_xml_depth,
        max_attributes: app.config.limits.max_xml_attributes,
        max_elements: app.config.limits.max_xml_elements,
    };
    let envelope = match soap::parse_envelope(&bytes, &limits) {
        Ok(env) => env,
        Err(err) => return (None, fault_response(&Fault::from(&err), fallback)),
    };
    drop(bytes);

    if let Some(action) = app.faults.check(&envelope.body) {
        let name = envelope.body.name.clone();
        if let Some(resp) = super::faults::apply(action, envelope.version, &name).await {
            return (Some(name), resp);
        }
    }

    let ctx = CallContext {
        login,
        endpoint,
        headers: &parts.headers,
        peer_certificate: conn.peer_certificate.as_deref(),
        identity: &identity,
        vodz: None,
    };
    let outcome = app.services.call(&ctx, &envelope.body).await;
    let response = match outcome.reply {
        Ok(fragment) => {
            let body = soap::response_envelope_fragment(envelope.version, fragment);
            let mut resp = Response::new(super::body::ResponseBody::of_fragment(body));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(envelope.version.content_type()),
            );
            resp
        }
        Err(Rejection::Fault(fault)) => fault_response(&fault, envelope.version),
        Err(Rejection::Unauthorized(failure)) => unauthorized(&failure),
    };
    (Some(outcome.operation), response)
}

fn xml_document(text: String) -> HttpResponse {
    plain(StatusCode::OK, "text/xml; charset=utf-8", text)
}

/// `Some(value)` when `name` appears in the query (`?wsdl` gives `Some("")`).
fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key.eq_ignore_ascii_case(name)).then_some(value)
    })
}

/// The login prefix a document path was requested under, so a WSDL fetched
/// as `/cert/DS/x.wsdl` points at `/cert/DS/…`.
fn login_prefix_of(path: &str) -> &'static str {
    LoginMethod::ALL
        .into_iter()
        .filter(|l| !l.prefix().is_empty())
        .find(|l| path.starts_with(&format!("{}/DS/", l.prefix())))
        .map(|l| l.prefix())
        .unwrap_or("")
}

/// The login method of a login prefix (`""` for plain Basic).
fn login_method_of(prefix: &str) -> LoginMethod {
    LoginMethod::ALL
        .into_iter()
        .find(|l| l.prefix() == prefix)
        .unwrap_or(LoginMethod::Basic)
}

/// The authority a request was sent to: the URI's (HTTP/2, absolute
/// form), else the `Host` header.
fn request_authority<B>(req: &Request<B>) -> Option<&str> {
    req.uri()
        .authority()
        .map(|a| a.as_str())
        .or_else(|| req.headers().get(header::HOST)?.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params() {
        assert_eq!(query_param(Some("wsdl"), "wsdl"), Some(""));
        assert_eq!(query_param(Some("WSDL"), "wsdl"), Some(""));
        assert_eq!(
            query_param(Some("a=1&wsdl=db_access"), "wsdl"),
            Some("db_access")
        );
        assert_eq!(query_param(Some("a=1"), "wsdl"), None);
        assert_eq!(query_param(None, "wsdl"), None);
    }

    #[test]
    fn prefixes_of_document_paths() {
        assert_eq!(login_prefix_of("/cert/DS/x.wsdl"), "/cert");
        assert_eq!(login_prefix_of("/certds/DS/x.wsdl"), "/certds");
        assert_eq!(login_prefix_of("/DS/x.wsdl"), "");
        assert_eq!(login_prefix_of("/wsdl/x.wsdl"), "");
    }
}
