//! The servers under test, each a process of its own pinned to one core, and what the
//! harness reads of them: memory and CPU time.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// Ours, on tokio (`bench_tokio`, one thread).
    Tokio,
    /// Ours, on smol (`bench_smol`).
    Smol,
    /// `socket.io@4.8` on Node (`tests/js/bench-server.js`).
    Node,
    /// `socketioxide` on hyper and tokio (`bench_socketioxide`, one thread).
    Socketioxide,
}

impl Peer {
    /// Every peer, ours first.
    pub const ALL: [Peer; 4] = [Peer::Tokio, Peer::Smol, Peer::Node, Peer::Socketioxide];

    /// Its column heading.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Tokio => "ours (tokio)",
            Peer::Smol => "ours (smol)",
            Peer::Node => "node socket.io",
            Peer::Socketioxide => "socketioxide",
        }
    }

    /// Whether it is one of ours.
    pub fn ours(self) -> bool {
        matches!(self, Peer::Tokio | Peer::Smol)
    }

    fn program(self) -> (PathBuf, Vec<PathBuf>) {
        let bin = |name: &str| (binaries().join(name), Vec::new());
        match self {
            Peer::Tokio => bin("bench_tokio"),
            Peer::Smol => bin("bench_smol"),
            Peer::Socketioxide => bin("bench_socketioxide"),
            Peer::Node => (PathBuf::from("node"), vec![repository().join("tests/js/bench-server.js")]),
        }
    }
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where cargo put this package's binaries (beside the running harness or test).
fn binaries() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    // Test executables live one level down, in `deps/`.
    if dir.ends_with("deps") { dir.parent().map(Path::to_path_buf).unwrap_or(dir) } else { dir }
}

/// Builds the server binaries in the harness's own profile.
pub fn build_servers() -> io::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(["build", "--quiet", "-p", "e2e-bench", "--bins"]);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let status = command.current_dir(repository()).status()?;
    if status.success() { Ok(()) } else { Err(io::Error::other("building the benchmark servers failed")) }
}

/// Pins the calling process, all its threads, to `core`; false where the machine refuses.
pub fn pin_self(core: usize) -> bool {
    Command::new("taskset")
        .args(["-a", "-p", "-c", &core.to_string(), &std::process::id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A running server, killed on drop.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its name.
    pub peer: Peer,
}

impl Server {
    /// Starts `peer` on a free port, pinned to `core` if given, and waits until it listens.
    pub fn start(peer: Peer, core: Option<usize>) -> io::Result<Server> {
        Server::start_with(peer, core, &[])
    }

    /// The same with more environment variables (`RECOVERY=on`).
    pub fn start_with(peer: Peer, core: Option<usize>, env: &[(&str, &str)]) -> io::Result<Server> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let (program, args) = peer.program();
        let mut command = match core {
            Some(core) => {
                let mut taskset = Command::new("taskset");
                taskset.args(["-c", &core.to_string()]).arg(&program);
                taskset
            }
            None => Command::new(&program),
        };
        let child = command
            .args(&args)
            .env("PORT", port.to_string())
            .env("SMOL_THREADS", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let server = Server { child, addr, peer };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            if Instant::now() > deadline {
                return Err(io::Error::other(format!("{} did not start listening", peer.name())));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// Its resident memory, in bytes.
    pub fn rss(&self) -> u64 {
        rss(self.child.id())
    }

    /// The CPU time it has used so far.
    pub fn cpu(&self) -> Duration {
        cpu_time(&format!("/proc/{}/stat", self.child.id()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The resident memory of process `pid`, in bytes (0 if unreadable).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// User plus system CPU time from a `/proc/.../stat` file.
fn cpu_time(path: &str) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // Linux reports in clock ticks of 100 Hz.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// The CPU time the harness itself has used so far.
pub fn own_cpu() -> Duration {
    cpu_time("/proc/self/stat")
}
