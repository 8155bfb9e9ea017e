// Partners and venues, written once for both engines and `include!`d by `sqlite` and `postgres` (docs/architecture.md,
// "Adding a query"). The engine module brings `DbRow`, the id encoding `h`/`uuid_col` and its transactions
// `reading` and `scoped`; `insert_audit` is the store's method (it seals the entry's client address).

use comanda_domain::{
    Country, Currency, NewPartner, NewVenue, Page, PageRequest, Partner, PartnerId, TaxKind, TaxRegime,
    Venue, VenueId,
};

use crate::identity::AuditEntry;
use crate::{PartnerStore, VenueRecord, VenueStore};

fn partner_from_row(row: &DbRow) -> StoreResult<Partner> {
    let country: String = row.try_get("country")?;
    Ok(Partner {
        id: PartnerId::from_uuid(uuid_col(row, "id")?),
        business_name: row.try_get("business_name")?,
        country: Country::parse(country.trim()).ok_or_else(|| corrupt("country", &country))?,
        created_at: row.try_get("created_at")?,
    })
}

pub(crate) fn venue_from_row(row: &DbRow) -> StoreResult<Venue> {
    venue_from_prefixed_row(row, "")
}

/// A venue read with its columns renamed `{prefix}{column}`, as when joined with another table's rows.
pub(crate) fn venue_from_prefixed_row(row: &DbRow, prefix: &str) -> StoreResult<Venue> {
    let column = |name: &str| format!("{prefix}{name}");
    let text = |name: &str| row.try_get::<String, _>(column(name).as_str());
    let (currency, tax_kind) = (text("currency")?, text("tax_kind")?);
    let rate_bp: i32 = row.try_get(column("tax_rate_bp").as_str())?;
    Ok(Venue {
        id: VenueId::from_uuid(uuid_col(row, &column("id"))?),
        partner_id: PartnerId::from_uuid(uuid_col(row, &column("partner_id"))?),
        name: text("name")?,
        timezone: text("timezone")?,
        address: text("address")?,
        currency: Currency::from_code(currency.trim()).ok_or_else(|| corrupt("currency", &currency))?,
        tax: TaxRegime {
            kind: TaxKind::parse(&tax_kind).ok_or_else(|| corrupt("tax_kind", &tax_kind))?,
            rate_bp: u16::try_from(rate_bp).map_err(|_| corrupt("tax_rate_bp", &rate_bp.to_string()))?,
        },
        day_start_hour: {
            let hour: i32 = row.try_get(column("day_start_hour").as_str())?;
            u8::try_from(hour).map_err(|_| corrupt("day_start_hour", &hour.to_string()))?
        },
        created_at: row.try_get(column("created_at").as_str())?,
    })
}

/// The partner the scope names, and its entry in the platform's partner directory.
pub(crate) async fn insert_partner(
    conn: &mut Conn,
    scope: &TenantScope,
    partner: &NewPartner,
    now: OffsetDateTime,
) -> StoreResult<Partner> {
    let row = sqlx::query(
        "INSERT INTO partners (id, business_name, country, created_at) VALUES ($1, $2, $3, $4) RETURNING *",
    )
    .bind(h(scope.partner().as_uuid()))
    .bind(&partner.business_name)
    .bind(partner.country.code())
    .bind(ts(now))
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO partner_directory (partner_id) VALUES ($1)")
        .bind(h(scope.partner().as_uuid()))
        .execute(&mut *conn)
        .await?;
    partner_from_row(&row)
}

#[async_trait]
impl PartnerStore for Engine {
    async fn create_partner(
        &self,
        scope: &TenantScope,
        partner: &NewPartner,
        now: OffsetDateTime,
    ) -> StoreResult<Partner> {
        let mut tx = self.scoped(scope).await?;
        let created = insert_partner(&mut tx, scope, partner, now).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn partner(&self, scope: &TenantScope) -> StoreResult<Partner> {
        let row = sqlx::query("SELECT * FROM partners WHERE id = $1")
            .bind(h(scope.partner().as_uuid()))
            .fetch_one(&mut *self.reading(scope).await?)
            .await?;
        partner_from_row(&row)
    }
}

#[async_trait]
impl VenueStore for Engine {
    async fn create_venue(
        &self,
        scope: &TenantScope,
        venue: &NewVenue,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Venue> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "INSERT INTO venues (partner_id, id, name, timezone, address, currency, tax_kind, tax_rate_bp, created_at,
                                 day_start_hour)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(VenueId::mint().as_uuid()))
        .bind(&venue.name)
        .bind(&venue.timezone)
        .bind(&venue.address)
        .bind(venue.currency.code())
        .bind(venue.tax.kind.as_str())
        .bind(i32::from(venue.tax.rate_bp))
        .bind(ts(now))
        .bind(i32::from(venue.day_start_hour))
        .fetch_one(&mut *tx)
        .await?;
        let created = venue_from_row(&row)?;
        self.insert_audit(
            &mut tx,
            scope.partner(),
            &audit.targeting(created.id.as_uuid()),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn venue(&self, scope: &TenantScope, id: VenueId) -> StoreResult<Venue> {
        let row = sqlx::query("SELECT * FROM venues WHERE partner_id = $1 AND id = $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(id.as_uuid()))
            .fetch_one(&mut *self.reading(scope).await?)
            .await?;
        venue_from_row(&row)
    }

    async fn set_day_start_hour(
        &self,
        scope: &TenantScope,
        id: VenueId,
        hour: u8,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Venue> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE venues SET day_start_hour = $3 WHERE partner_id = $1 AND id = $2 RETURNING *",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(id.as_uuid()))
        .bind(i32::from(hour))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let venue = venue_from_row(&row)?;
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(id.as_uuid()), now)
            .await?;
        tx.commit().await?;
        Ok(venue)
    }

    async fn update_venue(
        &self,
        scope: &TenantScope,
        id: VenueId,
        venue: &NewVenue,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Venue> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE venues SET name = $3, address = $4, tax_kind = $5, tax_rate_bp = $6
             WHERE partner_id = $1 AND id = $2 RETURNING *",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(id.as_uuid()))
        .bind(&venue.name)
        .bind(&venue.address)
        .bind(venue.tax.kind.as_str())
        .bind(i32::from(venue.tax.rate_bp))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let updated = venue_from_row(&row)?;
        self.insert_audit(&mut tx, scope.partner(), &audit.targeting(id.as_uuid()), now)
            .await?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn list_venues(&self, scope: &TenantScope, page: PageRequest) -> StoreResult<Page<Venue>> {
        // UUIDv7 sorts in creation order (as text on SQLite too), so the identifier is the keyset.
        let rows = sqlx::query(
            "SELECT * FROM venues WHERE partner_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(page.after.map(|c| h(c.last_id())))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&mut *self.reading(scope).await?)
        .await?;
        let venues = rows.iter().map(venue_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch(venues, page.limit, |v| v.id.as_uuid()))
    }

    async fn venue_of(
        &self,
        scope: &TenantScope,
        record: VenueRecord,
        id: uuid::Uuid,
    ) -> StoreResult<Option<VenueId>> {
        let statement = match record {
            VenueRecord::Table => "SELECT venue_id FROM venue_tables WHERE partner_id = $1 AND id = $2",
            VenueRecord::TableSession => "SELECT venue_id FROM table_sessions WHERE partner_id = $1 AND id = $2",
            VenueRecord::Order => "SELECT venue_id FROM orders WHERE partner_id = $1 AND id = $2",
            VenueRecord::Payment => "SELECT venue_id FROM payments WHERE partner_id = $1 AND id = $2",
            VenueRecord::Refund => {
                "SELECT p.venue_id FROM refunds r JOIN payments p ON p.partner_id = r.partner_id AND p.id = r.payment_id
                 WHERE r.partner_id = $1 AND r.id = $2"
            }
            VenueRecord::Reservation => "SELECT venue_id FROM reservations WHERE partner_id = $1 AND id = $2",
            VenueRecord::WaitlistEntry => "SELECT venue_id FROM waitlist_entries WHERE partner_id = $1 AND id = $2",
            VenueRecord::MenuItem => "SELECT venue_id FROM menu_items WHERE partner_id = $1 AND id = $2",
            VenueRecord::MenuCategory => "SELECT venue_id FROM menu_categories WHERE partner_id = $1 AND id = $2",
            VenueRecord::TableCombination => {
                "SELECT venue_id FROM table_combinations WHERE partner_id = $1 AND id = $2"
            }
        };
        let row = sqlx::query(statement)
            .bind(h(scope.partner().as_uuid()))
            .bind(h(id))
            .fetch_optional(&mut *self.reading(scope).await?)
            .await?;
        row.map(|row| Ok(VenueId::from_uuid(uuid_col(&row, "venue_id")?)))
            .transpose()
    }
}
