//! The official browser client, for the pages of the examples.

/// `builder` serving the official browser client at `/socket.io/socket.io.js`, read from
/// `SOCKET_IO_CLIENT_JS` or from the `socket.io-client` npm package installed under
/// `tests/js` (`npm ci`). A page may load it from the CDN instead:
/// `<script src="https://cdn.socket.io/4.8.1/socket.io.min.js"></script>`.
pub(crate) fn serving_browser_client(builder: crate::rt::server::Builder) -> crate::rt::server::Builder {
    let path = std::env::var("SOCKET_IO_CLIENT_JS").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/js/node_modules/socket.io-client/dist/socket.io.min.js"
        )
        .into()
    });
    match std::fs::read(&path) {
        Ok(script) => builder.serve_client(script),
        Err(error) => {
            eprintln!("cannot read the browser client at {path} ({error}); run `npm ci` in tests/js");
            builder
        }
    }
}
