//! Stage 1: the request's environment. Refuses what must never reach a backend, then runs the
//! Lua features (`script_features.rs`) and the built-in features (`tls_encryption`, `relay_domains`, `rbl`; see `crate::features`). A
//! feature that triggers ends the login here, before brute force and any backend:
//!
//! - `tls_encryption`: a temporary failure with `Auth-Status: TLS transport encryption
//!   required` (Nauthilus answers it so; nginx adds the SMTP `Auth-Error-Code`);
//! - `relay_domains`, `rbl`: an ordinary failure (`Invalid login or password`, `Auth-Wait`);
//! - a feature that could not decide (a DNS failure): a temporary failure.
//!
//! Where `brute_force.learning` names the feature, its rejection counts as a failed login.

use std::ops::ControlFlow;

use nauthilus_config::Feature;

use super::{Attempt, Pipeline};
use crate::features::{Hit, STATUS_NO_TLS, Verdict};
use crate::outcome::{AuthOutcome, FailReason};

impl Pipeline {
    pub(super) async fn environment(&self, a: &Attempt<'_>) -> ControlFlow<AuthOutcome> {
        if a.authenticating && a.req.password.is_empty() {
            // Codecs reject this as malformed; never let an empty password reach a backend.
            return ControlFlow::Break(self.fail(a.req, FailReason::WrongPassword));
        }
        // Script features first (`script_features.rs`); their `abort` skips the built-in ones.
        if self.script_features(a).await? {
            return ControlFlow::Continue(());
        }
        match self.parts.features.run(a.req, a.authenticating).await {
            None => ControlFlow::Continue(()),
            Some(hit) => ControlFlow::Break(self.feature_outcome(a, hit).await),
        }
    }

    async fn feature_outcome(&self, a: &Attempt<'_>, hit: Hit) -> AuthOutcome {
        let req = a.req;
        let feature = hit.feature;
        let detail = match hit.verdict {
            Verdict::Unavailable(why) => {
                tracing::warn!(session = %req.session, %feature, error = %why, "feature could not decide");
                return AuthOutcome::temp_fail(format!("feature {feature}: {why}"));
            }
            Verdict::Triggered(detail) => detail,
            Verdict::Pass => String::new(),
        };
        tracing::info!(session = %req.session, %feature, detail = %detail, "feature triggered: login refused");
        if self.parts.script_actions.is_some() {
            req.scratch.with(|s| s.feature = feature.name().to_owned());
            self.trigger_actions(feature.name(), req).await;
        }
        if hit.learn
            && a.authenticating
            && let Some(bf) = &self.parts.brute_force
            && let Err(e) = bf.record_failure(req, &req.username, a.now).await
        {
            tracing::warn!(session = %req.session, error = %e, "brute-force failure of a feature rejection not counted");
        }
        let mut outcome = if feature == Feature::TlsEncryption {
            let mut o = AuthOutcome::temp_fail(format!("feature {feature}: {detail}"));
            o.status_message = Some(STATUS_NO_TLS.to_owned());
            o
        } else {
            self.fail(req, FailReason::Feature(feature))
        };
        outcome.log_fields.push(("feature".into(), feature.name().into()));
        outcome.log_fields.push(("feature_detail".into(), detail));
        outcome
    }
}
