"""schemathesis hooks for scripts/schemathesis.sh.

`application/csp-report` is JSON (a browser's CSP violation report, `{"csp-report": {...}}`) under its own media
type; schemathesis only serialises the media types it knows, so this tells it to send that one as JSON, the way a
browser does. (An alias of the built-in JSON serializer: a function registered with `@schemathesis.serializer` must
return the body's bytes, and one returning the JSON serializer's `{"json": value}` had the body sent form-encoded.)

CPython 3.11 keeps the recursion depth of its AST constructor in state shared by all threads (gh-106905, fixed in
3.12): two threads in `ast.parse` at once corrupt it and one fails with "AST constructor recursion depth mismatch".
Hypothesis parses source files with `ast.parse` to describe lambdas, and schemathesis runs two worker threads here,
so on the 3.11 interpreters Debian and pyenv provide a run could end in that runtime error. `ast.parse` is made to
take one lock: the threads parse one at a time, which is all the fix in 3.12 amounts to.
"""

import ast
import sys
import threading

import schemathesis

if sys.version_info < (3, 12):
    _parse = ast.parse
    _parse_lock = threading.Lock()

    def _serialised_parse(*args, **kwargs):
        with _parse_lock:
            return _parse(*args, **kwargs)

    ast.parse = _serialised_parse


schemathesis.serializer.alias("application/csp-report", "application/json")


# Card data is refused wherever it stands (PAY-1: `400 card-data-refused`, declared by every route that takes input).
# The fuzzer, generating "schema-valid" values, now and then writes a number that is a card number by the scheme's
# own rules (13-19 digits, a card network's leading digit, Luhn), and then reports the refusal as a schema-valid
# request rejected (ST202). Such a failure is dropped (the summary counts it) only when this reference check, written
# apart from crates/security/src/pan.rs, finds a card-like number in what was really sent: a plain run of 13-19
# digits, or groups of 3-6 digits joined by single spaces or dashes, anywhere; in a JSON string or a query value,
# also digit groups joined by any marks, as a person types them. A refusal where it finds none still fails the run:
# that is the guard seeing a card that is not there (as when it once re-rendered a 24-digit integer as a float).
import json
import re
import unicodedata
from urllib.parse import parse_qsl, unquote, urlsplit

_CARD_REFUSED = "https://comanda.dev/problems/card-data-refused"
_MACHINE_HEADERS = {"traceparent", "stripe-signature"}


def _luhn(digits):
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card_like(digits):
    # ISO/IEC 7812 major industry identifiers 2-6 are the card networks (Mastercard and Mir, Amex, Diners and JCB,
    # Visa, Mastercard and Maestro, Discover, UnionPay and Maestro).
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and _luhn(digits)


def _chains_hold_card(chains):
    for groups in chains:
        for first in range(len(groups)):
            joined = ""
            for group in groups[first:]:
                joined += group
                if len(joined) > 19:
                    break
                if _card_like(joined):
                    return True
    return False


def _raw_holds_card(text):
    chains = [[run] for run in re.findall(r"(?<![0-9])[0-9]{13,19}(?![0-9])", text)]
    chains += [
        re.split(r"[ -]", written)
        for written in re.findall(r"(?<![0-9])[0-9]{3,6}(?:[ -][0-9]{3,6})+(?![0-9])", text)
    ]
    return _chains_hold_card(chains)


def _typed_holds_card(text):
    # Digits of any script, joined by anything but a letter.
    text = unicodedata.normalize("NFKC", text)
    chains, groups, group = [], [], ""
    for char in text + "a":
        if unicodedata.decimal(char, None) is not None:
            group += str(unicodedata.decimal(char))
            continue
        if group:
            groups.append(group)
            group = ""
        if char.isalpha():
            chains.append(groups)
            groups = []
    return _chains_hold_card(chains)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)


def _sent_a_card(request):
    url = urlsplit(request.url or "")
    body = request.body or b""
    body = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    headers = [value for name, value in request.headers.items() if name.lower() not in _MACHINE_HEADERS]
    if any(_raw_holds_card(text) for text in [unquote(url.path), unquote(url.query), body, *headers]):
        return True
    typed = [value for _, value in parse_qsl(url.query, keep_blank_values=True)]
    try:
        typed += list(_strings(json.loads(body)))
    except ValueError:
        pass
    return any(_raw_holds_card(text) or _typed_holds_card(text) for text in typed)


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if getattr(failure, "code", None) != "ST202" or response.status_code != 400:
        return True
    try:
        refused = json.loads(response.content).get("type") == _CARD_REFUSED
    except (ValueError, AttributeError):
        return True
    return not (refused and _sent_a_card(response.request))
