#!/usr/bin/env python3
"""Seeds a fresh comanda server through its HTTP API for the schemathesis run, the way a new partner would:
signs up a partner and its owner, signs in, enrols TOTP (the code is computed here, RFC 6238), and creates a
venue, a table, a menu category with an item, and a guest order placed with the table token.

Usage: schemathesis_seed.py ORIGIN  →  prints `KEY=value` lines (ACCESS_TOKEN, VENUE_ID, TABLE_ID, TABLE_TOKEN,
CATEGORY_ID, ITEM_ID, ORDER_ID) for the shell to read. Standard library only.
"""

import base64
import hashlib
import hmac
import json
import secrets
import ssl
import struct
import sys
import time
import urllib.error
import urllib.request

ORIGIN = sys.argv[1].rstrip("/")
# The server's certificate is self-signed for loopback; nothing secret crosses this connection.
TLS = ssl._create_unverified_context()  # noqa: S323


def call(method, path, body=None, token=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(ORIGIN + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, context=TLS, timeout=30) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as error:
        sys.exit(f"seed: {method} {path} → {error.code}: {error.read().decode()}")
    return json.loads(text) if text else None


def totp(secret, at=None):
    """The current six-digit code for a base32 secret (SHA-1, 30-second steps), as an authenticator computes it."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = struct.pack(">Q", int((time.time() if at is None else at) // 30))
    digest = hmac.new(key, counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{number:06d}"


def main():
    email = f"owner-{secrets.token_hex(4)}@schemathesis.example"
    password = "correct horse battery staple " + secrets.token_hex(4)
    call(
        "POST",
        "/api/v1/signup",
        {
            "business_name": "Schemathesis Bistro",
            "country": "CO",
            "owner": {"name": "Ana Owner", "email": email, "password": password},
        },
    )
    signed_in = call("POST", "/api/v1/auth/login", {"email": email, "password": password})
    enrollment_token = signed_in.get("enrollment_token")
    if not enrollment_token:
        sys.exit(f"seed: expected an enrolment step after sign-in, got {sorted(signed_in)}")
    enrollment = call("POST", "/api/v1/auth/mfa/totp/enroll", token=enrollment_token)
    confirmed = call(
        "POST", "/api/v1/auth/mfa/totp/confirm", {"code": totp(enrollment["secret"])}, token=enrollment_token
    )
    access = confirmed["access_token"]

    venue = call(
        "POST",
        "/api/v1/venues",
        {
            "name": "Centro",
            "timezone": "America/Bogota",
            "address": "Calle 1 # 2-3, Bogotá",
            "currency": "COP",
            "tax": {"kind": "inc", "rate_bp": 800},
        },
        token=access,
    )
    table = call("POST", f"/api/v1/venues/{venue['id']}/tables", {"label": "Mesa 1", "seats": 4}, token=access)
    category = call(
        "POST",
        f"/api/v1/venues/{venue['id']}/menu/categories",
        {"name": {"es": "Platos", "en": "Dishes"}, "position": 0},
        token=access,
    )
    item = call(
        "POST",
        f"/api/v1/venues/{venue['id']}/menu/items",
        {
            "category_id": category["id"],
            "name": {"es": "Ajiaco", "en": "Ajiaco"},
            "price": {"amount": 2_800_000, "currency": "COP"},
        },
        token=access,
    )
    order = call(
        "POST",
        f"/api/v1/t/{table['token']}/orders",
        {"items": [{"item_id": item["id"], "quantity": 2}]},
        headers={"Idempotency-Key": secrets.token_hex(8)},
    )
    for key, value in {
        "ACCESS_TOKEN": access,
        "VENUE_ID": venue["id"],
        "TABLE_ID": table["id"],
        "TABLE_TOKEN": table["token"],
        "CATEGORY_ID": category["id"],
        "ITEM_ID": item["id"],
        "ORDER_ID": order["id"],
    }.items():
        print(f"{key}={value}")


if __name__ == "__main__":
    main()
