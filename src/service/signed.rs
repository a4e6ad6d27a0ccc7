//! Signed artefacts: SignedMessageDownload, SignedSentMessageDownload
//! (`/DS/dz`), GetSignedDeliveryInfo (`/DS/dx`), AuthenticateMessage and
//! Re-signISDSDocument (`/DS/dz`).
//!
//! The downloads follow exactly the rules of their unsigned twins (the same
//! look-up, rights, status codes and state change, shared through
//! `message_read` and `dm_info`) and answer `dmSignature`: a `.zfo` (see
//! [`crate::sign`]) whose content is the XML ISDS signs, the unsigned
//! response structure under a namespace of its own:
//! - received message: `MessageDownloadResponse/dmReturnedMessage` in
//!   `http://isds.czechpoint.cz/v20/message`;
//! - sent message: the same structure in
//!   `http://isds.czechpoint.cz/v20/SentMessage`;
//! - delivery info: `GetDeliveryInfoResponse/dmDelivery` in
//!   `http://isds.czechpoint.cz/v20/delivery`.
//!
//! In each, `dmDm` and everything inside it stays in the ISDS namespace
//! (`http://isds.czechpoint.cz/v20`, prefix `p` declared on `dmDm`), the
//! other elements (hash, time stamp, times, state, events) are in the
//! signed namespace (prefix `q`), as public clients (libisds) read them.
//! The `dmDm` bytes are exactly those of the MessageDownload response, so
//! `dmHash` can be checked against either.
//!
//! AuthenticateMessage answers `dmAuthResult` true for an untouched
//! artefact of this gateway and false for anything else, with status 0000
//! either way (a client learns the verdict from the boolean).
//! Re-signISDSDocument answers the artefact with a fresh signature time
//! stamp and `dmValidTo`, the last day of the TSA certificate; a document
//! the gateway did not issue gets 1045 and a nil `dmResultDoc`.

use std::sync::Arc;

use bytes::Bytes;

use super::message_read;
use super::{CallContext, Rejection, Reply, ServiceError, Services, dm_status, respond};
use crate::domain::boxes::repo::RepoError;
use crate::domain::messages::message::Timestamp;
use crate::schema::{self, rt};
use crate::schema::{
    ArchiveISDSDocumentResponse, AuthenticateMessageResponse, GetSignedDeliveryInfoResponse,
    ReSignISDSDocumentResponse, SignedMessageDownloadResponse, SignedSentMessageDownloadResponse,
    TAuthenticateMessageOutput, TDelivery, TResignDocOutput, TReturnedMessage,
    TSignDelivMessOutput, TSignedMessDownOutput, ToXml,
};
use crate::sign::Signer;
use crate::soap::Fault;
use crate::status::{IsdsCode, IsdsStatus};
use crate::xml::{XSI_NS, XmlWriter};

/// Namespace of the signed received message.
pub const SIGNED_MESSAGE_NS: &str = "http://isds.czechpoint.cz/v20/message";
/// Namespace of the signed sent message.
pub const SIGNED_SENT_MESSAGE_NS: &str = "http://isds.czechpoint.cz/v20/SentMessage";
/// Namespace of the signed delivery info.
pub const SIGNED_DELIVERY_NS: &str = "http://isds.czechpoint.cz/v20/delivery";

fn signer(svc: &Services) -> Result<Arc<Signer>, Rejection> {
    svc.signer.clone().ok_or_else(|| {
        Rejection::from(Fault::server(
            "this gateway was started without a signing identity",
        ))
    })
}

/// Signing time for "now" (before 1970 would be a misconfigured clock).
fn unix_now(svc: &Services) -> u64 {
    u64::try_from(Timestamp::now(svc.clock.as_ref()).unix_seconds()).unwrap_or(0)
}

/// Opens the root of a signed document as ISDS writes it (the signed
/// files in the real samples): no XML declaration, `root` and its other
/// elements with prefix `q` for `ns`, `xsi` declared; `dmDm` declares its
/// own `p` for the ISDS namespace.
fn open_root(w: &mut XmlWriter, ns: &str, root: &str) {
    w.set_prefixing(schema::isds_prefixing("q"));
    w.pending_attr("xmlns:q", ns);
    w.pending_attr("xmlns:xsi", XSI_NS);
    w.start(root);
}

/// The signed XML of a message (received or sent, by `ns`).
pub fn message_xml(ns: &str, m: &TReturnedMessage) -> String {
    let mut w = XmlWriter::new();
    open_root(&mut w, ns, "MessageDownloadResponse");
    w.start("dmReturnedMessage");
    rt::write_attr_optional(&mut w, "dmType", &m.dm_type);
    rt::write_attr_optional(&mut w, "specMessFlag", &m.spec_mess_flag);
    m.dm_dm.write_xml(&mut w, "dmDm");
    m.dm_hash.write_xml(&mut w, "dmHash");
    rt::write_nillable(&mut w, "dmQTimestamp", &m.dm_q_timestamp);
    rt::write_nillable(&mut w, "dmDeliveryTime", &m.dm_delivery_time);
    rt::write_nillable(&mut w, "dmAcceptanceTime", &m.dm_acceptance_time);
    m.dm_message_status.write_xml(&mut w, "dmMessageStatus");
    rt::write_nillable(&mut w, "dmAttachmentSize", &m.dm_attachment_size);
    w.end("dmReturnedMessage");
    w.end("MessageDownloadResponse");
    w.into_string()
}

/// The signed XML of a delivery info.
pub fn delivery_xml(d: &TDelivery) -> String {
    let mut w = XmlWriter::new();
    open_root(&mut w, SIGNED_DELIVERY_NS, "GetDeliveryInfoResponse");
    w.start("dmDelivery");
    d.dm_dm.write_xml(&mut w, "dmDm");
    d.dm_hash.write_xml(&mut w, "dmHash");
    d.dm_q_timestamp.write_xml(&mut w, "dmQTimestamp");
    rt::write_nillable(&mut w, "dmDeliveryTime", &d.dm_delivery_time);
    rt::write_nillable(&mut w, "dmAcceptanceTime", &d.dm_acceptance_time);
    d.dm_message_status.write_xml(&mut w, "dmMessageStatus");
    d.dm_events.write_xml(&mut w, "dmEvents");
    w.end("dmDelivery");
    w.end("GetDeliveryInfoResponse");
    w.into_string()
}

/// Why a signed download gave no signature: a status for the caller, or a
/// failure of the server.
enum Failure {
    Status(IsdsStatus),
    Server(Rejection),
}

impl From<RepoError> for Failure {
    fn from(e: RepoError) -> Self {
        Failure::Server(ServiceError::from(e).into())
    }
}

impl From<crate::sign::SignError> for Failure {
    fn from(e: crate::sign::SignError) -> Self {
        tracing::error!(error = %e, "signing failed");
        Failure::Status(crate::status::timestamp_failure())
    }
}

/// Signs the message found by `find` as `ns`.
fn sign_message(
    signer: &Signer,
    ns: &str,
    at: u64,
    found: Result<message_read::Download, IsdsStatus>,
) -> Result<Vec<u8>, Failure> {
    let (msg, docs) = found.map_err(Failure::Status)?;
    let returned = message_read::returned_message(&msg, docs).map_err(Failure::Server)?;
    Ok(signer.sign(message_xml(ns, &returned).as_bytes(), at)?)
}

/// Which message a signed download serves.
#[derive(Clone, Copy)]
pub(super) enum Which {
    Received,
    Sent,
}

/// SignedMessageDownload / SignedSentMessageDownload.
pub(super) async fn signed_download(
    svc: &Services,
    ctx: &CallContext<'_>,
    dm_id: String,
    which: Which,
) -> Reply {
    let signer = signer(svc)?;
    let store = svc.store.clone();
    let me = ctx.identity.clone();
    let now = Timestamp::now(svc.clock.as_ref());
    let at = unix_now(svc);
    let outcome = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, Failure> {
        match which {
            Which::Received => {
                let found = message_read::download_received(store.as_ref(), &me, &dm_id, now)?;
                sign_message(&signer, SIGNED_MESSAGE_NS, at, found)
            }
            Which::Sent => {
                let found = message_read::download_sent(store.as_ref(), &me, &dm_id)?;
                sign_message(&signer, SIGNED_SENT_MESSAGE_NS, at, found)
            }
        }
    })
    .await
    .map_err(ServiceError::from)?;
    let (signature, status) = match outcome {
        Ok(zfo) => (Some(Bytes::from(zfo)), IsdsStatus::ok()),
        Err(Failure::Status(status)) => (None, status),
        Err(Failure::Server(rejection)) => return Err(rejection),
    };
    let out = TSignedMessDownOutput {
        dm_signature: signature,
        dm_status: Some(dm_status(&status)),
    };
    match which {
        Which::Received => respond(&SignedMessageDownloadResponse(out)),
        Which::Sent => respond(&SignedSentMessageDownloadResponse(out)),
    }
}

/// GetSignedDeliveryInfo: what GetDeliveryInfo answers, signed.
pub(super) async fn signed_delivery_info(
    svc: &Services,
    ctx: &CallContext<'_>,
    dm_id: String,
) -> Reply {
    let signer = signer(svc)?;
    let store = svc.store.clone();
    let me = ctx.identity.clone();
    let at = unix_now(svc);
    let outcome = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, Failure> {
        let info = super::dm_info::delivery_info(store.as_ref(), &me, &dm_id)?;
        let Some(delivery) = info.dm_delivery else {
            let status = info
                .dm_status
                .map(|s| (s.dm_status_code, s.dm_status_message))
                .unwrap_or_default();
            return Err(Failure::Status(status_from(&status.0, status.1)));
        };
        Ok(signer.sign(delivery_xml(&delivery).as_bytes(), at)?)
    })
    .await
    .map_err(ServiceError::from)?;
    let (signature, status) = match outcome {
        Ok(zfo) => (Some(Bytes::from(zfo)), IsdsStatus::ok()),
        Err(Failure::Status(status)) => (None, status),
        Err(Failure::Server(rejection)) => return Err(rejection),
    };
    respond(&GetSignedDeliveryInfoResponse(TSignDelivMessOutput {
        dm_signature: signature,
        dm_status: dm_status(&status),
    }))
}

/// An [`IsdsStatus`] back from a status block the unsigned twin answered.
fn status_from(code: &str, message: String) -> IsdsStatus {
    let code = IsdsCode::ALL
        .iter()
        .copied()
        .find(|c| c.code() == code)
        .unwrap_or(IsdsCode::InternalError);
    IsdsStatus::with_message(code, message)
}

/// AuthenticateMessage: whether `zfo` is an untouched artefact of this
/// gateway.
pub(super) async fn authenticate(svc: &Services, zfo: Bytes) -> Reply {
    let signer = signer(svc)?;
    let verdict = tokio::task::spawn_blocking(move || signer.verify(&zfo))
        .await
        .map_err(ServiceError::from)?;
    if let Err(e) = &verdict {
        tracing::info!(reason = %e, "AuthenticateMessage: not authentic");
    }
    respond(&AuthenticateMessageResponse(TAuthenticateMessageOutput {
        dm_auth_result: Some(verdict.is_ok()),
        dm_status: dm_status(&IsdsStatus::ok()),
    }))
}

/// Re-stamps an artefact of this gateway: the new artefact and the last
/// day of the TSA certificate (when the next stamp is due), or why not.
async fn restamp(
    svc: &Services,
    zfo: Bytes,
    operation: &'static str,
) -> Result<(Option<Bytes>, Option<String>, IsdsStatus), Rejection> {
    let signer = signer(svc)?;
    let at = unix_now(svc);
    let result = tokio::task::spawn_blocking(move || {
        let valid_to = signer
            .identity()
            .tsa
            .cert
            .tbs_certificate
            .validity
            .not_after
            .to_date_time();
        signer.restamp(&zfo, at).map(|doc| (doc, valid_to))
    })
    .await
    .map_err(ServiceError::from)?;
    Ok(match result {
        Ok((doc, valid_to)) => (
            Some(Bytes::from(doc)),
            Some(format!(
                "{:04}-{:02}-{:02}",
                valid_to.year(),
                valid_to.month(),
                valid_to.day()
            )),
            IsdsStatus::ok(),
        ),
        Err(crate::sign::SignError::NotOurs(e)) => {
            tracing::info!(reason = %e, "{operation}: not a document of this gateway");
            (None, None, IsdsStatus::new(IsdsCode::NotAuthentic))
        }
        Err(e) => {
            tracing::error!(error = %e, "{operation}: re-stamping failed");
            (None, None, crate::status::timestamp_failure())
        }
    })
}

/// Re-signISDSDocument: the artefact with a fresh time stamp.
pub(super) async fn resign(svc: &Services, zfo: Bytes) -> Reply {
    let (doc, valid_to, status) = restamp(svc, zfo, "Re-signISDSDocument").await?;
    respond(&ReSignISDSDocumentResponse(TResignDocOutput {
        dm_result_doc: doc,
        dm_valid_to: valid_to,
        dm_status: dm_status(&status),
    }))
}

/// ArchiveISDSDocument (dm_arch, `/DS/arch`): the same re-stamping for
/// archives; `nextStampTo` is the day by which to stamp again.
pub(super) async fn archive(svc: &Services, zfo: Bytes) -> Reply {
    let (doc, next_stamp_to, status) = restamp(svc, zfo, "ArchiveISDSDocument").await?;
    respond(&ArchiveISDSDocumentResponse {
        dm_result_doc: doc,
        next_stamp_to,
        dm_status: dm_status(&status),
    })
}
