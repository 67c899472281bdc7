//! Specifications of the testkit's PostgreSQL and MariaDB services, against the real servers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use nauthilus_testkit::{MariaDb, Postgres};

fn accepts(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

#[test]
fn postgres_starts_privately_restarts_on_its_port_and_is_removed_on_drop() {
    let pg = Postgres::start().unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(pg.port(), 5432, "never the system port");
    assert!(pg.url("postgres").starts_with("postgres://postgres@127.0.0.1:"));
    assert!(pg.dir().join("data").join("PG_VERSION").exists());
    let port = pg.port();
    pg.stop().unwrap();
    assert!(!accepts(port), "stopped");
    pg.start_again()
        .unwrap_or_else(|e| panic!("{e}\n{}", pg.log_tail()));
    assert_eq!(pg.port(), port);
    assert!(accepts(port));
    let dir = pg.dir().to_owned();
    drop(pg);
    assert!(!dir.exists(), "directory removed");
}

#[test]
fn mariadb_starts_privately_greets_and_restarts_on_its_port() {
    let db = MariaDb::start().unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(db.port(), 3306, "never the system port");
    let mut greeting = [0_u8; 5];
    let mut stream = TcpStream::connect(("127.0.0.1", db.port())).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.read_exact(&mut greeting).unwrap();
    assert_eq!(greeting[4], 10, "protocol 10 handshake");
    db.stop().unwrap();
    assert!(!accepts(db.port()));
    db.start_again()
        .unwrap_or_else(|e| panic!("{e}\n{}", db.log_tail()));
    assert!(accepts(db.port()));
}
