//! When to poll while waiting: the [`PollSchedule`] (plain data) and the planner that turns it and
//! the statuses seen into the delay before each poll. It starts short (1 s), grows by ×1.5 up to a
//! cap (10 s), starts again from the short delay whenever the state changes, and, once ISC reports
//! processed/total counters that move, times the next poll for the predicted completion (clamped
//! between `min_delay` and `max_delay`).

use std::time::{Duration, Instant};

use crate::status::{AggregationState, AggregationStatus};

/// When to poll while waiting, and for how long at most. Plain data: any value is accepted
/// (durations up to [`Duration::MAX`] mean "practically forever", a multiplier that is not a
/// finite number of at least 1.0 counts as 1.0, a `max_delay` below `min_delay` as `min_delay`).
///
/// ```
/// use std::time::Duration;
/// use sailpoint_isc::PollSchedule;
///
/// let schedule = PollSchedule::standard().with_max_wait(Duration::from_secs(15 * 60));
/// assert_eq!(schedule.initial_delay, Duration::from_secs(1));
///
/// // The classic "every 5 seconds", e.g. to compare against.
/// let fixed = PollSchedule::fixed(Duration::from_secs(5));
/// assert!(!fixed.predict_completion);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PollSchedule {
    /// Delay before the first poll, and after every state change.
    pub initial_delay: Duration,
    /// Growth factor of the delay while nothing changes (1.0 keeps it fixed; below 1.0, NaN and
    /// infinity count as 1.0).
    pub multiplier: f64,
    /// The longest delay between two polls.
    pub max_delay: Duration,
    /// The shortest delay between two polls (also the floor of predicted polls).
    pub min_delay: Duration,
    /// Time the next poll for the completion predicted from the processed/total counters.
    pub predict_completion: bool,
    /// Give up with [`Error::WaitTimeout`](crate::Error::WaitTimeout) after this long (a last poll is made at the deadline).
    /// A wait too long for the clock to represent (e.g. [`Duration::MAX`]) has no deadline.
    pub max_wait: Duration,
}

impl PollSchedule {
    /// The defaults: first poll after 1 s, ×1.5 per unchanged poll up to 10 s, at least 500 ms
    /// apart, completion prediction on, give up after 1 hour.
    pub fn standard() -> Self {
        PollSchedule {
            initial_delay: Duration::from_secs(1),
            multiplier: 1.5,
            max_delay: Duration::from_secs(10),
            min_delay: Duration::from_millis(500),
            predict_completion: true,
            max_wait: Duration::from_secs(60 * 60),
        }
    }

    /// Polls every `interval`, with no growth and no prediction (max wait 1 hour).
    pub fn fixed(interval: Duration) -> Self {
        PollSchedule {
            initial_delay: interval,
            multiplier: 1.0,
            max_delay: interval,
            min_delay: interval,
            predict_completion: false,
            max_wait: Duration::from_secs(60 * 60),
        }
    }

    /// Sets the delay before the first poll and after state changes.
    pub fn with_initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// Sets the growth factor (values below 1.0, NaN and infinity are treated as 1.0).
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = growth_factor(multiplier);
        self
    }

    /// Sets the shortest and longest delay between polls.
    pub fn with_delay_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.min_delay = min;
        self.max_delay = max.max(min);
        self
    }

    /// Turns completion prediction on or off.
    pub fn with_prediction(mut self, predict: bool) -> Self {
        self.predict_completion = predict;
        self
    }

    /// Sets the maximum wait.
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }
}

impl Default for PollSchedule {
    fn default() -> Self {
        Self::standard()
    }
}

impl PollSchedule {
    /// `delay` grown by the multiplier once, saturating at [`Duration::MAX`].
    fn grown(&self, delay: Duration) -> Duration {
        let factor = growth_factor(self.multiplier);
        if factor == 1.0 {
            return delay;
        }
        // Finite and at least `delay` (factor > 1); only too large for a `Duration` can fail.
        Duration::try_from_secs_f64(delay.as_secs_f64() * factor)
            .map_or(Duration::MAX, |grown| grown.max(delay))
    }

    /// `delay` within `min_delay ..= max(max_delay, min_delay)`.
    fn bounded(&self, delay: Duration) -> Duration {
        delay.clamp(self.min_delay, self.max_delay.max(self.min_delay))
    }
}

/// The growth factor used for `multiplier`: itself when a finite number of at least 1.0, else 1.0.
fn growth_factor(multiplier: f64) -> f64 {
    if multiplier.is_finite() {
        multiplier.max(1.0)
    } else {
        1.0
    }
}

/// The instant `max_wait` after `started`, or `None` (no deadline) when the clock cannot
/// represent it.
pub(crate) fn deadline_after(started: Instant, max_wait: Duration) -> Option<Instant> {
    started.checked_add(max_wait)
}

/// Decides the delay before each poll from what the previous polls saw. Pure apart from the
/// times it is given.
#[derive(Debug, Clone)]
pub(crate) struct PollPlanner {
    schedule: PollSchedule,
    delay: Duration,
    last: Option<Observation>,
    /// First observation of the current phase (same state and total), for the rate estimate.
    phase_start: Option<Observation>,
}

#[derive(Debug, Clone, PartialEq)]
struct Observation {
    at: Duration,
    state: Option<AggregationState>,
    work: Option<(u64, u64)>,
    counters: [Option<u64>; 6],
}

impl Observation {
    fn of(at: Duration, status: &AggregationStatus) -> Self {
        Observation {
            at,
            state: status.state.clone(),
            work: status.work(),
            counters: [
                status.total_accounts,
                status.processed_accounts,
                status.total_accounts_marked_for_deletion,
                status.deleted_accounts,
                status.total_identities,
                status.processed_identities,
            ],
        }
    }

    fn same_phase(&self, other: &Observation) -> bool {
        self.state == other.state && self.work.map(|w| w.1) == other.work.map(|w| w.1)
    }
}

impl PollPlanner {
    pub(crate) fn new(schedule: PollSchedule) -> Self {
        PollPlanner {
            delay: schedule.initial_delay,
            schedule,
            last: None,
            phase_start: None,
        }
    }

    /// The delay before the first poll.
    pub(crate) fn first_delay(&self) -> Duration {
        self.schedule.initial_delay
    }

    /// Records a poll made `at` (time since waiting began) and returns whether anything changed
    /// and the delay before the next poll.
    pub(crate) fn observe(&mut self, at: Duration, status: &AggregationStatus) -> (bool, Duration) {
        let s = &self.schedule;
        let now = Observation::of(at, status);
        let changed = self
            .last
            .as_ref()
            .is_none_or(|l| l.state != now.state || l.counters != now.counters);
        let state_changed = self.last.as_ref().is_none_or(|l| l.state != now.state);
        if self
            .phase_start
            .as_ref()
            .is_none_or(|p| !p.same_phase(&now))
        {
            self.phase_start = Some(now.clone());
        }
        self.delay = if state_changed {
            s.initial_delay
        } else {
            s.grown(self.delay)
        };
        if s.predict_completion
            && let Some(eta) = self.predicted_remaining(&now)
        {
            // Aim just after the predicted completion (2 % late rather than early).
            self.delay = eta.saturating_add(eta / 50);
        }
        self.delay = s.bounded(self.delay);
        self.last = Some(now);
        (changed, self.delay)
    }

    /// Remaining time at the rate observed since the current phase began, when work moved since
    /// the previous poll (stalled counters fall back to the growing backoff, so a long "99 %"
    /// does not turn into rapid polling).
    fn predicted_remaining(&self, now: &Observation) -> Option<Duration> {
        let start = self.phase_start.as_ref()?;
        let (done_then, _) = start.work?;
        let (done_now, total) = now.work?;
        let (done_before, _) = self.last.as_ref()?.work?;
        if done_now <= done_before {
            return None;
        }
        let elapsed = now.at.checked_sub(start.at)?.as_secs_f64();
        if done_now <= done_then || elapsed <= 0.0 || done_now >= total {
            return None;
        }
        let rate = (done_now - done_then) as f64 / elapsed;
        let remaining = (total - done_now) as f64 / rate;
        remaining
            .is_finite()
            .then(|| Duration::from_secs_f64(remaining.min(86_400.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: &str, done: Option<u64>, total: Option<u64>) -> AggregationStatus {
        AggregationStatus {
            state: Some(AggregationState::parse(state)),
            processed_accounts: done,
            total_accounts: total,
            ..Default::default()
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn backoff_grows_and_resets_on_state_change() {
        let mut p = PollPlanner::new(PollSchedule::standard());
        assert_eq!(p.first_delay(), secs(1.0));
        let (changed, d) = p.observe(secs(1.0), &status("STARTED", None, None));
        assert!(changed);
        assert_eq!(d, secs(1.0));
        let (changed, d) = p.observe(secs(2.0), &status("STARTED", None, None));
        assert!(!changed);
        assert_eq!(d, secs(1.5));
        let (_, d) = p.observe(secs(3.5), &status("STARTED", None, None));
        assert_eq!(d, secs(2.25));
        for i in 0..20 {
            p.observe(secs(10.0 + i as f64), &status("STARTED", None, None));
        }
        let (_, d) = p.observe(secs(40.0), &status("STARTED", None, None));
        assert_eq!(d, secs(10.0), "capped");
        let (changed, d) = p.observe(secs(50.0), &status("RETRIED", None, None));
        assert!(changed);
        assert_eq!(d, secs(1.0), "reset on state change");
    }

    #[test]
    fn predicts_completion_from_moving_counters() {
        let mut p = PollPlanner::new(PollSchedule::standard());
        p.observe(
            secs(20.0),
            &status("ACCOUNTS_COLLECTED", Some(0), Some(1000)),
        );
        // 100 accounts per second: 900 remaining → 9 s, aimed slightly after.
        let (_, d) = p.observe(
            secs(21.0),
            &status("ACCOUNTS_COLLECTED", Some(100), Some(1000)),
        );
        assert!(d >= secs(9.0) && d <= secs(9.6), "{d:?}");
        // Far away: capped at max_delay.
        let mut p = PollPlanner::new(PollSchedule::standard());
        p.observe(
            secs(0.0),
            &status("ACCOUNTS_COLLECTED", Some(0), Some(100_000)),
        );
        let (_, d) = p.observe(
            secs(1.0),
            &status("ACCOUNTS_COLLECTED", Some(10), Some(100_000)),
        );
        assert_eq!(d, secs(10.0));
        // Close: floored at min_delay.
        let mut p = PollPlanner::new(PollSchedule::standard());
        p.observe(
            secs(0.0),
            &status("ACCOUNTS_COLLECTED", Some(0), Some(1000)),
        );
        let (_, d) = p.observe(
            secs(10.0),
            &status("ACCOUNTS_COLLECTED", Some(999), Some(1000)),
        );
        assert_eq!(d, secs(0.5));
    }

    #[test]
    fn fixed_schedule_never_changes() {
        let mut p = PollPlanner::new(PollSchedule::fixed(secs(5.0)));
        assert_eq!(p.first_delay(), secs(5.0));
        for (i, st) in ["STARTED", "STARTED", "ACCOUNTS_COLLECTED"]
            .iter()
            .enumerate()
        {
            let (_, d) = p.observe(
                secs(5.0 * (i + 1) as f64),
                &status(st, Some(i as u64), Some(10)),
            );
            assert_eq!(d, secs(5.0));
        }
    }

    /// Simulated ~2-minute aggregations (STARTED for 20 s, then ACCOUNTS_COLLECTED with linear,
    /// floored progress over 2000 accounts, then COMPLETED), with lengths spread over one 5 s
    /// interval. The adaptive schedule must make fewer polls than every-5-s polling and notice
    /// completion sooner on average.
    #[test]
    fn adaptive_beats_fixed_five_seconds_on_two_minute_runs() {
        const TOTAL: u64 = 2000;
        fn sim(at: f64, end: f64) -> AggregationStatus {
            if at < 20.0 {
                status("STARTED", None, None)
            } else if at < end {
                let fraction = (at - 20.0) / (end - 20.0);
                let done = ((TOTAL as f64 * fraction).floor() as u64).min(TOTAL - 1);
                status("ACCOUNTS_COLLECTED", Some(done), Some(TOTAL))
            } else {
                status("COMPLETED", Some(TOTAL), Some(TOTAL))
            }
        }
        fn run(schedule: PollSchedule, end: f64) -> (u32, f64) {
            let mut p = PollPlanner::new(schedule);
            let mut t = p.first_delay().as_secs_f64();
            let mut polls = 0;
            loop {
                polls += 1;
                let s = sim(t, end);
                if s.is_terminal() {
                    return (polls, t - end);
                }
                let (_, d) = p.observe(secs(t), &s);
                t += d.as_secs_f64();
            }
        }
        let ends: Vec<f64> = (0..20).map(|i| 117.5 + 0.25 * i as f64 + 0.125).collect();
        let total = |schedule: PollSchedule| {
            ends.iter()
                .fold((0u32, 0.0f64, 0.0f64), |(polls, delay, worst), &end| {
                    let (n, d) = run(schedule.clone(), end);
                    (polls + n, delay + d, worst.max(d))
                })
        };
        let (fixed_polls, fixed_delay, _) = total(PollSchedule::fixed(secs(5.0)));
        let (polls, delay, worst) = total(PollSchedule::standard());
        let n = ends.len() as f64;
        assert!(polls < fixed_polls, "polls {polls} vs {fixed_polls}");
        assert!(
            delay / n < fixed_delay / n,
            "mean detection delay {} vs {}",
            delay / n,
            fixed_delay / n
        );
        assert!(worst < 1.0, "worst detection delay {worst}");
    }
}
