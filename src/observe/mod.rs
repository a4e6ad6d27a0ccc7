//! What the gateway sees of its clients, for the testers' cockpit: the
//! recent SOAP exchanges ([`traffic`]), the advisories about a client's
//! behaviour that the operator's manuals name ([`advice`]) and the
//! Prometheus metrics ([`metrics`]).
//!
//! The request path calls [`Observer::observe`] once per request, after
//! the answer is made; everything here is bounded in memory and takes a
//! lock only for the moment of recording. The advisor's lock is taken
//! only for the exchanges it can learn from ([`advice::concerns`]), so
//! the common calls do not queue on it.

pub mod advice;
pub mod metrics;
pub mod traffic;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Body;

use crate::http::body::ResponseBody;
use crate::http::responses::HttpResponse;
use crate::http::routes::{Route, route};
use crate::store::Store;

/// How many exchanges the traffic view keeps (the oldest go first).
pub const TRAFFIC_KEPT: usize = 500;
/// Requests and responses larger than this are not kept (a large upload
/// is not held beyond its parse, a large download stays streamed).
pub const MAX_KEPT_BODY: usize = 512 * 1024;

/// One SOAP exchange as the cockpit shows it. Holds no password: the
/// `Authorization` header is never kept, and secret elements are masked
/// when the bodies are shown ([`traffic::pretty`]).
#[derive(Debug)]
pub struct Exchange {
    pub id: u64,
    /// Gateway clock at completion, Unix seconds.
    pub at: i64,
    pub path: String,
    /// The endpoint segment (`dz`, `dx`, ...).
    pub endpoint: &'static str,
    pub operation: Option<String>,
    pub login: Option<String>,
    pub http_status: u16,
    /// `dmStatusCode` / `dbStatusCode` of the answer, when it has one.
    pub isds_status: Option<String>,
    /// `X-Response-message-code` of a refused login.
    pub auth_failure: Option<String>,
    pub duration: Duration,
    /// Monotonic start and end, for telling parallel requests apart.
    pub started: Instant,
    pub finished: Instant,
    /// The request body when it was read and small enough to keep.
    pub request: Option<Bytes>,
    pub request_len: u64,
    pub response: Option<Bytes>,
    pub response_len: u64,
}

/// What the handler hands over about one request.
pub struct Seen<'a> {
    pub started: Instant,
    pub path: &'a str,
    pub operation: Option<&'a str>,
    pub login: Option<&'a str>,
    pub request: Option<&'a Bytes>,
    /// Bytes of the request body read (0 when none was).
    pub request_len: u64,
    /// Gateway clock, Unix seconds.
    pub now: i64,
}

/// The cockpit's view of the traffic; one per gateway.
pub struct Observer {
    next: AtomicU64,
    traffic: Mutex<VecDeque<Arc<Exchange>>>,
    advisor: Mutex<advice::Advisor>,
    /// [`advice::Advisor::streaks_open`] as of the last exchange the
    /// advisor looked at; written under the advisor's lock.
    streaks_open: AtomicBool,
    pub metrics: metrics::Metrics,
    store: Arc<dyn Store>,
    data_dir: std::path::PathBuf,
}

impl Observer {
    /// `max_parallel`: the per-user limit of parallel requests the gateway
    /// enforces, which the advisor measures against.
    pub fn new(store: Arc<dyn Store>, data_dir: std::path::PathBuf, max_parallel: usize) -> Self {
        Observer {
            next: AtomicU64::new(1),
            traffic: Mutex::new(VecDeque::with_capacity(TRAFFIC_KEPT)),
            advisor: Mutex::new(advice::Advisor::new(max_parallel)),
            streaks_open: AtomicBool::new(false),
            metrics: metrics::Metrics::new(),
            store,
            data_dir,
        }
    }

    /// Counts one request in the metrics and, for a SOAP call, keeps the
    /// exchange and lets the advisor look at it. Gives the response back
    /// (its body joined into the one buffer kept when it is small enough
    /// to keep, so keeping it copies nothing more than sending it).
    pub(crate) async fn observe(&self, seen: Seen<'_>, mut response: HttpResponse) -> HttpResponse {
        let route = route(seen.path);
        let (endpoint, soap) = match &route {
            Route::Service { endpoint, .. } => (endpoint.segment(), true),
            other => (metrics::route_label(other), false),
        };
        let status = response.status().as_u16();
        let size = response.body().size_hint().exact();
        let keep = soap && size.is_some_and(|n| n <= MAX_KEPT_BODY as u64);
        let kept = if !keep {
            None
        } else if let Some(bytes) = response.body_mut().kept(MAX_KEPT_BODY) {
            Some(bytes)
        } else {
            // A body produced elsewhere (a small download streamed from
            // files): collected here, then sent from memory.
            let (parts, body) = response.into_parts();
            let bytes = match body.collect().await {
                Ok(c) => c.to_bytes(),
                Err(never) => match never {},
            };
            response = hyper::Response::from_parts(parts, ResponseBody::whole(bytes.clone()));
            Some(bytes)
        };
        let finished = Instant::now();
        let duration = finished - seen.started;
        let isds_status = kept.as_deref().and_then(traffic::isds_status);
        let request_len = seen.request_len;
        let response_len = size.unwrap_or(0);
        self.metrics.request(
            &metrics::RequestLabels::new(
                endpoint,
                seen.operation.unwrap_or("-"),
                status,
                isds_status.as_deref().unwrap_or("-"),
            ),
            duration,
            request_len,
            response_len,
        );
        if !soap {
            return response;
        }
        let auth_failure = response
            .headers()
            .get("x-response-message-code")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let exchange = Arc::new(Exchange {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            at: seen.now,
            path: seen.path.to_owned(),
            endpoint,
            operation: seen.operation.map(str::to_owned),
            login: seen.login.map(str::to_owned),
            http_status: status,
            isds_status,
            auth_failure,
            duration,
            started: seen.started,
            finished,
            request: seen.request.filter(|r| r.len() <= MAX_KEPT_BODY).cloned(),
            request_len,
            response: kept,
            response_len,
        });
        // A stale `streaks_open` read here only means an exchange ordered
        // before the one that changed it, as parallel requests may be.
        let concerns = exchange.login.is_some()
            && advice::concerns(
                exchange.operation.as_deref(),
                exchange.http_status,
                exchange.auth_failure.as_deref(),
                self.streaks_open.load(Ordering::Acquire),
            );
        if concerns {
            let raised = {
                let mut advisor = lock(&self.advisor);
                let raised = advisor.look(&exchange);
                self.streaks_open
                    .store(advisor.streaks_open(), Ordering::Release);
                raised
            };
            for kind in raised {
                self.metrics.advisory(kind);
            }
        }
        let dropped = {
            let mut traffic = lock(&self.traffic);
            let dropped = if traffic.len() >= TRAFFIC_KEPT {
                traffic.pop_front()
            } else {
                None
            };
            traffic.push_back(exchange);
            dropped
        };
        // The oldest exchange (its bodies) is freed outside the lock.
        drop(dropped);
        response
    }

    /// The kept exchanges, newest first.
    pub fn traffic(&self) -> Vec<Arc<Exchange>> {
        lock(&self.traffic).iter().rev().cloned().collect()
    }

    /// One kept exchange.
    pub fn exchange(&self, id: u64) -> Option<Arc<Exchange>> {
        let kept = lock(&self.traffic).iter().find(|e| e.id == id).cloned();
        kept.or_else(|| lock(&self.advisor).example(id))
    }

    /// The advisories so far, most frequent first.
    pub fn advisories(&self) -> Vec<advice::Advisory> {
        lock(&self.advisor).advisories()
    }

    /// The metrics in Prometheus text format, with the store's gauges
    /// read now.
    pub fn metrics_text(&self) -> String {
        self.metrics
            .refresh_store(self.store.as_ref(), &self.data_dir);
        self.metrics.encode()
    }

    /// Requests per minute by operation and status over the kept traffic,
    /// oldest minute first: `(minute as Unix seconds / 60, label, count)`.
    pub fn requests_per_minute(&self) -> Vec<(i64, String, u64)> {
        let mut counts: std::collections::BTreeMap<(i64, String), u64> = Default::default();
        for e in lock(&self.traffic).iter() {
            let label = format!(
                "{} {}",
                e.operation.as_deref().unwrap_or("-"),
                e.isds_status
                    .as_deref()
                    .unwrap_or(&e.http_status.to_string())
            );
            *counts.entry((e.at.div_euclid(60), label)).or_insert(0) += 1;
        }
        counts.into_iter().map(|((m, l), n)| (m, l, n)).collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
