//! The self-service pages behind a fresh login: `GET /2fa/v1/register` (what can be enrolled),
//! `GET /2fa/v1/home` (the factors with names and last use, app passwords, recovery codes,
//! remembered browsers) and `POST /2fa/v1/home/post`, whose `action` removes or creates one
//! thing. A new app password or a new set of recovery codes is shown once, on the answer to
//! the POST (never stored readable, never in a URL). Every POST carries a CSRF token bound to
//! the session's public id.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode};
use nauthilus_core::SessionId;
use serde::Deserialize;
use serde_json::json;

use super::csrf::Purpose;
use super::error::{PageError, page_error};
use super::finish::HOME;
use super::fresh::{Fresh, date, fresh_session};
use super::pages::Page;
use super::submit::check_form;
use super::visitor::Visitor;
use crate::{Idp, IdpService};

/// Query of the self-service pages.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    lang: Option<String>,
}

/// `POST /2fa/v1/home/post` form (read from the raw body: protocols repeat).
#[derive(Debug, Default)]
pub struct HomeForm {
    csrf: Option<String>,
    action: String,
    id: String,
    device: String,
    protocols: Vec<String>,
}

impl HomeForm {
    fn parse(body: &[u8]) -> Self {
        let mut form = Self::default();
        for (k, v) in url::form_urlencoded::parse(body) {
            match k.as_ref() {
                "csrf" => form.csrf = Some(v.into_owned()),
                "action" => form.action = v.into_owned(),
                "id" => form.id = v.into_owned(),
                "device" => form.device = v.into_owned(),
                "protocols" => form.protocols.push(v.into_owned()),
                _ => {}
            }
        }
        form
    }
}

/// `GET /2fa/v1/register`.
pub async fn register(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, query.lang.as_deref());
    let now = nauthilus_clock::now();
    let Fresh { session, mfa } = match fresh_session(&idp, &visitor, &headers, now, &guid).await {
        Ok(fresh) => fresh,
        Err(response) => return *response,
    };
    let factors = match idp.factors(&session.account).await {
        Ok(f) => f,
        Err(err) => return temp_fail(&idp, &visitor, &err, &guid),
    };
    let data = json!({
        "account": session.display_name,
        "factors": factors,
        "webauthn_enabled": mfa.webauthn_enabled(),
        "app_passwords_enabled": mfa.config().app_passwords.enabled,
        "totp_page": idp.config.pages.totp_page,
    });
    let switch = visitor.switch("/2fa/v1/register", &[]);
    idp.pages
        .respond(&visitor, Page::MfaRegister, &switch, data, StatusCode::OK, &guid)
}

/// `GET /2fa/v1/home`.
pub async fn home(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, query.lang.as_deref());
    let now = nauthilus_clock::now();
    let fresh = match fresh_session(&idp, &visitor, &headers, now, &guid).await {
        Ok(fresh) => fresh,
        Err(response) => return *response,
    };
    render_home(&idp, &visitor, &fresh, None, &guid).await
}

/// `POST /2fa/v1/home/post`.
pub async fn home_post(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, None);
    let form = HomeForm::parse(&body);
    let now = nauthilus_clock::now();
    let fresh = match fresh_session(&idp, &visitor, &headers, now, &guid).await {
        Ok(fresh) => fresh,
        Err(response) => return *response,
    };
    if let Some(refused) = check_form(
        &idp,
        &visitor,
        &headers,
        form.csrf.as_deref(),
        Purpose::SelfService,
        &fresh.session.sid,
        &guid,
    ) {
        return refused;
    }
    let account = fresh.session.account.as_str();
    let mfa = &fresh.mfa;
    let done = match form.action.as_str() {
        "remove_totp" => mfa.remove_totp(account).await.map(|_| ()),
        "remove_webauthn" => mfa
            .delete_webauthn_credential(account, &form.id)
            .await
            .map(|_| ()),
        "revoke_app_password" => mfa.revoke_app_password(account, &form.id).await.map(|_| ()),
        "forget_device" => match idp.forget_device(account, &form.id).await {
            Ok(_) => Ok(()),
            Err(err) => return temp_fail(&idp, &visitor, &err, &guid),
        },
        "create_app_password" => {
            let protocols: Vec<&str> = form.protocols.iter().map(String::as_str).collect();
            return match mfa
                .create_app_password(account, &protocols, &form.device, now)
                .await
            {
                Ok((info, password)) => {
                    tracing::info!(guid, account, id = %info.id, "idp: app password created");
                    shown_once(
                        &idp,
                        &visitor,
                        "app_password",
                        &[password.as_str()],
                        &info.protocols,
                        &guid,
                    )
                }
                Err(err) if !err.is_temporary() => {
                    let message = idp.pages.message(visitor.lang, "app_password_invalid");
                    render_home(&idp, &visitor, &fresh, Some(message), &guid).await
                }
                Err(err) => temp_fail(&idp, &visitor, &err, &guid),
            };
        }
        "regenerate_recovery" => {
            return match mfa.regenerate_recovery_codes(account, now).await {
                Ok(codes) => {
                    tracing::info!(guid, account, "idp: recovery codes regenerated");
                    let codes: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
                    shown_once(&idp, &visitor, "recovery", &codes, &[], &guid)
                }
                Err(err) => temp_fail(&idp, &visitor, &err, &guid),
            };
        }
        _ => return page_error(&idp.pages, &visitor, PageError::BadRequest, &guid),
    };
    match done {
        Ok(()) => {
            tracing::info!(guid, account, action = %form.action, "idp: self-service change");
            Redirect::to(HOME).into_response()
        }
        Err(err) if !err.is_temporary() => page_error(&idp.pages, &visitor, PageError::BadRequest, &guid),
        Err(err) => temp_fail(&idp, &visitor, &err, &guid),
    }
}

fn temp_fail(idp: &Idp, visitor: &Visitor, err: &dyn std::fmt::Display, guid: &str) -> Response {
    tracing::error!(guid, error = %err, "idp: a self-service page failed");
    page_error(&idp.pages, visitor, PageError::TempFail, guid)
}

/// The page that shows a new secret once (`kind`: `app_password` or `recovery`).
fn shown_once(
    idp: &Idp,
    visitor: &Visitor,
    kind: &str,
    secrets: &[&str],
    protocols: &[String],
    guid: &str,
) -> Response {
    let data = json!({ "kind": kind, "secrets": secrets, "protocols": protocols });
    idp.pages
        .respond(visitor, Page::ShownOnce, &[], data, StatusCode::OK, guid)
}

async fn render_home(
    idp: &Idp,
    visitor: &Visitor,
    fresh: &Fresh,
    error: Option<&str>,
    guid: &str,
) -> Response {
    let account = fresh.session.account.as_str();
    let mfa = &fresh.mfa;
    let gathered = async {
        let totp = mfa.has_totp(account).await?;
        let keys = if mfa.webauthn_enabled() {
            mfa.webauthn_credentials(account).await?
        } else {
            Vec::new()
        };
        let recovery = mfa.recovery_codes_left(account).await?;
        let app_passwords = mfa.app_passwords(account).await?;
        Ok::<_, nauthilus_mfa::MfaError>((totp, keys, recovery, app_passwords))
    }
    .await;
    let (totp, keys, recovery, app_passwords) = match gathered {
        Ok(g) => g,
        Err(err) => return temp_fail(idp, visitor, &err, guid),
    };
    let devices = match idp.remembered_devices(account).await {
        Ok(d) => d,
        Err(err) => return temp_fail(idp, visitor, &err, guid),
    };
    let never = idp.pages.message(visitor.lang, "never").to_owned();
    let keys: Vec<_> = keys
        .iter()
        .map(|k| {
            json!({
                "id": k.id, "name": k.name, "created": date(k.created),
                "last_used": k.last_used.map_or_else(|| never.clone(), date),
            })
        })
        .collect();
    let app_passwords: Vec<_> = app_passwords
        .iter()
        .map(|a| {
            json!({
                "id": a.id, "device": a.device, "protocols": a.protocols.join(", "),
                "created": date(a.created),
                "last_used": a.last_used.map_or_else(|| never.clone(), date),
                "last_address": a.last_address,
            })
        })
        .collect();
    let devices: Vec<_> = devices
        .iter()
        .map(|d| json!({ "id": d.id, "label": d.label, "created": date(d.created), "expires": date(d.expires) }))
        .collect();
    let data = json!({
        "account": fresh.session.display_name,
        "csrf": visitor.csrf_token(Purpose::SelfService, &fresh.session.sid),
        "totp": totp,
        "totp_page": idp.config.pages.totp_page,
        "webauthn_enabled": mfa.webauthn_enabled(),
        "webauthn_page": idp.config.pages.webauthn_page,
        "keys": keys,
        "recovery_left": recovery,
        "app_passwords_enabled": mfa.config().app_passwords.enabled,
        "app_passwords": app_passwords,
        "protocols": mfa.config().app_passwords.protocols,
        "remember_enabled": idp.remember_lifetime().is_some(),
        "devices": devices,
        "error": error,
    });
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let switch = visitor.switch(HOME, &[]);
    idp.pages
        .respond(visitor, Page::MfaHome, &switch, data, status, guid)
}
