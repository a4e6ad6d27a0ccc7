//! ISDS's host layout (`serve --isds-domain DOMAIN`): which host name
//! under an ISDS domain answers which paths, as ISDS itself does.
//!
//! WS_manipulace_s_datovymi_zpravami 1.2.1 lists the base URLs: `ws1` for
//! password logins (`/DS/…`), `ws1c` for the certificate logins (`/cert`,
//! `/certds`, `/hspis`, and `/hssu` of Pristupove_rozhrani 3.4), and `www`
//! for the cookie sessions of OTP and Mobile Key logins (`/apps/…`, with
//! their `/as/…` login services, MobilniKlic_autentizace 2 and the OTP
//! manual, and `/asws/…`). Info pro vývojáře 2022/1 (VoDZ, 3.2) moves the
//! big-message services to `ws2` (`/DS/vodz`) and `ws2c` (the certificate
//! prefixes); the published WSDLs put `/DS/arch` on `ws2` as well. A
//! cookie session calls every service, VoDZ too, on `www` under `/apps`.
//!
//! On a host of a configured domain, a path is answered only on its host;
//! elsewhere it is 404 as on ISDS. Requests to any other host (an IP
//! address, `localhost`) keep the plain single-host layout, where every
//! path is answered. The gateway's own paths (`/health`, `/admin/…`,
//! `/wsdl/…`) are answered on every host.

use super::routes::{Endpoint, LoginMethod};

/// The host names ISDS uses under its domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsdsHost {
    Ws1,
    Ws1c,
    Ws2,
    Ws2c,
    Www,
}

impl IsdsHost {
    pub const ALL: [IsdsHost; 5] = [
        IsdsHost::Ws1,
        IsdsHost::Ws1c,
        IsdsHost::Ws2,
        IsdsHost::Ws2c,
        IsdsHost::Www,
    ];

    /// The first label of the host name.
    pub fn label(self) -> &'static str {
        match self {
            IsdsHost::Ws1 => "ws1",
            IsdsHost::Ws1c => "ws1c",
            IsdsHost::Ws2 => "ws2",
            IsdsHost::Ws2c => "ws2c",
            IsdsHost::Www => "www",
        }
    }

    fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.label() == label)
    }

    /// The host serving `endpoint` under the login prefix of `login`.
    pub fn of_service(login: LoginMethod, endpoint: Endpoint) -> IsdsHost {
        let big = matches!(endpoint, Endpoint::Vodz | Endpoint::Arch);
        match login {
            LoginMethod::OtpSession => IsdsHost::Www,
            LoginMethod::Basic if big => IsdsHost::Ws2,
            LoginMethod::Basic => IsdsHost::Ws1,
            LoginMethod::SystemCertificate
            | LoginMethod::CertificateAndBasic
            | LoginMethod::HostedProvider => {
                if big {
                    IsdsHost::Ws2c
                } else {
                    IsdsHost::Ws1c
                }
            }
        }
    }
}

/// Login prefixes served on `ws1c`/`ws2c`. `/hssu` (Pristupove_rozhrani
/// 3.4) belongs there though the gateway does not serve it yet.
const CERTIFICATE_PREFIXES: [&str; 4] = ["/cert", "/certds", "/hspis", "/hssu"];

/// Where a path may be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathHosts {
    /// The gateway's own paths: on every host.
    Any,
    /// Only on these hosts (empty: on none of ISDS's hosts).
    Only(Vec<IsdsHost>),
}

/// The hosts answering `path` (without the query string).
pub fn hosts_of_path(path: &str) -> PathHosts {
    use IsdsHost::*;
    // The gateway's own pages (not ISDS's) answer on every host.
    if path == "/health"
        || path == "/metrics"
        || path == "/advice"
        || path == "/ui"
        || path.starts_with("/ui/")
        || path.starts_with("/admin/")
        || path.starts_with("/wsdl/")
    {
        return PathHosts::Any;
    }
    if path.starts_with("/as/") || path.starts_with("/asws/") || path.starts_with("/apps/DS/") {
        return PathHosts::Only(vec![Www]);
    }
    // The segment after `/DS/` decides between the ws1 and ws2 families;
    // schemas next to the endpoints are on both.
    let by_segment = |segment: &str, small: IsdsHost, big: IsdsHost| match segment {
        "vodz" | "arch" => vec![big],
        "dz" | "dx" | "df" | "DsManage" => vec![small],
        _ => vec![small, big],
    };
    if let Some(segment) = path.strip_prefix("/DS/") {
        return PathHosts::Only(by_segment(segment, Ws1, Ws2));
    }
    for prefix in CERTIFICATE_PREFIXES {
        if let Some(segment) = path
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix("/DS/"))
        {
            return PathHosts::Only(by_segment(segment, Ws1c, Ws2c));
        }
    }
    PathHosts::Only(Vec::new())
}

/// The configured ISDS domains.
#[derive(Debug, Clone, Default)]
pub struct IsdsDomains {
    /// Lower case, without a trailing dot.
    domains: Vec<String>,
}

/// A configured ISDS domain is no DNS name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("isds_domain {0:?} is no DNS name such as datovka-test.gov.cz")]
pub struct InvalidDomain(pub String);

impl IsdsDomains {
    pub fn new(domains: &[String]) -> Result<Self, InvalidDomain> {
        let mut out = Vec::new();
        for raw in domains {
            let d = raw.trim().trim_end_matches('.').to_ascii_lowercase();
            let valid = d.contains('.')
                && d.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !valid {
                return Err(InvalidDomain(raw.clone()));
            }
            if !out.contains(&d) {
                out.push(d);
            }
        }
        Ok(Self { domains: out })
    }

    /// Every host name of every domain (for the server certificate).
    pub fn host_names(&self) -> Vec<String> {
        self.domains
            .iter()
            .flat_map(|d| IsdsHost::ALL.map(|h| format!("{}.{d}", h.label())))
            .collect()
    }

    /// `None` when `authority` (a `Host` header or URI authority) is under
    /// no configured domain; else the ISDS host it names (`None` inside:
    /// a name under the domain that ISDS does not use) and the domain.
    fn classify(&self, authority: &str) -> Option<(Option<IsdsHost>, &str)> {
        let host = host_part(authority).to_ascii_lowercase();
        let host = host.trim_end_matches('.');
        self.domains.iter().find_map(|d| {
            if host == d {
                return Some((None, d.as_str()));
            }
            let label = host.strip_suffix(d.as_str())?.strip_suffix('.')?;
            Some((IsdsHost::from_label(label), d.as_str()))
        })
    }

    /// Whether a request for `path` sent to `authority` is answered.
    pub fn admits(&self, authority: Option<&str>, path: &str) -> bool {
        let Some((host, _)) = authority.and_then(|a| self.classify(a)) else {
            return true;
        };
        match hosts_of_path(path) {
            PathHosts::Any => true,
            PathHosts::Only(hosts) => host.is_some_and(|h| hosts.contains(&h)),
        }
    }

    /// The origin (`scheme://host[:port]`) at which a service is addressed
    /// in a served WSDL: `origin` itself in the plain layout, else the
    /// service's own host under the same domain, scheme and port.
    pub fn service_origin(&self, origin: &str, login: LoginMethod, endpoint: Endpoint) -> String {
        let Some((scheme, authority)) = origin.split_once("://") else {
            return origin.to_owned();
        };
        let Some((_, domain)) = self.classify(authority) else {
            return origin.to_owned();
        };
        let port = port_part(authority);
        let label = IsdsHost::of_service(login, endpoint).label();
        format!("{scheme}://{label}.{domain}{port}")
    }
}

/// The host of an authority, without the port (an IPv6 literal keeps its
/// brackets).
fn host_part(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}

/// `:PORT` of an authority, or empty.
fn port_part(authority: &str) -> &str {
    let host = host_part(authority);
    &authority[host.len()..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains() -> IsdsDomains {
        IsdsDomains::new(&["datovka-test.gov.cz".into(), "CZEBOX.cz.".into()]).unwrap()
    }

    #[test]
    fn domains_are_checked_and_give_five_hosts_each() {
        for bad in ["", "cz", "a..cz", "-a.cz", "a_b.cz", "a b.cz"] {
            assert!(IsdsDomains::new(&[bad.into()]).is_err(), "{bad}");
        }
        let names = domains().host_names();
        assert_eq!(names.len(), 10);
        assert!(names.contains(&"ws2c.czebox.cz".to_owned()));
        assert!(names.contains(&"www.datovka-test.gov.cz".to_owned()));
    }

    #[test]
    fn other_hosts_keep_the_plain_layout() {
        let d = domains();
        for host in ["127.0.0.1:8080", "localhost", "[::1]:8443", "gov.cz"] {
            assert!(d.admits(Some(host), "/DS/dz"), "{host}");
            assert!(d.admits(Some(host), "/apps/DS/dz"), "{host}");
        }
        assert!(d.admits(None, "/DS/dz"));
        // Under the domain, a name ISDS does not use answers nothing of
        // ISDS's.
        assert!(!d.admits(Some("czebox.cz"), "/DS/dz"));
        assert!(!d.admits(Some("ws3.czebox.cz"), "/DS/dz"));
        assert!(d.admits(Some("ws3.czebox.cz"), "/health"));
    }

    #[test]
    fn hosts_are_matched_without_port_and_case() {
        let d = domains();
        assert!(d.admits(Some("WS1.CzeBox.cz:8443"), "/DS/dz"));
        assert!(d.admits(Some("ws1.czebox.cz."), "/DS/dz"));
        assert!(!d.admits(Some("ws1c.czebox.cz:443"), "/DS/dz"));
    }

    #[test]
    fn wsdl_addresses_name_the_service_host() {
        let d = domains();
        assert_eq!(
            d.service_origin(
                "https://ws1.czebox.cz:8443",
                LoginMethod::Basic,
                Endpoint::Vodz
            ),
            "https://ws2.czebox.cz:8443"
        );
        assert_eq!(
            d.service_origin(
                "https://www.datovka-test.gov.cz",
                LoginMethod::SystemCertificate,
                Endpoint::Dz
            ),
            "https://ws1c.datovka-test.gov.cz"
        );
        assert_eq!(
            d.service_origin("http://127.0.0.1:8080", LoginMethod::Basic, Endpoint::Vodz),
            "http://127.0.0.1:8080"
        );
    }
}
