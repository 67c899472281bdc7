//! Hostile clients over real TCP: slow requests hold no concurrency permit and are closed after
//! the configured timeouts, oversized heads get the JSON error with the session, and
//! `/auth/basic` takes the TCP peer as the client.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{TestServer, assert_error, header};

/// Reads until the server closes the connection and returns what it sent. Fails the test if the
/// connection is still open after a generous bound (the configured timeouts are 1 s).
async fn read_until_closed(mut stream: TcpStream, what: &str) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server never closed the {what} connection");
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn slow_clients_hold_no_permit_and_are_closed_after_the_timeouts() {
    const LIMIT: usize = 4;
    let s = TestServer::with_config(
        &format!("max_concurrent_requests: {LIMIT}\ntimeouts: {{header_read: 1s, body_read: 1s}}"),
        "",
    )
    .await;
    let addr = s.server.addr;

    // Twice the limit of requests whose body never completes ...
    let mut slow_bodies = Vec::new();
    for _ in 0..2 * LIMIT {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /api/v1/auth/json HTTP/1.1\r\nHost: nauthilus\r\nContent-Type: application/json\r\nContent-Length: 999\r\n\r\n{")
            .await
            .unwrap();
        slow_bodies.push(stream);
    }
    // ... requests whose head never completes, and connections that send nothing.
    let mut slow_heads = Vec::new();
    for _ in 0..LIMIT {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /api/v1/auth/json HTTP/1.1\r\nHost: nauthilus\r\n")
            .await
            .unwrap();
        slow_heads.push(stream);
    }
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    // Let the server take the slow requests in (no assertion depends on this pause).
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Normal logins (fresh connections, so that no idle keep-alive connection is involved).
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    for _ in 0..LIMIT + 1 {
        let r = fresh
            .post(s.url("/api/v1/auth/json"))
            .json(&json!({"username": "alice@example.test", "password": "alice-secret"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "a normal login must not be refused (429)");
        assert_eq!(header(&r, "auth-status"), "OK");
    }
    let ping = fresh.get(s.url("/ping")).send().await.unwrap();
    assert_eq!(ping.status(), 200);

    for stream in slow_bodies {
        let answer = read_until_closed(stream, "slow body").await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(
            answer.to_ascii_lowercase().contains("x-nauthilus-session:"),
            "{answer}"
        );
        assert!(answer.contains(r#""guid":"#), "{answer}");
    }
    for stream in slow_heads {
        read_until_closed(stream, "slow head").await;
    }
    for stream in silent {
        read_until_closed(stream, "silent").await;
    }
}

#[tokio::test]
async fn oversized_heads_get_the_json_error_with_the_session() {
    let s = TestServer::start().await;
    let long = format!("/api/v1/auth/json?x={}", "a".repeat(17 * 1024));
    assert!(
        assert_error(s.http.get(s.url(&long)).send().await.unwrap(), 414)
            .await
            .contains("URI")
    );
    let big = "b".repeat(70 * 1024);
    let r = s.get_with("/api/v1/auth/header", &[("X-Big", &big)]).await;
    assert!(assert_error(r, 431).await.contains("header"));
    // More than the router's limit, within hyper's (reqwest adds a few fields of its own).
    let mut req = s.http.get(s.url("/ping"));
    for i in 0..nauthilus_http::limits::MAX_HEADERS {
        req = req.header(format!("x-field-{i}"), "v");
    }
    assert!(
        assert_error(req.send().await.unwrap(), 431)
            .await
            .contains("header fields")
    );
    // Heads within the limits are served as before.
    let r = s
        .get_with("/api/v1/auth/header", &[("X-Big", &"c".repeat(8 * 1024))])
        .await;
    assert_error(r, 400).await;
}

#[tokio::test]
async fn basic_auth_takes_the_tcp_peer_as_the_client_ip() {
    let s = TestServer::with_config(
        "features: [brute_force]",
        "brute_force:\n  buckets:\n    - {name: b24, period: 1h, cidr: 24, ipv4: true, failed_requests: 3, ban_time: 1h}\n",
    )
    .await;
    for i in 0..3 {
        let r = s
            .http
            .get(s.url("/api/v1/auth/basic"))
            .basic_auth("alice@example.test", Some(format!("guess-{i}")))
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), 200);
    }
    let r = s
        .http
        .post(s.url("/api/v1/bruteforce/list"))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["result"][0]["ip_addresses"],
        json!({"127.0.0.0/24": "b24"}),
        "the failures were counted against the peer's network: {body}"
    );
    let r = s
        .http
        .get(s.url("/api/v1/auth/basic"))
        .basic_auth("alice@example.test", Some("alice-secret"))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 200, "the peer's network is banned");
}
