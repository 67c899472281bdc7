//! The IdP's pages: login (with its second-factor step), consent, logout, notify, the device
//! verification page, the self-service pages of second factors and app passwords (`/2fa/v1/*`)
//! and error pages, server-rendered from templates in English and German, brandable. The only
//! script is `/idp/static/webauthn.js`, for the WebAuthn ceremonies; every form works without it.
//!
//! Handlers only extract, check the form (CSRF), call one `Idp` method and render. Every
//! response of this router passes the security-headers layer (`headers.rs`): a strict CSP,
//! no framing, `nosniff`, no referrer, `no-store`.
//!
//! Routes (Nauthilus' frontend paths): `GET /login`, `POST /login/post`, `GET /consent`,
//! `POST /consent/post`, `GET /logout`, `POST /logout/post`, `GET /notify`, `GET|POST /device`,
//! and the stylesheet and logo under `/idp/static/`.

mod assets;
mod consent;
pub mod cookies;
pub mod csrf;
mod device;
mod enrol;
pub mod error;
mod finish;
mod fresh;
pub mod headers;
pub mod i18n;
mod login;
mod logout;
mod notify;
pub mod pages;
mod passkey;
mod respond;
mod scopes;
mod second_factor;
mod self_service;
mod submit;
pub mod visitor;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use nauthilus_core::SessionId;

pub use error::{PageError, error_page, oauth_page, page_error, shown_page};
pub use pages::{Page, Pages, PagesError};

use crate::IdpService;

/// The pages' routes over the provider service; merged with the protocol routes by `crate::router`.
pub fn router() -> Router<Arc<IdpService>> {
    Router::new()
        .route("/login", get(login::show))
        .route("/login/post", post(login::submit))
        .route("/consent", get(consent::show))
        .route("/consent/post", axum::routing::post(consent::submit))
        .route("/logout", get(logout::show))
        .route("/logout/post", axum::routing::post(logout::submit))
        .route("/notify", get(notify::show))
        .route("/device", get(device::show).post(device::submit))
        .route("/login/mfa", get(second_factor::show))
        .route("/login/mfa/post", post(second_factor::submit))
        .route("/login/mfa/webauthn/begin", post(second_factor::webauthn_begin))
        .route("/login/mfa/webauthn/finish", post(second_factor::webauthn_finish))
        .route("/login/passkey/begin", post(passkey::begin))
        .route("/login/passkey/finish", post(passkey::finish))
        .route("/2fa/v1/register", get(self_service::register))
        .route("/2fa/v1/home", get(self_service::home))
        .route("/2fa/v1/home/post", post(self_service::home_post))
        // `{page}` is `idp.pages.totp_page` / `webauthn_page` (checked by the handlers, so a
        // reload can rename them); the fixed paths above take precedence.
        .route("/2fa/v1/{page}", get(enrol::totp_page))
        .route("/2fa/v1/{page}/post", post(enrol::totp_confirm))
        .route("/2fa/v1/{page}/register/begin", get(enrol::key_begin))
        .route("/2fa/v1/{page}/register/finish", post(enrol::key_finish))
        .route("/idp/static/webauthn.js", get(assets::webauthn_script))
        .route("/idp/static/style.css", get(assets::stylesheet))
        .route("/idp/static/logo", get(assets::logo))
        .layer(axum::middleware::map_response(headers::security_headers))
}

/// The request's guid (set by the server's session middleware; a fresh one otherwise).
pub(crate) fn guid(session: Option<axum::Extension<SessionId>>) -> SessionId {
    session.map_or_else(
        || SessionId::new(nauthilus_clock::now()),
        |axum::Extension(id)| id,
    )
}
