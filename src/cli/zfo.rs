//! `isds-gateway zfo inspect|verify FILE`: reads a signed message or
//! delivery receipt (`.zfo`, DER CMS, or its base64 as in `dmSignature`).
//! `inspect` prints signer, time stamp and a summary of the content
//! without checking anything; `verify` checks that this gateway's signing
//! identity (in `--data`, or `[signing]` of `--config`) issued it
//! untouched, and fails otherwise.

use std::path::{Path, PathBuf};

use base64::Engine;

use crate::config::Config;
use crate::sign::{self, Signer, SigningIdentity};
use crate::xml::{self, Element, ParseLimits};

#[derive(Debug, clap::Args)]
pub struct ZfoArgs {
    #[command(subcommand)]
    pub command: ZfoCommand,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum ZfoCommand {
    /// Show signer, time stamp and content of a .zfo (nothing is checked).
    Inspect { file: PathBuf },
    /// Check that this gateway issued the .zfo and nothing in it changed.
    Verify {
        file: PathBuf,
        /// Data directory of the gateway whose signature is expected.
        #[arg(long, env = "ISDS_GATEWAY_DATA", default_value = "./data")]
        data: PathBuf,
        /// The gateway's configuration file (for a `[signing]` section).
        #[arg(long, env = "ISDS_GATEWAY_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ZfoCliError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("signing identity: {0}")]
    Identity(#[from] sign::SignError),
    #[error("NOT AUTHENTIC: {0}")]
    NotAuthentic(sign::VerifyError),
}

/// Raw DER, or base64 of it (whitespace allowed).
fn read_zfo(path: &Path) -> Result<Vec<u8>, ZfoCliError> {
    let bytes = std::fs::read(path).map_err(|source| ZfoCliError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.first() == Some(&0x30) {
        return Ok(bytes);
    }
    let text: Vec<u8> = bytes
        .into_iter()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| ZfoCliError::Unreadable {
            path: path.to_path_buf(),
            reason: format!("neither DER nor base64: {e}"),
        })
}

fn time(unix: u64) -> String {
    i64::try_from(unix)
        .map(crate::domain::clock::czech_time::format_unix)
        .unwrap_or_else(|_| unix.to_string())
}

/// What the signed XML is about.
#[derive(Debug, Default, serde::Serialize)]
struct ContentSummary {
    kind: String,
    root: String,
    namespace: String,
    dm_id: Option<String>,
    annotation: Option<String>,
    sender: Option<String>,
    recipient: Option<String>,
    message_status: Option<String>,
    documents: usize,
    events: usize,
}

fn first<'a>(el: &'a Element, name: &str) -> Option<&'a Element> {
    if el.name == name {
        return Some(el);
    }
    el.elements().find_map(|c| first(c, name))
}

fn summarise(content: &[u8]) -> ContentSummary {
    let Ok(root) = xml::parse(content, &ParseLimits::default()) else {
        return ContentSummary {
            kind: "not XML".into(),
            ..ContentSummary::default()
        };
    };
    let ns = root.ns.clone().unwrap_or_default();
    let kind = match ns.as_str() {
        crate::service::SIGNED_MESSAGE_NS => "received message",
        crate::service::SIGNED_SENT_MESSAGE_NS => "sent message",
        crate::service::SIGNED_DELIVERY_NS => "delivery info",
        _ => "unknown",
    };
    let text = |name: &str| first(&root, name).map(|e| e.text());
    ContentSummary {
        kind: kind.into(),
        root: root.name.clone(),
        namespace: ns.clone(),
        dm_id: text("dmID"),
        annotation: text("dmAnnotation"),
        sender: text("dbIDSender"),
        recipient: text("dbIDRecipient"),
        message_status: text("dmMessageStatus"),
        documents: first(&root, "dmFiles").map_or(0, |f| f.elements().count()),
        events: first(&root, "dmEvents").map_or(0, |f| f.elements().count()),
    }
}

pub fn run(args: ZfoArgs) -> Result<String, ZfoCliError> {
    run_inner(args).map(|mut out| {
        out.push('\n');
        out
    })
}

fn run_inner(args: ZfoArgs) -> Result<String, ZfoCliError> {
    match args.command {
        ZfoCommand::Inspect { file } => {
            let zfo = read_zfo(&file)?;
            let i = sign::inspect(&zfo).map_err(|e| ZfoCliError::Unreadable {
                path: file.clone(),
                reason: e.to_string(),
            })?;
            let summary = summarise(&i.content);
            if args.json {
                let v = serde_json::json!({
                    "signer": i.signer,
                    "signer_issuer": i.signer_issuer,
                    "signing_time": i.signing_time.map(time),
                    "time_stamp": i.stamp.as_ref().map(|s| serde_json::json!({
                        "time": time(s.gen_time),
                        "serial": s.serial,
                        "authority": i.stamp_authority,
                    })),
                    "content_bytes": i.content.len(),
                    "content": summary,
                });
                return Ok(v.to_string());
            }
            let mut out = String::new();
            let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            out.push_str(&format!("signer:        {}\n", opt(&i.signer)));
            out.push_str(&format!("issued by:     {}\n", opt(&i.signer_issuer)));
            out.push_str(&format!(
                "signing time:  {}\n",
                opt(&i.signing_time.map(time))
            ));
            match &i.stamp {
                Some(s) => {
                    out.push_str(&format!(
                        "time stamp:    {} (serial {})\n",
                        time(s.gen_time),
                        s.serial
                    ));
                    out.push_str(&format!("stamped by:    {}\n", opt(&i.stamp_authority)));
                }
                None => out.push_str("time stamp:    none\n"),
            }
            out.push_str(&format!(
                "content:       {} ({} {{{}}}, {} bytes)\n",
                summary.kind,
                summary.root,
                summary.namespace,
                i.content.len()
            ));
            for (label, v) in [
                ("dmID", &summary.dm_id),
                ("annotation", &summary.annotation),
                ("sender", &summary.sender),
                ("recipient", &summary.recipient),
                ("state", &summary.message_status),
            ] {
                if let Some(v) = v {
                    out.push_str(&format!("  {label:<12} {v}\n"));
                }
            }
            out.push_str(&format!(
                "  documents    {}\n  events       {}",
                summary.documents, summary.events
            ));
            Ok(out)
        }
        ZfoCommand::Verify { file, data, config } => {
            let zfo = read_zfo(&file)?;
            let settings = match &config {
                Some(path) => Config::from_file(path)?.signing,
                None => sign::SigningSettings::default(),
            };
            let signer = Signer::new(SigningIdentity::load_existing(&data, &settings)?);
            let v = signer.verify(&zfo).map_err(ZfoCliError::NotAuthentic)?;
            if args.json {
                return Ok(serde_json::json!({
                    "authentic": true,
                    "signing_time": time(v.signing_time),
                    "time_stamp": time(v.stamp.gen_time),
                    "content_bytes": v.content.len(),
                })
                .to_string());
            }
            Ok(format!(
                "authentic: signed {} and time-stamped {} by this gateway; content unchanged ({} bytes)",
                time(v.signing_time),
                time(v.stamp.gen_time),
                v.content.len()
            ))
        }
    }
}
