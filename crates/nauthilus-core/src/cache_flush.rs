//! Flushing one user's cached state: the positive cache entries of every account the user maps
//! to, those mappings, and this process' in-memory logins. (Brute-force state joins here when
//! brute force exists.)

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
        let Some(cache) = self.positive_cache() else {
            return Ok(FlushReport::default());
        };
        let mapping = cache.mapping();
        let mapped = mapping.all_for(user).await?;
        let mut accounts: Vec<String> = vec![user.to_owned()];
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
            if let Some(memory) = self.memory_cache() {
                memory.forget(account);
            }
            let key = cache.key(account);
            if cache.store().delete(&key).await? {
                removed.push(key);
            }
        }
        removed.sort();
        Ok(FlushReport {
            removed_keys: removed,
        })
    }
}
