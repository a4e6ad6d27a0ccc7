//! The OTP password services (ISDS_OTP_autentizace, 3): `POST
//! /asws/changePassword` hosts ChangePasswordOTP and SendSMSCode, SOAP 1.1
//! in their own namespace [`ASWS_NS`], answered with a `dbStatus` block in
//! that namespace.
//!
//! A user with OTP login cannot change the password with
//! ChangeISDSPassword (3.1); here they authenticate with HTTP Basic whose
//! password carries the one-time code (ChangePasswordOTP, as in 2.1.1.1)
//! or the password alone (SendSMSCode, which "sends" a TOTP code by the
//! simulated SMS of the OTP login). A refused login is the OTP login's 401
//! with the challenge of the step (`hotp`, `totp`, `totpsendsms`).

use hyper::body::Incoming;
use hyper::header;
use hyper::{Request, StatusCode};

use super::app::App;
use super::request_body::{self, ContentCoding};
use super::responses::{HttpResponse, fault_response, plain, unauthorized_with};
use crate::auth::{OtpStep, OtpVerified};
use crate::soap::{self, Fault, SoapVersion};
use crate::status::{IsdsCode, IsdsStatus};
use crate::xml::{Element, ParseLimits};

/// The namespace of the OTP password services (ChangePassword.wsdl 1.0).
pub const ASWS_NS: &str = "http://isds.czechpoint.cz/v20/asws";

/// Largest request body read: the two operations carry two passwords and
/// a constant.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// ISDS_OTP_autentizace 3.3: one code per 30 seconds (2301).
const SMS_INTERVAL_SECONDS: i64 = 30;

/// One request to `/asws/changePassword`.
pub(super) async fn change_password(app: &App, req: Request<Incoming>) -> HttpResponse {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let version = SoapVersion::V11;
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return fault_response(&Fault::too_large(MAX_BODY_BYTES), version);
    }
    let coding = match ContentCoding::from_headers(req.headers()) {
        Ok(c) => c,
        Err(why) => {
            let fault = Fault {
                http_status: 415,
                ..Fault::client(why)
            };
            return fault_response(&fault, version);
        }
    };
    let timeout = std::time::Duration::from_secs(app.config.limits.body_read_timeout_secs);
    let req_version = req.version();
    let mut body = req.into_body();
    let bytes = match tokio::time::timeout(
        timeout,
        request_body::read(&mut body, declared, coding, MAX_BODY_BYTES),
    )
    .await
    {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(request_body::BodyError::TooLarge { .. })) => {
            request_body::discard_rest(body, req_version, timeout);
            return fault_response(&Fault::too_large(MAX_BODY_BYTES), version);
        }
        Ok(Err(e)) => return fault_response(&Fault::client(e.to_string()), version),
        Err(_) => {
            let fault = Fault {
                http_status: 408,
                ..Fault::client("the request body did not arrive in time")
            };
            return fault_response(&fault, version);
        }
    };
    let limits = ParseLimits {
        max_bytes: MAX_BODY_BYTES,
        max_depth: app.config.limits.max_xml_depth,
        max_attributes: app.config.limits.max_xml_attributes,
        max_elements: app.config.limits.max_xml_elements,
    };
    let envelope = match soap::parse_envelope(&bytes, &limits) {
        Ok(env) => env,
        Err(err) => return fault_response(&Fault::from(&err), version),
    };
    let version = envelope.version;
    let body = &envelope.body;
    if body.ns.as_deref() != Some(ASWS_NS) {
        let fault = Fault::client(format!(
            "the body element {} is not in the namespace {ASWS_NS}",
            body.name
        ));
        return fault_response(&fault, version);
    }
    let authorization = authorization.as_deref();
    match body.name.as_str() {
        "SendSMSCode" => send_sms_code(app, version, authorization).await,
        "ChangePasswordOTP" => change_password_otp(app, version, body, authorization).await,
        other => {
            let fault = Fault::client(format!(
                "{other} is not an operation of /asws/changePassword \
                 (ChangePasswordOTP, SendSMSCode)"
            ));
            fault_response(&fault, version)
        }
    }
}

/// SendSMSCode (3.3): the password alone; a TOTP code goes to the user's
/// phone (the simulated SMS).
async fn send_sms_code(
    app: &App,
    version: SoapVersion,
    authorization: Option<&str>,
) -> HttpResponse {
    let step = OtpStep::TotpSendSms;
    match app
        .auth
        .otp_verify(step, authorization, Some(SMS_INTERVAL_SECONDS))
        .await
    {
        Ok(OtpVerified::SmsSent) => answer("SendSMSCode", version, &IsdsStatus::ok()),
        Ok(OtpVerified::SmsTooSoon) => answer(
            "SendSMSCode",
            version,
            &IsdsStatus::new(IsdsCode::SmsCodeTooSoon),
        ),
        Ok(OtpVerified::Refused(failure)) => unauthorized_with(&failure, step.challenge()),
        Ok(OtpVerified::User(_)) | Err(_) => internal("SendSMSCode", version),
    }
}

/// ChangePasswordOTP (3.2): password and one-time code of the kind
/// `dbOTPType` names; then `dbOldPassword` must be the current password
/// and `dbNewPassword` pass the rules.
async fn change_password_otp(
    app: &App,
    version: SoapVersion,
    body: &Element,
    authorization: Option<&str>,
) -> HttpResponse {
    const OP: &str = "ChangePasswordOTP";
    let field = |name: &str| {
        body.elements()
            .find(|e| e.ns.as_deref() == Some(ASWS_NS) && e.name == name)
            .map(Element::text)
    };
    let step = match field("dbOTPType").as_deref().map(str::trim) {
        Some(t) if t.eq_ignore_ascii_case("HOTP") => OtpStep::Hotp,
        Some(t) if t.eq_ignore_ascii_case("TOTP") => OtpStep::Totp,
        // The manual allows the constants HOTP and TOTP only.
        _ => {
            return answer(OP, version, &IsdsStatus::new(IsdsCode::OtpServiceError));
        }
    };
    let user = match app.auth.otp_verify(step, authorization, None).await {
        Ok(OtpVerified::User(user)) => user,
        Ok(OtpVerified::Refused(failure)) => return unauthorized_with(&failure, step.challenge()),
        Ok(OtpVerified::SmsSent | OtpVerified::SmsTooSoon) | Err(_) => {
            return internal(OP, version);
        }
    };
    let old = field("dbOldPassword").unwrap_or_default();
    let new = field("dbNewPassword").unwrap_or_default();
    match crate::service::change_password_otp(&app.services, &user, old, new).await {
        Ok(status) => {
            if status.code == IsdsCode::Ok {
                tracing::info!(login = %user.login, user = %user.id, "password changed by ChangePasswordOTP");
            }
            answer(OP, version, &status)
        }
        Err(err) => {
            tracing::error!(error = %err, "ChangePasswordOTP failed");
            internal(OP, version)
        }
    }
}

/// 2300, the manual's answer to an unexpected failure of both services.
fn internal(operation: &str, version: SoapVersion) -> HttpResponse {
    answer(
        operation,
        version,
        &IsdsStatus::new(IsdsCode::OtpServiceError),
    )
}

/// `<{operation}Response>` with only the status block, in [`ASWS_NS`].
fn answer(operation: &str, version: SoapVersion, status: &IsdsStatus) -> HttpResponse {
    let mut message = String::new();
    crate::xml::writer::escape_text_into(&mut message, &status.message);
    let fragment = format!(
        "<{operation}Response xmlns=\"{ASWS_NS}\"><dbStatus><dbStatusCode>{}</dbStatusCode>\
         <dbStatusMessage>{message}</dbStatusMessage></dbStatus></{operation}Response>",
        status.code.code()
    );
    plain(
        StatusCode::OK,
        version.content_type(),
        soap::response_envelope(version, &fragment),
    )
}
