//! Username → account mapping in the store, in the Nauthilus v1.12 layout: sharded hashes
//! `<prefix>user:{<crc32 % 256>}` with fields `<username>|<protocol>|<oidc_cid>`.

use nauthilus_store::{KeyLayout, Store, StoreResult};

/// Reads and writes the mapping.
#[derive(Clone, Debug)]
pub struct AccountMapping {
    store: Store,
}

impl AccountMapping {
    /// The mapping kept in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The account a user logged in as, for this protocol and OIDC client.
    pub async fn get(&self, username: &str, protocol: &str, oidc_cid: &str) -> StoreResult<Option<String>> {
        let key = self.store.keys().account_mapping(username);
        self.store
            .hash_get(
                &key,
                &KeyLayout::account_mapping_field(username, protocol, oidc_cid),
            )
            .await
    }

    /// Records the account (one idempotent HSET: cheaper than reading first to skip it).
    pub async fn set(
        &self,
        username: &str,
        protocol: &str,
        oidc_cid: &str,
        account: &str,
    ) -> StoreResult<()> {
        let key = self.store.keys().account_mapping(username);
        let field = KeyLayout::account_mapping_field(username, protocol, oidc_cid);
        self.store.hash_set(&key, &[(&field, account)]).await
    }

    /// Every (field, account) recorded for `username`, whatever the protocol.
    pub async fn all_for(&self, username: &str) -> StoreResult<Vec<(String, String)>> {
        let key = self.store.keys().account_mapping(username);
        self.store
            .hash_fields_with_prefix(&key, &format!("{username}|"))
            .await
    }

    /// Removes fields found by [`Self::all_for`]; returns how many existed.
    pub async fn remove(&self, username: &str, fields: &[&str]) -> StoreResult<u64> {
        let key = self.store.keys().account_mapping(username);
        self.store.hash_delete(&key, fields).await
    }

    /// The hash key holding `username`'s mappings.
    pub fn key_for(&self, username: &str) -> String {
        self.store.keys().account_mapping(username)
    }
}
