//! TLS client pieces shared by the Redis store and the LDAP backend: reading PEM certificates
//! and keys, building a root store from a CA file or the system, and the verifier behind
//! `skip_verify`. One rustls, one crypto provider (ring), passed explicitly. Callers prefix the
//! errors with the configuration key they came from.

// Tests may read the clock directly; the code under test takes it as an argument.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{
    CryptoProvider, WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Why a TLS file or root store could not be used. The message names the file, not the key.
#[derive(Debug, thiserror::Error)]
pub enum TlsFileError {
    #[error("{path:?}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path:?}: {message}")]
    BadPem { path: String, message: String },
    #[error("{path:?}: no PEM certificate found")]
    NoCertificate { path: String },
    #[error("{path:?}: no private key ({message})")]
    NoKey { path: String, message: String },
    #[error("{path:?}: {message}")]
    BadCertificate { path: String, message: String },
    #[error("no system root certificates found{0}")]
    NoSystemRoots(String),
}

/// The crypto provider every TLS client of the server uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The raw bytes of a PEM file.
pub fn read_pem(path: &str) -> Result<Vec<u8>, TlsFileError> {
    std::fs::read(path).map_err(|source| TlsFileError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The certificates of a PEM file (at least one).
pub fn read_certificates(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let pem = read_pem(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsFileError::BadPem {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsFileError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The private key of a PEM file.
pub fn read_private_key(path: &str) -> Result<PrivateKeyDer<'static>, TlsFileError> {
    PrivateKeyDer::from_pem_slice(&read_pem(path)?).map_err(|e| TlsFileError::NoKey {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// The trusted roots: the certificates of `ca_file`, or with an empty `ca_file` the system's.
/// `require_system_roots` makes an empty system store an error (else the store stays empty and
/// TLS connections fail with an unknown issuer, which is clear enough where TLS is optional).
pub fn root_store(ca_file: &str, require_system_roots: bool) -> Result<RootCertStore, TlsFileError> {
    let mut roots = RootCertStore::empty();
    if ca_file.is_empty() {
        let native = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(native.certs);
        if added == 0 && require_system_roots {
            let why = native
                .errors
                .first()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            return Err(TlsFileError::NoSystemRoots(why));
        }
    } else {
        for cert in read_certificates(ca_file)? {
            roots.add(cert).map_err(|e| TlsFileError::BadCertificate {
                path: ca_file.to_owned(),
                message: e.to_string(),
            })?;
        }
    }
    Ok(roots)
}

/// `skip_verify`: any certificate for any name is accepted, as Go's `InsecureSkipVerify` does;
/// the handshake signatures are still checked, so the peer must hold the certificate's key.
#[derive(Debug)]
pub struct AcceptAnyServerCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AcceptAnyServerCertificate {
    /// A verifier checking signatures with `provider`'s algorithms.
    pub fn new(provider: &CryptoProvider) -> Self {
        Self {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for AcceptAnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_files_are_named_errors() {
        let e = read_certificates("/nonexistent/ca.pem").unwrap_err();
        assert!(e.to_string().starts_with("\"/nonexistent/ca.pem\": "), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem\n").unwrap();
        let path = empty.display().to_string();
        assert!(matches!(
            read_certificates(&path),
            Err(TlsFileError::NoCertificate { .. })
        ));
        assert!(matches!(read_private_key(&path), Err(TlsFileError::NoKey { .. })));
        assert!(matches!(
            root_store(&path, false),
            Err(TlsFileError::NoCertificate { .. })
        ));
    }
}
