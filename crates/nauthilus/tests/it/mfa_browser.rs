//! WebAuthn in real headless Chromium with a CDP virtual authenticator (CTAP2, internal
//! transport, resident keys, user verification): a passkey registered on the self-service
//! page (the page's script), then a passkey-only sign-in from the login page's autofill
//! (conditional mediation; a discoverable credential: no username, no password) with `amr` `["hwk","user"]`, then the
//! key as the second factor after a password; with the SQLite store and with the user's LDAP
//! entry. The self-service pages' screenshots for `docs/mfa.md` come from the SQLite run (with
//! `NAUTHILUS_SCREENSHOTS`).

use std::time::SystemTime;

use nauthilus_testkit::{BrowserContext, shared_browser};

use crate::mfa_web::{CredentialStore, oathtool, server};
use crate::support::TestServer;

const ALICE: (&str, &str) = ("alice@example.test", "alice-secret");

/// Writes a screenshot into docs/images when `NAUTHILUS_SCREENSHOTS` is set.
async fn screenshot(page: &BrowserContext, name: &str) {
    if std::env::var_os("NAUTHILUS_SCREENSHOTS").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/images")
            .join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        page.screenshot(&path).await.unwrap();
    }
}

/// The page's own origin as WebAuthn wants it (`localhost`, a secure context over HTTP).
fn origin(s: &TestServer) -> String {
    s.server.url().replace("127.0.0.1", "localhost")
}

/// The session the browser holds, as the server has it.
async fn session(s: &TestServer, page: &BrowserContext) -> nauthilus_idp::BrowserSession {
    let cookies = page.cookies().await.unwrap();
    let id = cookies
        .iter()
        .find(|c| c["name"] == "nauthilus_session")
        .and_then(|c| c["value"].as_str())
        .expect("a session cookie")
        .to_owned();
    let idp = s.server.idp.as_ref().unwrap().current();
    idp.session(&id).await.unwrap().expect("the session exists")
}

#[tokio::test]
async fn a_passkey_registers_signs_in_without_a_password_and_serves_as_second_factor() {
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("mfa.db");
    let s = server(&CredentialStore::Sqlite(&db), state.path(), "", true).await;
    passkey_journey(&s, true, false).await;
}

#[tokio::test]
async fn a_passkey_is_kept_on_the_users_ldap_entry_and_signs_in_from_the_button() {
    let state = tempfile::tempdir().unwrap();
    let s = server(&CredentialStore::Ldap, state.path(), "", true).await;
    // Start clean: alice's entry may hold factors of an earlier run.
    let mfa = s.server.services.mfa().unwrap().clone();
    mfa.remove_totp(ALICE.0).await.unwrap();
    for key in mfa.webauthn_credentials(ALICE.0).await.unwrap() {
        mfa.delete_webauthn_credential(ALICE.0, &key.id).await.unwrap();
    }
    for a in mfa.app_passwords(ALICE.0).await.unwrap() {
        mfa.revoke_app_password(ALICE.0, &a.id).await.unwrap();
    }
    passkey_journey(&s, false, true).await;
    assert_eq!(mfa.webauthn_credentials(ALICE.0).await.unwrap().len(), 1);
    // Leave the shared directory as found.
    for key in mfa.webauthn_credentials(ALICE.0).await.unwrap() {
        mfa.delete_webauthn_credential(ALICE.0, &key.id).await.unwrap();
    }
    mfa.remove_totp(ALICE.0).await.unwrap();
}

/// Registers a passkey, signs in with it alone (from the autofill, or with `button` from the
/// button), then uses it after the password; with `screenshots`, the pages are photographed
/// for the docs on the way.
async fn passkey_journey(s: &TestServer, screenshots: bool, button: bool) {
    let shot = |page: &'static str| screenshots.then_some(page);
    let base = origin(s);
    let page = shared_browser().unwrap().context("en-US").await.unwrap();
    let authenticator = page.add_virtual_authenticator().await.unwrap();

    // Sign in for the self-service pages with the password (nothing enrolled yet).
    let login = page.goto(&format!("{base}/2fa/v1/home")).await.unwrap();
    assert!(login.url.contains("/login?self_service=1"), "{}", login.url);
    assert_eq!(page.count("#passkey-button").await.unwrap(), 1);
    if let Some(name) = shot("mfa-login-passkey.png") {
        screenshot(&page, name).await;
    }
    page.fill("#username", ALICE.0).await.unwrap();
    page.fill("#password", ALICE.1).await.unwrap();
    let home = page.click("#submit").await.unwrap();
    assert!(home.url.ends_with("/2fa/v1/home"), "{}", home.url);

    // Register a passkey named "Laptop" through the page's script.
    page.fill("#key-name", "Laptop").await.unwrap();
    let back = page.click("#key-add").await.unwrap();
    assert!(back.url.ends_with("/2fa/v1/home"), "{}", back.url);
    let keys = page.text("#key-list").await.unwrap();
    assert!(keys.contains("Laptop"), "{keys}");
    let held = page.authenticator_credentials(&authenticator).await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["isResidentCredential"], true, "a discoverable credential");
    assert_eq!(held[0]["rpId"], "localhost");

    // Enrol TOTP and an app password too, for the screenshots of a full page.
    let totp = page.goto(&format!("{base}/2fa/v1/totp")).await.unwrap();
    assert_eq!(totp.status, 200);
    assert_eq!(page.count("#totp-qr svg").await.unwrap(), 1);
    if let Some(name) = shot("mfa-totp.png") {
        screenshot(&page, name).await;
    }
    let secret = page.text("#totp-secret").await.unwrap();
    page.fill("#code", &oathtool(secret.trim(), SystemTime::now()))
        .await
        .unwrap();
    let home = page.click("#confirm").await.unwrap();
    assert!(home.url.ends_with("/2fa/v1/home"), "{}", home.url);
    page.fill("#device", "Phone mail app").await.unwrap();
    page.check("#app-password-form input[value=imap]").await.unwrap();
    let shown = page.click("#create-app-password").await.unwrap();
    assert_eq!(shown.status, 200);
    if let Some(name) = shot("mfa-app-password.png") {
        screenshot(&page, name).await;
    }
    page.goto(&format!("{base}/2fa/v1/register")).await.unwrap();
    if let Some(name) = shot("mfa-register.png") {
        screenshot(&page, name).await;
    }
    page.goto(&format!("{base}/2fa/v1/home")).await.unwrap();
    if let Some(name) = shot("mfa-home.png") {
        screenshot(&page, name).await;
    }

    // A passkey-only sign-in: no username, no password. The login page asks with conditional
    // mediation (the autofill of the username field), which the virtual authenticator answers;
    // with `button`, that request waits (no simulated presence) and the button asks instead.
    page.clear_cookies().await.unwrap();
    if button {
        page.authenticator_presence(&authenticator, false).await.unwrap();
        page.goto(&format!("{base}/login?self_service=1")).await.unwrap();
        page.authenticator_presence(&authenticator, true).await.unwrap();
        match page.click("#passkey-button").await {
            Ok(signed_in) => assert!(signed_in.url.ends_with("/2fa/v1/home"), "{}", signed_in.url),
            // The waiting autofill request may be answered as soon as presence is back and
            // sign in first (the button is gone then): still a passkey-only sign-in, whose
            // session is checked below.
            Err(_) => {
                let signed_in = page.wait_for_url_end("/2fa/v1/home").await.unwrap();
                assert!(signed_in.ends_with("/2fa/v1/home"), "{signed_in}");
            }
        }
    } else {
        page.goto(&format!("{base}/login?self_service=1")).await.unwrap();
        let signed_in = page.wait_for_url_end("/2fa/v1/home").await.unwrap();
        assert!(signed_in.ends_with("/2fa/v1/home"), "{signed_in}");
    }
    let passkey_session = session(s, &page).await;
    assert_eq!(passkey_session.account, ALICE.0);
    assert_eq!(passkey_session.amr, ["hwk", "user"]);
    assert!(passkey_session.has_mfa());
    let keys = page.text("#key-list").await.unwrap();
    assert!(!keys.contains("never"), "the key's last use is shown: {keys}");

    // The key as the second factor after a password (no simulated presence while the login
    // page's autofill request waits, so the password form is used).
    page.clear_cookies().await.unwrap();
    page.authenticator_presence(&authenticator, false).await.unwrap();
    page.goto(&format!("{base}/login?self_service=1")).await.unwrap();
    page.fill("#username", ALICE.0).await.unwrap();
    page.fill("#password", ALICE.1).await.unwrap();
    let step = page.click("#submit").await.unwrap();
    assert!(step.url.contains("/login/mfa?pending="), "{}", step.url);
    page.authenticator_presence(&authenticator, true).await.unwrap();
    if let Some(name) = shot("mfa-second-factor.png") {
        screenshot(&page, name).await;
    }
    let done = page.click("#mfa-key-button").await.unwrap();
    assert!(done.url.ends_with("/2fa/v1/home"), "{}", done.url);
    assert_eq!(session(s, &page).await.amr, ["pwd", "hwk"]);
    page.close().await.unwrap();
}
