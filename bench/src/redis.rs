//! A `redis-server` for the cluster scenarios (Debian's package): started on a free port
//! without persistence, killed on drop.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`.
pub struct Redis {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Redis {
    /// Starts one and waits until it accepts connections.
    pub fn start() -> io::Result<Redis> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let redis = Redis { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(io::Error::other("redis-server did not start"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(redis)
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// How many connections subscribe to `channel` (`PUBSUB NUMSUB`).
    pub fn subscribers(&self, channel: &str) -> usize {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return 0 };
        let request = format!("*3\r\n$6\r\nPUBSUB\r\n$6\r\nNUMSUB\r\n${}\r\n{channel}\r\n", channel.len());
        if stream.write_all(request.as_bytes()).is_err() {
            return 0;
        }
        let lines: Vec<String> = BufReader::new(stream).lines().take(4).map_while(Result::ok).collect();
        lines.last().and_then(|l| l.strip_prefix(':')?.parse().ok()).unwrap_or(0)
    }

    /// Waits until `count` servers listen on `channel`.
    pub fn wait_for_servers(&self, channel: &str, count: usize) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.subscribers(channel) != count {
            if Instant::now() > deadline {
                return Err(io::Error::other(format!("{count} servers did not form a cluster")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
