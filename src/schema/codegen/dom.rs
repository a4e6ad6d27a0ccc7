//! A minimal namespace-aware DOM for reading XSD and WSDL files at build
//! time. Keeps the in-scope prefix bindings of every element so that QName
//! values (`type="tns:tStatus"`) resolve whatever prefixes a file uses.
//! Comments, processing instructions, text and formatting are ignored.

use std::collections::BTreeMap;
use std::rc::Rc;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

pub const XS_NS: &str = "http://www.w3.org/2001/XMLSchema";
pub const WSDL_NS: &str = "http://schemas.xmlsoap.org/wsdl/";
pub const WSDL_SOAP11_NS: &str = "http://schemas.xmlsoap.org/wsdl/soap/";
pub const WSDL_SOAP12_NS: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";

/// Prefix → namespace bindings in scope ("" is the default namespace).
pub type Scope = Rc<BTreeMap<String, String>>;

#[derive(Debug, Clone)]
pub struct Node {
    pub ns: Option<String>,
    pub name: String,
    /// Un-prefixed attributes only (XSD/WSDL structure never needs others).
    pub attrs: BTreeMap<String, String>,
    pub children: Vec<Node>,
    pub scope: Scope,
}

impl Node {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.name == name
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }

    /// Children in namespace `ns` (any local name).
    pub fn children_in<'a>(&'a self, ns: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children
            .iter()
            .filter(move |c| c.ns.as_deref() == Some(ns))
    }

    /// Resolves a QName attribute value to (namespace, local name).
    pub fn resolve_qname(&self, value: &str) -> Result<(Option<String>, String), String> {
        let (prefix, local) = match value.split_once(':') {
            Some((p, l)) => (p, l),
            None => ("", value),
        };
        match self.scope.get(prefix) {
            Some(ns) => Ok((Some(ns.clone()), local.to_owned())),
            None if prefix.is_empty() => Ok((None, local.to_owned())),
            None => Err(format!("undeclared prefix in QName \"{value}\"")),
        }
    }

    /// Structural equality ignoring `xs:annotation` and prefix choices.
    pub fn same_structure(&self, other: &Node) -> bool {
        let significant = |n: &Node| -> Vec<Node> {
            n.children
                .iter()
                .filter(|c| !c.is(XS_NS, "annotation"))
                .cloned()
                .collect()
        };
        let qname_attr = |n: &Node, k: &str, v: &str| -> String {
            if matches!(k, "type" | "base" | "ref") {
                match n.resolve_qname(v) {
                    Ok((ns, l)) => format!("{{{}}}{l}", ns.unwrap_or_default()),
                    Err(_) => v.to_owned(),
                }
            } else {
                v.to_owned()
            }
        };
        if self.ns != other.ns || self.name != other.name || self.attrs.len() != other.attrs.len() {
            return false;
        }
        for (k, v) in &self.attrs {
            match other.attrs.get(k) {
                Some(ov) if qname_attr(self, k, v) == qname_attr(other, k, ov) => {}
                _ => return false,
            }
        }
        let (a, b) = (significant(self), significant(other));
        a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.same_structure(y))
    }
}

/// Parses a whole file into its root node.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Node, String> {
    let text = std::str::from_utf8(bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes))
        .map_err(|e| format!("{file}: not UTF-8: {e}"))?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("{file}: XML error at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(s) => {
                let parent_scope = stack.last().map(|n| n.scope.clone());
                stack.push(open(file, &s, parent_scope)?);
            }
            Event::Empty(s) => {
                let parent_scope = stack.last().map(|n| n.scope.clone());
                let node = open(file, &s, parent_scope)?;
                close(&mut stack, &mut root, node);
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| format!("{file}: unbalanced end tag"))?;
                close(&mut stack, &mut root, node);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    root.ok_or_else(|| format!("{file}: no root element"))
}

fn close(stack: &mut [Node], root: &mut Option<Node>, node: Node) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => *root = Some(node),
    }
}

fn open(file: &str, s: &BytesStart<'_>, parent_scope: Option<Scope>) -> Result<Node, String> {
    let mut bindings: Vec<(String, String)> = Vec::new();
    let mut attrs = BTreeMap::new();
    for a in s.attributes() {
        let a = a.map_err(|e| format!("{file}: bad attribute: {e}"))?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = a
            .unescape_value()
            .map_err(|e| format!("{file}: bad attribute value: {e}"))?
            .into_owned();
        if key == "xmlns" {
            bindings.push((String::new(), value));
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            bindings.push((prefix.to_owned(), value));
        } else if !key.contains(':') {
            attrs.insert(key, value);
        }
    }
    let scope = match (parent_scope, bindings.is_empty()) {
        (Some(scope), true) => scope,
        (parent, _) => {
            let mut map = parent.map(|p| (*p).clone()).unwrap_or_default();
            map.extend(bindings);
            Rc::new(map)
        }
    };
    let qname = String::from_utf8_lossy(s.name().as_ref()).into_owned();
    let (prefix, local) = match qname.split_once(':') {
        Some((p, l)) => (p.to_owned(), l.to_owned()),
        None => (String::new(), qname.clone()),
    };
    let ns = match scope.get(&prefix) {
        Some(ns) if !ns.is_empty() => Some(ns.clone()),
        Some(_) => None,
        None if prefix.is_empty() => None,
        None => return Err(format!("{file}: undeclared prefix on <{qname}>")),
    };
    Ok(Node {
        ns,
        name: local,
        attrs,
        children: Vec::new(),
        scope,
    })
}
