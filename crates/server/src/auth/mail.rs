//! The mail sender: drains the outbox table (written in the same transaction as the change that sends mail) to
//! the configured sink. The embedded default writes one `.eml` file per message under `<data_dir>/outbox/`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use comanda_domain::{Clock, PartnerId};
use comanda_store::Store;
use comanda_store::identity::OutboxMessage;
use time::format_description::well_known::Rfc2822;
use tokio::sync::watch;

use crate::config::MailSink;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Clone)]
pub struct Mailer {
    pub sink: MailSink,
    pub directory: PathBuf,
    pub from: String,
    pub smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("sink", &self.sink)
            .field("directory", &self.directory)
            .finish()
    }
}

impl Mailer {
    pub fn new(
        sink: MailSink,
        directory: PathBuf,
        from: String,
        smtp_url: Option<&str>,
    ) -> Result<Self, String> {
        let smtp = match (sink, smtp_url) {
            (MailSink::Smtp, Some(url)) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("mail.smtp_url: {e}"))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            ),
            (MailSink::Smtp, None) => return Err("mail.smtp_url is required for the smtp sink".into()),
            _ => None,
        };
        Ok(Self {
            sink,
            directory,
            from,
            smtp,
        })
    }

    async fn deliver(&self, message: &OutboxMessage) -> Result<(), String> {
        match self.sink {
            MailSink::Smtp => {
                let transport = self.smtp.as_ref().ok_or("no SMTP transport")?;
                let email = Message::builder()
                    .from(self.from.parse().map_err(|e| format!("from address: {e}"))?)
                    .to(message.recipient.parse().map_err(|e| format!("recipient: {e}"))?)
                    .subject(message.subject.clone())
                    .message_id(Some(format!("<{}@comanda>", message.id)))
                    .header(ContentType::TEXT_PLAIN)
                    .body(message.body.clone())
                    .map_err(|e| e.to_string())?;
                transport.send(email).await.map(|_| ()).map_err(|e| e.to_string())
            }
            MailSink::Log => {
                // Recipients are personal data and bodies carry invitation links: only the message's id is logged.
                tracing::info!(id = %message.id, "mail sent to the log sink");
                Ok(())
            }
            MailSink::File => {
                crate::files::create_private_dir(&self.directory).map_err(|e| e.to_string())?;
                let date = message.created_at.format(&Rfc2822).unwrap_or_default();
                // The partner the message was sent for: a data-subject request of one partner reads and erases
                // only that partner's copies (the files are the platform's; the same address may be another
                // partner's guest or member).
                let partner = message
                    .partner
                    .map_or_else(|| "platform".to_owned(), |p| p.to_string());
                let text = format!(
                    "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {date}\r\nMessage-ID: <{}@comanda>\r\n\
                     {PARTNER_HEADER} {partner}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
                    self.from,
                    message.recipient,
                    message.subject,
                    message.id,
                    message.body.replace('\n', "\r\n")
                );
                let path = self.directory.join(format!("{}.eml", message.id));
                crate::files::write_private(&path, text.as_bytes()).map_err(|e| e.to_string())
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
            match self.deliver(&message).await {
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

    /// Drains the outbox every half second and, with the `file` sink, deletes messages past their retention
    /// every hour (and once at start).
    pub fn spawn(
        self,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        files: Option<MailFiles>,
        mut stop: watch::Receiver<bool>,
    ) {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_millis(500));
            let mut pruning = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tokio::select! {
                    _ = ticker.tick() => { self.drain(store.as_ref(), clock.as_ref()).await; }
                    _ = pruning.tick(), if files.is_some() => {
                        if let Some(files) = &files {
                            let pruned = files.prune(clock.now()).await;
                            if pruned > 0 {
                                tracing::info!(pruned, "mail files past their retention deleted");
                            }
                        }
                    }
                    _ = stop.changed() => return,
                }
            }
        });
    }
}

/// The `file` sink's messages at rest: personal data outside the sealed store (recipients, names, invitation
/// links). They are kept `retention` from their `Date:` and then deleted by the mailer's job, exported with the
/// person they are addressed to, and deleted when that person is erased (docs/privacy.md lists every such place).
#[derive(Debug, Clone)]
pub struct MailFiles {
    pub directory: PathBuf,
    pub retention: time::Duration,
}

/// The header naming the partner a message at rest was sent for (`platform` for the operators' own mail).
const PARTNER_HEADER: &str = "X-Comanda-Partner:";

/// One message at rest, as a data-subject export shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct MailCopy {
    pub subject: String,
    /// RFC 2822 date the message was written.
    pub date: String,
    pub body: String,
}

/// A message file read back: its path, the headers the rules need, its body and whole text.
struct StoredMail {
    path: PathBuf,
    /// The partner it was sent for; empty in a file written before the header was (kept 30 days at most).
    partner: String,
    to: String,
    subject: String,
    date: String,
    body: String,
    text: String,
}

impl MailFiles {
    /// The configured `file` sink's messages (under `data_dir/outbox`), or `None` with another sink.
    pub fn configured(config: &crate::config::Config) -> Option<Self> {
        (config.mail.sink == MailSink::File).then(|| MailFiles {
            directory: config.data_dir.join("outbox"),
            retention: time::Duration::days(i64::from(config.mail.file_retention_days)),
        })
    }

    fn read_all(directory: &std::path::Path) -> Vec<StoredMail> {
        let Ok(entries) = std::fs::read_dir(directory) else {
            return Vec::new();
        };
        let mut mails = Vec::new();
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if path.extension().and_then(|e| e.to_str()) != Some("eml") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
            let header = |name: &str| {
                head.split("\r\n")
                    .find_map(|line| line.strip_prefix(name))
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            };
            mails.push(StoredMail {
                partner: header(PARTNER_HEADER),
                to: header("To:"),
                subject: header("Subject:"),
                date: header("Date:"),
                body: body.replace("\r\n", "\n"),
                path: path.clone(),
                text: text.clone(),
            });
        }
        mails
    }

    async fn with_files<T: Send + 'static>(
        &self,
        work: impl FnOnce(Vec<StoredMail>) -> T + Send + 'static,
    ) -> T {
        let directory = self.directory.clone();
        let read = move || work(Self::read_all(&directory));
        match tokio::task::spawn_blocking(read).await {
            Ok(answer) => answer,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }

    /// Deletes messages written more than the retention ago (a file whose date cannot be read counts as old).
    pub async fn prune(&self, now: time::OffsetDateTime) -> usize {
        let cutoff = now - self.retention;
        self.with_files(move |mails| {
            mails
                .into_iter()
                .filter(|mail| {
                    time::OffsetDateTime::parse(&mail.date, &Rfc2822).map_or(true, |date| date < cutoff)
                })
                .filter(|mail| std::fs::remove_file(&mail.path).is_ok())
                .count()
        })
        .await
    }

    /// The messages `partner` sent to `email`, for the person's data export (another partner's mail to the same
    /// address is that partner's; a file that names no partner is left out). Their bodies pass the log redaction
    /// layer: a link's `token=` still opens a booking (to cancel it), and an export is handed to whoever asked.
    pub async fn addressed_to(&self, email: &str, partner: PartnerId) -> Vec<MailCopy> {
        let email = email.trim().to_lowercase();
        let partner = partner.to_string();
        self.with_files(move |mails| {
            let mut copies: Vec<MailCopy> = mails
                .into_iter()
                .filter(|mail| mail.partner == partner && mail.to.to_lowercase() == email)
                .map(|mail| MailCopy {
                    subject: mail.subject,
                    date: mail.date,
                    body: comanda_security::redact::redact_text(&mail.body),
                })
                .collect();
            copies.sort_by(|a, b| a.date.cmp(&b.date));
            copies
        })
        .await
    }

    /// Offboarding: deletes every message sent for `partner` (its staff's and guests' addresses, names and
    /// invitation links). Answers how many.
    pub async fn erase_partner(&self, partner: PartnerId) -> usize {
        let partner = partner.to_string();
        self.with_files(move |mails| {
            mails
                .into_iter()
                .filter(|mail| mail.partner == partner)
                .filter(|mail| std::fs::remove_file(&mail.path).is_ok())
                .count()
        })
        .await
    }

    /// Erasure: deletes every message `partner` sent that holds the person's email or name (addressed to them, or
    /// naming them, as an invitation names its sender), and any such file that names no partner (written before
    /// files did). Another partner's mail stays: the person's erasure there is that partner's request. A name
    /// shorter than three characters is not searched for. Answers how many. Deleting a message that merely shares a
    /// name with the person loses only a copy of sent mail.
    pub async fn erase_mentioning(&self, email: &str, name: &str, partner: PartnerId) -> usize {
        let partner = partner.to_string();
        let needles: Vec<String> = [email, name]
            .iter()
            .map(|n| n.trim().to_lowercase())
            .filter(|n| n.chars().count() >= 3)
            .collect();
        if needles.is_empty() {
            return 0;
        }
        self.with_files(move |mails| {
            mails
                .into_iter()
                .filter(|mail| mail.partner.is_empty() || mail.partner == partner)
                .filter(|mail| {
                    let text = mail.text.to_lowercase();
                    needles.iter().any(|needle| text.contains(needle.as_str()))
                })
                .filter(|mail| std::fs::remove_file(&mail.path).is_ok())
                .count()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use comanda_domain::ManualClock;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// A minimal SMTP server (RFC 5321's happy path) that records what it was sent.
    async fn smtp_sink() -> (u16, tokio::sync::oneshot::Receiver<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
            let mut transcript = String::new();
            let mut in_data = false;
            while let Ok(Some(line)) = lines.next_line().await {
                transcript.push_str(&line);
                transcript.push('\n');
                let reply: &[u8] = if in_data {
                    if line == "." {
                        in_data = false;
                        b"250 queued\r\n"
                    } else {
                        continue;
                    }
                } else if line.starts_with("EHLO") {
                    b"250-sink\r\n250 8BITMIME\r\n"
                } else if line == "DATA" {
                    in_data = true;
                    b"354 go ahead\r\n"
                } else if line == "QUIT" {
                    write.write_all(b"221 bye\r\n").await.ok();
                    break;
                } else {
                    b"250 ok\r\n"
                };
                write.write_all(reply).await.unwrap();
            }
            let _ = tx.send(transcript);
        });
        (port, rx)
    }

    #[tokio::test]
    async fn smtp_sink_delivers_the_outbox() {
        let (port, transcript) = smtp_sink().await;
        let url = format!("smtp://127.0.0.1:{port}");
        let mailer = Mailer::new(
            MailSink::Smtp,
            PathBuf::new(),
            "comanda <no-reply@comanda.dev>".into(),
            Some(&url),
        )
        .unwrap();
        let db = comanda_store::testing::SqliteTestDatabase::create();
        let store = db.store().await;
        let clock = ManualClock::at(time::macros::datetime!(2026-11-23 12:00 UTC));
        let message = OutboxMessage {
            id: uuid::Uuid::now_v7(),
            partner: None,
            recipient: "luis@example.co".into(),
            subject: "Invitation".into(),
            body: "Accept: https://localhost/invitations/inv_x".into(),
            created_at: clock.now(),
        };
        store.enqueue_message(&message).await.unwrap();
        assert_eq!(mailer.drain(store.as_ref(), &clock).await, 1);
        assert!(
            store.pending_messages(10).await.unwrap().is_empty(),
            "marked sent"
        );
        drop(mailer);
        let transcript = tokio::time::timeout(Duration::from_secs(5), transcript)
            .await
            .unwrap()
            .unwrap();
        assert!(
            transcript.contains("MAIL FROM:<no-reply@comanda.dev>"),
            "{transcript}"
        );
        assert!(transcript.contains("RCPT TO:<luis@example.co>"), "{transcript}");
        assert!(transcript.contains("Subject: Invitation"), "{transcript}");
        assert!(
            transcript.contains("https://localhost/invitations/inv_x"),
            "{transcript}"
        );
    }

    /// Mail files at rest (issue 14): kept for the retention from their date, then pruned; found by recipient for
    /// export; deleted with the person they name.
    #[tokio::test]
    async fn mail_files_are_pruned_exported_and_erased() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("outbox");
        let mailer = Mailer::new(
            MailSink::File,
            outbox.clone(),
            "comanda <no-reply@comanda.dev>".into(),
            None,
        )
        .unwrap();
        let now = time::macros::datetime!(2026-11-23 12:00 UTC);
        let (ours, theirs) = (
            PartnerId::from_uuid(uuid::Uuid::now_v7()),
            PartnerId::from_uuid(uuid::Uuid::now_v7()),
        );
        let message = |to: &str, body: &str, days_ago: i64| OutboxMessage {
            id: uuid::Uuid::now_v7(),
            partner: Some(ours),
            recipient: to.into(),
            subject: format!("to {to}"),
            body: body.into(),
            created_at: now - time::Duration::days(days_ago),
        };
        for mail in [
            message("ana@example.co", "old notice", 9),
            message("ana@example.co", "fresh notice", 1),
            message("luis@example.co", "Ana (ana@example.co) invited you", 1),
            message("pedro@example.co", "Ana Quiñones invited you", 1),
            message("rosa@example.co", "unrelated", 2),
            // Another partner's booking confirmation to the same address, with its manage link: theirs alone.
            OutboxMessage {
                partner: Some(theirs),
                ..message(
                    "ana@example.co",
                    "Manage: https://localhost/book/x?token=secret",
                    1,
                )
            },
        ] {
            mailer.deliver(&mail).await.unwrap();
        }
        let files = MailFiles {
            directory: outbox.clone(),
            retention: time::Duration::days(7),
        };
        assert_eq!(
            files.prune(now).await,
            1,
            "only the message older than seven days"
        );
        let exported = files.addressed_to("ANA@example.co", ours).await;
        assert_eq!(exported.len(), 1, "not another partner's mail: {exported:?}");
        assert_eq!(exported[0].body, "fresh notice");
        assert_eq!(files.addressed_to("ana@example.co", theirs).await.len(), 1);
        assert_eq!(
            files
                .erase_mentioning("ana@example.co", "Ana Quiñones", ours)
                .await,
            3,
            "addressed to her, or naming her by address or by name; another partner's copy stays"
        );
        assert_eq!(files.addressed_to("ana@example.co", theirs).await.len(), 1);
        let left: Vec<String> = std::fs::read_dir(&outbox)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        assert_eq!(left.len(), 2);
        let hers: Vec<_> = left
            .iter()
            .filter(|text| text.contains("ana@example.co"))
            .collect();
        assert_eq!(hers.len(), 1, "only the other partner's");
        assert!(
            hers[0].contains(&format!("X-Comanda-Partner: {theirs}")),
            "{}",
            hers[0]
        );
        // Offboarding takes every file sent for the partner, and only those.
        assert_eq!(files.erase_partner(ours).await, 1, "rosa's");
        assert_eq!(files.erase_partner(ours).await, 0);
        assert_eq!(
            std::fs::read_dir(&outbox).unwrap().count(),
            1,
            "the other partner's stays"
        );
    }
}
