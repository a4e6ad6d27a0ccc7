//! Server identity (certificate and key) and the rustls server configuration.
//!
//! Without a configured certificate, [`load_or_create`] keeps a local CA and
//! a server certificate signed by it in `<data>/tls/`: clients trust
//! `ca.pem` and can then verify the server by name. With `tls.cert` and
//! `tls.key` set, those PEM files are used as they are.
//!
//! Client certificates are requested but never required. Without
//! `tls.client_ca` any certificate is accepted at the TLS layer, provided
//! the client proves possession of its key; deciding who the certificate
//! belongs to is left to the authentication layer, which gets a
//! [`PeerCertificate`] per connection.

mod verifier;

use std::collections::BTreeSet;
use std::fs;
use std::io::BufReader;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub use verifier::AnyClientCertVerifier;

/// Subdirectory of the data directory holding generated files.
pub const TLS_DIR: &str = "tls";
pub const CA_CERT_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca.key.pem";
pub const SERVER_CERT_FILE: &str = "server.pem";
pub const SERVER_KEY_FILE: &str = "server.key.pem";

/// Names every generated server certificate covers, besides `extra_names`.
pub const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// TLS versions the server speaks: 1.3 and 1.2, nothing older.
pub static PROTOCOL_VERSIONS: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// ALPN protocols offered, in order of preference.
pub const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

const DAY: u64 = 24 * 60 * 60;
/// Lifetime of a generated CA.
const CA_LIFETIME: Duration = Duration::from_secs(3650 * DAY);
/// Lifetime of a generated server certificate; below the 825 days some
/// platforms accept even from private CAs.
const SERVER_LIFETIME: Duration = Duration::from_secs(397 * DAY);
/// Generated certificates this close to expiry are replaced at start.
const RENEW_BEFORE: Duration = Duration::from_secs(30 * DAY);
/// Backdating of `notBefore`, against clock skew between hosts.
const BACKDATE: Duration = Duration::from_secs(DAY);

/// The `[tls]` section of the configuration.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain, leaf first. Set together with `key`.
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, SEC1 or PKCS#1 RSA) of the leaf.
    pub key: Option<PathBuf>,
    /// PEM CA certificate(s); when set, only client certificates issued by
    /// them are accepted (and must be valid and allow client auth).
    pub client_ca: Option<PathBuf>,
    /// Extra DNS names and IP addresses for the generated server certificate.
    pub extra_names: Vec<String>,
}

/// Errors of the TLS layer. Every variant about a file names it.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A PEM file is unreadable as what it should contain.
    #[error("{}: {reason}", path.display())]
    Pem { path: PathBuf, reason: String },
    /// The private key does not belong to the certificate.
    #[error("private key {} does not match certificate {}", key.display(), cert.display())]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    /// Invalid `[tls]` settings.
    #[error("tls settings: {0}")]
    Settings(String),
    /// Certificate or key generation failed.
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// The client CA file cannot serve as a trust anchor.
    #[error("client CA {}: {reason}", path.display())]
    ClientCa { path: PathBuf, reason: String },
    #[error("rustls: {0}")]
    Rustls(#[from] rustls::Error),
    /// A peer certificate is not a well-formed X.509 certificate.
    #[error("peer certificate: {0}")]
    PeerCertificate(String),
}

/// Where the server identity came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityOrigin {
    /// `tls.cert` / `tls.key`.
    Configured,
    /// The local CA in `<data>/tls/`; flags tell what this start created.
    LocalCa {
        created_ca: bool,
        created_server_cert: bool,
    },
}

/// The server's certificate chain and key, ready for [`server_config`].
pub struct TlsIdentity {
    /// The local CA certificate clients should trust; `None` when the
    /// certificate is configured.
    pub ca_cert_path: Option<PathBuf>,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    /// Leaf first.
    pub cert_chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub origin: IdentityOrigin,
}

impl TlsIdentity {
    /// SHA-256 of the leaf certificate, lowercase hex.
    pub fn server_cert_sha256(&self) -> String {
        self.cert_chain
            .first()
            .map(|c| sha256_hex(c))
            .unwrap_or_default()
    }
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("ca_cert_path", &self.ca_cert_path)
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .field("server_cert_sha256", &self.server_cert_sha256())
            .field("chain_len", &self.cert_chain.len())
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// The server identity: the configured PEM files if `cfg.cert` and
/// `cfg.key` are set, otherwise the local CA and server certificate in
/// `<data_dir>/tls/`, created when missing. The CA is kept across starts
/// (replaced only when missing or within 30 days of expiry); the server
/// certificate is replaced when missing, not issued by the CA, within 30
/// days of expiry, or not for exactly the wanted names. Key files are
/// written with mode 0600 on unix.
pub fn load_or_create(data_dir: &Path, cfg: &TlsSettings) -> Result<TlsIdentity, TlsError> {
    match (&cfg.cert, &cfg.key) {
        (Some(cert), Some(key)) => load_configured(cert, key),
        (None, None) => local_ca_identity(&data_dir.join(TLS_DIR), &cfg.extra_names),
        _ => Err(TlsError::Settings(
            "`cert` and `key` must be set together".into(),
        )),
    }
}

/// The rustls configuration for the listener: TLS 1.3 and 1.2, ring,
/// ALPN `h2` then `http/1.1`, client certificates optional (see the module
/// documentation; with `settings.client_ca` they must chain to it).
pub fn server_config(
    identity: &TlsIdentity,
    settings: &TlsSettings,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = crypto_provider();
    let verifier: Arc<dyn rustls::server::danger::ClientCertVerifier> = match &settings.client_ca {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs(path)? {
                roots.add(cert).map_err(|e| TlsError::ClientCa {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            }
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::ClientCa {
                    path: path.clone(),
                    reason: e.to_string(),
                })?
        }
        None => Arc::new(AnyClientCertVerifier::new(&provider)),
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(PROTOCOL_VERSIONS)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.cert_chain.clone(), identity.key.clone_key())?;
    config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A client certificate as seen by request handling, computed once per
/// connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerCertificate {
    pub der: Vec<u8>,
    /// SHA-256 of `der`, lowercase hex without separators.
    pub sha256_hex: String,
    /// Subject DN in RFC 4514 style, e.g. `CN=alice, O=Example`.
    pub subject: String,
    pub issuer: String,
    /// Validity bounds, Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
}

impl PeerCertificate {
    /// Parses a DER certificate; fails on anything but exactly one
    /// well-formed X.509 certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, TlsError> {
        let (rest, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| TlsError::PeerCertificate(e.to_string()))?;
        if !rest.is_empty() {
            return Err(TlsError::PeerCertificate(format!(
                "{} trailing bytes after the certificate",
                rest.len()
            )));
        }
        let validity = cert.validity();
        Ok(PeerCertificate {
            der: der.to_vec(),
            sha256_hex: sha256_hex(der),
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
        })
    }

    /// The end-entity certificate of a TLS peer chain, if any was sent
    /// (e.g. `ServerConnection::peer_certificates()`).
    pub fn from_peer_chain(chain: Option<&[CertificateDer<'_>]>) -> Result<Option<Self>, TlsError> {
        match chain.and_then(|c| c.first()) {
            Some(leaf) => Self::from_der(leaf).map(Some),
            None => Ok(None),
        }
    }

    /// Whether `unix_seconds` lies within the validity period (inclusive).
    pub fn is_valid_at(&self, unix_seconds: i64) -> bool {
        self.not_before <= unix_seconds && unix_seconds <= self.not_after
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------
// Configured certificate

fn load_configured(cert_path: &Path, key_path: &Path) -> Result<TlsIdentity, TlsError> {
    let cert_chain = read_certs(cert_path)?;
    let key = read_key(key_path)?;
    check_key_matches(&cert_chain, &key, cert_path, key_path)?;
    Ok(TlsIdentity {
        ca_cert_path: None,
        cert_path: cert_path.to_path_buf(),
        key_path: key_path.to_path_buf(),
        cert_chain,
        key,
        origin: IdentityOrigin::Configured,
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Every CERTIFICATE block of a PEM file; at least one.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read_file(path)?;
    let certs = rustls_pemfile::certs(&mut BufReader::new(bytes.as_slice()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_path_buf(),
            reason: format!("malformed PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_path_buf(),
            reason: "no CERTIFICATE block found".into(),
        });
    }
    for (i, cert) in certs.iter().enumerate() {
        if x509_parser::parse_x509_certificate(cert).is_err() {
            return Err(TlsError::Pem {
                path: path.to_path_buf(),
                reason: format!("certificate #{} is not valid X.509", i + 1),
            });
        }
    }
    Ok(certs)
}

/// The first private key (PKCS#8, SEC1 or PKCS#1) of a PEM file.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read_file(path)?;
    rustls_pemfile::private_key(&mut BufReader::new(bytes.as_slice()))
        .map_err(|e| TlsError::Pem {
            path: path.to_path_buf(),
            reason: format!("malformed PEM: {e}"),
        })?
        .ok_or_else(|| TlsError::Pem {
            path: path.to_path_buf(),
            reason: "no PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY block found".into(),
        })
}

fn check_key_matches(
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
    cert_path: &Path,
    key_path: &Path,
) -> Result<(), TlsError> {
    let signing_key = crypto_provider()
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| TlsError::Pem {
            path: key_path.to_path_buf(),
            reason: format!("unusable private key: {e}"),
        })?;
    let certified = rustls::sign::CertifiedKey::new(chain.to_vec(), signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(()),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(()),
        Err(rustls::Error::InconsistentKeys(_)) => Err(TlsError::KeyMismatch {
            cert: cert_path.to_path_buf(),
            key: key_path.to_path_buf(),
        }),
        Err(e) => Err(TlsError::Pem {
            path: cert_path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

// ---------------------------------------------------------------------------
// Local CA

struct LocalCa {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    key: KeyPair,
}

fn local_ca_identity(dir: &Path, extra_names: &[String]) -> Result<TlsIdentity, TlsError> {
    let names = wanted_names(extra_names)?;
    create_private_dir(dir)?;
    let ca_cert_path = dir.join(CA_CERT_FILE);
    let ca_key_path = dir.join(CA_KEY_FILE);
    let cert_path = dir.join(SERVER_CERT_FILE);
    let key_path = dir.join(SERVER_KEY_FILE);

    let (ca, created_ca) = match load_ca(&ca_cert_path, &ca_key_path)? {
        Some(ca) => (ca, false),
        None => (create_ca(&ca_cert_path, &ca_key_path)?, true),
    };

    let reused = if created_ca {
        None
    } else {
        reusable_server_cert(&ca, &cert_path, &key_path, &names)?
    };
    let created_server_cert = reused.is_none();
    let (cert_chain, key) = match reused {
        Some(found) => found,
        None => create_server_cert(&ca, &cert_path, &key_path, &names)?,
    };
    Ok(TlsIdentity {
        ca_cert_path: Some(ca_cert_path),
        cert_path,
        key_path,
        cert_chain,
        key,
        origin: IdentityOrigin::LocalCa {
            created_ca,
            created_server_cert,
        },
    })
}

/// A SAN entry in canonical form, for comparing wanted and present names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Name {
    Dns(String),
    Ip(IpAddr),
}

fn wanted_names(extra: &[String]) -> Result<BTreeSet<Name>, TlsError> {
    let mut names = BTreeSet::new();
    for raw in DEFAULT_NAMES
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
    {
        let name = raw.trim();
        let parsed = match ServerName::try_from(name) {
            Ok(ServerName::IpAddress(ip)) => Name::Ip(IpAddr::from(ip)),
            Ok(ServerName::DnsName(dns)) => Name::Dns(dns.as_ref().to_ascii_lowercase()),
            _ => {
                return Err(TlsError::Settings(format!(
                    "extra_names: {raw:?} is neither a DNS name nor an IP address"
                )));
            }
        };
        names.insert(parsed);
    }
    Ok(names)
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn secs_i64(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The CA in `ca.pem` / `ca.key.pem`, or `None` if it must be (re)created:
/// `ca.pem` is missing, or the CA is within [`RENEW_BEFORE`] of expiry. A
/// CA certificate whose key is missing, unreadable or different is an
/// error: replacing it silently would break every client that trusts it.
fn load_ca(cert_path: &Path, key_path: &Path) -> Result<Option<LocalCa>, TlsError> {
    if !cert_path.exists() {
        return Ok(None);
    }
    let cert_pem = String::from_utf8(read_file(cert_path)?).map_err(|_| TlsError::Pem {
        path: cert_path.to_path_buf(),
        reason: "not a text file".into(),
    })?;
    let mut certs = read_certs(cert_path)?;
    if certs.len() != 1 {
        return Err(TlsError::Pem {
            path: cert_path.to_path_buf(),
            reason: format!("expected one certificate, found {}", certs.len()),
        });
    }
    let cert_der = certs.remove(0);
    let (_, parsed) =
        x509_parser::parse_x509_certificate(&cert_der).map_err(|e| TlsError::Pem {
            path: cert_path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if !parsed.is_ca() {
        return Err(TlsError::Pem {
            path: cert_path.to_path_buf(),
            reason: "not a CA certificate".into(),
        });
    }
    let not_after = parsed.validity().not_after.timestamp();
    let renew_at = i64::try_from(now_unix()).unwrap_or(i64::MAX) + secs_i64(RENEW_BEFORE);
    if not_after <= renew_at {
        tracing::warn!(
            path = %cert_path.display(),
            "local CA expires soon or has expired; creating a new one (clients must trust the new ca.pem)"
        );
        return Ok(None);
    }
    let key_text = String::from_utf8(read_file(key_path)?).map_err(|_| TlsError::Pem {
        path: key_path.to_path_buf(),
        reason: "not a text file".into(),
    })?;
    let key = KeyPair::from_pem(&key_text).map_err(|e| TlsError::Pem {
        path: key_path.to_path_buf(),
        reason: format!("unreadable private key: {e}"),
    })?;
    if key.public_key_der() != parsed.public_key().raw {
        return Err(TlsError::KeyMismatch {
            cert: cert_path.to_path_buf(),
            key: key_path.to_path_buf(),
        });
    }
    Ok(Some(LocalCa {
        cert_pem,
        cert_der,
        key,
    }))
}

fn create_ca(cert_path: &Path, key_path: &Path) -> Result<LocalCa, TlsError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let tag: String = sha256_hex(&key.public_key_der()).chars().take(8).collect();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("isds-gateway local CA {tag}"));
    dn.push(
        DnType::OrganizationName,
        "isds-gateway local testing CA, not a real certification authority",
    );
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = SystemTime::now();
    params.not_before = (now - BACKDATE).into();
    params.not_after = (now + CA_LIFETIME).into();
    let cert = params.self_signed(&key)?;
    // Key first: a crash in between leaves no ca.pem, so the next start
    // creates a fresh pair instead of failing.
    write_file(key_path, key.serialize_pem().as_bytes(), true)?;
    write_file(cert_path, cert.pem().as_bytes(), false)?;
    tracing::info!(path = %cert_path.display(), "created local CA");
    Ok(LocalCa {
        cert_pem: cert.pem(),
        cert_der: cert.der().clone(),
        key,
    })
}

/// The existing server certificate and key if they can serve another
/// start, `None` if they must be replaced.
fn reusable_server_cert(
    ca: &LocalCa,
    cert_path: &Path,
    key_path: &Path,
    names: &BTreeSet<Name>,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, TlsError> {
    if !cert_path.exists() || !key_path.exists() {
        return Ok(None);
    }
    let replace = |why: &str| {
        tracing::info!(path = %cert_path.display(), "replacing server certificate: {why}");
        Ok(None)
    };
    let (chain, key) = match (read_certs(cert_path), read_key(key_path)) {
        (Ok(c), Ok(k)) => (c, k),
        (Err(e), _) | (_, Err(e)) => return replace(&e.to_string()),
    };
    if check_key_matches(&chain, &key, cert_path, key_path).is_err() {
        return replace("key does not match");
    }
    let leaf = &chain[0];
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(leaf) else {
        return replace("unparsable certificate");
    };
    if san_names(&parsed) != *names {
        return replace("names changed");
    }
    // Chain to the CA, name and validity, judged as of RENEW_BEFORE from now.
    let mut roots = RootCertStore::empty();
    roots.add(ca.cert_der.clone())?;
    let provider = crypto_provider();
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| TlsError::Settings(format!("local CA unusable as trust anchor: {e}")))?;
    let horizon = UnixTime::since_unix_epoch(Duration::from_secs(now_unix()) + RENEW_BEFORE);
    let localhost =
        ServerName::try_from("localhost").map_err(|e| TlsError::Settings(e.to_string()))?;
    if let Err(e) = verifier.verify_server_cert(leaf, &[], &localhost, &[], horizon) {
        return replace(&format!(
            "not valid for the next 30 days under the local CA ({e})"
        ));
    }
    warn_if_key_readable(key_path);
    Ok(Some((chain, key)))
}

fn san_names(cert: &x509_parser::certificate::X509Certificate<'_>) -> BTreeSet<Name> {
    use x509_parser::extensions::GeneralName;
    let mut out = BTreeSet::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => {
                    out.insert(Name::Dns(d.to_ascii_lowercase()));
                }
                GeneralName::IPAddress(b) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*b) {
                        out.insert(Name::Ip(IpAddr::from(v4)));
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*b) {
                        out.insert(Name::Ip(IpAddr::from(v6)));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

fn create_server_cert(
    ca: &LocalCa,
    cert_path: &Path,
    key_path: &Path,
    names: &BTreeSet<Name>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let issuer = CertificateParams::from_ca_cert_pem(&ca.cert_pem)?.self_signed(&ca.key)?;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "isds-gateway server");
    dn.push(DnType::OrganizationName, "isds-gateway");
    params.distinguished_name = dn;
    params.subject_alt_names = names
        .iter()
        .map(|n| match n {
            Name::Dns(d) => d.clone().try_into().map(SanType::DnsName),
            Name::Ip(ip) => Ok(SanType::IpAddress(*ip)),
        })
        .collect::<Result<_, _>>()?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let now = SystemTime::now();
    params.not_before = (now - BACKDATE).into();
    params.not_after = (now + SERVER_LIFETIME).into();
    let cert = params.signed_by(&key, &issuer, &ca.key)?;
    write_file(key_path, key.serialize_pem().as_bytes(), true)?;
    write_file(cert_path, cert.pem().as_bytes(), false)?;
    tracing::info!(path = %cert_path.display(), "created server certificate");
    let key_der = PrivateKeyDer::Pkcs8(key.serialize_der().into());
    Ok((vec![cert.der().clone()], key_der))
}

fn create_private_dir(dir: &Path) -> Result<(), TlsError> {
    crate::private_files::create_private_dir(dir).map_err(|e| TlsError::Io {
        path: e.path,
        source: e.source,
    })
}

/// Writes via a temporary file and rename, so a crash never leaves a
/// truncated file; `private` files get mode 0600 on unix.
fn write_file(path: &Path, contents: &[u8], private: bool) -> Result<(), TlsError> {
    crate::private_files::write_atomically(path, contents, private).map_err(|e| TlsError::Io {
        path: e.path,
        source: e.source,
    })
}

fn warn_if_key_readable(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "private key is readable by other users");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// The provider every TLS object of this module uses (ring).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(test)]
mod tests;
