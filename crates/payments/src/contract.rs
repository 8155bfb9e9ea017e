//! The part of Stripe's API comanda uses, as Stripe's own definitions state it for the pinned version:
//! `stripe-contract.json`, written by `scripts/stripe-contract.py` from Stripe's published OpenAPI document, narrowed
//! by the official SDK generated for [`crate::stripe::API_VERSION`], with Stripe's example objects for that version.
//!
//! The stand-in refuses any parameter an operation does not have (as Stripe does, `parameter_unknown`), so every
//! test that drives the real client through it checks what the client sends; this module's tests check what the
//! client reads.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Contract {
    pub pinned_api_version: String,
    /// `"POST /v1/transfers"` → the parameters it accepts, in bracket notation (`metadata[*]` is any key,
    /// `name[…]` anything below `name`).
    pub operations: BTreeMap<String, BTreeSet<String>>,
    /// Spec schema name → field → its type and nullability.
    pub objects: BTreeMap<String, BTreeMap<String, FieldSpec>>,
    /// Stripe's example objects for the pinned version.
    #[serde(default)]
    pub fixtures: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct FieldSpec {
    #[serde(rename = "type")]
    pub kind: String,
    pub nullable: bool,
}

/// The contract, parsed once.
pub fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        serde_json::from_str(include_str!("../stripe-contract.json"))
            // The file is part of the source tree and checked by this module's tests.
            .unwrap_or_else(|e| panic!("stripe-contract.json: {e}"))
    })
}

/// `/v1/transfers/{id}/reversals` and `/v1/transfers/tr_123/reversals` both become `/v1/transfers/{}/reversals`.
fn template_of(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            let is_param = segment.starts_with('{') && segment.ends_with('}');
            if is_param { "{}" } else { segment }
        })
        .collect::<Vec<_>>()
        .join("/")
}

impl Contract {
    /// The parameters of `method` on a route template (`/v1/accounts/{id}`), if comanda's contract has it.
    pub fn operation(&self, method: &str, route: &str) -> Option<&BTreeSet<String>> {
        let wanted = format!("{} {}", method.to_ascii_uppercase(), template_of(route));
        self.operations
            .iter()
            .find(|(key, _)| {
                let (m, path) = key.split_once(' ').unwrap_or_default();
                format!("{m} {}", template_of(path)) == wanted
            })
            .map(|(_, params)| params)
    }

    /// The first parameter of `keys` the operation does not have.
    pub fn unknown_parameter<'a>(
        params: &BTreeSet<String>,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        keys.into_iter().find(|key| !accepts(params, key))
    }
}

fn accepts(params: &BTreeSet<String>, key: &str) -> bool {
    if params.contains(key) {
        return true;
    }
    // `enabled_events[0]` is `enabled_events[]`; `metadata[partner_id]` is `metadata[*]`.
    let mut general = String::new();
    for (i, part) in key.split('[').enumerate() {
        if i == 0 {
            general.push_str(part);
            continue;
        }
        let name = part.trim_end_matches(']');
        let below = format!("{general}[…]");
        if params.contains(&below) {
            return true;
        }
        let any = format!("{general}[*]");
        let array = format!("{general}[]");
        if name.chars().all(|c| c.is_ascii_digit()) && params.iter().any(|p| p.starts_with(&array)) {
            general = array;
        } else if params.iter().any(|p| p.starts_with(&any))
            && !params
                .iter()
                .any(|p| p.starts_with(&format!("{general}[{name}]")))
        {
            general = any;
        } else {
            general = format!("{general}[{name}]");
        }
    }
    params.contains(&general)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stripe::{
        Account, AccountLink, Balance, BalanceAmount, BalanceTransaction, Capabilities, Charge, Event,
        EventData, LastPaymentError, PaymentIntent, Payout, Refund, Transfer, TransferReversal,
        WebhookEndpoint,
    };
    use serde::de::{self, DeserializeOwned, Visitor};

    /// A deserializer that answers nothing but records the field names a type asks for (serde passes them to
    /// `deserialize_struct`), so the test reads the client's own types, renames included.
    struct FieldNames<'a>(&'a mut &'static [&'static str]);

    impl<'de> de::Deserializer<'de> for FieldNames<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("recorded"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }

    fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
        let mut fields: &'static [&'static str] = &[];
        let _ = T::deserialize(FieldNames(&mut fields));
        fields
    }

    /// Every type the client decodes, with the spec schema it reads and Stripe's example object for it.
    /// `(spec schema, fields the type reads, Stripe's example object, decoder)`.
    type Decoded = (
        &'static str,
        &'static [&'static str],
        Option<&'static str>,
        fn(serde_json::Value) -> Result<(), String>,
    );

    fn decoded() -> Vec<Decoded> {
        fn check<T: DeserializeOwned>(value: serde_json::Value) -> Result<(), String> {
            serde_json::from_value::<T>(value)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        vec![
            (
                "account",
                fields_of::<Account>(),
                Some("account"),
                check::<Account>,
            ),
            (
                "account_capabilities",
                fields_of::<Capabilities>(),
                None,
                check::<Capabilities>,
            ),
            (
                "account_link",
                fields_of::<AccountLink>(),
                Some("account_link"),
                check::<AccountLink>,
            ),
            (
                "payment_intent",
                fields_of::<PaymentIntent>(),
                Some("payment_intent"),
                check::<PaymentIntent>,
            ),
            (
                "api_errors",
                fields_of::<LastPaymentError>(),
                None,
                check::<LastPaymentError>,
            ),
            ("charge", fields_of::<Charge>(), Some("charge"), check::<Charge>),
            (
                "balance_transaction",
                fields_of::<BalanceTransaction>(),
                Some("balance_transaction"),
                check::<BalanceTransaction>,
            ),
            (
                "transfer",
                fields_of::<Transfer>(),
                Some("transfer"),
                check::<Transfer>,
            ),
            (
                "transfer_reversal",
                fields_of::<TransferReversal>(),
                Some("transfer_reversal"),
                check::<TransferReversal>,
            ),
            ("refund", fields_of::<Refund>(), Some("refund"), check::<Refund>),
            (
                "balance",
                fields_of::<Balance>(),
                Some("balance"),
                check::<Balance>,
            ),
            (
                "balance_amount",
                fields_of::<BalanceAmount>(),
                None,
                check::<BalanceAmount>,
            ),
            ("payout", fields_of::<Payout>(), Some("payout"), check::<Payout>),
            ("event", fields_of::<Event>(), Some("event"), check::<Event>),
            (
                "notification_event_data",
                fields_of::<EventData>(),
                None,
                check::<EventData>,
            ),
            (
                "webhook_endpoint",
                fields_of::<WebhookEndpoint>(),
                Some("webhook_endpoint"),
                check::<WebhookEndpoint>,
            ),
        ]
    }

    #[test]
    fn client_sends_and_reads_only_what_the_pinned_version_defines() {
        let contract = contract();
        assert_eq!(contract.pinned_api_version, crate::stripe::API_VERSION);
        for (schema, fields, fixture, decode) in decoded() {
            let spec = contract
                .objects
                .get(schema)
                .unwrap_or_else(|| panic!("{schema}: not in the contract"));
            assert!(!fields.is_empty(), "{schema}: no fields recorded");
            for field in fields {
                assert!(
                    spec.contains_key(*field),
                    "the client reads `{schema}.{field}`, which the pinned version does not define"
                );
            }
            let Some(fixture) = fixture else { continue };
            let example = contract
                .fixtures
                .get(fixture)
                .unwrap_or_else(|| panic!("no fixture {fixture}"));
            decode(example.clone())
                .unwrap_or_else(|e| panic!("Stripe's example {fixture} does not decode: {e}"));
            // Every field the spec marks nullable may arrive as null without breaking the decoding.
            for field in fields.iter().filter(|f| spec[**f].nullable) {
                let mut nulled = example.clone();
                nulled[*field] = serde_json::Value::Null;
                decode(nulled).unwrap_or_else(|e| {
                    panic!("`{schema}.{field}` is nullable at Stripe, the client fails on null: {e}")
                });
            }
        }
    }

    #[test]
    fn parameters_are_matched_in_stripes_bracket_notation() {
        let contract = contract();
        let create = contract.operation("post", "/v1/accounts").unwrap();
        for accepted in [
            "type",
            "country",
            "capabilities[transfers][requested]",
            "tos_acceptance[service_agreement]",
            "metadata[partner_id]",
        ] {
            assert!(accepts(create, accepted), "{accepted}");
        }
        assert!(!accepts(create, "capabilities[transfers][wanted]"));
        assert!(!accepts(create, "service_agreement"));
        let endpoint = contract.operation("POST", "/v1/webhook_endpoints").unwrap();
        assert!(accepts(endpoint, "enabled_events[]") && accepts(endpoint, "enabled_events[3]"));
        let reversal = contract
            .operation("post", "/v1/transfers/{transfer}/reversals")
            .unwrap();
        assert_eq!(
            Contract::unknown_parameter(reversal, ["amount", "currency"]),
            Some("currency")
        );
        assert!(
            contract
                .operation("post", "/v1/payment_intents/{id}/confirm")
                .is_none()
        );
    }
}
