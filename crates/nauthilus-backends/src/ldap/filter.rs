//! Search filters with Dovecot-style macros (`%L{user}`, `%{domain}`, ...): templates are
//! checked once at startup, then expanded per request with every substituted value escaped for
//! LDAP filters (RFC 4515), so a user name can never change the filter's structure.

use std::fmt::Write as _;

/// The request values macros can name.
#[derive(Clone, Debug, Default)]
pub struct MacroValues<'a> {
    /// The login name as presented (`%{user}`).
    pub user: &'a str,
    /// The protocol (`%{service}`, `%{protocol}`).
    pub service: &'a str,
    pub local_ip: &'a str,
    pub local_port: &'a str,
    pub remote_ip: &'a str,
    pub remote_port: &'a str,
    /// The client id (`%{client_id}`).
    pub client_id: &'a str,
}

/// A macro variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variable {
    User,
    Username,
    Domain,
    Service,
    LocalIp,
    LocalPort,
    RemoteIp,
    RemotePort,
    ClientId,
}

impl Variable {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "user" => Self::User,
            "username" => Self::Username,
            "domain" => Self::Domain,
            "service" | "protocol" => Self::Service,
            "local_ip" => Self::LocalIp,
            "local_port" => Self::LocalPort,
            "remote_ip" | "client_ip" => Self::RemoteIp,
            "remote_port" | "client_port" => Self::RemotePort,
            "client_id" => Self::ClientId,
            _ => return None,
        })
    }

    pub(crate) fn value<'a>(self, v: &MacroValues<'a>) -> &'a str {
        match self {
            Self::User => v.user,
            // The local part: everything before the last `@` (the whole name without one).
            Self::Username => v.user.rsplit_once('@').map_or(v.user, |(local, _)| local),
            Self::Domain => v.user.rsplit_once('@').map_or("", |(_, domain)| domain),
            Self::Service => v.service,
            Self::LocalIp => v.local_ip,
            Self::LocalPort => v.local_port,
            Self::RemoteIp => v.remote_ip,
            Self::RemotePort => v.remote_port,
            Self::ClientId => v.client_id,
        }
    }
}

/// Modifiers between `%` and `{`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Modifiers {
    lower: bool,
    upper: bool,
    reverse: bool,
    trim: bool,
}

impl Modifiers {
    /// The modifier letters between `%` and `{` (`L`, `U`, `R`, `T`); an unknown one is returned.
    pub(crate) fn parse(letters: &str) -> Result<Self, char> {
        let mut modifiers = Self::default();
        for m in letters.chars() {
            match m {
                'L' => modifiers.lower = true,
                'U' => modifiers.upper = true,
                'R' => modifiers.reverse = true,
                'T' => modifiers.trim = true,
                other => return Err(other),
            }
        }
        Ok(modifiers)
    }

    pub(crate) fn apply(self, value: &str) -> String {
        let mut out = if self.trim { value.trim() } else { value }.to_owned();
        if self.lower {
            out = out.to_lowercase();
        }
        if self.upper {
            out = out.to_uppercase();
        }
        if self.reverse {
            out = out.chars().rev().collect();
        }
        out
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Macro(Modifiers, Variable),
}

/// A parsed filter template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterTemplate {
    parts: Vec<Part>,
}

/// Why a template was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "unknown macro %{{{0}}} (known: user, username, domain, service, local_ip, local_port, remote_ip, remote_port, client_id)"
    )]
    UnknownVariable(String),
    #[error("unknown macro modifier {0:?} (known: L, U, R, T)")]
    UnknownModifier(char),
    #[error("macro without closing brace")]
    Unclosed,
    #[error("parentheses do not balance")]
    Unbalanced,
}

impl FilterTemplate {
    /// Parses `template`. Lines are trimmed and joined, so a filter may be written over several
    /// indented YAML lines.
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let joined: String = template.lines().map(str::trim).collect();
        let mut depth: i64 = 0;
        for c in joined.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth < 0 {
                return Err(TemplateError::Unbalanced);
            }
        }
        if depth != 0 {
            return Err(TemplateError::Unbalanced);
        }
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = joined.as_str();
        while let Some(pos) = rest.find('%') {
            text.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(stripped) = after.strip_prefix('%') {
                text.push('%');
                rest = stripped;
                continue;
            }
            let modifier_len = after
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(after.len());
            if !after[modifier_len..].starts_with('{') {
                // Not a macro (e.g. a literal `%` in a value): keep it as written.
                text.push('%');
                rest = after;
                continue;
            }
            let modifiers =
                Modifiers::parse(&after[..modifier_len]).map_err(TemplateError::UnknownModifier)?;
            let body = &after[modifier_len + 1..];
            let close = body.find('}').ok_or(TemplateError::Unclosed)?;
            let name = body[..close].trim();
            let variable =
                Variable::parse(name).ok_or_else(|| TemplateError::UnknownVariable(name.to_owned()))?;
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(Part::Macro(modifiers, variable));
            rest = &body[close + 1..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Self { parts })
    }

    /// The filter for one request; every substituted value is escaped with [`escape_value`].
    pub fn expand(&self, values: &MacroValues<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Macro(modifiers, variable) => {
                    out.push_str(&escape_value(&modifiers.apply(variable.value(values))));
                }
            }
        }
        out
    }
}

/// Escapes a value for use inside an LDAP filter (RFC 4515): `*`, `(`, `)`, `\` and NUL become
/// `\2a`, `\28`, `\29`, `\5c`, `\00`.
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' | '(' | ')' | '\\' | '\0' => {
                let _ = write!(out, "\\{:02x}", u32::from(c));
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(user: &str) -> MacroValues<'_> {
        MacroValues {
            user,
            service: "imap",
            local_ip: "192.0.2.1",
            local_port: "993",
            remote_ip: "198.51.100.7",
            remote_port: "54321",
            client_id: "",
        }
    }

    fn expand(template: &str, user: &str) -> String {
        FilterTemplate::parse(template).unwrap().expand(&values(user))
    }

    #[test]
    fn user_username_and_domain() {
        assert_eq!(
            expand("(uid=%{user})", "Alice@Example.test"),
            "(uid=Alice@Example.test)"
        );
        assert_eq!(expand("(uid=%{username})", "alice@example.test"), "(uid=alice)");
        assert_eq!(
            expand("(dc=%{domain})", "alice@example.test"),
            "(dc=example.test)"
        );
        assert_eq!(
            expand("(uid=%{username})(dc=%{domain})", "alice"),
            "(uid=alice)(dc=)"
        );
    }

    #[test]
    fn modifiers_change_case_trim_and_reverse() {
        assert_eq!(expand("(uid=%L{user})", "ALICE"), "(uid=alice)");
        assert_eq!(expand("(uid=%U{user})", "alice"), "(uid=ALICE)");
        assert_eq!(expand("(uid=%R{user})", "abc"), "(uid=cba)");
        assert_eq!(expand("(uid=%TL{user})", "  Bob "), "(uid=bob)");
    }

    #[test]
    fn request_values_are_available() {
        assert_eq!(
            expand(
                "(&(svc=%{service})(ip=%{remote_ip}:%{remote_port})(l=%{local_ip}:%{local_port}))",
                "x"
            ),
            "(&(svc=imap)(ip=198.51.100.7:54321)(l=192.0.2.1:993))"
        );
    }

    #[test]
    fn every_special_character_of_a_value_is_escaped() {
        assert_eq!(expand("(uid=%{user})", "a*"), "(uid=a\\2a)");
        assert_eq!(expand("(uid=%{user})", "x)(uid=*"), "(uid=x\\29\\28uid=\\2a)");
        assert_eq!(expand("(uid=%{user})", "back\\slash"), "(uid=back\\5cslash)");
        assert_eq!(expand("(uid=%{user})", "nul\0byte"), "(uid=nul\\00byte)");
        assert_eq!(
            expand("(uid=%{user})", "we*rd(1)\\x"),
            "(uid=we\\2ard\\281\\29\\5cx)"
        );
    }

    #[test]
    fn the_template_itself_is_not_escaped_and_may_span_lines() {
        let template = "(&\n    (objectClass=inetOrgPerson)\n    (|(uid=%L{user})(mail=%L{user}))\n)";
        assert_eq!(
            expand(template, "Bob"),
            "(&(objectClass=inetOrgPerson)(|(uid=bob)(mail=bob)))"
        );
    }

    #[test]
    fn literal_percent_signs_survive() {
        assert_eq!(expand("(cn=100%%)", "x"), "(cn=100%)");
        assert_eq!(expand("(cn=50%off)", "x"), "(cn=50%off)");
    }

    #[test]
    fn bad_templates_are_refused() {
        assert_eq!(
            FilterTemplate::parse("(uid=%{nope})"),
            Err(TemplateError::UnknownVariable("nope".into()))
        );
        assert_eq!(
            FilterTemplate::parse("(uid=%X{user})"),
            Err(TemplateError::UnknownModifier('X'))
        );
        assert_eq!(
            FilterTemplate::parse("(uid=%{user)"),
            Err(TemplateError::Unclosed)
        );
        assert_eq!(FilterTemplate::parse("(uid=x"), Err(TemplateError::Unbalanced));
        assert_eq!(FilterTemplate::parse("uid=x)("), Err(TemplateError::Unbalanced));
    }
}
