//! The app-password step, inside the backends stage: once a backend found the account, a
//! password the backend refused may still be one of the account's app passwords for this
//! protocol, and a right main password may be refused because the account has a second factor
//! (`require_app_password_for_mfa_users`). Brute-force reservations treat the result like any
//! backend verdict; an app-password login is not cached (the caches answer for any protocol,
//! an app password only for its own).

use std::ops::ControlFlow;

use super::{Attempt, Pipeline};
use crate::app_password::AppPasswordVerdict;
use crate::outcome::AuthOutcome;

impl Pipeline {
    /// The backend's `password_ok` for `account` after the app-password step; `Break` with a
    /// temporary failure when the app passwords could not be read.
    pub(super) async fn app_password_step(
        &self,
        a: &mut Attempt<'_>,
        account: &str,
        password_ok: bool,
    ) -> ControlFlow<AuthOutcome, bool> {
        let Some(app_passwords) = self.parts.app_passwords.as_ref() else {
            return ControlFlow::Continue(password_ok);
        };
        let req = a.req;
        if !a.authenticating || req.password.is_empty() || !app_passwords.applies_to(req.protocol.as_str()) {
            return ControlFlow::Continue(password_ok);
        }
        match app_passwords.judge(account, req, password_ok, a.now).await {
            Ok(AppPasswordVerdict::Unchanged) => ControlFlow::Continue(password_ok),
            Ok(AppPasswordVerdict::AppPassword) => {
                a.cacheable = false;
                tracing::debug!(session = %req.session, account, "app password accepted");
                ControlFlow::Continue(true)
            }
            Ok(AppPasswordVerdict::MainPasswordRefused) => {
                tracing::info!(session = %req.session, account, protocol = %req.protocol, "main password refused: the account has a second factor and needs an app password");
                ControlFlow::Continue(false)
            }
            Err(e) => {
                tracing::warn!(session = %req.session, account, error = %e, "app passwords unavailable");
                self.release(a).await;
                ControlFlow::Break(AuthOutcome::temp_fail("app passwords unavailable"))
            }
        }
    }
}
