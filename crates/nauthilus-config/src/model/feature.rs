//! The optional pipeline stages `server.features` switches on, as a type.

use std::fmt;

/// One feature Nauthilus knows by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Feature {
    /// Brute-force protection (`brute_force`).
    BruteForce,
    /// Refuse cleartext logins from outside `cleartext_networks` (`tls_encryption`).
    TlsEncryption,
    /// Refuse user names outside the relay domains (`relay_domains`).
    RelayDomains,
    /// Realtime blackhole lists (`rbl`).
    Rbl,
    /// Lua features (`lua`).
    Lua,
    /// Health checks of the nginx upstreams (`backend_server_monitoring`).
    BackendServerMonitoring,
}

impl Feature {
    /// Every feature, in the order Nauthilus documents them.
    pub const ALL: [Feature; 6] = [
        Self::BruteForce,
        Self::TlsEncryption,
        Self::RelayDomains,
        Self::Rbl,
        Self::Lua,
        Self::BackendServerMonitoring,
    ];

    /// The name used in `server.features`.
    pub fn name(self) -> &'static str {
        match self {
            Self::BruteForce => "brute_force",
            Self::TlsEncryption => "tls_encryption",
            Self::RelayDomains => "relay_domains",
            Self::Rbl => "rbl",
            Self::Lua => "lua",
            Self::BackendServerMonitoring => "backend_server_monitoring",
        }
    }

    /// The feature called `name`, if Nauthilus knows one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// True for the features nauthilus-rs implements (listing another is a config error, not a
    /// silent no-op: an operator who lists `tls_encryption` expects cleartext logins to fail).
    pub fn is_implemented(self) -> bool {
        matches!(
            self,
            Self::BruteForce
                | Self::TlsEncryption
                | Self::RelayDomains
                | Self::Rbl
                | Self::Lua
                | Self::BackendServerMonitoring
        )
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Feature::ALL {
            assert_eq!(Feature::from_name(f.name()), Some(f));
        }
        assert_eq!(Feature::from_name("bruteforce"), None);
    }
}
