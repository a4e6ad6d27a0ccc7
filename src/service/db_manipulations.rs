//! db_manipulations (`/DS/DsManage`): box and user administration for the
//! gateway operator and, on their own box, the box's administrators.
//!
//! The rules live in [`crate::domain::admin`]; this module maps the
//! requests onto it and its outcomes onto responses. Two points where the
//! gateway must stand in for what ISDS does outside the interface:
//! - Access data. ISDS never returns a password: it posts or e-mails the
//!   access data and answers with `dbAccessDataId`, an identifier of that
//!   delivery. The gateway has no post, so `dbAccessDataId` carries the
//!   access data itself, as `LOGIN:PASSWORD` (several users separated by a
//!   space, in `CreateDataBox`). Generated passwords must be changed at the
//!   first login. `dbUserID` is the user ID, as `userID` is everywhere.
//! - Dates. A termination or disabling date takes effect at once.

use super::{CallContext, Rejection, Reply, ServiceError, Services, db_status, non_empty, respond};
use crate::domain::admin::{
    AccessData, Actor, Admin, AdminError, NewBox, NewUser, NoSystemNotices, Refusal, StateChange,
    SystemNotices, UserChange, UserRef,
};
use crate::domain::{
    BoxId, BoxType, DataBox, MissingPersonalData, Owner, PersonName, PersonalData, Privileges,
    User, UserType,
};
use crate::schema::{
    AddDataBoxUser2Response, AddDataBoxUserResponse, ClearOpenAddressingResponse,
    CreateDataBox2Response, CreateDataBoxResponse, DeleteDataBox2Response, DeleteDataBoxResponse,
    DeleteDataBoxUser2Response, DeleteDataBoxUserResponse, DisableDataBoxExternally2Response,
    DisableDataBoxExternallyResponse, DisableOwnDataBox2Response, DisableOwnDataBoxResponse,
    EnableOwnDataBox2Response, EnableOwnDataBoxResponse, GetDataBoxUsers2Response,
    NewAccessData2Response, NewAccessDataResponse, OperationInfo, Request,
    SetOpenAddressingResponse, TAddDBUserOutput, TAddDBUserOutput2, TCreateDBOutput,
    TCreateDBOutput2, TDbReqStatus, TDbUsersArray2, TDbUsersArray2DbUserInfo, TGetDBUsers2Output,
    TNewAccDataOutput, TNewAccDataOutput2, TReqStatusOutput, UpdateDataBoxDescr2Response,
    UpdateDataBoxDescrResponse, UpdateDataBoxUser2Response, UpdateDataBoxUserResponse,
};
use crate::soap::Fault;
use crate::status::{IsdsCode, IsdsStatus};

/// The owner of a version-1 description (`tDbOwnerInfoExt` and its kin).
macro_rules! owner_v1 {
    ($o:expr) => {{
        let o = $o;
        let first = [text(&o.pn_first_name), text(&o.pn_middle_name)]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Owner {
            firm_name: text(&o.firm_name),
            ic: text(&o.ic),
            first_name: first,
            last_name: text(&o.pn_last_name),
            birth_date: text(&o.bi_date),
            birth_city: text(&o.bi_city),
            birth_county: text(&o.bi_county),
            birth_state: text(&o.bi_state),
            last_name_at_birth: text(&o.pn_last_name_at_birth),
            address: crate::domain::BoxAddress {
                city: text(&o.ad_city),
                district: text(&o.ad_district),
                street: text(&o.ad_street),
                number_in_street: text(&o.ad_number_in_street),
                number_in_municipality: text(&o.ad_number_in_municipality),
                zip_code: text(&o.ad_zip_code),
                state: text(&o.ad_state),
            },
            address_code: text(&o.ad_am_code),
            nationality: text(&o.nationality),
            email: text(&o.email),
            telephone: text(&o.tel_number),
            identifier: text(&o.identifier),
            registry_code: text(&o.registry_code),
            id_ovm: String::new(),
        }
    }};
}

/// The owner of a version-2 description (`tDbOwnerInfoExt2` and its kin).
macro_rules! owner_v2 {
    ($o:expr) => {{
        let o = $o;
        Owner {
            firm_name: text(&o.firm_name),
            ic: text(&o.ic),
            first_name: text(&o.pn_given_names),
            last_name: text(&o.pn_last_name),
            birth_date: text(&o.bi_date),
            birth_city: text(&o.bi_city),
            birth_county: text(&o.bi_county),
            birth_state: text(&o.bi_state),
            address: crate::domain::BoxAddress {
                city: text(&o.ad_city),
                district: text(&o.ad_district),
                street: text(&o.ad_street),
                number_in_street: text(&o.ad_number_in_street),
                number_in_municipality: text(&o.ad_number_in_municipality),
                zip_code: text(&o.ad_zip_code),
                state: text(&o.ad_state),
            },
            address_code: text(&o.ad_code),
            nationality: text(&o.nationality),
            id_ovm: text(&o.db_id_ovm),
            ..Owner::default()
        }
    }};
}

/// The personal items of a user description (`tDbUserInfo` and its kin;
/// `$code` is its address-code element). Every item is taken as given,
/// absent ones empty: "Při editaci údajů ... je nutno ... psát všechny
/// hodnoty, i ty, co zůstávají stejné. V opačném případě se přepíší
/// prázdným řetězcem" (WS_sprava_datovych_schranek, 1.4).
macro_rules! personal {
    ($u:expr, $code:ident, $at_birth:expr) => {{
        let u = $u;
        crate::domain::PersonalData {
            birth_date: text(&u.bi_date),
            last_name_at_birth: $at_birth,
            address: crate::domain::BoxAddress {
                city: text(&u.ad_city),
                district: text(&u.ad_district),
                street: text(&u.ad_street),
                number_in_street: text(&u.ad_number_in_street),
                number_in_municipality: text(&u.ad_number_in_municipality),
                zip_code: text(&u.ad_zip_code),
                state: text(&u.ad_state),
            },
            address_code: text(&u.$code),
            contact: crate::domain::ContactAddress {
                street: text(&u.ca_street),
                city: text(&u.ca_city),
                zip_code: text(&u.ca_zip_code),
                state: text(&u.ca_state),
            },
            ic: text(&u.ic),
            firm_name: text(&u.firm_name),
            email: String::new(),
        }
    }};
}

/// A new user from a version-1 description.
macro_rules! new_user_v1 {
    ($u:expr, $default:expr) => {{
        let u = $u;
        user_type(u.user_type.as_deref(), $default).and_then(|t| {
            new_user(
                t,
                u.user_privils,
                name_v1(&u.pn_first_name, &u.pn_middle_name, &u.pn_last_name),
                personal!(u, ad_am_code, text(&u.pn_last_name_at_birth)),
            )
        })
    }};
}

/// A new user from a version-2 description.
macro_rules! new_user_v2 {
    ($u:expr, $default:expr) => {{
        let u = $u;
        user_type(u.user_type.as_deref(), $default).and_then(|t| {
            new_user(
                t,
                u.user_privils,
                name_v2(&u.pn_given_names, &u.pn_last_name),
                personal!(u, ad_code, String::new()),
            )
        })
    }};
}

/// Replaces the owner items a new description gives (non-nil), keeping
/// the others.
macro_rules! set_given {
    ($target:expr, $value:expr) => {
        if let Some(v) = $value.as_deref() {
            $target = v.trim().to_owned();
        }
    };
}

macro_rules! update_owner_common {
    ($owner:expr, $n:expr) => {{
        let (owner, n) = ($owner, $n);
        set_given!(owner.firm_name, n.firm_name);
        set_given!(owner.ic, n.ic);
        set_given!(owner.last_name, n.pn_last_name);
        set_given!(owner.birth_date, n.bi_date);
        set_given!(owner.birth_city, n.bi_city);
        set_given!(owner.address.city, n.ad_city);
        set_given!(owner.address.district, n.ad_district);
        set_given!(owner.address.street, n.ad_street);
        set_given!(owner.address.number_in_street, n.ad_number_in_street);
        set_given!(
            owner.address.number_in_municipality,
            n.ad_number_in_municipality
        );
        set_given!(owner.address.zip_code, n.ad_zip_code);
        set_given!(owner.address.state, n.ad_state);
        set_given!(owner.birth_county, n.bi_county);
        set_given!(owner.birth_state, n.bi_state);
        set_given!(owner.nationality, n.nationality);
    }};
}

macro_rules! update_owner_v1 {
    ($owner:expr, $n:expr) => {{
        let (owner, n) = ($owner, $n);
        if n.pn_first_name.is_some() || n.pn_middle_name.is_some() {
            owner.first_name = [text(&n.pn_first_name), text(&n.pn_middle_name)]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
        }
        update_owner_common!(&mut *owner, n);
        set_given!(owner.last_name_at_birth, n.pn_last_name_at_birth);
        set_given!(owner.address_code, n.ad_am_code);
        set_given!(owner.email, n.email);
        set_given!(owner.telephone, n.tel_number);
        set_given!(owner.identifier, n.identifier);
        set_given!(owner.registry_code, n.registry_code);
    }};
}

macro_rules! update_owner_v2 {
    ($owner:expr, $n:expr) => {{
        let (owner, n) = ($owner, $n);
        set_given!(owner.first_name, n.pn_given_names);
        update_owner_common!(&mut *owner, n);
        set_given!(owner.address_code, n.ad_code);
        set_given!(owner.id_ovm, n.db_id_ovm);
    }};
}

/// Where administration events go. The one place to plug in system
/// messages from the system box once the gateway stores messages.
fn system_notices() -> &'static dyn SystemNotices {
    &NoSystemNotices
}

/// A request's outcome before it becomes a response: a value, or the
/// status block of a refusal.
type Outcome<T> = Result<T, IsdsStatus>;

pub(super) async fn handle(
    svc: &Services,
    ctx: &CallContext<'_>,
    op: &OperationInfo,
    request: Request,
) -> Reply {
    let me = ctx.identity;
    // Software is not a person: a login by the box's system certificate
    // (/cert) or by a hosted records service (/hspis) holds the fixed
    // rights 159 of a "virtual" user, without PRIVIL_OWNER_ADM (messages
    // manual 1.4), and every operation here needs that right or an
    // internal one (box-management manual 2.4-2.7, 2.9, 2.10): 1004.
    if matches!(
        me.actor,
        crate::auth::Actor::Application | crate::auth::Actor::HostedProvider { .. }
    ) {
        let status = IsdsStatus::new(IsdsCode::NotPermitted);
        return crate::schema::status_response(op.name, status.code.code(), &status.message)
            .map(Into::into)
            .ok_or_else(|| Fault::server(format!("{} has no status response", op.name)).into());
    }
    let actor = if me.is_operator() {
        Actor::Operator
    } else {
        Actor::User(User::clone(&me.user))
    };
    // Where a version-1 request leaves the box out, a box user means their
    // own box; the operator must name one.
    let own_box = (!me.is_operator()).then(|| me.databox.id.clone());
    let target = |id: Option<&str>| -> Outcome<BoxId> {
        match id.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => BoxId::parse(s).map_err(|_| IsdsStatus::new(IsdsCode::BoxNotFound)),
            None => own_box.clone().ok_or_else(|| invalid("dbID is required")),
        }
    };

    match request {
        Request::CreateDataBox(req) => {
            let spec = (|| {
                let o = &req.db_owner_info;
                let mut users = Vec::new();
                for u in &req.db_primary_users.db_user_info {
                    users.push(new_user_v1!(u, UserType::PrimaryUser)?);
                }
                let owner = owner_v1!(o);
                let users = primary_users(users, &owner, None)?;
                Ok(NewBox {
                    id: requested_box_id(o.db_id.as_deref())?,
                    box_type: box_type(o.db_type.as_deref())?,
                    owner,
                    effective_ovm: o.db_effective_ovm,
                    open_addressing: o.db_open_addressing.unwrap_or(false),
                    unlimited_password_validity: false,
                    attachment_limit_mb: None,
                    primary_users: users,
                })
            })();
            let out = match spec {
                Ok(spec) => run(svc, move |a| a.create_box(&actor, spec)).await?,
                Err(status) => Err(status),
            };
            let (db_id, db_user_id, db_access_data_id, status) = created_fields(out);
            respond(&CreateDataBoxResponse(TCreateDBOutput {
                db_id,
                db_user_id,
                db_access_data_id,
                db_status: status,
            }))
        }
        Request::CreateDataBox2(req) => {
            let spec = (|| {
                let o = &req.db_owner_info;
                let mut users = Vec::new();
                for u in &req.db_primary_users.db_user_info {
                    users.push(new_user_v2!(u, UserType::PrimaryUser)?);
                }
                let mut owner = owner_v2!(o);
                owner.last_name_at_birth = text(&req.pn_last_name_at_birth);
                let users = primary_users(users, &owner, req.notif_email.as_deref())?;
                Ok(NewBox {
                    id: requested_box_id(o.db_id.as_deref())?,
                    box_type: box_type(o.db_type.as_deref())?,
                    owner,
                    effective_ovm: None,
                    open_addressing: o.db_open_addressing.unwrap_or(false),
                    unlimited_password_validity: false,
                    attachment_limit_mb: None,
                    primary_users: users,
                })
            })();
            let out = match spec {
                Ok(spec) => run(svc, move |a| a.create_box(&actor, spec)).await?,
                Err(status) => Err(status),
            };
            let (db_id, db_user_id, db_access_data_id, status) = created_fields(out);
            respond(&CreateDataBox2Response(TCreateDBOutput2 {
                db_id,
                db_user_id,
                db_access_data_id,
                db_status: status,
            }))
        }
        Request::DeleteDataBox(req) => {
            let status = on_box(
                svc,
                target(req.db_owner_info.db_id.as_deref()),
                move |a, id| a.remove_box(&actor, &id),
            )
            .await?;
            respond(&DeleteDataBoxResponse(status_output(status)))
        }
        Request::DeleteDataBox2(req) => {
            let status = on_box(svc, target(Some(&req.db_id)), move |a, id| {
                a.remove_box(&actor, &id)
            })
            .await?;
            respond(&DeleteDataBox2Response(status_output(status)))
        }
        Request::UpdateDataBoxDescr(req) => {
            let new = req.db_new_owner_info.clone();
            let status = on_box(
                svc,
                target(req.db_old_owner_info.db_id.as_deref()),
                move |a, id| {
                    a.update_box(&actor, &id, |b| {
                        same_box(b, new.db_id.as_deref())?;
                        if let Some(t) = new.db_type.as_deref() {
                            b.box_type = box_type_refusal(t)?;
                        }
                        update_owner_v1!(&mut b.owner, &new);
                        Ok(())
                    })
                },
            )
            .await?;
            respond(&UpdateDataBoxDescrResponse(status_output(status)))
        }
        Request::UpdateDataBoxDescr2(req) => {
            let new = req.db_new_owner_info.clone();
            let status = on_box(svc, target(Some(&req.db_id.value)), move |a, id| {
                a.update_box(&actor, &id, |b| {
                    same_box(b, new.db_id.as_deref())?;
                    if let Some(t) = new.db_type.as_deref() {
                        b.box_type = box_type_refusal(t)?;
                    }
                    update_owner_v2!(&mut b.owner, &new);
                    Ok(())
                })
            })
            .await?;
            respond(&UpdateDataBoxDescr2Response(status_output(status)))
        }
        Request::AddDataBoxUser(req) => {
            let spec = new_user_v1!(&req.db_user_info, UserType::EntrustedUser)
                .and_then(|u| checked_new_user(u, req.email.as_deref()));
            let box_id = target(req.db_owner_info.db_id.as_deref());
            let out = add_user(svc, actor, box_id, spec).await?;
            let (db_id, db_access_data_id, status) = added_fields(out);
            respond(&AddDataBoxUserResponse(TAddDBUserOutput {
                db_id,
                db_access_data_id,
                db_status: status,
            }))
        }
        Request::AddDataBoxUser2(req) => {
            let spec = new_user_v2!(&req.db_user_info, UserType::EntrustedUser)
                .and_then(|u| checked_new_user(u, req.email.as_deref()));
            let box_id = target(Some(&req.db_id.value));
            let out = add_user(svc, actor, box_id, spec).await?;
            let (db_id, db_access_data_id, status) = added_fields(out);
            respond(&AddDataBoxUser2Response(TAddDBUserOutput2 {
                db_id,
                db_access_data_id,
                db_status: status,
            }))
        }
        Request::DeleteDataBoxUser(req) => {
            let who = named_user(req.db_user_info.user_id.as_deref());
            let status = on_user(
                svc,
                target(req.db_owner_info.db_id.as_deref()),
                who,
                move |a, id, who| a.delete_user(&actor, &id, &who),
            )
            .await?;
            respond(&DeleteDataBoxUserResponse(status_output(status)))
        }
        Request::DeleteDataBoxUser2(req) => {
            let who = Ok(UserRef::IsdsId(req.isds_id.clone()));
            let status = on_user(
                svc,
                target(Some(&req.db_id.value)),
                who,
                move |a, id, who| a.delete_user(&actor, &id, &who),
            )
            .await?;
            respond(&DeleteDataBoxUser2Response(status_output(status)))
        }
        Request::UpdateDataBoxUser(req) => {
            let who = named_user(req.db_old_user_info.user_id.as_deref());
            let n = &req.db_new_user_info;
            let change = user_change(
                n.user_type.as_deref(),
                n.user_privils,
                [&n.pn_first_name, &n.pn_middle_name, &n.pn_last_name]
                    .iter()
                    .any(|f| f.is_some())
                    .then(|| name_v1(&n.pn_first_name, &n.pn_middle_name, &n.pn_last_name)),
                personal!(n, ad_am_code, text(&n.pn_last_name_at_birth)),
            );
            let status = update_user(
                svc,
                actor,
                target(req.db_owner_info.db_id.as_deref()),
                who,
                change,
            )
            .await?;
            respond(&UpdateDataBoxUserResponse(status_output(status)))
        }
        Request::UpdateDataBoxUser2(req) => {
            let who = Ok(UserRef::IsdsId(req.isds_id.clone()));
            let n = &req.db_new_user_info;
            let change = user_change(
                n.user_type.as_deref(),
                n.user_privils,
                (n.pn_given_names.is_some() || n.pn_last_name.is_some())
                    .then(|| name_v2(&n.pn_given_names, &n.pn_last_name)),
                personal!(n, ad_code, String::new()),
            );
            let status =
                update_user(svc, actor, target(Some(&req.db_id.value)), who, change).await?;
            respond(&UpdateDataBoxUser2Response(status_output(status)))
        }
        Request::NewAccessData(req) => {
            let who = named_user(req.db_user_info.user_id.as_deref());
            let box_id = target(req.db_owner_info.db_id.as_deref());
            let out = new_access_data(svc, actor, box_id, who, req.db_fee_paid).await?;
            let (db_user_id, db_access_data_id, status) = access_fields(out);
            respond(&NewAccessDataResponse(TNewAccDataOutput {
                db_user_id,
                db_access_data_id,
                db_status: status,
            }))
        }
        Request::NewAccessData2(req) => {
            let who = Ok(UserRef::IsdsId(req.isds_id.clone()));
            let box_id = target(Some(&req.db_id.value));
            let out = new_access_data(svc, actor, box_id, who, req.db_fee_paid).await?;
            let (db_user_id, db_access_data_id, status) = access_fields(out);
            respond(&NewAccessData2Response(TNewAccDataOutput2 {
                db_user_id,
                db_access_data_id,
                db_status: status,
            }))
        }
        Request::DisableDataBoxExternally(req) => {
            let status = change_state(
                svc,
                actor,
                target(req.db_owner_info.db_id.as_deref()),
                StateChange::DisableExternally,
            )
            .await?;
            respond(&DisableDataBoxExternallyResponse(status_output(status)))
        }
        Request::DisableDataBoxExternally2(req) => {
            let status = change_state(
                svc,
                actor,
                target(Some(&req.db_id.value)),
                StateChange::DisableExternally,
            )
            .await?;
            respond(&DisableDataBoxExternally2Response(status_output(status)))
        }
        Request::DisableOwnDataBox(req) => {
            let status = change_state(
                svc,
                actor,
                target(req.db_owner_info.db_id.as_deref()),
                StateChange::DisableOwn,
            )
            .await?;
            respond(&DisableOwnDataBoxResponse(status_output(status)))
        }
        Request::DisableOwnDataBox2(req) => {
            let status = change_state(
                svc,
                actor,
                target(Some(&req.db_id.value)),
                StateChange::DisableOwn,
            )
            .await?;
            respond(&DisableOwnDataBox2Response(status_output(status)))
        }
        Request::EnableOwnDataBox(req) => {
            let status = change_state(
                svc,
                actor,
                target(req.db_owner_info.db_id.as_deref()),
                StateChange::EnableOwn,
            )
            .await?;
            respond(&EnableOwnDataBoxResponse(status_output(status)))
        }
        Request::EnableOwnDataBox2(req) => {
            let status = change_state(
                svc,
                actor,
                target(Some(&req.db_id.value)),
                StateChange::EnableOwn,
            )
            .await?;
            respond(&EnableOwnDataBox2Response(status_output(status)))
        }
        Request::SetOpenAddressing(req) => {
            let status = on_box(svc, target(Some(&req.db_id.value)), move |a, id| {
                a.set_open_addressing(&actor, &id, true)
            })
            .await?;
            respond(&SetOpenAddressingResponse(status_output(status)))
        }
        Request::ClearOpenAddressing(req) => {
            let status = on_box(svc, target(Some(&req.db_id.value)), move |a, id| {
                a.set_open_addressing(&actor, &id, false)
            })
            .await?;
            respond(&ClearOpenAddressingResponse(status_output(status)))
        }
        Request::GetDataBoxUsers2(req) => {
            let out = match target(Some(&req.db_id)) {
                Ok(id) => run(svc, move |a| a.list_users(&actor, &id)).await?,
                Err(status) => Err(status),
            };
            let (users, status) = match out {
                Ok(users) => (
                    Some(TDbUsersArray2 {
                        db_user_info: users.iter().map(user_entry).collect(),
                    }),
                    IsdsStatus::ok(),
                ),
                Err(status) => (None, status),
            };
            respond(&GetDataBoxUsers2Response(TGetDBUsers2Output {
                db_users: users,
                db_status: db_status(&status),
            }))
        }
        _ => super::not_implemented(op),
    }
}

/// Runs an administration step on the blocking pool (store calls, password
/// hashing). A refusal becomes a status; a store failure a server fault.
async fn run<T: Send + 'static>(
    svc: &Services,
    step: impl FnOnce(&Admin<'_>) -> Result<T, AdminError> + Send + 'static,
) -> Result<Outcome<T>, Rejection> {
    let store = svc.store.clone();
    let now = svc.clock.unix();
    let result = tokio::task::spawn_blocking(move || {
        let admin = Admin::new(store.as_ref(), system_notices(), now);
        step(&admin)
    })
    .await
    .map_err(ServiceError::from)?;
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(AdminError::Refused(r)) => Ok(Err(refusal_status(&r))),
        Err(AdminError::Repo(e)) => Err(ServiceError::from(e).into()),
        Err(AdminError::Hash(e)) => {
            tracing::error!(error = %e, "password hashing failed");
            Err(Fault::server(super::public_reason(false)).into())
        }
    }
}

/// A step on one box, answered with a status only.
async fn on_box<T: Send + 'static>(
    svc: &Services,
    box_id: Outcome<BoxId>,
    step: impl FnOnce(&Admin<'_>, BoxId) -> Result<T, AdminError> + Send + 'static,
) -> Result<IsdsStatus, Rejection> {
    let id = match box_id {
        Ok(id) => id,
        Err(status) => return Ok(status),
    };
    Ok(match run(svc, move |a| step(a, id)).await? {
        Ok(_) => IsdsStatus::ok(),
        Err(status) => status,
    })
}

/// A step on one user of one box, answered with a status only.
async fn on_user<T: Send + 'static>(
    svc: &Services,
    box_id: Outcome<BoxId>,
    who: Outcome<UserRef>,
    step: impl FnOnce(&Admin<'_>, BoxId, UserRef) -> Result<T, AdminError> + Send + 'static,
) -> Result<IsdsStatus, Rejection> {
    let (id, who) = match (box_id, who) {
        (Ok(id), Ok(who)) => (id, who),
        (Err(status), _) | (_, Err(status)) => return Ok(status),
    };
    Ok(match run(svc, move |a| step(a, id, who)).await? {
        Ok(_) => IsdsStatus::ok(),
        Err(status) => status,
    })
}

async fn change_state(
    svc: &Services,
    actor: Actor,
    box_id: Outcome<BoxId>,
    change: StateChange,
) -> Result<IsdsStatus, Rejection> {
    on_box(svc, box_id, move |a, id| {
        a.change_state(&actor, &id, change)
    })
    .await
}

async fn add_user(
    svc: &Services,
    actor: Actor,
    box_id: Outcome<BoxId>,
    spec: Outcome<NewUser>,
) -> Result<Outcome<(BoxId, AccessData)>, Rejection> {
    let (id, spec) = match (box_id, spec) {
        (Ok(id), Ok(spec)) => (id, spec),
        (Err(status), _) | (_, Err(status)) => return Ok(Err(status)),
    };
    run(svc, move |a| {
        a.add_user(&actor, &id, spec).map(|access| (id, access))
    })
    .await
}

async fn update_user(
    svc: &Services,
    actor: Actor,
    box_id: Outcome<BoxId>,
    who: Outcome<UserRef>,
    change: Outcome<UserChange>,
) -> Result<IsdsStatus, Rejection> {
    let change = match change {
        Ok(c) => c,
        Err(status) => return Ok(status),
    };
    on_user(svc, box_id, who, move |a, id, who| {
        a.update_user(&actor, &id, &who, &change)
    })
    .await
}

async fn new_access_data(
    svc: &Services,
    actor: Actor,
    box_id: Outcome<BoxId>,
    who: Outcome<UserRef>,
    fee_paid: bool,
) -> Result<Outcome<AccessData>, Rejection> {
    let (id, who) = match (box_id, who) {
        (Ok(id), Ok(who)) => (id, who),
        (Err(status), _) | (_, Err(status)) => return Ok(Err(status)),
    };
    run(svc, move |a| {
        a.reissue_access_data(&actor, &id, &who, fee_paid)
    })
    .await
}

/// The status block of a refusal, from the official table of codes: 1004
/// outside the caller's rights, 5001 no such box, 5002 no such user, 1037
/// a removed box, 1025 enabling a box that is not disabled, 1024 any other
/// change the box's state does not allow, 1009 the last primary user, and
/// the general box-administration error 2031 with the reason after its
/// colon where the table has no code of its own (see `crate::status`).
fn refusal_status(r: &Refusal) -> IsdsStatus {
    match r {
        Refusal::NotPermitted(_) => IsdsStatus::new(IsdsCode::NotPermitted),
        Refusal::BoxNotFound(_) => IsdsStatus::new(IsdsCode::BoxNotFound),
        Refusal::UserNotFound { box_id, .. } => {
            IsdsStatus::fill(IsdsCode::UserNotFound, &[box_id.as_str()])
        }
        Refusal::BoxExists(id) => IsdsStatus::fill(
            IsdsCode::BoxExists,
            &[&format!("datová schránka {id} již existuje")],
        ),
        Refusal::LoginExists(login) => IsdsStatus::fill(
            IsdsCode::LoginExists,
            &[&format!("přihlašovací jméno {login} je již použito")],
        ),
        Refusal::BoxState { box_id, state } => {
            let code = match state {
                5 => IsdsCode::BoxRemoved,
                // A refused change of an accessible box can only be
                // enabling it.
                1 => IsdsCode::BoxNotDisabled,
                _ => IsdsCode::BoxStateForbids,
            };
            IsdsStatus::fill(code, &[box_id.as_str()])
        }
        Refusal::LastPrimaryUser(_) => IsdsStatus::new(IsdsCode::LastPrimaryUser),
        Refusal::Invalid(detail) => IsdsStatus::fill(IsdsCode::InvalidRequestData, &[detail]),
        Refusal::Password(rule) => {
            IsdsStatus::fill(IsdsCode::InvalidRequestData, &[&rule.to_string()])
        }
        // The table's own code for each missing item (1014-1033).
        Refusal::FeeConfirmation => IsdsStatus::new(IsdsCode::FeeConfirmationNotPermitted),
        Refusal::PersonalData(missing) => IsdsStatus::new(match missing {
            MissingPersonalData::LastName => IsdsCode::PersonLastNameMissing,
            MissingPersonalData::BirthDate => IsdsCode::PersonBirthDateMissing,
            MissingPersonalData::City => IsdsCode::AddressCityMissing,
            MissingPersonalData::HouseNumber => IsdsCode::AddressNumberMissing,
            MissingPersonalData::ZipCode => IsdsCode::AddressZipMissing,
        }),
    }
}

fn invalid(detail: &str) -> IsdsStatus {
    refusal_status(&Refusal::Invalid(detail.to_owned()))
}

fn status_output(status: IsdsStatus) -> TReqStatusOutput {
    TReqStatusOutput {
        db_status: db_status(&status),
    }
}

/// `dbAccessDataId`: the access data themselves (see the module notes).
fn access_token(access: &[AccessData]) -> String {
    access
        .iter()
        .map(|a| format!("{}:{}", a.login, a.password))
        .collect::<Vec<_>>()
        .join(" ")
}

type CreatedFields = (Option<String>, Option<String>, Option<String>, TDbReqStatus);

fn created_fields(out: Outcome<crate::domain::admin::CreatedBox>) -> CreatedFields {
    match out {
        Ok(c) => (
            Some(c.databox.id.to_string()),
            c.access.first().map(|a| a.user_id.to_string()),
            Some(access_token(&c.access)),
            db_status(&IsdsStatus::ok()),
        ),
        Err(status) => (None, None, None, db_status(&status)),
    }
}

fn added_fields(
    out: Outcome<(BoxId, AccessData)>,
) -> (Option<String>, Option<String>, TDbReqStatus) {
    match out {
        Ok((id, access)) => (
            Some(id.to_string()),
            Some(access_token(std::slice::from_ref(&access))),
            db_status(&IsdsStatus::ok()),
        ),
        Err(status) => (None, None, db_status(&status)),
    }
}

/// NewAccessData's answer: `dbUserID` is the new user name (dbTypes 2.10:
/// "nové ID uživatele").
fn access_fields(out: Outcome<AccessData>) -> (Option<String>, Option<String>, TDbReqStatus) {
    match out {
        Ok(access) => (
            Some(access.login.clone()),
            Some(access_token(std::slice::from_ref(&access))),
            db_status(&IsdsStatus::ok()),
        ),
        Err(status) => (None, None, db_status(&status)),
    }
}

/// A box ID the operator asks for in CreateDataBox (`None`: generate).
fn requested_box_id(id: Option<&str>) -> Outcome<Option<BoxId>> {
    match id.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => BoxId::parse(s)
            .map(Some)
            .map_err(|e| invalid(&e.to_string())),
    }
}

fn box_type(name: Option<&str>) -> Outcome<BoxType> {
    match name {
        Some(n) => box_type_refusal(n).map_err(|r| refusal_status(&r)),
        None => Err(invalid("dbType is required")),
    }
}

fn box_type_refusal(name: &str) -> Result<BoxType, Refusal> {
    BoxType::from_name(name).ok_or_else(|| Refusal::Invalid(format!("unknown dbType {name:?}")))
}

/// A new description may repeat the box's ID but not change it.
fn same_box(b: &DataBox, id: Option<&str>) -> Result<(), Refusal> {
    match id.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s != b.id.as_str() => Err(Refusal::Invalid(format!(
            "dbID {s} of the new description differs from the box {}",
            b.id
        ))),
        _ => Ok(()),
    }
}

fn user_type(name: Option<&str>, default: UserType) -> Outcome<UserType> {
    match name {
        None => Ok(default),
        Some(n) => UserType::ALL
            .iter()
            .copied()
            .find(|t| t.name() == n)
            .ok_or_else(|| invalid(&format!("unknown userType {n:?}"))),
    }
}

/// `userPrivils` as a mask (absent: all rights for a primary user, none
/// for the others).
fn privileges(value: Option<i64>, t: UserType) -> Outcome<Privileges> {
    match value {
        None if t == UserType::PrimaryUser => Ok(Privileges::ALL),
        None => Ok(Privileges(0)),
        Some(v) => u32::try_from(v)
            .ok()
            .filter(|v| *v <= Privileges::ALL.0)
            .map(Privileges)
            .ok_or_else(|| invalid(&format!("userPrivils {v} is not a mask of 0 to 255"))),
    }
}

fn new_user(
    t: UserType,
    privils: Option<i64>,
    name: PersonName,
    personal: PersonalData,
) -> Outcome<NewUser> {
    let mut user = NewUser::new(t, privileges(privils, t)?, name);
    user.personal = personal;
    Ok(user)
}

/// A user to add, with the request's e-mail, refused if it is a primary
/// user without the items the manual requires.
fn checked_new_user(mut user: NewUser, email: Option<&str>) -> Outcome<NewUser> {
    user.personal.email = email.map(str::trim).unwrap_or_default().to_owned();
    user.personal_required = true;
    Ok(user)
}

/// The primary users of a box to create: as given, else the owner itself
/// (an FO box's owner is its primary user); each must carry the items the
/// manual requires. `notifEmail` is recorded with the primary user
/// (WS_sprava_datovych_schranek, 2.1).
fn primary_users(
    mut users: Vec<NewUser>,
    owner: &Owner,
    notif_email: Option<&str>,
) -> Outcome<Vec<NewUser>> {
    if users.is_empty() {
        users.push(crate::domain::admin::primary_user_of_owner(owner));
    }
    let email = notif_email.map(str::trim).unwrap_or_default();
    for user in &mut users {
        user.personal_required = true;
        if user.user_type == UserType::PrimaryUser && !email.is_empty() {
            user.personal.email = email.to_owned();
        }
    }
    Ok(users)
}

fn user_change(
    user_type_name: Option<&str>,
    privils: Option<i64>,
    name: Option<PersonName>,
    personal: PersonalData,
) -> Outcome<UserChange> {
    let t = match user_type_name {
        Some(n) => Some(user_type(Some(n), UserType::EntrustedUser)?),
        None => None,
    };
    let p = match privils {
        Some(v) => Some(privileges(Some(v), UserType::EntrustedUser)?),
        None => None,
    };
    Ok(UserChange {
        user_type: t,
        privileges: p,
        name,
        personal: Some(personal),
    })
}

/// The user a version-1 request names by `userID` (a user ID or login).
fn named_user(user_id: Option<&str>) -> Outcome<UserRef> {
    match user_id.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Ok(UserRef::Named(s.to_owned())),
        None => Err(invalid("userID is required")),
    }
}

fn text(v: &Option<String>) -> String {
    v.as_deref().map(str::trim).unwrap_or_default().to_owned()
}

fn name_v1(first: &Option<String>, middle: &Option<String>, last: &Option<String>) -> PersonName {
    PersonName {
        first_name: text(first),
        middle_name: text(middle),
        last_name: text(last),
    }
}

/// `pnGivenNames` splits into the first name and the middle names.
fn name_v2(given: &Option<String>, last: &Option<String>) -> PersonName {
    let given = text(given);
    let (first, middle) = given.split_once(' ').unwrap_or((given.as_str(), ""));
    PersonName {
        first_name: first.to_owned(),
        middle_name: middle.trim().to_owned(),
        last_name: text(last),
    }
}

/// One entry of GetDataBoxUsers2: everything kept about the user
/// (WS_sprava_datovych_schranek, 2.7 and 1.6.2).
fn user_entry(u: &User) -> TDbUsersArray2DbUserInfo {
    let p = &u.personal;
    let a = &p.address;
    TDbUsersArray2DbUserInfo {
        aifo_isds: false,
        pn_given_names: non_empty(&u.name.given_names()),
        pn_last_name: non_empty(&u.name.last_name),
        ad_code: non_empty(&p.address_code),
        ad_city: non_empty(&a.city),
        ad_district: non_empty(&a.district),
        ad_street: non_empty(&a.street),
        ad_number_in_street: non_empty(&a.number_in_street),
        ad_number_in_municipality: non_empty(&a.number_in_municipality),
        ad_zip_code: non_empty(&a.zip_code),
        ad_state: non_empty(&a.state),
        bi_date: non_empty(&p.birth_date),
        isds_id: Some(u.id.isds_id()),
        user_type: Some(u.user_type.name().to_owned()),
        user_privils: Some(i64::from(u.privileges.0)),
        ic: non_empty(&p.ic),
        firm_name: non_empty(&p.firm_name),
        ca_street: non_empty(&p.contact.street),
        ca_city: non_empty(&p.contact.city),
        ca_zip_code: non_empty(&p.contact.zip_code),
        ca_state: non_empty(&p.contact.state),
        ..TDbUsersArray2DbUserInfo::default()
    }
}
