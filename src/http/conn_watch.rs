//! What the gateway knows about each open connection, so that idle and slow
//! ones cannot hold it: whether the client has sent anything yet, how many
//! requests are in flight (until their response body is sent), and since
//! when it has been idle. A watchdog closes a connection that sent nothing
//! in time, that started no request in time, or that stays idle between
//! requests; at the connection cap the longest-idle connection is closed to
//! make room for a new one.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use crate::config::LimitsConfig;

/// How long each phase of a connection may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    /// From accept (or the end of the TLS handshake) to the first byte.
    pub first_byte: Duration,
    /// From accept to the first request (its headers complete).
    pub first_request: Duration,
    /// Between requests (HTTP/1 keep-alive, HTTP/2 with no open stream).
    pub idle: Duration,
    /// The TLS handshake.
    pub tls_handshake: Duration,
}

impl Timeouts {
    pub(crate) fn from_limits(limits: &LimitsConfig) -> Self {
        let secs = |s: u64| Duration::from_secs(s.max(1));
        Self {
            first_byte: secs(limits.first_byte_timeout_secs),
            first_request: secs(limits.header_read_timeout_secs),
            idle: secs(limits.idle_timeout_secs),
            tls_handshake: secs(limits.tls_handshake_timeout_secs),
        }
    }
}

/// The state of one connection, shared by its I/O, its requests and the
/// registry.
#[derive(Debug)]
pub(crate) struct ConnWatch {
    origin: Instant,
    /// Start of the current phase (accept, or end of the TLS handshake), in
    /// milliseconds since `origin`.
    started_ms: AtomicU64,
    /// When the last request finished, in milliseconds since `origin`.
    idle_since_ms: AtomicU64,
    received: AtomicBool,
    requests: AtomicU64,
    in_flight: AtomicUsize,
    evicted: AtomicBool,
    evict: Notify,
}

impl ConnWatch {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            started_ms: AtomicU64::new(0),
            idle_since_ms: AtomicU64::new(0),
            received: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn at(&self, ms: u64) -> Instant {
        self.origin + Duration::from_millis(ms)
    }

    /// The TLS handshake is done: the first-byte and first-request times
    /// count from now, on the decrypted stream.
    pub(crate) fn restart(&self) {
        self.started_ms.store(self.now_ms(), Ordering::Relaxed);
        self.received.store(false, Ordering::Relaxed);
    }

    /// A request started; it counts as in flight until the returned guard
    /// (moved into its response body) is dropped.
    pub(crate) fn request(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// Resolves when the connection should be closed: it sent nothing,
    /// started no request, or idled too long, or it was evicted.
    pub(crate) async fn expired(&self, t: &Timeouts) {
        loop {
            let now = Instant::now();
            let deadline = if self.in_flight.load(Ordering::Acquire) > 0 {
                None
            } else if self.requests.load(Ordering::Relaxed) == 0 {
                let started = self.at(self.started_ms.load(Ordering::Relaxed));
                Some(if self.received.load(Ordering::Relaxed) {
                    started + t.first_request
                } else {
                    started + t.first_byte
                })
            } else {
                Some(self.at(self.idle_since_ms.load(Ordering::Relaxed)) + t.idle)
            };
            if deadline.is_some_and(|d| d <= now) {
                return;
            }
            // Re-check at the deadline, or after a while with requests in
            // flight (they may end at any time).
            let wake = deadline.unwrap_or(now + t.idle);
            tokio::select! {
                _ = tokio::time::sleep_until(wake.into()) => {}
                _ = self.evict.notified() => return,
            }
        }
    }

    /// Resolves when the connection is asked to make room for another.
    pub(crate) async fn evicted(&self) {
        self.evict.notified().await
    }

    /// Whether a request is in flight.
    pub(crate) fn busy(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }

    /// Whether nothing is in flight (the connection may be evicted).
    fn evictable(&self) -> Option<u64> {
        if self.evicted.load(Ordering::Relaxed) || self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(if self.requests.load(Ordering::Relaxed) == 0 {
            self.started_ms.load(Ordering::Relaxed)
        } else {
            self.idle_since_ms.load(Ordering::Relaxed)
        })
    }
}

/// One request in flight on a connection.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<ConnWatch>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let w = &self.0;
        w.idle_since_ms.store(w.now_ms(), Ordering::Relaxed);
        w.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request in flight until it is sent (or
/// dropped), so a long download is never taken for an idle connection.
pub(crate) struct TrackedBody<B> {
    inner: B,
    _in_flight: InFlight,
}

impl<B> TrackedBody<B> {
    pub(crate) fn new(inner: B, in_flight: InFlight) -> Self {
        Self {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl<B: Body + Unpin> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connection's byte stream, noting that the client sent something.
pub(crate) struct Watched<S> {
    inner: S,
    watch: Arc<ConnWatch>,
}

impl<S> Watched<S> {
    pub(crate) fn new(inner: S, watch: Arc<ConnWatch>) -> Self {
        Self { inner, watch }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.watch.received.store(true, Ordering::Relaxed);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The open connections of one listener.
#[derive(Default)]
pub(crate) struct Registry {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<ConnWatch>>>,
}

/// Removes its connection from the registry when dropped.
pub(crate) struct Registered {
    id: u64,
    registry: Arc<Registry>,
    pub(crate) watch: Arc<ConnWatch>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ConnWatch>>> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a new connection.
    pub(crate) fn register(self: &Arc<Self>) -> Registered {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let watch = Arc::new(ConnWatch::new());
        self.lock().insert(id, watch.clone());
        Registered {
            id,
            registry: self.clone(),
            watch,
        }
    }

    /// Asks the connection idle the longest (nothing in flight) to close;
    /// `false` when every connection is busy.
    pub(crate) fn evict_one(&self) -> bool {
        let open = self.lock();
        let oldest = open
            .values()
            .filter_map(|w| w.evictable().map(|since| (w.at(since), w)))
            .min_by_key(|(since, _)| *since)
            .map(|(_, w)| w.clone());
        drop(open);
        match oldest {
            Some(w) => {
                w.evicted.store(true, Ordering::Relaxed);
                w.evict.notify_one();
                true
            }
            None => false,
        }
    }
}
