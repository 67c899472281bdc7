//! A minimal blocking RESP2 client over `std::net::TcpStream`, enough for readiness checks and
//! test setup (PING, AUTH, INFO, CLUSTER INFO, SENTINEL ...). Tests that exercise Nauthilus itself
//! use the real `redis` crate; this exists so the testkit needs no client library and no runtime.

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Longest bulk string accepted; guards against a garbage length prefix.
const MAX_BULK_LEN: usize = 512 * 1024 * 1024;

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`-style simple string.
    Status(String),
    /// `-ERR ...` error reply.
    Error(String),
    /// `:42` integer.
    Integer(i64),
    /// `$n` bulk string.
    Bulk(Vec<u8>),
    /// `$-1` or `*-1`.
    Nil,
    /// `*n` array.
    Array(Vec<Reply>),
}

impl Reply {
    /// The reply as text if it is a status or bulk string.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Reply::Status(text) => Some(text.clone()),
            Reply::Bulk(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
            _ => None,
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Status(text) => write!(f, "+{text}"),
            Reply::Error(text) => write!(f, "-{text}"),
            Reply::Integer(value) => write!(f, ":{value}"),
            Reply::Bulk(bytes) => write!(f, "{:?}", String::from_utf8_lossy(bytes)),
            Reply::Nil => f.write_str("(nil)"),
            Reply::Array(items) => {
                f.write_str("[")?;
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// One connection speaking RESP2.
pub(crate) struct RespConnection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RespConnection {
    /// Connects with `timeout` for the connect and for every later read and write.
    pub(crate) fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        let writer = stream.try_clone()?;
        Ok(Self {
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Sends one command and reads its reply (error replies are returned as `Reply::Error`).
    pub(crate) fn call<S: AsRef<str>>(&mut self, args: &[S]) -> io::Result<Reply> {
        self.writer.write_all(&encode(args))?;
        read_reply(&mut self.reader)
    }
}

fn encode<S: AsRef<str>>(args: &[S]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        let arg = arg.as_ref().as_bytes();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn invalid(detail: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, detail)
}

fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\r\n") {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed inside a RESP line",
        ));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|err| invalid(format!("RESP line is not UTF-8: {err}")))
}

fn parse_number(text: &str) -> io::Result<i64> {
    text.parse()
        .map_err(|_| invalid(format!("bad RESP length or integer: {text:?}")))
}

fn read_reply(reader: &mut impl BufRead) -> io::Result<Reply> {
    let line = read_line(reader)?;
    let Some(kind) = line.chars().next() else {
        return Err(invalid("empty RESP line".to_owned()));
    };
    let rest = &line[kind.len_utf8()..];
    match kind {
        '+' => Ok(Reply::Status(rest.to_owned())),
        '-' => Ok(Reply::Error(rest.to_owned())),
        ':' => parse_number(rest).map(Reply::Integer),
        '$' => {
            let Ok(len) = usize::try_from(parse_number(rest)?) else {
                return Ok(Reply::Nil);
            };
            if len > MAX_BULK_LEN {
                return Err(invalid(format!("RESP bulk string of {len} bytes is too long")));
            }
            let mut bytes = vec![0; len + 2];
            reader.read_exact(&mut bytes)?;
            if !bytes.ends_with(b"\r\n") {
                return Err(invalid("RESP bulk string not terminated by CRLF".to_owned()));
            }
            bytes.truncate(len);
            Ok(Reply::Bulk(bytes))
        }
        '*' => {
            let Ok(len) = usize::try_from(parse_number(rest)?) else {
                return Ok(Reply::Nil);
            };
            (0..len)
                .map(|_| read_reply(reader))
                .collect::<io::Result<_>>()
                .map(Reply::Array)
        }
        other => Err(invalid(format!("unknown RESP type byte {other:?}"))),
    }
}

/// Value of `key` in an `INFO`-style `key:value` text.
pub(crate) fn info_field<'a>(info: &'a str, key: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        line.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(str::trim)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> io::Result<Reply> {
        read_reply(&mut BufReader::new(bytes))
    }

    #[test]
    fn commands_are_encoded_as_bulk_string_arrays() {
        assert_eq!(encode(&["PING"]), b"*1\r\n$4\r\nPING\r\n");
    }

    #[test]
    fn every_reply_kind_is_parsed() {
        assert_eq!(parse(b"+PONG\r\n").unwrap(), Reply::Status("PONG".into()));
        assert_eq!(parse(b"-NOAUTH x\r\n").unwrap(), Reply::Error("NOAUTH x".into()));
        assert_eq!(parse(b":7\r\n").unwrap(), Reply::Integer(7));
        assert_eq!(parse(b"$-1\r\n").unwrap(), Reply::Nil);
        assert_eq!(
            parse(b"*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n").unwrap(),
            Reply::Array(vec![
                Reply::Bulk(b"127.0.0.1".to_vec()),
                Reply::Bulk(b"6379".to_vec())
            ])
        );
    }

    #[test]
    fn truncated_reply_is_an_error() {
        assert!(parse(b"$5\r\nab").is_err());
        assert!(parse(b"+PON").is_err());
    }

    #[test]
    fn info_fields_are_found_by_exact_key() {
        let info = "# Server\r\nprocess_id:42\r\nprocess_supervised:no\r\n";
        assert_eq!(info_field(info, "process_id"), Some("42"));
        assert_eq!(info_field(info, "process"), None);
    }
}
