//! The `cache` backend: the shared positive cache. After another backend verifies a login, the
//! account's hash `<prefix>ucp:<cache_name>:<account>` records a salted digest of the password,
//! the source backend, the field names and the attributes, for `positive_cache_ttl`. A later
//! login with the same password is answered from it; a different password falls through to the
//! next backend (so a changed password works at once).
//!
//! The user → account mapping the cache reads first is kept per user name and login context
//! (`<user>|<protocol>|<oidc_cid>`). Nauthilus writes a field for every protocol and client id a
//! request names, without TTL, so one valid user sending made-up protocol names grows the hash
//! without bound. Here the context is bounded: a protocol is kept only if it is a well-known
//! mail/web protocol or one the configuration has an LDAP search for, any other is mapped as
//! `default` (whose search it uses anyway), and the client id is left empty (the account does
//! not depend on it). So a user has at most one field per known protocol.
//!
//! A lookup needs the mapping before it can name the entry. To make it one round trip, this
//! process remembers which account each mapping field named last (`accounts`, bounded) and reads
//! that account's entry in the same pipeline as the mapping; the entry is used only if the
//! mapping read in that pipeline still names the same account, else the right entry is read
//! after it. The memo is a guess that saves a round trip, never a source of truth, so it needs
//! no invalidation.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use nauthilus_store::{DEFAULT_CACHE_NAME, KeyLayout, Read, ReadReply, Store, StoreError};

use super::PassDbResult;
use crate::account_mapping::AccountMapping;
use crate::outcome::{Attributes, BackendId, FieldNames, UserData};
use crate::password_digest::PasswordDigester;
use crate::request::{AuthMode, AuthRequest, Protocol};

/// Field names of the cache hash (the Nauthilus layout).
mod field {
    pub const BACKEND: &str = "backend";
    pub const PASSWORD: &str = "password";
    pub const ACCOUNT_FIELD: &str = "account_field";
    pub const TOTP_SECRET_FIELD: &str = "totp_secret_field";
    pub const WEBAUTHN_USERID_FIELD: &str = "webauth_userid_field";
    pub const DISPLAY_NAME_FIELD: &str = "display_name_field";
    pub const ATTRIBUTES: &str = "attributes";
}

/// The positive cache over a `Store`.
#[derive(Clone, Debug)]
pub struct PositiveCache {
    store: Store,
    mapping: AccountMapping,
    digester: PasswordDigester,
    ttl: Duration,
    /// Protocol → cache name (`search[].cache_name`); `default` is the fallback.
    cache_names: Arc<BTreeMap<String, String>>,
    /// Protocols with an LDAP search of their own (mapped under their name).
    search_protocols: Arc<BTreeSet<String>>,
    /// Mapping field → the account it named when this process last read or wrote it.
    accounts: moka::sync::Cache<String, Arc<str>>,
}

/// Most mapping fields whose account this process remembers.
const ACCOUNT_MEMO_CAPACITY: u64 = 100_000;

/// The reads of one lookup, planned before they are sent ([`PositiveCache::probe`]) so that a
/// caller can send them in one round trip with reads of its own.
#[derive(Debug)]
pub struct CacheProbe {
    mapping_key: String,
    mapping_field: String,
    /// The account the mapping named last time, and the key of its entry.
    guess: Option<(Arc<str>, String)>,
}

impl CacheProbe {
    /// The reads, in order: the mapping field, then (with a guess) the guessed entry.
    pub fn reads(&self) -> Vec<Read<'_>> {
        let mut reads = vec![Read::HashGet(&self.mapping_key, &self.mapping_field)];
        if let Some((_, key)) = &self.guess {
            reads.push(Read::HashGetAll(key));
        }
        reads
    }
}

/// Protocols mapped under their own name even without a search of their own: the ones mail
/// and web front ends send.
const WELL_KNOWN_PROTOCOLS: &[&str] = &[
    "default",
    "imap",
    "imaps",
    "pop3",
    "pop3s",
    "smtp",
    "smtps",
    "submission",
    "submissions",
    "lmtp",
    "sieve",
    "managesieve",
    "http",
    "https",
];

impl PositiveCache {
    /// A cache in `store`, digesting passwords with `digester`, keeping entries for `ttl`.
    pub fn new(store: Store, digester: PasswordDigester, ttl: Duration) -> Self {
        Self {
            mapping: AccountMapping::new(store.clone()),
            store,
            digester,
            ttl,
            cache_names: Arc::default(),
            search_protocols: Arc::default(),
            accounts: moka::sync::Cache::new(ACCOUNT_MEMO_CAPACITY),
        }
    }

    /// The same cache with per-protocol namespaces: `names` maps a protocol (or `default`, the
    /// fallback) to its cache name; protocols without one use `__default__`.
    pub fn with_cache_names(mut self, names: BTreeMap<String, String>) -> Self {
        self.search_protocols = Arc::new(names.keys().cloned().collect());
        self.cache_names = Arc::new(names.into_iter().filter(|(_, n)| !n.is_empty()).collect());
        self
    }

    /// The cache name logins of `protocol` are kept under.
    pub fn cache_name(&self, protocol: &str) -> &str {
        self.cache_names
            .get(protocol)
            .or_else(|| self.cache_names.get(Protocol::DEFAULT))
            .map_or(DEFAULT_CACHE_NAME, String::as_str)
    }

    /// The login context `req` is mapped under (see the module docs): its protocol if well
    /// known or searched for, else `default`; never a client id.
    pub fn mapping_context<'a>(&self, req: &'a AuthRequest) -> (&'a str, &'static str) {
        let protocol = req.protocol.as_str();
        let known = WELL_KNOWN_PROTOCOLS.contains(&protocol) || self.search_protocols.contains(protocol);
        (if known { protocol } else { Protocol::DEFAULT }, "")
    }

    /// The store it writes to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The account mapping it maintains.
    pub fn mapping(&self) -> &AccountMapping {
        &self.mapping
    }

    /// The hash key of `account`'s entry for logins of `protocol`.
    pub fn key(&self, protocol: &str, account: &str) -> String {
        self.store
            .keys()
            .positive_cache(self.cache_name(protocol), account)
    }

    /// Every key `account` may have an entry under (one per cache name), for flushing.
    pub fn all_keys(&self, account: &str) -> Vec<String> {
        let mut names: Vec<&str> = self.cache_names.values().map(String::as_str).collect();
        names.push(DEFAULT_CACHE_NAME);
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .map(|n| self.store.keys().positive_cache(n, account))
            .collect()
    }

    /// Answers from the cache: `UserNotFound` when there is no entry, `Found` with
    /// `password_ok` telling whether the presented password matches the cached digest. One
    /// round trip when this process has seen the user's mapping before, else two.
    pub async fn lookup(&self, req: &AuthRequest) -> Result<PassDbResult, StoreError> {
        let probe = self.probe(req);
        let replies = self.store.read_batch(&probe.reads()).await?;
        self.lookup_probed(req, probe, replies).await
    }

    /// The reads a lookup of `req` starts with (see [`CacheProbe`]).
    pub fn probe(&self, req: &AuthRequest) -> CacheProbe {
        let (protocol, oidc_cid) = self.mapping_context(req);
        let mapping_field = KeyLayout::account_mapping_field(&req.username, protocol, oidc_cid);
        let guess = self.accounts.get(&mapping_field).map(|account| {
            let key = self.key(req.protocol.as_str(), &account);
            (account, key)
        });
        CacheProbe {
            mapping_key: self.mapping.key_for(&req.username),
            mapping_field,
            guess,
        }
    }

    /// The lookup of `req`, given the answers to `probe`'s reads (in order); reads the entry
    /// itself when the mapping names another account than the guess.
    pub async fn lookup_probed(
        &self,
        req: &AuthRequest,
        probe: CacheProbe,
        replies: Vec<ReadReply>,
    ) -> Result<PassDbResult, StoreError> {
        let mut replies = replies.into_iter();
        let Some(account) = replies.next().and_then(ReadReply::into_value) else {
            if probe.guess.is_some() {
                self.accounts.invalidate(&probe.mapping_field);
            }
            return Ok(PassDbResult::UserNotFound);
        };
        let entry = match (probe.guess, replies.next()) {
            (Some((guess, _)), Some(entry)) if *guess == *account => entry.into_hash(),
            _ => {
                self.accounts
                    .insert(probe.mapping_field, Arc::from(account.as_str()));
                self.store
                    .hash_get_all(&self.key(req.protocol.as_str(), &account))
                    .await?
            }
        };
        let Some(user) = decode(&account, &entry) else {
            return Ok(PassDbResult::UserNotFound);
        };
        let password_ok = match req.mode {
            AuthMode::NoAuth => true,
            AuthMode::Authenticate => {
                !req.password.is_empty()
                    && entry
                        .get(field::PASSWORD)
                        .is_some_and(|d| self.digester.matches(req.password.expose(), d))
            }
        };
        Ok(PassDbResult::Found {
            user: Arc::new(user),
            password_ok,
        })
    }

    /// Records a login another backend verified.
    pub async fn remember(&self, req: &AuthRequest, user: &UserData) -> Result<(), StoreError> {
        let digest = self.digester.digest(req.password.expose());
        let backend = user.backend.code().to_string();
        let attributes = if user.attributes.is_empty() {
            None
        } else {
            serde_json::to_string(&user.attributes).ok()
        };
        let mut fields: Vec<(&str, &str)> = vec![(field::BACKEND, &backend), (field::PASSWORD, &digest)];
        for (name, value) in [
            (field::ACCOUNT_FIELD, &user.fields.account_field),
            (field::TOTP_SECRET_FIELD, &user.fields.totp_secret_field),
            (field::WEBAUTHN_USERID_FIELD, &user.fields.webauthn_userid_field),
            (field::DISPLAY_NAME_FIELD, &user.fields.display_name_field),
        ] {
            if !value.is_empty() {
                fields.push((name, value));
            }
        }
        if let Some(a) = &attributes {
            fields.push((field::ATTRIBUTES, a));
        }
        // Independent writes: send both at once (one round trip of latency, not two). A reader
        // seeing one without the other finds no usable entry and asks the next backend.
        let key = self.key(req.protocol.as_str(), &user.account);
        let (protocol, oidc_cid) = self.mapping_context(req);
        tokio::try_join!(
            self.mapping.set(&req.username, protocol, oidc_cid, &user.account),
            self.store.hash_replace(&key, &fields, Some(self.ttl)),
        )?;
        self.accounts.insert(
            KeyLayout::account_mapping_field(&req.username, protocol, oidc_cid),
            Arc::from(user.account.as_str()),
        );
        Ok(())
    }
}

/// The cached user, or `None` for an entry that is not a usable cache hash.
fn decode(account: &str, entry: &HashMap<String, String>) -> Option<UserData> {
    let backend = entry.get(field::BACKEND)?.parse::<u8>().ok()?;
    let text = |name: &str| entry.get(name).cloned().unwrap_or_default();
    let attributes: Attributes = match entry.get(field::ATTRIBUTES) {
        Some(json) => serde_json::from_str(json).ok()?,
        None => Attributes::new(),
    };
    Some(UserData {
        account: account.to_owned(),
        backend: BackendId::from_code(backend),
        fields: FieldNames {
            account_field: text(field::ACCOUNT_FIELD),
            totp_secret_field: text(field::TOTP_SECRET_FIELD),
            webauthn_userid_field: text(field::WEBAUTHN_USERID_FIELD),
            display_name_field: text(field::DISPLAY_NAME_FIELD),
        },
        attributes,
    })
}
