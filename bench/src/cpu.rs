//! CPU time of a process (user + system, from `/proc/<pid>/stat`) and core pinning (`taskset`).

use std::process::Command;
use std::time::Duration;

use crate::error::{BenchError, IoContext};

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 on Linux in practice).
pub fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// User plus system CPU time `pid` has used so far (all its threads).
pub fn process_cpu(pid: u32, ticks_per_second: u64) -> Result<Duration, BenchError> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).context(format!("reading {path}"))?;
    let ticks = cpu_ticks(&text).ok_or_else(|| BenchError::Failed(format!("cannot parse {path}")))?;
    Ok(Duration::from_secs_f64(ticks as f64 / ticks_per_second as f64))
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name (field 2)
/// may contain spaces and parentheses, so fields are counted after its last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The CPUs this process may run on (`Cpus_allowed_list` of `/proc/self/status`, expanded).
pub fn allowed_cpus() -> Vec<usize> {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return Vec::new();
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|list| parse_cpu_list(list.trim()))
        .unwrap_or_default()
}

fn parse_cpu_list(list: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for part in list.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    cpus.extend(a..=b);
                }
            }
            None => cpus.extend(part.parse::<usize>().ok()),
        }
    }
    cpus
}

/// Which cores the server and the load side (load generator, Redis, slapd) use.
#[derive(Clone, Debug)]
pub struct Topology {
    /// `taskset -c` list for the server (and for `redis-benchmark`, which stands in for it as
    /// Redis's client); `None` when the machine has one core.
    pub server_cpus: Option<String>,
    /// `taskset -c` list for this process and the services it starts.
    pub client_cpus: Option<String>,
    /// Cores the server may use: what "cores / t_hash" counts.
    pub server_cores: usize,
}

impl Topology {
    /// The upper half of the allowed cores (at least one) for the server, the others for
    /// everything else; no pinning on a single core.
    pub fn split(cpus: &[usize]) -> Topology {
        let join = |c: &[usize]| c.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        if cpus.len() < 2 {
            return Topology {
                server_cpus: None,
                client_cpus: None,
                server_cores: 1,
            };
        }
        let (client, server) = cpus.split_at(cpus.len() - cpus.len() / 2);
        Topology {
            server_cpus: Some(join(server)),
            client_cpus: Some(join(client)),
            server_cores: server.len(),
        }
    }

    /// Pins every thread of this process to the client cores (children inherit it).
    pub fn pin_self(&self) -> Result<(), BenchError> {
        let Some(cpus) = &self.client_cpus else {
            return Ok(());
        };
        let status = Command::new("taskset")
            .args(["-a", "-cp", cpus, &std::process::id().to_string()])
            .stdout(std::process::Stdio::null())
            .status()
            .context("running taskset (Debian package util-linux)")?;
        if !status.success() {
            return Err(BenchError::Failed(format!("taskset -a -cp {cpus} failed")));
        }
        Ok(())
    }

    /// `command args…`, run on the server cores when pinning.
    pub fn on_server_cores(&self, program: &str) -> Command {
        match &self.server_cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpus, program]);
                c
            }
            None => Command::new(program),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_utime_plus_stime_even_with_parentheses_in_the_name() {
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1 2 3";
        assert_eq!(cpu_ticks(stat), Some(300));
    }

    #[test]
    fn cpu_lists_expand_ranges() {
        assert_eq!(parse_cpu_list("0-2,5"), vec![0, 1, 2, 5]);
        assert_eq!(parse_cpu_list("1"), vec![1]);
    }

    #[test]
    fn two_cores_give_the_last_to_the_server() {
        let t = Topology::split(&[0, 1]);
        assert_eq!(t.server_cpus.as_deref(), Some("1"));
        assert_eq!(t.client_cpus.as_deref(), Some("0"));
        assert_eq!(t.server_cores, 1);
        let four = Topology::split(&[0, 1, 2, 3]);
        assert_eq!(four.server_cpus.as_deref(), Some("2,3"));
        assert_eq!(four.client_cpus.as_deref(), Some("0,1"));
        let single = Topology::split(&[0]);
        assert!(single.server_cpus.is_none());
        assert_eq!(single.server_cores, 1);
    }
}
