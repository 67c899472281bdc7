//! What scripted stages (the Lua host, `nauthilus-lua`) plug into the pipeline, as traits, so
//! that this crate knows nothing of Lua: a scripted backend, the pre-auth script features,
//! custom HTTP hooks, and the per-request scratch space the stages of one login share
//! (`nauthilus_context`, custom log fields, a status message).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

use crate::backend::PassDbResult;
use crate::request::AuthRequest;

/// What the scripts of one request share (features, backend, filters, actions).
#[derive(Clone, Debug, Default)]
pub struct RequestScratch {
    /// `nauthilus_context`: values deep-copied in and out of the scripts.
    pub context: serde_json::Map<String, serde_json::Value>,
    /// Fields scripts added to the request's log line (`custom_log_add`).
    pub log_fields: Vec<(String, String)>,
    /// An `Auth-Status` text a script set (`status_message_set`).
    pub status_message: Option<String>,
    /// The built-in feature that refused the login (`tls_encryption`, `relay_domains`, `rbl`),
    /// for the actions of that type (`request.feature`).
    pub feature: String,
    /// The brute-force rule that refused the login (`request.brute_force_bucket`).
    pub brute_force_bucket: String,
    /// The failures counted in that rule's bucket (`request.brute_force_counter`).
    pub brute_force_counter: u64,
    /// True when the login hit a ban that was already in force: the client is a repeating
    /// brute forcer (`request.repeating`); false when this login's failure started the ban.
    pub repeating: bool,
    /// Headers scripts added to the login's answer (`nauthilus_http_response` in features,
    /// filters and actions), in order.
    pub response_headers: Vec<(String, String)>,
    /// When the first scripted stage saw the request (`request.latency` counts from here).
    pub started: Option<std::time::Instant>,
}

/// The scratch space of one request; clones share it.
#[derive(Clone, Default)]
pub struct ScriptScratch(Arc<Mutex<RequestScratch>>);

impl ScriptScratch {
    /// Runs `f` on the scratch space (never held across an await).
    pub fn with<T>(&self, f: impl FnOnce(&mut RequestScratch) -> T) -> T {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}

impl fmt::Debug for ScriptScratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScriptScratch")
    }
}

/// The `lua.actions` of the built-in triggers (`brute_force`, `rbl`, `tls_encryption`,
/// `relay_domains`): run before the answer when that feature refuses a login (brute force: on
/// a ban), with what refused it in the request's scratch space.
pub trait ScriptActions: Send + Sync + fmt::Debug {
    /// Runs the actions of `action_type` for `req`; failures are logged, never change the
    /// answer.
    fn run<'a>(&'a self, action_type: &'a str, req: &'a AuthRequest) -> BoxFuture<'a, ()>;

    /// True when actions of `action_type` are configured.
    fn wants(&self, action_type: &str) -> bool;
}

/// A password database implemented by a script (`lua`, `lua(<name>)`).
pub trait ScriptBackend: Send + Sync + fmt::Debug {
    /// The backend's name for logs (`lua`, `lua(sql)`).
    fn name(&self) -> &str;

    /// Looks the user up and checks the password. An error is a temporary failure.
    fn verify<'a>(&'a self, req: &'a AuthRequest) -> BoxFuture<'a, Result<PassDbResult, String>>;

    /// Every account the script lists.
    fn list_accounts(&self) -> BoxFuture<'_, Result<Vec<String>, String>>;
}

/// What the script features decided for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptFeatureVerdict {
    /// No feature triggered; `abort` skips the built-in features.
    Pass { abort: bool },
    /// A feature triggered (its actions have run): the login fails.
    Triggered { feature: String },
    /// A feature could not run: a temporary failure.
    Error(String),
}

/// The pre-auth script features (`lua.features`).
pub trait ScriptFeatures: Send + Sync + fmt::Debug {
    /// Runs every feature for `req`.
    fn run<'a>(&'a self, req: &'a AuthRequest) -> BoxFuture<'a, ScriptFeatureVerdict>;
}

/// One call of a custom hook (`/api/v1/custom/<location>`).
#[derive(Clone, Debug, Default)]
pub struct HookRequest {
    /// The request id.
    pub session: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// The part of the path after `/api/v1/custom/`.
    pub location: String,
    /// The full request path.
    pub path: String,
    /// Query parameters in order.
    pub query: Vec<(String, String)>,
    /// Request headers (lower-cased names) in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What a hook answers.
#[derive(Clone, Debug, Default)]
pub struct HookResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The custom hooks (`lua.custom_hooks`).
pub trait ScriptHooks: Send + Sync + fmt::Debug {
    /// Runs the hook for `req.location` and `req.method`; `None` when there is none.
    fn run(&self, req: HookRequest) -> BoxFuture<'_, Option<HookResponse>>;

    /// The roles (`lua.custom_hooks[].roles`) a JWT caller needs for the hook at `location`
    /// with `method`; `None` when there is no such hook.
    fn roles(&self, method: &str, location: &str) -> Option<Vec<String>>;
}

/// Calls into an operator's script outside a login (the Lua credential store of MFA): the
/// script's function `function` gets a `request` table holding `fields` (JSON values, besides
/// the usual `session`, `debug`, `logging`, ...) and its return values come back as JSON (nil
/// as null). An error is a script failure (error, timeout, wrong return type).
pub trait ScriptCalls: Send + Sync + fmt::Debug {
    fn call<'a>(
        &'a self,
        function: &'static str,
        fields: Vec<(&'static str, serde_json::Value)>,
    ) -> BoxFuture<'a, Result<Vec<serde_json::Value>, String>>;
}

/// Attribute values a script returned, by name (helper for implementors).
pub type ScriptAttributes = BTreeMap<String, Vec<String>>;
