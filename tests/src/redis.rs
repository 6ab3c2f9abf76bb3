//! A real `redis-server` (Debian's package) for the cluster suites: started on a free port,
//! stopped on drop, and a plain client to ask it what the cluster looks like.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::example::free_port;

/// A running `redis-server`, without persistence, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl RedisServer {
    /// Starts one on a free port and waits until it answers.
    pub fn start() -> RedisServer {
        Self::start_on(free_port())
    }

    /// Starts one on `port` (to restart Redis where it was).
    pub fn start_on(port: u16) -> RedisServer {
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting {binary} (tests/run.sh installs Debian's redis-server): {e}")
            });
        let server = RedisServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while server.command(&["PING"]).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs one command; its reply's lines (RESP as received, without CRLF).
    pub fn command(&self, args: &[&str]) -> std::io::Result<Vec<String>> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes())?;
        let mut reader = BufReader::new(stream);
        let mut first = String::new();
        reader.read_line(&mut first)?;
        let mut lines = vec![first.trim_end().to_owned()];
        // Arrays of bulk strings and integers: two lines per bulk string, one per integer.
        if let Some(count) = lines[0].strip_prefix('*').and_then(|n| n.parse::<usize>().ok()) {
            for _ in 0..count {
                let mut line = String::new();
                reader.read_line(&mut line)?;
                let bulk = line.starts_with('$');
                lines.push(line.trim_end().to_owned());
                if bulk {
                    let mut value = String::new();
                    reader.read_line(&mut value)?;
                    lines.push(value.trim_end().to_owned());
                }
            }
        }
        Ok(lines)
    }

    /// How many connections subscribe to `channel` (`PUBSUB NUMSUB`).
    pub fn subscribers(&self, channel: &str) -> usize {
        self.count("NUMSUB", channel)
    }

    /// How many connections subscribe to the sharded `channel` (`PUBSUB SHARDNUMSUB`).
    pub fn shard_subscribers(&self, channel: &str) -> usize {
        self.count("SHARDNUMSUB", channel)
    }

    fn count(&self, subcommand: &str, channel: &str) -> usize {
        self.command(&["PUBSUB", subcommand, channel])
            .ok()
            .and_then(|lines| lines.last()?.strip_prefix(':')?.parse().ok())
            .unwrap_or(0)
    }

    /// Waits until `count` servers listen on the main namespace's request channel of
    /// `key`: the cluster has formed (or formed again after a restart).
    pub fn wait_for_servers(&self, key: &str, count: usize) {
        self.wait_for(count, &format!("{key}-request#/#"), |channel| self.subscribers(channel));
    }

    /// Waits until `count` connections subscribe to `channel` (the streams adapter's
    /// main-namespace channel, `socket.io#/#`).
    pub fn wait_for_channel(&self, channel: &str, count: usize) {
        self.wait_for(count, channel, |channel| self.subscribers(channel));
    }

    /// The same for servers on the sharded adapter: its main namespace's channel.
    pub fn wait_for_sharded_servers(&self, key: &str, count: usize) {
        self.wait_for(count, &format!("{key}#/#"), |channel| self.shard_subscribers(channel));
    }

    fn wait_for(&self, count: usize, channel: &str, subscribers: impl Fn(&str) -> usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while subscribers(channel) != count {
            assert!(
                Instant::now() < deadline,
                "{count} servers did not subscribe to {channel}: {}",
                subscribers(channel)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it (SIGKILL) and waits for the exit.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
