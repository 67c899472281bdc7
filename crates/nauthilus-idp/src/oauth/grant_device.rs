//! The device grant's token request (RFC 8628 §3.4/3.5): pending, slow down, denied, expired,
//! or (once, taken with GETDEL) the tokens.

use std::time::SystemTime;

use super::Params;
use super::error::{OAuthCode, OAuthError};
use super::issue::TokenResponse;
use crate::clients::Client;
use crate::state::{self, DeviceGrant, DeviceStatus, StateKeys};
use crate::{Idp, digest};

/// Seconds a `slow_down` adds to the device's polling interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: u64 = 5;

/// Polls the device code.
pub async fn exchange(
    idp: &Idp,
    client: &Client,
    params: &Params,
    now: SystemTime,
) -> Result<TokenResponse, OAuthError> {
    let device_code = params.require("device_code")?;
    let keys = StateKeys::new(&idp.store);
    let key = keys.device(&digest(device_code));
    let Some(mut grant) = state::get::<DeviceGrant>(&idp.store, &key).await? else {
        return Err(OAuthError::json(
            OAuthCode::ExpiredToken,
            "the device code has expired",
        ));
    };
    if grant.client_id != client.id {
        return Err(OAuthError::json(
            OAuthCode::InvalidGrant,
            "the device code was issued to another client",
        ));
    }
    let now_s = crate::unix(now);
    if now_s >= grant.expires_at {
        return Err(OAuthError::json(
            OAuthCode::ExpiredToken,
            "the device code has expired",
        ));
    }
    match grant.status {
        DeviceStatus::Pending => {
            let interval = match grant.interval {
                0 => u64::from(idp.config.device_flow.polling_interval),
                n => n,
            };
            let too_fast = grant.last_poll != 0 && now_s < grant.last_poll.saturating_add(interval);
            // RFC 8628 §3.5: after a `slow_down` the interval grows by 5 s for this and every
            // later request of the device code.
            grant.interval = if too_fast {
                interval.saturating_add(SLOW_DOWN_STEP)
            } else {
                interval
            };
            grant.last_poll = now_s;
            let remaining = std::time::Duration::from_secs(grant.expires_at - now_s);
            state::put(&idp.store, &key, &grant, remaining).await?;
            if too_fast {
                Err(OAuthError::json(
                    OAuthCode::SlowDown,
                    format!("poll less often: wait {} s between requests", grant.interval),
                ))
            } else {
                Err(OAuthError::json(
                    OAuthCode::AuthorizationPending,
                    "the user has not answered yet",
                ))
            }
        }
        DeviceStatus::Denied => {
            idp.store.delete(&key).await?;
            Err(OAuthError::json(
                OAuthCode::AccessDenied,
                "the user denied the request",
            ))
        }
        DeviceStatus::Approved { .. } => {
            // Single use: only the poll that takes the approved grant gets tokens.
            let Some(DeviceGrant {
                status: DeviceStatus::Approved { subject },
                scope,
                ..
            }) = state::take::<DeviceGrant>(&idp.store, &key).await?
            else {
                return Err(OAuthError::json(
                    OAuthCode::InvalidGrant,
                    "the device code was already used",
                ));
            };
            let (tokens, _) = idp.issue_user_tokens(client, &scope, &subject, None, now).await?;
            Ok(tokens)
        }
    }
}
