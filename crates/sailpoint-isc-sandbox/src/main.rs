//! `sailpoint-isc-sandbox`: runs a simulated ISC tenant until Ctrl-C.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use sailpoint_isc_sandbox::Sandbox;

/// Runs a simulated SailPoint ISC tenant on this machine until Ctrl-C.
///
/// Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) for more.
#[derive(Debug, Parser)]
#[command(name = "sailpoint-isc-sandbox", version)]
struct Args {
    /// Port to listen on (0: any free port)
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind
    #[arg(long, value_name = "IP", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Client id to accept (default: random)
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Client secret to accept (default: random)
    #[arg(long, value_name = "SECRET")]
    client_secret: Option<String>,
    /// How long aggregations stay STARTED, in milliseconds
    #[arg(long, value_name = "MS")]
    collect_ms: Option<u64>,
    /// How long aggregations stay ACCOUNTS_COLLECTED, in milliseconds
    #[arg(long, value_name = "MS")]
    process_ms: Option<u64>,
    /// Disable the rate limit (100 requests per sliding 10 s per client and version)
    #[arg(long)]
    no_rate_limit: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let args = Args::parse();
    let mut builder = Sandbox::builder().addr(SocketAddr::new(args.host, args.port));
    if args.client_id.is_some() || args.client_secret.is_some() {
        let id = args
            .client_id
            .unwrap_or_else(|| ClientDefaults::ID.to_owned());
        let secret = args
            .client_secret
            .unwrap_or_else(|| ClientDefaults::SECRET.to_owned());
        builder = builder.client(id, secret);
    }
    if let Some(ms) = args.collect_ms {
        builder = builder.collect_duration(Duration::from_millis(ms));
    }
    if let Some(ms) = args.process_ms {
        builder = builder.process_duration(Duration::from_millis(ms));
    }
    if args.no_rate_limit {
        builder = builder.no_rate_limit();
    }

    let sandbox = match builder.start().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("base_url={}", sandbox.base_url());
    println!("client_id={}", sandbox.client_id());
    println!("client_secret={}", sandbox.client_secret());
    println!("Press Ctrl-C to stop.");

    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("error: cannot wait for Ctrl-C: {e}");
    }
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}

/// Values used when only one of `--client-id` / `--client-secret` is given.
struct ClientDefaults;

impl ClientDefaults {
    const ID: &'static str = "sandbox-client";
    const SECRET: &'static str = "sandbox-secret";
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn parses_flags() {
        Args::command().debug_assert();
        let a = Args::try_parse_from(["x", "--port", "8080", "--client-id=abc", "--no-rate-limit"])
            .unwrap();
        assert_eq!(a.port, 8080);
        assert_eq!(a.client_id.as_deref(), Some("abc"));
        assert!(a.no_rate_limit);
        assert!(Args::try_parse_from(["x", "--port"]).is_err());
        assert!(Args::try_parse_from(["x", "--port", "x"]).is_err());
        assert!(Args::try_parse_from(["x", "--bogus"]).is_err());
    }
}
