//! Every status code the gateway can answer is a row of the operator's
//! official table of status codes (`manuals/ciselnik_chyb_7_2023.txt` in
//! the ISDS reference), with the same text, placeholders aside.
//!
//! The table is read from `../shared/isds-reference`; the test fails
//! loudly when it is missing.

use std::collections::HashMap;
use std::path::PathBuf;

use isds_gateway::status::{IsdsCode, IsdsStatus};

fn table_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/isds-reference/manuals/ciselnik_chyb_7_2023.txt")
}

/// The table's texts by code: the main sheet's rows (`NNNN | "text" | …`,
/// `dtto` rows adding a text to the code above) and the texts of sheet
/// 1214 (attachment checks).
fn table() -> HashMap<String, Vec<String>> {
    let path = table_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the official table of status codes is missing at {}: {e}; \
             the ISDS reference must be checked out beside the repository",
            path.display()
        )
    });
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    let mut last = String::new();
    let mut sheet_1214 = false;
    for line in text.lines() {
        if line.starts_with("## sheet") {
            sheet_1214 = line.trim() == "## sheet 1214";
            continue;
        }
        let mut cols = line.split(" | ");
        let (Some(first), Some(second)) = (cols.next(), cols.next()) else {
            continue;
        };
        let first = first.trim();
        let code = if sheet_1214 {
            "1214".to_owned()
        } else if first == "dtto" {
            last.clone()
        } else if first.len() == 4 && first.bytes().all(|b| b.is_ascii_digit()) {
            first.to_owned()
        } else {
            continue;
        };
        last = code.clone();
        out.entry(code).or_default().push(second.to_owned());
    }
    assert!(
        out.len() > 300,
        "the table at {} has only {} codes; is it the right file?",
        path.display(),
        out.len()
    );
    out
}

/// A text with its placeholders (`<…>`, `…`, `...`) each replaced by one
/// marker, quotes and surrounding blanks removed, blanks collapsed; with
/// optional `[…]` parts once kept (brackets dropped) and once left out.
fn normalised(text: &str) -> Vec<String> {
    let mut t = text.trim().to_owned();
    // The table quotes texts with straight or Czech quotes, sometimes
    // with the placeholder outside them (`"Chybně zadaný parametr" <x>`).
    t = t.replace(['"', '„', '“'], "");
    let with = t.replace(['[', ']'], "");
    let without = {
        let mut s = String::new();
        let mut depth = 0;
        for c in t.chars() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                _ if depth == 0 => s.push(c),
                _ => {}
            }
        }
        s
    };
    [with, without]
        .into_iter()
        .map(|s| {
            let mut out = String::new();
            let mut rest = s.replace("...", "…").replace('…', "<>");
            while let Some(start) = rest.find('<') {
                let Some(len) = rest[start..].find('>') else {
                    break;
                };
                out.push_str(&rest[..start]);
                out.push('\u{1}');
                rest = rest[start + len + 1..].to_owned();
            }
            out.push_str(&rest);
            let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
            collapsed.trim_end_matches([' ', '.']).to_owned()
        })
        .collect()
}

#[test]
fn every_code_is_in_the_official_table_with_its_text() {
    let table = table();
    let mut wrong = Vec::new();
    for &code in IsdsCode::ALL {
        let Some(texts) = table.get(code.code()) else {
            wrong.push(format!("{code:?}: {} is not in the table", code.code()));
            continue;
        };
        let ours = normalised(code.message());
        let matches = texts
            .iter()
            .flat_map(|t| normalised(t))
            .any(|theirs| ours.contains(&theirs));
        if !matches {
            wrong.push(format!(
                "{code:?} ({}): {:?} is none of the table's texts {texts:?}",
                code.code(),
                code.message()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_comparison_tells_texts_apart() {
    // The gateway's old, invented texts are not the table's: the check
    // above can fail.
    let table = table();
    let matches = |code: &str, text: &str| {
        let ours = normalised(text);
        table[code]
            .iter()
            .flat_map(|t| normalised(t))
            .any(|theirs| ours.contains(&theirs))
    };
    assert!(matches("1219", "Zpráva <dmID> není v databázi."));
    assert!(!matches("1219", "Zpráva neexistuje nebo již byla smazána."));
    assert!(!matches("0002", "Nebyl nalezen žádný záznam."));
    assert!(!table.contains_key("9502"));
}

#[test]
fn filled_texts_still_match_the_table() {
    // A filled text keeps the table's words around the values.
    let table = table();
    let filled = IsdsStatus::fill(IsdsCode::OwnMessageNotFound, &["123", "abc1234"]);
    assert_eq!(filled.code.code(), "1219");
    assert!(
        table["1219"]
            .iter()
            .any(|t| t.contains("pro/od") && filled.message.contains("pro/od"))
    );
    let filled = IsdsStatus::fill(IsdsCode::NoRightToViewInfo, &["user01", "1"]);
    assert_eq!(
        filled.message,
        "Nemáte oprávnění vidět údaje o zprávách (uživatel user01, práva 1)."
    );
}
