//! The wire form of a message's `dmDm` element and `dmHash` over it.
//!
//! `dmHash` is the hash of the complete `dmDm` element, documents
//! included, over its bytes exactly as the system writes it — not a
//! canonical form (messages manual `WS_manipulace_s_datovymi_zpravami`,
//! 2.3.2 and CreateMessage). Clients check it by cutting the bytes from
//! `<p:dmDm` to `</p:dmDm>` out of the MessageDownload response or out of
//! the signed XML of SignedMessageDownload / SignedSentMessageDownload and
//! hashing them (libdatovka's message hash check does exactly that).
//!
//! So this module owns the one way a stored message becomes `dmDm`
//! ([`dm_dm`]) and its bytes ([`write`]): the responses write the value
//! [`dm_dm`] builds through the same schema writer, in ISDS's wire form
//! (see [`crate::schema::isds_prefixing`]: `dmDm` declares `xmlns:p` itself,
//! so its bytes do not depend on where it stands). Everything in `dmDm` is
//! fixed at submission (envelope, parties as they were then, documents as
//! stored), so every download of a message yields the same bytes and the
//! hash is computed once, when the message enters ([`hash`]), and stored.
//!
//! The hash streams: a large document is base64-encoded piece by piece
//! into the hasher, never held as encoded text.

use base64::Engine as _;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::domain::messages::message::{ContentKind, DocumentDigest, Message};
use crate::schema::{
    self, TFileDmXMLContent, TFilesArray, TFilesArrayDmFile, TReturnedMessageDmDm, ToXml,
};
use crate::xml::{self, Element, ParseLimits, Part, XmlWriter};

/// The algorithm of every `dmHash` the gateway computes, as the
/// `algorithm` attribute names it.
pub const HASH_ALGORITHM: &str = "SHA-256";

/// Why a stored message cannot be written as `dmDm`.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("message {id} has {stored} documents stored but {described} described")]
    DocumentCount {
        id: String,
        stored: usize,
        described: usize,
    },
    #[error("stored XML document of message {id} is unreadable: {source}")]
    XmlContent {
        id: String,
        #[source]
        source: xml::XmlError,
    },
}

/// The envelope items every message structure shares (the `dmDm` children
/// and the list record), for a struct literal of type `$ty` with `$extra`
/// fields.
macro_rules! envelope_of {
    ($ty:ident, $m:expr, { $($extra:tt)* }) => {{
        let m: &$crate::domain::messages::message::Message = $m;
        let e = &m.envelope;
        $ty {
            dm_id: m.id.to_string(),
            db_id_sender: Some(m.sender.box_id.to_string()),
            dm_sender: Some(m.sender.name.clone()),
            dm_sender_address: Some(m.sender.address.clone()),
            dm_sender_type: i64::from(m.sender.sender_type_code()),
            dm_recipient: Some(m.recipient.name.clone()),
            dm_recipient_address: Some(m.recipient.address.clone()),
            dm_ambiguous_recipient: None,
            dm_sender_org_unit: e.sender_org_unit.clone(),
            dm_sender_org_unit_num: e.sender_org_unit_num,
            db_id_recipient: Some(m.recipient.box_id.to_string()),
            dm_recipient_org_unit: e.recipient_org_unit.clone(),
            dm_recipient_org_unit_num: e.recipient_org_unit_num,
            dm_to_hands: e.to_hands.clone(),
            dm_annotation: Some(e.annotation.clone()),
            dm_recipient_ref_number: e.recipient_ref_number.clone(),
            dm_sender_ref_number: e.sender_ref_number.clone(),
            dm_recipient_ident: e.recipient_ident.clone(),
            dm_sender_ident: e.sender_ident.clone(),
            dm_legal_title_law: e.legal_title_law,
            dm_legal_title_year: e.legal_title_year,
            dm_legal_title_sect: e.legal_title_sect.clone(),
            dm_legal_title_par: e.legal_title_par.clone(),
            dm_legal_title_point: e.legal_title_point.clone(),
            dm_personal_delivery: Some(e.personal_delivery),
            dm_allow_subst_delivery: Some(e.allow_subst_delivery),
            $($extra)*
        }
    }};
}
pub(crate) use envelope_of;

/// The elements of a stored XML document (`dmXMLContent`): the stored
/// bytes are the content's elements serialised one after another.
pub fn xml_content(bytes: &[u8]) -> Result<Vec<Element>, xml::XmlError> {
    let mut text = std::str::from_utf8(bytes)
        .map_err(|e| xml::XmlError::InvalidUtf8 {
            pos: e.valid_up_to(),
        })?
        .trim_start();
    // An XML declaration cannot stand inside the wrapper below.
    if text.starts_with("<?xml")
        && let Some(end) = text.find("?>")
    {
        text = &text[end + 2..];
    }
    let wrapped = format!("<content>{text}</content>");
    let defaults = ParseLimits::default();
    let limits = ParseLimits {
        max_bytes: defaults.max_bytes.max(wrapped.len().saturating_add(1)),
        ..defaults
    };
    let root = xml::parse(wrapped.as_bytes(), &limits)?;
    Ok(root.elements().cloned().collect())
}

/// The documents of a message with their stored bytes, in order.
pub fn files(msg: &Message, docs: Vec<Bytes>) -> Result<TFilesArray, WireError> {
    if docs.len() != msg.documents.len() {
        return Err(WireError::DocumentCount {
            id: msg.id.to_string(),
            stored: docs.len(),
            described: msg.documents.len(),
        });
    }
    let mut out = Vec::with_capacity(docs.len());
    for (meta, bytes) in msg.documents.iter().zip(docs) {
        let (encoded, xml_content) = match meta.kind {
            ContentKind::Encoded => (Some(bytes), None),
            ContentKind::Xml => {
                let any = xml_content(&bytes).map_err(|source| WireError::XmlContent {
                    id: msg.id.to_string(),
                    source,
                })?;
                (None, Some(TFileDmXMLContent { any }))
            }
        };
        out.push(TFilesArrayDmFile {
            dm_encoded_content: encoded,
            dm_xml_content: xml_content,
            dm_mime_type: meta.mime_type.clone(),
            dm_file_meta_type: meta.meta_type.clone(),
            dm_file_guid: meta.guid.clone(),
            dm_up_file_guid: meta.up_guid.clone(),
            dm_file_descr: meta.descr.clone(),
            dm_format: meta.format.clone(),
        });
    }
    Ok(TFilesArray { dm_file: out })
}

/// The `dmDm` of a message with its stored documents (MessageDownload and
/// the signed downloads). `dmAmbiguousRecipient` is written (false: the
/// gateway's recipients are always one box), as ISDS does in messages.
pub fn dm_dm(msg: &Message, docs: Vec<Bytes>) -> Result<TReturnedMessageDmDm, WireError> {
    let dm_files = files(msg, docs)?;
    let mut dm = envelope_of!(TReturnedMessageDmDm, msg, { dm_files });
    dm.dm_ambiguous_recipient = Some(false);
    Ok(dm)
}

/// Writes `dm` as element `dmDm` in ISDS's wire form: exactly the bytes
/// every response carrying it has between `<p:dmDm` and `</p:dmDm>`.
pub fn write(w: &mut XmlWriter, dm: &TReturnedMessageDmDm) {
    dm.write_xml(w, "dmDm");
}

/// Raw bytes encoded per piece when hashing: a multiple of 3, so only the
/// last piece of a document is padded.
const ENCODE_PIECE: usize = 48 * 1024;

/// `dmHash` of a message with these stored documents: SHA-256 of the
/// bytes of its `dmDm` element. With `digests`, the SHA-256 of each
/// document's bytes is computed in the same pass (a large upload is read
/// once for both) and pushed there in document order.
pub fn hash(
    msg: &Message,
    docs: &[Bytes],
    digests: Option<&mut Vec<DocumentDigest>>,
) -> Result<[u8; 32], WireError> {
    let dm = dm_dm(msg, docs.to_vec())?;
    // Every encoded document stays bytes, in document order, so the pass
    // below meets each once.
    let mut w = XmlWriter::deferring_all_binaries();
    w.set_prefixing(schema::isds_prefixing("q"));
    write(&mut w, &dm);
    drop(dm);
    // Each document's digest, filled while its bytes pass by (a part is
    // a document's when it holds the very same bytes).
    let mut slots: Vec<Option<DocumentDigest>> = vec![None; docs.len()];
    let mut next_doc = 0;
    let mut h = Sha256::new();
    let mut text = vec![0u8; xml::fragment::base64_len(ENCODE_PIECE)];
    for part in w.into_fragment().into_parts() {
        match part {
            Part::Text(t) => h.update(t.as_bytes()),
            Part::Base64(bytes) => {
                let doc = docs[next_doc.min(docs.len())..]
                    .iter()
                    .position(|d| d.as_ptr() == bytes.as_ptr() && d.len() == bytes.len())
                    .map(|i| next_doc + i);
                if let Some(i) = doc {
                    next_doc = i + 1;
                }
                let mut doc_hash = (digests.is_some() && doc.is_some()).then(Sha256::new);
                for piece in bytes.chunks(ENCODE_PIECE) {
                    if let Some(d) = doc_hash.as_mut() {
                        d.update(piece);
                    }
                    let n = base64::engine::general_purpose::STANDARD
                        .encode_slice(piece, &mut text)
                        .unwrap_or(0);
                    h.update(&text[..n]);
                }
                if let (Some(d), Some(i)) = (doc_hash, doc) {
                    slots[i] = Some(d.finalize().into());
                }
            }
        }
    }
    if let Some(out) = digests {
        for (slot, bytes) in slots.into_iter().zip(docs) {
            out.push(slot.unwrap_or_else(|| Sha256::digest(bytes).into()));
        }
    }
    Ok(h.finalize().into())
}

/// The bytes of `dmDm` as [`write`] writes them, as one string (tests and
/// tools; [`hash`] streams instead).
pub fn dm_dm_text(msg: &Message, docs: &[Bytes]) -> Result<String, WireError> {
    let dm = dm_dm(msg, docs.to_vec())?;
    let mut w = XmlWriter::new();
    w.set_prefixing(schema::isds_prefixing("q"));
    write(&mut w, &dm);
    Ok(w.into_string())
}

/// The bytes of the first `dmDm` element in the XML document `xml`, from
/// `<dmDm` (with whatever prefix) to its end tag, exactly as they stand:
/// what a client hashes to check `dmHash` (the prefixed element does not
/// nest, so its first end tag closes it).
pub fn dm_dm_bytes(xml: &[u8]) -> Option<&[u8]> {
    const NAME: &[u8] = b"dmDm";
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&xml[from..], NAME).map(|i| from + i) {
        from = at + NAME.len();
        let after = xml.get(at + NAME.len()).copied();
        if !matches!(after, Some(b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/')) {
            continue;
        }
        // Back over an optional prefix to the `<` of a start tag.
        let mut start = at;
        if start > 0 && xml[start - 1] == b':' {
            start -= 1;
            while start > 0 && is_name_byte(xml[start - 1]) {
                start -= 1;
            }
        }
        if start == 0 || xml[start - 1] != b'<' {
            continue;
        }
        let qname = &xml[start..at + NAME.len()];
        let mut end_tag = Vec::with_capacity(qname.len() + 3);
        end_tag.extend_from_slice(b"</");
        end_tag.extend_from_slice(qname);
        end_tag.push(b'>');
        let end = memchr::memmem::find(&xml[at..], &end_tag)? + at + end_tag.len();
        return Some(&xml[start - 1..end]);
    }
    None
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.') || b >= 0x80
}

/// The digest `algorithm` (as the `algorithm` attribute of `dmHash` names
/// it: `SHA-1` in older messages, `SHA-256` today) of the `dmDm` bytes in
/// `xml` ([`dm_dm_bytes`]); `None` without a `dmDm` or for another
/// algorithm.
pub fn hash_of_dm_dm_in(xml: &[u8], algorithm: &str) -> Option<Vec<u8>> {
    let bytes = dm_dm_bytes(xml)?;
    match algorithm {
        "SHA-1" => Some(sha1::Sha1::digest(bytes).to_vec()),
        "SHA-256" => Some(Sha256::digest(bytes).to_vec()),
        "SHA-512" => Some(sha2::Sha512::digest(bytes).to_vec()),
        _ => None,
    }
}

/// `dmHash` of a message with these documents (as they are stored): the
/// SHA-256 of its `dmDm` bytes, see [`hash`].
/// The caller sets [`Message::hash_form`] to [`crate::domain::messages::message::HashForm::DmDmBytes`].
pub fn compute_hash<D: AsRef<[u8]>>(msg: &Message, documents: &[D]) -> Result<[u8; 32], WireError> {
    let docs: Vec<bytes::Bytes> = documents
        .iter()
        .map(|d| bytes::Bytes::copy_from_slice(d.as_ref()))
        .collect();
    hash(msg, &docs, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::messages::message::tests::sample;

    #[test]
    fn xml_content_reads_elements_back() {
        let els = xml_content(br#"<a xmlns="urn:x"><b>1</b></a><c xmlns="urn:y" k="v"/>"#).unwrap();
        assert_eq!(els.len(), 2);
        assert_eq!(els[0].name, "a");
        assert_eq!(els[0].ns.as_deref(), Some("urn:x"));
        assert_eq!(els[1].attr("k"), Some("v"));
        let with_decl = xml_content(br#"<?xml version="1.0"?><a/>"#).unwrap();
        assert_eq!(with_decl.len(), 1);
        assert!(xml_content(b"<a>").is_err());
        assert!(xml_content(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn the_hash_is_sha256_of_the_written_dm_dm_and_digests_match() {
        let m = sample(42);
        // Sizes around the encoding piece, so padding and piece borders
        // are both crossed.
        for len in [
            0,
            1,
            2,
            ENCODE_PIECE - 1,
            ENCODE_PIECE + 1,
            3 * ENCODE_PIECE + 2,
        ] {
            let doc: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let docs = vec![Bytes::from(doc.clone())];
            let text = dm_dm_text(&m, &docs).unwrap();
            assert!(text.starts_with("<p:dmDm xmlns:p=\"http://isds.czechpoint.cz/v20\">"));
            assert!(text.ends_with("</p:dmDm>"));
            let mut digests = Vec::new();
            let h = hash(&m, &docs, Some(&mut digests)).unwrap();
            assert_eq!(
                h,
                <[u8; 32]>::from(Sha256::digest(text.as_bytes())),
                "{len}"
            );
            assert_eq!(digests, vec![<[u8; 32]>::from(Sha256::digest(&doc))]);
            assert_eq!(hash(&m, &docs, None).unwrap(), h);
        }
    }

    #[test]
    fn dm_dm_bytes_are_found_by_any_prefix_and_only_as_an_element() {
        let doc = b"<q:R xmlns:q=\"u\"><q:dmDmX/><p:dmDm xmlns:p=\"v\"><p:a>dmDm</p:a></p:dmDm><q:h/></q:R>";
        assert_eq!(
            dm_dm_bytes(doc).unwrap(),
            b"<p:dmDm xmlns:p=\"v\"><p:a>dmDm</p:a></p:dmDm>"
        );
        assert_eq!(dm_dm_bytes(b"<dmDm>x</dmDm>").unwrap(), b"<dmDm>x</dmDm>");
        assert_eq!(dm_dm_bytes(b"<a>dmDm</a>"), None);
        assert_eq!(dm_dm_bytes(b"<p:dmDm>unclosed"), None);
        let h = hash_of_dm_dm_in(b"<dmDm/>x", "SHA-1");
        assert!(h.is_none(), "a self-closed dmDm has no end tag to cut at");
        assert_eq!(
            hash_of_dm_dm_in(b"<dmDm></dmDm>", "SHA-256").unwrap(),
            Sha256::digest(b"<dmDm></dmDm>").to_vec()
        );
        assert_eq!(hash_of_dm_dm_in(b"<dmDm></dmDm>", "MD5"), None);
    }

    #[test]
    fn a_document_count_mismatch_is_an_error() {
        let m = sample(1);
        assert!(matches!(
            hash(&m, &[], None),
            Err(WireError::DocumentCount { .. })
        ));
    }
}
