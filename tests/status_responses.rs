//! Every operation's status-only response (used when a call is refused
//! before it runs, e.g. by the request limits) validates against the
//! project's and the official schema.

mod common;

use common::*;
use isds_gateway::schema::{OPERATIONS, WsdlFamily, status_response};

#[test]
fn status_only_responses_validate_for_every_operation() {
    let mut checked = 0;
    for op in OPERATIONS {
        let Some(xml) = status_response(op.input, "3009", "Příliš mnoho požadavků.") else {
            continue;
        };
        // `<p:Name ` or `<q:Name `: prefixed as ISDS writes it.
        let tag = xml[1..].split(' ').next().unwrap_or_default();
        assert_eq!(tag.rsplit(':').next(), Some(op.output), "{xml}");
        assert!(tag.contains(':'), "{xml}");
        let xsd = match op.family {
            WsdlFamily::DbSearch | WsdlFamily::DbAccess | WsdlFamily::DbManipulations => Xsd::Db,
            WsdlFamily::IsdsStat => continue, // its own schema, IsdsStat.xsd
            _ => Xsd::Dm,
        };
        assert_valid(&xml, xsd);
        checked += 1;
    }
    // Nearly every operation carries a top-level status block.
    assert!(checked >= 70, "only {checked} operations checked");
}
