//! Delivery under network drops: receivers in a room behind a proxy that cuts every
//! connection for 2 s every 10 s, a steady broadcast to the room from a client that is not
//! cut. Two kinds of cut: both sides see the connection close; or only the client does (a
//! phone that changed networks), and the server keeps writing into a connection nobody
//! reads until its ping timeout. Each receiver reconnects as the official client does (100 ms after a failure), with
//! its `pid` and last offset when the server gave one, and joins the room again when it got
//! a new socket. Printed per server: the fraction of (receiver, message) pairs delivered,
//! duplicates, and messages out of order.
//!
//! Servers: ours with recovery (`bench_tokio`, `RECOVERY=on`), Node socket.io with and
//! without it (`tests/js/bench-server.js`), socketioxide (which has none). Then ours and Node
//! as two servers of a cluster on one `redis-server` (the streams adapter, which keeps
//! sessions in Redis), each cut sending every receiver back to the other server, as a load
//! balancer may.
//!
//! `cargo run --release -p e2e-bench --bin recovery [-- RECEIVERS RATE SECONDS]` (defaults
//! 100 receivers, 100 messages/s, 30 s). Needs `npm ci` in `tests/js`.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use e2e_bench::servers::{Peer, Server, build_servers};
use e2e_bench::ws;
use interop_tests::redis::RedisServer;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// How long the network stays down at each cut, and how often it goes down.
const OUTAGE: Duration = Duration::from_secs(2);
const EVERY: Duration = Duration::from_secs(10);
/// A receiver's wait before it reconnects.
const RETRY: Duration = Duration::from_millis(100);
/// How long receivers may take to catch up after the last message.
const GRACE: Duration = Duration::from_secs(5);

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a cut looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Both sides see the connection close.
    Closed,
    /// Only the client does; the server side stays open, unread.
    ClientOnly,
}

/// A proxy that can cut every connection through it and refuse new ones for a while.
struct Proxy {
    addr: SocketAddr,
    /// Where new connections go (a load balancer may send a client back elsewhere).
    target: Mutex<SocketAddr>,
    open: Mutex<Vec<(AbortHandle, Arc<tokio::sync::Notify>)>>,
    down_until: Mutex<Option<Instant>>,
    /// Server sides of connections cut on the client side only, kept open.
    zombies: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Arc<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let proxy = Arc::new(Proxy {
            addr,
            target: Mutex::new(target),
            open: Mutex::default(),
            down_until: Mutex::default(),
            zombies: Arc::default(),
        });
        let shared = proxy.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if lock(&shared.down_until).is_some_and(|until| Instant::now() < until) {
                    continue;
                }
                let target = *lock(&shared.target);
                let silent_cut = Arc::new(tokio::sync::Notify::new());
                let cut = silent_cut.clone();
                let zombies = shared.zombies.clone();
                let task = tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else { return };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        () = cut.notified() => lock(&zombies).push(server),
                    }
                });
                let mut open = lock(&shared.open);
                open.retain(|(handle, _)| !handle.is_finished());
                open.push((task.abort_handle(), silent_cut));
            }
        });
        proxy
    }

    /// Sends new connections to `target` from now on.
    fn retarget(&self, target: SocketAddr) {
        *lock(&self.target) = target;
    }

    /// Cuts every connection as `cut` says and refuses new ones for `outage`.
    fn cut(&self, cut: Cut, outage: Duration) {
        *lock(&self.down_until) = Some(Instant::now() + outage);
        for (handle, silent_cut) in lock(&self.open).drain(..) {
            match cut {
                Cut::Closed => handle.abort(),
                Cut::ClientOnly => silent_cut.notify_one(),
            }
        }
    }
}

/// What one receiver got.
#[derive(Default)]
struct Tally {
    unique: HashSet<u64>,
    received: u64,
    out_of_order: u64,
    last: Option<u64>,
    connections: u64,
}

/// One receiver: connects through the proxy until `done`, recovering when it can.
async fn receiver(
    proxy: SocketAddr,
    tally: Arc<Mutex<Tally>>,
    joined: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
) {
    let (mut pid, mut offset): (Option<String>, Option<String>) = (None, None);
    let mut counted = false;
    while !done.load(Ordering::Relaxed) {
        let Ok((mut reader, writer)) = ws::open(proxy).await else {
            tokio::time::sleep(RETRY).await;
            continue;
        };
        lock(&tally).connections += 1;
        let connect = match &pid {
            Some(pid) => {
                let mut auth = serde_json::json!({ "pid": pid });
                if let Some(offset) = &offset {
                    auth["offset"] = Value::from(offset.as_str());
                }
                format!("40{auth}")
            }
            None => "40".to_owned(),
        };
        if writer.send(connect.as_bytes()).await.is_err() {
            continue;
        }
        while let Ok(message) = reader.next_message(&writer).await {
            if let Some(answer) = message.strip_prefix(b"40") {
                let given: Value = serde_json::from_slice(answer).unwrap_or_default();
                let given = given.get("pid").and_then(Value::as_str).map(str::to_owned);
                if given.is_none() || given != pid {
                    // A new socket: into the room again.
                    (pid, offset) = (given, None);
                    if writer.send(br#"421["join"]"#).await.is_err() {
                        break;
                    }
                }
            } else if message.starts_with(b"431") {
                if !counted {
                    counted = true;
                    joined.fetch_add(1, Ordering::Relaxed);
                }
            } else if let Some(event) = message.strip_prefix(b"42") {
                let Ok(Value::Array(args)) = serde_json::from_slice::<Value>(event) else { continue };
                if args.first().and_then(Value::as_str) != Some("tick") {
                    continue;
                }
                let Some(n) = args.get(1).and_then(Value::as_u64) else { continue };
                if let Some(given) = args.get(2).and_then(Value::as_str) {
                    offset = Some(given.to_owned());
                }
                let mut tally = lock(&tally);
                tally.received += 1;
                tally.unique.insert(n);
                if tally.last.is_some_and(|last| n <= last) {
                    tally.out_of_order += 1;
                }
                tally.last = Some(n);
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// One server's figures.
struct Row {
    name: String,
    delivered: f64,
    duplicates: u64,
    out_of_order: u64,
    connections: u64,
}

/// Where the receivers go: one server, or two of a cluster on Redis (the streams adapter)
/// with each cut sending every receiver back to the other one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Servers {
    One,
    TwoOnRedis,
}

async fn measure(
    peer: Peer,
    recovery: bool,
    cut: Cut,
    servers: Servers,
    receivers: usize,
    rate: u64,
    seconds: u64,
) -> Row {
    let redis = (servers == Servers::TwoOnRedis).then(RedisServer::start);
    let mut env = vec![];
    if recovery {
        env.push(("RECOVERY", "on".to_owned()));
    }
    if let Some(redis) = &redis {
        env.push(("REDIS_URL", redis.url()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let count = if redis.is_some() { 2 } else { 1 };
    let started: Vec<Server> =
        (0..count).map(|_| Server::start_with(peer, None, &env).expect("starting the server")).collect();
    if let Some(redis) = &redis {
        redis.wait_for_channel("socket.io#/#", 2);
    }
    let server = &started[0];
    let proxy = Proxy::start(server.addr).await;
    let joined = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let tallies: Vec<Arc<Mutex<Tally>>> = (0..receivers).map(|_| Arc::default()).collect();
    for tally in &tallies {
        tokio::spawn(receiver(proxy.addr, tally.clone(), joined.clone(), done.clone()));
    }
    while joined.load(Ordering::Relaxed) < receivers {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut reader, writer) = ws::connect(server.addr).await.expect("the broadcaster connects");
    let pings = writer.clone();
    let broadcaster = tokio::spawn(async move { while reader.next_message(&pings).await.is_ok() {} });

    let total = rate * seconds;
    let start = Instant::now();
    let mut next_cut = start + EVERY / 2;
    let mut cuts = 0usize;
    for n in 0..total {
        let at = start + Duration::from_secs_f64(n as f64 / rate as f64);
        tokio::time::sleep_until(at.into()).await;
        if Instant::now() >= next_cut {
            proxy.cut(cut, OUTAGE);
            cuts += 1;
            proxy.retarget(started[cuts % started.len()].addr);
            next_cut += EVERY;
        }
        writer.send(format!(r#"42["fanout",{n}]"#).as_bytes()).await.expect("the broadcaster sends");
    }
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline && tallies.iter().any(|t| lock(t).unique.len() as u64 != total) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done.store(true, Ordering::Relaxed);
    broadcaster.abort();
    let (mut unique, mut duplicates, mut out_of_order, mut connections) = (0u64, 0u64, 0u64, 0u64);
    for tally in &tallies {
        let tally = lock(tally);
        unique += tally.unique.len() as u64;
        duplicates += tally.received - tally.unique.len() as u64;
        out_of_order += tally.out_of_order;
        connections += tally.connections;
    }
    let across = if redis.is_some() { ", 2 servers on Redis" } else { "" };
    let name = format!("{}{}{across}", peer.name(), if recovery { ", recovery on" } else { "" });
    let delivered = unique as f64 / (total as f64 * receivers as f64);
    Row { name, delivered, duplicates, out_of_order, connections }
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let receivers = usize::try_from(args.first().copied().unwrap_or(100)).unwrap_or(100);
    let rate = args.get(1).copied().unwrap_or(100);
    let seconds = args.get(2).copied().unwrap_or(30);
    build_servers().expect("building the servers");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    println!(
        "{receivers} receivers, {rate} messages/s for {seconds} s, every connection cut for {} s every {} s\n",
        OUTAGE.as_secs(),
        EVERY.as_secs()
    );
    println!("| cut | server | delivered | duplicates | out of order | connections |");
    println!("|---|---|---|---|---|---|");
    let one = Servers::One;
    let runs = [
        (Peer::Tokio, true, one),
        (Peer::Node, true, one),
        (Peer::Node, false, one),
        (Peer::Socketioxide, false, one),
    ];
    let across = [(Peer::Tokio, true, Servers::TwoOnRedis), (Peer::Node, true, Servers::TwoOnRedis)];
    for (cut, what) in [(Cut::Closed, "both sides"), (Cut::ClientOnly, "client side only")] {
        let runs = runs.iter().chain(if cut == Cut::Closed { &across[..] } else { &[] });
        for &(peer, recovery, servers) in runs {
            let row = runtime.block_on(measure(peer, recovery, cut, servers, receivers, rate, seconds));
            println!(
                "| {what} | {} | {:.2} % | {} | {} | {} |",
                row.name,
                row.delivered * 100.0,
                row.duplicates,
                row.out_of_order,
                row.connections
            );
        }
    }
}
