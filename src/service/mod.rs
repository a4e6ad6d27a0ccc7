//! Operation handlers, one module per WSDL family, behind one dispatcher.
//!
//! The dispatcher turns the SOAP body element into a typed request (types
//! generated from `schemas/`), checks that the endpoint offers the
//! operation, runs the handler and serialises its typed response.

mod dm_operations;

use std::sync::Arc;

use hyper::HeaderMap;

use crate::http::routes::{Endpoint, LoginMethod};
use crate::schema::{self, ISDS_NS, Request, TStatus};
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
}

/// The result of one call: the operation name (for logs) and either a
/// response body fragment or a fault.
pub struct CallOutcome {
    pub operation: String,
    pub reply: Result<String, Fault>,
}

/// All operation handlers over one store.
pub struct Services {
    #[allow(dead_code)] // handlers of the later families read and write it
    store: Arc<dyn Store>,
}

impl Services {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Dispatches one body element received on `ctx.endpoint`.
    ///
    /// An element outside the ISDS namespace is a client fault; an ISDS
    /// element naming no operation of this endpoint gets ISDS's own answer,
    /// `<NameResponse>` with status 2006; a request the schema refuses is a
    /// client fault naming the offending element.
    pub async fn call(&self, ctx: &CallContext<'_>, body: &Element) -> CallOutcome {
        let operation = body.name.clone();
        if body.ns.as_deref() != Some(ISDS_NS) {
            let ns = body.ns.as_deref().unwrap_or("");
            return CallOutcome {
                operation,
                reply: Err(Fault::client(format!(
                    "the body element {{{ns}}}{} is not in the ISDS namespace {ISDS_NS}",
                    body.name
                ))),
            };
        }
        let offered = schema::operation(&body.name)
            .is_some_and(|op| op.family.endpoint() == ctx.endpoint.segment());
        if !offered {
            return CallOutcome {
                reply: Ok(unknown_operation(&operation, ctx.endpoint)),
                operation,
            };
        }
        let request = match schema::parse_request(body) {
            Ok(r) => r,
            Err(err) => {
                return CallOutcome {
                    operation,
                    reply: Err(Fault::client(err.to_string())),
                };
            }
        };
        let reply = match request {
            Request::DummyOperation(req) => Ok(schema::to_document_fragment(
                &dm_operations::dummy_operation(req),
            )),
            _ => Err(Fault::server(format!(
                "{operation} is part of the ISDS interface but this gateway does not implement it yet"
            ))),
        };
        CallOutcome { operation, reply }
    }
}

/// ISDS's answer to an unknown operation: the would-be response element of
/// that name carrying status 2006, in the endpoint's status flavour.
fn unknown_operation(name: &str, endpoint: Endpoint) -> String {
    let status = IsdsStatus::new(IsdsCode::UnknownOperation);
    let (block, code, message) = if endpoint.uses_db_status() {
        ("dbStatus", "dbStatusCode", "dbStatusMessage")
    } else {
        ("dmStatus", "dmStatusCode", "dmStatusMessage")
    };
    let root = format!("{name}Response");
    let mut w = XmlWriter::new();
    w.pending_attr("xmlns", ISDS_NS);
    w.start(&root);
    w.start(block);
    w.text_element(code, status.code.code());
    w.text_element(message, &status.message);
    w.end(block);
    w.end(&root);
    w.into_string()
}

/// Fills a message-service status block.
fn set_dm_status(block: &mut TStatus, status: &IsdsStatus) {
    block.dm_status_code = status.code.code().to_owned();
    block.dm_status_message = status.message.to_string();
}
