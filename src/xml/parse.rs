//! The hardened parser behind [`crate::xml::parse`].

use std::borrow::Cow;

use quick_xml::NsReader;
use quick_xml::errors::{Error as QxError, IllFormedError};
use quick_xml::escape::{EscapeError, unescape};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, PrefixDeclaration, ResolveResult};

use super::encoding::{Encoding, decode_single_byte};
use super::{
    Attribute, BASE64_ELEMENTS, BINARY_TEXT_THRESHOLD, Element, Node, ParseLimits, XML_NS,
    XMLNS_NS, XmlError, is_xml_space,
};

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// Parses a complete XML document and returns its root element.
///
/// Accepted: UTF-8 (with or without BOM), or a declared `windows-1250`,
/// `ISO-8859-2`, `ISO-8859-1` or `US-ASCII` encoding (transcoded first);
/// comments; whitespace around the root. Refused with a precise
/// [`XmlError`]: any DOCTYPE, any processing instruction other than the
/// XML declaration (SOAP forbids them), unknown entities, invalid
/// characters, unbound prefixes, duplicate attributes (also via two prefixes
/// bound to one namespace), content outside the single root, unclosed or
/// mismatched tags, and anything beyond `limits`. Never panics; memory use
/// is proportional to the input.
pub fn parse(input: &[u8], limits: &ParseLimits) -> Result<Element, XmlError> {
    parse_inner(input, limits, None)
}

/// What whoever reads a document has no place for, decided while it is
/// parsed so that such markup is never built.
///
/// A plain `Fn(ancestors, ns, name) -> bool` is a pruner of elements that
/// keeps every attribute.
pub trait Pruner {
    /// Whether an element about to be opened under `ancestors` (the open
    /// elements, outermost first) with namespace `ns` and local name
    /// `name` can only be refused by its name. Such an element is kept
    /// bare (its name, no attributes, no content) and its content is
    /// skipped without being built.
    fn prune(&self, ancestors: &[Element], ns: Option<&str>, name: &str) -> bool;

    /// Whether the reader of an element about to be opened (as for
    /// [`Pruner::prune`]) reads only the attributes [`Pruner::reads_attribute`]
    /// names. Of the others the first is kept, since an element's having
    /// attributes can matter (see [`crate::schema::rt::is_empty_value`]);
    /// the rest are checked as usual (well-formed, not duplicated, their
    /// references defined) but not built.
    fn filters_attributes(&self, _ancestors: &[Element], _ns: Option<&str>, _name: &str) -> bool {
        false
    }

    /// Whether the reader reads an attribute of namespace `ns` and local
    /// name `name` on an element [`Pruner::filters_attributes`] picked.
    fn reads_attribute(&self, _ns: Option<&str>, _name: &str) -> bool {
        true
    }

    /// [`Pruner::prune`] and then [`Pruner::filters_attributes`], in one
    /// call: a pruner whose two answers share a costly look at the
    /// ancestors overrides this to look once.
    fn decide(&self, ancestors: &[Element], ns: Option<&str>, name: &str) -> Decision {
        if self.prune(ancestors, ns, name) {
            Decision::Prune
        } else if self.filters_attributes(ancestors, ns, name) {
            Decision::FilterAttributes
        } else {
            Decision::Build
        }
    }
}

/// What a [`Pruner`] decides about an element about to be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Kept bare, its content skipped ([`Pruner::prune`]).
    Prune,
    /// Built with the attributes its reader reads
    /// ([`Pruner::filters_attributes`]).
    FilterAttributes,
    /// Built whole.
    Build,
}

impl<F: Fn(&[Element], Option<&str>, &str) -> bool> Pruner for F {
    fn prune(&self, ancestors: &[Element], ns: Option<&str>, name: &str) -> bool {
        self(ancestors, ns, name)
    }
}

/// The pruner a parse runs with.
pub type Prune<'p> = &'p dyn Pruner;

/// [`parse`], keeping the elements `prune` picks bare: markup the reader of
/// the document has no place for costs no memory, however much of it
/// there is. Errors inside a pruned element's content other than
/// well-formedness (nesting, names of end tags), characters and
/// DOCTYPEs or processing instructions are not looked for.
pub fn parse_pruned(
    input: &[u8],
    limits: &ParseLimits,
    prune: Prune<'_>,
) -> Result<Element, XmlError> {
    parse_inner(input, limits, Some(prune))
}

fn parse_inner(
    input: &[u8],
    limits: &ParseLimits,
    prune: Option<Prune<'_>>,
) -> Result<Element, XmlError> {
    if input.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            size: input.len(),
            limit: limits.max_bytes,
        });
    }
    let (bom, body, base) = match input.strip_prefix(UTF8_BOM) {
        Some(rest) => (true, rest, UTF8_BOM.len()),
        None => (false, input, 0),
    };
    if body.starts_with(&[0xFE, 0xFF])
        || body.starts_with(&[0xFF, 0xFE])
        || body.starts_with(&[0x00, b'<'])
        || body.starts_with(&[b'<', 0x00])
    {
        return Err(XmlError::UnsupportedEncoding("UTF-16".to_owned()));
    }
    let encoding = match declared_encoding(body, base)? {
        None => Encoding::Utf8,
        Some(label) => match Encoding::from_label(&label) {
            Some(enc) => enc,
            None => return Err(XmlError::UnsupportedEncoding(label)),
        },
    };
    if bom && encoding != Encoding::Utf8 {
        return Err(XmlError::EncodingMismatch(encoding.name().to_owned()));
    }
    let text: Cow<'_, str> =
        match encoding {
            Encoding::Utf8 => {
                Cow::Borrowed(
                    std::str::from_utf8(body).map_err(|e| XmlError::InvalidUtf8 {
                        pos: base + e.valid_up_to(),
                    })?,
                )
            }
            Encoding::Ascii => {
                if let Some(pos) = body.iter().position(|b| !b.is_ascii()) {
                    return Err(XmlError::UndefinedByte {
                        encoding: encoding.name(),
                        byte: body[pos],
                        pos: base + pos,
                    });
                }
                Cow::Borrowed(
                    std::str::from_utf8(body).map_err(|e| XmlError::InvalidUtf8 {
                        pos: base + e.valid_up_to(),
                    })?,
                )
            }
            other => Cow::Owned(decode_single_byte(body, other).map_err(|pos| {
                XmlError::UndefinedByte {
                    encoding: other.name(),
                    byte: body.get(pos).copied().unwrap_or(0),
                    pos: base + pos,
                }
            })?),
        };
    check_chars(&text, base)?;
    let built = build(&text, limits, base, prune);
    if built.is_err() && text.len() >= RELEASE_AFTER_REFUSED_BYTES {
        // What was built before the refusal is freed by now; give it back
        // (a refused body is typically hostile markup of many tiny parts).
        crate::allocator::release_free_memory();
    }
    built
}

/// Size of a refused document from which the memory its partial tree took
/// is handed back to the kernel at once.
const RELEASE_AFTER_REFUSED_BYTES: usize = 1024 * 1024;

/// Reads the `encoding` pseudo-attribute of a leading XML declaration.
fn declared_encoding(body: &[u8], base: usize) -> Result<Option<String>, XmlError> {
    let Some(rest) = body.strip_prefix(b"<?xml") else {
        return Ok(None);
    };
    if !rest.first().is_some_and(|b| b.is_ascii_whitespace()) {
        // `<?xml-stylesheet …?>` and the like: a processing instruction,
        // refused by the parser proper.
        return Ok(None);
    }
    let Some(end) = rest.windows(2).position(|w| w == b"?>") else {
        return Ok(None); // the parser reports the unclosed declaration
    };
    let malformed = || XmlError::NotWellFormed {
        pos: base,
        reason: "malformed XML declaration".to_owned(),
    };
    let mut s = &rest[..end];
    loop {
        s = trim_ascii_start(s);
        if s.is_empty() {
            return Ok(None);
        }
        let name_len = s
            .iter()
            .position(|b| !b.is_ascii_alphabetic())
            .unwrap_or(s.len());
        let (name, after) = s.split_at(name_len);
        let after = trim_ascii_start(after);
        let Some(after) = after.strip_prefix(b"=") else {
            return Err(malformed());
        };
        let after = trim_ascii_start(after);
        let Some((&quote, after)) = after.split_first() else {
            return Err(malformed());
        };
        if quote != b'"' && quote != b'\'' {
            return Err(malformed());
        }
        let Some(close) = after.iter().position(|&b| b == quote) else {
            return Err(malformed());
        };
        if name.is_empty() {
            return Err(malformed());
        }
        if name == b"encoding" {
            return Ok(Some(String::from_utf8_lossy(&after[..close]).into_owned()));
        }
        s = &after[close + 1..];
    }
}

fn trim_ascii_start(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    &s[n..]
}

/// Refuses characters outside the XML 1.0 `Char` production.
fn check_chars(text: &str, base: usize) -> Result<(), XmlError> {
    let bytes = text.as_bytes();
    // Most blocks hold no byte that could start a forbidden character
    // (below 0x20 other than tab, line feed, carriage return; 0xEF);
    // checked without branches per byte, they are skipped whole.
    const BLOCK: usize = 64;
    let mut start = 0;
    while start < bytes.len() {
        let end = (start + BLOCK).min(bytes.len());
        let suspect = bytes[start..end].iter().fold(false, |acc, &b| {
            acc | ((b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r')) | (b == 0xEF)
        });
        if suspect {
            check_chars_from(bytes, start, end, base)?;
        }
        start = end;
    }
    Ok(())
}

/// The byte-by-byte check of `bytes[start..end]` (looking past `end` for
/// the rest of a character starting before it).
fn check_chars_from(bytes: &[u8], start: usize, end: usize, base: usize) -> Result<(), XmlError> {
    for (i, &b) in bytes.iter().enumerate().take(end).skip(start) {
        if b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r' {
            return Err(XmlError::InvalidChar {
                code: u32::from(b),
                pos: base + i,
            });
        }
        // U+FFFE and U+FFFF are EF BF BE / EF BF BF in UTF-8.
        if b == 0xEF
            && bytes.get(i + 1) == Some(&0xBF)
            && let Some(&last @ (0xBE | 0xBF)) = bytes.get(i + 2)
        {
            return Err(XmlError::InvalidChar {
                code: if last == 0xBE { 0xFFFE } else { 0xFFFF },
                pos: base + i,
            });
        }
    }
    Ok(())
}

/// Checks a string produced by entity expansion (`&#1;` is not XML).
fn check_expanded(s: &str, pos: usize) -> Result<(), XmlError> {
    match s.chars().find(|&c| !is_xml_char(c)) {
        Some(c) => Err(XmlError::InvalidChar {
            code: u32::from(c),
            pos,
        }),
        None => Ok(()),
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn build(
    text: &str,
    limits: &ParseLimits,
    base: usize,
    prune: Option<Prune<'_>>,
) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_str(text);
    {
        let cfg = reader.config_mut();
        cfg.check_comments = true;
        cfg.check_end_names = true;
        cfg.expand_empty_elements = false;
        cfg.allow_unmatched_ends = false;
        cfg.trim_text(false);
    }
    let mut tree = Tree {
        structure_budget: text
            .len()
            .saturating_mul(STRUCTURE_PER_INPUT_BYTE)
            .saturating_add(STRUCTURE_FLOOR),
        ..Tree::default()
    };
    let mut first_event = true;
    loop {
        let pos = base + to_usize(reader.buffer_position());
        let event = match reader.read_event() {
            Ok(v) => v,
            Err(e) => {
                return Err(map_reader_error(
                    e,
                    base + to_usize(reader.error_position()),
                ));
            }
        };
        if tree.skipping > 0 {
            // Inside a pruned element: only its nesting is followed.
            let skipped = match &event {
                Event::Start(_) => {
                    tree.skipping += 1;
                    true
                }
                Event::End(_) => {
                    tree.skipping -= 1;
                    true
                }
                Event::Empty(_) | Event::Text(_) | Event::CData(_) | Event::Comment(_) => true,
                _ => false,
            };
            if skipped {
                first_event = false;
                continue;
            }
        }
        match event {
            Event::Decl(decl) => {
                if !first_event {
                    return Err(XmlError::NotWellFormed {
                        pos,
                        reason: "the XML declaration is allowed only at the very start".to_owned(),
                    });
                }
                if decl.version().is_err() {
                    return Err(XmlError::NotWellFormed {
                        pos,
                        reason: "the XML declaration has no version".to_owned(),
                    });
                }
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::PI(_) => return Err(XmlError::ProcessingInstruction { pos }),
            Event::Comment(_) => {}
            Event::Start(start) => {
                open_element(&mut tree, &reader, &start, false, limits, prune, pos)?;
            }
            Event::Empty(start) => {
                open_element(&mut tree, &reader, &start, true, limits, prune, pos)?;
            }
            Event::End(end) => match tree.stack.pop() {
                Some(element) => {
                    let declared = tree.declarations.pop().unwrap_or(0);
                    tree.in_scope = tree.in_scope.saturating_sub(declared);
                    let depth = tree.stack.len();
                    tree.binary_sources.retain(|(d, _)| *d <= depth);
                    tree.attach(element)
                }
                None => {
                    return Err(XmlError::NotWellFormed {
                        pos,
                        reason: format!(
                            "closing tag </{}> has no matching start tag",
                            String::from_utf8_lossy(end.name().as_ref())
                        ),
                    });
                }
            },
            Event::Text(t) => {
                let content = t.into_inner();
                let invalid = |e: std::str::Utf8Error| XmlError::InvalidUtf8 {
                    pos: pos + e.valid_up_to(),
                };
                // The text as a slice of the input (always, for a reader
                // over a string), kept for a large base64 text.
                let source: Option<&str> = match &content {
                    Cow::Borrowed(b) => Some(match subslice(text, b) {
                        Some(checked) => checked,
                        None => std::str::from_utf8(b).map_err(invalid)?,
                    }),
                    Cow::Owned(_) => None,
                };
                let raw = match source {
                    Some(text) => text,
                    None => std::str::from_utf8(&content).map_err(invalid)?,
                };
                // (A SIMD scan; most texts, and base64 always, have no ']'.)
                if memchr::memchr(b']', raw.as_bytes()).is_some()
                    && let Some(at) = raw.find("]]>")
                {
                    return Err(XmlError::NotWellFormed {
                        pos: pos + at,
                        reason: "\"]]>\" is not allowed in character data".to_owned(),
                    });
                }
                let depth = tree.stack.len();
                match tree.stack.last_mut() {
                    Some(parent) => {
                        let value = unescape_text(raw, pos)?;
                        if parent.children.is_empty()
                            && value.len() >= BINARY_TEXT_THRESHOLD
                            && is_base64_element(parent)
                            && let Some(source) = source
                            && let Some(decoded) = super::base64::decode_lenient(&value)
                        {
                            // Large base64: kept decoded, never copied as
                            // text. The source stays at hand in case more
                            // text follows (after a comment, say).
                            parent.children.push(Node::Binary(decoded.into()));
                            tree.binary_sources.push((depth, source));
                        } else {
                            restore_binary(parent, &mut tree.binary_sources, depth, pos)?;
                            push_text(parent, value);
                        }
                    }
                    None => {
                        if !raw.chars().all(is_xml_space) {
                            return Err(XmlError::NotWellFormed {
                                pos,
                                reason: "text outside the root element".to_owned(),
                            });
                        }
                    }
                }
            }
            Event::CData(c) => {
                let raw = std::str::from_utf8(&c).map_err(|e| XmlError::InvalidUtf8 {
                    pos: pos + e.valid_up_to(),
                })?;
                let depth = tree.stack.len();
                match tree.stack.last_mut() {
                    Some(parent) => {
                        restore_binary(parent, &mut tree.binary_sources, depth, pos)?;
                        push_text(parent, Cow::Owned(normalize_eol(raw).into_owned()))
                    }
                    None => {
                        return Err(XmlError::NotWellFormed {
                            pos,
                            reason: "CDATA section outside the root element".to_owned(),
                        });
                    }
                }
            }
            Event::Eof => break,
        }
        first_event = false;
    }
    if let Some(open) = tree.stack.last() {
        return Err(XmlError::NotWellFormed {
            pos: base + text.len(),
            reason: format!("element <{}> is not closed", open.name),
        });
    }
    tree.root.ok_or(XmlError::NoRoot)
}

/// The elements under construction.
#[derive(Default)]
struct Tree<'a> {
    /// Open elements, innermost last.
    stack: Vec<Element>,
    root: Option<Element>,
    element_count: usize,
    /// Estimated bytes of the elements and attributes built so far (texts
    /// aside: they are never longer than the input).
    structure_cost: usize,
    /// The most [`Tree::structure_cost`] may reach for this input.
    structure_budget: usize,
    /// Namespace declarations of each open element, innermost last.
    declarations: Vec<usize>,
    /// Namespace declarations in scope (the sum of `declarations`).
    in_scope: usize,
    /// For each open element whose last child is a [`Node::Binary`]: its
    /// depth (1 = root) and the raw text it was decoded from.
    binary_sources: Vec<(usize, &'a str)>,
    /// Open elements inside a pruned element (0: none is being skipped).
    skipping: usize,
}

/// True for an element whose large text is decoded while reading.
fn is_base64_element(el: &Element) -> bool {
    let ns = el.ns.as_deref().unwrap_or("");
    BASE64_ELEMENTS
        .iter()
        .any(|(n, name)| *n == ns && *name == el.name)
}

/// Before more text is appended to `parent` (at `depth`): a trailing
/// [`Node::Binary`] goes back to the text it was decoded from, so the
/// merged text is exactly what the document said.
fn restore_binary(
    parent: &mut Element,
    sources: &mut Vec<(usize, &str)>,
    depth: usize,
    pos: usize,
) -> Result<(), XmlError> {
    if !matches!(parent.children.last(), Some(Node::Binary(_))) {
        return Ok(());
    }
    let Some(i) = sources.iter().rposition(|(d, _)| *d == depth) else {
        return Ok(());
    };
    let (_, raw) = sources.remove(i);
    let text = unescape_text(raw, pos)?.into_owned();
    if let Some(last) = parent.children.last_mut() {
        *last = Node::Text(text);
    }
    Ok(())
}

impl Tree<'_> {
    /// Hands a completed element to its parent (or makes it the root).
    fn attach(&mut self, element: Element) {
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(Node::Element(element)),
            None => self.root = Some(element),
        }
    }
}

fn open_element(
    tree: &mut Tree<'_>,
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    is_empty: bool,
    limits: &ParseLimits,
    prune: Option<Prune<'_>>,
    pos: usize,
) -> Result<(), XmlError> {
    if tree.stack.is_empty() && tree.root.is_some() {
        return Err(XmlError::NotWellFormed {
            pos,
            reason: "a second root element".to_owned(),
        });
    }
    if tree.stack.len() >= limits.max_depth {
        return Err(XmlError::TooDeep {
            limit: limits.max_depth,
            pos,
        });
    }
    tree.element_count += 1;
    if tree.element_count > limits.max_elements {
        return Err(XmlError::TooManyElements {
            limit: limits.max_elements,
        });
    }
    let (ns, name) = element_name(reader, start, pos)?;
    let decision = match prune {
        Some(prune) => prune.decide(&tree.stack, ns.as_deref(), &name),
        None => Decision::Build,
    };
    if decision == Decision::Prune {
        let element = Element {
            ns,
            name,
            attrs: Vec::new(),
            children: Vec::new(),
        };
        tree.structure_cost = tree.structure_cost.saturating_add(structure_cost(&element));
        if tree.structure_cost > tree.structure_budget {
            return Err(XmlError::TooMuchStructure { pos });
        }
        tree.attach(element);
        if !is_empty {
            tree.skipping = 1;
        }
        return Ok(());
    }
    let attribute_filter = prune.filter(|_| decision == Decision::FilterAttributes);
    let (element, declared) =
        make_element(reader, start, (ns, name), limits, attribute_filter, pos)?;
    if tree.in_scope + declared > MAX_NAMESPACES_IN_SCOPE {
        return Err(XmlError::TooManyNamespaces {
            limit: MAX_NAMESPACES_IN_SCOPE,
            pos,
        });
    }
    tree.structure_cost = tree.structure_cost.saturating_add(structure_cost(&element));
    if tree.structure_cost > tree.structure_budget {
        return Err(XmlError::TooMuchStructure { pos });
    }
    if is_empty {
        tree.attach(element);
    } else {
        tree.in_scope += declared;
        tree.declarations.push(declared);
        tree.stack.push(element);
    }
    Ok(())
}

/// Bytes of structure (elements, attributes) a document may build per byte
/// of input, beyond [`STRUCTURE_FLOOR`]. An element or attribute costs
/// far more in memory than its markup (an empty attribute `a0=""` of six
/// bytes becomes three strings, ~120 bytes by this estimate), so markup
/// made of nothing but tiny attributes or elements is refused once it
/// would cost more than this multiple of its size. Dense but real
/// documents (a list of a thousand records full of `xsi:nil` elements)
/// estimate at about ten.
const STRUCTURE_PER_INPUT_BYTE: usize = 12;
/// Structure any document may build, whatever its size.
const STRUCTURE_FLOOR: usize = 256 * 1024;
/// Namespace declarations in scope at once. Resolving a prefix searches
/// those in scope, so thousands of them make every element cost thousands
/// of comparisons; real clients declare a handful.
pub(crate) const MAX_NAMESPACES_IN_SCOPE: usize = 128;
/// What the allocator adds to each string or vector (header, rounding).
const ALLOCATION_OVERHEAD: usize = 16;

/// Estimated bytes an element (without its children) takes in memory.
fn structure_cost(element: &Element) -> usize {
    let string = |s: &str| s.len() + ALLOCATION_OVERHEAD;
    let ns = |ns: &Option<String>| ns.as_deref().map_or(0, string);
    let attributes: usize = element
        .attrs
        .iter()
        .map(|a| std::mem::size_of::<Attribute>() + ns(&a.ns) + string(&a.name) + string(&a.value))
        .sum();
    std::mem::size_of::<Node>() + ns(&element.ns) + string(&element.name) + attributes
}

fn push_text(parent: &mut Element, value: Cow<'_, str>) {
    if value.is_empty() {
        return;
    }
    if let Some(Node::Text(prev)) = parent.children.last_mut() {
        prev.push_str(&value);
    } else {
        parent.children.push(Node::Text(value.into_owned()));
    }
}

/// XML end-of-line handling: CR LF and lone CR become LF.
/// `part` as a slice of `whole` when it lies within it (as every text the
/// reader borrows does): `whole` is UTF-8 already, so this only checks
/// that both ends fall on character boundaries instead of validating the
/// text again.
fn subslice<'a>(whole: &'a str, part: &[u8]) -> Option<&'a str> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    whole.get(start..start.checked_add(part.len())?)
}

fn normalize_eol(raw: &str) -> Cow<'_, str> {
    if memchr::memchr(b'\r', raw.as_bytes()).is_none() {
        return Cow::Borrowed(raw);
    }
    Cow::Owned(raw.replace("\r\n", "\n").replace('\r', "\n"))
}

fn unescape_text(raw: &str, pos: usize) -> Result<Cow<'_, str>, XmlError> {
    let eol = normalize_eol(raw);
    let expanded = unescape(&eol).map_err(|e| map_escape_error(e, pos))?;
    match expanded {
        Cow::Borrowed(_) => Ok(eol),
        Cow::Owned(s) => {
            check_expanded(&s, pos)?;
            Ok(Cow::Owned(s))
        }
    }
}

/// Attribute-value normalisation (literal whitespace becomes a space) and
/// entity expansion.
fn unescape_attr(raw: &str, pos: usize) -> Result<String, XmlError> {
    // Most values (namespace names above all) have nothing to normalise
    // or expand: one scan, and the value as it is.
    if !raw
        .bytes()
        .any(|b| matches!(b, b'<' | b'&' | b'\t' | b'\n' | b'\r'))
    {
        return Ok(raw.to_owned());
    }
    if raw.contains('<') {
        return Err(XmlError::NotWellFormed {
            pos,
            reason: "'<' is not allowed in an attribute value".to_owned(),
        });
    }
    let normalized: Cow<'_, str> = if raw.contains(['\t', '\n', '\r']) {
        Cow::Owned(raw.replace("\r\n", " ").replace(['\t', '\n', '\r'], " "))
    } else {
        Cow::Borrowed(raw)
    };
    let expanded = unescape(&normalized).map_err(|e| map_escape_error(e, pos))?;
    if let Cow::Owned(s) = &expanded {
        check_expanded(s, pos)?;
    }
    Ok(expanded.into_owned())
}

/// The namespace URI a name resolved to. quick-xml resolves to the raw
/// value of the declaration, so entities and white space are handled here,
/// as for any attribute value (`xmlns="a&amp;b"` binds `a&b`).
fn namespace_of(resolved: ResolveResult<'_>, pos: usize) -> Result<Option<String>, XmlError> {
    match resolved {
        ResolveResult::Bound(Namespace(ns)) => {
            let raw = std::str::from_utf8(ns).map_err(|e| XmlError::InvalidUtf8 {
                pos: pos + e.valid_up_to(),
            })?;
            Ok(Some(unescape_attr(raw, pos)?))
        }
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(XmlError::UnboundPrefix {
            prefix: String::from_utf8_lossy(&prefix).into_owned(),
            pos,
        }),
    }
}

/// The namespace and local name of the element `start` opens.
fn element_name(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    pos: usize,
) -> Result<(Option<String>, String), XmlError> {
    check_qname(start.name().as_ref(), "element", pos)?;
    let (resolved, local) = reader.resolve_element(start.name());
    let ns = namespace_of(resolved, pos)?;
    if ns.as_deref() == Some(XMLNS_NS) {
        return Err(XmlError::NotWellFormed {
            pos,
            reason: "the prefix xmlns is not allowed on an element".to_owned(),
        });
    }
    let name = std::str::from_utf8(local.as_ref())
        .map_err(|e| XmlError::InvalidUtf8 {
            pos: pos + e.valid_up_to(),
        })?
        .to_owned();
    Ok((ns, name))
}

/// Builds an element's start tag. With `attribute_filter`, attributes its
/// reader does not read are left out but the first (see
/// [`Pruner::filters_attributes`]).
fn make_element(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    (ns, name): (Option<String>, String),
    limits: &ParseLimits,
    attribute_filter: Option<Prune<'_>>,
    pos: usize,
) -> Result<(Element, usize), XmlError> {
    let mut attrs: Vec<Attribute> = Vec::new();
    let mut count = 0usize;
    let mut raw_keys: Vec<&[u8]> = Vec::new();
    let mut declared = 0usize;
    // Namespaced attributes left out, for the duplicate check (two
    // prefixes bound to one namespace); dropped with this call.
    let mut left_out: Vec<(Option<String>, String)> = Vec::new();
    let mut kept_unread = false;
    // quick-xml's duplicate check is disabled: ours also catches two
    // prefixes bound to one namespace, and names the attribute.
    for attr in start.attributes().with_checks(false) {
        let attr = attr.map_err(|e| XmlError::NotWellFormed {
            pos,
            reason: format!("malformed attribute: {e}"),
        })?;
        count += 1;
        if count > limits.max_attributes {
            return Err(XmlError::TooManyAttributes {
                limit: limits.max_attributes,
                pos,
            });
        }
        let key = attr.key.into_inner();
        if raw_keys.contains(&key) {
            return Err(XmlError::DuplicateAttribute {
                name: String::from_utf8_lossy(key).into_owned(),
                pos,
            });
        }
        raw_keys.push(key);
        check_qname(key, "attribute", pos)?;
        if let Some(binding) = attr.key.as_namespace_binding() {
            let raw = std::str::from_utf8(&attr.value).map_err(|e| XmlError::InvalidUtf8 {
                pos: pos + e.valid_up_to(),
            })?;
            check_binding(binding, &unescape_attr(raw, pos)?, pos)?;
            declared += 1;
            continue;
        }
        let (resolved, local) = reader.resolve_attribute(attr.key);
        let ns = namespace_of(resolved, pos)?;
        let local = local.into_inner();
        let name = std::str::from_utf8(local).map_err(|e| XmlError::InvalidUtf8 {
            pos: pos + e.valid_up_to(),
        })?;
        let duplicate = attrs.iter().any(|a| a.ns == ns && a.name == name)
            || (ns.is_some() && left_out.iter().any(|(n, l)| *n == ns && l == name));
        if duplicate {
            return Err(XmlError::DuplicateAttribute {
                name: String::from_utf8_lossy(attr.key.as_ref()).into_owned(),
                pos,
            });
        }
        let raw = std::str::from_utf8(&attr.value).map_err(|e| XmlError::InvalidUtf8 {
            pos: pos + e.valid_up_to(),
        })?;
        let value = unescape_attr(raw, pos)?;
        let unread = attribute_filter.is_some_and(|f| !f.reads_attribute(ns.as_deref(), name));
        if unread {
            if kept_unread {
                if ns.is_some() {
                    left_out.push((ns, name.to_owned()));
                }
                continue;
            }
            kept_unread = true;
        }
        attrs.push(Attribute {
            ns,
            name: name.to_owned(),
            value,
        });
    }
    Ok((
        Element {
            ns,
            name,
            attrs,
            children: Vec::new(),
        },
        declared,
    ))
}

/// Refuses a namespace declaration the Namespaces in XML recommendation
/// forbids: undeclaring a prefix, rebinding `xml`, declaring `xmlns`, or
/// binding anything else to the `xml` or `xmlns` namespace. (quick-xml
/// checks some of these on the raw value only.)
fn check_binding(binding: PrefixDeclaration<'_>, uri: &str, pos: usize) -> Result<(), XmlError> {
    let reason = match binding {
        PrefixDeclaration::Named(b"xml") if uri == XML_NS => return Ok(()),
        PrefixDeclaration::Named(b"xml") => "the prefix xml cannot be bound to another namespace",
        PrefixDeclaration::Named(b"xmlns") => "the prefix xmlns cannot be declared",
        PrefixDeclaration::Named(_) if uri.is_empty() => "a namespace prefix cannot be undeclared",
        _ if uri == XML_NS || uri == XMLNS_NS => {
            "the xml and xmlns namespaces cannot be bound to another prefix"
        }
        _ => return Ok(()),
    };
    Err(XmlError::NotWellFormed {
        pos,
        reason: reason.to_owned(),
    })
}

/// Checks an element or attribute name against the `QName` production of
/// Namespaces in XML: an `NCName`, or two joined by one colon.
fn check_qname(raw: &[u8], what: &str, pos: usize) -> Result<(), XmlError> {
    let bad = || XmlError::NotWellFormed {
        pos,
        reason: format!("invalid {what} name \"{}\"", String::from_utf8_lossy(raw)),
    };
    let name = std::str::from_utf8(raw).map_err(|_| bad())?;
    let (prefix, local) = match name.split_once(':') {
        Some((prefix, local)) => (Some(prefix), local),
        None => (None, name),
    };
    if prefix.is_some_and(|p| !is_ncname(p)) || !is_ncname(local) {
        return Err(bad());
    }
    Ok(())
}

/// The `NCName` production: an XML `Name` without colons.
fn is_ncname(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.is_ascii() {
        // Nearly every name: the ASCII part of the two productions below,
        // checked byte by byte.
        return bytes
            .first()
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    }
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start_char) && chars.all(is_name_char)
}

fn is_name_start_char(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c,
            '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

fn map_escape_error(e: EscapeError, pos: usize) -> XmlError {
    match e {
        EscapeError::UnrecognizedEntity(_, name) => XmlError::UnknownEntity { name, pos },
        EscapeError::UnterminatedEntity(_) => XmlError::NotWellFormed {
            pos,
            reason: "'&' not followed by an entity or character reference ending in ';'".to_owned(),
        },
        EscapeError::InvalidCharRef(e) => XmlError::NotWellFormed {
            pos,
            reason: format!("invalid character reference: {e}"),
        },
    }
}

fn map_reader_error(e: QxError, pos: usize) -> XmlError {
    match e {
        QxError::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) => {
            XmlError::NotWellFormed {
                pos,
                reason: format!("expected </{expected}>, found </{found}>"),
            }
        }
        QxError::IllFormed(IllFormedError::UnmatchedEndTag(tag)) => XmlError::NotWellFormed {
            pos,
            reason: format!("closing tag </{tag}> has no matching start tag"),
        },
        QxError::IllFormed(other) => XmlError::NotWellFormed {
            pos,
            reason: other.to_string(),
        },
        QxError::Syntax(s) => XmlError::NotWellFormed {
            pos,
            reason: s.to_string(),
        },
        QxError::Escape(e) => map_escape_error(e, pos),
        QxError::Namespace(quick_xml::name::NamespaceError::UnknownPrefix(prefix)) => {
            XmlError::UnboundPrefix {
                prefix: String::from_utf8_lossy(&prefix).into_owned(),
                pos,
            }
        }
        QxError::Namespace(other) => XmlError::NotWellFormed {
            pos,
            reason: other.to_string(),
        },
        QxError::InvalidAttr(a) => XmlError::NotWellFormed {
            pos,
            reason: format!("malformed attribute: {a}"),
        },
        other => XmlError::NotWellFormed {
            pos,
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    /// The productions themselves, character by character.
    fn production(s: &str) -> bool {
        let mut chars = s.chars();
        chars.next().is_some_and(is_name_start_char) && chars.all(is_name_char)
    }

    #[test]
    fn ascii_names_are_checked_as_the_production_says() {
        assert!(!is_ncname(""));
        for a in 0u8..128 {
            for b in std::iter::once(None).chain((0u8..128).map(Some)) {
                let mut s = String::from(a as char);
                s.extend(b.map(char::from));
                assert_eq!(is_ncname(&s), production(&s), "{s:?}");
            }
        }
        assert!(is_ncname("Envelope") && is_ncname("_a-1.b") && is_ncname("žluť"));
        assert!(!is_ncname("1a") && !is_ncname("a:b") && !is_ncname("-a"));
    }

    #[test]
    fn plain_attribute_values_are_taken_as_they_are() {
        assert_eq!(unescape_attr("urn:a", 0).unwrap(), "urn:a");
        assert_eq!(unescape_attr("a&amp;b", 0).unwrap(), "a&b");
        assert_eq!(unescape_attr("a\tb\r\nc", 0).unwrap(), "a b c");
        assert!(unescape_attr("a<b", 0).is_err());
    }
}
