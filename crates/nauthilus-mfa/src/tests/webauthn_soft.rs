//! WebAuthn ceremonies against a software authenticator (no browser): registration, login,
//! several named credentials, last use, deletion, and the ceremony state taken once.

use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::Url;

use super::*;
use crate::WebauthnCredentialInfo;

fn origin() -> Url {
    Url::parse("https://localhost:8443").unwrap()
}

async fn register(
    mfa: &Mfa,
    key: &mut WebauthnAuthenticator<SoftPasskey>,
    name: &str,
    t: u64,
) -> WebauthnCredentialInfo {
    let challenge = mfa.begin_webauthn_registration("alice", "Alice").await.unwrap();
    let response = key.do_registration(origin(), challenge).unwrap();
    mfa.finish_webauthn_registration("alice", name, &response, at(t))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_software_authenticator_registers_and_logs_in() {
    let bed = Bed::new();
    let mfa = bed.mfa();
    let mut key = WebauthnAuthenticator::new(SoftPasskey::new(true));
    let info = register(&mfa, &mut key, "YubiKey", T0).await;
    assert_eq!(info.name, "YubiKey");
    assert!(mfa.has_second_factor("alice").await.unwrap());

    let challenge = mfa.begin_webauthn_login("alice").await.unwrap();
    let assertion = key.do_authentication(origin(), challenge).unwrap();
    let used = mfa
        .finish_webauthn_login("alice", &assertion, at(T0 + 60))
        .await
        .unwrap();
    assert_eq!(used, info.id);
    let listed = mfa.webauthn_credentials("alice").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used, Some(T0 + 60));

    // The ceremony state is taken once: the same assertion cannot finish a second login.
    assert!(
        mfa.finish_webauthn_login("alice", &assertion, at(T0 + 61))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn an_assertion_for_another_challenge_is_refused() {
    let bed = Bed::new();
    let mfa = bed.mfa();
    let mut key = WebauthnAuthenticator::new(SoftPasskey::new(true));
    register(&mfa, &mut key, "key", T0).await;
    let first = mfa.begin_webauthn_login("alice").await.unwrap();
    let stale = key.do_authentication(origin(), first).unwrap();
    // A new login replaces the pending challenge; the old assertion does not match it.
    let _second = mfa.begin_webauthn_login("alice").await.unwrap();
    assert!(
        mfa.finish_webauthn_login("alice", &stale, at(T0 + 5))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn several_named_credentials_can_be_listed_and_deleted() {
    let bed = Bed::new();
    let mfa = bed.mfa();
    let mut phone = WebauthnAuthenticator::new(SoftPasskey::new(true));
    let mut laptop = WebauthnAuthenticator::new(SoftPasskey::new(true));
    let a = register(&mfa, &mut phone, "Phone", T0).await;
    let b = register(&mfa, &mut laptop, "Laptop", T0 + 1).await;
    let names: Vec<String> = mfa
        .webauthn_credentials("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["Phone", "Laptop"]);
    assert!(mfa.delete_webauthn_credential("alice", &a.id).await.unwrap());
    assert!(!mfa.delete_webauthn_credential("alice", &a.id).await.unwrap());
    // The deleted key is no longer asked for; the other logs in.
    let challenge = mfa.begin_webauthn_login("alice").await.unwrap();
    assert!(phone.do_authentication(origin(), challenge).is_err());
    let challenge = mfa.begin_webauthn_login("alice").await.unwrap();
    let assertion = laptop.do_authentication(origin(), challenge).unwrap();
    assert_eq!(
        mfa.finish_webauthn_login("alice", &assertion, at(T0 + 10))
            .await
            .unwrap(),
        b.id
    );
    // A name is required.
    let challenge = mfa.begin_webauthn_registration("alice", "Alice").await.unwrap();
    let mut third = WebauthnAuthenticator::new(SoftPasskey::new(true));
    let response = third.do_registration(origin(), challenge).unwrap();
    assert!(
        mfa.finish_webauthn_registration("alice", " ", &response, at(T0))
            .await
            .is_err()
    );
}
