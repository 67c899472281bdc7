#![allow(clippy::disallowed_methods)]
//! Property-based fuzzing of LDAP filter macro expansion (RFC 4515 escaping): whatever the user
//! sends, the expanded filter has the template's structure, parses as a filter, carries no
//! unescaped `(`, `)`, `*`, `\` or NUL from the value, and unescapes back to the value.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use nauthilus_backends::ldap::{FilterTemplate, MacroValues, escape_value};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 2048,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Filters as written in configurations, with every macro and modifier.
const TEMPLATES: &[&str] = &[
    "(&(objectClass=person)(uid=%{user}))",
    "(|(uid=%L{user})(mail=%L{user}))",
    "(&(uid=%{username})(associatedDomain=%{domain}))",
    "(&(objectClass=inetOrgPerson)\n  (|(uid=%LT{user})(mail=%U{user})(cn=%R{user})))",
    "(&(mail=%{user})(service=%{service})(ip=%{remote_ip})(port=%{client_port})(id=%{client_id}))",
    "(&(uid=%{user})(localIP=%{local_ip})(localPort=%{local_port}))",
    "(uid=%{user})",
];

/// Values weighted towards what RFC 4515 must escape, plus any text at all.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        "[()*\\\\\0a-z@.=&|!~<>%{}]{0,24}",
        ".{0,24}",
        Just("*)(uid=*))(|(uid=*".to_owned()),
        Just("admin)(&)".to_owned()),
        Just("\\2a".to_owned()),
        Just("x\0y".to_owned()),
    ]
}

/// `(`, `)` and `*` outside escapes, counted; fails on a `\` not followed by two hex digits or on
/// a NUL.
fn structure(filter: &str) -> Result<(usize, usize, usize), String> {
    let bytes = filter.as_bytes();
    let (mut open, mut close, mut star) = (0, 0, 0);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                if hex.is_none() {
                    return Err(format!("unescaped backslash at {i} in {filter:?}"));
                }
                i += 2;
            }
            0 => return Err(format!("NUL at {i} in {filter:?}")),
            b'(' => open += 1,
            b')' => close += 1,
            b'*' => star += 1,
            _ => {}
        }
        i += 1;
    }
    Ok((open, close, star))
}

/// Undoes RFC 4515 escaping.
fn unescape(value: &str) -> Vec<u8> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn expanded_filters_keep_their_structure_and_parse(
        template in proptest::sample::select(TEMPLATES),
        user in hostile(),
        service in hostile(),
        remote_ip in hostile(),
        local_ip in hostile(),
        ports in (hostile(), hostile()),
        client_id in hostile(),
    ) {
        let parsed = FilterTemplate::parse(template).unwrap();
        let values = MacroValues {
            user: &user,
            service: &service,
            local_ip: &local_ip,
            local_port: &ports.0,
            remote_ip: &remote_ip,
            remote_port: &ports.1,
            client_id: &client_id,
        };
        let filter = parsed.expand(&values);
        let template_text: String = template.lines().map(str::trim).collect();
        let expected = structure(&template_text).unwrap();
        let got = structure(&filter);
        prop_assert_eq!(got, Ok(expected), "{}", filter);
        prop_assert!(
            ldap3::parse_filter(&filter).is_ok(),
            "{filter:?} does not parse as an LDAP filter"
        );
    }

    #[test]
    fn a_substituted_value_unescapes_to_itself(user in hostile()) {
        let filter = FilterTemplate::parse("(uid=%{user})").unwrap().expand(&MacroValues {
            user: &user,
            ..MacroValues::default()
        });
        let inner = filter.strip_prefix("(uid=").and_then(|f| f.strip_suffix(')')).unwrap();
        prop_assert_eq!(structure(inner), Ok((0, 0, 0)));
        prop_assert_eq!(unescape(inner), user.as_bytes());
    }

    #[test]
    fn escaping_leaves_nothing_special(value in ".{0,40}") {
        let escaped = escape_value(&value);
        prop_assert_eq!(structure(&escaped), Ok((0, 0, 0)));
        prop_assert_eq!(unescape(&escaped), value.as_bytes());
    }

    #[test]
    fn template_parsing_never_panics(template in "[()%{}a-zLURT=&|*\\\\ \n]{0,40}") {
        if let Ok(parsed) = FilterTemplate::parse(&template) {
            let _ = parsed.expand(&MacroValues { user: "a(b)*\\", ..MacroValues::default() });
        }
    }
}
