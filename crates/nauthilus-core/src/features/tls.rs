//! `tls_encryption`: a login over a connection without TLS is refused unless the client is in
//! one of the `cleartext_networks`.

use std::net::IpAddr;

use nauthilus_config::Config;

use super::Verdict;
use crate::brute_force::network::NetSet;
use crate::request::AuthRequest;

/// The `Auth-Status` of a login refused for lack of TLS (Nauthilus' text).
pub const STATUS_NO_TLS: &str = "TLS transport encryption required";

/// The `tls_encryption` check.
#[derive(Clone, Debug)]
pub struct TlsRequired {
    cleartext_networks: NetSet,
}

impl TlsRequired {
    /// The check over `config.cleartext_networks`.
    pub fn from_config(config: &Config) -> Self {
        Self {
            cleartext_networks: NetSet::new(&config.cleartext_networks),
        }
    }

    /// Triggers for a cleartext connection (`ssl` empty) from a client outside the cleartext
    /// networks; a client address that does not parse is outside every network.
    pub fn check(&self, req: &AuthRequest, client: Option<IpAddr>) -> Verdict {
        if req.tls.is_tls() {
            return Verdict::Pass;
        }
        if client.is_some_and(|ip| self.cleartext_networks.contains(ip)) {
            return Verdict::Pass;
        }
        Verdict::Triggered("client has no transport security".into())
    }
}
