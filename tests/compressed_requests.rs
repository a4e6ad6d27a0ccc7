//! Request bodies sent with `Content-Encoding: gzip` or `deflate` (as PHP
//! SoapClient's `compression` option sends them) are decoded; the body
//! limit applies to the decoded size, so a decompression bomb is refused
//! with 413 without being inflated; other codings get 415 with a fault.

mod common;

use std::io::Write;

use common::*;
use flate2::Compression;

const DUMMY: &str = r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// HTTP's `deflate`: the zlib format, as PHP's `gzcompress` writes it.
fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// POSTs `payload` with `encoding` to `/DS/dz` as the demo OVM user.
async fn post_encoded(t: &TestGateway, encoding: &str, payload: Vec<u8>) -> SoapResponse {
    let req = t
        .http
        .post(t.http_url("/DS/dz"))
        .header("authorization", basic(OVM_LOGIN.0, OVM_LOGIN.1))
        .header("content-encoding", encoding);
    send(req, payload, "text/xml; charset=utf-8").await
}

#[tokio::test]
async fn gzip_and_deflate_requests_are_decoded() {
    let t = TestGateway::start().await;
    let envelope = soap11(DUMMY);
    for (encoding, payload) in [
        ("gzip", gzip(envelope.as_bytes())),
        ("deflate", zlib(envelope.as_bytes())),
        ("x-gzip", gzip(envelope.as_bytes())),
        ("identity", envelope.clone().into_bytes()),
    ] {
        let resp = post_encoded(&t, encoding, payload).await;
        assert_eq!(resp.status, 200, "{encoding}: {}", resp.text);
        assert_eq!(resp.status().0, "0000", "{encoding}: {}", resp.text);
    }
    // A real operation with data in it, compressed.
    let find = soap11(
        r#"<FindDataBox xmlns="http://isds.czechpoint.cz/v20"><dbOwnerInfo><dbID>ovm4dem</dbID></dbOwnerInfo></FindDataBox>"#,
    );
    let req = t
        .http
        .post(t.http_url("/DS/df"))
        .header("authorization", basic(OVM_LOGIN.0, OVM_LOGIN.1))
        .header("content-encoding", "gzip");
    let resp = send(req, gzip(find.as_bytes()), "text/xml; charset=utf-8").await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    assert!(resp.text.contains("ovm4dem"), "{}", resp.text);
    t.stop().await;
}

#[tokio::test]
async fn broken_and_unknown_encodings_get_faults() {
    let t = TestGateway::start().await;
    let envelope = soap11(DUMMY);
    for encoding in ["br", "compress", "gzip, gzip"] {
        let resp = post_encoded(&t, encoding, envelope.clone().into_bytes()).await;
        assert_eq!(resp.status, 415, "{encoding}: {}", resp.text);
        let (code, reason) = resp.fault();
        assert_eq!(code, "SOAP-ENV:Client", "{encoding}");
        assert!(reason.contains("Content-Encoding"), "{reason}");
    }
    // Announced as gzip, sent plain.
    let resp = post_encoded(&t, "gzip", envelope.into_bytes()).await;
    assert_eq!(resp.status, 500, "{}", resp.text);
    let (code, reason) = resp.fault();
    assert_eq!(code, "SOAP-ENV:Client");
    assert!(reason.contains("not valid gzip"), "{reason}");
    t.stop().await;
}

/// Peak resident memory of this process so far (Linux), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM line");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmHWM value");
    kb * 1024
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_with_413_in_bounded_memory() {
    const DECODED: u64 = 1024 * 1024 * 1024;
    let t = TestGateway::start().await;
    let limit = 80 * 1024 * 1024;
    assert!(
        isds_gateway::config::Config::ephemeral("x")
            .limits
            .max_body_bytes
            <= limit
    );
    // A valid envelope whose text is 1 GiB of spaces in one element:
    // about 1 MB compressed.
    let envelope =
        soap11(r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20">@@</DummyOperation>"#);
    let (start, end) = envelope.split_once("@@").expect("marker");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(start.as_bytes()).unwrap();
    let zeros = vec![b' '; 1024 * 1024];
    for _ in 0..DECODED / zeros.len() as u64 {
        e.write_all(&zeros).unwrap();
    }
    e.write_all(end.as_bytes()).unwrap();
    let bomb = e.finish().unwrap();
    assert!(bomb.len() < 2 * 1024 * 1024, "{} bytes", bomb.len());

    let before = peak_rss();
    let resp = post_encoded(&t, "gzip", bomb).await;
    assert_eq!(resp.status, 413, "{}", resp.text);
    assert!(
        resp.fault().1.contains("exceeds the limit"),
        "{}",
        resp.text
    );
    let grown = peak_rss().saturating_sub(before);
    // The decoded text is never held beyond the limit (80 MiB by default),
    // where inflating it all would take 1 GiB.
    assert!(
        grown < 3 * limit as u64,
        "peak memory grew by {} MiB",
        grown >> 20
    );
    // The gateway still answers.
    let resp = t.soap("/DS/dz", DUMMY).await;
    assert_eq!(resp.status().0, "0000");
    t.stop().await;
}
