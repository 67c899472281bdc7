//! The device verification page (RFC 8628 §3.3): `GET /device` asks for the user code (prefilled
//! from `verification_uri_complete`), sends the browser through the login form when it has no
//! session, then shows the client and scopes; `POST /device` records approve or deny.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use nauthilus_core::SessionId;
use serde::Deserialize;
use serde_json::json;

use super::csrf::Purpose;
use super::error::{PageError, page_error, shown_page};
use super::notify::notice;
use super::pages::Page;
use super::scopes::describe;
use super::submit::{check_form, session_or_login};
use super::visitor::Visitor;
use crate::oauth::device::normalise_user_code;
use crate::{Idp, IdpService};

/// Longest user code accepted from the form (ours are far shorter).
const MAX_CODE_CHARS: usize = 64;

/// `GET /device` query.
#[derive(Debug, Deserialize)]
pub struct DeviceQuery {
    #[serde(default)]
    user_code: String,
    lang: Option<String>,
}

/// `POST /device` form.
#[derive(Debug, Deserialize)]
pub struct DeviceForm {
    #[serde(default)]
    user_code: String,
    csrf: Option<String>,
    #[serde(default)]
    decision: String,
}

/// The user code as the protocol side stores it (letters, upper case), if it is plausible.
fn clean(code: &str) -> Option<String> {
    if code.chars().count() > MAX_CODE_CHARS {
        return None;
    }
    let code = normalise_user_code(code);
    (!code.is_empty()).then_some(code)
}

/// Entry form, login, or the confirmation for a known code.
pub async fn show(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    Query(query): Query<DeviceQuery>,
    headers: HeaderMap,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, query.lang.as_deref());
    let Some(code) = clean(&query.user_code) else {
        return entry_form(&idp, &visitor, "", None, StatusCode::OK, &guid);
    };
    let session = match session_or_login(&idp, &visitor, &headers, ("device", &code), &guid).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let view = match idp.device_view(&code).await {
        Ok(view) => view,
        Err(shown) if shown.status.is_server_error() => {
            return shown_page(&idp.pages, &visitor, &shown, &guid);
        }
        Err(_) => {
            let message = idp.pages.message(visitor.lang, "device_unknown_code");
            return entry_form(&idp, &visitor, &code, Some(message), StatusCode::NOT_FOUND, &guid);
        }
    };
    let data = json!({
        "user_code": code,
        "csrf": visitor.csrf_token(Purpose::Device, &code),
        "client_name": view.client_name,
        "scopes": describe(&idp.pages, visitor.lang, &view.scopes),
        "account": session.display_name,
    });
    let switch = visitor.switch("/device", &[("user_code", &code)]);
    idp.pages.respond(
        &visitor,
        Page::DeviceConfirm,
        &switch,
        data,
        StatusCode::OK,
        &guid,
    )
}

/// Records the user's decision for the device.
pub async fn submit(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    headers: HeaderMap,
    Form(form): Form<DeviceForm>,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, None);
    let Some(code) = clean(&form.user_code) else {
        return page_error(&idp.pages, &visitor, PageError::BadRequest, &guid);
    };
    if let Some(refused) = check_form(
        &idp,
        &visitor,
        &headers,
        form.csrf.as_deref(),
        Purpose::Device,
        &code,
        &guid,
    ) {
        return refused;
    }
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return page_error(&idp.pages, &visitor, PageError::BadRequest, &guid),
    };
    let session = match session_or_login(&idp, &visitor, &headers, ("device", &code), &guid).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    match idp
        .device_decide(&code, &session, approve, nauthilus_clock::now())
        .await
    {
        Ok(()) => {
            let key = if approve {
                "device_approved"
            } else {
                "device_denied"
            };
            notice(&idp, &visitor, key, &visitor.set_cookies(&idp.pages), &guid)
        }
        Err(shown) => shown_page(&idp.pages, &visitor, &shown, &guid),
    }
}

fn entry_form(
    idp: &Idp,
    visitor: &Visitor,
    code: &str,
    error: Option<&str>,
    status: StatusCode,
    guid: &str,
) -> Response {
    let switch = visitor.switch("/device", &[]);
    let data = json!({"user_code": code, "error": error});
    idp.pages
        .respond(visitor, Page::Device, &switch, data, status, guid)
}
