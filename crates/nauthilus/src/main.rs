//! `nauthilus`: the server binary.

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use nauthilus::cli::{Cli, Command, UsersAction};
use nauthilus::logging::LogGuard;
use nauthilus_config::{LoadedConfig, find_config_file, load_file};

/// mimalloc instead of glibc's malloc: a login allocates and frees a few dozen small blocks, and
/// glibc's `malloc`/`free` (with `malloc_consolidate`) were about a fifth of a cached login's
/// instructions under callgrind.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Users { action }) = &cli.command {
        return users(action);
    }
    if cli.config_schema {
        print!("{}", nauthilus_config::json_schema_text());
        return ExitCode::SUCCESS;
    }
    // One crypto provider for every TLS user (Redis, later LDAP and the listener).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let path = match find_config_file(cli.config.as_deref()) {
        Ok(path) => path,
        Err(errors) => {
            for d in errors.warnings.iter().chain(&errors.errors) {
                eprintln!("{d}");
            }
            eprintln!("{} configuration error(s); not starting", errors.errors.len());
            return ExitCode::FAILURE;
        }
    };
    let loaded = match load_file(&path, nauthilus::process_env()) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for d in errors.warnings.iter().chain(&errors.errors) {
                eprintln!("{d}");
            }
            eprintln!("{} configuration error(s); not starting", errors.errors.len());
            return ExitCode::FAILURE;
        }
    };
    if cli.config_check {
        return config_check(&loaded);
    }
    // Held to the end of main: dropping it flushes the lines still queued for the log writer
    // (it is declared before the runtime, so it is dropped after it); reloads apply the new
    // level through it.
    let log = nauthilus::logging::init(&loaded.config.server.log);
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(loaded, &path, log.as_ref()))
}

/// `nauthilus users ...`: one command on the embedded SQLite user store.
fn users(action: &UsersAction) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdin = std::io::stdin().lock();
    match runtime.block_on(nauthilus::users::run(action, &mut stdin)) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn config_check(loaded: &LoadedConfig) -> ExitCode {
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    // Files the config names must load too (a passwd-file with a bad line, an unreadable TLS CA
    // file): they fail here, not at 3 a.m. Nothing connects to Redis here.
    let mut errors = Vec::new();
    if let Err(e) = nauthilus::wiring::open_passwd_file(&loaded.config) {
        errors.push(e.to_string());
    }
    if let Err(e) = nauthilus::wiring::check_ldap(&loaded.config) {
        errors.push(e.to_string());
    }
    if let Err(e) = nauthilus::wiring::check_sql(&loaded.config) {
        errors.push(e.to_string());
    }
    if let Err(e) = nauthilus_store::Store::check_config(&loaded.config.server.redis) {
        errors.push(nauthilus::StartupError::from(e).to_string());
    }
    if let Err(e) = nauthilus::server::check_transport(&loaded.config) {
        errors.push(e.to_string());
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("error: {e}");
        }
        eprintln!("{} configuration error(s)", errors.len());
        return ExitCode::FAILURE;
    }
    println!("{}: configuration OK", loaded.source.display());
    ExitCode::SUCCESS
}

async fn run(loaded: LoadedConfig, path: &Path, log: Option<&LogGuard>) -> ExitCode {
    use tokio::signal::unix::{SignalKind, signal};
    // Installed before serving, so that a SIGHUP or SIGTERM that arrives early is not fatal.
    let (mut term, mut hup) = match (signal(SignalKind::terminate()), signal(SignalKind::hangup())) {
        (Ok(term), Ok(hup)) => (term, hup),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("cannot install the signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = &loaded.config;
    let mut server = match nauthilus::start(config).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        instance = %config.server.instance_name,
        address = %server.addr,
        tls = config.server.tls.enabled,
        haproxy_v2 = config.server.haproxy_v2,
        config = %loaded.source.display(),
        store = server.services.store.kind(),
        backends = ?config.server.backends.iter().map(ToString::to_string).collect::<Vec<_>>(),
        version = env!("CARGO_PKG_VERSION"),
        "nauthilus listening"
    );
    loop {
        tokio::select! {
            result = server.wait() => {
                if let Err(e) = result {
                    tracing::error!(error = %e, "server stopped");
                    return ExitCode::FAILURE;
                }
                return ExitCode::SUCCESS;
            }
            _ = hup.recv() => {
                tracing::info!(config = %path.display(), "SIGHUP: reloading the configuration");
                nauthilus::reload_from_file(&server, path, nauthilus::process_env(), log).await;
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    tracing::info!("shutting down: no new connections; finishing requests in flight");
    match server.shutdown().await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "shutdown failed");
            ExitCode::FAILURE
        }
    }
}
