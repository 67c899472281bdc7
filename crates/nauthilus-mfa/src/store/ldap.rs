//! Enrolments as attributes of the user's LDAP entry, written through our LDAP pools (lookup
//! connections, bound as the pool's bind DN, which must be allowed to write them). One
//! multi-valued attribute per kind; each value is `<id> <json>`. Every change is one LDAP
//! modify of one entry, so it is atomic; removing a value that is gone fails with
//! `noSuchAttribute`, which makes a single-use record (a recovery code) usable once.

use std::collections::HashSet;
use std::sync::Arc;

use ldap3::{Mod, Scope, SearchEntry};
use nauthilus_backends::ldap::{LdapError, LdapPool, escape_value};
use nauthilus_config::MfaLdapConfig;

use super::{Kind, Record, RecordBackend};
use crate::error::MfaError;

/// RFC 4511 result code: the value to delete is not there.
const NO_SUCH_ATTRIBUTE: u32 = 16;

/// The LDAP credential store.
#[derive(Debug)]
pub struct LdapCredentials {
    pool: Arc<LdapPool>,
    config: MfaLdapConfig,
}

/// The user's entry: its DN, object classes and the values of one attribute.
struct Entry {
    dn: String,
    has_object_class: bool,
    values: Vec<String>,
}

fn parse_value(value: &str) -> Option<Record> {
    let (id, data) = value.split_once(' ')?;
    Some(Record {
        id: id.to_owned(),
        data: data.to_owned(),
    })
}

fn value_of(record: &Record) -> String {
    format!("{} {}", record.id, record.data)
}

impl LdapCredentials {
    /// A store writing `config`'s attributes through `pool`.
    pub fn new(pool: Arc<LdapPool>, config: MfaLdapConfig) -> Result<Self, MfaError> {
        if config.base_dn.is_empty() {
            return Err(MfaError::Config("mfa.ldap.base_dn is required".into()));
        }
        if !config.filter.contains("%{account}") {
            return Err(MfaError::Config("mfa.ldap.filter must contain %{account}".into()));
        }
        Ok(Self { pool, config })
    }

    fn attribute(&self, kind: Kind) -> &str {
        match kind {
            Kind::Totp => &self.config.totp_secret_attribute,
            Kind::Webauthn => &self.config.webauthn_attribute,
            Kind::RecoveryCode => &self.config.recovery_code_attribute,
            Kind::AppPassword => &self.config.app_password_attribute,
        }
    }

    /// The account's entry with the values of `kind`'s attribute.
    async fn entry(&self, account: &str, kind: Kind) -> Result<Entry, MfaError> {
        let s = self.pool.settings();
        let filter = self.config.filter.replace("%{account}", &escape_value(account));
        let attribute = self.attribute(kind).to_owned();
        let mut connection = self.pool.lookup().await?;
        let result = connection
            .ldap()
            .with_timeout(s.search_timeout)
            .search(
                &self.config.base_dn,
                Scope::Subtree,
                &filter,
                vec![attribute.as_str(), "objectClass"],
            )
            .await
            .map_err(|e| LdapError::from_ldap3("mfa search", e, s.search_timeout))?;
        connection.release();
        let ldap3::SearchResult(entries, outcome) = result;
        if outcome.rc != 0 {
            return Err(LdapError::Server {
                op: "mfa search",
                rc: outcome.rc,
                text: outcome.text,
            }
            .into());
        }
        if entries.len() > 1 {
            return Err(LdapError::Ambiguous {
                user: account.to_owned(),
                count: entries.len(),
            }
            .into());
        }
        let entry = entries
            .into_iter()
            .next()
            .map(SearchEntry::construct)
            .ok_or_else(|| MfaError::NoEntry(account.to_owned()))?;
        let find = |name: &str| {
            entry
                .attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let oc = &self.config.object_class;
        Ok(Entry {
            has_object_class: oc.is_empty() || find("objectClass").iter().any(|c| c.eq_ignore_ascii_case(oc)),
            values: find(&attribute),
            dn: entry.dn,
        })
    }

    /// Applies `mods` to `entry` in one modify; `Ok(false)` when a value to delete was gone.
    async fn modify(&self, entry: &Entry, mut mods: Vec<Mod<String>>) -> Result<bool, MfaError> {
        if !entry.has_object_class {
            let oc = HashSet::from([self.config.object_class.clone()]);
            mods.insert(0, Mod::Add("objectClass".to_owned(), oc));
        }
        let s = self.pool.settings();
        let mut connection = self.pool.lookup().await?;
        let result = connection
            .ldap()
            .with_timeout(s.search_timeout)
            .modify(&entry.dn, mods)
            .await
            .map_err(|e| LdapError::from_ldap3("mfa modify", e, s.search_timeout))?;
        connection.release();
        match result.rc {
            0 => Ok(true),
            NO_SUCH_ATTRIBUTE => Ok(false),
            rc => Err(LdapError::Server {
                op: "mfa modify",
                rc,
                text: result.text,
            }
            .into()),
        }
    }
}

impl RecordBackend for LdapCredentials {
    async fn list_records(&self, account: &str, kind: Kind) -> Result<Vec<Record>, MfaError> {
        let entry = self.entry(account, kind).await?;
        Ok(entry.values.iter().filter_map(|v| parse_value(v)).collect())
    }

    async fn put_record(&self, account: &str, kind: Kind, record: &Record) -> Result<(), MfaError> {
        let entry = self.entry(account, kind).await?;
        let attribute = self.attribute(kind).to_owned();
        let new = value_of(record);
        let old: HashSet<String> = entry
            .values
            .iter()
            .filter(|v| parse_value(v).is_some_and(|r| r.id == record.id) && **v != new)
            .cloned()
            .collect();
        if entry.values.contains(&new) && old.is_empty() {
            return Ok(());
        }
        let mut mods = Vec::new();
        if !old.is_empty() {
            mods.push(Mod::Delete(attribute.clone(), old));
        }
        mods.push(Mod::Add(attribute, HashSet::from([new])));
        if self.modify(&entry, mods).await? {
            Ok(())
        } else {
            Err(MfaError::Invalid(format!(
                "{} record {} of {account:?} changed concurrently",
                kind.name(),
                record.id
            )))
        }
    }

    async fn remove_record(
        &self,
        account: &str,
        kind: Kind,
        id: &str,
        expected: Option<&str>,
    ) -> Result<bool, MfaError> {
        let entry = self.entry(account, kind).await?;
        let doomed: HashSet<String> = entry
            .values
            .iter()
            .filter(|v| parse_value(v).is_some_and(|r| r.id == id && expected.is_none_or(|e| e == r.data)))
            .cloned()
            .collect();
        if doomed.is_empty() {
            return Ok(false);
        }
        self.modify(&entry, vec![Mod::Delete(self.attribute(kind).to_owned(), doomed)])
            .await
    }

    async fn update_record(
        &self,
        account: &str,
        kind: Kind,
        old: &Record,
        new: &Record,
    ) -> Result<bool, MfaError> {
        let entry = self.entry(account, kind).await?;
        let old = value_of(old);
        if !entry.values.contains(&old) {
            return Ok(false);
        }
        let attribute = self.attribute(kind).to_owned();
        let mods = vec![
            Mod::Delete(attribute.clone(), HashSet::from([old])),
            Mod::Add(attribute, HashSet::from([value_of(new)])),
        ];
        self.modify(&entry, mods).await
    }

    async fn replace_records(&self, account: &str, kind: Kind, records: &[Record]) -> Result<(), MfaError> {
        let entry = self.entry(account, kind).await?;
        let values: HashSet<String> = records.iter().map(value_of).collect();
        self.modify(
            &entry,
            vec![Mod::Replace(self.attribute(kind).to_owned(), values)],
        )
        .await
        .map(drop)
    }
}
