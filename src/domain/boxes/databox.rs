//! Data boxes (datové schránky): identity, type, state and owner.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The system box, sender of ISDS's own messages; never given to an owner.
pub const SYSTEM_BOX_ID: &str = "aaaaaaa";

/// A box ID: exactly 7 characters from `[a-z0-9]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BoxId(String);

/// A string that is not a valid box ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid box ID {0:?}: a box ID is 7 characters from a-z and 0-9")]
pub struct InvalidBoxId(pub String);

impl BoxId {
    pub fn parse(s: &str) -> Result<Self, InvalidBoxId> {
        if s.len() == 7
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            Ok(BoxId(s.to_owned()))
        } else {
            Err(InvalidBoxId(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `aaaaaaa`, the ISDS system box that sends system messages; it is
    /// not a box of the register.
    pub fn system() -> Self {
        BoxId("aaaaaaa".to_owned())
    }
}

impl TryFrom<String> for BoxId {
    type Error = InvalidBoxId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        BoxId::parse(&s)
    }
}

impl From<BoxId> for String {
    fn from(id: BoxId) -> String {
        id.0
    }
}

impl fmt::Display for BoxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! box_types {
    ($($variant:ident = $num:literal),+ $(,)?) => {
        /// The box type (`dbType`): who owns the box and in what role.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[allow(non_camel_case_types)] // the ISDS names, as the XSD spells them
        pub enum BoxType { $($variant),+ }

        impl BoxType {
            pub const ALL: &'static [BoxType] = &[$(BoxType::$variant),+];

            /// The name as the XSD spells it, e.g. `OVM_NOTAR`.
            pub fn name(self) -> &'static str {
                match self { $(BoxType::$variant => stringify!($variant)),+ }
            }

            /// The numeric code ISDS uses in messages (`dmSenderType`).
            pub fn code(self) -> u32 {
                match self { $(BoxType::$variant => $num),+ }
            }

            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|t| t.name() == name)
            }
        }
    };
}

box_types! {
    OVM = 10, OVM_NOTAR = 11, OVM_EXEKUT = 12, OVM_REQ = 13, OVM_FO = 14, OVM_PFO = 15,
    OVM_PO = 16, PO = 20, PO_ZAK = 21, PO_REQ = 22, PFO = 30, PFO_ADVOK = 31,
    PFO_DANPOR = 32, PFO_INSSPR = 33, PFO_AUDITOR = 34, PFO_ZNALEC = 35,
    PFO_TLUMOCNIK = 36, PFO_ARCH = 37, PFO_AIAT = 38, PFO_AZI = 39, FO = 40, PFO_REQ = 50,
}

impl BoxType {
    /// Public authority boxes (OVM family), which send in OVM mode.
    pub fn is_ovm(self) -> bool {
        self.code() < 20
    }

    /// Boxes of a natural person (FO), as opposed to a business or legal person.
    pub fn is_natural_person(self) -> bool {
        self == BoxType::FO
    }
}

/// The box state (`dbState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum BoxState {
    /// 1: accessible; the only state that receives messages.
    Accessible = 1,
    /// 2: temporarily inaccessible at the owner's request.
    TemporarilyInaccessible = 2,
    /// 3: not yet made accessible.
    NotYetActive = 3,
    /// 4: permanently inaccessible.
    PermanentlyInaccessible = 4,
    /// 5: removed.
    Removed = 5,
    /// 6: temporarily inaccessible by law.
    InaccessibleByLaw = 6,
}

/// A number that is no box state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid box state {0}: box states are 1 to 6")]
pub struct InvalidBoxState(pub u8);

impl TryFrom<u8> for BoxState {
    type Error = InvalidBoxState;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        Ok(match n {
            1 => BoxState::Accessible,
            2 => BoxState::TemporarilyInaccessible,
            3 => BoxState::NotYetActive,
            4 => BoxState::PermanentlyInaccessible,
            5 => BoxState::Removed,
            6 => BoxState::InaccessibleByLaw,
            other => return Err(InvalidBoxState(other)),
        })
    }
}

impl From<BoxState> for u8 {
    fn from(s: BoxState) -> u8 {
        s as u8
    }
}

/// A postal address as ISDS records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BoxAddress {
    pub city: String,
    pub district: String,
    pub street: String,
    pub number_in_street: String,
    pub number_in_municipality: String,
    pub zip_code: String,
    /// Country code; ISDS assumes CZ when absent.
    pub state: String,
}

/// Who owns the box.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Owner {
    /// Company or authority name (`firmName`); empty for natural persons.
    pub firm_name: String,
    /// Company identification number (IČ).
    pub ic: String,
    pub first_name: String,
    pub last_name: String,
    /// ISO date of birth, for natural persons.
    pub birth_date: String,
    pub birth_city: String,
    pub address: BoxAddress,
    /// Birth district and state (`biCounty`, `biState`).
    pub birth_county: String,
    pub birth_state: String,
    /// Last name at birth (`pnLastNameAtBirth`).
    pub last_name_at_birth: String,
    /// The RUIAN address code (`adCode`, `adAMCode`).
    pub address_code: String,
    /// Citizenship, or the state of registration (`nationality`).
    pub nationality: String,
    /// `email`, `telNumber`, `identifier` and `registryCode` of the
    /// version-1 description.
    pub email: String,
    pub telephone: String,
    pub identifier: String,
    pub registry_code: String,
    /// The OVM identifier from the register of OVM (`dbIdOVM`), as given
    /// when the box was created; empty: the gateway reports the IČ.
    pub id_ovm: String,
}

/// One data box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataBox {
    pub id: BoxId,
    pub box_type: BoxType,
    pub state: BoxState,
    pub owner: Owner,
    /// Sends in OVM mode (`dbEffectiveOVM`).
    pub effective_ovm: bool,
    /// Accepts commercial messages (PDZ) from anyone (`dbOpenAddressing`).
    pub open_addressing: bool,
    /// Largest total of a message's attachments it may send, in MB.
    pub attachment_limit_mb: u32,
    /// Passwords of its users never expire (set by the box owner).
    pub unlimited_password_validity: bool,
    /// The owner lets the box be listed in the public list of boxes and
    /// found by box search. In ISDS only the owner of an FO box may forbid
    /// it; a box that forbade it and accepts no commercial messages is found
    /// by non-OVM searchers only by its exact ID (see
    /// [`crate::domain::search`]). Records stored before this field
    /// existed load as listed.
    #[serde(default = "listed")]
    pub public_listing: bool,
}

fn listed() -> bool {
    true
}

impl DataBox {
    /// Only accessible boxes receive messages and may send.
    pub fn is_accessible(&self) -> bool {
        self.state == BoxState::Accessible
    }

    /// The name ISDS shows for the box: the firm or authority name, else
    /// the owner's names.
    pub fn display_name(&self) -> String {
        let o = &self.owner;
        if !o.firm_name.trim().is_empty() {
            return o.firm_name.trim().to_owned();
        }
        [o.first_name.trim(), o.last_name.trim()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl BoxAddress {
    /// The street line: street (or municipality) with the building number
    /// and the number in the street, as Czech addresses write them
    /// (`Údolní 567/53`).
    pub fn street_line(&self) -> String {
        let place = if self.street.trim().is_empty() {
            self.city.trim()
        } else {
            self.street.trim()
        };
        let numbers = match (
            self.number_in_municipality.trim(),
            self.number_in_street.trim(),
        ) {
            ("", "") => String::new(),
            (m, "") => m.to_owned(),
            ("", s) => s.to_owned(),
            (m, s) => format!("{m}/{s}"),
        };
        [place, numbers.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The town line: postal code and municipality (`602 00 Brno`, the code
    /// as stored).
    pub fn town_line(&self) -> String {
        let city = if self.district.trim().is_empty() || self.district.trim() == self.city.trim() {
            self.city.trim().to_owned()
        } else {
            format!("{} - {}", self.city.trim(), self.district.trim())
        };
        [self.zip_code.trim(), city.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The whole address on one line: street line, town line.
    pub fn one_line(&self) -> String {
        [self.street_line(), self.town_line()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_ids() {
        assert!(BoxId::parse("abc1234").is_ok());
        for bad in ["", "abc123", "abc12345", "ABC1234", "abc-123", "abcč123"] {
            assert!(BoxId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn box_types_round_trip_and_match_the_fact_sheet() {
        assert_eq!(BoxType::ALL.len(), 22);
        for t in BoxType::ALL {
            assert_eq!(BoxType::from_name(t.name()), Some(*t));
        }
        assert_eq!(BoxType::OVM_PO.code(), 16);
        assert_eq!(BoxType::PFO_REQ.code(), 50);
        assert!(BoxType::OVM_FO.is_ovm() && !BoxType::PO.is_ovm());
    }

    #[test]
    fn box_states() {
        for n in 1..=6u8 {
            assert_eq!(u8::from(BoxState::try_from(n).unwrap()), n);
        }
        assert!(BoxState::try_from(0).is_err() && BoxState::try_from(7).is_err());
    }
}
