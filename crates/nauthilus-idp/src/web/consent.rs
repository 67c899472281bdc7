//! `GET /consent` and `POST /consent/post`: the client and the scopes it asks for, in words,
//! with approve and deny. Needs the browser session; without one the flow goes back to login.

use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use http::{HeaderMap, StatusCode};
use nauthilus_core::SessionId;
use serde::Deserialize;
use serde_json::json;

use super::csrf::{self, Purpose};
use super::error::{PageError, oauth_page, page_error, shown_page};
use super::pages::Page;
use super::scopes::describe;
use super::visitor::{CSRF_COOKIE, Visitor, html_response};
use crate::{BrowserSession, Idp, IdpService};

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
    let session = match session_or_login(&idp, &headers, &query.flow).await {
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
    match idp.pages.render(Page::Consent, visitor.lang, &switch, data) {
        Ok(html) => html_response(StatusCode::OK, html, &visitor.set_cookies(&idp.pages)),
        Err(err) => {
            tracing::error!(guid, error = %err, "idp: rendering the consent page failed");
            page_error(&idp.pages, &visitor, PageError::Internal, &guid)
        }
    }
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
    let cookie = idp.pages.cookies().get(&headers, CSRF_COOKIE);
    if form.flow.is_empty() {
        return page_error(&idp.pages, &visitor, PageError::FlowExpired, &guid);
    }
    if let Err(why) = csrf::check(&headers, cookie, form.csrf.as_deref(), Purpose::Consent, &form.flow) {
        tracing::warn!(guid, reason = %why, "idp: consent form refused");
        return page_error(&idp.pages, &visitor, PageError::Csrf, &guid);
    }
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return page_error(&idp.pages, &visitor, PageError::BadRequest, &guid),
    };
    let session = match session_or_login(&idp, &headers, &form.flow).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    match idp.grant_consent(&form.flow, &session, approve, nauthilus_clock::now()).await {
        Ok(redirect) => redirect.into_response(),
        Err(error) => oauth_page(&idp.pages, &visitor, error, &guid),
    }
}

/// The browser's session, or a redirect to the login form of `flow`.
async fn session_or_login(idp: &Idp, headers: &HeaderMap, flow: &str) -> Result<BrowserSession, Response> {
    match idp.session_from_headers(headers).await {
        Ok(Some(session)) => Ok(session),
        Ok(None) => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("flow", flow)
                .finish();
            Err(Redirect::to(&format!("/login?{query}")).into_response())
        }
        Err(err) => {
            tracing::error!(error = %err, "idp: loading the session failed");
            let visitor = Visitor::new(&idp.pages, headers, None);
            Err(page_error(&idp.pages, &visitor, PageError::TempFail, ""))
        }
    }
}
