//! The behaviour every `Store` implementation must show, run against each of them. Keys are put
//! under `ns` so one Redis can serve several runs at once.

use std::collections::HashMap;
use std::time::Duration;

use crate::{Store, StoreError, Ttl};

/// Runs every check against `store`.
pub async fn run_all(store: &Store, ns: &str) {
    strings(store, ns).await;
    set_nx_and_get_del(store, ns).await;
    ttls(store, ns).await;
    hashes(store, ns).await;
    read_batches(store, ns).await;
    hash_prefix_is_literal(store, ns).await;
    counters(store, ns).await;
    guarded_decrements(store, ns).await;
    concurrent_counting_is_exact(store, ns).await;
    sets(store, ns).await;
    wrong_types(store, ns).await;
    store.ping().await.unwrap();
}

async fn strings(s: &Store, ns: &str) {
    let k = format!("{ns}str");
    assert_eq!(s.get(&k).await.unwrap(), None);
    assert!(!s.exists(&k).await.unwrap());
    s.set(&k, "v1", None).await.unwrap();
    assert_eq!(s.get(&k).await.unwrap().as_deref(), Some("v1"));
    s.set(&k, "välue with ümlauts", None).await.unwrap();
    assert_eq!(s.get(&k).await.unwrap().as_deref(), Some("välue with ümlauts"));
    assert!(s.exists(&k).await.unwrap());
    assert!(s.delete(&k).await.unwrap());
    assert!(!s.delete(&k).await.unwrap());
    let (a, b, c) = (
        format!("{ns}many-a"),
        format!("{ns}many-b"),
        format!("{ns}many-c"),
    );
    s.set(&a, "1", None).await.unwrap();
    s.set(&c, "3", None).await.unwrap();
    assert_eq!(
        s.get_many(&[&a, &b, &c]).await.unwrap(),
        [Some("1".to_owned()), None, Some("3".to_owned())],
        "in order, missing keys as None"
    );
    assert!(s.get_many(&[]).await.unwrap().is_empty());
    s.delete(&a).await.unwrap();
    s.delete(&c).await.unwrap();
}

async fn read_batches(s: &Store, ns: &str) {
    use crate::{Read, ReadReply};
    let (text, hash, none, other) = (
        format!("{ns}batch-str"),
        format!("{ns}batch-hash"),
        format!("{ns}batch-none"),
        format!("{ns}batch-set"),
    );
    s.set(&text, "t", None).await.unwrap();
    s.hash_replace(&hash, &[("a", "1"), ("b", "2")], None)
        .await
        .unwrap();
    let replies = s
        .read_batch(&[
            Read::Get(&text),
            Read::HashGet(&hash, "b"),
            Read::HashGet(&hash, "zz"),
            Read::HashGetAll(&hash),
            Read::HashGetAll(&none),
            Read::Get(&none),
        ])
        .await
        .unwrap();
    let all: HashMap<String, String> = [("a", "1"), ("b", "2")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(
        replies,
        [
            ReadReply::Value(Some("t".into())),
            ReadReply::Value(Some("2".into())),
            ReadReply::Value(None),
            ReadReply::Hash(all),
            ReadReply::Hash(HashMap::new()),
            ReadReply::Value(None),
        ],
        "in order, each typed by its read"
    );
    assert!(s.read_batch(&[]).await.unwrap().is_empty());
    s.set_add(&other, &["m"], None).await.unwrap();
    assert!(
        matches!(
            s.read_batch(&[Read::Get(&text), Read::HashGetAll(&other)]).await,
            Err(StoreError::Command(_))
        ),
        "a key of another type fails the batch"
    );
    for k in [&text, &hash, &other] {
        s.delete(k).await.unwrap();
    }
}

async fn set_nx_and_get_del(s: &Store, ns: &str) {
    let k = format!("{ns}once");
    assert!(s.set_nx(&k, "a", Some(Duration::from_secs(60))).await.unwrap());
    assert!(!s.set_nx(&k, "b", None).await.unwrap());
    assert_eq!(s.get_del(&k).await.unwrap().as_deref(), Some("a"));
    assert_eq!(s.get_del(&k).await.unwrap(), None);
}

async fn ttls(s: &Store, ns: &str) {
    let k = format!("{ns}ttl");
    assert_eq!(s.ttl(&k).await.unwrap(), Ttl::Missing);
    s.set(&k, "v", None).await.unwrap();
    assert_eq!(s.ttl(&k).await.unwrap(), Ttl::Persistent);
    assert!(s.expire(&k, Duration::from_secs(100)).await.unwrap());
    assert_ttl_near(s.ttl(&k).await.unwrap(), 100);
    s.set(&k, "v", Some(Duration::from_secs(50))).await.unwrap();
    assert_ttl_near(s.ttl(&k).await.unwrap(), 50);
    s.set(&k, "v", None).await.unwrap();
    assert_eq!(
        s.ttl(&k).await.unwrap(),
        Ttl::Persistent,
        "set without TTL clears the TTL"
    );
    assert!(
        !s.expire(&format!("{ns}nokey"), Duration::from_secs(1))
            .await
            .unwrap()
    );
    s.delete(&k).await.unwrap();
}

fn assert_ttl_near(ttl: Ttl, secs: u64) {
    match ttl {
        Ttl::Expires(d) => assert!(
            d <= Duration::from_secs(secs) && d + Duration::from_secs(5) >= Duration::from_secs(secs),
            "ttl {d:?} not near {secs}s"
        ),
        other => panic!("expected a TTL near {secs}s, got {other:?}"),
    }
}

async fn hashes(s: &Store, ns: &str) {
    let k = format!("{ns}hash");
    assert!(s.hash_get_all(&k).await.unwrap().is_empty());
    assert_eq!(s.hash_get(&k, "a").await.unwrap(), None);
    s.hash_replace(&k, &[("a", "1"), ("b", "2")], Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let all = s.hash_get_all(&k).await.unwrap();
    assert_eq!(
        all,
        HashMap::from([("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned())])
    );
    assert_ttl_near(s.ttl(&k).await.unwrap(), 30);
    s.hash_replace(&k, &[("c", "3")], Some(Duration::from_secs(40)))
        .await
        .unwrap();
    assert_eq!(
        s.hash_get_all(&k).await.unwrap(),
        HashMap::from([("c".to_owned(), "3".to_owned())]),
        "replace drops old fields"
    );
    assert_ttl_near(s.ttl(&k).await.unwrap(), 40);
    s.hash_set(&k, &[("d", "4")]).await.unwrap();
    assert_eq!(s.hash_get(&k, "d").await.unwrap().as_deref(), Some("4"));
    assert_ttl_near(s.ttl(&k).await.unwrap(), 40);
    assert_eq!(s.hash_delete(&k, &["c", "zz"]).await.unwrap(), 1);
    assert_eq!(s.hash_delete(&k, &["d"]).await.unwrap(), 1);
    assert!(
        !s.exists(&k).await.unwrap(),
        "a hash without fields no longer exists"
    );
    s.hash_set(&k, &[]).await.unwrap();
    assert!(!s.exists(&k).await.unwrap(), "setting nothing creates nothing");
    let p = format!("{ns}persistent-hash");
    s.hash_set(&p, &[("x", "1")]).await.unwrap();
    assert_eq!(s.ttl(&p).await.unwrap(), Ttl::Persistent);
    s.delete(&p).await.unwrap();
}

async fn hash_prefix_is_literal(s: &Store, ns: &str) {
    let k = format!("{ns}mapping");
    s.hash_set(
        &k,
        &[
            ("al*ce|imap|", "acct1"),
            ("alice|imap|", "acct2"),
            ("al*ce|smtp|x", "acct3"),
            ("al?ce|pop3|", "acct4"),
        ],
    )
    .await
    .unwrap();
    let mut found = s.hash_fields_with_prefix(&k, "al*ce|").await.unwrap();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("al*ce|imap|".to_owned(), "acct1".to_owned()),
            ("al*ce|smtp|x".to_owned(), "acct3".to_owned())
        ]
    );
    assert!(s.hash_fields_with_prefix(&k, "[a]").await.unwrap().is_empty());
    s.delete(&k).await.unwrap();
}

async fn counters(s: &Store, ns: &str) {
    let k = format!("{ns}ctr");
    assert_eq!(s.incr(&k, 1, Some(Duration::from_secs(60))).await.unwrap(), 1);
    assert_eq!(s.incr(&k, 5, Some(Duration::from_secs(999))).await.unwrap(), 6);
    assert_ttl_near(s.ttl(&k).await.unwrap(), 60);
    assert_eq!(s.incr(&k, -6, None).await.unwrap(), 0);
    s.set(&k, "not a number", None).await.unwrap();
    assert!(matches!(s.incr(&k, 1, None).await, Err(StoreError::Command(_))));
    s.delete(&k).await.unwrap();
}

async fn guarded_decrements(s: &Store, ns: &str) {
    let k = format!("{ns}guarded");
    assert_eq!(s.decr_if_positive(&k).await.unwrap(), 0);
    assert!(!s.exists(&k).await.unwrap(), "a missing key is not created");
    assert_eq!(s.incr(&k, 2, Some(Duration::from_secs(60))).await.unwrap(), 2);
    assert_eq!(s.decr_if_positive(&k).await.unwrap(), 1);
    assert_eq!(s.decr_if_positive(&k).await.unwrap(), 0);
    assert_eq!(s.decr_if_positive(&k).await.unwrap(), 0, "never below zero");
    assert_eq!(s.get(&k).await.unwrap().as_deref(), Some("0"));
    assert_ttl_near(s.ttl(&k).await.unwrap(), 60);
    s.set(&k, "-3", None).await.unwrap();
    assert_eq!(
        s.decr_if_positive(&k).await.unwrap(),
        -3,
        "a negative value is left alone"
    );
    s.set(&k, "not a number", None).await.unwrap();
    assert!(matches!(
        s.decr_if_positive(&k).await,
        Err(StoreError::Command(_))
    ));
    s.set(&k, "1.5", None).await.unwrap();
    assert!(matches!(
        s.decr_if_positive(&k).await,
        Err(StoreError::Command(_))
    ));
    s.delete(&k).await.unwrap();
    s.hash_set(&k, &[("f", "1")]).await.unwrap();
    assert!(matches!(
        s.decr_if_positive(&k).await,
        Err(StoreError::Command(_))
    ));
    assert!(s.delete(&k).await.unwrap());
}

/// Counters stay exact when many callers change them at once (brute-force buckets are counted
/// by every instance concurrently): N increments leave N, and more guarded decrements than
/// increments leave 0, never less.
async fn concurrent_counting_is_exact(s: &Store, ns: &str) {
    const N: usize = 64;
    let k = format!("{ns}concurrent");
    let ttl = Some(Duration::from_secs(60));
    let values = futures::future::try_join_all((0..N).map(|_| s.incr(&k, 1, ttl)))
        .await
        .unwrap();
    assert_eq!(s.get(&k).await.unwrap().as_deref(), Some("64"));
    let mut seen = values.clone();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=64).collect::<Vec<i64>>(),
        "every caller saw its own count"
    );
    assert_ttl_near(s.ttl(&k).await.unwrap(), 60);
    let after = futures::future::try_join_all((0..N + 16).map(|_| s.decr_if_positive(&k)))
        .await
        .unwrap();
    assert_eq!(s.get(&k).await.unwrap().as_deref(), Some("0"));
    assert_eq!(
        after.iter().filter(|v| **v == 0).count(),
        17,
        "one reached 0, 16 found it there"
    );
    s.delete(&k).await.unwrap();
}

async fn sets(s: &Store, ns: &str) {
    let k = format!("{ns}set");
    assert!(s.set_members(&k).await.unwrap().is_empty());
    assert_eq!(
        s.set_add(&k, &[], Some(Duration::from_secs(20))).await.unwrap(),
        0
    );
    assert!(!s.exists(&k).await.unwrap(), "adding nothing creates nothing");
    assert_eq!(
        s.set_add(&k, &["a", "b", "a"], Some(Duration::from_secs(20)))
            .await
            .unwrap(),
        2
    );
    assert_eq!(s.set_add(&k, &["b", "c"], None).await.unwrap(), 1);
    assert_ttl_near(s.ttl(&k).await.unwrap(), 20);
    let mut members = s.set_members(&k).await.unwrap();
    members.sort();
    assert_eq!(members, ["a", "b", "c"]);
    assert_eq!(s.set_remove(&k, &["a", "x"]).await.unwrap(), 1);
    assert_eq!(s.set_remove(&k, &["b", "c"]).await.unwrap(), 2);
    assert!(!s.exists(&k).await.unwrap(), "an empty set no longer exists");
}

async fn wrong_types(s: &Store, ns: &str) {
    let k = format!("{ns}typed");
    s.set(&k, "string", None).await.unwrap();
    assert!(matches!(s.hash_get_all(&k).await, Err(StoreError::Command(_))));
    assert!(matches!(
        s.set_add(&k, &["m"], None).await,
        Err(StoreError::Command(_))
    ));
    assert_eq!(
        s.get(&k).await.unwrap().as_deref(),
        Some("string"),
        "a failed command changes nothing"
    );
    s.delete(&k).await.unwrap();
    s.hash_set(&k, &[("f", "v")]).await.unwrap();
    let other = format!("{ns}typed-other");
    assert!(
        matches!(s.get_many(&[&other, &k]).await, Err(StoreError::Command(_))),
        "a hash among the keys is an error, not a silent None"
    );
    assert!(matches!(s.get(&k).await, Err(StoreError::Command(_))));
    s.delete(&k).await.unwrap();
}
