//! Mobile Key (Mobilní klíč): the keys people hold, the accounts (users of
//! boxes) each key is linked to with its own communication code, how the
//! simulated phone answers a login request, and the states a request goes
//! through.
//!
//! A key belongs to a person; a person may hold several accounts (users of
//! different boxes). Each linked account has its own communication code
//! (MobilniKlic_autentizace 2.1.1: generated per account on request and
//! shown once); only its Argon2 hash is stored.
//!
//! Store layout (tree: key → value):
//! - `mobile_keys`: key ID → [`MobileKey`] (JSON)
//! - `mobile_key_accounts`: user ID → [`LinkedAccount`] (JSON)

use serde::{Deserialize, Serialize};

use crate::domain::boxes::credentials::{HashError, PasswordHash, random_below};
use crate::domain::boxes::databox::DataBox;
use crate::domain::boxes::repo::{self, RepoError};
use crate::domain::boxes::user::{User, UserId, UserType};
use crate::store::{Batch, KeyRange, Order, Store};

const MOBILE_KEYS: &str = "mobile_keys";
const MOBILE_KEY_ACCOUNTS: &str = "mobile_key_accounts";

/// How long a login request waits for the phone. The Mobile Key manual is
/// silent on the figure; ISDS lets a request wait 240 seconds, after which
/// it answers 3 (expired), and clients size their waiting to that.
pub const REQUEST_LIFETIME_SECONDS: i64 = 240;

/// Length of a generated communication code.
const CODE_LENGTH: usize = 20;
/// Characters of generated codes: no look-alikes (0/O, 1/l/I).
const CODE_ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A Mobile Key: the app on one person's phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileKey {
    /// The key's ID (the person's ID in a world fixture).
    pub id: String,
    /// The person holding it, as the app shows them.
    pub holder: String,
}

/// An account (a user of a box) linked to a Mobile Key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedAccount {
    /// The [`MobileKey::id`] it is linked to.
    pub key: String,
    /// Hash of the account's communication code; `None` until one is
    /// generated.
    pub code: Option<PasswordHash>,
    /// How the simulated phone answers this account's login requests.
    #[serde(default)]
    pub policy: PhonePolicy,
}

/// How the simulated phone answers a login request, counted from the
/// moment the request was made (on the gateway's clock).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PhonePolicy {
    /// Someone answers with `isds-gateway mep confirm|reject`.
    #[default]
    Manual,
    /// Confirmed this many seconds after the request.
    ConfirmAfter { seconds: i64 },
    /// Rejected this many seconds after the request.
    RejectAfter { seconds: i64 },
    /// Never answered: the request expires.
    Expire,
    /// The states in order, one every `step_seconds`; the last one stays.
    Script { states: Vec<i32>, step_seconds: i64 },
}

/// The state of a login request as `mepWsStateUpdate2` reports it. The
/// codes and their texts are ISDS's (Info pro vývojáře 12/2025, 3.2, and
/// MobilniKlic_autentizace 1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestState {
    /// -1: no such request.
    Unknown,
    /// 1: recorded, the push is about to be sent.
    Recorded,
    /// 11: the push was sent to the phone.
    PushSent,
    /// 12: the notification is shown (Android).
    NotificationShown,
    /// 13: the Mobile Key app was opened (iOS).
    AppLaunched,
    /// 19: the push could not be sent.
    PushFailed,
    /// 2: the user confirmed the login.
    Confirmed,
    /// 3: the user rejected the login, or it expired.
    Refused,
}

impl RequestState {
    /// Every state, for scripted policies and tests.
    pub const ALL: [RequestState; 8] = [
        RequestState::Unknown,
        RequestState::Recorded,
        RequestState::PushSent,
        RequestState::NotificationShown,
        RequestState::AppLaunched,
        RequestState::PushFailed,
        RequestState::Confirmed,
        RequestState::Refused,
    ];

    /// The number `mepWsStateUpdate2` answers.
    pub fn code(self) -> i32 {
        match self {
            RequestState::Unknown => -1,
            RequestState::Recorded => 1,
            RequestState::PushSent => 11,
            RequestState::NotificationShown => 12,
            RequestState::AppLaunched => 13,
            RequestState::PushFailed => 19,
            RequestState::Confirmed => 2,
            RequestState::Refused => 3,
        }
    }

    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The number the original `mepWsStateUpdate` answers: it knows only
    /// -1, 1, 2 and 3 (MobilniKlic_autentizace 2.1.4), so every state of a
    /// request still waiting is 1.
    pub fn basic_code(self) -> i32 {
        match self {
            RequestState::Recorded
            | RequestState::PushSent
            | RequestState::NotificationShown
            | RequestState::AppLaunched
            | RequestState::PushFailed => 1,
            other => other.code(),
        }
    }

    /// ISDS's description of the state (the `description` of
    /// `mepWsStateUpdate2`).
    pub fn description(self) -> &'static str {
        match self {
            RequestState::Unknown => "Zadané ID požadavku neexistuje",
            RequestState::Recorded => "Požadavek zaznamenán, čeká na odeslání push notifikace",
            RequestState::PushSent => "Push notifikace odeslána na mobilní zařízení",
            RequestState::NotificationShown => {
                "Upozornění v notifikačním centru zařízení (jen Android)"
            }
            RequestState::AppLaunched => "Spuštěn Mobilní klíč (jen iOS)",
            RequestState::PushFailed => "Nepodařilo se odeslat push notifikaci na mobilní zařízení",
            RequestState::Confirmed => "Přihlášení potvrzeno",
            RequestState::Refused => {
                "Uživatel zamítnul přihlášení, nebo vypršel čas pro potvrzení přihlášení"
            }
        }
    }

    /// Whether the request is decided (confirmed, refused or unknown).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RequestState::Unknown | RequestState::Confirmed | RequestState::Refused
        )
    }
}

/// An answer given on the phone (`isds-gateway mep confirm|reject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Confirm,
    Reject,
}

/// The state of a request made at `created` under `policy`, with the
/// phone's `answer` if someone gave one, at time `now`.
///
/// A request not confirmed within [`REQUEST_LIFETIME_SECONDS`] expires
/// (3); a confirmed one must be completed within the same time.
pub fn state_at(
    policy: &PhonePolicy,
    created: i64,
    answer: Option<Answer>,
    now: i64,
) -> RequestState {
    let age = now.saturating_sub(created).max(0);
    if age >= REQUEST_LIFETIME_SECONDS {
        return RequestState::Refused;
    }
    match answer {
        Some(Answer::Confirm) => return RequestState::Confirmed,
        Some(Answer::Reject) => return RequestState::Refused,
        None => {}
    }
    match policy {
        PhonePolicy::Manual | PhonePolicy::Expire => RequestState::PushSent,
        PhonePolicy::ConfirmAfter { seconds } if age >= *seconds => RequestState::Confirmed,
        PhonePolicy::RejectAfter { seconds } if age >= *seconds => RequestState::Refused,
        PhonePolicy::ConfirmAfter { .. } | PhonePolicy::RejectAfter { .. } => {
            RequestState::PushSent
        }
        PhonePolicy::Script {
            states,
            step_seconds,
        } => {
            let step = (*step_seconds).max(1);
            let index = usize::try_from(age / step).unwrap_or(usize::MAX);
            states
                .get(index)
                .or(states.last())
                .and_then(|&code| RequestState::from_code(code))
                .unwrap_or(RequestState::PushSent)
        }
    }
}

/// The words the Mobile Key app uses for a user type. The manual names
/// only the first three; the others follow ISDS's portal.
pub fn user_type_words(t: UserType) -> &'static str {
    match t {
        UserType::PrimaryUser => "Oprávněná osoba",
        UserType::EntrustedUser => "Pověřená osoba",
        UserType::Administrator => "Administrátor",
        UserType::Official => "Úřední osoba",
        UserType::OfficialCert => "Úřední osoba s certifikátem",
        UserType::Liquidator => "Likvidátor",
        UserType::Receiver => "Nucený správce",
        UserType::Guardian => "Opatrovník",
    }
}

/// A box's name as ISDS shows it: the firm's name, else the owner's.
pub fn box_name(b: &DataBox) -> String {
    let o = &b.owner;
    if !o.firm_name.is_empty() {
        o.firm_name.clone()
    } else {
        format!("{} {}", o.first_name, o.last_name)
            .trim()
            .to_owned()
    }
}

/// One account as the Mobile Key app lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountView {
    pub user_id: String,
    pub login: String,
    /// In words (Oprávněná osoba, Pověřená osoba, Administrátor, …).
    pub user_type: String,
    pub box_name: String,
    /// The box type as ISDS names it (OVM, PO, PFO_ADVOK, …).
    pub box_type: String,
    pub box_id: String,
    /// The user's name.
    pub user_name: String,
    /// Whether a communication code is set.
    pub has_code: bool,
}

impl AccountView {
    pub fn new(user: &User, databox: &DataBox, has_code: bool) -> Self {
        Self {
            user_id: user.id.to_string(),
            login: user.login.clone(),
            user_type: user_type_words(user.user_type).to_owned(),
            box_name: box_name(databox),
            box_type: databox.box_type.name().to_owned(),
            box_id: databox.id.to_string(),
            user_name: user.name.full(),
            has_code,
        }
    }
}

/// The text of the push notification: the application's name, and in the
/// detail the box's name and the user's name (MobilniKlic_autentizace
/// 2.1.4).
pub fn notification_text(application: &str, account: &AccountView) -> String {
    let application = if application.is_empty() {
        "Aplikace"
    } else {
        application
    };
    format!(
        "{application} žádá o přihlášení: schránka {} ({}), uživatel {}",
        account.box_name, account.box_id, account.user_name
    )
}

/// A fresh communication code from the operating system's random source.
pub fn generate_code() -> String {
    (0..CODE_LENGTH)
        .map(|_| char::from(CODE_ALPHABET[random_below(CODE_ALPHABET.len())]))
        .collect()
}

fn corrupt(what: String) -> impl FnOnce(serde_json::Error) -> RepoError {
    move |source| RepoError::Corrupt { what, source }
}

/// The Mobile Key link of a user, if the user has one.
pub fn linked_account(
    store: &dyn Store,
    user: &UserId,
) -> Result<Option<LinkedAccount>, RepoError> {
    match store
        .tree(MOBILE_KEY_ACCOUNTS)?
        .get(user.as_str().as_bytes())?
    {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(corrupt(format!("Mobile Key link of user {user}"))),
        None => Ok(None),
    }
}

/// Every key, in ID order.
pub fn all_keys(store: &dyn Store) -> Result<Vec<MobileKey>, RepoError> {
    let tree = store.tree(MOBILE_KEYS)?;
    let mut keys = Vec::new();
    for entry in tree.iter(KeyRange::all(), Order::Ascending) {
        let (k, v) = entry?;
        let key: MobileKey = serde_json::from_slice(&v).map_err(corrupt(format!(
            "Mobile Key {}",
            String::from_utf8_lossy(&k)
        )))?;
        keys.push(key);
    }
    Ok(keys)
}

/// The accounts linked to key `key`, with their users and boxes, in user
/// ID order.
pub fn accounts_of_key(store: &dyn Store, key: &str) -> Result<Vec<AccountView>, RepoError> {
    let tree = store.tree(MOBILE_KEY_ACCOUNTS)?;
    let mut out = Vec::new();
    for entry in tree.iter(KeyRange::all(), Order::Ascending) {
        let (k, v) = entry?;
        let id = String::from_utf8_lossy(&k).into_owned();
        let link: LinkedAccount =
            serde_json::from_slice(&v).map_err(corrupt(format!("Mobile Key link of user {id}")))?;
        if link.key != key {
            continue;
        }
        let Ok(user_id) = UserId::parse(&id) else {
            continue;
        };
        // A user deleted since keeps no account.
        let Some(user) = repo::get_user(store, &user_id)? else {
            continue;
        };
        let Some(databox) = repo::get_box(store, &user.box_id)? else {
            continue;
        };
        out.push(AccountView::new(&user, &databox, link.code.is_some()));
    }
    Ok(out)
}

/// Adds writing a key to `batch`.
pub fn put_key(batch: &mut Batch, key: &MobileKey) {
    batch.put(MOBILE_KEYS, key.id.as_str(), encode(key));
}

/// Adds writing a user's link to `batch`.
pub fn put_account(batch: &mut Batch, user: &UserId, account: &LinkedAccount) {
    batch.put(MOBILE_KEY_ACCOUNTS, user.as_str(), encode(account));
}

/// Why a communication code could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("no user {0}")]
    NoUser(String),
    #[error("user {0} has no Mobile Key linked")]
    NotLinked(String),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// Generates a new communication code for `user` (replacing the old one)
/// and returns it; only its hash is kept, so this is the one time it is
/// shown.
pub fn renew_code(store: &dyn Store, user: &UserId) -> Result<String, CodeError> {
    if repo::get_user(store, user)?.is_none() {
        return Err(CodeError::NoUser(user.to_string()));
    }
    let Some(link) = linked_account(store, user)? else {
        return Err(CodeError::NotLinked(user.to_string()));
    };
    let code = generate_code();
    let renewed = LinkedAccount {
        code: Some(PasswordHash::new(&code)?),
        ..link.clone()
    };
    let mut batch = Batch::new();
    batch.expect(MOBILE_KEY_ACCOUNTS, user.as_str(), Some(encode(&link)));
    put_account(&mut batch, user, &renewed);
    repo::commit(store, batch)?;
    Ok(code)
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain structs of strings and numbers always serialise.
    serde_json::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_expire_after_the_lifetime() {
        let p = PhonePolicy::Manual;
        assert_eq!(state_at(&p, 100, None, 100), RequestState::PushSent);
        assert_eq!(state_at(&p, 100, None, 339), RequestState::PushSent);
        assert_eq!(state_at(&p, 100, None, 340), RequestState::Refused);
        assert_eq!(
            state_at(&p, 100, Some(Answer::Confirm), 339),
            RequestState::Confirmed
        );
        assert_eq!(
            state_at(&p, 100, Some(Answer::Confirm), 340),
            RequestState::Refused
        );
        assert_eq!(
            state_at(&p, 100, Some(Answer::Reject), 101),
            RequestState::Refused
        );
    }

    #[test]
    fn policies_answer_by_themselves() {
        let confirm = PhonePolicy::ConfirmAfter { seconds: 2 };
        assert_eq!(state_at(&confirm, 0, None, 1), RequestState::PushSent);
        assert_eq!(state_at(&confirm, 0, None, 2), RequestState::Confirmed);
        let reject = PhonePolicy::RejectAfter { seconds: 0 };
        assert_eq!(state_at(&reject, 0, None, 0), RequestState::Refused);
        assert_eq!(
            state_at(&PhonePolicy::Expire, 0, None, 239),
            RequestState::PushSent
        );
        let script = PhonePolicy::Script {
            states: vec![11, 12, 13, 2],
            step_seconds: 5,
        };
        let seen: Vec<i32> = [0, 4, 5, 10, 15, 100]
            .into_iter()
            .map(|t| state_at(&script, 0, None, t).code())
            .collect();
        assert_eq!(seen, [11, 11, 12, 13, 2, 2]);
    }

    #[test]
    fn the_basic_poll_knows_four_values() {
        for s in RequestState::ALL {
            assert!([-1, 1, 2, 3].contains(&s.basic_code()), "{s:?}");
            assert_eq!(RequestState::from_code(s.code()), Some(s));
        }
        assert_eq!(RequestState::PushFailed.basic_code(), 1);
    }

    fn world(users: &str) -> Result<crate::domain::world::World, String> {
        let text = format!(
            "[[persons]]\nid = \"p\"\nname = \"Petr\"\n[[boxes]]\nid = \"mkbox01\"\ntype = \"PO\"\n{users}"
        );
        crate::domain::world::World::parse(&text, "test", 0).map_err(|e| e.to_string())
    }

    fn user(id: &str, extra: &str) -> String {
        format!(
            "[[boxes.users]]\nid = \"{id}\"\nlogin = \"{id}\"\npassword = \"Heslo-{id}-1\"\ntype = \"PRIMARY_USER\"\n{extra}\n"
        )
    }

    #[test]
    fn fixtures_link_accounts_to_their_persons_key() {
        let w = world(&format!(
            "{}{}{}",
            user("aaaaa1", "person = \"p\"\nmobile_key = { code = \"k1\" }"),
            user(
                "aaaaa2",
                "person = \"p\"\nmobile_key = { states = [11, 2], step = \"3s\" }"
            ),
            user("aaaaa3", "mobile_key = { expire = true }"),
        ))
        .unwrap();
        let keys: Vec<_> = w
            .mobile_keys
            .iter()
            .map(|k| (k.id.as_str(), k.holder.as_str()))
            .collect();
        assert_eq!(keys, [("p", "Petr"), ("aaaaa3", "")]);
        let links: Vec<_> = w
            .mobile_key_accounts
            .iter()
            .map(|(u, l)| {
                (
                    u.as_str(),
                    l.key.as_str(),
                    l.code.is_some(),
                    l.policy.clone(),
                )
            })
            .collect();
        assert_eq!(
            links,
            [
                ("aaaaa1", "p", true, PhonePolicy::Manual),
                (
                    "aaaaa2",
                    "p",
                    false,
                    PhonePolicy::Script {
                        states: vec![11, 2],
                        step_seconds: 3
                    }
                ),
                ("aaaaa3", "aaaaa3", false, PhonePolicy::Expire),
            ]
        );
    }

    #[test]
    fn fixture_mistakes_are_refused() {
        for (extra, why) in [
            ("person = \"nobody\"", "not defined"),
            (
                "mobile_key = { reject = true, expire = true }",
                "choose one",
            ),
            ("mobile_key = { confirm_after = \"2x\" }", "unit"),
            ("mobile_key = { states = [11, 4] }", "none of"),
            ("mobile_key = { states = [] }", "empty"),
            ("mobile_key = { step = \"1s\" }", "step needs states"),
            ("mobile_key = { code = \"\" }", "empty"),
            ("mobile_key = { phone = 1 }", "unknown field"),
        ] {
            let err = world(&user("aaaaa1", extra)).unwrap_err();
            assert!(err.contains(why), "{extra}: {err}");
        }
    }

    #[test]
    fn generated_codes_are_long_and_distinct() {
        let a = generate_code();
        assert_eq!(a.len(), CODE_LENGTH);
        assert_ne!(a, generate_code());
    }
}
