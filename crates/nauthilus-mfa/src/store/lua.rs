//! The Lua credential store (`mfa.store: lua`): enrolments are kept wherever the operator's
//! backend script keeps them (its SQL database, a directory, an HTTP service), through
//! functions of that script. Each gets one `request` table (with `session`, `debug`,
//! `logging`, ... as every backend call) and returns `nauthilus_builtin.BACKEND_RESULT_OK` (0)
//! first; anything else, an error or a timeout is a temporary failure.
//!
//! | operation | function | request fields | further return value |
//! |---|---|---|---|
//! | list | `nauthilus_backend_list_credentials` | `account`, `credential_kind` | list of `{id=…, data=…}` |
//! | put (TOTP) | `nauthilus_backend_add_totp` (Nauthilus v1.12) | `account`, `credential_kind`, `credential_id`, `credential_data`, `totp_secret` (= `credential_data`) | — |
//! | put (others) | `nauthilus_backend_put_credential` | `account`, `credential_kind`, `credential_id`, `credential_data` | — |
//! | remove | `nauthilus_backend_remove_credential` | `account`, `credential_kind`, `credential_id`, `expected_data` (nil: any) | true when this call removed it |
//! | update | `nauthilus_backend_update_credential` | `account`, `credential_kind`, `credential_id`, `old_data`, `credential_data` | true when replaced |
//! | replace all | `nauthilus_backend_replace_credentials` | `account`, `credential_kind`, `credentials` (list of `{id, data}`) | — |
//!
//! `credential_kind` is `totp`, `webauthn`, `recovery_code` or `app_password`; `data` is an
//! opaque JSON document (TOTP secrets inside it are already encrypted). The script must make
//! `remove` and `update` conditional and atomic (e.g. `DELETE … WHERE data = ?` and its
//! affected rows), as the trait demands.

use std::sync::Arc;

use futures::future::BoxFuture;
use nauthilus_core::ScriptCalls;
use serde_json::{Value, json};

use super::{CredentialStore, Kind, Record};
use crate::error::MfaError;

const LIST: &str = "nauthilus_backend_list_credentials";
const ADD_TOTP: &str = "nauthilus_backend_add_totp";
const PUT: &str = "nauthilus_backend_put_credential";
const REMOVE: &str = "nauthilus_backend_remove_credential";
const UPDATE: &str = "nauthilus_backend_update_credential";
const REPLACE: &str = "nauthilus_backend_replace_credentials";

/// Enrolments kept by the operator's Lua backend script.
#[derive(Debug, Clone)]
pub struct LuaCredentials {
    script: Arc<dyn ScriptCalls>,
}

impl LuaCredentials {
    /// A store over `script` (`nauthilus_lua::LuaHost::script_calls`).
    pub fn new(script: Arc<dyn ScriptCalls>) -> Self {
        Self { script }
    }

    /// Calls `function` and checks its first return value is `BACKEND_RESULT_OK`; the other
    /// return values come back.
    async fn call(
        &self,
        function: &'static str,
        account: &str,
        kind: Kind,
        mut fields: Vec<(&'static str, Value)>,
    ) -> Result<Vec<Value>, MfaError> {
        fields.insert(0, ("credential_kind", json!(kind.name())));
        fields.insert(0, ("account", json!(account)));
        let mut values = self
            .script
            .call(function, fields)
            .await
            .map_err(MfaError::Script)?;
        let result = values.first().cloned().unwrap_or(Value::Null);
        match result.as_f64() {
            Some(0.0) => {}
            // A missing or nil result reads as 0 (BACKEND_RESULT_OK), as in Nauthilus.
            None if result.is_null() => {}
            _ => {
                return Err(MfaError::Script(format!(
                    "{function} returned {result} instead of BACKEND_RESULT_OK"
                )));
            }
        }
        if !values.is_empty() {
            values.remove(0);
        }
        Ok(values)
    }

    /// The boolean a function returned second (nil: false).
    fn flag(function: &str, values: &[Value]) -> Result<bool, MfaError> {
        match values.first() {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(MfaError::Script(format!(
                "{function}: expected a boolean, got {other}"
            ))),
        }
    }
}

fn record_json(r: &Record) -> Value {
    json!({ "id": r.id, "data": r.data })
}

/// One `{id=…, data=…}` entry of a list.
fn read_record(function: &str, v: &Value) -> Result<Record, MfaError> {
    let field = |name: &str| match v.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(MfaError::Script(format!(
            "{function}: every entry needs a string {name}"
        ))),
    };
    Ok(Record {
        id: field("id")?,
        data: field("data")?,
    })
}

impl CredentialStore for LuaCredentials {
    fn list<'a>(&'a self, account: &'a str, kind: Kind) -> BoxFuture<'a, Result<Vec<Record>, MfaError>> {
        Box::pin(async move {
            let values = self.call(LIST, account, kind, Vec::new()).await?;
            match values.first() {
                None | Some(Value::Null) => Ok(Vec::new()),
                // An empty Lua table reads as an empty list or an empty map.
                Some(Value::Object(m)) if m.is_empty() => Ok(Vec::new()),
                Some(Value::Array(items)) => items.iter().map(|v| read_record(LIST, v)).collect(),
                Some(other) => Err(MfaError::Script(format!(
                    "{LIST}: expected a list of records, got {other}"
                ))),
            }
        })
    }

    fn put<'a>(
        &'a self,
        account: &'a str,
        kind: Kind,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<(), MfaError>> {
        Box::pin(async move {
            let mut fields = vec![
                ("credential_id", json!(record.id)),
                ("credential_data", json!(record.data)),
            ];
            let function = if kind == Kind::Totp {
                fields.push(("totp_secret", json!(record.data)));
                ADD_TOTP
            } else {
                PUT
            };
            self.call(function, account, kind, fields).await?;
            Ok(())
        })
    }

    fn remove<'a>(
        &'a self,
        account: &'a str,
        kind: Kind,
        id: &'a str,
        expected: Option<&'a str>,
    ) -> BoxFuture<'a, Result<bool, MfaError>> {
        Box::pin(async move {
            let fields = vec![
                ("credential_id", json!(id)),
                ("expected_data", expected.map_or(Value::Null, |e| json!(e))),
            ];
            let values = self.call(REMOVE, account, kind, fields).await?;
            Self::flag(REMOVE, &values)
        })
    }

    fn update<'a>(
        &'a self,
        account: &'a str,
        kind: Kind,
        old: &'a Record,
        new: &'a Record,
    ) -> BoxFuture<'a, Result<bool, MfaError>> {
        Box::pin(async move {
            if old.id != new.id {
                return Err(MfaError::Invalid("update: the ids differ".into()));
            }
            let fields = vec![
                ("credential_id", json!(new.id)),
                ("old_data", json!(old.data)),
                ("credential_data", json!(new.data)),
            ];
            let values = self.call(UPDATE, account, kind, fields).await?;
            Self::flag(UPDATE, &values)
        })
    }

    fn replace_all<'a>(
        &'a self,
        account: &'a str,
        kind: Kind,
        records: &'a [Record],
    ) -> BoxFuture<'a, Result<(), MfaError>> {
        Box::pin(async move {
            let list = Value::Array(records.iter().map(record_json).collect());
            self.call(REPLACE, account, kind, vec![("credentials", list)])
                .await?;
            Ok(())
        })
    }
}
