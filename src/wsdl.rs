//! The project's WSDL and XSD documents, embedded in the binary and served
//! so that a client can load the interface straight from the gateway.

use crate::http::routes::Endpoint;

/// Where the project's WSDLs point before the gateway rewrites them.
const PLACEHOLDER_ORIGIN: &str = "http://localhost:8080/DS/";

/// One WSDL family: its file, the endpoint serving it, its text.
#[derive(Debug)]
pub struct WsdlDocument {
    pub file_name: &'static str,
    pub endpoint: Endpoint,
    text: &'static str,
}

/// Every WSDL, in the order of `Endpoint::ALL`; the first of an endpoint is
/// the one `?wsdl` serves there.
pub static WSDLS: &[WsdlDocument] = &[
    WsdlDocument {
        file_name: "dm_operations.wsdl",
        endpoint: Endpoint::Dz,
        text: include_str!("../wsdl/dm_operations.wsdl"),
    },
    WsdlDocument {
        file_name: "dm_info.wsdl",
        endpoint: Endpoint::Dx,
        text: include_str!("../wsdl/dm_info.wsdl"),
    },
    WsdlDocument {
        file_name: "db_search.wsdl",
        endpoint: Endpoint::Df,
        text: include_str!("../wsdl/db_search.wsdl"),
    },
    WsdlDocument {
        file_name: "db_manipulations.wsdl",
        endpoint: Endpoint::DsManage,
        text: include_str!("../wsdl/db_manipulations.wsdl"),
    },
    WsdlDocument {
        file_name: "db_access.wsdl",
        endpoint: Endpoint::DsManage,
        text: include_str!("../wsdl/db_access.wsdl"),
    },
    WsdlDocument {
        file_name: "isds_stat.wsdl",
        endpoint: Endpoint::DsManage,
        text: include_str!("../wsdl/isds_stat.wsdl"),
    },
    WsdlDocument {
        file_name: "dm_VoDZ.wsdl",
        endpoint: Endpoint::Vodz,
        text: include_str!("../wsdl/dm_VoDZ.wsdl"),
    },
    WsdlDocument {
        file_name: "dm_arch.wsdl",
        endpoint: Endpoint::Arch,
        text: include_str!("../wsdl/dm_arch.wsdl"),
    },
];

/// The schemas the WSDLs include, by file name.
pub static SCHEMAS: &[(&str, &str)] = &[
    (
        "dmBaseTypes.xsd",
        include_str!("../schemas/dmBaseTypes.xsd"),
    ),
    ("dbTypes.xsd", include_str!("../schemas/dbTypes.xsd")),
    ("IsdsStat.xsd", include_str!("../schemas/IsdsStat.xsd")),
];

impl WsdlDocument {
    /// The WSDL with its service address set to `origin` (scheme and
    /// authority, e.g. `https://127.0.0.1:8443`) and `prefix` (the login
    /// prefix, e.g. `/cert`, empty for Basic).
    pub fn render(&self, origin: &str, prefix: &str) -> String {
        let address = format!("{}{prefix}/DS/", origin.trim_end_matches('/'));
        self.text.replace(PLACEHOLDER_ORIGIN, &address)
    }
}

/// A WSDL by its file name (`db_access.wsdl`) or family name (`db_access`).
pub fn wsdl_by_name(name: &str) -> Option<&'static WsdlDocument> {
    let name = name.strip_suffix(".wsdl").unwrap_or(name);
    WSDLS
        .iter()
        .find(|w| w.file_name.strip_suffix(".wsdl") == Some(name))
}

/// The WSDL `?wsdl` serves at `endpoint`, optionally chosen by name among
/// the families sharing it (`DsManage?wsdl=db_access`).
pub fn wsdl_for_endpoint(
    endpoint: Endpoint,
    choice: Option<&str>,
) -> Option<&'static WsdlDocument> {
    match choice.filter(|c| !c.is_empty()) {
        Some(name) => wsdl_by_name(name).filter(|w| w.endpoint == endpoint),
        None => WSDLS.iter().find(|w| w.endpoint == endpoint),
    }
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
        for w in WSDLS {
            assert_eq!(
                w.text.matches(PLACEHOLDER_ORIGIN).count(),
                1,
                "{} must name its address as {PLACEHOLDER_ORIGIN}{}",
                w.file_name,
                w.endpoint
            );
            let rendered = w.render("https://127.0.0.1:9443", "/cert");
            assert!(
                rendered.contains(&format!("https://127.0.0.1:9443/cert/DS/{}\"", w.endpoint)),
                "{}",
                w.file_name
            );
        }
    }

    #[test]
    fn every_endpoint_serves_a_wsdl_and_choices_stay_on_their_endpoint() {
        for e in Endpoint::ALL {
            assert!(wsdl_for_endpoint(e, None).is_some(), "{e}");
        }
        assert_eq!(
            wsdl_for_endpoint(Endpoint::DsManage, Some("db_access")).map(|w| w.file_name),
            Some("db_access.wsdl")
        );
        assert!(wsdl_for_endpoint(Endpoint::Dz, Some("db_access")).is_none());
    }
}
