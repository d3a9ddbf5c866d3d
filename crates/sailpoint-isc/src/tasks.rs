//! Task-status operations: one task by id (`getTaskStatus`), and filtered, sorted, paged lists
//! (`getTaskStatusList`) as a [`Stream`].

use std::collections::HashMap;
use std::fmt;

use futures_util::Stream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use sailpoint_isc_api::ApiVersion;

use crate::error::Error;
use crate::executor::{Call, Executor};
use crate::ids::check_id as validate_id;
use crate::kind::AggregationKind;
use crate::retry::OperationKind;
use crate::task_status::{CompletionStatus, TaskStatus};

/// Cross-version name of the operation that reads one task status.
pub(crate) const TASK_STATUS_OPERATION: &str = "getTaskStatus";
/// Cross-version name of the operation that lists task statuses.
pub(crate) const TASK_LIST_OPERATION: &str = "getTaskStatusList";

/// The task-status `type` filter value of account aggregations
/// ([`AggregationKind::task_type`] has every kind's).
pub const ACCOUNT_AGGREGATION_TASK_TYPE: &str = "CLOUD_ACCOUNT_AGGREGATION";

/// Most items ISC returns per page.
pub const MAX_PAGE_SIZE: u32 = 250;

/// Reads one task status; a 404 is [`Error::NotFound`].
pub(crate) async fn fetch_task_status(
    executor: &Executor,
    task_id: &str,
    version: ApiVersion,
) -> Result<TaskStatus, Error> {
    validate_id("task id", task_id)?;
    let path_args = [task_id];
    let call = Call::read(version, TASK_STATUS_OPERATION, &path_args);
    Ok(executor.call::<TaskStatus>(call).await?.value)
}

/// The newest aggregation task of `kind` on each of `sources`, from one task-status list per 50
/// sources (what outcome resolution notes before starting). A source whose newest task is not
/// among its list's newest (one for a single source, 250 for several) is left out, as is a
/// source without tasks. A task that names no source counts for the only source asked about.
pub(crate) async fn newest_aggregation_tasks(
    executor: &Executor,
    version: ApiVersion,
    kind: AggregationKind,
    sources: &[String],
    bound: Option<Instant>,
    cancel: Option<&CancellationToken>,
) -> Result<HashMap<String, TaskStatus>, Error> {
    const SOURCES_PER_LIST: usize = 50;
    let mut newest: HashMap<String, TaskStatus> = HashMap::new();
    for chunk in sources.chunks(SOURCES_PER_LIST) {
        let filter = TaskFilter::new().task_type(kind.task_type());
        let (filter, page_size) = match chunk {
            [only] => (filter.source_id(only), 1),
            several => (filter.source_ids(several), MAX_PAGE_SIZE),
        };
        let page = ListTaskStatuses::new(executor.clone(), version)
            .filter(filter)
            .order(TaskOrder::CreatedDescending)
            .page_size(page_size)
            .bounded(bound)
            .cancel_on(cancel.cloned())
            .page(0)
            .await?;
        for task in page.items {
            let source = match (task.source_id(), chunk) {
                (Some(source), _) => source.to_owned(),
                (None, [only]) => only.clone(),
                (None, _) => continue,
            };
            newest.entry(source).or_insert(task);
        }
    }
    Ok(newest)
}

/// A task-status filter: the clauses ISC supports, joined with `and`. Values are quoted with `"`
/// and `\` escaped.
///
/// ```
/// use sailpoint_isc::tasks::{TaskFilter, ACCOUNT_AGGREGATION_TASK_TYPE};
///
/// let filter = TaskFilter::new()
///     .task_type(ACCOUNT_AGGREGATION_TASK_TYPE)
///     .source_id("2c91808a")
///     .running();
/// assert_eq!(
///     filter.to_string(),
///     r#"type eq "CLOUD_ACCOUNT_AGGREGATION" and sourceId eq "2c91808a" and completionStatus isnull"#
/// );
/// assert_eq!(
///     TaskFilter::new().ids(["a", "b\"c"]).to_string(),
///     r#"id in ("a","b\"c")"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    clauses: Vec<String>,
}

impl TaskFilter {
    /// No clauses: every task.
    pub fn new() -> Self {
        Self::default()
    }

    fn eq(mut self, field: &str, value: &str) -> Self {
        self.clauses.push(format!("{field} eq {}", quote(value)));
        self
    }

    fn any_of<I, S>(mut self, field: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let quoted: Vec<String> = values.into_iter().map(|v| quote(v.as_ref())).collect();
        self.clauses
            .push(format!("{field} in ({})", quoted.join(",")));
        self
    }

    /// `id eq "…"`.
    pub fn id(self, id: &str) -> Self {
        self.eq("id", id)
    }

    /// `id in (…)`.
    pub fn ids<I: IntoIterator<Item = S>, S: AsRef<str>>(self, ids: I) -> Self {
        self.any_of("id", ids)
    }

    /// `sourceId eq "…"`.
    pub fn source_id(self, source_id: &str) -> Self {
        self.eq("sourceId", source_id)
    }

    /// `sourceId in (…)`.
    pub fn source_ids<I: IntoIterator<Item = S>, S: AsRef<str>>(self, ids: I) -> Self {
        self.any_of("sourceId", ids)
    }

    /// `completionStatus eq "…"`.
    pub fn completion_status(self, status: &CompletionStatus) -> Self {
        self.eq("completionStatus", status.as_str())
    }

    /// `completionStatus in (…)`.
    pub fn completion_statuses<'a, I: IntoIterator<Item = &'a CompletionStatus>>(
        self,
        statuses: I,
    ) -> Self {
        self.any_of(
            "completionStatus",
            statuses.into_iter().map(CompletionStatus::as_str),
        )
    }

    /// `completionStatus isnull`: tasks still running.
    pub fn running(mut self) -> Self {
        self.clauses.push("completionStatus isnull".to_owned());
        self
    }

    /// `type eq "…"` (e.g. [`ACCOUNT_AGGREGATION_TASK_TYPE`]).
    pub fn task_type(self, task_type: &str) -> Self {
        self.eq("type", task_type)
    }

    /// `type in (…)`.
    pub fn task_types<I: IntoIterator<Item = S>, S: AsRef<str>>(self, types: I) -> Self {
        self.any_of("type", types)
    }

    /// True without clauses.
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }
}

impl fmt::Display for TaskFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.clauses.join(" and "))
    }
}

/// A filter value in double quotes, with `\` and `"` escaped by a backslash.
pub(crate) fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The order of a task-status list, by `created`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TaskOrder {
    /// Oldest first (`sorters=created`).
    CreatedAscending,
    /// Newest first (`sorters=-created`), the default.
    #[default]
    CreatedDescending,
}

impl TaskOrder {
    fn sorter(self) -> &'static str {
        match self {
            TaskOrder::CreatedAscending => "created",
            TaskOrder::CreatedDescending => "-created",
        }
    }
}

/// One page of a task-status list.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TaskStatusPage {
    /// The tasks on this page.
    pub items: Vec<TaskStatus>,
    /// The offset this page started at.
    pub offset: u64,
    /// `X-Total-Count`: how many tasks match in all, when ISC sent it.
    pub total_count: Option<u64>,
}

/// Lists task statuses. Created by [`Client::task_statuses`](crate::Client::task_statuses).
///
/// ```no_run
/// use futures_util::StreamExt;
/// use sailpoint_isc::tasks::{TaskFilter, ACCOUNT_AGGREGATION_TASK_TYPE};
///
/// # async fn demo(client: sailpoint_isc::Client) -> Result<(), sailpoint_isc::Error> {
/// let running = client
///     .task_statuses()
///     .filter(TaskFilter::new().task_type(ACCOUNT_AGGREGATION_TASK_TYPE).running())
///     .into_stream();
/// futures_util::pin_mut!(running);
/// while let Some(task) = running.next().await {
///     println!("{}", task?);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "nothing is sent until `.page()`, `.send()` or `.into_stream()` is used"]
pub struct ListTaskStatuses {
    executor: Executor,
    version: ApiVersion,
    filter: TaskFilter,
    order: TaskOrder,
    page_size: u32,
    offset: u64,
    max_items: Option<usize>,
    bound: Option<Instant>,
    cancel: Option<CancellationToken>,
}

impl ListTaskStatuses {
    pub(crate) fn new(executor: Executor, version: ApiVersion) -> Self {
        ListTaskStatuses {
            executor,
            version,
            filter: TaskFilter::new(),
            order: TaskOrder::default(),
            page_size: MAX_PAGE_SIZE,
            offset: 0,
            max_items: None,
            bound: None,
            cancel: None,
        }
    }

    /// Bounds each request, retries and waits included, by `at` (on top of the deadline).
    pub(crate) fn bounded(mut self, at: Option<Instant>) -> Self {
        self.bound = at;
        self
    }

    /// Ends each request at once when `cancel` fires ([`Error::Cancelled`]).
    pub(crate) fn cancel_on(mut self, cancel: Option<CancellationToken>) -> Self {
        self.cancel = cancel;
        self
    }

    /// Only tasks matching `filter`.
    pub fn filter(mut self, filter: TaskFilter) -> Self {
        self.filter = filter;
        self
    }

    /// The order by `created` (default newest first).
    pub fn order(mut self, order: TaskOrder) -> Self {
        self.order = order;
        self
    }

    /// Items per request, 1 to 250 (default 250).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size.clamp(1, MAX_PAGE_SIZE);
        self
    }

    /// Skips the first `offset` matches.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }

    /// Stops after `max` items in all.
    pub fn max_items(mut self, max: usize) -> Self {
        self.max_items = Some(max);
        self
    }

    /// Uses this API version instead of the client's default.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.version = version;
        self
    }

    /// One request: the page at `offset` (with `count=true`, so the total is known).
    pub async fn page(&self, offset: u64) -> Result<TaskStatusPage, Error> {
        let limit = match self.max_items {
            Some(max) => {
                let left = (max as u64).saturating_sub(offset.saturating_sub(self.offset));
                left.clamp(1, u64::from(self.page_size))
            }
            None => u64::from(self.page_size),
        };
        let mut query = vec![
            ("limit", limit.to_string()),
            ("offset", offset.to_string()),
            ("count", "true".to_owned()),
            ("sorters", self.order.sorter().to_owned()),
        ];
        if !self.filter.is_empty() {
            query.push(("filters", self.filter.to_string()));
        }
        let call = Call {
            version: self.version,
            operation: TASK_LIST_OPERATION,
            kind: OperationKind::Read,
            path_args: &[],
            query: &query,
            source_id: None,
            bound: self.bound,
            cancel: self.cancel.as_ref(),
        };
        let decoded = self
            .executor
            .call::<crate::lenient::ListOf<TaskStatus>>(call)
            .await?;
        Ok(TaskStatusPage {
            items: decoded.value.0,
            offset,
            total_count: decoded.total_count,
        })
    }

    /// Every matching task, page after page, as a stream; an error ends it.
    pub fn into_stream(self) -> impl Stream<Item = Result<TaskStatus, Error>> + Send {
        let start = self.offset;
        let state = (
            self,
            start,
            Vec::<TaskStatus>::new().into_iter(),
            false,
            0usize,
        );
        futures_util::stream::unfold(
            state,
            |(list, mut offset, mut buffered, mut exhausted, mut yielded)| async move {
                loop {
                    if list.max_items.is_some_and(|max| yielded >= max) {
                        return None;
                    }
                    if let Some(task) = buffered.next() {
                        yielded += 1;
                        return Some((Ok(task), (list, offset, buffered, exhausted, yielded)));
                    }
                    if exhausted {
                        return None;
                    }
                    match list.page(offset).await {
                        Ok(page) => {
                            let got = page.items.len() as u64;
                            offset += got;
                            exhausted = got < u64::from(list.page_size)
                                || page.total_count.is_some_and(|total| offset >= total);
                            buffered = page.items.into_iter();
                        }
                        Err(error) => {
                            return Some((Err(error), (list, offset, buffered, true, yielded)));
                        }
                    }
                }
            },
        )
    }

    /// Every matching task (all pages, up to [`max_items`](Self::max_items)).
    pub async fn send(self) -> Result<Vec<TaskStatus>, Error> {
        use futures_util::TryStreamExt;
        self.into_stream().try_collect().await
    }
}

/// Reads one task status. Created by [`Client::task_status`](crate::Client::task_status).
#[derive(Debug, Clone)]
#[must_use = "nothing is sent until `.send()` is awaited"]
pub struct GetTaskStatus {
    executor: Executor,
    task_id: String,
    version: ApiVersion,
}

impl GetTaskStatus {
    pub(crate) fn new(executor: Executor, task_id: String, version: ApiVersion) -> Self {
        GetTaskStatus {
            executor,
            task_id,
            version,
        }
    }

    /// Uses this API version instead of the client's default.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.version = version;
        self
    }

    /// Sends the request; an unknown id (or one older than ISC's 90 days) is
    /// [`Error::NotFound`].
    pub async fn send(self) -> Result<TaskStatus, Error> {
        fetch_task_status(&self.executor, &self.task_id, self.version).await
    }
}
