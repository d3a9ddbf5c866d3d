//! Figure 2: uploading a large CSV. Each upload runs in its own child process (this binary
//! re-executed with the hidden `__upload-child` command) so that the peak RSS it reports
//! (`VmHWM`) is the uploader's own; the sink runs in the parent and hashes the file part.
//!
//! Figure 2b ([`run_link`], section `link`): the ergonomic and the raw streamed uploads through
//! the same throttled link (10 MiB/s per connection by default) to the same sink.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_util::io::ReaderStream;

use crate::server::{BenchServer, CLIENT_ID, CLIENT_SECRET, STATIC_TOKEN, hex};
use crate::throttle::ThrottledLink;
use crate::util::{group, median, proc_status_kib, rotated, summary, verdict};

/// Name of the hidden subcommand.
pub const CHILD_COMMAND: &str = "__upload-child";

/// Target: the ergonomic upload's peak RSS, whatever the file size.
pub const TARGET_RSS_MIB: f64 = 64.0;
/// Target: ergonomic throughput as a fraction of raw streaming.
pub const TARGET_THROUGHPUT_RATIO: f64 = 0.9;

/// The raw streaming baseline reads the file in chunks of this size, as the SDK does.
const RAW_CHUNK: usize = 64 * 1024;
const MIB: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ergonomic,
    RawStream,
    InMemory,
}

const MODES: [Mode; 3] = [Mode::Ergonomic, Mode::RawStream, Mode::InMemory];

impl Mode {
    fn key(self) -> &'static str {
        match self {
            Mode::Ergonomic => "ergonomic",
            Mode::RawStream => "raw_stream",
            Mode::InMemory => "in_memory",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Mode::Ergonomic => "ergonomic (sailpoint-isc, streamed)",
            Mode::RawStream => "raw reqwest, Part::stream_with_length",
            Mode::InMemory => "in memory (read whole file, then send)",
        }
    }

    fn parse(s: &str) -> Option<Mode> {
        MODES.into_iter().find(|m| m.key() == s)
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Params {
    pub sizes_mib: Vec<u64>,
    pub reps: usize,
    pub dir: PathBuf,
}

/// One child's report.
#[derive(Debug, Clone)]
struct Sample {
    seconds: f64,
    peak_rss_kib: u64,
    start_rss_kib: u64,
}

/// Runs the benchmark; returns the JSON section and the table lines.
pub fn run(params: &Params) -> Result<(Value, Vec<String>)> {
    let server = BenchServer::start()?;
    let url = server.base_url();
    let exe = std::env::current_exe().context("cannot find the bench executable")?;
    let mut json_sizes = Vec::new();
    let mut lines = vec![
        format!(
            "### Upload (CSV to a local multipart sink that hashes the file part; each upload in its own process; median of {} interleaved reps)",
            params.reps
        ),
        String::new(),
        "| file | client | MiB/s | × raw stream | peak RSS (MiB) | SHA-256 match |".to_owned(),
        "|---|---|---:|---:|---:|---|".to_owned(),
    ];
    let mut verdicts = Vec::new();
    for &size_mib in &params.sizes_mib {
        let (path, sha) = ensure_csv(&params.dir, size_mib * MIB)?;
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); MODES.len()];
        for rep in 0..params.reps {
            for i in rotated(&[0usize, 1, 2], rep) {
                let mode = MODES[i];
                let file = CsvFile {
                    path: &path,
                    bytes: size_mib * MIB,
                    sha256: &sha,
                };
                let sample = checked_upload(&server, &exe, mode, &url, &file)?;
                samples[i].push(sample);
            }
        }
        let mibps = |i: usize| -> Vec<f64> {
            samples[i]
                .iter()
                .map(|s| size_mib as f64 / s.seconds)
                .collect()
        };
        let rss = |i: usize| -> Vec<f64> {
            samples[i]
                .iter()
                .map(|s| s.peak_rss_kib as f64 / 1024.0)
                .collect()
        };
        let paired_ratio = |i: usize| -> f64 {
            let ratios: Vec<f64> = mibps(i).iter().zip(mibps(1)).map(|(a, b)| a / b).collect();
            median(&ratios)
        };
        let mut modes_json = serde_json::Map::new();
        for (i, mode) in MODES.iter().enumerate() {
            modes_json.insert(
                mode.key().to_owned(),
                json!({
                    "label": mode.label(),
                    "mib_per_second": summary(&mibps(i)),
                    "throughput_ratio_to_raw_stream": paired_ratio(i),
                    "peak_rss_mib": summary(&rss(i)),
                    "start_rss_mib": median(&samples[i].iter().map(|s| s.start_rss_kib as f64 / 1024.0).collect::<Vec<_>>()),
                    "seconds": summary(&samples[i].iter().map(|s| s.seconds).collect::<Vec<_>>()),
                    "sha256_match": true,
                }),
            );
            lines.push(format!(
                "| {} | {} | {} | {:.2} | {:.1} | yes |",
                size_label(size_mib),
                mode.label(),
                group(median(&mibps(i))),
                paired_ratio(i),
                median(&rss(i)),
            ));
        }
        let ergo_rss = median(&rss(0));
        let ratio = paired_ratio(0);
        let rss_met = ergo_rss <= TARGET_RSS_MIB;
        let tp_met = ratio >= TARGET_THROUGHPUT_RATIO;
        verdicts.push(format!(
            "{}: ergonomic peak RSS {ergo_rss:.1} MiB ≤ {TARGET_RSS_MIB} MiB {}, throughput {ratio:.2}× raw ≥ {TARGET_THROUGHPUT_RATIO} {}, in-memory peak RSS {:.0} MiB ({:.1}× the ergonomic)",
            size_label(size_mib),
            verdict(rss_met),
            verdict(tp_met),
            median(&rss(2)),
            median(&rss(2)) / ergo_rss,
        ));
        json_sizes.push(json!({
            "file_mib": size_mib,
            "file_bytes": size_mib * MIB,
            "file": path.display().to_string(),
            "file_sha256": sha,
            "modes": modes_json,
            "targets": {
                "ergonomic_peak_rss_le_64_mib": rss_met,
                "ergonomic_throughput_ge_0_9_raw": tp_met,
                "sha256_match": true,
            }
        }));
    }
    lines.push(String::new());
    lines.extend(verdicts);
    let json = json!({
        "sink": "axum multipart on loopback in the parent process, SHA-256 of the file part streamed",
        "raw_stream_chunk_bytes": RAW_CHUNK,
        "throughput": "file bytes / time from the start of the upload call (file open, token for the ergonomic client, or the whole read for in-memory) to the 202 response",
        "peak_rss": "VmHWM of the uploading child process at the end",
        "repetitions": params.reps,
        "sizes": json_sizes,
    });
    Ok((json, lines))
}

/// A generated CSV file and what the sink must receive.
struct CsvFile<'a> {
    path: &'a Path,
    bytes: u64,
    sha256: &'a str,
}

/// One upload in a child process to `url` (the sink, or the link in front of it), checked
/// against what the sink recorded: exactly one upload, of the file's length and SHA-256.
fn checked_upload(
    server: &BenchServer,
    exe: &Path,
    mode: Mode,
    url: &str,
    file: &CsvFile<'_>,
) -> Result<Sample> {
    let size = size_label(file.bytes / MIB);
    let before = server.state().uploads.lock().map(|u| u.len()).unwrap_or(0);
    let sample = run_child(exe, mode, url, file.path)
        .with_context(|| format!("{} upload of {size}", mode.key()))?;
    let uploads = server
        .state()
        .uploads
        .lock()
        .map_err(|_| anyhow::anyhow!("sink state poisoned"))?
        .clone();
    ensure!(
        uploads.len() == before + 1,
        "{} upload: the sink recorded {} uploads, expected one",
        mode.key(),
        uploads.len() - before
    );
    let record = &uploads[before];
    ensure!(
        record.sha256 == file.sha256 && record.file_bytes == file.bytes,
        "{} upload of {size}: the sink got {} bytes with SHA-256 {}, the file has {} bytes with {}",
        mode.key(),
        record.file_bytes,
        record.sha256,
        file.bytes,
        file.sha256
    );
    Ok(sample)
}

/// Target of the throttled link: ergonomic throughput as a fraction of raw streaming.
pub const TARGET_LINK_RATIO: f64 = 0.95;
/// Target of the throttled link: the ergonomic upload's peak RSS over the link, as a multiple of
/// its peak RSS uploading the same file unthrottled ("unchanged", within noise).
pub const TARGET_LINK_RSS_RATIO: f64 = 1.10;

/// What to run for the throttled-link figure.
#[derive(Debug, Clone)]
pub struct LinkParams {
    pub file_mib: u64,
    /// The link's rate per connection and direction, in MiB/s.
    pub rate_mib: f64,
    pub reps: usize,
    pub dir: PathBuf,
}

/// Figure 2b: uploading through a throttled link. The ergonomic streamed upload and raw reqwest
/// `Part::stream_with_length` send the same file through the same link to the same sink.
///
/// The link is a throttling TCP proxy inside the bench ([`crate::throttle`]: a token bucket per
/// connection and direction) in front of the [`BenchServer`] sink of the unthrottled figure,
/// rather than the sandbox's simulated link: the sink (a multipart parser hashing the file
/// part) and the check of what it received are then exactly those of the unthrottled rows, both
/// clients cross the same proxy, and nothing else (tokens, CSV parsing, aggregations) runs on
/// the server side. Each repetition also uploads the file unthrottled with both clients, so the
/// peak RSS over the link is compared with the same file's unthrottled peak in the same run.
pub fn run_link(params: &LinkParams) -> Result<(Value, Vec<String>)> {
    const CLIENTS: [Mode; 2] = [Mode::Ergonomic, Mode::RawStream];
    let server = BenchServer::start()?;
    let link = ThrottledLink::start(server.addr(), (params.rate_mib * MIB as f64).round() as u64)?;
    let bytes_per_second = link.bytes_per_second();
    let direct_url = server.base_url();
    let link_url = link.base_url();
    let exe = std::env::current_exe().context("cannot find the bench executable")?;
    let size_mib = params.file_mib;
    let (path, sha) = ensure_csv(&params.dir, size_mib * MIB)?;
    let file = CsvFile {
        path: &path,
        bytes: size_mib * MIB,
        sha256: &sha,
    };
    let mut throttled: Vec<Vec<Sample>> = vec![Vec::new(); CLIENTS.len()];
    let mut unthrottled: Vec<Vec<Sample>> = vec![Vec::new(); CLIENTS.len()];
    let before_link = link.counters().upstream_bytes.load(Ordering::Relaxed);
    for rep in 0..params.reps {
        for i in rotated(&[0usize, 1], rep) {
            let mode = CLIENTS[i];
            let sample = checked_upload(&server, &exe, mode, &link_url, &file)
                .context("through the throttled link")?;
            throttled[i].push(sample);
        }
        for i in rotated(&[0usize, 1], rep) {
            let mode = CLIENTS[i];
            let sample = checked_upload(&server, &exe, mode, &direct_url, &file)
                .context("unthrottled reference")?;
            unthrottled[i].push(sample);
        }
    }
    let through_link = link.counters().upstream_bytes.load(Ordering::Relaxed) - before_link;
    ensure!(
        through_link >= params.reps as u64 * CLIENTS.len() as u64 * file.bytes,
        "the link forwarded {through_link} bytes, less than the uploads' files"
    );
    let rate_mib = bytes_per_second as f64 / MIB as f64;
    let mibps = |samples: &[Sample]| -> Vec<f64> {
        samples
            .iter()
            .map(|s| size_mib as f64 / s.seconds)
            .collect()
    };
    let rss = |samples: &[Sample]| -> Vec<f64> {
        samples
            .iter()
            .map(|s| s.peak_rss_kib as f64 / 1024.0)
            .collect()
    };
    let paired_ratio = |i: usize| -> f64 {
        let ratios: Vec<f64> = mibps(&throttled[i])
            .iter()
            .zip(mibps(&throttled[1]))
            .map(|(a, b)| a / b)
            .collect();
        median(&ratios)
    };
    let mut lines = vec![
        format!(
            "### Upload through a throttled link ({} per connection and direction: a throttling proxy in front of the same sink; {}; median of {} interleaved reps)",
            rate_label(rate_mib),
            size_label(size_mib),
            params.reps
        ),
        String::new(),
        "| link | file | client | MiB/s | × raw stream | × link rate | peak RSS (MiB) | unthrottled peak RSS (MiB) | SHA-256 match |".to_owned(),
        "|---|---|---|---:|---:|---:|---:|---:|---|".to_owned(),
    ];
    let mut clients_json = serde_json::Map::new();
    for (i, mode) in CLIENTS.iter().enumerate() {
        let speed = median(&mibps(&throttled[i]));
        lines.push(format!(
            "| {} | {} | {} | {speed:.2} | {:.2} | {:.2} | {:.1} | {:.1} | yes |",
            rate_label(rate_mib),
            size_label(size_mib),
            mode.label(),
            paired_ratio(i),
            speed / rate_mib,
            median(&rss(&throttled[i])),
            median(&rss(&unthrottled[i])),
        ));
        clients_json.insert(
            mode.key().to_owned(),
            json!({
                "label": mode.label(),
                "mib_per_second": summary(&mibps(&throttled[i])),
                "throughput_ratio_to_raw_stream": paired_ratio(i),
                "fraction_of_link_rate": speed / rate_mib,
                "peak_rss_mib": summary(&rss(&throttled[i])),
                "seconds": summary(&throttled[i].iter().map(|s| s.seconds).collect::<Vec<_>>()),
                "unthrottled": {
                    "mib_per_second": summary(&mibps(&unthrottled[i])),
                    "peak_rss_mib": summary(&rss(&unthrottled[i])),
                },
                "sha256_match": true,
            }),
        );
    }
    let ratio = paired_ratio(0);
    let ergo_rss = median(&rss(&throttled[0]));
    let ergo_rss_unthrottled = median(&rss(&unthrottled[0]));
    let rss_ratio = ergo_rss / ergo_rss_unthrottled;
    let ratio_met = ratio >= TARGET_LINK_RATIO;
    let rss_met = rss_ratio <= TARGET_LINK_RSS_RATIO;
    lines.push(String::new());
    lines.push(format!(
        "throttled link {}, {}: ergonomic {:.2} MiB/s vs raw stream {:.2} MiB/s, {ratio:.2}× raw ≥ {TARGET_LINK_RATIO} {}; ergonomic peak RSS {ergo_rss:.1} MiB vs {ergo_rss_unthrottled:.1} MiB unthrottled ({rss_ratio:.2}×, ≤ {TARGET_LINK_RSS_RATIO}× {}); raw stream {:.1} vs {:.1} MiB",
        rate_label(rate_mib),
        size_label(size_mib),
        median(&mibps(&throttled[0])),
        median(&mibps(&throttled[1])),
        verdict(ratio_met),
        verdict(rss_met),
        median(&rss(&throttled[1])),
        median(&rss(&unthrottled[1])),
    ));
    let json = json!({
        "link": "throttling TCP proxy in the parent process in front of the upload sink: a token bucket per connection and direction, reads of at most 16 KiB, at most 10 ms of idle credit",
        "link_bytes_per_second": bytes_per_second,
        "link_mib_per_second": rate_mib,
        "link_upstream_bytes": through_link,
        "sink": "the upload figure's axum multipart sink, SHA-256 of the file part streamed",
        "file_mib": size_mib,
        "file_bytes": file.bytes,
        "file": path.display().to_string(),
        "file_sha256": sha,
        "repetitions": params.reps,
        "throughput": "file bytes / time from the start of the upload call to the 202 response, through the link",
        "peak_rss": "VmHWM of the uploading child process at the end; 'unthrottled' is the same file and client straight to the sink, in the same repetition",
        "clients": clients_json,
        "ergonomic_peak_rss_ratio_to_unthrottled": rss_ratio,
        "targets": {
            "ergonomic_throughput_ge_0_95_raw": ratio_met,
            "ergonomic_peak_rss_le_1_1_unthrottled": rss_met,
            "sha256_match": true,
        }
    });
    Ok((json, lines))
}

/// `10 MiB/s`, `2.5 MiB/s`.
fn rate_label(mib_per_second: f64) -> String {
    if mib_per_second.fract() == 0.0 {
        format!("{mib_per_second:.0} MiB/s")
    } else {
        format!("{mib_per_second} MiB/s")
    }
}

fn size_label(mib: u64) -> String {
    if mib >= 1024 && mib.is_multiple_of(1024) {
        format!("{} GiB", mib / 1024)
    } else {
        format!("{mib} MiB")
    }
}

fn run_child(exe: &Path, mode: Mode, url: &str, file: &Path) -> Result<Sample> {
    let output = Command::new(exe)
        .arg(CHILD_COMMAND)
        .arg(mode.key())
        .arg(url)
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .context("cannot start the upload child")?;
    if !output.status.success() {
        bail!(
            "the upload child failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .context("the upload child printed no result")?;
    let v: Value = serde_json::from_str(line).context("bad child output")?;
    let num = |k: &str| {
        v[k].as_f64()
            .with_context(|| format!("child output lacks {k}"))
    };
    Ok(Sample {
        seconds: num("seconds")?,
        peak_rss_kib: num("peak_rss_kib")? as u64,
        start_rss_kib: num("start_rss_kib")? as u64,
    })
}

/// The child: `__upload-child <mode> <base url> <file>`. Prints one JSON line.
pub fn child_main(args: &[String]) -> ExitCode {
    match child(args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("upload child: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn child(args: &[String]) -> Result<Value> {
    let [mode, url, file] = args else {
        bail!("usage: {CHILD_COMMAND} <mode> <base url> <file>");
    };
    let mode = Mode::parse(mode).with_context(|| format!("unknown mode {mode}"))?;
    let file = PathBuf::from(file);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let start_rss_kib = proc_status_kib("VmRSS").unwrap_or(0);
    let started = Instant::now();
    let task_id = runtime.block_on(upload(mode, url, &file))?;
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_kib = proc_status_kib("VmHWM").context("no VmHWM in /proc/self/status")?;
    Ok(json!({
        "mode": mode.key(),
        "task_id": task_id,
        "seconds": seconds,
        "peak_rss_kib": peak_rss_kib,
        "start_rss_kib": start_rss_kib,
    }))
}

async fn upload(mode: Mode, url: &str, file: &Path) -> Result<String> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "accounts.csv".into());
    let part = match mode {
        Mode::Ergonomic => {
            let client = sailpoint_isc::Client::builder()
                .api_version(sailpoint_isc::ApiVersion::V2025)
                .base_url(url)
                .client_credentials(CLIENT_ID, CLIENT_SECRET)
                .build()?;
            let started = client
                .start_aggregation("bench-source")
                .file(file)
                .send()
                .await?;
            return Ok(started.task_id);
        }
        Mode::RawStream => {
            let handle = tokio::fs::File::open(file).await?;
            let len = handle.metadata().await?.len();
            let body = reqwest::Body::wrap_stream(ReaderStream::with_capacity(handle, RAW_CHUNK));
            Part::stream_with_length(body, len)
        }
        Mode::InMemory => Part::bytes(tokio::fs::read(file).await?),
    };
    let form = Form::new().part("file", part.file_name(name).mime_str("text/csv")?);
    let response = reqwest::Client::new()
        .post(format!("{url}/v2025/sources/bench-source/load-accounts"))
        .bearer_auth(STATIC_TOKEN)
        .multipart(form)
        .send()
        .await?;
    ensure!(
        response.status() == reqwest::StatusCode::ACCEPTED,
        "upload answered {}",
        response.status()
    );
    let body: Value = response.json().await?;
    body["task"]["id"]
        .as_str()
        .map(str::to_owned)
        .context("no task.id in the response")
}

/// A CSV of exactly `size` bytes under `dir` and its SHA-256, reused when one of that size and
/// its recorded hash exist.
pub fn ensure_csv(dir: &Path, size: u64) -> Result<(PathBuf, String)> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("accounts-{}MiB.csv", size / MIB));
    let sha_path = path.with_extension("csv.sha256");
    if let (Ok(meta), Ok(recorded)) = (std::fs::metadata(&path), std::fs::read_to_string(&sha_path))
        && meta.len() == size
    {
        let mut fields = recorded.split_whitespace();
        if let (Some(sha), Some(len)) = (fields.next(), fields.next())
            && len == size.to_string()
            && sha.len() == 64
        {
            return Ok((path, sha.to_owned()));
        }
        // A file of the right size without a usable hash: hash it.
        let sha = hash_file(&path)?;
        std::fs::write(&sha_path, format!("{sha} {size}\n"))?;
        return Ok((path, sha));
    }
    let sha = write_csv(&path, size)?;
    std::fs::write(&sha_path, format!("{sha} {size}\n"))?;
    Ok((path, sha))
}

fn hash_file(path: &Path) -> Result<String> {
    let mut reader = BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut hasher = Sha256::new();
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        hasher.update(buf);
        let n = buf.len();
        reader.consume(n);
    }
    Ok(hex(&hasher.finalize()))
}

/// Writes deterministic account rows until the file is exactly `size` bytes; returns its hash.
fn write_csv(path: &Path, size: u64) -> Result<String> {
    let tmp = path.with_extension("csv.partial");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    let mut emit = |bytes: &[u8], written: &mut u64| -> Result<()> {
        out.write_all(bytes)?;
        hasher.update(bytes);
        *written += bytes.len() as u64;
        Ok(())
    };
    let header = b"id,displayName,email,department,manager,status\n";
    ensure!(size > header.len() as u64, "file too small");
    emit(header, &mut written)?;
    let departments = ["Engineering", "Finance", "Sales", "Support", "Legal", "HR"];
    let mut row = String::with_capacity(128);
    let mut i = 0u64;
    loop {
        row.clear();
        use std::fmt::Write as _;
        let _ = writeln!(
            row,
            "{i:010},User {i},user{i}@example.com,{},{:010},{}",
            departments[(i % departments.len() as u64) as usize],
            i / 10,
            if i.is_multiple_of(17) {
                "inactive"
            } else {
                "active"
            }
        );
        let remaining = size - written;
        if (row.len() as u64) < remaining {
            emit(row.as_bytes(), &mut written)?;
            i += 1;
            continue;
        }
        // Last row: pad (or cut) an id-only row to land exactly on `size`.
        let mut last = format!("{i:010}").into_bytes();
        last.resize(remaining as usize - 1, b'x');
        last.push(b'\n');
        emit(&last, &mut written)?;
        break;
    }
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, path)?;
    Ok(hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_exact_size_and_recorded_hash() {
        let dir = std::env::temp_dir().join(format!("isc-bench-csv-{}", std::process::id()));
        let (path, sha) = ensure_csv(&dir, MIB).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), MIB);
        assert_eq!(hash_file(&path).unwrap(), sha);
        let (_, again) = ensure_csv(&dir, MIB).unwrap();
        assert_eq!(again, sha);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
