//! Data messages (datové zprávy): identity, envelope, documents, delivery
//! state and events. Types here know ISDS rules, not XML or storage formats;
//! `message_repo` stores them, `lifecycle` moves them through their states.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::domain::boxes::databox::{BoxId, BoxType};
use crate::domain::boxes::user::UserId;
use crate::domain::clock::Clock;

/// Days after delivery after which a message not yet accepted is accepted by
/// fiction (state 5), where the message allows it: ten for public and
/// commercial messages alike since 1 January 2023 ("WS manipulace s datovými
/// zprávami", ch. 1.8.1, "Změny od 1.1.2023").
pub const FICTION_DAYS: i64 = 10;

/// Days after acceptance after which a message's documents are deleted
/// (state 9); the envelope, hash and events stay ("WS manipulace s datovými
/// zprávami", ch. 1.5 on the message states and ch. 1.7.1 on the 90 days).
pub const CONTENT_RETENTION_DAYS: i64 = 90;

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// A message ID (`dmID`): a decimal number of at most 20 digits, unique in
/// the whole system. Its store key is the number as 8 bytes big-endian, so
/// keys sort like the numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(pub u64);

impl MessageId {
    /// Added to the store's sequence so that IDs look like ISDS ones
    /// (eight digits and more).
    pub const BASE: u64 = 10_000_000;

    /// 1 to 20 ASCII digits that fit a `u64`.
    pub fn parse(s: &str) -> Option<Self> {
        if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok().map(MessageId)
    }

    /// The store key: the number, big-endian.
    pub fn key(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// The ID a store key of [`MessageId::key`]'s form stands for.
    pub fn from_key(key: &[u8]) -> Option<Self> {
        let arr: [u8; 8] = key.try_into().ok()?;
        Some(MessageId(u64::from_be_bytes(arr)))
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A point in time: microseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The clock's current time.
    pub fn now(clock: &dyn Clock) -> Self {
        Self::from_datetime(clock.now())
    }

    pub fn from_datetime(t: OffsetDateTime) -> Self {
        let micros = t.unix_timestamp_nanos() / 1_000;
        Timestamp(i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX }))
    }

    /// The time as a date-time, clamped to what `time` can represent.
    pub fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// Unix seconds (rounded down).
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    pub fn from_unix_seconds(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1_000_000))
    }

    /// The time `days` later (earlier for a negative count).
    pub fn plus_days(self, days: i64) -> Self {
        Timestamp(self.0.saturating_add(days.saturating_mul(DAY_MICROS)))
    }

    /// The time `micros` microseconds later.
    pub fn plus_micros(self, micros: i64) -> Self {
        Timestamp(self.0.saturating_add(micros))
    }

    /// `xs:dateTime` as ISDS writes it: Czech time with milliseconds and
    /// the Czech offset of the instant, e.g. `2026-11-22T20:48:44.123+01:00`
    /// (see [`crate::domain::clock::czech_time`]).
    pub fn to_xml(self) -> String {
        crate::domain::clock::czech_time::format_datetime(self.to_datetime())
    }

    /// Parses an `xs:dateTime` as ISDS reads it (a missing zone is Czech
    /// local time; see [`crate::domain::clock::czech_time`]).
    pub fn parse_xml(s: &str) -> Option<Self> {
        crate::domain::clock::czech_time::parse_datetime(s).map(Self::from_datetime)
    }

    /// 8 bytes that sort like the times (sign bit flipped, big-endian).
    pub fn key(self) -> [u8; 8] {
        ((self.0 as u64) ^ (1 << 63)).to_be_bytes()
    }

    /// The time a key of [`Timestamp::key`]'s form stands for.
    pub fn from_key(key: &[u8]) -> Option<Self> {
        let arr: [u8; 8] = key.try_into().ok()?;
        Some(Timestamp((u64::from_be_bytes(arr) ^ (1 << 63)) as i64))
    }
}

/// The message state (`dmMessageStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
#[repr(u8)]
pub enum MessageState {
    /// 1: submitted to ISDS.
    Submitted = 1,
    /// 2: time-stamped.
    Timestamped = 2,
    /// 3: refused by the virus check.
    Infected = 3,
    /// 4: delivered to the recipient's box (`dmDeliveryTime`).
    Delivered = 4,
    /// 5: accepted by fiction, ten days after delivery.
    AcceptedByFiction = 5,
    /// 6: delivered: a user entitled to read it listed the received
    /// messages (messages manual 1.8.1).
    AcceptedByLogin = 6,
    /// 7: read (downloaded by the recipient).
    Read = 7,
    /// 8: undeliverable: the recipient's box became inaccessible.
    Undeliverable = 8,
    /// 9: content deleted (90 days after acceptance).
    ContentDeleted = 9,
    /// 10: in the long-term vault.
    InVault = 10,
}

impl MessageState {
    pub const ALL: [MessageState; 10] = [
        MessageState::Submitted,
        MessageState::Timestamped,
        MessageState::Infected,
        MessageState::Delivered,
        MessageState::AcceptedByFiction,
        MessageState::AcceptedByLogin,
        MessageState::Read,
        MessageState::Undeliverable,
        MessageState::ContentDeleted,
        MessageState::InVault,
    ];

    /// Filter mask with every state (`dmStatusFilter` 2046).
    pub const ALL_MASK: u32 = 0x7FE;

    /// The states a list of received messages holds at most: 4, 5, 6, 7
    /// and 10 (messages manual 2.7.1; a filter only narrows the set).
    pub const RECEIVED_LIST_MASK: u32 = (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 10);

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code).wrapping_sub(1)).copied()
    }

    /// This state's bit in a `dmStatusFilter` mask: `1 << code`.
    pub fn filter_bit(self) -> u32 {
        1 << self.code()
    }

    /// Whether the message was accepted (states 5, 6, 7 and later ones
    /// reached from them).
    pub fn is_accepted(self) -> bool {
        matches!(
            self,
            MessageState::AcceptedByFiction | MessageState::AcceptedByLogin | MessageState::Read
        )
    }
}

/// A number that is no message state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid message state {0}: message states are 1 to 10")]
pub struct InvalidMessageState(pub u8);

impl TryFrom<u8> for MessageState {
    type Error = InvalidMessageState;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        MessageState::from_code(n).ok_or(InvalidMessageState(n))
    }
}

impl From<MessageState> for u8 {
    fn from(s: MessageState) -> u8 {
        s.code()
    }
}

/// The sender or the recipient as the envelope records them at submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub box_id: BoxId,
    /// `dmSender` / `dmRecipient`: firm name, or the person's name.
    pub name: String,
    /// `dmSenderAddress` / `dmRecipientAddress`: "street number, zip city".
    pub address: String,
    pub box_type: BoxType,
    /// The ISDS system box (`aaaaaaa`), sender of system messages; its
    /// `dmSenderType` is 0. Left out of the stored form when false, so the
    /// hash of every other message is unchanged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub system: bool,
}

impl Party {
    /// The system box as a sender.
    pub fn system() -> Self {
        Party {
            box_id: BoxId::system(),
            name: "Informační systém datových schránek".into(),
            address: String::new(),
            box_type: BoxType::OVM,
            system: true,
        }
    }

    /// `dmSenderType`: the box type's code, 0 for the system box.
    pub fn sender_type_code(&self) -> u32 {
        if self.system { 0 } else { self.box_type.code() }
    }

    /// The party as a box's register entry describes it now.
    pub fn of_box(b: &crate::domain::boxes::databox::DataBox) -> Self {
        let o = &b.owner;
        let name = if o.firm_name.is_empty() {
            [o.first_name.as_str(), o.last_name.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            o.firm_name.clone()
        };
        Party {
            box_id: b.id.clone(),
            name,
            address: postal_address(&o.address),
            box_type: b.box_type,
            system: false,
        }
    }
}

/// "street number, zip city" (parts that are missing left out), where the
/// number is "descriptive/orientation" when both are known.
pub fn postal_address(a: &crate::domain::boxes::databox::BoxAddress) -> String {
    let number = match (
        a.number_in_municipality.is_empty(),
        a.number_in_street.is_empty(),
    ) {
        (false, false) => format!("{}/{}", a.number_in_municipality, a.number_in_street),
        (false, true) => a.number_in_municipality.clone(),
        (true, false) => a.number_in_street.clone(),
        (true, true) => String::new(),
    };
    let join = |parts: &[&str]| {
        parts
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let street = join(&[&a.street, &number]);
    let town = join(&[&a.zip_code, &a.city]);
    [street, town]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The envelope items the sender sets (after the text rewrite rules).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnvelopeFields {
    pub sender_org_unit: Option<String>,
    pub sender_org_unit_num: Option<i64>,
    pub recipient_org_unit: Option<String>,
    pub recipient_org_unit_num: Option<i64>,
    pub to_hands: Option<String>,
    /// `dmAnnotation`: the subject.
    pub annotation: String,
    pub recipient_ref_number: Option<String>,
    pub sender_ref_number: Option<String>,
    pub recipient_ident: Option<String>,
    pub sender_ident: Option<String>,
    pub legal_title_law: Option<i64>,
    pub legal_title_year: Option<i64>,
    pub legal_title_sect: Option<String>,
    pub legal_title_par: Option<String>,
    pub legal_title_point: Option<String>,
    /// `dmPersonalDelivery`: only users with right 2 may read it.
    pub personal_delivery: bool,
    /// `dmAllowSubstDelivery`: acceptance by fiction allowed.
    pub allow_subst_delivery: bool,
    /// `dmOVM`: sent in OVM mode.
    pub ovm: bool,
    pub publish_own_id: bool,
    /// `dmType`: the commercial kind; `None` for a public message.
    pub dm_type: Option<String>,
    pub id_level: Option<i64>,
}

/// How a document travelled in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContentKind {
    /// `dmEncodedContent`: base64; stored decoded.
    Encoded,
    /// `dmXMLContent`: XML; stored re-serialised.
    Xml,
}

/// One document (`dmFile`) of a message, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentMeta {
    pub mime_type: String,
    /// `dmFileMetaType`: main, enclosure, signature or meta.
    pub meta_type: String,
    pub guid: Option<String>,
    pub up_guid: Option<String>,
    /// `dmFileDescr`: the file name.
    pub descr: String,
    pub format: Option<String>,
    pub kind: ContentKind,
    /// Size of the stored bytes.
    pub size: u64,
}

/// A delivery event code (`dmEventDescr` starts with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventCode {
    /// The message entered ISDS.
    EV0,
    /// Accepted by the login of a user entitled to read it.
    EV1,
    /// Accepted by fiction.
    EV2,
    /// Undeliverable: the recipient's box became inaccessible.
    EV3,
    /// A commercial message's delivery was confirmed (paid).
    EV4,
    /// Delivered to the recipient's box.
    EV5,
    /// A primary user logged in.
    EV11,
    /// An entrusted user logged in.
    EV12,
    /// An application logged in with a system certificate.
    EV13,
}

impl EventCode {
    pub fn name(self) -> &'static str {
        match self {
            EventCode::EV0 => "EV0",
            EventCode::EV1 => "EV1",
            EventCode::EV2 => "EV2",
            EventCode::EV3 => "EV3",
            EventCode::EV4 => "EV4",
            EventCode::EV5 => "EV5",
            EventCode::EV11 => "EV11",
            EventCode::EV12 => "EV12",
            EventCode::EV13 => "EV13",
        }
    }

    /// What happened, in Czech as ISDS clients show it.
    pub fn text(self) -> &'static str {
        match self {
            EventCode::EV0 => "Zpráva byla podána do informačního systému datových schránek.",
            EventCode::EV1 => "Zpráva byla doručena přihlášením osoby oprávněné ji číst.",
            EventCode::EV2 => "Zpráva byla doručena fikcí.",
            EventCode::EV3 => "Zprávu nelze doručit, datová schránka adresáta byla znepřístupněna.",
            EventCode::EV4 => "Doručení poštovní datové zprávy bylo potvrzeno.",
            EventCode::EV5 => "Zpráva byla dodána do datové schránky adresáta.",
            EventCode::EV11 => "Do datové schránky se přihlásila oprávněná osoba.",
            EventCode::EV12 => "Do datové schránky se přihlásila pověřená osoba.",
            EventCode::EV13 => "Do datové schránky se přihlásila aplikace systémovým certifikátem.",
        }
    }
}

/// One delivery event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at: Timestamp,
    pub code: EventCode,
}

impl Event {
    pub fn new(at: Timestamp, code: EventCode) -> Self {
        Self { at, code }
    }

    /// `dmEventDescr`: the code, a colon and the text, e.g. `EV5: ...`.
    pub fn description(&self) -> String {
        format!("{}: {}", self.code.name(), self.code.text())
    }
}

/// Who sent the message from the sender's box (GetMessageAuthor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub user_id: Option<UserId>,
    /// The ISDS author type: PRIMARY_USER, ENTRUSTED_USER, ADMINISTRATOR,
    /// ..., or VIRTUAL for an application.
    pub user_type: String,
    pub name: String,
}

/// One data message as stored (without its documents' bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub sender: Party,
    pub recipient: Party,
    pub envelope: EnvelopeFields,
    pub documents: Vec<DocumentMeta>,
    /// `dmAttachmentSize`: stored size of all documents in kB (rounded up).
    pub attachment_size_kb: u64,
    /// `dmHash`: SHA-256, see [`crate::domain::messages::wire::compute_hash`] and [`HashForm`].
    pub hash: [u8; 32],
    /// What `hash` was computed over. Missing in stores written by older
    /// builds, whose messages keep the hash they were given.
    #[serde(default)]
    pub hash_form: HashForm,
    pub state: MessageState,
    pub submitted_at: Timestamp,
    pub delivery_time: Option<Timestamp>,
    pub acceptance_time: Option<Timestamp>,
    pub events: Vec<Event>,
    pub author: Author,
    /// The documents were deleted (state 9 and later).
    pub content_deleted: bool,
    pub erased_by_recipient: bool,
    pub erased_by_sender: bool,
    /// `dmQTimestamp`: an RFC 3161 time-stamp token (DER) over `hash`, made
    /// when the message was submitted. Messages the gateway wrote without
    /// its time-stamp authority (system notices, fixtures, older stores)
    /// have none and answer an empty one. Not covered by the hash.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "base64_option"
    )]
    pub qtimestamp: Option<Vec<u8>>,
    /// A big message (VoDZ, velkoobjemová datová zpráva) sent by
    /// CreateBigMessage: read only through the VoDZ services, marked
    /// `dmVODZ` in lists and envelopes (VoDZ manual 2022_1, 3.8, 3.9).
    /// Left out of the stored form when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vodz: bool,
}

/// Stores optional bytes as a base64 string rather than a JSON array of
/// numbers (a time-stamp token is about a kilobyte).
mod base64_option {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(bytes) => {
                s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            base64::engine::general_purpose::STANDARD
                .decode(t)
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

impl Message {
    /// A message as bulk seeds of scale write it (benchmarks, tests of
    /// big boxes): one PDF document `descr` of `size` bytes, submitted and
    /// delivered at `at` (state 4, events EV0 and EV5), sent by a primary
    /// user. Its `dmHash` is zero until the caller computes it over the
    /// document's bytes.
    pub fn seeded_delivered(
        id: MessageId,
        sender: Party,
        recipient: Party,
        annotation: String,
        descr: &str,
        size: u64,
        at: Timestamp,
    ) -> Message {
        Message {
            id,
            sender,
            recipient,
            envelope: EnvelopeFields {
                annotation,
                ..EnvelopeFields::default()
            },
            documents: vec![DocumentMeta {
                mime_type: "application/pdf".into(),
                meta_type: "main".into(),
                guid: None,
                up_guid: None,
                descr: descr.into(),
                format: None,
                kind: ContentKind::Encoded,
                size,
            }],
            attachment_size_kb: size.div_ceil(1024),
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
                user_type: "PRIMARY_USER".into(),
                name: "Jana Dvořáková".into(),
            },
            content_deleted: false,
            erased_by_recipient: false,
            erased_by_sender: false,
            qtimestamp: None,
            vodz: false,
        }
    }

    /// When acceptance by fiction is due: ten days after delivery, for a
    /// delivered message that allows it.
    pub fn fiction_due(&self) -> Option<Timestamp> {
        fiction_due(
            self.state,
            self.envelope.allow_subst_delivery,
            self.delivery_time,
        )
    }

    /// When the documents are due for deletion: 90 days after acceptance,
    /// for an accepted message that still has them.
    pub fn deletion_due(&self) -> Option<Timestamp> {
        deletion_due(self.state, self.content_deleted, self.acceptance_time)
    }

    /// `dmHash` as lower-case hex.
    pub fn hash_hex(&self) -> String {
        self.hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A commercial message (PDZ), as opposed to a public one.
    pub fn is_commercial(&self) -> bool {
        self.envelope.dm_type.is_some()
    }

    /// `attachment_size_kb` for documents of these sizes: kilobytes
    /// (1024 bytes), rounded up.
    pub fn size_kb(documents: &[DocumentMeta]) -> u64 {
        documents.iter().map(|d| d.size).sum::<u64>().div_ceil(1024)
    }
}

/// What a message's `dmHash` was computed over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HashForm {
    /// Written by older builds: SHA-256 over the message ID, the JSON of
    /// the parts fixed at submission and the SHA-256 of each document.
    /// Such a hash is kept as it is (its time stamp covers it, and a new
    /// one would need a new stamp), so a client cannot recompute it from
    /// the `dmDm` bytes; nothing else about these messages changes.
    #[default]
    Legacy,
    /// SHA-256 of the bytes of the message's `dmDm` element as the
    /// gateway writes it ([`crate::domain::messages::wire`]).
    DmDmBytes,
}

/// SHA-256 of one document's bytes.
pub type DocumentDigest = [u8; 32];

/// The [`DocumentDigest`] of each document, in order.
pub fn document_digests<D: AsRef<[u8]>>(documents: &[D]) -> Vec<DocumentDigest> {
    documents
        .iter()
        .map(|d| Sha256::digest(d.as_ref()).into())
        .collect()
}

/// When acceptance by fiction is due for a message in `state` delivered
/// at `delivery_time`: ten days after delivery, for a delivered message
/// that allows it (`allow_subst_delivery`). The one place of the rule,
/// for whole records and for records read in part.
pub fn fiction_due(
    state: MessageState,
    allow_subst_delivery: bool,
    delivery_time: Option<Timestamp>,
) -> Option<Timestamp> {
    if state != MessageState::Delivered || !allow_subst_delivery {
        return None;
    }
    delivery_time.map(|t| t.plus_days(FICTION_DAYS))
}

/// When the documents of a message in `state` accepted at
/// `acceptance_time` are due for deletion: 90 days after acceptance, for
/// an accepted message that still has them.
pub fn deletion_due(
    state: MessageState,
    content_deleted: bool,
    acceptance_time: Option<Timestamp>,
) -> Option<Timestamp> {
    if !state.is_accepted() || content_deleted {
        return None;
    }
    acceptance_time.map(|t| t.plus_days(CONTENT_RETENTION_DAYS))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::clock::TestClock;
    use crate::domain::messages::wire::compute_hash;

    pub(crate) fn sample(id: u64) -> Message {
        let t = Timestamp(1_780_000_000_000_000);
        Message {
            id: MessageId(id),
            sender: Party {
                box_id: BoxId::parse("ovm4dem").unwrap(),
                name: "Město Demo".into(),
                address: "Náměstí 1, 11000 Praha".into(),
                box_type: BoxType::OVM,
                system: false,
            },
            recipient: Party {
                box_id: BoxId::parse("po4demo").unwrap(),
                name: "Demo s.r.o.".into(),
                address: "Ulice 2, 60200 Brno".into(),
                box_type: BoxType::PO,
                system: false,
            },
            envelope: EnvelopeFields {
                annotation: "Výzva".into(),
                allow_subst_delivery: true,
                ovm: true,
                ..Default::default()
            },
            documents: vec![DocumentMeta {
                mime_type: "application/pdf".into(),
                meta_type: "main".into(),
                guid: None,
                up_guid: None,
                descr: "vyzva.pdf".into(),
                format: None,
                kind: ContentKind::Encoded,
                size: 3,
            }],
            attachment_size_kb: 1,
            hash: [0; 32],
            hash_form: HashForm::DmDmBytes,
            state: MessageState::Delivered,
            submitted_at: t,
            delivery_time: Some(t),
            acceptance_time: None,
            events: vec![Event::new(t, EventCode::EV0), Event::new(t, EventCode::EV5)],
            author: Author {
                user_id: None,
                user_type: "PRIMARY_USER".into(),
                name: "Jan Starosta".into(),
            },
            content_deleted: false,
            erased_by_recipient: false,
            erased_by_sender: false,
            qtimestamp: None,
            vodz: false,
        }
    }

    #[test]
    fn message_ids() {
        assert_eq!(MessageId::parse("10000001"), Some(MessageId(10_000_001)));
        assert_eq!(MessageId(42).to_string(), "42");
        for bad in [
            "",
            "12a",
            "-1",
            "123456789012345678901",
            "99999999999999999999",
        ] {
            assert_eq!(MessageId::parse(bad), None, "{bad}");
        }
        assert!(MessageId(1).key() < MessageId(256).key());
        assert_eq!(
            MessageId::from_key(&MessageId(77).key()),
            Some(MessageId(77))
        );
        assert_eq!(serde_json::to_string(&MessageId(5)).unwrap(), "5");
    }

    #[test]
    fn states_and_filter_bits() {
        for s in MessageState::ALL {
            assert_eq!(MessageState::from_code(s.code()), Some(s));
        }
        assert_eq!(MessageState::from_code(0), None);
        assert_eq!(MessageState::from_code(11), None);
        let all: u32 = MessageState::ALL.iter().map(|s| s.filter_bit()).sum();
        assert_eq!(all, MessageState::ALL_MASK);
        assert_eq!(MessageState::Delivered.filter_bit(), 16);
        assert_eq!(serde_json::to_string(&MessageState::Read).unwrap(), "7");
    }

    #[test]
    fn timestamps() {
        let t = Timestamp(1_795_895_324_123_456);
        // As ISDS writes times: Czech time, milliseconds, Czech offset.
        assert_eq!(t.to_xml(), "2026-11-28T20:48:44.123+01:00");
        assert_eq!(
            Timestamp::parse_xml(&t.to_xml()),
            Some(Timestamp(1_795_895_324_123_000))
        );
        // Without a zone: Czech time (CET in November).
        assert_eq!(
            Timestamp::parse_xml("2026-11-28T20:48:44"),
            Some(Timestamp::from_unix_seconds(1_795_895_324))
        );
        assert_eq!(
            Timestamp::parse_xml("2026-11-28T19:48:44Z"),
            Some(Timestamp::from_unix_seconds(1_795_895_324))
        );
        assert_eq!(Timestamp::parse_xml("yesterday"), None);
        // Keys sort like times, negative ones too.
        let times = [Timestamp(-5), Timestamp(0), Timestamp(3), t];
        for w in times.windows(2) {
            assert!(w[0].key() < w[1].key());
        }
        assert_eq!(
            Timestamp::from_key(&Timestamp(-5).key()),
            Some(Timestamp(-5))
        );
        assert_eq!(t.plus_days(1).0 - t.0, 86_400_000_000);
        let clock = TestClock::new();
        assert!((Timestamp::now(clock.as_ref()).unix_seconds() - clock.unix()).abs() <= 1);
    }

    #[test]
    fn events_describe_themselves() {
        let e = Event::new(Timestamp(0), EventCode::EV5);
        assert!(e.description().starts_with("EV5: "));
        assert!(
            Event::new(Timestamp(0), EventCode::EV11)
                .description()
                .starts_with("EV11: ")
        );
    }

    #[test]
    fn due_times() {
        let m = sample(1);
        let delivered = m.delivery_time.unwrap();
        assert_eq!(m.fiction_due(), Some(delivered.plus_days(10)));
        assert_eq!(m.deletion_due(), None);
        let mut no_fiction = m.clone();
        no_fiction.envelope.allow_subst_delivery = false;
        assert_eq!(no_fiction.fiction_due(), None);
        let mut accepted = m.clone();
        accepted.state = MessageState::AcceptedByLogin;
        accepted.acceptance_time = Some(delivered.plus_days(2));
        assert_eq!(accepted.fiction_due(), None);
        assert_eq!(accepted.deletion_due(), Some(delivered.plus_days(92)));
        accepted.content_deleted = true;
        assert_eq!(accepted.deletion_due(), None);
    }

    #[test]
    fn hash_covers_content_not_state() {
        let hash = |m: &Message, docs: &[&[u8]]| compute_hash(m, docs).unwrap();
        let m = sample(1);
        let h = hash(&m, &[b"abc"]);
        assert_eq!(h, hash(&m, &[b"abc"]));
        assert_ne!(h, hash(&m, &[b"abd"]));
        // Document boundaries count.
        let mut two = m.clone();
        two.documents.push(two.documents[0].clone());
        assert_ne!(
            hash(&two, &[&b"ab"[..], b"c"]),
            hash(&two, &[&b"a"[..], b"bc"])
        );
        let mut later = m.clone();
        later.state = MessageState::Read;
        later.acceptance_time = Some(Timestamp(9));
        later.events.push(Event::new(Timestamp(9), EventCode::EV1));
        later.hash = [7; 32];
        assert_eq!(hash(&later, &[b"abc"]), h);
        let mut other = m.clone();
        other.envelope.annotation = "Jiná".into();
        assert_ne!(hash(&other, &[b"abc"]), h);
        let mut hashed = m.clone();
        hashed.hash = h;
        assert_eq!(hashed.hash_hex().len(), 64);
        // Documents given and described must agree.
        assert!(compute_hash(&m, &[b"a", b"b"]).is_err());
    }

    #[test]
    fn addresses() {
        use crate::domain::boxes::databox::BoxAddress;
        let mut a = BoxAddress {
            street: "Dlouhá".into(),
            number_in_municipality: "1234".into(),
            number_in_street: "5".into(),
            zip_code: "11000".into(),
            city: "Praha".into(),
            ..Default::default()
        };
        assert_eq!(postal_address(&a), "Dlouhá 1234/5, 11000 Praha");
        a.number_in_street.clear();
        a.street.clear();
        assert_eq!(postal_address(&a), "1234, 11000 Praha");
        assert_eq!(postal_address(&BoxAddress::default()), "");
    }

    #[test]
    fn messages_round_trip_as_json() {
        let m = sample(3);
        let json = serde_json::to_vec(&m).unwrap();
        let back: Message = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, m);
        assert_eq!(Message::size_kb(&m.documents), 1);
    }
}
