//! `GET /health`: whether the gateway can take requests, including whether
//! its store and document directory can be written (a full disk shows
//! here, not only as failing requests). The probe runs off the async
//! threads, has a deadline, and its result is reused for a second, so a
//! flood of health checks costs no more than one probe a second.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::{Batch, Store};

/// How long a result is reused.
const FRESH_FOR: Duration = Duration::from_secs(1);
/// How long a probe may take before the store counts as not responding.
const PROBE_DEADLINE: Duration = Duration::from_secs(5);
/// The tree the probe writes to.
const HEALTH_TREE: &str = "health_probe";

/// The store's state as `/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreState {
    Ok,
    DiskFull,
    Failing,
    NotResponding,
    /// The disk has space again but the store engine keeps the write error
    /// it met (sled does): only a restart clears it, and loses nothing that
    /// was acknowledged (acknowledged writes were durable before).
    NeedsRestart,
}

impl StoreState {
    fn name(self) -> &'static str {
        match self {
            StoreState::Ok => "ok",
            StoreState::DiskFull => "disk full",
            StoreState::Failing => "failing",
            StoreState::NotResponding => "not responding",
            StoreState::NeedsRestart => "failed after a full disk; restart the gateway",
        }
    }
}

/// The last probe's result.
#[derive(Default)]
pub(crate) struct Health {
    last: Mutex<Option<(Instant, StoreState)>>,
}

impl Health {
    /// The store's state, probed at most once a second.
    pub(crate) async fn store_state(&self, store: &Arc<dyn Store>) -> StoreState {
        if let Some((at, state)) = *self.lock()
            && at.elapsed() < FRESH_FOR
        {
            return state;
        }
        let store = store.clone();
        let probe = tokio::task::spawn_blocking(move || probe(store.as_ref()));
        let state = match tokio::time::timeout(PROBE_DEADLINE, probe).await {
            Ok(Ok(state)) => state,
            Ok(Err(_)) => StoreState::Failing,
            Err(_) => StoreState::NotResponding,
        };
        *self.lock() = Some((Instant::now(), state));
        state
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, StoreState)>> {
        self.last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Writes (durably) one small document file and one small record.
fn probe(store: &dyn Store) -> StoreState {
    let files = store.files().map_or(Ok(()), |f| f.probe());
    if let Err(err) = &files {
        tracing::error!(error = %err, "the document directory cannot be written");
    }
    let mut batch = Batch::new();
    batch.put(HEALTH_TREE, "probe", Vec::from(*b"ok"));
    match (store.apply_durable(batch), files) {
        (Ok(()), Ok(())) => StoreState::Ok,
        (Ok(()), Err(err)) | (Err(err), Err(_)) if err.is_disk_full() => StoreState::DiskFull,
        (Err(err), Ok(())) if err.is_disk_full() => {
            tracing::error!(
                error = %err,
                "the disk has space again but the store keeps its write error; restart the gateway"
            );
            StoreState::NeedsRestart
        }
        (Err(err), _) => {
            tracing::error!(error = %err, "the store cannot be written");
            StoreState::Failing
        }
        (Ok(()), Err(_)) => StoreState::Failing,
    }
}

/// The `/health` answer: HTTP status and JSON body.
pub(crate) fn report(state: StoreState) -> (u16, String) {
    let status = if state == StoreState::Ok {
        "ok"
    } else {
        "degraded"
    };
    let code = if state == StoreState::Ok { 200 } else { 503 };
    (
        code,
        format!(r#"{{"status":"{status}","store":"{}"}}"#, state.name()),
    )
}
