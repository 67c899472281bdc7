//! Decoder of `/auth/json`: a JSON object (or an urlencoded form with the same field names).
//! Ports and counters may be strings or numbers; unknown fields are ignored; `service` is
//! accepted as an alias of `protocol`.

use axum::body::Bytes;
use axum::http::HeaderMap;
use nauthilus_core::{AuthMode, AuthRequest, Password, Protocol, Service, SessionId};
use serde::Deserialize;

use super::common::validate_username;
use crate::error::ApiError;

/// A string field that also accepts a JSON number (or null).
#[derive(Debug, Default)]
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

/// Takes a string as it is, a number or boolean as its JSON text, and null as empty; refuses
/// arrays and objects. (A visitor, not an untagged enum: no buffering of each value.)
struct TextVisitor;

impl<'de> serde::de::Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string, a number, a boolean or null")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
        Ok(Text(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text, E> {
        Ok(Text(v))
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Text, E> {
        // As serde_json prints the number (it parses only finite ones).
        Ok(Text(
            serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string()),
        ))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Text, E> {
        Ok(Text(String::new()))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Text, E> {
        Ok(Text(String::new()))
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Text, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

/// The fields of a JSON (or form) auth request.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct JsonRequest {
    username: Option<Text>,
    password: Text,
    client_ip: Text,
    client_port: Text,
    client_hostname: Text,
    client_id: Text,
    user_agent: Text,
    local_ip: Text,
    local_port: Text,
    protocol: Text,
    service: Text,
    method: Text,
    auth_login_attempt: Text,
    ssl: Text,
    ssl_session_id: Text,
    ssl_client_verify: Text,
    ssl_client_dn: Text,
    ssl_client_cn: Text,
    ssl_issuer: Text,
    ssl_client_notbefore: Text,
    ssl_client_notafter: Text,
    ssl_subject_dn: Text,
    ssl_issuer_dn: Text,
    ssl_client_subject_dn: Text,
    ssl_client_issuer_dn: Text,
    ssl_protocol: Text,
    ssl_cipher: Text,
    ssl_serial: Text,
    ssl_fingerprint: Text,
    oidc_cid: Text,
    // saslauthd form names
    realm: Text,
    port: Text,
    tls: Text,
    security: Text,
}

/// Body encodings the JSON and saslauthd endpoints take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Form,
}

/// The body format named by `Content-Type` (JSON when there is none).
pub fn body_format(headers: &HeaderMap) -> Result<BodyFormat, ApiError> {
    let Some(ct) = headers.get(axum::http::header::CONTENT_TYPE) else {
        return Ok(BodyFormat::Json);
    };
    let ct = ct
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    if ct.is_empty() || ct.eq_ignore_ascii_case("application/json") {
        Ok(BodyFormat::Json)
    } else if ct.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(BodyFormat::Form)
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "content type {:?} is not supported; send application/json or application/x-www-form-urlencoded",
            ct.to_ascii_lowercase()
        )))
    }
}

/// Parses the body into fields.
pub fn parse(body: &Bytes, format: BodyFormat) -> Result<JsonRequest, ApiError> {
    if std::str::from_utf8(body).is_err() {
        return Err(ApiError::BadRequest("request body is not valid UTF-8".into()));
    }
    match format {
        BodyFormat::Json => {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Err(ApiError::BadRequest(
                    "request body is empty; expected a JSON object".into(),
                ));
            }
            // Only an object: serde would otherwise read `[1, 2]` as a positional struct.
            // Decoded straight into the fields, without an intermediate `Value`.
            if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
                return Err(ApiError::BadRequest(
                    "invalid JSON: expected an object {\"username\": ...}".into(),
                ));
            }
            serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))
        }
        BodyFormat::Form => {
            serde_urlencoded_form(body).map_err(|e| ApiError::BadRequest(format!("invalid form body: {e}")))
        }
    }
}

fn serde_urlencoded_form(body: &Bytes) -> Result<JsonRequest, String> {
    // A form is a flat string map; reuse the JSON field definitions through a JSON object.
    let mut map = serde_json::Map::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let mut it = pair.splitn(2, |b| *b == b'=');
        let name = form_decode(it.next().unwrap_or_default())?;
        let value = form_decode(it.next().unwrap_or_default())?;
        map.insert(name, serde_json::Value::String(value));
    }
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| e.to_string())
}

fn form_decode(raw: &[u8]) -> Result<String, String> {
    let spaced: Vec<u8> = raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    String::from_utf8(percent_encoding::percent_decode(&spaced).collect())
        .map_err(|_| "a field is not valid UTF-8".to_owned())
}

impl JsonRequest {
    /// The `AuthRequest`; `saslauthd` joins `realm` to the user name (`user@realm`).
    pub fn into_request(
        self,
        session: SessionId,
        service: Service,
        mode: AuthMode,
    ) -> Result<AuthRequest, ApiError> {
        let Some(Text(mut username)) = self.username else {
            return Err(ApiError::BadRequest("username is required".into()));
        };
        if service == Service::Saslauthd && !self.realm.0.is_empty() {
            username = format!("{username}@{}", self.realm.0);
        }
        validate_username(&username)?;
        if mode == AuthMode::Authenticate && self.password.0.is_empty() {
            return Err(ApiError::BadRequest("password is required".into()));
        }
        let mut req = AuthRequest::new(
            session,
            service,
            username,
            Password::new(self.password.0.into_bytes()),
        );
        req.mode = mode;
        let protocol = if self.protocol.0.is_empty() {
            self.service.0
        } else {
            self.protocol.0
        };
        req.protocol = Protocol::new(&protocol);
        req.method = self.method.0;
        req.login_attempt = match self.auth_login_attempt.0.trim() {
            "" => 0,
            n => n
                .parse()
                .map_err(|_| ApiError::BadRequest(format!("auth_login_attempt {n:?} is not a number")))?,
        };
        req.client.ip = self.client_ip.0;
        req.client.port = self.client_port.0;
        req.client.hostname = self.client_hostname.0;
        req.client.id = self.client_id.0;
        req.client.user_agent = self.user_agent.0;
        req.local.ip = self.local_ip.0;
        req.local.port = if self.local_port.0.is_empty() {
            self.port.0
        } else {
            self.local_port.0
        };
        req.oidc_cid = self.oidc_cid.0;
        let t = &mut req.tls;
        t.ssl = if self.ssl.0.is_empty() {
            self.tls.0
        } else {
            self.ssl.0
        };
        t.session_id = self.ssl_session_id.0;
        t.client_verify = self.ssl_client_verify.0;
        t.client_dn = self.ssl_client_dn.0;
        t.client_cn = self.ssl_client_cn.0;
        t.issuer = self.ssl_issuer.0;
        t.client_not_before = self.ssl_client_notbefore.0;
        t.client_not_after = self.ssl_client_notafter.0;
        t.subject_dn = self.ssl_subject_dn.0;
        t.issuer_dn = self.ssl_issuer_dn.0;
        t.client_subject_dn = self.ssl_client_subject_dn.0;
        t.client_issuer_dn = self.ssl_client_issuer_dn.0;
        t.protocol = if self.ssl_protocol.0.is_empty() {
            self.security.0
        } else {
            self.ssl_protocol.0
        };
        t.cipher = self.ssl_cipher.0;
        t.serial = self.ssl_serial.0;
        t.fingerprint = self.ssl_fingerprint.0;
        if service == Service::Saslauthd && req.local.ip.is_empty() {
            req.local.ip = "127.0.0.1".into();
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn session() -> SessionId {
        SessionId::new(SystemTime::now())
    }

    #[test]
    fn numbers_and_strings_both_work() {
        let body = Bytes::from_static(br#"{"username":"a","password":"p","client_port":4711,"local_port":"143","service":"IMAP","auth_login_attempt":2}"#);
        let r = parse(&body, BodyFormat::Json)
            .unwrap()
            .into_request(session(), Service::Json, AuthMode::Authenticate)
            .unwrap();
        assert_eq!(r.client.port, "4711");
        assert_eq!(r.local.port, "143");
        assert_eq!(r.protocol.as_str(), "imap");
        assert_eq!(r.login_attempt, 2);
    }

    #[test]
    fn booleans_floats_and_nulls_become_their_text() {
        let body = Bytes::from_static(
            br#"{"username":"a","password":"p","ssl":true,"client_port":1.5,"client_id":null,"local_port":-3}"#,
        );
        let r = parse(&body, BodyFormat::Json)
            .unwrap()
            .into_request(session(), Service::Json, AuthMode::Authenticate)
            .unwrap();
        assert_eq!(r.tls.ssl, "true");
        assert_eq!(r.client.port, "1.5");
        assert_eq!(r.client.id, "");
        assert_eq!(r.local.port, "-3");
    }

    #[test]
    fn saslauthd_forms_join_the_realm() {
        let body =
            Bytes::from_static(b"username=bob&realm=example.test&password=p%26w+x&protocol=imap&tls=yes");
        let r = parse(&body, BodyFormat::Form)
            .unwrap()
            .into_request(session(), Service::Saslauthd, AuthMode::Authenticate)
            .unwrap();
        assert_eq!(r.username, "bob@example.test");
        assert_eq!(r.password.expose(), b"p&w x");
        assert!(r.tls.is_tls());
        assert_eq!(r.local.ip, "127.0.0.1");
    }

    #[test]
    fn bad_bodies_are_clear_errors() {
        assert!(parse(&Bytes::from_static(b"{"), BodyFormat::Json).is_err());
        assert!(parse(&Bytes::from_static(b""), BodyFormat::Json).is_err());
        assert!(parse(&Bytes::from_static(b"\xff\xfe"), BodyFormat::Json).is_err());
        assert!(parse(&Bytes::from_static(br#"{"username":["a"]}"#), BodyFormat::Json).is_err());
        assert!(parse(&Bytes::from_static(b"[1,2]"), BodyFormat::Json).is_err());
        assert!(parse(&Bytes::from_static(b" \"a\""), BodyFormat::Json).is_err());
        assert!(parse(&Bytes::from_static(br#"{"username":"a"} x"#), BodyFormat::Json).is_err());
        assert!(parse(&Bytes::from_static(br#"{"username":{"a":1}}"#), BodyFormat::Json).is_err());
        let missing = parse(&Bytes::from_static(br#"{"password":"x"}"#), BodyFormat::Json).unwrap();
        assert!(
            missing
                .into_request(session(), Service::Json, AuthMode::Authenticate)
                .is_err()
        );
    }
}
