//! Scripted responses and faults: rules that make chosen SOAP calls fail the
//! way ISDS fails in production (an ISDS status code in the operation's own
//! response, a SOAP fault, ISDS's 503 maintenance fault, a delay, a dropped
//! connection), optionally only the first N times, so clients' retry and
//! error handling can be tested.
//!
//! Rules are `[[faults]]` tables of a world fixture (or of a file given by
//! `serve --faults`):
//!
//! ```toml
//! [[faults]]
//! name = "outage"              # unique; default "rule-N"
//! operation = "CreateMessage"  # local name of the request element, or "*"
//! when = "//dbIDRecipient = 'fo4demo'"   # optional condition on the request
//! action = "maintenance"       # status | fault | maintenance | http | delay | drop
//! times = 2                    # only the first 2 matching calls (default: every)
//! ```
//!
//! Per action: `status` takes `code` (e.g. "1214") and `message`; `fault`
//! takes `fault_code` ("Client" or "Server", default "Server"),
//! `fault_string` and `http_status` (default 500); `maintenance` takes
//! `http_status` (default 503), `retry_after` (seconds) and `body` (an own
//! HTML page instead of ISDS's maintenance fault);
//! `http` takes `http_status` and `body`; `delay` takes `delay_ms` and then
//! answers normally; `drop` closes the connection without an answer.
//!
//! A condition is `PATH = VALUE` or `PATH != VALUE`: PATH is an element
//! name, optionally with parents (`dmEnvelope/dmAnnotation`), optionally
//! led by `/` or `//` (both mean "anywhere in the request"); VALUE is
//! quoted (`'x'`, `"x"`) or bare. `=` holds when some such element has that
//! text (trimmed); `!=` when none has.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::soap::{Fault, FaultCode};
use crate::xml::Element;

/// The fault rules could not be read; nothing was loaded.
#[derive(Debug, thiserror::Error)]
pub enum FaultRuleError {
    #[error("cannot read fault rules {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// One rule as written in TOML (or JSON through `/admin/faults`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: Option<String>,
    #[serde(default = "any_operation")]
    pub operation: String,
    pub when: Option<String>,
    pub action: String,
    pub times: Option<u64>,
    #[serde(default = "enabled")]
    pub enabled: bool,
    pub code: Option<String>,
    pub message: Option<String>,
    pub fault_code: Option<String>,
    pub fault_string: Option<String>,
    pub http_status: Option<u16>,
    pub body: Option<String>,
    pub retry_after: Option<u32>,
    pub delay_ms: Option<u64>,
}

fn any_operation() -> String {
    "*".to_owned()
}

fn enabled() -> bool {
    true
}

#[derive(Debug, Deserialize)]
struct RulesFile {
    #[serde(default)]
    faults: Vec<toml::Spanned<RuleSpec>>,
}

/// What a matching rule makes the gateway do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// The operation's own response carrying this ISDS status.
    Status { code: String, message: String },
    /// A SOAP fault.
    Fault {
        code: FaultCode,
        reason: String,
        http_status: u16,
    },
    /// ISDS's maintenance answer (503 by default): the SOAP fault ISDS
    /// sends during planned maintenance, or an own HTML page.
    Maintenance {
        http_status: u16,
        retry_after: Option<u32>,
        /// An own HTML page instead of ISDS's fault.
        body: Option<String>,
    },
    /// Any HTTP status with a plain body.
    Http { http_status: u16, body: String },
    /// Wait, then answer normally.
    Delay(Duration),
    /// Close the connection without an answer.
    Drop,
}

/// A condition on the request: some element at `path` has (or no element
/// has) the text `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Element names, outermost first; the last one is the element tested.
    path: Vec<String>,
    value: String,
    negated: bool,
}

/// A checked rule.
#[derive(Debug, Clone)]
pub struct FaultRule {
    pub name: String,
    /// `None`: every operation.
    pub operation: Option<String>,
    pub condition: Option<Condition>,
    pub action: FaultAction,
    pub times: Option<u64>,
    spec: RuleSpec,
}

#[derive(Debug)]
struct RuleState {
    rule: FaultRule,
    enabled: bool,
    /// Calls the rule answered.
    hits: u64,
}

/// The gateway's rules, shared by every request; switchable at run time.
#[derive(Debug, Default)]
pub struct FaultRules {
    rules: Mutex<Vec<RuleState>>,
}

/// The state of one rule, as `/admin/faults` shows it.
#[derive(Debug, Serialize)]
pub struct RuleView {
    pub name: String,
    pub enabled: bool,
    pub hits: u64,
    /// Calls the rule will still answer (`None`: unlimited).
    pub remaining: Option<u64>,
    pub rule: RuleSpec,
}

impl FaultRules {
    pub fn new(rules: Vec<FaultRule>) -> FaultRules {
        FaultRules {
            rules: Mutex::new(
                rules
                    .into_iter()
                    .map(|rule| RuleState {
                        enabled: rule.spec.enabled,
                        rule,
                        hits: 0,
                    })
                    .collect(),
            ),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RuleState>> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The action of the first enabled rule that matches this request, if
    /// any; counts the hit.
    pub fn check(&self, operation: &Element) -> Option<FaultAction> {
        let mut rules = self.lock();
        for state in rules.iter_mut() {
            if !state.enabled {
                continue;
            }
            if state.rule.times.is_some_and(|t| state.hits >= t) {
                continue;
            }
            if state.rule.matches(operation) {
                state.hits += 1;
                return Some(state.rule.action.clone());
            }
        }
        None
    }

    pub fn view(&self) -> Vec<RuleView> {
        self.lock()
            .iter()
            .map(|s| RuleView {
                name: s.rule.name.clone(),
                enabled: s.enabled,
                hits: s.hits,
                remaining: s.rule.times.map(|t| t.saturating_sub(s.hits)),
                rule: s.rule.spec.clone(),
            })
            .collect()
    }

    /// Switches a rule on or off; false when there is no such rule.
    pub fn set_enabled(&self, name: &str, on: bool) -> bool {
        let mut rules = self.lock();
        match rules.iter_mut().find(|s| s.rule.name == name) {
            Some(s) => {
                s.enabled = on;
                true
            }
            None => false,
        }
    }

    /// Sets a rule's hit count back to 0 (its `times` count again).
    pub fn reset(&self, name: &str) -> bool {
        let mut rules = self.lock();
        match rules.iter_mut().find(|s| s.rule.name == name) {
            Some(s) => {
                s.hits = 0;
                true
            }
            None => false,
        }
    }

    /// Adds a rule at the end; refused when its name is taken.
    pub fn add(&self, spec: RuleSpec) -> Result<String, String> {
        let mut rules = self.lock();
        let rule = FaultRule::from_spec(spec, rules.len() + 1)?;
        if rules.iter().any(|s| s.rule.name == rule.name) {
            return Err(format!("a rule named {:?} exists already", rule.name));
        }
        let name = rule.name.clone();
        rules.push(RuleState {
            enabled: rule.spec.enabled,
            rule,
            hits: 0,
        });
        Ok(name)
    }

    /// Removes a rule; false when there is no such rule.
    pub fn remove(&self, name: &str) -> bool {
        let mut rules = self.lock();
        let before = rules.len();
        rules.retain(|s| s.rule.name != name);
        rules.len() != before
    }
}

impl FaultRule {
    fn matches(&self, operation: &Element) -> bool {
        if let Some(op) = &self.operation
            && op != &operation.name
        {
            return false;
        }
        match &self.condition {
            None => true,
            Some(c) => c.holds(operation),
        }
    }

    /// Checks a rule; `n` numbers it for the default name.
    pub fn from_spec(spec: RuleSpec, n: usize) -> Result<FaultRule, String> {
        let name = spec.name.clone().unwrap_or_else(|| format!("rule-{n}"));
        if name.trim().is_empty() {
            return Err("name must not be empty".into());
        }
        let operation = match spec.operation.trim() {
            "" => return Err("operation must not be empty (use \"*\" for every one)".into()),
            "*" => None,
            op if op.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => Some(op.to_owned()),
            op => return Err(format!("operation {op:?} is no operation name")),
        };
        let condition = spec.when.as_deref().map(Condition::parse).transpose()?;
        let status = |default: u16| -> Result<u16, String> {
            let s = spec.http_status.unwrap_or(default);
            if (100..=599).contains(&s) {
                Ok(s)
            } else {
                Err(format!("http_status {s} is no HTTP status"))
            }
        };
        let action = match spec.action.as_str() {
            "status" => {
                let code = spec
                    .code
                    .clone()
                    .ok_or("a status rule needs code (e.g. \"1214\")")?;
                if code.len() != 4 || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("code {code:?} is no four-digit ISDS status code"));
                }
                FaultAction::Status {
                    message: spec
                        .message
                        .clone()
                        .unwrap_or_else(|| format!("Scripted status {code}")),
                    code,
                }
            }
            "fault" => FaultAction::Fault {
                code: match spec.fault_code.as_deref().unwrap_or("Server") {
                    "Server" | "Receiver" => FaultCode::Server,
                    "Client" | "Sender" => FaultCode::Client,
                    other => {
                        return Err(format!(
                            "fault_code {other:?} is neither \"Client\" nor \"Server\""
                        ));
                    }
                },
                reason: spec
                    .fault_string
                    .clone()
                    .unwrap_or_else(|| "Scripted fault".to_owned()),
                http_status: status(500)?,
            },
            "maintenance" => FaultAction::Maintenance {
                http_status: status(503)?,
                retry_after: spec.retry_after,
                body: spec.body.clone(),
            },
            "http" => FaultAction::Http {
                http_status: match spec.http_status {
                    Some(_) => status(0)?,
                    None => return Err("an http rule needs http_status".into()),
                },
                body: spec.body.clone().unwrap_or_default(),
            },
            "delay" => FaultAction::Delay(Duration::from_millis(
                spec.delay_ms.ok_or("a delay rule needs delay_ms")?,
            )),
            "drop" => FaultAction::Drop,
            other => {
                return Err(format!(
                    "unknown action {other:?} (status, fault, maintenance, http, delay, drop)"
                ));
            }
        };
        Ok(FaultRule {
            name,
            operation,
            condition,
            action,
            times: spec.times,
            spec,
        })
    }
}

/// What ISDS answers during planned maintenance, whatever the request: HTTP
/// 503 with `Connection: close` and a SOAP 1.1 fault in its old-style wire
/// form (`xsi:type` on the fault's items, the 1999 schema namespaces),
/// whose `faultcode` names the maintenance (as the real ISDS answer in the
/// interface reference's samples shows). The wording of `faultstring` is
/// the gateway's.
pub const MAINTENANCE_FAULT: &str = "<?xml version='1.0' encoding='UTF-8'?>\n<SOAP-ENV:Envelope\n  xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\"\n  xmlns:xsi=\"http://www.w3.org/1999/XMLSchema-instance\"\n  xmlns:xsd=\"http://www.w3.org/1999/XMLSchema\">\n  <SOAP-ENV:Body>\n    <SOAP-ENV:Fault>\n      <faultcode xsi:type=\"xsd:string\">Probíhá plánovaná údržba</faultcode>\n      <faultstring xsi:type=\"xsd:string\">Systém datových schránek je z důvodu plánované údržby dočasně nedostupný. Zkuste to prosím později.</faultstring>\n    </SOAP-ENV:Fault>\n  </SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n";

impl Condition {
    /// Parses `[/|//]name[/name...] (=|!=) value`.
    pub fn parse(text: &str) -> Result<Condition, String> {
        let bad = |why: &str| format!("condition {text:?}: {why}");
        let (lhs, rhs, negated) = if let Some((l, r)) = text.split_once("!=") {
            (l, r, true)
        } else if let Some((l, r)) = text.split_once('=') {
            (l, r, false)
        } else {
            return Err(bad("expected PATH = VALUE or PATH != VALUE"));
        };
        let lhs = lhs.trim();
        let lhs = lhs.trim_start_matches('/');
        let path: Vec<String> = lhs.split('/').map(|s| s.trim().to_owned()).collect();
        if path.iter().any(|s| {
            s.is_empty()
                || !s
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        }) {
            return Err(bad("the path must be element names separated by /"));
        }
        let rhs = rhs.trim();
        let value = match rhs.chars().next() {
            Some(q @ ('\'' | '"')) => {
                if rhs.len() < 2 || !rhs.ends_with(q) {
                    return Err(bad("unterminated quoted value"));
                }
                rhs[1..rhs.len() - 1].to_owned()
            }
            _ => rhs.to_owned(),
        };
        Ok(Condition {
            path,
            value,
            negated,
        })
    }

    fn holds(&self, root: &Element) -> bool {
        let mut chain: Vec<&str> = Vec::new();
        let found = find(root, &self.path, &self.value, &mut chain);
        found != self.negated
    }
}

fn find<'e>(el: &'e Element, path: &[String], value: &str, chain: &mut Vec<&'e str>) -> bool {
    chain.push(&el.name);
    let hit = chain.len() >= path.len()
        && chain[chain.len() - path.len()..]
            .iter()
            .zip(path)
            .all(|(a, b)| *a == b)
        && el.text_cow().trim() == value;
    let result = hit || el.elements().any(|c| find(c, path, value, chain));
    chain.pop();
    result
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map(|t| t.bytes().filter(|&b| b == b'\n').count() + 1)
        .unwrap_or(1)
}

/// The `[[faults]]` rules of a TOML text (other keys are ignored, so a world
/// fixture can carry them); errors name `origin` and the line.
pub fn parse_rules(text: &str, origin: &str) -> Result<Vec<FaultRule>, FaultRuleError> {
    let file: RulesFile = toml::from_str(text).map_err(|e| FaultRuleError::Invalid {
        origin: origin.to_owned(),
        message: e.to_string(),
    })?;
    let mut rules: Vec<FaultRule> = Vec::new();
    for (i, spanned) in file.faults.into_iter().enumerate() {
        let line = line_of(text, spanned.span().start);
        let invalid = |message: String| FaultRuleError::Invalid {
            origin: format!("{origin}, line {line}"),
            message: format!("fault rule {}: {message}", i + 1),
        };
        let rule = FaultRule::from_spec(spanned.into_inner(), i + 1).map_err(invalid)?;
        if rules.iter().any(|r| r.name == rule.name) {
            return Err(invalid(format!("the name {:?} is used twice", rule.name)));
        }
        rules.push(rule);
    }
    Ok(rules)
}

/// [`parse_rules`] of a file.
pub fn load_rules_file(path: &Path) -> Result<Vec<FaultRule>, FaultRuleError> {
    let text = std::fs::read_to_string(path).map_err(|source| FaultRuleError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_rules(&text, &path.display().to_string())
}

/// A SOAP fault for a `fault` action.
pub fn soap_fault(code: FaultCode, reason: &str, http_status: u16) -> Fault {
    Fault {
        code,
        reason: reason.to_owned(),
        http_status,
    }
}

/// Marks a response that must not be sent: the handler closes the
/// connection instead.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by a fault rule")
    }
}

impl std::error::Error for DropConnection {}

/// The response of a matching rule, or `None` to go on normally (after a
/// delay).
pub(super) async fn apply(
    action: FaultAction,
    version: crate::soap::SoapVersion,
    operation: &str,
) -> Option<super::responses::HttpResponse> {
    use hyper::StatusCode;
    use hyper::header::{self, HeaderValue};

    use super::responses::plain;
    match action {
        FaultAction::Delay(d) => {
            tokio::time::sleep(d).await;
            None
        }
        FaultAction::Status { code, message } => {
            // An element without a generated response (unknown to the
            // schema) gets a server fault that carries the status.
            Some(
                match crate::schema::status_response(operation, &code, &message) {
                    Some(fragment) => {
                        let body = crate::soap::response_envelope(version, &fragment);
                        plain(StatusCode::OK, version.content_type(), body)
                    }
                    None => {
                        let fault = Fault::server(format!("{code}: {message}"));
                        plain(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            version.content_type(),
                            fault.to_envelope(version),
                        )
                    }
                },
            )
        }
        FaultAction::Fault {
            code,
            reason,
            http_status,
        } => {
            let fault = soap_fault(code, &reason, http_status);
            let status =
                StatusCode::from_u16(http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(plain(
                status,
                version.content_type(),
                fault.to_envelope(version),
            ))
        }
        FaultAction::Maintenance {
            http_status,
            retry_after,
            body,
        } => {
            let status =
                StatusCode::from_u16(http_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut resp = match body {
                Some(page) => plain(status, "text/html; charset=utf-8", page),
                None => {
                    let mut resp = plain(
                        status,
                        "text/xml; charset=utf-8",
                        MAINTENANCE_FAULT.to_owned(),
                    );
                    resp.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    resp
                }
            };
            if let Some(secs) = retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            Some(resp)
        }
        FaultAction::Http { http_status, body } => {
            let status =
                StatusCode::from_u16(http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(plain(status, "text/plain; charset=utf-8", body))
        }
        FaultAction::Drop => {
            let mut resp = plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                String::new(),
            );
            resp.extensions_mut().insert(DropConnection);
            Some(resp)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Element {
        Element::new(None, "MessageDownload")
            .with_child(Element::new(None, "dmID").with_text(" 123 "))
            .with_child(
                Element::new(None, "dmEnvelope")
                    .with_child(Element::new(None, "dbIDRecipient").with_text("abc1234")),
            )
    }

    #[test]
    fn conditions() {
        let r = request();
        for (c, expected) in [
            ("dmID=123", true),
            ("dmID = '123'", true),
            ("//dbIDRecipient = 'abc1234'", true),
            ("/dmEnvelope/dbIDRecipient = \"abc1234\"", true),
            ("MessageDownload/dmEnvelope/dbIDRecipient = abc1234", true),
            ("dmID/dbIDRecipient = abc1234", false),
            ("dmID = 124", false),
            ("dmID != 124", true),
            ("dmID != 123", false),
        ] {
            assert_eq!(Condition::parse(c).unwrap().holds(&r), expected, "{c}");
        }
        for bad in ["dmID", "= 1", "a//b = 1", "dmID = 'x", "a b = 1"] {
            assert!(Condition::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_and_switches() {
        let rules = parse_rules(
            "[[faults]]\noperation = \"MessageDownload\"\nwhen = \"dmID=123\"\naction = \"drop\"\ntimes = 2\n",
            "t",
        )
        .unwrap();
        let rules = FaultRules::new(rules);
        let r = request();
        assert_eq!(rules.check(&r), Some(FaultAction::Drop));
        assert_eq!(rules.check(&r), Some(FaultAction::Drop));
        assert_eq!(rules.check(&r), None);
        assert!(rules.reset("rule-1"));
        assert!(rules.set_enabled("rule-1", false));
        assert_eq!(rules.check(&r), None);
        assert!(rules.set_enabled("rule-1", true));
        assert_eq!(rules.check(&r), Some(FaultAction::Drop));
        assert!(!rules.set_enabled("nope", true));
    }

    #[test]
    fn errors_name_the_line() {
        let text = "[boxes]\n\n[[faults]]\naction = \"drop\"\n\n[[faults]]\naction = \"explode\"\n";
        let err = parse_rules(text, "w.toml").unwrap_err().to_string();
        assert!(err.contains("w.toml, line 6"), "{err}");
        assert!(err.contains("explode"), "{err}");
        let err = parse_rules("[[faults]]\nactoin = 1\n", "w.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = parse_rules("[[faults]]\naction = \"status\"\ncode = \"12\"\n", "w.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("four-digit"), "{err}");
    }
}
