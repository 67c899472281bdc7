//! Recovery codes: ten single-use codes, shown once when (re)generated, stored hashed. A code
//! is consumed by an atomic conditional delete, so it works once even under concurrent use.
//! Attempts pass the code-step brute-force guard like TOTP codes.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::MfaError;
use crate::secret;
use crate::service::{Mfa, unix};
use crate::store::Kind;

/// How many codes a set has.
pub const RECOVERY_CODES: usize = 10;

#[derive(Serialize, Deserialize)]
struct StoredCode {
    hash: String,
    created: u64,
}

/// What redeeming a recovery code gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeVerdict {
    /// The code was right (and is now used up).
    Accepted,
    /// Wrong, already used, or nothing enrolled.
    Refused,
    /// Too many wrong codes from this client or for this account: not checked.
    Banned,
}

impl Mfa {
    /// A new set of recovery codes for `account`, replacing any old set. The codes are
    /// returned once and stored only hashed.
    pub async fn regenerate_recovery_codes(
        &self,
        account: &str,
        now: SystemTime,
    ) -> Result<Vec<Zeroizing<String>>, MfaError> {
        let codes: Vec<Zeroizing<String>> = (0..RECOVERY_CODES).map(|_| secret::random_code(2, 5)).collect();
        let mut records = Vec::with_capacity(codes.len());
        for code in &codes {
            let stored = StoredCode {
                hash: secret::hash(code),
                created: unix(now),
            };
            records.push(Self::encode(&secret::random_id(), &stored)?);
        }
        self.credentials
            .replace_all(account, Kind::RecoveryCode, &records)
            .await?;
        Ok(codes)
    }

    /// How many unused recovery codes `account` has.
    pub async fn recovery_codes_left(&self, account: &str) -> Result<usize, MfaError> {
        Ok(self.credentials.list(account, Kind::RecoveryCode).await?.len())
    }

    /// Redeems `code` for `account` (from `client_ip`, at `now`).
    pub async fn redeem_recovery_code(
        &self,
        account: &str,
        code: &str,
        client_ip: &str,
        now: SystemTime,
    ) -> Result<CodeVerdict, MfaError> {
        let code = secret::normalize(code);
        let Some(admitted) = self.guard.admit(account, client_ip, &code, now).await? else {
            return Ok(CodeVerdict::Banned);
        };
        let used = match self.consume_recovery_code(account, &code).await {
            Ok(used) => used,
            Err(e) => {
                self.guard.release(admitted).await;
                return Err(e);
            }
        };
        if self.guard.settle(admitted, used, now).await? {
            Ok(CodeVerdict::Accepted)
        } else if used {
            Ok(CodeVerdict::Banned)
        } else {
            Ok(CodeVerdict::Refused)
        }
    }

    async fn consume_recovery_code(&self, account: &str, code: &str) -> Result<bool, MfaError> {
        for record in self.credentials.list(account, Kind::RecoveryCode).await? {
            let stored: StoredCode = Self::decode(Kind::RecoveryCode, account, &record)?;
            if secret::matches(&stored.hash, code) {
                return self
                    .credentials
                    .remove(account, Kind::RecoveryCode, &record.id, Some(&record.data))
                    .await;
            }
        }
        Ok(false)
    }
}
