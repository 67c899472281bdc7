//! One private `redis-server` process (plain, cluster node or sentinel) on a free loopback port.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::TestkitError;
use crate::binary::find_binary;
use crate::port::free_loopback_port;
use crate::process::{
    DEFAULT_STARTUP_TIMEOUT, ManagedProcess, Probe, Readiness, Service, addr_string, lifecycle_methods,
};
use crate::resp::{Reply, RespConnection, info_field};

/// Connect timeout of one readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_millis(250);
/// Connect, read and write timeout of commands.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// The log file redis-server writes into its directory.
const LOG_FILE: &str = "redis.log";

/// What kind of process a builder starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A plain server (also masters and replicas of a sentinel set).
    Standalone,
    /// A cluster node: its cluster bus port (port + 10000) must be free too.
    ClusterNode,
    /// `redis-server <conf> --sentinel`.
    Sentinel,
}

impl Mode {
    fn service(self) -> &'static str {
        match self {
            Mode::Standalone => "redis-server",
            Mode::ClusterNode => "redis cluster node",
            Mode::Sentinel => "redis sentinel",
        }
    }
}

/// Options for a [`RedisServer`]; `RedisServer::builder().requirepass("x").start()`.
#[derive(Debug, Clone)]
pub struct RedisServerBuilder {
    mode: Mode,
    password: Option<String>,
    acl_user: Option<(String, String)>,
    config_lines: Vec<String>,
    startup_timeout: Duration,
}

impl Default for RedisServerBuilder {
    fn default() -> Self {
        Self::with_mode(Mode::Standalone)
    }
}

impl RedisServerBuilder {
    pub(crate) fn with_mode(mode: Mode) -> Self {
        Self {
            mode,
            password: None,
            acl_user: None,
            config_lines: Vec::new(),
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
        }
    }

    /// Sets `requirepass` (the password of the `default` user).
    pub fn requirepass(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Adds the ACL user `user <name> on ><password> ~* &* +@all`.
    pub fn acl_user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.acl_user = Some((name.into(), password.into()));
        self
    }

    /// Appends one raw line to the generated redis.conf (e.g. `maxmemory 10mb`).
    pub fn config_line(mut self, line: impl Into<String>) -> Self {
        self.config_lines.push(line.into());
        self
    }

    /// How long the server may take to answer PING (default 10 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Starts the server on a free loopback port, trying a few fresh ports if one gets taken.
    pub fn start(&self) -> Result<RedisServer, TestkitError> {
        let started = ManagedProcess::start(self)?;
        Ok(RedisServer {
            process: started.process,
        })
    }

    fn credentials(&self) -> Option<Credentials> {
        match (&self.acl_user, &self.password) {
            (Some((user, password)), _) => Some(Credentials {
                user: Some(user.clone()),
                password: password.clone(),
            }),
            (None, Some(password)) => Some(Credentials {
                user: None,
                password: password.clone(),
            }),
            (None, None) => None,
        }
    }

    fn config_text(&self, port: u16, dir: &Path) -> String {
        let mut lines = vec![
            "bind 127.0.0.1".to_owned(),
            format!("port {port}"),
            format!("dir {}", quote(&dir.to_string_lossy())),
            format!("logfile {}", quote(&dir.join(LOG_FILE).to_string_lossy())),
            "daemonize no".to_owned(),
        ];
        if self.mode != Mode::Sentinel {
            lines.push("save \"\"".to_owned());
            lines.push("appendonly no".to_owned());
            // Default 5 s: a master would wait that long for more replicas before syncing one.
            lines.push("repl-diskless-sync-delay 0".to_owned());
        }
        if let Some(password) = &self.password {
            lines.push(format!("requirepass {}", quote(password)));
        }
        if let Some((user, password)) = &self.acl_user {
            lines.push(format!(
                "user {} on {} ~* &* +@all",
                quote(user),
                quote(&format!(">{password}"))
            ));
        }
        lines.extend(self.config_lines.iter().cloned());
        lines.iter().fold(String::new(), |mut text, line| {
            let _ = writeln!(text, "{line}");
            text
        })
    }
}

impl Service for RedisServerBuilder {
    type Probe = RedisEndpoint;
    type Extra = ();

    fn name(&self) -> &'static str {
        self.mode.service()
    }

    fn dir_prefix(&self) -> &'static str {
        "nauthilus-testkit-redis-"
    }

    fn program(&self) -> Result<PathBuf, TestkitError> {
        find_binary("redis-server")
    }

    fn ready_within(&self) -> Duration {
        self.startup_timeout
    }

    fn log_file(&self) -> Option<&'static str> {
        Some(LOG_FILE)
    }

    fn pick_ports(&self) -> Result<Vec<u16>, TestkitError> {
        Ok(vec![free_loopback_port(self.mode == Mode::ClusterNode)?])
    }

    fn prepare(&self, dir: &Path, ports: &[u16]) -> Result<(Vec<OsString>, ()), TestkitError> {
        let config = dir.join("redis.conf");
        fs::write(&config, self.config_text(port_of(ports), dir))
            .map_err(|err| TestkitError::io(format!("writing {}", config.display()), err))?;
        let mut args = vec![OsString::from(config)];
        if self.mode == Mode::Sentinel {
            args.push("--sentinel".into());
        }
        Ok((args, ()))
    }

    fn probe(&self, _dir: &Path, ports: &[u16]) -> RedisEndpoint {
        RedisEndpoint {
            service: self.mode.service(),
            port: port_of(ports),
            credentials: self.credentials(),
        }
    }
}

/// Credentials the testkit itself uses for readiness checks and [`RedisServer::command`].
#[derive(Debug, Clone)]
struct Credentials {
    user: Option<String>,
    password: String,
}

/// How the testkit reaches one redis-server: its port and the credentials it was given. It is
/// the readiness probe too: PING answered, and `INFO server` naming our process.
#[derive(Debug)]
pub(crate) struct RedisEndpoint {
    service: &'static str,
    port: u16,
    credentials: Option<Credentials>,
}

impl RedisEndpoint {
    fn addr(&self) -> String {
        addr_string(self.port)
    }

    fn socket_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Sends one command on a fresh, authenticated connection.
    fn command<S: AsRef<str>>(&self, args: &[S]) -> Result<Reply, TestkitError> {
        let mut connection = self.connect()?;
        self.call(&mut connection, args)
    }

    /// Connects and authenticates.
    fn connect(&self) -> Result<RespConnection, TestkitError> {
        let mut connection = RespConnection::connect(self.socket_addr(), COMMAND_TIMEOUT).map_err(|err| {
            TestkitError::io(format!("connecting to {} {}", self.service, self.addr()), err)
        })?;
        if let Some(credentials) = &self.credentials {
            let mut auth = vec!["AUTH"];
            if let Some(user) = &credentials.user {
                auth.push(user);
            }
            auth.push(&credentials.password);
            self.call(&mut connection, &auth)?;
        }
        Ok(connection)
    }

    fn call<S: AsRef<str>>(
        &self,
        connection: &mut RespConnection,
        args: &[S],
    ) -> Result<Reply, TestkitError> {
        let command = args
            .first()
            .map(|arg| arg.as_ref().to_owned())
            .unwrap_or_default();
        match connection.call(args) {
            Ok(Reply::Error(message)) => Err(TestkitError::ErrorReply {
                addr: self.addr(),
                command,
                message,
            }),
            Ok(reply) => Ok(reply),
            Err(err) => Err(TestkitError::io(format!("`{command}` on {}", self.addr()), err)),
        }
    }

    /// Sends `args` and returns the reply as text (status or bulk string).
    fn text<S: AsRef<str>>(&self, args: &[S]) -> Result<String, TestkitError> {
        let reply = self.command(args)?;
        reply.as_text().ok_or_else(|| TestkitError::UnexpectedReply {
            addr: self.addr(),
            command: args
                .first()
                .map(|arg| arg.as_ref().to_owned())
                .unwrap_or_default(),
            reply: reply.to_string(),
        })
    }

    /// `+PONG`, or `-NOAUTH` from a server that wants a password, means it is up.
    fn answers_ping(&self) -> bool {
        RespConnection::connect(self.socket_addr(), PROBE_TIMEOUT)
            .and_then(|mut connection| connection.call(&["PING"]))
            .is_ok_and(|reply| match reply {
                Reply::Status(status) => status == "PONG",
                Reply::Error(error) => error.starts_with("NOAUTH"),
                _ => false,
            })
    }
}

impl Probe for RedisEndpoint {
    /// PING answered, then `INFO server`'s `process_id` proves it is our process and not another
    /// server that grabbed the port.
    fn probe(&self, pid: u32) -> Readiness {
        if !self.answers_ping() {
            return Readiness::NotYet;
        }
        match self.text(&["INFO", "server"]) {
            Ok(info) if info_field(&info, "process_id") == Some(pid.to_string().as_str()) => Readiness::Ready,
            Ok(_) => Readiness::Taken,
            Err(err) => Readiness::Failed(err),
        }
    }
}

/// A private redis-server process on `127.0.0.1:<free port>` with its own temporary directory.
///
/// Dropping it kills the process and deletes the directory before `drop` returns. Kept in a
/// static it is never dropped; the supervisor still removes it when the test process exits.
#[derive(Debug)]
pub struct RedisServer {
    process: ManagedProcess<RedisEndpoint>,
}

impl RedisServer {
    /// Options for a server to start.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    /// Starts a server with default options (no password, no persistence).
    pub fn start() -> Result<Self, TestkitError> {
        Self::builder().start()
    }

    /// The TCP port; it stays this server's across [`stop`](Self::stop) and
    /// [`start_again`](Self::start_again).
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        self.process.addr()
    }

    /// `redis://127.0.0.1:<port>` (without credentials).
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr())
    }

    lifecycle_methods!("server");

    /// Sends one command (authenticating first if the server has credentials) and returns the
    /// reply; a RESP error reply becomes [`TestkitError::ErrorReply`].
    pub fn command<S: AsRef<str>>(&self, args: &[S]) -> Result<Reply, TestkitError> {
        self.process.probe().command(args)
    }

    /// Sends `args` and returns the reply as text (status or bulk string).
    pub(crate) fn text<S: AsRef<str>>(&self, args: &[S]) -> Result<String, TestkitError> {
        self.process.probe().text(args)
    }
}

fn port_of(ports: &[u16]) -> u16 {
    ports.first().copied().unwrap_or_default()
}

/// Quotes a redis.conf argument (double quotes; `\\`, `\"` and `\xHH` escapes).
pub(crate) fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for byte in value.bytes() {
        match byte {
            b'"' | b'\\' => {
                quoted.push('\\');
                quoted.push(char::from(byte));
            }
            0x20..=0x7e => quoted.push(char::from(byte)),
            _ => {
                let _ = write!(quoted, "\\x{byte:02x}");
            }
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start_on_taken_port(port: u16) -> TestkitError {
        let builder = RedisServer::builder();
        let program = builder.program().unwrap();
        ManagedProcess::start_on(&builder, &program, vec![port])
            .map(drop)
            .unwrap_err()
    }

    #[test]
    fn port_held_by_a_plain_listener_is_reported_as_taken() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();

        let err = start_on_taken_port(port);

        assert!(matches!(err, TestkitError::PortTaken { .. }), "{err}");
    }

    #[test]
    fn port_held_by_another_redis_is_reported_as_taken_not_mistaken_for_ours() {
        let other = RedisServer::start().unwrap();

        let err = start_on_taken_port(other.port());

        assert!(matches!(err, TestkitError::PortTaken { .. }), "{err}");
    }

    #[test]
    fn config_values_are_quoted_for_redis_conf() {
        assert_eq!(quote("plain"), "\"plain\"");
        assert_eq!(quote("a \"b\" \\c"), "\"a \\\"b\\\" \\\\c\"");
        assert_eq!(quote("é\n"), "\"\\xc3\\xa9\\x0a\"");
    }

    #[test]
    fn config_has_no_persistence_and_listens_on_loopback_only() {
        let text = RedisServer::builder()
            .requirepass("pw")
            .acl_user("alice", "s3cret")
            .config_line("maxmemory 1mb")
            .config_text(7000, Path::new("/tmp/x"));
        for line in [
            "bind 127.0.0.1",
            "port 7000",
            "save \"\"",
            "appendonly no",
            "logfile \"/tmp/x/redis.log\"",
            "requirepass \"pw\"",
            "user \"alice\" on \">s3cret\" ~* &* +@all",
            "maxmemory 1mb",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
