//! What a handshake must pass before a session opens: the application's async
//! `allow_request`, and the origin list against cross-site WebSocket hijacking.

use engineio_proto::server::Cors;
use interop_tests::raw::{self, RawWs};
use socketio_tokio::engine::EngineIo;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_checks_and_origins_decide_handshakes() {
    let (engine, _events) = EngineIo::builder()
        .cors(Cors::origins(["https://a.example"]))
        .allow_request(async |handshake| {
            // Stands for a database or token service: the answer comes later.
            tokio::task::yield_now().await;
            match handshake.query("token").as_deref() {
                Some("boom") => panic!("the check failed"),
                Some("secret") => Ok(()),
                _ => Err(Some("a token is required".to_owned())),
            }
        })
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(engine.serve(listener));
    tokio::task::spawn_blocking(move || {
        let get = |query: &str| {
            raw::request(addr, "GET", &format!("/engine.io/?EIO=4&transport=polling{query}"), &[], b"")
        };
        let refused = get("");
        assert_eq!(
            (refused.status, refused.text()),
            (403, r#"{"code":4,"message":"a token is required"}"#.into())
        );
        assert_eq!(get("&token=secret").status, 200);
        assert_eq!(get("&token=boom").status, 403, "a check that panics refuses");
        assert_eq!(get("&token=secret").status, 200, "and the server goes on");

        let ws = |origin: &str| {
            RawWs::connect_with(
                addr,
                "/engine.io/?EIO=4&transport=websocket&token=secret",
                &[("Origin", origin)],
            )
        };
        let hijack = ws("https://evil.example").expect_err("a page of another site is refused");
        assert_eq!((hijack.status, hijack.text()), (403, r#"{"code":4,"message":"Forbidden"}"#.into()));
        assert!(ws("https://a.example").is_ok(), "a listed origin opens its WebSocket");
    })
    .await
    .unwrap();
}
