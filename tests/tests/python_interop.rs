//! The `python-socketio` client (PyPI, pinned in `tests/python/requirements.lock`) against
//! our Socket.IO server, on every transport mode.

use interop_tests::example::{Server, TESTBEDS};
use interop_tests::python;
use serde_json::{Value, json};

fn check(mode: &str) {
    for testbed in TESTBEDS {
        let server = Server::start_bin(testbed);
        let url = server.url();
        let output = python::run_script("client.py", &[&url, mode]);
        let report: Value = serde_json::from_slice(&output).expect("the client prints a JSON report");
        for scenario in ["events", "namespaces", "refusals", "rooms", "serverDisconnect"] {
            assert!(
                report[scenario].get("error").is_none(),
                "{testbed} {mode} {scenario}: {}",
                report[scenario]
            );
        }
        let events = &report["events"];
        assert_eq!(events["auth"], json!({ "token": "py" }));
        assert_eq!(events["back"], events["sent"], "{testbed} {mode}: binary round trip");
        assert_eq!(events["reply"], json!(["x", { "$bin": "CQ==" }]));
        assert_eq!(events["answer"], json!(["answer", 5]), "{testbed} {mode}: the server asked the client");
        let expected_transport = if mode == "polling" { "polling" } else { "websocket" };
        assert_eq!(events["transport"], expected_transport);
        assert_eq!(report["namespaces"], json!({ "customAuth": {}, "distinct": true }));
        assert_eq!(
            report["refusals"],
            json!({
                "middleware": { "message": "not authorized", "data": { "reason": "bad token" } },
                "namespace": { "message": "Invalid namespace" },
            })
        );
        assert_eq!(report["rooms"]["roomMessage"], json!(["hello blue"]));
        assert_eq!(report["serverDisconnect"]["reason"], "server disconnect");
    }
}

#[test]
fn polling_only() {
    check("polling");
}

#[test]
fn websocket_only() {
    check("websocket");
}

#[test]
fn polling_then_upgrade() {
    check("upgrade");
}
