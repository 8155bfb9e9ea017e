// Vulnerability reports, written once for both engines and `include!`d by `sqlite` and `postgres`. Platform data:
// no tenant transaction.

use crate::disclosure::{DisclosureReport, DisclosureStore};
use comanda_domain::disclosure::{Severity, Step};

fn report_from_row(row: &DbRow) -> StoreResult<DisclosureReport> {
    let severity: Option<String> = row.try_get("severity")?;
    let alerted: String = row.try_get("alerted_steps")?;
    Ok(DisclosureReport {
        id: uuid_col(row, "id")?,
        summary: row.try_get("summary")?,
        received_at: row.try_get("received_at")?,
        credit: row.try_get("credit")?,
        severity: severity
            .map(|s| Severity::parse(&s).ok_or_else(|| corrupt("severity", &s)))
            .transpose()?,
        acknowledged_at: row.try_get("acknowledged_at")?,
        triaged_at: row.try_get("triaged_at")?,
        fixed_at: row.try_get("fixed_at")?,
        alerted: [Step::Acknowledge, Step::Triage, Step::Fix]
            .into_iter()
            .filter(|step| alerted.split(',').any(|s| s == step.as_str()))
            .collect(),
    })
}

#[async_trait]
impl DisclosureStore for Engine {
    async fn record_report(
        &self,
        summary: &str,
        received_at: OffsetDateTime,
        credit: Option<&str>,
    ) -> StoreResult<DisclosureReport> {
        let row = sqlx::query(
            "INSERT INTO disclosure_reports (id, summary, received_at, credit) VALUES ($1, $2, $3, $4) RETURNING *",
        )
        .bind(h(uuid::Uuid::now_v7()))
        .bind(summary)
        .bind(received_at)
        .bind(credit)
        .fetch_one(&self.pool)
        .await?;
        report_from_row(&row)
    }

    async fn disclosure_report(&self, id: uuid::Uuid) -> StoreResult<DisclosureReport> {
        let row = sqlx::query("SELECT * FROM disclosure_reports WHERE id = $1")
            .bind(h(id))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        report_from_row(&row)
    }

    async fn disclosure_reports(&self, open_only: bool) -> StoreResult<Vec<DisclosureReport>> {
        let rows = sqlx::query(
            "SELECT * FROM disclosure_reports WHERE fixed_at IS NULL OR NOT $1 ORDER BY received_at, id",
        )
        .bind(open_only)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(report_from_row).collect()
    }

    async fn complete_step(
        &self,
        id: uuid::Uuid,
        step: Step,
        severity: Option<Severity>,
        at: OffsetDateTime,
    ) -> StoreResult<DisclosureReport> {
        // One statement per step: the column is a name in the text, never a bound value.
        let statement = match step {
            Step::Acknowledge => {
                "UPDATE disclosure_reports SET acknowledged_at = $2 WHERE id = $1 AND acknowledged_at IS NULL
                 RETURNING *"
            }
            Step::Triage => {
                "UPDATE disclosure_reports SET triaged_at = $2, severity = $3 WHERE id = $1 AND triaged_at IS NULL
                 RETURNING *"
            }
            Step::Fix => "UPDATE disclosure_reports SET fixed_at = $2 WHERE id = $1 AND fixed_at IS NULL RETURNING *",
        };
        let mut query = sqlx::query(statement).bind(h(id)).bind(at);
        if step == Step::Triage {
            query = query.bind(severity.map(Severity::as_str));
        }
        match query.fetch_optional(&self.pool).await? {
            Some(row) => report_from_row(&row),
            None => {
                self.disclosure_report(id).await?;
                Err(StoreError::Conflict(format!(
                    "the report's {} step is already done",
                    step.as_str()
                )))
            }
        }
    }

    async fn mark_step_alerted(&self, id: uuid::Uuid, step: Step) -> StoreResult<bool> {
        let marked = sqlx::query(
            "UPDATE disclosure_reports SET alerted_steps = alerted_steps || ',' || $2
              WHERE id = $1 AND ',' || alerted_steps || ',' NOT LIKE '%,' || $2 || ',%'",
        )
        .bind(h(id))
        .bind(step.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(marked == 1)
    }
}
