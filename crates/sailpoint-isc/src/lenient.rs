//! Lenient field decoders: never fail on a wrong type, `null` or an unknown value. Every model
//! of this crate decodes its fields through these (a leaf module: it knows no model).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

pub(crate) fn value<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.unwrap_or(Value::Null))
}

/// One JSON value read without building a [`Value`] for scalars (the hot path of every status
/// poll): strings are borrowed when the input allows; objects and arrays, rare where a scalar
/// is expected, are kept as a [`Value`].
pub(crate) enum Scalar<'de> {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(std::borrow::Cow<'de, str>),
    Composite(Value),
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, SeqAccess, Visitor};
        use std::borrow::Cow;
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar<'de>, D::Error> {
                Scalar::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::I64(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::U64(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::F64(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar<'de>, A::Error> {
                Value::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Scalar::Composite)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'de>, A::Error> {
                Value::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(Scalar::Composite)
            }
        }
        d.deserialize_any(V)
    }
}

/// A float's JSON text, as `serde_json` writes it (`3.0`, not `3`).
fn float_text(f: f64) -> String {
    serde_json::Number::from_f64(f).map_or_else(|| "null".to_owned(), |n| n.to_string())
}

/// A timestamp by the one rule of [`sailpoint_isc_api::Timestamp`] (RFC 3339; integers below
/// 10^11 epoch seconds, larger ones epoch milliseconds); anything else is `None`.
pub(crate) fn timestamp<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    use sailpoint_isc_api::Timestamp;
    // The same rule as `Timestamp::from_json`, without building a `Value`.
    let epoch = |raw: i64| Timestamp::from_epoch(raw).map(|t| t.as_datetime());
    Ok(match Scalar::deserialize(d)? {
        Scalar::I64(n) => epoch(n),
        Scalar::U64(n) => i64::try_from(n).ok().and_then(epoch),
        Scalar::F64(f) if f.is_finite() && f.abs() < 9.0e18 => epoch(f as i64),
        Scalar::Str(s) => Timestamp::parse_lenient(&s).map(|t| t.as_datetime()),
        _ => None,
    })
}

pub(crate) fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::U64(n) => Some(n),
        Scalar::I64(n) => u64::try_from(n).ok(),
        Scalar::F64(f) if f.is_finite() && f >= 0.0 => Some(f as u64),
        Scalar::Str(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    })
}

/// [`count`] for a value already decoded (a task attribute): a number or a numeric string.
pub(crate) fn count_value(value: &Value) -> Option<u64> {
    count(value).ok().flatten()
}

pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::Null => None,
        Scalar::Str(s) => Some(s.into_owned()),
        Scalar::Bool(b) => Some(b.to_string()),
        Scalar::I64(n) => Some(n.to_string()),
        Scalar::U64(n) => Some(n.to_string()),
        Scalar::F64(f) => Some(float_text(f)),
        Scalar::Composite(v) => Some(v.to_string()),
    })
}

pub(crate) fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Scalar::deserialize(d)? {
        Scalar::Bool(b) => Some(b),
        Scalar::Str(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Scalar::Str(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    })
}

pub(crate) fn object<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Ok(match value(d)? {
        Value::Object(m) => m,
        _ => Map::new(),
    })
}

pub(crate) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(match value(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| serde_json::from_value(item).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// An object decoded as `T`, or `None` (not an object, or not decodable as `T`).
pub(crate) fn object_as<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(match value(d)? {
        v @ Value::Object(_) => serde_json::from_value(v).ok(),
        _ => None,
    })
}

/// A JSON array whose items are decoded one by one; items that are not `T` (a stray string
/// in a list of objects) are skipped. Anything but an array is an error.
#[derive(Debug)]
pub(crate) struct ListOf<T>(pub(crate) Vec<T>);

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for ListOf<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = Vec::<Value>::deserialize(d)?;
        Ok(ListOf(
            items
                .into_iter()
                .filter_map(|item| serde_json::from_value(item).ok())
                .collect(),
        ))
    }
}
