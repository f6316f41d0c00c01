"""The event API: outside systems post events that enrol records in "Outside event" scenarios.

Its contract is static/api/openapi.json, served as is and used to check every request. A
request is checked whole (key, rate, type, syntax, schema, targets) before anything is
written; a refusal is a 4xx problem details answer (RFC 9457) and changes nothing.
"""

import json
import logging
import math
import re

from odoo import fields, http
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.http import request

from .event_api_input import EventInput, Problem, check_schema, check_strings, openapi_text, parse_json
from .request_limits import PROBLEM, body_limit

_logger = logging.getLogger(__name__)

API_PREFIX = "/email_automation/api/v1"
# One event: a payload of a few kilobytes. A batch: 500 such events.
EVENT_MAX_BODY = 64 * 1024
BATCH_MAX_BODY = 4 * 1024 * 1024
ROUTE_OPTIONS = {"type": "http", "auth": "public", "csrf": False, "save_session": False, "sitemap": False}
RATE_PARAMETER = "crm_email_automation.api_requests_per_minute"
DEFAULT_RATE = 600
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
BEARER = re.compile(r"^bearer\s+(\S+)\s*$", re.IGNORECASE)


class EmailAutomationEventApi(http.Controller):
    @http.route(f"{API_PREFIX}/events", methods=["POST"], **ROUTE_OPTIONS, **body_limit(EVENT_MAX_BODY, PROBLEM))
    def post_event(self, **_query):
        return self._handle(batch=False)

    @http.route(f"{API_PREFIX}/events/batch", methods=["POST"], **ROUTE_OPTIONS, **body_limit(BATCH_MAX_BODY, PROBLEM))
    def post_event_batch(self, **_query):
        return self._handle(batch=True)

    @http.route(f"{API_PREFIX}/openapi.json", methods=["GET"], **ROUTE_OPTIONS)
    def openapi(self, **_query):
        return request.make_response(
            openapi_text(),
            headers=[("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "public, max-age=3600")],
        )

    # ------------------------------------------------------------------

    def _handle(self, batch):
        try:
            user, key_index = self._authenticate()
            self._check_rate(key_index)
            data = self._read_json()
            check_schema(data, "EventBatch" if batch else "Event")
            now = fields.Datetime.now()
            events = data["events"] if batch else [data]
            prepared = EventInput(request.env, now).prepare(events, "/events" if batch else None)
            return self._apply(user, prepared, batch)
        except Problem as problem:
            return self._problem(problem)

    def _authenticate(self):
        """The API user of the bearer key, with the index of the key (what the rate is
        counted by); 401 without a valid key, 403 for a user outside the API group."""
        match = BEARER.match(request.httprequest.headers.get("Authorization") or "")
        challenge = [("WWW-Authenticate", 'Bearer realm="email_automation"')]
        if not match:
            raise Problem(
                401, "No valid API key", "Send the API key as Authorization: Bearer <key>.", headers=challenge
            )
        token = match.group(1)
        # Odoo's own key check (hashed keys, expiry); the "rpc" scope means a key of any scope.
        uid = request.env["res.users.apikeys"]._check_credentials(scope="rpc", key=token)
        if not uid:
            raise Problem(401, "No valid API key", "The API key is unknown or expired.", headers=challenge)
        # sudo: the public request reads the key owner's groups.
        user = request.env["res.users"].sudo().browse(uid)
        if not user._email_automation_is_api_user():
            raise Problem(403, "The key's user may not post events", "Its user is not in E-mail Automation / API.")
        request.update_env(user=uid)
        return request.env.user, token[:8]

    def _check_rate(self, key_index):
        # sudo: the API user reads no settings; the limit is a system parameter.
        limit = int(request.env["ir.config_parameter"].sudo().get_param(RATE_PARAMETER, DEFAULT_RATE) or 0)
        if limit <= 0:
            return
        now = fields.Datetime.now()
        # Counted in a short transaction of its own, committed at once: concurrent requests
        # with the same key do not wait for each other, and a request that fails still counts.
        Counter = request.env["email.automation.rate.counter"].sudo().with_context(email_automation_auto_commit=True)
        granted, retry_at = Counter._reserve(f"api:{key_index}", 1, {"minute": limit}, now)
        if not granted:
            wait = max(1, math.ceil((retry_at - now).total_seconds()))
            raise Problem(
                429,
                "Too many requests for this key",
                f"This key may send {limit} requests a minute.",
                headers=[("Retry-After", str(wait))],
            )

    def _read_json(self):
        if request.httprequest.mimetype != "application/json":
            raise Problem(415, "The body is not application/json", "Send the events as application/json.")
        try:
            data = parse_json(request.httprequest.get_data())
            check_strings(data)
        except (ValueError, RecursionError) as error:
            raise Problem(400, "The body is not JSON", str(error)[:300]) from None
        return data

    def _apply(self, user, prepared, batch):
        """Write everything or nothing: the idempotency claim, contacts, consent, events and
        enrolments share one savepoint; an error of the data rolls them all back."""
        key = request.httprequest.headers.get("Idempotency-Key")
        if key is not None and not IDEMPOTENCY_KEY.match(key):
            raise Problem(422, "The events are not valid", "Idempotency-Key: 1 to 255 printable ASCII characters.")
        Request = request.env["email.automation.api.request"]
        Event = request.env["email.automation.outside.event"]
        try:
            with request.env.cr.savepoint():
                if key is not None:
                    http_request = request.httprequest
                    request_hash = Request._hash(http_request.method, http_request.path, http_request.get_data())
                    earlier = Request._claim(user, key, request_hash)
                    if earlier:
                        if earlier.request_hash != request_hash:
                            raise Problem(
                                422,
                                "Idempotency-Key reused",
                                "This Idempotency-Key was sent before with another request.",
                            )
                        return self._answer(earlier.response, earlier.status, replayed=True)
                contacts = [contact for _values, contact in prepared if contact]
                found = iter(Event._contacts(contacts) if contacts else [])
                values_list, flags = [], []
                for values, contact in prepared:
                    if contact:
                        partner, created, consented = next(found)
                        values["res_id"] = partner.id
                        flags.append((created, consented))
                    else:
                        flags.append((False, False))
                    values_list.append(values)
                records, enrolled = Event._receive(values_list, user, idempotency_key=key)
                results = [
                    {
                        "id": event.id,
                        "name": event.name,
                        "target": {"model": event.res_model, "id": event.res_id},
                        "contact_created": created,
                        "consent_recorded": consented,
                        "enrolled": enrolled[event.id],
                    }
                    for event, (created, consented) in zip(records, flags, strict=True)
                ]
                body = {"events": results} if batch else results[0]
                if key is not None:
                    Request._store(user, key, 201, body)
        except (UserError, ValidationError, AccessError) as error:
            raise Problem(422, "The events are not valid", str(error)[:300]) from None
        return self._answer(body, 201)

    def _answer(self, data, status, replayed=False):
        headers = [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store")]
        if replayed:
            headers.append(("Idempotent-Replayed", "true"))
        return request.make_response(json.dumps(data), headers=headers, status=status)

    def _problem(self, problem):
        _logger.info("Event API %s refused (%s): %s", request.httprequest.path, problem.status, problem.title)
        headers = [("Content-Type", "application/problem+json"), ("Cache-Control", "no-store"), *problem.headers]
        return request.make_response(json.dumps(problem.as_dict()), headers=headers, status=problem.status)
