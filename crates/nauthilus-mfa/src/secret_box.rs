//! Encryption at rest of TOTP secrets: XChaCha20-Poly1305 under a 32-byte key from the config
//! (`mfa.encryption_key`, base64) or from a key file created with a random key on first start
//! (`mfa.encryption_key_file`, mode 0600). A sealed value is `v1:` + base64(nonce || ciphertext);
//! the account and kind are the associated data, so a value copied to another account or
//! record does not open.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use zeroize::Zeroizing;

use crate::error::MfaError;

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// Seals and opens secrets with one key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox")
    }
}

fn decode_key(text: &str, origin: &str) -> Result<Zeroizing<Vec<u8>>, MfaError> {
    let key = Zeroizing::new(
        STANDARD
            .decode(text.trim())
            .map_err(|_| MfaError::Config(format!("{origin} is not base64")))?,
    );
    if key.len() != KEY_LEN {
        return Err(MfaError::Config(format!(
            "{origin} must hold {KEY_LEN} bytes (base64)"
        )));
    }
    Ok(key)
}

impl SecretBox {
    /// A box over `key` (32 bytes).
    pub fn new(key: &[u8]) -> Result<Self, MfaError> {
        let cipher = XChaCha20Poly1305::new_from_slice(key)
            .map_err(|_| MfaError::Config(format!("the encryption key must be {KEY_LEN} bytes")))?;
        Ok(Self { cipher })
    }

    /// The key `key` (base64) names, else the one in `key_file`, which is created with a
    /// random key when missing.
    pub fn from_config(key: &str, key_file: &str) -> Result<Self, MfaError> {
        if !key.trim().is_empty() {
            return Self::new(&decode_key(key, "mfa.encryption_key")?);
        }
        if key_file.is_empty() {
            return Err(MfaError::Config(
                "set mfa.encryption_key or mfa.encryption_key_file".into(),
            ));
        }
        let path = Path::new(key_file);
        match std::fs::read_to_string(path) {
            Ok(text) => Self::new(&decode_key(&text, key_file)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create_key_file(path),
            Err(e) => Err(MfaError::Config(format!("cannot read {key_file}: {e}"))),
        }
    }

    /// Writes a new random key to `path` (never over an existing file) and returns its box.
    fn create_key_file(path: &Path) -> Result<Self, MfaError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rng().fill_bytes(key.as_mut());
        let text = Zeroizing::new(STANDARD.encode(key.as_ref()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()));
        match written {
            Ok(()) => {
                tracing::info!(path = %path.display(), "mfa: created a new encryption key file");
                Self::new(key.as_ref())
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| MfaError::Config(format!("cannot read {}: {e}", path.display())))?;
                Self::new(&decode_key(&text, &path.display().to_string())?)
            }
            Err(e) => Err(MfaError::Config(format!("cannot create {}: {e}", path.display()))),
        }
    }

    /// `plain` sealed, bound to `context`.
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<String, MfaError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| MfaError::Config("encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// The plain bytes of `sealed`; `None` when it is not ours (another key, another context,
    /// tampered with).
    pub fn open(&self, sealed: &str, context: &str) -> Option<Zeroizing<Vec<u8>>> {
        let raw = STANDARD.decode(sealed.strip_prefix(PREFIX)?).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .ok()
            .map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let a = SecretBox::new(&[7u8; 32]).unwrap();
        let b = SecretBox::new(&[8u8; 32]).unwrap();
        let sealed = a.seal(b"JBSWY3DPEHPK3PXP", "totp:alice").unwrap();
        assert!(!sealed.contains("JBSWY3DP"));
        assert_eq!(
            a.open(&sealed, "totp:alice").unwrap().as_slice(),
            b"JBSWY3DPEHPK3PXP"
        );
        assert!(a.open(&sealed, "totp:bob").is_none());
        assert!(b.open(&sealed, "totp:alice").is_none());
        assert!(a.open("v1:AAAA", "totp:alice").is_none());
        assert!(a.open("garbage", "totp:alice").is_none());
    }

    #[test]
    fn a_missing_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mfa.key");
        let file = path.to_str().unwrap();
        let first = SecretBox::from_config("", file).unwrap();
        let sealed = first.seal(b"secret", "ctx").unwrap();
        let again = SecretBox::from_config("", file).unwrap();
        assert_eq!(again.open(&sealed, "ctx").unwrap().as_slice(), b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_configured_key_must_be_32_bytes_of_base64() {
        assert!(SecretBox::from_config("c2hvcnQ=", "").is_err());
        assert!(SecretBox::from_config("not base64!", "").is_err());
        let key = STANDARD.encode([1u8; 32]);
        assert!(SecretBox::from_config(&key, "").is_ok());
        assert!(SecretBox::from_config("", "").is_err());
    }
}
