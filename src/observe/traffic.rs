//! Reading kept exchanges: the ISDS status of an answer, the leaf values
//! of a request, and a pretty-printed body with secrets masked.

use quick_xml::events::{BytesText, Event};

use crate::http::record::is_secret_element;

/// What a masked secret is shown as.
pub const MASK: &str = "•••••";
/// Element text longer than this is shown as its length only.
const MAX_SHOWN_TEXT: usize = 2048;

/// The `dmStatusCode` or `dbStatusCode` of a SOAP answer.
pub fn isds_status(body: &[u8]) -> Option<String> {
    // Built once: building a searcher costs more than searching a short
    // answer with it, and every answer is searched.
    static FINDERS: std::sync::LazyLock<[memchr::memmem::Finder<'static>; 2]> =
        std::sync::LazyLock::new(|| {
            [
                memchr::memmem::Finder::new(b"dmStatusCode>"),
                memchr::memmem::Finder::new(b"dbStatusCode>"),
            ]
        });
    for finder in FINDERS.iter() {
        if let Some(at) = finder.find(body) {
            let rest = &body[at + finder.needle().len()..];
            let end = memchr::memchr(b'<', rest)?;
            let code = std::str::from_utf8(&rest[..end]).ok()?.trim();
            if !code.is_empty() && code.len() <= 8 {
                return Some(code.to_owned());
            }
        }
    }
    None
}

/// The leaf elements of a document as (local name, text) in document
/// order; empty for a document that is not well-formed or too large to
/// be worth reading for advice.
pub fn leaves(body: &[u8]) -> Vec<(String, String)> {
    const MAX_READ: usize = 256 * 1024;
    if body.len() > MAX_READ {
        return Vec::new();
    }
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut text = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                stack.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                text.clear();
            }
            Ok(Event::Empty(e)) => {
                out.push((
                    String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    String::new(),
                ));
            }
            Ok(Event::Text(t)) => {
                if let Ok(t) = t.unescape() {
                    text.push_str(&t);
                }
            }
            Ok(Event::End(_)) => {
                if let Some(name) = stack.pop() {
                    out.push((name, std::mem::take(&mut text).trim().to_owned()));
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    out
}

/// The text of the first leaf named `name`.
pub fn leaf<'a>(leaves: &'a [(String, String)], name: &str) -> Option<&'a str> {
    leaves
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// How many elements named `name` a document has (e.g. `dmRecord`).
pub fn count_elements(body: &[u8], name: &str) -> usize {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut n = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e))
                if e.local_name().as_ref() == name.as_bytes() =>
            {
                n += 1
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    n
}

/// Pretty-prints an XML body (2-space indent), masking the text of
/// elements that hold secrets (passwords, OTP codes) and shortening long
/// texts (base64 documents). A body that is not XML is shown as text with
/// nothing secret in it dropped: such bodies come from the gateway's own
/// refusals.
pub fn pretty(body: &[u8]) -> String {
    pretty_xml(body).unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

fn pretty_xml(input: &[u8]) -> Option<String> {
    let mut reader = quick_xml::Reader::from_reader(input);
    let mut writer = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
    let mut stack: Vec<String> = Vec::new();
    let mut any = false;
    loop {
        let event = reader.read_event().ok()?;
        match event {
            Event::Eof => break,
            Event::Start(e) => {
                any = true;
                stack.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                writer.write_event(Event::Start(e)).ok()?;
            }
            Event::End(e) => {
                stack.pop();
                writer.write_event(Event::End(e)).ok()?;
            }
            Event::Empty(e) => {
                any = true;
                writer.write_event(Event::Empty(e)).ok()?
            }
            Event::Text(t) => {
                let text = t.unescape().ok()?;
                if text.trim().is_empty() {
                    continue;
                }
                let local = stack.last().map(String::as_str).unwrap_or("");
                let shown = if is_secret_element(local) {
                    MASK.to_owned()
                } else if text.len() > MAX_SHOWN_TEXT {
                    format!("[{} characters not shown]", text.len())
                } else {
                    text.into_owned()
                };
                writer
                    .write_event(Event::Text(BytesText::new(&shown)))
                    .ok()?;
            }
            Event::CData(c) => {
                let local = stack.last().map(String::as_str).unwrap_or("");
                let shown = if is_secret_element(local) {
                    MASK.to_owned()
                } else {
                    format!("[{} bytes of CDATA]", c.len())
                };
                writer
                    .write_event(Event::Text(BytesText::new(&shown)))
                    .ok()?;
            }
            Event::Decl(d) => writer.write_event(Event::Decl(d)).ok()?,
            Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !any {
        return None;
    }
    String::from_utf8(writer.into_inner()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_leaves_and_masking() {
        let resp = br#"<s:Envelope xmlns:s="urn:s"><s:Body><p:R xmlns:p="urn:i"><p:dmStatus><p:dmStatusCode>1219</p:dmStatusCode></p:dmStatus></p:R></s:Body></s:Envelope>"#;
        assert_eq!(isds_status(resp).as_deref(), Some("1219"));
        let req = br#"<E><ChangeISDSPassword><dbOldPassword>Secret-1</dbOldPassword><x>a &amp; b</x></ChangeISDSPassword></E>"#;
        let shown = pretty(req);
        assert!(!shown.contains("Secret-1"), "{shown}");
        assert!(
            shown.contains(MASK) && shown.contains("a &amp; b"),
            "{shown}"
        );
        let l = leaves(req);
        assert_eq!(leaf(&l, "x"), Some("a & b"));
        assert_eq!(count_elements(resp, "dmStatus"), 1);
    }
}
