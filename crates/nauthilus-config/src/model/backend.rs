//! Names of password databases in `server.backends`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One entry of `server.backends`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendName {
    /// The shared positive cache (Redis, or in process in embedded mode).
    Cache,
    /// A Dovecot-style passwd-file (`passwd_file.path`).
    PasswdFile,
}

impl BackendName {
    /// The name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cache => "cache",
            Self::PasswdFile => "passwd_file",
        }
    }
}

impl fmt::Display for BackendName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BackendName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase();
        match name.as_str() {
            "cache" => Ok(Self::Cache),
            "passwd_file" => Ok(Self::PasswdFile),
            _ => {
                let base = name.split('(').next().unwrap_or_default();
                if matches!(base, "ldap" | "lua" | "sql") {
                    Err(format!(
                        "backend {s:?} is a Nauthilus backend that nauthilus-rs does not implement yet; \
                         available: cache, passwd_file"
                    ))
                } else {
                    Err(format!("unknown backend {s:?}; available: cache, passwd_file"))
                }
            }
        }
    }
}

impl Serialize for BackendName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for BackendName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
