//! With an external recovery store: what a server keeps of the logged events it delivered,
//! so that a socket restored from the store, which was read a moment earlier, gets the
//! events delivered since, and not twice those it read.
//!
//! A store read up to offset `t` and a server that delivered up to `d`:
//! - the events in `(t, d]` were delivered while the socket was not there: the latest ones
//!   are kept here (a few hundred, a few MiB per namespace) and replayed to it;
//! - the events up to `t` that the server still delivers are among those it read: they are
//!   held back from it until an event past `t` comes.

use std::collections::{HashMap, VecDeque};

use super::recovery::offset_order;
use super::{EncodedPacket, Room, Selector, SocketId};
use crate::Namespace;

/// The most recent events kept per namespace, and their most bytes.
const KEPT_EVENTS: usize = 256;
const KEPT_BYTES: usize = 4 * 1024 * 1024;

/// An offset's place in the store's order (a stream entry id).
type Order = (u64, u64);

/// The delivered events of the namespaces, and the restored sockets still catching up.
#[derive(Debug, Default)]
pub(crate) struct Delivered {
    namespaces: HashMap<Namespace, Recent>,
    catching_up: HashMap<Namespace, HashMap<SocketId, Order>>,
}

#[derive(Debug, Default)]
struct Recent {
    /// The offset of the last one (a volatile event carries it).
    last: String,
    events: VecDeque<Event>,
    bytes: usize,
    /// The latest offset no longer kept.
    forgotten: Option<Order>,
}

#[derive(Debug)]
struct Event {
    order: Order,
    selector: Selector,
    encoded: EncodedPacket,
    bytes: usize,
}

impl Delivered {
    /// The offset of the last logged event delivered in `namespace`.
    pub(crate) fn last_offset(&self, namespace: &Namespace) -> Option<&str> {
        self.namespaces.get(namespace).map(|recent| recent.last.as_str())
    }

    /// Notes an event delivered under `offset` to `selector`; returns the restored sockets
    /// that must not get it (they had it from the store).
    pub(crate) fn record(
        &mut self,
        namespace: &Namespace,
        offset: &str,
        selector: &Selector,
        encoded: &EncodedPacket,
    ) -> Vec<Room> {
        let recent = self.namespaces.entry(namespace.clone()).or_default();
        offset.clone_into(&mut recent.last);
        let Some(order) = offset_order(offset) else {
            return Vec::new();
        };
        let bytes = encoded.text.len() + encoded.attachments.iter().map(bytes::Bytes::len).sum::<usize>();
        recent.events.push_back(Event { order, selector: selector.clone(), encoded: encoded.clone(), bytes });
        recent.bytes += bytes;
        while recent.events.len() > KEPT_EVENTS || recent.bytes > KEPT_BYTES {
            let Some(old) = recent.events.pop_front() else { break };
            recent.bytes -= old.bytes;
            recent.forgotten = Some(old.order);
        }
        let Some(sockets) = self.catching_up.get_mut(namespace) else {
            return Vec::new();
        };
        let mut held = Vec::new();
        sockets.retain(|socket, through| {
            let before = order <= *through;
            if before {
                held.push(Room::from(*socket));
            }
            before
        });
        if sockets.is_empty() {
            self.catching_up.remove(namespace);
        }
        held
    }

    /// The restored sockets of `namespace` that an event logged under `offset` would be
    /// held back from (they had it from the store).
    pub(crate) fn held_back(&self, namespace: &Namespace, offset: &str) -> Vec<SocketId> {
        let (Some(order), Some(sockets)) = (offset_order(offset), self.catching_up.get(namespace)) else {
            return Vec::new();
        };
        sockets.iter().filter(|(_, through)| order <= **through).map(|(socket, _)| *socket).collect()
    }

    /// Whether events after `offset` were delivered in `namespace` that are no longer kept:
    /// a socket whose store was read up to `offset` would miss them.
    pub(crate) fn lost_after(&self, namespace: &Namespace, offset: &str) -> bool {
        let forgotten = self.namespaces.get(namespace).and_then(|recent| recent.forgotten);
        forgotten.is_some_and(|forgotten| Some(forgotten) > offset_order(offset))
    }

    /// The kept events after `through` that a socket of `namespace` in `rooms`, restored
    /// from a store read up to `through`, did not get; in order.
    pub(crate) fn replay(
        &self,
        namespace: &Namespace,
        socket: SocketId,
        rooms: &[Room],
        through: &str,
    ) -> Vec<EncodedPacket> {
        let (Some(through), Some(recent)) = (offset_order(through), self.namespaces.get(namespace)) else {
            return Vec::new();
        };
        recent
            .events
            .iter()
            .filter(|event| event.order > through && event.selector.includes(socket, rooms))
            .map(|event| event.encoded.clone())
            .collect()
    }

    /// Holds back from `socket` the events up to `through` still to be delivered.
    pub(crate) fn catch_up(&mut self, namespace: &Namespace, socket: SocketId, through: &str) {
        if let Some(through) = offset_order(through) {
            self.catching_up.entry(namespace.clone()).or_default().insert(socket, through);
        }
    }

    /// Forgets a socket that left.
    pub(crate) fn remove(&mut self, namespace: &Namespace, socket: SocketId) {
        if let Some(sockets) = self.catching_up.get_mut(namespace) {
            sockets.remove(&socket);
            if sockets.is_empty() {
                self.catching_up.remove(namespace);
            }
        }
    }

    /// Forgets everything of `namespace`.
    pub(crate) fn forget(&mut self, namespace: &Namespace) {
        self.namespaces.remove(namespace);
        self.catching_up.remove(namespace);
    }
}
