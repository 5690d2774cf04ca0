//! Serving the API: bind `[api] bind`:`port` (the next [`PORT_RETRIES`] ports when it is
//! taken), then serve on a runtime of [`WORKERS`] threads of its own — beside the supervisor's
//! loop, never depending on the engine. At most [`MAX_CONNECTIONS`] connections at once (the
//! next wait in the kernel's backlog), each dropped after [`IDLE_TIMEOUT`] without a byte
//! either way — after [`PRESSED_IDLE`] while fewer than a quarter of the slots are free, so
//! silent connections cannot lock a real client out (a client that trickles bytes still holds
//! its slot; an event stream idle between events is dropped under that pressure and
//! reconnects).

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
    /// While fewer than a quarter of the slots are free, a connection idle this long is
    /// closed: silent connections (a slowloris) cannot hold every slot for `idle`.
    pub pressed_idle: Duration,
}

/// [`Limits::pressed_idle`] by default.
pub const PRESSED_IDLE: Duration = Duration::from_secs(1);

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connections: MAX_CONNECTIONS,
            idle: IDLE_TIMEOUT,
            pressed_idle: PRESSED_IDLE,
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
        limits,
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
    limits: Limits,
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
                    let slots = Arc::clone(&self.slots);
                    return (Conn::new(stream, slot, slots, self.limits), addr);
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

/// A connection holding its slot, closed when idle too long — sooner while the slots run out.
struct Conn {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    slots: Arc<Semaphore>,
    limits: Limits,
    /// When a byte last went either way.
    last: Instant,
    /// The next look at its idleness.
    idle: Pin<Box<Sleep>>,
}

impl Conn {
    fn new(
        stream: TcpStream,
        slot: OwnedSemaphorePermit,
        slots: Arc<Semaphore>,
        limits: Limits,
    ) -> Conn {
        let now = Instant::now();
        Conn {
            stream,
            _slot: slot,
            slots,
            limits,
            last: now,
            idle: Box::pin(tokio::time::sleep_until(now + first_look(limits))),
        }
    }

    fn active(&mut self) {
        self.last = Instant::now();
        let at = self.last + first_look(self.limits);
        self.idle.as_mut().reset(at);
    }

    /// `poll` went nowhere: an error once the connection has been idle too long (or long
    /// enough while the slots run out); else the next look is set.
    fn idle_check(&mut self, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        loop {
            match self.idle.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => {
                    let idle_for = self.last.elapsed();
                    let pressed = self.slots.available_permits() * 4 < self.limits.connections;
                    if idle_for >= self.limits.idle
                        || (pressed && idle_for >= self.limits.pressed_idle)
                    {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "idle connection closed",
                        )));
                    }
                    let next = (self.last + self.limits.idle)
                        .min(Instant::now() + self.limits.pressed_idle);
                    self.idle.as_mut().reset(next);
                }
            }
        }
    }
}

/// The first look at a connection's idleness after a byte: the shorter of the two limits.
fn first_look(limits: Limits) -> Duration {
    limits.idle.min(limits.pressed_idle)
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
