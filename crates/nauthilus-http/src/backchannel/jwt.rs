//! `server.jwt_auth`: HS256 access tokens (claims as Nauthilus writes them: `username`, `roles`,
//! `sub`, `iss: nauthilus`, `iat`, `nbf`, `exp`) and opaque, single-use refresh tokens kept in a
//! `Store` as their SHA-256 digest with a TTL.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use nauthilus_config::JwtAuthConfig;
use nauthilus_store::{Store, StoreResult};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::basic::digest;

/// `iss` of every token.
pub const ISSUER: &str = "nauthilus";
/// Access-token lifetime when `token_expiry` is 0 (as Nauthilus).
const DEFAULT_TOKEN_EXPIRY: Duration = Duration::from_secs(3600);
/// Refresh-token lifetime when `refresh_token_expiry` is 0 (as Nauthilus).
const DEFAULT_REFRESH_EXPIRY: Duration = Duration::from_secs(24 * 3600);
/// Clock skew tolerated on `exp`/`nbf` between instances.
const LEEWAY_SECS: u64 = 30;

/// The claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub username: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    pub iss: String,
    pub sub: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
}

/// One `server.jwt_auth.users[]` entry, its password kept as a digest.
struct ConfigUser {
    username: String,
    password: [u8; 32],
    roles: Vec<String>,
}

/// Where a token user came from; a refresh takes the roles from there again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserSource {
    /// `server.jwt_auth.users` (roles are read from the configuration in force at refresh).
    Config,
    /// The configured backends (roles as issued).
    Backend,
}

/// What a refresh token stands for (stored as JSON under its digest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub username: String,
    pub roles: Vec<String>,
    pub source: UserSource,
}

/// The JWT settings of one configuration.
pub struct JwtSettings {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    token_expiry: Duration,
    /// `Some(lifetime)` when refresh tokens are issued.
    refresh_expiry: Option<Duration>,
    store_in_redis: bool,
    users: Vec<ConfigUser>,
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("token_expiry", &self.token_expiry)
            .field("refresh_expiry", &self.refresh_expiry)
            .field("store_in_redis", &self.store_in_redis)
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

fn or_default(value: Duration, default: Duration) -> Duration {
    if value.is_zero() { default } else { value }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl JwtSettings {
    /// The settings `config` describes, or `None` when JWT auth is off.
    pub fn from_config(config: &JwtAuthConfig) -> Option<Self> {
        if !config.enabled {
            return None;
        }
        // Only an empty key is refused, and validation requires 32 characters; should an
        // unvalidated configuration get here, a random key keeps tokens unforgeable.
        let random_key;
        let key = if config.secret_key.is_empty() {
            tracing::error!("server.jwt_auth.secret_key is empty: signing with a random key");
            random_key = rand::random::<[u8; 32]>();
            &random_key[..]
        } else {
            config.secret_key.as_bytes()
        };
        let (Ok(encoding), Ok(decoding)) = (EncodingKey::from_secret(key), DecodingKey::from_secret(key))
        else {
            return None;
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        Some(Self {
            encoding,
            decoding,
            validation,
            token_expiry: or_default(config.token_expiry.get(), DEFAULT_TOKEN_EXPIRY),
            refresh_expiry: config
                .refresh_token
                .then(|| or_default(config.refresh_token_expiry.get(), DEFAULT_REFRESH_EXPIRY)),
            store_in_redis: config.store_in_redis,
            users: config
                .users
                .iter()
                .map(|u| ConfigUser {
                    username: u.username.clone(),
                    password: digest(u.password.as_bytes()),
                    roles: u.roles.clone(),
                })
                .collect(),
        })
    }

    /// True when `users` are configured (then only they get tokens, as in Nauthilus).
    pub fn has_users(&self) -> bool {
        !self.users.is_empty()
    }

    /// How long access tokens live.
    pub fn token_expiry(&self) -> Duration {
        self.token_expiry
    }

    /// How long refresh tokens live, when they are issued.
    pub fn refresh_expiry(&self) -> Option<Duration> {
        self.refresh_expiry
    }

    /// True when refresh tokens live in the shared store rather than in this process.
    pub fn store_in_redis(&self) -> bool {
        self.store_in_redis
    }

    /// The roles of the configured user `username` with `password`, if both match. Every entry
    /// is compared, in constant time, whether or not an earlier one matched.
    pub fn check_user(&self, username: &str, password: &[u8]) -> Option<&[String]> {
        let user_digest = digest(username.as_bytes());
        let pass_digest = digest(password);
        let mut found = None;
        for user in &self.users {
            let same_user = digest(user.username.as_bytes()).ct_eq(&user_digest);
            let same_pass = user.password.ct_eq(&pass_digest);
            if bool::from(same_user & same_pass) && found.is_none() {
                found = Some(user.roles.as_slice());
            }
        }
        found
    }

    /// The roles of the configured user `username` now (for a refresh).
    pub fn user_roles(&self, username: &str) -> Option<&[String]> {
        self.users
            .iter()
            .find(|u| u.username == username)
            .map(|u| u.roles.as_slice())
    }

    /// A signed access token for `username` with `roles`, issued at `now`; also returns `exp`.
    pub fn issue(
        &self,
        username: &str,
        roles: &[String],
        now: SystemTime,
    ) -> Result<(String, u64), jsonwebtoken::errors::Error> {
        let iat = unix_secs(now);
        let exp = iat.saturating_add(self.token_expiry.as_secs().max(1));
        let claims = Claims {
            username: username.to_owned(),
            roles: roles.to_vec(),
            iss: ISSUER.to_owned(),
            sub: username.to_owned(),
            iat,
            nbf: iat,
            exp,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, exp))
    }

    /// The claims of a valid access token: HS256 with this key, issued by `nauthilus`, within
    /// its `nbf`..`exp` (give or take the leeway). Any other algorithm, `none` included, fails.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|d| d.claims)
    }
}

/// Refresh tokens: 256 random bits, handed out once; the store keeps only their SHA-256 with
/// what they stand for, for the token's lifetime. Taking one deletes it (single use).
#[derive(Clone, Debug)]
pub struct RefreshTokens {
    store: Store,
}

impl RefreshTokens {
    /// Refresh tokens kept in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    fn key(&self, token: &str) -> String {
        self.store
            .keys()
            .jwt_refresh_token(&hex::encode(digest(token.as_bytes())))
    }

    /// A new refresh token for `record`, valid for `ttl`.
    pub async fn create(&self, record: &RefreshRecord, ttl: Duration) -> StoreResult<String> {
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let value = serde_json::to_string(record).unwrap_or_default();
        self.store.set(&self.key(&token), &value, Some(ttl)).await?;
        Ok(token)
    }

    /// What `token` stands for, if it is valid; it is consumed (a second call finds nothing).
    pub async fn take(&self, token: &str) -> StoreResult<Option<RefreshRecord>> {
        let value = self.store.get_del(&self.key(token)).await?;
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    /// Revokes `token`; true if it was valid.
    pub async fn revoke(&self, token: &str) -> StoreResult<bool> {
        self.store.delete(&self.key(token)).await
    }
}

#[cfg(test)]
mod tests {
    use nauthilus_config::{ConfigDuration, JwtUser};
    use nauthilus_store::{KeyLayout, MemoryStore};

    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn settings(users: Vec<JwtUser>) -> JwtSettings {
        let config = JwtAuthConfig {
            enabled: true,
            secret_key: KEY.into(),
            refresh_token: true,
            users,
            ..JwtAuthConfig::default()
        };
        JwtSettings::from_config(&config).unwrap()
    }

    fn user(name: &str, password: &str, roles: &[&str]) -> JwtUser {
        JwtUser {
            username: name.into(),
            password: password.into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn disabled_means_no_settings_and_zero_means_the_defaults() {
        assert!(JwtSettings::from_config(&JwtAuthConfig::default()).is_none());
        let config = JwtAuthConfig {
            enabled: true,
            secret_key: KEY.into(),
            token_expiry: ConfigDuration::from_secs(0),
            refresh_token_expiry: ConfigDuration::from_secs(0),
            refresh_token: true,
            ..JwtAuthConfig::default()
        };
        let s = JwtSettings::from_config(&config).unwrap();
        assert_eq!(s.token_expiry(), DEFAULT_TOKEN_EXPIRY);
        assert_eq!(s.refresh_expiry(), Some(DEFAULT_REFRESH_EXPIRY));
    }

    #[test]
    fn issued_tokens_verify_with_their_claims() {
        let s = settings(Vec::new());
        let roles = vec!["security".to_owned()];
        let (token, exp) = s.issue("ops", &roles, SystemTime::now()).unwrap();
        let claims = s.verify(&token).unwrap();
        assert_eq!(claims.username, "ops");
        assert_eq!(claims.sub, "ops");
        assert_eq!(claims.roles, roles);
        assert_eq!(claims.exp, exp);
    }

    #[test]
    fn expired_foreign_and_unsigned_tokens_fail() {
        let s = settings(Vec::new());
        let long_ago = SystemTime::now() - Duration::from_secs(2 * 3600);
        let (expired, _) = s.issue("ops", &[], long_ago).unwrap();
        assert!(s.verify(&expired).is_err());
        // Another key.
        let other = JwtAuthConfig {
            enabled: true,
            secret_key: "another-key-another-key-another-key".into(),
            ..JwtAuthConfig::default()
        };
        let (foreign, _) = JwtSettings::from_config(&other)
            .unwrap()
            .issue("ops", &["admin".to_owned()], SystemTime::now())
            .unwrap();
        assert!(s.verify(&foreign).is_err());
        // `alg: none` with the same claims.
        let (good, _) = s.issue("ops", &["admin".to_owned()], SystemTime::now()).unwrap();
        let payload = good.split('.').nth(1).unwrap();
        let none_header =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert!(s.verify(&format!("{none_header}.{payload}.")).is_err());
        // A tampered payload.
        let tampered_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"username":"ops","roles":["admin"],"iss":"nauthilus","sub":"ops","iat":1,"nbf":1,"exp":99999999999}"#);
        let mut parts = good.split('.');
        let header = parts.next().unwrap();
        let signature = parts.nth(1).unwrap();
        assert!(
            s.verify(&format!("{header}.{tampered_payload}.{signature}"))
                .is_err()
        );
    }

    #[test]
    fn configured_users_need_name_and_password() {
        let s = settings(vec![
            user("a", "password-a", &["admin"]),
            user("b", "password-b", &["security"]),
        ]);
        assert_eq!(
            s.check_user("b", b"password-b"),
            Some(&["security".to_owned()][..])
        );
        assert_eq!(s.check_user("b", b"password-a"), None);
        assert_eq!(s.check_user("c", b"password-a"), None);
        assert_eq!(s.user_roles("a"), Some(&["admin".to_owned()][..]));
        assert_eq!(s.user_roles("c"), None);
    }

    #[tokio::test]
    async fn refresh_tokens_are_single_use_and_revocable() {
        let store = Store::memory(MemoryStore::default(), KeyLayout::new("t:"));
        let tokens = RefreshTokens::new(store.clone());
        let record = RefreshRecord {
            username: "ops".into(),
            roles: vec!["security".into()],
            source: UserSource::Config,
        };
        let token = tokens.create(&record, Duration::from_secs(60)).await.unwrap();
        // Only a digest is stored.
        let key = store
            .keys()
            .jwt_refresh_token(&hex::encode(digest(token.as_bytes())));
        assert!(!store.get(&key).await.unwrap().unwrap().contains(&token));
        assert_eq!(tokens.take(&token).await.unwrap(), Some(record.clone()));
        assert_eq!(tokens.take(&token).await.unwrap(), None);
        let second = tokens.create(&record, Duration::from_secs(60)).await.unwrap();
        assert_ne!(second, token);
        assert!(tokens.revoke(&second).await.unwrap());
        assert_eq!(tokens.take(&second).await.unwrap(), None);
        assert_eq!(tokens.take("made-up").await.unwrap(), None);
    }
}
