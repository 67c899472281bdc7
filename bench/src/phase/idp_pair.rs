//! What O1 and O2 measure side by side: our server with one confidential client (the IdP on the
//! embedded store) and the reference OpenID provider, npm `oidc-provider`
//! (`bench/reference/oidc-provider/server.js`), configured the same way: the same client, secret
//! and scopes, `client_secret_basic`, opaque access tokens of one hour, introspection on, an ES256
//! key, state in process memory. Both are pinned to the server cores; each phase starts its own
//! pair, so O2 does not introspect in a store that O1 filled.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{BenchError, IoContext};
use crate::load::{LoadSpec, Pace, Target, exchange, generate};
use crate::phase::{Bench, Sample};
use crate::server::ServerProcess;

/// The one client of both providers.
pub const CLIENT_ID: &str = "bench-client";
/// Its secret (high-entropy, as a generated client secret is).
pub const CLIENT_SECRET: &str = "bench-secret-6d1f0c2a9b7e4c35a8f1d0e2b3c4a5f6";
/// The scopes it may ask for; the requests ask for the first.
pub const SCOPES: &str = "api:read api:write";
/// Access token lifetime of both, in seconds.
pub const TOKEN_TTL_S: u64 = 3600;
/// How long `node server.js` may take to listen.
const REFERENCE_STARTUP: Duration = Duration::from_secs(30);

/// The directory of the reference provider (package.json, server.js, node_modules).
pub fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/oidc-provider")
}

/// Our server's configuration: no login backend is asked (client credentials only), the IdP
/// on the embedded store with the one client; its ES256 key is generated at start in the
/// server's directory.
fn our_config(addr: SocketAddr) -> String {
    let names: Vec<&str> = SCOPES.split(' ').collect();
    let custom = names
        .iter()
        .map(|s| format!("{{name: \"{s}\"}}"))
        .collect::<Vec<_>>()
        .join(", ");
    let scopes = names
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "server:\n  address: \"{addr}\"\n  backends: [passwd_file]\n  log: {{level: error}}\n\
         passwd_file: {{path: users.passwd}}\n\
         idp:\n  enabled: true\n  issuer: \"http://{addr}\"\n  key_algorithms: [ES256]\n  \
         tokens: {{access_token_lifetime: {TOKEN_TTL_S}s}}\n  \
         custom_scopes: [{custom}]\n  \
         clients:\n    - client_id: {CLIENT_ID}\n      client_secret: \"{CLIENT_SECRET}\"\n      \
         grant_types: [client_credentials]\n      scopes: [{scopes}]\n      \
         token_endpoint_auth_method: client_secret_basic\n"
    )
}

/// The reference provider as a child process, killed when dropped.
#[derive(Debug)]
pub struct ReferenceProcess {
    child: Child,
    addr: SocketAddr,
}

impl ReferenceProcess {
    /// `node server.js PORT CLIENT SECRET SCOPES` on the server cores; waits for "listening".
    pub fn start(bench: &Bench) -> Result<Self, BenchError> {
        let dir = reference_dir();
        if !dir.join("node_modules/oidc-provider").is_dir() {
            return Err(BenchError::Failed(format!(
                "{}: run `npm ci` there (bench/run does)",
                dir.display()
            )));
        }
        let addr = free_port()?;
        let mut child = bench
            .fixture
            .topology
            .on_server_cores("node")
            .arg("server.js")
            .arg(addr.port().to_string())
            .args([CLIENT_ID, CLIENT_SECRET, SCOPES])
            .current_dir(&dir)
            .env("NODE_ENV", "production")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting node (Debian package nodejs)")?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::Failed("node's stdout".into()))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let ready = lines.any(|l| l.is_ok_and(|l| l.trim() == "listening"));
            let _ = tx.send(ready);
            // Keep draining, so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let process = Self { child, addr };
        match rx.recv_timeout(REFERENCE_STARTUP) {
            Ok(true) => Ok(process),
            _ => Err(BenchError::Failed(format!(
                "oidc-provider did not listen on {addr} within {REFERENCE_STARTUP:?}"
            ))),
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id (`taskset` execs node).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ReferenceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<SocketAddr, BenchError> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    listener.local_addr().context("finding a free port")
}

/// Our IdP and the reference, both running.
#[derive(Debug)]
pub struct IdpPair {
    pub ours: ServerProcess,
    pub reference: ReferenceProcess,
}

/// Which of the two a request goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Ours,
    Reference,
}

impl IdpPair {
    /// Starts both.
    pub fn start(bench: &Bench) -> Result<Self, BenchError> {
        let f = &bench.fixture;
        let ours = ServerProcess::start(
            &f.server_binary,
            &our_config,
            &[("users.passwd", String::new())],
            &f.topology,
        )?;
        let reference = ReferenceProcess::start(bench)?;
        Ok(Self { ours, reference })
    }

    /// The address of one side.
    pub fn addr(&self, side: Side) -> SocketAddr {
        match side {
            Side::Ours => self.ours.addr(),
            Side::Reference => self.reference.addr(),
        }
    }

    /// The process id of one side.
    pub fn pid(&self, side: Side) -> u32 {
        match side {
            Side::Ours => self.ours.pid(),
            Side::Reference => self.reference.pid(),
        }
    }

    /// A token grant for the client (`POST /oidc/token`, client_credentials, Basic).
    pub fn token_request(&self, side: Side) -> Vec<u8> {
        let scope = SCOPES.split(' ').next().unwrap_or_default();
        form_post(
            self.addr(side),
            "/oidc/token",
            &format!(
                "grant_type=client_credentials&scope={}",
                scope.replace(':', "%3A")
            ),
        )
    }

    /// An introspection of `token` by the client (`POST /oidc/introspect`, Basic).
    pub fn introspect_request(&self, side: Side, token: &str) -> Vec<u8> {
        form_post(self.addr(side), "/oidc/introspect", &format!("token={token}"))
    }

    /// One grant, checked: returns the access token.
    pub async fn grant(&self, side: Side) -> Result<String, BenchError> {
        let body = expect_json(self.addr(side), &self.token_request(side), "the token grant").await?;
        if body["token_type"]
            .as_str()
            .map(str::to_ascii_lowercase)
            .as_deref()
            != Some("bearer")
        {
            return Err(BenchError::Failed(format!("{side:?}: token answer {body}")));
        }
        body["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| BenchError::Failed(format!("{side:?}: no access_token in {body}")))
    }

    /// One introspection, checked: the token must be active, for our client.
    pub async fn check_introspection(&self, side: Side, token: &str) -> Result<(), BenchError> {
        let request = self.introspect_request(side, token);
        let body = expect_json(self.addr(side), &request, "the introspection").await?;
        if body["active"] != Value::Bool(true) || body["client_id"] != CLIENT_ID {
            return Err(BenchError::Failed(format!(
                "{side:?}: introspection of a fresh token answered {body}"
            )));
        }
        Ok(())
    }

    /// One repetition against one side, with that side's CPU time around it.
    pub async fn sample(&self, bench: &Bench, side: Side, target: &Target) -> Result<Sample, BenchError> {
        let spec = bench.spec(bench.settings.connections, Pace::Closed);
        let pid = self.pid(side);
        let before = bench.cpu_of(pid)?;
        let out = generate(target, spec).await?;
        let after = bench.cpu_of(pid)?;
        if out.completed == 0 {
            return Err(BenchError::Failed(format!(
                "{side:?}: no expected answer ({} errors; first: {})",
                out.errors,
                out.first_error.as_deref().unwrap_or("none")
            )));
        }
        if let Some(e) = &out.first_error {
            eprintln!("    warning: {side:?}: {} errors, first: {e}", out.errors);
        }
        Ok(Sample {
            rate: out.rate(),
            cpu_us: (after - before).as_secs_f64() * 1e6 / out.completed as f64,
            p50_us: out.quantile_us(0.50),
            p99_us: out.quantile_us(0.99),
            requests: out.completed,
            errors: out.errors,
            response_bytes: out.response_bytes,
        })
    }

    /// Warm-up of both, then repetitions in turn (reference, ours, reference, ours, …) so a
    /// noisy neighbour weighs on both alike. Returns (ours, reference).
    pub async fn measure(
        &self,
        bench: &Bench,
        ours: &Target,
        reference: &Target,
    ) -> Result<(Vec<Sample>, Vec<Sample>), BenchError> {
        let n = bench.settings.connections;
        if !bench.settings.warmup.is_zero() {
            for target in [reference, ours] {
                let spec = LoadSpec {
                    connections: n,
                    pace: Pace::Closed,
                    duration: bench.settings.warmup,
                };
                generate(target, spec).await?;
            }
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..bench.settings.reps.max(1) {
            b.push(self.sample(bench, Side::Reference, reference).await?);
            a.push(self.sample(bench, Side::Ours, ours).await?);
        }
        Ok((a, b))
    }
}

/// Requests per CPU-second of the server: the rate one server core sustains.
pub fn per_core(s: &Sample) -> f64 {
    1e6 / s.cpu_us
}

/// A form POST with the client's Basic credentials.
fn form_post(addr: SocketAddr, path: &str, body: &str) -> Vec<u8> {
    let basic = base64_basic(CLIENT_ID, CLIENT_SECRET);
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {basic}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `base64(id:secret)`; both are URL-safe ASCII here, so the form encoding of RFC 6749 §2.3.1
/// changes nothing.
fn base64_basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
}

async fn expect_json(addr: SocketAddr, request: &[u8], what: &str) -> Result<Value, BenchError> {
    let started = Instant::now();
    let (status, _, body) = exchange(addr, request).await?;
    let text = String::from_utf8_lossy(&body);
    if status != 200 {
        return Err(BenchError::Failed(format!(
            "{what} at {addr} answered {status} after {:?}: {text}",
            started.elapsed()
        )));
    }
    serde_json::from_slice(&body)
        .map_err(|e| BenchError::Failed(format!("{what} at {addr}: not JSON ({e}): {text}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_base64_of_id_colon_secret() {
        assert_eq!(base64_basic("a", "b"), "YTpi");
        assert_eq!(base64_basic("ab", "cd"), "YWI6Y2Q=");
        assert_eq!(
            base64_basic("Aladdin", "open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
