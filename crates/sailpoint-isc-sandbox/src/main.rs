//! `sailpoint-isc-sandbox`: runs a simulated ISC tenant until Ctrl-C.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use sailpoint_isc_sandbox::Sandbox;

const USAGE: &str = "\
Usage: sailpoint-isc-sandbox [OPTIONS]

Runs a simulated SailPoint ISC tenant on this machine until Ctrl-C.

Options:
  --port <PORT>            Port to listen on (default 0: any free port)
  --host <IP>              Address to bind (default 127.0.0.1)
  --client-id <ID>         Client id to accept (default: random)
  --client-secret <SECRET> Client secret to accept (default: random)
  --collect-ms <MS>        How long aggregations stay STARTED (default 2000)
  --process-ms <MS>        How long aggregations stay ACCOUNTS_COLLECTED (default 3000)
  --no-rate-limit          Disable the 100 requests / 10 s rate limit
  -h, --help               Print this help

Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) for more.";

#[derive(Debug, Default)]
struct Args {
    port: u16,
    host: Option<IpAddr>,
    client_id: Option<String>,
    client_secret: Option<String>,
    collect_ms: Option<u64>,
    process_ms: Option<u64>,
    no_rate_limit: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    fn value<T: std::str::FromStr>(
        flag: &str,
        args: &mut impl Iterator<Item = String>,
    ) -> Result<T, String> {
        let raw = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        raw.parse()
            .map_err(|_| format!("invalid value for {flag}: {raw}"))
    }
    let mut parsed = Args::default();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut rest = inline.into_iter().chain(&mut args);
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" => parsed.port = value(&flag, &mut rest)?,
            "--host" => parsed.host = Some(value(&flag, &mut rest)?),
            "--client-id" => parsed.client_id = Some(value(&flag, &mut rest)?),
            "--client-secret" => parsed.client_secret = Some(value(&flag, &mut rest)?),
            "--collect-ms" => parsed.collect_ms = Some(value(&flag, &mut rest)?),
            "--process-ms" => parsed.process_ms = Some(value(&flag, &mut rest)?),
            "--no-rate-limit" => parsed.no_rate_limit = true,
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Some(parsed))
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

    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    let host = args.host.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut builder = Sandbox::builder().addr(SocketAddr::new(host, args.port));
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

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_flags() {
        let a = parse(&["--port", "8080", "--client-id=abc", "--no-rate-limit"])
            .unwrap()
            .unwrap();
        assert_eq!(a.port, 8080);
        assert_eq!(a.client_id.as_deref(), Some("abc"));
        assert!(a.no_rate_limit);
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--port", "x"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}
