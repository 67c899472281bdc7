//! The second-factor pages over real HTTP (a reqwest browser with its own cookie jar): TOTP
//! enrolled on the self-service page and confirmed with an `oathtool` code, then required at
//! login, replay refused; recovery codes once; remember-this-device skips the step until
//! revoked; `require_mfa` clients never get a password-only login; app passwords created on
//! the page work for their protocol only and stop when revoked; enrolments survive a restart
//! and a Redis `FLUSHALL`. Every factor with the SQLite store and with the LDAP store (slapd).

use std::time::SystemTime;

use serde_json::json;

use crate::idp_support::{REDIRECT, verify_jwt};
use crate::mfa_web::*;
use crate::support::{TestServer, header};

const ALICE: (&str, &str) = ("alice@example.test", "alice-secret");
const BOB: (&str, &str) = ("bob@example.test", "bob-secret");

/// Everything a user does with TOTP, recovery codes and a remembered browser, as `user`.
async fn totp_recovery_and_remembered_browser(s: &TestServer, user: (&str, &str)) {
    let now = SystemTime::now();
    // No factor yet: the password alone completes the login.
    let mut b = Browser::new(s);
    let login = b.authorize(s, "demo-app").await;
    let done = b.password(&login, user.0, user.1).await;
    assert_eq!(done.status, 303);
    assert!(done.location.starts_with(REDIRECT), "{}", done.location);
    let tokens = redeem(s, "demo-app", &done.location).await;
    let claims = verify_jwt(s, tokens["id_token"].as_str().unwrap(), "demo-app").await;
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(claims["acr"], "urn:nauthilus:pwd");

    // Enrol TOTP and recovery codes on the self-service pages (the session is fresh).
    let secret = enrol_totp(&mut b, now).await;
    let shown = b.home_action(&[("action", "regenerate_recovery")]).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let codes = shown.all_between("<li><code>", "</code>");
    assert_eq!(codes.len(), 10, "{}", shown.body);
    let home = b.get("/2fa/v1/home").await;
    assert!(
        home.body.contains("<p id=\"recovery-left\">Unused codes: 10</p>"),
        "{}",
        home.body
    );

    // A new browser: the password now leads to the second-factor step.
    let mut b = Browser::new(s);
    let login = b.authorize(s, "demo-app").await;
    let step = b.password(&login, user.0, user.1).await;
    assert_eq!(step.status, 303);
    assert!(
        step.location.starts_with("/login/mfa?pending="),
        "{}",
        step.location
    );
    // The enrolment's code was used: replay refused.
    let replay = b
        .second_factor(&step.location, "totp", &oathtool(&secret, now), false)
        .await;
    assert_eq!(replay.status, 403, "a used code is refused");
    assert!(replay.body.contains("The code is wrong or was used already."));
    // The next step's code (within the skew) passes; remember this browser.
    let code = oathtool(&secret, next_step(now));
    let done = b.second_factor(&step.location, "totp", &code, true).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(
        done.set_cookies
            .iter()
            .any(|c| c.starts_with("nauthilus_mfa_device=") && c.contains("Max-Age=2592000"))
    );
    let tokens = redeem(s, "demo-app", &done.location).await;
    let claims = verify_jwt(s, tokens["id_token"].as_str().unwrap(), "demo-app").await;
    assert_eq!(claims["amr"], json!(["pwd", "otp"]));
    assert_eq!(claims["acr"], "urn:example:loa:2", "the client's own acr");
    let access = tokens["access_token"].as_str().unwrap();
    let userinfo: serde_json::Value = s
        .http
        .get(s.url("/oidc/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["amr"], json!(["pwd", "otp"]));
    let (_, introspected, _) = crate::idp_support::post_form(
        s,
        "/oidc/introspect",
        Some(&crate::idp_support::basic("demo-app", crate::idp_support::SECRET)),
        &[("token", access)],
    )
    .await;
    assert_eq!(introspected["acr"], "urn:example:loa:2");
    // The pending login was taken: posting to it again finds nothing.
    let pending = step.location.split('=').nth(1).unwrap();
    let again = b.get(&format!("/login/mfa?pending={pending}")).await;
    assert_eq!(again.status, 400, "single use");

    // The remembered browser skips the step (a new session, same device cookie).
    b.cookies.remove("nauthilus_session");
    let login = b.authorize(s, "demo-app").await;
    let done = b.password(&login, user.0, user.1).await;
    assert!(
        done.location.starts_with(REDIRECT),
        "remembered: {}",
        done.location
    );
    let tokens = redeem(s, "demo-app", &done.location).await;
    let claims = verify_jwt(s, tokens["id_token"].as_str().unwrap(), "demo-app").await;
    assert_eq!(
        claims["amr"],
        json!(["pwd", "otp"]),
        "stands for the factor it remembers"
    );

    // A tampered device cookie is ignored (fail closed).
    let mut tampered = Browser::new(s);
    let mut value = b.cookies["nauthilus_mfa_device"].clone();
    value.replace_range(0..1, if value.starts_with('A') { "B" } else { "A" });
    tampered.cookies.insert("nauthilus_mfa_device".into(), value);
    let login = tampered.authorize(s, "demo-app").await;
    let step = tampered.password(&login, user.0, user.1).await;
    assert!(step.location.starts_with("/login/mfa?"), "{}", step.location);

    // Revoked on the home page: the cookie no longer skips anything.
    let home = b.get("/2fa/v1/home").await;
    assert!(home.body.contains("it-browser&#x2f;1.0"), "{}", home.body);
    let id = home.input_after("id=\"device-list\"", "id");
    let revoked = b.home_action(&[("action", "forget_device"), ("id", &id)]).await;
    assert_eq!(revoked.status, 303);
    b.cookies.remove("nauthilus_session");
    let login = b.authorize(s, "demo-app").await;
    let step = b.password(&login, user.0, user.1).await;
    assert!(
        step.location.starts_with("/login/mfa?"),
        "revoked: {}",
        step.location
    );

    // A recovery code works once.
    let done = b
        .second_factor(&step.location, "recovery", &codes[0], false)
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(done.location.starts_with(REDIRECT));
    let mut b = Browser::new(s);
    let login = b.authorize(s, "demo-app").await;
    let step = b.password(&login, user.0, user.1).await;
    let used = b
        .second_factor(&step.location, "recovery", &codes[0], false)
        .await;
    assert_eq!(used.status, 403, "a recovery code works once");
    let wrong = b.second_factor(&step.location, "totp", "000000", false).await;
    assert_eq!(wrong.status, 403);
}

/// App passwords created on the page: their protocol only, until revoked on the page.
async fn app_password_on_the_page(s: &TestServer, user: (&str, &str)) {
    let mut b = Browser::new(s);
    // The self-service login asks for the enrolled second factor first: use a recovery code.
    let step = b.self_service_login(user.0, user.1).await;
    let codes = if step.location.starts_with("/login/mfa?") {
        let mfa = s.server.services.mfa().unwrap();
        let codes = mfa
            .regenerate_recovery_codes(user.0, SystemTime::now())
            .await
            .unwrap();
        let done = b
            .second_factor(&step.location, "recovery", &codes[0], false)
            .await;
        assert_eq!((done.status, done.location.as_str()), (303, "/2fa/v1/home"));
        codes.len()
    } else {
        assert_eq!(step.location, "/2fa/v1/home");
        0
    };
    let _ = codes;
    let shown = b
        .home_action(&[
            ("action", "create_app_password"),
            ("device", "phone"),
            ("protocols", "imap"),
        ])
        .await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let password = shown.between("<li><code>", "</code>");
    assert!(shown.body.contains("<strong>imap</strong>"));
    let json_login = |password: String, protocol: &'static str| async move {
        s.json("", json!({"username": user.0, "password": password, "protocol": protocol, "client_ip": "192.0.2.81"}))
            .await
            .status()
            .as_u16()
    };
    assert_eq!(json_login(password.clone(), "imap").await, 200);
    assert_eq!(json_login(password.clone(), "smtp").await, 403, "scoped to imap");
    let nginx = s
        .get_with(
            "/api/v1/auth/nginx",
            &[
                ("Auth-User", user.0),
                ("Auth-Pass", &password),
                ("Auth-Protocol", "imap"),
                ("Auth-Method", "plain"),
                ("Auth-Login-Attempt", "1"),
                ("Client-IP", "192.0.2.82"),
            ],
        )
        .await;
    assert_eq!(header(&nginx, "auth-status"), "OK");
    let home = b.get("/2fa/v1/home").await;
    assert!(home.body.contains("<td>phone</td><td>imap</td>"), "{}", home.body);
    let id = home.input_after("id=\"app-password-list\"", "id");
    let revoked = b
        .home_action(&[("action", "revoke_app_password"), ("id", &id)])
        .await;
    assert_eq!(revoked.status, 303);
    assert_eq!(json_login(password, "imap").await, 403, "revoked");
}

#[tokio::test]
async fn every_factor_works_over_the_pages_with_the_sqlite_store() {
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("mfa.db");
    let s = server(&CredentialStore::Sqlite(&db), state.path(), "", false).await;
    totp_recovery_and_remembered_browser(&s, ALICE).await;
    app_password_on_the_page(&s, ALICE).await;
}

#[tokio::test]
async fn every_factor_works_over_the_pages_with_the_ldap_store() {
    let state = tempfile::tempdir().unwrap();
    let s = server(&CredentialStore::Ldap, state.path(), "", false).await;
    // Start clean: bob's entry may hold factors of an earlier run.
    let mfa = s.server.services.mfa().unwrap().clone();
    mfa.remove_totp(BOB.0).await.unwrap();
    mfa.credentials()
        .replace_all(BOB.0, nauthilus_mfa::Kind::RecoveryCode, &[])
        .await
        .unwrap();
    for a in mfa.app_passwords(BOB.0).await.unwrap() {
        mfa.revoke_app_password(BOB.0, &a.id).await.unwrap();
    }
    totp_recovery_and_remembered_browser(&s, BOB).await;
    app_password_on_the_page(&s, BOB).await;
    // The factors are on bob's entry.
    assert!(mfa.has_totp(BOB.0).await.unwrap());
    mfa.remove_totp(BOB.0).await.unwrap();
}

#[tokio::test]
async fn a_require_mfa_client_never_gets_a_password_only_login() {
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("mfa.db");
    let s = server(&CredentialStore::Sqlite(&db), state.path(), "", false).await;
    // Bob has no second factor: a page that says to enrol, and no code for the client.
    let mut b = Browser::new(&s);
    let login = b.authorize(&s, "strict-app").await;
    let refused = b.password(&login, BOB.0, BOB.1).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("id=\"mfa-required\""));
    assert!(refused.body.contains("href=\"/2fa/v1/register\""));
    assert!(refused.location.is_empty());
    // Its password-only session is refused by the client too: back to the login (step-up).
    let again = b
        .get(&crate::idp_support::url_with(
            &s,
            "/oidc/authorize",
            &[
                ("response_type", "code"),
                ("client_id", "strict-app"),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                ("code_challenge", crate::idp_support::CHALLENGE),
            ],
        ))
        .await;
    assert_eq!(again.status, 303);
    assert!(again.location.starts_with("/login?flow="), "{}", again.location);
    // The same session enrols TOTP (it is fresh); then the client gets its code after the step.
    let now = SystemTime::now();
    let secret = enrol_totp(&mut b, now).await;
    let login = b.get(&again.location).await;
    let step = b.password(&login, BOB.0, BOB.1).await;
    assert!(step.location.starts_with("/login/mfa?"), "{}", step.location);
    let done = b
        .second_factor(&step.location, "totp", &oathtool(&secret, next_step(now)), false)
        .await;
    assert!(done.location.starts_with(REDIRECT), "{}", done.body);
    let tokens = redeem(&s, "strict-app", &done.location).await;
    let claims = verify_jwt(&s, tokens["id_token"].as_str().unwrap(), "strict-app").await;
    assert_eq!(claims["acr"], "urn:nauthilus:mfa");
}

#[tokio::test]
async fn the_self_service_pages_need_a_fresh_login_and_csrf() {
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("mfa.db");
    let s = server(&CredentialStore::Sqlite(&db), state.path(), "", false).await;
    let mut b = Browser::new(&s);
    let anonymous = b.get("/2fa/v1/home").await;
    assert_eq!(
        (anonymous.status, anonymous.location.as_str()),
        (303, "/login?self_service=1")
    );
    // A session whose login is older than `mfa.fresh_login` signs in again.
    let idp = s.server.idp.as_ref().unwrap().current();
    let user = match idp
        .authenticate_password(
            ALICE.0,
            ALICE.1,
            "",
            "127.0.0.1",
            nauthilus_core::SessionId::new(SystemTime::now()),
            SystemTime::now(),
        )
        .await
    {
        nauthilus_idp::LoginResult::Ok(user) => user,
        other => panic!("{other:?}"),
    };
    let old = SystemTime::now() - std::time::Duration::from_secs(301);
    let (_, cookie) = idp.create_session(&user, vec!["pwd".into()], old).await.unwrap();
    let (k, v) = cookie
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap();
    b.cookies.insert(k.into(), v.into());
    let stale = b.get("/2fa/v1/home").await;
    assert_eq!(
        (stale.status, stale.location.as_str()),
        (303, "/login?self_service=1")
    );
    // A fresh one gets the page; a POST without the token is refused.
    let fresh = b.self_service_login(ALICE.0, ALICE.1).await;
    assert_eq!(fresh.location, "/2fa/v1/home");
    let page = b.get("/2fa/v1/home").await;
    assert_eq!(page.status, 200);
    let forged = b
        .post(
            "/2fa/v1/home/post",
            &[("action", "regenerate_recovery"), ("csrf", "forged")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let unknown = b.get("/2fa/v1/not-a-page").await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn enrolments_survive_a_restart_and_a_redis_flushall() {
    let redis = nauthilus_testkit::RedisServer::start().unwrap();
    let state_yaml = format!(
        "  redis:\n    master: {{address: \"{}\"}}\n    prefix: \"it-mfaweb:\"",
        redis.addr()
    );
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("mfa.db");
    let now = SystemTime::now();
    let secret = {
        let s = server(&CredentialStore::Sqlite(&db), state.path(), &state_yaml, false).await;
        let mut b = Browser::new(&s);
        let home = b.self_service_login(ALICE.0, ALICE.1).await;
        assert_eq!(home.location, "/2fa/v1/home");
        let secret = enrol_totp(&mut b, now).await;
        s.server.shutdown().await.unwrap();
        secret
    };
    redis.command(&["FLUSHALL"]).unwrap();
    let s = server(&CredentialStore::Sqlite(&db), state.path(), &state_yaml, false).await;
    let mut b = Browser::new(&s);
    let login = b.authorize(&s, "demo-app").await;
    let step = b.password(&login, ALICE.0, ALICE.1).await;
    assert!(
        step.location.starts_with("/login/mfa?"),
        "still enrolled: {}",
        step.location
    );
    let done = b
        .second_factor(&step.location, "totp", &oathtool(&secret, next_step(now)), false)
        .await;
    assert!(done.location.starts_with(REDIRECT), "{}", done.body);
}

#[tokio::test]
async fn the_second_factor_forms_refuse_other_browsers_and_forged_tokens() {
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("mfa.db");
    let s = server(&CredentialStore::Sqlite(&db), state.path(), "", true).await;
    let mfa = s.server.services.mfa().unwrap().clone();
    let now = SystemTime::now();
    let enrolment = mfa.begin_totp_enrolment(ALICE.0).await.unwrap();
    let code = oathtool(&enrolment.secret_base32, now);
    mfa.confirm_totp_enrolment(ALICE.0, &code, "192.0.2.90", now)
        .await
        .unwrap();
    let mut b = Browser::new(&s);
    let login = b.authorize(&s, "demo-app").await;
    let step = b.password(&login, ALICE.0, ALICE.1).await;
    let page = b.get(&step.location).await;
    let pending = page.input("pending");
    let csrf = page.input("csrf");
    let next = oathtool(&enrolment.secret_base32, next_step(now));
    // Another browser (its own CSRF cookie) cannot answer this login's step, even with its id.
    let mut other = Browser::new(&s);
    let _ = other.get("/login?self_service=1").await;
    let stolen = other
        .post(
            "/login/mfa/post",
            &[
                ("pending", &pending),
                ("csrf", &csrf),
                ("method", "totp"),
                ("code", &next),
            ],
        )
        .await;
    assert_eq!(
        stolen.status, 403,
        "the token is bound to the browser's CSRF cookie"
    );
    let forged = b
        .post(
            "/login/mfa/post",
            &[
                ("pending", &pending),
                ("csrf", "forged"),
                ("method", "totp"),
                ("code", &next),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    // The JSON endpoints of the page's script refuse too, with the request's guid.
    for path in ["/login/mfa/webauthn/begin", "/login/passkey/begin"] {
        let r = s
            .http
            .post(s.url(path))
            .header("sec-fetch-site", "same-origin")
            .json(&json!({"pending": pending, "flow": "x", "csrf": "forged"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["guid"].as_str().is_some_and(|g| !g.is_empty()),
            "{path}: {body}"
        );
    }
    // The rightful browser still completes the step with its unused code.
    let done = b
        .post(
            "/login/mfa/post",
            &[
                ("pending", &pending),
                ("csrf", &csrf),
                ("method", "totp"),
                ("code", &next),
            ],
        )
        .await;
    assert!(done.location.starts_with(REDIRECT), "{}", done.body);
}
