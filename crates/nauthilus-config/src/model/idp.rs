//! The `idp:` section: the OpenID Connect / OAuth 2.0 provider (issuer, signing keys, clients,
//! scopes and claims, consent, token lifetimes, device flow). Key names follow Nauthilus v2's
//! `identity.oidc` where one exists.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::ConfigDuration;

/// `idp`: the OpenID Connect provider on the server's listener.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Idp {
    /// Serve the OpenID Connect provider (`/oidc/*`, discovery, the login pages).
    pub enabled: bool,
    /// The issuer URL (`iss`), the base of every endpoint in discovery; no trailing slash.
    #[schemars(example = "https://idp.example.com")]
    pub issuer: String,
    /// Signing keys read from PEM files (PKCS#8); with none, keys are generated under `key_dir`.
    #[schemars(example = serde_json::json!([
        {"id": "main", "key_file": "/etc/nauthilus/keys/oidc-es256.pem", "algorithm": "ES256", "active": true}
    ]))]
    pub signing_keys: Vec<SigningKeyConfig>,
    /// Directory where generated signing keys are kept (created if missing); relative to the config file.
    #[schemars(schema_with = "crate::schema::path", example = "idp-keys")]
    pub key_dir: String,
    /// Algorithms of the generated keys (`ES256`, `RS256`, `EdDSA`); the first signs by default.
    #[schemars(schema_with = "crate::schema::str_list")]
    pub key_algorithms: Vec<String>,
    /// Age after which a generated key is replaced by a new one (0 = never), checked every minute; instances sharing Redis and `key_dir` rotate once between them.
    #[schemars(range(max = crate::schema::YEAR_SECS))]
    pub key_rotation: ConfigDuration,
    /// How long a retired generated key stays published in the JWKS after its successor took over, for the tokens it signed; never less than the longest access or ID token lifetime (0 = exactly that).
    #[schemars(range(max = crate::schema::YEAR_SECS))]
    pub key_retention: ConfigDuration,
    /// The registered clients (relying parties).
    #[schemars(example = serde_json::json!([{
        "name": "Example App", "client_id": "example-app", "client_secret": "change-me",
        "redirect_uris": ["https://app.example.com/callback"],
        "post_logout_redirect_uris": ["https://app.example.com/"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "profile", "email", "groups"],
        "token_endpoint_auth_method": "client_secret_basic", "public_key_file": "",
        "consent": "once", "backchannel_logout_uri": "https://app.example.com/backchannel-logout",
        "require_mfa": false, "acr_single_factor": "", "acr_multi_factor": "", "id_token_signed_response_alg": "ES256", "access_token_lifetime": "0s"
    }]))]
    pub clients: Vec<IdpClient>,
    /// Scopes beyond `openid profile email groups offline_access`, each releasing some claims.
    #[schemars(example = serde_json::json!([
        {"name": "department", "description": "Your department", "claims": ["department"]}
    ]))]
    pub custom_scopes: Vec<CustomScope>,
    /// Claim name to backend attribute it is taken from (e.g. `email: mail`); unlisted standard claims use their defaults.
    #[schemars(schema_with = "claim_map", example = serde_json::json!({"email": "mail", "name": "cn", "groups": "memberOf"}))]
    pub claim_mapping: BTreeMap<String, String>,
    pub consent: ConsentConfig,
    pub tokens: TokenLifetimes,
    pub session: SessionConfig,
    pub device_flow: DeviceFlowConfig,
    pub pages: crate::model::IdpPages,
}

impl Default for Idp {
    fn default() -> Self {
        Self {
            enabled: false,
            issuer: String::new(),
            signing_keys: Vec::new(),
            key_dir: "idp-keys".into(),
            key_algorithms: vec!["ES256".into()],
            key_rotation: ConfigDuration::from_secs(90 * 24 * 3600),
            key_retention: ConfigDuration::from_secs(24 * 3600),
            clients: Vec::new(),
            custom_scopes: Vec::new(),
            claim_mapping: BTreeMap::new(),
            consent: ConsentConfig::default(),
            tokens: TokenLifetimes::default(),
            session: SessionConfig::default(),
            device_flow: DeviceFlowConfig::default(),
            pages: crate::model::IdpPages::default(),
        }
    }
}

/// `idp.claim_mapping`: claim name → attribute name.
fn claim_map(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "additionalProperties": {"type": "string", "description": "The backend attribute the claim is taken from."},
    })
}

/// `idp.signing_keys[]`: a key read from a PEM file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SigningKeyConfig {
    /// Key id (`kid`) published in the JWKS. Required.
    #[schemars(extend("x-required" = true))]
    pub id: String,
    /// PKCS#8 PEM file of the private key; relative to the config file. Required.
    #[schemars(schema_with = "crate::schema::path", extend("x-required" = true))]
    pub key_file: String,
    /// `ES256`, `RS256` or `EdDSA`. Required.
    #[schemars(extend("x-required" = true))]
    pub algorithm: String,
    /// Signs new tokens; an inactive key is only published (for tokens it signed before).
    pub active: bool,
}

/// `idp.clients[]`: one relying party.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct IdpClient {
    /// Name shown on the consent page.
    pub name: String,
    /// The client id. Required.
    #[schemars(extend("x-required" = true))]
    pub client_id: String,
    /// The secret of a confidential client (kept only as a hash in memory); empty for public clients.
    #[schemars(schema_with = "crate::schema::secret")]
    pub client_secret: String,
    /// Redirect URIs, matched exactly.
    #[schemars(schema_with = "crate::schema::str_list")]
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser back to, matched exactly.
    #[schemars(schema_with = "crate::schema::str_list")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Grants the client may use: `authorization_code`, `refresh_token`, `client_credentials`, `urn:ietf:params:oauth:grant-type:device_code`.
    #[schemars(schema_with = "crate::schema::str_list")]
    pub grant_types: Vec<String>,
    /// Scopes the client may ask for.
    #[schemars(schema_with = "crate::schema::str_list")]
    pub scopes: Vec<String>,
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt` or `none` (public client); empty: basic with a secret, else none.
    pub token_endpoint_auth_method: String,
    /// PEM public key (SPKI) that verifies the client's `private_key_jwt` assertions; relative to the config file.
    #[schemars(schema_with = "crate::schema::path")]
    pub public_key_file: String,
    /// Consent for this client: `skip`, `once` or `always`; empty: `idp.consent.mode`.
    pub consent: String,
    /// URI the back-channel logout token is POSTed to when the user's session ends.
    pub backchannel_logout_uri: String,
    /// The user must have passed a second factor before this client gets a code.
    pub require_mfa: bool,
    /// `acr` claim of this client's tokens after a password-only login; empty: `urn:nauthilus:pwd`.
    pub acr_single_factor: String,
    /// `acr` claim of this client's tokens after a login with a second factor (or a passkey); empty: `urn:nauthilus:mfa`.
    pub acr_multi_factor: String,
    /// Algorithm of this client's ID tokens (`ES256`, `RS256`, `EdDSA`); empty: the first signing key's.
    pub id_token_signed_response_alg: String,
    /// Access token lifetime for this client (0 = `idp.tokens.access_token_lifetime`).
    #[schemars(range(max = crate::schema::YEAR_SECS))]
    pub access_token_lifetime: ConfigDuration,
    /// A resource server: may introspect every token of the provider; otherwise a client learns only about tokens issued to it (others are `{"active": false}`).
    pub introspect_all_tokens: bool,
}

impl Default for IdpClient {
    fn default() -> Self {
        Self {
            name: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec!["authorization_code".into()],
            scopes: vec!["openid".into()],
            token_endpoint_auth_method: String::new(),
            public_key_file: String::new(),
            consent: String::new(),
            backchannel_logout_uri: String::new(),
            require_mfa: false,
            acr_single_factor: String::new(),
            acr_multi_factor: String::new(),
            id_token_signed_response_alg: String::new(),
            access_token_lifetime: ConfigDuration::from_secs(0),
            introspect_all_tokens: false,
        }
    }
}

/// `idp.custom_scopes[]`: a scope that releases some claims.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct CustomScope {
    /// The scope name. Required.
    #[schemars(extend("x-required" = true))]
    pub name: String,
    /// Text shown on the consent page.
    pub description: String,
    /// Claims the scope releases (each taken from the attribute `idp.claim_mapping` names, else the attribute of the same name).
    #[schemars(schema_with = "crate::schema::str_list")]
    pub claims: Vec<String>,
}

/// `idp.consent`: when users are asked to approve a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ConsentConfig {
    /// `skip` (never ask), `once` (ask, remember for `ttl`) or `always` (ask every time).
    pub mode: String,
    /// How long a given consent is remembered in `once` mode.
    #[schemars(range(max = crate::schema::YEAR_SECS))]
    pub ttl: ConfigDuration,
}

impl Default for ConsentConfig {
    fn default() -> Self {
        Self {
            mode: "once".into(),
            ttl: ConfigDuration::from_secs(30 * 24 * 3600),
        }
    }
}

/// `idp.tokens`: token lifetimes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct TokenLifetimes {
    /// Lifetime of access tokens.
    #[schemars(range(min = 1, max = crate::schema::YEAR_SECS))]
    pub access_token_lifetime: ConfigDuration,
    /// Lifetime of ID tokens.
    #[schemars(range(min = 1, max = crate::schema::YEAR_SECS))]
    pub id_token_lifetime: ConfigDuration,
    /// Lifetime of a refresh token family (from the first grant; rotation does not extend it).
    #[schemars(range(min = 1, max = crate::schema::YEAR_SECS))]
    pub refresh_token_lifetime: ConfigDuration,
    /// Lifetime of authorization codes.
    #[schemars(range(min = 1, max = 600))]
    pub code_lifetime: ConfigDuration,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        Self {
            access_token_lifetime: ConfigDuration::from_secs(3600),
            id_token_lifetime: ConfigDuration::from_secs(3600),
            refresh_token_lifetime: ConfigDuration::from_secs(30 * 24 * 3600),
            code_lifetime: ConfigDuration::from_secs(60),
        }
    }
}

/// `idp.session`: the browser's login session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SessionConfig {
    /// How long a browser stays logged in.
    #[schemars(range(min = 1, max = crate::schema::YEAR_SECS))]
    pub lifetime: ConfigDuration,
    /// Mark the session cookie `Secure` (turn off only for plain-HTTP tests on loopback).
    pub secure_cookie: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            lifetime: ConfigDuration::from_secs(8 * 3600),
            secure_cookie: true,
        }
    }
}

/// `idp.device_flow`: the device authorization grant (RFC 8628).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct DeviceFlowConfig {
    /// How long a device code stays valid.
    #[schemars(range(min = 1, max = 3600))]
    pub code_expiry: ConfigDuration,
    /// Seconds a device must wait between polls.
    #[schemars(range(min = 1, max = 60))]
    pub polling_interval: u32,
    /// Characters of the user code.
    #[schemars(range(min = 6, max = 16))]
    pub user_code_length: u8,
}

impl Default for DeviceFlowConfig {
    fn default() -> Self {
        Self {
            code_expiry: ConfigDuration::from_secs(600),
            polling_interval: 5,
            user_code_length: 8,
        }
    }
}
