//! `GET /logout` and `POST /logout/post`: the sign-out confirmation (logout is never a GET side
//! effect), then `Idp::logout`, which ends the session, sends the back-channel logout tokens and
//! says where to go: the client's verified `post_logout_redirect_uri`, or our notice page.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use nauthilus_core::SessionId;
use serde::Deserialize;
use serde_json::json;

use super::csrf::Purpose;
use super::error::{PageError, page_error, shown_page};
use super::notify::notice;
use super::pages::Page;
use super::submit::check_form;
use super::visitor::Visitor;
use crate::IdpService;

/// `GET /logout` query (`flow` comes from `/oidc/logout`; a user-started logout has none).
#[derive(Debug, Deserialize)]
pub struct LogoutQuery {
    #[serde(default)]
    flow: String,
    lang: Option<String>,
}

/// `POST /logout/post` form.
#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    flow: String,
    csrf: Option<String>,
    #[serde(default)]
    decision: String,
}

/// Shows the confirmation.
pub async fn show(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    Query(query): Query<LogoutQuery>,
    headers: HeaderMap,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, query.lang.as_deref());
    let session = match idp.session_from_headers(&headers).await {
        Ok(session) => session,
        Err(err) => {
            tracing::error!(guid, error = %err, "idp: loading the session failed");
            return page_error(&idp.pages, &visitor, PageError::TempFail, &guid);
        }
    };
    let request = match idp.logout_request(&query.flow).await {
        Ok(request) => request,
        Err(shown) => return shown_page(&idp.pages, &visitor, &shown, &guid),
    };
    if !query.flow.is_empty() && request.is_none() {
        return page_error(&idp.pages, &visitor, PageError::FlowExpired, &guid);
    }
    let client_name = request.and_then(|r| r.client_id).and_then(|id| {
        idp.clients.get(&id).map(|c| {
            if c.name.is_empty() {
                c.id.clone()
            } else {
                c.name.clone()
            }
        })
    });
    let data = json!({
        "flow": query.flow,
        "csrf": visitor.csrf_token(Purpose::Logout, &query.flow),
        "client_name": client_name,
        "account": session.map(|s| s.display_name),
    });
    let params: Vec<(&str, &str)> = if query.flow.is_empty() {
        Vec::new()
    } else {
        vec![("flow", query.flow.as_str())]
    };
    let switch = visitor.switch("/logout", &params);
    idp.pages
        .respond(&visitor, Page::Logout, &switch, data, StatusCode::OK, &guid)
}

/// Signs out (or not) and goes where `Idp::logout` says.
pub async fn submit(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, None);
    if let Some(refused) = check_form(
        &idp,
        &visitor,
        &headers,
        form.csrf.as_deref(),
        Purpose::Logout,
        &form.flow,
        &guid,
    ) {
        return refused;
    }
    let cookies = visitor.set_cookies(&idp.pages);
    match form.decision.as_str() {
        "logout" => {}
        "stay" => return notice(&idp, &visitor, "stayed_signed_in", &cookies, &guid),
        _ => return page_error(&idp.pages, &visitor, PageError::BadRequest, &guid),
    }
    let session = match idp.session_from_headers(&headers).await {
        Ok(session) => session,
        Err(err) => {
            tracing::error!(guid, error = %err, "idp: loading the session failed");
            return page_error(&idp.pages, &visitor, PageError::TempFail, &guid);
        }
    };
    let flow = (!form.flow.is_empty()).then_some(form.flow.as_str());
    match idp.logout(flow, session.as_ref(), nauthilus_clock::now()).await {
        Ok((redirect, clear)) => {
            let mut response = redirect.into_response();
            if let Some(clear) = clear {
                response.headers_mut().append(http::header::SET_COOKIE, clear);
            }
            super::visitor::append_cookies(&mut response, &cookies);
            response
        }
        Err(shown) => shown_page(&idp.pages, &visitor, &shown, &guid),
    }
}
