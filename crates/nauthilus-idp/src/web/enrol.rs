//! Enrolment behind a fresh login: `GET /2fa/v1/{totp_page}` starts a TOTP enrolment and shows
//! its QR code (inline SVG, drawn here) and manual key; `POST /2fa/v1/{totp_page}/post`
//! confirms it with a first code. `GET /2fa/v1/{webauthn_page}/register/begin` and `POST
//! .../register/finish` (JSON, the page's script) register a named security key or passkey.
//! The page names come from `idp.pages`; any other name is 404.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{ConnectInfo, Form, Json, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode};
use nauthilus_core::SessionId;
use nauthilus_mfa::CodeVerdict;
use nauthilus_mfa::webauthn_types::RegisterPublicKeyCredential;
use serde::Deserialize;
use serde_json::json;

use super::csrf::{Purpose, same_origin};
use super::error::{PageError, page_error};
use super::finish::{HOME, json_error};
use super::fresh::{Fresh, fresh_session};
use super::pages::Page;
use super::submit::check_form;
use super::visitor::Visitor;
use crate::{Idp, IdpService};

/// Query of the TOTP page.
#[derive(Debug, Deserialize)]
pub struct TotpQuery {
    lang: Option<String>,
}

/// `POST /2fa/v1/{totp_page}/post` form.
#[derive(Debug, Deserialize)]
pub struct TotpForm {
    csrf: Option<String>,
    #[serde(default)]
    code: String,
}

/// `POST /2fa/v1/{webauthn_page}/register/finish` body.
#[derive(Debug, Deserialize)]
pub struct KeyFinish {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    credential: RegisterPublicKeyCredential,
}

/// `GET /2fa/v1/{page}`: the TOTP enrolment page.
pub async fn totp_page(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    Path(page): Path<String>,
    Query(query): Query<TotpQuery>,
    headers: HeaderMap,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, query.lang.as_deref());
    if page != idp.config.pages.totp_page {
        return page_error(&idp.pages, &visitor, PageError::NotFound, &guid);
    }
    let now = nauthilus_clock::now();
    let Fresh { session, mfa } = match fresh_session(&idp, &visitor, &headers, now, &guid).await {
        Ok(fresh) => fresh,
        Err(response) => return *response,
    };
    let enrolment = match mfa.begin_totp_enrolment(&session.account).await {
        Ok(e) => e,
        Err(err) => {
            tracing::error!(guid, error = %err, "idp: starting a TOTP enrolment failed");
            return page_error(&idp.pages, &visitor, PageError::TempFail, &guid);
        }
    };
    // The SVG document without its XML declaration, to sit inside the page.
    let svg = enrolment
        .qr_svg
        .find("<svg")
        .map_or("", |start| &enrolment.qr_svg[start..]);
    let data = json!({
        "csrf": visitor.csrf_token(Purpose::SelfService, &session.sid),
        "action": format!("/2fa/v1/{page}/post"),
        "qr_svg": svg,
        "secret": enrolment.secret_base32.as_str(),
        "error": null,
    });
    let switch = visitor.switch(&format!("/2fa/v1/{page}"), &[]);
    idp.pages
        .respond(&visitor, Page::MfaTotp, &switch, data, StatusCode::OK, &guid)
}

/// `POST /2fa/v1/{page}/post`: confirms the pending TOTP enrolment with a first code.
pub async fn totp_confirm(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Path(page): Path<String>,
    headers: HeaderMap,
    Form(form): Form<TotpForm>,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, None);
    if page != idp.config.pages.totp_page {
        return page_error(&idp.pages, &visitor, PageError::NotFound, &guid);
    }
    let now = nauthilus_clock::now();
    let Fresh { session, mfa } = match fresh_session(&idp, &visitor, &headers, now, &guid).await {
        Ok(fresh) => fresh,
        Err(response) => return *response,
    };
    if let Some(refused) = check_form(
        &idp,
        &visitor,
        &headers,
        form.csrf.as_deref(),
        Purpose::SelfService,
        &session.sid,
        &guid,
    ) {
        return refused;
    }
    let Some(Extension(ConnectInfo(peer))) = peer else {
        return page_error(&idp.pages, &visitor, PageError::Internal, &guid);
    };
    let code = form.code.trim();
    if code.len() > 16 {
        return page_error(&idp.pages, &visitor, PageError::BadRequest, &guid);
    }
    let verdict = mfa
        .confirm_totp_enrolment(&session.account, code, &peer.ip().to_string(), now)
        .await;
    match verdict {
        Ok(CodeVerdict::Accepted) => {
            tracing::info!(guid, account = %session.account, "idp: TOTP enrolled");
            Redirect::to(HOME).into_response()
        }
        Ok(CodeVerdict::Refused) => {
            let message = idp.pages.message(visitor.lang, "mfa_code_wrong");
            let data = json!({
                "csrf": visitor.csrf_token(Purpose::SelfService, &session.sid),
                "action": format!("/2fa/v1/{page}/post"),
                "qr_svg": null,
                "secret": null,
                "error": message,
            });
            idp.pages
                .respond(&visitor, Page::MfaTotp, &[], data, StatusCode::FORBIDDEN, &guid)
        }
        Ok(CodeVerdict::Banned) => page_error(&idp.pages, &visitor, PageError::Banned, &guid),
        // Nothing pending (expired): start again.
        Err(err) if !err.is_temporary() => Redirect::to(&format!("/2fa/v1/{page}")).into_response(),
        Err(err) => {
            tracing::error!(guid, error = %err, "idp: confirming a TOTP enrolment failed");
            page_error(&idp.pages, &visitor, PageError::TempFail, &guid)
        }
    }
}

/// `GET /2fa/v1/{page}/register/begin`: the options for `navigator.credentials.create`.
pub async fn key_begin(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    Path(page): Path<String>,
    headers: HeaderMap,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let (session, mfa) = match key_request(&idp, &page, &headers, &guid).await {
        Ok(found) => found,
        Err(response) => return *response,
    };
    // A GET, but it starts a ceremony: only our own page's script may ask.
    if !same_origin(&headers) {
        return json_error(StatusCode::FORBIDDEN, "the request could not be checked", &guid);
    }
    match mfa
        .begin_webauthn_registration(&session.account, &session.display_name)
        .await
    {
        Ok(challenge) => axum::Json(challenge).into_response(),
        Err(err) => {
            tracing::error!(guid, error = %err, "idp: starting a WebAuthn registration failed");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "registration is not possible now",
                &guid,
            )
        }
    }
}

/// `POST /2fa/v1/{page}/register/finish`: stores the new credential under its name.
pub async fn key_finish(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    Path(page): Path<String>,
    headers: HeaderMap,
    Json(body): Json<KeyFinish>,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let (session, mfa) = match key_request(&idp, &page, &headers, &guid).await {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let visitor = Visitor::new(&idp.pages, &headers, None);
    if check_form(
        &idp,
        &visitor,
        &headers,
        body.csrf.as_deref(),
        Purpose::SelfService,
        &session.sid,
        &guid,
    )
    .is_some()
    {
        return json_error(StatusCode::FORBIDDEN, "the request could not be checked", &guid);
    }
    let now = nauthilus_clock::now();
    match mfa
        .finish_webauthn_registration(&session.account, &body.name, &body.credential, now)
        .await
    {
        Ok(info) => {
            tracing::info!(guid, account = %session.account, id = %info.id, "idp: WebAuthn credential registered");
            axum::Json(json!({ "redirect": HOME })).into_response()
        }
        Err(err) if err.is_temporary() => {
            tracing::error!(guid, error = %err, "idp: storing a WebAuthn credential failed");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "registration is not possible now",
                &guid,
            )
        }
        Err(err) => {
            tracing::warn!(guid, error = %err, "idp: WebAuthn registration refused");
            json_error(StatusCode::BAD_REQUEST, &err.to_string(), &guid)
        }
    }
}

/// The fresh session of a registration request to `page` (JSON errors, a login as 401).
async fn key_request(
    idp: &Idp,
    page: &str,
    headers: &HeaderMap,
    guid: &str,
) -> Result<(crate::BrowserSession, Arc<nauthilus_mfa::Mfa>), Box<Response>> {
    if page != idp.config.pages.webauthn_page {
        return Err(Box::new(json_error(StatusCode::NOT_FOUND, "no such page", guid)));
    }
    let visitor = Visitor::new(&idp.pages, headers, None);
    match fresh_session(idp, &visitor, headers, nauthilus_clock::now(), guid).await {
        Ok(Fresh { session, mfa }) if mfa.webauthn_enabled() => Ok((session, mfa)),
        Ok(_) => Err(Box::new(json_error(
            StatusCode::NOT_FOUND,
            "WebAuthn is not enabled",
            guid,
        ))),
        Err(_) => Err(Box::new(json_error(
            StatusCode::UNAUTHORIZED,
            "sign in again to register a key",
            guid,
        ))),
    }
}
