//! The protocol of socket.io-adapter's `ClusterAdapter` messages, as the sharded adapter
//! (`createShardedAdapter` of `@socket.io/redis-adapter` 8.3) and the streams adapter
//! (`@socket.io/redis-streams-adapter` 0.3) carry them.
//!
//! The streams adapter appends broadcasts and room operations to a stream, as entries of
//! `uid`, `nsp`, `type` and `data` (JSON, or base64 MessagePack when it carries binary), and
//! publishes requests and answers as MessagePack on the namespace's and the requester's
//! channels.
//!
//! The channels and messages are described in the parent module.

use std::time::Duration;

use bytes::Bytes;

use super::{
    Event, LocalSockets, Output, PubSub, RedisNode, ReplyTo, RequestType, Response, SubscriptionMode,
    event_packet, flags_timeout, number, rooms_of, selector_of, wire_opts, write_json,
};
use crate::cluster::msgpack;
use crate::server::{Room, Selector};
use crate::value::write_json_string;
use crate::{Namespace, Payload, Value};

/// socket.io-adapter's `MessageType` (the heartbeats and `ADAPTER_CLOSE` of its
/// heartbeat variant are not used by the sharded adapter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum MessageType {
    Broadcast = 3,
    SocketsJoin = 4,
    SocketsLeave = 5,
    DisconnectSockets = 6,
    FetchSockets = 7,
    FetchSocketsResponse = 8,
    ServerSideEmit = 9,
    ServerSideEmitResponse = 10,
    BroadcastClientCount = 11,
    BroadcastAck = 12,
}

impl MessageType {
    fn from_number(n: u64) -> Option<Self> {
        use MessageType as T;
        Some(match n {
            3 => T::Broadcast,
            4 => T::SocketsJoin,
            5 => T::SocketsLeave,
            6 => T::DisconnectSockets,
            7 => T::FetchSockets,
            8 => T::FetchSocketsResponse,
            9 => T::ServerSideEmit,
            10 => T::ServerSideEmitResponse,
            11 => T::BroadcastClientCount,
            12 => T::BroadcastAck,
            _ => return None,
        })
    }

    /// Whether it answers a request.
    fn is_response(self) -> bool {
        use MessageType as T;
        matches!(
            self,
            T::FetchSocketsResponse | T::ServerSideEmitResponse | T::BroadcastClientCount | T::BroadcastAck
        )
    }
}

/// Whether a room has a channel of its own in `mode`: in the dynamic mode, every room but
/// those that look like a Node socket's id (20 UTF-16 units, as `looksLikeASocketId`).
fn room_has_channel(mode: SubscriptionMode, room: &str) -> bool {
    match mode {
        SubscriptionMode::Static => false,
        SubscriptionMode::Dynamic => room.encode_utf16().count() != 20,
        SubscriptionMode::DynamicPrivate => true,
    }
}

/// A message in JSON, or in MessagePack when it carries binary.
fn encode(message: &Value) -> Vec<u8> {
    if message.has_binary() {
        return msgpack::encode(message);
    }
    let mut json = String::new();
    write_json(&mut json, message);
    json.into_bytes()
}

impl RedisNode {
    fn mode(&self) -> Option<SubscriptionMode> {
        match self.config.pubsub {
            PubSub::Classic | PubSub::Streams => None,
            PubSub::Sharded(mode) => Some(mode),
        }
    }

    pub(super) fn streams(&self) -> bool {
        matches!(self.config.pubsub, PubSub::Streams)
    }

    /// A message for pub/sub: the sharded adapter's JSON or MessagePack, the streams
    /// adapter's MessagePack.
    fn encode_published(&self, envelope: &Value) -> Vec<u8> {
        match self.streams() {
            true => msgpack::encode(envelope),
            false => encode(envelope),
        }
    }

    /// Sends a message every node must see in order (a broadcast without acks, a room
    /// operation, a disconnect): published on the namespace's channel, or appended to the
    /// stream.
    fn send_ordered(&mut self, namespace: &Namespace, kind: MessageType, data: Value) {
        if !self.streams() {
            let message = encode(&self.envelope(namespace, kind, data));
            return self.publish(self.channel(namespace), message);
        }
        self.append(namespace, kind, entry_data(&data), None);
    }

    /// Appends an entry to the stream; `unsent` is what to do instead if it cannot be.
    fn append(
        &mut self,
        namespace: &Namespace,
        kind: MessageType,
        data: Vec<u8>,
        unsent: Option<Box<Event>>,
    ) {
        let fields = vec![
            ("uid", Bytes::from(self.uid.clone())),
            ("nsp", Bytes::from(namespace.as_str().to_owned())),
            ("type", Bytes::from((kind as u8).to_string())),
            ("data", Bytes::from(data)),
        ];
        let (stream, max_len) = self.config.stream.clone();
        self.outputs.push_back(Output::Append { stream, max_len, fields, unsent });
    }

    /// An entry of the stream (its fields, as `XREAD` gives them); the node reads on after
    /// it.
    pub fn handle_entry(&mut self, id: &str, fields: &[(Bytes, Bytes)], local: &dyn LocalSockets) {
        // The buffer of the last position is reused: one per entry would be an allocation.
        match &mut self.stream_position {
            Some(position) => id.clone_into(position),
            None => self.stream_position = Some(id.to_owned()),
        }
        if let Some(broadcast) = super::streams::logged_broadcast(fields) {
            return self.on_logged_broadcast(id, broadcast);
        }
        let Some(message) = super::streams::entry_message(fields) else {
            return;
        };
        let Some(namespace) =
            message.get("nsp").and_then(Value::as_str).and_then(|nsp| self.known_namespace(nsp))
        else {
            return;
        };
        self.on_cluster_message(&namespace, false, Some(id), &message, local);
    }

    /// The namespace named `name`, if this node listens to it.
    fn known_namespace(&self, name: &str) -> Option<Namespace> {
        self.namespaces.iter().find(|ns| ns.as_str() == name).cloned()
    }

    /// A plain broadcast of the stream: delivered here (a node's own too, with recovery,
    /// under its entry id), its arguments never parsed.
    fn on_logged_broadcast(&mut self, id: &str, broadcast: super::streams::LoggedBroadcast<'_>) {
        let Some(namespace) = self.known_namespace(broadcast.nsp) else {
            return;
        };
        let offset = Some(id).filter(|_| self.config.recovery);
        if broadcast.uid == self.uid && offset.is_none() {
            return;
        }
        // A volatile event is not logged, so carries no offset.
        let selector = broadcast.selector;
        let offset = offset.filter(|_| !selector.volatile).map(str::to_owned);
        let payload = broadcast.payload;
        self.outputs.push_back(Output::event(Event::Broadcast { namespace, selector, payload, offset }));
    }

    /// The channel of this node's answers, or of another node's (`uid`).
    fn own_channel(&self, namespace: &Namespace, uid: &str) -> String {
        format!("{}{uid}#", self.channel(namespace))
    }

    fn room_channel(&self, namespace: &Namespace, room: &str) -> String {
        format!("{}{room}#", self.channel(namespace))
    }

    pub(super) fn sharded_subscription(&self, namespace: &Namespace) -> Output {
        let mut channels = vec![self.channel(namespace), self.own_channel(namespace, &self.uid)];
        if let Some(rooms) = self.room_channels.get(namespace) {
            let mut rooms: Vec<&Room> = rooms.iter().collect();
            rooms.sort_unstable();
            channels.extend(rooms.into_iter().map(|room| self.room_channel(namespace, room)));
        }
        Output::Subscribe { channels, patterns: Vec::new() }
    }

    /// A local room got its first socket: a sharded node in a dynamic mode listens on its
    /// channel (nothing otherwise).
    pub fn room_created(&mut self, namespace: &Namespace, room: &Room) {
        let Some(mode) = self.mode() else {
            return;
        };
        if !room_has_channel(mode, room) {
            return;
        }
        self.add_namespace(namespace);
        if self.room_channels.entry(namespace.clone()).or_default().insert(room.clone()) {
            let channels = vec![self.room_channel(namespace, room)];
            self.outputs.push_back(Output::Subscribe { channels, patterns: Vec::new() });
        }
    }

    /// A local room lost its last socket: its channel is left.
    pub fn room_deleted(&mut self, namespace: &Namespace, room: &str) {
        let Some(rooms) = self.room_channels.get_mut(namespace) else {
            return;
        };
        if rooms.remove(room) {
            if rooms.is_empty() {
                self.room_channels.remove(namespace);
            }
            let channels = vec![self.room_channel(namespace, room)];
            self.outputs.push_back(Output::Unsubscribe { channels, patterns: Vec::new() });
        }
    }

    /// `{"uid":…,"nsp":…,"type":…,"data":…}`.
    fn envelope(&self, namespace: &Namespace, kind: MessageType, data: Value) -> Value {
        Value::Object(vec![
            ("uid".into(), self.uid.as_str().into()),
            ("nsp".into(), namespace.as_str().into()),
            ("type".into(), (kind as u8).into()),
            ("data".into(), data),
        ])
    }

    /// Publishes a broadcast, or (with `ack`, its id on the wire and timeout) a broadcast
    /// whose recipients answer. A broadcast to one room without acks goes to the room's
    /// channel when it has one, as the reference's `computeChannel`.
    pub(super) fn sharded_broadcast(
        &mut self,
        namespace: &Namespace,
        selector: &Selector,
        payload: &Payload,
        ack: Option<(&str, Duration)>,
    ) {
        let opts = wire_opts(selector, true, ack.map(|(_, timeout)| timeout));
        let request_id = ack.map(|(id, _)| id);
        // With recovery, this node's sockets get it when it is read back; if it cannot be
        // appended, they get it all the same.
        let unsent = (self.streams() && self.config.recovery && ack.is_none()).then(|| {
            let selector = Selector { local: true, ..selector.clone() };
            let (namespace, payload) = (namespace.clone(), payload.clone());
            Box::new(Event::Broadcast { namespace, selector, payload, offset: None })
        });
        // Binary, and the streams adapter's ephemeral broadcast with acks, go as MessagePack.
        if payload.has_binary() || (self.streams() && ack.is_some()) {
            let Ok(data) = payload.to_value() else {
                // Not for the others; this node's sockets get it all the same.
                if let Some(unsent) = unsent {
                    self.outputs.push_back(Output::Event(unsent));
                }
                return;
            };
            let mut members = vec![("packet".into(), event_packet(namespace, data))];
            if let Some(request_id) = request_id {
                members.push(("requestId".into(), request_id.into()));
            }
            members.push(("opts".into(), opts));
            let data = Value::Object(members);
            if self.streams() && ack.is_none() {
                return self.append(namespace, MessageType::Broadcast, entry_data(&data), unsent);
            }
            let message = msgpack::encode(&self.envelope(namespace, MessageType::Broadcast, data));
            return self.publish(self.broadcast_channel(namespace, selector, ack.is_some()), message);
        }
        // The payload's JSON as it is: a broadcast is not parsed to be forwarded. The
        // streams adapter appends the message's `data` alone; the sharded one publishes the
        // whole message.
        let mut json = String::with_capacity(payload.json().len() + 128);
        if !self.streams() {
            json.push_str(r#"{"uid":"#);
            write_json_string(&mut json, &self.uid);
            json.push_str(r#","nsp":"#);
            write_json_string(&mut json, namespace.as_str());
            json.push_str(r#","type":3,"data":"#);
        }
        json.push_str(r#"{"packet":{"type":2,"data":"#);
        json.push_str(payload.json());
        json.push_str(r#","nsp":"#);
        write_json_string(&mut json, namespace.as_str());
        json.push('}');
        if let Some(request_id) = request_id {
            json.push_str(r#","requestId":"#);
            write_json_string(&mut json, request_id);
        }
        json.push_str(r#","opts":"#);
        write_json(&mut json, &opts);
        json.push('}');
        if self.streams() {
            return self.append(namespace, MessageType::Broadcast, json.into_bytes(), unsent);
        }
        json.push('}');
        self.publish(self.broadcast_channel(namespace, selector, ack.is_some()), json.into_bytes());
    }

    /// Where a broadcast goes: to one room without acks, the room's channel when it has
    /// one (the reference's `computeChannel`); else the namespace's.
    fn broadcast_channel(&self, namespace: &Namespace, selector: &Selector, with_acks: bool) -> String {
        match (self.mode(), with_acks, selector.rooms.as_slice()) {
            (Some(mode), false, [room]) if room_has_channel(mode, room) => self.room_channel(namespace, room),
            _ => self.channel(namespace),
        }
    }

    /// The `fetchSockets` request with id `request_id`.
    pub(super) fn sharded_fetch(
        &self,
        namespace: &Namespace,
        selector: &Selector,
        request_id: &str,
    ) -> Option<Vec<u8>> {
        let data = Value::Object(vec![
            ("opts".into(), wire_opts(selector, true, None)),
            ("requestId".into(), request_id.into()),
        ]);
        Some(self.encode_published(&self.envelope(namespace, MessageType::FetchSockets, data)))
    }

    /// `socketsJoin` or `socketsLeave` on the other nodes.
    pub(super) fn sharded_room_request(
        &mut self,
        namespace: &Namespace,
        selector: &Selector,
        kind: RequestType,
        rooms: &[Room],
    ) {
        let kind = match kind {
            RequestType::RemoteLeave => MessageType::SocketsLeave,
            _ => MessageType::SocketsJoin,
        };
        let rooms = Value::Array(rooms.iter().map(|room| Value::from(&**room)).collect());
        let data =
            Value::Object(vec![("opts".into(), wire_opts(selector, true, None)), ("rooms".into(), rooms)]);
        self.send_ordered(namespace, kind, data);
    }

    /// `disconnectSockets` on the other nodes.
    pub(super) fn sharded_disconnect(&mut self, namespace: &Namespace, selector: &Selector, close: bool) {
        let data = Value::Object(vec![
            ("opts".into(), wire_opts(selector, true, None)),
            ("close".into(), close.into()),
        ]);
        self.send_ordered(namespace, MessageType::DisconnectSockets, data);
    }

    /// A server-side event; with `request_id`, one that awaits the nodes' answers.
    pub(super) fn sharded_server_side_emit(
        &self,
        namespace: &Namespace,
        payload: &Payload,
        request_id: Option<&str>,
    ) -> Vec<u8> {
        let mut data = Vec::new();
        if let Some(request_id) = request_id {
            data.push(("requestId".into(), request_id.into()));
        }
        data.push(("packet".into(), payload.to_value().unwrap_or(Value::Array(Vec::new()))));
        self.encode_published(&self.envelope(namespace, MessageType::ServerSideEmit, Value::Object(data)))
    }

    /// Answers another node's request on its own channel: `{requestId, <field>: value}`.
    pub(super) fn sharded_respond(&mut self, reply: &ReplyTo, kind: MessageType, field: &str, value: Value) {
        let data = Value::Object(vec![
            ("requestId".into(), reply.request_id.as_str().into()),
            (field.into(), value),
        ]);
        let message = self.encode_published(&self.envelope(&reply.namespace, kind, data));
        self.publish(self.own_channel(&reply.namespace, &reply.uid), message);
    }

    /// A message on one of the namespace's channels.
    pub(super) fn on_sharded_message(
        &mut self,
        namespace: &Namespace,
        channel: &str,
        message: &[u8],
        local: &dyn LocalSockets,
    ) {
        let message = match message.first() {
            Some(b'{') => serde_json::from_slice::<Value>(message).ok(),
            _ => msgpack::decode(message).ok(),
        };
        let Some(message) = message else {
            return;
        };
        let own = channel == self.own_channel(namespace, &self.uid);
        self.on_cluster_message(namespace, own, None, &message, local);
    }

    /// A message of a node, decoded; `own` when it came on this node's channel, `entry` the
    /// id of the stream entry it was. A node's own messages come back on the stream, and
    /// are skipped but for its broadcasts with recovery, delivered then
    /// ([`RedisConfig::recovery`]).
    fn on_cluster_message(
        &mut self,
        namespace: &Namespace,
        own: bool,
        entry: Option<&str>,
        message: &Value,
        local: &dyn LocalSockets,
    ) {
        let uid = message.get("uid").and_then(Value::as_str).unwrap_or_default();
        let nsp = message.get("nsp").and_then(Value::as_str);
        if nsp != Some(namespace.as_str()) {
            return;
        }
        let kind = message.get("type").and_then(number).and_then(MessageType::from_number);
        let (Some(kind), Some(data)) = (kind, message.get("data")) else {
            return;
        };
        let offset = entry.filter(|_| self.config.recovery);
        let own_broadcast = kind == MessageType::Broadcast && data.get("requestId").is_none();
        if uid == self.uid && !(own_broadcast && offset.is_some()) {
            return;
        }
        if own || kind.is_response() {
            return self.on_sharded_response(kind, data);
        }
        let reply = data.get("requestId").and_then(Value::as_str).map(|request_id| ReplyTo {
            namespace: namespace.clone(),
            request_id: request_id.to_owned(),
            uid: uid.to_owned(),
        });
        if kind == MessageType::ServerSideEmit {
            let Some(packet @ Value::Array(_)) = data.get("packet") else {
                return;
            };
            let event = Event::ServerSideEmit {
                namespace: namespace.clone(),
                payload: Payload::from_value(packet),
                reply,
            };
            return self.outputs.push_back(Output::event(event));
        }
        // Every other message says which sockets.
        let Some(selector) = data.get("opts").map(selector_of) else {
            return;
        };
        let namespace = namespace.clone();
        let event = match kind {
            MessageType::Broadcast => {
                let Some(packet_data) = data.get("packet").and_then(|packet| packet.get("data")) else {
                    return;
                };
                let payload = Payload::from_value(packet_data);
                match reply {
                    None => {
                        // A volatile event is not logged, so carries no offset.
                        let offset = offset.filter(|_| !selector.volatile).map(str::to_owned);
                        Event::Broadcast { namespace, selector, payload, offset }
                    }
                    Some(reply) => {
                        let timeout = flags_timeout(data.get("opts"));
                        Event::BroadcastWithAck { namespace, selector, payload, timeout, reply }
                    }
                }
            }
            MessageType::SocketsJoin => {
                Event::Join { namespace, selector, rooms: rooms_of(data.get("rooms")) }
            }
            MessageType::SocketsLeave => {
                Event::Leave { namespace, selector, rooms: rooms_of(data.get("rooms")) }
            }
            MessageType::DisconnectSockets => {
                let close = matches!(data.get("close"), Some(Value::Bool(true)));
                Event::Disconnect { namespace, selector, close }
            }
            MessageType::FetchSockets => {
                let Some(reply) = reply else {
                    return;
                };
                let sockets = local
                    .fetch(&namespace, &selector)
                    .into_iter()
                    .map(|socket| {
                        Value::Object(vec![
                            ("id".into(), socket.id.into()),
                            ("handshake".into(), socket.handshake),
                            (
                                "rooms".into(),
                                Value::Array(socket.rooms.iter().map(|r| Value::from(&**r)).collect()),
                            ),
                            ("data".into(), socket.data),
                        ])
                    })
                    .collect();
                return self.sharded_respond(
                    &reply,
                    MessageType::FetchSocketsResponse,
                    "sockets",
                    Value::Array(sockets),
                );
            }
            _ => return,
        };
        self.outputs.push_back(Output::event(event));
    }

    /// Another node's answer to a request of this one.
    fn on_sharded_response(&mut self, kind: MessageType, data: &Value) {
        let Some(request_id) = data.get("requestId").and_then(Value::as_str) else {
            return;
        };
        let packet = || data.get("packet").cloned().unwrap_or(Value::Null);
        let response = match kind {
            MessageType::FetchSocketsResponse => match data.get("sockets") {
                Some(Value::Array(sockets)) => Response::Sockets(sockets.clone()),
                _ => return,
            },
            MessageType::ServerSideEmitResponse => Response::Reply(packet()),
            MessageType::BroadcastClientCount => {
                Response::ClientCount(data.get("clientCount").and_then(number).unwrap_or(0))
            }
            MessageType::BroadcastAck => Response::Ack(packet()),
            _ => return,
        };
        let request_id = request_id.to_owned();
        self.apply_response(&request_id, response);
    }
}

/// A message's `data` as a stream entry holds it: JSON, or base64 MessagePack when it
/// carries binary.
fn entry_data(data: &Value) -> Vec<u8> {
    if data.has_binary() {
        use base64::Engine as _;
        return base64::engine::general_purpose::STANDARD.encode(msgpack::encode(data)).into_bytes();
    }
    let mut json = String::new();
    write_json(&mut json, data);
    json.into_bytes()
}
