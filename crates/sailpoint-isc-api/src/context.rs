//! Per-client request context: the headers every request of a generated client carries.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// Headers the generated client adds to every request (for example `Authorization` and
/// `User-Agent`). Values marked sensitive are redacted from `Debug` output.
#[derive(Clone, Default)]
pub struct RequestContext {
    headers: HeaderMap,
}

impl RequestContext {
    /// An empty context: requests carry only what the operation itself sets.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a header to every request, replacing an earlier value of the same name.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The headers this context adds.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

impl std::fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in &self.headers {
            if value.is_sensitive() || name == reqwest::header::AUTHORIZATION {
                map.entry(&name.as_str(), &"<redacted>");
            } else {
                map.entry(&name.as_str(), &value);
            }
        }
        map.finish()
    }
}
