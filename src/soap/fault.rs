//! SOAP faults: reserved for requests that are not valid SOAP or XML, for
//! requests the schema refuses, and for outages. Business errors are status
//! blocks, never faults.

use super::{SoapError, SoapVersion};
use crate::xml::escape_text_into;

/// Who is at fault, in SOAP 1.1 terms (mapped to 1.2 codes when rendered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    VersionMismatch,
    MustUnderstand,
    /// The request is wrong (SOAP 1.2: `Sender`).
    Client,
    /// The server failed (SOAP 1.2: `Receiver`).
    Server,
}

impl FaultCode {
    fn local_name(self, version: SoapVersion) -> &'static str {
        match (self, version) {
            (FaultCode::VersionMismatch, _) => "VersionMismatch",
            (FaultCode::MustUnderstand, _) => "MustUnderstand",
            (FaultCode::Client, SoapVersion::V11) => "Client",
            (FaultCode::Client, SoapVersion::V12) => "Sender",
            (FaultCode::Server, SoapVersion::V11) => "Server",
            (FaultCode::Server, SoapVersion::V12) => "Receiver",
        }
    }
}

/// A fault with the HTTP status it travels with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: FaultCode,
    pub reason: String,
    pub http_status: u16,
}

impl Fault {
    pub fn client(reason: impl Into<String>) -> Self {
        Self {
            code: FaultCode::Client,
            reason: reason.into(),
            http_status: 500,
        }
    }

    pub fn server(reason: impl Into<String>) -> Self {
        Self {
            code: FaultCode::Server,
            reason: reason.into(),
            http_status: 500,
        }
    }

    /// The request body exceeds the configured limit: HTTP 413.
    pub fn too_large(limit: usize) -> Self {
        Self {
            code: FaultCode::Client,
            reason: format!("request body exceeds the limit of {limit} bytes"),
            http_status: 413,
        }
    }

    /// The whole envelope, ready to send (the declaration single-quoted,
    /// as ISDS writes its faults).
    pub fn to_envelope(&self, version: SoapVersion) -> String {
        let ns = version.namespace();
        let code = self.code.local_name(version);
        let mut reason = String::with_capacity(self.reason.len());
        escape_text_into(&mut reason, &self.reason);
        match version {
            SoapVersion::V11 => format!(
                r#"<?xml version='1.0' encoding='UTF-8'?><SOAP-ENV:Envelope xmlns:SOAP-ENV="{ns}"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:{code}</faultcode><faultstring>{reason}</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#
            ),
            SoapVersion::V12 => format!(
                r#"<?xml version='1.0' encoding='UTF-8'?><env:Envelope xmlns:env="{ns}"><env:Body><env:Fault><env:Code><env:Value>env:{code}</env:Value></env:Code><env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#
            ),
        }
    }
}

impl From<&SoapError> for Fault {
    fn from(err: &SoapError) -> Self {
        let reason = err.to_string();
        match err {
            SoapError::Xml(x) if x.is_oversize() => Fault {
                code: FaultCode::Client,
                reason,
                http_status: 413,
            },
            SoapError::VersionMismatch(_) => Fault {
                code: FaultCode::VersionMismatch,
                reason,
                http_status: 500,
            },
            SoapError::MustUnderstand(_) => Fault {
                code: FaultCode::MustUnderstand,
                reason,
                http_status: 500,
            },
            _ => Fault::client(reason),
        }
    }
}
