//! `isc-aggregate`: check and upload a CSV of accounts or entitlements to a SailPoint ISC source
//! and follow the aggregation.
//!
//! See `isc-aggregate --help` for the commands, configuration and exit codes.
#![forbid(unsafe_code)]

mod batch;
mod batch_outcome;
mod batch_view;
mod cli;
mod dir;
mod junit;
mod logging;
mod manifest;
mod outcome;
mod record;
mod report;
mod report_files;
mod signals;
mod simulated;
mod summary;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use futures_util::StreamExt;
use sailpoint_isc::{
    AccountsFile, AggregationRef, Client, ClientBuilder, Error, PollSchedule, RetryConfig,
    TaskFilter, TimeoutConfig,
};

use crate::cli::{
    BatchArgs, CheckArgs, Cli, Command, GlobalArgs, ImportArgs, StatusArgs, TasksArgs,
};
use crate::logging::ActiveBar;
use crate::manifest::Manifest;
use crate::outcome::{Exit, exit_for_state};
use crate::report::Reporter;
use crate::signals::{Signal, Stop};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let active_bar = ActiveBar::default();
    logging::init(cli.global.verbose, active_bar.clone());
    let mut reporter = Reporter::new(cli.global.json, active_bar);
    let exit = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(cli, &mut reporter)),
        Err(e) => reporter.local_failure(
            Exit::Usage,
            "runtime",
            &format!("cannot start the async runtime: {e}"),
        ),
    };
    ExitCode::from(exit.code())
}

async fn run(cli: Cli, reporter: &mut Reporter) -> Exit {
    // From here on, SIGINT/SIGTERM ask the command to stop cleanly (a second one exits at once).
    let stop = Stop::install();
    // Check the file (or the batch manifest and its files) before anything else: bad input is
    // reported even without configuration, and never costs a request, not even a token.
    let file = match &cli.command {
        Command::Import(ImportArgs {
            file: Some(path), ..
        })
        | Command::Check(CheckArgs { file: path, .. }) => match AccountsFile::open(path).await {
            Ok(file) => Some(file),
            Err(e) => return reporter.failure(&e),
        },
        _ => None,
    };
    let manifest = match &cli.command {
        Command::Batch(args) => match batch::prepare(args, reporter.json()).await {
            Ok(manifest) => Some(manifest),
            Err(exit) => return exit,
        },
        _ => None,
    };
    // Kept alive until the command is done; dropping it stops the simulated tenant.
    let mut _tenant = None;
    let builder = if cli.global.sandbox {
        // A file check needs the source's schema: the simulated source gets the examples'.
        let checked_source = match &cli.command {
            Command::Check(args) => args.source_id.as_deref(),
            Command::Import(args) if args.check => args.source_id.as_deref(),
            _ => None,
        };
        match simulated::start(manifest.as_ref(), checked_source, reporter).await {
            Ok((builder, tenant)) => {
                _tenant = Some(tenant);
                reporter.sandbox = true;
                builder
            }
            Err(message) => return reporter.local_failure(Exit::Usage, "sandbox", &message),
        }
    } else {
        match configured_builder(&cli.global) {
            Ok(builder) => builder,
            Err(e) => return reporter.failure(&e),
        }
    };
    let client = match with_timing_options(builder, &cli.global)
        .api_version(cli.global.api)
        .build()
    {
        Ok(client) => client,
        Err(e) => return reporter.failure(&e),
    };
    match cli.command {
        Command::Import(args) => import(&client, args, file, &stop, reporter).await,
        Command::Check(args) => check(&client, args, &stop, reporter).await,
        Command::Status(args) => status(&client, args, &stop, reporter).await,
        Command::Tasks(args) => tasks(&client, args, reporter).await,
        Command::Batch(args) => match manifest {
            Some(manifest) => {
                batch(
                    &client,
                    args,
                    manifest,
                    (cli.global.sandbox, cli.global.poll_interval),
                    stop,
                    reporter,
                )
                .await
            }
            None => reporter.local_failure(Exit::Usage, "manifest", "no manifest was read"),
        },
    }
}

async fn batch(
    client: &Client,
    args: BatchArgs,
    manifest: Manifest,
    (sandbox, poll_interval): (bool, Option<Duration>),
    stop: Stop,
    reporter: &Reporter,
) -> Exit {
    let poll_interval = poll_interval.or(sandbox.then_some(simulated::BATCH_POLL));
    let options = batch::Options {
        max_concurrency: usize::from(args.max_concurrency),
        timeout: args.timeout,
        outcome_grace: args.outcome_grace,
        poll_interval,
        stop,
        reports: batch::report_files(&args),
    };
    let output = batch::Output {
        json: reporter.json(),
        bars: reporter.progress_bar(),
        active_bar: reporter.active_bar(),
    };
    batch::run(client, manifest, options, output).await
}

/// The client configuration: each setting from `SAIL_*` or `./config.json` (the SDK's
/// layering), `--base-url` overriding the base URL.
fn configured_builder(global: &GlobalArgs) -> Result<ClientBuilder, Error> {
    let builder = ClientBuilder::from_env()?;
    Ok(match &global.base_url {
        Some(base_url) => builder.base_url(base_url.clone()),
        None => builder,
    })
}

/// `--poll-interval`, `--request-deadline`, `--stall-timeout` and the hidden `--retry-backoff`.
fn with_timing_options(mut builder: ClientBuilder, global: &GlobalArgs) -> ClientBuilder {
    let mut timeouts = TimeoutConfig::standard();
    if let Some(deadline) = global.request_deadline {
        timeouts = timeouts.with_total_deadline(Some(deadline));
    }
    if let Some(stall) = global.stall_timeout {
        timeouts = timeouts.with_stall_timeout(stall);
    }
    builder = builder.timeouts(timeouts);
    if let Some(interval) = global.poll_interval {
        builder = builder.poll_schedule(PollSchedule::fixed(interval));
    }
    if let Some(backoff) = global.retry_backoff {
        builder = builder.retry(
            RetryConfig::standard()
                .with_backoff(backoff, backoff)
                .with_max_retry_after(backoff),
        );
    }
    builder
}

async fn import(
    client: &Client,
    args: ImportArgs,
    file: Option<AccountsFile>,
    stop: &Stop,
    reporter: &mut Reporter,
) -> Exit {
    let lookup = source_id_of(
        client,
        args.source_id.as_deref(),
        args.source_name.as_deref(),
    );
    let Some(source_id) = stop.token().run_until_cancelled(lookup).await else {
        return stopped(stop, reporter, "before anything was uploaded");
    };
    let source_id = match source_id {
        Ok(Some(id)) => id,
        Ok(None) => {
            return reporter.failure(&Error::InvalidInput {
                message: "give SOURCE_ID or --source-name".to_owned(),
            });
        }
        Err(e) => return reporter.failure(&e),
    };
    reporter.subject.source_id = Some(source_id.clone());
    let kind = cli::kind(args.entitlements);
    let mut request = client
        .start_aggregation(&source_id)
        .kind(kind)
        .disable_optimization(args.disable_optimization);
    if let Some(file) = file {
        request = request.accounts_file(file);
    }
    if args.check {
        request = request.check_first();
    }
    if args.if_idle {
        request = request.if_idle();
    }
    // The client's outcome resolution, with the grace period only if the user gave one.
    if let Some(grace) = args.outcome_grace {
        request = request
            .outcome_resolution(client.outcome_resolution().clone().with_grace_period(grace));
    }
    // A stop cuts an upload that has not sent its last byte (nothing started) and settles one
    // that has (TimeoutConfig::settle), so what is reported is what happened.
    let started = match request.cancel_on(stop.token()).send().await {
        Ok(started) => started,
        Err(e) if stop.signal().is_some() => {
            let what = match &e {
                Error::Cancelled { .. } => {
                    "the upload was stopped before its last byte; nothing was started".to_owned()
                }
                Error::FileCheckFailed { .. } => {
                    "stopped while checking the file; nothing was uploaded".to_owned()
                }
                Error::OutcomeUnknown { .. } => format!(
                    "ISC's answer did not come after the upload's last byte, so the aggregation \
                     may have started; check `isc-aggregate tasks --source-id {source_id}` before \
                     importing again"
                ),
                other => format!("the start ended with: {other}"),
            };
            return stopped(stop, reporter, &what);
        }
        Err(e) => return reporter.failure(&e),
    };
    reporter.accepted(
        &started,
        args.file.as_deref(),
        args.disable_optimization,
        args.wait,
    );
    if stop.signal().is_some() {
        return stopped(stop, reporter, "the aggregation had been accepted");
    }
    if !args.wait {
        return reporter.result(Exit::Done, "accepted");
    }
    wait(
        client,
        AggregationRef::from(&started),
        args.timeout,
        stop,
        reporter,
    )
    .await
}

/// Checks a file against the source's schema: every finding, then exit 0 (clean) or 2.
async fn check(client: &Client, args: CheckArgs, stop: &Stop, reporter: &mut Reporter) -> Exit {
    let kind = cli::kind(args.entitlements);
    let work = async {
        let source_id = source_id_of(
            client,
            args.source_id.as_deref(),
            args.source_name.as_deref(),
        )
        .await?
        .ok_or_else(|| Error::InvalidInput {
            message: "give SOURCE_ID or --source-name".to_owned(),
        })?;
        let schema = client.file_schema(&source_id, kind).send().await?;
        let report = client
            .check_file(&source_id, &args.file, kind)
            .schema(schema.clone())
            .send()
            .await?;
        Ok::<_, Error>((source_id, schema, report))
    };
    match stop.token().run_until_cancelled(work).await {
        None => stopped(stop, reporter, "stopped while checking the file"),
        Some(Err(e)) => reporter.failure(&e),
        Some(Ok((source_id, schema, report))) => {
            reporter.subject.source_id = Some(source_id);
            reporter.check_report(&args.file, kind, &schema, &report)
        }
    }
}

/// Reports a stop by signal (what is known) and returns its exit code.
fn stopped(stop: &Stop, reporter: &Reporter, what: &str) -> Exit {
    let signal = stop.signal().unwrap_or(Signal::Interrupt);
    reporter.stopped(signal, what)
}

/// The source id given, or the id of the one source with the given name (looked up before
/// anything is uploaded). `None` only if neither was given (clap requires one).
async fn source_id_of(
    client: &Client,
    id: Option<&str>,
    name: Option<&str>,
) -> Result<Option<String>, Error> {
    match (id, name) {
        (Some(id), _) => Ok(Some(id.to_owned())),
        (None, Some(name)) => {
            let source = client.find_source_by_name(name).send().await?;
            Ok(source.id)
        }
        (None, None) => Ok(None),
    }
}

/// Lists recent account-aggregation tasks, newest first.
async fn tasks(client: &Client, args: TasksArgs, reporter: &mut Reporter) -> Exit {
    let source_id = match source_id_of(
        client,
        args.source_id.as_deref(),
        args.source_name.as_deref(),
    )
    .await
    {
        Ok(id) => id,
        Err(e) => return reporter.failure(&e),
    };
    reporter.subject.source_id = source_id.clone();
    let kind = cli::kind(args.entitlements);
    let mut filter = TaskFilter::new().task_type(kind.task_type());
    if let Some(id) = &source_id {
        filter = filter.source_id(id);
    }
    if args.running {
        filter = filter.running();
    }
    match client
        .task_statuses()
        .filter(filter)
        .max_items(args.limit as usize)
        .send()
        .await
    {
        Ok(tasks) => reporter.tasks(&tasks),
        Err(e) => reporter.failure(&e),
    }
}

async fn status(client: &Client, args: StatusArgs, stop: &Stop, reporter: &mut Reporter) -> Exit {
    reporter.subject.aggregation_id = Some(args.aggregation_id.clone());
    let aggregation =
        AggregationRef::from(&args.aggregation_id).with_kind(cli::kind(args.entitlements));
    if args.watch {
        return wait(client, aggregation, args.timeout, stop, reporter).await;
    }
    match client.aggregation_status(aggregation).send().await {
        Ok(status) => {
            let exit = exit_for_state(status.state.as_ref());
            let state = status.state_name().to_owned();
            reporter.subject.last_status = Some(status);
            reporter.result(exit, &state)
        }
        Err(e) => reporter.failure(&e),
    }
}

/// Polls until the aggregation ends, reporting each status.
async fn wait(
    client: &Client,
    aggregation: AggregationRef,
    timeout: Option<Duration>,
    stop: &Stop,
    reporter: &mut Reporter,
) -> Exit {
    let aggregation_id = aggregation.task_id.clone();
    let mut waiter = client.wait_for_aggregation(aggregation);
    if let Some(timeout) = timeout {
        waiter = waiter.max_wait(timeout);
    }
    reporter.start_waiting(&aggregation_id);
    let updates = waiter.into_stream();
    futures_util::pin_mut!(updates);
    let token = stop.token();
    loop {
        let update = match token.run_until_cancelled(updates.next()).await {
            // Stopped while waiting: the aggregation goes on in ISC.
            None => {
                reporter.stop_waiting(false);
                return stopped(
                    stop,
                    reporter,
                    "stopped waiting; the aggregation goes on in ISC",
                );
            }
            Some(None) => break,
            Some(Some(update)) => update,
        };
        match update {
            Ok(progress) => reporter.progress(&progress),
            Err(e) => {
                reporter.stop_waiting(false);
                return reporter.failure(&e);
            }
        }
    }
    reporter.stop_waiting(true);
    reporter.result(Exit::Done, "COMPLETED")
}
