//! Decoder of the header-based endpoints (`/auth/header`, `/auth/nginx`): login fields come in
//! request headers whose names are configurable (`server.default_http_request_header`), with the
//! names nginx's `auth_http` uses read as fallbacks.

use axum::http::HeaderMap;
use nauthilus_config::RequestHeaders;
use nauthilus_core::{AuthMode, AuthRequest, Password, Protocol, Service, SessionId};

use super::common::{base64_password, percent_decoded, utf8, validate_username};
use crate::error::ApiError;

/// Header names read when the configured one is absent (nginx mail `auth_http`, older docs).
const ALIAS_PASSWORD_ENCODED: &[&str] = &["Auth-Password-Encoded"];
const ALIAS_CLIENT_HOST: &[&str] = &["Client-Host"];
const ALIAS_SSL: &[&str] = &["Auth-SSL"];
const ALIAS_SSL_VERIFY: &[&str] = &["Auth-SSL-Verify"];
const ALIAS_SSL_SUBJECT: &[&str] = &["Auth-SSL-Subject"];
const ALIAS_SSL_ISSUER: &[&str] = &["Auth-SSL-Issuer"];
const ALIAS_SSL_CIPHER: &[&str] = &["Auth-SSL-Cipher"];
const ALIAS_SSL_PROTOCOL: &[&str] = &["Auth-SSL-Protocol"];

/// Reads one header (configured name first, then aliases) as raw bytes.
fn raw<'a>(headers: &'a HeaderMap, name: &str, aliases: &[&str]) -> Option<&'a [u8]> {
    std::iter::once(name)
        .chain(aliases.iter().copied())
        .filter(|n| !n.is_empty())
        .find_map(|n| headers.get(n))
        .map(|v| v.as_bytes())
}

/// A text field: percent-decoded, UTF-8, empty when absent.
fn text(headers: &HeaderMap, name: &str, aliases: &[&str], field: &str) -> Result<String, ApiError> {
    match raw(headers, name, aliases) {
        None => Ok(String::new()),
        Some(bytes) => utf8(percent_decoded(bytes), field),
    }
}

/// Builds the request from headers.
pub fn decode(
    headers: &HeaderMap,
    names: &RequestHeaders,
    session: SessionId,
    service: Service,
    mode: AuthMode,
) -> Result<AuthRequest, ApiError> {
    let username = text(headers, &names.username, &[], "username header")?;
    validate_username(&username)?;
    let mut password = raw(headers, &names.password, &[])
        .map(percent_decoded)
        .unwrap_or_default();
    let encoded = raw(headers, &names.password_encoded, ALIAS_PASSWORD_ENCODED);
    if encoded.is_some_and(|v| v == b"1") {
        password = base64_password(&password)?;
    }
    if mode == AuthMode::Authenticate && password.is_empty() {
        return Err(ApiError::BadRequest("password is required".into()));
    }
    let mut req = AuthRequest::new(session, service, username, Password::new(password));
    req.mode = mode;
    req.protocol = Protocol::new(&text(headers, &names.protocol, &[], "protocol header")?);
    req.method = text(headers, &names.auth_method, &[], "method header")?;
    let attempt = text(headers, &names.login_attempt, &[], "login attempt header")?;
    req.login_attempt = if attempt.is_empty() {
        0
    } else {
        attempt
            .trim()
            .parse()
            .map_err(|_| ApiError::BadRequest(format!("login attempt {attempt:?} is not a number")))?
    };
    let c = &mut req.client;
    c.ip = text(headers, &names.client_ip, &[], "client IP header")?;
    c.port = text(headers, &names.client_port, &[], "client port header")?;
    c.hostname = text(
        headers,
        &names.client_host,
        ALIAS_CLIENT_HOST,
        "client host header",
    )?;
    c.id = text(headers, &names.client_id, &[], "client id header")?;
    c.user_agent = text(headers, "User-Agent", &[], "User-Agent")?;
    req.local.ip = text(headers, &names.local_ip, &[], "local IP header")?;
    req.local.port = text(headers, &names.local_port, &[], "local port header")?;
    req.oidc_cid = text(headers, &names.oidc_cid, &[], "OIDC client id header")?;
    let t = &mut req.tls;
    t.ssl = text(headers, &names.ssl, ALIAS_SSL, "TLS header")?;
    t.session_id = text(headers, &names.ssl_session_id, &[], "TLS session header")?;
    t.client_verify = text(headers, &names.ssl_verify, ALIAS_SSL_VERIFY, "TLS verify header")?;
    t.client_dn = text(
        headers,
        &names.ssl_subject,
        ALIAS_SSL_SUBJECT,
        "TLS subject header",
    )?;
    t.client_cn = text(headers, &names.ssl_client_cn, &[], "TLS CN header")?;
    t.issuer = text(headers, &names.ssl_issuer, ALIAS_SSL_ISSUER, "TLS issuer header")?;
    t.client_not_before = text(
        headers,
        &names.ssl_client_not_before,
        &[],
        "TLS not-before header",
    )?;
    t.client_not_after = text(headers, &names.ssl_client_not_after, &[], "TLS not-after header")?;
    t.subject_dn = text(headers, &names.ssl_subject_dn, &[], "TLS subject DN header")?;
    t.issuer_dn = text(headers, &names.ssl_issuer_dn, &[], "TLS issuer DN header")?;
    t.client_subject_dn = text(
        headers,
        &names.ssl_client_subject_dn,
        &[],
        "TLS client subject DN header",
    )?;
    t.client_issuer_dn = text(
        headers,
        &names.ssl_client_issuer_dn,
        &[],
        "TLS client issuer DN header",
    )?;
    t.cipher = text(headers, &names.ssl_cipher, ALIAS_SSL_CIPHER, "TLS cipher header")?;
    t.protocol = text(
        headers,
        &names.ssl_protocol,
        ALIAS_SSL_PROTOCOL,
        "TLS protocol header",
    )?;
    t.serial = text(headers, &names.ssl_serial, &[], "TLS serial header")?;
    t.fingerprint = text(headers, &names.ssl_fingerprint, &[], "TLS fingerprint header")?;
    Ok(req)
}
