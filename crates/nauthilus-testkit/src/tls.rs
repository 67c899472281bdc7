//! A throw-away certificate authority for TLS tests: a CA, a server certificate for
//! `127.0.0.1`/`localhost` and a client certificate, generated in process (rcgen) and written as
//! PEM files into a service's private directory.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use crate::TestkitError;

/// Subject common name of the client certificate (what SASL EXTERNAL sees as `cn=...`).
pub const CLIENT_CERT_CN: &str = "nauthilus-client";

/// PEM files of one generated CA, server and client certificate.
#[derive(Clone, Debug)]
pub struct TestCerts {
    /// The CA certificate clients trust.
    pub ca_cert: PathBuf,
    /// Server certificate (SANs `127.0.0.1`, `localhost`), signed by the CA.
    pub server_cert: PathBuf,
    /// Private key of the server certificate.
    pub server_key: PathBuf,
    /// Client certificate (`CN=nauthilus-client`), signed by the CA.
    pub client_cert: PathBuf,
    /// Private key of the client certificate.
    pub client_key: PathBuf,
}

impl TestCerts {
    /// Generates a fresh CA with a server and a client certificate and writes them into `dir`.
    pub fn generate(dir: &Path) -> Result<Self, TestkitError> {
        let certs = Self {
            ca_cert: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
        };
        let ca_key = KeyPair::generate().map_err(tls_error)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "nauthilus-testkit CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(tls_error)?;

        let leaf = |names: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().map_err(tls_error)?;
            let mut params = CertificateParams::new(names).map_err(tls_error)?;
            params.distinguished_name.push(DnType::CommonName, cn);
            params.extended_key_usages = vec![usage];
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ];
            let cert = params.signed_by(&key, &ca).map_err(tls_error)?;
            Ok::<_, TestkitError>((cert.pem(), key.serialize_pem()))
        };
        let (server_pem, server_key) = leaf(
            vec!["127.0.0.1".to_owned(), "localhost".to_owned()],
            "127.0.0.1",
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let (client_pem, client_key) = leaf(Vec::new(), CLIENT_CERT_CN, ExtendedKeyUsagePurpose::ClientAuth)?;

        for (path, text) in [
            (&certs.ca_cert, ca.pem()),
            (&certs.server_cert, server_pem),
            (&certs.server_key, server_key),
            (&certs.client_cert, client_pem),
            (&certs.client_key, client_key),
        ] {
            fs::write(path, text)
                .map_err(|err| TestkitError::io(format!("writing {}", path.display()), err))?;
        }
        Ok(certs)
    }

    /// A database server's settings pointing at the server certificate, its key and the CA,
    /// `<name>=<path>` under the server's own `names` for the three (MariaDB's `--ssl-cert`,
    /// `--ssl-key`, `--ssl-ca`; PostgreSQL's `ssl_cert_file`, `ssl_key_file`, `ssl_ca_file`).
    pub(crate) fn server_settings(&self, names: [&str; 3]) -> [String; 3] {
        let [cert, key, ca] = names;
        [
            format!("{cert}={}", self.server_cert.display()),
            format!("{key}={}", self.server_key.display()),
            format!("{ca}={}", self.ca_cert.display()),
        ]
    }
}

/// The TLS fixture of a database server started with `tls`: certificates generated into its
/// private `dir` and prepared by `prepare` (what the server needs besides them), and the
/// settings naming them under `names` (see [`TestCerts::server_settings`]); nothing without.
pub(crate) fn server_tls(
    tls: bool,
    dir: &Path,
    names: [&str; 3],
    prepare: impl FnOnce(&TestCerts) -> Result<(), TestkitError>,
) -> Result<(Option<TestCerts>, Vec<String>), TestkitError> {
    if !tls {
        return Ok((None, Vec::new()));
    }
    let certs = TestCerts::generate(dir)?;
    prepare(&certs)?;
    let settings = certs.server_settings(names).to_vec();
    Ok((Some(certs), settings))
}

fn tls_error(err: rcgen::Error) -> TestkitError {
    TestkitError::InvalidSetup(format!("generating test certificates: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_written_as_pem() {
        let dir = tempfile::tempdir().unwrap();
        let certs = TestCerts::generate(dir.path()).unwrap();
        let ca = fs::read_to_string(&certs.ca_cert).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
        let key = fs::read_to_string(&certs.server_key).unwrap();
        assert!(key.contains("PRIVATE KEY"), "{key}");
    }
}
