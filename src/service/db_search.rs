//! db_search (`/DS/df`): finding and checking boxes, full-text search,
//! activity history, commercial-message and credit information, constants
//! and box addresses.
//!
//! The search rules live in [`crate::domain::search`] over the index
//! of [`crate::domain::boxes::search_index`]; this module maps requests onto them
//! and their outcomes onto responses. Who may call what:
//! - FindDataBox, FindDataBox2, ISDSSearch2, ISDSSearch3: users with the
//!   right to search for boxes (16); others get 1004, the code ISDS
//!   documents for a full-text search without that right.
//! - FindPersonalDataBox: users with right 16 of an OVM box (1004
//!   otherwise).
//! - GetDataBoxActivityStatus: users of an (effectively) OVM box, who see
//!   inaccessible periods as state 0. ISDS restricts this further to logins
//!   by system certificate; the gateway accepts any login of an OVM box.
//! - DataBoxCreditInfo, PDZInfo, PDZSendInfo, DTInfo: about the caller's own
//!   box only (1004 for another existing box, 5001 for none).
//! - CheckDataBox, GetDataBoxAddress, GetConstants: anyone; a box ID known
//!   finds the box whatever its listing.
//! - GetDataBoxList: ALL for users of OVM boxes, UPG and POA for anyone,
//!   the billing lists (OVM, OPN) for no one (1004).

use std::borrow::Cow;
use std::fmt::Write as _;

use super::{
    CallContext, Reply, ServiceError, Services, db_status, non_empty, not_implemented, respond,
};
use crate::domain::boxes::credit::{self, CreditEvent, CreditKind, PdzKind};
use crate::domain::boxes::search_index::fold;
use crate::domain::search::{
    self, Criteria, FIND_LIMIT, FindOutcome, Found, Matching, Scope, Searcher, TextQuery,
    TextTarget,
};
use crate::domain::{BoxId, BoxState, BoxType, DataBox, Privileges, boxes::activity, boxes::repo};
use crate::schema::{
    CheckDataBoxResponse, DTInfoResponse, DataBoxCreditInfoResponse, FindDataBox2Response,
    FindDataBoxResponse, FindPersonalDataBoxResponse, GCiRecordCiNewCapacitySeq,
    GCiRecordCiRecipientIDSeq, GetConstantsResponse, GetDataBoxActivityStatusResponse,
    GetDataBoxAddressResponse, GetDataBoxListResponse, ISDSSearch2Response, ISDSSearch3Response,
    OperationInfo, PDZInfoResponse, PDZSendInfoResponse, Request, TCheckDBOutput, TCiRecord,
    TConstRecord, TDBCreditInfoOutput, TDBCreditInfoOutputCiRecords, TDTInfoOutput, TDbOwnerInfo,
    TDbOwnerInfoExt, TDbOwnerInfoExt2, TDbOwnerInfoExt21, TDbOwnersArray, TDbOwnersArray2,
    TFindDBOuput, TFindDBOuput2, TFindPersonalDBOutput, TGetAddressOutput, TGetConstsOutput,
    TGetConstsOutputConstRecords, TGetDBListOutput, TGetDBStatusOutput, TISDSSearchOutput,
    TISDSSearchOutput2, TPDZInfoOutput, TPDZRec, TPDZRecArray, TPDZSendOutput, TdbPeriod,
    TdbPeriodsArray, TdbPersOwnersArray, TdbPersonalOwnerInfo, TdbResult, TdbResult2,
    TdbResultsArray, TdbResultsArray2,
};
use crate::soap::Fault;
use crate::status::{IsdsCode, IsdsStatus};
use crate::xml::{Element, Node};

/// ISDSSearch2/3 page size when none is given, and the largest accepted.
const PAGE_SIZE_DEFAULT: i64 = 50;
const PAGE_SIZE_MAX: i64 = 100;

/// The shortest search phrase ISDS accepts (since October 2023).
const MIN_PHRASE_CHARS: usize = 2;

/// How ISDS marks the words found in `dbName` and `dbAddress` when
/// highlighting is asked for.
const HL_START: &str = "|$*HL_START*$|";
const HL_END: &str = "|$*HL_END*$|";

/// ISDSSearch2 and ISDSSearch3 answer alike; their generated request,
/// result and response types differ in names and in one field of each
/// result (`$extra`, computed from the box `$b`), so one macro renders both.
macro_rules! full_text_response {
    ($blocking:ident, $store:expr, $who:expr, $may_search:expr, $req:expr, $allow_idovm:expr,
     $response:ident, $output:ident, $array:ident, $result:ident,
     |$b:ident| { $extra:ident: $extra_value:expr }) => {{
        let r = $req;
        let input = SearchInput {
            text: r.search_text,
            kind: r.search_type,
            scope: r.search_scope,
            page: r.page,
            page_size: r.page_size,
            highlighting: r.highlighting.unwrap_or(false),
            allow_idovm: $allow_idovm,
        };
        let (store, who, may_search) = ($store, $who, $may_search);
        $blocking(Box::new(move || {
            let page = full_text(store.as_ref(), &input, who, may_search)?;
            let results = page.boxes.as_ref().map(|boxes| $array {
                db_result: boxes
                    .iter()
                    .map(|($b, hit)| $result {
                        db_id: $b.id.to_string(),
                        db_type: $b.box_type.name().to_owned(),
                        db_name: page.mark(&$b.display_name(), false),
                        db_address: page.mark(&$b.owner.address.one_line(), true),
                        db_bi_date: non_empty(&$b.owner.birth_date),
                        db_ico: non_empty(&$b.owner.ic),
                        $extra: $extra_value,
                        db_send_options: search::send_options(&hit.summary, who).name().to_owned(),
                    })
                    .collect(),
            });
            Ok(body(&$response($output {
                total_count: page.total,
                current_count: page.current,
                position: page.position,
                last_page: page.last_page,
                db_results: results,
                db_status: db_status(&page.status),
            })))
        }))
        .await
    }};
}

pub(super) async fn handle(
    svc: &Services,
    ctx: &CallContext<'_>,
    op: &OperationInfo,
    request: Request,
) -> Reply {
    let me = ctx.identity;
    let who = Searcher {
        ovm: me.databox.effective_ovm || me.databox.box_type.is_ovm(),
    };
    let may_search = me.user.privileges.has(Privileges::SEARCH_DB);
    let store = svc.store.clone();
    let blocking =
        |f: Box<dyn FnOnce() -> Result<String, ServiceError> + Send>| on_search_thread(f);
    match request {
        Request::FindDataBox(req) => {
            let o = req.0.db_owner_info;
            // By ID alone (find_v1 answers "not found" when an external
            // registry identifier is given too).
            let by_id = (given(&o.identifier).is_empty() || given(&o.registry_code).is_empty())
                .then(|| given(&o.db_id))
                .filter(|id| may_search && !id.is_empty());
            find_data_box(svc, o, by_id, who, may_search, find_v1, answer_v1).await
        }
        Request::FindDataBox2(req) => {
            let o = req.0.db_owner_info;
            let by_id = Some(given(&o.db_id)).filter(|id| may_search && !id.is_empty());
            find_data_box(svc, o, by_id, who, may_search, find_v2, answer_v2).await
        }
        Request::FindPersonalDataBox(req) => {
            let o = req.0.db_owner_info;
            blocking(Box::new(move || {
                let (status, boxes) = if may_search && who.ovm {
                    find_personal(store.as_ref(), &o)?
                } else {
                    (IsdsStatus::new(IsdsCode::NotPermitted), Vec::new())
                };
                let results = (!boxes.is_empty()).then(|| TdbPersOwnersArray {
                    db_owner_info: boxes.iter().map(personal_owner).collect(),
                });
                Ok(body(&FindPersonalDataBoxResponse(TFindPersonalDBOutput {
                    db_results: results,
                    db_status: db_status(&status),
                })))
            }))
            .await
        }
        Request::CheckDataBox(req) => {
            let id = req.0.db_id;
            blocking(Box::new(move || {
                let (status, state) = match box_id(&id) {
                    Err(status) => (status, None),
                    Ok(id) => match repo::get_box(store.as_ref(), &id)? {
                        None => (IsdsStatus::new(IsdsCode::BoxNotFound), None),
                        Some(b) => (IsdsStatus::ok(), Some(i64::from(u8::from(b.state)))),
                    },
                };
                Ok(body(&CheckDataBoxResponse(TCheckDBOutput {
                    db_state: state,
                    db_status: db_status(&status),
                })))
            }))
            .await
        }
        Request::ISDSSearch2(req) => {
            full_text_response!(blocking, store, who, may_search, req.0, false,
                ISDSSearch2Response, TISDSSearchOutput, TdbResultsArray, TdbResult,
                |b| { db_effective_ovm: b.effective_ovm })
        }
        Request::ISDSSearch3(req) => {
            full_text_response!(blocking, store, who, may_search, req.0, true,
                ISDSSearch3Response, TISDSSearchOutput2, TdbResultsArray2, TdbResult2,
                |b| { db_id_ovm: ovm_identifier(b) })
        }
        Request::GetDataBoxActivityStatus(req) => {
            let r = req.0;
            blocking(Box::new(move || {
                let (status, id, periods) = if who.ovm {
                    activity_status(store.as_ref(), r.db_id.as_deref(), &r.ba_from, &r.ba_to)?
                } else {
                    (IsdsStatus::new(IsdsCode::NotPermitted), None, None)
                };
                Ok(body(&GetDataBoxActivityStatusResponse(
                    TGetDBStatusOutput {
                        db_id: id,
                        periods,
                        db_status: db_status(&status),
                    },
                )))
            }))
            .await
        }
        Request::DataBoxCreditInfo(req) => {
            let r = req.0;
            let own = me.databox.id.clone();
            let today = crate::domain::clock::czech_time::to_czech(svc.clock.now()).date();
            blocking(Box::new(move || {
                let out = credit_info(
                    store.as_ref(),
                    &own,
                    &r.db_id,
                    r.ci_from_date.as_deref(),
                    r.ci_todate.as_deref(),
                    today,
                )?;
                Ok(body(&DataBoxCreditInfoResponse(out)))
            }))
            .await
        }
        Request::PDZInfo(req) => {
            let own = me.databox.id.clone();
            let sender = req.0.pdz_sender;
            blocking(Box::new(move || {
                let (status, records) = match own_box(store.as_ref(), &own, &sender)? {
                    Err(status) => (status, None),
                    Ok(b) => (IsdsStatus::ok(), Some(pdz_records(store.as_ref(), &b)?)),
                };
                Ok(body(&PDZInfoResponse(TPDZInfoOutput {
                    db_pdz_records: records,
                    db_status: db_status(&status),
                })))
            }))
            .await
        }
        Request::PDZSendInfo(req) => {
            let own = me.databox.id.clone();
            let r = req.0;
            blocking(Box::new(move || {
                let kind = match r.pdz_type.as_deref().map(str::trim) {
                    None | Some("") => Some(PdzKind::Normal),
                    Some(name) => PdzKind::from_name(name),
                };
                let (status, result) = match (kind, own_box(store.as_ref(), &own, &r.db_id)?) {
                    (_, Err(status)) => (status, None),
                    (None, Ok(_)) => (IsdsStatus::new(IsdsCode::SearchInvalidInput), None),
                    (Some(kind), Ok(b)) => {
                        let balance = credit::balance(store.as_ref(), &b.id)?;
                        let can = b.is_accessible()
                            && u64::try_from(balance).is_ok_and(|c| c >= kind.price());
                        (IsdsStatus::ok(), Some(can))
                    }
                };
                Ok(body(&PDZSendInfoResponse(TPDZSendOutput {
                    pd_zsi_result: result,
                    db_status: db_status(&status),
                })))
            }))
            .await
        }
        Request::DTInfo(req) => {
            let own = me.databox.id.clone();
            let id = req.0.db_id;
            let today = crate::domain::clock::czech_time::to_czech(svc.clock.now()).date();
            blocking(Box::new(move || {
                let out = match own_box(store.as_ref(), &own, &id)? {
                    Err(status) => TDTInfoOutput {
                        db_status: db_status(&status),
                        ..TDTInfoOutput::default()
                    },
                    Ok(b) => vault_info(store.as_ref(), &b.id, today)?,
                };
                Ok(body(&DTInfoResponse(out)))
            }))
            .await
        }
        Request::GetConstants(req) => {
            let today = crate::domain::clock::czech_time::to_czech(svc.clock.now()).date();
            let validity_days = svc.auth_policy.password_validity_seconds / 86_400;
            let out = constants(req.const_date.as_deref(), today, validity_days);
            respond(&GetConstantsResponse(out))
        }
        Request::GetDataBoxAddress(req) => {
            let id = req.db_id.clone();
            let found = {
                let store = store.clone();
                tokio::task::spawn_blocking(move || -> Result<_, ServiceError> {
                    match box_id(&id) {
                        Err(status) => Ok(Err(status)),
                        Ok(id) => Ok(repo::get_box(store.as_ref(), &id)?
                            .ok_or(IsdsStatus::new(IsdsCode::BoxNotFound))),
                    }
                })
                .await
                .map_err(ServiceError::from)??
            };
            match found {
                Ok(b) => respond(&GetDataBoxAddressResponse(address_of(&b))),
                // The response has no status block: a box that cannot be
                // answered is a client fault carrying the ISDS code.
                Err(status) => Err(Fault::client(format!(
                    "{} {} ({})",
                    status.code.code(),
                    status.message,
                    req.db_id.trim()
                ))
                .into()),
            }
        }
        Request::GetDataBoxList(req) => {
            let kind = req.0.dbl_type.unwrap_or_default();
            let date = crate::domain::clock::czech_time::to_czech(svc.clock.now()).date();
            blocking(Box::new(move || {
                let (status, data) = box_list(store.as_ref(), kind.trim(), who, date)?;
                Ok(body(&GetDataBoxListResponse(TGetDBListOutput {
                    dbl_data: data.map(bytes::Bytes::from),
                    db_status: db_status(&status),
                })))
            }))
            .await
        }
        _ => not_implemented(op),
    }
}

/// A version of FindDataBox's search: the status and the boxes found for
/// the owner criteria `O`.
type FindFn<O> =
    fn(&dyn crate::store::Store, &O, Searcher) -> Result<(IsdsStatus, Vec<DataBox>), ServiceError>;

/// FindDataBox and FindDataBox2, `search` answered by `answer`: a search
/// by the box ID `by_id` is answered from [`FoundById`] on the request's
/// own thread while no box was written since it was last found; anything
/// else runs on a search thread ([`super::search_threads`]), and a box
/// found by ID is remembered.
async fn find_data_box<O: Send + 'static>(
    svc: &Services,
    owner: O,
    by_id: Option<String>,
    who: Searcher,
    may_search: bool,
    search: FindFn<O>,
    answer: fn(IsdsStatus, Vec<DataBox>) -> String,
) -> Reply {
    let store = svc.store.clone();
    if let Some(b) = by_id
        .as_deref()
        .and_then(|id| svc.found_by_id.get(store.as_ref(), id))
    {
        return Ok(answer(IsdsStatus::ok(), vec![b]).into());
    }
    let found_by_id = svc.found_by_id.clone();
    on_search_thread(move || {
        let count = store.writes_to(repo::BOXES);
        let (status, boxes) = if may_search {
            search(store.as_ref(), &owner, who)?
        } else {
            (IsdsStatus::new(IsdsCode::NotPermitted), Vec::new())
        };
        if let (Some(id), [b]) = (&by_id, boxes.as_slice()) {
            found_by_id.remember(count, id, b);
        }
        Ok(answer(status, boxes))
    })
    .await
}

/// Runs `f`, which reads the store, on one of the
/// [`super::search_threads`], in arrival order.
async fn on_search_thread(
    f: impl FnOnce() -> Result<String, ServiceError> + Send + 'static,
) -> Reply {
    match super::search_threads::run(f).await {
        Ok(Ok(body)) => Ok(body.into()),
        Ok(Err(e)) => Err(super::Rejection::from(e)),
        Err(e) => Err(ServiceError::from(e).into()),
    }
}

/// At least the bytes FindDataBox and FindDataBox2 write per box (about
/// 1,000 for FindDataBox over the bench's million boxes), and around the
/// boxes: an answer of a hundred boxes is written into one buffer reserved
/// for it, not one that doubles (and copies) as it grows.
const ANSWER_BYTES_PER_BOX: usize = 1_200;
const ANSWER_BYTES_AROUND: usize = 512;

fn answer_capacity(boxes: usize) -> usize {
    ANSWER_BYTES_AROUND + boxes * ANSWER_BYTES_PER_BOX
}

fn answer_v1(status: IsdsStatus, boxes: Vec<DataBox>) -> String {
    let capacity = answer_capacity(boxes.len());
    let results = (!boxes.is_empty()).then(|| TDbOwnersArray {
        db_owner_info: boxes.into_iter().map(owner_ext).collect(),
    });
    let response = FindDataBoxResponse(TFindDBOuput {
        db_results: results,
        db_status: db_status(&status),
    });
    crate::schema::to_document_fragment_sized(&response, capacity)
}

fn answer_v2(status: IsdsStatus, boxes: Vec<DataBox>) -> String {
    let capacity = answer_capacity(boxes.len());
    let results = (!boxes.is_empty()).then(|| TDbOwnersArray2 {
        db_owner_info: boxes.into_iter().map(owner_ext2).collect(),
    });
    let response = FindDataBox2Response(TFindDBOuput2 {
        db_results: results,
        db_status: db_status(&status),
    });
    crate::schema::to_document_fragment_sized(&response, capacity)
}

/// The 3.09 values 3.11's lists dropped, which the search manual still
/// accepts (WS_vyhledavani_datovych_schranek: FindDataBox2's table of old
/// types, and ISDSSearch2's `searchScope`): a request written against
/// 3.09 keeps working. They are the element's text in place of a value
/// the 3.11 schema takes while the request is parsed, and put back
/// afterwards ([`restore_3_09_value`]); [`search::find_type`] and
/// [`Scope::parse`] translate them.
const DROPPED_IN_3_11: &[(&str, &[&str], &str, &[&str])] = &[
    (
        "FindDataBox2",
        &["dbOwnerInfo", "dbType"],
        "PO",
        &["OVM_NOTAR", "OVM_EXEKUT", "PO_ZAK"],
    ),
    (
        "ISDSSearch2",
        &["searchScope"],
        "ALL",
        &["OVM_NOTAR", "OVM_EXEKUT", "PO_ZAK", "PFO_INSSPR"],
    ),
    (
        "ISDSSearch3",
        &["searchScope"],
        "ALL",
        &["OVM_NOTAR", "OVM_EXEKUT", "PO_ZAK", "PFO_INSSPR"],
    ),
];

/// `body` ready for the 3.11 parser: a value 3.11 dropped (see
/// [`DROPPED_IN_3_11`]) is replaced by one it takes, and returned.
pub(super) fn accept_3_09_values(body: &Element) -> (Cow<'_, Element>, Option<String>) {
    let Some((_, path, stand_in, dropped)) =
        DROPPED_IN_3_11.iter().find(|(op, ..)| *op == body.name)
    else {
        return (Cow::Borrowed(body), None);
    };
    let mut target = Some(body);
    for name in *path {
        target = target.and_then(|e| e.elements().find(|c| c.name == *name));
    }
    let Some(value) = target
        .map(|e| e.text().trim().to_owned())
        .filter(|v| dropped.contains(&v.as_str()))
    else {
        return (Cow::Borrowed(body), None);
    };
    let mut upgraded = body.clone();
    let mut element = &mut upgraded;
    for name in *path {
        let Some(child) = element.children.iter_mut().find_map(|n| match n {
            Node::Element(e) if e.name == *name => Some(e),
            _ => None,
        }) else {
            return (Cow::Borrowed(body), None);
        };
        element = child;
    }
    element.children = vec![Node::Text((*stand_in).to_owned())];
    (Cow::Owned(upgraded), Some(value))
}

/// Puts back the 3.09 value [`accept_3_09_values`] stood in for.
pub(super) fn restore_3_09_value(request: &mut Request, value: String) {
    match request {
        Request::FindDataBox2(r) => r.0.db_owner_info.db_type = Some(value),
        Request::ISDSSearch2(r) => r.0.search_scope = Some(value),
        Request::ISDSSearch3(r) => r.0.search_scope = Some(value),
        _ => {}
    }
}

/// Boxes that FindDataBox found by their ID, each with the write count of
/// the boxes tree ([`crate::store::Store::writes_to`]) read before it was
/// found: the next search for that ID is answered from here, on the
/// request's own thread, while that count has not moved. Any box written
/// sends the next search to the store.
#[derive(Default)]
pub(crate) struct FoundById {
    entries: std::sync::Mutex<std::collections::HashMap<String, (u64, DataBox)>>,
}

/// Most boxes [`FoundById`] keeps; past it, it starts afresh.
const FOUND_BY_ID_KEPT: usize = 10_000;

impl FoundById {
    /// The box found for `id` unless a box was written since.
    fn get(&self, store: &dyn crate::store::Store, id: &str) -> Option<DataBox> {
        let count = store.writes_to(repo::BOXES)?;
        let entries = self.entries.lock().ok()?;
        let (at, b) = entries.get(id)?;
        (*at == count).then(|| b.clone())
    }

    /// Keeps `b`, found for `id` after the count was `count`.
    fn remember(&self, count: Option<u64>, id: &str, b: &DataBox) {
        let (Some(count), Ok(mut entries)) = (count, self.entries.lock()) else {
            return;
        };
        if entries.len() >= FOUND_BY_ID_KEPT {
            entries.clear();
        }
        entries.insert(id.to_owned(), (count, b.clone()));
    }
}

fn body<T: crate::schema::XmlRoot>(response: &T) -> String {
    crate::schema::to_document_fragment(response)
}

/// `Some` trimmed text unless empty.
fn given(v: &Option<String>) -> String {
    v.as_deref().map(str::trim).unwrap_or("").to_owned()
}

/// The box ID a box-ID operation names: none given is 1007 ("the box must
/// be specified"), one that is not 7 characters from a-z and 0-9 is 2011
/// ("Chyba ve struktuře ID datové schránky."): the codes
/// WS_vyhledavani_datovych_schranek (2.3, CheckDataBox) gives for a
/// malformed box ID. The manual is silent for the other box-ID operations
/// (DataBoxCreditInfo, DTInfo, PDZSendInfo, PDZInfo,
/// GetDataBoxActivityStatus); they answer the same.
fn box_id(id: &str) -> Result<BoxId, IsdsStatus> {
    let id = id.trim();
    if id.is_empty() {
        return Err(IsdsStatus::new(IsdsCode::BoxNotSpecified));
    }
    BoxId::parse(id).map_err(|_| IsdsStatus::new(IsdsCode::MalformedBoxId))
}

/// The box-ID operations of db_search with the element naming the box.
const BOX_ID_ELEMENTS: [(&str, &str); 6] = [
    ("CheckDataBox", "dbID"),
    ("DataBoxCreditInfo", "dbID"),
    ("GetDataBoxActivityStatus", "dbID"),
    ("DTInfo", "dbID"),
    ("PDZSendInfo", "dbId"),
    ("PDZInfo", "PDZSender"),
];

/// A malformed box ID in a box-ID operation is answered with its status
/// (see [`box_id`]), not with the client fault the schema's `tIdDb`
/// (exactly 7 characters) would give: checked on the raw body, before the
/// schema. A nil ID is left to the operation.
pub(super) fn precheck(op: &OperationInfo, body: &crate::xml::Element) -> Option<Reply> {
    let (_, element) = BOX_ID_ELEMENTS.iter().find(|(name, _)| *name == op.name)?;
    let given = body.elements().find(|e| e.name == *element)?;
    if given.is_nil() {
        return None;
    }
    let status = box_id(&given.text()).err()?;
    let fragment = crate::schema::status_response(op.name, status.code.code(), &status.message)?;
    Some(Ok(fragment.into()))
}

/// GetDataBoxActivityStatus without `baTo` (absent, empty or nil) asks
/// until now, without `baFrom` since the box was created: "nejsou-li
/// zadány, uvažuje se doba od zřízení DS do dnes"
/// (WS_vyhledavani_datovych_schranek, 2.9). The schema requires both, so
/// the missing bounds are filled in before it reads the request: `baTo`
/// with `now`, `baFrom` with the start of Unix time (no box is older).
pub(super) fn fill_defaults<'b>(
    op: &OperationInfo,
    body: &'b crate::xml::Element,
    now: i64,
) -> std::borrow::Cow<'b, crate::xml::Element> {
    use crate::xml::{Element, Node};
    if op.name != "GetDataBoxActivityStatus" {
        return std::borrow::Cow::Borrowed(body);
    }
    let unset = |name: &str| {
        body.elements()
            .find(|e| e.name == name)
            .is_none_or(|e| e.is_nil() || e.text().trim().is_empty())
    };
    let (no_from, no_to) = (unset("baFrom"), unset("baTo"));
    if !no_from && !no_to {
        return std::borrow::Cow::Borrowed(body);
    }
    let ns = body.ns.clone();
    let bound = |name: &str, value: String| Element::new(ns.as_deref(), name).with_text(&value);
    let from = no_from.then(|| bound("baFrom", crate::domain::clock::xml_datetime(0)));
    let to = no_to.then(|| bound("baTo", crate::domain::clock::xml_datetime(now)));
    let mut filled = body.clone();
    filled
        .children
        .retain(|n| !matches!(n, Node::Element(e) if (no_from && e.name == "baFrom") || (no_to && e.name == "baTo")));
    // The schema's order: dbID, baFrom, baTo.
    let mut children = Vec::with_capacity(filled.children.len() + 2);
    let mut placed = false;
    for node in filled.children {
        let is_to = matches!(&node, Node::Element(e) if e.name == "baTo");
        if is_to && !placed {
            children.extend(from.clone().map(Node::Element));
            placed = true;
        }
        children.push(node);
    }
    if !placed {
        children.extend(from.map(Node::Element));
    }
    children.extend(to.map(Node::Element));
    filled.children = children;
    std::borrow::Cow::Owned(filled)
}

/// The box `id`, if it is the caller's own (`own`): otherwise 1004 for an
/// existing box, 5001 for none, 1007 or 2011 for a malformed ID.
fn own_box(
    store: &dyn crate::store::Store,
    own: &BoxId,
    id: &str,
) -> Result<Result<DataBox, IsdsStatus>, ServiceError> {
    let id = match box_id(id) {
        Ok(id) => id,
        Err(status) => return Ok(Err(status)),
    };
    match repo::get_box(store, &id)? {
        None => Ok(Err(IsdsStatus::new(IsdsCode::BoxNotFound))),
        Some(_) if id != *own => Ok(Err(IsdsStatus::new(IsdsCode::NotPermitted))),
        Some(b) => Ok(Ok(b)),
    }
}

/// The boxes of a parametric search's hits.
fn load(store: &dyn crate::store::Store, found: &Found) -> Result<Vec<DataBox>, ServiceError> {
    Ok(search::records(store, &found.hits)?
        .into_iter()
        .flatten()
        .collect())
}

/// A parametric search by the common criteria: an exact box ID first
/// (every other criterion then ignored), then the type rules.
fn find_common(
    store: &dyn crate::store::Store,
    db_id: &str,
    db_type: &str,
    c: Criteria,
    who: Searcher,
) -> Result<(IsdsStatus, Vec<DataBox>), ServiceError> {
    if !db_id.is_empty() {
        let found = BoxId::parse(db_id)
            .ok()
            .map(|id| repo::get_box(store, &id))
            .transpose()?
            .flatten();
        return Ok(match found {
            Some(b) => (IsdsStatus::ok(), vec![b]),
            None => (IsdsStatus::new(IsdsCode::BoxNotFound), Vec::new()),
        });
    }
    let Some((box_type, base_only)) = search::find_type(db_type) else {
        return Ok((IsdsStatus::new(IsdsCode::BoxTypeRequired), Vec::new()));
    };
    let c = Criteria {
        box_type: Some(box_type),
        base_only,
        ..c
    };
    parametric(store, &c, who, Matching::Find)
}

fn parametric(
    store: &dyn crate::store::Store,
    c: &Criteria,
    who: Searcher,
    how: Matching,
) -> Result<(IsdsStatus, Vec<DataBox>), ServiceError> {
    match search::find(store, c, who, how, FIND_LIMIT)? {
        // Not specific enough: ISDS's 0003 says the selection is too
        // general; nothing is returned.
        FindOutcome::TooGeneral => Ok((IsdsStatus::new(IsdsCode::Truncated), Vec::new())),
        FindOutcome::Found(found) => {
            let boxes = load(store, &found)?;
            let status = if boxes.is_empty() {
                IsdsStatus::new(IsdsCode::NothingFound)
            } else if found.truncated {
                IsdsStatus::new(IsdsCode::Truncated)
            } else {
                IsdsStatus::ok()
            };
            Ok((status, boxes))
        }
    }
}

fn find_v1(
    store: &dyn crate::store::Store,
    o: &TDbOwnerInfo,
    who: Searcher,
) -> Result<(IsdsStatus, Vec<DataBox>), ServiceError> {
    if !given(&o.identifier).is_empty() && !given(&o.registry_code).is_empty() {
        // Boxes by external registry identifier: the gateway keeps none.
        return Ok((IsdsStatus::new(IsdsCode::BoxNotFound), Vec::new()));
    }
    let first = [given(&o.pn_first_name), given(&o.pn_middle_name)]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let c = Criteria {
        box_type: None,
        base_only: false,
        ic: given(&o.ic),
        firm_name: given(&o.firm_name),
        first_name: first,
        last_name: given(&o.pn_last_name),
        city: given(&o.ad_city),
        district: String::new(),
        street: given(&o.ad_street),
        number_in_street: given(&o.ad_number_in_street),
        number_in_municipality: given(&o.ad_number_in_municipality),
        zip: given(&o.ad_zip_code),
        state: given(&o.ad_state),
        birth_date: given(&o.bi_date),
        birth_city: given(&o.bi_city),
    };
    find_common(store, &given(&o.db_id), &given(&o.db_type), c, who)
}

fn find_v2(
    store: &dyn crate::store::Store,
    o: &TDbOwnerInfoExt21,
    who: Searcher,
) -> Result<(IsdsStatus, Vec<DataBox>), ServiceError> {
    let c = Criteria {
        box_type: None,
        base_only: false,
        ic: given(&o.ic),
        firm_name: given(&o.firm_name),
        first_name: given(&o.pn_given_names),
        last_name: given(&o.pn_last_name),
        city: given(&o.ad_city),
        district: given(&o.ad_district),
        street: given(&o.ad_street),
        number_in_street: given(&o.ad_number_in_street),
        number_in_municipality: given(&o.ad_number_in_municipality),
        zip: given(&o.ad_zip_code),
        state: given(&o.ad_state),
        birth_date: given(&o.bi_date),
        birth_city: given(&o.bi_city),
    };
    let id_ovm = given(&o.db_id_ovm);
    if given(&o.db_id).is_empty() && !id_ovm.is_empty() {
        return by_id_ovm(store, &id_ovm, who);
    }
    find_common(store, &given(&o.db_id), &given(&o.db_type), c, who)
}

/// FindDataBox2 by `dbIdOVM`: "ostatní vstupní údaje se ignorují a vrátí
/// se popis nejvýše jedné DS (nebo stav 0002)"
/// (WS_vyhledavani_datovych_schranek, 2.1). The gateway's OVM identifier is
/// the one [`ovm_identifier`] reports.
fn by_id_ovm(
    store: &dyn crate::store::Store,
    id_ovm: &str,
    who: Searcher,
) -> Result<(IsdsStatus, Vec<DataBox>), ServiceError> {
    let found = search::by_ic(store, id_ovm, who, true)?;
    let boxes: Vec<DataBox> = load(store, &found)?
        .into_iter()
        .filter(|b| ovm_identifier(b).as_deref() == Some(id_ovm))
        .take(1)
        .collect();
    Ok(if boxes.is_empty() {
        (IsdsStatus::new(IsdsCode::NothingFound), boxes)
    } else {
        (IsdsStatus::ok(), boxes)
    })
}

/// FindPersonalDataBox: accessible FO boxes; by exact ID, or by the last
/// name (required, compared whole) and the other criteria given, each
/// compared whole, case and diacritics ignored. ISDS ignores aifoIsds,
/// biState, adDistrict and adZipCode; the gateway also ignores adCode,
/// biCounty and nationality, which it does not keep.
fn find_personal(
    store: &dyn crate::store::Store,
    o: &TdbPersonalOwnerInfo,
) -> Result<(IsdsStatus, Vec<DataBox>), ServiceError> {
    let db_id = given(&o.db_id);
    if !db_id.is_empty() {
        let found = BoxId::parse(&db_id)
            .ok()
            .map(|id| repo::get_box(store, &id))
            .transpose()?
            .flatten()
            .filter(|b| b.box_type == BoxType::FO && b.is_accessible());
        return Ok(match found {
            Some(b) => (IsdsStatus::ok(), vec![b]),
            None => (IsdsStatus::new(IsdsCode::NothingFound), Vec::new()),
        });
    }
    let first = [given(&o.pn_first_name), given(&o.pn_middle_name)]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let c = Criteria {
        box_type: Some(BoxType::FO),
        first_name: first,
        last_name: given(&o.pn_last_name),
        city: given(&o.ad_city),
        street: given(&o.ad_street),
        number_in_street: given(&o.ad_number_in_street),
        number_in_municipality: given(&o.ad_number_in_municipality),
        state: given(&o.ad_state),
        birth_date: given(&o.bi_date),
        birth_city: given(&o.bi_city),
        ..Criteria::default()
    };
    parametric(store, &c, Searcher { ovm: true }, Matching::Personal)
}

fn owner_ext(b: DataBox) -> TDbOwnerInfoExt {
    let o = b.owner;
    let a = o.address;
    TDbOwnerInfoExt {
        db_id: Some(b.id.to_string()),
        db_type: Some(b.box_type.name().to_owned()),
        ic: filled(o.ic),
        pn_first_name: filled(o.first_name),
        pn_last_name: filled(o.last_name),
        firm_name: filled(o.firm_name),
        bi_date: filled(o.birth_date),
        bi_city: filled(o.birth_city),
        ad_city: filled(a.city),
        ad_district: filled(a.district),
        ad_street: filled(a.street),
        ad_number_in_street: filled(a.number_in_street),
        ad_number_in_municipality: filled(a.number_in_municipality),
        ad_zip_code: filled(a.zip_code),
        ad_state: filled(a.state),
        db_state: Some(i64::from(u8::from(b.state))),
        db_effective_ovm: Some(b.effective_ovm),
        db_open_addressing: Some(b.open_addressing),
        ..TDbOwnerInfoExt::default()
    }
}

/// A box as `tDbOwnerInfoExt2` describes it (FindDataBox2,
/// GetOwnerInfoFromLogin2).
pub(super) fn owner_ext2(b: DataBox) -> TDbOwnerInfoExt2 {
    let db_id_ovm = ovm_identifier(&b);
    let o = b.owner;
    let a = o.address;
    TDbOwnerInfoExt2 {
        db_id: Some(b.id.to_string()),
        aifo_isds: Some(false),
        db_type: Some(b.box_type.name().to_owned()),
        ic: filled(o.ic),
        pn_given_names: filled(o.first_name),
        pn_last_name: filled(o.last_name),
        firm_name: filled(o.firm_name),
        bi_date: filled(o.birth_date),
        bi_city: filled(o.birth_city),
        bi_county: filled(o.birth_county),
        bi_state: filled(o.birth_state),
        ad_code: filled(o.address_code),
        ad_city: filled(a.city),
        ad_district: filled(a.district),
        ad_street: filled(a.street),
        ad_number_in_street: filled(a.number_in_street),
        ad_number_in_municipality: filled(a.number_in_municipality),
        ad_zip_code: filled(a.zip_code),
        ad_state: filled(a.state),
        nationality: filled(o.nationality),
        db_id_ovm,
        db_state: Some(i64::from(u8::from(b.state))),
        db_open_addressing: Some(b.open_addressing),
        ..TDbOwnerInfoExt2::default()
    }
}

fn personal_owner(b: &DataBox) -> TdbPersonalOwnerInfo {
    let o = &b.owner;
    let a = &o.address;
    TdbPersonalOwnerInfo {
        db_id: Some(b.id.to_string()),
        aifo_isds: Some(false),
        pn_first_name: non_empty(&o.first_name),
        pn_last_name: non_empty(&o.last_name),
        bi_date: non_empty(&o.birth_date),
        bi_city: non_empty(&o.birth_city),
        ad_city: non_empty(&a.city),
        ad_district: non_empty(&a.district),
        ad_street: non_empty(&a.street),
        ad_number_in_street: non_empty(&a.number_in_street),
        ad_number_in_municipality: non_empty(&a.number_in_municipality),
        ad_zip_code: non_empty(&a.zip_code),
        ad_state: non_empty(&a.state),
        ..TdbPersonalOwnerInfo::default()
    }
}

/// The OVM identifier (`dbIdOVM`): the gateway takes an OVM's IČ.
fn ovm_identifier(b: &DataBox) -> Option<String> {
    let o = &b.owner;
    let id = if o.id_ovm.trim().is_empty() {
        &o.ic
    } else {
        &o.id_ovm
    };
    (b.box_type.is_ovm() || b.effective_ovm)
        .then(|| non_empty(id))
        .flatten()
}

/// `s` unless empty (a value the answer leaves out), moved rather than
/// copied: an answer of a hundred boxes would otherwise copy each of their
/// strings once more.
fn filled(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// An ISDSSearch2/3 request.
struct SearchInput {
    text: String,
    kind: Option<String>,
    scope: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
    highlighting: bool,
    /// ISDSSearch3 knows the search type IDOVM.
    allow_idovm: bool,
}

/// One page of a full-text search, ready to render.
struct Page {
    status: IsdsStatus,
    total: Option<i64>,
    current: Option<i64>,
    position: Option<i64>,
    last_page: Option<bool>,
    boxes: Option<Vec<(DataBox, search::Hit)>>,
    /// Words to mark, and whether they are searched in names too.
    highlight: Option<(Vec<String>, bool)>,
}

impl Page {
    fn refused(status: IsdsStatus) -> Page {
        Page {
            status,
            total: None,
            current: None,
            position: None,
            last_page: None,
            boxes: None,
            highlight: None,
        }
    }

    /// `text` with the words found marked, if highlighting was asked for.
    fn mark(&self, text: &str, is_address: bool) -> String {
        match &self.highlight {
            Some((words, in_names)) if is_address || *in_names => highlight(text, words),
            _ => text.to_owned(),
        }
    }
}

/// Wraps every word of `text` that begins with one of `words` (folded) in
/// ISDS's highlighting markers.
fn highlight(text: &str, words: &[String]) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let folded = fold(word);
        if words.iter().any(|w| folded.starts_with(w.as_str())) {
            out.push_str(HL_START);
            out.push_str(word);
            out.push_str(HL_END);
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// ISDSSearch2/3: checks the request, runs the search, cuts the page.
///
/// Status: 1004 without the right to search; 1180 for a phrase shorter
/// than two characters (or without a word of two); 1189 for a pageSize
/// over 100; 1153/1154 for a malformed box ID or IČ searched by type;
/// 1155 for an unknown type or scope or a negative page. Otherwise 0000,
/// also when nothing matched (ISDS documents 0002 for the parametric
/// searches only), or 0003 when the search matched more boxes than the
/// gateway examines ([`search::CANDIDATE_LIMIT`]): the counts then
/// cover the boxes examined.
fn full_text(
    store: &dyn crate::store::Store,
    input: &SearchInput,
    who: Searcher,
    may_search: bool,
) -> Result<Page, ServiceError> {
    if !may_search {
        return Ok(Page::refused(IsdsStatus::new(IsdsCode::NotPermitted)));
    }
    let refuse = |code| Ok(Page::refused(IsdsStatus::new(code)));
    let text = input.text.trim();
    let kind = input.kind.as_deref().map(str::trim).unwrap_or("");
    let kind = if kind.is_empty() { "GENERAL" } else { kind };
    let Some(scope) = Scope::parse(input.scope.as_deref()) else {
        return refuse(IsdsCode::SearchInvalidInput);
    };
    let page = input.page.unwrap_or(0);
    let size = input.page_size.unwrap_or(PAGE_SIZE_DEFAULT);
    if page < 0 || size < 1 {
        return refuse(IsdsCode::SearchInvalidInput);
    }
    if size > PAGE_SIZE_MAX {
        return refuse(IsdsCode::SearchPageTooLarge);
    }
    // 1152 without a phrase, 1180 with one too short (table rows).
    if text.is_empty() {
        return refuse(IsdsCode::SearchPhraseMissing);
    }
    if text.chars().count() < MIN_PHRASE_CHARS {
        return refuse(IsdsCode::SearchPhraseTooShort);
    }
    let ic_of = |t: &str| {
        let ok = !t.is_empty() && t.len() <= 8 && t.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| format!("{t:0>8}"))
    };
    let start = usize::try_from(page.saturating_mul(size)).unwrap_or(usize::MAX);
    let take = usize::try_from(size).unwrap_or(0);
    let (found, highlight) = match kind {
        "GENERAL" | "ADDRESS" => {
            let words = TextQuery::words_of(text);
            if words.is_empty() {
                return refuse(IsdsCode::SearchPhraseTooShort);
            }
            let target = if kind == "ADDRESS" {
                TextTarget::Address
            } else {
                TextTarget::General
            };
            let q = TextQuery {
                words: words.clone(),
                target,
                scope,
            };
            let found = search::full_text_first(store, &q, who, start.saturating_add(take))?;
            (found, Some((words, target == TextTarget::General)))
        }
        "ICO" | "IDOVM" if kind == "ICO" || input.allow_idovm => {
            let Some(ic) = ic_of(text) else {
                return refuse(IsdsCode::SearchMalformedIc);
            };
            (search::by_ic(store, &ic, who, kind == "IDOVM")?, None)
        }
        "DBID" => {
            let Ok(id) = BoxId::parse(&text.to_ascii_lowercase()) else {
                return refuse(IsdsCode::SearchMalformedBoxId);
            };
            (search::by_id(store, id.as_str())?, None)
        }
        _ => return refuse(IsdsCode::SearchInvalidInput),
    };
    let total = found.total;
    let page_hits = found.hits.iter().skip(start).take(take);
    let records = search::records(store, page_hits.clone())?;
    let boxes: Vec<(DataBox, search::Hit)> = records
        .into_iter()
        .zip(page_hits)
        .filter_map(|(b, hit)| Some((b?, hit.clone())))
        .collect();
    let current = boxes.len();
    let status = if found.truncated {
        IsdsStatus::new(IsdsCode::Truncated)
    } else {
        IsdsStatus::ok()
    };
    let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    Ok(Page {
        status,
        total: Some(as_i64(total)),
        current: Some(as_i64(current)),
        position: Some(page.saturating_mul(size)),
        last_page: Some(start.saturating_add(current) >= total),
        boxes: Some(boxes),
        highlight: if input.highlighting { highlight } else { None },
    })
}

/// Unix seconds of an `xs:dateTime` (without a zone: Czech time).
fn parse_datetime(s: &str) -> Option<i64> {
    crate::domain::clock::czech_time::parse_datetime(s).map(|t| t.unix_timestamp())
}

/// GetDataBoxActivityStatus for an OVM caller: the periods of the box in
/// `[from, to]`, accessible (1) or not (0).
#[allow(clippy::type_complexity)]
fn activity_status(
    store: &dyn crate::store::Store,
    id: Option<&str>,
    from: &str,
    to: &str,
) -> Result<(IsdsStatus, Option<String>, Option<TdbPeriodsArray>), ServiceError> {
    let id = match box_id(id.unwrap_or("")) {
        Ok(id) => id,
        Err(status) => return Ok((status, None, None)),
    };
    // 2017 names the value that does not parse (table row 2017).
    let bad_time = |v: &str| {
        Ok((
            IsdsStatus::fill(IsdsCode::InvalidDateTime, &[v.trim()]),
            None,
            None,
        ))
    };
    let Some(from_t) = parse_datetime(from) else {
        return bad_time(from);
    };
    let Some(to_t) = parse_datetime(to) else {
        return bad_time(to);
    };
    if from_t > to_t {
        return bad_time(to);
    }
    let (from, to) = (from_t, to_t);
    let Some(b) = repo::get_box(store, &id)? else {
        return Ok((IsdsStatus::new(IsdsCode::BoxNotFound), None, None));
    };
    let history = activity::history(store, &id)?;
    let accessible = |s: BoxState| s == BoxState::Accessible;
    let periods = activity::periods(&history, b.state, from, to, |a, b| {
        accessible(a) == accessible(b)
    });
    let period = periods
        .into_iter()
        .map(|p| TdbPeriod {
            period_from: crate::domain::clock::xml_datetime(p.from),
            period_to: crate::domain::clock::xml_datetime(p.to),
            db_state: i64::from(accessible(p.state)),
        })
        .collect();
    Ok((
        IsdsStatus::ok(),
        Some(id.to_string()),
        Some(TdbPeriodsArray { period }),
    ))
}

/// `v` trimmed, unless blank.
fn non_blank(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// A date `YYYY-MM-DD`.
fn parse_date(s: &str) -> Option<time::Date> {
    time::Date::parse(
        s.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

fn date_text(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// DataBoxCreditInfo: the balance and the events of `[from, to]` (whole
/// days, UTC). Without an interval the history is empty; with one bound
/// the other is today (`to`) or the same day (`from`). Intervals longer
/// than three months and histories from before the last 15 months are
/// refused (1137, 1093), as ISDS does.
fn credit_info(
    store: &dyn crate::store::Store,
    own: &BoxId,
    id: &str,
    from: Option<&str>,
    to: Option<&str>,
    today: time::Date,
) -> Result<TDBCreditInfoOutput, ServiceError> {
    let refused = |status: IsdsStatus| TDBCreditInfoOutput {
        db_status: db_status(&status),
        ..TDBCreditInfoOutput::default()
    };
    let b = match own_box(store, own, id)? {
        Ok(b) => b,
        Err(status) => return Ok(refused(status)),
    };
    let (from, to) = (non_blank(from), non_blank(to));
    let parse = |v: Option<&str>| v.map(|s| parse_date(s).ok_or(())).transpose();
    let (Ok(from_d), Ok(to_d)) = (parse(from), parse(to)) else {
        let bad = [from, to]
            .into_iter()
            .flatten()
            .find(|v| parse_date(v).is_none())
            .unwrap_or_default();
        return Ok(refused(IsdsStatus::fill(IsdsCode::InvalidDateTime, &[bad])));
    };
    let (from, to) = (from_d, to_d);
    let interval = match (from, to) {
        (None, None) => None,
        (Some(f), None) => Some((f, today)),
        (None, Some(t)) => Some((t, t)),
        (Some(f), Some(t)) => Some((f, t)),
    };
    let mut records = Vec::new();
    if let Some((f, t)) = interval {
        if f > t {
            return Ok(refused(IsdsStatus::fill(
                IsdsCode::InvalidDateTime,
                &[&date_text(t)],
            )));
        }
        if (t - f).whole_days() > 92 {
            return Ok(refused(IsdsStatus::new(IsdsCode::CreditIntervalTooLong)));
        }
        if (today - f).whole_days() > 15 * 31 {
            return Ok(refused(IsdsStatus::new(IsdsCode::CreditHistoryTooOld)));
        }
        // Czech days, like every ISDS time (messages manual 1.3.2).
        let start = crate::domain::clock::czech_time::day_start(f).unix_timestamp();
        let end = t.next_day().map_or(i64::MAX, |d| {
            crate::domain::clock::czech_time::day_start(d).unix_timestamp()
        }) - 1;
        for e in credit::events(store, &b.id, start, end)? {
            records.push(Some(credit_record(&e)));
        }
    }
    Ok(TDBCreditInfoOutput {
        current_credit: Some(credit::balance(store, &b.id)?),
        notif_email: None,
        ci_records: Some(TDBCreditInfoOutputCiRecords { ci_record: records }),
        db_status: db_status(&IsdsStatus::ok()),
    })
}

fn credit_record(e: &CreditEvent) -> TCiRecord {
    let mut r = TCiRecord {
        ci_event_time: crate::domain::clock::xml_datetime(e.at),
        ci_event_type: e.kind.code(),
        ci_credit_change: e.change,
        ci_credit_after: e.after,
        ..TCiRecord::default()
    };
    match &e.kind {
        CreditKind::Charged { trans_id }
        | CreditKind::Discharged { trans_id }
        | CreditKind::Expired { trans_id } => r.ci_trans_id = Some(trans_id.clone()),
        CreditKind::MessageSent {
            recipient,
            message_id,
        } => {
            r.ci_recipient_id_seq = Some(GCiRecordCiRecipientIDSeq {
                ci_recipient_id: recipient.to_string(),
                ci_pdzid: message_id.clone(),
            })
        }
        CreditKind::StorageSet {
            new_capacity,
            new_from,
            new_to,
            old_capacity,
            old_from,
            old_to,
            done_by,
        } => {
            r.ci_new_capacity_seq = Some(GCiRecordCiNewCapacitySeq {
                ci_new_capacity: i64::try_from(*new_capacity).unwrap_or(i64::MAX),
                ci_new_from: new_from.clone(),
                ci_new_to: new_to.clone(),
                ci_old_capacity: old_capacity.map(|c| i64::try_from(c).unwrap_or(i64::MAX)),
                ci_old_from: old_from.clone(),
                ci_old_to: old_to.clone(),
                ci_done_by: done_by.clone(),
            })
        }
        CreditKind::Restored { done_by } => r.ci_done_by = Some(done_by.clone()),
    }
    r
}

/// PDZInfo: the ways the box can pay commercial messages. The gateway
/// models payment from the box's credit only (type `E`), offered while the
/// credit covers an ordinary message; the count is how many it covers.
fn pdz_records(store: &dyn crate::store::Store, b: &DataBox) -> Result<TPDZRecArray, ServiceError> {
    let balance = credit::balance(store, &b.id)?;
    let price = PdzKind::Normal.price();
    let covered = u64::try_from(balance).unwrap_or(0) / price;
    let mut records = Vec::new();
    if covered > 0 && b.is_accessible() {
        records.push(TPDZRec {
            pdz_type: "E".to_owned(),
            pdz_recip: None,
            pdz_payer: b.id.to_string(),
            pdz_expire: None,
            pdz_cnt: Some(i64::try_from(covered).unwrap_or(i64::MAX)),
            odz_ident: None,
        });
    }
    Ok(TPDZRecArray {
        db_pdz_record: records,
    })
}

/// DTInfo: the long-term storage, from the storage orders in the box's
/// credit ledger: the order whose period covers today is the active one
/// (type 1, prepaid), a later one the future one (paid). Without orders
/// the storage is inactive (type 0). The gateway keeps no messages in the
/// storage, so the capacity used is 0.
fn vault_info(
    store: &dyn crate::store::Store,
    id: &BoxId,
    today: time::Date,
) -> Result<TDTInfoOutput, ServiceError> {
    let mut active = None;
    let mut future = None;
    for e in credit::storage_orders(store, id)? {
        if let CreditKind::StorageSet {
            new_capacity,
            new_from,
            new_to,
            ..
        } = e.kind
        {
            let (Some(f), Some(t)) = (parse_date(&new_from), parse_date(&new_to)) else {
                continue;
            };
            let cap = i64::try_from(new_capacity).unwrap_or(i64::MAX);
            if f <= today && today <= t {
                active = Some((cap, f, t));
            } else if f > today {
                future = Some((cap, f, t));
            }
        }
    }
    let mut out = TDTInfoOutput {
        act_dt_type: Some(0),
        fut_dt_type: Some(0),
        db_status: db_status(&IsdsStatus::ok()),
        ..TDTInfoOutput::default()
    };
    if let Some((cap, f, t)) = active {
        out.act_dt_type = Some(1);
        out.act_dt_capacity = Some(cap);
        out.act_dt_from = Some(date_text(f));
        out.act_dt_to = Some(date_text(t));
        out.act_dt_cap_used = Some(0);
    }
    if let Some((cap, f, t)) = future {
        out.fut_dt_type = Some(1);
        out.fut_dt_capacity = Some(cap);
        out.fut_dt_from = Some(date_text(f));
        out.fut_dt_to = Some(date_text(t));
        out.fut_dt_paid = Some(1);
    }
    Ok(out)
}

/// GetConstants: the gateway's constants valid on `date` (today if nil).
/// ISDS does not publish its list; these are the values the gateway
/// works with.
fn constants(
    date: Option<&str>,
    today: time::Date,
    password_validity_days: i64,
) -> TGetConstsOutput {
    let date = match date.map(str::trim).filter(|s| !s.is_empty()) {
        None => today,
        Some(s) => match parse_date(s) {
            Some(d) => d,
            None => {
                return TGetConstsOutput {
                    const_records: None,
                    db_status: Some(db_status(&IsdsStatus::fill(
                        IsdsCode::InvalidDateTime,
                        &[s],
                    ))),
                };
            }
        },
    };
    const FROM: &str = "2009-07-01";
    const TO: &str = "9999-12-31";
    let table: [(&str, String); 7] = [
        ("PDZ_PRICE_NORMAL", PdzKind::Normal.price().to_string()),
        ("PDZ_PRICE_INIT", PdzKind::Init.price().to_string()),
        ("PDZ_PRICE_VODZ", PdzKind::Vodz.price().to_string()),
        ("DZ_MAX_RECIPIENTS", "50".to_owned()),
        ("DZ_MAX_ATTACHMENTS_MB", "20".to_owned()),
        ("SEARCH_MAX_PAGE_SIZE", PAGE_SIZE_MAX.to_string()),
        ("PASSWORD_VALIDITY_DAYS", password_validity_days.to_string()),
    ];
    let valid = parse_date(FROM).is_some_and(|f| date >= f);
    let const_record = if valid {
        table
            .into_iter()
            .map(|(name, value)| TConstRecord {
                c_name: name.to_owned(),
                c_value: value,
                c_from: FROM.to_owned(),
                c_to: TO.to_owned(),
            })
            .collect()
    } else {
        Vec::new()
    };
    TGetConstsOutput {
        const_records: Some(TGetConstsOutputConstRecords { const_record }),
        db_status: Some(db_status(&IsdsStatus::ok())),
    }
}

/// GetDataBoxAddress: the box's address in parts and as two lines (street
/// line; postal code and municipality). The gateway keeps no RÚIAN codes
/// or registration numbers; those stay nil.
fn address_of(b: &DataBox) -> TGetAddressOutput {
    let a = &b.owner.address;
    TGetAddressOutput {
        ad_code: None,
        ad_city: non_empty(&a.city),
        ad_district: non_empty(&a.district),
        ad_street: non_empty(&a.street),
        ad_number_in_street: non_empty(&a.number_in_street),
        ad_number_in_municipality: non_empty(&a.number_in_municipality),
        ad_zip_code: non_empty(&a.zip_code),
        ad_state: non_empty(&a.state),
        ad_registration_number: None,
        ad_full_address1: non_empty(&a.street_line()),
        ad_full_address2: non_empty(&a.town_line()),
    }
}

/// GetDataBoxList: a ZIP with one CSV file of the accessible boxes of the
/// list asked for (ALL: every box, for OVM callers; UPG: boxes in the role
/// of an OVM; POA: boxes accepting commercial messages), named like ISDS's
/// daily files (`actdsYYYYMMDD.csv`, `effovm…`, `puboa…`).
fn box_list(
    store: &dyn crate::store::Store,
    kind: &str,
    who: Searcher,
    date: time::Date,
) -> Result<(IsdsStatus, Option<Vec<u8>>), ServiceError> {
    let stamp = format!(
        "{:04}{:02}{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    );
    let (file, full) = match kind {
        "ALL" if who.ovm => (format!("actds{stamp}.csv"), true),
        "UPG" => (format!("effovm{stamp}.csv"), true),
        "POA" => (format!("puboa{stamp}.csv"), false),
        "ALL" | "OVM" | "OPN" => return Ok((IsdsStatus::new(IsdsCode::NotPermitted), None)),
        _ => return Ok((IsdsStatus::new(IsdsCode::SearchInvalidInput), None)),
    };
    let mut csv = String::new();
    if full {
        csv.push_str(
            "dbID,dbType,pnFirstName,pnMiddleName,pnLastName,biDate,firmName,ic,adCity,adStreet,\
             adNumberInStreet,adNumberInMunicipality,adZipCode,adState,nationality,lastChangeDate\n",
        );
    } else {
        csv.push_str("dbID,ic\n");
    }
    repo::for_each_box(store, |b| {
        if !b.is_accessible() {
            return Ok(());
        }
        let wanted = match kind {
            "UPG" => b.effective_ovm && !b.box_type.is_ovm(),
            "POA" => b.open_addressing,
            _ => true,
        };
        if !wanted {
            return Ok(());
        }
        let o = &b.owner;
        let a = &o.address;
        let fields: Vec<&str> = if full {
            vec![
                b.id.as_str(),
                b.box_type.name(),
                &o.first_name,
                "",
                &o.last_name,
                &o.birth_date,
                &o.firm_name,
                &o.ic,
                &a.city,
                &a.street,
                &a.number_in_street,
                &a.number_in_municipality,
                &a.zip_code,
                &a.state,
                "",
                "",
            ]
        } else {
            vec![b.id.as_str(), &o.ic]
        };
        let line = fields
            .into_iter()
            .map(csv_field)
            .collect::<Vec<_>>()
            .join(",");
        let _ = writeln!(csv, "{line}");
        Ok(())
    })?;
    Ok((IsdsStatus::ok(), Some(zip_one(&file, csv.as_bytes(), date))))
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// A ZIP archive holding one stored (uncompressed) file.
fn zip_one(name: &str, data: &[u8], date: time::Date) -> Vec<u8> {
    let crc = crc32(data);
    let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let dos_date: u16 = (u16::try_from(date.year() - 1980).unwrap_or(0) << 9)
        | (u16::from(u8::from(date.month())) << 5)
        | u16::from(date.day());
    let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(data.len() + 128);
    let header = |out: &mut Vec<u8>, central: bool| {
        if central {
            out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            out.extend_from_slice(&20u16.to_le_bytes()); // made by
        } else {
            out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        }
        out.extend_from_slice(&20u16.to_le_bytes()); // needed to extract
        out.extend_from_slice(&0x0800u16.to_le_bytes()); // UTF-8 name
        out.extend_from_slice(&0u16.to_le_bytes()); // stored
        out.extend_from_slice(&0u16.to_le_bytes()); // time
        out.extend_from_slice(&dos_date.to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // extra
        if central {
            out.extend_from_slice(&0u16.to_le_bytes()); // comment
            out.extend_from_slice(&0u16.to_le_bytes()); // disk
            out.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            out.extend_from_slice(&0u32.to_le_bytes()); // external attributes
            out.extend_from_slice(&0u32.to_le_bytes()); // local header offset
        }
        out.extend_from_slice(name.as_bytes());
    };
    header(&mut out, false);
    out.extend_from_slice(data);
    let central_at = u32::try_from(out.len()).unwrap_or(u32::MAX);
    header(&mut out, true);
    let central_len = u32::try_from(out.len()).unwrap_or(u32::MAX) - central_at;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // this disk
    out.extend_from_slice(&0u16.to_le_bytes()); // central directory disk
    out.extend_from_slice(&1u16.to_le_bytes()); // entries here
    out.extend_from_slice(&1u16.to_le_bytes()); // entries
    out.extend_from_slice(&central_len.to_le_bytes());
    out.extend_from_slice(&central_at.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment
    out
}

/// CRC-32 (IEEE), as ZIP uses it.
fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *slot = c;
    }
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc = table[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlighting_marks_whole_words_that_begin_with_a_query_word() {
        let words = vec!["novak".to_owned(), "brn".to_owned()];
        assert_eq!(
            highlight("Účetnictví Nováková, Brno-Líšeň", &words),
            "Účetnictví |$*HL_START*$|Nováková|$*HL_END*$|, |$*HL_START*$|Brno|$*HL_END*$|-Líšeň"
        );
        assert_eq!(highlight("", &words), "");
    }

    #[test]
    fn crc_and_zip_are_well_formed() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let date = time::macros::date!(2026 - 02 - 20);
        let z = zip_one("a.csv", b"dbID,ic\n", date);
        assert_eq!(&z[..4], b"PK\x03\x04");
        assert_eq!(&z[z.len() - 22..z.len() - 18], b"PK\x05\x06");
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("a"), "a");
        assert_eq!(csv_field("lazy, \"fox\""), "\"lazy, \"\"fox\"\"\"");
    }

    #[test]
    fn datetimes_parse_with_and_without_a_zone() {
        assert_eq!(parse_datetime("1970-01-01T00:01:00Z"), Some(60));
        // Without a zone: Czech time (CET in January 1970).
        assert_eq!(parse_datetime("1970-01-01T01:01:00.500"), Some(60));
        assert_eq!(parse_datetime("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_datetime("yesterday"), None);
    }
}
