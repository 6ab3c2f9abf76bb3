//! TLS end to end, with a CA and a certificate made at test time: our server serving TLS
//! on both runtimes, our client and the official client trusting the test CA (added in
//! code, or named by `SSL_CERT_FILE` for both runtimes' shipped chat client), a client that
//! does not trust it refused, and nothing sent in clear text to an `https` URL.

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use futures_channel::mpsc;
use futures_util::StreamExt;
use interop_tests::node;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use serde_json::{Value, json};
use socketio_tokio::client::ClientBuilder;
use socketio_tokio::server::SocketIo;
use socketio_tokio::{ServerTls, Transports};

/// A CA, and a certificate it signed for `localhost` and `127.0.0.1`, with its key.
struct TestPki {
    ca: String,
    cert: String,
    key: String,
}

fn pki() -> TestPki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "socketio test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    // OpenSSL takes a certificate whose subject is its issuer's for a self-signed one.
    leaf_params.distinguished_name.push(DnType::CommonName, "localhost");
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    TestPki { ca: ca.pem(), cert: leaf.pem(), key: leaf_key.serialize_pem() }
}

/// `future`, or a panic after 10 s.
async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    interop_tests::wait::within::<socketio_tokio::Tokio, T>(Duration::from_secs(10), "awaited event", future)
        .await
}

/// A TLS server with an "echo" event on `runtime`, on a free port; the port.
fn start_tls_server(runtime: &str, pki: &TestPki) -> u16 {
    let tls = ServerTls::from_pem(pki.cert.as_bytes(), pki.key.as_bytes()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    match runtime {
        "tokio" => {
            let io = SocketIo::builder().tls(tls).build();
            io.on_connection(async |socket| {
                socket.on("echo", async |_, message| message.ack(&message.raw_args()));
                socket.on("secure", async |socket, message| message.ack(&socket.handshake().secure));
            });
            tokio::spawn(io.serve(tokio::net::TcpListener::from_std(listener).unwrap()));
        }
        _ => {
            std::thread::spawn(move || {
                smol::block_on(async {
                    let io = socketio_smol::server::SocketIo::builder().tls(tls).build();
                    io.on_connection(async |socket| {
                        socket.on("echo", async |_, message| message.ack(&message.raw_args()));
                        socket.on("secure", async |socket, message| message.ack(&socket.handshake().secure));
                    });
                    let listener = smol::net::TcpListener::try_from(listener).unwrap();
                    io.serve(listener).await
                })
            });
        }
    }
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_talk_to_a_tls_server_only_when_they_trust_it() {
    let pki = pki();
    for runtime in ["tokio", "smol"] {
        let port = start_tls_server(runtime, &pki);
        talk_over_tls(port, &pki).await;
    }
}

/// Our client and the official one against the TLS server on `port`.
async fn talk_over_tls(port: u16, pki: &TestPki) {
    // Ours, trusting the test CA, on each transport and by name and by address.
    for (host, transports) in [("localhost", Transports::Polling), ("127.0.0.1", Transports::WebSocket)] {
        let socket = ClientBuilder::new(&format!("https://{host}:{port}"))
            .unwrap()
            .add_root_certificates(pki.ca.as_bytes())
            .unwrap()
            .transports(transports)
            .no_reconnection()
            .build();
        socket.connect();
        let echoed =
            within(socket.timeout(Duration::from_secs(5)).emit_with_ack::<String>("echo", &"secret")).await;
        assert_eq!(echoed.unwrap(), "secret", "{host} {transports:?}");
        let secure =
            within(socket.timeout(Duration::from_secs(5)).emit_with_ack::<bool>("secure", &())).await;
        assert!(secure.unwrap(), "the server knows the session came over TLS");
        socket.close();
    }

    // One that does not trust it never connects.
    let untrusting =
        ClientBuilder::new(&format!("https://localhost:{port}")).unwrap().no_reconnection().build();
    let (tx, mut errors) = mpsc::unbounded();
    untrusting.on_connect_error(move |_, error| drop(tx.unbounded_send(error.message())));
    untrusting.connect();
    let error = within(errors.next()).await.unwrap();
    assert!(error.starts_with("transport error"), "{error}");

    // The official client, trusting the test CA.
    let ca_file = std::env::temp_dir().join(format!("socketio-test-ca-{port}.pem"));
    std::fs::write(&ca_file, &pki.ca).unwrap();
    let url = format!("https://localhost:{port}");
    let ca_path = ca_file.to_string_lossy().into_owned();
    let output = tokio::task::spawn_blocking(move || {
        node::run_script_with_args("tls-client.js", &[&url, &ca_path], b"")
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(&ca_file);
    let report: Value = serde_json::from_slice(&output).expect("a JSON report");
    assert_eq!(report, json!({ "polling": "over tls", "websocket": "over tls" }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_url_sends_nothing_in_clear_text() {
    // A plain TCP listener records what the client sends first.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let first_bytes = tokio::task::spawn_blocking(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut head = [0u8; 3];
        stream.read_exact(&mut head).unwrap();
        head
    });
    let socket = ClientBuilder::new(&format!("https://127.0.0.1:{port}"))
        .unwrap()
        .header(http::header::AUTHORIZATION, http::HeaderValue::from_static("Bearer token"))
        .no_reconnection()
        .build();
    socket.connect();
    let head = within(first_bytes).await.unwrap();
    // A TLS handshake record (22, version 3.x), not "GET".
    assert_eq!(head[..2], [0x16, 0x03], "{head:?}");
    socket.close();
}

/// The `client_chat` example of `runtime` run against `url` with `SSL_CERT_FILE` naming
/// `ca_file`: its stdout and stderr lines, and the process.
fn chat_client(
    runtime: &str,
    url: &str,
    ca_file: &std::path::Path,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut client =
        std::process::Command::new(interop_tests::example::example_binary(runtime, "client_chat"))
            .arg(url)
            .env("SSL_CERT_FILE", ca_file)
            .env_remove("SSL_CERT_DIR")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting client_chat");
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = client.stdout.take().expect("stdout");
    let stderr = client.stderr.take().expect("stderr");
    for output in [Box::new(stdout) as Box<dyn Read + Send>, Box::new(stderr)] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(output).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    (client, lines)
}

/// The first line `lines` gives that is one of `wanted` (by prefix), within 20 s.
fn first_of(lines: &std::sync::mpsc::Receiver<String>, wanted: &[&str]) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if wanted.iter().any(|prefix| line.starts_with(prefix)) => return line,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("the client printed none of {wanted:?}");
}

/// Both runtimes' clients, as shipped (the `client_chat` example, with no root added in
/// code), trust the CA that `SSL_CERT_FILE` names, and only it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_trust_the_roots_named_by_ssl_cert_file() {
    use std::io::Write;
    let pki = pki();
    let tls = ServerTls::from_pem(pki.cert.as_bytes(), pki.key.as_bytes()).unwrap();
    let io = SocketIo::builder().tls(tls).build();
    io.on_connection(async |socket| {
        socket.on("chat message", async |socket, message| {
            let text: String = message.args()?;
            socket.emit("chat message", &format!("echo: {text}"))
        });
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}", listener.local_addr().unwrap().port());
    tokio::spawn(io.serve(listener));
    let dir = std::env::temp_dir();
    let ca_file = dir.join(format!("socketio-test-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, &pki.ca).unwrap();
    let other_ca_file = dir.join(format!("socketio-test-other-ca-{}.pem", std::process::id()));
    std::fs::write(&other_ca_file, self::pki().ca).unwrap();

    for runtime in interop_tests::example::RUNTIMES {
        let (url, ca_file, other_ca_file) = (url.clone(), ca_file.clone(), other_ca_file.clone());
        tokio::task::spawn_blocking(move || {
            let (mut client, lines) = chat_client(runtime, &url, &ca_file);
            let connected = first_of(&lines, &["connected to", "reconnecting"]);
            assert!(connected.starts_with("connected to"), "{runtime}: {connected}");
            let mut stdin = client.stdin.take().expect("stdin");
            writeln!(stdin, "over tls").unwrap();
            assert_eq!(first_of(&lines, &["echo: "]), "echo: over tls", "{runtime}");
            let _ = client.kill();
            let _ = client.wait();

            // Another CA in SSL_CERT_FILE: the server's certificate is not trusted.
            let (mut client, lines) = chat_client(runtime, &url, &other_ca_file);
            let refused = first_of(&lines, &["connected to", "reconnecting"]);
            assert!(refused.starts_with("reconnecting"), "{runtime}: {refused}");
            let _ = client.kill();
            let _ = client.wait();
        })
        .await
        .unwrap();
    }
    let _ = std::fs::remove_file(&ca_file);
    let _ = std::fs::remove_file(&other_ca_file);
}
