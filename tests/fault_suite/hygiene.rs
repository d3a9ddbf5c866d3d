//! Secret hygiene bookkeeping for the whole suite: every `tracing` event at TRACE is captured in
//! memory, every error the SDK returned is kept as `Display` and `Debug` text (with its source
//! chain), every panic message is kept, and every secret and token any server issued is known.
//! The `secrets` area scans all of it at the end.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use sailpoint_isc::Error;

/// The client id every suite client uses.
pub const CLIENT_ID: &str = "fault-suite-client";

#[derive(Default)]
struct Collected {
    secrets: Vec<String>,
    tokens: Vec<String>,
    texts: Vec<String>,
    panics: Vec<String>,
}

static COLLECTED: Mutex<Collected> = Mutex::new(Collected {
    secrets: Vec::new(),
    tokens: Vec::new(),
    texts: Vec::new(),
    panics: Vec::new(),
});
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static SECRET: OnceLock<String> = OnceLock::new();

fn collected() -> std::sync::MutexGuard<'static, Collected> {
    COLLECTED.lock().unwrap_or_else(|e| e.into_inner())
}

/// The client secret every suite client uses (random per run).
pub fn client_secret() -> String {
    SECRET
        .get_or_init(|| {
            let secret = format!("fs-secret-{:016x}", crate::wire::fastrand_u64());
            collected().secrets.push(secret.clone());
            secret
        })
        .clone()
}

/// Remembers another secret to look for.
pub fn note_secret(secret: impl Into<String>) {
    collected().secrets.push(secret.into());
}

/// Remembers tokens a server issued.
pub fn note_tokens(tokens: impl IntoIterator<Item = String>) {
    collected().tokens.extend(tokens);
}

/// Remembers text the SDK produced (e.g. a `Debug` rendering).
pub fn note_text(text: impl Into<String>) {
    collected().texts.push(text.into());
}

/// Remembers an error's `Display`, `Debug` and source chain.
pub fn note_error(error: &Error) {
    let mut texts = vec![error.to_string(), format!("{error:?}")];
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        texts.push(s.to_string());
        source = s.source();
    }
    collected().texts.extend(texts);
}

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures all `tracing` events at TRACE into memory and records panic messages. Call once,
/// first.
pub fn install() {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(|| LogWriter)
        .init();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let seen = {
            let mut c = collected();
            c.panics.push(info.to_string());
            c.panics.len()
        };
        // Shrinking a fuzz failure panics many times; show the first few only.
        if seen <= 3 {
            previous(info);
        } else if seen == 4 {
            eprintln!("(further panics are recorded but not printed)");
        }
    }));
}

/// What was captured, for the final scan.
pub struct Capture {
    /// Captured log lines.
    pub log_lines: Vec<String>,
    /// Error and `Debug` texts.
    pub texts: Vec<String>,
    /// Panic messages.
    pub panics: Vec<String>,
    /// Secrets and tokens to look for.
    pub needles: Vec<String>,
    /// How many of the needles are tokens.
    pub tokens: usize,
}

/// A snapshot of everything captured so far.
pub fn capture() -> Capture {
    let log = String::from_utf8_lossy(&LOG.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    let c = collected();
    let mut needles: Vec<String> = c.secrets.iter().chain(&c.tokens).cloned().collect();
    needles.sort();
    needles.dedup();
    Capture {
        log_lines: log.lines().map(str::to_owned).collect(),
        texts: c.texts.clone(),
        panics: c.panics.clone(),
        tokens: c.tokens.len(),
        needles,
    }
}

/// The first needle found in any of `haystacks`, with where.
pub fn find_leak<'a>(needles: &'a [String], haystacks: &'a [String]) -> Option<(&'a str, &'a str)> {
    haystacks.iter().find_map(|h| {
        needles
            .iter()
            .find(|n| !n.is_empty() && h.contains(n.as_str()))
            .map(|n| (n.as_str(), h.as_str()))
    })
}
