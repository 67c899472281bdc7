//! TLS settings (`server.redis.tls`) turned into client configurations once, at connect time:
//! certificate files are read and checked before the first connection, never per reconnect.
//!
//! Standalone and Sentinel connections use our own rustls config (every knob honoured, the ring
//! provider passed explicitly). Cluster connections are opened by the redis crate, which builds
//! its own rustls config from PEM bytes and cannot raise the minimum TLS version.

use std::fs;
use std::sync::Arc;

use nauthilus_config::RedisTls;
use redis::{ClientTlsConfig, TlsCertificates, TlsMode};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{
    CryptoProvider, WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme, SupportedProtocolVersion};

use crate::StoreError;

/// `min_tls_version` values and the protocol versions each allows.
fn protocol_versions(min: &str) -> Result<&'static [&'static SupportedProtocolVersion], StoreError> {
    static FROM_TLS12: [&SupportedProtocolVersion; 2] = [&rustls::version::TLS13, &rustls::version::TLS12];
    static FROM_TLS13: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    match min {
        "" | "tls1.2" => Ok(&FROM_TLS12),
        "tls1.3" => Ok(&FROM_TLS13),
        other => Err(config_error(format!(
            "server.redis.tls.min_tls_version {other:?} is not supported (use \"tls1.2\" or \"tls1.3\")"
        ))),
    }
}

/// The rustls client configuration for standalone and Sentinel connections.
pub(crate) fn client_config(tls: &RedisTls) -> Result<Arc<ClientConfig>, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(protocol_versions(&tls.min_tls_version)?)
        .map_err(|e| config_error(format!("server.redis.tls: {e}")))?;
    let builder = if tls.skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCertificate::new(&provider)))
    } else {
        builder.with_root_certificates(root_store(tls)?)
    };
    let config = match client_identity(tls)? {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| config_error(format!("server.redis.tls.cert/key: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The redis crate's TLS mode and certificates for Cluster connections.
pub(crate) fn cluster_tls(tls: &RedisTls) -> Result<(TlsMode, TlsCertificates), StoreError> {
    // Checks the value and reads the files now, so errors surface at startup.
    if protocol_versions(&tls.min_tls_version)?.len() == 1 {
        return Err(config_error(
            "server.redis.tls.min_tls_version \"tls1.3\" is not supported in Cluster mode: the redis \
             client opens cluster connections itself and always offers TLS 1.2 and 1.3",
        ));
    }
    let root_cert = if tls.ca_file.is_empty() {
        None
    } else {
        let pem = read("server.redis.tls.ca_file", &tls.ca_file)?;
        parse_certificates("server.redis.tls.ca_file", &pem)?;
        Some(pem)
    };
    let client_tls = match client_identity(tls)? {
        Some(_) => Some(ClientTlsConfig {
            client_cert: read("server.redis.tls.cert", &tls.cert)?,
            client_key: read("server.redis.tls.key", &tls.key)?,
        }),
        None => None,
    };
    let mode = if tls.skip_verify {
        TlsMode::Insecure
    } else {
        TlsMode::Secure
    };
    Ok((
        mode,
        TlsCertificates {
            client_tls,
            root_cert,
        },
    ))
}

/// `ca_file` if set, else the system's roots.
fn root_store(tls: &RedisTls) -> Result<RootCertStore, StoreError> {
    let mut roots = RootCertStore::empty();
    if tls.ca_file.is_empty() {
        let native = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(native.certs);
        if added == 0 {
            let why = native
                .errors
                .first()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            return Err(config_error(format!(
                "server.redis.tls: no system root certificates found{why}; set server.redis.tls.ca_file"
            )));
        }
    } else {
        let pem = read("server.redis.tls.ca_file", &tls.ca_file)?;
        for cert in parse_certificates("server.redis.tls.ca_file", &pem)? {
            roots
                .add(cert)
                .map_err(|e| config_error(format!("server.redis.tls.ca_file {:?}: {e}", tls.ca_file)))?;
        }
    }
    Ok(roots)
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The client certificate chain and key, if both are configured.
fn client_identity(tls: &RedisTls) -> Result<Option<Identity>, StoreError> {
    match (tls.cert.is_empty(), tls.key.is_empty()) {
        (true, true) => Ok(None),
        (false, false) => {
            let chain = parse_certificates(
                "server.redis.tls.cert",
                &read("server.redis.tls.cert", &tls.cert)?,
            )?;
            let key =
                PrivateKeyDer::from_pem_slice(&read("server.redis.tls.key", &tls.key)?).map_err(|e| {
                    config_error(format!(
                        "server.redis.tls.key {:?}: no private key ({e})",
                        tls.key
                    ))
                })?;
            Ok(Some((chain, key)))
        }
        _ => Err(config_error(
            "server.redis.tls.cert and server.redis.tls.key must be given together",
        )),
    }
}

fn read(setting: &str, path: &str) -> Result<Vec<u8>, StoreError> {
    fs::read(path).map_err(|e| config_error(format!("{setting} {path:?}: {e}")))
}

fn parse_certificates(setting: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| config_error(format!("{setting}: {e}")))?;
    if certs.is_empty() {
        return Err(config_error(format!("{setting}: no PEM certificate found")));
    }
    Ok(certs)
}

fn config_error(message: impl Into<String>) -> StoreError {
    StoreError::Config(message.into())
}

/// `skip_verify`: any certificate for any name is accepted, as Go's `InsecureSkipVerify` does;
/// the handshake signatures are still checked, so the peer must hold the certificate's key.
#[derive(Debug)]
struct AcceptAnyServerCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AcceptAnyServerCertificate {
    fn new(provider: &CryptoProvider) -> Self {
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

    fn tls(min: &str) -> RedisTls {
        RedisTls {
            enabled: true,
            skip_verify: true,
            min_tls_version: min.into(),
            ..RedisTls::default()
        }
    }

    #[test]
    fn min_tls_version_selects_the_offered_versions() {
        assert_eq!(protocol_versions("tls1.2").unwrap().len(), 2);
        assert_eq!(protocol_versions("").unwrap().len(), 2);
        assert_eq!(protocol_versions("tls1.3").unwrap(), [&rustls::version::TLS13]);
        assert!(matches!(protocol_versions("tls1.1"), Err(StoreError::Config(_))));
    }

    #[test]
    fn cluster_mode_refuses_a_tls13_minimum_instead_of_ignoring_it() {
        assert!(cluster_tls(&tls("tls1.2")).is_ok());
        let Err(StoreError::Config(message)) = cluster_tls(&tls("tls1.3")) else {
            panic!("accepted tls1.3")
        };
        assert!(message.contains("min_tls_version"), "{message}");
    }

    #[test]
    fn missing_tls_files_are_configuration_errors() {
        let mut t = tls("tls1.2");
        t.skip_verify = false;
        t.ca_file = "/nonexistent/ca.pem".into();
        let Err(StoreError::Config(message)) = client_config(&t) else {
            panic!("missing CA accepted")
        };
        assert!(message.contains("ca_file"), "{message}");
        let mut t = tls("tls1.2");
        t.cert = "/nonexistent/cert.pem".into();
        assert!(
            matches!(client_config(&t), Err(StoreError::Config(_))),
            "cert without key"
        );
    }
}
