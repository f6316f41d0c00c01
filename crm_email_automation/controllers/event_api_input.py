"""The event API's input: checked against the OpenAPI document's own schemas, then the
targets resolved, all before anything is written (a refusal changes nothing)."""

import functools
import json
import math
from datetime import datetime, timedelta, timezone

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from odoo import tools
from odoo.tools.misc import file_path

OPENAPI_PATH = "crm_email_automation/static/api/openapi.json"
DOCUMENT_URI = "urn:crm-email-automation:openapi"
# An event may say it happened a little in the future: clocks drift.
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_ERRORS = 20


class Problem(Exception):
    """A refusal, answered as problem details (RFC 9457)."""

    def __init__(self, status, title, detail=None, errors=None, headers=None):
        super().__init__(title)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or []

    def as_dict(self):
        data = {"type": "about:blank", "title": self.title, "status": self.status}
        if self.detail:
            data["detail"] = self.detail
        if self.errors:
            data["errors"] = self.errors
        return data


@functools.cache
def openapi_text():
    with open(file_path(OPENAPI_PATH), encoding="utf-8") as document:
        return document.read()


@functools.cache
def validator(schema_name):
    """A JSON Schema 2020-12 validator of components/schemas/<schema_name>, its references
    resolved inside the OpenAPI document (OpenAPI 3.1 schemas are JSON Schema 2020-12)."""
    resource = Resource.from_contents(json.loads(openapi_text()), default_specification=DRAFT202012)
    registry = Registry().with_resource(DOCUMENT_URI, resource)
    schema = {"$ref": f"{DOCUMENT_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def pointer(path):
    return "".join(f"/{str(part).replace('~', '~0').replace('/', '~1')}" for part in path)


def reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def finite_float(text):
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text[:40]} is out of range")
    return value


def parse_json(body):
    """The body as JSON, strictly: NaN, Infinity and numbers that overflow to it (which
    Python accepts) are refused, as PostgreSQL's jsonb would refuse them."""
    return json.loads(body, parse_constant=reject_constant, parse_float=finite_float)


def bad_strings(data, path=()):
    """The places of strings PostgreSQL cannot store (a NUL character, a lone surrogate),
    keys included, as JSON pointers."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from bad_strings(key, (*path, key))
            yield from bad_strings(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from bad_strings(value, (*path, index))
    elif isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            yield pointer(path)
            return
        if "\x00" in data:
            yield pointer(path)


def check_strings(data):
    places = list(dict.fromkeys(bad_strings(data)))
    if places:
        raise Problem(
            422,
            "The events are not valid",
            "Strings may not contain NUL characters or lone surrogates.",
            [{"pointer": place, "detail": "unsupported character"} for place in places[:MAX_ERRORS]],
        )


def check_schema(data, schema_name):
    errors = sorted(
        validator(schema_name).iter_errors(data), key=lambda e: [(isinstance(p, str), p) for p in e.absolute_path]
    )
    if errors:
        raise Problem(
            422,
            "The events are not valid",
            "The body does not match the schema of the OpenAPI document.",
            [{"pointer": pointer(e.absolute_path), "detail": e.message[:300]} for e in errors[:MAX_ERRORS]],
        )


def parse_datetime(value, where, now):
    """An RFC 3339 date-time with its offset, as a naive UTC datetime (Odoo's)."""
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        # The year 1 at +01:00 is before the year 1 in UTC: Python cannot say it.
        moment = moment.astimezone(timezone.utc) if moment.tzinfo else None
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise Problem(
            422,
            "The events are not valid",
            errors=[{"pointer": where, "detail": "not an RFC 3339 date-time with an offset"}],
        )
    moment = moment.replace(tzinfo=None)
    if moment > now + FUTURE_TOLERANCE:
        raise Problem(422, "The events are not valid", errors=[{"pointer": where, "detail": "in the future"}])
    return moment


class EventInput:
    """Turns the validated JSON events into what `email.automation.outside.event._receive`
    takes, resolving every target as the superuser (the API user reads nothing)."""

    def __init__(self, env, now):
        self.env = env
        self.now = now
        self.errors = []
        # sudo: the outside system names the records; the API user has no read right on them.
        Scenario = env["email.automation.scenario"].sudo().with_context(active_test=False)
        # Events may name records of the models that "Outside event" scenarios target (and
        # contacts): any other model is refused, so the key cannot probe what exists.
        self.models = set(Scenario.search([("trigger", "=", "on_outside_event")]).mapped("model_name"))
        self.models.add("res.partner")

    def fail(self, where, detail):
        self.errors.append({"pointer": where, "detail": detail})

    def prepare(self, events, prefix):
        """[(event dict for `_receive`, contact to find or create or None)], or Problem 422."""
        prepared = []
        for index, event in enumerate(events):
            where = f"{prefix}/{index}" if prefix is not None else ""
            prepared.append(self._prepare_one(event, where))
            if len(self.errors) >= MAX_ERRORS:
                break
        if self.errors:
            raise Problem(422, "The events are not valid", errors=self.errors[:MAX_ERRORS])
        return prepared

    def _prepare_one(self, event, where):
        values = {"name": event["name"], "payload": event.get("payload") or {}}
        try:
            values["occurred_at"] = parse_datetime(event["occurred_at"], f"{where}/occurred_at", self.now)
        except Problem as problem:
            self.errors += problem.errors
        target = event["target"]
        contact = None
        if "email" in target:
            contact = self._contact(target, f"{where}/target")
            if contact:
                contact["event_name"] = event["name"]
            values["res_model"] = "res.partner"
        elif "external_id" in target:
            record = self.env["ir.model.data"].sudo()._xmlid_to_res_model_res_id(target["external_id"])
            if not record[0] or record[0] not in self.models or not self._exists(*record):
                self.fail(
                    f"{where}/target/external_id", "no record of an outside event scenario's model has this external id"
                )
            else:
                values["res_model"], values["res_id"] = record
        else:
            model, res_id = target["model"], target["id"]
            if model not in self.models:
                self.fail(f"{where}/target/model", "no outside event scenario targets this model")
            elif not self._exists(model, res_id):
                self.fail(f"{where}/target/id", "no such record")
            else:
                values["res_model"], values["res_id"] = model, int(res_id)
        return values, contact

    def _exists(self, model, res_id):
        return bool(self.env[model].sudo().browse(res_id).exists())

    def _contact(self, target, where):
        email = tools.email_normalize(target["email"])
        if not email:
            self.fail(f"{where}/email", "not a valid e-mail address")
            return None
        contact = {"email": email, "name": target.get("name") or email, "consent": None}
        proof = target.get("consent")
        if proof:
            wording = (
                self.env["email.automation.consent.wording"]
                .sudo()
                .search([("version", "=", proof["wording_version"])], limit=1)
            )
            if not wording:
                self.fail(f"{where}/consent/wording_version", "no consent wording has this version")
            try:
                consented_at = parse_datetime(proof["consented_at"], f"{where}/consent/consented_at", self.now)
            except Problem as problem:
                self.errors += problem.errors
                consented_at = None
            contact["consent"] = {**proof, "wording": wording, "consented_at": consented_at}
        return contact
