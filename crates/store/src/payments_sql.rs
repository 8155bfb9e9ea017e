// The payment store's statements and rules, written once for both engines. Not a module of its own: the engine
// modules `sqlite_payments` and `postgres_payments` each `include!` it after bringing in their engine's
// kit (`sqlite::kit`, `postgres::kit`: `Engine`, `DbRow`, `Conn`, the id encoding `h`/`uuid_col`/`opt_uuid_col`, the
// `locking!` row lock) and defining what differs (see docs/architecture.md, "Adding a query"): the `BALANCES`
// statement with its `session_list`, and the transaction `event_tx` (a webhook event, tenant or platform).
//
// Statements use `$N` placeholders (sqlx binds them by number on both engines) and portable SQL
// (`CAST(… AS BIGINT)`, `CAST($n AS TIMESTAMPTZ) IS NULL` for a typed null).

use crate::identity::AuditEntry;
use crate::ordering::{json_from, json_text};
use crate::payments::{
    Alert, Approval, ApprovalKind, CashOutcome, CashPayment, ConnectedAccount, Dispute, EventEffect,
    EventOutcome, NewCashPayment, NewPayment, NewRefund, Payment, PaymentStatus, PaymentStore, PayoutRecord,
    Refund, RefundStatus, ReserveOutcome, SessionBalance, SettledMoney, Tender, TipEntry, TransferOrder,
    TransferStatus, VenueRefund, settlement,
};
use crate::sealing::{KeyOwner, account_digest, account_place, destination_place};
use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use comanda_domain::analytics::Measures;
use comanda_domain::payment::{
    ChargeModel, LineClaim, RefundSplit, Refundable, SettledAmounts, Split, check_cash, check_line_claims,
    dispute_debt, line_part_amounts, net_against_debt, refund_needs_approval, split_refund,
};
use comanda_domain::{Currency, Money, Page, PageRequest, PartnerId};
use comanda_security::TenantScope;
use time::OffsetDateTime;
use uuid::Uuid;

fn currency_of(row: &DbRow) -> StoreResult<Currency> {
    let code: String = row.try_get("currency")?;
    Currency::from_code(code.trim()).ok_or_else(|| corrupt("currency", &code))
}

fn money_col(row: &DbRow, column: &str, currency: Currency) -> StoreResult<Money> {
    Money::new(row.try_get(column)?, currency).map_err(|_| corrupt(column, "negative"))
}

fn payment_from_row(row: &DbRow) -> StoreResult<Payment> {
    let currency = currency_of(row)?;
    let status: String = row.try_get("status")?;
    let model: String = row.try_get("charge_model")?;
    Ok(Payment {
        id: uuid_col(row, "id")?,
        venue_id: uuid_col(row, "venue_id")?,
        table_id: uuid_col(row, "table_id")?,
        session_id: uuid_col(row, "session_id")?,
        split: json_from("split", &row.try_get::<String, _>("split")?)?,
        settlement: settlement(
            currency,
            row.try_get("share")?,
            row.try_get("tip")?,
            row.try_get("platform_fee")?,
        )?,
        charge_model: ChargeModel::parse(&model).ok_or_else(|| corrupt("charge_model", &model))?,
        status: PaymentStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        payment_intent: row.try_get("payment_intent")?,
        charge_id: row.try_get("charge_id")?,
        device: row.try_get("device")?,
        failure: row.try_get("failure")?,
        refunded: money_col(row, "refunded", currency)?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        succeeded_at: row.try_get("succeeded_at")?,
    })
}

fn cash_from_row(row: &DbRow) -> StoreResult<CashPayment> {
    let currency = currency_of(row)?;
    let voided_by = opt_uuid_col(row, "voided_by")?;
    let voided_at: Option<OffsetDateTime> = row.try_get("voided_at")?;
    Ok(CashPayment {
        id: uuid_col(row, "id")?,
        venue_id: uuid_col(row, "venue_id")?,
        table_id: uuid_col(row, "table_id")?,
        session_id: uuid_col(row, "session_id")?,
        amount: money_col(row, "amount", currency)?,
        tip: money_col(row, "tip", currency)?,
        recorded_by: uuid_col(row, "recorded_by")?,
        created_at: row.try_get("created_at")?,
        voided: voided_by.zip(voided_at),
    })
}

/// Adds cash to the reports at `at`, or takes it back (`sign` −1, a void): its bill part and tip as cash taken, its
/// tip as tips.
async fn count_cash(
    conn: &mut Conn,
    partner: Uuid,
    cash: &CashPayment,
    at: OffsetDateTime,
    sign: i64,
) -> StoreResult<()> {
    let measures = Measures {
        cash: sign * (cash.amount.amount + cash.tip.amount),
        tips: sign * cash.tip.amount,
        ..Measures::default()
    };
    add_to_sales(conn, partner, cash.venue_id, at, cash.amount.currency, &measures).await
}

fn account_from_row(row: &DbRow) -> StoreResult<ConnectedAccount> {
    let model: String = row.try_get("charge_model")?;
    Ok(ConnectedAccount {
        stripe_account: row.try_get("stripe_account")?,
        charge_model: ChargeModel::parse(&model).ok_or_else(|| corrupt("charge_model", &model))?,
        country: row.try_get::<String, _>("country")?.trim().to_owned(),
        details_submitted: row.try_get("details_submitted")?,
        charges_enabled: row.try_get("charges_enabled")?,
        payouts_enabled: row.try_get("payouts_enabled")?,
        transfers_active: row.try_get("transfers_active")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn settled_of(row: &DbRow) -> StoreResult<Option<SettledMoney>> {
    let amount: Option<i64> = row.try_get("settled_amount")?;
    let currency: Option<String> = row.try_get("settled_currency")?;
    Ok(amount
        .zip(currency)
        .map(|(amount, currency)| SettledMoney { amount, currency }))
}

fn transfer_from_row(row: &DbRow) -> StoreResult<TransferOrder> {
    let currency = currency_of(row)?;
    let status: String = row.try_get("status")?;
    Ok(TransferOrder {
        payment_id: uuid_col(row, "payment_id")?,
        amount: money_col(row, "amount", currency)?,
        destination: row.try_get("destination")?,
        transfer_group: row.try_get("transfer_group")?,
        source_charge: row.try_get("source_charge")?,
        status: TransferStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        stripe_transfer: row.try_get("stripe_transfer")?,
        reversed: money_col(row, "reversed", currency)?,
        recovered: money_col(row, "recovered", currency)?,
        settled: settled_of(row)?,
    })
}

fn refund_from_row(row: &DbRow) -> StoreResult<Refund> {
    let currency = currency_of(row)?;
    let status: String = row.try_get("status")?;
    Ok(Refund {
        id: uuid_col(row, "id")?,
        payment_id: uuid_col(row, "payment_id")?,
        split: RefundSplit {
            refund: money_col(row, "amount", currency)?,
            transfer_reversal: money_col(row, "transfer_reversal", currency)?,
            platform_part: money_col(row, "platform_part", currency)?,
            tip_reversal: money_col(row, "tip_reversal", currency)?,
        },
        reason: row.try_get("reason")?,
        status: RefundStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        requested_by: uuid_col(row, "requested_by")?,
        approved_by: opt_uuid_col(row, "approved_by")?,
        declined_by: opt_uuid_col(row, "declined_by")?,
        stripe_refund: row.try_get("stripe_refund")?,
        failure: row.try_get("failure")?,
        reversal: match (
            row.try_get::<Option<String>, _>("stripe_reversal")?,
            row.try_get::<Option<i64>, _>("reversal_amount")?,
            row.try_get::<Option<String>, _>("reversal_currency")?,
        ) {
            (Some(id), Some(amount), Some(currency)) => Some((id, SettledMoney { amount, currency })),
            _ => None,
        },
        restored_transfer: row.try_get("restored_transfer")?,
        created_at: row.try_get("created_at")?,
    })
}

fn approval_from_row(row: &DbRow) -> StoreResult<Approval> {
    let kind: String = row.try_get("kind")?;
    Ok(Approval {
        id: uuid_col(row, "id")?,
        kind: ApprovalKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        subject: opt_uuid_col(row, "subject")?,
        requested_by: uuid_col(row, "requested_by")?,
        approved_by: opt_uuid_col(row, "approved_by")?,
        created_at: row.try_get("created_at")?,
    })
}

fn alert_from_row(row: &DbRow) -> StoreResult<Alert> {
    Ok(Alert {
        id: uuid_col(row, "id")?,
        partner: opt_uuid_col(row, "partner_id")?.map(PartnerId::from_uuid),
        kind: row.try_get("kind")?,
        detail: row.try_get("detail")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A session's bill and payments, read inside the caller's transaction.
pub(crate) async fn balance_in(conn: &mut Conn, partner: Uuid, session: Uuid) -> StoreResult<SessionBalance> {
    balances_in(conn, partner, &[session])
        .await?
        .pop()
        .ok_or_else(|| corrupt("balance", "missing"))
}

/// Each session's bill against its payments, one row per session in the order given.
async fn balances_in(conn: &mut Conn, partner: Uuid, sessions: &[Uuid]) -> StoreResult<Vec<SessionBalance>> {
    let rows = sqlx::query(BALANCES)
        .bind(h(partner))
        .bind(session_list(sessions))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| {
            let currency = match row.try_get::<Option<String>, _>("currency")? {
                Some(code) => Currency::from_code(code.trim()).ok_or_else(|| corrupt("currency", &code))?,
                None => Currency::COP,
            };
            let total =
                Money::new(row.try_get("total")?, currency).map_err(|_| corrupt("total", "negative"))?;
            Ok(
                SessionBalance::new(total, row.try_get("paid")?, row.try_get("held")?)
                    .with_refunded(row.try_get("refunded")?)
                    .with_cash(row.try_get("cash")?),
            )
        })
        .collect()
}

/// The line claims of a session's item splits paid or being paid, with what each part was charged, but for
/// `except_device`'s payments in progress that a new payment of that device replaces.
async fn line_claims_in(
    conn: &mut Conn,
    partner: Uuid,
    session: Uuid,
    except_device: Option<&str>,
) -> StoreResult<Vec<LineClaim>> {
    let rows = sqlx::query(
        "SELECT split, line_amounts FROM payments WHERE partner_id = $1 AND session_id = $2 AND status IN ('pending', 'succeeded')
            AND NOT (status = 'pending' AND payment_intent IS NOT NULL AND device IS NOT NULL
                     AND device = COALESCE(CAST($3 AS TEXT), ''))
          ORDER BY created_at, id",
    )
    .bind(h(partner))
    .bind(h(session))
    .bind(except_device)
    .fetch_all(&mut *conn)
    .await?;
    let mut claims = Vec::new();
    for row in &rows {
        let amounts: Option<String> = row.try_get("line_amounts")?;
        claims.extend(crate::payments::line_claims_of(
            &row.try_get::<String, _>("split")?,
            amounts.as_deref(),
        )?);
    }
    Ok(claims)
}

async fn outstanding_debt_in(conn: &mut Conn, partner: Uuid) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(COALESCE(sum(amount), 0) AS BIGINT) FROM partner_debts WHERE partner_id = $1",
    )
    .bind(h(partner))
    .fetch_one(conn)
    .await?)
}

/// The payment a guest's Idempotency-Key already made on this bill: `Replayed` for the same request from the same
/// device, `KeyReused` for another request or another device (a key is no way to read another guest's client
/// secret), `None` when the key is new.
async fn keyed_payment_in(
    conn: &mut Conn,
    partner: Uuid,
    session: Uuid,
    key: &str,
    (request_hash, device): (&[u8], Option<&str>),
) -> StoreResult<Option<ReserveOutcome>> {
    let first = sqlx::query(
        "SELECT * FROM payments WHERE partner_id = $1 AND session_id = $2 AND idempotency_key = $3",
    )
    .bind(h(partner))
    .bind(h(session))
    .bind(key)
    .fetch_optional(conn)
    .await?;
    let Some(first) = first else {
        return Ok(None);
    };
    let hash: Option<Vec<u8>> = first.try_get("request_hash")?;
    let first_device: Option<String> = first.try_get("device")?;
    Ok(Some(
        if hash.as_deref() == Some(request_hash) && first_device.as_deref() == device {
            ReserveOutcome::Replayed(payment_from_row(&first)?)
        } else {
            ReserveOutcome::KeyReused
        },
    ))
}

async fn lock_payment(conn: &mut Conn, partner: Uuid, payment: Uuid) -> StoreResult<Payment> {
    let row = sqlx::query(locking!(
        "SELECT * FROM payments WHERE partner_id = $1 AND id = $2"
    ))
    .bind(h(partner))
    .bind(h(payment))
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    payment_from_row(&row)
}

/// A tip ledger entry: the tip of a succeeded payment (`amount` > 0, settled once its transfer is sent), or a
/// refund's reversal of it (`amount` < 0, with `settled` its part of what the tip settled as).
async fn insert_tip(
    conn: &mut Conn,
    partner: Uuid,
    payment: &Payment,
    amount: i64,
    settled: Option<SettledMoney>,
    now: OffsetDateTime,
) -> StoreResult<()> {
    if amount == 0 {
        return Ok(());
    }
    let (settled_amount, settled_currency) = settled.map(|s| (s.amount, s.currency)).unzip();
    sqlx::query(
        "INSERT INTO tip_ledger (partner_id, id, venue_id, member, payment_id, amount, currency, at, settled_amount,
                                 settled_currency)
         SELECT $1, $2, venue_id, tip_member, id, $4, currency, $5, $6, $7 FROM payments
          WHERE partner_id = $1 AND id = $3",
    )
    .bind(h(partner))
    .bind(h(Uuid::now_v7()))
    .bind(h(payment.id))
    .bind(amount)
    .bind(ts(now))
    .bind(settled_amount)
    .bind(settled_currency)
    .execute(&mut *conn)
    .await?;
    let tips = Measures {
        tips: amount,
        ..Measures::default()
    };
    add_to_sales(
        conn,
        partner,
        payment.venue_id,
        now,
        payment.settlement.charged.currency,
        &tips,
    )
    .await
}

/// What a tip reversal of `reversal` (minor units of the charge's currency) takes back of what the tip settled as:
/// the same proportion, and all that is left for the reversal that empties the tip
/// ([`comanda_domain::payment::settled_reversal`], as for the transfer). Negative, as the entry's amount is; `None`
/// when the tip never settled in another currency.
async fn settled_tip_reversal(
    conn: &mut Conn,
    partner: Uuid,
    payment: Uuid,
    reversal: i64,
) -> StoreResult<Option<SettledMoney>> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(sum(CASE WHEN amount > 0 THEN amount ELSE 0 END), 0) AS BIGINT) AS tipped,
                CAST(COALESCE(sum(CASE WHEN amount < 0 THEN -amount ELSE 0 END), 0) AS BIGINT) AS reversed,
                CAST(COALESCE(sum(CASE WHEN amount > 0 THEN settled_amount ELSE 0 END), 0) AS BIGINT) AS settled,
                CAST(COALESCE(sum(CASE WHEN amount < 0 THEN -settled_amount ELSE 0 END), 0) AS BIGINT)
                  AS settled_reversed,
                min(settled_currency) AS settled_currency
         FROM tip_ledger WHERE partner_id = $1 AND payment_id = $2",
    )
    .bind(h(partner))
    .bind(h(payment))
    .fetch_one(&mut *conn)
    .await?;
    let Some(currency) = row.try_get::<Option<String>, _>("settled_currency")? else {
        return Ok(None);
    };
    let part = comanda_domain::payment::settled_reversal(
        reversal,
        row.try_get("tipped")?,
        row.try_get("reversed")?,
        row.try_get("settled")?,
        row.try_get("settled_reversed")?,
    );
    Ok(Some(SettledMoney {
        amount: -part,
        currency,
    }))
}

impl Engine {
    async fn open_account(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        mut account: ConnectedAccount,
    ) -> StoreResult<ConnectedAccount> {
        account.stripe_account = self
            .open_field(
                conn,
                partner,
                KeyOwner::Tenant,
                account_place(partner),
                &account.stripe_account,
            )
            .await?;
        Ok(account)
    }

    async fn open_transfer(
        &self,
        conn: &mut Conn,
        partner: PartnerId,
        mut transfer: TransferOrder,
    ) -> StoreResult<TransferOrder> {
        transfer.destination = self
            .open_field(
                conn,
                partner,
                KeyOwner::Tenant,
                destination_place(transfer.payment_id),
                &transfer.destination,
            )
            .await?;
        Ok(transfer)
    }

    async fn apply_effect(
        &self,
        conn: &mut Conn,
        scope: &TenantScope,
        effect: &EventEffect,
        now: OffsetDateTime,
    ) -> StoreResult<EventOutcome> {
        let partner = scope.partner().as_uuid();
        let mut transfer_due = None;
        let mut settled = None;
        let mut mismatch = None;
        match effect {
            EventEffect::PaymentSucceeded {
                payment,
                charge,
                amount_received,
            } => {
                let current = lock_payment(conn, partner, *payment).await?;
                if current.status != PaymentStatus::Succeeded {
                    if current.status != PaymentStatus::Pending {
                        mismatch = Some(format!(
                            "payment {payment} succeeded at Stripe after it was {}",
                            current.status.as_str()
                        ));
                    }
                    if *amount_received != current.settlement.charged.amount {
                        mismatch = Some(format!(
                            "payment {payment}: Stripe received {amount_received}, the payment asked {}",
                            current.settlement.charged.amount
                        ));
                    }
                    sqlx::query(
                        "UPDATE payments SET status = 'succeeded', charge_id = $3, succeeded_at = $4, failure = NULL
                         WHERE partner_id = $1 AND id = $2",
                    )
                    .bind(h(partner))
                    .bind(h(payment))
                    .bind(charge)
                    .bind(ts(now))
                    .execute(&mut *conn)
                    .await?;
                    insert_tip(conn, partner, &current, current.settlement.tip.amount, None, now).await?;
                    let collected = Measures {
                        collected: current.settlement.charged.amount,
                        ..Measures::default()
                    };
                    add_to_sales(
                        conn,
                        partner,
                        current.venue_id,
                        now,
                        current.settlement.charged.currency,
                        &collected,
                    )
                    .await?;
                    let account = sqlx::query("SELECT * FROM connected_accounts WHERE partner_id = $1")
                        .bind(h(partner))
                        .fetch_optional(&mut *conn)
                        .await?
                        .map(|row| account_from_row(&row))
                        .transpose()?;
                    let account = match account {
                        Some(account) => Some(self.open_account(conn, scope.partner(), account).await?),
                        None => None,
                    };
                    let destination = account.map(|a| a.stripe_account).unwrap_or_default();
                    let sealed_destination = self
                        .seal_field(
                            conn,
                            scope.partner(),
                            KeyOwner::Tenant,
                            destination_place(*payment),
                            &destination,
                        )
                        .await?;
                    let currency = current.settlement.charged.currency;
                    let (amount, recovered, status) = match current.charge_model {
                        ChargeModel::DestinationCharges => (
                            current.settlement.partner_part,
                            Money::zero(currency),
                            TransferStatus::Included,
                        ),
                        ChargeModel::SeparateChargesAndTransfers => {
                            let debt = Money::new(outstanding_debt_in(conn, partner).await?.max(0), currency)
                                .map_err(|_| corrupt("debt", "negative"))?;
                            let netting = net_against_debt(current.settlement.partner_part, debt)
                                .map_err(|e| corrupt("transfer", &e.to_string()))?;
                            let status = if netting.transfer.amount > 0 {
                                TransferStatus::Pending
                            } else {
                                TransferStatus::None
                            };
                            (netting.transfer, netting.recovered, status)
                        }
                    };
                    sqlx::query(
                        "INSERT INTO transfers (partner_id, payment_id, amount, recovered, currency, destination,
                                                transfer_group, source_charge, status, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(h(partner))
                    .bind(h(payment))
                    .bind(amount.amount)
                    .bind(recovered.amount)
                    .bind(currency.code())
                    .bind(&sealed_destination)
                    .bind(current.session_id.to_string())
                    .bind(charge)
                    .bind(status.as_str())
                    .bind(ts(now))
                    .execute(&mut *conn)
                    .await?;
                    if recovered.amount > 0 {
                        sqlx::query(
                            "INSERT INTO partner_debts (partner_id, id, amount, currency, reason, reference, created_at)
                             VALUES ($1, $2, $3, $4, 'netted against a transfer', $5, $6)",
                        )
                        .bind(h(partner))
                        .bind(h(Uuid::now_v7()))
                        .bind(-recovered.amount)
                        .bind(currency.code())
                        .bind(payment.to_string())
                        .bind(ts(now))
                        .execute(&mut *conn)
                        .await?;
                    }
                    if status == TransferStatus::Pending {
                        transfer_due = Some(*payment);
                    }
                    self.insert_audit(
                        conn,
                        scope.partner(),
                        &AuditEntry::new("payment.succeeded")
                            .target(payment.to_string())
                            .detail(format!(
                                "charged {} {}",
                                current.settlement.charged.amount,
                                currency.code()
                            )),
                        now,
                    )
                    .await?;
                    let balance = balance_in(conn, partner, current.session_id).await?;
                    if balance.settled {
                        settled = Some((current.venue_id, current.session_id));
                    }
                }
            }
            EventEffect::PaymentFailed { payment, reason } => {
                sqlx::query(
                    "UPDATE payments SET failure = $3 WHERE partner_id = $1 AND id = $2 AND status = 'pending'",
                )
                .bind(h(partner))
                .bind(h(payment))
                .bind(reason)
                .execute(&mut *conn)
                .await?;
            }
            EventEffect::ChargeRefunded {
                payment,
                amount_refunded,
            } => {
                let current = lock_payment(conn, partner, *payment).await?;
                if *amount_refunded > current.refunded.amount {
                    mismatch = Some(format!(
                        "payment {payment}: Stripe refunded {amount_refunded}, comanda recorded {}",
                        current.refunded.amount
                    ));
                    sqlx::query("UPDATE payments SET refunded = $3 WHERE partner_id = $1 AND id = $2")
                        .bind(h(partner))
                        .bind(h(payment))
                        .bind(amount_refunded.min(&current.settlement.charged.amount))
                        .execute(&mut *conn)
                        .await?;
                }
            }
            EventEffect::DisputeCreated {
                payment,
                stripe_dispute,
                amount,
                reason,
                status,
                evidence_due,
            } => {
                let current = lock_payment(conn, partner, *payment).await?;
                let currency = current.settlement.charged.currency;
                let money =
                    |n: i64| Money::new(n.max(0), currency).map_err(|_| corrupt("amount", "negative"));
                // The partner's part of the disputed amount, whether or not its transfer has gone yet (events come
                // in any order; a transfer still owed is netted against the debt).
                let debt = dispute_debt(
                    current.settlement.partner_part,
                    current.settlement.charged,
                    money(*amount)?,
                )
                .map_err(|e| corrupt("debt", &e.to_string()))?;
                let inserted = sqlx::query(
                    "INSERT INTO disputes (partner_id, id, stripe_dispute, payment_id, amount, currency, reason,
                                           status, debt, evidence_due, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (stripe_dispute) DO NOTHING",
                )
                .bind(h(partner))
                .bind(h(Uuid::now_v7()))
                .bind(stripe_dispute)
                .bind(h(payment))
                .bind(amount)
                .bind(currency.code())
                .bind(reason)
                .bind(status)
                .bind(debt.amount)
                .bind(ts(evidence_due))
                .bind(ts(now))
                .execute(&mut *conn)
                .await?
                .rows_affected();
                if inserted == 1 && debt.amount > 0 {
                    sqlx::query(
                        "INSERT INTO partner_debts (partner_id, id, amount, currency, reason, reference, created_at)
                         VALUES ($1, $2, $3, $4, 'dispute', $5, $6)",
                    )
                    .bind(h(partner))
                    .bind(h(Uuid::now_v7()))
                    .bind(debt.amount)
                    .bind(currency.code())
                    .bind(stripe_dispute)
                    .bind(ts(now))
                    .execute(&mut *conn)
                    .await?;
                }
                self.insert_audit(
                    conn,
                    scope.partner(),
                    &AuditEntry::new("payment.disputed")
                        .target(payment.to_string())
                        .detail(format!(
                            "{stripe_dispute}: {amount} {}, {reason}",
                            currency.code()
                        )),
                    now,
                )
                .await?;
            }
            EventEffect::AccountUpdated {
                stripe_account,
                details_submitted,
                charges_enabled,
                payouts_enabled,
                transfers_active,
            } => {
                sqlx::query(
                    "UPDATE connected_accounts SET details_submitted = $3, charges_enabled = $4,
                            payouts_enabled = $5, transfers_active = $6, updated_at = $7
                     WHERE partner_id = $1 AND $2 IS NOT NULL",
                )
                .bind(h(partner))
                .bind(stripe_account)
                .bind(details_submitted)
                .bind(charges_enabled)
                .bind(payouts_enabled)
                .bind(transfers_active)
                .bind(ts(now))
                .execute(&mut *conn)
                .await?;
            }
            EventEffect::Payout {
                stripe_payout,
                amount,
                currency,
                status,
                arrival_date,
                failure,
            } => {
                sqlx::query(
                    "INSERT INTO payouts (partner_id, stripe_payout, amount, currency, status, arrival_date, failure,
                                          updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (partner_id, stripe_payout) DO UPDATE SET status = excluded.status,
                        failure = excluded.failure, updated_at = excluded.updated_at",
                )
                .bind(h(partner))
                .bind(stripe_payout)
                .bind(amount)
                .bind(currency.to_ascii_uppercase())
                .bind(status)
                .bind(ts(arrival_date))
                .bind(failure)
                .bind(ts(now))
                .execute(&mut *conn)
                .await?;
            }
            EventEffect::DepositPaid {
                reservation,
                payment_intent,
                charge,
                amount_received,
            } => {
                // Paid while the booking awaits it: the booking is confirmed. Paid after the booking ended (its hold
                // expired while the guest was paying, or it was cancelled): the money goes back (refund-due).
                let awaited: Option<i64> = sqlx::query_scalar(
                    "UPDATE reservation_deposits SET status = CASE WHEN EXISTS
                            (SELECT 1 FROM reservations WHERE partner_id = $1 AND id = $2
                               AND status = 'awaiting_deposit') THEN 'paid' ELSE 'refund_due' END,
                            charge_id = $4, updated_at = $5
                      WHERE partner_id = $1 AND reservation_id = $2 AND payment_intent = $3
                        AND status IN ('awaiting', 'released') RETURNING amount",
                )
                .bind(h(partner))
                .bind(h(reservation))
                .bind(payment_intent)
                .bind(charge)
                .bind(ts(now))
                .fetch_optional(&mut *conn)
                .await?;
                match awaited {
                    None => {
                        mismatch = Some(format!(
                            "deposit of reservation {reservation}: {payment_intent} succeeded but no deposit awaits it"
                        ));
                    }
                    Some(asked) => {
                        if asked != *amount_received {
                            mismatch = Some(format!(
                                "deposit of reservation {reservation}: Stripe received {amount_received}, we asked {asked}"
                            ));
                        }
                        sqlx::query(
                            "UPDATE reservations SET status = 'confirmed', updated_at = $3
                              WHERE partner_id = $1 AND id = $2 AND status = 'awaiting_deposit'",
                        )
                        .bind(h(partner))
                        .bind(h(reservation))
                        .bind(ts(now))
                        .execute(&mut *conn)
                        .await?;
                        self.insert_audit(
                            conn,
                            scope.partner(),
                            &AuditEntry::new("reservation.deposit_paid")
                                .target(reservation.to_string())
                                .detail(format!("{payment_intent}: {amount_received}")),
                            now,
                        )
                        .await?;
                    }
                }
            }
            EventEffect::RefundUpdated { .. }
            | EventEffect::DepositRefundFailed { .. }
            | EventEffect::Ignored => {}
        }
        Ok(EventOutcome::Applied {
            transfer_due,
            settled,
            mismatch,
        })
    }
}

#[async_trait]
impl PaymentStore for Engine {
    async fn line_claims(
        &self,
        scope: &TenantScope,
        session: Uuid,
        except_device: Option<&str>,
    ) -> StoreResult<Vec<LineClaim>> {
        let mut tx = self.reading(scope).await?;
        line_claims_in(&mut tx, scope.partner().as_uuid(), session, except_device).await
    }

    async fn connected_account(&self, scope: &TenantScope) -> StoreResult<Option<ConnectedAccount>> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query("SELECT * FROM connected_accounts WHERE partner_id = $1")
            .bind(h(scope.partner().as_uuid()))
            .fetch_optional(&mut *tx)
            .await?;
        let account = match row {
            Some(row) => Some(
                self.open_account(&mut tx, scope.partner(), account_from_row(&row)?)
                    .await?,
            ),
            None => None,
        };
        tx.commit().await?;
        Ok(account)
    }

    async fn save_connected_account(
        &self,
        scope: &TenantScope,
        account: &ConnectedAccount,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<ConnectedAccount> {
        let mut tx = self.scoped(scope).await?;
        let sealed_account = self
            .seal_field(
                &mut tx,
                scope.partner(),
                KeyOwner::Tenant,
                account_place(scope.partner()),
                &account.stripe_account,
            )
            .await?;
        let row = sqlx::query(
            "INSERT INTO connected_accounts (partner_id, stripe_account, charge_model, country, details_submitted,
                                             charges_enabled, payouts_enabled, transfers_active, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(&sealed_account)
        .bind(account.charge_model.as_str())
        .bind(&account.country)
        .bind(account.details_submitted)
        .bind(account.charges_enabled)
        .bind(account.payouts_enabled)
        .bind(account.transfers_active)
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO account_directory (stripe_account, partner_id) VALUES ($1, $2)")
            .bind(account_digest(&account.stripe_account))
            .bind(h(scope.partner().as_uuid()))
            .execute(&mut *tx)
            .await?;
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        let saved = self
            .open_account(&mut tx, scope.partner(), account_from_row(&row)?)
            .await?;
        tx.commit().await?;
        Ok(saved)
    }

    async fn account_partner(&self, stripe_account: &str) -> StoreResult<Option<PartnerId>> {
        let row = sqlx::query("SELECT partner_id FROM account_directory WHERE stripe_account = $1")
            .bind(account_digest(stripe_account))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| uuid_col(&r, "partner_id").map(PartnerId::from_uuid))
            .transpose()
    }

    async fn payment_partner(&self, payment: Uuid) -> StoreResult<Option<PartnerId>> {
        let row = sqlx::query("SELECT partner_id FROM payment_directory WHERE payment_id = $1")
            .bind(h(payment))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| uuid_col(&r, "partner_id").map(PartnerId::from_uuid))
            .transpose()
    }

    async fn payment_partners(&self) -> StoreResult<Vec<PartnerId>> {
        let rows = sqlx::query(
            "SELECT partner_id FROM payment_directory UNION SELECT partner_id FROM account_directory",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| uuid_col(r, "partner_id").map(PartnerId::from_uuid))
            .collect()
    }

    async fn offboarded_partners(&self) -> StoreResult<Vec<PartnerId>> {
        let rows = sqlx::query("SELECT partner_id FROM partner_directory WHERE offboarded_at IS NOT NULL")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| uuid_col(r, "partner_id").map(PartnerId::from_uuid))
            .collect()
    }

    async fn session_balance(&self, scope: &TenantScope, session: Uuid) -> StoreResult<SessionBalance> {
        let mut tx = self.scoped(scope).await?;
        let balance = balance_in(&mut tx, scope.partner().as_uuid(), session).await?;
        tx.commit().await?;
        Ok(balance)
    }

    async fn record_cash(
        &self,
        scope: &TenantScope,
        cash: &NewCashPayment,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<CashOutcome> {
        let partner = scope.partner().as_uuid();
        let mut tx = self.scoped(scope).await?;
        // The session row is the lock every payer of this bill queues on, card or cash.
        let live: Option<String> = sqlx::query_scalar(locking!(
            "SELECT status FROM table_sessions WHERE partner_id = $1 AND id = $2 AND table_id = $3"
        ))
        .bind(h(partner))
        .bind(h(cash.session_id))
        .bind(h(cash.table_id))
        .fetch_optional(&mut *tx)
        .await?;
        // Only an accepted bill takes money (a pending one has nobody serving it, and the tip would go unassigned).
        if live.as_deref() != Some("open") {
            return Ok(CashOutcome::BillClosed);
        }
        let balance = balance_in(&mut tx, partner, cash.session_id).await?;
        let bill = comanda_domain::payment::BillBalance {
            total: balance.total,
            remaining: balance.remaining,
        };
        let tipped: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(sum(tip), 0) AS BIGINT) FROM cash_payments
              WHERE partner_id = $1 AND session_id = $2 AND voided_at IS NULL",
        )
        .bind(h(partner))
        .bind(h(cash.session_id))
        .fetch_one(&mut *tx)
        .await?;
        if let Err(refused) = check_cash(&bill, cash.amount, cash.tip, tipped) {
            return Ok(CashOutcome::Refused(refused));
        }
        let row = sqlx::query(
            "INSERT INTO cash_payments (partner_id, id, venue_id, table_id, session_id, currency, amount, tip,
                                        recorded_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             RETURNING *",
        )
        .bind(h(partner))
        .bind(h(cash.id))
        .bind(h(cash.venue_id))
        .bind(h(cash.table_id))
        .bind(h(cash.session_id))
        .bind(cash.amount.currency.code())
        .bind(cash.amount.amount)
        .bind(cash.tip.amount)
        .bind(h(cash.recorded_by))
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await?;
        let recorded = cash_from_row(&row)?;
        if recorded.tip.amount > 0 {
            // Credited as a card tip is: to the member who accepted the table.
            sqlx::query(
                "INSERT INTO tip_ledger (partner_id, id, venue_id, member, payment_id, amount, currency, at, tender)
                 SELECT $1, $2, venue_id, accepted_member, $3, $4, $5, $6, 'cash' FROM table_sessions
                  WHERE partner_id = $1 AND id = $7",
            )
            .bind(h(partner))
            .bind(h(Uuid::now_v7()))
            .bind(h(recorded.id))
            .bind(recorded.tip.amount)
            .bind(recorded.tip.currency.code())
            .bind(ts(now))
            .bind(h(recorded.session_id))
            .execute(&mut *tx)
            .await?;
        }
        count_cash(&mut tx, partner, &recorded, now, 1).await?;
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        Ok(CashOutcome::Recorded(recorded))
    }

    async fn void_cash(
        &self,
        scope: &TenantScope,
        table: Uuid,
        cash: Uuid,
        voided_by: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<CashPayment> {
        let partner = scope.partner().as_uuid();
        let mut tx = self.scoped(scope).await?;
        let record =
            sqlx::query("SELECT * FROM cash_payments WHERE partner_id = $1 AND id = $2 AND table_id = $3")
                .bind(h(partner))
                .bind(h(cash))
                .bind(h(table))
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)
                .and_then(|row| cash_from_row(&row))?;
        // Under the bill's lock: a close cannot slip between the check and the void.
        let live: Option<String> = sqlx::query_scalar(locking!(
            "SELECT status FROM table_sessions WHERE partner_id = $1 AND id = $2"
        ))
        .bind(h(partner))
        .bind(h(record.session_id))
        .fetch_optional(&mut *tx)
        .await?;
        if live.as_deref().is_none_or(|s| s == "closed") {
            return Err(StoreError::Conflict(
                "this bill is closed: its cash records stand as they were".into(),
            ));
        }
        let row = sqlx::query(
            "UPDATE cash_payments SET voided_by = $3, voided_at = $4
              WHERE partner_id = $1 AND id = $2 AND voided_at IS NULL RETURNING *",
        )
        .bind(h(partner))
        .bind(h(cash))
        .bind(h(voided_by))
        .bind(ts(now))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::Conflict("this cash record was voided already".into()))?;
        let voided = cash_from_row(&row)?;
        sqlx::query(
            "INSERT INTO tip_ledger (partner_id, id, venue_id, member, payment_id, amount, currency, at, tender)
             SELECT $1, $2, venue_id, member, payment_id, -amount, currency, $3, 'cash' FROM tip_ledger
              WHERE partner_id = $1 AND payment_id = $4 AND amount > 0",
        )
        .bind(h(partner))
        .bind(h(Uuid::now_v7()))
        .bind(ts(now))
        .bind(h(cash))
        .execute(&mut *tx)
        .await?;
        count_cash(&mut tx, partner, &voided, now, -1).await?;
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        Ok(voided)
    }

    async fn venue_cash(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        start: OffsetDateTime,
        end: OffsetDateTime,
        page: PageRequest,
    ) -> StoreResult<Page<CashPayment>> {
        let (after_at, after_id) = page.after_timed().unzip();
        let rows = sqlx::query(
            "SELECT * FROM cash_payments
              WHERE partner_id = $1 AND venue_id = $2
                AND ((created_at >= $3 AND created_at < $4) OR (voided_at >= $3 AND voided_at < $4))
                AND (CAST($5 AS TIMESTAMPTZ) IS NULL OR (created_at, id) > ($5, $6))
              ORDER BY created_at, id LIMIT $7",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(venue))
        // Instants are stored in UTC (SQLite compares their text): the range's bounds too.
        .bind(ts(start))
        .bind(ts(end))
        .bind(ts(after_at))
        .bind(after_id.map(h))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&mut *self.reading(scope).await?)
        .await?;
        let records = rows.iter().map(cash_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch_timed(records, page.limit, |c| {
            (c.created_at, c.id)
        }))
    }

    async fn session_cash(&self, scope: &TenantScope, session: Uuid) -> StoreResult<Vec<CashPayment>> {
        sqlx::query(
            "SELECT * FROM cash_payments WHERE partner_id = $1 AND session_id = $2 ORDER BY created_at, id",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(session))
        .fetch_all(&mut *self.reading(scope).await?)
        .await?
        .iter()
        .map(cash_from_row)
        .collect()
    }

    async fn session_balances(
        &self,
        scope: &TenantScope,
        sessions: &[Uuid],
    ) -> StoreResult<Vec<SessionBalance>> {
        let mut tx = self.reading(scope).await?;
        let balances = balances_in(&mut tx, scope.partner().as_uuid(), sessions).await?;
        tx.commit().await?;
        Ok(balances)
    }

    async fn keyed_payment(
        &self,
        scope: &TenantScope,
        session: Uuid,
        key: &str,
        request: (&[u8], Option<&str>),
    ) -> StoreResult<Option<ReserveOutcome>> {
        keyed_payment_in(
            &mut *self.reading(scope).await?,
            scope.partner().as_uuid(),
            session,
            key,
            request,
        )
        .await
    }

    async fn reserve_payment(
        &self,
        scope: &TenantScope,
        payment: &NewPayment,
        now: OffsetDateTime,
    ) -> StoreResult<ReserveOutcome> {
        let partner = scope.partner().as_uuid();
        let mut tx = self.scoped(scope).await?;
        // The session row is the lock every payer of this bill queues on.
        let live: Option<String> = sqlx::query_scalar(locking!(
            "SELECT status FROM table_sessions WHERE partner_id = $1 AND id = $2"
        ))
        .bind(h(partner))
        .bind(h(payment.session_id))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(key) = &payment.idempotency_key
            && let Some(first) = keyed_payment_in(
                &mut tx,
                partner,
                payment.session_id,
                key,
                (&payment.request_hash, payment.device.as_deref()),
            )
            .await?
        {
            return Ok(first);
        }
        if live.as_deref().is_none_or(|s| s == "closed") {
            return Ok(ReserveOutcome::SessionGone);
        }
        let balance = balance_in(&mut tx, partner, payment.session_id).await?;
        let untouched = balance.paid.amount == 0 && balance.in_progress.amount == 0;
        if payment.settlement.share.amount > balance.remaining.amount || (payment.whole_bill && !untouched) {
            return Ok(ReserveOutcome::Covered {
                remaining: balance.remaining,
            });
        }
        if let Split::Items { items } = &payment.split {
            let earlier = line_claims_in(&mut tx, partner, payment.session_id, None).await?;
            if let Err(taken) = check_line_claims(earlier.iter().map(|claim| &claim.share), items) {
                return Ok(ReserveOutcome::LineTaken(taken));
            }
            let parts = line_part_amounts(items, &payment.line_totals, &earlier)
                .map_err(|e| corrupt("line_amounts", &e.to_string()))?;
            if parts
                .iter()
                .map(|part| part.amount)
                .ne(payment.line_amounts.iter().copied())
            {
                let share = parts
                    .iter()
                    .try_fold(Money::zero(payment.settlement.share.currency), |sum, part| {
                        sum.checked_add(*part)
                    });
                return Ok(ReserveOutcome::ShareChanged {
                    share: share.map_err(|e| corrupt("line_amounts", &e.to_string()))?,
                });
            }
        }
        let row = sqlx::query(
            "INSERT INTO payments (partner_id, id, venue_id, table_id, session_id, split, currency, share, tip,
                                   platform_fee, charge_model, status, device, idempotency_key, request_hash,
                                   tip_member, created_at, expires_at, line_amounts)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12, $13, $14, $15, $16, $17, $18)
             RETURNING *",
        )
        .bind(h(partner))
        .bind(h(payment.id))
        .bind(h(payment.venue_id))
        .bind(h(payment.table_id))
        .bind(h(payment.session_id))
        .bind(json_text(&payment.split))
        .bind(payment.settlement.charged.currency.code())
        .bind(payment.settlement.share.amount)
        .bind(payment.settlement.tip.amount)
        .bind(payment.settlement.platform_fee.amount)
        .bind(payment.charge_model.as_str())
        .bind(&payment.device)
        .bind(&payment.idempotency_key)
        .bind(&payment.request_hash)
        .bind(payment.tip_member.map(h))
        .bind(ts(now))
        .bind(ts(payment.expires_at))
        .bind((!payment.line_amounts.is_empty()).then(|| json_text(&payment.line_amounts)))
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO payment_directory (payment_id, partner_id) VALUES ($1, $2)")
            .bind(h(payment.id))
            .bind(h(partner))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ReserveOutcome::Reserved(payment_from_row(&row)?))
    }

    async fn attach_intent(&self, scope: &TenantScope, payment: Uuid, intent: &str) -> StoreResult<bool> {
        let mut tx = self.scoped(scope).await?;
        let attached = sqlx::query(
            "UPDATE payments SET payment_intent = $3 WHERE partner_id = $1 AND id = $2 AND status = 'pending'",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(payment))
        .bind(intent)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(attached == 1)
    }

    async fn release_payment(
        &self,
        scope: &TenantScope,
        payment: Uuid,
        status: PaymentStatus,
        reason: &str,
    ) -> StoreResult<Payment> {
        let mut tx = self.scoped(scope).await?;
        sqlx::query(
            "UPDATE payments SET status = $3, failure = $4 WHERE partner_id = $1 AND id = $2 AND status = 'pending'",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(payment))
        .bind(status.as_str())
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        let current = lock_payment(&mut tx, scope.partner().as_uuid(), payment).await?;
        tx.commit().await?;
        Ok(current)
    }

    async fn payment(&self, scope: &TenantScope, payment: Uuid) -> StoreResult<Payment> {
        let row = sqlx::query("SELECT * FROM payments WHERE partner_id = $1 AND id = $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(payment))
            .fetch_optional(&mut *self.reading(scope).await?)
            .await?
            .ok_or(StoreError::NotFound)?;
        payment_from_row(&row)
    }

    async fn venue_payments(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        page: PageRequest,
    ) -> StoreResult<Page<Payment>> {
        let mut conn = self.reading(scope).await?;
        keyset_page(
            &mut conn,
            "SELECT * FROM payments WHERE partner_id = $1 AND venue_id = $2
               AND (CAST($3 AS TIMESTAMPTZ) IS NULL OR (created_at, id) < ($3, $4))
             ORDER BY created_at DESC, id DESC LIMIT $5",
            scope.partner(),
            venue,
            page,
            payment_from_row,
            |p| (p.created_at, p.id),
        )
        .await
    }

    async fn expired_holds(&self, scope: &TenantScope, now: OffsetDateTime) -> StoreResult<Vec<Payment>> {
        let rows = sqlx::query(
            "SELECT * FROM payments WHERE partner_id = $1 AND status = 'pending' AND expires_at <= $2 LIMIT 200",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(ts(now))
        .fetch_all(&mut *self.reading(scope).await?)
        .await?;
        rows.iter().map(payment_from_row).collect()
    }

    async fn session_holds(
        &self,
        scope: &TenantScope,
        session: Uuid,
        device: Option<&str>,
    ) -> StoreResult<Vec<Payment>> {
        let rows = sqlx::query(
            "SELECT * FROM payments
             WHERE partner_id = $1 AND session_id = $2 AND status = 'pending'
               AND (CAST($3 AS TEXT) IS NULL OR device = $3)",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(session))
        .bind(device)
        .fetch_all(&mut *self.reading(scope).await?)
        .await?;
        rows.iter().map(payment_from_row).collect()
    }

    async fn succeeded_payments(
        &self,
        scope: &TenantScope,
        since: OffsetDateTime,
    ) -> StoreResult<Vec<Payment>> {
        let rows = sqlx::query(
            "SELECT * FROM payments WHERE partner_id = $1 AND status = 'succeeded' AND created_at >= $2
             ORDER BY created_at",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(ts(since))
        .fetch_all(&mut *self.reading(scope).await?)
        .await?;
        rows.iter().map(payment_from_row).collect()
    }

    async fn apply_event(
        &self,
        scope: Option<&TenantScope>,
        event_id: &str,
        kind: &str,
        effect: &EventEffect,
        now: OffsetDateTime,
    ) -> StoreResult<EventOutcome> {
        // A write either way (the event is recorded), in the tenant's transaction when the event names one.
        let mut tx = self.event_tx(scope).await?;
        // Concurrent deliveries of one event queue on this row: the first inserts it and applies the effect, the
        // others find it once the first commits and change nothing.
        let recorded = sqlx::query(
            "INSERT INTO stripe_events (event_id, kind, partner_id, received_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event_id)
        .bind(kind)
        .bind(scope.map(|s| h(s.partner().as_uuid())))
        .bind(ts(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if recorded == 0 {
            return Ok(EventOutcome::Duplicate);
        }
        let outcome = match scope {
            Some(scope) => self.apply_effect(&mut tx, scope, effect, now).await?,
            None => EventOutcome::Applied {
                transfer_due: None,
                settled: None,
                mismatch: None,
            },
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn event_processed(&self, event_id: &str) -> StoreResult<bool> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT event_id FROM stripe_events WHERE event_id = $1")
                .bind(event_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn transfer(&self, scope: &TenantScope, payment: Uuid) -> StoreResult<Option<TransferOrder>> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query("SELECT * FROM transfers WHERE partner_id = $1 AND payment_id = $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(payment))
            .fetch_optional(&mut *tx)
            .await?;
        let transfer = match row {
            Some(row) => Some(
                self.open_transfer(&mut tx, scope.partner(), transfer_from_row(&row)?)
                    .await?,
            ),
            None => None,
        };
        tx.commit().await?;
        Ok(transfer)
    }

    async fn due_transfers(&self, scope: &TenantScope) -> StoreResult<Vec<TransferOrder>> {
        let mut tx = self.scoped(scope).await?;
        let rows = sqlx::query(
            "SELECT * FROM transfers WHERE partner_id = $1 AND status = 'pending' ORDER BY created_at LIMIT 200",
        )
        .bind(h(scope.partner().as_uuid()))
        .fetch_all(&mut *tx)
        .await?;
        let mut transfers = Vec::with_capacity(rows.len());
        for row in &rows {
            transfers.push(
                self.open_transfer(&mut tx, scope.partner(), transfer_from_row(row)?)
                    .await?,
            );
        }
        tx.commit().await?;
        Ok(transfers)
    }

    async fn mark_transfer_sent(
        &self,
        scope: &TenantScope,
        payment: Uuid,
        stripe_transfer: &str,
        settled: Option<&SettledAmounts>,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        let settled_amount = settled.map(|s| s.transfer);
        let settled_tip = settled.map(|s| s.tip);
        let settled_currency = settled.map(|s| s.currency.as_str());
        sqlx::query(
            "UPDATE tip_ledger SET settled_amount = $3, settled_currency = $4
             WHERE partner_id = $1 AND payment_id = $2 AND amount > 0 AND settled_amount IS NULL
               AND EXISTS (SELECT 1 FROM transfers t WHERE t.partner_id = $1 AND t.payment_id = $2
                             AND t.status = 'pending')",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(payment))
        .bind(settled_tip)
        .bind(settled_currency)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE transfers SET status = 'sent', stripe_transfer = $3, sent_at = $4,
                    settled_amount = $5, settled_currency = $6
             WHERE partner_id = $1 AND payment_id = $2 AND status = 'pending'",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(payment))
        .bind(stripe_transfer)
        .bind(ts(now))
        .bind(settled_amount)
        .bind(settled_currency)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn request_refund(
        &self,
        scope: &TenantScope,
        refund: &NewRefund,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Refund> {
        let partner = scope.partner().as_uuid();
        let mut tx = self.scoped(scope).await?;
        let payment = lock_payment(&mut tx, partner, refund.payment_id).await?;
        // Looked up under the payment's lock: a retry waits for the first request and then finds its refund.
        if let Some(key) = &refund.idempotency_key {
            let prior = sqlx::query("SELECT * FROM refunds WHERE partner_id = $1 AND idempotency_key = $2")
                .bind(h(partner))
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(prior) = prior {
                let asked: Option<Vec<u8>> = prior.try_get("request_hash")?;
                return if asked.as_deref() == Some(refund.request_hash.as_slice()) {
                    refund_from_row(&prior)
                } else {
                    Err(StoreError::Conflict(
                        "this Idempotency-Key was used for another refund".into(),
                    ))
                };
            }
        }
        if payment.status != PaymentStatus::Succeeded {
            return Err(StoreError::Conflict(
                "only a succeeded payment can be refunded".into(),
            ));
        }
        let currency = payment.settlement.charged.currency;
        let transfer = sqlx::query("SELECT * FROM transfers WHERE partner_id = $1 AND payment_id = $2")
            .bind(h(partner))
            .bind(h(refund.payment_id))
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| transfer_from_row(&r))
            .transpose()?;
        let transferred = match &transfer {
            Some(t) if t.status == TransferStatus::Pending => {
                return Err(StoreError::Conflict(
                    "the partner's transfer for this payment is still being sent; try again in a minute"
                        .into(),
                ));
            }
            Some(t) if matches!(t.status, TransferStatus::Sent | TransferStatus::Included) => t.amount,
            _ => Money::zero(currency),
        };
        let row = sqlx::query(
            "SELECT CAST(COALESCE(sum(transfer_reversal), 0) AS BIGINT) AS reversed,
                    CAST(COALESCE(sum(tip_reversal), 0) AS BIGINT) AS tips
             FROM refunds WHERE partner_id = $1 AND payment_id = $2 AND status <> 'failed'",
        )
        .bind(h(partner))
        .bind(h(refund.payment_id))
        .fetch_one(&mut *tx)
        .await?;
        let money = |n: i64| Money::new(n, currency).map_err(|_| corrupt("refunds", "negative"));
        let state = Refundable {
            settlement: payment.settlement,
            transferred,
            refunded: payment.refunded,
            reversed: money(row.try_get("reversed")?)?,
            tip_reversed: money(row.try_get("tips")?)?,
        };
        // More than is left of the payment breaks a rule (422), whether the caller asked too much or another refund
        // took part of it first; the detail says what is left.
        let split = split_refund(&state, refund.amount).map_err(|e| StoreError::Refused(e.to_string()))?;
        // The tax the sales part gives back, in the bill's own proportion (docs/analytics.md, "Refunds").
        let bill = sqlx::query(
            "SELECT CAST(COALESCE(sum(subtotal), 0) AS BIGINT) AS subtotal, CAST(COALESCE(sum(tax), 0) AS BIGINT) AS tax
             FROM orders WHERE partner_id = $1 AND session_id = $2 AND status <> 'cancelled'",
        )
        .bind(h(partner))
        .bind(h(payment.session_id))
        .fetch_one(&mut *tx)
        .await?;
        let tax_part = comanda_domain::bill::refund_tax(
            split.refund.amount - split.tip_reversal.amount,
            bill.try_get("subtotal")?,
            bill.try_get("tax")?,
        );
        let waits = refund
            .approval_threshold
            .is_some_and(|threshold| refund_needs_approval(payment.refunded, split.refund, threshold));
        let status = if waits {
            RefundStatus::AwaitingApproval
        } else {
            RefundStatus::Pending
        };
        let row = sqlx::query(
            "INSERT INTO refunds (partner_id, id, payment_id, amount, transfer_reversal, platform_part, tip_reversal,
                                  reason, status, requested_by, created_at, currency, idempotency_key, request_hash,
                                  tax_part)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING *",
        )
        .bind(h(partner))
        .bind(h(refund.id))
        .bind(h(refund.payment_id))
        .bind(split.refund.amount)
        .bind(split.transfer_reversal.amount)
        .bind(split.platform_part.amount)
        .bind(split.tip_reversal.amount)
        .bind(&refund.reason)
        .bind(status.as_str())
        .bind(h(refund.requested_by))
        .bind(ts(now))
        .bind(currency.code())
        .bind(&refund.idempotency_key)
        .bind(&refund.request_hash)
        .bind(tax_part)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE payments SET refunded = refunded + $3 WHERE partner_id = $1 AND id = $2")
            .bind(h(partner))
            .bind(h(refund.payment_id))
            .bind(split.refund.amount)
            .execute(&mut *tx)
            .await?;
        // A refund that waits issued nothing yet: it is audited as requested, whatever its entry was named.
        let audit = AuditEntry {
            action: if waits {
                "refund.requested".into()
            } else {
                audit.action.clone()
            },
            ..audit.clone()
        };
        self.insert_audit(&mut tx, scope.partner(), &audit, now).await?;
        tx.commit().await?;
        refund_from_row(&row)
    }

    async fn approve_refund(
        &self,
        scope: &TenantScope,
        refund: Uuid,
        approver: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Refund> {
        let mut tx = self.scoped(scope).await?;
        let current = sqlx::query(locking!(
            "SELECT * FROM refunds WHERE partner_id = $1 AND id = $2"
        ))
        .bind(h(scope.partner().as_uuid()))
        .bind(h(refund))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)
        .and_then(|r| refund_from_row(&r))?;
        if current.status != RefundStatus::AwaitingApproval {
            return Err(StoreError::Conflict(
                "this refund is not awaiting approval".into(),
            ));
        }
        if current.requested_by == approver {
            return Err(StoreError::Conflict(
                "a second person with payout authority must approve this refund".into(),
            ));
        }
        let row = sqlx::query(
            "UPDATE refunds SET status = 'pending', approved_by = $3 WHERE partner_id = $1 AND id = $2 RETURNING *",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(refund))
        .bind(h(approver))
        .fetch_one(&mut *tx)
        .await?;
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        refund_from_row(&row)
    }

    async fn complete_refund(
        &self,
        scope: &TenantScope,
        refund: Uuid,
        stripe_refund: &str,
        reversal: Option<(&str, &SettledMoney)>,
        now: OffsetDateTime,
    ) -> StoreResult<Refund> {
        let partner = scope.partner().as_uuid();
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE refunds SET status = 'succeeded', stripe_refund = $3, stripe_reversal = $4, completed_at = $5,
                                reversal_amount = $6, reversal_currency = $7
             WHERE partner_id = $1 AND id = $2 AND status = 'pending' RETURNING *",
        )
        .bind(h(partner))
        .bind(h(refund))
        .bind(stripe_refund)
        .bind(reversal.map(|(id, _)| id))
        .bind(ts(now))
        .bind(reversal.map(|(_, moved)| moved.amount))
        .bind(reversal.map(|(_, moved)| moved.currency.as_str()))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            let current = sqlx::query("SELECT * FROM refunds WHERE partner_id = $1 AND id = $2")
                .bind(h(partner))
                .bind(h(refund))
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            return refund_from_row(&current);
        };
        let done = refund_from_row(&row)?;
        let tax_part: i64 = row.try_get("tax_part")?;
        sqlx::query(
            "UPDATE transfers SET reversed = reversed + $3 WHERE partner_id = $1 AND payment_id = $2",
        )
        .bind(h(partner))
        .bind(h(done.payment_id))
        .bind(done.split.transfer_reversal.amount)
        .execute(&mut *tx)
        .await?;
        let payment = lock_payment(&mut tx, partner, done.payment_id).await?;
        let settled =
            settled_tip_reversal(&mut tx, partner, payment.id, done.split.tip_reversal.amount).await?;
        insert_tip(
            &mut tx,
            partner,
            &payment,
            -done.split.tip_reversal.amount,
            settled,
            now,
        )
        .await?;
        // docs/analytics.md, "Refunds": the sales part and the tax it carries count on the day the refund completed;
        // the tip part left the tips just above.
        let sales_part = done.split.refund.amount - done.split.tip_reversal.amount;
        let refunds = Measures {
            refunds: sales_part,
            refund_tax: tax_part,
            ..Measures::default()
        };
        add_to_sales(
            &mut tx,
            partner,
            payment.venue_id,
            now,
            done.split.refund.currency,
            &refunds,
        )
        .await?;
        tx.commit().await?;
        Ok(done)
    }

    async fn decline_refund(
        &self,
        scope: &TenantScope,
        refund: Uuid,
        declined_by: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Refund> {
        let partner = scope.partner().as_uuid();
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE refunds SET status = 'failed', failure = 'declined', declined_by = $3
             WHERE partner_id = $1 AND id = $2 AND status = 'awaiting_approval' RETURNING *",
        )
        .bind(h(partner))
        .bind(h(refund))
        .bind(h(declined_by))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            sqlx::query("SELECT id FROM refunds WHERE partner_id = $1 AND id = $2")
                .bind(h(partner))
                .bind(h(refund))
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            return Err(StoreError::Conflict(
                "this refund is not awaiting approval".into(),
            ));
        };
        let declined = refund_from_row(&row)?;
        sqlx::query("UPDATE payments SET refunded = refunded - $3 WHERE partner_id = $1 AND id = $2")
            .bind(h(partner))
            .bind(h(declined.payment_id))
            .bind(declined.split.refund.amount)
            .execute(&mut *tx)
            .await?;
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        Ok(declined)
    }

    async fn fail_refund(&self, scope: &TenantScope, refund: Uuid, reason: &str) -> StoreResult<Refund> {
        let partner = scope.partner().as_uuid();
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE refunds SET status = 'failed', failure = $3
             WHERE partner_id = $1 AND id = $2 AND status IN ('pending', 'awaiting_approval') RETURNING *",
        )
        .bind(h(partner))
        .bind(h(refund))
        .bind(reason)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::Conflict("this refund can no longer fail".into()))?;
        let failed = refund_from_row(&row)?;
        sqlx::query("UPDATE payments SET refunded = refunded - $3 WHERE partner_id = $1 AND id = $2")
            .bind(h(partner))
            .bind(h(failed.payment_id))
            .bind(failed.split.refund.amount)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(failed)
    }

    async fn submit_refund(
        &self,
        scope: &TenantScope,
        refund: Uuid,
        stripe_refund: &str,
    ) -> StoreResult<Refund> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE refunds SET stripe_refund = COALESCE(stripe_refund, $3)
             WHERE partner_id = $1 AND id = $2 RETURNING *",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(refund))
        .bind(stripe_refund)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        refund_from_row(&row)
    }

    async fn refund_returned(
        &self,
        scope: &TenantScope,
        refund: Uuid,
        reason: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Refund>> {
        let partner = scope.partner().as_uuid();
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "UPDATE refunds SET status = 'failed', failure = $3
             WHERE partner_id = $1 AND id = $2 AND status = 'succeeded' RETURNING *",
        )
        .bind(h(partner))
        .bind(h(refund))
        .bind(reason)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            sqlx::query("SELECT id FROM refunds WHERE partner_id = $1 AND id = $2")
                .bind(h(partner))
                .bind(h(refund))
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            return Ok(None);
        };
        let returned = refund_from_row(&row)?;
        let tax_part: i64 = row.try_get("tax_part")?;
        let payment = lock_payment(&mut tx, partner, returned.payment_id).await?;
        sqlx::query("UPDATE payments SET refunded = refunded - $3 WHERE partner_id = $1 AND id = $2")
            .bind(h(partner))
            .bind(h(payment.id))
            .bind(returned.split.refund.amount)
            .execute(&mut *tx)
            .await?;
        // The partner's share the refund took is the partner's again (given back by its own transfer): a later
        // refund takes it in proportion as if this one had never been.
        sqlx::query(
            "UPDATE transfers SET reversed = reversed - $3 WHERE partner_id = $1 AND payment_id = $2",
        )
        .bind(h(partner))
        .bind(h(payment.id))
        .bind(returned.split.transfer_reversal.amount)
        .execute(&mut *tx)
        .await?;
        // The tip goes back to the server as it left, in the settlement currency too: the refund's own entry is not
        // linked to it, so the latest reversal of the same amount stands for it (equal reversals of one payment
        // settle alike, to the rounding of the last one).
        let tip = returned.split.tip_reversal.amount;
        let settled = if tip > 0 {
            sqlx::query(
                "SELECT settled_amount, settled_currency FROM tip_ledger
                 WHERE partner_id = $1 AND payment_id = $2 AND amount = $3 ORDER BY at DESC LIMIT 1",
            )
            .bind(h(partner))
            .bind(h(payment.id))
            .bind(-tip)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| -> StoreResult<Option<SettledMoney>> {
                let amount: Option<i64> = r.try_get("settled_amount")?;
                let currency: Option<String> = r.try_get("settled_currency")?;
                Ok(amount.zip(currency).map(|(amount, currency)| SettledMoney {
                    amount: -amount,
                    currency,
                }))
            })
            .transpose()?
            .flatten()
        } else {
            None
        };
        insert_tip(&mut tx, partner, &payment, tip, settled, now).await?;
        // docs/analytics.md, "Refunds": the day the refund failed gives back what the day it completed took.
        let sales_part = returned.split.refund.amount - tip;
        let undone = Measures {
            refunds: -sales_part,
            refund_tax: -tax_part,
            ..Measures::default()
        };
        add_to_sales(
            &mut tx,
            partner,
            payment.venue_id,
            now,
            returned.split.refund.currency,
            &undone,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(returned))
    }

    async fn refunds_to_restore(&self, scope: &TenantScope) -> StoreResult<Vec<Refund>> {
        let rows = sqlx::query(
            "SELECT * FROM refunds
             WHERE partner_id = $1 AND status = 'failed' AND stripe_reversal IS NOT NULL AND reversal_amount > 0
               AND restored_transfer IS NULL
             ORDER BY created_at, id",
        )
        .bind(h(scope.partner().as_uuid()))
        .fetch_all(&mut *self.reading(scope).await?)
        .await?;
        rows.iter().map(refund_from_row).collect()
    }

    async fn refunds_in_flight(
        &self,
        scope: &TenantScope,
        created_before: OffsetDateTime,
    ) -> StoreResult<Vec<Refund>> {
        let rows = sqlx::query(
            "SELECT * FROM refunds WHERE partner_id = $1 AND status = 'pending' AND created_at < $2
             ORDER BY created_at, id",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(ts(created_before))
        .fetch_all(&mut *self.reading(scope).await?)
        .await?;
        rows.iter().map(refund_from_row).collect()
    }

    async fn record_restored_transfer(
        &self,
        scope: &TenantScope,
        refund: Uuid,
        stripe_transfer: &str,
    ) -> StoreResult<()> {
        let mut tx = self.scoped(scope).await?;
        sqlx::query(
            "UPDATE refunds SET restored_transfer = $3
             WHERE partner_id = $1 AND id = $2 AND status = 'failed' AND restored_transfer IS NULL",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(refund))
        .bind(stripe_transfer)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn refund(&self, scope: &TenantScope, refund: Uuid) -> StoreResult<Refund> {
        let row = sqlx::query("SELECT * FROM refunds WHERE partner_id = $1 AND id = $2")
            .bind(h(scope.partner().as_uuid()))
            .bind(h(refund))
            .fetch_optional(&mut *self.reading(scope).await?)
            .await?
            .ok_or(StoreError::NotFound)?;
        refund_from_row(&row)
    }

    async fn venue_refunds(
        &self,
        scope: &TenantScope,
        venue: Uuid,
        status: Option<RefundStatus>,
        page: PageRequest,
    ) -> StoreResult<Page<VenueRefund>> {
        let (at, id) = page.after_timed().unzip();
        let rows = sqlx::query(
            "SELECT refunds.*, payments.table_id FROM refunds
               JOIN payments ON payments.partner_id = refunds.partner_id AND payments.id = refunds.payment_id
             WHERE refunds.partner_id = $1 AND payments.venue_id = $2
               AND (CAST($3 AS TEXT) IS NULL OR refunds.status = $3)
               AND (CAST($4 AS TIMESTAMPTZ) IS NULL OR (refunds.created_at, refunds.id) < ($4, $5))
             ORDER BY refunds.created_at DESC, refunds.id DESC LIMIT $6",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(venue))
        .bind(status.map(RefundStatus::as_str))
        .bind(ts(at))
        .bind(id.map(h))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&mut *self.reading(scope).await?)
        .await?;
        let items = rows
            .iter()
            .map(|row| {
                Ok(VenueRefund {
                    refund: refund_from_row(row)?,
                    table_id: uuid_col(row, "table_id")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch_timed(items, page.limit, |r| {
            (r.refund.created_at, r.refund.id)
        }))
    }

    async fn disputes(&self, scope: &TenantScope, page: PageRequest) -> StoreResult<Page<Dispute>> {
        let (at, id) = page.after_timed().unzip();
        let rows = sqlx::query(
            "SELECT * FROM disputes WHERE partner_id = $1
               AND (CAST($2 AS TIMESTAMPTZ) IS NULL OR (created_at, id) < ($2, $3))
             ORDER BY created_at DESC, id DESC LIMIT $4",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(ts(at))
        .bind(id.map(h))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&mut *self.reading(scope).await?)
        .await?;
        let disputes = rows
            .iter()
            .map(|row| {
                let currency = currency_of(row)?;
                Ok(Dispute {
                    id: uuid_col(row, "id")?,
                    stripe_dispute: row.try_get("stripe_dispute")?,
                    payment_id: uuid_col(row, "payment_id")?,
                    amount: money_col(row, "amount", currency)?,
                    reason: row.try_get("reason")?,
                    status: row.try_get("status")?,
                    debt: money_col(row, "debt", currency)?,
                    evidence_due: row.try_get("evidence_due")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch_timed(disputes, page.limit, |d| {
            (d.created_at, d.id)
        }))
    }

    async fn outstanding_debt(&self, scope: &TenantScope) -> StoreResult<i64> {
        let mut tx = self.scoped(scope).await?;
        let debt = outstanding_debt_in(&mut tx, scope.partner().as_uuid()).await?;
        tx.commit().await?;
        Ok(debt)
    }

    async fn tips(
        &self,
        scope: &TenantScope,
        from: OffsetDateTime,
        to: OffsetDateTime,
        page: PageRequest,
    ) -> StoreResult<Page<TipEntry>> {
        let (after_at, after_id) = page.after_timed().unzip();
        let rows = sqlx::query(
            "SELECT t.*, c.recorded_by AS taken_by FROM tip_ledger t
               LEFT JOIN cash_payments c ON t.tender = 'cash' AND c.partner_id = t.partner_id AND c.id = t.payment_id
             WHERE t.partner_id = $1 AND t.at >= $2 AND t.at < $3
               AND (CAST($4 AS TIMESTAMPTZ) IS NULL OR (t.at, t.id) > ($4, $5))
             ORDER BY t.at, t.id LIMIT $6",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(ts(from))
        .bind(ts(to))
        .bind(ts(after_at))
        .bind(after_id.map(h))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&mut *self.reading(scope).await?)
        .await?;
        let entries = rows
            .iter()
            .map(|row| {
                Ok(TipEntry {
                    id: uuid_col(row, "id")?,
                    venue_id: uuid_col(row, "venue_id")?,
                    member: opt_uuid_col(row, "member")?,
                    payment_id: uuid_col(row, "payment_id")?,
                    tender: {
                        let tender: String = row.try_get("tender")?;
                        Tender::parse(&tender).ok_or_else(|| corrupt("tender", &tender))?
                    },
                    taken_by: opt_uuid_col(row, "taken_by")?,
                    amount: row.try_get("amount")?,
                    currency: row.try_get::<String, _>("currency")?.trim().to_owned(),
                    settled: settled_of(row)?,
                    at: row.try_get("at")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch_timed(entries, page.limit, |e| (e.at, e.id)))
    }

    async fn payouts(&self, scope: &TenantScope) -> StoreResult<Vec<PayoutRecord>> {
        let rows =
            sqlx::query("SELECT * FROM payouts WHERE partner_id = $1 ORDER BY updated_at DESC LIMIT 100")
                .bind(h(scope.partner().as_uuid()))
                .fetch_all(&mut *self.reading(scope).await?)
                .await?;
        rows.iter()
            .map(|row| {
                Ok(PayoutRecord {
                    stripe_payout: row.try_get("stripe_payout")?,
                    amount: row.try_get("amount")?,
                    currency: row.try_get::<String, _>("currency")?.trim().to_owned(),
                    status: row.try_get("status")?,
                    arrival_date: row.try_get("arrival_date")?,
                    failure: row.try_get("failure")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    async fn request_approval(
        &self,
        scope: &TenantScope,
        kind: ApprovalKind,
        subject: Option<Uuid>,
        requested_by: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Approval> {
        let mut tx = self.scoped(scope).await?;
        let row = sqlx::query(
            "INSERT INTO approvals (partner_id, id, kind, subject, requested_by, status, created_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', $6) RETURNING *",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(Uuid::now_v7()))
        .bind(kind.as_str())
        .bind(subject.map(h))
        .bind(h(requested_by))
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await?;
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        approval_from_row(&row)
    }

    async fn approve(
        &self,
        scope: &TenantScope,
        approval: Uuid,
        approver: Uuid,
        audit: &AuditEntry,
        now: OffsetDateTime,
    ) -> StoreResult<Approval> {
        let mut tx = self.scoped(scope).await?;
        let current = sqlx::query(locking!(
            "SELECT * FROM approvals WHERE partner_id = $1 AND id = $2"
        ))
        .bind(h(scope.partner().as_uuid()))
        .bind(h(approval))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let status: String = current.try_get("status")?;
        let requested_by: Uuid = uuid_col(&current, "requested_by")?;
        if status != "pending" {
            return Err(StoreError::Conflict("this request is already decided".into()));
        }
        if requested_by == approver {
            return Err(StoreError::Conflict(
                "a second person with payout authority must approve this request".into(),
            ));
        }
        let row = sqlx::query(
            "UPDATE approvals SET status = 'approved', approved_by = $3, decided_at = $4
             WHERE partner_id = $1 AND id = $2 RETURNING *",
        )
        .bind(h(scope.partner().as_uuid()))
        .bind(h(approval))
        .bind(h(approver))
        .bind(ts(now))
        .fetch_one(&mut *tx)
        .await?;
        self.insert_audit(&mut tx, scope.partner(), audit, now).await?;
        tx.commit().await?;
        approval_from_row(&row)
    }

    async fn raise_alert(
        &self,
        partner: Option<PartnerId>,
        kind: &str,
        detail: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Alert> {
        let row = sqlx::query(
            "INSERT INTO alerts (id, partner_id, kind, detail, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING *",
        )
        .bind(h(Uuid::now_v7()))
        .bind(partner.map(|p| h(p.as_uuid())))
        .bind(kind)
        .bind(detail)
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await?;
        alert_from_row(&row)
    }

    async fn unrouted_alerts(&self, since: OffsetDateTime, limit: i64) -> StoreResult<Vec<Alert>> {
        let rows = sqlx::query(
            "SELECT * FROM alerts WHERE routed_at IS NULL AND routing_abandoned_at IS NULL AND created_at >= $1
             ORDER BY created_at, id LIMIT $2",
        )
        .bind(ts(since))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert_from_row).collect()
    }

    async fn mark_alert_routed(&self, alert: Uuid, at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE alerts SET routed_at = $2 WHERE id = $1 AND routed_at IS NULL")
            .bind(h(alert))
            .bind(ts(at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn abandon_unrouted_alerts(
        &self,
        before: OffsetDateTime,
        at: OffsetDateTime,
    ) -> StoreResult<Vec<Alert>> {
        let rows = sqlx::query(
            "UPDATE alerts SET routing_abandoned_at = $2
              WHERE routed_at IS NULL AND routing_abandoned_at IS NULL AND created_at < $1 RETURNING *",
        )
        .bind(ts(before))
        .bind(ts(at))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert_from_row).collect()
    }

    async fn prune_alerts(&self, before: OffsetDateTime) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM alerts WHERE created_at < $1")
            .bind(ts(before))
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    async fn alerts(&self, since: OffsetDateTime) -> StoreResult<Vec<Alert>> {
        let rows = sqlx::query("SELECT * FROM alerts WHERE created_at >= $1 ORDER BY created_at LIMIT 1000")
            .bind(ts(since))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(alert_from_row).collect()
    }
}
