//! The auth endpoints. Each handler only extracts, decodes, calls the pipeline and renders;
//! errors are returned as `ApiError` and rendered with the session by the session middleware.

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use nauthilus_core::{AuthMode, AuthOutcome, AuthRequest, Decision, Service, clock};

use crate::codec::common::read_body;
use crate::codec::{basic, headers_in, json, list_accounts, respond};
use crate::error::ApiError;
use crate::query::{AuthQuery, Mode};
use crate::session::Session;
use crate::state::{AppState, Current};

/// Runs the pipeline for a decoded request and renders the outcome.
async fn authenticate(current: &Current, mut req: AuthRequest, query: AuthQuery) -> Response {
    req.cache_policy = query.cache;
    let mut outcome = current.pipeline.authenticate(&req, clock::now()).await;
    let protocol = req.protocol.as_str();
    // With backend_server_monitoring, an authenticated nginx client goes to a healthy server
    // of its protocol (in turn); the health is known already, nothing waits on a check.
    let monitored = match (&outcome.upstream, &outcome.decision, req.service) {
        (None, Decision::Ok(_), Service::Nginx) => current.pipeline.monitored_upstream(protocol),
        _ => None,
    };
    let upstream = match monitored {
        Some(Ok(up)) => Some(up),
        Some(Err(e)) => {
            tracing::warn!(session = %req.session, protocol = %req.protocol, "{e}: login answered as a temporary failure");
            outcome = AuthOutcome::temp_fail(format!("{e} ({protocol})"));
            None
        }
        // Only nginx answers name an upstream: the others need no lookup or copy.
        None if req.service == Service::Nginx => outcome
            .upstream
            .clone()
            .or_else(|| current.http.upstream(protocol).cloned()),
        None => None,
    };
    if req.service == Service::Nginx && upstream.is_none() && matches!(outcome.decision, Decision::Ok(_)) {
        // nginx needs Auth-Server/Auth-Port to proxy the client; an OK without them would leave
        // the client hanging. Say why in the log and let the client retry.
        tracing::error!(session = %req.session, protocol = %req.protocol, "no backend server for this protocol (server.nginx_backends): login answered as a temporary failure");
        outcome = AuthOutcome::temp_fail(format!("no backend server for protocol {}", req.protocol));
    }
    respond::respond(
        req.service,
        &outcome,
        req.session,
        upstream.as_ref(),
        req.protocol.as_str(),
    )
}

async fn list(current: &Current, headers: &HeaderMap) -> Result<Response, ApiError> {
    let format = list_accounts::negotiate(headers)?;
    let accounts = current
        .pipeline
        .list_accounts()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(list_accounts::render(&accounts, format))
}

/// The request's query and auth mode; `mode=list-accounts` is answered here (`Break`).
async fn query_and_mode(
    current: &Current,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<ControlFlow<Response, (AuthQuery, AuthMode)>, ApiError> {
    let query = AuthQuery::parse(uri.query())?;
    Ok(match query.mode {
        Mode::ListAccounts => ControlFlow::Break(list(current, headers).await?),
        Mode::Auth(mode) => ControlFlow::Continue((query, mode)),
    })
}

/// `GET|POST /api/v1/auth/json`
pub async fn auth_json(
    State(st): State<Arc<AppState>>,
    Session(session): Session,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let current = st.current();
    let (query, mode) = match query_and_mode(&current, &uri, &headers).await? {
        ControlFlow::Break(listed) => return Ok(listed),
        ControlFlow::Continue(wanted) => wanted,
    };
    let format = json::body_format(&headers)?;
    let body = read_body(body).await?;
    let req = json::parse(&body, format)?.into_request(session, Service::Json, mode)?;
    Ok(authenticate(&current, req, query).await)
}

/// `POST /api/v1/auth/saslauthd` (form or JSON)
pub async fn auth_saslauthd(
    State(st): State<Arc<AppState>>,
    Session(session): Session,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let current = st.current();
    let query = AuthQuery::parse(uri.query())?;
    let Mode::Auth(mode) = query.mode else {
        return Err(ApiError::BadRequest(
            "mode=list-accounts is not available on saslauthd".into(),
        ));
    };
    let format = json::body_format(&headers)?;
    let body = read_body(body).await?;
    let req = json::parse(&body, format)?.into_request(session, Service::Saslauthd, mode)?;
    Ok(authenticate(&current, req, query).await)
}

/// `GET|POST /api/v1/auth/header` and `/api/v1/auth/nginx`: the same request headers, rendered
/// for `service`.
pub async fn auth_by_headers(
    service: Service,
    st: Arc<AppState>,
    Session(session): Session,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let current = st.current();
    let (query, mode) = match query_and_mode(&current, &uri, &headers).await? {
        ControlFlow::Break(listed) => return Ok(listed),
        ControlFlow::Continue(wanted) => wanted,
    };
    let req = headers_in::decode(&headers, &current.http.headers, session, service, mode)?;
    Ok(authenticate(&current, req, query).await)
}

/// `GET|POST /api/v1/auth/basic`
pub async fn auth_basic(
    State(st): State<Arc<AppState>>,
    Session(session): Session,
    uri: Uri,
    headers: HeaderMap,
    // The TCP peer (the server inserts it; a router driven without a socket has none).
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Result<Response, ApiError> {
    let current = st.current();
    let query = AuthQuery::parse(uri.query())?;
    match query.mode {
        Mode::ListAccounts => return list(&current, &headers).await,
        Mode::Auth(AuthMode::NoAuth) => {
            return Err(ApiError::BadRequest(
                "mode=no-auth is not available on basic".into(),
            ));
        }
        Mode::Auth(AuthMode::Authenticate) => {}
    }
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr);
    let req = basic::decode(&headers, session, peer)?;
    Ok(authenticate(&current, req, query).await)
}

/// `GET /ping`
pub async fn ping() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "pong",
    )
}

/// Unknown paths (and endpoints disabled in `server.disabled_endpoints`).
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no such endpoint: {}", uri.path()))
}

/// Known paths, wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
