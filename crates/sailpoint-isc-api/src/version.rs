//! API versions and their operations as data.
//!
//! Every version of `openapi/apis.yaml` becomes one generated [`ApiSpec`] (its name, base path and
//! operations as the vendored spec describes them) and one [`ApiVersion`] constant. Code that
//! works for every version reads these tables instead of matching on versions, so adding a
//! version is a vendored file, an `apis.yaml` entry and `cargo xtask generate`.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One operation of an API version, as its vendored spec describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Operation {
    /// The operation's name across versions: the `operationId` without the version's suffix
    /// (`importAccounts` for v1's `importAccountsV1`).
    pub name: &'static str,
    /// The spec's `operationId`.
    pub operation_id: &'static str,
    /// The generated method's name (also progenitor's `OperationInfo::operation_id`).
    pub rust_name: &'static str,
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path template relative to the version's [`base_path`](ApiSpec::base_path), with
    /// `{name}` placeholders (`/sources/v1/{id}/load-accounts`).
    pub path: &'static str,
    /// Whether the spec requires the `X-SailPoint-Experimental: true` header.
    pub experimental: bool,
    /// The documented success status (200, 202, ...).
    pub success_status: u16,
    /// The media type of the documented success body: `"application/json"` for the JSON
    /// operations, `"text/csv"` for the schema headers (their generated methods return the
    /// raw bytes), `""` when the spec documents no body.
    pub success_media_type: &'static str,
    /// Top-level property names of the success body's schema (of its items, for a list).
    pub response_properties: &'static [&'static str],
}

impl Operation {
    /// Whether the success body is JSON (the decoded types apply), rather than text or nothing.
    ///
    /// ```
    /// use sailpoint_isc_api::ApiVersion;
    ///
    /// let v = ApiVersion::V2025;
    /// assert!(v.operation("getTaskStatus").unwrap().answers_json());
    /// assert!(!v.operation("getAccountsSchema").unwrap().answers_json());
    /// ```
    pub fn answers_json(&self) -> bool {
        // Asked on every request: compared without a lower-case copy.
        let essence = self
            .success_media_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .as_bytes();
        let (application, json) = (b"application/".as_slice(), b"+json".as_slice());
        essence.eq_ignore_ascii_case(b"application/json")
            || (essence.len() >= application.len() + json.len()
                && essence[..application.len()].eq_ignore_ascii_case(application)
                && essence[essence.len() - json.len()..].eq_ignore_ascii_case(json))
    }

    /// The path with each `{placeholder}` replaced, in order, by the percent-encoded `args`.
    ///
    /// ```
    /// use sailpoint_isc_api::ApiVersion;
    ///
    /// let op = ApiVersion::V2025.operation("getAccountAggregationStatus").unwrap();
    /// assert_eq!(op.expand_path(&["a b"]), "/account-aggregations/a%20b/status");
    /// ```
    pub fn expand_path(&self, args: &[&str]) -> String {
        let mut out = String::with_capacity(self.path.len() + 40);
        let mut rest = self.path;
        let mut args = args.iter();
        while let Some(open) = rest.bytes().position(|b| b == b'{') {
            let Some(close) = rest[open..].bytes().position(|b| b == b'}') else {
                break;
            };
            out.push_str(&rest[..open]);
            if let Some(arg) = args.next() {
                // Unreserved characters (ISC's ids) are never encoded: no detour through a
                // second string for them.
                if arg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
                {
                    out.push_str(arg);
                } else {
                    out.push_str(&progenitor_client::encode_path(arg));
                }
            }
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// An API version's facts, generated from its vendored spec and its `openapi/apis.yaml` entry.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiSpec {
    /// The version's name (`"v1"`, `"beta"`, `"v2025"`).
    pub name: &'static str,
    /// The module of this crate that holds its generated client.
    pub module: &'static str,
    /// The path between the tenant's base URL and the operation paths: `"/beta"`, `"/v2025"`,
    /// or `""` for v1, whose version sits inside each path.
    pub base_path: &'static str,
    /// Whether this is the default version (exactly one is).
    pub default: bool,
    /// The version's operations.
    pub operations: &'static [Operation],
}

/// An ISC API version. Parses from and prints as its name; the versions this crate knows are
/// its associated constants (generated: one per `openapi/apis.yaml` entry) and [`ApiVersion::all`].
///
/// ```
/// use sailpoint_isc_api::ApiVersion;
///
/// let v: ApiVersion = "v2025".parse().unwrap();
/// assert_eq!(v, ApiVersion::V2025);
/// assert_eq!(v.to_string(), "v2025");
/// assert_eq!(ApiVersion::default(), ApiVersion::V1);
/// assert!("v3".parse::<ApiVersion>().is_err());
/// ```
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct ApiVersion {
    spec: &'static ApiSpec,
}

impl ApiVersion {
    /// The version described by `spec` (used by the generated constants).
    pub(crate) const fn from_spec(spec: &'static ApiSpec) -> Self {
        ApiVersion { spec }
    }

    /// Every version, in `openapi/apis.yaml` order.
    pub fn all() -> impl ExactSizeIterator<Item = ApiVersion> + Clone {
        crate::generated::APIS.iter().map(ApiVersion::from_spec)
    }

    /// The names of every version, comma-separated (for messages and help texts).
    pub fn names() -> String {
        Self::all().map(|v| v.name()).collect::<Vec<_>>().join(", ")
    }

    /// The version's name (`"v1"`, `"v2025"`).
    pub fn name(self) -> &'static str {
        self.spec.name
    }

    /// The path between the tenant's base URL and the operation paths (`"/v2025"`, or `""`).
    pub fn base_path(self) -> &'static str {
        self.spec.base_path
    }

    /// The generated facts of this version.
    pub fn spec(self) -> &'static ApiSpec {
        self.spec
    }

    /// The operation with this cross-version name (`"importAccounts"`), if the version has it.
    pub fn operation(self, name: &str) -> Option<&'static Operation> {
        self.spec.operations.iter().find(|o| o.name == name)
    }

    /// The operations the spec marks experimental.
    pub fn experimental_operations(self) -> impl Iterator<Item = &'static Operation> {
        self.spec.operations.iter().filter(|o| o.experimental)
    }
}

impl Default for ApiVersion {
    /// The version marked `default` in `openapi/apis.yaml`.
    fn default() -> Self {
        let apis = crate::generated::APIS;
        let spec = apis
            .iter()
            .find(|a| a.default)
            .unwrap_or(&apis[apis.len() - 1]);
        ApiVersion::from_spec(spec)
    }
}

impl PartialEq for ApiVersion {
    fn eq(&self, other: &Self) -> bool {
        self.spec.name == other.spec.name
    }
}

impl Eq for ApiVersion {}

impl Hash for ApiVersion {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.spec.name.hash(state);
    }
}

impl fmt::Debug for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiVersion({})", self.spec.name)
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec.name)
    }
}

/// A name that is not one of [`ApiVersion::all`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownApiVersion {
    /// The name as given.
    pub name: String,
}

impl fmt::Display for UnknownApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown API version {:?}: expected one of {}",
            self.name,
            ApiVersion::names()
        )
    }
}

impl std::error::Error for UnknownApiVersion {}

impl FromStr for ApiVersion {
    type Err = UnknownApiVersion;

    /// Parses a version name, ignoring case and surrounding slashes (`"/V2025/"`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().trim_matches('/');
        ApiVersion::all()
            .find(|v| v.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownApiVersion { name: s.to_owned() })
    }
}

impl Serialize for ApiVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.spec.name)
    }
}

impl<'de> Deserialize<'de> for ApiVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// JSON media types are told from others without regard to case or parameters.
    #[test]
    fn answers_json_reads_the_media_type_essence() {
        let op = *ApiVersion::V2025.operation("getTaskStatus").unwrap();
        for (media_type, json) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            (" application/problem+json ", true),
            ("application/vnd.api+JSON", true),
            ("text/csv", false),
            ("application/jsonl", false),
            ("text/json+x", false),
            ("", false),
        ] {
            let op = Operation {
                success_media_type: media_type,
                ..op
            };
            assert_eq!(op.answers_json(), json, "{media_type:?}");
        }
    }

    /// Path arguments are encoded as progenitor encodes them, whether or not they take the
    /// unreserved fast path.
    #[test]
    fn expand_path_encodes_like_the_generated_client() {
        let op = ApiVersion::V2025
            .operation("getAccountAggregationStatus")
            .unwrap();
        for arg in [
            "2c9180835d2e5168015d32f890ca1581",
            "abc-123_x.y~z",
            "a b",
            "a/b?c#d",
            "50%",
            "é",
            "",
        ] {
            assert_eq!(
                op.expand_path(&[arg]),
                format!(
                    "/account-aggregations/{}/status",
                    progenitor_client::encode_path(arg)
                ),
                "{arg:?}"
            );
        }
    }
}
