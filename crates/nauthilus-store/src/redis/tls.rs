//! TLS settings (`server.redis.tls`) turned into client configurations once, at connect time:
//! certificate files are read and checked before the first connection, never per reconnect.
//!
//! Standalone and Sentinel connections use our own rustls config (every knob honoured, the ring
//! provider passed explicitly). Cluster connections are opened by the redis crate, which builds
//! its own rustls config from PEM bytes and cannot raise the minimum TLS version.

use std::sync::Arc;

use nauthilus_config::RedisTls;
use nauthilus_tls::{AcceptAnyServerCertificate, TlsFileError};
use redis::{ClientTlsConfig, TlsCertificates, TlsMode};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};

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
    let provider = nauthilus_tls::provider();
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
        nauthilus_tls::read_certificates(&tls.ca_file).map_err(file_error("server.redis.tls.ca_file"))?;
        Some(read("server.redis.tls.ca_file", &tls.ca_file)?)
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

/// `ca_file` if set, else the system's roots (which must not be empty: TLS is on).
fn root_store(tls: &RedisTls) -> Result<RootCertStore, StoreError> {
    nauthilus_tls::root_store(&tls.ca_file, true).map_err(|e| match e {
        TlsFileError::NoSystemRoots(_) => {
            config_error(format!("server.redis.tls: {e}; set server.redis.tls.ca_file"))
        }
        other => file_error("server.redis.tls.ca_file")(other),
    })
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The client certificate chain and key, if both are configured.
fn client_identity(tls: &RedisTls) -> Result<Option<Identity>, StoreError> {
    match (tls.cert.is_empty(), tls.key.is_empty()) {
        (true, true) => Ok(None),
        (false, false) => {
            let chain =
                nauthilus_tls::read_certificates(&tls.cert).map_err(file_error("server.redis.tls.cert"))?;
            let key =
                nauthilus_tls::read_private_key(&tls.key).map_err(file_error("server.redis.tls.key"))?;
            Ok(Some((chain, key)))
        }
        _ => Err(config_error(
            "server.redis.tls.cert and server.redis.tls.key must be given together",
        )),
    }
}

fn read(setting: &'static str, path: &str) -> Result<Vec<u8>, StoreError> {
    nauthilus_tls::read_pem(path).map_err(file_error(setting))
}

/// A TLS file problem as a configuration error naming the setting.
fn file_error(setting: &'static str) -> impl Fn(TlsFileError) -> StoreError {
    move |e| config_error(format!("{setting} {e}"))
}

fn config_error(message: impl Into<String>) -> StoreError {
    StoreError::Config(message.into())
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
