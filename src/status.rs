//! The ISDS status codes this gateway answers with, in one place.
//!
//! Business outcomes travel in a status block (`dmStatus` for message
//! services, `dbStatus` for box services) inside an HTTP 200 response, never
//! as SOAP faults. Every code and its text are those of the operator's
//! official table of status codes (číselník chyb ISDS, July 2023 edition):
//! each variant below names its row, and the manual chapter that answers it
//! where a manual does. Texts with placeholders (`<dmID>`, `<dbID>`, …) are
//! templates; [`IsdsStatus::fill`] puts the values in, in order.
//!
//! # Situations the table has no code for
//! The gateway refuses nothing for which the table has no code; where it
//! once did, the manuals say ISDS does not refuse either:
//! - `dmOVM=true` from a box that is not a public authority: the messages
//!   manual (CreateMessage, 2.1) says the element is ignored since
//!   promotion of boxes to OVM was abolished; the mode follows the box.
//! - A first document that is not `main`, or a second `main`: the messages
//!   manual (CreateMessage, 2.1) says the first document *should* be
//!   `main` and that readers must not rely on it; ISDS accepts the message.
//! - A box ID or login asked for that is taken (the gateway's operator may
//!   choose them; ISDS assigns both itself): the general box-administration
//!   error 2031 with the reason after its colon.
//! - A commercial kind (`dmType`) a sender may not ask for: the general
//!   parameter error 2042 (the table's row for a wrong input value).

use std::borrow::Cow;

/// One ISDS status code with its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsdsCode {
    /// 0000: the operation succeeded.
    Ok,
    /// 0002: a box search found nothing.
    NothingFound,
    /// 0003: a box search found too much; the result is truncated.
    Truncated,
    /// 0004: a message to several recipients was not sent to all.
    PartialSuccess,
    /// 0005: no time-stamp for the seal of a message being downloaded.
    SignedWithoutTimestamp,
    /// 1201: the box the caller is logged in to is not accessible.
    SenderBoxInaccessible,
    /// 1211: a message of another box (or on the wrong side of the
    /// caller's box for the operation).
    MessageOfAnotherBox,
    /// 1218: the user lacks the right to erase messages.
    EraseNotPermitted,
    /// 1219: no such message, or it was deleted (delivery info, marking,
    /// envelope).
    MessageNotFound,
    /// 2006: the body element names no operation this endpoint offers.
    UnknownOperation,
    /// 3006: delivering received messages took too long.
    MarkingTooLong,
    /// 3008: too many parallel requests of one user.
    TooManyParallelRequests,
    /// 3009: another request of this account is being processed.
    TooManyRequests,
    /// 5001: the box does not exist.
    BoxNotFound,
    /// 9500: the time-stamping authority failed.
    TimestampAuthorityFailure,
    /// 1090: ChangeISDSPassword, the current password given is wrong.
    WrongCurrentPassword,
    /// 1066: ChangeISDSPassword, the new password is of the wrong length.
    PasswordLength,
    /// 1067: ChangeISDSPassword, the new password is the current one.
    PasswordUnchanged,
    /// 1079: ChangeISDSPassword, a character not allowed.
    PasswordForbiddenCharacter,
    /// 1080: ChangeISDSPassword, no lower-case letter, upper-case letter
    /// or digit.
    PasswordCharacterClasses,
    /// 1082: ChangeISDSPassword, the password contains the user's login.
    PasswordContainsLogin,
    /// 1083: ChangeISDSPassword, a trivial keyboard or number start.
    PasswordTrivial,
    /// 1004: box administration outside the caller's rights.
    NotPermitted,
    /// 5002: no such user in the box.
    UserNotFound,
    /// 2031 (no code of its own, see the module comment): a box with the
    /// requested ID exists already.
    BoxExists,
    /// 2031 (no code of its own, see the module comment): the requested
    /// login is taken.
    LoginExists,
    /// 1024: the box is not accessible (e.g. disabling a box that is not).
    BoxStateForbids,
    /// 2031: a box-administration request with an item the operation
    /// cannot use; the reason follows the colon.
    InvalidRequestData,
    /// 1009: the primary user of an FO or PFO box cannot be removed.
    LastPrimaryUser,
    /// 1214: a document refused for its file name extension.
    AttachmentRejected,
    /// 1282: the documents together exceed the size allowed.
    AttachmentsTooLarge,
    /// 1232: neither party is a public authority and the recipient does
    /// not accept commercial messages.
    CommercialNotAccepted,
    /// 2032: the message has no document.
    NoDocument,
    /// 1204: the recipient's box is not accessible.
    RecipientInaccessible,
    /// 2042 (see the module comment): a `dmType` a sender may not ask for.
    InvalidCommercialType,
    /// 1217: more recipients than one message takes.
    TooManyRecipients,
    /// 2011: a box ID that is not 7 characters from a-z and 0-9.
    MalformedBoxId,
    /// 1101: FindDataBox without the box type (`dbType`).
    BoxTypeRequired,
    /// 1180: ISDSSearch2/3, the search phrase is too short.
    SearchPhraseTooShort,
    /// 1156: ISDSSearch2/3, the page asked for is too large.
    SearchPageTooLarge,
    /// 1153: ISDSSearch2/3, the box ID searched for is malformed.
    SearchMalformedBoxId,
    /// 1154: ISDSSearch2/3, the identification number is malformed.
    SearchMalformedIc,
    /// 1155: box search services, a value of the request the service does
    /// not accept (unknown search type or scope, negative page).
    SearchInvalidInput,
    /// 2017: a date or date-time of the request does not parse.
    InvalidDateTime,
    /// 1093: DataBoxCreditInfo, the date asked for is out of range.
    CreditHistoryTooOld,
    /// 1137: DataBoxCreditInfo, the interval asked for is too long.
    CreditIntervalTooLong,
    /// 1152: ISDSSearch2/3, no search phrase.
    SearchPhraseMissing,
    /// 1081: ChangeISDSPassword, one character three times in a row.
    PasswordRepeatedCharacter,
    /// 1202: the recipient's box does not exist.
    RecipientNotFound,
    /// 1203: a message to (or from) the system box.
    SystemBoxMessage,
    /// 1206: the user lacks the right to send (PRIVIL_CREATE_DM).
    NoRightToSend,
    /// 1207: the user lacks any right to read messages.
    NoRightToRead,
    /// 1208: the user lacks the right to read messages for personal
    /// delivery (PRIVIL_READ_ALL).
    NoRightToReadPersonal,
    /// 1209: the user lacks the right to see data about messages
    /// (PRIVIL_VIEW_INFO).
    NoRightToViewInfo,
    /// 1219: no such message of the caller's box, or its content was
    /// deleted (downloads of the box's own received or sent messages).
    OwnMessageNotFound,
    /// 1222: a received message not yet delivered (state 4 or 5) cannot be
    /// read.
    MessageNotDelivered,
    /// 1230: a received message that was declared undeliverable.
    MessageUndeliverable,
    /// 1248: marking as downloaded a message that is not delivered.
    NotInDeliveredState,
    /// 1131: a wrong value of a named input parameter.
    InvalidParameter,
    /// 1025: enabling a box that is not disabled.
    BoxNotDisabled,
    /// 1037: the box is removed already.
    BoxRemoved,
    /// 1214: a document refused for its MIME type.
    AttachmentMimeRejected,
    /// 2201: a document handed in is no message or delivery info of this
    /// system (Re-signISDSDocument, AuthenticateMessage; messages manual
    /// 2.3.3).
    NotAuthentic,
    /// 1268: RegisterForNotifications with an action other than 0 or 1.
    NotificationActionInvalid,
    /// 1273: GetListForNotifications for a box not registered.
    NotificationsNotRegistered,
    /// 2350: PickUpAsyncResponse naming an unknown request type.
    AsyncTypeUnknown,
    /// 2351: PickUpAsyncResponse naming no request of the caller.
    AsyncRequestNotFound,
    /// 2019: a message ID that is no message ID.
    MalformedMessageId,
    /// 9005: the gateway itself failed.
    InternalError,
    /// 1068: a required input of the operation is empty.
    RequiredValueMissing,
    /// 2300 "Neočekávaná chyba." (official table, row 2300: an unexpected
    /// failure of the OTP web services): ChangePasswordOTP and SendSMSCode
    /// of `/asws/changePassword` (ISDS_OTP_autentizace, 3.2 and 3.3), e.g.
    /// a request they cannot read.
    OtpServiceError,
    /// 2301 "Jednorázový kód lze poslat jednou za 30 sekund." (official
    /// table, row 2301): SendSMSCode asked again within 30 seconds
    /// (ISDS_OTP_autentizace, 3.3).
    SmsCodeTooSoon,
    /// 1007 "Musí být specifikován typ nebo identifikátor schránky."
    /// (official table, row 1007): a box operation given no box ID.
    BoxNotSpecified,
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
    /// 2353 "Odpověď na požadavek již byla smazána" (official table, row
    /// 2353): PickUpAsyncResponse of a response deleted after its keeping
    /// time (messages manual 2.9).
    AsyncResponseDeleted,
    /// 3014 "Příliš mnoho zadaných asynchronních požadavků z jedné
    /// schránky." (official table, row 3014): GetListOfErasedMessages while
    /// the box already has as many asynchronous requests waiting as the
    /// messages manual allows (2.8: M = 15).
    TooManyAsyncRequests,
    /// 1280: a document's file name is longer than 255 characters.
    FileNameTooLong,
    /// 1281: a service for ordinary messages used on a big message (VoDZ) or the
    /// other way round.
    WrongServiceForMessage,
    /// 1286: UploadAttachment over the cap of unused uploads of the box.
    VodzUploadCapReached,
    /// 1287: one uploaded attachment is larger than a big message may be.
    VodzAttachmentTooLarge,
    /// 1288: a `dmExtFile` without one of its digests.
    VodzDigestMissing,
    /// 1289: a digest of a `dmExtFile` that is no hex digest of its algorithm,
    /// or an algorithm the gateway does not use.
    VodzDigestMalformed,
    /// 1290: a digest of a `dmExtFile` that is not the upload's.
    VodzDigestMismatch,
    /// 1291: a `dmExtFile` without `dmFileMetaType`.
    VodzMetaTypeMissing,
    /// 1292: a `dmExtFile` without `dmAttID`.
    VodzAttIdMissing,
    /// 1293: an upload of another box.
    VodzAttachmentOfAnotherBox,
    /// 1294: no upload of that ID (never made, or expired unused).
    VodzAttachmentNotFound,
    /// 1295: the documents given inline in CreateBigMessage exceed the
    /// ordinary limit.
    VodzInlineTooLarge,
    /// 1296: the documents of a big message exceed the VoDZ limit.
    VodzTooLarge,
    /// 1297: the documents of a big message are under the VoDZ threshold.
    VodzTooSmall,
    /// 1299: DownloadAttachment past the last document.
    VodzAttachmentIndexOutOfRange,
    /// 1298: too many VoDZ uploads of the box at once.
    VodzTooManyRequests,
    /// 1284: a `dmExtFile` whose `dmAttID` is empty.
    VodzReferenceIncomplete,
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
        IsdsCode::InvalidCommercialType,
        IsdsCode::TooManyRecipients,
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
        IsdsCode::SearchPhraseMissing,
        IsdsCode::PasswordRepeatedCharacter,
        IsdsCode::RecipientNotFound,
        IsdsCode::SystemBoxMessage,
        IsdsCode::NoRightToSend,
        IsdsCode::NoRightToRead,
        IsdsCode::NoRightToReadPersonal,
        IsdsCode::NoRightToViewInfo,
        IsdsCode::OwnMessageNotFound,
        IsdsCode::MessageNotDelivered,
        IsdsCode::MessageUndeliverable,
        IsdsCode::NotInDeliveredState,
        IsdsCode::InvalidParameter,
        IsdsCode::BoxNotDisabled,
        IsdsCode::BoxRemoved,
        IsdsCode::AttachmentMimeRejected,
        IsdsCode::NotAuthentic,
        IsdsCode::NotificationActionInvalid,
        IsdsCode::NotificationsNotRegistered,
        IsdsCode::AsyncTypeUnknown,
        IsdsCode::AsyncRequestNotFound,
        IsdsCode::MalformedMessageId,
        IsdsCode::InternalError,
        IsdsCode::RequiredValueMissing,
        IsdsCode::OtpServiceError,
        IsdsCode::SmsCodeTooSoon,
        IsdsCode::BoxNotSpecified,
        IsdsCode::PersonLastNameMissing,
        IsdsCode::PersonBirthDateMissing,
        IsdsCode::AddressCityMissing,
        IsdsCode::AddressNumberMissing,
        IsdsCode::AddressZipMissing,
        IsdsCode::FeeConfirmationNotPermitted,
        IsdsCode::AsyncResponseDeleted,
        IsdsCode::TooManyAsyncRequests,
        IsdsCode::FileNameTooLong,
        IsdsCode::WrongServiceForMessage,
        IsdsCode::VodzUploadCapReached,
        IsdsCode::VodzAttachmentTooLarge,
        IsdsCode::VodzDigestMissing,
        IsdsCode::VodzDigestMalformed,
        IsdsCode::VodzDigestMismatch,
        IsdsCode::VodzMetaTypeMissing,
        IsdsCode::VodzAttIdMissing,
        IsdsCode::VodzAttachmentOfAnotherBox,
        IsdsCode::VodzAttachmentNotFound,
        IsdsCode::VodzInlineTooLarge,
        IsdsCode::VodzTooLarge,
        IsdsCode::VodzTooSmall,
        IsdsCode::VodzAttachmentIndexOutOfRange,
        IsdsCode::VodzTooManyRequests,
        IsdsCode::VodzReferenceIncomplete,
    ];

    /// The four-digit code as it appears in `dmStatusCode`/`dbStatusCode`.
    /// The comment on each names where the gateway answers it from: the
    /// table row, and the manual chapter where one gives the code.
    pub fn code(self) -> &'static str {
        match self {
            // Table, informational states.
            IsdsCode::Ok => "0000",
            // FindDataBox, search manual.
            IsdsCode::NothingFound => "0002",
            IsdsCode::Truncated => "0003",
            // CreateMultipleMessage, messages manual 2.2.
            IsdsCode::PartialSuccess => "0004",
            // SignedMessageDownload, messages manual 2.4.2.1.
            IsdsCode::SignedWithoutTimestamp => "0005",
            // CreateMessage, messages manual 2.1 ("ze znepřístupněné
            // schránky ... chybu 1201"); read-only access 1.6.
            IsdsCode::SenderBoxInaccessible => "1201",
            // Messages manual 2.4.4 and 2.13 (another box's message).
            IsdsCode::MessageOfAnotherBox => "1211",
            // EraseMessage, messages manual 2.13.
            IsdsCode::EraseNotPermitted => "1218",
            // Table row 1219, first text; messages manual 2.13.
            IsdsCode::MessageNotFound => "1219",
            // Table row 2006 (the name of the element after the colon).
            IsdsCode::UnknownOperation => "2006",
            // Messages manual 1.8.2 (services that deliver).
            IsdsCode::MarkingTooLong => "3006",
            // Messages manual 1.9.1 and 1.9.2.
            IsdsCode::TooManyParallelRequests => "3008",
            IsdsCode::TooManyRequests => "3009",
            // Table row 5001; search manual (FindDataBox, CheckDataBox).
            IsdsCode::BoxNotFound => "5001",
            // Table row 9500 (communication with the time-stamp server).
            IsdsCode::TimestampAuthorityFailure => "9500",
            // Table rows 1066-1083 and 1090 (ChangeISDSPassword).
            IsdsCode::WrongCurrentPassword => "1090",
            IsdsCode::PasswordLength => "1066",
            IsdsCode::PasswordUnchanged => "1067",
            IsdsCode::PasswordForbiddenCharacter => "1079",
            IsdsCode::PasswordCharacterClasses => "1080",
            IsdsCode::PasswordContainsLogin => "1082",
            IsdsCode::PasswordTrivial => "1083",
            // Table row 1004 (box administration outside the caller's
            // rights); box-management manual, rights of each operation.
            IsdsCode::NotPermitted => "1004",
            // Table row 5002.
            IsdsCode::UserNotFound => "5002",
            // Table row 2031 (general box-administration error).
            IsdsCode::BoxExists => "2031",
            IsdsCode::LoginExists => "2031",
            // Table row 1024 (the box is not accessible).
            IsdsCode::BoxStateForbids => "1024",
            // Table row 2031.
            IsdsCode::InvalidRequestData => "2031",
            // Table row 1009; box-management manual 2.5 (DeleteDataBoxUser2).
            IsdsCode::LastPrimaryUser => "1009",
            // Table sheet 1214; messages manual 2.1 and chapter 3.
            IsdsCode::AttachmentRejected => "1214",
            // Table row 1282 (documents of a normal message over the limit).
            IsdsCode::AttachmentsTooLarge => "1282",
            // Table row 1232.
            IsdsCode::CommercialNotAccepted => "1232",
            // Table row 2032.
            IsdsCode::NoDocument => "2032",
            // Table row 1204.
            IsdsCode::RecipientInaccessible => "1204",
            // Table row 2042 (see the module comment).
            IsdsCode::InvalidCommercialType => "2042",
            // Table row 1217; messages manual 2.2 (at most 50 recipients).
            IsdsCode::TooManyRecipients => "1217",
            // Table row 2011, the structure text.
            IsdsCode::MalformedBoxId => "2011",
            // Table row 1101.
            IsdsCode::BoxTypeRequired => "1101",
            // Table rows 1152-1156 and 1180 (ISDSSearch2/3).
            IsdsCode::SearchPhraseTooShort => "1180",
            IsdsCode::SearchPageTooLarge => "1156",
            IsdsCode::SearchMalformedBoxId => "1153",
            IsdsCode::SearchMalformedIc => "1154",
            IsdsCode::SearchInvalidInput => "1155",
            // Table row 2017.
            IsdsCode::InvalidDateTime => "2017",
            // Table rows 1093 and 1137 (DataBoxCreditInfo).
            IsdsCode::CreditHistoryTooOld => "1093",
            IsdsCode::CreditIntervalTooLong => "1137",
            IsdsCode::SearchPhraseMissing => "1152",
            IsdsCode::PasswordRepeatedCharacter => "1081",
            // Table rows 1202-1209; messages manual 1.4 (rights) and 2.1.
            IsdsCode::RecipientNotFound => "1202",
            IsdsCode::SystemBoxMessage => "1203",
            IsdsCode::NoRightToSend => "1206",
            IsdsCode::NoRightToRead => "1207",
            IsdsCode::NoRightToReadPersonal => "1208",
            IsdsCode::NoRightToViewInfo => "1209",
            // Table row 1219, second text; messages manual 2.4.1, 2.4.2.
            IsdsCode::OwnMessageNotFound => "1219",
            // Table row 1222; messages manual 1.8.1, 2.4.1, 2.4.2, 2.4.4.
            IsdsCode::MessageNotDelivered => "1222",
            // Table row 1230.
            IsdsCode::MessageUndeliverable => "1230",
            // Table row 1248; messages manual 2.5.
            IsdsCode::NotInDeliveredState => "1248",
            // Table row 1131.
            IsdsCode::InvalidParameter => "1131",
            // Table rows 1025 and 1037.
            IsdsCode::BoxNotDisabled => "1025",
            IsdsCode::BoxRemoved => "1037",
            // Table sheet 1214.
            IsdsCode::AttachmentMimeRejected => "1214",
            // Table row 2201; messages manual 2.3.3.
            IsdsCode::NotAuthentic => "2201",
            // Table rows 1268, 1273; messages manual 2.11, 2.12.
            IsdsCode::NotificationActionInvalid => "1268",
            IsdsCode::NotificationsNotRegistered => "1273",
            // Table rows 2350, 2351; messages manual 2.9.
            IsdsCode::AsyncTypeUnknown => "2350",
            IsdsCode::AsyncRequestNotFound => "2351",
            // Table row 2019.
            IsdsCode::MalformedMessageId => "2019",
            // Table row 9005.
            IsdsCode::InternalError => "9005",
            // Table row 1068: a required input of the web service is empty
            // (messages manual 1.3.1: empty elements mean no value).
            IsdsCode::RequiredValueMissing => "1068",
            IsdsCode::OtpServiceError => "2300",
            IsdsCode::SmsCodeTooSoon => "2301",
            IsdsCode::BoxNotSpecified => "1007",
            IsdsCode::PersonLastNameMissing => "1014",
            IsdsCode::PersonBirthDateMissing => "1015",
            IsdsCode::AddressCityMissing => "1018",
            IsdsCode::AddressNumberMissing => "1019",
            IsdsCode::AddressZipMissing => "1033",
            IsdsCode::FeeConfirmationNotPermitted => "1032",
            IsdsCode::AsyncResponseDeleted => "2353",
            // Table row 3014; GetListOfErasedMessages, messages manual 2.8.
            IsdsCode::TooManyAsyncRequests => "3014",
            // Table row 1280; VoDZ manual (2022_1) chapter 6 (names of at
            // most 255 characters).
            IsdsCode::FileNameTooLong => "1280",
            // Table row 1281; VoDZ manual (2022_1) 3.8.
            IsdsCode::WrongServiceForMessage => "1281",
            // Table row 1286; VoDZ manual (2022_1) 3.6.1 (the cap on unused uploads).
            IsdsCode::VodzUploadCapReached => "1286",
            // Table row 1287.
            IsdsCode::VodzAttachmentTooLarge => "1287",
            // Table row 1288; VoDZ manual (2022_1) 3.7.1.
            IsdsCode::VodzDigestMissing => "1288",
            // Table row 1289; VoDZ manual (2022_1) 3.7.1.
            IsdsCode::VodzDigestMalformed => "1289",
            // Table row 1290; VoDZ manual (2022_1) 3.7.1.
            IsdsCode::VodzDigestMismatch => "1290",
            // Table row 1291.
            IsdsCode::VodzMetaTypeMissing => "1291",
            // Table row 1292.
            IsdsCode::VodzAttIdMissing => "1292",
            // Table row 1293; VoDZ manual (2022_1) 3.7.1.
            IsdsCode::VodzAttachmentOfAnotherBox => "1293",
            // Table row 1294; VoDZ manual (2022_1) 3.7.1 and 3.6.1 (unused
            // uploads are deleted after their keeping time).
            IsdsCode::VodzAttachmentNotFound => "1294",
            // Table row 1295.
            IsdsCode::VodzInlineTooLarge => "1295",
            // Table row 1296; VoDZ manual (2022_1) 3.1 (the technical limit).
            IsdsCode::VodzTooLarge => "1296",
            // Table row 1297; VoDZ manual (2022_1) 3.7.
            IsdsCode::VodzTooSmall => "1297",
            // Table row 1299; VoDZ manual (2022_1) 3.6.2.
            IsdsCode::VodzAttachmentIndexOutOfRange => "1299",
            // Table row 1298.
            IsdsCode::VodzTooManyRequests => "1298",
            // Table row 1284 (the table gives its text in English).
            IsdsCode::VodzReferenceIncomplete => "1284",
        }
    }

    /// The code's text as the table gives it; placeholders in angle
    /// brackets are filled by [`IsdsStatus::fill`].
    pub fn message(self) -> &'static str {
        match self {
            IsdsCode::Ok => "Provedeno úspěšně.",
            IsdsCode::NothingFound => "Podmínkám neodpovídá žádná datová schránka.",
            IsdsCode::Truncated => "Výběr zadán příliš obecně, výsledků je příliš mnoho.",
            IsdsCode::PartialSuccess => "Některé datové zprávy nebyly úspěšně odeslány.",
            IsdsCode::SignedWithoutTimestamp => {
                "Nepodařilo se získat časové razítko pro elektronickou pečeť správce (pečetění datové zprávy při jejím stažení)."
            }
            IsdsCode::SenderBoxInaccessible => {
                "Schránka, do níž jste přihlášen(a), není přístupná."
            }
            IsdsCode::MessageOfAnotherBox => "Nemáte právo na přístup k zásilkám v cizí schránce.",
            IsdsCode::EraseNotPermitted => {
                "Nemáte oprávnění mazat datové zprávy v Datovém trezoru."
            }
            IsdsCode::MessageNotFound => "Zpráva <dmID> není v databázi.",
            IsdsCode::UnknownOperation => "Unknown operation: <operation>",
            IsdsCode::MarkingTooLong => {
                "Došlé zprávy nebyly doručeny v časovém limitu, zopakujte operaci"
            }
            IsdsCode::TooManyParallelRequests => {
                "Příliš mnoho paralelních požadavků pro DS <ID DS>:<počet>"
            }
            IsdsCode::TooManyRequests => {
                "Právě se zpracovává jiný požadavek pro tento účet datové schránky, zašlete prosím Váš požadavek později."
            }
            IsdsCode::BoxNotFound => "Datová schránka nenalezena.",
            IsdsCode::TimestampAuthorityFailure => {
                "Chyba při komunikaci se serverem časového razítka: <n>"
            }
            IsdsCode::WrongCurrentPassword => "Zadané staré heslo není platné",
            IsdsCode::PasswordLength => "Délka hesla musí být mezi 8 a 64 znaky.",
            IsdsCode::PasswordUnchanged => "Nové heslo nesmí být stejné jako staré.",
            IsdsCode::PasswordForbiddenCharacter => "Heslo nesmí obsahovat znak <char>",
            IsdsCode::PasswordCharacterClasses => {
                "Nové heslo musí obsahovat alespoň jedno velké písmeno, malé písmeno i číslici."
            }
            IsdsCode::PasswordContainsLogin => "Nové heslo nesmí obsahovat ID uživatele.",
            IsdsCode::PasswordTrivial => "Nové heslo nesmí mít takto triviální tvar.",
            IsdsCode::NotPermitted => "Nemáte oprávnění k provedení této operace",
            IsdsCode::UserNotFound => {
                "Zadaná osoba nenalezena mezi uživateli schránky <id_schranky>."
            }
            IsdsCode::BoxExists | IsdsCode::LoginExists | IsdsCode::InvalidRequestData => {
                "Chyba v požadavku na správu schránek: <popis>"
            }
            IsdsCode::BoxStateForbids => "Schránka <dbID> není přístupná",
            IsdsCode::LastPrimaryUser => "Pro FO a PFO nelze zrušit primárního uživatele.",
            IsdsCode::AttachmentRejected => {
                "Přípona souboru přiloženého k datové zprávě není v seznamu povolených přípon."
            }
            IsdsCode::AttachmentsTooLarge => "Přílohy datové zprávy přesahují povolenou délku.",
            IsdsCode::CommercialNotAccepted => {
                "Odesilatel ani příjemce datové zprávy není OVM a příjemce nedovolil příjem Poštovních datových zpráv."
            }
            IsdsCode::NoDocument => "Datová zpráva neobsahuje žádnou přílohu",
            IsdsCode::RecipientInaccessible => "Schránka příjemce není přístupná.",
            IsdsCode::InvalidCommercialType => "Chybný parametr",
            IsdsCode::TooManyRecipients => "Nesmí být uvedeno více než <N> příjemců datové zprávy.",
            IsdsCode::MalformedBoxId => "Chyba ve struktuře ID datové schránky.",
            IsdsCode::BoxTypeRequired => "Nutno specifikovat typ schránky",
            IsdsCode::SearchPhraseTooShort => "Příliš krátká vyhledávací fráze.",
            IsdsCode::SearchPageTooLarge => "Příliš velká hodnota pageSize",
            IsdsCode::SearchMalformedBoxId => "Neplatné DB ID",
            IsdsCode::SearchMalformedIc => "Neplatné IČO",
            IsdsCode::SearchInvalidInput => "Neplatné vstupní parametry",
            IsdsCode::InvalidDateTime => "Chyba v syntaxi data: <XMLdata>",
            IsdsCode::CreditHistoryTooOld => "Požadované datum je mimo rozsah.",
            IsdsCode::CreditIntervalTooLong => "Byl zadán příliš dlouhý časový interval.",
            IsdsCode::SearchPhraseMissing => "Nezadaná vyhledávací fráze",
            IsdsCode::PasswordRepeatedCharacter => "Trojí opakování stejného znaku není dovoleno.",
            IsdsCode::RecipientNotFound => "Schránka příjemce <dbID> neexistuje.",
            IsdsCode::SystemBoxMessage => {
                "Nelze zasílat datové zprávy do ani ze systémové schránky správce nebo provozovatele ISDS"
            }
            IsdsCode::NoRightToSend => "Nemáte oprávnění odesílat datové zprávy.",
            IsdsCode::NoRightToRead => "Nemáte oprávnění číst žádné datové zprávy.",
            IsdsCode::NoRightToReadPersonal => {
                "Nemáte oprávnění číst datové zprávy určené do vlastních rukou."
            }
            IsdsCode::NoRightToViewInfo => {
                "Nemáte oprávnění vidět údaje o zprávách (uživatel <userID>, práva <privils>)."
            }
            IsdsCode::OwnMessageNotFound => "Zpráva <dmID> pro/od <dbID> není v databázi.",
            IsdsCode::MessageNotDelivered => {
                "Zpráva dosud nebyla označena jako doručená, proto ji nelze číst."
            }
            IsdsCode::MessageUndeliverable => "Zpráva byla prohlášena za nedoručitelnou.",
            IsdsCode::NotInDeliveredState => "Zpráva není ve stavu doručená.",
            IsdsCode::InvalidParameter => "Chybně zadaný parametr <nazev_parametru>",
            IsdsCode::BoxNotDisabled => "Schránka <dbID> není znepřístupněná",
            IsdsCode::BoxRemoved => "Schránka <dbID> je již zrušená",
            IsdsCode::AttachmentMimeRejected => "Zadaný MIME typ souboru neodpovídá.",
            IsdsCode::NotAuthentic => {
                "Předložená data neodpovídají žádné datové zprávě, dodejce ani doručence."
            }
            IsdsCode::NotificationActionInvalid => "action musí být 0 nebo 1, je <action>",
            IsdsCode::NotificationsNotRegistered => "Registrace k příjmu notifikací neexistuje",
            IsdsCode::AsyncTypeUnknown => "Neznámý typ asynchronního požadavku <typ>",
            IsdsCode::AsyncRequestNotFound => "Neevidujeme žádný Váš požadavek s ID <ID>",
            IsdsCode::MalformedMessageId => "Chyba v syntaxi ID datové zprávy.",
            IsdsCode::InternalError => "Interní chyba ISDS.",
            IsdsCode::RequiredValueMissing => "Chybí povinný vstupní údaj.",
            IsdsCode::OtpServiceError => "Neočekávaná chyba.",
            IsdsCode::SmsCodeTooSoon => "Jednorázový kód lze poslat jednou za 30 sekund.",
            IsdsCode::BoxNotSpecified => "Musí být specifikován typ nebo identifikátor schránky.",
            IsdsCode::PersonLastNameMissing => "Chybí příjmení osoby",
            IsdsCode::PersonBirthDateMissing => "Chybí datum narození",
            IsdsCode::AddressCityMissing => "Chybí město v adrese",
            IsdsCode::AddressNumberMissing => "Chybí číslo popisné i orientační v adrese",
            IsdsCode::AddressZipMissing => "Chybí PSČ v adrese",
            IsdsCode::FeeConfirmationNotPermitted => {
                "Vaše oprávnění nedovolují potvrdit zaplacení správního poplatku"
            }
            IsdsCode::AsyncResponseDeleted => "Odpověď na požadavek již byla smazána",
            IsdsCode::TooManyAsyncRequests => {
                "Příliš mnoho zadaných asynchronních požadavků z jedné schránky."
            }
            IsdsCode::FileNameTooLong => "Příliš dlouhé jméno přílohy",
            IsdsCode::WrongServiceForMessage => "Zvolená služba není určena pro tento typ zprávy",
            IsdsCode::VodzUploadCapReached => {
                "Nelze vložit přílohu, nejdříve použijte dříve vložené k odeslání zpráv."
            }
            IsdsCode::VodzAttachmentTooLarge => "Příloha datové zprávy přesahuje povolenou délku.",
            IsdsCode::VodzDigestMissing => "V odkazu na přílohu chybí digest.",
            IsdsCode::VodzDigestMalformed => {
                "V odkazu na přílohu mají údaje o digestu špatný formát."
            }
            IsdsCode::VodzDigestMismatch => "Digest přílohy nesouhlasí.",
            IsdsCode::VodzMetaTypeMissing => "Chybí atribut dmFileMetaType.",
            IsdsCode::VodzAttIdMissing => "Chybí atribut dmFileAttId.",
            IsdsCode::VodzAttachmentOfAnotherBox => {
                "Příloha s ID <attId> nepatří přihlášenému uživateli."
            }
            IsdsCode::VodzAttachmentNotFound => "Příloha s ID <attId> neexistuje.",
            IsdsCode::VodzInlineTooLarge => {
                "Velikost přílohy v těle datové zprávy přeshuje povolenou délku."
            }
            IsdsCode::VodzTooLarge => "Přílohy datové zprávy přesahují povolenu délku.",
            IsdsCode::VodzTooSmall => "Přílohy datové zprávy nedosahují minimální délky pro VODZ",
            IsdsCode::VodzAttachmentIndexOutOfRange => {
                "Příloha <N> neexistuje (číslováno od nuly)."
            }
            IsdsCode::VodzTooManyRequests => {
                "Příliš mnoho souběžných požadavků na VODZ, zopakujte akci později"
            }
            IsdsCode::VodzReferenceIncomplete => "Missing data in attachment reference.",
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
    /// The code with its text as the table gives it (for codes whose text
    /// has placeholders, use [`IsdsStatus::fill`]).
    pub fn new(code: IsdsCode) -> Self {
        Self {
            code,
            message: Cow::Borrowed(code.message()),
        }
    }

    /// The code with its text, each `<placeholder>` replaced by the next
    /// of `values` (a placeholder without a value is left out).
    pub fn fill(code: IsdsCode, values: &[&str]) -> Self {
        Self {
            code,
            message: Cow::Owned(fill_placeholders(code.message(), values)),
        }
    }

    /// The code with a message already made from its text (e.g. a status
    /// block read back from a response).
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

/// 9500 for a failed time-stamp request; `<n>` is the number of the
/// failed attempt, always the first (the gateway does not retry).
pub fn timestamp_failure() -> IsdsStatus {
    IsdsStatus::fill(IsdsCode::TimestampAuthorityFailure, &["1"])
}

/// `template` with each `<…>` replaced by the next value.
fn fill_placeholders(template: &str, values: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut values = values.iter();
    let mut rest = template;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        out.push_str(&rest[..start]);
        if let Some(v) = values.next() {
            out.push_str(v);
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_four_digit_strings_with_a_text() {
        for code in IsdsCode::ALL {
            let c = code.code();
            assert_eq!(c.len(), 4, "{code:?}");
            assert!(c.bytes().all(|b| b.is_ascii_digit()), "{code:?}");
            assert!(!code.message().is_empty());
        }
    }

    #[test]
    fn placeholders_are_filled_in_order() {
        let s = IsdsStatus::fill(IsdsCode::OwnMessageNotFound, &["42", "abc1234"]);
        assert_eq!(s.message, "Zpráva 42 pro/od abc1234 není v databázi.");
        let s = IsdsStatus::fill(IsdsCode::MessageNotFound, &[]);
        assert_eq!(s.message, "Zpráva  není v databázi.");
        let s = IsdsStatus::fill(IsdsCode::Ok, &["x"]);
        assert_eq!(s.message, "Provedeno úspěšně.");
    }
}
