//! The crate's error type.

use std::net::SocketAddr;

/// Errors returned when configuring or starting a [`Sandbox`](crate::Sandbox).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("failed to bind the sandbox to {addr}: {source}")]
    Bind {
        /// The address that was requested.
        addr: SocketAddr,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The builder was given an unusable setting.
    #[error("invalid sandbox configuration: {0}")]
    Config(String),
}
