//! db_access (`/DS/DsManage`): who am I, my box, my password.

use super::{
    CallContext, Reply, ServiceError, Services, db_status, non_empty, not_implemented, respond,
};
use crate::domain::boxes::credentials::{self, PasswordHash, PasswordRuleViolation};
use crate::domain::{DataBox, User, boxes::repo};
use crate::schema::{
    ChangeISDSPasswordResponse, GetOwnerInfoFromLogin2Response, GetOwnerInfoFromLoginResponse,
    GetPasswordInfoResponse, GetUserInfoFromLogin2Response, GetUserInfoFromLoginResponse,
    OperationInfo, Request, TDbOwnerInfo, TDbUserInfo, TDbUserInfoExt2, TGetOwnInfoOutput,
    TGetOwnInfoOutput2, TGetPasswInfoOutput, TGetUserInfoOutput, TGetUserInfoOutput2,
    TReqStatusOutput,
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
                db_owner_info: super::db_search::owner_ext2(DataBox::clone(&me.databox)),
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
                |rule, offending| IsdsStatus::fill(rule_code(rule), &[offending]),
            )
            .await?;
            respond(&ChangeISDSPasswordResponse(TReqStatusOutput {
                db_status: db_status(&status),
            }))
        }
        _ => not_implemented(op),
    }
}

/// ChangePasswordOTP of `/asws/changePassword` for `user`, who logged in
/// there with password and one-time code: the same checks as
/// ChangeISDSPassword, with the codes of ISDS_OTP_autentizace (3.2), which
/// reports the broken rules 2 and 4 (forbidden character, missing
/// character class, a character three times) under 1083 with the rule's
/// own text.
pub(crate) async fn change_password_otp(
    svc: &Services,
    user: &User,
    old: String,
    new: String,
) -> Result<IsdsStatus, ServiceError> {
    change_password(svc, user, old, new, |rule, offending| {
        let code = rule_code(rule);
        let filled = IsdsStatus::fill(code, &[offending]);
        match code {
            IsdsCode::PasswordForbiddenCharacter
            | IsdsCode::PasswordCharacterClasses
            | IsdsCode::PasswordRepeatedCharacter => {
                IsdsStatus::with_message(IsdsCode::PasswordTrivial, filled.message.to_string())
            }
            _ => filled,
        }
    })
    .await
}

/// Checks the old password and the rules (`rule_status` says how a broken
/// rule is reported), then stores the new hash durably.
async fn change_password(
    svc: &Services,
    user: &User,
    old: String,
    new: String,
    rule_status: fn(&PasswordRuleViolation, &str) -> IsdsStatus,
) -> Result<IsdsStatus, ServiceError> {
    let mut user = user.clone();
    let login = user.login.clone();
    let current = user.password.clone();
    let verdict = tokio::task::spawn_blocking(move || {
        if !current.verify(&old) {
            return Err(IsdsStatus::new(IsdsCode::WrongCurrentPassword));
        }
        if let Err(rule) = credentials::check_new_password(&new, &login, &current) {
            // 1079 names the character (table row 1079).
            let offending = new
                .chars()
                .find(|c| !c.is_ascii_alphanumeric() && !credentials::SPECIALS.contains(*c))
                .map(String::from)
                .unwrap_or_default();
            return Err(rule_status(&rule, &offending));
        }
        PasswordHash::new(&new).map_err(|e| {
            tracing::error!(error = %e, "hashing a new password failed");
            IsdsStatus::new(IsdsCode::InternalError)
        })
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
        PasswordRuleViolation::Repetition => IsdsCode::PasswordRepeatedCharacter,
        PasswordRuleViolation::TrivialStart => IsdsCode::PasswordTrivial,
    }
}

fn owner_info(b: &DataBox) -> TDbOwnerInfo {
    let o = &b.owner;
    let a = &o.address;
    TDbOwnerInfo {
        db_id: Some(b.id.to_string()),
        db_type: Some(b.box_type.name().to_owned()),
        ic: non_empty(&o.ic),
        pn_first_name: non_empty(&o.first_name),
        pn_last_name: non_empty(&o.last_name),
        pn_last_name_at_birth: non_empty(&o.last_name_at_birth),
        firm_name: non_empty(&o.firm_name),
        bi_date: non_empty(&o.birth_date),
        bi_city: non_empty(&o.birth_city),
        bi_county: non_empty(&o.birth_county),
        bi_state: non_empty(&o.birth_state),
        ad_city: non_empty(&a.city),
        ad_street: non_empty(&a.street),
        ad_number_in_street: non_empty(&a.number_in_street),
        ad_number_in_municipality: non_empty(&a.number_in_municipality),
        ad_zip_code: non_empty(&a.zip_code),
        ad_state: non_empty(&a.state),
        nationality: non_empty(&o.nationality),
        email: non_empty(&o.email),
        tel_number: non_empty(&o.telephone),
        identifier: non_empty(&o.identifier),
        registry_code: non_empty(&o.registry_code),
        db_state: Some(i64::from(u8::from(b.state))),
        db_effective_ovm: Some(b.effective_ovm),
        db_open_addressing: Some(b.open_addressing),
        ..TDbOwnerInfo::default()
    }
}

/// The logged-in user as GetUserInfoFromLogin describes them: everything
/// kept (WS_sprava_datovych_schranek, 1.6.2).
fn user_info(u: &User) -> TDbUserInfo {
    let p = &u.personal;
    let a = &p.address;
    TDbUserInfo {
        pn_first_name: non_empty(&u.name.first_name),
        pn_middle_name: non_empty(&u.name.middle_name),
        pn_last_name: non_empty(&u.name.last_name),
        pn_last_name_at_birth: non_empty(&p.last_name_at_birth),
        ad_city: non_empty(&a.city),
        ad_street: non_empty(&a.street),
        ad_number_in_street: non_empty(&a.number_in_street),
        ad_number_in_municipality: non_empty(&a.number_in_municipality),
        ad_zip_code: non_empty(&a.zip_code),
        ad_state: non_empty(&a.state),
        bi_date: non_empty(&p.birth_date),
        user_id: Some(u.id.to_string()),
        user_type: Some(u.user_type.name().to_owned()),
        user_privils: Some(i64::from(u.privileges.0)),
        ic: non_empty(&p.ic),
        firm_name: non_empty(&p.firm_name),
        ca_street: non_empty(&p.contact.street),
        ca_city: non_empty(&p.contact.city),
        ca_zip_code: non_empty(&p.contact.zip_code),
        ca_state: non_empty(&p.contact.state),
    }
}

/// The logged-in user as GetUserInfoFromLogin2 describes them.
fn user_info2(u: &User) -> TDbUserInfoExt2 {
    let p = &u.personal;
    let a = &p.address;
    TDbUserInfoExt2 {
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
    }
}
