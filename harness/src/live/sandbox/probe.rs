//! Readiness probes for [`Daemon::wait_ready`](super::Daemon::wait_ready): plain std I/O, no
//! async runtime needed, each bounded in time (a stopped daemon must not hang a probe).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_millis(500);

/// Something listens on the unix socket.
pub fn unix_listening(socket: &Path) -> bool {
    UnixStream::connect(socket).is_ok()
}

/// `GET <path>` over the unix socket answers 200 (dockerd and podman: `/_ping`).
pub fn unix_http_ok(socket: &Path, path: &str) -> bool {
    UnixStream::connect(socket).is_ok_and(|s| {
        let _ = s.set_read_timeout(Some(TIMEOUT));
        let _ = s.set_write_timeout(Some(TIMEOUT));
        http_ok(s, path)
    })
}

/// `GET <path>` on a TCP address answers 200 (the registry: `/v2/`).
pub fn tcp_http_ok(addr: SocketAddr, path: &str) -> bool {
    TcpStream::connect_timeout(&addr, TIMEOUT).is_ok_and(|s| {
        let _ = s.set_read_timeout(Some(TIMEOUT));
        http_ok(s, path)
    })
}

fn http_ok(mut s: impl Read + Write, path: &str) -> bool {
    if write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 16];
    let mut n = 0;
    while n < head.len() {
        match s.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    head[..n].starts_with(b"HTTP/1.") && head[..n].get(9..12) == Some(b"200")
}
