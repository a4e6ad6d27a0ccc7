//! A transcript directory: `transcript.toml` and the numbered exchanges
//! `NNNN-meta.toml`, `NNNN-request.xml|json`, `NNNN-response.xml|txt|json`
//! (JSON: moves of the test clock), read and
//! checked whole before anything is sent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ReplayError;
use crate::xml::{self, Element, ParseLimits, XmlError};

/// `transcript.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The gateway clock when recording began (RFC 3339); the embedded
    /// gateway's test clock starts there.
    pub start: Option<String>,
    /// World fixture replacing the built-in demo world (relative to the
    /// transcript directory).
    pub world: Option<PathBuf>,
    /// Further world fixtures.
    #[serde(default)]
    pub fixtures: Vec<PathBuf>,
    /// Credentials file (default `credentials.toml` when present).
    pub credentials: Option<PathBuf>,
    /// Free text for people.
    pub description: Option<String>,
}

/// `credentials.toml`: what replay needs and recordings never hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsFile {
    /// Login → password.
    #[serde(default)]
    pub logins: BTreeMap<String, String>,
    /// `{{secret:NAME}}` values.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// The gateway operator (for DsManage calls).
    pub operator: Option<OperatorCreds>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorCreds {
    pub login: String,
    pub password: String,
}

/// `NNNN-meta.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Path the request went to, e.g. `/DS/dz`.
    pub endpoint: String,
    pub operation: Option<String>,
    /// The login (HTTP Basic user name); absent: no credentials sent.
    pub login: Option<String>,
    /// `"invalid"`: the recorded login was refused; replay sends a wrong
    /// password.
    pub credentials: Option<String>,
    /// 0 = the connection was dropped without an answer.
    pub http_status: u16,
    pub time: Option<String>,
    pub request_content_type: Option<String>,
    pub soap_action: Option<String>,
    pub response_content_type: Option<String>,
}

/// The expected response.
#[derive(Debug, Clone)]
pub enum Expected {
    /// No answer (connection dropped).
    None,
    Xml {
        text: String,
        root: Element,
    },
    Text(String),
    /// A JSON answer (`/admin/clock`): only the HTTP status is compared,
    /// since it reports the moving clock.
    Json(String),
}

/// One exchange.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Its number (`NNNN`).
    pub number: u32,
    pub meta: Meta,
    /// The request text with placeholders (`None`: none was recorded).
    pub request: Option<String>,
    pub expected: Expected,
}

/// A loaded transcript.
#[derive(Debug)]
pub struct Transcript {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub credentials: CredentialsFile,
    pub exchanges: Vec<Exchange>,
}

pub(crate) fn compare_limits() -> ParseLimits {
    ParseLimits {
        max_bytes: 512 * 1024 * 1024,
        max_depth: 256,
        max_attributes: 256,
        max_elements: 10_000_000,
    }
}

fn xml_pos(err: &XmlError) -> Option<usize> {
    match err {
        XmlError::TooDeep { pos, .. }
        | XmlError::TooManyAttributes { pos, .. }
        | XmlError::TooManyNamespaces { pos, .. }
        | XmlError::TooMuchStructure { pos }
        | XmlError::ProcessingInstruction { pos }
        | XmlError::InvalidUtf8 { pos }
        | XmlError::UndefinedByte { pos, .. }
        | XmlError::InvalidChar { pos, .. }
        | XmlError::UnknownEntity { pos, .. }
        | XmlError::UnboundPrefix { pos, .. }
        | XmlError::DuplicateAttribute { pos, .. }
        | XmlError::NotWellFormed { pos, .. } => Some(*pos),
        _ => None,
    }
}

pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map(|t| t.bytes().filter(|&b| b == b'\n').count() + 1)
        .unwrap_or(1)
}

/// Parses an XML file of the transcript; errors name the file and line.
pub(crate) fn parse_xml(path: &Path, text: &str) -> Result<Element, ReplayError> {
    xml::parse(text.as_bytes(), &compare_limits()).map_err(|e| {
        let origin = match xml_pos(&e) {
            Some(pos) => format!("{}, line {}", path.display(), line_of(text, pos)),
            None => path.display().to_string(),
        };
        ReplayError::Invalid {
            origin,
            message: e.to_string(),
        }
    })
}

fn read(path: &Path) -> Result<String, ReplayError> {
    std::fs::read_to_string(path).map_err(|source| ReplayError::Read {
        path: path.to_owned(),
        source,
    })
}

fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ReplayError> {
    let text = read(path)?;
    toml::from_str(&text).map_err(|e| {
        let origin = match e.span() {
            Some(span) => format!("{}, line {}", path.display(), line_of(&text, span.start)),
            None => path.display().to_string(),
        };
        ReplayError::Invalid {
            origin,
            message: e.message().to_owned(),
        }
    })
}

/// Reads and checks a whole transcript directory.
pub fn load(dir: &Path) -> Result<Transcript, ReplayError> {
    let manifest_path = dir.join("transcript.toml");
    let manifest: Manifest = if manifest_path.exists() {
        parse_toml(&manifest_path)?
    } else {
        return Err(ReplayError::Invalid {
            origin: dir.display().to_string(),
            message: "no transcript.toml: not a transcript directory".into(),
        });
    };
    if let Some(start) = &manifest.start
        && crate::domain::clock::czech_time::parse_instant(start).is_none()
    {
        return Err(ReplayError::Invalid {
            origin: manifest_path.display().to_string(),
            message: format!("start {start:?} is no RFC 3339 date-time"),
        });
    }
    let credentials_path = match &manifest.credentials {
        Some(p) => Some(dir.join(p)),
        None => Some(dir.join("credentials.toml")).filter(|p| p.exists()),
    };
    let credentials = match credentials_path {
        Some(p) => parse_toml(&p)?,
        None => CredentialsFile::default(),
    };

    let entries = std::fs::read_dir(dir).map_err(|source| ReplayError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let mut numbers = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ReplayError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix("-meta.toml") {
            let n: u32 = stem.parse().map_err(|_| ReplayError::Invalid {
                origin: dir.join(&name).display().to_string(),
                message: "exchange files are named NNNN-meta.toml with a number".into(),
            })?;
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    let mut exchanges = Vec::with_capacity(numbers.len());
    for n in numbers {
        let file = |suffix: &str| dir.join(format!("{n:04}-{suffix}"));
        let meta_path = file("meta.toml");
        let meta: Meta = parse_toml(&meta_path)?;
        if !meta.endpoint.starts_with('/') {
            return Err(ReplayError::Invalid {
                origin: meta_path.display().to_string(),
                message: format!("endpoint {:?} must be a path like /DS/dz", meta.endpoint),
            });
        }
        let request = if file("request.json").exists() {
            let path = file("request.json");
            let text = read(&path)?;
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&text) {
                return Err(ReplayError::Invalid {
                    origin: format!("{}, line {}", path.display(), e.line()),
                    message: e.to_string(),
                });
            }
            Some(text)
        } else if file("request.xml").exists() {
            let path = file("request.xml");
            let text = read(&path)?;
            if text.contains("{{omitted:") {
                return Err(ReplayError::Invalid {
                    origin: path.display().to_string(),
                    message:
                        "the request was too large to record ({{omitted:…}}) and cannot be replayed"
                            .into(),
                });
            }
            parse_xml(&path, &text)?;
            Some(text)
        } else {
            None
        };
        let expected = if file("response.xml").exists() {
            let path = file("response.xml");
            let text = read(&path)?;
            let root = parse_xml(&path, &text)?;
            Expected::Xml { text, root }
        } else if file("response.json").exists() {
            Expected::Json(read(&file("response.json"))?)
        } else if file("response.txt").exists() {
            Expected::Text(read(&file("response.txt"))?)
        } else if meta.http_status == 0 {
            Expected::None
        } else {
            return Err(ReplayError::Invalid {
                origin: meta_path.display().to_string(),
                message: format!(
                    "exchange {n:04} has no {n:04}-response.xml, .txt or .json (only a dropped connection, http_status = 0, has none)"
                ),
            });
        };
        exchanges.push(Exchange {
            number: n,
            meta,
            request,
            expected,
        });
    }
    if exchanges.is_empty() {
        return Err(ReplayError::Invalid {
            origin: dir.display().to_string(),
            message: "the transcript has no exchanges (NNNN-meta.toml)".into(),
        });
    }
    Ok(Transcript {
        dir: dir.to_owned(),
        manifest,
        credentials,
        exchanges,
    })
}
