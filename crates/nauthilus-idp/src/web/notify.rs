//! `GET /notify?message=`: shows a message. The text is escaped by the template, so the query
//! cannot inject markup; its length is capped so a link cannot fill the page.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use nauthilus_core::SessionId;
use serde::Deserialize;
use serde_json::json;

use super::pages::Page;
use super::visitor::Visitor;
use crate::IdpService;

/// Notices shown in the page language when named by key.
const NOTICE_KEYS: [&str; 4] = [
    "logged_out",
    "stayed_signed_in",
    "device_approved",
    "device_denied",
];
/// Longest message shown, in characters.
const MAX_MESSAGE_CHARS: usize = 500;

/// `GET /notify` query.
#[derive(Debug, Deserialize)]
pub struct NotifyQuery {
    #[serde(default)]
    message: String,
    lang: Option<String>,
}

/// Renders the notice page.
pub async fn show(
    State(service): State<Arc<IdpService>>,
    session_id: Option<Extension<SessionId>>,
    Query(query): Query<NotifyQuery>,
    headers: HeaderMap,
) -> Response {
    let idp = service.current();
    let visitor = Visitor::new(&idp.pages, &headers, query.lang.as_deref());
    // The protocol side sends our own notices by key (`?message=logged_out`); anything else is
    // shown as the text it is.
    let message: String = if NOTICE_KEYS.contains(&query.message.as_str()) {
        idp.pages.message(visitor.lang, &query.message).to_owned()
    } else {
        query.message.chars().take(MAX_MESSAGE_CHARS).collect()
    };
    let switch = visitor.switch("/notify", &[("message", &query.message)]);
    let guid = super::guid(session_id).to_string();
    let data = json!({"message": message});
    idp.pages
        .respond(&visitor, Page::Notify, &switch, data, StatusCode::OK, &guid)
}

/// A notice page with a catalogue message (logout done, device connected).
pub(crate) fn notice(
    idp: &crate::Idp,
    visitor: &Visitor,
    key: &str,
    cookies: &[String],
    guid: &str,
) -> Response {
    let message = idp.pages.message(visitor.lang, key);
    let data = json!({"message": message});
    idp.pages
        .respond_with_cookies(visitor, Page::Notify, &[], data, StatusCode::OK, cookies, guid)
}
