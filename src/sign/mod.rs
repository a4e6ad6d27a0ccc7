//! Signed artefacts as ISDS issues them: a `.zfo` is a DER CMS SignedData
//! (RFC 5652) whose encapsulated content is the XML of a message or a
//! delivery receipt, signed by the gateway's seal certificate (signed
//! attributes content-type, message-digest, signing-time) and carrying an
//! RFC 3161 time-stamp token of the built-in TSA over the signature value
//! as the unsigned attribute id-aa-signatureTimeStampToken.
//!
//! Crypto is RustCrypto's typed DER (`cms`, `x509-cert`, `x509-tsp`,
//! `der`) with ECDSA P-256 (`p256`); certificates are made with rcgen.

mod cms;
pub mod identity;
pub mod oids;
pub mod tsa;

use ::cms::content_info::ContentInfo;
use ::cms::signed_data::SignedData;
use der::asn1::SetOfVec;
use der::{Any, Encode};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

pub use identity::{SigningIdentity, SigningSettings};

/// The signing identity could not be prepared, or signing failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
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
    /// Invalid `[signing]` settings.
    #[error("signing settings: {0}")]
    Settings(String),
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("DER encoding: {0}")]
    Der(#[from] der::Error),
    #[error("ECDSA: {0}")]
    Ecdsa(#[from] p256::ecdsa::Error),
    /// Re-stamping was asked for a document the gateway did not issue.
    #[error("not a document of this gateway: {0}")]
    NotOurs(#[from] VerifyError),
}

/// Why a document is not an untampered artefact of this gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not DER CMS at all.
    #[error("not a DER CMS structure: {0}")]
    NotCms(String),
    /// CMS, but not shaped as the gateway makes it.
    #[error("unexpected structure: {0}")]
    Structure(&'static str),
    /// Signed by someone else (or the certificate was changed).
    #[error("not signed by this gateway's seal")]
    UnknownSigner,
    /// The content does not match the signed digest.
    #[error("the content was changed after signing")]
    ContentDigest,
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// No signature time-stamp token.
    #[error("no time-stamp token")]
    NoTimeStamp,
    /// The time-stamp token is not a valid one of the gateway's TSA over
    /// the signature.
    #[error("time-stamp token: {0}")]
    TimeStamp(String),
}

/// What a verified artefact says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signed XML.
    pub content: Vec<u8>,
    /// signing-time, Unix seconds.
    pub signing_time: u64,
    /// The time stamp over the signature.
    pub stamp: tsa::StampFacts,
}

/// Signs and checks artefacts with one [`SigningIdentity`].
#[derive(Debug)]
pub struct Signer {
    identity: SigningIdentity,
}

impl Signer {
    pub fn new(identity: SigningIdentity) -> Signer {
        Signer { identity }
    }

    pub fn identity(&self) -> &SigningIdentity {
        &self.identity
    }

    /// A `.zfo`: `content` signed at `at` (Unix seconds) and time-stamped.
    pub fn sign(&self, content: &[u8], at: u64) -> Result<Vec<u8>, SignError> {
        let mut signed = cms::sign(&self.identity.signer, oids::ID_DATA, content, at, vec![])?;
        self.attach_stamp(&mut signed, at)?;
        Ok(cms::wrap(&signed)?.to_der()?)
    }

    /// A time-stamp token (DER) of the built-in TSA over the SHA-256 `hash`.
    pub fn timestamp(&self, hash: &[u8], at: u64) -> Result<Vec<u8>, SignError> {
        tsa::to_der(&tsa::stamp(&self.identity.tsa, hash, at)?)
    }

    /// Replaces the signature time stamp with a fresh one (Re-signISDSDocument).
    pub fn restamp(&self, zfo: &[u8], at: u64) -> Result<Vec<u8>, SignError> {
        self.verify(zfo)?;
        let ci = cms::decode(zfo)?;
        let mut signed = cms::unwrap(&ci)?;
        self.attach_stamp(&mut signed, at)?;
        Ok(cms::wrap(&signed)?.to_der()?)
    }

    /// Sets the unsigned attributes of the only signer to one fresh
    /// signature time-stamp token.
    fn attach_stamp(&self, signed: &mut SignedData, at: u64) -> Result<(), SignError> {
        let mut infos: Vec<_> = signed.signer_infos.0.iter().cloned().collect();
        for si in &mut infos {
            let imprint = Sha256::digest(si.signature.as_bytes());
            let token = tsa::stamp(&self.identity.tsa, &imprint, at)?;
            let mut attrs = SetOfVec::new();
            attrs.insert(cms::attribute(
                oids::ID_AA_SIGNATURE_TIME_STAMP_TOKEN,
                &token,
            )?)?;
            si.unsigned_attrs = Some(attrs);
        }
        signed.signer_infos = ::cms::signed_data::SignerInfos::try_from(infos)?;
        Ok(())
    }

    /// Checks that `zfo` is an artefact of this gateway, byte for byte as
    /// issued (or re-stamped): canonical DER, signed by the seal over its
    /// content, time-stamped by the TSA over the signature.
    pub fn verify(&self, zfo: &[u8]) -> Result<Verified, VerifyError> {
        let ci = cms::decode(zfo)?;
        // DER has one encoding per value: anything re-encoding differently
        // was not produced here.
        if ci.to_der().ok().as_deref() != Some(zfo) {
            return Err(VerifyError::Structure("not in canonical DER"));
        }
        let signed = cms::unwrap(&ci)?;
        if signed.encap_content_info.econtent_type != oids::ID_DATA {
            return Err(VerifyError::Structure("unexpected content type"));
        }
        let facts = cms::verify_signer(&signed, &self.identity.signer)?;
        let si = cms::only_signer(&signed)?;
        let unsigned = si.unsigned_attrs.as_ref().ok_or(VerifyError::NoTimeStamp)?;
        if unsigned.len() != 1 {
            return Err(VerifyError::Structure("unexpected unsigned attributes"));
        }
        let token: ContentInfo =
            cms::attribute_value(unsigned, oids::ID_AA_SIGNATURE_TIME_STAMP_TOKEN)
                .map_err(|_| VerifyError::NoTimeStamp)?
                .decode_as()
                .map_err(|e| VerifyError::TimeStamp(e.to_string()))?;
        let imprint = Sha256::digest(si.signature.as_bytes());
        let stamp = tsa::verify(&token, &self.identity.tsa, &imprint)?;
        Ok(Verified {
            content: cms::econtent(&signed)?.to_vec(),
            signing_time: facts.signing_time,
            stamp,
        })
    }
}

/// What an artefact says about itself, unchecked (for `zfo inspect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// Subject of the signer's certificate (RFC 4514 form).
    pub signer: Option<String>,
    /// Issuer of the signer's certificate.
    pub signer_issuer: Option<String>,
    /// signing-time, Unix seconds.
    pub signing_time: Option<u64>,
    /// The time stamp over the signature and who issued it.
    pub stamp: Option<tsa::StampFacts>,
    pub stamp_authority: Option<String>,
    /// The signed content.
    pub content: Vec<u8>,
}

/// Reads an artefact without checking it.
pub fn inspect(zfo: &[u8]) -> Result<Inspection, VerifyError> {
    let ci = cms::decode(zfo)?;
    let signed = cms::unwrap(&ci)?;
    let si = cms::only_signer(&signed)?;
    let cert_of = |sd: &SignedData| {
        sd.certificates.as_ref().and_then(|set| {
            set.0.iter().find_map(|c| match c {
                ::cms::cert::CertificateChoices::Certificate(c) => Some(c.clone()),
                _ => None,
            })
        })
    };
    let cert = cert_of(&signed);
    let signing_time = si.signed_attrs.as_ref().and_then(|attrs| {
        cms::attribute_value(attrs, oids::ID_SIGNING_TIME)
            .ok()
            .and_then(|v| cms::decode_any::<x509_cert::time::Time>(v).ok())
            .map(|t| t.to_unix_duration().as_secs())
    });
    let token = si.unsigned_attrs.as_ref().and_then(|attrs| {
        cms::attribute_value(attrs, oids::ID_AA_SIGNATURE_TIME_STAMP_TOKEN)
            .ok()
            .and_then(|v: &Any| v.decode_as::<ContentInfo>().ok())
    });
    let stamp = token.as_ref().map(tsa::read).transpose()?;
    let stamp_authority = token
        .as_ref()
        .and_then(|t| cms::unwrap(t).ok())
        .and_then(|sd| cert_of(&sd))
        .map(|c| c.tbs_certificate.subject.to_string());
    Ok(Inspection {
        signer: cert.as_ref().map(|c| c.tbs_certificate.subject.to_string()),
        signer_issuer: cert.as_ref().map(|c| c.tbs_certificate.issuer.to_string()),
        signing_time,
        stamp,
        stamp_authority,
        content: cms::econtent(&signed)?.to_vec(),
    })
}

/// The time-stamp token embedded in an artefact, as DER (for external
/// checks such as `openssl ts -verify`), with the signature value it
/// stamps.
pub fn embedded_token(zfo: &[u8]) -> Result<(Vec<u8>, Vec<u8>), VerifyError> {
    let ci = cms::decode(zfo)?;
    let signed = cms::unwrap(&ci)?;
    let si = cms::only_signer(&signed)?;
    let unsigned = si.unsigned_attrs.as_ref().ok_or(VerifyError::NoTimeStamp)?;
    let token = cms::attribute_value(unsigned, oids::ID_AA_SIGNATURE_TIME_STAMP_TOKEN)
        .map_err(|_| VerifyError::NoTimeStamp)?;
    let der_token = token
        .to_der()
        .map_err(|e| VerifyError::TimeStamp(e.to_string()))?;
    Ok((der_token, si.signature.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests;
