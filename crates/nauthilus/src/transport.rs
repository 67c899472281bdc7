//! What sits between the socket and HTTP: TLS (rustls, ring), the PROXY protocol v2 header
//! (`server.haproxy_v2`) and `X-Forwarded-For` from trusted proxies (`server.trusted_proxies`).
//!
//! A [`Transport`] is built from one configuration and swapped as a whole on reload: the
//! acceptor with the certificate files as they are now, the trusted networks. Connections
//! already open keep the acceptor they were accepted with.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::http::HeaderMap;
use ipnet::IpNet;
use nauthilus_config::{Config, ServerTls};
use nauthilus_tls::TlsFileError;
use ppp::v2;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ServerConfig, SupportedProtocolVersion};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_rustls::TlsAcceptor;

/// Why the listener's transport settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("server.tls.cert: {0}")]
    Cert(TlsFileError),
    #[error("server.tls.key: {0}")]
    Key(TlsFileError),
    #[error("server.tls.ca_file: {0}")]
    CaFile(TlsFileError),
    #[error("server.tls: {0}")]
    Tls(String),
    #[error("server.trusted_proxies: {0:?} is not an IP address or network")]
    TrustedProxy(String),
}

/// The transport settings of one configuration.
#[derive(Clone)]
pub struct Transport {
    /// The TLS acceptor when `server.tls.enabled`.
    pub tls: Option<TlsAcceptor>,
    /// `server.trusted_proxies`.
    pub trusted_proxies: Vec<IpNet>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("tls", &self.tls.is_some())
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

impl Transport {
    /// Reads the certificate files and parses the trusted networks of `config`.
    pub fn from_config(config: &Config) -> Result<Self, TransportError> {
        let tls = if config.server.tls.enabled {
            Some(TlsAcceptor::from(Arc::new(server_tls_config(
                &config.server.tls,
            )?)))
        } else {
            None
        };
        let trusted_proxies = config
            .server
            .trusted_proxies
            .iter()
            .map(|text| parse_net(text).ok_or_else(|| TransportError::TrustedProxy(text.clone())))
            .collect::<Result<_, _>>()?;
        Ok(Self { tls, trusted_proxies })
    }
}

/// An address (`192.0.2.1`, a host network) or a network (`10.0.0.0/8`).
fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The rustls server configuration `server.tls` describes: the certificate chain and key, TLS
/// 1.2 and 1.3 (or 1.3 only), the cipher suites, client certificates checked against
/// `ca_file` when one is given (required with `client_auth`), ALPN `h2` then `http/1.1`.
pub fn server_tls_config(tls: &ServerTls) -> Result<ServerConfig, TransportError> {
    let provider = Arc::new(provider_for(&tls.cipher_suites));
    let versions: &[&SupportedProtocolVersion] = if tls.min_tls_version.eq_ignore_ascii_case("tls1.3") {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS12, &rustls::version::TLS13]
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| TransportError::Tls(format!("cipher_suites: {e}")))?;
    let builder = if tls.ca_file.is_empty() {
        builder.with_no_client_auth()
    } else {
        let roots = nauthilus_tls::root_store(&tls.ca_file, true).map_err(TransportError::CaFile)?;
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = if tls.client_auth {
            verifier
        } else {
            verifier.allow_unauthenticated()
        };
        let verifier = verifier
            .build()
            .map_err(|e| TransportError::Tls(format!("ca_file: {e}")))?;
        builder.with_client_cert_verifier(verifier)
    };
    let certs = nauthilus_tls::read_certificates(&tls.cert).map_err(TransportError::Cert)?;
    let key = nauthilus_tls::read_private_key(&tls.key).map_err(TransportError::Key)?;
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TransportError::Tls(format!("cert and key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The ring provider with the cipher suites `names` allow. As in Nauthilus (Go), the list
/// chooses among the TLS 1.2 suites; TLS 1.3 suites are all offered unless some are listed.
/// Unknown names are left out (the configuration check warns about them).
fn provider_for(names: &[String]) -> CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    if names.is_empty() {
        return provider;
    }
    let wanted: Vec<String> = names.iter().map(|n| rustls_suite_name(n)).collect();
    let is_tls13 = |name: &str| name.starts_with("TLS13_");
    let any_tls13 = wanted.iter().any(|n| is_tls13(n));
    provider.cipher_suites.retain(|suite| {
        let name = suite.suite().as_str().unwrap_or_default();
        if is_tls13(name) && !any_tls13 {
            return true;
        }
        wanted.iter().any(|w| w == name)
    });
    provider
}

/// Go's name of a cipher suite as rustls spells it: `TLS_AES_128_GCM_SHA256` is
/// `TLS13_AES_128_GCM_SHA256`, `..._CHACHA20_POLY1305` is `..._CHACHA20_POLY1305_SHA256`.
fn rustls_suite_name(go: &str) -> String {
    let name = go.trim().to_ascii_uppercase();
    if let Some(rest) = name
        .strip_prefix("TLS_AES_")
        .map(|r| format!("AES_{r}"))
        .or_else(|| {
            name.strip_prefix("TLS_CHACHA20_")
                .map(|r| format!("CHACHA20_{r}"))
        })
    {
        return format!("TLS13_{rest}");
    }
    if name.ends_with("_CHACHA20_POLY1305") {
        return format!("{name}_SHA256");
    }
    name
}

/// Why a connection's PROXY header was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProxyHeaderError {
    #[error("reading the PROXY header: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a PROXY protocol v2 header: {0}")]
    Parse(#[from] v2::ParseError),
}

/// Reads exactly one PROXY protocol v2 header from the start of `stream` and returns the source
/// address it carries; `None` for a `LOCAL` header (the proxy's own health check) or one without
/// IP addresses, where the TCP peer stays the peer. Anything else (a v1 text header, no header)
/// is an error: the caller closes the connection.
pub async fn read_proxy_header<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<Option<SocketAddr>, ProxyHeaderError> {
    // The fixed part: signature, version and command, family, length.
    let mut header = vec![0u8; 16];
    stream.read_exact(&mut header).await?;
    match v2::Header::try_from(header.as_slice()) {
        Ok(_) => {}
        Err(v2::ParseError::Partial(_, length)) => {
            header.resize(16 + length, 0);
            stream.read_exact(&mut header[16..]).await?;
        }
        Err(e) => return Err(e.into()),
    }
    let parsed = v2::Header::try_from(header.as_slice())?;
    if parsed.command == v2::Command::Local {
        return Ok(None);
    }
    Ok(match parsed.addresses {
        v2::Addresses::IPv4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v2::Addresses::IPv6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v2::Addresses::Unspecified | v2::Addresses::Unix(_) => None,
    })
}

/// The peer a request comes from: `peer` itself, unless `peer` is a trusted proxy; then the
/// right-most address of `X-Forwarded-For` (all its lines, in order) that is not a trusted
/// proxy, or the left-most one when all are trusted. An entry that is not an address ends the
/// walk (the address right of it, already trusted, is taken). Entries may carry a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`); without one the port is 0.
pub fn forwarded_peer(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> SocketAddr {
    let is_trusted = |ip: IpAddr| {
        let ip = ip.to_canonical();
        trusted.iter().any(|net| net.contains(&ip))
    };
    if trusted.is_empty() || !is_trusted(peer.ip()) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(addr) = parse_forwarded(entry) else {
            break;
        };
        client = addr;
        if !is_trusted(addr.ip()) {
            break;
        }
    }
    client
}

fn parse_forwarded(entry: &str) -> Option<SocketAddr> {
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some(addr);
    }
    let bare = entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .unwrap_or(entry);
    bare.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| parse_net(n).unwrap()).collect()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    fn sock(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_keeps_its_address_whatever_it_forwards() {
        let trusted = nets(&["10.0.0.0/8"]);
        let peer = sock("192.0.2.1:5000");
        assert_eq!(forwarded_peer(peer, &xff(&["203.0.113.9"]), &trusted), peer);
        assert_eq!(forwarded_peer(peer, &xff(&["203.0.113.9"]), &[]), peer);
    }

    #[test]
    fn a_trusted_peer_yields_the_right_most_untrusted_address() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1"]);
        let peer = sock("127.0.0.1:5000");
        // The client wrote a fake left part; the proxies appended the real one.
        let headers = xff(&["1.1.1.1, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(forwarded_peer(peer, &headers, &trusted), sock("198.51.100.7:0"));
        // Ports and brackets.
        assert_eq!(
            forwarded_peer(peer, &xff(&["[2001:db8::5]:4711"]), &trusted),
            sock("[2001:db8::5]:4711")
        );
        assert_eq!(
            forwarded_peer(peer, &xff(&["198.51.100.7:4711"]), &trusted),
            sock("198.51.100.7:4711")
        );
        // All trusted: the left-most. No header: the peer.
        assert_eq!(
            forwarded_peer(peer, &xff(&["10.0.0.1, 10.0.0.2"]), &trusted),
            sock("10.0.0.1:0")
        );
        assert_eq!(forwarded_peer(peer, &HeaderMap::new(), &trusted), peer);
        // Garbage ends the walk at the last trusted hop.
        assert_eq!(
            forwarded_peer(peer, &xff(&["198.51.100.7, junk, 10.0.0.2"]), &trusted),
            sock("10.0.0.2:0")
        );
        assert_eq!(forwarded_peer(peer, &xff(&["junk"]), &trusted), peer);
        // An IPv4-mapped peer counts as its IPv4 address.
        assert_eq!(
            forwarded_peer(sock("[::ffff:127.0.0.1]:1"), &xff(&["198.51.100.7"]), &trusted),
            sock("198.51.100.7:0")
        );
    }

    #[test]
    fn go_cipher_names_map_to_rustls_suites() {
        assert_eq!(
            rustls_suite_name("TLS_AES_128_GCM_SHA256"),
            "TLS13_AES_128_GCM_SHA256"
        );
        assert_eq!(
            rustls_suite_name("tls_chacha20_poly1305_sha256"),
            "TLS13_CHACHA20_POLY1305_SHA256"
        );
        assert_eq!(
            rustls_suite_name("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"),
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
        );
        // Every name the configuration accepts is one ring offers.
        let all = rustls::crypto::ring::default_provider();
        for name in nauthilus_config::CIPHER_SUITES {
            let rustls_name = rustls_suite_name(name);
            assert!(
                all.cipher_suites
                    .iter()
                    .any(|s| s.suite().as_str() == Some(rustls_name.as_str())),
                "{name}"
            );
        }
        // A TLS 1.2 list keeps every TLS 1.3 suite and only the listed TLS 1.2 one.
        let p = provider_for(&["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".to_owned()]);
        let names: Vec<_> = p
            .cipher_suites
            .iter()
            .filter_map(|s| s.suite().as_str())
            .collect();
        assert_eq!(
            names.iter().filter(|n| n.starts_with("TLS13_")).count(),
            3,
            "{names:?}"
        );
        assert!(
            names.contains(&"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
            "{names:?}"
        );
        assert_eq!(names.len(), 4, "{names:?}");
        let p = provider_for(&["TLS_AES_256_GCM_SHA384".to_owned()]);
        let names: Vec<_> = p
            .cipher_suites
            .iter()
            .filter_map(|s| s.suite().as_str())
            .collect();
        assert_eq!(names, ["TLS13_AES_256_GCM_SHA384"]);
    }

    #[tokio::test]
    async fn proxy_headers_are_read_exactly_and_checked() {
        use ppp::v2::{Builder, Command, Protocol, Version};
        let source = sock("198.51.100.7:4711");
        let header = Builder::with_addresses(
            Version::Two | Command::Proxy,
            Protocol::Stream,
            (source, sock("192.0.2.1:9080")),
        )
        .write_tlv(ppp::v2::Type::NoOp, b"pad")
        .unwrap()
        .build()
        .unwrap();
        let mut bytes = header.clone();
        bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let mut reader = bytes.as_slice();
        assert_eq!(read_proxy_header(&mut reader).await.unwrap(), Some(source));
        assert_eq!(reader, b"GET / HTTP/1.1\r\n", "only the header is consumed");

        let local = Builder::new(Version::Two | Command::Local, Protocol::Unspecified as u8)
            .build()
            .unwrap();
        assert_eq!(read_proxy_header(&mut local.as_slice()).await.unwrap(), None);

        let mut plain: &[u8] = b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(matches!(
            read_proxy_header(&mut plain).await,
            Err(ProxyHeaderError::Parse(_))
        ));
        let mut v1: &[u8] = b"PROXY TCP4 198.51.100.7 192.0.2.1 4711 9080\r\n";
        assert!(read_proxy_header(&mut v1).await.is_err());
        let mut short = &header[..20];
        assert!(matches!(
            read_proxy_header(&mut short).await,
            Err(ProxyHeaderError::Io(_))
        ));
    }
}
