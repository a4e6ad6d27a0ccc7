//! A small, allocation-frugal XML writer.

use std::fmt::Write as _;

use base64::Engine as _;

use super::fragment::{Fragment, Part};
use super::{Element, Node, XML_NS, XSI_NS};

/// Binary contents from this size on are kept as bytes by a writer made
/// with [`XmlWriter::deferring_binaries`].
const DEFER_FROM: usize = 256 * 1024;

/// How a writer in ISDS's wire form names elements: every element with
/// `prefix` (declared by the caller on the root), except that `own`, when
/// it occurs, declares a prefix of its own and its subtree uses that.
///
/// This is how ISDS writes its responses (see the real responses the
/// project is compared with): prefixed elements, never a default
/// namespace, and `dmDm` carrying `xmlns:p` itself so that the bytes from
/// `<p:dmDm` to `</p:dmDm>`, which `dmHash` covers, stand alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefixing {
    pub prefix: &'static str,
    pub own: Option<OwnPrefix>,
}

/// An element that declares its own prefix, see [`Prefixing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnPrefix {
    /// Local name of the element.
    pub element: &'static str,
    pub prefix: &'static str,
    pub namespace: &'static str,
}

/// Builds an XML document into one `String`.
///
/// Names are written as given (the caller chooses prefixes and declares
/// namespaces), or, after [`XmlWriter::set_prefixing`], with the prefix it
/// sets; text and attribute values are escaped. A start tag stays open
/// until content or [`XmlWriter::end`] follows, so an element without
/// content is written as `<name/>`, or, with prefixing, as
/// `<p:name></p:name>` (ISDS never shortens tags, and clients that keep
/// the bytes of a subtree, libdatovka among them, re-serialise it that
/// way).
#[derive(Debug, Default, Clone)]
pub struct XmlWriter {
    buf: String,
    /// True while a start tag is open (`<name attr="v"` without `>`).
    open: bool,
    /// Attributes queued for the next start tag, already rendered.
    pending: String,
    /// With [`XmlWriter::deferring_binaries`]: the parts before `buf`.
    deferred: Option<Vec<Part>>,
    /// The size from which binaries are deferred; `None` for [`DEFER_FROM`].
    defer_from: Option<usize>,
    /// With [`XmlWriter::set_prefixing`]: how elements are named.
    prefixing: Option<Prefixing>,
    /// The prefix of elements written now ("" for none).
    prefix: &'static str,
    /// Elements open (written by [`XmlWriter::start`]).
    depth: usize,
    /// The depth at which [`OwnPrefix`]'s element was opened, while open.
    own_depth: Option<usize>,
}

impl XmlWriter {
    pub fn new() -> XmlWriter {
        XmlWriter::default()
    }

    /// A writer that keeps large binary contents ([`XmlWriter::binary`])
    /// as bytes, for [`XmlWriter::into_fragment`]; [`XmlWriter::as_str`]
    /// and [`XmlWriter::len`] then cover only what follows the last one.
    pub fn deferring_binaries() -> XmlWriter {
        XmlWriter {
            deferred: Some(Vec::new()),
            ..XmlWriter::default()
        }
    }

    /// Like [`XmlWriter::deferring_binaries`], for binary contents of any
    /// size: each stays a part of its own (for a pass over the document
    /// that meets every binary content as bytes).
    pub fn deferring_all_binaries() -> XmlWriter {
        XmlWriter {
            deferred: Some(Vec::new()),
            defer_from: Some(0),
            ..XmlWriter::default()
        }
    }

    /// A writer whose buffer starts with `capacity` bytes reserved.
    pub fn with_capacity(capacity: usize) -> XmlWriter {
        XmlWriter {
            buf: String::with_capacity(capacity),
            ..XmlWriter::default()
        }
    }

    /// Reserves room for `additional` more bytes of text (for a caller
    /// that knows about how long its document will be: no copying as the
    /// buffer grows).
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve(additional);
    }

    /// Writes `<?xml version="1.0" encoding="UTF-8"?>`.
    pub fn declaration(&mut self) {
        self.close_start();
        self.buf
            .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    }

    /// Names every element written from now on as `prefixing` says (the
    /// caller declares `prefixing.prefix` on the root, e.g. with
    /// [`XmlWriter::pending_attr`]).
    pub fn set_prefixing(&mut self, prefixing: Prefixing) {
        self.prefix = prefixing.prefix;
        self.prefixing = Some(prefixing);
        self.own_depth = None;
    }

    /// Opens element `name` (attributes may follow).
    pub fn start(&mut self, name: &str) {
        self.close_start();
        let mut own_declared = None;
        if let Some(Prefixing { own: Some(own), .. }) = self.prefixing
            && self.own_depth.is_none()
            && own.element == name
        {
            self.prefix = own.prefix;
            self.own_depth = Some(self.depth);
            own_declared = Some(own);
        }
        self.depth += 1;
        self.buf.push('<');
        push_name(&mut self.buf, self.prefix, name);
        if let Some(own) = own_declared {
            self.buf.push_str(" xmlns:");
            self.buf.push_str(own.prefix);
            self.buf.push_str("=\"");
            escape_attr_into(&mut self.buf, own.namespace);
            self.buf.push('"');
        }
        if !self.pending.is_empty() {
            self.buf.push_str(&self.pending);
            self.pending.clear();
        }
        self.open = true;
    }

    /// Opens element `name` exactly as given, whatever the prefixing (for
    /// copied subtrees).
    fn start_unprefixed(&mut self, name: &str) {
        self.close_start();
        self.buf.push('<');
        self.buf.push_str(name);
        if !self.pending.is_empty() {
            self.buf.push_str(&self.pending);
            self.pending.clear();
        }
        self.open = true;
    }

    /// Adds an attribute to the element just opened by [`XmlWriter::start`].
    pub fn attr(&mut self, name: &str, value: &str) {
        debug_assert!(self.open, "attribute {name} written outside a start tag");
        push_attr(&mut self.buf, name, value);
    }

    /// Like [`XmlWriter::attr`], with the value written by `Display`
    /// (numbers) without an intermediate `String`.
    pub fn attr_display(&mut self, name: &str, value: impl std::fmt::Display) {
        debug_assert!(self.open, "attribute {name} written outside a start tag");
        self.buf.push(' ');
        self.buf.push_str(name);
        self.buf.push_str("=\"");
        let start = self.buf.len();
        let _ = write!(self.buf, "{value}");
        if self.buf[start..].contains(['&', '<', '"', '\t', '\n', '\r']) {
            let raw = self.buf.split_off(start);
            escape_attr_into(&mut self.buf, &raw);
        }
        self.buf.push('"');
    }

    /// Queues an attribute for the next start tag (or `empty`/`nil`), e.g.
    /// namespace declarations for a root written by someone else's code.
    pub fn pending_attr(&mut self, name: &str, value: &str) {
        push_attr(&mut self.pending, name, value);
    }

    /// Closes element `name`: `/>` if nothing was written since its start
    /// tag (without prefixing), `</name>` otherwise.
    pub fn end(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        let prefix = self.prefix;
        self.close_tag(prefix, name);
        if self.own_depth == Some(self.depth) {
            self.own_depth = None;
            self.prefix = self.prefixing.map_or("", |p| p.prefix);
        }
    }

    fn close_tag(&mut self, prefix: &str, name: &str) {
        if self.open && self.prefixing.is_none() {
            self.buf.push_str("/>");
            self.open = false;
            return;
        }
        self.close_start();
        self.buf.push_str("</");
        push_name(&mut self.buf, prefix, name);
        self.buf.push('>');
    }

    /// Writes escaped character data.
    pub fn text(&mut self, text: &str) {
        self.close_start();
        escape_text_into(&mut self.buf, text);
    }

    /// Writes a number or other `Display` value as character data.
    pub fn text_display(&mut self, value: impl std::fmt::Display) {
        self.close_start();
        let start = self.buf.len();
        let _ = write!(self.buf, "{value}");
        if self.buf[start..].contains(['&', '<', '>', '\r']) || has_bad_chars(&self.buf[start..]) {
            let raw = self.buf.split_off(start);
            escape_text_into(&mut self.buf, &raw);
        }
    }

    /// Writes `bytes` base64-encoded (standard alphabet, padded, no line
    /// breaks) straight into the buffer.
    pub fn base64(&mut self, bytes: &[u8]) {
        self.close_start();
        base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut self.buf);
    }

    /// Writes `bytes` as base64 content, or, for a writer made with
    /// [`XmlWriter::deferring_binaries`] and large contents, keeps them as
    /// bytes (shared, not copied) to be encoded when sent.
    pub fn binary(&mut self, bytes: &bytes::Bytes) {
        match &mut self.deferred {
            Some(parts) if bytes.len() >= self.defer_from.unwrap_or(DEFER_FROM) => {
                if self.open {
                    self.buf.push('>');
                    self.open = false;
                }
                parts.push(Part::Text(std::mem::take(&mut self.buf)));
                parts.push(Part::Base64(bytes.clone()));
            }
            _ => self.base64(bytes),
        }
    }

    /// Writes `<name/>` (with prefixing `<p:name></p:name>`).
    pub fn empty(&mut self, name: &str) {
        self.start(name);
        self.end(name);
    }

    /// Writes `<name xsi:nil="true"/>` (with prefixing
    /// `<p:name xsi:nil="true"></p:name>`, as ISDS does); the `xsi` prefix
    /// must be declared by an enclosing element.
    pub fn nil(&mut self, name: &str) {
        self.start(name);
        self.buf.push_str(" xsi:nil=\"true\"");
        self.end(name);
    }

    /// Writes `<name>text</name>`.
    pub fn text_element(&mut self, name: &str, text: &str) {
        self.start(name);
        self.text(text);
        self.end(name);
    }

    /// Appends markup verbatim. The caller guarantees it is well-formed.
    pub fn raw(&mut self, markup: &str) {
        self.close_start();
        self.buf.push_str(markup);
    }

    /// Re-serialises a DOM subtree so that it is self-contained: the
    /// subtree's root declares its default namespace (`xmlns="…"` or
    /// `xmlns=""`), a descendant re-declares it when it changes, and every
    /// namespaced attribute gets a prefix declared on its own element.
    ///
    /// An element in the `xml` namespace is written with the `xml` prefix,
    /// since that namespace cannot be the default one.
    ///
    /// With prefixing no default namespace is in scope, so an element in no
    /// namespace needs no `xmlns=""`.
    pub fn raw_element(&mut self, element: &Element) {
        let in_scope = self.prefixing.map(|_| None);
        self.write_dom(element, in_scope);
    }

    /// `default_ns` is the default namespace this method declared for the
    /// parent, `None` at the subtree's root (where the caller's default
    /// namespace is unknown).
    fn write_dom(&mut self, el: &Element, default_ns: Option<Option<&str>>) {
        let ns = el.ns.as_deref();
        let in_scope = if ns == Some(XML_NS) {
            self.start_unprefixed(&format!("xml:{}", el.name));
            default_ns
        } else {
            self.start_unprefixed(&el.name);
            if default_ns != Some(ns) {
                push_attr(&mut self.buf, "xmlns", ns.unwrap_or(""));
            }
            Some(ns)
        };
        let mut prefixes: Vec<&str> = Vec::new();
        for a in &el.attrs {
            match a.ns.as_deref() {
                None => push_attr(&mut self.buf, &a.name, &a.value),
                Some(XML_NS) => {
                    self.buf.push_str(" xml:");
                    self.buf.push_str(&a.name);
                    self.buf.push_str("=\"");
                    escape_attr_into(&mut self.buf, &a.value);
                    self.buf.push('"');
                }
                Some(uri) => {
                    let index = match prefixes.iter().position(|p| *p == uri) {
                        Some(i) => i,
                        None => {
                            prefixes.push(uri);
                            let i = prefixes.len() - 1;
                            let _ = write!(self.buf, " xmlns:{}", attr_prefix(uri, i));
                            self.buf.push_str("=\"");
                            escape_attr_into(&mut self.buf, uri);
                            self.buf.push('"');
                            i
                        }
                    };
                    let _ = write!(self.buf, " {}:{}=\"", attr_prefix(uri, index), a.name);
                    escape_attr_into(&mut self.buf, &a.value);
                    self.buf.push('"');
                }
            }
        }
        for child in &el.children {
            match child {
                Node::Element(c) => self.write_dom(c, in_scope),
                Node::Text(t) => self.text(t),
                Node::Binary(b) => self.binary(b),
            }
        }
        if ns == Some(XML_NS) {
            self.close_tag("", &format!("xml:{}", el.name));
        } else {
            self.close_tag("", &el.name);
        }
    }

    /// The document written so far.
    pub fn as_str(&self) -> &str {
        &self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The document written; binary contents kept as bytes are encoded
    /// into it.
    pub fn into_string(self) -> String {
        match self.deferred {
            Some(parts) if !parts.is_empty() => {
                let mut parts = parts;
                parts.push(Part::Text(self.buf));
                Fragment::from_parts(parts).into_string()
            }
            _ => self.buf,
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.into_string().into_bytes()
    }

    /// The document written, large binary contents still as bytes (for a
    /// writer made with [`XmlWriter::deferring_binaries`]).
    pub fn into_fragment(self) -> Fragment {
        let mut parts = self.deferred.unwrap_or_default();
        parts.push(Part::Text(self.buf));
        parts.retain(|p| !matches!(p, Part::Text(t) if t.is_empty()));
        Fragment::from_parts(parts)
    }

    fn close_start(&mut self) {
        if self.open {
            self.buf.push('>');
            self.open = false;
        }
    }
}

/// `prefix:name`, or `name` for an empty prefix.
fn push_name(buf: &mut String, prefix: &str, name: &str) {
    if !prefix.is_empty() {
        buf.push_str(prefix);
        buf.push(':');
    }
    buf.push_str(name);
}

/// Prefix for a namespaced attribute in [`XmlWriter::raw_element`]: `xsi`
/// for the schema-instance namespace (conventional), `a0`, `a1`… otherwise.
fn attr_prefix(uri: &str, index: usize) -> String {
    if uri == XSI_NS {
        "xsi".to_owned()
    } else {
        format!("a{index}")
    }
}

fn push_attr(buf: &mut String, name: &str, value: &str) {
    buf.push(' ');
    buf.push_str(name);
    buf.push_str("=\"");
    escape_attr_into(buf, value);
    buf.push('"');
}

/// True for characters XML 1.0 cannot represent at all.
fn is_bad_char(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

fn has_bad_chars(s: &str) -> bool {
    s.chars().any(is_bad_char)
}

/// Escapes character data: `&`, `<`, `>` and CR (kept as `&#13;` so it
/// survives end-of-line normalisation); characters XML cannot carry are
/// replaced by U+FFFD so the output is always well-formed.
pub fn escape_text_into(buf: &mut String, s: &str) {
    escape_into(buf, s, false);
}

/// Escapes an attribute value: as text, plus `"` and TAB/LF/CR as character
/// references (they would otherwise be normalised to spaces).
pub fn escape_attr_into(buf: &mut String, s: &str) {
    escape_into(buf, s, true);
}

fn escape_into(buf: &mut String, s: &str, attr: bool) {
    // Most text has nothing to escape: found byte by byte, it is copied
    // whole. Every character handled below starts with one of these bytes
    // (controls and the markup characters, and 0xEF for U+FFFE/U+FFFF).
    // Checked a block at a time without stopping early, which the
    // compiler turns into vector instructions.
    let quote = if attr { b'"' } else { b'&' };
    let special = |b: u8| {
        u8::from(b < 0x20)
            | u8::from(b == b'&')
            | u8::from(b == b'<')
            | u8::from(b == b'>')
            | u8::from(b == 0xEF)
            | u8::from(b == quote)
    };
    if !s
        .as_bytes()
        .chunks(32)
        .any(|block| block.iter().fold(0u8, |seen, &b| seen | special(b)) != 0)
    {
        buf.push_str(s);
        return;
    }
    let mut last = 0;
    for (i, c) in s.char_indices() {
        let rep: &str = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '\r' => "&#13;",
            '"' if attr => "&quot;",
            '\n' if attr => "&#10;",
            '\t' if attr => "&#9;",
            c if is_bad_char(c) => "\u{FFFD}",
            _ => continue,
        };
        buf.push_str(&s[last..i]);
        buf.push_str(rep);
        last = i + c.len_utf8();
    }
    buf.push_str(&s[last..]);
}
