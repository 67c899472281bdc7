//! `GET /login` and `POST /login/post`: the password form of an authorization flow (or of the
//! device page), then the pipeline, a browser session and the flow's next step.
//!
//! The form carries the flow id (or the device user code) and the CSRF token bound to it. A
//! failed login shows the form again (403) without saying whether the user exists; a banned
//! network and a temporary failure get their own pages (429, 503).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode};
use nauthilus_core::SessionId;
use serde::Deserialize;
use serde_json::json;

use super::csrf::Purpose;
use super::error::{PageError, oauth_page, page_error};
use super::pages::Page;
use super::submit::check_form;
use super::visitor::{Visitor, append_cookies};
use crate::{Idp, IdpService, LoginResult};

/// What the login form continues: an authorization flow, or the device page with a user code.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Continuation {
    Flow(String),
    Device(String),
}

impl Continuation {
    fn from_fields(flow: Option<&str>, device: Option<&str>) -> Option<Self> {
        match (flow.filter(|f| !f.is_empty()), device) {
            (Some(flow), _) => Some(Self::Flow(flow.to_owned())),
            (None, Some(code)) => Some(Self::Device(code.to_owned())),
            (None, None) => None,
        }
    }

    /// What the CSRF token is bound to.
    fn binding(&self) -> String {
        match self {
            Self::Flow(flow) => format!("flow:{flow}"),
            Self::Device(code) => format!("device:{code}"),
        }
    }
}

/// `GET /login` query.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    flow: Option<String>,
    device: Option<String>,
    lang: Option<String>,
}

/// `POST /login/post` form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    flow: Option<String>,
    device: Option<String>,
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
    let Some(next) = Continuation::from_fields(query.flow.as_deref(), query.device.as_deref()) else {
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
    let Some(next) = Continuation::from_fields(form.flow.as_deref(), form.device.as_deref()) else {
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
            let (session, set_cookie) = match idp.create_session(&user, vec!["pwd".into()], now).await {
                Ok(created) => created,
                Err(err) => {
                    tracing::error!(guid = %reference, error = %err, "idp: storing the session failed");
                    return page_error(&idp.pages, &visitor, PageError::TempFail, &reference);
                }
            };
            let mut response = match &next {
                Continuation::Flow(flow) => match idp.resume_authorization(flow, &session, now).await {
                    Ok(redirect) => redirect.into_response(),
                    Err(error) => oauth_page(&idp.pages, &visitor, error, &reference),
                },
                Continuation::Device(code) => device_redirect(code),
            };
            response
                .headers_mut()
                .append(http::header::SET_COOKIE, set_cookie);
            append_cookies(&mut response, &visitor.set_cookies(&idp.pages));
            response
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

/// Back to the device page with the code the user entered (a path of ours, never a URL from input).
fn device_redirect(code: &str) -> Response {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("user_code", code)
        .finish();
    Redirect::to(&format!("/device?{query}")).into_response()
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
        Continuation::Device(_) => Ok((String::new(), String::new())),
    }
}

/// The client a login is for (`oidc_cid` in the pipeline; brute-force rules may filter on it).
async fn client_id_of(idp: &Idp, next: &Continuation) -> Option<String> {
    match next {
        Continuation::Flow(flow) => idp.flow(flow).await.ok().flatten().map(|p| p.client_id),
        Continuation::Device(code) => idp.device_view(code).await.ok().map(|d| d.client_id),
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
    let (flow, device) = match next {
        Continuation::Flow(flow) => (flow.as_str(), None),
        Continuation::Device(code) => ("", Some(code.as_str())),
    };
    let params: Vec<(&str, &str)> = match next {
        Continuation::Flow(flow) => vec![("flow", flow.as_str())],
        Continuation::Device(code) => vec![("device", code.as_str())],
    };
    let data = json!({
        "flow": flow,
        "device": device,
        "csrf": visitor.csrf_token(Purpose::Login, &next.binding()),
        "username": username,
        "client_name": client_name,
        "error": error,
    });
    let switch = visitor.switch("/login", &params);
    idp.pages
        .respond(visitor, Page::Login, &switch, data, status, reference)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_binding_tells_flows_and_device_codes_apart() {
        let flow = Continuation::from_fields(Some("abc"), None).unwrap();
        let device = Continuation::from_fields(None, Some("abc")).unwrap();
        assert_ne!(flow.binding(), device.binding());
        assert_eq!(Continuation::from_fields(Some(""), None), None);
        assert_eq!(Continuation::from_fields(None, None), None);
    }
}
