//! `isds-gateway box …`: create, show, list boxes and set their state.

use super::{
    CliError, StoreArgs, access_json, access_text, box_json, now, open_store, owner_name, pretty,
    state_name, user_line,
};
use crate::domain::admin::{Actor, Admin, NewBox, NewUser, NoSystemNotices, StateChange};
use crate::domain::{
    BoxAddress, BoxId, BoxState, BoxType, Owner, PersonName, Privileges, UserType, boxes::repo,
};

#[derive(Debug, clap::Args)]
pub struct BoxArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: BoxCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BoxCommand {
    /// Create a box with one primary user (generated login and password
    /// unless given).
    Create(Box<CreateArgs>),
    /// Show a box and its users.
    Show {
        /// Box ID.
        #[arg(value_parser = parse_box_id)]
        id: BoxId,
    },
    /// List every box.
    List,
    /// Show a box's credit for commercial services and its events, or
    /// change it: a positive amount charges the credit, a negative one
    /// discharges it (amounts in hundredths of CZK: 10000 = 100 Kč).
    Credit {
        /// Box ID (positional, as in the other commands).
        #[arg(value_parser = parse_box_id, required_unless_present = "box_flag")]
        id: Option<BoxId>,
        /// The box ID as a flag, as earlier versions took it.
        #[arg(long = "box", value_parser = parse_box_id, hide = true, conflicts_with = "id")]
        box_flag: Option<BoxId>,
        /// Hundredths of CZK to add (negative: to take).
        #[arg(long, allow_hyphen_values = true)]
        amount: Option<i64>,
        /// Transaction identifier recorded with the change.
        #[arg(long)]
        trans_id: Option<String>,
    },
    /// Set a box's state (1 accessible, 2 inaccessible at the owner's
    /// request, 3 not yet active, 4 permanently inaccessible, 5 removed,
    /// 6 inaccessible by law).
    SetState {
        /// Box ID.
        #[arg(value_parser = parse_box_id)]
        id: BoxId,
        /// The new state, 1 to 6.
        #[arg(value_parser = parse_state)]
        state: BoxState,
    },
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Box type as ISDS names it: OVM, PO, PFO, PFO_ADVOK, FO, …
    #[arg(long = "type", value_parser = parse_box_type)]
    pub box_type: BoxType,
    /// Box ID (7 characters a-z, 0-9); generated if left out.
    #[arg(long, value_parser = parse_box_id)]
    pub id: Option<BoxId>,
    /// Company or authority name.
    #[arg(long)]
    pub firm_name: Option<String>,
    /// Identification number (IČ).
    #[arg(long)]
    pub ic: Option<String>,
    /// Owner's first name (also the primary user's).
    #[arg(long)]
    pub first_name: Option<String>,
    /// Owner's last name (also the primary user's).
    #[arg(long)]
    pub last_name: Option<String>,
    /// Owner's date of birth, YYYY-MM-DD.
    #[arg(long)]
    pub birth_date: Option<String>,
    #[arg(long)]
    pub city: Option<String>,
    #[arg(long)]
    pub street: Option<String>,
    /// Number in the street.
    #[arg(long)]
    pub number: Option<String>,
    #[arg(long)]
    pub zip: Option<String>,
    /// Country code (CZ if left out).
    #[arg(long)]
    pub country: Option<String>,
    /// Accept commercial messages from anyone.
    #[arg(long)]
    pub open_addressing: bool,
    /// Passwords of the box's users never expire.
    #[arg(long)]
    pub unlimited_password_validity: bool,
    /// The primary user's login (default: their generated user ID).
    #[arg(long)]
    pub login: Option<String>,
    /// The primary user's password (default: generated, to be changed at
    /// the first login).
    #[arg(long)]
    pub password: Option<String>,
    /// Require a change of a given password at the first login.
    #[arg(long)]
    pub must_change: bool,
}

pub(super) fn parse_box_id(s: &str) -> Result<BoxId, String> {
    BoxId::parse(s).map_err(|e| e.to_string())
}

fn parse_box_type(s: &str) -> Result<BoxType, String> {
    BoxType::from_name(s).ok_or_else(|| {
        let names: Vec<_> = BoxType::ALL.iter().map(|t| t.name()).collect();
        format!("unknown box type; one of {}", names.join(", "))
    })
}

fn parse_state(s: &str) -> Result<BoxState, String> {
    s.parse::<u8>()
        .ok()
        .and_then(|n| BoxState::try_from(n).ok())
        .ok_or_else(|| "a box state is a number from 1 to 6".to_owned())
}

/// Runs one `box` command.
pub fn run(args: BoxArgs) -> Result<String, CliError> {
    let json = args.store.json;
    let store = open_store(&args.store.data, false)?;
    let store = store.as_ref();
    let admin = Admin::new(store, &NoSystemNotices, now());
    match args.command {
        BoxCommand::Create(c) => {
            let c = *c;
            check_owner_names(&c)?;
            let owner = Owner {
                firm_name: c.firm_name.unwrap_or_default(),
                ic: c.ic.unwrap_or_default(),
                first_name: c.first_name.unwrap_or_default(),
                last_name: c.last_name.unwrap_or_default(),
                birth_date: c.birth_date.unwrap_or_default(),
                birth_city: String::new(),
                address: BoxAddress {
                    city: c.city.unwrap_or_default(),
                    street: c.street.unwrap_or_default(),
                    number_in_street: c.number.unwrap_or_default(),
                    zip_code: c.zip.unwrap_or_default(),
                    state: c.country.unwrap_or_else(|| "CZ".to_owned()),
                    ..BoxAddress::default()
                },
                ..Owner::default()
            };
            let mut primary = NewUser::new(
                UserType::PrimaryUser,
                Privileges::ALL,
                PersonName {
                    first_name: owner.first_name.clone(),
                    middle_name: String::new(),
                    last_name: owner.last_name.clone(),
                },
            );
            primary.login = c.login;
            primary.password = c.password;
            primary.must_change_password = c.must_change;
            let created = admin.create_box(
                &Actor::Operator,
                NewBox {
                    id: c.id,
                    box_type: c.box_type,
                    owner,
                    effective_ovm: None,
                    open_addressing: c.open_addressing,
                    unlimited_password_validity: c.unlimited_password_validity,
                    attachment_limit_mb: None,
                    primary_users: vec![primary],
                },
            )?;
            let b = &created.databox;
            if json {
                return Ok(pretty(&serde_json::json!({
                    "box": box_json(b, &repo::users_of_box(store, &b.id)?),
                    "access": created.access.iter().map(access_json).collect::<Vec<_>>(),
                })));
            }
            let mut out = format!("created box {} ({})\n", b.id, b.box_type.name());
            for a in &created.access {
                out.push_str(&format!("primary user {}: {}\n", a.user_id, access_text(a)));
            }
            Ok(out)
        }
        BoxCommand::Show { id } => {
            let b = repo::get_box(store, &id)?
                .ok_or_else(|| CliError::NotFound(format!("no box {id}")))?;
            let users = repo::users_of_box(store, &id)?;
            if json {
                return Ok(pretty(&box_json(&b, &users)));
            }
            let a = &b.owner.address;
            let address = [
                format!("{} {}", a.street, a.number_in_street)
                    .trim()
                    .to_owned(),
                format!("{} {}", a.zip_code, a.city).trim().to_owned(),
                a.state.clone(),
            ]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
            let yes = |b: bool| if b { "yes" } else { "no" };
            let mut out = format!(
                "box {}\n  type              {}\n  state             {} ({})\n  owner             {}\n",
                b.id,
                b.box_type.name(),
                u8::from(b.state),
                state_name(&b),
                owner_name(&b),
            );
            if !b.owner.ic.is_empty() {
                out.push_str(&format!("  IČ                {}\n", b.owner.ic));
            }
            if !address.is_empty() {
                out.push_str(&format!("  address           {address}\n"));
            }
            out.push_str(&format!(
                "  effective OVM     {}\n  open addressing   {}\n  users             {}\n",
                yes(b.effective_ovm),
                yes(b.open_addressing),
                users.len()
            ));
            for u in &users {
                out.push_str(&format!("    {}\n", user_line(u)));
            }
            Ok(out)
        }
        BoxCommand::List => {
            let boxes = repo::all_boxes(store)?;
            if json {
                let list = boxes
                    .iter()
                    .map(|b| Ok(box_json(b, &repo::users_of_box(store, &b.id)?)))
                    .collect::<Result<Vec<_>, CliError>>()?;
                return Ok(pretty(&serde_json::Value::Array(list)));
            }
            let mut out = String::new();
            for b in &boxes {
                out.push_str(&format!(
                    "{}  {:<13}  {}  {}{}\n",
                    b.id,
                    b.box_type.name(),
                    u8::from(b.state),
                    owner_name(b),
                    if b.open_addressing {
                        "  [open addressing]"
                    } else {
                        ""
                    }
                ));
            }
            out.push_str(&format!("{} boxes\n", boxes.len()));
            Ok(out)
        }
        BoxCommand::Credit {
            id,
            box_flag,
            amount,
            trans_id,
        } => {
            use crate::domain::boxes::credit::{self, CreditKind, NewCredit};
            let box_id = id
                .or(box_flag)
                .ok_or_else(|| CliError::Usage("box credit needs a box ID".into()))?;
            if repo::get_box(store, &box_id)?.is_none() {
                return Err(CliError::NotFound(format!("no box {box_id}")));
            }
            if let Some(amount) = amount.filter(|a| *a != 0) {
                let trans_id = trans_id.unwrap_or_else(|| format!("cli-{}", now()));
                let kind = if amount > 0 {
                    CreditKind::Charged { trans_id }
                } else {
                    CreditKind::Discharged { trans_id }
                };
                credit::append(
                    store,
                    &box_id,
                    &[NewCredit {
                        at: now(),
                        amount: amount.unsigned_abs(),
                        kind,
                    }],
                )?;
            }
            let balance = credit::balance(store, &box_id)?;
            let events = credit::events(store, &box_id, i64::MIN, i64::MAX)?;
            if json {
                return Ok(pretty(&serde_json::json!({
                    "box": box_id.as_str(),
                    "credit": balance,
                    "events": events,
                })));
            }
            let mut out = format!(
                "box {box_id}: credit {balance} (hundredths of CZK, {}.{:02} Kč)\n",
                balance / 100,
                balance % 100
            );
            for e in &events {
                out.push_str(&format!(
                    "  {}  {:<16} {:+}  -> {}\n",
                    crate::domain::clock::xml_datetime(e.at),
                    credit_kind_words(&e.kind),
                    e.change,
                    e.after
                ));
            }
            Ok(out)
        }
        BoxCommand::SetState { id, state } => {
            let b = admin.change_state(&Actor::Operator, &id, StateChange::Set(state))?;
            if json {
                return Ok(pretty(&box_json(&b, &repo::users_of_box(store, &id)?)));
            }
            Ok(format!(
                "box {} is now in state {} ({})\n",
                b.id,
                u8::from(b.state),
                state_name(&b)
            ))
        }
    }
}

/// A box needs its owner's name: a company or authority its firm name, a
/// person (FO, PFO) a first and last name. Checked before anything is
/// written, naming the flags to add.
fn check_owner_names(c: &CreateArgs) -> Result<(), CliError> {
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    let t = c.box_type.name();
    // FO, and the PFO family (30-39, 50): a person owns the box.
    let person = c.box_type.is_natural_person() || matches!(c.box_type.code(), 30..=39 | 50);
    if person {
        if blank(&c.first_name) || blank(&c.last_name) {
            return Err(CliError::Usage(format!(
                "a box of type {t} belongs to a person: give --first-name NAME and --last-name NAME"
            )));
        }
    } else if blank(&c.firm_name) {
        return Err(CliError::Usage(format!(
            "a box of type {t} needs its owner's name: give --firm-name NAME"
        )));
    }
    Ok(())
}

/// A credit event's kind in words (the number is ISDS's `ciEventType`).
fn credit_kind_words(kind: &crate::domain::boxes::credit::CreditKind) -> String {
    use crate::domain::boxes::credit::CreditKind;
    let words = match kind {
        CreditKind::Charged { .. } => "charged",
        CreditKind::Discharged { .. } => "discharged",
        CreditKind::MessageSent { .. } => "message paid",
        CreditKind::StorageSet { .. } => "storage ordered",
        CreditKind::Expired { .. } => "expired",
        CreditKind::Restored { .. } => "restored",
    };
    format!("{words} ({})", kind.code())
}
