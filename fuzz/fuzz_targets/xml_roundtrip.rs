//! Arbitrary bytes through the XML parser, and, when they are accepted,
//! through the writer and the parser again: the re-parsed tree must equal
//! the first one (namespace URIs, local names, attributes in order, text).
//! So whatever the gateway echoes from a request (`xs:any` content, body
//! elements) keeps its meaning when written out.
#![no_main]

use isds_gateway::xml::{self, ParseLimits, XmlWriter};
use libfuzzer_sys::fuzz_target;

const LIMITS: ParseLimits = ParseLimits {
    max_bytes: 64 * 1024,
    max_depth: 16,
    max_attributes: 8,
    max_elements: 512,
};

fuzz_target!(|data: &[u8]| {
    let Ok(first) = xml::parse(data, &LIMITS) else {
        return;
    };
    let mut w = XmlWriter::new();
    w.raw_element(&first);
    let written = w.into_string();
    // The written form may declare more namespaces than the input did, so
    // it is read back without the attribute limit.
    let second = match xml::parse(written.as_bytes(), &ParseLimits::default()) {
        Ok(el) => el,
        Err(e) => panic!("the writer's output is refused: {e}\nwritten: {written}"),
    };
    assert_eq!(
        first, second,
        "round trip changed the tree\nwritten: {written}"
    );
});
