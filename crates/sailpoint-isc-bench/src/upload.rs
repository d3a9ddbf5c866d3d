//! Figure 2: uploading a large CSV. Each upload runs in its own child process (this binary
//! re-executed with the hidden `__upload-child` command) so that the peak RSS it reports
//! (`VmHWM`) is the uploader's own; the sink runs in the parent and hashes the file part.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_util::io::ReaderStream;

use crate::server::{BenchServer, CLIENT_ID, CLIENT_SECRET, STATIC_TOKEN, hex};
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
                let before = server.state().uploads.lock().map(|u| u.len()).unwrap_or(0);
                let sample = run_child(&exe, mode, &url, &path)
                    .with_context(|| format!("{} upload of {size_mib} MiB", mode.key()))?;
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
                    record.sha256 == sha && record.file_bytes == size_mib * MIB,
                    "{} upload of {size_mib} MiB: the sink got {} bytes with SHA-256 {}, the file has {} bytes with {}",
                    mode.key(),
                    record.file_bytes,
                    record.sha256,
                    size_mib * MIB,
                    sha
                );
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
