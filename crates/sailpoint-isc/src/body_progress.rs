//! How much of an upload's body has been handed to the connection, and when it last moved.
//!
//! One [`BodyProgress`] per attempt. The file stream counts every chunk it hands to the HTTP
//! connection; the executor reads the counts to bound an upload by *stall* (no bytes taken for a
//! while) instead of by size, and to tell a cut that provably left the request incomplete (ISC
//! cannot accept a multipart body it did not completely receive, so nothing started) from one
//! after the last byte (the outcome is unknown).
//!
//! Counting happens where chunks leave the file stream, so `sent` can run ahead of what the
//! server received (socket buffers) but never behind it: "not all sent" is always true when the
//! counter says so, which is the direction the exactly-once guarantee needs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Shared progress of one attempt's body (cheap to clone).
#[derive(Debug, Clone)]
pub(crate) struct BodyProgress(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// Times below are nanoseconds since this instant.
    origin: Instant,
    /// Bytes of the streamed part handed to the connection.
    sent: AtomicU64,
    /// The streamed part's length; `u64::MAX` until a streamed part is attached.
    total: AtomicU64,
    /// When the last chunk was handed over (or the attempt began).
    last_moved: AtomicU64,
    /// Whether the last byte has been handed over.
    complete: AtomicBool,
    /// When the last byte was handed over.
    completed_at: AtomicU64,
    /// Woken when the last byte is handed over (the stall timer gives way to the answer's).
    completion: tokio::sync::Notify,
}

/// Where an attempt's body stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyState {
    /// Still sending: `sent` of `total` bytes, last moved at `last_moved`.
    Sending {
        sent: u64,
        total: u64,
        last_moved: Instant,
    },
    /// Every byte has been handed to the connection at `at` (or there is no streamed part).
    Sent { at: Instant },
}

impl BodyProgress {
    /// Progress of an attempt starting now, with no streamed part yet (a body without a streamed
    /// part counts as sent as soon as the attempt starts).
    pub(crate) fn new() -> Self {
        BodyProgress(Arc::new(Inner {
            origin: Instant::now(),
            sent: AtomicU64::new(0),
            total: AtomicU64::new(u64::MAX),
            last_moved: AtomicU64::new(0),
            complete: AtomicBool::new(false),
            completed_at: AtomicU64::new(0),
            completion: tokio::sync::Notify::new(),
        }))
    }

    fn nanos_since_origin(&self) -> u64 {
        u64::try_from(self.0.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn at(&self, nanos: u64) -> Instant {
        self.0.origin + Duration::from_nanos(nanos)
    }

    /// Wraps a byte stream of `total` bytes so that it reports to this progress.
    pub(crate) fn track<S>(&self, total: u64, stream: S) -> Counted<S> {
        self.0.total.store(total, Ordering::Release);
        self.0
            .last_moved
            .store(self.nanos_since_origin(), Ordering::Release);
        if total == 0 {
            self.mark_complete();
        }
        Counted {
            inner: stream,
            progress: self.clone(),
        }
    }

    fn record(&self, n: usize) {
        let now = self.nanos_since_origin();
        let sent = self.0.sent.fetch_add(n as u64, Ordering::AcqRel) + n as u64;
        self.0.last_moved.store(now, Ordering::Release);
        if sent >= self.0.total.load(Ordering::Acquire) {
            self.mark_complete();
        }
    }

    fn mark_complete(&self) {
        if !self.0.complete.load(Ordering::Acquire) {
            self.0
                .completed_at
                .store(self.nanos_since_origin(), Ordering::Release);
            self.0.complete.store(true, Ordering::Release);
            self.0.completion.notify_waiters();
        }
    }

    /// Bytes of the streamed part handed over so far.
    pub(crate) fn sent(&self) -> u64 {
        self.0.sent.load(Ordering::Acquire)
    }

    /// The streamed part's length, if one is attached.
    pub(crate) fn total(&self) -> Option<u64> {
        Some(self.0.total.load(Ordering::Acquire)).filter(|t| *t != u64::MAX)
    }

    /// Whether every byte has been handed over (true without a streamed part).
    pub(crate) fn is_complete(&self) -> bool {
        self.total().is_none() || self.0.complete.load(Ordering::Acquire)
    }

    /// Where the body stands now.
    pub(crate) fn state(&self) -> BodyState {
        match self.total() {
            None => BodyState::Sent { at: self.0.origin },
            Some(_) if self.0.complete.load(Ordering::Acquire) => BodyState::Sent {
                at: self.at(self.0.completed_at.load(Ordering::Acquire)),
            },
            Some(total) => BodyState::Sending {
                sent: self.sent(),
                total,
                last_moved: self.at(self.0.last_moved.load(Ordering::Acquire)),
            },
        }
    }
}

/// A byte stream that reports each chunk to a [`BodyProgress`].
#[derive(Debug)]
pub(crate) struct Counted<S> {
    inner: S,
    progress: BodyProgress,
}

impl<S, E> Stream for Counted<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => self.progress.record(chunk.len()),
            Poll::Ready(None) => self.progress.mark_complete(),
            _ => {}
        }
        polled
    }
}

/// Why an upload attempt was cut by its own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UploadLimit {
    /// No byte of the body was taken for the stall timeout.
    Stalled { sent: u64, total: u64 },
    /// Every byte was sent, but no answer came within the response timeout (or, once cancelled,
    /// within the settle time).
    NoAnswer { cancelled: bool },
    /// Cancelled before the last byte was handed over.
    Cancelled { sent: u64, total: u64 },
}

/// The limits [`watch`] applies to one attempt.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits<'a> {
    /// Longest time without progress while sending.
    pub(crate) stall: Duration,
    /// Longest wait for the answer after the last byte.
    pub(crate) response: Duration,
    /// A cancellation: before the last byte it cuts the attempt at once; after it, the answer
    /// is awaited for at most `settle` more.
    pub(crate) cancel: Option<&'a CancellationToken>,
    /// See `cancel`.
    pub(crate) settle: Duration,
}

/// Runs one upload attempt, cut when its body stalls for `stall` or when no answer arrives
/// within `response` after its last byte. A body that keeps moving is never cut, whatever its
/// size. The attempt comes pinned by the caller, so this future holds a reference to it
/// rather than a second copy of it.
pub(crate) async fn watch<F: Future>(
    mut attempt: Pin<&mut F>,
    progress: &BodyProgress,
    limits: Limits<'_>,
) -> Result<F::Output, UploadLimit> {
    let mut cancelled_at: Option<Instant> = None;
    loop {
        let limit_at = |state: BodyState, cancelled_at: Option<Instant>| match state {
            BodyState::Sending { last_moved, .. } => last_moved.checked_add(limits.stall),
            BodyState::Sent { at } => {
                let answer = at.checked_add(limits.response);
                match cancelled_at.and_then(|c| c.checked_add(limits.settle)) {
                    Some(settle) => Some(answer.map_or(settle, |a| a.min(settle))),
                    None => answer,
                }
            }
        };
        // Registered before the state is read, so a completion in between is not missed.
        let mut completion = std::pin::pin!(progress.0.completion.notified());
        completion.as_mut().enable();
        let wake_at = limit_at(progress.state(), cancelled_at);
        let mut sleep = std::pin::pin!(async {
            match wake_at {
                Some(at) => tokio::time::sleep_until(at).await,
                // A limit beyond the clock's range: practically forever.
                None => std::future::pending().await,
            }
        });
        let watching = cancelled_at.is_none();
        let mut cancellation = std::pin::pin!(async move {
            match limits.cancel {
                Some(token) if watching => token.cancelled().await,
                _ => std::future::pending().await,
            }
        });
        enum Woken<T> {
            Done(T),
            Timer,
            Cancel,
            Completed,
        }
        let woken = std::future::poll_fn(|cx| {
            if let Poll::Ready(output) = attempt.as_mut().poll(cx) {
                return Poll::Ready(Woken::Done(output));
            }
            if cancellation.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Woken::Cancel);
            }
            if completion.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Woken::Completed);
            }
            sleep.as_mut().poll(cx).map(|()| Woken::Timer)
        })
        .await;
        let state = progress.state();
        match woken {
            Woken::Done(output) => return Ok(output),
            // The last byte went: the answer's own limit from now on.
            Woken::Completed => {}
            Woken::Cancel => match state {
                BodyState::Sending { sent, total, .. } => {
                    return Err(UploadLimit::Cancelled { sent, total });
                }
                BodyState::Sent { .. } => cancelled_at = Some(Instant::now()),
            },
            Woken::Timer => {
                if limit_at(state, cancelled_at).is_some_and(|at| at <= Instant::now()) {
                    return Err(match state {
                        BodyState::Sending { sent, total, .. } => {
                            UploadLimit::Stalled { sent, total }
                        }
                        BodyState::Sent { .. } => UploadLimit::NoAnswer {
                            cancelled: cancelled_at.is_some(),
                        },
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn chunks(n: usize, size: usize) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        futures_util::stream::iter((0..n).map(move |_| Ok(Bytes::from(vec![b'x'; size]))))
    }

    #[tokio::test(start_paused = true)]
    async fn counts_until_complete() {
        let progress = BodyProgress::new();
        assert!(progress.is_complete(), "no streamed part: sent at once");
        let mut stream = progress.track(30, chunks(3, 10));
        assert!(!progress.is_complete());
        stream.next().await.unwrap().unwrap();
        stream.next().await.unwrap().unwrap();
        assert_eq!(progress.sent(), 20);
        assert!(matches!(
            progress.state(),
            BodyState::Sending {
                sent: 20,
                total: 30,
                ..
            }
        ));
        stream.next().await.unwrap().unwrap();
        assert!(progress.is_complete());
        assert!(matches!(progress.state(), BodyState::Sent { .. }));
    }

    /// A body that moves a chunk every second is never cut by a 2 s stall timeout, however long
    /// it takes; one that stops is cut 2 s after its last chunk.
    #[tokio::test(start_paused = true)]
    async fn stall_measures_progress_not_length() {
        let progress = BodyProgress::new();
        let stream = progress.track(100, chunks(100, 1));
        let slow = stream.then(|chunk| async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            chunk
        });
        let began = Instant::now();
        let attempt = slow.count();
        let counted = watch(std::pin::pin!(attempt), &progress, limits(2, 5, None)).await;
        assert_eq!(counted, Ok(100));
        assert_eq!(began.elapsed(), Duration::from_secs(100));

        let progress = BodyProgress::new();
        let mut stream = progress.track(100, chunks(100, 1));
        let began = Instant::now();
        let attempt = async move {
            for _ in 0..10 {
                stream.next().await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            std::future::pending::<()>().await
        };
        let cut = watch(std::pin::pin!(attempt), &progress, limits(2, 5, None)).await;
        assert_eq!(
            cut,
            Err(UploadLimit::Stalled {
                sent: 10,
                total: 100
            })
        );
        // The tenth chunk moved at 4.5 s; the stall limit is 2 s after it.
        assert_eq!(began.elapsed(), Duration::from_millis(6500));
    }

    /// After the last byte, the answer has its own limit.
    #[tokio::test(start_paused = true)]
    async fn answer_has_its_own_limit() {
        let progress = BodyProgress::new();
        let stream = progress.track(10, chunks(10, 1));
        let began = Instant::now();
        let attempt = async move {
            let _ = stream.count().await;
            std::future::pending::<()>().await
        };
        let cut = watch(std::pin::pin!(attempt), &progress, limits(2, 7, None)).await;
        assert_eq!(cut, Err(UploadLimit::NoAnswer { cancelled: false }));
        assert_eq!(began.elapsed(), Duration::from_secs(7));

        // A stall limit longer than the answer's does not delay it.
        let progress = BodyProgress::new();
        let stream = progress.track(10, chunks(10, 1));
        let began = Instant::now();
        let attempt = async move {
            let _ = stream.count().await;
            std::future::pending::<()>().await
        };
        let cut = watch(std::pin::pin!(attempt), &progress, limits(60, 3, None)).await;
        assert_eq!(cut, Err(UploadLimit::NoAnswer { cancelled: false }));
        assert_eq!(began.elapsed(), Duration::from_secs(3));

        // Limits at Duration::MAX mean "practically forever", without overflow.
        let progress = BodyProgress::new();
        let forever = Limits {
            stall: Duration::MAX,
            response: Duration::MAX,
            cancel: None,
            settle: Duration::MAX,
        };
        let done = watch(std::pin::pin!(async { 7 }), &progress, forever).await;
        assert_eq!(done, Ok(7));
    }

    /// Cancelled while sending: cut at once (nothing started). Cancelled after the last byte:
    /// the answer is awaited for the settle time, then it is "no answer".
    #[tokio::test(start_paused = true)]
    async fn cancellation_cuts_a_body_but_settles_a_sent_one() {
        let token = CancellationToken::new();
        let progress = BodyProgress::new();
        let mut stream = progress.track(10, chunks(10, 1));
        let attempt = async move {
            for _ in 0..3 {
                stream.next().await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            std::future::pending::<()>().await
        };
        let canceller = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(2500)).await;
            canceller.cancel();
        });
        let began = Instant::now();
        let cut = watch(
            std::pin::pin!(attempt),
            &progress,
            limits(60, 60, Some(&token)),
        )
        .await;
        assert_eq!(cut, Err(UploadLimit::Cancelled { sent: 3, total: 10 }));
        assert_eq!(began.elapsed(), Duration::from_millis(2500));

        let token = CancellationToken::new();
        let progress = BodyProgress::new();
        let stream = progress.track(2, chunks(2, 1));
        let attempt = async move {
            let _ = stream.count().await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            "answer"
        };
        token.cancel();
        let began = Instant::now();
        let settled = watch(
            std::pin::pin!(attempt),
            &progress,
            limits(60, 60, Some(&token)),
        )
        .await;
        assert_eq!(settled, Err(UploadLimit::NoAnswer { cancelled: true }));
        assert_eq!(began.elapsed(), Duration::from_secs(10));

        // An answer within the settle time is taken.
        let token = CancellationToken::new();
        let progress = BodyProgress::new();
        let stream = progress.track(2, chunks(2, 1));
        let attempt = async move {
            let _ = stream.count().await;
            tokio::time::sleep(Duration::from_secs(4)).await;
            "answer"
        };
        token.cancel();
        let settled = watch(
            std::pin::pin!(attempt),
            &progress,
            limits(60, 60, Some(&token)),
        )
        .await;
        assert_eq!(settled, Ok("answer"));
    }

    fn limits(stall: u64, response: u64, cancel: Option<&CancellationToken>) -> Limits<'_> {
        Limits {
            stall: Duration::from_secs(stall),
            response: Duration::from_secs(response),
            cancel,
            settle: Duration::from_secs(10),
        }
    }
}
