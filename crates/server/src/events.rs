//! Order-event announcements: which venue has new events. In-process subscribers (kitchen streams) wake on them
//! and read the events from the database, so an announcement carries no data and a missed one only delays. On
//! PostgreSQL every instance also listens to NOTIFY, so a stream sees orders taken by any instance.

use std::sync::Arc;

use tokio::sync::{broadcast, watch};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct OrderEvents {
    sender: broadcast::Sender<(Uuid, Uuid)>,
    /// Set when the server shuts down, so open streams end instead of holding the shutdown for its grace period.
    closing: Arc<watch::Sender<bool>>,
}

impl Default for OrderEvents {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
            closing: Arc::new(watch::channel(false).0),
        }
    }
}

impl OrderEvents {
    /// Something happened at `(partner, venue)`.
    pub fn announce(&self, partner: Uuid, venue: Uuid) {
        let _ = self.sender.send((partner, venue));
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
