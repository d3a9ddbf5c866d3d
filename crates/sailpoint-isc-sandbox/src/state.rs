//! The state shared by the server's handlers and the [`Sandbox`](crate::Sandbox) handle.

use std::sync::Arc;

use crate::aggregation::Registry;
use crate::auth::TokenStore;
use crate::config::Config;
use crate::faults::FaultQueue;
use crate::ratelimit::RateLimiter;
use crate::recording::Recorder;

/// Everything the tenant knows.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Config,
    pub tenant_id: String,
    pub tokens: TokenStore,
    pub limiter: RateLimiter,
    pub faults: FaultQueue,
    pub recorder: Recorder,
    pub aggregations: Registry,
}

pub(crate) type AppState = Arc<Shared>;

impl Shared {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            tenant_id: crate::ids::hex32(),
            tokens: TokenStore::new(config.clients.clone(), config.token_ttl),
            limiter: RateLimiter::new(config.rate_limit),
            faults: FaultQueue::default(),
            recorder: Recorder::default(),
            aggregations: Registry::new(
                config.collect_duration,
                config.process_duration,
                config.retention,
            ),
            config,
        }
    }
}
