//! The Redis key layout shared with Nauthilus: one place that spells every key this server
//! writes, so the memory and Redis stores (and other Nauthilus instances) agree.

/// Builds keys under the configured prefix (default `nauthilus:`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLayout {
    prefix: String,
}

/// The cache name used when no search configuration names one.
pub const DEFAULT_CACHE_NAME: &str = "__default__";

impl KeyLayout {
    /// A layout under `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The prefix itself.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Positive cache hash of one account: `<prefix>ucp:<cache_name>:<account>`.
    pub fn positive_cache(&self, cache_name: &str, account: &str) -> String {
        format!("{}ucp:{cache_name}:{account}", self.prefix)
    }

    /// The user → account mapping hash holding `username`: `<prefix>user:{<shard>}`, sharded by
    /// CRC-32 of the user name into 256 hashes (the braces are a Redis Cluster hash tag).
    pub fn account_mapping(&self, username: &str) -> String {
        format!(
            "{}user:{{{:02x}}}",
            self.prefix,
            crc32fast::hash(username.as_bytes()) % 256
        )
    }

    /// One refresh token of the backchannel JWT auth, by the hex SHA-256 of the token (the
    /// token itself is never stored): `<prefix>jwt:refresh:<digest>`; the value names the user
    /// and roles, the TTL is the token's remaining life.
    pub fn jwt_refresh_token(&self, digest_hex: &str) -> String {
        format!("{}jwt:refresh:{digest_hex}", self.prefix)
    }

    /// A brute-force failure counter:
    /// `<prefix>bf:<period_s>:<cidr>:<failed>:<4|6>:<network>[:<protocol>][:oidc:<cid>]`
    /// (`scope` is the part from the network on).
    pub fn brute_force_bucket(
        &self,
        period_secs: u64,
        cidr: u8,
        failed: u64,
        family: u8,
        scope: &str,
    ) -> String {
        format!("{}bf:{period_secs}:{cidr}:{failed}:{family}:{scope}", self.prefix)
    }

    /// A brute-force failure counter of one user's address-less logins (no client IP known):
    /// `<prefix>bf:<period_s>:<failed>:account:<user>[:<protocol>][:oidc:<cid>]` (`scope` is
    /// the part from `account:` on). Kept apart from the network buckets so that address-less
    /// failures never ban a network, and network failures never lock an account.
    pub fn brute_force_account_bucket(&self, period_secs: u64, failed: u64, scope: &str) -> String {
        format!("{}bf:{period_secs}:{failed}:{scope}", self.prefix)
    }

    /// The ban of one network (and protocol / client id): `<prefix>bf:ban:<scope>`; the value
    /// is the rule that banned it, the TTL the rest of the ban.
    pub fn brute_force_ban(&self, scope: &str) -> String {
        format!("{}bf:ban:{scope}", self.prefix)
    }

    /// The set of banned scopes (for listing): `<prefix>bf:bans`.
    pub fn brute_force_ban_index(&self) -> String {
        format!("{}bf:bans", self.prefix)
    }

    /// Recent wrong passwords of one client for one account (hash: salted digest → unix time):
    /// `<prefix>bf:rwp:<client>:<account>`.
    pub fn repeated_wrong_password(&self, client: &str, account: &str) -> String {
        format!("{}bf:rwp:{client}:{account}", self.prefix)
    }

    /// The clients that have [`Self::repeated_wrong_password`] state for an account (so a cache
    /// flush can find it without scanning): `<prefix>bf:rwp_clients:<account>`.
    pub fn repeated_wrong_password_clients(&self, account: &str) -> String {
        format!("{}bf:rwp_clients:{account}", self.prefix)
    }

    /// Successful (`P`) or failed (`N`) logins of one client, for tolerations:
    /// `<prefix>bf:tr:<client>:<P|N>`.
    pub fn toleration(&self, client: &str, positive: bool) -> String {
        format!(
            "{}bf:tr:{client}:{}",
            self.prefix,
            if positive { 'P' } else { 'N' }
        )
    }

    /// Marks that one account's success from one client is already counted in
    /// [`Self::toleration`] for this period: `<prefix>bf:tr:<client>:P:<account>`.
    pub fn toleration_account(&self, client: &str, account: &str) -> String {
        format!("{}bf:tr:{client}:P:{account}", self.prefix)
    }

    /// Accounts that banned clients tried: `<prefix>bf:affected_accounts`.
    pub fn affected_accounts(&self) -> String {
        format!("{}bf:affected_accounts", self.prefix)
    }

    /// The banned clients that tried one account: `<prefix>bf:affected:<account>`.
    pub fn affected_account(&self, account: &str) -> String {
        format!("{}bf:affected:{account}", self.prefix)
    }

    /// The field of [`Self::account_mapping`] for one login context: `<user>|<protocol>|<oidc_cid>`.
    pub fn account_mapping_field(username: &str, protocol: &str, oidc_cid: &str) -> String {
        format!("{username}|{protocol}|{oidc_cid}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_cache_key() {
        let k = KeyLayout::new("nauthilus:");
        assert_eq!(
            k.positive_cache(DEFAULT_CACHE_NAME, "alice"),
            "nauthilus:ucp:__default__:alice"
        );
    }

    #[test]
    fn account_mapping_is_sharded_by_crc32() {
        let k = KeyLayout::new("nauthilus:");
        // CRC-32 (IEEE) of "alice" is 0x278ebc47 (Python: zlib.crc32(b"alice")), so shard 0x47.
        assert_eq!(k.account_mapping("alice"), "nauthilus:user:{47}");
        assert_eq!(
            KeyLayout::account_mapping_field("alice", "imap", ""),
            "alice|imap|"
        );
    }
}
