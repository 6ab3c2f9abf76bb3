//! An incoming event, as the server's and the client's handlers see it.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Mutex, PoisonError};

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
pub struct Message {
    payload: Payload,
    responder: Mutex<Option<Responder>>,
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
        Message { payload, responder: Mutex::new(responder) }
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

    /// Whether the sender waits for an ack.
    pub fn wants_ack(&self) -> bool {
        self.responder.lock().unwrap_or_else(PoisonError::into_inner).is_some()
    }

    /// Answers the sender's ack with `args` (the same rule as an emit). The first answer is
    /// sent; later ones, or any when no ack was asked for, do nothing.
    pub fn ack<A: Args + ?Sized>(&self, args: &A) -> Result<(), Error> {
        let responder = self.responder.lock().unwrap_or_else(PoisonError::into_inner).take();
        match responder {
            Some(respond) => Ok(respond(args.ack_payload()?)?),
            None => Ok(()),
        }
    }
}
