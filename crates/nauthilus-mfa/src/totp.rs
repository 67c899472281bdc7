//! TOTP (RFC 6238) on totp-rs: enrolment (a random 160-bit secret, its `otpauth://` URI and a
//! QR code as SVG, made here, never by an external service), confirmation by a first code,
//! codes of the current step ± `skew` steps, replay protection and the code-step brute-force
//! guard.
//!
//! Replay: a code works once. The state store remembers, per account, the last step a code was
//! accepted for (a code of that step or an earlier one is refused) and marks each accepted
//! step with `SET NX`, so two concurrent requests with one code cannot both pass. The marks
//! expire after the skew window; they need not survive a Redis flush, the enrolment must (it
//! is in the credential store).

use std::time::SystemTime;

use data_encoding::BASE32_NOPAD;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::MfaError;
use crate::recovery::CodeVerdict;
use crate::service::{Mfa, unix};
use crate::store::Kind;

/// Bytes of a new secret (160 bits, as RFC 4226 recommends).
const SECRET_LEN: usize = 20;
/// The id of the one TOTP record of an account.
const RECORD_ID: &str = "totp";

/// What a user needs to set up an authenticator app; shown once.
#[derive(Debug)]
pub struct TotpEnrolment {
    /// The secret in base32 (for typing it in).
    pub secret_base32: Zeroizing<String>,
    /// The `otpauth://totp/...` URI.
    pub uri: Zeroizing<String>,
    /// The URI as a QR code (SVG document).
    pub qr_svg: Zeroizing<String>,
}

/// The stored TOTP record.
#[derive(Serialize, Deserialize)]
struct StoredTotp {
    /// The secret, sealed with the account as context.
    secret: String,
    created: u64,
}

/// The settings one code is checked with.
#[derive(Clone, Copy, Debug)]
pub struct TotpParams {
    pub digits: u8,
    pub step: u64,
    pub skew: u8,
}

/// The step `code` belongs to when it is right for `secret` at `time` (seconds), within
/// `params.skew` steps; pure, for unit tests with RFC 6238's vectors.
pub fn matching_step(secret: &[u8], params: TotpParams, code: &str, time: u64) -> Option<u64> {
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(params.digits)
        .with_step_duration(params.step)
        .with_skew(u16::from(params.skew))
        .with_secret(totp_rs::Secret::from(secret.to_vec()))
        .build()
        .ok()?;
    totp.check(code, time)
}

/// The code for `secret` at `time` (for tests and tools).
pub fn code_at(secret: &[u8], params: TotpParams, time: u64) -> Option<String> {
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(params.digits)
        .with_step_duration(params.step)
        .with_skew(u16::from(params.skew))
        .with_secret(totp_rs::Secret::from(secret.to_vec()))
        .build()
        .ok()?;
    Some(totp.generate(time).to_string())
}

fn context(account: &str) -> String {
    format!("totp:{account}")
}

impl Mfa {
    fn totp_params(&self) -> TotpParams {
        let t = &self.config.totp;
        TotpParams {
            digits: t.digits,
            step: t.step.get().as_secs().max(1),
            skew: t.skew,
        }
    }

    fn pending_key(&self, account: &str) -> String {
        self.state_key(&["totp", "pending", account])
    }

    /// Starts (or restarts) a TOTP enrolment for `account`: a new secret, kept pending (in the
    /// state store, sealed) until a first code confirms it.
    pub async fn begin_totp_enrolment(&self, account: &str) -> Result<TotpEnrolment, MfaError> {
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        rand::rng().fill_bytes(secret.as_mut());
        let sealed = self.secrets.seal(secret.as_ref(), &context(account))?;
        self.state
            .set(
                &self.pending_key(account),
                &sealed,
                Some(self.config.totp.enrolment_timeout.get()),
            )
            .await?;
        let secret_base32 = Zeroizing::new(BASE32_NOPAD.encode(secret.as_ref()));
        let params = self.totp_params();
        let issuer = &self.config.totp.issuer;
        let label = format!("{issuer}:{account}");
        let uri = Zeroizing::new(format!(
            "otpauth://totp/{}?secret={}&issuer={}&algorithm=SHA1&digits={}&period={}",
            utf8_percent_encode(&label, NON_ALPHANUMERIC),
            secret_base32.as_str(),
            utf8_percent_encode(issuer, NON_ALPHANUMERIC),
            params.digits,
            params.step
        ));
        let qr_svg = Zeroizing::new(crate::qr::svg(&uri)?);
        Ok(TotpEnrolment {
            secret_base32,
            uri,
            qr_svg,
        })
    }

    /// Confirms the pending enrolment of `account` with its first `code`: the secret is stored
    /// (replacing an older one) and the code's step counts as used.
    pub async fn confirm_totp_enrolment(
        &self,
        account: &str,
        code: &str,
        client_ip: &str,
        now: SystemTime,
    ) -> Result<CodeVerdict, MfaError> {
        let Some(sealed) = self.state.get(&self.pending_key(account)).await? else {
            return Err(MfaError::Invalid(
                "no TOTP enrolment is pending (or it expired)".into(),
            ));
        };
        let secret = self
            .secrets
            .open(&sealed, &context(account))
            .ok_or_else(|| MfaError::Invalid("the pending TOTP enrolment is unreadable".into()))?;
        let verdict = self.check_code(account, &secret, code, client_ip, now).await?;
        if verdict == CodeVerdict::Accepted {
            let stored = StoredTotp {
                secret: sealed,
                created: unix(now),
            };
            self.credentials
                .put(account, Kind::Totp, &Self::encode(RECORD_ID, &stored)?)
                .await?;
            self.state.delete(&self.pending_key(account)).await?;
            self.changed(account).await;
        }
        Ok(verdict)
    }

    /// True when `account` has a confirmed TOTP secret.
    pub async fn has_totp(&self, account: &str) -> Result<bool, MfaError> {
        Ok(!self.credentials.list(account, Kind::Totp).await?.is_empty())
    }

    /// Checks a TOTP `code` of `account` (the second step of a login).
    pub async fn verify_totp(
        &self,
        account: &str,
        code: &str,
        client_ip: &str,
        now: SystemTime,
    ) -> Result<CodeVerdict, MfaError> {
        let records = self.credentials.list(account, Kind::Totp).await?;
        let secret = match records.iter().find(|r| r.id == RECORD_ID) {
            Some(record) => {
                let stored: StoredTotp = Self::decode(Kind::Totp, account, record)?;
                Some(
                    self.secrets
                        .open(&stored.secret, &context(account))
                        .ok_or_else(|| MfaError::Corrupt {
                            kind: "totp",
                            account: account.to_owned(),
                            reason: "the secret does not open with this key".into(),
                        })?,
                )
            }
            None => None,
        };
        match secret {
            Some(secret) => self.check_code(account, &secret, code, client_ip, now).await,
            // Nothing enrolled: still counted as a wrong code, so probing costs the same.
            None => self.check_code(account, &[], code, client_ip, now).await,
        }
    }

    /// Removes the TOTP secret of `account`; false when there was none.
    pub async fn remove_totp(&self, account: &str) -> Result<bool, MfaError> {
        let removed = self
            .credentials
            .remove(account, Kind::Totp, RECORD_ID, None)
            .await?;
        if removed {
            self.changed(account).await;
        }
        Ok(removed)
    }

    /// `code` against `secret` (empty: nothing enrolled) through the brute-force guard and the
    /// replay check.
    async fn check_code(
        &self,
        account: &str,
        secret: &[u8],
        code: &str,
        client_ip: &str,
        now: SystemTime,
    ) -> Result<CodeVerdict, MfaError> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let Some(admitted) = self.guard.admit(account, client_ip, &code, now).await? else {
            return Ok(CodeVerdict::Banned);
        };
        let params = self.totp_params();
        let step = if secret.is_empty() || code.len() != usize::from(params.digits) {
            None
        } else {
            matching_step(secret, params, &code, unix(now))
        };
        let fresh = match step {
            Some(step) => match self.claim_step(account, step, params).await {
                Ok(fresh) => fresh,
                Err(e) => {
                    self.guard.release(admitted).await;
                    return Err(e);
                }
            },
            None => false,
        };
        if step.is_some() && !fresh {
            tracing::warn!(account, client_ip, "mfa: a TOTP code was replayed");
        }
        if self.guard.settle(admitted, fresh, now).await? {
            Ok(CodeVerdict::Accepted)
        } else if fresh {
            Ok(CodeVerdict::Banned)
        } else {
            Ok(CodeVerdict::Refused)
        }
    }

    /// Marks `step` used for `account`; false when it, or a later step, was used already.
    async fn claim_step(&self, account: &str, step: u64, params: TotpParams) -> Result<bool, MfaError> {
        let last_key = self.state_key(&["totp", "last", account]);
        if let Some(last) = self.state.get(&last_key).await?
            && last.parse::<u64>().is_ok_and(|last| last >= step)
        {
            return Ok(false);
        }
        let window = std::time::Duration::from_secs(params.step * (2 * u64::from(params.skew) + 2));
        let step_key = self.state_key(&["totp", "step", account, &step.to_string()]);
        if !self.state.set_nx(&step_key, "1", Some(window)).await? {
            return Ok(false);
        }
        self.state.set(&last_key, &step.to_string(), Some(window)).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, 8 digits, 30-second steps.
    #[test]
    fn rfc_6238_sha1_vectors_match() {
        let secret = b"12345678901234567890";
        let params = TotpParams {
            digits: 8,
            step: 30,
            skew: 0,
        };
        for (time, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(secret, params, time).as_deref(), Some(code), "T={time}");
            assert_eq!(
                matching_step(secret, params, code, time),
                Some(time / 30),
                "T={time}"
            );
        }
    }

    #[test]
    fn skew_accepts_neighbouring_steps_only() {
        let secret = b"12345678901234567890";
        let strict = TotpParams {
            digits: 6,
            step: 30,
            skew: 0,
        };
        let skewed = TotpParams { skew: 1, ..strict };
        let t = 1_700_000_010;
        let previous = code_at(secret, strict, t - 30).unwrap();
        let next = code_at(secret, strict, t + 30).unwrap();
        let far = code_at(secret, strict, t - 60).unwrap();
        assert_eq!(matching_step(secret, strict, &previous, t), None);
        assert_eq!(matching_step(secret, skewed, &previous, t), Some(t / 30 - 1));
        assert_eq!(matching_step(secret, skewed, &next, t), Some(t / 30 + 1));
        assert_eq!(matching_step(secret, skewed, &far, t), None);
    }
}
