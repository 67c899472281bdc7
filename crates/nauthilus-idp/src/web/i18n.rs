//! Page languages: which one a request gets (switch, cookie, `Accept-Language`, default) and the
//! message catalogues (`locales/<lang>.yml`, embedded).

use std::collections::BTreeMap;

use http::HeaderMap;
use http::header::ACCEPT_LANGUAGE;

/// A language the pages are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    De,
}

impl Lang {
    /// Every supported language, in the order the switch lists them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::De];

    /// The BCP 47 tag (`<html lang>`, cookie value, `?lang=`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// The language's own name, as the switch shows it.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::De => "Deutsch",
        }
    }

    /// The language named by a tag such as `de`, `de-AT` or `EN_us`; none for others.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        Lang::ALL
            .into_iter()
            .find(|lang| lang.code().eq_ignore_ascii_case(primary))
    }
}

/// The cookie that remembers the language switch.
pub const LANG_COOKIE: &str = "nauthilus_lang";

/// The language for a request: an explicit `?lang=` first, then the switch's cookie, then the
/// best `Accept-Language` entry we have, then `default`.
pub fn negotiate(query_lang: Option<&str>, cookie_lang: Option<&str>, headers: &HeaderMap, default: Lang) -> Lang {
    query_lang
        .and_then(Lang::from_tag)
        .or_else(|| cookie_lang.and_then(Lang::from_tag))
        .or_else(|| {
            headers
                .get(ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(from_accept_language)
        })
        .unwrap_or(default)
}

/// The supported language with the highest weight in an `Accept-Language` value (RFC 9110
/// §12.5.4); entries with `q=0` are refused, equal weights keep the header's order.
pub fn from_accept_language(value: &str) -> Option<Lang> {
    let mut best: Option<(Lang, u16)> = None;
    for entry in value.split(',') {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let weight = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .next()
            .map_or(Some(1000), parse_qvalue);
        let (Some(lang), Some(weight)) = (Lang::from_tag(tag), weight) else {
            continue;
        };
        if weight > 0 && best.is_none_or(|(_, w)| weight > w) {
            best = Some((lang, weight));
        }
    }
    best.map(|(lang, _)| lang)
}

/// A qvalue (`0`, `0.5`, `1.000`) in thousandths; malformed values are ignored (none).
fn parse_qvalue(q: &str) -> Option<u16> {
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The message catalogues of every language, loaded from the embedded `locales/*.yml`.
#[derive(Debug)]
pub struct Catalogues {
    en: BTreeMap<String, String>,
    de: BTreeMap<String, String>,
}

/// A catalogue file that does not parse, or lacks keys the English one has.
#[derive(Debug, thiserror::Error)]
#[error("locale {lang}: {detail}")]
pub struct CatalogueError {
    lang: &'static str,
    detail: String,
}

impl Catalogues {
    /// Parses the built-in catalogues; every language must have every English key.
    pub fn builtin() -> Result<Self, CatalogueError> {
        let en = parse("en", include_str!("../../locales/en.yml"))?;
        let de = parse("de", include_str!("../../locales/de.yml"))?;
        if let Some(missing) = en.keys().find(|k| !de.contains_key(*k)) {
            return Err(CatalogueError {
                lang: "de",
                detail: format!("missing key {missing}"),
            });
        }
        Ok(Self { en, de })
    }

    /// The messages of `lang`.
    pub fn messages(&self, lang: Lang) -> &BTreeMap<String, String> {
        match lang {
            Lang::En => &self.en,
            Lang::De => &self.de,
        }
    }
}

fn parse(lang: &'static str, text: &str) -> Result<BTreeMap<String, String>, CatalogueError> {
    serde_saphyr::from_str(text).map_err(|err| CatalogueError {
        lang,
        detail: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_LANGUAGE, accept.parse().unwrap());
        h
    }

    #[test]
    fn accept_language_picks_the_highest_weight_we_support() {
        assert_eq!(from_accept_language("fr-FR, de;q=0.8, en;q=0.7"), Some(Lang::De));
        assert_eq!(from_accept_language("en-GB;q=0.5, de-AT;q=0.9"), Some(Lang::De));
        assert_eq!(from_accept_language("de-DE,de;q=0.9,en;q=0.8"), Some(Lang::De));
        assert_eq!(from_accept_language("en, de"), Some(Lang::En));
        assert_eq!(from_accept_language("fr, it"), None);
    }

    #[test]
    fn accept_language_refuses_q0_and_ignores_garbage() {
        assert_eq!(from_accept_language("de;q=0, en;q=0.1"), Some(Lang::En));
        assert_eq!(from_accept_language("de;q=2, en;q=0.3"), Some(Lang::En));
        assert_eq!(from_accept_language("de;q=0.1234"), None);
        assert_eq!(from_accept_language(";;,,=,"), None);
    }

    #[test]
    fn switch_beats_cookie_beats_header_beats_default() {
        let h = headers("de");
        assert_eq!(negotiate(Some("en"), Some("de"), &h, Lang::De), Lang::En);
        assert_eq!(negotiate(None, Some("en"), &h, Lang::De), Lang::En);
        assert_eq!(negotiate(Some("xx"), None, &h, Lang::En), Lang::De);
        assert_eq!(negotiate(None, None, &HeaderMap::new(), Lang::De), Lang::De);
    }

    #[test]
    fn builtin_catalogues_parse_and_german_has_every_english_key() {
        let c = Catalogues::builtin().unwrap();
        assert!(c.messages(Lang::En).contains_key("login_title"));
        assert_eq!(c.messages(Lang::En).len(), c.messages(Lang::De).len());
    }
}
