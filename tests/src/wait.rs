//! Waiting on events with a limit, on any runtime.

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::future::{Either, select};
use socketio_runtime::Runtime;

/// `future`'s output, or a panic naming `what` once `limit` has passed.
///
/// # Panics
/// When `future` is not ready within `limit`.
pub async fn within<R: Runtime, T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    let timeout = R::sleep_until(Instant::now() + limit);
    match select(std::pin::pin!(future), std::pin::pin!(timeout)).await {
        Either::Left((value, _)) => value,
        Either::Right(_) => panic!("no {what} within {limit:?}"),
    }
}
