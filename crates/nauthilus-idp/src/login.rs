//! The web login as one more `AuthRequest` through the pipeline: protocol `oidc`, `oidc_cid` =
//! the client id, the browser's address as the client IP. Same backends, brute-force rules
//! (`filter_by_oidc_cid`), Lua features and filters, logs and metrics as the mail logins.

use std::collections::BTreeMap;
use std::time::SystemTime;

use nauthilus_core::{AuthMode, AuthRequest, Decision, FailReason, Password, Protocol, Service, SessionId};

use crate::Idp;

/// The protocol name web logins carry.
pub const PROTOCOL: &str = "oidc";

/// A user the pipeline accepted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuthenticatedUser {
    /// The canonical account (`sub`).
    pub account: String,
    /// The display name (the backend's `display_name_field` attribute, else the account).
    pub display_name: String,
    /// The backend's attributes.
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// What a login attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginResult {
    Ok(AuthenticatedUser),
    /// Wrong user or password, or refused by a filter or feature (never says which).
    Failed,
    /// The client's network is banned by brute-force protection.
    Banned,
    /// No decision possible now (a backend or the store failed); the detail is for the log.
    TempFail(String),
}

impl Idp {
    /// Checks `username`/`password` for `client_id` from `client_ip` through the pipeline.
    pub async fn authenticate_password(
        &self,
        username: &str,
        password: &str,
        client_id: &str,
        client_ip: &str,
        guid: SessionId,
        now: SystemTime,
    ) -> LoginResult {
        if username.is_empty() || password.is_empty() {
            return LoginResult::Failed;
        }
        let req = AuthRequest::new(
            guid,
            Service::Idp,
            username.to_owned(),
            Password::new(password.as_bytes().to_vec()),
        );
        self.run_login(req, client_id, client_ip, now).await
    }

    /// Looks `account` up through the pipeline without a password (`no-auth`), for a login
    /// that a passkey proved: the backends must still know the account (and give the
    /// attributes the claims are made of), filters and features still apply.
    pub async fn lookup_user(
        &self,
        account: &str,
        client_id: &str,
        client_ip: &str,
        guid: SessionId,
        now: SystemTime,
    ) -> LoginResult {
        if account.is_empty() {
            return LoginResult::Failed;
        }
        let mut req = AuthRequest::new(guid, Service::Idp, account.to_owned(), Password::new(Vec::new()));
        req.mode = AuthMode::NoAuth;
        self.run_login(req, client_id, client_ip, now).await
    }

    async fn run_login(
        &self,
        mut req: AuthRequest,
        client_id: &str,
        client_ip: &str,
        now: SystemTime,
    ) -> LoginResult {
        req.protocol = Protocol::new(PROTOCOL);
        req.method = "plain".into();
        req.oidc_cid = client_id.to_owned();
        req.client.ip = client_ip.to_owned();
        req.tls.ssl = if self.issuer.starts_with("https://") {
            "on".into()
        } else {
            String::new()
        };
        let outcome = self.pipeline.authenticate(&req, now).await;
        match outcome.decision {
            Decision::Ok(user) => {
                let display_name = user
                    .attributes
                    .get(&user.fields.display_name_field)
                    .and_then(|v| v.first())
                    .filter(|_| !user.fields.display_name_field.is_empty())
                    .cloned()
                    .unwrap_or_else(|| user.account.clone());
                LoginResult::Ok(AuthenticatedUser {
                    account: user.account.clone(),
                    display_name,
                    attributes: user.attributes.clone(),
                })
            }
            Decision::Fail(FailReason::BruteForce) => LoginResult::Banned,
            Decision::Fail(_) => LoginResult::Failed,
            Decision::TempFail(why) => LoginResult::TempFail(why),
        }
    }
}
