//! A small closed-loop HTTP/1.1 load generator over keep-alive loopback
//! connections: each client sends a request, reads the whole response,
//! records the latency, and sends the next, until its count or the time
//! budget runs out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One request to repeat: its bytes on the wire, prepared once.
pub struct Request {
    wire: Vec<u8>,
}

impl Request {
    /// A SOAP 1.1 POST to `path` with Basic credentials.
    pub fn soap(addr: SocketAddr, path: &str, authorization: &str, envelope: &[u8]) -> Self {
        Self::post(
            addr,
            path,
            authorization,
            "text/xml; charset=utf-8",
            envelope,
        )
    }

    /// A SOAP 1.1 POST to `path` in a web session (its `cookie`, as a
    /// login at `/as/processLogin` set it).
    #[allow(dead_code)] // used by benches/search.rs, which includes this file
    pub fn soap_in_session(addr: SocketAddr, path: &str, cookie: &str, envelope: &[u8]) -> Self {
        Self::with_credential(
            addr,
            path,
            ("Cookie", cookie),
            "text/xml; charset=utf-8",
            envelope,
        )
    }

    /// A SOAP POST of `body` as `content_type` (e.g. an MTOM multipart).
    pub fn post(
        addr: SocketAddr,
        path: &str,
        authorization: &str,
        content_type: &str,
        body: &[u8],
    ) -> Self {
        Self::with_credential(
            addr,
            path,
            ("Authorization", authorization),
            content_type,
            body,
        )
    }

    fn with_credential(
        addr: SocketAddr,
        path: &str,
        (header, value): (&str, &str),
        content_type: &str,
        body: &[u8],
    ) -> Self {
        let mut wire = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nSOAPAction: \"\"\r\n{header}: {value}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        wire.extend_from_slice(body);
        Self { wire }
    }

    /// A GET of `path` with a cookie (the inspector's login).
    pub fn get(addr: SocketAddr, path: &str, cookie: &str) -> Self {
        let wire =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\r\n").into_bytes();
        Self { wire }
    }
}

/// What one scenario measured.
pub struct Measured {
    pub requests: usize,
    pub errors: usize,
    pub elapsed: Duration,
    /// Sorted latencies.
    pub latencies: Vec<Duration>,
}

impl Measured {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i.min(self.latencies.len() - 1)]
    }

    pub fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }
}

/// Runs `clients` concurrent clients, each at most `per_client` requests,
/// all together at most `budget` of time. `check` inspects each response
/// body (e.g. for status 0000); a false counts as an error.
pub async fn run(
    addr: SocketAddr,
    request: Arc<Request>,
    clients: usize,
    per_client: usize,
    budget: Duration,
    check: fn(&[u8]) -> bool,
) -> Measured {
    let started = Instant::now();
    let deadline = started + budget;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            let mut errors = 0;
            let Ok(mut connection) = Connection::open(addr).await else {
                return (latencies, per_client);
            };
            for _ in 0..per_client {
                if Instant::now() >= deadline {
                    break;
                }
                let t0 = Instant::now();
                match connection.exchange(&request).await {
                    Ok((status, body)) => {
                        if status != 200 || !check(&body) {
                            errors += 1;
                        }
                        latencies.push(t0.elapsed());
                    }
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            all.extend(l);
            errors += e;
        }
    }
    let elapsed = started.elapsed();
    all.sort();
    Measured {
        requests: all.len(),
        errors,
        elapsed,
        latencies: all,
    }
}

/// One request on a fresh connection: the HTTP status and the body.
pub async fn once(addr: SocketAddr, request: &Request) -> std::io::Result<(u16, Vec<u8>)> {
    Connection::open(addr).await?.exchange(request).await
}

/// A keep-alive connection of one client, which sends a request and reads
/// its response before the next (no pipelining): what a SOAP client's
/// connection does, without the bookkeeping of a general HTTP client, so
/// a closed loop of these spends little of the machine it measures.
pub struct Connection {
    stream: BufReader<TcpStream>,
}

impl Connection {
    /// Connects to `addr`, with Nagle's delay off as HTTP clients set it.
    pub async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::new(stream),
        })
    }

    /// Sends `request` and reads its response: the HTTP status and the
    /// body.
    pub async fn exchange(&mut self, request: &Request) -> std::io::Result<(u16, Vec<u8>)> {
        exchange(&mut self.stream, &request.wire).await
    }
}

/// Sends one request and reads one response (status line, headers,
/// Content-Length body); returns the status and the body.
async fn exchange(
    stream: &mut BufReader<TcpStream>,
    wire: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    stream.get_mut().write_all(wire).await?;
    let mut line = String::new();
    let mut length = None;
    let mut first = true;
    let mut status = 0;
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if first {
            first = false;
            status = line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| std::io::Error::other(format!("status: {}", line.trim())))?;
            continue;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let length = length.ok_or_else(|| std::io::Error::other("no Content-Length"))?;
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    Ok((status, body))
}
