//! The benchmark application (`shared/app.rs`) on our smol server.

use socketio_smol as rt;

#[path = "shared/app.rs"]
mod app;

fn main() -> std::io::Result<()> {
    smol::block_on(app::server().listen(app::addr()))
}
