//! Cross-key rules of backchannel protection (`server.basic_auth`, `server.jwt_auth`) and of
//! `server.master_user`. Lengths follow Nauthilus' own validation (Basic password ≥ 16, JWT key
//! ≥ 32, JWT user password ≥ 8, a one-character delimiter).

use crate::diagnostic::Diagnostic;
use crate::model::{Config, RedisMode};

/// Shortest `server.basic_auth.password`.
pub const BASIC_PASSWORD_MIN: usize = 16;
/// Shortest `server.jwt_auth.secret_key` (HS256 with a short key can be brute-forced offline).
pub const JWT_SECRET_MIN: usize = 32;
/// Shortest `server.jwt_auth.users[].password`.
pub const JWT_USER_PASSWORD_MIN: usize = 8;

fn has_space(s: &str) -> bool {
    s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Every problem of the backchannel and master-user settings.
pub fn check(config: &Config, out: &mut Vec<Diagnostic>) {
    let server = &config.server;
    let basic = &server.basic_auth;
    if basic.enabled {
        if basic.username.is_empty() || has_space(&basic.username) {
            out.push(Diagnostic::error(
                "server.basic_auth.username",
                "required when basic_auth is enabled, without white space",
            ));
        }
        if basic.password.chars().count() < BASIC_PASSWORD_MIN || has_space(&basic.password) {
            out.push(Diagnostic::error(
                "server.basic_auth.password",
                format!("must be at least {BASIC_PASSWORD_MIN} characters without white space when basic_auth is enabled"),
            ));
        }
    }
    let jwt = &server.jwt_auth;
    if jwt.enabled {
        if jwt.secret_key.chars().count() < JWT_SECRET_MIN || has_space(&jwt.secret_key) {
            out.push(Diagnostic::error(
                "server.jwt_auth.secret_key",
                format!("must be at least {JWT_SECRET_MIN} characters without white space when jwt_auth is enabled"),
            ));
        }
        if jwt.store_in_redis && server.redis.mode() == RedisMode::Embedded {
            out.push(Diagnostic::warning(
                "server.jwt_auth.store_in_redis",
                "no Redis is configured: refresh tokens are kept in this process only",
            ));
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for (i, user) in jwt.users.iter().enumerate() {
        let path = format!("server.jwt_auth.users[{i}]");
        if user.username.is_empty() || has_space(&user.username) {
            out.push(Diagnostic::error(
                format!("{path}.username"),
                "required, without white space",
            ));
        } else if seen.contains(&user.username.as_str()) {
            out.push(Diagnostic::error(
                format!("{path}.username"),
                format!("{:?} is listed twice", user.username),
            ));
        } else {
            seen.push(&user.username);
        }
        if user.password.chars().count() < JWT_USER_PASSWORD_MIN || has_space(&user.password) {
            out.push(Diagnostic::error(
                format!("{path}.password"),
                format!("must be at least {JWT_USER_PASSWORD_MIN} characters without white space"),
            ));
        }
        if user.roles.is_empty() {
            out.push(Diagnostic::warning(
                format!("{path}.roles"),
                "no roles: this user's tokens are refused everywhere",
            ));
        }
    }
    let master = &server.master_user;
    let delimiter_ok = master.delimiter.len() == 1 && master.delimiter.chars().all(|c| c.is_ascii_graphic());
    if !delimiter_ok {
        out.push(Diagnostic::error(
            "server.master_user.delimiter",
            "must be one printable ASCII character (default \"*\")",
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::load_str;

    /// The paths of the errors `yaml` (a server section body) loads with.
    fn errors(server: &str) -> Vec<String> {
        let yaml = format!("server:\n  backends: [passwd_file]\n{server}passwd_file:\n  path: /dev/null\n");
        match load_str(&yaml, Path::new("."), Vec::new()) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.iter().map(|d| d.path.clone()).collect(),
        }
    }

    #[test]
    fn short_secrets_are_refused_when_enabled() {
        let basic = "  basic_auth:\n    enabled: true\n    username: ops\n    password: short\n";
        assert_eq!(errors(basic), ["server.basic_auth.password"]);
        let jwt = "  jwt_auth:\n    enabled: true\n    secret_key: too-short\n";
        assert_eq!(errors(jwt), ["server.jwt_auth.secret_key"]);
        let good = "  basic_auth:\n    enabled: true\n    username: ops\n    password: 0123456789abcdef\n";
        assert!(errors(good).is_empty());
        // Disabled sections are not checked for secrets.
        assert!(errors("  basic_auth:\n    password: short\n").is_empty());
    }

    #[test]
    fn jwt_users_and_the_delimiter_are_checked() {
        let server = "  jwt_auth:\n    users:\n      - {username: a, password: \"12345678\", roles: [admin]}\n      - {username: a, password: short, roles: [admin]}\n  master_user:\n    delimiter: '**'\n";
        assert_eq!(
            errors(server),
            [
                "server.jwt_auth.users[1].username",
                "server.jwt_auth.users[1].password",
                "server.master_user.delimiter"
            ]
        );
    }
}
