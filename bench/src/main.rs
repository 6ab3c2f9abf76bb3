//! Runs the end-to-end benchmark and prints its table (see the crate docs of `e2e_bench`).
//!
//! `cargo run --release -p e2e-bench [-- --quick] [--peers tokio,node] [--only fan-out]`
//!
//! The servers run pinned to core 0, this load generator to core 1, where `taskset` allows.
//! Needs `npm ci` in `tests/js` for the Node server.

use e2e_bench::report;
use e2e_bench::scenarios::Settings;
use e2e_bench::servers::{self, Peer};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = if args.iter().any(|a| a == "--quick") { Settings::smoke() } else { Settings::full() };
    let peers: Vec<Peer> = match args.iter().position(|a| a == "--peers").and_then(|i| args.get(i + 1)) {
        Some(list) => Peer::ALL
            .into_iter()
            .filter(|p| list.split(',').any(|name| p.name().contains(name.trim())))
            .collect(),
        None => Peer::ALL.to_vec(),
    };
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).map(String::as_str);
    servers::build_servers()?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let server_core = (cores >= 2 && servers::pin_self(1)).then_some(0);
    match server_core {
        Some(_) => eprintln!("servers pinned to core 0, load generator to core 1"),
        None => eprintln!("not pinned: servers and load generator share the cores"),
    }
    let rows = report::run(&settings, &peers, server_core, only);
    println!("{}", report::table(&rows, settings.common_rate));
    Ok(())
}
