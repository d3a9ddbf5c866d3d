//! Fault injection: the next requests of an operation answer with a chosen failure.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use crate::config::Operation;

/// A failure the sandbox can inject into the next requests of an [`Operation`].
///
/// Faults act before authentication and rate limiting, like failures in front of ISC's API gateway,
/// except [`Fault::DropAfterProcessing`], which lets the request be handled in full first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this HTTP status instead of handling the request.
    Status {
        /// The HTTP status code, e.g. 429, 500, 502, 503.
        status: u16,
        /// If set, a `Retry-After: <seconds>` header.
        retry_after: Option<u64>,
        /// A JSON body; if `None`, the usual ISC body for that code
        /// (`{error}` for 401, `{message}` for 429, `ErrorResponseDto` otherwise).
        body: Option<String>,
    },
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Close the TCP connection without a response, before the request body is read
    /// (nothing is recorded as an upload and no aggregation starts).
    DropConnection,
    /// Handle the request completely (an upload is recorded and an aggregation starts), then
    /// close the TCP connection without sending the response: the client cannot tell whether
    /// the request took effect.
    DropAfterProcessing,
}

impl Fault {
    /// A status fault with the default body and no `Retry-After`.
    pub fn status(status: u16) -> Self {
        Fault::Status {
            status,
            retry_after: None,
            body: None,
        }
    }

    /// A status fault with the default body and a `Retry-After` header.
    pub fn status_with_retry_after(status: u16, retry_after_secs: u64) -> Self {
        Fault::Status {
            status,
            retry_after: Some(retry_after_secs),
            body: None,
        }
    }
}

/// Pending faults per operation, consumed first-in first-out.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    queues: Mutex<HashMap<Operation, VecDeque<(Fault, usize)>>>,
}

impl FaultQueue {
    pub(crate) fn push(&self, op: Operation, fault: Fault, times: usize) {
        if times == 0 {
            return;
        }
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        queues.entry(op).or_default().push_back((fault, times));
    }

    /// Takes the fault for the next request of `op`, if any.
    pub(crate) fn take(&self, op: Operation) -> Option<Fault> {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let queue = queues.get_mut(&op)?;
        let (fault, remaining) = queue.front_mut()?;
        let fault = fault.clone();
        *remaining -= 1;
        if *remaining == 0 {
            queue.pop_front();
        }
        Some(fault)
    }

    pub(crate) fn clear(&self) {
        self.queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    pub(crate) fn pending(&self, op: Operation) -> usize {
        let queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        queues
            .get(&op)
            .map(|q| q.iter().map(|(_, n)| n).sum())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order() {
        let q = FaultQueue::default();
        q.push(Operation::GetStatus, Fault::status(500), 2);
        q.push(Operation::GetStatus, Fault::DropConnection, 1);
        q.push(Operation::Token, Fault::status(503), 0);
        assert_eq!(q.pending(Operation::GetStatus), 3);
        assert_eq!(q.take(Operation::GetStatus), Some(Fault::status(500)));
        assert_eq!(q.take(Operation::GetStatus), Some(Fault::status(500)));
        assert_eq!(q.take(Operation::GetStatus), Some(Fault::DropConnection));
        assert_eq!(q.take(Operation::GetStatus), None);
        assert_eq!(q.take(Operation::Token), None);
        q.push(Operation::Token, Fault::status(503), 5);
        q.clear();
        assert_eq!(q.take(Operation::Token), None);
    }
}
