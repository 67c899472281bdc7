//! [`ScriptCalls`] on a backend script's pool: what the Lua credential store of MFA uses to
//! call the operator's `nauthilus_backend_*` functions outside a login. The call runs like a
//! backend call (`nauthilus_builtin` with `BACKEND_RESULT_*`, the backend's modules, the time
//! limit, the VM replaced after a failure).

use std::sync::Arc;

use futures::future::BoxFuture;
use mlua::{Lua, MultiValue, Value};
use nauthilus_core::{ScriptCalls, ScriptScratch};

use crate::LuaHost;
use crate::vm::{CallState, Field, Kind, Pool};

/// The functions of one backend script, callable by name.
pub struct LuaScriptCalls {
    host: Arc<LuaHost>,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for LuaScriptCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaScriptCalls")
            .field("pool", &self.pool)
            .finish()
    }
}

impl LuaScriptCalls {
    pub(crate) fn new(host: Arc<LuaHost>, pool: Arc<Pool>) -> Self {
        Self { host, pool }
    }
}

/// Every return value as JSON; a value JSON cannot hold (a function, userdata) is a wrong
/// return type.
fn read_json(_: &Lua, v: MultiValue, _: &mut CallState) -> Result<Vec<serde_json::Value>, String> {
    v.iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Nil => Ok(serde_json::Value::Null),
            v => crate::value::to_json(v, false, 0).map_err(|e| format!("return value {}: {e}", i + 1)),
        })
        .collect()
}

impl ScriptCalls for LuaScriptCalls {
    fn call<'a>(
        &'a self,
        function: &'static str,
        fields: Vec<(&'static str, serde_json::Value)>,
    ) -> BoxFuture<'a, Result<Vec<serde_json::Value>, String>> {
        Box::pin(async move {
            let session = format!("script-call-{:016x}", rand::random::<u64>());
            let mut request = crate::stages::common(&self.host, session.clone());
            request.extend(fields.into_iter().map(|(k, v)| (k, Field::Json(v))));
            let state = CallState::new(Kind::Backend, ScriptScratch::default());
            let script = self
                .pool
                .scripts()
                .first()
                .map(|s| s.name.clone())
                .unwrap_or_default();
            let (mut results, _) = self
                .pool
                .run(vec![script], function, request, state, read_json)
                .await;
            match results.pop() {
                Some(Ok(values)) => Ok(values),
                Some(Err(e)) => {
                    tracing::warn!(session, function, error = %e, "lua script call failed");
                    Err(e.to_string())
                }
                None => Err(format!("{function}: no result")),
            }
        })
    }
}
