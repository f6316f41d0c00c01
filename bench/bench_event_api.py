"""The event API's throughput per worker, next to Odoo's floor.

Odoo's HTTP server runs as one prefork worker (``--workers=1``: what one worker of a
production server does). The bench posts, over one keep-alive connection:

1. single events: ``POST /email_automation/api/v1/events``, one event a request, each
   naming a distinct contact that a running "Outside event" scenario enrols (the full
   path: key check, rate count, schema check, event, enrolment, queue wake-up);
2. batches: ``POST /email_automation/api/v1/events/batch`` with ``--batch`` events each;
3. two floors, taking turns with (1) request after request so that the machine's load
   weighs on all alike: Odoo's cheapest POST route, ``/web/webclient/version_info``
   (JSON-RPC, no database, no authentication), and Odoo's cheapest authenticated call
   with the same key, XML-RPC ``execute_kw(res.users, context_get)`` (a cursor, the API
   key's hash checked, one small read, no write).

Prints events per second of each run and their medians, and the ratios single / floor and
batch / single. It is a measurement, not a test: no target fails the run, but a request
that is not answered 201 (or 200 for the floor) stops it.

    python bench/bench_event_api.py [--events 500] [--batch 100] [--runs 3] [--port 18275 --gevent-port 19275]

The script creates its own database (``cea_bench_event_api_<date>``, only
``crm_email_automation`` installed) and drops it at the end (``--keep-db`` keeps it).
"""

import argparse
import json
import statistics
import sys
import time
import xmlrpc.client
from datetime import datetime, timezone

from bench_providers import Client, OdooServer
from fixtures import create_contacts, create_scenario, create_template
from odoo_env import DB_PREFIX, default_odoo_dir, progress, run_in_bench_database, superuser_env

EVENTS_PATH = "/email_automation/api/v1/events"
BATCH_PATH = "/email_automation/api/v1/events/batch"
FLOOR_PATH = "/web/webclient/version_info"
FLOOR_BODY = json.dumps({"jsonrpc": "2.0", "method": "call", "params": {}}).encode()
RPC_PATH = "/xmlrpc/2/object"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=500, help="events per run, single and batched")
    parser.add_argument("--batch", type=int, default=100, help="events per batch request (at most 500)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement; medians are reported")
    parser.add_argument("--port", type=int, default=0, help="HTTP port of the Odoo server (default: a free one)")
    parser.add_argument("--gevent-port", type=int, default=0, help="its gevent (websocket) port (default: Odoo's)")
    parser.add_argument("--odoo-dir", default=default_odoo_dir())
    parser.add_argument("--db-name", default=f"{DB_PREFIX}event_api_{datetime.now():%Y%m%d_%H%M%S}")
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if not 1 <= args.batch <= 500:
        parser.error("--batch must be between 1 and 500")
    return args


def prepare(setup, contacts):
    """An API user and key, a running scenario listening to "bench_event" on contacts, and
    the contacts the events name. Returns (key, API user id, partner ids)."""
    registry = setup.registry()
    with superuser_env(registry) as env:
        env["email.automation.scenario"].search([("state", "=", "running")]).write({"state": "paused"})
        # The bench measures the API, not the rate limit.
        env["ir.config_parameter"].set_param("crm_email_automation.api_requests_per_minute", 10**9)
        user = env["res.users"].create(
            {
                "name": "Bench shop",
                "login": "bench_shop_api",
                "groups_id": [(6, 0, [env.ref("crm_email_automation.group_api").id])],
            }
        )
        key = env["res.users.apikeys"].with_user(user).sudo()._generate(None, "bench", False)
        template = create_template(
            env,
            "res.partner",
            "Bench shipped",
            "Order {{ payload.get('order_ref') }} shipped",
            "<p>Track it at <t t-out=\"payload.get('tracking_url')\"/></p>",
        )
        # No cron runs in the bench (--max-cron-threads=0): the e-mails stay queued.
        create_scenario(
            env,
            "res.partner",
            template,
            "Bench outside event",
            trigger="on_outside_event",
            outside_event_name="bench_event",
            reentry_policy="always",
        )
        _tag, partners = create_contacts(env, contacts, "Event API")
        return key, user.id, partners.ids


def event(partner_id, number):
    return {
        "name": "bench_event",
        "target": {"model": "res.partner", "id": partner_id},
        "payload": {"order_ref": f"S{number:06d}", "tracking_url": f"https://track.example.com/{number}"},
        "occurred_at": datetime.now(timezone.utc).isoformat(),
    }


def post(client, path, body, headers, expected):
    status, answer = client.request("POST", path, body=body, headers=headers)
    if status != expected:
        raise SystemExit(f"POST {path} answered {status}: {answer[:500]!r}")
    return answer


def measure_single(server, key, rpc_body, partner_ids):
    """Single events and the two floors, in turn: (events/s, floor requests/s, RPC floor
    requests/s)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    floor_headers = {"Content-Type": "application/json"}
    rpc_headers = {"Content-Type": "text/xml"}
    spent = {"api": 0.0, "floor": 0.0, "rpc": 0.0}
    with Client(server) as client:
        for number, partner_id in enumerate(partner_ids):
            body = json.dumps(event(partner_id, number)).encode()
            started = time.perf_counter()
            post(client, EVENTS_PATH, body, headers, 201)
            after_api = time.perf_counter()
            post(client, FLOOR_PATH, FLOOR_BODY, floor_headers, 200)
            after_floor = time.perf_counter()
            answer = post(client, RPC_PATH, rpc_body, rpc_headers, 200)
            if b"<fault>" in answer:
                raise SystemExit(f"the RPC floor failed: {answer[:500]!r}")
            spent["rpc"] += time.perf_counter() - after_floor
            spent["floor"] += after_floor - after_api
            spent["api"] += after_api - started
    return tuple(len(partner_ids) / spent[name] for name in ("api", "floor", "rpc"))


def measure_batch(server, key, partner_ids, size):
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    bodies = [
        json.dumps({"events": [event(p, n) for n, p in enumerate(partner_ids[start : start + size], start)]}).encode()
        for start in range(0, len(partner_ids), size)
    ]
    with Client(server) as client:
        started = time.perf_counter()
        for body in bodies:
            post(client, BATCH_PATH, body, headers, 201)
        return len(partner_ids) / (time.perf_counter() - started)


def run(args, setup):
    # Fresh contacts for every measurement: a contact already in the scenario would be kept
    # out by its re-entry policy, a cheaper path than a real enrolment.
    warm_up = 40
    key, uid, partner_ids = prepare(setup, warm_up + 2 * args.runs * args.events)
    fresh = iter(range(warm_up, len(partner_ids), args.events))
    rpc_body = xmlrpc.client.dumps((setup.db_name, uid, key, "res.users", "context_get", []), "execute_kw").encode()
    progress("starting Odoo's HTTP server (one prefork worker)")
    server = OdooServer(setup, "prefork", port=args.port or None, gevent_port=args.gevent_port or None)
    results = {"single": [], "floor": [], "rpc": [], "batch": []}
    try:
        # Warm-up (routing map, caches, the OpenAPI document), not counted.
        measure_single(server, key, rpc_body, partner_ids[:20])
        measure_batch(server, key, partner_ids[20:warm_up], 10)
        for number in range(args.runs):
            start = next(fresh)
            single, floor, rpc = measure_single(server, key, rpc_body, partner_ids[start : start + args.events])
            start = next(fresh)
            batch = measure_batch(server, key, partner_ids[start : start + args.events], args.batch)
            for name, value in (("single", single), ("floor", floor), ("rpc", rpc), ("batch", batch)):
                results[name].append(value)
            progress(
                f"run #{number + 1}: single {single:7.1f} events/s, floor {floor:7.1f} requests/s "
                f"({single / floor:.2f}x), RPC floor {rpc:7.1f} requests/s ({single / rpc:.2f}x), "
                f"batch of {args.batch} {batch:7.1f} events/s"
            )
    finally:
        server.stop()
    with superuser_env(setup.registry()) as env:
        results["recorded"] = env["email.automation.outside.event"].search_count([])
        results["enrolled"] = env["email.automation.participant"].search_count([])
    return results


def report(args, results):
    def runs(values, digits=1):
        return " / ".join(f"{value:.{digits}f}" for value in values)

    single_ratios = [s / f for s, f in zip(results["single"], results["floor"], strict=True)]
    rpc_ratios = [s / r for s, r in zip(results["single"], results["rpc"], strict=True)]
    batch_ratios = [b / s for b, s in zip(results["batch"], results["single"], strict=True)]
    median = {key: statistics.median(results[key]) for key in ("single", "floor", "rpc", "batch")}
    print(
        f"crm_email_automation {args.engine}; one prefork worker; {args.events} events per run, "
        f"batches of {args.batch}, {args.runs} runs, medians"
    )
    rows = [
        (f"POST {FLOOR_PATH} (floor)", median["floor"], "requests/s", runs(results["floor"])),
        ("XML-RPC context_get with the key (RPC floor)", median["rpc"], "requests/s", runs(results["rpc"])),
        ("POST events (one a request)", median["single"], "events/s", runs(results["single"])),
        (f"POST events/batch ({args.batch} a request)", median["batch"], "events/s", runs(results["batch"])),
        ("Single / floor (per run)", statistics.median(single_ratios), "x", runs(single_ratios, 2)),
        ("Single / RPC floor (per run)", statistics.median(rpc_ratios), "x", runs(rpc_ratios, 2)),
        ("Batch / single (per run)", statistics.median(batch_ratios), "x", runs(batch_ratios, 2)),
    ]
    for label, value, unit, values in rows:
        print(f"{label:<48} {value:9.2f} {unit:<11} (runs {values})")
    print(f"Events recorded: {results['recorded']}, participants enrolled: {results['enrolled']}")
    return True  # no target: the figures are for sizing, not a verdict


def main(argv=None):
    return run_in_bench_database(parse_args(argv), [], run, report)


if __name__ == "__main__":
    sys.exit(main())
