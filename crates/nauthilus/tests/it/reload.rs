//! Swapping the pipeline while requests run: none fails, and requests after the swap use the
//! new pipeline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use crate::support::TestServer;

#[tokio::test]
async fn swapping_the_pipeline_under_load_fails_no_request() {
    let s = Arc::new(TestServer::with_users("alice@example.test:{PLAIN}pw\n", "", "").await);
    // The new configuration: another backend list (no cache) over another file, which also
    // knows carol.
    std::fs::write(
        s.dir.path().join("more.passwd"),
        "alice@example.test:{PLAIN}pw\ncarol@example.test:{PLAIN}pw\n",
    )
    .unwrap();
    let yaml = "server:\n  address: 127.0.0.1:0\n  backends: [passwd_file]\n  log: {level: warn}\npasswd_file:\n  path: more.passwd\n";
    let path = s.dir.path().join("new.yml");
    std::fs::write(&path, yaml).unwrap();
    let new = nauthilus_config::load_file(&path, Vec::new()).unwrap().config;
    let carol = || json!({"username": "carol@example.test", "password": "pw", "client_ip": "192.0.2.9"});
    assert_eq!(s.json("", carol()).await.status(), 403, "unknown before the swap");

    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for i in 0..32 {
        let (s, stop) = (s.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut sent = 0u32;
            while !stop.load(Ordering::Relaxed) || sent < 10 {
                let body = json!({"username": "alice@example.test", "password": "pw", "client_ip": format!("192.0.2.{}", i + 1)});
                let query = if sent.is_multiple_of(2) { "" } else { "?in-memory=0" };
                let status = s.json(query, body).await.status();
                assert_eq!(status, 200, "a login failed during the swap");
                sent += 1;
            }
            sent
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    s.server.reload(&new).await.unwrap();
    assert_eq!(
        s.json("", carol()).await.status(),
        200,
        "the new pipeline answers"
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    assert!(total >= 320, "{total} requests");
    assert_eq!(s.json("?in-memory=0", carol()).await.status(), 200);
}
