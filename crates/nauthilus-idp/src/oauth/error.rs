//! OAuth errors, decided by protocol code and rendered in exactly one place. Three targets:
//! - `Json`: the token, introspection, revocation, device and userinfo endpoints (RFC 6749 §5.2;
//!   `invalid_client` is 401 with `WWW-Authenticate`);
//! - `Redirect`: the authorize endpoint once the client and redirect URI are verified (RFC 6749
//!   §4.1.2.1, with `state` and `iss` per RFC 9207), properly URL-encoded;
//! - `Shown`: a bad client or redirect URI (never redirected to), rendered as a page.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The RFC error codes (RFC 6749, OIDC Core §3.1.2.6, RFC 8628 §3.5, RFC 6750 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OAuthCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    InvalidToken,
    UnsupportedTokenType,
}

impl OAuthCode {
    /// The wire code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::InvalidToken => "invalid_token",
            Self::UnsupportedTokenType => "unsupported_token_type",
        }
    }

    /// The HTTP status of this code on a JSON endpoint.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidClient | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// An error a user must see as a page (a bad client or redirect URI, an expired flow).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShownError {
    pub title: String,
    pub detail: String,
    pub status: StatusCode,
}

impl ShownError {
    /// A 400 page.
    pub fn bad_request(title: &str, detail: impl Into<String>) -> Self {
        Self {
            title: title.to_owned(),
            detail: detail.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    /// A 500 page for a failure of the store or the like (the detail is logged, not shown).
    pub fn internal(why: impl std::fmt::Display) -> Self {
        tracing::error!(error = %why, "idp: internal error");
        Self {
            title: "Temporary server problem".into(),
            detail: "Please try again later.".into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Where an error goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A JSON body on the endpoint itself; `challenge` adds `WWW-Authenticate`.
    Json { challenge: Option<String> },
    /// Back to the verified redirect URI, with `state` and `iss`.
    Redirect {
        uri: String,
        state: Option<String>,
        issuer: String,
        fragment: bool,
    },
    /// A page.
    Shown(ShownError),
}

/// One OAuth error and where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    pub code: OAuthCode,
    pub description: String,
    pub target: Target,
}

impl OAuthError {
    /// A JSON error on the endpoint.
    pub fn json(code: OAuthCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            target: Target::Json { challenge: None },
        }
    }

    /// `invalid_client`: 401 with a `WWW-Authenticate: Basic` challenge (RFC 6749 §5.2).
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self {
            code: OAuthCode::InvalidClient,
            description: description.into(),
            target: Target::Json {
                challenge: Some("Basic realm=\"nauthilus\"".into()),
            },
        }
    }

    /// `invalid_token` on a protected resource: 401 with a `Bearer` challenge (RFC 6750 §3).
    pub fn invalid_token(description: impl Into<String>) -> Self {
        let description = description.into();
        Self {
            code: OAuthCode::InvalidToken,
            target: Target::Json {
                challenge: Some(format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    description.replace(['"', '\\'], "")
                )),
            },
            description,
        }
    }

    /// A store or signing failure: `server_error`, logged.
    pub fn server(why: impl std::fmt::Display) -> Self {
        tracing::error!(error = %why, "idp: internal error");
        Self::json(OAuthCode::ServerError, "temporary server problem")
    }

    /// A page.
    pub fn shown(error: ShownError) -> Self {
        Self {
            code: OAuthCode::InvalidRequest,
            description: error.detail.clone(),
            target: Target::Shown(error),
        }
    }

    /// The same error sent back to `uri` (verified by the caller).
    pub fn redirect(
        code: OAuthCode,
        description: impl Into<String>,
        uri: &str,
        state: Option<&str>,
        issuer: &str,
    ) -> Self {
        Self {
            code,
            description: description.into(),
            target: Target::Redirect {
                uri: uri.to_owned(),
                state: state.map(str::to_owned),
                issuer: issuer.to_owned(),
                fragment: false,
            },
        }
    }

    /// The location of a `Redirect` target (for tests and the pages); `None` for other targets.
    pub fn location(&self) -> Option<String> {
        let Target::Redirect {
            uri, state, issuer, ..
        } = &self.target
        else {
            return None;
        };
        let mut url = url::Url::parse(uri).ok()?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("error", self.code.as_str());
            if !self.description.is_empty() {
                q.append_pair("error_description", &self.description);
            }
            if let Some(state) = state {
                q.append_pair("state", state);
            }
            q.append_pair("iss", issuer);
        }
        Some(url.to_string())
    }
}

impl From<ShownError> for OAuthError {
    fn from(e: ShownError) -> Self {
        Self::shown(e)
    }
}

impl From<nauthilus_store::StoreError> for OAuthError {
    fn from(e: nauthilus_store::StoreError) -> Self {
        Self::server(e)
    }
}

impl IntoResponse for ShownError {
    fn into_response(self) -> Response {
        crate::web::error_page(&self)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        match &self.target {
            Target::Json { challenge } => {
                let mut body = json!({"error": self.code.as_str()});
                if !self.description.is_empty() {
                    body["error_description"] = self.description.clone().into();
                }
                let mut response = (self.code.status(), axum::Json(body)).into_response();
                let headers = response.headers_mut();
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                if let Some(challenge) = challenge
                    && let Ok(value) = HeaderValue::from_str(challenge)
                {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
                response
            }
            Target::Redirect { .. } => match self.location() {
                Some(location) => crate::flow::Redirect { location }.into_response(),
                None => ShownError::internal("unparsable verified redirect URI").into_response(),
            },
            Target::Shown(shown) => shown.clone().into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_client_is_401_with_a_basic_challenge() {
        let r = OAuthError::invalid_client("bad secret").into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(
            r.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
    }

    #[test]
    fn json_errors_carry_their_rfc_status() {
        for (code, status) in [
            (OAuthCode::InvalidGrant, 400),
            (OAuthCode::InvalidRequest, 400),
            (OAuthCode::UnsupportedGrantType, 400),
            (OAuthCode::InvalidScope, 400),
            (OAuthCode::UnauthorizedClient, 400),
            (OAuthCode::AuthorizationPending, 400),
            (OAuthCode::ServerError, 500),
        ] {
            let r = OAuthError::json(code, "x").into_response();
            assert_eq!(r.status().as_u16(), status, "{code:?}");
        }
    }

    #[test]
    fn redirect_errors_encode_state_and_name_the_issuer() {
        let e = OAuthError::redirect(
            OAuthCode::AccessDenied,
            "no",
            "https://rp.example/cb?x=1",
            Some("a&b=c"),
            "https://idp.example",
        );
        let location = e.location().unwrap();
        assert_eq!(
            location,
            "https://rp.example/cb?x=1&error=access_denied&error_description=no&state=a%26b%3Dc&iss=https%3A%2F%2Fidp.example"
        );
    }
}
