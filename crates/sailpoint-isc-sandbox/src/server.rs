//! The HTTP/1.1 server loop.
//!
//! Connections are served one by one with hyper rather than `axum::serve`, so that a handler can
//! drop its own TCP connection without answering (for [`Fault::DropConnection`](crate::Fault)):
//! each connection gets a [`ConnHandle`] in its requests' extensions, and signalling it makes the
//! connection task drop the connection, which closes the socket.
//!
//! Every connection is read and written through a [`LinkedStream`], which applies the current
//! [`Link`] (bandwidth and latency; a pass-through when unlimited).

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower_service::Service;

use crate::link::{Link, LinkedStream, ReadLimit};

/// Lets a handler close the connection its request arrived on, or limit what is read from it.
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle {
    kill: Arc<Notify>,
    reads: Arc<ReadLimit>,
}

impl ConnHandle {
    /// Closes the connection without a response; the caller should then never complete.
    pub(crate) fn kill(&self) {
        self.kill.notify_one();
    }

    /// The connection's read budget: how many more bytes the server reads from the socket.
    pub(crate) fn reads(&self) -> &ReadLimit {
        &self.reads
    }
}

/// Accepts connections until `shutdown` fires (or its sender is dropped), then aborts them all.
/// Each connection follows the link that `link` holds, also when it changes.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
    link: watch::Receiver<Link>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::trace!(%peer, "accepted connection");
                    connections.spawn(serve_connection(stream, link.clone(), router.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
    tracing::debug!("sandbox server stopped");
}

async fn serve_connection(stream: TcpStream, link: watch::Receiver<Link>, router: Router) {
    let _ = stream.set_nodelay(true);
    let handle = ConnHandle {
        kill: Arc::new(Notify::new()),
        reads: Arc::new(ReadLimit::default()),
    };
    let stream = LinkedStream::new(stream, link, handle.reads.clone());
    let kill = handle.kill.clone();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(handle.clone());
        let mut router = router.clone();
        async move { router.call(req).await }
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = connection => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        () = kill.notified() => {
            tracing::debug!("dropping connection without a response (injected fault)");
        }
    }
}
