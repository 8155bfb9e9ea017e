//! Bills: lines priced on the server, the tax contained in tax-included prices, and a voluntary tip.
//!
//! Rounding rule (documented for partners and auditors): menu prices include tax. The tax contained in a bill is
//! computed once per tax rate on the sum of that rate's lines, as `gross × rate / (10000 + rate)` rounded half up to
//! the minor unit; the net is the gross minus that tax. Computing on the sum rather than per line keeps the
//! rounding error to at most half a minor unit per rate, and the shown lines always add up to the subtotal.
//!
//! Tips follow Colombia's Ley 1935 de 2018 (which amends art. 131 of the Código Sustantivo del Trabajo): a
//! suggestion of at most 10 % *of the value of the service*, shown on its own line, never pre-selected and never
//! added unless the guest chooses it. The tax the prices contain (impuesto al consumo) is not the service, so the
//! suggestion is computed on the net (the value before tax) and rounded down, so that it never exceeds the cap:
//! on 9 × 1.080.000 COP (net 9.000.000, INC 720.000) the suggestion is 900.000, not 972.000.

use serde::{Deserialize, Serialize};

use crate::money::{Money, MoneyError};
use crate::{Currency, TaxKind, TaxRegime};

/// The largest tip suggestion the law allows, in basis points.
pub const MAX_SUGGESTED_TIP_BP: u32 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BillLine {
    pub description: String,
    pub quantity: u32,
    /// Price of one unit, modifiers included, tax included.
    pub unit_price: Money,
    /// Whether the line carries the venue's tax.
    pub taxed: bool,
}

impl BillLine {
    pub fn total(&self) -> Result<Money, MoneyError> {
        self.unit_price.checked_mul(self.quantity)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaxLine {
    pub kind: TaxKind,
    pub rate_bp: u16,
    /// The tax contained in `base_gross`.
    pub amount: Money,
    /// The tax-included sum the tax was computed on.
    pub base_gross: Money,
}

/// What the guest may choose to tip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TipChoice {
    #[default]
    None,
    /// A percentage of the subtotal, in basis points.
    Percent {
        basis_points: u32,
    },
    Amount {
        amount: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bill {
    pub currency: Currency,
    pub lines: Vec<BillLine>,
    /// Sum of the lines, tax included.
    pub subtotal: Money,
    /// Taxes contained in the subtotal (not added to it).
    pub taxes: Vec<TaxLine>,
    /// Subtotal minus contained taxes.
    pub net: Money,
    /// The suggested tip: at most 10 % of `net` (the value of the service before tax), rounded down; shown apart,
    /// not part of `total` unless chosen.
    pub suggested_tip: Money,
    pub suggested_tip_bp: u32,
    /// The tip chosen with this bill: always zero on a table's bill (`GET /t/{token}/bill`), where each guest
    /// chooses a tip with their own payment and the tips given are in the payments, not here.
    pub tip: Money,
    /// Subtotal plus `tip`.
    pub total: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BillError {
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("a line is priced in another currency")]
    Currency,
}

/// The tax contained in `taxed_gross`, a tax-included sum of taxed lines: `gross × rate ÷ (1 + rate)`, rounded half
/// up to the minor unit (the impuesto al consumo and VAT are included in Colombian menu prices, never added on top).
pub fn contained_tax(taxed_gross: Money, regime: TaxRegime) -> Result<Money, MoneyError> {
    let rate = i128::from(regime.rate_bp);
    let contained = (i128::from(taxed_gross.amount) * rate * 2 + (10_000 + rate)) / (2 * (10_000 + rate));
    Money::new(
        i64::try_from(contained).map_err(|_| MoneyError::Overflow)?,
        taxed_gross.currency,
    )
}

/// The tax one order contains, computed as its bill would be on its own (docs/analytics.md, "Tax"): the contained
/// tax of the sum of its taxed lines. Zero when nothing is taxed.
pub fn order_tax(lines: &[BillLine], regime: TaxRegime, currency: Currency) -> Result<Money, MoneyError> {
    let totals = lines
        .iter()
        .filter(|line| line.taxed)
        .map(BillLine::total)
        .collect::<Result<Vec<_>, _>>()?;
    contained_tax(Money::sum(currency, totals)?, regime)
}

/// The tax a refund gives back: the refunded sales part (its tip part excluded, tips are never taxed) carries the
/// bill's own proportion of contained tax, `sales_part × bill_tax ÷ bill_subtotal`, rounded half up to the minor unit
/// and never more than the bill's tax or the sales part (a refund is not per item, so the proportion of the whole
/// bill is the only fair reading; docs/analytics.md, "Refunds"). Zero for an empty bill. Amounts in minor units.
pub fn refund_tax(sales_part: i64, bill_subtotal: i64, bill_tax: i64) -> i64 {
    if bill_subtotal <= 0 || sales_part <= 0 || bill_tax <= 0 {
        return 0;
    }
    let (part, subtotal, tax) = (
        i128::from(sales_part),
        i128::from(bill_subtotal),
        i128::from(bill_tax),
    );
    let proportional = (part * tax * 2 + subtotal) / (2 * subtotal);
    i64::try_from(proportional.min(tax).min(part)).unwrap_or(0)
}

/// One order of a bill, in the order they were placed, as [`paid_for_order`] reads it: its subtotal, whether it is
/// still on the bill (not cancelled), and what the bill's succeeded item payments were charged for its lines
/// (`direct`, minor units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaidOrder {
    pub subtotal: i64,
    pub on_bill: bool,
    pub direct: i64,
}

/// What the bill's succeeded shares `paid` (minor units, net of what earlier cancellations kept) paid of order
/// `this`: what item payments chose of its own lines, then its part of the other money (whole bill, equal shares,
/// what is left), which pays the orders still on the bill in the order they were placed, after their own chosen
/// lines. A guest who paid the beer by choosing its line paid the beer, whatever was ordered before it.
pub fn paid_for_order(orders: &[PaidOrder], this: usize, paid: i64) -> i64 {
    let Some(own) = orders.get(this) else {
        return 0;
    };
    let chosen: i64 = orders
        .iter()
        .enumerate()
        .filter(|(i, o)| o.on_bill || *i == this)
        .map(|(_, o)| o.direct.clamp(0, o.subtotal.max(0)))
        .sum();
    let other_money = paid.saturating_sub(chosen).max(0);
    let older_unchosen: i64 = orders[..this]
        .iter()
        .filter(|o| o.on_bill)
        .map(|o| (o.subtotal - o.direct).max(0))
        .sum();
    let own_direct = own.direct.clamp(0, own.subtotal.max(0));
    let in_turn = other_money
        .saturating_sub(older_unchosen)
        .clamp(0, (own.subtotal - own_direct).max(0));
    own_direct + in_turn
}

/// What a cancelled order leaves in the sales, `(gross, tax)` in minor units: the part of it its guests had paid for
/// (`paid_part`, [`paid_for_order`]) and a refund gave back, at most `returned` (what refunds not failed gave back and
/// no earlier cancellation took: money paid but not returned pays for the bill's other orders instead) and at most
/// its subtotal, with the order's own proportion of tax (rounded half up). Such an order can only be cancelled once a
/// refund gave that money back ([`may_shrink_bill`]), and the refund already takes it out of net sales; taking the
/// order out of gross as well would take the same money out twice. An order nobody paid for leaves nothing
/// (docs/analytics.md, "Cancellations").
pub fn kept_on_cancel(subtotal: i64, tax: i64, paid_part: i64, returned: i64) -> (i64, i64) {
    let gross = paid_part.min(returned).clamp(0, subtotal.max(0));
    if gross == 0 || subtotal <= 0 || tax <= 0 {
        return (gross, 0);
    }
    let (part, whole, contained) = (i128::from(gross), i128::from(subtotal), i128::from(tax));
    let proportional = (part * contained * 2 + whole) / (2 * whole);
    (gross, i64::try_from(proportional.min(contained)).unwrap_or(0))
}

/// Prices a bill. `suggestion_bp` is clamped to the legal maximum.
pub fn compute_bill(
    currency: Currency,
    lines: Vec<BillLine>,
    regime: TaxRegime,
    suggestion_bp: u32,
    tip: TipChoice,
) -> Result<Bill, BillError> {
    if lines.iter().any(|l| l.unit_price.currency != currency) {
        return Err(BillError::Currency);
    }
    let totals = lines.iter().map(BillLine::total).collect::<Result<Vec<_>, _>>()?;
    let subtotal = Money::sum(currency, totals.iter().copied())?;
    let taxed_gross = Money::sum(
        currency,
        lines
            .iter()
            .zip(&totals)
            .filter(|(l, _)| l.taxed)
            .map(|(_, total)| *total),
    )?;
    let mut taxes = Vec::new();
    let mut tax_total = Money::zero(currency);
    if regime.rate_bp > 0 && taxed_gross.amount > 0 {
        let amount = contained_tax(taxed_gross, regime)?;
        tax_total = tax_total.checked_add(amount)?;
        taxes.push(TaxLine {
            kind: regime.kind,
            rate_bp: regime.rate_bp,
            amount,
            base_gross: taxed_gross,
        });
    }
    let net = subtotal.checked_sub(tax_total)?;
    let suggested_tip_bp = suggestion_bp.min(MAX_SUGGESTED_TIP_BP);
    let suggested_tip = suggested_tip(subtotal, subtotal, net, suggested_tip_bp)?;
    let tip = match tip {
        TipChoice::None => Money::zero(currency),
        TipChoice::Percent { basis_points } => subtotal.percent_bp(basis_points)?,
        TipChoice::Amount { amount } => Money::new(amount, currency)?,
    };
    let total = subtotal.checked_add(tip)?;
    Ok(Bill {
        currency,
        lines,
        subtotal,
        taxes,
        net,
        suggested_tip,
        suggested_tip_bp,
        tip,
        total,
    })
}

/// The tip suggested on `share` (tax included) of a bill whose `subtotal` contains `net` before tax: `suggestion_bp`
/// (at most [`MAX_SUGGESTED_TIP_BP`]) of the share's value before tax, rounded down so that it never exceeds the
/// cap of Ley 1935 de 2018. The share's value before tax is its part of `net`, in proportion (a whole bill: `net`).
pub fn suggested_tip(
    share: Money,
    subtotal: Money,
    net: Money,
    suggestion_bp: u32,
) -> Result<Money, MoneyError> {
    if share.currency != subtotal.currency || net.currency != subtotal.currency {
        return Err(MoneyError::CurrencyMismatch);
    }
    if subtotal.amount <= 0 || share.amount <= 0 {
        return Ok(Money::zero(share.currency));
    }
    let bp = i128::from(suggestion_bp.min(MAX_SUGGESTED_TIP_BP));
    // share × (net / subtotal) × bp / 10000, in one division so that the rounding happens once, downwards — to the
    // currency's payable unit (whole pesos), still never above the cap.
    let scaled = i128::from(share.amount) * i128::from(net.amount) * bp;
    let amount = scaled / (i128::from(subtotal.amount) * 10_000);
    let amount = amount - amount % i128::from(share.currency.payable_unit());
    Money::new(
        i64::try_from(amount).map_err(|_| MoneyError::Overflow)?,
        share.currency,
    )
}

/// The tip suggested on a share paid by dish: `suggestion_bp` (at most [`MAX_SUGGESTED_TIP_BP`]) of the value before
/// tax of exactly the parts chosen — `taxed`, the tax-included amount of parts of lines carrying the venue's tax at
/// `rate_bp`, and `untaxed` — rounded down to the currency's payable unit, so that it never exceeds the cap of Ley
/// 1935 de 2018 on what this guest consumed. (A proportional part of the bill's net, as [`suggested_tip`] takes for
/// a share of the total, would put a tax-exempt drink's larger net on the guest who had only the taxed soup.)
pub fn suggested_tip_on_lines(
    taxed: Money,
    untaxed: Money,
    rate_bp: u32,
    suggestion_bp: u32,
) -> Result<Money, MoneyError> {
    if taxed.currency != untaxed.currency {
        return Err(MoneyError::CurrencyMismatch);
    }
    let bp = i128::from(suggestion_bp.min(MAX_SUGGESTED_TIP_BP));
    let gross_per_net = 10_000 + i128::from(rate_bp);
    // (taxed × 10000 ÷ (10000 + rate) + untaxed) × bp ÷ 10000, in one division so that the rounding happens once,
    // downwards.
    let scaled =
        (i128::from(taxed.amount.max(0)) * 10_000 + i128::from(untaxed.amount.max(0)) * gross_per_net) * bp;
    let amount = scaled / (gross_per_net * 10_000);
    let amount = amount - amount % i128::from(taxed.currency.payable_unit());
    Money::new(
        i64::try_from(amount).map_err(|_| MoneyError::Overflow)?,
        taxed.currency,
    )
}

/// Whether a bill may shrink to `total_after` (minor units, after an order is cancelled) while its guests have
/// paid or are paying `paying` towards it (the bill shares of succeeded and pending payments, tips excluded) of
/// which refunds give back `returned`. A smaller bill than the money kept for it would leave the venue holding a
/// guest's money for food it never served, so the payment is refunded first and the order cancelled after.
pub fn may_shrink_bill(total_after: i64, paying: i64, returned: i64) -> bool {
    paying.saturating_sub(returned) <= total_after
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_cancelled_order_keeps_in_sales_what_was_paid_for_it() {
        let order = |subtotal: i64, direct: i64| PaidOrder {
            subtotal,
            on_bill: true,
            direct,
        };
        // 8.900 COP with 659,26 INC contained, paid in full, refunded, then cancelled: all of it stays.
        let alone = [order(890_000, 0)];
        assert_eq!(paid_for_order(&alone, 0, 890_000), 890_000);
        assert_eq!(
            kept_on_cancel(890_000, 65_926, 890_000, 890_000),
            (890_000, 65_926)
        );
        // Nobody paid: nothing stays; the orders before it took all the money paid: nothing stays.
        assert_eq!(paid_for_order(&alone, 0, 0), 0);
        assert_eq!(paid_for_order(&[order(6_000, 0), order(4_000, 0)], 1, 6_000), 0);
        // 60 of older orders, then this 40 one; 70 paid, 30 refunded: 10 of it was paid for.
        let part = paid_for_order(&[order(6_000, 0), order(4_000, 0)], 1, 7_000);
        assert_eq!(kept_on_cancel(4_000, 296, part, 3_000), (1_000, 74));
        // Never more than the order itself.
        let all = paid_for_order(&[order(1_000, 0)], 0, 9_000);
        assert_eq!(kept_on_cancel(1_000, 80, all, 9_000), (1_000, 80));
        // A beer (10.000) and a steak (39.000) paid 49.000, the beer refunded; another beer is ordered, then the
        // first is cancelled: it was paid for and refunded, so it keeps its 10.000 and the new beer is owed whole.
        let bill = [order(1_000_000, 0), order(3_900_000, 0), order(1_000_000, 0)];
        let part = paid_for_order(&bill, 0, 4_900_000);
        assert_eq!(kept_on_cancel(1_000_000, 74_074, part, 1_000_000).0, 1_000_000);
        // Paid but never refunded, cancelled as a new order came: its money pays for the new order; it keeps none.
        assert_eq!(kept_on_cancel(1_000_000, 74_074, part, 0), (0, 0));
        // A steak (39.000) then a beer (10.000); a guest pays the beer by choosing its line, it is refunded and
        // cancelled: the beer was paid, whatever was ordered before it.
        let chosen = [order(3_900_000, 0), order(1_000_000, 1_000_000)];
        assert_eq!(paid_for_order(&chosen, 1, 1_000_000), 1_000_000);
        assert_eq!(
            paid_for_order(&chosen, 0, 1_000_000),
            0,
            "the steak is still owed"
        );
    }

    fn cop(amount: i64) -> Money {
        Money::new(amount, Currency::COP).unwrap()
    }

    #[test]
    fn three_items_of_18_900_cop_hand_checked() {
        // 3 × 18.900 COP = 56.700 COP, INC 8 % contained = 56.700 × 8/108 = 4.200 COP, net 52.500 COP,
        // suggested tip 10 % of the net = 5.250 COP shown apart, total without a chosen tip 56.700 COP.
        let line = BillLine {
            description: "Bandeja paisa".into(),
            quantity: 3,
            unit_price: cop(1_890_000),
            taxed: true,
        };
        let bill = compute_bill(
            Currency::COP,
            vec![line],
            TaxRegime::COLOMBIA_INC,
            1_000,
            TipChoice::None,
        )
        .unwrap();
        assert_eq!(bill.subtotal, cop(5_670_000));
        assert_eq!(bill.taxes.len(), 1);
        assert_eq!(bill.taxes[0].kind, TaxKind::Inc);
        assert_eq!(bill.taxes[0].amount, cop(420_000));
        assert_eq!(bill.net, cop(5_250_000));
        assert_eq!(bill.suggested_tip, cop(525_000), "10 % of the net 52.500 COP");
        assert_eq!(bill.tip, cop(0), "nothing pre-selected");
        assert_eq!(bill.total, cop(5_670_000));
    }

    #[test]
    fn tip_suggestion_never_exceeds_ten_percent() {
        let line = BillLine {
            description: "x".into(),
            quantity: 1,
            unit_price: cop(100_000),
            taxed: true,
        };
        let bill = compute_bill(
            Currency::COP,
            vec![line],
            TaxRegime::COLOMBIA_INC,
            2_500,
            TipChoice::None,
        )
        .unwrap();
        assert_eq!(bill.suggested_tip_bp, 1_000);
        // 1.000 COP with INC 8 % contained: net 925,93 COP, 10 % of it (92,59) rounded down to whole pesos.
        assert_eq!(bill.suggested_tip, cop(9_200));
    }

    #[test]
    fn the_suggestion_is_ten_percent_of_the_service_before_tax() {
        // Issue 14's case: 9 × 1.080.000 COP, INC 8 % contained (net 9.000.000, INC 720.000).
        let line = BillLine {
            description: "menú".into(),
            quantity: 9,
            unit_price: cop(108_000_000),
            taxed: true,
        };
        let bill = compute_bill(
            Currency::COP,
            vec![line],
            TaxRegime::COLOMBIA_INC,
            1_000,
            TipChoice::None,
        )
        .unwrap();
        assert_eq!(bill.net, cop(900_000_000));
        assert_eq!(bill.taxes[0].amount, cop(72_000_000));
        assert_eq!(bill.suggested_tip, cop(90_000_000), "900.000 COP, not 972.000");
        // Half of the bill suggests half: 10 % of its 4.500.000 before tax.
        let half = suggested_tip(cop(486_000_000), bill.subtotal, bill.net, 1_000).unwrap();
        assert_eq!(half, cop(45_000_000));
    }

    #[test]
    fn untaxed_lines_carry_no_tax() {
        let lines = vec![
            BillLine {
                description: "agua".into(),
                quantity: 2,
                unit_price: cop(500_000),
                taxed: false,
            },
            BillLine {
                description: "plato".into(),
                quantity: 1,
                unit_price: cop(1_080_000),
                taxed: true,
            },
        ];
        let bill = compute_bill(
            Currency::COP,
            lines,
            TaxRegime::COLOMBIA_INC,
            1_000,
            TipChoice::None,
        )
        .unwrap();
        assert_eq!(bill.taxes[0].base_gross, cop(1_080_000));
        assert_eq!(bill.taxes[0].amount, cop(80_000));
    }

    proptest! {
        #[test]
        fn what_a_cancelled_order_keeps_is_within_it(subtotal in 0i64..10_000_000_000, tax_bp in 0i64..=10_000,
                                                      paid in 0i64..20_000_000_000, returned in 0i64..20_000_000_000) {
            let tax = subtotal * tax_bp / 10_000;
            let (gross, kept_tax) = kept_on_cancel(subtotal, tax, paid, returned);
            prop_assert!((0..=subtotal).contains(&gross));
            prop_assert!((0..=tax).contains(&kept_tax));
            prop_assert_eq!(gross, paid.min(returned).clamp(0, subtotal));
            // Within half a minor unit of the order's own proportion.
            prop_assert!(subtotal == 0 || (i128::from(kept_tax) * i128::from(subtotal) * 2
                - i128::from(gross) * i128::from(tax) * 2).abs() <= i128::from(subtotal));
        }

        #[test]
        fn what_payments_paid_of_each_order_adds_up_to_at_most_what_was_paid(
            orders in proptest::collection::vec((0i64..10_000_000, any::<bool>(), 0i64..10_000_000), 1..8),
            paid in 0i64..100_000_000,
        ) {
            let orders: Vec<PaidOrder> = orders
                .into_iter()
                .map(|(subtotal, on_bill, direct)| PaidOrder { subtotal, on_bill, direct: direct.min(subtotal) })
                .collect();
            let direct: i64 = orders.iter().filter(|o| o.on_bill).map(|o| o.direct).sum();
            let paid = paid.max(direct);
            let parts: Vec<i64> = (0..orders.len()).map(|i| paid_for_order(&orders, i, paid)).collect();
            for (part, order) in parts.iter().zip(&orders) {
                prop_assert!((order.direct..=order.subtotal).contains(part));
            }
            let on_bill: i64 = parts.iter().zip(&orders).filter(|(_, o)| o.on_bill).map(|(p, _)| p).sum();
            prop_assert!(on_bill <= paid);
        }

        #[test]
        fn bills_add_up_exactly(
            lines in proptest::collection::vec((0i64..500_000_000, 1u32..=50, any::<bool>()), 0..20),
            rate in 0u16..=10_000,
            tip_bp in 0u32..=3_000,
            suggestion in 0u32..=5_000,
        ) {
            let lines: Vec<BillLine> = lines.into_iter().map(|(price, quantity, taxed)| BillLine {
                description: "line".into(), quantity, unit_price: cop(price), taxed,
            }).collect();
            let regime = TaxRegime { kind: TaxKind::Iva, rate_bp: rate };
            let bill = compute_bill(Currency::COP, lines.clone(), regime, suggestion, TipChoice::Percent { basis_points: tip_bp }).unwrap();
            let line_sum: i64 = lines.iter().map(|l| l.unit_price.amount * i64::from(l.quantity)).sum();
            prop_assert_eq!(bill.subtotal.amount, line_sum);
            let tax: i64 = bill.taxes.iter().map(|t| t.amount.amount).sum();
            prop_assert_eq!(bill.net.amount + tax, bill.subtotal.amount, "net + tax = subtotal");
            prop_assert_eq!(bill.subtotal.amount + bill.tip.amount, bill.total.amount, "lines + tip = total");
            prop_assert!(tax >= 0 && bill.net.amount >= 0 && bill.tip.amount >= 0);
            prop_assert!(bill.suggested_tip.amount * 10 <= bill.net.amount, "suggestion ≤ 10 % of the net");
            prop_assert!(
                (i128::from(bill.suggested_tip.amount) + 100) * 10_000 > i128::from(bill.net.amount) * i128::from(bill.suggested_tip_bp),
                "and rounded down by less than one whole peso"
            );
            prop_assert_eq!(bill.suggested_tip.amount % 100, 0, "to a whole peso"
            );
            // The contained tax is within half a minor unit of the exact value.
            let taxed: i64 = lines.iter().filter(|l| l.taxed).map(|l| l.unit_price.amount * i64::from(l.quantity)).sum();
            let exact_times_denominator = i128::from(taxed) * i128::from(rate);
            let denominator = 10_000 + i128::from(rate);
            prop_assert!((i128::from(tax) * denominator - exact_times_denominator).abs() * 2 <= denominator);
            // An order's own tax (analytics) is what its bill alone would contain.
            prop_assert_eq!(order_tax(&lines, regime, Currency::COP).unwrap().amount, tax);
        }

        #[test]
        fn huge_bills_are_errors_not_panics(price in (i64::MAX / 4)..i64::MAX, quantity in 5u32..=50) {
            let line = BillLine { description: "x".into(), quantity, unit_price: cop(price), taxed: true };
            prop_assert!(compute_bill(Currency::COP, vec![line], TaxRegime::COLOMBIA_INC, 1_000, TipChoice::None).is_err());
        }
    }

    #[test]
    fn a_refund_gives_back_the_bills_tax_in_proportion() {
        // 500.000 COP at 8 % contain 37.037 of impuesto al consumo; refunding 50.000 of it gives back 3.704.
        assert_eq!(refund_tax(50_000, 500_000, 37_037), 3_704);
        assert_eq!(refund_tax(500_000, 500_000, 37_037), 37_037);
        assert_eq!(refund_tax(50_000, 500_000, 0), 0);
        assert_eq!(refund_tax(50_000, 0, 0), 0);
    }

    proptest! {
        #[test]
        fn a_refunds_tax_is_its_proportion_of_the_bills(
            subtotal in 1i64..1_000_000_000_000,
            tax_bp in 0i64..=10_000,
            part_bp in 0i64..=10_000,
        ) {
            let tax = subtotal * tax_bp / 10_000;
            let part = subtotal * part_bp / 10_000;
            let given_back = refund_tax(part, subtotal, tax);
            prop_assert!(given_back >= 0 && given_back <= tax && given_back <= part);
            // Within half a minor unit of the exact proportion: |given_back × subtotal − part × tax| ≤ subtotal ÷ 2.
            let error = (i128::from(given_back) * i128::from(subtotal) - i128::from(part) * i128::from(tax)).abs();
            prop_assert!(error * 2 <= i128::from(subtotal));
            // The whole bill refunded gives back all its tax.
            prop_assert_eq!(refund_tax(subtotal, subtotal, tax), tax);
        }
    }

    #[test]
    fn a_tip_suggested_on_dishes_is_ten_percent_of_those_dishes_before_tax() {
        // The reviewer's bill: an ajiaco (32.000, INC 8 % contained: 29.629,63 before tax) and five tax-exempt beers.
        // The guest paying only the soup is suggested 2.962, not a part of the bill's net (3.091).
        assert_eq!(
            suggested_tip_on_lines(cop(3_200_000), cop(0), 800, 1_000).unwrap(),
            cop(296_200)
        );
        // The beers' guest: 50.000 with no tax in it, 10 % is 5.000.
        assert_eq!(
            suggested_tip_on_lines(cop(0), cop(5_000_000), 800, 1_000).unwrap(),
            cop(500_000)
        );
        // Never above the cap, whatever suggestion is configured; nothing chosen, nothing suggested.
        assert_eq!(
            suggested_tip_on_lines(cop(0), cop(5_000_000), 800, 2_500).unwrap(),
            cop(500_000)
        );
        assert_eq!(
            suggested_tip_on_lines(cop(0), cop(0), 800, 1_000).unwrap(),
            cop(0)
        );
        assert_eq!(
            suggested_tip_on_lines(cop(100), Money::zero(Currency::USD), 800, 1_000),
            Err(MoneyError::CurrencyMismatch)
        );
    }

    proptest! {
        #[test]
        fn a_tip_suggested_on_dishes_is_the_most_whole_pesos_within_the_cap(
            taxed in 0i64..1_000_000_000_000,
            untaxed in 0i64..1_000_000_000_000,
            rate_bp in 0u32..=2_000,
            suggestion_bp in 0u32..=1_000,
        ) {
            let tip = suggested_tip_on_lines(cop(taxed), cop(untaxed), rate_bp, suggestion_bp).unwrap().amount;
            // tip ≤ suggestion × value before tax, exactly: tip × (10000 + rate) × 10000 ≤
            // (taxed × 10000 + untaxed × (10000 + rate)) × suggestion.
            let gross_per_net = 10_000 + i128::from(rate_bp);
            let bound = (i128::from(taxed) * 10_000 + i128::from(untaxed) * gross_per_net) * i128::from(suggestion_bp);
            prop_assert!(i128::from(tip) * gross_per_net * 10_000 <= bound);
            // … and one whole peso more would be over it.
            prop_assert!(i128::from(tip + 100) * gross_per_net * 10_000 > bound);
            prop_assert_eq!(tip % 100, 0);
        }
    }

    #[test]
    fn a_bill_shrinks_only_above_what_is_kept_for_it() {
        assert!(may_shrink_bill(500_000, 250_000, 0));
        assert!(may_shrink_bill(250_000, 250_000, 0));
        assert!(
            !may_shrink_bill(0, 250_000, 0),
            "paid half, then the order went away"
        );
        assert!(may_shrink_bill(0, 250_000, 250_000), "refunded first");
        assert!(!may_shrink_bill(100_000, 250_000, 100_000));
    }
}
