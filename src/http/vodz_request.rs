//! The streamed request and response path of `/DS/vodz` (big messages).
//!
//! A request body is never held whole: [`spool_body`] takes it as a
//! stream of chunks and feeds a `soap::spool::Spooler` on a blocking
//! worker through a short channel (so a slow disk slows the upload, and
//! memory stays at a few chunks), decoding the documents' base64 straight
//! into their files. Whatever produces the envelope's bytes can sit in
//! front: a `Content-Encoding` decoder here, and the MTOM/XOP reader
//! (`soap::mtom`), whose envelope, each `xop:Include` replaced by its
//! part's base64 text, is the body given to [`spool_body`].
//!
//! A response is streamed from the files of its documents: as base64
//! inside the XML, or, when the request's `Accept` allows
//! `multipart/related` on SOAP 1.2, as MTOM/XOP with each document a
//! binary part (VoDZ manual 2022_1, 3.4 and the sample in 3.6.2).

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};

use super::app::{App, ConnInfo};
use super::request_body::{self, ContentCoding};
use super::responses::{HttpResponse, fault_response, plain};
use super::routes::{Endpoint, LoginMethod};
use crate::auth::Identity;
use crate::domain::messages::vodz::{self, DocSource};
use crate::service::dm_vodz::VodzIo;
use crate::service::{CallContext, Rejection, status_only_response};
use crate::soap::mtom::{MtomError, MtomOptions};
use crate::soap::spool::{SpoolError, SpoolSettings, Spooled, Spooler};
use crate::soap::{self, Fault, SoapVersion};
use crate::status::{IsdsCode, IsdsStatus};
use crate::xml::{ParseLimits, Part};

/// Chunks in flight between the connection and the spooling worker.
const CHANNEL_CHUNKS: usize = 8;

/// Why a body could not be spooled.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodySpoolError {
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("could not read the request body: {0}")]
    Read(String),
    #[error("the request body is not valid {0} data")]
    Undecodable(&'static str),
    #[error("the request body stopped before its end")]
    Cancelled,
}

/// Where the envelope's bytes go: the spooler, through a decoder when the
/// body is compressed.
enum Sink {
    Plain(Spooler),
    Gzip(flate2::write::MultiGzDecoder<Spooler>),
    Zlib(flate2::write::ZlibDecoder<Spooler>),
}

impl Sink {
    fn new(coding: ContentCoding, spooler: Spooler) -> Sink {
        match coding {
            ContentCoding::Identity => Sink::Plain(spooler),
            ContentCoding::Gzip => Sink::Gzip(flate2::write::MultiGzDecoder::new(spooler)),
            ContentCoding::Deflate => Sink::Zlib(flate2::write::ZlibDecoder::new(spooler)),
        }
    }

    fn spooler(&mut self) -> &mut Spooler {
        match self {
            Sink::Plain(s) => s,
            Sink::Gzip(d) => d.get_mut(),
            Sink::Zlib(d) => d.get_mut(),
        }
    }

    fn write(&mut self, data: &[u8]) -> Result<(), BodySpoolError> {
        let (result, coding) = match self {
            Sink::Plain(s) => return s.feed(data).map_err(BodySpoolError::from),
            Sink::Gzip(d) => (d.write_all(data), "gzip"),
            Sink::Zlib(d) => (d.write_all(data), "deflate"),
        };
        result.map_err(|_| match self.spooler().take_failure() {
            Some(e) => BodySpoolError::Spool(e),
            None => BodySpoolError::Undecodable(coding),
        })
    }

    fn finish(self) -> Result<Spooled, (BodySpoolError, Vec<u8>)> {
        let (spooler, coding) = match self {
            Sink::Plain(s) => (Ok(s), "identity"),
            Sink::Gzip(d) => (d.finish(), "gzip"),
            Sink::Zlib(d) => (d.finish(), "deflate"),
        };
        let spooler = spooler.map_err(|_| (BodySpoolError::Undecodable(coding), Vec::new()))?;
        let skeleton = spooler.skeleton().to_vec();
        spooler.finish().map_err(|e| (e.into(), skeleton))
    }
}

/// Reads `body` to its end into a [`Spooled`] envelope (see the module
/// comment): the one entry of the VoDZ request path, taking the body as
/// any stream of chunks. On failure, nothing stays on disk; the error
/// comes with the start of the envelope (to name the operation).
pub(crate) async fn spool_body<B>(
    body: &mut B,
    coding: ContentCoding,
    settings: SpoolSettings,
) -> Result<Spooled, (BodySpoolError, Vec<u8>)>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    let worker = tokio::task::spawn_blocking(move || {
        let mut sink = Sink::new(coding, Spooler::new(settings));
        // An empty chunk is the end of the body; a closed channel without
        // it, a body that stopped (the spooler's files go with it).
        while let Some(chunk) = rx.blocking_recv() {
            if chunk.is_empty() {
                return sink.finish();
            }
            if let Err(e) = sink.write(&chunk) {
                let skeleton = sink.spooler().skeleton().to_vec();
                return Err((e, skeleton));
            }
        }
        Err((BodySpoolError::Cancelled, Vec::new()))
    });
    let mut read_error = None;
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                if data.is_empty() {
                    continue;
                }
                if tx.send(data).await.is_err() {
                    // The worker stopped early: its error says why.
                    break;
                }
            }
            Some(Err(e)) => {
                read_error = Some(e.to_string());
                break;
            }
            None => {
                let _ = tx.send(Bytes::new()).await;
                break;
            }
        }
    }
    drop(tx);
    let result = worker
        .await
        .map_err(|e| (BodySpoolError::Read(e.to_string()), Vec::new()))?;
    match read_error {
        Some(e) => Err((BodySpoolError::Read(e), Vec::new())),
        None => result,
    }
}

/// The slot of an MTOM failure; a panic while it was held leaves no
/// half-written value worth refusing.
fn lock(slot: &Mutex<Option<MtomError>>) -> MutexGuard<'_, Option<MtomError>> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads and drops the rest of a body; whether it ended cleanly.
async fn drain(body: &mut Incoming) -> bool {
    loop {
        match body.frame().await {
            Some(Ok(_)) => {}
            Some(Err(_)) => return false,
            None => return true,
        }
    }
}

/// Whether the request lets the answer be MTOM/XOP: SOAP 1.2 and an
/// `Accept` that names `multipart/related` (VoDZ manual 3.4).
fn wants_mtom(headers: &HeaderMap, version: SoapVersion) -> bool {
    version == SoapVersion::V12
        && headers.get_all(header::ACCEPT).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.to_ascii_lowercase().contains("multipart/related"))
        })
}

/// One VoDZ call: the body spooled, the envelope parsed, the operation
/// called, the answer streamed.
#[allow(clippy::too_many_arguments)]
pub(super) async fn call(
    app: &App,
    conn: &ConnInfo,
    login: LoginMethod,
    headers: &HeaderMap,
    version_of_body: hyper::Version,
    mut body: Incoming,
    coding: ContentCoding,
    identity: &Identity,
    fallback: SoapVersion,
) -> (Option<String>, HttpResponse) {
    let read_timeout = Duration::from_secs(app.config.limits.body_read_timeout_secs);
    let Some(files) = app.store.files() else {
        let fault = Fault::server("big messages (VoDZ) need a store with a document directory");
        request_body::discard_rest(body, version_of_body, read_timeout);
        return (None, fault_response(&fault, fallback));
    };
    let settings = SpoolSettings {
        dir: files.path().to_path_buf(),
        max_content_bytes: app.services.vodz.max_total_bytes,
        max_skeleton_bytes: app.config.limits.max_body_bytes,
    };
    // An MTOM/XOP body (`multipart/related`) goes through `soap::mtom`,
    // which hands on the envelope with each `xop:Include` replaced by its
    // part's base64 as the parts arrive; the spooler then decodes that
    // base64 into the document's file as for any other request.
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|ct| soap::mtom::is_multipart_related(ct))
        .map(str::to_owned);
    let mtom_failure: Arc<Mutex<Option<MtomError>>> = Arc::default();
    let spooled = match &multipart {
        None => tokio::time::timeout(read_timeout, spool_body(&mut body, coding, settings)).await,
        Some(content_type) => {
            // The wire size of a big message's envelope: its documents
            // (smaller as binary parts than as base64) and the rest.
            let wire_limit = usize::try_from(settings.max_content_bytes)
                .unwrap_or(usize::MAX)
                .saturating_add(settings.max_skeleton_bytes);
            let options =
                MtomOptions::in_data_dir(&app.config.data_dir, settings.max_skeleton_bytes);
            let failure = mtom_failure.clone();
            tokio::time::timeout(read_timeout, async {
                let chunks = request_body::decoded_chunks(&mut body, coding, wire_limit);
                let envelope = match soap::mtom::envelope_stream(chunks, content_type, options) {
                    Ok(envelope) => envelope,
                    Err(e) => {
                        let reason = e.to_string();
                        *lock(&failure) = Some(e);
                        return Err((BodySpoolError::Read(reason), Vec::new()));
                    }
                };
                let frames = envelope.map(move |item| match item {
                    Ok(bytes) => Ok(Frame::data(bytes)),
                    Err(e) => {
                        let reason = e.to_string();
                        *lock(&failure) = Some(e);
                        Err(reason)
                    }
                });
                let mut envelope_body = StreamBody::new(frames);
                spool_body(&mut envelope_body, ContentCoding::Identity, settings).await
            })
            .await
        }
    };
    // Not valid MTOM: HTTP 599 (VoDZ specification, chapter 3.4), as on
    // every other endpoint; the rest of the body is not read.
    if let Some(err) = lock(&mtom_failure).take() {
        request_body::discard_rest(body, version_of_body, read_timeout);
        return (None, fault_response(&err.fault(), fallback));
    }
    let spooled = match spooled {
        Ok(Ok(spooled)) => spooled,
        Ok(Err((BodySpoolError::Spool(SpoolError::ContentTooLarge { .. }), skeleton))) => {
            // 1287: the operation's own answer, the rest of the body unread.
            let name = request_body::first_body_element(&skeleton).unwrap_or_default();
            let status = IsdsStatus::new(IsdsCode::VodzAttachmentTooLarge);
            let fragment =
                crate::schema::status_response(&name, status.code.code(), &status.message)
                    .unwrap_or_else(|| status_only_response(&name, Endpoint::Vodz, &status));
            let mut resp = plain(
                StatusCode::OK,
                fallback.content_type(),
                soap::response_envelope(fallback, &fragment),
            );
            // The rest of the upload is read and dropped (within the time
            // the body has), so the client sees the answer cleanly; a
            // body still arriving after that loses its connection.
            let drained = tokio::time::timeout(read_timeout, drain(&mut body)).await;
            if !matches!(drained, Ok(true)) {
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            return (Some(name), resp);
        }
        Ok(Err((err, _))) => {
            request_body::discard_rest(body, version_of_body, read_timeout);
            let status = match &err {
                BodySpoolError::Spool(SpoolError::SkeletonTooLarge { .. }) => 413,
                BodySpoolError::Spool(SpoolError::Io(e)) if crate::store::is_disk_full(e) => 507,
                BodySpoolError::Spool(SpoolError::Io(_)) => 500,
                _ => 400,
            };
            let fault = if status >= 500 {
                tracing::error!(error = %err, "spooling a VoDZ request failed");
                Fault {
                    http_status: status,
                    ..Fault::server(crate::service::public_reason(status == 507))
                }
            } else {
                Fault {
                    http_status: status,
                    ..Fault::client(err.to_string())
                }
            };
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
    let limits = ParseLimits {
        max_bytes: app.config.limits.max_body_bytes,
        max_depth: app.config.limits.max_xml_depth,
        max_attributes: app.config.limits.max_xml_attributes,
        max_elements: app.config.limits.max_xml_elements,
    };
    let envelope = match soap::parse_envelope(&spooled.skeleton, &limits) {
        Ok(env) => env,
        Err(err) => return (None, fault_response(&Fault::from(&err), fallback)),
    };
    if let Some(action) = app.faults.check(&envelope.body) {
        let name = envelope.body.name.clone();
        if let Some(resp) = super::faults::apply(action, envelope.version, &name).await {
            return (Some(name), resp);
        }
    }
    let io = VodzIo::new(spooled);
    let ctx = CallContext {
        login,
        endpoint: Endpoint::Vodz,
        headers,
        peer_certificate: conn.peer_certificate.as_deref(),
        identity,
        vodz: Some(&io),
    };
    let outcome = app.services.call(&ctx, &envelope.body).await;
    let response = match outcome.reply {
        Ok(fragment) => {
            let mtom = wants_mtom(headers, envelope.version);
            streamed_response(fragment, io.take_out(), envelope.version, mtom)
        }
        Err(Rejection::Fault(fault)) => fault_response(&fault, envelope.version),
        Err(Rejection::Unauthorized(failure)) => super::responses::unauthorized(&failure),
    };
    (Some(outcome.operation), response)
}

/// A piece of a streamed response.
enum Segment {
    Ready(Bytes),
    Base64(DocSource),
    Raw(DocSource),
}

impl Segment {
    fn len(&self) -> u64 {
        match self {
            Segment::Ready(b) => b.len() as u64,
            Segment::Base64(s) => s.size().div_ceil(3) * 4,
            Segment::Raw(s) => s.size(),
        }
    }
}

/// The answer around `fragment`, its registered binary contents streamed
/// from their sources (see the module comment).
fn streamed_response(
    fragment: crate::xml::Fragment,
    out: Vec<(Bytes, DocSource)>,
    version: SoapVersion,
    mtom: bool,
) -> HttpResponse {
    let enveloped = soap::response_envelope_fragment(version, fragment);
    let find = |b: &Bytes| {
        out.iter()
            .position(|(m, _)| m.as_ptr() == b.as_ptr() && m.len() == b.len())
    };
    let mut segments = Vec::new();
    let content_type = if mtom {
        let mut nonce = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let boundary: String = format!(
            "MIMEBoundary_{}",
            nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        segments.push(Segment::Ready(Bytes::from(format!(
            "--{boundary}\r\nContent-Type: application/xop+xml; charset=utf-8; \
             type=\"application/soap+xml\"\r\nContent-Transfer-Encoding: binary\r\n\
             Content-ID: <rootpart@isds-gateway>\r\n\r\n"
        ))));
        let mut parts = Vec::new();
        for part in enveloped.into_parts() {
            match part {
                Part::Text(t) => segments.push(Segment::Ready(Bytes::from(t))),
                Part::Base64(b) => match find(&b) {
                    Some(i) => {
                        let n = parts.len();
                        segments.push(Segment::Ready(Bytes::from(format!(
                            "<xop:Include xmlns:xop=\"http://www.w3.org/2004/08/xop/include\" \
                             href=\"cid:part{n}@isds-gateway\"/>"
                        ))));
                        parts.push(out[i].1.clone());
                    }
                    None => segments.push(Segment::Base64(DocSource::Memory(b))),
                },
            }
        }
        for (n, source) in parts.into_iter().enumerate() {
            segments.push(Segment::Ready(Bytes::from(format!(
                "\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n\
                 Content-Transfer-Encoding: binary\r\nContent-ID: <part{n}@isds-gateway>\r\n\r\n"
            ))));
            segments.push(Segment::Raw(source));
        }
        segments.push(Segment::Ready(Bytes::from(format!(
            "\r\n--{boundary}--\r\n"
        ))));
        format!(
            "multipart/related; type=\"application/xop+xml\"; start=\"<rootpart@isds-gateway>\"; \
             start-info=\"application/soap+xml\"; boundary=\"{boundary}\""
        )
    } else {
        for part in enveloped.into_parts() {
            match part {
                Part::Text(t) => segments.push(Segment::Ready(Bytes::from(t))),
                Part::Base64(b) => segments.push(Segment::Base64(match find(&b) {
                    Some(i) => out[i].1.clone(),
                    None => DocSource::Memory(b),
                })),
            }
        }
        version.content_type().to_owned()
    };
    let total: u64 = segments.iter().map(Segment::len).sum();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::task::spawn_blocking(move || produce(segments, tx));
    let mut resp = Response::new(super::body::ResponseBody::streamed(rx, total));
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

/// Sends the segments' bytes, reading files piece by piece; stops when
/// the client is gone.
fn produce(segments: Vec<Segment>, tx: tokio::sync::mpsc::Sender<Bytes>) {
    for segment in segments {
        let sent = match segment {
            Segment::Ready(b) => tx.blocking_send(b).is_ok(),
            Segment::Base64(source) => {
                let mut open = true;
                let read = vodz::for_each_base64_piece(&source, |text| {
                    open = tx.blocking_send(Bytes::copy_from_slice(text)).is_ok();
                    open
                });
                open && read_ok(read)
            }
            Segment::Raw(source) => {
                let mut open = true;
                let read = vodz::for_each_piece(&source, |piece| {
                    open = tx.blocking_send(Bytes::copy_from_slice(piece)).is_ok();
                    open
                });
                open && read_ok(read)
            }
        };
        if !sent {
            return;
        }
    }
}

/// Whether a document was read whole; if not, the body ends short of
/// its length (the client sees a broken response, never wrong bytes).
fn read_ok(read: std::io::Result<()>) -> bool {
    match read {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "reading a document for a download failed");
            false
        }
    }
}
