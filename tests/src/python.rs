//! Runs the python-socketio scenarios of `tests/python` in the project's own virtualenv.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The virtualenv's Python, created from `tests/python/requirements.lock` if missing.
pub fn python() -> PathBuf {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let venv = root.join(".venv");
            let python = venv.join("bin/python");
            let lock = root.join("python/requirements.lock");
            let stamp = venv.join("installed.lock");
            let current = std::fs::read(&lock).expect("tests/python/requirements.lock");
            if std::fs::read(&stamp).ok().as_deref() != Some(current.as_slice()) {
                let status = Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
                assert!(status.is_ok_and(|s| s.success()), "creating {}", venv.display());
                let status = Command::new(&python)
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                        "--no-deps",
                        "-r",
                    ])
                    .arg(&lock)
                    .status();
                assert!(status.is_ok_and(|s| s.success()), "installing {}", lock.display());
                std::fs::write(&stamp, current).expect("writing the install stamp");
            }
            python
        })
        .clone()
}

/// Runs `tests/python/<script>` with `args`; returns its stdout.
pub fn run_script(script: &str, args: &[&str]) -> Vec<u8> {
    let script_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python").join(script);
    let output = Command::new(python()).arg(script_path).args(args).output().expect("running python");
    assert!(output.status.success(), "{script} failed: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}
