//! The end of every successful login (password, password and second factor, passkey): the
//! browser session starts with the factors used, and the browser goes where the login was
//! headed (the flow, the device page, the self-service pages). The JavaScript endpoints get
//! the same answer as JSON (`{"redirect": ...}`) with the same cookies.

use std::time::SystemTime;

use axum::response::{IntoResponse, Redirect, Response};
use http::header::{CONTENT_TYPE, LOCATION};
use http::{HeaderValue, StatusCode};

use super::error::{PageError, oauth_page, page_error};
use super::visitor::{Visitor, append_cookies};
use crate::{AuthenticatedUser, Continuation, Idp};

/// Where the self-service pages start.
pub const HOME: &str = "/2fa/v1/home";

/// Starts the session of `user` (authenticated by `amr` at `now`) and continues `next`, with
/// the visitor's cookies and `extra` ones (a remembered device).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn complete(
    idp: &Idp,
    visitor: &Visitor,
    next: &Continuation,
    user: &AuthenticatedUser,
    amr: Vec<String>,
    now: SystemTime,
    guid: &str,
    extra: &[String],
) -> Response {
    let (session, set_cookie) = match idp.create_session(user, amr, now).await {
        Ok(created) => created,
        Err(err) => {
            tracing::error!(guid, error = %err, "idp: storing the session failed");
            return page_error(&idp.pages, visitor, PageError::TempFail, guid);
        }
    };
    let mut response = match next {
        Continuation::Flow(flow) => match idp.resume_authorization(flow, &session, now).await {
            Ok(redirect) => redirect.into_response(),
            Err(error) => oauth_page(&idp.pages, visitor, error, guid),
        },
        Continuation::Device(code) => device_redirect(code),
        Continuation::SelfService => Redirect::to(HOME).into_response(),
    };
    response
        .headers_mut()
        .append(http::header::SET_COOKIE, set_cookie);
    append_cookies(&mut response, &visitor.set_cookies(&idp.pages));
    append_cookies(&mut response, extra);
    response
}

/// Back to the device page with the code the user entered (a path of ours, never a URL from input).
fn device_redirect(code: &str) -> Response {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("user_code", code)
        .finish();
    Redirect::to(&format!("/device?{query}")).into_response()
}

/// A page's answer as the JavaScript endpoints give it: a redirect becomes `200
/// {"redirect": location}` (cookies kept), anything else `{"error": ...}` with its status.
pub(crate) fn as_json(response: Response) -> Response {
    let (mut parts, _) = response.into_parts();
    let location = parts
        .headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, body) = match location {
        Some(location) if parts.status.is_redirection() => {
            (StatusCode::OK, serde_json::json!({ "redirect": location }))
        }
        _ => (
            if parts.status.is_success() {
                StatusCode::BAD_REQUEST
            } else {
                parts.status
            },
            serde_json::json!({ "error": "the sign-in could not be completed" }),
        ),
    };
    parts.status = status;
    parts.headers.remove(LOCATION);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

/// A JSON error of the JavaScript endpoints (never a secret or a reason an attacker could use).
pub(crate) fn json_error(status: StatusCode, message: &str, guid: &str) -> Response {
    let body = serde_json::json!({ "error": message, "guid": guid });
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_redirect_becomes_json_and_keeps_its_cookies() {
        let mut redirect = Redirect::to("/2fa/v1/home").into_response();
        redirect.headers_mut().append(
            http::header::SET_COOKIE,
            HeaderValue::from_static("nauthilus_session=abc"),
        );
        let json = as_json(redirect);
        assert_eq!(json.status(), StatusCode::OK);
        assert!(json.headers().get(LOCATION).is_none());
        assert_eq!(json.headers()[http::header::SET_COOKIE], "nauthilus_session=abc");
        assert_eq!(body(json).await["redirect"], "/2fa/v1/home");
    }

    #[tokio::test]
    async fn an_error_page_stays_an_error_and_a_stray_success_is_not_one() {
        let page = (StatusCode::SERVICE_UNAVAILABLE, "<html>").into_response();
        let json = as_json(page);
        assert_eq!(json.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(body(json).await["error"].is_string());
        let odd = as_json((StatusCode::OK, "<html>").into_response());
        assert_eq!(
            odd.status(),
            StatusCode::BAD_REQUEST,
            "only a redirect is a success"
        );
    }
}
