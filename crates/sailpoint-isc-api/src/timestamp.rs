//! The lenient timestamp every `date-time` field of the generated types uses.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Integers of at least this magnitude are epoch milliseconds, smaller ones epoch seconds.
/// 10^11 seconds is the year 5138; 10^11 milliseconds is 1973-03-03.
pub const EPOCH_MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// A point in time as ISC sends it: an RFC 3339 string (as the spec says), or an epoch number
/// (as ISC has been seen to send in `LoadAccountsTask`).
///
/// **The one rule for integers** (numbers, or strings of digits), used by every decoder in this
/// crate and in `sailpoint-isc`: a magnitude below [`EPOCH_MILLIS_THRESHOLD`] (10^11) is epoch
/// *seconds*, anything larger epoch *milliseconds*. So `1713522033` and `1713522033823` are both
/// 2024-04-19; no real instant is ambiguous under this rule. A date-time without an offset is
/// taken as UTC.
///
/// Serializes as RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// The instant as a `chrono` UTC date-time.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Builds a timestamp from epoch milliseconds; `None` if out of range.
    pub fn from_epoch_millis(ms: i64) -> Option<Self> {
        Utc.timestamp_millis_opt(ms).single().map(Self)
    }

    /// Builds a timestamp from an epoch number by the crate's one rule: seconds below
    /// [`EPOCH_MILLIS_THRESHOLD`] in magnitude, milliseconds otherwise; `None` if out of range.
    pub fn from_epoch(raw: i64) -> Option<Self> {
        // `unsigned_abs`: `abs` overflows on i64::MIN.
        if raw.unsigned_abs() < EPOCH_MILLIS_THRESHOLD.unsigned_abs() {
            DateTime::from_timestamp(raw, 0).map(Self)
        } else {
            Self::from_epoch_millis(raw)
        }
    }

    /// Parses text: digits (by [`from_epoch`](Self::from_epoch)), RFC 3339, or an RFC 3339
    /// date-time without offset (taken as UTC). `None` for anything else.
    pub fn parse_lenient(text: &str) -> Option<Self> {
        let s = text.trim();
        if let Ok(raw) = s.parse::<i64>() {
            return Self::from_epoch(raw);
        }
        DateTime::parse_from_rfc3339(s)
            .map(|d| Self(d.with_timezone(&Utc)))
            .ok()
            .or_else(|| {
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .ok()
                    .map(|n| Self(n.and_utc()))
            })
    }

    /// Reads a JSON value leniently: a number or a string as above; `None` for anything else
    /// (null, booleans, objects, non-finite or out-of-range numbers).
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::Number(n) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.is_finite() && f.abs() < 9.0e18)
                        .map(|f| f as i64)
                })
                .and_then(Self::from_epoch),
            serde_json::Value::String(s) => Self::parse_lenient(s),
            _ => None,
        }
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(value: DateTime<Utc>) -> Self {
        Self(value)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    }
}

impl std::str::FromStr for Timestamp {
    type Err = InvalidTimestamp;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_lenient(s).ok_or(InvalidTimestamp)
    }
}

/// Text that is neither an epoch number nor an RFC 3339 date-time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidTimestamp;

impl std::fmt::Display for InvalidTimestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not an RFC 3339 date-time or an epoch number")
    }
}

impl std::error::Error for InvalidTimestamp {}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Self::from_json(&value).ok_or_else(|| serde::de::Error::custom(InvalidTimestamp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_rfc3339_and_epoch_millis() {
        let a: Timestamp = serde_json::from_str("\"2024-04-19T10:20:33.823Z\"").unwrap();
        let b: Timestamp = serde_json::from_str("1713522033823").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            "\"2024-04-19T10:20:33.823Z\""
        );
        assert!(serde_json::from_str::<Timestamp>("\"2020-09-07T42:14:00.364Z\"").is_err());
        // The one integer rule: seconds below 10^11, milliseconds above.
        let c: Timestamp = serde_json::from_str("1713522033").unwrap();
        assert_eq!(c.0.timestamp(), 1_713_522_033);
        let d: Timestamp = serde_json::from_str("\"1713522033823\"").unwrap();
        assert_eq!(d, b);
        assert!(Timestamp::from_epoch(i64::MIN).is_none());
        assert!(serde_json::from_str::<Timestamp>("true").is_err());
    }
}
