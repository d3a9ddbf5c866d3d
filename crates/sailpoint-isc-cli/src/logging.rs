//! `tracing` output on stderr, written around the progress bars so the two do not garble each other.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use indicatif::{MultiProgress, ProgressBar};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The progress bar (or the set of bars, for `batch`) currently drawn on stderr, if any; log
/// lines suspend it while they print.
#[derive(Debug, Clone, Default)]
pub struct ActiveBar(Arc<Mutex<Option<Drawn>>>);

/// What is drawn on stderr.
#[derive(Debug, Clone)]
enum Drawn {
    Bar(ProgressBar),
    Multi(MultiProgress),
}

impl Drawn {
    /// Runs `f` with the bars cleared from the terminal, then redraws them.
    fn suspend(&self, f: impl FnOnce()) {
        match self {
            Drawn::Bar(bar) if !bar.is_hidden() => bar.suspend(f),
            Drawn::Multi(multi) if !multi.is_hidden() => multi.suspend(f),
            _ => f(),
        }
    }
}

impl ActiveBar {
    pub fn set(&self, bar: Option<ProgressBar>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = bar.map(Drawn::Bar);
    }

    /// For `batch`: one bar per running aggregation and a total, all in one `MultiProgress`.
    pub fn set_multi(&self, multi: Option<MultiProgress>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = multi.map(Drawn::Multi);
    }

    fn get(&self) -> Option<Drawn> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The filter for a `-v` count: warnings by default (retries are warnings), debug for the SDK and
/// this command with `-v`, everything with `-vv`. `RUST_LOG`, when set, wins.
pub fn filter_for(verbosity: u8) -> String {
    if let Ok(from_env) = std::env::var("RUST_LOG")
        && !from_env.trim().is_empty()
    {
        return from_env;
    }
    match verbosity {
        0 => "warn".to_owned(),
        1 => "warn,sailpoint_isc=debug,isc_aggregate=debug,sailpoint_isc_sandbox=info".to_owned(),
        _ => "trace".to_owned(),
    }
}

/// Installs the subscriber, and with it the bridge that turns `log` records (what reqwest, rustls
/// and hyper write) into `tracing` events, filtered by their own targets like any other (so
/// `-vv` or `RUST_LOG=reqwest=debug` shows them). Secrets are never logged by the SDK (they are
/// redacted types, and the `Authorization` header is marked sensitive).
pub fn init(verbosity: u8, bar: ActiveBar) {
    let filter =
        EnvFilter::try_new(filter_for(verbosity)).unwrap_or_else(|_| EnvFilter::new("warn"));
    let ansi = std::io::IsTerminal::is_terminal(&io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(StderrAroundBar(bar))
        .with_ansi(ansi)
        .with_target(verbosity > 0)
        .try_init();
}

struct StderrAroundBar(ActiveBar);

impl<'a> MakeWriter<'a> for StderrAroundBar {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            bar: self.0.get(),
            buf: Vec::new(),
        }
    }
}

/// Collects one event and writes it on drop, with the bars (if any) hidden meanwhile.
struct LineWriter {
    bar: Option<Drawn>,
    buf: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let write = || {
            let _ = io::stderr().lock().write_all(&self.buf);
        };
        match &self.bar {
            Some(drawn) => drawn.suspend(write),
            None => write(),
        }
    }
}
