//! Request bodies: read within the size limit (the decoded size, for
//! bodies sent with `Content-Encoding: gzip` or `deflate`), and the rest
//! of a body the gateway answered before reading it.
//!
//! Why the rest is read at all: on HTTP/1.1 hyper closes the connection
//! after such an early answer, which every client handles. On HTTP/2 the
//! stream would be reset while the client is still uploading; RFC 9113
//! 8.1 allows `RST_STREAM(NO_ERROR)` then, but libcurl 7.x treats any
//! reset during its upload as a failure ("Stream error in the HTTP/2
//! framing layer") and never reports the 401 or 413 it was sent. So on
//! HTTP/2 the rest of the body is read and thrown away (up to a bound, in
//! the background) and the stream ends cleanly when the client is done.

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{Stream, StreamExt};
use http_body_util::BodyExt;
use hyper::Version;
use hyper::body::{Body, Incoming};
use hyper::header::{self, HeaderMap};

use crate::soap::mtom::{self, MtomError, MtomOptions};

/// Most bytes read and thrown away after an early answer. ISDS takes
/// messages of up to 50 MB (their base64 text is about 67 MB), so a client
/// that uploads a real message within this gets a clean answer; beyond
/// it, or when the client declares more, the stream is reset.
const MAX_DISCARDED_BYTES: u64 = 256 * 1024 * 1024;

/// The content coding of a request body (`Content-Encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentCoding {
    Identity,
    Gzip,
    /// The zlib format (RFC 1950) as HTTP defines `deflate`; a raw deflate
    /// stream, which some clients send under that name, is read too.
    Deflate,
}

impl ContentCoding {
    /// The coding the headers announce; `Err` names a coding the gateway
    /// cannot decode (several codings stacked count as one it cannot).
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<ContentCoding, String> {
        let mut coding = ContentCoding::Identity;
        for value in headers.get_all(header::CONTENT_ENCODING) {
            let Ok(text) = value.to_str() else {
                return Err(String::from_utf8_lossy(value.as_bytes()).into_owned());
            };
            for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let this = match name.to_ascii_lowercase().as_str() {
                    "identity" => continue,
                    "gzip" | "x-gzip" => ContentCoding::Gzip,
                    "deflate" => ContentCoding::Deflate,
                    _ => return Err(name.to_owned()),
                };
                if coding != ContentCoding::Identity {
                    return Err(text.trim().to_owned());
                }
                coding = this;
            }
        }
        Ok(coding)
    }

    fn name(self) -> &'static str {
        match self {
            ContentCoding::Identity => "identity",
            ContentCoding::Gzip => "gzip",
            ContentCoding::Deflate => "deflate",
        }
    }
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    /// Larger than the limit (decoded, for a compressed body).
    #[error("request body exceeds the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request body is not valid {coding} data: {source}")]
    Undecodable {
        coding: &'static str,
        source: std::io::Error,
    },
    #[error("could not read the request body: {0}")]
    Read(#[from] hyper::Error),
    /// An MTOM body that is not valid `multipart/related` XOP.
    #[error(transparent)]
    Multipart(MtomError),
}

impl From<MtomError> for BodyError {
    /// The body's own error when the parts could not be read for it, else
    /// the multipart error.
    fn from(err: MtomError) -> BodyError {
        match err {
            MtomError::Read(inner) => match inner.downcast::<BodyError>() {
                Ok(own) => *own,
                Err(other) => BodyError::Multipart(MtomError::Read(other)),
            },
            err => BodyError::Multipart(err),
        }
    }
}

/// Reads the body into one buffer of at most `limit` bytes, decoding it
/// on the way. An identity body is sized up front from the declared
/// length (itself within the limit), so it is neither copied again nor
/// held twice. On [`BodyError::TooLarge`] the rest of the body is still in
/// `body`, for [`discard_rest`].
pub(crate) async fn read(
    body: &mut Incoming,
    declared: Option<u64>,
    coding: ContentCoding,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let mut sink = match coding {
        ContentCoding::Identity => {
            let capacity = declared.map_or(0, |n| usize::try_from(n).unwrap_or(limit).min(limit));
            Sink::Plain(Limited::new(
                crate::large_buffers::vec_with_capacity(capacity),
                limit,
            ))
        }
        ContentCoding::Gzip => Sink::Gzip(flate2::write::MultiGzDecoder::new(Limited::new(
            Vec::new(),
            limit,
        ))),
        ContentCoding::Deflate => Sink::DeflateUndecided(Vec::new(), limit),
    };
    // The wire size is bounded too: a compressed body is never larger than
    // its decoded text by much, and one that is, is refused.
    let mut received = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        received = received.saturating_add(data.len());
        if received > limit {
            return Err(BodyError::TooLarge { limit });
        }
        sink.write(&data, coding)?;
    }
    sink.finish(coding)
}

/// Reads an MTOM body (`multipart/related` XOP, see [`mtom`]) into one
/// buffer of at most `limit` bytes holding the plain SOAP envelope it
/// stands for, its `xop:Include`s replaced by base64 text. The body is
/// decoded (`coding`) and parsed as it arrives, within `limit` bytes on
/// the wire and decoded; parts that arrive before they are needed are
/// spooled to unnamed files under `data_dir`, never held in memory.
pub(crate) async fn read_multipart(
    body: &mut Incoming,
    declared: Option<u64>,
    coding: ContentCoding,
    limit: usize,
    content_type: &str,
    data_dir: &std::path::Path,
) -> Result<Bytes, BodyError> {
    let options = MtomOptions::in_data_dir(data_dir, limit);
    let mut envelope =
        mtom::envelope_stream(decoded_chunks(body, coding, limit), content_type, options)?;
    // Binary parts come back as base64: a third larger than on the wire.
    let capacity = declared.map_or(0, |n| {
        usize::try_from(n / 3 * 4 + 4096)
            .unwrap_or(limit)
            .min(limit)
    });
    let mut out = Limited::new(crate::large_buffers::vec_with_capacity(capacity), limit);
    while let Some(chunk) = envelope.next().await {
        out.write_all(&chunk?)
            .map_err(|_| BodyError::TooLarge { limit })?;
    }
    Ok(Bytes::from(out.buf))
}

/// The body as a stream of decoded chunks, for a reader that takes it
/// piece by piece (such as [`mtom::envelope_stream`]): at most `limit`
/// bytes on the wire and `limit` decoded, as [`read`] reads it.
pub(crate) fn decoded_chunks(
    body: &mut Incoming,
    coding: ContentCoding,
    limit: usize,
) -> impl Stream<Item = Result<Bytes, BodyError>> + Send + '_ {
    struct Reading<'b> {
        body: &'b mut Incoming,
        /// `None` for an identity body, passed on as it arrives.
        sink: Option<Sink>,
        received: usize,
    }
    let sink = match coding {
        ContentCoding::Identity => None,
        ContentCoding::Gzip => Some(Sink::Gzip(flate2::write::MultiGzDecoder::new(
            Limited::new(Vec::new(), limit),
        ))),
        ContentCoding::Deflate => Some(Sink::DeflateUndecided(Vec::new(), limit)),
    };
    let start = Reading {
        body,
        sink,
        received: 0,
    };
    futures_util::stream::unfold(Some(start), move |reading| async move {
        let mut r = reading?;
        loop {
            let Some(frame) = r.body.frame().await else {
                // The end: what the decoder held back.
                let rest = match r.sink.take().map(|sink| sink.finish(coding)) {
                    None => return None,
                    Some(Ok(rest)) if rest.is_empty() => return None,
                    Some(rest) => rest,
                };
                return Some((rest, None));
            };
            let data = match frame.map(|f| f.into_data()) {
                Ok(Ok(data)) => data,
                Ok(Err(_)) => continue,
                Err(e) => return Some((Err(BodyError::Read(e)), None)),
            };
            r.received = r.received.saturating_add(data.len());
            if r.received > limit {
                return Some((Err(BodyError::TooLarge { limit }), None));
            }
            let Some(sink) = &mut r.sink else {
                return Some((Ok(data), Some(r)));
            };
            if let Err(e) = sink.write(&data, coding) {
                return Some((Err(e), None));
            }
            let decoded = sink.take_output();
            if !decoded.is_empty() {
                return Some((Ok(decoded), Some(r)));
            }
        }
    })
}

/// Where the bytes of a body go as they arrive.
enum Sink {
    Plain(Limited),
    Gzip(flate2::write::MultiGzDecoder<Limited>),
    /// Fewer than two bytes of a `deflate` body seen: not yet known
    /// whether it has a zlib header.
    DeflateUndecided(Vec<u8>, usize),
    Zlib(flate2::write::ZlibDecoder<Limited>),
    RawDeflate(flate2::write::DeflateDecoder<Limited>),
}

impl Sink {
    fn write(&mut self, data: &[u8], coding: ContentCoding) -> Result<(), BodyError> {
        if let Sink::DeflateUndecided(head, limit) = self {
            head.extend_from_slice(data);
            if head.len() < 2 {
                return Ok(());
            }
            let head = std::mem::take(head);
            *self = Sink::deflate(&head, *limit);
            return self.write(&head, coding);
        }
        let result = match self {
            Sink::Plain(out) => out.write_all(data),
            Sink::Gzip(d) => d.write_all(data),
            Sink::Zlib(d) => d.write_all(data),
            Sink::RawDeflate(d) => d.write_all(data),
            Sink::DeflateUndecided(..) => Ok(()),
        };
        result.map_err(|e| self.error(e, coding))
    }

    /// A decoder for a `deflate` body starting with `head`: zlib when the
    /// first two bytes are a valid zlib header (RFC 1950 2.2: method 8 and
    /// a check value making them a multiple of 31), else raw deflate.
    fn deflate(head: &[u8], limit: usize) -> Sink {
        let out = Limited::new(Vec::new(), limit);
        let is_zlib = head.len() >= 2
            && head[0] & 0x0f == 8
            && (u16::from(head[0]) << 8 | u16::from(head[1])) % 31 == 0;
        if is_zlib {
            Sink::Zlib(flate2::write::ZlibDecoder::new(out))
        } else {
            Sink::RawDeflate(flate2::write::DeflateDecoder::new(out))
        }
    }

    /// The decoded bytes written so far and not yet taken (the limit
    /// still counts them).
    fn take_output(&mut self) -> Bytes {
        let out = match self {
            Sink::Plain(out) => out,
            Sink::Gzip(d) => d.get_mut(),
            Sink::Zlib(d) => d.get_mut(),
            Sink::RawDeflate(d) => d.get_mut(),
            Sink::DeflateUndecided(..) => return Bytes::new(),
        };
        Bytes::from(std::mem::take(&mut out.buf))
    }

    fn finish(mut self, coding: ContentCoding) -> Result<Bytes, BodyError> {
        if let Sink::DeflateUndecided(head, limit) = &mut self {
            let head = std::mem::take(head);
            let mut sink = Sink::deflate(&head, *limit);
            sink.write(&head, coding)?;
            return sink.finish(coding);
        }
        // The decoders hold back output until the end: flushing it may
        // still cross the limit.
        let flushed = match &mut self {
            Sink::Plain(_) | Sink::DeflateUndecided(..) => Ok(()),
            Sink::Gzip(d) => d.try_finish(),
            Sink::Zlib(d) => d.try_finish(),
            Sink::RawDeflate(d) => d.try_finish(),
        };
        if let Err(e) = flushed {
            return Err(self.error(e, coding));
        }
        let undecodable = |source| BodyError::Undecodable {
            coding: coding.name(),
            source,
        };
        let out = match self {
            Sink::Plain(out) => out,
            Sink::DeflateUndecided(_, limit) => Limited::new(Vec::new(), limit),
            Sink::Gzip(d) => d.finish().map_err(undecodable)?,
            Sink::Zlib(d) => d.finish().map_err(undecodable)?,
            Sink::RawDeflate(d) => d.finish().map_err(undecodable)?,
        };
        if out.exceeded {
            return Err(BodyError::TooLarge { limit: out.limit });
        }
        Ok(Bytes::from(out.buf))
    }

    /// Tells a write refused by the limit from undecodable data.
    fn error(&self, source: std::io::Error, coding: ContentCoding) -> BodyError {
        let out = match self {
            Sink::Plain(out) => Some(out),
            Sink::Gzip(d) => Some(d.get_ref()),
            Sink::Zlib(d) => Some(d.get_ref()),
            Sink::RawDeflate(d) => Some(d.get_ref()),
            Sink::DeflateUndecided(..) => None,
        };
        match out {
            Some(out) if out.exceeded => BodyError::TooLarge { limit: out.limit },
            _ => BodyError::Undecodable {
                coding: coding.name(),
                source,
            },
        }
    }
}

/// A buffer that refuses to grow past `limit` bytes, so a decompression
/// bomb costs at most the limit in memory.
struct Limited {
    buf: Vec<u8>,
    limit: usize,
    /// Bytes written, also those taken out of `buf` since.
    written: usize,
    exceeded: bool,
}

impl Limited {
    fn new(buf: Vec<u8>, limit: usize) -> Limited {
        Limited {
            buf,
            limit,
            written: 0,
            exceeded: false,
        }
    }
}

impl Write for Limited {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.written.saturating_add(data.len()) > self.limit {
            self.exceeded = true;
            return Err(std::io::Error::other("decoded body over the limit"));
        }
        self.buf.extend_from_slice(data);
        self.written += data.len();
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads and throws away what is left of `body` after an answer was given
/// without reading it (see the module comment): on HTTP/2 only, for at
/// most `timeout` and [`MAX_DISCARDED_BYTES`]. Dropping the body at the
/// end lets the stream close (with `NO_ERROR`, the answer being sent).
pub(crate) fn discard_rest(body: Incoming, version: Version, timeout: Duration) {
    if version != Version::HTTP_2 || body.is_end_stream() {
        return;
    }
    if body
        .size_hint()
        .upper()
        .is_some_and(|n| n > MAX_DISCARDED_BYTES)
    {
        return;
    }
    tokio::spawn(async move {
        let mut body = body;
        let drain = async {
            let mut discarded = 0u64;
            while let Some(Ok(frame)) = body.frame().await {
                if let Some(data) = frame.data_ref() {
                    discarded += data.len() as u64;
                    if discarded > MAX_DISCARDED_BYTES {
                        break;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(timeout, drain).await;
    });
}

/// The local name of the first element inside a SOAP `Body`, if the bytes
/// (possibly cut short) get that far.
pub(crate) fn first_body_element(bytes: &[u8]) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut in_body = false;
    let mut depth = 0usize;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) if in_body => {
                // A start tag cut short is not a name yet.
                return (reader.buffer_position() as usize <= bytes.len())
                    .then(|| String::from_utf8(e.local_name().as_ref().to_vec()).ok())
                    .flatten();
            }
            Event::Start(e) => {
                depth += 1;
                in_body = depth == 2 && e.local_name().as_ref() == b"Body";
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn coding_of(values: &[&str]) -> Result<ContentCoding, String> {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::CONTENT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        ContentCoding::from_headers(&headers)
    }

    #[test]
    fn codings_are_read_from_the_header() {
        assert_eq!(coding_of(&[]), Ok(ContentCoding::Identity));
        assert_eq!(coding_of(&["identity"]), Ok(ContentCoding::Identity));
        assert_eq!(coding_of(&["GZIP"]), Ok(ContentCoding::Gzip));
        assert_eq!(coding_of(&["x-gzip"]), Ok(ContentCoding::Gzip));
        assert_eq!(coding_of(&["deflate"]), Ok(ContentCoding::Deflate));
        assert_eq!(coding_of(&["identity, gzip"]), Ok(ContentCoding::Gzip));
        assert_eq!(coding_of(&["br"]), Err("br".into()));
        assert_eq!(coding_of(&["gzip, deflate"]), Err("gzip, deflate".into()));
        assert_eq!(coding_of(&["gzip", "gzip"]), Err("gzip".into()));
    }

    fn decode(coding: ContentCoding, pieces: &[&[u8]], limit: usize) -> Result<Vec<u8>, String> {
        let mut sink = match coding {
            ContentCoding::Identity => Sink::Plain(Limited::new(Vec::new(), limit)),
            ContentCoding::Gzip => Sink::Gzip(flate2::write::MultiGzDecoder::new(Limited::new(
                Vec::new(),
                limit,
            ))),
            ContentCoding::Deflate => Sink::DeflateUndecided(Vec::new(), limit),
        };
        for piece in pieces {
            sink.write(piece, coding).map_err(|e| e.to_string())?;
        }
        sink.finish(coding)
            .map(|b| b.to_vec())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn zlib_and_raw_deflate_are_both_read_in_any_pieces() {
        let text = b"<Envelope>".repeat(1000);
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        zlib.write_all(&text).unwrap();
        let zlib = zlib.finish().unwrap();
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        raw.write_all(&text).unwrap();
        let raw = raw.finish().unwrap();
        for stream in [&zlib, &raw] {
            let whole = decode(ContentCoding::Deflate, &[stream], 1 << 20).unwrap();
            assert_eq!(whole, text);
            let (a, b) = stream.split_at(1);
            let (b, c) = b.split_at(1);
            let pieces = decode(ContentCoding::Deflate, &[a, b, c], 1 << 20).unwrap();
            assert_eq!(pieces, text);
        }
        let over = decode(ContentCoding::Deflate, &[&zlib], text.len() - 1).unwrap_err();
        assert!(over.contains("exceeds the limit"), "{over}");
        // Several gzip members (RFC 1952 2.2) are one body.
        let mut members = Vec::new();
        for half in text.chunks(text.len() / 2) {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(half).unwrap();
            members.extend(gz.finish().unwrap());
        }
        assert_eq!(
            decode(ContentCoding::Gzip, &[&members], 1 << 20).unwrap(),
            text
        );
        let garbage = decode(ContentCoding::Gzip, &[b"not gzip at all"], 1 << 20).unwrap_err();
        assert!(garbage.contains("not valid gzip"), "{garbage}");
    }
}
