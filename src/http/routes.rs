//! Maps request paths to what they address: a SOAP endpoint under one of the
//! ISDS login prefixes, a WSDL or schema document, or the health check.

use std::fmt;

/// How the caller authenticates, selected by the path prefix as in ISDS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginMethod {
    /// `/DS/…`: HTTP Basic, user name and password.
    Basic,
    /// `/cert/DS/…`: a system certificate registered to a box, alone.
    SystemCertificate,
    /// `/certds/DS/…`: a commercial certificate registered to a user plus
    /// that user's HTTP Basic credentials.
    CertificateAndBasic,
    /// `/hspis/DS/…`: a hosted records-management provider's system
    /// certificate plus Basic with the target box ID and an empty password.
    HostedProvider,
    /// `/apps/DS/…`: a cookie session opened by an OTP login.
    OtpSession,
}

impl LoginMethod {
    pub const ALL: [LoginMethod; 5] = [
        LoginMethod::Basic,
        LoginMethod::SystemCertificate,
        LoginMethod::CertificateAndBasic,
        LoginMethod::HostedProvider,
        LoginMethod::OtpSession,
    ];

    /// The path prefix before `/DS/`, empty for plain Basic.
    pub fn prefix(self) -> &'static str {
        match self {
            LoginMethod::Basic => "",
            LoginMethod::SystemCertificate => "/cert",
            LoginMethod::CertificateAndBasic => "/certds",
            LoginMethod::HostedProvider => "/hspis",
            LoginMethod::OtpSession => "/apps",
        }
    }
}

/// One ISDS web-service endpoint (the last path segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `dz`: dm_operations.
    Dz,
    /// `dx`: dm_info.
    Dx,
    /// `df`: db_search.
    Df,
    /// `DsManage`: db_access, db_manipulations and isds_stat.
    DsManage,
    /// `vodz`: big messages (SOAP 1.2).
    Vodz,
    /// `arch`: the archive services (SOAP 1.2).
    Arch,
}

impl Endpoint {
    pub const ALL: [Endpoint; 6] = [
        Endpoint::Dz,
        Endpoint::Dx,
        Endpoint::Df,
        Endpoint::DsManage,
        Endpoint::Vodz,
        Endpoint::Arch,
    ];

    /// The path segment naming the endpoint.
    pub fn segment(self) -> &'static str {
        match self {
            Endpoint::Dz => "dz",
            Endpoint::Dx => "dx",
            Endpoint::Df => "df",
            Endpoint::DsManage => "DsManage",
            Endpoint::Vodz => "vodz",
            Endpoint::Arch => "arch",
        }
    }

    pub fn from_segment(segment: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.segment() == segment)
    }

    /// Whether the endpoint's status blocks are `dbStatus` (box services)
    /// rather than `dmStatus` (message services).
    pub fn uses_db_status(self) -> bool {
        matches!(self, Endpoint::Df | Endpoint::DsManage)
    }

    /// Whether the endpoint's WSDL binding is SOAP 1.2.
    pub fn is_soap12(self) -> bool {
        matches!(self, Endpoint::Vodz | Endpoint::Arch)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.segment())
    }
}

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /health`.
    Health,
    /// A SOAP endpoint under a login prefix.
    Service {
        login: LoginMethod,
        endpoint: Endpoint,
    },
    /// A schema document next to the endpoints (`…/DS/<name>.xsd`), where
    /// WSDLs served by the gateway resolve their relative includes.
    Schema {
        name: String,
    },
    /// A WSDL by file name (`/wsdl/<name>.wsdl` or `…/DS/<name>.wsdl`).
    Wsdl {
        name: String,
    },
    /// `/as/processLogin`: the OTP login steps.
    ProcessLogin,
    /// `/as/processLogout`: ends an OTP session.
    ProcessLogout,
    /// `/as/mepWsStateUpdate` (`extended` false) and
    /// `/as/mepWsStateUpdate2` (true): the state of a Mobile Key login.
    MepStateUpdate {
        extended: bool,
    },
    /// `/asws/changePassword`: the OTP password services.
    AswsChangePassword,
    /// `/admin/<name>`: the operator's test-mode endpoints.
    Admin {
        name: String,
    },
    /// `/ui/…`: the testers' web inspector (the rest of the path after
    /// `/ui/`).
    Ui {
        rest: String,
    },
    /// `GET /metrics`: Prometheus metrics.
    Metrics,
    /// `GET /advice`: advisories about the clients' behaviour, as JSON.
    Advice,
    NotFound,
}

/// Classifies a request path (without the query string).
pub fn route(path: &str) -> Route {
    match path {
        "/health" => return Route::Health,
        "/as/processLogin" => return Route::ProcessLogin,
        "/as/processLogout" => return Route::ProcessLogout,
        "/metrics" => return Route::Metrics,
        "/advice" => return Route::Advice,
        "/ui" => {
            return Route::Ui {
                rest: String::new(),
            };
        }
        "/as/mepWsStateUpdate" => return Route::MepStateUpdate { extended: false },
        "/as/mepWsStateUpdate2" => return Route::MepStateUpdate { extended: true },
        "/asws/changePassword" => return Route::AswsChangePassword,
        _ => {}
    }
    if let Some(rest) = path.strip_prefix("/ui/") {
        return Route::Ui {
            rest: rest.to_owned(),
        };
    }
    if let Some(name) = path.strip_prefix("/admin/") {
        return Route::Admin {
            name: name.to_owned(),
        };
    }
    // `/wsdl/` holds every WSDL and, next to them, the schemas they include.
    if let Some(name) = path.strip_prefix("/wsdl/") {
        return document(name).unwrap_or(Route::NotFound);
    }
    for login in LoginMethod::ALL {
        let Some(rest) = path
            .strip_prefix(login.prefix())
            .and_then(|rest| rest.strip_prefix("/DS/"))
        else {
            continue;
        };
        if let Some(endpoint) = Endpoint::from_segment(rest) {
            return Route::Service { login, endpoint };
        }
        return document(rest).unwrap_or(Route::NotFound);
    }
    Route::NotFound
}

/// A WSDL or schema file name.
fn document(name: &str) -> Option<Route> {
    if !is_plain_file_name(name) {
        return None;
    }
    let name = name.to_owned();
    if name.ends_with(".xsd") {
        Some(Route::Schema { name })
    } else if name.ends_with(".wsdl") {
        Some(Route::Wsdl { name })
    } else {
        None
    }
}

/// A single path segment that cannot climb out of its directory.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        && !name.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_and_endpoint_routes() {
        for login in LoginMethod::ALL {
            for endpoint in Endpoint::ALL {
                let path = format!("{}/DS/{}", login.prefix(), endpoint.segment());
                assert_eq!(route(&path), Route::Service { login, endpoint }, "{path}");
            }
        }
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in [
            "/",
            "/DS",
            "/DS/",
            "/DS/DZ",
            "/DS/dz/",
            "/foo/DS/dz",
            "/cert/dz",
            "/DS/../x.xsd",
            "/DS/.xsd",
        ] {
            assert_eq!(route(path), Route::NotFound, "{path}");
        }
    }

    #[test]
    fn otp_login_paths_route() {
        assert_eq!(route("/as/processLogin"), Route::ProcessLogin);
        assert_eq!(route("/as/processLogout"), Route::ProcessLogout);
        assert_eq!(route("/as/processlogin"), Route::NotFound);
        assert_eq!(
            route("/as/mepWsStateUpdate"),
            Route::MepStateUpdate { extended: false }
        );
        assert_eq!(
            route("/as/mepWsStateUpdate2"),
            Route::MepStateUpdate { extended: true }
        );
        assert_eq!(route("/asws/changePassword"), Route::AswsChangePassword);
    }

    #[test]
    fn documents_route() {
        assert_eq!(
            route("/DS/dbTypes.xsd"),
            Route::Schema {
                name: "dbTypes.xsd".into()
            }
        );
        assert_eq!(
            route("/cert/DS/dmBaseTypes.xsd"),
            Route::Schema {
                name: "dmBaseTypes.xsd".into()
            }
        );
        assert_eq!(
            route("/wsdl/dbTypes.xsd"),
            Route::Schema {
                name: "dbTypes.xsd".into()
            }
        );
        assert_eq!(
            route("/wsdl/db_access.wsdl"),
            Route::Wsdl {
                name: "db_access.wsdl".into()
            }
        );
    }
}
