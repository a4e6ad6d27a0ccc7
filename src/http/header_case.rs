//! Response header names on HTTP/1.1 in the casing ISDS uses.
//!
//! hyper writes header names in lower case. ISDS writes `Content-Type`,
//! `WWW-Authenticate`, `X-Response-message-code`, … and libdatovka looks
//! some of them up case-sensitively (`WWW-Authenticate` and the two
//! `X-Response-message-*` headers of a refused login). hyper's title-case
//! option alone would give `Www-Authenticate` and `X-Response-Message-Code`,
//! so the gateway attaches hyper's header-case record to the answers that
//! carry those (hyper's server writes the casings of a record it finds on
//! an answer). The only public source of such a record is a request parsed
//! with header-case preservation on: the casings below are read once from
//! a request hyper parses in memory; the gateway's own connections do not
//! record their requests' casings. Names missing from the record, and
//! every name of an answer without one, are title-cased (`Set-Cookie`,
//! `Location`, `Date`).
//! HTTP/2 header names are lower case by protocol and stay so.

use std::convert::Infallible;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::header::HeaderName;
use hyper::http::Extensions;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::sync::{OnceCell, oneshot};

/// Header names the gateway answers with whose casing title case would
/// get wrong or that clients compare exactly, as ISDS spells them.
pub const ISDS_HEADER_NAMES: [&str; 7] = [
    "Content-Type",
    "Content-Length",
    "WWW-Authenticate",
    "X-Response-message-code",
    "X-Response-message-text",
    "Set-Cookie",
    "Location",
];

static CASES: OnceCell<Option<Extensions>> = OnceCell::const_new();

/// Attaches the ISDS casings to `resp` (used by hyper for HTTP/1.1 only)
/// when it carries a header whose ISDS casing title case gets wrong; the
/// others (most answers: `Content-Type`, `Content-Length`) are written in
/// title case, which is their ISDS casing, without a copy of the record.
pub async fn apply<B>(resp: &mut Response<B>) {
    static NEEDING_RECORD: LazyLock<Vec<HeaderName>> = LazyLock::new(|| {
        ISDS_HEADER_NAMES
            .into_iter()
            .filter(|name| !title_case_is_isds(name))
            .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
            .collect()
    });
    let headers = resp.headers();
    if !NEEDING_RECORD.iter().any(|name| headers.contains_key(name)) {
        return;
    }
    if let Some(cases) = CASES.get_or_init(record_cases).await {
        resp.extensions_mut().extend(cases.clone());
    }
}

/// Whether hyper's title case of `name` (each letter after a `-` or at
/// the start upper case, the rest lower case) is `name` itself.
fn title_case_is_isds(name: &str) -> bool {
    let mut after_dash = true;
    name.bytes().all(|b| {
        let expected = if after_dash {
            b.to_ascii_uppercase()
        } else {
            b.to_ascii_lowercase()
        };
        after_dash = b == b'-';
        b == expected
    })
}

/// The case record hyper keeps for a request carrying every name of
/// [`ISDS_HEADER_NAMES`]; `None` (plain title case then) if hyper did not
/// produce one within a second.
async fn record_cases() -> Option<Extensions> {
    let (mut client, server) = tokio::io::duplex(4096);
    let (tx, rx) = oneshot::channel::<Extensions>();
    let tx = Arc::new(Mutex::new(Some(tx)));
    let service = service_fn(move |mut req: Request<hyper::body::Incoming>| {
        let extensions = std::mem::take(req.extensions_mut());
        if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(extensions);
        }
        async { Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new())) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .preserve_header_case(true)
        .serve_connection(TokioIo::new(server), service);
    let driver = tokio::spawn(connection);
    let mut request = String::from("GET / HTTP/1.1\r\nHost: gateway\r\n");
    for name in ISDS_HEADER_NAMES {
        let value = if name == "Content-Length" { "0" } else { "x" };
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let written = client.write_all(request.as_bytes()).await;
    let cases = match written {
        Ok(()) => tokio::time::timeout(Duration::from_secs(1), rx)
            .await
            .ok()
            .and_then(Result::ok),
        Err(_) => None,
    };
    drop(client);
    driver.abort();
    if cases.is_none() {
        tracing::warn!("header casings could not be recorded; HTTP/1.1 headers are title-cased");
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_title_case_gets_wrong() {
        let wrong: Vec<&str> = ISDS_HEADER_NAMES
            .into_iter()
            .filter(|name| !title_case_is_isds(name))
            .collect();
        assert_eq!(
            wrong,
            [
                "WWW-Authenticate",
                "X-Response-message-code",
                "X-Response-message-text"
            ]
        );
    }
}
