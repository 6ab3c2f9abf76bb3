//! The four scenarios. Each takes a fresh server and returns what it measured; a scenario
//! that lost or duplicated a message, or saw a connection fail, says so instead of a rate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use crate::histogram::Histogram;
use crate::servers::{Server, own_cpu};
use crate::{polling, ws};

/// The sizes and durations of a run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Receivers in the fan-out room, one row each.
    pub fanout_sizes: Vec<usize>,
    /// Broadcasts in flight in the saturation phases, one phase each.
    pub windows: Vec<u64>,
    /// A last, deeper window (more in flight than a 128-packet socket buffer holds), run
    /// after the latency phase: it counts toward saturation if nothing is lost, and its
    /// loss is reported otherwise.
    pub probe_window: u64,
    /// How long each measuring phase sends.
    pub phase: Duration,
    /// Fan-out deliveries per second of the latency phase every server runs at the same
    /// rate (below the slowest server's saturation), so that latencies compare.
    pub common_rate: f64,
    /// Echo clients, one `emitWithAck` outstanding each.
    pub echo_clients: usize,
    /// Idle WebSocket clients for the memory row.
    pub memory_websocket: usize,
    /// Idle polling clients for the memory row.
    pub memory_polling: usize,
    /// Connections opened at once in the connect-rate row.
    pub connect_workers: usize,
}

impl Settings {
    /// The sizes the issue names.
    pub fn full() -> Self {
        Settings {
            fanout_sizes: vec![1_000, 10_000],
            windows: vec![1, 8, 64],
            probe_window: 512,
            phase: Duration::from_secs(3),
            common_rate: 20_000.0,
            echo_clients: 100,
            memory_websocket: 10_000,
            memory_polling: 2_000,
            connect_workers: 50,
        }
    }

    /// A small run that checks the harness itself.
    pub fn smoke() -> Self {
        Settings {
            fanout_sizes: vec![20],
            windows: vec![1, 4],
            probe_window: 16,
            phase: Duration::from_millis(300),
            common_rate: 2_000.0,
            echo_clients: 5,
            memory_websocket: 20,
            memory_polling: 10,
            connect_workers: 4,
        }
    }
}

/// What one scenario measured on one server.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// The figure of the row (deliveries/s, acks/s, bytes per socket, connects/s).
    pub value: f64,
    /// Median latency, where the row has one.
    pub p50: Option<Duration>,
    /// 99th percentile latency, where the row has one.
    pub p99: Option<Duration>,
    /// Fan-out latency at [`Settings::common_rate`]: median and 99th percentile.
    pub common: Option<(Duration, Duration)>,
    /// The server's CPU use while measuring, in cores.
    pub server_cpu: f64,
    /// The load generator's CPU use while measuring, in cores.
    pub load_cpu: f64,
    /// Why the figure does not count: lost, duplicated or reordered messages, failed connections.
    pub failure: Option<String>,
    /// What went wrong in the deeper window after the figure was measured.
    pub probe_failure: Option<ProbeFailure>,
}

/// How the deeper fan-out window failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeFailure {
    /// A receiver saw a gap, a duplicate or a reordering, or came up short.
    Lost(String),
    /// Nothing completed for a while with no gap seen: lost at the tail, or a server that
    /// handles every queued broadcast before writing any.
    Stalled(String),
}

impl std::fmt::Display for ProbeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeFailure::Lost(what) | ProbeFailure::Stalled(what) => f.write_str(what),
        }
    }
}

/// CPU use of the server and of this process between two points.
struct CpuWatch {
    wall: Instant,
    server: Duration,
    load: Duration,
}

impl CpuWatch {
    fn start(server: &Server) -> Self {
        CpuWatch { wall: Instant::now(), server: server.cpu(), load: own_cpu() }
    }

    fn finish(self, server: &Server, measured: &mut Measured) {
        let wall = self.wall.elapsed().as_secs_f64().max(1e-9);
        measured.server_cpu = (server.cpu() - self.server).as_secs_f64() / wall;
        measured.load_cpu = own_cpu().saturating_sub(self.load).as_secs_f64() / wall;
    }
}

/// Connects `count` clients, at most 256 at a time.
async fn connect_many(addr: SocketAddr, count: usize) -> Result<Vec<(ws::Reader, ws::Writer)>, String> {
    let gate = Arc::new(Semaphore::new(256));
    let mut tasks = JoinSet::new();
    for index in 0..count {
        let gate = gate.clone();
        tasks.spawn(async move {
            let _permit = gate.acquire().await;
            (index, ws::connect(addr).await)
        });
    }
    let mut clients: Vec<Option<(ws::Reader, ws::Writer)>> = (0..count).map(|_| None).collect();
    while let Some(done) = tasks.join_next().await {
        let (index, client) = done.map_err(|e| e.to_string())?;
        let client = client.map_err(|e| format!("connect failed: {e}"))?;
        if let Some(slot) = clients.get_mut(index) {
            *slot = Some(client);
        }
    }
    Ok(clients.into_iter().flatten().collect())
}

/// Emits `event` with an ack and waits for the answer.
async fn call(reader: &mut ws::Reader, writer: &ws::Writer, ack: u64, event: &str) -> std::io::Result<()> {
    writer.send(format!("42{ack}[\"{event}\"]").as_bytes()).await?;
    let expected = format!("43{ack}");
    loop {
        let message = reader.next_message(writer).await?;
        if message.starts_with(expected.as_bytes()) {
            return Ok(());
        }
    }
}

/// `42["tick",[seq,sent]]` → `(seq, sent)`.
fn parse_tick(message: &[u8]) -> Option<(u64, u64)> {
    let start = memchr(b'[', message.get(2..)?)? + 3;
    let rest = message.get(start..)?;
    let rest = &rest[memchr(b'[', rest)? + 1..];
    let comma = memchr(b',', rest)?;
    let end = memchr(b']', rest)?;
    Some((number(rest.get(..comma)?)?, number(rest.get(comma + 1..end)?)?))
}

fn memchr(byte: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == byte)
}

fn number(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, &d| d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0')))
}

/// What the fan-out receivers and the sender share.
struct Fanout {
    receivers: u32,
    base: Instant,
    /// Deliveries per sequence number.
    counts: Vec<AtomicU32>,
    /// Sequence numbers delivered to every receiver.
    completed: AtomicU64,
    /// When the last one was, in nanoseconds since `base`.
    last_completion: AtomicU64,
    /// Latency is recorded from this sequence number on, into `latency`.
    latency_from: AtomicU64,
    latency: Histogram,
    /// From this one on, into `common` (the phase at the common rate).
    common_from: AtomicU64,
    common: Histogram,
    /// Messages out of order, duplicated or missing, and receivers that failed.
    errors: AtomicU64,
    /// The next sequence number each receiver expects.
    expected: Vec<AtomicU64>,
    progress: Notify,
}

impl Fanout {
    fn nanos(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

async fn receive(fanout: Arc<Fanout>, index: usize, mut reader: ws::Reader, writer: ws::Writer) {
    let mut expected = 0;
    loop {
        let Ok(message) = reader.next_message(&writer).await else {
            fanout.errors.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let Some((seq, sent)) = parse_tick(&message) else {
            continue;
        };
        if seq != expected {
            fanout.errors.fetch_add(1, Ordering::Relaxed);
        }
        expected = seq + 1;
        if let Some(slot) = fanout.expected.get(index) {
            slot.store(expected, Ordering::Relaxed);
        }
        let latency = fanout.nanos().saturating_sub(sent);
        if seq >= fanout.common_from.load(Ordering::Relaxed) {
            fanout.common.record(latency);
        } else if seq >= fanout.latency_from.load(Ordering::Relaxed) {
            fanout.latency.record(latency);
        }
        let count = fanout.counts.get(usize::try_from(seq).unwrap_or(usize::MAX));
        if count.is_some_and(|c| c.fetch_add(1, Ordering::Relaxed) + 1 == fanout.receivers) {
            fanout.completed.fetch_add(1, Ordering::Relaxed);
            fanout.last_completion.store(fanout.nanos(), Ordering::Relaxed);
            fanout.progress.notify_one();
        }
    }
}

/// The sender's side of a fan-out run.
struct Sender {
    fanout: Arc<Fanout>,
    writer: ws::Writer,
    next: u64,
}

/// How long without any completed broadcast before a phase counts as having lost messages.
const STALL: Duration = Duration::from_secs(10);

impl Sender {
    async fn send(&mut self) -> Result<(), String> {
        let tick = format!("42[\"fanout\",[{},{}]]", self.next, self.fanout.nanos());
        self.writer.send(tick.as_bytes()).await.map_err(|e| format!("sender failed: {e}"))?;
        self.next += 1;
        Ok(())
    }

    fn room(&self) -> bool {
        usize::try_from(self.next).is_ok_and(|next| next < self.fanout.counts.len())
    }

    /// Waits until every broadcast sent so far reached every receiver.
    async fn drain(&self) -> Result<(), String> {
        while self.fanout.completed.load(Ordering::Relaxed) < self.next {
            self.progress().await?;
        }
        Ok(())
    }

    async fn progress(&self) -> Result<(), String> {
        let errors = self.fanout.errors.load(Ordering::Relaxed);
        if errors > 0 {
            return Err(format!("lost: {errors} messages missing, duplicated or out of order"));
        }
        tokio::time::timeout(STALL, self.fanout.progress.notified())
            .await
            .map_err(|_| format!("stalled: no broadcast reached every receiver for {STALL:?} (lost or slow)"))
    }

    /// Keeps `window` broadcasts in flight for `phase`; deliveries per second.
    async fn saturate(&mut self, window: u64, phase: Duration) -> Result<f64, String> {
        let (first, start) = (self.next, self.fanout.nanos());
        let end = Instant::now() + phase;
        while Instant::now() < end && self.room() {
            while self.next - self.fanout.completed.load(Ordering::Relaxed) < window && self.room() {
                self.send().await?;
            }
            self.progress().await?;
        }
        self.drain().await?;
        let elapsed = self.fanout.last_completion.load(Ordering::Relaxed).saturating_sub(start);
        let deliveries = (self.next - first) * u64::from(self.fanout.receivers);
        Ok(deliveries as f64 / (elapsed as f64 / 1e9).max(1e-9))
    }

    /// Sends at `rate` broadcasts per second for `phase`; receivers record the latency of
    /// broadcasts from the next one on, as `from` marks.
    async fn paced(&mut self, rate: f64, phase: Duration, from: &AtomicU64) -> Result<(), String> {
        from.store(self.next, Ordering::Relaxed);
        let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
        let start = tokio::time::Instant::now();
        let mut at = start;
        while at < start + phase && self.room() {
            tokio::time::sleep_until(at).await;
            self.send().await?;
            at += interval;
        }
        self.drain().await
    }
}

/// Fan-out to `receivers` clients in one room: deliveries per second at saturation (the best
/// window), and latency at half that rate.
pub async fn fanout(server: &Server, settings: &Settings, receivers: usize) -> Measured {
    let mut measured = Measured::default();
    if let Err(failure) = fanout_inner(server, settings, receivers, &mut measured).await {
        measured.failure = Some(failure);
    }
    measured
}

async fn fanout_inner(
    server: &Server,
    settings: &Settings,
    receivers: usize,
    measured: &mut Measured,
) -> Result<(), String> {
    let fanout = Arc::new(Fanout {
        receivers: u32::try_from(receivers).map_err(|_| "too many receivers")?,
        base: Instant::now(),
        counts: (0..1 << 18).map(|_| AtomicU32::new(0)).collect(),
        completed: AtomicU64::new(0),
        last_completion: AtomicU64::new(0),
        latency_from: AtomicU64::new(u64::MAX),
        latency: Histogram::default(),
        common_from: AtomicU64::new(u64::MAX),
        common: Histogram::default(),
        errors: AtomicU64::new(0),
        expected: (0..receivers).map(|_| AtomicU64::new(0)).collect(),
        progress: Notify::new(),
    });
    let mut tasks = JoinSet::new();
    for (index, (mut reader, writer)) in connect_many(server.addr, receivers).await?.into_iter().enumerate() {
        call(&mut reader, &writer, 0, "join").await.map_err(|e| format!("join failed: {e}"))?;
        tasks.spawn(receive(fanout.clone(), index, reader, writer));
    }
    let (mut reader, writer) = ws::connect(server.addr).await.map_err(|e| format!("sender: {e}"))?;
    let pongs = writer.clone();
    tasks.spawn(async move { while reader.next_message(&pongs).await.is_ok() {} });
    let mut sender = Sender { fanout: fanout.clone(), writer, next: 0 };

    let watch = CpuWatch::start(server);
    let mut best: f64 = 0.0;
    for &window in &settings.windows {
        let rate =
            sender.saturate(window, settings.phase).await.map_err(|e| format!("window {window}: {e}"))?;
        eprintln!("  window {window}: {rate:.0} deliveries/s");
        best = best.max(rate);
    }
    watch.finish(server, measured);
    measured.value = best;
    sender
        .paced(best / 2.0 / receivers as f64, settings.phase, &fanout.latency_from)
        .await
        .map_err(|e| format!("at half rate: {e}"))?;
    measured.p50 = fanout.latency.quantile(500);
    measured.p99 = fanout.latency.quantile(990);
    sender
        .paced(settings.common_rate / receivers as f64, settings.phase, &fanout.common_from)
        .await
        .map_err(|e| format!("at the common rate: {e}"))?;
    measured.common = fanout.common.quantile(500).zip(fanout.common.quantile(990));
    check_delivery(&fanout, sender.next)?;

    let probe = settings.probe_window;
    let probed = sender.saturate(probe, settings.phase).await;
    match probed.and_then(|rate| check_delivery(&fanout, sender.next).map(|()| rate)) {
        Ok(rate) => {
            eprintln!("  window {probe}: {rate:.0} deliveries/s, nothing lost");
            measured.value = measured.value.max(rate);
        }
        Err(loss) => {
            eprintln!("  window {probe}: {loss}");
            let what = format!("window {probe}: {loss}");
            // A loss is a gap (or duplicate) some receiver saw; without one, it stalled.
            let lost = fanout.errors.load(Ordering::Relaxed) > 0;
            measured.probe_failure =
                Some(if lost { ProbeFailure::Lost(what) } else { ProbeFailure::Stalled(what) });
        }
    }
    tasks.abort_all();
    Ok(())
}

/// Every receiver got every broadcast sent so far, once and in order.
fn check_delivery(fanout: &Fanout, sent: u64) -> Result<(), String> {
    let short = fanout.expected.iter().filter(|e| e.load(Ordering::Relaxed) != sent).count();
    let errors = fanout.errors.load(Ordering::Relaxed);
    if errors > 0 || short > 0 {
        return Err(format!("lost: {errors} messages out of order or duplicated, {short} receivers short"));
    }
    Ok(())
}

/// `clients` clients each with one `emitWithAck` outstanding: acks per second and latency.
pub async fn echo(server: &Server, settings: &Settings) -> Measured {
    let mut measured = Measured::default();
    let clients = match connect_many(server.addr, settings.echo_clients).await {
        Ok(clients) => clients,
        Err(failure) => return Measured { failure: Some(failure), ..measured },
    };
    let latency = Arc::new(Histogram::default());
    let warm = Instant::now() + settings.phase / 4;
    let stop = warm + settings.phase;
    let mut tasks = JoinSet::new();
    for (mut reader, writer) in clients {
        let latency = latency.clone();
        tasks.spawn(async move {
            let mut id = 0u64;
            while Instant::now() < stop {
                let sent = Instant::now();
                writer.send(format!("42{id}[\"echo\",{id}]").as_bytes()).await?;
                let expected = format!("43{id}[{id}]");
                loop {
                    let message = reader.next_message(&writer).await?;
                    if message.starts_with(b"43") {
                        if message[..] != *expected.as_bytes() {
                            return Err(std::io::Error::other("an ack out of order or wrong"));
                        }
                        break;
                    }
                }
                if sent >= warm {
                    latency.record(u64::try_from(sent.elapsed().as_nanos()).unwrap_or(u64::MAX));
                }
                id += 1;
            }
            Ok::<_, std::io::Error>(())
        });
    }
    tokio::time::sleep_until(warm.into()).await;
    let watch = CpuWatch::start(server);
    let mut failures = 0;
    while let Some(done) = tasks.join_next().await {
        if !matches!(done, Ok(Ok(()))) {
            failures += 1;
        }
    }
    watch.finish(server, &mut measured);
    measured.value = latency.len() as f64 / settings.phase.as_secs_f64();
    measured.p50 = latency.quantile(500);
    measured.p99 = latency.quantile(990);
    if failures > 0 {
        measured.failure = Some(format!("{failures} echo clients failed"));
    }
    measured
}

/// Server memory per idle client: RSS growth after `count` clients connected, divided by
/// `count`. WebSocket clients, or polling ones with a GET waiting.
pub async fn memory(server: &Server, count: usize, websocket: bool) -> Measured {
    let mut measured = Measured::default();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.rss();
    let mut tasks = JoinSet::new();
    let result = if websocket {
        connect_many(server.addr, count).await.map(|clients| {
            for (mut reader, writer) in clients {
                tasks.spawn(async move { while reader.next_message(&writer).await.is_ok() {} });
            }
        })
    } else {
        let gate = Arc::new(Semaphore::new(256));
        let mut connecting = JoinSet::new();
        for _ in 0..count {
            let gate = gate.clone();
            let addr = server.addr;
            connecting.spawn(async move {
                let _permit = gate.acquire().await;
                polling::connect(addr).await
            });
        }
        let mut idle = Vec::with_capacity(count);
        let mut failed = None;
        while let Some(done) = connecting.join_next().await {
            match done {
                Ok(Ok(client)) => idle.push(client),
                Ok(Err(error)) => failed = Some(format!("polling connect failed: {error}")),
                Err(error) => failed = Some(error.to_string()),
            }
        }
        tasks.spawn(async move {
            std::future::pending::<()>().await;
            drop(idle);
        });
        failed.map_or(Ok(()), Err)
    };
    if let Err(failure) = result {
        measured.failure = Some(failure);
        return measured;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measured.value = server.rss().saturating_sub(before) as f64 / count as f64;
    tasks.abort_all();
    measured
}

/// Full Socket.IO connects per second over WebSocket (upgrade, open packet, namespace
/// connect), `workers` at a time, each connection closed once connected.
pub async fn connect_rate(server: &Server, settings: &Settings) -> Measured {
    let mut measured = Measured::default();
    let latency = Arc::new(Histogram::default());
    let failures = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + settings.phase;
    let watch = CpuWatch::start(server);
    let mut tasks = JoinSet::new();
    for _ in 0..settings.connect_workers {
        let (latency, failures, addr) = (latency.clone(), failures.clone(), server.addr);
        tasks.spawn(async move {
            while Instant::now() < stop {
                let start = Instant::now();
                match ws::connect(addr).await {
                    Ok(client) => {
                        latency.record(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
                        drop(client);
                    }
                    Err(_) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    watch.finish(server, &mut measured);
    measured.value = latency.len() as f64 / settings.phase.as_secs_f64();
    measured.p50 = latency.quantile(500);
    measured.p99 = latency.quantile(990);
    let failures = failures.load(Ordering::Relaxed);
    if failures > 0 {
        measured.failure = Some(format!("{failures} connects failed"));
    }
    measured
}

#[cfg(test)]
mod tests {
    #[test]
    fn ticks_parse() {
        assert_eq!(super::parse_tick(br#"42["tick",[12,3456]]"#), Some((12, 3456)));
        assert_eq!(super::parse_tick(br#"42["tick",[1,x]]"#), None);
        assert_eq!(super::parse_tick(b"40"), None);
    }
}
