//! What every page knows about the browser in front of it: its language (and whether the switch
//! just changed it) and its CSRF cookie (reused, or a fresh one to set). A page response carries
//! the `Set-Cookie` values this yields.

use axum::response::{Html, IntoResponse, Response};
use http::header::{CONTENT_TYPE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode};

use super::csrf;
use super::i18n::{LANG_COOKIE, Lang, negotiate};
use super::pages::{LangLink, Pages};

/// The cookie holding the browser's CSRF key.
pub const CSRF_COOKIE: &str = "nauthilus_csrf";
/// How long the language switch is remembered (a year).
const LANG_COOKIE_AGE: u64 = 365 * 24 * 3600;

/// The browser as the pages see it.
#[derive(Debug)]
pub struct Visitor {
    /// The page language.
    pub lang: Lang,
    /// The CSRF cookie value (the request's, or a new one to set).
    pub csrf_cookie: String,
    new_csrf: bool,
    switched: bool,
}

impl Visitor {
    /// Reads language and CSRF cookie from the request; `query_lang` is the switch (`?lang=`).
    pub fn new(pages: &Pages, headers: &HeaderMap, query_lang: Option<&str>) -> Self {
        let policy = pages.cookies();
        let cookie_lang = policy.get(headers, LANG_COOKIE);
        let lang = negotiate(query_lang, cookie_lang, headers, pages.default_lang());
        let switched = query_lang.and_then(Lang::from_tag).is_some() && cookie_lang != Some(lang.code());
        let existing = policy
            .get(headers, CSRF_COOKIE)
            // Only a value we could have issued is reused; anything else is replaced.
            .filter(|v| csrf::token(v, csrf::Purpose::Login, "").is_some());
        let (csrf_cookie, new_csrf) = match existing {
            Some(v) => (v.to_owned(), false),
            None => (csrf::new_cookie_value(), true),
        };
        Self {
            lang,
            csrf_cookie,
            new_csrf,
            switched,
        }
    }

    /// The hidden field for a form of `purpose` acting on `binding`.
    pub fn csrf_token(&self, purpose: csrf::Purpose, binding: &str) -> String {
        csrf::token(&self.csrf_cookie, purpose, binding).unwrap_or_default()
    }

    /// Language links to `path` with `params` (each page keeps its flow or code across a switch).
    pub fn switch(&self, path: &str, params: &[(&str, &str)]) -> Vec<LangLink> {
        Lang::ALL
            .into_iter()
            .map(|lang| {
                let mut query = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in params {
                    query.append_pair(k, v);
                }
                query.append_pair("lang", lang.code());
                LangLink {
                    code: lang.code(),
                    label: lang.native_name(),
                    href: format!("{path}?{}", query.finish()),
                    current: lang == self.lang,
                }
            })
            .collect()
    }

    /// The `Set-Cookie` values this visit needs (a new CSRF key, a switched language).
    pub fn set_cookies(&self, pages: &Pages) -> Vec<String> {
        let policy = pages.cookies();
        let mut cookies = Vec::new();
        if self.new_csrf {
            cookies.push(policy.set(CSRF_COOKIE, &self.csrf_cookie, None));
        }
        if self.switched {
            cookies.push(policy.set(LANG_COOKIE, self.lang.code(), Some(LANG_COOKIE_AGE)));
        }
        cookies
    }
}

/// An HTML page response with `status` and the given `Set-Cookie` values.
pub fn html_response(status: StatusCode, html: String, cookies: &[String]) -> Response {
    let mut response = (status, Html(html)).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    append_cookies(&mut response, cookies);
    response
}

/// Appends `Set-Cookie` values (a value that is not a valid header is skipped: ours always are).
pub fn append_cookies(response: &mut Response, cookies: &[String]) {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use http::header::{ACCEPT_LANGUAGE, COOKIE};
    use nauthilus_config::model::IdpPages;

    use super::*;

    fn pages() -> Pages {
        Pages::new(&IdpPages::default(), false).unwrap()
    }

    #[test]
    fn a_first_visit_gets_a_csrf_cookie_and_a_returning_one_keeps_it() {
        let p = pages();
        let first = Visitor::new(&p, &HeaderMap::new(), None);
        let cookies = first.set_cookies(&p);
        assert_eq!(cookies.len(), 1);
        assert!(cookies[0].starts_with("nauthilus_csrf=") && cookies[0].contains("HttpOnly; SameSite=Lax"));
        let mut h = HeaderMap::new();
        h.insert(COOKIE, format!("nauthilus_csrf={}", first.csrf_cookie).parse().unwrap());
        let again = Visitor::new(&p, &h, None);
        assert_eq!(again.csrf_cookie, first.csrf_cookie);
        assert!(again.set_cookies(&p).is_empty());
    }

    #[test]
    fn a_forged_csrf_cookie_value_is_replaced() {
        let p = pages();
        let mut h = HeaderMap::new();
        h.insert(COOKIE, "nauthilus_csrf=attacker-chosen".parse().unwrap());
        let v = Visitor::new(&p, &h, None);
        assert_ne!(v.csrf_cookie, "attacker-chosen");
        assert_eq!(v.set_cookies(&p).len(), 1);
    }

    #[test]
    fn the_switch_sets_the_language_cookie_and_links_keep_the_flow() {
        let p = pages();
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_LANGUAGE, "en".parse().unwrap());
        let v = Visitor::new(&p, &h, Some("de"));
        assert_eq!(v.lang, Lang::De);
        assert!(v.set_cookies(&p).iter().any(|c| c.starts_with("nauthilus_lang=de;")));
        let links = v.switch("/login", &[("flow", "a b&c")]);
        assert_eq!(links[0].href, "/login?flow=a+b%26c&lang=en");
        assert!(links[1].current);
    }
}
