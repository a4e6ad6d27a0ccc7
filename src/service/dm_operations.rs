//! dm_operations (`/DS/dz`): sending and downloading messages.

use super::{CallContext, Reply, Services, dm_status, not_implemented, respond};
use crate::schema::{DummyOperationResponse, OperationInfo, Request, TDummyOutput};
use crate::status::IsdsStatus;

pub(super) async fn handle(
    svc: &Services,
    ctx: &CallContext<'_>,
    op: &OperationInfo,
    request: Request,
) -> Reply {
    match request {
        // DummyOperation does nothing but prove that the caller got through
        // authentication to the message services; it always succeeds.
        Request::DummyOperation(_) => respond(&DummyOperationResponse(TDummyOutput {
            dm_status: dm_status(&IsdsStatus::ok()),
        })),
        Request::MessageDownload(req) => super::message_read::message_download(svc, ctx, req).await,
        _ => not_implemented(op),
    }
}
