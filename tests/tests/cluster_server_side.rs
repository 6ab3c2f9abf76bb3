//! Events between the servers of a cluster (`serverSideEmit`) on a real redis-server: as
//! the reference's listeners, every handler of the name runs, and the first answer is the
//! server's answer.

use std::time::Duration;

use futures_channel::mpsc;
use futures_util::StreamExt;
use interop_tests::redis::RedisServer;
use socketio_tokio::AckResponses;
use socketio_tokio::server::{RedisAdapter, SocketIo};

/// `future`, or a panic after 10 s.
async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    interop_tests::wait::within::<socketio_tokio::Tokio, T>(Duration::from_secs(10), "awaited event", future)
        .await
}

#[test]
fn every_server_side_handler_of_a_name_runs_and_the_first_answers() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let redis = tokio::task::spawn_blocking(RedisServer::start).await.unwrap();
        let asking = SocketIo::builder().adapter(RedisAdapter::new(&redis.url()).unwrap()).build();
        let answering = SocketIo::builder().adapter(RedisAdapter::new(&redis.url()).unwrap()).build();
        let (ran, mut handlers_ran) = mpsc::unbounded::<&'static str>();
        for answer in ["one", "two"] {
            let ran = ran.clone();
            answering.on_server_side("hello", async move |message| {
                drop(ran.unbounded_send(answer));
                message.ack(&answer)
            });
        }
        let redis = tokio::task::spawn_blocking(move || {
            redis.wait_for_servers("socket.io", 2);
            redis
        })
        .await
        .unwrap();

        let answers: AckResponses<String> =
            within(asking.server_side_emit_with_ack("hello", &())).await.unwrap();
        assert_eq!(answers.answers, ["one"]);
        let mut ran = [within(handlers_ran.next()).await, within(handlers_ran.next()).await];
        ran.sort();
        assert_eq!(ran, [Some("one"), Some("two")]);
        drop(redis);
    });
}
