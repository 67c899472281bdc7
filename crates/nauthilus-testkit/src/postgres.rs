//! One private PostgreSQL server on a free loopback port.
//!
//! `initdb` creates a cluster in the instance's temporary directory (superuser `postgres`,
//! `trust` authentication, UTF-8, no fsync), then `postgres` runs in the foreground on
//! `127.0.0.1:<free port>` with its Unix socket in the same directory. PostgreSQL refuses to run
//! as root: when the tests run as root, the directory is handed to the `postgres` account (the
//! Debian package creates it) and both programs run as that account through `setpriv`.
//! Programs are looked up on PATH, then in the newest `/usr/lib/postgresql/<version>/bin`.

use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::TestkitError;
use crate::binary::find_binary;
use crate::process::{ManagedProcess, Probe, Readiness, Service};
use crate::tls::{self, CLIENT_CERT_CN, TestCerts};

/// The superuser tests connect as (no password: `trust` on loopback).
pub const POSTGRES_USER: &str = "postgres";

const SERVICE: &str = "postgres";
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts of a restart after a kill: backends of the killed server may hold its shared
/// memory for a moment, and the new server refuses to start until they are gone.
const RESTART_ATTEMPTS: usize = 20;

/// A PostgreSQL program: on PATH, else in the newest Debian version directory.
fn pg_binary(name: &'static str) -> Result<PathBuf, TestkitError> {
    if let Ok(path) = find_binary(name) {
        return Ok(path);
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin").join(name)))
        })
        .filter(|(_, p)| p.is_file())
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, p)| p)
        .ok_or(TestkitError::BinaryNotFound {
            binary: name,
            package: "postgresql",
        })
}

/// True when the effective user id is 0 (from /proc/self/status).
pub(crate) fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// `(uid, gid)` of the account `name`, from /etc/passwd.
pub(crate) fn account_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        let _password = fields.next()?;
        Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
    })
}

/// Hands `dir` (recursively) to `ids`.
fn chown_tree(dir: &Path, ids: (u32, u32)) -> Result<(), TestkitError> {
    std::os::unix::fs::chown(dir, Some(ids.0), Some(ids.1))
        .map_err(|err| TestkitError::io(format!("chown {}", dir.display()), err))?;
    if dir.is_dir() {
        for entry in fs::read_dir(dir).map_err(|err| TestkitError::io("reading a directory", err))? {
            let entry = entry.map_err(|err| TestkitError::io("reading a directory", err))?;
            chown_tree(&entry.path(), ids)?;
        }
    }
    Ok(())
}

/// Options for a [`Postgres`]; `Postgres::builder().start()`.
#[derive(Debug, Clone, Default)]
pub struct PostgresBuilder {
    tls: bool,
}

/// The argv prefix that runs a program as the `postgres` account when we are root.
fn as_postgres(dir: &Path, program: PathBuf) -> Result<(PathBuf, Vec<OsString>), TestkitError> {
    if !running_as_root() {
        return Ok((program, Vec::new()));
    }
    let (uid, gid) = account_ids(POSTGRES_USER).ok_or_else(|| {
        TestkitError::InvalidSetup(
            "running as root, but there is no `postgres` account to run PostgreSQL as (apt-get install postgresql)".into(),
        )
    })?;
    chown_tree(dir, (uid, gid))?;
    let setpriv = find_binary("setpriv")?;
    Ok((
        setpriv,
        vec![
            format!("--reuid={uid}").into(),
            format!("--regid={gid}").into(),
            "--clear-groups".into(),
            program.into_os_string(),
        ],
    ))
}

impl PostgresBuilder {
    /// With `tls`, the server also speaks TLS (`ssl=on`) with a certificate of a CA generated
    /// at start ([`Postgres::certs`]); plain connections stay allowed. The role
    /// [`CLIENT_CERT_CN`] logs in only over TLS with the generated client certificate
    /// (`hostssl ... cert`).
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// Creates the cluster and starts the server.
    pub fn start(&self) -> Result<Postgres, TestkitError> {
        let started = ManagedProcess::start(self)?;
        Ok(Postgres {
            process: started.process,
            certs: started.extra,
        })
    }
}

/// What PostgreSQL needs besides the certificates: the private key readable by its owner only
/// (it refuses a key others can read), and the `hostssl ... cert` line for [`CLIENT_CERT_CN`]
/// ahead of initdb's `trust` lines.
fn prepare_tls(certs: &TestCerts, data: &Path) -> Result<(), TestkitError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&certs.server_key, fs::Permissions::from_mode(0o600))
        .map_err(|err| TestkitError::io("chmod of the server key", err))?;
    let hba = data.join("pg_hba.conf");
    let rules = fs::read_to_string(&hba).map_err(|err| TestkitError::io("reading pg_hba.conf", err))?;
    fs::write(
        &hba,
        format!("hostssl all {CLIENT_CERT_CN} 127.0.0.1/32 cert\nhostnossl all {CLIENT_CERT_CN} 127.0.0.1/32 reject\n{rules}"),
    )
    .map_err(|err| TestkitError::io("writing pg_hba.conf", err))
}

impl Service for PostgresBuilder {
    type Probe = PostgresProbe;
    type Extra = Option<TestCerts>;

    fn name(&self) -> &'static str {
        SERVICE
    }

    fn dir_prefix(&self) -> &'static str {
        "nauthilus-testkit-postgres-"
    }

    fn program(&self) -> Result<PathBuf, TestkitError> {
        // As root the program is setpriv; `prepare` puts the real one into the arguments.
        if running_as_root() {
            find_binary("setpriv")
        } else {
            pg_binary("postgres")
        }
    }

    fn ready_within(&self) -> Duration {
        STARTUP_TIMEOUT
    }

    fn prepare(&self, dir: &Path, ports: &[u16]) -> Result<(Vec<OsString>, Option<TestCerts>), TestkitError> {
        let port = ports.first().copied().unwrap_or_default();
        let data = dir.join("data");
        let (initdb, mut init_args) = as_postgres(dir, pg_binary("initdb")?)?;
        init_args.extend([
            "-D".into(),
            data.clone().into_os_string(),
            "-U".into(),
            POSTGRES_USER.into(),
            "-A".into(),
            "trust".into(),
            "-E".into(),
            "UTF8".into(),
            "--no-locale".into(),
            "--no-sync".into(),
        ]);
        let output = Command::new(&initdb)
            .args(&init_args)
            .current_dir(dir)
            .output()
            .map_err(|err| TestkitError::io("running initdb", err))?;
        if !output.status.success() {
            return Err(TestkitError::InvalidSetup(format!(
                "initdb failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        let (certs, mut tls_settings) = tls::server_tls(
            self.tls,
            dir,
            ["ssl_cert_file", "ssl_key_file", "ssl_ca_file"],
            |certs| prepare_tls(certs, &data),
        )?;
        if certs.is_some() {
            tls_settings.insert(0, "ssl=on".to_owned());
        }
        // Hands the directory (certificates included) to the postgres account when root.
        let (_, mut args) = as_postgres(dir, pg_binary("postgres")?)?;
        args.extend(
            [
                "-D".into(),
                data.into_os_string(),
                "-p".into(),
                port.to_string().into(),
                "-k".into(),
                dir.as_os_str().to_owned(),
            ]
            .into_iter()
            .chain(
                [
                    "listen_addresses=127.0.0.1",
                    "fsync=off",
                    "full_page_writes=off",
                    "max_connections=200",
                    "shared_buffers=16MB",
                    "log_min_messages=warning",
                ]
                .into_iter()
                .map(str::to_owned)
                .chain(tls_settings)
                .flat_map(|setting| [OsString::from("-c"), OsString::from(setting)]),
            ),
        );
        Ok((args, certs))
    }

    fn probe(&self, _dir: &Path, ports: &[u16]) -> PostgresProbe {
        PostgresProbe {
            port: ports.first().copied().unwrap_or_default(),
        }
    }
}

/// PostgreSQL is ready when a startup message as [`POSTGRES_USER`] is answered with
/// "authentication OK" (while starting, it answers with an error).
#[derive(Debug)]
pub(crate) struct PostgresProbe {
    port: u16,
}

impl Probe for PostgresProbe {
    fn probe(&self, _pid: u32) -> Readiness {
        match startup_answer(self.port) {
            Some(b'R') => Readiness::Ready,
            _ => Readiness::NotYet,
        }
    }
}

/// Sends a protocol 3.0 startup message and returns the first byte of the answer.
fn startup_answer(port: u16) -> Option<u8> {
    let mut stream =
        TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), PROBE_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT)).ok()?;
    let mut body = Vec::new();
    body.extend_from_slice(&196_608_u32.to_be_bytes());
    for part in ["user", POSTGRES_USER, "database", "postgres"] {
        body.extend_from_slice(part.as_bytes());
        body.push(0);
    }
    body.push(0);
    let len = u32::try_from(body.len() + 4).ok()?;
    let mut message = len.to_be_bytes().to_vec();
    message.extend_from_slice(&body);
    stream.write_all(&message).ok()?;
    let mut head = [0_u8; 9];
    stream.read_exact(&mut head).ok()?;
    // 'R' with code 0 = AuthenticationOk; then say goodbye.
    let ok = head[0] == b'R' && head[5..9] == [0, 0, 0, 0];
    let _ = stream.write_all(&[b'X', 0, 0, 0, 4]);
    ok.then_some(b'R').or(Some(head[0]))
}

/// A private PostgreSQL server on `127.0.0.1:<free port>`, superuser [`POSTGRES_USER`] without
/// a password. Dropping it kills the server and deletes its directory.
#[derive(Debug)]
pub struct Postgres {
    process: ManagedProcess<PostgresProbe>,
    certs: Option<TestCerts>,
}

impl Postgres {
    /// Options for a server to start.
    pub fn builder() -> PostgresBuilder {
        PostgresBuilder::default()
    }

    /// Creates a cluster and starts a server.
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

    /// `postgres://postgres@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{POSTGRES_USER}@{}/{database}", self.process.addr())
    }

    /// The PostgreSQL server's private directory (config, data, logs).
    pub fn dir(&self) -> &Path {
        self.process.dir()
    }

    /// Pid of the server process (or of setpriv's successor, the same pid), `None` while stopped.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Kills the server (SIGKILL, like a crash) and waits until it is gone; no-op when stopped.
    pub fn stop(&self) -> Result<(), TestkitError> {
        self.process.stop()
    }

    /// Starts the server again on the same port with the same data and waits until it is
    /// ready; retried while backends of a killed server still hold its shared memory.
    pub fn start_again(&self) -> Result<(), TestkitError> {
        let mut last = None;
        for _ in 0..RESTART_ATTEMPTS {
            match self.process.start_again() {
                Ok(()) => return Ok(()),
                Err(err) => last = Some(err),
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Err(last.unwrap_or_else(|| TestkitError::InvalidSetup("postgres did not restart".into())))
    }

    /// The last lines of the server's log, its stderr and the supervisor log.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }

    /// Freezes the server (SIGSTOP on the postmaster; its backends keep running).
    pub fn pause(&self) -> Result<(), TestkitError> {
        self.process.signal("-STOP")
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&self) -> Result<(), TestkitError> {
        self.process.signal("-CONT")
    }
}
