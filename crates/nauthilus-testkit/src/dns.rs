//! [`DnsServer`]: a small authoritative DNS server (hickory-server) on a free loopback port,
//! inside the test process, serving the zones a test builds — for the block-list (RBL) tests.
//! Unlike the other services it is async: it runs on the caller's Tokio runtime.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::rdata::{A, AAAA, MX, PTR, SOA, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record};
use hickory_server::Server;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

/// One zone: its origin and records (names relative to the origin, or absolute with a dot).
#[derive(Clone, Debug)]
pub struct Zone {
    origin: String,
    ttl: u32,
    records: Vec<(String, RData)>,
}

impl Zone {
    /// An empty zone for `origin` (`bl.example.`); answers (and "no such name") live `ttl`
    /// seconds in a resolver's cache.
    pub fn new(origin: &str, ttl: u32) -> Self {
        Self {
            origin: origin.trim_end_matches('.').to_owned() + ".",
            ttl,
            records: Vec::new(),
        }
    }

    /// Adds an A record for `name`.
    pub fn a(mut self, name: &str, ip: Ipv4Addr) -> Self {
        self.records.push((name.to_owned(), RData::A(A(ip))));
        self
    }

    /// Adds an AAAA record for `name`.
    pub fn aaaa(mut self, name: &str, ip: std::net::Ipv6Addr) -> Self {
        self.records.push((name.to_owned(), RData::AAAA(AAAA(ip))));
        self
    }

    /// Adds a PTR record for `name` pointing at `target`.
    pub fn ptr(mut self, name: &str, target: &str) -> Self {
        if let Ok(t) = Name::from_ascii(target) {
            self.records.push((name.to_owned(), RData::PTR(PTR(t))));
        }
        self
    }

    /// Adds an MX record for `name`: mail for it goes to `exchange` with `preference`.
    pub fn mx(mut self, name: &str, preference: u16, exchange: &str) -> Self {
        if let Ok(t) = Name::from_ascii(exchange) {
            self.records
                .push((name.to_owned(), RData::MX(MX::new(preference, t))));
        }
        self
    }

    /// Adds a TXT record for `name` with one character string.
    pub fn txt(mut self, name: &str, text: &str) -> Self {
        self.records
            .push((name.to_owned(), RData::TXT(TXT::new(vec![text.to_owned()]))));
        self
    }

    fn name(&self, relative: &str) -> Result<Name, String> {
        let full = if relative.ends_with('.') {
            relative.to_owned()
        } else if relative.is_empty() || relative == "@" {
            self.origin.clone()
        } else {
            format!("{relative}.{}", self.origin)
        };
        Name::from_ascii(&full).map_err(|e| format!("{full}: {e}"))
    }

    fn handler(&self) -> Result<(LowerName, Arc<dyn ZoneHandler>), String> {
        let origin = self.name("@")?;
        let mut zone: InMemoryZoneHandler =
            InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let hostmaster = self.name("hostmaster")?;
        // The SOA's minimum is the negative TTL: how long "not listed" is cached.
        let soa = SOA::new(origin.clone(), hostmaster, 1, 3600, 600, 86400, self.ttl);
        let mut ok = zone.upsert_mut(Record::from_rdata(origin.clone(), self.ttl, RData::SOA(soa)), 1);
        for (name, data) in &self.records {
            ok &= zone.upsert_mut(Record::from_rdata(self.name(name)?, self.ttl, data.clone()), 1);
        }
        if !ok {
            return Err(format!("zone {}: a record was refused", self.origin));
        }
        Ok((LowerName::new(&origin), Arc::new(zone)))
    }
}

/// An authoritative DNS server on `127.0.0.1:<free port>`, UDP and TCP.
pub struct DnsServer {
    addr: SocketAddr,
    zones: Vec<Zone>,
    server: Option<Server<Catalog>>,
}

impl DnsServer {
    /// Serves `zones` on a free loopback port. Must run inside a Tokio runtime.
    pub async fn start(zones: Vec<Zone>) -> Result<Self, String> {
        for _ in 0..20 {
            let udp = UdpSocket::bind((IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
                .await
                .map_err(|e| e.to_string())?;
            let addr = udp.local_addr().map_err(|e| e.to_string())?;
            // The same port for TCP; another process may hold it, then try another port.
            let Ok(tcp) = TcpListener::bind(addr).await else {
                continue;
            };
            let mut this = Self {
                addr,
                zones,
                server: None,
            };
            this.serve(udp, tcp)?;
            return Ok(this);
        }
        Err("no free port for UDP and TCP".into())
    }

    fn serve(&mut self, udp: UdpSocket, tcp: TcpListener) -> Result<(), String> {
        let mut catalog = Catalog::new();
        for zone in &self.zones {
            let (origin, handler) = zone.handler()?;
            catalog.upsert(origin, vec![handler]);
        }
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 65_535);
        self.server = Some(server);
        Ok(())
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops answering (the port is closed: queries get no answer or a refused connection).
    pub async fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.shutdown_gracefully().await;
        }
    }

    /// Serves the same zones on the same port again.
    pub async fn start_again(&mut self) -> Result<(), String> {
        self.stop().await;
        let udp = UdpSocket::bind(self.addr).await.map_err(|e| e.to_string())?;
        let tcp = TcpListener::bind(self.addr).await.map_err(|e| e.to_string())?;
        self.serve(udp, tcp)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.shutdown_token().cancel();
        }
    }
}
