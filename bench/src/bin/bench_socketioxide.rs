//! The benchmark application on socketioxide, with the same handlers as `shared/app.rs`,
//! default settings, on hyper and one tokio thread.

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let (service, io) = SocketIo::new_svc();
    io.ns("/", async |socket: SocketRef| {
        socket.on("join", async |socket: SocketRef, ack: AckSender| {
            socket.join("bench");
            let _ = ack.send(&());
        });
        socket.on("fanout", async |socket: SocketRef, Data(tick): Data<Value>| {
            let _ = socket.to("bench").emit("tick", &tick).await;
        });
        socket.on("echo", async |Data(args): Data<Value>, ack: AckSender| {
            let _ = ack.send(&args);
        });
    });
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let _ =
                http1::Builder::new().serve_connection(TokioIo::new(stream), service).with_upgrades().await;
        });
    }
}
