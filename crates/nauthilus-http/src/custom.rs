//! `ANY /api/v1/custom/{*hook}`: the custom hooks (`lua.custom_hooks`). The hook whose
//! location and method match answers; none → 404 with the guid, as Nauthilus.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use nauthilus_core::HookRequest;

use crate::backchannel::roles::Permission;
use crate::error::ApiError;
use crate::session::Session;
use crate::state::AppState;

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Runs the matching hook.
pub async fn custom_hook(
    State(st): State<Arc<AppState>>,
    Session(session): Session,
    method: Method,
    uri: Uri,
    Path(hook): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let current = st.current();
    let not_found = || ApiError::NotFound(format!("lua script for location '{hook}' not found"));
    let Some(hooks) = current.pipeline.hooks() else {
        return Err(not_found());
    };
    // Behind the backchannel credentials like every `/api/v1` route; a JWT needs one of the
    // hook's roles (an unknown hook: what any hook without roles needs, then 404).
    let roles = hooks.roles(method.as_str(), &hook).unwrap_or_default();
    current
        .backchannel
        .authorize(&headers, &Permission::Hook(Arc::from(roles)))?;
    let body = crate::codec::common::read_body(body).await?;
    let query = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let request = HookRequest {
        session: session.to_string(),
        method: method.as_str().to_ascii_uppercase(),
        location: hook.clone(),
        path: uri.path().to_owned(),
        query,
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let Some(answer) = hooks.run(request).await else {
        return Err(not_found());
    };
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, answer.body).into_response();
    for (name, value) in answer.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().append(n, v);
        }
    }
    Ok(response)
}
