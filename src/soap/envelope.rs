//! Parsing a request envelope down to its single body element, and a
//! per-thread memory of the small envelopes whose operation has no
//! content (DummyOperation, GetOwnerInfoFromLogin, ...), which clients
//! send byte for byte the same again and again.

use std::cell::RefCell;

use super::{SOAP11_NS, SOAP12_NS, SoapVersion};
use crate::schema::{self, ISDS_NS};
use crate::xml::{self, Element, Node, ParseLimits, XML_NS, XSI_NS, XmlError};

/// What the reader of a request has no place for, decided while it is
/// parsed (see [`xml::Pruner`]).
struct RequestPruner;

/// Whether `ancestors` (the open elements, outermost first) are a SOAP
/// envelope's `Body` and an operation the schemas define, followed by
/// elements none of which is `dmXMLContent` (the one place the schemas
/// allow any markup): the operation's schema decides what may be there.
fn inside_operation(ancestors: &[Element]) -> bool {
    let [envelope, body, operation, inside @ ..] = ancestors else {
        return false;
    };
    matches!(envelope.ns.as_deref(), Some(SOAP11_NS | SOAP12_NS))
        && envelope.name == "Envelope"
        && body.ns == envelope.ns
        && body.name == "Body"
        && operation.ns.as_deref() == Some(ISDS_NS)
        && schema::is_global_element(&operation.name)
        && !inside
            .iter()
            .any(|e| e.name == "dmXMLContent" && e.ns.as_deref() == Some(ISDS_NS))
}

impl xml::Pruner for RequestPruner {
    /// An element in the ISDS namespace, inside an operation's request,
    /// whose name no element of the schemas has. Answering it needs its
    /// name only (the schema check names the unexpected element and its
    /// parent), so its attributes and content are not built: markup the
    /// operation cannot contain costs nothing, however much of it is sent.
    fn prune(&self, ancestors: &[Element], ns: Option<&str>, name: &str) -> bool {
        ns == Some(ISDS_NS) && inside_operation(ancestors) && !schema::is_element_name(name)
    }

    /// Elements in the ISDS namespace inside an operation's request: the
    /// schemas read only the attributes they declare and `xsi:nil`, and
    /// ignore others (a leniency for real clients, see [`crate::schema`]),
    /// so those others are not built either.
    fn filters_attributes(&self, ancestors: &[Element], ns: Option<&str>, _name: &str) -> bool {
        ns == Some(ISDS_NS) && inside_operation(ancestors)
    }

    /// One look at the ancestors for both answers above.
    fn decide(&self, ancestors: &[Element], ns: Option<&str>, name: &str) -> xml::Decision {
        if ns != Some(ISDS_NS) || !inside_operation(ancestors) {
            xml::Decision::Build
        } else if !schema::is_element_name(name) {
            xml::Decision::Prune
        } else {
            xml::Decision::FilterAttributes
        }
    }

    fn reads_attribute(&self, ns: Option<&str>, name: &str) -> bool {
        match ns {
            None => schema::is_attribute_name(name),
            Some(ns) => ns == XSI_NS || ns == XML_NS,
        }
    }
}

/// A parsed request: its SOAP version and the one element inside `Body`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub version: SoapVersion,
    pub header: Option<Element>,
    pub body: Element,
}

/// Why a request is not a usable SOAP envelope. Each maps to one fault.
#[derive(Debug, thiserror::Error)]
pub enum SoapError {
    #[error("{0}")]
    Xml(#[from] XmlError),
    #[error("not a SOAP envelope: the root element is {0}")]
    NotEnvelope(String),
    #[error("unsupported SOAP envelope namespace {0}")]
    VersionMismatch(String),
    #[error("the SOAP envelope has no Body")]
    MissingBody,
    #[error("the SOAP Body is empty")]
    EmptyBody,
    #[error("the SOAP Body holds {0} elements; exactly one is expected")]
    SeveralBodyElements(usize),
    #[error("unexpected element {0} in the SOAP envelope")]
    UnexpectedEnvelopeChild(String),
    #[error("header block {0} must be understood, but this service does not process it")]
    MustUnderstand(String),
}

/// Parses `input` as a SOAP 1.1 or 1.2 envelope within `limits`.
///
/// Guarantees: DOCTYPEs and entity declarations are refused before any
/// expansion (by [`xml::parse`]); the returned body is the only element child
/// of `Body`; a header block marked `mustUnderstand` is refused, since the
/// gateway understands none.
pub fn parse_envelope(input: &[u8], limits: &ParseLimits) -> Result<Envelope, SoapError> {
    if input.len() > MEMO_MAX_BYTES {
        return parse_whole(input, limits);
    }
    if let Some(known) = MEMO.with(|m| m.borrow().get(input, limits)) {
        return Ok(known);
    }
    let envelope = parse_whole(input, limits)?;
    if memorable(&envelope) {
        MEMO.with(|m| m.borrow_mut().keep(input, limits, &envelope));
    }
    Ok(envelope)
}

/// Longest request remembered parsed (a childless operation in an
/// envelope is about 200 bytes; libdatovka's, with its declarations, 400).
const MEMO_MAX_BYTES: usize = 1024;
/// Envelopes remembered per thread.
const MEMO_ENTRIES: usize = 8;

thread_local! {
    static MEMO: RefCell<Memo> = const { RefCell::new(Memo { entries: Vec::new(), next: 0 }) };
}

/// Recently parsed small envelopes of one thread, by their exact bytes.
/// Parsing is a function of the bytes and the limits alone, so an equal
/// input gives an equal envelope: a copy of the remembered one (two short
/// strings) instead of a parse (a reader, a tree, namespace resolution),
/// which is most of what a DummyOperation costs the gateway. Only
/// envelopes that parsed, without a header, whose operation element has no
/// content, are kept: nothing of a request with content (a password
/// change, a message) stays in memory, and a request that is refused is
/// parsed (and refused) each time. Per thread, so no request waits for
/// another.
struct Memo {
    entries: Vec<(ParseLimits, Box<[u8]>, Envelope)>,
    /// The entry replaced next once all are taken (round robin).
    next: usize,
}

impl Memo {
    fn get(&self, input: &[u8], limits: &ParseLimits) -> Option<Envelope> {
        self.entries
            .iter()
            .find(|(l, bytes, _)| **bytes == *input && l == limits)
            .map(|(_, _, envelope)| envelope.clone())
    }

    fn keep(&mut self, input: &[u8], limits: &ParseLimits, envelope: &Envelope) {
        let entry = (*limits, Box::from(input), envelope.clone());
        if self.entries.len() < MEMO_ENTRIES {
            self.entries.push(entry);
        } else {
            let at = self.next % MEMO_ENTRIES;
            self.entries[at] = entry;
            self.next = at + 1;
        }
    }
}

/// Whether a parsed envelope may be remembered: no header, and an
/// operation element without content (attributes only).
fn memorable(envelope: &Envelope) -> bool {
    envelope.header.is_none() && envelope.body.children.is_empty()
}

fn parse_whole(input: &[u8], limits: &ParseLimits) -> Result<Envelope, SoapError> {
    let root = xml::parse_pruned(input, limits, &RequestPruner)?;
    let version = match (root.ns.as_deref(), root.name.as_str()) {
        (Some(SOAP11_NS), "Envelope") => SoapVersion::V11,
        (Some(SOAP12_NS), "Envelope") => SoapVersion::V12,
        (Some(ns), "Envelope") => return Err(SoapError::VersionMismatch(ns.to_owned())),
        _ => return Err(SoapError::NotEnvelope(qualified(&root))),
    };
    let env_ns = version.namespace();

    let mut header = None;
    let mut body = None;
    for child in root.elements() {
        match (child.ns.as_deref(), child.name.as_str()) {
            (Some(ns), "Header") if ns == env_ns && header.is_none() && body.is_none() => {
                header = Some(child)
            }
            (Some(ns), "Body") if ns == env_ns && body.is_none() => body = Some(child),
            _ => return Err(SoapError::UnexpectedEnvelopeChild(qualified(child))),
        }
    }
    let body = body.ok_or(SoapError::MissingBody)?;

    if let Some(header) = header {
        for block in header.elements() {
            let must = block
                .attrs
                .iter()
                .find(|a| a.ns.as_deref() == Some(env_ns) && a.name == "mustUnderstand")
                .map(|a| a.value.trim());
            if matches!(must, Some("1") | Some("true")) {
                return Err(SoapError::MustUnderstand(qualified(block)));
            }
        }
    }

    let count = body.elements().count();
    if count > 1 {
        return Err(SoapError::SeveralBodyElements(count));
    }
    if count == 0 {
        return Err(SoapError::EmptyBody);
    }
    let header = header.cloned();
    // Move the body element out of the tree rather than copying it: it
    // may hold a large document.
    let body_element = root
        .children
        .into_iter()
        .filter_map(|n| match n {
            Node::Element(e) if e.ns.as_deref() == Some(env_ns) && e.name == "Body" => Some(e),
            _ => None,
        })
        .flat_map(|b| b.children)
        .find_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
        .ok_or(SoapError::EmptyBody)?;
    Ok(Envelope {
        version,
        header,
        body: body_element,
    })
}

/// `{namespace}local` for messages.
pub(crate) fn qualified(el: &Element) -> String {
    match &el.ns {
        Some(ns) => format!("{{{ns}}}{}", el.name),
        None => el.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Decision, Pruner};

    fn soap11(body: &str) -> Vec<u8> {
        format!(r#"<s:Envelope xmlns:s="{SOAP11_NS}"><s:Body>{body}</s:Body></s:Envelope>"#)
            .into_bytes()
    }

    /// A remembered envelope is the one a parse gives; an envelope with
    /// content, a header or a refusal is never remembered, and other
    /// limits do not find the entry.
    #[test]
    fn the_memory_gives_what_a_parse_gives_and_keeps_only_childless_operations() {
        let limits = ParseLimits::default();
        let memo_len = || MEMO.with(|m| m.borrow().entries.len());
        let start = memo_len();
        let dummy = soap11(&format!(r#"<DummyOperation xmlns="{ISDS_NS}"/>"#));
        let first = parse_envelope(&dummy, &limits).expect("parses");
        assert_eq!(memo_len(), start + 1);
        let again = parse_envelope(&dummy, &limits).expect("parses");
        assert_eq!(again, first);
        assert_eq!(again, parse_whole(&dummy, &limits).expect("parses"));
        assert_eq!(memo_len(), start + 1, "found, not kept twice");

        let change = soap11(&format!(
            r#"<ChangeISDSPassword xmlns="{ISDS_NS}"><dbOldPassword>Old-1</dbOldPassword><dbNewPassword>New-12345678</dbNewPassword></ChangeISDSPassword>"#
        ));
        parse_envelope(&change, &limits).expect("parses");
        let with_header = format!(
            r#"<s:Envelope xmlns:s="{SOAP11_NS}"><s:Header/><s:Body><DummyOperation xmlns="{ISDS_NS}"/></s:Body></s:Envelope>"#
        );
        parse_envelope(with_header.as_bytes(), &limits).expect("parses");
        let two = soap11(&format!(
            r#"<DummyOperation xmlns="{ISDS_NS}"/><DummyOperation xmlns="{ISDS_NS}"/>"#
        ));
        assert!(matches!(
            parse_envelope(&two, &limits),
            Err(SoapError::SeveralBodyElements(2))
        ));
        assert_eq!(memo_len(), start + 1, "none of those is kept");
        assert!(MEMO.with(|m| {
            m.borrow()
                .entries
                .iter()
                .all(|(_, bytes, _)| !bytes.windows(5).any(|w| w == b"Old-1"))
        }));

        // Tighter limits parse again (and refuse what they must).
        let tight = ParseLimits {
            max_depth: 2,
            ..limits
        };
        assert!(parse_envelope(&dummy, &tight).is_err());
    }

    fn el(ns: &str, name: &str) -> Element {
        Element {
            ns: Some(ns.to_owned()),
            name: name.to_owned(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// The one look at the ancestors decides as the two separate answers.
    #[test]
    fn one_look_decides_as_prune_and_filter() {
        let envelope = el(SOAP11_NS, "Envelope");
        let body = el(SOAP11_NS, "Body");
        let operation = el(ISDS_NS, "FindDataBox");
        let owner = el(ISDS_NS, "dbOwnerInfo");
        let content = el(ISDS_NS, "dmXMLContent");
        let chains: Vec<Vec<Element>> = vec![
            vec![],
            vec![envelope.clone()],
            vec![envelope.clone(), body.clone()],
            vec![envelope.clone(), body.clone(), operation.clone()],
            vec![envelope.clone(), body.clone(), operation.clone(), owner],
            vec![envelope.clone(), body.clone(), operation.clone(), content],
            vec![envelope, el(SOAP12_NS, "Body"), operation],
        ];
        let mut seen = std::collections::HashSet::new();
        for chain in &chains {
            for ns in [Some(ISDS_NS), Some("urn:other"), None] {
                for name in ["dbID", "noSuchElementAnywhere"] {
                    let expected = if RequestPruner.prune(chain, ns, name) {
                        Decision::Prune
                    } else if RequestPruner.filters_attributes(chain, ns, name) {
                        Decision::FilterAttributes
                    } else {
                        Decision::Build
                    };
                    assert_eq!(
                        RequestPruner.decide(chain, ns, name),
                        expected,
                        "{} ancestors, {ns:?} {name}",
                        chain.len()
                    );
                    seen.insert(format!("{expected:?}"));
                }
            }
        }
        assert_eq!(seen.len(), 3, "every decision is exercised: {seen:?}");
    }
}
