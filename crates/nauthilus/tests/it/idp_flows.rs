//! The identity provider end to end over real HTTP: authorization code with PKCE, refresh
//! rotation and reuse, client credentials, introspection, revocation, the device flow, and
//! RP-initiated logout with a back-channel logout token received on loopback; on the Memory
//! store and on a real Redis (testkit).

use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::idp_support::*;
use crate::support::TestServer;

/// Runs the code flow for `client` and returns the token response.
async fn code_flow(s: &TestServer, browser: &reqwest::Client, client: &str, auth: Option<&str>) -> Value {
    let (_, cookie) = login(s, client).await;
    let r = browser
        .get(url_with(
            s,
            "/oidc/authorize",
            &[
                ("response_type", "code"),
                ("client_id", client),
                ("redirect_uri", REDIRECT),
                ("scope", "openid profile email offline_access"),
                ("state", "st&ate"),
                ("nonce", "n-0S6"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ],
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (location, q) = location_query(&r);
    assert!(location.starts_with(REDIRECT), "{location}");
    assert!(q.contains_key("code"), "{location}");
    assert_eq!(q["state"], "st&ate");
    assert_eq!(q["iss"], s.server.url(), "RFC 9207 iss");
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", q["code"].as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    if auth.is_none() {
        form.push(("client_id", client));
    }
    let (status, body, headers) = post_form(s, "/oidc/token", auth, &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    // Replaying the code fails, and revokes what it issued.
    let (status, err, _) = post_form(s, "/oidc/token", auth, &form).await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")));
    body
}

async fn introspect(s: &TestServer, token: &str) -> Value {
    post_form(
        s,
        "/oidc/introspect",
        Some(&basic("demo-app", SECRET)),
        &[("token", token)],
    )
    .await
    .1
}

async fn code_pkce_and_refresh(s: &TestServer, browser: &reqwest::Client) {
    let auth = basic("demo-app", SECRET);
    let tokens = code_flow(s, browser, "demo-app", Some(&auth)).await;
    let access = tokens["access_token"].as_str().unwrap();
    let claims = verify_jwt(s, tokens["id_token"].as_str().unwrap(), "demo-app").await;
    assert_eq!(claims["sub"], "alice@example.test");
    assert_eq!(claims["nonce"], "n-0S6");
    assert_eq!(claims["email"], "alice@example.test");
    assert_eq!(claims["name"], "Alice");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert!(claims["auth_time"].as_u64().unwrap() > 0);
    assert!(claims["sid"].is_string());
    assert_eq!(claims["at_hash"], at_hash("ES256", access));
    // The replay above revoked the tokens of the code.
    assert_eq!(introspect(s, access).await["active"], false);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, _, _) = post_form(
        s,
        "/oidc/token",
        Some(&auth),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(status, 400, "the replay revoked the refresh family too");

    // A fresh grant: refresh rotates, userinfo answers, reuse revokes the family.
    let (_, cookie) = login(s, "demo-app").await;
    let r = browser
        .get(url_with(
            s,
            "/oidc/authorize",
            &[
                ("response_type", "code"),
                ("client_id", "demo-app"),
                ("redirect_uri", REDIRECT),
                ("scope", "openid email offline_access"),
                ("code_challenge", CHALLENGE),
            ],
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let (_, q) = location_query(&r);
    let (status, tokens, _) = post_form(
        s,
        "/oidc/token",
        Some(&auth),
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let userinfo: Value = s
        .http
        .get(s.url("/oidc/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], "alice@example.test");
    assert_eq!(userinfo["email"], "alice@example.test");
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, rotated, _) = post_form(
        s,
        "/oidc/token",
        Some(&auth),
        &[("grant_type", "refresh_token"), ("refresh_token", &first_refresh)],
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let second_refresh = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first_refresh, second_refresh);
    let new_access = rotated["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(s, &new_access).await["active"], true);
    assert_eq!(
        introspect(s, tokens["access_token"].as_str().unwrap()).await["active"],
        false
    );
    // Reusing the rotated token revokes the family: the newest tokens die too.
    let (status, err, _) = post_form(
        s,
        "/oidc/token",
        Some(&auth),
        &[("grant_type", "refresh_token"), ("refresh_token", &first_refresh)],
    )
    .await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(introspect(s, &new_access).await["active"], false);
    let (status, _, _) = post_form(
        s,
        "/oidc/token",
        Some(&auth),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &second_refresh),
        ],
    )
    .await;
    assert_eq!(status, 400);
}

async fn public_client_with_pkce(s: &TestServer, browser: &reqwest::Client) {
    let tokens = code_flow(s, browser, "demo-spa", None).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(id_token).unwrap().alg,
        jsonwebtoken::Algorithm::EdDSA
    );
    let claims = verify_jwt(s, id_token, "demo-spa").await;
    assert_eq!(
        claims["at_hash"],
        at_hash("EdDSA", tokens["access_token"].as_str().unwrap())
    );
    // Without PKCE a public client is refused at the authorize endpoint.
    let (_, cookie) = login(s, "demo-spa").await;
    let r = browser
        .get(url_with(
            s,
            "/oidc/authorize",
            &[
                ("response_type", "code"),
                ("client_id", "demo-spa"),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                ("state", "x"),
            ],
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let (_, q) = location_query(&r);
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "x");
}

async fn client_credentials_introspection_revocation(s: &TestServer) {
    let auth = basic("demo-app", SECRET);
    let (status, body, _) = post_form(
        s,
        "/oidc/token",
        Some(&auth),
        &[("grant_type", "client_credentials"), ("scope", "api")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("id_token").is_none() && body.get("refresh_token").is_none());
    let token = body["access_token"].as_str().unwrap();
    let info = introspect(s, token).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], "demo-app");
    assert_eq!(info["scope"], "api");
    // client_secret_post is not demo-app's method; a wrong secret is 401 with a challenge.
    let (status, err, headers) = post_form(
        s,
        "/oidc/token",
        Some(&basic("demo-app", "wrong")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!((status, err["error"].as_str()), (401, Some("invalid_client")));
    assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    // A public client cannot introspect.
    let (status, _, _) = post_form(
        s,
        "/oidc/introspect",
        None,
        &[("client_id", "demo-spa"), ("token", token)],
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) = post_form(s, "/oidc/revoke", Some(&auth), &[("token", token)]).await;
    assert_eq!(status, 200);
    assert_eq!(introspect(s, token).await["active"], false);
    // Unknown tokens are revoked "successfully" (RFC 7009 §2.2).
    let (status, _, _) = post_form(s, "/oidc/revoke", Some(&auth), &[("token", "nope")]).await;
    assert_eq!(status, 200);
    let (status, err, _) = post_form(s, "/oidc/token", Some(&auth), &[("grant_type", "password")]).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
}

async fn device_flow(s: &TestServer) {
    let auth = basic("demo-app", SECRET);
    let (status, start, _) = post_form(s, "/oidc/device", Some(&auth), &[("scope", "openid email")]).await;
    assert_eq!(status, 200, "{start}");
    let device_code = start["device_code"].as_str().unwrap().to_owned();
    let user_code = start["user_code"].as_str().unwrap().to_owned();
    assert_eq!(start["verification_uri"], format!("{}/device", s.server.url()));
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device_code.as_str()),
    ];
    let (status, err, _) = post_form(s, "/oidc/token", Some(&auth), &poll).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    let (status, err, _) = post_form(s, "/oidc/token", Some(&auth), &poll).await;
    assert_eq!((status, err["error"].as_str()), (400, Some("slow_down")));
    let idp = s.server.idp.as_ref().unwrap().current();
    let (session, _) = login(s, "demo-app").await;
    let view = idp.device_view(&user_code.to_lowercase()).await.unwrap();
    assert_eq!(view.client_id, "demo-app");
    idp.device_decide(&user_code, &session, true, std::time::SystemTime::now())
        .await
        .unwrap();
    assert!(
        idp.device_view(&user_code).await.is_err(),
        "a user code works once"
    );
    // Approved: the next poll gets the tokens (the interval only paces pending polls).
    let (status, tokens, _) = post_form(s, "/oidc/token", Some(&auth), &poll).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = verify_jwt(s, tokens["id_token"].as_str().unwrap(), "demo-app").await;
    assert_eq!(claims["email"], "alice@example.test");
    let (status, err, _) = post_form(s, "/oidc/token", Some(&auth), &poll).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("expired_token")),
        "device code used once"
    );
}

async fn bad_requests_are_shown_not_redirected(s: &TestServer, browser: &reqwest::Client) {
    for (client, uri) in [
        ("demo-app", "http://127.0.0.1:9095/callback/"),
        ("demo-app", "http://evil.example/callback"),
        ("nobody", REDIRECT),
    ] {
        let r = browser
            .get(url_with(
                s,
                "/oidc/authorize",
                &[
                    ("response_type", "code"),
                    ("client_id", client),
                    ("redirect_uri", uri),
                    ("scope", "openid"),
                ],
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{client} {uri}");
        assert!(r.headers().get("location").is_none());
    }
    // Without a session the browser goes to the login page with the flow.
    let r = browser
        .get(url_with(
            s,
            "/oidc/authorize",
            &[
                ("response_type", "code"),
                ("client_id", "demo-app"),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
            ],
        ))
        .send()
        .await
        .unwrap();
    let (location, q) = location_query(&r);
    assert!(location.starts_with("/login?flow="), "{location}");
    // prompt=none without a session: login_required at the client.
    let r = browser
        .get(url_with(
            s,
            "/oidc/authorize",
            &[
                ("response_type", "code"),
                ("client_id", "demo-app"),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                ("prompt", "none"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(location_query(&r).1["error"], "login_required");
    // After logging in, the flow resumes to the client with a code.
    let idp = s.server.idp.as_ref().unwrap().current();
    let (session, _) = login(s, "demo-app").await;
    let redirect = idp
        .resume_authorization(&q["flow"], &session, std::time::SystemTime::now())
        .await
        .unwrap();
    assert!(
        redirect.location.starts_with(&format!("{REDIRECT}?code=")),
        "{}",
        redirect.location
    );
    // The flow was single use.
    assert!(
        idp.resume_authorization(&q["flow"], &session, std::time::SystemTime::now())
            .await
            .is_err()
    );
    // Wrong PKCE verifier.
    let (_, cookie) = login(s, "demo-app").await;
    let r = browser
        .get(url_with(
            s,
            "/oidc/authorize",
            &[
                ("response_type", "code"),
                ("client_id", "demo-app"),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                ("code_challenge", CHALLENGE),
            ],
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let code = location_query(&r).1["code"].clone();
    let (status, err, _) = post_form(
        s,
        "/oidc/token",
        Some(&basic("demo-app", SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "wrong-verifier-wrong-verifier-wrong-verifier-0"),
        ],
    )
    .await;
    assert_eq!((status, err["error"].as_str()), (400, Some("invalid_grant")));
    let discovery: Value = s
        .http
        .get(s.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], s.server.url());
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
}

/// A loopback server that records the back-channel logout tokens it receives.
async fn logout_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |body: String| {
            let sink = sink.clone();
            async move {
                let token = url::form_urlencoded::parse(body.as_bytes())
                    .find(|(k, _)| k == "logout_token")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                sink.lock().unwrap().push(token);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/backchannel"), received)
}

async fn rp_initiated_logout(s: &TestServer, browser: &reqwest::Client, received: &Arc<Mutex<Vec<String>>>) {
    let (session, cookie) = login(s, "bcl-app").await;
    let r = browser
        .get(url_with(
            s,
            "/oidc/authorize",
            &[
                ("response_type", "code"),
                ("client_id", "bcl-app"),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                ("code_challenge", CHALLENGE),
            ],
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let code = location_query(&r).1["code"].clone();
    let (_, tokens, _) = post_form(
        s,
        "/oidc/token",
        Some(&basic("bcl-app", SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    let id_token = tokens["id_token"].as_str().unwrap();
    // An unregistered post-logout URI is shown, never redirected to.
    let r = browser
        .get(url_with(
            s,
            "/oidc/logout",
            &[
                ("id_token_hint", id_token),
                ("post_logout_redirect_uri", "http://evil.example/"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = browser
        .get(url_with(
            s,
            "/oidc/logout",
            &[
                ("id_token_hint", id_token),
                ("post_logout_redirect_uri", "http://127.0.0.1:9095/bye"),
                ("state", "s1"),
            ],
        ))
        .send()
        .await
        .unwrap();
    let (location, q) = location_query(&r);
    assert!(location.starts_with("/logout?flow="), "{location}");
    let idp = s.server.idp.as_ref().unwrap().current();
    let (redirect, clear) = idp
        .logout(Some(&q["flow"]), Some(&session), std::time::SystemTime::now())
        .await
        .unwrap();
    assert_eq!(redirect.location, "http://127.0.0.1:9095/bye?state=s1");
    assert!(clear.unwrap().to_str().unwrap().contains("Max-Age=0"));
    assert!(idp.session(&session.id).await.unwrap().is_none(), "session ended");
    let tokens = received.lock().unwrap().clone();
    assert_eq!(tokens.len(), 1, "one back-channel logout token");
    let header = jsonwebtoken::decode_header(&tokens[0]).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let claims = verify_jwt(s, &tokens[0], "bcl-app").await;
    assert_eq!(claims["sub"], "alice@example.test");
    assert_eq!(claims["sid"], session.sid);
    assert!(claims.get("nonce").is_none());
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims["jti"].is_string());
}

async fn all_flows(store_yaml: &str) {
    let (uri, received) = logout_receiver().await;
    let bcl = format!(
        "    - client_id: bcl-app\n      client_secret: {SECRET}\n      redirect_uris: [\"{REDIRECT}\"]\n      post_logout_redirect_uris: [\"http://127.0.0.1:9095/bye\"]\n      backchannel_logout_uri: \"{uri}\"\n      scopes: [openid]\n"
    );
    let (s, browser) = idp_server(store_yaml, &bcl).await;
    code_pkce_and_refresh(&s, &browser).await;
    public_client_with_pkce(&s, &browser).await;
    client_credentials_introspection_revocation(&s).await;
    device_flow(&s).await;
    bad_requests_are_shown_not_redirected(&s, &browser).await;
    rp_initiated_logout(&s, &browser, &received).await;
}

#[tokio::test]
async fn idp_flows_on_the_memory_store() {
    all_flows("").await;
}

#[tokio::test]
async fn idp_flows_on_redis() {
    let redis = nauthilus_testkit::shared_redis().unwrap();
    all_flows(&format!(
        "  redis:\n    master: {{address: \"{}\"}}\n    prefix: \"it-idp:\"",
        redis.addr()
    ))
    .await;
}

#[tokio::test]
async fn the_example_idp_config_runs() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/idp.yml");
    let mut config = nauthilus_config::load_file(&path, Vec::new())
        .unwrap_or_else(|e| panic!("{:?}", e.errors))
        .config;
    let keys = tempfile::tempdir().unwrap();
    config.server.address = "127.0.0.1:0".into();
    config.idp.key_dir = keys.path().display().to_string();
    crate::support::crypto();
    let server = nauthilus::start(&config).await.unwrap();
    let http = reqwest::Client::new();
    let discovery: Value = http
        .get(format!("{}/.well-known/openid-configuration", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], "http://127.0.0.1:9080");
    let r = http
        .post(format!("{}/oidc/token", server.url()))
        .header("authorization", basic("demo-app", "demo-secret"))
        .form(&[("grant_type", "client_credentials"), ("scope", "quota")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let idp = server.idp.as_ref().unwrap().current();
    assert!(idp.clients.get("demo-spa").unwrap().is_public());
    assert_eq!(
        std::fs::read_dir(keys.path()).unwrap().count(),
        3,
        "one generated key per algorithm"
    );
}

/// The `openidconnect` crate as the relying party: discovery, authorization URL with PKCE and
/// nonce, code exchange, and its own checks of the ID token (signature by JWKS, issuer,
/// audience, nonce, at_hash), on `store_yaml`'s store.
async fn openidconnect_rp(store_yaml: &str) {
    use openidconnect::core::{
        CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    };
    use openidconnect::{
        AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
        OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    };
    let (s, browser) = idp_server(store_yaml, "").await;
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(s.server.url()).unwrap(), &http)
        .await
        .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("demo-app".into()),
        Some(ClientSecret::new(SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let (_, cookie) = login(&s, "demo-app").await;
    let r = browser
        .get(auth_url.as_str())
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let (_, q) = location_query(&r);
    assert_eq!(&q["state"], csrf.secret());
    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("id token");
    let id_verifier = client
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = id_token.claims(&id_verifier, &nonce).unwrap();
    assert_eq!(claims.subject().as_str(), "alice@example.test");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("alice@example.test"));
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
    // A wrong nonce is caught by the relying party.
    assert!(
        id_token
            .claims(&id_verifier, &Nonce::new("other".into()))
            .is_err()
    );
}

#[tokio::test]
async fn openidconnect_relying_party_on_the_memory_store() {
    openidconnect_rp("").await;
}

#[tokio::test]
async fn openidconnect_relying_party_on_redis() {
    let redis = nauthilus_testkit::shared_redis().unwrap();
    openidconnect_rp(&format!(
        "  redis:\n    master: {{address: \"{}\"}}\n    prefix: \"it-idp-rp:\"",
        redis.addr()
    ))
    .await;
}

/// RFC 8628 §3.5: every `slow_down` adds 5 s to the interval the device must keep, for the rest
/// of the device code's life (the polls carry their time; nothing sleeps).
#[tokio::test]
async fn a_device_polling_too_fast_must_wait_five_seconds_longer_after_each_slow_down() {
    use nauthilus_idp::oauth::{Params, grant_device};
    use std::time::Duration;
    let (s, _) = idp_server("", "").await;
    let (status, start, _) = post_form(
        &s,
        "/oidc/device",
        Some(&basic("demo-app", SECRET)),
        &[("scope", "openid")],
    )
    .await;
    assert_eq!(status, 200, "{start}");
    assert_eq!(start["interval"], 5);
    let idp = s.server.idp.as_ref().unwrap().current();
    let client = idp.clients.get("demo-app").unwrap().clone();
    let form = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code={}",
        start["device_code"].as_str().unwrap()
    );
    let params = Params::parse(form.as_bytes()).unwrap();
    let t0 = std::time::SystemTime::now();
    let mut answers = Vec::new();
    // (seconds after t0, the answer): 5 s interval, then 10, 15, 20 after three slow_downs.
    for at in [0, 1, 7, 21, 41, 61, 71, 96] {
        let answer = grant_device::exchange(&idp, &client, &params, t0 + Duration::from_secs(at))
            .await
            .unwrap_err();
        answers.push((at, answer.code.as_str()));
    }
    assert_eq!(
        answers,
        vec![
            (0, "authorization_pending"),
            (1, "slow_down"),              // 1 < 0 + 5: interval now 10
            (7, "slow_down"),              // 7 < 1 + 10: interval now 15
            (21, "slow_down"),             // 21 < 7 + 15: interval now 20
            (41, "authorization_pending"), // 41 = 21 + 20
            (61, "authorization_pending"), // the interval stays 20
            (71, "slow_down"),             // 71 < 61 + 20: interval now 25
            (96, "authorization_pending"), // 96 = 71 + 25
        ]
    );
}

/// Scheduled key rotation on two instances sharing Redis and the key directory, driven with the
/// time passed in: two days after the key was made both see it due at once, one makes the
/// successor, both then sign with it and publish both keys; a day later (the retention) the
/// old key is gone from both.
#[tokio::test]
async fn two_instances_on_one_redis_rotate_the_signing_key_once() {
    use crate::idp_attacks::{self as attacks, APP, Authorize, Browser, CALLBACK};
    use std::time::Duration;
    let redis = nauthilus_testkit::shared_redis().unwrap();
    let store = format!(
        "redis:\n  master: {{address: \"{}\"}}\n  prefix: \"it-idp-rotate-{}:\"\n  password_nonce: it-nonce-0123456789abcdef",
        redis.addr(),
        std::process::id()
    );
    let keys = tempfile::tempdir().unwrap();
    let dir = keys.path().to_str().unwrap();
    let idp_extra = "  key_rotation: 48h\n  key_retention: 24h";
    let a = attacks::idp_server(&store, idp_extra, dir).await;
    let b = attacks::idp_server(&store, idp_extra, dir).await;
    let kids = |s: &TestServer| {
        let set = s.server.idp.as_ref().unwrap().current().keys.jwks();
        let mut kids: Vec<String> = set.keys.iter().filter_map(|k| k.common.key_id.clone()).collect();
        kids.sort();
        kids
    };
    let first = kids(&a);
    assert_eq!(first.len(), 1);
    assert_eq!(kids(&b), first, "B found A's key");
    let (ia, ib) = (
        a.server.idp.as_ref().unwrap().current(),
        b.server.idp.as_ref().unwrap().current(),
    );
    let t0 = std::time::SystemTime::now();
    // Not due yet.
    assert!(!ia.rotate_keys(t0 + Duration::from_secs(3600)).await.unwrap());
    // Due on both at once.
    let at = t0 + Duration::from_secs(48 * 3600 + 60);
    let (ra, rb) = tokio::join!(ia.rotate_keys(at), ib.rotate_keys(at));
    ra.unwrap();
    rb.unwrap();
    // The next check (a minute later) brings the slower one up to date.
    let next = at + Duration::from_secs(60);
    ia.rotate_keys(next).await.unwrap();
    ib.rotate_keys(next).await.unwrap();
    assert_eq!(
        std::fs::read_dir(keys.path()).unwrap().count(),
        2,
        "one successor, not two"
    );
    let both = kids(&a);
    assert_eq!(both.len(), 2, "old and new published: {both:?}");
    assert!(both.contains(&first[0]));
    assert_eq!(kids(&b), both);
    // Both sign with the successor, and each verifies what the other signed.
    let new_kid = both.iter().find(|k| **k != first[0]).unwrap().clone();
    let mut browser = Browser::new();
    let req = Authorize::new(APP.0);
    let code = attacks::code_via(&mut browser, &a, &a, &req, attacks::ALICE).await;
    let (_, tokens, _) =
        attacks::exchange(&b, (APP.0, Some(APP.1)), &code, CALLBACK, Some(&req.verifier)).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(id_token).unwrap().kid.as_deref(),
        Some(new_kid.as_str())
    );
    // After the retention, the old key is withdrawn everywhere.
    let later = at + Duration::from_secs(24 * 3600 + 120);
    assert!(ia.rotate_keys(later).await.unwrap());
    assert!(ib.rotate_keys(later).await.unwrap());
    assert_eq!(kids(&a), vec![new_kid.clone()]);
    assert_eq!(kids(&b), vec![new_kid]);
}
