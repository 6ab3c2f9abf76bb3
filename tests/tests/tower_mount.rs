//! The engine mounted as a `tower::Service` in a plain hyper application, next to its
//! own routes, the way Socket.IO mounts on an Express server.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use interop_tests::raw;
use socketio_tokio::engine::EngineIo;
use socketio_tokio::server::SocketIo;
use tower_service::Service;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_mounts_next_to_other_routes() {
    let (engine, mut events) = EngineIo::builder().path("/realtime").build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let engine = engine.clone();
            tokio::spawn(async move {
                let app = hyper::service::service_fn(move |request: http::Request<Incoming>| {
                    let mut engine = engine.clone();
                    async move {
                        if request.uri().path().starts_with(engine.path()) {
                            let response = engine.call(request).await?;
                            Ok::<_, Infallible>(response.map(Either::Left))
                        } else {
                            let body = Full::new(Bytes::from_static(b"the app's own route"));
                            Ok(http::Response::new(Either::Right(body)))
                        }
                    }
                });
                let _ =
                    http1::Builder::new().serve_connection(TokioIo::new(stream), app).with_upgrades().await;
            });
        }
    });

    let (home, handshake, websocket) = tokio::task::spawn_blocking(move || {
        let home = raw::request(addr, "GET", "/", &[], b"");
        let handshake = raw::request(addr, "GET", "/realtime/?EIO=4&transport=polling", &[], b"");
        let websocket =
            raw::RawWs::connect(addr, "/realtime/?EIO=4&transport=websocket").map(|mut ws| ws.read());
        (home, handshake, websocket)
    })
    .await
    .unwrap();
    assert_eq!(home.text(), "the app's own route");
    assert_eq!(handshake.status, 200);
    assert!(handshake.text().starts_with("0{\"sid\""), "{}", handshake.text());
    assert!(matches!(websocket, Ok(raw::WsRead::Text(open)) if open.starts_with("0{\"sid\"")));
    assert!(matches!(events.next().await, Some(engineio_proto::server::Event::Opened { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketio_mounts_as_a_tower_service() {
    let io = SocketIo::new();
    io.on_connection(async |socket| socket.on("ping", async |_, message| message.ack(&"pong")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let io = io.clone();
            tokio::spawn(async move {
                let app = hyper::service::service_fn(move |request: http::Request<Incoming>| {
                    let mut io = io.clone();
                    async move {
                        if request.uri().path().starts_with(io.path()) {
                            Ok::<_, Infallible>(io.call(request).await?.map(Either::Left))
                        } else {
                            Ok(http::Response::new(Either::Right(Full::new(Bytes::from_static(b"home")))))
                        }
                    }
                });
                let _ =
                    http1::Builder::new().serve_connection(TokioIo::new(stream), app).with_upgrades().await;
            });
        }
    });
    let answer = tokio::task::spawn_blocking(move || {
        let mut ws = raw::RawWs::connect(addr, "/socket.io/?EIO=4&transport=websocket").expect("handshake");
        let _open = ws.read();
        ws.send_text("40");
        let _connected = ws.read();
        ws.send_text(r#"421["ping"]"#);
        (ws.read(), raw::request(addr, "GET", "/", &[], b"").text())
    })
    .await
    .unwrap();
    assert_eq!(answer, (raw::WsRead::Text(r#"431["pong"]"#.into()), "home".to_owned()));
}
