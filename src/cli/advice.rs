//! `isds-gateway advice`: prints the advisories a running gateway has
//! about its clients' behaviour (its `GET /advice`), with the operator's
//! credentials. Like `clock`, it talks to the running gateway.

use crate::config::OperatorConfig;

use super::clock::{ClockCliError, call_path};

#[derive(Debug, clap::Args)]
pub struct AdviceArgs {
    /// The gateway's plain HTTP address, e.g. http://127.0.0.1:8080
    #[arg(
        long,
        env = "ISDS_GATEWAY_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// The operator's credentials, LOGIN:PASSWORD.
    #[arg(long, env = "ISDS_GATEWAY_OPERATOR", hide_env_values = true)]
    pub operator: Option<OperatorConfig>,
    /// Print the gateway's JSON as it is.
    #[arg(long)]
    pub json: bool,
}

/// The advisories could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum AdviceCliError {
    #[error("the gateway serves no advice (it was started with --no-ui)")]
    NoUi,
    #[error("the gateway's answer is not the advice JSON: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Call(ClockCliError),
}

/// Runs the command; returns what to print.
pub fn run(args: AdviceArgs) -> Result<String, AdviceCliError> {
    let operator = args
        .operator
        .clone()
        .ok_or(AdviceCliError::Call(ClockCliError::NoOperator))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AdviceCliError::Call(ClockCliError::Runtime(e)))?;
    let text = runtime
        .block_on(call_path(&args.url, &operator, "/advice", None))
        .map_err(|e| match e {
            ClockCliError::NotTestMode => AdviceCliError::NoUi,
            other => AdviceCliError::Call(other),
        })?;
    if args.json {
        return Ok(format!("{text}\n"));
    }
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| AdviceCliError::Unreadable(e.to_string()))?;
    Ok(render(&value))
}

/// The advisories as text: one paragraph each.
pub fn render(value: &serde_json::Value) -> String {
    let list = value
        .get("advisories")
        .and_then(|a| a.as_array())
        .cloned()
        .unwrap_or_default();
    if list.is_empty() {
        return "No advisories: the clients behaved as the manuals recommend.\n".to_owned();
    }
    let s =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
    let mut out = String::new();
    for a in &list {
        let count = a.get("count").and_then(|c| c.as_u64()).unwrap_or(0);
        out.push_str(&format!(
            "{} ×{count}  [{}]\n",
            s(a, "kind"),
            s(a, "manual")
        ));
        out.push_str(&format!("  {}\n", s(a, "explanation")));
        if let Some(logins) = a.get("logins").and_then(|l| l.as_object()) {
            let by: Vec<String> = logins
                .iter()
                .map(|(login, n)| format!("{login} ×{}", n.as_u64().unwrap_or(0)))
                .collect();
            out.push_str(&format!("  logins: {}\n", by.join(", ")));
        }
        if let Some(ex) = a.get("example") {
            out.push_str(&format!(
                "  example: exchange {} ({} by {}): {}\n",
                ex.get("exchange").and_then(|e| e.as_u64()).unwrap_or(0),
                s(ex, "operation"),
                s(ex, "login"),
                s(ex, "detail")
            ));
        }
    }
    out
}
