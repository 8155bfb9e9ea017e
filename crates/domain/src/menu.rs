//! Menus in Spanish and English, and the server-side pricing of what a guest orders: the client never sends a
//! price, only items, quantities, modifier choices and notes, which are checked here.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::bill::BillLine;
use crate::money::Money;
use crate::validation::{ValidationErrors, clean_text};

pub const MAX_QUANTITY: u32 = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 200
    )]
    pub es: String,
    #[serde(default)]
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 200
    )]
    pub en: String,
}

/// The document's shape of a [`Localized`] name: as a description, but the Spanish text must not be blank.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct LocalizedName {
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200D\u2028-\u202F\u205F-\u2069\u3000\uFEFF][^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 200
    )]
    pub es: String,
    #[serde(default)]
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 200
    )]
    pub en: String,
}

/// A `PATCH` of a [`Localized`] text: a language left out keeps its current text (an edit of the Spanish name
/// blanked the English one).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalizedPatch {
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 200
    )]
    pub es: Option<String>,
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 200
    )]
    pub en: Option<String>,
}

/// The document's shape of a [`LocalizedPatch`] of a name: the Spanish text, when sent, must not be blank.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct LocalizedNamePatch {
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200D\u2028-\u202F\u205F-\u2069\u3000\uFEFF][^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 200
    )]
    pub es: Option<String>,
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 200
    )]
    pub en: Option<String>,
}

impl LocalizedPatch {
    /// The languages sent, cleaned (`clean_text`); a Spanish text sent must not be blank when `required`.
    pub fn parse(&self, errors: &mut ValidationErrors, field: &str, required: bool) -> LocalizedPatch {
        LocalizedPatch {
            es: self
                .es
                .as_ref()
                .map(|es| clean_text(errors, &format!("{field}.es"), es, usize::from(required), 200)),
            en: self
                .en
                .as_ref()
                .map(|en| clean_text(errors, &format!("{field}.en"), en, 0, 200)),
        }
    }

    /// `current` with the languages this patch sends replaced.
    pub fn over(&self, current: &Localized) -> Localized {
        Localized {
            es: self.es.clone().unwrap_or_else(|| current.es.clone()),
            en: self.en.clone().unwrap_or_else(|| current.en.clone()),
        }
    }
}

impl Localized {
    /// The English text when `english` and one was written (it is optional), else the Spanish one.
    pub fn text(&self, english: bool) -> &str {
        if english && !self.en.trim().is_empty() {
            &self.en
        } else {
            &self.es
        }
    }

    pub fn parse(errors: &mut ValidationErrors, field: &str, raw: &Localized, required: bool) -> Localized {
        let min = usize::from(required);
        Localized {
            es: clean_text(errors, &format!("{field}.es"), &raw.es, min, 200),
            en: clean_text(errors, &format!("{field}.en"), &raw.en, 0, 200),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifierOption {
    #[schema(value_type = LocalizedName)]
    pub name: Localized,
    /// Added to the item's price, in minor units (never negative; whole pesos in COP, 422 otherwise).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10_000_000_000_i64)]
    pub price_delta: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifierGroup {
    #[schema(value_type = LocalizedName)]
    pub name: Localized,
    #[schema(min_items = 1, max_items = 30)]
    pub options: Vec<ModifierOption>,
    /// At least this many options must be chosen (at most `max`, and at most the options there are: a request
    /// that breaks that is refused with 422).
    #[serde(default)]
    #[schema(maximum = 255)]
    pub min: u8,
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 255)]
    pub max: u8,
}

fn one() -> u8 {
    1
}

/// Validates modifier groups as staff define them. What the document's schema says (names, 1–30 options, prices)
/// is refused in the result; how the fields of a group agree with each other (`min` ≤ `max`, `min` ≤ the options)
/// and a price delta the item's `currency` cannot be paid in (centavos in COP, [`Currency::is_payable`]) are
/// pushed to `rules`, which the server answers with 422.
pub fn check_modifiers(
    groups: &[ModifierGroup],
    currency: crate::Currency,
    rules: &mut ValidationErrors,
) -> Result<Vec<ModifierGroup>, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut clean = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        let field = format!("modifiers[{g}]");
        let name = Localized::parse(&mut errors, &format!("{field}.name"), &group.name, true);
        if group.options.is_empty() || group.options.len() > 30 {
            errors.push(format!("{field}.options"), "must have between 1 and 30 options");
        }
        if group.max == 0 {
            errors.push(format!("{field}.max"), "must be between 1 and 255");
        } else if group.min > group.max {
            rules.push(format!("{field}.min"), "must not exceed max");
        } else if usize::from(group.min) > group.options.len() {
            // A max above the options is let be: a guest then chooses at most all of them.
            rules.push(format!("{field}.min"), "must not exceed the number of options");
        }
        let options = group
            .options
            .iter()
            .enumerate()
            .map(|(o, option)| {
                if !(0..=10_000_000_000).contains(&option.price_delta) {
                    errors.push(
                        format!("{field}.options[{o}].price_delta"),
                        "must be between 0 and 100.000.000,00",
                    );
                } else if !currency.is_payable(option.price_delta) {
                    rules.push(
                        format!("{field}.options[{o}].price_delta"),
                        currency.unpayable_reason(),
                    );
                }
                ModifierOption {
                    name: Localized::parse(
                        &mut errors,
                        &format!("{field}.options[{o}].name"),
                        &option.name,
                        true,
                    ),
                    price_delta: option.price_delta,
                }
            })
            .collect();
        clean.push(ModifierGroup {
            name,
            options,
            min: group.min,
            max: group.max,
        });
    }
    errors.into_result(clean)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuItem {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub category_id: Uuid,
    pub name: Localized,
    pub description: Localized,
    pub price: Money,
    pub taxed: bool,
    pub available: bool,
    pub modifiers: Vec<ModifierGroup>,
}

impl MenuItem {
    /// What a guest's order of this dish depends on, as 16 hex digits: its price, tax and option groups (names,
    /// prices, limits, order). A guest's line names options by position, so it carries the version its menu showed
    /// and is refused when the dish changed since (FNV-1a, 64 bits: a change detector, not a secret).
    pub fn version(&self) -> String {
        let mut text = format!(
            "{}|{}|{}",
            self.price.amount,
            self.price.currency.code(),
            self.taxed
        );
        for group in &self.modifiers {
            text.push_str(&format!(
                "|g{}:{}:{}:{}",
                group.min, group.max, group.name.es, group.name.en
            ));
            for option in &group.options {
                text.push_str(&format!(
                    "|o{}:{}:{}",
                    option.price_delta, option.name.es, option.name.en
                ));
            }
        }
        let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        format!("{hash:016x}")
    }
}

/// One line as the guest asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestedLine {
    pub item_id: String,
    #[schema(minimum = 1, maximum = 50)]
    pub quantity: u32,
    /// For each chosen option: `[group index, option index]`.
    #[serde(default)]
    #[schema(schema_with = option_pairs)]
    pub modifiers: Vec<[usize; 2]>,
    #[serde(default)]
    #[schema(
        pattern = r"^[^\x00-\x09\x0B-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069]*$",
        max_length = 300
    )]
    pub note: Option<String>,
    /// The dish's `version` as the guest's menu showed it. When the venue changed the dish since (its price or its
    /// options, which `modifiers` names by position), the line is refused naming `items[i].version` (422) rather
    /// than priced with other options than the guest saw. Optional: without it the dish is taken as it is now.
    #[serde(default)]
    #[schema(pattern = "^[0-9a-f]{16}$")]
    pub version: Option<String>,
}

/// `[group index, option index]` pairs: arrays of exactly two non-negative integers.
fn option_pairs() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let index = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(u32::MAX));
    ArrayBuilder::new()
        .items(
            ArrayBuilder::new()
                .items(index)
                .min_items(Some(2))
                .max_items(Some(2)),
        )
        .description(Some("For each chosen option: `[group index, option index]`."))
        .build()
}

/// A line priced by the server: what the kitchen sees and the bill adds up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PricedLine {
    pub item_id: Uuid,
    pub name: Localized,
    pub quantity: u32,
    /// The chosen options' names, in group order.
    pub modifiers: Vec<Localized>,
    pub note: Option<String>,
    pub unit_price: Money,
    pub taxed: bool,
}

impl PricedLine {
    /// The bill's line, described in Spanish (receipts, dispute evidence).
    pub fn bill_line(&self) -> BillLine {
        self.bill_line_in(false)
    }

    /// The bill's line described in the guest's language ("Ajiaco + Aguacate"); a name with no English text stays
    /// Spanish.
    pub fn bill_line_in(&self, english: bool) -> BillLine {
        let mut description = self.name.text(english).to_owned();
        for modifier in &self.modifiers {
            description.push_str(" + ");
            description.push_str(modifier.text(english));
        }
        BillLine {
            description,
            quantity: self.quantity,
            unit_price: self.unit_price,
            taxed: self.taxed,
        }
    }
}

/// Prices every requested line against the menu, naming the field of every refusal (`items[1].quantity`).
pub fn price_order(
    menu: &[MenuItem],
    requested: &[RequestedLine],
) -> Result<Vec<PricedLine>, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    if requested.is_empty() || requested.len() > 100 {
        errors.push("items", "must have between 1 and 100 lines");
    }
    let mut priced = Vec::new();
    for (i, line) in requested.iter().enumerate() {
        let field = format!("items[{i}]");
        let item = line
            .item_id
            .parse::<Uuid>()
            .ok()
            .and_then(|id| menu.iter().find(|item| item.id == id));
        let Some(item) = item else {
            errors.push(format!("{field}.item_id"), "is not on this menu");
            continue;
        };
        if !item.available {
            errors.push(format!("{field}.item_id"), "is sold out");
        }
        if line.version.as_ref().is_some_and(|seen| *seen != item.version()) {
            errors.push(
                format!("{field}.version"),
                "the dish changed since the menu was loaded (its price or options): choose it again",
            );
        }
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            errors.push(
                format!("{field}.quantity"),
                format!("must be between 1 and {MAX_QUANTITY}"),
            );
        }
        let note = line
            .note
            .as_deref()
            .map(|n| clean_text(&mut errors, &format!("{field}.note"), n, 0, 300));
        let mut unit = item.price;
        let mut chosen = Vec::new();
        let mut per_group = vec![0u8; item.modifiers.len()];
        for [group, option] in &line.modifiers {
            match item.modifiers.get(*group).and_then(|g| g.options.get(*option)) {
                Some(choice) if !chosen.contains(&(*group, *option)) => {
                    per_group[*group] = per_group[*group].saturating_add(1);
                    chosen.push((*group, *option));
                    match Money::new(choice.price_delta, unit.currency)
                        .and_then(|delta| unit.checked_add(delta))
                    {
                        Ok(sum) => unit = sum,
                        Err(_) => errors.push(format!("{field}.modifiers"), "price out of range"),
                    }
                }
                _ => errors.push(
                    format!("{field}.modifiers"),
                    "names an option this item does not have (or twice)",
                ),
            }
        }
        for (g, group) in item.modifiers.iter().enumerate() {
            if per_group[g] < group.min || per_group[g] > group.max {
                errors.push(
                    format!("{field}.modifiers"),
                    format!(
                        "choose between {} and {} of “{}”",
                        group.min, group.max, group.name.es
                    ),
                );
            }
        }
        chosen.sort_unstable();
        priced.push(PricedLine {
            item_id: item.id,
            name: item.name.clone(),
            quantity: line.quantity,
            modifiers: chosen
                .iter()
                .map(|(g, o)| item.modifiers[*g].options[*o].name.clone())
                .collect(),
            note: note.filter(|n| !n.is_empty()),
            unit_price: unit,
            taxed: item.taxed,
        });
    }
    errors.into_result(priced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    fn text(es: &str) -> Localized {
        Localized {
            es: es.into(),
            en: es.into(),
        }
    }

    fn arepa() -> MenuItem {
        MenuItem {
            id: Uuid::now_v7(),
            venue_id: Uuid::now_v7(),
            category_id: Uuid::now_v7(),
            name: text("Arepa"),
            description: text(""),
            price: Money::new(1_200_000, Currency::COP).unwrap(),
            taxed: true,
            available: true,
            modifiers: vec![ModifierGroup {
                name: text("Relleno"),
                options: vec![
                    ModifierOption {
                        name: text("Queso"),
                        price_delta: 0,
                    },
                    ModifierOption {
                        name: text("Carne"),
                        price_delta: 400_000,
                    },
                ],
                min: 1,
                max: 1,
            }],
        }
    }

    #[test]
    fn a_bill_line_is_described_in_the_guests_language_falling_back_to_spanish() {
        let line = PricedLine {
            item_id: Uuid::now_v7(),
            name: Localized {
                es: "Ajiaco".into(),
                en: "Chicken soup".into(),
            },
            quantity: 1,
            modifiers: vec![
                Localized {
                    es: "Aguacate".into(),
                    en: "Avocado".into(),
                },
                Localized {
                    es: "Alcaparras".into(),
                    en: " ".into(),
                },
            ],
            note: None,
            unit_price: Money::new(2_450_000, Currency::COP).unwrap(),
            taxed: true,
        };
        assert_eq!(line.bill_line().description, "Ajiaco + Aguacate + Alcaparras");
        assert_eq!(
            line.bill_line_in(true).description,
            "Chicken soup + Avocado + Alcaparras"
        );
    }

    #[test]
    fn prices_come_from_the_menu_with_modifiers() {
        let menu = vec![arepa()];
        let request = RequestedLine {
            item_id: menu[0].id.to_string(),
            quantity: 2,
            modifiers: vec![[0, 1]],
            note: Some(" sin sal ".into()),
            version: None,
        };
        let priced = price_order(&menu, &[request]).unwrap();
        assert_eq!(priced[0].unit_price.amount, 1_600_000);
        assert_eq!(priced[0].modifiers, vec![text("Carne")]);
        assert_eq!(priced[0].note.as_deref(), Some("sin sal"));
    }

    #[test]
    fn a_dish_changed_since_the_menu_was_loaded_is_refused_not_reinterpreted() {
        // The guest chose "Carne" (option 1) from the menu they loaded; the venue then swapped the two options, so
        // position 1 is now "Queso". The line carrying the old version is refused; the current one is priced.
        let shown = arepa();
        let mut changed = shown.clone();
        changed.modifiers[0].options.swap(0, 1);
        assert_ne!(shown.version(), changed.version());
        assert_eq!(
            shown.version(),
            arepa().version(),
            "the same dish, the same version"
        );
        let line = |version: String| RequestedLine {
            item_id: shown.id.to_string(),
            quantity: 1,
            modifiers: vec![[0, 1]],
            note: None,
            version: Some(version),
        };
        let refused = price_order(std::slice::from_ref(&changed), &[line(shown.version())]).unwrap_err();
        assert_eq!(refused.0[0].field, "items[0].version");
        let priced = price_order(std::slice::from_ref(&changed), &[line(changed.version())]).unwrap();
        assert_eq!(priced[0].modifiers, vec![text("Queso")]);
    }

    #[test]
    fn a_groups_bounds_refused_name_the_field_at_fault() {
        let group = |min: u8, max: u8, options: usize| ModifierGroup {
            name: text("Salsas"),
            options: (0..options)
                .map(|_| ModifierOption {
                    name: text("Ají"),
                    price_delta: 0,
                })
                .collect(),
            min,
            max,
        };
        let fields = |g: ModifierGroup| {
            let mut rules = ValidationErrors::default();
            check_modifiers(&[g], crate::Currency::COP, &mut rules).unwrap();
            rules.0.into_iter().map(|e| e.field).collect::<Vec<_>>()
        };
        assert_eq!(fields(group(3, 2, 4)), ["modifiers[0].min"]);
        assert_eq!(fields(group(2, 2, 1)), ["modifiers[0].min"]);
        assert!(
            fields(group(0, 5, 1)).is_empty(),
            "up to five of one option: at most that one"
        );
    }

    #[test]
    fn bad_lines_name_their_fields() {
        let mut sold_out = arepa();
        sold_out.available = false;
        let menu = vec![arepa(), sold_out.clone()];
        let requests = [
            RequestedLine {
                item_id: menu[0].id.to_string(),
                quantity: 51,
                modifiers: vec![[0, 0]],
                note: None,
                version: None,
            },
            RequestedLine {
                item_id: sold_out.id.to_string(),
                quantity: 1,
                modifiers: vec![[0, 0]],
                note: None,
                version: None,
            },
            RequestedLine {
                item_id: menu[0].id.to_string(),
                quantity: 1,
                modifiers: vec![],
                note: None,
                version: None,
            },
            RequestedLine {
                item_id: "nope".into(),
                quantity: 1,
                modifiers: vec![],
                note: None,
                version: None,
            },
            RequestedLine {
                item_id: menu[0].id.to_string(),
                quantity: 1,
                modifiers: vec![[0, 7]],
                note: None,
                version: None,
            },
        ];
        let errors = price_order(&menu, &requests).unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"items[0].quantity"));
        assert!(fields.contains(&"items[1].item_id"));
        assert!(fields.contains(&"items[2].modifiers"));
        assert!(fields.contains(&"items[3].item_id"));
        assert!(fields.contains(&"items[4].modifiers"));
    }
}
