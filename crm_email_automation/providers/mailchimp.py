"""Mailchimp Marketing API 3.0 client: the audience (list) members the consent sync keeps in step.

Plain Python on `requests`: it speaks the protocol and classifies errors; the models decide
what to push. The API key is the HTTP basic password and never appears in an error message.
"""

import hashlib
import re
from urllib.parse import urlencode

import requests

# The key ends with its data center ("...-us6"): the API lives at that data center's host.
DATA_CENTER_RE = re.compile(r"-([a-z]+[0-9]+)$")
DEFAULT_TIMEOUT = 10
MEMBER_STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")


class MailchimpError(Exception):
    """A failed call. `kind` is `transient` (retry later), `permanent` (this request will never
    succeed as it is) or `auth` (the key or token is refused: every call will fail)."""

    def __init__(self, kind, message, status=None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status

    @property
    def is_transient(self):
        return self.kind == "transient"


def member_hash(email):
    """Mailchimp's member id: the md5 of the lower-cased address."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()  # noqa: S324  # Mailchimp's rule, not security


def data_center(api_key):
    match = DATA_CENTER_RE.search((api_key or "").strip())
    return match.group(1) if match else None


def default_base_url(api_key):
    """`https://<dc>.api.mailchimp.com/3.0` for a key ending in `-<dc>`, else None."""
    dc = data_center(api_key)
    return f"https://{dc}.api.mailchimp.com/3.0" if dc else None


class MailchimpClient:
    """One audience API session. `secret` is the API key or an OAuth2 access token."""

    def __init__(self, base_url, secret, timeout=DEFAULT_TIMEOUT, oauth=False):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        if oauth:
            self.session.headers["Authorization"] = f"Bearer {secret}"
        else:
            # Any user name: Mailchimp reads the password only.
            self.session.auth = ("odoo", secret)
        self.session.headers["Accept"] = "application/json"

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # ------------------------------------------------------------------
    # API calls
    # ------------------------------------------------------------------

    def ping(self):
        """Mailchimp's health check; raises MailchimpError when the key or the URL is wrong."""
        return self._request("GET", "/ping")

    def get_list(self, list_id):
        return self._request("GET", f"/lists/{list_id}", params={"fields": "id,name"})

    def upsert_member(self, list_id, email, status, merge_fields=None):
        """Create or update the member with this status (PUT is idempotent)."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown member status {status!r}")
        body = {"email_address": email, "status_if_new": status, "status": status}
        if merge_fields:
            body["merge_fields"] = merge_fields
        return self._request("PUT", f"/lists/{list_id}/members/{member_hash(email)}", json=body)

    def delete_member_permanently(self, list_id, email):
        """Erase the member and its history from the audience (GDPR erasure); Mailchimp will
        not let the address be added again by the API. True if deleted, False if unknown."""
        try:
            self._request("POST", f"/lists/{list_id}/members/{member_hash(email)}/actions/delete-permanent")
        except MailchimpError as error:
            if error.status == 404:
                return False
            raise
        return True

    # ------------------------------------------------------------------
    # Transport and error classification
    # ------------------------------------------------------------------

    def _request(self, method, path, **kwargs):
        try:
            response = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise MailchimpError("transient", "Mailchimp did not answer in time.") from None
        except requests.RequestException as error:
            # The exception text holds the URL, never the key (it travels in a header).
            raise MailchimpError("transient", f"Cannot reach Mailchimp: {type(error).__name__}.") from None
        if response.ok:
            try:
                return response.json() if response.content else {}
            except ValueError:
                return {}
        raise self._error(response)

    @staticmethod
    def _error(response):
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        # Mailchimp errors are RFC 7807 problem documents: `title` and a human `detail`.
        parts = [str(payload[key]) for key in ("title", "detail") if payload.get(key)]
        message = ": ".join(parts) or f"HTTP {status}"
        message = f"{message} (HTTP {status})" if parts else message
        if status == 401:
            kind = "auth"
        elif status == 429 or status >= 500 or status == 408:
            kind = "transient"
        else:
            kind = "permanent"
        return MailchimpError(kind, message[:500], status=status)


# ----------------------------------------------------------------------
# OAuth2 connection (Mailchimp's tokens do not expire)
# ----------------------------------------------------------------------

OAUTH_AUTHORIZE_URL = "https://login.mailchimp.com/oauth2/authorize"
OAUTH_TOKEN_URL = "https://login.mailchimp.com/oauth2/token"
OAUTH_METADATA_URL = "https://login.mailchimp.com/oauth2/metadata"


def oauth_authorize_url(authorize_url, client_id, redirect_uri, state):
    """Where to send the administrator's browser to grant access."""
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": state})
    return f"{authorize_url}?{query}"


def oauth_exchange_code(token_url, client_id, client_secret, redirect_uri, code, timeout=DEFAULT_TIMEOUT):
    """The access token for an authorization code."""
    payload = _oauth_call(
        "POST",
        token_url,
        timeout,
        data={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": redirect_uri,
            "code": code,
        },
    )
    token = payload.get("access_token")
    if not isinstance(token, str) or not token:
        raise MailchimpError("permanent", "Mailchimp returned no access token.")
    return token


def oauth_metadata(metadata_url, token, timeout=DEFAULT_TIMEOUT):
    """The account's data center (`dc`), API endpoint and name."""
    payload = _oauth_call("GET", metadata_url, timeout, headers={"Authorization": f"OAuth {token}"})
    if not isinstance(payload.get("dc"), str) or not DATA_CENTER_RE.search("-" + payload["dc"]):
        raise MailchimpError("permanent", "Mailchimp returned no data center.")
    return payload


def _oauth_call(method, url, timeout, **kwargs):
    try:
        response = requests.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout:
        raise MailchimpError("transient", "Mailchimp did not answer in time.") from None
    except requests.RequestException as error:
        raise MailchimpError("transient", f"Cannot reach Mailchimp: {type(error).__name__}.") from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        payload = {}
    if response.ok:
        return payload
    # OAuth errors (RFC 6749): `error` and `error_description`; never echo what was sent.
    message = str(payload.get("error_description") or payload.get("error") or f"HTTP {response.status_code}")
    kind = "transient" if response.status_code == 429 or response.status_code >= 500 else "permanent"
    raise MailchimpError(kind, message[:300], status=response.status_code)
