//! Brute-force protection: failed logins are counted per client network in bucket rules; a
//! bucket that reaches its limit bans the network for `ban_time`, and a banned network fails
//! every login (even with the right password) until the ban expires or is flushed.
//!
//! Two things keep honest users out of bans: a wrong password the same client already tried for
//! the same account is not counted again (`repeated_password`), and clients with many recent
//! successful logins may fail a share of them (`toleration`).
//!
//! Requests without a usable client address are never waved through: their failures are
//! counted per user name in buckets of their own (`account:<name>` scopes), which ban only
//! address-less attempts for that name.
//!
//! Attempts that reach a real password verification are counted before it runs
//! ([`BruteForce::reserve`]), so a burst of parallel guesses cannot all be verified before the
//! first failure lands in the bucket.
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
use rule::account_subject;
use toleration::Tolerations;

/// A ban that blocks a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ban {
    /// The rule that banned the network.
    pub rule: String,
    /// The banned scope (`<network>[:<protocol>][:oidc:<cid>]`, or `account:<user>...` for
    /// address-less logins).
    pub scope: String,
}

/// The ban keys of one request ([`BruteForce::ban_probe`]): read them (`GET`, in this order)
/// and hand the values to [`BruteForce::judge`].
#[derive(Debug)]
pub struct BanProbe {
    scopes: Vec<String>,
    ban_keys: Vec<String>,
}

impl BanProbe {
    /// The keys to read, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.ban_keys.iter().map(String::as_str)
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.ban_keys.len()
    }

    /// True when there is nothing to read.
    pub fn is_empty(&self) -> bool {
        self.ban_keys.is_empty()
    }
}

/// What [`BruteForce::reserve`] decided about an attempt about to be verified.
#[derive(Debug)]
#[must_use = "a reservation must be confirmed or released"]
pub enum Admission {
    /// Verify the password, then settle the reservation: [`BruteForce::confirm_success`],
    /// [`BruteForce::confirm_failure`] or [`BruteForce::release`].
    Admitted(Reservation),
    /// Too many attempts are failed or in flight in a bucket of this client: refuse the login
    /// without verifying (as for a ban). Nothing is left reserved.
    Refused(Ban),
}

/// An attempt counted in its client's buckets while its password is verified. Dropping it
/// without settling leaves the attempt counted as a failure until the buckets expire (the safe
/// side: a cancelled request cannot be used to guess for free).
#[derive(Debug)]
#[must_use = "a reservation must be confirmed or released"]
pub struct Reservation {
    /// `None` when brute force does not apply to the request (nothing reserved).
    client: Option<Client>,
    buckets: Vec<Reserved>,
    /// The toleration failure counter this attempt holds one in (only when a bucket overflowed
    /// and the client's toleration let it through).
    toleration: Option<String>,
}

impl Reservation {
    /// A reservation holding nothing (brute force off or not applying).
    pub fn none() -> Self {
        Self {
            client: None,
            buckets: Vec::new(),
            toleration: None,
        }
    }

    /// True when nothing is held in the store.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty() && self.toleration.is_none()
    }
}

#[derive(Debug)]
struct Reserved {
    /// Index of the rule in `Inner::rules`.
    rule: usize,
    tail: String,
    bucket: String,
    /// The bucket after this attempt was added: failures plus attempts in flight.
    count: i64,
}

/// Who brute force counts a request under.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Client {
    /// A usable client address.
    Ip(IpAddr),
    /// No usable address: the user name's subject ([`account_subject`]).
    Unknown(String),
}

/// One bucket a request is counted in.
struct Slot {
    rule: usize,
    tail: String,
    bucket: String,
}

/// The client label of the password history of address-less logins.
const UNKNOWN_CLIENT: &str = "unknown";

/// Largest number of (client, account) pairs remembered in process as already counted for
/// tolerations in their period.
const SUCCESS_MEMO_CAPACITY: u64 = 100_000;

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
    refused_in_flight: AtomicU64,
    no_address: AtomicU64,
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
    /// Logins refused before verification because failures and attempts in flight filled a
    /// bucket.
    pub refused_in_flight: u64,
    /// Logins judged without a usable client address (counted per user name).
    pub no_address: u64,
    /// Bans started, per rule name.
    pub rule_bans: Vec<(String, u64)>,
}

/// The brute-force service (cheap to clone).
///
/// How the pipeline uses it for one authenticating login (lookups in `no-auth` mode are not
/// judged):
///
/// 1. [`check`](Self::check) before anything else; a ban fails the login.
/// 2. In-process cache and positive-cache hits need no reservation: a hit means the password
///    matched a password verified before, so it cannot be a wrong guess, and a miss goes on to
///    a backend. Count the success with [`record_success`](Self::record_success).
/// 3. Before the first real backend verification, [`reserve`](Self::reserve) once. `Refused`
///    fails the login like a ban, without verifying.
/// 4. Settle the reservation by the verdict: right password →
///    [`confirm_success`](Self::confirm_success) (a `Some(ban)` answer fails the login: the
///    network was banned while the password was verified); wrong password or unknown user →
///    [`confirm_failure`](Self::confirm_failure); backend error → [`release`](Self::release).
///
/// Failures of paths that reserved nothing go to [`record_failure`](Self::record_failure).
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
    /// (toleration client, account) → until when its success is counted for this period, so
    /// repeated successes (cache hits) cost no store write.
    counted_successes: moka::sync::Cache<(String, String), SystemTime>,
}

fn unix_secs(now: SystemTime) -> u64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl BruteForce {
    /// The service `config` asks for, or `None` when `brute_force` is not in `server.features`.
    pub fn from_config(config: &Config, store: Store, digester: PasswordDigester) -> Option<Self> {
        if !config.server.has_feature(nauthilus_config::Feature::BruteForce) {
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
                counted_successes: moka::sync::Cache::new(SUCCESS_MEMO_CAPACITY),
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

    /// Who `req` is counted under, if brute-force protection applies to it: `None` only for a
    /// protocol outside `server.brute_force_protocols` (when listed), an allowlisted address or
    /// a user soft-allowlisted for `brute_force` from that address (by a script).
    /// Without a usable client IP the request is counted per user name; an IP that is there but
    /// does not parse is logged (at warn when `warn`) and treated the same way, never as a free
    /// pass.
    fn client(&self, req: &AuthRequest, warn: bool) -> Option<Client> {
        let inner = &self.inner;
        let protocol = req.protocol.as_str();
        if !inner.protocols.is_empty() && !inner.protocols.iter().any(|p| p == protocol) {
            return None;
        }
        match parse_client_ip(&req.client.ip) {
            Some(ip) => (!inner.whitelist.contains(ip)
                && !crate::features::soft_allowlist::global().contains(
                    &req.username,
                    nauthilus_config::Feature::BruteForce,
                    ip,
                ))
            .then_some(Client::Ip(ip)),
            None => {
                if warn {
                    inner.stats.no_address.fetch_add(1, Ordering::Relaxed);
                    if req.client.ip.trim().is_empty() {
                        tracing::debug!(session = %req.session, username = %req.username, "no client IP: brute force counts this login per user name");
                    } else {
                        tracing::warn!(session = %req.session, username = %req.username, client_ip = %req.client.ip, "client IP does not parse: brute force counts this login per user name");
                    }
                }
                Some(Client::Unknown(account_subject(&req.username)))
            }
        }
    }

    /// The buckets `req` from `client` is counted in. Address-less requests are counted once
    /// per distinct bucket key (rules that differ only in address family or prefix share one).
    fn slots(&self, req: &AuthRequest, client: &Client) -> Vec<Slot> {
        let keys = self.inner.store.keys();
        let protocol = req.protocol.as_str();
        let mut slots: Vec<Slot> = Vec::new();
        for (i, rule) in self.inner.rules.iter().enumerate() {
            let slot = match client {
                Client::Ip(ip) => rule.scope(*ip, protocol, &req.oidc_cid).map(|scope| Slot {
                    rule: i,
                    bucket: rule.bucket_key(keys, *ip, &scope),
                    tail: scope.tail(),
                }),
                Client::Unknown(subject) => rule
                    .account_scope(subject, protocol, &req.oidc_cid)
                    .map(|scope| Slot {
                        rule: i,
                        bucket: rule.account_bucket_key(keys, &scope),
                        tail: scope.tail(),
                    })
                    .filter(|s| !slots.iter().any(|o| o.bucket == s.bucket)),
            };
            slots.extend(slot);
        }
        slots
    }

    fn rule(&self, index: usize) -> &Rule {
        &self.inner.rules[index]
    }

    /// The failure count in the bucket behind `ban` for `req` (`request.brute_force_counter` of
    /// the scripts), 0 when that bucket is gone or brute force does not apply to `req`.
    pub async fn counter(&self, req: &AuthRequest, ban: &Ban) -> StoreResult<u64> {
        let Some(client) = self.client(req, false) else {
            return Ok(0);
        };
        let slot = self
            .slots(req, &client)
            .into_iter()
            .find(|s| s.tail == ban.scope && self.rule(s.rule).name == ban.rule);
        let Some(slot) = slot else {
            return Ok(0);
        };
        Ok(self
            .inner
            .store
            .get(&slot.bucket)
            .await?
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0))
    }

    /// The rules whose ban covers `ip` now (`nauthilus_brute_force.is_ip_address_blocked`).
    pub async fn banned_rules(&self, ip: IpAddr) -> StoreResult<Vec<String>> {
        let filter = admin::ListFilter {
            accounts: Vec::new(),
            ip_addresses: vec![ip.to_string()],
        };
        let list = self.list(&filter).await?;
        let mut rules: Vec<String> = list.ip_addresses.into_values().collect();
        rules.sort();
        rules.dedup();
        Ok(rules)
    }

    /// The toleration counters of the client at `ip`: (successes, failures) in their period.
    pub async fn toleration_counts(&self, ip: IpAddr) -> StoreResult<(u64, u64)> {
        let inner = &self.inner;
        let client = scoped_client(ip, inner.tolerations_ipv6_cidr);
        let keys = inner.store.keys();
        let read = |positive| {
            let key = keys.toleration(&client, positive);
            async move {
                Ok::<u64, nauthilus_store::StoreError>(
                    inner
                        .store
                        .get(&key)
                        .await?
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0),
                )
            }
        };
        Ok((read(true).await?, read(false).await?))
    }

    /// The ban that blocks `req`, if its network (or, without a client address, its user
    /// name's address-less state) is banned: one GET per rule, in one round trip. Call it first
    /// for every authenticating login; a `Some` fails the login.
    pub async fn check(&self, req: &AuthRequest) -> StoreResult<Option<Ban>> {
        match self.ban_probe(req) {
            Some(probe) => self.read_bans(probe).await,
            None => Ok(None),
        }
    }

    /// The reads [`check`](Self::check) makes for `req`, for a caller that sends them in one
    /// round trip with reads of its own; `None` when brute force does not apply to `req`.
    /// Hand the answers to [`judge`](Self::judge).
    pub fn ban_probe(&self, req: &AuthRequest) -> Option<BanProbe> {
        let client = self.client(req, true)?;
        Some(self.probe_client(req, &client))
    }

    fn probe_client(&self, req: &AuthRequest, client: &Client) -> BanProbe {
        let keys = self.inner.store.keys();
        let mut scopes: Vec<String> = self.slots(req, client).into_iter().map(|s| s.tail).collect();
        scopes.dedup();
        let ban_keys = scopes.iter().map(|s| keys.brute_force_ban(s)).collect();
        BanProbe { scopes, ban_keys }
    }

    async fn read_bans(&self, probe: BanProbe) -> StoreResult<Option<Ban>> {
        let keys: Vec<&str> = probe.ban_keys.iter().map(String::as_str).collect();
        let found = self.inner.store.get_many(&keys).await?;
        Ok(self.judge(probe, found))
    }

    /// The ban, if any, given the answers to a [`BanProbe`]'s reads (in its order).
    pub fn judge(&self, probe: BanProbe, found: Vec<Option<String>>) -> Option<Ban> {
        let inner = &self.inner;
        inner.stats.checks.fetch_add(1, Ordering::Relaxed);
        let ban = probe
            .scopes
            .into_iter()
            .zip(found)
            .find_map(|(scope, rule)| rule.map(|rule| Ban { rule, scope }));
        if ban.is_some() {
            // Blocked requests are not written down: a banned client sending random user names
            // must not be able to grow the store. The account that started a ban is noted then.
            inner.stats.blocked.fetch_add(1, Ordering::Relaxed);
        }
        ban
    }

    /// Counts an attempt in every bucket of its client before its password is verified, so
    /// that attempts in flight count against the limit as failures would (one atomic INCR per
    /// bucket, all in flight at once; a new bucket gets the rule's period as TTL).
    ///
    /// If a bucket then holds more than the rule's `failed_requests` (failures plus attempts in
    /// flight beyond what the limit allows), the attempt is `Refused` without verification and
    /// its reservation undone — unless the client's toleration still covers one more failure
    /// (that failure is then held in the toleration counter as well). A client with one login
    /// in flight is refused only when its buckets are already full, i.e. when a completed
    /// failure would have banned it anyway.
    ///
    /// Call once per login, right before the first real backend verification (not for cache
    /// hits), after [`check`](Self::check); then settle the reservation.
    pub async fn reserve(&self, req: &AuthRequest) -> StoreResult<Admission> {
        let Some(client) = self.client(req, false) else {
            return Ok(Admission::Admitted(Reservation::none()));
        };
        let inner = &self.inner;
        let store = &inner.store;
        let slots = self.slots(req, &client);
        let counts = try_join_all(slots.iter().map(|s| {
            let period = self.rule(s.rule).period;
            store.incr(&s.bucket, 1, Some(period))
        }))
        .await?;
        let mut reservation = Reservation {
            client: Some(client.clone()),
            buckets: slots
                .into_iter()
                .zip(counts)
                .map(|(s, count)| Reserved {
                    rule: s.rule,
                    tail: s.tail,
                    bucket: s.bucket,
                    count,
                })
                .collect(),
            toleration: None,
        };
        let over = reservation
            .buckets
            .iter()
            .find(|b| u64::try_from(b.count).unwrap_or(0) > self.rule(b.rule).failed_requests)
            .map(|b| Ban {
                rule: self.rule(b.rule).name.clone(),
                scope: b.tail.clone(),
            });
        let Some(over) = over else {
            return Ok(Admission::Admitted(reservation));
        };
        if let Client::Ip(ip) = client
            && let Some(policy) = inner.tolerations.for_client(ip)
        {
            let tol_client = scoped_client(ip, inner.tolerations_ipv6_cidr);
            let keys = store.keys();
            let failures_key = keys.toleration(&tol_client, false);
            let failures = store.incr(&failures_key, 1, Some(policy.ttl)).await?;
            reservation.toleration = Some(failures_key);
            let successes = store
                .get(&keys.toleration(&tol_client, true))
                .await?
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
            if policy.tolerates(successes, u64::try_from(failures).unwrap_or(u64::MAX)) {
                return Ok(Admission::Admitted(reservation));
            }
        }
        self.release(reservation).await?;
        inner.stats.blocked.fetch_add(1, Ordering::Relaxed);
        inner.stats.refused_in_flight.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(session = %req.session, rule = %over.rule, scope = %over.scope, "brute force: login refused, bucket full with failures and attempts in flight");
        Ok(Admission::Refused(over))
    }

    /// Undoes a reservation (the backend could not answer, or the failure is not to be
    /// counted): one guarded DECR per bucket, which never goes below zero and never creates a
    /// key.
    pub async fn release(&self, reservation: Reservation) -> StoreResult<()> {
        let store = &self.inner.store;
        let keys = reservation
            .buckets
            .iter()
            .map(|b| b.bucket.as_str())
            .chain(reservation.toleration.as_deref());
        try_join_all(keys.map(|k| store.decr_if_positive(k))).await?;
        Ok(())
    }

    /// Settles a reservation whose password was right: releases it and reads the bans again
    /// (concurrently; only when something was reserved). A `Some(ban)` means the client was
    /// banned while its password was verified: fail the login. Otherwise the success is
    /// counted for tolerations (see [`record_success`](Self::record_success)).
    pub async fn confirm_success(
        &self,
        req: &AuthRequest,
        reservation: Reservation,
        account: &str,
        now: SystemTime,
    ) -> StoreResult<Option<Ban>> {
        let recheck = reservation
            .client
            .clone()
            .filter(|_| !reservation.buckets.is_empty());
        let check = async {
            match &recheck {
                Some(client) => self.read_bans(self.probe_client(req, client)).await,
                None => Ok(None),
            }
        };
        let ((), ban) = tokio::try_join!(self.release(reservation), check)?;
        if let Some(ban) = ban {
            tracing::warn!(session = %req.session, rule = %ban.rule, scope = %ban.scope, "brute force: right password refused, banned while it was verified");
            return Ok(Some(ban));
        }
        self.record_success(req, account, now).await?;
        Ok(None)
    }

    /// Settles a reservation whose password was wrong (or whose user no backend knows), for
    /// `account` (the account a backend found, else the user name) at `now`: a repeated wrong
    /// password is released; any other failure stays counted, and buckets it fills ban their
    /// scope exactly as [`record_failure`](Self::record_failure) does.
    pub async fn confirm_failure(
        &self,
        req: &AuthRequest,
        reservation: Reservation,
        account: &str,
        now: SystemTime,
    ) -> StoreResult<FailureRecord> {
        let Some(client) = reservation.client.clone() else {
            return Ok(FailureRecord::default());
        };
        if !req.password.is_empty() && self.is_repeated_password(req, account, &client, now).await? {
            self.inner.stats.forgiven.fetch_add(1, Ordering::Relaxed);
            tracing::info!(session = %req.session, account, "repeated wrong password: not counted again");
            self.release(reservation).await?;
            return Ok(FailureRecord::default());
        }
        let tolerated = reservation.toleration.is_some();
        let counted: Vec<(Slot, i64)> = reservation
            .buckets
            .into_iter()
            .map(|b| {
                (
                    Slot {
                        rule: b.rule,
                        tail: b.tail,
                        bucket: b.bucket,
                    },
                    b.count,
                )
            })
            .collect();
        self.settle_failure(req, &client, account, counted, tolerated)
            .await
    }

    /// Counts a failed login that reserved nothing (see [`reserve`](Self::reserve)) of
    /// `account` (the account a backend found, else the user name) at `now`, and bans the
    /// scopes whose buckets it fills.
    pub async fn record_failure(
        &self,
        req: &AuthRequest,
        account: &str,
        now: SystemTime,
    ) -> StoreResult<FailureRecord> {
        let Some(client) = self.client(req, false) else {
            return Ok(FailureRecord::default());
        };
        let inner = &self.inner;
        if !req.password.is_empty() && self.is_repeated_password(req, account, &client, now).await? {
            inner.stats.forgiven.fetch_add(1, Ordering::Relaxed);
            tracing::info!(session = %req.session, account, "repeated wrong password: not counted again");
            return Ok(FailureRecord::default());
        }
        let slots = self.slots(req, &client);
        let counts = try_join_all(slots.iter().map(|s| {
            let period = self.rule(s.rule).period;
            inner.store.incr(&s.bucket, 1, Some(period))
        }))
        .await?;
        self.settle_failure(
            req,
            &client,
            account,
            slots.into_iter().zip(counts).collect(),
            false,
        )
        .await
    }

    /// A counted failure with its buckets' counts: bans the scopes of full buckets unless a
    /// toleration lets the client pass (`tolerated`: already decided at reservation).
    async fn settle_failure(
        &self,
        req: &AuthRequest,
        client: &Client,
        account: &str,
        counted: Vec<(Slot, i64)>,
        tolerated: bool,
    ) -> StoreResult<FailureRecord> {
        let inner = &self.inner;
        inner.stats.counted.fetch_add(1, Ordering::Relaxed);
        let keys = inner.store.keys();
        let full: Vec<&Slot> = counted
            .iter()
            .filter(|(s, count)| u64::try_from(*count).unwrap_or(0) >= self.rule(s.rule).failed_requests)
            .map(|(s, _)| s)
            .collect();
        let mut record = FailureRecord {
            counted: true,
            banned: None,
        };
        let ip = match client {
            Client::Ip(ip) => Some(*ip),
            Client::Unknown(_) => None,
        };
        if full.is_empty() {
            if let Some(ip) = ip {
                self.count_toleration(ip, false).await?;
            }
            return Ok(record);
        }
        let tolerated = match ip {
            Some(_) if tolerated => true,
            Some(ip) => self.is_tolerated(ip).await?,
            None => false,
        };
        if tolerated {
            inner.stats.tolerated.fetch_add(1, Ordering::Relaxed);
            tracing::info!(session = %req.session, client_ip = %req.client.ip, "bucket full but failures are within the toleration");
            return Ok(record);
        }
        for slot in full {
            let rule = self.rule(slot.rule);
            let started = inner
                .store
                .set_nx(&keys.brute_force_ban(&slot.tail), &rule.name, Some(rule.ban_time))
                .await?;
            if started {
                inner
                    .store
                    .set_add(&keys.brute_force_ban_index(), &[&slot.tail], None)
                    .await?;
                inner.stats.bans.fetch_add(1, Ordering::Relaxed);
                if let Some(c) = inner.stats.rule_bans.get(slot.rule) {
                    c.fetch_add(1, Ordering::Relaxed);
                }
                tracing::warn!(session = %req.session, rule = %rule.name, scope = %slot.tail, ban_time = ?rule.ban_time, "brute force: banned");
                if let Some(ip) = ip {
                    self.note_affected(account, ip, rule.ban_time).await?;
                }
            }
            record.banned.get_or_insert(Ban {
                rule: rule.name.clone(),
                scope: slot.tail.clone(),
            });
        }
        Ok(record)
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

    /// Checks the password history of this client and account and records the password in it.
    async fn is_repeated_password(
        &self,
        req: &AuthRequest,
        account: &str,
        client: &Client,
        now: SystemTime,
    ) -> StoreResult<bool> {
        let inner = &self.inner;
        let keys = inner.store.keys();
        let client = match client {
            Client::Ip(ip) => scoped_client(*ip, inner.rwp_ipv6_cidr),
            Client::Unknown(_) => UNKNOWN_CLIENT.to_owned(),
        };
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

    /// Counts one failure of a client whose toleration policy is active.
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

    /// Counts a successful login of `account` for tolerations (only where a toleration policy
    /// applies): once per client and account within the policy's `tolerate_ttl`, so that one
    /// account logging in again and again (cheap cache hits) cannot buy a client tolerated
    /// failures. The first success of a pair in a period is one SET NX (plus one INCR when it
    /// is new there); repeats are answered from an in-process memo without a store write.
    pub async fn record_success(&self, req: &AuthRequest, account: &str, now: SystemTime) -> StoreResult<()> {
        let inner = &self.inner;
        let Some(Client::Ip(ip)) = self.client(req, false) else {
            return Ok(());
        };
        let Some(policy) = inner.tolerations.for_client(ip) else {
            return Ok(());
        };
        let client = scoped_client(ip, inner.tolerations_ipv6_cidr);
        let memo_key = (client, account.to_owned());
        if inner
            .counted_successes
            .get(&memo_key)
            .is_some_and(|until| now < until)
        {
            return Ok(());
        }
        let keys = inner.store.keys();
        let (client, account) = &memo_key;
        let first = inner
            .store
            .set_nx(&keys.toleration_account(client, account), "1", Some(policy.ttl))
            .await?;
        if first {
            inner
                .store
                .incr(&keys.toleration(client, true), 1, Some(policy.ttl))
                .await?;
        }
        inner.counted_successes.insert(memo_key, now + policy.ttl);
        Ok(())
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
            refused_in_flight: load(&s.refused_in_flight),
            no_address: load(&s.no_address),
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
