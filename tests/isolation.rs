//! Isolation, as a property: in random worlds of boxes, users with random
//! rights (`userPrivils`) and messages between the boxes in any state, no
//! user ever obtains anything of a message their box neither sent nor
//! received, and every reading operation honours the rights exactly as a
//! small model of the manuals' rules predicts (messages manual 1.4, 1.8.1
//! and each operation's chapter; codes from the official table): 1211 for
//! another box's message, 1206-1209 for missing rights, 1222 for a received
//! message not yet delivered, and delivery only by a listing of a user who
//! may read the message.
//!
//! Each world is written as a TOML world fixture and served by a real
//! gateway (no demo world). Every user then calls every single-message
//! operation on every message ID of the world (and an unknown one), both
//! lists, and CreateMessage; the status each answer carries must be the
//! model's, a refused answer must carry nothing but its status, and no
//! answer (signed artefacts decoded) may contain an annotation or a
//! document of a message the user's box is not party to. A success must be
//! about the requested message only, and documents come only with the
//! downloads.
//!
//! The run is deterministic: a fixed seed and 16 worlds; `ISOLATION_SEED`
//! and `ISOLATION_CASES` explore others. A failure prints the seed and the
//! (shrunk) failing world's fixture, to reproduce by hand with
//! `isds-gateway serve --no-demo --fixtures world.toml`.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use common::messages::{descendants, texts};
use common::*;
use isds_gateway::domain::messages::message::MessageId;
use isds_gateway::xml::{self, Element, ParseLimits};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

const DZ: &str = "/DS/dz";
const DX: &str = "/DS/dx";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const PASSWORD: &str = "Iso-Lation-2026!";
const CASES: u32 = 16;
const DEFAULT_SEED: u64 = 0x150_1a7e;

// ---------------------------------------------------------------------------
// The world

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ovm,
    Po,
    Fo,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Ovm => "OVM",
            Kind::Po => "PO",
            Kind::Fo => "FO",
        }
    }
}

#[derive(Debug, Clone)]
struct BoxSpec {
    kind: Kind,
    /// The `userPrivils` of each user; the first is the primary user.
    users: Vec<u32>,
}

#[derive(Debug, Clone)]
struct MsgSpec {
    from: usize,
    to: usize,
    personal: bool,
    state: &'static str,
    documents: usize,
}

#[derive(Debug, Clone)]
struct World {
    boxes: Vec<BoxSpec>,
    messages: Vec<MsgSpec>,
}

const STATES: &[&str] = &[
    "delivered",
    "accepted_by_fiction",
    "accepted_by_login",
    "read",
    "undeliverable",
    "content_deleted",
];

fn box_id(b: usize) -> String {
    format!("isob{b:03}")
}

fn user_id(b: usize, u: usize) -> String {
    format!("u{b}x{u}00")
}

fn login(b: usize, u: usize) -> String {
    format!("iso_b{b}_u{u}")
}

fn annotation(i: usize) -> String {
    format!("iso-ann-{i:02}-end")
}

fn document(i: usize, d: usize) -> String {
    format!("iso-doc-{i:02}-{d}-end: content of message {i}")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn world() -> impl Strategy<Value = World> {
    let a_box = (
        prop::sample::select(vec![Kind::Ovm, Kind::Po, Kind::Fo]),
        prop::collection::vec(0u32..=255, 1..=3),
    )
        .prop_map(|(kind, users)| BoxSpec { kind, users });
    prop::collection::vec(a_box, 2..=4)
        .prop_flat_map(|boxes| {
            let n = boxes.len();
            let message = (
                0..n,
                1..n,
                any::<bool>(),
                prop::sample::select(STATES),
                1usize..=2,
            )
                .prop_map(move |(from, offset, personal, state, documents)| MsgSpec {
                    from,
                    to: (from + offset) % n,
                    personal,
                    state,
                    documents,
                });
            (Just(boxes), prop::collection::vec(message, 1..=6))
        })
        .prop_map(|(boxes, messages)| World { boxes, messages })
}

impl World {
    /// The world as a fixture in the format of fixtures/demo-world.toml.
    fn fixture(&self) -> String {
        let mut t = String::new();
        for (b, bx) in self.boxes.iter().enumerate() {
            let _ = write!(
                t,
                "[[boxes]]\nid = \"{}\"\ntype = \"{}\"\n",
                box_id(b),
                bx.kind.name()
            );
            for (u, privileges) in bx.users.iter().enumerate() {
                let kind = if u == 0 {
                    "PRIMARY_USER"
                } else {
                    "ENTRUSTED_USER"
                };
                let _ = write!(
                    t,
                    "[[boxes.users]]\nid = \"{}\"\nlogin = \"{}\"\npassword = \"{PASSWORD}\"\ntype = \"{kind}\"\nprivileges = {privileges}\n",
                    user_id(b, u),
                    login(b, u),
                );
            }
            t.push('\n');
        }
        for (i, m) in self.messages.iter().enumerate() {
            let _ = write!(
                t,
                "[[messages]]\nfrom = \"{}\"\nto = \"{}\"\nannotation = \"{}\"\npersonal_delivery = {}\nstate = \"{}\"\n",
                box_id(m.from),
                box_id(m.to),
                annotation(i),
                m.personal,
                m.state
            );
            for d in 0..m.documents {
                let _ = write!(
                    t,
                    "[[messages.documents]]\ntext = \"{}\"\nname = \"doc{d}.txt\"\n",
                    document(i, d)
                );
            }
            t.push('\n');
        }
        t
    }
}

// ---------------------------------------------------------------------------
// The model

/// A message as the model knows it.
#[derive(Debug, Clone)]
struct Known {
    id: String,
    from: usize,
    to: usize,
    personal: bool,
    /// The state (`dmMessageStatus`) as far as the rules tell apart: 4 or
    /// 5 waiting for delivery, 6 delivered (or read), 8 undeliverable, 9
    /// content deleted.
    state: u8,
    annotation: String,
    /// The documents as they travel (base64 of their bytes).
    documents: Vec<String>,
}

impl Known {
    fn party(&self, b: usize) -> bool {
        self.from == b || self.to == b
    }

    /// Waiting for delivery by a listing (states 4 and 5).
    fn waiting(&self) -> bool {
        matches!(self.state, 4 | 5)
    }

    /// In the recipient's received list (states 4, 5, 6, 7, 10).
    fn listed_as_received(&self) -> bool {
        !matches!(self.state, 8 | 9)
    }

    /// Every string that belongs to this message only.
    fn markers(&self) -> Vec<&str> {
        let mut v = vec![self.annotation.as_str()];
        v.extend(self.documents.iter().map(String::as_str));
        v
    }
}

#[derive(Debug, Clone, Copy)]
struct User {
    b: usize,
    u: usize,
    privileges: u32,
}

impl User {
    fn has(&self, bit: u32) -> bool {
        self.privileges & bit == bit
    }

    /// Right 1 or 2 for an ordinary message, 2 for personal delivery.
    fn may_read_received(&self, m: &Known) -> bool {
        if m.personal {
            self.has(2)
        } else {
            self.privileges & 3 != 0
        }
    }

    fn login(&self) -> String {
        login(self.b, self.u)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    MessageDownload,
    SignedMessageDownload,
    MessageEnvelopeDownload,
    SentMessageEnvelopeDownload,
    SignedSentMessageDownload,
    GetDeliveryInfo,
    GetSignedDeliveryInfo,
    VerifyMessage,
    GetMessageAuthor,
    GetMessageAuthor2,
    MarkMessageAsDownloaded,
}

const OPS: &[Op] = &[
    Op::MessageDownload,
    Op::SignedMessageDownload,
    Op::MessageEnvelopeDownload,
    Op::SentMessageEnvelopeDownload,
    Op::SignedSentMessageDownload,
    Op::GetDeliveryInfo,
    Op::GetSignedDeliveryInfo,
    Op::VerifyMessage,
    Op::GetMessageAuthor,
    Op::GetMessageAuthor2,
    Op::MarkMessageAsDownloaded,
];

impl Op {
    fn name(self) -> String {
        format!("{self:?}")
    }

    fn path(self) -> &'static str {
        match self {
            Op::MessageDownload | Op::SignedMessageDownload | Op::SignedSentMessageDownload => DZ,
            _ => DX,
        }
    }

    fn signed(self) -> bool {
        matches!(
            self,
            Op::SignedMessageDownload | Op::SignedSentMessageDownload | Op::GetSignedDeliveryInfo
        )
    }

    /// Whether a success carries the message's documents.
    fn carries_documents(self) -> bool {
        matches!(
            self,
            Op::MessageDownload | Op::SignedMessageDownload | Op::SignedSentMessageDownload
        )
    }

    /// Whether a success carries the envelope (and so the annotation).
    fn carries_envelope(self) -> bool {
        !matches!(
            self,
            Op::VerifyMessage
                | Op::GetMessageAuthor
                | Op::GetMessageAuthor2
                | Op::MarkMessageAsDownloaded
        )
    }

    /// The status the manuals' rules give `user` for message `m` (None: an
    /// ID no message has).
    fn expected(self, user: &User, m: Option<&Known>) -> &'static str {
        const OK: &str = "0000";
        let Some(m) = m else {
            return "1219";
        };
        let received = m.to == user.b;
        let sent = m.from == user.b;
        // Read rights by kind: 1207 without any, 1208 for personal
        // delivery without PRIVIL_READ_ALL.
        let read = || {
            if user.privileges & 3 == 0 {
                Some("1207")
            } else if !user.may_read_received(m) {
                Some("1208")
            } else {
                None
            }
        };
        // Reads of a received message by its state: 1222 before delivery,
        // 1230 undeliverable.
        let state = || match m.state {
            4 | 5 => Some("1222"),
            8 => Some("1230"),
            _ => None,
        };
        let view = || (!user.has(8)).then_some("1209");
        let send = || (!user.has(4)).then_some("1206");
        let first = |checks: &[&dyn Fn() -> Option<&'static str>]| {
            checks.iter().find_map(|c| c()).unwrap_or(OK)
        };
        match self {
            Op::MessageDownload | Op::SignedMessageDownload if received => {
                first(&[&read, &state, &|| (m.state == 9).then_some("1219")])
            }
            Op::MarkMessageAsDownloaded if received => {
                first(&[&read, &|| (!matches!(m.state, 6 | 7)).then_some("1248")])
            }
            Op::MessageEnvelopeDownload if received => first(&[&view, &read, &state]),
            Op::SentMessageEnvelopeDownload if sent => first(&[&send]),
            Op::SignedSentMessageDownload if sent => {
                first(&[&send, &|| (m.state == 9).then_some("1219")])
            }
            Op::GetDeliveryInfo | Op::GetSignedDeliveryInfo if received || sent => {
                first(&[&view, &|| (received && m.waiting()).then_some("1222")])
            }
            Op::VerifyMessage if received || sent => {
                first(&[&|| (user.privileges & 3 == 0).then_some("1207")])
            }
            Op::GetMessageAuthor | Op::GetMessageAuthor2 if received || sent => first(&[&view]),
            // Another box's message, or one on the wrong side: 1211.
            _ => "1211",
        }
    }
}

// ---------------------------------------------------------------------------
// Looking at answers

/// The decoded `dmSignature` (the .zfo: CMS with the signed XML inside).
fn signature(body: &Element) -> Result<Option<Vec<u8>>, String> {
    let Some(sig) = body.elements().find(|e| e.name == "dmSignature") else {
        return Ok(None);
    };
    if sig.is_nil() {
        return Ok(None);
    }
    let clean: String = sig.text().chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map(Some)
        .map_err(|e| format!("dmSignature is no base64: {e}"))
}

fn contains(hay: &[u8], needle: &str) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Everything an answer tells: its raw text and any signed artefact.
struct Answer {
    code: String,
    body: Element,
    haystacks: Vec<Vec<u8>>,
}

fn answer(resp: &SoapResponse) -> Result<Answer, String> {
    if resp.status != 200 {
        return Err(format!("HTTP {}:\n{}", resp.status, resp.text));
    }
    let root = xml::parse(resp.text.as_bytes(), &ParseLimits::default())
        .map_err(|e| format!("answer is no XML ({e}):\n{}", resp.text))?;
    let body = root
        .elements()
        .find(|e| e.name == "Body")
        .and_then(|b| b.first_element())
        .cloned()
        .ok_or_else(|| format!("no body element:\n{}", resp.text))?;
    let code = texts(&body, "dmStatusCode")
        .into_iter()
        .next()
        .ok_or_else(|| format!("no dmStatusCode:\n{}", resp.text))?;
    let mut haystacks = vec![resp.text.clone().into_bytes()];
    if let Some(zfo) = signature(&body)? {
        haystacks.push(zfo);
    }
    Ok(Answer {
        code,
        body,
        haystacks,
    })
}

impl Answer {
    fn mentions(&self, marker: &str) -> bool {
        self.haystacks.iter().any(|h| contains(h, marker))
    }

    /// No marker of a message `user`'s box is not party to.
    fn leaks_nothing_foreign(&self, user: &User, known: &[Known]) -> Result<(), String> {
        for m in known.iter().filter(|m| !m.party(user.b)) {
            for marker in m.markers() {
                if self.mentions(marker) {
                    return Err(format!(
                        "LEAK: {} (box {}) obtained {marker:?} of message {} ({} -> {})",
                        user.login(),
                        box_id(user.b),
                        m.id,
                        box_id(m.from),
                        box_id(m.to)
                    ));
                }
            }
        }
        Ok(())
    }

    /// A refusal carries its status and nothing else.
    fn is_bare(&self) -> Result<(), String> {
        for c in self.body.elements().filter(|c| c.name != "dmStatus") {
            if c.elements().next().is_some() || !c.text().trim().is_empty() {
                return Err(format!("a refusal ({}) carries <{}>", self.code, c.name));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Requests

fn id_request(op: Op, id: &str) -> String {
    format!(
        r#"<{name} xmlns="{ISDS_NS}"><dmID>{id}</dmID></{name}>"#,
        name = op.name()
    )
}

fn list_request(sent: bool) -> String {
    let (name, unit) = if sent {
        ("GetListOfSentMessages", "dmSenderOrgUnitNum")
    } else {
        ("GetListOfReceivedMessages", "dmRecipientOrgUnitNum")
    };
    format!(
        r#"<{name} xmlns="{ISDS_NS}" xmlns:xsi="{XSI}"><dmFromTime xsi:nil="true"/><dmToTime xsi:nil="true"/><{unit} xsi:nil="true"/><dmStatusFilter>-1</dmStatusFilter><dmOffset xsi:nil="true"/><dmLimit xsi:nil="true"/></{name}>"#
    )
}

fn create_request(recipient: &str, annotation: &str, document: &[u8]) -> String {
    format!(
        r#"<CreateMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>{recipient}</dbIDRecipient><dmAnnotation>{annotation}</dmAnnotation></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="letter.pdf"><dmEncodedContent>{}</dmEncodedContent></dmFile></dmFiles></CreateMessage>"#,
        b64(document)
    )
}

// ---------------------------------------------------------------------------
// One world

/// (operation, status) pairs already validated against the schemas.
type Validated = Arc<Mutex<HashSet<(String, String)>>>;

/// What the users' concurrent checks of one world share.
#[derive(Clone)]
struct Run {
    t: Arc<TestGateway>,
    validated: Validated,
    calls: Arc<AtomicUsize>,
}

impl Run {
    async fn call(&self, user: &User, path: &str, body: &str) -> SoapResponse {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let login = user.login();
        self.t.soap_as((&login, PASSWORD), path, body).await
    }

    /// Validates a sample: the first answer of each operation and status.
    fn sample(&self, op: &str, a: &Answer, resp: &SoapResponse) {
        let first = self
            .validated
            .lock()
            .map(|mut v| v.insert((op.to_owned(), a.code.clone())))
            .unwrap_or(true);
        if first {
            assert_valid(&resp.body_xml(), Xsd::Dm);
        }
    }

    async fn single(
        &self,
        user: &User,
        op: Op,
        id: &str,
        target: Option<&Known>,
        known: &[Known],
    ) -> Result<(), String> {
        let resp = self.call(user, op.path(), &id_request(op, id)).await;
        let context = || {
            format!(
                "{} as {} (box {}, privileges {}) on message {id}",
                op.name(),
                user.login(),
                box_id(user.b),
                user.privileges
            )
        };
        let a = answer(&resp).map_err(|e| format!("{}: {e}", context()))?;
        self.sample(&op.name(), &a, &resp);
        let expected = op.expected(user, target);
        if a.code != expected {
            return Err(format!(
                "{}: status {} where the rules give {expected}\n{}",
                context(),
                a.code,
                resp.text
            ));
        }
        a.leaks_nothing_foreign(user, known)
            .map_err(|e| format!("{}: {e}", context()))?;
        if a.code != "0000" {
            return a
                .is_bare()
                .map_err(|e| format!("{}: {e}\n{}", context(), resp.text));
        }
        let Some(m) = target else {
            return Err(format!("{}: success for an unknown ID", context()));
        };
        // About the requested message only.
        for other in known.iter().filter(|o| o.id != m.id) {
            for marker in other.markers() {
                if a.mentions(marker) {
                    return Err(format!(
                        "{}: the answer carries {marker:?} of message {}",
                        context(),
                        other.id
                    ));
                }
            }
        }
        let ids = texts(&a.body, "dmID");
        if ids.iter().any(|i| i != &m.id) {
            return Err(format!("{}: answer names dmIDs {ids:?}", context()));
        }
        if op.carries_envelope() && !a.mentions(&m.annotation) {
            return Err(format!("{}: the envelope is missing", context()));
        }
        for doc in &m.documents {
            let present = a.mentions(doc);
            if op.carries_documents() && !present {
                return Err(format!("{}: a document is missing", context()));
            }
            if !op.carries_documents() && present {
                return Err(format!("{}: documents without a download", context()));
            }
        }
        if op.signed() && a.haystacks.len() < 2 {
            return Err(format!("{}: success without dmSignature", context()));
        }
        Ok(())
    }

    async fn lists(&self, user: &User, known: &[Known]) -> Result<(), String> {
        for sent in [false, true] {
            let name = if sent {
                "GetListOfSentMessages"
            } else {
                "GetListOfReceivedMessages"
            };
            let context = || {
                format!(
                    "{name} as {} (box {}, privileges {})",
                    user.login(),
                    box_id(user.b),
                    user.privileges
                )
            };
            let resp = self.call(user, DX, &list_request(sent)).await;
            let a = answer(&resp).map_err(|e| format!("{}: {e}", context()))?;
            self.sample(name, &a, &resp);
            a.leaks_nothing_foreign(user, known)
                .map_err(|e| format!("{}: {e}", context()))?;
            if !user.has(8) {
                if a.code != "1209" {
                    return Err(format!("{}: status {}, not 1209", context(), a.code));
                }
                a.is_bare().map_err(|e| format!("{}: {e}", context()))?;
                continue;
            }
            if a.code != "0000" {
                return Err(format!("{}: status {}\n{}", context(), a.code, resp.text));
            }
            let expected: BTreeSet<&str> = known
                .iter()
                .filter(|m| {
                    if sent {
                        m.from == user.b
                    } else {
                        m.to == user.b && m.listed_as_received()
                    }
                })
                .map(|m| m.id.as_str())
                .collect();
            let mut records = Vec::new();
            descendants(&a.body, "dmRecord", &mut records);
            let mut got = BTreeSet::new();
            for r in records {
                let id = texts(r, "dmID").into_iter().next().unwrap_or_default();
                let ann = texts(r, "dmAnnotation").into_iter().next();
                let Some(m) = known.iter().find(|m| m.id == id) else {
                    return Err(format!("{}: unknown dmID {id:?} listed", context()));
                };
                if ann.as_deref() != Some(m.annotation.as_str()) {
                    return Err(format!("{}: {id} listed with {ann:?}", context()));
                }
                got.insert(m.id.as_str());
            }
            if got != expected {
                return Err(format!(
                    "{}: listed {got:?}, the box's are {expected:?}",
                    context()
                ));
            }
        }
        self.state_changes(user, known).await
    }

    /// GetMessageStateChanges: right 8; only the box's sent messages.
    async fn state_changes(&self, user: &User, known: &[Known]) -> Result<(), String> {
        let context = || {
            format!(
                "GetMessageStateChanges as {} (box {}, privileges {})",
                user.login(),
                box_id(user.b),
                user.privileges
            )
        };
        let body = format!(
            r#"<GetMessageStateChanges xmlns="{ISDS_NS}" xmlns:xsi="{XSI}"><dmFromTime xsi:nil="true"/><dmToTime xsi:nil="true"/></GetMessageStateChanges>"#
        );
        let resp = self.call(user, DX, &body).await;
        let a = answer(&resp).map_err(|e| format!("{}: {e}", context()))?;
        self.sample("GetMessageStateChanges", &a, &resp);
        a.leaks_nothing_foreign(user, known)
            .map_err(|e| format!("{}: {e}", context()))?;
        if !user.has(8) {
            if a.code != "1209" {
                return Err(format!("{}: status {}, not 1209", context(), a.code));
            }
            return a.is_bare().map_err(|e| format!("{}: {e}", context()));
        }
        if a.code != "0000" {
            return Err(format!("{}: status {}\n{}", context(), a.code, resp.text));
        }
        for id in texts(&a.body, "dmID") {
            if !known.iter().any(|m| m.id == id && m.from == user.b) {
                return Err(format!(
                    "{}: names {id}, no message the box sent",
                    context()
                ));
            }
        }
        Ok(())
    }

    /// CreateMessage from the user's box to the next box: refused with 1206
    /// without right 4; with it, an OVM party makes it an ordinary
    /// (non-commercial) message that must go through. Returns the message
    /// sent, if any.
    async fn send(
        &self,
        user: &User,
        world: &World,
        known: &[Known],
    ) -> Result<Option<Known>, String> {
        let to = (user.b + 1) % world.boxes.len();
        let annotation = format!("iso-sent-{}-{}-end", user.b, user.u);
        let document = format!("%PDF-1.4\n% sent by {}\n%%EOF\n", user.login());
        let resp = self
            .call(
                user,
                DZ,
                &create_request(&box_id(to), &annotation, document.as_bytes()),
            )
            .await;
        let context = || {
            format!(
                "CreateMessage as {} (box {}, privileges {}) to {}",
                user.login(),
                box_id(user.b),
                user.privileges,
                box_id(to)
            )
        };
        let a = answer(&resp).map_err(|e| format!("{}: {e}", context()))?;
        self.sample("CreateMessage", &a, &resp);
        a.leaks_nothing_foreign(user, known)
            .map_err(|e| format!("{}: {e}", context()))?;
        if !user.has(4) {
            if a.code != "1206" {
                return Err(format!("{}: status {}, not 1206", context(), a.code));
            }
            return Ok(None);
        }
        let ordinary = world.boxes[user.b].kind == Kind::Ovm || world.boxes[to].kind == Kind::Ovm;
        if ordinary && a.code != "0000" {
            return Err(format!("{}: status {}\n{}", context(), a.code, resp.text));
        }
        if a.code != "0000" {
            return Ok(None);
        }
        let id = texts(&a.body, "dmID")
            .into_iter()
            .next()
            .ok_or_else(|| format!("{}: no dmID", context()))?;
        Ok(Some(Known {
            id,
            from: user.b,
            to,
            personal: false,
            state: 4,
            annotation,
            documents: vec![b64(document.as_bytes())],
        }))
    }
}

async fn check_world(world: &World, validated: &Validated) -> Result<usize, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let fixture = dir.path().join("world.toml");
    std::fs::write(&fixture, world.fixture()).map_err(|e| e.to_string())?;
    let t = TestGateway::start_in(dir, |cfg| {
        cfg.no_demo = true;
        cfg.fixtures = vec![fixture];
    })
    .await;

    // Fixture messages take the store's first IDs, in fixture order.
    let mut known: Vec<Known> = world
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| Known {
            id: (MessageId::BASE + 1 + i as u64).to_string(),
            from: m.from,
            to: m.to,
            personal: m.personal,
            state: match m.state {
                "delivered" => 4,
                "accepted_by_fiction" => 5,
                "accepted_by_login" | "read" => 6,
                "undeliverable" => 8,
                _ => 9,
            },
            annotation: annotation(i),
            documents: (0..m.documents)
                .map(|d| b64(document(i, d).as_bytes()))
                .collect(),
        })
        .collect();
    let unknown = (MessageId::BASE + 1000).to_string();
    let users: Vec<User> = world
        .boxes
        .iter()
        .enumerate()
        .flat_map(|(b, bx)| {
            bx.users
                .iter()
                .enumerate()
                .map(move |(u, &privileges)| User { b, u, privileges })
        })
        .collect();

    let run = Run {
        t: Arc::new(t),
        validated: validated.clone(),
        calls: Arc::new(AtomicUsize::new(0)),
    };
    let outcome = async {
        // Every user's reads, the users concurrently.
        let probes: Vec<(String, Option<Known>)> = known
            .iter()
            .map(|m| (m.id.clone(), Some(m.clone())))
            .chain([(unknown, None)])
            .collect();
        for_each_user(&run, &users, &mut known, &probes).await?;
        // Every user tries to send.
        let before = known.len();
        for user in &users {
            if let Some(sent) = run.send(user, world, &known).await? {
                known.push(sent);
            }
        }
        // The sent messages join the world: every list again, and the new
        // messages' isolation.
        let fresh: Vec<(String, Option<Known>)> = known[before..]
            .iter()
            .map(|m| (m.id.clone(), Some(m.clone())))
            .collect();
        for_each_user(&run, &users, &mut known, &fresh).await
    }
    .await;
    let calls = run.calls.load(Ordering::Relaxed);
    let Run { t, .. } = run;
    match Arc::try_unwrap(t) {
        Ok(t) => t.stop().await,
        Err(_) => return Err("the gateway is still in use".into()),
    }
    outcome.map(|()| calls)
}

/// Runs, for every user concurrently, every operation on every probe ID;
/// then, once all are done, both lists for every user concurrently (the
/// received list delivers, so no probe runs beside one); the first failure
/// in user order. Afterwards the model delivers what the listings did: a
/// waiting message becomes 6 when a user of its recipient box who may list
/// (8) and read it listed.
async fn for_each_user(
    run: &Run,
    users: &[User],
    known: &mut [Known],
    probes: &[(String, Option<Known>)],
) -> Result<(), String> {
    let shared = Arc::new(known.to_vec());
    let probes = Arc::new(probes.to_vec());
    let tasks: Vec<_> = users
        .iter()
        .map(|&user| {
            let (run, known, probes) = (run.clone(), shared.clone(), probes.clone());
            tokio::spawn(async move {
                for (id, target) in probes.iter() {
                    for &op in OPS {
                        run.single(&user, op, id, target.as_ref(), &known).await?;
                    }
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    join_first(tasks).await?;
    let tasks: Vec<_> = users
        .iter()
        .map(|&user| {
            let (run, known) = (run.clone(), shared.clone());
            tokio::spawn(async move { run.lists(&user, &known).await })
        })
        .collect();
    join_first(tasks).await?;
    for m in known.iter_mut().filter(|m| m.waiting()) {
        let delivered = users
            .iter()
            .any(|u| u.b == m.to && u.has(8) && u.may_read_received(m));
        if delivered {
            m.state = 6;
        }
    }
    Ok(())
}

/// Waits for every task; the first failure in task order.
async fn join_first(tasks: Vec<tokio::task::JoinHandle<Result<(), String>>>) -> Result<(), String> {
    let mut first = Ok(());
    for task in tasks {
        let outcome = task.await.map_err(|e| format!("a check panicked: {e}"))?;
        if first.is_ok() {
            first = outcome;
        }
    }
    first
}

fn seed() -> u64 {
    match std::env::var("ISOLATION_SEED") {
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("ISOLATION_SEED {s:?} is no number"))
        }
        Err(_) => DEFAULT_SEED,
    }
}

#[test]
fn no_user_obtains_anything_of_another_boxs_message() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let seed = seed();
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&seed.to_le_bytes());
    }
    let config = Config {
        cases: std::env::var("ISOLATION_CASES")
            .ok()
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(CASES),
        max_shrink_iters: 32,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let validated: Validated = Arc::default();
    let calls = std::cell::Cell::new(0usize);
    let worlds = std::cell::Cell::new(0usize);
    let result = runner.run(&world(), |w| {
        let outcome = rt.block_on(check_world(&w, &validated));
        match outcome {
            Ok(n) => {
                calls.set(calls.get() + n);
                worlds.set(worlds.get() + 1);
                Ok(())
            }
            Err(e) => Err(TestCaseError::fail(format!(
                "{e}\n--- world fixture ---\n{}",
                w.fixture()
            ))),
        }
    });
    match result {
        Ok(()) => eprintln!(
            "isolation: {} worlds, {} calls, {} (operation, status) pairs validated, seed {seed:#x}",
            worlds.get(),
            calls.get(),
            validated.lock().map(|v| v.len()).unwrap_or(0)
        ),
        Err(TestError::Fail(reason, w)) => panic!(
            "isolation broken (seed {seed:#x}; minimal world below):\n{reason}\n--- minimal world fixture ---\n{}",
            w.fixture()
        ),
        Err(TestError::Abort(reason)) => panic!("isolation run aborted: {reason}"),
    }
}
