//! `nauthilus`: the server binary.

use std::process::ExitCode;

use clap::Parser;
use nauthilus::cli::{Cli, Command, UsersAction};
use nauthilus_config::{LoadedConfig, find_config_file, load_file};

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
    let loaded = match find_config_file(cli.config.as_deref())
        .and_then(|path| load_file(&path, nauthilus::process_env()))
    {
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
    nauthilus::logging::init(&loaded.config.server.log);
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
    runtime.block_on(run(loaded))
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

async fn run(loaded: LoadedConfig) -> ExitCode {
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
        config = %loaded.source.display(),
        store = server.services.store.kind(),
        backends = ?config.server.backends.iter().map(ToString::to_string).collect::<Vec<_>>(),
        version = env!("CARGO_PKG_VERSION"),
        "nauthilus listening"
    );
    tokio::select! {
        result = server.wait() => {
            if let Err(e) = result {
                tracing::error!(error = %e, "server stopped");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        () = shutdown_signal() => {
            tracing::info!("shutting down: finishing requests in flight");
            match server.shutdown().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "shutdown failed");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Resolves on SIGINT or SIGTERM. SIGHUP is caught (it would otherwise kill the process) and
/// logged: configuration reload is not implemented yet.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = term.recv() => return,
            _ = hup.recv() => tracing::warn!("SIGHUP: configuration reload is not implemented yet; restart to apply changes (passwd_file reloads by itself)"),
        }
    }
}
