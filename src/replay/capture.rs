//! Placeholders and captured values.
//!
//! In an expected response, a text or attribute value that is exactly
//! - `{{any}}` (or `{{omitted:…}}`) matches anything (an element holding
//!   only `{{any}}` matches any content, children included);
//! - `{{capture:NAME}}` matches anything and remembers the value as NAME;
//! - `{{NAME}}` must equal the value captured as NAME.
//!
//! In a request, `{{NAME}}` anywhere in the text is replaced by the
//! captured value, and `{{secret:NAME}}` by the secret NAME of the
//! credentials file (`{{secret:dbOldPassword}}` defaults to the login's
//! password).

use std::collections::HashMap;

/// What a placeholder in an expected value asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Pattern<'a> {
    Any,
    Capture(&'a str),
    Use(&'a str),
    Literal(&'a str),
}

/// Classifies an expected value (trimmed).
pub fn pattern(expected: &str) -> Pattern<'_> {
    let t = expected.trim();
    let Some(inner) = t.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) else {
        return Pattern::Literal(t);
    };
    if inner.contains("{{") || inner.contains("}}") {
        return Pattern::Literal(t);
    }
    let inner = inner.trim();
    if inner == "any" || inner.starts_with("omitted:") {
        Pattern::Any
    } else if let Some(name) = inner.strip_prefix("capture:") {
        Pattern::Capture(name.trim())
    } else if is_name(inner) {
        Pattern::Use(inner)
    } else {
        Pattern::Literal(t)
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// Captured values of one replay.
#[derive(Debug, Default, Clone)]
pub struct Vars {
    values: HashMap<String, String>,
}

/// A request placeholder could not be filled.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FillError {
    #[error("{{{{{0}}}}} was never captured (no earlier response had {{{{capture:{0}}}}})")]
    Unknown(String),
    #[error("{{{{secret:{0}}}}} has no value: give it in credentials.toml under [secrets]")]
    Secret(String),
}

impl Vars {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.values.insert(name.to_owned(), value.to_owned());
    }

    /// Replaces every `{{NAME}}` and `{{secret:NAME}}` of a request text.
    pub fn fill(
        &self,
        text: &str,
        secret: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, FillError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                out.push_str(&rest[start..]);
                return Ok(out);
            };
            let inner = after[..end].trim();
            if let Some(name) = inner.strip_prefix("secret:") {
                let name = name.trim();
                let value = secret(name).ok_or_else(|| FillError::Secret(name.to_owned()))?;
                crate::xml::escape_text_into(&mut out, &value);
            } else if is_name(inner) {
                let value = self
                    .get(inner)
                    .ok_or_else(|| FillError::Unknown(inner.to_owned()))?;
                crate::xml::escape_text_into(&mut out, value);
            } else {
                out.push_str(&rest[start..start + 2 + end + 2]);
            }
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert_eq!(pattern(" {{any}} "), Pattern::Any);
        assert_eq!(pattern("{{omitted:12 bytes}}"), Pattern::Any);
        assert_eq!(pattern("{{capture:dmID_1}}"), Pattern::Capture("dmID_1"));
        assert_eq!(pattern("{{dmID_1}}"), Pattern::Use("dmID_1"));
        assert_eq!(pattern("x {{a}}"), Pattern::Literal("x {{a}}"));
        assert_eq!(pattern("{{a b}}"), Pattern::Literal("{{a b}}"));
    }

    #[test]
    fn fills_requests() {
        let mut v = Vars::default();
        v.set("dmID_1", "42");
        let secret = |n: &str| (n == "dbNewPassword").then(|| "a<b".to_owned());
        assert_eq!(
            v.fill(
                "<dmID>{{dmID_1}}</dmID><p>{{secret:dbNewPassword}}</p>",
                &secret
            )
            .unwrap(),
            "<dmID>42</dmID><p>a&lt;b</p>"
        );
        assert_eq!(
            v.fill("{{nope}}", &secret),
            Err(FillError::Unknown("nope".into()))
        );
        assert_eq!(
            v.fill("{{secret:x}}", &secret),
            Err(FillError::Secret("x".into()))
        );
        assert_eq!(v.fill("a {{ b c }} d", &secret).unwrap(), "a {{ b c }} d");
    }
}
