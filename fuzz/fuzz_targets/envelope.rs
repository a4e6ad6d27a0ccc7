//! Arbitrary bytes as a SOAP request envelope: parsing must return `Ok` or
//! an error, never panic, and stay within the limits it is given.
#![no_main]

use isds_gateway::soap::parse_envelope;
use isds_gateway::xml::ParseLimits;
use libfuzzer_sys::fuzz_target;

/// Small limits, so that the fuzzer reaches every limit check quickly.
const LIMITS: ParseLimits = ParseLimits {
    max_bytes: 64 * 1024,
    max_depth: 16,
    max_attributes: 8,
    max_elements: 512,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = parse_envelope(data, &LIMITS) {
        // The body is a single element taken from a document that met the
        // limits, so it meets them too.
        assert!(depth(&envelope.body) <= LIMITS.max_depth);
        assert!(envelope.body.attrs.len() <= LIMITS.max_attributes);
    }
});

fn depth(el: &isds_gateway::xml::Element) -> usize {
    1 + el.elements().map(depth).max().unwrap_or(0)
}
