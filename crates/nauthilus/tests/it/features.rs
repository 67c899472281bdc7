//! The built-in pre-auth features over HTTP: `tls_encryption` with IPv4 and IPv6 cleartext
//! networks, `relay_domains`, the answers each endpoint gives for them, and brute-force
//! learning from a feature's rejection.

use serde_json::json;

use crate::support::{TestServer, assert_error, header};

const ALICE: (&str, &str) = ("alice@example.test", "alice-secret");

async fn json_login(s: &TestServer, user: &str, password: &str, ip: &str, ssl: &str) -> reqwest::Response {
    s.json(
        "",
        json!({"username": user, "password": password, "client_ip": ip, "protocol": "imap", "ssl": ssl}),
    )
    .await
}

async fn nginx_login(
    s: &TestServer,
    user: &str,
    ip: &str,
    protocol: &str,
    ssl: Option<&str>,
) -> reqwest::Response {
    let mut headers = vec![
        ("Auth-Method", "plain"),
        ("Auth-User", user),
        ("Auth-Pass", ALICE.1),
        ("Auth-Protocol", protocol),
        ("Auth-Login-Attempt", "1"),
        ("Client-IP", ip),
    ];
    if let Some(ssl) = ssl {
        headers.push(("Auth-SSL", ssl));
    }
    s.get_with("/api/v1/auth/nginx", &headers).await
}

async fn tls_server() -> TestServer {
    TestServer::with_config(
        "features: [tls_encryption]\nnginx_backends:\n  imap: {address: 10.0.0.7, port: 1143}\n  smtp: {address: 10.0.0.8, port: 25}",
        "cleartext_networks: [192.0.2.0/24, '2001:db8:c1ea::/48']\n",
    )
    .await
}

#[tokio::test]
async fn cleartext_logins_are_refused_outside_the_cleartext_networks() {
    let s = tls_server().await;
    for ip in ["198.51.100.7", "2001:db8:dead::7"] {
        let r = json_login(&s, ALICE.0, ALICE.1, ip, "").await;
        assert_eq!(
            header(&r, "auth-status"),
            "TLS transport encryption required",
            "{ip}"
        );
        assert_eq!(assert_error(r, 500).await, "TLS transport encryption required");
        // Over TLS the same client logs in.
        let r = json_login(&s, ALICE.0, ALICE.1, ip, "on").await;
        assert_eq!(r.status(), 200, "{ip} over TLS");
    }
    for ip in ["192.0.2.77", "2001:db8:c1ea::77"] {
        let r = json_login(&s, ALICE.0, ALICE.1, ip, "").await;
        assert_eq!(r.status(), 200, "{ip} is in a cleartext network");
    }
    // Local clients (the mail server itself) are never asked for TLS, as in Nauthilus.
    assert_eq!(
        json_login(&s, ALICE.0, ALICE.1, "127.0.0.1", "").await.status(),
        200
    );
    // The feature runs before the password is looked at: a wrong one gets the same answer.
    let r = json_login(&s, ALICE.0, "wrong", "198.51.100.7", "").await;
    assert_eq!(header(&r, "auth-status"), "TLS transport encryption required");
}

#[tokio::test]
async fn nginx_gets_a_temporary_failure_and_smtp_its_error_code() {
    let s = tls_server().await;
    let r = nginx_login(&s, ALICE.0, "198.51.100.7", "smtp", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "auth-status"), "TLS transport encryption required");
    assert_eq!(header(&r, "auth-error-code"), "451 4.3.0");
    assert_eq!(header(&r, "auth-server"), "");
    let r = nginx_login(&s, ALICE.0, "198.51.100.7", "imap", None).await;
    assert_eq!(header(&r, "auth-status"), "TLS transport encryption required");
    assert_eq!(header(&r, "auth-error-code"), "", "only SMTP gets an error code");
    let r = nginx_login(&s, ALICE.0, "198.51.100.7", "imap", Some("on")).await;
    assert_eq!(header(&r, "auth-status"), "OK");
    assert_eq!(header(&r, "auth-server"), "10.0.0.7");
}

#[tokio::test]
async fn user_names_of_other_domains_are_refused() {
    let s = TestServer::with_config(
        "features: [relay_domains]",
        "relay_domains:\n  static: [EXAMPLE.test]\n  soft_whitelist:\n    mallory@elsewhere.test: [203.0.113.0/24]\n",
    )
    .await;
    assert_eq!(
        json_login(&s, ALICE.0, ALICE.1, "198.51.100.7", "")
            .await
            .status(),
        200
    );
    let r = json_login(&s, "mallory@elsewhere.test", "x", "198.51.100.7", "").await;
    assert_eq!(header(&r, "auth-status"), "Invalid login or password");
    assert!(
        !header(&r, "auth-wait").is_empty(),
        "an ordinary failure, with Auth-Wait"
    );
    assert_eq!(assert_error(r, 403).await, "Invalid login or password");
    // From its soft-allowlisted network the name reaches the backends (which do not know it).
    let r = json_login(&s, "mallory@elsewhere.test", "x", "203.0.113.9", "").await;
    assert_eq!(r.status(), 403);
    // nginx: a failure, never a temporary one.
    let r = nginx_login(&s, "mallory@elsewhere.test", "198.51.100.7", "smtp", None).await;
    assert_eq!(header(&r, "auth-status"), "Invalid login or password");
    assert_eq!(header(&r, "auth-error-code"), "");
}

#[tokio::test]
async fn feature_rejections_feed_brute_force_only_when_learned() {
    let rules = "brute_force:\n  buckets: [{name: b32, period: 1h, cidr: 32, ipv4: true, failed_requests: 2, ban_time: 1h}]\n";
    for (learning, banned) in [("[relay_domains]", true), ("[]", false)] {
        let s = TestServer::with_config(
            "features: [relay_domains, brute_force]",
            &format!("relay_domains: {{static: [example.test]}}\n{rules}  learning: {learning}\n"),
        )
        .await;
        // Different passwords: a repeated wrong password is not counted again.
        for i in 0..3 {
            let r = json_login(&s, "eve@elsewhere.test", &format!("x{i}"), "198.51.100.8", "").await;
            assert_eq!(r.status(), 403);
        }
        // The right password from the same client: refused only where the rejections counted.
        let r = json_login(&s, ALICE.0, ALICE.1, "198.51.100.8", "").await;
        assert_eq!(r.status() == 403, banned, "learning {learning}");
    }
}
