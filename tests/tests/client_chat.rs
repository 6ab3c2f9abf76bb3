//! The `client_chat` example against the `chat` example, both real processes: lines typed
//! on stdin come back as chat messages on stdout; after the server restarts, the client
//! reconnects by itself and the lines typed meanwhile are delivered, in order.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use interop_tests::example::{RUNTIMES, Server, example_binary, free_port};

/// Waits up to 20 s for a line that `matches`.
fn wait_for_line(lines: &mpsc::Receiver<String>, what: &str, matches: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if matches(&line) => return,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("the client never printed {what}");
}

fn wait_for(lines: &mpsc::Receiver<String>, wanted: &str) {
    wait_for_line(lines, &format!("a chat message ending with {wanted:?}"), |line| line.ends_with(wanted));
}

/// Sends each line `from` prints into `to`.
fn forward_lines(from: impl std::io::Read + Send + 'static, to: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            let _ = to.send(line);
        }
    });
}

#[test]
fn terminal_client_survives_a_server_restart() {
    for runtime in RUNTIMES {
        let port = free_port();
        let server = Server::start_on(runtime, "chat", port);
        let mut client = Command::new(example_binary(runtime, "client_chat"))
            .arg(server.url())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting client_chat");
        let mut stdin = client.stdin.take().expect("stdin");
        let (tx, lines) = mpsc::channel();
        forward_lines(client.stdout.take().expect("stdout"), tx.clone());
        // Its status lines (connected, disconnected, reconnecting) go to stderr.
        forward_lines(client.stderr.take().expect("stderr"), tx);

        writeln!(stdin, "hello before").unwrap();
        wait_for(&lines, ": hello before");

        drop(server);
        wait_for_line(&lines, "that it was disconnected", |line| line.starts_with("disconnected: "));
        writeln!(stdin, "typed while down 1").unwrap();
        writeln!(stdin, "typed while down 2").unwrap();
        let _server = Server::start_on(runtime, "chat", port);
        wait_for(&lines, ": typed while down 1");
        wait_for(&lines, ": typed while down 2");

        drop(stdin);
        let _ = client.kill();
        let _ = client.wait();
    }
}
