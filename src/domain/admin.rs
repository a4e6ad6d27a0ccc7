//! Box and user administration, as the db_manipulations services and the
//! command line do it: creating and removing boxes, changing their
//! description, state and open addressing; adding, changing and removing
//! users and issuing them new access data.
//!
//! # Who may do what
//! - The gateway operator ([`Actor::Operator`]): everything, on any box.
//! - A box administrator — a user of type PRIMARY_USER or ADMINISTRATOR, or
//!   one holding privilege 32 (OWNER_ADM) — on their own box only: list
//!   users; add, change and remove users and issue them new access data
//!   (entrusted users; administrators only if the caller is a primary user;
//!   primary users and the special user types only the operator); disable
//!   the box at the owner's request and enable it again; allow and forbid
//!   open addressing.
//! - Anyone else: nothing ([`Refusal::NotPermitted`]).
//!
//! New rights apply at a user's next login. The gateway authenticates
//! every request anew, so for it the next login is the user's next request.
//!
//! # Consistency
//! Every change is one atomic, durable batch. Updated records must be
//! unchanged since they were read, fresh IDs and logins absent; a conflict
//! re-reads and retries. IDs are generated like ISDS's: 7 characters for
//! boxes, 6 for users, from `a-z0-9`. Removing a box marks it removed
//! (state 5), as ISDS does; its record and ID stay.
//!
//! # Notices
//! ISDS tells a box's users about such changes with system messages from
//! the system box `aaaaaaa`. Each change here reports [`AdminEvent`]s to a
//! [`SystemNotices`], which adds its own writes to the change's batch, so a
//! notice exists exactly when its change does.

use crate::domain::boxes::credentials::{self, HashError, PasswordHash, PasswordRuleViolation};
use crate::domain::boxes::databox::{BoxId, BoxState, BoxType, DataBox, Owner, SYSTEM_BOX_ID};
use crate::domain::boxes::repo::{self, RepoError, Stored};
use crate::domain::boxes::user::{
    MissingPersonalData, PersonName, PersonalData, Privileges, User, UserId, UserType,
};
use crate::domain::messages::lifecycle;
use crate::domain::messages::message::Timestamp;
use crate::store::{Batch, Store};

/// How many times a change is retried after a concurrent change or an ID
/// collision before the conflict is reported.
const MAX_ATTEMPTS: usize = 16;

/// Who asks for a change.
#[derive(Debug, Clone)]
pub enum Actor {
    /// The gateway operator (configuration, command line).
    Operator,
    /// A user of a box, as authenticated.
    User(User),
}

/// Whether `u` administers their box's users.
pub fn is_box_administrator(u: &User) -> bool {
    matches!(u.user_type, UserType::PrimaryUser | UserType::Administrator)
        || u.privileges.has(Privileges::OWNER_ADM)
}

/// Why a change was refused; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not permitted: {0}")]
    NotPermitted(String),
    #[error("box {0} does not exist")]
    BoxNotFound(String),
    #[error("user {user} does not exist in box {box_id}")]
    UserNotFound { box_id: BoxId, user: String },
    #[error("box {0} exists already")]
    BoxExists(BoxId),
    #[error("login {0:?} is taken")]
    LoginExists(String),
    #[error("box {box_id} is in state {state}, which does not allow this")]
    BoxState { box_id: BoxId, state: u8 },
    #[error("{0}")]
    Invalid(String),
    #[error("box {0} would be left without a primary user")]
    LastPrimaryUser(BoxId),
    #[error("password refused: {0}")]
    Password(PasswordRuleViolation),
    #[error("a primary user's personal data are incomplete: {0}")]
    PersonalData(MissingPersonalData),
    #[error("only the operator may confirm that the fee for new access data was paid")]
    FeeConfirmation,
}

/// A change failed: refused by the rules, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// Something the users of a box are told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminEvent {
    BoxCreated {
        box_id: BoxId,
    },
    BoxDescriptionChanged {
        box_id: BoxId,
    },
    BoxStateChanged {
        box_id: BoxId,
        from: BoxState,
        to: BoxState,
    },
    OpenAddressingChanged {
        box_id: BoxId,
        open: bool,
    },
    UserAdded {
        box_id: BoxId,
        user_id: UserId,
    },
    UserChanged {
        box_id: BoxId,
        user_id: UserId,
    },
    UserRemoved {
        box_id: BoxId,
        user_id: UserId,
    },
    AccessDataIssued {
        box_id: BoxId,
        user_id: UserId,
    },
}

/// Delivers [`AdminEvent`]s to the box's users (in ISDS: system messages
/// from the system box).
pub trait SystemNotices: Send + Sync {
    /// Adds to `batch` the writes that announce `event`; they are applied
    /// atomically with the change itself.
    fn stage(
        &self,
        store: &dyn Store,
        batch: &mut Batch,
        event: &AdminEvent,
    ) -> Result<(), RepoError>;
}

/// Announces nothing: administration changes are not yet announced by
/// system messages (the undeliverable-message notice is sent elsewhere,
/// see `system_message`).
pub struct NoSystemNotices;

impl SystemNotices for NoSystemNotices {
    fn stage(&self, _: &dyn Store, _: &mut Batch, _: &AdminEvent) -> Result<(), RepoError> {
        Ok(())
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub user_type: UserType,
    pub privileges: Privileges,
    pub name: PersonName,
    /// `None`: the generated user ID, as in ISDS, where the user ID is the
    /// login name.
    pub login: Option<String>,
    /// `None`: a generated password, which the user must change at the
    /// first login.
    pub password: Option<String>,
    /// Require a change at the first login also of a given password.
    pub must_change_password: bool,
    /// Address, birth date and the other items kept about the user.
    pub personal: PersonalData,
    /// A primary user must come with the items
    /// [`PersonalData::check_primary`] requires (the SOAP services; the
    /// command line and world fixtures may leave them out).
    pub personal_required: bool,
}

impl NewUser {
    /// A user with generated login and password.
    pub fn new(user_type: UserType, privileges: Privileges, name: PersonName) -> Self {
        NewUser {
            user_type,
            privileges,
            name,
            login: None,
            password: None,
            must_change_password: false,
            personal: PersonalData::default(),
            personal_required: false,
        }
    }
}

/// The access data of a user who got new credentials. ISDS sends them by
/// post or e-mail; the gateway hands them back to the caller.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessData {
    pub user_id: UserId,
    pub login: String,
    pub password: String,
    pub must_change_password: bool,
}

impl std::fmt::Debug for AccessData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessData")
            .field("user_id", &self.user_id)
            .field("login", &self.login)
            .field("password", &"..")
            .field("must_change_password", &self.must_change_password)
            .finish()
    }
}

/// A box to create.
#[derive(Debug, Clone)]
pub struct NewBox {
    /// `None`: a generated ID.
    pub id: Option<BoxId>,
    pub box_type: BoxType,
    pub owner: Owner,
    /// `None`: true for the OVM types.
    pub effective_ovm: Option<bool>,
    pub open_addressing: bool,
    pub unlimited_password_validity: bool,
    /// Attachment limit in MB (`None`: 20).
    pub attachment_limit_mb: Option<u32>,
    /// Its primary users; at least one is created.
    pub primary_users: Vec<NewUser>,
}

/// A created box and the access data of its first users.
#[derive(Debug, Clone)]
pub struct CreatedBox {
    pub databox: DataBox,
    pub access: Vec<AccessData>,
}

/// Names a user of a given box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    /// A user ID or a login name (`userID` of the version-1 services).
    Named(String),
    /// An `isdsID` (version-2 services).
    IsdsId(String),
}

impl std::fmt::Display for UserRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserRef::Named(s) | UserRef::IsdsId(s) => f.write_str(s),
        }
    }
}

/// Changes to a user; `None` keeps a value.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub user_type: Option<UserType>,
    pub privileges: Option<Privileges>,
    pub name: Option<PersonName>,
    pub personal: Option<PersonalData>,
}

/// A change of a box's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateChange {
    /// The owner disables their accessible box: state 2.
    DisableOwn,
    /// The owner enables the box they disabled: state 1.
    EnableOwn,
    /// The operator makes the box inaccessible by law: state 6.
    DisableExternally,
    /// The operator sets any state.
    Set(BoxState),
}

/// Administration over one store.
pub struct Admin<'a> {
    store: &'a dyn Store,
    notices: &'a dyn SystemNotices,
    now: i64,
}

impl<'a> Admin<'a> {
    /// `now` (Unix seconds) stamps new passwords.
    pub fn new(store: &'a dyn Store, notices: &'a dyn SystemNotices, now: i64) -> Self {
        Admin {
            store,
            notices,
            now,
        }
    }

    /// Creates a box with its primary users (one from the owner's name if
    /// none is given). Operator only.
    pub fn create_box(&self, actor: &Actor, spec: NewBox) -> Result<CreatedBox, AdminError> {
        require_operator(actor, "create boxes")?;
        if let Some(id) = spec.id.as_ref().filter(|id| id.as_str() == SYSTEM_BOX_ID) {
            return Err(Refusal::Invalid(format!("box ID {id} is reserved")).into());
        }
        let mut users = spec.primary_users.clone();
        if users.is_empty() {
            users.push(primary_user_of_owner(&spec.owner));
        }
        for u in &users {
            check_new_user(u)?;
        }
        retry(|| {
            let id = match &spec.id {
                Some(id) => {
                    if repo::get_box(self.store, id)?.is_some() {
                        return Err(Refusal::BoxExists(id.clone()).into());
                    }
                    id.clone()
                }
                None => fresh_box_id(),
            };
            for u in &users {
                check_personal_data(u)?;
            }
            let databox = DataBox {
                id: id.clone(),
                box_type: spec.box_type,
                state: BoxState::Accessible,
                owner: spec.owner.clone(),
                effective_ovm: spec.effective_ovm.unwrap_or(spec.box_type.is_ovm()),
                open_addressing: spec.open_addressing,
                attachment_limit_mb: spec.attachment_limit_mb.unwrap_or(20),
                unlimited_password_validity: spec.unlimited_password_validity,
                public_listing: true,
            };
            let mut batch = Batch::new();
            repo::stage_insert_box(&mut batch, &databox);
            crate::domain::boxes::activity::stage_created(&mut batch, &id, self.now, databox.state);
            let mut events = vec![AdminEvent::BoxCreated { box_id: id.clone() }];
            let mut access = Vec::new();
            let mut logins = std::collections::HashSet::new();
            for u in &users {
                let (user, data) = self.build_user(&id, u)?;
                if !logins.insert(user.login.clone()) {
                    return Err(Refusal::LoginExists(user.login).into());
                }
                repo::stage_insert_user(&mut batch, &user);
                events.push(AdminEvent::UserAdded {
                    box_id: id.clone(),
                    user_id: user.id.clone(),
                });
                access.push(data);
            }
            self.finish(batch, &events)?;
            Ok(CreatedBox {
                databox: databox.clone(),
                access,
            })
        })
    }

    /// Marks a box removed (state 5); its users can no longer log in.
    /// Operator only.
    pub fn remove_box(&self, actor: &Actor, id: &BoxId) -> Result<DataBox, AdminError> {
        require_operator(actor, "remove boxes")?;
        self.change_box(id, |b| {
            if b.state == BoxState::Removed {
                return Err(state_refusal(b));
            }
            b.state = BoxState::Removed;
            Ok(())
        })
    }

    /// Changes a box's description (owner, type) with `edit`. Operator only.
    pub fn update_box(
        &self,
        actor: &Actor,
        id: &BoxId,
        edit: impl Fn(&mut DataBox) -> Result<(), Refusal>,
    ) -> Result<DataBox, AdminError> {
        require_operator(actor, "change box descriptions")?;
        self.change_box(id, |b| {
            if b.state == BoxState::Removed {
                return Err(state_refusal(b));
            }
            edit(b)
        })
    }

    /// Changes a box's state. The owner's own disabling and enabling are
    /// open to the box's administrators, the rest to the operator.
    pub fn change_state(
        &self,
        actor: &Actor,
        id: &BoxId,
        change: StateChange,
    ) -> Result<DataBox, AdminError> {
        match change {
            StateChange::DisableOwn | StateChange::EnableOwn => {
                require_box_admin(actor, id, "change the state of this box")?
            }
            StateChange::DisableExternally | StateChange::Set(_) => {
                require_operator(actor, "change box states")?
            }
        }
        self.change_box(id, |b| {
            let to = match (change, b.state) {
                (StateChange::DisableOwn, BoxState::Accessible) => {
                    BoxState::TemporarilyInaccessible
                }
                (StateChange::EnableOwn, BoxState::TemporarilyInaccessible) => BoxState::Accessible,
                (
                    StateChange::DisableExternally,
                    BoxState::Accessible
                    | BoxState::TemporarilyInaccessible
                    | BoxState::NotYetActive,
                ) => BoxState::InaccessibleByLaw,
                (StateChange::Set(to), _) => to,
                _ => return Err(state_refusal(b)),
            };
            b.state = to;
            Ok(())
        })
    }

    /// Allows or forbids commercial messages from anyone (open addressing).
    pub fn set_open_addressing(
        &self,
        actor: &Actor,
        id: &BoxId,
        open: bool,
    ) -> Result<DataBox, AdminError> {
        require_box_admin(actor, id, "change open addressing of this box")?;
        self.change_box(id, |b| {
            if b.state == BoxState::Removed {
                return Err(state_refusal(b));
            }
            b.open_addressing = open;
            Ok(())
        })
    }

    /// The users of a box.
    pub fn list_users(&self, actor: &Actor, id: &BoxId) -> Result<Vec<User>, AdminError> {
        require_box_admin(actor, id, "list the users of this box")?;
        let databox = self.existing_box(id)?;
        Ok(repo::users_of_box(self.store, &databox.value.id)?)
    }

    /// Adds a user to a box.
    pub fn add_user(
        &self,
        actor: &Actor,
        box_id: &BoxId,
        spec: NewUser,
    ) -> Result<AccessData, AdminError> {
        require_box_admin(actor, box_id, "add users to this box")?;
        require_type(actor, spec.user_type)?;
        check_new_user(&spec)?;
        retry(|| {
            let databox = self.existing_box(box_id)?;
            refuse_removed(&databox.value)?;
            check_personal_data(&spec)?;
            let (user, access) = self.build_user(box_id, &spec)?;
            let mut batch = Batch::new();
            repo::stage_insert_user(&mut batch, &user);
            self.finish(
                batch,
                &[AdminEvent::UserAdded {
                    box_id: box_id.clone(),
                    user_id: user.id.clone(),
                }],
            )?;
            Ok(access)
        })
    }

    /// Changes a user's type, rights or name. New rights apply from the
    /// user's next request.
    pub fn update_user(
        &self,
        actor: &Actor,
        box_id: &BoxId,
        who: &UserRef,
        change: &UserChange,
    ) -> Result<User, AdminError> {
        require_box_admin(actor, box_id, "change users of this box")?;
        if let Some(t) = change.user_type {
            require_type(actor, t)?;
        }
        if let Some(p) = change.privileges {
            check_privileges(p)?;
        }
        retry(|| {
            let databox = self.existing_box(box_id)?;
            refuse_removed(&databox.value)?;
            let old = self.resolve(box_id, who)?;
            require_type(actor, old.value.user_type)?;
            let mut user = old.value.clone();
            if let Some(t) = change.user_type {
                if user.user_type == UserType::PrimaryUser && t != UserType::PrimaryUser {
                    self.require_other_primary(&user)?;
                }
                user.user_type = t;
            }
            if let Some(p) = change.privileges {
                user.privileges = p;
            }
            user.privileges = kept_privileges(user.user_type, user.privileges);
            if let Some(n) = &change.name {
                user.name = n.clone();
            }
            if let Some(p) = &change.personal {
                user.personal = Box::new(p.clone());
            }
            let mut batch = Batch::new();
            repo::stage_update_user(&mut batch, &old, &user);
            self.finish(
                batch,
                &[AdminEvent::UserChanged {
                    box_id: box_id.clone(),
                    user_id: user.id.clone(),
                }],
            )?;
            Ok(user)
        })
    }

    /// Removes a user and their login. A box keeps at least one primary
    /// user.
    pub fn delete_user(
        &self,
        actor: &Actor,
        box_id: &BoxId,
        who: &UserRef,
    ) -> Result<User, AdminError> {
        require_box_admin(actor, box_id, "remove users of this box")?;
        retry(|| {
            let databox = self.existing_box(box_id)?;
            refuse_removed(&databox.value)?;
            let old = self.resolve(box_id, who)?;
            require_type(actor, old.value.user_type)?;
            if old.value.user_type == UserType::PrimaryUser {
                self.require_other_primary(&old.value)?;
            }
            let mut batch = Batch::new();
            repo::stage_delete_user(&mut batch, &old);
            self.finish(
                batch,
                &[AdminEvent::UserRemoved {
                    box_id: box_id.clone(),
                    user_id: old.value.id.clone(),
                }],
            )?;
            Ok(old.value)
        })
    }

    /// Gives a user a new password: `password`, or a generated one the
    /// user must change at the next login.
    pub fn new_access_data(
        &self,
        actor: &Actor,
        box_id: &BoxId,
        who: &UserRef,
        password: Option<String>,
        must_change_password: bool,
    ) -> Result<AccessData, AdminError> {
        require_box_admin(actor, box_id, "issue access data in this box")?;
        retry(|| {
            let databox = self.existing_box(box_id)?;
            refuse_removed(&databox.value)?;
            let old = self.resolve(box_id, who)?;
            require_type(actor, old.value.user_type)?;
            let user = old.value.clone();
            let (password, must_change) = match &password {
                Some(p) => {
                    credentials::check_new_password(p, &user.login, &user.password)
                        .map_err(Refusal::Password)?;
                    (p.clone(), must_change_password)
                }
                None => (credentials::generate_password(&user.login), true),
            };
            self.store_access_data(box_id, &old, user, password, must_change)
        })
    }

    /// Issues a user new access data on request (NewAccessData). The
    /// box-management manual (2.74) no longer describes the service; what
    /// the gateway does follows the interface and the operator's other
    /// documents:
    /// - who may ask: the operator (ISDS's operator, who issues access
    ///   data at the request of the person) for any user, and a box
    ///   administrator for the users they may add and remove
    ///   (WS_sprava_datovych_schranek, 2.4 and 2.5: PRIVIL_OWNER_ADM does
    ///   not reach primary users); only the operator may confirm that the
    ///   administrative fee was paid (`dbFeePaid`), anyone else asking
    ///   with it gets 1032 ("Vaše oprávnění nedovolují potvrdit zaplacení
    ///   správního poplatku", the official table's code for a request for
    ///   new access data that cannot confirm the fee);
    /// - what is returned: new access data are a new user name and a new
    ///   password (dbTypes 2.10: `dbUserID` is the new user ID); the user's
    ///   `isdsID` stays ("Při vydání nových přístupových údajů se
    ///   zachovává", developers' bulletin of May 2018), and so do type,
    ///   rights and personal data;
    /// - the old credentials: the old user name and password stop working
    ///   at once; the new password must be changed at the first login.
    pub fn reissue_access_data(
        &self,
        actor: &Actor,
        box_id: &BoxId,
        who: &UserRef,
        fee_paid: bool,
    ) -> Result<AccessData, AdminError> {
        require_box_admin(actor, box_id, "issue access data in this box")?;
        if fee_paid && !matches!(actor, Actor::Operator) {
            return Err(Refusal::FeeConfirmation.into());
        }
        retry(|| {
            let databox = self.existing_box(box_id)?;
            refuse_removed(&databox.value)?;
            let old = self.resolve(box_id, who)?;
            require_type(actor, old.value.user_type)?;
            let mut user = old.value.clone();
            let login = loop {
                let candidate = fresh_user_id().to_string();
                if candidate != user.login && !repo::login_exists(self.store, &candidate)? {
                    break candidate;
                }
            };
            let password = credentials::generate_password(&login);
            user.login = login;
            self.store_access_data(box_id, &old, user, password, true)
        })
    }

    /// Reads a box, applies `edit`, writes it back if it changed, with a
    /// state or open-addressing event as fits.
    fn change_box(
        &self,
        id: &BoxId,
        edit: impl Fn(&mut DataBox) -> Result<(), Refusal>,
    ) -> Result<DataBox, AdminError> {
        retry(|| {
            let old = self.existing_box(id)?;
            let mut new = old.value.clone();
            edit(&mut new)?;
            if new == old.value {
                return Ok(new);
            }
            let event = if new.state != old.value.state {
                AdminEvent::BoxStateChanged {
                    box_id: id.clone(),
                    from: old.value.state,
                    to: new.state,
                }
            } else if new.open_addressing != old.value.open_addressing {
                AdminEvent::OpenAddressingChanged {
                    box_id: id.clone(),
                    open: new.open_addressing,
                }
            } else {
                AdminEvent::BoxDescriptionChanged { box_id: id.clone() }
            };
            let mut batch = Batch::new();
            repo::stage_update_box(&mut batch, &old, &new);
            if old.value.is_accessible() && !new.is_accessible() {
                // Messages waiting for the box become undeliverable with the
                // change itself.
                let now = Timestamp::from_unix_seconds(self.now);
                lifecycle::run_due_at(self.store, now)?;
                lifecycle::stage_box_became_inaccessible(self.store, &mut batch, id, now)?;
            }
            crate::domain::boxes::activity::stage_change(
                self.store,
                &mut batch,
                id,
                self.now,
                old.value.state,
                new.state,
            )?;
            self.finish(batch, &[event])?;
            Ok(new)
        })
    }

    fn existing_box(&self, id: &BoxId) -> Result<Stored<DataBox>, AdminError> {
        repo::get_box_stored(self.store, id)?
            .ok_or_else(|| Refusal::BoxNotFound(id.to_string()).into())
    }

    /// The user `who` of box `box_id`.
    /// Gives `user` (stored as `old`) the new `password`, durably with the
    /// notice of it, and returns the access data to hand out.
    fn store_access_data(
        &self,
        box_id: &BoxId,
        old: &Stored<User>,
        mut user: User,
        password: String,
        must_change: bool,
    ) -> Result<AccessData, AdminError> {
        user.password = PasswordHash::new(&password)?;
        user.password_set_at = self.now;
        user.must_change_password = must_change;
        let mut batch = Batch::new();
        repo::stage_update_user(&mut batch, old, &user);
        self.finish(
            batch,
            &[AdminEvent::AccessDataIssued {
                box_id: box_id.clone(),
                user_id: user.id.clone(),
            }],
        )?;
        Ok(AccessData {
            user_id: user.id,
            login: user.login,
            password,
            must_change_password: must_change,
        })
    }

    fn resolve(&self, box_id: &BoxId, who: &UserRef) -> Result<Stored<User>, AdminError> {
        let not_found = || -> AdminError {
            Refusal::UserNotFound {
                box_id: box_id.clone(),
                user: who.to_string(),
            }
            .into()
        };
        let id = match who {
            UserRef::IsdsId(s) => UserId::from_isds_id(s),
            UserRef::Named(s) => match UserId::parse(s) {
                Ok(id) if repo::get_user(self.store, &id)?.is_some() => Some(id),
                _ => repo::user_by_login(self.store, s)?.map(|u| u.id),
            },
        };
        let Some(id) = id else {
            return Err(not_found());
        };
        match repo::get_user_stored(self.store, &id)? {
            Some(u) if u.value.box_id == *box_id => Ok(u),
            _ => Err(not_found()),
        }
    }

    /// Refuses to take away the primary user of an FO or PFO box (its
    /// owner; box-management manual 2.5: "Uživatele typu primární
    /// oprávněná osoba u FO a PFO nelze zrušit", table row 1009). A PO or
    /// OVM box may be left without one (2.4: "legální stav").
    fn require_other_primary(&self, user: &User) -> Result<(), AdminError> {
        let owned_by_person =
            repo::get_box(self.store, &user.box_id)?.is_some_and(|b| b.box_type.code() >= 30);
        if !owned_by_person {
            return Ok(());
        }
        let others = repo::users_of_box(self.store, &user.box_id)?
            .iter()
            .any(|u| u.id != user.id && u.user_type == UserType::PrimaryUser);
        if others {
            Ok(())
        } else {
            Err(Refusal::LastPrimaryUser(user.box_id.clone()).into())
        }
    }

    /// A new user record of box `box_id` with fresh ID and password.
    fn build_user(&self, box_id: &BoxId, spec: &NewUser) -> Result<(User, AccessData), AdminError> {
        let id = fresh_user_id();
        let login = spec.login.clone().unwrap_or_else(|| id.to_string());
        if repo::login_exists(self.store, &login)? {
            return Err(Refusal::LoginExists(login).into());
        }
        let (password, must_change) = match &spec.password {
            Some(p) => {
                credentials::check_password_rules(p, &login).map_err(Refusal::Password)?;
                (p.clone(), spec.must_change_password)
            }
            None => (credentials::generate_password(&login), true),
        };
        let user = User {
            id: id.clone(),
            box_id: box_id.clone(),
            login: login.clone(),
            user_type: spec.user_type,
            privileges: kept_privileges(spec.user_type, spec.privileges),
            name: spec.name.clone(),
            password: PasswordHash::new(&password)?,
            password_set_at: self.now,
            must_change_password: must_change,
            personal: Box::new(spec.personal.clone()),
        };
        Ok((
            user,
            AccessData {
                user_id: id,
                login,
                password,
                must_change_password: must_change,
            },
        ))
    }

    /// Stages the notices of `events` and commits the batch.
    fn finish(&self, mut batch: Batch, events: &[AdminEvent]) -> Result<(), AdminError> {
        for event in events {
            self.notices.stage(self.store, &mut batch, event)?;
        }
        repo::commit(self.store, batch)?;
        Ok(())
    }
}

/// A primary user that must carry the manual's items without them is
/// refused (WS_sprava_datovych_schranek, 2.1 and 2.4).
fn check_personal_data(u: &NewUser) -> Result<(), Refusal> {
    if u.personal_required && u.user_type == UserType::PrimaryUser {
        u.personal
            .check_primary(&u.name)
            .map_err(Refusal::PersonalData)?;
    }
    Ok(())
}

/// The primary user of a box created without one: its owner, whose
/// personal items the user record repeats ("V UserInfo jsou pouze
/// překopírované údaje z OwnerInfo", WS_sprava_datovych_schranek, 1.6).
pub fn primary_user_of_owner(owner: &Owner) -> NewUser {
    let mut user = NewUser::new(
        UserType::PrimaryUser,
        Privileges::ALL,
        PersonName {
            first_name: owner.first_name.clone(),
            middle_name: String::new(),
            last_name: owner.last_name.clone(),
        },
    );
    user.personal = PersonalData {
        birth_date: owner.birth_date.clone(),
        last_name_at_birth: owner.last_name_at_birth.clone(),
        address: owner.address.clone(),
        address_code: owner.address_code.clone(),
        email: owner.email.clone(),
        ..PersonalData::default()
    };
    user
}

/// Runs `attempt` again after a conflict (a concurrent change, a generated
/// ID or login that was taken meanwhile), a bounded number of times.
fn retry<T>(mut attempt: impl FnMut() -> Result<T, AdminError>) -> Result<T, AdminError> {
    let mut tries = 1;
    loop {
        match attempt() {
            Err(AdminError::Repo(RepoError::Conflict(_))) if tries < MAX_ATTEMPTS => tries += 1,
            other => return other,
        }
    }
}

fn require_operator(actor: &Actor, what: &str) -> Result<(), Refusal> {
    match actor {
        Actor::Operator => Ok(()),
        Actor::User(_) => Err(Refusal::NotPermitted(format!(
            "only the operator may {what}"
        ))),
    }
}

/// The operator, or an administrator of box `box_id`.
fn require_box_admin(actor: &Actor, box_id: &BoxId, what: &str) -> Result<(), Refusal> {
    match actor {
        Actor::Operator => Ok(()),
        Actor::User(u) if u.box_id == *box_id && is_box_administrator(u) => Ok(()),
        Actor::User(_) => Err(Refusal::NotPermitted(format!(
            "only the operator or an administrator of box {box_id} may {what}"
        ))),
    }
}

/// Whether `actor` may manage users of type `t`: entrusted users any box
/// administrator, administrators a primary user, the rest the operator.
fn require_type(actor: &Actor, t: UserType) -> Result<(), Refusal> {
    let allowed = match actor {
        Actor::Operator => true,
        Actor::User(u) => match t {
            UserType::EntrustedUser => true,
            UserType::Administrator => u.user_type == UserType::PrimaryUser,
            _ => false,
        },
    };
    if allowed {
        Ok(())
    } else {
        Err(Refusal::NotPermitted(format!(
            "users of type {} are managed by {}",
            t.name(),
            if t == UserType::Administrator {
                "a primary user or the operator"
            } else {
                "the operator only"
            }
        )))
    }
}

/// The rights a user of type `t` holds when given `p`: an administrator
/// keeps PRIVIL_OWNER_ADM (32) whatever `userPrivils` says, since it
/// "cannot be taken away" (messages manual 1.4; box-management manual 2.4:
/// administrators have it automatically, other rights may be added).
/// GetDataBoxUsers2 then shows the rights with 32 set.
fn kept_privileges(t: UserType, p: Privileges) -> Privileges {
    if t == UserType::Administrator {
        Privileges(p.0 | Privileges::OWNER_ADM)
    } else {
        p
    }
}

fn check_privileges(p: Privileges) -> Result<(), Refusal> {
    if p.0 > Privileges::ALL.0 {
        return Err(Refusal::Invalid(format!(
            "privileges {} exceed the mask {}",
            p.0,
            Privileges::ALL.0
        )));
    }
    Ok(())
}

fn check_new_user(u: &NewUser) -> Result<(), Refusal> {
    check_privileges(u.privileges)?;
    if let Some(login) = &u.login {
        let ok = !login.is_empty()
            && login.len() <= 64
            && login
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c));
        if !ok {
            return Err(Refusal::Invalid(format!(
                "login {login:?}: 1 to 64 characters from a-z, A-Z, 0-9 and . _ @ -"
            )));
        }
    }
    Ok(())
}

fn refuse_removed(b: &DataBox) -> Result<(), Refusal> {
    if b.state == BoxState::Removed {
        Err(state_refusal(b))
    } else {
        Ok(())
    }
}

fn state_refusal(b: &DataBox) -> Refusal {
    Refusal::BoxState {
        box_id: b.id.clone(),
        state: u8::from(b.state),
    }
}

const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn random_id(len: usize) -> String {
    (0..len)
        .map(|_| char::from(ID_ALPHABET[credentials::random_below(ID_ALPHABET.len())]))
        .collect()
}

/// A random box ID; uniqueness is checked when it is written.
fn fresh_box_id() -> BoxId {
    loop {
        let s = random_id(7);
        if let Some(id) = BoxId::parse(&s)
            .ok()
            .filter(|id| id.as_str() != SYSTEM_BOX_ID)
        {
            return id;
        }
    }
}

/// A random user ID; uniqueness is checked when it is written.
fn fresh_user_id() -> UserId {
    loop {
        if let Ok(id) = UserId::parse(&random_id(6)) {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::world::{DEMO_WORLD, World};
    use crate::store::open_memory;
    use std::sync::Arc;

    fn demo() -> Arc<dyn Store> {
        let store = open_memory();
        let world = World::parse(DEMO_WORLD, "demo", 0).unwrap();
        crate::domain::world::store::insert_world(store.as_ref(), &world).unwrap();
        store
    }

    fn user(store: &dyn Store, login: &str) -> Actor {
        Actor::User(repo::user_by_login(store, login).unwrap().unwrap())
    }

    fn bid(s: &str) -> BoxId {
        BoxId::parse(s).unwrap()
    }

    fn refusal(r: Result<impl std::fmt::Debug, AdminError>) -> Refusal {
        match r {
            Err(AdminError::Refused(r)) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_operator_creates_a_box_with_a_primary_user_and_generated_ids() {
        let store = demo();
        let admin = Admin::new(store.as_ref(), &NoSystemNotices, 1000);
        let created = admin
            .create_box(
                &Actor::Operator,
                NewBox {
                    id: None,
                    box_type: BoxType::PO,
                    owner: Owner {
                        firm_name: "Nová s.r.o.".into(),
                        ..Owner::default()
                    },
                    effective_ovm: None,
                    open_addressing: false,
                    unlimited_password_validity: false,
                    attachment_limit_mb: None,
                    primary_users: Vec::new(),
                },
            )
            .unwrap();
        let b = &created.databox;
        assert_eq!(b.id.as_str().len(), 7);
        assert!(!b.effective_ovm);
        assert_eq!(created.access.len(), 1);
        let a = &created.access[0];
        assert_eq!(a.login, a.user_id.as_str());
        assert!(a.must_change_password);
        let stored = repo::user_by_login(store.as_ref(), &a.login)
            .unwrap()
            .unwrap();
        assert_eq!(stored.box_id, b.id);
        assert_eq!(stored.user_type, UserType::PrimaryUser);
        assert!(stored.password.verify(&a.password));
        assert_eq!(stored.password_set_at, 1000);
        assert_eq!(repo::users_of_box(store.as_ref(), &b.id).unwrap().len(), 1);

        // A chosen ID that exists is refused; a box user may not create.
        let mut spec = NewBox {
            id: Some(bid("po4demo")),
            box_type: BoxType::PO,
            owner: Owner::default(),
            effective_ovm: None,
            open_addressing: false,
            unlimited_password_validity: false,
            attachment_limit_mb: None,
            primary_users: Vec::new(),
        };
        assert_eq!(
            refusal(admin.create_box(&Actor::Operator, spec.clone())),
            Refusal::BoxExists(bid("po4demo"))
        );
        spec.id = None;
        assert!(matches!(
            refusal(admin.create_box(&user(store.as_ref(), "po_jednatel"), spec)),
            Refusal::NotPermitted(_)
        ));
    }

    #[test]
    fn box_administrators_manage_entrusted_users_of_their_own_box_only() {
        let store = demo();
        let admin = Admin::new(store.as_ref(), &NoSystemNotices, 0);
        let primary = user(store.as_ref(), "po_jednatel");
        let entrusted = user(store.as_ref(), "po_ucetni");
        let spec = NewUser::new(
            UserType::EntrustedUser,
            Privileges(Privileges::VIEW_INFO),
            PersonName::default(),
        );
        let po = bid("po4demo");
        let added = admin.add_user(&primary, &po, spec.clone()).unwrap();
        assert!(matches!(
            refusal(admin.add_user(&primary, &bid("ovm4dem"), spec.clone())),
            Refusal::NotPermitted(_)
        ));
        assert!(matches!(
            refusal(admin.add_user(&entrusted, &po, spec.clone())),
            Refusal::NotPermitted(_)
        ));
        // Primary users are the operator's business.
        let mut primary_spec = spec.clone();
        primary_spec.user_type = UserType::PrimaryUser;
        assert!(matches!(
            refusal(admin.add_user(&primary, &po, primary_spec)),
            Refusal::NotPermitted(_)
        ));

        let who = UserRef::IsdsId(added.user_id.isds_id());
        let changed = admin
            .update_user(
                &primary,
                &po,
                &who,
                &UserChange {
                    privileges: Some(Privileges(9)),
                    ..UserChange::default()
                },
            )
            .unwrap();
        assert_eq!(changed.privileges, Privileges(9));
        assert!(matches!(
            refusal(admin.update_user(
                &primary,
                &po,
                &UserRef::Named("ovm_starosta".into()),
                &UserChange::default()
            )),
            Refusal::UserNotFound { .. }
        ));

        let removed = admin
            .delete_user(&primary, &po, &UserRef::Named(added.login.clone()))
            .unwrap();
        assert_eq!(removed.id, added.user_id);
        assert!(
            repo::user_by_login(store.as_ref(), &added.login)
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            refusal(admin.delete_user(&primary, &po, &who)),
            Refusal::UserNotFound { .. }
        ));
        // The primary user of an FO box stays, even for the operator; a PO
        // box may be left without one.
        let fo = bid("fo4demo");
        assert_eq!(
            refusal(admin.delete_user(&Actor::Operator, &fo, &UserRef::Named("fopu01".into()))),
            Refusal::LastPrimaryUser(fo.clone())
        );
        admin
            .delete_user(&Actor::Operator, &po, &UserRef::Named("popu01".into()))
            .unwrap();
    }

    #[test]
    fn state_changes_follow_the_rules() {
        let store = demo();
        let admin = Admin::new(store.as_ref(), &NoSystemNotices, 0);
        let primary = user(store.as_ref(), "po_jednatel");
        let po = bid("po4demo");
        assert!(matches!(
            refusal(admin.change_state(&primary, &po, StateChange::EnableOwn)),
            Refusal::BoxState { state: 1, .. }
        ));
        let b = admin
            .change_state(&primary, &po, StateChange::DisableOwn)
            .unwrap();
        assert_eq!(b.state, BoxState::TemporarilyInaccessible);
        assert!(matches!(
            refusal(admin.change_state(&primary, &po, StateChange::DisableExternally)),
            Refusal::NotPermitted(_)
        ));
        let b = admin
            .change_state(&primary, &po, StateChange::EnableOwn)
            .unwrap();
        assert_eq!(b.state, BoxState::Accessible);
        let b = admin.remove_box(&Actor::Operator, &po).unwrap();
        assert_eq!(b.state, BoxState::Removed);
        assert!(matches!(
            refusal(admin.set_open_addressing(&Actor::Operator, &po, false)),
            Refusal::BoxState { state: 5, .. }
        ));
        assert!(matches!(
            refusal(admin.remove_box(&Actor::Operator, &bid("nobox00"))),
            Refusal::BoxNotFound(_)
        ));
    }

    #[test]
    fn new_access_data_replaces_the_password_and_forces_a_change() {
        let store = demo();
        let admin = Admin::new(store.as_ref(), &NoSystemNotices, 5);
        let po = bid("po4demo");
        let who = UserRef::Named("po_ucetni".into());
        let data = admin
            .new_access_data(&Actor::Operator, &po, &who, None, false)
            .unwrap();
        assert_eq!(data.login, "po_ucetni");
        assert!(data.must_change_password);
        let u = repo::user_by_login(store.as_ref(), "po_ucetni")
            .unwrap()
            .unwrap();
        assert!(u.password.verify(&data.password));
        assert!(!u.password.verify("Demo-Ucetni-2026!"));
        assert!(u.must_change_password);
        // A given password is checked against the rules.
        assert!(matches!(
            refusal(admin.new_access_data(
                &Actor::Operator,
                &po,
                &who,
                Some("short".into()),
                false
            )),
            Refusal::Password(_)
        ));
    }

    #[test]
    fn concurrent_changes_of_one_record_are_retried_not_lost() {
        let store = demo();
        let po = bid("po4demo");
        let threads: Vec<_> = (0..4)
            .map(|n| {
                let store = store.clone();
                let po = po.clone();
                std::thread::spawn(move || {
                    let admin = Admin::new(store.as_ref(), &NoSystemNotices, 0);
                    for i in 0..25 {
                        admin
                            .set_open_addressing(&Actor::Operator, &po, (n + i) % 2 == 0)
                            .unwrap();
                        admin
                            .update_user(
                                &Actor::Operator,
                                &po,
                                &UserRef::Named("poeu01".into()),
                                &UserChange {
                                    privileges: Some(Privileges(n * 25 + i)),
                                    ..UserChange::default()
                                },
                            )
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let u = repo::user_by_login(store.as_ref(), "po_ucetni")
            .unwrap()
            .unwrap();
        assert!(u.privileges.0 < 100);
        assert_eq!(repo::users_of_box(store.as_ref(), &po).unwrap().len(), 3);
    }

    struct Recording(std::sync::Mutex<Vec<AdminEvent>>);

    impl SystemNotices for Recording {
        fn stage(&self, _: &dyn Store, _: &mut Batch, e: &AdminEvent) -> Result<(), RepoError> {
            self.0.lock().unwrap().push(e.clone());
            Ok(())
        }
    }

    #[test]
    fn changes_report_their_events() {
        let store = demo();
        let notices = Recording(std::sync::Mutex::new(Vec::new()));
        let admin = Admin::new(store.as_ref(), &notices, 0);
        let po = bid("po4demo");
        admin
            .set_open_addressing(&Actor::Operator, &po, false)
            .unwrap();
        admin
            .change_state(&Actor::Operator, &po, StateChange::DisableExternally)
            .unwrap();
        assert_eq!(
            *notices.0.lock().unwrap(),
            vec![
                AdminEvent::OpenAddressingChanged {
                    box_id: po.clone(),
                    open: false
                },
                AdminEvent::BoxStateChanged {
                    box_id: po.clone(),
                    from: BoxState::Accessible,
                    to: BoxState::InaccessibleByLaw
                },
            ]
        );
    }
}
