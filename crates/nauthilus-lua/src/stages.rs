//! The pipeline's script traits implemented on the VM pools, with the return conventions of
//! lua-api.md §2 (missing or nil returns read as false / 0; a wrong type is a failure).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::{BoxFuture, join_all};
use mlua::{AnyUserData, Lua, MultiValue, Value};
use nauthilus_core::{
    AuthMode, AuthOutcome, AuthRequest, BackendId, Decision, FailReason, FieldNames, Filter, FilterError,
    HookRequest, HookResponse, PassDbResult, PostAction, ScriptActions, ScriptBackend, ScriptFeatureVerdict,
    ScriptFeatures, ScriptHooks, ScriptScratch, Upstream, UserData,
};

use crate::modules::BackendResult;
use crate::vm::{CallError, CallState, Field, Kind, Pool, Request, ret_bool, ret_int};
use crate::{LuaHost, hook_name};

fn s(v: &str) -> Field {
    Field::Str(v.to_owned())
}

/// The fields every kind shares (`redis_prefix`, `logging`, ...).
pub(crate) fn common(host: &LuaHost, session: String) -> Request {
    let sh = &host.shared;
    vec![
        ("session", Field::Str(session)),
        ("debug", Field::Bool(sh.log_level == "debug")),
        ("log_format", s(sh.log_format)),
        ("log_level", s(&sh.log_level)),
        ("redis_prefix", s(&sh.redis_prefix)),
        (
            "logging",
            Field::Map(vec![
                ("log_format", sh.log_format.to_owned()),
                ("log_level", sh.log_level.clone()),
            ]),
        ),
    ]
}

/// The `request` table of a login.
fn login_request(host: &LuaHost, req: &AuthRequest, outcome: Option<&AuthOutcome>, kind: Kind) -> Request {
    let mut r = common(host, req.session.to_string());
    let (user_found, authenticated, account, fields) = match outcome.map(|o| &o.decision) {
        Some(Decision::Ok(u)) => (
            true,
            req.mode == AuthMode::Authenticate,
            u.account.clone(),
            Some(&u.fields),
        ),
        Some(Decision::Fail(FailReason::WrongPassword | FailReason::Filtered)) => {
            (true, false, String::new(), None)
        }
        _ => (false, false, String::new(), None),
    };
    let client_net = if kind == Kind::Backend {
        String::new()
    } else {
        req.client.ip.clone()
    };
    let first = |name: &str| -> String {
        let user = match outcome.map(|o| &o.decision) {
            Some(Decision::Ok(u)) => u,
            _ => return String::new(),
        };
        user.attributes
            .get(name)
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default()
    };
    let unique_user_id = fields.map_or(String::new(), |f| first(&f.webauthn_userid_field));
    let display_name = fields.map_or(String::new(), |f| first(&f.display_name_field));
    // Latency counts from the first scripted stage that saw the request (features run first).
    let now = nauthilus_core::clock::instant();
    let (started, feature, bucket, counter, repeating) = req.scratch.with(|s| {
        (
            *s.started.get_or_insert(now),
            s.feature.clone(),
            s.brute_force_bucket.clone(),
            s.brute_force_counter,
            s.repeating,
        )
    });
    #[allow(clippy::cast_precision_loss)]
    let latency = now.saturating_duration_since(started).as_millis() as f64;
    let (unique_user_id, display_name, feature, bucket, counter, repeating) = if kind == Kind::Backend {
        // As Nauthilus: the backend sees no account, display or brute-force fields.
        (
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            0,
            false,
        )
    } else {
        (unique_user_id, display_name, feature, bucket, counter, repeating)
    };
    #[allow(clippy::cast_precision_loss)]
    let counter = counter as f64;
    let tls = &req.tls;
    r.extend([
        ("service", s(req.service.as_str())),
        ("client_ip", s(&req.client.ip)),
        ("client_port", s(&req.client.port)),
        ("client_net", Field::Str(client_net)),
        ("client_hostname", s(&req.client.hostname)),
        ("client_id", s(&req.client.id)),
        ("user_agent", s(&req.client.user_agent)),
        ("local_ip", s(&req.local.ip)),
        ("local_port", s(&req.local.port)),
        ("username", s(&req.username)),
        (
            "password",
            Field::Str(String::from_utf8_lossy(req.password.expose()).into_owned()),
        ),
        ("protocol", s(req.protocol.as_str())),
        ("method", s(&req.method)),
        ("oidc_cid", s(&req.oidc_cid)),
        ("account", Field::Str(account)),
        (
            "account_field",
            s(fields.map_or("", |f| f.account_field.as_str())),
        ),
        ("unique_user_id", Field::Str(unique_user_id)),
        ("display_name", Field::Str(display_name)),
        ("brute_force_bucket", Field::Str(bucket)),
        ("feature", Field::Str(feature)),
        ("repeating", Field::Bool(repeating)),
        ("user_found", Field::Bool(user_found)),
        ("authenticated", Field::Bool(authenticated)),
        ("no_auth", Field::Bool(req.mode == AuthMode::NoAuth)),
        ("brute_force_counter", Field::Num(counter)),
        ("latency", Field::Num(latency)),
        ("ssl", s(&tls.ssl)),
        ("ssl_session_id", s(&tls.session_id)),
        ("ssl_client_verify", s(&tls.client_verify)),
        ("ssl_client_dn", s(&tls.client_dn)),
        ("ssl_client_cn", s(&tls.client_cn)),
        ("ssl_issuer", s(&tls.issuer)),
        ("ssl_client_not_before", s(&tls.client_not_before)),
        ("ssl_client_not_after", s(&tls.client_not_after)),
        ("ssl_subject_dn", s(&tls.subject_dn)),
        ("ssl_issuer_dn", s(&tls.issuer_dn)),
        ("ssl_client_subject_dn", s(&tls.client_subject_dn)),
        ("ssl_client_issuer_dn", s(&tls.client_issuer_dn)),
        ("ssl_protocol", s(&tls.protocol)),
        ("ssl_cipher", s(&tls.cipher)),
        ("ssl_serial", s(&tls.serial)),
        ("ssl_fingerprint", s(&tls.fingerprint)),
    ]);
    let status = match outcome.map(|o| &o.decision) {
        Some(Decision::Ok(_)) => 200.0,
        Some(Decision::Fail(_)) => 403.0,
        Some(Decision::TempFail(_)) => 500.0,
        None => 0.0,
    };
    r.push(("http_status", Field::Num(status)));
    if let Some(msg) = outcome.and_then(|o| o.status_message.clone()) {
        r.push(("status_message", Field::Str(msg)));
    } else if kind == Kind::PostAction {
        let default = if outcome.is_some_and(AuthOutcome::is_ok) {
            "OK"
        } else {
            "Invalid login or password"
        };
        r.push(("status_message", s(default)));
    }
    r
}

fn log_failure(e: &CallError, session: &str) {
    tracing::warn!(session, error = %e, "lua script failed");
}

// ---------------------------------------------------------------------------------------------
// Backend

/// A Lua backend (`lua`, `lua(<name>)`).
pub struct LuaBackend {
    host: Arc<LuaHost>,
    name: Option<String>,
    label: String,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for LuaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaBackend").field("name", &self.label).finish()
    }
}

impl LuaBackend {
    pub(crate) fn new(host: Arc<LuaHost>, name: Option<String>, pool: Arc<Pool>) -> Self {
        let label = match &name {
            None => "lua".to_owned(),
            Some(n) => format!("lua({n})"),
        };
        Self {
            host,
            name,
            label,
            pool,
        }
    }

    fn script(&self) -> String {
        self.pool
            .scripts()
            .first()
            .map(|s| s.name.clone())
            .unwrap_or_default()
    }
}

fn read_verify(_: &Lua, v: MultiValue, _: &mut CallState) -> Result<BackendResult, String> {
    if ret_int(&v, 0, "result")? != 0 {
        return Err("nauthilus_backend_verify_password returned BACKEND_RESULT_FAIL".into());
    }
    match v.get(1) {
        Some(Value::UserData(ud)) => read_backend_result(ud),
        other => Err(format!(
            "return value 2: expected a nauthilus_backend_result, got a {}",
            other.map_or("no value", Value::type_name)
        )),
    }
}

fn read_backend_result(ud: &AnyUserData) -> Result<BackendResult, String> {
    ud.borrow::<BackendResult>()
        .map(|r| r.clone())
        .map_err(|_| "expected a nauthilus_backend_result".to_owned())
}

fn read_list(_: &Lua, v: MultiValue, _: &mut CallState) -> Result<Vec<String>, String> {
    if ret_int(&v, 0, "result")? != 0 {
        return Err("nauthilus_backend_list_accounts returned BACKEND_RESULT_FAIL".into());
    }
    match v.get(1) {
        None | Some(Value::Nil) => Ok(Vec::new()),
        Some(Value::Table(t)) => t
            .clone()
            .sequence_values::<Value>()
            .map(|x| {
                x.map_err(|e| e.to_string()).and_then(|x| {
                    crate::value::scalar_string(&x).ok_or_else(|| "accounts must be strings".to_owned())
                })
            })
            .collect(),
        Some(other) => Err(format!(
            "return value 2: expected a list, got a {}",
            other.type_name()
        )),
    }
}

impl ScriptBackend for LuaBackend {
    fn name(&self) -> &str {
        &self.label
    }

    fn verify<'a>(&'a self, req: &'a AuthRequest) -> BoxFuture<'a, Result<PassDbResult, String>> {
        Box::pin(async move {
            let search = &self.host.config.lua.search;
            if !search.is_empty()
                && self
                    .host
                    .config
                    .lua
                    .search_for(self.name.as_deref(), req.protocol.as_str())
                    .is_none()
            {
                return Ok(PassDbResult::UserNotFound);
            }
            let request = login_request(&self.host, req, None, Kind::Backend);
            let state = CallState::new(Kind::Backend, req.scratch.clone());
            let (mut results, _) = self
                .pool
                .run(
                    vec![self.script()],
                    "nauthilus_backend_verify_password",
                    request,
                    state,
                    read_verify,
                )
                .await;
            let result = match results.pop() {
                Some(Ok(r)) => r,
                Some(Err(e)) => {
                    log_failure(&e, &req.session.to_string());
                    return Err(e.to_string());
                }
                None => return Err("lua backend: no result".into()),
            };
            if !result.user_found {
                return Ok(PassDbResult::UserNotFound);
            }
            let account = result
                .attributes
                .get(&result.account_field)
                .and_then(|v| v.first())
                .cloned()
                .unwrap_or_else(|| req.username.clone());
            let user = UserData {
                account,
                backend: BackendId::Lua,
                fields: FieldNames {
                    account_field: result.account_field.clone(),
                    totp_secret_field: result.totp_secret_field.clone(),
                    webauthn_userid_field: result.unique_user_id_field.clone(),
                    display_name_field: result.display_name_field.clone(),
                },
                attributes: result.attributes,
            };
            Ok(PassDbResult::Found {
                user: Arc::new(user),
                password_ok: result.authenticated || req.mode == AuthMode::NoAuth,
            })
        })
    }

    fn list_accounts(&self) -> BoxFuture<'_, Result<Vec<String>, String>> {
        Box::pin(async move {
            let session = format!("list-accounts-{}", rand_id());
            let request = common(&self.host, session.clone());
            let state = CallState::new(Kind::Backend, ScriptScratch::default());
            let (mut results, _) = self
                .pool
                .run(
                    vec![self.script()],
                    "nauthilus_backend_list_accounts",
                    request,
                    state,
                    read_list,
                )
                .await;
            match results.pop() {
                Some(Ok(list)) => Ok(list),
                Some(Err(e)) => {
                    log_failure(&e, &session);
                    Err(e.to_string())
                }
                None => Err("lua backend: no result".into()),
            }
        })
    }
}

fn rand_id() -> u64 {
    rand::random()
}

// ---------------------------------------------------------------------------------------------
// Filters

/// The Lua filters (`lua.filters`), run in parallel and merged in configuration order.
pub struct LuaFilters {
    host: Arc<LuaHost>,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for LuaFilters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaFilters").field("pool", &self.pool).finish()
    }
}

impl LuaFilters {
    pub(crate) fn new(host: Arc<LuaHost>, pool: Arc<Pool>) -> Self {
        Self { host, pool }
    }
}

fn read_filter(_: &Lua, v: MultiValue, _: &mut CallState) -> Result<bool, String> {
    let reject = ret_bool(&v, 0, "reject")?;
    ret_int(&v, 1, "result")?;
    Ok(reject)
}

impl Filter for LuaFilters {
    fn name(&self) -> &str {
        "lua"
    }

    fn apply<'a>(
        &'a self,
        req: &'a AuthRequest,
        outcome: &'a mut AuthOutcome,
    ) -> BoxFuture<'a, Result<(), FilterError>> {
        Box::pin(async move {
            let ok = outcome.is_ok();
            let wanted: Vec<String> = self
                .host
                .config
                .lua
                .filters
                .iter()
                .filter(|f| {
                    let (auth, unauth, no_auth) = f.modes();
                    if req.mode == AuthMode::NoAuth {
                        no_auth
                    } else if ok {
                        auth
                    } else {
                        unauth
                    }
                })
                .map(|f| f.name.clone())
                .collect();
            if wanted.is_empty() {
                return Ok(());
            }
            let request = login_request(&self.host, req, Some(outcome), Kind::Filter);
            let runs = wanted.iter().map(|name| {
                let state = CallState::new(Kind::Filter, req.scratch.clone());
                self.pool.run(
                    vec![name.clone()],
                    "nauthilus_call_filter",
                    request.clone(),
                    state,
                    read_filter,
                )
            });
            let results = join_all(runs).await;
            let mut reject = false;
            let mut add: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let mut remove = Vec::new();
            let mut upstream = None;
            for (name, (mut res, state)) in wanted.iter().zip(results) {
                match res.pop() {
                    Some(Ok(r)) => reject |= r,
                    Some(Err(e)) => {
                        log_failure(&e, &req.session.to_string());
                        return Err(FilterError {
                            filter: name.clone(),
                            message: e.to_string(),
                        });
                    }
                    None => {}
                }
                // Later scripts win among the filters; the backend's own values are kept.
                add.extend(state.filter.add);
                remove.extend(state.filter.remove);
                if let Some((host, port)) = state.filter.upstream {
                    upstream = Some(Upstream { server: host, port });
                }
            }
            if let Decision::Ok(user) = &mut outcome.decision
                && (!add.is_empty() || !remove.is_empty())
            {
                let user = Arc::make_mut(user);
                for (k, v) in add {
                    user.attributes.entry(k).or_insert(v);
                }
                for k in remove {
                    user.attributes.remove(&k);
                }
            }
            if upstream.is_some() {
                outcome.upstream = upstream;
            }
            if reject && outcome.is_ok() {
                outcome.decision = Decision::Fail(FailReason::Filtered);
            }
            Ok(())
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Features and actions

/// The Lua features (`lua.features`), run in parallel.
pub struct LuaFeatures {
    host: Arc<LuaHost>,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for LuaFeatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaFeatures").field("pool", &self.pool).finish()
    }
}

impl LuaFeatures {
    pub(crate) fn new(host: Arc<LuaHost>, pool: Arc<Pool>) -> Self {
        Self { host, pool }
    }
}

fn read_feature(_: &Lua, v: MultiValue, _: &mut CallState) -> Result<(bool, bool), String> {
    let triggered = ret_bool(&v, 0, "triggered")?;
    let abort = ret_bool(&v, 1, "abort")?;
    ret_int(&v, 2, "result")?;
    Ok((triggered, abort))
}

fn read_action(_: &Lua, v: MultiValue, _: &mut CallState) -> Result<i64, String> {
    ret_int(&v, 0, "result")
}

/// Runs the actions of `action_type`, in order, in one VM sharing one `request`.
async fn run_actions(
    host: &LuaHost,
    action_type: &str,
    kind: Kind,
    req: &AuthRequest,
    outcome: Option<&AuthOutcome>,
) {
    let Some(pool) = &host.actions else { return };
    let names: Vec<String> = host
        .config
        .lua
        .actions
        .iter()
        .filter(|a| a.action_type == action_type)
        .map(|a| a.name.clone())
        .collect();
    if names.is_empty() {
        return;
    }
    let request = login_request(host, req, outcome, kind);
    let state = CallState::new(kind, req.scratch.clone());
    let (results, _) = pool
        .run(names, "nauthilus_call_action", request, state, read_action)
        .await;
    for r in results {
        if let Err(e) = r {
            log_failure(&e, &req.session.to_string());
        }
    }
}

impl ScriptFeatures for LuaFeatures {
    fn run<'a>(&'a self, req: &'a AuthRequest) -> BoxFuture<'a, ScriptFeatureVerdict> {
        Box::pin(async move {
            let names: Vec<String> = self
                .host
                .config
                .lua
                .features
                .iter()
                .filter(|f| req.mode != AuthMode::NoAuth || f.when_no_auth)
                .map(|f| f.name.clone())
                .collect();
            let request = login_request(&self.host, req, None, Kind::Feature);
            let runs = names.iter().map(|name| {
                let state = CallState::new(Kind::Feature, req.scratch.clone());
                self.pool.run(
                    vec![name.clone()],
                    "nauthilus_call_feature",
                    request.clone(),
                    state,
                    read_feature,
                )
            });
            let results = join_all(runs).await;
            let mut triggered = None;
            let mut abort = false;
            for (name, (mut res, _)) in names.iter().zip(results) {
                match res.pop() {
                    Some(Ok((t, a))) => {
                        if t && triggered.is_none() {
                            triggered = Some(name.clone());
                        }
                        abort |= a;
                    }
                    Some(Err(e)) => {
                        log_failure(&e, &req.session.to_string());
                        return ScriptFeatureVerdict::Error(e.to_string());
                    }
                    None => {}
                }
            }
            match triggered {
                Some(feature) => {
                    run_actions(&self.host, "lua", Kind::Action, req, None).await;
                    ScriptFeatureVerdict::Triggered { feature }
                }
                None => ScriptFeatureVerdict::Pass { abort },
            }
        })
    }
}

/// The actions of the built-in triggers (`brute_force`, `rbl`, `tls_encryption`,
/// `relay_domains`): run before the answer when that feature refuses a login.
pub struct LuaActions {
    host: Arc<LuaHost>,
}

impl std::fmt::Debug for LuaActions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LuaActions")
    }
}

impl LuaActions {
    pub(crate) fn new(host: Arc<LuaHost>) -> Self {
        Self { host }
    }
}

impl ScriptActions for LuaActions {
    fn run<'a>(&'a self, action_type: &'a str, req: &'a AuthRequest) -> BoxFuture<'a, ()> {
        Box::pin(run_actions(&self.host, action_type, Kind::Action, req, None))
    }

    fn wants(&self, action_type: &str) -> bool {
        self.host
            .config
            .lua
            .actions
            .iter()
            .any(|a| a.action_type == action_type)
    }
}

/// The `post` actions: after the answer, detached, never changing it.
pub struct LuaPostActions {
    host: Arc<LuaHost>,
}

impl std::fmt::Debug for LuaPostActions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LuaPostActions")
    }
}

impl LuaPostActions {
    pub(crate) fn new(host: Arc<LuaHost>) -> Self {
        Self { host }
    }
}

impl PostAction for LuaPostActions {
    fn name(&self) -> &str {
        "lua post actions"
    }

    fn run(&self, req: Arc<AuthRequest>, outcome: Arc<AuthOutcome>) -> BoxFuture<'static, ()> {
        let host = self.host.clone();
        Box::pin(async move {
            // As Nauthilus: only for requests with a client address.
            if req.client.ip.trim().is_empty() {
                return;
            }
            run_actions(&host, "post", Kind::PostAction, &req, Some(&outcome)).await;
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Hooks and init

/// The custom hooks (`lua.custom_hooks`).
pub struct LuaHooks {
    host: Arc<LuaHost>,
}

impl std::fmt::Debug for LuaHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LuaHooks")
    }
}

impl LuaHooks {
    pub(crate) fn new(host: Arc<LuaHost>) -> Self {
        Self { host }
    }
}

/// What a hook returned: a map (JSON), nothing, or something that is an error.
enum HookValue {
    Nothing,
    Json(serde_json::Value),
    Invalid(String),
}

fn read_hook(_: &Lua, v: MultiValue, _: &mut CallState) -> Result<HookValue, String> {
    Ok(match v.front() {
        None | Some(Value::Nil) => HookValue::Nothing,
        Some(Value::Table(t)) => match crate::value::is_array(t).map_err(|e| e.to_string())? {
            Some(n) if n > 0 => HookValue::Invalid("a hook returned a list".into()),
            _ => match crate::value::to_json(&Value::Table(t.clone()), false, 0) {
                // Go encodes maps with sorted keys.
                Ok(serde_json::Value::Object(m)) => {
                    let sorted: BTreeMap<String, serde_json::Value> = m.into_iter().collect();
                    HookValue::Json(serde_json::to_value(sorted).unwrap_or_default())
                }
                Ok(_) => HookValue::Json(serde_json::json!({})),
                Err(e) => HookValue::Invalid(e),
            },
        },
        Some(other) => HookValue::Invalid(format!("a hook returned a {}", other.type_name())),
    })
}

fn json_response(status: u16, body: &serde_json::Value) -> HookResponse {
    HookResponse {
        status,
        headers: vec![("content-type".into(), "application/json; charset=utf-8".into())],
        body: serde_json::to_vec(body).unwrap_or_default(),
    }
}

impl LuaHooks {
    fn find(&self, method: &str, location: &str) -> Option<&nauthilus_config::LuaHook> {
        self.host.config.lua.custom_hooks.iter().find(|h| {
            h.location() == location.trim_start_matches('/') && h.http_method.eq_ignore_ascii_case(method)
        })
    }
}

impl ScriptHooks for LuaHooks {
    fn roles(&self, method: &str, location: &str) -> Option<Vec<String>> {
        self.find(method, location).map(|h| h.roles.clone())
    }

    fn run(&self, req: HookRequest) -> BoxFuture<'_, Option<HookResponse>> {
        Box::pin(async move {
            let hook = self.find(&req.method, &req.location)?;
            let pool = self.host.hooks.clone()?;
            let name = hook_name(&hook.http_method, &hook.http_location);
            let request = common(&self.host, req.session.clone());
            let session = req.session.clone();
            let head = req.method == "HEAD";
            let mut state = CallState::new(Kind::Hook, ScriptScratch::default());
            state.http_request = Some(Arc::new(req));
            let (mut results, state) = pool
                .run(vec![name], "nauthilus_run_hook", request, state, read_hook)
                .await;
            let out = state.http_out;
            let result = match results.pop() {
                Some(Ok(v)) => v,
                Some(Err(e)) => {
                    log_failure(&e, &session);
                    return Some(json_response(500, &serde_json::json!({ "msg": e.to_string() })));
                }
                None => HookValue::Nothing,
            };
            if out.written {
                return Some(HookResponse {
                    status: out.status.unwrap_or(200),
                    headers: out.headers,
                    body: if head { Vec::new() } else { out.body },
                });
            }
            Some(match result {
                HookValue::Nothing => HookResponse {
                    status: 200,
                    ..HookResponse::default()
                },
                HookValue::Json(j) => json_response(200, &j),
                HookValue::Invalid(why) => {
                    tracing::warn!(session = %session, error = %why, "lua hook returned an invalid value");
                    json_response(500, &serde_json::json!({ "msg": why }))
                }
            })
        })
    }
}

/// Runs every init script in order; errors are logged only.
pub(crate) async fn run_init(host: &Arc<LuaHost>) {
    let Some(pool) = host.hooks.clone() else { return };
    for path in host.config.lua.config.init_scripts() {
        let request = common(host, String::new());
        let state = CallState::new(Kind::Init, ScriptScratch::default());
        let name = format!("init:{path}");
        let (results, _) = pool
            .run(
                vec![name],
                "nauthilus_run_hook",
                request,
                state,
                read_action_ignore,
            )
            .await;
        for r in results {
            match r {
                Ok(()) => tracing::info!(script = %path, "lua init script finished"),
                Err(e) => tracing::warn!(script = %path, error = %e, "lua init script failed"),
            }
        }
    }
}

fn read_action_ignore(_: &Lua, _: MultiValue, _: &mut CallState) -> Result<(), String> {
    Ok(())
}
