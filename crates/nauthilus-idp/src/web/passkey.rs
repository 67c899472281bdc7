//! Passkey-only login from the login page (the page's script): `POST /login/passkey/begin`
//! gives the options of a discoverable-credential assertion (the script asks with
//! `mediation: "conditional"` where the browser offers it, else on the button), `POST
//! /login/passkey/finish` checks it, looks the account up through the pipeline without a
//! password (the backends must still know it; filters apply) and completes the login with
//! `amr` `["hwk","user"]` (or `swk` for a synced key). Both carry the login form's binding
//! (flow, device code or self-service) and a CSRF token for it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{ConnectInfo, Json, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use nauthilus_core::SessionId;
use nauthilus_mfa::webauthn_types::PublicKeyCredential;
use serde::Deserialize;

use super::csrf::Purpose;
use super::finish::{as_json, complete, json_error};
use super::submit::check_form;
use super::visitor::Visitor;
use crate::second_factor::passkey_amr;
use crate::{Continuation, IdpService, LoginResult};

/// What both requests name: the login's continuation and the CSRF token.
#[derive(Debug, Deserialize)]
pub struct PasskeyTarget {
    flow: Option<String>,
    device: Option<String>,
    self_service: Option<String>,
    csrf: Option<String>,
}

impl PasskeyTarget {
    fn next(&self) -> Option<Continuation> {
        Continuation::from_fields(
            self.flow.as_deref(),
            self.device.as_deref(),
            self.self_service.is_some(),
        )
    }
}

/// `POST /login/passkey/finish` body.
#[derive(Debug, Deserialize)]
pub struct PasskeyFinish {
    #[serde(flatten)]
    target: PasskeyTarget,
    #[serde(default)]
    ceremony: String,
    credential: PublicKeyCredential,
}

/// Starts a passkey-only login.
pub async fn begin(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    headers: HeaderMap,
    Json(body): Json<PasskeyTarget>,
) -> Response {
    let idp = service.current();
    let guid = super::guid(session_id).to_string();
    let visitor = Visitor::new(&idp.pages, &headers, None);
    let Some(next) = body.next() else {
        return json_error(StatusCode::BAD_REQUEST, "the sign-in expired", &guid);
    };
    if check_form(
        &idp,
        &visitor,
        &headers,
        body.csrf.as_deref(),
        Purpose::Passkey,
        &next.binding(),
        &guid,
    )
    .is_some()
    {
        return json_error(StatusCode::FORBIDDEN, "the request could not be checked", &guid);
    }
    let Some(mfa) = idp.mfa().filter(|m| m.webauthn_enabled()) else {
        return json_error(StatusCode::NOT_FOUND, "passkeys are not enabled", &guid);
    };
    match mfa.begin_passkey_login().await {
        Ok((ceremony, options)) => {
            axum::Json(serde_json::json!({ "ceremony": ceremony, "options": options })).into_response()
        }
        Err(err) => {
            tracing::error!(guid, error = %err, "idp: starting a passkey login failed");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "passkey sign-in is not possible now",
                &guid,
            )
        }
    }
}

/// Checks the assertion and completes the login.
pub async fn finish(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Json(body): Json<PasskeyFinish>,
) -> Response {
    let idp = service.current();
    let guid_id = super::guid(session_id);
    let guid = guid_id.to_string();
    let visitor = Visitor::new(&idp.pages, &headers, None);
    let Some(next) = body.target.next() else {
        return json_error(StatusCode::BAD_REQUEST, "the sign-in expired", &guid);
    };
    if check_form(
        &idp,
        &visitor,
        &headers,
        body.target.csrf.as_deref(),
        Purpose::Passkey,
        &next.binding(),
        &guid,
    )
    .is_some()
    {
        return json_error(StatusCode::FORBIDDEN, "the request could not be checked", &guid);
    }
    let (Some(mfa), Some(Extension(ConnectInfo(peer)))) = (idp.mfa(), peer) else {
        return json_error(StatusCode::NOT_FOUND, "passkeys are not enabled", &guid);
    };
    let now = nauthilus_clock::now();
    let login = match mfa
        .finish_passkey_login(&body.ceremony, &body.credential, now)
        .await
    {
        Ok(login) => login,
        Err(err) if err.is_temporary() => {
            tracing::error!(guid, error = %err, "idp: checking a passkey failed");
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "passkey sign-in is not possible now",
                &guid,
            );
        }
        Err(err) => {
            tracing::warn!(guid, error = %err, "idp: passkey refused");
            return json_error(StatusCode::FORBIDDEN, "the passkey was not accepted", &guid);
        }
    };
    let client_id = match &next {
        Continuation::Flow(flow) => idp.flow(flow).await.ok().flatten().map(|p| p.client_id),
        Continuation::Device(code) => idp.device_view(code).await.ok().map(|d| d.client_id),
        Continuation::SelfService => None,
    }
    .unwrap_or_default();
    let ip = peer.ip().to_string();
    let user = match idp
        .lookup_user(&login.account, &client_id, &ip, guid_id, now)
        .await
    {
        LoginResult::Ok(user) => user,
        LoginResult::Failed | LoginResult::Banned => {
            tracing::warn!(guid, account = %login.account, "idp: a passkey's account is not known to the backends");
            return json_error(StatusCode::FORBIDDEN, "the passkey was not accepted", &guid);
        }
        LoginResult::TempFail(why) => {
            tracing::warn!(guid, reason = %why, "idp: passkey account lookup temporarily failed");
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "passkey sign-in is not possible now",
                &guid,
            );
        }
    };
    tracing::info!(guid, account = %user.account, "idp: passkey login");
    let amr = passkey_amr(login.user_verified, login.backup_eligible);
    as_json(complete(&idp, &visitor, &next, &user, amr, now, &guid, &[]).await)
}
