//! The mail sender: drains the outbox table (written in the same transaction as the change that sends mail) to
//! the configured sink. The embedded default writes one `.eml` file per message under `<data_dir>/outbox/`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use comanda_domain::Clock;
use comanda_store::Store;
use comanda_store::identity::OutboxMessage;
use time::format_description::well_known::Rfc2822;
use tokio::sync::watch;

use crate::config::MailSink;

#[derive(Debug, Clone)]
pub struct Mailer {
    pub sink: MailSink,
    pub directory: PathBuf,
    pub from: String,
}

impl Mailer {
    fn deliver(&self, message: &OutboxMessage) -> std::io::Result<()> {
        match self.sink {
            MailSink::Log => {
                // Bodies carry invitation links: only the envelope reaches the log.
                tracing::info!(to = %message.recipient, subject = %message.subject, "mail sent to the log sink");
                Ok(())
            }
            MailSink::File => {
                crate::files::create_private_dir(&self.directory)?;
                let date = message.created_at.format(&Rfc2822).unwrap_or_default();
                let text = format!(
                    "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {date}\r\nMessage-ID: <{}@comanda>\r\n\
                     Content-Type: text/plain; charset=utf-8\r\n\r\n{}",
                    self.from,
                    message.recipient,
                    message.subject,
                    message.id,
                    message.body.replace('\n', "\r\n")
                );
                let path = self.directory.join(format!("{}.eml", message.id));
                crate::files::write_private(&path, text.as_bytes())
            }
        }
    }

    /// Sends what is pending; returns how many went out.
    pub async fn drain(&self, store: &dyn Store, clock: &dyn Clock) -> usize {
        let pending = match store.pending_messages(50).await {
            Ok(pending) => pending,
            Err(error) => {
                tracing::warn!(%error, "outbox unavailable");
                return 0;
            }
        };
        let mut sent = 0;
        for message in pending {
            match self.deliver(&message) {
                Ok(()) => {
                    if store.mark_message_sent(message.id, clock.now()).await.is_ok() {
                        sent += 1;
                    }
                }
                Err(error) => tracing::warn!(%error, id = %message.id, "mail delivery failed; will retry"),
            }
        }
        sent
    }

    pub fn spawn(self, store: Arc<dyn Store>, clock: Arc<dyn Clock>, mut stop: watch::Receiver<bool>) {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_millis(500));
            loop {
                tokio::select! {
                    _ = ticker.tick() => { self.drain(store.as_ref(), clock.as_ref()).await; }
                    _ = stop.changed() => return,
                }
            }
        });
    }
}
