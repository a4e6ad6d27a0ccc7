//! Structural comparison of XML documents: namespace-aware, blind to
//! prefixes, to whitespace around text and between elements, and to
//! attribute order; placeholders of [`super::capture`] in the expected
//! document.

use super::capture::{Pattern, Vars, pattern};
use crate::xml::Element;

/// One difference, at an element path like
/// `/Envelope/Body/MessageDownloadResponse/dmStatus/dmStatusCode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub path: String,
    pub expected: String,
    pub actual: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "at {}\n      expected: {}\n      actual:   {}",
            self.path, self.expected, self.actual
        )
    }
}

/// Compares, capturing values into `vars`; empty when equal.
pub fn compare(expected: &Element, actual: &Element, vars: &mut Vars) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let path = format!("/{}", expected.name);
    if expected.name != actual.name || expected.ns != actual.ns {
        out.push(Mismatch {
            path,
            expected: describe(expected),
            actual: describe(actual),
        });
        return out;
    }
    element(expected, actual, &path, vars, &mut out);
    out
}

fn describe(e: &Element) -> String {
    match &e.ns {
        Some(ns) => format!("element {{{ns}}}{}", e.name),
        None => format!("element {}", e.name),
    }
}

fn quoted(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() > MAX {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{:?}… ({} bytes)", &s[..end], s.len())
    } else {
        format!("{s:?}")
    }
}

/// `@name`, `@xsi:name` or `@{namespace}name`.
fn attr_name(a: &crate::xml::Attribute) -> String {
    match a.ns.as_deref() {
        None => format!("@{}", a.name),
        Some(crate::xml::XSI_NS) => format!("@xsi:{}", a.name),
        Some(ns) => format!("@{{{ns}}}{}", a.name),
    }
}

/// Does `actual` satisfy the expected value? Captures as a side effect.
fn value_matches(expected: &str, actual: &str, vars: &mut Vars) -> Result<(), String> {
    let actual = actual.trim();
    match pattern(expected) {
        Pattern::Any => Ok(()),
        Pattern::Capture(name) => {
            vars.set(name, actual);
            Ok(())
        }
        Pattern::Use(name) => match vars.get(name) {
            Some(v) if v == actual => Ok(()),
            Some(v) => Err(format!("{} (the value captured as {name})", quoted(v))),
            None => Err(format!("{{{{{name}}}}}, which was never captured")),
        },
        Pattern::Literal(lit) if lit == actual => Ok(()),
        Pattern::Literal(lit) => Err(quoted(lit)),
    }
}

fn element(
    expected: &Element,
    actual: &Element,
    path: &str,
    vars: &mut Vars,
    out: &mut Vec<Mismatch>,
) {
    // Attributes, in any order.
    for a in &expected.attrs {
        let name = attr_name(a);
        match actual
            .attrs
            .iter()
            .find(|b| b.ns == a.ns && b.name == a.name)
        {
            Some(b) => {
                if let Err(exp) = value_matches(&a.value, &b.value, vars) {
                    out.push(Mismatch {
                        path: format!("{path}/{name}"),
                        expected: exp,
                        actual: quoted(&b.value),
                    });
                }
            }
            None => out.push(Mismatch {
                path: format!("{path}/{name}"),
                expected: quoted(&a.value),
                actual: "no such attribute".into(),
            }),
        }
    }
    for b in &actual.attrs {
        if !expected
            .attrs
            .iter()
            .any(|a| a.ns == b.ns && a.name == b.name)
        {
            out.push(Mismatch {
                path: format!("{path}/{}", attr_name(b)),
                expected: "no such attribute".into(),
                actual: quoted(&b.value),
            });
        }
    }

    let exp_children: Vec<&Element> = expected.elements().collect();
    let act_children: Vec<&Element> = actual.elements().collect();
    let exp_text = expected.text_cow();
    if exp_children.is_empty() && pattern(&exp_text) == Pattern::Any {
        return;
    }
    let act_text = actual.text_cow();
    if (!exp_text.trim().is_empty() || !act_text.trim().is_empty())
        && let Err(exp) = value_matches(&exp_text, &act_text, vars)
    {
        out.push(Mismatch {
            path: path.to_owned(),
            expected: exp,
            actual: quoted(act_text.trim()),
        });
    }

    let name_of = |list: &[&Element], i: usize| -> String {
        let e = list[i];
        let same = list.iter().filter(|c| c.name == e.name).count();
        if same > 1 {
            let nth = list[..=i].iter().filter(|c| c.name == e.name).count();
            format!("{path}/{}[{nth}]", e.name)
        } else {
            format!("{path}/{}", e.name)
        }
    };
    for i in 0..exp_children.len().max(act_children.len()) {
        match (exp_children.get(i), act_children.get(i)) {
            (Some(e), Some(a)) if e.name == a.name && e.ns == a.ns => {
                element(e, a, &name_of(&exp_children, i), vars, out);
            }
            (Some(e), Some(a)) => {
                out.push(Mismatch {
                    path: name_of(&exp_children, i),
                    expected: describe(e),
                    actual: describe(a),
                });
            }
            (Some(e), None) => out.push(Mismatch {
                path: name_of(&exp_children, i),
                expected: describe(e),
                actual: "missing".into(),
            }),
            (None, Some(a)) => out.push(Mismatch {
                path: name_of(&act_children, i),
                expected: "nothing".into(),
                actual: format!("unexpected {}", describe(a)),
            }),
            (None, None) => {}
        }
    }
}

/// Compares plain-text answers (trimmed; `{{any}}` matches anything).
pub fn compare_text(expected: &str, actual: &str, vars: &mut Vars) -> Vec<Mismatch> {
    match value_matches(expected, actual, vars) {
        Ok(()) => Vec::new(),
        Err(exp) => vec![Mismatch {
            path: "(body)".into(),
            expected: exp,
            actual: quoted(actual.trim()),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{ParseLimits, parse};

    fn doc(s: &str) -> Element {
        parse(s.as_bytes(), &ParseLimits::default()).unwrap()
    }

    #[test]
    fn prefixes_and_whitespace_do_not_matter() {
        let a = doc(r#"<a:R xmlns:a="urn:x"><a:s> 1 </a:s><a:t k="v" j="w"/></a:R>"#);
        let b = doc("<R xmlns=\"urn:x\">\n  <s>1</s>\n  <t j=\"w\" k=\"v\"></t>\n</R>");
        assert!(compare(&a, &b, &mut Vars::default()).is_empty());
    }

    #[test]
    fn differences_name_the_element() {
        let a = doc(r#"<R xmlns="urn:x"><st><code>0000</code></st><x/><x><y>1</y></x></R>"#);
        let b = doc(r#"<R xmlns="urn:x"><st><code>1214</code></st><x/><x><y>2</y></x><z/></R>"#);
        let m = compare(&a, &b, &mut Vars::default());
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(m[0].path, "/R/st/code");
        assert_eq!(m[0].expected, "\"0000\"");
        assert_eq!(m[0].actual, "\"1214\"");
        assert_eq!(m[1].path, "/R/x[2]/y");
        assert_eq!(m[2].path, "/R/z");
        let other_ns = doc(r#"<R xmlns="urn:y"/>"#);
        assert_eq!(compare(&a, &other_ns, &mut Vars::default()).len(), 1);
    }

    #[test]
    fn placeholders_capture_and_check() {
        let mut vars = Vars::default();
        let a = doc("<R><id>{{capture:id}}</id><t>{{any}}</t><u>{{any}}</u></R>");
        let b = doc("<R><id>77</id><t>2026</t><u><deep/></u></R>");
        assert!(compare(&a, &b, &mut vars).is_empty());
        assert_eq!(vars.get("id"), Some("77"));
        let a = doc("<R><id>{{id}}</id></R>");
        assert!(compare(&a, &doc("<R><id>77</id></R>"), &mut vars).is_empty());
        let m = compare(&a, &doc("<R><id>78</id></R>"), &mut vars);
        assert_eq!(m.len(), 1);
        assert!(
            m[0].expected.contains("captured as id"),
            "{}",
            m[0].expected
        );
    }
}
