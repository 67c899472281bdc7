//! Pieces every request decoder shares: reading a bounded body, checking a user name, decoding
//! header values.

use axum::body::{Body, Bytes};
use base64::Engine;

use crate::error::ApiError;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Reads the whole body, refusing more than [`MAX_BODY_BYTES`].
pub async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit")
        {
            ApiError::PayloadTooLarge(MAX_BODY_BYTES)
        } else {
            ApiError::BadRequest(format!("could not read the request body: {e}"))
        }
    })
}

/// Checks a login name as Nauthilus does: non-empty, no white space, control characters or
/// `( ) { } % " \` (which would let a name rewrite an LDAP filter or a macro).
pub fn validate_username(username: &str) -> Result<(), ApiError> {
    if username.is_empty() {
        return Err(ApiError::BadRequest("username is required".into()));
    }
    if let Some(c) = username
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || "(){}%\"\\".contains(*c))
    {
        return Err(ApiError::BadRequest(format!(
            "username contains a character that is not allowed ({c:?})"
        )));
    }
    Ok(())
}

/// Percent-decodes a header value when it contains `%` (nginx and others escape user and
/// password); `+` stays `+`. Invalid escapes leave the value as it is.
pub fn percent_decoded(raw: &[u8]) -> Vec<u8> {
    if !raw.contains(&b'%') {
        return raw.to_vec();
    }
    percent_encoding::percent_decode(raw).collect()
}

/// Text of a header value or field as UTF-8, naming the field when it is not.
pub fn utf8(bytes: Vec<u8>, field: &str) -> Result<String, ApiError> {
    String::from_utf8(bytes).map_err(|_| ApiError::BadRequest(format!("{field} is not valid UTF-8")))
}

/// Decodes a base64 password, standard or URL-safe alphabet, padding optional.
pub fn base64_password(encoded: &[u8]) -> Result<Vec<u8>, ApiError> {
    let trimmed: Vec<u8> = encoded.iter().copied().filter(|b| *b != b'=').collect();
    let normalised: Vec<u8> = trimmed
        .iter()
        .map(|b| match b {
            b'-' => b'+',
            b'_' => b'/',
            other => *other,
        })
        .collect();
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&normalised)
        .map_err(|_| ApiError::BadRequest("password is marked base64-encoded but is not valid base64".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(validate_username("alice@example.test").is_ok());
        for bad in ["", "a b", "a(b", "a%b", "a\"b", "a\\b", "a\u{7f}", "a\nb"] {
            assert!(validate_username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn percent_and_base64() {
        assert_eq!(percent_decoded(b"p%40ss+w%"), b"p@ss+w%");
        assert_eq!(percent_decoded(b"plain"), b"plain");
        assert_eq!(base64_password(b"c2VjcmV0").unwrap(), b"secret");
        assert_eq!(
            base64_password(b"-_8=").unwrap(),
            base64_password(b"+/8").unwrap()
        );
        assert!(base64_password(b"not base64!").is_err());
    }
}
