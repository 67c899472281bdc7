//! `POST /api/v1/jwt/token` and `POST /api/v1/jwt/refresh` (404 while `server.jwt_auth` is off).
//!
//! The reply carries both the field names of the seed API and those of Nauthilus:
//! `{"access_token","token","token_type":"Bearer","expires_in","expires_at","refresh_token"?}`
//! (`token` = `access_token`; `refresh_token` only when refresh tokens are on). A refresh takes
//! the token from the body (`{"refresh_token"}`) or from `X-Refresh-Token` (Nauthilus), uses it
//! up and returns a new access token and a new refresh token.
//!
//! Who gets a token (as Nauthilus): with `users` configured, only those users, with their
//! roles; without, any user the configured backends authenticate (service `jwt`, protocol
//! `jwt`), with the role `list_accounts` when a backend can list accounts. Either way the
//! password check goes through brute-force protection when it is enabled: a banned client is
//! refused (403) before its password is looked at, failures count like failed logins.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Extension;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nauthilus_core::brute_force::Admission;
use nauthilus_core::{AuthRequest, BruteForce, Decision, Password, Protocol, Service, SessionId, clock};
use serde::{Deserialize, Serialize};

use crate::backchannel::jwt::{JwtSettings, RefreshRecord, UserSource};
use crate::backchannel::roles;
use crate::codec::common::read_body;
use crate::error::{ApiError, Challenge};
use crate::session::Session;
use crate::state::{AppState, Current};

/// The Nauthilus header carrying a refresh token.
const REFRESH_HEADER: &str = "x-refresh-token";

#[derive(Deserialize)]
struct TokenRequest {
    username: String,
    password: String,
}

#[derive(Default, Deserialize)]
struct RefreshRequest {
    #[serde(default)]
    refresh_token: String,
}

#[derive(Serialize)]
struct TokenReply {
    access_token: String,
    /// Nauthilus' name of the access token.
    token: String,
    token_type: &'static str,
    expires_in: u64,
    /// Nauthilus: `exp` of the access token (Unix seconds).
    expires_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

fn jwt_settings(current: &Current) -> Result<&JwtSettings, ApiError> {
    current
        .backchannel
        .jwt()
        .ok_or_else(|| ApiError::NotFound("JWT authentication is not enabled".into()))
}

fn auth_failed() -> ApiError {
    ApiError::Unauthenticated("authentication failed".into(), Challenge::BEARER)
}

fn banned() -> ApiError {
    ApiError::Forbidden("too many failed logins from this network; try again later".into())
}

fn temporary(session: SessionId, what: &str, error: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(session = %session, error = %error, "{what} failed");
    ApiError::Internal("Temporary server problem, try again later".into())
}

/// `POST /api/v1/jwt/token` with `{"username","password"}`.
pub async fn token(
    State(st): State<Arc<AppState>>,
    Session(session): Session,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Body,
) -> Result<Response, ApiError> {
    let current = st.current();
    let jwt = jwt_settings(&current)?;
    let bytes = read_body(body).await?;
    // Not serde's message: it could quote a value from the body (a password).
    let request: TokenRequest = serde_json::from_slice(&bytes).map_err(|_| {
        ApiError::BadRequest("send JSON {\"username\": \"...\", \"password\": \"...\"}".into())
    })?;
    if request.username.is_empty() || request.password.is_empty() {
        return Err(ApiError::BadRequest("username and password are required".into()));
    }
    let mut req = AuthRequest::new(
        session,
        Service::Jwt,
        request.username,
        Password::from(request.password.as_str()),
    );
    req.protocol = Protocol::new("jwt");
    if let Some(Extension(ConnectInfo(peer))) = peer {
        req.client.ip = peer.ip().to_canonical().to_string();
        req.client.port = peer.port().to_string();
    }
    if let Some(ua) = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()) {
        req.client.user_agent = ua.to_owned();
    }
    let now = clock::now();
    let (roles, source) = if jwt.has_users() {
        let roles = check_config_user(&current, jwt, &req, now).await?;
        (roles, UserSource::Config)
    } else {
        (check_by_backends(&current, &req, now).await?, UserSource::Backend)
    };
    tracing::info!(session = %session, username = %req.username, client_ip = %req.client.ip, roles = ?roles, "JWT token issued");
    let record = RefreshRecord {
        username: req.username.clone(),
        roles,
        source,
    };
    issue(&st, jwt, &record, session, now).await
}

/// `server.jwt_auth.users`: the name and password must match an entry.
async fn check_config_user(
    current: &Current,
    jwt: &JwtSettings,
    req: &AuthRequest,
    now: SystemTime,
) -> Result<Vec<String>, ApiError> {
    let Some(bf) = current.brute_force.as_ref() else {
        return jwt
            .check_user(&req.username, req.password.expose())
            .map(<[String]>::to_vec)
            .ok_or_else(|| refused(req, "wrong user name or password"));
    };
    let reservation = admit(bf, req).await?;
    match jwt.check_user(&req.username, req.password.expose()) {
        Some(roles) => {
            let roles = roles.to_vec();
            match bf.confirm_success(req, reservation, &req.username, now).await {
                Ok(None) => Ok(roles),
                Ok(Some(_)) => Err(banned()),
                Err(e) => Err(temporary(req.session, "brute-force bookkeeping", &e)),
            }
        }
        None => {
            if let Err(e) = bf.confirm_failure(req, reservation, &req.username, now).await {
                tracing::warn!(session = %req.session, error = %e, "brute force: failed token request not counted");
            }
            Err(refused(req, "wrong user name or password"))
        }
    }
}

/// The ban check and reservation a password check needs first.
async fn admit(
    bf: &BruteForce,
    req: &AuthRequest,
) -> Result<nauthilus_core::brute_force::Reservation, ApiError> {
    match bf.check(req).await {
        Ok(None) => {}
        Ok(Some(ban)) => {
            tracing::warn!(session = %req.session, rule = %ban.rule, scope = %ban.scope, "brute force: token request refused, network banned");
            return Err(banned());
        }
        Err(e) => return Err(temporary(req.session, "brute-force check", &e)),
    }
    match bf.reserve(req).await {
        Ok(Admission::Admitted(r)) => Ok(r),
        Ok(Admission::Refused(_)) => Err(banned()),
        Err(e) => Err(temporary(req.session, "brute-force check", &e)),
    }
}

fn refused(req: &AuthRequest, why: &str) -> ApiError {
    tracing::warn!(session = %req.session, username = %req.username, client_ip = %req.client.ip, reason = why, "JWT token request refused");
    auth_failed()
}

/// No `users`: the pipeline decides, with its brute-force protection.
async fn check_by_backends(
    current: &Current,
    req: &AuthRequest,
    now: SystemTime,
) -> Result<Vec<String>, ApiError> {
    let outcome = current.pipeline.authenticate(req, now).await;
    match outcome.decision {
        Decision::Ok(_) => {
            let can_list = current
                .pipeline
                .backends()
                .iter()
                .any(|b| b.supports_list_accounts());
            Ok(if can_list {
                vec![roles::LIST_ACCOUNTS.to_owned()]
            } else {
                Vec::new()
            })
        }
        Decision::Fail(nauthilus_core::FailReason::BruteForce) => Err(banned()),
        Decision::Fail(_) => Err(refused(req, "the backends refused the login")),
        Decision::TempFail(why) => Err(temporary(req.session, "token request", &why)),
    }
}

/// The reply with a new access token (and refresh token, when on) for `record`.
async fn issue(
    st: &AppState,
    jwt: &JwtSettings,
    record: &RefreshRecord,
    session: SessionId,
    now: SystemTime,
) -> Result<Response, ApiError> {
    let (access, exp) = jwt
        .issue(&record.username, &record.roles, now)
        .map_err(|e| temporary(session, "signing a token", &e))?;
    let refresh_token = match jwt.refresh_expiry() {
        Some(ttl) => Some(
            st.refresh_tokens(jwt.store_in_redis())
                .create(record, ttl)
                .await
                .map_err(|e| temporary(session, "storing a refresh token", &e))?,
        ),
        None => None,
    };
    let reply = TokenReply {
        token: access.clone(),
        access_token: access,
        token_type: "Bearer",
        expires_in: jwt.token_expiry().as_secs(),
        expires_at: exp,
        refresh_token,
    };
    let mut response = (StatusCode::OK, axum::Json(reply)).into_response();
    // Tokens are credentials: keep them out of caches.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// `POST /api/v1/jwt/refresh` with `{"refresh_token"}` or `X-Refresh-Token`.
pub async fn refresh(
    State(st): State<Arc<AppState>>,
    Session(session): Session,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let current = st.current();
    let jwt = jwt_settings(&current)?;
    if jwt.refresh_expiry().is_none() {
        return Err(ApiError::NotFound("JWT refresh tokens are not enabled".into()));
    }
    let bytes = read_body(body).await?;
    let from_body = if bytes.iter().all(u8::is_ascii_whitespace) {
        RefreshRequest::default()
    } else {
        serde_json::from_slice::<RefreshRequest>(&bytes)
            .map_err(|_| ApiError::BadRequest("send JSON {\"refresh_token\": \"...\"}".into()))?
    };
    let token = if from_body.refresh_token.is_empty() {
        headers
            .get(REFRESH_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim()
            .to_owned()
    } else {
        from_body.refresh_token
    };
    if token.is_empty() {
        return Err(ApiError::BadRequest("refresh token is required".into()));
    }
    let invalid = || ApiError::Unauthenticated("invalid refresh token".into(), Challenge::BEARER);
    let record = st
        .refresh_tokens(jwt.store_in_redis())
        .take(&token)
        .await
        .map_err(|e| temporary(session, "reading a refresh token", &e))?
        .ok_or_else(|| {
            tracing::warn!(session = %session, "refresh token unknown, used or expired");
            invalid()
        })?;
    let record = match record.source {
        // A configured user gets the roles configured now; one removed from the
        // configuration gets nothing (as Nauthilus).
        UserSource::Config => {
            let roles = jwt.user_roles(&record.username).ok_or_else(|| {
                tracing::warn!(session = %session, username = %record.username, "refresh token of a user no longer configured");
                invalid()
            })?;
            RefreshRecord {
                roles: roles.to_vec(),
                ..record
            }
        }
        UserSource::Backend => record,
    };
    tracing::info!(session = %session, username = %record.username, "JWT token refreshed");
    issue(&st, jwt, &record, session, clock::now()).await
}
