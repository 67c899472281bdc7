//! The services of one run: a private `redis-server` on the load cores, and two server processes
//! of the same binary on the server cores, both with Redis as their store and a passwd-file with
//! one user per measured password scheme:
//!
//! - `server`: no brute-force protection (P0, P1, P4, L, P5n): its login path is the caches and
//!   the backends only;
//! - `guarded`: brute-force protection on, its state in the same Redis (P2, P5), with the four
//!   buckets of `examples/quickstart.yml`.
//!
//! - `ldap`: a private slapd (testkit fixture directory) and a third server whose only backend is
//!   `ldap`, with the in-process cache off (P3); absent when slapd cannot start here.
//!
//! Only one of them is under load at a time.

use std::net::SocketAddr;
use std::path::PathBuf;

use nauthilus_testkit::{ADMIN_DN, ADMIN_PASSWORD, RedisServer, Reply, Slapd};

use crate::cpu::Topology;
use crate::error::BenchError;
use crate::load::post_json;
use crate::server::ServerProcess;

/// The account every cache phase logs in as ({SSHA256}, password `alice-secret`).
pub const ALICE: (&str, &str) = ("alice@example.test", "alice-secret");
/// An `{ARGON2ID}` account (Dovecot's `doveadm pw` defaults: m=64 MiB, t=3, p=1).
pub const ARGON2ID: (&str, &str) = ("argon2id@schemes.test", "pw-argon2id");
/// An `{SSHA512}` account.
pub const SSHA512: (&str, &str) = ("ssha512@schemes.test", "pw-ssha512");

/// Stored hashes, as a Dovecot passwd-file (made by `doveadm pw`).
pub const ARGON2ID_HASH: &str = "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$Rd22aBhaLdTAtTdl+kt0og$RXYaYBUb4vnLlHGMxrGbxKmYOT89HEvANYxbD88Yj9s";
pub const SSHA512_HASH: &str =
    "{SSHA512}T7K8lQYcjzf8cdrhd9evJdmdmIVk5yB34xE0bdgY+gWaNpB/kywagnj5+QOoNi5Qocct/iMAkrwJcu8BHXpjku20WSo=";
/// `{SSHA256}` of [`ALICE`]'s password (phase M gives it to every generated user).
pub const ALICE_HASH: &str = "{SSHA256}R5jGdFZfOruhMlcRnrzDes1/d929GI05XMMyRDVVthjCR8w9";

fn users_file() -> String {
    format!(
        "{}:{ALICE_HASH}:1000:1000::/home/alice::mail=alice@example.test\n\
         {}:{ARGON2ID_HASH}:1001:1001::/home/a2::\n\
         {}:{SSHA512_HASH}:1002:1002::/home/s5::\n",
        ALICE.0, ARGON2ID.0, SSHA512.0
    )
}

/// The server configuration of a run: Redis as the store (positive cache), then the passwd-file.
/// Logging stays at `error`, so the figures are the login path, not log formatting; failures are
/// not held back for timing equalization, so they cost what they cost.
fn config(addr: SocketAddr, redis: &str, brute_force: bool) -> String {
    let mut yaml = format!(
        "server:\n  address: \"{addr}\"\n  backends: [cache, passwd_file]\n  log: {{level: error}}\n  \
         equalize_failure_timing: false\n  \
         redis:\n    master: {{address: \"{redis}\"}}\n    password_nonce: bench-nonce-0123456789\n\
         passwd_file: {{path: users.passwd}}\n"
    );
    if brute_force {
        yaml = yaml.replacen("server:\n", "server:\n  features: [brute_force]\n", 1);
        yaml.push_str(BRUTE_FORCE);
    }
    yaml
}

/// The buckets of `examples/quickstart.yml`.
const BRUTE_FORCE: &str = "brute_force:\n  buckets:\n\
    \x20   - {name: b_1min_ipv4_32, period: 1m, cidr: 32, ipv4: true, failed_requests: 10}\n\
    \x20   - {name: b_1min_ipv6_128, period: 1m, cidr: 128, ipv6: true, failed_requests: 10}\n\
    \x20   - {name: b_1h_ipv4_24, period: 1h, cidr: 24, ipv4: true, failed_requests: 15}\n\
    \x20   - {name: b_1h_ipv6_64, period: 1h, cidr: 64, ipv6: true, failed_requests: 15}\n";

/// The LDAP user of P3 (testkit's directory), and where the server searches for it.
pub const LDAP_USER: (&str, &str) = ("alice", "alice-secret");
pub const LDAP_PEOPLE: &str = "ou=people,dc=example,dc=test";
pub const LDAP_FILTER: &str = "(&(objectClass=inetOrgPerson)(uid=alice))";
/// Connections of each of the server's LDAP pools (lookup, auth), and clients of the bare loop.
pub const LDAP_CLIENTS: usize = 8;

fn ldap_config(addr: SocketAddr, slapd: &str) -> String {
    format!(
        "server:\n  address: \"{addr}\"\n  backends: [ldap]\n  log: {{level: error}}\n  \
         equalize_failure_timing: false\n\
         local_cache_auth_ttl: 0\nldap:\n  config:\n    server_uri: '{slapd}'\n    \
         bind_dn: '{ADMIN_DN}'\n    bind_pw: '{ADMIN_PASSWORD}'\n    \
         lookup_pool_size: {LDAP_CLIENTS}\n    auth_pool_size: {LDAP_CLIENTS}\n  search:\n    \
         - protocol: default\n      base_dn: '{LDAP_PEOPLE}'\n      \
         filter: {{user: '(&(objectClass=inetOrgPerson)(uid=%L{{user}}))'}}\n      \
         mapping: {{account_field: uid}}\n      attribute: [mail, cn]\n"
    )
}

/// slapd and the server whose only backend is LDAP.
#[derive(Debug)]
pub struct LdapFixture {
    pub slapd: Slapd,
    pub server: ServerProcess,
}

/// What the phases share.
#[derive(Debug)]
pub struct Fixture {
    pub topology: Topology,
    pub redis: RedisServer,
    pub server: ServerProcess,
    pub guarded: ServerProcess,
    /// `Err(why)` when slapd or the LDAP server could not start here.
    pub ldap: Result<LdapFixture, String>,
    pub server_binary: PathBuf,
}

impl Fixture {
    /// Starts Redis (inheriting this process's load cores) and both servers.
    pub fn start(server_binary: PathBuf, topology: Topology) -> Result<Self, BenchError> {
        let redis = RedisServer::start()?;
        let redis_addr = redis.addr();
        let start = |brute_force: bool| {
            ServerProcess::start(
                &server_binary,
                &|addr| config(addr, &redis_addr, brute_force),
                &[("users.passwd", users_file())],
                &topology,
            )
        };
        let server = start(false)?;
        let guarded = start(true)?;
        let ldap = Slapd::builder()
            .tls(false)
            .start()
            .map_err(|e| format!("slapd did not start: {e}"))
            .and_then(|slapd| {
                let url = slapd.url();
                ServerProcess::start(&server_binary, &|addr| ldap_config(addr, &url), &[], &topology)
                    .map(|server| LdapFixture { slapd, server })
                    .map_err(|e| format!("the LDAP server did not start: {e}"))
            });
        Ok(Self {
            topology,
            redis,
            server,
            guarded,
            ldap,
            server_binary,
        })
    }

    /// One more server of this run's configuration (with or without brute force, on the same
    /// Redis), started by `wrapper` (e.g. valgrind) and given `startup_timeout` to come up.
    pub fn start_server(
        &self,
        wrapper: &[String],
        startup_timeout: std::time::Duration,
        brute_force: bool,
    ) -> Result<ServerProcess, BenchError> {
        self.start_server_with_users(wrapper, startup_timeout, brute_force, users_file())
    }

    /// The same with `users` as its passwd-file.
    pub fn start_server_with_users(
        &self,
        wrapper: &[String],
        startup_timeout: std::time::Duration,
        brute_force: bool,
        users: String,
    ) -> Result<ServerProcess, BenchError> {
        let redis_addr = self.redis.addr();
        ServerProcess::start_wrapped(
            &self.server_binary,
            wrapper,
            startup_timeout,
            &|addr| config(addr, &redis_addr, brute_force),
            &[("users.passwd", users)],
            &self.topology,
        )
    }

    /// The address of the server without brute-force protection.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The server process listening on `addr`.
    pub fn process(&self, addr: SocketAddr) -> Option<&ServerProcess> {
        [&self.server, &self.guarded]
            .into_iter()
            .chain(self.ldap.as_ref().ok().map(|l| &l.server))
            .find(|s| s.addr() == addr)
    }

    /// `POST /api/v1/auth/json{query}` for `user`/`password` from `client_ip`, to `server`.
    pub fn login(&self, query: &str, user: &str, password: &str, client_ip: &str) -> Vec<u8> {
        login_to(self.addr(), query, user, password, client_ip)
    }

    /// The same, to the server with brute-force protection.
    pub fn guarded_login(&self, query: &str, user: &str, password: &str, client_ip: &str) -> Vec<u8> {
        login_to(self.guarded.addr(), query, user, password, client_ip)
    }

    /// Redis's `INFO all` text.
    pub fn redis_info(&self) -> Result<String, BenchError> {
        match self.redis.command(&["INFO", "all"])? {
            Reply::Bulk(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
            other => Err(BenchError::Failed(format!("INFO answered {other:?}"))),
        }
    }
}

/// A numeric field of an `INFO` text (e.g. `total_commands_processed`).
pub fn info_number(info: &str, field: &str) -> Result<u64, BenchError> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| BenchError::Failed(format!("Redis INFO has no {field}")))
}

/// `POST /api/v1/auth/json{query}` to `addr`.
pub fn login_to(addr: SocketAddr, query: &str, user: &str, password: &str, client_ip: &str) -> Vec<u8> {
    post_json(
        addr,
        &format!("/api/v1/auth/json{query}"),
        &login_body(user, password, client_ip),
    )
}

/// The JSON body of a login, as Dovecot's Lua client sends it (IMAP, with the client's address).
pub fn login_body(user: &str, password: &str, client_ip: &str) -> String {
    serde_json::json!({
        "username": user,
        "password": password,
        "protocol": "imap",
        "method": "PLAIN",
        "client_ip": client_ip,
        "client_port": "51234",
        "local_ip": "127.0.0.1",
        "local_port": "993",
        "ssl": "on",
    })
    .to_string()
}
