//! The chat demo in a real headless Chromium (Debian's `chromium`, driven by
//! `playwright-core`): two pages, one forced to long-polling; and the tutorial chat of
//! the axum example.

use interop_tests::example::{RUNTIMES, Server};
use interop_tests::node;
use serde_json::{Value, json};

/// Fails with a hint when Debian's chromium is not installed.
fn require_chromium() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: tests/run.sh installs Debian's chromium (or set CHROMIUM)"
    );
}

#[test]
fn two_browsers_chat() {
    require_chromium();
    for runtime in RUNTIMES {
        let server = Server::start(runtime, "chat");
        let url = server.url();
        let output = node::run_script_with_args("chat-browser.js", &[&url], b"");
        let report: Value = serde_json::from_slice(&output).expect("the script prints a JSON report");
        assert!(report.get("error").is_none(), "{runtime}: {}", report["error"]);
        assert_eq!(report["online"], json!({ "alice": ["alice", "bob"], "bob": ["alice", "bob"] }));
        assert_eq!(report["typingSeenByBob"], "alice is typing");
        assert_eq!(report["transports"], json!({ "alice": "websocket", "bob": "polling" }));
        assert_eq!(
            report["messages"]["bob"],
            json!([
                "alice: hello from alice",
                "bob: hi alice",
                "(from alice) just for you",
                "alice disconnected"
            ]),
            "{runtime}: a message typed in one page appears in both"
        );
        assert_eq!(report["onlineAfter"], json!(["bob"]));
    }
}

#[test]
fn tutorial_chat_in_axum() {
    require_chromium();
    let server = Server::start("socketio-tokio", "axum");
    let output = node::run_script_with_args("tutorial-browser.js", &[&server.url()], b"");
    let report: Value = serde_json::from_slice(&output).expect("the script prints a JSON report");
    assert!(report.get("error").is_none(), "{report}");
    let both = json!(["hello from alice", "hi alice"]);
    assert_eq!(report["messages"], json!({ "alice": both, "bob": both }));
    assert_eq!(report["transport"], "websocket", "the page upgraded through axum");
}
