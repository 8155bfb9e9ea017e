//! What a restore test checks on its scratch database: [`ScratchCheck`], and the default one that reads every table.

use crate::*;

/// The scratch database a restore test made, handed to each [`ScratchCheck`].
#[derive(Debug)]
pub struct ScratchDatabase<'a> {
    pub engine: Engine,
    /// Connect with this (`sqlite://…` or `postgres://…`); the role sees every row.
    pub url: &'a str,
    pub manifest: &'a Manifest,
}

/// An integrity check run against a restored scratch database during a restore test (BAK-4). The default is
/// [`ReadEveryTable`]; the audit-chain verification plugs in here.
#[async_trait]
pub trait ScratchCheck: Send + Sync {
    fn name(&self) -> &str;
    /// `Ok(summary)` when the scratch database passes, `Err(problem)` when it does not.
    async fn check(&self, scratch: &ScratchDatabase<'_>) -> Result<String, String>;
}

/// SQLite: `PRAGMA integrity_check` and `foreign_key_check`; both engines: every row of every table is read.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadEveryTable;

#[async_trait]
impl ScratchCheck for ReadEveryTable {
    fn name(&self) -> &str {
        "read-every-table"
    }

    async fn check(&self, scratch: &ScratchDatabase<'_>) -> Result<String, String> {
        let rows = match scratch.engine {
            Engine::Sqlite => {
                let path = snapshot::Sqlite::from_url(scratch.url)
                    .map_err(|e| e.to_string())?
                    .path;
                snapshot::sqlite_integrity(&path)
                    .await
                    .map_err(|e| e.to_string())?;
                snapshot::sqlite_read_all(scratch.url).await
            }
            Engine::Postgres => snapshot::pg_read_all(scratch.url).await,
        }
        .map_err(|e| e.to_string())?;
        Ok(format!("{rows} rows read"))
    }
}

/// The default checks of a restore test.
pub fn default_checks() -> Vec<Arc<dyn ScratchCheck>> {
    vec![Arc::new(ReadEveryTable)]
}
