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

/// The pools' `before_acquire` check (with sqlx's own `test_before_acquire` switched off). It also drops a
/// connection sqlx still counts as inside a transaction once its rollback has run: SQLite rolls a transaction back
/// by itself when the disk fills (SQLITE_FULL, also an I/O error), sqlx's own rollback then finds none and its count
/// stays, and every later BEGIN on that connection failed until a restart, however much room the disk had again.
pub(crate) fn ping_if_idle<C: sqlx::Connection>(
    conn: &mut C,
    meta: PoolConnectionMetadata,
) -> CheckFuture<'_> {
    Box::pin(async move {
        // The ping also waits out a rollback a dropped transaction queued, so only a stuck count is left.
        if conn.is_in_transaction() || meta.idle_for >= PING_AFTER_IDLE {
            conn.ping().await?;
        }
        Ok(!conn.is_in_transaction())
    })
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use sqlx::{ConnectOptions as _, Executor as _};

    /// A disk that fills mid-transaction: SQLite rolls the transaction back by itself, sqlx's rollback then finds none
    /// and sqlx keeps counting it, and every later BEGIN on that connection failed ("begin_with at non-zero
    /// transaction depth") until the server restarted, long after the disk had room again.
    #[tokio::test]
    async fn a_connection_whose_transaction_sqlite_rolled_back_is_not_handed_out_again() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("full.db"))
            .create_if_missing(true)
            .disable_statement_logging();
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .before_acquire(super::ping_if_idle)
            .after_connect(|conn, _| {
                Box::pin(async move { conn.execute("PRAGMA max_page_count = 8").await.map(|_| ()) })
            })
            .connect_with(options)
            .await
            .unwrap();
        pool.execute("CREATE TABLE filler (b BLOB)").await.unwrap();
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        let mut full = None;
        for _ in 0..100 {
            if let Err(error) = sqlx::query("INSERT INTO filler VALUES (zeroblob(4000))")
                .execute(&mut *tx)
                .await
            {
                full = Some(error.to_string());
                break;
            }
        }
        assert!(full.as_deref().is_some_and(|e| e.contains("full")), "{full:?}");
        let _ = tx.commit().await;
        // Room again (what a freed disk is to this database), and the next transaction begins.
        pool.execute("DELETE FROM filler").await.ok();
        let next = pool.begin_with("BEGIN IMMEDIATE").await;
        assert!(next.is_ok(), "{:?}", next.err());
    }
}
