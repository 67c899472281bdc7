//! The in-process store for embedded mode (one instance, no Redis): the same data model and
//! semantics as Redis (strings, hashes, sets, counters, TTLs), kept in a map behind one mutex.
//! The mutex is never held across an await, and critical sections are a few map operations.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::Ttl;
use crate::clock::{Clock, SystemClock};
use crate::error::StoreError;

#[derive(Debug, Clone)]
enum Data {
    Str(String),
    Hash(HashMap<String, String>),
    Set(HashSet<String>),
}

#[derive(Debug)]
struct Entry {
    data: Data,
    expires: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Entry>,
    writes_since_sweep: usize,
}

/// Embedded-mode state, with Redis semantics.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    clock: Arc<dyn Clock>,
}

const WRONG_TYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }
}

impl MemoryStore {
    /// A store measuring TTLs with `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Arc::new(Mutex::new(State::default())),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-operation; every operation
        // leaves the map consistent, so carry on with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the live (non-expired) entry map; counts writes to sweep expired keys from
    /// time to time, so memory stays bounded by live keys (amortised O(1) per write).
    fn with<R>(&self, write: bool, f: impl FnOnce(&mut HashMap<String, Entry>, Instant) -> R) -> R {
        let now = self.clock.now();
        let mut state = self.lock();
        if write {
            state.writes_since_sweep += 1;
            if state.writes_since_sweep >= 1024.max(state.entries.len() / 4) {
                state.entries.retain(|_, e| e.expires.is_none_or(|t| t > now));
                state.writes_since_sweep = 0;
            }
        }
        f(&mut state.entries, now)
    }

    pub(crate) fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, StoreError> {
        keys.iter().map(|k| self.get(k)).collect()
    }

    /// True when `other` is this same store (clones share it).
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }

    pub(crate) fn read_batch(&self, reads: &[crate::Read<'_>]) -> Result<Vec<crate::ReadReply>, StoreError> {
        use crate::{Read, ReadReply};
        reads
            .iter()
            .map(|r| match *r {
                Read::Get(key) => self.get(key).map(ReadReply::Value),
                Read::HashGet(key, field) => self.hash_get(key, field).map(ReadReply::Value),
                Read::HashGetAll(key) => self.hash_get_all(key).map(ReadReply::Hash),
            })
            .collect()
    }

    pub(crate) fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.with(false, |m, now| match live(m, key, now) {
            None => Ok(None),
            Some(Entry {
                data: Data::Str(s), ..
            }) => Ok(Some(s.clone())),
            Some(_) => Err(wrong_type()),
        })
    }

    pub(crate) fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), StoreError> {
        self.with(true, |m, now| {
            m.insert(
                key.to_owned(),
                Entry {
                    data: Data::Str(value.to_owned()),
                    expires: ttl.map(|t| now + t),
                },
            );
            Ok(())
        })
    }

    pub(crate) fn set_nx(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<bool, StoreError> {
        self.with(true, |m, now| {
            if live(m, key, now).is_some() {
                return Ok(false);
            }
            m.insert(
                key.to_owned(),
                Entry {
                    data: Data::Str(value.to_owned()),
                    expires: ttl.map(|t| now + t),
                },
            );
            Ok(true)
        })
    }

    pub(crate) fn get_del(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.with(true, |m, now| match live(m, key, now) {
            None => Ok(None),
            Some(Entry {
                data: Data::Str(_), ..
            }) => match m.remove(key) {
                Some(Entry {
                    data: Data::Str(s), ..
                }) => Ok(Some(s)),
                _ => Ok(None),
            },
            Some(_) => Err(wrong_type()),
        })
    }

    pub(crate) fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.with(true, |m, now| {
            let existed = live(m, key, now).is_some();
            m.remove(key);
            Ok(existed)
        })
    }

    pub(crate) fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.with(false, |m, now| Ok(live(m, key, now).is_some()))
    }

    pub(crate) fn ttl(&self, key: &str) -> Result<Ttl, StoreError> {
        self.with(false, |m, now| {
            Ok(match live(m, key, now) {
                None => Ttl::Missing,
                Some(Entry { expires: None, .. }) => Ttl::Persistent,
                Some(Entry { expires: Some(t), .. }) => Ttl::Expires(t.saturating_duration_since(now)),
            })
        })
    }

    pub(crate) fn expire(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.with(true, |m, now| match live_mut(m, key, now) {
            None => Ok(false),
            Some(e) => {
                e.expires = Some(now + ttl);
                Ok(true)
            }
        })
    }

    pub(crate) fn hash_get_all(&self, key: &str) -> Result<HashMap<String, String>, StoreError> {
        self.with(false, |m, now| match live(m, key, now) {
            None => Ok(HashMap::new()),
            Some(Entry {
                data: Data::Hash(h), ..
            }) => Ok(h.clone()),
            Some(_) => Err(wrong_type()),
        })
    }

    pub(crate) fn hash_get(&self, key: &str, field: &str) -> Result<Option<String>, StoreError> {
        self.with(false, |m, now| match live(m, key, now) {
            None => Ok(None),
            Some(Entry {
                data: Data::Hash(h), ..
            }) => Ok(h.get(field).cloned()),
            Some(_) => Err(wrong_type()),
        })
    }

    pub(crate) fn hash_set(&self, key: &str, fields: &[(&str, &str)]) -> Result<(), StoreError> {
        if fields.is_empty() {
            return Ok(()); // as Redis: nothing to set creates nothing
        }
        self.with(true, |m, now| {
            let hash = hash_entry(m, key, now)?;
            for (f, v) in fields {
                hash.insert((*f).to_owned(), (*v).to_owned());
            }
            Ok(())
        })
    }

    pub(crate) fn hash_replace(
        &self,
        key: &str,
        fields: &[(&str, &str)],
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        self.with(true, |m, now| {
            if fields.is_empty() {
                m.remove(key);
                return Ok(());
            }
            let hash = fields
                .iter()
                .map(|(f, v)| ((*f).to_owned(), (*v).to_owned()))
                .collect();
            m.insert(
                key.to_owned(),
                Entry {
                    data: Data::Hash(hash),
                    expires: ttl.map(|t| now + t),
                },
            );
            Ok(())
        })
    }

    pub(crate) fn hash_delete(&self, key: &str, fields: &[&str]) -> Result<u64, StoreError> {
        self.with(true, |m, now| {
            let removed = match live_mut(m, key, now) {
                None => return Ok(0),
                Some(Entry {
                    data: Data::Hash(h), ..
                }) => {
                    let n = fields.iter().filter(|f| h.remove(**f).is_some()).count() as u64;
                    (n, h.is_empty())
                }
                Some(_) => return Err(wrong_type()),
            };
            if removed.1 {
                m.remove(key);
            }
            Ok(removed.0)
        })
    }

    pub(crate) fn hash_fields_with_prefix(
        &self,
        key: &str,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.with(false, |m, now| match live(m, key, now) {
            None => Ok(Vec::new()),
            Some(Entry {
                data: Data::Hash(h), ..
            }) => Ok(h
                .iter()
                .filter(|(f, _)| f.starts_with(prefix))
                .map(|(f, v)| (f.clone(), v.clone()))
                .collect()),
            Some(_) => Err(wrong_type()),
        })
    }

    pub(crate) fn incr(
        &self,
        key: &str,
        by: i64,
        ttl_if_created: Option<Duration>,
    ) -> Result<i64, StoreError> {
        self.with(true, |m, now| {
            if let Some(entry) = live_mut(m, key, now) {
                let Data::Str(s) = &mut entry.data else {
                    return Err(wrong_type());
                };
                let current: i64 = s
                    .parse()
                    .map_err(|_| StoreError::Command("ERR value is not an integer or out of range".into()))?;
                let next = current
                    .checked_add(by)
                    .ok_or_else(|| StoreError::Command("ERR increment or decrement would overflow".into()))?;
                *s = next.to_string();
                return Ok(next);
            }
            m.insert(
                key.to_owned(),
                Entry {
                    data: Data::Str(by.to_string()),
                    expires: ttl_if_created.map(|t| now + t),
                },
            );
            Ok(by)
        })
    }

    pub(crate) fn decr_if_positive(&self, key: &str) -> Result<i64, StoreError> {
        self.with(true, |m, now| {
            let Some(entry) = live_mut(m, key, now) else {
                return Ok(0);
            };
            let Data::Str(s) = &mut entry.data else {
                return Err(wrong_type());
            };
            let current: i64 = s
                .parse()
                .map_err(|_| StoreError::Command("ERR value is not an integer or out of range".into()))?;
            if current <= 0 {
                return Ok(current);
            }
            let next = current - 1;
            *s = next.to_string();
            Ok(next)
        })
    }

    pub(crate) fn set_add(
        &self,
        key: &str,
        members: &[&str],
        ttl: Option<Duration>,
    ) -> Result<u64, StoreError> {
        if members.is_empty() {
            return Ok(0); // as Redis: nothing to add creates nothing
        }
        self.with(true, |m, now| {
            let created = live(m, key, now).is_none();
            if created {
                m.insert(
                    key.to_owned(),
                    Entry {
                        data: Data::Set(HashSet::new()),
                        expires: None,
                    },
                );
            }
            let Some(entry) = m.get_mut(key) else { return Ok(0) };
            let Data::Set(set) = &mut entry.data else {
                return Err(wrong_type());
            };
            let added = members
                .iter()
                .filter(|mem| set.insert((**mem).to_owned()))
                .count() as u64;
            if let Some(t) = ttl {
                entry.expires = Some(now + t);
            }
            Ok(added)
        })
    }

    pub(crate) fn set_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        self.with(false, |m, now| match live(m, key, now) {
            None => Ok(Vec::new()),
            Some(Entry {
                data: Data::Set(s), ..
            }) => Ok(s.iter().cloned().collect()),
            Some(_) => Err(wrong_type()),
        })
    }

    pub(crate) fn set_remove(&self, key: &str, members: &[&str]) -> Result<u64, StoreError> {
        self.with(true, |m, now| {
            let (n, empty) = match live_mut(m, key, now) {
                None => return Ok(0),
                Some(Entry {
                    data: Data::Set(s), ..
                }) => (
                    members.iter().filter(|mem| s.remove(**mem)).count() as u64,
                    s.is_empty(),
                ),
                Some(_) => return Err(wrong_type()),
            };
            if empty {
                m.remove(key);
            }
            Ok(n)
        })
    }
}

fn wrong_type() -> StoreError {
    StoreError::Command(WRONG_TYPE.into())
}

/// The entry at `key` unless it has expired (an expired entry is removed lazily by writers).
fn live<'a>(m: &'a HashMap<String, Entry>, key: &str, now: Instant) -> Option<&'a Entry> {
    m.get(key).filter(|e| e.expires.is_none_or(|t| t > now))
}

fn live_mut<'a>(m: &'a mut HashMap<String, Entry>, key: &str, now: Instant) -> Option<&'a mut Entry> {
    if m.get(key).is_some_and(|e| e.expires.is_some_and(|t| t <= now)) {
        m.remove(key);
    }
    m.get_mut(key)
}

/// The hash at `key`, created empty (without TTL) if missing.
fn hash_entry<'a>(
    m: &'a mut HashMap<String, Entry>,
    key: &str,
    now: Instant,
) -> Result<&'a mut HashMap<String, String>, StoreError> {
    if live_mut(m, key, now).is_none() {
        m.insert(
            key.to_owned(),
            Entry {
                data: Data::Hash(HashMap::new()),
                expires: None,
            },
        );
    }
    match m.get_mut(key) {
        Some(Entry {
            data: Data::Hash(h), ..
        }) => Ok(h),
        _ => Err(wrong_type()),
    }
}

#[cfg(test)]
impl MemoryStore {
    /// Entries held, expired or not (for sweep tests).
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }
}
