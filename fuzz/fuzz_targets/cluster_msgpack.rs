#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socketio_proto::fuzz::msgpack(data));
