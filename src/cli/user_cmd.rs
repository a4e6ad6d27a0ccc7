//! `isds-gateway user …`: add, show and list users, change their rights
//! and passwords.

use super::box_cmd::parse_box_id;
use super::{
    CliError, StoreArgs, access_json, access_text, now, open_store, pretty, user_json, user_line,
};
use crate::domain::admin::{Actor, Admin, NewUser, NoSystemNotices, UserChange, UserRef};
use crate::domain::{BoxId, PersonName, Privileges, User, UserId, UserType, boxes::repo};
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct UserArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add a user to a box (generated login and password unless given).
    Add(AddArgs),
    /// Show a user (by user ID or login).
    Show {
        /// User ID or login.
        user: String,
    },
    /// List the users of one box, or of all boxes.
    List {
        /// Box ID (all boxes if left out).
        #[arg(value_parser = parse_box_id)]
        box_id: Option<BoxId>,
    },
    /// Set a user's rights (`userPrivils` bit mask, 0 to 255). They apply
    /// from the user's next request.
    SetPrivileges {
        /// User ID or login.
        user: String,
        /// The bit mask: 1 read ordinary, 2 read all, 4 send, 8 lists and
        /// delivery info, 16 search, 32 administer users, 64 read vault,
        /// 128 erase vault.
        #[arg(value_parser = clap::value_parser!(u32).range(0..=255))]
        privileges: u32,
    },
    /// Give a user a new password: the one given, or a generated one that
    /// must be changed at the next login.
    SetPassword {
        /// User ID or login.
        user: String,
        /// The new password (checked against the ISDS rules).
        #[arg(long)]
        password: Option<String>,
        /// Require a change of the given password at the next login.
        #[arg(long)]
        must_change: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Box ID.
    #[arg(value_parser = parse_box_id)]
    pub box_id: BoxId,
    /// PRIMARY_USER, ENTRUSTED_USER, ADMINISTRATOR, OFFICIAL, …
    #[arg(long = "type", value_parser = parse_user_type, default_value = "ENTRUSTED_USER")]
    pub user_type: UserType,
    /// Rights, the `userPrivils` bit mask (0 to 255).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=255), default_value_t = 255)]
    pub privileges: u32,
    #[arg(long)]
    pub first_name: Option<String>,
    #[arg(long)]
    pub last_name: Option<String>,
    /// Login (default: the generated user ID).
    #[arg(long)]
    pub login: Option<String>,
    /// Password (default: generated, to be changed at the first login).
    #[arg(long)]
    pub password: Option<String>,
    /// Require a change of a given password at the first login.
    #[arg(long)]
    pub must_change: bool,
}

fn parse_user_type(s: &str) -> Result<UserType, String> {
    UserType::ALL
        .iter()
        .copied()
        .find(|t| t.name() == s)
        .ok_or_else(|| {
            let names: Vec<_> = UserType::ALL.iter().map(|t| t.name()).collect();
            format!("unknown user type; one of {}", names.join(", "))
        })
}

/// The user named by user ID or login.
fn find_user(store: &dyn Store, name: &str) -> Result<User, CliError> {
    if let Ok(id) = UserId::parse(name)
        && let Some(u) = repo::get_user(store, &id)?
    {
        return Ok(u);
    }
    repo::user_by_login(store, name)?
        .ok_or_else(|| CliError::NotFound(format!("no user with ID or login {name:?}")))
}

fn show(u: &User, json: bool) -> String {
    if json {
        return pretty(&user_json(u));
    }
    format!(
        "user {}\n  isdsID            {}\n  box               {}\n  login             {}\n  type              {}\n  privileges        {}\n  name              {} {}\n  must change pw    {}\n",
        u.id,
        u.id.isds_id(),
        u.box_id,
        u.login,
        u.user_type.name(),
        u.privileges.0,
        u.name.first_name,
        u.name.last_name,
        if u.must_change_password { "yes" } else { "no" },
    )
}

/// Runs one `user` command.
pub fn run(args: UserArgs) -> Result<String, CliError> {
    let json = args.store.json;
    let store = open_store(&args.store.data, false)?;
    let store = store.as_ref();
    let admin = Admin::new(store, &NoSystemNotices, now());
    match args.command {
        UserCommand::Add(a) => {
            let mut spec = NewUser::new(
                a.user_type,
                Privileges(a.privileges),
                PersonName {
                    first_name: a.first_name.unwrap_or_default(),
                    middle_name: String::new(),
                    last_name: a.last_name.unwrap_or_default(),
                },
            );
            spec.login = a.login;
            spec.password = a.password;
            spec.must_change_password = a.must_change;
            let access = admin.add_user(&Actor::Operator, &a.box_id, spec)?;
            if json {
                return Ok(pretty(&access_json(&access)));
            }
            Ok(format!(
                "added user {} to box {}: {}\n",
                access.user_id,
                a.box_id,
                access_text(&access)
            ))
        }
        UserCommand::Show { user } => Ok(show(&find_user(store, &user)?, json)),
        UserCommand::List { box_id } => {
            let users = match &box_id {
                Some(id) => {
                    if repo::get_box(store, id)?.is_none() {
                        return Err(CliError::NotFound(format!("no box {id}")));
                    }
                    repo::users_of_box(store, id)?
                }
                None => repo::all_users(store)?,
            };
            if json {
                return Ok(pretty(&serde_json::Value::Array(
                    users.iter().map(user_json).collect(),
                )));
            }
            let mut out = String::new();
            for u in &users {
                out.push_str(&user_line(u));
                out.push('\n');
            }
            out.push_str(&format!("{} users\n", users.len()));
            Ok(out)
        }
        UserCommand::SetPrivileges { user, privileges } => {
            let u = find_user(store, &user)?;
            let changed = admin.update_user(
                &Actor::Operator,
                &u.box_id,
                &UserRef::Named(u.id.to_string()),
                &UserChange {
                    privileges: Some(Privileges(privileges)),
                    ..UserChange::default()
                },
            )?;
            Ok(show(&changed, json))
        }
        UserCommand::SetPassword {
            user,
            password,
            must_change,
        } => {
            let u = find_user(store, &user)?;
            let access = admin.new_access_data(
                &Actor::Operator,
                &u.box_id,
                &UserRef::Named(u.id.to_string()),
                password,
                must_change,
            )?;
            if json {
                return Ok(pretty(&access_json(&access)));
            }
            Ok(format!(
                "user {}: {}\n",
                access.user_id,
                access_text(&access)
            ))
        }
    }
}
