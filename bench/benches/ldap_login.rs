//! LDAP login rate: the server's `POST /api/v1/auth/json` (backend `ldap` only, in-process cache
//! off, so every login is a search plus a user bind) against a bare ldap3 loop doing the same
//! search and bind on the same private slapd, with the same concurrency. Prints both rates and
//! their ratio.
//!
//!     cargo bench -p nauthilus-bench --bench ldap_login
//!
//! `LDAP_BENCH_SECS` (default 5) sets the measuring time per side, `LDAP_BENCH_CONCURRENCY`
//! (default 4) the number of concurrent clients.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ldap3::{LdapConnAsync, Scope, SearchEntry};
use nauthilus_testkit::{ADMIN_DN, ADMIN_PASSWORD, Slapd};

const PEOPLE: &str = "ou=people,dc=example,dc=test";
const FILTER: &str = "(&(objectClass=inetOrgPerson)(uid=alice))";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `clients` copies of `login` for `warmup + measure` and returns logins per second
/// during `measure`.
async fn rate<F, Fut>(clients: u64, warmup: Duration, measure: Duration, login: F) -> f64
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let login = Arc::new(login);
    let counted = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let (from, until) = (start + warmup, start + warmup + measure);
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (login, counted) = (login.clone(), counted.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let now = Instant::now();
                if now >= until {
                    break;
                }
                login(client).await;
                if now >= from {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    counted.load(Ordering::Relaxed) as f64 / measure.as_secs_f64()
}

async fn server_rate(slapd: &Slapd, clients: u64, warmup: Duration, measure: Duration) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "server:\n  address: 127.0.0.1:0\n  backends: [ldap]\n  log: {{level: error}}\nlocal_cache_auth_ttl: 0\nldap:\n  config:\n    server_uri: '{}'\n    bind_dn: '{ADMIN_DN}'\n    bind_pw: '{ADMIN_PASSWORD}'\n    lookup_pool_size: {clients}\n    auth_pool_size: {clients}\n  search:\n    - protocol: default\n      base_dn: '{PEOPLE}'\n      filter: {{user: '(&(objectClass=inetOrgPerson)(uid=%L{{user}}))'}}\n      mapping: {{account_field: uid}}\n      attribute: [mail, cn]\n",
        slapd.url()
    );
    let path = dir.path().join("nauthilus.yml");
    std::fs::write(&path, yaml).unwrap();
    let loaded = nauthilus_config::load_file(&path, Vec::new()).unwrap();
    let server = nauthilus::start(&loaded.config).await.unwrap();
    let url = format!("{}/api/v1/auth/json", server.url());
    // reqwest may be built with rustls and no provider of its own (the server's TLS tests).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::try_from(clients).unwrap_or(1))
        .build()
        .unwrap();
    let body = serde_json::json!({"username": "alice", "password": "alice-secret", "protocol": "imap"});
    let check = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(check.status(), 200, "server login works before measuring");
    rate(clients, warmup, measure, move |_| {
        let (http, url, body) = (http.clone(), url.clone(), body.clone());
        async move {
            let r = http.post(&url).json(&body).send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
    })
    .await
}

async fn bare_rate(slapd: &Slapd, clients: u64, warmup: Duration, measure: Duration) -> f64 {
    // One lookup and one auth connection per client, as the server's pools hold them.
    let mut connections = Vec::new();
    for _ in 0..clients {
        let (conn, mut lookup) = LdapConnAsync::new(&slapd.url()).await.unwrap();
        ldap3::drive!(conn);
        lookup
            .simple_bind(ADMIN_DN, ADMIN_PASSWORD)
            .await
            .unwrap()
            .success()
            .unwrap();
        let (conn, auth) = LdapConnAsync::new(&slapd.url()).await.unwrap();
        ldap3::drive!(conn);
        connections.push(tokio::sync::Mutex::new((lookup, auth)));
    }
    let connections = Arc::new(connections);
    rate(clients, warmup, measure, move |client| {
        let connections = connections.clone();
        async move {
            let mut pair = connections[usize::try_from(client).unwrap_or(0)].lock().await;
            let (lookup, auth) = &mut *pair;
            let (entries, _) = lookup
                .search(PEOPLE, Scope::Subtree, FILTER, vec!["mail", "cn", "uid"])
                .await
                .unwrap()
                .success()
                .unwrap();
            let dn = SearchEntry::construct(entries.into_iter().next().unwrap()).dn;
            let bound = auth.simple_bind(&dn, "alice-secret").await.unwrap();
            assert_eq!(bound.rc, 0);
        }
    })
    .await
}

fn main() {
    // cargo bench passes `--bench`; a plain `cargo test --benches` run passes nothing: skip then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("ldap_login: run with `cargo bench -p nauthilus-bench --bench ldap_login`");
        return;
    }
    let secs = env_number("LDAP_BENCH_SECS", 5);
    let clients = env_number("LDAP_BENCH_CONCURRENCY", 4).max(1);
    let (warmup, measure) = (Duration::from_secs(1), Duration::from_secs(secs.max(1)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let slapd = Slapd::builder().tls(false).start().unwrap();
    runtime.block_on(async {
        let bare = bare_rate(&slapd, clients, warmup, measure).await;
        let server = server_rate(&slapd, clients, warmup, measure).await;
        println!("\nLDAP login rate, {clients} concurrent clients, {secs} s each, same slapd");
        println!("  bare ldap3 search + bind loop          {bare:>10.0} logins/s");
        println!("  nauthilus POST /api/v1/auth/json       {server:>10.0} logins/s");
        println!("  ratio server / bare                    {:>10.2}", server / bare);
    });
}
