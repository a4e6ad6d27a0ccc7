//! One request to a running gateway's `/admin/…` endpoints with the
//! operator's credentials, for the commands that talk to a running gateway
//! (`clock`, `mep`).

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header;
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;

use crate::config::OperatorConfig;

/// The gateway could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum AdminHttpError {
    #[error("invalid --url {0:?}: expected http://HOST:PORT")]
    Url(String),
    #[error("cannot reach the gateway at {url}: {message}")]
    Connect { url: String, message: String },
}

/// Sends `body` (POST) or nothing (GET) to `<url><path>` and returns the
/// status and the body text.
pub async fn request(
    url: &str,
    operator: &OperatorConfig,
    path: &str,
    body: Option<String>,
) -> Result<(StatusCode, String), AdminHttpError> {
    let base: Uri = url
        .trim_end_matches('/')
        .parse()
        .map_err(|_| AdminHttpError::Url(url.to_owned()))?;
    if base.scheme_str() != Some("http") {
        return Err(AdminHttpError::Url(url.to_owned()));
    }
    let authority = base
        .authority()
        .ok_or_else(|| AdminHttpError::Url(url.to_owned()))?
        .clone();
    let port = authority.port_u16().unwrap_or(80);
    let connect_err = |e: &dyn std::fmt::Display| AdminHttpError::Connect {
        url: url.to_owned(),
        message: e.to_string(),
    };
    let stream = tokio::net::TcpStream::connect((authority.host(), port))
        .await
        .map_err(|e| connect_err(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| connect_err(&e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let credentials = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", operator.login, operator.password));
    let (method, payload) = match body {
        Some(b) => (Method::POST, b),
        None => (Method::GET, String::new()),
    };
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, authority.as_str())
        .header(header::AUTHORIZATION, format!("Basic {credentials}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(payload)))
        .map_err(|_| AdminHttpError::Url(url.to_owned()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| connect_err(&e))?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| connect_err(&e))?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).trim().to_owned()))
}
