//! Helpers of the message tests: documents, base64, request bodies, calls
//! checked against the schemas, and walking response elements.

use base64::Engine;
use isds_gateway::xml::Element;

use super::{ISDS_NS, SoapResponse, TestGateway, Xsd, assert_valid, op};

/// A small PDF-like document holding every byte value.
pub fn pdf_bytes() -> Vec<u8> {
    let mut b = b"%PDF-1.4\n".to_vec();
    b.extend(0u8..=255);
    b.extend_from_slice(b"\n%%EOF\n");
    b
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes base64 text, ignoring whitespace (line breaks).
pub fn unb64(text: &str) -> Vec<u8> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .expect("base64")
}

/// `<op><dmID>id</dmID></op>`.
pub fn id_body(op: &str, id: &str) -> String {
    format!(r#"<{op} xmlns="{ISDS_NS}"><dmID>{id}</dmID></{op}>"#)
}

/// Calls and checks the HTTP status and the response against the schemas.
pub async fn call(t: &TestGateway, login: (&str, &str), path: &str, body: &str) -> SoapResponse {
    let resp = t.soap_as(login, path, body).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_valid(&resp.body_xml(), Xsd::Dm);
    resp
}

/// The child element `name` of `el` (panics naming both if missing).
pub fn child<'a>(el: &'a Element, name: &str) -> &'a Element {
    el.elements()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no {name} in {}", el.name))
}

/// The element at `path` below `el`.
pub fn find<'a>(el: &'a Element, path: &[&str]) -> &'a Element {
    path.iter().fold(el, |e, name| child(e, name))
}

/// The text of the element at `path` below `el`.
pub fn text_of(el: &Element, path: &[&str]) -> String {
    find(el, path).text()
}

/// The XML document (`dmXMLContent`) of [`create_body`]'s messages.
pub const XML_DOC: &str = r#"<faktura xmlns="urn:example:faktura" verze="1"><cislo>2026-001</cislo><castka mena="CZK">1250.50</castka><poznamka>Příliš žluťoučký kůň &amp; spol.</poznamka></faktura>"#;

/// A CreateMessage body to `recipient` with a PDF (main) and an XML
/// document (enclosure).
pub fn create_body(recipient: &str, annotation: &str, personal: bool) -> String {
    format!(
        r#"<CreateMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>{recipient}</dbIDRecipient><dmAnnotation>{annotation}</dmAnnotation><dmPersonalDelivery>{personal}</dmPersonalDelivery></dmEnvelope><dmFiles><dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="vyzva.pdf"><dmEncodedContent>{pdf}</dmEncodedContent></dmFile><dmFile dmMimeType="application/xml" dmFileMetaType="enclosure" dmFileDescr="faktura.xml"><dmXMLContent>{XML_DOC}</dmXMLContent></dmFile></dmFiles></CreateMessage>"#,
        pdf = b64(&pdf_bytes()),
    )
}

/// Sends [`create_body`]'s message on `/DS/dz` and returns its ID.
pub async fn send_message(
    t: &TestGateway,
    from: (&str, &str),
    to: &str,
    annotation: &str,
    personal: bool,
) -> String {
    let resp = call(t, from, "/DS/dz", &create_body(to, annotation, personal)).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    text_of(&resp.body(), &["dmID"])
}

/// GetListOfSentMessages or GetListOfReceivedMessages of every message:
/// no time window, org unit or paging, all states.
pub fn list(name: &str) -> String {
    let unit = if name == "GetListOfSentMessages" {
        "dmSenderOrgUnitNum"
    } else {
        "dmRecipientOrgUnitNum"
    };
    op(
        name,
        &format!(
            r#"<dmFromTime xsi:nil="true"/><dmToTime xsi:nil="true"/><{unit} xsi:nil="true"/><dmStatusFilter>-1</dmStatusFilter><dmOffset xsi:nil="true"/><dmLimit xsi:nil="true"/>"#
        ),
    )
}

/// Every element named `name` below `e`, in document order.
pub fn descendants<'e>(e: &'e Element, name: &str, out: &mut Vec<&'e Element>) {
    for c in e.elements() {
        if c.name == name {
            out.push(c);
        }
        descendants(c, name, out);
    }
}

/// The texts of every element named `name` below `e`.
pub fn texts(e: &Element, name: &str) -> Vec<String> {
    let mut v = Vec::new();
    descendants(e, name, &mut v);
    v.into_iter().map(|e| e.text()).collect()
}

/// Lists `login`'s received messages: the one call that delivers them
/// (messages manual 1.8.1), before which they cannot be read (1222).
pub async fn deliver(t: &TestGateway, login: (&str, &str)) {
    let resp = call(t, login, "/DS/dx", &list("GetListOfReceivedMessages")).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
}
