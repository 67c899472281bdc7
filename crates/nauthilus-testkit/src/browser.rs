//! A real headless Chromium for page tests: Debian's `chromium`, driven by playwright-core.
//!
//! The node project in `tests/browser/` (`driver.mjs`, playwright-core pinned by its
//! `package-lock.json`, no browser download) launches `/usr/bin/chromium` (or
//! `NAUTHILUS_CHROMIUM`) with `--headless --no-sandbox --disable-gpu --disable-quic
//! --no-first-run --disable-background-networking --disable-component-update --disable-sync` and a
//! temporary profile directory, then answers one JSON request per line on stdin. One browser runs
//! per test binary ([`shared_browser`]); each test opens its own [`BrowserContext`] (own cookies,
//! own locale), so tests stay apart. When the test process ends, however it ends, the driver's
//! stdin closes and it closes the browser: nothing is left running.
//!
//! The calls are async: each round trip runs on tokio's blocking pool, so a current-thread test
//! runtime keeps serving the in-process server the browser is talking to.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};

use serde_json::{Value, json};

use crate::TestkitError;

/// The default Chromium binary (Debian package `chromium`).
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// The node project that drives the browser.
fn driver_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser")
}

/// The pipes of the running driver; one request at a time.
struct Driver {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

/// One headless Chromium behind the playwright driver.
pub struct Browser {
    driver: Mutex<Driver>,
    version: String,
}

/// The outcome of a navigation: the main document's final status and URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Navigation {
    /// HTTP status of the last response of the navigation (after redirects).
    pub status: u16,
    /// The page's URL after the navigation.
    pub url: String,
}

fn browser_error(detail: impl Into<String>) -> TestkitError {
    TestkitError::Browser {
        detail: detail.into(),
    }
}

impl Browser {
    /// Starts the driver and its browser and waits for its ready line.
    pub fn start() -> Result<Self, TestkitError> {
        let chromium = std::env::var_os("NAUTHILUS_CHROMIUM")
            .map_or_else(|| PathBuf::from(DEFAULT_CHROMIUM), PathBuf::from);
        if !chromium.is_file() {
            return Err(TestkitError::BinaryNotFound {
                binary: "chromium",
                package: "chromium",
            });
        }
        let dir = driver_dir();
        if !dir.join("node_modules/playwright-core").is_dir() {
            return Err(browser_error(format!(
                "playwright-core is not installed in {}: run `npm ci --prefix tests/browser` (scripts/test does)",
                dir.display()
            )));
        }
        let node = crate::binary::find_binary("node")?;
        let mut child = Command::new(node)
            .arg("driver.mjs")
            .current_dir(&dir)
            .env("NAUTHILUS_CHROMIUM", &chromium)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|err| {
                TestkitError::io("starting the browser driver (node tests/browser/driver.mjs)", err)
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(browser_error("the driver's pipes are missing"));
        };
        let mut driver = Driver {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            next_id: 1,
        };
        let ready = driver.read_line()?;
        if ready.get("ready") != Some(&Value::Bool(true)) {
            return Err(browser_error(format!("the driver did not report ready: {ready}")));
        }
        let version = ready
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(Self {
            driver: Mutex::new(driver),
            version,
        })
    }

    /// The browser's version, e.g. `156.0.8078.108`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Opens a fresh context (no cookies) with one page; `locale` sets `Accept-Language`.
    pub async fn context(&'static self, locale: &str) -> Result<BrowserContext, TestkitError> {
        let id = self.call(json!({"op": "newContext", "locale": locale})).await?;
        let id = id
            .as_u64()
            .ok_or_else(|| browser_error(format!("newContext answered {id}")))?;
        Ok(BrowserContext { browser: self, id })
    }

    /// One request/answer round trip, off the async worker.
    async fn call(&'static self, request: Value) -> Result<Value, TestkitError> {
        tokio::task::spawn_blocking(move || self.call_blocking(request))
            .await
            .map_err(|err| browser_error(format!("browser call task failed: {err}")))?
    }

    fn call_blocking(&self, mut request: Value) -> Result<Value, TestkitError> {
        let mut driver = self.driver.lock().unwrap_or_else(PoisonError::into_inner);
        let id = driver.next_id;
        driver.next_id += 1;
        request["id"] = json!(id);
        let op = request.get("op").cloned().unwrap_or(Value::Null);
        let mut line = request.to_string();
        line.push('\n');
        driver
            .stdin
            .write_all(line.as_bytes())
            .and_then(|()| driver.stdin.flush())
            .map_err(|err| TestkitError::io("writing to the browser driver", err))?;
        let answer = driver.read_line()?;
        if answer.get("id") != Some(&json!(id)) {
            return Err(browser_error(format!("answer out of order for {op}: {answer}")));
        }
        if answer.get("ok") == Some(&Value::Bool(true)) {
            Ok(answer.get("value").cloned().unwrap_or(Value::Null))
        } else {
            let error = answer
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown error");
            Err(browser_error(format!("{op} failed: {error}")))
        }
    }
}

impl Driver {
    fn read_line(&mut self) -> Result<Value, TestkitError> {
        let mut line = String::new();
        let read = self
            .stdout
            .read_line(&mut line)
            .map_err(|err| TestkitError::io("reading from the browser driver", err))?;
        if read == 0 {
            let status = self.child.try_wait().ok().flatten();
            return Err(browser_error(format!(
                "the browser driver ended (status {status:?})"
            )));
        }
        serde_json::from_str(&line).map_err(|err| browser_error(format!("bad driver line {line:?}: {err}")))
    }
}

/// One isolated browser context with one page. Close it with [`BrowserContext::close`].
pub struct BrowserContext {
    browser: &'static Browser,
    id: u64,
}

impl BrowserContext {
    async fn call(&self, mut request: Value) -> Result<Value, TestkitError> {
        request["ctx"] = json!(self.id);
        self.browser.call(request).await
    }

    async fn navigation(&self, request: Value) -> Result<Navigation, TestkitError> {
        let value = self.call(request).await?;
        let status = value
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or_default();
        let url = value
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(Navigation { status, url })
    }

    /// Loads `url` and waits for the `load` event.
    pub async fn goto(&self, url: &str) -> Result<Navigation, TestkitError> {
        self.navigation(json!({"op": "goto", "url": url})).await
    }

    /// Types `value` into the element `selector` (CSS).
    pub async fn fill(&self, selector: &str, value: &str) -> Result<(), TestkitError> {
        self.call(json!({"op": "fill", "selector": selector, "value": value}))
            .await
            .map(drop)
    }

    /// Clicks `selector` and waits for the navigation it starts (a form submit, a link).
    pub async fn click(&self, selector: &str) -> Result<Navigation, TestkitError> {
        self.navigation(json!({"op": "click", "selector": selector}))
            .await
    }

    /// Ticks the checkbox `selector` (no navigation).
    pub async fn check(&self, selector: &str) -> Result<(), TestkitError> {
        self.call(json!({"op": "check", "selector": selector}))
            .await
            .map(drop)
    }

    /// Presses a key (`Tab`, `Enter`) on the page.
    pub async fn press(&self, key: &str) -> Result<(), TestkitError> {
        self.call(json!({"op": "press", "key": key})).await.map(drop)
    }

    /// The `id` (or else `name`) of the focused element, if any.
    pub async fn focused(&self) -> Result<Option<String>, TestkitError> {
        Ok(self
            .call(json!({"op": "focused"}))
            .await?
            .as_str()
            .map(str::to_owned))
    }

    /// The page's current URL.
    pub async fn url(&self) -> Result<String, TestkitError> {
        Ok(self
            .call(json!({"op": "url"}))
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The page's serialized HTML.
    pub async fn content(&self) -> Result<String, TestkitError> {
        Ok(self
            .call(json!({"op": "content"}))
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The rendered text of the first element matching `selector`.
    pub async fn text(&self, selector: &str) -> Result<String, TestkitError> {
        let value = self.call(json!({"op": "text", "selector": selector})).await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// Attribute `name` of the first element matching `selector`.
    pub async fn attr(&self, selector: &str, name: &str) -> Result<Option<String>, TestkitError> {
        let value = self
            .call(json!({"op": "attr", "selector": selector, "name": name}))
            .await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// How many elements match `selector`.
    pub async fn count(&self, selector: &str) -> Result<u64, TestkitError> {
        Ok(self
            .call(json!({"op": "count", "selector": selector}))
            .await?
            .as_u64()
            .unwrap_or_default())
    }

    /// The context's cookies as the browser holds them (name, value, httpOnly, sameSite...).
    pub async fn cookies(&self) -> Result<Vec<Value>, TestkitError> {
        match self.call(json!({"op": "cookies"})).await? {
            Value::Array(cookies) => Ok(cookies),
            other => Err(browser_error(format!("cookies answered {other}"))),
        }
    }

    /// Adds a CDP virtual authenticator (CTAP2, internal, resident keys, user verification
    /// that succeeds) to the page; its id.
    pub async fn add_virtual_authenticator(&self) -> Result<String, TestkitError> {
        let id = self.call(json!({"op": "virtualAuthenticator"})).await?;
        id.as_str()
            .map(str::to_owned)
            .ok_or_else(|| browser_error(format!("virtualAuthenticator answered {id}")))
    }

    /// The credentials the virtual authenticator `id` holds (`isResidentCredential`, `rpId`,
    /// `userHandle`, `signCount`).
    pub async fn authenticator_credentials(&self, id: &str) -> Result<Vec<Value>, TestkitError> {
        let value = self
            .call(json!({"op": "authenticatorCredentials", "authenticator": id}))
            .await?;
        Ok(value.as_array().cloned().unwrap_or_default())
    }

    /// Turns the virtual authenticator's simulated user presence on or off (off: requests wait).
    pub async fn authenticator_presence(&self, id: &str, enabled: bool) -> Result<(), TestkitError> {
        self.call(json!({"op": "authenticatorPresence", "authenticator": id, "enabled": enabled}))
            .await
            .map(drop)
    }

    /// Waits until the page's URL ends with `suffix` (a navigation a script starts); the URL.
    pub async fn wait_for_url_end(&self, suffix: &str) -> Result<String, TestkitError> {
        let url = self
            .call(json!({"op": "waitForUrlEnd", "suffix": suffix}))
            .await?;
        Ok(url.as_str().unwrap_or_default().to_owned())
    }

    /// Forgets every cookie of the context (the browser as after a restart, keys kept).
    pub async fn clear_cookies(&self) -> Result<(), TestkitError> {
        self.call(json!({"op": "clearCookies"})).await.map(drop)
    }

    /// Saves a full-page PNG screenshot to `path`.
    pub async fn screenshot(&self, path: &Path) -> Result<(), TestkitError> {
        let path = path
            .to_str()
            .ok_or_else(|| browser_error("screenshot path is not UTF-8"))?;
        self.call(json!({"op": "screenshot", "path": path}))
            .await
            .map(drop)
    }

    /// Closes the context (its page and cookies).
    pub async fn close(self) -> Result<(), TestkitError> {
        self.call(json!({"op": "closeContext"})).await.map(drop)
    }
}

static BROWSER: OnceLock<Result<Browser, String>> = OnceLock::new();

/// The test binary's shared browser, started on first call and closed when the process ends.
pub fn shared_browser() -> Result<&'static Browser, TestkitError> {
    BROWSER
        .get_or_init(|| Browser::start().map_err(|err| err.to_string()))
        .as_ref()
        .map_err(|message| TestkitError::SharedStart {
            service: "chromium",
            message: message.clone(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_shared_browser_loads_a_page_fills_a_field_and_keeps_contexts_apart() {
        let browser = shared_browser().unwrap();
        assert!(!browser.version().is_empty());
        let page = browser.context("de-DE").await.unwrap();
        let html = "data:text/html,<html lang=de><input id=a><p id=p>hallo</p></html>";
        let nav = page.goto(html).await.unwrap();
        assert!(nav.url.starts_with("data:"));
        assert_eq!(page.text("#p").await.unwrap(), "hallo");
        page.fill("#a", "typed").await.unwrap();
        assert_eq!(page.count("input").await.unwrap(), 1);
        let other = browser.context("en-US").await.unwrap();
        assert!(other.cookies().await.unwrap().is_empty());
        other.close().await.unwrap();
        page.close().await.unwrap();
    }
}
