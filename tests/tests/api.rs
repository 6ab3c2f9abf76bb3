//! The application API end to end, on real sockets: our server on tokio, our client on the
//! same runtime. What the interop suites cannot show: handlers that await, broadcasts that
//! ask for acks, hooks on broadcasts, binary inside typed data.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use socketio_tokio::Runtime;
use socketio_tokio::client::{ClientBuilder, ClientSocket};
use socketio_tokio::server::SocketIo;
use socketio_tokio::{AckResponses, Tokio, Transports};

/// A server on a free port, serving in the background; its URL.
async fn serve(io: &SocketIo) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(io.clone().serve(listener));
    url
}

/// A client of `url` over WebSocket, connected once `connect` is called.
fn client(url: &str) -> ClientSocket {
    ClientBuilder::new(url).unwrap().transports(Transports::WebSocket).no_reconnection().build()
}

/// Connects `socket` and waits for the CONNECT answer.
async fn connected(socket: &ClientSocket) {
    let (tx, mut rx) = mpsc::unbounded();
    socket.on_connect(move |_, _| drop(tx.unbounded_send(())));
    socket.connect();
    within(rx.next()).await;
}

/// `future`, or a panic after 10 s.
async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    interop_tests::wait::within::<socketio_tokio::Tokio, T>(Duration::from_secs(10), "awaited event", future)
        .await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn a_handler_that_waits_holds_up_no_other_socket() {
    runtime().block_on(async {
        let io = SocketIo::new();
        let gate: Arc<Mutex<Option<oneshot::Sender<()>>>> = Arc::default();
        let (waiting_tx, waiting) = oneshot::channel::<oneshot::Receiver<()>>();
        let waiting_tx = Arc::new(Mutex::new(Some(waiting_tx)));
        let opened = gate.clone();
        io.on_connection(async move |socket| {
            let (gate, waiting_tx) = (opened.clone(), waiting_tx.clone());
            // "wait" blocks until another socket sends "release".
            socket.on("wait", async move |socket, _| {
                let (tx, rx) = oneshot::channel();
                *gate.lock().unwrap() = Some(tx);
                let waiting = waiting_tx.lock().unwrap().take();
                if let Some(waiting) = waiting {
                    let (done_tx, done_rx) = oneshot::channel();
                    waiting.send(done_rx).ok();
                    rx.await.ok();
                    done_tx.send(()).ok();
                }
                socket.emit("released", &())
            });
            let gate = opened.clone();
            socket.on("release", async move |_, _| {
                if let Some(tx) = gate.lock().unwrap().take() {
                    tx.send(()).ok();
                }
            });
        });
        let url = serve(&io).await;
        let (first, second) = (client(&url), client(&url));
        let (released_tx, mut released) = mpsc::unbounded();
        first.on("released", async move |_, _| drop(released_tx.unbounded_send(())));
        connected(&first).await;
        connected(&second).await;
        first.emit("wait", &()).unwrap();
        let _done = within(waiting).await;
        // The first socket's handler is suspended; the second socket's still runs.
        second.emit("release", &()).unwrap();
        within(released.next()).await;
    });
}

#[test]
fn handlers_of_one_socket_start_in_the_order_of_its_events() {
    runtime().block_on(async {
        let io = SocketIo::new();
        let started: Arc<Mutex<Vec<u32>>> = Arc::default();
        let log = started.clone();
        io.on_connection(async move |socket| {
            let log = log.clone();
            socket.on("n", async move |socket, message| {
                let n: u32 = message.args()?;
                log.lock().unwrap().push(n);
                // Later handlers start while this one waits.
                Tokio::sleep_until(Instant::now() + Duration::from_millis(u64::from(50 - n))).await;
                if n == 49 {
                    socket.emit("done", &())?;
                }
                Ok(())
            });
        });
        let url = serve(&io).await;
        let socket = client(&url);
        let (done_tx, mut done) = mpsc::unbounded();
        socket.on("done", async move |_, _| drop(done_tx.unbounded_send(())));
        connected(&socket).await;
        for n in 0..50u32 {
            socket.emit("n", &n).unwrap();
        }
        within(done.next()).await;
        assert_eq!(*started.lock().unwrap(), (0..50).collect::<Vec<_>>());
    });
}

#[test]
fn a_broadcast_with_acks_collects_every_answer_and_counts_the_silent() {
    runtime().block_on(async {
        let io = SocketIo::new();
        io.on_connection(async |socket| socket.join("voters"));
        let url = serve(&io).await;
        let mut clients = Vec::new();
        for answer in [Some(true), Some(false), None] {
            let socket = client(&url);
            socket.on("vote", async move |_, message| match answer {
                Some(answer) => message.ack(&answer),
                None => Ok(()),
            });
            connected(&socket).await;
            clients.push(socket);
        }
        let votes: AckResponses<bool> =
            within(io.to("voters").timeout(Duration::from_millis(300)).emit_with_ack("vote", &1))
                .await
                .unwrap();
        let mut answers = votes.answers.clone();
        answers.sort();
        assert_eq!((answers, votes.missing, votes.malformed), (vec![false, true], 1, 0));
        // Nobody selected: resolves at once, empty.
        let none: AckResponses<bool> = within(io.to("nobody").emit_with_ack("vote", &1)).await.unwrap();
        assert_eq!((none.answers.len(), none.missing), (0, 0));
    });
}

/// What a connection handler does before its first `.await` is done when the client learns
/// it is connected, as in the reference: a broadcast to a room the handler joined reaches
/// the client, even when the handler works a while before it joins (the handler runs on
/// the dispatcher's task, the broadcast here).
#[test]
fn a_client_is_in_the_rooms_its_connection_handler_joined_once_it_is_connected() {
    runtime().block_on(async {
        let io = SocketIo::new();
        // A task the handler wakes: on tokio it takes the waking thread's next slot, so the
        // connection's writer, woken just before, may run on the other thread meanwhile.
        let (wake, mut woken) = mpsc::unbounded::<()>();
        tokio::spawn(async move { while woken.next().await.is_some() {} });
        io.on_connection(async move |socket| {
            drop(wake.unbounded_send(()));
            // Synchronous work, as a handler may do before its first `.await`.
            std::thread::sleep(Duration::from_millis(50));
            socket.join("room");
        });
        let url = serve(&io).await;
        for attempt in 0..3 {
            let socket = client(&url);
            let (tx, mut received) = mpsc::unbounded();
            socket.on("hi", async move |_, message| drop(tx.unbounded_send(message.args::<i32>())));
            connected(&socket).await;
            io.to("room").emit("hi", &attempt).unwrap();
            assert_eq!(within(received.next()).await.unwrap().unwrap(), attempt);
            socket.close();
        }
    });
}

/// As the reference's listeners: every connection handler and every handler of an event
/// runs, in the order they were added; the first ack sent is the answer; `off` removes an
/// event's handlers. On the server and on the client.
#[test]
fn several_handlers_of_one_name_all_run_in_order_and_the_first_ack_answers() {
    runtime().block_on(async {
        let io = SocketIo::new();
        let (ran, mut server_ran) = mpsc::unbounded::<&'static str>();
        for (room, answer) in [("first", "one"), ("second", "two")] {
            let ran = ran.clone();
            io.on_connection(async move |socket| {
                socket.join(room);
                let gone = ran.clone();
                socket.on("ping", async move |_, message| {
                    drop(ran.unbounded_send(answer));
                    message.ack(&answer)
                });
                socket.on("gone", async move |_, _| drop(gone.unbounded_send("gone")));
                socket.off("gone");
            });
        }
        let url = serve(&io).await;
        let socket = client(&url);
        let (got, mut client_got) = mpsc::unbounded::<(&'static str, i32)>();
        for name in ["a", "b"] {
            let got = got.clone();
            socket.on("pong", async move |_, message| {
                drop(got.unbounded_send((name, message.args().unwrap())))
            });
        }
        connected(&socket).await;

        // Both connection handlers joined their room before the client learned it was connected.
        io.to("second").emit("pong", &2).unwrap();
        io.to("first").emit("pong", &1).unwrap();
        let mut received = Vec::new();
        for _ in 0..4 {
            received.push(within(client_got.next()).await.unwrap());
        }
        assert_eq!(received, [("a", 2), ("b", 2), ("a", 1), ("b", 1)]);

        socket.emit("gone", &()).unwrap();
        let answer: String = within(socket.emit_with_ack("ping", &())).await.unwrap();
        assert_eq!(answer, "one");
        assert_eq!(
            [within(server_ran.next()).await, within(server_ran.next()).await],
            [Some("one"), Some("two")]
        );

        socket.off("pong");
        io.to("first").emit("pong", &3).unwrap();
        let answer: String = within(socket.emit_with_ack("ping", &())).await.unwrap();
        assert_eq!(answer, "one");
        assert!(client_got.try_recv().is_err(), "a client handler removed with off ran");
        socket.close();
    });
}

/// The reference's `socket.data.user = ...` in a middleware: what one middleware stores,
/// the next reads and the socket has once connected; a refused connection leaves nothing.
#[test]
fn a_middleware_leaves_the_socket_its_data() {
    runtime().block_on(async {
        let io = SocketIo::new();
        io.of("/").use_middleware(async |request| {
            let auth: std::collections::HashMap<String, String> = request.auth().unwrap_or_default();
            match auth.get("name") {
                Some(name) => request.set_data(name.clone()),
                None => return Err(socketio_tokio::server::ConnectError::new("who are you?")),
            }
            Ok(())
        });
        io.of("/").use_middleware(async |request| {
            let name: String = request.data().unwrap();
            request.set_data(format!("{name}!"));
            Ok(())
        });
        io.on_connection(async |socket| socket.emit("you are", &socket.data::<String>()));
        let url = serve(&io).await;
        let socket = ClientBuilder::new(&url)
            .unwrap()
            .transports(Transports::WebSocket)
            .no_reconnection()
            .auth(&serde_json::json!({ "name": "ada" }))
            .unwrap()
            .build();
        let (tx, mut you_are) = mpsc::unbounded();
        socket.on("you are", async move |_, message| drop(tx.unbounded_send(message.args::<String>())));
        connected(&socket).await;
        assert_eq!(within(you_are.next()).await.unwrap().unwrap(), "ada!");
        let sockets = io.fetch_sockets().await;
        assert_eq!(sockets.iter().map(|s| s.data::<String>()).collect::<Vec<_>>(), [Some("ada!".to_owned())]);
        socket.close();
    });
}

/// As the reference's `socket.connect()` reopens its manager: a client closed for good
/// (`close()`, or reconnection giving up) connects again through the same handle, its
/// handlers in place and with the auth set last.
#[test]
fn a_closed_client_connects_again_through_its_handle() {
    runtime().block_on(async {
        let io = SocketIo::new();
        io.on_connection(async |socket| socket.emit("auth", &(socket.auth::<serde_json::Value>().unwrap(),)));
        let url = serve(&io).await;
        let socket = client(&url);
        let (tx, mut auths) = mpsc::unbounded();
        socket
            .on("auth", async move |_, message| drop(tx.unbounded_send(message.args::<serde_json::Value>())));
        let (down, mut disconnected) = mpsc::unbounded();
        socket.on_disconnect(move |_, _| drop(down.unbounded_send(())));

        connected(&socket).await;
        assert_eq!(within(auths.next()).await.unwrap().unwrap(), serde_json::Value::Null);
        socket.close();
        within(disconnected.next()).await;
        // The task is gone: what is not a connect fails until one comes.
        within(async {
            while socket.emit("lost", &()).is_ok() {
                Tokio::sleep_until(Instant::now() + Duration::from_millis(5)).await;
            }
        })
        .await;

        // Outside the runtime a closed client cannot start again: refused, not a panic.
        let elsewhere = socket.clone();
        std::thread::spawn(move || elsewhere.connect()).join().expect("connect outside the runtime panicked");

        socket.set_auth(&serde_json::json!({ "round": 2 })).unwrap();
        connected(&socket).await;
        assert_eq!(within(auths.next()).await.unwrap().unwrap(), serde_json::json!({ "round": 2 }));
        socket.close();
    });
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Upload {
    name: String,
    data: Bytes,
}

#[test]
fn binary_inside_typed_data_crosses_the_wire_both_ways() {
    runtime().block_on(async {
        let io = SocketIo::new();
        io.on_connection(async |socket| {
            socket.on("upload", async |_, message| {
                let upload: Upload = message.args()?;
                message.ack(&Upload { name: upload.name.to_uppercase(), data: upload.data })
            });
        });
        let url = serve(&io).await;
        let socket = client(&url);
        connected(&socket).await;
        let sent = Upload { name: "file".into(), data: Bytes::from_static(&[0, 1, 2, 255]) };
        let back: Upload = within(socket.emit_with_ack("upload", &sent)).await.unwrap();
        assert_eq!(back, Upload { name: "FILE".into(), data: sent.data });
    });
}

#[test]
fn outgoing_hooks_see_broadcasts_and_data_travels_with_fetched_sockets() {
    runtime().block_on(async {
        let io = SocketIo::new();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = seen.clone();
        io.on_connection(async move |socket| {
            socket.set_data(String::from("alice"));
            assert_eq!(socket.data::<String>().as_deref(), Some("alice"));
            let log = log.clone();
            socket.on_any_outgoing(move |_, payload| log.lock().unwrap().push(payload.json().to_string()));
        });
        let url = serve(&io).await;
        let socket = client(&url);
        let (news_tx, mut news) = mpsc::unbounded();
        socket.on("news", async move |_, message| drop(news_tx.unbounded_send(message.args::<String>())));
        connected(&socket).await;
        io.emit("news", &"hello").unwrap();
        assert_eq!(within(news.next()).await.unwrap().unwrap(), "hello");
        assert_eq!(*seen.lock().unwrap(), [r#"["news","hello"]"#]);
        let fetched = io.fetch_sockets().await;
        assert_eq!(fetched.len(), 1);
        assert_eq!(fetched[0].data::<String>().as_deref(), Some("alice"));
        assert_eq!(fetched[0].rooms(), [socketio_tokio::server::Room::from(fetched[0].id())]);
        fetched[0].emit("news", &"direct").unwrap();
        assert_eq!(within(news.next()).await.unwrap().unwrap(), "direct");
        fetched[0].join("joined");
        assert_eq!(io.to("joined").fetch_sockets().await.len(), 1);
        let local = fetched[0].local().expect("a socket of this server");
        assert!(local.rooms().contains(&"joined".into()));
    });
}

#[test]
fn the_url_path_is_the_namespace_and_query_values_arrive_decoded() {
    runtime().block_on(async {
        let io = SocketIo::new();
        io.of("admin").on_connection(async |socket| {
            let query = (socket.handshake().query("v"), socket.handshake().query("name"));
            socket.emit("query", &query)
        });
        let url = serve(&io).await;
        let socket = ClientBuilder::new(&format!("{url}/admin?v=1"))
            .unwrap()
            .query("name", "Zoë & co=1")
            .transports(Transports::Polling)
            .no_reconnection()
            .build();
        assert_eq!(socket.namespace().as_str(), "/admin");
        let (tx, mut rx) = mpsc::unbounded();
        socket
            .on("query", async move |_, message| drop(tx.unbounded_send(message.args::<(String, String)>())));
        socket.connect();
        let query = within(rx.next()).await.unwrap().unwrap();
        assert_eq!(query, ("1".to_owned(), "Zoë & co=1".to_owned()));
        assert!(matches!(
            ClientBuilder::new("ftp://example.com"),
            Err(socketio_tokio::Error::Url(socketio_tokio::client::UrlError::UnsupportedScheme(_)))
        ));
    });
}

#[test]
fn a_message_over_the_client_limit_fails_the_connection() {
    runtime().block_on(async {
        let io = SocketIo::new();
        io.on_connection(async |socket| socket.emit("big", &"x".repeat(10_000)));
        let url = serve(&io).await;
        for transports in [Transports::WebSocket, Transports::Polling] {
            let socket = ClientBuilder::new(&url)
                .unwrap()
                .transports(transports)
                .max_message_size(1_000)
                .no_reconnection()
                .build();
            let (tx, mut rx) = mpsc::unbounded();
            let big = tx.clone();
            socket.on("big", async move |_, _| drop(big.unbounded_send("received".to_owned())));
            let failed = tx.clone();
            socket.on_connect_error(move |_, error| drop(failed.unbounded_send(error.message())));
            socket.on_disconnect(move |_, reason| drop(tx.unbounded_send(reason.to_string())));
            socket.connect();
            let what = within(rx.next()).await.unwrap();
            assert!(what.starts_with("transport error"), "{transports:?}: {what}");
        }
    });
}

#[test]
fn dropped_ack_futures_leave_nothing_behind() {
    runtime().block_on(async {
        let io = SocketIo::new();
        let url = serve(&io).await;
        // The client has no handler for "question": it never answers.
        let socket = client(&url);
        connected(&socket).await;
        let server_socket = io.fetch_sockets().await.remove(0).local().cloned().unwrap();
        assert_eq!(io.awaited_acks(), 0);
        let waits: Vec<_> = (0..100)
            .map(|n| server_socket.timeout(Duration::from_secs(60)).emit_with_ack::<()>("question", &n))
            .collect();
        let broadcast = io.timeout(Duration::from_secs(60)).emit_with_ack::<()>("question", &"all");
        assert_eq!(io.awaited_acks(), 101);
        drop(waits);
        drop(broadcast);
        assert_eq!(io.awaited_acks(), 0, "dropped waits are forgotten at once");
        // An answered wait leaves nothing either.
        let echo = SocketIo::new();
        let url = serve(&echo).await;
        let socket = client(&url);
        socket.on("ping", async |_, message| message.ack(&"pong"));
        connected(&socket).await;
        let peer = echo.fetch_sockets().await.remove(0);
        let answer =
            peer.local().unwrap().timeout(Duration::from_secs(5)).emit_with_ack::<String>("ping", &()).await;
        assert_eq!(answer.unwrap(), "pong");
        assert_eq!(echo.awaited_acks(), 0);
    });
}

#[test]
fn application_panics_end_only_themselves() {
    runtime().block_on(async {
        let io = SocketIo::new();
        io.dynamic_namespaces(|name| if name == "/boom" { panic!("predicate") } else { name == "/fine" });
        io.of("mw").use_middleware(async |_| -> Result<(), socketio_tokio::server::ConnectError> {
            panic!("middleware")
        });
        io.on_connection(async |socket| {
            socket.on_any(|_, message| assert_ne!(&*message.name(), "explode", "hook panics"));
            socket.on_any_outgoing(|_, payload| assert!(!payload.json().contains("explode"), "hook panics"));
            socket.on("echo", async |_, message| message.ack(&message.raw_args()));
        });
        // A handler that is a plain closure panicking before it returns its future.
        io.of("/sync").on_connection(|_| -> std::future::Ready<()> { panic!("connection handler") });
        let url = serve(&io).await;
        let main = client(&url);
        let sync = main.socket("/sync").unwrap();
        connected(&sync).await;
        let (errors_tx, mut errors) = mpsc::unbounded();
        for namespace in ["/boom", "/mw"] {
            let refused = main.socket(namespace).unwrap();
            let errors_tx = errors_tx.clone();
            refused.on_connect_error(move |socket, error| {
                drop(errors_tx.unbounded_send((socket.namespace().to_string(), error.message())));
            });
            refused.connect();
        }
        let mut refusals = vec![within(errors.next()).await.unwrap(), within(errors.next()).await.unwrap()];
        refusals.sort();
        assert_eq!(
            refusals,
            [
                ("/boom".to_owned(), "Invalid namespace".to_owned()),
                ("/mw".to_owned(), "server error".to_owned())
            ]
        );
        connected(&main).await;
        main.emit("explode", &()).unwrap();
        io.emit("explode", &()).unwrap();
        let echoed =
            main.timeout(Duration::from_secs(5)).emit_with_ack::<String>("echo", &"still here").await;
        assert_eq!(echoed.unwrap(), "still here");
        let fine = main.socket("/fine").unwrap();
        connected(&fine).await;
        let another = client(&url);
        connected(&another).await;
    });
}

#[test]
fn close_flushes_then_disconnects_and_clients_reconnect_to_the_next_server() {
    for transports in [Transports::Polling, Transports::WebSocket, Transports::PollingAndWebSocket] {
        runtime().block_on(close_then_reconnect(transports));
    }
}

/// One client on `transports` through a close and a reconnection to the next server.
async fn close_then_reconnect(transports: Transports) {
    let first = SocketIo::new();
    let (gone_tx, mut gone) = mpsc::unbounded();
    first.on_connection(async move |socket| {
        let gone_tx = gone_tx.clone();
        socket.on_disconnect(async move |_, reason| drop(gone_tx.unbounded_send(reason.to_string())));
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = tokio::spawn(first.clone().serve(listener));
    // An auth provider that panics when asked again: the reconnection keeps the last auth.
    let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let asked = calls.clone();
    let socket = ClientBuilder::new(&format!("http://{addr}"))
        .unwrap()
        .reconnection_delay(Duration::from_millis(20))
        .reconnection_delay_max(Duration::from_millis(50))
        .transports(transports)
        .auth_with(move || {
            assert_eq!(calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst), 0, "auth provider");
            std::collections::HashMap::from([("token", "t")])
        })
        .build();
    let (seen_tx, mut seen) = mpsc::unbounded::<String>();
    let tx = seen_tx.clone();
    socket.on("n", async move |_, message| {
        drop(tx.unbounded_send(format!("n {}", message.args::<u32>().unwrap())))
    });
    let tx = seen_tx.clone();
    socket.on("hello", async move |_, message| drop(tx.unbounded_send(message.args::<String>().unwrap())));
    let tx = seen_tx.clone();
    socket.on_disconnect(move |_, reason| drop(tx.unbounded_send(format!("disconnect: {reason}"))));
    let tx = seen_tx.clone();
    socket.on_connect(move |_, _| drop(tx.unbounded_send("connect".into())));
    socket.connect();
    assert_eq!(within(seen.next()).await.unwrap(), "connect");
    // Everything queued before the close reaches the client, then the close.
    let target = first.fetch_sockets().await.remove(0);
    for n in 0..50u32 {
        target.emit("n", &n).unwrap();
    }
    within(first.close()).await;
    assert!(within(served).await.unwrap().is_ok(), "the listener returned");
    for n in 0..50u32 {
        assert_eq!(within(seen.next()).await.unwrap(), format!("n {n}"), "{transports:?}");
    }
    assert_eq!(within(seen.next()).await.unwrap(), "disconnect: transport close");
    assert_eq!(within(gone.next()).await.unwrap(), "server shutting down");
    // A second server takes the port; the client reconnects to it by itself.
    let second = SocketIo::new();
    second.on_connection(async |socket| {
        let auth = socket
            .auth::<std::collections::HashMap<String, String>>()
            .ok()
            .and_then(|auth| auth.get("token").cloned());
        socket.emit("hello", &format!("from the second server, auth {auth:?}"))
    });
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(second.clone().serve(listener));
    assert_eq!(within(seen.next()).await.unwrap(), "connect");
    assert_eq!(within(seen.next()).await.unwrap(), r#"from the second server, auth Some("t")"#);
    assert!(
        asked.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        "the provider was asked again, and panicked"
    );
    socket.close();
}

/// A long-poll is held by the server until it has something to send: a ping, every
/// `pingInterval` at the latest. A client whose request timeout is shorter than that still
/// keeps an idle polling session (the poll may take `pingInterval + pingTimeout`).
#[test]
fn an_idle_polling_session_outlives_a_request_timeout_shorter_than_the_ping_interval() {
    runtime().block_on(async {
        let io = SocketIo::builder()
            .ping_interval(Duration::from_millis(1500))
            .ping_timeout(Duration::from_millis(1000))
            .build();
        // Idle for two ping intervals, then a message.
        io.on_connection(async |socket| {
            tokio::time::sleep(Duration::from_millis(3200)).await;
            socket.emit("late", &()).unwrap();
        });
        let url = serve(&io).await;
        let socket = ClientBuilder::new(&url)
            .unwrap()
            .transports(Transports::Polling)
            .timeout(Duration::from_millis(500))
            .no_reconnection()
            .build();
        let (tx, mut rx) = mpsc::unbounded();
        let late = tx.clone();
        socket.on("late", async move |_, _| drop(late.unbounded_send("late".to_owned())));
        socket.on_disconnect(move |_, reason| drop(tx.unbounded_send(reason.to_string())));
        socket.connect();
        assert_eq!(within(rx.next()).await.as_deref(), Some("late"));
        socket.close();
    });
}

/// `socket.id` and `socket.connected` follow the connection, and every failed reconnection
/// attempt is reported before the attempts run out (`reconnect_error`, `reconnect_failed`);
/// a client that gave up connects when asked again.
#[test]
fn a_client_socket_knows_its_id_while_connected_and_reports_failed_attempts() {
    runtime().block_on(async {
        let io = SocketIo::new();
        let url = serve(&io).await;
        let socket = client(&url);
        assert_eq!((socket.id(), socket.connected()), (None, false));
        let (gone_tx, mut gone) = mpsc::unbounded();
        socket.on_disconnect(move |_, _| drop(gone_tx.unbounded_send(())));
        connected(&socket).await;
        let server_side = io.fetch_sockets().await.remove(0);
        assert_eq!(socket.id().as_deref(), Some(server_side.id()));
        assert!(socket.connected());
        server_side.disconnect();
        within(gone.next()).await;
        assert_eq!((socket.id(), socket.connected()), (None, false));

        // Nothing listens: the first try and two attempts fail.
        let port = interop_tests::example::free_port();
        let lonely = ClientBuilder::new(&format!("http://127.0.0.1:{port}"))
            .unwrap()
            .reconnection_attempts(2)
            .reconnection_delay(Duration::from_millis(10))
            .reconnection_delay_max(Duration::from_millis(20))
            .build();
        let (tx, mut events) = mpsc::unbounded::<String>();
        let failed = tx.clone();
        lonely.on_reconnect_error(move |reason| drop(failed.unbounded_send(format!("error: {reason}"))));
        lonely.on_reconnect_failed(move |_| drop(tx.unbounded_send("failed".into())));
        lonely.connect();
        let mut seen = Vec::new();
        while seen.last().map(String::as_str) != Some("failed") {
            seen.push(within(events.next()).await.unwrap());
        }
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(seen[0].starts_with("error: transport error") && seen[1].starts_with("error: "), "{seen:?}");

        // Given up, it connects when asked again, once a server listens there.
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        tokio::spawn(io.clone().serve(listener));
        connected(&lonely).await;
        assert!(lonely.connected());
        lonely.close();
    });
}

/// The auth of a CONNECT is the one set last (`set_auth`), or the provider's answer asked
/// anew for each CONNECT (`auth_with`), as the reference calls its auth function.
#[test]
fn each_connect_sends_the_auth_set_last_or_asked_anew() {
    runtime().block_on(async {
        let io = SocketIo::new();
        io.on_connection(async |socket| socket.emit("auth", &(socket.auth::<serde_json::Value>().unwrap(),)));
        io.of("/admin")
            .on_connection(async |socket| socket.emit("auth", &socket.auth::<serde_json::Value>().unwrap()));
        let url = serve(&io).await;
        // The auths a socket's CONNECTs carried, and its disconnections.
        let listen = |socket: &ClientSocket| {
            let (tx, auths) = mpsc::unbounded::<serde_json::Value>();
            socket.on("auth", async move |_, message| drop(tx.unbounded_send(message.args().unwrap())));
            let (gone_tx, gone) = mpsc::unbounded::<()>();
            socket.on_disconnect(move |_, _| drop(gone_tx.unbounded_send(())));
            (auths, gone)
        };

        let set =
            ClientBuilder::new(&url).unwrap().auth(&serde_json::json!({ "token": "one" })).unwrap().build();
        let (mut auths, mut gone) = listen(&set);
        set.connect();
        assert_eq!(within(auths.next()).await.unwrap(), serde_json::json!({ "token": "one" }));
        set.set_auth(&serde_json::json!({ "token": "two" })).unwrap();
        set.disconnect();
        within(gone.next()).await;
        set.connect();
        assert_eq!(within(auths.next()).await.unwrap(), serde_json::json!({ "token": "two" }));
        // A handle given its own auth sends that one.
        set.disconnect();
        within(gone.next()).await;
        set.socket("/").unwrap().with_auth(&serde_json::json!({ "token": "three" })).unwrap().connect();
        assert_eq!(within(auths.next()).await.unwrap(), serde_json::json!({ "token": "three" }));
        set.close();

        let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = calls.clone();
        let asked = ClientBuilder::new(&url)
            .unwrap()
            .auth_with(
                move || serde_json::json!({ "n": counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) }),
            )
            .build();
        let (mut auths, mut gone) = listen(&asked);
        asked.connect();
        assert_eq!(within(auths.next()).await.unwrap(), serde_json::json!({ "n": 0 }));
        asked.disconnect();
        within(gone.next()).await;
        asked.connect();
        assert_eq!(within(auths.next()).await.unwrap(), serde_json::json!({ "n": 1 }));
        asked.close();

        // The provider computes the auth of the URL's namespace.
        let admin = ClientBuilder::new(&format!("{url}/admin"))
            .unwrap()
            .auth_with(|| serde_json::json!({ "role": "ops" }))
            .build();
        let (mut auths, _) = listen(&admin);
        admin.connect();
        assert_eq!(within(auths.next()).await.unwrap(), serde_json::json!({ "role": "ops" }));
        admin.close();
    });
}

/// `ack_timeout` bounds an `emit_with_ack` whose socket sets no timeout of its own; a
/// socket's own timeout wins.
#[test]
fn a_default_ack_timeout_bounds_every_emit_with_ack() {
    runtime().block_on(async {
        let io = SocketIo::new();
        io.on_connection(async |socket| {
            socket.on("silent", async |_, _| {});
            socket.on("slow", async |_, message| {
                tokio::time::sleep(Duration::from_millis(300)).await;
                message.ack(&"late")
            });
        });
        let url = serve(&io).await;
        let socket = ClientBuilder::new(&url)
            .unwrap()
            .transports(Transports::WebSocket)
            .ack_timeout(Duration::from_millis(100))
            .build();
        connected(&socket).await;
        let answer = within(socket.emit_with_ack::<()>("silent", &())).await;
        assert_eq!(answer.unwrap_err().to_string(), "operation has timed out");
        let answer =
            within(socket.timeout(Duration::from_secs(5)).emit_with_ack::<String>("slow", &())).await;
        assert_eq!(answer.unwrap(), "late", "the socket's own timeout, not the default");
        socket.close();
    });
}

#[test]
fn dynamic_namespaces_are_bounded_per_client_and_forgotten_once_empty() {
    runtime().block_on(async {
        let io = SocketIo::builder().max_namespaces(5).build();
        let (left_tx, mut left) = mpsc::unbounded();
        io.dynamic_namespaces(|name| name.starts_with("/room-")).on_connection(async move |socket| {
            let left = left_tx.clone();
            socket.on_disconnect(async move |_, _| drop(left.unbounded_send(())));
        });
        let url = serve(&io).await;
        let main = client(&url);
        connected(&main).await;
        let mut rooms = Vec::new();
        for n in 0..4 {
            let room = main.socket(&format!("/room-{n}")).unwrap();
            connected(&room).await;
            rooms.push(room);
        }
        assert_eq!(io.dynamic_namespace_count(), 4);

        // A sixth namespace on the same connection is refused; the connection stays.
        let extra = main.socket("/room-4").unwrap();
        let (refused_tx, mut refused) = mpsc::unbounded();
        extra.on_connect_error(move |_, error| drop(refused_tx.unbounded_send(error.message().to_owned())));
        extra.connect();
        assert_eq!(within(refused.next()).await.unwrap(), "Too many namespaces");
        assert_eq!(io.socket_count(), 5);
        assert_eq!(io.client_count(), 1, "five sockets over one connection");

        // Each namespace is forgotten as its last socket leaves.
        for room in &rooms {
            room.disconnect();
            within(left.next()).await;
        }
        assert_eq!(io.dynamic_namespace_count(), 0);
        assert_eq!(io.socket_count(), 1);
        // And may be opened again.
        let again = main.socket("/room-0").unwrap();
        connected(&again).await;
        assert_eq!(io.dynamic_namespace_count(), 1);
        main.close();
    });
}

#[test]
fn a_client_flooding_events_is_read_only_as_fast_as_its_handlers_finish() {
    runtime().block_on(async {
        flood_held_back(Transports::WebSocket).await;
        flood_held_back(Transports::Polling).await;
    });
}

/// A client sends 20 000 events while their handlers wait on a gate: the server stops
/// reading it once the handlers hold `max_unhandled_bytes`, serves another client
/// meanwhile, and once the gate opens every event is handled, in order.
async fn flood_held_back(transports: Transports) {
    use futures_util::FutureExt as _;
    const EVENTS: usize = 20_000;
    // About 270 bytes per held event: pauses after about 370.
    let io = SocketIo::builder().max_unhandled_bytes(100_000).build();
    let (open_gate, gate) = oneshot::channel::<()>();
    let gate = gate.shared();
    let (started_tx, mut started) = mpsc::unbounded::<usize>();
    let handled: Arc<Mutex<Vec<usize>>> = Arc::default();
    let (all_tx, mut all) = mpsc::unbounded::<()>();
    let seen = handled.clone();
    io.on_connection(async move |socket| {
        let (gate, started, seen, all) = (gate.clone(), started_tx.clone(), seen.clone(), all_tx.clone());
        socket.on("flood", async move |_, message| {
            let n: usize = message.args().unwrap();
            let _ = started.unbounded_send(n);
            let _ = gate.await;
            let mut seen = seen.lock().unwrap();
            seen.push(n);
            if seen.len() == EVENTS {
                let _ = all.unbounded_send(());
            }
        });
        socket.on("echo", async |_, message| message.ack(&"back"));
    });
    let url = serve(&io).await;
    let flooder = ClientBuilder::new(&url).unwrap().transports(transports).no_reconnection().build();
    connected(&flooder).await;
    for n in 0..EVENTS {
        flooder.emit("flood", &n).unwrap();
    }
    let mut order = Vec::new();
    while order.len() < 300 {
        order.push(within(started.next()).await.unwrap());
    }
    // Another client is served while the flooder waits.
    let healthy = client(&url);
    connected(&healthy).await;
    for _ in 0..20 {
        let echo = within(healthy.timeout(Duration::from_secs(5)).emit_with_ack::<String>("echo", &())).await;
        assert_eq!(echo.unwrap(), "back");
    }
    while let Ok(n) = started.try_recv() {
        order.push(n);
    }
    let count = order.len();
    assert!(count < 450, "{count} events taken from a client whose handlers hold 100 kB ({transports:?})");
    assert_eq!(order, (0..count).collect::<Vec<_>>(), "started in order");

    let _ = open_gate.send(());
    within(all.next()).await;
    let mut handled = handled.lock().unwrap().clone();
    handled.sort_unstable();
    assert_eq!(handled, (0..EVENTS).collect::<Vec<_>>(), "none lost");
    flooder.close();
    healthy.close();
}

#[test]
fn a_client_s_dropped_or_answered_ack_futures_leave_nothing_behind() {
    runtime().block_on(async {
        let io = SocketIo::new();
        io.on_connection(async |socket| {
            // "question" goes unanswered; "ping" is answered.
            socket.on("ping", async |_, message| message.ack(&"pong"));
        });
        let url = serve(&io).await;
        let socket = client(&url);
        connected(&socket).await;
        let waits: Vec<_> = (0..100)
            .map(|n| socket.timeout(Duration::from_secs(60)).emit_with_ack::<()>("question", &n))
            .collect();
        assert_eq!(socket.awaited_acks().await, 100);
        drop(waits);
        assert_eq!(socket.awaited_acks().await, 0, "dropped waits are forgotten");
        let answer =
            within(socket.timeout(Duration::from_secs(5)).emit_with_ack::<String>("ping", &())).await;
        assert_eq!(answer.unwrap(), "pong");
        assert_eq!(socket.awaited_acks().await, 0, "an answered wait leaves nothing");
        socket.close();
        assert_eq!(socket.awaited_acks().await, 0);
    });
}
