//! The IdP's pages in a real headless Chromium (testkit `Browser`): a relying party on loopback
//! (a small axum server in the test) starts a code + PKCE login, the user signs in on our
//! login page and lands on the RP's callback, which exchanges the code and reads userinfo. Also:
//! a wrong password, a banned network, the German page and the switch, consent (deny and
//! allow), logout, and — over plain HTTP — the security headers and the CSRF refusals.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine as _;
use nauthilus_testkit::{BrowserContext, shared_browser};
use serde_json::Value;
use sha2::Digest as _;

use crate::support::TestServer;

const ALICE: &str = "alice@example.test";
const SECRET: &str = "alice-secret";

/// The relying party: what it remembers between `/start` and `/callback`.
#[derive(Default)]
struct RpState {
    idp: String,
    me: String,
    client_id: String,
    secret: String,
    pending: Vec<(String, String)>,
}

/// A relying party on a free loopback port.
struct RelyingParty {
    url: String,
    state: Arc<Mutex<RpState>>,
}

impl RelyingParty {
    async fn start(client_id: &str, secret: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let url = format!("http://{addr}");
        let state = Arc::new(Mutex::new(RpState {
            me: url.clone(),
            client_id: client_id.into(),
            secret: secret.into(),
            ..RpState::default()
        }));
        let app = axum::Router::new()
            .route("/start", axum::routing::get(rp_start))
            .route("/callback", axum::routing::get(rp_callback))
            .route(
                "/logged-out",
                axum::routing::get(|| async { Html("<p id=\"result\">logged out at the RP</p>") }),
            )
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    fn callback(&self) -> String {
        format!("{}/callback", self.url)
    }
}

async fn rp_start(State(state): State<Arc<Mutex<RpState>>>) -> Response {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let verifier = format!("verifier-{n}-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGH");
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let rp_state = format!("state-{n}");
    let mut s = state.lock().unwrap();
    s.pending.push((rp_state.clone(), verifier));
    let query = [
        ("response_type", "code"),
        ("client_id", s.client_id.as_str()),
        ("redirect_uri", &format!("{}/callback", s.me)),
        ("scope", "openid profile email"),
        ("state", &rp_state),
        ("nonce", &format!("nonce-{n}")),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", urlencode(v)))
    .collect::<Vec<_>>()
    .join("&");
    Redirect::to(&format!("{}/oidc/authorize?{query}", s.idp)).into_response()
}

async fn rp_callback(
    State(state): State<Arc<Mutex<RpState>>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(error) = q.get("error") {
        return Html(format!("<p id=\"result\">error: {error}</p>")).into_response();
    }
    let (idp, me, client_id, secret, verifier) = {
        let mut s = state.lock().unwrap();
        let Some(pos) = s.pending.iter().position(|(st, _)| Some(st) == q.get("state")) else {
            return Html("<p id=\"result\">error: unknown state</p>").into_response();
        };
        let (_, verifier) = s.pending.remove(pos);
        (
            s.idp.clone(),
            s.me.clone(),
            s.client_id.clone(),
            s.secret.clone(),
            verifier,
        )
    };
    if q.get("iss") != Some(&idp) {
        return Html(format!("<p id=\"result\">error: iss {:?}</p>", q.get("iss"))).into_response();
    }
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{idp}/oidc/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q.get("code").map_or("", String::as_str)),
            ("redirect_uri", &format!("{me}/callback")),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let Some(access) = token["access_token"].as_str() else {
        return Html(format!("<p id=\"result\">error: token {token}</p>")).into_response();
    };
    assert!(token["id_token"].is_string(), "{token}");
    let info: Value = http
        .get(format!("{idp}/oidc/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Html(format!(
        "<p id=\"result\">signed in as {}</p>",
        info["sub"].as_str().unwrap_or("?")
    ))
    .into_response()
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A server with the IdP on a port known in advance (the issuer must name it), one
/// confidential client for `rp` with `consent` mode, and `extra` top-level YAML.
async fn idp_server(rp: &RelyingParty, consent: &str, server_extra: &str, extra: &str) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("users.passwd"),
        std::fs::read_to_string(crate::support::fixtures().join("users.passwd")).unwrap(),
    )
    .unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let issuer = format!("http://127.0.0.1:{port}");
    let cb = rp.callback();
    let rp_url = &rp.url;
    let yaml = [
        "server:".to_owned(),
        format!("  address: 127.0.0.1:{port}"),
        "  backends: [cache, passwd_file]".into(),
        "  log: {level: warn}".into(),
        server_extra.trim_end().to_owned(),
        "passwd_file:".into(),
        "  path: users.passwd".into(),
        "idp:".into(),
        "  enabled: true".into(),
        format!("  issuer: \"{issuer}\""),
        "  key_dir: keys".into(),
        "  session: {secure_cookie: false}".into(),
        "  clients:".into(),
        "    - name: Demo App".into(),
        "      client_id: demo-app".into(),
        "      client_secret: demo-secret".into(),
        format!("      redirect_uris: [\"{cb}\"]"),
        format!("      post_logout_redirect_uris: [\"{rp_url}/logged-out\"]"),
        "      scopes: [openid, profile, email]".into(),
        format!("      consent: {consent}"),
        "      grant_types: [authorization_code, refresh_token, \"urn:ietf:params:oauth:grant-type:device_code\"]".into(),
        extra.to_owned(),
    ]
    .join("\n");
    let server = TestServer::from_yaml(dir, &yaml).await;
    rp.state.lock().unwrap().idp = issuer;
    server
}

async fn context(locale: &str) -> BrowserContext {
    shared_browser().unwrap().context(locale).await.unwrap()
}

/// Logs in on the login page the browser is on; returns where the form submit ended.
async fn sign_in(page: &BrowserContext, user: &str, password: &str) -> nauthilus_testkit::Navigation {
    page.fill("#username", user).await.unwrap();
    page.fill("#password", password).await.unwrap();
    page.click("#submit").await.unwrap()
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or(String::new(), |i| rest[i..].to_owned())
}

/// Writes a screenshot into docs/images when `NAUTHILUS_SCREENSHOTS` is set (the docs' images
/// are made this way; normal runs leave the tree alone).
async fn screenshot(page: &BrowserContext, name: &str) {
    if std::env::var_os("NAUTHILUS_SCREENSHOTS").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/images")
            .join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        page.screenshot(&path).await.unwrap();
    }
}

#[tokio::test]
async fn code_flow_with_pkce_goes_from_the_relying_party_through_login_to_its_callback() {
    let rp = RelyingParty::start("demo-app", "demo-secret").await;
    let _server = idp_server(&rp, "skip", "", "").await;
    let page = context("en-US").await;
    let nav = page.goto(&format!("{}/start", rp.url)).await.unwrap();
    assert_eq!(nav.status, 200);
    assert!(path_of(&nav.url).starts_with("/login?flow="), "{}", nav.url);
    assert_eq!(page.attr("html", "lang").await.unwrap().as_deref(), Some("en"));
    assert_eq!(page.text(".lead strong").await.unwrap(), "Demo App");
    assert_eq!(
        page.attr("#username", "autocomplete").await.unwrap().as_deref(),
        Some("username")
    );
    assert_eq!(page.focused().await.unwrap().as_deref(), Some("username"));
    screenshot(&page, "idp-login.png").await;

    let done = sign_in(&page, ALICE, SECRET).await;
    assert!(done.url.starts_with(&rp.callback()), "{}", done.url);
    assert_eq!(
        page.text("#result").await.unwrap(),
        format!("signed in as {ALICE}")
    );

    let cookies = page.cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|c| c["name"] == "nauthilus_session")
        .expect("session cookie");
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Lax");
    let csrf = cookies
        .iter()
        .find(|c| c["name"] == "nauthilus_csrf")
        .expect("csrf cookie");
    assert_eq!(csrf["httpOnly"], true);

    // A second login at the RP rides on the session: no form, straight back with a code.
    let again = page.goto(&format!("{}/start", rp.url)).await.unwrap();
    assert!(again.url.starts_with(&rp.callback()), "{}", again.url);
    assert_eq!(
        page.text("#result").await.unwrap(),
        format!("signed in as {ALICE}")
    );
    page.close().await.unwrap();
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again_with_an_error_and_the_username_kept() {
    let rp = RelyingParty::start("demo-app", "demo-secret").await;
    let _server = idp_server(&rp, "skip", "", "").await;
    let page = context("en-US").await;
    page.goto(&format!("{}/start", rp.url)).await.unwrap();
    let nav = sign_in(&page, ALICE, "wrong-password").await;
    assert_eq!(nav.status, 403);
    assert_eq!(path_of(&nav.url), "/login/post");
    assert_eq!(
        page.text("#login-error").await.unwrap(),
        "The username or password is wrong."
    );
    assert_eq!(
        page.attr("#username", "value").await.unwrap().as_deref(),
        Some(ALICE)
    );
    assert_eq!(page.attr("#password", "value").await.unwrap(), None);
    // The same form still works.
    let done = sign_in(&page, ALICE, SECRET).await;
    assert!(done.url.starts_with(&rp.callback()), "{}", done.url);
    assert_eq!(
        page.text("#result").await.unwrap(),
        format!("signed in as {ALICE}")
    );
    page.close().await.unwrap();
}

#[tokio::test]
async fn a_banned_network_gets_the_ban_page_even_with_the_right_password() {
    let rp = RelyingParty::start("demo-app", "demo-secret").await;
    let rules = "brute_force:\n  buckets:\n    - {name: web, period: 1h, cidr: 32, ipv4: true, failed_requests: 3, ban_time: 1h}\n";
    let _server = idp_server(&rp, "skip", "  features: [brute_force]\n", rules).await;
    let page = context("en-US").await;
    page.goto(&format!("{}/start", rp.url)).await.unwrap();
    let mut last = None;
    for i in 0..6 {
        let nav = sign_in(&page, ALICE, &format!("wrong-{i}")).await;
        if nav.status == 429 {
            last = Some(nav);
            break;
        }
        assert_eq!(nav.status, 403);
    }
    let banned = last.expect("a ban after repeated failures");
    assert_eq!(path_of(&banned.url), "/login/post");
    assert_eq!(page.text("h1").await.unwrap(), "Too many failed attempts");
    // A fresh attempt with the right password is refused too.
    page.goto(&format!("{}/start", rp.url)).await.unwrap();
    let nav = sign_in(&page, ALICE, SECRET).await;
    assert_eq!(nav.status, 429);
    assert!(page.content().await.unwrap().contains("Try again later."));
    page.close().await.unwrap();
}

#[tokio::test]
async fn the_german_page_follows_accept_language_and_the_switch_is_remembered() {
    let rp = RelyingParty::start("demo-app", "demo-secret").await;
    let _server = idp_server(&rp, "skip", "", "").await;
    let page = context("de-DE").await;
    page.goto(&format!("{}/start", rp.url)).await.unwrap();
    assert_eq!(page.attr("html", "lang").await.unwrap().as_deref(), Some("de"));
    assert_eq!(page.text("h1").await.unwrap(), "Anmelden");
    assert_eq!(page.text("label[for=password]").await.unwrap(), "Passwort");
    let nav = sign_in(&page, ALICE, "falsch").await;
    assert_eq!(nav.status, 403);
    assert_eq!(
        page.text("#login-error").await.unwrap(),
        "Benutzername oder Passwort ist falsch."
    );

    page.goto(&format!("{}/start", rp.url)).await.unwrap();
    let english = page.click("a[hreflang=en]").await.unwrap();
    assert!(english.url.contains("lang=en"));
    assert_eq!(page.attr("html", "lang").await.unwrap().as_deref(), Some("en"));
    assert_eq!(page.text("h1").await.unwrap(), "Sign in");
    // The switch is remembered for the next flow, over the browser's German preference.
    page.goto(&format!("{}/start", rp.url)).await.unwrap();
    assert_eq!(page.attr("html", "lang").await.unwrap().as_deref(), Some("en"));
    let done = sign_in(&page, ALICE, SECRET).await;
    assert!(done.url.starts_with(&rp.callback()));
    page.close().await.unwrap();
}

#[tokio::test]
async fn consent_lists_the_scopes_and_deny_then_allow_reach_the_client() {
    let rp = RelyingParty::start("demo-app", "demo-secret").await;
    let _server = idp_server(&rp, "always", "", "").await;
    let page = context("en-US").await;
    page.goto(&format!("{}/start", rp.url)).await.unwrap();
    let nav = sign_in(&page, ALICE, SECRET).await;
    assert!(path_of(&nav.url).starts_with("/consent?flow="), "{}", nav.url);
    assert_eq!(page.text("h1").await.unwrap(), "Allow access?");
    assert_eq!(page.count(".scopes li").await.unwrap(), 3);
    assert!(
        page.text(".scopes")
            .await
            .unwrap()
            .contains("See your email address")
    );
    screenshot(&page, "idp-consent.png").await;

    let denied = page.click("#deny").await.unwrap();
    assert!(denied.url.starts_with(&rp.callback()));
    assert_eq!(page.text("#result").await.unwrap(), "error: access_denied");

    // Logged in already: the next flow goes straight to consent.
    let nav = page.goto(&format!("{}/start", rp.url)).await.unwrap();
    assert!(path_of(&nav.url).starts_with("/consent?flow="), "{}", nav.url);
    page.click("#approve").await.unwrap();
    assert_eq!(
        page.text("#result").await.unwrap(),
        format!("signed in as {ALICE}")
    );
    page.close().await.unwrap();
}

#[tokio::test]
async fn logout_asks_first_then_ends_the_session_and_returns_to_the_client() {
    let rp = RelyingParty::start("demo-app", "demo-secret").await;
    let server = idp_server(&rp, "skip", "", "").await;
    let page = context("en-US").await;
    page.goto(&format!("{}/start", rp.url)).await.unwrap();
    sign_in(&page, ALICE, SECRET).await;
    assert_eq!(
        page.text("#result").await.unwrap(),
        format!("signed in as {ALICE}")
    );

    let logout = format!(
        "{}?client_id=demo-app&post_logout_redirect_uri={}&state=bye",
        server.url("/oidc/logout"),
        urlencode(&format!("{}/logged-out", rp.url))
    );
    let nav = page.goto(&logout).await.unwrap();
    assert!(path_of(&nav.url).starts_with("/logout?flow="), "{}", nav.url);
    assert_eq!(page.text("h1").await.unwrap(), "Sign out");
    assert!(page.text(".account").await.unwrap().starts_with("Signed in as "));
    let done = page.click("#logout").await.unwrap();
    assert!(
        done.url.starts_with(&format!("{}/logged-out", rp.url)),
        "{}",
        done.url
    );
    assert!(done.url.contains("state=bye"));
    let cookies = page.cookies().await.unwrap();
    assert!(
        !cookies
            .iter()
            .any(|c| c["name"] == "nauthilus_session" && c["value"] != "")
    );

    // The session is gone: the next flow asks for the password again.
    let nav = page.goto(&format!("{}/start", rp.url)).await.unwrap();
    assert!(path_of(&nav.url).starts_with("/login?flow="), "{}", nav.url);
    page.close().await.unwrap();
}

#[tokio::test]
async fn the_device_page_takes_the_code_signs_in_and_connects_the_device() {
    let rp = RelyingParty::start("demo-app", "demo-secret").await;
    let server = idp_server(&rp, "skip", "", "").await;
    let http = reqwest::Client::new();
    let device: Value = http
        .post(server.url("/oidc/device"))
        .basic_auth("demo-app", Some("demo-secret"))
        .form(&[("scope", "openid email")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_code = device["user_code"].as_str().unwrap().to_owned();
    let page = context("en-US").await;
    // The user types the code shown on the device (with its dash) into the entry form.
    page.goto(device["verification_uri"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(page.focused().await.unwrap().as_deref(), Some("user_code"));
    page.fill("#user_code", &user_code).await.unwrap();
    let nav = page.click("#continue").await.unwrap();
    assert!(path_of(&nav.url).starts_with("/login?device="), "{}", nav.url);
    let nav = sign_in(&page, ALICE, SECRET).await;
    assert!(path_of(&nav.url).starts_with("/device?user_code="), "{}", nav.url);
    assert_eq!(page.text(".lead strong").await.unwrap(), "Demo App");
    assert_eq!(page.count(".scopes li").await.unwrap(), 2);
    page.click("#approve").await.unwrap();
    assert_eq!(
        page.text("#message").await.unwrap(),
        "The device is connected. You can close this page."
    );

    let token: Value = http
        .post(server.url("/oidc/token"))
        .basic_auth("demo-app", Some("demo-secret"))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device["device_code"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(token["access_token"].is_string(), "{token}");

    // The code works once: entering it again says it is unknown.
    let again = page
        .goto(&format!(
            "{}?user_code={}",
            device["verification_uri"].as_str().unwrap(),
            user_code
        ))
        .await
        .unwrap();
    assert_eq!(again.status, 404);
    assert_eq!(
        page.text("#device-error").await.unwrap(),
        "This code is unknown or has expired."
    );
    page.close().await.unwrap();
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_forms_without_a_valid_csrf_token_are_refused() {
    let rp = RelyingParty::start("demo-app", "demo-secret").await;
    let server = idp_server(&rp, "skip", "", "").await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A real flow id, taken from the authorize redirect.
    let start = no_redirects
        .get(format!("{}/start", rp.url))
        .send()
        .await
        .unwrap();
    let authorize = start.headers()["location"].to_str().unwrap().to_owned();
    let to_login = no_redirects.get(&authorize).send().await.unwrap();
    let login = to_login.headers()["location"].to_str().unwrap().to_owned();
    let flow = login.split("flow=").nth(1).unwrap().to_owned();

    let page = no_redirects.get(server.url(&login)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    let set_cookie = h["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    let csrf_cookie = set_cookie.split(';').next().unwrap().to_owned();
    let body = page.text().await.unwrap();
    let token = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();

    let post = |form: Vec<(&'static str, String)>, headers: Vec<(&'static str, String)>| {
        let mut req = no_redirects.post(server.url("/login/post")).form(&form);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    let same_origin = ("sec-fetch-site", "same-origin".to_string());
    let full = |csrf: &str| {
        vec![
            ("flow", flow.clone()),
            ("csrf", csrf.to_string()),
            ("username", ALICE.to_string()),
            ("password", SECRET.to_string()),
        ]
    };
    // Missing token, wrong token, no cookie, cross-site, and no origin information at all.
    let cases = [
        (
            full(""),
            vec![same_origin.clone(), ("cookie", csrf_cookie.clone())],
        ),
        (
            full("AAAA"),
            vec![same_origin.clone(), ("cookie", csrf_cookie.clone())],
        ),
        (full(&token), vec![same_origin.clone()]),
        (
            full(&token),
            vec![
                ("sec-fetch-site", "cross-site".into()),
                ("cookie", csrf_cookie.clone()),
            ],
        ),
        (full(&token), vec![("cookie", csrf_cookie.clone())]),
        (
            full(&token),
            vec![
                ("origin", "http://evil.test".into()),
                ("cookie", csrf_cookie.clone()),
            ],
        ),
    ];
    for (i, (form, headers)) in cases.into_iter().enumerate() {
        let r = post(form, headers).await.unwrap();
        assert_eq!(r.status(), 403, "case {i}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(
            r.text().await.unwrap().contains("The form could not be checked."),
            "case {i}"
        );
    }
    // The same form with everything right logs in (the flow was not used up by the refusals).
    let ok = post(full(&token), vec![same_origin, ("cookie", csrf_cookie)])
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    assert!(
        ok.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(&rp.callback())
    );

    // Notify escapes its message.
    let notify = no_redirects
        .get(server.url("/notify?message=%3Cscript%3Ealert(1)%3C%2Fscript%3E"))
        .send()
        .await
        .unwrap();
    assert_eq!(notify.status(), 200);
    let html = notify.text().await.unwrap();
    assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
    // An unknown flow is an error page, not a 200 and not JSON.
    let gone = no_redirects
        .get(server.url("/login?flow=unknown"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 400);
    assert!(gone.text().await.unwrap().contains("unknown or has expired"));
}
