#![allow(clippy::disallowed_methods)]
//! Property-based fuzzing of the request codecs and of the router over a real pipeline.
//!
//! Properties:
//! - no decoder panics, whatever the body or headers;
//! - a decoded request carries exactly the password that was sent (JSON, form/saslauthd,
//!   header/nginx with and without percent- and base64-encoding, HTTP Basic);
//! - over the real router (a pipeline over a passwd-file with one known user): no request is
//!   ever accepted (`Auth-Status: OK`) unless it sent that user's name and password, the right
//!   ones are accepted, and every non-2xx answer is a JSON error whose `guid` is the session in
//!   `X-Nauthilus-Session`.
//!
//! Case counts are kept small enough for CI (the whole file runs in a few seconds).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use base64::Engine;
use nauthilus_backends::passwd_file::PasswdFile;
use nauthilus_backends::password::PasswordVerifier;
use nauthilus_config::{Config, RequestHeaders};
use nauthilus_core::{AuthMode, Backend, Pipeline, PipelineParts, Service, SessionId};
use nauthilus_http::AppState;
use nauthilus_http::codec::{basic, headers_in, json};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;
use tower::ServiceExt;

const USER: &str = "alice@example.test";
const PASSWORD: &str = "alice-secret";
/// alice's entry (SSHA256, cheap to verify) and carol, who has no password and must never log in.
const PASSWD: &str = "alice@example.test:{SSHA256}R5jGdFZfOruhMlcRnrzDes1/d929GI05XMMyRDVVthjCR8w9:1000:1000:Alice Example:/home/alice::mail=alice@example.test\ncarol@example.test::1002:1002\n";

fn session() -> SessionId {
    SessionId::new(SystemTime::now())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 1024,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any text, weighted towards the characters codecs treat specially.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[%+&=:;\\\\\"'(){}\\[\\] \t\r\n\0a-z0-9]{0,24}",
        Just(String::new()),
    ]
}

/// A password that may or may not be alice's, including near misses.
fn password() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(PASSWORD.to_owned()),
        1 => Just("alice-secre".to_owned()),
        1 => Just("alice-secret ".to_owned()),
        1 => Just("Alice-secret".to_owned()),
        1 => Just("alice-secret\0".to_owned()),
        1 => Just("alice%2Dsecret".to_owned()),
        4 => text(),
    ]
}

/// A login name: alice, carol (no password), unknown users or junk.
fn username() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(USER.to_owned()),
        1 => Just("carol@example.test".to_owned()),
        1 => Just("nobody@example.test".to_owned()),
        1 => Just("alice@example.test ".to_owned()),
        1 => "[a-z]{1,8}@example\\.test",
        1 => text(),
    ]
}

fn form_encode(value: &str) -> String {
    utf8_percent_encode(value, NON_ALPHANUMERIC).to_string()
}

fn header_value(bytes: &[u8]) -> Option<HeaderValue> {
    HeaderValue::from_bytes(bytes).ok()
}

// ---------------------------------------------------------------------------------------------
// Codecs: no panic, and the password that was sent is the password that comes out.

proptest! {
    #![proptest_config(config())]

    #[test]
    fn json_and_form_parsers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let body = Bytes::from(body);
        for format in [json::BodyFormat::Json, json::BodyFormat::Form] {
            if let Ok(fields) = json::parse(&body, format) {
                for service in [Service::Json, Service::Saslauthd] {
                    let _ = json::parse(&body, format)
                        .map(|f| f.into_request(session(), service, AuthMode::Authenticate));
                }
                let _ = fields.into_request(session(), Service::Json, AuthMode::NoAuth);
            }
        }
    }

    #[test]
    fn json_carries_the_password_that_was_sent(
        user in "[a-z0-9.@_-]{1,20}",
        password in ".{1,40}",
        extra in proptest::collection::btree_map("[a-z_]{1,12}", text(), 0..4),
    ) {
        let mut object = serde_json::Map::new();
        for (name, value) in extra {
            object.insert(name, serde_json::Value::String(value));
        }
        object.insert("username".into(), user.clone().into());
        object.insert("password".into(), password.clone().into());
        let body = Bytes::from(serde_json::to_vec(&object).unwrap());
        // Extra fields may be invalid (a non-numeric `auth_login_attempt`): then it is an error.
        if let Ok(req) = json::parse(&body, json::BodyFormat::Json)
            .and_then(|f| f.into_request(session(), Service::Json, AuthMode::Authenticate))
        {
            prop_assert_eq!(req.password.expose(), password.as_bytes());
            prop_assert_eq!(req.username, user);
        }
    }

    #[test]
    fn form_carries_the_password_that_was_sent(
        user in "[a-z0-9.@_-]{1,20}",
        password in ".{1,40}",
        plus_for_space in any::<bool>(),
    ) {
        let mut encoded = form_encode(&password);
        if plus_for_space {
            encoded = encoded.replace("%20", "+");
        }
        let body = Bytes::from(format!("username={}&password={encoded}&protocol=imap", form_encode(&user)));
        let req = json::parse(&body, json::BodyFormat::Form)
            .and_then(|f| f.into_request(session(), Service::Saslauthd, AuthMode::Authenticate))
            .unwrap();
        prop_assert_eq!(req.password.expose(), password.as_bytes());
        prop_assert_eq!(req.username, user);
    }

    #[test]
    fn header_decoder_never_panics(
        headers in proptest::collection::vec(
            (prop_oneof![
                Just("Auth-User".to_owned()),
                Just("Auth-Pass".to_owned()),
                Just("X-Auth-Password-Encoded".to_owned()),
                Just("Auth-Password-Encoded".to_owned()),
                Just("Auth-Login-Attempt".to_owned()),
                Just("Client-IP".to_owned()),
                Just("Auth-SSL".to_owned()),
                "[a-z][a-z-]{0,12}",
            ], proptest::collection::vec(any::<u8>(), 0..40)),
            0..8,
        ),
    ) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            if let (Ok(name), Some(value)) = (HeaderName::try_from(name), header_value(&value)) {
                map.append(name, value);
            }
        }
        let names = RequestHeaders::default();
        for service in [Service::Header, Service::Nginx] {
            for mode in [AuthMode::Authenticate, AuthMode::NoAuth] {
                let _ = headers_in::decode(&map, &names, session(), service, mode);
            }
        }
    }

    #[test]
    fn headers_carry_the_password_that_was_sent(
        password in proptest::collection::vec(any::<u8>(), 1..40),
        encoding in 0..3u8,
    ) {
        // 0: raw (only bytes a header can carry, no `%`), 1: percent-encoded, 2: base64.
        let (value, encoded_flag) = match encoding {
            0 => (password.clone(), false),
            1 => (percent_encoding::percent_encode(&password, NON_ALPHANUMERIC).to_string().into_bytes(), false),
            _ => (base64::engine::general_purpose::STANDARD.encode(&password).into_bytes(), true),
        };
        let Some(value) = header_value(&value) else {
            // A raw password with bytes a header cannot hold (CR, LF, NUL...) cannot be sent.
            return Ok(());
        };
        if encoding == 0 && password.contains(&b'%') {
            // Raw `%` is read as percent-encoding: nginx escapes it, so this is not sent raw.
            return Ok(());
        }
        let mut map = HeaderMap::new();
        map.insert("auth-user", HeaderValue::from_static(USER));
        map.insert("auth-pass", value);
        if encoded_flag {
            map.insert("x-auth-password-encoded", HeaderValue::from_static("1"));
        }
        let names = RequestHeaders::default();
        for service in [Service::Header, Service::Nginx] {
            let req = headers_in::decode(&map, &names, session(), service, AuthMode::Authenticate).unwrap();
            prop_assert_eq!(req.password.expose(), password.as_slice());
        }
    }

    #[test]
    fn basic_decoder_never_panics(value in proptest::collection::vec(any::<u8>(), 0..80)) {
        let mut map = HeaderMap::new();
        if let Some(value) = header_value(&value) {
            map.insert("authorization", value);
        }
        let _ = basic::decode(&map, session(), None);
    }

    #[test]
    fn basic_carries_the_password_that_was_sent(
        user in "[a-z0-9.@_-]{1,20}",
        password in proptest::collection::vec(any::<u8>(), 1..40),
        scheme in prop_oneof![Just("Basic"), Just("basic"), Just("BASIC")],
    ) {
        let mut credentials = user.clone().into_bytes();
        credentials.push(b':');
        credentials.extend_from_slice(&password);
        let value = format!("{scheme} {}", base64::engine::general_purpose::STANDARD.encode(&credentials));
        let mut map = HeaderMap::new();
        map.insert("authorization", HeaderValue::from_str(&value).unwrap());
        let req = basic::decode(&map, session(), None).unwrap();
        prop_assert_eq!(req.password.expose(), password.as_slice());
        prop_assert_eq!(req.username, user);
    }
}

// ---------------------------------------------------------------------------------------------
// The router over a real pipeline.

/// The router over a pipeline with a passwd-file backend holding alice (and carol).
fn app() -> &'static Router {
    static APP: OnceLock<(Router, tempfile::TempDir)> = OnceLock::new();
    &APP.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.passwd");
        std::fs::write(&path, PASSWD).unwrap();
        let file = Arc::new(PasswdFile::open(&path).unwrap());
        let mut parts = PipelineParts::new(PasswordVerifier::new(1));
        parts.backends = vec![Backend::PasswdFile(file)];
        let pipeline = Pipeline::new(parts);
        let state = AppState::new(pipeline, &Config::default());
        (nauthilus_http::router(state), dir)
    })
    .0
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// The auth endpoints and how each takes a login.
#[derive(Clone, Copy, Debug)]
enum Endpoint {
    Json,
    Form,
    Saslauthd,
    Header,
    Nginx,
    Basic,
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    prop_oneof![
        Just(Endpoint::Json),
        Just(Endpoint::Form),
        Just(Endpoint::Saslauthd),
        Just(Endpoint::Header),
        Just(Endpoint::Nginx),
        Just(Endpoint::Basic),
    ]
}

/// Extra headers a client might send, minus the ones carrying the login.
fn extra_headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    proptest::collection::vec(
        (
            prop_oneof![
                Just("Auth-Protocol".to_owned()),
                Just("Auth-Login-Attempt".to_owned()),
                Just("Client-IP".to_owned()),
                Just("X-Client-Port".to_owned()),
                Just("X-SSL".to_owned()),
                Just("User-Agent".to_owned()),
                Just("Accept".to_owned()),
                "x-[a-z]{1,10}",
            ],
            proptest::collection::vec(any::<u8>(), 0..24),
        ),
        0..4,
    )
}

/// A request that sends `user`/`password` the way `endpoint` expects them.
fn login_request(
    endpoint: Endpoint,
    user: &str,
    password: &str,
    extra: &[(String, Vec<u8>)],
) -> Request<Body> {
    let mut builder = match endpoint {
        Endpoint::Json => Request::post("/api/v1/auth/json").header("content-type", "application/json"),
        Endpoint::Form => {
            Request::post("/api/v1/auth/json").header("content-type", "application/x-www-form-urlencoded")
        }
        Endpoint::Saslauthd => Request::post("/api/v1/auth/saslauthd")
            .header("content-type", "application/x-www-form-urlencoded"),
        Endpoint::Header => Request::get("/api/v1/auth/header"),
        Endpoint::Nginx => Request::get("/api/v1/auth/nginx").header("auth-protocol", "imap"),
        Endpoint::Basic => Request::get("/api/v1/auth/basic"),
    };
    for (name, value) in extra {
        if let (Ok(name), Some(value)) = (HeaderName::try_from(name.as_str()), header_value(value)) {
            builder = builder.header(name, value);
        }
    }
    let body = match endpoint {
        Endpoint::Json => serde_json::to_vec(&serde_json::json!({
            "username": user, "password": password, "client_ip": "192.0.2.1", "protocol": "imap"
        }))
        .unwrap(),
        Endpoint::Form | Endpoint::Saslauthd => format!(
            "username={}&password={}&protocol=imap",
            form_encode(user),
            form_encode(password)
        )
        .into_bytes(),
        Endpoint::Header | Endpoint::Nginx => {
            builder = builder
                .header("auth-user", form_encode(user))
                .header("auth-pass", form_encode(password));
            Vec::new()
        }
        Endpoint::Basic => {
            let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            builder = builder.header("authorization", format!("Basic {credentials}"));
            Vec::new()
        }
    };
    builder.body(Body::from(body)).unwrap()
}

/// What the router answered, with the checks every answer must pass already done.
struct Answer {
    accepted: bool,
    status: StatusCode,
}

async fn send(request: Request<Body>) -> Answer {
    let response = app().clone().oneshot(request).await.unwrap();
    let status = response.status();
    let accepted = response
        .headers()
        .get("auth-status")
        .is_some_and(|v| v.as_bytes() == b"OK");
    let session = response
        .headers()
        .get("x-nauthilus-session")
        .expect("every response carries X-Nauthilus-Session")
        .to_str()
        .unwrap()
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    if !status.is_success() {
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "{status}: body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&body)
            )
        });
        assert_eq!(json["guid"], session.as_str(), "{status}: {json}");
        assert!(json["error"].is_string(), "{status}: {json}");
    }
    if accepted {
        assert_eq!(status, StatusCode::OK, "accepted with {status}");
    }
    Answer { accepted, status }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..config() })]

    /// Well-formed logins: accepted exactly when they carry alice's name and password.
    #[test]
    fn router_accepts_only_the_right_password(
        endpoint in endpoint(),
        user in username(),
        password in password(),
        extra in extra_headers(),
    ) {
        let right = user == USER && password == PASSWORD;
        let answer = runtime().block_on(send(login_request(endpoint, &user, &password, &extra)));
        prop_assert!(!answer.accepted || right, "{endpoint:?} accepted {user:?} / {password:?}");
        if right && extra.is_empty() {
            prop_assert!(answer.accepted, "{endpoint:?} refused alice: {}", answer.status);
        }
    }

    /// Arbitrary bodies and headers on every auth route: never an accepted login, every error a
    /// JSON body with the session.
    #[test]
    fn router_survives_arbitrary_requests(
        route in prop_oneof![
            Just((Method::POST, "/api/v1/auth/json")),
            Just((Method::GET, "/api/v1/auth/json")),
            Just((Method::POST, "/api/v1/auth/saslauthd")),
            Just((Method::GET, "/api/v1/auth/header")),
            Just((Method::POST, "/api/v1/auth/header")),
            Just((Method::GET, "/api/v1/auth/nginx")),
            Just((Method::GET, "/api/v1/auth/basic")),
        ],
        query in prop_oneof![Just(String::new()), Just("?mode=no-auth".to_owned()), Just("?mode=list-accounts".to_owned()), "\\?[a-z=&%0-9]{0,16}"],
        content_type in prop_oneof![
            Just(None),
            Just(Some("application/json".to_owned())),
            Just(Some("application/x-www-form-urlencoded".to_owned())),
            Just(Some("text/plain".to_owned())),
            "[ -~]{0,30}".prop_map(Some),
        ],
        headers in proptest::collection::vec(
            (prop_oneof![
                Just("auth-user".to_owned()),
                Just("auth-pass".to_owned()),
                Just("x-auth-password-encoded".to_owned()),
                Just("authorization".to_owned()),
                Just("auth-login-attempt".to_owned()),
                Just("accept".to_owned()),
                "x-[a-z]{1,10}",
            ], proptest::collection::vec(any::<u8>(), 0..40)),
            0..5,
        ),
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..200),
            text().prop_map(String::into_bytes),
            (text(), text()).prop_map(|(u, p)| format!("{{\"username\":{u:?},\"password\":{p:?}}}").into_bytes()),
        ],
    ) {
        let (method, path) = route;
        let uri = format!("{path}{query}");
        let mut builder = Request::builder().method(method).uri(uri.as_str());
        if let Some(content_type) = content_type.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
            builder = builder.header("content-type", content_type);
        }
        let mut sent = body.clone();
        for (name, value) in &headers {
            if let (Ok(name), Some(value)) = (HeaderName::try_from(name.as_str()), header_value(value)) {
                sent.extend_from_slice(value.as_bytes());
                builder = builder.header(name, value);
            }
        }
        let Ok(request) = builder.body(Body::from(body)) else {
            return Ok(());
        };
        let answer = runtime().block_on(send(request));
        // Random bytes never spell alice's password (and no-auth mode never logs in).
        let could_be_right = sent.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes());
        prop_assert!(!answer.accepted || (could_be_right && !query.contains("mode")), "accepted {uri}");
    }
}
