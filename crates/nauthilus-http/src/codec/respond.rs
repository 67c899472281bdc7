//! Turns an `AuthOutcome` into the response each endpoint owes its callers:
//!
//! | outcome  | json / header / saslauthd / basic | nginx |
//! |----------|-----------------------------------|-------|
//! | ok       | 200                               | 200 + `Auth-Server`/`Auth-Port` |
//! | fail     | 403 + `Auth-Wait` (json, header)  | 200 + `Auth-Wait` |
//! | tempfail | 500                               | 200 (+ `Auth-Error-Code: 451 4.3.0` for smtp) |
//!
//! Every one carries `Auth-Status` and `X-Nauthilus-Memory-Cache`; success adds `Auth-User`. A
//! failure's `Auth-Status` (and the `error` of its body) is the outcome's `status_message` when a
//! stage set one (`TLS transport encryption required`, a filter's text), else the default.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nauthilus_core::{AuthOutcome, Decision, Service, SessionId, Upstream, UserData};
use serde::Serialize;

use crate::error::error_body;

/// `Auth-Status` of a successful login.
pub const STATUS_OK: &str = "OK";
/// `Auth-Status` of a failed login.
pub const STATUS_FAIL: &str = "Invalid login or password";
/// `Auth-Status` of a temporary failure.
pub const STATUS_TEMPFAIL: &str = "Temporary server problem, try again later";

/// Renders `outcome` for `service`.
pub fn respond(
    service: Service,
    outcome: &AuthOutcome,
    session: SessionId,
    upstream: Option<&Upstream>,
    protocol: &str,
) -> Response {
    let mut headers = HeaderMap::new();
    // Headers the scripts asked for first, never one of the answer's own (`Auth-*`, framing):
    // a script cannot turn a failure into `Auth-Status: OK` or pick an upstream this way.
    for (name, value) in &outcome.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) && !is_reserved(&name)
        {
            headers.append(name, value);
        }
    }
    let cache = if outcome.memory_cache_hit { "Hit" } else { "Miss" };
    headers.insert("x-nauthilus-memory-cache", HeaderValue::from_static(cache));
    let nginx = service == Service::Nginx;
    match &outcome.decision {
        Decision::Ok(user) => {
            headers.insert("auth-status", HeaderValue::from_static(STATUS_OK));
            if let Ok(v) = HeaderValue::from_str(&user.account) {
                headers.insert("auth-user", v);
            }
            match service {
                Service::Json => (
                    StatusCode::OK,
                    headers,
                    axum::Json(JsonSuccess::from(user.as_ref())),
                )
                    .into_response(),
                Service::Header => {
                    add_attribute_headers(&mut headers, user);
                    ok_text(headers)
                }
                Service::Nginx => {
                    if let Some(up) = upstream {
                        if let Ok(v) = HeaderValue::from_str(&up.server) {
                            headers.insert("auth-server", v);
                        }
                        headers.insert("auth-port", HeaderValue::from(up.port));
                    }
                    (StatusCode::OK, headers).into_response()
                }
                Service::Saslauthd | Service::Basic | Service::Jwt | Service::Idp => ok_text(headers),
            }
        }
        Decision::Fail(_) => {
            let status = status_text(outcome, STATUS_FAIL);
            headers.insert("auth-status", status.1);
            if let (Some(wait), Service::Json | Service::Header | Service::Nginx) =
                (outcome.auth_wait, service)
            {
                headers.insert("auth-wait", HeaderValue::from(wait));
            }
            if nginx {
                (StatusCode::OK, headers).into_response()
            } else {
                (StatusCode::FORBIDDEN, headers, error_body(status.0, session)).into_response()
            }
        }
        Decision::TempFail(_) => {
            let status = status_text(outcome, STATUS_TEMPFAIL);
            headers.insert("auth-status", status.1);
            if nginx {
                if protocol == "smtp" {
                    headers.insert("auth-error-code", HeaderValue::from_static("451 4.3.0"));
                }
                (StatusCode::OK, headers).into_response()
            } else {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    headers,
                    error_body(status.0, session),
                )
                    .into_response()
            }
        }
    }
}

/// Headers a script may not add to a login's answer.
fn is_reserved(name: &HeaderName) -> bool {
    let n = name.as_str();
    n.starts_with("auth-")
        || n == "x-nauthilus-memory-cache"
        || n == header::CONTENT_TYPE
        || n == header::CONTENT_LENGTH
        || n == header::TRANSFER_ENCODING
        || n == header::CONNECTION
}

/// The failure text to send: the stage's `status_message` when it can be a header value, else
/// `default`.
fn status_text<'a>(outcome: &'a AuthOutcome, default: &'static str) -> (&'a str, HeaderValue) {
    outcome
        .status_message
        .as_deref()
        .and_then(|m| HeaderValue::from_str(m).ok().map(|v| (m, v)))
        .unwrap_or((default, HeaderValue::from_static(default)))
}

fn ok_text(mut headers: HeaderMap) -> Response {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    (StatusCode::OK, headers, "OK").into_response()
}

/// The JSON success body: the Nauthilus v1.12 fields (`ok`, `backend`: the numeric id) and the
/// documented ones (`passdb_backend`: `ldapPassDB`, ...; `webauth_userid_field`,
/// `display_name_field`), so clients of either work.
#[derive(Serialize)]
struct JsonSuccess<'a> {
    ok: bool,
    passdb_backend: &'static str,
    account_field: &'a str,
    totp_secret_field: &'a str,
    webauth_userid_field: &'a str,
    display_name_field: &'a str,
    backend: u8,
    attributes: &'a nauthilus_core::Attributes,
}

impl<'a> From<&'a UserData> for JsonSuccess<'a> {
    fn from(u: &'a UserData) -> Self {
        Self {
            ok: true,
            passdb_backend: u.backend.passdb_name(),
            account_field: &u.fields.account_field,
            totp_secret_field: &u.fields.totp_secret_field,
            webauth_userid_field: &u.fields.webauthn_userid_field,
            display_name_field: &u.fields.display_name_field,
            backend: u.backend.code(),
            attributes: &u.attributes,
        }
    }
}

/// `X-Nauthilus-<Attr>` per attribute: the name MIME-canonicalised (`displayName` →
/// `X-Nauthilus-Displayname`), values joined with `,` (`;` for `dn`). Attributes whose name or
/// value cannot be a header are left out.
fn add_attribute_headers(headers: &mut HeaderMap, user: &UserData) {
    for (name, values) in &user.attributes {
        let joined = values.join(if name == "dn" { ";" } else { "," });
        if joined.is_empty() {
            continue;
        }
        let header_name = format!("X-Nauthilus-{}", canonical(name));
        match (
            HeaderName::try_from(header_name.as_str()),
            HeaderValue::from_bytes(joined.as_bytes()),
        ) {
            (Ok(n), Ok(v)) => {
                headers.insert(n, v);
            }
            _ => tracing::debug!(attribute = %name, "attribute cannot be sent as a header; left out"),
        }
    }
}

/// MIME header canonical form: upper-case first letter and each letter after `-`, rest lower.
fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names_are_canonicalised_like_go() {
        assert_eq!(canonical("displayName"), "Displayname");
        assert_eq!(canonical("mail"), "Mail");
        assert_eq!(canonical("x-custom-attr"), "X-Custom-Attr");
        assert_eq!(canonical("dn"), "Dn");
    }
}
