//! The pages' own cookies (CSRF key, language switch): reading them from `Cookie` headers and
//! writing `Set-Cookie` values with one policy — `HttpOnly`, `SameSite=Lax`, `Path=/`, and
//! behind TLS `Secure` with the `__Host-` prefix (no `Domain`, so no sibling host can set or
//! overwrite them).

use http::HeaderMap;
use http::header::COOKIE;

/// How the pages' cookies are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookiePolicy {
    /// The site is served over TLS (the issuer is `https://`): `Secure` and `__Host-`.
    pub secure: bool,
}

impl CookiePolicy {
    /// The cookie's name on the wire: `__Host-<base>` behind TLS, `<base>` otherwise.
    pub fn name(self, base: &str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    /// A `Set-Cookie` value for `base=value`, kept for `max_age` seconds (none: a session cookie).
    pub fn set(self, base: &str, value: &str, max_age: Option<u64>) -> String {
        let mut cookie = format!("{}={value}; Path=/; HttpOnly; SameSite=Lax", self.name(base));
        if let Some(age) = max_age {
            cookie.push_str(&format!("; Max-Age={age}"));
        }
        if self.secure {
            cookie.push_str("; Secure");
        }
        cookie
    }

    /// The value of the cookie `base` (under its wire name) in the request, if any.
    pub fn get<'h>(self, headers: &'h HeaderMap, base: &str) -> Option<&'h str> {
        read(headers, &self.name(base))
    }
}

/// The first value of cookie `name` in the request's `Cookie` headers.
pub fn read<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_cookies_are_httponly_lax_without_secure() {
        let p = CookiePolicy { secure: false };
        assert_eq!(p.set("nauthilus_csrf", "v", None), "nauthilus_csrf=v; Path=/; HttpOnly; SameSite=Lax");
    }

    #[test]
    fn tls_cookies_get_the_host_prefix_and_secure() {
        let p = CookiePolicy { secure: true };
        assert_eq!(
            p.set("nauthilus_lang", "de", Some(60)),
            "__Host-nauthilus_lang=de; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
    }

    #[test]
    fn reading_finds_the_wire_name_only() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, "a=1; nauthilus_lang=en".parse().unwrap());
        h.append(COOKIE, "__Host-nauthilus_lang=de".parse().unwrap());
        assert_eq!(CookiePolicy { secure: false }.get(&h, "nauthilus_lang"), Some("en"));
        assert_eq!(CookiePolicy { secure: true }.get(&h, "nauthilus_lang"), Some("de"));
        assert_eq!(read(&h, "missing"), None);
    }
}
