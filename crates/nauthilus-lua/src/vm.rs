//! The runtime: compiled scripts, pools of prepared VMs, and one call of a script with its
//! limits (time per call, memory per VM), a fresh environment per call and the VM replaced
//! after any failure.
//!
//! A call runs on Tokio's blocking pool (`spawn_blocking` + `Handle::block_on`), so a script
//! that computes for a long time never stalls the async workers; the Rust functions it calls
//! (Redis, HTTP, sleeps) are still async.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mlua::{ChunkMode, Function, HookTriggers, Lua, MultiValue, RegistryKey, Table, Value, VmState};
use nauthilus_core::ScriptScratch;
use tokio::sync::Semaphore;

use crate::Shared;
use crate::modules;

/// Instructions between two checks of the deadline.
const HOOK_EVERY: u32 = 1000;

/// A script compiled once per (re)load.
#[derive(Debug)]
pub(crate) struct Script {
    /// Name for logs (`lua.features[].name`, the hook location, ...).
    pub name: String,
    pub path: String,
    /// LuaJIT bytecode (with the chunk name `@<path>`, so errors name file and line).
    bytecode: Vec<u8>,
}

impl Script {
    /// Reads and compiles `path`; a syntax error names file and line.
    pub fn load(name: &str, path: &str) -> Result<Arc<Self>, String> {
        let source = std::fs::read(path).map_err(|e| format!("lua script {path}: {e}"))?;
        let lua = Lua::new();
        let function = lua
            .load(&source[..])
            .set_name(format!("@{path}"))
            .set_mode(ChunkMode::Text)
            .into_function()
            .map_err(|e| format!("lua script {path}: {e}"))?;
        Ok(Arc::new(Self {
            name: name.to_owned(),
            path: path.to_owned(),
            bytecode: function.dump(false),
        }))
    }
}

/// What kind of call runs (selects `nauthilus_builtin` and the modules bound).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Feature,
    Filter,
    Action,
    PostAction,
    Backend,
    Hook,
    Init,
}

/// Effects of filters on the login (merged by the caller).
#[derive(Debug, Default)]
pub(crate) struct FilterEffects {
    /// `select_backend_server(host, port)`.
    pub upstream: Option<(String, u16)>,
    /// `apply_backend_result(ud)`, in call order.
    pub add: Vec<(String, Vec<String>)>,
    /// `remove_from_backend_result({names})`.
    pub remove: Vec<String>,
}

/// A hook's HTTP response as the script writes it.
#[derive(Debug, Default)]
pub(crate) struct HttpOut {
    pub written: bool,
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Per-call state the modules read and write (Lua app data).
pub(crate) struct CallState {
    pub kind: Kind,
    pub scratch: ScriptScratch,
    pub filter: FilterEffects,
    pub http_request: Option<Arc<nauthilus_core::HookRequest>>,
    pub http_out: HttpOut,
}

impl CallState {
    pub fn new(kind: Kind, scratch: ScriptScratch) -> Self {
        Self {
            kind,
            scratch,
            filter: FilterEffects::default(),
            http_request: None,
            http_out: HttpOut::default(),
        }
    }
}

/// The deadline of the running call (separate app data: the hook reads it often).
struct Deadline(Instant);

/// One field of the `request` table.
#[derive(Clone, Debug)]
pub(crate) enum Field {
    Bool(bool),
    Num(f64),
    Str(String),
    Map(Vec<(&'static str, String)>),
    /// Any JSON value (lists, maps), converted as `json.decode` would.
    Json(serde_json::Value),
}

/// The `request` table of a call, built inside the VM.
pub(crate) type Request = Vec<(&'static str, Field)>;

/// One prepared VM with the pool's scripts loaded.
pub(crate) struct Vm {
    lua: Lua,
    chunks: HashMap<String, RegistryKey>,
}

impl Vm {
    fn new(shared: &Arc<Shared>, scripts: &[Arc<Script>]) -> mlua::Result<Self> {
        let lua = Lua::new();
        // Fail closed: without the allocator hook a script could take all memory.
        lua.set_memory_limit(shared.memory_limit)?;
        // Count hooks do not fire inside compiled traces: keep the JIT off.
        lua.load("if jit then jit.off() end").exec()?;
        let check = |lua: &Lua, _: &mlua::Debug| {
            if let Some(d) = lua.app_data_ref::<Deadline>()
                && nauthilus_core::clock::instant() >= d.0
            {
                return Err(mlua::Error::runtime(
                    "script timed out (server.timeouts.lua_script)",
                ));
            }
            Ok(VmState::Continue)
        };
        lua.set_global_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), check)?;
        lua.set_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), check)?;
        modules::install(&lua, shared)?;
        let mut chunks = HashMap::new();
        for script in scripts {
            let f = lua
                .load(&script.bytecode[..])
                .set_mode(ChunkMode::Binary)
                .set_name(format!("@{}", script.path))
                .into_function()?;
            chunks.insert(script.name.clone(), lua.create_registry_value(f)?);
        }
        Ok(Self { lua, chunks })
    }
}

/// Why a call did not produce a result.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum CallError {
    #[error("lua {kind:?} {script}: {message}")]
    Script {
        kind: Kind,
        script: String,
        message: String,
    },
    #[error("lua {0:?}: no VM available: {1}")]
    Unavailable(Kind, String),
}

/// Reads one script's return values.
pub(crate) type Reader<R> = fn(&Lua, MultiValue, &mut CallState) -> Result<R, String>;

/// A pool of prepared VMs for one kind of script.
pub(crate) struct Pool {
    kind: Kind,
    shared: Arc<Shared>,
    scripts: Vec<Arc<Script>>,
    idle: Mutex<Vec<Vm>>,
    permits: Arc<Semaphore>,
    /// Callers allowed to wait for a VM (`queue_length`; `None` = unlimited).
    queue: Option<Arc<Semaphore>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("kind", &self.kind)
            .field(
                "scripts",
                &self.scripts.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Pool {
    /// A pool of `size` VMs running `scripts`; one VM is built now to surface errors early.
    pub fn new(
        kind: Kind,
        shared: Arc<Shared>,
        scripts: Vec<Arc<Script>>,
        size: usize,
        queue: usize,
    ) -> Result<Arc<Self>, String> {
        let first = Vm::new(&shared, &scripts).map_err(|e| format!("lua {kind:?} VM: {e}"))?;
        Ok(Arc::new(Self {
            kind,
            shared,
            scripts,
            idle: Mutex::new(vec![first]),
            permits: Arc::new(Semaphore::new(size.max(1))),
            queue: (queue > 0).then(|| Arc::new(Semaphore::new(queue + size.max(1)))),
        }))
    }

    /// The scripts of this pool, in configuration order.
    pub fn scripts(&self) -> &[Arc<Script>] {
        &self.scripts
    }

    fn take_vm(&self) -> mlua::Result<Vm> {
        let vm = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match vm {
            Some(vm) => Ok(vm),
            None => Vm::new(&self.shared, &self.scripts),
        }
    }

    fn give_back(&self, vm: Vm) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(vm);
    }

    /// Runs `names` (in order, sharing one `request` table) in one VM, calling `entry` of each.
    /// Returns one result per script that ran; the first failure stops the sequence and the VM
    /// is replaced.
    pub async fn run<R: Send + 'static>(
        self: &Arc<Self>,
        names: Vec<String>,
        entry: &'static str,
        request: Request,
        state: CallState,
        read: Reader<R>,
    ) -> (Vec<Result<R, CallError>>, CallState) {
        let kind = state.kind;
        let _queued = match &self.queue {
            Some(q) => match q.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    let e = CallError::Unavailable(kind, "queue_length reached".into());
                    return (vec![Err(e)], state);
                }
            },
            None => None,
        };
        let permit = match self.permits.clone().acquire_owned().await {
            Ok(p) => p,
            Err(e) => return (vec![Err(CallError::Unavailable(kind, e.to_string()))], state),
        };
        let vm = match self.take_vm() {
            Ok(vm) => vm,
            Err(e) => return (vec![Err(CallError::Unavailable(kind, e.to_string()))], state),
        };
        let pool = self.clone();
        let timeout = self.shared.timeout;
        let handle = tokio::runtime::Handle::current();
        let job = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let deadline = nauthilus_core::clock::instant() + timeout;
            vm.lua.set_app_data(Deadline(deadline));
            vm.lua.set_app_data(state);
            let fut = execute(&pool.shared, &vm, kind, &names, entry, &request, read);
            // The hook stops Lua code at the deadline; this stops waits inside Rust functions.
            let results =
                match handle.block_on(tokio::time::timeout(timeout + Duration::from_millis(100), fut)) {
                    Ok(results) => results,
                    Err(_) => vec![Err(CallError::Script {
                        kind,
                        script: names.first().cloned().unwrap_or_default(),
                        message: "script timed out (server.timeouts.lua_script)".into(),
                    })],
                };
            vm.lua.remove_app_data::<Deadline>();
            let state = vm.lua.remove_app_data::<CallState>();
            let failed = results.iter().any(Result::is_err);
            if failed {
                tracing::debug!(kind = ?kind, "lua VM replaced after a failed call");
                drop(vm);
            } else {
                if let Err(e) = release(&vm.lua, pool.shared.memory_limit) {
                    tracing::warn!(kind = ?kind, error = %e, "lua VM replaced: release failed");
                } else {
                    pool.give_back(vm);
                }
            }
            (results, state)
        });
        match job.await {
            Ok((results, Some(state))) => (results, state),
            Ok((results, None)) => (results, CallState::new(kind, ScriptScratch::default())),
            Err(e) => (
                vec![Err(CallError::Unavailable(
                    kind,
                    format!("lua call aborted: {e}"),
                ))],
                CallState::new(kind, ScriptScratch::default()),
            ),
        }
    }
}

/// Runs the scripts of one call inside `vm`.
async fn execute<R>(
    shared: &Shared,
    vm: &Vm,
    kind: Kind,
    names: &[String],
    entry: &'static str,
    request: &Request,
    read: Reader<R>,
) -> Vec<Result<R, CallError>> {
    let lua = &vm.lua;
    let fail = |script: &str, message: String| CallError::Script {
        kind,
        script: script.to_owned(),
        message,
    };
    let request_table = match request_table(lua, request) {
        Ok(t) => t,
        Err(e) => return vec![Err(fail(names.first().map_or("", String::as_str), e.to_string()))],
    };
    let mut results = Vec::with_capacity(names.len());
    for name in names {
        let outcome = run_one(shared, vm, kind, name, entry, &request_table).await;
        let result = match outcome {
            Ok(values) => {
                let read_result = match lua.app_data_mut::<CallState>() {
                    Some(mut state) => read(lua, values, &mut state),
                    None => Err("call state missing".to_owned()),
                };
                read_result.map_err(|m| fail(name, m))
            }
            Err(e) => Err(fail(name, e.to_string())),
        };
        let stop = result.is_err();
        results.push(result);
        if stop {
            break;
        }
    }
    results
}

/// One script: fresh environment, modules bound, chunk re-run, entry called with `request`.
async fn run_one(
    shared: &Shared,
    vm: &Vm,
    kind: Kind,
    name: &str,
    entry: &str,
    request: &Table,
) -> mlua::Result<MultiValue> {
    let lua = &vm.lua;
    let key = vm
        .chunks
        .get(name)
        .ok_or_else(|| mlua::Error::runtime(format!("script {name} is not loaded")))?;
    let chunk: Function = lua.registry_value(key)?;
    let globals = lua.globals();
    let env = lua.create_table()?;
    let meta = lua.create_table()?;
    meta.raw_set("__index", globals.clone())?;
    env.set_metatable(Some(meta))?;
    modules::bind_request_scoped(lua, kind, &env)?;
    if let Some(builtin) = modules::builtin(lua, kind)? {
        globals.raw_set("nauthilus_builtin", builtin)?;
    }
    let package: Table = globals.get("package")?;
    package.set("path", shared.package_path.as_str())?;
    chunk.set_environment(env.clone())?;
    let _: MultiValue = chunk.call_async(()).await?;
    let mut function: Value = env.raw_get(entry)?;
    if function.is_nil() {
        function = globals.raw_get(entry)?;
    }
    let Value::Function(function) = function else {
        return Err(mlua::Error::runtime(format!("{name}: no function {entry}")));
    };
    function.call_async(request.clone()).await
}

/// After a call: request-scoped modules unbound, per-call globals removed.
fn release(lua: &Lua, memory_limit: usize) -> mlua::Result<()> {
    let globals = lua.globals();
    for name in [
        "nauthilus_call_feature",
        "nauthilus_call_filter",
        "nauthilus_call_action",
        "nauthilus_builtin",
    ] {
        globals.raw_set(name, Value::Nil)?;
    }
    modules::unbind_request_scoped(lua)?;
    // A full collection after every call costs a walk of the whole heap (modules included)
    // per request, and so did an explicit incremental step (a third of a Lua login's
    // instructions): the collector already steps as the VM allocates. A VM that holds more
    // than a quarter of its limit is collected fully, so that garbage never makes a later call
    // hit `vm_memory_limit` (LuaJIT has no emergency collection before failing).
    if lua.used_memory() > memory_limit / 4 {
        lua.gc_collect()?;
    }
    Ok(())
}

fn request_table(lua: &Lua, request: &Request) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, request.len())?;
    for (name, field) in request {
        let name = *name;
        match field {
            Field::Bool(b) => t.raw_set(name, *b)?,
            Field::Num(n) => t.raw_set(name, *n)?,
            Field::Str(s) => t.raw_set(name, s.as_str())?,
            Field::Map(pairs) => {
                let sub = lua.create_table()?;
                for (k, v) in pairs {
                    sub.raw_set(*k, v.as_str())?;
                }
                t.raw_set(name, sub)?;
            }
            Field::Json(v) => t.raw_set(name, crate::value::from_json(lua, v)?)?,
        }
    }
    Ok(t)
}

/// `ToBool`: nil and false are false, true is true; other types are a wrong return type.
pub(crate) fn ret_bool(values: &MultiValue, i: usize, what: &str) -> Result<bool, String> {
    match values.get(i) {
        None | Some(Value::Nil) => Ok(false),
        Some(Value::Boolean(b)) => Ok(*b),
        Some(other) => Err(format!(
            "return value {} ({what}): expected a boolean, got a {}",
            i + 1,
            other.type_name()
        )),
    }
}

/// `ToInt`: nil is 0; numbers are truncated; other types are a wrong return type.
pub(crate) fn ret_int(values: &MultiValue, i: usize, what: &str) -> Result<i64, String> {
    match values.get(i) {
        None | Some(Value::Nil) => Ok(0),
        Some(Value::Integer(n)) => Ok(*n),
        #[allow(clippy::cast_possible_truncation)]
        Some(Value::Number(n)) if n.is_finite() => Ok(n.trunc() as i64),
        Some(other) => Err(format!(
            "return value {} ({what}): expected a number, got a {}",
            i + 1,
            other.type_name()
        )),
    }
}
