use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::analytics::{DEFAULT_DAY_START_HOUR, MAX_DAY_START_HOUR};
use crate::validation::{ValidationErrors, clean_text};
use crate::{Currency, PartnerId, VenueId};

/// How a venue's menu prices carry tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaxKind {
    /// Colombia's impuesto nacional al consumo, included in the menu price (restaurants' usual regime).
    Inc,
    /// IVA, for venues registered under it.
    Iva,
}

impl TaxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaxKind::Inc => "inc",
            TaxKind::Iva => "iva",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "inc" => Some(TaxKind::Inc),
            "iva" => Some(TaxKind::Iva),
            _ => None,
        }
    }
}

/// A tax rate in basis points (800 = 8 %), never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxRegime {
    pub kind: TaxKind,
    #[schema(maximum = 10000)]
    pub rate_bp: u16,
}

impl TaxRegime {
    /// Impuesto nacional al consumo at 8 %, the default for Colombian restaurants.
    pub const COLOMBIA_INC: TaxRegime = TaxRegime {
        kind: TaxKind::Inc,
        rate_bp: 800,
    };
    pub const MAX_RATE_BP: u16 = 10_000;
}

impl Default for TaxRegime {
    fn default() -> Self {
        Self::COLOMBIA_INC
    }
}

/// A validated venue ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVenue {
    pub name: String,
    pub timezone: String,
    pub address: String,
    pub currency: Currency,
    pub tax: TaxRegime,
    /// The local hour its business day starts at (docs/analytics.md, "Business day").
    pub day_start_hour: u8,
}

impl NewVenue {
    /// A venue from its request's fields; `day_start_hour` defaults to [`DEFAULT_DAY_START_HOUR`] and is at most
    /// [`MAX_DAY_START_HOUR`]. Every refused field is named in the one error.
    pub fn parse(
        name: &str,
        timezone: &str,
        address: &str,
        currency: Option<&str>,
        tax: Option<TaxRegime>,
        day_start_hour: Option<u8>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = clean_text(&mut errors, "name", name, 1, 200);
        let address = clean_text(&mut errors, "address", address, 0, 500);
        let timezone = timezone.trim().to_owned();
        if !is_iana_zone(&timezone) {
            errors.push("timezone", "must be an IANA time zone such as America/Bogota");
        }
        let currency = match currency {
            None => Currency::default(),
            Some(code) => Currency::from_code(code).unwrap_or_else(|| {
                errors.push("currency", "is not a supported ISO 4217 currency code");
                Currency::default()
            }),
        };
        let tax = tax.unwrap_or_default();
        if tax.rate_bp > TaxRegime::MAX_RATE_BP {
            errors.push("tax.rate_bp", "must be between 0 and 10000 basis points");
        }
        let day_start_hour = day_start_hour.unwrap_or(DEFAULT_DAY_START_HOUR);
        if let Err(refused) = check_day_start_hour(day_start_hour) {
            errors.0.extend(refused.0);
        }
        errors.into_result(Self {
            name,
            timezone,
            address,
            currency,
            tax,
            day_start_hour,
        })
    }
}

/// A day-start hour a venue may choose: 0 (midnight) to [`MAX_DAY_START_HOUR`], or 422 naming `day_start_hour`.
pub fn check_day_start_hour(hour: u8) -> Result<u8, ValidationErrors> {
    if hour > MAX_DAY_START_HOUR {
        return Err(ValidationErrors::single(
            "day_start_hour",
            "must be an hour from 0 to 11: a business day still holds its own lunch",
        ));
    }
    Ok(hour)
}

/// IANA zone names are `Area/Location[/Sub]` or `UTC`; the zone database itself is consulted where local time is
/// computed, this only keeps garbage out of storage.
/// Written as an IANA zone name: `Area/Location` (or `Area/Region/Location`) or `UTC`; abbreviations such as
/// `EST5EDT` are legacy names the database keeps only for compatibility. Whether the database knows it is
/// [`is_known_zone`].
fn is_iana_zone(zone: &str) -> bool {
    if zone == "UTC" {
        return true;
    }
    let parts: Vec<&str> = zone.split('/').collect();
    (2..=3).contains(&parts.len())
        && zone.len() <= 64
        && parts.iter().all(|part| {
            !part.is_empty()
                && part.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        })
}

/// Whether the IANA tz database (the copy compiled in with jiff, so every machine agrees) has the zone: one it does
/// not know would leave the venue's business days, hours and slots uncomputable. A rule about the database's
/// contents, not the name's shape, so the edge answers it as a business rule (422), not as bad input.
pub fn is_known_zone(zone: &str) -> bool {
    jiff::tz::db().get(zone).is_ok()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Venue {
    pub id: VenueId,
    pub partner_id: PartnerId,
    pub name: String,
    pub timezone: String,
    pub address: String,
    pub currency: Currency,
    pub tax: TaxRegime,
    /// The local hour its business day starts at, 0 to [`MAX_DAY_START_HOUR`]: a sale before it counts on the day
    /// before (docs/analytics.md, "Business day").
    pub day_start_hour: u8,
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_cop_and_impuesto_al_consumo() {
        let venue = NewVenue::parse("El Patio", "America/Bogota", "Cra 7 # 12-34", None, None, None).unwrap();
        assert_eq!(venue.currency, Currency::COP);
        assert_eq!(
            venue.tax,
            TaxRegime {
                kind: TaxKind::Inc,
                rate_bp: 800
            }
        );
        assert_eq!(venue.day_start_hour, 5);
    }

    #[test]
    fn refuses_bad_zone_currency_and_rate_together() {
        let err = NewVenue::parse(
            "",
            "bogota",
            "",
            Some("XYZ"),
            Some(TaxRegime {
                kind: TaxKind::Iva,
                rate_bp: 10_001,
            }),
            Some(12),
        )
        .unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "timezone", "currency", "tax.rate_bp", "day_start_hour"]
        );
    }

    #[test]
    fn zones_of_the_tz_database() {
        for ok in [
            "UTC",
            "America/Bogota",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
        ] {
            assert!(is_iana_zone(ok), "{ok}");
        }
        for bad in [
            "",
            "Bogota",
            "america/bogota",
            "America//Bogota",
            "A/B/C/D",
            "America/Bo gota",
        ] {
            assert!(!is_iana_zone(bad), "{bad}");
        }
        assert!(is_known_zone("America/Bogota") && is_known_zone("UTC"));
        for unknown in ["Mars/Olympus", "America/Atlantis"] {
            assert!(is_iana_zone(unknown) && !is_known_zone(unknown), "{unknown}");
        }
    }
}
