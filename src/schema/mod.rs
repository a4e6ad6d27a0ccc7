//! Rust types for every ISDS request and response, generated at build time
//! from `schemas/*.xsd` and `wsdl/*.wsdl` (see `build.rs`).
//!
//! Naming: a complexType `tStatus` becomes struct [`TStatus`]; a global
//! element becomes a type named after it ([`DummyOperation`],
//! [`CreateMessage`]); an anonymous type is named after where it appears
//! (`dmFile` inside `tFilesArray` is [`TFilesArrayDmFile`]); a sequence
//! that is one alternative of a choice is named after its first element
//! plus `Seq`. Fields are the snake_case of the XML names (`dbID` →
//! `db_id`). A global element whose type is a named complexType is a
//! newtype over it that derefs to it, so `resp.dm_status.dm_status_code`
//! works on [`DummyOperationResponse`] directly.
//!
//! Field types: strings, dates and times → `String` (dates kept lexical);
//! every integer type → `i64` (range of the XSD type checked);
//! `xs:boolean` → `bool`; `xs:base64Binary` → [`bytes::Bytes`] (decoded);
//! `xs:any` → `Vec<Element>`. `minOccurs="0"` or `nillable` → `Option`;
//! repetition → `Vec`; each alternative of a choice → its own `Option`.
//!
//! Parsing ([`FromXml`]) is strict: children in schema order, required
//! ones present, nothing unexpected, facets (enumerations, lengths,
//! numeric bounds, date syntax) checked. Two leniencies, for real
//! clients: a required but nillable element may be omitted (read as
//! `None`, like `xsi:nil`), and unknown attributes are ignored (a
//! request's are not even built: see [`is_attribute_name`] and
//! `soap::envelope`).
//! Writing ([`ToXml`]) follows schema order; `None` omits an optional
//! element and writes `xsi:nil="true"` for a required nillable one.

pub mod rt;

use crate::xml::{Element, OwnPrefix, Prefixing, XSI_NS, XmlWriter};

/// Target namespace of every ISDS schema.
pub const ISDS_NS: &str = "http://isds.czechpoint.cz/v20";

/// A request or response did not match the schema. Display texts are fit
/// for a SOAP faultstring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("element {element} must be in namespace {ISDS_NS}, but is in {found}")]
    WrongNamespace { element: String, found: String },
    #[error("expected element {expected}, found {found}")]
    WrongElement {
        expected: &'static str,
        found: String,
    },
    #[error("missing required element {child} in {parent}")]
    Missing { parent: String, child: String },
    #[error("unexpected element {child} in {parent}")]
    Unexpected { parent: String, child: String },
    #[error("missing required attribute {attribute} on {element}")]
    MissingAttribute { element: String, attribute: String },
    #[error("invalid value \"{value}\" of {element}: {reason}")]
    InvalidValue {
        element: String,
        value: String,
        reason: String,
    },
    /// A required element is empty (`<x/>`, `<x></x>` or `xsi:nil`) and
    /// its type has no empty value: the request lacks a value the
    /// operation needs. Answered with a status, not a fault.
    #[error("element {element} must have a value")]
    Empty { element: String },
    #[error("unexpected text content in element {element}")]
    UnexpectedText { element: String },
    #[error("unknown operation {0}")]
    UnknownOperation(String),
}

impl SchemaError {
    /// An [`SchemaError::InvalidValue`], with the value cut to 64 characters
    /// so that a huge bad payload is not echoed back whole.
    pub fn invalid_value(element: &str, value: &str, reason: impl Into<String>) -> SchemaError {
        const MAX: usize = 64;
        let value = match value.char_indices().nth(MAX) {
            Some((cut, _)) => format!("{}…", &value[..cut]),
            None => value.to_owned(),
        };
        SchemaError::InvalidValue {
            element: element.to_owned(),
            value,
            reason: reason.into(),
        }
    }
}

/// Parses a value from an element of its XML type.
pub trait FromXml: Sized {
    /// Reads `el` (its attributes and content; the element's own name is
    /// only checked for global elements).
    fn from_xml(el: &Element) -> Result<Self, SchemaError>;
}

/// Writes a value as an element.
pub trait ToXml {
    /// Writes element `tag` with attributes and content; child elements get
    /// the writer's prefix, so the caller must have declared it for
    /// [`ISDS_NS`] and put `xmlns:xsi` in scope (see [`write_root`]).
    fn write_xml(&self, w: &mut XmlWriter, tag: &str);
}

/// A global element of the schema: a SOAP body child.
pub trait XmlRoot: FromXml + ToXml {
    /// The element's local name (in [`ISDS_NS`]).
    const ELEMENT: &'static str;
}

/// The prefix ISDS gives the elements of the body element `element`.
///
/// The real responses show `p:` for CreateMessage and the box services
/// (GetOwnerInfoFromLogin) and `q:` for the other message services
/// (DummyOperation, MessageDownload, an unknown operation, the erased
/// list); the operator's manuals are silent on prefixes. Clients read the
/// elements by namespace, except that libdatovka cuts `dmDm` out as bytes
/// (always `p:`, see [`isds_prefixing`]).
pub fn response_prefix(element: &str) -> &'static str {
    const P_MESSAGE_OPERATIONS: [&str; 2] =
        ["CreateMessageResponse", "CreateMultipleMessageResponse"];
    let box_service = OPERATIONS
        .iter()
        .find(|op| op.output == element || op.input == element)
        .is_some_and(|op| {
            matches!(
                op.family,
                WsdlFamily::DbAccess
                    | WsdlFamily::DbManipulations
                    | WsdlFamily::DbSearch
                    | WsdlFamily::IsdsStat
            )
        });
    if box_service || P_MESSAGE_OPERATIONS.contains(&element) {
        "p"
    } else {
        "q"
    }
}

/// ISDS's wire form with `prefix` for the ISDS elements: `dmDm` declares
/// `xmlns:p` itself wherever it occurs, so that its bytes are
/// self-contained (they are what `dmHash` covers).
pub fn isds_prefixing(prefix: &'static str) -> Prefixing {
    Prefixing {
        prefix,
        own: Some(OwnPrefix {
            element: "dmDm",
            prefix: "p",
            namespace: ISDS_NS,
        }),
    }
}

/// Writes `v` as its global element in ISDS's wire form: its elements
/// prefixed (see [`response_prefix`]), the prefix and `xsi` declared on
/// it, no default namespace (libdatovka copies response subtrees and
/// adds a default namespace of its own).
pub fn write_root<T: XmlRoot>(w: &mut XmlWriter, v: &T) {
    let prefix = response_prefix(T::ELEMENT);
    w.set_prefixing(isds_prefixing(prefix));
    w.pending_attr(&format!("xmlns:{prefix}"), ISDS_NS);
    w.pending_attr("xmlns:xsi", XSI_NS);
    v.write_xml(w, T::ELEMENT);
}

/// `v` as a standalone XML fragment (no XML declaration), e.g.
/// `<q:DummyOperationResponse xmlns:q="…v20" xmlns:xsi="…">…</…>`.
pub fn to_document_fragment<T: XmlRoot>(v: &T) -> String {
    to_document_fragment_sized(v, 0)
}

/// [`to_document_fragment`] into a buffer reserved for `capacity` bytes
/// (an answer of many records knows about how long it will be: it is
/// written without the buffer's copies as it grows).
pub fn to_document_fragment_sized<T: XmlRoot>(v: &T, capacity: usize) -> String {
    let mut w = XmlWriter::with_capacity(capacity);
    write_root(&mut w, v);
    w.into_string()
}

/// [`to_document_fragment`] for a response to send: large binary contents
/// stay bytes, encoded as the response is sent.
pub fn to_response_fragment<T: XmlRoot>(v: &T) -> crate::xml::Fragment {
    let mut w = XmlWriter::deferring_binaries();
    write_root(&mut w, v);
    w.into_fragment()
}

/// [`to_response_fragment`] into a buffer reserved for `capacity` bytes
/// (a list of many records knows about how long it will be).
pub fn to_response_fragment_sized<T: XmlRoot>(v: &T, capacity: usize) -> crate::xml::Fragment {
    let mut w = XmlWriter::deferring_binaries();
    w.reserve(capacity);
    write_root(&mut w, v);
    w.into_fragment()
}

/// A status block that can be built from a code and a message; lets the
/// generated `status_response` fill whichever flavour a response carries.
pub trait StatusBlock {
    fn with(code: &str, message: &str) -> Self;
}

impl StatusBlock for TStatus {
    fn with(code: &str, message: &str) -> Self {
        TStatus {
            dm_status_code: code.to_owned(),
            dm_status_message: message.to_owned(),
        }
    }
}

impl StatusBlock for TDbReqStatus {
    fn with(code: &str, message: &str) -> Self {
        TDbReqStatus {
            db_status_code: code.to_owned(),
            db_status_message: message.to_owned(),
            db_status_ref_number: None,
        }
    }
}

impl StatusBlock for TStatReqStatus {
    fn with(code: &str, message: &str) -> Self {
        TStatReqStatus {
            db_status_code: code.to_owned(),
            db_status_message: message.to_owned(),
        }
    }
}

/// The SOAP version of a WSDL binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SoapVersion {
    Soap11,
    Soap12,
}

/// One WSDL file of the interface. `file_name()`, `endpoint()` and
/// `soap_version()` are generated from the WSDL files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WsdlFamily {
    DmOperations,
    DmInfo,
    DbSearch,
    DbAccess,
    DbManipulations,
    DmVoDZ,
    DmArch,
    IsdsStat,
}

impl WsdlFamily {
    pub const ALL: [WsdlFamily; 8] = [
        WsdlFamily::DmOperations,
        WsdlFamily::DmInfo,
        WsdlFamily::DbSearch,
        WsdlFamily::DbAccess,
        WsdlFamily::DbManipulations,
        WsdlFamily::DmVoDZ,
        WsdlFamily::DmArch,
        WsdlFamily::IsdsStat,
    ];

    /// The operations this WSDL declares, in WSDL order.
    pub fn operations(self) -> impl Iterator<Item = &'static OperationInfo> {
        OPERATIONS.iter().filter(move |op| op.family == self)
    }
}

/// One WSDL operation (document/literal: one body element in, one out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationInfo {
    pub family: WsdlFamily,
    /// The operation name, e.g. `CreateMessage`.
    pub name: &'static str,
    /// Local name of the request body element.
    pub input: &'static str,
    /// Local name of the response body element.
    pub output: &'static str,
}

#[allow(
    clippy::large_enum_variant,
    reason = "generated request enum carries whole request structs by value"
)]
#[allow(
    clippy::field_reassign_with_default,
    reason = "status_response sets one field of responses that may be newtypes"
)]
mod generated {
    use super::{
        FromXml, OperationInfo, SchemaError, SoapVersion, StatusBlock, ToXml, WsdlFamily, XmlRoot,
        rt, to_document_fragment,
    };
    use crate::xml::{Element, XmlWriter};

    include!(concat!(env!("OUT_DIR"), "/schema_types.rs"));
}

pub use generated::*;

/// Whether `name` is the name of a global element of the schemas.
pub fn is_global_element(name: &str) -> bool {
    ROOT_SHAPES.iter().any(|(root, _)| *root == name)
}

/// Whether some element anywhere in the schemas is called `name` (a local
/// name in the ISDS namespace).
pub fn is_element_name(name: &str) -> bool {
    static NAMES: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    NAMES
        .get_or_init(|| {
            fn collect(
                content: &rt::shape::Content,
                out: &mut std::collections::HashSet<&'static str>,
            ) {
                use rt::shape::Content;
                match content {
                    Content::Elem { name, .. } => {
                        out.insert(*name);
                    }
                    Content::Seq { items, .. } | Content::Choice { items, .. } => {
                        for item in *items {
                            collect(item, out);
                        }
                    }
                    Content::Any { .. } | Content::SeqAlt(_) => {}
                }
            }
            let mut names: std::collections::HashSet<&'static str> =
                ROOT_SHAPES.iter().map(|(root, _)| *root).collect();
            for shape in TYPE_SHAPES {
                if let Some(content) = &shape.content {
                    collect(content, &mut names);
                }
            }
            names
        })
        .contains(name)
}

/// Whether some complex type of the schemas declares an (un-namespaced)
/// attribute called `name`.
pub fn is_attribute_name(name: &str) -> bool {
    static NAMES: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    NAMES
        .get_or_init(|| {
            TYPE_SHAPES
                .iter()
                .flat_map(|shape| shape.attrs.iter().map(|a| a.name))
                .collect()
        })
        .contains(name)
}

impl ToXml for String {
    fn write_xml(&self, w: &mut XmlWriter, tag: &str) {
        w.start(tag);
        w.text(self);
        w.end(tag);
    }
}

impl ToXml for i64 {
    fn write_xml(&self, w: &mut XmlWriter, tag: &str) {
        w.start(tag);
        w.text_display(self);
        w.end(tag);
    }
}

impl ToXml for bool {
    fn write_xml(&self, w: &mut XmlWriter, tag: &str) {
        w.start(tag);
        w.text(if *self { "true" } else { "false" });
        w.end(tag);
    }
}

impl ToXml for bytes::Bytes {
    fn write_xml(&self, w: &mut XmlWriter, tag: &str) {
        w.start(tag);
        w.binary(self);
        w.end(tag);
    }
}
