//! Wiring of `mfa`: the credential store the config names (SQL, SQLite by default, the
//! user's LDAP entry through its own pool, or the functions of a Lua backend script on a Lua
//! host of its own), the `Mfa` service over it and the state store. It
//! lives as long as the process (a reload does not rebuild it: `mfa` settings take effect at the
//! next start), and every pipeline gets it as its app-password step.

use std::sync::Arc;

use nauthilus_backends::ldap::{LdapPool, PoolSettings};
use nauthilus_config::Config;
use nauthilus_mfa::{CredentialStore, LdapCredentials, LuaCredentials, Mfa, SqlCredentials};
use nauthilus_store::Store;

use crate::wiring::StartupError;

/// The MFA service `config.mfa` asks for, or `None` when it is off.
pub fn build(config: &Config, state: &Store) -> Result<Option<Arc<Mfa>>, StartupError> {
    let mfa = &config.mfa;
    if !mfa.enabled {
        return Ok(None);
    }
    let err = |e: nauthilus_mfa::MfaError| StartupError::Mfa(e.to_string());
    let credentials: Arc<dyn CredentialStore> = match mfa.store.as_str() {
        "ldap" => {
            let name = (!mfa.ldap.pool_name.is_empty()).then_some(mfa.ldap.pool_name.as_str());
            let pool_config = config.ldap.pool(name).ok_or_else(|| {
                StartupError::Mfa(format!(
                    "mfa.ldap.pool_name: no LDAP pool {:?}",
                    mfa.ldap.pool_name
                ))
            })?;
            let settings =
                PoolSettings::from_config("mfa", "mfa.ldap", pool_config).map_err(StartupError::Ldap)?;
            let pool = Arc::new(LdapPool::new(settings));
            LdapPool::spawn_health_check(&pool);
            Arc::new(LdapCredentials::new(pool, mfa.ldap.clone()).map_err(err)?)
        }
        "lua" => {
            let name = mfa.lua.backend_name.trim();
            let script = nauthilus_lua::LuaHost::script_calls(
                config,
                state.clone(),
                (!name.is_empty()).then_some(name),
            )
            .map_err(|e| StartupError::Mfa(e.to_string()))?;
            Arc::new(LuaCredentials::new(script))
        }
        _ => Arc::new(SqlCredentials::open(&mfa.sql).map_err(err)?),
    };
    tracing::info!(store = %mfa.store, app_passwords = mfa.app_passwords.enabled, "mfa enabled");
    Ok(Some(Arc::new(
        Mfa::new(config, credentials, state.clone()).map_err(err)?,
    )))
}
