//! The ISDS status codes this gateway answers with, in one place.
//!
//! Business outcomes travel in a status block (`dmStatus` for message
//! services, `dbStatus` for box services) inside an HTTP 200 response, never
//! as SOAP faults. Each code keeps the meaning it has in ISDS; the messages
//! are Czech, as ISDS clients show them to their users.

use std::borrow::Cow;

/// One ISDS status code with its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsdsCode {
    /// 0000: the operation succeeded.
    Ok,
    /// 0002: a search found nothing.
    NothingFound,
    /// 0003: a search found more than it may return; the result is truncated.
    Truncated,
    /// 0004: some parts succeeded, others did not (e.g. multiple recipients).
    PartialSuccess,
    /// 0005: signed, but the time-stamp could not be added.
    SignedWithoutTimestamp,
    /// 1201: the sender's box is not accessible, nothing can be sent from it.
    SenderBoxInaccessible,
    /// 1211: the message belongs to another box than the caller's.
    MessageOfAnotherBox,
    /// 1218: the user lacks the right to erase the message.
    EraseNotPermitted,
    /// 1219: no such message (for the caller), or its content is gone.
    MessageNotFound,
    /// 2006: the body element names no operation this endpoint offers.
    UnknownOperation,
    /// 3006: marking the message took too long.
    MarkingTooLong,
    /// 3008: too many parallel requests of one user.
    TooManyParallelRequests,
    /// 3009: too many requests of one user in a period.
    TooManyRequests,
    /// 5001: the box does not exist.
    BoxNotFound,
    /// 9502: the time-stamping authority is failing.
    TimestampAuthorityFailure,
    /// ChangeISDSPassword: the current password given is wrong.
    WrongCurrentPassword,
    /// ChangeISDSPassword: the new password is empty or of the wrong length.
    PasswordLength,
    /// ChangeISDSPassword: the new password is the current one.
    PasswordUnchanged,
    /// ChangeISDSPassword: the new password has a character not allowed.
    PasswordForbiddenCharacter,
    /// ChangeISDSPassword: the new password lacks a lower-case letter, an
    /// upper-case letter or a digit.
    PasswordCharacterClasses,
    /// ChangeISDSPassword: the new password contains the user's login.
    PasswordContainsLogin,
    /// ChangeISDSPassword: a character three times in a row, or a trivial
    /// keyboard start.
    PasswordTrivial,
    /// 1004: the caller's rights do not allow the operation.
    NotPermitted,
    /// Box administration: no such user in the box.
    UserNotFound,
    /// Box administration: a box with the requested ID exists already.
    BoxExists,
    /// Box administration: the requested login is taken.
    LoginExists,
    /// Box administration: the box's state does not allow the operation
    /// (e.g. enabling a box that was not disabled by its owner).
    BoxStateForbids,
    /// Box administration: a required item of the request is missing or
    /// has a value the operation cannot use.
    InvalidRequestData,
    /// Box administration: the last primary user of a box cannot be removed.
    LastPrimaryUser,
    /// 1214: a document was refused (format, MIME type); the message ends
    /// with ": <file name>".
    AttachmentRejected,
    /// 1296: the documents together exceed the sender box's limit.
    AttachmentsTooLarge,
    /// 1232: a commercial message (neither party public) to a box that
    /// does not accept them.
    CommercialNotAccepted,
    /// 2032: the message has no document.
    NoDocument,
    /// The recipient's box is not accessible and receives nothing.
    RecipientInaccessible,
    /// dmOVM=true from a box that does not act as a public authority.
    OvmModeNotAllowed,
    /// A `dmType` a sender may not ask for.
    InvalidCommercialType,
    /// More recipients than CreateMultipleMessage takes.
    TooManyRecipients,
    /// The first document is not `main`, or another one is.
    MainDocumentRule,
    /// CheckDataBox and others: the box ID given is not 7 characters from
    /// a-z and 0-9.
    MalformedBoxId,
    /// FindDataBox: the box type (`dbType`) must be given.
    BoxTypeRequired,
    /// ISDSSearch2/3: the search phrase is empty or too short.
    SearchPhraseTooShort,
    /// ISDSSearch2/3: the page asked for is too large.
    SearchPageTooLarge,
    /// ISDSSearch2/3: the box ID searched for is malformed.
    SearchMalformedBoxId,
    /// ISDSSearch2/3: the identification number searched for is malformed.
    SearchMalformedIc,
    /// Box search services: a value of the request is not one the service
    /// accepts (an unknown search type or scope, a negative page, an
    /// unknown list type).
    SearchInvalidInput,
    /// A date or date-time of the request is not valid.
    InvalidDateTime,
    /// DataBoxCreditInfo: the history asked for begins too long ago.
    CreditHistoryTooOld,
    /// DataBoxCreditInfo: the interval asked for is too long.
    CreditIntervalTooLong,
    /// The gateway itself failed.
    InternalError,
    /// 2300 "Neočekávaná chyba." (official table, row 2300: an unexpected
    /// failure of the OTP web services): ChangePasswordOTP and SendSMSCode
    /// of `/asws/changePassword` (ISDS_OTP_autentizace, 3.2 and 3.3), e.g.
    /// a request they cannot read.
    OtpServiceError,
    /// 2301 "Jednorázový kód lze poslat jednou za 30 sekund." (official
    /// table, row 2301): SendSMSCode asked again within 30 seconds
    /// (ISDS_OTP_autentizace, 3.3).
    SmsCodeTooSoon,
    /// 2011 "Chyba ve struktuře ID datové schránky." (official table, row
    /// 2011, second text: the box ID does not have the syntax of a box ID):
    /// the box-ID operations of the search services given a malformed ID
    /// (WS_vyhledavani_datovych_schranek, CheckDataBox, DataBoxCreditInfo,
    /// GetDataBoxActivityStatus).
    BoxIdSyntax,
    /// 1014 "Chybí příjmení osoby" (official table, row 1014: incomplete
    /// data when creating or editing a box): a primary user without a last
    /// name (WS_sprava_datovych_schranek, 2.1 and 2.4).
    PersonLastNameMissing,
    /// 1015 "Chybí datum narození" (official table, row 1015): a primary
    /// user without a birth date (WS_sprava_datovych_schranek, 2.4: the
    /// access data are handed over only to the person of that name and
    /// birth date).
    PersonBirthDateMissing,
    /// 1018 "Chybí město v adrese" (official table, row 1018): a primary
    /// user's address without a city (WS_sprava_datovych_schranek, 2.4).
    AddressCityMissing,
    /// 1019 "Chybí číslo popisné i orientační v adrese" (official table,
    /// row 1019): a primary user's address without either house number
    /// (WS_sprava_datovych_schranek, 2.4).
    AddressNumberMissing,
    /// 1033 "Chybí PSČ v adrese" (official table, row 1033): a primary
    /// user's address without a postal code (WS_sprava_datovych_schranek,
    /// 2.4).
    AddressZipMissing,
    /// 1032 "Vaše oprávnění nedovolují potvrdit zaplacení správního
    /// poplatku" (official table, row 1032: a request for new access data
    /// made in a way that cannot confirm the fee): NewAccessData(2) with
    /// `dbFeePaid` true from anyone but the operator (the box-management
    /// manual 2.74 no longer describes NewAccessData; see
    /// `domain::admin::Admin::reissue_access_data`).
    FeeConfirmationNotPermitted,
}

impl IsdsCode {
    /// Every code, for documentation and tests.
    pub const ALL: &'static [IsdsCode] = &[
        IsdsCode::Ok,
        IsdsCode::NothingFound,
        IsdsCode::Truncated,
        IsdsCode::PartialSuccess,
        IsdsCode::SignedWithoutTimestamp,
        IsdsCode::SenderBoxInaccessible,
        IsdsCode::MessageOfAnotherBox,
        IsdsCode::EraseNotPermitted,
        IsdsCode::MessageNotFound,
        IsdsCode::UnknownOperation,
        IsdsCode::MarkingTooLong,
        IsdsCode::TooManyParallelRequests,
        IsdsCode::TooManyRequests,
        IsdsCode::BoxNotFound,
        IsdsCode::TimestampAuthorityFailure,
        IsdsCode::WrongCurrentPassword,
        IsdsCode::PasswordLength,
        IsdsCode::PasswordUnchanged,
        IsdsCode::PasswordForbiddenCharacter,
        IsdsCode::PasswordCharacterClasses,
        IsdsCode::PasswordContainsLogin,
        IsdsCode::PasswordTrivial,
        IsdsCode::NotPermitted,
        IsdsCode::UserNotFound,
        IsdsCode::BoxExists,
        IsdsCode::LoginExists,
        IsdsCode::BoxStateForbids,
        IsdsCode::InvalidRequestData,
        IsdsCode::LastPrimaryUser,
        IsdsCode::AttachmentRejected,
        IsdsCode::AttachmentsTooLarge,
        IsdsCode::CommercialNotAccepted,
        IsdsCode::NoDocument,
        IsdsCode::RecipientInaccessible,
        IsdsCode::OvmModeNotAllowed,
        IsdsCode::InvalidCommercialType,
        IsdsCode::TooManyRecipients,
        IsdsCode::MainDocumentRule,
        IsdsCode::MalformedBoxId,
        IsdsCode::BoxTypeRequired,
        IsdsCode::SearchPhraseTooShort,
        IsdsCode::SearchPageTooLarge,
        IsdsCode::SearchMalformedBoxId,
        IsdsCode::SearchMalformedIc,
        IsdsCode::SearchInvalidInput,
        IsdsCode::InvalidDateTime,
        IsdsCode::CreditHistoryTooOld,
        IsdsCode::CreditIntervalTooLong,
        IsdsCode::InternalError,
        IsdsCode::OtpServiceError,
        IsdsCode::SmsCodeTooSoon,
        IsdsCode::BoxIdSyntax,
        IsdsCode::PersonLastNameMissing,
        IsdsCode::PersonBirthDateMissing,
        IsdsCode::AddressCityMissing,
        IsdsCode::AddressNumberMissing,
        IsdsCode::AddressZipMissing,
        IsdsCode::FeeConfirmationNotPermitted,
    ];

    /// The four-digit code as it appears in `dmStatusCode`/`dbStatusCode`.
    pub fn code(self) -> &'static str {
        match self {
            IsdsCode::Ok => "0000",
            IsdsCode::NothingFound => "0002",
            IsdsCode::Truncated => "0003",
            IsdsCode::PartialSuccess => "0004",
            IsdsCode::SignedWithoutTimestamp => "0005",
            IsdsCode::SenderBoxInaccessible => "1201",
            // 1211, 1218, 1219: published for EraseMessage (1211 another
            // box's message, 1218 no right to erase, 1219 no such message);
            // libisds documents 1219 non-normatively for MessageDownload and
            // VerifyMessage of a message that does not exist in the box. The
            // gateway answers 1219 for every message operation naming a
            // message the caller's box may not see, as ISDS does not reveal
            // that another box's message exists.
            IsdsCode::MessageOfAnotherBox => "1211",
            IsdsCode::EraseNotPermitted => "1218",
            IsdsCode::MessageNotFound => "1219",
            IsdsCode::UnknownOperation => "2006",
            IsdsCode::MarkingTooLong => "3006",
            IsdsCode::TooManyParallelRequests => "3008",
            IsdsCode::TooManyRequests => "3009",
            // 5001: published for FindDataBox and CheckDataBox; the gateway
            // answers it for every operation naming a box that does not exist.
            IsdsCode::BoxNotFound => "5001",
            IsdsCode::TimestampAuthorityFailure => "9502",
            // 1066, 1067: published for ChangeISDSPassword. 1090 and
            // 1079-1083: as the libisds test server answers, ISDS's own
            // documentation does not list them.
            IsdsCode::WrongCurrentPassword => "1090",
            IsdsCode::PasswordLength => "1066",
            IsdsCode::PasswordUnchanged => "1067",
            IsdsCode::PasswordForbiddenCharacter => "1079",
            IsdsCode::PasswordCharacterClasses => "1080",
            IsdsCode::PasswordContainsLogin => "1082",
            IsdsCode::PasswordTrivial => "1083",
            // 1004: libisds documents it (non-normatively) for callers
            // without the right to an operation (GetDataBoxList,
            // DataBoxCreditInfo); the gateway answers every refused
            // db_manipulations call with it, and every message operation the
            // user's rights do not allow (no public source gives ISDS's code
            // for those).
            IsdsCode::NotPermitted => "1004",
            // 1041-1046: no public source gives ISDS's codes for these
            // box-administration failures; the numbers are the gateway's
            // choice, in the application-logic range 1xxx.
            IsdsCode::UserNotFound => "1041",
            IsdsCode::BoxExists => "1042",
            IsdsCode::LoginExists => "1043",
            IsdsCode::BoxStateForbids => "1044",
            IsdsCode::InvalidRequestData => "1045",
            IsdsCode::LastPrimaryUser => "1046",
            // 1214: ISDS's documentation of CreateMessage (refused
            // attachment, the file name after a colon).
            IsdsCode::AttachmentRejected => "1214",
            // 1296 and 1232: as third-party ISDS clients report ISDS's
            // answers (attachments over the limit; PDZ not accepted).
            IsdsCode::AttachmentsTooLarge => "1296",
            IsdsCode::CommercialNotAccepted => "1232",
            // 2032: libisds documents it (non-normatively) for a message
            // without documents.
            IsdsCode::NoDocument => "2032",
            // 1203-1207: no public source gives ISDS's codes for these
            // refusals of a message being sent; the numbers are the
            // gateway's choice, next to ISDS's 1201 for a sender box that
            // cannot send.
            IsdsCode::RecipientInaccessible => "1203",
            IsdsCode::OvmModeNotAllowed => "1204",
            IsdsCode::InvalidCommercialType => "1205",
            IsdsCode::TooManyRecipients => "1206",
            IsdsCode::MainDocumentRule => "1207",
            // 1007: libisds documents it (non-normatively) for CheckDataBox
            // given a malformed box ID; the gateway answers it wherever a
            // malformed box ID is given outside the search phrases.
            IsdsCode::MalformedBoxId => "1007",
            // 1101: libisds, non-normative, FindDataBox without dbType.
            IsdsCode::BoxTypeRequired => "1101",
            // 1180: ISDS's notice to developers of July 2023 (minimum search
            // phrase of two characters for ISDSSearch2/3).
            IsdsCode::SearchPhraseTooShort => "1180",
            // 1189: ISDS's code table of the same notice, for a pageSize
            // over the limit (older ISDS clamped it to 100 silently).
            IsdsCode::SearchPageTooLarge => "1189",
            // 1153-1155: libisds, non-normative, ISDSSearch2.
            IsdsCode::SearchMalformedBoxId => "1153",
            IsdsCode::SearchMalformedIc => "1154",
            IsdsCode::SearchInvalidInput => "1155",
            // 2017: libisds, non-normative, a date-time that does not parse.
            IsdsCode::InvalidDateTime => "2017",
            // 1093, 1137: libisds, non-normative, DataBoxCreditInfo (history
            // older than 15 months; interval longer than 3 months).
            IsdsCode::CreditHistoryTooOld => "1093",
            IsdsCode::CreditIntervalTooLong => "1137",
            // 9204: ISDS's generic failure code for the password services.
            IsdsCode::InternalError => "9204",
            IsdsCode::OtpServiceError => "2300",
            IsdsCode::SmsCodeTooSoon => "2301",
            IsdsCode::BoxIdSyntax => "2011",
            IsdsCode::PersonLastNameMissing => "1014",
            IsdsCode::PersonBirthDateMissing => "1015",
            IsdsCode::AddressCityMissing => "1018",
            IsdsCode::AddressNumberMissing => "1019",
            IsdsCode::AddressZipMissing => "1033",
            IsdsCode::FeeConfirmationNotPermitted => "1032",
        }
    }

    /// The default message shown with the code.
    pub fn message(self) -> &'static str {
        match self {
            IsdsCode::Ok => "Provedeno úspěšně.",
            IsdsCode::NothingFound => "Nebyl nalezen žádný záznam.",
            IsdsCode::Truncated => "Nalezeno příliš mnoho záznamů, výsledek byl zkrácen.",
            IsdsCode::PartialSuccess => "Provedeno jen částečně.",
            IsdsCode::SignedWithoutTimestamp => "Podepsáno bez časového razítka.",
            IsdsCode::SenderBoxInaccessible => "Ze znepřístupněné schránky nelze odesílat zprávy.",
            IsdsCode::MessageOfAnotherBox => "Zpráva patří jiné datové schránce.",
            IsdsCode::EraseNotPermitted => "Nedostatečná oprávnění ke smazání zprávy.",
            IsdsCode::MessageNotFound => "Zpráva neexistuje nebo již byla smazána.",
            IsdsCode::UnknownOperation => "Unknown operation",
            IsdsCode::MarkingTooLong => "Označení zprávy trvá příliš dlouho.",
            IsdsCode::TooManyParallelRequests => "Příliš mnoho souběžných požadavků.",
            IsdsCode::TooManyRequests => "Příliš mnoho požadavků, zkuste to později.",
            IsdsCode::BoxNotFound => "Datová schránka neexistuje.",
            IsdsCode::TimestampAuthorityFailure => "Selhala autorita časových razítek.",
            IsdsCode::WrongCurrentPassword => "Současné heslo není správné.",
            IsdsCode::PasswordLength => "Heslo musí mít 8 až 32 znaků.",
            IsdsCode::PasswordUnchanged => "Nové heslo je shodné se současným.",
            IsdsCode::PasswordForbiddenCharacter => "Heslo obsahuje nepovolený znak.",
            IsdsCode::PasswordCharacterClasses => {
                "Heslo musí obsahovat malé písmeno, velké písmeno a číslici."
            }
            IsdsCode::PasswordContainsLogin => "Heslo nesmí obsahovat přihlašovací jméno.",
            IsdsCode::PasswordTrivial => {
                "Heslo nesmí obsahovat tři stejné znaky za sebou ani začínat jednoduchou řadou."
            }
            IsdsCode::NotPermitted => "Nedostatečná oprávnění pro tuto operaci.",
            IsdsCode::UserNotFound => "Uživatel v datové schránce neexistuje.",
            IsdsCode::BoxExists => "Datová schránka s tímto identifikátorem již existuje.",
            IsdsCode::LoginExists => "Přihlašovací jméno je již použito.",
            IsdsCode::BoxStateForbids => "Stav datové schránky tuto operaci neumožňuje.",
            IsdsCode::InvalidRequestData => "Chybné nebo chybějící údaje požadavku.",
            IsdsCode::LastPrimaryUser => "Poslední oprávněnou osobu datové schránky nelze odebrat.",
            IsdsCode::AttachmentRejected => "Příloha zprávy byla odmítnuta",
            IsdsCode::AttachmentsTooLarge => {
                "Celková velikost příloh překračuje limit povolený pro datovou schránku."
            }
            IsdsCode::CommercialNotAccepted => {
                "Adresát nepřijímá poštovní datové zprávy a odesílatel ani adresát není orgánem veřejné moci."
            }
            IsdsCode::NoDocument => "Zpráva neobsahuje žádnou písemnost.",
            IsdsCode::RecipientInaccessible => {
                "Datová schránka adresáta není zpřístupněna, zprávu do ní nelze dodat."
            }
            IsdsCode::OvmModeNotAllowed => {
                "Odesílatel není orgánem veřejné moci, zprávu nelze odeslat v režimu OVM."
            }
            IsdsCode::InvalidCommercialType => "Neplatný typ poštovní datové zprávy.",
            IsdsCode::TooManyRecipients => "Zprávu lze najednou odeslat nejvýše 50 adresátům.",
            IsdsCode::MainDocumentRule => {
                "První písemnost zprávy musí být hlavní (main) a žádná další hlavní být nesmí."
            }
            IsdsCode::MalformedBoxId => "Chybný formát identifikátoru datové schránky.",
            IsdsCode::BoxTypeRequired => "Typ datové schránky musí být zadán.",
            IsdsCode::SearchPhraseTooShort => "Vyhledávací fráze je prázdná nebo příliš krátká.",
            IsdsCode::SearchPageTooLarge => "Požadovaná velikost stránky je příliš velká.",
            IsdsCode::SearchMalformedBoxId => "Hledaný identifikátor schránky má chybný formát.",
            IsdsCode::SearchMalformedIc => "Hledané IČO má chybný formát.",
            IsdsCode::SearchInvalidInput => "Chybné zadání vyhledávání.",
            IsdsCode::InvalidDateTime => "Chybný formát data nebo času.",
            IsdsCode::CreditHistoryTooOld => {
                "Historie kreditu je dostupná jen za posledních 15 měsíců."
            }
            IsdsCode::CreditIntervalTooLong => "Interval historie kreditu je delší než 3 měsíce.",
            IsdsCode::InternalError => "Vnitřní chyba brány.",
            IsdsCode::OtpServiceError => "Neočekávaná chyba.",
            IsdsCode::SmsCodeTooSoon => "Jednorázový kód lze poslat jednou za 30 sekund.",
            IsdsCode::BoxIdSyntax => "Chyba ve struktuře ID datové schránky.",
            IsdsCode::PersonLastNameMissing => "Chybí příjmení osoby",
            IsdsCode::PersonBirthDateMissing => "Chybí datum narození",
            IsdsCode::AddressCityMissing => "Chybí město v adrese",
            IsdsCode::AddressNumberMissing => "Chybí číslo popisné i orientační v adrese",
            IsdsCode::AddressZipMissing => "Chybí PSČ v adrese",
            IsdsCode::FeeConfirmationNotPermitted => {
                "Vaše oprávnění nedovolují potvrdit zaplacení správního poplatku"
            }
        }
    }
}

/// A status to report: a code and the message to show with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsdsStatus {
    pub code: IsdsCode,
    pub message: Cow<'static, str>,
}

impl IsdsStatus {
    /// The code with its default message.
    pub fn new(code: IsdsCode) -> Self {
        Self {
            code,
            message: Cow::Borrowed(code.message()),
        }
    }

    /// The code with a specific message (e.g. naming the offending field).
    pub fn with_message(code: IsdsCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn ok() -> Self {
        Self::new(IsdsCode::Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_four_digit_strings() {
        let mut seen = HashSet::new();
        for code in IsdsCode::ALL {
            let c = code.code();
            assert_eq!(c.len(), 4, "{code:?}");
            assert!(c.bytes().all(|b| b.is_ascii_digit()), "{code:?}");
            assert!(seen.insert(c), "duplicate {c}");
            assert!(!code.message().is_empty());
        }
    }
}
