//! The password databases the pipeline asks, in configured order: one enum, dispatched here.

pub mod ldap;
pub mod passwd_file;
pub mod positive_cache;
pub mod sql;

use std::sync::Arc;

use nauthilus_backends::ldap::{LdapBackend, LdapError};
use nauthilus_backends::passwd_file::PasswdFile;
use nauthilus_backends::password::{PasswordVerifier, VerifyError};
use nauthilus_backends::sql::{SqlBackend, SqlError};
use nauthilus_store::StoreError;

pub use positive_cache::{CacheProbe, PositiveCache};

use crate::outcome::{BackendId, UserData};
use crate::request::AuthRequest;

/// The values of a request the query macros (`%{user}`, `%{local_ip}`, ...) of the LDAP and
/// SQL backends take.
fn macro_values(req: &AuthRequest) -> nauthilus_backends::ldap::MacroValues<'_> {
    nauthilus_backends::ldap::MacroValues {
        user: &req.username,
        service: req.protocol.as_str(),
        local_ip: &req.local.ip,
        local_port: &req.local.port,
        remote_ip: &req.client.ip,
        remote_port: &req.client.port,
        client_id: &req.client.id,
    }
}

/// What one backend knows about a login.
#[derive(Clone, Debug)]
pub enum PassDbResult {
    /// The backend does not know the user.
    UserNotFound,
    /// The backend knows the user; `password_ok` says whether the password matched (always true
    /// in `no-auth` mode).
    Found { user: Arc<UserData>, password_ok: bool },
}

/// Why a backend could not answer.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Verify(VerifyError),
    #[error(transparent)]
    Ldap(#[from] LdapError),
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error("{0}")]
    Script(String),
}

/// One configured password database.
#[derive(Clone, Debug)]
pub enum Backend {
    /// The shared positive cache.
    Cache(PositiveCache),
    /// A passwd-file.
    PasswdFile(Arc<PasswdFile>),
    /// An LDAP pool with its searches (`ldap`, `ldap(<pool>)`).
    Ldap(Arc<LdapBackend>),
    /// An SQL database with its queries (`sql`, `sql(<name>)`).
    Sql(Arc<SqlBackend>),
    /// A Lua script (`lua`, `lua(<name>)`).
    Lua(Arc<dyn crate::script::ScriptBackend>),
}

impl Backend {
    /// Which backend this is.
    pub fn id(&self) -> BackendId {
        match self {
            Self::Cache(_) => BackendId::Cache,
            Self::PasswdFile(_) => BackendId::PasswdFile,
            Self::Ldap(_) => BackendId::Ldap,
            Self::Sql(_) => BackendId::Sql,
            Self::Lua(_) => BackendId::Lua,
        }
    }

    /// True for backends that can enumerate their accounts (`mode=list-accounts`).
    pub fn supports_list_accounts(&self) -> bool {
        match self {
            Self::Cache(_) => false,
            Self::PasswdFile(_) => true,
            Self::Ldap(ldap) => ldap.supports_list_accounts(),
            Self::Sql(sql) => sql.supports_list_accounts(),
            Self::Lua(_) => true,
        }
    }

    /// Looks the user up and checks the password.
    pub async fn verify(
        &self,
        req: &AuthRequest,
        verifier: &PasswordVerifier,
    ) -> Result<PassDbResult, BackendError> {
        // The network backends' futures are kilobytes large; boxed, they stay out of the
        // pipeline's own future, which every layer above would otherwise move and copy on
        // every login (a cache or passwd-file hit included). One allocation is nothing next
        // to their round trip.
        match self {
            Self::Cache(cache) => Ok(cache.lookup(req).await?),
            Self::PasswdFile(file) => passwd_file::verify(file, req, verifier).await,
            Self::Ldap(backend) => Box::pin(ldap::verify(backend, req)).await,
            Self::Sql(backend) => Box::pin(sql::verify(backend, req, verifier)).await,
            Self::Lua(script) => Box::pin(script.verify(req)).await.map_err(BackendError::Script),
        }
    }

    /// The backend's accounts; empty for backends that cannot list them.
    pub async fn list_accounts(&self) -> Result<Vec<String>, BackendError> {
        match self {
            Self::Cache(_) => Ok(Vec::new()),
            Self::PasswdFile(file) => Ok(passwd_file::list_accounts(file)),
            Self::Ldap(backend) => Ok(backend.list_accounts().await?),
            Self::Sql(backend) => Ok(backend.list_accounts().await?),
            Self::Lua(script) => script.list_accounts().await.map_err(BackendError::Script),
        }
    }
}
