//! One private `redis-server` process (plain, cluster node or sentinel) on a free loopback port.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::TestkitError;
use crate::binary::find_binary;
use crate::port::free_loopback_port;
use crate::resp::{Reply, RespConnection, info_field};
use crate::supervisor::{Supervisor, process_alive};
use crate::wait::POLL_INTERVAL;

/// Fresh ports tried when the picked port is taken before redis-server binds it.
const START_ATTEMPTS: usize = 5;
/// Default time a server may take to answer PING.
const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Connect timeout of one readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_millis(250);
/// Connect, read and write timeout of commands.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// Lines of each log file shown in errors and by [`RedisServer::log_tail`].
const LOG_TAIL_LINES: usize = 40;

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
        let program = find_binary("redis-server")?;
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            let port = free_loopback_port(self.mode == Mode::ClusterNode)?;
            match self.start_on(&program, port) {
                Err(err @ TestkitError::PortTaken { .. }) => last = Some(err),
                other => return other,
            }
        }
        Err(TestkitError::NoFreePort {
            service: self.mode.service(),
            attempts: START_ATTEMPTS,
            last: last.map(|err| err.to_string()).unwrap_or_default(),
        })
    }

    fn start_on(&self, program: &Path, port: u16) -> Result<RedisServer, TestkitError> {
        let dir = tempfile::Builder::new()
            .prefix("nauthilus-testkit-redis-")
            .tempdir()
            .map_err(|err| TestkitError::io("creating a temporary directory", err))?
            // From here on the supervisor deletes the directory, also when the test process dies.
            .keep();
        let config = dir.join("redis.conf");
        if let Err(err) = fs::write(&config, self.config_text(port, &dir)) {
            let _ = fs::remove_dir_all(&dir);
            return Err(TestkitError::io(format!("writing {}", config.display()), err));
        }
        let mut args = vec![OsString::from(config)];
        if self.mode == Mode::Sentinel {
            args.push("--sentinel".into());
        }
        let service = self.mode.service();
        let supervisor = Supervisor::spawn(service, addr_string(port), &dir, program, &args)?;
        let pid = supervisor.pid();
        let server = RedisServer {
            service,
            port,
            dir,
            credentials: self.credentials(),
            startup_timeout: self.startup_timeout,
            supervisor: Mutex::new(supervisor),
        };
        if let Some(pid) = pid {
            server.wait_ready(pid)?;
        }
        Ok(server)
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
            format!("logfile {}", quote(&dir.join("redis.log").to_string_lossy())),
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

/// Credentials the testkit itself uses for readiness checks and [`RedisServer::command`].
#[derive(Debug, Clone)]
struct Credentials {
    user: Option<String>,
    password: String,
}

/// A private redis-server process on `127.0.0.1:<free port>` with its own temporary directory.
///
/// Dropping it kills the process and deletes the directory before `drop` returns. Kept in a
/// static it is never dropped; the supervisor still removes it when the test process exits.
#[derive(Debug)]
pub struct RedisServer {
    service: &'static str,
    port: u16,
    dir: PathBuf,
    credentials: Option<Credentials>,
    startup_timeout: Duration,
    supervisor: Mutex<Supervisor>,
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
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        addr_string(self.port)
    }

    /// `redis://127.0.0.1:<port>` (without credentials).
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr())
    }

    /// The server's private directory (config, `redis.log`, `stderr.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Pid of the redis-server process, `None` while stopped.
    pub fn pid(&self) -> Option<u32> {
        self.lock().pid()
    }

    /// Kills the server (SIGKILL, like a crash) and waits until it is gone; no-op when stopped.
    pub fn stop(&self) -> Result<(), TestkitError> {
        self.lock().stop()
    }

    /// Starts the server again on the same port with the same directory and waits until it
    /// answers PING; a running server is killed first.
    pub fn start_again(&self) -> Result<(), TestkitError> {
        let mut supervisor = self.lock();
        let pid = supervisor.start()?;
        let ready = self.wait_ready(pid);
        if ready.is_err() {
            // Leave a consistent "stopped" state behind; the readiness error is the one to report.
            let _ = supervisor.stop();
        }
        ready
    }

    /// Sends one command (authenticating first if the server has credentials) and returns the
    /// reply; a RESP error reply becomes [`TestkitError::ErrorReply`].
    pub fn command<S: AsRef<str>>(&self, args: &[S]) -> Result<Reply, TestkitError> {
        let mut connection = self.connect()?;
        self.call(&mut connection, args)
    }

    /// The last lines of the server's log (and of its stderr, if it wrote any).
    pub fn log_tail(&self) -> String {
        let mut tail = tail_of(&self.dir.join("redis.log"));
        for extra in ["stderr.log", "supervisor.log"] {
            let extra_tail = tail_of(&self.dir.join(extra));
            if !extra_tail.trim().is_empty() {
                let _ = write!(tail, "\n--- {extra} ---\n{extra_tail}");
            }
        }
        tail
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
    pub(crate) fn text<S: AsRef<str>>(&self, args: &[S]) -> Result<String, TestkitError> {
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

    /// Waits until the process `pid` answers PING, and proves that it is this process (and not
    /// another server that grabbed the port) by comparing `INFO server`'s `process_id`.
    fn wait_ready(&self, pid: u32) -> Result<(), TestkitError> {
        let deadline = Instant::now() + self.startup_timeout;
        while !self.answers_ping() {
            if !process_alive(pid) {
                return Err(self.startup_exit());
            }
            if Instant::now() >= deadline {
                return Err(TestkitError::StartTimeout {
                    service: self.service,
                    addr: self.addr(),
                    timeout: self.startup_timeout,
                    log_tail: self.log_tail(),
                });
            }
            thread::sleep(POLL_INTERVAL);
        }
        let answered_pid = self
            .text(&["INFO", "server"])
            .map(|info| info_field(&info, "process_id").map(str::to_owned));
        match answered_pid {
            Ok(Some(answered)) if answered == pid.to_string() => Ok(()),
            Ok(_) => Err(TestkitError::PortTaken {
                service: self.service,
                addr: self.addr(),
                log_tail: self.log_tail(),
            }),
            Err(_) if !process_alive(pid) => Err(self.startup_exit()),
            Err(err) => Err(err),
        }
    }

    /// The error for a process that died while starting.
    fn startup_exit(&self) -> TestkitError {
        let log_tail = self.log_tail();
        if log_tail.contains("Address already in use") {
            TestkitError::PortTaken {
                service: self.service,
                addr: self.addr(),
                log_tail,
            }
        } else {
            TestkitError::Exited {
                service: self.service,
                addr: self.addr(),
                log_tail,
            }
        }
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

    fn socket_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    fn lock(&self) -> MutexGuard<'_, Supervisor> {
        // A panic while holding the lock cannot leave the supervisor half-updated in a way that
        // matters more than losing the server, so poisoning is ignored.
        self.supervisor.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn addr_string(port: u16) -> String {
    format!("127.0.0.1:{port}")
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

fn tail_of(path: &Path) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
        }
        Err(err) => format!("({} unreadable: {err})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start_on_taken_port(port: u16) -> TestkitError {
        let program = find_binary("redis-server").unwrap();
        RedisServer::builder().start_on(&program, port).unwrap_err()
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
