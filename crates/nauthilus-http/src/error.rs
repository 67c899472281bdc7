//! The one place where request errors become HTTP: status, `{"error","guid"}` body.
//! (Auth outcomes — OK / fail / temporary failure — are rendered by `codec::respond`.)

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nauthilus_core::SessionId;

/// A request that could not be served, and why. Messages are shown to the caller, so they
/// never contain a password.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed input (400).
    #[error("{0}")]
    BadRequest(String),
    /// Missing or malformed `Authorization: Basic` on `/auth/basic` (401 + `WWW-Authenticate`).
    #[error("{0}")]
    Unauthorized(String),
    /// Missing or wrong backchannel credentials (401 + a `WWW-Authenticate` challenge for every
    /// scheme `server.basic_auth` / `server.jwt_auth` enable).
    #[error("{0}")]
    Unauthenticated(String, Challenge),
    /// Valid backchannel credentials without the role this request needs, or a login refused
    /// by brute-force protection on the token endpoint (403).
    #[error("{0}")]
    Forbidden(String),
    /// Endpoint disabled or unknown (404).
    #[error("{0}")]
    NotFound(String),
    /// Method not allowed on this path (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request body did not arrive within `server.timeouts.body_read` (408).
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    /// Body larger than the limit (413).
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// Request target longer than the limit (414).
    #[error("the request URI is longer than {0} bytes")]
    UriTooLong(usize),
    /// Too many or too large header fields (431).
    #[error("{0}")]
    HeaderFieldsTooLarge(String),
    /// Content type or `Accept` we cannot serve (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many requests in flight (429).
    #[error("too many concurrent requests; try again")]
    TooManyRequests,
    /// Something on our side failed (500).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) | Self::Unauthenticated(..) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            Self::HeaderFieldsTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response, carrying `session` as `guid`.
    pub fn into_response_for(self, session: SessionId) -> Response {
        let status = self.status();
        let mut response = (status, error_body(&self.to_string(), session)).into_response();
        let challenge = match &self {
            Self::Unauthorized(_) => Challenge::BASIC,
            Self::Unauthenticated(_, challenge) => *challenge,
            _ => return response,
        };
        let headers = response.headers_mut();
        if challenge.basic {
            headers.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(BASIC_CHALLENGE),
            );
        }
        if challenge.bearer {
            let value = if challenge.invalid_token {
                "Bearer realm=\"nauthilus\", error=\"invalid_token\""
            } else {
                "Bearer realm=\"nauthilus\""
            };
            headers.append(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
        }
        response
    }
}

/// The Basic challenge (the realm Nauthilus sends).
const BASIC_CHALLENGE: &str = "Basic realm=\"restricted\", charset=\"UTF-8\"";

/// The `WWW-Authenticate` challenges of a 401: one header per scheme the caller may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Challenge {
    /// `Basic realm="restricted"`.
    pub basic: bool,
    /// `Bearer realm="nauthilus"`.
    pub bearer: bool,
    /// The bearer token sent was invalid or expired (`error="invalid_token"`, RFC 6750).
    pub invalid_token: bool,
}

impl Challenge {
    /// Only HTTP Basic.
    pub const BASIC: Self = Self {
        basic: true,
        bearer: false,
        invalid_token: false,
    };
    /// Only a bearer token.
    pub const BEARER: Self = Self {
        basic: false,
        bearer: true,
        invalid_token: false,
    };
}

/// `{"error": message, "guid": session}` as a JSON response body.
pub fn error_body(message: &str, session: SessionId) -> axum::Json<ErrorBody<'_>> {
    axum::Json(ErrorBody {
        error: message,
        guid: session,
    })
}

/// `{"error": ..., "guid": ...}`, serialised straight from its parts.
#[derive(serde::Serialize)]
pub struct ErrorBody<'a> {
    error: &'a str,
    #[serde(serialize_with = "session_text")]
    guid: SessionId,
}

fn session_text<S: serde::Serializer>(session: &SessionId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(session.as_str())
}

/// A handler returns `Err(ApiError)`; the response carries the error as an extension and the
/// session middleware (which knows the request's session) renders the JSON body with the guid.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// Renders an `ApiError` a handler left in `response` for `session`; other responses pass.
pub fn render_pending(mut response: Response, session: SessionId) -> Response {
    match response.extensions_mut().remove::<ApiError>() {
        Some(error) => error.into_response_for(session),
        None => response,
    }
}
