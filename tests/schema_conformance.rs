//! Conformance of the project's `schemas/` and `wsdl/` with the published ISDS 3.11 files
//! (`isds_stat.wsdl` and `IsdsStat.xsd`, which 3.11 did not republish, with their 3.09
//! versions), and what the project still shares with 3.09.
//!
//! Both sides are reduced to a canonical tree: comments, processing instructions,
//! whitespace-only text and `xs:annotation` subtrees are dropped; element and attribute
//! names are resolved to `{namespace}local`; QName-valued attributes (`type`, `base`,
//! `ref`, `element`, `binding`, `message`) are resolved the same way; attributes are
//! sorted by name while child order is kept. The SOAP address is reduced to its endpoint
//! path (the part after `/DS/`), since the host differs by design. The trees must be
//! equal; on a mismatch the first differing path is reported.
//!
//! The published files are looked up in `../shared/isds-reference/official-3.11` and
//! `../shared/isds-reference/official` (3.09) next to the repository checkout. If they are
//! missing, every check fails: a conformance check that cannot run must never pass.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{QName, ResolveResult};
use quick_xml::reader::NsReader;

const XS: &str = "http://www.w3.org/2001/XMLSchema";
const WSDL: &str = "http://schemas.xmlsoap.org/wsdl/";
const SOAP: &str = "http://schemas.xmlsoap.org/wsdl/soap/";
const SOAP12: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";
const TNS: &str = "http://isds.czechpoint.cz/v20";
const XMIME: &str = "http://www.w3.org/2005/05/xmlmime";

/// Unprefixed attributes whose values are QNames and so depend on prefix bindings.
const QNAME_ATTRS: &[&str] = &["type", "base", "ref", "element", "binding", "message"];

/// Placeholder host every project WSDL uses in its SOAP address.
const ADDRESS_PLACEHOLDER: &str = "http://localhost:8080/DS/";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Element(Node),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    /// `{namespace}local`, or just `local` for names in no namespace.
    name: String,
    /// Sorted by name.
    attrs: Vec<(String, String)>,
    children: Vec<Item>,
}

fn expanded(ns: &ResolveResult, local: &[u8], what: &str) -> Result<String, String> {
    let local = String::from_utf8_lossy(local);
    match ns {
        ResolveResult::Bound(ns) => Ok(format!("{{{}}}{local}", String::from_utf8_lossy(ns.0))),
        ResolveResult::Unbound => Ok(local.into_owned()),
        ResolveResult::Unknown(p) => Err(format!(
            "{what} `{}:{local}` uses an undeclared prefix",
            String::from_utf8_lossy(p)
        )),
    }
}

fn make_node(reader: &NsReader<&[u8]>, e: &BytesStart) -> Result<Node, String> {
    let (ns, local) = reader.resolve_element(e.name());
    let name = expanded(&ns, local.as_ref(), "element")?;
    let is_address = name == format!("{{{SOAP}}}address") || name == format!("{{{SOAP12}}}address");
    let mut attrs = Vec::new();
    for attr in e.attributes() {
        let attr = attr.map_err(|err| format!("bad attribute in <{name}>: {err}"))?;
        if attr.key.as_namespace_binding().is_some() {
            continue;
        }
        let (ans, alocal) = reader.resolve_attribute(attr.key);
        let aname = expanded(&ans, alocal.as_ref(), "attribute")?;
        let raw = attr
            .unescape_value()
            .map_err(|err| format!("bad value of {aname} in <{name}>: {err}"))?;
        let value = if QNAME_ATTRS.contains(&aname.as_str()) {
            let (vns, vlocal) = reader.resolve_element(QName(raw.as_bytes()));
            expanded(&vns, vlocal.as_ref(), "QName value")?
        } else if is_address && aname == "location" {
            match raw.rsplit_once("/DS/") {
                Some((_, endpoint)) => format!("…/DS/{endpoint}"),
                None => raw.into_owned(),
            }
        } else {
            raw.into_owned()
        };
        attrs.push((aname, value));
    }
    attrs.sort();
    Ok(Node {
        name,
        attrs,
        children: Vec::new(),
    })
}

/// Parses `text` into its canonical tree (see the module documentation).
fn canonical(text: &str) -> Result<Node, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    let annotation = format!("{{{XS}}}annotation");
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    // Depth inside a dropped `xs:annotation` subtree; 0 when not inside one.
    let mut skip = 0usize;
    loop {
        let pos = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|err| format!("XML error near byte {pos}: {err}"))?;
        match event {
            Event::Start(e) => {
                if skip > 0 {
                    skip += 1;
                    continue;
                }
                let node = make_node(&reader, &e)?;
                if node.name == annotation {
                    skip = 1;
                } else {
                    stack.push(node);
                }
            }
            Event::Empty(e) => {
                if skip > 0 {
                    continue;
                }
                let node = make_node(&reader, &e)?;
                if node.name == annotation {
                    continue;
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Item::Element(node)),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                let node = stack.pop().ok_or("unbalanced end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Item::Element(node)),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                if skip > 0 {
                    continue;
                }
                let s = t.unescape().map_err(|err| format!("bad text: {err}"))?;
                let s = s.trim();
                if !s.is_empty()
                    && let Some(parent) = stack.last_mut()
                {
                    parent.children.push(Item::Text(s.to_owned()));
                }
            }
            Event::CData(t) => {
                if skip > 0 {
                    continue;
                }
                let s = String::from_utf8_lossy(&t);
                let s = s.trim();
                if !s.is_empty()
                    && let Some(parent) = stack.last_mut()
                {
                    parent.children.push(Item::Text(s.to_owned()));
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err("document ends inside an element".into());
    }
    root.ok_or_else(|| "document has no root element".into())
}

/// Readable form of an expanded name, using the customary prefixes.
fn short(name: &str) -> String {
    let Some(rest) = name.strip_prefix('{') else {
        return name.to_owned();
    };
    let Some((ns, local)) = rest.split_once('}') else {
        return name.to_owned();
    };
    let prefix = match ns {
        XS => "xs",
        WSDL => "wsdl",
        SOAP => "soap",
        SOAP12 => "soap12",
        TNS => "tns",
        XMIME => "xmime",
        other => return format!("{{{other}}}{local}"),
    };
    format!("{prefix}:{local}")
}

fn segment(node: &Node, index: usize) -> String {
    let mut s = format!("{}[{index}]", short(&node.name));
    if let Some((_, v)) = node.attrs.iter().find(|(k, _)| k == "name") {
        let _ = write!(s, "(name={v})");
    }
    s
}

fn describe(item: Option<&Item>) -> String {
    match item {
        None => "nothing".into(),
        Some(Item::Text(t)) => format!("text {t:?}"),
        Some(Item::Element(n)) => {
            let attrs: Vec<String> = n
                .attrs
                .iter()
                .map(|(k, v)| format!("{}={v:?}", short(k)))
                .collect();
            format!("<{} {}>", short(&n.name), attrs.join(" "))
        }
    }
}

/// First difference between `official` and `ours`, as a readable message.
fn first_difference(official: &Node, ours: &Node, path: &str) -> Option<String> {
    if official.name != ours.name {
        return Some(format!(
            "at {path}: element name differs: official {} vs project {}",
            short(&official.name),
            short(&ours.name)
        ));
    }
    if official.attrs != ours.attrs {
        let mut keys: Vec<&String> = official
            .attrs
            .iter()
            .chain(ours.attrs.iter())
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let a = official
                .attrs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v);
            let b = ours.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v);
            if a != b {
                return Some(format!(
                    "at {path}: attribute {} differs: official {a:?} vs project {b:?}",
                    short(key)
                ));
            }
        }
    }
    let n = official.children.len().max(ours.children.len());
    for i in 0..n {
        let a = official.children.get(i);
        let b = ours.children.get(i);
        match (a, b) {
            (Some(Item::Element(a)), Some(Item::Element(b))) => {
                let p = format!("{path}/{}", segment(a, i));
                if let Some(d) = first_difference(a, b, &p) {
                    return Some(d);
                }
            }
            (a, b) if a == b => {}
            (a, b) => {
                return Some(format!(
                    "at {path}, child #{i}: official has {} but project has {}",
                    describe(a),
                    describe(b)
                ));
            }
        }
    }
    None
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A folder of the ISDS reference, or a loud failure.
fn reference_dir(name: &str, version: &str) -> PathBuf {
    let dir = repo_root().join("../shared/isds-reference").join(name);
    if !dir.is_dir() {
        panic!(
            "\n\n*** SCHEMA CONFORMANCE CHECK COULD NOT RUN ***\n\
             The published ISDS {version} WSDL/XSD files were not found in\n  {}\n\
             (expected as `shared/isds-reference/{name}` next to the repository checkout).\n\
             Provide them there; this check must not pass without them.\n",
            dir.display()
        );
    }
    dir
}

/// The files the project follows: 3.11, except the statistics service,
/// which 3.11 left at its 3.09 files.
fn official_path(file: &str) -> PathBuf {
    if STILL_3_09.contains(&file) {
        reference_dir("official", "3.09").join(file)
    } else {
        reference_dir("official-3.11", "3.11").join(file)
    }
}

/// Files 3.11 did not republish.
const STILL_3_09: &[&str] = &["IsdsStat.xsd", "isds_stat.wsdl"];

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// Asserts that the project's `subdir/file` matches the published `file`.
fn check(subdir: &str, file: &str) {
    if let Some(diff) = difference(&official_path(file), subdir, file) {
        panic!("{subdir}/{file} does not conform to the published {file}:\n  {diff}");
    }
}

/// The first difference between the published file at `official_path`
/// and the project's `subdir/file`, if any.
fn difference(official_path: &Path, subdir: &str, file: &str) -> Option<String> {
    let ours_path = repo_root().join(subdir).join(file);
    let official = canonical(&read(official_path))
        .unwrap_or_else(|err| panic!("cannot parse {}: {err}", official_path.display()));
    let ours = canonical(&read(&ours_path))
        .unwrap_or_else(|err| panic!("cannot parse {}: {err}", ours_path.display()));
    let root = format!("/{}", segment(&official, 0));
    first_difference(&official, &ours, &root)
}

/// Asserts that a project WSDL uses the placeholder SOAP address.
fn check_address(file: &str) {
    let path = repo_root().join("wsdl").join(file);
    let text = read(&path);
    let count = text.matches("location=\"").count();
    let placeholders = text
        .matches(&format!("location=\"{ADDRESS_PLACEHOLDER}"))
        .count();
    assert!(
        count == 1 && placeholders == 1,
        "wsdl/{file}: expected exactly one SOAP address of the form {ADDRESS_PLACEHOLDER}<endpoint>"
    );
}

#[test]
fn dm_base_types_xsd() {
    check("schemas", "dmBaseTypes.xsd");
}

#[test]
fn db_types_xsd() {
    check("schemas", "dbTypes.xsd");
}

#[test]
fn isds_stat_xsd() {
    check("schemas", "IsdsStat.xsd");
}

const WSDLS: &[&str] = &[
    "dm_operations.wsdl",
    "dm_info.wsdl",
    "db_search.wsdl",
    "db_access.wsdl",
    "db_manipulations.wsdl",
    "dm_VoDZ.wsdl",
    "dm_arch.wsdl",
    "isds_stat.wsdl",
];

#[test]
fn dm_operations_wsdl() {
    check("wsdl", "dm_operations.wsdl");
}

#[test]
fn dm_info_wsdl() {
    check("wsdl", "dm_info.wsdl");
}

#[test]
fn db_search_wsdl() {
    check("wsdl", "db_search.wsdl");
}

#[test]
fn db_access_wsdl() {
    check("wsdl", "db_access.wsdl");
}

#[test]
fn db_manipulations_wsdl() {
    check("wsdl", "db_manipulations.wsdl");
}

#[test]
fn dm_vodz_wsdl() {
    check("wsdl", "dm_VoDZ.wsdl");
}

#[test]
fn dm_arch_wsdl() {
    check("wsdl", "dm_arch.wsdl");
}

#[test]
fn isds_stat_wsdl() {
    check("wsdl", "isds_stat.wsdl");
}

#[test]
fn wsdl_addresses_are_placeholders() {
    for file in WSDLS {
        check_address(file);
    }
}

/// The 3.09 files still load, and the project differs from them exactly
/// where 3.11 changed the interface: the FindDataBox2 input and the
/// searchScope lists (dbTypes.xsd) and dm_arch's binding and port type
/// names. Everything else a 3.09 client was written against is unchanged.
#[test]
fn the_3_09_files_load_and_differ_only_where_3_11_changed() {
    let old = reference_dir("official", "3.09");
    let changed_in_3_11 = ["dbTypes.xsd", "dm_arch.wsdl"];
    for (subdir, file) in [
        ("schemas", "dmBaseTypes.xsd"),
        ("schemas", "dbTypes.xsd"),
        ("schemas", "IsdsStat.xsd"),
    ]
    .into_iter()
    .chain(WSDLS.iter().map(|f| ("wsdl", *f)))
    {
        let diff = difference(&old.join(file), subdir, file);
        if changed_in_3_11.contains(&file) {
            let diff = diff.unwrap_or_else(|| panic!("{file} still equals its 3.09 version"));
            let expected = if file == "dbTypes.xsd" {
                "tDbOwnerInfoExt21"
            } else {
                "dmArch"
            };
            assert!(
                diff.contains(expected),
                "{file}: the first difference from 3.09 is not the 3.11 change: {diff}"
            );
        } else {
            assert_eq!(diff, None, "{subdir}/{file} differs from 3.09");
        }
    }
}

/// The normaliser itself: prefixes do not matter, cardinalities and order do.
#[test]
fn canonical_form_sees_what_matters() {
    let a = r#"<?xml version="1.0"?><!-- c --><xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:t">
        <xs:element name="e" type="tns:t" minOccurs="0"><xs:annotation><xs:documentation>x</xs:documentation></xs:annotation></xs:element>
        <xs:element name="f" type="xs:string"/></xs:schema>"#;
    let same = r#"<s:schema xmlns:s="http://www.w3.org/2001/XMLSchema" xmlns:q="urn:t"><s:element minOccurs="0" type="q:t" name="e"/><s:element name="f" type="s:string"/></s:schema>"#;
    let occurs = r#"<s:schema xmlns:s="http://www.w3.org/2001/XMLSchema" xmlns:q="urn:t"><s:element minOccurs="1" type="q:t" name="e"/><s:element name="f" type="s:string"/></s:schema>"#;
    let order = r#"<s:schema xmlns:s="http://www.w3.org/2001/XMLSchema" xmlns:q="urn:t"><s:element name="f" type="s:string"/><s:element minOccurs="0" type="q:t" name="e"/></s:schema>"#;
    let qname = r#"<s:schema xmlns:s="http://www.w3.org/2001/XMLSchema" xmlns:q="urn:other"><s:element minOccurs="0" type="q:t" name="e"/><s:element name="f" type="s:string"/></s:schema>"#;
    let parse = |t: &str| canonical(t).unwrap_or_else(|err| panic!("{err}"));
    let base = parse(a);
    assert_eq!(first_difference(&base, &parse(same), ""), None);
    for (label, other) in [("occurs", occurs), ("order", order), ("qname", qname)] {
        assert!(
            first_difference(&base, &parse(other), "").is_some(),
            "{label}: difference not detected"
        );
    }
}
