//! Figure 6 (section `check`): the pre-flight check of a large CSV against its schema
//! (`sailpoint_isc::preflight::check_path`) against `wc -l` on the same file, the floor of any
//! one-pass check. The file (1 GiB by default) is generated once into the bench's directory,
//! read once before timing so that both read it from the page cache, and must come out clean.
//!
//! Each check runs in its own child process (this binary re-executed with the hidden
//! `__check-child` command) so that the peak RSS it reports (`VmHWM`) is the checker's own;
//! `wc -l` is a child process too, and both are timed the same way, by the parent, from the
//! spawn to the exit.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use sailpoint_isc::preflight::{FileSchema, Issue, check_path};
use serde_json::{Value, json};

use crate::util::{group, median, proc_status_kib, rotated, summary, verdict};

/// Name of the hidden subcommand.
pub const CHILD_COMMAND: &str = "__check-child";

/// Target: the check's throughput as a fraction of `wc -l`'s.
pub const TARGET_RATIO: f64 = 0.25;
/// Target: the checking process's peak RSS, whatever the file size.
pub const TARGET_RSS_MIB: f64 = 32.0;

const MIB: u64 = 1024 * 1024;

/// The generated file's header: an accounts export of ten columns, `id` the account id.
pub const HEADER: &str =
    "id,userName,firstName,lastName,displayName,email,department,title,manager,status";
/// Bumped whenever the generator changes, so a cached file of another version is rewritten.
const GENERATOR: &str = "check-v1";

/// What to run.
#[derive(Debug, Clone)]
pub struct Params {
    pub file_mib: u64,
    pub reps: usize,
    pub dir: PathBuf,
}

/// The schema the file is checked against.
fn schema() -> FileSchema {
    FileSchema::from_header_line(HEADER).with_identity_attribute("id")
}

/// The generated file: where, its size and lines.
#[derive(Debug, Clone)]
struct CsvFile {
    path: PathBuf,
    bytes: u64,
    lines: u64,
}

/// One timed child run.
#[derive(Debug, Clone, Copy)]
struct Sample {
    seconds: f64,
    peak_rss_kib: Option<u64>,
}

/// Runs the benchmark; returns the JSON section and the table lines.
pub fn run(params: &Params) -> Result<(Value, Vec<String>)> {
    let exe = std::env::current_exe().context("cannot find the bench executable")?;
    let file = ensure_csv(&params.dir, params.file_mib * MIB)?;
    let warm = Instant::now();
    read_through(&file.path)?;
    let warm_seconds = warm.elapsed().as_secs_f64();

    let mut checks: Vec<Sample> = Vec::new();
    let mut wcs: Vec<Sample> = Vec::new();
    let mut child_seconds: Vec<f64> = Vec::new();
    let mut first_report = Value::Null;
    for rep in 0..params.reps {
        for which in rotated(&[0usize, 1], rep) {
            if which == 0 {
                let (sample, report) = run_check_child(&exe, &file)?;
                child_seconds.push(report["seconds"].as_f64().unwrap_or(f64::NAN));
                if first_report.is_null() {
                    first_report = report;
                }
                checks.push(sample);
            } else {
                wcs.push(run_wc(&file)?);
            }
        }
    }

    let mib = file.bytes as f64 / MIB as f64;
    let mibps = |samples: &[Sample]| -> Vec<f64> {
        samples.iter().map(|s| mib / s.seconds).collect::<Vec<_>>()
    };
    let (check_mibps, wc_mibps) = (mibps(&checks), mibps(&wcs));
    let ratios: Vec<f64> = check_mibps
        .iter()
        .zip(&wc_mibps)
        .map(|(c, w)| c / w)
        .collect();
    let ratio = median(&ratios);
    let rss: Vec<f64> = checks
        .iter()
        .filter_map(|s| s.peak_rss_kib)
        .map(|k| k as f64 / 1024.0)
        .collect();
    let peak_rss = median(&rss);
    let ratio_met = ratio >= TARGET_RATIO;
    let rss_met = peak_rss <= TARGET_RSS_MIB;
    let size = size_label(params.file_mib);
    let warnings = first_report["warnings"].clone();

    let lines = vec![
        format!(
            "### Pre-flight check ({size} CSV, {} lines, 10 columns, cached; each run its own process; median of {} interleaved reps)",
            group(file.lines as f64),
            params.reps
        ),
        String::new(),
        "| file | reader | MiB/s | × wc -l | peak RSS (MiB) | result |".to_owned(),
        "|---|---|---:|---:|---:|---|".to_owned(),
        format!(
            "| {size} | `preflight::check_path` | {} | {ratio:.2} | {peak_rss:.1} | clean, {} lines |",
            group(median(&check_mibps)),
            group(file.lines as f64),
        ),
        format!(
            "| {size} | `wc -l` | {} | 1.00 | – | {} lines |",
            group(median(&wc_mibps)),
            group(file.lines as f64),
        ),
        String::new(),
        format!(
            "{size}: check {:.0} MiB/s = {ratio:.2}× wc -l ({:.0} MiB/s) ≥ {TARGET_RATIO} {}, peak RSS {peak_rss:.1} MiB ≤ {TARGET_RSS_MIB} MiB {}",
            median(&check_mibps),
            median(&wc_mibps),
            verdict(ratio_met),
            verdict(rss_met),
        ),
    ];
    let json = json!({
        "file": file.path.display().to_string(),
        "file_mib": params.file_mib,
        "file_bytes": file.bytes,
        "file_lines": file.lines,
        "header": HEADER,
        "identity_attribute": "id",
        "cache_warm_read_seconds": warm_seconds,
        "repetitions": params.reps,
        "timing": "wall time measured by the parent from spawning the child to its exit, for both; the file is read once before timing so both read from the page cache",
        "peak_rss": "VmHWM of the checking child process at the end",
        "check": {
            "label": "sailpoint_isc::preflight::check_path, in a child process",
            "mib_per_second": summary(&check_mibps),
            "seconds": summary(&checks.iter().map(|s| s.seconds).collect::<Vec<_>>()),
            "seconds_inside_child": summary(&child_seconds),
            "peak_rss_mib": summary(&rss),
            "clean": true,
            "warnings": warnings,
        },
        "wc_l": {
            "label": "wc -l <file>",
            "mib_per_second": summary(&wc_mibps),
            "seconds": summary(&wcs.iter().map(|s| s.seconds).collect::<Vec<_>>()),
        },
        "throughput_ratio_to_wc_l": summary(&ratios),
        "targets": {
            "throughput_ge_0_25_wc_l": ratio_met,
            "peak_rss_le_32_mib": rss_met,
            "clean": true,
        },
    });
    Ok((json, lines))
}

fn size_label(mib: u64) -> String {
    if mib >= 1024 && mib.is_multiple_of(1024) {
        format!("{} GiB", mib / 1024)
    } else {
        format!("{mib} MiB")
    }
}

/// Reads the whole file once (into the page cache), discarding it.
fn read_through(path: &Path) -> Result<u64> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

/// One check in a child process, verified: clean (warnings allowed only for the line count),
/// every line and byte seen.
fn run_check_child(exe: &Path, file: &CsvFile) -> Result<(Sample, Value)> {
    let started = Instant::now();
    let output = Command::new(exe)
        .arg(CHILD_COMMAND)
        .arg(&file.path)
        .stdin(Stdio::null())
        .output()
        .context("cannot start the check child")?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!(
            "the check child failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .context("the check child printed no result")?;
    let report: Value = serde_json::from_str(line).context("bad check child output")?;
    let num = |k: &str| {
        report[k]
            .as_u64()
            .with_context(|| format!("check child output lacks {k}"))
    };
    ensure!(
        report["clean"] == json!(true) && report["unexpected"] == json!([]),
        "the check found problems in the generated file: {}",
        report["unexpected"]
    );
    ensure!(
        num("lines")? == file.lines && num("rows")? == file.lines - 1,
        "the check saw {} lines and {} rows, the file has {} lines",
        report["lines"],
        report["rows"],
        file.lines
    );
    ensure!(
        num("bytes")? == file.bytes,
        "the check read {} bytes of {}",
        report["bytes"],
        file.bytes
    );
    let sample = Sample {
        seconds,
        peak_rss_kib: Some(num("peak_rss_kib")?),
    };
    Ok((sample, report))
}

/// `wc -l <file>` in a child process, its count verified.
fn run_wc(file: &CsvFile) -> Result<Sample> {
    let started = Instant::now();
    let output = Command::new("wc")
        .arg("-l")
        .arg(&file.path)
        .stdin(Stdio::null())
        .output()
        .context("cannot run wc -l")?;
    let seconds = started.elapsed().as_secs_f64();
    ensure!(
        output.status.success(),
        "wc -l failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let count: u64 = stdout
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("unexpected wc -l output {stdout:?}"))?;
    ensure!(
        count == file.lines,
        "wc -l counted {count} lines, the file has {}",
        file.lines
    );
    Ok(Sample {
        seconds,
        peak_rss_kib: None,
    })
}

/// The child: `__check-child <file>`. Prints one JSON line.
pub fn child_main(args: &[String]) -> ExitCode {
    match child(args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("check child: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn child(args: &[String]) -> Result<Value> {
    let [file] = args else {
        bail!("usage: {CHILD_COMMAND} <file>");
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let start_rss_kib = proc_status_kib("VmRSS").unwrap_or(0);
    let started = Instant::now();
    let report = runtime.block_on(check_path(file, schema()))?;
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_kib = proc_status_kib("VmHWM").context("no VmHWM in /proc/self/status")?;
    // The generated file has more lines than SailPoint recommends: that warning is expected.
    let unexpected: Vec<String> = report
        .findings
        .iter()
        .filter(|f| !matches!(f.issue, Issue::TooManyLines { .. }))
        .take(5)
        .map(ToString::to_string)
        .collect();
    Ok(json!({
        "seconds": seconds,
        "peak_rss_kib": peak_rss_kib,
        "start_rss_kib": start_rss_kib,
        "clean": report.is_clean(),
        "unexpected": unexpected,
        "omitted": report.omitted,
        "warnings": report.warnings(),
        "lines": report.lines,
        "rows": report.rows,
        "bytes": report.bytes,
    }))
}

/// A generated accounts export of at least `size` bytes (whole rows) under `dir`, reused when
/// one of that size from this generator exists.
fn ensure_csv(dir: &Path, size: u64) -> Result<CsvFile> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("check-accounts-{}MiB.csv", size / MIB));
    let meta_path = path.with_extension("csv.meta");
    if let (Ok(meta), Ok(recorded)) = (
        std::fs::metadata(&path),
        std::fs::read_to_string(&meta_path),
    ) {
        let mut fields = recorded.split_whitespace();
        if let (Some(GENERATOR), Some(bytes), Some(lines)) =
            (fields.next(), fields.next(), fields.next())
            && let (Ok(bytes), Ok(lines)) = (bytes.parse::<u64>(), lines.parse::<u64>())
            && bytes == meta.len()
        {
            return Ok(CsvFile { path, bytes, lines });
        }
    }
    let tmp = path.with_extension("csv.partial");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    let (bytes, lines) = write_csv(&mut out, size)?;
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, &path)?;
    std::fs::write(&meta_path, format!("{GENERATOR} {bytes} {lines}\n"))?;
    Ok(CsvFile { path, bytes, lines })
}

/// Plain ASCII names, most of the file.
const FIRST: [&str; 16] = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
];
const LAST: [&str; 16] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
];
/// A few UTF-8 names (first, last, and the ASCII form used in the user name and email).
const UTF8_NAMES: [(&str, &str, &str, &str); 6] = [
    ("José", "Muñoz", "jose", "munoz"),
    ("Zoë", "Brontë", "zoe", "bronte"),
    ("Łukasz", "Wiśniewski", "lukasz", "wisniewski"),
    ("Søren", "Kierkegård", "soren", "kierkegard"),
    ("Jürgen", "Müller", "juergen", "mueller"),
    ("Ngọc", "Nguyễn", "ngoc", "nguyen"),
];
const DEPARTMENTS: [&str; 8] = [
    "Engineering",
    "Finance",
    "Sales",
    "Support",
    "Legal",
    "Human Resources",
    "Marketing",
    "Operations",
];
const TITLES: [&str; 8] = [
    "Engineer",
    "Senior Engineer",
    "Analyst",
    "Account Executive",
    "Support Specialist",
    "Counsel",
    "Manager",
    "Director",
];

/// Writes rows of a deterministic accounts export (sorted ids; 1 row in 50 with a quoted display
/// name holding a comma, 1 in 500 also a quoted title with escaped quotes; 1 in 40 with UTF-8
/// names) until at least `size` bytes; returns the bytes and lines written.
fn write_csv(out: &mut impl Write, size: u64) -> Result<(u64, u64)> {
    let mut written = 0u64;
    let mut lines = 0u64;
    let mut row = String::with_capacity(256);
    let mut i = 0u64;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        // xorshift64*: deterministic, cheap.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    while written < size {
        row.clear();
        if i == 0 {
            row.push_str(HEADER);
            row.push('\n');
        } else {
            let r = next();
            let pick = |n: usize, shift: u32| ((r >> shift) as usize) % n;
            let (first, last, first_ascii, last_ascii) = if i.is_multiple_of(40) {
                UTF8_NAMES[pick(UTF8_NAMES.len(), 0)]
            } else {
                let (f, l) = (FIRST[pick(16, 8)], LAST[pick(16, 16)]);
                (f, l, f, l)
            };
            let (fa, la) = (
                first_ascii.to_ascii_lowercase(),
                last_ascii.to_ascii_lowercase(),
            );
            let _ = write!(row, "{i:010},{fa}.{la}{},{first},{last},", i % 1000);
            if i.is_multiple_of(50) {
                let _ = write!(row, "\"{last}, {first}\",");
            } else {
                let _ = write!(row, "{first} {last},");
            }
            let _ = write!(
                row,
                "{fa}.{la}.{i}@example.com,{},",
                DEPARTMENTS[pick(DEPARTMENTS.len(), 24)]
            );
            if i.is_multiple_of(500) {
                let _ = write!(
                    row,
                    "\"{} \"\"on call\"\"\",",
                    TITLES[pick(TITLES.len(), 32)]
                );
            } else {
                let _ = write!(row, "{},", TITLES[pick(TITLES.len(), 32)]);
            }
            if i > 8 {
                let _ = write!(row, "{:010},", i / 8);
            } else {
                row.push(',');
            }
            row.push_str(if pick(23, 40) == 0 {
                "inactive\n"
            } else {
                "active\n"
            });
        }
        out.write_all(row.as_bytes())?;
        written += row.len() as u64;
        lines += 1;
        i += 1;
    }
    Ok((written, lines))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sailpoint_isc::preflight::check_reader;

    #[test]
    fn generated_file_is_clean_and_looks_like_an_export() {
        let mut data = Vec::new();
        let (bytes, lines) = write_csv(&mut data, 256 * 1024).unwrap();
        assert_eq!(bytes, data.len() as u64);
        let text = std::str::from_utf8(&data).unwrap();
        assert_eq!(text.lines().count() as u64, lines);
        assert!(text.starts_with(HEADER));
        assert!(
            text.contains("\"Muñoz, José\"") || text.contains('ü'),
            "UTF-8 names"
        );
        assert!(text.contains("\"\"on call\"\""), "escaped quotes");
        let report = check_reader(&data[..], &schema()).unwrap();
        assert!(report.is_clean(), "{:#?}", report.findings);
        assert!(report.findings.is_empty(), "{:#?}", report.findings);
        assert_eq!(report.lines, lines);
        assert_eq!(report.rows, lines - 1);
    }
}
