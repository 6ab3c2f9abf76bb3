//! The reference `socket.io-client@4.8` in Node against our Socket.IO server, over
//! polling-only, websocket-only and upgrade: every scenario of `tests/js/socketio-client.js`.

use interop_tests::example::{RUNTIMES, Server, TESTBEDS};
use interop_tests::node;
use serde_json::{Value, json};

fn report(server: &Server, mode: &str) -> Value {
    let url = server.url();
    let output = node::run_script_with_args("socketio-client.js", &[&url, mode], b"");
    serde_json::from_slice(&output).expect("the client prints a JSON report")
}

fn check(mode: &str) {
    for (runtime, testbed) in RUNTIMES.iter().zip(TESTBEDS) {
        let server = Server::start_bin(testbed);
        let r = report(&server, mode);
        let at = |scenario: &str| {
            let value = &r[scenario];
            assert!(value.get("error").is_none(), "{runtime} {mode} {scenario}: {}", value["error"]);
            value.clone()
        };

        let auth = at("auth");
        assert_eq!(auth["auth"], json!({ "token": "abc", "n": 1 }), "{runtime} {mode}");
        assert_eq!(auth["empty"], json!({}));

        let binary = at("binary");
        assert_eq!(binary["back"], binary["sent"], "{runtime} {mode}: mixed and nested binary round trip");

        let acks = at("acks");
        assert_eq!(acks["reply"], json!(["x", { "y": { "$bin": "CQ==" } }, 3]), "{runtime} {mode}");
        assert_eq!(acks["answer"], json!(["answer", 5]), "{runtime} {mode}: the server asked the client");
        assert_eq!(acks["timedOut"], true, "{runtime} {mode}: an unanswered server ack times out");

        let multiplexing = at("multiplexing");
        assert_eq!(multiplexing["auths"], json!([{}, {}, {}]));
        assert_eq!(multiplexing["distinctIds"], 3);
        assert_eq!(multiplexing["engines"], 1, "{runtime} {mode}: one engine session for every namespace");
        assert_eq!(multiplexing["refused"], "Invalid namespace");
        assert_eq!(multiplexing["stillThere"], json!(["still"]));

        let middleware = at("middleware");
        assert_eq!(middleware["message"], "not authorized");
        assert_eq!(middleware["data"], json!({ "reason": "bad token" }));
        assert_eq!(middleware["adminError"], "admins only");
        assert_eq!(middleware["adminAuth"], json!({ "role": "admin" }));

        let rooms = at("rooms");
        let ids = &rooms["ids"];
        assert_eq!(rooms["got"]["a"], json!([["room-message", "hi red"]]), "{runtime} {mode}");
        assert_eq!(
            rooms["got"]["b"],
            json!([["broadcast-message", "from a", { "n": 1 }], ["room-message", "hi red"]]),
            "{runtime} {mode}"
        );
        assert_eq!(
            rooms["got"]["c"],
            json!([["broadcast-message", "from a", { "n": 1 }], ["except-message", "not red"]]),
            "{runtime} {mode}"
        );
        let mut red = vec![ids["a"].as_str().unwrap(), ids["b"].as_str().unwrap()];
        red.sort();
        assert_eq!(rooms["fetched"], json!(red));
        let mut rooms_of_a = vec![ids["a"].as_str().unwrap(), "red"];
        rooms_of_a.sort();
        assert_eq!(rooms["roomsOfA"], json!(rooms_of_a));
        assert_eq!(rooms["afterLeave"], json!([ids["b"]]));

        let volatile = at("volatile");
        let received = volatile["received"].as_u64().unwrap();
        assert!((1..=50).contains(&received), "{runtime} {mode}: volatile delivered {received}");

        let disconnects = at("disconnects");
        assert_eq!(disconnects["reasons"]["serverNamespace"], "io server disconnect");
        assert_eq!(disconnects["reasons"]["serverClose"], "io server disconnect");
        let server_side: Vec<&str> =
            disconnects["serverSide"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(
            server_side[server_side.len() - 4..],
            [
                "/:server namespace disconnect:rooms",
                "/:server namespace disconnect:rooms",
                "/custom:client namespace disconnect:rooms",
                "/:transport close:rooms",
            ],
            "{runtime} {mode}: reasons reported on the server, rooms readable"
        );

        let large = at("large");
        assert_eq!(large, json!({ "text": 300_000, "bin": 300_000, "binOk": true }), "{runtime} {mode}");

        let ordering = at("ordering");
        assert_eq!(ordering["inOrder"], true, "{runtime} {mode}: 20 sockets x 200 ordered messages");
        assert_eq!(ordering["echoesInOrder"], true);
        assert_eq!(ordering["count"], 202, "{runtime} {mode}: onAny saw every event");
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
