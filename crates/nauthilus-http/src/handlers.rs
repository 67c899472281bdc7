//! The auth endpoints. Each handler only extracts, decodes, calls the pipeline and renders.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Extension;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use nauthilus_core::{AuthRequest, Service};

use crate::codec::common::read_body;
use crate::codec::{basic, headers_in, json, list_accounts, respond};
use crate::error::ApiError;
use crate::query::{AuthQuery, Mode};
use crate::session::Session;
use crate::state::AppState;

/// Runs the pipeline for a decoded request and renders the outcome.
async fn authenticate(state: &AppState, mut req: AuthRequest, query: AuthQuery) -> Response {
    req.cache_policy = query.cache;
    let outcome = state.pipeline.authenticate(&req, SystemTime::now()).await;
    let upstream = state.upstream(req.protocol.as_str());
    respond::respond(
        req.service,
        &outcome,
        req.session,
        upstream,
        req.protocol.as_str(),
    )
}

async fn list(state: &AppState, headers: &HeaderMap) -> Result<Response, ApiError> {
    let format = list_accounts::negotiate(headers)?;
    let accounts = state
        .pipeline
        .list_accounts()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(list_accounts::render(&accounts, format))
}

fn disabled(off: bool, path: &str) -> Result<(), ApiError> {
    if off {
        Err(ApiError::NotFound(format!("{path} is disabled")))
    } else {
        Ok(())
    }
}

/// `GET|POST /api/v1/auth/json`
pub async fn auth_json(
    State(st): State<Arc<AppState>>,
    Session(session): Session,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let run = async {
        disabled(st.disabled.auth_json, "/api/v1/auth/json")?;
        let query = AuthQuery::parse(uri.query())?;
        let mode = match query.mode {
            Mode::ListAccounts => return list(&st, &headers).await,
            Mode::Auth(mode) => mode,
        };
        let format = json::body_format(&headers)?;
        let body = read_body(body).await?;
        let req = json::parse(&body, format)?.into_request(session, Service::Json, mode)?;
        Ok(authenticate(&st, req, query).await)
    };
    run.await
        .unwrap_or_else(|e: ApiError| e.into_response_for(session))
}

/// `POST /api/v1/auth/saslauthd` (form or JSON)
pub async fn auth_saslauthd(
    State(st): State<Arc<AppState>>,
    Session(session): Session,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let run = async {
        disabled(st.disabled.auth_saslauthd, "/api/v1/auth/saslauthd")?;
        let query = AuthQuery::parse(uri.query())?;
        let Mode::Auth(mode) = query.mode else {
            return Err(ApiError::BadRequest(
                "mode=list-accounts is not available on saslauthd".into(),
            ));
        };
        let format = json::body_format(&headers)?;
        let body = read_body(body).await?;
        let req = json::parse(&body, format)?.into_request(session, Service::Saslauthd, mode)?;
        Ok(authenticate(&st, req, query).await)
    };
    run.await
        .unwrap_or_else(|e: ApiError| e.into_response_for(session))
}

async fn by_headers(
    st: &AppState,
    session: Session,
    uri: &Uri,
    headers: &HeaderMap,
    service: Service,
) -> Result<Response, ApiError> {
    let query = AuthQuery::parse(uri.query())?;
    let mode = match query.mode {
        Mode::ListAccounts => return list(st, headers).await,
        Mode::Auth(mode) => mode,
    };
    let req = headers_in::decode(headers, &st.headers, session.0, service, mode)?;
    Ok(authenticate(st, req, query).await)
}

/// `GET|POST /api/v1/auth/header`
pub async fn auth_header(
    State(st): State<Arc<AppState>>,
    session: Session,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let run = async {
        disabled(st.disabled.auth_header, "/api/v1/auth/header")?;
        by_headers(&st, session, &uri, &headers, Service::Header).await
    };
    run.await.unwrap_or_else(|e| e.into_response_for(session.0))
}

/// `GET|POST /api/v1/auth/nginx`
pub async fn auth_nginx(
    State(st): State<Arc<AppState>>,
    session: Session,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let run = async {
        disabled(st.disabled.auth_nginx, "/api/v1/auth/nginx")?;
        by_headers(&st, session, &uri, &headers, Service::Nginx).await
    };
    run.await.unwrap_or_else(|e| e.into_response_for(session.0))
}

/// `GET|POST /api/v1/auth/basic`
pub async fn auth_basic(
    State(st): State<Arc<AppState>>,
    Session(session): Session,
    uri: Uri,
    headers: HeaderMap,
    // The TCP peer (the server inserts it; a router driven without a socket has none).
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Response {
    let run = async {
        disabled(st.disabled.auth_basic, "/api/v1/auth/basic")?;
        let query = AuthQuery::parse(uri.query())?;
        match query.mode {
            Mode::ListAccounts => return list(&st, &headers).await,
            Mode::Auth(nauthilus_core::AuthMode::NoAuth) => {
                return Err(ApiError::BadRequest(
                    "mode=no-auth is not available on basic".into(),
                ));
            }
            Mode::Auth(_) => {}
        }
        let peer = peer.map(|Extension(ConnectInfo(addr))| addr);
        let req = basic::decode(&headers, session, peer)?;
        Ok(authenticate(&st, req, query).await)
    };
    run.await
        .unwrap_or_else(|e: ApiError| e.into_response_for(session))
}

/// `GET /ping`
pub async fn ping() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "pong",
    )
}

/// Unknown paths.
pub async fn not_found(Session(session): Session, uri: Uri) -> Response {
    ApiError::NotFound(format!("no such endpoint: {}", uri.path())).into_response_for(session)
}

/// Known paths, wrong method.
pub async fn method_not_allowed(Session(session): Session) -> Response {
    ApiError::MethodNotAllowed.into_response_for(session)
}
