//! Envelopes too large to hold: the text of every base64 element that
//! carries a document (`dmEncodedContent`, and `dmMessage` of
//! AuthenticateBigMessage) is decoded as it arrives straight into a file
//! of its own, hashed on the way (SHA-256 and SHA3-256, the two digests
//! the VoDZ services answer), and the rest of the envelope — the
//! "skeleton", a few kilobytes — is kept with a short marker in the
//! element's place, to be parsed as any envelope.
//!
//! [`Spooler`] is fed the envelope's bytes in pieces of any size (it
//! implements [`std::io::Write`], so a decompressor can sit in front of
//! it); memory stays at one decoding buffer and one write buffer however
//! large a document is. Files of a spool that is dropped before
//! [`Spooler::finish`], or of a finished [`Spooled`] whose contents were
//! not kept, are removed: a cancelled or refused upload leaves nothing
//! behind. Spool files carry the `.tmp` suffix of the document directory
//! (see `store::FileDir`), so a crash leaves nothing either.
//!
//! What the scanner understands of XML is only what finding those
//! elements needs: tags (with quoted attribute values), comments, CDATA
//! and processing instructions are copied through as they are; the
//! skeleton is then checked by the ordinary parser.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha2::{Digest, Sha256};
use sha3::Sha3_256;

/// Local names of the elements whose text is spooled.
const SPOOLED_ELEMENTS: [&[u8]; 2] = [b"dmEncodedContent", b"dmMessage"];

/// Base64 text decoded per step (a multiple of 4).
const DECODE_STEP: usize = 256 * 1024;

/// Bytes buffered before a write to the spool file.
const WRITE_BUFFER: usize = 1024 * 1024;

/// Base64 as clients send it: padding optional at the very end.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Where spool files go and how large things may be.
#[derive(Debug, Clone)]
pub struct SpoolSettings {
    /// The directory of the spool files (the store's document directory,
    /// so a kept file is renamed, never copied).
    pub dir: PathBuf,
    /// Most decoded bytes of one element.
    pub max_content_bytes: u64,
    /// Most bytes of the envelope without the spooled texts.
    pub max_skeleton_bytes: usize,
}

/// Why an envelope could not be spooled.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("a document of the request exceeds the limit of {limit} bytes")]
    ContentTooLarge { limit: u64 },
    #[error("the request without its documents exceeds the limit of {limit} bytes")]
    SkeletonTooLarge { limit: usize },
    #[error("the content of element {element} is not valid base64")]
    Base64 { element: String },
    #[error("the request ends inside element {element}")]
    Truncated { element: String },
    #[error("spool file: {0}")]
    Io(#[from] io::Error),
}

/// One decoded element text, in its file.
#[derive(Debug)]
pub struct SpooledContent {
    path: PathBuf,
    /// Decoded bytes.
    pub size: u64,
    pub sha256: [u8; 32],
    pub sha3_256: [u8; 32],
    kept: AtomicBool,
}

impl SpooledContent {
    /// Moves the file to `dest` (same directory: a rename) and keeps it;
    /// the caller makes the directory entry durable.
    pub fn keep_as(&self, dest: &Path) -> io::Result<()> {
        if self.kept.swap(true, Ordering::SeqCst) {
            return Err(io::Error::other("a spooled document is kept only once"));
        }
        std::fs::rename(&self.path, dest).inspect_err(|_| {
            self.kept.store(false, Ordering::SeqCst);
        })
    }

    /// The decoded bytes, read whole (for contents that are needed whole,
    /// e.g. a signed message to verify).
    pub fn read_all(&self) -> io::Result<Vec<u8>> {
        std::fs::read(&self.path)
    }

    /// Where the file is while it is spooled.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SpooledContent {
    fn drop(&mut self) {
        if !self.kept.load(Ordering::SeqCst) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A whole envelope: its skeleton and the spooled element texts.
#[derive(Debug)]
pub struct Spooled {
    /// The envelope with each spooled text replaced by its marker.
    pub skeleton: Vec<u8>,
    contents: Vec<Arc<SpooledContent>>,
    nonce: String,
}

impl Spooled {
    /// The spooled content a decoded element value stands for, when it is
    /// one of this envelope's markers.
    pub fn content(&self, value: &[u8]) -> Option<Arc<SpooledContent>> {
        let rest = value.strip_prefix(MARKER_PREFIX)?;
        let rest = std::str::from_utf8(rest).ok()?;
        let (nonce, index) = rest.split_once(':')?;
        if nonce != self.nonce {
            return None;
        }
        self.contents.get(index.parse::<usize>().ok()?).cloned()
    }

    /// How many element texts were spooled.
    pub fn len(&self) -> usize {
        self.contents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.contents.is_empty()
    }
}

/// What a marker's decoded bytes start with (a NUL: no text a client
/// means starts so, and the nonce makes it this request's own).
const MARKER_PREFIX: &[u8] = b"\0spooled:";

fn marker(nonce: &str, index: usize) -> Vec<u8> {
    let mut m = MARKER_PREFIX.to_vec();
    m.extend_from_slice(format!("{nonce}:{index}").as_bytes());
    m
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between tags, copied.
    Text,
    /// Inside markup (`<` … `>`), collected in `tag`.
    Tag,
    /// Inside the text of a spooled element.
    Content,
}

/// The element text being decoded into its file.
struct Current {
    element: String,
    path: PathBuf,
    file: BufWriter<File>,
    /// Base64 characters not yet decoded.
    pending: Vec<u8>,
    decoded: Vec<u8>,
    /// An entity reference being read (`&#13;` and the like).
    entity: Option<Vec<u8>>,
    padded: bool,
    size: u64,
    sha256: Sha256,
    sha3: Sha3_256,
}

/// Feeds an envelope through; see the module comment.
pub struct Spooler {
    settings: SpoolSettings,
    state: State,
    skeleton: Vec<u8>,
    tag: Vec<u8>,
    quote: Option<u8>,
    current: Option<Current>,
    contents: Vec<Arc<SpooledContent>>,
    nonce: String,
    /// The first failure, kept for [`Spooler::finish`] when the spooler
    /// is fed through [`Write`].
    failed: Option<SpoolError>,
}

impl Spooler {
    pub fn new(settings: SpoolSettings) -> Spooler {
        let mut nonce = [0u8; 12];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        Spooler {
            settings,
            state: State::Text,
            skeleton: Vec::new(),
            tag: Vec::new(),
            quote: None,
            current: None,
            contents: Vec::new(),
            nonce: nonce.iter().map(|b| format!("{b:02x}")).collect(),
            failed: None,
        }
    }

    /// The skeleton so far (e.g. to name the operation of a refused
    /// request).
    pub fn skeleton(&self) -> &[u8] {
        &self.skeleton
    }

    /// Takes the next bytes of the envelope.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), SpoolError> {
        if let Some(err) = self.failed.take() {
            return Err(err);
        }
        while !data.is_empty() {
            match self.state {
                State::Text => match memchr::memchr(b'<', data) {
                    Some(at) => {
                        self.push_skeleton(&data[..at])?;
                        self.tag.clear();
                        self.tag.push(b'<');
                        self.quote = None;
                        self.state = State::Tag;
                        data = &data[at + 1..];
                    }
                    None => {
                        self.push_skeleton(data)?;
                        data = &[];
                    }
                },
                State::Tag => {
                    let mut used = 0;
                    for &b in data {
                        used += 1;
                        self.tag.push(b);
                        if self.tag.len() > self.settings.max_skeleton_bytes {
                            return Err(SpoolError::SkeletonTooLarge {
                                limit: self.settings.max_skeleton_bytes,
                            });
                        }
                        if self.tag_complete(b) {
                            self.end_tag()?;
                            break;
                        }
                    }
                    data = &data[used..];
                }
                State::Content => {
                    let end = memchr::memchr(b'<', data);
                    let text = &data[..end.unwrap_or(data.len())];
                    self.content_text(text)?;
                    match end {
                        Some(at) => {
                            self.end_content()?;
                            self.tag.clear();
                            self.tag.push(b'<');
                            self.quote = None;
                            self.state = State::Tag;
                            data = &data[at + 1..];
                        }
                        None => data = &[],
                    }
                }
            }
        }
        Ok(())
    }

    /// The envelope is complete.
    pub fn finish(mut self) -> Result<Spooled, SpoolError> {
        if let Some(err) = self.failed.take() {
            return Err(err);
        }
        if let Some(cur) = &self.current {
            return Err(SpoolError::Truncated {
                element: cur.element.clone(),
            });
        }
        if self.state == State::Tag {
            // An unfinished tag: the parser reports it.
            let tag = std::mem::take(&mut self.tag);
            self.push_skeleton(&tag)?;
        }
        Ok(Spooled {
            skeleton: std::mem::take(&mut self.skeleton),
            contents: std::mem::take(&mut self.contents),
            nonce: std::mem::take(&mut self.nonce),
        })
    }

    fn push_skeleton(&mut self, bytes: &[u8]) -> Result<(), SpoolError> {
        if self.skeleton.len() + bytes.len() > self.settings.max_skeleton_bytes {
            return Err(SpoolError::SkeletonTooLarge {
                limit: self.settings.max_skeleton_bytes,
            });
        }
        self.skeleton.extend_from_slice(bytes);
        Ok(())
    }

    /// Whether the markup in `tag` ends with `last`.
    fn tag_complete(&mut self, last: u8) -> bool {
        let t = &self.tag;
        if t.starts_with(b"<!--") {
            return t.len() >= 7 && t.ends_with(b"-->");
        }
        if t.starts_with(b"<![CDATA[") {
            return t.len() >= 12 && t.ends_with(b"]]>");
        }
        if b"<!--".starts_with(t) || b"<![CDATA[".starts_with(t) {
            return false;
        }
        if t.starts_with(b"<?") {
            return t.len() >= 4 && t.ends_with(b"?>");
        }
        match (self.quote, last) {
            (Some(q), b) if b == q => {
                self.quote = None;
                false
            }
            (Some(_), _) => false,
            (None, b'"' | b'\'') => {
                self.quote = Some(last);
                false
            }
            (None, b'>') => true,
            _ => false,
        }
    }

    /// A complete tag: copied; a start tag of a spooled element opens its
    /// file.
    fn end_tag(&mut self) -> Result<(), SpoolError> {
        let tag = std::mem::take(&mut self.tag);
        self.push_skeleton(&tag)?;
        self.state = State::Text;
        let is_start =
            tag.len() > 2 && !matches!(tag[1], b'/' | b'!' | b'?') && !tag.ends_with(b"/>");
        if !is_start {
            return Ok(());
        }
        let name_end = tag[1..]
            .iter()
            .position(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>'))
            .map_or(tag.len(), |i| i + 1);
        let qname = &tag[1..name_end];
        let local = match memchr::memrchr(b':', qname) {
            Some(i) => &qname[i + 1..],
            None => qname,
        };
        if !SPOOLED_ELEMENTS.contains(&local) {
            return Ok(());
        }
        let index = self.contents.len();
        let path = self
            .settings
            .dir
            .join(format!("spool-{}-{index}.tmp", self.nonce));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&path)?;
        self.current = Some(Current {
            element: String::from_utf8_lossy(local).into_owned(),
            path,
            file: BufWriter::with_capacity(WRITE_BUFFER, file),
            pending: Vec::with_capacity(DECODE_STEP + 4),
            decoded: Vec::with_capacity(DECODE_STEP / 4 * 3 + 3),
            entity: None,
            padded: false,
            size: 0,
            sha256: Sha256::new(),
            sha3: Sha3_256::new(),
        });
        self.state = State::Content;
        Ok(())
    }

    /// Text of the spooled element: base64 characters kept, white space
    /// (also as character references) skipped, anything else refused.
    fn content_text(&mut self, text: &[u8]) -> Result<(), SpoolError> {
        let limit = self.settings.max_content_bytes;
        let Some(cur) = self.current.as_mut() else {
            return Ok(());
        };
        let bad = |cur: &Current| SpoolError::Base64 {
            element: cur.element.clone(),
        };
        for &b in text {
            if let Some(entity) = cur.entity.as_mut() {
                if b != b';' {
                    entity.push(b);
                    if entity.len() > 8 {
                        return Err(bad(cur));
                    }
                    continue;
                }
                let name = cur.entity.take().unwrap_or_default();
                if !matches!(
                    &name[..],
                    b"#13"
                        | b"#10"
                        | b"#9"
                        | b"#32"
                        | b"#xD"
                        | b"#xA"
                        | b"#xd"
                        | b"#xa"
                        | b"#x0D"
                        | b"#x0A"
                        | b"#x0d"
                        | b"#x0a"
                        | b"#x9"
                        | b"#x20"
                ) {
                    return Err(bad(cur));
                }
                continue;
            }
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => {
                    if cur.padded {
                        return Err(bad(cur));
                    }
                    cur.pending.push(b);
                }
                b'=' => {
                    cur.padded = true;
                    cur.pending.push(b);
                }
                b' ' | b'\t' | b'\r' | b'\n' => {}
                b'&' => cur.entity = Some(Vec::new()),
                _ => return Err(bad(cur)),
            }
            if cur.pending.len() >= DECODE_STEP && !cur.padded {
                decode_pending(cur, false, limit)?;
            }
        }
        Ok(())
    }

    /// The end of a spooled element's text: the rest decoded, the file
    /// forced to disk and recorded.
    fn end_content(&mut self) -> Result<(), SpoolError> {
        let limit = self.settings.max_content_bytes;
        let Some(mut cur) = self.current.take() else {
            return Ok(());
        };
        let result = (|| {
            if cur.entity.is_some() {
                return Err(SpoolError::Base64 {
                    element: cur.element.clone(),
                });
            }
            decode_pending(&mut cur, true, limit)?;
            cur.file.flush()?;
            cur.file.get_ref().sync_all()?;
            Ok(())
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&cur.path);
            return Err(e);
        }
        let Current {
            path,
            size,
            sha256,
            sha3,
            ..
        } = cur;
        self.contents.push(Arc::new(SpooledContent {
            path,
            size,
            sha256: sha256.finalize().into(),
            sha3_256: sha3.finalize().into(),
            kept: AtomicBool::new(false),
        }));
        let marker = LENIENT.encode(marker(&self.nonce, self.contents.len() - 1));
        self.push_skeleton(marker.as_bytes())
    }
}

/// Decodes the pending base64 of `cur` (all of it when `last`, else whole
/// quads) into its file and hashes.
fn decode_pending(cur: &mut Current, last: bool, limit: u64) -> Result<(), SpoolError> {
    let take = if last {
        cur.pending.len()
    } else {
        cur.pending.len() / 4 * 4
    };
    if take == 0 {
        return Ok(());
    }
    cur.decoded.clear();
    cur.decoded.resize(take / 4 * 3 + 3, 0);
    let n = LENIENT
        .decode_slice(&cur.pending[..take], &mut cur.decoded)
        .map_err(|_| SpoolError::Base64 {
            element: cur.element.clone(),
        })?;
    cur.pending.drain(..take);
    cur.size += n as u64;
    if cur.size > limit {
        return Err(SpoolError::ContentTooLarge { limit });
    }
    let bytes = &cur.decoded[..n];
    cur.sha256.update(bytes);
    cur.sha3.update(bytes);
    cur.file.write_all(bytes)?;
    Ok(())
}

impl Drop for Spooler {
    fn drop(&mut self) {
        if let Some(cur) = self.current.take() {
            drop(cur.file);
            let _ = std::fs::remove_file(&cur.path);
        }
    }
}

impl Write for Spooler {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self.feed(data) {
            Ok(()) => Ok(data.len()),
            Err(e) => {
                let text = e.to_string();
                self.failed = Some(e);
                Err(io::Error::other(text))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Spooler {
    /// The failure a [`Write`] call stopped at, if any.
    pub fn take_failure(&mut self) -> Option<SpoolError> {
        self.failed.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path) -> SpoolSettings {
        SpoolSettings {
            dir: dir.to_path_buf(),
            max_content_bytes: 1 << 30,
            max_skeleton_bytes: 1 << 20,
        }
    }

    fn spool(dir: &Path, input: &[u8], piece: usize) -> Result<Spooled, SpoolError> {
        let mut s = Spooler::new(settings(dir));
        for p in input.chunks(piece.max(1)) {
            s.feed(p)?;
        }
        s.finish()
    }

    #[test]
    fn documents_go_to_files_in_any_pieces_and_the_rest_stays() {
        let tmp = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        // Line breaks as some clients write them, also as references.
        b64.insert_str(76, "\r\n");
        b64.insert_str(200, "&#13;&#10;");
        let envelope = format!(
            "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"urn:s\"><!-- a <c> --><s:Body>\
             <v:UploadAttachment xmlns:v=\"urn:v\"><v:dmFile a=\"x>y\" b='q'>\
             <v:dmEncodedContent>{b64}</v:dmEncodedContent></v:dmFile>\
             <v:dmEncodedContent/></v:UploadAttachment></s:Body></s:Envelope>"
        );
        for piece in [1, 3, 7, 4096, envelope.len()] {
            let spooled = spool(tmp.path(), envelope.as_bytes(), piece).unwrap();
            assert_eq!(spooled.len(), 1);
            let text = String::from_utf8(spooled.skeleton.clone()).unwrap();
            assert!(text.contains("<!-- a <c> -->"), "{text}");
            assert!(text.contains("a=\"x>y\""));
            assert!(!text.contains(&b64[..50]));
            let start = text.find("<v:dmEncodedContent>").unwrap() + 20;
            let end = text[start..].find('<').unwrap() + start;
            let value = LENIENT.decode(&text[start..end]).unwrap();
            let content = spooled.content(&value).expect("the marker names the file");
            assert_eq!(content.read_all().unwrap(), data, "piece {piece}");
            assert_eq!(content.size, data.len() as u64);
            assert_eq!(content.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
            let path = content.path().to_path_buf();
            drop(content);
            drop(spooled);
            assert!(!path.exists(), "an unkept spool file is removed");
        }
    }

    #[test]
    fn refusals_leave_nothing_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let bad = b"<a><dmMessage>QUJD*</dmMessage></a>";
        assert!(matches!(
            spool(tmp.path(), bad, 5),
            Err(SpoolError::Base64 { .. })
        ));
        let cut = b"<a><dmMessage>QUJDRA";
        assert!(matches!(
            spool(tmp.path(), cut, 5),
            Err(SpoolError::Truncated { .. })
        ));
        let mut s = Spooler::new(SpoolSettings {
            max_content_bytes: 5,
            ..settings(tmp.path())
        });
        let big = b"<a><dmMessage>QUJDREVGR0g=</dmMessage></a>";
        assert!(matches!(
            s.feed(big).and_then(|_| s.finish().map(|_| ())),
            Err(SpoolError::ContentTooLarge { .. })
        ));
        // Dropped half-way: the open file goes too.
        let mut s = Spooler::new(settings(tmp.path()));
        s.feed(b"<a><dmMessage>QUJD").unwrap();
        drop(s);
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}
