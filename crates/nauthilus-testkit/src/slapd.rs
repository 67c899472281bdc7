//! One private OpenLDAP `slapd` on free loopback ports, loaded from an LDIF fixture.
//!
//! The testkit writes a `slapd.conf` (mdb database, suffix `dc=example,dc=test`, root DN
//! [`ADMIN_DN`] with password [`ADMIN_PASSWORD`]), loads the LDIF with `slapadd` and runs
//! `slapd -d 0` (foreground) under the same supervisor as Redis; the schema of the MFA
//! credential store (`deploy/ldap/nauthilus-mfa.schema`) is loaded besides the standard ones.
//! With TLS (the default) it also generates a CA, a server certificate for `127.0.0.1` and a client certificate, and listens on
//! `ldaps://` besides `ldap://` (StartTLS works on the plain port); the client certificate maps
//! to [`ADMIN_DN`] for SASL EXTERNAL. A Unix socket (`ldapi://`) is always there.

use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::TestkitError;
use crate::binary::find_binary;
use crate::port::free_loopback_port;
use crate::process::{
    DEFAULT_STARTUP_TIMEOUT, ManagedProcess, Probe, Readiness, Service, addr_string, lifecycle_methods,
};
use crate::tls::{CLIENT_CERT_CN, TestCerts};

/// The suffix of the fixture directory.
pub const SUFFIX: &str = "dc=example,dc=test";
/// The root DN, allowed to read everything (including `userPassword`).
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=test";
/// The root DN's password.
pub const ADMIN_PASSWORD: &str = "admin-secret";
/// The default fixture: `ou=people` with alice, bob and a user whose uid holds `*()\`.
pub const DEFAULT_LDIF: &str = include_str!("../fixtures/directory.ldif");
/// The schema of the attributes the MFA credential store writes (`deploy/ldap`), loaded too.
pub const MFA_SCHEMA: &str = include_str!("../../../deploy/ldap/nauthilus-mfa.schema");

const SERVICE: &str = "slapd";
const PROBE_TIMEOUT: Duration = Duration::from_millis(250);
/// An anonymous simple bind, message id 1 (BER): what the readiness probe sends.
const ANONYMOUS_BIND: [u8; 14] = [
    0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
];

/// Options for a [`Slapd`]; `Slapd::builder().tls(false).start()`.
#[derive(Debug, Clone)]
pub struct SlapdBuilder {
    ldif: String,
    tls: bool,
    startup_timeout: Duration,
}

impl Default for SlapdBuilder {
    fn default() -> Self {
        Self {
            ldif: DEFAULT_LDIF.to_owned(),
            tls: true,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
        }
    }
}

impl SlapdBuilder {
    /// Loads this LDIF instead of [`DEFAULT_LDIF`] (it must create the suffix entry).
    pub fn ldif(mut self, ldif: impl Into<String>) -> Self {
        self.ldif = ldif.into();
        self
    }

    /// With TLS (default): certificates, StartTLS and an `ldaps://` port.
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// How long slapd may take to answer a bind (default 10 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Loads the fixture and starts slapd on free loopback ports.
    pub fn start(&self) -> Result<Slapd, TestkitError> {
        let started = ManagedProcess::start(self)?;
        Ok(Slapd {
            process: started.process,
            certs: started.extra,
        })
    }

    /// Writes certificates, slapd.conf and the database (slapadd).
    fn load(&self, dir: &Path) -> Result<Option<TestCerts>, TestkitError> {
        let slapadd = find_binary("slapadd")?;
        let certs = if self.tls {
            Some(TestCerts::generate(dir)?)
        } else {
            None
        };
        let db = dir.join("db");
        fs::create_dir(&db).map_err(|err| TestkitError::io("creating the slapd database directory", err))?;
        let schema = dir.join("nauthilus-mfa.schema");
        fs::write(&schema, MFA_SCHEMA)
            .map_err(|err| TestkitError::io(format!("writing {}", schema.display()), err))?;
        let conf = dir.join("slapd.conf");
        fs::write(&conf, config_text(dir, certs.as_ref()))
            .map_err(|err| TestkitError::io(format!("writing {}", conf.display()), err))?;
        let ldif = dir.join("fixture.ldif");
        fs::write(&ldif, &self.ldif)
            .map_err(|err| TestkitError::io(format!("writing {}", ldif.display()), err))?;
        let output = Command::new(&slapadd)
            .arg("-q")
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&ldif)
            .output()
            .map_err(|err| TestkitError::io("running slapadd", err))?;
        if !output.status.success() {
            return Err(TestkitError::InvalidSetup(format!(
                "slapadd failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(certs)
    }
}

impl Service for SlapdBuilder {
    type Probe = SlapdProbe;
    type Extra = Option<TestCerts>;

    fn name(&self) -> &'static str {
        SERVICE
    }

    fn dir_prefix(&self) -> &'static str {
        "nauthilus-testkit-slapd-"
    }

    fn program(&self) -> Result<PathBuf, TestkitError> {
        find_binary("slapd")
    }

    fn ready_within(&self) -> Duration {
        self.startup_timeout
    }

    /// The plain port, then (with TLS) the ldaps port.
    fn pick_ports(&self) -> Result<Vec<u16>, TestkitError> {
        let count = if self.tls { 2 } else { 1 };
        (0..count).map(|_| free_loopback_port(false)).collect()
    }

    fn prepare(&self, dir: &Path, ports: &[u16]) -> Result<(Vec<OsString>, Option<TestCerts>), TestkitError> {
        let certs = self.load(dir)?;
        let args = vec![
            "-d".into(),
            "0".into(),
            "-f".into(),
            dir.join("slapd.conf").into_os_string(),
            "-h".into(),
            listen_urls(ports, dir).into(),
        ];
        Ok((args, certs))
    }

    fn probe(&self, _dir: &Path, ports: &[u16]) -> SlapdProbe {
        SlapdProbe {
            ports: ports.to_vec(),
        }
    }
}

/// slapd is ready when every port accepts and the plain one answers an anonymous bind.
#[derive(Debug)]
pub(crate) struct SlapdProbe {
    ports: Vec<u16>,
}

impl Probe for SlapdProbe {
    fn probe(&self, _pid: u32) -> Readiness {
        let first = self.ports.first().copied().unwrap_or_default();
        if self.ports.iter().all(|port| accepts(*port)) && answers_bind(first) {
            Readiness::Ready
        } else {
            Readiness::NotYet
        }
    }
}

/// A private slapd on `127.0.0.1:<free port>` (and an `ldaps://` port with TLS).
///
/// Dropping it kills the process and deletes its directory; kept in a static it is never
/// dropped and the supervisor removes it when the test process exits.
#[derive(Debug)]
pub struct Slapd {
    process: ManagedProcess<SlapdProbe>,
    certs: Option<TestCerts>,
}

impl Slapd {
    /// Options for a server to start.
    pub fn builder() -> SlapdBuilder {
        SlapdBuilder::default()
    }

    /// Starts a server with the default fixture and TLS.
    pub fn start() -> Result<Self, TestkitError> {
        Self::builder().start()
    }

    /// The plain LDAP port (StartTLS is offered on it with TLS).
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// `ldap://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("ldap://{}", self.process.addr())
    }

    /// `ldaps://127.0.0.1:<tls port>`, when started with TLS.
    pub fn ldaps_url(&self) -> Option<String> {
        self.process
            .ports()
            .get(1)
            .map(|port| format!("ldaps://{}", addr_string(*port)))
    }

    /// `ldapi://<percent-encoded socket path>`.
    pub fn ldapi_url(&self) -> String {
        ldapi_url(self.dir())
    }

    /// The generated certificates, when started with TLS.
    pub fn certs(&self) -> Option<&TestCerts> {
        self.certs.as_ref()
    }

    lifecycle_methods!("slapd");

    /// Freezes slapd (SIGSTOP): connections are accepted by the kernel but never answered, like
    /// a hung server. Returns once every slapd thread is stopped, so no request sent afterwards
    /// is answered. [`resume`](Self::resume) undoes it.
    pub fn pause(&self) -> Result<(), TestkitError> {
        self.process.freeze()
    }

    /// Lets a paused slapd run again (SIGCONT).
    pub fn resume(&self) -> Result<(), TestkitError> {
        self.process.signal("-CONT")
    }
}

/// The slapd.conf for a server whose private directory is `dir`.
fn config_text(dir: &Path, certs: Option<&TestCerts>) -> String {
    let path = |name: &str| quote(&dir.join(name).to_string_lossy());
    let mut lines = vec![
        "include /etc/ldap/schema/core.schema".to_owned(),
        "include /etc/ldap/schema/cosine.schema".to_owned(),
        "include /etc/ldap/schema/inetorgperson.schema".to_owned(),
        "include /etc/ldap/schema/nis.schema".to_owned(),
        format!("include {}", path("nauthilus-mfa.schema")),
        "modulepath /usr/lib/ldap".to_owned(),
        "moduleload back_mdb".to_owned(),
        format!("pidfile {}", path("slapd.pid")),
        format!("argsfile {}", path("slapd.args")),
    ];
    if let Some(certs) = certs {
        lines.extend([
            format!("TLSCACertificateFile {}", quote(&certs.ca_cert.to_string_lossy())),
            format!(
                "TLSCertificateFile {}",
                quote(&certs.server_cert.to_string_lossy())
            ),
            format!(
                "TLSCertificateKeyFile {}",
                quote(&certs.server_key.to_string_lossy())
            ),
            // Ask for a client certificate, accept connections without one.
            "TLSVerifyClient allow".to_owned(),
            format!("authz-regexp \"^cn={CLIENT_CERT_CN}$\" \"{ADMIN_DN}\""),
        ]);
    }
    lines.extend([
        "database mdb".to_owned(),
        "maxsize 104857600".to_owned(),
        format!("suffix \"{SUFFIX}\""),
        format!("rootdn \"{ADMIN_DN}\""),
        format!("rootpw {ADMIN_PASSWORD}"),
        format!("directory {}", path("db")),
        "index objectClass eq".to_owned(),
        "index uid,mail eq".to_owned(),
        "access to attrs=userPassword by anonymous auth by self read by * none".to_owned(),
        "access to * by * read".to_owned(),
    ]);
    lines.join("\n") + "\n"
}

/// The `-h` argument: plain, ldaps (with TLS: the second port) and the Unix socket.
fn listen_urls(ports: &[u16], dir: &Path) -> String {
    let schemes = ["ldap", "ldaps"];
    let mut urls: Vec<String> = schemes
        .iter()
        .zip(ports)
        .map(|(scheme, port)| format!("{scheme}://{}/", addr_string(*port)))
        .collect();
    urls.push(format!("{}/", ldapi_url(dir)));
    urls.join(" ")
}

fn ldapi_url(dir: &Path) -> String {
    let path = dir.join("ldapi").to_string_lossy().into_owned();
    let encoded: String = path
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    format!("ldapi://{encoded}")
}

fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), PROBE_TIMEOUT).is_ok()
}

/// True when the plain port answers an anonymous bind with `success`.
fn answers_bind(port: u16) -> bool {
    let probe = || -> std::io::Result<bool> {
        let mut stream =
            TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), PROBE_TIMEOUT)?;
        stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
        stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
        stream.write_all(&ANONYMOUS_BIND)?;
        let mut reply = [0u8; 64];
        let n = stream.read(&mut reply)?;
        // BindResponse (0x61) with resultCode ENUMERATED 0: `0a 01 00`.
        let reply = &reply[..n];
        Ok(reply.contains(&0x61) && reply.windows(3).any(|w| w == [0x0a, 0x01, 0x00]))
    };
    probe().unwrap_or(false)
}

/// Quotes a slapd.conf argument.
fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldapi_urls_percent_encode_the_socket_path() {
        assert_eq!(ldapi_url(Path::new("/tmp/a b")), "ldapi://%2Ftmp%2Fa%20b%2Fldapi");
    }

    #[test]
    fn config_uses_mdb_and_the_private_directory() {
        let text = config_text(Path::new("/tmp/x"), None);
        assert!(text.contains("moduleload back_mdb"), "{text}");
        assert!(text.contains("directory \"/tmp/x/db\""), "{text}");
        assert!(!text.contains("TLS"), "{text}");
    }

    #[test]
    fn slapd_serves_the_fixture_and_survives_a_restart() {
        let slapd = Slapd::start().unwrap();
        let search = |url: &str| {
            Command::new("ldapsearch")
                .args(["-x", "-LLL", "-H", url, "-b", SUFFIX, "(uid=alice)", "mail"])
                .env("LDAPTLS_CACERT", &slapd.certs().unwrap().ca_cert)
                .output()
                .unwrap()
        };
        let out = search(&slapd.url());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("mail: alice@example.test"),
            "{out:?}"
        );
        let out = search(&slapd.ldaps_url().unwrap());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("mail: alice@example.test"),
            "{out:?}\n{}",
            slapd.log_tail()
        );

        slapd.stop().unwrap();
        assert!(!accepts(slapd.port()));
        slapd.start_again().unwrap();
        let out = search(&slapd.url());
        assert!(String::from_utf8_lossy(&out.stdout).contains("alice"), "{out:?}");
    }

    /// `pause` returns only once slapd cannot answer: every thread is stopped at that moment
    /// (a bare `kill -STOP` returns before; "hung server" tests got answers under load). After
    /// `resume` it answers again.
    #[test]
    fn pause_returns_with_every_slapd_thread_stopped() {
        let slapd = Slapd::builder().tls(false).start().unwrap();
        let pid = slapd.pid().unwrap();
        for _ in 0..5 {
            slapd.pause().unwrap();
            assert!(
                crate::process::all_threads_stopped(pid).unwrap(),
                "a slapd thread still runs after pause"
            );
            slapd.resume().unwrap();
        }
        let out = Command::new("ldapsearch")
            .args([
                "-x",
                "-LLL",
                "-H",
                &slapd.url(),
                "-b",
                SUFFIX,
                "(uid=alice)",
                "mail",
            ])
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("alice"), "{out:?}");
    }
}
