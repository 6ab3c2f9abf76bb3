//! A connection to Redis: its address from a `redis://` URL, the handshake (`AUTH`,
//! `SELECT`), then replies read as they come and commands written as they are made.

use std::io;
use std::time::{Duration, Instant};

use futures_util::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use socketio_proto::cluster::resp::{Reply, ReplyReader, command};

use crate::Runtime;
use crate::futures_io::FuturesIo;
use crate::runtime::until;

/// How long connecting (TCP and handshake) and any one write may take.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a Redis server is and how to log in: `redis://[[user]:password@]host[:port][/db]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedisUrl {
    pub(crate) address: String,
    user: Option<String>,
    password: Option<String>,
    db: Option<u32>,
}

impl RedisUrl {
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let rest = url.strip_prefix("redis://").ok_or_else(|| format!("not a redis:// URL: {url}"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (credentials, host) = match authority.rsplit_once('@') {
            Some((credentials, host)) => (Some(credentials), host),
            None => (None, authority),
        };
        let (user, password) = match credentials.map(|c| c.split_once(':').unwrap_or(("", c))) {
            Some((user, password)) => {
                (Some(user.to_owned()).filter(|u| !u.is_empty()), Some(password.to_owned()))
            }
            None => (None, None),
        };
        let host = if host.is_empty() { "127.0.0.1" } else { host };
        let address = if host.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()) {
            host.to_owned()
        } else {
            format!("{host}:6379")
        };
        let db = match path.trim_end_matches('/') {
            "" => None,
            db => Some(db.parse().map_err(|_| format!("not a database number: {db}"))?),
        };
        Ok(RedisUrl { address, user, password, db })
    }
}

/// The reading half of a connection.
pub(crate) struct Replies<R: Runtime> {
    read: ReadHalf<FuturesIo<R::Stream>>,
    reader: ReplyReader,
    buffer: Box<[u8]>,
}

impl<R: Runtime> Replies<R> {
    /// The next reply; an error once the connection is lost or speaks no RESP.
    pub(crate) async fn next(&mut self) -> io::Result<Reply> {
        loop {
            if let Some(reply) = self.reader.next_reply().map_err(io::Error::other)? {
                return Ok(reply);
            }
            let read = self.read.read(&mut self.buffer).await?;
            if read == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.reader.feed(self.buffer.get(..read).unwrap_or_default());
        }
    }
}

impl<R: Runtime> Replies<R> {
    /// The next reply, which is due within [`IO_TIMEOUT`] plus `wait` (how long Redis may
    /// hold it, as `XREAD BLOCK` does): a connection that says nothing longer is lost.
    pub(crate) async fn next_within(&mut self, wait: Duration) -> io::Result<Reply> {
        let deadline = Instant::now() + IO_TIMEOUT + wait;
        until::<R, _>(deadline, self.next()).await.unwrap_or_else(|| Err(io::ErrorKind::TimedOut.into()))
    }
}

/// The writing half of a connection.
pub(crate) struct Commands<R: Runtime> {
    write: WriteHalf<FuturesIo<R::Stream>>,
}

impl<R: Runtime> Commands<R> {
    /// Writes `bytes` (encoded commands), failing when no progress is made for
    /// [`IO_TIMEOUT`].
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let deadline = Instant::now() + IO_TIMEOUT;
        until::<R, _>(deadline, self.write.write_all(bytes))
            .await
            .unwrap_or_else(|| Err(io::ErrorKind::TimedOut.into()))
    }
}

/// Connects to `url` and logs in, within [`IO_TIMEOUT`].
pub(crate) async fn connect<R: Runtime>(url: &RedisUrl) -> io::Result<(Replies<R>, Commands<R>)> {
    let deadline = Instant::now() + IO_TIMEOUT;
    until::<R, _>(deadline, async {
        let stream = R::connect(url.address.clone()).await?;
        let (read, write) = FuturesIo(stream).split();
        let mut replies = Replies { read, reader: ReplyReader::default(), buffer: vec![0; 64 << 10].into() };
        let mut commands = Commands { write };
        let mut handshake = Vec::new();
        if let Some(password) = &url.password {
            match &url.user {
                Some(user) => handshake.push(command(&[b"AUTH", user.as_bytes(), password.as_bytes()])),
                None => handshake.push(command(&[b"AUTH", password.as_bytes()])),
            }
        }
        if let Some(db) = url.db {
            handshake.push(command(&[b"SELECT", db.to_string().as_bytes()]));
        }
        for step in handshake {
            commands.send(&step).await?;
            if let Reply::Error(error) = replies.next().await? {
                return Err(io::Error::other(error));
            }
        }
        Ok((replies, commands))
    })
    .await
    .unwrap_or_else(|| Err(io::ErrorKind::TimedOut.into()))
}

#[cfg(test)]
mod tests {
    use super::RedisUrl;

    #[test]
    fn urls() {
        let url = RedisUrl::parse("redis://127.0.0.1:6380").unwrap();
        assert_eq!((url.address.as_str(), url.password, url.db), ("127.0.0.1:6380", None, None));
        let url = RedisUrl::parse("redis://:secret@redis/2").unwrap();
        assert_eq!(url.address, "redis:6379");
        assert_eq!((url.user, url.password.as_deref(), url.db), (None, Some("secret"), Some(2)));
        let url = RedisUrl::parse("redis://me:pw@[::1]:7000/").unwrap();
        assert_eq!((url.address.as_str(), url.user.as_deref()), ("[::1]:7000", Some("me")));
        assert!(RedisUrl::parse("http://x").is_err());
        assert!(RedisUrl::parse("redis://x/db").is_err());
    }
}
