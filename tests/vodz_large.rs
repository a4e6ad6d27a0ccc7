//! A big message (VoDZ) of 100 MB, uploaded and downloaded byte for byte
//! with memory that does not follow its size: the request is generated
//! as it is sent and the answers are decoded as they arrive, so the
//! process's peak RSS growth measures the gateway's streaming (the
//! gateway runs in this process).
//!
//! Memory-heavy: the only test of this file, so it never runs beside
//! another one of its kind (test files run one after another).

mod common;

use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine;
use bytes::Bytes;
use common::{ISDS_NS, OVM_LOGIN, PO_LOGIN, TestGateway, basic};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame};
use isds_gateway::soap::spool::{SpoolSettings, Spooler};
use sha2::{Digest, Sha256};

const SIZE: usize = 100 * 1024 * 1024;
/// Raw bytes per generated piece (a multiple of 3).
const PIECE: usize = 3 * 64 * 1024;

/// An UploadAttachment request whose 100 MB document is generated, and
/// hashed, as it is sent.
struct Generated {
    head: Option<Bytes>,
    tail: Option<Bytes>,
    sent: usize,
    x: u64,
    hash: Option<Sha256>,
    digest: std::sync::Arc<std::sync::Mutex<Option<[u8; 32]>>>,
}

impl Body for Generated {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        if self.sent < SIZE {
            let n = PIECE.min(SIZE - self.sent);
            let mut raw = Vec::with_capacity(n);
            for _ in 0..n {
                self.x ^= self.x << 13;
                self.x ^= self.x >> 7;
                self.x ^= self.x << 17;
                raw.push((self.x >> 24) as u8);
            }
            self.sent += n;
            if let Some(h) = self.hash.as_mut() {
                h.update(&raw);
            }
            if self.sent == SIZE
                && let Some(h) = self.hash.take()
            {
                *self.digest.lock().unwrap() = Some(h.finalize().into());
            }
            let text = base64::engine::general_purpose::STANDARD.encode(&raw);
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(text)))));
        }
        Poll::Ready(self.tail.take().map(|t| Ok(Frame::data(t))))
    }
}

fn soap12(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>{body}</env:Body></env:Envelope>"#
    )
}

/// Sends `body` to `/DS/vodz` as `login` over a fresh connection;
/// returns the answer's body as it arrives, decoded into a spool (its
/// skeleton and the documents' digests), never whole.
async fn exchange<B>(
    t: &TestGateway,
    login: (&str, &str),
    body: B,
    work: &std::path::Path,
) -> isds_gateway::soap::spool::Spooled
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = tokio::net::TcpStream::connect(t.gw.http_addr)
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::post("/DS/vodz")
        .header("host", "localhost")
        .header("authorization", basic(login.0, login.1))
        .header("content-type", "application/soap+xml; charset=utf-8")
        .body(body)
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut spooler = Spooler::new(SpoolSettings {
        dir: work.to_path_buf(),
        max_content_bytes: 2 * SIZE as u64,
        max_skeleton_bytes: 1 << 20,
    });
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            spooler.feed(&data).unwrap();
        }
    }
    spooler.finish().unwrap()
}

fn small(text: String) -> http_body_util::Full<Bytes> {
    http_body_util::Full::new(Bytes::from(soap12(&text)))
}

/// The text of the first element `name` (any prefix) of an answer.
fn text_of(skeleton: &[u8], name: &str) -> String {
    let text = String::from_utf8_lossy(skeleton);
    let start_tag = |at: &usize| {
        let open = text[..*at].rfind('<').unwrap_or(0);
        let after = text[*at + 1 + name.len()..].chars().next();
        !text[open..].starts_with("</") && matches!(after, Some('>' | ' '))
    };
    let at = text
        .match_indices(&format!(":{name}"))
        .map(|(i, _)| i)
        .find(start_tag)
        .unwrap_or_else(|| panic!("no {name} in {text}"));
    let start = at + text[at..].find('>').unwrap() + 1;
    let end = start + text[start..].find('<').unwrap();
    text[start..end].to_owned()
}

/// The single spooled document of an answer.
fn document(spooled: &isds_gateway::soap::spool::Spooled) -> ([u8; 32], u64) {
    let skeleton = String::from_utf8_lossy(&spooled.skeleton);
    let marker = text_of(skeleton.as_bytes(), "dmEncodedContent");
    let value = base64::engine::general_purpose::STANDARD
        .decode(marker)
        .unwrap();
    let content = spooled.content(&value).expect("a spooled document");
    (content.sha256, content.size)
}

fn vm_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_upload_and_download_byte_for_byte_in_bounded_memory() {
    let t = TestGateway::start().await;
    let work = tempfile::tempdir().unwrap();
    let before = vm_kb("VmRSS:");
    // The peak from here on (Linux: writing 5 resets VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");

    let head = format!(
        r#"<UploadAttachment xmlns="{ISDS_NS}"><dmFile dmMimeType="application/pdf" dmFileDescr="archiv.pdf"><dmEncodedContent>"#
    );
    let tail = "</dmEncodedContent></dmFile></UploadAttachment>";
    let envelope = soap12("\u{0}");
    let (pre, post) = envelope.split_once('\u{0}').unwrap();
    let digest = std::sync::Arc::new(std::sync::Mutex::new(None));
    let generated = Generated {
        head: Some(Bytes::from(format!("{pre}{head}"))),
        tail: Some(Bytes::from(format!("{tail}{post}"))),
        sent: 0,
        x: 0x9E37_79B9_7F4A_7C15,
        hash: Some(Sha256::new()),
        digest: digest.clone(),
    };
    let answer = exchange(&t, OVM_LOGIN, generated, work.path()).await;
    let sent_digest = digest.lock().unwrap().expect("the whole document was sent");
    let skeleton = answer.skeleton.clone();
    assert_eq!(text_of(&skeleton, "dmStatusCode"), "0000");
    let att = text_of(&skeleton, "dmAttID");
    let h1 = text_of(&skeleton, "dmAttHash1");
    let h2 = text_of(&skeleton, "dmAttHash2");
    assert_eq!(
        h1,
        sent_digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );

    let create = format!(
        r#"<CreateBigMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>po4demo</dbIDRecipient><dmAnnotation>Archiv</dmAnnotation></dmEnvelope><dmFiles><dmExtFile dmFileMetaType="main" dmAttID="{att}" dmAttHash1="{h1}" dmAttHash1Alg="SHA-256" dmAttHash2="{h2}" dmAttHash2Alg="SHA3-256"/></dmFiles></CreateBigMessage>"#
    );
    let created = exchange(&t, OVM_LOGIN, small(create), work.path()).await;
    assert_eq!(text_of(&created.skeleton, "dmStatusCode"), "0000");
    let id = text_of(&created.skeleton, "dmID");
    // The recipient's listing delivers it.
    let list = common::messages::list("GetListOfReceivedMessages");
    let resp = t.soap_as(PO_LOGIN, "/DS/dx", &list).await;
    assert_eq!(resp.status().0, "0000");

    let one = format!(
        r#"<DownloadAttachment xmlns="{ISDS_NS}"><dmID>{id}</dmID><attNum>0</attNum></DownloadAttachment>"#
    );
    let down = exchange(&t, PO_LOGIN, small(one), work.path()).await;
    assert_eq!(document(&down), (sent_digest, SIZE as u64));
    drop(down);
    let whole =
        format!(r#"<BigMessageDownload xmlns="{ISDS_NS}"><dmID>{id}</dmID></BigMessageDownload>"#);
    let down = exchange(&t, PO_LOGIN, small(whole), work.path()).await;
    assert_eq!(document(&down), (sent_digest, SIZE as u64));
    drop(down);

    let peak = vm_kb("VmHWM:");
    let growth_mb = peak.saturating_sub(before) / 1024;
    eprintln!(
        "RSS before {} MB, peak {} MB: growth {growth_mb} MB",
        before / 1024,
        peak / 1024
    );
    // The document is 100 MB (133 MB as base64); holding it once would
    // show. The bound leaves room for the test's own buffers and the
    // allocator's arenas.
    assert!(growth_mb < 64, "peak RSS grew by {growth_mb} MB");
    t.stop().await;
}
