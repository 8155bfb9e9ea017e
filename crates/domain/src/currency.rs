use serde::{Deserialize, Serialize};

/// Currencies a venue may price in. Amounts are always integers of the currency's ISO 4217 minor unit (COP has two
/// decimal places in ISO 4217 and at Stripe, even though Colombian prices are quoted in whole pesos).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema, Default)]
pub enum Currency {
    #[default]
    COP,
    USD,
    EUR,
    MXN,
    PEN,
    CLP,
    BRL,
}

impl Currency {
    pub const ALL: [Currency; 7] = [
        Currency::COP,
        Currency::USD,
        Currency::EUR,
        Currency::MXN,
        Currency::PEN,
        Currency::CLP,
        Currency::BRL,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Currency::COP => "COP",
            Currency::USD => "USD",
            Currency::EUR => "EUR",
            Currency::MXN => "MXN",
            Currency::PEN => "PEN",
            Currency::CLP => "CLP",
            Currency::BRL => "BRL",
        }
    }

    /// Digits after the decimal point in ISO 4217.
    pub fn minor_unit_digits(self) -> u8 {
        match self {
            Currency::CLP => 0,
            _ => 2,
        }
    }

    /// The smallest amount people pay in, in minor units: a whole peso (100) for COP — Colombian prices, cash and
    /// card slips are in whole pesos, centavos are out of circulation (the Banco de la República's smallest coin is
    /// 50 pesos) — and the minor unit (1) for the others. An equal share of a bill and the suggested tip are
    /// rounded to it, so a guest splitting evenly is not asked for "$ 75.333,33" (a fraction of one dish, and what
    /// is left after such fractions, still may carry centavos).
    pub fn payable_unit(self) -> i64 {
        match self {
            Currency::COP => 100,
            _ => 1,
        }
    }

    /// Whether a price of `amount` minor units can be paid as written: a multiple of [`Self::payable_unit`]. A menu
    /// price or a deposit in centavos would put an amount on the bill no guest can hand over in cash.
    pub fn is_payable(self, amount: i64) -> bool {
        amount % self.payable_unit() == 0
    }

    /// Why a price is refused when it is not [`Self::is_payable`], for the field's 422.
    pub fn unpayable_reason(self) -> String {
        format!(
            "must be a multiple of {} minor units: {} prices are in whole pesos (centavos are out of circulation)",
            self.payable_unit(),
            self.code()
        )
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cop_prices_are_whole_pesos_and_other_currencies_any_minor_unit() {
        assert!(Currency::COP.is_payable(1_890_000) && Currency::COP.is_payable(0));
        assert!(!Currency::COP.is_payable(1_890_050) && !Currency::COP.is_payable(1));
        assert!(Currency::USD.is_payable(1_999));
    }

    #[test]
    fn codes_round_trip_and_cop_has_two_minor_digits() {
        for currency in Currency::ALL {
            assert_eq!(Currency::from_code(currency.code()), Some(currency));
        }
        assert_eq!(Currency::COP.minor_unit_digits(), 2);
        assert_eq!(Currency::from_code("XXX"), None);
    }
}
