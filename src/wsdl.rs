//! The project's WSDL and XSD documents, embedded in the binary and served
//! so that a client can load the interface straight from the gateway.

use crate::http::routes::Endpoint;
use crate::schema::WsdlFamily;

/// Where the project's WSDLs point before the gateway rewrites them.
const PLACEHOLDER_ORIGIN: &str = "http://localhost:8080/DS/";

/// Hosts of the real ISDS whose service addresses are rewritten too: the
/// current ones (WSDL 3.11), the old ones (3.09 and earlier) and the public
/// test instance.
const ISDS_DOMAINS: &[&str] = &["datovka.gov.cz", "mojedatovaschranka.cz", "czebox.cz"];

/// The schemas the WSDLs include, by file name.
pub static SCHEMAS: &[(&str, &str)] = &[
    (
        "dmBaseTypes.xsd",
        include_str!("../schemas/dmBaseTypes.xsd"),
    ),
    ("dbTypes.xsd", include_str!("../schemas/dbTypes.xsd")),
    ("IsdsStat.xsd", include_str!("../schemas/IsdsStat.xsd")),
];

/// The WSDL of `family` with its service address set to `origin` (scheme
/// and authority, e.g. `https://127.0.0.1:8443`) and `prefix` (the login
/// prefix, e.g. `/cert`, empty for Basic).
pub fn render(family: WsdlFamily, origin: &str, prefix: &str) -> String {
    let address = format!("{}{prefix}/DS/", origin.trim_end_matches('/'));
    rewrite_addresses(family.text(), &address)
}

/// `wsdl` with every service address (`location="…"`) that points at the
/// placeholder or at an ISDS host ([`ISDS_DOMAINS`], any login prefix)
/// pointed at `address` (ending in `/DS/`) instead; the endpoint after
/// `/DS/` is kept.
fn rewrite_addresses(wsdl: &str, address: &str) -> String {
    const ATTR: &str = "location=\"";
    let mut out = String::with_capacity(wsdl.len());
    let mut rest = wsdl;
    while let Some(at) = rest.find(ATTR) {
        let value_start = at + ATTR.len();
        out.push_str(&rest[..value_start]);
        rest = &rest[value_start..];
        let value = &rest[..rest.find('"').unwrap_or(rest.len())];
        if let Some(endpoint) = isds_endpoint(value) {
            out.push_str(address);
            out.push_str(endpoint);
            rest = &rest[value.len()..];
        }
    }
    out.push_str(rest);
    out
}

/// The endpoint (after `/DS/`) of an address the gateway stands in for.
fn isds_endpoint(url: &str) -> Option<&str> {
    if let Some(endpoint) = url.strip_prefix(PLACEHOLDER_ORIGIN) {
        return Some(endpoint);
    }
    let after_scheme = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (authority, path) = after_scheme.split_at(after_scheme.find('/')?);
    let host = authority.split(':').next().unwrap_or(authority);
    let ours = ISDS_DOMAINS
        .iter()
        .any(|d| host == *d || host.strip_suffix(d).is_some_and(|h| h.ends_with('.')));
    if !ours {
        return None;
    }
    path.find("/DS/").map(|i| &path[i + "/DS/".len()..])
}

/// A WSDL family by its file name (`db_access.wsdl`) or family name
/// (`db_access`).
pub fn wsdl_by_name(name: &str) -> Option<WsdlFamily> {
    let name = name.strip_suffix(".wsdl").unwrap_or(name);
    WsdlFamily::ALL
        .into_iter()
        .find(|f| f.file_name().strip_suffix(".wsdl") == Some(name))
}

/// The family `?wsdl` serves at `endpoint`, optionally chosen by name among
/// those sharing it (`DsManage?wsdl=db_manipulations`); without a choice,
/// the first family of the endpoint.
pub fn wsdl_for_endpoint(endpoint: Endpoint, choice: Option<&str>) -> Option<WsdlFamily> {
    let served_here = |f: &WsdlFamily| f.endpoint() == endpoint.segment();
    match choice.filter(|c| !c.is_empty()) {
        Some(name) => wsdl_by_name(name).filter(served_here),
        None => WsdlFamily::ALL.into_iter().find(served_here),
    }
}

/// The `?wsdl=` choices served at `endpoint` (WSDL file names without
/// `.wsdl`), for a hint when a choice is unknown.
pub fn wsdl_choices(endpoint: Endpoint) -> Vec<&'static str> {
    WsdlFamily::ALL
        .into_iter()
        .filter(|f| f.endpoint() == endpoint.segment())
        .filter_map(|f| f.file_name().strip_suffix(".wsdl"))
        .collect()
}

/// A schema document by file name.
pub fn schema_by_name(name: &str) -> Option<&'static str> {
    SCHEMAS
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wsdl_carries_the_placeholder_address_once() {
        for f in WsdlFamily::ALL {
            assert_eq!(
                f.text().matches(PLACEHOLDER_ORIGIN).count(),
                1,
                "{} must name its address as {PLACEHOLDER_ORIGIN}{}",
                f.file_name(),
                f.endpoint()
            );
            let rendered = render(f, "https://127.0.0.1:9443", "/cert");
            assert!(
                rendered.contains(&format!(
                    "https://127.0.0.1:9443/cert/DS/{}\"",
                    f.endpoint()
                )),
                "{}",
                f.file_name()
            );
        }
    }

    #[test]
    fn isds_addresses_old_and_new_are_rewritten_others_kept() {
        let to = "https://gw.example:8443/cert/DS/";
        for (address, expected) in [
            (
                "https://ws1.datovka.gov.cz/DS/dz",
                "https://gw.example:8443/cert/DS/dz",
            ),
            (
                "https://ws2.datovka.gov.cz/DS/vodz",
                "https://gw.example:8443/cert/DS/vodz",
            ),
            (
                "https://ws1c.mojedatovaschranka.cz/cert/DS/df",
                "https://gw.example:8443/cert/DS/df",
            ),
            (
                "https://ws1.czebox.cz:443/DS/DsManage",
                "https://gw.example:8443/cert/DS/DsManage",
            ),
            (
                "http://localhost:8080/DS/arch",
                "https://gw.example:8443/cert/DS/arch",
            ),
            ("https://example.com/DS/dz", "https://example.com/DS/dz"),
            (
                "https://notdatovka.gov.cz/DS/dz",
                "https://notdatovka.gov.cz/DS/dz",
            ),
            (
                "https://ws1.datovka.gov.cz/other",
                "https://ws1.datovka.gov.cz/other",
            ),
        ] {
            let wsdl =
                format!("<port><soap:address location=\"{address}\"/></port><x location=\"\"/>");
            assert_eq!(
                rewrite_addresses(&wsdl, to),
                format!("<port><soap:address location=\"{expected}\"/></port><x location=\"\"/>"),
                "{address}"
            );
        }
    }

    #[test]
    fn every_endpoint_serves_a_wsdl_and_choices_stay_on_their_endpoint() {
        for e in Endpoint::ALL {
            assert!(wsdl_for_endpoint(e, None).is_some(), "{e}");
        }
        assert_eq!(
            wsdl_for_endpoint(Endpoint::DsManage, Some("db_manipulations")),
            Some(WsdlFamily::DbManipulations)
        );
        assert!(wsdl_for_endpoint(Endpoint::Dz, Some("db_access")).is_none());
    }
}
