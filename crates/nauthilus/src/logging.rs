//! Log output as `server.log` asks: text or JSON lines, level, colour.
//!
//! Every log line is one line whatever a field holds: request fields come from the network (a
//! `X-Client-Port: 1%0aFAKE ...` header, a JSON `"\n"` escape), so the text format escapes control
//! characters in every field value and message ([`EscapingFields`]); the JSON format escapes C0
//! control characters as JSON must, and [`JsonLineSafe`] escapes the rest (DEL, C1, U+2028/9),
//! which JSON allows raw but some line readers take as line breaks.

use std::fmt;
use std::sync::Arc;

use nauthilus_config::{LogConfig, LogLevel};
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

/// Lines the background log writer queues; beyond that, lines are dropped (and counted in
/// `log_lines_dropped_total`) rather than stalling a request on a slow terminal or journal.
pub const LOG_QUEUE_LINES: usize = 128 * 1024;

/// Our crates, as tracing targets (module paths).
const OUR_CRATES: &[&str] = &[
    "nauthilus",
    "nauthilus_config",
    "nauthilus_core",
    "nauthilus_store",
    "nauthilus_backends",
    "nauthilus_http",
    "nauthilus_tls",
];

/// The tracing targets of each `server.log.debug_modules` name. Nauthilus modules for features
/// nauthilus-rs does not have (hydra, webauthn, rbl, lua, ...) have none.
fn module_targets(module: &str) -> &'static [&'static str] {
    match module {
        "auth" => &["nauthilus::auth", "nauthilus_core::pipeline"],
        "ldap" => &["nauthilus_backends::ldap", "nauthilus_core::backend::ldap"],
        "ldappool" => &["nauthilus_backends::ldap::pool"],
        "cache" => &[
            "nauthilus_store",
            "nauthilus_core::memory_cache",
            "nauthilus_core::backend::positive_cache",
            "nauthilus_core::pipeline::memory_cache",
        ],
        "brute_force" | "tolerate" => &[
            "nauthilus_core::brute_force",
            "nauthilus_core::pipeline::brute_force",
        ],
        "http" => &["nauthilus::http", "nauthilus_http"],
        "statistics" => &[
            "nauthilus_core::metrics",
            "nauthilus_http::metrics",
            "nauthilus_http::health",
        ],
        "account" => &["nauthilus_core::account_mapping"],
        "filter" => &["nauthilus_core::pipeline::filters"],
        "action" => &["nauthilus_core::pipeline::post_actions"],
        "jwt" => &["nauthilus::jwt", "nauthilus_http::jwt"],
        _ => &[],
    }
}

/// The filter directives `config` asks for. Level `debug` with no `debug_modules` (or with
/// `all`) logs our crates at debug; with modules, only their targets log at debug and the rest
/// at info. Other crates (hyper, redis, ldap3) stay at info unless `RUST_LOG` says otherwise.
pub fn directives(config: &LogConfig) -> String {
    let base = match config.level {
        LogLevel::None => return "off".into(),
        LogLevel::Error => return "error".into(),
        LogLevel::Warn => return "warn".into(),
        LogLevel::Notice | LogLevel::Info => return "info".into(),
        LogLevel::Debug => "info",
    };
    let modules = &config.debug_modules;
    let targets: Vec<&str> = if modules.is_empty() || modules.iter().any(|m| m == "all") {
        OUR_CRATES.to_vec()
    } else {
        modules.iter().flat_map(|m| module_targets(m)).copied().collect()
    };
    let mut out = base.to_owned();
    for target in targets {
        out.push(',');
        out.push_str(target);
        out.push_str("=debug");
    }
    out
}

/// The level filter of `config`, or `RUST_LOG` when that is set.
pub fn filter(config: &LogConfig) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(directives(config)))
}

/// What `main` holds for the process' lifetime: the background writer (dropping it flushes the
/// queued lines) and the handle that puts a new level in force.
pub struct LogGuard {
    _writer: WorkerGuard,
    filter: FilterHandle,
}

impl LogGuard {
    /// Puts `config`'s level and debug modules in force (on a reload); `RUST_LOG`, when set,
    /// still wins.
    pub fn apply(&self, config: &LogConfig) {
        if let Err(e) = self.filter.reload(filter(config)) {
            tracing::warn!(error = %e, "new log level not applied");
        }
    }
}

/// Installs the global subscriber, writing to stderr through a bounded background writer
/// ([`LOG_QUEUE_LINES`]; lines beyond it are dropped and counted). `RUST_LOG`, when set,
/// refines the configured level. A second call (tests start several servers in one process)
/// keeps the first subscriber and returns `None`.
pub fn init(config: &LogConfig) -> Option<LogGuard> {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("nauthilus-log")
        .finish(std::io::stderr());
    let dropped = writer.error_counter();
    let (subscriber, handle) = reloadable(config, filter(config), writer);
    subscriber.try_init().ok()?;
    nauthilus_core::metrics::global().set_log_drop_source(Arc::new(move || dropped.dropped_lines() as u64));
    Some(LogGuard {
        _writer: guard,
        filter: handle,
    })
}

type Filtered = Layered<reload::Layer<EnvFilter, Registry>, Registry>;
/// The formatting layer (text or JSON) over the filtered registry.
type Formatted = Layered<Box<dyn Layer<Filtered> + Send + Sync>, Filtered>;
type FilterHandle = reload::Handle<EnvFilter, Registry>;

/// The subscriber for `config` (format and colour) with `filter`, writing lines to `writer`.
pub fn subscriber<W>(config: &LogConfig, filter: EnvFilter, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    Box::new(reloadable(config, filter, writer).0)
}

/// [`subscriber`], with the handle that replaces its filter.
fn reloadable<W>(config: &LogConfig, filter: EnvFilter, writer: W) -> (Formatted, FilterHandle)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let (filter, handle) = reload::Layer::new(filter);
    let format: Box<dyn Layer<Filtered> + Send + Sync> = if config.json {
        Box::new(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_writer(JsonLineSafe(writer)),
        )
    } else {
        Box::new(
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .fmt_fields(EscapingFields)
                .with_ansi(config.color),
        )
    };
    (Registry::default().with(filter).with(format), handle)
}

/// The text format's field formatter: `name=value` separated by spaces, the message bare, like
/// tracing-subscriber's default, but with every control character (and the Unicode line and
/// paragraph separators) in names, values and messages written as an escape (`\n`, `\r`, `\t`,
/// `\u{1b}`), so that no field can end the line or forge another one.
#[derive(Clone, Copy, Debug, Default)]
pub struct EscapingFields;

impl<'writer> FormatFields<'writer> for EscapingFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = EscapingVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct EscapingVisitor<'writer> {
    writer: Writer<'writer>,
    first: bool,
    result: fmt::Result,
}

impl Visit for EscapingVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        // The `log` crate's metadata, already shown as target and location.
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        let separator = if std::mem::take(&mut self.first) { "" } else { " " };
        let mut out = Escaping(&mut self.writer);
        self.result = if name == "message" {
            fmt::Write::write_fmt(&mut out, format_args!("{separator}{value:?}"))
        } else {
            let name = name.strip_prefix("r#").unwrap_or(name);
            fmt::Write::write_fmt(&mut out, format_args!("{separator}{name}={value:?}"))
        };
    }
}

/// A `fmt::Write` that escapes control characters on their way to the inner writer.
struct Escaping<'a, W>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(at) = rest.find(needs_escape) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                c => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Wraps the writer of the JSON format: DEL, C1 control characters and U+2028/U+2029, which
/// JSON allows unescaped, are written as `\uXXXX` escapes. In a JSON line they can only occur
/// inside strings, where the escape means the same character.
#[derive(Debug)]
pub struct JsonLineSafe<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for JsonLineSafe<M> {
    type Writer = JsonLineSafe<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        JsonLineSafe(self.0.make_writer())
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        JsonLineSafe(self.0.make_writer_for(meta))
    }
}

impl<W: std::io::Write> std::io::Write for JsonLineSafe<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The formatter hands over each line whole, as one valid UTF-8 buffer.
        match std::str::from_utf8(buf) {
            Ok(line) if line.contains(needs_json_escape) => {
                let mut escaped = String::with_capacity(line.len() + 16);
                for c in line.chars() {
                    if needs_json_escape(c) {
                        escaped.push_str(&format!("\\u{:04x}", u32::from(c)));
                    } else {
                        escaped.push(c);
                    }
                }
                self.0.write_all(escaped.as_bytes())?;
                Ok(buf.len())
            }
            _ => self.0.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn needs_json_escape(c: char) -> bool {
    ('\u{7f}'..='\u{9f}').contains(&c) || c == '\u{2028}' || c == '\u{2029}'
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    const EVIL: &str = "1\nFAKE INFO authentication ok username=admin\r\u{1b}[2J\u{85}\u{2028}end";

    /// Logs one event with hostile values in a Display field, a Debug field, a string field, a
    /// span field and the message, through the real subscriber for `config`.
    fn log_evil(json: bool, color: bool) -> String {
        let config = LogConfig {
            json,
            color,
            level: LogLevel::Debug,
            ..LogConfig::default()
        };
        let capture = Capture::default();
        let sub = subscriber(&config, EnvFilter::new("debug"), capture.clone());
        tracing::subscriber::with_default(sub, || {
            let span = tracing::info_span!("request", client = %EVIL);
            let _entered = span.enter();
            let owned = EVIL.to_owned();
            tracing::info!(client_port = %EVIL, user_agent = ?EVIL, service = owned.as_str(), "auth {}", EVIL);
        });
        let bytes = capture.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    /// One line, and no raw control character from the fields (with colour, the formatter's own
    /// colour codes are ESC sequences; the field's `ESC[2J` must still not be there raw).
    fn assert_one_clean_line(out: &str, color: bool) {
        assert!(out.ends_with('\n'), "{out:?}");
        let line = &out[..out.len() - 1];
        assert!(
            !line.contains(['\n', '\r', '\u{85}', '\u{2028}']),
            "a raw line break reached the log: {out:?}"
        );
        assert!(!line.contains("\u{1b}[2J"), "a raw ESC reached the log: {out:?}");
        if !color {
            assert!(!line.contains('\u{1b}'), "a raw ESC reached the log: {out:?}");
        }
    }

    #[test]
    fn text_lines_escape_control_characters_in_every_field() {
        for color in [false, true] {
            let out = log_evil(false, color);
            assert_one_clean_line(&out, color);
            // Display field, message, span field: escaped but readable.
            assert!(
                out.contains(
                    r"client_port=1\nFAKE INFO authentication ok username=admin\r\u{1b}[2J\u{85}\u{2028}end"
                ),
                "{out}"
            );
            assert!(out.contains(r"auth 1\nFAKE"), "{out}");
            assert!(out.contains(r"client=1\nFAKE"), "{out}");
            assert!(out.contains("user_agent=\"1\\nFAKE"), "{out}");
            assert!(out.contains("service=\"1\\nFAKE"), "{out}");
        }
    }

    #[test]
    fn json_lines_escape_control_characters_in_every_field() {
        let out = log_evil(true, false);
        assert_one_clean_line(&out, false);
        let json: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
        assert_eq!(json["client_port"], EVIL);
        assert_eq!(json["service"], EVIL);
        assert_eq!(json["message"], format!("auth {EVIL}"));
        assert_eq!(json["spans"][0]["client"], EVIL);
    }

    #[test]
    fn debug_modules_turn_on_debug_for_their_targets_only() {
        let mut config = LogConfig {
            level: LogLevel::Debug,
            ..LogConfig::default()
        };
        assert!(
            directives(&config).contains("nauthilus_core=debug"),
            "{}",
            directives(&config)
        );
        config.debug_modules = vec!["ldap".into(), "auth".into()];
        let d = directives(&config);
        assert!(d.starts_with("info,"), "{d}");
        assert!(d.contains("nauthilus_backends::ldap=debug"), "{d}");
        assert!(d.contains("nauthilus::auth=debug"), "{d}");
        assert!(!d.contains("nauthilus_store=debug"), "{d}");
        config.debug_modules.push("all".into());
        assert!(directives(&config).contains("nauthilus_store=debug"));
        config.level = LogLevel::Info;
        assert_eq!(directives(&config), "info", "modules only matter at level debug");
        // The directives parse, and a debug event of a listed module passes the filter.
        config.level = LogLevel::Debug;
        config.debug_modules = vec!["ldap".into()];
        let capture = Capture::default();
        let sub = subscriber(&config, EnvFilter::new(directives(&config)), capture.clone());
        tracing::subscriber::with_default(sub, || {
            tracing::debug!(target: "nauthilus_backends::ldap::pool", "pool debug");
            tracing::debug!(target: "nauthilus_store", "store debug");
        });
        let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        assert!(out.contains("pool debug"), "{out}");
        assert!(!out.contains("store debug"), "{out}");
    }

    /// A writer that blocks until released, like a stalled terminal or journal.
    struct Stalled(Arc<(Mutex<bool>, std::sync::Condvar)>);

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let (open, cv) = &*self.0;
            let mut open = open.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_log_writer_drops_and_counts_lines_instead_of_blocking() {
        let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let (writer, guard) = NonBlockingBuilder::default()
            .lossy(true)
            .buffered_lines_limit(4)
            .finish(Stalled(gate.clone()));
        let dropped = writer.error_counter();
        let config = LogConfig::default();
        let sub = subscriber(&config, EnvFilter::new("info"), writer);
        tracing::subscriber::with_default(sub, || {
            for i in 0..100 {
                tracing::info!(i, "line");
            }
        });
        assert!(
            dropped.dropped_lines() >= 90,
            "dropped {}",
            dropped.dropped_lines()
        );
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        drop(guard);
    }
}
