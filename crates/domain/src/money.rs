//! Money: an integer of the currency's minor units with its currency. Never a float; every operation is checked,
//! so an overflow is an error value, never a wrap or a panic.

use serde::{Deserialize, Serialize};

use crate::Currency;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// Minor units (COP: centavos; 18.900 COP is 1890000).
    pub amount: i64,
    pub currency: Currency,
}

/// A signed amount of minor units written in major units with the currency's minor digits and a decimal point, the
/// way a spreadsheet reads a number in any locale: `1890000` COP is `"18900.00"`, `-5` COP is `"-0.05"`, and a
/// currency without minor units has no point. For reports, whose sums may be negative (a day of refunds).
pub fn decimal_text(minor: i64, currency: Currency) -> String {
    let digits = u32::from(currency.minor_unit_digits());
    let sign = if minor < 0 { "-" } else { "" };
    let magnitude = minor.unsigned_abs();
    if digits == 0 {
        return format!("{sign}{magnitude}");
    }
    let factor = 10u64.pow(digits);
    let width = digits as usize;
    format!("{sign}{}.{:0width$}", magnitude / factor, magnitude % factor)
}

/// An amount as a person reads it in a message: major units grouped by thousands, the minor digits only when there
/// are any, and the ISO 4217 code — Spanish (Colombia) `40.000 COP` and `18.900,50 COP`, English `40,000 COP`.
/// (A mail that printed minor units read as a hundred times the amount.)
pub fn spoken_text(money: Money, spanish: bool) -> String {
    let (group, point) = if spanish { ('.', ',') } else { (',', '.') };
    let digits = u32::from(money.currency.minor_unit_digits());
    let factor = 10u64.pow(digits);
    let magnitude = money.amount.unsigned_abs();
    let whole = (magnitude / factor).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(group);
        }
        grouped.push(c);
    }
    let sign = if money.amount < 0 { "-" } else { "" };
    let minor = magnitude % factor;
    let width = digits as usize;
    match minor {
        0 => format!("{sign}{grouped} {}", money.currency.code()),
        _ => format!("{sign}{grouped}{point}{minor:0width$} {}", money.currency.code()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount out of range")]
    Overflow,
    #[error("currencies differ")]
    CurrencyMismatch,
    #[error("amount must not be negative")]
    Negative,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Result<Self, MoneyError> {
        if amount < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Self { amount, currency })
    }

    pub fn zero(currency: Currency) -> Self {
        Self { amount: 0, currency }
    }

    /// Whole major units (`Money::major(18_900, COP)` is 18.900 COP).
    pub fn major(units: i64, currency: Currency) -> Result<Self, MoneyError> {
        let factor = 10i64.pow(u32::from(currency.minor_unit_digits()));
        Self::new(units.checked_mul(factor).ok_or(MoneyError::Overflow)?, currency)
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch);
        }
        Ok(Money {
            amount: self
                .amount
                .checked_add(other.amount)
                .ok_or(MoneyError::Overflow)?,
            ..self
        })
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch);
        }
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Money::new(amount, self.currency)
    }

    pub fn checked_mul(self, quantity: u32) -> Result<Money, MoneyError> {
        Ok(Money {
            amount: self
                .amount
                .checked_mul(i64::from(quantity))
                .ok_or(MoneyError::Overflow)?,
            ..self
        })
    }

    /// `self × basis_points / 10000`, rounded half up to the minor unit.
    pub fn percent_bp(self, basis_points: u32) -> Result<Money, MoneyError> {
        let scaled = i128::from(self.amount) * i128::from(basis_points);
        let rounded = (scaled + 5_000) / 10_000;
        Ok(Money {
            amount: i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?,
            ..self
        })
    }

    pub fn sum(currency: Currency, items: impl IntoIterator<Item = Money>) -> Result<Money, MoneyError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), Money::checked_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_spoken_in_major_units_grouped_by_thousands() {
        let cop = |amount| Money {
            amount,
            currency: Currency::COP,
        };
        assert_eq!(spoken_text(cop(4_000_000), true), "40.000 COP");
        assert_eq!(spoken_text(cop(4_000_000), false), "40,000 COP");
        assert_eq!(spoken_text(cop(1_890_050), true), "18.900,50 COP");
        assert_eq!(spoken_text(cop(12_345_678_900), true), "123.456.789 COP");
        assert_eq!(spoken_text(cop(5), false), "0.05 COP");
        assert_eq!(spoken_text(cop(-100_000), true), "-1.000 COP");
    }

    #[test]
    fn reports_write_major_units_with_the_currency_digits() {
        assert_eq!(decimal_text(1_890_000, Currency::COP), "18900.00");
        assert_eq!(decimal_text(-5, Currency::COP), "-0.05");
        assert_eq!(decimal_text(0, Currency::COP), "0.00");
        assert_eq!(decimal_text(i64::MIN, Currency::COP), "-92233720368547758.08");
    }

    #[test]
    fn arithmetic_is_checked() {
        let cop = |n| Money::new(n, Currency::COP).unwrap();
        assert_eq!(cop(5).checked_add(cop(7)).unwrap(), cop(12));
        assert_eq!(cop(i64::MAX).checked_add(cop(1)), Err(MoneyError::Overflow));
        assert_eq!(cop(i64::MAX).checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(cop(5).checked_sub(cop(7)), Err(MoneyError::Negative));
        assert_eq!(
            cop(5).checked_add(Money::new(1, Currency::USD).unwrap()),
            Err(MoneyError::CurrencyMismatch)
        );
        assert_eq!(Money::new(-1, Currency::COP), Err(MoneyError::Negative));
        assert_eq!(Money::major(18_900, Currency::COP).unwrap().amount, 1_890_000);
    }

    #[test]
    fn percentages_round_half_up() {
        let cop = |n| Money::new(n, Currency::COP).unwrap();
        assert_eq!(cop(5_670_000).percent_bp(1_000).unwrap(), cop(567_000));
        assert_eq!(cop(5).percent_bp(1_000).unwrap(), cop(1)); // 0.5 → 1
        assert_eq!(cop(4).percent_bp(1_000).unwrap(), cop(0)); // 0.4 → 0
    }
}
