//! The `isds-gateway` command.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use isds_gateway::config::{Config, OperatorConfig};
use isds_gateway::{cli, http};

#[derive(Parser)]
#[command(
    name = "isds-gateway",
    version,
    about = "A local, faithful stand-in for the ISDS SOAP interface"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the ISDS SOAP interface over HTTP and HTTPS.
    Serve(ServeArgs),
    /// Manage client certificates for mutual-TLS logins (gateway stopped).
    Cert(isds_gateway::cli::cert::CertArgs),
    /// Administer the boxes of a data directory the gateway is not serving.
    Box(cli::box_cmd::BoxArgs),
    /// Administer the users of a data directory the gateway is not serving.
    User(cli::user_cmd::UserArgs),
    /// Load world fixtures into a data directory the gateway is not serving.
    Fixtures(cli::fixtures::FixturesArgs),
    /// Read or move the clock of a gateway serving with --test-clock.
    Clock(cli::clock::ClockArgs),
    /// Print the advisories a running gateway has about its clients.
    Advice(cli::advice::AdviceArgs),
    /// The simulated Mobile Key phone of a running gateway: pending login
    /// requests, confirm or reject them, keys and communication codes.
    Mep(cli::mep::MepArgs),
    /// Inspect or verify a signed message or delivery receipt (.zfo).
    Zfo(cli::zfo::ZfoArgs),
    /// Replay a recorded transcript and compare the answers.
    Replay(ReplayArgs),
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// The transcript directory (as written by `serve --record`).
    dir: PathBuf,
    /// Replay against this running gateway (http://HOST:PORT) instead of an
    /// embedded one started from the transcript's world.
    #[arg(long)]
    against: Option<String>,
    /// Write a JUnit XML report to this file.
    #[arg(long)]
    junit: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// TOML configuration file; flags and environment variables override it.
    #[arg(long, env = "ISDS_GATEWAY_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (store, TLS identity). Default: ./data
    #[arg(long, env = "ISDS_GATEWAY_DATA")]
    data: Option<PathBuf>,
    /// Plain HTTP address (`:8080`: every interface). Default: 127.0.0.1:8080
    #[arg(long, env = "ISDS_GATEWAY_LISTEN", value_parser = isds_gateway::config::parse_listen)]
    listen: Option<SocketAddr>,
    /// HTTPS address (`:443`: every interface), or `off`. Default: 127.0.0.1:8443
    #[arg(long, env = "ISDS_GATEWAY_TLS_LISTEN")]
    tls_listen: Option<String>,
    /// Serve ISDS's host names under this domain as ISDS does (ws1, ws1c,
    /// ws2, ws2c, www; each path only on its host), e.g.
    /// datovka-test.gov.cz (repeatable). Other host names keep the
    /// single-host layout.
    #[arg(long = "isds-domain")]
    isds_domain: Vec<String>,
    /// Do not seed the demo world into an empty data directory.
    #[arg(long)]
    no_demo: bool,
    /// Seed this world fixture instead of the built-in demo world.
    #[arg(long)]
    demo_world: Option<PathBuf>,
    /// Add this world fixture to the store at start, all or nothing; the
    /// same fixture text is loaded once per store, and another fixture with
    /// a box, user or login already stored is refused (repeatable).
    #[arg(long)]
    fixtures: Vec<PathBuf>,
    /// The gateway operator's credentials, LOGIN:PASSWORD (prefer the
    /// environment variable or the config file: arguments are visible to
    /// other local users).
    #[arg(long, env = "ISDS_GATEWAY_OPERATOR", hide_env_values = true)]
    operator: Option<OperatorConfig>,
    /// Once listening, write the bound addresses as JSON to this file
    /// (for scripts that start the gateway on port 0).
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "ISDS_GATEWAY_LOG_JSON")]
    log_json: bool,
    /// Test mode: run on a clock the operator sets and advances through
    /// /admin/clock (see `isds-gateway clock`).
    #[arg(long)]
    test_clock: bool,
    /// Test mode starting at this time (RFC 3339, e.g.
    /// 2026-03-01T08:00:00+01:00), set before fixtures load; implies
    /// --test-clock. Without it a test clock resumes where the data
    /// directory's last run left it (`isds-gateway clock reset` goes back
    /// to wall time).
    #[arg(long)]
    clock_start: Option<String>,
    /// Memory for the store's page cache in MiB. Default: 64; about 1024
    /// for a register of a million boxes.
    #[arg(long, env = "ISDS_GATEWAY_STORE_CACHE_MB")]
    store_cache_mb: Option<u64>,
    /// Give each durable write its own flush instead of sharing one among
    /// the writes made at the same time (group commit). For measuring what
    /// group commit gains; every write is durable before it is answered
    /// either way.
    #[arg(long)]
    no_group_commit: bool,
    /// Record every SOAP exchange into this directory as a transcript that
    /// `isds-gateway replay` can play back (passwords are never written).
    #[arg(long)]
    record: Option<PathBuf>,
    /// Load scripted responses and faults (`[[faults]]` rules) from this
    /// file (repeatable; world fixtures may carry rules too).
    #[arg(long = "faults")]
    fault_rules: Vec<PathBuf>,
    /// Serve no web inspector (/ui/), /advice or /metrics, and watch no
    /// traffic for them.
    #[arg(long)]
    no_ui: bool,
    /// Let world fixtures (--fixtures, --demo-world) name files by an
    /// absolute path; by default every file must be inside the fixture's
    /// directory.
    #[arg(long)]
    allow_absolute_fixture_paths: bool,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Config(#[from] isds_gateway::config::ConfigError),
    #[error("invalid --tls-listen {0:?}: expected an address like 127.0.0.1:8443 or :443, or off")]
    TlsListen(String),
    #[error(transparent)]
    Serve(#[from] http::ServeError),
    #[error(transparent)]
    Admin(#[from] cli::CliError),
    #[error("cannot write ready file {path}: {source}")]
    ReadyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot install the signal handler: {0}")]
    Signal(std::io::Error),
    #[error(transparent)]
    Cert(#[from] isds_gateway::cli::cert::CertCliError),
    #[error(transparent)]
    Clock(#[from] cli::clock::ClockCliError),
    #[error(transparent)]
    Advice(#[from] cli::advice::AdviceCliError),
    #[error(transparent)]
    Mep(#[from] cli::mep::MepCliError),
    #[error(transparent)]
    Zfo(#[from] cli::zfo::ZfoCliError),
    #[error(transparent)]
    Replay(#[from] isds_gateway::replay::ReplayError),
}

/// Everything the gateway creates (store, documents, keys, recordings) is
/// for its own user only, whatever umask it was started with.
fn restrict_umask() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: umask only sets the process's file creation mask; called
    // first thing in main.
    unsafe {
        libc::umask(0o077);
    }
}

fn main() -> ExitCode {
    restrict_umask();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Cert(args) => isds_gateway::cli::cert::run(args).map_err(CliError::from),
        Command::Box(args) => cli::box_cmd::run(args).map(print).map_err(CliError::from),
        Command::User(args) => cli::user_cmd::run(args).map(print).map_err(CliError::from),
        Command::Fixtures(args) => cli::fixtures::run(args).map(print).map_err(CliError::from),
        Command::Clock(args) => cli::clock::run(args).map(print).map_err(CliError::from),
        Command::Advice(args) => cli::advice::run(args).map(print).map_err(CliError::from),
        Command::Mep(args) => cli::mep::run(args).map(print).map_err(CliError::from),
        Command::Zfo(args) => cli::zfo::run(args).map(print).map_err(CliError::from),
        Command::Replay(args) => return replay(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("isds-gateway: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Exit 0 when every exchange matched, 1 on differences, 2 when the replay
/// could not run.
fn replay(args: ReplayArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("isds-gateway: {}", CliError::Runtime(e));
            return ExitCode::from(2);
        }
    };
    let options = isds_gateway::replay::ReplayOptions {
        against: args.against,
        junit: args.junit,
    };
    match runtime.block_on(isds_gateway::replay::run(&args.dir, &options)) {
        Ok(report) => {
            print!("{}", report.render());
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("isds-gateway: {}", CliError::from(e));
            ExitCode::from(2)
        }
    }
}

fn print(output: String) {
    print!("{output}");
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi && !json);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn serve(args: ServeArgs) -> Result<(), CliError> {
    init_logging(args.log_json);
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if let Some(data) = args.data {
        config.data_dir = data;
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(tls) = args.tls_listen {
        config.tls_listen = match tls.as_str() {
            "off" | "none" => None,
            addr => Some(
                isds_gateway::config::parse_listen(addr)
                    .map_err(|_| CliError::TlsListen(tls.clone()))?,
            ),
        };
    }
    config.no_demo |= args.no_demo;
    config.test_clock |= args.test_clock;
    if args.clock_start.is_some() {
        config.clock_start = args.clock_start;
    }
    config.test_clock |= config.clock_start.is_some();
    config.no_ui |= args.no_ui;
    config.allow_absolute_fixture_paths |= args.allow_absolute_fixture_paths;
    if let Some(mb) = args.store_cache_mb {
        config.store_cache_mb = mb;
    }
    config.group_commit &= !args.no_group_commit;
    if args.demo_world.is_some() {
        config.demo_world = args.demo_world;
    }
    config.fixtures.extend(args.fixtures);
    if args.record.is_some() {
        config.record = args.record;
    }
    config.fault_rules.extend(args.fault_rules);
    config.isds_domain.extend(args.isds_domain);
    if args.operator.is_some() {
        config.operator = args.operator;
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let test_clock = config.test_clock;
    let isds_domains = config.isds_domain.clone();
    runtime.block_on(async move {
        let gateway = http::start(config).await?;
        println!("isds-gateway: HTTP  on http://{}/DS/dz", gateway.http_addr);
        if let Some(addr) = gateway.https_addr {
            println!("isds-gateway: HTTPS on https://{addr}/DS/dz");
        }
        for domain in &isds_domains {
            println!(
                "isds-gateway: ISDS host names under {domain}: ws1, ws1c, ws2, ws2c, www (point them at this gateway)"
            );
        }
        if let Some(ca) = &gateway.ca_cert_path {
            println!(
                "isds-gateway: local CA certificate at {} (trust it to verify HTTPS)",
                ca.display()
            );
        }
        if test_clock {
            println!(
                "isds-gateway: TEST MODE: the clock moves by `isds-gateway clock` (/admin/clock)"
            );
        }
        if let Some(path) = &args.ready_file {
            write_ready_file(path, &gateway).map_err(|source| CliError::ReadyFile {
                path: path.clone(),
                source,
            })?;
        }
        wait_for_signal().await?;
        tracing::info!("shutting down: finishing in-flight requests");
        gateway.shutdown().await?;
        tracing::info!("stopped; store flushed");
        Ok(())
    })
}

/// Writes the addresses atomically (temp file, then rename), so a reader
/// never sees half a file.
fn write_ready_file(path: &std::path::Path, gw: &http::RunningGateway) -> std::io::Result<()> {
    let json = serde_json::json!({
        "http": gw.http_addr.to_string(),
        "https": gw.https_addr.map(|a| a.to_string()),
        "ca_cert": gw.ca_cert_path.as_ref().map(|p| p.display().to_string()),
    });
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, json.to_string())?;
    std::fs::rename(&tmp, path)
}

async fn wait_for_signal() -> Result<(), CliError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(CliError::Signal)?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map_err(CliError::Signal)?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.map_err(CliError::Signal)?;
    Ok(())
}
