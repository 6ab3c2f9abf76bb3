//! Runs the scenarios on every server and prints the table.

use std::fmt::Write as _;
use std::time::Duration;

use crate::scenarios::{self, Measured, ProbeFailure, Settings};
use crate::servers::{Peer, Server};

/// One row of the table: a scenario's figure on every server.
pub struct Row {
    /// What it measures.
    pub name: String,
    /// Whether more is better (rates) or less (memory).
    pub higher_is_better: bool,
    /// How to print a figure.
    pub unit: Unit,
    /// The figure on each server, in [`Peer::ALL`] order.
    pub cells: Vec<(Peer, Measured)>,
}

/// How a row's figures read.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    /// Events per second.
    PerSecond,
    /// Bytes.
    Bytes,
}

/// Which scenario a row is.
#[derive(Debug, Clone, Copy)]
enum Scenario {
    Fanout(usize),
    Echo,
    Memory { count: usize, websocket: bool },
    Connect,
}

/// Runs every scenario whose name contains `only` (all without it) on every peer in
/// `peers`, each on a fresh server pinned to `server_core`; progress goes to stderr.
pub fn run(settings: &Settings, peers: &[Peer], server_core: Option<usize>, only: Option<&str>) -> Vec<Row> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let mut scenarios: Vec<(String, Scenario)> = settings
        .fanout_sizes
        .iter()
        .map(|&n| (format!("fan-out, {n} receivers (deliveries/s)"), Scenario::Fanout(n)))
        .collect();
    scenarios.push((format!("echo, {} clients (acks/s)", settings.echo_clients), Scenario::Echo));
    scenarios.push((
        format!("memory per idle websocket ({} clients)", settings.memory_websocket),
        Scenario::Memory { count: settings.memory_websocket, websocket: true },
    ));
    scenarios.push((
        format!("memory per idle polling client ({})", settings.memory_polling),
        Scenario::Memory { count: settings.memory_polling, websocket: false },
    ));
    scenarios.push(("connects/s over websocket".into(), Scenario::Connect));

    scenarios.retain(|(name, _)| only.is_none_or(|only| name.contains(only)));
    scenarios
        .into_iter()
        .map(|(name, scenario)| {
            let cells = peers
                .iter()
                .map(|&peer| {
                    eprintln!("{name}: {}", peer.name());
                    let measured = match Server::start(peer, server_core) {
                        Ok(server) => runtime.block_on(async {
                            match scenario {
                                Scenario::Fanout(n) => scenarios::fanout(&server, settings, n).await,
                                Scenario::Echo => scenarios::echo(&server, settings).await,
                                Scenario::Memory { count, websocket } => {
                                    scenarios::memory(&server, count, websocket).await
                                }
                                Scenario::Connect => scenarios::connect_rate(&server, settings).await,
                            }
                        }),
                        Err(error) => Measured { failure: Some(error.to_string()), ..Measured::default() },
                    };
                    if let Some(failure) = &measured.failure {
                        eprintln!("  FAILED: {failure}");
                    }
                    (peer, measured)
                })
                .collect();
            let memory = matches!(scenario, Scenario::Memory { .. });
            Row {
                name,
                higher_is_better: !memory,
                unit: if memory { Unit::Bytes } else { Unit::PerSecond },
                cells,
            }
        })
        .collect()
}

fn figure(unit: Unit, value: f64) -> String {
    match unit {
        Unit::PerSecond if value >= 1e6 => format!("{:.2} M", value / 1e6),
        Unit::PerSecond if value >= 1e3 => format!("{:.1} k", value / 1e3),
        Unit::PerSecond => format!("{value:.0}"),
        Unit::Bytes => format!("{:.1} KB", value / 1024.0),
    }
}

fn millis(duration: Option<Duration>) -> String {
    duration.map_or("-".into(), |d| format!("{:.2}", d.as_secs_f64() * 1e3))
}

fn cell(unit: Unit, measured: &Measured) -> String {
    match (&measured.failure, &measured.probe_failure) {
        (Some(_), _) => "FAILED".into(),
        (None, Some(ProbeFailure::Stalled(_))) => {
            format!("{} (stalled deeper)", figure(unit, measured.value))
        }
        (None, Some(ProbeFailure::Lost(_))) => format!("{} (lost deeper)", figure(unit, measured.value)),
        (None, None) => figure(unit, measured.value),
    }
}

/// The table, as Markdown: one row per scenario, a column per server, our ratio to each
/// peer, then latencies (fan-out also at `common_rate` deliveries per second on every
/// server) and CPU use, then what failed and why.
pub fn table(rows: &[Row], common_rate: f64) -> String {
    let mut out = String::new();
    let Some(first) = rows.first() else {
        return out;
    };
    let peers: Vec<Peer> = first.cells.iter().map(|(peer, _)| *peer).collect();
    let ours: Vec<Peer> = peers.iter().copied().filter(|p| p.ours()).collect();
    let theirs: Vec<Peer> = peers.iter().copied().filter(|p| !p.ours()).collect();

    let mut header = vec!["scenario".to_owned()];
    header.extend(peers.iter().map(|p| p.name().to_owned()));
    for us in &ours {
        for them in &theirs {
            header.push(format!("{} / {}", short(*us), short(*them)));
        }
    }
    line(&mut out, &header);
    line(&mut out, &header.iter().map(|_| "---".to_owned()).collect::<Vec<_>>());
    for row in rows {
        let mut cells = vec![row.name.clone()];
        cells.extend(row.cells.iter().map(|(_, m)| cell(row.unit, m)));
        let get = |peer: Peer| row.cells.iter().find(|(p, _)| *p == peer).map(|(_, m)| m);
        for us in &ours {
            for them in &theirs {
                cells.push(match (get(*us), get(*them)) {
                    (Some(a), Some(b))
                        if a.failure.is_none() && b.failure.is_none() && a.value > 0.0 && b.value > 0.0 =>
                    {
                        let ratio = if row.higher_is_better { a.value / b.value } else { b.value / a.value };
                        format!("{ratio:.2}x")
                    }
                    _ => "-".into(),
                });
            }
        }
        line(&mut out, &cells);
    }

    out.push_str(
        "\nLatency (p50 / p99, ms), server CPU (cores) and load generator CPU (cores) while measuring:\n\n",
    );
    let mut header = vec!["scenario".to_owned()];
    header.extend(peers.iter().map(|p| p.name().to_owned()));
    line(&mut out, &header);
    line(&mut out, &header.iter().map(|_| "---".to_owned()).collect::<Vec<_>>());
    for row in rows.iter().filter(|r| matches!(r.unit, Unit::PerSecond)) {
        let mut cells = vec![row.name.clone()];
        cells.extend(row.cells.iter().map(|(_, m)| {
            format!("{} / {} ms, cpu {:.2} / {:.2}", millis(m.p50), millis(m.p99), m.server_cpu, m.load_cpu)
        }));
        line(&mut out, &cells);
        if row.cells.iter().any(|(_, m)| m.common.is_some()) {
            let mut cells = vec![format!(
                "{}, latency at {} deliveries/s on every server",
                row.name,
                figure(row.unit, common_rate)
            )];
            cells.extend(row.cells.iter().map(|(_, m)| match m.common {
                Some((p50, p99)) => format!("{} / {} ms", millis(Some(p50)), millis(Some(p99))),
                None => "-".into(),
            }));
            line(&mut out, &cells);
        }
    }

    let failures: Vec<String> = rows
        .iter()
        .flat_map(|row| {
            row.cells.iter().filter_map(move |(peer, m)| {
                let what = m.failure.clone().or_else(|| m.probe_failure.as_ref().map(ToString::to_string))?;
                Some(format!("- {} on {}: {what}", row.name, peer.name()))
            })
        })
        .collect();
    if !failures.is_empty() {
        out.push_str(
            "\nFailed (lost, duplicated or reordered messages count as failures, not as speed):\n\n",
        );
        for failure in failures {
            let _ = writeln!(out, "{failure}");
        }
    }
    out
}

fn short(peer: Peer) -> &'static str {
    match peer {
        Peer::Tokio => "tokio",
        Peer::Smol => "smol",
        Peer::Node => "node",
        Peer::Socketioxide => "socketioxide",
    }
}

fn line(out: &mut String, cells: &[String]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}
