//! Order-event announcements: which venue has new events. In-process subscribers (kitchen streams) wake on them
//! and read the events from the database, so an announcement carries no data and a missed one only delays. On
//! PostgreSQL every instance also listens to NOTIFY, so a stream sees orders taken by any instance.

use tokio::sync::broadcast;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct OrderEvents {
    sender: broadcast::Sender<(Uuid, Uuid)>,
}

impl Default for OrderEvents {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
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
}
