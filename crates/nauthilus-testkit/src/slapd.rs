//! One private OpenLDAP `slapd` on free loopback ports, loaded from an LDIF fixture.
//!
//! The testkit writes a `slapd.conf` (mdb database, suffix `dc=example,dc=test`, root DN
//! [`ADMIN_DN`] with password [`ADMIN_PASSWORD`]), loads the LDIF with `slapadd` and runs
//! `slapd -d 0` (foreground) under the same supervisor as Redis. With TLS (the default) it also
//! generates a CA, a server certificate for `127.0.0.1` and a client certificate, and listens on
//! `ldaps://` besides `ldap://` (StartTLS works on the plain port); the client certificate maps
//! to [`ADMIN_DN`] for SASL EXTERNAL. A Unix socket (`ldapi://`) is always there.

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::TestkitError;
use crate::binary::find_binary;
use crate::port::free_loopback_port;
use crate::supervisor::{Supervisor, process_alive};
use crate::tls::{CLIENT_CERT_CN, TestCerts};
use crate::wait::POLL_INTERVAL;

/// The suffix of the fixture directory.
pub const SUFFIX: &str = "dc=example,dc=test";
/// The root DN, allowed to read everything (including `userPassword`).
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=test";
/// The root DN's password.
pub const ADMIN_PASSWORD: &str = "admin-secret";
/// The default fixture: `ou=people` with alice, bob and a user whose uid holds `*()\`.
pub const DEFAULT_LDIF: &str = include_str!("../fixtures/directory.ldif");

const SERVICE: &str = "slapd";
const START_ATTEMPTS: usize = 5;
const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
const PROBE_TIMEOUT: Duration = Duration::from_millis(250);
const LOG_TAIL_LINES: usize = 40;
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
        let program = find_binary("slapd")?;
        let slapadd = find_binary("slapadd")?;
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            let port = free_loopback_port(false)?;
            let tls_port = if self.tls {
                Some(free_loopback_port(false)?)
            } else {
                None
            };
            match self.start_on(&program, &slapadd, port, tls_port) {
                Err(err @ TestkitError::PortTaken { .. }) => last = Some(err),
                other => return other,
            }
        }
        Err(TestkitError::NoFreePort {
            service: SERVICE,
            attempts: START_ATTEMPTS,
            last: last.map(|err| err.to_string()).unwrap_or_default(),
        })
    }

    fn start_on(
        &self,
        program: &Path,
        slapadd: &Path,
        port: u16,
        tls_port: Option<u16>,
    ) -> Result<Slapd, TestkitError> {
        let dir = tempfile::Builder::new()
            .prefix("nauthilus-testkit-slapd-")
            .tempdir()
            .map_err(|err| TestkitError::io("creating a temporary directory", err))?
            .keep();
        match self.prepare(&dir, slapadd) {
            Ok(certs) => {
                let urls = listen_urls(port, tls_port, &dir);
                let args = [
                    "-d".into(),
                    "0".into(),
                    "-f".into(),
                    dir.join("slapd.conf").into_os_string(),
                    "-h".into(),
                    urls.into(),
                ];
                let supervisor = Supervisor::spawn(SERVICE, addr_string(port), &dir, program, &args)?;
                let pid = supervisor.pid();
                let server = Slapd {
                    port,
                    tls_port,
                    dir,
                    certs,
                    startup_timeout: self.startup_timeout,
                    supervisor: Mutex::new(supervisor),
                };
                if let Some(pid) = pid {
                    server.wait_ready(pid)?;
                }
                Ok(server)
            }
            Err(err) => {
                let _ = fs::remove_dir_all(&dir);
                Err(err)
            }
        }
    }

    /// Writes certificates, slapd.conf and the database (slapadd).
    fn prepare(&self, dir: &Path, slapadd: &Path) -> Result<Option<TestCerts>, TestkitError> {
        let certs = if self.tls {
            Some(TestCerts::generate(dir)?)
        } else {
            None
        };
        let db = dir.join("db");
        fs::create_dir(&db).map_err(|err| TestkitError::io("creating the slapd database directory", err))?;
        let conf = dir.join("slapd.conf");
        fs::write(&conf, config_text(dir, certs.as_ref()))
            .map_err(|err| TestkitError::io(format!("writing {}", conf.display()), err))?;
        let ldif = dir.join("fixture.ldif");
        fs::write(&ldif, &self.ldif)
            .map_err(|err| TestkitError::io(format!("writing {}", ldif.display()), err))?;
        let output = Command::new(slapadd)
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

/// A private slapd on `127.0.0.1:<free port>` (and an `ldaps://` port with TLS).
///
/// Dropping it kills the process and deletes its directory; kept in a static it is never
/// dropped and the supervisor removes it when the test process exits.
#[derive(Debug)]
pub struct Slapd {
    port: u16,
    tls_port: Option<u16>,
    dir: PathBuf,
    certs: Option<TestCerts>,
    startup_timeout: Duration,
    supervisor: Mutex<Supervisor>,
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
        self.port
    }

    /// `ldap://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("ldap://{}", addr_string(self.port))
    }

    /// `ldaps://127.0.0.1:<tls port>`, when started with TLS.
    pub fn ldaps_url(&self) -> Option<String> {
        self.tls_port.map(|port| format!("ldaps://{}", addr_string(port)))
    }

    /// `ldapi://<percent-encoded socket path>`.
    pub fn ldapi_url(&self) -> String {
        ldapi_url(&self.dir)
    }

    /// The generated certificates, when started with TLS.
    pub fn certs(&self) -> Option<&TestCerts> {
        self.certs.as_ref()
    }

    /// The server's private directory (slapd.conf, database, certificates, `stderr.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Pid of the slapd process, `None` while stopped.
    pub fn pid(&self) -> Option<u32> {
        self.lock().pid()
    }

    /// Kills slapd (SIGKILL, like a crash) and waits until it is gone; no-op when stopped.
    pub fn stop(&self) -> Result<(), TestkitError> {
        self.lock().stop()
    }

    /// Starts slapd again on the same ports with the same database and waits until it answers.
    pub fn start_again(&self) -> Result<(), TestkitError> {
        let mut supervisor = self.lock();
        let pid = supervisor.start()?;
        let ready = self.wait_ready(pid);
        if ready.is_err() {
            let _ = supervisor.stop();
        }
        ready
    }

    /// Freezes slapd (SIGSTOP): connections are accepted by the kernel but never answered, like
    /// a hung server. [`resume`](Self::resume) undoes it.
    pub fn pause(&self) -> Result<(), TestkitError> {
        self.signal("-STOP")
    }

    /// Lets a paused slapd run again (SIGCONT).
    pub fn resume(&self) -> Result<(), TestkitError> {
        self.signal("-CONT")
    }

    /// The last lines of slapd's output and of the supervisor log.
    pub fn log_tail(&self) -> String {
        log_tail(&self.dir)
    }

    fn signal(&self, signal: &str) -> Result<(), TestkitError> {
        let Some(pid) = self.pid() else {
            return Err(TestkitError::InvalidSetup("slapd is not running".to_owned()));
        };
        let status = Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .map_err(|err| TestkitError::io(format!("kill {signal} {pid}"), err))?;
        if status.success() {
            Ok(())
        } else {
            Err(TestkitError::InvalidSetup(format!(
                "kill {signal} {pid}: {status}"
            )))
        }
    }

    fn wait_ready(&self, pid: u32) -> Result<(), TestkitError> {
        let deadline = Instant::now() + self.startup_timeout;
        loop {
            if !process_alive(pid) {
                let log_tail = self.log_tail();
                return Err(if log_tail.contains("Address already in use") {
                    TestkitError::PortTaken {
                        service: SERVICE,
                        addr: addr_string(self.port),
                        log_tail,
                    }
                } else {
                    TestkitError::Exited {
                        service: SERVICE,
                        addr: addr_string(self.port),
                        log_tail,
                    }
                });
            }
            let ports = [Some(self.port), self.tls_port];
            let tcp_ready = ports.iter().flatten().all(|port| accepts(*port));
            // A bind answered by someone else's server on our port would pass the probe; slapd
            // exits when it cannot listen, so it must still be alive after the probe.
            if tcp_ready && answers_bind(self.port) && process_alive(pid) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(TestkitError::StartTimeout {
                    service: SERVICE,
                    addr: addr_string(self.port),
                    timeout: self.startup_timeout,
                    log_tail: self.log_tail(),
                });
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Supervisor> {
        self.supervisor.lock().unwrap_or_else(PoisonError::into_inner)
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

/// The `-h` argument: plain, ldaps (with TLS) and the Unix socket.
fn listen_urls(port: u16, tls_port: Option<u16>, dir: &Path) -> String {
    let mut urls = vec![format!("ldap://{}/", addr_string(port))];
    if let Some(tls_port) = tls_port {
        urls.push(format!("ldaps://{}/", addr_string(tls_port)));
    }
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

fn addr_string(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// Quotes a slapd.conf argument.
fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

fn log_tail(dir: &Path) -> String {
    let mut tail = String::new();
    for name in ["stderr.log", "supervisor.log"] {
        if let Ok(bytes) = fs::read(dir.join(name)) {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            tail.push_str(&format!("--- {name} ---\n"));
            tail.push_str(&lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n"));
            tail.push('\n');
        }
    }
    tail
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
}
