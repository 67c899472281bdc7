//! Log output as `server.log` asks: text or JSON lines, level, colour.
//!
//! Every log line is one line whatever a field holds: request fields come from the network (a
//! `X-Client-Port: 1%0aFAKE ...` header, a JSON `"\n"` escape), so the text format escapes control
//! characters in every field value and message ([`EscapingFields`]); the JSON format escapes C0
//! control characters as JSON must, and [`JsonLineSafe`] escapes the rest (DEL, C1, U+2028/9),
//! which JSON allows raw but some line readers take as line breaks.

use std::fmt;

use nauthilus_config::{LogConfig, LogLevel};
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::util::SubscriberInitExt;

/// Changes the level filter of the subscriber [`init`] installed (SIGHUP applies the new
/// `server.log.level` through it).
pub type LevelHandle = tracing_subscriber::reload::Handle<EnvFilter, Box<dyn Subscriber + Send + Sync>>;

/// Installs the global subscriber, writing to stderr. `RUST_LOG`, when set, refines the
/// configured level. A second call (tests start several servers in one process) keeps the first
/// subscriber and returns `None`. The level filter sits in a reloadable layer over the
/// formatting subscriber (which itself lets everything through), so that the returned handle
/// can raise the level as well as lower it.
pub fn init(config: &LogConfig) -> Option<LevelHandle> {
    use tracing_subscriber::layer::Layer;
    let (level, handle) = tracing_subscriber::reload::Layer::new(filter(config));
    let format = subscriber(config, EnvFilter::new("trace"), std::io::stderr);
    level.with_subscriber(format).try_init().ok().map(|()| handle)
}

/// The level filter of `config`, or `RUST_LOG` when that is set.
pub fn filter(config: &LogConfig) -> EnvFilter {
    let level = match config.level {
        LogLevel::None => "off",
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Notice | LogLevel::Info => "info",
        LogLevel::Debug => "debug",
    };
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level))
}

/// The subscriber for `config` (format and colour) with `filter`, writing lines to `writer`.
pub fn subscriber<W>(config: &LogConfig, filter: EnvFilter, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if config.json {
        Box::new(
            builder
                .with_writer(JsonLineSafe(writer))
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .finish(),
        )
    } else {
        Box::new(
            builder
                .with_writer(writer)
                .fmt_fields(EscapingFields)
                .with_ansi(config.color)
                .finish(),
        )
    }
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
}
