//! Client certificate verifier that accepts any well-formed certificate.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{
    CryptoProvider, WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature,
};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// Requests a client certificate without requiring one and without CA
/// hints, and accepts any syntactically valid X.509 certificate: no chain,
/// validity or usage checks, since identity is decided later from the
/// certificate itself. The handshake signature is still verified against
/// the certificate's key, so a client must hold the private key.
#[derive(Debug)]
pub struct AnyClientCertVerifier {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyClientCertVerifier {
    /// Verifies handshake signatures with `provider`'s algorithms.
    pub fn new(provider: &Arc<CryptoProvider>) -> Self {
        AnyClientCertVerifier {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for AnyClientCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let bad = || rustls::Error::InvalidCertificate(CertificateError::BadEncoding);
        match x509_parser::parse_x509_certificate(end_entity) {
            Ok(([], _)) => {}
            _ => return Err(bad()),
        }
        // The signature checks below parse the certificate with webpki;
        // refuse here what they could not use.
        ParsedCertificate::try_from(end_entity).map_err(|_| bad())?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
