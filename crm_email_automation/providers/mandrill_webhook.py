"""Mailchimp Transactional (Mandrill) webhooks: signature and parsing (see PROVIDERS.md).

Mandrill posts a form with one field, `mandrill_events`, a JSON array of up to 1000
events, signed with the webhook's key over the URL configured at Mandrill and the fields.
"""

import base64
import hashlib
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

MAX_BODY = 10 * 1024 * 1024  # 10 MiB: a full batch of a thousand events fits

# Mandrill's event names -> email.automation.event types.
EVENT_TYPES = {
    "send": "sent",
    "deferral": "deferred",
    "hard_bounce": "hard_bounce",
    "soft_bounce": "soft_bounce",
    "open": "open",
    "click": "click",
    "spam": "spam",
    "unsub": "unsubscribe",
    "reject": "rejected",
}
# Where Mandrill puts the reason of a bounce or rejection, most precise first.
DETAIL_KEYS = ("bounce_description", "diag", "reject_reason")


def signature(key, url, fields):
    """base64(HMAC-SHA1(key, url + key and value of each POST field, sorted by key))."""
    signed = url + "".join(name + value for name, value in sorted(fields))
    digest = hmac.new(key.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def check_signature(given, key, url, fields):
    """Raise WebhookError (401 missing, 403 wrong) unless `given` signs `fields`; without a
    key every signature is wrong (the answer does not say the provider lacks one)."""
    if not given:
        raise WebhookError("signature required", status=401)
    if not key or not url or not hmac.compare_digest(given.strip().encode(), signature(key, url, fields).encode()):
        raise WebhookError("invalid signature", status=403)


def parse(fields):
    """The events of the POST `fields` (a list of (name, value)), validated."""
    names = [name for name, _value in fields]
    if len(names) != len(set(names)):
        raise WebhookError("repeated form field")
    value = dict(fields).get("mandrill_events")
    if value is None:
        raise WebhookError("mandrill_events is required")
    try:
        payload = json.loads(value)
    except (ValueError, RecursionError):
        raise WebhookError("mandrill_events is not valid JSON") from None
    if not isinstance(payload, list):
        raise WebhookError("mandrill_events must be a JSON array")
    check_count(payload)
    return [_parse_event(require_dict(item, "each event")) for item in payload]


def _parse_event(data):
    name = data.get("event")
    if not isinstance(name, str):
        raise WebhookError("event must be a string")
    if name not in EVENT_TYPES:
        raise WebhookError("unknown event")
    msg = require_dict(data.get("msg"), "msg")
    occurred_ms = timestamp_ms(data.get("ts"), "ts")
    metadata = msg.get("metadata")
    if metadata is not None and not isinstance(metadata, (dict, list)):
        raise WebhookError("msg.metadata must be an object")
    trace_value = metadata.get("trace") if isinstance(metadata, dict) else None
    detail = None
    for key in DETAIL_KEYS:
        detail = detail or optional_str(msg, key, MAX_DETAIL, what=f"msg.{key}")
    return WebhookEvent(
        event_type=EVENT_TYPES[name],
        provider_event=name,
        message_id=required_message_id(msg, "_id"),
        occurred_ms=occurred_ms,
        trace_ref=parse_trace_ref(trace_value),
        email=optional_str(msg, "email", MAX_EMAIL, what="msg.email"),
        url=optional_str(data, "url", MAX_URL),
        detail=detail,
    )
