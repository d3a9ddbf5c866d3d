//! A throttling TCP proxy: the slow link of the throttled-upload figure.
//!
//! It sits in front of the [`BenchServer`](crate::server::BenchServer) sink, so the throttled
//! rows use the very sink of the unthrottled ones and every client crosses the same link. Each
//! accepted connection gets its own upstream connection and, per direction, its own token
//! bucket: the proxy reads at most [`STEP`] bytes at a time, waits for that many bytes' worth of
//! time at the link's rate, then forwards them. Idle time earns at most [`CREDIT`] of burst, so
//! a long transfer runs at the rate in small even steps; a client's writes block once the socket
//! buffers between it and the proxy are full, as on a real slow uplink.
//!
//! The proxy runs on its own thread with a single-threaded tokio runtime, like the sink.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// The most the proxy reads (and forwards) at a time.
const STEP: usize = 16 * 1024;
/// The most idle time a direction may bank as burst (and what absorbs timer lateness, so the
/// average rate stays exact).
const CREDIT: Duration = Duration::from_millis(10);

/// Bytes the proxy forwarded, both ways, over all connections.
#[derive(Debug, Default)]
pub struct LinkCounters {
    /// Client to server (requests, the uploads' bodies).
    pub upstream_bytes: AtomicU64,
    /// Server to client (responses).
    pub downstream_bytes: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
}

/// A running proxy; dropping it stops the thread (and cuts its connections).
pub struct ThrottledLink {
    addr: SocketAddr,
    bytes_per_second: u64,
    counters: Arc<LinkCounters>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ThrottledLink {
    /// Binds `127.0.0.1:0` and forwards every connection to `upstream` at most `bytes_per_second`
    /// per connection and direction.
    pub fn start(upstream: SocketAddr, bytes_per_second: u64) -> Result<ThrottledLink> {
        let rate = bytes_per_second.max(1);
        let counters = Arc::new(LinkCounters::default());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<SocketAddr>>();
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let thread_counters = counters.clone();
        let thread = std::thread::Builder::new()
            .name("bench-link".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match TcpListener::bind("127.0.0.1:0").await {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.into()));
                            return;
                        }
                    };
                    let _ = ready_tx.send(listener.local_addr().map_err(anyhow::Error::from));
                    serve(listener, upstream, rate, thread_counters, shutdown_rx).await;
                });
            })
            .context("cannot spawn the link thread")?;
        let addr = ready_rx
            .recv()
            .context("the link thread ended before binding")??;
        Ok(ThrottledLink {
            addr,
            bytes_per_second: rate,
            counters,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>`: the sink's base URL, seen through the link.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The link's rate per connection and direction.
    pub fn bytes_per_second(&self) -> u64 {
        self.bytes_per_second
    }

    /// What went through so far.
    pub fn counters(&self) -> &LinkCounters {
        &self.counters
    }
}

impl Drop for ThrottledLink {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: TcpListener,
    upstream: SocketAddr,
    rate: u64,
    counters: Arc<LinkCounters>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                counters.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(relay(client, upstream, rate, counters.clone()));
            }
        }
    }
}

/// One connection: both directions paced independently; each ends on its own (a half-close is
/// passed on), so a response still flows after the client finished its request.
async fn relay(client: TcpStream, upstream: SocketAddr, rate: u64, counters: Arc<LinkCounters>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let _ = tokio::join!(
        pump(client_read, server_write, rate, &counters.upstream_bytes),
        pump(server_read, client_write, rate, &counters.downstream_bytes),
    );
}

async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    rate: u64,
    forwarded: &AtomicU64,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; STEP];
    let mut pacer = Pacer::new(rate);
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        pacer.pass(n).await;
        to.write_all(&buf[..n]).await?;
        forwarded.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// A token bucket kept as the instant the link is free again: passing `n` bytes moves it
/// `n / rate` later; idle time moves it back at most [`CREDIT`].
struct Pacer {
    rate: f64,
    free_at: Instant,
}

impl Pacer {
    fn new(rate: u64) -> Self {
        Pacer {
            rate: rate as f64,
            free_at: Instant::now(),
        }
    }

    /// Waits until `n` more bytes have had time to cross the link.
    async fn pass(&mut self, n: usize) {
        let now = Instant::now();
        let earliest = now.checked_sub(CREDIT).unwrap_or(now);
        self.free_at = self.free_at.max(earliest) + Duration::from_secs_f64(n as f64 / self.rate);
        if self.free_at > now {
            tokio::time::sleep_until(self.free_at).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 MiB through a 4 MiB/s link takes about 0.25 s, and arrives whole.
    #[test]
    fn forwards_everything_at_the_rate() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let sink = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let sink_addr = sink.local_addr().unwrap();
            let received = tokio::spawn(async move {
                let (mut conn, _) = sink.accept().await.unwrap();
                let mut all = Vec::new();
                conn.read_to_end(&mut all).await.unwrap();
                conn.write_all(b"done").await.unwrap();
                all
            });
            let link = ThrottledLink::start(sink_addr, 4 * 1024 * 1024).unwrap();
            let payload: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
            let started = std::time::Instant::now();
            let mut conn = TcpStream::connect(link.addr).await.unwrap();
            conn.write_all(&payload).await.unwrap();
            conn.shutdown().await.unwrap();
            let mut answer = Vec::new();
            conn.read_to_end(&mut answer).await.unwrap();
            let elapsed = started.elapsed().as_secs_f64();
            assert_eq!(answer, b"done");
            assert_eq!(received.await.unwrap(), payload);
            assert!((0.2..1.0).contains(&elapsed), "took {elapsed} s");
            assert_eq!(
                link.counters().upstream_bytes.load(Ordering::Relaxed),
                payload.len() as u64
            );
        });
    }
}
