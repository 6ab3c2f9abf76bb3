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
