//! The physical floor the gateway is compared with: a bare hyper server
//! answering a fixed SOAP response, and base64 decoding + SHA-256 of a
//! large buffer (the least work any server must do with an attachment).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

const FIXED_RESPONSE: &str = r#"<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><DummyOperationResponse xmlns="http://isds.czechpoint.cz/v20"><dmStatus><dmStatusCode>0000</dmStatusCode><dmStatusMessage>Provedeno úspěšně.</dmStatusMessage></dmStatus></DummyOperationResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;

/// Starts a bare hyper server that reads each request body and answers the
/// same SOAP response; returns its address.
pub async fn bare_hyper_server() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    let mut resp = hyper::Response::new(Full::new(Bytes::from_static(
                        FIXED_RESPONSE.as_bytes(),
                    )));
                    resp.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("text/xml; charset=utf-8"),
                    );
                    Ok::<_, Infallible>(resp)
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// Base64-decodes and SHA-256-hashes `mb` megabytes, best of `rounds`;
/// returns decoded megabytes per second.
pub fn base64_sha256_mb_per_s(mb: usize, rounds: usize) -> (f64, Duration) {
    let raw: Vec<u8> = (0..mb * 1024 * 1024)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&raw);
    let mut best = Duration::MAX;
    for _ in 0..rounds.max(1) {
        let t0 = Instant::now();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_bytes())
            .unwrap_or_default();
        let digest = Sha256::digest(&decoded);
        std::hint::black_box(digest);
        best = best.min(t0.elapsed());
    }
    (mb as f64 / best.as_secs_f64().max(1e-9), best)
}

/// The upload's hashing of a `size`-byte document, best of `rounds`:
/// before dmHash covered the dmDm bytes, one SHA-256 of the document
/// (`digest_only`); now the same digest plus base64 encoding and SHA-256
/// of the whole dmDm text, in one pass (`dm_hash`), by the gateway's own
/// routine.
pub fn dm_hash_cost(size: usize, rounds: usize) -> (Duration, Duration) {
    use isds_gateway::domain::BoxId;
    use isds_gateway::domain::BoxType;
    use isds_gateway::domain::messages::message::{
        Author, ContentKind, DocumentMeta, EnvelopeFields, HashForm, Message, MessageId,
        MessageState, Party, Timestamp, document_digests,
    };
    let party = |id: &str, name: &str, box_type| Party {
        box_id: BoxId::parse(id).unwrap_or_else(|_| unreachable!("a valid box ID")),
        name: name.into(),
        address: "Náměstí Míru 1, 74766 Dolní Lhota".into(),
        box_type,
        system: false,
    };
    let doc = Bytes::from((0..size).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>());
    let msg = Message {
        id: MessageId(MessageId::BASE + 1),
        sender: party("ovm4dem", "Městský úřad Dolní Lhota", BoxType::OVM),
        recipient: party("po4demo", "Účetnictví Novák s.r.o.", BoxType::PO),
        envelope: EnvelopeFields {
            annotation: "Velká příloha".into(),
            ..EnvelopeFields::default()
        },
        documents: vec![DocumentMeta {
            mime_type: "application/pdf".into(),
            meta_type: "main".into(),
            guid: None,
            up_guid: None,
            descr: "velky.pdf".into(),
            format: None,
            kind: ContentKind::Encoded,
            size: size as u64,
        }],
        attachment_size_kb: (size as u64).div_ceil(1024),
        hash: [0; 32],
        hash_form: HashForm::DmDmBytes,
        state: MessageState::Delivered,
        submitted_at: Timestamp(0),
        delivery_time: None,
        acceptance_time: None,
        events: Vec::new(),
        author: Author {
            user_id: None,
            user_type: "VIRTUAL".into(),
            name: String::new(),
        },
        content_deleted: false,
        erased_by_recipient: false,
        erased_by_sender: false,
        qtimestamp: None,
        vodz: false,
    };
    let docs = [doc];
    let mut digest_only = Duration::MAX;
    let mut dm_hash = Duration::MAX;
    for _ in 0..rounds.max(1) {
        let t0 = Instant::now();
        std::hint::black_box(document_digests(&docs));
        digest_only = digest_only.min(t0.elapsed());
        let t0 = Instant::now();
        let mut digests = Vec::new();
        let hash = isds_gateway::domain::messages::wire::hash(&msg, &docs, Some(&mut digests));
        std::hint::black_box((hash.is_ok(), digests));
        dm_hash = dm_hash.min(t0.elapsed());
    }
    (digest_only, dm_hash)
}
