//! dm_operations (`/DS/dz`): sending and downloading messages.

use crate::schema::{DummyOperation, DummyOperationResponse};
use crate::status::IsdsStatus;

/// DummyOperation does nothing but prove that the caller got through
/// authentication to the message services; it always succeeds.
pub(super) fn dummy_operation(_req: DummyOperation) -> DummyOperationResponse {
    let mut resp = DummyOperationResponse::default();
    super::set_dm_status(&mut resp.dm_status, &IsdsStatus::ok());
    resp
}
