//! One Engine.IO session: its transport, buffered packets, heartbeat and upgrade.

use crate::deadline_after;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderMap;

use super::heartbeat::{Beat, Heartbeat};
use super::response::{self, Response};
use super::{
    BodyError, CloseReason, ConnId, ErrorCode, Event, Output, PollId, PostBody, Posted, SendError,
    ServerConfig, Sid, TransportKind,
};
use crate::{Data, Frame, Packet, PacketType, PayloadDecoder, PayloadFormat, SEPARATOR, decode_payload};

/// Packets of a POST body handled per step: a large body of small packets does not hold
/// the server for the whole body at once, and stops between steps while the application
/// holds too much.
pub(crate) const BODY_STEP: usize = 64;

/// How long a poll arriving while an upgrade finishes is held before it is answered with a
/// noop, as the reference's 100 ms check: long enough that a client polling in a loop does
/// not spin, short enough that one whose poll crossed the probe pauses promptly.
const UPGRADE_NOOP_DELAY: Duration = Duration::from_millis(100);

/// WebSocket close code for a normal close.
const WS_NORMAL: u16 = 1000;
/// WebSocket close code for a message over `max_payload`.
const WS_TOO_BIG: u16 = 1009;

#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) sid: Sid,
    state: State,
    transport: Transport,
    upgrade: Option<Upgrade>,
    outbox: VecDeque<Frame>,
    outbox_bytes: usize,
    heartbeat: Heartbeat,
    /// While above zero, what is sent waits in the outbox ([`Server::cork`](super::Server::cork)):
    /// each cork is undone by its own uncork.
    corks: u32,
    /// The deadline last handed to the server's timer queue.
    pub(crate) scheduled: Option<Instant>,
    /// Bytes of its messages the application holds ([`Server::hold`](super::Server::hold)).
    pub(crate) held: usize,
    /// Its input is not read until the application catches up.
    pub(crate) paused: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// The server asked to close; buffered packets go out with a close packet on the next poll.
    Closing {
        deadline: Instant,
    },
    Closed,
}

#[derive(Debug)]
enum Transport {
    Polling {
        /// The GET waiting for packets, with the CORS headers its response needs.
        poll: Option<(PollId, HeaderMap)>,
        /// Whether a POST body is being read.
        posting: bool,
    },
    WebSocket {
        conn: ConnId,
        /// Batches handed to the adapter and not yet written.
        in_flight: u32,
    },
}

/// A WebSocket trying to take over from polling.
#[derive(Debug)]
struct Upgrade {
    conn: ConnId,
    probed: bool,
    in_flight: u32,
    deadline: Instant,
    /// When the poll held since the probe is answered with a noop.
    noop_at: Option<Instant>,
}

/// The outcome of a GET on a polling session.
pub(crate) enum PollAnswer {
    Now(Response),
    Later,
}

impl Session {
    /// A session whose first request was a polling GET: the open packet waits for it.
    pub(crate) fn polling(sid: Sid, now: Instant, config: &ServerConfig) -> Self {
        let mut session = Session::new(sid, Transport::Polling { poll: None, posting: false }, now, config);
        session.push(open_frame(sid, TransportKind::Polling, config));
        session
    }

    /// A session that started on WebSocket: the open packet goes out at once.
    pub(crate) fn websocket(
        sid: Sid,
        conn: ConnId,
        now: Instant,
        config: &ServerConfig,
        out: &mut VecDeque<Output>,
    ) -> Self {
        let mut session = Session::new(sid, Transport::WebSocket { conn, in_flight: 0 }, now, config);
        session.push(open_frame(sid, TransportKind::WebSocket, config));
        session.flush(config, out);
        session
    }

    fn new(sid: Sid, transport: Transport, now: Instant, config: &ServerConfig) -> Self {
        Session {
            sid,
            state: State::Open,
            transport,
            upgrade: None,
            outbox: VecDeque::new(),
            outbox_bytes: 0,
            heartbeat: Heartbeat::start(now, config),
            corks: 0,
            scheduled: None,
            held: 0,
            paused: false,
        }
    }

    /// Whether its input is read (the application does not hold too much of it).
    pub(crate) fn is_readable(&self) -> bool {
        !self.paused
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    pub(crate) fn transport_kind(&self) -> TransportKind {
        match self.transport {
            Transport::Polling { .. } => TransportKind::Polling,
            Transport::WebSocket { .. } => TransportKind::WebSocket,
        }
    }

    /// Whether a frame sent now would be handed to the transport at once.
    pub(crate) fn is_writable(&self) -> bool {
        self.state == State::Open
            && self.outbox.is_empty()
            && match &self.transport {
                Transport::Polling { poll, .. } => poll.is_some(),
                Transport::WebSocket { in_flight, .. } => *in_flight == 0,
            }
    }

    /// Whether a WebSocket may start an upgrade now.
    pub(crate) fn can_upgrade(&self) -> bool {
        self.state == State::Open && self.upgrade.is_none() && self.transport_kind() == TransportKind::Polling
    }

    /// The pending poll, if any.
    pub(crate) fn pending_poll(&self) -> Option<PollId> {
        match &self.transport {
            Transport::Polling { poll: Some((id, _)), .. } => Some(*id),
            _ => None,
        }
    }

    /// Every WebSocket connection this session owns.
    pub(crate) fn conns(&self) -> impl Iterator<Item = ConnId> + '_ {
        let transport = match self.transport {
            Transport::WebSocket { conn, .. } => Some(conn),
            Transport::Polling { .. } => None,
        };
        transport.into_iter().chain(self.upgrade.as_ref().map(|u| u.conn))
    }

    /// The earliest time [`Session::on_timeout`] has something to do.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let closing = match self.state {
            State::Closing { deadline } => Some(deadline),
            _ => None,
        };
        let upgrade = self.upgrade.as_ref().map(|u| u.noop_at.map_or(u.deadline, |at| at.min(u.deadline)));
        [self.heartbeat.deadline(), upgrade, closing].into_iter().flatten().min()
    }

    // ---- polling ----

    /// A GET poll.
    pub(crate) fn on_poll(
        &mut self,
        now: Instant,
        poll: PollId,
        cors: HeaderMap,
        config: &ServerConfig,
        out: &mut VecDeque<Output>,
    ) -> PollAnswer {
        let Transport::Polling { poll: pending, .. } = &mut self.transport else {
            return PollAnswer::Now(response::error(ErrorCode::BadRequest, None, cors));
        };
        if pending.is_some() {
            // Two concurrent polls: refuse the second and close, as the reference does.
            self.close(CloseReason::TransportError, out);
            return PollAnswer::Now(response::error(ErrorCode::BadRequest, None, cors));
        }
        if (!self.outbox.is_empty() && self.corks == 0) || matches!(self.state, State::Closing { .. }) {
            let (response, closing) = self.take_payload(cors, config);
            if closing {
                self.finish(CloseReason::ForcedClose, WS_NORMAL, out);
            }
            return PollAnswer::Now(response);
        }
        *pending = Some((poll, cors));
        if let Some(upgrade) = self.upgrade.as_mut().filter(|u| u.probed) {
            // The client should be pausing polling to finish the upgrade, but this poll may
            // have crossed the probe: it waits for packets (a ping) as any poll, and gets a
            // noop shortly if none come, so the client can pause without spinning.
            upgrade.noop_at = Some(deadline_after(now, UPGRADE_NOOP_DELAY));
        }
        PollAnswer::Later
    }

    /// A GET poll whose connection went away before it was answered.
    pub(crate) fn on_poll_aborted(&mut self, poll: PollId, out: &mut VecDeque<Output>) {
        if self.pending_poll() == Some(poll) {
            if let Transport::Polling { poll, .. } = &mut self.transport {
                *poll = None;
            }
            self.close(CloseReason::TransportError, out);
        }
    }

    /// A POST arrives: whether its body may be read. A concurrent POST, or binary content
    /// on a v4 session, closes the session.
    pub(crate) fn begin_post(&mut self, binary: bool, out: &mut VecDeque<Output>) -> bool {
        match &mut self.transport {
            Transport::Polling { posting, .. } if !*posting && !binary => {
                *posting = true;
                true
            }
            Transport::Polling { .. } => {
                self.close(CloseReason::TransportError, out);
                false
            }
            Transport::WebSocket { .. } => false,
        }
    }

    /// A POST body arrived, or why it could not be read: its packets, to hand to [`Session::on_post_packets`], or the
    /// answer at once (`None`: the request is gone).
    pub(crate) fn on_post_body(
        &mut self,
        body: Result<Bytes, BodyError>,
        cors: HeaderMap,
        config: &ServerConfig,
        out: &mut VecDeque<Output>,
    ) -> Posted {
        let body = match body {
            Ok(body) if body.len() <= config.max_payload => body,
            Ok(_) | Err(BodyError::TooLarge) => {
                self.posted();
                return Posted::Answer(Some(response::too_large(cors)));
            }
            Err(BodyError::Aborted) => {
                self.posted();
                self.close(CloseReason::TransportError, out);
                return Posted::Answer(None);
            }
        };
        match decode_payload(PayloadFormat::V4, body, config.max_payload) {
            Ok(packets) => Posted::More(PostBody { sid: self.sid, cors, packets }),
            Err(_) => {
                self.posted();
                self.close(CloseReason::ParseError, out);
                Posted::Answer(Some(response::error(ErrorCode::BadRequest, None, cors)))
            }
        }
    }

    /// Handles the next [`BODY_STEP`] packets of a POST body: the answer once it is done.
    pub(crate) fn on_post_packets(
        &mut self,
        now: Instant,
        packets: &mut PayloadDecoder,
        cors: &HeaderMap,
        config: &ServerConfig,
        out: &mut VecDeque<Output>,
    ) -> Option<Response> {
        for _ in 0..BODY_STEP {
            let Some(packet) = packets.next() else {
                self.posted();
                return Some(response::ok(cors.clone()));
            };
            let result = match packet {
                Ok(packet) => self.on_packet(now, packet, config, out),
                Err(_) => Err(CloseReason::ParseError),
            };
            if let Err(reason) = result {
                self.posted();
                self.close(reason, out);
                return Some(match reason {
                    CloseReason::ParseError => response::error(ErrorCode::BadRequest, None, cors.clone()),
                    _ => response::ok(cors.clone()),
                });
            }
        }
        None
    }

    /// The request of a POST body still being handled went away.
    pub(crate) fn abort_post(&mut self, out: &mut VecDeque<Output>) {
        self.posted();
        self.close(CloseReason::TransportError, out);
    }

    /// The POST body is done with: another may come.
    fn posted(&mut self) {
        if let Transport::Polling { posting, .. } = &mut self.transport {
            *posting = false;
        }
    }

    /// Answers a poll with buffered packets; a closing session whose buffer is already
    /// empty answers with the close packet instead, and says so (`true`): it must then be
    /// finished. As in the reference, the close packet never shares a response with other
    /// packets: clients handle those a tick later, after the close.
    fn take_payload(&mut self, cors: HeaderMap, config: &ServerConfig) -> (Response, bool) {
        if matches!(self.state, State::Closing { .. }) && self.outbox.is_empty() {
            return (response::payload(Bytes::from_static(b"1"), cors), true);
        }
        let mut body = BytesMut::new();
        while let Some(frame) = self.outbox.front() {
            let len = frame_polling_len(frame);
            if !body.is_empty() && body.len() + 1 + len > config.max_payload {
                break;
            }
            if !body.is_empty() {
                body.put_u8(SEPARATOR);
            }
            put_polling(&mut body, frame);
            self.outbox_bytes = self.outbox_bytes.saturating_sub(frame_len(frame));
            self.outbox.pop_front();
        }
        (response::payload(body.freeze(), cors), false)
    }

    /// Answers the pending poll with buffered packets.
    fn answer_poll_with_outbox(&mut self, config: &ServerConfig, out: &mut VecDeque<Output>) {
        if let Transport::Polling { poll, .. } = &mut self.transport {
            if let Some((id, cors)) = poll.take() {
                let (response, closing) = self.take_payload(cors, config);
                out.push_back(Output::Respond { poll: id, response });
                if closing {
                    self.finish(CloseReason::ForcedClose, WS_NORMAL, out);
                }
            }
        }
    }

    // ---- WebSocket ----

    /// A WebSocket joins this polling session to upgrade it.
    pub(crate) fn begin_upgrade(&mut self, now: Instant, conn: ConnId, config: &ServerConfig) {
        self.upgrade = Some(Upgrade {
            conn,
            probed: false,
            in_flight: 0,
            deadline: deadline_after(now, config.upgrade_timeout),
            noop_at: None,
        });
    }

    pub(crate) fn on_ws_frame(
        &mut self,
        now: Instant,
        conn: ConnId,
        frame: Frame,
        config: &ServerConfig,
        out: &mut VecDeque<Output>,
    ) {
        if frame_len(&frame) > config.max_payload {
            return self.on_ws_too_large(conn, out);
        }
        if self.upgrade.as_ref().is_some_and(|u| u.conn == conn) {
            return self.on_upgrade_frame(now, frame, config, out);
        }
        if !matches!(self.transport, Transport::WebSocket { conn: c, .. } if c == conn) {
            return;
        }
        let result = match Packet::decode_frame(frame) {
            Ok(packet) => self.on_packet(now, packet, config, out),
            Err(_) => Err(CloseReason::ParseError),
        };
        if let Err(reason) = result {
            self.close(reason, out);
        }
    }

    /// A message over `max_payload`: the connection closes with 1009, and the session with
    /// it unless the connection was only probing an upgrade.
    pub(crate) fn on_ws_too_large(&mut self, conn: ConnId, out: &mut VecDeque<Output>) {
        if self.upgrade.as_ref().is_some_and(|u| u.conn == conn) {
            self.abort_upgrade(WS_TOO_BIG, out);
        } else if matches!(self.transport, Transport::WebSocket { conn: c, .. } if c == conn) {
            self.close_with(CloseReason::TransportError, WS_TOO_BIG, out);
        }
    }

    fn on_upgrade_frame(
        &mut self,
        now: Instant,
        frame: Frame,
        config: &ServerConfig,
        out: &mut VecDeque<Output>,
    ) {
        let Some(upgrade) = self.upgrade.as_mut() else {
            return;
        };
        match Packet::decode_frame(frame) {
            // One probe per upgrade is answered; repeats are dropped, so a flood of probes
            // queues nothing.
            Ok(Packet { kind: PacketType::Ping, data: Data::Text(text) })
                if &*text == "probe" && upgrade.probed => {}
            Ok(Packet { kind: PacketType::Ping, data: Data::Text(text) }) if &*text == "probe" => {
                upgrade.probed = true;
                upgrade.in_flight += 1;
                let probe = Frame::Text("3probe".into());
                out.push_back(Output::WsSend { conn: upgrade.conn, frames: vec![probe] });
                // Release the pending poll so the client can pause polling.
                self.answer_poll(Bytes::from_static(b"6"), out);
            }
            Ok(Packet { kind: PacketType::Upgrade, .. }) if self.state != State::Closed => {
                let conn = upgrade.conn;
                let in_flight = upgrade.in_flight;
                self.upgrade = None;
                self.answer_poll(Bytes::from_static(b"6"), out);
                self.transport = Transport::WebSocket { conn, in_flight };
                self.heartbeat.on_other_packet(now, config);
                out.push_back(Output::Event(Event::Upgraded { sid: self.sid }));
                if matches!(self.state, State::Closing { .. }) {
                    // Closed while upgrading: the rest goes over the WebSocket, then it closes.
                    self.close_websocket(conn, out);
                } else {
                    self.flush(config, out);
                }
            }
            _ => self.abort_upgrade(WS_NORMAL, out),
        }
    }

    fn abort_upgrade(&mut self, code: u16, out: &mut VecDeque<Output>) {
        if let Some(upgrade) = self.upgrade.take() {
            out.push_back(Output::WsClose { conn: upgrade.conn, code });
        }
    }

    /// The adapter wrote a batch of frames.
    pub(crate) fn on_ws_drained(&mut self, conn: ConnId, config: &ServerConfig, out: &mut VecDeque<Output>) {
        match (&mut self.transport, &mut self.upgrade) {
            (Transport::WebSocket { conn: c, in_flight }, _) if *c == conn => {
                *in_flight = in_flight.saturating_sub(1)
            }
            (_, Some(upgrade)) if upgrade.conn == conn => {
                upgrade.in_flight = upgrade.in_flight.saturating_sub(1)
            }
            _ => return,
        }
        self.flush(config, out);
    }

    /// A WebSocket connection closed or failed.
    pub(crate) fn on_ws_closed(&mut self, conn: ConnId, out: &mut VecDeque<Output>) {
        if self.upgrade.as_ref().is_some_and(|u| u.conn == conn) {
            self.upgrade = None;
        } else if matches!(self.transport, Transport::WebSocket { conn: c, .. } if c == conn) {
            self.close(CloseReason::TransportClose, out);
        }
    }

    // ---- packets ----

    fn on_packet(
        &mut self,
        now: Instant,
        packet: Packet,
        config: &ServerConfig,
        out: &mut VecDeque<Output>,
    ) -> Result<(), CloseReason> {
        if packet.kind != PacketType::Pong {
            self.heartbeat.on_other_packet(now, config);
        }
        match packet.kind {
            PacketType::Pong => self.heartbeat.on_pong(now, config),
            // v4 heartbeats go from server to client only.
            PacketType::Ping => return Err(CloseReason::TransportError),
            PacketType::Close => {
                // The client leaves: a waiting GET gets a noop, as the reference answers it.
                self.answer_poll(Bytes::from_static(b"6"), out);
                return Err(CloseReason::TransportClose);
            }
            PacketType::Message => {
                out.push_back(Output::Event(Event::Message { sid: self.sid, data: packet.data }));
            }
            PacketType::Open | PacketType::Upgrade | PacketType::Noop => {}
        }
        Ok(())
    }

    // ---- sending ----

    /// Queues a frame and sends what the transport can take.
    pub(crate) fn send(
        &mut self,
        frame: Frame,
        config: &ServerConfig,
        out: &mut VecDeque<Output>,
    ) -> Result<(), SendError> {
        if self.state != State::Open {
            return Err(SendError::Closed);
        }
        // The limit guards against clients that read too slowly, not against big packets:
        // one that finds nothing waiting goes out whatever its size. It counts what waits
        // behind what the transport is carrying: a WebSocket's batch being written has left
        // the buffer already, and a polling client's next poll carries up to `max_payload`.
        let carried = match self.transport {
            Transport::Polling { .. } => config.max_payload,
            Transport::WebSocket { .. } => 0,
        };
        let limit = config.max_buffered_bytes.saturating_add(carried);
        if !self.outbox.is_empty() && self.outbox_bytes + frame_len(&frame) > limit {
            self.close(CloseReason::BufferFull, out);
            return Err(SendError::BufferFull);
        }
        self.push(frame);
        self.flush(config, out);
        Ok(())
    }

    fn push(&mut self, frame: Frame) {
        self.outbox_bytes += frame_len(&frame);
        self.outbox.push_back(frame);
    }

    /// Holds what is sent in the outbox, or hands it on again.
    pub(crate) fn set_corked(&mut self, corked: bool, config: &ServerConfig, out: &mut VecDeque<Output>) {
        self.corks = match corked {
            true => self.corks.saturating_add(1),
            false => self.corks.saturating_sub(1),
        };
        self.flush(config, out);
    }

    /// Hands buffered frames to the transport if it can take them.
    fn flush(&mut self, config: &ServerConfig, out: &mut VecDeque<Output>) {
        if self.outbox.is_empty() || self.corks > 0 {
            return;
        }
        match &mut self.transport {
            Transport::WebSocket { conn, in_flight } if *in_flight == 0 => {
                *in_flight += 1;
                let frames: Vec<Frame> = self.outbox.drain(..).collect();
                self.outbox_bytes = 0;
                out.push_back(Output::WsSend { conn: *conn, frames });
            }
            Transport::Polling { poll: Some(_), .. } => self.answer_poll_with_outbox(config, out),
            _ => {}
        }
    }

    /// Answers the pending poll, if any, with `body`.
    fn answer_poll(&mut self, body: Bytes, out: &mut VecDeque<Output>) {
        if let Transport::Polling { poll, .. } = &mut self.transport {
            if let Some((id, cors)) = poll.take() {
                out.push_back(Output::Respond { poll: id, response: response::payload(body, cors) });
            }
        }
    }

    // ---- time and closing ----

    pub(crate) fn on_timeout(&mut self, now: Instant, config: &ServerConfig, out: &mut VecDeque<Output>) {
        if let State::Closing { deadline } = self.state {
            if deadline <= now {
                self.finish(CloseReason::ForcedClose, WS_NORMAL, out);
                return;
            }
        }
        if self.upgrade.as_ref().is_some_and(|u| u.deadline <= now) {
            self.abort_upgrade(WS_NORMAL, out);
        }
        if let Some(upgrade) = self.upgrade.as_mut().filter(|u| u.noop_at.is_some_and(|at| at <= now)) {
            upgrade.noop_at = None;
            self.answer_poll(Bytes::from_static(b"6"), out);
        }
        match self.heartbeat.on_timeout(now, config) {
            Beat::Idle => {}
            Beat::Ping => {
                // Heartbeats are not counted against the buffer limit.
                self.push(Frame::Text("2".into()));
                self.flush(config, out);
            }
            // The pong may be waiting, unread, while the input is paused.
            Beat::TimedOut if self.paused => self.heartbeat.wait_again(now, config),
            Beat::TimedOut => self.close(CloseReason::PingTimeout, out),
        }
    }

    /// The application closes the session: buffered packets are flushed first.
    pub(crate) fn close_by_server(
        &mut self,
        now: Instant,
        config: &ServerConfig,
        out: &mut VecDeque<Output>,
    ) {
        if self.state != State::Open {
            return;
        }
        // An upgrade under way may still complete, as in the reference: the client may
        // have paused polling for it already.
        match &mut self.transport {
            Transport::WebSocket { conn, .. } => {
                let conn = *conn;
                self.close_websocket(conn, out);
            }
            Transport::Polling { .. } => {
                // The client has as long to fetch its last packets as an idle session lives.
                self.state = State::Closing {
                    deadline: deadline_after(now, config.ping_interval.saturating_add(config.ping_timeout)),
                };
                self.answer_poll_with_outbox(config, out);
            }
        }
    }

    /// Hands the rest of the buffer to the WebSocket, then closes it and the session.
    fn close_websocket(&mut self, conn: ConnId, out: &mut VecDeque<Output>) {
        if !self.outbox.is_empty() {
            let frames: Vec<Frame> = self.outbox.drain(..).collect();
            self.outbox_bytes = 0;
            out.push_back(Output::WsSend { conn, frames });
        }
        self.finish(CloseReason::ForcedClose, WS_NORMAL, out);
    }

    /// Closes the session at once for `reason`, dropping what is buffered.
    pub(crate) fn close(&mut self, reason: CloseReason, out: &mut VecDeque<Output>) {
        self.close_with(reason, WS_NORMAL, out);
    }

    /// [`Session::close`] with a WebSocket close code.
    fn close_with(&mut self, reason: CloseReason, ws_code: u16, out: &mut VecDeque<Output>) {
        if self.state == State::Closed {
            return;
        }
        self.outbox.clear();
        self.outbox_bytes = 0;
        self.answer_poll(Bytes::from_static(b"1"), out);
        self.finish(reason, ws_code, out);
    }

    /// Marks the session closed, closes its sockets and reports it.
    fn finish(&mut self, reason: CloseReason, ws_code: u16, out: &mut VecDeque<Output>) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.abort_upgrade(WS_NORMAL, out);
        if let Transport::WebSocket { conn, .. } = self.transport {
            out.push_back(Output::WsClose { conn, code: ws_code });
        }
        out.push_back(Output::Event(Event::Closed { sid: self.sid, reason }));
    }
}

/// The open packet: `0{"sid":...,"upgrades":[...],"pingInterval":...,"pingTimeout":...,"maxPayload":...}`.
fn open_frame(sid: Sid, transport: TransportKind, config: &ServerConfig) -> Frame {
    let upgrades = if transport == TransportKind::Polling && config.allow_upgrades && config.websocket {
        r#"["websocket"]"#
    } else {
        "[]"
    };
    Frame::Text(
        format!(
            r#"0{{"sid":"{sid}","upgrades":{upgrades},"pingInterval":{},"pingTimeout":{},"maxPayload":{}}}"#,
            config.ping_interval.as_millis(),
            config.ping_timeout.as_millis(),
            config.max_payload
        )
        .into(),
    )
}

fn frame_len(frame: &Frame) -> usize {
    match frame {
        Frame::Text(text) => text.len(),
        Frame::Binary(bytes) => bytes.len(),
    }
}

fn frame_polling_len(frame: &Frame) -> usize {
    match frame {
        Frame::Text(text) => text.len(),
        Frame::Binary(bytes) => 1 + base64::encoded_len(bytes.len(), true).unwrap_or(usize::MAX),
    }
}

/// Appends a frame in its polling form: text frames already are; binary becomes `b` + base64.
fn put_polling(body: &mut BytesMut, frame: &Frame) {
    match frame {
        Frame::Text(text) => body.put_slice(text.as_bytes()),
        Frame::Binary(bytes) => Packet::binary(bytes.clone()).encode_text(body),
    }
}
