//! The public API of a runtime crate, generated from its [`Runtime`](crate::Runtime) marker,
//! so both runtime crates offer the same names without writing them twice.

/// Declares the modules `server`, `engine`, `client` and `emitter` of a runtime crate: this crate's
/// types with the runtime marker filled in, under the same names.
///
/// ```text
/// socketio_runtime::runtime_api!(crate::Tokio);
/// ```
#[macro_export]
macro_rules! runtime_api {
    ($runtime:ty) => {
        /// The Socket.IO server: namespaces, middleware, events, acks, rooms, broadcast.
        pub mod server {
            pub use $crate::server::{
                ClusterError, ConnectError, ConnectRequest, RecoveryConfig, RedisAdapter, SubscriptionMode,
            };
            pub use $crate::socketio_proto::server::{DisconnectReason, Room, SocketId};

            /// A running Socket.IO server. Cheap to clone.
            pub type SocketIo = $crate::server::SocketIo<$runtime>;
            /// Settings of a [`SocketIo`] server.
            pub type Builder = $crate::server::Builder<$runtime>;
            /// A namespace of a [`SocketIo`] server: middleware, connection handler, broadcasts.
            pub type NamespaceRef = $crate::server::NamespaceRef<$runtime>;
            /// The dynamic namespaces of a [`SocketIo`] server.
            pub type DynamicNamespaces = $crate::server::DynamicNamespaces<$runtime>;
            /// A client connected to a namespace. Cheap to clone.
            pub type Socket = $crate::server::Socket<$runtime>;
            /// A selection of sockets in one namespace (`io.to(...)`, `socket.broadcast()`).
            pub type BroadcastOperator = $crate::server::BroadcastOperator<$runtime>;
            /// A socket found by `fetch_sockets`, here or on another server.
            pub type RemoteSocket = $crate::server::RemoteSocket<$runtime>;
        }

        /// Publishing to a cluster on Redis from a process that is not a server.
        pub mod emitter {
            /// Publishes to the servers of a cluster on Redis.
            pub type Emitter = $crate::emitter::Emitter<$runtime>;
            /// A selection of sockets across the cluster, for an [`Emitter`].
            pub type EmitterOperator = $crate::emitter::EmitterOperator<$runtime>;
        }

        /// The bare Engine.IO server: polling, WebSocket, upgrade.
        pub mod engine {
            pub use $crate::engine::Events;

            /// A running Engine.IO server. Cheap to clone.
            pub type EngineIo = $crate::engine::EngineIo<$runtime>;
            /// Settings of an [`EngineIo`] server.
            pub type Builder = $crate::engine::Builder<$runtime>;
        }

        /// The Socket.IO client: namespaces over one connection, acks, reconnection.
        pub mod client {
            pub use $crate::client::ClientSocket;
            pub use $crate::engineio_proto::client::UrlError;
            pub use $crate::socketio_proto::client::{ConnectFailure, DisconnectReason};

            /// How to connect. The defaults are the reference client's.
            pub type ClientBuilder = $crate::client::ClientBuilder<$runtime>;
        }

        pub use $crate::engineio_proto;
        pub use $crate::socketio_proto;
        pub use $crate::socketio_proto::{RawArgs, Spread, Value};
        pub use $crate::{
            AckError, AckFuture, AckResponses, AllowRequest, BoxError, BroadcastAckFuture, EmitError,
            Encrypted, Error, HandlerOutput, Message, RemoteAddr, ResponseBody, ServerTls, Transports,
            html_page,
        };
    };
}
