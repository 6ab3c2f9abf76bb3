//! The errors of the application-facing API.

use socketio_proto::EncodeError;
use socketio_proto::server::{AckError, EmitError};

/// Why an emit or an ack failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The arguments could not be encoded, or the event name is reserved.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The socket is gone, or its client stopped reading.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// The ack never came.
    #[error("no ack: {0:?}")]
    Ack(AckError),
}
