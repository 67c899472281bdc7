//! The prologue every page form shares: the CSRF check (origin and token) for the form's
//! purpose and binding, and the browser session a form acts for (or the login that comes back).

use axum::response::{IntoResponse, Redirect, Response};
use http::HeaderMap;

use super::csrf::{self, Purpose};
use super::error::{PageError, page_error};
use super::visitor::{CSRF_COOKIE, Visitor};
use crate::{BrowserSession, Idp};

/// Checks a submitted form of `purpose` acting on `binding`: `None` when it passes, else the
/// answer (the CSRF error page, 403), logged under `guid`.
pub(crate) fn check_form(
    idp: &Idp,
    visitor: &Visitor,
    headers: &HeaderMap,
    submitted: Option<&str>,
    purpose: Purpose,
    binding: &str,
    guid: &str,
) -> Option<Response> {
    let cookie = idp.pages.cookies().get(headers, CSRF_COOKIE);
    let why = csrf::check(headers, cookie, submitted, purpose, binding).err()?;
    tracing::warn!(guid, form = ?purpose, reason = %why, "idp: form refused");
    Some(page_error(&idp.pages, visitor, PageError::Csrf, guid))
}

/// The browser's session, or a redirect to the login form with `login_query` (which brings the
/// browser back where it was); a store failure is the temporary-failure page.
pub(crate) async fn session_or_login(
    idp: &Idp,
    visitor: &Visitor,
    headers: &HeaderMap,
    login_query: (&str, &str),
    guid: &str,
) -> Result<BrowserSession, Response> {
    match idp.session_from_headers(headers).await {
        Ok(Some(session)) => Ok(session),
        Ok(None) => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(login_query.0, login_query.1)
                .finish();
            Err(Redirect::to(&format!("/login?{query}")).into_response())
        }
        Err(err) => {
            tracing::error!(guid, error = %err, "idp: loading the session failed");
            Err(page_error(&idp.pages, visitor, PageError::TempFail, guid))
        }
    }
}
