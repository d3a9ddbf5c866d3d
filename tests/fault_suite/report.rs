//! Scenario bookkeeping: one [`Area`] per deliverable, one line per scenario, one summary line per
//! area at the end.

use std::future::Future;
use std::time::{Duration, Instant};

/// What a passing scenario reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct Seen {
    /// Requests the server(s) saw, token requests included.
    pub requests: usize,
    /// Aggregations started more than once (must stay 0).
    pub duplicates: usize,
}

/// Results of one area.
#[derive(Debug)]
pub struct Area {
    /// The area's name.
    pub name: &'static str,
    /// Scenarios (or generated cases) run.
    pub scenarios: usize,
    /// Failure messages.
    pub failures: Vec<String>,
    /// Requests seen by the servers.
    pub requests: usize,
    /// Duplicate aggregation starts seen.
    pub duplicates: usize,
}

impl Area {
    /// An empty area.
    pub fn new(name: &'static str) -> Area {
        println!("\n== {name}");
        Area {
            name,
            scenarios: 0,
            failures: Vec::new(),
            requests: 0,
            duplicates: 0,
        }
    }

    /// Runs one scenario in its own task (so a panic is caught and reported as a failure) and
    /// prints a line for it.
    pub async fn run<F>(&mut self, name: impl Into<String>, scenario: F)
    where
        F: Future<Output = Result<(Seen, String), String>> + Send + 'static,
    {
        let name = name.into();
        let started = Instant::now();
        let outcome = match tokio::spawn(scenario).await {
            Ok(outcome) => outcome,
            Err(join) => Err(format!("panicked: {}", panic_text(join))),
        };
        self.scenarios += 1;
        let took = started.elapsed();
        match outcome {
            Ok((seen, detail)) => {
                self.requests += seen.requests;
                self.duplicates += seen.duplicates;
                if seen.duplicates > 0 {
                    self.failures
                        .push(format!("{name}: {} duplicate starts", seen.duplicates));
                    println!(
                        "  FAIL {name}: {} duplicate aggregation starts",
                        seen.duplicates
                    );
                } else {
                    println!(
                        "  ok   {name}: {detail} [{} req, {}]",
                        seen.requests,
                        secs(took)
                    );
                }
            }
            Err(why) => {
                println!("  FAIL {name}: {why} [{}]", secs(took));
                self.failures.push(format!("{name}: {why}"));
            }
        }
    }

    /// Records a check that is not a scenario of its own (e.g. a scan at the end).
    pub fn check(&mut self, name: &str, result: Result<String, String>) {
        self.scenarios += 1;
        match result {
            Ok(detail) => println!("  ok   {name}: {detail}"),
            Err(why) => {
                println!("  FAIL {name}: {why}");
                self.failures.push(format!("{name}: {why}"));
            }
        }
    }

    /// The summary line.
    pub fn summary(&self) -> String {
        format!(
            "{:<18} scenarios {:>6}  failures {:>3}  requests seen {:>6}  duplicates {}",
            self.name,
            self.scenarios,
            self.failures.len(),
            self.requests,
            self.duplicates
        )
    }
}

fn panic_text(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "non-text panic".to_owned()),
        Err(e) => e.to_string(),
    }
}

/// `1.23 s`.
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// `Err` with `message` unless `condition` holds.
pub fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(message()) }
}
