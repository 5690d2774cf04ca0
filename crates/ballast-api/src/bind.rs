//! Binding a listening port with retry (SPEC §8, issue 13 item 7): the API port and the optional
//! separate metrics port try the configured port, then the next `tries` ports when one is taken,
//! and the caller logs and shows (`ballast status`) the port actually bound.
//!
//! Which ports to try is decided purely ([`candidates`]); only "address in use" moves on to the
//! next one — any other failure (no permission for a low port, an address this host does not
//! have) is the operator's to fix and is answered at once, for that port.

use std::net::SocketAddr;

use tokio::net::TcpListener;

/// The addresses to try, in order: `addr`, then the next `tries` ports above it (never past
/// 65535). Port 0 asks the system for any free port: one try, nothing to retry.
pub fn candidates(addr: SocketAddr, tries: u16) -> Vec<SocketAddr> {
    if addr.port() == 0 {
        return vec![addr];
    }
    (0..=tries)
        .map_while(|step| addr.port().checked_add(step))
        .map(|port| SocketAddr::new(addr.ip(), port))
        .collect()
}

/// Why no port could be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Every candidate port was taken.
    #[error(
        "cannot listen on {ip}: ports {first} to {last} are all in use by other programs; free one of them (`ss -ltnp` names the holder) or choose another port in the configuration"
    )]
    AllTaken {
        ip: std::net::IpAddr,
        first: u16,
        last: u16,
    },
    /// A failure that another port would not cure.
    #[error("cannot listen on {addr}: {reason}; {help}")]
    Failed {
        addr: SocketAddr,
        reason: String,
        help: &'static str,
    },
}

fn help(kind: std::io::ErrorKind) -> &'static str {
    match kind {
        std::io::ErrorKind::PermissionDenied => {
            "ports below 1024 need privileges: choose a port from 1024 up"
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "this host has no such address: bind 127.0.0.1 or one of its own addresses"
        }
        _ => "check the address and port in the configuration",
    }
}

/// Listen on `addr`, or on one of the next `tries` ports when it is taken (see [`candidates`]).
/// The port actually bound is `listener.local_addr()`.
pub async fn bind_with_retry(addr: SocketAddr, tries: u16) -> Result<TcpListener, BindError> {
    let all = candidates(addr, tries);
    for candidate in &all {
        match TcpListener::bind(candidate).await {
            Ok(listener) => return Ok(listener),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => {
                return Err(BindError::Failed {
                    addr: *candidate,
                    reason: e.kind().to_string(),
                    help: help(e.kind()),
                });
            }
        }
    }
    Err(BindError::AllTaken {
        ip: addr.ip(),
        first: addr.port(),
        last: all.last().map_or(addr.port(), |a| a.port()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn candidates_are_the_port_then_the_next_ones_never_past_the_last_port() {
        let ports = |a, t| -> Vec<u16> { candidates(at(a), t).iter().map(|a| a.port()).collect() };
        assert_eq!(ports(7878, 3), [7878, 7879, 7880, 7881]);
        assert_eq!(ports(7878, 0), [7878]);
        assert_eq!(ports(65_534, 3), [65_534, 65_535]);
        assert_eq!(ports(0, 3), [0]);
    }

    #[tokio::test]
    async fn a_taken_port_moves_to_the_next_free_one() {
        // Hold a port, and the one above it when it is free, so the retry must skip both.
        let first = TcpListener::bind(at(0)).await.unwrap();
        let port = first.local_addr().unwrap().port();
        if port >= 65_530 {
            return; // no room above for the retry; the pure test covers the range
        }
        let second = TcpListener::bind(at(port + 1)).await;
        let listener = bind_with_retry(at(port), 3).await.unwrap();
        let bound = listener.local_addr().unwrap().port();
        assert_ne!(bound, port, "the taken port is never bound twice");
        if second.is_ok() {
            assert!(bound > port + 1 && bound <= port + 3, "bound {bound}");
        } else {
            assert!(bound > port && bound <= port + 3, "bound {bound}");
        }
    }

    #[tokio::test]
    async fn all_ports_taken_names_the_range_and_what_to_do() {
        let first = TcpListener::bind(at(0)).await.unwrap();
        let port = first.local_addr().unwrap().port();
        let e = bind_with_retry(at(port), 0).await.unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(&format!("ports {port} to {port}")) && text.contains("ss -ltnp"),
            "{text}"
        );
        drop(first);
    }
}
