//! The `/metrics` endpoint of a live capture (`capture --metrics ADDR`): a small HTTP/1.1 server on
//! a thread of its own, std only, serving the text the capture last published.
//!
//! A scrape asks the pipeline's driver thread for a fresh snapshot when the last one is older than
//! [`FRESH`], and waits for it at most [`WAIT`]; otherwise (or when the capture is over) it gets
//! the last one published. The classifier workers are asked for a snapshot only when someone
//! scrapes, at most once per [`FRESH`]: with nobody scraping, metrics cost nothing.
//!
//! Untrusted clients: one connection at a time, a request head of at most [`MAX_REQUEST`] bytes,
//! read and write timeouts of [`TIMEOUT`], `Connection: close`. Only `GET /metrics` (and `HEAD`)
//! are answered with metrics; other paths get 404, other methods 405, anything unreadable 400.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

/// A snapshot younger than this is served as it is.
pub const FRESH: Duration = Duration::from_secs(1);
/// How long a scrape waits for a fresh snapshot.
pub const WAIT: Duration = Duration::from_secs(2);
/// Bytes of a request head (request line and headers) read at most.
pub const MAX_REQUEST: usize = 8 << 10;
/// Read and write timeout of a connection.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The text last published, shared by the publisher (the capture) and the server.
pub struct Exchange {
    latest: Mutex<Latest>,
    published: Condvar,
    requests: Sender<()>,
    content_type: &'static str,
}

struct Latest {
    text: String,
    /// Bumped at each publication.
    version: u64,
    at: Option<Instant>,
}

impl Exchange {
    /// An exchange and the receiving end of its snapshot requests (for the pipeline).
    pub fn new(content_type: &'static str) -> (Arc<Exchange>, Receiver<()>) {
        // One pending request is enough: every scrape waiting gets the snapshot it brings.
        let (tx, rx) = bounded(1);
        let e = Exchange {
            latest: Mutex::new(Latest {
                text: String::new(),
                version: 0,
                at: None,
            }),
            published: Condvar::new(),
            requests: tx,
            content_type,
        };
        (Arc::new(e), rx)
    }

    /// Publishes a new text and wakes the scrapes waiting for it.
    pub fn publish(&self, text: String) {
        let mut l = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        l.text = text;
        l.version += 1;
        l.at = Some(Instant::now());
        self.published.notify_all();
    }

    /// The text to serve: the latest, after asking for a fresh one when it is stale.
    fn current(&self) -> String {
        let l = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        if l.at.is_some_and(|t| t.elapsed() < FRESH) {
            return l.text.clone();
        }
        let seen = l.version;
        // Full: a request is pending already, wait for it too. Gone: the capture is over.
        if let Err(TrySendError::Disconnected(())) = self.requests.try_send(()) {
            return l.text.clone();
        }
        let (l, _) = self
            .published
            .wait_timeout_while(l, WAIT, |l| l.version == seen)
            .unwrap_or_else(|e| e.into_inner());
        l.text.clone()
    }
}

/// A bound `/metrics` listener (bound at start, so that a port in use fails before the capture).
pub struct MetricsServer {
    listener: TcpListener,
}

impl MetricsServer {
    pub fn bind(addr: SocketAddr) -> io::Result<MetricsServer> {
        Ok(MetricsServer {
            listener: TcpListener::bind(addr)?,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves on a thread of its own until the process ends.
    pub fn spawn(self, exchange: Arc<Exchange>) -> io::Result<thread::JoinHandle<()>> {
        thread::Builder::new()
            .name("svcscope-metrics".into())
            .spawn(move || {
                for stream in self.listener.incoming() {
                    match stream {
                        Ok(s) => {
                            let _ = serve(s, &exchange);
                        }
                        // A failed accept (a client gone, no descriptor left) loses that client;
                        // a pause keeps a lasting failure from spinning.
                        Err(_) => thread::sleep(Duration::from_millis(50)),
                    }
                }
            })
    }
}

/// Answers one request on `stream` and closes it.
fn serve(mut stream: TcpStream, exchange: &Exchange) -> io::Result<()> {
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let head = match read_head(&mut stream) {
        Ok(h) => h,
        Err(_) => {
            return respond(
                &mut stream,
                "400 Bad Request",
                "text/plain",
                b"bad request\n",
            )
        }
    };
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = std::str::from_utf8(line).unwrap_or("").trim_end();
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let text = exchange.current();
            let body = if method == "HEAD" {
                &b""[..]
            } else {
                text.as_bytes()
            };
            respond_len(
                &mut stream,
                "200 OK",
                exchange.content_type,
                body,
                text.len(),
            )
        }
        ("GET" | "HEAD", _) => respond(
            &mut stream,
            "404 Not Found",
            "text/plain",
            b"not found: try /metrics\n",
        ),
        _ => respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"only GET\n",
        ),
    }
}

/// Reads the request head (up to the blank line), at most [`MAX_REQUEST`] bytes.
fn read_head(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return Ok(head);
        }
        if head.len() > MAX_REQUEST {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request too long",
            ));
        }
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
) -> io::Result<()> {
    respond_len(stream, status, content_type, body, body.len())
}

fn respond_len(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
    len: usize,
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(request).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    /// A server whose publisher answers each snapshot request with the number of requests so far.
    fn server() -> (SocketAddr, Arc<Exchange>) {
        let server = MetricsServer::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = server.local_addr().unwrap();
        let (exchange, requests) = Exchange::new("text/plain; version=0.0.4");
        let publisher = exchange.clone();
        thread::spawn(move || {
            for (n, ()) in requests.iter().enumerate() {
                publisher.publish(format!("snapshots {}\n", n + 1));
            }
        });
        server.spawn(exchange.clone()).unwrap();
        (addr, exchange)
    }

    #[test]
    fn a_scrape_gets_a_fresh_snapshot_and_a_second_one_soon_after_reuses_it() {
        let (addr, _) = server();
        let first = get(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
        assert!(
            first.contains("Content-Type: text/plain; version=0.0.4\r\n"),
            "{first}"
        );
        assert!(first.ends_with("\r\n\r\nsnapshots 1\n"), "{first}");
        let second = get(addr, b"GET /metrics HTTP/1.0\r\n\r\n");
        assert!(second.ends_with("snapshots 1\n"), "{second}");
    }

    #[test]
    fn other_paths_methods_and_oversized_requests_are_refused() {
        let (addr, _) = server();
        assert!(get(addr, b"GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
        assert!(get(addr, b"POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
        let mut huge = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_REQUEST + 10));
        let mut s = TcpStream::connect(addr).unwrap();
        // The server may close before reading it all.
        let _ = s.write_all(&huge);
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
        // Still serving.
        assert!(get(addr, b"GET /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 "));
    }

    /// With no publisher left (the capture is over), a scrape gets the last text at once.
    #[test]
    fn after_the_capture_the_last_text_is_served() {
        let server = MetricsServer::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = server.local_addr().unwrap();
        let (exchange, requests) = Exchange::new("text/plain");
        exchange.publish("final 1\n".into());
        drop(requests);
        server.spawn(exchange).unwrap();
        thread::sleep(FRESH);
        let started = Instant::now();
        let out = get(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
        assert!(out.ends_with("final 1\n"), "{out}");
        assert!(
            started.elapsed() < WAIT,
            "waited for a snapshot nobody makes"
        );
    }

    #[test]
    fn a_port_in_use_fails_at_bind() {
        let first = MetricsServer::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let e = MetricsServer::bind(first.local_addr().unwrap())
            .err()
            .expect("the port is taken");
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
    }
}
