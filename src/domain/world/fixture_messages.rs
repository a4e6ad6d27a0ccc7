//! Messages of world fixtures (`[[messages]]`): data messages in any state,
//! with documents read from files next to the fixture, stored through
//! [`messages::repo::stage_insert_message`] in the world's all-or-nothing
//! batch, so they list, download and age (fiction, deletion) exactly like
//! sent ones.

use std::path::PathBuf;

use serde::Deserialize;

use crate::domain::boxes::databox::{BoxId, DataBox};
use crate::domain::boxes::repo::{self, RepoError};
use crate::domain::boxes::user::UserType;
use crate::domain::messages;
use crate::domain::messages::message::{
    Author, ContentKind, DocumentMeta, EnvelopeFields, Event, EventCode, HashForm, Message,
    MessageState, Party, Timestamp,
};
use crate::domain::messages::wire::compute_hash;
use crate::domain::world::World;
use crate::domain::world::fixture_files::FixtureDir;
use crate::store::{Batch, Store};

/// Days after delivery when fiction accepts a message.
const FICTION_DAYS: i64 = 10;

/// One `[[messages]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MessageSpec {
    /// Sender box ID.
    from: BoxId,
    /// Recipient box ID.
    to: BoxId,
    #[serde(default)]
    annotation: String,
    /// delivered (default), accepted_by_fiction, accepted_by_login, read,
    /// undeliverable, content_deleted.
    state: Option<String>,
    submitted: Option<String>,
    delivered: Option<String>,
    accepted: Option<String>,
    #[serde(default)]
    personal_delivery: bool,
    #[serde(default = "yes")]
    allow_subst_delivery: bool,
    sender_ref_number: Option<String>,
    recipient_ref_number: Option<String>,
    sender_ident: Option<String>,
    recipient_ident: Option<String>,
    to_hands: Option<String>,
    /// Login of the sender box's user who sent it (default: its primary
    /// user when the world defines it).
    author: Option<String>,
    #[serde(default)]
    documents: Vec<DocumentSpec>,
    /// Further events (e.g. logins, EV11), besides those the state implies.
    #[serde(default)]
    events: Vec<EventSpec>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentSpec {
    /// A file relative to the fixture.
    file: Option<PathBuf>,
    /// Inline text content (instead of `file`).
    text: Option<String>,
    /// `dmFileDescr` (default: the file's name).
    name: Option<String>,
    /// `dmMimeType` (default by the name's extension).
    mime: Option<String>,
    /// `dmFileMetaType` (default: main for the first, enclosure after).
    meta_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventSpec {
    code: String,
    at: Option<String>,
}

/// A message of a fixture, checked; IDs and parties are settled at load.
#[derive(Debug, Clone)]
pub struct PlannedMessage {
    /// The fixture line of its `[[messages]]` table.
    pub line: usize,
    sender: BoxId,
    recipient: BoxId,
    envelope: EnvelopeFields,
    documents: Vec<(DocumentMeta, Vec<u8>)>,
    state: MessageState,
    submitted: Timestamp,
    delivered: Option<Timestamp>,
    accepted: Option<Timestamp>,
    events: Vec<Event>,
    author: Option<String>,
}

/// A fixture time, absolute or relative to `now` (the moment of loading).
fn instant(what: &str, v: &Option<String>, now: i64) -> Result<Option<Timestamp>, String> {
    v.as_deref()
        .map(|s| {
            crate::domain::world::fixture_time::parse_fixture_time(s, now)
                .map(Timestamp::from_unix_seconds)
                .ok_or_else(|| {
                    format!(
                        "{what} {s:?} is no time: use an RFC 3339 date-time, a YYYY-MM-DD date, \
                         or a time relative to loading such as \"now\", \"-3d\", \"-2h30m\" \
                         or \"now - 11 days\""
                    )
                })
        })
        .transpose()
}

fn mime_of(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "xml" => "application/xml",
        "txt" => "text/plain",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "odt" => "application/vnd.oasis.opendocument.text",
        "zfo" => "application/vnd.software602.filler.form-xml-zip",
        _ => "application/octet-stream",
    }
}

impl MessageSpec {
    /// Checks the table and reads its documents.
    pub(crate) fn plan(
        self,
        line: usize,
        files: Option<FixtureDir<'_>>,
        now: i64,
    ) -> Result<PlannedMessage, String> {
        let state = match self.state.as_deref().unwrap_or("delivered") {
            "delivered" | "4" => MessageState::Delivered,
            "accepted_by_fiction" | "fiction" | "5" => MessageState::AcceptedByFiction,
            "accepted_by_login" | "accepted" | "6" => MessageState::AcceptedByLogin,
            "read" | "7" => MessageState::Read,
            "undeliverable" | "8" => MessageState::Undeliverable,
            "content_deleted" | "9" => MessageState::ContentDeleted,
            other => {
                return Err(format!(
                    "unknown state {other:?} (delivered, accepted_by_fiction, accepted_by_login, read, undeliverable, content_deleted)"
                ));
            }
        };
        if self.from == self.to {
            return Err("a message cannot be sent to its sender's own box".into());
        }
        let submitted = instant("submitted", &self.submitted, now)?
            .unwrap_or(Timestamp::from_unix_seconds(now));
        let delivered = match state {
            MessageState::Undeliverable => {
                if self.delivered.is_some() {
                    return Err("an undeliverable message has no delivery time".into());
                }
                None
            }
            _ => Some(instant("delivered", &self.delivered, now)?.unwrap_or(submitted)),
        };
        let accepted = match (state, delivered) {
            (MessageState::Delivered | MessageState::Undeliverable, _) => {
                if self.accepted.is_some() {
                    return Err(format!(
                        "a message in state {} has no acceptance time",
                        self.state.as_deref().unwrap_or("delivered")
                    ));
                }
                None
            }
            (MessageState::AcceptedByFiction, Some(d)) => {
                if !self.allow_subst_delivery {
                    return Err(
                        "fiction cannot accept a message with allow_subst_delivery = false".into(),
                    );
                }
                Some(instant("accepted", &self.accepted, now)?.unwrap_or(d.plus_days(FICTION_DAYS)))
            }
            (_, Some(d)) => Some(instant("accepted", &self.accepted, now)?.unwrap_or(d)),
            (_, None) => None,
        };
        if delivered.is_some_and(|d| d < submitted) {
            return Err("delivered is before submitted".into());
        }
        if let (Some(d), Some(a)) = (delivered, accepted)
            && a < d
        {
            return Err("accepted is before delivered".into());
        }

        let mut documents = Vec::with_capacity(self.documents.len());
        for (i, d) in self.documents.into_iter().enumerate() {
            let (bytes, default_name) = match (&d.file, &d.text) {
                (Some(file), None) => {
                    let Some(files) = files else {
                        return Err(format!(
                            "document {}: files need a fixture file (documents are read next to it)",
                            i + 1
                        ));
                    };
                    let bytes = files
                        .read(
                            file,
                            crate::domain::world::fixture_files::MAX_FIXTURE_FILE_BYTES,
                        )
                        .map_err(|e| format!("document {}: {e}", i + 1))?;
                    let name = file
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    (bytes, name)
                }
                (None, Some(text)) => (text.clone().into_bytes(), format!("document{}.txt", i + 1)),
                _ => {
                    return Err(format!(
                        "document {}: give exactly one of file and text",
                        i + 1
                    ));
                }
            };
            let name = d.name.unwrap_or(default_name);
            let meta = DocumentMeta {
                mime_type: d.mime.unwrap_or_else(|| mime_of(&name).to_owned()),
                meta_type: d
                    .meta_type
                    .unwrap_or_else(|| if i == 0 { "main" } else { "enclosure" }.to_owned()),
                guid: None,
                up_guid: None,
                descr: name,
                format: None,
                kind: ContentKind::Encoded,
                size: bytes.len() as u64,
            };
            documents.push((meta, bytes));
        }
        if documents.is_empty() {
            return Err("a message needs at least one document ([[messages.documents]])".into());
        }

        let mut events = vec![Event::new(submitted, EventCode::EV0)];
        match delivered {
            Some(d) => events.push(Event::new(d, EventCode::EV5)),
            None => events.push(Event::new(submitted, EventCode::EV3)),
        }
        if let Some(a) = accepted {
            // Delivered by a listing of the recipient's primary user (EV11;
            // EV1 is only in delivery info of messages from before 2010,
            // messages manual 2.6.1); a fixture adds other events itself.
            let code = if state == MessageState::AcceptedByFiction {
                EventCode::EV2
            } else {
                EventCode::EV11
            };
            events.push(Event::new(a, code));
        }
        for e in &self.events {
            let code = match e.code.as_str() {
                "EV0" => EventCode::EV0,
                "EV1" => EventCode::EV1,
                "EV2" => EventCode::EV2,
                "EV3" => EventCode::EV3,
                "EV4" => EventCode::EV4,
                "EV5" => EventCode::EV5,
                "EV11" => EventCode::EV11,
                "EV12" => EventCode::EV12,
                "EV13" => EventCode::EV13,
                other => return Err(format!("unknown event code {other:?} (EV0…EV5, EV11…EV13)")),
            };
            let at = instant("event at", &e.at, now)?.unwrap_or(submitted);
            events.push(Event::new(at, code));
        }
        events.sort_by_key(|e| e.at);

        let envelope = EnvelopeFields {
            to_hands: self.to_hands,
            annotation: self.annotation,
            recipient_ref_number: self.recipient_ref_number,
            sender_ref_number: self.sender_ref_number,
            recipient_ident: self.recipient_ident,
            sender_ident: self.sender_ident,
            personal_delivery: self.personal_delivery,
            allow_subst_delivery: self.allow_subst_delivery,
            ..EnvelopeFields::default()
        };
        Ok(PlannedMessage {
            line,
            sender: self.from,
            recipient: self.to,
            envelope,
            documents,
            state,
            submitted,
            delivered,
            accepted,
            events,
            author: self.author,
        })
    }
}

/// Messages ready to stage, with the documents' bytes.
pub type BuiltMessages = Vec<(Message, Vec<Vec<u8>>)>;

/// Why a fixture message cannot be stored.
#[derive(Debug)]
pub(crate) enum BuildError {
    /// At this fixture line.
    Invalid(usize, String),
    Repo(RepoError),
}

impl From<RepoError> for BuildError {
    fn from(e: RepoError) -> Self {
        BuildError::Repo(e)
    }
}

/// The world's messages as stored messages with their documents, IDs
/// drawn from the store's sequence, parties from the world or the store.
pub(crate) fn build(store: &dyn Store, world: &World) -> Result<BuiltMessages, BuildError> {
    let find_box = |id: &BoxId| -> Result<Option<DataBox>, RepoError> {
        match world.boxes.iter().find(|b| &b.id == id) {
            Some(b) => Ok(Some(b.clone())),
            None => repo::get_box(store, id),
        }
    };
    let mut out = Vec::with_capacity(world.messages.len());
    for p in &world.messages {
        let invalid = |m: String| BuildError::Invalid(p.line, m);
        let sender = find_box(&p.sender)?
            .ok_or_else(|| invalid(format!("sender box {} does not exist", p.sender)))?;
        let recipient = find_box(&p.recipient)?
            .ok_or_else(|| invalid(format!("recipient box {} does not exist", p.recipient)))?;
        let author = match &p.author {
            Some(login) => {
                let user = match world.users.iter().find(|u| &u.login == login) {
                    Some(u) => Some(u.clone()),
                    None => repo::user_by_login(store, login)?,
                };
                let user = user.filter(|u| u.box_id == sender.id).ok_or_else(|| {
                    invalid(format!("author {login:?} is no user of box {}", sender.id))
                })?;
                Author {
                    user_id: Some(user.id.clone()),
                    user_type: user.user_type.name().to_owned(),
                    name: user.name.full(),
                }
            }
            None => match world
                .users
                .iter()
                .find(|u| u.box_id == sender.id && u.user_type == UserType::PrimaryUser)
            {
                Some(u) => Author {
                    user_id: Some(u.id.clone()),
                    user_type: u.user_type.name().to_owned(),
                    name: u.name.full(),
                },
                None => Author {
                    user_id: None,
                    user_type: UserType::PrimaryUser.name().to_owned(),
                    name: String::new(),
                },
            },
        };
        let id = messages::repo::next_message_id(store)?;
        let documents: Vec<DocumentMeta> = p.documents.iter().map(|(m, _)| m.clone()).collect();
        let mut envelope = p.envelope.clone();
        envelope.ovm = sender.effective_ovm;
        let mut msg = Message {
            id,
            sender: Party::of_box(&sender),
            recipient: Party::of_box(&recipient),
            envelope,
            attachment_size_kb: Message::size_kb(&documents),
            documents,
            hash: [0; 32],
            hash_form: HashForm::DmDmBytes,
            state: p.state,
            submitted_at: p.submitted,
            delivery_time: p.delivered,
            acceptance_time: p.accepted,
            events: p.events.clone(),
            author,
            content_deleted: p.state == MessageState::ContentDeleted,
            erased_by_recipient: false,
            erased_by_sender: false,
            qtimestamp: None,
            vodz: false,
        };
        let bytes: Vec<&[u8]> = p.documents.iter().map(|(_, b)| b.as_slice()).collect();
        msg.hash = compute_hash(&msg, &bytes).map_err(|e| invalid(e.to_string()))?;
        let stored: Vec<Vec<u8>> = if msg.content_deleted {
            Vec::new()
        } else {
            p.documents.iter().map(|(_, b)| b.clone()).collect()
        };
        out.push((msg, stored));
    }
    Ok(out)
}

/// Stages built messages into the world's batch.
pub(crate) fn stage(batch: &mut Batch, messages: &[(Message, Vec<Vec<u8>>)]) {
    for (msg, docs) in messages {
        messages::repo::stage_insert_message(batch, msg, docs);
    }
}
