//! Ties a service process's life to the test process through a pipe.
//!
//! Each service runs under a tiny `sh` supervisor whose stdin is a pipe held only by the test
//! process (Rust opens pipes close-on-exec, so no other child inherits it). The supervisor starts
//! the service in the background and then reads commands from that pipe:
//!
//! - `stop`  kills the service (SIGKILL), reaps it, answers `stopped`;
//! - `start` (re)starts it with the same command line, answers `started <pid>`;
//! - end of file, which the kernel delivers when the test process exits for any reason (normal
//!   exit, panic, SIGKILL) or when [`Supervisor`] is dropped: kill the service, delete its
//!   directory, exit.
//!
//! This is what makes instances kept in statics (never dropped) safe: nothing outlives the test
//! process. `PR_SET_PDEATHSIG` is deliberately not used: it fires when the spawning *thread*
//! exits, and test threads come and go. The supervisor runs in its own process group so that a
//! Ctrl-C aimed at `cargo test` does not kill it before it has cleaned up.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::TestkitError;

/// The supervisor script; `$1` is the directory to delete at the end, the rest the service argv.
const SCRIPT: &str = r#"
dir=$1
shift
trap '' PIPE
pid=
launch() {
    "$@" </dev/null >>"$dir/stderr.log" 2>&1 &
    pid=$!
    echo "started $pid"
}
halt() {
    if [ -n "$pid" ]; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        pid=
    fi
}
finish() {
    trap '' HUP INT TERM
    halt
    rm -rf -- "$dir"
    exit 0
}
trap finish HUP INT TERM
launch "$@"
while IFS= read -r command; do
    case $command in
        stop) halt; echo stopped ;;
        start) halt; launch "$@" ;;
    esac
done
finish
"#;

/// Shell that runs [`SCRIPT`]; POSIX guarantees it.
const SHELL: &str = "/bin/sh";

/// Handle on one running `sh` supervisor and the service process it owns.
pub(crate) struct Supervisor {
    child: Child,
    /// `None` only while dropping.
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// Pid of the service process while it is meant to be running.
    pid: Option<u32>,
    /// Used in error messages.
    label: (&'static str, String),
}

impl Supervisor {
    /// Starts the supervisor, which starts `program args...`; `dir` becomes the supervisor's to
    /// delete (also when this function fails).
    pub(crate) fn spawn(
        service: &'static str,
        addr: String,
        dir: &Path,
        program: &Path,
        args: &[OsString],
    ) -> Result<Self, TestkitError> {
        let spawned = File::create(dir.join("supervisor.log"))
            .map_err(|err| TestkitError::io("creating supervisor.log", err))
            .and_then(|log| {
                Command::new(SHELL)
                    .arg("-c")
                    .arg(SCRIPT)
                    .arg("nauthilus-testkit-supervisor")
                    .arg(dir)
                    .arg(program)
                    .args(args)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(log)
                    .process_group(0)
                    .spawn()
                    .map_err(|err| TestkitError::io(format!("spawning {SHELL} to supervise {service}"), err))
            });
        let mut child = match spawned {
            Ok(child) => child,
            Err(err) => {
                // Nobody else will delete the directory now; failure to do so only leaks a temp dir.
                let _ = fs::remove_dir_all(dir);
                return Err(err);
            }
        };
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            // Unreachable with Stdio::piped; closing stdin (dropped above) makes it clean up.
            let _ = child.wait();
            return Err(TestkitError::Supervisor {
                service,
                addr,
                detail: "stdio pipes missing".to_owned(),
            });
        };
        let mut supervisor = Self {
            child,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout),
            pid: None,
            label: (service, addr),
        };
        supervisor.pid = Some(supervisor.read_started()?);
        Ok(supervisor)
    }

    /// Pid of the service process, if it is meant to be running.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Kills the service and waits until it is gone; a no-op when it is already stopped.
    pub(crate) fn stop(&mut self) -> Result<(), TestkitError> {
        if self.pid.is_none() {
            return Ok(());
        }
        self.send("stop")?;
        let line = self.read_line()?;
        if line != "stopped" {
            return Err(self.error(format!("expected `stopped`, got {line:?}")));
        }
        self.pid = None;
        Ok(())
    }

    /// Starts the service again with the same command line (killing it first if it runs).
    pub(crate) fn start(&mut self) -> Result<u32, TestkitError> {
        self.send("start")?;
        self.pid = None;
        let pid = self.read_started()?;
        self.pid = Some(pid);
        Ok(pid)
    }

    fn send(&mut self, command: &str) -> Result<(), TestkitError> {
        let written = match self.stdin.as_mut() {
            Some(stdin) => writeln!(stdin, "{command}").and_then(|()| stdin.flush()),
            None => return Err(self.error("stdin already closed".to_owned())),
        };
        written.map_err(|err| self.error(format!("sending `{command}`: {err}")))
    }

    fn read_line(&mut self) -> Result<String, TestkitError> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) => Err(self.error("exited unexpectedly (see supervisor.log)".to_owned())),
            Ok(_) => Ok(line.trim_end().to_owned()),
            Err(err) => Err(self.error(format!("reading its answer: {err}"))),
        }
    }

    fn read_started(&mut self) -> Result<u32, TestkitError> {
        let line = self.read_line()?;
        line.strip_prefix("started ")
            .and_then(|pid| pid.parse().ok())
            .ok_or_else(|| self.error(format!("expected `started <pid>`, got {line:?}")))
    }

    fn error(&self, detail: String) -> TestkitError {
        TestkitError::Supervisor {
            service: self.label.0,
            addr: self.label.1.clone(),
            detail,
        }
    }
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor").field("pid", &self.pid).finish()
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // End of file tells the supervisor to kill the service and delete the directory; waiting
        // for it makes Drop return only once the process is gone.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// Whether `pid` is alive (not exited, not a zombie); `true` when /proc is unavailable.
pub(crate) fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(PathBuf::from(format!("/proc/{pid}/stat"))) {
        // The state letter follows the command name, which is in parentheses and may contain ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => !Path::new("/proc/self/stat").exists(),
    }
}
