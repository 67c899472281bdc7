//! `backend_server_monitoring` against IMAP, POP3 and SMTP servers the test runs (TLS, a real
//! login for the deep check): the nginx endpoint names healthy servers in turn, follows them
//! going down and coming back, and answers a temporary failure when none is healthy.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use nauthilus_testkit::TestCerts;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::metrics::{get, scrape};
use crate::support::{TestServer, header};

const TEST_USER: &str = "monitor@example.test";
const TEST_PASS: &str = "monitor-secret";

#[derive(Clone, Copy, Debug)]
enum Kind {
    Imap,
    Pop3,
    Smtp,
}

/// A tiny TLS mail server that knows one user.
struct MailServer {
    kind: Kind,
    port: u16,
    acceptor: TlsAcceptor,
    task: Option<JoinHandle<()>>,
}

impl MailServer {
    async fn start(kind: Kind, acceptor: TlsAcceptor) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut s = Self {
            kind,
            port,
            acceptor,
            task: None,
        };
        s.serve(listener);
        s
    }

    fn serve(&mut self, listener: TcpListener) {
        let (kind, acceptor) = (self.kind, self.acceptor.clone());
        self.task = Some(tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = converse(kind, BufStream::new(tls)).await;
                    }
                });
            }
        }));
    }

    /// Closes the port.
    fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Listens on the same port again.
    async fn start_again(&mut self) {
        self.stop();
        let listener = loop {
            // The aborted task drops its listener on its own thread: retry until the port is free.
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        self.serve(listener);
    }
}

async fn converse<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    kind: Kind,
    mut io: BufStream<S>,
) -> std::io::Result<()> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let greeting = match kind {
        Kind::Imap => "* OK IMAP4rev1 ready",
        Kind::Pop3 => "+OK POP3 ready",
        Kind::Smtp => "220 mx.example.test ESMTP",
    };
    io.write_all(format!("{greeting}\r\n").as_bytes()).await?;
    io.flush().await?;
    let mut smtp_step = 0;
    let mut user = String::new();
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end();
        let reply: String = match kind {
            Kind::Imap => {
                let good = format!("a1 LOGIN \"{TEST_USER}\" \"{TEST_PASS}\"");
                if line == good {
                    "a1 OK LOGIN completed".into()
                } else if line.starts_with("a1 ") {
                    "a1 NO [AUTHENTICATIONFAILED] wrong".into()
                } else if line.starts_with("a2 LOGOUT") {
                    "* BYE\r\na2 OK LOGOUT".into()
                } else {
                    "* BAD".into()
                }
            }
            Kind::Pop3 => match line.split_once(' ') {
                Some(("USER", u)) => {
                    user = u.to_owned();
                    "+OK".into()
                }
                Some(("PASS", p)) if user == TEST_USER && p == TEST_PASS => "+OK logged in".into(),
                Some(("PASS", _)) => "-ERR wrong".into(),
                _ if line == "QUIT" => "+OK bye".into(),
                _ => "-ERR".into(),
            },
            Kind::Smtp => {
                smtp_step += 1;
                match (smtp_step, line) {
                    (_, l) if l.starts_with("EHLO") => "250-mx.example.test\r\n250 AUTH LOGIN PLAIN".into(),
                    (_, "AUTH LOGIN") => "334 VXNlcm5hbWU6".into(),
                    (_, "QUIT") => "221 bye".into(),
                    (_, l) if l == b64(TEST_USER) => {
                        user = TEST_USER.into();
                        "334 UGFzc3dvcmQ6".into()
                    }
                    (_, l) if user == TEST_USER && l == b64(TEST_PASS) => "235 2.7.0 ok".into(),
                    _ => "535 5.7.8 wrong".into(),
                }
            }
        };
        io.write_all(format!("{reply}\r\n").as_bytes()).await?;
        io.flush().await?;
    }
}

fn acceptor(certs: &TestCerts) -> TlsAcceptor {
    let chain = nauthilus_tls::read_certificates(certs.server_cert.to_str().unwrap()).unwrap();
    let key = nauthilus_tls::read_private_key(certs.server_key.to_str().unwrap()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(nauthilus_tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

fn entry(protocol: &str, port: u16, password: &str) -> String {
    format!(
        "    - {{protocol: {protocol}, host: 127.0.0.1, port: {port}, tls: true, tls_skip_verify: true, deep_check: true, test_username: \"{TEST_USER}\", test_password: \"{password}\"}}\n"
    )
}

/// What the nginx endpoint answers for a right login over `protocol`: `Some(port)` or `None`
/// for a temporary failure.
async fn answer(s: &TestServer, protocol: &str) -> Option<u16> {
    let r = s
        .get_with(
            "/api/v1/auth/nginx",
            &[
                ("Auth-Method", "plain"),
                ("Auth-User", "alice@example.test"),
                ("Auth-Pass", "alice-secret"),
                ("Auth-Protocol", protocol),
                ("Auth-Login-Attempt", "1"),
                ("Client-IP", "198.51.100.20"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    match header(&r, "auth-status") {
        "OK" => Some(header(&r, "auth-port").parse().unwrap()),
        "Temporary server problem, try again later" => {
            assert_eq!(header(&r, "auth-server"), "");
            if protocol == "smtp" {
                assert_eq!(header(&r, "auth-error-code"), "451 4.3.0");
            }
            None
        }
        other => panic!("unexpected Auth-Status {other:?}"),
    }
}

/// Asks until `done` holds for the set of answers of the last 8 requests (the monitor's view
/// changes with its next checks; no timing is asserted, only a generous deadline).
async fn until(s: &TestServer, protocol: &str, what: &str, done: impl Fn(&BTreeSet<Option<u16>>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut seen = BTreeSet::new();
        for _ in 0..8 {
            seen.insert(answer(s, protocol).await);
        }
        if done(&seen) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{protocol}: never {what}; last answers {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `/healthz`'s status code and its `backend_servers` check.
async fn health(s: &TestServer) -> (u16, serde_json::Value) {
    let r = s.http.get(s.url("/healthz")).send().await.unwrap();
    let code = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap();
    (code, body["checks"]["backend_servers"].clone())
}

#[tokio::test]
async fn nginx_answers_follow_the_health_of_the_backend_servers() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCerts::generate(dir.path()).unwrap();
    let tls = acceptor(&certs);
    let mut imap1 = MailServer::start(Kind::Imap, tls.clone()).await;
    let mut imap2 = MailServer::start(Kind::Imap, tls.clone()).await;
    let pop3 = MailServer::start(Kind::Pop3, tls.clone()).await;
    let smtp = MailServer::start(Kind::Smtp, tls.clone()).await;
    let smtp_wrong = MailServer::start(Kind::Smtp, tls.clone()).await;
    let servers = [
        entry("imap", imap1.port, TEST_PASS),
        entry("imap", imap2.port, TEST_PASS),
        entry("pop3", pop3.port, TEST_PASS),
        entry("smtp", smtp.port, TEST_PASS),
        // Its deep check logs in with a wrong password: never healthy.
        entry("smtp", smtp_wrong.port, "not-the-password"),
    ]
    .concat();
    let s = TestServer::with_config(
        "features: [backend_server_monitoring]",
        &format!(
            "backend_server_monitoring:\n  interval: 100ms\n  timeout: 2s\n  backend_servers:\n{servers}"
        ),
    )
    .await;
    let (p1, p2) = (Some(imap1.port), Some(imap2.port));

    // Both IMAP servers are named, in turn.
    until(&s, "imap", "names both servers", |seen| {
        seen == &BTreeSet::from([p1, p2])
    })
    .await;
    until(&s, "pop3", "names its server", |seen| {
        seen == &BTreeSet::from([Some(pop3.port)])
    })
    .await;
    // The SMTP server whose test login fails is never named.
    until(&s, "smtp", "names the server with a working login", |seen| {
        seen == &BTreeSet::from([Some(smtp.port)])
    })
    .await;

    // /metrics and /healthz show the same state: 5 servers wanted, 4 alive.
    let (_, m) = scrape(&s).await;
    assert_eq!(
        get(&m, "backend_servers_status", &[("server_status", "wanted")]),
        5.0
    );
    assert_eq!(
        get(&m, "backend_servers_status", &[("server_status", "alive")]),
        4.0
    );
    let wrong_port = smtp_wrong.port.to_string();
    fn up(port: &str) -> [(&'static str, &str); 3] {
        [("protocol", "smtp"), ("host", "127.0.0.1"), ("port", port)]
    }
    assert_eq!(get(&m, "backend_server_up", &up(&wrong_port)), 0.0);
    assert_eq!(get(&m, "backend_server_up", &up(&smtp.port.to_string())), 1.0);
    let (code, check) = health(&s).await;
    assert_eq!(code, 200, "{check}");
    assert_eq!(check["status"], "degraded", "{check}");
    assert_eq!(
        check["error"],
        format!("failing checks: smtp://127.0.0.1:{wrong_port}"),
        "{check}"
    );
    assert_eq!(check["meta"]["alive"], 4, "{check}");

    imap1.stop();
    until(&s, "imap", "leaves the stopped server out", |seen| {
        seen == &BTreeSet::from([p2])
    })
    .await;
    imap2.stop();
    until(&s, "imap", "fails temporarily without a healthy server", |seen| {
        seen == &BTreeSet::from([None])
    })
    .await;
    let (_, m) = scrape(&s).await;
    assert_eq!(
        get(&m, "backend_servers_status", &[("server_status", "alive")]),
        2.0
    );
    let (code, check) = health(&s).await;
    assert_eq!(
        code, 200,
        "a mail server's health is not this instance's readiness"
    );
    assert_eq!(check["error"], "no healthy server for imap", "{check}");
    imap1.start_again().await;
    until(&s, "imap", "names the restarted server", |seen| {
        seen == &BTreeSet::from([p1])
    })
    .await;
    imap2.start_again().await;
    until(&s, "imap", "names both servers again", |seen| {
        seen == &BTreeSet::from([p1, p2])
    })
    .await;

    // A protocol without monitored servers keeps the configured upstreams (none for sieve here).
    let r = s
        .get_with(
            "/api/v1/auth/nginx",
            &[
                ("Auth-User", "alice@example.test"),
                ("Auth-Pass", "alice-secret"),
                ("Auth-Protocol", "sieve"),
                ("Client-IP", "198.51.100.20"),
            ],
        )
        .await;
    assert_eq!(
        header(&r, "auth-status"),
        "Temporary server problem, try again later"
    );
    // A failed login never names a server.
    let r = s
        .get_with(
            "/api/v1/auth/nginx",
            &[
                ("Auth-User", "alice@example.test"),
                ("Auth-Pass", "wrong"),
                ("Auth-Protocol", "imap"),
                ("Client-IP", "198.51.100.20"),
            ],
        )
        .await;
    assert_eq!(header(&r, "auth-status"), "Invalid login or password");
    assert_eq!(header(&r, "auth-server"), "");
}
