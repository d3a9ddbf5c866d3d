//! The state shared by the server's handlers and the [`Sandbox`](crate::Sandbox) handle.

use std::sync::Arc;

use crate::aggregation::Durations;
use crate::config::Config;
use crate::faults::{FaultQueue, TaskDelays};
use crate::ratelimit::RateLimiter;
use crate::recording::Recorder;
use crate::registry::Registry;
use crate::sources::Sources;
use crate::tokens::TokenStore;

/// Everything the tenant knows; one instance serves every API version.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Config,
    pub tenant_id: String,
    pub tokens: TokenStore,
    pub limiter: RateLimiter,
    pub faults: FaultQueue,
    pub task_delays: TaskDelays,
    pub recorder: Recorder,
    pub aggregations: Registry,
    pub sources: Sources,
}

pub(crate) type AppState = Arc<Shared>;

impl Shared {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            tenant_id: crate::ids::hex32(),
            tokens: TokenStore::new(config.clients.clone(), config.token_ttl),
            limiter: RateLimiter::new(config.rate_limit),
            faults: FaultQueue::default(),
            task_delays: TaskDelays::new(config.task_list_delay, config.task_lookup_delay),
            recorder: Recorder::default(),
            aggregations: Registry::new(Durations {
                collect: config.collect_duration,
                process: config.process_duration,
                retention: config.retention,
                task_retention: config.task_retention,
            }),
            sources: Sources::new(),
            config,
        }
    }
}
