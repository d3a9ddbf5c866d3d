//! Command-line arguments.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};
use sailpoint_isc::ApiVersion;

/// Shown after `--help`: configuration and exit codes.
const AFTER_HELP: &str = "\
Configuration (unless --sandbox):
  SAIL_BASE_URL, SAIL_CLIENT_ID and SAIL_CLIENT_SECRET, or ./config.json
  ({\"BaseURL\": .., \"ClientId\": .., \"ClientSecret\": ..}). --base-url overrides the base URL.
  Without any of them the command fails with exit code 2; it never falls back to the sandbox.

Output:
  The result goes to stdout, progress and messages to stderr. With --json, stdout carries only
  NDJSON: one object per event (\"accepted\", \"status\") and a final \"result\" object
  (batch: event objects, a \"result\" per item, then a \"summary\").

Exit codes:
  0  done: the aggregation COMPLETED (without --wait/--watch: the request succeeded)
  1  the aggregation ended unsuccessfully (CANCELLED or TERMINATED)
  2  usage, configuration or input error (e.g. a missing or empty file, or a file that does
     not fit the source's schema with `check` or --check); nothing was sent
  3  ISC API error after retries (status, message and tracking id on stderr), including an
     unknown or expired aggregation id
  4  timed out waiting (the aggregation may still be running)
  5  outcome unknown: the upload may have started an aggregation; check before retrying
  130, 143  stopped by SIGINT (Ctrl-C) or SIGTERM: nothing new was started after the signal;
     what had started is printed (with how to follow it) before exiting

Time limits:
  Uploads are bounded by progress, not size: --stall-timeout (default 60s) cuts one whose body
  stops moving (it is resent: ISC cannot start anything from an incomplete file), and ISC's
  answer after the last byte may take 2m. --request-deadline (default 3m) bounds the waiting
  (Retry-After, rate limit, token) and the requests without a file.

  batch: 2 when the manifest is refused (nothing is sent); 0 when every item completed;
  otherwise the first of 5, 3, 4, 1 that any item has (precedence, not the largest number).
  See `isc-aggregate batch --help`.";

/// Shown after `batch --help`: the manifest and the exit-code rule.
const BATCH_AFTER_HELP: &str = "\
Manifest (TOML; relative files are relative to the manifest's folder):
  check = false                                    # optional default of every item's check
  [[aggregation]]
  source_id = \"2c9180835d2e5168015d32f890ca1581\"   # or: source_name = \"HR Feed\"
  kind = \"accounts\"                                # or \"entitlements\" (default accounts)
  file = \"exports/hr.csv\"                          # omit for a direct-connect source
  disable_optimization = false                     # optional, accounts only
  check = false                                    # optional: check the file against the
                                                   # source's schema first (needs a file)

  The whole manifest is checked before any request: unknown keys, both or neither of
  source_id/source_name, an unknown kind, wrong types, empty strings, missing, empty or
  unreadable files, disable_optimization with kind = \"entitlements\", and the same source,
  kind and file twice are all listed, each with its line, and the exit code is 2. Items of one
  source run one after the other in manifest order (load accounts before entitlements); other
  sources run at the same time.

Folder (--dir DIR instead of a manifest; the File Upload Utility's naming):
  Every *.csv file (any case) whose name begins with a source id (32 hex digits, optionally
  after one space) is loaded into that source: an entitlements file when the name, after the
  id, has the word entitlement(s) or group(s) (<id>-entitlements.csv, <id>_groups.csv) or, with
  --entitlements-pattern, matches it; otherwise an accounts file. Order: by path, a source's
  accounts files before its entitlements files. Other entries are listed (\"unmatched\" with
  --json) and skipped; hidden ones are ignored; --recursive reads sub-folders without following
  symbolic links to folders. No matching file, or a matching file that is missing, empty or
  unreadable, is exit 2 before any request.

Output:
  A progress bar per running aggregation and a total on a terminal, otherwise a line per change
  on stderr; a line per item and a summary on stdout. With --json, stdout carries only NDJSON:
  \"unmatched\" (--dir), \"resolved\", \"started\", \"progress\" and \"finished\" events, a
  \"result\" per item, then one \"summary\".
  --junit PATH writes a JUnit XML report (replaced atomically) and --summary-markdown PATH
  appends a Markdown table (e.g. to $GITHUB_STEP_SUMMARY), at the end of the batch, also when
  it is stopped by a signal or its input is refused.

Exit codes:
  2  the manifest was refused; nothing was sent
  0  every item completed
  otherwise the first of these that any item has, in this order (not the largest number):
  5  outcome unknown (check `isc-aggregate tasks --source-id ID` before running it again)
  3  API error, or input that fails at run time (a source_name that matches no source or
     several; a file changed after the check; a file that fails its --check/check against the
     source's schema: nothing of that item was sent)
  4  timed out (the batch's --timeout passed; the aggregation may still be running)
  1  ended unsuccessfully (CANCELLED, TERMINATED), or ISC refused the start (one was running)
  130, 143  stopped by SIGINT or SIGTERM: nothing started after the signal; the table (or
     NDJSON summary) lists every item, running ones with their aggregation id
  Items not started because the timeout passed first do not raise the code by themselves.";

/// Upload a CSV to a SailPoint Identity Security Cloud source and follow the aggregation of its
/// accounts or entitlements.
#[derive(Debug, Parser)]
#[command(name = "isc-aggregate", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// `--entitlements` as the kind it selects.
pub fn kind(entitlements: bool) -> sailpoint_isc::AggregationKind {
    if entitlements {
        sailpoint_isc::AggregationKind::Entitlements
    } else {
        sailpoint_isc::AggregationKind::Accounts
    }
}

/// Options shared by every command.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// ISC API version to call (the versions this build was generated with)
    #[arg(long, value_parser = api_version_parser(), default_value_t = ApiVersion::default(), global = true)]
    pub api: ApiVersion,

    /// Tenant API base URL, e.g. https://acme.api.identitynow.com (overrides SAIL_BASE_URL and
    /// config.json)
    #[arg(long, value_name = "URL", global = true, conflicts_with = "sandbox")]
    pub base_url: Option<String>,

    /// Print NDJSON on stdout: one object per status change and a final result object
    #[arg(long, global = true)]
    pub json: bool,

    /// Run against a simulated tenant started in this process (for demos; nothing leaves the machine)
    #[arg(long, global = true)]
    pub sandbox: bool,

    /// Log requests and retries to stderr (-v: debug for the SDK, -vv: trace)
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Poll at this fixed interval (e.g. 2s) instead of the adaptive schedule
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, global = true, overrides_with = "poll_interval")]
    pub poll_interval: Option<Duration>,

    /// The whole-request deadline (default 3m): waiting for Retry-After, the rate limit and a
    /// token, and requests without a file. An upload whose body keeps moving is not cut by it
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, global = true, overrides_with = "request_deadline")]
    pub request_deadline: Option<Duration>,

    /// Cut an upload when no byte of it has been taken for this long (default 60s); it is then
    /// sent again, as ISC cannot have started anything from an incomplete file
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, global = true, overrides_with = "stall_timeout")]
    pub stall_timeout: Option<Duration>,

    /// Backoff between retries and the cap on Retry-After (for tests; the default is the SDK's)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, global = true, hide = true, overrides_with = "retry_backoff")]
    pub retry_backoff: Option<Duration>,
}

/// Accepts exactly the generated API versions' names (listed in `--help`).
fn api_version_parser() -> impl clap::builder::TypedValueParser<Value = ApiVersion> {
    use clap::builder::TypedValueParser;
    let names: Vec<&'static str> = ApiVersion::all().map(ApiVersion::name).collect();
    clap::builder::PossibleValuesParser::new(names).try_map(|name| name.parse::<ApiVersion>())
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start an aggregation of accounts (or --entitlements) on a source, uploading a CSV for
    /// delimited-file sources
    Import(ImportArgs),

    /// Check a CSV against the source's schema before uploading it: every problem with its line
    /// (exit 0 when clean, warnings printed; 2 when a problem is found). Nothing is uploaded
    Check(CheckArgs),
    /// Show (or follow) the status of an aggregation
    Status(StatusArgs),
    /// List recent aggregation tasks of accounts (or --entitlements), from ISC's task status,
    /// kept 90 days
    Tasks(TasksArgs),
    /// Aggregate many sources from a TOML manifest, several at a time, and wait for all of them
    #[command(after_help = BATCH_AFTER_HELP)]
    Batch(BatchArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["manifest", "dir"])))]
pub struct BatchArgs {
    /// The manifest: [[aggregation]] tables with source_id or source_name, kind, file,
    /// disable_optimization, check (see below)
    #[arg(value_name = "MANIFEST.toml")]
    pub manifest: Option<PathBuf>,

    /// Aggregate the CSV files of this folder instead of a manifest, each into the source whose
    /// id its name begins with (see below)
    #[arg(long, value_name = "DIR", conflicts_with = "manifest")]
    pub dir: Option<PathBuf>,

    /// With --dir: read its sub-folders too
    #[arg(long)]
    pub recursive: bool,

    /// With --dir: entitlements files are the ones whose name matches this pattern (* and ?,
    /// case ignored, e.g. "*_ent.csv") instead of the words entitlement(s)/group(s) after the id
    #[arg(long, value_name = "GLOB", value_parser = crate::dir::Glob::parse)]
    pub entitlements_pattern: Option<crate::dir::Glob>,

    /// Check every file against its source's schema before sending it (a file with a problem
    /// fails its item; nothing of it is sent)
    #[arg(long)]
    pub check: bool,

    /// Process every account of every accounts item, not only new, changed and deleted ones
    /// (entitlements items are not affected)
    #[arg(long)]
    pub disable_optimization: bool,

    /// Write a JUnit XML report of the batch here (one test case per item)
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,

    /// Append a Markdown table of the batch to this file (e.g. $GITHUB_STEP_SUMMARY)
    #[arg(long, value_name = "PATH")]
    pub summary_markdown: Option<PathBuf>,

    /// How many aggregations run at once
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub max_concurrency: u16,

    /// Bounds the whole batch, e.g. 90s, 5m, 1h, 500ms: every request (name lookups, snapshots,
    /// starts, polls) ends by then and nothing starts after it; items not started are skipped,
    /// what still runs ends as timed out
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1h")]
    pub timeout: Duration,

    /// After an ambiguous start, look for the aggregation in task status this long before the
    /// item ends with outcome unknown; 0s: do not look (default: the client's, 30s)
    #[arg(long, value_name = "DURATION", value_parser = parse_grace)]
    pub outcome_grace: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The source's id (or use --source-name)
    #[arg(value_name = "SOURCE_ID", required_unless_present = "source_name")]
    pub source_id: Option<String>,

    /// The source's exact name, looked up before anything is uploaded (instead of SOURCE_ID)
    #[arg(long, value_name = "NAME", conflicts_with = "source_id")]
    pub source_name: Option<String>,

    /// Load entitlements (load-entitlements) instead of accounts
    #[arg(long)]
    pub entitlements: bool,

    /// Check the file against the source's schema first (as `check` does); upload nothing and
    /// exit 2 when it has a problem
    #[arg(long, requires = "file")]
    pub check: bool,

    /// If an aggregation of the same kind is already running on the source, upload nothing and
    /// use that one (printed; followed with --wait)
    #[arg(long)]
    pub if_idle: bool,

    /// After an ambiguous start (a 5xx or a lost connection after the upload), look for the
    /// aggregation in task status this long before giving up with exit 5; 0s: do not look
    /// (default: the client's, 30s)
    #[arg(long, value_name = "DURATION", value_parser = parse_grace)]
    pub outcome_grace: Option<Duration>,

    /// CSV of accounts (or entitlements) to upload (delimited-file sources); omit for
    /// direct-connect sources
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// Process every account, not only new, changed and deleted ones (accounts only)
    #[arg(long, conflicts_with = "entitlements")]
    pub disable_optimization: bool,

    /// Wait until the aggregation ends, showing its progress
    #[arg(long)]
    pub wait: bool,

    /// Give up waiting after this long, e.g. 90s, 5m, 1h, 500ms (default 1h)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "wait")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The source's id (or use --source-name)
    #[arg(value_name = "SOURCE_ID", required_unless_present = "source_name")]
    pub source_id: Option<String>,

    /// The source's exact name, looked up first (instead of SOURCE_ID)
    #[arg(long, value_name = "NAME", conflicts_with = "source_id")]
    pub source_name: Option<String>,

    /// The CSV to check
    #[arg(long, value_name = "PATH")]
    pub file: PathBuf,

    /// Check it as an entitlements file (the source's entitlement schema) instead of accounts
    #[arg(long)]
    pub entitlements: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The aggregation id (the task id printed by `import`)
    #[arg(value_name = "AGGREGATION_ID")]
    pub aggregation_id: String,

    /// It is an entitlement aggregation (read from its task status; there is no status endpoint)
    #[arg(long)]
    pub entitlements: bool,

    /// Keep polling until the aggregation ends, showing its progress
    #[arg(long)]
    pub watch: bool,

    /// Give up watching after this long, e.g. 90s, 5m, 1h, 500ms (default 1h)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "watch")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct TasksArgs {
    /// Only tasks of this source
    #[arg(long, value_name = "ID", conflicts_with = "source_name")]
    pub source_id: Option<String>,

    /// Only tasks of the source with this exact name
    #[arg(long, value_name = "NAME")]
    pub source_name: Option<String>,

    /// Only aggregations still running
    #[arg(long)]
    pub running: bool,

    /// Entitlement aggregations (CLOUD_GROUP_AGGREGATION) instead of account aggregations
    #[arg(long)]
    pub entitlements: bool,

    /// How many tasks to show, newest first
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
}

/// Like [`parse_duration`], but zero (`0`, `0s`) is allowed.
pub fn parse_grace(text: &str) -> Result<Duration, String> {
    match text.trim() {
        "0" => Ok(Duration::ZERO),
        other => humantime::parse_duration(other).map_err(|e| invalid_duration(text, &e)),
    }
}

/// Parses a positive duration (`humantime`): `500ms`, `90s`, `5m`, `1h`, `1h30m`, `2days`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration =
        humantime::parse_duration(text.trim()).map_err(|e| invalid_duration(text, &e))?;
    if duration.is_zero() {
        return Err(format!(
            "invalid duration {text:?}: it must be more than zero"
        ));
    }
    Ok(duration)
}

fn invalid_duration(text: &str, error: &humantime::DurationError) -> String {
    format!("invalid duration {text:?}: {error} (use e.g. 90s, 5m, 1h30m or 500ms)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 1h30m "), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2m5s"), Ok(Duration::from_secs(125)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        for bad in ["", "90", "s", "-5s", "0s", "ms5", "soon"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(parse_duration("90").unwrap_err().contains("90s"));
        assert_eq!(parse_grace("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_grace("0"), Ok(Duration::ZERO));
        assert!(parse_grace("soon").is_err());
    }

    #[test]
    fn clap_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
