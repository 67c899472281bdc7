//! Stage 7: post-actions run after the answer, detached; they never change it, and a slow or
//! failing one never delays a login.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::Pipeline;
use crate::outcome::AuthOutcome;
use crate::request::AuthRequest;

/// One post-action (Lua `post` actions implement this).
pub trait PostAction: Send + Sync + std::fmt::Debug {
    /// The name used in logs.
    fn name(&self) -> &str;

    /// Runs for a finished login.
    fn run(&self, req: Arc<AuthRequest>, outcome: Arc<AuthOutcome>) -> BoxFuture<'static, ()>;
}

impl Pipeline {
    pub(super) fn spawn_post_actions(&self, req: &AuthRequest, outcome: &AuthOutcome) {
        if self.parts.post_actions.is_empty() {
            return;
        }
        let (req, outcome) = (Arc::new(req.clone()), Arc::new(outcome.clone()));
        for action in &self.parts.post_actions {
            tokio::spawn(action.run(req.clone(), outcome.clone()));
        }
    }
}
