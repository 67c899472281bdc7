//! Real services for integration tests, started privately on free loopback ports.
//!
//! Tests never talk to services that happen to run on the machine (a system redis on 6379 is
//! left alone): every service here is a fresh process on `127.0.0.1:<port chosen by the
//! kernel>`, with its own temporary directory, no persistence (`save ""`, `appendonly no`) and
//! its log file in that directory.
//!
//! - [`RedisServer`]: one redis-server; options for `requirepass`, an ACL user and raw config
//!   lines; [`RedisServer::stop`] and [`RedisServer::start_again`] (same port, same directory)
//!   for fault tests.
//! - [`RedisCluster`]: N masters (default 3) joined by `redis-cli --cluster create`, ready once
//!   every node reports `cluster_state:ok`.
//! - [`RedisSentinelSet`]: a master, optionally a replica, and 1–3 sentinels
//!   (`redis-server <conf> --sentinel`), ready once every sentinel reports the master.
//! - [`Slapd`]: OpenLDAP's slapd (mdb) loaded from an LDIF fixture with `slapadd`, on a plain
//!   port (StartTLS), an `ldaps://` port and a Unix socket, with a CA and certificates generated
//!   at start ([`TestCerts`]); [`Slapd::stop`], [`Slapd::start_again`], [`Slapd::pause`] (a hung
//!   server) and [`Slapd::resume`] for fault tests.
//! - [`Postgres`]: a PostgreSQL cluster made by `initdb` in the temporary directory (superuser
//!   `postgres`, trust authentication), run as the `postgres` account through `setpriv` when
//!   the tests run as root.
//! - [`MariaDb`]: a MariaDB server made by `mariadb-install-db` (root without password), with
//!   its own socket, port and no system my.cnf.
//! - [`DnsServer`]: an authoritative DNS server (hickory-server) inside the test process, on a
//!   free loopback port (UDP and TCP), serving [`Zone`]s the test builds; async, unlike the rest.
//! - [`Browser`]: Debian's headless Chromium driven by playwright-core (the node project in
//!   `tests/browser/`), one per test binary ([`shared_browser`]), an isolated
//!   [`BrowserContext`] per test; async as well.
//!
//! # One managed process
//!
//! Every service process is a `process::ManagedProcess`: start on free ports with retries when
//! another process takes a port first, a readiness probe, classification of an exit while
//! starting (port taken or crashed), the log tail in every error, stop/restart on the same ports,
//! and stop on drop. A service type only supplies a `process::Service` (program, ports, config
//! text, probe); adding one (PostgreSQL, MariaDB) means writing those and nothing else.
//!
//! # Sharing and cleanup
//!
//! Each test binary shares one instance per service through [`shared_redis`],
//! [`shared_redis_cluster`], [`shared_redis_sentinel`] and [`shared_slapd`] (statics, so never dropped). Cleanup
//! therefore does not rely on `Drop`: every service process runs under a tiny `sh` supervisor
//! whose stdin is a pipe held only by the test process. When the test process ends for any
//! reason (normal exit, panic, SIGKILL) the kernel closes the pipe; the supervisor reads end of
//! file, kills the service and deletes its directory. Dropping a non-static instance closes the
//! pipe too and waits until the process is gone. (`PR_SET_PDEATHSIG` is not used: it fires when
//! the spawning *thread* exits.)
//!
//! # Blocking API
//!
//! Everything is synchronous (`std::process`, `std::net`), so any test can call it. Async tests
//! may call it directly: starting blocks the calling worker thread for a moment (about 15 ms for
//! a server, 30–60 ms for a sentinel set, 2–3 s for a cluster, whose nodes refuse to report
//! `cluster_state:ok` during their first 2 s), which is harmless in a test.
//!
//! # Requirements
//!
//! Debian package `redis-server` (it provides `/usr/bin/redis-server`, which also runs sentinels
//! with `--sentinel`, and depends on `redis-tools`, which provides `/usr/bin/redis-cli`):
//! `apt-get install redis-server`. Programs are looked up on `PATH`, then in `/usr/bin` and
//! `/usr/sbin`. Debian packages `slapd` and `ldap-utils` for [`Slapd`] (it runs `slapadd` and
//! `slapd`, loads `/usr/lib/ldap/back_mdb.so` and the schemas in `/etc/ldap/schema`). Debian
//! packages `postgresql` (programs in `/usr/lib/postgresql/<version>/bin`) for [`Postgres`] and
//! `mariadb-server` for [`MariaDb`]; the system servers those packages may run are left alone.
//! Debian packages `chromium` and `nodejs` plus `npm ci --prefix tests/browser` for [`Browser`].
//! Linux is assumed (`/proc` is used to notice a server that died while starting).

// Test infrastructure: it times service start-up itself.
#![allow(clippy::disallowed_methods)]

mod binary;
mod browser;
mod cluster;
mod dns;
mod error;
mod mariadb;
mod port;
mod postgres;
mod process;
mod resp;
mod sentinel;
mod server;
mod shared;
mod slapd;
mod supervisor;
mod tls;
mod wait;

pub use browser::{Browser, BrowserContext, Navigation, shared_browser};
pub use cluster::{RedisCluster, RedisClusterBuilder};
pub use dns::{DnsServer, Zone};
pub use error::TestkitError;
pub use mariadb::{MARIADB_USER, MariaDb, MariaDbBuilder};
pub use postgres::{POSTGRES_USER, Postgres, PostgresBuilder};
pub use resp::Reply;
pub use sentinel::{RedisSentinelSet, RedisSentinelSetBuilder};
pub use server::{RedisServer, RedisServerBuilder};
pub use shared::{
    shared_mariadb, shared_postgres, shared_redis, shared_redis_cluster, shared_redis_sentinel, shared_slapd,
};
pub use slapd::{ADMIN_DN, ADMIN_PASSWORD, DEFAULT_LDIF, SUFFIX, Slapd, SlapdBuilder};
pub use tls::{CLIENT_CERT_CN, TestCerts};
