//! The cluster task: connects to Redis (again and again when it goes away), moves what the
//! node publishes to the connections in order, feeds it what arrives and the time, and
//! applies what the other servers asked of this one.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use futures_util::future::{try_join, try_join3};
use socketio_proto::client::Backoff;
use socketio_proto::cluster::redis::{Event, Output, streams};
use socketio_proto::cluster::resp::{PubSubMessage, Reply, command};
use socketio_proto::server::DisconnectScope;
use socketio_proto::{Payload, Value};

use super::connection::connect;
use super::local::LocalView;
use super::{Cluster, Done, Relayed};
use crate::runtime::until;
use crate::server::{SocketIo, lock};
use crate::{Message, Runtime};

/// The waits before reconnecting: from 100 ms, doubled after each failure, up to 5 s.
const BACKOFF: Backoff =
    Backoff { min: Duration::from_millis(100), max: Duration::from_secs(5), jitter: 0.0 };

/// What a reply on the publishing connection answers.
enum Expect {
    Publish,
    /// A `PING` of [`PING_EVERY`].
    Pong,
    /// An `XADD`, with what to do instead if Redis refuses it (this server's broadcast).
    Append(Option<Box<Event>>),
    Count(u64),
    /// The application's command, whose reply goes there.
    Reply(oneshot::Sender<Reply>),
}

/// How often both connections are asked for a sign of life (`PING`, which a subscribed
/// connection answers too): a connection that then says nothing for [`IO_TIMEOUT`] more is
/// lost, as one left half-open by a network partition or a failover would be, unnoticed.
const PING_EVERY: Duration = Duration::from_secs(5);

/// Commands to write, made under the node's lock and written outside it.
#[derive(Default)]
struct Writes {
    publisher: Vec<u8>,
    subscriber: Vec<u8>,
}

/// Runs for as long as the server.
pub(crate) async fn run<R: Runtime>(cluster: Arc<Cluster>, io: SocketIo<R>) {
    // Failed attempts in a row since the last connected period.
    let mut failures = 0u32;
    loop {
        match session::<R>(&cluster, &io).await {
            Ok(()) => {}
            Err(error) => tracing::warn!(%error, "cluster: Redis connection lost; reconnecting"),
        }
        if cluster.up.swap(false, Ordering::AcqRel) {
            failures = 0;
        }
        // Until the next attempt, the node's requests end with this server's part.
        let deadline = Instant::now() + BACKOFF.delay(failures, 0.0);
        failures = failures.saturating_add(1);
        until::<R, _>(deadline, async {
            loop {
                drain(&cluster, &io, None);
                wait::<R>(&cluster).await;
            }
        })
        .await;
    }
}

/// One connected period; returns why it ended.
async fn session<R: Runtime>(cluster: &Arc<Cluster>, io: &SocketIo<R>) -> io::Result<()> {
    let (mut published, mut publisher) = connect::<R>(&cluster.url).await?;
    let (mut messages, mut subscriber) = connect::<R>(&cluster.url).await?;
    let mut subscriptions = Vec::new();
    let (outputs, sharded) = {
        let node = lock(&cluster.node);
        (node.subscriptions(), node.is_sharded())
    };
    for output in outputs {
        output.encode_into(sharded, &mut subscriptions);
    }
    let start = lock(&cluster.node).stream_start_command();
    if let Some(command) = start {
        publisher.send(&command).await?;
        let reply = published.next_within(Duration::ZERO).await?;
        lock(&cluster.node).handle_stream_start(reply).map_err(io::Error::other)?;
    }
    cluster.up.store(true, Ordering::Release);
    subscriber.send(&subscriptions).await?;
    tracing::debug!(address = %cluster.url.address, "cluster: connected to Redis");
    let expected = Mutex::new(VecDeque::new());
    let write = async {
        let ping = command(&[b"PING"]);
        let mut next_ping = Instant::now() + PING_EVERY;
        loop {
            let mut writes = drain(cluster, io, Some(&expected));
            if Instant::now() >= next_ping {
                next_ping = Instant::now() + PING_EVERY;
                writes.publisher.extend_from_slice(&ping);
                lock(&expected).push_back(Expect::Pong);
                writes.subscriber.extend_from_slice(&ping);
            }
            if !writes.publisher.is_empty() {
                publisher.send(&writes.publisher).await?;
            }
            if !writes.subscriber.is_empty() {
                subscriber.send(&writes.subscriber).await?;
            }
            until::<R, _>(next_ping, wait::<R>(cluster)).await;
        }
    };
    let read_messages = async {
        loop {
            let Some(message) = PubSubMessage::from_reply(messages.next_within(PING_EVERY).await?) else {
                continue;
            };
            let Ok(channel) = std::str::from_utf8(&message.channel) else {
                continue;
            };
            lock(&cluster.node).handle_message(channel, &message.payload, &LocalView(io));
            cluster.signal.notify();
        }
    };
    let read_replies = async {
        loop {
            let reply = published.next_within(PING_EVERY).await?;
            let expectation = lock(&expected).pop_front();
            match (expectation, reply) {
                (Some(Expect::Count(token)), reply) => {
                    lock(&cluster.node).handle_server_count_reply(token, reply);
                    cluster.signal.notify();
                }
                (Some(Expect::Reply(waiter)), reply) => {
                    let _ = waiter.send(reply);
                }
                (Some(Expect::Append(Some(unsent))), Reply::Error(error)) => {
                    tracing::warn!(%error, "cluster: Redis refused a broadcast; delivered here only");
                    apply(cluster, io, *unsent);
                }
                (_, Reply::Error(error)) => tracing::warn!(%error, "cluster: Redis refused a command"),
                (Some(Expect::Publish | Expect::Append(_) | Expect::Pong), _) => {}
                (None, _) => return Err(io::Error::other("a reply to no command")),
            }
        }
    };
    let streams = lock(&cluster.node).stream().is_some();
    let read_stream = async {
        match streams {
            true => read_stream::<R>(cluster, io).await,
            false => std::future::pending().await,
        }
    };
    let ended = try_join(try_join3(write, read_messages, read_replies), read_stream)
        .await
        .map(|_: (((), (), ()), ())| ());
    // Server counts asked on the lost connection will not come.
    let mut unconfirmed = 0usize;
    for expectation in std::mem::take(&mut *lock(&expected)) {
        match expectation {
            Expect::Count(token) => lock(&cluster.node).handle_server_count_failed(token),
            // Appended or not: if it was, it is read back after the reconnection.
            Expect::Append(Some(_)) => unconfirmed += 1,
            _ => {}
        }
    }
    if unconfirmed > 0 {
        tracing::warn!(
            unconfirmed,
            "cluster: broadcasts whose XADD was not confirmed before the connection was lost"
        );
    }
    ended
}

/// Reads the stream of a streams node on a connection of its own (`XREAD` blocks), and
/// hands each entry to the node; returns when the connection is lost.
async fn read_stream<R: Runtime>(cluster: &Arc<Cluster>, io: &SocketIo<R>) -> io::Result<()> {
    let (mut replies, mut commands) = connect::<R>(&cluster.url).await?;
    loop {
        let Some(command) = lock(&cluster.node).stream_read_command() else {
            return Err(io::Error::other("the stream's reading position is unknown"));
        };
        commands.send(&command).await?;
        let reply = replies.next_within(streams::READ_BLOCK).await?;
        lock(&cluster.node).handle_stream_read(reply, &LocalView(io)).map_err(io::Error::other)?;
        cluster.signal.notify();
    }
}

/// Waits for work: a notification or the node's next deadline.
async fn wait<R: Runtime>(cluster: &Cluster) {
    let deadline = lock(&cluster.node).poll_timeout();
    match deadline {
        Some(deadline) => {
            until::<R, _>(deadline, cluster.signal.wait()).await;
        }
        None => cluster.signal.wait().await,
    }
}

/// Moves everything the node has to do: commands into `Writes` (in order) when connected,
/// failures when not, and events applied here.
fn drain<R: Runtime>(
    cluster: &Arc<Cluster>,
    io: &SocketIo<R>,
    link: Option<&Mutex<VecDeque<Expect>>>,
) -> Writes {
    let mut writes = Writes::default();
    let mut dropped = 0usize;
    let sharded = lock(&cluster.node).is_sharded();
    loop {
        // Without a connection, a dropped waiter says the command failed.
        let queries = std::mem::take(&mut *lock(&cluster.queries));
        match link {
            Some(expected) => {
                for (command, reply) in queries {
                    writes.publisher.extend_from_slice(&command);
                    lock(expected).push_back(reply.map_or(Expect::Publish, Expect::Reply));
                }
            }
            None => dropped += queries.len(),
        }
        let outputs: Vec<Output> = {
            let mut node = lock(&cluster.node);
            node.handle_timeout(Instant::now());
            for relayed in std::mem::take(&mut *lock(&cluster.relayed)) {
                match relayed {
                    Relayed::ClientCount(reply, count) => node.broadcast_client_count(&reply, count),
                    Relayed::Ack(reply, payload) => node.broadcast_ack(&reply, &payload),
                    Relayed::Reply(reply, value) => node.server_side_reply(&reply, &value),
                    Relayed::Room { namespace, room, exists: true } => node.room_created(&namespace, &room),
                    Relayed::Room { namespace, room, exists: false } => node.room_deleted(&namespace, &room),
                    Relayed::NamespaceClosed(namespace) => {
                        if !io.shared.with_state(|state| state.endpoint.is_active(&namespace)) {
                            node.remove_namespace(&namespace);
                        }
                    }
                }
            }
            std::iter::from_fn(|| node.poll_output()).collect()
        };
        if outputs.is_empty() {
            break;
        }
        let mut failed = Vec::new();
        for output in outputs {
            let Some(expected) = link else {
                match output {
                    Output::Event(event) => apply(cluster, io, *event),
                    Output::Append { unsent: Some(event), .. } => {
                        // This server's sockets get it all the same (without an offset).
                        dropped += 1;
                        apply(cluster, io, *event);
                    }
                    Output::Append { .. } | Output::Publish { .. } => dropped += 1,
                    Output::CountServers { token, .. } => failed.push(token),
                    // Resubscribed from the node's namespaces on reconnection.
                    Output::Subscribe { .. } | Output::Unsubscribe { .. } => {}
                }
                continue;
            };
            if output.is_subscription() {
                output.encode_into(sharded, &mut writes.subscriber);
                continue;
            }
            output.encode_into(sharded, &mut writes.publisher);
            let expectation = match output {
                Output::Event(event) => {
                    apply(cluster, io, *event);
                    continue;
                }
                Output::Append { unsent, .. } => Expect::Append(unsent),
                Output::CountServers { token, .. } => Expect::Count(token),
                _ => Expect::Publish,
            };
            lock(expected).push_back(expectation);
        }
        if !failed.is_empty() {
            let mut node = lock(&cluster.node);
            for token in failed {
                node.handle_server_count_failed(token);
            }
        }
    }
    if dropped > 0 {
        tracing::warn!(dropped, "cluster: Redis is unreachable; messages for the other servers were dropped");
    }
    writes
}

/// Does locally what another server asked, or hands a request's end to its waiter.
fn apply<R: Runtime>(cluster: &Arc<Cluster>, io: &SocketIo<R>, event: Event) {
    let now = Instant::now();
    match event {
        Event::Broadcast { namespace, selector, payload, offset } => {
            io.deliver(&namespace, &selector, payload, offset.as_deref());
        }
        Event::BroadcastWithAck { namespace, selector, payload, timeout, reply } => {
            io.notify_outgoing(&namespace, &selector, &payload);
            let timeout = timeout.unwrap_or(cluster.requests_timeout);
            let acks = io.acks.clone();
            let relay = reply.clone();
            let relayed = cluster.clone();
            let recipients = io.shared.with_state(|state| {
                let sent =
                    state.endpoint.broadcast_with_ack(now, &namespace, &selector, payload, Some(timeout));
                // Registered under the state lock: no answer can be dispatched before.
                lock(&acks).relay_broadcast(sent.id, sent.recipients, move |answer| {
                    relayed.relay(Relayed::Ack(relay.clone(), answer));
                });
                sent.recipients
            });
            cluster.relay(Relayed::ClientCount(reply, recipients));
        }
        Event::Join { namespace, selector, rooms } => io.shared.with_state(|state| {
            for room in rooms {
                state.endpoint.sockets_join(&namespace, &selector, room);
            }
        }),
        Event::Leave { namespace, selector, rooms } => io.shared.with_state(|state| {
            for room in &rooms {
                state.endpoint.sockets_leave(&namespace, &selector, room);
            }
        }),
        Event::Disconnect { namespace, selector, close } => {
            let scope = if close { DisconnectScope::Connection } else { DisconnectScope::Namespace };
            io.shared
                .with_state(|state| state.endpoint.disconnect_sockets(now, &namespace, &selector, scope));
        }
        Event::ServerSideEmit { payload, reply, .. } => {
            let name = payload.event_name().unwrap_or_default().into_owned();
            let Some(handlers) = cluster.handlers(&name) else {
                return;
            };
            let responder = reply.map(|reply| {
                let relayed = cluster.clone();
                Box::new(move |args: Payload| {
                    // The reference answers with the callback's first argument.
                    let first = match args.to_value() {
                        Ok(Value::Array(values)) => values.into_iter().next(),
                        _ => None,
                    };
                    relayed.relay(Relayed::Reply(reply, first.unwrap_or(Value::Null)));
                    Ok(())
                }) as crate::message::Responder
            });
            let message = Message::new(payload, responder);
            // Contained already (see `SocketIo::on_server_side`). Every handler of the
            // name runs, started in the order they were added; the first answer is the
            // one relayed.
            let started: Vec<_> = handlers.iter().map(|handler| handler(message.clone())).collect();
            R::spawn(async move {
                futures_util::future::join_all(started).await;
            });
        }
        Event::Done { id, result, complete } => {
            if let Some(waiter) = lock(&cluster.waiters).remove(&id) {
                let _ = waiter.send(Done { answer: result, complete });
            }
        }
    }
}
