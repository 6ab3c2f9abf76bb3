//! What each crate may pull in: the proto crates no IO, async or executor at all; the
//! executor-neutral runtime half and the smol runtime no executor, reactor or timer of
//! tokio's (hyper itself needs tokio's `sync` channels, which run on any executor).

use std::collections::BTreeMap;
use std::process::Command;

/// The packages in the normal (non-dev) dependency tree of `package`, with their features.
fn tree(package: &str) -> BTreeMap<String, Vec<String>> {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-f",
            "{p}|{f}",
            "-p",
            package,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo tree");
    assert!(output.status.success(), "cargo tree -p {package}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (package, features) = line.split_once('|')?;
            let name = package.split(' ').next()?.to_owned();
            let features = features.split(' ').next().unwrap_or("");
            Some((name, features.split(',').filter(|f| !f.is_empty()).map(str::to_owned).collect()))
        })
        .collect()
}

#[test]
fn the_proto_crates_do_no_io_and_need_no_executor() {
    let banned = ["tokio", "smol", "async-io", "async-net", "hyper", "tungstenite", "futures-util", "mio"];
    for package in ["engineio-proto", "socketio-proto"] {
        let tree = tree(package);
        assert!(tree.contains_key(package), "cargo tree lists {package} itself");
        for name in banned {
            assert!(!tree.contains_key(name), "{package} depends on {name}");
        }
    }
}

#[test]
fn the_shared_runtime_half_and_smol_pull_in_no_tokio_executor() {
    for package in ["socketio-runtime", "socketio-smol"] {
        let tree = tree(package);
        assert!(!tree.contains_key("hyper-util"), "{package} depends on hyper-util");
        assert!(!tree.contains_key("mio"), "{package} depends on mio (tokio's reactor)");
        let tokio = tree.get("tokio").cloned().unwrap_or_default();
        let runtime_features: Vec<_> =
            tokio.iter().filter(|f| !matches!(f.as_str(), "default" | "sync")).collect();
        assert!(runtime_features.is_empty(), "{package} enables tokio features {runtime_features:?}");
    }
    assert!(tree("socketio-smol").contains_key("async-io"), "socketio-smol runs on async-io");
}
