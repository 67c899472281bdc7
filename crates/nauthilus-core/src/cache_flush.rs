//! Flushing one user's cached state: the positive cache entries of every account the user maps
//! to, those mappings, this process' in-memory logins, and the user's brute-force history
//! (remembered wrong passwords, affected-account entries).

use nauthilus_store::StoreError;

use crate::pipeline::Pipeline;

/// What a flush removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Store keys that existed and were removed (a hash from which fields were removed is
    /// listed once), sorted.
    pub removed_keys: Vec<String>,
}

impl Pipeline {
    /// Removes everything cached for `user` (a login name or an account name).
    pub async fn flush_user(&self, user: &str) -> Result<FlushReport, StoreError> {
        let mut removed = Vec::new();
        if let Some(memory) = self.memory_cache() {
            memory.forget(user);
        }
        let mut accounts: Vec<String> = vec![user.to_owned()];
        if let Some(cache) = self.positive_cache() {
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
        for account in &accounts {
            if let Some(memory) = self.memory_cache() {
                memory.forget(account);
            }
            if let Some(bf) = self.brute_force() {
                removed.extend(bf.flush_account(account).await?);
            }
        }
        removed.sort();
        Ok(FlushReport {
            removed_keys: removed,
        })
    }
}
