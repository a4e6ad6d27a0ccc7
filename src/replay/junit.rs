//! A JUnit XML report of a replay (one test case per exchange), for CI
//! systems that show such reports.

use super::Report;
use crate::xml::XmlWriter;

/// The report as a JUnit `<testsuite>` document.
pub fn render(report: &Report) -> String {
    let failures = report
        .results
        .iter()
        .filter(|r| r.error.is_none() && !r.mismatches.is_empty())
        .count();
    let errors = report.results.iter().filter(|r| r.error.is_some()).count();
    let total: f64 = report.results.iter().map(|r| r.seconds).sum();
    let mut w = XmlWriter::new();
    w.declaration();
    w.pending_attr("name", &report.name);
    w.pending_attr("tests", &report.results.len().to_string());
    w.pending_attr("failures", &failures.to_string());
    w.pending_attr("errors", &errors.to_string());
    w.pending_attr("time", &format!("{total:.3}"));
    w.start("testsuite");
    for r in &report.results {
        w.pending_attr("classname", &format!("replay.{}", report.name));
        w.pending_attr("name", &r.title());
        w.pending_attr("time", &format!("{:.3}", r.seconds));
        w.start("testcase");
        if let Some(err) = &r.error {
            w.pending_attr("message", err);
            w.start("error");
            w.text(err);
            w.end("error");
        } else if !r.mismatches.is_empty() {
            w.pending_attr(
                "message",
                &format!(
                    "{} difference(s) from the recorded response",
                    r.mismatches.len()
                ),
            );
            w.start("failure");
            let text: Vec<String> = r.mismatches.iter().map(|m| m.to_string()).collect();
            w.text(&text.join("\n"));
            w.end("failure");
        }
        w.end("testcase");
    }
    w.end("testsuite");
    let mut s = w.into_string();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::ExchangeResult;
    use crate::replay::compare::Mismatch;
    use crate::xml::{ParseLimits, parse};

    #[test]
    fn one_test_case_per_exchange_with_failures_and_errors() {
        let result = |number, mismatches: Vec<Mismatch>, error: Option<&str>| ExchangeResult {
            number,
            operation: "MessageDownload".into(),
            endpoint: "/DS/dz".into(),
            login: None,
            mismatches,
            error: error.map(str::to_owned),
            seconds: 0.25,
        };
        let report = Report {
            name: "a<b".into(),
            target: "x".into(),
            results: vec![
                result(1, vec![], None),
                result(
                    2,
                    vec![Mismatch {
                        path: "/Envelope/Body/R/dmAnnotation".into(),
                        expected: "\"a & b\"".into(),
                        actual: "\"c\"".into(),
                    }],
                    None,
                ),
                result(3, vec![], Some("cannot connect")),
            ],
        };
        let xml = render(&report);
        let root = parse(xml.as_bytes(), &ParseLimits::default()).unwrap();
        assert_eq!(root.name, "testsuite");
        assert_eq!(root.attr("name"), Some("a<b"));
        assert_eq!(root.attr("tests"), Some("3"));
        assert_eq!(root.attr("failures"), Some("1"));
        assert_eq!(root.attr("errors"), Some("1"));
        let cases: Vec<_> = root.elements().collect();
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[1].attr("name"), Some("0002 MessageDownload"));
        let failure = cases[1].first_element().unwrap();
        assert_eq!(failure.name, "failure");
        assert!(failure.text().contains("dmAnnotation"));
        assert!(failure.text().contains("\"a & b\""));
        assert_eq!(cases[2].first_element().unwrap().name, "error");
    }
}
