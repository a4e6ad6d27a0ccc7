//! CMS SignedData (RFC 5652) with one ECDSA P-256 / SHA-256 signer whose
//! certificate travels along, and the checks of such a structure.

use std::time::Duration;

use cms::cert::IssuerAndSerialNumber;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, DecodeOwned, Encode, Tag, Tagged};
use p256::ecdsa::DerSignature;
use p256::ecdsa::signature::Verifier as _;
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::time::Time;

use super::identity::KeyCert;
use super::{SignError, VerifyError, oids};

/// AlgorithmIdentifier without parameters (SHA-256, ecdsa-with-SHA256).
pub(super) fn algorithm(oid: ObjectIdentifier) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    }
}

/// An attribute with one value.
pub(super) fn attribute<T: Encode>(oid: ObjectIdentifier, value: &T) -> der::Result<Attribute> {
    let mut values = SetOfVec::new();
    values.insert(Any::from_der(&value.to_der()?)?)?;
    Ok(Attribute { oid, values })
}

/// An `Any` read as `T` (CHOICE types included).
pub(super) fn decode_any<T: DecodeOwned>(any: &Any) -> Result<T, VerifyError> {
    let bytes = any
        .to_der()
        .map_err(|e| VerifyError::NotCms(e.to_string()))?;
    T::from_der(&bytes).map_err(|e| VerifyError::NotCms(e.to_string()))
}

/// The one value of attribute `oid` in `attrs`.
pub(super) fn attribute_value(
    attrs: &SetOfVec<Attribute>,
    oid: ObjectIdentifier,
) -> Result<&Any, VerifyError> {
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    let attr = found
        .next()
        .ok_or(VerifyError::Structure("a required attribute is missing"))?;
    if found.next().is_some() || attr.values.len() != 1 {
        return Err(VerifyError::Structure("an attribute occurs more than once"));
    }
    attr.values
        .get(0)
        .ok_or(VerifyError::Structure("an attribute has no value"))
}

fn issuer_and_serial(cert: &Certificate) -> SignerIdentifier {
    SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: cert.tbs_certificate.issuer.clone(),
        serial_number: cert.tbs_certificate.serial_number.clone(),
    })
}

/// Signs `econtent` of type `econtent_type` as the holder of `signer`: signed
/// attributes content-type, message-digest and signing-time (`at`, Unix
/// seconds) plus `extra`, the signer's certificate included.
pub(super) fn sign(
    signer: &KeyCert,
    econtent_type: ObjectIdentifier,
    econtent: &[u8],
    at: u64,
    extra: Vec<Attribute>,
) -> Result<SignedData, SignError> {
    let digest = Sha256::digest(econtent);
    let time = Time::try_from(std::time::UNIX_EPOCH + Duration::from_secs(at))?;
    let mut attrs = vec![
        attribute(oids::ID_CONTENT_TYPE, &econtent_type)?,
        attribute(oids::ID_MESSAGE_DIGEST, &OctetString::new(digest.to_vec())?)?,
        attribute(oids::ID_SIGNING_TIME, &time)?,
    ];
    attrs.extend(extra);
    let signed_attrs = SetOfVec::try_from(attrs)?;
    // The signature covers the DER of the attributes as a SET OF.
    let signature = signer.sign_der(&signed_attrs.to_der()?)?;
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: issuer_and_serial(&signer.cert),
        digest_alg: algorithm(oids::ID_SHA256),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: algorithm(oids::ECDSA_WITH_SHA256),
        signature: OctetString::new(signature)?,
        unsigned_attrs: None,
    };
    let mut digest_algorithms = SetOfVec::new();
    digest_algorithms.insert(algorithm(oids::ID_SHA256))?;
    let certificates = CertificateSet::try_from(vec![cms::cert::CertificateChoices::Certificate(
        signer.cert.clone(),
    )])?;
    Ok(SignedData {
        // RFC 5652 5.1: 3 when the content is not id-data.
        version: version_for(econtent_type),
        digest_algorithms,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type,
            econtent: Some(Any::new(Tag::OctetString, econtent)?),
        },
        certificates: Some(certificates),
        crls: None,
        signer_infos: SignerInfos::try_from(vec![signer_info])?,
    })
}

/// The SignedData version for a content type (RFC 5652 5.1): 1 for
/// id-data, 3 otherwise (no attribute certificates are ever included).
fn version_for(econtent_type: ObjectIdentifier) -> CmsVersion {
    if econtent_type == oids::ID_DATA {
        CmsVersion::V1
    } else {
        CmsVersion::V3
    }
}

/// `sd` wrapped as a ContentInfo.
pub(super) fn wrap(sd: &SignedData) -> der::Result<ContentInfo> {
    Ok(ContentInfo {
        content_type: oids::ID_SIGNED_DATA,
        content: Any::encode_from(sd)?,
    })
}

/// The SignedData inside a ContentInfo.
pub(super) fn unwrap(ci: &ContentInfo) -> Result<SignedData, VerifyError> {
    if ci.content_type != oids::ID_SIGNED_DATA {
        return Err(VerifyError::Structure("the content is not SignedData"));
    }
    ci.content
        .decode_as::<SignedData>()
        .map_err(|e| VerifyError::NotCms(e.to_string()))
}

/// The encapsulated content's bytes.
pub(super) fn econtent(sd: &SignedData) -> Result<&[u8], VerifyError> {
    let any = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or(VerifyError::Structure("the content is detached"))?;
    if any.tag() != Tag::OctetString {
        return Err(VerifyError::Structure("the content is not an OCTET STRING"));
    }
    Ok(any.value())
}

/// The only signer of `sd`.
pub(super) fn only_signer(sd: &SignedData) -> Result<&SignerInfo, VerifyError> {
    let mut signers = sd.signer_infos.0.iter();
    let si = signers.next().ok_or(VerifyError::Structure("no signer"))?;
    if signers.next().is_some() {
        return Err(VerifyError::Structure("more than one signer"));
    }
    Ok(si)
}

/// What a verified signer said.
pub(super) struct SignerFacts {
    /// signing-time, Unix seconds.
    pub signing_time: u64,
}

/// Checks that `sd` is exactly what [`sign`] makes for `expected`: one
/// signer identified by `expected`'s issuer and serial, SHA-256 and
/// ecdsa-with-SHA256, only `expected` among the certificates, the
/// content-type and digest attributes matching the content, and a valid
/// signature over the signed attributes.
pub(super) fn verify_signer(
    sd: &SignedData,
    expected: &KeyCert,
) -> Result<SignerFacts, VerifyError> {
    if sd.version != version_for(sd.encap_content_info.econtent_type) {
        return Err(VerifyError::Structure("unexpected SignedData version"));
    }
    let sha256 = algorithm(oids::ID_SHA256);
    if sd.digest_algorithms.len() != 1 || sd.digest_algorithms.get(0) != Some(&sha256) {
        return Err(VerifyError::Structure("unexpected digest algorithms"));
    }
    if sd.crls.is_some() {
        return Err(VerifyError::Structure("unexpected revocation data"));
    }
    let certs = sd.certificates.as_ref().ok_or(VerifyError::UnknownSigner)?;
    let only_ours = certs.0.len() == 1
        && matches!(certs.0.get(0),
            Some(cms::cert::CertificateChoices::Certificate(c)) if *c == expected.cert);
    if !only_ours {
        return Err(VerifyError::UnknownSigner);
    }
    let si = only_signer(sd)?;
    if si.version != CmsVersion::V1 || si.sid != issuer_and_serial(&expected.cert) {
        return Err(VerifyError::UnknownSigner);
    }
    if si.digest_alg != sha256 || si.signature_algorithm != algorithm(oids::ECDSA_WITH_SHA256) {
        return Err(VerifyError::Structure("unexpected signature algorithms"));
    }
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or(VerifyError::Structure("no signed attributes"))?;
    let content_type: ObjectIdentifier = attribute_value(attrs, oids::ID_CONTENT_TYPE)?
        .decode_as()
        .map_err(|e| VerifyError::NotCms(e.to_string()))?;
    if content_type != sd.encap_content_info.econtent_type {
        return Err(VerifyError::Structure("content-type attribute differs"));
    }
    let digest: OctetString = attribute_value(attrs, oids::ID_MESSAGE_DIGEST)?
        .decode_as()
        .map_err(|e| VerifyError::NotCms(e.to_string()))?;
    if digest.as_bytes() != Sha256::digest(econtent(sd)?).as_slice() {
        return Err(VerifyError::ContentDigest);
    }
    let time: Time = decode_any(attribute_value(attrs, oids::ID_SIGNING_TIME)?)?;
    let signature =
        DerSignature::from_bytes(si.signature.as_bytes()).map_err(|_| VerifyError::BadSignature)?;
    let to_verify = attrs
        .to_der()
        .map_err(|e| VerifyError::NotCms(e.to_string()))?;
    expected
        .verifying_key()
        .verify(&to_verify, &signature)
        .map_err(|_| VerifyError::BadSignature)?;
    Ok(SignerFacts {
        signing_time: time.to_unix_duration().as_secs(),
    })
}

/// Decodes a DER ContentInfo, refusing trailing bytes.
pub(super) fn decode(der_bytes: &[u8]) -> Result<ContentInfo, VerifyError> {
    ContentInfo::from_der(der_bytes).map_err(|e| VerifyError::NotCms(e.to_string()))
}
