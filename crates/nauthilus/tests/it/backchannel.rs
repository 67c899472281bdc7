//! Backchannel protection over real HTTP: open, HTTP Basic and JWT (token, refresh, expiry,
//! reuse, roles) on every admin endpoint and on `mode=list-accounts`; refresh tokens in a real
//! Redis shared by two instances; the token endpoint under brute-force protection.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use nauthilus_testkit::{Reply, shared_redis};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{TestServer, assert_error, header};

const BASIC_USER: &str = "ops";
const BASIC_PASSWORD: &str = "basic-password-0123456789";
const KEY: &str = "backchannel-test-key-0123456789abcdef";
const ALICE: &str = "alice@example.test";

const BASIC: &str = "basic_auth:\n  enabled: true\n  username: ops\n  password: basic-password-0123456789\n";

/// JWT users, one per role (and one with only a custom role).
const JWT_USERS: &str = "  users:
    - {username: root, password: root-password, roles: [admin]}
    - {username: sec, password: sec-password, roles: [security]}
    - {username: lister, password: lister-password, roles: [list_accounts]}
    - {username: authn, password: authn-password, roles: [authenticate]}
    - {username: info, password: info-password, roles: [user_info]}
    - {username: custom, password: custom-password, roles: [monitoring]}
";

fn jwt_yaml(refresh: bool, users: &str, extra: &str) -> String {
    format!(
        "jwt_auth:\n  enabled: true\n  secret_key: {KEY}\n  token_expiry: 10m\n  refresh_token: {refresh}\n  refresh_token_expiry: 1h\n{users}{extra}"
    )
}

/// Brute-force protection for the token endpoint tests (the peer is 127.0.0.1).
const RULES: &str = "brute_force:\n  buckets:\n    - {name: b32, period: 1h, cidr: 32, ipv4: true, failed_requests: 3, ban_time: 1h}\n";

/// What a request needs: an admin endpoint or an auth endpoint in some mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Admin,
    ListAccounts,
    Login,
    NoAuth,
}

/// One request of the matrix: method, path, body, kind.
struct Call {
    method: Method,
    path: &'static str,
    body: Option<Value>,
    kind: Kind,
}

fn calls() -> Vec<Call> {
    let call = |method: Method, path, body, kind| Call {
        method,
        path,
        body,
        kind,
    };
    vec![
        call(
            Method::DELETE,
            "/api/v1/cache/flush",
            Some(json!({"user": ALICE})),
            Kind::Admin,
        ),
        call(Method::GET, "/api/v1/bruteforce/list", None, Kind::Admin),
        call(
            Method::POST,
            "/api/v1/bruteforce/list",
            Some(json!({"ip_addresses": [], "accounts": []})),
            Kind::Admin,
        ),
        call(
            Method::DELETE,
            "/api/v1/bruteforce/flush",
            Some(json!({"ip_address": "192.0.2.1", "rule_name": "*"})),
            Kind::Admin,
        ),
        call(
            Method::GET,
            "/api/v1/auth/json?mode=list-accounts",
            None,
            Kind::ListAccounts,
        ),
        call(
            Method::GET,
            "/api/v1/auth/header?mode=list-accounts",
            None,
            Kind::ListAccounts,
        ),
        call(
            Method::GET,
            "/api/v1/auth/nginx?mode=list-accounts",
            None,
            Kind::ListAccounts,
        ),
        call(
            Method::POST,
            "/api/v1/auth/json",
            Some(json!({"username": ALICE, "password": "alice-secret", "client_ip": "198.51.100.7"})),
            Kind::Login,
        ),
        call(
            Method::POST,
            "/api/v1/auth/json?mode=no-auth",
            Some(json!({"username": ALICE, "client_ip": "198.51.100.7"})),
            Kind::NoAuth,
        ),
    ]
}

async fn send(s: &TestServer, c: &Call, authorization: Option<&str>) -> Response {
    let mut req = s.http.request(c.method.clone(), s.url(c.path));
    if let Some(body) = &c.body {
        req = req.json(body);
    }
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    req.send().await.unwrap()
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn challenges(r: &Response) -> Vec<String> {
    r.headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// Asserts a 401 with the JSON error and guid, and returns its challenges.
async fn assert_401(r: Response) -> Vec<String> {
    let c = challenges(&r);
    assert!(!c.is_empty(), "a 401 carries WWW-Authenticate");
    assert_error(r, 401).await;
    c
}

async fn assert_ok(r: Response, what: &str) {
    assert_eq!(r.status().as_u16(), 200, "{what}: {:?}", r.text().await);
}

async fn server(server_extra: &str, top_extra: &str) -> TestServer {
    TestServer::with_config(
        &format!("features: [brute_force]\n{server_extra}"),
        &format!("{RULES}{top_extra}"),
    )
    .await
}

async fn token_request(s: &TestServer, user: &str, password: &str) -> Response {
    s.http
        .post(s.url("/api/v1/jwt/token"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap()
}

/// `(access token, refresh token)` for a user who must get one.
async fn tokens(s: &TestServer, user: &str, password: &str) -> (String, Option<String>) {
    let r = token_request(s, user, password).await;
    assert_eq!(r.status().as_u16(), 200, "token for {user}");
    assert_eq!(header(&r, "cache-control"), "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(
        body["token"], body["access_token"],
        "Nauthilus' name of the same token"
    );
    let exp = body["expires_at"].as_u64().unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert!(exp > now && exp <= now + 601, "expires_at {exp}");
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().map(str::to_owned),
    )
}

async fn refresh(s: &TestServer, refresh_token: &str) -> Response {
    s.http
        .post(s.url("/api/v1/jwt/refresh"))
        .json(&json!({"refresh_token": refresh_token}))
        .send()
        .await
        .unwrap()
}

/// A token signed with `key`, for `roles`, expiring at `exp`.
fn forged(key: &str, roles: &[&str], exp: u64) -> String {
    let claims = json!({"username": "root", "sub": "root", "iss": "nauthilus", "roles": roles, "iat": exp.saturating_sub(7200), "nbf": exp.saturating_sub(7200), "exp": exp});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn unprotected_serves_every_endpoint_without_credentials() {
    let s = server("", "").await;
    for c in calls() {
        assert_ok(send(&s, &c, None).await, c.path).await;
    }
    // Token endpoints answer 404 while JWT is off.
    assert_error(token_request(&s, "root", "root-password").await, 404).await;
}

#[tokio::test]
async fn basic_auth_guards_every_admin_endpoint_and_list_accounts() {
    let s = server(BASIC, "").await;
    let right = basic(BASIC_USER, BASIC_PASSWORD);
    for c in calls() {
        let chal = assert_401(send(&s, &c, None).await).await;
        assert_eq!(
            chal,
            ["Basic realm=\"restricted\", charset=\"UTF-8\""],
            "{}",
            c.path
        );
        assert_401(send(&s, &c, Some(&basic(BASIC_USER, "wrong-password-0123456789"))).await).await;
        assert_401(send(&s, &c, Some(&basic("someone", BASIC_PASSWORD))).await).await;
        // JWT is off: a bearer token is no credential here.
        assert_401(
            send(
                &s,
                &c,
                Some(&format!("Bearer {}", forged(KEY, &["admin"], unix_now() + 600))),
            )
            .await,
        )
        .await;
        assert_ok(send(&s, &c, Some(&right)).await, c.path).await;
    }
    // /ping stays outside.
    assert_ok(s.get_with("/ping", &[]).await, "/ping").await;
    // /auth/basic checks its own Authorization header (the login), as Nauthilus does...
    assert_ok(
        s.get_with(
            "/api/v1/auth/basic",
            &[("authorization", &basic(ALICE, "alice-secret"))],
        )
        .await,
        "/auth/basic login",
    )
    .await;
    // ...but cannot list accounts with it.
    assert_401(
        s.get_with(
            "/api/v1/auth/basic?mode=list-accounts",
            &[("authorization", &basic(ALICE, "alice-secret"))],
        )
        .await,
    )
    .await;
}

#[tokio::test]
async fn jwt_roles_decide_every_admin_endpoint_and_mode() {
    let s = server(&jwt_yaml(false, JWT_USERS, ""), "").await;
    let mut by_user = Vec::new();
    for (user, allowed) in [
        (
            "root",
            &[Kind::Admin, Kind::ListAccounts, Kind::Login, Kind::NoAuth][..],
        ),
        ("sec", &[Kind::Admin][..]),
        ("lister", &[Kind::ListAccounts][..]),
        ("authn", &[Kind::Login][..]),
        ("info", &[Kind::NoAuth][..]),
        ("custom", &[][..]),
    ] {
        let (token, refresh_token) = tokens(&s, user, &format!("{user}-password")).await;
        assert_eq!(refresh_token, None, "refresh tokens are off");
        by_user.push((user, allowed, token));
    }
    for c in calls() {
        let chal = assert_401(send(&s, &c, None).await).await;
        assert_eq!(chal, ["Bearer realm=\"nauthilus\""], "{}", c.path);
        // Basic is off: the Basic credentials are no credential here.
        assert_401(send(&s, &c, Some(&basic(BASIC_USER, BASIC_PASSWORD))).await).await;
        for (user, allowed, token) in &by_user {
            let r = send(&s, &c, Some(&format!("Bearer {token}"))).await;
            if allowed.contains(&c.kind) {
                assert_ok(r, &format!("{user} {}", c.path)).await;
            } else {
                let message = assert_error(r, 403).await;
                assert!(
                    message.starts_with("missing required role"),
                    "{user} {}: {message}",
                    c.path
                );
            }
        }
        // An expired token, one signed with another key, one with `alg: none`, garbage.
        let expired = forged(KEY, &["admin"], unix_now() - 3600);
        let foreign = forged("some-other-key-some-other-key-0123", &["admin"], unix_now() + 600);
        let payload = expired.split('.').nth(1).unwrap().to_owned();
        let unsigned = format!(
            "{}.{payload}.",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
        );
        for bad in [expired, foreign, unsigned, "garbage".to_owned()] {
            let chal = assert_401(send(&s, &c, Some(&format!("Bearer {bad}"))).await).await;
            assert_eq!(chal, ["Bearer realm=\"nauthilus\", error=\"invalid_token\""]);
        }
    }
    // A token forged with the right key works: the key is the whole secret (so guard it).
    assert_ok(
        send(
            &s,
            &calls()[1],
            Some(&format!(
                "Bearer {}",
                forged(KEY, &["security"], unix_now() + 600)
            )),
        )
        .await,
        "forged with the key",
    )
    .await;
    assert_ok(s.get_with("/ping", &[]).await, "/ping").await;
}

#[tokio::test]
async fn the_token_endpoint_refuses_wrong_credentials_and_bad_requests() {
    let s = server(&jwt_yaml(true, JWT_USERS, ""), "").await;
    let r = token_request(&s, "root", "wrong-password").await;
    assert_eq!(challenges(&r), ["Bearer realm=\"nauthilus\""]);
    assert_eq!(assert_error(r, 401).await, "authentication failed");
    assert_error(token_request(&s, "nobody", "root-password").await, 401).await;
    // Backend users do not get tokens while `users` are configured (as Nauthilus).
    assert_error(token_request(&s, ALICE, "alice-secret").await, 401).await;
    let r = s
        .http
        .post(s.url("/api/v1/jwt/token"))
        .body("{\"username\": \"root\", \"password\": 12345}")
        .send()
        .await
        .unwrap();
    let message = assert_error(r, 400).await;
    assert!(
        !message.contains("12345"),
        "the error never echoes the body: {message}"
    );
    assert_error(refresh(&s, "").await, 400).await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_work_once() {
    let s = server(&jwt_yaml(true, JWT_USERS, ""), "").await;
    let (_, first) = tokens(&s, "sec", "sec-password").await;
    let first = first.expect("refresh tokens are on");
    let r = refresh(&s, &first).await;
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();
    let second = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    // The new access token carries the user's roles.
    let list = &calls()[1];
    assert_ok(
        send(&s, list, Some(&format!("Bearer {access}"))).await,
        "refreshed token",
    )
    .await;
    // The used refresh token is gone.
    let r = refresh(&s, &first).await;
    assert_eq!(assert_error(r, 401).await, "invalid refresh token");
    assert_error(refresh(&s, "made-up-token").await, 401).await;
    // Nauthilus sends it as X-Refresh-Token.
    let r = s
        .http
        .post(s.url("/api/v1/jwt/refresh"))
        .header("x-refresh-token", &second)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_error(refresh(&s, &second).await, 401).await;
}

#[tokio::test]
async fn a_reload_that_drops_a_user_ends_its_refresh_and_can_turn_protection_on() {
    let s = server(&jwt_yaml(true, JWT_USERS, ""), "").await;
    let (_, refresh_token) = tokens(&s, "sec", "sec-password").await;
    let others = "  users:\n    - {username: root, password: root-password, roles: [admin]}\n";
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [cache, passwd_file]\n  features: [brute_force]\n{}passwd_file:\n  path: {}\n{RULES}",
        indent(&jwt_yaml(true, others, "")),
        s.dir.path().join("users.passwd").display()
    );
    let config = nauthilus_config::load_str(&yaml, s.dir.path(), Vec::new())
        .unwrap()
        .0;
    s.server.reload(&config).await.unwrap();
    assert_error(refresh(&s, &refresh_token.unwrap()).await, 401).await;

    // From open to Basic by reload.
    let s = server("", "").await;
    assert_ok(send(&s, &calls()[1], None).await, "open").await;
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [cache, passwd_file]\n{}passwd_file:\n  path: {}\n",
        indent(BASIC),
        s.dir.path().join("users.passwd").display()
    );
    let config = nauthilus_config::load_str(&yaml, s.dir.path(), Vec::new())
        .unwrap()
        .0;
    s.server.reload(&config).await.unwrap();
    assert_401(send(&s, &calls()[1], None).await).await;
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

#[tokio::test]
async fn with_both_schemes_either_credential_works() {
    let s = server(&format!("{BASIC}{}", jwt_yaml(false, JWT_USERS, "")), "").await;
    let (token, _) = tokens(&s, "sec", "sec-password").await;
    for c in calls() {
        let chal = assert_401(send(&s, &c, None).await).await;
        assert_eq!(chal.len(), 2, "one challenge per scheme: {chal:?}");
        assert_ok(
            send(&s, &c, Some(&basic(BASIC_USER, BASIC_PASSWORD))).await,
            c.path,
        )
        .await;
        let r = send(&s, &c, Some(&format!("Bearer {token}"))).await;
        assert_eq!(
            r.status().as_u16(),
            if c.kind == Kind::Admin { 200 } else { 403 },
            "{}",
            c.path
        );
    }
}

#[tokio::test]
async fn without_users_the_backends_authenticate_token_requests() {
    let s = server(&jwt_yaml(true, "", ""), "").await;
    assert_error(token_request(&s, ALICE, "wrong").await, 401).await;
    let (token, refresh_token) = tokens(&s, ALICE, "alice-secret").await;
    // As Nauthilus: backend users get `list_accounts` when a backend lists accounts, nothing else.
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["roles"], json!(["list_accounts"]));
    assert_eq!(claims["username"], ALICE);
    assert_eq!(claims["iss"], "nauthilus");
    for c in calls() {
        let r = send(&s, &c, Some(&format!("Bearer {token}"))).await;
        let expected = if c.kind == Kind::ListAccounts { 200 } else { 403 };
        assert_eq!(r.status().as_u16(), expected, "{}", c.path);
    }
    // The refresh keeps the roles issued.
    let r = refresh(&s, &refresh_token.unwrap()).await;
    let body: Value = r.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    assert_ok(
        send(&s, &calls()[4], Some(&format!("Bearer {token}"))).await,
        "list after refresh",
    )
    .await;
}

#[tokio::test]
async fn token_requests_count_as_failed_logins_for_brute_force() {
    for users in [JWT_USERS, ""] {
        let s = server(&jwt_yaml(false, users, ""), "").await;
        let (user, password) = if users.is_empty() {
            (ALICE, "alice-secret")
        } else {
            ("root", "root-password")
        };
        for i in 0..3 {
            assert_error(token_request(&s, user, &format!("wrong-{i}")).await, 401).await;
        }
        // 127.0.0.1/32 is banned now: the right password is refused without being checked.
        let message = assert_error(token_request(&s, user, password).await, 403).await;
        assert!(message.contains("too many failed logins"), "{message}");
        // The ban is the ordinary one: it is listed and flushed by the admin API.
        let r = s
            .http
            .delete(s.url("/api/v1/bruteforce/flush"))
            .header(
                "authorization",
                format!("Bearer {}", forged(KEY, &["security"], unix_now() + 600)),
            )
            .json(&json!({"ip_address": "127.0.0.1", "rule_name": "*"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        tokens(&s, user, password).await;
    }
}

#[tokio::test]
async fn disabled_endpoint_hides_the_token_endpoints() {
    let s = server(
        &format!(
            "{}disabled_endpoints: {{auth_jwt: true}}\n",
            jwt_yaml(true, JWT_USERS, "")
        ),
        "",
    )
    .await;
    assert_error(token_request(&s, "root", "root-password").await, 404).await;
    assert_error(refresh(&s, "x").await, 404).await;
    // Refresh is 404 while refresh tokens are off.
    let s = server(&jwt_yaml(false, JWT_USERS, ""), "").await;
    assert_error(refresh(&s, "x").await, 404).await;
}

fn redis_jwt(prefix: &str) -> String {
    let redis = shared_redis().unwrap();
    format!(
        "redis:\n  master: {{address: \"{}\"}}\n  prefix: \"{prefix}\"\n  password_nonce: it-nonce-0123456789abcdef\n{}",
        redis.addr(),
        jwt_yaml(true, JWT_USERS, "  store_in_redis: true\n")
    )
}

#[tokio::test]
async fn refresh_tokens_in_redis_are_hashed_shared_single_use_and_revocable() {
    let prefix = "bc-refresh:";
    let redis = shared_redis().unwrap();
    let a = server(&redis_jwt(prefix), "").await;
    let b = server(&redis_jwt(prefix), "").await;
    let (_, refresh_token) = tokens(&a, "sec", "sec-password").await;
    let refresh_token = refresh_token.unwrap();
    let key = format!(
        "{prefix}jwt:refresh:{}",
        hex::encode(Sha256::digest(refresh_token.as_bytes()))
    );
    // Only the digest is stored, with the refresh lifetime as TTL.
    let Reply::Bulk(value) = redis.command(&["GET", &key]).unwrap() else {
        panic!("refresh token not in Redis under {key}")
    };
    let value = String::from_utf8(value).unwrap();
    assert!(!value.contains(&refresh_token), "{value}");
    let Reply::Integer(ttl) = redis.command(&["TTL", &key]).unwrap() else {
        panic!()
    };
    assert!((3500..=3600).contains(&ttl), "ttl {ttl}");
    // Instance B honours A's token, once.
    let r = refresh(&b, &refresh_token).await;
    assert_eq!(r.status().as_u16(), 200);
    let next: Value = r.json().await.unwrap();
    assert_error(refresh(&a, &refresh_token).await, 401).await;
    // Revoked by deleting its key: refused everywhere.
    let next = next["refresh_token"].as_str().unwrap();
    let next_key = format!(
        "{prefix}jwt:refresh:{}",
        hex::encode(Sha256::digest(next.as_bytes()))
    );
    assert!(matches!(
        redis.command(&["DEL", &next_key]).unwrap(),
        Reply::Integer(1)
    ));
    assert_error(refresh(&a, next).await, 401).await;
    // Without store_in_redis, tokens stay in the issuing process.
    let local = jwt_yaml(true, JWT_USERS, "");
    let redis_store = format!(
        "redis:\n  master: {{address: \"{}\"}}\n  prefix: \"bc-local:\"\n  password_nonce: it-nonce-0123456789abcdef\n{local}",
        redis.addr()
    );
    let a = server(&redis_store, "").await;
    let b = server(&redis_store, "").await;
    let (_, t) = tokens(&a, "sec", "sec-password").await;
    let t = t.unwrap();
    assert_error(refresh(&b, &t).await, 401).await;
    assert_eq!(refresh(&a, &t).await.status().as_u16(), 200);
}

/// Two custom hooks: `open` without roles and `ops` for the `monitoring` role.
fn hooks_yaml() -> String {
    let hook = crate::support::fixtures().join("lua").join("hello_hook.lua");
    format!(
        "lua:\n  custom_hooks:\n    - {{http_location: open, http_method: GET, script_path: '{h}'}}\n    - {{http_location: ops, http_method: GET, script_path: '{h}', roles: [monitoring]}}\n",
        h = hook.display()
    )
}

async fn hook(s: &TestServer, location: &str, authorization: Option<&str>) -> Response {
    let mut req = s.http.get(s.url(&format!("/api/v1/custom/{location}")));
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    req.send().await.unwrap()
}

// Regression: custom hooks answered without the backchannel credentials.
#[tokio::test]
async fn custom_hooks_need_the_backchannel_credentials_and_their_roles() {
    let s = server(BASIC, &hooks_yaml()).await;
    assert_401(hook(&s, "open", None).await).await;
    assert_401(hook(&s, "ops", Some(&basic(BASIC_USER, "wrong-password-0123456789"))).await).await;
    // Basic credentials carry no roles and allow everything, as in Nauthilus.
    assert_ok(
        hook(&s, "ops", Some(&basic(BASIC_USER, BASIC_PASSWORD))).await,
        "basic",
    )
    .await;
    assert_eq!(
        hook(&s, "nowhere", Some(&basic(BASIC_USER, BASIC_PASSWORD)))
            .await
            .status(),
        404
    );

    let s = server(&jwt_yaml(false, JWT_USERS, ""), &hooks_yaml()).await;
    assert_401(hook(&s, "open", None).await).await;
    let token = |user: &'static str| {
        let s = &s;
        async move { format!("Bearer {}", tokens(s, user, &format!("{user}-password")).await.0) }
    };
    let (custom, authn, root, sec) = (
        token("custom").await,
        token("authn").await,
        token("root").await,
        token("sec").await,
    );
    // A hook with roles: one of them or admin.
    assert_ok(hook(&s, "ops", Some(&custom)).await, "custom → ops").await;
    assert_ok(hook(&s, "ops", Some(&root)).await, "root → ops").await;
    assert_error(hook(&s, "ops", Some(&authn)).await, 403).await;
    assert_error(hook(&s, "ops", Some(&sec)).await, 403).await;
    // A hook without roles: what a login needs.
    assert_ok(hook(&s, "open", Some(&authn)).await, "authn → open").await;
    assert_error(hook(&s, "open", Some(&custom)).await, 403).await;
    let body: Value = hook(&s, "open", Some(&root)).await.json().await.unwrap();
    assert_eq!(body, json!({"hello": "world"}));
}
