//! Error pages: a protocol `ShownError`, a refused form (CSRF), an expired flow, a brute-force ban
//! or a temporary failure, each as a full page in the visitor's language with a non-200 status
//! and the request's guid as reference — never a bare JSON body or a stack trace.

use std::sync::OnceLock;

use axum::response::{IntoResponse, Response};
use nauthilus_config::model::IdpPages;
use http::header::RETRY_AFTER;
use http::{HeaderValue, StatusCode};
use serde_json::json;

use super::i18n::Lang;
use super::pages::{Page, Pages};
use super::visitor::{Visitor, html_response};
use crate::oauth::error::Target;
use crate::{OAuthError, ShownError};

/// What went wrong, in the words of the message catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageError {
    /// A malformed request (400).
    BadRequest,
    /// The flow id is unknown or expired (400).
    FlowExpired,
    /// The CSRF token or the origin check failed (403).
    Csrf,
    /// The client's network is banned by brute-force protection (429).
    Banned,
    /// A backend or the store failed for now (503, `Retry-After`).
    TempFail,
    /// Something on our side broke (500).
    Internal,
    /// No such page (404).
    NotFound,
}

impl PageError {
    fn status(self) -> StatusCode {
        match self {
            Self::BadRequest | Self::FlowExpired => StatusCode::BAD_REQUEST,
            Self::Csrf => StatusCode::FORBIDDEN,
            Self::Banned => StatusCode::TOO_MANY_REQUESTS,
            Self::TempFail => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::NotFound => StatusCode::NOT_FOUND,
        }
    }

    fn keys(self) -> (&'static str, &'static str) {
        match self {
            Self::BadRequest => ("error_title", "error_bad_request"),
            Self::FlowExpired => ("error_title", "error_flow_expired"),
            Self::Csrf => ("error_title", "error_csrf"),
            Self::Banned => ("banned_title", "banned_detail"),
            Self::TempFail => ("tempfail_title", "tempfail_detail"),
            Self::Internal => ("error_title", "error_internal"),
            Self::NotFound => ("error_title", "error_not_found"),
        }
    }
}

/// The page for `error`, with `reference` (the request's guid) shown for support.
pub fn page_error(pages: &Pages, visitor: &Visitor, error: PageError, reference: &str) -> Response {
    let (title, detail) = error.keys();
    let mut response = render(
        pages,
        visitor,
        error.status(),
        pages.message(visitor.lang, title),
        pages.message(visitor.lang, detail),
        reference,
    );
    if error == PageError::TempFail {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("60"));
    }
    response
}

/// The page for an error the protocol side decided the user must see, in the visitor's
/// language and the configured branding.
pub fn shown_page(pages: &Pages, visitor: &Visitor, error: &ShownError, reference: &str) -> Response {
    render(pages, visitor, error.status, &error.title, &error.detail, reference)
}

/// An `OAuthError` met by a page: a page when it must be shown, else its own response (the
/// redirect back to the client's verified URI with `error=`).
pub fn oauth_page(pages: &Pages, visitor: &Visitor, error: OAuthError, reference: &str) -> Response {
    match &error.target {
        Target::Shown(shown) => shown_page(pages, visitor, shown, reference),
        _ => error.into_response(),
    }
}

/// A `ShownError` rendered without a request at hand (the protocol side's `IntoResponse`):
/// built-in templates, default branding, English.
pub fn error_page(error: &ShownError) -> Response {
    static DEFAULT: OnceLock<Option<Pages>> = OnceLock::new();
    let data = json!({"title": error.title, "detail": error.detail, "reference": null});
    let html = DEFAULT
        .get_or_init(|| Pages::new(&IdpPages::default(), false).ok())
        .as_ref()
        .and_then(|pages| pages.render(Page::Error, Lang::En, &[], data).ok())
        .unwrap_or_else(|| fallback_html(&error.title, &error.detail, ""));
    html_response(error_status(error.status), html, &[])
}

/// An error page is never a success, whatever the caller passed.
fn error_status(status: StatusCode) -> StatusCode {
    if status.is_success() || status.is_redirection() || status.is_informational() {
        StatusCode::BAD_REQUEST
    } else {
        status
    }
}

fn render(pages: &Pages, visitor: &Visitor, status: StatusCode, title: &str, detail: &str, reference: &str) -> Response {
    let status = error_status(status);
    let data = json!({"title": title, "detail": detail, "reference": reference});
    match pages.render(Page::Error, visitor.lang, &[], data) {
        Ok(html) => html_response(status, html, &visitor.set_cookies(pages)),
        Err(err) => {
            // A broken operator template must still answer with a readable page.
            tracing::error!(error = %err, guid = reference, "idp: rendering the error page failed");
            html_response(status, fallback_html(title, detail, reference), &[])
        }
    }
}

/// A minimal page when even the error template fails; every value escaped.
fn fallback_html(title: &str, detail: &str, reference: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head><body><main><h1>{t}</h1><p>{d}</p><p>{r}</p></main></body></html>",
        t = escape(title),
        d = escape(detail),
        r = escape(reference)
    )
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn ban_and_tempfail_are_clear_pages_with_their_status() {
        let pages = Pages::new(&IdpPages::default(), false).unwrap();
        let visitor = Visitor::new(&pages, &HeaderMap::new(), Some("de"));
        let banned = page_error(&pages, &visitor, PageError::Banned, "guid-1");
        assert_eq!(banned.status(), StatusCode::TOO_MANY_REQUESTS);
        let html = body(banned).await;
        assert!(html.contains("<h1 class=\"error-title\">Zu viele Fehlversuche</h1>"));
        assert!(html.contains("<code>guid-1</code>"));
        let temp = page_error(&pages, &visitor, PageError::TempFail, "g");
        assert_eq!(temp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(temp.headers()[RETRY_AFTER], "60");
    }

    #[tokio::test]
    async fn a_shown_error_keeps_its_status_and_is_never_200() {
        let pages = Pages::new(&IdpPages::default(), false).unwrap();
        let visitor = Visitor::new(&pages, &HeaderMap::new(), None);
        let shown = ShownError::bad_request("Unknown client", "client_id <x> is not registered");
        let response = shown_page(&pages, &visitor, &shown, "g");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(body(response).await.contains("client_id &lt;x&gt; is not registered"));
        let odd = ShownError {
            status: StatusCode::OK,
            ..shown
        };
        assert_eq!(shown_page(&pages, &visitor, &odd, "g").status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_page(&odd).status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn the_fallback_page_escapes_everything() {
        let html = fallback_html("<t>", "\"d\" & 'e'", "<r>");
        assert!(html.contains("&lt;t&gt;") && html.contains("&quot;d&quot; &amp; &#39;e&#39;") && html.contains("&lt;r&gt;"));
    }
}
