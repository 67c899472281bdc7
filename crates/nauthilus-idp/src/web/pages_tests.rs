//! Every template rendered with a fixture; assertions on the HTML a browser and a screen reader
//! rely on (form action, hidden fields, autocomplete, labels, `lang`, escaping).

use serde_json::json;

use super::*;

fn pages() -> Pages {
    Pages::new(&IdpPages::default(), false).unwrap()
}

fn switch(current: Lang) -> Vec<LangLink> {
    Lang::ALL
        .into_iter()
        .map(|l| LangLink {
            code: l.code(),
            label: l.native_name(),
            href: format!("/login?flow=F1&lang={}", l.code()),
            current: l == current,
        })
        .collect()
}

fn fixture(page: Page) -> serde_json::Value {
    let scopes = json!([{"name": "openid", "text": "Sign you in"}, {"name": "email", "text": "See your email address"}]);
    match page {
        Page::Login => {
            json!({"next_key": "flow", "next_value": "F1", "csrf": "TOKEN", "username": "", "client_name": "Demo App", "error": null, "passkey_csrf": null})
        }
        Page::Consent => {
            json!({"flow": "F1", "csrf": "TOKEN", "client_name": "Demo App", "scopes": scopes, "account": "alice"})
        }
        Page::Logout => json!({"flow": "F1", "csrf": "TOKEN", "client_name": "Demo App", "account": "alice"}),
        Page::Notify => json!({"message": "Done."}),
        Page::Device => json!({"user_code": "", "error": null}),
        Page::DeviceConfirm => {
            json!({"user_code": "ABCD-EFGH", "csrf": "TOKEN", "client_name": "TV", "scopes": scopes, "account": "alice"})
        }
        Page::Error => json!({"title": "Oops", "detail": "Bad thing", "reference": "guid1"}),
        Page::SecondFactor => json!({
            "pending": "P1", "csrf": "TOKEN", "account": "Alice", "remember_days": 30, "error": null,
            "factors": {"totp": true, "webauthn": false, "recovery": true},
        }),
        Page::EnrolRequired => json!({"can_enrol": true, "account": "Alice"}),
        Page::MfaRegister => json!({
            "account": "Alice", "factors": {"totp": false, "webauthn": false, "recovery": false},
            "webauthn_enabled": false, "app_passwords_enabled": true, "totp_page": "totp",
        }),
        Page::MfaHome => json!({
            "account": "Alice", "csrf": "TOKEN", "totp": true, "totp_page": "totp",
            "webauthn_enabled": false, "webauthn_page": "webauthn", "keys": [],
            "recovery_left": 9, "app_passwords_enabled": true,
            "app_passwords": [{"id": "A1", "device": "<phone>", "protocols": "imap", "created": "2026-01-01 00:00 UTC", "last_used": "never", "last_address": ""}],
            "protocols": ["imap", "smtp"], "remember_enabled": true,
            "devices": [{"id": "D1", "label": "Firefox", "created": "c", "expires": "e"}], "error": null,
        }),
        Page::MfaTotp => json!({
            "csrf": "TOKEN", "action": "/2fa/v1/totp/post", "qr_svg": "<svg></svg>",
            "secret": "JBSWY3DPEHPK3PXP", "error": null,
        }),
        Page::ShownOnce => json!({"kind": "app_password", "secrets": ["abcd-efgh"], "protocols": ["imap"]}),
    }
}

#[test]
fn every_page_renders_in_every_language_with_lang_title_and_stylesheet() {
    let p = pages();
    for page in Page::ALL {
        for lang in Lang::ALL {
            let html = p.render(page, lang, &switch(lang), fixture(page)).unwrap();
            assert!(html.starts_with("<!DOCTYPE html>"), "{page:?}");
            assert!(
                html.contains(&format!("<html lang=\"{}\">", lang.code())),
                "{page:?}"
            );
            assert!(
                html.contains("<link rel=\"stylesheet\" href=\"/idp/static/style.css\">"),
                "{page:?}"
            );
            assert!(html.contains("– Nauthilus</title>"), "{page:?}");
            assert!(html.contains("<main id=\"main\""), "{page:?}");
            // Only the WebAuthn parts load a script, and only our own file.
            for (i, _) in html.match_indices("<script") {
                assert!(
                    html[i..].starts_with(r#"<script src="/idp/static/webauthn.js" defer></script>"#),
                    "{page:?}: no inline script"
                );
            }
            assert!(!html.contains(" style="), "{page:?}: inline style breaks the CSP");
        }
    }
}

#[test]
fn login_form_posts_flow_and_csrf_with_labelled_autocomplete_fields() {
    let html = pages()
        .render(Page::Login, Lang::En, &switch(Lang::En), fixture(Page::Login))
        .unwrap();
    assert!(html.contains(r#"<form method="post" action="/login/post""#));
    assert!(html.contains(r#"<input type="hidden" name="flow" value="F1">"#));
    assert!(html.contains(r#"<input type="hidden" name="csrf" value="TOKEN">"#));
    assert!(html.contains(r#"<label for="username">Username</label>"#));
    assert!(html.contains(r#"id="username" name="username" type="text" value="" autocomplete="username""#));
    assert!(html.contains(r#"<label for="password">Password</label>"#));
    assert!(html.contains(r#"name="password" type="password" autocomplete="current-password""#));
    assert!(html.contains("<strong>Demo App</strong>"));
    assert!(!html.contains("role=\"alert\""));
}

#[test]
fn login_hint_prefills_the_username_and_moves_focus_to_the_password() {
    let mut data = fixture(Page::Login);
    data["username"] = json!("alice@example.test");
    data["error"] = json!("The username or password is wrong.");
    let html = pages()
        .render(Page::Login, Lang::En, &switch(Lang::En), data)
        .unwrap();
    assert!(html.contains(r#"value="alice@example.test" autocomplete="username""#));
    assert!(html.contains(r#"autocomplete="current-password" required autofocus>"#));
    assert!(html.contains(
        r#"<p class="error" role="alert" id="login-error">The username or password is wrong.</p>"#
    ));
    assert!(html.contains(r#"aria-describedby="login-error""#));
}

#[test]
fn german_login_page_is_german() {
    let html = pages()
        .render(Page::Login, Lang::De, &switch(Lang::De), fixture(Page::Login))
        .unwrap();
    assert!(html.contains("<html lang=\"de\">"));
    assert!(html.contains("<label for=\"password\">Passwort</label>"));
    assert!(html.contains("<span aria-current=\"true\" lang=\"de\">Deutsch</span>"));
    // minijinja escapes `/` too; the browser reads `&#x2f;` as `/`.
    assert!(
        html.contains("<a href=\"&#x2f;login?flow=F1&amp;lang=en\" hreflang=\"en\" lang=\"en\">English</a>")
    );
}

#[test]
fn consent_lists_scopes_in_words_with_approve_and_deny() {
    let html = pages()
        .render(Page::Consent, Lang::En, &switch(Lang::En), fixture(Page::Consent))
        .unwrap();
    assert!(html.contains(r#"<form method="post" action="/consent/post">"#));
    assert!(html.contains(r#"<input type="hidden" name="flow" value="F1">"#));
    assert!(html.contains(r#"<input type="hidden" name="csrf" value="TOKEN">"#));
    assert!(html.contains(r#"<span class="scope-text">See your email address</span> <code>email</code>"#));
    assert!(html.contains(r#"name="decision" value="approve""#));
    assert!(html.contains(r#"name="decision" value="deny""#));
}

#[test]
fn logout_and_device_forms_carry_their_csrf_fields() {
    let p = pages();
    let html = p
        .render(Page::Logout, Lang::En, &switch(Lang::En), fixture(Page::Logout))
        .unwrap();
    assert!(html.contains(r#"<form method="post" action="/logout/post">"#));
    assert!(html.contains(r#"<input type="hidden" name="csrf" value="TOKEN">"#));
    let html = p
        .render(Page::Device, Lang::En, &switch(Lang::En), fixture(Page::Device))
        .unwrap();
    assert!(html.contains(r#"<form method="get" action="/device">"#));
    assert!(html.contains(r#"<label for="user_code">Code</label>"#));
    assert!(html.contains(r#"autocomplete="off""#));
    let html = p
        .render(
            Page::DeviceConfirm,
            Lang::En,
            &switch(Lang::En),
            fixture(Page::DeviceConfirm),
        )
        .unwrap();
    assert!(html.contains(r#"<form method="post" action="/device">"#));
    assert!(html.contains(r#"<input type="hidden" name="user_code" value="ABCD-EFGH">"#));
    assert!(html.contains(r#"<input type="hidden" name="csrf" value="TOKEN">"#));
}

#[test]
fn values_are_escaped_so_no_markup_can_be_injected() {
    let p = pages();
    let evil = r#"<script>alert(1)</script>"><img src=x onerror=alert(2)>"#;
    let html = p
        .render(
            Page::Notify,
            Lang::En,
            &switch(Lang::En),
            json!({"message": evil}),
        )
        .unwrap();
    assert!(!html.contains("<script>"));
    assert!(!html.contains("<img src=x"));
    assert!(
        html.contains(
            "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"
        )
    );
    let mut data = fixture(Page::Login);
    data["username"] = json!(evil);
    data["client_name"] = json!(evil);
    let html = p.render(Page::Login, Lang::En, &switch(Lang::En), data).unwrap();
    assert!(!html.contains("<script>") && !html.contains("<img src=x"));
}

#[test]
fn a_template_missing_a_field_fails_instead_of_rendering_blank() {
    let err = pages()
        .render(Page::Notify, Lang::En, &switch(Lang::En), json!({}))
        .unwrap_err();
    assert!(
        matches!(
            err,
            PagesError::Render {
                page: "notify.html",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn branding_sets_colours_product_and_logo() {
    let dir = tempfile::tempdir().unwrap();
    let logo = dir.path().join("logo.svg");
    std::fs::write(&logo, "<svg xmlns=\"http://www.w3.org/2000/svg\"/>").unwrap();
    let config = IdpPages {
        product_name: "Example SSO".into(),
        logo_file: logo.display().to_string(),
        primary_color: "#0a0".into(),
        background_color: "#ffffff".into(),
        ..IdpPages::default()
    };
    let p = Pages::new(&config, true).unwrap();
    assert!(
        p.stylesheet()
            .starts_with(":root{--primary:#0a0;--background:#ffffff}")
    );
    assert_eq!(p.logo().unwrap().content_type, "image/svg+xml");
    assert!(p.cookies().secure);
    let html = p
        .render(Page::Notify, Lang::En, &switch(Lang::En), json!({"message": "m"}))
        .unwrap();
    assert!(html.contains(r#"<img class="logo" src="/idp/static/logo" alt="Example SSO">"#));
    assert!(html.contains("– Example SSO</title>"));
}

#[test]
fn colours_that_are_not_plain_hex_are_refused() {
    for bad in ["red", "#12", "#1234567", "#0a0;}body{display:none", ""] {
        let config = IdpPages {
            primary_color: bad.into(),
            ..IdpPages::default()
        };
        assert!(
            matches!(Pages::new(&config, false), Err(PagesError::Colour { .. })),
            "{bad}"
        );
    }
}

#[test]
fn an_operator_template_replaces_the_builtin_one_and_a_broken_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("notify.html"),
        "{% extends \"base.html\" %}{% block content %}<p class=\"custom\">{{ message }}</p>{% endblock %}",
    )
    .unwrap();
    let config = IdpPages {
        template_dir: dir.path().display().to_string(),
        ..IdpPages::default()
    };
    let p = Pages::new(&config, false).unwrap();
    let html = p
        .render(
            Page::Notify,
            Lang::En,
            &switch(Lang::En),
            json!({"message": "<b>"}),
        )
        .unwrap();
    assert!(html.contains("<p class=\"custom\">&lt;b&gt;</p>"));
    std::fs::write(dir.path().join("login.html"), "{% if %}").unwrap();
    assert!(matches!(
        Pages::new(&config, false),
        Err(PagesError::Template { .. })
    ));
}

#[test]
fn unsupported_logo_types_are_refused() {
    let config = IdpPages {
        logo_file: "/tmp/logo.gif".into(),
        ..IdpPages::default()
    };
    assert!(matches!(Pages::new(&config, false), Err(PagesError::Logo { .. })));
}

#[test]
fn the_second_factor_step_posts_pending_csrf_and_method_with_a_one_time_code_field() {
    let html = pages()
        .render(
            Page::SecondFactor,
            Lang::En,
            &switch(Lang::En),
            fixture(Page::SecondFactor),
        )
        .unwrap();
    assert!(html.contains(r#"<form method="post" action="/login/mfa/post" id="totp-form">"#));
    assert!(html.contains(r#"<input type="hidden" name="pending" value="P1">"#));
    assert!(html.contains(r#"<input type="hidden" name="method" value="totp">"#));
    assert!(html.contains(r#"<input type="hidden" name="method" value="recovery">"#));
    assert!(html.contains(r#"inputmode="numeric" autocomplete="one-time-code""#));
    assert!(
        html.contains(r#"name="remember" value="1""#),
        "remembering is offered"
    );
    assert!(!html.contains("<script"), "no key enrolled: no script");
}

#[test]
fn the_login_page_offers_passkeys_only_with_a_token_for_them() {
    let p = pages();
    let plain = p
        .render(Page::Login, Lang::En, &switch(Lang::En), fixture(Page::Login))
        .unwrap();
    assert!(!plain.contains("passkey-login") && !plain.contains("webauthn"));
    let mut data = fixture(Page::Login);
    data["passkey_csrf"] = json!("PK");
    let html = p.render(Page::Login, Lang::En, &switch(Lang::En), data).unwrap();
    assert!(html.contains(r#"data-next-key="flow" data-next-value="F1" data-csrf="PK" hidden>"#));
    assert!(
        html.contains(r#"autocomplete="username webauthn""#),
        "conditional UI"
    );
}

#[test]
fn the_home_page_escapes_device_names_and_binds_every_form_to_the_token() {
    let html = pages()
        .render(Page::MfaHome, Lang::De, &switch(Lang::De), fixture(Page::MfaHome))
        .unwrap();
    assert!(html.contains("&lt;phone&gt;") && !html.contains("<phone>"));
    let forms = html
        .matches(r#"<form method="post" action="/2fa/v1/home/post""#)
        .count();
    let tokens = html
        .matches(r#"<input type="hidden" name="csrf" value="TOKEN">"#)
        .count();
    assert_eq!(forms, tokens);
    assert!(forms >= 5);
    assert!(html.contains(r#"name="protocols" value="imap""#));
    assert!(html.contains("App-Passwörter"));
}
