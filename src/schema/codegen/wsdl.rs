//! WSDL files → operation table.

use std::collections::BTreeMap;

use super::dom::{Node, WSDL_NS, WSDL_SOAP11_NS, WSDL_SOAP12_NS};
use super::names::pascal;
use super::xsd::ISDS_NS;

/// The `WsdlFamily` variants, in the order the table is emitted.
pub const FAMILY_ORDER: &[&str] = &[
    "DmOperations",
    "DmInfo",
    "DbSearch",
    "DbAccess",
    "DbManipulations",
    "DmVoDZ",
    "DmArch",
    "IsdsStat",
];

#[derive(Debug, Clone)]
pub struct Family {
    /// `WsdlFamily` variant name.
    pub variant: String,
    pub file_name: String,
    pub endpoint: String,
    pub soap12: bool,
    pub operations: Vec<Operation>,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub name: String,
    pub input: String,
    pub output: String,
}

/// Reads every WSDL; returns the families in [`FAMILY_ORDER`].
pub fn build(wsdls: &[(String, Node)]) -> Result<Vec<Family>, String> {
    let mut by_variant: BTreeMap<String, Family> = BTreeMap::new();
    for (file, root) in wsdls {
        let stem = file.strip_suffix(".wsdl").unwrap_or(file);
        let variant = pascal(stem);
        if !FAMILY_ORDER.contains(&variant.as_str()) {
            return Err(format!("{file}: not one of the known WSDL families"));
        }
        let family = family(file, &variant, root).map_err(|e| format!("{file}: {e}"))?;
        by_variant.insert(variant, family);
    }
    let mut out = Vec::new();
    for v in FAMILY_ORDER {
        match by_variant.remove(*v) {
            Some(f) => out.push(f),
            None => return Err(format!("no WSDL file for family {v}")),
        }
    }
    Ok(out)
}

fn family(file: &str, variant: &str, root: &Node) -> Result<Family, String> {
    if !root.is(WSDL_NS, "definitions") {
        return Err("root is not wsdl:definitions".to_owned());
    }
    let mut messages: BTreeMap<&str, String> = BTreeMap::new();
    for m in root.children_in(WSDL_NS).filter(|c| c.name == "message") {
        let name = m.attr("name").ok_or("message without a name")?;
        let part = m
            .children_in(WSDL_NS)
            .find(|c| c.name == "part")
            .ok_or_else(|| format!("message {name} has no part"))?;
        let element = part
            .attr("element")
            .ok_or_else(|| format!("message {name}: part without an element"))?;
        let (ns, local) = part.resolve_qname(element)?;
        if ns.as_deref() != Some(ISDS_NS) {
            return Err(format!(
                "message {name}: element {element} is not in {ISDS_NS}"
            ));
        }
        messages.insert(name, local);
    }
    let message_element = |op: &Node, dir: &str| -> Result<String, String> {
        let opname = op.attr("name").unwrap_or_default();
        let msg = op
            .children_in(WSDL_NS)
            .find(|c| c.name == dir)
            .and_then(|c| c.attr("message"))
            .ok_or_else(|| format!("operation {opname} has no {dir} message"))?;
        let (_, local) = op.resolve_qname(msg)?;
        messages
            .get(local.as_str())
            .cloned()
            .ok_or_else(|| format!("operation {opname}: message {msg} is not defined"))
    };
    let port_type = root
        .children_in(WSDL_NS)
        .find(|c| c.name == "portType")
        .ok_or("no portType")?;
    let mut operations = Vec::new();
    for op in port_type
        .children_in(WSDL_NS)
        .filter(|c| c.name == "operation")
    {
        operations.push(Operation {
            name: op
                .attr("name")
                .ok_or("operation without a name")?
                .to_owned(),
            input: message_element(op, "input")?,
            output: message_element(op, "output")?,
        });
    }
    let binding = root
        .children_in(WSDL_NS)
        .find(|c| c.name == "binding")
        .ok_or("no binding")?;
    let soap12 = if binding
        .children_in(WSDL_SOAP12_NS)
        .any(|c| c.name == "binding")
    {
        true
    } else if binding
        .children_in(WSDL_SOAP11_NS)
        .any(|c| c.name == "binding")
    {
        false
    } else {
        return Err("binding is neither SOAP 1.1 nor SOAP 1.2".to_owned());
    };
    let location = root
        .children_in(WSDL_NS)
        .filter(|c| c.name == "service")
        .flat_map(|s| s.children_in(WSDL_NS).filter(|c| c.name == "port"))
        .flat_map(|p| p.children.iter())
        .find(|a| {
            a.name == "address" && matches!(a.ns.as_deref(), Some(WSDL_SOAP11_NS | WSDL_SOAP12_NS))
        })
        .and_then(|a| a.attr("location"))
        .ok_or("no soap:address location in the service")?;
    let endpoint = location
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    if endpoint.is_empty() {
        return Err(format!("cannot take an endpoint from location {location}"));
    }
    Ok(Family {
        variant: variant.to_owned(),
        file_name: file.to_owned(),
        endpoint,
        soap12,
        operations,
    })
}
