//! `GET /login` and `POST /login/post`: the password form of an authorization flow (or of the
//! device page), then the pipeline, a browser session and the flow's next step.
//!
//! The form carries what the login continues (the flow id, the device user code, or the
//! self-service pages) and the CSRF token bound to it. A failed login shows the form again
//! (403) without saying whether the user exists; a banned network and a temporary failure get
//! their own pages (429, 503). A right password goes on to the second-factor step
//! (`second_factor.rs`) when the account or the client needs one.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use nauthilus_core::SessionId;
use serde::Deserialize;
use serde_json::json;

use super::csrf::Purpose;
use super::error::{PageError, page_error};
use super::pages::Page;
use super::second_factor;
use super::submit::check_form;
use super::visitor::Visitor;
use crate::{Continuation, Idp, IdpService, LoginResult};

/// `GET /login` query.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    flow: Option<String>,
    device: Option<String>,
    self_service: Option<String>,
    lang: Option<String>,
}

/// `POST /login/post` form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    flow: Option<String>,
    device: Option<String>,
    self_service: Option<String>,
    csrf: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// Shows the login form.
pub async fn show(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    Query(query): Query<LoginQuery>,
    headers: HeaderMap,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, query.lang.as_deref());
    let Some(next) = Continuation::from_fields(
        query.flow.as_deref(),
        query.device.as_deref(),
        query.self_service.is_some(),
    ) else {
        return page_error(&idp.pages, &visitor, PageError::FlowExpired, &guid);
    };
    let (client_name, hint) = match describe(&idp, &next).await {
        Ok(found) => found,
        Err(error) => return page_error(&idp.pages, &visitor, error, &guid),
    };
    render_form(
        &idp,
        &visitor,
        &next,
        &client_name,
        &hint,
        None,
        StatusCode::OK,
        &guid,
    )
}

/// Checks the form, logs in through the pipeline, starts the session and continues the flow.
pub async fn submit(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id);
    let reference = guid.to_string();
    let visitor = Visitor::new(&idp.pages, &headers, None);
    let Some(next) = Continuation::from_fields(
        form.flow.as_deref(),
        form.device.as_deref(),
        form.self_service.is_some(),
    ) else {
        return page_error(&idp.pages, &visitor, PageError::FlowExpired, &reference);
    };
    if let Some(refused) = check_form(
        &idp,
        &visitor,
        &headers,
        form.csrf.as_deref(),
        Purpose::Login,
        &next.binding(),
        &reference,
    ) {
        return refused;
    }
    let (client_name, client_id) = match describe(&idp, &next).await {
        Ok((name, _)) => (name, client_id_of(&idp, &next).await.unwrap_or_default()),
        Err(error) => return page_error(&idp.pages, &visitor, error, &reference),
    };
    let username = form.username.trim();
    if username.is_empty() || form.password.is_empty() {
        let message = idp.pages.message(visitor.lang, "login_missing");
        return render_form(
            &idp,
            &visitor,
            &next,
            &client_name,
            username,
            Some(message),
            StatusCode::BAD_REQUEST,
            &reference,
        );
    }
    // The server's transport layer always sets the peer; without it there is no address to
    // judge (brute force) and the login is refused.
    let Some(Extension(ConnectInfo(peer))) = peer else {
        return page_error(&idp.pages, &visitor, PageError::Internal, &reference);
    };
    let now = nauthilus_clock::now();
    let ip = peer.ip().to_string();
    match idp
        .authenticate_password(username, &form.password, &client_id, &ip, guid, now)
        .await
    {
        LoginResult::Ok(user) => {
            second_factor::after_password(&idp, &visitor, &headers, &next, user, &client_id, now, &reference)
                .await
        }
        LoginResult::Failed => {
            let message = idp.pages.message(visitor.lang, "login_failed");
            render_form(
                &idp,
                &visitor,
                &next,
                &client_name,
                username,
                Some(message),
                StatusCode::FORBIDDEN,
                &reference,
            )
        }
        LoginResult::Banned => page_error(&idp.pages, &visitor, PageError::Banned, &reference),
        LoginResult::TempFail(why) => {
            tracing::warn!(guid = %reference, reason = %why, "idp: login temporarily failed");
            page_error(&idp.pages, &visitor, PageError::TempFail, &reference)
        }
    }
}

/// The client's name and the login hint for the form; an unknown flow is an error page.
async fn describe(idp: &Idp, next: &Continuation) -> Result<(String, String), PageError> {
    match next {
        Continuation::Flow(flow) => {
            let pending = match idp.flow(flow).await {
                Ok(Some(pending)) => pending,
                Ok(None) => return Err(PageError::FlowExpired),
                Err(err) => {
                    tracing::error!(error = %err, "idp: loading the flow failed");
                    return Err(PageError::TempFail);
                }
            };
            let name = idp
                .clients
                .get(&pending.client_id)
                .map(|c| {
                    if c.name.is_empty() {
                        c.id.clone()
                    } else {
                        c.name.clone()
                    }
                })
                .unwrap_or_default();
            Ok((name, pending.login_hint.clone().unwrap_or_default()))
        }
        Continuation::Device(_) | Continuation::SelfService => Ok((String::new(), String::new())),
    }
}

/// The client a login is for (`oidc_cid` in the pipeline; brute-force rules may filter on it).
async fn client_id_of(idp: &Idp, next: &Continuation) -> Option<String> {
    match next {
        Continuation::Flow(flow) => idp.flow(flow).await.ok().flatten().map(|p| p.client_id),
        Continuation::Device(code) => idp.device_view(code).await.ok().map(|d| d.client_id),
        Continuation::SelfService => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn render_form(
    idp: &Idp,
    visitor: &Visitor,
    next: &Continuation,
    client_name: &str,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
    reference: &str,
) -> Response {
    let (key, value) = next.query();
    let params = [(key, value)];
    let passkeys = idp.mfa().is_some_and(|m| m.webauthn_enabled());
    let data = json!({
        "next_key": key,
        "next_value": value,
        "csrf": visitor.csrf_token(Purpose::Login, &next.binding()),
        "passkey_csrf": passkeys.then(|| visitor.csrf_token(Purpose::Passkey, &next.binding())),
        "username": username,
        "client_name": client_name,
        "error": error,
    });
    let switch = visitor.switch("/login", &params);
    idp.pages
        .respond(visitor, Page::Login, &switch, data, status, reference)
}
