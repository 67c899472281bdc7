//! Log output as `server.log` asks: text or JSON lines, level, colour.

use nauthilus_config::{LogConfig, LogLevel};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG`, when set, refines the configured level.
pub fn init(config: &LogConfig) {
    let level = match config.level {
        LogLevel::None => "off",
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Notice | LogLevel::Info => "info",
        LogLevel::Debug => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests start several servers in one process) keeps the first subscriber.
    let _ = if config.json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder.with_ansi(config.color).try_init()
    };
}
