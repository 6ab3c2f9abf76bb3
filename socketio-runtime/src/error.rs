//! The errors of the application-facing API, shared by the server and the client.

use socketio_proto::EncodeError;
pub use socketio_proto::server::EmitError;

/// Why an `emit_with_ack` got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    /// The arguments could not be encoded, or the event name is reserved.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The event could not be sent.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// No answer within the timeout (the reference's wording).
    #[error("operation has timed out")]
    Timeout,
    /// The socket disconnected before answering (the reference's wording).
    #[error("socket has been disconnected")]
    Disconnected,
    /// The answer's arguments are not of the type asked for.
    #[error("the ack's arguments do not fit the type asked for: {0}")]
    Decode(#[from] serde_json::Error),
}

impl From<socketio_proto::server::AckError> for AckError {
    fn from(error: socketio_proto::server::AckError) -> Self {
        match error {
            socketio_proto::server::AckError::Timeout => AckError::Timeout,
            socketio_proto::server::AckError::Disconnected => AckError::Disconnected,
        }
    }
}

/// What an emit, an ack, or reading arguments can fail with. Handlers may return
/// `Result<(), Error>`, so `?` works on all of them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Arguments, auth or a namespace name could not be encoded, or the event name is
    /// reserved.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The event could not be sent.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// An ack did not come.
    #[error(transparent)]
    Ack(#[from] AckError),
    /// Received arguments do not fit the type asked for.
    #[error("the arguments do not fit the type asked for: {0}")]
    Args(#[from] serde_json::Error),
    /// A client was given a URL it cannot use.
    #[error(transparent)]
    Url(#[from] engineio_proto::client::UrlError),
    /// TLS material (a certificate, a key) could not be read.
    #[error("TLS: {0}")]
    Tls(std::io::Error),
    /// A setting cannot be used (a malformed Redis URL, ...).
    #[error("configuration: {0}")]
    Config(String),
    /// The operation reached this server's sockets, but not the other servers of the
    /// cluster.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
}
