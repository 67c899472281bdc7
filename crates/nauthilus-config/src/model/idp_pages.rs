//! `idp.pages`: the IdP's login, consent, logout, device and notice pages (branding, language,
//! operator templates). A nauthilus-rs section; the protocol keys live in `idp.rs`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `idp.pages`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct IdpPages {
    /// Product name shown in page titles and headings.
    pub product_name: String,
    /// Image file (PNG, SVG, JPEG, WebP) shown above every form; empty: the product name only.
    #[schemars(schema_with = "crate::schema::path")]
    pub logo_file: String,
    /// Colour of buttons, links and focus rings, as `#rgb` or `#rrggbb`.
    pub primary_color: String,
    /// Page background colour, as `#rgb` or `#rrggbb`.
    pub background_color: String,
    /// Directory whose `<page>.html` files replace the built-in templates of the same name.
    #[schemars(schema_with = "crate::schema::path")]
    pub template_dir: String,
    /// Language when neither the switch nor `Accept-Language` names a supported one.
    #[schemars(extend("enum" = ["en", "de"]))]
    pub default_language: String,
    /// Path segment of the TOTP enrolment page (`/2fa/v1/<totp_page>`).
    pub totp_page: String,
    /// Path segment of the WebAuthn registration endpoints (`/2fa/v1/<webauthn_page>/register/...`).
    pub webauthn_page: String,
}

impl Default for IdpPages {
    fn default() -> Self {
        Self {
            product_name: "Nauthilus".into(),
            logo_file: String::new(),
            primary_color: "#1d4ed8".into(),
            background_color: "#f3f4f6".into(),
            template_dir: String::new(),
            default_language: "en".into(),
            totp_page: "totp".into(),
            webauthn_page: "webauthn".into(),
        }
    }
}
