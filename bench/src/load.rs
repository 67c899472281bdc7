//! An HTTP/1.1 load generator on raw keep-alive connections: requests are serialised once, each
//! connection sends one at a time and reads the answer by its `Content-Length`, so the generator
//! spends a few microseconds per request and the server is what is measured.
//!
//! - [`Pace::Closed`]: every connection sends its next request as soon as the answer arrives —
//!   the peak rate.
//! - [`Pace::Open`]: requests are due at a fixed rate whether or not answers came back (spread
//!   over the connections, as wrk2 does). Latency counts from when a request was *due*, so a
//!   stalled server cannot hide its queue (no coordinated omission). Sends are timed by sleeping
//!   to within a millisecond and then yielding until the exact instant, because the timer's
//!   millisecond granularity would otherwise dominate microsecond latencies (`sched_yield` in
//!   that loop lets Redis, on the same core, run whenever it has work).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{BenchError, IoContext};

/// How long one answer may take before the run counts it as an error and stops the connection.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serialised requests (sent in turn) and the status every answer must have.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub requests: Arc<Vec<Vec<u8>>>,
    pub expect_status: u16,
}

impl Target {
    /// One kind of request, sent again and again.
    pub fn single(addr: SocketAddr, request: Vec<u8>, expect_status: u16) -> Self {
        Self {
            addr,
            requests: Arc::new(vec![request]),
            expect_status,
        }
    }
}

/// How requests are paced.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// As fast as answers come back.
    Closed,
    /// `rate` requests per second in total, due at fixed instants.
    Open { rate: f64 },
}

/// One load run.
#[derive(Clone, Copy, Debug)]
pub struct LoadSpec {
    pub connections: usize,
    pub pace: Pace,
    pub duration: Duration,
}

/// What one load run saw.
#[derive(Debug, Default)]
pub struct LoadOutcome {
    /// Answers with the expected status.
    pub completed: u64,
    /// Answers with another status, broken connections, timeouts.
    pub errors: u64,
    /// The first unexpected status or error, to show.
    pub first_error: Option<String>,
    /// From the start until the last answer.
    pub elapsed: Duration,
    /// Latency of every expected answer, in microseconds, sorted.
    pub latencies_us: Vec<u32>,
    /// Bytes of the last answer (status line, headers and body).
    pub response_bytes: usize,
}

impl LoadOutcome {
    /// Answers per second.
    pub fn rate(&self) -> f64 {
        self.completed as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q`-quantile (0..=1) of the latencies, in microseconds.
    pub fn quantile_us(&self, q: f64) -> f64 {
        quantile(&self.latencies_us, q)
    }
}

/// The `q`-quantile of sorted values (nearest rank).
pub fn quantile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // q is in [0, 1], so the rank is in [0, len] and the cast is exact for any real length.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1])
}

#[derive(Default)]
struct ConnectionStats {
    completed: u64,
    errors: u64,
    first_error: Option<String>,
    latencies_us: Vec<u32>,
    response_bytes: usize,
    last_answer: Option<Instant>,
}

/// Runs `spec` against `target` and returns what it saw. Connections are opened before the
/// clock starts.
pub async fn generate(target: &Target, spec: LoadSpec) -> Result<LoadOutcome, BenchError> {
    let n = spec.connections.max(1);
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let s = TcpStream::connect(target.addr)
            .await
            .context(format!("connecting to {}", target.addr))?;
        s.set_nodelay(true).context("TCP_NODELAY")?;
        streams.push(s);
    }
    let start = Instant::now();
    let deadline = start + spec.duration;
    let mut tasks = Vec::with_capacity(n);
    for (k, stream) in streams.into_iter().enumerate() {
        let target = target.clone();
        tasks.push(tokio::spawn(connection(
            k, n, stream, target, spec.pace, start, deadline,
        )));
    }
    let mut out = LoadOutcome::default();
    let mut last = start;
    for task in tasks {
        let stats = task
            .await
            .map_err(|e| BenchError::Failed(format!("load task failed: {e}")))?;
        out.completed += stats.completed;
        out.errors += stats.errors;
        out.first_error = out.first_error.or(stats.first_error);
        out.latencies_us.extend(stats.latencies_us);
        out.response_bytes = out.response_bytes.max(stats.response_bytes);
        last = last.max(stats.last_answer.unwrap_or(start));
    }
    out.elapsed = last.duration_since(start).max(Duration::from_millis(1));
    out.latencies_us.sort_unstable();
    Ok(out)
}

async fn connection(
    k: usize,
    n: usize,
    mut stream: TcpStream,
    target: Target,
    pace: Pace,
    start: Instant,
    deadline: Instant,
) -> ConnectionStats {
    let mut stats = ConnectionStats::default();
    let mut buf = Vec::with_capacity(16 * 1024);
    let requests = target.requests.len().max(1);
    for i in 0u64.. {
        let seq = k as u64 + i * n as u64;
        let due = match pace {
            Pace::Closed => None,
            Pace::Open { rate } => Some(start + Duration::from_secs_f64(seq as f64 / rate)),
        };
        match due {
            Some(due) if due >= deadline => break,
            Some(due) => wait_until(due).await,
            None if Instant::now() >= deadline => break,
            None => {}
        }
        let sent = Instant::now();
        let request = &target.requests[usize::try_from(seq % requests as u64).unwrap_or(0)];
        let answer = tokio::time::timeout(ANSWER_TIMEOUT, async {
            stream.write_all(request).await?;
            read_answer(&mut stream, &mut buf).await
        })
        .await;
        let done = Instant::now();
        let error = match answer {
            Ok(Ok((status, bytes))) if status == target.expect_status => {
                stats.completed += 1;
                stats.response_bytes = bytes;
                let micros = done.duration_since(due.unwrap_or(sent)).as_micros();
                stats.latencies_us.push(u32::try_from(micros).unwrap_or(u32::MAX));
                stats.last_answer = Some(done);
                continue;
            }
            Ok(Ok((status, _))) => {
                stats.last_answer = Some(done);
                format!("status {status}, expected {}", target.expect_status)
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {ANSWER_TIMEOUT:?}"),
        };
        stats.errors += 1;
        stats.first_error.get_or_insert(error);
        // After a broken exchange the stream's framing is unknown: reconnect.
        match TcpStream::connect(target.addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                stream = s;
                buf.clear();
            }
            Err(_) => break,
        }
    }
    stats
}

/// Sleeps to within a millisecond of `due`, then yields until it: to the other connections, and
/// to the other processes on this core (Redis, slapd), which must not starve while we wait.
async fn wait_until(due: Instant) {
    let now = Instant::now();
    if due > now + Duration::from_millis(2) {
        tokio::time::sleep_until((due - Duration::from_millis(1)).into()).await;
    }
    while Instant::now() < due {
        std::thread::yield_now();
        tokio::task::yield_now().await;
    }
}

/// Reads one answer; returns its status and size. Answers without `Content-Length` are refused
/// (the server sends it on every answer these benchmarks ask for).
async fn read_answer(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<(u16, usize)> {
    loop {
        if let Some(head) = find(buf, b"\r\n\r\n") {
            let (status, length) = parse_head(&buf[..head])?;
            let total = head + 4 + length;
            while buf.len() < total {
                read_more(stream, buf).await?;
            }
            buf.drain(..total);
            return Ok((status, total));
        }
        read_more(stream, buf).await?;
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.reserve(8192);
    if stream.read_buf(buf).await? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "server closed the connection",
        ));
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(head: &[u8]) -> std::io::Result<(u16, usize)> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let text = std::str::from_utf8(head).map_err(|_| bad("answer head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .ok_or_else(|| bad("answer without Content-Length"))?;
    Ok((status, length))
}

/// Sends `count` requests of `target` one after the other on one keep-alive connection (no
/// concurrency: what the server does per request, not how it overlaps them); fails at the
/// first answer without the expected status.
pub async fn sequential(target: &Target, count: usize) -> Result<(), BenchError> {
    let mut stream = TcpStream::connect(target.addr)
        .await
        .context(format!("connecting to {}", target.addr))?;
    stream.set_nodelay(true).context("TCP_NODELAY")?;
    let mut buf = Vec::with_capacity(16 * 1024);
    let requests = target.requests.len().max(1);
    for i in 0..count {
        let request = &target.requests[i % requests];
        let (status, _) = tokio::time::timeout(ANSWER_TIMEOUT, async {
            stream.write_all(request).await?;
            read_answer(&mut stream, &mut buf).await
        })
        .await
        .map_err(|_| BenchError::Failed(format!("no answer within {ANSWER_TIMEOUT:?}")))?
        .context(format!("request to {}", target.addr))?;
        if status != target.expect_status {
            return Err(BenchError::Failed(format!(
                "status {status}, expected {}",
                target.expect_status
            )));
        }
    }
    Ok(())
}

/// Sends every request of `target` once, spread over `connections` keep-alive connections
/// (connection `k` sends requests `k`, `k + connections`, …, one after the other).
pub async fn each_once(target: &Target, connections: usize) -> Result<(), BenchError> {
    let n = connections.max(1);
    let mut tasks = Vec::with_capacity(n);
    for k in 0..n {
        let share: Vec<Vec<u8>> = target.requests.iter().skip(k).step_by(n).cloned().collect();
        if share.is_empty() {
            continue;
        }
        let count = share.len();
        let part = Target {
            addr: target.addr,
            requests: Arc::new(share),
            expect_status: target.expect_status,
        };
        tasks.push(tokio::spawn(async move { sequential(&part, count).await }));
    }
    for task in tasks {
        task.await
            .map_err(|e| BenchError::Failed(format!("load task failed: {e}")))??;
    }
    Ok(())
}

/// Sends one request on a new connection and returns the status, the head and the body.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> Result<(u16, String, Vec<u8>), BenchError> {
    let mut stream = TcpStream::connect(addr)
        .await
        .context(format!("connecting to {addr}"))?;
    let mut buf = Vec::new();
    let what = format!("request to {addr}");
    tokio::time::timeout(ANSWER_TIMEOUT, async {
        stream.write_all(request).await?;
        loop {
            if let Some(head) = find(&buf, b"\r\n\r\n") {
                let (status, length) = parse_head(&buf[..head])?;
                while buf.len() < head + 4 + length {
                    read_more(&mut stream, &mut buf).await?;
                }
                let head_text = String::from_utf8_lossy(&buf[..head]).into_owned();
                return Ok((status, head_text, buf[head + 4..head + 4 + length].to_vec()));
            }
            read_more(&mut stream, &mut buf).await?;
        }
    })
    .await
    .map_err(|_| BenchError::Failed(format!("{what}: no answer within {ANSWER_TIMEOUT:?}")))?
    .context(what)
}

/// A `POST` of a JSON body, as Dovecot's and Postfix's clients send it.
pub fn post_json(host: SocketAddr, path_and_query: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path_and_query} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_give_status_and_length_in_any_case() {
        let head = b"HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nContent-Length: 12";
        assert_eq!(parse_head(head).unwrap(), (403, 12));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked").is_err());
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[tokio::test]
    async fn closed_and_open_loops_count_answers_and_latencies() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        if let Some(end) = find(&buf, b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                            if s.write_all(reply).await.is_err() {
                                return;
                            }
                            continue;
                        }
                        let mut chunk = [0u8; 1024];
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        let target = Target::single(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), 200);
        let closed = generate(
            &target,
            LoadSpec {
                connections: 2,
                pace: Pace::Closed,
                duration: Duration::from_millis(200),
            },
        )
        .await
        .unwrap();
        assert!(closed.completed > 10, "{closed:?}");
        assert_eq!(closed.errors, 0);
        assert_eq!(closed.response_bytes, 40);
        let open = generate(
            &target,
            LoadSpec {
                connections: 2,
                pace: Pace::Open { rate: 100.0 },
                duration: Duration::from_millis(300),
            },
        )
        .await
        .unwrap();
        assert!((28..=30).contains(&open.completed), "{open:?}");
        assert_eq!(open.latencies_us.len() as u64, open.completed);
        let (status, _, body) = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        assert_eq!((status, body.as_slice()), (200, b"ok".as_slice()));
    }
}
