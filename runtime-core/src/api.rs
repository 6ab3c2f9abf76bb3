//! The public API of a runtime crate, generated from its [`Runtime`](crate::Runtime) marker,
//! so both runtime crates offer the same names without writing them twice.

/// Declares the modules `socket`, `engine` and `client` of a runtime crate: this crate's
/// types with the runtime marker filled in, under the same names.
///
/// ```text
/// socketio_runtime::runtime_api!(crate::Tokio);
/// ```
#[macro_export]
macro_rules! runtime_api {
    ($runtime:ty) => {
        /// The Socket.IO server: namespaces, middleware, events, acks, rooms, broadcast.
        pub mod socket {
            pub use $crate::socket::{ConnectError, ConnectRequest, MiddlewareFuture, SocketInfo};

            /// A running Socket.IO server. Cheap to clone.
            pub type SocketIo = $crate::socket::SocketIo<$runtime>;
            /// Settings of a [`SocketIo`] server.
            pub type Builder = $crate::socket::Builder<$runtime>;
            /// A namespace of a [`SocketIo`] server, to configure.
            pub type NamespaceRef = $crate::socket::NamespaceRef<$runtime>;
            /// A client connected to a namespace. Cheap to clone.
            pub type Socket = $crate::socket::Socket<$runtime>;
            /// An event from a client: its name, arguments, and the ack it may wait for.
            pub type Message = $crate::socket::Message<$runtime>;
            /// A selection of sockets in one namespace (`io.to(...)`, `socket.broadcast()`).
            pub type BroadcastOperator = $crate::socket::BroadcastOperator<$runtime>;
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
            pub use $crate::client::{ClientMessage, ClientSocket};

            /// How to connect. The defaults are the reference client's.
            pub type ClientBuilder = $crate::client::ClientBuilder<$runtime>;
        }

        pub use $crate::engineio_proto;
        pub use $crate::socketio_proto;
        pub use $crate::{AllowRequest, BoxError, Error, RemoteAddr, ResponseBody};
    };
}
