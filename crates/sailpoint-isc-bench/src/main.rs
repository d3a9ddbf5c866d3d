//! `sailpoint-isc-bench`: the SDK's benchmarks, run with `cargo xtask bench [--smoke]`.
//!
//! Every figure is measured against its baseline in the same run, interleaved, over several
//! repetitions, and the median is reported:
//!
//! 1. request overhead of a status call: raw `reqwest` vs the generated client vs the ergonomic one;
//! 2. uploading a large CSV: the ergonomic streamed upload vs raw `reqwest` streaming vs reading the
//!    file into memory first, each in its own process for a clean peak RSS; and the first two
//!    through a link throttled to 10 MiB/s per connection (section `link`);
//! 3. waiting for an aggregation on the sandbox: the default poll schedule vs fixed 5 s polling;
//! 4. generated code size and the clean build time of `sailpoint-isc` (informational);
//! 5. aggregating many sources under the sandbox's rate limit: the SDK's batch API vs a naive
//!    loop of starts and waits;
//! 6. the pre-flight check of a 1 GiB CSV against its schema vs `wc -l` on the same cached file,
//!    with the checker's peak RSS (section `check`).
//!
//! Prints Markdown tables and writes `target/bench/report.json` (and `report.md`). Performance
//! targets are reported, never asserted: the exit status is non-zero only if the harness itself
//! fails (an error, a wrong hash, a request the server did not see).
#![forbid(unsafe_code)]

mod batch;
mod check;
mod codegen;
mod overhead;
mod server;
mod throttle;
mod upload;
mod util;
mod waiting;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

const USAGE: &str = "\
usage: sailpoint-isc-bench [options]      (normally: cargo xtask bench [options])

options:
  --smoke               tiny, quick run for CI (1 MiB file, 2 MiB through the link, a few hundred
                        calls, time scaled 1/200, 4 batch sources, an 8 MiB file checked, no clean
                        build); still checks hashes, request counts and the check's findings
  --no-clean-build      skip the clean build of sailpoint-isc (the slowest part of a full run)
  --only <sections>     comma-separated subset of: overhead,upload,link,check,wait,codegen,batch
  --reps <n>            repetitions of the overhead, upload and check figures
  --calls <n>           sequential calls per repetition (concurrent: 4x as many)
  --concurrency <n>     concurrent callers (default 32)
  --upload-mib <list>   file sizes in MiB, comma-separated (default 100,1024)
  --link-mib <n>        file size in MiB of the throttled-link uploads (default 100)
  --link-rate <MiB/s>   the throttled link's rate per connection and direction (default 10)
  --check-mib <n>       size in MiB of the CSV the pre-flight check reads (default 1024)
  --check-reps <n>      repetitions of the check figure (default 7)
  --wait-scale <f>      divide the aggregation's and the schedules' durations by f (default 20)
  --wait-reps <n>       repetitions of the waiting figure
  --batch-sources <n>   sources aggregated per batch run (default 100)
  --batch-scale <f>     divide the batch's aggregations, schedules, retry durations and the
                        rate-limit window by f (default 10)
  --batch-reps <n>      repetitions of the batch figure (default 3)
  --batch-concurrency <n>
                        max_concurrency of the SDK batch (default 0: as many as sources)
  -h, --help            this help";

/// Every section, in the order a full run measures them (codegen's clean build last).
const SECTIONS: [&str; 7] = [
    "overhead", "upload", "link", "check", "wait", "batch", "codegen",
];

#[derive(Debug, Clone)]
struct Options {
    smoke: bool,
    clean_build: bool,
    sections: Vec<String>,
    reps: usize,
    calls: usize,
    concurrency: usize,
    upload_mib: Vec<u64>,
    upload_reps: usize,
    link_mib: u64,
    link_rate_mib: f64,
    check_mib: u64,
    check_reps: usize,
    wait_scale: f64,
    wait_reps: usize,
    batch_sources: usize,
    batch_scale: f64,
    batch_reps: usize,
    batch_concurrency: usize,
}

impl Options {
    fn full() -> Self {
        Options {
            smoke: false,
            clean_build: true,
            sections: SECTIONS.map(String::from).to_vec(),
            reps: 15,
            calls: 1_000,
            concurrency: 32,
            upload_mib: vec![100, 1024],
            // A multiple of 3, so each client uploads first, second and third equally often.
            upload_reps: 6,
            // About 10 s per upload at 10 MiB/s.
            link_mib: 100,
            link_rate_mib: 10.0,
            check_mib: 1024,
            check_reps: 7,
            wait_scale: 20.0,
            wait_reps: 5,
            batch_sources: 100,
            // Not the waiting figure's 20: the sandbox's `Retry-After` is whole seconds (at least
            // 1 s), so at 1/20 (a 0.5 s window) every 429 would cost two windows; and the SDK
            // limiter's minimum 50 ms margin would be 10 % of the window instead of 5 %.
            batch_scale: 10.0,
            batch_reps: 3,
            batch_concurrency: 0,
        }
    }

    fn smoke() -> Self {
        Options {
            smoke: true,
            clean_build: false,
            reps: 3,
            calls: 200,
            upload_mib: vec![1],
            upload_reps: 1,
            link_mib: 2,
            check_mib: 8,
            check_reps: 2,
            wait_scale: 200.0,
            wait_reps: 2,
            batch_sources: 4,
            batch_scale: 200.0,
            batch_reps: 1,
            ..Self::full()
        }
    }

    fn parse(args: &[String]) -> Result<Option<Options>> {
        let mut opts = if args.iter().any(|a| a == "--smoke") {
            Options::smoke()
        } else {
            Options::full()
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
                _ => (arg.as_str(), None),
            };
            let mut value = || -> Result<String> {
                inline
                    .clone()
                    .or_else(|| it.next().cloned())
                    .with_context(|| format!("{flag} needs a value"))
            };
            match flag {
                "-h" | "--help" => return Ok(None),
                "--smoke" => {}
                "--no-clean-build" => opts.clean_build = false,
                "--only" => {
                    opts.sections = value()?.split(',').map(|s| s.trim().to_owned()).collect();
                    for s in &opts.sections {
                        if !SECTIONS.contains(&s.as_str()) {
                            bail!("unknown section {s:?}");
                        }
                    }
                }
                "--reps" => {
                    opts.reps = value()?.parse()?;
                    opts.upload_reps = opts.reps;
                    opts.check_reps = opts.reps;
                }
                "--calls" => opts.calls = value()?.parse()?,
                "--concurrency" => opts.concurrency = value()?.parse()?,
                "--upload-mib" => {
                    opts.upload_mib = value()?
                        .split(',')
                        .map(|s| s.trim().parse::<u64>())
                        .collect::<Result<_, _>>()?;
                }
                "--link-mib" => opts.link_mib = value()?.parse()?,
                "--link-rate" => opts.link_rate_mib = value()?.parse()?,
                "--check-mib" => opts.check_mib = value()?.parse()?,
                "--check-reps" => opts.check_reps = value()?.parse()?,
                "--wait-scale" => opts.wait_scale = value()?.parse()?,
                "--wait-reps" => opts.wait_reps = value()?.parse()?,
                "--batch-sources" => opts.batch_sources = value()?.parse()?,
                "--batch-scale" => opts.batch_scale = value()?.parse()?,
                "--batch-reps" => opts.batch_reps = value()?.parse()?,
                "--batch-concurrency" => opts.batch_concurrency = value()?.parse()?,
                other => bail!("unknown argument {other:?}"),
            }
        }
        if opts.reps == 0 || opts.wait_reps == 0 || opts.concurrency == 0 || opts.calls == 0 {
            bail!("--reps, --wait-reps, --calls and --concurrency must be positive");
        }
        if opts.batch_sources == 0 || opts.batch_reps == 0 {
            bail!("--batch-sources and --batch-reps must be positive");
        }
        if opts.check_mib == 0 || opts.check_reps == 0 {
            bail!("--check-mib and --check-reps must be positive");
        }
        if opts.upload_mib.contains(&0) || opts.link_mib == 0 {
            bail!("upload sizes must be at least 1 MiB");
        }
        if !(opts.link_rate_mib.is_finite() && opts.link_rate_mib > 0.0) {
            bail!("--link-rate must be a positive number of MiB/s");
        }
        Ok(Some(opts))
    }

    fn wants(&self, section: &str) -> bool {
        self.sections.iter().any(|s| s == section)
    }
}

/// The workspace root (this crate is `crates/sailpoint-isc-bench`).
fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .filter(|p| p.join("Cargo.toml").exists())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `target/bench` (under `CARGO_TARGET_DIR` when set).
fn bench_dir(root: &std::path::Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("bench")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(upload::CHILD_COMMAND) {
        return upload::child_main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some(check::CHILD_COMMAND) {
        return check::child_main(&args[1..]);
    }
    let opts = match Options::parse(&args) {
        Ok(Some(opts)) => opts,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e:#}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&opts, &args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the selected sections; `Ok(false)` when one of them broke.
fn run(opts: &Options, args: &[String]) -> Result<bool> {
    let root = workspace_root();
    let dir = bench_dir(&root);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let machine = util::machine();
    let started = Instant::now();
    let date = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);

    let mut lines = vec![
        format!(
            "## sailpoint-isc bench ({}, {} build)",
            if opts.smoke { "smoke" } else { "full" },
            machine["profile"].as_str().unwrap_or("?")
        ),
        String::new(),
        format!(
            "Machine: {} × {}, {} MiB RAM, {} {}; load average {} at start. Date: {date}.",
            machine["nproc"],
            machine["cpu_model"].as_str().unwrap_or("?"),
            machine["mem_total_mib"],
            machine["os"].as_str().unwrap_or("?"),
            machine["kernel"].as_str().unwrap_or(""),
            machine["loadavg_1min_at_start"],
        ),
        String::new(),
    ];
    let mut report = serde_json::Map::new();
    report.insert("date".into(), json!(date));
    report.insert(
        "mode".into(),
        json!(if opts.smoke { "smoke" } else { "full" }),
    );
    report.insert("args".into(), json!(args));
    report.insert("machine".into(), machine);
    let mut errors: Vec<String> = Vec::new();

    type Section = Box<dyn FnOnce() -> Result<(Value, Vec<String>)>>;
    let mut sections: Vec<(&str, Section)> = Vec::new();
    if opts.wants("overhead") {
        let params = overhead::Params {
            reps: opts.reps,
            sequential_calls: opts.calls,
            concurrent_calls: opts.calls * 4,
            concurrency: opts.concurrency,
        };
        sections.push(("overhead", Box::new(move || overhead::run(&params))));
    }
    if opts.wants("upload") {
        let params = upload::Params {
            sizes_mib: opts.upload_mib.clone(),
            reps: opts.upload_reps,
            dir: dir.clone(),
        };
        sections.push(("upload", Box::new(move || upload::run(&params))));
    }
    if opts.wants("link") {
        let params = upload::LinkParams {
            file_mib: opts.link_mib,
            rate_mib: opts.link_rate_mib,
            reps: opts.upload_reps,
            dir: dir.clone(),
        };
        sections.push(("upload_link", Box::new(move || upload::run_link(&params))));
    }
    if opts.wants("check") {
        let params = check::Params {
            file_mib: opts.check_mib,
            reps: opts.check_reps,
            dir: dir.clone(),
        };
        sections.push(("check", Box::new(move || check::run(&params))));
    }
    if opts.wants("wait") {
        let params = waiting::Params {
            scale: opts.wait_scale,
            reps: opts.wait_reps,
            dir: dir.clone(),
        };
        sections.push(("waiting", Box::new(move || waiting::run(&params))));
    }
    if opts.wants("batch") {
        let params = batch::Params {
            sources: opts.batch_sources,
            scale: opts.batch_scale,
            reps: opts.batch_reps,
            concurrency: batch::concurrency(opts.batch_concurrency, opts.batch_sources),
        };
        sections.push(("batch", Box::new(move || batch::run(&params))));
    }
    if opts.wants("codegen") {
        let (root, dir, clean) = (root.clone(), dir.clone(), opts.clean_build);
        sections.push((
            "codegen",
            Box::new(move || codegen::run(&root, &dir, clean)),
        ));
    }

    for (name, section) in sections {
        eprintln!("bench: {name}...");
        let t = Instant::now();
        match section() {
            Ok((value, section_lines)) => {
                eprintln!("bench: {name} done in {:.1} s", t.elapsed().as_secs_f64());
                report.insert(name.into(), value);
                lines.extend(section_lines);
            }
            Err(e) => {
                let message = format!("{name}: {e:#}");
                eprintln!("bench: FAILED {message}");
                lines.push(format!("### {name}: FAILED — {e:#}"));
                report.insert(name.into(), json!({ "error": format!("{e:#}") }));
                errors.push(message);
            }
        }
        lines.push(String::new());
    }
    report.insert("duration_s".into(), json!(started.elapsed().as_secs_f64()));
    report.insert("harness_errors".into(), json!(errors));

    let table = lines.join("\n");
    println!("{table}");
    let json_path = dir.join("report.json");
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&Value::Object(report))? + "\n",
    )
    .with_context(|| format!("cannot write {}", json_path.display()))?;
    std::fs::write(dir.join("report.md"), table + "\n")?;
    eprintln!(
        "bench: wrote {} in {:.1} s",
        json_path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(errors.is_empty())
}
