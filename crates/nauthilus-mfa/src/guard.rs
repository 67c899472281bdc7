//! Brute-force protection of the code step (TOTP and recovery codes) with its own rule
//! (`mfa.totp.brute_force`, shown as `mfa_code_ipv4` / `mfa_code_ipv6`), on the brute-force machinery of `nauthilus-core`: each code is an
//! attempt of protocol `mfa_code`, counted per client network and per account (someone who
//! has the password could guess from many addresses). A banned client or account gets no
//! verdict on its code until the ban ends.

use std::time::SystemTime;

use nauthilus_config::{BruteForceRule, Config, FeatureSetting};
use nauthilus_core::brute_force::{Admission, Reservation};
use nauthilus_core::{AuthRequest, BruteForce, Password, PasswordDigester, Protocol, Service, SessionId};
use nauthilus_store::Store;

use crate::error::MfaError;

/// The protocol code attempts are counted under (it names their buckets and bans).
pub const PROTOCOL: &str = "mfa_code";
/// The rule names the list and flush APIs show.
pub const RULE_V4: &str = "mfa_code_ipv4";
/// The rule names the list and flush APIs show.
pub const RULE_V6: &str = "mfa_code_ipv6";

/// Counts code attempts.
#[derive(Clone, Debug)]
pub struct CodeGuard {
    brute_force: BruteForce,
}

/// Attempts reserved for one code while it is checked.
#[derive(Debug)]
pub struct Admitted {
    held: Vec<(AuthRequest, Reservation)>,
    account: String,
}

impl CodeGuard {
    /// The guard `config.mfa.totp.brute_force` describes, over `store`.
    pub fn new(config: &Config, store: Store) -> Result<Self, MfaError> {
        let mut own = config.clone();
        own.server.features = vec![FeatureSetting::named("brute_force")];
        own.server.brute_force_protocols = Vec::new();
        let r = &config.mfa.totp.brute_force;
        // Its own buckets and bans (named by the protocol), apart from the mail rules even
        // with equal numbers; one rule per address family.
        let rule = |name: &str, cidr: u8, ipv4: bool| BruteForceRule {
            name: name.to_owned(),
            period: r.period,
            cidr,
            ipv4,
            ipv6: !ipv4,
            failed_requests: r.failed_requests,
            ban_time: r.ban_time,
            filter_by_protocol: vec![PROTOCOL.to_owned()],
            filter_by_oidc_cid: Vec::new(),
        };
        own.brute_force.buckets = vec![rule(RULE_V4, r.cidr, true), rule(RULE_V6, r.ipv6_cidr, false)];
        let digester = PasswordDigester::new(&config.server.redis.password_nonce);
        let brute_force = BruteForce::from_config(&own, store, digester)
            .ok_or_else(|| MfaError::Config("code brute-force rule not built".into()))?;
        Ok(Self { brute_force })
    }

    fn request(account: &str, client_ip: &str, code: &str, now: SystemTime) -> AuthRequest {
        let mut req = AuthRequest::new(
            SessionId::new(now),
            Service::Json,
            account.to_owned(),
            Password::new(code.as_bytes().to_vec()),
        );
        req.protocol = Protocol::new(PROTOCOL);
        req.client.ip = client_ip.to_owned();
        req
    }

    /// Reserves one attempt of `code` for `account` from `client_ip`; `None` when the client
    /// or the account is banned (the code must not be checked).
    pub async fn admit(
        &self,
        account: &str,
        client_ip: &str,
        code: &str,
        now: SystemTime,
    ) -> Result<Option<Admitted>, MfaError> {
        let mut requests = vec![Self::request(account, client_ip, code, now)];
        if !client_ip.trim().is_empty() {
            requests.push(Self::request(account, "", code, now));
        }
        let mut admitted = Admitted {
            held: Vec::new(),
            account: account.to_owned(),
        };
        for req in requests {
            let refused = match self.brute_force.check(&req).await? {
                Some(_) => true,
                None => match self.brute_force.reserve(&req).await? {
                    Admission::Admitted(r) => {
                        admitted.held.push((req, r));
                        false
                    }
                    Admission::Refused(_) => true,
                },
            };
            if refused {
                self.release(admitted).await;
                tracing::warn!(account, client_ip, "mfa: code attempt refused, too many failures");
                return Ok(None);
            }
        }
        Ok(Some(admitted))
    }

    /// Settles `admitted` by the verdict on its code. A ban the success races with still
    /// fails it (`false`).
    pub async fn settle(&self, admitted: Admitted, ok: bool, now: SystemTime) -> Result<bool, MfaError> {
        let Admitted { held, account } = admitted;
        let mut allowed = ok;
        for (req, reservation) in held {
            if ok {
                if self
                    .brute_force
                    .confirm_success(&req, reservation, &account, now)
                    .await?
                    .is_some()
                {
                    allowed = false;
                }
            } else {
                self.brute_force
                    .confirm_failure(&req, reservation, &account, now)
                    .await?;
            }
        }
        Ok(allowed)
    }

    /// Gives `admitted` back unused (the code could not be checked).
    pub async fn release(&self, admitted: Admitted) {
        for (_, reservation) in admitted.held {
            if let Err(e) = self.brute_force.release(reservation).await {
                tracing::warn!(error = %e, "mfa: code reservation not released");
            }
        }
    }
}
