//! Stage 1: the request's environment. Refuses what must never reach a backend; built-in and
//! scripted features (TLS required, relay domains, RBL, Lua) join here.

use std::ops::ControlFlow;

use super::{Attempt, Pipeline};
use crate::outcome::{AuthOutcome, FailReason};

impl Pipeline {
    pub(super) async fn environment(&self, a: &Attempt<'_>) -> ControlFlow<AuthOutcome> {
        if a.authenticating && a.req.password.is_empty() {
            // Codecs reject this as malformed; never let an empty password reach a backend.
            return ControlFlow::Break(self.fail(a.req, FailReason::WrongPassword));
        }
        // Script features first (`script_features.rs`); `abort` skips the built-in ones.
        let _skip_builtin_features = self.script_features(a).await?;
        ControlFlow::Continue(())
    }
}
