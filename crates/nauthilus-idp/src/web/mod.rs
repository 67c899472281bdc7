//! The IdP's pages: login, consent, logout, notify, the device verification page and error
//! pages, server-rendered from templates (no JavaScript), in English and German, brandable.
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
pub mod error;
pub mod headers;
pub mod i18n;
mod login;
mod logout;
mod notify;
pub mod pages;
mod respond;
mod scopes;
mod submit;
pub mod visitor;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use nauthilus_core::SessionId;

pub use error::{PageError, error_page, oauth_page, page_error, shown_page};
pub use pages::{Page, Pages, PagesError};

use crate::IdpService;

/// The pages' routes over the provider service; merged with the protocol routes by `crate::router`.
pub fn router() -> Router<Arc<IdpService>> {
    Router::new()
        .route("/login", get(login::show))
        .route("/login/post", axum::routing::post(login::submit))
        .route("/consent", get(consent::show))
        .route("/consent/post", axum::routing::post(consent::submit))
        .route("/logout", get(logout::show))
        .route("/logout/post", axum::routing::post(logout::submit))
        .route("/notify", get(notify::show))
        .route("/device", get(device::show).post(device::submit))
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
