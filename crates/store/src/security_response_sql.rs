// Vulnerability reports and incidents, written once for both engines and `include!`d by `sqlite` and `postgres`.
// Platform data: no tenant transaction.

use crate::security_response::{DisclosureReport, DisclosureStore, Incident, IncidentStore};
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
        .bind(ts(received_at))
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
        let mut query = sqlx::query(statement).bind(h(id)).bind(ts(at));
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

/// The items of a comma-separated list column (`''` is empty).
fn listed(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Engine {
    async fn incident_from_row(&self, row: &DbRow) -> StoreResult<Incident> {
        let id = uuid_col(row, "id")?;
        let severity: String = row.try_get("severity")?;
        let affected: String = row.try_get("affected_partners")?;
        let timeline =
            sqlx::query("SELECT at, entry FROM incident_timeline WHERE incident_id = $1 ORDER BY at, id")
                .bind(h(id))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| Ok((row.try_get("at")?, row.try_get("entry")?)))
                .collect::<StoreResult<Vec<_>>>()?;
        Ok(Incident {
            id,
            opened_at: row.try_get("opened_at")?,
            severity: Severity::parse(&severity).ok_or_else(|| corrupt("severity", &severity))?,
            summary: row.try_get("summary")?,
            decided_by: row.try_get("decided_by")?,
            aware_at: row.try_get("aware_at")?,
            affected_partners: listed(&affected)
                .iter()
                .map(|p| {
                    p.parse()
                        .map(comanda_domain::PartnerId::from_uuid)
                        .map_err(|_| corrupt("affected_partners", p))
                })
                .collect::<StoreResult<Vec<_>>>()?,
            us_state_hours: row
                .try_get::<Option<String>, _>("us_state_hours")?
                .map(|text| {
                    listed(&text)
                        .iter()
                        .map(|pair| {
                            pair.split_once('=')
                                .and_then(|(state, hours)| Some((state.to_owned(), hours.parse().ok()?)))
                                .ok_or_else(|| corrupt("us_state_hours", pair))
                        })
                        .collect::<StoreResult<std::collections::BTreeMap<String, u32>>>()
                })
                .transpose()?,
            notified: listed(&row.try_get::<String, _>("notified")?),
            alerted: listed(&row.try_get::<String, _>("alerted")?),
            closed_at: row.try_get("closed_at")?,
            timeline,
        })
    }
}

#[async_trait]
impl IncidentStore for Engine {
    async fn open_incident(
        &self,
        severity: Severity,
        summary: &str,
        decided_by: &str,
        at: OffsetDateTime,
    ) -> StoreResult<Incident> {
        let id = uuid::Uuid::now_v7();
        sqlx::query(
            "INSERT INTO incidents (id, opened_at, severity, summary, decided_by) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(h(id))
        .bind(ts(at))
        .bind(severity.as_str())
        .bind(summary)
        .bind(decided_by)
        .execute(&self.pool)
        .await?;
        self.add_timeline(
            id,
            at,
            &format!("opened, {}; decided by {decided_by}", severity.as_str()),
        )
        .await?;
        self.incident(id).await
    }

    async fn incident(&self, id: uuid::Uuid) -> StoreResult<Incident> {
        let row = sqlx::query("SELECT * FROM incidents WHERE id = $1")
            .bind(h(id))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.incident_from_row(&row).await
    }

    async fn incidents(&self, open_only: bool) -> StoreResult<Vec<Incident>> {
        let rows =
            sqlx::query("SELECT * FROM incidents WHERE closed_at IS NULL OR NOT $1 ORDER BY opened_at, id")
                .bind(open_only)
                .fetch_all(&self.pool)
                .await?;
        let mut incidents = Vec::with_capacity(rows.len());
        for row in &rows {
            incidents.push(self.incident_from_row(row).await?);
        }
        Ok(incidents)
    }

    async fn add_timeline(&self, id: uuid::Uuid, at: OffsetDateTime, entry: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO incident_timeline (id, incident_id, at, entry) VALUES ($1, $2, $3, $4)")
            .bind(h(uuid::Uuid::now_v7()))
            .bind(h(id))
            .bind(ts(at))
            .bind(entry)
            .execute(&self.pool)
            .await
            .map_err(foreign_key_to_not_found)?;
        Ok(())
    }

    async fn record_breach(
        &self,
        id: uuid::Uuid,
        aware_at: OffsetDateTime,
        affected: &[comanda_domain::PartnerId],
        us_state_hours: &std::collections::BTreeMap<String, u32>,
        at: OffsetDateTime,
    ) -> StoreResult<Incident> {
        let affected_text = affected
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let hours_text = us_state_hours
            .iter()
            .map(|(state, hours)| format!("{state}={hours}"))
            .collect::<Vec<_>>()
            .join(",");
        let updated = sqlx::query(
            "UPDATE incidents SET aware_at = $2, affected_partners = $3, us_state_hours = $4
              WHERE id = $1 AND aware_at IS NULL",
        )
        .bind(h(id))
        .bind(ts(aware_at))
        .bind(&affected_text)
        .bind(&hours_text)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            self.incident(id).await?;
            return Err(StoreError::Conflict(
                "the incident is already recorded as a breach".into(),
            ));
        }
        self.add_timeline(
            id,
            at,
            &format!(
                "personal-data breach, aware since {aware_at}; {} partner(s) affected",
                affected.len()
            ),
        )
        .await?;
        self.incident(id).await
    }

    async fn amend_breach(
        &self,
        id: uuid::Uuid,
        aware_at: OffsetDateTime,
        affected: &[comanda_domain::PartnerId],
        at: OffsetDateTime,
    ) -> StoreResult<Incident> {
        let before = self.incident(id).await?;
        let Some(was_aware) = before.aware_at.filter(|_| before.closed_at.is_none()) else {
            return Err(StoreError::Conflict(
                "only an open incident recorded as a breach is amended".into(),
            ));
        };
        let affected_text = affected
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        // A clock that moved alerts again on its own terms.
        let alerted = if was_aware == aware_at {
            before.alerted.join(",")
        } else {
            String::new()
        };
        let updated = sqlx::query(
            "UPDATE incidents SET aware_at = $2, affected_partners = $3, alerted = $4
              WHERE id = $1 AND aware_at IS NOT NULL AND closed_at IS NULL",
        )
        .bind(h(id))
        .bind(ts(aware_at))
        .bind(&affected_text)
        .bind(&alerted)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::Conflict(
                "only an open incident recorded as a breach is amended".into(),
            ));
        }
        self.add_timeline(
            id,
            at,
            &format!(
                "breach amended: aware since {aware_at} (was {was_aware}); {} partner(s) affected (was {})",
                affected.len(),
                before.affected_partners.len()
            ),
        )
        .await?;
        self.incident(id).await
    }

    async fn record_notified(
        &self,
        id: uuid::Uuid,
        jurisdiction: &str,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        let marked = sqlx::query(
            "UPDATE incidents SET notified = notified || ',' || $2
              WHERE id = $1 AND ',' || notified || ',' NOT LIKE '%,' || $2 || ',%'",
        )
        .bind(h(id))
        .bind(jurisdiction)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if marked == 1 {
            self.add_timeline(id, at, &format!("{jurisdiction} notified"))
                .await?;
        } else {
            self.incident(id).await?;
        }
        Ok(marked == 1)
    }

    async fn mark_incident_alerted(&self, id: uuid::Uuid, jurisdiction: &str) -> StoreResult<bool> {
        let marked = sqlx::query(
            "UPDATE incidents SET alerted = alerted || ',' || $2
              WHERE id = $1 AND ',' || alerted || ',' NOT LIKE '%,' || $2 || ',%'",
        )
        .bind(h(id))
        .bind(jurisdiction)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(marked == 1)
    }

    async fn close_incident(&self, id: uuid::Uuid, at: OffsetDateTime) -> StoreResult<Incident> {
        let closed = sqlx::query("UPDATE incidents SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL")
            .bind(h(id))
            .bind(ts(at))
            .execute(&self.pool)
            .await?
            .rows_affected();
        if closed == 0 {
            self.incident(id).await?;
            return Err(StoreError::Conflict("the incident is already closed".into()));
        }
        self.add_timeline(id, at, "closed").await?;
        self.incident(id).await
    }
}
