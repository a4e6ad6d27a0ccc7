//! Deterministic XML name → Rust identifier mapping.

use std::collections::BTreeSet;

/// `tStatus` → `TStatus`, `Re-signISDSDocument` → `ReSignISDSDocument`,
/// `dm_VoDZ` → `DmVoDZ`: non-alphanumerics are dropped and the character
/// after them (and the first) upper-cased; the rest is kept.
pub fn pascal(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut upper_next = true;
    for c in xml.chars() {
        if c.is_ascii_alphanumeric() {
            if upper_next {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper_next = false;
        } else {
            upper_next = true;
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'X');
    }
    out
}

/// `dmStatusCode` → `dm_status_code`, `dbID` → `db_id`, `PDZType` →
/// `pdz_type`, `dmAttHash1` → `dm_att_hash1`, `ciPDZID` → `ci_pdzid`.
///
/// A word break goes before an upper-case letter that follows a lower-case
/// letter or digit, and before the last upper-case letter of a capital run
/// that is followed by a lower-case letter (`XMLContent` → `xml_content`).
pub fn snake(xml: &str) -> String {
    let chars: Vec<char> = xml.chars().collect();
    let mut out = String::with_capacity(xml.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next = chars.get(i + 1).copied();
            let boundary = prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()));
            if boundary && !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    let out = out.trim_end_matches('_').to_owned();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("x_{out}")
    } else {
        out
    }
}

/// `tDbType` → `T_DB_TYPE`.
pub fn screaming(xml: &str) -> String {
    snake(xml).to_ascii_uppercase()
}

const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// A field identifier: keywords become raw identifiers (`type` →
/// `r#type`); the few that cannot be raw get a trailing underscore.
pub fn field_ident(snake: &str) -> String {
    if matches!(snake, "self" | "super" | "crate" | "_") {
        format!("{snake}_")
    } else if KEYWORDS.contains(&snake) {
        format!("r#{snake}")
    } else {
        snake.to_owned()
    }
}

/// Hands out field names unique within one struct: a clash gets `_2`,
/// `_3`… in schema order.
#[derive(Default)]
pub struct FieldNames {
    used: BTreeSet<String>,
}

impl FieldNames {
    pub fn reserve(&mut self, name: &str) {
        self.used.insert(name.to_owned());
    }

    pub fn unique(&mut self, base: &str) -> String {
        let mut name = base.to_owned();
        let mut n = 2;
        while self.used.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.used.insert(name.clone());
        name
    }
}
