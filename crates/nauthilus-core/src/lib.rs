//! The login pipeline and its domain types: `AuthRequest` in, `AuthOutcome` out. Nothing here
//! knows about HTTP; time is passed in.

// Tests may read the clock directly; the code under test takes it as an argument.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod account_mapping;
pub mod app_password;
pub mod auth_wait;
pub mod backend;
pub mod backend_monitor;
pub mod brute_force;
pub mod cache_flush;
pub mod clock;
pub mod features;
pub mod memory_cache;
pub mod metrics;
pub mod outcome;
pub mod password;
pub mod password_digest;
pub mod pipeline;
pub mod request;
pub mod script;
pub mod session;

pub use app_password::{AppPasswordVerdict, AppPasswords};
pub use backend::{Backend, BackendError, PassDbResult, PositiveCache};
pub use backend_monitor::{BackendMonitor, NoHealthyServer};
pub use brute_force::{Ban, BruteForce, BruteForceStats};
pub use cache_flush::{FlushReport, UserFlusher};
pub use features::Features;
pub use memory_cache::MemoryAuthCache;
pub use outcome::{Attributes, AuthOutcome, BackendId, Decision, FailReason, FieldNames, Upstream, UserData};
pub use password::Password;
pub use password_digest::PasswordDigester;
pub use pipeline::{
    FailurePolicy, FailureTiming, Filter, FilterError, ListAccountsError, MasterUser, Pipeline,
    PipelineParts, PostAction,
};
pub use request::{AuthMode, AuthRequest, CachePolicy, ClientInfo, LocalInfo, Protocol, Service, TlsInfo};
pub use script::{
    HookRequest, HookResponse, RequestScratch, ScriptActions, ScriptBackend, ScriptCalls,
    ScriptFeatureVerdict, ScriptFeatures, ScriptHooks, ScriptScratch,
};
pub use session::SessionId;
