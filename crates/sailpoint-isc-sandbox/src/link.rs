//! A simulated network link between clients and the sandbox: bandwidth and latency per
//! connection, to reproduce slow office links on loopback (time-scaled: small files, low rates).
//!
//! Every accepted connection is wrapped in a [`LinkedStream`], which paces the server's reads
//! and writes by the current [`Link`], and enforces a [`ReadLimit`] that a handler may set
//! (for [`Fault::CutBody`](crate::Fault::CutBody) and
//! [`Fault::StopReading`](crate::Fault::StopReading)). To make such limits exact, it reads each
//! request's head and the first KiB of its body in small pieces; after that, with an
//! unlimited link (the default) and no limit, it passes reads and writes straight through.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, Sleep};

/// The simulated network link between each client connection and the sandbox.
///
/// Plain data; the default is [`Link::unlimited`]. Set it with
/// [`SandboxBuilder::link`](crate::SandboxBuilder::link) or, while the sandbox runs, with
/// [`Sandbox::set_link`](crate::Sandbox::set_link).
///
/// The model, per TCP connection:
///
/// * **Bandwidth**: the server reads what the client sends (the upload direction) at most
///   [`bandwidth`](Link::bandwidth) bytes per second, and writes its responses at most that fast
///   too; each direction has its own budget, refilled continuously and capped at a twentieth of
///   a second's worth (at least 1 KiB), so a connection cannot save up a burst and transfers
///   proceed in small, even steps. What the server does not read stays in the operating
///   system's socket buffers, and once those are full the client's writes block, as on a slow
///   link.
/// * **Latency**: a one-way delay charged once per request, on the way in. When data arrives
///   on a connection the server has not read from yet, or has written to since it last read
///   (a new request after a response), the server reads it [`latency`](Link::latency) after
///   it arrived. So each request/response exchange takes at least `latency` longer; responses
///   are not delayed further.
///
/// ```
/// use std::time::Duration;
/// use sailpoint_isc_sandbox::Link;
///
/// // A 256 KiB/s office uplink, 50 ms away.
/// let link = Link::unlimited()
///     .with_bandwidth(256 * 1024)
///     .with_latency(Duration::from_millis(50));
/// assert!(!link.is_unlimited());
/// assert!(Link::default().is_unlimited());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Link {
    /// Bytes per second per connection and direction; `None` is unlimited. `Some(0)` is taken
    /// as 1 byte per second.
    pub bandwidth: Option<u64>,
    /// The one-way delay before the server reads a request's first bytes (see [`Link`]).
    pub latency: Duration,
}

impl Link {
    /// No bandwidth limit and no latency: the link of loopback itself (the default).
    pub const fn unlimited() -> Self {
        Self {
            bandwidth: None,
            latency: Duration::ZERO,
        }
    }

    /// This link with a bandwidth of `bytes_per_second` per connection and direction.
    pub const fn with_bandwidth(mut self, bytes_per_second: u64) -> Self {
        self.bandwidth = Some(bytes_per_second);
        self
    }

    /// This link with a `latency` (one-way delay) before each request is read.
    pub const fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Whether the link neither limits bandwidth nor adds latency.
    pub const fn is_unlimited(&self) -> bool {
        self.bandwidth.is_none() && self.latency.is_zero()
    }

    /// The bandwidth as a usable rate (at least 1 byte per second).
    fn rate(&self) -> Option<u64> {
        self.bandwidth.map(|b| b.max(1))
    }
}

/// The largest budget a direction may hold, and the largest single read or write: a twentieth
/// of a second's worth, at least 1 KiB (or the whole rate, if that is smaller).
fn quantum(rate: u64) -> u64 {
    (rate / 20).max(rate.min(1024))
}

/// How long `bytes` take at `rate` bytes per second, rounded up.
fn time_for(bytes: u64, rate: u64) -> Duration {
    let nanos = (u128::from(bytes) * 1_000_000_000).div_ceil(u128::from(rate));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// One direction's byte budget (a token bucket holding at most one [`quantum`]).
#[derive(Debug)]
struct Bucket {
    tokens: u64,
    /// The time up to which refills have been credited.
    refilled: Instant,
}

impl Bucket {
    fn new(now: Instant) -> Self {
        Self {
            tokens: u64::MAX,
            refilled: now,
        }
    }

    /// Credits the bytes `rate` allows since the last refill, up to one quantum.
    fn refill(&mut self, now: Instant, rate: u64) {
        let cap = quantum(rate);
        let elapsed = now.saturating_duration_since(self.refilled).as_nanos();
        let add = elapsed * u128::from(rate) / 1_000_000_000;
        let tokens = u128::from(self.tokens.min(cap)) + add;
        if tokens >= u128::from(cap) {
            self.tokens = cap;
            self.refilled = now;
        } else if add > 0 {
            // Credit only the time those whole bytes took (rounded down), so the fraction of a
            // byte still owed is kept for the next refill.
            self.tokens = tokens as u64;
            let nanos = add * 1_000_000_000 / u128::from(rate);
            self.refilled += Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        } else {
            self.tokens = tokens as u64;
        }
    }

    /// How many bytes may pass now (at most one quantum), or, when none may, the instant at
    /// which a full quantum will have been credited.
    fn allowance(&mut self, now: Instant, rate: u64) -> Result<u64, Instant> {
        self.refill(now, rate);
        if self.tokens > 0 {
            Ok(self.tokens)
        } else {
            Err(self.refilled + time_for(quantum(rate), rate))
        }
    }

    fn spend(&mut self, n: usize) {
        self.tokens = self.tokens.saturating_sub(n as u64);
    }
}

/// Waits on `sleep` (created on first use) until `deadline`.
fn poll_sleep_until(
    sleep: &mut Option<Pin<Box<Sleep>>>,
    deadline: Instant,
    cx: &mut Context<'_>,
) -> Poll<()> {
    let sleep = match sleep {
        Some(s) => {
            if s.deadline() != deadline {
                s.as_mut().reset(deadline);
            }
            s
        }
        None => sleep.insert(Box::pin(tokio::time::sleep_until(deadline))),
    };
    sleep.as_mut().poll(cx)
}

/// How much of a request's body the server may read from its connection; unlimited unless a
/// handler sets a limit (for faults in the middle of a body). Once that much of the body has
/// been read, reads wait forever: the connection is dropped, or held until the sandbox shuts
/// down.
#[derive(Debug)]
pub(crate) struct ReadLimit {
    /// The limit in body bytes of the current request; `u64::MAX` is none.
    body_bytes: AtomicU64,
    reached: Notify,
}

impl Default for ReadLimit {
    fn default() -> Self {
        Self {
            body_bytes: AtomicU64::new(u64::MAX),
            reached: Notify::new(),
        }
    }
}

impl ReadLimit {
    fn get(&self) -> Option<u64> {
        let n = self.body_bytes.load(Ordering::Acquire);
        (n != u64::MAX).then_some(n)
    }

    /// Reads no more of the current request's body than its first `bytes` bytes (counted from
    /// the end of its head, as sent: with chunked encoding, the chunks' framing counts too).
    pub(crate) fn limit_body(&self, bytes: u64) {
        self.body_bytes
            .store(bytes.min(u64::MAX - 1), Ordering::Release);
    }

    /// Completes after the limit has been reached (when the next read would have to wait).
    pub(crate) async fn reached(&self) {
        self.reached.notified().await;
    }
}

/// The largest read while a request's head, and the first KiB of its body, are read: so that
/// little more than its head is read before the request is handled (and a handler can still
/// set a [`ReadLimit`]). Longer heads are simply read in several pieces.
const SMALL_READ: u64 = 1024;

/// Where the server is in reading the current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing read since the server last wrote (or since the connection opened).
    Start,
    /// Part of the head read; how much of the blank line that ends it has been seen.
    Head(u8),
    /// The head read, and this many bytes after it (the body).
    Body(u64),
}

impl Phase {
    /// The phase after reading `bytes` (not empty).
    fn advance(self, bytes: &[u8]) -> Phase {
        let mut seen = match self {
            Phase::Start => 0,
            Phase::Head(seen) => seen,
            Phase::Body(n) => return Phase::Body(n + bytes.len() as u64),
        };
        for (i, &b) in bytes.iter().enumerate() {
            // The head ends at an empty line: `\n\n` or `\n\r\n`.
            seen = match (seen, b) {
                (1 | 2, b'\n') => return Phase::Body((bytes.len() - i - 1) as u64),
                (_, b'\n') => 1,
                (1, b'\r') => 2,
                _ => 0,
            };
        }
        Phase::Head(seen)
    }

    /// The most one read may take in this phase.
    fn read_cap(self) -> u64 {
        match self {
            Phase::Body(n) if n >= SMALL_READ => u64::MAX,
            Phase::Body(n) => SMALL_READ - n,
            Phase::Start | Phase::Head(_) => SMALL_READ,
        }
    }

    /// Body bytes read so far.
    fn body_read(self) -> u64 {
        match self {
            Phase::Body(n) => n,
            Phase::Start | Phase::Head(_) => 0,
        }
    }
}

/// An accepted connection seen through the current [`Link`] and its [`ReadLimit`].
///
/// Changes to the link ([`Sandbox::set_link`](crate::Sandbox::set_link)) apply to open
/// connections too, from their next read or write on (a wait already under way ends first).
///
/// It follows each request through its head and body (a request starts with the first read
/// after the server wrote), reading the head and the body's first KiB in small pieces; then,
/// with an unlimited link and no read limit, reads pass straight through.
#[derive(Debug)]
pub(crate) struct LinkedStream {
    inner: TcpStream,
    read_limit: Arc<ReadLimit>,
    updates: watch::Receiver<Link>,
    link: Link,
    phase: Phase,
    /// When the current request's first bytes may be read (latency), once they arrived.
    turn_ready: Option<Instant>,
    read_pace: Bucket,
    write_pace: Bucket,
    read_sleep: Option<Pin<Box<Sleep>>>,
    write_sleep: Option<Pin<Box<Sleep>>>,
}

impl LinkedStream {
    pub(crate) fn new(
        inner: TcpStream,
        mut updates: watch::Receiver<Link>,
        read_limit: Arc<ReadLimit>,
    ) -> Self {
        let link = *updates.borrow_and_update();
        let now = Instant::now();
        Self {
            inner,
            read_limit,
            updates,
            link,
            phase: Phase::Start,
            turn_ready: None,
            read_pace: Bucket::new(now),
            write_pace: Bucket::new(now),
            read_sleep: None,
            write_sleep: None,
        }
    }

    /// Picks up a changed link; true if the link is unlimited.
    fn unlimited(&mut self) -> bool {
        if matches!(self.updates.has_changed(), Ok(true)) {
            self.link = *self.updates.borrow_and_update();
        }
        self.link.is_unlimited()
    }

    /// Waits out the latency at the start of a request: from when its first bytes arrive.
    fn poll_latency(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.phase != Phase::Start || self.link.latency.is_zero() {
            return Poll::Ready(Ok(()));
        }
        let deadline = match self.turn_ready {
            Some(deadline) => deadline,
            None => {
                // Peeking (unlike a readiness check) sees only data that is there now.
                let mut byte = [0u8; 1];
                ready!(self.inner.poll_peek(cx, &mut ReadBuf::new(&mut byte)))?;
                let deadline = Instant::now() + self.link.latency;
                self.turn_ready = Some(deadline);
                deadline
            }
        };
        poll_sleep_until(&mut self.read_sleep, deadline, cx).map(Ok)
    }

    /// Notes that `n` bytes were written: the next read starts a request.
    fn wrote(&mut self, n: usize) {
        if n > 0 {
            self.phase = Phase::Start;
        }
    }
}

impl AsyncRead for LinkedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let read_limit = this.read_limit.get();
        let unlimited = this.unlimited();
        let mut cap = this.phase.read_cap();
        if unlimited && read_limit.is_none() && cap == u64::MAX {
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            this.phase = Phase::Body(this.phase.body_read() + (buf.filled().len() - before) as u64);
            return Poll::Ready(Ok(()));
        }
        if let Some(limit) = read_limit {
            let body_read = this.phase.body_read();
            if body_read >= limit {
                // Read nothing more, ever: the connection is dropped or held until shutdown.
                this.read_limit.reached.notify_one();
                return Poll::Pending;
            }
            cap = cap.min(limit - body_read);
        }
        if !unlimited {
            ready!(this.poll_latency(cx))?;
            if let Some(rate) = this.link.rate() {
                let allowed = loop {
                    match this.read_pace.allowance(Instant::now(), rate) {
                        Ok(n) => break n,
                        Err(deadline) => {
                            ready!(poll_sleep_until(&mut this.read_sleep, deadline, cx));
                        }
                    }
                };
                cap = cap.min(allowed);
            }
        }
        let cap = usize::try_from(cap)
            .unwrap_or(usize::MAX)
            .min(buf.remaining());
        if cap == 0 {
            return Poll::Ready(Ok(()));
        }
        // Read into the initialized front of the caller's free space, then mark it filled.
        let mut limited = ReadBuf::new(buf.initialize_unfilled_to(cap));
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut limited))?;
        let n = limited.filled().len();
        if n > 0 {
            this.phase = this.phase.advance(limited.filled());
            this.turn_ready = None;
        }
        buf.advance(n);
        this.read_pace.spend(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for LinkedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let rate = if this.unlimited() {
            None
        } else {
            this.link.rate()
        };
        let limit = match rate {
            Some(rate) if !buf.is_empty() => {
                let allowed = loop {
                    match this.write_pace.allowance(Instant::now(), rate) {
                        Ok(n) => break n,
                        Err(deadline) => {
                            ready!(poll_sleep_until(&mut this.write_sleep, deadline, cx));
                        }
                    }
                };
                usize::try_from(allowed)
                    .unwrap_or(usize::MAX)
                    .min(buf.len())
            }
            _ => buf.len(),
        };
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &buf[..limit]))?;
        if rate.is_some() {
            this.write_pace.spend(n);
        }
        this.wrote(n);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.unlimited() {
            let n = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
            this.wrote(n);
            return Poll::Ready(Ok(n));
        }
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &**b);
        Pin::new(this).poll_write(cx, first)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantum_is_a_twentieth_of_a_second_at_least_1_kib() {
        assert_eq!(quantum(256 * 1024), 256 * 1024 / 20);
        assert_eq!(quantum(4096), 1024);
        assert_eq!(quantum(100), 100);
        assert_eq!(quantum(1), 1);
        assert_eq!(time_for(1024, 1024), Duration::from_secs(1));
        assert_eq!(time_for(1, 3), Duration::from_nanos(333_333_334));
    }

    #[test]
    fn the_budget_refills_at_the_rate_up_to_one_quantum() {
        let rate = 20 * 1024; // quantum: 1 KiB
        let start = Instant::now();
        let mut bucket = Bucket::new(start);
        assert_eq!(bucket.allowance(start, rate), Ok(1024));
        bucket.spend(1024);
        // Empty: the next bytes come when a full quantum (50 ms) has been credited.
        assert_eq!(
            bucket.allowance(start, rate),
            Err(start + Duration::from_millis(50))
        );
        // 10 ms credit 204.8 bytes: 204 now, the fraction kept for later.
        let t = start + Duration::from_millis(10);
        assert_eq!(bucket.allowance(t, rate), Ok(204));
        bucket.spend(204);
        let t = start + Duration::from_millis(20);
        assert_eq!(bucket.allowance(t, rate), Ok(205));
        // A long idle time never credits more than one quantum.
        let t = start + Duration::from_secs(60);
        assert_eq!(bucket.allowance(t, rate), Ok(1024));
        // Over any long run, bytes pass at the rate.
        let mut passed = 0;
        let mut now = t;
        bucket.spend(1024);
        for _ in 0..1000 {
            now += Duration::from_millis(7);
            let n = bucket.allowance(now, rate).unwrap_or(0);
            bucket.spend(n as usize);
            passed += n;
        }
        assert_eq!(passed, 7 * rate);
    }

    #[test]
    fn phases_find_the_end_of_the_head_across_reads() {
        let head = Phase::Start.advance(b"POST /x HTTP/1.1\r\nhost: a\r");
        assert_eq!(head, Phase::Head(0));
        assert_eq!(head.read_cap(), SMALL_READ);
        assert_eq!(head.body_read(), 0);
        let head = head.advance(b"\n\r");
        assert_eq!(head, Phase::Head(2));
        let body = head.advance(b"\nabc");
        assert_eq!(body, Phase::Body(3));
        assert_eq!(body.read_cap(), SMALL_READ - 3);
        assert_eq!(body.advance(&[b'\n'; 2000]), Phase::Body(2003));
        assert_eq!(Phase::Body(2003).read_cap(), u64::MAX);
        // Bare line feeds end a head too; a blank line right away is an empty head.
        assert_eq!(
            Phase::Start.advance(b"GET / HTTP/1.1\n\nxy"),
            Phase::Body(2)
        );
        assert_eq!(Phase::Start.advance(b"\r\n\r\n"), Phase::Body(0));
        assert_eq!(Phase::Start.advance(b"a\rb\n\rc\n"), Phase::Head(1));
    }

    #[test]
    fn unlimited_is_the_default() {
        assert_eq!(Link::default(), Link::unlimited());
        assert!(Link::unlimited().is_unlimited());
        assert!(!Link::unlimited().with_bandwidth(1).is_unlimited());
        assert!(
            !Link::unlimited()
                .with_latency(Duration::from_millis(1))
                .is_unlimited()
        );
        assert_eq!(Link::unlimited().with_bandwidth(0).rate(), Some(1));
    }
}
