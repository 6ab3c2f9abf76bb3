//! Runs the reference scripts of `tests/js` with Node.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The `tests/js` folder.
pub fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// Installs the pinned npm packages of `tests/js` if they are not there yet.
pub fn ensure_packages() {
    let dir = js_dir();
    if dir.join("node_modules/.package-lock.json").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .expect("npm is needed for the reference suites");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

/// Runs `tests/js/<script>` with `input` on stdin; returns its stdout.
/// Panics with the script's stderr if it fails.
pub fn run_script(script: &str, input: &[u8]) -> Vec<u8> {
    run_script_with_args(script, &[], input)
}

/// [`run_script`] with command-line arguments.
pub fn run_script_with_args(script: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    ensure_packages();
    let mut child = Command::new("node")
        .arg(js_dir().join(script))
        .args(args)
        .current_dir(js_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is needed for the reference suites");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).expect("writing to the script");
    }
    let output = child.wait_with_output().expect("running the script");
    assert!(output.status.success(), "{script} failed: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}
