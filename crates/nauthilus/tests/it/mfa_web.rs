//! Helpers of the second-factor page tests: a server with the IdP and `mfa` on, a browser made
//! of reqwest with its own cookie jar (no redirects followed; every request says it came from
//! our pages, as a browser's `Sec-Fetch-Site` does), and readers for the pages' forms.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::idp_support::{CHALLENGE, REDIRECT, SECRET, VERIFIER, basic, free_port, post_form, url_with};
use crate::support::{TestServer, fixtures};

/// What a test server's MFA credentials are kept in.
pub enum CredentialStore<'a> {
    /// SQLite at this path.
    Sqlite(&'a std::path::Path),
    /// The shared slapd (entries found by `mail`).
    Ldap,
}

/// A server with the IdP (clients `demo-app` and `strict-app`, which requires a second
/// factor) and `mfa` on; `state_yaml` goes under `server:` (a Redis state store).
pub async fn server(
    store: &CredentialStore<'_>,
    keys: &std::path::Path,
    state_yaml: &str,
    webauthn: bool,
) -> TestServer {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("users.passwd"),
        std::fs::read_to_string(fixtures().join("users.passwd")).unwrap(),
    )
    .unwrap();
    let (store_yaml, ldap_yaml) = match store {
        CredentialStore::Sqlite(path) => (
            format!("  sql: {{url: 'sqlite://{}'}}\n", path.display()),
            String::new(),
        ),
        CredentialStore::Ldap => {
            let slapd = nauthilus_testkit::shared_slapd().unwrap();
            (
                format!(
                    "  store: ldap\n  ldap:\n    base_dn: 'ou=people,{}'\n    filter: '(mail=%{{account}})'\n",
                    nauthilus_testkit::SUFFIX
                ),
                format!(
                    "ldap:\n  config:\n    server_uri: ['{}']\n    bind_dn: '{}'\n    bind_pw: '{}'\n",
                    slapd.url(),
                    nauthilus_testkit::ADMIN_DN,
                    nauthilus_testkit::ADMIN_PASSWORD
                ),
            )
        }
    };
    let webauthn_yaml = if webauthn {
        format!("  webauthn: {{rp_id: localhost, rp_origin: 'http://localhost:{port}'}}\n")
    } else {
        String::new()
    };
    let yaml = format!(
        r#"server:
  address: 127.0.0.1:{port}
  backends: [passwd_file]
  log: {{level: warn}}
{state_yaml}
passwd_file:
  path: users.passwd
{ldap_yaml}mfa:
  enabled: true
  encryption_key_file: {keys}
  remember_device: 720h
{store_yaml}{webauthn_yaml}idp:
  enabled: true
  issuer: http://127.0.0.1:{port}
  key_dir: {key_dir}
  session: {{secure_cookie: false}}
  claim_mapping: {{name: displayName}}
  consent: {{mode: skip}}
  clients:
    - client_id: demo-app
      client_secret: {SECRET}
      redirect_uris: ["{REDIRECT}"]
      grant_types: [authorization_code]
      scopes: [openid, profile, email]
      acr_multi_factor: "urn:example:loa:2"
    - client_id: strict-app
      client_secret: {SECRET}
      redirect_uris: ["{REDIRECT}"]
      grant_types: [authorization_code]
      scopes: [openid, profile, email]
      require_mfa: true
"#,
        keys = keys.join("mfa.key").display(),
        key_dir = keys.join("idp-keys").display(),
    );
    TestServer::from_yaml(dir, &yaml).await
}

/// A browser: its cookies, no redirects followed.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    pub cookies: BTreeMap<String, String>,
}

/// A response as the tests look at it.
pub struct Page {
    pub status: u16,
    pub location: String,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Page {
    /// The `value` of the first input named `name` (after `after`, when given).
    pub fn input(&self, name: &str) -> String {
        self.input_after("", name)
    }

    /// The `value` of the first input named `name` after the text `after`.
    pub fn input_after(&self, after: &str, name: &str) -> String {
        let start = self
            .body
            .find(after)
            .unwrap_or_else(|| panic!("{after:?} not in {}", self.body));
        let rest = &self.body[start..];
        let marker = format!("name=\"{name}\" value=\"");
        let at = rest
            .find(&marker)
            .unwrap_or_else(|| panic!("no input {name} in {}", self.body))
            + marker.len();
        rest[at..].split('"').next().unwrap().to_owned()
    }

    /// The text between `start` and the next `end`.
    pub fn between(&self, start: &str, end: &str) -> String {
        let at = self
            .body
            .find(start)
            .unwrap_or_else(|| panic!("{start:?} not in {}", self.body))
            + start.len();
        self.body[at..].split(end).next().unwrap().to_owned()
    }

    /// Every text between `start` and the next `end`.
    pub fn all_between(&self, start: &str, end: &str) -> Vec<String> {
        self.body
            .split(start)
            .skip(1)
            .map(|s| s.split(end).next().unwrap().to_owned())
            .collect()
    }
}

impl Browser {
    pub fn new(s: &TestServer) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: s.server.url(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let r = req
            .header("cookie", self.cookie_header())
            .header("sec-fetch-site", "same-origin")
            .header("user-agent", "it-browser/1.0")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let set_cookies: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let body = r.text().await.unwrap();
        Page {
            status,
            location,
            set_cookies,
            body,
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(self.url(path));
        self.send(req).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(self.url(path)).form(form);
        self.send(req).await
    }

    /// Starts the code flow of `client`: the login page of its flow.
    pub async fn authorize(&mut self, s: &TestServer, client: &str) -> Page {
        let r = self
            .get(&url_with(
                s,
                "/oidc/authorize",
                &[
                    ("response_type", "code"),
                    ("client_id", client),
                    ("redirect_uri", REDIRECT),
                    ("scope", "openid profile email"),
                    ("state", "st"),
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "S256"),
                ],
            ))
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert!(r.location.starts_with("/login?flow="), "{}", r.location);
        self.get(&r.location.clone()).await
    }

    /// Submits the login form `page` with a password.
    pub async fn password(&mut self, page: &Page, user: &str, password: &str) -> Page {
        let flow = page.input("flow");
        let csrf = page.input("csrf");
        self.post(
            "/login/post",
            &[
                ("flow", &flow),
                ("csrf", &csrf),
                ("username", user),
                ("password", password),
            ],
        )
        .await
    }

    /// Signs in for the self-service pages with a password (no second factor enrolled yet).
    pub async fn self_service_login(&mut self, user: &str, password: &str) -> Page {
        let form = self.get("/login?self_service=1").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = form.input("csrf");
        self.post(
            "/login/post",
            &[
                ("self_service", "1"),
                ("csrf", &csrf),
                ("username", user),
                ("password", password),
            ],
        )
        .await
    }

    /// Answers the second-factor step at `location` with `code` of `method`.
    pub async fn second_factor(&mut self, location: &str, method: &str, code: &str, remember: bool) -> Page {
        let page = self.get(location).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let pending = page.input("pending");
        let csrf = page.input("csrf");
        let mut form = vec![
            ("pending", pending.as_str()),
            ("csrf", csrf.as_str()),
            ("method", method),
            ("code", code),
        ];
        if remember {
            form.push(("remember", "1"));
        }
        self.post("/login/mfa/post", &form).await
    }

    /// Posts a self-service `action` from the home page.
    pub async fn home_action(&mut self, fields: &[(&str, &str)]) -> Page {
        let home = self.get("/2fa/v1/home").await;
        assert_eq!(home.status, 200, "{}", home.body);
        let csrf = home.input("csrf");
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post("/2fa/v1/home/post", &form).await
    }
}

/// The TOTP code of `secret` (base32) at `at`, from `oathtool`.
pub fn oathtool(secret: &str, at: SystemTime) -> String {
    let t = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let out = std::process::Command::new("oathtool")
        .args(["--totp", "-b", secret, "-N", &format!("@{t}")])
        .output()
        .expect("oathtool (scripts/test installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Enrols TOTP through the pages (the browser holds a fresh session); the secret.
pub async fn enrol_totp(b: &mut Browser, now: SystemTime) -> String {
    let page = b.get("/2fa/v1/totp").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<figure class=\"qr\" id=\"totp-qr\"><svg"),
        "inline SVG QR code"
    );
    let secret = page.between("id=\"totp-secret\">", "<");
    let csrf = page.input("csrf");
    let wrong = b
        .post("/2fa/v1/totp/post", &[("csrf", &csrf), ("code", "000000")])
        .await;
    assert_eq!(wrong.status, 403, "a wrong first code does not enrol");
    let code = oathtool(&secret, now);
    let ok = b
        .post("/2fa/v1/totp/post", &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_eq!(
        (ok.status, ok.location.as_str()),
        (303, "/2fa/v1/home"),
        "{}",
        ok.body
    );
    secret
}

/// Redeems the code in the client's redirect at the token endpoint; the token response.
pub async fn redeem(s: &TestServer, client: &str, location: &str) -> Value {
    assert!(location.starts_with(REDIRECT), "{location}");
    let q: std::collections::HashMap<String, String> = url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let (status, body, _) = post_form(
        s,
        "/oidc/token",
        Some(&basic(client, SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A time one TOTP step after `now`.
pub fn next_step(now: SystemTime) -> SystemTime {
    now + Duration::from_secs(30)
}
