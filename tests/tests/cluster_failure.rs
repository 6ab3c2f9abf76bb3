//! A server of a cluster whose Redis is unreachable: its own sockets are still reached and
//! the caller learns the cluster part failed; requests end at once with this server's part,
//! marked incomplete; when Redis comes (back), the adapter connects and subscribes by
//! itself, and closing the server closes them. A connection to Redis that falls silent is
//! noticed and replaced. A dynamic namespace that closes leaves nothing subscribed.

use std::time::Duration;

use futures_channel::mpsc;
use futures_util::StreamExt;
use interop_tests::example::free_port;
use interop_tests::proxy::CutProxy;
use interop_tests::redis::RedisServer;
use serde_json::Value;
use socketio_tokio::client::{ClientBuilder, ClientSocket};
use socketio_tokio::emitter::Emitter;
use socketio_tokio::server::{ClusterError, RedisAdapter, SocketIo};
use socketio_tokio::{Error, Transports};

/// `future`, or a panic after 10 s.
async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    interop_tests::wait::within::<socketio_tokio::Tokio, T>(Duration::from_secs(10), "awaited event", future)
        .await
}

#[test]
fn without_redis_local_sockets_are_reached_and_the_failure_reported_then_the_adapter_connects() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let port = free_port();
        let adapter = RedisAdapter::new(&format!("redis://127.0.0.1:{port}"))
            .unwrap()
            .requests_timeout(Duration::from_secs(30));
        let io = SocketIo::builder().adapter(adapter).build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(io.clone().serve(listener));

        let client: ClientSocket =
            ClientBuilder::new(&url).unwrap().transports(Transports::WebSocket).no_reconnection().build();
        let (messages_tx, mut messages) = mpsc::unbounded();
        client.on("msg", async move |_, message| drop(messages_tx.unbounded_send(message.args::<String>())));
        client.on("question", async |_, message| message.ack(&"yes"));
        let (connected_tx, mut connected) = mpsc::unbounded();
        client.on_connect(move |_, _| drop(connected_tx.unbounded_send(())));
        client.connect();
        within(connected.next()).await;

        // The broadcast reaches the local client, and says the rest failed.
        let sent = io.emit("msg", &"local only");
        assert!(matches!(sent, Err(Error::Cluster(ClusterError::Unreachable))), "{sent:?}");
        assert_eq!(within(messages.next()).await.unwrap().unwrap(), "local only");

        // Requests end at once (the timeout is 30 s) with the local part.
        assert_eq!(within(io.fetch_sockets()).await.len(), 1);
        let replies = within(io.server_side_emit_with_ack::<Value>("hello", &())).await.unwrap();
        assert!(replies.answers.is_empty() && replies.servers_missing && !replies.is_complete());
        let answers = within(io.emit_with_ack::<String>("question", &())).await.unwrap();
        assert_eq!(answers.answers, ["yes"]);
        assert!(answers.servers_missing, "the other servers' part is reported missing");
        assert_eq!(within(io.server_count()).await, 1);

        // Redis comes: the adapter connects and subscribes by itself.
        let redis = tokio::task::spawn_blocking(move || {
            let redis = RedisServer::start_on(port);
            redis.wait_for_servers("socket.io", 1);
            redis
        })
        .await
        .unwrap();
        io.emit("msg", &"clustered").unwrap();
        assert_eq!(within(messages.next()).await.unwrap().unwrap(), "clustered");
        let answers = within(io.emit_with_ack::<String>("question", &())).await.unwrap();
        assert!(answers.is_complete(), "{answers:?}");
        assert_eq!(within(io.server_count()).await, 1);

        // Closing the server closes its Redis connections.
        within(io.close()).await;
        tokio::task::spawn_blocking(move || redis.wait_for_servers("socket.io", 0)).await.unwrap();
    });
}

/// A server on its own port, in the cluster on `redis_url`; the server and its URL.
async fn clustered(redis_url: &str) -> (SocketIo, String) {
    let io = SocketIo::builder().adapter(RedisAdapter::new(redis_url).unwrap()).build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(io.clone().serve(listener));
    (io, url)
}

/// A client of `url` whose "msg" events arrive on the receiver.
async fn listener(url: &str) -> (ClientSocket, mpsc::UnboundedReceiver<String>) {
    let client: ClientSocket =
        ClientBuilder::new(url).unwrap().transports(Transports::WebSocket).no_reconnection().build();
    let (messages_tx, messages) = mpsc::unbounded();
    client.on("msg", async move |_, message| {
        drop(messages_tx.unbounded_send(message.args::<String>().unwrap()))
    });
    let (connected_tx, mut connected) = mpsc::unbounded();
    client.on_connect(move |_, _| drop(connected_tx.unbounded_send(())));
    client.connect();
    within(connected.next()).await;
    (client, messages)
}

/// A `redis-server`, and a proxy to it.
async fn redis_behind_a_proxy() -> (RedisServer, CutProxy) {
    let redis = tokio::task::spawn_blocking(RedisServer::start).await.unwrap();
    let proxy = CutProxy::start(std::net::SocketAddr::from(([127, 0, 0, 1], redis.port)));
    (redis, proxy)
}

/// `redis` once `servers` servers listen on it.
async fn with_servers(redis: RedisServer, servers: usize) -> RedisServer {
    tokio::task::spawn_blocking(move || {
        redis.wait_for_servers("socket.io", servers);
        redis
    })
    .await
    .unwrap()
}

/// Emits `text` from `from` every 100 ms until `to` receives it.
async fn until_received(from: &SocketIo, to: &mut mpsc::UnboundedReceiver<String>, text: &str) {
    let received = async {
        loop {
            let _ = from.emit("msg", &text);
            let wait = tokio::time::timeout(Duration::from_millis(100), to.next()).await;
            if wait.is_ok_and(|message| message.as_deref() == Some(text)) {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), received).await.unwrap_or_else(|_| panic!("no {text:?}"));
}

/// A partition leaves a server's connections to Redis open but silent: nothing says they
/// are lost. The server notices (by its pings: a reply is due within 10 s), connects again
/// and subscribes again, and broadcasts cross both ways again.
#[test]
fn a_silent_redis_connection_is_noticed_and_replaced() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let (redis, proxy) = redis_behind_a_proxy().await;
        let (behind_proxy, behind_proxy_url) = clustered(&format!("redis://{}", proxy.addr)).await;
        let (direct, direct_url) = clustered(&redis.url()).await;
        let redis = with_servers(redis, 2).await;
        let (_a, mut at_behind_proxy) = listener(&behind_proxy_url).await;
        let (_b, mut at_direct) = listener(&direct_url).await;
        until_received(&behind_proxy, &mut at_direct, "before, out").await;
        until_received(&direct, &mut at_behind_proxy, "before, in").await;

        proxy.silence();
        until_received(&behind_proxy, &mut at_direct, "after, out").await;
        until_received(&direct, &mut at_behind_proxy, "after, in").await;
        drop(redis);
    });
}

/// An emit of the emitter given up part-way (its future dropped while Redis does not
/// answer) leaves no half-used connection behind: the next one opens another.
#[test]
fn an_emitter_publication_given_up_leaves_no_half_used_connection() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let (redis, proxy) = redis_behind_a_proxy().await;
        let (_server, url) = clustered(&redis.url()).await;
        let redis = with_servers(redis, 1).await;
        let (_client, mut messages) = listener(&url).await;
        let emitter = Emitter::new(&format!("redis://{}", proxy.addr)).unwrap();
        within(emitter.emit("msg", &"one")).await.unwrap();
        assert_eq!(within(messages.next()).await.as_deref(), Some("one"));

        proxy.silence();
        let given_up = tokio::time::timeout(Duration::from_millis(300), emitter.emit("msg", &"lost")).await;
        assert!(given_up.is_err(), "Redis does not answer through the silenced connection");
        within(emitter.emit("msg", &"two")).await.unwrap();
        assert_eq!(within(messages.next()).await.as_deref(), Some("two"));
        drop(redis);
    });
}

/// How many pattern subscriptions Redis holds (`PUBSUB NUMPAT`).
fn patterns(redis: &RedisServer) -> usize {
    let lines = redis.command(&["PUBSUB", "NUMPAT"]).unwrap();
    lines.last().and_then(|line| line.strip_prefix(':')?.parse().ok()).unwrap()
}

#[test]
fn a_dynamic_namespace_is_left_on_redis_once_it_closes() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let redis = tokio::task::spawn_blocking(RedisServer::start).await.unwrap();
        let (io, url) = clustered(&redis.url()).await;
        io.dynamic_namespaces(|name| name.starts_with("/room-"));
        let redis = with_servers(redis, 1).await;
        let main_patterns = patterns(&redis);

        let (client, _) = listener(&format!("{url}/room-1")).await;
        let redis = tokio::task::spawn_blocking(move || {
            redis.wait_for_channel("socket.io-request#/room-1#", 1);
            redis
        })
        .await
        .unwrap();
        assert_eq!(patterns(&redis), main_patterns + 1);

        client.close();
        let redis = tokio::task::spawn_blocking(move || {
            redis.wait_for_channel("socket.io-request#/room-1#", 0);
            redis
        })
        .await
        .unwrap();
        assert_eq!(patterns(&redis), main_patterns, "its broadcast pattern is left too");
        assert_eq!(redis.subscribers("socket.io-request#/#"), 1, "the main namespace stays");
        assert_eq!(io.dynamic_namespace_count(), 0);
    });
}
