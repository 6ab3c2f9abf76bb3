//! The v4 heartbeat: the server pings, the client answers.

use crate::deadline_after;
use std::time::Instant;

use super::ServerConfig;

/// Ping and pong-wait timers of one session.
#[derive(Debug, Clone)]
pub(crate) struct Heartbeat {
    /// When the next ping is due, unless a pong is awaited.
    next_ping: Option<Instant>,
    /// When the session dies if no pong came.
    pong_deadline: Option<Instant>,
    /// Whether a packet other than a pong already pushed `pong_deadline` back once.
    refreshed: bool,
}

/// What the heartbeat wants done at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Beat {
    /// Nothing yet.
    Idle,
    /// Send a ping now.
    Ping,
    /// No pong in time: close the session.
    TimedOut,
}

impl Heartbeat {
    /// The first ping is due one interval after the session opened.
    pub(crate) fn start(now: Instant, config: &ServerConfig) -> Self {
        Heartbeat {
            next_ping: Some(deadline_after(now, config.ping_interval)),
            pong_deadline: None,
            refreshed: false,
        }
    }

    /// The earliest time [`Heartbeat::on_timeout`] has something to do.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match (self.next_ping, self.pong_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, config: &ServerConfig) -> Beat {
        if self.pong_deadline.is_some_and(|d| d <= now) {
            self.pong_deadline = None;
            return Beat::TimedOut;
        }
        if self.next_ping.is_some_and(|d| d <= now) {
            self.next_ping = None;
            self.pong_deadline = Some(deadline_after(now, config.ping_timeout));
            self.refreshed = false;
            return Beat::Ping;
        }
        Beat::Idle
    }

    /// A pong: stop waiting, and ping again one interval from now (as the reference does).
    /// A pong nobody asked for changes nothing, so a flood of them costs no timer.
    pub(crate) fn on_pong(&mut self, now: Instant, config: &ServerConfig) {
        if self.pong_deadline.take().is_none() {
            return;
        }
        self.next_ping = Some(deadline_after(now, config.ping_interval));
    }

    /// The pong is overdue, but the session's input is not being read (the application
    /// holds too much of it): the pong may be there, unread. Wait one more ping timeout.
    pub(crate) fn wait_again(&mut self, now: Instant, config: &ServerConfig) {
        self.pong_deadline = Some(deadline_after(now, config.ping_timeout));
    }

    /// Any other packet while a pong is awaited proves the client alive: the wait is
    /// extended once per ping.
    pub(crate) fn on_other_packet(&mut self, now: Instant, config: &ServerConfig) {
        if self.pong_deadline.is_some() && !self.refreshed {
            self.pong_deadline = Some(deadline_after(now, config.ping_timeout));
            self.refreshed = true;
        }
    }
}
