//! The admin side of brute force: listing bans and the accounts banned clients tried, flushing
//! a client's buckets and bans, and forgetting an account's password history.

use std::collections::BTreeMap;
use std::net::IpAddr;

use nauthilus_store::{StoreError, StoreResult};

use super::BruteForce;
use super::network::{parse_client_ip, parse_net};
use super::rule::{Scope, account_subject, account_subject_from_admin};

/// Filters of the list API; empty lists list everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub accounts: Vec<String>,
    pub ip_addresses: Vec<String>,
}

/// What the list API shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BanList {
    /// Banned scope (`<network>[:<protocol>][:oidc:<cid>]`, or `account:<user>[...]` for the
    /// address-less logins of a user) → the rule that banned it.
    pub ip_addresses: BTreeMap<String, String>,
    /// Account → the banned client IPs that tried it.
    pub accounts: BTreeMap<String, Vec<String>>,
}

/// One flush request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlushRequest {
    /// An IP address, or `account:<user>` for the address-less state of a user (as the list
    /// API shows it).
    pub ip_address: String,
    /// A rule name, or `*` for every rule.
    pub rule_name: String,
    pub protocol: Option<String>,
    pub oidc_cid: Option<String>,
}

/// Why a flush could not run.
#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    #[error("ip_address {0:?} is not an IP address")]
    BadAddress(String),
    #[error("no brute-force rule is named {0:?}")]
    UnknownRule(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BruteForce {
    /// The current bans and affected accounts, filtered.
    pub async fn list(&self, filter: &ListFilter) -> StoreResult<BanList> {
        let store = self.store();
        let keys = store.keys();
        let mut list = BanList::default();
        let nets: Vec<ipnet::IpNet> = filter.ip_addresses.iter().filter_map(|s| parse_net(s)).collect();
        let index = keys.brute_force_ban_index();
        for scope in store.set_members(&index).await? {
            let Some(rule) = store.get(&keys.brute_force_ban(&scope)).await? else {
                // The ban expired: drop it from the index.
                store.set_remove(&index, &[&scope]).await?;
                continue;
            };
            if filter.ip_addresses.is_empty() || scope_matches(&scope, &nets) {
                list.ip_addresses.insert(scope, rule);
            }
        }
        let index = keys.affected_accounts();
        for account in store.set_members(&index).await? {
            let mut ips = store.set_members(&keys.affected_account(&account)).await?;
            if ips.is_empty() {
                store.set_remove(&index, &[&account]).await?;
                continue;
            }
            if filter.accounts.is_empty() || filter.accounts.contains(&account) {
                ips.sort();
                list.accounts.insert(account, ips);
            }
        }
        Ok(list)
    }

    /// Removes the buckets and bans of `req.ip_address` (or of the address-less logins of
    /// `account:<user>`) for the named rule (or all), narrowed to a protocol or client id when
    /// given. Returns the keys that existed and were removed.
    pub async fn flush(&self, req: &FlushRequest) -> Result<Vec<String>, FlushError> {
        let target = match account_subject_from_admin(&req.ip_address) {
            Some(subject) => Target::Account(subject),
            None => Target::Ip(
                parse_client_ip(&req.ip_address)
                    .ok_or_else(|| FlushError::BadAddress(req.ip_address.clone()))?,
            ),
        };
        let all = req.rule_name == "*";
        let rules: Vec<_> = self
            .rules()
            .iter()
            .filter(|r| all || r.name == req.rule_name)
            .collect();
        if rules.is_empty() {
            return Err(FlushError::UnknownRule(req.rule_name.clone()));
        }
        let store = self.store();
        let keys = store.keys();
        let mut removed = Vec::new();
        let mut unbanned = Vec::new();
        let (protocol, cid) = (req.protocol.as_deref(), req.oidc_cid.as_deref());
        for rule in rules {
            let scoped: Vec<(Scope, String)> = match &target {
                Target::Ip(ip) => rule
                    .scopes_for_flush(*ip, protocol, cid)
                    .into_iter()
                    .map(|s| {
                        let bucket = rule.bucket_key(keys, *ip, &s);
                        (s, bucket)
                    })
                    .collect(),
                Target::Account(subject) => rule
                    .account_scopes_for_flush(subject, protocol, cid)
                    .into_iter()
                    .map(|s| {
                        let bucket = rule.account_bucket_key(keys, &s);
                        (s, bucket)
                    })
                    .collect(),
            };
            for (scope, bucket) in scoped {
                let tail = scope.tail();
                if store.delete(&bucket).await? {
                    removed.push(bucket);
                }
                let ban = keys.brute_force_ban(&tail);
                if store.delete(&ban).await? {
                    removed.push(ban);
                }
                unbanned.push(tail);
            }
        }
        if !unbanned.is_empty() {
            let members: Vec<&str> = unbanned.iter().map(String::as_str).collect();
            store.set_remove(&keys.brute_force_ban_index(), &members).await?;
        }
        if let Target::Ip(ip) = target
            && all
            && req.protocol.is_none()
            && req.oidc_cid.is_none()
        {
            // Every ban of the client is gone: it no longer affects any account.
            removed.extend(self.forget_client_in_affected(ip).await?);
        }
        removed.sort();
        removed.dedup();
        Ok(removed)
    }

    /// Removes `ip` from the affected-account sets; returns the sets that became empty.
    async fn forget_client_in_affected(&self, ip: IpAddr) -> StoreResult<Vec<String>> {
        let store = self.store();
        let keys = store.keys();
        let ip = ip.to_string();
        let mut emptied = Vec::new();
        for account in store.set_members(&keys.affected_accounts()).await? {
            let key = keys.affected_account(&account);
            if store.set_remove(&key, &[&ip]).await? > 0 && !store.exists(&key).await? {
                emptied.push(key);
                store.set_remove(&keys.affected_accounts(), &[&account]).await?;
            }
        }
        Ok(emptied)
    }

    /// Forgets `account` for brute force (cache flush): its address-less buckets and bans, the
    /// buckets and bans of every client address it failed from or was tried from while banned,
    /// its password history and its affected-account entry. Returns the keys that existed and were removed.
    pub async fn flush_account(&self, account: &str) -> StoreResult<Vec<String>> {
        let store = self.store();
        let keys = store.keys();
        let mut removed = Vec::new();
        let address_less = FlushRequest {
            ip_address: account_subject(account),
            rule_name: "*".into(),
            protocol: None,
            oidc_cid: None,
        };
        match self.flush(&address_less).await {
            Ok(keys) => removed.extend(keys),
            Err(FlushError::Store(e)) => return Err(e),
            Err(FlushError::BadAddress(_) | FlushError::UnknownRule(_)) => {}
        }
        let clients_key = keys.repeated_wrong_password_clients(account);
        let clients = store.set_members(&clients_key).await?;
        let mut addresses: Vec<IpAddr> = clients.iter().filter_map(|c| parse_client_ip(c)).collect();
        for ip in store.set_members(&keys.affected_account(account)).await? {
            addresses.extend(parse_client_ip(&ip));
        }
        addresses.sort();
        addresses.dedup();
        for ip in addresses {
            let all = FlushRequest {
                ip_address: ip.to_string(),
                rule_name: "*".into(),
                protocol: None,
                oidc_cid: None,
            };
            match self.flush(&all).await {
                Ok(keys) => removed.extend(keys),
                Err(FlushError::Store(e)) => return Err(e),
                // Addresses come from our own state and "*" always names a rule set.
                Err(FlushError::BadAddress(_) | FlushError::UnknownRule(_)) => {}
            }
        }
        for client in clients {
            let key = keys.repeated_wrong_password(&client, account);
            if store.delete(&key).await? {
                removed.push(key);
            }
        }
        if store.delete(&clients_key).await? {
            removed.push(clients_key);
        }
        let affected = keys.affected_account(account);
        if store.delete(&affected).await? {
            removed.push(affected);
        }
        store.set_remove(&keys.affected_accounts(), &[account]).await?;
        removed.sort();
        removed.dedup();
        Ok(removed)
    }
}

/// What a flush names.
enum Target {
    Ip(IpAddr),
    /// The address-less state of one user ([`account_subject`]).
    Account(String),
}

/// True when the network of a banned scope contains one of `nets` (or is contained in it).
fn scope_matches(scope: &str, nets: &[ipnet::IpNet]) -> bool {
    // The network ends at the prefix length after the '/'; protocol and client id follow.
    let Some((addr, rest)) = scope.split_once('/') else {
        return false;
    };
    let len: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let Some(banned) = parse_net(&format!("{addr}/{len}")) else {
        return false;
    };
    nets.iter()
        .any(|n| banned.contains(&n.network()) || n.contains(&banned.network()))
}
