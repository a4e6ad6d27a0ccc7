//! Runtime support for the generated schema code: a cursor over child
//! elements, simple-type parsing with facet checks, and write helpers.
//!
//! Public because the generated code calls it; handlers rarely need it.

use base64::Engine as _;
use bytes::Bytes;

use super::{ISDS_NS, SchemaError, ToXml};
use crate::xml::{Element, Node, XSI_NS, XmlWriter, is_xml_space};

/// Lexical form a string type must have beyond its facets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lexical {
    Any,
    /// `xs:date`: `YYYY-MM-DD` with optional time zone.
    Date,
    /// `xs:dateTime`: `YYYY-MM-DDThh:mm:ss[.fff]` with optional time zone.
    DateTime,
    /// `xs:time`: `hh:mm:ss[.fff]` with optional time zone.
    Time,
}

/// The constraining facets of a simple type, merged along its
/// restriction chain (including the bounds implied by built-in integer
/// types such as `xs:positiveInteger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facets {
    pub lexical: Lexical,
    /// Whitespace facet `collapse`: surrounding whitespace is dropped.
    pub collapse: bool,
    pub enumeration: &'static [&'static str],
    pub length: Option<usize>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub min_inclusive: Option<i64>,
    pub max_inclusive: Option<i64>,
}

impl Facets {
    /// No constraints (`xs:string`).
    pub const NONE: Facets = Facets {
        lexical: Lexical::Any,
        collapse: false,
        enumeration: &[],
        length: None,
        min_length: None,
        max_length: None,
        min_inclusive: None,
        max_inclusive: None,
    };
}

/// A Rust type that carries an XSD simple type.
pub trait SimpleValue: Sized {
    /// Parses the lexical form `text` and checks `facets`; the error is the
    /// reason, without the element name.
    fn parse_value(text: &str, facets: &Facets) -> Result<Self, String>;
    /// Writes the value as character data.
    fn write_text(&self, w: &mut XmlWriter);
    /// Writes the value as attribute `name`.
    fn write_attr(&self, w: &mut XmlWriter, name: &str);
    /// The value from content the parser already decoded as base64
    /// ([`crate::xml::Node::Binary`]); `None` for types that are not
    /// binary, which then parse the re-encoded text.
    fn from_binary(_bytes: &Bytes, _facets: &Facets) -> Option<Result<Self, String>> {
        None
    }
    /// The value an empty element stands for when one is required: `Some`
    /// for types whose value space has an empty value (text, binary).
    fn empty_value() -> Option<Self> {
        None
    }
}

fn collapse<'t>(text: &'t str, facets: &Facets) -> &'t str {
    if facets.collapse {
        text.trim_matches(is_xml_space)
    } else {
        text
    }
}

fn check_enumeration(v: &str, facets: &Facets) -> Result<(), String> {
    if facets.enumeration.is_empty() || facets.enumeration.contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "not one of the allowed values ({})",
            facets.enumeration.join(", ")
        ))
    }
}

fn check_length(n: usize, facets: &Facets, unit: &str) -> Result<(), String> {
    if let Some(len) = facets.length
        && n != len
    {
        return Err(format!("length must be exactly {len} {unit}, is {n}"));
    }
    if let Some(min) = facets.min_length
        && n < min
    {
        return Err(format!("length must be at least {min} {unit}, is {n}"));
    }
    if let Some(max) = facets.max_length
        && n > max
    {
        return Err(format!("length must be at most {max} {unit}, is {n}"));
    }
    Ok(())
}

fn has_length_facets(facets: &Facets) -> bool {
    facets.length.is_some() || facets.min_length.is_some() || facets.max_length.is_some()
}

impl SimpleValue for String {
    fn parse_value(text: &str, facets: &Facets) -> Result<Self, String> {
        let v = collapse(text, facets);
        match facets.lexical {
            Lexical::Any => {}
            Lexical::Date => check_date(v)?,
            Lexical::DateTime => check_date_time(v)?,
            Lexical::Time => check_time(v)?,
        }
        check_enumeration(v, facets)?;
        if has_length_facets(facets) {
            check_length(v.chars().count(), facets, "characters")?;
        }
        Ok(v.to_owned())
    }

    fn write_text(&self, w: &mut XmlWriter) {
        w.text(self);
    }

    fn write_attr(&self, w: &mut XmlWriter, name: &str) {
        w.attr(name, self);
    }

    fn empty_value() -> Option<Self> {
        Some(String::new())
    }
}

impl SimpleValue for i64 {
    fn parse_value(text: &str, facets: &Facets) -> Result<Self, String> {
        let v = text.trim_matches(is_xml_space);
        let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("not an integer".to_owned());
        }
        let n: i64 = v
            .parse()
            .map_err(|_| "integer out of the supported range".to_owned())?;
        if let Some(min) = facets.min_inclusive
            && n < min
        {
            return Err(format!("must be at least {min}"));
        }
        if let Some(max) = facets.max_inclusive
            && n > max
        {
            return Err(format!("must be at most {max}"));
        }
        if !facets.enumeration.is_empty()
            && !facets
                .enumeration
                .iter()
                .any(|e| e.parse::<i64>().ok() == Some(n))
        {
            return Err(format!(
                "not one of the allowed values ({})",
                facets.enumeration.join(", ")
            ));
        }
        Ok(n)
    }

    fn write_text(&self, w: &mut XmlWriter) {
        w.text_display(self);
    }

    fn write_attr(&self, w: &mut XmlWriter, name: &str) {
        w.attr_display(name, self);
    }
}

impl SimpleValue for bool {
    fn parse_value(text: &str, _facets: &Facets) -> Result<Self, String> {
        match text.trim_matches(is_xml_space) {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err("not a boolean (true, false, 1 or 0)".to_owned()),
        }
    }

    fn write_text(&self, w: &mut XmlWriter) {
        w.text(if *self { "true" } else { "false" });
    }

    fn write_attr(&self, w: &mut XmlWriter, name: &str) {
        w.attr(name, if *self { "true" } else { "false" });
    }
}

use crate::xml::base64::LENIENT as BASE64_LENIENT;

/// Decodes base64, ignoring XML whitespace (line breaks) anywhere.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let result = if text.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: Vec<u8> = text
            .bytes()
            .filter(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .collect();
        BASE64_LENIENT.decode(compact)
    } else {
        BASE64_LENIENT.decode(text)
    };
    result.map_err(|e| format!("invalid base64: {e}"))
}

impl SimpleValue for Bytes {
    fn parse_value(text: &str, facets: &Facets) -> Result<Self, String> {
        let bytes = decode_base64(text)?;
        if has_length_facets(facets) {
            check_length(bytes.len(), facets, "bytes")?;
        }
        Ok(Bytes::from(bytes))
    }

    fn write_text(&self, w: &mut XmlWriter) {
        w.binary(self);
    }

    fn from_binary(bytes: &Bytes, facets: &Facets) -> Option<Result<Self, String>> {
        if has_length_facets(facets)
            && let Err(e) = check_length(bytes.len(), facets, "bytes")
        {
            return Some(Err(e));
        }
        Some(Ok(bytes.clone()))
    }

    fn empty_value() -> Option<Self> {
        Some(Bytes::new())
    }

    fn write_attr(&self, w: &mut XmlWriter, name: &str) {
        let mut s = String::new();
        base64::engine::general_purpose::STANDARD.encode_string(self, &mut s);
        w.attr(name, &s);
    }
}

fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &s[n..]))
}

fn check_timezone(s: &str) -> bool {
    if s.is_empty() || s == "Z" {
        return true;
    }
    let Some(rest) = s.strip_prefix(['+', '-']) else {
        return false;
    };
    let Some((h, rest)) = digits(rest, 2) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(':') else {
        return false;
    };
    matches!(digits(rest, 2), Some((m, "")) if h <= 14 && m <= 59)
}

/// Parses `YYYY-MM-DD` (year may be longer or negative); returns the rest.
fn parse_date_part(s: &str) -> Option<&str> {
    let s = s.strip_prefix('-').unwrap_or(s);
    let year_len = s.bytes().take_while(u8::is_ascii_digit).count();
    if year_len < 4 {
        return None;
    }
    let rest = s.get(year_len..)?.strip_prefix('-')?;
    let (month, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix('-')?;
    let (day, rest) = digits(rest, 2)?;
    ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some(rest)
}

/// Parses `hh:mm:ss[.fff]`; returns the rest.
fn parse_time_part(s: &str) -> Option<&str> {
    let (h, rest) = digits(s, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (m, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (sec, mut rest) = digits(rest, 2)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    (h <= 24 && m <= 59 && sec <= 60).then_some(rest)
}

fn check_date(v: &str) -> Result<(), String> {
    match parse_date_part(v) {
        Some(tz) if check_timezone(tz) => Ok(()),
        _ => Err("not an xs:date (YYYY-MM-DD)".to_owned()),
    }
}

fn check_date_time(v: &str) -> Result<(), String> {
    let ok = parse_date_part(v)
        .and_then(|rest| rest.strip_prefix('T'))
        .and_then(parse_time_part)
        .is_some_and(check_timezone);
    if ok {
        Ok(())
    } else {
        Err("not an xs:dateTime (YYYY-MM-DDThh:mm:ss)".to_owned())
    }
}

fn check_time(v: &str) -> Result<(), String> {
    match parse_time_part(v) {
        Some(tz) if check_timezone(tz) => Ok(()),
        _ => Err("not an xs:time (hh:mm:ss)".to_owned()),
    }
}

/// Display name of an element for error texts: the local name for ISDS
/// elements, `{namespace}name` otherwise.
pub fn display_name(el: &Element) -> String {
    match el.ns.as_deref() {
        Some(ISDS_NS) => el.name.clone(),
        Some(ns) => format!("{{{ns}}}{}", el.name),
        None => format!("{{}}{}", el.name),
    }
}

/// Checks that `el` is in the ISDS namespace.
pub fn check_ns(el: &Element) -> Result<(), SchemaError> {
    if el.ns.as_deref() == Some(ISDS_NS) {
        Ok(())
    } else {
        Err(SchemaError::WrongNamespace {
            element: el.name.clone(),
            found: el.ns.clone().unwrap_or_else(|| "no namespace".to_owned()),
        })
    }
}

/// Checks that `el` is the global element `name` in the ISDS namespace.
pub fn check_root(el: &Element, name: &'static str) -> Result<(), SchemaError> {
    check_ns(el)?;
    if el.name == name {
        Ok(())
    } else {
        Err(SchemaError::WrongElement {
            expected: name,
            found: el.name.clone(),
        })
    }
}

/// Parses the text content of `el` as a simple value (no child elements
/// allowed).
pub fn simple<T: SimpleValue>(el: &Element, facets: &Facets) -> Result<T, SchemaError> {
    if let Some(child) = el.first_element() {
        return Err(SchemaError::Unexpected {
            parent: el.name.clone(),
            child: display_name(child),
        });
    }
    if let Some(bytes) = el.binary()
        && let Some(result) = T::from_binary(bytes, facets)
    {
        return result.map_err(|reason| SchemaError::invalid_value(&el.name, "", reason));
    }
    let text = el.text_cow();
    T::parse_value(&text, facets)
        .map_err(|reason| SchemaError::invalid_value(&el.name, &text, reason))
}

/// True when `el` carries no value: `<x xsi:nil="true"/>`, `<x/>` or
/// `<x></x>`. ISDS accepts the three spellings of an empty value on input
/// and means the same by each (messages manual, chapter 1.3.1).
///
/// Whitespace-only content (`<x> </x>`, a pretty-printer's `<x>\n  </x>`)
/// is empty too. The manuals do not name this case; the choice follows
/// from what they do say: every simple type but `xs:string` collapses
/// whitespace (XML Schema), so its lexical form is then the empty one,
/// and for text ISDS turns tabs and line breaks into spaces on input
/// (chapter 1.3.4), so such a value would be nothing but spaces.
///
/// An element with attributes of its own (other than `xsi:*`) is not
/// empty: its attributes are a value.
pub fn is_empty_value(el: &Element) -> bool {
    if el.is_nil() {
        return true;
    }
    let own_attrs = el.attrs.iter().any(|a| a.ns.as_deref() != Some(XSI_NS));
    !own_attrs && has_no_content(el)
}

/// [`is_empty_value`] for an element of simple type: the schema gives such
/// an element no attributes, so none it carries is a value (the reader
/// ignores them, and the writer writes none; counting them would read
/// `<x a="1"/>` as the empty string but its written form as no value).
pub fn is_empty_simple_value(el: &Element) -> bool {
    el.is_nil() || has_no_content(el)
}

/// No element children and no text but XML white space.
fn has_no_content(el: &Element) -> bool {
    el.children.iter().all(|node| match node {
        Node::Text(t) => t.chars().all(is_xml_space),
        Node::Binary(b) => b.is_empty(),
        Node::Element(_) => false,
    })
}

/// `None` for an empty element (see [`is_empty_value`]), else `f(el)`.
/// Every optional or nillable element is read through this, so an empty
/// one means exactly what an absent or `xsi:nil` one means.
pub fn nillable<'a, T>(
    el: &'a Element,
    f: impl FnOnce(&'a Element) -> Result<T, SchemaError>,
) -> Result<Option<T>, SchemaError> {
    if is_empty_value(el) {
        Ok(None)
    } else {
        f(el).map(Some)
    }
}

/// [`nillable`] for an element of simple type (see
/// [`is_empty_simple_value`]).
pub fn nillable_simple<'a, T>(
    el: &'a Element,
    f: impl FnOnce(&'a Element) -> Result<T, SchemaError>,
) -> Result<Option<T>, SchemaError> {
    if is_empty_simple_value(el) {
        Ok(None)
    } else {
        f(el).map(Some)
    }
}

/// A required, non-nillable element of simple type. Empty (in any of the
/// three spellings), it is the type's empty value where the type has one
/// (text, binary: the operation then judges the empty value and answers
/// with its own status), else [`SchemaError::Empty`], which the dispatcher
/// answers with a status, never a fault.
pub fn required_simple<T: SimpleValue + Default>(
    el: &Element,
    facets: &Facets,
) -> Result<T, SchemaError> {
    if is_empty_simple_value(el) {
        if let Some(v) = T::empty_value() {
            return Ok(v);
        }
        if SET_BY_ISDS.contains(&el.name.as_str()) {
            return Ok(T::default());
        }
        return Err(SchemaError::Empty {
            element: el.name.clone(),
        });
    }
    simple(el, facets)
}

/// Required elements of types shared by input and output whose value ISDS
/// sets itself and ignores on input, so an empty one lacks nothing:
/// `aifoIsds` (the person is identified in the basic registers). The box
/// administration manual's own request example sends it blank
/// (`WS_sprava_datovych_schranek`, 2.1 CreateDataBox2, `<aifoIsds> </aifoIsds>`),
/// and libdatovka sends `<aifoIsds/>` in AddDataBoxUser2.
const SET_BY_ISDS: &[&str] = &["aifoIsds"];

/// A required, non-nillable element of complex type: parsed by `f`; when
/// it is empty and its type cannot be empty, [`SchemaError::Empty`].
pub fn required_complex<'a, T>(
    el: &'a Element,
    f: impl FnOnce(&'a Element) -> Result<T, SchemaError>,
) -> Result<T, SchemaError> {
    match f(el) {
        Err(_) if is_empty_value(el) => Err(SchemaError::Empty {
            element: el.name.clone(),
        }),
        other => other,
    }
}

/// An optional un-namespaced attribute.
pub fn attr<T: SimpleValue>(
    el: &Element,
    name: &str,
    facets: &Facets,
) -> Result<Option<T>, SchemaError> {
    match el.attr(name) {
        None => Ok(None),
        Some(v) => T::parse_value(v, facets).map(Some).map_err(|reason| {
            SchemaError::invalid_value(&format!("{}/@{name}", el.name), v, reason)
        }),
    }
}

/// A required un-namespaced attribute.
pub fn attr_required<T: SimpleValue>(
    el: &Element,
    name: &str,
    facets: &Facets,
) -> Result<T, SchemaError> {
    attr(el, name, facets)?.ok_or_else(|| SchemaError::MissingAttribute {
        element: el.name.clone(),
        attribute: name.to_owned(),
    })
}

/// A cursor over the child elements of one element, consumed in schema
/// order.
pub struct Children<'a> {
    parent: &'a Element,
    index: usize,
}

impl<'a> Children<'a> {
    /// Starts at the first child; refuses non-whitespace text (element-only
    /// content).
    pub fn new(parent: &'a Element) -> Result<Children<'a>, SchemaError> {
        for node in &parent.children {
            let text = match node {
                Node::Text(t) => !t.chars().all(is_xml_space),
                Node::Binary(_) => true,
                Node::Element(_) => false,
            };
            if text {
                return Err(SchemaError::UnexpectedText {
                    element: parent.name.clone(),
                });
            }
        }
        Ok(Children { parent, index: 0 })
    }

    /// The next child element, whatever its name.
    pub fn peek(&mut self) -> Option<&'a Element> {
        let children = &self.parent.children;
        while let Some(node) = children.get(self.index) {
            match node {
                Node::Element(e) => return Some(e),
                Node::Text(_) | Node::Binary(_) => self.index += 1,
            }
        }
        None
    }

    /// Local name of the next child element if it is in the ISDS namespace.
    pub fn peek_name(&mut self) -> Option<&'a str> {
        self.peek()
            .filter(|e| e.ns.as_deref() == Some(ISDS_NS))
            .map(|e| e.name.as_str())
    }

    /// Consumes the next child if it is ISDS element `name`.
    pub fn take(&mut self, name: &str) -> Option<&'a Element> {
        let next = self.peek()?;
        if next.ns.as_deref() == Some(ISDS_NS) && next.name == name {
            self.index += 1;
            Some(next)
        } else {
            None
        }
    }

    /// The required child `name`, parsed by `f`.
    pub fn required<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&'a Element) -> Result<T, SchemaError>,
    ) -> Result<T, SchemaError> {
        match self.take(name) {
            Some(e) => f(e),
            None => Err(self.missing(name)),
        }
    }

    /// The optional child `name`, parsed by `f`.
    pub fn optional<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&'a Element) -> Result<T, SchemaError>,
    ) -> Result<Option<T>, SchemaError> {
        self.take(name).map(f).transpose()
    }

    /// Consecutive children `name` (between `min` and `max` of them).
    pub fn repeated<T>(
        &mut self,
        name: &str,
        min: usize,
        max: Option<usize>,
        mut f: impl FnMut(&'a Element) -> Result<T, SchemaError>,
    ) -> Result<Vec<T>, SchemaError> {
        let mut out = Vec::new();
        while let Some(e) = self.take(name) {
            if max.is_some_and(|m| out.len() >= m) {
                return Err(SchemaError::Unexpected {
                    parent: self.parent.name.clone(),
                    child: display_name(e),
                });
            }
            out.push(f(e)?);
        }
        if out.len() < min {
            return Err(self.missing(name));
        }
        Ok(out)
    }

    /// `xs:any`: the next children whatever their names (between `min` and
    /// `max` of them), copied as DOM subtrees.
    pub fn any(&mut self, min: usize, max: Option<usize>) -> Result<Vec<Element>, SchemaError> {
        let mut out = Vec::new();
        while let Some(e) = self.peek() {
            if max.is_some_and(|m| out.len() >= m) {
                break;
            }
            out.push(e.clone());
            self.index += 1;
        }
        if out.len() < min {
            return Err(SchemaError::Missing {
                parent: self.parent.name.clone(),
                child: "an element".to_owned(),
            });
        }
        Ok(out)
    }

    /// The error for a required child `name` not found here: the next child
    /// is "unexpected" when `name` comes later (wrong order), else `name`
    /// is "missing".
    pub fn missing(&mut self, name: &str) -> SchemaError {
        if let Some(next) = self.peek() {
            let rest = self.parent.children.get(self.index..).unwrap_or(&[]);
            let later = rest.iter().any(|n| {
                matches!(n, Node::Element(e) if e.ns.as_deref() == Some(ISDS_NS) && e.name == name)
            });
            if later {
                return SchemaError::Unexpected {
                    parent: self.parent.name.clone(),
                    child: display_name(next),
                };
            }
        }
        SchemaError::Missing {
            parent: self.parent.name.clone(),
            child: name.to_owned(),
        }
    }

    /// Succeeds when every child element was consumed.
    pub fn finish(&mut self) -> Result<(), SchemaError> {
        match self.peek() {
            None => Ok(()),
            Some(e) => Err(SchemaError::Unexpected {
                parent: self.parent.name.clone(),
                child: display_name(e),
            }),
        }
    }
}

/// Writes a required nillable element: the value, or `xsi:nil="true"`.
pub fn write_nillable<T: ToXml>(w: &mut XmlWriter, name: &str, v: &Option<T>) {
    match v {
        Some(v) => v.write_xml(w, name),
        None => w.nil(name),
    }
}

/// Writes an optional element; `None` writes nothing.
pub fn write_optional<T: ToXml>(w: &mut XmlWriter, name: &str, v: &Option<T>) {
    if let Some(v) = v {
        v.write_xml(w, name);
    }
}

/// Writes every item as element `name`.
pub fn write_all<T: ToXml>(w: &mut XmlWriter, name: &str, items: &[T]) {
    for v in items {
        v.write_xml(w, name);
    }
}

/// Writes every item as element `name`, `None` as `xsi:nil="true"`.
pub fn write_all_nillable<T: ToXml>(w: &mut XmlWriter, name: &str, items: &[Option<T>]) {
    for v in items {
        write_nillable(w, name, v);
    }
}

/// Writes `xs:any` content.
pub fn write_any(w: &mut XmlWriter, items: &[Element]) {
    for e in items {
        w.raw_element(e);
    }
}

/// Writes an optional attribute.
pub fn write_attr_optional<T: SimpleValue>(w: &mut XmlWriter, name: &str, v: &Option<T>) {
    if let Some(v) = v {
        v.write_attr(w, name);
    }
}

/// The schema's structure as data, generated next to the types
/// ([`super::TYPE_SHAPES`], [`super::ROOT_SHAPES`]): what each type
/// contains, in schema order, with cardinalities and facets. For tools
/// and tests that must cover every type (e.g. building an instance of
/// every request), not for parsing.
pub mod shape {
    use super::Facets;

    /// The Rust-level primitive of a simple type.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Prim {
        Str,
        Int,
        Bool,
        Base64,
    }

    /// The type of an element or attribute.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Ty {
        Simple(Prim, &'static Facets),
        /// A complex type, by the Rust name of its struct.
        Complex(&'static str),
    }

    /// One particle of a content model.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Content {
        Elem {
            name: &'static str,
            min: u64,
            max: Option<u64>,
            nillable: bool,
            ty: Ty,
        },
        Seq {
            min: u64,
            max: Option<u64>,
            items: &'static [Content],
        },
        Choice {
            min: u64,
            max: Option<u64>,
            items: &'static [Content],
        },
        Any {
            min: u64,
            max: Option<u64>,
        },
        /// A sequence alternative of a choice: the content of the type
        /// named (Rust name), inline.
        SeqAlt(&'static str),
    }

    /// An attribute.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Attr {
        pub name: &'static str,
        pub required: bool,
        pub prim: Prim,
        pub facets: &'static Facets,
    }

    /// A complex type (or a complex type with simple content).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct TypeShape {
        /// The Rust name of its struct.
        pub rust: &'static str,
        pub attrs: &'static [Attr],
        /// Element content, if any.
        pub content: Option<Content>,
        /// Simple content (with attributes), if that is what it has.
        pub simple: Option<(Prim, &'static Facets)>,
    }

    /// What a global element is.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum RootShape {
        /// Of the complex type named (Rust name).
        Complex(&'static str),
        /// Of a simple type.
        Simple {
            prim: Prim,
            facets: &'static Facets,
            nillable: bool,
        },
    }
}
