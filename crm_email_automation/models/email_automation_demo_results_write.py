"""Writing the demo's past results in batch, through the module's own models and methods
(see email_automation_demo_results.py for the stories)."""

import unicodedata
from datetime import timezone

from ..providers.webhook_events import WebhookEvent

CUSTOMERS = 48
FIRST_PL = [
    "Anna",
    "Piotr",
    "Katarzyna",
    "Tomasz",
    "Magdalena",
    "Paweł",
    "Agnieszka",
    "Marcin",
    "Joanna",
    "Michał",
    "Ewa",
    "Krzysztof",
]
LAST_PL = [
    "Nowak",
    "Wiśniewski",
    "Wójcik",
    "Kowalczyk",
    "Kamiński",
    "Lewandowski",
    "Zieliński",
    "Szymański",
    "Woźniak",
    "Dąbrowski",
]
FIRST_EN = [
    "Olivia",
    "James",
    "Emily",
    "Oliver",
    "Sophie",
    "Harry",
    "Charlotte",
    "George",
    "Amelia",
    "Jack",
    "Grace",
    "Thomas",
]
LAST_EN = ["Taylor", "Brown", "Wilson", "Evans", "Walker", "Wright", "Robinson", "Thompson", "Hughes", "Clarke"]


def _ascii(text):
    text = text.replace("ł", "l").replace("Ł", "L")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


class DemoHistoryWriter:
    """The writing half of the demo history: records, participants, traces, events,
    branch decisions and conversions, a few batches in all."""

    def create_customers(self):
        rng = self.rng
        polish = bool(self.env["res.lang"]._lang_get("pl_PL"))
        vals_list, seen = [], set()
        while len(vals_list) < CUSTOMERS:
            is_pl = len(vals_list) % 2 == 0
            first, last = rng.choice(FIRST_PL if is_pl else FIRST_EN), rng.choice(LAST_PL if is_pl else LAST_EN)
            if is_pl and first.endswith("a") and last.endswith("ski"):
                last = last[:-1] + "a"  # Polish surnames agree with the first name
            if (first, last) in seen:
                continue
            seen.add((first, last))
            domain = "example.pl" if is_pl else "example.com"
            vals_list.append(
                {
                    "name": f"{first} {last}",
                    "email": f"{_ascii(first)}.{_ascii(last)}@{domain}",
                    "lang": "pl_PL" if is_pl and polish else "en_US",
                    "country_id": self.env.ref("base.pl" if is_pl else "base.uk").id,
                    "user_id": self.env.ref("base.user_admin").id,
                    "customer_rank": 1,
                }
            )
        self.customers = self.env["res.partner"].create(vals_list)
        self.customers._email_consent_record(
            "imported",
            "import",
            wording=self.env.ref("crm_email_automation.email_automation_consent_wording_demo"),
            reason="Demo data: consent given on the newsletter sign-up form, imported with the customer list.",
            user=False,
        )

    def write_history(self):
        orders = self.create_orders()
        leads = self.create_leads()
        res_ids = {("order", n): order.id for n, order in enumerate(orders)}
        res_ids.update({("lead", n): lead.id for n, lead in enumerate(leads)})
        vals_list = []
        for vals, _traces in self.participants:
            key = vals.pop("record_key")
            vals_list.append({**vals, "res_id": key[1] if key[0] == "partner" else res_ids[key]})
        participants = self.env["email.automation.participant"].create(vals_list)
        trace_vals, owners = [], []
        for participant, (_vals, traces) in zip(participants, self.participants, strict=True):
            for _step, vals, _events in traces:
                trace_vals.append({**vals, "participant_id": participant.id, "email_to": participant.partner_id.email})
                owners.append(participant)
        traces = self.env["email.automation.trace"].create(trace_vals)
        by_participant = {}
        for trace, owner in zip(traces, owners, strict=True):
            by_participant.setdefault(owner.id, []).append(trace)
        self.record_events(participants, by_participant)
        Decision = self.env["email.automation.branch.decision"]
        Decision._claim(
            [
                (by_participant[participants[index].id][trace_index], pair, negative, when)
                for index, trace_index, pair, negative, when in self.decisions
            ]
        )
        converted = {participants[index].id: when for index, when in self.conversions.items()}
        participants.browse(list(converted)).with_context(email_automation_reached_at=converted)._record_conversion()
        self.forget_triggers(orders, leads)
        # Events, decisions and conversions were written in SQL or by other methods.
        self.env.invalidate_all()
        return participants

    def forget_triggers(self, orders, leads):
        """Creating the records queued them for the scenarios' triggers and goal checks when
        the registry is ready (not during an install, where the hooks wait): they are
        history, they must not enter a scenario now."""
        self.env.flush_all()
        created = {"sale.order": orders.ids, "crm.lead": leads.ids, "res.partner": self.customers.ids}
        domain = [("scenario_id.model_name", "in", list(created))]
        for model in ("email.automation.enrolment", "email.automation.goal.check"):
            queued = self.env[model].search(domain)
            queued.filtered(lambda row: row.res_id in created[row.scenario_id.model_name]).unlink()

    def create_orders(self):
        products = self.env["product.product"].search([("sale_ok", "=", True)], order="id", limit=6)
        vals_list = [
            {
                "partner_id": order["partner"].id,
                "user_id": self.env.ref("base.user_admin").id,
                "state": order["state"],
                "date_order": order["date_order"],
                "order_line": [
                    (0, 0, {"product_id": self.rng.choice(products).id, "product_uom_qty": self.rng.randint(1, 8),
                            "price_unit": self.rng.randint(4, 60) * 25.0})
                    for _line in range(order["lines"])
                ],
            }
            for order in self.orders
        ]  # fmt: skip
        return self.env["sale.order"].create(vals_list)

    def create_leads(self):
        won_stage = self.env["crm.stage"].search([("is_won", "=", True)], order="sequence, id", limit=1)
        open_stage = self.env.ref("crm.stage_lead3", raise_if_not_found=False) or self.env.ref("crm.stage_lead2")
        leads = self.env["crm.lead"].create(
            [
                {
                    "name": lead["name"],
                    "type": "opportunity",
                    "partner_id": lead["partner"].id,
                    "user_id": self.env.ref("base.user_admin").id,
                    "expected_revenue": lead["revenue"],
                    "stage_id": (won_stage if lead["won"] else open_stage).id,
                }
                for lead in self.leads
            ]
        )
        for lead, plan in zip(leads, self.leads, strict=True):
            if plan["won"]:
                lead.write({"probability": 100, "date_closed": plan["won"]})
            elif plan["lost"]:
                lead.write({"active": False, "probability": 0})
        return leads

    def record_events(self, participants, by_participant):
        """Through the event intake, as the pixel, tracked links and webhooks record them."""
        known, replies = [], {}
        base_url = self.env["email.automation.scenario"].get_base_url()
        for participant, (_vals, traces) in zip(participants, self.participants, strict=True):
            for trace, (_step, _vals_trace, events) in zip(by_participant[participant.id], traces, strict=True):
                for kind, at in events:
                    event = WebhookEvent(
                        event_type=kind,
                        provider_event=kind,
                        message_id=trace.message_id.strip("<>"),
                        occurred_ms=int(at.replace(tzinfo=timezone.utc).timestamp()) * 1000,
                        email=trace.email_to,
                        url=f"{base_url}/my/orders/{trace.res_id}" if "click" in kind else None,
                    )
                    known.append((event, trace.id))
                    if kind == "reply":
                        replies.setdefault(at, []).append(trace.id)
        self.env["email.automation.event"]._record_events(self.env["email.automation.provider"], known)
        for at, trace_ids in replies.items():
            self.env["email.automation.trace"].browse(trace_ids).write({"replied_at": at})
