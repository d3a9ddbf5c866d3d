//! The lenient timestamp every `date-time` field of the generated types uses.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time as ISC sends it: an RFC 3339 string (as the spec says) or epoch
/// milliseconds (as ISC has been seen to send in `LoadAccountsTask`).
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
    type Err = chrono::ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DateTime::parse_from_rfc3339(s.trim()).map(|d| Self(d.with_timezone(&Utc)))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an RFC 3339 date-time string or epoch milliseconds")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                if let Ok(ms) = v.trim().parse::<i64>() {
                    return Timestamp::from_epoch_millis(ms)
                        .ok_or_else(|| E::custom("epoch milliseconds out of range"));
                }
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Timestamp::from_epoch_millis(v)
                    .ok_or_else(|| E::custom("epoch milliseconds out of range"))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v)
                    .ok()
                    .and_then(Timestamp::from_epoch_millis)
                    .ok_or_else(|| E::custom("epoch milliseconds out of range"))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Timestamp, E> {
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    self.visit_i64(v as i64)
                } else {
                    Err(E::custom("epoch milliseconds must be a whole number"))
                }
            }
        }
        deserializer.deserialize_any(Visitor)
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
        assert!(serde_json::from_str::<Timestamp>("true").is_err());
    }
}
