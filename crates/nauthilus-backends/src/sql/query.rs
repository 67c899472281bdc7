//! Query templates: SQL text with Dovecot-style macros (`%{user}`, `%L{user}`, `%{domain}`, ...).
//!
//! A template is parsed once at startup into SQL for one driver, with every macro replaced by a
//! placeholder (`$1`, `$2`, ... for PostgreSQL, `?` for MySQL/MariaDB and SQLite), and the list
//! of values to bind, in placeholder order. Request values are only ever *bound*; they never
//! become part of the SQL text, so a user name cannot change what a query does.
//!
//! Dovecot queries quote their macros (`WHERE userid = '%u'`): a literal that is exactly one
//! macro (`'%{user}'`) is read as that macro, unquoted. A macro inside a longer literal
//! (`'%{user}@x'`) is refused with a hint to use `CONCAT`/`||` instead, as are placeholders
//! written by hand, which would shift the bound values.

use crate::ldap::MacroValues;
use crate::ldap::filter::{Modifiers, Variable};

/// The SQL dialect a template is written for; it decides the placeholder syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// `$1`, `$2`, ...
    Postgres,
    /// `?` (backslash escapes in string literals).
    MySql,
    /// `?`
    Sqlite,
}

impl Dialect {
    /// The dialect's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "PostgreSQL",
            Self::MySql => "MySQL",
            Self::Sqlite => "SQLite",
        }
    }
}

/// Why a query template was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error(
        "unknown macro %{{{0}}} (known: user, username, domain, protocol, service, local_ip, local_port, client_ip, remote_ip, remote_port, client_port, client_id)"
    )]
    UnknownVariable(String),
    #[error("unknown macro modifier {0:?} (known: L, U, R, T)")]
    UnknownModifier(char),
    #[error("macro without closing brace")]
    Unclosed,
    #[error(
        "macro inside a quoted string: macros become bound parameters, so write %{{user}} without quotes and build longer strings with CONCAT() or ||"
    )]
    QuotedMacro,
    #[error("placeholder {0:?} written in the query: name values with macros such as %{{user}} instead")]
    Placeholder(String),
    #[error("unterminated quoted string or comment")]
    Unterminated,
    #[error("empty query")]
    Empty,
}

/// A parsed query: SQL with placeholders and the macros to bind, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryTemplate {
    sql: String,
    params: Vec<Macro>,
}

impl QueryTemplate {
    /// Parses `template` for `dialect`.
    pub fn parse(template: &str, dialect: Dialect) -> Result<Self, QueryError> {
        let template = template.trim().trim_end_matches(';').trim_end();
        if template.is_empty() {
            return Err(QueryError::Empty);
        }
        let mut out = Parser {
            sql: String::with_capacity(template.len()),
            params: Vec::new(),
            dialect,
        };
        let mut rest = template;
        while let Some(c) = rest.chars().next() {
            rest = match c {
                '\'' => {
                    if let Some((macro_, after)) = whole_quoted_macro(rest)? {
                        out.push_param(macro_);
                        after
                    } else {
                        out.copy_quoted(rest, '\'')?
                    }
                }
                '"' | '`' => out.copy_quoted(rest, c)?,
                '-' if rest.starts_with("--") => out.copy_until(rest, "\n", true)?,
                '#' if dialect == Dialect::MySql => out.copy_until(rest, "\n", true)?,
                '/' if rest.starts_with("/*") => out.copy_until(rest, "*/", false)?,
                '%' => match parse_macro(rest)? {
                    Some((macro_, after)) => {
                        out.push_param(macro_);
                        after
                    }
                    None if rest.starts_with("%%") => {
                        out.sql.push('%');
                        &rest[2..]
                    }
                    None => {
                        out.sql.push('%');
                        &rest[1..]
                    }
                },
                '?' if dialect != Dialect::Postgres => return Err(QueryError::Placeholder("?".into())),
                '$' if dialect == Dialect::Postgres
                    && rest[1..].starts_with(|d: char| d.is_ascii_digit()) =>
                {
                    let digits = rest[1..]
                        .find(|d: char| !d.is_ascii_digit())
                        .unwrap_or(rest.len() - 1);
                    return Err(QueryError::Placeholder(rest[..=digits].to_owned()));
                }
                _ => {
                    out.sql.push(c);
                    &rest[c.len_utf8()..]
                }
            };
        }
        Ok(Self {
            sql: out.sql,
            params: out.params,
        })
    }

    /// The SQL text with placeholders.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// How many values the query binds.
    pub fn param_count(&self) -> usize {
        self.params.len()
    }

    /// The values to bind for one request, in placeholder order.
    pub fn bind_values(&self, values: &MacroValues<'_>) -> Vec<String> {
        self.params
            .iter()
            .map(|(modifiers, variable)| modifiers.apply(variable.value(values)))
            .collect()
    }
}

struct Parser {
    sql: String,
    params: Vec<(Modifiers, Variable)>,
    dialect: Dialect,
}

impl Parser {
    fn push_param(&mut self, param: (Modifiers, Variable)) {
        self.params.push(param);
        match self.dialect {
            Dialect::Postgres => {
                self.sql.push('$');
                self.sql.push_str(&self.params.len().to_string());
            }
            Dialect::MySql | Dialect::Sqlite => self.sql.push('?'),
        }
    }

    /// Copies a quoted string or identifier starting at `rest` (which starts with `quote`);
    /// a doubled quote is an escaped one, and so is a backslash escape in MySQL.
    fn copy_quoted<'a>(&mut self, rest: &'a str, quote: char) -> Result<&'a str, QueryError> {
        let body = &rest[1..];
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '\\' && self.dialect == Dialect::MySql && quote != '`' {
                chars.next();
                continue;
            }
            if c == '%' && parse_macro(&body[i..]).ok().flatten().is_some() {
                return Err(QueryError::QuotedMacro);
            }
            if c == quote {
                if body[i + 1..].starts_with(quote) {
                    chars.next();
                    continue;
                }
                let end = 1 + i + 1;
                self.sql.push_str(&rest[..end]);
                return Ok(&rest[end..]);
            }
        }
        Err(QueryError::Unterminated)
    }

    /// Copies a comment up to and including `end` (a line comment may also end the query).
    fn copy_until<'a>(&mut self, rest: &'a str, end: &str, eof_ends: bool) -> Result<&'a str, QueryError> {
        match rest.find(end) {
            Some(pos) => {
                let stop = pos + end.len();
                self.sql.push_str(&rest[..stop]);
                Ok(&rest[stop..])
            }
            None if eof_ends => {
                self.sql.push_str(rest);
                Ok("")
            }
            None => Err(QueryError::Unterminated),
        }
    }
}

/// One macro: its modifiers and variable.
type Macro = (Modifiers, Variable);
/// A macro found at the start of some text, and the text after it.
type Found<'a> = Option<(Macro, &'a str)>;

/// A macro at the start of `rest` (`%<modifiers>{name}`) and what follows it; `None` when `rest`
/// does not start with one (a literal `%`, e.g. in `LIKE 'a%'` or the modulo operator).
fn parse_macro(rest: &str) -> Result<Found<'_>, QueryError> {
    let Some(after) = rest.strip_prefix('%') else {
        return Ok(None);
    };
    let letters = after
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(after.len());
    let Some(body) = after[letters..].strip_prefix('{') else {
        return Ok(None);
    };
    let modifiers = Modifiers::parse(&after[..letters]).map_err(QueryError::UnknownModifier)?;
    let close = body.find('}').ok_or(QueryError::Unclosed)?;
    let name = body[..close].trim();
    let variable = Variable::parse(name).ok_or_else(|| QueryError::UnknownVariable(name.to_owned()))?;
    Ok(Some(((modifiers, variable), &body[close + 1..])))
}

/// `'%{macro}'` at the start of `rest`: a Dovecot-style quoted macro, read as the macro.
fn whole_quoted_macro(rest: &str) -> Result<Found<'_>, QueryError> {
    let inner = &rest[1..];
    if !inner.starts_with('%') {
        return Ok(None);
    }
    match parse_macro(inner) {
        Ok(Some((macro_, after))) => Ok(after.strip_prefix('\'').map(|after| (macro_, after))),
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> MacroValues<'static> {
        MacroValues {
            user: "Alice@Example.TEST",
            service: "imap",
            local_ip: "127.0.0.1",
            local_port: "993",
            remote_ip: "192.0.2.1",
            remote_port: "4711",
            client_id: "",
        }
    }

    #[test]
    fn macros_become_numbered_or_question_mark_placeholders() {
        let q = "SELECT password FROM users WHERE username = %L{user} AND domain = %{domain} AND %{protocol} <> ''";
        let pg = QueryTemplate::parse(q, Dialect::Postgres).unwrap();
        assert_eq!(
            pg.sql(),
            "SELECT password FROM users WHERE username = $1 AND domain = $2 AND $3 <> ''"
        );
        assert_eq!(
            pg.bind_values(&values()),
            vec!["alice@example.test", "Example.TEST", "imap"]
        );
        let my = QueryTemplate::parse(q, Dialect::MySql).unwrap();
        assert_eq!(
            my.sql(),
            "SELECT password FROM users WHERE username = ? AND domain = ? AND ? <> ''"
        );
        assert_eq!(my.param_count(), 3);
    }

    #[test]
    fn a_dovecot_style_quoted_macro_is_a_parameter() {
        let q = QueryTemplate::parse(
            "SELECT 1 FROM t WHERE u = '%{user}' AND p = '%{local_port}';",
            Dialect::Sqlite,
        )
        .unwrap();
        assert_eq!(q.sql(), "SELECT 1 FROM t WHERE u = ? AND p = ?");
        assert_eq!(q.bind_values(&values()), vec!["Alice@Example.TEST", "993"]);
    }

    #[test]
    fn literals_comments_and_percent_signs_are_kept() {
        let q = QueryTemplate::parse(
            "SELECT 'it''s %', \"col\" % 2 FROM t -- %{nonsense\nWHERE a LIKE 'x%' /* %{user} */ AND b = %{user}",
            Dialect::Postgres,
        )
        .unwrap();
        assert_eq!(
            q.sql(),
            "SELECT 'it''s %', \"col\" % 2 FROM t -- %{nonsense\nWHERE a LIKE 'x%' /* %{user} */ AND b = $1"
        );
        assert_eq!(q.param_count(), 1);
        let q = QueryTemplate::parse("SELECT 'a\\'b' = %%{user}", Dialect::MySql).unwrap();
        assert_eq!(q.sql(), "SELECT 'a\\'b' = %{user}");
        assert_eq!(q.param_count(), 0);
    }

    #[test]
    fn unsafe_or_broken_templates_are_refused() {
        let err = |q: &str, d| QueryTemplate::parse(q, d).unwrap_err();
        assert_eq!(
            err("SELECT 1 WHERE u = '%{user}@x'", Dialect::Postgres),
            QueryError::QuotedMacro
        );
        assert_eq!(
            err("SELECT 1 WHERE u = 'x-%{user}'", Dialect::MySql),
            QueryError::QuotedMacro
        );
        assert_eq!(
            err("SELECT 1 WHERE u = ?", Dialect::Sqlite),
            QueryError::Placeholder("?".into())
        );
        assert_eq!(
            err("SELECT 1 WHERE u = $12", Dialect::Postgres),
            QueryError::Placeholder("$12".into())
        );
        assert_eq!(
            err("SELECT %{nobody}", Dialect::Postgres),
            QueryError::UnknownVariable("nobody".into())
        );
        assert_eq!(
            err("SELECT %X{user}", Dialect::Postgres),
            QueryError::UnknownModifier('X')
        );
        assert_eq!(err("SELECT %{user", Dialect::Postgres), QueryError::Unclosed);
        assert_eq!(err("SELECT 'abc", Dialect::Postgres), QueryError::Unterminated);
        assert_eq!(err(" ; ", Dialect::Postgres), QueryError::Empty);
        // `?` is an operator in PostgreSQL (jsonb), fine there; `$tag$` quoting is not a placeholder.
        assert!(QueryTemplate::parse("SELECT j ? 'k', $x$a$x$ FROM t", Dialect::Postgres).is_ok());
    }

    #[test]
    fn hostile_values_are_bound_verbatim() {
        let q = QueryTemplate::parse("SELECT 1 FROM t WHERE u = %{user}", Dialect::Postgres).unwrap();
        let hostile = "x' OR '1'='1'; DROP TABLE t; -- %_\0";
        let v = MacroValues {
            user: hostile,
            ..MacroValues::default()
        };
        assert_eq!(q.sql(), "SELECT 1 FROM t WHERE u = $1");
        assert_eq!(q.bind_values(&v), vec![hostile.to_owned()]);
    }
}
