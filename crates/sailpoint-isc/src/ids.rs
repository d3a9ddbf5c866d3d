//! Ids checked before anything is sent: the one rule for source, aggregation and task ids.

use crate::error::Error;

/// Checks an id before it is put in a URL: not empty, no whitespace or control characters, no
/// `/`, `\`, `?`, `#` or `%`, and not a dot segment. `what` names the id in the error
/// ("source id"). The SDK applies it to every id it sends; the CLI's manifest uses it too, so a
/// bad id is refused before any request.
///
/// ```
/// use sailpoint_isc::check_id;
///
/// assert!(check_id("source id", "2c9180835d2e5168015d32f890ca1581").is_ok());
/// let error = check_id("source id", "a/b").unwrap_err();
/// assert!(error.to_string().contains("invalid source id"));
/// ```
pub fn check_id(what: &str, id: &str) -> Result<(), Error> {
    // The common case, ISC's ids and names: unreserved ASCII only, checked byte by byte.
    if !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
    {
        return Ok(());
    }
    let problem = if id.trim().is_empty() {
        Some("it is empty")
    } else if id == "." || id == ".." {
        Some("it is a dot segment")
    } else if id
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '\\' | '?' | '#' | '%'))
    {
        Some("it contains whitespace, '/', '\\', '?', '#' or '%'")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::InvalidInput {
            message: format!("invalid {what} {id:?}: {problem}"),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_validation() {
        for bad in [
            "", "  ", "a/b", "a b", "..", ".", "a?b", "a#b", "a\nb", "%2F",
        ] {
            assert!(
                matches!(check_id("source id", bad), Err(Error::InvalidInput { .. })),
                "{bad:?}"
            );
        }
        for good in ["2c9180835d2e5168015d32f890ca1581", "abc-123_x.y"] {
            assert!(check_id("source id", good).is_ok(), "{good}");
        }
    }
}
