//! Listeners, connection handling and graceful shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::app::{App, ConnInfo};
use super::conn_watch::{Registered, Registry, Timeouts, TrackedBody, Watched};
use super::handler::handle;
use super::limits::UserLimits;
use crate::auth::Authenticator;
use crate::config::Config;
use crate::domain::clock::{Clock, SystemClock, TestClock};
use crate::domain::world::{self, WorldError};
use crate::service::Services;
use crate::store::{self, StoreError};
use crate::tls::{self, PeerCertificate, TlsError};

/// How long in-flight requests get to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The gateway could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot listen on {addr}: {source}{hint}",
        hint = bind_hint(source, flag)
    )]
    Bind {
        addr: SocketAddr,
        /// The flag that chooses this address (`--listen`, `--tls-listen`).
        flag: &'static str,
        source: std::io::Error,
    },
    #[error("store: {0}{hint}", hint = store_hint(.0))]
    Store(#[from] StoreError),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("demo world: {0}")]
    World(#[from] WorldError),
    #[error("{flag} {}: cannot read the file: {source}", path.display())]
    FixtureFile {
        /// `--fixtures` or `--demo-world`.
        flag: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--fixtures: {0}")]
    Fixture(WorldError),
    #[error("test clock: {0}")]
    Clock(String),
    #[error("signing identity: {0}")]
    Signing(#[from] crate::sign::SignError),
    #[error("fault rules: {0}")]
    Faults(#[from] super::faults::FaultRuleError),
    #[error("recording: {0}")]
    Record(#[from] super::record::RecordError),
    #[error("server task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error(transparent)]
    IsdsDomain(#[from] super::hosts::InvalidDomain),
}

/// What to do about an address that cannot be bound.
fn bind_hint(source: &std::io::Error, flag: &str) -> String {
    match source.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            " (another program, or another gateway, uses it: stop it or choose another address with {flag} ADDR, e.g. {flag} 127.0.0.1:0 for a free port)"
        ),
        std::io::ErrorKind::PermissionDenied => {
            format!(" (ports below 1024 need privileges: choose another with {flag} ADDR)")
        }
        _ => String::new(),
    }
}

/// What to do about a store that cannot be opened.
fn store_hint(e: &StoreError) -> &'static str {
    match e {
        StoreError::Locked { .. } => {
            " (is another gateway or an `isds-gateway box|user|fixtures` command using this data directory? stop it, or serve another directory with --data DIR)"
        }
        _ => "",
    }
}

/// A gateway serving in the background.
pub struct RunningGateway {
    /// Where plain HTTP is served.
    pub http_addr: SocketAddr,
    /// Where HTTPS is served, if enabled.
    pub https_addr: Option<SocketAddr>,
    /// The local CA that issued the server certificate, when the gateway
    /// created its own TLS identity (clients should trust this file).
    pub ca_cert_path: Option<PathBuf>,
    /// The root of the certificates that sign messages and time stamps
    /// (PEM): what verifiers of `.zfo` files should trust.
    pub signing_root_path: PathBuf,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    app: Arc<App>,
}

impl RunningGateway {
    /// The authenticator serving the requests (OTP sessions, the simulated
    /// SMS outbox).
    pub fn authenticator(&self) -> &Authenticator {
        &self.app.auth
    }

    /// The scripted responses and faults (switchable at run time).
    pub fn fault_rules(&self) -> &super::faults::FaultRules {
        &self.app.faults
    }

    /// Stops accepting, lets in-flight requests finish (bounded), then
    /// flushes the store. Returns once everything is durable.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        let _ = self.shutdown.send(true);
        self.task.await?;
        let store = self.app.store.clone();
        tokio::task::spawn_blocking(move || store.flush_durable()).await??;
        Ok(())
    }
}

/// Opens the store (seeding the demo world on an empty one), prepares TLS,
/// binds both listeners and starts serving on the wall clock. Returns once
/// the listeners are bound, so the addresses are final.
///
/// With `config.test_clock` the gateway runs on a [`TestClock`] that the
/// operator moves through `/admin/clock`.
pub async fn start(config: Config) -> Result<RunningGateway, ServeError> {
    if config.test_clock {
        start_with_test_clock(config, TestClock::new()).await
    } else {
        start_with_clock(config, Arc::new(SystemClock)).await
    }
}

/// [`start`] with a given clock (tests move time through it directly).
pub async fn start_with_clock(
    config: Config,
    clock: Arc<dyn Clock>,
) -> Result<RunningGateway, ServeError> {
    start_inner(config, clock, None).await
}

/// [`start`] in test mode on the given clock, which `/admin/clock` moves
/// too.
pub async fn start_with_test_clock(
    config: Config,
    clock: Arc<TestClock>,
) -> Result<RunningGateway, ServeError> {
    start_inner(config, clock.clone(), Some(clock)).await
}

async fn start_inner(
    config: Config,
    clock: Arc<dyn Clock>,
    test_clock: Option<Arc<TestClock>>,
) -> Result<RunningGateway, ServeError> {
    // Every file named on the command line is checked before anything is
    // written, with the flag that names it.
    for (flag, path) in config
        .demo_world
        .iter()
        .map(|p| ("--demo-world", p))
        .chain(config.fixtures.iter().map(|p| ("--fixtures", p)))
    {
        if let Err(source) = std::fs::metadata(path) {
            return Err(ServeError::FixtureFile {
                flag,
                path: path.clone(),
                source,
            });
        }
        // Checked for mistakes now (against the wall clock; loading reads
        // relative times against the gateway's clock), so a typo fails the
        // start before the data directory, CA or store exist.
        if let Err(e) = world::check_fixture_file(
            path,
            SystemClock.unix(),
            config.allow_absolute_fixture_paths,
        ) {
            return Err(match flag {
                "--fixtures" => ServeError::Fixture(e),
                _ => ServeError::World(e),
            });
        }
    }
    // Fault rules are checked before anything is written.
    let mut rules = Vec::new();
    for path in config
        .demo_world
        .iter()
        .chain(&config.fixtures)
        .chain(&config.fault_rules)
    {
        rules.extend(super::faults::load_rules_file(path)?);
    }
    let mut seen = std::collections::HashSet::new();
    for rule in &rules {
        if !seen.insert(rule.name.clone()) {
            return Err(super::faults::FaultRuleError::Invalid {
                origin: "fault rules".into(),
                message: format!("the rule name {:?} is used twice", rule.name),
            }
            .into());
        }
    }
    let faults_admin = !rules.is_empty() || test_clock.is_some();
    let faults = Arc::new(super::faults::FaultRules::new(rules));
    // The listeners are bound before the data directory or any identity is
    // created: an address in use fails the start with nothing written.
    let http = bind(config.listen, "--listen").await?;
    let http_addr = local_addr(&http, config.listen, "--listen")?;
    let https = match config.tls_listen {
        Some(addr) => Some(bind(addr, "--tls-listen").await?),
        None => None,
    };
    let https_addr = match (&https, config.tls_listen) {
        (Some(l), Some(addr)) => Some(local_addr(l, addr, "--tls-listen")?),
        _ => None,
    };
    crate::private_files::ensure_private_dir(&config.data_dir).map_err(|e| {
        ServeError::DataDir {
            path: e.path,
            source: e.source,
        }
    })?;
    let store = store::open_sled_with_options(
        &config.data_dir.join("store"),
        config.store_cache_mb,
        &config.data_dir.join("documents"),
        config.group_commit,
    )?;
    // The store's own files are created by sled with the process umask.
    crate::private_files::restrict_tree(&config.data_dir);
    if let (Some(trigger), Some(files)) = (&config.simulate_full_disk_while, store.files()) {
        files.simulate_full_disk_while(trigger.clone());
    }
    // Files of messages whose commit a crash prevented.
    let swept = crate::domain::messages::repo::sweep_document_files(store.as_ref())
        .map_err(|e| ServeError::World(e.into()))?;
    if swept > 0 {
        tracing::info!(files = swept, "removed document files no message refers to");
    }
    // Counts for paging a store written before them.
    if crate::domain::messages::repo::ensure_list_counts(store.as_ref())
        .map_err(|e| ServeError::World(e.into()))?
    {
        tracing::info!("counted the message lists");
    }
    // The test clock is set before anything is seeded, so fixtures with
    // relative times are read against it.
    if let Some(test_clock) = &test_clock {
        crate::domain::clock::restore_test_clock(
            store.as_ref(),
            test_clock,
            config.clock_start.as_deref(),
        )
        .map_err(ServeError::Clock)?;
    }
    if !config.no_demo {
        let seeded = world::seed_demo_if_empty(
            store.as_ref(),
            config.demo_world.as_deref(),
            clock.unix(),
            config.allow_absolute_fixture_paths,
        )?;
        if seeded {
            tracing::info!("seeded the demo world into an empty store");
        }
    }
    for path in &config.fixtures {
        let loaded = world::load_fixture_file(
            store.as_ref(),
            path,
            clock.unix(),
            config.allow_absolute_fixture_paths,
        )
        .map_err(ServeError::Fixture)?;
        match loaded.already_loaded_at {
            Some(at) => tracing::info!(
                fixture = %path.display(),
                loaded_at = %crate::domain::clock::xml_datetime(at),
                "world fixture already loaded into this store; nothing added again"
            ),
            None => tracing::info!(
                fixture = %path.display(),
                boxes = loaded.boxes,
                users = loaded.users,
                messages = loaded.messages,
                "loaded world fixture"
            ),
        }
    }
    let indexed = crate::domain::boxes::search_index::prepare(store.as_ref())
        .map_err(|e| ServeError::World(e.into()))?;
    if indexed > 0 {
        tracing::info!(
            boxes = indexed,
            "wrote the box search index anew (it disagreed with the boxes)"
        );
    }

    let recorder = match &config.record {
        Some(dir) => {
            let start = crate::domain::clock::xml_datetime(clock.unix());
            let info = super::record::SessionInfo {
                start,
                world: config.demo_world.as_deref(),
                fixtures: &config.fixtures,
            };
            Some(super::record::Recorder::create(dir, &info)?)
        }
        None => None,
    };

    // ISDS's host names are served and covered by the generated server
    // certificate.
    let hosts = super::hosts::IsdsDomains::new(&config.isds_domain)?;
    let mut tls_settings = config.tls.clone();
    for name in hosts.host_names() {
        if !tls_settings.extra_names.contains(&name) {
            tls_settings.extra_names.push(name);
        }
    }

    let mut tls_acceptor = None;
    let mut ca_cert_path = None;
    if config.tls_listen.is_some() {
        let identity = tls::load_or_create(&config.data_dir, &tls_settings)?;
        ca_cert_path = identity.ca_cert_path.clone();
        let server_config = tls::server_config(&identity, &config.tls)?;
        tls_acceptor = Some(TlsAcceptor::from(server_config));
    }

    let signing = crate::sign::SigningIdentity::load_or_create(&config.data_dir, &config.signing)?;
    let signing_root_path = signing.root_path.clone();
    let signer = Arc::new(crate::sign::Signer::new(signing));
    let policy = config.auth.policy();
    let auth = Arc::new(
        Authenticator::new(store.clone(), clock.clone(), policy.clone())
            .with_operator(config.operator.clone()),
    );
    let cockpit = (!config.no_ui).then(|| {
        let observer = Arc::new(crate::observe::Observer::new(
            store.clone(),
            config.data_dir.clone(),
            config.limits.max_parallel_requests_per_user,
        ));
        Arc::new(
            crate::ui::Cockpit::new(
                store.clone(),
                clock.clone(),
                test_clock.clone(),
                faults.clone(),
                observer,
                Some(signer.clone()),
            )
            .with_authenticator(auth.clone())
            .with_recording(config.record.clone()),
        )
    });
    let bodies_in_flight = match app_body_bound(&config) {
        0 => None,
        kib => Some(Arc::new(Semaphore::new(kib.min(Semaphore::MAX_PERMITS)))),
    };
    let app = Arc::new(App {
        auth,
        services: Services::new(store.clone(), clock, policy)
            .with_signer(signer)
            .with_vodz(config.vodz.clone()),
        limits: UserLimits::new(
            config.limits.max_parallel_requests_per_user,
            config.limits.max_requests_per_user_per_minute,
        ),
        store,
        config,
        hosts,
        test_clock,
        faults,
        faults_admin,
        recorder,
        cockpit,
        health: Default::default(),
        bodies_in_flight,
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let task = tokio::spawn(serve(
        app.clone(),
        http,
        https.zip(tls_acceptor),
        shutdown_rx,
    ));
    tracing::info!(%http_addr, https_addr = ?https_addr, "isds-gateway listening");
    Ok(RunningGateway {
        http_addr,
        https_addr,
        ca_cert_path,
        signing_root_path,
        shutdown,
        task,
        app,
    })
}

/// KiB of request bodies held at once (0: no bound).
fn app_body_bound(config: &Config) -> usize {
    config.limits.max_body_bytes_in_flight.div_ceil(1024)
}

async fn bind(addr: SocketAddr, flag: &'static str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, flag, source })
}

fn local_addr(
    listener: &TcpListener,
    addr: SocketAddr,
    flag: &'static str,
) -> Result<SocketAddr, ServeError> {
    listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, flag, source })
}

/// Accepts on both listeners until shutdown, then drains connections.
/// Each listener has its own accept loop and its own connection cap, so
/// neither can starve the other.
async fn serve(
    app: Arc<App>,
    http: TcpListener,
    https: Option<(TcpListener, TlsAcceptor)>,
    shutdown: watch::Receiver<bool>,
) {
    let timeouts = Timeouts::from_limits(&app.config.limits);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.first_request)
        // Header names as ISDS writes them (see `header_case`): title case,
        // or the casing record attached to the answer, which hyper's
        // server reads from any answer. Recording the casings of every
        // request (`preserve_header_case`) is not needed for that and
        // cost a second header map per request; nothing reads them.
        .title_case_headers(true);
    builder.http2().timer(TokioTimer::new());
    let cap = app.config.limits.max_connections.max(1);
    let listener = |tcp, tls| Listener {
        app: app.clone(),
        tcp,
        tls,
        builder: builder.clone(),
        timeouts,
        registry: Arc::new(Registry::default()),
        connections: Arc::new(Semaphore::new(cap)),
        shutdown: shutdown.clone(),
    };
    let mut loops = vec![tokio::spawn(accept_loop(listener(http, None)))];
    if let Some((tcp, acceptor)) = https {
        loops.push(tokio::spawn(accept_loop(listener(tcp, Some(acceptor)))));
    }
    for accepting in loops {
        if let Err(err) = accepting.await {
            tracing::error!(error = %err, "accept loop failed");
        }
    }
}

/// One listener and what its connections share.
struct Listener {
    app: Arc<App>,
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    builder: auto::Builder<TokioExecutor>,
    timeouts: Timeouts,
    registry: Arc<Registry>,
    /// One permit per open connection.
    connections: Arc<Semaphore>,
    shutdown: watch::Receiver<bool>,
}

/// Accepts until shutdown, then waits (bounded) for the connections to end.
/// At the connection cap a new client gets the place of the connection
/// idle the longest; when every connection has a request in flight, it
/// waits until one closes.
async fn accept_loop(mut l: Listener) {
    let cap = l.app.config.limits.max_connections.max(1);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = l.tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
            _ = l.shutdown.changed() => break,
        };
        let permit = match l.connections.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                l.registry.evict_one();
                tokio::select! {
                    permit = l.connections.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    _ = l.shutdown.changed() => break,
                }
            }
        };
        let registered = l.registry.register();
        let conn = Connection {
            app: l.app.clone(),
            builder: l.builder.clone(),
            timeouts: l.timeouts,
            shutdown: l.shutdown.clone(),
            registered,
            _permit: permit,
        };
        match &l.tls {
            None => {
                let info = ConnInfo {
                    remote,
                    tls: false,
                    peer_certificate: None,
                };
                tokio::spawn(conn.serve_plain(stream, info));
            }
            Some(acceptor) => {
                tokio::spawn(conn.serve_tls(acceptor.clone(), stream, remote));
            }
        }
    }
    drop(l.tcp);
    let cap = u32::try_from(cap).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_TIMEOUT, l.connections.acquire_many(cap))
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
}

/// [`handle`], with ISDS's header-name casing on HTTP/1.1 answers.
async fn handle_cased(
    app: Arc<App>,
    conn: Arc<ConnInfo>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<super::responses::HttpResponse, super::faults::DropConnection> {
    let mut resp = handle(app, conn, req).await?;
    super::header_case::apply(&mut resp).await;
    Ok(resp)
}

/// Accept errors (e.g. out of file descriptors) are transient: log, back
/// off briefly so a persistent error does not spin, and keep serving.
async fn accept_failed(err: std::io::Error) {
    tracing::warn!(error = %err, "accept failed");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// One accepted connection, until it closes.
struct Connection {
    app: Arc<App>,
    builder: auto::Builder<TokioExecutor>,
    timeouts: Timeouts,
    shutdown: watch::Receiver<bool>,
    registered: Registered,
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn serve_plain(self, stream: TcpStream, info: ConnInfo) {
        let io = Watched::new(stream, self.registered.watch.clone());
        self.drive(io, info).await;
    }

    async fn serve_tls(mut self, acceptor: TlsAcceptor, stream: TcpStream, remote: SocketAddr) {
        let watch = self.registered.watch.clone();
        let handshake = tokio::time::timeout(self.timeouts.tls_handshake, acceptor.accept(stream));
        let tls_stream = tokio::select! {
            done = handshake => match done {
                Ok(Ok(s)) => s,
                Ok(Err(err)) => {
                    tracing::debug!(%remote, error = %err, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, "TLS handshake timed out");
                    return;
                }
            },
            // The handshake has its own deadline; only eviction and
            // shutdown cut it shorter.
            _ = watch.evicted() => return,
            _ = self.shutdown.changed() => return,
        };
        watch.restart();
        let peer_certificate = tls_stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|der| match PeerCertificate::from_der(der.as_ref()) {
                Ok(cert) => Some(Arc::new(cert)),
                Err(err) => {
                    tracing::debug!(%remote, error = %err, "unreadable client certificate");
                    None
                }
            });
        let info = ConnInfo {
            remote,
            tls: true,
            peer_certificate,
        };
        self.drive(Watched::new(tls_stream, watch), info).await;
    }

    /// Serves HTTP/1 or HTTP/2 on `io` until the client closes, the
    /// connection expires (nothing sent, no request, idle) or the gateway
    /// shuts down.
    async fn drive<S>(mut self, io: S, info: ConnInfo)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let app = self.app.clone();
        let info = Arc::new(info);
        let watch = self.registered.watch.clone();
        let service = service_fn(move |req| {
            let in_flight = watch.request();
            let (app, info) = (app.clone(), info.clone());
            async move {
                let resp = handle_cased(app, info, req).await?;
                Ok::<_, super::faults::DropConnection>(
                    resp.map(|body| TrackedBody::new(body, in_flight)),
                )
            }
        });
        let watch = self.registered.watch.clone();
        let connection = self.builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(connection);
        let mut closing = *self.shutdown.borrow();
        if closing {
            connection.as_mut().graceful_shutdown();
        }
        loop {
            tokio::select! {
                ended = connection.as_mut() => {
                    if let Err(err) = ended {
                        tracing::debug!(error = %err, "connection ended with an error");
                    }
                    return;
                }
                _ = watch.expired(&self.timeouts), if !closing => {
                    if !watch.busy() {
                        return;
                    }
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
                _ = self.shutdown.changed(), if !closing => {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}
