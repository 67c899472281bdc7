//! Stage 1a: the script features (`lua.features`, `lua` in `server.features`), before the
//! built-in ones. Any feature that triggers fails the login (its `lua` actions have run); one
//! that errs makes it a temporary failure; `abort` without a trigger skips the built-in
//! features. Like Nauthilus, features are skipped for loopback and empty client addresses.

use std::ops::ControlFlow;

use nauthilus_config::Feature;

use super::{Attempt, Pipeline};
use crate::outcome::{AuthOutcome, FailReason};
use crate::script::ScriptFeatureVerdict;

/// Client addresses the features never run for (`isLocalOrEmptyIP` in Nauthilus).
fn is_local_or_empty(ip: &str) -> bool {
    matches!(ip.trim(), "" | "127.0.0.1" | "::1")
}

impl Pipeline {
    /// `Continue(abort)`: no feature triggered; `abort` says to skip the built-in features.
    pub(super) async fn script_features(&self, a: &Attempt<'_>) -> ControlFlow<AuthOutcome, bool> {
        let Some(features) = &self.parts.script_features else {
            return ControlFlow::Continue(false);
        };
        if is_local_or_empty(&a.req.client.ip) {
            return ControlFlow::Continue(false);
        }
        match features.run(a.req).await {
            ScriptFeatureVerdict::Pass { abort } => ControlFlow::Continue(abort),
            ScriptFeatureVerdict::Triggered { feature } => {
                tracing::info!(session = %a.req.session, feature = %feature, "lua feature triggered: login refused");
                let mut outcome = self.fail(a.req, FailReason::Feature(Feature::Lua));
                outcome.log_fields.push(("feature".into(), feature));
                ControlFlow::Break(outcome)
            }
            ScriptFeatureVerdict::Error(why) => ControlFlow::Break(AuthOutcome::temp_fail(why)),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_and_empty_addresses_skip_features() {
        for ip in ["", " ", "127.0.0.1", "::1"] {
            assert!(super::is_local_or_empty(ip), "{ip:?}");
        }
        assert!(!super::is_local_or_empty("192.0.2.1"));
        assert!(!super::is_local_or_empty("127.0.0.2"));
    }
}
