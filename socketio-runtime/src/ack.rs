//! Waiting for acks: the future an `emit_with_ack` returns, on the server and the client,
//! and the answers of a broadcast that asked every recipient for one.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use engineio_proto::IdMap;
use futures_channel::oneshot;
use serde::de::DeserializeOwned;
use socketio_proto::cluster::redis::Answer;
use socketio_proto::server::{AckError as ProtoAckError, SocketId};
use socketio_proto::{Payload, Value};

use crate::cluster::Done;
use crate::{AckError, EmitError};

/// Where the state machine's answer to one ack goes.
pub(crate) type AckSender = oneshot::Sender<Result<Payload, ProtoAckError>>;

/// The answer to an `emit_with_ack`: the ack's arguments read as `T` (the
/// [arguments rule](socketio_proto::args): a tuple for several, `()` for none).
///
/// Dropping it before the answer stops the wait: the server forgets the ack at once
/// (a later answer is ignored) instead of keeping it until the socket ends.
#[must_use = "the ack is only waited for when awaited"]
pub struct AckFuture<T> {
    state: Waiting<oneshot::Receiver<Result<Payload, ProtoAckError>>>,
    forget: Forget,
    answer: PhantomData<fn() -> T>,
}

enum Waiting<W> {
    Failed(Option<AckError>),
    On(W),
}

/// What to undo if a future is dropped before its answer.
#[derive(Default)]
pub(crate) struct Forget(Option<Box<dyn FnOnce() + Send + Sync>>);

impl Forget {
    pub(crate) fn with(undo: impl FnOnce() + Send + Sync + 'static) -> Self {
        Forget(Some(Box::new(undo)))
    }

    /// The answer came: nothing to undo.
    fn settled(&mut self) {
        self.0 = None;
    }
}

impl Drop for Forget {
    fn drop(&mut self) {
        if let Some(undo) = self.0.take() {
            undo();
        }
    }
}

impl<T> AckFuture<T> {
    pub(crate) fn waiting(answer: oneshot::Receiver<Result<Payload, ProtoAckError>>, forget: Forget) -> Self {
        AckFuture { state: Waiting::On(answer), forget, answer: PhantomData }
    }

    pub(crate) fn failed(error: impl Into<AckError>) -> Self {
        AckFuture {
            state: Waiting::Failed(Some(error.into())),
            forget: Forget::default(),
            answer: PhantomData,
        }
    }
}

impl<T: DeserializeOwned> Future for AckFuture<T> {
    type Output = Result<T, AckError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match &mut this.state {
            Waiting::Failed(error) => Poll::Ready(Err(error.take().unwrap_or(AckError::Disconnected))),
            Waiting::On(answer) => {
                let answer = std::task::ready!(Pin::new(answer).poll(cx));
                this.forget.settled();
                Poll::Ready(match answer {
                    Ok(Ok(payload)) => Ok(payload.array_args::<T>()?),
                    Ok(Err(reason)) => Err(reason.into()),
                    Err(oneshot::Canceled) => Err(AckError::Disconnected),
                })
            }
        }
    }
}

/// Every recipient's answer to a broadcast `emit_with_ack` (the reference's `emitWithAck`
/// on a broadcast operator), or every other server's answer to a server-side event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckResponses<T> {
    /// The answers that came, in the order they came.
    pub answers: Vec<T>,
    /// Recipients that did not answer: timed out, or disconnected first.
    pub missing: usize,
    /// Answers whose arguments did not read as `T`.
    pub malformed: usize,
    /// Whether some server of the cluster did not report in time, or Redis was
    /// unreachable: recipients there are not counted in `missing`. Always false without a
    /// cluster adapter.
    pub servers_missing: bool,
}

impl<T> AckResponses<T> {
    /// Whether every recipient answered with a `T`.
    pub fn is_complete(&self) -> bool {
        self.missing == 0 && self.malformed == 0 && !self.servers_missing
    }
}

/// What a broadcast's recipients answered, before typing.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    answers: Vec<Payload>,
    missing: usize,
}

/// The answers of a broadcast `emit_with_ack`; resolves once every recipient answered,
/// failed or timed out, on this server and (with a cluster adapter) on the others.
#[must_use = "the answers are only waited for when awaited"]
pub struct BroadcastAckFuture<T> {
    failed: Option<AckError>,
    local: Option<oneshot::Receiver<Collected>>,
    cluster: Option<oneshot::Receiver<Done>>,
    collected: Collected,
    servers_missing: bool,
    forget: Forget,
    answer: PhantomData<fn() -> T>,
}

impl<T> BroadcastAckFuture<T> {
    pub(crate) fn waiting(
        local: Option<oneshot::Receiver<Collected>>,
        cluster: Option<oneshot::Receiver<Done>>,
        forget: Forget,
    ) -> Self {
        BroadcastAckFuture {
            failed: None,
            local,
            cluster,
            collected: Collected::default(),
            servers_missing: false,
            forget,
            answer: PhantomData,
        }
    }

    pub(crate) fn failed(error: impl Into<AckError>) -> Self {
        let mut future = Self::waiting(None, None, Forget::default());
        future.failed = Some(error.into());
        future
    }
}

impl<T: DeserializeOwned> Future for BroadcastAckFuture<T> {
    type Output = Result<AckResponses<T>, AckError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(error) = this.failed.take() {
            return Poll::Ready(Err(error));
        }
        if let Some(local) = &mut this.local {
            let collected = std::task::ready!(Pin::new(local).poll(cx));
            this.local = None;
            let collected = collected.map_err(|_| AckError::Emit(EmitError::Disconnected))?;
            this.collected.answers.extend(collected.answers);
            this.collected.missing += collected.missing;
        }
        if let Some(cluster) = &mut this.cluster {
            let done = std::task::ready!(Pin::new(cluster).poll(cx));
            this.cluster = None;
            match done {
                Ok(Done { answer, complete }) => {
                    this.servers_missing = !complete;
                    let (answers, missing) = match answer {
                        Answer::Acks { answers, missing } => (answers, missing),
                        Answer::Replies(replies) => (replies, 0),
                        _ => (Vec::new(), 0),
                    };
                    // Between servers, an answer is its first argument only.
                    let answers =
                        answers.into_iter().map(|answer| Payload::from_value(&Value::Array(vec![answer])));
                    this.collected.answers.extend(answers);
                    this.collected.missing += usize::try_from(missing).unwrap_or(usize::MAX);
                }
                Err(oneshot::Canceled) => this.servers_missing = true,
            }
        }
        this.forget.settled();
        let collected = std::mem::take(&mut this.collected);
        let mut responses = AckResponses {
            answers: Vec::new(),
            missing: collected.missing,
            malformed: 0,
            servers_missing: this.servers_missing,
        };
        for payload in collected.answers {
            match payload.array_args::<T>() {
                Ok(answer) => responses.answers.push(answer),
                Err(_) => responses.malformed += 1,
            }
        }
        Poll::Ready(Ok(responses))
    }
}

/// A broadcast's answers so far.
struct Collector {
    expected: usize,
    collected: Collected,
    sink: Sink,
}

/// Where a broadcast's answers go.
enum Sink {
    /// All at once, to the future of the emit.
    Done(oneshot::Sender<Collected>),
    /// Each as it comes, to the server of the cluster that asked.
    Relay(Box<dyn FnMut(Payload) + Send>),
}

/// Who waits for which ack on the server: a single emit by `(socket, id)`, a broadcast by
/// its id.
#[derive(Default)]
pub(crate) struct AckWaiters {
    single: IdMap<(SocketId, u64), AckSender>,
    broadcast: IdMap<u64, Collector>,
}

impl AckWaiters {
    pub(crate) fn wait_single(&mut self, socket: SocketId, id: u64, waiter: AckSender) {
        self.single.insert((socket, id), waiter);
    }

    /// Waits for `expected` answers to broadcast `id`; none expected resolves at once.
    pub(crate) fn wait_broadcast(&mut self, id: u64, expected: usize, done: oneshot::Sender<Collected>) {
        if expected == 0 {
            let _ = done.send(Collected::default());
            return;
        }
        self.broadcast
            .insert(id, Collector { expected, collected: Collected::default(), sink: Sink::Done(done) });
    }

    /// Hands each of the `expected` answers to broadcast `id` to `relay` as it comes.
    pub(crate) fn relay_broadcast(
        &mut self,
        id: u64,
        expected: usize,
        relay: impl FnMut(Payload) + Send + 'static,
    ) {
        if expected > 0 {
            let sink = Sink::Relay(Box::new(relay));
            self.broadcast.insert(id, Collector { expected, collected: Collected::default(), sink });
        }
    }

    /// Stops waiting for ack `id` of `socket`.
    pub(crate) fn forget_single(&mut self, socket: SocketId, id: u64) {
        self.single.remove(&(socket, id));
    }

    /// Stops waiting for the answers to broadcast `id`.
    pub(crate) fn forget_broadcast(&mut self, id: u64) {
        self.broadcast.remove(&id);
    }

    /// How many acks are waited for.
    pub(crate) fn len(&self) -> usize {
        self.single.len() + self.broadcast.len()
    }

    /// One answer (or failure) from `socket` to ack `id`.
    pub(crate) fn settle(&mut self, socket: SocketId, id: u64, answer: Result<Payload, ProtoAckError>) {
        if let Some(waiter) = self.single.remove(&(socket, id)) {
            let _ = waiter.send(answer);
            return;
        }
        let Some(collector) = self.broadcast.get_mut(&id) else {
            return;
        };
        match (answer, &mut collector.sink) {
            (Ok(payload), Sink::Relay(relay)) => {
                relay(payload);
                collector.expected = collector.expected.saturating_sub(1);
            }
            (Ok(payload), Sink::Done(_)) => collector.collected.answers.push(payload),
            (Err(_), Sink::Relay(_)) => collector.expected = collector.expected.saturating_sub(1),
            (Err(_), Sink::Done(_)) => collector.collected.missing += 1,
        }
        let settled = collector.collected.answers.len() + collector.collected.missing;
        if settled >= collector.expected {
            if let Some(Collector { collected, sink: Sink::Done(done), .. }) = self.broadcast.remove(&id) {
                let _ = done.send(collected);
            }
        }
    }
}
