//! Gateway configuration: defaults, overridden by a TOML file, overridden by
//! command-line flags and environment variables (see `main.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::tls::TlsSettings;

/// Everything the running gateway needs to know.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory holding the store, the generated TLS identity and other state.
    pub data_dir: PathBuf,
    /// Plain HTTP listener (`":8080"`: every interface).
    #[serde(deserialize_with = "listen_address")]
    pub listen: SocketAddr,
    /// HTTPS listener (client certificates requested, not required);
    /// `None` disables HTTPS.
    #[serde(deserialize_with = "optional_listen_address")]
    pub tls_listen: Option<SocketAddr>,
    /// Server certificate, key and client trust roots.
    pub tls: TlsSettings,
    /// Request size and XML shape limits.
    pub limits: LimitsConfig,
    /// Certificates and keys of the signed artefacts (`[signing]`); by
    /// default generated in `<data_dir>/signing/`.
    pub signing: crate::sign::SigningSettings,
    /// Seed the demo world from this file when the store is empty
    /// (`None`: the built-in `fixtures/demo-world.toml`).
    pub demo_world: Option<PathBuf>,
    /// Seed nothing on an empty store.
    pub no_demo: bool,
    /// Password logins: lockout and validity.
    pub auth: AuthConfig,
    /// The gateway operator's account (`[operator]`); `None`: no operator.
    pub operator: Option<OperatorConfig>,
    /// World fixtures to add to the store at start, all or nothing each
    /// (`serve --fixtures`); a box, user or login already stored is refused.
    pub fixtures: Vec<PathBuf>,
    /// Files named in world fixtures (`--fixtures`, `--demo-world`) may be
    /// given by an absolute path (`serve --allow-absolute-fixture-paths`).
    /// Off by default: every file must be inside its fixture's directory.
    pub allow_absolute_fixture_paths: bool,
    /// Test mode: the gateway runs on a clock the operator can set and
    /// advance through `/admin/clock` (`serve --test-clock`). Off by default.
    pub test_clock: bool,
    /// Test mode: where the test clock starts (`serve --clock-start`), an
    /// RFC 3339 date-time, set before fixtures load. Without it a test
    /// clock resumes where the data directory's last run left it.
    pub clock_start: Option<String>,
    /// Memory for the store's page cache, in MiB (`store_cache_mb`). The
    /// default suits a local gateway; a register of a million boxes wants
    /// about 1024, so the search index stays in memory.
    pub store_cache_mb: u64,
    /// Durable writes made at the same time share one flush (group commit,
    /// `group_commit`; on by default). Off (`serve --no-group-commit`):
    /// each durable write runs its own flush, for measuring the gain.
    /// Either way every write is on disk before it is answered.
    pub group_commit: bool,
    /// Record every SOAP exchange into this directory (`serve --record`).
    pub record: Option<PathBuf>,
    /// Files of `[[faults]]` rules (`serve --faults`), in addition to those
    /// of the world fixtures.
    pub fault_rules: Vec<PathBuf>,
    /// No web inspector, `/advice` or `/metrics`, and no watching of the
    /// traffic (`serve --no-ui`).
    pub no_ui: bool,
    /// ISDS domains whose host names (`ws1`, `ws1c`, `ws2`, `ws2c`, `www`)
    /// are routed as ISDS routes them (`serve --isds-domain`), e.g.
    /// `datovka-test.gov.cz`. Empty: the single-host layout only.
    pub isds_domain: Vec<String>,
    /// For tests of a full disk where no small file system can be mounted:
    /// while this file exists, writes of document files fail with `ENOSPC`.
    pub simulate_full_disk_while: Option<PathBuf>,
    /// Limits of big messages (`[vodz]`); ISDS's values by default.
    pub vodz: crate::domain::messages::vodz::VodzLimits,
}

/// Credentials of the gateway operator, who stands for the ISDS
/// administration: it may call every db_manipulations operation on any box.
/// It is no user of any box and may call nothing else.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    pub login: String,
    pub password: String,
}

impl std::fmt::Debug for OperatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorConfig")
            .field("login", &self.login)
            .field("password", &"..")
            .finish()
    }
}

/// An operator given as `LOGIN:PASSWORD` is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid operator credentials: expected LOGIN:PASSWORD with neither part empty")]
pub struct InvalidOperator;

impl std::str::FromStr for OperatorConfig {
    type Err = InvalidOperator;

    /// Parses `LOGIN:PASSWORD` (the password may contain colons).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((login, password)) if !login.is_empty() && !password.is_empty() => {
                Ok(OperatorConfig {
                    login: login.to_owned(),
                    password: password.to_owned(),
                })
            }
            _ => Err(InvalidOperator),
        }
    }
}

/// Rules for password logins.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Failed logins in a row after which a user is blocked.
    pub max_failed_logins: u32,
    /// How long a blocked user stays blocked, in minutes.
    pub block_minutes: i64,
    /// How long a password is valid, in days (unless its box set unlimited
    /// validity).
    pub password_validity_days: i64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            max_failed_logins: 5,
            block_minutes: 60,
            password_validity_days: 90,
        }
    }
}

impl AuthConfig {
    pub fn policy(&self) -> crate::auth::AuthPolicy {
        crate::auth::AuthPolicy {
            max_failed_logins: self.max_failed_logins.max(1),
            block_seconds: self.block_minutes * 60,
            password_validity_seconds: self.password_validity_days * 24 * 60 * 60,
        }
    }
}

/// Limits applied to every request before any business logic runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest accepted request body in bytes. ISDS accepts 20 MB (some boxes
    /// 50 MB) of decoded attachments; base64 inflates that by a third.
    pub max_body_bytes: usize,
    /// Deepest XML element nesting accepted.
    pub max_xml_depth: usize,
    /// Most attributes accepted on one element.
    pub max_xml_attributes: usize,
    /// Most elements accepted in one request.
    pub max_xml_elements: usize,
    /// Most open client connections per listener; at the cap a new client
    /// takes the place of the connection idle the longest, and waits in the
    /// listen queue only while every connection has a request in flight.
    pub max_connections: usize,
    /// Seconds a client gets to send a whole request body (slow senders are
    /// cut off with HTTP 408).
    pub body_read_timeout_secs: u64,
    /// Seconds a new connection (or a TLS connection after its handshake)
    /// gets to send its first byte before it is closed.
    pub first_byte_timeout_secs: u64,
    /// Seconds a client gets to send request headers (also: the time a
    /// connection gets from accept to its first request).
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may stay idle between requests (HTTP/1
    /// keep-alive, HTTP/2 with no open stream) before it is closed.
    pub idle_timeout_secs: u64,
    /// Seconds a TLS handshake may take.
    pub tls_handshake_timeout_secs: u64,
    /// Bytes of request bodies the gateway holds at once, over all
    /// requests (0: no bound); a request whose body does not fit is
    /// answered with HTTP 503, so a flood of large uploads cannot exhaust
    /// memory.
    pub max_body_bytes_in_flight: usize,
    /// Requests one user may have in flight at once (0: no limit); more
    /// are answered with status 3008.
    pub max_parallel_requests_per_user: usize,
    /// Requests one user may make per minute (0: no limit); more are
    /// answered with status 3009.
    pub max_requests_per_user_per_minute: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 80 * 1024 * 1024,
            max_xml_depth: 64,
            max_xml_attributes: 64,
            max_xml_elements: 1_000_000,
            max_connections: 1024,
            body_read_timeout_secs: 120,
            first_byte_timeout_secs: 5,
            header_read_timeout_secs: 30,
            idle_timeout_secs: 30,
            tls_handshake_timeout_secs: 10,
            max_body_bytes_in_flight: 512 * 1024 * 1024,
            max_parallel_requests_per_user: 16,
            max_requests_per_user_per_minute: 0,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls_listen: Some(SocketAddr::from(([127, 0, 0, 1], 8443))),
            tls: TlsSettings::default(),
            limits: LimitsConfig::default(),
            signing: crate::sign::SigningSettings::default(),
            demo_world: None,
            no_demo: false,
            auth: AuthConfig::default(),
            operator: None,
            fixtures: Vec::new(),
            allow_absolute_fixture_paths: false,
            test_clock: false,
            clock_start: None,
            store_cache_mb: crate::store::DEFAULT_CACHE_MB,
            group_commit: true,
            record: None,
            fault_rules: Vec::new(),
            no_ui: false,
            isds_domain: Vec::new(),
            simulate_full_disk_while: None,
            vodz: Default::default(),
        }
    }
}

/// A listen address that is neither `HOST:PORT` nor `:PORT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid listen address {0:?}: expected e.g. 127.0.0.1:8443, [::1]:8443 or :443")]
pub struct InvalidListen(pub String);

/// `HOST:PORT`, or `:PORT` for every interface (IPv4), as in `--listen :443`.
pub fn parse_listen(s: &str) -> Result<SocketAddr, InvalidListen> {
    let s = s.trim();
    if let Some(port) = s.strip_prefix(':') {
        return port
            .parse::<u16>()
            .map(|p| SocketAddr::from(([0, 0, 0, 0], p)))
            .map_err(|_| InvalidListen(s.to_owned()));
    }
    s.parse().map_err(|_| InvalidListen(s.to_owned()))
}

fn listen_address<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let s = String::deserialize(d)?;
    parse_listen(&s).map_err(serde::de::Error::custom)
}

fn optional_listen_address<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<SocketAddr>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    s.map(|s| parse_listen(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// A configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
}

impl Config {
    /// Reads a TOML configuration file; keys left out keep their defaults and
    /// unknown keys are refused, so a typo cannot silently do nothing.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// A configuration for tests and embedding: both listeners on ephemeral
    /// loopback ports, state under `data_dir`.
    pub fn ephemeral(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_overrides_defaults_and_refuses_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.toml");
        std::fs::write(
            &path,
            "data_dir = \"/srv/isds\"\nlisten = \"0.0.0.0:9000\"\n[limits]\nmax_body_bytes = 1024\n",
        )
        .unwrap();
        let c = Config::from_file(&path).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/srv/isds"));
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.limits.max_body_bytes, 1024);
        assert_eq!(
            c.limits.max_xml_depth,
            LimitsConfig::default().max_xml_depth
        );
        assert_eq!(c.tls_listen, Config::default().tls_listen);

        assert!(c.operator.is_none());

        std::fs::write(&path, "listen_addr = \"0.0.0.0:9000\"\n").unwrap();
        let err = Config::from_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("gw.toml") && err.contains("unknown field"),
            "{err}"
        );
    }

    #[test]
    fn listen_addresses_may_leave_out_the_host() {
        assert_eq!(
            parse_listen(":443").unwrap(),
            SocketAddr::from(([0, 0, 0, 0], 443))
        );
        assert_eq!(parse_listen("127.0.0.1:8443").unwrap().port(), 8443);
        assert_eq!(parse_listen("[::1]:80").unwrap().port(), 80);
        for bad in ["", ":", ":http", "443", "host:443", ":70000"] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.toml");
        std::fs::write(
            &path,
            "listen = \":8080\"\ntls_listen = \":443\"\nisds_domain = [\"czebox.cz\"]\n",
        )
        .unwrap();
        let c = Config::from_file(&path).unwrap();
        assert_eq!(c.listen, SocketAddr::from(([0, 0, 0, 0], 8080)));
        assert_eq!(c.tls_listen, Some(SocketAddr::from(([0, 0, 0, 0], 443))));
        assert_eq!(c.isds_domain, ["czebox.cz"]);
    }

    #[test]
    fn the_operator_comes_from_the_file_or_from_login_colon_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.toml");
        std::fs::write(
            &path,
            "[operator]\nlogin = \"provozovatel\"\npassword = \"Tajne:Heslo-1\"\n",
        )
        .unwrap();
        let op = Config::from_file(&path).unwrap().operator.unwrap();
        assert_eq!(op.login, "provozovatel");
        assert_eq!(op.password, "Tajne:Heslo-1");
        assert!(!format!("{op:?}").contains("Tajne"));

        let op: OperatorConfig = "admin:pa:ss".parse().unwrap();
        assert_eq!(
            (op.login.as_str(), op.password.as_str()),
            ("admin", "pa:ss")
        );
        for bad in ["", "admin", "admin:", ":secret"] {
            assert!(bad.parse::<OperatorConfig>().is_err(), "{bad:?}");
        }
    }
}
