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
