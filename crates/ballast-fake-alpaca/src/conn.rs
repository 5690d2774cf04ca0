//! The fake's listener: each accepted connection keeps a handle on its socket so a fault can
//! close it mid-request (`DropBefore`, `DropAfterAccept`): the client sees the connection
//! closed with no answer, as when a proxy or the network drops it.

use std::net::Shutdown;
use std::sync::Arc;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections can be dropped by a handler.
pub struct FakeListener {
    pub inner: TcpListener,
}

/// What a handler knows of its connection (`ConnectInfo<Conn>`).
#[derive(Debug, Clone)]
pub struct Conn {
    socket: Option<Arc<std::net::TcpStream>>,
}

impl Conn {
    /// Close the connection both ways now (no answer reaches the client).
    pub fn drop_connection(&self) {
        if let Some(s) = &self.socket {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Split a tokio stream into itself and a std handle on the same socket.
fn with_handle(stream: TcpStream) -> std::io::Result<(TcpStream, std::net::TcpStream)> {
    let std_stream = stream.into_std()?;
    let handle = std_stream.try_clone()?;
    Ok((TcpStream::from_std(std_stream)?, handle))
}

impl Listener for FakeListener {
    type Io = TcpStream;
    type Addr = Conn;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, _peer) = match self.inner.accept().await {
                Ok(x) => x,
                Err(_) => {
                    // Out of descriptors or a reset before accept: wait a little, go on.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            match with_handle(stream) {
                Ok((io, handle)) => {
                    let _ = io.set_nodelay(true);
                    return (
                        io,
                        Conn {
                            socket: Some(Arc::new(handle)),
                        },
                    );
                }
                Err(_) => continue, // cannot duplicate the socket: drop this connection
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()?;
        Ok(Conn { socket: None })
    }
}

impl Connected<IncomingStream<'_, FakeListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, FakeListener>) -> Self {
        stream.remote_addr().clone()
    }
}
