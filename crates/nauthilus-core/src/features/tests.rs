//! The built-in features on their own, from configuration text.

use std::path::Path;
use std::time::SystemTime;

use super::*;
use crate::password::Password;
use crate::request::{AuthMode, Service};
use crate::session::SessionId;

fn features(features: &str, rest: &str) -> Features {
    let yaml = format!(
        "server:\n  backends: [passwd_file]\n  features: {features}\npasswd_file: {{path: /u}}\n{rest}"
    );
    let config = nauthilus_config::load_str(&yaml, Path::new("/"), Vec::new())
        .unwrap_or_else(|e| panic!("{:?}", e.errors))
        .0;
    Features::from_config(&config, None).unwrap()
}

fn req(user: &str, ip: &str, ssl: &str) -> AuthRequest {
    let mut r = AuthRequest::new(
        SessionId::new(SystemTime::now()),
        Service::Nginx,
        user.into(),
        Password::from("secret"),
    );
    r.client.ip = ip.into();
    r.tls.ssl = ssl.into();
    r
}

async fn hit(f: &Features, r: &AuthRequest) -> Option<(Feature, bool)> {
    let auth = r.mode == AuthMode::Authenticate;
    f.run(r, auth)
        .await
        .map(|h| (h.feature, matches!(h.verdict, Verdict::Triggered(_))))
}

#[tokio::test]
async fn tls_is_required_outside_the_cleartext_networks() {
    let f = features(
        "[tls_encryption]",
        "cleartext_networks: [192.168.0.0/16, '2001:db8:1::/48']\n",
    );
    let refused = Some((Feature::TlsEncryption, true));
    assert_eq!(hit(&f, &req("u", "203.0.113.5", "")).await, refused);
    assert_eq!(hit(&f, &req("u", "203.0.113.5", "on")).await, None);
    assert_eq!(hit(&f, &req("u", "192.168.7.7", "")).await, None);
    assert_eq!(hit(&f, &req("u", "2001:db8:1::9", "")).await, None);
    assert_eq!(hit(&f, &req("u", "2001:db8:2::9", "")).await, refused);
    assert_eq!(hit(&f, &req("u", "not an address", "")).await, refused);
}

#[tokio::test]
async fn local_and_empty_clients_skip_every_feature() {
    let f = features(
        "[tls_encryption, relay_domains]",
        "relay_domains: {static: [example.com]}\n",
    );
    for ip in ["127.0.0.1", "::1", "", " "] {
        assert_eq!(hit(&f, &req("u@other.org", ip, "")).await, None, "{ip:?}");
    }
    // Only those three: another loopback address is a client like any other (as in Nauthilus).
    assert!(hit(&f, &req("u", "127.0.0.2", "")).await.is_some());
}

#[tokio::test]
async fn relay_domains_compare_the_domain_without_case() {
    let f = features(
        "[relay_domains]",
        "relay_domains: {static: [Example.COM, example.org.]}\n",
    );
    assert_eq!(hit(&f, &req("u@example.com", "203.0.113.5", "")).await, None);
    assert_eq!(hit(&f, &req("u@EXAMPLE.org", "203.0.113.5", "")).await, None);
    assert_eq!(hit(&f, &req("plainuser", "203.0.113.5", "")).await, None);
    assert_eq!(hit(&f, &req("a@b@other.net", "203.0.113.5", "")).await, None);
    assert_eq!(
        hit(&f, &req("u@other.net", "203.0.113.5", "")).await,
        Some((Feature::RelayDomains, true))
    );
}

#[tokio::test]
async fn soft_allowlists_exempt_one_user_from_some_networks() {
    let f = features(
        "[relay_domains]",
        "relay_domains:\n  static: [example.com]\n  soft_whitelist:\n    u@other.net: [198.51.100.0/24]\n",
    );
    assert_eq!(hit(&f, &req("u@other.net", "198.51.100.9", "")).await, None);
    assert!(hit(&f, &req("u@other.net", "203.0.113.5", "")).await.is_some());
    assert!(hit(&f, &req("v@other.net", "198.51.100.9", "")).await.is_some());
}

#[tokio::test]
async fn lookups_run_features_only_when_asked() {
    let f = features(
        "[tls_encryption, {name: relay_domains, when_no_auth: true}]",
        "relay_domains: {static: [example.com]}\n",
    );
    let mut r = req("u@other.net", "203.0.113.5", "");
    r.mode = AuthMode::NoAuth;
    assert_eq!(hit(&f, &r).await, Some((Feature::RelayDomains, true)));
    r.username = "u@example.com".into();
    assert_eq!(hit(&f, &r).await, None, "tls_encryption does not run for lookups");
}

#[tokio::test]
async fn features_run_in_the_nauthilus_order_and_learning_is_per_feature() {
    let f = features(
        "[relay_domains, tls_encryption, brute_force]",
        "relay_domains: {static: [example.com]}\nbrute_force:\n  buckets: [{name: a, period: 60, cidr: 24, ipv4: true, failed_requests: 3}]\n  learning: [relay_domains]\n",
    );
    assert_eq!(
        f.enabled().collect::<Vec<_>>(),
        [Feature::TlsEncryption, Feature::RelayDomains]
    );
    let tls = f.run(&req("u@other.net", "203.0.113.5", ""), true).await.unwrap();
    assert_eq!((tls.feature, tls.learn), (Feature::TlsEncryption, false));
    let relay = f
        .run(&req("u@other.net", "203.0.113.5", "on"), true)
        .await
        .unwrap();
    assert_eq!((relay.feature, relay.learn), (Feature::RelayDomains, true));
}
