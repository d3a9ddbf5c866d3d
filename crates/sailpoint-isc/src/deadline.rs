//! The whole-operation deadline: what counts against it (waiting, requests without a file) and
//! what does not (a body that is moving, which the stall and response timeouts bound).

use std::time::Duration;

use tokio::time::Instant;

/// The clock of one operation's deadline. `total` is measured from the start, less the time
/// spent on uploads ([`exclude`](Self::exclude)); `bound` is an outer limit shared with other
/// calls (a start's idle check, snapshot and request; one lookup within a grace period), also
/// moved later by excluded time. Any duration is accepted: one beyond the clock's range is no
/// limit.
#[derive(Debug, Clone)]
pub(crate) struct DeadlineClock {
    started: Instant,
    total: Option<Duration>,
    bound: Option<Instant>,
    excluded: Duration,
}

impl DeadlineClock {
    /// A clock starting now.
    pub(crate) fn new(total: Option<Duration>, bound: Option<Instant>) -> Self {
        DeadlineClock {
            started: Instant::now(),
            total,
            bound,
            excluded: Duration::ZERO,
        }
    }

    /// Time since the start.
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Does not count `spent` (an upload's transfer and answer) against the deadline.
    pub(crate) fn exclude(&mut self, spent: Duration) {
        self.excluded = self.excluded.saturating_add(spent);
    }

    /// What is left (`None`: no limit).
    pub(crate) fn remaining(&self) -> Option<Duration> {
        let counted = self.started.elapsed().saturating_sub(self.excluded);
        let by_total = self.total.map(|total| total.saturating_sub(counted));
        let by_bound = self.bound.map(|bound| {
            bound
                .saturating_duration_since(Instant::now())
                .saturating_add(self.excluded)
        });
        match (by_total, by_bound) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether a wait of `wait` ends before the deadline.
    pub(crate) fn allows(&self, wait: Duration) -> bool {
        self.remaining().is_none_or(|left| wait <= left)
    }

    /// The limit to report in an error: the configured total, or the outer bound's length.
    pub(crate) fn limit(&self) -> Duration {
        self.total.unwrap_or_else(|| {
            self.bound
                .map(|b| b.saturating_duration_since(self.started))
                .unwrap_or_default()
        })
    }
}

/// The earlier of two optional bounds (`None`: no bound).
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `now + duration`, or `None` (no bound) when that is beyond the clock's range.
pub(crate) fn bound_after(duration: Option<Duration>) -> Option<Instant> {
    duration.and_then(|d| Instant::now().checked_add(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn uploads_do_not_count() {
        let mut clock = DeadlineClock::new(Some(Duration::from_secs(10)), None);
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(clock.remaining(), Some(Duration::from_secs(6)));
        // A 100 s upload.
        tokio::time::sleep(Duration::from_secs(100)).await;
        clock.exclude(Duration::from_secs(100));
        assert_eq!(clock.remaining(), Some(Duration::from_secs(6)));
        assert!(clock.allows(Duration::from_secs(6)));
        assert!(!clock.allows(Duration::from_secs(7)));
    }

    #[tokio::test(start_paused = true)]
    async fn outer_bound_and_extremes() {
        let clock = DeadlineClock::new(
            Some(Duration::from_secs(60)),
            bound_after(Some(Duration::from_secs(5))),
        );
        assert_eq!(clock.remaining(), Some(Duration::from_secs(5)));
        assert_eq!(clock.limit(), Duration::from_secs(60));
        let forever = DeadlineClock::new(Some(Duration::MAX), bound_after(Some(Duration::MAX)));
        assert!(forever.allows(Duration::from_secs(1 << 40)));
        assert_eq!(bound_after(Some(Duration::MAX)), None);
        assert_eq!(DeadlineClock::new(None, None).remaining(), None);
    }
}
