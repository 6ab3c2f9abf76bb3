//! Property tests of the Redis protocol reader: whatever replies a server sends, cut
//! anywhere, read back as they were.

use bytes::Bytes;
use proptest::prelude::*;
use socketio_proto::cluster::resp::{Reply, ReplyReader, command};

fn reply() -> impl Strategy<Value = Reply> {
    let line = "[a-zA-Z0-9 ]{0,12}";
    let leaf = prop_oneof![
        line.prop_map(Reply::Simple),
        line.prop_map(|text| Reply::Error(format!("ERR {text}"))),
        any::<i64>().prop_map(Reply::Integer),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|bytes| Reply::Bulk(Bytes::from(bytes))),
        Just(Reply::Nil),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| proptest::collection::vec(inner, 0..6).prop_map(Reply::Array))
}

proptest! {
    #[test]
    fn replies_read_back_whatever_the_cuts(
        replies in proptest::collection::vec(reply(), 1..6),
        cuts in proptest::collection::vec(1usize..20, 0..40),
    ) {
        let bytes: Vec<u8> = replies.iter().flat_map(Reply::encode).collect();
        let mut reader = ReplyReader::default();
        let mut read = Vec::new();
        let mut rest = bytes.as_slice();
        for cut in cuts.into_iter().chain(std::iter::once(usize::MAX)) {
            let (chunk, tail) = rest.split_at(cut.min(rest.len()));
            reader.feed(chunk);
            rest = tail;
            while let Some(reply) = reader.next_reply().unwrap() {
                read.push(reply);
            }
        }
        prop_assert_eq!(read, replies);
        prop_assert_eq!(reader.buffered(), 0);
    }

    #[test]
    fn commands_read_as_arrays_of_bulk_strings(args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..30), 1..8)) {
        let slices: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let mut reader = ReplyReader::default();
        reader.feed(&command(&slices));
        let expected = Reply::Array(args.iter().map(|arg| Reply::Bulk(Bytes::copy_from_slice(arg))).collect());
        prop_assert_eq!(reader.next_reply().unwrap(), Some(expected));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut reader = ReplyReader::default();
        reader.feed(&bytes);
        while let Ok(Some(_)) = reader.next_reply() {}
    }
}
