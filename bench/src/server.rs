//! The release server binary as a child process: its own directory with the config and the
//! files it names, a free loopback port, pinned to the server cores, killed when dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::cpu::Topology;
use crate::error::{BenchError, IoContext};

/// How long the server may take to answer `/ping`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Fresh ports tried when another process took the picked one first.
const START_ATTEMPTS: usize = 3;

/// A running server process.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts `binary` with the config `config(addr)` (YAML) and `files` (name, content) beside
    /// it, on the server cores of `topology`, and waits until `/ping` answers.
    pub fn start(
        binary: &Path,
        config: &dyn Fn(SocketAddr) -> String,
        files: &[(&str, String)],
        topology: &Topology,
    ) -> Result<Self, BenchError> {
        Self::start_wrapped(binary, &[], STARTUP_TIMEOUT, config, files, topology)
    }

    /// The same, with the server started by `wrapper` (e.g. `valgrind --tool=callgrind …`,
    /// which runs it in the same process) and `startup_timeout` to answer `/ping`.
    pub fn start_wrapped(
        binary: &Path,
        wrapper: &[String],
        startup_timeout: Duration,
        config: &dyn Fn(SocketAddr) -> String,
        files: &[(&str, String)],
        topology: &Topology,
    ) -> Result<Self, BenchError> {
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(binary, wrapper, startup_timeout, config, files, topology) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| BenchError::Failed("server did not start".into())))
    }

    fn start_once(
        binary: &Path,
        wrapper: &[String],
        startup_timeout: Duration,
        config: &dyn Fn(SocketAddr) -> String,
        files: &[(&str, String)],
        topology: &Topology,
    ) -> Result<Self, BenchError> {
        let dir = tempfile::tempdir().context("creating the server's directory")?;
        let addr = free_port()?;
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).context(format!("writing {name}"))?;
        }
        let config_path = dir.path().join("nauthilus.yml");
        std::fs::write(&config_path, config(addr)).context("writing nauthilus.yml")?;
        let log = std::fs::File::create(dir.path().join("server.log")).context("creating server.log")?;
        let log2 = log.try_clone().context("cloning server.log")?;
        let program = binary.to_string_lossy();
        let mut command = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = topology.on_server_cores(first);
                c.args(rest).arg(&*program);
                c
            }
            None => topology.on_server_cores(&program),
        };
        let child = command
            .arg("--config")
            .arg(&config_path)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .context(format!("starting {}", binary.display()))?;
        let mut server = ServerProcess { child, addr, dir };
        server.wait_ready(startup_timeout)?;
        Ok(server)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), BenchError> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(BenchError::Failed(format!(
                    "server exited at startup ({status}):\n{}",
                    self.log()
                )));
            }
            if ping(self.addr) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(BenchError::Failed(format!(
            "server did not answer /ping within {timeout:?}:\n{}",
            self.log()
        )))
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id (`taskset` execs the server, so the child is the server).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its directory (config, files, `server.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<SocketAddr, BenchError> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    listener.local_addr().context("finding a free port")
}

fn ping(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"GET /ping HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200")
}
