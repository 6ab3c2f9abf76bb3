//! The benchmark application (`shared/app.rs`) on our tokio server, one thread.

use socketio_tokio as rt;

#[path = "shared/app.rs"]
mod app;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    app::server().listen(app::addr()).await
}
