//! isds_stat (`/DS/DsManage`): the statistics ISDS publishes to every user
//! (statistics manual `WS_ISDS_statistiky`, chapter 1.2).

use super::{CallContext, Reply, ServiceError, Services, not_implemented, respond};
use crate::schema::{
    NumOfMessagesResponse, OperationInfo, Request, TNumOfMessagesOutput, TStatReqStatus,
};
use crate::status::IsdsStatus;

pub(super) async fn handle(
    svc: &Services,
    _ctx: &CallContext<'_>,
    op: &OperationInfo,
    request: Request,
) -> Reply {
    match request {
        // Chapter 1.2: `statType` is not looked at in this version (0 is
        // today's meaning); every user may ask.
        Request::NumOfMessages(_) => {
            let store = svc.store.clone();
            let stats = svc.statistics.clone();
            let now = svc.clock.unix();
            let count =
                tokio::task::spawn_blocking(move || stats.delivered_messages(store.as_ref(), now))
                    .await
                    .map_err(ServiceError::from)?
                    .map_err(ServiceError::from)?;
            let ok = IsdsStatus::ok();
            respond(&NumOfMessagesResponse(TNumOfMessagesOutput {
                stat_result: Some(i64::try_from(count.messages).unwrap_or(i64::MAX)),
                stat_time: crate::domain::clock::xml_datetime(count.computed_at),
                db_status: Some(TStatReqStatus {
                    db_status_code: ok.code.code().to_owned(),
                    db_status_message: ok.message.to_string(),
                }),
            }))
        }
        _ => not_implemented(op),
    }
}
