//! Box pages: search the register (ID, name, IČ, type, state) and one
//! box with its owner, state history, users and their rights, their
//! communication codes (masked), certificates and credit.

use maud::html;

use super::{Cockpit, Page, Request, UiError, ok, show_unix};
use crate::domain::boxes::certificates::{self, Holder};
use crate::domain::boxes::databox::{BoxId, BoxState, BoxType, DataBox};
use crate::domain::boxes::user::Privileges;
use crate::domain::search;
use crate::domain::search::{Scope, Searcher, TextQuery, TextTarget};
use crate::domain::{boxes::activity, boxes::credit, boxes::mobile_key, boxes::otp, boxes::repo};

/// Boxes shown per page.
const PAGE: usize = 50;

/// The eight rights (`userPrivils` bits) in words.
pub const RIGHTS: [(u32, &str); 8] = [
    (
        Privileges::READ_NON_PERSONAL,
        "read received messages not for personal delivery",
    ),
    (Privileges::READ_ALL, "read all received messages"),
    (Privileges::CREATE_DM, "send messages and read sent ones"),
    (
        Privileges::VIEW_INFO,
        "see message lists and delivery information",
    ),
    (Privileges::SEARCH_DB, "search for boxes"),
    (Privileges::OWNER_ADM, "administer the box's users"),
    (Privileges::READ_VAULT, "read messages in the vault"),
    (Privileges::ERASE_VAULT, "erase messages in the vault"),
];

pub fn state_text(s: BoxState) -> &'static str {
    match s {
        BoxState::Accessible => "accessible",
        BoxState::TemporarilyInaccessible => "temporarily inaccessible",
        BoxState::NotYetActive => "not yet accessible",
        BoxState::PermanentlyInaccessible => "permanently inaccessible",
        BoxState::Removed => "removed",
        BoxState::InaccessibleByLaw => "inaccessible by law",
    }
}

const STATES: [BoxState; 6] = [
    BoxState::Accessible,
    BoxState::TemporarilyInaccessible,
    BoxState::NotYetActive,
    BoxState::PermanentlyInaccessible,
    BoxState::Removed,
    BoxState::InaccessibleByLaw,
];

/// The search form and the boxes found (or a page of the register).
pub fn list(c: &Cockpit, req: &Request) -> Result<Page, UiError> {
    let q = req.query("q").unwrap_or("");
    let want_type = req.query("type").and_then(BoxType::from_name);
    let want_state = req
        .query("state")
        .and_then(|s| s.parse::<u8>().ok())
        .and_then(|n| BoxState::try_from(n).ok());
    let after = req.query("after");
    let keep = |b: &DataBox| {
        want_type.is_none_or(|t| b.box_type == t) && want_state.is_none_or(|s| b.state == s)
    };
    let found: Vec<DataBox> = if q.is_empty() {
        repo::boxes_page(c.store.as_ref(), after, PAGE, keep)?
    } else {
        let all = Searcher { ovm: true };
        let hits = if BoxId::parse(q).is_ok() {
            search::by_id(c.store.as_ref(), q)?
        } else if q.len() == 8 && q.bytes().all(|b| b.is_ascii_digit()) {
            search::by_ic(c.store.as_ref(), q, all, false)?
        } else {
            let query = TextQuery {
                words: TextQuery::words_of(q),
                target: TextTarget::General,
                scope: Scope::All,
            };
            search::full_text_first(c.store.as_ref(), &query, all, PAGE * 4)?
        };
        let mut boxes = Vec::new();
        for hit in hits.hits.iter().take(PAGE * 4) {
            if let Ok(id) = BoxId::parse(&hit.id)
                && let Some(b) = repo::get_box(c.store.as_ref(), &id)?
                && keep(&b)
            {
                boxes.push(b);
            }
            if boxes.len() >= PAGE {
                break;
            }
        }
        boxes
    };
    let next = (q.is_empty() && found.len() == PAGE)
        .then(|| found.last().map(|b| b.id.as_str().to_owned()))
        .flatten();
    ok(
        "Boxes",
        html! {
            h1 { "Boxes" }
            form method="get" action="/ui/boxes" role="search" {
                label for="q" { "ID, name or IČ" }
                input id="q" name="q" type="search" value=(q);
                label for="type" { "Type" }
                select id="type" name="type" {
                    option value="" { "any" }
                    @for t in BoxType::ALL {
                        option value=(t.name()) selected[want_type == Some(*t)] { (t.name()) }
                    }
                }
                label for="state" { "State" }
                select id="state" name="state" {
                    option value="" { "any" }
                    @for s in STATES {
                        option value=(u8::from(s)) selected[want_state == Some(s)] { (state_text(s)) }
                    }
                }
                button type="submit" { "Search" }
            }
            p { (found.len()) " boxes shown." }
            table {
                caption { "Boxes found" }
                thead { tr { th scope="col" { "ID" } th scope="col" { "Name" } th scope="col" { "IČ" } th scope="col" { "Type" } th scope="col" { "State" } } }
                tbody {
                    @for b in &found {
                        tr {
                            td { a href={"/ui/box/" (b.id.as_str())} { (b.id.as_str()) } }
                            td { (b.display_name()) }
                            td { (b.owner.ic) }
                            td { (b.box_type.name()) }
                            td { (state_text(b.state)) }
                        }
                    }
                }
            }
            @if let Some(after) = next {
                p { a href={"/ui/boxes?after=" (after) "&type=" (req.query("type").unwrap_or("")) "&state=" (req.query("state").unwrap_or(""))} { "Next page" } }
            }
        },
    )
}

/// What a masked secret shows: never a character of it.
pub const MASK: &str = "********";

/// A Mobile Key communication code as the inspector shows it. Only the
/// code's Argon2 hash is kept (it is shown once, when generated), so not
/// even its last characters can be shown.
pub fn masked_code(set: bool) -> String {
    if set {
        format!("{MASK} (set; only its hash is kept)")
    } else {
        "not generated yet".to_owned()
    }
}

/// The communication codes of one user, masked: the Mobile Key code and
/// the OTP secret.
fn codes_of(
    store: &dyn crate::store::Store,
    user: &crate::domain::UserId,
) -> Result<Vec<String>, UiError> {
    let mut codes = Vec::new();
    if let Some(link) = mobile_key::linked_account(store, user)? {
        codes.push(format!(
            "Mobile Key (key {}): {}",
            link.key,
            masked_code(link.code.is_some())
        ));
    }
    if let Some(secret) = otp::get_secret(store, user)? {
        codes.push(format!(
            "{} secret: {MASK} ({} bits)",
            secret.kind.name().to_uppercase(),
            secret.secret.len() * 8
        ));
    }
    Ok(codes)
}

/// One box.
pub fn detail(c: &Cockpit, id: &str) -> Result<Page, UiError> {
    let id = BoxId::parse(id).map_err(|_| UiError::NotFound(format!("box {id:?}")))?;
    let store = c.store.as_ref();
    let b = repo::get_box(store, &id)?.ok_or_else(|| UiError::NotFound(format!("box {id}")))?;
    let users = repo::users_of_box(store, &id)?;
    let mut codes = Vec::with_capacity(users.len());
    for u in &users {
        codes.push(codes_of(store, &u.id)?);
    }
    let history = activity::history(store, &id)?;
    let balance = credit::balance(store, &id)?;
    let certs: Vec<_> = certificates::list(store)?
        .into_iter()
        .filter(|r| match &r.holder {
            Holder::Box { box_id } => *box_id == id,
            Holder::User { user } => users.iter().any(|u| u.id == *user),
            Holder::Provider { .. } => false,
        })
        .collect();
    let o = &b.owner;
    ok(
        &format!("Box {id}"),
        html! {
            h1 { "Box " (id.as_str()) ": " (b.display_name()) }
            p {
                a href={"/ui/box/" (id.as_str()) "/messages?dir=received"} { "Received messages" }
                " · "
                a href={"/ui/box/" (id.as_str()) "/messages?dir=sent"} { "Sent messages" }
            }
            h2 { "Owner" }
            table {
                tbody {
                    tr { th scope="row" { "Type" } td { (b.box_type.name()) } }
                    tr { th scope="row" { "State" } td { (state_text(b.state)) } }
                    @if !o.firm_name.is_empty() { tr { th scope="row" { "Firm" } td { (o.firm_name) } } }
                    @if !o.ic.is_empty() { tr { th scope="row" { "IČ" } td { (o.ic) } } }
                    @if !o.last_name.is_empty() { tr { th scope="row" { "Person" } td { (o.first_name) " " (o.last_name) } } }
                    @if !o.birth_date.is_empty() { tr { th scope="row" { "Born" } td { (o.birth_date) " " (o.birth_city) } } }
                    tr { th scope="row" { "Address" } td { (o.address.one_line()) } }
                    tr { th scope="row" { "OVM mode" } td { (if b.effective_ovm { "yes" } else { "no" }) } }
                    tr { th scope="row" { "Accepts commercial messages" } td { (if b.open_addressing { "yes" } else { "no" }) } }
                    tr { th scope="row" { "Credit" } td { (balance / 100) "." (format!("{:02}", balance.rem_euclid(100))) " CZK" } }
                }
            }
            h2 { "State history" }
            ul {
                @for (at, s) in &history { li { (show_unix(*at)) ": " (state_text(*s)) } }
            }
            h2 { "Users" }
            table {
                thead { tr { th scope="col" { "Login" } th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "Rights" } th scope="col" { "Communication codes" } } }
                tbody {
                    @for (u, codes) in users.iter().zip(&codes) {
                        tr data-user=(u.id.as_str()) {
                            td { (u.login) }
                            td { (u.name.full()) }
                            td { (u.user_type.name()) }
                            td {
                                ul {
                                    @for (bit, words) in RIGHTS {
                                        @if u.privileges.has(bit) { li { (words) " (" (bit) ")" } }
                                    }
                                }
                            }
                            td.codes {
                                @if codes.is_empty() { "none" }
                                @else { ul { @for code in codes { li { (code) } } } }
                            }
                        }
                    }
                }
            }
            h2 { "Certificates" }
            @if certs.is_empty() { p { "None registered." } }
            ul {
                @for r in &certs {
                    li { (r.holder.to_string()) ": " (r.subject) " (issued by " (r.issuer) ", valid " (show_unix(r.not_before)) " to " (show_unix(r.not_after)) ")" }
                }
            }
        },
    )
}
