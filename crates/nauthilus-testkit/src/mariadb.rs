//! One private MariaDB server on a free loopback port.
//!
//! `mariadb-install-db` creates the system tables in the instance's temporary directory (root
//! authenticates by password, which is empty), then `mariadbd --no-defaults` runs in the
//! foreground on `127.0.0.1:<free port>` with its own socket, pid file and no binary log, so
//! neither the machine's my.cnf nor a system server on 3306 is involved. When the tests run as
//! root, the server runs as root too (`--user=root`).

use std::ffi::OsString;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::TestkitError;
use crate::binary::find_binary;
use crate::postgres::running_as_root;
use crate::process::{ManagedProcess, Probe, Readiness, Service, lifecycle_methods};
use crate::tls::{self, TestCerts};

/// The account tests connect as (no password).
pub const MARIADB_USER: &str = "root";

const SERVICE: &str = "mariadbd";
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Options for a [`MariaDb`]; `MariaDb::builder().start()`.
#[derive(Debug, Clone, Default)]
pub struct MariaDbBuilder {
    tls: bool,
}

impl MariaDbBuilder {
    /// With `tls`, the server also speaks TLS with a certificate of a CA generated at start
    /// ([`MariaDb::certs`]) and checks client certificates against that CA (accounts created
    /// `REQUIRE X509` need one); plain connections stay allowed.
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// Creates the system tables and starts the server.
    pub fn start(&self) -> Result<MariaDb, TestkitError> {
        let started = ManagedProcess::start(self)?;
        Ok(MariaDb {
            process: started.process,
            certs: started.extra,
        })
    }
}

fn user_args() -> Vec<OsString> {
    if running_as_root() {
        vec!["--user=root".into()]
    } else {
        Vec::new()
    }
}

impl Service for MariaDbBuilder {
    type Probe = MariaDbProbe;
    type Extra = Option<TestCerts>;

    fn name(&self) -> &'static str {
        SERVICE
    }

    fn dir_prefix(&self) -> &'static str {
        "nauthilus-testkit-mariadb-"
    }

    fn program(&self) -> Result<PathBuf, TestkitError> {
        find_binary("mariadbd")
    }

    fn ready_within(&self) -> Duration {
        STARTUP_TIMEOUT
    }

    fn log_file(&self) -> Option<&'static str> {
        Some("error.log")
    }

    fn prepare(&self, dir: &Path, ports: &[u16]) -> Result<(Vec<OsString>, Option<TestCerts>), TestkitError> {
        let port = ports.first().copied().unwrap_or_default();
        let data = dir.join("data");
        let install = find_binary("mariadb-install-db")?;
        let mut args: Vec<OsString> = vec![
            "--no-defaults".into(),
            format!("--datadir={}", data.display()).into(),
            "--auth-root-authentication-method=normal".into(),
            "--skip-test-db".into(),
        ];
        args.extend(user_args());
        let output = Command::new(&install)
            .args(&args)
            .current_dir(dir)
            .output()
            .map_err(|err| TestkitError::io("running mariadb-install-db", err))?;
        if !output.status.success() {
            return Err(TestkitError::InvalidSetup(format!(
                "mariadb-install-db failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        let mut args: Vec<OsString> = vec![
            "--no-defaults".into(),
            format!("--datadir={}", data.display()).into(),
            format!("--socket={}", dir.join("mysqld.sock").display()).into(),
            format!("--pid-file={}", dir.join("mysqld.pid").display()).into(),
            format!("--log-error={}", dir.join("error.log").display()).into(),
            format!("--port={port}").into(),
            "--bind-address=127.0.0.1".into(),
            "--skip-log-bin".into(),
            "--innodb-buffer-pool-size=16M".into(),
            // Commits reach the OS at once (a killed server keeps them) but are not fsynced.
            "--innodb-flush-log-at-trx-commit=2".into(),
            "--max-connections=200".into(),
        ];
        args.extend(user_args());
        let (certs, tls_settings) =
            tls::server_tls(self.tls, dir, ["--ssl-cert", "--ssl-key", "--ssl-ca"], |_| Ok(()))?;
        args.extend(tls_settings.into_iter().map(OsString::from));
        Ok((args, certs))
    }

    fn probe(&self, _dir: &Path, ports: &[u16]) -> MariaDbProbe {
        MariaDbProbe {
            port: ports.first().copied().unwrap_or_default(),
        }
    }
}

/// MariaDB is ready when it greets a TCP client with a protocol-10 handshake.
#[derive(Debug)]
pub(crate) struct MariaDbProbe {
    port: u16,
}

impl Probe for MariaDbProbe {
    fn probe(&self, _pid: u32) -> Readiness {
        let Ok(mut stream) =
            TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)), PROBE_TIMEOUT)
        else {
            return Readiness::NotYet;
        };
        let _ = stream.set_read_timeout(Some(PROBE_TIMEOUT));
        // 3 bytes length, 1 byte sequence, then the protocol version (10).
        let mut head = [0_u8; 5];
        match stream.read_exact(&mut head) {
            Ok(()) if head[4] == 10 => Readiness::Ready,
            _ => Readiness::NotYet,
        }
    }
}

/// A private MariaDB server on `127.0.0.1:<free port>`, user [`MARIADB_USER`] without a
/// password. Dropping it kills the server and deletes its directory.
#[derive(Debug)]
pub struct MariaDb {
    process: ManagedProcess<MariaDbProbe>,
    certs: Option<TestCerts>,
}

impl MariaDb {
    /// Options for a server to start.
    pub fn builder() -> MariaDbBuilder {
        MariaDbBuilder::default()
    }

    /// Creates the system tables and starts a server.
    pub fn start() -> Result<Self, TestkitError> {
        Self::builder().start()
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// The CA, server and client certificates, when started with TLS.
    pub fn certs(&self) -> Option<&TestCerts> {
        self.certs.as_ref()
    }

    /// `mysql://root@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("mysql://{MARIADB_USER}@{}/{database}", self.process.addr())
    }

    lifecycle_methods!("MariaDB server");

    /// Freezes the server (SIGSTOP): connections are accepted by the kernel but never answered.
    pub fn pause(&self) -> Result<(), TestkitError> {
        self.process.signal("-STOP")
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&self) -> Result<(), TestkitError> {
        self.process.signal("-CONT")
    }
}
