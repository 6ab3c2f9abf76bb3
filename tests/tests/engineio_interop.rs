//! The reference `engine.io-client@6` against our `engineio_echo` example, on every
//! transport mode: handshake, text and binary echoes, heartbeats, clean close.

use interop_tests::example::{RUNTIMES, Server};
use interop_tests::node;
use serde_json::Value;

fn run_client(server: &Server, mode: &str) -> Value {
    let url = server.url();
    let output = node::run_script_with_args("engineio-client.js", &[&url, mode], b"");
    serde_json::from_slice(&output).expect("the client prints a JSON report")
}

fn check(mode: &str, expect_open: &str, expect_final: &str) {
    for runtime in RUNTIMES {
        let server = Server::start(runtime, "engineio_echo");
        let report = run_client(&server, mode);
        assert_eq!(report["openTransport"], expect_open, "{runtime} {mode}: {report}");
        assert_eq!(report["finalTransport"], expect_final, "{runtime} {mode}: {report}");
        assert_eq!(report["upgraded"], mode == "upgrade", "{runtime} {mode}: {report}");
        assert_eq!(report["echoes"], report["expected"], "{runtime} {mode}: every message echoed, in order");
        assert!(
            report["pings"].as_u64().unwrap_or(0) >= 3,
            "{runtime} {mode}: survived heartbeats: {report}"
        );
        assert_eq!(report["closeReason"], "forced close", "{runtime} {mode}: {report}");
    }
}

#[test]
fn polling_only() {
    check("polling", "polling", "polling");
}

#[test]
fn websocket_only() {
    check("websocket", "websocket", "websocket");
}

#[test]
fn polling_then_upgrade() {
    check("upgrade", "polling", "websocket");
}

#[test]
fn each_runtime_runs_its_own_example_binary() {
    // The runtime crates' examples share names, and cargo links both to one path; the
    // suites must still run each runtime's own build.
    let binaries: Vec<Vec<u8>> = RUNTIMES
        .iter()
        .map(|runtime| {
            std::fs::read(interop_tests::example::example_binary(runtime, "engineio_echo")).unwrap()
        })
        .collect();
    assert_eq!(binaries.len(), 2);
    assert_ne!(binaries[0], binaries[1], "both runtimes ran the same binary");
}
