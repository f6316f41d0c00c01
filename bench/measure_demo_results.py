"""How long the demo's past results take to generate (what they add to an install with demo
data), against Odoo creating the same number of one-line quotations alone.

Run it in an Odoo shell on a database installed with the demo data; every run is rolled
back, nothing stays:

    odoo-bin shell -c odoo.conf -d DB --no-http --log-level=warn < bench/measure_demo_results.py

Prints the median wall-clock and CPU seconds of RUNS runs of each, and their ratio.
"""
# ruff: noqa: F821 - `env` is the Odoo shell's

import statistics
import time

from odoo import Command, fields

RUNS = 3
QUOTATIONS = 200


def timed(work):
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    env.flush_all()
    result = time.perf_counter() - wall, time.process_time() - cpu
    env.cr.rollback()
    env.invalidate_all()
    return result


def generate():
    env["email.automation.demo.results"]._generate_demo_results(now=fields.Datetime.now(), force=True)


def quotations_alone():
    partner = env.ref("base.res_partner_12")
    product = env["product.product"].search([("sale_ok", "=", True)], order="id", limit=1)
    env["sale.order"].with_context(tracking_disable=True).create(
        [
            {"partner_id": partner.id, "order_line": [Command.create({"product_id": product.id, "price_unit": 100.0})]}
            for _i in range(QUOTATIONS)
        ]
    )


figures = {}
for name, work in (("demo results", generate), (f"{QUOTATIONS} quotations alone", quotations_alone)):
    runs = [timed(work) for _i in range(RUNS)]
    figures[name] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
    print(f"{name}: median {figures[name][0]:.2f} s wall, {figures[name][1]:.2f} s CPU ({RUNS} runs)")
(generated, baseline) = figures.values()
wall_ratio, cpu_ratio = generated[0] / baseline[0], generated[1] / baseline[1]
print(f"ratio demo results / quotations alone: {wall_ratio:.2f} wall, {cpu_ratio:.2f} CPU")
