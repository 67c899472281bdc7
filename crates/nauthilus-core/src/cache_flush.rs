//! Flushing one user's cached state: the positive cache entries of every account the user maps
//! to, those mappings, this process' in-memory logins, and the user's brute-force history
//! (remembered wrong passwords, affected-account entries).

use nauthilus_store::StoreError;

use crate::backend::PositiveCache;
use crate::brute_force::BruteForce;
use crate::memory_cache::MemoryAuthCache;

/// What a flush removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Store keys that existed and were removed (a hash from which fields were removed is
    /// listed once), sorted.
    pub removed_keys: Vec<String>,
}

/// Everything that remembers a user: the same instances the pipeline uses.
#[derive(Clone, Debug, Default)]
pub struct UserFlusher {
    pub memory_cache: Option<MemoryAuthCache>,
    pub positive_cache: Option<PositiveCache>,
    pub brute_force: Option<BruteForce>,
}

impl UserFlusher {
    /// Forgets the logins cached for `user`: this process' in-memory entries and the positive
    /// cache entries (and mappings) of every account the user maps to. Returns the store keys
    /// removed and the accounts the user maps to. A reloaded passwd-file calls this for every
    /// user whose entry changed, so an old password stops working at once.
    pub async fn forget_logins(&self, user: &str) -> Result<(Vec<String>, Vec<String>), StoreError> {
        let mut removed = Vec::new();
        let mut accounts: Vec<String> = vec![user.to_owned()];
        if let Some(cache) = &self.positive_cache {
            let mapping = cache.mapping();
            let mapped = mapping.all_for(user).await?;
            for (_, account) in &mapped {
                if !accounts.contains(account) {
                    accounts.push(account.clone());
                }
            }
            if !mapped.is_empty() {
                let fields: Vec<&str> = mapped.iter().map(|(f, _)| f.as_str()).collect();
                if mapping.remove(user, &fields).await? > 0 {
                    removed.push(mapping.key_for(user));
                }
            }
            for account in &accounts {
                for key in cache.all_keys(account) {
                    if cache.store().delete(&key).await? {
                        removed.push(key);
                    }
                }
            }
        }
        if let Some(memory) = &self.memory_cache {
            for account in &accounts {
                memory.forget(account);
            }
        }
        Ok((removed, accounts))
    }

    /// Removes everything cached for `user` (a login name or an account name), brute-force
    /// history included.
    pub async fn flush_user(&self, user: &str) -> Result<FlushReport, StoreError> {
        let (mut removed, accounts) = self.forget_logins(user).await?;
        if let Some(bf) = &self.brute_force {
            for account in &accounts {
                removed.extend(bf.flush_account(account).await?);
            }
        }
        removed.sort();
        Ok(FlushReport {
            removed_keys: removed,
        })
    }
}
