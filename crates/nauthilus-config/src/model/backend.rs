//! Names of password databases in `server.backends`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One entry of `server.backends`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BackendName {
    /// The shared positive cache (Redis, or in process in embedded mode).
    Cache,
    /// A Dovecot-style passwd-file (`passwd_file.path`).
    PasswdFile,
    /// LDAP: `ldap` (the pool `ldap.config`) or `ldap(<name>)` (`ldap.optional_ldap_pools.<name>`).
    Ldap(Option<String>),
    /// SQL: `sql` (`sql.config` with `sql.search`) or `sql(<name>)` (`sql.optional_sql_backends.<name>`).
    Sql(Option<String>),
    /// A Lua script: `lua` (`lua.config.backend_script_path`) or `lua(<name>)` (`lua.optional_lua_backends.<name>`).
    Lua(Option<String>),
}

const AVAILABLE: &str =
    "available: cache, passwd_file, ldap, ldap(<pool>), sql, sql(<name>), lua, lua(<name>)";

impl fmt::Display for BackendName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cache => f.write_str("cache"),
            Self::PasswdFile => f.write_str("passwd_file"),
            Self::Ldap(None) => f.write_str("ldap"),
            Self::Ldap(Some(pool)) => write!(f, "ldap({pool})"),
            Self::Sql(None) => f.write_str("sql"),
            Self::Sql(Some(name)) => write!(f, "sql({name})"),
            Self::Lua(None) => f.write_str("lua"),
            Self::Lua(Some(name)) => write!(f, "lua({name})"),
        }
    }
}

impl FromStr for BackendName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let name = trimmed.to_ascii_lowercase();
        match name.as_str() {
            "cache" => return Ok(Self::Cache),
            "passwd_file" => return Ok(Self::PasswdFile),
            "ldap" => return Ok(Self::Ldap(None)),
            "sql" => return Ok(Self::Sql(None)),
            "lua" => return Ok(Self::Lua(None)),
            _ => {}
        }
        let base = name.split('(').next().unwrap_or_default().trim();
        if base == "ldap" || base == "sql" || base == "lua" {
            // Lower-cased like every config key, so it names a key of ldap.optional_ldap_pools
            // (sql.optional_sql_backends, lua.optional_lua_backends).
            let inner = name
                .split_once('(')
                .map(|(_, r)| r)
                .and_then(|r| r.strip_suffix(')'))
                .map(str::trim)
                .filter(|p| !p.is_empty() && !p.contains(['(', ')']));
            let make = match base {
                "ldap" => Self::Ldap,
                "sql" => Self::Sql,
                _ => Self::Lua,
            };
            return match inner {
                // `default` names the main pool of LDAP and SQL; a Lua backend called `default`
                // is just a name.
                Some("default") if base != "lua" => Ok(make(None)),
                Some(name) => Ok(make(Some(name.to_owned()))),
                None => Err(format!("backend {s:?}: expected `{base}` or `{base}(<name>)`")),
            };
        }
        Err(format!("unknown backend {s:?}; {AVAILABLE}"))
    }
}

impl Serialize for BackendName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl schemars::JsonSchema for BackendName {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BackendName".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "backend",
            "pattern": r"^\s*([Cc][Aa][Cc][Hh][Ee]|[Pp][Aa][Ss][Ss][Ww][Dd]_[Ff][Ii][Ll][Ee]|[Ll][Dd][Aa][Pp](\([^()]+\))?|[Ss][Qq][Ll](\([^()]+\))?|[Ll][Uu][Aa](\([^()]+\))?)\s*$",
        })
    }
}

impl<'de> Deserialize<'de> for BackendName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldap_names_with_and_without_a_pool() {
        assert_eq!("ldap".parse(), Ok(BackendName::Ldap(None)));
        assert_eq!("LDAP(default)".parse(), Ok(BackendName::Ldap(None)));
        assert_eq!(
            "ldap( Mail )".parse(),
            Ok(BackendName::Ldap(Some("mail".to_owned())))
        );
        assert!("ldap()".parse::<BackendName>().is_err());
        assert!("ldap(a".parse::<BackendName>().is_err());
        assert_eq!(BackendName::Ldap(Some("x".into())).to_string(), "ldap(x)");
        assert_eq!("SQL".parse(), Ok(BackendName::Sql(None)));
        assert_eq!(
            "sql( PostfixAdmin )".parse(),
            Ok(BackendName::Sql(Some("postfixadmin".to_owned())))
        );
        assert!("sql()".parse::<BackendName>().is_err());
        assert_eq!(BackendName::Sql(Some("x".into())).to_string(), "sql(x)");
        assert_eq!("lua".parse(), Ok(BackendName::Lua(None)));
        assert_eq!("Lua(SQL)".parse(), Ok(BackendName::Lua(Some("sql".to_owned()))));
        assert!("lua()".parse::<BackendName>().is_err());
        assert_eq!(BackendName::Lua(Some("x".into())).to_string(), "lua(x)");
        assert!(
            "lmdb"
                .parse::<BackendName>()
                .unwrap_err()
                .contains("unknown backend")
        );
    }
}
