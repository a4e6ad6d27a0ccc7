//! The gateway's signing identity: a root CA, the message-signing (seal)
//! certificate and the time-stamping authority's certificate, each leaf
//! with its ECDSA P-256 key.
//!
//! Generated on first start into `<data>/signing/` (the root's key is kept
//! there too, the leaves are issued by it), or loaded from PEM files named
//! in the `[signing]` section of the configuration. Certificates:
//! - root: CA, key usage keyCertSign + cRLSign;
//! - signer: key usage digitalSignature + nonRepudiation, no extended key
//!   usage (so S/MIME verifiers such as `openssl cms -verify` accept it);
//! - TSA: key usage digitalSignature + nonRepudiation and the extended key
//!   usage timeStamping alone, marked critical (RFC 3161 section 2.3).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use der::{Decode, Encode};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::pkcs8::DecodePrivateKey;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use serde::Deserialize;
use x509_cert::Certificate;
use x509_cert::ext::pkix::ExtendedKeyUsage;

use super::SignError;
use super::oids;

const DAY: u64 = 24 * 60 * 60;
/// Lifetime of the generated root.
const ROOT_LIFETIME: Duration = Duration::from_secs(20 * 365 * DAY);
/// Lifetime of the generated signer and TSA certificates.
const LEAF_LIFETIME: Duration = Duration::from_secs(10 * 365 * DAY);
/// Backdating of `notBefore`, against clock skew between hosts.
const BACKDATE: Duration = Duration::from_secs(DAY);

/// Directory under the data directory holding the generated identity.
pub const SIGNING_DIR: &str = "signing";
/// File names in [`SIGNING_DIR`].
pub const ROOT_CERT_FILE: &str = "root-ca.pem";
const ROOT_KEY_FILE: &str = "root-ca-key.pem";
const SIGNER_CERT_FILE: &str = "signer.pem";
const SIGNER_KEY_FILE: &str = "signer-key.pem";
const TSA_CERT_FILE: &str = "tsa.pem";
const TSA_KEY_FILE: &str = "tsa-key.pem";

/// The `[signing]` section of the configuration: all five files, or none
/// (then the identity in `<data>/signing/` is used, created when missing).
/// Keys are ECDSA P-256 in PKCS#8 PEM.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct SigningSettings {
    /// PEM certificate of the root that issued both leaves.
    pub root_ca: Option<PathBuf>,
    /// PEM certificate of the message signer.
    pub signer_cert: Option<PathBuf>,
    /// PKCS#8 PEM key of the message signer.
    pub signer_key: Option<PathBuf>,
    /// PEM certificate of the time-stamping authority.
    pub tsa_cert: Option<PathBuf>,
    /// PKCS#8 PEM key of the time-stamping authority.
    pub tsa_key: Option<PathBuf>,
}

/// A certificate with its private key.
pub struct KeyCert {
    pub cert: Certificate,
    pub cert_der: Vec<u8>,
    pub key: SigningKey,
    /// The same key for signing with ring, when ring reads it (a PKCS#8
    /// key holding its public key, as generated here and by OpenSSL).
    /// ring signs P-256 with its assembly field arithmetic, several times
    /// faster than `p256`; every new message's time stamp is a signature,
    /// so this is on the path of each CreateMessage.
    pub(super) fast: Option<EcdsaKeyPair>,
}

impl KeyCert {
    /// An ECDSA-with-SHA-256 signature of `message`, DER-encoded
    /// (`Ecdsa-Sig-Value`, RFC 5480), with ring when it has the key,
    /// otherwise with `p256`. Either is the same kind of signature over
    /// the same key; ring draws its nonce at random, `p256` derives it
    /// (RFC 6979), and verifiers cannot tell.
    pub fn sign_der(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        if let Some(pair) = &self.fast
            && let Ok(signature) = pair.sign(&SystemRandom::new(), message)
        {
            return Ok(signature.as_ref().to_vec());
        }
        let signature: DerSignature = self.key.try_sign(message)?;
        Ok(signature.as_bytes().to_vec())
    }

    /// The public key of the certificate, as a verifier.
    pub fn verifying_key(&self) -> &VerifyingKey {
        self.key.verifying_key()
    }
}

/// The root, signer and TSA of the gateway.
pub struct SigningIdentity {
    pub root: Certificate,
    pub root_der: Vec<u8>,
    /// Where the root certificate is (PEM), for users to trust.
    pub root_path: PathBuf,
    pub signer: KeyCert,
    pub tsa: KeyCert,
}

impl std::fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningIdentity")
            .field("root_path", &self.root_path)
            .finish_non_exhaustive()
    }
}

impl SigningIdentity {
    /// The configured identity, or the one in `<data_dir>/signing/`,
    /// created when any of its files is missing.
    pub fn load_or_create(
        data_dir: &Path,
        cfg: &SigningSettings,
    ) -> Result<SigningIdentity, SignError> {
        Self::open(data_dir, cfg, true)
    }

    /// The configured identity, or the one in `<data_dir>/signing/`,
    /// which must exist (for checking artefacts, never creating).
    pub fn load_existing(
        data_dir: &Path,
        cfg: &SigningSettings,
    ) -> Result<SigningIdentity, SignError> {
        Self::open(data_dir, cfg, false)
    }

    fn open(
        data_dir: &Path,
        cfg: &SigningSettings,
        create_missing: bool,
    ) -> Result<SigningIdentity, SignError> {
        match (
            &cfg.root_ca,
            &cfg.signer_cert,
            &cfg.signer_key,
            &cfg.tsa_cert,
            &cfg.tsa_key,
        ) {
            (Some(root), Some(sc), Some(sk), Some(tc), Some(tk)) => load(root, (sc, sk), (tc, tk)),
            (None, None, None, None, None) => {
                let dir = data_dir.join(SIGNING_DIR);
                if !create_missing {
                    return load(
                        &dir.join(ROOT_CERT_FILE),
                        (&dir.join(SIGNER_CERT_FILE), &dir.join(SIGNER_KEY_FILE)),
                        (&dir.join(TSA_CERT_FILE), &dir.join(TSA_KEY_FILE)),
                    );
                }
                let files = [
                    ROOT_CERT_FILE,
                    ROOT_KEY_FILE,
                    SIGNER_CERT_FILE,
                    SIGNER_KEY_FILE,
                    TSA_CERT_FILE,
                    TSA_KEY_FILE,
                ];
                if !files.iter().all(|f| dir.join(f).exists()) {
                    create(&dir)?;
                }
                load(
                    &dir.join(ROOT_CERT_FILE),
                    (&dir.join(SIGNER_CERT_FILE), &dir.join(SIGNER_KEY_FILE)),
                    (&dir.join(TSA_CERT_FILE), &dir.join(TSA_KEY_FILE)),
                )
            }
            _ => Err(SignError::Settings(
                "root_ca, signer_cert, signer_key, tsa_cert and tsa_key must be set together"
                    .into(),
            )),
        }
    }
}

fn load(
    root: &Path,
    signer: (&Path, &Path),
    tsa: (&Path, &Path),
) -> Result<SigningIdentity, SignError> {
    let root_der = read_cert(root)?;
    let root_cert = Certificate::from_der(&root_der).map_err(|e| SignError::Pem {
        path: root.to_path_buf(),
        reason: format!("not an X.509 certificate: {e}"),
    })?;
    Ok(SigningIdentity {
        root: root_cert,
        root_der,
        root_path: root.to_path_buf(),
        signer: load_pair(signer.0, signer.1)?,
        tsa: load_pair(tsa.0, tsa.1)?,
    })
}

fn load_pair(cert_path: &Path, key_path: &Path) -> Result<KeyCert, SignError> {
    let cert_der = read_cert(cert_path)?;
    let cert = Certificate::from_der(&cert_der).map_err(|e| SignError::Pem {
        path: cert_path.to_path_buf(),
        reason: format!("not an X.509 certificate: {e}"),
    })?;
    let key_der = read_key(key_path)?;
    let key = SigningKey::from_pkcs8_der(&key_der).map_err(|e| SignError::Pem {
        path: key_path.to_path_buf(),
        reason: format!("not a PKCS#8 ECDSA P-256 key: {e}"),
    })?;
    let cert_public = cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    let key_public = key.verifying_key().to_encoded_point(false);
    if cert_public != key_public.as_bytes() {
        return Err(SignError::KeyMismatch {
            cert: cert_path.to_path_buf(),
            key: key_path.to_path_buf(),
        });
    }
    let fast = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        &key_der,
        &SystemRandom::new(),
    )
    .ok();
    Ok(KeyCert {
        cert,
        cert_der,
        key,
        fast,
    })
}

fn read_text(path: &Path) -> Result<Vec<u8>, SignError> {
    fs::read(path).map_err(|source| SignError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The first certificate of a PEM file, as DER.
fn read_cert(path: &Path) -> Result<Vec<u8>, SignError> {
    let text = read_text(path)?;
    let mut reader = text.as_slice();
    match rustls_pemfile::certs(&mut reader).next() {
        Some(Ok(der)) => Ok(der.to_vec()),
        Some(Err(e)) => Err(SignError::Pem {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
        None => Err(SignError::Pem {
            path: path.to_path_buf(),
            reason: "no CERTIFICATE block".into(),
        }),
    }
}

/// The PKCS#8 private key of a PEM file, as DER.
fn read_key(path: &Path) -> Result<Vec<u8>, SignError> {
    let text = read_text(path)?;
    let mut reader = text.as_slice();
    for item in rustls_pemfile::read_all(&mut reader) {
        match item {
            Ok(rustls_pemfile::Item::Pkcs8Key(key)) => {
                return Ok(key.secret_pkcs8_der().to_vec());
            }
            Ok(_) => continue,
            Err(e) => {
                return Err(SignError::Pem {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        }
    }
    Err(SignError::Pem {
        path: path.to_path_buf(),
        reason: "no PRIVATE KEY (PKCS#8) block".into(),
    })
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "CZ");
    dn.push(
        DnType::OrganizationName,
        "isds-gateway (local testing, not a qualified trust service)",
    );
    dn.push(DnType::CommonName, common_name);
    dn
}

fn random_serial() -> rcgen::SerialNumber {
    use rand_core::RngCore;
    let mut bytes = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut bytes);
    // Positive and without a leading zero byte.
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    rcgen::SerialNumber::from_slice(&bytes)
}

/// Creates a fresh root, signer and TSA in `dir`.
fn create(dir: &Path) -> Result<(), SignError> {
    create_private_dir(dir)?;
    let now = SystemTime::now();
    let tag = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(now_nanos(now).to_be_bytes());
        digest
            .iter()
            .take(4)
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
    };

    let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut root = CertificateParams::default();
    root.distinguished_name = distinguished_name(&format!("isds-gateway signing root {tag}"));
    root.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    root.serial_number = Some(random_serial());
    root.not_before = (now - BACKDATE).into();
    root.not_after = (now + ROOT_LIFETIME).into();
    let root_cert = root.self_signed(&root_key)?;

    let leaf = |cn: String, tsa: bool| -> Result<CertificateParams, SignError> {
        let mut p = CertificateParams::default();
        p.distinguished_name = distinguished_name(&cn);
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        if tsa {
            let eku = ExtendedKeyUsage(vec![oids::ID_KP_TIME_STAMPING]).to_der()?;
            let mut ext = CustomExtension::from_oid_content(&oids::EXT_KEY_USAGE_ARCS, eku);
            ext.set_criticality(true);
            p.custom_extensions = vec![ext];
        }
        p.use_authority_key_identifier_extension = true;
        p.serial_number = Some(random_serial());
        p.not_before = (now - BACKDATE).into();
        p.not_after = (now + LEAF_LIFETIME).into();
        Ok(p)
    };
    let signer_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let signer_cert = leaf(format!("isds-gateway message seal {tag}"), false)?.signed_by(
        &signer_key,
        &root_cert,
        &root_key,
    )?;
    let tsa_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let tsa_cert = leaf(format!("isds-gateway time-stamping authority {tag}"), true)?
        .signed_by(&tsa_key, &root_cert, &root_key)?;

    // Keys first and the root certificate last: a crash in between leaves
    // an incomplete set, which the next start replaces as a whole.
    write_file(&dir.join(ROOT_KEY_FILE), root_key.serialize_pem(), true)?;
    write_file(&dir.join(SIGNER_KEY_FILE), signer_key.serialize_pem(), true)?;
    write_file(&dir.join(TSA_KEY_FILE), tsa_key.serialize_pem(), true)?;
    write_file(&dir.join(SIGNER_CERT_FILE), signer_cert.pem(), false)?;
    write_file(&dir.join(TSA_CERT_FILE), tsa_cert.pem(), false)?;
    write_file(&dir.join(ROOT_CERT_FILE), root_cert.pem(), false)?;
    tracing::info!(path = %dir.join(ROOT_CERT_FILE).display(), "created signing root, seal and TSA certificates");
    Ok(())
}

fn now_nanos(now: SystemTime) -> u128 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

fn create_private_dir(dir: &Path) -> Result<(), SignError> {
    crate::private_files::create_private_dir(dir).map_err(|e| SignError::Io {
        path: e.path,
        source: e.source,
    })
}

/// Writes via a temporary file and rename; `private` files get mode 0600
/// on unix.
fn write_file(path: &Path, contents: String, private: bool) -> Result<(), SignError> {
    crate::private_files::write_atomically(path, contents.as_bytes(), private).map_err(|e| {
        SignError::Io {
            path: e.path,
            source: e.source,
        }
    })
}
