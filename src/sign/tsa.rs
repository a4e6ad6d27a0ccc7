//! The built-in time-stamping authority: RFC 3161 time-stamp tokens
//! (SignedData over a TSTInfo) whose signer is named by the ESS
//! signingCertificateV2 attribute (RFC 5035), as RFC 3161 requires.

use std::time::Duration;

use cms::content_info::ContentInfo;
use der::asn1::{GeneralizedTime, Int, OctetString};
use der::{Any, Decode, Encode, Sequence};
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifier, AlgorithmIdentifierOwned};
use x509_cert::ext::pkix::name::GeneralName;
use x509_tsp::{Accuracy, MessageImprint, TspVersion, TstInfo};

use super::identity::KeyCert;
use super::{SignError, VerifyError, cms as sd, oids};

/// ```text
/// SigningCertificateV2 ::= SEQUENCE {
///     certs     SEQUENCE OF ESSCertIDv2,
///     policies  SEQUENCE OF PolicyInformation OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

/// ```text
/// ESSCertIDv2 ::= SEQUENCE {
///     hashAlgorithm  AlgorithmIdentifier DEFAULT {algorithm id-sha256},
///     certHash       OCTET STRING,
///     issuerSerial   IssuerSerial OPTIONAL }
/// ```
/// Absent `hash_algorithm` is SHA-256 (DER leaves the default out).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

/// What a time-stamp token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StampFacts {
    /// genTime, Unix seconds.
    pub gen_time: u64,
    /// The serial number, hex.
    pub serial: String,
    /// The SHA-256 the token stamps.
    pub imprint: Vec<u8>,
}

fn sha256_imprint(hash: &[u8]) -> Result<MessageImprint, der::Error> {
    Ok(MessageImprint {
        hash_algorithm: AlgorithmIdentifier {
            oid: oids::ID_SHA256,
            parameters: None,
        },
        hashed_message: OctetString::new(hash)?,
    })
}

/// A 128-bit positive serial number, unique with overwhelming probability.
fn random_serial() -> Result<Int, der::Error> {
    use rand_core::RngCore;
    let mut bytes = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Int::new(&bytes)
}

/// A time-stamp token over the SHA-256 `hash`, issued at `at` (Unix
/// seconds) by `tsa`.
pub fn stamp(tsa: &KeyCert, hash: &[u8], at: u64) -> Result<ContentInfo, SignError> {
    let gen_time = GeneralizedTime::from_unix_duration(Duration::from_secs(at))?;
    let info = TstInfo {
        version: TspVersion::V1,
        policy: oids::TSA_POLICY,
        message_imprint: sha256_imprint(hash)?,
        serial_number: random_serial()?,
        gen_time,
        accuracy: Some(Accuracy {
            seconds: Some(1),
            millis: None,
            micros: None,
        }),
        ordering: false,
        nonce: None,
        tsa: Some(GeneralName::DirectoryName(
            tsa.cert.tbs_certificate.subject.clone(),
        )),
        extensions: None,
    };
    let ess = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            hash_algorithm: None,
            cert_hash: OctetString::new(Sha256::digest(&tsa.cert_der).to_vec())?,
            issuer_serial: None,
        }],
        policies: None,
    };
    let extra = vec![sd::attribute(oids::ID_AA_SIGNING_CERTIFICATE_V2, &ess)?];
    let signed = sd::sign(tsa, oids::ID_CT_TST_INFO, &info.to_der()?, at, extra)?;
    Ok(sd::wrap(&signed)?)
}

/// Checks a token issued by `tsa` over the SHA-256 `hash`.
pub fn verify(token: &ContentInfo, tsa: &KeyCert, hash: &[u8]) -> Result<StampFacts, VerifyError> {
    let facts = read(token)?;
    let signed = sd::unwrap(token)?;
    sd::verify_signer(&signed, tsa).map_err(|e| VerifyError::TimeStamp(e.to_string()))?;
    let si = sd::only_signer(&signed)?;
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or(VerifyError::Structure("no signed attributes"))?;
    let ess: SigningCertificateV2 = sd::attribute_value(attrs, oids::ID_AA_SIGNING_CERTIFICATE_V2)?
        .decode_as()
        .map_err(|e| VerifyError::TimeStamp(e.to_string()))?;
    let names_tsa = ess.certs.first().is_some_and(|id| {
        id.hash_algorithm.is_none()
            && id.cert_hash.as_bytes() == Sha256::digest(&tsa.cert_der).as_slice()
    });
    if !names_tsa {
        return Err(VerifyError::TimeStamp(
            "the ESS signing certificate is not the TSA's".into(),
        ));
    }
    if facts.imprint != hash {
        return Err(VerifyError::TimeStamp("the token stamps other data".into()));
    }
    Ok(facts)
}

/// What a token says, unchecked.
pub fn read(token: &ContentInfo) -> Result<StampFacts, VerifyError> {
    let signed = sd::unwrap(token)?;
    if signed.encap_content_info.econtent_type != oids::ID_CT_TST_INFO {
        return Err(VerifyError::TimeStamp("not a time-stamp token".into()));
    }
    let info = TstInfo::from_der(sd::econtent(&signed)?)
        .map_err(|e| VerifyError::TimeStamp(e.to_string()))?;
    if info.message_imprint.hash_algorithm.oid != oids::ID_SHA256 {
        return Err(VerifyError::TimeStamp(
            "the token's imprint is not SHA-256".into(),
        ));
    }
    Ok(StampFacts {
        gen_time: info.gen_time.to_unix_duration().as_secs(),
        serial: info
            .serial_number
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect(),
        imprint: info.message_imprint.hashed_message.as_bytes().to_vec(),
    })
}

/// A token as DER.
pub fn to_der(token: &ContentInfo) -> Result<Vec<u8>, SignError> {
    Ok(token.to_der()?)
}

/// A token from DER.
pub fn from_der(bytes: &[u8]) -> Result<ContentInfo, VerifyError> {
    ContentInfo::from_der(bytes).map_err(|e| VerifyError::TimeStamp(e.to_string()))
}
