//! Users of a box: who they are, what they may do, how they log in.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::boxes::credentials::PasswordHash;
use crate::domain::boxes::databox::{BoxAddress, BoxId};

/// A user ID: 6 characters from `[a-z0-9]`, as ISDS generates them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

/// A string that is not a valid user ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid user ID {0:?}: a user ID is 6 characters from a-z and 0-9")]
pub struct InvalidUserId(pub String);

impl UserId {
    pub fn parse(s: &str) -> Result<Self, InvalidUserId> {
        if s.len() == 6
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            Ok(UserId(s.to_owned()))
        } else {
            Err(InvalidUserId(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The user's `isdsID` (12 characters, the identifier the version-2
    /// box services use): the gateway derives it from the user ID as six
    /// zeros followed by the user ID.
    pub fn isds_id(&self) -> String {
        format!("{ISDS_ID_PREFIX}{}", self.0)
    }

    /// The user ID an `isdsID` of [`UserId::isds_id`]'s form stands for.
    pub fn from_isds_id(isds_id: &str) -> Option<UserId> {
        isds_id
            .strip_prefix(ISDS_ID_PREFIX)
            .and_then(|rest| UserId::parse(rest).ok())
    }
}

/// What precedes the user ID in an `isdsID`.
const ISDS_ID_PREFIX: &str = "000000";

impl TryFrom<String> for UserId {
    type Error = InvalidUserId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        UserId::parse(&s)
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> String {
        id.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The user's role in the box (`userType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserType {
    /// Oprávněná osoba: all rights.
    PrimaryUser,
    /// Pověřená osoba: the rights given.
    EntrustedUser,
    /// Manages entrusted users; may hold message rights too.
    Administrator,
    Official,
    OfficialCert,
    Liquidator,
    Receiver,
    Guardian,
}

impl UserType {
    pub const ALL: &'static [UserType] = &[
        UserType::PrimaryUser,
        UserType::EntrustedUser,
        UserType::Administrator,
        UserType::Official,
        UserType::OfficialCert,
        UserType::Liquidator,
        UserType::Receiver,
        UserType::Guardian,
    ];

    /// The name as ISDS spells it, e.g. `ENTRUSTED_USER`.
    pub fn name(self) -> &'static str {
        match self {
            UserType::PrimaryUser => "PRIMARY_USER",
            UserType::EntrustedUser => "ENTRUSTED_USER",
            UserType::Administrator => "ADMINISTRATOR",
            UserType::Official => "OFFICIAL",
            UserType::OfficialCert => "OFFICIAL_CERT",
            UserType::Liquidator => "LIQUIDATOR",
            UserType::Receiver => "RECEIVER",
            UserType::Guardian => "GUARDIAN",
        }
    }
}

/// The `userPrivils` bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Privileges(pub u32);

impl Privileges {
    /// 1: read received messages not marked for personal delivery.
    pub const READ_NON_PERSONAL: u32 = 1;
    /// 2: read all received messages, personal ones too.
    pub const READ_ALL: u32 = 2;
    /// 4: create and send messages, read sent ones.
    pub const CREATE_DM: u32 = 4;
    /// 8: view message lists, delivery info and receipts.
    pub const VIEW_INFO: u32 = 8;
    /// 16: search for boxes.
    pub const SEARCH_DB: u32 = 16;
    /// 32: administer the box's users.
    pub const OWNER_ADM: u32 = 32;
    /// 64: read messages in the long-term vault.
    pub const READ_VAULT: u32 = 64;
    /// 128: erase messages in the long-term vault.
    pub const ERASE_VAULT: u32 = 128;
    /// Every right.
    pub const ALL: Privileges = Privileges(255);
    /// The fixed rights of software logged in for a box (system
    /// certificate, hosted records service): 159, all but 32 and 64
    /// (messages manual 1.4).
    pub const APPLICATION: Privileges = Privileges(159);

    pub fn has(self, bit: u32) -> bool {
        self.0 & bit == bit
    }

    /// May read received messages that are not for personal delivery
    /// (bit 2 includes bit 1).
    pub fn can_read_non_personal(self) -> bool {
        self.0 & (Self::READ_NON_PERSONAL | Self::READ_ALL) != 0
    }
}

/// A person's name as ISDS splits it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PersonName {
    pub first_name: String,
    pub middle_name: String,
    pub last_name: String,
}

impl PersonName {
    /// First and middle names, as the `pnGivenNames` fields want them.
    pub fn given_names(&self) -> String {
        join_non_empty(&[&self.first_name, &self.middle_name])
    }

    /// The whole name, for people to read.
    pub fn full(&self) -> String {
        join_non_empty(&[&self.first_name, &self.middle_name, &self.last_name])
    }
}

fn join_non_empty(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A contact address (`ca*`): where letters go if it is given
/// (WS_sprava_datovych_schranek, 1.6.2 and 2.4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContactAddress {
    /// Street and number, one line (`caStreet`).
    pub street: String,
    pub city: String,
    pub zip_code: String,
    pub state: String,
}

/// What ISDS keeps about a user besides name, type and rights: the items
/// of `tDbUserInfo` (WS_sprava_datovych_schranek, 1.6.2). The gateway
/// keeps them as given; the `isdsID` is derived from the user ID and
/// needs no field. Records stored before these existed load empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PersonalData {
    /// ISO date of birth (`biDate`).
    pub birth_date: String,
    /// Last name at birth (`pnLastNameAtBirth`, version-1 services).
    pub last_name_at_birth: String,
    /// The home address (`ad*`).
    pub address: BoxAddress,
    /// The RUIAN address code (`adCode`, `adAMCode`).
    pub address_code: String,
    pub contact: ContactAddress,
    /// An indirect user's company (`ic`, `firmName`, note 2 of 1.6.2).
    pub ic: String,
    pub firm_name: String,
    /// The e-mail given with the request (`email`, `notifEmail`).
    pub email: String,
}

/// An item the manual requires of a primary user is missing; each maps to
/// its own status of the official table (1014, 1015, 1018, 1019, 1033).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MissingPersonalData {
    #[error("the last name is missing")]
    LastName,
    #[error("the date of birth is missing")]
    BirthDate,
    #[error("the city of the address is missing")]
    City,
    #[error("the address has no house number")]
    HouseNumber,
    #[error("the postal code of the address is missing")]
    ZipCode,
}

impl PersonalData {
    /// Whether a primary user described by `name` and `self` can be sent
    /// the access data: ISDS posts them to the user's own hands, "na
    /// uvedenou adresu (kontaktní má přednost) zadané osobě se zadaným
    /// datem narození" (WS_sprava_datovych_schranek, 2.4), so it needs the
    /// last name, the birth date and a postal address (the contact address
    /// if one is given, else the home address) with city, house number and
    /// postal code. Entrusted users and administrators are not held to it:
    /// the manual puts no limits on their data.
    pub fn check_primary(&self, name: &PersonName) -> Result<(), MissingPersonalData> {
        let blank = |s: &str| s.trim().is_empty();
        if blank(&name.last_name) {
            return Err(MissingPersonalData::LastName);
        }
        if blank(&self.birth_date) {
            return Err(MissingPersonalData::BirthDate);
        }
        let c = &self.contact;
        let (city, zip, numbered) = if !blank(&c.city) {
            (
                &c.city,
                &c.zip_code,
                c.street.chars().any(|ch| ch.is_ascii_digit()),
            )
        } else {
            let a = &self.address;
            (
                &a.city,
                &a.zip_code,
                !blank(&a.number_in_street) || !blank(&a.number_in_municipality),
            )
        };
        if blank(city) {
            return Err(MissingPersonalData::City);
        }
        if !numbered {
            return Err(MissingPersonalData::HouseNumber);
        }
        if blank(zip) {
            return Err(MissingPersonalData::ZipCode);
        }
        Ok(())
    }
}

/// One user of one box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub box_id: BoxId,
    /// The login name (user name of HTTP Basic).
    pub login: String,
    pub user_type: UserType,
    pub privileges: Privileges,
    pub name: PersonName,
    pub password: PasswordHash,
    /// When the password was last set, as Unix seconds.
    pub password_set_at: i64,
    /// The password was set by someone else and must be changed at the next
    /// login.
    pub must_change_password: bool,
    /// Address, birth date and the other items ISDS keeps (empty in
    /// records stored before they were kept).
    /// (Boxed: most code passes users around without reading these.)
    #[serde(default)]
    pub personal: Box<PersonalData>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids() {
        assert!(UserId::parse("ab12cd").is_ok());
        for bad in ["", "ab12c", "ab12cde", "AB12CD", "ab_2cd"] {
            assert!(UserId::parse(bad).is_err(), "{bad}");
        }
        let id = UserId::parse("ab12cd").unwrap();
        assert_eq!(id.isds_id(), "000000ab12cd");
        assert_eq!(UserId::from_isds_id(&id.isds_id()), Some(id));
        for bad in ["ab12cd", "000000AB12CD", "100000ab12cd", "000000ab12c"] {
            assert_eq!(UserId::from_isds_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn privilege_bits() {
        let p = Privileges(Privileges::READ_ALL | Privileges::VIEW_INFO);
        assert!(p.can_read_non_personal());
        assert!(p.has(Privileges::VIEW_INFO));
        assert!(!p.has(Privileges::CREATE_DM));
        assert!(!Privileges(Privileges::SEARCH_DB).can_read_non_personal());
    }

    #[test]
    fn user_type_names_serialise_as_isds_spells_them() {
        for t in UserType::ALL {
            let json = serde_json::to_string(t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.name()));
        }
    }
}
