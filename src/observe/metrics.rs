//! `GET /metrics`: the gateway's counters in the Prometheus text format,
//! kept and encoded by the `prometheus-client` crate (the format is
//! theirs, not hand-written here).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::advice::Kind;
use crate::domain::messages::message::MessageState;
use crate::http::routes::Route;
use crate::store::Store;

/// How long the store's gauges are reused before they are counted again
/// (counting reads every record).
const STORE_GAUGES_FRESH: Duration = Duration::from_secs(5);

/// A label value: borrowed when it is one of the gateway's own names (an
/// endpoint, an operation of the schemas, a common status), so counting a
/// request allocates nothing once its series exist.
type Label = Cow<'static, str>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub endpoint: Label,
    pub operation: Label,
    pub http_status: u16,
    pub isds_status: Label,
}

impl RequestLabels {
    pub fn new(
        endpoint: &'static str,
        operation: &str,
        http_status: u16,
        isds_status: &str,
    ) -> Self {
        let operation = match crate::schema::operation(operation) {
            Some(op) => Cow::Borrowed(op.input),
            None if operation == "-" => Cow::Borrowed("-"),
            None => Cow::Owned(operation.to_owned()),
        };
        let isds_status = match isds_status {
            "-" => Cow::Borrowed("-"),
            "0000" => Cow::Borrowed("0000"),
            other => Cow::Owned(other.to_owned()),
        };
        RequestLabels {
            endpoint: Cow::Borrowed(endpoint),
            operation,
            http_status,
            isds_status,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    endpoint: Label,
    operation: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// The series one request is counted in: handles (shared counters) to
/// the members of the four request families for one label set.
struct Series {
    requests: Counter,
    latency: Histogram,
    bytes_in: Counter,
    bytes_out: Counter,
}

/// Label sets whose series a thread keeps at hand, per [`Metrics`]; past
/// it that thread's handles are looked up afresh (bounded, simple).
const SERIES_PER_THREAD: usize = 4096;

/// Tells one [`Metrics`] from another in the per-thread handles (tests
/// run several gateways in one process).
static NEXT_METRICS_ID: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Per thread and [`Metrics`], the series of the label sets seen. A
    /// family's lookup takes its read lock and hashes the labels with
    /// SipHash; every request took four, and the lock's one word is
    /// written by both cores at once. The handles stay valid: the
    /// families never remove a series.
    static SERIES: RefCell<HashMap<usize, HashMap<RequestLabels, Series, rustc_hash::FxBuildHasher>>> =
        RefCell::new(HashMap::new());
}

/// The registry and the handles to its metrics.
pub struct Metrics {
    /// This instance among others, for [`SERIES`].
    id: usize,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OperationLabels, Histogram, fn() -> Histogram>,
    bytes_in: Family<EndpointLabels, Counter>,
    bytes_out: Family<EndpointLabels, Counter>,
    messages: Family<StateLabels, Gauge>,
    boxes: Gauge,
    users: Gauge,
    store_bytes: Gauge,
    advisories: Family<KindLabels, Counter>,
    refreshed: Mutex<Option<Instant>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("isds_gateway");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "HTTP requests by endpoint, SOAP operation, HTTP status and ISDS status",
            requests.clone(),
        );
        let latency = Family::<OperationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "request_duration_seconds",
            "Time from the request's arrival to its answer",
            latency.clone(),
        );
        let bytes_in = Family::<EndpointLabels, Counter>::default();
        registry.register(
            "request_bytes",
            "Request body bytes received",
            bytes_in.clone(),
        );
        let bytes_out = Family::<EndpointLabels, Counter>::default();
        registry.register(
            "response_bytes",
            "Response body bytes sent",
            bytes_out.clone(),
        );
        let messages = Family::<StateLabels, Gauge>::default();
        registry.register("messages", "Stored messages by state", messages.clone());
        let boxes = Gauge::default();
        registry.register("boxes", "Data boxes in the register", boxes.clone());
        let users = Gauge::default();
        registry.register("users", "Users of all boxes", users.clone());
        let store_bytes = Gauge::default();
        registry.register(
            "store_size_bytes",
            "Size of the data directory on disk",
            store_bytes.clone(),
        );
        let advisories = Family::<KindLabels, Counter>::default();
        registry.register(
            "advisories",
            "Advisories about client behaviour, by kind",
            advisories.clone(),
        );
        for kind in Kind::ALL {
            let _ = advisories.get_or_create(&KindLabels {
                kind: kind.name().to_owned(),
            });
        }
        Metrics {
            id: NEXT_METRICS_ID.fetch_add(1, Ordering::Relaxed),
            registry,
            requests,
            latency,
            bytes_in,
            bytes_out,
            messages,
            boxes,
            users,
            store_bytes,
            advisories,
            refreshed: Mutex::new(None),
        }
    }

    pub fn request(&self, labels: &RequestLabels, took: Duration, bytes_in: u64, bytes_out: u64) {
        let count = |series: &Series| {
            series.requests.inc();
            series.latency.observe(took.as_secs_f64());
            series.bytes_in.inc_by(bytes_in);
            series.bytes_out.inc_by(bytes_out);
        };
        SERIES.with(|kept| {
            let mut kept = kept.borrow_mut();
            // Counted through the kept handles, not copies of them: a
            // copy would write the shared reference counts.
            if let Some(series) = kept.get(&self.id).and_then(|mine| mine.get(labels)) {
                count(series);
                return;
            }
            let series = self.series(labels);
            count(&series);
            // A thread rarely sees more than a few gateways (tests): the
            // handles of gone ones are dropped with the rest.
            if kept.len() > 16 {
                kept.clear();
            }
            let mine = kept.entry(self.id).or_default();
            if mine.len() >= SERIES_PER_THREAD {
                mine.clear();
            }
            mine.insert(labels.clone(), series);
        });
    }

    /// The series of `labels`, created when new.
    fn series(&self, labels: &RequestLabels) -> Series {
        let endpoint = EndpointLabels {
            endpoint: labels.endpoint.clone(),
        };
        Series {
            requests: self.requests.get_or_create(labels).clone(),
            latency: self
                .latency
                .get_or_create(&OperationLabels {
                    endpoint: labels.endpoint.clone(),
                    operation: labels.operation.clone(),
                })
                .clone(),
            bytes_in: self.bytes_in.get_or_create(&endpoint).clone(),
            bytes_out: self.bytes_out.get_or_create(&endpoint).clone(),
        }
    }

    pub fn advisory(&self, kind: Kind) {
        self.advisories
            .get_or_create(&KindLabels {
                kind: kind.name().to_owned(),
            })
            .inc();
    }

    /// Counts boxes, users and messages and measures the data directory,
    /// unless that was done moments ago.
    pub fn refresh_store(&self, store: &dyn Store, data_dir: &Path) {
        let mut refreshed = self.refreshed.lock().unwrap_or_else(|e| e.into_inner());
        if refreshed.is_some_and(|t| t.elapsed() < STORE_GAUGES_FRESH) {
            return;
        }
        *refreshed = Some(Instant::now());
        match crate::domain::boxes::repo::register_counts(store) {
            Ok((boxes, users)) => {
                self.boxes.set(boxes as i64);
                self.users.set(users as i64);
            }
            Err(e) => tracing::warn!(error = %e, "cannot count boxes for the metrics"),
        }
        match crate::domain::messages::repo::count_by_state(store) {
            Ok(counts) => {
                for state in MessageState::ALL {
                    self.messages
                        .get_or_create(&StateLabels {
                            state: state_name(state).to_owned(),
                        })
                        .set(counts[usize::from(state.code())] as i64);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot count messages for the metrics"),
        }
        self.store_bytes.set(dir_size(data_dir) as i64);
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }
}

/// A short English name of a message state, for labels and charts.
pub fn state_name(state: MessageState) -> &'static str {
    match state {
        MessageState::Submitted => "submitted",
        MessageState::Timestamped => "timestamped",
        MessageState::Infected => "infected",
        MessageState::Delivered => "delivered",
        MessageState::AcceptedByFiction => "accepted_by_fiction",
        MessageState::AcceptedByLogin => "accepted_by_login",
        MessageState::Read => "read",
        MessageState::Undeliverable => "undeliverable",
        MessageState::ContentDeleted => "content_deleted",
        MessageState::InVault => "in_vault",
    }
}

/// The endpoint label of a request that is no SOAP call.
pub fn route_label(route: &Route) -> &'static str {
    match route {
        Route::Health => "health",
        Route::Service { .. } => "soap",
        Route::Schema { .. } => "schema",
        Route::Wsdl { .. } => "wsdl",
        Route::ProcessLogin | Route::ProcessLogout | Route::MepStateUpdate { .. } => "as",
        Route::AswsChangePassword => "asws",
        Route::Admin { .. } => "admin",
        Route::NotFound => "not_found",
        Route::Ui { .. } => "ui",
        Route::Metrics => "metrics",
        Route::Advice => "advice",
    }
}

/// Bytes of the files under `dir` (symbolic links not followed).
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => pending.push(entry.path()),
                Ok(m) if m.is_file() => total += m.len(),
                _ => {}
            }
        }
    }
    total
}
