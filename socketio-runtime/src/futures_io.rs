//! Between hyper's IO traits and `futures-io`: hyper streams seen as `futures-io` for
//! async-tungstenite ([`FuturesIo`]: an upgraded HTTP connection on the server, a plain TCP
//! stream on the client), and `futures-io` sockets seen by hyper ([`HyperIo`]).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::rt::ReadBuf;

/// A hyper stream that reads and writes as `futures-io`.
pub(crate) struct FuturesIo<T>(pub(crate) T);

impl<T: hyper::rt::Read + Unpin> futures_io::AsyncRead for FuturesIo<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut read = ReadBuf::new(buf);
        match hyper::rt::Read::poll_read(Pin::new(&mut self.get_mut().0), cx, read.unfilled()) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(read.filled().len())),
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: hyper::rt::Write + Unpin> futures_io::AsyncWrite for FuturesIo<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        hyper::rt::Write::poll_write(Pin::new(&mut self.get_mut().0), cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        hyper::rt::Write::poll_write_vectored(Pin::new(&mut self.get_mut().0), cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        hyper::rt::Write::poll_flush(Pin::new(&mut self.get_mut().0), cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        hyper::rt::Write::poll_shutdown(Pin::new(&mut self.get_mut().0), cx)
    }
}

/// A `futures-io` stream that hyper reads and writes (the other direction): what a runtime
/// whose sockets speak `futures-io` hands hyper.
///
/// hyper reads into uninitialised memory, which safe code may not hand to a `futures-io`
/// reader; zero-filling hyper's whole buffer before each read, as adapters commonly do,
/// costs a memset of 8 KiB or more per read and keeps that buffer resident for every idle
/// connection. Instead, each read goes into a per-thread scratch buffer and only the bytes
/// read are copied into hyper's.
#[derive(Debug)]
pub struct HyperIo<T>(pub T);

/// The most one read takes.
const SCRATCH: usize = 16 * 1024;

thread_local! {
    static SCRATCH_BUFFER: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0; SCRATCH].into_boxed_slice());
}

impl<T: futures_io::AsyncRead + Unpin> hyper::rt::Read for HyperIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let inner = &mut self.get_mut().0;
        SCRATCH_BUFFER.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => read_through(inner, cx, &mut buf, &mut scratch),
            // A `HyperIo` inside another (TLS over a runtime whose sockets are `HyperIo`
            // already) reads while the outer one holds the thread's buffer: use the stack.
            Err(_) => read_through(inner, cx, &mut buf, &mut [0; NESTED_SCRATCH]),
        })
    }
}

/// The most a nested [`HyperIo`] reads at once.
const NESTED_SCRATCH: usize = 4096;

/// Reads from `inner` into `scratch`, then copies what was read into hyper's `buf`.
fn read_through<T: futures_io::AsyncRead + Unpin>(
    inner: &mut T,
    cx: &mut Context<'_>,
    buf: &mut hyper::rt::ReadBufCursor<'_>,
    scratch: &mut [u8],
) -> Poll<io::Result<()>> {
    let len = buf.remaining().min(scratch.len());
    let Some(scratch) = scratch.get_mut(..len) else {
        return Poll::Ready(Ok(()));
    };
    match Pin::new(inner).poll_read(cx, scratch) {
        Poll::Ready(Ok(n)) => {
            buf.put_slice(scratch.get(..n).unwrap_or_default());
            Poll::Ready(Ok(()))
        }
        Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
        Poll::Pending => Poll::Pending,
    }
}

impl<T: futures_io::AsyncWrite + Unpin> hyper::rt::Write for HyperIo<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_close(cx)
    }
}
