//! The batch's scheduler: which item starts when, what the deadline, a stop and a failure do to
//! the others, and when completion checks and progress reads are due. Plain state with the time
//! passed in (no I/O), so every transition is tested on its own; the driver performs what it
//! decides and tells it what happened.
//!
//! An item goes `Pending → Starting → Running → Done`, or ends `Skipped` without starting
//! (`Pending → Skipped`, or `Starting → Skipped` for a start cancelled before it took effect).
//! A name that does not resolve ends `Pending → Done`, a failed start `Starting → Done`.
//!
//! Items of one source run one after the other, in their order (ISC refuses a second
//! aggregation on a source while one runs): an item starts only when no earlier item of its
//! source is pending, starting or running.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

/// Where one item of the batch is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ItemState {
    /// Waiting for a slot.
    Pending,
    /// Its start is in flight.
    Starting,
    /// Started; its aggregation is being waited for.
    Running {
        /// The aggregation (task) id.
        task_id: String,
        /// When its status was last read for progress.
        read_at: Option<Instant>,
    },
    /// Ended: completed, failed, timed out, or no longer waited for after a stop.
    Done,
    /// Never started.
    Skipped,
}

/// Why nothing more starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Halt {
    /// The batch was stopped (its cancellation token).
    Stopped,
    /// The batch's maximum wait passed.
    Deadline,
    /// An item failed and the batch stops after a failure.
    Failure,
}

impl Halt {
    /// The reason given to the items it keeps from starting.
    pub(crate) fn skip_reason(self) -> &'static str {
        match self {
            Halt::Stopped => "not started: the batch was stopped",
            Halt::Deadline => "not started: the batch's maximum wait passed",
            Halt::Failure => "not started: the batch stops after a failure",
        }
    }
}

/// What a start that returned an aggregation leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterStart {
    /// Its aggregation is waited for.
    Running,
    /// The batch no longer waits ([`Halt::Stopped`] or [`Halt::Deadline`]): the item is done,
    /// still running in ISC.
    Halted(Halt),
}

/// The items a stop or the deadline ended, for the driver to report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Ended {
    /// Not started, now skipped.
    pub(crate) skipped: Vec<usize>,
    /// Running and no longer waited for, now done: (item, aggregation id).
    pub(crate) running: Vec<(usize, String)>,
}

/// A completion check that is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Poll {
    /// Whether progress reads may follow it (not while starts are going out: they have the
    /// rate budget).
    pub(crate) progress: bool,
}

/// The batch's state: every item's, the concurrency cap, the deadline, the stop, the failure
/// rule and the polling clock.
#[derive(Debug)]
pub(crate) struct Scheduler {
    states: Vec<ItemState>,
    /// Each item's source, once known: items of one source never overlap.
    sources: Vec<Option<String>>,
    /// The pending items, in start order.
    queue: VecDeque<usize>,
    cap: usize,
    stop_on_failure: bool,
    /// `None`: no limit.
    deadline: Option<Instant>,
    poll_interval: Duration,
    /// An aggregation's progress is read at most once in this long.
    progress_every: Duration,
    next_poll: Instant,
    /// Where the next progress reads begin among the running items (round robin).
    cursor: usize,
    failed: bool,
    stopped: bool,
    expired: bool,
}

impl Scheduler {
    /// `items` pending items at `now`.
    pub(crate) fn new(
        items: usize,
        cap: usize,
        stop_on_failure: bool,
        deadline: Option<Instant>,
        poll_interval: Duration,
        now: Instant,
    ) -> Self {
        Scheduler {
            states: vec![ItemState::Pending; items],
            sources: vec![None; items],
            queue: (0..items).collect(),
            cap: cap.max(1),
            stop_on_failure,
            deadline,
            poll_interval,
            progress_every: poll_interval.saturating_mul(2),
            next_poll: later(now, poll_interval),
            cursor: 0,
            failed: false,
            stopped: false,
            expired: false,
        }
    }

    /// The state of item `i`.
    #[cfg(test)]
    pub(crate) fn state(&self, i: usize) -> &ItemState {
        &self.states[i]
    }

    /// Why nothing more starts at `now`, if so (a stop first, then the deadline, then a failure).
    pub(crate) fn halt(&self, now: Instant) -> Option<Halt> {
        if self.stopped {
            Some(Halt::Stopped)
        } else if self.expired || self.past_deadline(now) {
            Some(Halt::Deadline)
        } else if self.stop_on_failure && self.failed {
            Some(Halt::Failure)
        } else {
            None
        }
    }

    /// True once the deadline has come.
    pub(crate) fn past_deadline(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|deadline| now >= deadline)
    }

    /// True once [`cancel`](Self::cancel) was called.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Items starting or running.
    pub(crate) fn in_flight(&self) -> usize {
        self.states
            .iter()
            .filter(|s| matches!(s, ItemState::Starting | ItemState::Running { .. }))
            .count()
    }

    fn has_starting(&self) -> bool {
        self.states.contains(&ItemState::Starting)
    }

    fn has_running(&self) -> bool {
        self.states
            .iter()
            .any(|s| matches!(s, ItemState::Running { .. }))
    }

    /// True when every item is done or skipped.
    pub(crate) fn is_finished(&self) -> bool {
        self.states
            .iter()
            .all(|s| matches!(s, ItemState::Done | ItemState::Skipped))
    }

    /// Item `i` failed before it could start (its source did not resolve): `Pending → Done`.
    pub(crate) fn fail_unstarted(&mut self, i: usize) {
        if self.states[i] == ItemState::Pending {
            self.states[i] = ItemState::Done;
            self.queue.retain(|&q| q != i);
            self.failed = true;
        }
    }

    /// Item `i` aggregates `source_id`: it waits for the earlier items of that source.
    pub(crate) fn set_source(&mut self, i: usize, source_id: &str) {
        self.sources[i] = Some(source_id.to_owned());
    }

    /// The next items to start, in order, at most `max` and as many as the cap leaves room for,
    /// now `Starting`; none once the batch halted. An item whose source has an earlier item
    /// starting, running or still pending waits its turn. The driver spawns them, or gives them
    /// back with [`withdraw`](Self::withdraw).
    pub(crate) fn next_starts(&mut self, now: Instant, max: usize) -> Vec<usize> {
        if self.halt(now).is_some() {
            return Vec::new();
        }
        let room = self.cap.saturating_sub(self.in_flight()).min(max);
        let mut starts = Vec::with_capacity(room.min(self.queue.len()));
        // Sources with an item in flight, or passed over in this scan.
        let mut busy: HashSet<&str> = self
            .states
            .iter()
            .zip(&self.sources)
            .filter(|(state, _)| matches!(state, ItemState::Starting | ItemState::Running { .. }))
            .filter_map(|(_, source)| source.as_deref())
            .collect();
        let mut waiting = VecDeque::new();
        while let Some(i) = self.queue.pop_front() {
            let source = self.sources[i].as_deref();
            if starts.len() >= room || source.is_some_and(|s| busy.contains(s)) {
                if let Some(source) = source {
                    busy.insert(source);
                }
                waiting.push_back(i);
                if starts.len() >= room {
                    break;
                }
                continue;
            }
            if let Some(source) = source {
                busy.insert(source);
            }
            self.states[i] = ItemState::Starting;
            starts.push(i);
        }
        // The ones passed over keep their place, ahead of the rest.
        while let Some(i) = waiting.pop_back() {
            self.queue.push_front(i);
        }
        starts
    }

    /// Items handed out by [`next_starts`](Self::next_starts) that were not spawned after all
    /// (the batch halted meanwhile): `Starting → Pending`, first in line again, in order.
    pub(crate) fn withdraw(&mut self, items: &[usize]) {
        for &i in items.iter().rev() {
            if self.states[i] == ItemState::Starting {
                self.states[i] = ItemState::Pending;
                self.queue.push_front(i);
            }
        }
    }

    /// Item `i`'s start returned its aggregation at `now`. Waited for unless the batch was
    /// stopped or its deadline passed meanwhile (then the item is done, still running in ISC).
    pub(crate) fn started(&mut self, i: usize, task_id: String, now: Instant) -> AfterStart {
        if self.states[i] != ItemState::Starting {
            return AfterStart::Running;
        }
        if self.stopped {
            self.states[i] = ItemState::Done;
            return AfterStart::Halted(Halt::Stopped);
        }
        if self.expired || self.past_deadline(now) {
            self.states[i] = ItemState::Done;
            self.failed = true;
            return AfterStart::Halted(Halt::Deadline);
        }
        if !self.has_running() {
            // A fresh aggregation does not end at once: the first check waits an interval.
            self.next_poll = self.next_poll.max(later(now, self.poll_interval));
        }
        self.states[i] = ItemState::Running {
            task_id,
            read_at: None,
        };
        AfterStart::Running
    }

    /// Item `i`'s start failed: `Starting → Done`, a failure.
    pub(crate) fn start_failed(&mut self, i: usize) {
        if self.states[i] == ItemState::Starting {
            self.states[i] = ItemState::Done;
            self.failed = true;
        }
    }

    /// Item `i`'s start was cancelled before it took effect: `Starting → Skipped`.
    pub(crate) fn not_started(&mut self, i: usize) {
        if self.states[i] == ItemState::Starting {
            self.states[i] = ItemState::Skipped;
        }
    }

    /// Item `i`'s aggregation ended: `Running → Done`; a failure unless `success`.
    pub(crate) fn finished(&mut self, i: usize, success: bool) {
        if matches!(self.states[i], ItemState::Running { .. }) {
            self.states[i] = ItemState::Done;
            if !success {
                self.failed = true;
            }
        }
    }

    /// Once, when the deadline has come at `now`: pending items are skipped and running ones
    /// are no longer waited for (they time out). Starts in flight are let finish.
    pub(crate) fn deadline_passed(&mut self, now: Instant) -> Option<Ended> {
        if self.expired || !self.past_deadline(now) {
            return None;
        }
        self.expired = true;
        let ended = self.end_all();
        if !ended.running.is_empty() {
            self.failed = true;
        }
        Some(ended)
    }

    /// Once: the batch is stopped. Pending items are skipped and running ones are no longer
    /// waited for; starts in flight settle (the driver passes them the stop).
    pub(crate) fn cancel(&mut self) -> Option<Ended> {
        if self.stopped {
            return None;
        }
        self.stopped = true;
        Some(self.end_all())
    }

    fn end_all(&mut self) -> Ended {
        let mut ended = Ended::default();
        for i in self.queue.drain(..) {
            self.states[i] = ItemState::Skipped;
            ended.skipped.push(i);
        }
        for (i, state) in self.states.iter_mut().enumerate() {
            if let ItemState::Running { task_id, .. } = state {
                ended.running.push((i, std::mem::take(task_id)));
                *state = ItemState::Done;
            }
        }
        ended
    }

    /// After a failure, with stop-on-failure: every pending item is skipped. Running ones are
    /// still waited for.
    pub(crate) fn skip_after_failure(&mut self) -> Vec<usize> {
        if !(self.stop_on_failure && self.failed) {
            return Vec::new();
        }
        let skipped: Vec<usize> = self.queue.drain(..).collect();
        for &i in &skipped {
            self.states[i] = ItemState::Skipped;
        }
        skipped
    }

    /// The running items and their aggregation ids, in item order.
    pub(crate) fn running(&self) -> Vec<(usize, String)> {
        self.states
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                ItemState::Running { task_id, .. } => Some((i, task_id.clone())),
                _ => None,
            })
            .collect()
    }

    /// Whether a completion check is due at `now`. While starts are going out they have the
    /// rate budget: no check unless a slot is needed for the next start (then without progress
    /// reads), and the clock moves on.
    pub(crate) fn poll_due(&mut self, now: Instant) -> Option<Poll> {
        if !self.has_running() || now < self.next_poll {
            return None;
        }
        let starts_going_out = self.has_starting();
        let slot_needed =
            !self.queue.is_empty() && self.halt(now).is_none() && self.in_flight() >= self.cap;
        if starts_going_out && !slot_needed {
            self.next_poll = later(now, self.poll_interval);
            return None;
        }
        Some(Poll {
            progress: !starts_going_out,
        })
    }

    /// A completion check ended at `now`: the next one is an interval later.
    pub(crate) fn polled(&mut self, now: Instant) {
        self.next_poll = later(now, self.poll_interval);
    }

    /// When the driver must look again without anything else happening: the next completion
    /// check (only while something runs), or the deadline (until it passed). `None`: only a
    /// start's return or a stop can change anything.
    pub(crate) fn wake_at(&self) -> Option<Instant> {
        let poll = self.has_running().then_some(self.next_poll);
        let deadline = self.deadline.filter(|_| !self.expired);
        match (poll, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The running aggregations whose progress to read at `now`, at most `budget`, each at most
    /// once per two poll intervals, taking turns across rounds.
    pub(crate) fn progress_reads(&mut self, now: Instant, budget: usize) -> Vec<(usize, String)> {
        let running: Vec<usize> = self
            .states
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, ItemState::Running { .. }))
            .map(|(i, _)| i)
            .collect();
        if running.is_empty() {
            return Vec::new();
        }
        let mut reads = Vec::new();
        let mut visited = 0;
        while reads.len() < budget && visited < running.len() {
            let i = running[(self.cursor + visited) % running.len()];
            visited += 1;
            if let ItemState::Running { task_id, read_at } = &mut self.states[i] {
                if read_at.is_some_and(|t| now.saturating_duration_since(t) < self.progress_every) {
                    continue;
                }
                *read_at = Some(now);
                reads.push((i, task_id.clone()));
            }
        }
        self.cursor = (self.cursor + visited) % running.len();
        reads
    }
}

/// `now + interval`, saturating at a far future instead of overflowing.
fn later(now: Instant, interval: Duration) -> Instant {
    now.checked_add(interval)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::advance;

    const POLL: Duration = Duration::from_secs(1);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn scheduler(items: usize, cap: usize, deadline_in: Option<Duration>) -> Scheduler {
        let now = Instant::now();
        Scheduler::new(items, cap, false, deadline_in.map(|d| now + d), POLL, now)
    }

    fn run(s: &mut Scheduler, i: usize) {
        assert_eq!(
            s.started(i, format!("task-{i}"), Instant::now()),
            AfterStart::Running
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_cap_bounds_starting_and_running_items_together() {
        let mut s = scheduler(5, 2, None);
        assert_eq!(s.next_starts(Instant::now(), 50), [0, 1]);
        assert_eq!(s.next_starts(Instant::now(), 50), Vec::<usize>::new());
        run(&mut s, 0);
        assert_eq!(s.next_starts(Instant::now(), 50), Vec::<usize>::new());
        s.finished(0, true);
        assert_eq!(s.state(0), &ItemState::Done);
        assert_eq!(s.next_starts(Instant::now(), 50), [2]);
        s.start_failed(1);
        assert_eq!(s.next_starts(Instant::now(), 50), [3]);
        assert_eq!(s.in_flight(), 2);
        assert!(!s.is_finished());
    }

    #[tokio::test(start_paused = true)]
    async fn starts_come_in_chunks_of_at_most_max() {
        let mut s = scheduler(120, 100, None);
        let first = s.next_starts(Instant::now(), 50);
        assert_eq!(first, (0..50).collect::<Vec<_>>());
        let second = s.next_starts(Instant::now(), 50);
        assert_eq!(second, (50..100).collect::<Vec<_>>());
        assert!(s.next_starts(Instant::now(), 50).is_empty(), "the cap");
    }

    #[tokio::test(start_paused = true)]
    async fn withdrawn_items_are_first_in_line_again_in_order() {
        let mut s = scheduler(4, 4, None);
        let chunk = s.next_starts(Instant::now(), 3);
        assert_eq!(chunk, [0, 1, 2]);
        s.withdraw(&chunk[1..]);
        assert_eq!(s.state(1), &ItemState::Pending);
        assert_eq!(s.state(0), &ItemState::Starting);
        assert_eq!(s.next_starts(Instant::now(), 50), [1, 2, 3]);
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_starts_after_the_deadline_and_starts_in_flight_finish() {
        let mut s = scheduler(4, 2, Some(secs(10)));
        assert_eq!(s.next_starts(Instant::now(), 50), [0, 1]);
        advance(secs(3)).await;
        run(&mut s, 0);
        assert_eq!(s.deadline_passed(Instant::now()), None, "not yet");
        advance(secs(7)).await;
        // The deadline: no start, even with a slot free.
        s.finished(0, true);
        assert!(s.next_starts(Instant::now(), 50).is_empty());
        assert_eq!(s.halt(Instant::now()), Some(Halt::Deadline));
        let ended = s
            .deadline_passed(Instant::now())
            .expect("the deadline passed");
        assert_eq!(ended.skipped, [2, 3]);
        assert!(ended.running.is_empty());
        assert_eq!(s.deadline_passed(Instant::now()), None, "once");
        assert_eq!(s.state(2), &ItemState::Skipped);
        // Item 1's start was in flight: it is let finish, and not waited for after.
        assert_eq!(s.state(1), &ItemState::Starting);
        assert!(!s.is_finished());
        advance(secs(5)).await;
        assert_eq!(
            s.started(1, "late".into(), Instant::now()),
            AfterStart::Halted(Halt::Deadline)
        );
        assert!(s.is_finished());
        assert_eq!(s.wake_at(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_ends_running_items() {
        let mut s = scheduler(3, 1, Some(secs(5)));
        assert_eq!(s.next_starts(Instant::now(), 50), [0]);
        run(&mut s, 0);
        assert_eq!(s.wake_at(), Some(Instant::now() + POLL));
        advance(secs(5)).await;
        let ended = s.deadline_passed(Instant::now()).unwrap();
        assert_eq!(ended.running, [(0, "task-0".to_owned())]);
        assert_eq!(ended.skipped, [1, 2]);
        assert!(s.is_finished());
        assert!(s.running().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_skips_pending_items_and_stops_waiting_for_running_ones() {
        let mut s = scheduler(5, 3, Some(secs(60)));
        assert_eq!(s.next_starts(Instant::now(), 50), [0, 1, 2]);
        run(&mut s, 0);
        run(&mut s, 1);
        let ended = s.cancel().expect("stopped");
        assert_eq!(ended.skipped, [3, 4]);
        assert_eq!(
            ended.running,
            [(0, "task-0".to_owned()), (1, "task-1".to_owned())]
        );
        assert_eq!(s.cancel(), None, "once");
        assert!(s.is_stopped());
        assert_eq!(s.halt(Instant::now()), Some(Halt::Stopped));
        assert!(s.next_starts(Instant::now(), 50).is_empty());
        // Item 2's start settles: cancelled before it took effect, it did not start.
        assert!(!s.is_finished());
        s.not_started(2);
        assert_eq!(s.state(2), &ItemState::Skipped);
        assert!(s.is_finished());

        // A start that settles as started after the stop is done, not waited for.
        let mut s = scheduler(2, 2, None);
        assert_eq!(s.next_starts(Instant::now(), 50), [0, 1]);
        s.cancel();
        assert_eq!(
            s.started(0, "t".into(), Instant::now()),
            AfterStart::Halted(Halt::Stopped)
        );
        s.start_failed(1);
        assert!(s.is_finished());
    }

    #[tokio::test(start_paused = true)]
    async fn stop_on_failure_skips_pending_items_but_waits_for_running_ones() {
        let now = Instant::now();
        let mut s = Scheduler::new(4, 2, true, None, POLL, now);
        assert_eq!(s.next_starts(now, 50), [0, 1]);
        run(&mut s, 0);
        assert!(s.skip_after_failure().is_empty(), "no failure yet");
        s.start_failed(1);
        assert_eq!(s.halt(now), Some(Halt::Failure));
        assert!(s.next_starts(now, 50).is_empty());
        assert_eq!(s.skip_after_failure(), [2, 3]);
        assert_eq!(s.running(), [(0, "task-0".to_owned())]);
        s.finished(0, true);
        assert!(s.is_finished());

        // Without the rule a failure stops nothing; a failed name resolution counts as one.
        let mut s = scheduler(3, 1, None);
        s.fail_unstarted(0);
        assert_eq!(s.state(0), &ItemState::Done);
        assert!(s.skip_after_failure().is_empty());
        assert_eq!(s.next_starts(now, 50), [1]);
        let mut s = Scheduler::new(3, 1, true, None, POLL, now);
        s.fail_unstarted(1);
        assert_eq!(s.skip_after_failure(), [0, 2]);
    }

    #[tokio::test(start_paused = true)]
    async fn completion_checks_leave_the_budget_to_starts_going_out() {
        let mut s = scheduler(3, 3, None);
        // Nothing runs: no check, and no wake-up for one (only a start's return or the
        // deadline can change anything).
        assert_eq!(s.next_starts(Instant::now(), 50), [0, 1, 2]);
        advance(secs(5)).await;
        assert_eq!(s.poll_due(Instant::now()), None);
        assert_eq!(s.wake_at(), None);
        // Item 0 runs, items 1 and 2 are still starting: the first check is an interval
        // later, and then skipped (no slot is needed while starts are going out).
        run(&mut s, 0);
        assert_eq!(s.poll_due(Instant::now()), None);
        assert_eq!(s.wake_at(), Some(Instant::now() + POLL));
        advance(POLL).await;
        assert_eq!(s.poll_due(Instant::now()), None);
        assert_eq!(s.wake_at(), Some(Instant::now() + POLL), "moved on");
        // Every start returned: a check, with progress reads.
        run(&mut s, 1);
        run(&mut s, 2);
        advance(POLL).await;
        assert_eq!(s.poll_due(Instant::now()), Some(Poll { progress: true }));
        s.polled(Instant::now());
        assert_eq!(s.poll_due(Instant::now()), None);

        // A start going out while an item waits for a slot: a check, without progress reads.
        let mut s = scheduler(3, 2, None);
        assert_eq!(s.next_starts(Instant::now(), 50), [0, 1]);
        run(&mut s, 0);
        advance(POLL).await;
        assert_eq!(s.poll_due(Instant::now()), Some(Poll { progress: false }));
    }

    #[tokio::test(start_paused = true)]
    async fn wake_at_is_the_next_check_or_the_deadline() {
        let mut s = scheduler(2, 2, Some(secs(3)));
        let t0 = Instant::now();
        assert_eq!(s.wake_at(), Some(t0 + secs(3)));
        s.next_starts(t0, 50);
        run(&mut s, 0);
        assert_eq!(s.wake_at(), Some(t0 + POLL));
        advance(secs(3)).await;
        s.deadline_passed(Instant::now());
        assert_eq!(s.wake_at(), None, "item 1's start is all that is left");
    }

    #[tokio::test(start_paused = true)]
    async fn progress_reads_take_turns_within_the_budget() {
        let mut s = scheduler(4, 4, None);
        s.next_starts(Instant::now(), 50);
        for i in 0..4 {
            run(&mut s, i);
        }
        let ids =
            |reads: Vec<(usize, String)>| reads.into_iter().map(|(i, _)| i).collect::<Vec<_>>();
        assert_eq!(ids(s.progress_reads(Instant::now(), 2)), [0, 1]);
        assert_eq!(ids(s.progress_reads(Instant::now(), 2)), [2, 3]);
        // Each was read just now: none again before two intervals.
        assert!(s.progress_reads(Instant::now(), 10).is_empty());
        advance(POLL).await;
        assert!(s.progress_reads(Instant::now(), 10).is_empty());
        advance(POLL).await;
        assert_eq!(ids(s.progress_reads(Instant::now(), 3)), [0, 1, 2]);
        assert_eq!(
            ids(s.progress_reads(Instant::now(), 0)),
            Vec::<usize>::new()
        );
        s.finished(3, false);
        advance(POLL * 2).await;
        assert_eq!(ids(s.progress_reads(Instant::now(), 10)), [0, 1, 2]);
    }
}
