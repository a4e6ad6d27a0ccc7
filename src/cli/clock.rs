//! `isds-gateway clock get|set|advance`: reads and moves the clock of a
//! gateway serving in test mode (`serve --test-clock`) through its
//! `/admin/clock` endpoint, with the operator's credentials. Unlike the
//! other administration commands it talks to the running gateway.

use hyper::StatusCode;

use crate::config::OperatorConfig;

#[derive(Debug, clap::Args)]
pub struct ClockArgs {
    #[command(subcommand)]
    pub command: ClockCommand,
    /// The gateway's plain HTTP address, e.g. http://127.0.0.1:8080
    #[arg(
        long,
        env = "ISDS_GATEWAY_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// The operator's credentials, LOGIN:PASSWORD.
    #[arg(
        long,
        env = "ISDS_GATEWAY_OPERATOR",
        hide_env_values = true,
        global = true
    )]
    pub operator: Option<OperatorConfig>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ClockCommand {
    /// Print the gateway's current time.
    Get,
    /// Set the gateway's time (RFC 3339, e.g. 2026-03-01T08:00:00Z).
    Set { time: String },
    /// Move the gateway's time forward, e.g. 10d, 2h, 30m, 3600s.
    Advance { by: String },
    /// Put the gateway's clock back to wall time (the test clock otherwise
    /// survives restarts of the data directory).
    Reset,
}

/// The clock could not be read or moved.
#[derive(Debug, thiserror::Error)]
pub enum ClockCliError {
    #[error("the operator's credentials are needed: --operator LOGIN:PASSWORD")]
    NoOperator,
    #[error("invalid --url {0:?}: expected http://HOST:PORT")]
    Url(String),
    #[error("cannot reach the gateway at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("the gateway is not in test mode (start it with `serve --test-clock`)")]
    NotTestMode,
    #[error("the gateway refused the operator's credentials")]
    Unauthorized,
    #[error("the gateway answered {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// Runs the command; returns what to print.
pub fn run(args: ClockArgs) -> Result<String, ClockCliError> {
    let operator = args.operator.clone().ok_or(ClockCliError::NoOperator)?;
    let body = match &args.command {
        ClockCommand::Get => None,
        ClockCommand::Set { time } => Some(serde_json::json!({ "set": time }).to_string()),
        ClockCommand::Advance { by } => Some(serde_json::json!({ "advance": by }).to_string()),
        ClockCommand::Reset => Some(serde_json::json!({ "reset": true }).to_string()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ClockCliError::Runtime)?;
    let text = runtime.block_on(call(&args.url, &operator, body))?;
    Ok(format!("{text}\n"))
}

/// One request to `<url>/admin/clock`: GET without a body, POST with one.
async fn call(
    url: &str,
    operator: &OperatorConfig,
    body: Option<String>,
) -> Result<String, ClockCliError> {
    call_path(url, operator, "/admin/clock", body).await
}

/// One request with the operator's credentials to `path` of the gateway
/// at `url`: GET without a body, POST with one. A 404 is reported as
/// [`ClockCliError::NotTestMode`]; callers for other paths say what it
/// means for them.
pub(crate) async fn call_path(
    url: &str,
    operator: &OperatorConfig,
    path: &str,
    body: Option<String>,
) -> Result<String, ClockCliError> {
    let (status, text) = super::admin_http::request(url, operator, path, body)
        .await
        .map_err(|e| match e {
            super::admin_http::AdminHttpError::Url(u) => ClockCliError::Url(u),
            super::admin_http::AdminHttpError::Connect { url, message } => {
                ClockCliError::Connect { url, message }
            }
        })?;
    match status {
        StatusCode::OK => Ok(text),
        StatusCode::NOT_FOUND => Err(ClockCliError::NotTestMode),
        StatusCode::UNAUTHORIZED => Err(ClockCliError::Unauthorized),
        other => Err(ClockCliError::Refused {
            status: other.as_u16(),
            body: text,
        }),
    }
}
