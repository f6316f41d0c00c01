"""Brevo transactional webhooks: authentication and parsing (see PROVIDERS.md).

Brevo posts one JSON event per request, or an array of them when batching. It signs
nothing: the webhook carries a bearer token or HTTP basic credentials that we configured.
"""

import base64
import binascii
import hmac
import json

from .webhook_events import (
    MAX_DETAIL,
    MAX_EMAIL,
    MAX_URL,
    WebhookError,
    WebhookEvent,
    check_count,
    optional_str,
    parse_trace_ref,
    require_dict,
    required_message_id,
    timestamp_ms,
)

MAX_BODY = 1024 * 1024  # 1 MiB: a batch of a thousand events stays well below it

# Brevo's event names -> email.automation.event types.
EVENT_TYPES = {
    "request": "sent",
    "delivered": "delivered",
    "opened": "open",
    "unique_opened": "open",
    "proxy_open": "machine_open",
    "unique_proxy_open": "machine_open",
    "click": "click",
    "hard_bounce": "hard_bounce",
    "soft_bounce": "soft_bounce",
    "blocked": "blocked",
    "invalid_email": "invalid_email",
    "deferred": "deferred",
    "spam": "spam",
    "unsubscribed": "unsubscribe",
    "error": "error",
}


def _same(given, expected):
    """Constant-time comparison of two secrets (bytes: compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def check_auth(authorization, token=None, username=None, password=None):
    """Raise WebhookError (401 missing, 403 wrong) unless `authorization` (the
    Authorization header) carries the configured bearer token or basic credentials.

    A provider without credentials refuses every request as wrong credentials: the
    answer says nothing of how (or whether) a provider is configured."""
    basic_configured = bool(username and password)
    scheme, _sep, credentials = (authorization or "").strip().partition(" ")
    scheme = scheme.lower()
    credentials = credentials.strip()
    if not credentials or scheme not in ("bearer", "basic"):
        raise WebhookError("authentication required", status=401)
    if scheme == "bearer":
        if token and _same(credentials, token):
            return
        raise WebhookError("invalid credentials", status=403)
    try:
        user, _sep, secret = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, ValueError):
        raise WebhookError("invalid credentials", status=403) from None
    # Both compared, whatever the first gives, so that timing says nothing.
    if basic_configured and _same(user, username) & _same(secret, password):
        return
    raise WebhookError("invalid credentials", status=403)


def parse(body):
    """The events of a request body (bytes), validated; WebhookError if anything is wrong."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise WebhookError("malformed JSON") from None
    items = payload if isinstance(payload, list) else [payload]
    check_count(items)
    return [_parse_event(require_dict(item, "each event")) for item in items]


def _parse_event(data):
    name = data.get("event")
    if not isinstance(name, str):
        raise WebhookError("event must be a string")
    if name not in EVENT_TYPES:
        raise WebhookError("unknown event")
    if data.get("ts_epoch") is not None:
        occurred_ms = timestamp_ms(data["ts_epoch"], "ts_epoch", scale=1)
    elif data.get("ts_event") is not None:
        occurred_ms = timestamp_ms(data["ts_event"], "ts_event")
    elif data.get("ts") is not None:
        occurred_ms = timestamp_ms(data["ts"], "ts")
    else:
        raise WebhookError("ts_event or ts_epoch is required")
    custom = data.get("X-Mailin-custom")
    if custom is not None and not isinstance(custom, str):
        raise WebhookError("X-Mailin-custom must be a string")
    event_type = EVENT_TYPES[name]
    return WebhookEvent(
        event_type=event_type,
        provider_event=name,
        message_id=required_message_id(data, "message-id"),
        occurred_ms=occurred_ms,
        trace_ref=parse_trace_ref(custom),
        email=optional_str(data, "email", MAX_EMAIL),
        url=optional_str(data, "link", MAX_URL),
        detail=optional_str(data, "reason", MAX_DETAIL),
    )
