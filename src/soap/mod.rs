//! The SOAP layer: envelopes in (1.1 and 1.2), envelopes and faults out.
//!
//! This layer knows nothing of ISDS operations; it hands the single body
//! element on and wraps whatever comes back.

mod envelope;
mod fault;
pub mod mtom;
pub mod spool;

use crate::xml::Fragment;
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
        let lower = content_type.as_bytes();
        if contains_ignoring_case(lower, b"application/soap+xml") {
            Some(SoapVersion::V12)
        } else if contains_ignoring_case(lower, b"text/xml") {
            Some(SoapVersion::V11)
        } else {
            None
        }
    }
}

/// Wraps a body fragment (one element with its own namespace declarations)
/// into an envelope of `version`.
pub fn response_envelope(version: SoapVersion, body_fragment: &str) -> String {
    let mut out = envelope_start(version);
    out.push_str(body_fragment);
    out.push_str(ENVELOPE_END);
    out
}

/// [`response_envelope`] around a [`Fragment`], whose large binary
/// contents stay bytes until the response is sent.
pub fn response_envelope_fragment(version: SoapVersion, mut body: Fragment) -> Fragment {
    // A small text answer (most are) becomes one string: one buffer to
    // send, and to keep in the cockpit's traffic view without a copy.
    if body.is_text() && body.len() <= JOINED_ANSWER_BYTES {
        let text = body.into_string();
        let mut out = String::with_capacity(ENVELOPE_START_BYTES + text.len() + ENVELOPE_END.len());
        push_envelope_start(&mut out, version);
        out.push_str(&text);
        out.push_str(ENVELOPE_END);
        return Fragment::from(out);
    }
    body.prepend(envelope_start(version));
    body.append(ENVELOPE_END.to_owned());
    body
}

const ENVELOPE_END: &str = "</SOAP-ENV:Body></SOAP-ENV:Envelope>";

/// The XML declaration ISDS writes, single-quoted (as in the real
/// responses the project is compared with).
pub const XML_DECLARATION: &str = "<?xml version='1.0' encoding='utf-8'?>";

/// The envelope's start as ISDS writes it: declaration, `SOAP-ENV`
/// prefix with `xsd` declared, no whitespace.
fn envelope_start(version: SoapVersion) -> String {
    let mut start = String::with_capacity(ENVELOPE_START_BYTES);
    push_envelope_start(&mut start, version);
    start
}

/// Room for [`envelope_start`] of either version.
const ENVELOPE_START_BYTES: usize = 200;

/// Text answers up to this size are sent as one string (copying a larger
/// one would cost more than the two extra pieces).
const JOINED_ANSWER_BYTES: usize = 64 * 1024;

fn push_envelope_start(out: &mut String, version: SoapVersion) {
    out.push_str(XML_DECLARATION);
    out.push_str(r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV=""#);
    out.push_str(version.namespace());
    out.push_str(r#"" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><SOAP-ENV:Body>"#);
}

/// Whether `haystack` holds `needle` (lower case), ASCII case ignored.
fn contains_ignoring_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}
