//! Operation handlers, one module per WSDL family, behind one dispatcher.
//!
//! The dispatcher turns the SOAP body element into a typed request (types
//! generated from `schemas/`), checks that the endpoint offers the
//! operation and that the caller may call it, and hands it to the family's
//! module, which answers with a typed response serialised here.

mod db_access;
mod db_manipulations;
mod db_search;
mod dm_info;
mod dm_operations;
pub(crate) mod dm_vodz;
mod isds_stat;
mod message_read;
mod search_threads;
mod signed;

pub(crate) use db_access::change_password_otp;
pub use signed::{SIGNED_DELIVERY_NS, SIGNED_MESSAGE_NS, SIGNED_SENT_MESSAGE_NS};

use std::sync::Arc;

use hyper::HeaderMap;

use crate::auth::{AuthFailure, AuthPolicy, Identity};
use crate::domain::boxes::repo::RepoError;
use crate::domain::clock::Clock;
use crate::http::routes::{Endpoint, LoginMethod};
use crate::schema::{self, ISDS_NS, OperationInfo, TDbReqStatus, TStatus, WsdlFamily, XmlRoot};
use crate::soap::Fault;
use crate::status::{IsdsCode, IsdsStatus};
use crate::store::Store;
use crate::tls::PeerCertificate;
use crate::xml::{Element, XmlWriter};

/// What a handler may know about the call besides its body.
pub struct CallContext<'a> {
    pub login: LoginMethod,
    pub endpoint: Endpoint,
    pub headers: &'a HeaderMap,
    pub peer_certificate: Option<&'a PeerCertificate>,
    /// Who is calling (authentication already succeeded).
    pub identity: &'a Identity,
    /// The spooled request and the streamed reply of a VoDZ call (`None`
    /// on every other endpoint).
    pub vodz: Option<&'a dm_vodz::VodzIo>,
}

/// Why a call got no SOAP response.
#[derive(Debug)]
pub enum Rejection {
    /// A SOAP fault (bad request, or the server failed).
    Fault(Fault),
    /// An HTTP 401, e.g. an expired password used for anything but the
    /// password services.
    Unauthorized(AuthFailure),
}

impl From<Fault> for Rejection {
    fn from(f: Fault) -> Self {
        Rejection::Fault(f)
    }
}

/// A handler failed for reasons of the server, not of the request.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Search(#[from] search_threads::SearchFailed),
    #[error(transparent)]
    Wire(#[from] crate::domain::messages::wire::WireError),
}

impl ServiceError {
    /// Whether the store failed because the disk is full.
    pub fn is_disk_full(&self) -> bool {
        match self {
            ServiceError::Repo(e) => e.is_disk_full(),
            ServiceError::Store(e) => e.is_disk_full(),
            ServiceError::Task(_) | ServiceError::Search(_) | ServiceError::Wire(_) => false,
        }
    }
}

/// The reason a server fault gives the client: what happened, never the
/// details (file-system paths, engine messages), which go to the log.
pub(crate) fn public_reason(disk_full: bool) -> &'static str {
    if disk_full {
        "the gateway's storage is full: the request was not carried out and nothing of it \
         was stored; retry once space is freed"
    } else {
        "internal error of the gateway; the details are in its log"
    }
}

impl From<ServiceError> for Rejection {
    fn from(err: ServiceError) -> Self {
        tracing::error!(error = %err, "handler failed");
        // Corruption is described by the gateway's own words (which
        // document, what is wrong), never with a path.
        let corrupt = match &err {
            ServiceError::Repo(RepoError::Store(crate::store::StoreError::Corrupt(what)))
            | ServiceError::Store(crate::store::StoreError::Corrupt(what)) => Some(what),
            _ => None,
        };
        let reason = match corrupt {
            Some(what) => format!("stored data is corrupt: {what}"),
            None => public_reason(err.is_disk_full()).to_owned(),
        };
        Rejection::Fault(Fault::server(reason))
    }
}

/// A handler's answer: a response body fragment, or a rejection.
pub type Reply = Result<crate::xml::Fragment, Rejection>;

/// The result of one call: the operation name (for logs) and the reply.
pub struct CallOutcome {
    pub operation: String,
    pub reply: Reply,
}

/// All operation handlers over one store and one clock.
pub struct Services {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) auth_policy: AuthPolicy,
    /// Signs and checks `.zfo` artefacts; without one the signed
    /// operations answer a server fault.
    pub(crate) signer: Option<Arc<crate::sign::Signer>>,
    /// The published statistics, recomputed on their own period.
    pub(crate) statistics: Arc<crate::domain::messages::statistics::Statistics>,
    /// The limits of big messages (VoDZ).
    pub(crate) vodz: crate::domain::messages::vodz::VodzLimits,
    /// Boxes FindDataBox found by ID, while the boxes are unchanged.
    pub(crate) found_by_id: Arc<db_search::FoundById>,
}

/// Operations a user whose password expired (or was generated and must be
/// changed) may still call. After expiry a user may log in only to change
/// the password (the ISDS operating rules; the messages manual, 1.6, keeps
/// "lze změnit heslo" even for an inaccessible box). Logging in is itself
/// a call: clients, libdatovka's `isds_login` among them, log in with
/// DummyOperation on `/DS/dz` and only then call ChangeISDSPassword, so
/// DummyOperation must pass too or such a user could never change the
/// password. It answers nothing but the status and delivers nothing.
const PASSWORD_SERVICES: [&str; 3] = ["ChangeISDSPassword", "GetPasswordInfo", "DummyOperation"];

impl Services {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, auth_policy: AuthPolicy) -> Self {
        Self {
            store,
            clock,
            auth_policy,
            signer: None,
            statistics: Arc::default(),
            vodz: Default::default(),
            found_by_id: Arc::default(),
        }
    }

    /// Services with these limits of big messages.
    pub fn with_vodz(mut self, limits: crate::domain::messages::vodz::VodzLimits) -> Self {
        self.vodz = limits;
        self
    }

    /// Services that sign with `signer`.
    pub fn with_signer(mut self, signer: Arc<crate::sign::Signer>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Dispatches one body element received on `ctx.endpoint`.
    ///
    /// An element outside the ISDS namespace is a client fault; an ISDS
    /// element naming no operation of this endpoint gets ISDS's own answer,
    /// `<NameResponse>` with status 2006; a request the schema refuses is a
    /// client fault naming the offending element.
    pub async fn call(&self, ctx: &CallContext<'_>, body: &Element) -> CallOutcome {
        let operation = body.name.clone();
        let reply = self.dispatch(ctx, body).await;
        CallOutcome { operation, reply }
    }

    async fn dispatch(&self, ctx: &CallContext<'_>, body: &Element) -> Reply {
        if body.ns.as_deref() != Some(ISDS_NS) {
            let ns = body.ns.as_deref().unwrap_or("");
            return Err(Fault::client(format!(
                "the body element {{{ns}}}{} is not in the ISDS namespace {ISDS_NS}",
                body.name
            ))
            .into());
        }
        let Some(op) = schema::operation(&body.name)
            .filter(|op| op.family.endpoint() == ctx.endpoint.segment())
        else {
            return Ok(unknown_operation(&body.name, ctx.endpoint).into());
        };
        if ctx.identity.must_change_password && !PASSWORD_SERVICES.contains(&op.name) {
            return Err(Rejection::Unauthorized(AuthFailure::PasswordExpired));
        }
        // The operator administers boxes and does nothing else.
        if ctx.identity.is_operator() && op.family != WsdlFamily::DbManipulations {
            return Err(Rejection::Unauthorized(AuthFailure::BadRole));
        }
        if let Some(reply) = dm_operations::precheck(op, body) {
            return reply;
        }
        if let Some(reply) = dm_vodz::precheck(op, body) {
            return reply;
        }
        if let Some(reply) = db_search::precheck(op, body) {
            return reply;
        }
        let body = db_search::fill_defaults(op, body, self.clock.unix());
        let (body, dropped_value) = db_search::accept_3_09_values(&body);
        let mut request = match schema::parse_request(&body) {
            Ok(request) => request,
            Err(schema::SchemaError::Empty { element })
            | Err(schema::SchemaError::Missing { child: element, .. }) => {
                return Ok(required_value_missing(op, ctx.endpoint, &element).into());
            }
            Err(err) => return Err(Fault::client(err.to_string()).into()),
        };
        if let Some(value) = dropped_value {
            db_search::restore_3_09_value(&mut request, value);
        }
        // Transitions that fell due; delivery itself happens only in
        // GetListOfReceivedMessages (messages manual 1.8.1, 2.7.1). A user
        // who must change the password gets through only to the password
        // services and DummyOperation (above), and moves nothing on.
        // DummyOperation reads no message: it does not wait for the store
        // (what fell due is caught up by the next call that reads one).
        // A submission catches up itself (`dm_operations::submit`): on the
        // blocking thread that stores a large one, and for a small one,
        // staged on its own task, only when something fell due.
        if is_message_family(op.family)
            && !ctx.identity.must_change_password
            && !matches!(
                op.name,
                "DummyOperation" | "CreateMessage" | "CreateMultipleMessage"
            )
        {
            message_read::catch_up(self).await?;
        }
        match op.family {
            WsdlFamily::DmOperations => dm_operations::handle(self, ctx, op, request).await,
            WsdlFamily::DmInfo => dm_info::handle(self, ctx, op, request).await,
            WsdlFamily::DbAccess => db_access::handle(self, ctx, op, request).await,
            WsdlFamily::DbManipulations => db_manipulations::handle(self, ctx, op, request).await,
            WsdlFamily::DbSearch => db_search::handle(self, ctx, op, request).await,
            WsdlFamily::IsdsStat => isds_stat::handle(self, ctx, op, request).await,
            WsdlFamily::DmVoDZ => dm_vodz::handle(self, ctx, op, request).await,
            WsdlFamily::DmArch => match request {
                schema::Request::ArchiveISDSDocument(req) => {
                    signed::archive(self, req.dm_message).await
                }
                _ => not_implemented(op),
            },
        }
    }
}

/// Families of the message services, before whose operations the message
/// lifecycle catches up (fiction and content deletion that fell due).
fn is_message_family(family: WsdlFamily) -> bool {
    matches!(
        family,
        WsdlFamily::DmOperations | WsdlFamily::DmInfo | WsdlFamily::DmVoDZ | WsdlFamily::DmArch
    )
}

/// The answer for an operation of the interface that the gateway does not
/// implement yet: a server fault that says so.
fn not_implemented(op: &OperationInfo) -> Reply {
    Err(Fault::server(format!(
        "{} is part of the ISDS interface but this gateway does not implement it yet",
        op.name
    ))
    .into())
}

/// Serialises a typed response as a body fragment.
fn respond<T: XmlRoot>(response: &T) -> Reply {
    Ok(schema::to_response_fragment(response))
}

/// ISDS's answer to an unknown operation: the would-be response element of
/// that name carrying status 2006, in the endpoint's status flavour.
fn unknown_operation(name: &str, endpoint: Endpoint) -> String {
    // ISDS words this one in English and names the element (table row
    // 2006).
    let status = IsdsStatus::fill(IsdsCode::UnknownOperation, &[name]);
    status_only_response(name, endpoint, &status)
}

/// The answer to a request whose required element is empty (`<x/>`,
/// `<x></x>` or `xsi:nil`, which ISDS treats alike, messages manual
/// 1.3.1) or absent where the operation needs a value: the operation's
/// response with status 1068 ("Chybí povinný vstupní údaj.", the official
/// code table's code for an empty required parameter), never a fault.
fn required_value_missing(op: &OperationInfo, endpoint: Endpoint, element: &str) -> String {
    tracing::debug!(operation = op.name, element, "required value empty");
    let status = IsdsStatus::new(IsdsCode::RequiredValueMissing);
    schema::status_response(op.input, status.code.code(), &status.message)
        .unwrap_or_else(|| status_only_response(op.input, endpoint, &status))
}

/// A `<NameResponse>` element carrying nothing but a status block in the
/// endpoint's flavour (`dmStatus` or `dbStatus`): how ISDS answers a call
/// it refuses before looking at its content (unknown operation, limits).
pub fn status_only_response(name: &str, endpoint: Endpoint, status: &IsdsStatus) -> String {
    let (block, code, message) = if endpoint.uses_db_status() {
        ("dbStatus", "dbStatusCode", "dbStatusMessage")
    } else {
        ("dmStatus", "dmStatusCode", "dmStatusMessage")
    };
    let root = format!("{name}Response");
    let prefix = schema::response_prefix(&root);
    let mut w = XmlWriter::new();
    w.set_prefixing(schema::isds_prefixing(prefix));
    w.pending_attr(&format!("xmlns:{prefix}"), ISDS_NS);
    w.pending_attr("xmlns:xsi", crate::xml::XSI_NS);
    w.start(&root);
    w.start(block);
    w.text_element(code, status.code.code());
    w.text_element(message, &status.message);
    w.end(block);
    w.end(&root);
    w.into_string()
}

/// `Some` text unless it is empty (optional XSD fields are left out rather
/// than sent empty).
fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// A message-service status block.
fn dm_status(status: &IsdsStatus) -> TStatus {
    TStatus {
        dm_status_code: status.code.code().to_owned(),
        dm_status_message: status.message.to_string(),
    }
}

/// A box-service status block.
fn db_status(status: &IsdsStatus) -> TDbReqStatus {
    TDbReqStatus {
        db_status_code: status.code.code().to_owned(),
        db_status_message: status.message.to_string(),
        db_status_ref_number: None,
    }
}
