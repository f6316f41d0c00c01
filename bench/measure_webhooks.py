#!/usr/bin/env python3
"""Webhook ingestion benchmark: events per second a single Odoo worker records.

Run it with the Odoo virtualenv's python against a database where crm_email_automation is
installed and an Odoo server serves it (one process, threaded: `odoo-bin -c CONF
--workers=0`):

    python bench/measure_webhooks.py -c /tmp/DB.conf --url http://127.0.0.1:18102 --events 10000

It creates a Brevo and a Mandrill provider and N sent traces (committed), posts N events
per mode through real HTTP - Brevo one event per request, Brevo in batches of 100, Mandrill
in batches of 1000 - prints events/s per mode against the target (200 events/s), then
deletes what it created.
"""

import argparse
import json
import secrets
import threading
import time
from urllib.parse import urlencode

import requests

TARGET_EVENTS_PER_SECOND = 200
TS = 1763629200


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="Odoo configuration file of the database")
    parser.add_argument("--url", required=True, help="base URL of the Odoo server serving that database")
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="parallel senders in the one-event-per-request mode (Brevo posts events in parallel)",
    )
    return parser.parse_args()


def odoo_registry(config_file):
    import odoo  # noqa: PLC0415

    odoo.tools.config.parse_config(["-c", config_file])
    return odoo.modules.registry.Registry(odoo.tools.config["db_name"])


def setup(registry, count):
    import odoo  # noqa: PLC0415

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        token, key = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        Provider = env["email.automation.provider"]
        brevo = Provider.create({"name": "Bench Brevo", "kind": "brevo", "webhook_token": token})
        mandrill = Provider.create(
            {"name": "Bench Mandrill", "kind": "mandrill", "webhook_key": key, "webhook_url": "https://bench/hook"}
        )
        partner = env["res.partner"].create({"name": "Bench", "email": "bench@example.com"})
        template = env["mail.template"].create(
            {"name": "Bench", "model_id": env["ir.model"]._get_id("res.partner"), "subject": "x"}
        )
        scenario = env["email.automation.scenario"].create(
            {
                "name": "Bench webhooks",
                "model_id": env["ir.model"]._get_id("res.partner"),
                "trigger": "manual",
                "category": "transactional",
                "step_ids": [
                    odoo.Command.create({"name": "Mail", "action_type": "mail", "mail_template_id": template.id})
                ],
            }
        )
        traces = {}
        for provider in (brevo, mandrill):
            # One trace per (participant, step): a participant per e-mail.
            participants = env["email.automation.participant"].create(
                [{"scenario_id": scenario.id, "res_id": partner.id, "partner_id": partner.id, "state": "completed"}]
                * count
            )
            created = env["email.automation.trace"].create(
                [
                    {
                        "participant_id": participant.id,
                        "step_id": scenario.step_ids.id,
                        "state": "sent",
                        "email_to": partner.email,
                        "provider_id": provider.id,
                        "provider_message_id": f"<bench-{provider.kind}-{index}@relay>",
                    }
                    for index, participant in enumerate(participants)
                ]
            )
            traces[provider.kind] = created.mapped("provider_message_id")
        ids = {"brevo": brevo.id, "mandrill": mandrill.id, "scenario": scenario.id, "partner": partner.id}
        ids["template"] = template.id
    return ids, token, key, traces


def teardown(registry, ids):
    import odoo  # noqa: PLC0415

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        env["email.automation.scenario"].browse(ids["scenario"]).participant_ids.unlink()
        env["email.automation.scenario"].browse(ids["scenario"]).unlink()
        env["email.automation.provider"].browse([ids["brevo"], ids["mandrill"]]).unlink()
        env["mail.template"].browse(ids["template"]).unlink()
        env["email.automation.suppression"].search([("email", "=", "bench@example.com")]).unlink()
        env["res.partner"].browse(ids["partner"]).unlink()


def brevo_events(message_ids, event):
    return [{"event": event, "email": "bench@example.com", "message-id": mid, "ts_event": TS} for mid in message_ids]


def in_parallel(senders, events, url, headers):
    """Post `events` one per request from `senders` threads, each with its own connection."""
    chunks = [events[i::senders] for i in range(senders)]

    def send(chunk):
        session = requests.Session()
        for event in chunk:
            session.post(url, data=json.dumps(event), headers=headers, timeout=60).raise_for_status()

    threads = [threading.Thread(target=send, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def timed(label, count, post, unit="events"):
    start = time.perf_counter()
    post()
    elapsed = time.perf_counter() - start
    rate = count / elapsed
    verdict = "" if unit != "events" else "ok" if rate >= TARGET_EVENTS_PER_SECOND else "BELOW TARGET"
    print(f"{label:<45} {count:>6} {unit:<8} {elapsed:7.1f} s {rate:8.0f} {unit}/s  {verdict}", flush=True)


def main():
    args = parse_args()
    registry = odoo_registry(args.config)
    ids, token, key, traces = setup(registry, args.events)
    session = requests.Session()
    brevo_url = f"{args.url}/email_automation/webhook/brevo/{ids['brevo']}"
    mandrill_url = f"{args.url}/email_automation/webhook/mandrill/{ids['mandrill']}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post_brevo(payload):
        response = session.post(brevo_url, data=json.dumps(payload), headers=headers, timeout=60)
        response.raise_for_status()

    try:
        from odoo.addons.crm_email_automation.providers.mandrill_webhook import signature  # noqa: PLC0415

        # Odoo's own floor: an empty request (no database work) through the same server.
        timed(
            "Odoo's floor: GET /web/health",
            500,
            lambda: [session.get(f"{args.url}/web/health", timeout=60).raise_for_status() for _ in range(500)],
            unit="requests",
        )
        single = brevo_events(traces["brevo"], "delivered")
        half = len(single) // 2
        timed(
            "Brevo, one event per request, sequential",
            half,
            lambda: [post_brevo(event) for event in single[:half]],
        )
        timed(
            f"Brevo, one event per request, {args.concurrency} senders",
            len(single) - half,
            lambda: in_parallel(args.concurrency, single[half:], brevo_url, headers),
        )
        batches = brevo_events(traces["brevo"], "opened")

        timed(
            "Brevo, batches of 100",
            args.events,
            lambda: [post_brevo(batches[i : i + 100]) for i in range(0, len(batches), 100)],
        )

        def post_mandrill():
            for i in range(0, args.events, 1000):
                events = [
                    {"event": "open", "ts": TS, "msg": {"_id": mid, "email": "bench@example.com"}}
                    for mid in traces["mandrill"][i : i + 1000]
                ]
                fields = [("mandrill_events", json.dumps(events))]
                response = session.post(
                    mandrill_url,
                    data=urlencode(fields),
                    headers={
                        "Content-Type": "application/x-www-form-urlencoded",
                        "X-Mandrill-Signature": signature(key, "https://bench/hook", fields),
                    },
                    timeout=120,
                )
                response.raise_for_status()

        timed("Mandrill, batches of 1000", args.events, post_mandrill)
        timed(
            "Brevo replay, batches of 100 (duplicates)",
            args.events,
            lambda: [post_brevo(batches[i : i + 100]) for i in range(0, len(batches), 100)],
        )
    finally:
        teardown(registry, ids)


if __name__ == "__main__":
    main()
