//! Cash at the table (docs/payments.md, "Cash at the table"): a server records the cash a guest handed over against
//! the table's open bill, so the bill reads paid and closes without `unpaid=true`, the tip reaches the tip ledger and
//! the reports count cash beside cards. A record entered by mistake is voided while the bill is open.

use super::*;
use comanda_domain::Permission;
use comanda_domain::payment::CashError;
use comanda_store::payments::{CashOutcome, CashPayment, NewCashPayment};

/// The largest amount one record takes, in minor units (a typo guard far above any table's bill).
const LARGEST_CASH: i64 = 1_000_000_000_000;

/// Cash a guest handed over, in minor units of the bill's currency.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CashRequest {
    /// The part of the bill the cash paid (the change given back left out): at most what is left to pay.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub amount: i64,
    /// The tip left in cash (voluntary, Ley 1935 de 2018), credited to the table's server. May stand alone (coins
    /// left on a bill paid by card), never more than the whole bill.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub tip: i64,
    /// The bill this cash is for: the `session_id` of the list the client read. When the table's open bill is
    /// another one (that party's table was closed and a new party's opened), 409 and nothing is recorded.
    #[serde(default)]
    #[schema(format = Uuid)]
    pub session_id: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CashQuery {
    /// First cancel the bill's card payments in progress (at Stripe, then their holds): a guest whose card was
    /// declined and who pays in cash instead would otherwise hold that part of the bill for the hold's 15 minutes. A
    /// payment Stripe already took cannot be cancelled: it stays, and counts.
    #[serde(default)]
    pub cancel_payments: bool,
}

/// One cash record of a bill.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CashView {
    pub id: String,
    pub table_id: String,
    pub session_id: String,
    /// The part of the bill it paid.
    pub amount: Money,
    pub tip: Money,
    /// The member who recorded it.
    pub recorded_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: time::OffsetDateTime,
    /// Who voided it (entered by mistake): it then pays nothing and its tip left the ledger.
    pub voided_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub voided_at: Option<time::OffsetDateTime>,
}

impl From<&CashPayment> for CashView {
    fn from(c: &CashPayment) -> Self {
        Self {
            id: c.id.to_string(),
            table_id: c.table_id.to_string(),
            session_id: c.session_id.to_string(),
            amount: c.amount,
            tip: c.tip,
            recorded_by: c.recorded_by.to_string(),
            created_at: c.created_at,
            voided_by: c.voided.map(|(member, _)| member.to_string()),
            voided_at: c.voided.map(|(_, at)| at),
        }
    }
}

/// A cash record as recorded or voided, with the bill it leaves.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CashAnswer {
    pub cash: CashView,
    pub balance: crate::routes::wire::SessionBalance,
}

/// The open bill's cash records, oldest first (voided ones included), with the bill.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CashList {
    /// The open bill: send it back with a record, so cash meant for it never lands on the next party's.
    pub session_id: String,
    pub items: Vec<CashView>,
    pub balance: crate::routes::wire::SessionBalance,
}

/// The table's open bill: its session. 404 for a table of another venue (or partner); 422 `no-open-bill` when
/// staff have not accepted the table yet or nobody is at it.
async fn open_bill(
    state: &AppState,
    caller: &Caller,
    venue: Uuid,
    table: Uuid,
) -> Result<comanda_store::ordering::TableSession, ApiError> {
    let table = crate::routes::ordering::bill_table(state, &caller.scope, venue, table).await?;
    match state.store.live_session(&caller.scope, table).await? {
        Some(session) if session.status == comanda_store::ordering::SessionStatus::Open => Ok(session),
        Some(_) => Err(Problem::new(ProblemType::NoOpenBill)
            .detail("accept the table first: its bill opens when staff accept it")
            .into()),
        None => Err(no_open_bill()),
    }
}

fn no_open_bill() -> ApiError {
    Problem::new(ProblemType::NoOpenBill)
        .detail("this table has no open bill")
        .into()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HoldsReleased {
    /// Card payments in progress cancelled (at Stripe first); their part of the bill is free again.
    pub released: u32,
}

/// Releases the card payments in progress on the table's open bill: a guest who reached the card step and left holds
/// their part for 15 minutes, and the friend who wants to pay by card now, or the waiter, waited it out. Each is
/// cancelled at Stripe first, then its part is free; one Stripe has already taken stays (its webhook finishes it).
#[utoipa::path(post, path = "/api/v1/venues/{venue}/tables/{table}/card-holds/release", tag = "payments",
    security(("bearer" = [])), params(("venue" = String, Path), ("table" = String, Path)),
    responses((status = 200, body = HoldsReleased),
        (status = 400, description = "A body or query was sent", body = Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "The caller does not settle bills (kitchen, host, analyst)", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such table in this venue", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "The table has no open bill", body = Problem,
            content_type = "application/problem+json")))]
pub async fn release_card_holds(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path((venue, table)): Path<(String, String)>,
    _no_query: crate::extract::NoQuery,
    _no_body: crate::extract::NoBody,
) -> Result<Json<HoldsReleased>, ApiError> {
    let (venue, table) = (path_id(&venue)?, path_id(&table)?);
    let session = open_bill(&state, &caller, venue, table).await?;
    let mut released = 0;
    if let Some(service) = state.payments.as_deref() {
        for held in state.store.session_holds(&caller.scope, session.id, None).await? {
            let reason = comanda_domain::payment::cancelled_because::STAFF_RELEASED;
            if cancel_payment(&state.store, service, &caller.scope, &held, reason)
                .await
                .is_some()
            {
                released += 1;
            }
        }
    }
    let audit = caller
        .audit(&ctx, "payment.holds_released")
        .target(session.id.to_string())
        .detail(format!("released={released}"));
    state
        .store
        .append_audit(&caller.scope, &audit, state.clock.now())
        .await?;
    Ok(Json(HoldsReleased { released }))
}

/// The cash records of the table's open bill and the bill (staff who see the kitchen's tables).
#[utoipa::path(get, path = "/api/v1/venues/{venue}/tables/{table}/cash", tag = "payments", security(("bearer" = [])),
    params(("venue" = String, Path), ("table" = String, Path)),
    responses((status = 200, body = CashList),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The table has no open bill", body = Problem,
            content_type = "application/problem+json")))]
pub async fn table_cash(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((venue, table)): Path<(String, String)>,
    _no_query: crate::extract::NoQuery,
) -> Result<Json<CashList>, ApiError> {
    let session = open_bill(&state, &caller, path_id(&venue)?, path_id(&table)?).await?;
    let items = state.store.session_cash(&caller.scope, session.id).await?;
    let balance = state.store.session_balance(&caller.scope, session.id).await?;
    Ok(Json(CashList {
        session_id: session.id.to_string(),
        items: items.iter().map(CashView::from).collect(),
        balance: balance.into(),
    }))
}

/// Records cash a guest handed over against the table's open bill (servers, managers, owners): its part of the bill
/// counts as paid, its tip is credited to the member who accepted the table, both reach the reports as cash;
/// audited. A retry with the same `Idempotency-Key` answers the first record.
#[utoipa::path(post, path = "/api/v1/venues/{venue}/tables/{table}/cash", tag = "payments", security(("bearer" = [])),
    params(("venue" = String, Path), ("table" = String, Path), CashQuery,
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,200}$",
            description = "A retry with the same key and request answers the first record as it was first answered \
                (Idempotent-Replayed: true; a void since shows in GET); with another request, 409")),
    request_body = CashRequest,
    responses((status = 201, body = CashAnswer),
        (status = 400, description = "The body or query does not match this document", body = Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "The caller does not settle bills (kitchen, host, analyst)", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such table in this venue", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "More than is left to pay (`bill-covered`; the detail says how much is left \
            and how much a card payment in progress holds), the table's open bill is not `session_id` \
            (`conflict`), or the Idempotency-Key names another request (`conflict`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Nothing to record, a tip of more than the whole bill, or no open bill",
            body = Problem, content_type = "application/problem+json")))]
pub async fn record_cash(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path((venue, table)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<CashQuery>,
    ApiJson(request): ApiJson<CashRequest>,
) -> Result<(StatusCode, Json<CashAnswer>), ApiError> {
    let (venue, table) = (path_id(&venue)?, path_id(&table)?);
    let mut invalid = ValidationErrors::default();
    for (field, value) in [("amount", request.amount), ("tip", request.tip)] {
        if !(0..=LARGEST_CASH).contains(&value) {
            invalid.push(field, "minor units, from 0 to 10^12");
        }
    }
    invalid.into_result(())?;
    let table = crate::routes::ordering::bill_table(&state, &caller.scope, venue, table).await?;
    let session = open_bill(&state, &caller, venue, table).await?;
    if let Some(asked) = &request.session_id
        && path_id(asked).map_err(|_| ValidationErrors::single("session_id", "must be a bill's id"))?
            != session.id
    {
        return Err(Problem::new(ProblemType::Conflict)
            .detail("this table's bill is another one now (the table was closed and a new party's bill opened): nothing was recorded")
            .field("session_id", "not the table's open bill")
            .into());
    }
    let currency = state
        .store
        .venue(&caller.scope, comanda_domain::VenueId::from_uuid(venue))
        .await?
        .currency;
    let money = |amount: i64| Money::new(amount, currency).unwrap_or(Money::zero(currency));
    if query.cancel_payments
        && let Some(service) = state.payments.as_deref()
    {
        // Checked first with the held part counted as free: a record refused anyway costs no guest their payment.
        let balance = state.store.session_balance(&caller.scope, session.id).await?;
        let freed = balance.releasing(balance.in_progress.amount);
        let tipped: i64 = state
            .store
            .session_cash(&caller.scope, session.id)
            .await?
            .iter()
            .filter(|c| c.voided.is_none())
            .map(|c| c.tip.amount)
            .sum();
        let bill = comanda_domain::payment::BillBalance {
            total: freed.total,
            remaining: freed.remaining,
        };
        if let Err(refused) =
            comanda_domain::payment::check_cash(&bill, money(request.amount), money(request.tip), tipped)
        {
            return Err(match refused {
                CashError::OverBill { left } => over_bill(left, 0),
                other => cash_refused(other),
            });
        }
        for held in state.store.session_holds(&caller.scope, session.id, None).await? {
            let reason = comanda_domain::payment::cancelled_because::STAFF_TOOK_CASH;
            cancel_payment(&state.store, service, &caller.scope, &held, reason).await;
        }
    }
    let id = Uuid::now_v7();
    let new = NewCashPayment {
        id,
        venue_id: venue,
        table_id: table,
        session_id: session.id,
        amount: money(request.amount),
        tip: money(request.tip),
        recorded_by: caller.member.id,
    };
    let audit = caller
        .audit(&ctx, "payment.cash_recorded")
        .target(id.to_string())
        .detail(format!(
            "table={table} amount={} tip={} {}",
            request.amount,
            request.tip,
            currency.code()
        ));
    match state
        .store
        .record_cash(&caller.scope, &new, &audit, state.clock.now())
        .await?
    {
        CashOutcome::Recorded(cash) => {
            // The guests' pay pages and the other displays follow the bill now, not at their next poll.
            announce_balance(&state, &caller.scope, venue);
            let balance = state.store.session_balance(&caller.scope, session.id).await?;
            Ok((
                StatusCode::CREATED,
                Json(CashAnswer {
                    cash: CashView::from(&cash),
                    balance: balance.into(),
                }),
            ))
        }
        CashOutcome::BillClosed => Err(no_open_bill()),
        CashOutcome::Refused(CashError::OverBill { left }) => {
            // Part of the bill held by a card payment in progress (a guest paying, or whose card was declined) is
            // not left to pay in cash until that payment ends: the refusal says so, and how to cancel it.
            let held = state
                .store
                .session_balance(&caller.scope, session.id)
                .await?
                .in_progress;
            Err(over_bill(left, held.amount))
        }
        CashOutcome::Refused(refused) => Err(cash_refused(refused)),
    }
}

/// 409 `bill-covered`: `left` minor units are left to pay, and `held` more are held by a card payment in progress.
fn over_bill(left: i64, held: i64) -> ApiError {
    let mut message = CashError::OverBill { left }.to_string();
    if held > 0 {
        message.push_str(&format!(
            "; {held} more are held by a card payment in progress: cancel_payments=true cancels it first"
        ));
    }
    Problem::new(ProblemType::BillCovered)
        .detail(message.clone())
        .field("amount", message)
        .into()
}

/// 422 naming the field (more than is left is a 409, answered with what holds the rest).
fn cash_refused(refused: CashError) -> ApiError {
    let field = match refused {
        CashError::Tip => "tip",
        CashError::Unpayable(field) => field,
        CashError::Nothing | CashError::OverBill { .. } => "amount",
    };
    ApiError::rule(ValidationErrors::single(field, refused.to_string()))
}

/// Voids a cash record of the table's open bill, entered by mistake: it pays nothing from now on, its tip leaves the
/// ledger and the reports take it back now; audited. A server voids only the cash they recorded (403 otherwise);
/// managers and owners void any. A closed bill's records stand (409).
#[utoipa::path(delete, path = "/api/v1/venues/{venue}/tables/{table}/cash/{cash}", tag = "payments",
    security(("bearer" = [])),
    params(("venue" = String, Path), ("table" = String, Path), ("cash" = String, Path)),
    responses((status = 200, body = CashAnswer),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller does not settle bills, or the record is another member's and the \
            caller does not issue refunds", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Voided already, or its bill is closed", body = Problem,
            content_type = "application/problem+json")))]
pub async fn void_cash(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ctx: RequestContext,
    Path((venue, table, cash)): Path<(String, String, String)>,
    _no_query: crate::extract::NoQuery,
    _no_body: crate::extract::NoBody,
) -> Result<Json<CashAnswer>, ApiError> {
    let (venue, table, cash) = (path_id(&venue)?, path_id(&table)?, path_id(&cash)?);
    let table = crate::routes::ordering::bill_table(&state, &caller.scope, venue, table).await?;
    // Voiding gives money back on paper, as a refund does: a server voids only the cash they recorded themselves;
    // another member's record is voided by those who issue refunds (managers, owners).
    if !caller.member.standing.allows(Permission::IssueRefunds)
        && let Some(session) = state.store.live_session(&caller.scope, table).await?
        && let Some(record) = state
            .store
            .session_cash(&caller.scope, session.id)
            .await?
            .into_iter()
            .find(|c| c.id == cash)
        && record.recorded_by != caller.member.id
    {
        return Err(Problem::new(ProblemType::Forbidden)
            .detail("a server voids only the cash they recorded; a manager or the owner voids another's")
            .into());
    }
    let audit = caller
        .audit(&ctx, "payment.cash_voided")
        .target(cash.to_string())
        .detail(format!("table={table}"));
    let voided = state
        .store
        .void_cash(
            &caller.scope,
            table,
            cash,
            caller.member.id,
            &audit,
            state.clock.now(),
        )
        .await?;
    announce_balance(&state, &caller.scope, venue);
    let balance = state
        .store
        .session_balance(&caller.scope, voided.session_id)
        .await?;
    Ok(Json(CashAnswer {
        cash: CashView::from(&voided),
        balance: balance.into(),
    }))
}
