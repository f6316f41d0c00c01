"""What every provider client shares: the outcome of a call, its classification, and one
keep-alive HTTP session per thread."""

import re
import threading
from dataclasses import dataclass

import requests

# How a provider answered one e-mail (or a connection test).
ACCEPTED = "accepted"  # the provider took the e-mail; it must never be sent again
TRANSIENT = "transient"  # 429, 5xx, time-outs, lost connections: try again later
PERMANENT = "permanent"  # the provider refuses this e-mail for good
AUTH = "auth"  # the credentials are refused: nothing this provider sends can succeed

# Failures without an answer from the provider.
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"
# The base URL's host may not receive the credentials (see hosts.py): nothing was sent.
HOST_NOT_ALLOWED = "host_not_allowed"
# An answer that is not the provider API's (a connection test reached some other server).
UNEXPECTED = "unexpected"

# Longest provider message kept on a trace: enough to understand, not a whole HTML page.
MAX_DETAIL = 500
# What a connection test may show of an answer: an account name read from its documented
# field, and an error code that looks like one ("unauthorized", "Invalid_Key").
MAX_ACCOUNT = 100
ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")

_local = threading.local()


@dataclass
class Outcome:
    kind: str
    message_id: str = ""
    detail: str = ""
    # Seconds the provider asks us to wait before the next call (Brevo's rate limit reset).
    retry_after: float = 0
    # Our own failures, without a provider message: TIMEOUT, UNREACHABLE, HOST_NOT_ALLOWED
    # or UNEXPECTED; the models word them in the user's language.
    error: str = ""
    # The HTTP status of the answer, when there was one.
    status: int = 0

    @property
    def accepted(self):
        return self.kind == ACCEPTED


@dataclass
class OutgoingEmail:
    """One e-mail as the engine hands it to a provider, whatever the provider's format."""

    trace_id: int
    idempotency_key: str
    sender_email: str
    sender_name: str
    to_email: str
    to_name: str
    subject: str
    html: str
    text: str
    reply_to: str = ""
    headers: dict = None
    tags: list = None
    track_opens: bool = True
    track_clicks: bool = True


def session():
    """A `requests.Session` per thread: it keeps connections alive across the e-mails of a
    batch and across batches (a TLS handshake per e-mail would cost more than the call).
    Sessions are not shared between threads, which `requests` does not promise to support."""
    if getattr(_local, "session", None) is None:
        _local.session = requests.Session()
    return _local.session


def classify_status(status_code):
    """The outcome kind of a failed HTTP answer, by status code alone."""
    if status_code == 401:
        return AUTH
    if status_code == 429 or status_code >= 500 or status_code in (408, 409):
        return TRANSIENT
    return PERMANENT


def error_code(value):
    """A provider's error code if `value` looks like one, else "" (never free text)."""
    return value if isinstance(value, str) and ERROR_CODE.fullmatch(value) else ""


def account_label(value):
    """An account name read from a provider's answer: one printable line, short."""
    if not isinstance(value, str):
        return ""
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())[:MAX_ACCOUNT]


class ProviderClient:
    """Base of the API clients: holds the endpoint, the key and the timeout, and never lets
    the key out in what it returns.

    `refused` (a reason of hosts.check_url) makes every call fail at once, without a
    request: the base URL's host may not receive the key.
    """

    def __init__(self, base_url, api_key, timeout, refused=None):
        self.base_url = (base_url or "").rstrip("/")
        self._api_key = api_key or ""
        self.timeout = timeout
        self.refused = refused

    def __repr__(self):
        # Never the key: a client may end up in a traceback or a log line.
        return f"<{type(self).__name__} {self.base_url}>"

    def send(self, email):
        """Send one `OutgoingEmail`; return its `Outcome`. Never raises for the provider's
        or the network's failures."""
        raise NotImplementedError

    def test_connection(self):
        """Check the endpoint and the credentials; return an `Outcome` that says only what
        was classified: on success the account name read from its documented field, on
        failure the status and the provider's error code. Never the body: the base URL may
        lead to a server that answers anything."""
        raise NotImplementedError

    def _test_failure(self, response, kind, code=None):
        return Outcome(kind, status=response.status_code, detail=self.redact(error_code(code)))

    def _unexpected(self, response):
        return Outcome(PERMANENT, status=response.status_code, error=UNEXPECTED)

    def _post(self, path, payload, headers=None):
        return self._request("POST", path, json=payload, headers=headers)

    def _request(self, method, path, **kwargs):
        """The HTTP answer, or an `Outcome` when the call did not get one."""
        if self.refused:
            return Outcome(TRANSIENT, error=HOST_NOT_ALLOWED)
        try:
            # Redirects are not followed: they would carry the key (a header or the body)
            # to a host nobody allowed.
            return session().request(
                method, self.base_url + path, timeout=self.timeout, allow_redirects=False, **kwargs
            )
        except requests.Timeout:
            return Outcome(TRANSIENT, error=TIMEOUT, detail=f"timeout after {self.timeout} s")
        except requests.ConnectionError as error:
            # The exception's text names the host, never the key (sent in a header or body).
            return Outcome(TRANSIENT, error=UNREACHABLE, detail=self.redact(type(error).__name__))
        except requests.RequestException as error:
            return Outcome(PERMANENT, error=UNREACHABLE, detail=self.redact(type(error).__name__))

    def redact(self, text):
        """`text` cut to a readable length, with the API key masked should it appear in it
        (a provider echoing the request, an exception quoting it)."""
        text = str(text or "")
        if self._api_key and len(self._api_key) >= 4:
            text = text.replace(self._api_key, "***")
        return text[:MAX_DETAIL]

    def _error_detail(self, response, code, message):
        status = f"HTTP {response.status_code}"
        parts = [status, code, message] if code else [status, message]
        return self.redact(": ".join(str(p) for p in parts if p))

    @staticmethod
    def _json(response):
        try:
            return response.json()
        except ValueError:
            return None
