//! Waiting for acks: the future an `emit_with_ack` returns, on the server and the client,
//! and the answers of a broadcast that asked every recipient for one.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use engineio_proto::IdMap;
use futures_channel::oneshot;
use serde::de::DeserializeOwned;
use socketio_proto::Payload;
use socketio_proto::server::{AckError as ProtoAckError, SocketId};

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
/// on a broadcast operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckResponses<T> {
    /// The answers that came, in the order they came.
    pub answers: Vec<T>,
    /// Recipients that did not answer: timed out, or disconnected first.
    pub missing: usize,
    /// Answers whose arguments did not read as `T`.
    pub malformed: usize,
}

impl<T> AckResponses<T> {
    /// Whether every recipient answered with a `T`.
    pub fn is_complete(&self) -> bool {
        self.missing == 0 && self.malformed == 0
    }
}

/// What a broadcast's recipients answered, before typing.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    answers: Vec<Payload>,
    missing: usize,
}

/// The answers of a broadcast `emit_with_ack`; resolves once every recipient answered,
/// failed or timed out.
#[must_use = "the answers are only waited for when awaited"]
pub struct BroadcastAckFuture<T> {
    state: Waiting<oneshot::Receiver<Collected>>,
    forget: Forget,
    answer: PhantomData<fn() -> T>,
}

impl<T> BroadcastAckFuture<T> {
    pub(crate) fn waiting(answer: oneshot::Receiver<Collected>, forget: Forget) -> Self {
        BroadcastAckFuture { state: Waiting::On(answer), forget, answer: PhantomData }
    }

    pub(crate) fn failed(error: impl Into<AckError>) -> Self {
        BroadcastAckFuture {
            state: Waiting::Failed(Some(error.into())),
            forget: Forget::default(),
            answer: PhantomData,
        }
    }
}

impl<T: DeserializeOwned> Future for BroadcastAckFuture<T> {
    type Output = Result<AckResponses<T>, AckError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match &mut this.state {
            Waiting::Failed(error) => Poll::Ready(Err(error.take().unwrap_or(AckError::Disconnected))),
            Waiting::On(answer) => Pin::new(answer).poll(cx).map(|collected| {
                this.forget.settled();
                let collected = collected.map_err(|_| AckError::Emit(EmitError::Disconnected))?;
                let mut responses =
                    AckResponses { answers: Vec::new(), missing: collected.missing, malformed: 0 };
                for payload in collected.answers {
                    match payload.array_args::<T>() {
                        Ok(answer) => responses.answers.push(answer),
                        Err(_) => responses.malformed += 1,
                    }
                }
                Ok(responses)
            }),
        }
    }
}

/// A broadcast's answers so far.
struct Collector {
    expected: usize,
    collected: Collected,
    done: oneshot::Sender<Collected>,
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
        self.broadcast.insert(id, Collector { expected, collected: Collected::default(), done });
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
        match answer {
            Ok(payload) => collector.collected.answers.push(payload),
            Err(_) => collector.collected.missing += 1,
        }
        let settled = collector.collected.answers.len() + collector.collected.missing;
        if settled >= collector.expected {
            if let Some(collector) = self.broadcast.remove(&id) {
                let _ = collector.done.send(collector.collected);
            }
        }
    }
}
