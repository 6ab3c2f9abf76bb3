//! A TCP proxy that can cut every connection through it and refuse new ones for a while:
//! a network drop, as a mobile client sees one.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Where it leads, connections both ways, and until when the network is down.
struct State {
    target: SocketAddr,
    open: Vec<TcpStream>,
    down_until: Option<Instant>,
    cuts: usize,
}

/// A proxy to one server at a time, on a loopback port of its own.
pub struct CutProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl CutProxy {
    /// Proxies a free loopback port to `target`.
    pub fn start(target: SocketAddr) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let state = Arc::new(Mutex::new(State { target, open: Vec::new(), down_until: None, cuts: 0 }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
                if state.down_until.is_some_and(|until| Instant::now() < until) {
                    // The network is down: the connection fails at once.
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(state.target) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                for stream in [&client, &server] {
                    if let Ok(clone) = stream.try_clone() {
                        state.open.push(clone);
                    }
                }
                drop(state);
                pipe(&client, &server);
                pipe(&server, &client);
            }
        });
        CutProxy { addr, state }
    }

    /// `http://` and the proxy's address.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cuts every connection (both sides see it closed) and refuses new ones for `outage`.
    pub fn cut(&self, outage: Duration) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.down_until = Some(Instant::now() + outage);
        state.cuts += 1;
        for stream in state.open.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Leads new connections to `target` from now on: a client that comes back after a
    /// cut reaches another server, as behind a load balancer.
    pub fn retarget(&self, target: SocketAddr) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).target = target;
    }

    /// How many cuts there were.
    pub fn cuts(&self) -> usize {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).cuts
    }
}

/// Copies `from` to `to` on a thread of its own until either side closes.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(buffer.get(..n).unwrap_or_default()).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
