//! Brute-force protection: failed logins are counted per client network in bucket rules; a
//! bucket that reaches its limit bans the network for `ban_time`, and a banned network fails
//! every login (even with the right password) until the ban expires or is flushed.
//!
//! Two things keep honest users out of bans: a wrong password the same client already tried for
//! the same account is not counted again (`repeated_password`), and clients with many recent
//! successful logins may fail a share of them (`toleration`).
//!
//! All state is in the `Store`; every operation touches one key, so it is safe in a Redis
//! Cluster. Time for history entries is passed in; TTLs are the store's.

mod admin;
pub mod network;
pub mod repeated_password;
pub mod rule;
pub mod toleration;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use futures::future::try_join_all;
use nauthilus_config::Config;
use nauthilus_store::{Store, StoreResult};

use crate::password_digest::PasswordDigester;
use crate::request::AuthRequest;

pub use admin::{BanList, FlushError, FlushRequest, ListFilter};
pub use rule::{Rule, Scope};

use network::{NetSet, parse_client_ip, scoped_client};
use repeated_password::Repetition;
use toleration::Tolerations;

/// A ban that blocks a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ban {
    /// The rule that banned the network.
    pub rule: String,
    /// The banned scope (`<network>[:<protocol>][:oidc:<cid>]`).
    pub scope: String,
}

/// What became of one failed login.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureRecord {
    /// Counted in the buckets (false for a repeated wrong password or a client out of scope).
    pub counted: bool,
    /// The ban this failure started, if any.
    pub banned: Option<Ban>,
}

/// Counters for metrics.
#[derive(Debug, Default)]
struct Stats {
    checks: AtomicU64,
    blocked: AtomicU64,
    counted: AtomicU64,
    forgiven: AtomicU64,
    tolerated: AtomicU64,
    bans: AtomicU64,
    rule_bans: Vec<AtomicU64>,
}

/// A snapshot of the counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BruteForceStats {
    /// Logins checked against bans.
    pub checks: u64,
    /// Logins refused because their network was banned.
    pub blocked: u64,
    /// Failures counted in buckets.
    pub counted: u64,
    /// Failures not counted because the same wrong password was repeated.
    pub forgiven: u64,
    /// Bucket overflows that a toleration let pass.
    pub tolerated: u64,
    /// Bans started.
    pub bans: u64,
    /// Bans started, per rule name.
    pub rule_bans: Vec<(String, u64)>,
}

/// The brute-force service (cheap to clone).
#[derive(Clone, Debug)]
pub struct BruteForce {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    rules: Vec<Rule>,
    /// Protocols in scope; empty: all.
    protocols: Vec<String>,
    whitelist: NetSet,
    tolerations: Tolerations,
    rwp_allowed: usize,
    rwp_window: Duration,
    rwp_ipv6_cidr: u8,
    tolerations_ipv6_cidr: u8,
    store: Store,
    digester: PasswordDigester,
    stats: Stats,
}

fn unix_secs(now: SystemTime) -> u64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl BruteForce {
    /// The service `config` asks for, or `None` when `brute_force` is not in `server.features`.
    pub fn from_config(config: &Config, store: Store, digester: PasswordDigester) -> Option<Self> {
        if !config.server.has_feature("brute_force") {
            return None;
        }
        let bf = &config.brute_force;
        let rules: Vec<Rule> = bf.buckets.iter().map(Rule::from_config).collect();
        let stats = Stats {
            rule_bans: rules.iter().map(|_| AtomicU64::new(0)).collect(),
            ..Stats::default()
        };
        Some(Self {
            inner: Arc::new(Inner {
                protocols: config
                    .server
                    .brute_force_protocols
                    .iter()
                    .map(|p| p.trim().to_ascii_lowercase())
                    .collect(),
                whitelist: NetSet::new(&bf.ip_whitelist),
                tolerations: Tolerations::from_config(bf),
                rwp_allowed: usize::from(bf.rwp_allowed_unique_hashes),
                rwp_window: bf.rwp_window.get(),
                rwp_ipv6_cidr: bf.ip_scoping.rwp_ipv6_cidr,
                tolerations_ipv6_cidr: bf.ip_scoping.tolerations_ipv6_cidr,
                rules,
                store,
                digester,
                stats,
            }),
        })
    }

    /// The configured rules.
    pub fn rules(&self) -> &[Rule] {
        &self.inner.rules
    }

    /// The store the state lives in.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The client address of `req` if brute-force protection applies to it: a parseable client
    /// IP, not allowlisted, and a protocol in `server.brute_force_protocols` (when listed).
    fn client(&self, req: &AuthRequest) -> Option<IpAddr> {
        let inner = &self.inner;
        let protocol = req.protocol.as_str();
        if !inner.protocols.is_empty() && !inner.protocols.iter().any(|p| p == protocol) {
            return None;
        }
        let Some(ip) = parse_client_ip(&req.client.ip) else {
            tracing::debug!(session = %req.session, client_ip = %req.client.ip, "no usable client IP: brute-force protection skipped");
            return None;
        };
        (!inner.whitelist.contains(ip)).then_some(ip)
    }

    /// The rules that count `req` from `ip`, with their scopes.
    fn scopes<'a>(
        &'a self,
        req: &'a AuthRequest,
        ip: IpAddr,
    ) -> impl Iterator<Item = (usize, &'a Rule, Scope)> + 'a {
        self.inner.rules.iter().enumerate().filter_map(move |(i, rule)| {
            rule.scope(ip, req.protocol.as_str(), &req.oidc_cid)
                .map(|scope| (i, rule, scope))
        })
    }

    /// The ban that blocks `req`, if its network is banned: one GET per rule, in one round trip.
    pub async fn check(&self, req: &AuthRequest) -> StoreResult<Option<Ban>> {
        let Some(ip) = self.client(req) else {
            return Ok(None);
        };
        let inner = &self.inner;
        inner.stats.checks.fetch_add(1, Ordering::Relaxed);
        let keys = inner.store.keys();
        let scopes: Vec<String> = self.scopes(req, ip).map(|(_, _, s)| s.tail()).collect();
        let ban_keys: Vec<String> = scopes.iter().map(|s| keys.brute_force_ban(s)).collect();
        let ban_keys: Vec<&str> = ban_keys.iter().map(String::as_str).collect();
        let found = inner.store.get_many(&ban_keys).await?;
        let ban = scopes
            .into_iter()
            .zip(found)
            .find_map(|(scope, rule)| rule.map(|rule| Ban { rule, scope }));
        if ban.is_some() {
            // Blocked requests are not written down: a banned client sending random user names
            // must not be able to grow the store. The account that started a ban is noted then.
            inner.stats.blocked.fetch_add(1, Ordering::Relaxed);
        }
        Ok(ban)
    }

    /// Remembers that a failure for `account` from `ip` started a ban (for the list API).
    /// The entry lasts as long as the ban (`ban_time`).
    async fn note_affected(&self, account: &str, ip: IpAddr, ban_time: Duration) -> StoreResult<()> {
        if account.is_empty() {
            return Ok(());
        }
        let inner = &self.inner;
        let keys = inner.store.keys();
        let ip = ip.to_string();
        inner
            .store
            .set_add(&keys.affected_accounts(), &[account], None)
            .await?;
        inner
            .store
            .set_add(&keys.affected_account(account), &[&ip], Some(ban_time))
            .await?;
        Ok(())
    }

    /// Counts a failed login of `account` (the account a backend found, else the user name) at
    /// `now`, and bans the networks whose buckets it fills.
    pub async fn record_failure(
        &self,
        req: &AuthRequest,
        account: &str,
        now: SystemTime,
    ) -> StoreResult<FailureRecord> {
        let Some(ip) = self.client(req) else {
            return Ok(FailureRecord::default());
        };
        let inner = &self.inner;
        if !req.password.is_empty() && self.is_repeated_password(req, account, ip, now).await? {
            inner.stats.forgiven.fetch_add(1, Ordering::Relaxed);
            tracing::info!(session = %req.session, account, client_ip = %ip, "repeated wrong password: not counted again");
            return Ok(FailureRecord::default());
        }
        inner.stats.counted.fetch_add(1, Ordering::Relaxed);
        let keys = inner.store.keys();
        let scoped: Vec<(usize, &Rule, Scope)> = self.scopes(req, ip).collect();
        let counts = try_join_all(scoped.iter().map(|(_, rule, scope)| {
            let key = rule.bucket_key(keys, ip, scope);
            async move { inner.store.incr(&key, 1, Some(rule.period)).await }
        }))
        .await?;
        let full: Vec<&(usize, &Rule, Scope)> = scoped
            .iter()
            .zip(&counts)
            .filter(|((_, rule, _), count)| u64::try_from(**count).unwrap_or(0) >= rule.failed_requests)
            .map(|(s, _)| s)
            .collect();
        let mut record = FailureRecord {
            counted: true,
            banned: None,
        };
        if full.is_empty() {
            self.count_toleration(ip, false).await?;
            return Ok(record);
        }
        if self.is_tolerated(ip).await? {
            inner.stats.tolerated.fetch_add(1, Ordering::Relaxed);
            tracing::info!(session = %req.session, client_ip = %ip, "bucket full but failures are within the toleration");
            return Ok(record);
        }
        for (index, rule, scope) in full {
            let tail = scope.tail();
            let started = inner
                .store
                .set_nx(&keys.brute_force_ban(&tail), &rule.name, Some(rule.ban_time))
                .await?;
            if started {
                inner
                    .store
                    .set_add(&keys.brute_force_ban_index(), &[&tail], None)
                    .await?;
                inner.stats.bans.fetch_add(1, Ordering::Relaxed);
                if let Some(c) = inner.stats.rule_bans.get(*index) {
                    c.fetch_add(1, Ordering::Relaxed);
                }
                tracing::warn!(session = %req.session, rule = %rule.name, scope = %tail, ban_time = ?rule.ban_time, "brute force: network banned");
            }
            let ban = Ban {
                rule: rule.name.clone(),
                scope: tail,
            };
            if started {
                self.note_affected(account, ip, rule.ban_time).await?;
            }
            record.banned.get_or_insert(ban);
        }
        Ok(record)
    }

    /// Checks the password history of this client and account and records the password in it.
    async fn is_repeated_password(
        &self,
        req: &AuthRequest,
        account: &str,
        ip: IpAddr,
        now: SystemTime,
    ) -> StoreResult<bool> {
        let inner = &self.inner;
        let keys = inner.store.keys();
        let client = scoped_client(ip, inner.rwp_ipv6_cidr);
        let key = keys.repeated_wrong_password(&client, account);
        let digest = inner.digester.history_digest(account, req.password.expose());
        let history = inner.store.hash_get_all(&key).await?;
        let now_secs = unix_secs(now);
        let (verdict, stale) = repeated_password::classify(
            &history,
            &digest,
            now_secs,
            inner.rwp_window.as_secs().max(1),
            inner.rwp_allowed,
        );
        if !stale.is_empty() {
            let fields: Vec<&str> = stale.iter().map(String::as_str).collect();
            inner.store.hash_delete(&key, &fields).await?;
        }
        let remember = match verdict {
            Repetition::Repeat | Repetition::New { remember: true } => true,
            Repetition::New { remember: false } => false,
        };
        if remember {
            inner
                .store
                .hash_set(&key, &[(&digest, &now_secs.to_string())])
                .await?;
            inner.store.expire(&key, inner.rwp_window).await?;
            inner
                .store
                .set_add(
                    &keys.repeated_wrong_password_clients(account),
                    &[&client],
                    Some(inner.rwp_window),
                )
                .await?;
        }
        Ok(verdict == Repetition::Repeat)
    }

    /// Counts one success (or failure) of a client whose toleration policy is active.
    async fn count_toleration(&self, ip: IpAddr, positive: bool) -> StoreResult<()> {
        let inner = &self.inner;
        let Some(policy) = inner.tolerations.for_client(ip) else {
            return Ok(());
        };
        let client = scoped_client(ip, inner.tolerations_ipv6_cidr);
        let key = inner.store.keys().toleration(&client, positive);
        inner.store.incr(&key, 1, Some(policy.ttl)).await?;
        Ok(())
    }

    /// Counts the failure for tolerations and says whether the client's failures are tolerated.
    async fn is_tolerated(&self, ip: IpAddr) -> StoreResult<bool> {
        let inner = &self.inner;
        let Some(policy) = inner.tolerations.for_client(ip) else {
            return Ok(false);
        };
        let client = scoped_client(ip, inner.tolerations_ipv6_cidr);
        let keys = inner.store.keys();
        let failures = inner
            .store
            .incr(&keys.toleration(&client, false), 1, Some(policy.ttl))
            .await?;
        let successes = inner
            .store
            .get(&keys.toleration(&client, true))
            .await?
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        Ok(policy.tolerates(successes, u64::try_from(failures).unwrap_or(u64::MAX)))
    }

    /// Counts a successful login for tolerations (only where a toleration policy applies).
    pub async fn record_success(&self, req: &AuthRequest) -> StoreResult<()> {
        match self.client(req) {
            Some(ip) => self.count_toleration(ip, true).await,
            None => Ok(()),
        }
    }

    /// The counters.
    pub fn stats(&self) -> BruteForceStats {
        let s = &self.inner.stats;
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        BruteForceStats {
            checks: load(&s.checks),
            blocked: load(&s.blocked),
            counted: load(&s.counted),
            forgiven: load(&s.forgiven),
            tolerated: load(&s.tolerated),
            bans: load(&s.bans),
            rule_bans: self
                .inner
                .rules
                .iter()
                .zip(&s.rule_bans)
                .map(|(r, c)| (r.name.clone(), load(c)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
