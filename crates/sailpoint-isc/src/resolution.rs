//! What a start looks up in task status: an aggregation of the kind already running on the
//! source (`if_idle`), the source's newest task before the start (the snapshot), and, after an
//! ambiguous start, the one task it created (outcome resolution).

use chrono::{DateTime, Utc};
use sailpoint_isc_api::ApiVersion;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::OutcomeResolution;
use crate::deadline::{bound_after, earliest};
use crate::error::{Error, OutcomeLookup};
use crate::executor::Executor;
use crate::kind::AggregationKind;
use crate::task_status::TaskStatus;
use crate::tasks::{ListTaskStatuses, TaskFilter, TaskOrder, newest_aggregation_tasks};

/// The newest aggregation of `kind` still running on `source_id`, if any.
pub(crate) async fn running_aggregation(
    executor: &Executor,
    source_id: &str,
    version: ApiVersion,
    kind: AggregationKind,
    bound: Option<Instant>,
    cancel: Option<&CancellationToken>,
) -> Result<Option<TaskStatus>, Error> {
    let page = ListTaskStatuses::new(executor.clone(), version)
        .filter(
            TaskFilter::new()
                .task_type(kind.task_type())
                .source_id(source_id)
                .running(),
        )
        .order(TaskOrder::CreatedDescending)
        .page_size(1)
        .bounded(bound)
        .cancel_on(cancel.cloned())
        .page(0)
        .await?;
    Ok(page
        .items
        .into_iter()
        .find(|t| t.is_running() && t.id.as_deref().is_some_and(|id| !id.trim().is_empty())))
}

/// The newest aggregation task of `kind` on `source_id` before a start: tasks the lookup after an
/// ambiguous start must not take for the new one. `None` when there is none or it cannot be read.
pub(crate) async fn newest_aggregation(
    executor: &Executor,
    source_id: &str,
    version: ApiVersion,
    kind: AggregationKind,
    bound: Option<Instant>,
    cancel: Option<&CancellationToken>,
) -> Option<TaskStatus> {
    match newest_aggregation_tasks(
        executor,
        version,
        kind,
        &[source_id.to_owned()],
        bound,
        cancel,
    )
    .await
    {
        Ok(mut newest) => newest.remove(source_id),
        Err(error) => {
            tracing::warn!(source_id, error = %error, "no task snapshot before the start; the lookup will rely on times only");
            None
        }
    }
}

/// Errors after which looking again cannot help (permissions, a bad request).
fn lookup_is_hopeless(error: &Error) -> bool {
    matches!(
        error,
        Error::Unauthorized { .. }
            | Error::Forbidden { .. }
            | Error::BadRequest { .. }
            | Error::NotFound { .. }
            | Error::ExperimentalHeaderMissing { .. }
            | Error::InvalidInput { .. }
            | Error::Configuration { .. }
    )
}

/// After an ambiguous start: the one aggregation task of `kind` on the source created since
/// `began` (less the clock-skew allowance), polled for the grace period; otherwise what was seen.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn resolve_outcome(
    executor: &Executor,
    source_id: &str,
    version: ApiVersion,
    kind: AggregationKind,
    began: DateTime<Utc>,
    before: Option<&TaskStatus>,
    resolution: &OutcomeResolution,
    outer_bound: Option<Instant>,
) -> Result<TaskStatus, OutcomeLookup> {
    let looking_since = Instant::now();
    // Each lookup call, its retries and waits included, ends with the grace period (or the
    // caller's bound, when that comes first).
    let grace_ends = earliest(bound_after(Some(resolution.grace_period)), outer_bound);
    let not_before = chrono::Duration::from_std(resolution.clock_skew)
        .ok()
        .and_then(|skew| began.checked_sub_signed(skew))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let list = ListTaskStatuses::new(executor.clone(), version)
        .filter(
            TaskFilter::new()
                .task_type(kind.task_type())
                .source_id(source_id),
        )
        .order(TaskOrder::CreatedDescending)
        .page_size(25)
        .bounded(grace_ends);
    let mut polls = 0;
    let mut last_error: Option<Box<Error>> = None;
    loop {
        polls += 1;
        match list.page(0).await {
            Ok(page) => {
                last_error = None;
                let mut candidates: Vec<TaskStatus> = page
                    .items
                    .into_iter()
                    .filter(|t| {
                        t.source_id().is_none_or(|s| s == source_id)
                            && t.created.is_some_and(|c| c >= not_before)
                            && t.completed.is_none_or(|c| c >= not_before)
                            && before.is_none_or(|b| {
                                b.id != t.id
                                    && match (b.created, t.created) {
                                        (Some(b), Some(t)) => t >= b,
                                        _ => true,
                                    }
                            })
                    })
                    .collect();
                match candidates.len() {
                    0 => {}
                    1 => return Ok(candidates.remove(0)),
                    _ => {
                        return Err(OutcomeLookup {
                            polls,
                            waited: looking_since.elapsed(),
                            candidates,
                            error: None,
                        });
                    }
                }
            }
            // The grace period ended during this poll: what was seen before stands.
            Err(Error::DeadlineExceeded { .. }) => break,
            Err(error) => {
                let hopeless = lookup_is_hopeless(&error);
                last_error = Some(Box::new(error));
                if hopeless {
                    break;
                }
            }
        }
        let remaining = resolution
            .grace_period
            .saturating_sub(looking_since.elapsed());
        if remaining.is_zero() {
            break;
        }
        tokio::time::sleep(resolution.poll_interval.min(remaining)).await;
        if looking_since.elapsed() >= resolution.grace_period
            || grace_ends.is_some_and(|end| Instant::now() >= end)
        {
            break;
        }
    }
    Err(OutcomeLookup {
        polls,
        waited: looking_since.elapsed(),
        candidates: Vec::new(),
        error: last_error,
    })
}
