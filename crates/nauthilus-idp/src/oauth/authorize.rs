//! `GET/POST /oidc/authorize` (RFC 6749 §4.1.1, OIDC Core §3.1.2). An unknown client or a
//! redirect URI that is not registered exactly is shown as a page, never redirected to; every
//! later error goes back to the verified redirect URI with `state` and `iss` (RFC 9207).

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::Params;
use super::error::{OAuthCode, OAuthError, ShownError};
use crate::clients::GrantType;
use crate::flow::{PendingAuthorization, Redirect};
use crate::session::BrowserSession;
use crate::{Idp, IdpService};

/// GET: parameters in the query.
pub async fn get_handler(
    State(svc): State<Arc<IdpService>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => return shown(e).into_response(),
    };
    respond(&svc.current(), &params, &headers).await
}

/// POST: parameters in the form body.
pub async fn post_handler(State(svc): State<Arc<IdpService>>, headers: HeaderMap, body: Bytes) -> Response {
    let params = match super::form_params(&headers, &body) {
        Ok(p) => p,
        Err(e) => return shown(e).into_response(),
    };
    respond(&svc.current(), &params, &headers).await
}

async fn respond(idp: &Idp, params: &Params, headers: &HeaderMap) -> Response {
    let now = super::now();
    let session = match idp.session_from_headers(headers).await {
        Ok(s) => s,
        Err(e) => return ShownError::from(e).into_response(),
    };
    match authorize(idp, params, session.as_ref(), now).await {
        Ok(redirect) => redirect.into_response(),
        Err(e) => e.into_response(),
    }
}

/// A JSON-target error before the redirect URI is verified becomes a page.
fn shown(e: OAuthError) -> OAuthError {
    OAuthError::shown(ShownError::bad_request("Invalid request", e.description))
}

/// Validates the request, stores it as a flow and continues with the browser's session (or
/// sends it to the login page).
pub async fn authorize(
    idp: &Idp,
    params: &Params,
    session: Option<&BrowserSession>,
    now: SystemTime,
) -> Result<Redirect, OAuthError> {
    let flow = validate(idp, params, now)?;
    let prompt_none = flow.prompt.iter().any(|p| p == "none");
    let fresh = session.filter(|s| flow.session_is_fresh(s, now));
    if prompt_none && fresh.is_none() {
        return Err(flow.error(&idp.issuer, OAuthCode::LoginRequired, "login required"));
    }
    let flow_id = idp.start_flow(&flow).await?;
    match fresh {
        Some(session) => idp.resume_authorization(&flow_id, session, now).await,
        None => {
            let mut location = format!("/login?flow={flow_id}");
            if let Some(hint) = &flow.login_hint {
                location.push_str("&login_hint=");
                location.push_str(
                    &percent_encoding::utf8_percent_encode(hint, percent_encoding::NON_ALPHANUMERIC)
                        .to_string(),
                );
            }
            Ok(Redirect::to(location))
        }
    }
}

/// Checks every parameter; the first problem decides the error.
pub fn validate(idp: &Idp, params: &Params, now: SystemTime) -> Result<PendingAuthorization, OAuthError> {
    let Some(client_id) = params.get("client_id") else {
        return Err(ShownError::bad_request(
            "Invalid request",
            "The request names no application (client_id).",
        )
        .into());
    };
    let Some(client) = idp.clients.get(client_id) else {
        return Err(
            ShownError::bad_request("Unknown application", "The application is not registered.").into(),
        );
    };
    let Some(redirect_uri) = params.get("redirect_uri").filter(|u| client.has_redirect_uri(u)) else {
        return Err(ShownError::bad_request(
            "Invalid redirect URI",
            "The application asked to return to an address it has not registered.",
        )
        .into());
    };
    let state = params.get("state").map(str::to_owned);
    let fail = |code: OAuthCode, why: &str| {
        OAuthError::redirect(code, why, redirect_uri, state.as_deref(), &idp.issuer)
    };
    if params.get("request").is_some() || params.get("request_uri").is_some() {
        return Err(fail(
            OAuthCode::InvalidRequest,
            "request objects are not supported",
        ));
    }
    match params.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                OAuthCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
        None => return Err(fail(OAuthCode::InvalidRequest, "response_type is required")),
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(fail(
            OAuthCode::UnauthorizedClient,
            "the client may not use the authorization code grant",
        ));
    }
    let response_mode = params.get("response_mode").unwrap_or("query");
    if response_mode != "query" {
        return Err(fail(
            OAuthCode::InvalidRequest,
            "only response_mode=query is supported",
        ));
    }
    let requested = params.list("scope");
    if requested.is_empty() {
        return Err(fail(OAuthCode::InvalidScope, "scope is required"));
    }
    let scope = client.allowed_scopes(&requested).map_err(|s| {
        fail(
            OAuthCode::InvalidScope,
            &format!("scope {s} is not allowed for this client"),
        )
    })?;
    let code_challenge = params.get("code_challenge");
    let method = params.get("code_challenge_method");
    match (code_challenge, method) {
        (None, Some(_)) => {
            return Err(fail(
                OAuthCode::InvalidRequest,
                "code_challenge_method without code_challenge",
            ));
        }
        (None, None) if client.is_public() => {
            return Err(fail(
                OAuthCode::InvalidRequest,
                "PKCE (code_challenge) is required for public clients",
            ));
        }
        (Some(_), Some(m)) if m != "S256" => {
            return Err(fail(
                OAuthCode::InvalidRequest,
                "only code_challenge_method=S256 is supported",
            ));
        }
        (Some(c), _) if !is_s256_challenge(c) => {
            return Err(fail(
                OAuthCode::InvalidRequest,
                "code_challenge must be 43 base64url characters",
            ));
        }
        _ => {}
    }
    let prompt = params.list("prompt");
    for p in &prompt {
        if !matches!(p.as_str(), "none" | "login" | "consent" | "select_account") {
            return Err(fail(
                OAuthCode::InvalidRequest,
                &format!("unknown prompt value {p}"),
            ));
        }
    }
    if prompt.len() > 1 && prompt.iter().any(|p| p == "none") {
        return Err(fail(
            OAuthCode::InvalidRequest,
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| fail(OAuthCode::InvalidRequest, "max_age must be a number of seconds"))?,
        ),
    };
    Ok(PendingAuthorization {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope,
        state: state.clone(),
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge: code_challenge.map(str::to_owned),
        code_challenge_method: code_challenge.map(|_| "S256".to_owned()),
        response_mode: response_mode.to_owned(),
        prompt,
        max_age,
        login_hint: params.get("login_hint").map(str::to_owned),
        created_at: crate::unix(now),
    })
}

/// An S256 challenge: the base64url SHA-256 of the verifier, 43 characters.
fn is_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
