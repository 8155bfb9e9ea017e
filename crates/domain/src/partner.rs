use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::validation::{ValidationErrors, clean_text};
use crate::{Currency, PartnerId};

/// ISO 3166-1 alpha-2 codes currently assigned.
const ISO_3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO \
BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET \
FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS \
IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP \
MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO \
RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ \
UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// The document's schema of a country: one of the assigned ISO 3166-1 alpha-2 codes.
pub fn country_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(ISO_3166_ALPHA2.split_whitespace()))
        .description(Some("ISO 3166-1 alpha-2"))
        .build()
}

/// A country by its ISO 3166-1 alpha-2 code; it decides the partner's charge model and default currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Country([u8; 2]);

impl Country {
    pub const COLOMBIA: Country = Country(*b"CO");

    pub fn parse(code: &str) -> Option<Self> {
        let upper = code.trim().to_ascii_uppercase();
        let bytes: [u8; 2] = upper.as_bytes().try_into().ok()?;
        ISO_3166_ALPHA2
            .split_whitespace()
            .any(|known| known == upper)
            .then_some(Self(bytes))
    }

    pub fn code(&self) -> &str {
        // Built only from ASCII codes of the list above.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The currency a new venue in this country prices in unless told otherwise.
    pub fn default_currency(&self) -> Currency {
        match self.code() {
            "CO" => Currency::COP,
            "MX" => Currency::MXN,
            "PE" => Currency::PEN,
            "CL" => Currency::CLP,
            "BR" => Currency::BRL,
            "US" | "EC" | "SV" | "PA" => Currency::USD,
            _ => Currency::USD,
        }
    }
}

impl TryFrom<String> for Country {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| format!("`{value}` is not an ISO 3166-1 alpha-2 country code"))
    }
}

impl From<Country> for String {
    fn from(country: Country) -> Self {
        country.code().to_owned()
    }
}

/// A validated request to register a partner business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPartner {
    pub business_name: String,
    pub country: Country,
}

impl NewPartner {
    pub fn parse(business_name: &str, country: &str) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let business_name = clean_text(&mut errors, "business_name", business_name, 1, 200);
        let country = Country::parse(country);
        if country.is_none() {
            errors.push("country", "must be an ISO 3166-1 alpha-2 code such as CO");
        }
        match country {
            Some(country) => errors.into_result(Self {
                business_name,
                country,
            }),
            None => Err(errors),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    pub id: PartnerId,
    pub business_name: String,
    pub country: Country,
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_are_iso_codes() {
        assert_eq!(Country::parse("co"), Some(Country::COLOMBIA));
        assert_eq!(Country::parse("XX"), None);
        assert_eq!(Country::parse("COL"), None);
        assert_eq!(Country::COLOMBIA.default_currency(), Currency::COP);
    }

    #[test]
    fn new_partner_reports_every_bad_field() {
        let err = NewPartner::parse(" ", "Narnia").unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["business_name", "country"]);
        assert_eq!(
            NewPartner::parse(" La Cocina ", "CO").unwrap().business_name,
            "La Cocina"
        );
    }
}
