//! What a server process holds, read from `/proc`: for leak tests that measure before and
//! after.

/// The open file descriptors of process `pid`.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(Iterator::count).unwrap_or(0)
}

/// The resident memory of process `pid`, in KiB.
pub fn resident_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Waits up to 30 s for process `pid`'s descriptors to come back to `baseline`.
///
/// # Panics
/// When more are still open after 30 s.
pub fn descriptors_return(pid: u32, baseline: usize, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while open_fds(pid) > baseline {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: {} descriptors open, {baseline} before",
            open_fds(pid)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
