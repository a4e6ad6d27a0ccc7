//! What every front end works with: the gateway's shared state ([`App`])
//! and the facts of the connection a request arrived on ([`ConnInfo`]).

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::Request;
use hyper::body::Incoming;
use hyper::header;
use tokio::sync::Semaphore;

use super::limits::UserLimits;
use crate::auth::Authenticator;
use crate::config::Config;
use crate::service::Services;
use crate::store::Store;
use crate::tls::PeerCertificate;

/// State shared by every request.
pub(crate) struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    /// Shared with the cockpit (the Mobile Key phone page).
    pub auth: Arc<Authenticator>,
    pub services: Services,
    pub limits: UserLimits,
    /// The clock `/admin/clock` moves; `Some` only in test mode.
    pub test_clock: Option<Arc<crate::domain::clock::TestClock>>,
    /// Scripted responses and faults (`[[faults]]`).
    pub faults: Arc<super::faults::FaultRules>,
    /// `/admin/faults` is served (rules configured, or test mode).
    pub faults_admin: bool,
    /// Where exchanges are recorded (`serve --record`).
    pub recorder: Option<Arc<super::record::Recorder>>,
    /// The testers' cockpit (`/ui/`, `/advice`, `/metrics`); `None` with
    /// `serve --no-ui`.
    pub cockpit: Option<Arc<crate::ui::Cockpit>>,
    /// ISDS's host layout under the configured domains.
    pub hosts: super::hosts::IsdsDomains,
    /// The store's state as `/health` last probed it.
    pub health: super::health::Health,
    /// KiB of request bodies that may be held at once (`None`: no bound).
    pub bodies_in_flight: Option<Arc<Semaphore>>,
}

/// Facts about the connection a request arrived on.
pub(crate) struct ConnInfo {
    pub remote: SocketAddr,
    pub tls: bool,
    /// The client certificate presented in the TLS handshake, if any.
    pub peer_certificate: Option<Arc<PeerCertificate>>,
}

/// Scheme and authority the client used, for addresses in served WSDLs.
pub(crate) fn origin(req: &Request<Incoming>, conn: &ConnInfo) -> String {
    let scheme = if conn.tls { "https" } else { "http" };
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| is_safe_authority(h))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{scheme}://{host}")
}

/// A Host header value that can go into an XML attribute unescaped.
fn is_safe_authority(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_host_headers_are_not_echoed() {
        assert!(is_safe_authority("127.0.0.1:8080"));
        assert!(is_safe_authority("[::1]:8443"));
        assert!(!is_safe_authority("a\"><x"));
        assert!(!is_safe_authority(""));
    }
}
