//! `GET /consent` and `POST /consent/post`: the client and the scopes it asks for, in words,
//! with approve and deny. Needs the browser session; without one the flow goes back to login.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use nauthilus_core::SessionId;
use serde::Deserialize;
use serde_json::json;

use super::csrf::Purpose;
use super::error::{PageError, oauth_page, page_error, shown_page};
use super::pages::Page;
use super::scopes::describe;
use super::submit::{check_form, session_or_login};
use super::visitor::Visitor;
use crate::IdpService;

/// `GET /consent` query.
#[derive(Debug, Deserialize)]
pub struct ConsentQuery {
    #[serde(default)]
    flow: String,
    lang: Option<String>,
}

/// `POST /consent/post` form.
#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    flow: String,
    csrf: Option<String>,
    #[serde(default)]
    decision: String,
}

/// Shows what the client asks for.
pub async fn show(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    Query(query): Query<ConsentQuery>,
    headers: HeaderMap,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, query.lang.as_deref());
    if query.flow.is_empty() {
        return page_error(&idp.pages, &visitor, PageError::FlowExpired, &guid);
    }
    let session = match session_or_login(&idp, &visitor, &headers, ("flow", &query.flow), &guid).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let view = match idp.consent_view(&query.flow, &session).await {
        Ok(view) => view,
        Err(shown) => return shown_page(&idp.pages, &visitor, &shown, &guid),
    };
    let data = json!({
        "flow": query.flow,
        "csrf": visitor.csrf_token(Purpose::Consent, &query.flow),
        "client_name": view.client_name,
        "scopes": describe(&idp.pages, visitor.lang, &view.scopes),
        "account": session.display_name,
    });
    let switch = visitor.switch("/consent", &[("flow", &query.flow)]);
    idp.pages
        .respond(&visitor, Page::Consent, &switch, data, StatusCode::OK, &guid)
}

/// Records the decision and continues the flow (code to the client, or `access_denied`).
pub async fn submit(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    headers: HeaderMap,
    Form(form): Form<ConsentForm>,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, None);
    if form.flow.is_empty() {
        return page_error(&idp.pages, &visitor, PageError::FlowExpired, &guid);
    }
    let checked = check_form(
        &idp,
        &visitor,
        &headers,
        form.csrf.as_deref(),
        Purpose::Consent,
        &form.flow,
        &guid,
    );
    if let Some(refused) = checked {
        return refused;
    }
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return page_error(&idp.pages, &visitor, PageError::BadRequest, &guid),
    };
    let session = match session_or_login(&idp, &visitor, &headers, ("flow", &form.flow), &guid).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    match idp
        .grant_consent(&form.flow, &session, approve, nauthilus_clock::now())
        .await
    {
        Ok(redirect) => redirect.into_response(),
        Err(error) => oauth_page(&idp.pages, &visitor, error, &guid),
    }
}
