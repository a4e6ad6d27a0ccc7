//! Arbitrary bytes as an ISDS request: envelope, then the generated schema
//! types. Never panics; and every request that parses
//! - writes back to XML that the parser accepts and that parses to the same
//!   request (the generated readers and writers agree), and
//! - has a status-only response (as sent for refusals) that is well-formed
//!   and carries the status given.
//!
//! With `ISDS_FUZZ_WRITE_SEEDS=DIR` set, it first writes one envelope per
//! operation into DIR: the request with every field at its default, a
//! skeleton the fuzzer can fill in (fuzz/run.sh does this).
#![no_main]

use isds_gateway::schema::{ISDS_NS, OPERATIONS, Request, parse_request, status_response};
use isds_gateway::soap::parse_envelope;
use isds_gateway::soap::{SoapVersion, response_envelope};
use isds_gateway::xml::{self, ParseLimits};
use libfuzzer_sys::fuzz_target;

const LIMITS: ParseLimits = ParseLimits {
    max_bytes: 64 * 1024,
    max_depth: 16,
    max_attributes: 8,
    max_elements: 512,
};

fn write_seeds(dir: &std::path::Path) {
    for op in OPERATIONS {
        if let Some(request) = Request::default_for(op.input) {
            let envelope = response_envelope(SoapVersion::V11, &request.to_fragment());
            let path = dir.join(format!("{}.xml", op.input));
            if let Err(e) = std::fs::write(&path, envelope) {
                panic!("cannot write {}: {e}", path.display());
            }
        }
    }
}

fuzz_target!(init: {
    if let Some(dir) = std::env::var_os("ISDS_FUZZ_WRITE_SEEDS") {
        write_seeds(std::path::Path::new(&dir));
    }
}, |data: &[u8]| {
    let Ok(envelope) = parse_envelope(data, &LIMITS) else {
        return;
    };
    let Ok(request) = parse_request(&envelope.body) else {
        return;
    };
    let op = request.operation();

    // What the generated writer makes of a request, the generated reader
    // reads back as the same request. (Written documents are not bound by
    // the request limits: a default namespace or `xsi:nil` may be added.)
    let written = request.to_fragment();
    let reparsed = match xml::parse(written.as_bytes(), &ParseLimits::default()) {
        Ok(el) => el,
        Err(e) => panic!("written {} is not XML: {e}\n{written}", op.input),
    };
    match parse_request(&reparsed) {
        Ok(again) => assert_eq!(again, request, "{} changed in a round trip", op.input),
        Err(e) => panic!("written {} does not parse back: {e}\n{written}", op.input),
    }

    // The status-only response the gateway sends when it refuses the call.
    if let Some(response) = status_response(op.input, "1234", "a <b> & \"c\"") {
        match xml::parse(response.as_bytes(), &ParseLimits::default()) {
            Ok(el) => {
                assert!(el.is(ISDS_NS, op.output), "{response}");
                assert!(response.contains("1234"), "{response}");
            }
            Err(e) => panic!(
                "status response of {} is not XML: {e}\n{response}",
                op.input
            ),
        }
    }
});
