//! `--junit PATH`: the batch as a JUnit XML report, for CI test-report views.
//!
//! One `<testsuite name="isc-aggregate batch">` (inside `<testsuites>`), one `<testcase>` per
//! item: `classname` the source as given (name or id), `name` the kind and the file (`direct`
//! for a direct-connect source). An aggregation that failed (ended unsuccessfully, its start
//! refused, its file check failed) has a `<failure>`; an API error, an unknown outcome, a timeout
//! or an aggregation left running by a stop has an `<error>`; an item not started is
//! `<skipped>`. What started is in `<system-out>`.
//!
//! Written by hand (a few elements, one escaping function) rather than with an XML crate: text
//! and attribute values are escaped, and characters XML 1.0 cannot carry are replaced by U+FFFD.

use std::fmt::Write as _;
use std::time::Duration;

use crate::record::{BatchRecord, ItemRecord, Verdict};

/// The report's text.
pub fn render(batch: &BatchRecord) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let refused = !batch.refused.is_empty();
    let tests = if refused { 1 } else { batch.items.len() };
    let errors = if refused {
        1
    } else {
        batch.count(Verdict::Error)
    };
    let counts = format!(
        "tests=\"{tests}\" failures=\"{}\" errors=\"{errors}\" skipped=\"{}\" time=\"{}\"",
        batch.count(Verdict::Failure),
        batch.count(Verdict::Skipped),
        seconds(batch.elapsed),
    );
    let _ = writeln!(out, "<testsuites name=\"isc-aggregate\" {counts}>");
    let _ = writeln!(out, "  <testsuite name=\"isc-aggregate batch\" {counts}>");
    out.push_str("    <properties>\n");
    property(&mut out, "input", &batch.input);
    property(&mut out, "exitCode", &batch.exit_code.to_string());
    if let Some(signal) = batch.signal {
        property(&mut out, "signal", signal);
    }
    out.push_str("    </properties>\n");
    if refused {
        let message = format!("the input was refused; nothing was sent: {}", batch.input);
        let _ = writeln!(
            out,
            "    <testcase classname=\"isc-aggregate batch\" name=\"input\" time=\"0.000\">\n      \
             <error message=\"{}\" type=\"invalid_input\">{}</error>\n    </testcase>",
            attr(&message),
            text(&batch.refused.join("\n")),
        );
    }
    for item in &batch.items {
        testcase(&mut out, item);
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn property(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(
        out,
        "      <property name=\"{}\" value=\"{}\"/>",
        attr(name),
        attr(value)
    );
}

fn testcase(out: &mut String, item: &ItemRecord) {
    let name = format!("{} {}", item.kind, item.file.as_deref().unwrap_or("direct"));
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
        attr(&item.source),
        attr(&name),
        seconds(item.time)
    );
    let element = match item.verdict {
        Verdict::Passed if item.started.is_none() => {
            out.push_str("/>\n");
            return;
        }
        Verdict::Passed => None,
        Verdict::Failure => Some("failure"),
        Verdict::Error => Some("error"),
        Verdict::Skipped => {
            let _ = write!(
                out,
                ">\n      <skipped message=\"{}\"/>",
                attr(&item.detail)
            );
            None
        }
    };
    if item.verdict != Verdict::Skipped {
        out.push('>');
    }
    if let Some(element) = element {
        let _ = write!(
            out,
            "\n      <{element} message=\"{}\" type=\"{}\">{}</{element}>",
            attr(&item.detail),
            attr(&item.outcome),
            text(&body(item))
        );
    }
    if let Some(started) = &item.started {
        let _ = write!(out, "\n      <system-out>{}</system-out>", text(started));
    }
    out.push_str("\n    </testcase>\n");
}

/// A failure's or error's text: everything known about the item, a line each.
fn body(item: &ItemRecord) -> String {
    let mut lines = Vec::new();
    let code = item
        .exit_code
        .map(|c| format!(" (exit {c})"))
        .unwrap_or_default();
    lines.push(format!("outcome: {}{code}", item.outcome));
    let source = match &item.source_id {
        Some(id) if *id != item.source => format!("{id} ({})", item.source),
        Some(id) => id.clone(),
        None => item.source.clone(),
    };
    lines.push(format!("source: {source}"));
    lines.push(format!("kind: {}", item.kind));
    if let Some(file) = &item.file {
        lines.push(format!("file: {file}"));
    }
    if let Some(line) = item.line {
        lines.push(format!("manifest line: {line}"));
    }
    if let Some(id) = &item.aggregation_id {
        lines.push(format!("aggregation: {id}"));
    }
    if let Some(state) = &item.state {
        lines.push(format!("state: {state}"));
    }
    lines.push(format!("error: {}", item.detail));
    if let Some(hint) = &item.hint {
        lines.push(format!("hint: {hint}"));
    }
    if !item.messages.is_empty() {
        lines.push("ISC says:".to_owned());
        lines.extend(item.messages.iter().map(|m| format!("  {m}")));
    }
    if !item.findings.is_empty() {
        lines.push("file check:".to_owned());
        lines.extend(item.findings.iter().map(|f| format!("  {f}")));
    }
    lines.join("\n")
}

fn seconds(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64())
}

/// Text content, escaped.
fn text(value: &str) -> String {
    escape(value, false)
}

/// An attribute value (in double quotes), escaped; line breaks and tabs kept as references.
fn attr(value: &str) -> String {
    escape(value, true)
}

fn escape(value: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// The characters XML 1.0 allows.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use sailpoint_isc::AggregationKind;

    pub(crate) fn item(verdict: Verdict) -> ItemRecord {
        ItemRecord {
            item: 0,
            line: Some(3),
            source: "HR Feed".to_owned(),
            source_id: Some("src-1".to_owned()),
            kind: AggregationKind::Accounts,
            file: Some("exports/hr.csv".to_owned()),
            verdict,
            outcome: "completed".to_owned(),
            exit_code: Some(0),
            aggregation_id: Some("agg-1".to_owned()),
            started: Some("aggregation agg-1 started on source src-1".to_owned()),
            state: Some("COMPLETED".to_owned()),
            counts: Some("300 of 300".to_owned()),
            detail: "completed".to_owned(),
            hint: None,
            messages: Vec::new(),
            findings: Vec::new(),
            time: Duration::from_millis(1500),
        }
    }

    #[test]
    fn escaping() {
        assert_eq!(text("a<b>&c\"'\n"), "a&lt;b&gt;&amp;c\"'\n");
        assert_eq!(
            attr("a<b>&c\"'\n\t\r"),
            "a&lt;b&gt;&amp;c&quot;&apos;&#10;&#9;&#13;"
        );
        assert_eq!(text("bell\u{7}nul\u{0}"), "bell\u{FFFD}nul\u{FFFD}");
        assert_eq!(text("é 😀 \u{FFFE}"), "é 😀 \u{FFFD}");
    }

    #[test]
    fn a_passed_a_failed_an_errored_and_a_skipped_item() {
        let passed = item(Verdict::Passed);
        let mut failed = item(Verdict::Failure);
        failed.item = 1;
        failed.kind = AggregationKind::Entitlements;
        failed.file = None;
        failed.outcome = "aggregation_failed".to_owned();
        failed.exit_code = Some(1);
        failed.state = Some("TERMINATED".to_owned());
        failed.detail = "aggregation agg-1 ended TERMINATED".to_owned();
        failed.messages = vec!["the VA <stopped> & \"died\"".to_owned()];
        let mut errored = item(Verdict::Error);
        errored.outcome = "outcome_unknown".to_owned();
        errored.started = None;
        errored.aggregation_id = None;
        errored.hint = Some("check tasks".to_owned());
        let mut skipped = item(Verdict::Skipped);
        skipped.outcome = "skipped".to_owned();
        skipped.started = None;
        skipped.detail = "not started: the batch was stopped".to_owned();
        let batch = BatchRecord {
            input: "manifest m.toml".to_owned(),
            items: vec![passed, failed, errored, skipped],
            elapsed: Duration::from_millis(12_345),
            exit_code: 5,
            signal: Some("SIGTERM"),
            ..BatchRecord::default()
        };
        let xml = render(&batch);
        let expected = "\
<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<testsuites name=\"isc-aggregate\" tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\" time=\"12.345\">
  <testsuite name=\"isc-aggregate batch\" tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\" time=\"12.345\">
    <properties>
      <property name=\"input\" value=\"manifest m.toml\"/>
      <property name=\"exitCode\" value=\"5\"/>
      <property name=\"signal\" value=\"SIGTERM\"/>
    </properties>
    <testcase classname=\"HR Feed\" name=\"accounts exports/hr.csv\" time=\"1.500\">
      <system-out>aggregation agg-1 started on source src-1</system-out>
    </testcase>
    <testcase classname=\"HR Feed\" name=\"entitlements direct\" time=\"1.500\">
      <failure message=\"aggregation agg-1 ended TERMINATED\" type=\"aggregation_failed\">outcome: aggregation_failed (exit 1)
source: src-1 (HR Feed)
kind: entitlements
manifest line: 3
aggregation: agg-1
state: TERMINATED
error: aggregation agg-1 ended TERMINATED
ISC says:
  the VA &lt;stopped&gt; &amp; \"died\"</failure>
      <system-out>aggregation agg-1 started on source src-1</system-out>
    </testcase>
    <testcase classname=\"HR Feed\" name=\"accounts exports/hr.csv\" time=\"1.500\">
      <error message=\"completed\" type=\"outcome_unknown\">outcome: outcome_unknown (exit 0)
source: src-1 (HR Feed)
kind: accounts
file: exports/hr.csv
manifest line: 3
state: COMPLETED
error: completed
hint: check tasks</error>
    </testcase>
    <testcase classname=\"HR Feed\" name=\"accounts exports/hr.csv\" time=\"1.500\">
      <skipped message=\"not started: the batch was stopped\"/>
    </testcase>
  </testsuite>
</testsuites>
";
        assert_eq!(xml, expected);
    }

    #[test]
    fn a_refused_input_is_one_error() {
        let batch = BatchRecord {
            input: "folder exports".to_owned(),
            exit_code: 2,
            refused: vec!["exports: no file to aggregate".to_owned()],
            ..BatchRecord::default()
        };
        let xml = render(&batch);
        assert!(
            xml.contains("tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\""),
            "{xml}"
        );
        assert!(
            xml.contains(
                "<error message=\"the input was refused; nothing was sent: folder exports\" \
                 type=\"invalid_input\">exports: no file to aggregate</error>"
            ),
            "{xml}"
        );
    }
}
