//! `POST /oidc/device` (RFC 8628 §3.1/3.2): a device code for the device, a short user code for
//! the person; the page `/device` (web) takes the user code and calls `Idp::device_decide`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::{OAuthCode, OAuthError, ShownError};
use super::{client_auth, form_params};
use crate::clients::GrantType;
use crate::session::BrowserSession;
use crate::state::{self, DeviceGrant, DeviceStatus, StateKeys};
use crate::{Idp, IdpService, digest, random_token};

/// Letters of user codes: no vowels (no words), no look-alikes (RFC 8628 §6.1).
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// A new user code of `len` letters.
fn user_code(len: u8) -> String {
    (0..len)
        .map(|_| {
            let i = usize::from(rand::random::<u8>()) % USER_CODE_ALPHABET.len();
            char::from(USER_CODE_ALPHABET[i])
        })
        .collect()
}

/// A user code as typed: letters only, upper-cased (dashes and spaces dropped).
pub fn normalise_user_code(typed: &str) -> String {
    typed
        .chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// What the device page shows before the user decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceView {
    pub client_id: String,
    pub client_name: String,
    pub scopes: Vec<(String, String)>,
}

/// The handler.
pub async fn handler(State(svc): State<Arc<IdpService>>, headers: HeaderMap, body: Bytes) -> Response {
    let idp = svc.current();
    let now = super::now();
    let result = async {
        let params = form_params(&headers, &body)?;
        let client = client_auth::authenticate(&idp, &headers, &params, "/oidc/device", true, now).await?;
        if !client.allows(GrantType::DeviceCode) {
            return Err(OAuthError::json(
                OAuthCode::UnauthorizedClient,
                "the client may not use the device grant",
            ));
        }
        let requested = params.list("scope");
        let scope = client.allowed_scopes(&requested).map_err(|s| {
            OAuthError::json(
                OAuthCode::InvalidScope,
                format!("scope {s} is not allowed for this client"),
            )
        })?;
        idp.start_device(&client.id, scope, now).await
    }
    .await;
    match result {
        Ok(body) => {
            let mut r = axum::Json(body).into_response();
            r.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            r
        }
        Err(e) => e.into_response(),
    }
}

impl Idp {
    async fn start_device(
        &self,
        client_id: &str,
        scope: Vec<String>,
        now: SystemTime,
    ) -> Result<serde_json::Value, OAuthError> {
        let flow = &self.config.device_flow;
        let expiry = flow.code_expiry.get();
        let keys = StateKeys::new(&self.store);
        let device_code = random_token();
        let device_digest = digest(&device_code);
        // A fresh user code; a collision with a live one is retried.
        let mut code = String::new();
        for _ in 0..8 {
            let candidate = user_code(flow.user_code_length);
            if self
                .store
                .set_nx(&keys.user_code(&candidate), &device_digest, Some(expiry))
                .await?
            {
                code = candidate;
                break;
            }
        }
        if code.is_empty() {
            return Err(OAuthError::server("no free user code"));
        }
        let grant = DeviceGrant {
            client_id: client_id.to_owned(),
            scope,
            user_code: code.clone(),
            status: DeviceStatus::Pending,
            expires_at: crate::unix(now) + expiry.as_secs(),
            last_poll: 0,
            interval: u64::from(flow.polling_interval),
        };
        state::put(&self.store, &keys.device(&device_digest), &grant, expiry).await?;
        let shown = match code.len() {
            n if n >= 8 && n % 2 == 0 => format!("{}-{}", &code[..n / 2], &code[n / 2..]),
            _ => code.clone(),
        };
        let verification_uri = self.endpoint("/device");
        Ok(json!({
            "device_code": device_code,
            "user_code": shown,
            "verification_uri": verification_uri,
            "verification_uri_complete": format!("{verification_uri}?user_code={code}"),
            "expires_in": expiry.as_secs(),
            "interval": flow.polling_interval,
        }))
    }

    async fn device_grant(&self, user_code: &str) -> Result<(String, DeviceGrant), ShownError> {
        let unknown = || {
            ShownError::bad_request(
                "Unknown code",
                "This code is not valid or has expired. Check the code shown on your device.",
            )
        };
        let code = normalise_user_code(user_code);
        if code.is_empty() || code.len() > 16 {
            return Err(unknown());
        }
        let keys = StateKeys::new(&self.store);
        let device_digest = self
            .store
            .get(&keys.user_code(&code))
            .await
            .map_err(ShownError::internal)?
            .ok_or_else(unknown)?;
        let grant = state::get::<DeviceGrant>(&self.store, &keys.device(&device_digest))
            .await?
            .filter(|g| matches!(g.status, DeviceStatus::Pending))
            .ok_or_else(unknown)?;
        Ok((device_digest, grant))
    }

    /// What the device page shows for `user_code`.
    pub async fn device_view(&self, user_code: &str) -> Result<DeviceView, ShownError> {
        let (_, grant) = self.device_grant(user_code).await?;
        let client = self.clients.get(&grant.client_id).ok_or_else(|| {
            ShownError::bad_request("Unknown application", "The application is not registered.")
        })?;
        Ok(DeviceView {
            client_id: client.id.clone(),
            client_name: client.name.clone(),
            scopes: grant
                .scope
                .iter()
                .map(|s| (s.clone(), crate::claims::describe(&self.config, s)))
                .collect(),
        })
    }

    /// The logged-in user's answer for `user_code`; the user code works once.
    pub async fn device_decide(
        &self,
        user_code: &str,
        session: &BrowserSession,
        approve: bool,
        now: SystemTime,
    ) -> Result<(), ShownError> {
        let (device_digest, mut grant) = self.device_grant(user_code).await?;
        let keys = StateKeys::new(&self.store);
        self.store
            .delete(&keys.user_code(&grant.user_code))
            .await
            .map_err(ShownError::internal)?;
        if let Some(client) = self.clients.get(&grant.client_id)
            && client.require_mfa
            && approve
            && !session.has_mfa()
        {
            return Err(ShownError::bad_request(
                "Second factor required",
                "This application requires a second factor.",
            ));
        }
        grant.status = if approve {
            let subject = self.subject(session, &grant.client_id, &grant.scope);
            self.remember_client(&session.id, &grant.client_id).await?;
            DeviceStatus::Approved { subject }
        } else {
            DeviceStatus::Denied
        };
        let remaining = grant.expires_at.saturating_sub(crate::unix(now));
        if remaining == 0 {
            return Err(ShownError::bad_request("Code expired", "The code has expired."));
        }
        state::put(
            &self.store,
            &keys.device(&device_digest),
            &grant,
            Duration::from_secs(remaining),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_use_the_unambiguous_alphabet_and_normalise() {
        let c = user_code(8);
        assert_eq!(c.len(), 8);
        assert!(c.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
        assert_eq!(normalise_user_code("bcdf-ghjk "), "BCDFGHJK");
    }
}
