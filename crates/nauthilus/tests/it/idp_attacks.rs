//! The identity provider under attack: every bad input of issue 16's list is refused with the
//! standard error (RFC 6749 §4.1.2.1 and §5.2, RFC 7636, OIDC RP-Initiated Logout), over real
//! HTTP against the real server, a browser's part played by hand (cookies, the pages' forms, no
//! redirect followed unless the test says so). A bad client or redirect URI is shown to the user
//! and never redirected to.
//!
//! The helpers here (`IdpHarness`, `Browser`, `Form`) also serve `idp_scaleout`.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE, WWW_AUTHENTICATE};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::{TestServer, fixtures};

/// The confidential client of the tests.
pub const APP: (&str, &str) = ("app", "app-secret-1f0e2d3c4b5a6978");
/// A second confidential client with the same redirect URI.
pub const OTHER: (&str, &str) = ("other", "other-secret-8a7b6c5d4e3f2a1b");
/// A public client (PKCE, no secret).
pub const SPA: &str = "spa";
/// A resource server: client credentials only, may introspect every token.
pub const RS: (&str, &str) = ("rs", "rs-secret-5e4d3c2b1a09f8e7");
/// Where the clients' codes go (nothing listens: tests read the `Location`).
pub const CALLBACK: &str = "http://127.0.0.1:9/cb";
/// Where `app` may send the browser after logout.
pub const BYE: &str = "http://127.0.0.1:9/bye";
/// A user of `fixtures/users.passwd`.
pub const ALICE: (&str, &str) = ("alice@example.test", "alice-secret");

/// The `idp:` section of the tests: four clients, consent skipped, plain-HTTP cookies.
/// `extra` goes under `idp:` (two-space indented keys, e.g. `  tokens: {code_lifetime: 1s}`).
pub fn idp_yaml(key_dir: &str, extra: &str) -> String {
    format!(
        "idp:\n  enabled: true\n  issuer: \"http://127.0.0.1\"\n  key_dir: \"{key_dir}\"\n  \
         session: {{secure_cookie: false}}\n  consent: {{mode: skip}}\n{extra}\n  clients:\n\
         \x20   - client_id: {app}\n      client_secret: \"{app_secret}\"\n      \
         redirect_uris: [\"{CALLBACK}\"]\n      post_logout_redirect_uris: [\"{BYE}\"]\n      \
         grant_types: [authorization_code, refresh_token, client_credentials]\n      \
         scopes: [openid, profile, email, offline_access]\n\
         \x20   - client_id: {other}\n      client_secret: \"{other_secret}\"\n      \
         redirect_uris: [\"{CALLBACK}\"]\n      grant_types: [authorization_code, refresh_token]\n      \
         scopes: [openid, profile, email, offline_access]\n\
         \x20   - client_id: {SPA}\n      token_endpoint_auth_method: none\n      \
         redirect_uris: [\"{CALLBACK}\"]\n      grant_types: [authorization_code, refresh_token]\n      \
         scopes: [openid, profile, offline_access]\n\
         \x20   - client_id: {rs}\n      client_secret: \"{rs_secret}\"\n      \
         grant_types: [client_credentials]\n      scopes: [api]\n      introspect_all_tokens: true\n",
        app = APP.0,
        app_secret = APP.1,
        other = OTHER.0,
        other_secret = OTHER.1,
        rs = RS.0,
        rs_secret = RS.1,
    )
}

/// A server with the IdP and the fixture users; `idp_extra` as in [`idp_yaml`], `server_extra`
/// under `server:` (e.g. a Redis store).
pub async fn idp_server(server_extra: &str, idp_extra: &str, key_dir: &str) -> TestServer {
    let users = std::fs::read_to_string(fixtures().join("users.passwd")).unwrap();
    TestServer::with_users(&users, server_extra, &idp_yaml(key_dir, idp_extra)).await
}

/// PKCE: a verifier (43 unreserved characters) and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = nauthilus_idp::random_token();
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// A random value for `state` and `nonce`.
pub fn random() -> String {
    nauthilus_idp::random_token()
}

/// `application/x-www-form-urlencoded` of `pairs`.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let url = reqwest::Url::parse_with_params("http://form.invalid/", pairs).unwrap();
    url.query().unwrap_or("").to_owned()
}

/// The query parameters of a URL (or a path with a query).
pub fn query_of(location: &str) -> BTreeMap<String, String> {
    let query = location.split_once('?').map_or("", |(_, q)| q);
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    let url = reqwest::Url::parse(&format!("http://query.invalid/?{query}")).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A browser: a cookie jar per server origin is not needed (one loopback host), redirects are
/// never followed by the HTTP client; [`Browser::follow`] follows the server's own ones.
pub struct Browser {
    pub http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    /// The `Cookie` header the jar sends.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, r: &reqwest::Response) {
        for value in r.headers().get_all(SET_COOKIE) {
            if let Ok(text) = value.to_str() {
                self.keep_cookie(text);
            }
        }
    }

    /// Stores (or, when expired, removes) the cookie of one `Set-Cookie` value.
    pub fn keep_cookie(&mut self, set_cookie: &str) {
        let pair = set_cookie.split(';').next().unwrap_or("");
        let Some((name, val)) = pair.split_once('=') else {
            return;
        };
        let expired = set_cookie.to_ascii_lowercase().contains("max-age=0") || val.is_empty();
        if expired {
            self.cookies.remove(name.trim());
        } else {
            self.cookies.insert(name.trim().to_owned(), val.trim().to_owned());
        }
    }

    /// Whether the jar holds a cookie `name`.
    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.contains_key(name)
    }

    /// GET `path` (with its query) on `server`.
    pub async fn get(&mut self, server: &TestServer, path: &str) -> reqwest::Response {
        let r = self
            .http
            .get(server.url(path))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        r
    }

    /// POST a form to `path` on `server`, as a page of that server would (same `Origin`).
    pub async fn post(
        &mut self,
        server: &TestServer,
        path: &str,
        pairs: &[(String, String)],
    ) -> reqwest::Response {
        let r = self
            .http
            .post(server.url(path))
            .header(COOKIE, self.cookie_header())
            .header("origin", server.url(""))
            .header("sec-fetch-site", "same-origin")
            .form(pairs)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        r
    }

    /// Follows the server's redirects (`Location` on the same server, as path and query) until
    /// an answer that is not one, or a redirect off the server (returned as its `Location`).
    pub async fn follow(&mut self, server: &TestServer, mut r: reqwest::Response) -> Landing {
        for _ in 0..10 {
            if !r.status().is_redirection() {
                let status = r.status();
                let body = r.text().await.unwrap();
                return Landing::Page(status, body);
            }
            let location = location(&r);
            let Some(path) = own_path(server, &location) else {
                return Landing::Away(location);
            };
            r = self.get(server, &path).await;
        }
        panic!("more than 10 redirects");
    }
}

/// Where a browser ended up.
#[derive(Debug)]
pub enum Landing {
    /// A page of the server: status and HTML.
    Page(StatusCode, String),
    /// A redirect off the server (to a client).
    Away(String),
}

impl Landing {
    /// The page, or a panic naming where the browser went instead.
    pub fn page(self) -> (StatusCode, String) {
        match self {
            Self::Page(s, b) => (s, b),
            Self::Away(l) => panic!("expected a page, went to {l}"),
        }
    }

    /// The redirect off the server, or a panic showing the page.
    pub fn away(self) -> String {
        match self {
            Self::Away(l) => l,
            Self::Page(s, b) => panic!("expected a redirect to the client, got {s}: {b}"),
        }
    }
}

/// The `Location` of a redirect ("" without one).
pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// `location` as a path on `server` when it points there (relative, or the server's own origin
/// or the issuer's, which the tests set to the loopback host without a port).
fn own_path(server: &TestServer, location: &str) -> Option<String> {
    if location.starts_with('/') {
        return Some(location.to_owned());
    }
    for origin in [server.url(""), "http://127.0.0.1".to_owned()] {
        if let Some(rest) = location.strip_prefix(&origin)
            && rest.starts_with('/')
        {
            return Some(rest.to_owned());
        }
    }
    None
}

/// One HTML form: its action and the values it would submit.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// The form of `html` whose action contains `action`.
    pub fn find(html: &str, action: &str) -> Form {
        Self::all(html)
            .into_iter()
            .find(|f| f.action.contains(action))
            .unwrap_or_else(|| panic!("no form posting to {action} in:\n{html}"))
    }

    /// Every `<form>` of `html` with its `<input>`s (named, with their value) and its submit
    /// buttons' name/value when they have one.
    pub fn all(html: &str) -> Vec<Form> {
        let mut forms = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find("<form") {
            let after = &rest[start..];
            let end = after.find("</form>").unwrap_or(after.len());
            let body = &after[..end];
            let tag_end = body.find('>').unwrap_or(body.len());
            let action = attr(&body[..tag_end], "action").unwrap_or_default();
            let mut fields = Vec::new();
            let mut inputs = body;
            while let Some(i) = inputs.find("<input") {
                let tag = &inputs[i..];
                let close = tag.find('>').unwrap_or(tag.len());
                let tag_text = &tag[..close];
                if let Some(name) = attr(tag_text, "name") {
                    let kind = attr(tag_text, "type").unwrap_or_default();
                    if kind != "submit" && kind != "checkbox" && kind != "radio" {
                        fields.push((name, attr(tag_text, "value").unwrap_or_default()));
                    }
                }
                inputs = &tag[close..];
            }
            forms.push(Form { action, fields });
            rest = &after[end..];
        }
        forms
    }

    /// The value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets (or adds) a field.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        match self.fields.iter_mut().find(|(k, _)| k == name) {
            Some(f) => f.1 = value.to_owned(),
            None => self.fields.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    /// The same form without its CSRF token (every hidden field whose name says csrf).
    pub fn without_csrf(&self) -> Form {
        let before = self.fields.len();
        let fields: Vec<_> = self
            .fields
            .iter()
            .filter(|(k, _)| !k.to_ascii_lowercase().contains("csrf"))
            .cloned()
            .collect();
        assert!(
            fields.len() < before,
            "form {} has no CSRF field: {:?}",
            self.action,
            self.fields
        );
        Form {
            action: self.action.clone(),
            fields,
        }
    }

    /// The form's action as a path on the server.
    pub fn path(&self) -> String {
        html_unescape(&self.action)
    }
}

/// An attribute's value in a tag (`name="…"` or `name='…'`), HTML-unescaped.
fn attr(tag: &str, name: &str) -> Option<String> {
    let mut search = tag;
    loop {
        let i = search.find(name)?;
        let before_ok = i == 0 || search.as_bytes()[i - 1].is_ascii_whitespace();
        let after = search[i + name.len()..].trim_start();
        if before_ok && let Some(value) = after.strip_prefix('=') {
            let value = value.trim_start();
            let quote = value.chars().next()?;
            if quote == '"' || quote == '\'' {
                let inner = &value[1..];
                let end = inner.find(quote)?;
                return Some(html_unescape(&inner[..end]));
            }
            let end = value
                .find(|c: char| c.is_ascii_whitespace() || c == '>')
                .unwrap_or(value.len());
            return Some(html_unescape(&value[..end]));
        }
        search = &search[i + name.len()..];
    }
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// An authorization request of the tests.
#[derive(Debug, Clone)]
pub struct Authorize {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: String,
    pub nonce: String,
    pub response_type: String,
    pub verifier: String,
    pub challenge: Option<String>,
}

impl Authorize {
    /// `client_id` asking for `openid profile offline_access` with S256 PKCE, state and nonce.
    pub fn new(client_id: &str) -> Self {
        let (verifier, challenge) = pkce();
        Self {
            client_id: client_id.to_owned(),
            redirect_uri: CALLBACK.to_owned(),
            scope: "openid profile offline_access".to_owned(),
            state: random(),
            nonce: random(),
            response_type: "code".to_owned(),
            verifier,
            challenge: Some(challenge),
        }
    }

    /// `/oidc/authorize?…`.
    pub fn path(&self) -> String {
        let mut pairs = vec![
            ("response_type", self.response_type.as_str()),
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("scope", self.scope.as_str()),
            ("state", self.state.as_str()),
            ("nonce", self.nonce.as_str()),
        ];
        if let Some(c) = &self.challenge {
            pairs.push(("code_challenge", c.as_str()));
            pairs.push(("code_challenge_method", "S256"));
        }
        format!("/oidc/authorize?{}", form_encode(&pairs))
    }
}

/// Logs `user` in and returns the code the client gets (state checked). `authorize_on` takes
/// the authorization request; `login_on` serves the login page and its POST. Without the pages
/// (a build without idpweb's `web` routes), the login runs through the same seams the page
/// calls: `authenticate_password` (the real pipeline), `create_session`, `resume_authorization`.
pub async fn code_via(
    browser: &mut Browser,
    authorize_on: &TestServer,
    login_on: &TestServer,
    request: &Authorize,
    user: (&str, &str),
) -> String {
    let r = browser.get(authorize_on, &request.path()).await;
    assert!(r.status().is_redirection(), "authorize answered {}", r.status());
    let to_login = location(&r);
    let path = own_path(authorize_on, &to_login).unwrap_or_else(|| panic!("authorize went to {to_login}"));
    let r = browser.get(login_on, &path).await;
    let away = if r.status() == StatusCode::NOT_FOUND {
        login_through_seams(browser, login_on, &path, request, user).await
    } else {
        let (status, html) = browser.follow(login_on, r).await.page();
        assert_eq!(status, StatusCode::OK, "login page: {html}");
        let mut form = Form::find(&html, "/login");
        form.set("username", user.0).set("password", user.1);
        let r = browser.post(login_on, &form.path(), &form.fields).await;
        browser.follow(login_on, r).await.away()
    };
    assert!(away.starts_with(&request.redirect_uri), "went to {away}");
    let q = query_of(&away);
    assert_eq!(q.get("state"), Some(&request.state), "state comes back: {away}");
    q.get("code")
        .unwrap_or_else(|| panic!("no code in {away}"))
        .clone()
}

/// What `POST /login/post` does, through the provider's public seams.
async fn login_through_seams(
    browser: &mut Browser,
    server: &TestServer,
    login_path: &str,
    request: &Authorize,
    user: (&str, &str),
) -> String {
    let flow = query_of(login_path)
        .remove("flow")
        .expect("the login page names its flow");
    let idp = server.server.idp.as_ref().expect("idp enabled").current();
    let now = std::time::SystemTime::now();
    let guid = nauthilus_core::SessionId::new(now);
    let result = idp
        .authenticate_password(user.0, user.1, &request.client_id, "127.0.0.1", guid, now)
        .await;
    let nauthilus_idp::LoginResult::Ok(account) = result else {
        panic!("login of {} refused: {result:?}", user.0)
    };
    let (session, cookie) = idp
        .create_session(&account, vec!["pwd".into()], now)
        .await
        .unwrap();
    browser.keep_cookie(cookie.to_str().unwrap());
    let redirect = match idp.resume_authorization(&flow, &session, now).await {
        Ok(r) => r,
        Err(e) => panic!("resume_authorization: {e:?}"),
    };
    let location = redirect.location;
    match own_path(server, &location) {
        // Consent or another page of ours: follow it like a browser.
        Some(path) => {
            let r = browser.get(server, &path).await;
            browser.follow(server, r).await.away()
        }
        None => location,
    }
}

/// [`code_via`] on one server.
pub async fn code(browser: &mut Browser, server: &TestServer, request: &Authorize) -> String {
    code_via(browser, server, server, request, ALICE).await
}

/// POSTs `pairs` to `/oidc/token` on `server` with `client` as Basic credentials (none for a
/// public client); returns the status, the JSON and the `WWW-Authenticate` header.
pub async fn token(
    server: &TestServer,
    client: Option<(&str, &str)>,
    pairs: &[(&str, &str)],
) -> (StatusCode, Value, String) {
    endpoint(server, "/oidc/token", client, pairs).await
}

/// POSTs a form to an endpoint of the provider (token, introspect, revoke).
pub async fn endpoint(
    server: &TestServer,
    path: &str,
    client: Option<(&str, &str)>,
    pairs: &[(&str, &str)],
) -> (StatusCode, Value, String) {
    let mut req = server
        .http
        .post(server.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_encode(pairs));
    if let Some((id, secret)) = client {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let challenge = r
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{path} answered {status} with non-JSON: {text}"));
    (status, body, challenge)
}

/// Exchanges `code` for tokens as `client` (public clients send `client_id` in the body).
pub async fn exchange(
    server: &TestServer,
    client: (&str, Option<&str>),
    code: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> (StatusCode, Value, String) {
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    if let Some(v) = verifier {
        pairs.push(("code_verifier", v));
    }
    match client {
        (id, Some(secret)) => token(server, Some((id, secret)), &pairs).await,
        (id, None) => {
            pairs.push(("client_id", id));
            token(server, None, &pairs).await
        }
    }
}

/// Whether `token` introspects as active (asked by `app`).
pub async fn active(server: &TestServer, token: &str) -> bool {
    let (status, body, _) = endpoint(server, "/oidc/introspect", Some(APP), &[("token", token)]).await;
    assert_eq!(status, StatusCode::OK, "introspection: {body}");
    body["active"]
        .as_bool()
        .unwrap_or_else(|| panic!("no active in {body}"))
}

/// Asserts a JSON OAuth error: status and code.
#[track_caller]
pub fn assert_oauth_error(answer: &(StatusCode, Value, String), status: StatusCode, code: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error"], code, "{}", answer.1);
}

/// Asserts a page shown to the user (an HTML error, not a redirect) and returns its text.
pub async fn assert_shown(r: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(r.status(), status, "shown error status");
    assert!(
        r.headers().get(LOCATION).is_none(),
        "a shown error never redirects: {:?}",
        r.headers().get(LOCATION)
    );
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(ct.starts_with("text/html"), "a page, not {ct}");
    r.text().await.unwrap()
}

/// A fresh key directory for one test.
fn keys() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

async fn server() -> (TestServer, tempfile::TempDir) {
    let dir = keys();
    let s = idp_server("", "", dir.path().to_str().unwrap()).await;
    (s, dir)
}

/// A confidential client's full grant: (access token, refresh token).
async fn tokens(s: &TestServer, browser: &mut Browser) -> (String, String) {
    grant_with_scope(s, browser, "openid profile offline_access").await
}

/// A grant of `APP` for `scope` in the browser's session (logging in first when there is
/// none): (access token, refresh token).
async fn grant_with_scope(s: &TestServer, b: &mut Browser, scope: &str) -> (String, String) {
    let mut req = Authorize::new(APP.0);
    req.scope = scope.to_owned();
    let code = if b.has_cookie(nauthilus_idp::SESSION_COOKIE) {
        let r = b.get(s, &req.path()).await;
        let to = b.follow(s, r).await.away();
        query_of(&to)["code"].clone()
    } else {
        code(b, s, &req).await
    };
    let (status, body, _) = exchange(s, (APP.0, Some(APP.1)), &code, CALLBACK, Some(&req.verifier)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// The authorization endpoint: bad clients and redirect URIs are shown, never redirected to.

#[tokio::test]
async fn an_unknown_client_is_shown_an_error_and_not_redirected() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let mut req = Authorize::new("no-such-client");
    req.redirect_uri = "https://attacker.example/cb".into();
    let html = assert_shown(b.get(&s, &req.path()).await, StatusCode::BAD_REQUEST).await;
    assert!(
        !html.contains("attacker.example"),
        "the page does not link the attacker: {html}"
    );
}

#[tokio::test]
async fn an_unregistered_redirect_uri_is_shown_an_error_and_not_redirected() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let mut req = Authorize::new(APP.0);
    req.redirect_uri = "https://attacker.example/cb".into();
    assert_shown(b.get(&s, &req.path()).await, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn a_redirect_uri_with_anything_extra_is_not_an_exact_match() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    for extra in [
        format!("{CALLBACK}?next=https://attacker.example"),
        format!("{CALLBACK}/"),
        format!("{CALLBACK}#x"),
        CALLBACK.replace("/cb", "/cb/../evil"),
        CALLBACK.to_uppercase(),
        format!("{CALLBACK} "),
    ] {
        let mut req = Authorize::new(APP.0);
        req.redirect_uri = extra.clone();
        let r = b.get(&s, &req.path()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{extra:?}");
        assert!(r.headers().get(LOCATION).is_none(), "{extra:?} redirected");
    }
}

#[tokio::test]
async fn a_missing_redirect_uri_is_shown_not_guessed() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let path = format!(
        "/oidc/authorize?{}",
        form_encode(&[
            ("response_type", "code"),
            ("client_id", "no-such-client"),
            ("scope", "openid")
        ])
    );
    assert_shown(b.get(&s, &path).await, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn a_response_type_that_is_not_allowed_goes_back_as_unsupported_response_type() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    for response_type in ["token", "id_token", "code token", "bogus"] {
        let mut req = Authorize::new(APP.0);
        req.response_type = response_type.into();
        let r = b.get(&s, &req.path()).await;
        assert!(r.status().is_redirection(), "{response_type}: {}", r.status());
        let to = location(&r);
        assert!(
            to.starts_with(CALLBACK),
            "{response_type}: the verified client URI, not {to}"
        );
        let q = query_of(&to);
        assert_eq!(
            q.get("error").map(String::as_str),
            Some("unsupported_response_type"),
            "{to}"
        );
        assert_eq!(q.get("state"), Some(&req.state), "{to}");
        assert!(q.contains_key("iss"), "RFC 9207 iss: {to}");
        assert!(!q.contains_key("code") && !to.contains("access_token"), "{to}");
    }
}

#[tokio::test]
async fn a_public_client_without_pkce_is_refused_at_the_authorization_endpoint() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let mut req = Authorize::new(SPA);
    req.challenge = None;
    let r = b.get(&s, &req.path()).await;
    let to = location(&r);
    assert!(to.starts_with(CALLBACK), "{}: {to}", r.status());
    let q = query_of(&to);
    assert_eq!(
        q.get("error").map(String::as_str),
        Some("invalid_request"),
        "{to}"
    );
    assert!(!q.contains_key("code"));
}

#[tokio::test]
async fn a_plain_pkce_method_is_refused() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let req = Authorize::new(SPA);
    let path = req
        .path()
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    let r = b.get(&s, &path).await;
    let q = query_of(&location(&r));
    assert_eq!(
        q.get("error").map(String::as_str),
        Some("invalid_request"),
        "{}",
        location(&r)
    );
}

// ---------------------------------------------------------------------------------------------
// The token endpoint: codes, PKCE, client authentication.

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_issued() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let req = Authorize::new(APP.0);
    let code = code(&mut b, &s, &req).await;
    let first = exchange(&s, (APP.0, Some(APP.1)), &code, CALLBACK, Some(&req.verifier)).await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.1);
    let access = first.1["access_token"].as_str().unwrap().to_owned();
    let refresh = first.1["refresh_token"].as_str().unwrap().to_owned();
    assert!(active(&s, &access).await);

    let replay = exchange(&s, (APP.0, Some(APP.1)), &code, CALLBACK, Some(&req.verifier)).await;
    assert_oauth_error(&replay, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(!active(&s, &access).await, "the replay revoked the access token");
    let refreshed = token(
        &s,
        Some(APP),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_oauth_error(&refreshed, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn a_missing_pkce_verifier_is_refused() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let req = Authorize::new(SPA);
    let code = code(&mut b, &s, &req).await;
    let answer = exchange(&s, (SPA, None), &code, CALLBACK, None).await;
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{}", answer.1);
    let e = answer.1["error"].as_str().unwrap();
    assert!(e == "invalid_grant" || e == "invalid_request", "{}", answer.1);
    assert!(answer.1.get("access_token").is_none());
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused_and_the_code_is_spent() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let req = Authorize::new(SPA);
    let code = code(&mut b, &s, &req).await;
    let (wrong, _) = pkce();
    let answer = exchange(&s, (SPA, None), &code, CALLBACK, Some(&wrong)).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    // A guess burns the code: the right verifier does not get tokens afterwards either.
    let after = exchange(&s, (SPA, None), &code, CALLBACK, Some(&req.verifier)).await;
    assert_oauth_error(&after, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn a_confidential_client_that_used_pkce_must_send_the_verifier() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let req = Authorize::new(APP.0);
    let code = code(&mut b, &s, &req).await;
    let answer = exchange(&s, (APP.0, Some(APP.1)), &code, CALLBACK, None).await;
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{}", answer.1);
    assert!(answer.1.get("access_token").is_none(), "{}", answer.1);
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let dir = keys();
    let s = idp_server("", "  tokens: {code_lifetime: 1s}", dir.path().to_str().unwrap()).await;
    let mut b = Browser::new();
    let req = Authorize::new(APP.0);
    let code = code(&mut b, &s, &req).await;
    // The code lives one second; wait well past it (no timing is asserted, only the outcome).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let answer = exchange(&s, (APP.0, Some(APP.1)), &code, CALLBACK, Some(&req.verifier)).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn a_code_issued_to_another_client_is_refused() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let req = Authorize::new(APP.0);
    let code = code(&mut b, &s, &req).await;
    let stolen = exchange(&s, (OTHER.0, Some(OTHER.1)), &code, CALLBACK, Some(&req.verifier)).await;
    assert_oauth_error(&stolen, StatusCode::BAD_REQUEST, "invalid_grant");
    let public = exchange(&s, (SPA, None), &code, CALLBACK, Some(&req.verifier)).await;
    assert_eq!(public.0, StatusCode::BAD_REQUEST, "{}", public.1);
    assert!(public.1.get("access_token").is_none());
}

#[tokio::test]
async fn a_redirect_uri_differing_from_the_authorization_request_is_refused_at_the_token_endpoint() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let req = Authorize::new(APP.0);
    let code = code(&mut b, &s, &req).await;
    let answer = exchange(&s, (APP.0, Some(APP.1)), &code, BYE, Some(&req.verifier)).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn a_wrong_client_secret_is_invalid_client_with_401_and_a_challenge() {
    let (s, _k) = server().await;
    let basic = token(
        &s,
        Some((APP.0, "not-the-secret")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(&basic, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(basic.2.starts_with("Basic"), "WWW-Authenticate: {:?}", basic.2);

    let unknown = token(&s, Some(("nobody", "x")), &[("grant_type", "client_credentials")]).await;
    assert_oauth_error(&unknown, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(
        unknown.2.starts_with("Basic"),
        "WWW-Authenticate: {:?}",
        unknown.2
    );

    let in_body = token(
        &s,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APP.0),
            ("client_secret", "not-the-secret"),
        ],
    )
    .await;
    assert_oauth_error(&in_body, StatusCode::UNAUTHORIZED, "invalid_client");

    let right = token(&s, Some(APP), &[("grant_type", "client_credentials")]).await;
    assert_eq!(right.0, StatusCode::OK, "the right secret works: {}", right.1);
}

#[tokio::test]
async fn a_wrong_client_secret_at_the_code_exchange_does_not_spend_the_code_for_nothing() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let req = Authorize::new(APP.0);
    let code = code(&mut b, &s, &req).await;
    let answer = exchange(&s, (APP.0, Some("wrong")), &code, CALLBACK, Some(&req.verifier)).await;
    assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(answer.2.starts_with("Basic"), "{:?}", answer.2);
}

#[tokio::test]
async fn a_refresh_token_used_twice_revokes_the_family() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let (_access, first) = tokens(&s, &mut b).await;
    let rotated = token(
        &s,
        Some(APP),
        &[("grant_type", "refresh_token"), ("refresh_token", &first)],
    )
    .await;
    assert_eq!(rotated.0, StatusCode::OK, "{}", rotated.1);
    let second = rotated.1["refresh_token"].as_str().unwrap().to_owned();
    let second_access = rotated.1["access_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first, "rotation");

    let reuse = token(
        &s,
        Some(APP),
        &[("grant_type", "refresh_token"), ("refresh_token", &first)],
    )
    .await;
    assert_oauth_error(&reuse, StatusCode::BAD_REQUEST, "invalid_grant");
    let after = token(
        &s,
        Some(APP),
        &[("grant_type", "refresh_token"), ("refresh_token", &second)],
    )
    .await;
    assert_oauth_error(&after, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(
        !active(&s, &second).await,
        "the family's newest refresh token is revoked"
    );
    assert!(
        !active(&s, &second_access).await,
        "and so is the access token it gave"
    );
}

#[tokio::test]
async fn a_refresh_token_of_another_client_is_refused() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let (_access, refresh) = tokens(&s, &mut b).await;
    let answer = token(
        &s,
        Some(OTHER),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn a_grant_the_client_may_not_use_is_unauthorized_client() {
    let (s, _k) = server().await;
    let answer = token(&s, Some(OTHER), &[("grant_type", "client_credentials")]).await;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "unauthorized_client");
    let unknown = token(&s, Some(APP), &[("grant_type", "password"), ("username", "x")]).await;
    assert_oauth_error(&unknown, StatusCode::BAD_REQUEST, "unsupported_grant_type");
}

/// The used-code record lives as long as the refresh family the code started (not just the
/// access token), so a replay late in the family's life still revokes it.
#[tokio::test]
async fn the_used_code_record_lives_as_long_as_the_refresh_family() {
    let dir = keys();
    let s = idp_server(
        "",
        "  tokens: {access_token_lifetime: 5m, refresh_token_lifetime: 720h}",
        dir.path().to_str().unwrap(),
    )
    .await;
    let mut b = Browser::new();
    let req = Authorize::new(APP.0);
    let code = code(&mut b, &s, &req).await;
    let answer = exchange(&s, (APP.0, Some(APP.1)), &code, CALLBACK, Some(&req.verifier)).await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    let idp = s.server.idp.as_ref().unwrap().current();
    let key = nauthilus_idp::state::StateKeys::new(&idp.store).code_used(&nauthilus_idp::digest(&code));
    match idp.store.ttl(&key).await.unwrap() {
        nauthilus_store::Ttl::Expires(ttl) => assert!(
            ttl > Duration::from_secs(29 * 24 * 3600),
            "the record ends with the family (30 days), not the access token: {ttl:?}"
        ),
        other => panic!("used-code record: {other:?}"),
    }
}

/// Many redemptions of one code at once, on the real Redis: exactly one gets tokens, every
/// other is `invalid_grant`, and, the code having been replayed, no token it issued stays
/// usable, whichever way the requests interleaved. The client's ID tokens are RS256 (slow to
/// sign in a debug build), so the replays mostly arrive while the winner is still issuing:
/// the window where a replay found nothing to revoke before the used-code record was written
/// first.
#[tokio::test]
async fn parallel_redemptions_of_one_code_yield_one_grant_and_leave_nothing_usable() {
    let redis = nauthilus_testkit::shared_redis().unwrap();
    let store = format!(
        "redis:\n  master: {{address: \"{}\"}}\n  prefix: \"race{}:\"\n  password_nonce: it-nonce-0123456789abcdef",
        redis.addr(),
        random()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(10)
            .collect::<String>()
    );
    let dir = keys();
    let yaml = idp_yaml(dir.path().to_str().unwrap(), "  key_algorithms: [ES256, RS256]").replacen(
        "post_logout_redirect_uris: [\"http://127.0.0.1:9/bye\"]\n",
        "post_logout_redirect_uris: [\"http://127.0.0.1:9/bye\"]\n      id_token_signed_response_alg: RS256\n",
        1,
    );
    assert!(yaml.contains("RS256\n"), "{yaml}");
    let users = std::fs::read_to_string(fixtures().join("users.passwd")).unwrap();
    let s = TestServer::with_users(&users, &store, &yaml).await;
    for round in 0..3 {
        let mut b = Browser::new();
        let req = Authorize::new(APP.0);
        let code = code(&mut b, &s, &req).await;
        let attempts =
            (0..12).map(|_| exchange(&s, (APP.0, Some(APP.1)), &code, CALLBACK, Some(&req.verifier)));
        let answers = futures::future::join_all(attempts).await;
        let granted: Vec<&Value> = answers
            .iter()
            .filter(|a| a.0 == StatusCode::OK)
            .map(|a| &a.1)
            .collect();
        assert_eq!(
            granted.len(),
            1,
            "round {round}: exactly one redemption: {answers:?}"
        );
        for a in answers.iter().filter(|a| a.0 != StatusCode::OK) {
            assert_oauth_error(a, StatusCode::BAD_REQUEST, "invalid_grant");
        }
        let access = granted[0]["access_token"].as_str().unwrap();
        let refresh = granted[0]["refresh_token"].as_str().unwrap();
        assert!(
            !active(&s, access).await,
            "round {round}: the replays revoked the access token"
        );
        let again = token(
            &s,
            Some(APP),
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
        assert_oauth_error(&again, StatusCode::BAD_REQUEST, "invalid_grant");
    }
}

// ---------------------------------------------------------------------------------------------
// Logout ends the session's grants.

#[tokio::test]
async fn logging_out_revokes_the_refresh_tokens_the_session_got() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let grants = [
        grant_with_scope(&s, &mut b, "openid profile").await,
        grant_with_scope(&s, &mut b, "openid profile offline_access").await,
    ];
    // Another browser's session keeps its grant.
    let mut other = Browser::new();
    let (other_access, other_refresh) = grant_with_scope(&s, &mut other, "openid profile").await;
    // RP-initiated logout, confirmed on the page.
    let path = format!(
        "/oidc/logout?{}",
        form_encode(&[("client_id", APP.0), ("post_logout_redirect_uri", BYE)])
    );
    let r = b.get(&s, &path).await;
    let (status, html) = b.follow(&s, r).await.page();
    assert_eq!(status, StatusCode::OK, "the logout confirmation: {html}");
    let mut form = Form::find(&html, "/logout");
    form.set("decision", "logout");
    let r = b.post(&s, &form.path(), &form.fields).await;
    assert!(location(&r).starts_with(BYE), "{}: {}", r.status(), location(&r));
    // The session's grants end with it: refresh refused, access tokens inactive.
    for (access, refresh) in &grants {
        let refreshed = token(
            &s,
            Some(APP),
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
        assert_oauth_error(&refreshed, StatusCode::BAD_REQUEST, "invalid_grant");
        assert!(!active(&s, access).await);
    }
    assert!(active(&s, &other_access).await);
    let refreshed = token(
        &s,
        Some(APP),
        &[("grant_type", "refresh_token"), ("refresh_token", &other_refresh)],
    )
    .await;
    assert_eq!(refreshed.0, StatusCode::OK, "{}", refreshed.1);
}

// ---------------------------------------------------------------------------------------------
// Introspection: a client learns only about its own tokens, unless it is a resource server.

/// `token` introspected by `client`: its `active`.
async fn active_for(s: &TestServer, client: (&str, &str), token: &str) -> bool {
    let (status, body, _) = endpoint(s, "/oidc/introspect", Some(client), &[("token", token)]).await;
    assert_eq!(status, StatusCode::OK, "introspection: {body}");
    if body["active"] == false {
        assert_eq!(body, serde_json::json!({"active": false}), "nothing else leaks");
    }
    body["active"].as_bool().unwrap()
}

#[tokio::test]
async fn a_client_cannot_introspect_the_tokens_of_another_client() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let (access, refresh) = tokens(&s, &mut b).await;
    // Its own tokens: active.
    assert!(active_for(&s, APP, &access).await);
    assert!(active_for(&s, APP, &refresh).await);
    // Another confidential client learns nothing, as for a token that does not exist.
    assert!(
        !active_for(&s, OTHER, &access).await,
        "another client's access token"
    );
    assert!(
        !active_for(&s, OTHER, &refresh).await,
        "another client's refresh token"
    );
    let (status, body, _) = endpoint(
        &s,
        "/oidc/introspect",
        Some(OTHER),
        &[("token", &refresh), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, serde_json::json!({"active": false}))
    );
    // A resource server (introspect_all_tokens) may check every token.
    assert!(active_for(&s, RS, &access).await);
    assert!(active_for(&s, RS, &refresh).await);
    // Its own client-credentials token stays its own: `app` cannot see it either.
    let (_, cc, _) = token(&s, Some(RS), &[("grant_type", "client_credentials")]).await;
    let rs_token = cc["access_token"].as_str().unwrap();
    assert!(active_for(&s, RS, rs_token).await);
    assert!(!active_for(&s, APP, rs_token).await);
}

// ---------------------------------------------------------------------------------------------
// RP-initiated logout: only registered post-logout URIs.

#[tokio::test]
async fn an_open_redirect_in_post_logout_redirect_uri_is_shown_not_followed() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    for target in [
        "https://attacker.example/".to_owned(),
        format!("{BYE}?next=https://attacker.example"),
        format!("{BYE}.attacker.example"),
        "//attacker.example/".to_owned(),
    ] {
        let path = format!(
            "/oidc/logout?{}",
            form_encode(&[
                ("client_id", APP.0),
                ("post_logout_redirect_uri", &target),
                ("state", "s1")
            ])
        );
        let r = b.get(&s, &path).await;
        let to = location(&r);
        assert!(!to.contains("attacker"), "{target}: redirected to {to}");
        let (status, html) = b.follow(&s, r).await.page();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{target}: {html}");
    }
}

#[tokio::test]
async fn a_post_logout_redirect_uri_of_another_client_is_refused() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let path = format!(
        "/oidc/logout?{}",
        form_encode(&[("client_id", OTHER.0), ("post_logout_redirect_uri", BYE)])
    );
    let r = b.get(&s, &path).await;
    assert!(!location(&r).starts_with(BYE), "{}", location(&r));
    let (status, _) = b.follow(&s, r).await.page();
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

// ---------------------------------------------------------------------------------------------
// CSRF: every form refuses a POST without its token, and the action does not happen.

#[tokio::test]
async fn the_login_form_without_its_csrf_token_is_refused_and_logs_nobody_in() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let req = Authorize::new(APP.0);
    let r = b.get(&s, &req.path()).await;
    let (_, html) = b.follow(&s, r).await.page();
    let mut form = Form::find(&html, "/login");
    form.set("username", ALICE.0).set("password", ALICE.1);
    let stripped = form.without_csrf();
    let r = b.post(&s, &stripped.path(), &stripped.fields).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(!location(&r).starts_with(CALLBACK), "no code without the token");
    assert!(
        !b.has_cookie(nauthilus_idp::SESSION_COOKIE),
        "no session without the token"
    );

    let mut forged = form.clone();
    for (k, v) in &mut forged.fields {
        if k.to_ascii_lowercase().contains("csrf") {
            *v = format!("{v}x");
        }
    }
    let r = b.post(&s, &forged.path(), &forged.fields).await;
    assert!(r.status().is_client_error(), "a wrong token: {}", r.status());
    assert!(!b.has_cookie(nauthilus_idp::SESSION_COOKIE));
}

#[tokio::test]
async fn a_login_post_from_another_site_is_refused() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let req = Authorize::new(APP.0);
    let r = b.get(&s, &req.path()).await;
    let (_, html) = b.follow(&s, r).await.page();
    let mut form = Form::find(&html, "/login");
    form.set("username", ALICE.0).set("password", ALICE.1);
    let r = b
        .http
        .post(s.url(&form.path()))
        .header(COOKIE, b.cookie_header())
        .header("origin", "https://attacker.example")
        .header("sec-fetch-site", "cross-site")
        .form(&form.fields)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(!location(&r).starts_with(CALLBACK));
}

#[tokio::test]
async fn the_consent_form_without_its_csrf_token_is_refused_and_grants_nothing() {
    let dir = keys();
    let yaml = idp_yaml(dir.path().to_str().unwrap(), "")
        .replace("consent: {mode: skip}", "consent: {mode: always}");
    let users = std::fs::read_to_string(fixtures().join("users.passwd")).unwrap();
    let s = TestServer::with_users(&users, "", &yaml).await;
    let mut b = Browser::new();
    let req = Authorize::new(APP.0);
    let r = b.get(&s, &req.path()).await;
    let (_, html) = b.follow(&s, r).await.page();
    let mut form = Form::find(&html, "/login");
    form.set("username", ALICE.0).set("password", ALICE.1);
    let r = b.post(&s, &form.path(), &form.fields).await;
    let (status, html) = b.follow(&s, r).await.page();
    assert_eq!(status, StatusCode::OK, "the consent page: {html}");
    let consent = Form::find(&html, "/consent");
    let stripped = consent.without_csrf();
    let r = b.post(&s, &stripped.path(), &stripped.fields).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(
        !location(&r).starts_with(CALLBACK),
        "no code without the token: {}",
        location(&r)
    );
}

#[tokio::test]
async fn the_logout_form_without_its_csrf_token_is_refused_and_the_session_stays() {
    let (s, _k) = server().await;
    let mut b = Browser::new();
    let _ = tokens(&s, &mut b).await;
    assert!(b.has_cookie(nauthilus_idp::SESSION_COOKIE));
    let path = format!(
        "/oidc/logout?{}",
        form_encode(&[("client_id", APP.0), ("post_logout_redirect_uri", BYE)])
    );
    let r = b.get(&s, &path).await;
    let (status, html) = b.follow(&s, r).await.page();
    assert_eq!(status, StatusCode::OK, "the logout confirmation: {html}");
    let form = Form::find(&html, "/logout");
    let stripped = form.without_csrf();
    let r = b.post(&s, &stripped.path(), &stripped.fields).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(!location(&r).starts_with(BYE));
    // Still logged in: a new authorization needs no login page.
    let req = Authorize::new(APP.0);
    let r = b.get(&s, &req.path()).await;
    let to = b.follow(&s, r).await.away();
    assert!(query_of(&to).contains_key("code"), "still logged in: {to}");
}

#[tokio::test]
async fn the_device_form_without_its_csrf_token_is_refused_and_approves_nothing() {
    let dir = keys();
    let yaml = idp_yaml(dir.path().to_str().unwrap(), "").replace(
        "grant_types: [authorization_code, refresh_token, client_credentials]",
        "grant_types: [authorization_code, refresh_token, client_credentials, \"urn:ietf:params:oauth:grant-type:device_code\"]",
    );
    let users = std::fs::read_to_string(fixtures().join("users.passwd")).unwrap();
    let s = TestServer::with_users(&users, "", &yaml).await;
    let mut b = Browser::new();
    let _ = tokens(&s, &mut b).await;
    let (status, device, _) = endpoint(&s, "/oidc/device", Some(APP), &[("scope", "openid")]).await;
    assert_eq!(status, StatusCode::OK, "{device}");
    let user_code = device["user_code"].as_str().unwrap();
    let device_code = device["device_code"].as_str().unwrap();
    let r = b
        .get(
            &s,
            &format!("/device?{}", form_encode(&[("user_code", user_code)])),
        )
        .await;
    let (_, html) = b.follow(&s, r).await.page();
    let mut form = Form::find(&html, "/device");
    if form.get("user_code").is_some() {
        form.set("user_code", user_code);
    }
    let stripped = form.without_csrf();
    let r = b.post(&s, &stripped.path(), &stripped.fields).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    let poll = token(
        &s,
        Some(APP),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
        ],
    )
    .await;
    assert_eq!(poll.0, StatusCode::BAD_REQUEST, "{}", poll.1);
    assert_eq!(poll.1["error"], "authorization_pending", "{}", poll.1);
}
