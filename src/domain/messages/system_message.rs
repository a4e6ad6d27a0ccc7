//! System messages: data messages the ISDS system box (`aaaaaaa`, sender
//! type 0) sends to a box about what happened to it or its messages.
//!
//! The one the gateway sends today tells a sender that its message became
//! undeliverable (state 8) because the recipient's box was made
//! inaccessible before the message was accepted. It is an ordinary
//! delivered message of the sender's box: listed, downloaded, accepted by
//! login or fiction like any other, with one plain-text document.

use crate::domain::boxes::databox::DataBox;
use crate::domain::boxes::repo::{self, RepoError};
use crate::domain::messages;
use crate::domain::messages::message::{
    Author, ContentKind, DocumentMeta, EnvelopeFields, Event, EventCode, HashForm, Message,
    MessageState, Party, Timestamp,
};
use crate::domain::messages::wire::compute_hash;
use crate::store::{Batch, Store};

/// The notice's file name (`dmFileDescr`).
pub const UNDELIVERABLE_FILE_NAME: &str = "oznameni_o_nedorucitelnosti.txt";

/// Stages, into `batch`, the system message telling the sender of
/// `undeliverable` that it could not be delivered. Nothing is staged when
/// the message itself came from the system box (no notices about notices)
/// or its sender's box no longer exists. The new message takes a fresh ID
/// from the durable sequence; if the batch is never applied the ID is
/// simply unused, as IDs may be.
pub fn stage_undeliverable_notice(
    store: &dyn Store,
    batch: &mut Batch,
    undeliverable: &Message,
    at: Timestamp,
) -> Result<Option<Message>, RepoError> {
    if undeliverable.sender.system {
        return Ok(None);
    }
    let Some(sender_box) = repo::get_box(store, &undeliverable.sender.box_id)? else {
        return Ok(None);
    };
    let id = messages::repo::next_message_id(store)?;
    let (msg, text) = undeliverable_notice(id, undeliverable, &sender_box, at);
    messages::repo::stage_insert_message(batch, &msg, &[text]);
    Ok(Some(msg))
}

/// The notice about `undeliverable` for its sender's box, with its
/// document's bytes.
fn undeliverable_notice(
    id: crate::domain::messages::message::MessageId,
    undeliverable: &Message,
    sender_box: &DataBox,
    at: Timestamp,
) -> (Message, Vec<u8>) {
    let original = undeliverable;
    let text = format!(
        "Oznámení o nedoručitelnosti datové zprávy\n\
         \n\
         Datovou zprávu č. {id_orig} s předmětem „{subject}“, odeslanou {sent}\n\
         do datové schránky {rcpt_id} ({rcpt_name}), nelze doručit: datová\n\
         schránka adresáta byla znepřístupněna dříve, než byla zpráva doručena.\n\
         Stav zprávy: 8 (nedoručitelná), {when}.\n",
        id_orig = original.id,
        subject = original.envelope.annotation,
        sent = original.submitted_at.to_xml(),
        rcpt_id = original.recipient.box_id,
        rcpt_name = original.recipient.name,
        when = at.to_xml(),
    )
    .into_bytes();
    let documents = vec![DocumentMeta {
        mime_type: "text/plain".into(),
        meta_type: "main".into(),
        guid: None,
        up_guid: None,
        descr: UNDELIVERABLE_FILE_NAME.into(),
        format: None,
        kind: ContentKind::Encoded,
        size: text.len() as u64,
    }];
    let mut msg = Message {
        id,
        sender: Party::system(),
        recipient: Party::of_box(sender_box),
        envelope: EnvelopeFields {
            annotation: format!("Nedoručitelná datová zpráva č. {}", original.id),
            // Refers the sender's own records to the message concerned.
            recipient_ref_number: original.envelope.sender_ref_number.clone(),
            recipient_ident: original.envelope.sender_ident.clone(),
            allow_subst_delivery: true,
            ovm: true,
            ..Default::default()
        },
        attachment_size_kb: Message::size_kb(&documents),
        documents,
        hash: [0; 32],
        hash_form: HashForm::DmDmBytes,
        state: MessageState::Delivered,
        submitted_at: at,
        delivery_time: Some(at),
        acceptance_time: None,
        events: vec![
            Event::new(at, EventCode::EV0),
            Event::new(at, EventCode::EV5),
        ],
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
    // One encoded document, described and given: nothing can fail.
    msg.hash = compute_hash(&msg, &[&text]).unwrap_or_default();
    (msg, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::messages::message::tests::sample;
    use crate::store::open_memory;

    #[test]
    fn notices_go_to_existing_senders_and_never_about_notices() {
        let store = open_memory();
        let s = store.as_ref();
        let at = Timestamp(1_790_000_000_000_000);
        // The sample's sender box is not in this store: no notice.
        let original = sample(10_000_001);
        let mut batch = Batch::new();
        assert_eq!(
            stage_undeliverable_notice(s, &mut batch, &original, at).unwrap(),
            None
        );
        assert!(batch.is_empty());
        // A system message never gets a notice of its own.
        let mut from_system = sample(10_000_002);
        from_system.sender = Party::system();
        assert_eq!(
            stage_undeliverable_notice(s, &mut batch, &from_system, at).unwrap(),
            None
        );
        assert!(batch.is_empty());
    }

    #[test]
    fn the_notice_is_a_delivered_system_message_with_a_right_hash() {
        let original = sample(10_000_001);
        let sender_box = DataBox {
            id: original.sender.box_id.clone(),
            box_type: crate::domain::BoxType::OVM,
            state: crate::domain::BoxState::Accessible,
            owner: crate::domain::Owner::default(),
            effective_ovm: true,
            open_addressing: false,
            attachment_limit_mb: 20,
            unlimited_password_validity: false,
            public_listing: true,
        };
        let at = Timestamp(1_790_000_000_000_000);
        let id = crate::domain::messages::message::MessageId(10_000_009);
        let (msg, text) = undeliverable_notice(id, &original, &sender_box, at);
        assert_eq!(msg.sender.sender_type_code(), 0);
        assert_eq!(msg.sender.box_id.as_str(), "aaaaaaa");
        assert_eq!(msg.recipient.box_id, original.sender.box_id);
        assert_eq!(msg.state, MessageState::Delivered);
        assert_eq!(msg.documents[0].size, text.len() as u64);
        assert_eq!(msg.hash, compute_hash(&msg, &[&text]).unwrap());
        assert!(String::from_utf8(text).unwrap().contains("10000001"));
    }
}
