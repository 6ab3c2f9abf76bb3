//! An incoming event, as the server's and the client's handlers see it.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use serde::de::DeserializeOwned;
use socketio_proto::{Args, DecodeError, Payload, RawArgs, Value};

use crate::{EmitError, Error};

/// Sends an ack's arguments back to whoever asked.
pub(crate) type Responder = Box<dyn FnOnce(Payload) -> Result<(), EmitError> + Send>;

/// An event: its name, its arguments, and the ack the sender may wait for.
///
/// Arguments follow the [arguments rule](socketio_proto::args): `message.args::<T>()` reads
/// the first argument as `T`, or one argument per element when `T` is a tuple.
///
/// ```
/// # fn handle(message: socketio_runtime::Message) -> Result<(), Box<dyn std::error::Error>> {
/// let text: String = message.args()?; // one argument
/// let (room, text): (String, String) = message.args()?; // two
/// message.ack(&"ok")?; // the sender's callback gets "ok"
/// # Ok(()) }
/// ```
///
/// A clone is the same event: every handler of an event gets one, and the first ack any of
/// them sends is the answer.
#[derive(Clone)]
pub struct Message {
    payload: Payload,
    /// Shared by the clones; taken by the first ack.
    responder: Option<Arc<Mutex<Option<Responder>>>>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("payload", &self.payload)
            .field("wants_ack", &self.wants_ack())
            .finish()
    }
}

impl Message {
    pub(crate) fn new(payload: Payload, responder: Option<Responder>) -> Self {
        Message { payload, responder: responder.map(|respond| Arc::new(Mutex::new(Some(respond)))) }
    }

    /// The event name.
    pub fn name(&self) -> Cow<'_, str> {
        self.payload.event_name().unwrap_or_default()
    }

    /// The arguments, typed: a tuple takes one argument per element, `()` none, any other
    /// type the first argument. `bytes::Bytes` fields receive binary attachments.
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        self.payload.args()
    }

    /// The arguments as they were received, to emit or ack onward without parsing them:
    /// `io.to("room").emit("tick", &message.raw_args())`.
    pub fn raw_args(&self) -> RawArgs {
        self.payload.raw_args()
    }

    /// All the arguments as dynamic values, binary attachments in place.
    pub fn values(&self) -> Result<Vec<Value>, DecodeError> {
        self.payload.arg_values()
    }

    /// The whole payload, `[name, ...args]`, as received.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// Whether the sender waits for an ack that was not sent yet.
    pub fn wants_ack(&self) -> bool {
        self.responder.as_ref().is_some_and(|responder| lock(responder).is_some())
    }

    /// Answers the sender's ack with `args` (the same rule as an emit). The first answer is
    /// sent; later ones, or any when no ack was asked for, do nothing.
    pub fn ack<A: Args + ?Sized>(&self, args: &A) -> Result<(), Error> {
        let responder = self.responder.as_ref().and_then(|responder| lock(responder).take());
        match responder {
            Some(respond) => Ok(respond(args.ack_payload()?)?),
            None => Ok(()),
        }
    }
}

fn lock(responder: &Mutex<Option<Responder>>) -> std::sync::MutexGuard<'_, Option<Responder>> {
    responder.lock().unwrap_or_else(PoisonError::into_inner)
}
