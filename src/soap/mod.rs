//! The SOAP layer: envelopes in (1.1 and 1.2), envelopes and faults out.
//!
//! This layer knows nothing of ISDS operations; it hands the single body
//! element on and wraps whatever comes back.

mod envelope;
mod fault;

pub use envelope::{Envelope, SoapError, parse_envelope};
pub use fault::{Fault, FaultCode};

/// `http://schemas.xmlsoap.org/soap/envelope/`
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// `http://www.w3.org/2003/05/soap-envelope`
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";

/// The SOAP version of a request, answered in kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapVersion {
    V11,
    V12,
}

impl SoapVersion {
    pub fn namespace(self) -> &'static str {
        match self {
            SoapVersion::V11 => SOAP11_NS,
            SoapVersion::V12 => SOAP12_NS,
        }
    }

    /// The `Content-Type` of responses in this version.
    pub fn content_type(self) -> &'static str {
        match self {
            SoapVersion::V11 => "text/xml; charset=utf-8",
            SoapVersion::V12 => "application/soap+xml; charset=utf-8",
        }
    }

    /// The version a request's `Content-Type` announces, if any: SOAP 1.2
    /// travels as `application/soap+xml` (possibly inside MTOM's
    /// multipart `type` parameter), SOAP 1.1 as `text/xml`.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let lower = content_type.to_ascii_lowercase();
        if lower.contains("application/soap+xml") {
            Some(SoapVersion::V12)
        } else if lower.contains("text/xml") {
            Some(SoapVersion::V11)
        } else {
            None
        }
    }
}

/// Wraps a body fragment (one element with its own namespace declarations)
/// into an envelope of `version`.
pub fn response_envelope(version: SoapVersion, body_fragment: &str) -> String {
    response_envelope_owned(version, body_fragment.to_owned())
}

/// [`response_envelope`] reusing the fragment's buffer, so a large
/// response (a downloaded message) is not copied once more.
pub fn response_envelope_owned(version: SoapVersion, body_fragment: String) -> String {
    let mut prefix = String::with_capacity(200);
    prefix.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    prefix.push_str(r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV=""#);
    prefix.push_str(version.namespace());
    prefix.push_str(r#""><SOAP-ENV:Body>"#);
    const SUFFIX: &str = "</SOAP-ENV:Body></SOAP-ENV:Envelope>";
    let mut out = body_fragment;
    out.reserve(prefix.len() + SUFFIX.len());
    out.insert_str(0, &prefix);
    out.push_str(SUFFIX);
    out
}
