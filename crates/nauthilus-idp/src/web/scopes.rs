//! Scopes in words for the consent and device pages: the catalogue's `scope_<name>` text in the
//! page language, else the description the configuration gives a custom scope, else a generic
//! line (the scope's name is shown beside it either way).

use serde::Serialize;

use super::i18n::Lang;
use super::pages::Pages;

/// One line of the scope list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScopeLine {
    pub name: String,
    pub text: String,
}

/// The lines for `scopes` (name, configured description) in `lang`, in the order asked.
pub fn describe(pages: &Pages, lang: Lang, scopes: &[(String, String)]) -> Vec<ScopeLine> {
    scopes
        .iter()
        .map(|(name, configured)| {
            let key = format!("scope_{name}");
            let text = match pages.message(lang, &key) {
                found if found != key => found,
                _ if !configured.is_empty() && configured != name => configured,
                _ => pages.message(lang, "scope_other"),
            };
            ScopeLine {
                name: name.clone(),
                text: text.to_owned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use nauthilus_config::model::IdpPages;

    use super::*;

    #[test]
    fn known_scopes_get_words_and_custom_ones_a_generic_line() {
        let pages = Pages::new(&IdpPages::default(), false).unwrap();
        let scopes = [
            ("email".to_owned(), "Your e-mail address".to_owned()),
            ("billing:read".to_owned(), "billing:read".to_owned()),
            ("tickets".to_owned(), "Read your tickets".to_owned()),
        ];
        let lines = describe(&pages, Lang::De, &scopes);
        assert_eq!(lines[0].text, "Ihre E-Mail-Adresse sehen");
        assert_eq!(lines[1].text, "Die Berechtigung nutzen");
        assert_eq!(lines[1].name, "billing:read");
        assert_eq!(lines[2].text, "Read your tickets");
    }
}
