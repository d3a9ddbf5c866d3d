//! `--summary-markdown PATH`: the batch as a Markdown table and a totals line, appended to the
//! file (GitHub Actions shows `$GITHUB_STEP_SUMMARY` on the run's page).
//!
//! Cell text is escaped: Markdown punctuation gets a backslash (a `|` would end the cell), line
//! breaks become `<br>`.

use std::fmt::Write as _;

use crate::record::{BatchRecord, ItemRecord, Verdict};

/// Findings shown per item; the JUnit report has them all.
const FINDINGS_SHOWN: usize = 5;

/// The Markdown text (ends with a blank line, so that appended summaries stay apart).
pub fn render(batch: &BatchRecord) -> String {
    let mut out = String::new();
    let input = cell(&batch.input);
    if !batch.refused.is_empty() {
        let _ = writeln!(
            out,
            "### isc-aggregate batch: {input} was refused; nothing was sent\n"
        );
        for problem in &batch.refused {
            let _ = writeln!(out, "- {}", cell(problem));
        }
        let _ = writeln!(out, "\n**Exit code {}.**", batch.exit_code);
        unmatched(&mut out, batch);
        out.push('\n');
        return out;
    }
    let completed = batch.count(Verdict::Passed);
    let total = batch.items.len();
    let _ = writeln!(
        out,
        "### isc-aggregate batch: {completed} of {total} completed ({input})\n"
    );
    out.push_str(
        "| # | Source | Kind | File | Outcome | Aggregation | Counts | Messages |\n\
         |---:|---|---|---|---|---|---|---|\n",
    );
    for item in &batch.items {
        row(&mut out, item);
    }
    // Totals: completed first, then the other outcomes by how many, in first-seen order.
    let mut outcomes: Vec<(&str, usize)> = Vec::new();
    for item in &batch.items {
        match outcomes.iter_mut().find(|(o, _)| *o == item.outcome) {
            Some((_, n)) => *n += 1,
            None => outcomes.push((&item.outcome, 1)),
        }
    }
    let others: Vec<String> = outcomes
        .iter()
        .filter(|(o, _)| *o != "completed")
        .map(|(o, n)| format!("{n} {}", o.replace('_', " ")))
        .collect();
    let others = if others.is_empty() {
        String::new()
    } else {
        format!("; {}", others.join(", "))
    };
    let stopped = batch
        .signal
        .map(|s| format!("; stopped by {s}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\n**Total: {completed} of {total} completed{others}{stopped}; exit {} in {:.1}s.**",
        batch.exit_code,
        batch.elapsed.as_secs_f64()
    );
    unmatched(&mut out, batch);
    out.push('\n');
    out
}

fn row(out: &mut String, item: &ItemRecord) {
    let mut messages: Vec<String> = item.messages.iter().map(|m| cell(m)).collect();
    if item.verdict != Verdict::Passed && item.verdict != Verdict::Skipped {
        messages.insert(0, cell(&item.detail));
    }
    if item.verdict == Verdict::Skipped {
        messages.push(cell(&item.detail));
    }
    messages.extend(item.findings.iter().take(FINDINGS_SHOWN).map(|f| cell(f)));
    if item.findings.len() > FINDINGS_SHOWN {
        messages.push(format!(
            "… {} more findings",
            item.findings.len() - FINDINGS_SHOWN
        ));
    }
    let outcome = match item.exit_code {
        Some(code) if code != 0 => format!("{} (exit {code})", cell(&item.outcome)),
        _ => cell(&item.outcome),
    };
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} | {} |",
        item.item + 1,
        cell(&item.source),
        item.kind,
        item.file
            .as_deref()
            .map_or_else(|| "direct".to_owned(), cell),
        outcome,
        item.aggregation_id
            .as_deref()
            .map_or_else(String::new, cell),
        item.counts.as_deref().map_or_else(String::new, cell),
        messages.join("<br>"),
    );
}

fn unmatched(out: &mut String, batch: &BatchRecord) {
    if batch.unmatched.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nNot aggregated ({} in the folder):\n",
        batch.unmatched.len()
    );
    for (path, reason) in &batch.unmatched {
        let _ = writeln!(out, "- {}: {}", cell(path), cell(reason));
    }
}

/// Text for a table cell (or a list item): Markdown punctuation escaped, line breaks as `<br>`.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\n' => out.push_str("<br>"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '~' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::tests::item;
    use std::time::Duration;

    #[test]
    fn cells_are_escaped() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(
            cell("line1\nline2\r\nline3\r"),
            "line1<br>line2<br>line3<br>"
        );
        assert_eq!(
            cell("<b>*x*</b> & `y` [z]"),
            "\\<b\\>\\*x\\*\\</b\\> \\& \\`y\\` \\[z\\]"
        );
        assert_eq!(cell("tab\there"), "tab here");
        assert_eq!(cell("C:\\x_y"), "C:\\\\x\\_y");
    }

    #[test]
    fn a_table_and_a_totals_line() {
        let passed = item(Verdict::Passed);
        let mut failed = item(Verdict::Failure);
        failed.item = 1;
        failed.source = "Pipe|Source".to_owned();
        failed.outcome = "file_check_failed".to_owned();
        failed.exit_code = Some(3);
        failed.aggregation_id = None;
        failed.counts = None;
        failed.detail = "hr.csv does not fit".to_owned();
        failed.findings = (1..=7).map(|l| format!("line {l}: problem: x")).collect();
        let mut skipped = item(Verdict::Skipped);
        skipped.item = 2;
        skipped.file = None;
        skipped.outcome = "skipped".to_owned();
        skipped.exit_code = None;
        skipped.aggregation_id = None;
        skipped.counts = None;
        skipped.detail = "not started".to_owned();
        let batch = BatchRecord {
            input: "folder exports".to_owned(),
            items: vec![passed, failed, skipped],
            elapsed: Duration::from_millis(4_300),
            exit_code: 3,
            unmatched: vec![("exports/notes.txt".to_owned(), "not a .csv file".to_owned())],
            ..BatchRecord::default()
        };
        let expected = "\
### isc-aggregate batch: 1 of 3 completed (folder exports)

| # | Source | Kind | File | Outcome | Aggregation | Counts | Messages |
|---:|---|---|---|---|---|---|---|
| 1 | HR Feed | accounts | exports/hr.csv | completed | agg-1 | 300 of 300 |  |
| 2 | Pipe\\|Source | accounts | exports/hr.csv | file\\_check\\_failed (exit 3) |  |  | hr.csv does not fit<br>line 1: problem: x<br>line 2: problem: x<br>line 3: problem: x<br>line 4: problem: x<br>line 5: problem: x<br>… 2 more findings |
| 3 | HR Feed | accounts | direct | skipped |  |  | not started |

**Total: 1 of 3 completed; 1 file check failed, 1 skipped; exit 3 in 4.3s.**

Not aggregated (1 in the folder):

- exports/notes.txt: not a .csv file

";
        assert_eq!(render(&batch), expected);
    }

    #[test]
    fn a_refused_input_lists_its_problems() {
        let batch = BatchRecord {
            input: "manifest m.toml".to_owned(),
            exit_code: 2,
            refused: vec!["m.toml:3: unknown key `x`".to_owned()],
            ..BatchRecord::default()
        };
        assert_eq!(
            render(&batch),
            "### isc-aggregate batch: manifest m.toml was refused; nothing was sent\n\n\
             - m.toml:3: unknown key \\`x\\`\n\n**Exit code 2.**\n\n"
        );
    }
}
