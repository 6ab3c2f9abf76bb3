//! The harness at a small scale against every server: every scenario completes with every
//! message delivered exactly once and in order. It asserts correctness, never speed.

use e2e_bench::report::{self, Unit};
use e2e_bench::scenarios::Settings;
use e2e_bench::servers::{self, Peer};

#[test]
fn every_scenario_completes_without_loss_on_every_server() {
    servers::build_servers().expect("the benchmark servers build");
    let rows = report::run(&Settings::smoke(), &Peer::ALL, None, None);
    assert_eq!(rows.len(), 5, "fan-out (one size), echo, two memory rows, connects");
    for row in &rows {
        for (peer, measured) in &row.cells {
            assert_eq!(measured.failure, None, "{} on {}", row.name, peer.name());
            if peer.ours() {
                assert_eq!(measured.probe_failure, None, "{} on {}", row.name, peer.name());
            }
            if row.name.starts_with("fan-out") {
                assert!(measured.common.is_some(), "{} on {}: no common-rate latency", row.name, peer.name());
            }
            // Memory may not grow by a page for a few clients; rates must be positive.
            if matches!(row.unit, Unit::PerSecond) {
                assert!(measured.value > 0.0, "{} on {}: nothing measured", row.name, peer.name());
            }
        }
    }
    let table = report::table(&rows, Settings::smoke().common_rate);
    assert!(table.contains("| fan-out, 20 receivers (deliveries/s) |"), "{table}");
}
