//! Backchannel protection (`server.basic_auth`, `server.jwt_auth`) and master-user logins
//! (`server.master_user`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::ConfigDuration;

/// `server.basic_auth`: one user name and password every backchannel caller must send.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct BasicAuthConfig {
    /// Require HTTP Basic credentials on the auth and admin endpoints.
    pub enabled: bool,
    /// User name backchannel callers send (required when enabled).
    pub username: String,
    /// Password backchannel callers send; at least 16 characters, no white space (required when enabled).
    #[schemars(schema_with = "crate::schema::secret")]
    pub password: String,
}

/// `server.jwt_auth`: bearer tokens from `/api/v1/jwt/token`, with roles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct JwtAuthConfig {
    /// Require a JWT bearer token on the auth and admin endpoints and serve `/api/v1/jwt/*`.
    pub enabled: bool,
    /// HS256 signing key; at least 32 characters, no white space (required when enabled).
    #[schemars(schema_with = "crate::schema::secret")]
    pub secret_key: String,
    /// How long an access token is valid; 0 = 1h.
    #[schemars(range(max = crate::schema::YEAR_SECS))]
    pub token_expiry: ConfigDuration,
    /// Also issue single-use refresh tokens (`/api/v1/jwt/refresh`).
    pub refresh_token: bool,
    /// How long a refresh token is valid; 0 = 24h.
    #[schemars(range(max = crate::schema::YEAR_SECS))]
    pub refresh_token_expiry: ConfigDuration,
    /// Keep refresh tokens in the shared store (Redis), so every instance honours and revokes them; else in this process.
    pub store_in_redis: bool,
    /// Token users with their roles; when empty, the configured backends authenticate token requests.
    #[schemars(example = serde_json::json!([
        {"username": "dovecot", "password": "a-long-password-1", "roles": ["authenticate", "user_info"]},
        {"username": "ops", "password": "a-long-password-2", "roles": ["security", "list_accounts"]},
    ]))]
    pub users: Vec<JwtUser>,
}

impl Default for JwtAuthConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            secret_key: String::new(),
            token_expiry: ConfigDuration::from_secs(3600),
            refresh_token: false,
            refresh_token_expiry: ConfigDuration::from_secs(24 * 3600),
            store_in_redis: false,
            users: Vec::new(),
        }
    }
}

/// `server.jwt_auth.users[]`: one token user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct JwtUser {
    /// Name the token request sends.
    #[schemars(extend("x-required" = true))]
    pub username: String,
    /// Password the token request sends; at least 8 characters.
    #[schemars(schema_with = "crate::schema::secret", extend("x-required" = true))]
    pub password: String,
    /// Roles: admin, security, authenticate, user_info, list_accounts, or custom (for hooks).
    #[schemars(schema_with = "crate::schema::str_list")]
    pub roles: Vec<String>,
}

/// `server.master_user`: logins `user<delimiter>master` authenticate `master` and act as `user`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct MasterUserConfig {
    /// Honour master-user logins (`user*master`): the master's password, the user's account.
    pub enabled: bool,
    /// The one printable ASCII character between the user and the master user.
    pub delimiter: String,
}

impl Default for MasterUserConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            delimiter: "*".into(),
        }
    }
}
