//! `Attempt`: what the stages of one login learn and hand on.

use std::time::SystemTime;

use nauthilus_store::ReadReply;

use crate::backend::{CacheProbe, PositiveCache};
use crate::brute_force::Reservation;
use crate::request::{AuthMode, AuthRequest};

/// Where a verdict came from; the commit stage decides from it what to write back.
#[derive(Clone, Debug, Default)]
pub enum Source {
    /// No cache or backend gave a verdict (a ban, a refused request, an unknown user).
    #[default]
    None,
    /// This process' in-memory cache.
    MemoryCache,
    /// The shared positive cache.
    PositiveCache,
    /// A backend verified (or failed) the password; `remember_in` is the positive cache listed
    /// before it, which learns a successful login.
    Backend {
        index: usize,
        remember_in: Option<Box<PositiveCache>>,
    },
}

/// One login on its way through the stages.
#[derive(Debug)]
pub struct Attempt<'r> {
    pub req: &'r AuthRequest,
    /// The time the request passes in.
    pub now: SystemTime,
    /// True when a password is checked (not `mode=no-auth`).
    pub authenticating: bool,
    /// Where the verdict came from.
    pub source: Source,
    /// The account a backend found, for brute-force bookkeeping of a failure.
    pub account: Option<String>,
    /// Brute-force buckets this attempt holds while a backend verifies its password; the
    /// commit stage settles a failure's, the backends stage a success's.
    pub reservation: Option<Reservation>,
    /// True once brute force counted this login's success (`confirm_success`).
    pub success_counted: bool,
    /// True once a cache (in-process or positive) was asked, for `cache_hits_total` and
    /// `cache_misses_total`.
    pub cache_asked: bool,
    /// False when the verdict must not be cached: an app password is scoped to protocols,
    /// and the caches would answer for any protocol.
    pub cacheable: bool,
    /// The first positive-cache reads, made with the ban check (the positive cache is the
    /// first backend), for the backends stage to answer from.
    pub prefetched: Option<(CacheProbe, Vec<ReadReply>)>,
}

impl<'r> Attempt<'r> {
    /// A fresh attempt for `req` at `now`.
    pub fn new(req: &'r AuthRequest, now: SystemTime) -> Self {
        Self {
            req,
            now,
            authenticating: req.mode == AuthMode::Authenticate,
            source: Source::None,
            account: None,
            reservation: None,
            success_counted: false,
            cache_asked: false,
            cacheable: true,
            prefetched: None,
        }
    }
}
