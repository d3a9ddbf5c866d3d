//! Random identifiers in the formats ISC uses.

/// 32 lowercase hex characters, like ISC's task ids, tracking ids and request ids.
pub(crate) fn hex32() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// An opaque access token (64 hex characters). Not cryptographically strong: this is a sandbox.
pub(crate) fn token() -> String {
    format!("{}{}", hex32(), hex32())
}

/// Current time formatted as RFC 3339 with milliseconds and a `Z` suffix.
pub(crate) fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
