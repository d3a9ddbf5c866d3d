//! Settings from outside the program: the `SAIL_*` environment variables and the official SDKs'
//! `config.json`, merged one setting at a time into a [`ClientBuilder`].

use std::path::Path;

use crate::builder::ClientBuilder;
use crate::client::Client;
use crate::config::{DEFAULT_CONFIG_FILE, ENV_BASE_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET};
use crate::error::Error;
use crate::secret::Secret;

impl Client {
    /// A client configured from `SAIL_BASE_URL`, `SAIL_CLIENT_ID` and `SAIL_CLIENT_SECRET`, or
    /// `./config.json` (see [`ClientBuilder::from_env`]).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), sailpoint_isc::Error> {
    /// let client = sailpoint_isc::Client::from_env()?;
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::from_env()?.build()
    }
}

impl ClientBuilder {
    /// A builder configured like SailPoint's official SDKs, one setting at a time: each of the
    /// base URL, client id and client secret comes from its `SAIL_BASE_URL` / `SAIL_CLIENT_ID` /
    /// `SAIL_CLIENT_SECRET` variable when set, otherwise from `./config.json`
    /// (`{"BaseURL": .., "ClientId": .., "ClientSecret": ..}`), otherwise stays unset. Anything can
    /// then be overridden before [`build`](Self::build), which names what is still missing and
    /// where it was looked for.
    ///
    /// Fails only when `./config.json` exists but cannot be read or is not a JSON object of
    /// strings (without quoting its values).
    ///
    /// ```no_run
    /// use sailpoint_isc::{ApiVersion, ClientBuilder};
    ///
    /// # fn main() -> Result<(), sailpoint_isc::Error> {
    /// // Credentials from the environment, the tenant URL from the command line.
    /// let client = ClientBuilder::from_env()?
    ///     .base_url("https://acme.api.identitynow.com")
    ///     .api_version(ApiVersion::BETA)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> Result<Self, Error> {
        Self::new().with_sources(
            |name| std::env::var(name).ok(),
            Some(Path::new(DEFAULT_CONFIG_FILE)),
        )
    }

    /// A builder configured from a `config.json`-style file (`BaseURL`, `ClientId`,
    /// `ClientSecret`) alone; the file must exist.
    ///
    /// ```no_run
    /// use sailpoint_isc::ClientBuilder;
    ///
    /// # fn main() -> Result<(), sailpoint_isc::Error> {
    /// let client = ClientBuilder::from_config_file("/etc/isc/config.json")?.build()?;
    /// # Ok(()) }
    /// ```
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        if read_config_file(path)?.is_none() {
            return Err(Error::Configuration {
                message: format!("configuration file {} does not exist", path.display()),
            });
        }
        Self::new().with_sources(|_| None, Some(path))
    }

    /// Fills unset settings from `env` (by variable name), then from the file at `config_path`.
    pub(crate) fn with_sources(
        mut self,
        env: impl Fn(&str) -> Option<String>,
        config_path: Option<&Path>,
    ) -> Result<Self, Error> {
        let get = |name: &str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let file = match config_path {
            Some(path) => read_config_file(path)?,
            None => None,
        };
        let file = file.unwrap_or_default();
        let from = |env_value: Option<String>, file_value: Option<String>, what: &str| match (
            env_value, file_value,
        ) {
            (Some(v), _) => {
                tracing::debug!(setting = what, source = "environment", "configuration");
                Some(v)
            }
            (None, Some(v)) => {
                tracing::debug!(
                    setting = what,
                    source = "configuration file",
                    "configuration"
                );
                Some(v)
            }
            (None, None) => None,
        };
        if self.base_url.is_none() {
            self.base_url = from(get(ENV_BASE_URL), file.base_url, "base URL");
        }
        if self.access_token.is_none() {
            if self.client_id.is_none() {
                self.client_id = from(get(ENV_CLIENT_ID), file.client_id, "client id");
            }
            if self.client_secret.is_none() {
                self.client_secret = from(
                    get(ENV_CLIENT_SECRET),
                    file.client_secret.map(|s| s.expose().to_owned()),
                    "client secret",
                )
                .map(Secret::new);
            }
        }
        self.looked_in = Some(match config_path {
            Some(path) => format!("the SAIL_* variables and {}", path.display()),
            None => "the SAIL_* variables".to_owned(),
        });
        Ok(self)
    }
}

/// The keys of the official SDKs' `config.json`.
#[derive(Default)]
struct ConfigFile {
    base_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<Secret>,
}

/// Reads `config.json`; `Ok(None)` when it does not exist. Values are never echoed in errors.
fn read_config_file(path: &Path) -> Result<Option<ConfigFile>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Configuration {
                message: format!("cannot read configuration file {}: {e}", path.display()),
            });
        }
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::Configuration {
            message: format!(
                "configuration file {} is not valid JSON (line {}, column {})",
                path.display(),
                e.line(),
                e.column()
            ),
        })?;
    let Some(object) = value.as_object() else {
        return Err(Error::Configuration {
            message: format!(
                "configuration file {} must hold a JSON object",
                path.display()
            ),
        });
    };
    let text_of = |key: &str| -> Result<Option<String>, Error> {
        match object.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => {
                let s = s.trim();
                Ok((!s.is_empty()).then(|| s.to_owned()))
            }
            Some(_) => Err(Error::Configuration {
                message: format!(
                    "configuration file {}: {key} must be a string",
                    path.display()
                ),
            }),
        }
    };
    Ok(Some(ConfigFile {
        base_url: text_of("BaseURL")?,
        client_id: text_of("ClientId")?,
        client_secret: text_of("ClientSecret")?.map(Secret::new),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Credentials;
    use std::collections::HashMap;
    use std::path::PathBuf;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn temp_file(name: &str, contents: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sailpoint-isc-config-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn env_wins_when_complete() {
        let env = env_of(&[
            (ENV_BASE_URL, "https://a.api.identitynow.com"),
            (ENV_CLIENT_ID, "id"),
            (ENV_CLIENT_SECRET, "sec"),
        ]);
        let b = ClientBuilder::new()
            .with_sources(env, Some(Path::new("/nonexistent/config.json")))
            .unwrap();
        assert_eq!(b.base_url.as_deref(), Some("https://a.api.identitynow.com"));
        assert!(matches!(
            b.resolve_credentials().unwrap(),
            Credentials::ClientCredentials { ref client_id, .. } if client_id == "id"
        ));
    }

    /// Each setting from its variable, else the file; code overrides both.
    #[test]
    fn settings_merge_one_by_one_and_code_overrides() {
        let path = temp_file(
            "config.json",
            r#"{"BaseURL":"https://file.api.identitynow.com","ClientId":"file-id","ClientSecret":"file-secret"}"#,
        );
        let b = ClientBuilder::new()
            .base_url("https://code.api.identitynow.com")
            .with_sources(env_of(&[(ENV_CLIENT_ID, "env-id")]), Some(&path))
            .unwrap();
        assert_eq!(
            b.base_url.as_deref(),
            Some("https://code.api.identitynow.com")
        );
        assert_eq!(b.client_id.as_deref(), Some("env-id"));
        assert_eq!(
            b.client_secret.as_ref().map(|s| s.expose()),
            Some("file-secret")
        );
        let b = b.client_secret("code-secret");
        assert_eq!(
            b.client_secret.as_ref().map(|s| s.expose()),
            Some("code-secret")
        );
        // A fixed token set in code wins over client credentials from anywhere.
        let b = ClientBuilder::new()
            .access_token("tok")
            .with_sources(env_of(&[(ENV_CLIENT_ID, "env-id")]), Some(&path))
            .unwrap();
        assert!(matches!(
            b.resolve_credentials().unwrap(),
            Credentials::AccessToken(_)
        ));
    }

    #[test]
    fn falls_back_to_config_json() {
        let path = temp_file(
            "config.json",
            r#"{"BaseURL":"https://b.api.identitynow.com","ClientId":"cid","ClientSecret":"csecret","NermBaseUrl":"x"}"#,
        );
        let b = ClientBuilder::new()
            .with_sources(env_of(&[(ENV_CLIENT_ID, "partial")]), Some(&path))
            .unwrap();
        assert_eq!(b.base_url.as_deref(), Some("https://b.api.identitynow.com"));
        assert_eq!(b.client_id.as_deref(), Some("partial"));
        let debug = format!("{b:?}");
        assert!(!debug.contains("csecret"), "{debug}");
    }

    #[test]
    fn missing_everything_names_the_variables() {
        let err = ClientBuilder::new()
            .with_sources(env_of(&[]), Some(Path::new("/nonexistent/config.json")))
            .unwrap()
            .build()
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("SAIL_BASE_URL"), "{msg}");
        assert!(msg.contains("/nonexistent/config.json"), "{msg}");
        let err = ClientBuilder::new()
            .base_url("https://a.api.identitynow.com")
            .with_sources(env_of(&[(ENV_CLIENT_ID, "id")]), None)
            .unwrap()
            .build()
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("SAIL_CLIENT_SECRET") && !msg.contains("SAIL_CLIENT_ID"),
            "{msg}"
        );
    }

    #[test]
    fn incomplete_or_invalid_config_file_is_an_error_without_values() {
        let path = temp_file(
            "config.json",
            r#"{"BaseURL":"https://b.api.identitynow.com","ClientSecret":"csecret"}"#,
        );
        let msg = ClientBuilder::from_config_file(&path)
            .unwrap()
            .build()
            .unwrap_err()
            .to_string();
        assert!(msg.contains("SAIL_CLIENT_ID"), "{msg}");
        assert!(!msg.contains("csecret"), "{msg}");

        let path = temp_file("config.json", r#"{"ClientSecret": "csecret", oops"#);
        let msg = ClientBuilder::from_config_file(&path)
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("csecret"), "{msg}");
    }
}
