"""schemathesis hooks for scripts/schemathesis.sh.

`application/csp-report` is JSON (a browser's CSP violation report, `{"csp-report": {...}}`) under its own media
type; schemathesis only serialises the media types it knows, so this tells it to send that one as JSON, the way a
browser does.
"""

import schemathesis
from schemathesis.transport.requests import json_serializer


@schemathesis.serializer("application/csp-report")
def csp_report(ctx, value):
    return json_serializer(ctx, value)
