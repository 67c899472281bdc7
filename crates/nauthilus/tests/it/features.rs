//! The built-in pre-auth features over HTTP: `tls_encryption` with IPv4 and IPv6 cleartext
//! networks, `relay_domains`, the answers each endpoint gives for them, and brute-force
//! learning from a feature's rejection, and `rbl` against a real DNS server.

use std::net::Ipv4Addr;

use nauthilus_testkit::{DnsServer, Zone};
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

// ---- rbl: against a real authoritative DNS server on a loopback port ----

/// Two block lists: `bl1.test` answers 127.0.0.2 (its code), `bl2.test` 127.0.0.3. Clients:
/// `.5` and `2001:db8:bad::1` are in both, `.6` only in bl1, `.7` only in bl2, `.9` gets an
/// answer that is not bl1's code, `.200` is in both but allowlisted.
async fn dns_server() -> DnsServer {
    let both = ["5.113.0.203", "200.113.0.203", V6_LISTED];
    let mut bl1 = Zone::new("bl1.test", 300)
        .a("6.113.0.203", Ipv4Addr::new(127, 0, 0, 2))
        .a("9.113.0.203", Ipv4Addr::new(127, 0, 0, 99));
    let mut bl2 = Zone::new("bl2.test", 300).a("7.113.0.203", Ipv4Addr::new(127, 0, 0, 3));
    for name in both {
        bl1 = bl1.a(name, Ipv4Addr::new(127, 0, 0, 2));
        bl2 = bl2.a(name, Ipv4Addr::new(127, 0, 0, 3));
    }
    DnsServer::start(vec![bl1, bl2]).await.unwrap()
}

/// `2001:db8:bad::1` reversed by nibble.
const V6_LISTED: &str = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.a.b.0.8.b.d.0.1.0.0.2";

async fn rbl_server(resolver: &str, allow_failure: bool) -> TestServer {
    TestServer::with_config(
        &format!("features: [rbl]\ndns: {{resolver: \"{resolver}\", timeout: 2s}}"),
        &format!(
            "realtime_blackhole_lists:\n  threshold: 10\n  ip_whitelist: [203.0.113.128/25]\n  lists:\n    - {{name: one, rbl: bl1.test, ipv4: true, ipv6: true, return_code: 127.0.0.2, weight: 5, allow_failure: {allow_failure}}}\n    - {{name: two, rbl: bl2.test., ipv4: true, ipv6: true, return_codes: [127.0.0.4, 127.0.0.3], weight: 5, allow_failure: {allow_failure}}}\n"
        ),
    )
    .await
}

#[tokio::test]
async fn block_lists_refuse_clients_whose_weights_reach_the_threshold_together() {
    let mut dns = dns_server().await;
    let s = rbl_server(&dns.addr().to_string(), false).await;
    let login = |ip: &'static str| {
        let s = &s;
        async move { json_login(s, ALICE.0, ALICE.1, ip, "on").await }
    };
    for (ip, refused) in [
        ("203.0.113.5", true),
        ("2001:db8:bad::1", true),
        ("203.0.113.6", false),
        ("203.0.113.7", false),
        ("203.0.113.9", false),
        ("198.51.100.1", false),
        ("2001:db8:900d::1", false),
        ("203.0.113.200", false),
    ] {
        let r = login(ip).await;
        if refused {
            assert_eq!(header(&r, "auth-status"), "Invalid login or password", "{ip}");
            assert_eq!(assert_error(r, 403).await, "Invalid login or password", "{ip}");
        } else {
            assert_eq!(r.status(), 200, "{ip}");
        }
    }
    // Answers are cached for their TTL: with the DNS server gone, a client already looked up
    // gets the same answer, a new one a temporary failure (the lists do not allow failure).
    dns.stop().await;
    assert_eq!(login("203.0.113.5").await.status(), 403);
    assert_eq!(login("203.0.113.6").await.status(), 200);
    assert_eq!(
        login("198.51.100.1").await.status(),
        200,
        "negative answers are cached too"
    );
    let r = login("198.51.100.2").await;
    assert_eq!(
        header(&r, "auth-status"),
        "Temporary server problem, try again later"
    );
    assert_eq!(r.status(), 500);
    // Allowlisted clients are never looked up.
    assert_eq!(login("203.0.113.201").await.status(), 200);
    dns.start_again().await.unwrap();
    assert_eq!(login("198.51.100.2").await.status(), 200);
}

#[tokio::test]
async fn a_dead_resolver_fails_logins_temporarily_unless_the_lists_allow_failure() {
    // A port nothing listens on.
    let dead = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let strict = rbl_server(&dead.to_string(), false).await;
    let r = json_login(&strict, ALICE.0, ALICE.1, "198.51.100.3", "").await;
    assert_eq!(
        assert_error(r, 500).await,
        "Temporary server problem, try again later"
    );
    let r = nginx_login(&strict, ALICE.0, "198.51.100.3", "smtp", None).await;
    assert_eq!(header(&r, "auth-error-code"), "451 4.3.0");
    let lenient = rbl_server(&dead.to_string(), true).await;
    let r = json_login(&lenient, ALICE.0, ALICE.1, "198.51.100.3", "").await;
    assert_eq!(r.status(), 200);
}

// ---- server.dns.resolve_client_ip: the client's PTR name, against the same kind of DNS server ----

/// A Lua filter that shows the request's `client_hostname` as the attribute `client_host`.
const SHOW_CLIENT_HOST: &str = r#"
local backend = require("nauthilus_backend")
function nauthilus_call_filter(request)
    local name = request.client_hostname or ""
    if name == "" then name = "none" end
    local extra = nauthilus_backend_result.new()
    extra:attributes({ client_host = name })
    backend.apply_backend_result(extra)
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
"#;

/// `2001:db8:5::10` reversed by nibble, under `ip6.arpa`.
const V6_NAMED: &str = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";

async fn naming_server(resolver: &str, scripts: &tempfile::TempDir) -> TestServer {
    let filter = scripts.path().join("show_client_host.lua");
    std::fs::write(&filter, SHOW_CLIENT_HOST).unwrap();
    TestServer::with_config(
        &format!("dns: {{resolver: \"{resolver}\", timeout: 2s, resolve_client_ip: true}}"),
        &format!(
            "lua:\n  filters:\n    - {{name: show_client_host, script_path: \"{}\"}}\n",
            filter.display()
        ),
    )
    .await
}

async fn client_host(s: &TestServer, ip: &str, given: Option<&str>) -> String {
    let mut body = json!({"username": ALICE.0, "password": ALICE.1, "client_ip": ip, "protocol": "imap"});
    if let Some(name) = given {
        body["client_hostname"] = json!(name);
    }
    // Past the caches: a cached login carries the attributes of the first one.
    let r = s.json("?in-memory=0&cache=0", body).await;
    assert_eq!(r.status(), 200, "{ip}");
    let body: serde_json::Value = r.json().await.unwrap();
    body["attributes"]["client_host"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{ip}: {body}"))
        .to_owned()
}

#[tokio::test]
async fn client_names_come_from_their_ptr_records_when_the_request_has_none() {
    let zones = vec![
        Zone::new("2.0.192.in-addr.arpa", 300).ptr("10", "mx1.example.test."),
        Zone::new("5.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", 300).ptr(V6_NAMED, "mx6.example.test."),
    ];
    let dns = DnsServer::start(zones).await.unwrap();
    let scripts = tempfile::tempdir().unwrap();
    let s = naming_server(&dns.addr().to_string(), &scripts).await;
    assert_eq!(client_host(&s, "192.0.2.10", None).await, "mx1.example.test");
    assert_eq!(client_host(&s, "2001:db8:5::10", None).await, "mx6.example.test");
    // No PTR record: no name, and the login goes on.
    assert_eq!(client_host(&s, "192.0.2.11", None).await, "none");
    // A name the request carries is kept.
    assert_eq!(
        client_host(&s, "192.0.2.10", Some("given.example.test")).await,
        "given.example.test"
    );
}

#[tokio::test]
async fn a_dead_resolver_leaves_the_client_unnamed_and_the_login_goes_on() {
    let dead = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let scripts = tempfile::tempdir().unwrap();
    let s = naming_server(&dead.to_string(), &scripts).await;
    assert_eq!(client_host(&s, "192.0.2.10", None).await, "none");
}
