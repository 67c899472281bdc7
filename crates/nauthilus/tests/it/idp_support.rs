//! Fixtures of the identity provider tests: a server with `idp` enabled on a known port (the
//! issuer names it), a browser session made through the public seams, and a relying party's
//! view of tokens (JWKS from the server, signatures verified with jsonwebtoken).

use std::collections::HashMap;

use base64::Engine;
use jsonwebtoken::{DecodingKey, Validation};
use nauthilus_idp::BrowserSession;
use serde_json::Value;

use crate::support::{TestServer, fixtures};

pub const SECRET: &str = "demo-secret";
pub const REDIRECT: &str = "http://127.0.0.1:9095/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A free loopback port (bound and released; the server binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server with the IdP on; `store_yaml` is extra YAML under `server:` (Redis), `extra_client`
/// YAML list items appended to `idp.clients`.
pub async fn idp_server(store_yaml: &str, extra_clients: &str) -> (TestServer, reqwest::Client) {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("users.passwd"),
        std::fs::read_to_string(fixtures().join("users.passwd")).unwrap(),
    )
    .unwrap();
    let yaml = format!(
        r#"server:
  address: 127.0.0.1:{port}
  backends: [passwd_file]
  log: {{level: warn}}
{store_yaml}
passwd_file:
  path: users.passwd
idp:
  enabled: true
  issuer: http://127.0.0.1:{port}
  key_algorithms: [ES256, RS256, EdDSA]
  session: {{secure_cookie: false}}
  claim_mapping: {{name: displayName}}
  consent: {{mode: skip}}
  clients:
    - client_id: demo-app
      client_secret: {SECRET}
      redirect_uris: ["{REDIRECT}"]
      post_logout_redirect_uris: ["http://127.0.0.1:9095/bye"]
      grant_types: [authorization_code, refresh_token, client_credentials, "urn:ietf:params:oauth:grant-type:device_code"]
      scopes: [openid, profile, email, offline_access, api]
    - client_id: demo-spa
      redirect_uris: ["{REDIRECT}"]
      grant_types: [authorization_code, refresh_token]
      scopes: [openid, profile, email, offline_access]
      id_token_signed_response_alg: EdDSA
{extra_clients}
"#
    );
    let server = TestServer::from_yaml(dir, &yaml).await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (server, browser)
}

/// Logs alice in through the seams the login page uses; returns the session and its cookie.
pub async fn login(s: &TestServer, client_id: &str) -> (BrowserSession, String) {
    let idp = s.server.idp.as_ref().expect("idp enabled").current();
    let now = std::time::SystemTime::now();
    let guid = nauthilus_core::SessionId::new(now);
    let user = match idp
        .authenticate_password(
            "alice@example.test",
            "alice-secret",
            client_id,
            "127.0.0.1",
            guid,
            now,
        )
        .await
    {
        nauthilus_idp::LoginResult::Ok(user) => user,
        other => panic!("login failed: {other:?}"),
    };
    let (session, set_cookie) = idp.create_session(&user, vec!["pwd".into()], now).await.unwrap();
    let cookie = set_cookie.to_str().unwrap().split(';').next().unwrap().to_owned();
    (session, cookie)
}

/// The query of a redirect's `Location`.
pub fn location_query(r: &reqwest::Response) -> (String, HashMap<String, String>) {
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let url = url::Url::parse(&location)
        .or_else(|_| url::Url::parse(&format!("http://x{location}")))
        .unwrap();
    let q = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    (location, q)
}

/// Basic credentials of demo-app.
pub fn basic(client: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{client}:{secret}"))
    )
}

/// POSTs a form to `path` with optional Basic credentials; returns status and JSON body.
pub async fn post_form(
    s: &TestServer,
    path: &str,
    auth: Option<&str>,
    form: &[(&str, &str)],
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = s.http.post(s.url(path)).form(form);
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    )
}

/// Verifies `token` as a relying party would: key from the server's JWKS by `kid`, signature,
/// issuer, audience, expiry. Returns the claims.
pub async fn verify_jwt(s: &TestServer, token: &str, audience: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet = s
        .http
        .get(s.url("/oidc/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid in JWKS");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut v = Validation::new(header.alg);
    v.set_audience(&[audience]);
    v.set_issuer(&[s.server.url()]);
    jsonwebtoken::decode::<Value>(token, &key, &v).unwrap().claims
}

/// `at_hash` of `access_token` for `alg` (OIDC Core §3.1.3.6), computed independently.
pub fn at_hash(alg: &str, access_token: &str) -> String {
    use sha2::Digest;
    let e = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    match alg {
        "EdDSA" => e(&sha2::Sha512::digest(access_token.as_bytes())[..32]),
        _ => e(&sha2::Sha256::digest(access_token.as_bytes())[..16]),
    }
}

/// `path` on the server with `params` in the query.
pub fn url_with(s: &TestServer, path: &str, params: &[(&str, &str)]) -> String {
    url::Url::parse_with_params(&s.url(path), params)
        .unwrap()
        .to_string()
}
