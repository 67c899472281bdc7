//! The Redis commands behind each store operation, built without a connection so the exact
//! wire form can be checked. Every command touches one key, so all of them (the MULTI block and
//! the Lua scripts too) are safe in a Redis Cluster.

use std::sync::LazyLock;
use std::time::Duration;

use redis::{Cmd, Pipeline, Script, cmd, pipe};

use crate::Ttl;

/// Longest TTL sent to Redis (100 years): PX beyond "now + i64::MAX ms" is an error there.
const MAX_TTL_MILLIS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// Fields per HSCAN round trip (a hint; small hashes come back whole).
pub(crate) const HSCAN_COUNT: u64 = 1000;

/// INCRBY that sets the TTL only when it created the key.
pub(crate) static INCR_TTL_IF_CREATED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value",
    )
});

/// DECR only when the key holds an integer above zero: never creates a key (which would have
/// no TTL) and never goes below zero. GET fails with WRONGTYPE on other types, as INCRBY does.
pub(crate) static DECR_IF_POSITIVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local n = tonumber(v)
if n == nil or n ~= math.floor(n) then
  return redis.error_reply('ERR value is not an integer or out of range')
end
if n > 0 then return redis.call('DECR', KEYS[1]) end
return n",
    )
});

/// SADD then PEXPIRE; a failing SADD (WRONGTYPE) aborts before the TTL is touched, which a
/// MULTI block would not do. Members go in batches to stay below Lua's `unpack` limit.
pub(crate) static SADD_WITH_TTL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local added = 0
for i = 2, #ARGV, 1000 do
  added = added + redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return added",
    )
});

/// A TTL in whole milliseconds for PX/PEXPIRE: rounded up (so it never becomes 0, which
/// Redis rejects), and capped.
pub(crate) fn millis(ttl: Duration) -> u64 {
    let ms = ttl.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(u64::MAX).clamp(1, MAX_TTL_MILLIS)
}

/// PTTL's answer: -2 no key, -1 no TTL, else milliseconds left.
pub(crate) fn ttl_from_pttl(pttl: i64) -> Ttl {
    match pttl {
        -1 => Ttl::Persistent,
        ms if ms < 0 => Ttl::Missing,
        ms => Ttl::Expires(Duration::from_millis(ms.unsigned_abs())),
    }
}

/// `SET key value [PX ms] [NX]`.
pub(crate) fn set(key: &str, value: &str, ttl: Option<Duration>, only_if_missing: bool) -> Cmd {
    let mut c = cmd("SET");
    c.arg(key).arg(value);
    if let Some(ttl) = ttl {
        c.arg("PX").arg(millis(ttl));
    }
    if only_if_missing {
        c.arg("NX");
    }
    c
}

/// DEL, HSET and PEXPIRE in one MULTI/EXEC: readers see the old hash or the new one.
pub(crate) fn hash_replace(key: &str, fields: &[(&str, &str)], ttl: Option<Duration>) -> Pipeline {
    let mut p = pipe();
    p.atomic().cmd("DEL").arg(key).ignore();
    p.add_command(hset(key, fields)).ignore();
    if let Some(ttl) = ttl {
        p.cmd("PEXPIRE").arg(key).arg(millis(ttl)).ignore();
    }
    p
}

/// `HSET key f1 v1 f2 v2 ...`.
pub(crate) fn hset(key: &str, fields: &[(&str, &str)]) -> Cmd {
    let mut c = cmd("HSET");
    c.arg(key);
    for (field, value) in fields {
        c.arg(*field).arg(*value);
    }
    c
}

/// `HSCAN key cursor MATCH <escaped prefix>* COUNT n`.
pub(crate) fn hscan_prefix(key: &str, cursor: &str, prefix: &str) -> Cmd {
    let mut c = cmd("HSCAN");
    c.arg(key)
        .arg(cursor)
        .arg("MATCH")
        .arg(prefix_pattern(prefix))
        .arg("COUNT")
        .arg(HSCAN_COUNT);
    c
}

/// A glob matching names that start with `prefix` taken literally: `*?[]\` are escaped.
pub(crate) fn prefix_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 2);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('*');
    pattern
}

/// `<name> key m1 m2 ...` (SADD, SREM, HDEL).
pub(crate) fn key_and_members(name: &str, key: &str, members: &[&str]) -> Cmd {
    let mut c = cmd(name);
    c.arg(key).arg(members);
    c
}

/// The command of one read of a batch.
pub(super) fn read(read: crate::Read<'_>) -> Cmd {
    match read {
        crate::Read::Get(key) => {
            let mut c = cmd("GET");
            c.arg(key);
            c
        }
        crate::Read::HashGet(key, field) => {
            let mut c = cmd("HGET");
            c.arg(key).arg(field);
            c
        }
        crate::Read::HashGetAll(key) => {
            let mut c = cmd("HGETALL");
            c.arg(key);
            c
        }
    }
}

/// The reply to one read of a batch, typed by what was read. A server error in a pipeline's
/// reply (a key of the wrong type) is an error here, as for the single reads.
pub(super) fn read_reply(read: crate::Read<'_>, value: redis::Value) -> Result<crate::ReadReply, String> {
    use redis::FromRedisValue;
    match read {
        crate::Read::Get(_) | crate::Read::HashGet(..) => Option::<String>::from_redis_value(value)
            .map(crate::ReadReply::Value)
            .map_err(|e| e.to_string()),
        crate::Read::HashGetAll(_) => std::collections::HashMap::from_redis_value(value)
            .map(crate::ReadReply::Hash)
            .map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(c: &Cmd) -> Vec<String> {
        c.args_iter()
            .map(|a| match a {
                redis::Arg::Simple(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                _ => "<cursor>".into(),
            })
            .collect()
    }

    #[test]
    fn prefix_patterns_escape_every_glob_character() {
        assert_eq!(prefix_pattern("alice|imap|"), "alice|imap|*");
        assert_eq!(prefix_pattern(r"a*b?c[d]e\f"), r"a\*b\?c\[d\]e\\f*");
        assert_eq!(prefix_pattern(""), "*");
    }

    #[test]
    fn ttls_are_whole_milliseconds_never_zero() {
        assert_eq!(millis(Duration::from_secs(2)), 2000);
        assert_eq!(millis(Duration::from_micros(1500)), 2);
        assert_eq!(millis(Duration::ZERO), 1);
        assert_eq!(millis(Duration::MAX), MAX_TTL_MILLIS);
    }

    #[test]
    fn pttl_answers_map_to_ttls() {
        assert_eq!(ttl_from_pttl(-2), Ttl::Missing);
        assert_eq!(ttl_from_pttl(-1), Ttl::Persistent);
        assert_eq!(ttl_from_pttl(1500), Ttl::Expires(Duration::from_millis(1500)));
    }

    #[test]
    fn set_commands_carry_px_and_nx() {
        assert_eq!(words(&set("k", "v", None, false)), ["SET", "k", "v"]);
        assert_eq!(
            words(&set("k", "v", Some(Duration::from_secs(3)), true)),
            ["SET", "k", "v", "PX", "3000", "NX"]
        );
        assert_eq!(
            words(&hscan_prefix("h", "0", "a*")),
            ["HSCAN", "h", "0", "MATCH", r"a\**", "COUNT", "1000"]
        );
    }
}
