//! Builds and runs the examples of a runtime crate as real servers on loopback.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The runtime crates whose examples the interop suites run.
pub const RUNTIMES: &[&str] = &["socketio-tokio", "socketio-smol"];

/// The testbed binary of each runtime (see `src/bin`).
pub const TESTBEDS: &[&str] = &["testbed_tokio", "testbed_smol"];

/// A running example, killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Builds (once per test binary) and starts `example` of `package` on a free port,
    /// and waits until it accepts connections.
    pub fn start(package: &str, example: &str) -> Server {
        Self::run(build(package, "--example", example), example)
    }

    /// Starts `example` of `package` on `port` (to restart a server where it was).
    pub fn start_on(package: &str, example: &str, port: u16) -> Server {
        Self::start_command(Command::new(example_binary(package, example)), example, port)
    }

    /// The same for a binary of this crate (the testbeds).
    pub fn start_bin(bin: &str) -> Server {
        Self::run(build("interop-tests", "--bin", bin), bin)
    }

    fn run(binary: PathBuf, example: &str) -> Server {
        Self::start_command(Command::new(binary), example, free_port())
    }

    /// Starts `command` with `PORT=port` and waits until it accepts connections.
    pub fn start_command(mut command: Command, what: &str, port: u16) -> Server {
        let child = command
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        let example = what;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "{example} did not start listening on {addr}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Server { child, addr }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (up to 30 s) for the process to exit; its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        self.sigterm();
        self.wait_exit()
    }

    /// Sends SIGTERM (a graceful shutdown) without waiting.
    pub fn sigterm(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("running kill");
        assert!(sent.success(), "kill -TERM {pid}");
    }

    /// Waits (up to 30 s) for the process to exit; its exit status.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the server") {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit within 30 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Server {
    /// Kills the server and waits until it is gone (its port free for a new one).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The path of `example` of `package`, built if needed.
pub fn example_binary(package: &str, example: &str) -> PathBuf {
    build(package, "--example", example)
}

/// A port nobody listens on right now, and never handed out before in this process: tests
/// run in parallel, and two servers given the same port would have one test talk to the
/// other's server (and see it killed mid-request).
pub fn free_port() -> u16 {
    static GIVEN: OnceLock<Mutex<std::collections::HashSet<u16>>> = OnceLock::new();
    let mut given =
        GIVEN.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        if given.insert(port) {
            return port;
        }
    }
}

/// Builds an example with the same cargo and profile as the tests; returns its path.
fn build(package: &str, kind: &str, example: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<(String, String), PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = (package.to_owned(), format!("{kind} {example}"));
    if let Some(path) = built.get(&key) {
        return path.clone();
    }
    let output = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", package, kind, example, "--message-format=json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("running cargo build");
    assert!(output.status.success(), "building {package} example {example} failed");
    let built_path = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == example)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo reported no executable for {example}"));
    // Both runtime crates have examples of the same names, which cargo links to one path
    // (target/debug/examples/chat): keep this package's build apart before the other's
    // replaces it.
    let dir = built_path.parent().expect("a binary has a folder").join("interop").join(package);
    std::fs::create_dir_all(&dir).expect("creating the folder for the built examples");
    let path = dir.join(example);
    let _ = std::fs::remove_file(&path);
    std::fs::copy(&built_path, &path).unwrap_or_else(|e| panic!("copying {example} of {package}: {e}"));
    built.insert(key, path.clone());
    path
}

/// The `recovery` application on a `kind` server (`node`: `tests/js/recovery-node.js`;
/// else a runtime package's `recovery` example) on `port`.
pub fn start_recovery_server(kind: &str, port: u16) -> Server {
    Server::start_command(recovery_command(kind), kind, port)
}

/// The same, one of a cluster on the streams adapter of the Redis at `redis_url`.
pub fn start_recovery_server_on(kind: &str, port: u16, redis_url: &str) -> Server {
    let mut command = recovery_command(kind);
    command.env("REDIS_URL", redis_url);
    Server::start_command(command, kind, port)
}

/// The command that runs the `recovery` application of `kind` (`node`, or a runtime
/// package), for settings of its own (`REDIS_URL`).
pub fn recovery_command(kind: &str) -> Command {
    match kind {
        "node" => {
            crate::node::ensure_packages();
            let mut node = Command::new("node");
            node.arg(crate::node::js_dir().join("recovery-node.js"));
            node
        }
        package => Command::new(example_binary(package, "recovery")),
    }
}
