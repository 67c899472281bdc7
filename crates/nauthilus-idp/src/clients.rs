//! The registered clients (`idp.clients`), checked once per configuration: secrets kept only as
//! salted digests (or the configured password hash), exact redirect URIs, the grants and scopes
//! each may use, and how it authenticates at the token endpoint.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey};
use nauthilus_backends::password::PasswordHash;
use nauthilus_config::{IdpClient, IdpConfig};
use subtle::ConstantTimeEq;

use crate::keys::{KeySet, SigningAlg};

/// The device grant's `grant_type` (RFC 8628 §3.4).
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A grant a client may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    DeviceCode,
}

impl GrantType {
    /// Parses a `grant_type` value.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            "client_credentials" => Some(Self::ClientCredentials),
            DEVICE_GRANT => Some(Self::DeviceCode),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::DeviceCode => DEVICE_GRANT,
        }
    }
}

/// How a client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    /// A public client (PKCE is then mandatory).
    None,
}

impl AuthMethod {
    /// Parses `token_endpoint_auth_method`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "private_key_jwt" => Some(Self::PrivateKeyJwt),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// When a user is asked to approve a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentMode {
    Skip,
    Once,
    Always,
}

impl ConsentMode {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "skip" => Some(Self::Skip),
            "once" => Some(Self::Once),
            "always" => Some(Self::Always),
            _ => None,
        }
    }
}

/// How a client secret is checked.
enum SecretCheck {
    /// SHA-256 of a per-process salt and the secret (configured in clear text).
    Digest { salt: [u8; 16], digest: [u8; 32] },
    /// A password hash as configured (`{SSHA512}…`, `$argon2id$…`).
    Hash(PasswordHash),
}

impl SecretCheck {
    fn new(configured: &str) -> Self {
        if (configured.starts_with('$') || configured.starts_with('{'))
            && let Ok(hash) = PasswordHash::parse(configured)
        {
            return Self::Hash(hash);
        }
        let salt: [u8; 16] = rand::random();
        Self::Digest {
            salt,
            digest: salted(&salt, configured.as_bytes()),
        }
    }

    fn matches(&self, candidate: &str) -> bool {
        match self {
            Self::Digest { salt, digest } => bool::from(salted(salt, candidate.as_bytes()).ct_eq(digest)),
            Self::Hash(hash) => hash.verify(candidate.as_bytes()),
        }
    }
}

fn salted(salt: &[u8; 16], secret: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(salt);
    h.update(secret);
    h.finalize().into()
}

/// One registered client.
pub struct Client {
    pub id: String,
    /// Shown on the consent page (the id when no name is configured).
    pub name: String,
    secret: Option<SecretCheck>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub auth_method: AuthMethod,
    /// Verifies `private_key_jwt` assertions.
    assertion_key: Option<(DecodingKey, Algorithm)>,
    pub consent: ConsentMode,
    pub backchannel_logout_uri: Option<String>,
    pub require_mfa: bool,
    /// `acr` of a password-only login (empty: the session's).
    pub acr_single_factor: String,
    /// `acr` of a login with a second factor (empty: the session's).
    pub acr_multi_factor: String,
    pub id_token_alg: SigningAlg,
    pub access_token_lifetime: Duration,
    /// May introspect tokens issued to any client (a resource server).
    pub introspect_all_tokens: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("auth_method", &self.auth_method)
            .field("grant_types", &self.grant_types)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// True for a public client (no secret, no key: PKCE is mandatory).
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }

    /// True when the client may use `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// True when `uri` is one of the registered redirect URIs, compared exactly.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    /// True when the client may learn about a token issued to `audience` (RFC 7662 §2.1 leaves
    /// the rule to the server): its own tokens, or every token for a resource server.
    pub fn may_introspect(&self, audience: &str) -> bool {
        self.introspect_all_tokens || self.id == audience
    }

    /// True when `secret` is the client's secret (false for clients without one).
    pub fn secret_matches(&self, secret: &str) -> bool {
        self.secret.as_ref().is_some_and(|s| s.matches(secret))
    }

    /// The key and algorithm that verify the client's `private_key_jwt` assertions.
    pub fn assertion_key(&self) -> Option<&(DecodingKey, Algorithm)> {
        self.assertion_key.as_ref()
    }

    /// The requested scopes the client may have (the `openid` scope included when asked).
    pub fn allowed_scopes<'a>(&self, requested: &'a [String]) -> Result<Vec<String>, &'a str> {
        let mut out = Vec::new();
        for s in requested {
            if !self.scopes.iter().any(|a| a == s) {
                return Err(s);
            }
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        Ok(out)
    }

    fn from_config(c: &IdpClient, idp: &IdpConfig, keys: &KeySet) -> Result<Self, String> {
        let at = |msg: String| format!("idp.clients[{}]: {msg}", c.client_id);
        if c.client_id.is_empty() {
            return Err("idp.clients[]: client_id is required".into());
        }
        let auth_method = if c.token_endpoint_auth_method.is_empty() {
            if c.client_secret.is_empty() {
                AuthMethod::None
            } else {
                AuthMethod::ClientSecretBasic
            }
        } else {
            AuthMethod::parse(&c.token_endpoint_auth_method).ok_or_else(|| {
                at(format!(
                    "token_endpoint_auth_method {:?} is not one of client_secret_basic, client_secret_post, private_key_jwt, none",
                    c.token_endpoint_auth_method
                ))
            })?
        };
        let secret = match auth_method {
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {
                if c.client_secret.is_empty() {
                    return Err(at(
                        "client_secret is required for client_secret_* authentication".into()
                    ));
                }
                Some(SecretCheck::new(&c.client_secret))
            }
            _ => None,
        };
        let assertion_key = match auth_method {
            AuthMethod::PrivateKeyJwt => {
                if c.public_key_file.is_empty() {
                    return Err(at("private_key_jwt needs public_key_file".into()));
                }
                let pem = std::fs::read_to_string(&c.public_key_file)
                    .map_err(|e| at(format!("public_key_file {}: {e}", c.public_key_file)))?;
                Some(
                    public_key(&pem)
                        .map_err(|e| at(format!("public_key_file {}: {e}", c.public_key_file)))?,
                )
            }
            _ => None,
        };
        let mut grant_types = Vec::new();
        for g in &c.grant_types {
            let grant = GrantType::parse(g).ok_or_else(|| at(format!("unknown grant type {g:?}")))?;
            grant_types.push(grant);
        }
        if auth_method == AuthMethod::None && grant_types.contains(&GrantType::ClientCredentials) {
            return Err(at("a public client cannot use client_credentials".into()));
        }
        for uri in c.redirect_uris.iter().chain(&c.post_logout_redirect_uris) {
            let parsed = url::Url::parse(uri).map_err(|e| at(format!("redirect URI {uri:?}: {e}")))?;
            if parsed.fragment().is_some() {
                return Err(at(format!("redirect URI {uri:?} must not have a fragment")));
            }
        }
        if grant_types.contains(&GrantType::AuthorizationCode) && c.redirect_uris.is_empty() {
            return Err(at("authorization_code needs at least one redirect_uri".into()));
        }
        let consent_name = if c.consent.is_empty() {
            &idp.consent.mode
        } else {
            &c.consent
        };
        let consent = ConsentMode::parse(consent_name).ok_or_else(|| {
            at(format!(
                "consent {consent_name:?} is not one of skip, once, always"
            ))
        })?;
        let id_token_alg = if c.id_token_signed_response_alg.is_empty() {
            keys.default_alg()
        } else {
            let alg = SigningAlg::parse(&c.id_token_signed_response_alg)
                .ok_or_else(|| at(format!("unknown algorithm {:?}", c.id_token_signed_response_alg)))?;
            if !keys.can_sign(alg) {
                return Err(at(format!("no active {} signing key", alg.as_str())));
            }
            alg
        };
        let access_token_lifetime = if c.access_token_lifetime.get().is_zero() {
            idp.tokens.access_token_lifetime.get()
        } else {
            c.access_token_lifetime.get()
        };
        let backchannel_logout_uri = if c.backchannel_logout_uri.is_empty() {
            None
        } else {
            url::Url::parse(&c.backchannel_logout_uri)
                .map_err(|e| at(format!("backchannel_logout_uri: {e}")))?;
            Some(c.backchannel_logout_uri.clone())
        };
        Ok(Self {
            id: c.client_id.clone(),
            name: if c.name.is_empty() {
                c.client_id.clone()
            } else {
                c.name.clone()
            },
            secret,
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            grant_types,
            scopes: c.scopes.clone(),
            auth_method,
            assertion_key,
            consent,
            backchannel_logout_uri,
            require_mfa: c.require_mfa,
            acr_single_factor: c.acr_single_factor.clone(),
            acr_multi_factor: c.acr_multi_factor.clone(),
            id_token_alg,
            access_token_lifetime,
            introspect_all_tokens: c.introspect_all_tokens,
        })
    }
}

/// A public key (SPKI PEM) for `private_key_jwt`: P-256, RSA or Ed25519.
fn public_key(pem: &str) -> Result<(DecodingKey, Algorithm), String> {
    use base64::Engine;
    use p256::pkcs8::DecodePublicKey as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    if let Ok(key) = p256::PublicKey::from_public_key_pem(pem) {
        let point = key.to_sec1_bytes();
        if point.len() != 65 || point[0] != 4 {
            return Err("P-256 key is not an uncompressed point".into());
        }
        let key = DecodingKey::from_ec_components(&b64(&point[1..33]), &b64(&point[33..]))
            .map_err(|e| e.to_string())?;
        return Ok((key, Algorithm::ES256));
    }
    if let Ok(key) = rsa::PublicKey::from_public_key_pem(pem) {
        use rsa::traits::PublicKeyParts as _;
        let n = key.n_bytes();
        let e = key.e_bytes();
        return Ok((DecodingKey::from_rsa_raw_components(&n, &e), Algorithm::RS256));
    }
    if let Ok(key) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
        let key = DecodingKey::from_ed_components(&b64(key.as_bytes())).map_err(|e| e.to_string())?;
        return Ok((key, Algorithm::EdDSA));
    }
    Err("not a PEM public key (P-256, RSA or Ed25519)".into())
}

/// The clients of one configuration, by id.
#[derive(Debug, Default)]
pub struct Clients {
    by_id: HashMap<String, Arc<Client>>,
}

impl Clients {
    /// Checks and indexes `idp.clients`.
    pub fn from_config(idp: &IdpConfig, keys: &KeySet) -> Result<Self, String> {
        let mut by_id = HashMap::new();
        let mut problems = Vec::new();
        for c in &idp.clients {
            match Client::from_config(c, idp, keys) {
                Ok(client) => {
                    if by_id.insert(client.id.clone(), Arc::new(client)).is_some() {
                        problems.push(format!("idp.clients: client_id {:?} appears twice", c.client_id));
                    }
                }
                Err(e) => problems.push(e),
            }
        }
        if problems.is_empty() {
            Ok(Self { by_id })
        } else {
            Err(problems.join("\nerror: "))
        }
    }

    /// The client `id`.
    pub fn get(&self, id: &str) -> Option<&Arc<Client>> {
        self.by_id.get(id)
    }

    /// Every client.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Client>> {
        self.by_id.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(dir: &std::path::Path) -> KeySet {
        let c = IdpConfig {
            key_dir: dir.display().to_string(),
            ..IdpConfig::default()
        };
        KeySet::load(&c, std::time::SystemTime::now()).unwrap()
    }

    fn client(f: impl FnOnce(&mut IdpClient)) -> IdpClient {
        let mut c = IdpClient {
            client_id: "app".into(),
            client_secret: "s3cret".into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            ..IdpClient::default()
        };
        f(&mut c);
        c
    }

    fn build(c: IdpClient) -> Result<Clients, String> {
        let dir = tempfile::tempdir().unwrap();
        let idp = IdpConfig {
            clients: vec![c],
            ..IdpConfig::default()
        };
        Clients::from_config(&idp, &keys(dir.path()))
    }

    #[test]
    fn secrets_are_checked_without_keeping_them() {
        let clients = build(client(|_| {})).unwrap();
        let app = clients.get("app").unwrap();
        assert!(app.secret_matches("s3cret"));
        assert!(!app.secret_matches("s3cret "));
        assert!(!app.secret_matches(""));
        assert!(!format!("{app:?}").contains("s3cret"));
        assert_eq!(app.auth_method, AuthMethod::ClientSecretBasic);
    }

    #[test]
    fn configured_password_hashes_are_accepted_as_secrets() {
        let hash = nauthilus_backends::password::hash_password(
            nauthilus_backends::password::Scheme::Argon2id,
            b"s3cret",
        )
        .unwrap();
        let clients = build(client(|c| c.client_secret = hash)).unwrap();
        assert!(clients.get("app").unwrap().secret_matches("s3cret"));
        assert!(!clients.get("app").unwrap().secret_matches("other"));
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let clients = build(client(|_| {})).unwrap();
        let app = clients.get("app").unwrap();
        assert!(app.has_redirect_uri("https://app.example/cb"));
        for bad in [
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
            "https://app.example/CB",
            "https://app.example/cb#f",
            "http://app.example/cb",
        ] {
            assert!(!app.has_redirect_uri(bad), "{bad}");
        }
    }

    #[test]
    fn a_client_without_secret_is_public_and_cannot_use_client_credentials() {
        let clients = build(client(|c| c.client_secret.clear())).unwrap();
        assert!(clients.get("app").unwrap().is_public());
        let e = build(client(|c| {
            c.client_secret.clear();
            c.grant_types = vec!["client_credentials".into()];
        }))
        .unwrap_err();
        assert!(e.contains("public client"), "{e}");
    }

    #[test]
    fn bad_client_settings_are_reported() {
        assert!(build(client(|c| c.grant_types = vec!["password".into()])).is_err());
        assert!(build(client(|c| c.token_endpoint_auth_method = "magic".into())).is_err());
        assert!(build(client(|c| c.consent = "sometimes".into())).is_err());
        assert!(build(client(|c| c.redirect_uris = vec!["https://a/cb#x".into()])).is_err());
        assert!(build(client(|c| c.id_token_signed_response_alg = "RS256".into())).is_err());
    }
}
