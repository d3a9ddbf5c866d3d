//! Stop signals: the first SIGINT or SIGTERM asks the command to stop cleanly, a second one ends
//! the process at once. Exit codes 130 (SIGINT) and 143 (SIGTERM), as shells report them.

use std::sync::{Arc, OnceLock};

use sailpoint_isc::CancellationToken;

/// Which signal stopped the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (what schedulers send on a timeout or redeploy).
    Terminate,
}

impl Signal {
    /// The exit code: 128 + the signal's number.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    /// The signal's name.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// The command's stop request: cancelled on the first signal.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    token: CancellationToken,
    signal: Arc<OnceLock<Signal>>,
}

impl Stop {
    /// A stop request nothing has asked for yet (no signal handlers).
    pub fn new() -> Self {
        Self::default()
    }

    /// Listens for SIGINT and SIGTERM (Ctrl-C only, off Unix) on the current runtime. The first
    /// cancels [`token`](Self::token); a second exits at once with its code.
    pub fn install() -> Self {
        let stop = Stop::new();
        let listener = stop.clone();
        tokio::spawn(async move {
            let Some(first) = next_signal().await else {
                return;
            };
            listener.request(first);
            if let Some(second) = next_signal().await {
                eprintln!("{}: second stop signal; exiting now", second.name());
                std::process::exit(i32::from(second.exit_code()));
            }
        });
        stop
    }

    /// Records `signal` (the first one wins) and cancels the token.
    pub fn request(&self, signal: Signal) {
        if self.signal.set(signal).is_ok() {
            eprintln!(
                "{}: stopping: nothing new is started; what is in flight is settled, then \
                 reported (a second signal exits at once)",
                signal.name()
            );
        }
        self.token.cancel();
    }

    /// The token cancelled on the first signal (hand it to the SDK's `cancel_on`).
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// The signal that stopped the command, if any.
    pub fn signal(&self) -> Option<Signal> {
        self.signal.get().copied()
    }
}

#[cfg(unix)]
async fn next_signal() -> Option<Signal> {
    use std::sync::Mutex;
    use tokio::signal::unix::{SignalKind, signal};
    // The streams are created once and kept, so no signal is lost between the two waits.
    static STREAMS: OnceLock<
        Mutex<Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>>,
    > = OnceLock::new();
    let streams = STREAMS.get_or_init(|| {
        Mutex::new(
            signal(SignalKind::interrupt())
                .and_then(|i| Ok((i, signal(SignalKind::terminate())?)))
                .ok(),
        )
    });
    let taken = streams.lock().ok()?.take();
    let (mut interrupt, mut terminate) = taken?;
    let received = tokio::select! {
        Some(()) = interrupt.recv() => Some(Signal::Interrupt),
        Some(()) = terminate.recv() => Some(Signal::Terminate),
        else => None,
    };
    if let Ok(mut slot) = streams.lock() {
        *slot = Some((interrupt, terminate));
    }
    received
}

#[cfg(not(unix))]
async fn next_signal() -> Option<Signal> {
    tokio::signal::ctrl_c()
        .await
        .ok()
        .map(|()| Signal::Interrupt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_first_signal_wins() {
        assert_eq!(Signal::Interrupt.exit_code(), 130);
        assert_eq!(Signal::Terminate.exit_code(), 143);
        let stop = Stop::new();
        assert_eq!(stop.signal(), None);
        assert!(!stop.token().is_cancelled());
        stop.request(Signal::Terminate);
        stop.request(Signal::Interrupt);
        assert_eq!(stop.signal(), Some(Signal::Terminate));
        assert!(stop.token().is_cancelled());
    }
}
