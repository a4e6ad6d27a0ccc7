//! db_access (`/DS/DsManage`): who am I, my box, my password.

use super::{CallContext, Reply, ServiceError, Services, db_status, not_implemented, respond};
use crate::domain::credentials::{self, PasswordHash, PasswordRuleViolation};
use crate::domain::{DataBox, User, repo};
use crate::schema::{
    ChangeISDSPasswordResponse, GetOwnerInfoFromLogin2Response, GetOwnerInfoFromLoginResponse,
    GetPasswordInfoResponse, GetUserInfoFromLogin2Response, GetUserInfoFromLoginResponse,
    OperationInfo, Request, TDbOwnerInfo, TDbOwnerInfoExt2, TDbUserInfo, TDbUserInfoExt2,
    TGetOwnInfoOutput, TGetOwnInfoOutput2, TGetPasswInfoOutput, TGetUserInfoOutput,
    TGetUserInfoOutput2, TReqStatusOutput,
};
use crate::status::{IsdsCode, IsdsStatus};

pub(super) async fn handle(
    svc: &Services,
    ctx: &CallContext<'_>,
    op: &OperationInfo,
    request: Request,
) -> Reply {
    let me = ctx.identity;
    let ok = || db_status(&IsdsStatus::ok());
    match request {
        Request::GetOwnerInfoFromLogin(_) => {
            respond(&GetOwnerInfoFromLoginResponse(TGetOwnInfoOutput {
                db_owner_info: owner_info(&me.databox),
                db_status: ok(),
            }))
        }
        Request::GetOwnerInfoFromLogin2(_) => {
            respond(&GetOwnerInfoFromLogin2Response(TGetOwnInfoOutput2 {
                db_owner_info: owner_info2(&me.databox),
                db_status: ok(),
            }))
        }
        Request::GetUserInfoFromLogin(_) => {
            respond(&GetUserInfoFromLoginResponse(TGetUserInfoOutput {
                db_user_info: Some(user_info(&me.user)),
                db_status: ok(),
            }))
        }
        Request::GetUserInfoFromLogin2(_) => {
            respond(&GetUserInfoFromLogin2Response(TGetUserInfoOutput2 {
                db_user_info: Some(user_info2(&me.user)),
                db_status: ok(),
            }))
        }
        Request::GetPasswordInfo(_) => {
            let expires = if me.databox.unlimited_password_validity {
                None
            } else {
                let at = me.user.password_set_at + svc.auth_policy.password_validity_seconds;
                Some(crate::domain::clock::xml_datetime(at))
            };
            respond(&GetPasswordInfoResponse(TGetPasswInfoOutput {
                psw_exp_date: expires,
                db_status: ok(),
            }))
        }
        Request::ChangeISDSPassword(req) => {
            let status = change_password(
                svc,
                &me.user,
                req.db_old_password.clone(),
                req.db_new_password.clone(),
            )
            .await?;
            respond(&ChangeISDSPasswordResponse(TReqStatusOutput {
                db_status: db_status(&status),
            }))
        }
        _ => not_implemented(op),
    }
}

/// Checks the old password and the rules, then stores the new hash durably.
async fn change_password(
    svc: &Services,
    user: &User,
    old: String,
    new: String,
) -> Result<IsdsStatus, ServiceError> {
    let mut user = user.clone();
    let login = user.login.clone();
    let current = user.password.clone();
    let verdict = tokio::task::spawn_blocking(move || {
        if !current.verify(&old) {
            return Err(IsdsStatus::new(IsdsCode::WrongCurrentPassword));
        }
        if let Err(rule) = credentials::check_new_password(&new, &login, &current) {
            return Err(IsdsStatus::new(rule_code(&rule)));
        }
        PasswordHash::new(&new)
            .map_err(|e| IsdsStatus::with_message(IsdsCode::InternalError, e.to_string()))
    })
    .await?;
    match verdict {
        Ok(hash) => {
            user.password = hash;
            user.password_set_at = svc.clock.unix();
            user.must_change_password = false;
            let store = svc.store.clone();
            tokio::task::spawn_blocking(move || repo::update_user(store.as_ref(), &user)).await??;
            Ok(IsdsStatus::ok())
        }
        Err(status) => Ok(status),
    }
}

/// The status code ISDS gives for each broken password rule.
fn rule_code(rule: &PasswordRuleViolation) -> IsdsCode {
    match rule {
        PasswordRuleViolation::Length { .. } => IsdsCode::PasswordLength,
        PasswordRuleViolation::SameAsCurrent => IsdsCode::PasswordUnchanged,
        PasswordRuleViolation::ForbiddenCharacter => IsdsCode::PasswordForbiddenCharacter,
        PasswordRuleViolation::CharacterClasses => IsdsCode::PasswordCharacterClasses,
        PasswordRuleViolation::ContainsLogin => IsdsCode::PasswordContainsLogin,
        PasswordRuleViolation::Repetition | PasswordRuleViolation::TrivialStart => {
            IsdsCode::PasswordTrivial
        }
    }
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn owner_info(b: &DataBox) -> TDbOwnerInfo {
    let o = &b.owner;
    let a = &o.address;
    TDbOwnerInfo {
        db_id: Some(b.id.to_string()),
        db_type: Some(b.box_type.name().to_owned()),
        ic: opt(&o.ic),
        pn_first_name: opt(&o.first_name),
        pn_last_name: opt(&o.last_name),
        firm_name: opt(&o.firm_name),
        bi_date: opt(&o.birth_date),
        bi_city: opt(&o.birth_city),
        ad_city: opt(&a.city),
        ad_street: opt(&a.street),
        ad_number_in_street: opt(&a.number_in_street),
        ad_number_in_municipality: opt(&a.number_in_municipality),
        ad_zip_code: opt(&a.zip_code),
        ad_state: opt(&a.state),
        db_state: Some(i64::from(u8::from(b.state))),
        db_effective_ovm: Some(b.effective_ovm),
        db_open_addressing: Some(b.open_addressing),
        ..TDbOwnerInfo::default()
    }
}

fn owner_info2(b: &DataBox) -> TDbOwnerInfoExt2 {
    let o = &b.owner;
    let a = &o.address;
    TDbOwnerInfoExt2 {
        db_id: Some(b.id.to_string()),
        aifo_isds: Some(false),
        db_type: Some(b.box_type.name().to_owned()),
        ic: opt(&o.ic),
        pn_given_names: opt(&o.first_name),
        pn_last_name: opt(&o.last_name),
        firm_name: opt(&o.firm_name),
        bi_date: opt(&o.birth_date),
        bi_city: opt(&o.birth_city),
        ad_city: opt(&a.city),
        ad_district: opt(&a.district),
        ad_street: opt(&a.street),
        ad_number_in_street: opt(&a.number_in_street),
        ad_number_in_municipality: opt(&a.number_in_municipality),
        ad_zip_code: opt(&a.zip_code),
        ad_state: opt(&a.state),
        db_state: Some(i64::from(u8::from(b.state))),
        db_open_addressing: Some(b.open_addressing),
        ..TDbOwnerInfoExt2::default()
    }
}

fn user_info(u: &User) -> TDbUserInfo {
    TDbUserInfo {
        pn_first_name: opt(&u.name.first_name),
        pn_middle_name: opt(&u.name.middle_name),
        pn_last_name: opt(&u.name.last_name),
        user_id: Some(u.id.to_string()),
        user_type: Some(u.user_type.name().to_owned()),
        user_privils: Some(i64::from(u.privileges.0)),
        ..TDbUserInfo::default()
    }
}

fn user_info2(u: &User) -> TDbUserInfoExt2 {
    let given = [u.name.first_name.as_str(), u.name.middle_name.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    TDbUserInfoExt2 {
        aifo_isds: false,
        pn_given_names: opt(&given),
        pn_last_name: opt(&u.name.last_name),
        isds_id: Some(u.id.isds_id()),
        user_type: Some(u.user_type.name().to_owned()),
        user_privils: Some(i64::from(u.privileges.0)),
        ..TDbUserInfoExt2::default()
    }
}
