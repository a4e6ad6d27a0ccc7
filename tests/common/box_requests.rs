//! Request bodies of the box services, built from element sequences of the
//! schema's types: `?` marks an optional element (left out unless given),
//! the others are sent as `xsi:nil` when not given.

/// `tDbOwnerInfo`.
pub const OWNER_INFO: &[&str] = &[
    "dbID",
    "dbType",
    "ic",
    "pnFirstName",
    "pnMiddleName",
    "pnLastName",
    "pnLastNameAtBirth",
    "firmName",
    "biDate",
    "biCity",
    "biCounty",
    "biState",
    "adCity",
    "adStreet",
    "adNumberInStreet",
    "adNumberInMunicipality",
    "adZipCode",
    "adState",
    "nationality",
    "email?",
    "telNumber?",
    "identifier",
    "registryCode",
    "dbState",
    "dbEffectiveOVM",
    "dbOpenAddressing",
];

/// `tDbOwnerInfoExt2`.
pub const OWNER_INFO_EXT2: &[&str] = &[
    "dbID",
    "aifoIsds?",
    "dbType",
    "ic",
    "pnGivenNames",
    "pnLastName",
    "firmName",
    "biDate",
    "biCity",
    "biCounty",
    "biState",
    "adCode",
    "adCity",
    "adDistrict",
    "adStreet",
    "adNumberInStreet",
    "adNumberInMunicipality",
    "adZipCode",
    "adState",
    "nationality",
    "dbIdOVM",
    "dbState",
    "dbOpenAddressing",
    "dbUpperID",
];

/// `tDbOwnerInfoExt`.
pub const OWNER_INFO_EXT: &[&str] = &[
    "dbID",
    "dbType",
    "ic",
    "pnFirstName",
    "pnMiddleName",
    "pnLastName",
    "pnLastNameAtBirth",
    "firmName",
    "biDate",
    "biCity",
    "biCounty",
    "biState",
    "adCity",
    "adDistrict?",
    "adStreet",
    "adNumberInStreet",
    "adNumberInMunicipality",
    "adZipCode",
    "adState",
    "adAMCode?",
    "nationality",
    "email?",
    "telNumber?",
    "identifier",
    "registryCode",
    "dbState",
    "dbEffectiveOVM",
    "dbOpenAddressing",
];

/// `tDbUserInfo`.
pub const USER_INFO: &[&str] = &[
    "pnFirstName",
    "pnMiddleName",
    "pnLastName",
    "pnLastNameAtBirth",
    "adCity",
    "adStreet",
    "adNumberInStreet",
    "adNumberInMunicipality",
    "adZipCode",
    "adState",
    "biDate",
    "userID",
    "userType",
    "userPrivils",
    "ic",
    "firmName",
    "caStreet",
    "caCity",
    "caZipCode",
];

/// `tDbUserInfoExt`.
pub const USER_INFO_EXT: &[&str] = &[
    "pnFirstName",
    "pnMiddleName",
    "pnLastName",
    "pnLastNameAtBirth",
    "adCity",
    "adDistrict?",
    "adStreet",
    "adNumberInStreet",
    "adNumberInMunicipality",
    "adZipCode",
    "adState",
    "adAMCode?",
    "biDate",
    "userID",
    "userType",
    "userPrivils",
    "ic",
    "firmName",
    "caStreet",
    "caCity",
    "caZipCode",
];

/// `tDbUserInfoExt2`.
pub const USER_INFO_EXT2: &[&str] = &[
    "aifoIsds",
    "pnGivenNames",
    "pnLastName",
    "adCode",
    "adCity",
    "adDistrict",
    "adStreet",
    "adNumberInStreet",
    "adNumberInMunicipality",
    "adZipCode",
    "adState",
    "biDate",
    "isdsID",
    "userType",
    "userPrivils",
    "ic",
    "firmName",
    "caStreet",
    "caCity",
    "caZipCode",
];

/// `tdbPersonalOwnerInfo`.
pub const PERSONAL_OWNER_INFO: &[&str] = &[
    "dbID",
    "aifoIsds",
    "pnFirstName",
    "pnMiddleName",
    "pnLastName",
    "biDate",
    "biCity",
    "biCounty",
    "biState",
    "adCode",
    "adCity",
    "adDistrict",
    "adStreet",
    "adNumberInStreet",
    "adNumberInMunicipality",
    "adZipCode",
    "adState",
    "nationality",
];

/// ISDSSearch2/3 requests.
pub const SEARCH: &[&str] = &[
    "searchText",
    "searchType",
    "searchScope",
    "page",
    "pageSize",
    "highlighting?",
];

/// The elements of `seq` in order, valued from `values`.
pub fn fields(seq: &[&str], values: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for field in seq {
        let (field, optional) = match field.strip_suffix('?') {
            Some(f) => (f, true),
            None => (*field, false),
        };
        match values.iter().find(|(k, _)| *k == field) {
            Some((_, v)) => out.push_str(&format!("<{field}>{v}</{field}>")),
            None if optional => {}
            None => out.push_str(&format!(r#"<{field} xsi:nil="true"/>"#)),
        }
    }
    out
}

/// `<name>` holding [`fields`].
pub fn complex(name: &str, seq: &[&str], values: &[(&str, &str)]) -> String {
    format!("<{name}>{}</{name}>", fields(seq, values))
}
