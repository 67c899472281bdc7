//! Rendering the pages: minijinja templates (built in, each replaceable by a file of the same
//! name in `idp.pages.template_dir`), the message catalogues, branding (product name, logo,
//! colours) and the generated stylesheet. Built once per configuration, like the pipeline.
//!
//! Every template gets `lang`, `t` (the messages of that language), `brand` and `switch` (the
//! language links); each page adds its own fields. Output is HTML-escaped by default (the
//! templates end in `.html`), so no query value or account name can inject markup.

use std::path::Path;

use minijinja::{Environment, UndefinedBehavior, Value, context};
use nauthilus_config::model::IdpPages;
use serde::Serialize;

use super::cookies::CookiePolicy;
use super::i18n::{CatalogueError, Catalogues, Lang};

/// The built-in templates: name and source.
const TEMPLATES: [(&str, &str); 14] = [
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("consent.html", include_str!("../../templates/consent.html")),
    ("logout.html", include_str!("../../templates/logout.html")),
    ("notify.html", include_str!("../../templates/notify.html")),
    ("device.html", include_str!("../../templates/device.html")),
    (
        "device_confirm.html",
        include_str!("../../templates/device_confirm.html"),
    ),
    ("error.html", include_str!("../../templates/error.html")),
    ("mfa.html", include_str!("../../templates/mfa.html")),
    (
        "mfa_enrol_required.html",
        include_str!("../../templates/mfa_enrol_required.html"),
    ),
    (
        "mfa_register.html",
        include_str!("../../templates/mfa_register.html"),
    ),
    ("mfa_home.html", include_str!("../../templates/mfa_home.html")),
    ("mfa_totp.html", include_str!("../../templates/mfa_totp.html")),
    (
        "mfa_shown_once.html",
        include_str!("../../templates/mfa_shown_once.html"),
    ),
];

/// The script of the WebAuthn pages (the only script the pages have).
pub const WEBAUTHN_SCRIPT: &str = include_str!("../../static/webauthn.js");

/// The static stylesheet; the brand colours are prepended as custom properties.
const STYLESHEET: &str = include_str!("../../static/style.css");

/// One page of the IdP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Login,
    Consent,
    Logout,
    Notify,
    Device,
    DeviceConfirm,
    Error,
    /// The second-factor step of a login.
    SecondFactor,
    /// The client requires a second factor the account lacks.
    EnrolRequired,
    /// What can be enrolled (`/2fa/v1/register`).
    MfaRegister,
    /// The self-service home (`/2fa/v1/home`).
    MfaHome,
    /// The TOTP enrolment page.
    MfaTotp,
    /// A new app password or recovery codes, shown once.
    ShownOnce,
}

impl Page {
    /// Every page (the render-all test walks these).
    pub const ALL: [Page; 13] = [
        Page::Login,
        Page::Consent,
        Page::Logout,
        Page::Notify,
        Page::Device,
        Page::DeviceConfirm,
        Page::Error,
        Page::SecondFactor,
        Page::EnrolRequired,
        Page::MfaRegister,
        Page::MfaHome,
        Page::MfaTotp,
        Page::ShownOnce,
    ];

    fn template(self) -> &'static str {
        match self {
            Page::Login => "login.html",
            Page::Consent => "consent.html",
            Page::Logout => "logout.html",
            Page::Notify => "notify.html",
            Page::Device => "device.html",
            Page::DeviceConfirm => "device_confirm.html",
            Page::Error => "error.html",
            Page::SecondFactor => "mfa.html",
            Page::EnrolRequired => "mfa_enrol_required.html",
            Page::MfaRegister => "mfa_register.html",
            Page::MfaHome => "mfa_home.html",
            Page::MfaTotp => "mfa_totp.html",
            Page::ShownOnce => "mfa_shown_once.html",
        }
    }
}

/// Why the pages could not be built or a page not rendered.
#[derive(Debug, thiserror::Error)]
pub enum PagesError {
    #[error("idp.pages.{key}: {value:?} is not a colour (#rgb or #rrggbb)")]
    Colour { key: &'static str, value: String },
    #[error("idp.pages.logo_file {path}: {detail}")]
    Logo { path: String, detail: String },
    #[error("idp.pages.template_dir: {path}: {detail}")]
    Template { path: String, detail: String },
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error("rendering {page}: {detail}")]
    Render { page: &'static str, detail: String },
}

/// The logo as served at `/idp/static/logo`.
#[derive(Debug)]
pub struct Logo {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

/// A link of the language switch.
#[derive(Clone, Debug, Serialize)]
pub struct LangLink {
    pub code: &'static str,
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

/// The rendering side of the pages, built once per configuration.
#[derive(Debug)]
pub struct Pages {
    env: Environment<'static>,
    catalogues: Catalogues,
    product_name: String,
    logo: Option<Logo>,
    stylesheet: String,
    default_lang: Lang,
    cookies: CookiePolicy,
}

impl Pages {
    /// Loads templates (operator overrides first), catalogues, logo and colours. `secure` is true
    /// when the site is served over TLS (the issuer is `https://`).
    pub fn new(config: &IdpPages, secure: bool) -> Result<Self, PagesError> {
        let primary = colour("primary_color", &config.primary_color)?;
        let background = colour("background_color", &config.background_color)?;
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        for (name, builtin) in TEMPLATES {
            let source = override_source(&config.template_dir, name)?.unwrap_or_else(|| builtin.to_owned());
            env.add_template_owned(name, source)
                .map_err(|err| PagesError::Template {
                    path: name.to_owned(),
                    detail: err.to_string(),
                })?;
        }
        Ok(Self {
            env,
            catalogues: Catalogues::builtin()?,
            product_name: config.product_name.clone(),
            logo: load_logo(&config.logo_file)?,
            stylesheet: format!(":root{{--primary:{primary};--background:{background}}}\n{STYLESHEET}"),
            default_lang: Lang::from_tag(&config.default_language).unwrap_or(Lang::En),
            cookies: CookiePolicy { secure },
        })
    }

    /// Renders `page` in `lang` with the page's own fields in `data`.
    pub fn render(
        &self,
        page: Page,
        lang: Lang,
        switch: &[LangLink],
        data: impl Serialize,
    ) -> Result<String, PagesError> {
        let template = self
            .env
            .get_template(page.template())
            .map_err(|err| render_error(page, &err))?;
        let ctx = context! {
            lang => lang.code(),
            t => Value::from_serialize(self.catalogues.messages(lang)),
            brand => context! { product_name => &self.product_name, logo => self.logo.is_some() },
            switch => Value::from_serialize(switch),
            ..Value::from_serialize(data)
        };
        template.render(ctx).map_err(|err| render_error(page, &err))
    }

    /// The message `key` in `lang` (the key itself when missing, so a gap shows, never panics).
    pub fn message<'a>(&'a self, lang: Lang, key: &'a str) -> &'a str {
        self.catalogues
            .messages(lang)
            .get(key)
            .map_or(key, String::as_str)
    }

    /// The stylesheet with the brand colours.
    pub fn stylesheet(&self) -> &str {
        &self.stylesheet
    }

    /// The configured logo, if any.
    pub fn logo(&self) -> Option<&Logo> {
        self.logo.as_ref()
    }

    /// The language when nothing in the request names one.
    pub fn default_lang(&self) -> Lang {
        self.default_lang
    }

    /// How the pages' cookies are written.
    pub fn cookies(&self) -> CookiePolicy {
        self.cookies
    }
}

fn render_error(page: Page, err: &minijinja::Error) -> PagesError {
    PagesError::Render {
        page: page.template(),
        detail: format!("{err:#}"),
    }
}

/// `#rgb` or `#rrggbb`, nothing else: the value goes into CSS.
fn colour(key: &'static str, value: &str) -> Result<String, PagesError> {
    let hex = value.strip_prefix('#').unwrap_or_default();
    if matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value.to_owned())
    } else {
        Err(PagesError::Colour {
            key,
            value: value.to_owned(),
        })
    }
}

fn override_source(dir: &str, name: &str) -> Result<Option<String>, PagesError> {
    if dir.is_empty() {
        return Ok(None);
    }
    let path = Path::new(dir).join(name);
    match std::fs::read_to_string(&path) {
        Ok(source) => Ok(Some(source)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(PagesError::Template {
            path: path.display().to_string(),
            detail: err.to_string(),
        }),
    }
}

fn load_logo(path: &str) -> Result<Option<Logo>, PagesError> {
    if path.is_empty() {
        return Ok(None);
    }
    let logo_error = |detail: String| PagesError::Logo {
        path: path.to_owned(),
        detail,
    };
    let extension = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let content_type = match extension.as_str() {
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        other => {
            return Err(logo_error(format!(
                "unsupported image type {other:?} (png, svg, jpg, webp)"
            )));
        }
    };
    let bytes = std::fs::read(path).map_err(|err| logo_error(err.to_string()))?;
    Ok(Some(Logo { bytes, content_type }))
}

#[cfg(test)]
#[path = "pages_tests.rs"]
mod tests;
