//! Empty values on input (messages manual, chapter 1.3.1): ISDS accepts
//! `<x></x>`, `<x/>` and `<x xsi:nil="true"/>` for an empty value and means
//! the same by each. The gateway's choice for whitespace-only content
//! (`<x> </x>`) is that it is empty too (see `rt::is_empty_value`).
//!
//! Generated from the schema itself: for every request of every WSDL
//! operation an instance with every element present is built from the
//! generated schema shapes; then each optional (or nillable) element in
//! turn is blanked in each spelling, and the parsed request must be the
//! same as with the element left out. A sample of read-only operations is
//! run the same way through the real interface, whose answers must be
//! identical byte for byte. And an empty element the operation needs gets
//! a status, never a fault.

mod common;

use common::{OVM_LOGIN, PO_LOGIN, TestGateway};
use isds_gateway::schema::rt::shape::{Content, Prim, RootShape, Ty, TypeShape};
use isds_gateway::schema::rt::{Facets, Lexical};
use isds_gateway::schema::{
    self, ISDS_NS, OPERATIONS, ROOT_SHAPES, Request, SchemaError, TYPE_SHAPES,
};
use isds_gateway::xml::{self, ParseLimits};

const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// How the blanked element is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spelling {
    Absent,
    SelfClosing,
    StartEnd,
    Nil,
    /// Whitespace only: the gateway's documented choice (empty).
    Whitespace,
}

const SPELLINGS: [Spelling; 5] = [
    Spelling::Absent,
    Spelling::SelfClosing,
    Spelling::StartEnd,
    Spelling::Nil,
    Spelling::Whitespace,
];

/// Writes an instance of a type with every element present once; counts
/// the optional elements and writes the `target`-th of them blank.
struct Instance {
    target: Option<(usize, Spelling)>,
    optional_seen: usize,
    /// Path of each optional element, for failure messages.
    paths: Vec<String>,
    path: Vec<&'static str>,
    out: String,
}

fn shape(rust: &str) -> &'static TypeShape {
    TYPE_SHAPES
        .iter()
        .find(|t| t.rust == rust)
        .unwrap_or_else(|| panic!("no shape for type {rust}"))
}

/// A value the facets accept.
fn sample(prim: Prim, facets: &Facets) -> String {
    if let Some(first) = facets.enumeration.first() {
        return (*first).to_owned();
    }
    match prim {
        Prim::Bool => "true".to_owned(),
        Prim::Base64 => "QUJD".to_owned(),
        Prim::Int => {
            let mut v = 1i64;
            if let Some(min) = facets.min_inclusive {
                v = v.max(min);
            }
            if let Some(max) = facets.max_inclusive {
                v = v.min(max);
            }
            v.to_string()
        }
        Prim::Str => match facets.lexical {
            Lexical::Date => "2026-01-15".to_owned(),
            Lexical::DateTime => "2026-01-15T10:00:00".to_owned(),
            Lexical::Time => "10:00:00".to_owned(),
            Lexical::Any => {
                let n = facets.length.unwrap_or_else(|| {
                    let n = facets.min_length.unwrap_or(1).max(1);
                    facets.max_length.map_or(n, |max| n.min(max))
                });
                "a".repeat(n)
            }
        },
    }
}

impl Instance {
    fn new(target: Option<(usize, Spelling)>) -> Self {
        Instance {
            target,
            optional_seen: 0,
            paths: Vec::new(),
            path: Vec::new(),
            out: String::new(),
        }
    }

    fn root(&mut self, name: &'static str, root: RootShape) {
        let decl = format!(r#"xmlns="{ISDS_NS}" xmlns:xsi="{XSI_NS}""#);
        match root {
            RootShape::Complex(rust) => self.complex(name, rust, &decl),
            RootShape::Simple { prim, facets, .. } => {
                self.out
                    .push_str(&format!("<{name} {decl}>{}</{name}>", sample(prim, facets)));
            }
        }
    }

    fn complex(&mut self, name: &'static str, rust: &str, extra: &str) {
        let t = shape(rust);
        self.out.push('<');
        self.out.push_str(name);
        if !extra.is_empty() {
            self.out.push(' ');
            self.out.push_str(extra);
        }
        for a in t.attrs {
            self.out
                .push_str(&format!(r#" {}="{}""#, a.name, sample(a.prim, a.facets)));
        }
        self.out.push('>');
        if self.path.len() < 16 {
            if let Some((prim, facets)) = t.simple {
                self.out.push_str(&sample(prim, facets));
            }
            if let Some(content) = t.content {
                self.content(&content);
            }
        }
        self.out.push_str(&format!("</{name}>"));
    }

    fn content(&mut self, c: &Content) {
        match *c {
            Content::Elem {
                name,
                min,
                max,
                nillable,
                ty,
            } => {
                if max == Some(0) {
                    return;
                }
                let optional = max == Some(1) && (min == 0 || nillable);
                if optional {
                    let id = self.optional_seen;
                    self.optional_seen += 1;
                    self.path.push(name);
                    self.paths.push(self.path.join("/"));
                    self.path.pop();
                    if let Some((target, spelling)) = self.target
                        && target == id
                    {
                        self.out.push_str(&match spelling {
                            Spelling::Absent => String::new(),
                            Spelling::SelfClosing => format!("<{name}/>"),
                            Spelling::StartEnd => format!("<{name}></{name}>"),
                            Spelling::Nil => format!(r#"<{name} xsi:nil="true"/>"#),
                            Spelling::Whitespace => format!("<{name}>\n   \t</{name}>"),
                        });
                        return;
                    }
                }
                self.path.push(name);
                for _ in 0..min.max(1) {
                    match ty {
                        Ty::Simple(prim, facets) => self
                            .out
                            .push_str(&format!("<{name}>{}</{name}>", sample(prim, facets))),
                        Ty::Complex(rust) => self.complex(name, rust, ""),
                    }
                }
                self.path.pop();
            }
            Content::Seq { min, max, items } => {
                if max == Some(0) {
                    return;
                }
                for _ in 0..min.max(1) {
                    for item in items {
                        self.content(item);
                    }
                }
            }
            Content::Choice { items, .. } => {
                if let Some(first) = items.first() {
                    self.content(first);
                }
            }
            Content::Any { max, .. } => {
                if max != Some(0) {
                    self.out
                        .push_str(r#"<a:extra xmlns:a="urn:example:any">x</a:extra>"#);
                }
            }
            Content::SeqAlt(rust) => {
                if let Some(content) = shape(rust).content {
                    self.content(&content);
                }
            }
        }
    }
}

fn root_shape(element: &str) -> RootShape {
    ROOT_SHAPES
        .iter()
        .find(|(name, _)| *name == element)
        .map(|(_, s)| *s)
        .unwrap_or_else(|| panic!("no global element {element}"))
}

fn build(input: &'static str, target: Option<(usize, Spelling)>) -> Instance {
    let mut i = Instance::new(target);
    i.root(input, root_shape(input));
    i
}

fn parse(text: &str) -> Result<Request, SchemaError> {
    let el = xml::parse(text.as_bytes(), &ParseLimits::default())
        .unwrap_or_else(|e| panic!("generated XML is not well-formed ({e}):\n{text}"));
    schema::parse_request(&el)
}

/// Every optional element of every request, blanked in every spelling,
/// parses to the same request as with the element left out.
#[test]
fn every_optional_element_of_every_request_blanks_alike() {
    let mut checked = 0;
    let mut full_parsed = 0;
    for op in OPERATIONS {
        let full = build(op.input, None);
        if parse(&full.out).is_ok() {
            full_parsed += 1;
        }
        for (id, path) in full.paths.iter().enumerate() {
            let outcomes: Vec<(Spelling, Result<Request, SchemaError>, String)> = SPELLINGS
                .iter()
                .map(|&s| {
                    let text = build(op.input, Some((id, s))).out;
                    (s, parse(&text), text)
                })
                .collect();
            let (_, absent, absent_text) = &outcomes[0];
            for (spelling, outcome, text) in &outcomes[1..] {
                assert_eq!(
                    outcome, absent,
                    "{}: {path} written {spelling:?} differs from leaving it out\n{text}\n---\n{absent_text}",
                    op.name
                );
            }
            checked += 1;
        }
    }
    // The instances are real requests, not refusals that would be equal
    // whatever the spelling.
    assert_eq!(
        full_parsed,
        OPERATIONS.len(),
        "every operation's generated request parses"
    );
    eprintln!("{checked} optional elements checked in {full_parsed} requests");
    assert!(checked > 300, "only {checked} optional elements found");
}

/// A required element left empty in any spelling is refused with a status
/// of the operation, never a fault: 1068 ("Chybí povinný vstupní údaj.",
/// official code table) where the type cannot be empty; an empty text is
/// handed to the operation, which answers with its own status.
#[tokio::test]
async fn empty_required_values_get_a_status_not_a_fault() {
    let t = TestGateway::start().await;
    for spelling in ["<X/>", "<X></X>", r#"<X xsi:nil="true"/>"#, "<X> </X>"] {
        // EraseMessage: dmIncoming is a required xs:boolean.
        let body = common::op(
            "EraseMessage",
            &format!("<dmID>1</dmID>{}", spelling.replace('X', "dmIncoming")),
        );
        let r = t.soap("/DS/dx", &body).await;
        assert_eq!(r.status, 200, "{spelling}: {}", r.text);
        assert_eq!(r.body().name, "EraseMessageResponse", "{}", r.text);
        assert_eq!(
            r.status(),
            ("1068".to_owned(), "Chybí povinný vstupní údaj.".to_owned()),
            "{spelling}"
        );

        // MessageDownload: dmID is required text; the operation finds no
        // such message.
        let body = common::op("MessageDownload", &spelling.replace('X', "dmID"));
        let r = t.soap("/DS/dz", &body).await;
        assert_eq!(r.status, 200, "{spelling}: {}", r.text);
        assert_ne!(r.status().0, "0000", "{spelling}: {}", r.text);
    }
    t.stop().await;
}

/// Read-only operations through the real interface: each optional element
/// blanked in each spelling gives the very same answer as leaving it out.
#[tokio::test]
async fn real_interface_answers_blanks_alike() {
    const OPS: &[(&str, (&str, &str))] = &[
        ("GetListOfReceivedMessages", PO_LOGIN),
        ("GetListOfSentMessages", OVM_LOGIN),
        ("FindDataBox", OVM_LOGIN),
        ("CheckDataBox", OVM_LOGIN),
        ("GetDataBoxActivityStatus", OVM_LOGIN),
        ("ISDSSearch2", OVM_LOGIN),
        ("DataBoxCreditInfo", OVM_LOGIN),
        ("GetMessageStateChanges", PO_LOGIN),
        ("PDZInfo", OVM_LOGIN),
    ];
    let t = TestGateway::start().await;
    let mut compared = 0;
    for &(name, login) in OPS {
        let op = OPERATIONS
            .iter()
            .find(|o| o.name == name)
            .unwrap_or_else(|| panic!("no operation {name}"));
        let path = format!("/DS/{}", op.family.endpoint());
        let full = build(op.input, None);
        // A first call may change state (acceptance by login).
        let warm = t.soap_as(login, &path, &full.out).await;
        assert_eq!(warm.status, 200, "{name}: {}", warm.text);
        for id in 0..full.paths.len() {
            let mut answers = Vec::new();
            for &s in &SPELLINGS {
                let body = build(op.input, Some((id, s))).out;
                let r = t.soap_as(login, &path, &body).await;
                assert_eq!(
                    r.status, 200,
                    "{name} {}: {s:?}: {}",
                    full.paths[id], r.text
                );
                answers.push((s, r.text));
            }
            for (s, text) in &answers[1..] {
                assert_eq!(
                    text, &answers[0].1,
                    "{name}: {} written {s:?} is answered differently from leaving it out",
                    full.paths[id]
                );
            }
            compared += 1;
        }
    }
    eprintln!("{compared} elements compared through the interface");
    assert!(compared > 40, "only {compared} elements compared");
    t.stop().await;
}
