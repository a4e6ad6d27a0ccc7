//! Safe XML: a namespace-resolved DOM, a hardened parser and a writer.
//!
//! The parser ([`parse`]) is the only way untrusted bytes become XML in this
//! crate. It refuses DOCTYPE declarations (so no entity expansion and no
//! external entities), processing instructions, unknown entities, unbound
//! prefixes and duplicate attributes, and enforces the [`ParseLimits`].
//! The DOM keeps namespace URIs and local names only; prefixes are a
//! serialisation detail that [`XmlWriter::raw_element`] re-creates.

pub mod base64;
mod encoding;
pub mod fragment;
mod parse;
pub mod writer;

use std::borrow::Cow;

use bytes::Bytes;

pub use fragment::{Fragment, Part};
pub use parse::{Decision, Prune, Pruner, parse, parse_pruned};
pub use writer::{OwnPrefix, Prefixing, XmlWriter, escape_attr_into, escape_text_into};

/// Namespace of `xsi:nil` and friends.
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// Namespace bound to the reserved `xml` prefix.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// Namespace of namespace declarations (`xmlns`, `xmlns:p`).
pub const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// An element: namespace URI, local name, attributes and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Namespace URI, `None` for an element in no namespace.
    pub ns: Option<String>,
    /// Local name (without prefix).
    pub name: String,
    /// Attributes other than namespace declarations, in document order.
    pub attrs: Vec<Attribute>,
    /// Child nodes in document order; adjacent text and CDATA are merged.
    pub children: Vec<Node>,
}

/// An attribute; unprefixed attributes have no namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribute {
    /// Namespace URI, `None` for an unprefixed attribute.
    pub ns: Option<String>,
    /// Local name (without prefix).
    pub name: String,
    /// The value with entities resolved and whitespace normalised.
    pub value: String,
}

/// A child node of an [`Element`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    /// Character data (text and CDATA sections, entities resolved).
    Text(String),
    /// Character data that is base64, held decoded: the parser turns a
    /// large text of a [`BASE64_ELEMENTS`] element into this while
    /// reading, so the encoded text is never copied. It stands for its
    /// canonical base64 text ([`Element::text`] and the writer re-encode).
    Binary(Bytes),
}

/// Elements (namespace, local name) whose large text the parser decodes
/// as base64 while reading ([`Node::Binary`]): the `xs:base64Binary`
/// elements of ISDS requests that carry documents and messages.
pub const BASE64_ELEMENTS: &[(&str, &str)] = &[
    ("http://isds.czechpoint.cz/v20", "dmEncodedContent"),
    ("http://isds.czechpoint.cz/v20", "dmMessage"),
    ("http://isds.czechpoint.cz/v20", "dmDoc"),
    ("http://isds.czechpoint.cz/v20", "dmSignature"),
];

/// Text shorter than this stays [`Node::Text`] even in a
/// [`BASE64_ELEMENTS`] element.
pub const BINARY_TEXT_THRESHOLD: usize = 64 * 1024;

impl Element {
    /// A childless element without attributes.
    pub fn new(ns: Option<&str>, name: &str) -> Element {
        Element {
            ns: ns.map(str::to_owned),
            name: name.to_owned(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Builder: adds an attribute.
    pub fn with_attr(mut self, ns: Option<&str>, name: &str, value: &str) -> Element {
        self.attrs.push(Attribute {
            ns: ns.map(str::to_owned),
            name: name.to_owned(),
            value: value.to_owned(),
        });
        self
    }

    /// Builder: appends a child element.
    pub fn with_child(mut self, child: Element) -> Element {
        self.children.push(Node::Element(child));
        self
    }

    /// Builder: appends a text node.
    pub fn with_text(mut self, text: &str) -> Element {
        self.children.push(Node::Text(text.to_owned()));
        self
    }

    /// Concatenation of the direct text children (text and CDATA).
    pub fn text(&self) -> String {
        self.text_cow().into_owned()
    }

    /// Like [`Element::text`], but borrows when there is at most one text
    /// child (the common case; avoids copying large base64 content).
    pub fn text_cow(&self) -> Cow<'_, str> {
        if self.children.iter().any(|n| matches!(n, Node::Binary(_))) {
            let mut s = String::new();
            for node in &self.children {
                match node {
                    Node::Text(t) => s.push_str(t),
                    Node::Binary(b) => base64::encode_into(b, &mut s),
                    Node::Element(_) => {}
                }
            }
            return Cow::Owned(s);
        }
        let mut texts = self.children.iter().filter_map(|n| match n {
            Node::Text(t) => Some(t.as_str()),
            Node::Element(_) | Node::Binary(_) => None,
        });
        let Some(first) = texts.next() else {
            return Cow::Borrowed("");
        };
        match texts.next() {
            None => Cow::Borrowed(first),
            Some(second) => {
                let mut s = String::with_capacity(first.len() + second.len());
                s.push_str(first);
                s.push_str(second);
                texts.for_each(|t| s.push_str(t));
                Cow::Owned(s)
            }
        }
    }

    /// The child elements, in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) | Node::Binary(_) => None,
        })
    }

    /// The decoded content when the element's only child is a
    /// [`Node::Binary`].
    pub fn binary(&self) -> Option<&Bytes> {
        match self.children.as_slice() {
            [Node::Binary(b)] => Some(b),
            _ => None,
        }
    }

    /// The first child element, if any.
    pub fn first_element(&self) -> Option<&Element> {
        self.elements().next()
    }

    /// Value of the un-namespaced attribute `local`.
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.name == local)
            .map(|a| a.value.as_str())
    }

    /// Value of the attribute `local` in namespace `ns`.
    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.as_deref() == Some(ns) && a.name == local)
            .map(|a| a.value.as_str())
    }

    /// True when `xsi:nil` is `true` or `1` (whatever prefix the document
    /// bound to the XML Schema instance namespace).
    pub fn is_nil(&self) -> bool {
        matches!(
            self.attr_ns(XSI_NS, "nil")
                .map(|v| v.trim_matches(is_xml_space)),
            Some("true" | "1")
        )
    }

    /// True when the element is in namespace `ns` and has local name `name`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.name == name
    }
}

/// The four XML whitespace characters.
pub fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Resource limits applied by [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Maximum input size in bytes.
    pub max_bytes: usize,
    /// Maximum element nesting depth (the root is depth 1).
    pub max_depth: usize,
    /// Maximum attributes per element, namespace declarations included.
    pub max_attributes: usize,
    /// Maximum number of elements in the document.
    pub max_elements: usize,
}

impl Default for ParseLimits {
    /// 128 MiB, depth 64, 64 attributes per element, 1,000,000 elements.
    fn default() -> Self {
        ParseLimits {
            max_bytes: 128 * 1024 * 1024,
            max_depth: 64,
            max_attributes: 64,
            max_elements: 1_000_000,
        }
    }
}

/// Why a document was refused. Display texts are fit for a SOAP faultstring.
///
/// Byte positions count from the start of the input; for a document
/// transcoded from a single-byte encoding they count in the UTF-8 text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("XML document of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("XML nesting deeper than {limit} levels (at byte {pos})")]
    TooDeep { limit: usize, pos: usize },
    #[error("XML element at byte {pos} has more than {limit} attributes")]
    TooManyAttributes { limit: usize, pos: usize },
    #[error("XML document has more than {limit} elements")]
    TooManyElements { limit: usize },
    #[error("XML element at byte {pos} has more than {limit} namespace declarations in scope")]
    TooManyNamespaces { limit: usize, pos: usize },
    #[error(
        "XML markup up to byte {pos} would take too much memory for the size of the document (too many elements or attributes with little content)"
    )]
    TooMuchStructure { pos: usize },
    #[error(
        "DOCTYPE declarations are not allowed (entity expansion and external entities are refused)"
    )]
    Doctype,
    #[error("processing instructions are not allowed (at byte {pos})")]
    ProcessingInstruction { pos: usize },
    #[error(
        "unsupported XML encoding \"{0}\" (supported: UTF-8, windows-1250, ISO-8859-2, ISO-8859-1, US-ASCII)"
    )]
    UnsupportedEncoding(String),
    #[error("XML document starts with a UTF-8 byte order mark but declares encoding \"{0}\"")]
    EncodingMismatch(String),
    #[error("XML is not valid UTF-8 at byte {pos}")]
    InvalidUtf8 { pos: usize },
    #[error("byte 0x{byte:02X} at byte {pos} is not a valid {encoding} character")]
    UndefinedByte {
        encoding: &'static str,
        byte: u8,
        pos: usize,
    },
    #[error("character U+{code:04X} is not allowed in XML (at byte {pos})")]
    InvalidChar { code: u32, pos: usize },
    #[error(
        "unknown entity reference &{name}; at byte {pos} (only the five predefined entities and numeric character references are allowed)"
    )]
    UnknownEntity { name: String, pos: usize },
    #[error("XML namespace prefix \"{prefix}\" is not declared (at byte {pos})")]
    UnboundPrefix { prefix: String, pos: usize },
    #[error("duplicate attribute \"{name}\" on the element at byte {pos}")]
    DuplicateAttribute { name: String, pos: usize },
    #[error("XML is not well-formed at byte {pos}: {reason}")]
    NotWellFormed { pos: usize, reason: String },
    #[error("XML document has no root element")]
    NoRoot,
}

impl XmlError {
    /// True when the input exceeded [`ParseLimits::max_bytes`].
    pub fn is_oversize(&self) -> bool {
        matches!(self, XmlError::TooLarge { .. })
    }

    /// True when any [`ParseLimits`] limit was exceeded (size, depth,
    /// attributes or elements).
    pub fn is_limit_exceeded(&self) -> bool {
        matches!(
            self,
            XmlError::TooLarge { .. }
                | XmlError::TooDeep { .. }
                | XmlError::TooManyAttributes { .. }
                | XmlError::TooManyElements { .. }
                | XmlError::TooManyNamespaces { .. }
                | XmlError::TooMuchStructure { .. }
        )
    }
}

#[cfg(test)]
mod tests;
