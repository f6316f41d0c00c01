"""Body size limits of the module's public routes, enforced before anything parses the body.

A route declares its limit with `**body_limit(size, answer)`; `ir.http._pre_dispatch` (see
models/ir_http.py) then reads at most size + 1 bytes of the body, chunked or not, before
Odoo parses the form or the controller reads the JSON, and answers a larger one with 413:
JSON for the machine routes, a page for the browser ones. Nothing is written.
"""

import json

import werkzeug.exceptions

from odoo.http import request

# The routing keys: Odoo's own `max_content_length` (werkzeug refuses a larger announced
# body on its side too) and how this module answers a body over it.
ANSWER_KEY = "email_automation_body_answer"
JSON = "json"
PAGE = "page"
# The event API answers problem details (RFC 9457).
PROBLEM = "problem"

# Browser forms (one-click unsubscribe, consent confirmation) are a few hundred bytes.
PAGE_LIMIT = 16 * 1024
READ_SIZE = 64 * 1024
TOO_LARGE = "request body too large"
MALFORMED = "malformed request body"


def body_limit(size, answer=JSON):
    """The route options that limit a route's body to `size` bytes."""
    return {"max_content_length": size, ANSWER_KEY: answer}


def enforce(routing):
    """Read the body of the current request up to the route's limit, before any parsing;
    a body over it ends the request with a 413 (werkzeug.exceptions.abort)."""
    answer = routing.get(ANSWER_KEY)
    if not answer:
        return
    limit = routing["max_content_length"]
    http_request = request.httprequest
    # Odoo's request proxies werkzeug's; its input stream is werkzeug's own.
    raw = http_request.get_data.__self__
    length = http_request.content_length
    if length is not None and length > limit:
        _refuse(answer)
    # A chunked body announces no length: read it, never more than limit + 1 bytes.
    stream = raw.stream
    data = bytearray()
    try:
        while len(data) <= limit:
            chunk = stream.read(min(READ_SIZE, limit + 1 - len(data)))
            if not chunk:
                break
            data += chunk
    except (OSError, ValueError):
        # A broken chunked encoding ("Invalid chunk header"): the client's fault, not a 500.
        _refuse(answer, status=400)
    if len(data) > limit:
        _refuse(answer)
    # What werkzeug keeps after get_data(): the form parser and get_data() read it from here.
    raw._cached_data = bytes(data)


def _refuse(answer, status=413):
    """End the request: 413 for a body over the limit, 400 for one that cannot be read."""
    if answer == PAGE:
        template = "page_request_too_large" if status == 413 else "page_invalid_link"
        values = {"company": request.env.company}
        html = request.env["ir.ui.view"]._render_template(f"crm_email_automation.{template}", values)
        response = request.make_response(
            html,
            headers=[("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
            status=status,
        )
    elif answer == PROBLEM:
        error = TOO_LARGE if status == 413 else MALFORMED
        response = request.make_response(
            json.dumps({"type": "about:blank", "title": error, "status": status}),
            headers=[("Content-Type", "application/problem+json"), ("Cache-Control", "no-store")],
            status=status,
        )
    else:
        error = TOO_LARGE if status == 413 else MALFORMED
        response = request.make_json_response({"error": error}, headers=[("Cache-Control", "no-store")], status=status)
    werkzeug.exceptions.abort(response)
