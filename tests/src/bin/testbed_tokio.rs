//! The interop testbed server (`src/testbed.rs`) on tokio. `PORT` as for the examples.

mod rt {
    pub(crate) use socketio_tokio::Tokio as Rt;
    pub(crate) use socketio_tokio::*;
}

#[path = "../testbed.rs"]
mod testbed;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    testbed::server().listen(testbed::addr()).await
}
