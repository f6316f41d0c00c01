"""What every provider's webhook parser produces: validated, normalized tracking events.

Plain Python (no ORM), so that a whole request is checked before anything is written.
"""

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone

# A request carries at most this many events (Mandrill batches up to 1000).
MAX_EVENTS = 1000
MAX_MESSAGE_ID = 255
MAX_EMAIL = 320
MAX_URL = 2048
MAX_DETAIL = 1000
# Timestamps outside these bounds (seconds since the epoch, 2000 to 2100) are malformed.
MIN_TS = 946684800
MAX_TS = 4102444800


class WebhookError(Exception):
    """A request the webhook refuses: `status` is the HTTP status, the message a short reason."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class WebhookEvent:
    event_type: str  # one of email.automation.event's types
    provider_event: str  # the provider's own name for it
    message_id: str  # the provider's message id, without angle brackets
    occurred_ms: int  # milliseconds since the epoch, UTC
    trace_ref: int | None = None  # the trace id the e-mail carried (custom header, metadata)
    email: str | None = None
    url: str | None = None
    detail: str | None = None

    @property
    def occurred_at(self):
        """Naive UTC datetime, to the second, as Odoo stores datetimes."""
        return datetime.fromtimestamp(self.occurred_ms // 1000, tz=timezone.utc).replace(tzinfo=None)

    def dedupe_key(self, provider_id):
        """Same provider, message, recipient, event type and time (and link, for clicks):
        the same event. The recipient counts: a message sent to several addresses has one
        event per address.

        The normalized type is used, so that Brevo's `opened` and `unique_opened` for the
        same open count once.
        """
        parts = [str(provider_id), self.message_id, (self.email or "").strip().lower(), self.event_type]
        parts.append(str(self.occurred_ms))
        if self.event_type == "click":
            parts.append(self.url or "")
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def normalize_message_id(value):
    """Providers quote message ids with or without angle brackets: compare them without."""
    return value.strip().removeprefix("<").removesuffix(">").strip()


TRACE_REF = re.compile(r"(?:^|[\s;,&|])trace=(\d{1,15})(?:$|[\s;,&|])")


def parse_trace_ref(value):
    """The trace id in a custom header value such as `trace=42`, else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value < 10**15 else None
    if not isinstance(value, str):
        return None
    if value.isdigit() and len(value) <= 15:
        return int(value) or None
    match = TRACE_REF.search(value)
    return int(match.group(1)) if match else None


def require_dict(value, what):
    if not isinstance(value, dict):
        raise WebhookError(f"{what} must be a JSON object")
    return value


def _check_text(value, what):
    if not isinstance(value, str):
        raise WebhookError(f"{what} must be a string")
    # PostgreSQL text cannot hold NUL: refuse it here rather than fail on insert.
    if "\x00" in value:
        raise WebhookError(f"{what} contains a NUL character")


def optional_str(data, key, max_length, what=None):
    value = data.get(key)
    if value is None:
        return None
    _check_text(value, what or key)
    return value[:max_length]


def required_message_id(data, key):
    value = data.get(key)
    _check_text(value, key)
    message_id = normalize_message_id(value)
    if not message_id or len(message_id) > MAX_MESSAGE_ID:
        raise WebhookError(f"{key} is empty or too long")
    return message_id


def timestamp_ms(value, key, scale=1000):
    """A JSON number of seconds (scale 1000) or milliseconds (scale 1), as milliseconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WebhookError(f"{key} must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise WebhookError(f"{key} must be a finite number")
    milliseconds = int(value * scale)
    if not MIN_TS * 1000 <= milliseconds <= MAX_TS * 1000:
        raise WebhookError(f"{key} is out of range")
    return milliseconds


def check_count(events):
    if len(events) > MAX_EVENTS:
        raise WebhookError(f"at most {MAX_EVENTS} events per request", status=413)
