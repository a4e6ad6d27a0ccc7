//! The HTTPS listener speaks TLS 1.2 and 1.3 with modern suites only, as
//! `openssl s_client` sees it.

mod common;

use std::process::{Command, Stdio};

use common::*;

/// Runs `openssl s_client` against the gateway with extra arguments and
/// returns (handshake succeeded, combined output).
fn s_client(port: u16, ca: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args([
            "-servername",
            "localhost",
            "-verify_return_error",
            "-CAfile",
        ])
        .arg(ca)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("openssl must be installed (tests/run.sh installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ok = out.status.success() && text.contains("Verify return code: 0 (ok)");
    (ok, text)
}

#[tokio::test]
async fn only_tls_12_and_13_with_modern_suites() {
    let t = TestGateway::start().await;
    let port = t.gw.https_addr.unwrap().port();
    let ca = t.gw.ca_cert_path.clone().unwrap();
    let handle = tokio::task::spawn_blocking(move || {
        let (ok, out) = s_client(port, &ca, &["-tls1_3"]);
        assert!(ok, "TLS 1.3 handshake:\n{out}");
        assert!(out.contains("TLSv1.3"), "{out}");

        let (ok, out) = s_client(port, &ca, &["-tls1_2"]);
        assert!(ok, "TLS 1.2 handshake:\n{out}");
        assert!(
            out.contains("ECDHE"),
            "TLS 1.2 uses forward-secret suites:\n{out}"
        );

        for old in ["-tls1_1", "-tls1"] {
            let (ok, out) = s_client(port, &ca, &[old, "-cipher", "DEFAULT@SECLEVEL=0"]);
            assert!(!ok, "{old} must be refused:\n{out}");
        }
        // Weak TLS 1.2 suites (CBC without AEAD, RSA key exchange) are not offered.
        let (ok, out) = s_client(
            port,
            &ca,
            &["-tls1_2", "-cipher", "AES128-SHA:AES256-SHA:DES-CBC3-SHA"],
        );
        assert!(!ok, "legacy suites must be refused:\n{out}");
    });
    handle.await.unwrap();
    t.stop().await;
}
