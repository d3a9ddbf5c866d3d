//! Fault injection: the next requests of an operation answer with a chosen failure, and task
//! status can be slow to show new tasks.
//!
//! * [`Fault`]s are queued per [`Operation`] with [`Sandbox::inject`](crate::Sandbox::inject).
//!   Most act before the request is handled; [`Fault::DropAfterProcessing`] and
//!   [`Fault::StatusAfterProcessing`] (and [`Fault::DelayAfterProcessing`]) let an import
//!   create its aggregation (or an entitlement load its task) first, so it exists and runs
//!   although the client saw a failure. [`Fault::CutBody`] and
//!   [`Fault::StopReading`] act in the middle of the request body: a link that breaks, or a
//!   gateway that hangs, during an upload.
//! * Task visibility delays ([`Sandbox::set_task_list_delay`](crate::Sandbox::set_task_list_delay),
//!   [`Sandbox::set_task_lookup_delay`](crate::Sandbox::set_task_lookup_delay)) make
//!   `getTaskStatusList` (and `getTaskStatus`) behave as an eventually consistent index: a task
//!   is not found until that long after its creation.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use crate::config::Operation;

/// A failure the sandbox can inject into the next requests of an [`Operation`].
///
/// Faults act before authentication and rate limiting, like failures in front of ISC's API gateway,
/// except [`Fault::DropAfterProcessing`] and [`Fault::StatusAfterProcessing`], which let the
/// request be handled in full first.
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
    /// Read the first `after_bytes` bytes of the request body, then close the TCP connection
    /// without a response: an upload whose link breaks mid-body. The body is incomplete, so
    /// the request is not handled: nothing is recorded as an upload and no aggregation starts
    /// (the request is recorded with no status, like [`DropConnection`](Fault::DropConnection)).
    ///
    /// At the byte level: the server reads at most `after_bytes` bytes of the body from the
    /// socket (counted from the end of the request's head, as sent; with chunked encoding the
    /// chunks' framing counts too), except that the body's start which arrived in the same
    /// read as the head (under 1 KiB) is read even if `after_bytes` is smaller. A body shorter
    /// than `after_bytes` is read whole, and the connection is still closed without handling
    /// the request. The client may have written more into the sockets' buffers by then; it sees
    /// a reset (unread data was left) or a closed connection, never a response.
    CutBody {
        /// How many bytes of the body to read before closing (0: as few as possible).
        after_bytes: u64,
    },
    /// Read the first `after_bytes` bytes of the request body (at the byte level as
    /// [`CutBody`](Fault::CutBody)), then stop reading and never answer, holding the
    /// connection open: a server or gateway that hangs mid-upload. Only the client's own
    /// timeout ends the request. Nothing is recorded as an upload and no aggregation starts;
    /// the request is recorded with no status once the sandbox has stopped reading.
    ///
    /// The client's writes go on until the sockets' buffers are full (on loopback, often a few
    /// MiB, so a smaller body may be sent completely), then block. The sandbox keeps its end of
    /// the connection open until it shuts down, which the held connection does not delay.
    StopReading {
        /// How many bytes of the body to read before stopping (0: as few as possible).
        after_bytes: u64,
    },
    /// Handle the request completely (an upload is recorded and an aggregation starts), then
    /// close the TCP connection without sending the response: the client cannot tell whether
    /// the request took effect.
    DropAfterProcessing,
    /// Handle the request completely (an import records its upload and starts its aggregation),
    /// then hold the response back this long before sending it: a client whose deadline is
    /// shorter gives up while ISC has already done the work.
    DelayAfterProcessing(Duration),
    /// Handle the request completely (an import records its upload and starts its aggregation),
    /// then answer with this status instead of the real response: a gateway error after the
    /// work was done.
    StatusAfterProcessing {
        /// The HTTP status code, e.g. 500, 502, 504.
        status: u16,
        /// If set, a `Retry-After: <seconds>` header.
        retry_after: Option<u64>,
        /// A JSON body; if `None`, the usual ISC body for that code.
        body: Option<String>,
    },
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

    /// A [`Fault::StatusAfterProcessing`] with the default body and no `Retry-After`.
    pub fn status_after_processing(status: u16) -> Self {
        Fault::StatusAfterProcessing {
            status,
            retry_after: None,
            body: None,
        }
    }

    /// A [`Fault::CutBody`]: close the connection after `after_bytes` bytes of the body.
    pub fn cut_body(after_bytes: u64) -> Self {
        Fault::CutBody { after_bytes }
    }

    /// A [`Fault::StopReading`]: stop reading after `after_bytes` bytes of the body and never
    /// answer.
    pub fn stop_reading(after_bytes: u64) -> Self {
        Fault::StopReading { after_bytes }
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

/// How long new tasks stay invisible to task-status reads; changeable at run time.
#[derive(Debug, Default)]
pub(crate) struct TaskDelays {
    list: Mutex<Duration>,
    lookup: Mutex<Duration>,
}

impl TaskDelays {
    pub(crate) fn new(list: Duration, lookup: Duration) -> Self {
        Self {
            list: Mutex::new(list),
            lookup: Mutex::new(lookup),
        }
    }

    /// How long after its creation a task is missing from `getTaskStatusList`.
    pub(crate) fn list(&self) -> Duration {
        *self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long after its creation `getTaskStatus` answers 404 for a task.
    pub(crate) fn lookup(&self) -> Duration {
        *self.lookup.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_list(&self, d: Duration) {
        *self.list.lock().unwrap_or_else(|e| e.into_inner()) = d;
    }

    pub(crate) fn set_lookup(&self, d: Duration) {
        *self.lookup.lock().unwrap_or_else(|e| e.into_inner()) = d;
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
        q.push(
            Operation::GetTaskStatusList,
            Fault::status_after_processing(502),
            1,
        );
        q.push(Operation::Token, Fault::status(503), 0);
        assert_eq!(q.pending(Operation::GetStatus), 3);
        assert_eq!(q.take(Operation::GetStatus), Some(Fault::status(500)));
        assert_eq!(q.take(Operation::GetStatus), Some(Fault::status(500)));
        assert_eq!(q.take(Operation::GetStatus), Some(Fault::DropConnection));
        assert_eq!(q.take(Operation::GetStatus), None);
        assert_eq!(q.take(Operation::Token), None);
        assert_eq!(
            q.take(Operation::GetTaskStatusList),
            Some(Fault::StatusAfterProcessing {
                status: 502,
                retry_after: None,
                body: None
            })
        );
        assert_eq!(q.pending(Operation::GetTaskStatusList), 0);
        q.push(Operation::ImportAccounts, Fault::cut_body(7), 1);
        q.push(Operation::ImportAccounts, Fault::stop_reading(0), 1);
        assert_eq!(
            q.take(Operation::ImportAccounts),
            Some(Fault::CutBody { after_bytes: 7 })
        );
        assert_eq!(
            q.take(Operation::ImportAccounts),
            Some(Fault::StopReading { after_bytes: 0 })
        );
        q.push(Operation::Token, Fault::status(503), 5);
        q.clear();
        assert_eq!(q.take(Operation::Token), None);
    }
}
