//! The in-process cache of successful logins (`X-Nauthilus-Memory-Cache: Hit`): a short-lived
//! memory of "this user, this password, this service, protocol and client IP was accepted". Keys
//! are salted SHA-256 digests, so no password is held; expiry is checked against the time the
//! request passes in.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use moka::sync::Cache;
use sha2::{Digest, Sha256};

use crate::outcome::UserData;
use crate::request::AuthRequest;

/// Most entries held; beyond this the least recently used go first.
const MAX_ENTRIES: u64 = 100_000;

#[derive(Clone, Debug)]
struct CachedLogin {
    user: Arc<UserData>,
    username: String,
    expires: SystemTime,
}

/// The cache; `None` TTL disables it.
#[derive(Clone)]
pub struct MemoryAuthCache {
    entries: Cache<[u8; 32], CachedLogin>,
    salt: [u8; 32],
    ttl: Duration,
}

impl std::fmt::Debug for MemoryAuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryAuthCache")
            .field("ttl", &self.ttl)
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

impl MemoryAuthCache {
    /// A cache remembering logins for `ttl` (must be non-zero).
    pub fn new(ttl: Duration) -> Self {
        let entries = Cache::builder()
            .max_capacity(MAX_ENTRIES)
            .time_to_live(ttl)
            .support_invalidation_closures()
            .build();
        Self {
            entries,
            salt: rand::random(),
            ttl,
        }
    }

    fn key(&self, req: &AuthRequest) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.salt);
        let client_ip = if req.client.ip.is_empty() {
            "0.0.0.0"
        } else {
            req.client.ip.as_str()
        };
        for part in [
            req.username.as_bytes(),
            req.password.expose(),
            req.service.as_str().as_bytes(),
            req.protocol.as_str().as_bytes(),
            client_ip.as_bytes(),
            req.oidc_cid.as_bytes(),
        ] {
            // Length-prefixed, so ("ab","c") and ("a","bc") differ.
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }

    /// The user accepted earlier for exactly this request, if still fresh at `now`.
    pub fn get(&self, req: &AuthRequest, now: SystemTime) -> Option<Arc<UserData>> {
        let key = self.key(req);
        let hit = self.entries.get(&key)?;
        if hit.expires > now {
            Some(hit.user)
        } else {
            self.entries.invalidate(&key);
            None
        }
    }

    /// Remembers an accepted login.
    pub fn insert(&self, req: &AuthRequest, user: Arc<UserData>, now: SystemTime) {
        let entry = CachedLogin {
            user,
            username: req.username.clone(),
            expires: now + self.ttl,
        };
        self.entries.insert(self.key(req), entry);
    }

    /// Forgets every login of `user` (as login name or account).
    pub fn forget(&self, user: &str) {
        let user = user.to_owned();
        // Only fails if invalidation closures were not enabled, which `new` does.
        if let Err(e) = self
            .entries
            .invalidate_entries_if(move |_, v| v.username == user || v.user.account == user)
        {
            tracing::warn!(error = %e, "in-process cache not flushed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{BackendId, FieldNames};
    use crate::password::Password;
    use crate::request::Service;
    use crate::session::SessionId;

    fn request(user: &str, pw: &str) -> AuthRequest {
        AuthRequest::new(
            SessionId::new(SystemTime::now()),
            Service::Json,
            user.into(),
            Password::from(pw),
        )
    }

    fn user(account: &str) -> Arc<UserData> {
        Arc::new(UserData {
            account: account.into(),
            backend: BackendId::PasswdFile,
            fields: FieldNames::default(),
            attributes: Default::default(),
        })
    }

    #[test]
    fn a_hit_needs_the_same_password_and_context() {
        let cache = MemoryAuthCache::new(Duration::from_secs(30));
        let now = SystemTime::now();
        let req = request("alice", "pw");
        cache.insert(&req, user("alice"), now);
        assert!(cache.get(&req, now).is_some());
        assert!(cache.get(&request("alice", "other"), now).is_none());
        let mut imap = request("alice", "pw");
        imap.protocol = crate::request::Protocol::new("imap");
        assert!(cache.get(&imap, now).is_none());
    }

    #[test]
    fn entries_expire_by_the_time_passed_in() {
        let cache = MemoryAuthCache::new(Duration::from_secs(30));
        let now = SystemTime::now();
        let req = request("alice", "pw");
        cache.insert(&req, user("alice"), now);
        assert!(cache.get(&req, now + Duration::from_secs(29)).is_some());
        assert!(cache.get(&req, now + Duration::from_secs(30)).is_none());
    }

    #[test]
    fn forget_drops_a_users_logins() {
        let cache = MemoryAuthCache::new(Duration::from_secs(30));
        let now = SystemTime::now();
        let req = request("alice", "pw");
        cache.insert(&req, user("alice@example.test"), now);
        cache.forget("alice@example.test");
        cache.entries.run_pending_tasks();
        assert!(cache.get(&req, now).is_none());
    }
}
