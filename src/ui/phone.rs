//! The simulated Mobile Key phone: the login requests waiting for an
//! answer, with buttons to confirm or reject them, and every key with the
//! accounts linked to it (user ID, user type, box name, box type, box ID),
//! as the Mobile Key app lists them (MobilniKlic_autentizace 2.1).
//!
//! Answers go through `Authenticator::mep_answer`, the code behind
//! `POST /admin/mep`; the keys are read by the domain functions behind
//! `GET /admin/mep/keys`.

use maud::{PreEscaped, html};

use super::{Cockpit, Page, Request, UiError, ok, show_unix};
use crate::domain::boxes::mobile_key::{self, Answer};

/// The most keys listed (a register with more shows the first ones).
const KEYS_SHOWN: usize = 200;

pub fn phone(c: &Cockpit, req: &Request) -> Result<Page, UiError> {
    let pending = c
        .auth
        .as_ref()
        .map(|auth| auth.mep_pending())
        .unwrap_or_default();
    let store = c.store.as_ref();
    let all_keys = mobile_key::all_keys(store)?;
    let mut keys = Vec::new();
    for key in all_keys.iter().take(KEYS_SHOWN) {
        keys.push((key, mobile_key::accounts_of_key(store, &key.id)?));
    }
    let answered = req.query("answered");
    let how = req.query("answer");
    ok(
        "Mobile Key",
        html! {
            h1 { "Mobile Key phone" }
            p { "The simulated phone of every Mobile Key: the login requests it was sent and the accounts linked to it. Also at " code { "/admin/mep" } " and " code { "isds-gateway mep" } "." }
            @if let (Some(id), Some(how)) = (answered, how) {
                p role="status" id="answered" { "Request " (id) " " (how) "." }
            }
            h2 { "Requests waiting for the phone" }
            label for="live" { "Live (reload every 3 s)" }
            input id="live" type="checkbox";
            @if pending.is_empty() { p id="no-requests" { "No login request is waiting." } }
            @else {
                table id="pending" {
                    caption { "Login requests waiting for an answer, oldest first" }
                    thead {
                        tr {
                            th scope="col" { "Request" }
                            th scope="col" { "Notification" }
                            th scope="col" { "User ID" }
                            th scope="col" { "User type" }
                            th scope="col" { "Box name" }
                            th scope="col" { "Box type" }
                            th scope="col" { "Box ID" }
                            th scope="col" { "State" }
                            th scope="col" { "Expires" }
                            th scope="col" { "Answer" }
                        }
                    }
                    tbody {
                        @for r in &pending {
                            tr data-request=(r.id) {
                                td { (r.id) }
                                td { (r.notification) }
                                td { (r.account.user_id) }
                                td { (r.account.user_type) }
                                td { (r.account.box_name) }
                                td { (r.account.box_type) }
                                td { a href={"/ui/box/" (r.account.box_id)} { (r.account.box_id) } }
                                td { (r.status) ": " (r.description) }
                                td { (show_unix(r.expires_at)) }
                                td {
                                    form.inline method="post" action="/ui/mobile-key" {
                                        input type="hidden" name="request" value=(r.id);
                                        button type="submit" name="answer" value="confirm" aria-label={"Confirm request " (r.id)} { "Confirm" }
                                        button type="submit" name="answer" value="reject" aria-label={"Reject request " (r.id)} { "Reject" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Keys and their accounts" }
            @if keys.is_empty() { p { "No Mobile Key is registered (world fixtures link accounts with " code { "mobile_key = { … }" } ")." } }
            @if all_keys.len() > KEYS_SHOWN { p { "The first " (KEYS_SHOWN) " of " (all_keys.len()) " keys." } }
            @for (key, accounts) in &keys {
                section.key data-key=(key.id) {
                    h3 { "Key " (key.id) @if !key.holder.is_empty() { " (" (key.holder) ")" } }
                    @if accounts.is_empty() { p { "No account is linked." } }
                    @else {
                        table {
                            caption { "Accounts linked to key " (key.id) }
                            thead {
                                tr {
                                    th scope="col" { "User ID" }
                                    th scope="col" { "Login" }
                                    th scope="col" { "User type" }
                                    th scope="col" { "Box name" }
                                    th scope="col" { "Box type" }
                                    th scope="col" { "Box ID" }
                                    th scope="col" { "Communication code" }
                                }
                            }
                            tbody {
                                @for a in accounts {
                                    tr {
                                        td { (a.user_id) }
                                        td { (a.login) }
                                        td { (a.user_type) }
                                        td { (a.box_name) }
                                        td { (a.box_type) }
                                        td { a href={"/ui/box/" (a.box_id)} { (a.box_id) } }
                                        td { (super::boxes::masked_code(a.has_code)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            script { (PreEscaped(super::ops::LIVE_SCRIPT)) }
        },
    )
}

/// Confirms or rejects a request on the phone, as `POST /admin/mep` does.
pub fn answer(c: &Cockpit, req: &Request) -> Result<Page, UiError> {
    let auth = c
        .auth
        .as_ref()
        .ok_or_else(|| UiError::NotFound("no Mobile Key requests here".into()))?;
    let id = req
        .form("request")
        .ok_or_else(|| UiError::BadInput("which request?".into()))?;
    let (answer, done) = match req.form("answer") {
        Some("confirm") => (Answer::Confirm, "confirmed"),
        Some("reject") => (Answer::Reject, "rejected"),
        _ => return Err(UiError::BadInput("answer confirm or reject".into())),
    };
    if !auth.mep_answer(id, answer) {
        return Err(UiError::NotFound(format!(
            "no undecided request {id:?} (answered, expired or never made)"
        )));
    }
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("answered", id)
        .append_pair("answer", done)
        .finish();
    Ok(Page::Redirect(format!("/ui/mobile-key?{query}")))
}
