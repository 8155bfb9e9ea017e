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
