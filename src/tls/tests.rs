//! Tests with real handshakes over 127.0.0.1 (tokio-rustls on both sides).

use super::*;

use std::net::SocketAddr;

use rcgen::CertifiedKey as RcgenCertifiedKey;
use rustls::client::ResolvesClientCert;
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, ProtocolVersion, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use x509_parser::extensions::ParsedExtension;

#[derive(Debug)]
struct Seen {
    peer: Option<PeerCertificate>,
    alpn: Option<Vec<u8>>,
    version: Option<ProtocolVersion>,
}

/// Accepts one connection, completes the handshake, answers `ping` with
/// `pong`, and reports what the server saw.
async fn serve_once(config: Arc<ServerConfig>) -> (SocketAddr, JoinHandle<Result<Seen, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut tls = TlsAcceptor::from(config)
            .accept(tcp)
            .await
            .map_err(|e| format!("server handshake: {e}"))?;
        let conn = tls.get_ref().1;
        let seen = Seen {
            peer: PeerCertificate::from_peer_chain(conn.peer_certificates())
                .map_err(|e| e.to_string())?,
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            version: conn.protocol_version(),
        };
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        tls.write_all(b"pong").await.map_err(|e| e.to_string())?;
        tls.shutdown().await.ok();
        Ok(seen)
    });
    (addr, task)
}

async fn client_exchange(addr: SocketAddr, config: ClientConfig, name: &str) -> Result<(), String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let server_name = ServerName::try_from(name.to_owned()).map_err(|e| e.to_string())?;
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(server_name, tcp)
        .await
        .map_err(|e| format!("client handshake: {e}"))?;
    tls.write_all(b"ping").await.map_err(|e| e.to_string())?;
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
    if &buf != b"pong" {
        return Err("wrong answer".into());
    }
    Ok(())
}

/// One full exchange; returns the server's view and the client's result.
async fn handshake(
    server: Arc<ServerConfig>,
    client: ClientConfig,
    name: &str,
) -> (Result<Seen, String>, Result<(), String>) {
    let (addr, task) = serve_once(server).await;
    let client_result = client_exchange(addr, client, name).await;
    let server_result = task.await.unwrap();
    (server_result, client_result)
}

fn roots_from(path: &Path) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path).unwrap() {
        roots.add(cert).unwrap();
    }
    roots
}

fn client_builder(
    roots: RootCertStore,
    versions: &[&'static SupportedProtocolVersion],
) -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert> {
    ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
}

fn no_cert_client(ca: &Path) -> ClientConfig {
    let mut c = client_builder(roots_from(ca), PROTOCOL_VERSIONS).with_no_client_auth();
    c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    c
}

fn self_signed(name: &str) -> RcgenCertifiedKey {
    rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap()
}

fn key_der(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

fn cert_client(ca: &Path, cert: &CertificateDer<'static>, key: &KeyPair) -> ClientConfig {
    client_builder(roots_from(ca), PROTOCOL_VERSIONS)
        .with_client_auth_cert(vec![cert.clone()], key_der(key))
        .unwrap()
}

fn local(dir: &Path) -> (TlsIdentity, Arc<ServerConfig>) {
    let settings = TlsSettings::default();
    let id = load_or_create(dir, &settings).unwrap();
    let cfg = server_config(&id, &settings).unwrap();
    (id, cfg)
}

fn parse(der: &[u8]) -> x509_parser::certificate::X509Certificate<'_> {
    x509_parser::parse_x509_certificate(der).unwrap().1
}

#[tokio::test]
async fn generated_ca_verifies_server_in_real_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let (id, server) = local(dir.path());
    let ca = id.ca_cert_path.clone().unwrap();
    assert_eq!(ca, dir.path().join("tls/ca.pem"));
    assert_eq!(
        id.origin,
        IdentityOrigin::LocalCa {
            created_ca: true,
            created_server_cert: true
        }
    );

    // SNI localhost, no client certificate: completes, server sees none.
    let (seen, client) = handshake(Arc::clone(&server), no_cert_client(&ca), "localhost").await;
    client.unwrap();
    let seen = seen.unwrap();
    assert!(seen.peer.is_none());
    assert_eq!(seen.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(seen.version, Some(ProtocolVersion::TLSv1_3));

    // The IP names verify too.
    for name in ["127.0.0.1", "::1"] {
        let (seen, client) = handshake(Arc::clone(&server), no_cert_client(&ca), name).await;
        client.unwrap();
        seen.unwrap();
    }

    // A name outside the certificate is refused by the client.
    let (_, client) = handshake(Arc::clone(&server), no_cert_client(&ca), "example.org").await;
    assert!(client.unwrap_err().contains("client handshake"));

    // Without the CA as root the server is not trusted.
    let other_ca = dir.path().join("other.pem");
    fs::write(&other_ca, self_signed("other").cert.pem()).unwrap();
    let (_, client) = handshake(server, no_cert_client(&other_ca), "localhost").await;
    assert!(client.is_err());
}

#[tokio::test]
async fn self_signed_client_cert_is_accepted_and_seen() {
    let dir = tempfile::tempdir().unwrap();
    let (id, server) = local(dir.path());
    let ca = id.ca_cert_path.clone().unwrap();
    let client_cert = self_signed("client.example");

    let (seen, client) = handshake(
        Arc::clone(&server),
        cert_client(&ca, client_cert.cert.der(), &client_cert.key_pair),
        "localhost",
    )
    .await;
    client.unwrap();
    let peer = seen
        .unwrap()
        .peer
        .expect("server saw the client certificate");
    assert_eq!(peer.der, client_cert.cert.der().to_vec());
    assert_eq!(peer.sha256_hex, sha256_hex(client_cert.cert.der()));
    assert_eq!(peer.sha256_hex.len(), 64);
    assert!(
        peer.subject.contains("rcgen self signed cert"),
        "{}",
        peer.subject
    );

    // Same over TLS 1.2.
    let c12 = client_builder(roots_from(&ca), &[&rustls::version::TLS12])
        .with_client_auth_cert(
            vec![client_cert.cert.der().clone()],
            key_der(&client_cert.key_pair),
        )
        .unwrap();
    let (seen, client) = handshake(server, c12, "localhost").await;
    client.unwrap();
    let seen = seen.unwrap();
    assert_eq!(seen.version, Some(ProtocolVersion::TLSv1_2));
    assert_eq!(
        seen.peer.unwrap().sha256_hex,
        sha256_hex(client_cert.cert.der())
    );
}

/// Presents someone else's certificate with a different key.
#[derive(Debug)]
struct StolenCert(Arc<CertifiedKey>);

impl ResolvesClientCert for StolenCert {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn client_must_hold_the_key_of_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (id, server) = local(dir.path());
    let ca = id.ca_cert_path.clone().unwrap();
    let victim = self_signed("victim");
    let thief_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let signing = crypto_provider()
        .key_provider
        .load_private_key(key_der(&thief_key))
        .unwrap();
    let stolen = Arc::new(CertifiedKey::new(vec![victim.cert.der().clone()], signing));

    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let client = client_builder(roots_from(&ca), versions)
            .with_client_cert_resolver(Arc::new(StolenCert(Arc::clone(&stolen))));
        let (seen, client) = handshake(Arc::clone(&server), client, "localhost").await;
        let err = seen.unwrap_err();
        assert!(err.contains("server handshake"), "{err}");
        assert!(client.is_err());
    }
}

#[tokio::test]
async fn garbage_client_certificate_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (id, server) = local(dir.path());
    let ca = id.ca_cert_path.clone().unwrap();
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let signing = crypto_provider()
        .key_provider
        .load_private_key(key_der(&key))
        .unwrap();
    let junk = Arc::new(CertifiedKey::new(
        vec![CertificateDer::from(vec![0x30, 0x03, 1, 2, 3])],
        signing,
    ));
    let client = client_builder(roots_from(&ca), PROTOCOL_VERSIONS)
        .with_client_cert_resolver(Arc::new(StolenCert(junk)));
    let (seen, client) = handshake(server, client, "localhost").await;
    assert!(seen.is_err());
    assert!(client.is_err());
}

#[tokio::test]
async fn client_ca_restricts_accepted_chains() {
    let dir = tempfile::tempdir().unwrap();
    // A client CA and a certificate it issued for client authentication.
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "client CA");
    let client_ca = ca_params.self_signed(&ca_key).unwrap();
    let client_ca_path = dir.path().join("client-ca.pem");
    fs::write(&client_ca_path, client_ca.pem()).unwrap();

    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut leaf_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "alice");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let leaf = leaf_params
        .signed_by(&leaf_key, &client_ca, &ca_key)
        .unwrap();

    let settings = TlsSettings {
        client_ca: Some(client_ca_path),
        ..TlsSettings::default()
    };
    let id = load_or_create(dir.path(), &settings).unwrap();
    let server = server_config(&id, &settings).unwrap();
    let ca = id.ca_cert_path.clone().unwrap();

    let (seen, client) = handshake(
        Arc::clone(&server),
        cert_client(&ca, leaf.der(), &leaf_key),
        "localhost",
    )
    .await;
    client.unwrap();
    let peer = seen.unwrap().peer.unwrap();
    assert!(peer.subject.contains("alice"));
    assert!(peer.issuer.contains("client CA"));

    let stranger = self_signed("stranger");
    let (seen, _) = handshake(
        Arc::clone(&server),
        cert_client(&ca, stranger.cert.der(), &stranger.key_pair),
        "localhost",
    )
    .await;
    assert!(
        seen.is_err(),
        "certificate outside the client CA was accepted"
    );

    let (seen, client) = handshake(server, no_cert_client(&ca), "localhost").await;
    client.unwrap();
    assert!(seen.unwrap().peer.is_none());

    let missing = TlsSettings {
        client_ca: Some(dir.path().join("nope.pem")),
        ..TlsSettings::default()
    };
    let err = server_config(&id, &missing).unwrap_err();
    assert!(err.to_string().contains("nope.pem"), "{err}");
}

#[tokio::test]
async fn files_are_reused_and_server_cert_regenerated_when_needed() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    let (first, _) = local(dir.path());
    let ca_bytes = fs::read(tls.join(CA_CERT_FILE)).unwrap();
    let ca_key_bytes = fs::read(tls.join(CA_KEY_FILE)).unwrap();
    let server_bytes = fs::read(tls.join(SERVER_CERT_FILE)).unwrap();

    // Second start: everything reused.
    let (second, _) = local(dir.path());
    assert_eq!(
        second.origin,
        IdentityOrigin::LocalCa {
            created_ca: false,
            created_server_cert: false
        }
    );
    assert_eq!(fs::read(tls.join(CA_CERT_FILE)).unwrap(), ca_bytes);
    assert_eq!(fs::read(tls.join(CA_KEY_FILE)).unwrap(), ca_key_bytes);
    assert_eq!(fs::read(tls.join(SERVER_CERT_FILE)).unwrap(), server_bytes);
    assert_eq!(first.server_cert_sha256(), second.server_cert_sha256());

    // Server certificate missing: a new one from the same CA.
    fs::remove_file(tls.join(SERVER_CERT_FILE)).unwrap();
    let (third, server) = local(dir.path());
    assert_eq!(
        third.origin,
        IdentityOrigin::LocalCa {
            created_ca: false,
            created_server_cert: true
        }
    );
    assert_eq!(fs::read(tls.join(CA_CERT_FILE)).unwrap(), ca_bytes);
    assert_ne!(third.server_cert_sha256(), first.server_cert_sha256());
    let (seen, client) =
        handshake(server, no_cert_client(&tls.join(CA_CERT_FILE)), "localhost").await;
    client.unwrap();
    seen.unwrap();

    // New extra names: a new certificate that covers them.
    let settings = TlsSettings {
        extra_names: vec!["Gateway.Test".into(), " 10.1.2.3 ".into()],
        ..TlsSettings::default()
    };
    let fourth = load_or_create(dir.path(), &settings).unwrap();
    assert!(matches!(
        fourth.origin,
        IdentityOrigin::LocalCa {
            created_ca: false,
            created_server_cert: true
        }
    ));
    let server = server_config(&fourth, &settings).unwrap();
    for name in ["gateway.test", "10.1.2.3", "localhost"] {
        let (seen, client) = handshake(
            Arc::clone(&server),
            no_cert_client(&tls.join(CA_CERT_FILE)),
            name,
        )
        .await;
        client.unwrap();
        seen.unwrap();
    }
    // Same names again: reused.
    let fifth = load_or_create(dir.path(), &settings).unwrap();
    assert_eq!(fifth.server_cert_sha256(), fourth.server_cert_sha256());
    assert_eq!(fs::read(tls.join(CA_CERT_FILE)).unwrap(), ca_bytes);
}

#[test]
fn generated_certificates_have_the_required_shape() {
    let dir = tempfile::tempdir().unwrap();
    let (id, _) = local(dir.path());
    let ca_der = read_certs(&dir.path().join("tls/ca.pem"))
        .unwrap()
        .remove(0);
    let ca = parse(&ca_der);
    assert!(ca.is_ca());
    let subject = ca.subject().to_string();
    assert!(subject.contains("isds-gateway local CA"), "{subject}");
    assert!(
        subject.contains("not a real certification authority"),
        "{subject}"
    );
    let ku = ca.key_usage().unwrap().unwrap().value;
    assert!(ku.key_cert_sign());
    let bc = ca.basic_constraints().unwrap().unwrap().value;
    assert!(bc.ca);

    let server = parse(&id.cert_chain[0]);
    assert!(!server.is_ca());
    assert_eq!(server.issuer().as_raw(), ca.subject().as_raw());
    let eku = server.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth);
    let names = san_names(&server);
    assert_eq!(names, wanted_names(&[]).unwrap());
    assert_eq!(names.len(), 3);
    let has_aki = server.iter_extensions().any(|e| {
        matches!(
            e.parsed_extension(),
            ParsedExtension::AuthorityKeyIdentifier(_)
        )
    });
    assert!(has_aki);
    let lifetime =
        server.validity().not_after.timestamp() - server.validity().not_before.timestamp();
    assert!(lifetime <= 400 * 86_400);
}

#[cfg(unix)]
#[test]
fn key_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    local(dir.path());
    let tls = dir.path().join("tls");
    for (file, mode) in [
        (CA_KEY_FILE, 0o600),
        (SERVER_KEY_FILE, 0o600),
        (CA_CERT_FILE, 0o644),
        (SERVER_CERT_FILE, 0o644),
    ] {
        let got = fs::metadata(tls.join(file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(got, mode, "{file}");
    }
    let dir_mode = fs::metadata(&tls).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    // No temporary files left behind.
    let leftovers: Vec<_> = fs::read_dir(&tls)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[tokio::test]
async fn only_tls12_and_tls13_are_spoken() {
    assert_eq!(PROTOCOL_VERSIONS.len(), 2);
    let versions: Vec<ProtocolVersion> = PROTOCOL_VERSIONS.iter().map(|v| v.version).collect();
    assert!(versions.contains(&ProtocolVersion::TLSv1_3));
    assert!(versions.contains(&ProtocolVersion::TLSv1_2));
    assert!(!versions.contains(&ProtocolVersion::TLSv1_1));
    assert!(!versions.contains(&ProtocolVersion::TLSv1_0));

    // A client offering at most TLS 1.1 gets an alert, not a ServerHello.
    let dir = tempfile::tempdir().unwrap();
    let (_, server) = local(dir.path());
    let (addr, task) = serve_once(server).await;
    let mut body = vec![0x03, 0x02]; // client_version TLS 1.1
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // no session id
    body.extend_from_slice(&[0x00, 0x04, 0x00, 0x2f, 0x00, 0x35]); // two CBC suites
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    let mut hello = vec![0x01, 0x00, 0x00, body.len() as u8];
    hello.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01, 0x00, hello.len() as u8];
    record.extend_from_slice(&hello);
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(&record).await.unwrap();
    let mut reply = Vec::new();
    tcp.read_to_end(&mut reply).await.ok();
    assert_ne!(
        reply.first(),
        Some(&0x16),
        "server answered a TLS 1.1 hello with a handshake"
    );
    assert!(task.await.unwrap().is_err());

    // ALPN falls back to http/1.1 and TLS 1.2 is negotiated when asked for.
    let ca = dir.path().join("tls/ca.pem");
    let mut c = client_builder(roots_from(&ca), &[&rustls::version::TLS12]).with_no_client_auth();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    let (_, server) = local(dir.path());
    let (seen, client) = handshake(server, c, "localhost").await;
    client.unwrap();
    let seen = seen.unwrap();
    assert_eq!(seen.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(seen.version, Some(ProtocolVersion::TLSv1_2));
}

/// Extracts the SEC1 `ECPrivateKey` from a PKCS#8 document.
fn pkcs8_to_sec1(pkcs8: &[u8]) -> Vec<u8> {
    use x509_parser::der_parser::ber::BerObjectContent;
    let (_, obj) = x509_parser::der_parser::parse_der(pkcs8).unwrap();
    let BerObjectContent::Sequence(items) = obj.content else {
        panic!("not a sequence")
    };
    let BerObjectContent::OctetString(inner) = items[2].content else {
        panic!("no private key octet string")
    };
    inner.to_vec()
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[tokio::test]
async fn configured_certificate_and_key_are_loaded() {
    let dir = tempfile::tempdir().unwrap();
    // An external CA and a leaf for localhost, chain written leaf first.
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "external CA");
    let ext_ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ext_ca, &ca_key)
        .unwrap();
    let chain = dir.path().join("chain.pem");
    fs::write(&chain, format!("{}{}", leaf.pem(), ext_ca.pem())).unwrap();
    let ext_ca_path = dir.path().join("ext-ca.pem");
    fs::write(&ext_ca_path, ext_ca.pem()).unwrap();
    let pkcs8 = dir.path().join("key-pkcs8.pem");
    fs::write(&pkcs8, leaf_key.serialize_pem()).unwrap();
    let sec1 = dir.path().join("key-sec1.pem");
    fs::write(
        &sec1,
        pem("EC PRIVATE KEY", &pkcs8_to_sec1(&leaf_key.serialize_der())),
    )
    .unwrap();

    for key in [&pkcs8, &sec1] {
        let settings = TlsSettings {
            cert: Some(chain.clone()),
            key: Some(key.clone()),
            ..TlsSettings::default()
        };
        let id = load_or_create(dir.path(), &settings).unwrap();
        assert_eq!(id.origin, IdentityOrigin::Configured);
        assert!(id.ca_cert_path.is_none());
        assert_eq!(id.cert_chain.len(), 2);
        assert!(!dir.path().join("tls").exists(), "nothing generated");
        let server = server_config(&id, &settings).unwrap();
        let (seen, client) = handshake(server, no_cert_client(&ext_ca_path), "localhost").await;
        client.unwrap();
        seen.unwrap();
    }

    // Wrong key: the error names both files.
    let other = dir.path().join("other-key.pem");
    fs::write(&other, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let settings = TlsSettings {
        cert: Some(chain.clone()),
        key: Some(other.clone()),
        ..TlsSettings::default()
    };
    let err = load_or_create(dir.path(), &settings).unwrap_err();
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("other-key.pem") && msg.contains("chain.pem"),
        "{msg}"
    );

    // Missing file, PEM without the wanted block, half-configured.
    let missing = TlsSettings {
        cert: Some(dir.path().join("absent.pem")),
        key: Some(pkcs8.clone()),
        ..TlsSettings::default()
    };
    let err = load_or_create(dir.path(), &missing).unwrap_err();
    assert!(
        matches!(err, TlsError::Io { .. }) && err.to_string().contains("absent.pem"),
        "{err}"
    );
    let swapped = TlsSettings {
        cert: Some(pkcs8.clone()),
        key: Some(chain.clone()),
        ..TlsSettings::default()
    };
    let err = load_or_create(dir.path(), &swapped).unwrap_err();
    assert!(matches!(err, TlsError::Pem { .. }), "{err}");
    assert!(err.to_string().contains("key-pkcs8.pem"), "{err}");
    let half = TlsSettings {
        cert: Some(chain),
        ..TlsSettings::default()
    };
    assert!(matches!(
        load_or_create(dir.path(), &half),
        Err(TlsError::Settings(_))
    ));
}

#[test]
fn broken_local_ca_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    local(dir.path());
    let key = dir.path().join("tls").join(CA_KEY_FILE);
    fs::write(&key, "not a key").unwrap();
    let err = load_or_create(dir.path(), &TlsSettings::default()).unwrap_err();
    assert!(err.to_string().contains("ca.key.pem"), "{err}");
    fs::write(&key, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let err = load_or_create(dir.path(), &TlsSettings::default()).unwrap_err();
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
    fs::remove_file(&key).unwrap();
    let err = load_or_create(dir.path(), &TlsSettings::default()).unwrap_err();
    assert!(
        matches!(err, TlsError::Io { .. }) && err.to_string().contains("ca.key.pem"),
        "{err}"
    );
}

#[test]
fn bad_extra_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let settings = TlsSettings {
        extra_names: vec!["not a name!".into()],
        ..TlsSettings::default()
    };
    let err = load_or_create(dir.path(), &settings).unwrap_err();
    assert!(matches!(err, TlsError::Settings(_)));
    assert!(err.to_string().contains("not a name!"), "{err}");
}

#[test]
fn settings_deserialize_from_toml() {
    let s: TlsSettings = toml::from_str(
        "cert = \"/etc/gw/cert.pem\"\nkey = \"/etc/gw/key.pem\"\nextra_names = [\"gw.example\", \"10.0.0.1\"]\n",
    )
    .unwrap();
    assert_eq!(s.cert.as_deref(), Some(Path::new("/etc/gw/cert.pem")));
    assert_eq!(s.extra_names, vec!["gw.example", "10.0.0.1"]);
    assert_eq!(
        toml::from_str::<TlsSettings>("").unwrap(),
        TlsSettings::default()
    );
    assert!(toml::from_str::<TlsSettings>("certificate = \"x\"").is_err());
}

#[test]
fn peer_certificate_from_der() {
    let c = self_signed("peer.example");
    let der = c.cert.der().to_vec();
    let peer = PeerCertificate::from_der(&der).unwrap();
    assert_eq!(peer.der, der);
    assert_eq!(peer.sha256_hex, sha256_hex(&der));
    assert!(
        peer.sha256_hex
            .chars()
            .all(|ch| ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase())
    );
    assert_eq!(peer.subject, "CN=rcgen self signed cert");
    assert_eq!(peer.subject, peer.issuer);
    assert!(peer.not_before < peer.not_after);
    let now = i64::try_from(now_unix()).unwrap();
    assert!(peer.is_valid_at(now));
    assert!(!peer.is_valid_at(peer.not_after + 1));

    assert!(PeerCertificate::from_der(b"junk").is_err());
    let mut trailing = der.clone();
    trailing.push(0);
    assert!(PeerCertificate::from_der(&trailing).is_err());
    assert_eq!(PeerCertificate::from_peer_chain(None).unwrap(), None);
    assert_eq!(PeerCertificate::from_peer_chain(Some(&[])).unwrap(), None);
}

#[test]
fn expired_server_cert_and_expiring_ca_are_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    let (first, _) = local(dir.path());
    let ca_bytes = fs::read(tls.join(CA_CERT_FILE)).unwrap();

    // An expired server certificate from the same CA, with the right names.
    let ca_pem = String::from_utf8(ca_bytes.clone()).unwrap();
    let ca_key = KeyPair::from_pem(&fs::read_to_string(tls.join(CA_KEY_FILE)).unwrap()).unwrap();
    let issuer = CertificateParams::from_ca_cert_pem(&ca_pem)
        .unwrap()
        .self_signed(&ca_key)
        .unwrap();
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(
        DEFAULT_NAMES
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let expired = params.signed_by(&key, &issuer, &ca_key).unwrap();
    fs::write(tls.join(SERVER_CERT_FILE), expired.pem()).unwrap();
    fs::write(tls.join(SERVER_KEY_FILE), key.serialize_pem()).unwrap();

    let second = load_or_create(dir.path(), &TlsSettings::default()).unwrap();
    assert_eq!(
        second.origin,
        IdentityOrigin::LocalCa {
            created_ca: false,
            created_server_cert: true
        }
    );
    assert_ne!(second.server_cert_sha256(), sha256_hex(expired.der()));
    assert_ne!(second.server_cert_sha256(), first.server_cert_sha256());
    assert_eq!(fs::read(tls.join(CA_CERT_FILE)).unwrap(), ca_bytes);

    // A CA ten days from expiry is replaced, and the server cert with it.
    let mut ca_params = CertificateParams::from_ca_cert_pem(&ca_pem).unwrap();
    ca_params.not_after = (SystemTime::now() + Duration::from_secs(10 * DAY)).into();
    let short_ca = ca_params.self_signed(&ca_key).unwrap();
    fs::write(tls.join(CA_CERT_FILE), short_ca.pem()).unwrap();
    let third = load_or_create(dir.path(), &TlsSettings::default()).unwrap();
    assert_eq!(
        third.origin,
        IdentityOrigin::LocalCa {
            created_ca: true,
            created_server_cert: true
        }
    );
    assert_ne!(
        fs::read(tls.join(CA_CERT_FILE)).unwrap(),
        short_ca.pem().into_bytes()
    );
}
