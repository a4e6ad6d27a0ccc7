//! MTOM/XOP requests: a `multipart/related; type="application/xop+xml"`
//! body (W3C XOP 1.0, SOAP MTOM) turned back into the plain SOAP envelope
//! it stands for, as a stream of chunks.
//!
//! Each `xop:Include` of the root part is replaced by the base64 text of
//! the part its `cid:` URL names, encoded as that part is read. A part that
//! arrives before it is needed (before the root, or while an earlier
//! include is still to be resolved) is spooled, decoded, to an unnamed
//! temporary file of the owner's only, never held whole in memory; a part
//! nothing references is read and dropped. Only the root part is held, up
//! to a byte limit the caller sets.
//!
//! This module owns the multipart framing (read by `multer`), the outer
//! `Content-Type` and the parts' headers, the root's include references,
//! and the errors of all that. The caller owns the body's transport (its
//! size limits and content coding) and what becomes of the envelope.
//!
//! The operator's VoDZ specification (Info pro vývojáře 2022/1, VoDZ,
//! chapter 3.4 "MTOM/XOP") says a request that is not recognised as valid
//! MTOM is answered with HTTP 599 and a SOAP fault giving an approximate
//! reason; [`MtomError::fault`] makes that answer. It names SOAP 1.2 for
//! the VoDZ services; JAX-WS and CXF also send SOAP 1.1 this way
//! (`start-info="text/xml"`), so both versions are read, on every
//! endpoint. The specification is silent on everything else here, which
//! follows RFC 2387 (`multipart/related`), RFC 2392 (`cid:` URLs) and
//! XOP 1.0.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use futures_util::stream::{BoxStream, Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{Fault, SoapVersion};

/// The XOP namespace of `Include`.
pub const XOP_NS: &str = "http://www.w3.org/2004/08/xop/include";
/// The media type of an XOP package's root part, and the `type` parameter
/// an MTOM request's outer `Content-Type` must carry.
pub const XOP_MEDIA_TYPE: &str = "application/xop+xml";
/// The HTTP status ISDS answers a request that is not valid MTOM with
/// (VoDZ specification, chapter 3.4).
pub const MALFORMED_MTOM_STATUS: u16 = 599;

/// Binary bytes of a spooled part read and encoded at a time (a multiple
/// of 3, so the pieces' base64 texts join into the text of the whole).
const FILE_PIECE: usize = 3 * 16 * 1024;

/// The envelope a multipart request stands for, as chunks of its bytes.
pub type EnvelopeStream<'r> = BoxStream<'r, Result<Bytes, MtomError>>;

/// The directory under the data directory where parts wait
/// ([`MtomOptions::in_data_dir`]).
pub const SPOOL_DIR: &str = "mtom-parts";

/// Where and how much an [`envelope_stream`] may keep.
#[derive(Debug, Clone)]
pub struct MtomOptions {
    /// Directory for the temporary files of parts that arrive before they
    /// are needed (created, private to the owner, when first needed). The
    /// files have no name: nothing is left behind, whatever happens.
    pub spool_dir: PathBuf,
    /// Most bytes of the root part (the envelope with its includes) held.
    pub max_root_bytes: usize,
}

impl MtomOptions {
    /// Parts wait in [`SPOOL_DIR`] under the gateway's data directory.
    pub fn in_data_dir(data_dir: &Path, max_root_bytes: usize) -> MtomOptions {
        MtomOptions {
            spool_dir: data_dir.join(SPOOL_DIR),
            max_root_bytes,
        }
    }
}

/// Why a multipart request could not be read. All but [`MtomError::Read`]
/// and [`MtomError::Spool`] mean the request is not valid MTOM, answered
/// with HTTP 599 ([`MtomError::fault`]).
#[derive(Debug, thiserror::Error)]
pub enum MtomError {
    #[error("the Content-Type {0:?} cannot be read: {1}")]
    BadContentType(String, String),
    #[error("the Content-Type is {0}, not multipart/related")]
    NotMultipartRelated(String),
    /// The wording is ISDS's own (VoDZ specification, chapter 3.4).
    #[error("Outer Content-Type has type parameter={}, should be {XOP_MEDIA_TYPE}", .found.as_deref().unwrap_or(""))]
    NotXop { found: Option<String> },
    #[error("the multipart Content-Type has no boundary parameter")]
    NoBoundary,
    #[error(
        "the multipart body has no complete part delimited by the boundary its Content-Type gives"
    )]
    NoParts,
    #[error("the multipart body ends before its closing delimiter")]
    Unterminated,
    #[error("the multipart body ends inside a part")]
    TruncatedPart,
    #[error("a part's headers cannot be read: {0}")]
    BadPartHeaders(String),
    #[error("the multipart body cannot be read: {0}")]
    Framing(String),
    #[error("{}", match .start {
        Some(start) => format!("no part has the Content-ID <{start}> the start parameter names"),
        None => "the multipart body has no root part".to_owned(),
    })]
    MissingRoot { start: Option<String> },
    #[error("two parts have the Content-ID <{0}>")]
    DuplicateContentId(String),
    #[error(
        "the part <{cid}> has the Content-Transfer-Encoding {encoding:?}; binary, 8bit, 7bit and base64 are read"
    )]
    UnsupportedTransferEncoding { cid: String, encoding: String },
    #[error("the part <{0}> is not valid base64 (its Content-Transfer-Encoding)")]
    BadBase64Part(String),
    #[error("an xop:Include has no cid: URL in its href attribute")]
    IncludeWithoutCid,
    #[error("no part has the Content-ID <{0}> an xop:Include refers to")]
    CidNotFound(String),
    #[error("the root part exceeds the limit of {limit} bytes")]
    RootTooLarge { limit: usize },
    /// The body stream the parts are read from failed (its own error,
    /// for the caller to recover with `downcast`).
    #[error("could not read the request body: {0}")]
    Read(Box<dyn std::error::Error + Send + Sync>),
    /// A part could not be spooled to its temporary file.
    #[error("could not spool a part to a temporary file: {0}")]
    Spool(#[source] std::io::Error),
}

impl MtomError {
    /// The request is not valid MTOM (the client's fault).
    pub fn is_malformed(&self) -> bool {
        !matches!(
            self,
            MtomError::Read(_) | MtomError::Spool(_) | MtomError::RootTooLarge { .. }
        )
    }

    /// The answer to this error: HTTP 599 with a `Client` (SOAP 1.2:
    /// `Sender`) fault for a malformed request (VoDZ specification,
    /// chapter 3.4), 413 for a root over the limit, else a server fault
    /// that names no path.
    pub fn fault(&self) -> Fault {
        match self {
            MtomError::RootTooLarge { limit } => Fault::too_large(*limit),
            MtomError::Spool(_) => Fault::server("the request could not be received; retry later"),
            MtomError::Read(e) => Fault::client(format!("could not read the request body: {e}")),
            _ => Fault {
                http_status: MALFORMED_MTOM_STATUS,
                ..Fault::client(self.to_string())
            },
        }
    }
}

/// The `Content-Type` is `multipart/related`, whatever its parameters.
pub fn is_multipart_related(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("multipart/related")
}

/// The SOAP version a multipart `Content-Type` announces in `start-info`
/// (XOP's `type` of the root part), else anywhere in it.
pub fn announced_version(content_type: &str) -> Option<SoapVersion> {
    MediaType::parse(content_type)
        .ok()
        .and_then(|m| {
            m.param("start-info")
                .and_then(SoapVersion::from_content_type)
        })
        .or_else(|| SoapVersion::from_content_type(content_type))
}

/// The plain SOAP envelope an MTOM request's `body` (with the outer
/// `content_type`) stands for, as a stream of chunks: the root part with
/// every `xop:Include` replaced by the base64 text of the part it names.
///
/// An error in the `Content-Type` is returned at once; errors in the body
/// end the stream (after it may have yielded part of the envelope). The
/// stream reads the body to its closing delimiter before it ends, so a
/// truncated body is an error even after the last include.
pub fn envelope_stream<'r, S, E>(
    body: S,
    content_type: &str,
    options: MtomOptions,
) -> Result<EnvelopeStream<'r>, MtomError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'r,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'r,
{
    let outer = OuterType::parse(content_type)?;
    let resolver = Resolver {
        parts: multer::Multipart::new(body, outer.boundary),
        start: outer.start,
        options,
        parts_read: 0,
        seen: HashSet::new(),
        spooled: HashMap::new(),
        references: HashMap::new(),
        root: Bytes::new(),
        includes: VecDeque::new(),
        position: 0,
        source: None,
        encoder: Base64Encoder::default(),
        stage: Stage::FindingRoot,
    };
    let stream = futures_util::stream::unfold(resolver, |mut resolver| async move {
        match resolver.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), resolver)),
            Ok(None) => None,
            Err(e) => {
                resolver.stage = Stage::Done;
                Some((Err(e), resolver))
            }
        }
    });
    Ok(stream.boxed())
}

/// What the outer `Content-Type` says.
struct OuterType {
    boundary: String,
    /// The root part's Content-ID (`start`), without angle brackets.
    start: Option<String>,
}

impl OuterType {
    fn parse(content_type: &str) -> Result<OuterType, MtomError> {
        let parsed = MediaType::parse(content_type)
            .map_err(|why| MtomError::BadContentType(content_type.to_owned(), why.to_owned()))?;
        if parsed.essence != "multipart/related" {
            return Err(MtomError::NotMultipartRelated(parsed.essence));
        }
        match parsed.param("type") {
            Some(t) if t.eq_ignore_ascii_case(XOP_MEDIA_TYPE) => {}
            other => {
                return Err(MtomError::NotXop {
                    found: other.map(str::to_owned),
                });
            }
        }
        let boundary = parsed
            .param("boundary")
            .filter(|b| !b.is_empty())
            .ok_or(MtomError::NoBoundary)?
            .to_owned();
        let start = parsed.param("start").map(|s| content_id(s).to_owned());
        Ok(OuterType { boundary, start })
    }
}

/// A media type with its parameters (RFC 9110 8.3.1 and 5.6.6).
///
/// Read by hand: the `mime` crate refuses an empty quoted value, which
/// the operator's own example request has (`action=""`, VoDZ
/// specification, chapter 3.4).
struct MediaType {
    /// `type/subtype`, lowercased.
    essence: String,
    /// Names lowercased, values unquoted.
    params: Vec<(String, String)>,
}

impl MediaType {
    fn parse(text: &str) -> Result<MediaType, &'static str> {
        let (essence, mut rest) = text.split_once(';').unwrap_or((text, ""));
        let essence = essence.trim().to_ascii_lowercase();
        let is_token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
        };
        match essence.split_once('/') {
            Some((t, s)) if is_token(t) && is_token(s) => {}
            _ => return Err("no type/subtype"),
        }
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches([' ', '\t', ';']);
            if rest.is_empty() {
                break;
            }
            let (name, after) = rest.split_once('=').ok_or("a parameter has no value")?;
            let name = name.trim();
            if !is_token(name) {
                return Err("a parameter name is not a token");
            }
            let after = after.trim_start_matches([' ', '\t']);
            let value;
            if let Some(quoted) = after.strip_prefix('"') {
                let mut text = String::new();
                let mut chars = quoted.char_indices();
                let end = loop {
                    match chars.next() {
                        Some((i, '"')) => break i,
                        Some((_, '\\')) => text.extend(chars.next().map(|(_, c)| c)),
                        Some((_, c)) => text.push(c),
                        None => return Err("a quoted value is not closed"),
                    }
                };
                value = text;
                rest = &quoted[end + 1..];
                let next = rest.trim_start_matches([' ', '\t']);
                if !next.is_empty() && !next.starts_with(';') {
                    return Err("text follows a quoted value");
                }
            } else {
                let (token, after) = after.split_once(';').unwrap_or((after, ""));
                value = token.trim().to_owned();
                rest = after;
            }
            params.push((name.to_ascii_lowercase(), value));
        }
        Ok(MediaType { essence, params })
    }

    /// The value of the first parameter called `name` (lowercase).
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A Content-ID as `cid:` URLs name it: without the angle brackets of the
/// header form (RFC 2392), which some clients leave out.
fn content_id(value: &str) -> &str {
    let value = value.trim();
    value
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .unwrap_or(value)
}

/// The Content-ID a `cid:` URL names (RFC 2392: percent-encoded).
fn cid_of_href(href: &str) -> Option<String> {
    let scheme = href.get(..4)?;
    if !scheme.eq_ignore_ascii_case("cid:") {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(&href[4..])
        .decode_utf8()
        .ok()?;
    Some(content_id(&decoded).to_owned())
}

/// One `xop:Include` of the root part: the bytes it spans and the part
/// it names.
#[derive(Debug, PartialEq, Eq)]
struct Include {
    start: usize,
    end: usize,
    cid: String,
}

/// The `xop:Include` elements of `root`, in document order. Scanning
/// stops at the first XML error: the rest is passed on as it is, for the
/// envelope parser to report as it reports any malformed XML.
fn find_includes(root: &[u8]) -> Result<Vec<Include>, MtomError> {
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    let mut reader = quick_xml::NsReader::from_reader(root);
    let mut includes = Vec::new();
    loop {
        let before = reader.buffer_position() as usize;
        let (ns, event) = match reader.read_resolved_event() {
            Ok(resolved) => resolved,
            Err(_) => break,
        };
        let (element, empty) = match &event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::Eof => break,
            _ => continue,
        };
        let is_include = matches!(ns, ResolveResult::Bound(n) if n.as_ref() == XOP_NS.as_bytes())
            && element.local_name().as_ref() == b"Include";
        if !is_include || root.get(before) != Some(&b'<') {
            continue;
        }
        let href = element
            .try_get_attribute("href")
            .ok()
            .flatten()
            .and_then(|a| a.decode_and_unescape_value(reader.decoder()).ok())
            .ok_or(MtomError::IncludeWithoutCid)?;
        let cid = cid_of_href(&href).ok_or(MtomError::IncludeWithoutCid)?;
        if !empty && reader.read_to_end(element.name()).is_err() {
            break;
        }
        includes.push(Include {
            start: before,
            end: reader.buffer_position() as usize,
            cid,
        });
    }
    Ok(includes)
}

/// How a part's body is encoded (`Content-Transfer-Encoding`).
#[derive(Debug)]
enum PartDecoder {
    /// binary, 8bit or 7bit (the default, RFC 2045 6.1).
    Raw,
    /// base64 text, its line breaks ignored: characters of a group not
    /// yet complete, and whether the padding has ended the text.
    Base64 { pending: Vec<u8>, ended: bool },
}

impl PartDecoder {
    fn decode(&mut self, data: Bytes, cid: &str) -> Result<Bytes, MtomError> {
        let PartDecoder::Base64 { pending, ended } = self else {
            return Ok(data);
        };
        pending.extend(data.iter().copied().filter(|b| !b.is_ascii_whitespace()));
        let whole = pending.len() / 4 * 4;
        if whole == 0 {
            return Ok(Bytes::new());
        }
        if *ended {
            return Err(MtomError::BadBase64Part(cid.to_owned()));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&pending[..whole])
            .map_err(|_| MtomError::BadBase64Part(cid.to_owned()))?;
        *ended = pending[whole - 1] == b'=';
        pending.drain(..whole);
        Ok(Bytes::from(decoded))
    }

    fn finish(&self, cid: &str) -> Result<(), MtomError> {
        match self {
            PartDecoder::Base64 { pending, .. } if !pending.is_empty() => {
                Err(MtomError::BadBase64Part(cid.to_owned()))
            }
            _ => Ok(()),
        }
    }
}

/// What a part's headers say.
struct PartHead {
    content_id: Option<String>,
    decoder: PartDecoder,
}

impl PartHead {
    fn of(field: &multer::Field<'_>) -> Result<PartHead, MtomError> {
        let header = |name: &str| -> Result<Option<&str>, MtomError> {
            field
                .headers()
                .get(name)
                .map(|v| {
                    v.to_str()
                        .map_err(|_| MtomError::BadPartHeaders(format!("{name} is not ASCII")))
                })
                .transpose()
        };
        let content_id = header("content-id")?.map(|v| content_id(v).to_owned());
        let encoding = header("content-transfer-encoding")?.map(str::trim);
        let decoder = match encoding.map(str::to_ascii_lowercase).as_deref() {
            None | Some("binary" | "8bit" | "7bit") => PartDecoder::Raw,
            Some("base64") => PartDecoder::Base64 {
                pending: Vec::new(),
                ended: false,
            },
            Some(_) => {
                return Err(MtomError::UnsupportedTransferEncoding {
                    cid: content_id.unwrap_or_default(),
                    encoding: encoding.unwrap_or_default().to_owned(),
                });
            }
        };
        Ok(PartHead {
            content_id,
            decoder,
        })
    }
}

/// Base64 text of binary bytes that arrive in pieces: whole groups of
/// three are encoded at once, the rest is carried to the next piece.
#[derive(Debug, Default)]
struct Base64Encoder {
    carry: [u8; 3],
    carried: usize,
}

impl Base64Encoder {
    fn push(&mut self, mut data: &[u8]) -> Bytes {
        let mut text = String::with_capacity(data.len().div_ceil(3) * 4 + 4);
        let engine = &base64::engine::general_purpose::STANDARD;
        if self.carried > 0 {
            let take = (3 - self.carried).min(data.len());
            self.carry[self.carried..self.carried + take].copy_from_slice(&data[..take]);
            self.carried += take;
            data = &data[take..];
            if self.carried < 3 {
                return Bytes::new();
            }
            engine.encode_string(self.carry, &mut text);
            self.carried = 0;
        }
        let whole = data.len() / 3 * 3;
        engine.encode_string(&data[..whole], &mut text);
        let rest = &data[whole..];
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carried = rest.len();
        Bytes::from(text)
    }

    /// The text of the bytes still carried (with padding).
    fn finish(&mut self) -> Bytes {
        let carried = std::mem::take(&mut self.carried);
        Bytes::from(base64::engine::general_purpose::STANDARD.encode(&self.carry[..carried]))
    }
}

/// The part whose text is being put where its include was.
enum Source<'r> {
    /// Read from the body as it arrives.
    Part {
        field: multer::Field<'r>,
        cid: String,
        decoder: PartDecoder,
    },
    /// Read from its temporary file.
    Spooled { file: tokio::fs::File, cid: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    FindingRoot,
    Emitting,
    Draining,
    Done,
}

/// The state of one [`envelope_stream`].
struct Resolver<'r> {
    parts: multer::Multipart<'r>,
    start: Option<String>,
    options: MtomOptions,
    parts_read: usize,
    /// Content-IDs of the parts read so far (each may occur once).
    seen: HashSet<String>,
    /// Parts read before they were needed, by Content-ID.
    spooled: HashMap<String, tokio::fs::File>,
    /// Includes not yet resolved, by the Content-ID they name.
    references: HashMap<String, usize>,
    root: Bytes,
    includes: VecDeque<Include>,
    /// The first byte of the root not yet yielded.
    position: usize,
    source: Option<Source<'r>>,
    encoder: Base64Encoder,
    stage: Stage,
}

impl<'r> Resolver<'r> {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, MtomError> {
        loop {
            match self.stage {
                Stage::FindingRoot => {
                    self.find_root().await?;
                    self.stage = Stage::Emitting;
                }
                Stage::Emitting => {
                    if self.source.is_some() {
                        if let Some(text) = self.next_from_source().await? {
                            return Ok(Some(text));
                        }
                        continue;
                    }
                    let text_end = self.includes.front().map_or(self.root.len(), |i| i.start);
                    if self.position < text_end {
                        let text = self.root.slice(self.position..text_end);
                        self.position = text_end;
                        return Ok(Some(text));
                    }
                    match self.includes.pop_front() {
                        Some(include) => {
                            self.position = include.end;
                            self.source = Some(self.open(include.cid).await?);
                        }
                        None => {
                            self.root = Bytes::new();
                            self.stage = Stage::Draining;
                        }
                    }
                }
                Stage::Draining => {
                    while let Some(field) = self.next_part().await? {
                        drain(field).await?;
                    }
                    self.stage = Stage::Done;
                }
                Stage::Done => return Ok(None),
            }
        }
    }

    /// The next part, its Content-ID checked for uniqueness.
    async fn next_part(&mut self) -> Result<Option<multer::Field<'r>>, MtomError> {
        let field = self
            .parts
            .next_field()
            .await
            .map_err(|e| framing(e, self.parts_read))?;
        if let Some(field) = &field {
            self.parts_read += 1;
            if let Some(cid) = PartHead::of(field)?.content_id
                && !self.seen.insert(cid.clone())
            {
                return Err(MtomError::DuplicateContentId(cid));
            }
        }
        Ok(field)
    }

    /// Reads parts up to the root (spooling those before it), holds the
    /// root and finds its includes.
    async fn find_root(&mut self) -> Result<(), MtomError> {
        loop {
            let Some(field) = self.next_part().await? else {
                return Err(match self.parts_read {
                    0 => MtomError::NoParts,
                    _ => MtomError::MissingRoot {
                        start: self.start.clone(),
                    },
                });
            };
            let head = PartHead::of(&field)?;
            let is_root = match &self.start {
                None => true,
                Some(start) => head.content_id.as_deref() == Some(start.as_str()),
            };
            if is_root {
                let cid = head.content_id.unwrap_or_default();
                self.root =
                    read_root(field, head.decoder, &cid, self.options.max_root_bytes).await?;
                break;
            }
            match head.content_id {
                Some(cid) => {
                    let file = spool(&self.options.spool_dir, field, head.decoder, &cid).await?;
                    self.spooled.insert(cid, file);
                }
                None => drain(field).await?,
            }
        }
        self.includes = find_includes(&self.root)?.into();
        for include in &self.includes {
            *self.references.entry(include.cid.clone()).or_default() += 1;
        }
        // Parts spooled before the root that it does not use go now.
        let references = &self.references;
        self.spooled.retain(|cid, _| references.contains_key(cid));
        Ok(())
    }

    /// The source of the part `cid` names: its spooled file, or the body
    /// read on to it (spooling the parts on the way that are still to be
    /// used, and dropping the others).
    async fn open(&mut self, cid: String) -> Result<Source<'r>, MtomError> {
        let left = self.references.get_mut(&cid).map_or(0, |n| {
            *n = n.saturating_sub(1);
            *n
        });
        if let Some(file) = self.spooled.remove(&cid) {
            return Ok(Source::Spooled { file, cid });
        }
        loop {
            let Some(field) = self.next_part().await? else {
                return Err(MtomError::CidNotFound(cid));
            };
            let head = PartHead::of(&field)?;
            match head.content_id {
                Some(id) if id == cid && left == 0 => {
                    return Ok(Source::Part {
                        field,
                        cid,
                        decoder: head.decoder,
                    });
                }
                Some(id) if id == cid => {
                    let file = spool(&self.options.spool_dir, field, head.decoder, &cid).await?;
                    return Ok(Source::Spooled { file, cid });
                }
                Some(id) if self.references.get(&id).is_some_and(|n| *n > 0) => {
                    let file = spool(&self.options.spool_dir, field, head.decoder, &id).await?;
                    self.spooled.insert(id, file);
                }
                _ => drain(field).await?,
            }
        }
    }

    /// The next piece of base64 text of the current source; `None` when
    /// it is done (the source is then put away).
    async fn next_from_source(&mut self) -> Result<Option<Bytes>, MtomError> {
        let Resolver {
            source,
            encoder,
            spooled,
            references,
            parts_read,
            ..
        } = self;
        let done = match source {
            None => return Ok(None),
            Some(Source::Part {
                field,
                cid,
                decoder,
            }) => loop {
                let chunk = field.chunk().await.map_err(|e| framing(e, *parts_read))?;
                let Some(chunk) = chunk else {
                    decoder.finish(cid)?;
                    break None;
                };
                let text = encoder.push(&decoder.decode(chunk, cid)?);
                if !text.is_empty() {
                    return Ok(Some(text));
                }
            },
            Some(Source::Spooled { file, cid }) => {
                let mut piece = vec![0; FILE_PIECE];
                let read = read_full(file, &mut piece)
                    .await
                    .map_err(MtomError::Spool)?;
                if read > 0 {
                    return Ok(Some(encoder.push(&piece[..read])));
                }
                references
                    .get(cid.as_str())
                    .is_some_and(|n| *n > 0)
                    .then(|| cid.clone())
            }
        };
        // Still to be used by a later include: back to its start.
        if let (Some(cid), Some(Source::Spooled { mut file, .. })) = (done, source.take()) {
            file.seek(SeekFrom::Start(0))
                .await
                .map_err(MtomError::Spool)?;
            spooled.insert(cid, file);
        }
        *source = None;
        let tail = encoder.finish();
        Ok((!tail.is_empty()).then_some(tail))
    }
}

/// Fills `buf` from `file` as far as the file goes.
async fn read_full(file: &mut tokio::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]).await? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// The root part, decoded, within `limit` bytes.
async fn read_root(
    mut field: multer::Field<'_>,
    mut decoder: PartDecoder,
    cid: &str,
    limit: usize,
) -> Result<Bytes, MtomError> {
    let mut root = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| framing(e, 1))? {
        let bytes = decoder.decode(chunk, cid)?;
        if root.len().saturating_add(bytes.len()) > limit {
            return Err(MtomError::RootTooLarge { limit });
        }
        root.extend_from_slice(&bytes);
    }
    decoder.finish(cid)?;
    Ok(root.freeze())
}

/// Writes a part, decoded, to a new unnamed temporary file in `dir` and
/// returns the file positioned at its start.
async fn spool(
    dir: &Path,
    mut field: multer::Field<'_>,
    mut decoder: PartDecoder,
    cid: &str,
) -> Result<tokio::fs::File, MtomError> {
    let dir = dir.to_owned();
    let file = tokio::task::spawn_blocking(move || {
        crate::private_files::create_private_dir(&dir).map_err(|e| e.source)?;
        // Unnamed (O_TMPFILE, else unlinked at once) and mode 0600.
        tempfile::tempfile_in(&dir)
    })
    .await
    .map_err(|e| MtomError::Spool(std::io::Error::other(e)))?
    .map_err(MtomError::Spool)?;
    let mut file = tokio::fs::File::from_std(file);
    while let Some(chunk) = field.chunk().await.map_err(|e| framing(e, 1))? {
        let bytes = decoder.decode(chunk, cid)?;
        file.write_all(&bytes).await.map_err(MtomError::Spool)?;
    }
    decoder.finish(cid)?;
    file.flush().await.map_err(MtomError::Spool)?;
    file.seek(SeekFrom::Start(0))
        .await
        .map_err(MtomError::Spool)?;
    Ok(file)
}

/// Reads a part nothing uses to its end.
async fn drain(mut field: multer::Field<'_>) -> Result<(), MtomError> {
    while field.chunk().await.map_err(|e| framing(e, 1))?.is_some() {}
    Ok(())
}

/// The error a failure of the multipart parser stands for, `parts_read`
/// parts into the body.
fn framing(err: multer::Error, parts_read: usize) -> MtomError {
    match err {
        multer::Error::StreamReadFailed(e) => MtomError::Read(e),
        multer::Error::IncompleteFieldData { .. } => MtomError::TruncatedPart,
        multer::Error::IncompleteStream if parts_read == 0 => MtomError::NoParts,
        multer::Error::IncompleteStream => MtomError::Unterminated,
        e @ (multer::Error::IncompleteHeaders
        | multer::Error::ReadHeaderFailed(_)
        | multer::Error::DecodeHeaderName { .. }
        | multer::Error::DecodeHeaderValue { .. }) => MtomError::BadPartHeaders(e.to_string()),
        e => MtomError::Framing(e.to_string()),
    }
}

#[cfg(test)]
mod tests;
