//! Rooms: the adapter interface every room and broadcast operation goes through, and its
//! in-memory implementation.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use engineio_proto::{IdMap, IdSet};

use bytestring::ByteString;

use super::SocketId;

/// A room name. Every socket is also in the room named by its own id.
pub type Room = ByteString;

impl From<SocketId> for Room {
    /// The room only this socket is in.
    fn from(socket: SocketId) -> Room {
        Room::from(socket.to_string())
    }
}

/// Which sockets of a namespace an operation targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// Sockets in any of these rooms; all sockets when empty.
    pub rooms: Vec<Room>,
    /// Minus the sockets in any of these rooms.
    pub except: Vec<Room>,
    /// Minus this socket (a broadcast "from" a socket).
    pub except_socket: Option<SocketId>,
    /// Only this server's sockets, even under a cluster adapter.
    pub local: bool,
    /// Minus the sockets that cannot take a packet right now (a volatile emit: dropped
    /// rather than buffered for them).
    pub volatile: bool,
}

impl Selector {
    /// Whether it designates a socket not connected here, by its id and `rooms` (its own
    /// id among them): a kept session, a socket being restored. The reference's
    /// `shouldIncludePacket`.
    pub fn includes(&self, socket: SocketId, rooms: &[Room]) -> bool {
        let included = self.rooms.is_empty() || rooms.iter().any(|room| self.rooms.contains(room));
        included && self.except_socket != Some(socket) && !rooms.iter().any(|room| self.except.contains(room))
    }

    /// Every socket of the namespace.
    pub fn all() -> Self {
        Selector::default()
    }

    /// The sockets in `room`.
    pub fn to(room: impl Into<Room>) -> Self {
        Selector { rooms: vec![room.into()], ..Selector::default() }
    }
}

/// Room membership of one namespace. The server calls it for every join, leave and
/// selection, so a cluster adapter can mirror them over a message bus; [`MemoryAdapter`]
/// is the default.
pub trait Adapter: Send {
    /// Adds `socket` to `room`.
    fn join(&mut self, socket: SocketId, room: Room);
    /// Removes `socket` from `room`.
    fn leave(&mut self, socket: SocketId, room: &str);
    /// Removes `socket` from every room; returns the rooms it was in.
    fn leave_all(&mut self, socket: SocketId) -> Vec<Room>;
    /// The rooms `socket` is in, in the order it joined them (its own room first).
    fn rooms(&self, socket: SocketId) -> Vec<Room>;
    /// The sockets `selector` designates.
    fn select(&self, selector: &Selector) -> Vec<SocketId>;
    /// Every room with a socket in it (the sockets' own rooms among them).
    fn all_rooms(&self) -> Vec<Room>;
    /// Whether `room` has a socket in it.
    fn has_room(&self, room: &str) -> bool;
}

/// Rooms held in memory: a room-to-sockets and a socket-to-rooms index.
#[derive(Debug, Default)]
pub struct MemoryAdapter {
    members: HashMap<Room, IdSet<SocketId>>,
    rooms: IdMap<SocketId, Joined>,
}

/// The rooms of one socket, each with when it joined: listed in that order, its own room
/// first, as the reference's `socket.rooms` (a set in insertion order).
#[derive(Debug, Default)]
struct Joined {
    rooms: HashMap<Room, u64>,
    next: u64,
}

impl Joined {
    fn insert(&mut self, room: Room) {
        if let Entry::Vacant(entry) = self.rooms.entry(room) {
            entry.insert(self.next);
            self.next += 1;
        }
    }

    /// In the order they were joined.
    fn in_order(&self) -> Vec<Room> {
        let mut rooms: Vec<(&Room, u64)> = self.rooms.iter().map(|(room, at)| (room, *at)).collect();
        rooms.sort_unstable_by_key(|(_, at)| *at);
        rooms.into_iter().map(|(room, _)| room.clone()).collect()
    }
}

impl Adapter for MemoryAdapter {
    fn join(&mut self, socket: SocketId, room: Room) {
        self.members.entry(room.clone()).or_default().insert(socket);
        self.rooms.entry(socket).or_default().insert(room);
    }

    fn leave(&mut self, socket: SocketId, room: &str) {
        if let Some(joined) = self.rooms.get_mut(&socket) {
            joined.rooms.remove(room);
        }
        if let Some(members) = self.members.get_mut(room) {
            members.remove(&socket);
            if members.is_empty() {
                self.members.remove(room);
            }
        }
    }

    fn leave_all(&mut self, socket: SocketId) -> Vec<Room> {
        let rooms: Vec<Room> = self.rooms.remove(&socket).map(|joined| joined.in_order()).unwrap_or_default();
        for room in &rooms {
            if let Some(members) = self.members.get_mut(&**room) {
                members.remove(&socket);
                if members.is_empty() {
                    self.members.remove(&**room);
                }
            }
        }
        rooms
    }

    fn rooms(&self, socket: SocketId) -> Vec<Room> {
        self.rooms.get(&socket).map(Joined::in_order).unwrap_or_default()
    }

    fn all_rooms(&self) -> Vec<Room> {
        self.members.keys().cloned().collect()
    }

    fn has_room(&self, room: &str) -> bool {
        self.members.contains_key(room)
    }

    fn select(&self, selector: &Selector) -> Vec<SocketId> {
        let excluded = |socket: &SocketId| {
            selector.except_socket == Some(*socket)
                || selector
                    .except
                    .iter()
                    .any(|room| self.members.get(&**room).is_some_and(|m| m.contains(socket)))
        };
        if selector.rooms.is_empty() {
            return self.rooms.keys().filter(|s| !excluded(s)).copied().collect();
        }
        if let [room] = &selector.rooms[..] {
            // One room holds each socket once: nothing to deduplicate.
            let members = self.members.get(&**room).into_iter().flatten();
            return members.filter(|s| !excluded(s)).copied().collect();
        }
        let mut seen = IdSet::default();
        selector
            .rooms
            .iter()
            .filter_map(|room| self.members.get(&**room))
            .flatten()
            .filter(|s| !excluded(s) && seen.insert(**s))
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engineio_proto::server::Sid;

    fn id(n: u128) -> SocketId {
        SocketId::from(Sid::from_u128(n))
    }

    fn sorted(mut ids: Vec<SocketId>) -> Vec<SocketId> {
        ids.sort();
        ids
    }

    #[test]
    fn a_socket_s_rooms_come_in_the_order_it_joined_them() {
        let socket = id(7);
        let mut adapter = MemoryAdapter::default();
        for room in [Room::from(socket), "b".into(), "a".into(), "c".into(), "b".into()] {
            adapter.join(socket, room);
        }
        adapter.leave(socket, "a");
        adapter.join(socket, "a".into());
        let names: Vec<String> = adapter.rooms(socket).iter().map(ToString::to_string).collect();
        assert_eq!(names, [socket.to_string(), "b".into(), "c".into(), "a".into()]);
        assert_eq!(adapter.leave_all(socket).len(), 4);
    }

    #[test]
    fn selection() {
        let mut rooms = MemoryAdapter::default();
        for n in 1..=4 {
            rooms.join(id(n), id(n).to_string().into());
        }
        rooms.join(id(1), "a".into());
        rooms.join(id(2), "a".into());
        rooms.join(id(2), "b".into());
        rooms.join(id(3), "b".into());
        assert_eq!(sorted(rooms.select(&Selector::all())), [id(1), id(2), id(3), id(4)]);
        assert_eq!(sorted(rooms.select(&Selector::to("a"))), [id(1), id(2)]);
        let both = Selector { rooms: vec!["a".into(), "b".into()], ..Selector::default() };
        assert_eq!(sorted(rooms.select(&both)), [id(1), id(2), id(3)], "no duplicates");
        let except = Selector { except: vec!["b".into()], ..Selector::default() };
        assert_eq!(sorted(rooms.select(&except)), [id(1), id(4)]);
        let from = Selector { except_socket: Some(id(1)), ..Selector::to("a") };
        assert_eq!(rooms.select(&from), [id(2)]);
        assert_eq!(rooms.select(&Selector::to("nobody")), []);
    }

    #[test]
    fn leaving() {
        let mut rooms = MemoryAdapter::default();
        rooms.join(id(1), "a".into());
        rooms.join(id(1), "b".into());
        rooms.leave(id(1), "a");
        assert_eq!(rooms.rooms(id(1)), [Room::from("b")]);
        assert_eq!(rooms.leave_all(id(1)), [Room::from("b")]);
        assert!(rooms.members.is_empty() && rooms.rooms.is_empty(), "nothing left behind");
    }
}
