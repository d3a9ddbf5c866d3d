//! A string that never shows up in `Debug` or `Display` output, and is zeroed in memory when
//! dropped (`secrecy`).

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A credential (client secret, access token) that is redacted wherever it is printed.
///
/// `Debug` and `Display` both print `[REDACTED]`; the only way to read the value is
/// [`Secret::expose`], which the client calls at the moment it builds a request. The memory is
/// overwritten when the value is dropped (it is a `secrecy::SecretString` inside).
///
/// ```
/// use sailpoint_isc::Secret;
///
/// let secret = Secret::new("hunter2");
/// assert_eq!(format!("{secret:?}"), "Secret([REDACTED])");
/// assert_eq!(secret.expose(), "hunter2");
/// ```
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a value so that it is redacted when printed.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    /// Returns the wrapped value. Do not log it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// True when the wrapped value is empty or only whitespace.
    pub fn is_blank(&self) -> bool {
        self.expose().trim().is_empty()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let s = Secret::new("top-secret-value");
        assert!(!format!("{s:?}").contains("top-secret"));
        assert!(!format!("{s}").contains("top-secret"));
        assert!(!format!("{:#?}", Some(&s)).contains("top-secret"));
        assert_eq!(s.expose(), "top-secret-value");
    }

    #[test]
    fn blank_detection() {
        assert!(Secret::new("  ").is_blank());
        assert!(!Secret::new("x").is_blank());
    }
}
