//! Area 4: upload integrity. Files that tempt a client to "fix" them (header only, one row, not
//! UTF-8, CRLF line ends) and a 200 MB file reach the simulated tenant byte for byte: the SHA-256
//! it computed while parsing the multipart stream equals the file's. Each is uploaded once
//! directly and once with the first attempt answered 429, which must resend the whole file.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use sailpoint_isc::{ApiVersion, Client, RetryConfig, TimeoutConfig};
use sailpoint_isc_sandbox::{Fault, Operation, Sandbox};
use sha2::{Digest, Sha256};

use crate::hygiene;
use crate::report::{Area, Seen, ensure};

/// Size of the large file.
const LARGE_BYTES: u64 = 200 * 1024 * 1024;

struct TestFile {
    label: &'static str,
    path: PathBuf,
    bytes: u64,
    sha256: String,
}

fn dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("isc-fault-suite-uploads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn small_file(label: &'static str, name: &str, contents: &[u8]) -> TestFile {
    let path = dir().join(name);
    std::fs::write(&path, contents).unwrap();
    TestFile {
        label,
        path,
        bytes: contents.len() as u64,
        sha256: format!("{:x}", Sha256::digest(contents)),
    }
}

/// Writes the large file in 1 MiB blocks, hashing as it goes.
fn large_file() -> TestFile {
    let path = dir().join("large.csv");
    let mut file =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    let header = b"id,userName,email,department,title,manager,location,description\n";
    file.write_all(header).unwrap();
    hasher.update(header);
    written += header.len() as u64;
    let mut block = Vec::with_capacity(1 << 20);
    let mut row = 0u64;
    while written < LARGE_BYTES {
        block.clear();
        while block.len() < (1 << 20) - 512 {
            writeln!(
                block,
                "{row},user{row},user{row}@example.com,Department {},Engineer {},manager{},Site {},\"row {row}, with a comma and some padding text to make rows long enough\"",
                row % 97,
                row % 13,
                row / 50,
                row % 7
            )
            .unwrap();
            row += 1;
        }
        let take = block.len().min((LARGE_BYTES - written) as usize);
        // Cut at a line end so the file stays well-formed.
        let cut = block[..take]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(take, |p| p + 1);
        file.write_all(&block[..cut]).unwrap();
        hasher.update(&block[..cut]);
        written += cut as u64;
        if cut < block.len() {
            break;
        }
    }
    file.flush().unwrap();
    TestFile {
        label: "200 MB",
        path,
        bytes: written,
        sha256: format!("{:x}", hasher.finalize()),
    }
}

fn files() -> Vec<TestFile> {
    let mut non_utf8 =
        b"id,name,city\n1,Ren\xe9e,Z\xfcrich\n2,\xff\xfe\x00bytes,\xc3\x28\n".to_vec();
    non_utf8.extend_from_slice(b"3,plain,Oslo\n");
    vec![
        small_file("0 rows, header only", "header-only.csv", b"id,name,email\n"),
        small_file("1 row, no final newline", "one-row.csv", b"id,name\n1,Ada"),
        small_file(
            "not UTF-8 (Latin-1, invalid sequences, NUL)",
            "latin1.csv",
            &non_utf8,
        ),
        small_file(
            "CRLF line ends",
            "crlf.csv",
            b"id,name\r\n1,Ada\r\n2,Grace\r\n",
        ),
    ]
}

fn client(sandbox: &Sandbox) -> Client {
    Client::builder()
        .base_url(sandbox.base_url())
        .client_credentials(sandbox.client_id(), sandbox.client_secret())
        .api_version(ApiVersion::V2025)
        .retry(
            RetryConfig::standard()
                .with_backoff(Duration::from_millis(20), Duration::from_millis(100)),
        )
        .timeouts(TimeoutConfig::standard().with_total_deadline(Some(Duration::from_secs(600))))
        .build()
        .expect("client builds")
}

async fn upload(
    sandbox: &Sandbox,
    file: &TestFile,
    source: usize,
    first_429: bool,
) -> Result<(Seen, String), String> {
    let before_requests = sandbox.requests().len();
    let before_imports = sandbox.request_count(Operation::ImportAccounts);
    let before_uploads = sandbox.uploads().len();
    if first_429 {
        sandbox.inject(
            Operation::ImportAccounts,
            Fault::status_with_retry_after(429, 0),
            1,
        );
    }
    let source_id = format!("2c9180835d2e5168015d32f890ca{source:04x}");
    let started = client(sandbox)
        .start_aggregation(&source_id)
        .file(&file.path)
        .send()
        .await;
    hygiene::note_tokens(sandbox.issued_tokens());
    let started = started.map_err(|e| {
        hygiene::note_error(&e);
        format!("upload failed: {e}")
    })?;
    let imports = sandbox.request_count(Operation::ImportAccounts) - before_imports;
    let expected_imports = if first_429 { 2 } else { 1 };
    ensure(imports == expected_imports, || {
        format!("{imports} import requests, expected exactly {expected_imports}")
    })?;
    let uploads = sandbox.uploads();
    let new: Vec<_> = uploads[before_uploads..].iter().collect();
    ensure(new.len() == 1, || {
        format!("{} uploads recorded, expected 1", new.len())
    })?;
    let received = new[0].file.as_ref().ok_or("no file part received")?;
    ensure(new[0].aggregation_id == started.task_id, || {
        "task id mismatch".into()
    })?;
    ensure(received.bytes == file.bytes, || {
        format!("received {} bytes of {}", received.bytes, file.bytes)
    })?;
    ensure(received.sha256 == file.sha256, || {
        format!(
            "SHA-256 differs: sent {}, received {}",
            file.sha256, received.sha256
        )
    })?;
    Ok((
        Seen {
            requests: sandbox.requests().len() - before_requests,
            duplicates: new.len().saturating_sub(1),
        },
        format!(
            "{} bytes, SHA-256 {}… equal, {} import request(s), {} row(s) counted",
            file.bytes,
            &file.sha256[..12],
            imports,
            received.rows
        ),
    ))
}

/// Runs the area.
pub async fn run() -> Area {
    let mut area = Area::new("upload integrity");
    let sandbox = Sandbox::builder()
        .no_rate_limit()
        .start()
        .await
        .expect("sandbox starts");
    hygiene::note_secret(sandbox.client_secret());
    let sandbox = std::sync::Arc::new(sandbox);
    let mut all = files();
    all.push(
        tokio::task::spawn_blocking(large_file)
            .await
            .expect("large file written"),
    );
    let mut source = 0;
    for file in all {
        let file = std::sync::Arc::new(file);
        for first_429 in [false, true] {
            source += 1;
            let name = format!(
                "{}{}",
                file.label,
                if first_429 {
                    ", first attempt answered 429"
                } else {
                    ""
                }
            );
            let (sb, f) = (sandbox.clone(), file.clone());
            area.run(
                name,
                async move { upload(&sb, &f, source, first_429).await },
            )
            .await;
        }
        if file.bytes >= LARGE_BYTES / 2 {
            let _ = std::fs::remove_file(&file.path);
        }
    }
    area
}
