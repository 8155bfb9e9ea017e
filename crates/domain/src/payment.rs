//! Paying at the table: how a guest's share is computed, what the platform keeps, what the partner receives, and how
//! refunds and disputes flow back. Pure arithmetic on [`Money`]; the charge model and its reasons are written down
//! in docs/payments.md.
//!
//! Rounding rule: every proportional amount (item fractions, the platform fee, a partial refund's transfer reversal)
//! is rounded half up to the minor unit, and the last refund of a payment takes exactly what is left, so a full
//! refund always returns every party to where it started.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

use crate::money::{Money, MoneyError};
use crate::partner::Country;

/// Why a pending payment was cancelled (the `failure` it is kept with). Only [`superseded`] ones say nothing about
/// paying by card: the guest's next payment or the cash staff took replaced them.
pub mod cancelled_because {
    /// Left unfinished past its hold: lapsed and cancelled at Stripe.
    pub const ABANDONED: &str = "abandoned";
    /// The guest gave it up on their phone.
    pub const THE_GUEST_CANCELLED: &str = "cancelled by the guest";
    /// The same guest started another payment, which replaced it.
    pub const REPLACED_BY_THE_GUEST: &str = "replaced by the guest";
    /// Staff took the bill in cash.
    pub const STAFF_TOOK_CASH: &str = "cancelled by staff taking the bill in cash";
    /// Staff closed the table.
    pub const STAFF_CLOSED_THE_TABLE: &str = "cancelled by staff closing the table";
    /// Staff released it (a guest left the card step and the table wanted to pay): counted like an abandoned one.
    pub const STAFF_RELEASED: &str = "released by staff";

    /// Whether a payment cancelled so gave way to another way of paying rather than failing to pay: left out of the
    /// payment success rate (docs/analytics.md), where a guest who switched to cash counted as a failed payment.
    pub fn superseded(reason: &str) -> bool {
        [REPLACED_BY_THE_GUEST, STAFF_TOOK_CASH, STAFF_CLOSED_THE_TABLE].contains(&reason)
    }
}

/// Largest number of equal parts a bill can be split in.
pub const MAX_SPLIT_PARTS: u32 = 20;
/// Largest fraction denominator for sharing one line.
pub const MAX_LINE_FRACTION: u32 = 20;

/// How the money of a guest's payment reaches the partner (docs/payments.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChargeModel {
    /// The platform is the merchant of record: the PaymentIntent is the platform's, tagged with the bill as
    /// `transfer_group`; once it succeeds a Transfer sends the partner's part to its connected *recipient* account
    /// (cross-border payout in the local currency). Used where local businesses cannot hold card-accepting Stripe
    /// accounts (Colombia).
    SeparateChargesAndTransfers,
    /// A destination charge settled on the partner's own card-accepting account (`on_behalf_of`,
    /// `transfer_data[destination]`, `application_fee_amount`).
    DestinationCharges,
}

/// Countries where a business can hold a card-accepting (full service agreement) Stripe account.
const CARD_ACCEPTING_COUNTRIES: [&str; 20] = [
    "US", "CA", "MX", "BR", "GB", "IE", "FR", "DE", "ES", "IT", "NL", "PT", "BE", "AT", "CH", "AU", "NZ",
    "JP", "SG", "HK",
];

impl ChargeModel {
    pub fn for_country(country: &Country) -> Self {
        if CARD_ACCEPTING_COUNTRIES.contains(&country.code()) {
            ChargeModel::DestinationCharges
        } else {
            ChargeModel::SeparateChargesAndTransfers
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChargeModel::SeparateChargesAndTransfers => "separate_charges_and_transfers",
            ChargeModel::DestinationCharges => "destination_charges",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            ChargeModel::SeparateChargesAndTransfers,
            ChargeModel::DestinationCharges,
        ]
        .into_iter()
        .find(|m| m.as_str() == text)
    }
}

/// One line (or a fraction of it) a guest chooses to pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineShare {
    pub order_id: Uuid,
    /// The line's position within its order (0-based).
    pub line: u32,
    /// The fraction of the line this guest pays: `numerator / denominator`, e.g. 1/3 of a shared dish (at most the
    /// whole line).
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 20)]
    pub numerator: u32,
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 20)]
    pub denominator: u32,
}

fn one() -> u32 {
    1
}

/// What part of the bill a guest pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", from = "SplitWire")]
pub enum Split {
    /// The whole bill, while nothing of it is paid or being paid.
    Full,
    /// One of `parts` equal shares (rounded up to the minor unit; the last payer pays what is left).
    Equal {
        #[schema(minimum = 2, maximum = 20)]
        parts: u32,
    },
    /// Chosen lines, each whole or a fraction.
    Items { items: Vec<LineShare> },
    /// Whatever is still unpaid.
    Remaining,
}

/// How a [`Split`] is read: serde lets the unit variants of an internally tagged enum ignore any other field
/// (`{"kind": "full", "parts": 2}` would pass), so they are read as empty struct variants, which refuse them.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum SplitWire {
    Full {},
    Equal { parts: u32 },
    Items { items: Vec<LineShare> },
    Remaining {},
}

impl From<SplitWire> for Split {
    fn from(wire: SplitWire) -> Self {
        match wire {
            SplitWire::Full {} => Split::Full,
            SplitWire::Equal { parts } => Split::Equal { parts },
            SplitWire::Items { items } => Split::Items { items },
            SplitWire::Remaining {} => Split::Remaining,
        }
    }
}

/// The bill as the share is computed against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillBalance {
    /// What the bill comes to (tax included, tips excluded).
    pub total: Money,
    /// Neither paid nor held by a payment in progress.
    pub remaining: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// Either paid, or held by payments in progress (another guest's, released if it is not finished in time).
    #[error(
        "nothing is left to pay on this bill: it is paid, or a payment in progress holds the rest (released if it is not finished in time)"
    )]
    BillCovered,
    #[error("part of the bill is already paid or being paid; pay what is left or a share")]
    PartlyPaid,
    #[error("split in 2 to {MAX_SPLIT_PARTS} parts")]
    Parts,
    #[error("choose at least one line")]
    NoItems,
    #[error("no such line of an order on this bill")]
    UnknownLine(usize),
    #[error("the fraction must be between 1/{MAX_LINE_FRACTION} and 1")]
    Fraction(usize),
    #[error("the chosen lines come to more than is left to pay")]
    ExceedsRemaining,
    #[error("the parts chosen of this line come to more than the whole line")]
    LineChosenTwice(usize),
    #[error(
        "split item {0}: that line is already paid or being paid, whole or in part: choose what is left of it"
    )]
    LineTaken(usize),
    #[error("the tip must not be negative nor exceed the amount paid")]
    Tip,
    /// A tip of centavos (COP): a tip is what a guest chooses to give, in what people pay in.
    #[error(
        "the tip must be in whole units of what people pay in (whole pesos in COP: centavos are out of circulation)"
    )]
    UnpayableTip,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// `amount × numerator / denominator`, rounded half up.
pub fn fraction_of(amount: Money, numerator: u32, denominator: u32) -> Result<Money, MoneyError> {
    if denominator == 0 {
        return Err(MoneyError::Overflow);
    }
    let scaled = i128::from(amount.amount) * i128::from(numerator) * 2 + i128::from(denominator);
    let rounded = scaled / (2 * i128::from(denominator));
    Money::new(
        i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?,
        amount.currency,
    )
}

/// `amount × numerator ÷ denominator` rounded half up to the currency's payable unit ([`Currency::payable_unit`]:
/// whole pesos for COP, whose centavos are out of circulation): a third of a 20.000 COP dish is 6.667, which a guest
/// can hand over in cash and a card slip shows, not 6.666,67.
///
/// [`Currency::payable_unit`]: crate::Currency::payable_unit
pub fn payable_fraction_of(amount: Money, numerator: u32, denominator: u32) -> Result<Money, MoneyError> {
    payable_fraction_of_i64(amount, i64::from(numerator), i64::from(denominator))
}

/// [`payable_fraction_of`] for 64-bit ratios (a refund over what a payment charged).
fn payable_fraction_of_i64(amount: Money, numerator: i64, denominator: i64) -> Result<Money, MoneyError> {
    if denominator <= 0 || numerator < 0 {
        return Err(MoneyError::Overflow);
    }
    // A line of centavos (an old price, before prices were held to whole pesos) keeps the minor unit: its parts
    // could otherwise round past it.
    let unit = match amount.currency.payable_unit() {
        unit if amount.amount % unit == 0 => i128::from(unit),
        _ => 1,
    };
    let scaled = i128::from(amount.amount) * i128::from(numerator) * 2 + i128::from(denominator) * unit;
    let rounded = scaled / (2 * i128::from(denominator) * unit) * unit;
    Money::new(
        i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?,
        amount.currency,
    )
}

/// A part of a line taken by one of the bill's item payments, paid or being paid, with what that part was charged
/// (minor units of the line's currency). `amount` is `None` for a payment made before parts' amounts were kept: its
/// amount is then recomputed from its fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineClaim {
    pub share: LineShare,
    pub amount: Option<i64>,
}

impl From<LineShare> for LineClaim {
    fn from(share: LineShare) -> Self {
        LineClaim { share, amount: None }
    }
}

/// What a guest's split comes to (tip excluded): `amount`, and for a split by lines what each chosen part pays
/// (`line_amounts`, in the order of the split's items; empty for any other split).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub amount: Money,
    pub line_amounts: Vec<i64>,
}

/// The amount (tip excluded) a guest's split comes to; see [`split_share`].
pub fn share_amount(
    split: &Split,
    balance: &BillBalance,
    line_total: impl Fn(Uuid, u32) -> Option<Money>,
    earlier: &[LineClaim],
) -> Result<Money, ShareError> {
    split_share(split, balance, line_total, earlier).map(|share| share.amount)
}

/// What a guest's split comes to. `line_total` gives the total of an order's line, or `None` when the bill has no
/// such line; `earlier` are the line claims of the bill's other item splits, paid or being paid, with what each was
/// charged (they decide which claim completes a line and what it pays, see [`line_claim_amount`]).
pub fn split_share(
    split: &Split,
    balance: &BillBalance,
    line_total: impl Fn(Uuid, u32) -> Option<Money>,
    earlier: &[LineClaim],
) -> Result<Share, ShareError> {
    if balance.remaining.amount == 0 {
        return Err(ShareError::BillCovered);
    }
    let mut line_amounts = Vec::new();
    let amount = match split {
        Split::Full => {
            if balance.remaining != balance.total {
                return Err(ShareError::PartlyPaid);
            }
            balance.total
        }
        Split::Remaining => balance.remaining,
        Split::Equal { parts } => {
            if !(2..=MAX_SPLIT_PARTS).contains(parts) {
                return Err(ShareError::Parts);
            }
            // Each part rounded up, to the currency's payable unit (whole pesos): the last payer's "what is left"
            // is then the smaller one.
            let parts = i64::from(*parts);
            let unit = balance.total.currency.payable_unit();
            let part = (balance.total.amount + parts - 1) / parts;
            let share = Money::new((part + unit - 1) / unit * unit, balance.total.currency)?;
            if share.amount > balance.remaining.amount {
                balance.remaining
            } else {
                share
            }
        }
        Split::Items { items } => {
            if items.is_empty() {
                return Err(ShareError::NoItems);
            }
            let mut totals = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                if item.denominator == 0
                    || item.denominator > MAX_LINE_FRACTION
                    || item.numerator == 0
                    || item.numerator > item.denominator
                {
                    return Err(ShareError::Fraction(index));
                }
                totals.push(line_total(item.order_id, item.line).ok_or(ShareError::UnknownLine(index))?);
            }
            check_line_claims(earlier.iter().map(|claim| &claim.share), items)?;
            let mut sum = Money::zero(balance.total.currency);
            for part in line_part_amounts(items, &totals, earlier)? {
                sum = sum.checked_add(part)?;
                line_amounts.push(part.amount);
            }
            if sum.amount > balance.remaining.amount {
                return Err(ShareError::ExceedsRemaining);
            }
            sum
        }
    };
    if amount.amount == 0 {
        return Err(ShareError::BillCovered);
    }
    Ok(Share { amount, line_amounts })
}

/// What each of `items` (parts of lines whose totals are `totals`, in the same order) pays after the bill's
/// `earlier` claims: [`line_claim_amount`] for each, a part earlier in the same split counting as claimed before it.
/// Recomputed under the bill's lock when a payment is reserved, so a part whose earlier claims changed meanwhile
/// (another part paid, or lapsed) is not charged an amount computed from the old ones.
pub fn line_part_amounts(
    items: &[LineShare],
    totals: &[Money],
    earlier: &[LineClaim],
) -> Result<Vec<Money>, MoneyError> {
    let mut amounts: Vec<Money> = Vec::with_capacity(items.len());
    for (index, (item, total)) in items.iter().zip(totals).enumerate() {
        let same_line =
            |claim: &LineClaim| claim.share.order_id == item.order_id && claim.share.line == item.line;
        let own_before = items[..index]
            .iter()
            .zip(&amounts)
            .map(|(share, amount)| LineClaim {
                share: *share,
                amount: Some(amount.amount),
            });
        let before: Vec<LineClaim> = earlier
            .iter()
            .copied()
            .chain(own_before)
            .filter(same_line)
            .collect();
        amounts.push(line_claim_amount(*total, &before, item)?);
    }
    Ok(amounts)
}

/// An exact fraction `(numerator, denominator)`, in lowest terms.
type Fraction = (u128, u128);

fn fraction_plus((n1, d1): Fraction, (n2, d2): Fraction) -> Fraction {
    fn gcd(a: u128, b: u128) -> u128 {
        if b == 0 { a.max(1) } else { gcd(b, a % b) }
    }
    let (n, d) = (n1 * d2 + n2 * d1, d1 * d2);
    let g = gcd(n, d);
    (n / g, d / g)
}

fn fraction(share: &LineShare) -> Fraction {
    (u128::from(share.numerator), u128::from(share.denominator.max(1)))
}

/// What `this` claim of a line of `line_total` pays, after the line's claims `before` (other splits' and earlier in
/// the same split): its fraction of the line rounded half up to the payable unit ([`payable_fraction_of`]: whole
/// pesos), except the claim that completes the line, which pays what the others were charged left of it (a claim of
/// unknown amount, kept before parts' amounts were, counts as its fraction rounded to the minor unit, as it was
/// charged then: [`fraction_of`]). Three thirds of 20.000 COP are 6.667, 6.667 and 6.666, the whole line to the
/// peso, in whatever order they are paid, and still when a part lapses and is taken again (docs/payments.md,
/// "Splitting one bill between guests").
pub fn line_claim_amount(
    line_total: Money,
    before: &[LineClaim],
    this: &LineShare,
) -> Result<Money, MoneyError> {
    let claimed = before
        .iter()
        .fold((0, 1), |sum, claim| fraction_plus(sum, fraction(&claim.share)));
    let own = payable_fraction_of(line_total, this.numerator, this.denominator.max(1))?;
    if fraction_plus(claimed, fraction(this)) != (1, 1) {
        return Ok(own);
    }
    let mut left = line_total.amount;
    for claim in before {
        left -= match claim.amount {
            Some(amount) => amount,
            None => fraction_of(line_total, claim.share.numerator, claim.share.denominator.max(1))?.amount,
        };
    }
    // Only a line of a few minor units split many ways can have its parts round above it: the last part pays nothing.
    Money::new(left.max(0), line_total.currency)
}

/// A line of the bill is paid once, whole or in parts: the fractions of it chosen by the bill's earlier item splits
/// (`earlier`: those paid or being paid) and by this one (`chosen`) add up to at most the whole line. Counted in
/// exact fractions (denominators up to [`MAX_LINE_FRACTION`]), so 1/3 + 1/3 + 1/3 is the whole line and a fourth
/// third is refused. Errors name the first chosen line that goes past: [`ShareError::LineChosenTwice`] when this
/// split alone does, [`ShareError::LineTaken`] when the earlier ones took it.
pub fn check_line_claims<'a>(
    earlier: impl IntoIterator<Item = &'a LineShare>,
    chosen: &[LineShare],
) -> Result<(), ShareError> {
    let mut taken: HashMap<(Uuid, u32), Fraction> = HashMap::new();
    for share in earlier {
        let sum = taken.entry((share.order_id, share.line)).or_insert((0, 1));
        *sum = fraction_plus(*sum, fraction(share));
    }
    let mut own: HashMap<(Uuid, u32), Fraction> = HashMap::new();
    for (index, share) in chosen.iter().enumerate() {
        let line = (share.order_id, share.line);
        let mine = fraction_plus(own.get(&line).copied().unwrap_or((0, 1)), fraction(share));
        own.insert(line, mine);
        if mine.0 > mine.1 {
            return Err(ShareError::LineChosenTwice(index));
        }
        let all = fraction_plus(taken.get(&line).copied().unwrap_or((0, 1)), mine);
        if all.0 > all.1 {
            return Err(ShareError::LineTaken(index));
        }
    }
    Ok(())
}

/// A voluntary tip: never negative, never more than the amount it tips on, and in the currency's payable unit
/// ([`crate::Currency::payable_unit`]: whole pesos, as a cash tip is).
pub fn check_tip(amount: Money, tip: Money) -> Result<(), ShareError> {
    if tip.currency != amount.currency || tip.amount < 0 || tip.amount > amount.amount {
        return Err(ShareError::Tip);
    }
    if !tip.currency.is_payable(tip.amount) {
        return Err(ShareError::UnpayableTip);
    }
    Ok(())
}

/// Why cash a server took at the table cannot be recorded against a bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CashError {
    #[error("record the cash taken: a part of the bill, a tip, or both")]
    Nothing,
    #[error("that is more than is left to pay on this bill ({left} minor units; cash beyond it is change)")]
    OverBill { left: i64 },
    #[error("a cash tip must not be negative, and the bill's cash tips not more than the whole bill")]
    Tip,
    /// Centavos in cash (COP): no coin pays them. Names the field, `amount` or `tip`.
    #[error(
        "cash is counted in whole units of what people pay in (whole pesos in COP: centavos are out of circulation), unless it is exactly what is left to pay"
    )]
    Unpayable(&'static str),
}

/// Cash taken at the table: `amount` of the bill and a `tip`, each in the bill's currency. The bill part is at most
/// what is neither paid nor held by a card payment in progress (`bill.remaining`: the cash a guest handed over beyond
/// it is change, not payment), as a card share is; the tip is voluntary (Ley 1935 de 2018) and, unlike a card tip,
/// may stand alone (a guest who paid by card leaves coins), but the bill's cash tips (`tipped` minor units recorded
/// before, and this one) never come to more than the whole bill, which is a typo. Both are in the currency's payable
/// unit ([`crate::Currency::payable_unit`]: whole pesos), the bill part unless it is exactly what is left.
pub fn check_cash(bill: &BillBalance, amount: Money, tip: Money, tipped: i64) -> Result<(), CashError> {
    if tip.currency != bill.total.currency
        || tip.amount < 0
        || tipped.saturating_add(tip.amount) > bill.total.amount
    {
        return Err(CashError::Tip);
    }
    if amount.currency != bill.total.currency
        || amount.amount < 0
        || amount.amount.saturating_add(tip.amount) == 0
    {
        return Err(CashError::Nothing);
    }
    if amount.amount > bill.remaining.amount {
        return Err(CashError::OverBill {
            left: bill.remaining.amount,
        });
    }
    // What is left of a bill of centavos (an old price, a tax added on top) is still taken as it is.
    let currency = bill.total.currency;
    if !currency.is_payable(amount.amount) && amount.amount != bill.remaining.amount {
        return Err(CashError::Unpayable("amount"));
    }
    if !currency.is_payable(tip.amount) {
        return Err(CashError::Unpayable("tip"));
    }
    Ok(())
}

/// Where one payment's money goes. The guest pays `share + tip` and nothing else: the platform's fee comes out of the
/// partner's part, never on top of the guest's amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Settlement {
    /// What the guest is charged: share plus tip.
    pub charged: Money,
    pub share: Money,
    /// Passed through to the partner whole (and credited to the table's server).
    pub tip: Money,
    /// Kept by the platform: `share × fee rate`, rounded half up; never taken from the tip.
    pub platform_fee: Money,
    /// Sent to the partner: `charged − platform_fee`.
    pub partner_part: Money,
}

pub fn settle(share: Money, tip: Money, fee_bp: u32) -> Result<Settlement, MoneyError> {
    let platform_fee = share.percent_bp(fee_bp.min(10_000))?;
    let charged = share.checked_add(tip)?;
    Ok(Settlement {
        charged,
        share,
        tip,
        platform_fee,
        partner_part: charged.checked_sub(platform_fee)?,
    })
}

/// What a transfer actually sends once the partner's outstanding losses (disputes lost) are netted against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Netting {
    pub transfer: Money,
    /// The part of the outstanding debt this transfer recovers.
    pub recovered: Money,
}

pub fn net_against_debt(partner_part: Money, outstanding_debt: Money) -> Result<Netting, MoneyError> {
    let recovered = if outstanding_debt.amount > partner_part.amount {
        partner_part
    } else {
        outstanding_debt
    };
    Ok(Netting {
        transfer: partner_part.checked_sub(recovered)?,
        recovered,
    })
}

/// How one refund is shared between the partner and the platform under separate charges and transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RefundSplit {
    /// Returned to the guest.
    pub refund: Money,
    /// Reversed from the partner's transfer (in proportion to the refund).
    pub transfer_reversal: Money,
    /// The platform's own part (its fee, in the same proportion): `refund − transfer_reversal`.
    pub platform_part: Money,
    /// The part of the tip this refund takes back from the server's tip ledger.
    pub tip_reversal: Money,
}

/// The state of a payment before a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refundable {
    pub settlement: Settlement,
    /// What the transfer sent (the partner part, less any debt netted; zero when nothing was sent).
    pub transferred: Money,
    pub refunded: Money,
    pub reversed: Money,
    pub tip_reversed: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    #[error("the refund must be more than zero")]
    Zero,
    #[error("the refund exceeds what is left of the payment ({0} minor units)")]
    ExceedsRefundable(i64),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Whether a refund waits for a second person with payout authority before any money moves (docs/payments.md,
/// "Approvals"): when the payment's refunds — done, under way or waiting (`refunded_before`) — and this one add up
/// to more than `threshold` minor units. Counted per payment, so a refund above the threshold is not let through
/// in pieces (10.000 and then 9.302 of one payment, with a threshold of 10.000, wait at the second).
pub fn refund_needs_approval(refunded_before: Money, refund: Money, threshold: i64) -> bool {
    refunded_before.amount.saturating_add(refund.amount) > threshold
}

pub fn split_refund(state: &Refundable, refund: Money) -> Result<RefundSplit, RefundError> {
    let charged = state.settlement.charged;
    let left = charged.checked_sub(state.refunded)?;
    if refund.amount <= 0 {
        return Err(RefundError::Zero);
    }
    if refund.currency != charged.currency || refund.amount > left.amount {
        return Err(RefundError::ExceedsRefundable(left.amount));
    }
    let last = refund.amount == left.amount;
    let proportional = |whole: Money, done: Money| -> Result<Money, MoneyError> {
        if last {
            whole.checked_sub(done)
        } else {
            let part = fraction_of_i64(whole, refund.amount, charged.amount)?;
            let open = whole.checked_sub(done)?;
            Ok(if part.amount > open.amount { open } else { part })
        }
    };
    let transfer_reversal = proportional(state.transferred, state.reversed)?;
    let tip_reversal = if last {
        state.settlement.tip.checked_sub(state.tip_reversed)?
    } else {
        let open = state.settlement.tip.checked_sub(state.tip_reversed)?;
        let part = tip_part_of_refund(state.settlement.tip, refund.amount, charged.amount)?;
        if part.amount > open.amount { open } else { part }
    };
    Ok(RefundSplit {
        refund,
        transfer_reversal,
        platform_part: refund.checked_sub(transfer_reversal)?,
        tip_reversal,
    })
}

/// The refund that gives back `sales` of a bill (minor units) from payments that charged `charged` in all, `tip`
/// of it tips: a refund takes back its proportional part of the tip ([`split_refund`]: `round(tip × refund /
/// charged)`, half up), so the sales part of a refund of `sales` falls short by the tip's share, and a cancellation
/// waiting on it was refused again for the rest, refund after refund down to centavos. The smallest refund whose
/// sales part reaches `sales`, exact for one payment (or several with the same tip ratio); `sales` itself without
/// tips. Never more than `charged`.
pub fn refund_for_sales(sales: Money, charged: i64, tip: i64) -> i64 {
    if sales.amount <= 0 {
        return 0;
    }
    // Staff refund whole pesos (a refund of centavos is refused unless it is all that is left), so the refund named
    // is counted in the payable unit when every figure is in it; it is never more than `charged`.
    let currency = sales.currency;
    let unit = if [charged, tip].iter().all(|&amount| currency.is_payable(amount)) {
        currency.payable_unit()
    } else {
        1
    };
    let round_up = |amount: i64| (amount + unit - 1) / unit * unit;
    if tip <= 0 || charged <= tip {
        // No tip to share the refund with: the sales in whole pesos, or all that was charged when that is less.
        return round_up(sales.amount).min(charged.max(sales.amount));
    }
    let net = i128::from(charged - tip);
    let tip = Money::new(tip, currency).unwrap_or(Money::zero(currency));
    let sales_part =
        |refund: i64| tip_part_of_refund(tip, refund, charged).map_or(i64::MIN, |part| refund - part.amount);
    // refund × (charged − tip) / charged ≥ sales, then a unit or two either way for the rounding of the tip's part.
    let estimate = (i128::from(sales.amount) * i128::from(charged) + net - 1) / net;
    let mut refund = round_up(i64::try_from(estimate).unwrap_or(charged).min(charged));
    while refund > 0 && sales_part(refund - unit) >= sales.amount {
        refund -= unit;
    }
    while sales_part(refund) < sales.amount && refund < charged {
        refund += unit;
    }
    refund.min(charged)
}

/// The tip's part of a refund of `refund` minor units from payments that charged `charged` in all, `tip` of it
/// tips: `tip × refund ÷ charged`, rounded half up to the currency's payable unit (whole pesos: a tip ledger and the
/// cash handed to the staff hold no centavos), or to the minor unit for a tip of centavos.
fn tip_part_of_refund(tip: Money, refund: i64, charged: i64) -> Result<Money, MoneyError> {
    payable_fraction_of_i64(tip, refund, charged)
}

/// `amount × numerator / denominator` for 64-bit ratios, rounded half up.
fn fraction_of_i64(amount: Money, numerator: i64, denominator: i64) -> Result<Money, MoneyError> {
    if denominator <= 0 || numerator < 0 {
        return Err(MoneyError::Overflow);
    }
    let scaled = i128::from(amount.amount) * i128::from(numerator) * 2 + i128::from(denominator);
    let rounded = scaled / (2 * i128::from(denominator));
    Money::new(
        i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?,
        amount.currency,
    )
}

/// The partner's share of a lost dispute: the disputed amount in proportion of what the partner received, owed
/// back and netted against its future transfers.
pub fn dispute_debt(transferred: Money, charged: Money, disputed: Money) -> Result<Money, MoneyError> {
    if charged.amount == 0 {
        return Ok(Money::zero(charged.currency));
    }
    let part = fraction_of_i64(transferred, disputed.amount.min(charged.amount), charged.amount)?;
    Ok(part)
}

/// One payment's money as the platform's Stripe balance received it: the charge's *balance transaction*, in the
/// platform's settlement currency (Stripe converts a COP charge into, say, USD when it settles). Amounts are minor
/// units of `currency` (Stripe's lowercase ISO code), which need not be a currency comanda prices in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SettledAmounts {
    /// What the transfer sends the partner: its part of the charge, converted.
    pub transfer: i64,
    /// The part of `transfer` that is the guest's tip (credited to the server in the tip ledger).
    pub tip: i64,
    /// What the platform keeps of the balance transaction's net: its fee, less Stripe's fee and rounding.
    pub platform: i64,
    pub currency: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SettlementError {
    #[error("the charge settled for nothing, or for less than Stripe's fee")]
    NothingSettled,
    #[error("the transfer is larger than the charge it comes from")]
    TransferExceedsCharge,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Apportions a charge's balance transaction between partner and platform (docs/payments.md, "Settlement currency").
///
/// Stripe requires a transfer made with `source_transaction` to be in the currency of that charge's balance
/// transaction and no larger than it (docs.stripe.com/connect/separate-charges-and-transfers), so the partner's
/// transfer is its part of the charge (`transfer` of `charged`, both in the charge's currency) converted at the
/// balance transaction's own rate (`settled_gross / charged`), rounded half up, and never more than the balance
/// transaction's `net` (gross less Stripe's fee). The tip is converted the same way and never exceeds the transfer.
/// The platform keeps `net − transfer`: its fee, less Stripe's processing fee and the rounding.
pub fn apportion_settlement(
    charged: Money,
    transfer: Money,
    tip: Money,
    settled_gross: i64,
    settled_net: i64,
    currency: &str,
) -> Result<SettledAmounts, SettlementError> {
    if charged.amount <= 0 || settled_gross <= 0 || settled_net < 0 || settled_net > settled_gross {
        return Err(SettlementError::NothingSettled);
    }
    if transfer.amount < 0 || transfer.amount > charged.amount || tip.amount < 0 {
        return Err(SettlementError::TransferExceedsCharge);
    }
    let convert = |part: i64| -> Result<i64, MoneyError> {
        let scaled = i128::from(part) * i128::from(settled_gross) * 2 + i128::from(charged.amount);
        i64::try_from(scaled / (2 * i128::from(charged.amount))).map_err(|_| MoneyError::Overflow)
    };
    let settled_transfer = convert(transfer.amount)?.min(settled_net);
    let settled_tip = convert(tip.amount.min(transfer.amount))?.min(settled_transfer);
    Ok(SettledAmounts {
        transfer: settled_transfer,
        tip: settled_tip,
        platform: settled_net - settled_transfer,
        currency: currency.to_ascii_lowercase(),
    })
}

/// The part of a transfer made in the settlement currency that a refund's reversal takes back.
///
/// `reversal` of `transferred` (both in the charge's currency, `reversed_before` already taken) is converted in
/// proportion of what the transfer sent (`settled_total`, of which Stripe has reversed `settled_reversed`), rounded
/// half up; the reversal that empties the transfer takes exactly what is left at Stripe, so a full refund returns the
/// transfer whole.
pub fn settled_reversal(
    reversal: i64,
    transferred: i64,
    reversed_before: i64,
    settled_total: i64,
    settled_reversed: i64,
) -> i64 {
    let open = (settled_total - settled_reversed).max(0);
    if transferred <= 0 || reversal <= 0 {
        return 0;
    }
    if reversal >= transferred - reversed_before {
        return open;
    }
    let scaled = i128::from(reversal) * i128::from(settled_total) * 2 + i128::from(transferred);
    let part = i64::try_from(scaled / (2 * i128::from(transferred))).unwrap_or(i64::MAX);
    part.min(open)
}

#[cfg(test)]
mod tests {
    proptest! {
        /// The refund named for a cancellation gives back at least the sales it must, through the same split a
        /// refund is made with, and no unit less would.
        #[test]
        fn the_refund_for_sales_is_the_smallest_that_gives_them_back(
            share in 1i64..10_000_000_000,
            tip_pct in 0i64..=100,
            sales_pct in 1i64..=100,
            whole_pesos in any::<bool>(),
        ) {
            // A share and tip in whole pesos (what guests pay now) are refunded in whole pesos; others to the centavo.
            let unit = if whole_pesos { 100 } else { 1 };
            let share = if whole_pesos { share / unit * unit + unit } else { share | 1 };
            let tip = share * tip_pct / 100 / unit * unit;
            let charged = share + tip;
            let sales = (share * sales_pct / 100).max(1);
            let refund = refund_for_sales(cop(sales), charged, tip);
            let state = refundable(share, tip, 300);
            let given_back = |refund: i64| {
                let split = split_refund(&state, cop(refund)).unwrap();
                split.refund.amount - split.tip_reversal.amount
            };
            prop_assert!(refund <= charged);
            prop_assert_eq!(refund % unit, 0, "a refund staff can make");
            prop_assert!(given_back(refund) >= sales, "{refund} gives back {}", given_back(refund));
            if refund > unit {
                prop_assert!(given_back(refund - unit) < sales);
            }
        }
    }

    #[test]
    fn a_payment_replaced_by_another_way_of_paying_is_superseded_not_failed() {
        use super::cancelled_because::*;
        for reason in [REPLACED_BY_THE_GUEST, STAFF_TOOK_CASH, STAFF_CLOSED_THE_TABLE] {
            assert!(superseded(reason), "{reason}");
        }
        for reason in [
            ABANDONED,
            THE_GUEST_CANCELLED,
            STAFF_RELEASED,
            "the provider refused it",
        ] {
            assert!(!superseded(reason), "{reason}");
        }
    }

    #[test]
    fn the_refund_for_sales_counts_the_tips_part() {
        // 37.800 paid for the bill with a 10 % tip (3.780): 1.718,18 of sales come back with a refund of 1.891 (its
        // tip part is 172 pesos; 1.890 would give back 1.718 of sales).
        assert_eq!(super::refund_for_sales(cop(171_818), 4_158_000, 378_000), 189_100);
        assert_eq!(super::refund_for_sales(cop(171_800), 4_158_000, 378_000), 189_000);
        assert_eq!(
            super::refund_for_sales(cop(500_000), 1_000_000, 0),
            500_000,
            "no tip"
        );
        assert_eq!(super::refund_for_sales(cop(0), 1_000_000, 100_000), 0);
        // Centavos of sales (an old price) are given back by a refund of whole pesos.
        assert_eq!(super::refund_for_sales(cop(171_818), 1_000_000, 0), 171_900);
    }

    #[test]
    fn the_tip_part_of_a_refund_is_whole_pesos() {
        // 72.000 of food and a 7.200 tip: a refund of 20.000 takes 1.818 of the tip back (not 1.818,18), and the
        // rest of the payment the rest of the tip, to the peso.
        let state = refundable(7_200_000, 720_000, 300);
        let split = split_refund(&state, cop(2_000_000)).unwrap();
        assert_eq!(split.tip_reversal, cop(181_800));
        let state = Refundable {
            refunded: cop(2_000_000),
            tip_reversed: split.tip_reversal,
            reversed: split.transfer_reversal,
            ..state
        };
        let rest = split_refund(&state, cop(5_920_000)).unwrap();
        assert_eq!(rest.tip_reversal, cop(538_200));
    }

    use super::*;
    use crate::Currency;
    use proptest::prelude::*;

    fn cop(n: i64) -> Money {
        Money::new(n, Currency::COP).unwrap()
    }

    fn balance(total: i64, remaining: i64) -> BillBalance {
        BillBalance {
            total: cop(total),
            remaining: cop(remaining),
        }
    }

    fn check_first_cash(bill: &BillBalance, amount: Money, tip: Money) -> Result<(), CashError> {
        check_cash(bill, amount, tip, 0)
    }

    #[test]
    fn cash_tips_of_one_bill_come_to_at_most_the_bill() {
        let bill = balance(100_000, 0);
        assert_eq!(check_cash(&bill, cop(0), cop(40_000), 60_000), Ok(()));
        assert_eq!(
            check_cash(&bill, cop(0), cop(40_001), 60_000),
            Err(CashError::Tip)
        );
    }

    #[test]
    fn cash_covers_at_most_what_is_left_and_may_be_only_a_tip() {
        let bill = balance(100_000, 40_000);
        assert_eq!(check_first_cash(&bill, cop(40_000), cop(5_000)), Ok(()));
        assert_eq!(
            check_first_cash(&bill, cop(0), cop(5_000)),
            Ok(()),
            "coins left on a bill paid by card"
        );
        assert_eq!(
            check_first_cash(&bill, cop(40_001), cop(0)),
            Err(CashError::OverBill { left: 40_000 })
        );
        assert_eq!(check_first_cash(&bill, cop(0), cop(0)), Err(CashError::Nothing));
        assert_eq!(
            check_first_cash(&bill, cop(10), cop(100_001)),
            Err(CashError::Tip)
        );
        let covered = balance(100_000, 0);
        assert_eq!(
            check_first_cash(&covered, cop(1), cop(0)),
            Err(CashError::OverBill { left: 0 })
        );
        assert_eq!(check_first_cash(&covered, cop(0), cop(10_000)), Ok(()));
        let usd = Money::new(10, Currency::USD).unwrap();
        assert_eq!(check_first_cash(&bill, usd, cop(0)), Err(CashError::Nothing));
    }

    #[test]
    fn cash_is_whole_pesos_unless_it_is_exactly_what_is_left() {
        // "50.5" typed at the desk is not $ 50,50: no coin pays centavos.
        let bill = balance(14_000_000, 13_500_000);
        assert_eq!(
            check_first_cash(&bill, cop(5_050), cop(0)),
            Err(CashError::Unpayable("amount"))
        );
        assert_eq!(
            check_first_cash(&bill, cop(0), cop(50)),
            Err(CashError::Unpayable("tip"))
        );
        assert_eq!(check_first_cash(&bill, cop(5_000), cop(100)), Ok(()));
        // A bill of centavos (an old price) is settled by what is left of it, as it is.
        let old = balance(1_890_050, 1_890_050);
        assert_eq!(check_first_cash(&old, cop(1_890_050), cop(0)), Ok(()));
        assert_eq!(
            check_first_cash(&old, cop(1_000_050), cop(0)),
            Err(CashError::Unpayable("amount"))
        );
    }

    proptest! {
        #[test]
        fn recorded_cash_never_pays_more_than_the_bill(total in 0i64..10_000_000, paid in 0i64..10_000_000,
                                                        amount in 0i64..10_000_000, tip in 0i64..10_000_000) {
            let paid = paid.min(total);
            let bill = balance(total, total - paid);
            if check_cash(&bill, cop(amount), cop(tip), 0).is_ok() {
                prop_assert!(paid + amount <= total);
                prop_assert!(tip <= total);
                prop_assert!(amount + tip > 0);
            }
        }
    }

    #[test]
    fn a_split_refuses_fields_it_does_not_have_in_every_variant() {
        let parse = |json: &str| serde_json::from_str::<Split>(json);
        assert_eq!(parse(r#"{"kind": "full"}"#).unwrap(), Split::Full);
        assert_eq!(parse(r#"{"kind": "remaining"}"#).unwrap(), Split::Remaining);
        assert_eq!(
            parse(r#"{"kind": "equal", "parts": 3}"#).unwrap(),
            Split::Equal { parts: 3 }
        );
        for wrong in [
            r#"{"kind": "full", "parts": 2}"#,
            r#"{"kind": "remaining", "items": []}"#,
            r#"{"kind": "equal", "parts": 3, "part": 1}"#,
            r#"{"kind": "items", "items": [{"order_id": "0190d3a0-0000-7000-8000-000000000000", "line": 0, "numerater": 1}]}"#,
        ] {
            let error = parse(wrong).unwrap_err().to_string();
            assert!(error.contains("unknown field"), "{wrong}: {error}");
        }
        // What is written reads back.
        for split in [Split::Full, Split::Remaining, Split::Equal { parts: 2 }] {
            assert_eq!(parse(&serde_json::to_string(&split).unwrap()).unwrap(), split);
        }
    }

    #[test]
    fn charge_model_follows_the_partners_country() {
        assert_eq!(
            ChargeModel::for_country(&Country::parse("CO").unwrap()),
            ChargeModel::SeparateChargesAndTransfers
        );
        assert_eq!(
            ChargeModel::for_country(&Country::parse("MX").unwrap()),
            ChargeModel::DestinationCharges
        );
        for model in [
            ChargeModel::SeparateChargesAndTransfers,
            ChargeModel::DestinationCharges,
        ] {
            assert_eq!(ChargeModel::parse(model.as_str()), Some(model));
        }
    }

    #[test]
    fn splits_come_to_the_expected_shares() {
        let none = |_, _| None;
        assert_eq!(
            share_amount(&Split::Full, &balance(100, 100), none, &[]).unwrap(),
            cop(100)
        );
        assert_eq!(
            share_amount(&Split::Full, &balance(100, 50), none, &[]),
            Err(ShareError::PartlyPaid)
        );
        assert_eq!(
            share_amount(&Split::Remaining, &balance(100, 30), none, &[]).unwrap(),
            cop(30)
        );
        // A third of 226.000 COP is 75.333,33: each part is asked in whole pesos, rounded up; the last payer's
        // "what is left" is the smaller one.
        assert_eq!(
            share_amount(
                &Split::Equal { parts: 3 },
                &balance(22_600_000, 22_600_000),
                none,
                &[]
            )
            .unwrap(),
            cop(7_533_400)
        );
        assert_eq!(
            share_amount(&Split::Equal { parts: 3 }, &balance(22_600_000, 3_200), none, &[]).unwrap(),
            cop(3_200)
        );
        assert_eq!(
            share_amount(&Split::Equal { parts: 1 }, &balance(100, 100), none, &[]),
            Err(ShareError::Parts)
        );
        assert_eq!(
            share_amount(&Split::Remaining, &balance(100, 0), none, &[]),
            Err(ShareError::BillCovered)
        );
        let order = Uuid::nil();
        let lines = |o: Uuid, l: u32| (o == order && l < 2).then(|| cop(if l == 0 { 3_000 } else { 1_000 }));
        let items = Split::Items {
            items: vec![
                LineShare {
                    order_id: order,
                    line: 0,
                    numerator: 1,
                    denominator: 3,
                },
                LineShare {
                    order_id: order,
                    line: 1,
                    numerator: 1,
                    denominator: 1,
                },
            ],
        };
        assert_eq!(
            share_amount(&items, &balance(4_000, 4_000), lines, &[]).unwrap(),
            cop(2_000)
        );
        assert_eq!(
            share_amount(&items, &balance(4_000, 1_500), lines, &[]),
            Err(ShareError::ExceedsRemaining)
        );
        let unknown = Split::Items {
            items: vec![LineShare {
                order_id: order,
                line: 7,
                numerator: 1,
                denominator: 1,
            }],
        };
        assert_eq!(
            share_amount(&unknown, &balance(4_000, 4_000), lines, &[]),
            Err(ShareError::UnknownLine(0))
        );
        let bad = Split::Items {
            items: vec![LineShare {
                order_id: order,
                line: 0,
                numerator: 2,
                denominator: 1,
            }],
        };
        assert_eq!(
            share_amount(&bad, &balance(4_000, 4_000), lines, &[]),
            Err(ShareError::Fraction(0))
        );
    }

    #[test]
    fn three_thirds_of_a_line_pay_the_whole_line_to_the_peso() {
        // 20.000 COP shared by three guests, each paying 1/3 as a payment of its own: each third is whole pesos
        // (6.667, never 6.666,67: centavos are out of circulation), and the third pays what the other two left
        // (6.666), so the bill is covered exactly and the third is not refused.
        let order = Uuid::nil();
        let third = LineShare {
            order_id: order,
            line: 0,
            numerator: 1,
            denominator: 3,
        };
        let paid = |amount: i64| LineClaim {
            share: third,
            amount: Some(amount),
        };
        let lines = |o: Uuid, l: u32| (o == order && l == 0).then(|| cop(2_000_000));
        let split = Split::Items { items: vec![third] };
        let first = share_amount(&split, &balance(2_000_000, 2_000_000), lines, &[]).unwrap();
        let second = share_amount(&split, &balance(2_000_000, 1_333_300), lines, &[paid(666_700)]).unwrap();
        let last = share_amount(
            &split,
            &balance(2_000_000, 666_600),
            lines,
            &[paid(666_700), paid(666_700)],
        )
        .unwrap();
        assert_eq!(
            (first.amount, second.amount, last.amount),
            (666_700, 666_700, 666_600)
        );
        // Two thirds in one payment after a third: the last of them completes the line.
        let two = Split::Items {
            items: vec![third, third],
        };
        assert_eq!(
            share_amount(&two, &balance(2_000_000, 1_333_300), lines, &[paid(666_700)]).unwrap(),
            cop(1_333_300)
        );
        // What each part of a split by lines pays is kept with the payment.
        let both = split_share(&two, &balance(2_000_000, 1_333_300), lines, &[paid(666_700)]).unwrap();
        assert_eq!(both.line_amounts, vec![666_700, 666_600]);
        // A part paid before parts' amounts were kept counts as it was charged then (to the centavo): the part that
        // completes the line still pays exactly what is left.
        assert_eq!(
            share_amount(
                &split,
                &balance(2_000_000, 666_666),
                lines,
                &[third.into(), third.into()]
            )
            .unwrap(),
            cop(666_666)
        );
        // A line of centavos keeps the minor unit (its parts could round past it in pesos): sevenths of 10 minor
        // units round down (1 each), and the seventh takes the 4 the others left.
        let seventh = LineShare {
            denominator: 7,
            ..third
        };
        let ten = |_: Uuid, _: u32| Some(cop(10));
        let six = [LineClaim::from(seventh); 6];
        let split = Split::Items { items: vec![seventh] };
        assert_eq!(share_amount(&split, &balance(10, 4), ten, &six).unwrap(), cop(4));
        assert_eq!(payable_fraction_of(cop(10), 1, 7).unwrap(), cop(1));
    }

    #[test]
    fn a_lapsed_third_taken_again_still_pays_the_line_to_the_peso() {
        // Thirds of 20.000 COP: A (6.667) and B (6.667) are being paid, C completes the line with 6.666. A's hold
        // lapses; D takes A's third. D completes the line against what B and C were charged (6.667 + 6.666 leave
        // 6.667), not against their fractions recomputed.
        let third = LineShare {
            order_id: Uuid::nil(),
            line: 0,
            numerator: 1,
            denominator: 3,
        };
        let charged = |amount: i64| LineClaim {
            share: third,
            amount: Some(amount),
        };
        let line = cop(2_000_000);
        let c = line_claim_amount(line, &[charged(666_700), charged(666_700)], &third).unwrap();
        assert_eq!(c, cop(666_600));
        let d = line_claim_amount(line, &[charged(666_700), charged(c.amount)], &third).unwrap();
        assert_eq!(d, cop(666_700));
        assert_eq!(666_700 + c.amount + d.amount, line.amount);
        // The same parts recomputed under the lock from claims that changed meanwhile give the new amounts.
        let parts = line_part_amounts(&[third], &[line], &[charged(666_700), charged(666_600)]).unwrap();
        assert_eq!(parts, vec![cop(666_700)]);
    }

    #[test]
    fn a_line_is_paid_once_whole_or_in_parts() {
        let (order, other) = (Uuid::nil(), Uuid::max());
        let share = |order: Uuid, line: u32, numerator: u32, denominator: u32| LineShare {
            order_id: order,
            line,
            numerator,
            denominator,
        };
        let third = share(order, 1, 1, 3);
        // Three thirds are the whole line; a fourth, in one request or after the others, is not.
        assert_eq!(check_line_claims(&[third, third], &[third]), Ok(()));
        assert_eq!(
            check_line_claims(&[], &[third, third, third, third]),
            Err(ShareError::LineChosenTwice(3))
        );
        assert_eq!(
            check_line_claims(&[third, third, third], &[share(order, 0, 1, 1), third]),
            Err(ShareError::LineTaken(1))
        );
        // The same whole line twice, by one guest or after another.
        let beer = share(order, 1, 1, 1);
        assert_eq!(
            check_line_claims(&[], &[beer, beer]),
            Err(ShareError::LineChosenTwice(1))
        );
        assert_eq!(check_line_claims(&[beer], &[beer]), Err(ShareError::LineTaken(0)));
        // Other lines and other orders are apart; halves and quarters meet exactly.
        assert_eq!(
            check_line_claims(
                &[beer, share(order, 0, 1, 2)],
                &[share(other, 1, 1, 1), share(order, 0, 2, 4)]
            ),
            Ok(())
        );
        assert_eq!(
            check_line_claims(&[share(order, 0, 1, 2)], &[share(order, 0, 11, 20)]),
            Err(ShareError::LineTaken(0))
        );
    }

    proptest! {
        /// Any parts of one line are accepted exactly while they add up to at most the whole line (checked against
        /// the sum over a common denominator).
        #[test]
        fn line_claims_accept_exactly_up_to_the_whole_line(parts in proptest::collection::vec((1u32..=20, 1u32..=20), 1..8),
                                                           split_at in 0usize..8) {
            let shares: Vec<LineShare> = parts
                .iter()
                .map(|&(a, b)| LineShare { order_id: Uuid::nil(), line: 0, numerator: a.min(b), denominator: a.max(b) })
                .collect();
            let common: u128 = 232_792_560; // lcm(1..=20)
            let total: u128 = shares.iter().map(|s| common / u128::from(s.denominator) * u128::from(s.numerator)).sum();
            let (earlier, chosen) = shares.split_at(split_at.min(shares.len()));
            prop_assert_eq!(check_line_claims(earlier, chosen).is_ok(), total <= common || chosen.is_empty());
        }

        /// Parts of a line that make it whole pay exactly the line, in any order they are paid; each part is within
        /// rounding of its exact fraction (the completing part takes what the others' rounding left), and a line of
        /// whole pesos is paid in whole pesos.
        #[test]
        fn parts_that_make_a_line_whole_pay_exactly_the_line(line in 1i64..100_000_000,
                                                            whole_pesos in any::<bool>(),
                                                            cuts in proptest::collection::vec(1u32..20, 0..6),
                                                            seed in any::<u64>()) {
            let line = if whole_pesos { (line / 100 + 1) * 100 } else { line };
            let unit = if line % 100 == 0 { 100 } else { 1 };
            // Twentieths cut at the given points: parts of a line that add up to exactly one.
            let mut points: Vec<u32> = cuts.iter().map(|c| c % 20).filter(|c| *c > 0).collect();
            points.extend([0, 20]);
            points.sort();
            points.dedup();
            let mut parts: Vec<LineShare> = points
                .windows(2)
                .map(|w| LineShare { order_id: Uuid::nil(), line: 0, numerator: w[1] - w[0], denominator: 20 })
                .collect();
            let len = parts.len();
            parts.rotate_left(usize::try_from(seed % len as u64).unwrap_or(0));
            let mut paid = 0i64;
            let mut claims: Vec<LineClaim> = Vec::new();
            for part in &parts {
                let amount = line_claim_amount(cop(line), &claims, part).unwrap().amount;
                let exact = i128::from(line) * i128::from(part.numerator) / 20;
                prop_assert!((i128::from(amount) - exact).abs() <= i128::try_from(len).unwrap() * unit);
                prop_assert_eq!(amount % unit as i64, 0);
                paid += amount;
                claims.push(LineClaim { share: *part, amount: Some(amount) });
            }
            prop_assert_eq!(paid, line);
            // One part lapses (its hold expired) and is taken again: the line is still paid exactly.
            let lapsed = usize::try_from(seed % len as u64).unwrap_or(0);
            let gone = claims.remove(lapsed);
            let again = line_claim_amount(cop(line), &claims, &gone.share).unwrap().amount;
            prop_assert_eq!(paid - gone.amount.unwrap_or(0) + again, line);
        }
    }

    #[test]
    fn refunds_of_one_payment_are_held_to_the_threshold_together() {
        // Threshold 10.000 COP: 10.000 alone goes through; 9.302 more of the same payment waits; so does one above it.
        assert!(!refund_needs_approval(cop(0), cop(1_000_000), 1_000_000));
        assert!(refund_needs_approval(cop(1_000_000), cop(930_200), 1_000_000));
        assert!(refund_needs_approval(cop(0), cop(1_000_100), 1_000_000));
        assert!(!refund_needs_approval(cop(500_000), cop(500_000), 1_000_000));
    }

    #[test]
    fn the_fee_comes_out_of_the_partners_part_and_never_the_tip() {
        // 50.000 COP share at 3 % with a 5.000 COP tip.
        let s = settle(cop(5_000_000), cop(500_000), 300).unwrap();
        assert_eq!(s.charged, cop(5_500_000));
        assert_eq!(s.platform_fee, cop(150_000));
        assert_eq!(s.partner_part, cop(5_350_000));
        assert!(check_tip(cop(100), cop(101)).is_err());
        assert!(check_tip(cop(100), cop(100)).is_ok());
        assert_eq!(
            check_tip(cop(1_250_000), cop(12_345)),
            Err(ShareError::UnpayableTip)
        );
        assert_eq!(check_tip(cop(1_250_000), cop(250)), Err(ShareError::UnpayableTip));
        assert!(check_tip(cop(1_250_000), cop(12_300)).is_ok());
    }

    #[test]
    fn debts_are_netted_against_transfers() {
        let n = net_against_debt(cop(1_000), cop(300)).unwrap();
        assert_eq!((n.transfer, n.recovered), (cop(700), cop(300)));
        let n = net_against_debt(cop(1_000), cop(5_000)).unwrap();
        assert_eq!((n.transfer, n.recovered), (cop(0), cop(1_000)));
    }

    fn refundable(share: i64, tip: i64, fee_bp: u32) -> Refundable {
        let settlement = settle(cop(share), cop(tip), fee_bp).unwrap();
        Refundable {
            settlement,
            transferred: settlement.partner_part,
            refunded: cop(0),
            reversed: cop(0),
            tip_reversed: cop(0),
        }
    }

    #[test]
    fn a_full_refund_returns_everyone_to_where_they_started() {
        let state = refundable(5_000_000, 500_000, 300);
        let split = split_refund(&state, state.settlement.charged).unwrap();
        assert_eq!(split.transfer_reversal, state.transferred);
        assert_eq!(split.platform_part, state.settlement.platform_fee);
        assert_eq!(split.tip_reversal, state.settlement.tip);
        assert!(split_refund(&state, cop(5_500_001)).is_err());
        assert!(split_refund(&state, cop(0)).is_err());
    }

    #[test]
    fn a_cop_charge_settled_in_usd_is_apportioned_at_its_own_rate() {
        // 20.790,00 COP charged (18.900 share + 1.890 tip, 567 fee), settled as 5,20 USD with 0,45 USD Stripe fee.
        let charged = cop(2_079_000);
        let transfer = cop(2_079_000 - 56_700);
        let settled = apportion_settlement(charged, transfer, cop(189_000), 520, 475, "USD").unwrap();
        // 2.022.300 × 520 / 2.079.000 = 505,8 → 506, but never more than the net 475.
        assert_eq!(settled.transfer, 475);
        assert_eq!(settled.platform, 0);
        assert_eq!(settled.currency, "usd");
        let settled = apportion_settlement(charged, transfer, cop(189_000), 520, 520, "usd").unwrap();
        assert_eq!((settled.transfer, settled.tip, settled.platform), (506, 47, 14));
        assert_eq!(
            apportion_settlement(charged, cop(2_079_001), cop(0), 520, 520, "usd"),
            Err(SettlementError::TransferExceedsCharge)
        );
        assert_eq!(
            apportion_settlement(charged, transfer, cop(0), 0, 0, "usd"),
            Err(SettlementError::NothingSettled)
        );
    }

    #[test]
    fn the_last_reversal_takes_what_is_left_at_stripe() {
        // A 506-cent transfer for 2.022.300 COP: half reversed, then the rest.
        assert_eq!(settled_reversal(1_011_150, 2_022_300, 0, 506, 0), 253);
        assert_eq!(settled_reversal(1_011_150, 2_022_300, 1_011_150, 506, 253), 253);
        assert_eq!(settled_reversal(0, 2_022_300, 0, 506, 0), 0);
    }

    proptest! {
        #[test]
        fn settled_shares_add_up_and_never_exceed_the_net(charged in 1i64..10_000_000_000, transfer_pct in 0i64..=100,
                                                           tip_pct in 0i64..=100, gross in 1i64..100_000_000,
                                                           fee_pct in 0i64..=10) {
            let transfer = charged * transfer_pct / 100;
            let tip = transfer * tip_pct / 100;
            let net = gross - gross * fee_pct / 100;
            let s = apportion_settlement(cop(charged), cop(transfer), cop(tip), gross, net, "usd").unwrap();
            prop_assert!(s.transfer >= 0 && s.transfer <= net);
            prop_assert!(s.tip >= 0 && s.tip <= s.transfer);
            prop_assert_eq!(s.transfer + s.platform, net);
            // Within half a minor unit of the exact conversion, unless capped at the net.
            let exact = i128::from(transfer) * i128::from(gross);
            let got = i128::from(s.transfer) * i128::from(charged);
            prop_assert!(s.transfer == net || (got - exact).abs() * 2 <= i128::from(charged));
        }

        #[test]
        fn reversals_return_the_settled_transfer_whole(transferred in 1i64..1_000_000_000, settled in 0i64..10_000_000,
                                                       cuts in proptest::collection::vec(1i64..1_000, 1..6)) {
            let total: i64 = cuts.iter().sum();
            let (mut reversed, mut settled_reversed) = (0i64, 0i64);
            for (i, cut) in cuts.iter().enumerate() {
                let part = if i + 1 == cuts.len() { transferred - reversed } else { transferred * cut / total };
                let back = settled_reversal(part, transferred, reversed, settled, settled_reversed);
                prop_assert!(back >= 0 && settled_reversed + back <= settled);
                reversed += part;
                settled_reversed += back;
            }
            prop_assert_eq!(settled_reversed, settled);
        }
        /// Any sequence of partial refunds that ends in a full refund reverses exactly the transfer and the tip,
        /// and the platform gives back exactly its fee: guest, partner and platform end where they started.
        #[test]
        fn partial_refunds_add_up(share in 1i64..100_000_000, tip_pct in 0u32..=100, fee_bp in 0u32..2_000,
                                  cuts in proptest::collection::vec(1i64..1_000, 0..6)) {
            let tip = share * i64::from(tip_pct) / 100;
            let mut state = refundable(share, tip, fee_bp);
            let charged = state.settlement.charged.amount;
            let mut platform_back = 0i64;
            for cut in cuts {
                let left = charged - state.refunded.amount;
                let amount = (charged * cut / 10_000).clamp(1, left);
                if amount >= left { break; }
                let split = split_refund(&state, cop(amount)).unwrap();
                prop_assert!(split.transfer_reversal.amount <= amount);
                state.refunded = state.refunded.checked_add(cop(amount)).unwrap();
                state.reversed = state.reversed.checked_add(split.transfer_reversal).unwrap();
                state.tip_reversed = state.tip_reversed.checked_add(split.tip_reversal).unwrap();
                platform_back += split.platform_part.amount;
            }
            let left = charged - state.refunded.amount;
            let last = split_refund(&state, cop(left)).unwrap();
            platform_back += last.platform_part.amount;
            prop_assert_eq!(state.reversed.amount + last.transfer_reversal.amount, state.transferred.amount);
            prop_assert_eq!(state.tip_reversed.amount + last.tip_reversal.amount, tip);
            prop_assert_eq!(platform_back, state.settlement.platform_fee.amount);
        }

        /// Paying equal shares until nothing is left never pays more than the bill and always finishes, in whole pesos.
        #[test]
        fn equal_shares_cover_the_bill_exactly(total in 1i64..1_000_000_000, parts in 2u32..=MAX_SPLIT_PARTS) {
            let mut remaining = total;
            let mut payments = 0;
            while remaining > 0 {
                let amount = share_amount(&Split::Equal { parts }, &balance(total, remaining), |_, _| None, &[]).unwrap();
                prop_assert!(amount.amount > 0 && amount.amount <= remaining);
                // A bill in whole pesos is paid in whole pesos, the last share included.
                if total % 100 == 0 {
                    prop_assert_eq!(amount.amount % 100, 0);
                }
                remaining -= amount.amount;
                payments += 1;
            }
            prop_assert!(payments <= parts);
        }

        #[test]
        fn settlement_adds_up(share in 0i64..1_000_000_000_000, tip in 0i64..1_000_000_000, fee_bp in 0u32..=10_000) {
            let s = settle(cop(share), cop(tip), fee_bp).unwrap();
            prop_assert_eq!(s.partner_part.amount + s.platform_fee.amount, s.charged.amount);
            prop_assert!(s.platform_fee.amount <= share);
            prop_assert!(s.partner_part.amount >= tip);
        }
    }
}
