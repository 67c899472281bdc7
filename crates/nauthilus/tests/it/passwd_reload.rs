//! The passwd-file is reloaded while the server runs; a broken file keeps the old users.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::TestServer;

async fn status_of(s: &TestServer, user: &str, pw: &str) -> u16 {
    s.json("?in-memory=0&cache=0", json!({"username": user, "password": pw}))
        .await
        .status()
        .as_u16()
}

/// Polls until `user` gets `want` (the watcher checks every 100 ms); gives up after 20 s.
async fn eventually(s: &TestServer, user: &str, pw: &str, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while status_of(s, user, pw).await != want {
        assert!(Instant::now() < deadline, "{user} never got {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_changed_file_is_picked_up_and_a_broken_one_is_not() {
    let s = TestServer::with_users("old@example.test:{PLAIN}pw\n", "", "").await;
    assert_eq!(status_of(&s, "old@example.test", "pw").await, 200);
    let path = s.dir.path().join("users.passwd");
    let tmp = s.dir.path().join("users.new");
    std::fs::write(&tmp, "new@example.test:{PLAIN}pw\n").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    eventually(&s, "new@example.test", "pw", 200).await;
    assert_eq!(status_of(&s, "old@example.test", "pw").await, 403);

    std::fs::write(
        &tmp,
        "new@example.test:{PLAIN}pw\nthis line is broken\nlater@example.test:{PLAIN}pw\n",
    )
    .unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        status_of(&s, "new@example.test", "pw").await,
        200,
        "old users kept"
    );
    assert_eq!(
        status_of(&s, "later@example.test", "pw").await,
        403,
        "broken file not loaded"
    );
}

/// Issue 10, defect 4: a changed or removed password stops working at once, although the old
/// login sits in the positive cache (1 h) and the in-process cache (30 s).
#[tokio::test]
async fn a_changed_password_stops_working_although_it_was_cached() {
    let s = TestServer::with_users(
        "alice@example.test:{PLAIN}old\nbob@example.test:{PLAIN}gone\n",
        "",
        "",
    )
    .await;
    let login = |user: &'static str, pw: &'static str| {
        let s = &s;
        async move {
            s.json(
                "",
                json!({"username": user, "password": pw, "client_ip": "192.0.2.7"}),
            )
            .await
            .status()
            .as_u16()
        }
    };
    assert_eq!(login("alice@example.test", "old").await, 200);
    assert_eq!(login("bob@example.test", "gone").await, 200);
    let r = s
        .json(
            "",
            json!({"username": "alice@example.test", "password": "old", "client_ip": "192.0.2.7"}),
        )
        .await;
    assert_eq!(
        r.headers()["x-nauthilus-memory-cache"],
        "Hit",
        "cached in process"
    );

    let path = s.dir.path().join("users.passwd");
    let tmp = s.dir.path().join("users.new");
    std::fs::write(&tmp, "alice@example.test:{PLAIN}new\n").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    // Cache-using logins: the new password works once the file is reloaded...
    let deadline = Instant::now() + Duration::from_secs(20);
    while login("alice@example.test", "new").await != 200 {
        assert!(Instant::now() < deadline, "new password never worked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // ...and from then on neither cache answers for the old password or the removed user.
    let deadline = Instant::now() + Duration::from_secs(5);
    while login("alice@example.test", "old").await != 403 || login("bob@example.test", "gone").await != 403 {
        assert!(
            Instant::now() < deadline,
            "a cached old password or a removed user kept working after the reload"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
