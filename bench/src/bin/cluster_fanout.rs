//! Cross-node fan-out: two servers of a kind on one Redis (ours: the `cluster` example on
//! tokio; Node: `tests/js/cluster-node.js` on `@socket.io/redis-adapter`), receivers spread
//! over both, one of them broadcasting through its server (`io.emit`). Every receiver must
//! get every message exactly once and in order; deliveries per second and the ratio are
//! printed.
//!
//! `cargo run --release -p e2e-bench --bin cluster_fanout [-- RECEIVERS MESSAGES]`
//! (defaults 1000 and 2000). Needs `redis-server` and `npm ci` in `tests/js`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use e2e_bench::ws;
use interop_tests::example::{Server, free_port};
use interop_tests::redis::RedisServer;
use tokio::sync::Notify;

/// Messages in flight at most (sent, not yet delivered to every receiver).
const WINDOW: u64 = 64;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Starts two servers of `kind` on Redis; their addresses.
fn start_pair(kind: &str, redis: &RedisServer) -> (Vec<Server>, Vec<SocketAddr>) {
    let redis_url = redis.url();
    let mut servers = Vec::new();
    for name in ["a", "b"] {
        let port = free_port();
        let mut command = match kind {
            "node" => {
                let mut node = Command::new("node");
                node.arg(repository().join("tests/js/cluster-node.js"));
                node
            }
            _ => Command::new(repository().join("target/release/examples/cluster")),
        };
        command.env("REDIS_URL", &redis_url).env("NODE_NAME", name);
        servers.push(Server::start_command(command, kind, port));
    }
    redis.wait_for_servers("socket.io", 2);
    let addrs = servers.iter().map(|server| server.addr).collect();
    (servers, addrs)
}

struct Shared {
    receivers: u64,
    /// Per message, how many receivers got it.
    counts: Vec<AtomicU64>,
    completed: AtomicU64,
    errors: AtomicU64,
    progress: Notify,
}

/// `42["msg",N]` → N.
fn sequence(message: &[u8]) -> Option<u64> {
    let digits = message.strip_prefix(b"42[\"msg\",")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

async fn receive(shared: Arc<Shared>, mut reader: ws::Reader, writer: ws::Writer, messages: u64) {
    let mut expected = 0;
    while expected < messages {
        let Ok(message) = reader.next_message(&writer).await else {
            shared.errors.fetch_add(1, Ordering::Relaxed);
            shared.progress.notify_one();
            return;
        };
        let Some(seq) = sequence(&message) else { continue };
        if seq != expected {
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
        expected = seq + 1;
        let count = shared.counts.get(usize::try_from(seq).unwrap_or(usize::MAX));
        if count.is_some_and(|c| c.fetch_add(1, Ordering::Relaxed) + 1 == shared.receivers) {
            shared.completed.fetch_add(1, Ordering::Relaxed);
            shared.progress.notify_one();
        }
    }
}

/// Deliveries per second, or why the run failed.
async fn run(addrs: &[SocketAddr], receivers: usize, messages: u64) -> Result<f64, String> {
    let mut clients = Vec::new();
    for index in 0..receivers {
        let addr = addrs[index % addrs.len()];
        clients.push(ws::connect(addr).await.map_err(|e| format!("connect: {e}"))?);
    }
    let shared = Arc::new(Shared {
        receivers: receivers as u64,
        counts: (0..messages).map(|_| AtomicU64::new(0)).collect(),
        completed: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        progress: Notify::new(),
    });
    let sender = clients[0].1.clone();
    for (reader, writer) in clients {
        tokio::spawn(receive(shared.clone(), reader, writer, messages));
    }
    let start = Instant::now();
    let mut sent = 0;
    while shared.completed.load(Ordering::Relaxed) < messages {
        if shared.errors.load(Ordering::Relaxed) > 0 {
            return Err("a receiver lost, duplicated or reordered a message".into());
        }
        while sent < messages && sent < shared.completed.load(Ordering::Relaxed) + WINDOW {
            sender.send(format!("42[\"all\",{sent}]").as_bytes()).await.map_err(|e| e.to_string())?;
            sent += 1;
        }
        if tokio::time::timeout(Duration::from_secs(10), shared.progress.notified()).await.is_err() {
            return Err(format!("stalled at {} of {messages}", shared.completed.load(Ordering::Relaxed)));
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    if shared.errors.load(Ordering::Relaxed) > 0 {
        return Err("a receiver lost, duplicated or reordered a message".into());
    }
    Ok((messages * receivers as u64) as f64 / elapsed)
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let receivers = usize::try_from(args.first().copied().unwrap_or(1000)).unwrap_or(1000);
    let messages = args.get(1).copied().unwrap_or(2000);
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--release", "-p", "socketio-tokio", "--example", "cluster"])
        .current_dir(repository())
        .status()
        .expect("running cargo");
    assert!(status.success(), "building the cluster example failed");
    let redis = RedisServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let mut results = Vec::new();
    for kind in ["ours", "node"] {
        let (servers, addrs) = start_pair(kind, &redis);
        let result = runtime.block_on(run(&addrs, receivers, messages));
        drop(servers);
        match &result {
            Ok(rate) => eprintln!("{kind}: {rate:.0} deliveries/s, every message exactly once, in order"),
            Err(error) => eprintln!("{kind}: failed: {error}"),
        }
        results.push(result);
    }
    println!("cross-node fan-out, 2 servers on one Redis, {receivers} receivers, {messages} broadcasts");
    println!("| ours (tokio) | node socket.io | ours / node |");
    println!("| --- | --- | --- |");
    match (&results[0], &results[1]) {
        (Ok(ours), Ok(node)) => {
            println!("| {:.1} k/s | {:.1} k/s | {:.2}x |", ours / 1e3, node / 1e3, ours / node)
        }
        _ => println!("| {:?} | {:?} | - |", results[0], results[1]),
    }
}
