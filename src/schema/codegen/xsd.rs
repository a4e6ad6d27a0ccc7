//! XSD files → a resolved type model: groups, attribute groups and
//! extensions inlined, simple types reduced to a primitive plus facets,
//! anonymous types named after where they appear.

use std::collections::{BTreeMap, BTreeSet};

use super::dom::{Node, XS_NS};
use super::names::pascal;

/// The only target namespace the generated code supports.
pub const ISDS_NS: &str = "http://isds.czechpoint.cz/v20";

/// The Rust-level primitive of a simple type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prim {
    Str,
    Int,
    Bool,
    Base64,
}

/// Constraining facets, merged along the restriction chain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facets {
    /// `Any`, `Date`, `DateTime` or `Time` (a `rt::Lexical` variant).
    pub lexical: &'static str,
    pub collapse: bool,
    pub enumeration: Vec<String>,
    pub length: Option<u64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_inclusive: Option<i64>,
    pub max_inclusive: Option<i64>,
}

impl Facets {
    pub fn is_none(&self) -> bool {
        *self == Facets::plain()
    }

    pub fn plain() -> Facets {
        Facets {
            lexical: "Any",
            ..Facets::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleT {
    pub prim: Prim,
    pub facets: Facets,
    /// The named simpleType this is exactly (no extra facets), if any.
    pub named: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeRef {
    Simple(SimpleT),
    /// Rust name of a generated struct.
    Complex(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElemDef {
    pub name: String,
    pub min: u64,
    /// `None` = unbounded.
    pub max: Option<u64>,
    pub nillable: bool,
    pub ty: TypeRef,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Particle {
    Elem(ElemDef),
    Seq {
        min: u64,
        max: Option<u64>,
        items: Vec<Particle>,
    },
    Choice {
        min: u64,
        max: Option<u64>,
        items: Vec<Particle>,
    },
    Any {
        min: u64,
        max: Option<u64>,
    },
    /// A sequence alternative of a choice, generated as its own struct
    /// (a [`TypeDef`] with `seq_only`); `first` is its first element.
    SeqAlt {
        rust: String,
        first: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrDef {
    pub name: String,
    pub ty: SimpleT,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Complex {
        content: Option<Particle>,
        attrs: Vec<AttrDef>,
    },
    Simple {
        value: SimpleT,
        attrs: Vec<AttrDef>,
    },
}

/// A struct to generate.
#[derive(Debug, Clone)]
pub struct TypeDef {
    pub rust: String,
    /// What it is in XML terms, for the doc comment.
    pub doc: String,
    pub body: Body,
    /// For an anonymous type of a global element: the element name.
    pub root: Option<String>,
    /// A sequence that is one alternative of a choice: no element of its
    /// own, read and written inside its parent.
    pub seq_only: bool,
}

#[derive(Debug, Clone)]
pub enum RootKind {
    /// `pub struct X(pub Inner)`.
    Newtype(String),
    /// `pub struct X { pub value: T }` (or `Option<T>` when nillable).
    Simple { ty: SimpleT, nillable: bool },
    /// The [`TypeDef`] of the same Rust name.
    Struct,
}

/// A global element.
#[derive(Debug, Clone)]
pub struct RootDef {
    pub xml: String,
    pub rust: String,
    pub kind: RootKind,
}

#[derive(Debug, Default)]
pub struct Model {
    pub defs: Vec<TypeDef>,
    pub roots: Vec<RootDef>,
    /// Named simple types, for facet constants.
    pub simple_types: BTreeMap<String, SimpleT>,
}

enum Resolved {
    Builtin(String),
    Simple(String),
    Complex(String),
}

struct Builder<'a> {
    complex: BTreeMap<String, &'a Node>,
    simple: BTreeMap<String, &'a Node>,
    groups: BTreeMap<String, &'a Node>,
    attr_groups: BTreeMap<String, &'a Node>,
    memo_complex: BTreeMap<String, Body>,
    memo_simple: BTreeMap<String, SimpleT>,
    memo_group: BTreeMap<String, Particle>,
    memo_attr_group: BTreeMap<String, Vec<AttrDef>>,
    in_progress: BTreeSet<String>,
    rust_names: BTreeSet<String>,
    model: Model,
}

/// Builds the model from the `xs:schema` roots (in a fixed file order).
pub fn build(schemas: &[(String, Node)]) -> Result<Model, String> {
    let mut b = Builder {
        complex: BTreeMap::new(),
        simple: BTreeMap::new(),
        groups: BTreeMap::new(),
        attr_groups: BTreeMap::new(),
        memo_complex: BTreeMap::new(),
        memo_simple: BTreeMap::new(),
        memo_group: BTreeMap::new(),
        memo_attr_group: BTreeMap::new(),
        in_progress: BTreeSet::new(),
        rust_names: BTreeSet::new(),
        model: Model::default(),
    };
    let mut order: Vec<(&str, &Node)> = Vec::new();
    let mut elements: BTreeMap<String, &Node> = BTreeMap::new();
    for (file, schema) in schemas {
        if !schema.is(XS_NS, "schema") {
            return Err(format!("{file}: root is not xs:schema"));
        }
        if schema.attr("targetNamespace") != Some(ISDS_NS) {
            return Err(format!("{file}: targetNamespace must be {ISDS_NS}"));
        }
        if schema.attr("elementFormDefault") != Some("qualified") {
            return Err(format!("{file}: elementFormDefault must be \"qualified\""));
        }
        if schema.attr("attributeFormDefault") == Some("qualified") {
            return Err(format!("{file}: qualified attributes are not supported"));
        }
        for top in schema.children_in(XS_NS) {
            let kind = top.name.as_str();
            let table = match kind {
                "complexType" => &mut b.complex,
                "simpleType" => &mut b.simple,
                "group" => &mut b.groups,
                "attributeGroup" => &mut b.attr_groups,
                "element" => &mut elements,
                "annotation" | "include" | "import" => continue,
                other => return Err(format!("{file}: unsupported top-level xs:{other}")),
            };
            let name = top
                .attr("name")
                .ok_or_else(|| format!("{file}: top-level xs:{kind} without a name"))?;
            if let Some(previous) = table.get(name) {
                if previous.same_structure(top) {
                    continue; // the same definition repeated in two files
                }
                return Err(format!(
                    "{file}: xs:{kind} {name} defined twice, differently"
                ));
            }
            table.insert(name.to_owned(), top);
            order.push((kind, top));
        }
    }
    for (kind, node) in order {
        let name = node.attr("name").unwrap_or_default();
        match kind {
            "complexType" => {
                let body = b.complex_named(name)?;
                b.register(TypeDef {
                    rust: pascal(name),
                    doc: format!("XSD complexType `{name}`."),
                    body,
                    root: None,
                    seq_only: false,
                })?;
            }
            "simpleType" => {
                let t = b.simple_named(name)?;
                b.model.simple_types.insert(name.to_owned(), t);
            }
            "element" => b.global_element(node)?,
            _ => {}
        }
    }
    Ok(b.model)
}

fn occurs(node: &Node) -> Result<(u64, Option<u64>), String> {
    let min = match node.attr("minOccurs") {
        None => 1,
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("bad minOccurs \"{v}\""))?,
    };
    let max = match node.attr("maxOccurs").map(str::trim) {
        None => Some(1),
        Some("unbounded") => None,
        Some(v) => Some(v.parse().map_err(|_| format!("bad maxOccurs \"{v}\""))?),
    };
    Ok((min, max))
}

fn significant(node: &Node) -> impl Iterator<Item = &Node> {
    node.children_in(XS_NS).filter(|c| c.name != "annotation")
}

fn builtin(local: &str) -> Result<SimpleT, String> {
    let mut f = Facets::plain();
    let prim = match local {
        "string" | "normalizedString" => Prim::Str,
        "token" | "language" | "Name" | "NCName" | "NMTOKEN" | "ID" | "IDREF" | "ENTITY"
        | "anyURI" | "QName" | "duration" | "gYear" | "gYearMonth" | "gMonth" | "gMonthDay"
        | "gDay" | "decimal" | "float" | "double" => {
            f.collapse = true;
            Prim::Str
        }
        "date" | "dateTime" | "time" => {
            f.collapse = true;
            f.lexical = match local {
                "date" => "Date",
                "dateTime" => "DateTime",
                _ => "Time",
            };
            Prim::Str
        }
        "boolean" => Prim::Bool,
        "base64Binary" => Prim::Base64,
        "integer" | "long" => Prim::Int,
        "int" => {
            f.min_inclusive = Some(i64::from(i32::MIN));
            f.max_inclusive = Some(i64::from(i32::MAX));
            Prim::Int
        }
        "short" => {
            f.min_inclusive = Some(i64::from(i16::MIN));
            f.max_inclusive = Some(i64::from(i16::MAX));
            Prim::Int
        }
        "byte" => {
            f.min_inclusive = Some(i64::from(i8::MIN));
            f.max_inclusive = Some(i64::from(i8::MAX));
            Prim::Int
        }
        "nonNegativeInteger" | "unsignedLong" => {
            f.min_inclusive = Some(0);
            Prim::Int
        }
        "unsignedInt" => {
            f.min_inclusive = Some(0);
            f.max_inclusive = Some(i64::from(u32::MAX));
            Prim::Int
        }
        "unsignedShort" => {
            f.min_inclusive = Some(0);
            f.max_inclusive = Some(i64::from(u16::MAX));
            Prim::Int
        }
        "unsignedByte" => {
            f.min_inclusive = Some(0);
            f.max_inclusive = Some(i64::from(u8::MAX));
            Prim::Int
        }
        "positiveInteger" => {
            f.min_inclusive = Some(1);
            Prim::Int
        }
        "nonPositiveInteger" => {
            f.max_inclusive = Some(0);
            Prim::Int
        }
        "negativeInteger" => {
            f.max_inclusive = Some(-1);
            Prim::Int
        }
        "anySimpleType" => Prim::Str,
        other => return Err(format!("unsupported built-in type xs:{other}")),
    };
    Ok(SimpleT {
        prim,
        facets: f,
        named: None,
    })
}

fn parse_u64(node: &Node) -> Result<u64, String> {
    let v = node.attr("value").unwrap_or_default().trim();
    v.parse()
        .map_err(|_| format!("bad xs:{} value \"{v}\"", node.name))
}

fn parse_i64(node: &Node) -> Result<i64, String> {
    let v = node.attr("value").unwrap_or_default().trim();
    v.parse()
        .map_err(|_| format!("bad xs:{} value \"{v}\"", node.name))
}

impl<'a> Builder<'a> {
    fn register(&mut self, def: TypeDef) -> Result<(), String> {
        if !self.rust_names.insert(def.rust.clone()) {
            return Err(format!("two generated types would be named {}", def.rust));
        }
        self.model.defs.push(def);
        Ok(())
    }

    fn reserve_name(&mut self, rust: &str) -> Result<(), String> {
        if self.rust_names.insert(rust.to_owned()) {
            Ok(())
        } else {
            Err(format!("two generated types would be named {rust}"))
        }
    }

    fn resolve(&self, node: &Node, qname: &str) -> Result<Resolved, String> {
        let (ns, local) = node.resolve_qname(qname)?;
        match ns.as_deref() {
            Some(XS_NS) => Ok(Resolved::Builtin(local)),
            Some(ISDS_NS) => {
                if self.simple.contains_key(&local) {
                    Ok(Resolved::Simple(local))
                } else if self.complex.contains_key(&local) {
                    Ok(Resolved::Complex(local))
                } else {
                    Err(format!("type {qname} is not defined"))
                }
            }
            _ => Err(format!("type {qname} is outside the supported namespaces")),
        }
    }

    /// A simple type by QName (built-in or named).
    fn simple_by_qname(&mut self, node: &Node, qname: &str) -> Result<SimpleT, String> {
        match self.resolve(node, qname)? {
            Resolved::Builtin(local) => builtin(&local),
            Resolved::Simple(name) => self.simple_named(&name),
            Resolved::Complex(name) => {
                Err(format!("{name} is a complex type, a simple type is needed"))
            }
        }
    }

    fn simple_named(&mut self, name: &str) -> Result<SimpleT, String> {
        if let Some(t) = self.memo_simple.get(name) {
            return Ok(t.clone());
        }
        let node = *self
            .simple
            .get(name)
            .ok_or_else(|| format!("simpleType {name} is not defined"))?;
        if !self.in_progress.insert(format!("simple:{name}")) {
            return Err(format!("simpleType {name} derives from itself"));
        }
        let mut t = self.simple_from_node(node)?;
        self.in_progress.remove(&format!("simple:{name}"));
        t.named = Some(name.to_owned());
        self.memo_simple.insert(name.to_owned(), t.clone());
        Ok(t)
    }

    /// An `xs:simpleType` (named or anonymous): a restriction only.
    fn simple_from_node(&mut self, node: &Node) -> Result<SimpleT, String> {
        let Some(restriction) = significant(node).next() else {
            return Err("empty xs:simpleType".to_owned());
        };
        if restriction.name != "restriction" {
            return Err(format!(
                "xs:{} simple types are not supported",
                restriction.name
            ));
        }
        let mut base = match restriction.attr("base") {
            Some(b) => self.simple_by_qname(restriction, b)?,
            None => {
                let inner = significant(restriction)
                    .find(|c| c.name == "simpleType")
                    .ok_or("xs:restriction without a base")?;
                self.simple_from_node(inner)?
            }
        };
        let mut enumeration = Vec::new();
        let mut changed = false;
        for facet in significant(restriction) {
            let f = &mut base.facets;
            match facet.name.as_str() {
                "simpleType" => continue,
                "enumeration" => {
                    enumeration.push(facet.attr("value").unwrap_or_default().to_owned());
                }
                "length" => f.length = Some(parse_u64(facet)?),
                "minLength" => f.min_length = Some(parse_u64(facet)?),
                "maxLength" => f.max_length = Some(parse_u64(facet)?),
                "minInclusive" => {
                    let v = parse_i64(facet)?;
                    f.min_inclusive = Some(f.min_inclusive.map_or(v, |old| old.max(v)));
                }
                "maxInclusive" => {
                    let v = parse_i64(facet)?;
                    f.max_inclusive = Some(f.max_inclusive.map_or(v, |old| old.min(v)));
                }
                "minExclusive" => {
                    let v = parse_i64(facet)?.saturating_add(1);
                    f.min_inclusive = Some(f.min_inclusive.map_or(v, |old| old.max(v)));
                }
                "maxExclusive" => {
                    let v = parse_i64(facet)?.saturating_sub(1);
                    f.max_inclusive = Some(f.max_inclusive.map_or(v, |old| old.min(v)));
                }
                "whiteSpace" => f.collapse = facet.attr("value") == Some("collapse"),
                other => return Err(format!("facet xs:{other} is not supported")),
            }
            changed = true;
        }
        if !enumeration.is_empty() {
            base.facets.enumeration = enumeration;
        }
        if changed {
            base.named = None;
        }
        Ok(base)
    }

    fn complex_named(&mut self, name: &str) -> Result<Body, String> {
        if let Some(b) = self.memo_complex.get(name) {
            return Ok(b.clone());
        }
        let node = *self
            .complex
            .get(name)
            .ok_or_else(|| format!("complexType {name} is not defined"))?;
        let key = format!("complex:{name}");
        if !self.in_progress.insert(key.clone()) {
            return Err(format!("complexType {name} derives from itself"));
        }
        let body = self
            .complex_body(node, &pascal(name))
            .map_err(|e| format!("complexType {name}: {e}"))?;
        self.in_progress.remove(&key);
        self.memo_complex.insert(name.to_owned(), body.clone());
        Ok(body)
    }

    fn complex_body(&mut self, node: &Node, prefix: &str) -> Result<Body, String> {
        if node.attr("mixed") == Some("true") {
            return Err("mixed content is not supported".to_owned());
        }
        let mut content: Option<Particle> = None;
        let mut attrs: Vec<AttrDef> = Vec::new();
        for child in significant(node) {
            match child.name.as_str() {
                "sequence" | "choice" | "group" => {
                    if content.is_some() {
                        return Err("more than one content model".to_owned());
                    }
                    content = self.particle(child, prefix)?;
                }
                "attribute" | "attributeGroup" | "anyAttribute" => {
                    self.attribute_like(child, &mut attrs)?;
                }
                "simpleContent" => return self.simple_content(child),
                "complexContent" => return self.complex_content(child, prefix),
                other => return Err(format!("xs:{other} is not supported in a complexType")),
            }
        }
        Ok(Body::Complex { content, attrs })
    }

    fn attribute_like(&mut self, node: &Node, attrs: &mut Vec<AttrDef>) -> Result<(), String> {
        match node.name.as_str() {
            "attribute" => {
                if let Some(a) = self.attribute(node)? {
                    attrs.push(a);
                }
            }
            "attributeGroup" => {
                let r = node.attr("ref").ok_or("xs:attributeGroup without ref")?;
                let (_, local) = node.resolve_qname(r)?;
                attrs.extend(self.attr_group(&local)?);
            }
            "anyAttribute" => {} // other attributes are ignored anyway
            other => return Err(format!("unexpected xs:{other}")),
        }
        Ok(())
    }

    fn attribute(&mut self, node: &Node) -> Result<Option<AttrDef>, String> {
        if node.attr("ref").is_some() {
            return Err("attribute references are not supported".to_owned());
        }
        let name = node.attr("name").ok_or("xs:attribute without a name")?;
        let required = match node.attr("use") {
            Some("required") => true,
            Some("prohibited") => return Ok(None),
            _ => false,
        };
        let ty = match node.attr("type") {
            Some(t) => self.simple_by_qname(node, t)?,
            None => match significant(node).find(|c| c.name == "simpleType") {
                Some(st) => self.simple_from_node(st)?,
                None => builtin("anySimpleType")?,
            },
        };
        Ok(Some(AttrDef {
            name: name.to_owned(),
            ty,
            required,
        }))
    }

    fn attr_group(&mut self, name: &str) -> Result<Vec<AttrDef>, String> {
        if let Some(a) = self.memo_attr_group.get(name) {
            return Ok(a.clone());
        }
        let node = *self
            .attr_groups
            .get(name)
            .ok_or_else(|| format!("attributeGroup {name} is not defined"))?;
        let mut attrs = Vec::new();
        for child in significant(node) {
            self.attribute_like(child, &mut attrs)?;
        }
        self.memo_attr_group.insert(name.to_owned(), attrs.clone());
        Ok(attrs)
    }

    fn simple_content(&mut self, node: &Node) -> Result<Body, String> {
        let ext = significant(node).next().ok_or("empty xs:simpleContent")?;
        if ext.name != "extension" {
            return Err(format!("xs:simpleContent/xs:{} is not supported", ext.name));
        }
        let base = ext.attr("base").ok_or("xs:extension without a base")?;
        let (value, mut attrs) = match self.resolve(ext, base)? {
            Resolved::Builtin(local) => (builtin(&local)?, Vec::new()),
            Resolved::Simple(name) => (self.simple_named(&name)?, Vec::new()),
            Resolved::Complex(name) => match self.complex_named(&name)? {
                Body::Simple { value, attrs } => (value, attrs),
                Body::Complex { .. } => {
                    return Err(format!(
                        "simpleContent cannot extend complex content {name}"
                    ));
                }
            },
        };
        for child in significant(ext) {
            self.attribute_like(child, &mut attrs)?;
        }
        Ok(Body::Simple { value, attrs })
    }

    fn complex_content(&mut self, node: &Node, prefix: &str) -> Result<Body, String> {
        let ext = significant(node).next().ok_or("empty xs:complexContent")?;
        if ext.name != "extension" {
            return Err(format!(
                "xs:complexContent/xs:{} is not supported",
                ext.name
            ));
        }
        let base = ext.attr("base").ok_or("xs:extension without a base")?;
        let (base_content, mut attrs) = match self.resolve(ext, base)? {
            Resolved::Complex(name) => match self.complex_named(&name)? {
                Body::Complex { content, attrs } => (content, attrs),
                Body::Simple { .. } => {
                    return Err(format!(
                        "complexContent cannot extend simple content {name}"
                    ));
                }
            },
            _ => {
                return Err(format!(
                    "complexContent must extend a complexType, not {base}"
                ));
            }
        };
        let mut own: Option<Particle> = None;
        for child in significant(ext) {
            match child.name.as_str() {
                "sequence" | "choice" | "group" => {
                    if own.is_some() {
                        return Err("more than one content model".to_owned());
                    }
                    own = self.particle(child, prefix)?;
                }
                _ => self.attribute_like(child, &mut attrs)?,
            }
        }
        let content = match (base_content, own) {
            (Some(a), Some(b)) => Some(Particle::Seq {
                min: 1,
                max: Some(1),
                items: vec![a, b],
            }),
            (a, b) => a.or(b),
        };
        Ok(Body::Complex { content, attrs })
    }

    fn particle(&mut self, node: &Node, prefix: &str) -> Result<Option<Particle>, String> {
        let (min, max) = occurs(node)?;
        Ok(Some(match node.name.as_str() {
            "element" => Particle::Elem(self.local_element(node, prefix, min, max)?),
            "sequence" | "choice" => {
                let mut items = Vec::new();
                for child in significant(node) {
                    if let Some(p) = self.particle(child, prefix)? {
                        items.push(p);
                    }
                }
                if node.name == "sequence" {
                    Particle::Seq { min, max, items }
                } else {
                    let items = items
                        .into_iter()
                        .map(|p| self.choice_alternative(p, prefix))
                        .collect::<Result<Vec<_>, String>>()?;
                    Particle::Choice { min, max, items }
                }
            }
            "group" => {
                let r = node.attr("ref").ok_or("xs:group without ref")?;
                let (_, local) = node.resolve_qname(r)?;
                let inner = self.group(&local)?;
                if (min, max) == (1, Some(1)) {
                    inner
                } else {
                    Particle::Seq {
                        min,
                        max,
                        items: vec![inner],
                    }
                }
            }
            "any" => Particle::Any { min, max },
            "all" => return Err("xs:all is not supported".to_owned()),
            other => return Err(format!("unexpected xs:{other} in a content model")),
        }))
    }

    /// Turns a sequence alternative into a struct of its own named after
    /// its first element: `{prefix}{First}Seq`.
    fn choice_alternative(&mut self, p: Particle, prefix: &str) -> Result<Particle, String> {
        let Particle::Seq { min, max, items } = p else {
            return Ok(p);
        };
        if (min, max) != (1, Some(1)) {
            return Err(
                "an optional or repeated sequence inside a choice is not supported".to_owned(),
            );
        }
        let first = match items.first() {
            Some(Particle::Elem(e)) if e.min >= 1 => e.name.clone(),
            _ => {
                return Err(
                    "a sequence inside a choice must start with a required element".to_owned(),
                );
            }
        };
        let rust = format!("{prefix}{}Seq", pascal(&first));
        self.register(TypeDef {
            rust: rust.clone(),
            doc: format!(
                "The sequence starting with `{first}`: an alternative of a choice in `{prefix}`."
            ),
            body: Body::Complex {
                content: Some(Particle::Seq { min, max, items }),
                attrs: Vec::new(),
            },
            root: None,
            seq_only: true,
        })?;
        Ok(Particle::SeqAlt { rust, first })
    }

    fn group(&mut self, name: &str) -> Result<Particle, String> {
        if let Some(p) = self.memo_group.get(name) {
            return Ok(p.clone());
        }
        let node = *self
            .groups
            .get(name)
            .ok_or_else(|| format!("group {name} is not defined"))?;
        let key = format!("group:{name}");
        if !self.in_progress.insert(key.clone()) {
            return Err(format!("group {name} refers to itself"));
        }
        let model = significant(node)
            .next()
            .ok_or_else(|| format!("group {name} is empty"))?;
        let p = self
            .particle(model, &pascal(name))
            .map_err(|e| format!("group {name}: {e}"))?
            .ok_or_else(|| format!("group {name} is empty"))?;
        self.in_progress.remove(&key);
        self.memo_group.insert(name.to_owned(), p.clone());
        Ok(p)
    }

    fn local_element(
        &mut self,
        node: &Node,
        prefix: &str,
        min: u64,
        max: Option<u64>,
    ) -> Result<ElemDef, String> {
        if node.attr("ref").is_some() {
            return Err("element references are not supported".to_owned());
        }
        let name = node.attr("name").ok_or("xs:element without a name")?;
        let nillable = node.attr("nillable").is_some_and(|v| v.trim() == "true");
        let ty = self.element_type(node, name, &format!("{prefix}{}", pascal(name)), None)?;
        Ok(ElemDef {
            name: name.to_owned(),
            min,
            max,
            nillable,
            ty,
        })
    }

    /// The type of an element: by reference, or an anonymous one (a struct
    /// named `anon_name` for a complexType).
    fn element_type(
        &mut self,
        node: &Node,
        name: &str,
        anon_name: &str,
        root: Option<&str>,
    ) -> Result<TypeRef, String> {
        if let Some(t) = node.attr("type") {
            return Ok(match self.resolve(node, t)? {
                Resolved::Builtin(local) => TypeRef::Simple(builtin(&local)?),
                Resolved::Simple(n) => TypeRef::Simple(self.simple_named(&n)?),
                Resolved::Complex(n) => TypeRef::Complex(pascal(&n)),
            });
        }
        if let Some(ct) = significant(node).find(|c| c.name == "complexType") {
            let body = self
                .complex_body(ct, anon_name)
                .map_err(|e| format!("element {name}: {e}"))?;
            let owner = anon_name.strip_suffix(&pascal(name)).unwrap_or(anon_name);
            let doc = match root {
                Some(r) => format!("Global element `{r}`."),
                None => format!("Anonymous type of element `{name}` in `{owner}`."),
            };
            self.register(TypeDef {
                rust: anon_name.to_owned(),
                doc,
                body,
                root: root.map(str::to_owned),
                seq_only: false,
            })?;
            return Ok(TypeRef::Complex(anon_name.to_owned()));
        }
        if let Some(st) = significant(node).find(|c| c.name == "simpleType") {
            return Ok(TypeRef::Simple(self.simple_from_node(st)?));
        }
        Err(format!(
            "element {name} has no type (xs:anyType is not supported)"
        ))
    }

    fn global_element(&mut self, node: &Node) -> Result<(), String> {
        let name = node.attr("name").unwrap_or_default();
        let rust = pascal(name);
        let nillable = node.attr("nillable").is_some_and(|v| v.trim() == "true");
        let ty = self.element_type(node, name, &rust, Some(name))?;
        let anonymous = node.attr("type").is_none();
        let kind = match ty {
            TypeRef::Complex(_) if anonymous => RootKind::Struct,
            TypeRef::Complex(inner) => {
                self.reserve_name(&rust)?;
                RootKind::Newtype(inner)
            }
            TypeRef::Simple(ty) => {
                self.reserve_name(&rust)?;
                RootKind::Simple { ty, nillable }
            }
        };
        self.model.roots.push(RootDef {
            xml: name.to_owned(),
            rust,
            kind,
        });
        Ok(())
    }
}
