//! Serving the API: bind `[api] bind`:`port` (the next [`PORT_RETRIES`] ports when it is
//! taken), then serve on a runtime of [`WORKERS`] threads of its own — beside the supervisor's
//! loop, never depending on the engine. At most [`MAX_CONNECTIONS`] connections at once (the
//! next wait in the kernel's backlog), each dropped after [`IDLE_TIMEOUT`] without a byte
//! either way.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use crate::Remote;

/// Ports tried after the configured one when it is taken.
pub const PORT_RETRIES: u16 = 3;
/// Worker threads of the API's runtime.
pub const WORKERS: usize = 2;
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 256;
/// A connection with no byte read or written for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The ports to try for `port`, in order: it and the next [`PORT_RETRIES`] (fewer at the top
/// of the range); `0` (any free port) alone.
pub fn candidates(port: u16) -> Vec<u16> {
    if port == 0 {
        return vec![0];
    }
    (0..=PORT_RETRIES)
        .filter_map(|i| port.checked_add(i))
        .collect()
}

/// What binding found: the listener, and one line per port that was taken.
#[derive(Debug)]
pub struct Bound {
    pub listener: std::net::TcpListener,
    pub addr: SocketAddr,
    pub taken: Vec<String>,
}

/// Bind `ip` on the first free port of [`candidates`]`(port)`; every port taken is said,
/// and when all are, what to do.
pub fn bind(ip: IpAddr, port: u16) -> Result<Bound, String> {
    let mut taken = Vec::new();
    for p in candidates(port) {
        match std::net::TcpListener::bind(SocketAddr::new(ip, p)) {
            Ok(listener) => {
                let addr = listener
                    .local_addr()
                    .map_err(|e| format!("the API's socket on {ip}:{p} has no address: {e}"))?;
                listener
                    .set_nonblocking(true)
                    .map_err(|e| format!("the API's socket on {addr}: {e}"))?;
                return Ok(Bound {
                    listener,
                    addr,
                    taken,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                taken.push(format!("api: port {p} on {ip} is taken; trying the next"));
            }
            Err(e) => return Err(format!("the API cannot listen on {ip}:{p}: {e}")),
        }
    }
    Err(format!(
        "the API cannot listen on {ip}: ports {port} to {} are all taken; set [api] port to a free one (or stop what holds them: `ss -ltnp`)",
        port.saturating_add(PORT_RETRIES)
    ))
}

/// Serve `router` on `listener` on a runtime of its own, on a thread of its own, for the
/// life of the process.
pub fn spawn(listener: std::net::TcpListener, router: Router) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name("api")
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("api-serve".into())
        .spawn(move || {
            runtime.block_on(async move {
                match TcpListener::from_std(listener) {
                    Ok(l) => serve(l, router).await,
                    Err(e) => tracing::error!("api: cannot serve: {e}"),
                }
            })
        })?;
    Ok(())
}

/// How many connections are served at once, and when an idle one is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub connections: usize,
    pub idle: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connections: MAX_CONNECTIONS,
            idle: IDLE_TIMEOUT,
        }
    }
}

/// Serve `router` on `listener` until the process ends, within the connection bound.
pub async fn serve(listener: TcpListener, router: Router) {
    serve_within(listener, router, Limits::default()).await;
}

/// [`serve`] within `limits`: at the connection bound the next connection waits in the
/// kernel's backlog until one closes; an idle connection is closed after `limits.idle`.
pub async fn serve_within(listener: TcpListener, router: Router, limits: Limits) {
    let bounded = Bounded {
        inner: listener,
        slots: Arc::new(Semaphore::new(limits.connections)),
        idle: limits.idle,
    };
    let service = router.into_make_service_with_connect_info::<Remote>();
    if let Err(e) = axum::serve(bounded, service).await {
        tracing::error!("api: the server stopped: {e}");
    }
}

/// A listener that takes a connection only with a free slot.
struct Bounded {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    idle: Duration,
}

impl Listener for Bounded {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        let slot = match Arc::clone(&self.slots).acquire_owned().await {
            Ok(s) => s,
            // Never closed; if it were, nothing more is taken.
            Err(_) => std::future::pending().await,
        };
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (Conn::new(stream, slot, self.idle), addr);
                }
                // Out of descriptors and the like: said, then tried again shortly.
                Err(e) => {
                    tracing::warn!("api: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl Connected<IncomingStream<'_, Bounded>> for Remote {
    fn connect_info(stream: IncomingStream<'_, Bounded>) -> Remote {
        Remote(*stream.remote_addr())
    }
}

/// A connection holding its slot, closed when idle too long.
struct Conn {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    after: Duration,
    idle: Pin<Box<Sleep>>,
}

impl Conn {
    fn new(stream: TcpStream, slot: OwnedSemaphorePermit, after: Duration) -> Conn {
        Conn {
            stream,
            _slot: slot,
            after,
            idle: Box::pin(tokio::time::sleep(after)),
        }
    }

    fn active(&mut self) {
        let at = Instant::now() + self.after;
        self.idle.as_mut().reset(at);
    }

    /// `poll` went nowhere: an error once the connection has been idle too long.
    fn idle_check(&mut self, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.idle.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "idle connection closed",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(r) => {
                self.active();
                Poll::Ready(r)
            }
            Poll::Pending => self.idle_check(cx),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write(cx, buf) {
            Poll::Ready(r) => {
                self.active();
                Poll::Ready(r)
            }
            Poll::Pending => self.idle_check(cx).map(|r| r.map(|()| 0)),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_three_ports_are_tried_and_port_0_alone() {
        assert_eq!(candidates(7878), vec![7878, 7879, 7880, 7881]);
        assert_eq!(candidates(0), vec![0]);
        assert_eq!(candidates(65_534), vec![65_534, 65_535]);
    }

    #[test]
    fn a_taken_port_is_said_and_the_next_one_bound() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let held = std::net::TcpListener::bind((ip, 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        match bind(ip, port) {
            Ok(b) => {
                assert_ne!(b.addr.port(), port);
                assert_eq!(b.taken.len() as u16, b.addr.port() - port, "{:?}", b.taken);
                assert!(b.taken[0].contains(&port.to_string()));
            }
            // The next ports may be taken by another process: all said.
            Err(e) => assert!(e.contains("all taken"), "{e}"),
        }
    }
}
