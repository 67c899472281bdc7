//! Signing keys: ES256, RS256 and EdDSA, read from PKCS#8 PEM files (`idp.signing_keys`) or
//! generated and persisted under `idp.key_dir` (`generate.rs`), rotated by age on a schedule
//! (`rotation.rs`, once across instances) with the old keys published for `idp.key_retention`.
//! jsonwebtoken signs and verifies; the key crates (p256, rsa, ed25519-dalek) only make and read
//! keys (`pem.rs`). `KeyRing` holds the set in force and swaps in a rotated one.

mod generate;
mod pem;
mod ring;
mod rotation;

pub use ring::KeyRing;
pub use rotation::{ROTATION_CHECK_INTERVAL, rotate, run_key_rotation};

use std::time::SystemTime;

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use nauthilus_config::IdpConfig;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why keys could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("idp signing key {0}")]
    Load(String),
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("token rejected: {0}")]
    Verify(String),
}

/// The algorithms we sign with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    Es256,
    Rs256,
    EdDsa,
}

impl SigningAlg {
    /// Parses `ES256`, `RS256` or `EdDSA`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Self::Es256),
            "RS256" => Some(Self::Rs256),
            "EdDSA" => Some(Self::EdDsa),
            _ => None,
        }
    }

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// jsonwebtoken's algorithm.
    pub fn jwt(self) -> Algorithm {
        match self {
            Self::Es256 => Algorithm::ES256,
            Self::Rs256 => Algorithm::RS256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

/// One key pair.
pub struct SigningKey {
    /// `kid`.
    pub kid: String,
    pub alg: SigningAlg,
    /// Signs new tokens (else only published, for tokens it signed before).
    pub active: bool,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key from its private PKCS#8 DER, as jsonwebtoken wants it for `alg`.
    fn new(kid: String, alg: SigningAlg, active: bool, encoding: EncodingKey) -> Result<Self, KeyError> {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg.jwt())
            .map_err(|e| KeyError::Load(format!("{kid}: public key: {e}")))?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| KeyError::Load(format!("{kid}: {e}")))?;
        Ok(Self {
            kid,
            alg,
            active,
            encoding,
            decoding,
            jwk,
        })
    }
}

/// Every key in force: the active ones sign, all are published.
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<SigningKey>,
    /// The algorithm of the first active key (the default for ID tokens).
    default_alg: SigningAlg,
}

impl KeySet {
    /// The keys `config` names, or the generated ones under `key_dir` (the first key of an
    /// algorithm created, retired keys cleaned up at `now`; rotation is `rotate`'s).
    pub fn load(config: &IdpConfig, now: SystemTime) -> Result<Self, KeyError> {
        Self::load_creating(config, now, generate::Create::FirstOnly)
    }

    fn load_creating(
        config: &IdpConfig,
        now: SystemTime,
        create: generate::Create<'_>,
    ) -> Result<Self, KeyError> {
        let keys = if config.signing_keys.is_empty() {
            generate::load_or_generate(config, now, create)?
        } else {
            let mut keys = Vec::new();
            for k in &config.signing_keys {
                let alg = SigningAlg::parse(&k.algorithm).ok_or_else(|| {
                    KeyError::Load(format!("{}: unknown algorithm {:?}", k.id, k.algorithm))
                })?;
                let text = std::fs::read_to_string(&k.key_file)
                    .map_err(|e| KeyError::Load(format!("{}: {}: {e}", k.id, k.key_file)))?;
                let encoding =
                    pem::encoding_key(alg, &text).map_err(|e| KeyError::Load(format!("{}: {e}", k.id)))?;
                keys.push(SigningKey::new(k.id.clone(), alg, k.active, encoding)?);
            }
            keys
        };
        Self::from_keys(keys)
    }

    fn from_keys(keys: Vec<SigningKey>) -> Result<Self, KeyError> {
        let default_alg = keys
            .iter()
            .find(|k| k.active)
            .map(|k| k.alg)
            .ok_or_else(|| KeyError::Load("set: no active signing key".into()))?;
        Ok(Self { keys, default_alg })
    }

    /// The key ids, active ones marked (`kid*`), in order: tells whether a reload changed
    /// anything.
    pub fn fingerprint(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| {
                if k.active {
                    format!("{}*", k.kid)
                } else {
                    k.kid.clone()
                }
            })
            .collect()
    }

    /// The algorithm ID tokens use when the client names none.
    pub fn default_alg(&self) -> SigningAlg {
        self.default_alg
    }

    /// True when an active key can sign with `alg`.
    pub fn can_sign(&self, alg: SigningAlg) -> bool {
        self.keys.iter().any(|k| k.active && k.alg == alg)
    }

    /// The algorithms of the active keys (discovery).
    pub fn algorithms(&self) -> Vec<&'static str> {
        let mut algs: Vec<&'static str> = Vec::new();
        for k in self.keys.iter().filter(|k| k.active) {
            if !algs.contains(&k.alg.as_str()) {
                algs.push(k.alg.as_str());
            }
        }
        algs
    }

    /// The public keys (RFC 7517 JWK Set).
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.keys.iter().map(|k| k.jwk.clone()).collect(),
        }
    }

    /// Signs `claims` with the active key of `alg` (the default algorithm when `None`), setting
    /// `typ` (e.g. `JWT`, `logout+jwt`).
    pub fn sign<T: Serialize>(
        &self,
        alg: Option<SigningAlg>,
        typ: &str,
        claims: &T,
    ) -> Result<String, KeyError> {
        let alg = alg.unwrap_or(self.default_alg);
        // The newest active key of the algorithm is the last one loaded.
        let key = self
            .keys
            .iter()
            .rev()
            .find(|k| k.active && k.alg == alg)
            .ok_or_else(|| KeyError::Sign(format!("no active {} key", alg.as_str())))?;
        let mut header = Header::new(alg.jwt());
        header.kid = Some(key.kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| KeyError::Sign(e.to_string()))
    }

    /// Verifies a token we signed (by its `kid`) with `validation`'s rules (the algorithm is the
    /// key's).
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        mut validation: Validation,
    ) -> Result<T, KeyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| KeyError::Verify(e.to_string()))?;
        let kid = header.kid.ok_or_else(|| KeyError::Verify("no kid".into()))?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| KeyError::Verify("unknown kid".into()))?;
        validation.algorithms = vec![key.alg.jwt()];
        jsonwebtoken::decode::<T>(token, &key.decoding, &validation)
            .map(|d| d.claims)
            .map_err(|e| KeyError::Verify(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn config(dir: &std::path::Path, algs: &[&str], rotation: u64) -> IdpConfig {
        IdpConfig {
            key_dir: dir.display().to_string(),
            key_algorithms: algs.iter().map(|a| (*a).to_owned()).collect(),
            key_rotation: nauthilus_config::ConfigDuration::from_secs(rotation),
            ..IdpConfig::default()
        }
    }

    #[derive(Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Claims {
        sub: String,
        exp: u64,
        aud: String,
    }

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn generated_keys_sign_and_verify_for_every_algorithm() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let keys = KeySet::load(&config(dir.path(), &["ES256", "RS256", "EdDSA"], 0), now).unwrap();
        assert_eq!(keys.algorithms(), vec!["ES256", "RS256", "EdDSA"]);
        let exp = crate::unix(now) + 60;
        for alg in [SigningAlg::Es256, SigningAlg::Rs256, SigningAlg::EdDsa] {
            let claims = Claims {
                sub: "u".into(),
                exp,
                aud: "c".into(),
            };
            let token = keys.sign(Some(alg), "JWT", &claims).unwrap();
            let mut v = Validation::new(alg.jwt());
            v.set_audience(&["c"]);
            assert_eq!(keys.verify::<Claims>(&token, v).unwrap(), claims);
        }
        let jwks = serde_json::to_value(keys.jwks()).unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 3);
        assert!(jwks.to_string().contains("\"kty\":\"EC\""));
        assert!(!jwks.to_string().contains("\"d\""), "no private parts");
    }

    #[test]
    fn generated_keys_persist_across_loads() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path(), &["ES256"], 0);
        let a = KeySet::load(&c, t(1_000_000)).unwrap();
        let b = KeySet::load(&c, t(2_000_000)).unwrap();
        assert_eq!(a.keys[0].kid, b.keys[0].kid);
        assert_eq!(b.keys.len(), 1);
    }

    fn memory_store() -> nauthilus_store::Store {
        nauthilus_store::Store::memory(
            nauthilus_store::MemoryStore::default(),
            nauthilus_store::KeyLayout::new("t:"),
        )
    }

    fn token_of(keys: &KeySet) -> String {
        keys.sign(
            None,
            "JWT",
            &Claims {
                sub: "u".into(),
                exp: u64::MAX / 2,
                aud: "c".into(),
            },
        )
        .unwrap()
    }

    fn audience_c() -> Validation {
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&["c"]);
        v
    }

    #[test]
    fn loading_does_not_rotate_only_the_schedule_does() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path(), &["ES256"], 86_400);
        let first = KeySet::load(&c, t(1_000_000)).unwrap();
        let later = KeySet::load(&c, t(1_000_000 + 10 * 86_400)).unwrap();
        assert_eq!(first.fingerprint(), later.fingerprint());
    }

    #[tokio::test]
    async fn rotation_signs_with_a_new_key_and_publishes_the_old_one_for_the_retention() {
        let dir = tempfile::tempdir().unwrap();
        let store = memory_store();
        // Rotate daily; retire for two hours (longer than the tokens' hour).
        let mut c = config(dir.path(), &["ES256"], 86_400);
        c.key_retention = nauthilus_config::ConfigDuration::from_secs(7200);
        let first = KeySet::load(&c, t(1_000_000)).unwrap();
        let old_kid = first.keys[0].kid.clone();
        assert!(
            rotate(&store, &c, t(1_000_000 + 86_399), &first)
                .await
                .unwrap()
                .is_none(),
            "not due yet"
        );
        let rotated = rotate(&store, &c, t(1_000_000 + 86_400), &first)
            .await
            .unwrap()
            .expect("due after a day");
        assert_eq!(rotated.keys.len(), 2, "old key still published");
        let signer = rotated.keys.iter().find(|k| k.active).unwrap();
        assert_ne!(signer.kid, old_kid);
        assert!(!rotated.keys.iter().find(|k| k.kid == old_kid).unwrap().active);
        // A token of the old key still verifies; new tokens carry the new kid.
        rotated.verify::<Claims>(&token_of(&first), audience_c()).unwrap();
        let header = jsonwebtoken::decode_header(token_of(&rotated)).unwrap();
        assert_eq!(header.kid.as_deref(), Some(signer.kid.as_str()));
        // Within the retention nothing changes; after it the old key is gone.
        let at = 1_000_000 + 86_400;
        assert!(
            rotate(&store, &c, t(at + 7200), &rotated)
                .await
                .unwrap()
                .is_none()
        );
        let pruned = rotate(&store, &c, t(at + 7201), &rotated)
            .await
            .unwrap()
            .expect("the retired key dropped");
        assert!(pruned.keys.iter().all(|k| k.kid != old_kid));
        assert!(pruned.verify::<Claims>(&token_of(&first), audience_c()).is_err());
    }

    #[tokio::test]
    async fn the_retention_is_never_shorter_than_the_tokens_lifetime() {
        let dir = tempfile::tempdir().unwrap();
        let store = memory_store();
        let mut c = config(dir.path(), &["ES256"], 86_400);
        c.key_retention = nauthilus_config::ConfigDuration::from_secs(1);
        let first = KeySet::load(&c, t(1_000_000)).unwrap();
        let at = 1_000_000 + 86_400;
        let rotated = rotate(&store, &c, t(at), &first).await.unwrap().unwrap();
        // One hour (the default token lifetime) later the old key is still there.
        assert!(
            rotate(&store, &c, t(at + 3600), &rotated)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(rotated.keys.len(), 2);
    }

    #[tokio::test]
    async fn instances_sharing_the_store_and_directory_rotate_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = memory_store();
        let c = config(dir.path(), &["ES256", "EdDSA"], 86_400);
        let first = KeySet::load(&c, t(1_000_000)).unwrap();
        let at = t(1_000_000 + 86_400);
        // Instance B saw the rotation due before instance A made it (a stale view).
        let b_due = generate::due(&c, at).unwrap();
        assert_eq!(b_due.len(), 2);
        let a = rotate(&store, &c, at, &first).await.unwrap().unwrap();
        assert_eq!(a.keys.len(), 4);
        // B's claims fail (A holds them), so B creates nothing, even from its stale view.
        let b_claimed = claim_for_test(&store, b_due).await;
        assert!(b_claimed.is_empty());
        let b = KeySet::load_creating(&c, at, generate::Create::Successors(&b_claimed)).unwrap();
        assert_eq!(b.fingerprint(), a.fingerprint(), "B uses A's new keys");
        // Even a claim that won (the first claim expired) makes no second successor: the key it
        // claimed is no longer the newest.
        let stale = generate::due(&c, at);
        assert!(stale.unwrap().is_empty(), "nothing is due any more");
        let b_forced = KeySet::load_creating(
            &c,
            at,
            generate::Create::Successors(&[(SigningAlg::Es256, first.keys[0].kid.clone())]),
        )
        .unwrap();
        assert_eq!(b_forced.fingerprint(), a.fingerprint());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            4,
            "two keys per algorithm"
        );
    }

    async fn claim_for_test(
        store: &nauthilus_store::Store,
        due: Vec<(SigningAlg, String)>,
    ) -> Vec<(SigningAlg, String)> {
        rotation::claim(store, due).await.unwrap()
    }

    #[test]
    fn a_token_with_an_unknown_kid_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let a = KeySet::load(&config(dir.path(), &["ES256"], 0), now).unwrap();
        let b = KeySet::load(&config(other.path(), &["ES256"], 0), now).unwrap();
        let token = b
            .sign(
                None,
                "JWT",
                &Claims {
                    sub: "u".into(),
                    exp: crate::unix(now) + 60,
                    aud: "c".into(),
                },
            )
            .unwrap();
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&["c"]);
        assert!(a.verify::<Claims>(&token, v).is_err());
    }
}
