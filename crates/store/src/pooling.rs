//! What both engines' connection pools share.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sqlx::pool::PoolConnectionMetadata;

/// A pooled connection is pinged before it is handed out only when it sat idle at least this long. sqlx's
/// default pings on every acquire: one more round trip per transaction, which on the guest's order path was one
/// round trip in nine. Busy connections prove themselves by being used; a quiet one (the moment a database
/// restart or a network cut shows) is still checked and replaced before a request sees it.
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

type CheckFuture<'c> = Pin<Box<dyn Future<Output = Result<bool, sqlx::Error>> + Send + 'c>>;

/// The pools' `before_acquire` check (with sqlx's own `test_before_acquire` switched off).
pub(crate) fn ping_if_idle<C: sqlx::Connection>(
    conn: &mut C,
    meta: PoolConnectionMetadata,
) -> CheckFuture<'_> {
    Box::pin(async move {
        if meta.idle_for >= PING_AFTER_IDLE {
            conn.ping().await?;
        }
        Ok(true)
    })
}
