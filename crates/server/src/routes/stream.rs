//! The kitchen display's live feed: Server-Sent Events of a venue's order changes, resumable with Last-Event-ID.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Caller;
use crate::problem::{ApiError, Problem, ProblemType};
use crate::routes::ordering::{OrderView, path_id};

struct Feed {
    state: AppState,
    caller: Caller,
    venue: Uuid,
    last_seq: i64,
    pending: VecDeque<Event>,
    notices: broadcast::Receiver<(Uuid, Uuid)>,
    closing: tokio::sync::watch::Receiver<bool>,
    /// Revocations of members' credentials: a stream is a credential too, and ends with the caller's.
    revocations: broadcast::Receiver<crate::auth::Revoked>,
    /// The stream ends when its access token would have expired (a revocation made on another instance reaches
    /// it then); the display reconnects with a fresh token.
    expires: tokio::time::Instant,
}

impl Feed {
    /// Reads every event after `last_seq` into `pending` (in pages of 200), each with its order as it is now.
    async fn catch_up(&mut self) {
        loop {
            let events = match self.read_after(self.last_seq).await {
                Some(events) => events,
                None => return,
            };
            let full_page = events.len() == 200;
            for (seq, data) in events {
                self.last_seq = seq;
                self.pending.push_back(order_event(seq, &data));
            }
            if !full_page {
                return;
            }
        }
    }

    /// One page of events after `after`, rendered.
    async fn read_after(&self, after: i64) -> Option<Vec<(i64, Arc<str>)>> {
        let events = match self
            .state
            .store
            .order_events_after(&self.caller.scope, self.venue, after, 200)
            .await
        {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(%error, "kitchen feed could not read events");
                return None;
            }
        };
        let mut rendered = Vec::with_capacity(events.len());
        for event in events {
            let Ok(order) = self.state.store.order(&self.caller.scope, event.order_id).await else {
                continue;
            };
            let payload = serde_json::json!({
                "seq": event.seq, "status": event.status, "actor": event.actor, "order": OrderView::from(order),
            });
            rendered.push((event.seq, Arc::from(payload.to_string())));
        }
        Some(rendered)
    }

    /// After an announcement: new events from the venue's shared log, which reads the database once per
    /// announcement for every display of this instance. `force` reads even without a new announcement (the
    /// periodic wake that makes a missed announcement only a delay). A display the log no longer covers catches
    /// up on its own.
    async fn catch_up_shared(&mut self, force: bool) {
        let partner = self.caller.scope.partner().as_uuid();
        let events = self.state.order_events.clone();
        let log = events.venue_log(partner, self.venue);
        let mut log = log.lock().await;
        let generation = events.generation(partner, self.venue);
        if force || log.generation_read < generation || log.complete_after.is_none() {
            let mut after = log.newest().unwrap_or(self.last_seq);
            if log.complete_after.is_none() {
                log.complete_after = Some(after);
            }
            loop {
                let Some(page) = self.read_after(after).await else {
                    return;
                };
                let full_page = page.len() == 200;
                for (seq, data) in page {
                    after = seq;
                    log.push(seq, data);
                }
                if !full_page {
                    break;
                }
            }
            log.generation_read = generation;
        }
        if log.complete_after.is_some_and(|from| from > self.last_seq) {
            drop(log);
            return self.catch_up().await;
        }
        let after = self.last_seq;
        for (seq, data) in log.events.iter().filter(|(seq, _)| *seq > after) {
            self.last_seq = *seq;
            self.pending.push_back(order_event(*seq, data));
        }
    }

    async fn next_event(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(event), self));
            }
            // Wake on an announcement for this venue, or every 10 s regardless (a missed announcement only delays).
            let partner = self.caller.scope.partner().as_uuid();
            let closing = &mut self.closing;
            let notices = &mut self.notices;
            let revocations = &mut self.revocations;
            let (member, session, expires) = (self.caller.member.id, self.caller.session(), self.expires);
            let tenant = self.caller.scope.partner();
            let venue = self.venue;
            let woke = tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    let notice = tokio::select! {
                        notice = notices.recv() => notice,
                        _ = closing.changed() => return false,
                        _ = tokio::time::sleep_until(expires) => return false,
                        revoked = revocations.recv() => match revoked {
                            Ok(revoked) if revoked.covers(tenant, member, session) => return false,
                            // Missed revocations might include this member's: end, the display reconnects.
                            Err(broadcast::error::RecvError::Lagged(_)) => return false,
                            _ => continue,
                        },
                    };
                    match notice {
                        Ok((p, v)) if p == partner && v == venue => return true,
                        Ok(_) => continue,
                        Err(broadcast::error::RecvError::Lagged(_)) => return true,
                        Err(broadcast::error::RecvError::Closed) => return false,
                    }
                }
            })
            .await;
            if woke == Ok(false) || *self.closing.borrow() || tokio::time::Instant::now() >= self.expires {
                return None;
            }
            self.catch_up_shared(woke.is_err()).await;
        }
    }
}

fn order_event(seq: i64, data: &str) -> Event {
    Event::default().id(seq.to_string()).event("order").data(data)
}

/// Order changes of a venue as Server-Sent Events (`event: order`, `id:` the event sequence). Reconnecting with
/// `Last-Event-ID` resumes after that event; without it the feed starts at the newest event.
#[utoipa::path(get, path = "/api/v1/venues/{venue}/orders/stream", tag = "orders", security(("bearer" = [])),
    params(("venue" = String, Path)), responses((status = 200, content_type = "text/event-stream", body = String)))]
pub async fn order_stream(
    _no_query: crate::extract::NoQuery,
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(venue): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let venue = path_id(&venue)?;
    // Subscribed before the read below: an event committed after that read is announced to this receiver, so
    // starting at the newest event needs no catch-up read.
    let notices = state.order_events.subscribe();
    let closing = state.order_events.closing();
    let revocations = state.identity.revocations();
    let lifetime = caller.claims.claims.exp - state.clock.now().unix_timestamp();
    // A token in the verifier's clock-skew leeway is still let through elsewhere, but a feed on it would end at
    // once: a 200 that closes at once sends a display round a reconnect loop instead of to its refresh (401).
    let Ok(lifetime @ 1..) = u64::try_from(lifetime) else {
        return Err(Problem::new(ProblemType::Unauthorized)
            .detail("the token has expired: refresh it, then reconnect with Last-Event-ID")
            .into());
    };
    let expires = tokio::time::Instant::now() + Duration::from_secs(lifetime);
    // One read both proves the venue is the caller's and says where a fresh display starts.
    let newest = state.store.latest_order_event(&caller.scope, venue).await?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|seq| *seq < newest);
    let mut feed = Feed {
        state,
        caller,
        venue,
        last_seq: resume.unwrap_or(newest),
        pending: VecDeque::new(),
        notices,
        closing,
        revocations,
        expires,
    };
    if resume.is_some() {
        feed.catch_up().await;
    }
    let events = stream::unfold(feed, Feed::next_event);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
