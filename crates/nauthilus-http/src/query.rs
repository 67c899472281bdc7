//! The query string of the auth endpoints: `mode`, `in-memory`, `cache`. Unknown values of these
//! are errors (never silently ignored); other parameters are ignored.

use nauthilus_core::{AuthMode, CachePolicy};

use crate::error::ApiError;

/// What the caller asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Authenticate (or, with `no-auth`, look up) a user.
    Auth(AuthMode),
    /// `mode=list-accounts`.
    ListAccounts,
}

/// Parsed auth query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthQuery {
    pub mode: Mode,
    pub cache: CachePolicy,
}

impl AuthQuery {
    /// Parses the raw query string (without `?`).
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut query = Self {
            mode: Mode::Auth(AuthMode::Authenticate),
            cache: CachePolicy::default(),
        };
        let Some(raw) = raw else { return Ok(query) };
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name)?;
            let value = decode(value)?;
            match name.as_str() {
                "mode" => {
                    query.mode = match value.as_str() {
                        "" | "auth" => Mode::Auth(AuthMode::Authenticate),
                        "no-auth" => Mode::Auth(AuthMode::NoAuth),
                        "list-accounts" => Mode::ListAccounts,
                        other => {
                            return Err(ApiError::BadRequest(format!(
                                "unknown mode {other:?}; use no-auth or list-accounts"
                            )));
                        }
                    }
                }
                "in-memory" => query.cache.use_memory_cache = switch("in-memory", &value)?,
                "cache" => query.cache.use_positive_cache = switch("cache", &value)?,
                _ => {}
            }
        }
        Ok(query)
    }
}

fn switch(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "0" | "false" => Ok(false),
        "1" | "true" | "" => Ok(true),
        other => Err(ApiError::BadRequest(format!("{name}={other:?}: use 0 or 1"))),
    }
}

fn decode(s: &str) -> Result<String, ApiError> {
    let plus_as_space = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| ApiError::BadRequest("query string is not valid UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_switches() {
        let q = AuthQuery::parse(None).unwrap();
        assert_eq!(q.mode, Mode::Auth(AuthMode::Authenticate));
        assert!(q.cache.use_memory_cache && q.cache.use_positive_cache);
        let q = AuthQuery::parse(Some("mode=no-auth&in-memory=0&cache=0&other=x")).unwrap();
        assert_eq!(q.mode, Mode::Auth(AuthMode::NoAuth));
        assert!(!q.cache.use_memory_cache && !q.cache.use_positive_cache);
        assert_eq!(
            AuthQuery::parse(Some("mode=list-accounts")).unwrap().mode,
            Mode::ListAccounts
        );
    }

    #[test]
    fn unknown_values_are_errors() {
        assert!(AuthQuery::parse(Some("mode=everything")).is_err());
        assert!(AuthQuery::parse(Some("cache=maybe")).is_err());
        assert!(AuthQuery::parse(Some("mode=%FF")).is_err());
    }
}
