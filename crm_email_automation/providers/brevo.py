"""Brevo transactional API v3: https://developers.brevo.com/reference/sendtransacemail"""

from .common import ACCEPTED, TRANSIENT, Outcome, ProviderClient, account_label, classify_status

SEND_PATH = "/smtp/email"
ACCOUNT_PATH = "/account"
# Seconds until Brevo's rate limit window resets, sent with its 429 answers.
RATE_LIMIT_RESET_HEADER = "x-sib-ratelimit-reset"


class BrevoClient(ProviderClient):
    def _headers(self):
        return {"api-key": self._api_key, "accept": "application/json", "content-type": "application/json"}

    def send(self, email):
        response = self._post(SEND_PATH, self._payload(email), headers=self._headers())
        if isinstance(response, Outcome):
            return response
        body = self._json(response)
        if 200 <= response.status_code < 300:
            message_id = body.get("messageId") if isinstance(body, dict) else None
            if not message_id:
                # Accepted all the same: the e-mail must not be sent again.
                return Outcome(ACCEPTED, detail="Brevo accepted the e-mail without a message id.")
            return Outcome(ACCEPTED, message_id=message_id)
        return self._failure(response, body)

    def test_connection(self):
        response = self._request("GET", ACCOUNT_PATH, headers=self._headers())
        if isinstance(response, Outcome):
            return response
        body = self._json(response)
        if 200 <= response.status_code < 300:
            if not isinstance(body, dict) or not {"email", "companyName"} & body.keys():
                return self._unexpected(response)
            account = account_label(body.get("email")) or account_label(body.get("companyName"))
            return Outcome(ACCEPTED, status=response.status_code, detail=self.redact(account))
        code = body.get("code") if isinstance(body, dict) else None
        return self._test_failure(response, self._failure(response, body).kind, code)

    def _payload(self, email):
        headers = dict(email.headers or {})
        # Brevo copies X-Mailin-custom into every webhook event: the trace id comes back.
        headers["X-Mailin-custom"] = f"trace={email.trace_id}"
        # Brevo drops a second request with the same key (kept 15 to 30 minutes): a retry
        # after a crash between its answer and our commit is not delivered twice.
        headers["idempotencyKey"] = email.idempotency_key
        payload = {
            "sender": {"email": email.sender_email, **({"name": email.sender_name} if email.sender_name else {})},
            "to": [{"email": email.to_email, **({"name": email.to_name} if email.to_name else {})}],
            "subject": email.subject,
            "htmlContent": email.html,
            "textContent": email.text,
            "headers": headers,
        }
        if email.reply_to:
            payload["replyTo"] = {"email": email.reply_to}
        if email.tags:
            payload["tags"] = list(email.tags)
        return payload

    def _failure(self, response, body):
        body = body if isinstance(body, dict) else {}
        # Brevo's JSON message, never a body of another kind (a proxy's page, say).
        message = body.get("message") if isinstance(body.get("message"), str) else response.reason
        detail = self._error_detail(response, body.get("code"), message)
        kind = classify_status(response.status_code)
        retry_after = 0
        if kind == TRANSIENT:
            retry_after = _seconds(response.headers.get(RATE_LIMIT_RESET_HEADER) or response.headers.get("retry-after"))
        return Outcome(kind, detail=detail, retry_after=retry_after)


def _seconds(value):
    try:
        return max(float(value), 0)
    except (TypeError, ValueError):
        return 0
