//! HTTP facts shared by the vendor and generate tasks.

/// The standard reason phrase of an HTTP status code, if it has one (from the `http` crate).
pub fn reason_phrase(code: u16) -> Option<&'static str> {
    http::StatusCode::from_u16(code)
        .ok()
        .and_then(|status| status.canonical_reason())
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_and_unknown_codes() {
        assert_eq!(super::reason_phrase(202), Some("Accepted"));
        assert_eq!(super::reason_phrase(429), Some("Too Many Requests"));
        assert_eq!(super::reason_phrase(599), None);
    }
}
