//! The seed inputs of the fuzz targets (`fuzz/seeds/`) stay meaningful as
//! the schema evolves, and the properties the targets check hold for them,
//! so a plain `cargo test` covers them even where the fuzzer cannot run.

use std::fs;
use std::path::{Path, PathBuf};

use isds_gateway::schema::{ISDS_NS, OPERATIONS, Request, parse_request, status_response};
use isds_gateway::soap::{SoapError, parse_envelope};
use isds_gateway::xml::{self, ParseLimits, XmlError, XmlWriter};

/// The limits the fuzz targets use.
const LIMITS: ParseLimits = ParseLimits {
    max_bytes: 64 * 1024,
    max_depth: 16,
    max_attributes: 8,
    max_elements: 512,
};

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
}

#[test]
fn request_seeds_are_valid_requests_that_round_trip() {
    for (path, bytes) in seeds("request") {
        let envelope =
            parse_envelope(&bytes, &LIMITS).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let request =
            parse_request(&envelope.body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let written = request.to_fragment();
        let reparsed = xml::parse(written.as_bytes(), &ParseLimits::default()).unwrap();
        assert_eq!(parse_request(&reparsed).unwrap(), request, "{written}");
        let op = request.operation();
        if let Some(response) = status_response(op.input, "1234", "a <b> & \"c\"") {
            let el = xml::parse(response.as_bytes(), &ParseLimits::default()).unwrap();
            assert!(el.is(ISDS_NS, op.output), "{response}");
        }
    }
}

#[test]
fn hostile_envelope_seeds_are_refused_for_the_right_reason() {
    for (path, bytes) in seeds("envelope") {
        let name = path.file_name().unwrap().to_str().unwrap();
        let result = parse_envelope(&bytes, &LIMITS);
        let ok = match name {
            "soap11-header-cdata.xml" | "windows-1250.xml" => result.is_ok(),
            "doctype-entities.xml" | "doctype-external.xml" => {
                matches!(result, Err(SoapError::Xml(XmlError::Doctype)))
            }
            "deep-nesting.xml" => matches!(result, Err(SoapError::Xml(XmlError::TooDeep { .. }))),
            "many-attributes.xml" => matches!(
                result,
                Err(SoapError::Xml(XmlError::TooManyAttributes { .. }))
            ),
            "processing-instruction.xml" => matches!(
                result,
                Err(SoapError::Xml(XmlError::ProcessingInstruction { .. }))
            ),
            "soap12-must-understand.xml" => matches!(result, Err(SoapError::MustUnderstand(_))),
            "bom-two-body-children.xml" => {
                matches!(result, Err(SoapError::SeveralBodyElements(2)))
            }
            "wrong-namespace.xml" => matches!(result, Err(SoapError::VersionMismatch(_))),
            other => panic!("seed {other} has no expectation here"),
        };
        assert!(ok, "{name}: {result:?}");
    }
}

#[test]
fn xml_seeds_round_trip_through_the_writer() {
    for (path, bytes) in seeds("xml_roundtrip") {
        let first =
            xml::parse(&bytes, &LIMITS).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut w = XmlWriter::new();
        w.raw_element(&first);
        let second = xml::parse(w.as_str().as_bytes(), &ParseLimits::default()).unwrap();
        assert_eq!(first, second, "{}", w.as_str());
    }
}

#[test]
fn every_operation_has_a_request_skeleton() {
    for op in OPERATIONS {
        let request = Request::default_for(op.input)
            .unwrap_or_else(|| panic!("no skeleton for {}", op.input));
        assert_eq!(request.operation(), op);
        let written = request.to_fragment();
        let el = xml::parse(written.as_bytes(), &ParseLimits::default())
            .unwrap_or_else(|e| panic!("{}: {e}\n{written}", op.input));
        assert!(el.is(ISDS_NS, op.input), "{written}");
    }
    assert!(Request::default_for("NoSuchOperation").is_none());
}
