//! Property tests: every packet of both codecs encodes and decodes to itself.

use bytes::BytesMut;
use engineio_proto::{Frame, PayloadFormat, decode_payload, encode_payload};
use interop_tests::strategies;
use proptest::prelude::*;
use socketio_proto::{DecodeLimits, Decoder, Payload};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn engine_packet_in_websocket_form(packet in strategies::engine_packet()) {
        let frame = packet.to_frame();
        prop_assert_eq!(engineio_proto::Packet::decode_frame(frame), Ok(packet));
    }

    #[test]
    fn engine_packet_with_any_text_in_websocket_form(text in any::<String>()) {
        let packet = engineio_proto::Packet::message(text);
        prop_assert_eq!(engineio_proto::Packet::decode_frame(packet.to_frame()), Ok(packet));
    }

    #[test]
    fn engine_payload(packets in proptest::collection::vec(strategies::engine_packet(), 1..12)) {
        let mut body = BytesMut::new();
        encode_payload(&packets, &mut body);
        let len = body.len();
        let decoded: Result<Vec<_>, _> =
            decode_payload(PayloadFormat::V4, body.freeze(), len).unwrap().collect();
        prop_assert_eq!(decoded, Ok(packets));
    }

    #[test]
    fn socket_packet_through_engine_messages(packet in strategies::socket_packet()) {
        let mut decoder = Decoder::new(DecodeLimits { max_attachments: usize::MAX });
        let mut decoded = None;
        for message in packet.to_engine_packets() {
            prop_assert!(decoded.is_none(), "packet complete before its last attachment");
            // Through the WebSocket form, as a server would receive it.
            let engine = engineio_proto::Packet::decode_frame(message.to_frame()).unwrap();
            decoded = decoder.feed(engine.data).unwrap();
        }
        prop_assert_eq!(decoded, Some(packet));
        prop_assert_eq!(decoder.missing_attachments(), 0);
    }

    #[test]
    fn socket_packet_through_a_polling_payload(packet in strategies::socket_packet()) {
        let mut body = BytesMut::new();
        encode_payload(&packet.to_engine_packets(), &mut body);
        let len = body.len();
        let mut decoder = Decoder::new(DecodeLimits { max_attachments: usize::MAX });
        let mut decoded = Vec::new();
        for engine in decode_payload(PayloadFormat::V4, body.freeze(), len).unwrap() {
            decoded.extend(decoder.feed(engine.unwrap().data).unwrap());
        }
        prop_assert_eq!(decoded, vec![packet]);
    }

    #[test]
    fn text_lengths_are_exact(packet in strategies::socket_packet()) {
        prop_assert_eq!(packet.text_len(), packet.to_text().len());
    }

    #[test]
    fn dynamic_value(value in strategies::value(true)) {
        let payload = Payload::from_value(&value);
        prop_assert_eq!(payload.to_value(), Ok(value));
    }

    #[test]
    fn frames_of_text_are_text(text in strategies::payload_text()) {
        let frame = engineio_proto::Packet::message(text.clone()).to_frame();
        prop_assert_eq!(frame, Frame::Text(format!("4{text}").into()));
    }
}
