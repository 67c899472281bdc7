//! The records kept in the store (JSON). Times are Unix seconds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Who a grant is for, as it was when the user logged in (what ID tokens and userinfo tell).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// `sub`: the account.
    pub account: String,
    /// The browser session the grant came from (`sid`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub auth_time: u64,
    #[serde(default)]
    pub amr: Vec<String>,
    #[serde(default)]
    pub acr: String,
    /// The claims the granted scopes release.
    #[serde(default)]
    pub claims: BTreeMap<String, serde_json::Value>,
}

/// An authorization code's grant, until the client redeems it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    pub subject: Subject,
    pub expires_at: u64,
}

/// What a redeemed code issued (a replay revokes it).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IssuedByCode {
    /// Digest of the access token.
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
}

/// An access token (opaque to clients).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessToken {
    pub client_id: String,
    pub scope: Vec<String>,
    /// The user, or none for client credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    /// The refresh family it belongs to: revoked with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    pub issued_at: u64,
    pub expires_at: u64,
}

/// A refresh token's pointer to its family.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefreshToken {
    pub family: String,
    pub client_id: String,
}

/// A chain of refresh tokens from one grant.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Family {
    pub client_id: String,
    pub scope: Vec<String>,
    pub subject: Subject,
    /// When the family ends (rotation does not extend it).
    pub expires_at: u64,
    /// Digest of the refresh token now valid.
    pub current_refresh: String,
    /// Digest of the access token issued with it.
    pub current_access: String,
}

/// A granted consent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Consent {
    pub scope: Vec<String>,
}

/// Where a device authorization stands.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DeviceStatus {
    Pending,
    Approved { subject: Subject },
    Denied,
}

/// A device authorization (RFC 8628).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceGrant {
    pub client_id: String,
    pub scope: Vec<String>,
    pub user_code: String,
    pub status: DeviceStatus,
    pub expires_at: u64,
    /// When the device last polled (for `slow_down`).
    #[serde(default)]
    pub last_poll: u64,
    /// Seconds the device must now wait between polls: `idp.device_flow.polling_interval`,
    /// plus 5 for every `slow_down` it got (RFC 8628 §3.5); 0 in records of older versions
    /// (read as the configured interval).
    #[serde(default)]
    pub interval: u64,
}

/// An RP-initiated logout waiting for the user's confirmation.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LogoutRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Verified against the client's registered URIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}
