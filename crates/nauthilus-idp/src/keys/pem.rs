//! PKCS#8 PEM in and out, in the form jsonwebtoken wants for each algorithm: PKCS#8 DER for
//! ES256, PKCS#1 DER for RS256, and the 48-byte PKCS#8 v1 DER (RFC 8410) for EdDSA.

use jsonwebtoken::EncodingKey;
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rsa::pkcs1::EncodeRsaPrivateKey as _;

use super::SigningAlg;

/// The fixed PKCS#8 v1 prefix of an Ed25519 private key (RFC 8410 §7); 32 key bytes follow.
const ED25519_PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The signing key in a PKCS#8 PEM text.
pub(super) fn encoding_key(alg: SigningAlg, pem: &str) -> Result<EncodingKey, String> {
    match alg {
        SigningAlg::Es256 => {
            let key =
                p256::SecretKey::from_pkcs8_pem(pem).map_err(|e| format!("not a PKCS#8 P-256 key: {e}"))?;
            let der = key.to_pkcs8_der().map_err(|e| e.to_string())?;
            Ok(EncodingKey::from_ec_der(der.as_bytes()))
        }
        SigningAlg::Rs256 => {
            let key =
                rsa::PrivateKey::from_pkcs8_pem(pem).map_err(|e| format!("not a PKCS#8 RSA key: {e}"))?;
            if key_bits(&key) < 2048 {
                return Err("RSA keys must have at least 2048 bits".into());
            }
            let der = key.to_pkcs1_der().map_err(|e| e.to_string())?;
            Ok(EncodingKey::from_rsa_der(der.as_bytes()))
        }
        SigningAlg::EdDsa => {
            let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
                .map_err(|e| format!("not a PKCS#8 Ed25519 key: {e}"))?;
            let mut der = ED25519_PKCS8_V1_PREFIX.to_vec();
            der.extend_from_slice(&key.to_bytes());
            Ok(EncodingKey::from_ed_der(&der))
        }
    }
}

fn key_bits(key: &rsa::PrivateKey) -> usize {
    use rsa::traits::PublicKeyParts as _;
    key.size() * 8
}

/// A new private key of `alg`, as PKCS#8 PEM.
pub(super) fn generate(alg: SigningAlg) -> Result<String, String> {
    let line = p256::pkcs8::LineEnding::LF;
    let pem = match alg {
        SigningAlg::Es256 => {
            let key = loop {
                // A random scalar is below the group order with overwhelming probability.
                let bytes: [u8; 32] = rand::random();
                if let Ok(key) = p256::SecretKey::from_slice(&bytes) {
                    break key;
                }
            };
            key.to_pkcs8_pem(line).map_err(|e| e.to_string())?.to_string()
        }
        SigningAlg::Rs256 => {
            let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).map_err(|e| e.to_string())?;
            key.to_pkcs8_pem(line).map_err(|e| e.to_string())?.to_string()
        }
        SigningAlg::EdDsa => {
            let bytes: [u8; 32] = rand::random();
            let key = ed25519_dalek::SigningKey::from_bytes(&bytes);
            key.to_pkcs8_pem(line).map_err(|e| e.to_string())?.to_string()
        }
    };
    Ok(pem)
}
