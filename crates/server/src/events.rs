//! Order-event announcements: which venue has new events. In-process subscribers (kitchen streams) wake on them
//! and read the events from the database, so an announcement carries no data and a missed one only delays. On
//! PostgreSQL every instance also listens to NOTIFY, so a stream sees orders taken by any instance.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, watch};
use uuid::Uuid;

/// Rendered events of one venue kept for every kitchen display of this instance: one database read per
/// announcement serves all of them, instead of one read per display (the fan-out to a thousand displays).
#[derive(Debug, Default)]
pub struct VenueLog {
    /// The announcement generation the log has read up to.
    pub generation_read: u64,
    /// The log holds every event after this sequence number (`None`: nothing read yet).
    pub complete_after: Option<i64>,
    /// `(seq, rendered SSE data)`, ascending.
    pub events: VecDeque<(i64, Arc<str>)>,
}

impl VenueLog {
    pub const CAPACITY: usize = 1024;

    /// The newest sequence number the log has seen.
    pub fn newest(&self) -> Option<i64> {
        self.events.back().map(|(seq, _)| *seq).or(self.complete_after)
    }

    pub fn push(&mut self, seq: i64, data: Arc<str>) {
        self.events.push_back((seq, data));
        while self.events.len() > Self::CAPACITY {
            if let Some((dropped, _)) = self.events.pop_front() {
                self.complete_after = Some(dropped);
            }
        }
    }
}

type Venues<T> = Arc<Mutex<HashMap<(Uuid, Uuid), T>>>;

#[derive(Debug, Clone)]
pub struct OrderEvents {
    sender: broadcast::Sender<(Uuid, Uuid)>,
    /// Set when the server shuts down, so open streams end instead of holding the shutdown for its grace period.
    closing: Arc<watch::Sender<bool>>,
    /// How many announcements each `(partner, venue)` has had.
    generations: Venues<u64>,
    logs: Venues<Arc<tokio::sync::Mutex<VenueLog>>>,
}

impl Default for OrderEvents {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
            closing: Arc::new(watch::channel(false).0),
            generations: Arc::default(),
            logs: Arc::default(),
        }
    }
}

impl OrderEvents {
    /// Something happened at `(partner, venue)`.
    pub fn announce(&self, partner: Uuid, venue: Uuid) {
        if let Ok(mut generations) = self.generations.lock() {
            *generations.entry((partner, venue)).or_default() += 1;
        }
        let _ = self.sender.send((partner, venue));
    }

    pub fn generation(&self, partner: Uuid, venue: Uuid) -> u64 {
        self.generations
            .lock()
            .map(|g| g.get(&(partner, venue)).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// The shared log of `(partner, venue)`; callers have already proven access to that venue.
    pub fn venue_log(&self, partner: Uuid, venue: Uuid) -> Arc<tokio::sync::Mutex<VenueLog>> {
        match self.logs.lock() {
            Ok(mut logs) => logs.entry((partner, venue)).or_default().clone(),
            Err(_) => Arc::default(),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<(Uuid, Uuid)> {
        self.sender.subscribe()
    }

    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Ends every open stream (server shutdown).
    pub fn close(&self) {
        let _ = self.closing.send(true);
    }
}
