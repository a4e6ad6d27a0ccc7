//! Object identifiers of CMS (RFC 5652), ESS (RFC 5035), time stamps
//! (RFC 3161) and the algorithms the gateway uses.

use der::oid::ObjectIdentifier as Oid;

/// id-data: the content type of the signed XML.
pub const ID_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
/// id-signedData.
pub const ID_SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
/// id-ct-TSTInfo: the content type of a time-stamp token.
pub const ID_CT_TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// Signed attribute content-type.
pub const ID_CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
/// Signed attribute message-digest.
pub const ID_MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
/// Signed attribute signing-time.
pub const ID_SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
/// Signed attribute id-aa-signingCertificateV2 (ESS, RFC 5035).
pub const ID_AA_SIGNING_CERTIFICATE_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// Unsigned attribute id-aa-signatureTimeStampToken (RFC 3161 appendix A).
pub const ID_AA_SIGNATURE_TIME_STAMP_TOKEN: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.14");
/// SHA-256.
pub const ID_SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
/// ecdsa-with-SHA256.
pub const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
/// Extended key usage timeStamping.
pub const ID_KP_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
/// The extended key usage extension (2.5.29.37), as arcs for rcgen.
pub const EXT_KEY_USAGE_ARCS: [u64; 4] = [2, 5, 29, 37];
/// The policy under which the built-in TSA stamps: the example policy of
/// OpenSSL's sample TSA configuration, as this is no real trust service.
pub const TSA_POLICY: Oid = Oid::new_unwrap("1.2.3.4.1");
