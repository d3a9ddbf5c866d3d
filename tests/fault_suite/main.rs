//! Reliability and security under faults: whatever the network or the tenant does, the SDK ends
//! with success or a typed error within its deadline, never panics, never starts an aggregation
//! twice, never corrupts an upload and never leaks a secret.
//!
//! One test binary with its own runner (`harness = false`) so it can print one line per scenario
//! and, at the end, one summary line per area. It exits non-zero if anything failed.
//!
//! Areas, in order (the secret scan runs last, over everything the others produced):
//!
//! 1. `faults`: connection-level faults from a raw-TCP server ([`wire`]) on GET status and POST
//!    import ([`faults`]).
//! 2. `decoder fuzzing`: proptest inputs to every response decoder, and fuzzed responses over the
//!    wire ([`fuzz`]).
//! 3. `token storm`: 500 concurrent calls at token expiry, and with the token endpoint down
//!    ([`storm`]).
//! 4. `upload integrity`: byte-exact uploads to the sandbox, with and without a 429 first
//!    ([`uploads`]).
//! 5. `exactly once`: every ambiguous start (502 or a drop after processing, the deadline with
//!    the answer held back) × every API version × every state of task status (healthy, down,
//!    listing late within the grace period, listing after it): exactly one aggregation, resolved
//!    or typed `OutcomeUnknown` ([`exactly_once`]).
//! 6. `secret hygiene`: redirects, plain http, echoing servers, and a scan of all TRACE logs,
//!    error texts and panic messages ([`secrets`]).
//!
//! 7. `slow and broken links`: the sandbox's link model — an upload longer than every timeout,
//!    a cut mid-body (resent, one aggregation), a server that stops reading (stall), a drop after
//!    the last byte ([`links`]).
//! 8. `deadlines and signals`: deadlines that pass before a request is sent, starts ISC accepted
//!    without a readable id or refused inside its 202, and stops during and after an upload
//!    ([`deadlines`]).
//!
//! `FAULT_SUITE_ONLY=<area name part>` runs a subset (the secret scan then covers only it); a
//! value that names no area is an error (exit 2), not an empty pass.

#![forbid(unsafe_code)]

mod deadlines;
mod exactly_once;
mod faults;
mod fuzz;
mod hygiene;
mod links;
mod report;
mod secrets;
mod storm;
mod uploads;
mod wire;

use std::time::Instant;

/// Every area, in the order they run.
const AREAS: &[&str] = &[
    "faults",
    "decoder fuzzing",
    "token storm",
    "upload integrity",
    "exactly once",
    "slow and broken links",
    "deadlines and signals",
    "secret hygiene",
];

fn main() {
    hygiene::install();
    let only = std::env::var("FAULT_SUITE_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || name.contains(only.as_str());
    if !AREAS.iter().any(|area| wanted(area)) {
        eprintln!(
            "FAULT_SUITE_ONLY={only:?} names no area; the areas are: {}",
            AREAS.join(", ")
        );
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = Instant::now();
    let areas = runtime.block_on(async {
        let mut areas = Vec::new();
        if wanted("faults") {
            areas.push(faults::run().await);
        }
        if wanted("decoder fuzzing") {
            areas.push(fuzz::run().await);
        }
        if wanted("token storm") {
            areas.push(storm::run().await);
        }
        if wanted("upload integrity") {
            areas.push(uploads::run().await);
        }
        if wanted("exactly once") {
            areas.push(exactly_once::run().await);
        }
        if wanted("slow and broken links") {
            areas.push(links::run().await);
        }
        if wanted("deadlines and signals") {
            areas.push(deadlines::run().await);
        }
        if wanted("secret hygiene") {
            areas.push(secrets::run(only.is_empty()).await);
        }
        areas
    });
    // Connections the wire servers still hold open (headers that never finish) end with the runtime.
    runtime.shutdown_background();

    println!("\n== summary ({:.1} s)", started.elapsed().as_secs_f64());
    for area in &areas {
        println!("{}", area.summary());
    }
    let failures: usize = areas.iter().map(|a| a.failures.len()).sum();
    let duplicates: usize = areas.iter().map(|a| a.duplicates).sum();
    if failures > 0 || duplicates > 0 {
        println!("\n{failures} failure(s), {duplicates} duplicate aggregation start(s):");
        for area in &areas {
            for failure in &area.failures {
                println!("  {}: {failure}", area.name);
            }
        }
        std::process::exit(1);
    }
    println!("\nfault suite: all areas passed");
}
