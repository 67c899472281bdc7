//! Starts the real server in process (real loader, real wiring, a real socket) for each test.

use std::path::{Path, PathBuf};

use nauthilus::RunningServer;
use reqwest::Response;

/// The fixture directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures")
}

/// Installs ring as the process's rustls provider, as `main` does (reqwest's TLS, enabled for
/// the TLS tests, takes it from there).
pub fn crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A running server with its config directory and an HTTP client.
pub struct TestServer {
    pub server: RunningServer,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

impl TestServer {
    /// A server on a free port with `backends: [cache, passwd_file]` over `fixtures/users.passwd`;
    /// `extra` is YAML merged at top level (it may not repeat `server:`; use `server_extra`).
    pub async fn start() -> Self {
        Self::with_config("", "").await
    }

    /// Like [`Self::start`], with extra keys under `server:` and extra top-level YAML.
    pub async fn with_config(server_extra: &str, top_extra: &str) -> Self {
        Self::with_users(
            &std::fs::read_to_string(fixtures().join("users.passwd")).unwrap(),
            server_extra,
            top_extra,
        )
        .await
    }

    /// A server whose passwd-file holds `users`.
    pub async fn with_users(users: &str, server_extra: &str, top_extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("users.passwd"), users).unwrap();
        let yaml = format!(
            "server:\n  address: 127.0.0.1:0\n  backends: [cache, passwd_file]\n  log: {{level: warn}}\n{}\npasswd_file:\n  path: users.passwd\n  check_interval: 100ms\n{top_extra}\n",
            indent(server_extra)
        );
        Self::from_yaml(dir, &yaml).await
    }

    /// A server from a complete YAML config written into `dir`.
    pub async fn from_yaml(dir: tempfile::TempDir, yaml: &str) -> Self {
        let path = dir.path().join("nauthilus.yml");
        std::fs::write(&path, yaml).unwrap();
        let loaded = nauthilus_config::load_file(&path, Vec::new())
            .unwrap_or_else(|e| panic!("config: {:?}", e.errors));
        init_logging(&loaded.config.server.log);
        crypto();
        let server = nauthilus::start(&loaded.config).await.unwrap();
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(4)
            .build()
            .unwrap();
        Self { server, dir, http }
    }

    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    /// POSTs JSON to `/api/v1/auth/json<query>`.
    pub async fn json(&self, query: &str, body: serde_json::Value) -> Response {
        self.http
            .post(self.url(&format!("/api/v1/auth/json{query}")))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// GETs `path` with `headers`.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut req = self.http.get(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }
}

/// Installs the process's log subscriber (the first call wins). With `NAUTHILUS_TEST_LOG_FILE`
/// set, every line of the whole run goes to that file, at debug level and as JSON, through the
/// server's own formatter (`scripts/check-log-secrets` greps it for the tests' secrets);
/// otherwise the first server's `server.log` settings apply, to stderr.
fn init_logging(config: &nauthilus_config::LogConfig) {
    use tracing_subscriber::util::SubscriberInitExt;

    static FILE_LOG: std::sync::Once = std::sync::Once::new();
    // The guard of the background writer lives as long as the test process.
    static GUARD: std::sync::OnceLock<Option<nauthilus::logging::LogGuard>> = std::sync::OnceLock::new();
    let Some(path) = std::env::var_os("NAUTHILUS_TEST_LOG_FILE") else {
        GUARD.get_or_init(|| nauthilus::logging::init(config));
        return;
    };
    FILE_LOG.call_once(|| {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("NAUTHILUS_TEST_LOG_FILE {path:?}: {e}"));
        let everything = nauthilus_config::LogConfig {
            json: true,
            color: false,
            level: nauthilus_config::LogLevel::Debug,
            ..Default::default()
        };
        let filter = tracing_subscriber::EnvFilter::new("debug");
        nauthilus::logging::subscriber(&everything, filter, std::sync::Mutex::new(file))
            .try_init()
            .expect("the test log subscriber is the first one");
    });
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

/// A response header as text ("" when absent).
pub fn header<'a>(r: &'a Response, name: &str) -> &'a str {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Asserts the response is a JSON error with `guid` equal to the session header, and returns
/// the error message.
pub async fn assert_error(r: Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status, "status");
    assert_ne!(header(&r, "auth-status"), "OK", "an error must never say OK");
    let session = header(&r, "x-nauthilus-session").to_owned();
    assert_eq!(session.len(), 27, "session header present");
    let body: serde_json::Value = r.json().await.expect("error body is JSON");
    assert_eq!(body["guid"], session, "guid is the session id");
    body["error"].as_str().expect("error message").to_owned()
}
