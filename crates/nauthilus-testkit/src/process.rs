//! One managed service process: everything a private test service has in common.
//!
//! A service (redis-server, slapd, and later PostgreSQL or MariaDB) differs only in its
//! [`Service`]: the program, how its ports are picked, the config it writes into its private
//! directory (returning the command line) and a [`Probe`] that tells when it is ready.
//! [`ManagedProcess`] does the rest, the same way for every service:
//!
//! - start on free loopback ports, trying fresh ports when another process takes one first
//!   ([`TestkitError::PortTaken`] → retry, up to [`START_ATTEMPTS`]);
//! - wait until the probe says ready, noticing a process that died meanwhile;
//! - classify an exit while starting (`Address already in use` in the log → port taken,
//!   otherwise [`TestkitError::Exited`]) and attach the log tail to every failure;
//! - `stop` (SIGKILL, like a crash), `start_again` on the same ports and directory, `signal`
//!   (SIGSTOP/SIGCONT for a hung server);
//! - stop and delete the directory on drop, or when the test process dies (see
//!   [`crate::supervisor`]).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::TestkitError;
use crate::port::free_loopback_port;
use crate::supervisor::{Supervisor, process_alive};
use crate::wait::POLL_INTERVAL;

/// The public lifecycle methods every service type offers, delegated to its `process` field:
/// `dir`, `pid`, `stop`, `start_again` and `log_tail`. `$what` names the service in the docs.
macro_rules! lifecycle_methods {
    ($what:literal) => {
        #[doc = concat!("The ", $what, "'s private directory (config, data, logs).")]
        pub fn dir(&self) -> &std::path::Path {
            self.process.dir()
        }

        #[doc = concat!("Pid of the ", $what, " process, `None` while stopped.")]
        pub fn pid(&self) -> Option<u32> {
            self.process.pid()
        }

        #[doc = concat!("Kills the ", $what, " (SIGKILL, like a crash) and waits until it is gone; no-op when stopped.")]
        pub fn stop(&self) -> Result<(), crate::TestkitError> {
            self.process.stop()
        }

        #[doc = concat!("Starts the ", $what, " again on the same ports with the same directory and waits until it is ready; a running one is killed first.")]
        pub fn start_again(&self) -> Result<(), crate::TestkitError> {
            self.process.start_again()
        }

        #[doc = concat!("The last lines of the ", $what, "'s log, its stderr and the supervisor log.")]
        pub fn log_tail(&self) -> String {
            self.process.log_tail()
        }
    };
}
pub(crate) use lifecycle_methods;

/// Fresh ports tried when a picked port is taken before the service binds it.
pub(crate) const START_ATTEMPTS: usize = 5;
/// Default time a service may take to become ready.
pub(crate) const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Lines of each log file shown in errors and by [`ManagedProcess::log_tail`].
const LOG_TAIL_LINES: usize = 40;
/// Files the supervisor writes into every service directory, shown after the service's own log.
const SUPERVISOR_LOGS: [&str; 2] = ["stderr.log", "supervisor.log"];

/// What one look at a starting service found.
#[derive(Debug)]
pub(crate) enum Readiness {
    /// It answers as expected.
    Ready,
    /// Not (yet) answering; look again.
    NotYet,
    /// Something answers on our port, but it is another process.
    Taken,
    /// It answered in a way that will not get better.
    Failed(TestkitError),
}

/// Tells whether the process `pid` of a service is ready. Kept for restarts.
pub(crate) trait Probe {
    /// One look; must return quickly (short connect and read timeouts).
    fn probe(&self, pid: u32) -> Readiness;
}

/// What differs between services: program, ports, config and readiness.
pub(crate) trait Service {
    /// The probe (usually also the service's client: address and credentials).
    type Probe: Probe;
    /// What preparing the directory yields besides the command line (e.g. certificates).
    type Extra;

    /// Kind of service in messages, e.g. `redis-server`.
    fn name(&self) -> &'static str;
    /// Prefix of the private temporary directory, e.g. `nauthilus-testkit-redis-`.
    fn dir_prefix(&self) -> &'static str;
    /// The program to run.
    fn program(&self) -> Result<PathBuf, TestkitError>;
    /// How long it may take to become ready.
    fn ready_within(&self) -> Duration;
    /// The log file the service itself writes into its directory, shown first in log tails.
    fn log_file(&self) -> Option<&'static str> {
        None
    }
    /// Picks the ports to listen on; the first is the one messages name.
    fn pick_ports(&self) -> Result<Vec<u16>, TestkitError> {
        Ok(vec![free_loopback_port(false)?])
    }
    /// Writes config (and data) into `dir` and returns the program's arguments.
    fn prepare(&self, dir: &Path, ports: &[u16]) -> Result<(Vec<OsString>, Self::Extra), TestkitError>;
    /// The readiness probe for an instance on `ports` in `dir`.
    fn probe(&self, dir: &Path, ports: &[u16]) -> Self::Probe;
}

/// A started service: the process and what preparing its directory yielded.
pub(crate) struct Started<P, E> {
    pub(crate) process: ManagedProcess<P>,
    pub(crate) extra: E,
}

/// One private service process on loopback ports, with its own temporary directory.
///
/// Dropping it kills the process and deletes the directory before `drop` returns.
pub(crate) struct ManagedProcess<P> {
    service: &'static str,
    ports: Vec<u16>,
    dir: PathBuf,
    log_file: Option<&'static str>,
    startup_timeout: Duration,
    probe: P,
    supervisor: Mutex<Supervisor>,
}

impl<P: Probe> ManagedProcess<P> {
    /// Starts `service` on free ports and waits until it is ready, retrying on a port clash.
    pub(crate) fn start<S: Service<Probe = P>>(service: &S) -> Result<Started<P, S::Extra>, TestkitError> {
        let program = service.program()?;
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            let ports = service.pick_ports()?;
            match Self::start_on(service, &program, ports) {
                Err(err @ TestkitError::PortTaken { .. }) => last = Some(err),
                other => return other,
            }
        }
        Err(TestkitError::NoFreePort {
            service: service.name(),
            attempts: START_ATTEMPTS,
            last: last.map(|err| err.to_string()).unwrap_or_default(),
        })
    }

    /// One attempt on the given ports.
    pub(crate) fn start_on<S: Service<Probe = P>>(
        service: &S,
        program: &Path,
        ports: Vec<u16>,
    ) -> Result<Started<P, S::Extra>, TestkitError> {
        let dir = tempfile::Builder::new()
            .prefix(service.dir_prefix())
            .tempdir()
            .map_err(|err| TestkitError::io("creating a temporary directory", err))?
            // From here on the supervisor deletes the directory, also when the test process dies.
            .keep();
        let (args, extra) = match service.prepare(&dir, &ports) {
            Ok(prepared) => prepared,
            Err(err) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(err);
            }
        };
        let addr = addr_string(ports.first().copied().unwrap_or_default());
        let supervisor = Supervisor::spawn(service.name(), addr, &dir, program, &args)?;
        let pid = supervisor.pid();
        let process = ManagedProcess {
            service: service.name(),
            probe: service.probe(&dir, &ports),
            ports,
            dir,
            log_file: service.log_file(),
            startup_timeout: service.ready_within(),
            supervisor: Mutex::new(supervisor),
        };
        if let Some(pid) = pid {
            process.wait_ready(pid)?;
        }
        Ok(Started { process, extra })
    }
}

impl<P> ManagedProcess<P> {
    /// The first port (the one messages name).
    pub(crate) fn port(&self) -> u16 {
        self.ports.first().copied().unwrap_or_default()
    }

    /// Every port, in the order the service picked them.
    pub(crate) fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// `127.0.0.1:<first port>`.
    pub(crate) fn addr(&self) -> String {
        addr_string(self.port())
    }

    /// The private directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The probe, which usually doubles as the service's client.
    pub(crate) fn probe(&self) -> &P {
        &self.probe
    }

    /// Pid of the service process, `None` while stopped.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.lock().pid()
    }

    /// Kills the service (SIGKILL, like a crash) and waits until it is gone; no-op when stopped.
    pub(crate) fn stop(&self) -> Result<(), TestkitError> {
        self.lock().stop()
    }

    /// Sends `signal` (e.g. `-STOP`, `-CONT`) to the running service.
    pub(crate) fn signal(&self, signal: &str) -> Result<(), TestkitError> {
        let Some(pid) = self.pid() else {
            return Err(TestkitError::InvalidSetup(format!(
                "{} is not running",
                self.service
            )));
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

    /// Freezes the service (SIGSTOP) and returns once every one of its threads is stopped
    /// (state `T` in `/proc/<pid>/task/*/stat`). `kill` only queues the signal: until the
    /// threads are descheduled, one may still answer a request already in its socket, which
    /// made "hung server" tests flaky under load.
    pub(crate) fn freeze(&self) -> Result<(), TestkitError> {
        self.signal("-STOP")?;
        let Some(pid) = self.pid() else {
            return Err(TestkitError::InvalidSetup(format!(
                "{} is not running",
                self.service
            )));
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match all_threads_stopped(pid) {
                Ok(true) => return Ok(()),
                Ok(false) if Instant::now() < deadline => thread::sleep(Duration::from_millis(2)),
                Ok(false) => {
                    return Err(TestkitError::InvalidSetup(format!(
                        "{} (pid {pid}) not stopped 10 s after SIGSTOP",
                        self.service
                    )));
                }
                Err(err) => return Err(TestkitError::io(format!("reading /proc/{pid}/task"), err)),
            }
        }
    }

    /// The last lines of the service's own log, then of its stderr and the supervisor's log
    /// (those two only when not empty).
    pub(crate) fn log_tail(&self) -> String {
        let mut tail = String::new();
        if let Some(log_file) = self.log_file {
            let path = self.dir.join(log_file);
            let text = tail_of(&path).unwrap_or_else(|err| format!("({} unreadable: {err})", path.display()));
            let _ = write!(tail, "--- {log_file} ---\n{text}\n");
        }
        for name in SUPERVISOR_LOGS {
            if let Ok(text) = tail_of(&self.dir.join(name))
                && !text.trim().is_empty()
            {
                let _ = write!(tail, "--- {name} ---\n{text}\n");
            }
        }
        tail
    }

    fn lock(&self) -> MutexGuard<'_, Supervisor> {
        // A panic while holding the lock cannot leave the supervisor half-updated in a way that
        // matters more than losing the service, so poisoning is ignored.
        self.supervisor.lock().unwrap_or_else(PoisonError::into_inner)
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
}

impl<P: Probe> ManagedProcess<P> {
    /// Starts the service again on the same ports with the same directory and waits until it is
    /// ready; a running service is killed first.
    pub(crate) fn start_again(&self) -> Result<(), TestkitError> {
        let mut supervisor = self.lock();
        let pid = supervisor.start()?;
        let ready = self.wait_ready(pid);
        if ready.is_err() {
            // Leave a consistent "stopped" state behind; the readiness error is the one to report.
            let _ = supervisor.stop();
        }
        ready
    }

    /// Polls the probe until it reports ready. An answer on our port counts only while our
    /// process is alive afterwards: a service that cannot listen exits, and then whoever
    /// answered was someone else.
    fn wait_ready(&self, pid: u32) -> Result<(), TestkitError> {
        let deadline = Instant::now() + self.startup_timeout;
        loop {
            if !process_alive(pid) {
                return Err(self.startup_exit());
            }
            match self.probe.probe(pid) {
                Readiness::Ready if process_alive(pid) => return Ok(()),
                Readiness::Ready => return Err(self.startup_exit()),
                Readiness::Taken => {
                    return Err(TestkitError::PortTaken {
                        service: self.service,
                        addr: self.addr(),
                        log_tail: self.log_tail(),
                    });
                }
                Readiness::Failed(_) if !process_alive(pid) => return Err(self.startup_exit()),
                Readiness::Failed(err) => return Err(err),
                Readiness::NotYet => {}
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
    }
}

impl<P> std::fmt::Debug for ManagedProcess<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedProcess")
            .field("service", &self.service)
            .field("ports", &self.ports)
            .field("dir", &self.dir)
            .field("supervisor", &self.supervisor)
            .finish_non_exhaustive()
    }
}

/// `127.0.0.1:<port>`.
pub(crate) fn addr_string(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// The last [`LOG_TAIL_LINES`] lines of `path`.
fn tail_of(path: &Path) -> std::io::Result<String> {
    let bytes = fs::read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    Ok(lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n"))
}

/// True when every thread of `pid` is stopped by a signal (state `T`; `t` is tracing-stop).
pub(crate) fn all_threads_stopped(pid: u32) -> std::io::Result<bool> {
    for task in fs::read_dir(format!("/proc/{pid}/task"))? {
        let stat = match fs::read_to_string(task?.path().join("stat")) {
            Ok(stat) => stat,
            // A thread that exited meanwhile is not running either.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err),
        };
        // `pid (comm) S ...`: the state follows the last `)` (comm may contain spaces).
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].trim_start().chars().next());
        if !matches!(state, Some('T' | 't')) {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service that is a shell script: shows how little a new service needs, and drives the
    /// exit classification without a real server.
    struct Script {
        script: &'static str,
        ready: fn(u32) -> Readiness,
    }

    struct ScriptProbe(fn(u32) -> Readiness);

    impl Probe for ScriptProbe {
        fn probe(&self, pid: u32) -> Readiness {
            (self.0)(pid)
        }
    }

    impl Service for Script {
        type Probe = ScriptProbe;
        type Extra = ();

        fn name(&self) -> &'static str {
            "script"
        }

        fn dir_prefix(&self) -> &'static str {
            "nauthilus-testkit-script-"
        }

        fn program(&self) -> Result<PathBuf, TestkitError> {
            crate::binary::find_binary("sh")
        }

        fn ready_within(&self) -> Duration {
            Duration::from_millis(300)
        }

        fn prepare(&self, _dir: &Path, _ports: &[u16]) -> Result<(Vec<OsString>, ()), TestkitError> {
            Ok((vec!["-c".into(), self.script.into()], ()))
        }

        fn probe(&self, _dir: &Path, _ports: &[u16]) -> ScriptProbe {
            ScriptProbe(self.ready)
        }
    }

    fn start(
        script: &'static str,
        ready: fn(u32) -> Readiness,
    ) -> Result<ManagedProcess<ScriptProbe>, TestkitError> {
        ManagedProcess::start(&Script { script, ready }).map(|started| started.process)
    }

    #[test]
    fn a_ready_process_is_stopped_started_again_and_removed_on_drop() {
        let process = start("exec sleep 60", |_| Readiness::Ready).unwrap();
        let dir = process.dir().to_owned();
        let first = process.pid().unwrap();
        process.stop().unwrap();
        assert_eq!(process.pid(), None);
        process.start_again().unwrap();
        assert_ne!(process.pid(), Some(first));
        drop(process);
        assert!(!dir.exists(), "{} left behind", dir.display());
    }

    #[test]
    fn an_exit_while_starting_is_reported_with_the_log_tail() {
        let err = start("echo boom >&2; exit 3", |_| Readiness::NotYet).unwrap_err();
        assert!(
            matches!(&err, TestkitError::Exited { log_tail, .. } if log_tail.contains("boom")),
            "{err}"
        );
    }

    #[test]
    fn address_in_use_is_retried_on_fresh_ports_then_given_up() {
        let err = start("echo 'bind: Address already in use' >&2; exit 1", |_| {
            Readiness::NotYet
        })
        .unwrap_err();
        assert!(
            matches!(&err, TestkitError::NoFreePort { attempts: START_ATTEMPTS, last, .. } if last.contains("Address already in use")),
            "{err}"
        );
    }

    #[test]
    fn a_foreign_answer_is_a_taken_port() {
        let err = start("exec sleep 60", |_| Readiness::Taken).unwrap_err();
        assert!(matches!(err, TestkitError::NoFreePort { .. }), "{err}");
    }

    #[test]
    fn a_process_that_never_gets_ready_times_out() {
        let err = start("exec sleep 60", |_| Readiness::NotYet).unwrap_err();
        assert!(matches!(err, TestkitError::StartTimeout { .. }), "{err}");
    }
}
