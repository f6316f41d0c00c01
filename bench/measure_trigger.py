"""Section 2: what our triggers add to a user confirming a quotation, next to nothing and
next to one base_automation rule e-mailing a template on confirmation."""

import time

from fixtures import ORDER_BODY, ORDER_SUBJECT, create_orders, create_product, create_scenario, create_template
from report import median, progress

# Segments of the sale.order scenarios: the hook ignores them (the queue checks them at
# enrolment), they are there to make the scenarios as different as a user's would be.
SEGMENTS = [
    "[]",
    "[('amount_total', '>', 150)]",
    "[('partner_id.email', 'ilike', '@')]",
    "[('user_id', '!=', False)]",
    "[('client_order_ref', '=', False)]",
    "[('partner_id.country_id', '=', False)]",
    "[('amount_untaxed', '<', 1000)]",
    "[('company_id', '!=', False)]",
]


class TriggerBench:
    def __init__(self, env, partners, scenario_count, server):
        self.env = env
        self.partners = partners
        self.product = create_product(env)
        self.template = create_template(env, "sale.order", "Bench order confirmation", ORDER_SUBJECT, ORDER_BODY)
        self.scenarios = self._create_scenarios(scenario_count, server)
        self.scenarios.action_pause()
        self.rule = self._create_rule()
        env.cr.commit()

    def _create_scenarios(self, count, server):
        """`count` scenarios on sale.order: mostly "state set to Sales Order", some "fields
        changed" and "created" (which a confirmation does not fire, but which are watched)."""
        env = self.env
        state_field = env["ir.model.fields"]._get("sale.order", "state")
        date_field = env["ir.model.fields"]._get("sale.order", "date_order")
        sale_value = state_field.selection_ids.filtered(lambda s: s.value == "sale")
        kinds = [
            "on_value",
            "on_value",
            "on_value",
            "on_change",
            "on_value",
            "on_create",
            "on_value",
            "on_change",
            "on_value",
            "on_create",
        ]
        scenarios = env["email.automation.scenario"]
        for i in range(count):
            kind = kinds[i % len(kinds)]
            values = {"trigger": kind, "domain": SEGMENTS[i % len(SEGMENTS)]}
            if kind == "on_value":
                values.update(trigger_field_id=state_field.id, trigger_selection_ids=[(6, 0, sale_value.ids)])
            elif kind == "on_change":
                fields_ = state_field | date_field if i % 2 else state_field
                values.update(trigger_field_ids=[(6, 0, fields_.ids)])
            scenarios |= create_scenario(
                env, "sale.order", self.template, f"Bench order scenario {i + 1}", server, **values
            )
        return scenarios

    def _create_rule(self):
        """One automation rule: "State is set to Sales Order" -> send the template by e-mail."""
        env = self.env
        state_field = env["ir.model.fields"]._get("sale.order", "state")
        sale_value = state_field.selection_ids.filtered(lambda s: s.value == "sale")
        model_id = env["ir.model"]._get_id("sale.order")
        rule = env["base.automation"].create(
            {
                "name": "Bench: e-mail on confirmation",
                "model_id": model_id,
                "trigger": "on_state_set",
                "trigger_field_ids": [(6, 0, state_field.ids)],
                "trg_selection_field_id": sale_value.id,
                "active": True,
            }
        )
        env["ir.actions.server"].create(
            {
                "name": "Bench: send the confirmation template",
                "model_id": model_id,
                "base_automation_id": rule.id,
                "usage": "base_automation",
                "state": "mail_post",
                "mail_post_method": "email",
                "template_id": self.template.id,
            }
        )
        rule.active = False
        return rule

    # ------------------------------------------------------------------

    def _confirm_each(self, orders, warmup):
        """Confirm `orders` one by one as separate transactions; time each confirmation:
        action_confirm and the flush of its writes with the pre-commit hooks (what the
        user's transaction does before COMMIT); the commit itself is not timed.
        Returns [(wall ms, CPU ms of this process)] per order."""
        env, cr = self.env, self.env.cr
        for order in warmup:
            order.action_confirm()
            cr.commit()
        timings = []
        for order in orders:
            env.invalidate_all()  # a new request starts with an empty record cache
            started, cpu = time.perf_counter(), time.process_time()
            order.action_confirm()
            cr.flush()
            timings.append((1000 * (time.perf_counter() - started), 1000 * (time.process_time() - cpu)))
            cr.commit()
        if any(o.state != "sale" for o in orders):
            raise RuntimeError("some orders were not confirmed")
        return timings

    def _switch(self, variant, on):
        """Turn the automation of `variant` on or off (and commit)."""
        if variant == "scenarios":
            if on:
                self.scenarios.action_start()
            else:
                self.scenarios.action_pause()
        elif variant == "base_automation":
            self.rule.active = on
        self.env.cr.commit()

    def _drain(self):
        """Count and delete what the confirmations queued (enrolments, mails)."""
        env = self.env
        queued = (env["email.automation.enrolment"].search_count([]), env["mail.mail"].search_count([]))
        env["email.automation.enrolment"].search([]).unlink()
        env["mail.mail"].search([]).unlink()
        env.cr.commit()
        return queued

    def run(self, order_count, warmup_count, label, block=25):
        """One run of the three variants on fresh quotations created beforehand.

        The variants take turns by blocks of `block` orders (a, b, c, a, b, c, ...), each
        block after `warmup_count` untimed confirmations, so that a machine that gets
        busier or quieter during the run weighs on all three alike. What a variant adds is
        the median, over the rounds, of its block median minus (a)'s block median.
        """
        env = self.env
        variants = ("none", "scenarios", "base_automation")
        blocks = [min(block, order_count - start) for start in range(0, order_count, block)]
        orders = {
            v: create_orders(env, self.partners, self.product, order_count + warmup_count * len(blocks))
            for v in variants
        }
        timings = {v: [] for v in variants}  # one list of (wall, cpu) per block
        queued = {v: [0, 0] for v in variants}
        offset = 0
        for size in blocks:
            for variant in variants:
                batch = orders[variant][offset : offset + warmup_count + size]
                self._switch(variant, True)
                try:
                    timings[variant].append(self._confirm_each(batch[warmup_count:], batch[:warmup_count]))
                finally:
                    self._switch(variant, False)
                    enrolments, mails = self._drain()
                queued[variant][0] += enrolments
                queued[variant][1] += mails
            offset += warmup_count + size
        result = {}
        for variant in variants:
            wall = [t[0] for blk in timings[variant] for t in blk]
            cpu = [t[1] for blk in timings[variant] for t in blk]
            result[variant] = {
                "median_ms": median(wall),
                "median_cpu_ms": median(cpu),
                "queued": tuple(queued[variant]),
                "added_ms": median(
                    [
                        median([t[0] for t in blk]) - median([t[0] for t in base])
                        for blk, base in zip(timings[variant], timings["none"], strict=True)
                    ]
                ),
            }
            progress(
                f"{label} {variant}: {len(wall)} confirmations, median {median(wall):.2f} ms/order "
                f"({median(cpu):.2f} ms Python CPU), {result[variant]['added_ms']:+.2f} ms vs (a) block by block; "
                f"queued by it (incl. warm-up): {queued[variant][0]} enrolment(s), {queued[variant][1]} mail(s)"
            )
        return result


def measure_triggers(bench, order_count, runs, warmup_count=2):
    return [bench.run(order_count, warmup_count, f"section 2 run {run + 1}") for run in range(runs)]
