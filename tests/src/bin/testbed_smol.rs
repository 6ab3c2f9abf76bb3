//! The interop testbed server (`src/testbed.rs`) on smol. `PORT` as for the examples.

mod rt {
    pub(crate) use socketio_smol::Smol as Rt;
    pub(crate) use socketio_smol::*;
}

#[path = "../testbed.rs"]
mod testbed;

fn main() -> std::io::Result<()> {
    smol::block_on(testbed::server().listen(testbed::addr()))
}
