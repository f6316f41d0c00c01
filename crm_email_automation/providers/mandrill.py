"""Mailchimp Transactional (Mandrill) API 1.0:
https://mailchimp.com/developer/transactional/api/messages/send-new-message/"""

from .common import ACCEPTED, AUTH, PERMANENT, TRANSIENT, Outcome, ProviderClient

# The documented paths (the older ".json" suffixed forms answer the same).
SEND_PATH = "/messages/send"
PING_PATH = "/users/ping2"
PONG = "PONG!"  # what ping2 answers, in its "PING" field
ACCEPTED_STATUSES = ("sent", "queued", "scheduled")
# Error names that say the key is wrong: no e-mail of this provider can succeed.
AUTH_ERRORS = ("Invalid_Key",)
# Mandrill's own failures, not the request's: worth another try.
TRANSIENT_ERRORS = ("GeneralError",)


class MandrillClient(ProviderClient):
    def send(self, email):
        response = self._post(SEND_PATH, {"key": self._api_key, "message": self._message(email)})
        if isinstance(response, Outcome):
            return response
        body = self._json(response)
        if 200 <= response.status_code < 300 and isinstance(body, list):
            # One entry per recipient; we always send to one.
            entry = next((e for e in body if isinstance(e, dict)), {})
            status = entry.get("status")
            if status in ACCEPTED_STATUSES:
                return Outcome(ACCEPTED, message_id=str(entry.get("_id") or ""))
            reason = entry.get("reject_reason") or ""
            return Outcome(PERMANENT, detail=self.redact(f"{status or 'unknown status'}: {reason}".rstrip(": ")))
        return self._failure(response, body)

    def test_connection(self):
        response = self._post(PING_PATH, {"key": self._api_key})
        if isinstance(response, Outcome):
            return response
        body = self._json(response)
        if 200 <= response.status_code < 300:
            if not (isinstance(body, dict) and body.get("PING") == PONG):
                return self._unexpected(response)
            return Outcome(ACCEPTED, status=response.status_code)
        code = body.get("name") if isinstance(body, dict) else None
        return self._test_failure(response, self._failure(response, body).kind, code)

    def _message(self, email):
        headers = dict(email.headers or {})
        if email.reply_to:
            # Mandrill has no reply-to field: the header is the documented way.
            headers["Reply-To"] = email.reply_to
        message = {
            "html": email.html,
            "text": email.text,
            "subject": email.subject,
            "from_email": email.sender_email,
            "from_name": email.sender_name,
            "to": [{"email": email.to_email, "name": email.to_name, "type": "to"}],
            "headers": headers,
            "track_opens": email.track_opens,
            "track_clicks": email.track_clicks,
            # Mandrill copies the metadata into every webhook event: the trace id comes back.
            "metadata": {"trace": str(email.trace_id)},
        }
        if email.tags:
            message["tags"] = list(email.tags)
        return message

    def _failure(self, response, body):
        """Mandrill answers its errors with HTTP 500 and a JSON body naming the error."""
        if isinstance(body, dict) and body.get("status") == "error":
            name = body.get("name") or ""
            detail = self._error_detail(response, name, body.get("message"))
            if name in AUTH_ERRORS:
                return Outcome(AUTH, detail=detail)
            if name in TRANSIENT_ERRORS:
                return Outcome(TRANSIENT, detail=detail)
            return Outcome(PERMANENT, detail=detail)
        # Mandrill's JSON error, else the status only: never a body of another kind.
        detail = self._error_detail(response, "", response.reason)
        if response.status_code == 429 or response.status_code >= 500:
            return Outcome(TRANSIENT, detail=detail)
        if response.status_code == 401:
            return Outcome(AUTH, detail=detail)
        return Outcome(PERMANENT, detail=detail)
