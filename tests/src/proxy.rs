//! A TCP proxy that can cut every connection through it and refuse new ones for a while:
//! a network drop, as a mobile client sees one; or silence its connections without closing
//! them: a partition, which neither side sees until it expects an answer.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Where it leads, connections both ways, and until when the network is down.
struct State {
    target: SocketAddr,
    open: Vec<TcpStream>,
    /// Per connection, whether what it carries is dropped.
    silenced: Vec<Arc<AtomicBool>>,
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
        let state = Arc::new(Mutex::new(State {
            target,
            open: Vec::new(),
            silenced: Vec::new(),
            down_until: None,
            cuts: 0,
        }));
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
                let silenced = Arc::new(AtomicBool::new(false));
                state.silenced.push(silenced.clone());
                drop(state);
                pipe(&client, &server, silenced.clone());
                pipe(&server, &client, silenced);
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
        state.silenced.clear();
        for stream in state.open.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Drops everything the open connections carry from now on, both ways, and leaves them
    /// open: each side waits for the other in vain. New connections work.
    pub fn silence(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for silenced in state.silenced.drain(..) {
            silenced.store(true, Ordering::Relaxed);
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

/// Copies `from` to `to` on a thread of its own until either side closes; once `silenced`,
/// reads and drops.
fn pipe(from: &TcpStream, to: &TcpStream, silenced: Arc<AtomicBool>) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(_) if silenced.load(Ordering::Relaxed) => {}
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
