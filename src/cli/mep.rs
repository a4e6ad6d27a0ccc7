//! `isds-gateway mep pending|confirm|reject|keys|code`: the simulated
//! Mobile Key phone of a running gateway, through its `/admin/mep`
//! endpoints, with the operator's credentials.

use hyper::StatusCode;
use serde_json::Value;

use super::admin_http::{self, AdminHttpError};
use crate::config::OperatorConfig;

#[derive(Debug, clap::Args)]
pub struct MepArgs {
    #[command(subcommand)]
    pub command: MepCommand,
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
    /// Print the gateway's JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum MepCommand {
    /// List the login requests waiting on the phone.
    Pending,
    /// Confirm a login request on the phone.
    Confirm { id: String },
    /// Reject a login request on the phone.
    Reject { id: String },
    /// List the Mobile Keys and the accounts linked to each.
    Keys,
    /// Generate a new communication code for an account (shown once).
    Code { user_id: String },
}

/// The phone could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MepCliError {
    #[error("the operator's credentials are needed: --operator LOGIN:PASSWORD")]
    NoOperator,
    #[error(transparent)]
    Http(#[from] AdminHttpError),
    #[error("the gateway refused the operator's credentials")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("the gateway answered {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("the gateway answered something other than JSON: {0}")]
    NotJson(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// Runs the command; returns what to print.
pub fn run(args: MepArgs) -> Result<String, MepCliError> {
    let operator = args.operator.clone().ok_or(MepCliError::NoOperator)?;
    let (path, body) = match &args.command {
        MepCommand::Pending => ("/admin/mep", None),
        MepCommand::Confirm { id } => ("/admin/mep", Some(serde_json::json!({ "confirm": id }))),
        MepCommand::Reject { id } => ("/admin/mep", Some(serde_json::json!({ "reject": id }))),
        MepCommand::Keys => ("/admin/mep/keys", None),
        MepCommand::Code { user_id } => {
            ("/admin/mep", Some(serde_json::json!({ "code": user_id })))
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(MepCliError::Runtime)?;
    let (status, text) = runtime.block_on(admin_http::request(
        &args.url,
        &operator,
        path,
        body.map(|b| b.to_string()),
    ))?;
    let value: Value = serde_json::from_str(&text).map_err(|_| match status {
        StatusCode::UNAUTHORIZED => MepCliError::Unauthorized,
        _ => MepCliError::NotJson(text.clone()),
    })?;
    match status {
        StatusCode::OK => {}
        StatusCode::UNAUTHORIZED => return Err(MepCliError::Unauthorized),
        StatusCode::NOT_FOUND => {
            let why = value["error"].as_str().unwrap_or("not found").to_owned();
            return Err(MepCliError::NotFound(why));
        }
        other => {
            return Err(MepCliError::Refused {
                status: other.as_u16(),
                body: text,
            });
        }
    }
    if args.json {
        return Ok(format!("{value}\n"));
    }
    Ok(match &args.command {
        MepCommand::Pending => pending_text(&value),
        MepCommand::Confirm { id } => format!("confirmed {id}\n"),
        MepCommand::Reject { id } => format!("rejected {id}\n"),
        MepCommand::Keys => keys_text(&value),
        MepCommand::Code { user_id } => format!(
            "communication code of {user_id}: {}\n(shown this once; only its hash is kept)\n",
            value["code"].as_str().unwrap_or_default()
        ),
    })
}

fn account_line(a: &Value) -> String {
    let s = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
    format!(
        "{}  {}  {}  {} ({}, {})",
        s("user_id"),
        s("user_name"),
        s("user_type"),
        s("box_name"),
        s("box_type"),
        s("box_id")
    )
}

fn pending_text(v: &Value) -> String {
    let list = v["pending"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        return "no pending requests\n".into();
    }
    let mut out = String::new();
    for r in &list {
        out.push_str(&format!(
            "{}  status {}  {}\n    {}\n    {}\n",
            r["id"].as_str().unwrap_or_default(),
            r["status"],
            r["description"].as_str().unwrap_or_default(),
            r["notification"].as_str().unwrap_or_default(),
            account_line(&r["account"]),
        ));
    }
    out
}

fn keys_text(v: &Value) -> String {
    let keys = v["keys"].as_array().cloned().unwrap_or_default();
    if keys.is_empty() {
        return "no Mobile Keys\n".into();
    }
    let mut out = String::new();
    for k in &keys {
        out.push_str(&format!(
            "key {} of {}\n",
            k["id"].as_str().unwrap_or_default(),
            k["holder"].as_str().unwrap_or_default()
        ));
        for a in k["accounts"].as_array().cloned().unwrap_or_default() {
            out.push_str(&format!(
                "    {}{}\n",
                account_line(&a),
                if a["has_code"].as_bool() == Some(true) {
                    ""
                } else {
                    "  (no communication code yet)"
                }
            ));
        }
    }
    out
}
