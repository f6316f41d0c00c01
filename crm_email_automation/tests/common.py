from types import SimpleNamespace
from unittest.mock import patch

import odoo.http
from odoo import Command
from odoo.modules import module as odoo_module
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, TransactionCase, get_db_name, new_test_user

from odoo.addons.base.models import ir_mail_server

from .smtp_server import SmtpServer


def real_smtp_patch():
    """Odoo never opens an SMTP connection in tests; these tests want the real thing."""
    return patch.object(ir_mail_server, "modules", SimpleNamespace(module=SimpleNamespace(current_test=None)))


class CommittedDataCase(BaseCase):
    """Tests on committed data, with cursors of their own (workers, lanes) and a real SMTP
    server; they clean up what they commit."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())
        cls.smtp = SmtpServer().start()
        cls.addClassCleanup(cls.smtp.stop)

    def commit_greeting(self, env, label, count, template_values=None, provider_values=None):
        """Commit, through `env`: a mail server on the test SMTP server, `count` new contacts
        and a running transactional scenario greeting them, every contact enrolled; with
        `provider_values` (a function called once the mail server exists), the scenario
        sends through that provider. The ids are kept on the test (`server_id`,
        `provider_id`, `partner_ids`, `template_id`, `scenario_id`)."""
        self.server_id = (
            env["ir.mail_server"]
            .create({"name": f"{label} SMTP", "smtp_host": "127.0.0.1", "smtp_port": self.smtp.port, "sequence": 0})
            .id
        )
        provider = env["email.automation.provider"].create(provider_values()) if provider_values else None
        self.provider_id = provider.id if provider else False
        partners = env["res.partner"].create(
            [{"name": f"{label} test {i}", "email": f"{label.lower()}{i}@example.com"} for i in range(count)]
        )
        template = env["mail.template"].create(
            {
                "name": f"{label} template",
                "model_id": env["ir.model"]._get_id("res.partner"),
                "subject": "Hello {{ object.name }}",
                "body_html": "<p>Hello <t t-out='object.name'/></p>",
                **(template_values or {}),
            }
        )
        scenario = env["email.automation.scenario"].create(
            {
                "name": f"{label} scenario",
                "model_id": env["ir.model"]._get_id("res.partner"),
                "trigger": "manual",
                "category": "transactional",
                "mail_server_id": self.server_id,
                "provider_id": self.provider_id,
                "step_ids": [(0, 0, {"name": "Hello", "action_type": "mail", "mail_template_id": template.id})],
            }
        )
        scenario.action_start()
        scenario._enrol(partners.ids)
        self.partner_ids, self.template_id, self.scenario_id = partners.ids, template.id, scenario.id

    def delete_greeting(self, env):
        """Delete, through `env`, what `commit_greeting` committed and what its e-mails left
        (chatter, pending enrolments); the mail server last."""
        scenario = env["email.automation.scenario"].browse(self.scenario_id)
        scenario.state = "stopped"
        env["mail.message"].search([("model", "=", "res.partner"), ("res_id", "in", self.partner_ids)]).unlink()
        env["email.automation.enrolment"].search([("res_id", "in", self.partner_ids)]).unlink()
        scenario.unlink()
        env["mail.template"].browse(self.template_id).unlink()
        env["res.partner"].browse(self.partner_ids).unlink()


def warm_up_http_statics():
    """Read every addon manifest now, in this thread, before a browser hits the server.

    The HTTP server reads them lazily on the first static request; several of its threads
    parsing at once trip a CPython 3.11/3.12 bug ("AST constructor recursion depth
    mismatch", fixed in 3.11.8 and 3.12.2) that fails the request.
    """
    # A lazy property: reading it computes it.
    odoo.http.root.statics  # noqa: B018  # pylint: disable=pointless-statement


def body_text(message):
    part = message.get_body(preferencelist=("html", "plain"))
    return part.get_content()


class EmailAutomationCommon(TransactionCase):
    """Users, Polish and English contacts, a product, templates and a real SMTP server."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.smtp = SmtpServer().start()
        cls.addClassCleanup(cls.smtp.stop)
        cls.startClassPatcher(real_smtp_patch())
        # Odoo's own test runner marks the running test; pytest-odoo does not on 18.0. The
        # module relies on the mark to never commit inside a test transaction.
        cls.startClassPatcher(patch.object(odoo_module, "current_test", True))
        cls.env["ir.mail_server"].search([]).active = False
        cls.mail_server = cls.env["ir.mail_server"].create(
            {
                "name": "Test SMTP",
                "smtp_host": "127.0.0.1",
                "smtp_port": cls.smtp.port,
                "smtp_encryption": "none",
                "sequence": 1,
            }
        )
        # Demo scenarios would enrol the records the tests create: keep them out.
        cls.demo_scenarios = cls.env["email.automation.scenario"].search([("state", "=", "running")])
        cls.demo_scenarios.state = "paused"
        cls.env["res.lang"]._activate_lang("pl_PL")
        cls.company = cls.env.company
        cls.company.email = "sales@example.com"

        cls.user_manager = new_test_user(
            cls.env,
            "ea_manager",
            groups="base.group_user,crm_email_automation.group_manager,sales_team.group_sale_salesman",
            email="manager@example.com",
        )
        cls.user_user = new_test_user(
            cls.env,
            "ea_user",
            groups="base.group_user,crm_email_automation.group_user,sales_team.group_sale_salesman",
            email="user@example.com",
        )
        cls.user_salesman = new_test_user(
            cls.env,
            "ea_salesman",
            groups="base.group_user,sales_team.group_sale_salesman",
            email="salesman@example.com",
        )
        cls.partner_pl = cls.env["res.partner"].create(
            {
                "name": "Jan Kowalski",
                "email": "jan@example.pl",
                "lang": "pl_PL",
                "country_id": cls.env.ref("base.pl").id,
            }
        )
        cls.partner_en = cls.env["res.partner"].create(
            {
                "name": "John Smith",
                "email": "john@example.com",
                "lang": "en_US",
                "country_id": cls.env.ref("base.uk").id,
            }
        )
        cls.product = cls.env["product.product"].create({"name": "Consulting hour", "list_price": 100.0})

        cls.template_partner = cls._create_template(
            "res.partner",
            subject="Welcome {{ object.name }}",
            subject_pl="Witamy, {{ object.name }}",
            body="<p>Hello <t t-out='object.name'/>, welcome aboard.</p>",
            body_pl="<p>Dzień dobry, <t t-out='object.name'/>, cieszymy się, że są Państwo z nami.</p>",
        )
        cls.template_order = cls._create_template(
            "sale.order",
            subject="About your quotation {{ object.name }}",
            subject_pl="W sprawie oferty {{ object.name }}",
            body="<p>Your quotation <t t-out='object.name'/> is waiting for you.</p>",
            body_pl="<p>Państwa oferta <t t-out='object.name'/> czeka na Państwa decyzję.</p>",
        )
        cls.template_lead = cls._create_template(
            "crm.lead",
            subject="Following up on {{ object.name }}",
            subject_pl="Kontynuacja: {{ object.name }}",
            body="<p>We are following up on <t t-out='object.name'/>.</p>",
            body_pl="<p>Wracamy do tematu <t t-out='object.name'/>.</p>",
        )

    @classmethod
    def _create_template(cls, model, subject, subject_pl, body, body_pl):
        template = cls.env["mail.template"].create(
            {
                "name": f"Test {model} {subject}",
                "model_id": cls.env["ir.model"]._get_id(model),
                "subject": subject,
                "body_html": body,
                "email_from": "{{ object.env.company.email_formatted }}",
            }
        )
        template.update_field_translations("subject", {"pl_PL": subject_pl})
        template.update_field_translations("body_html", {"pl_PL": body_pl})
        return template

    def setUp(self):
        super().setUp()
        self.smtp.clear()

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def create_scenario(self, model="res.partner", steps=None, start=True, **values):
        """A scenario with `steps` (dicts); by default one e-mail sent at enrolment."""
        model_id = self.env["ir.model"]._get_id(model)
        templates = {
            "res.partner": self.template_partner,
            "sale.order": self.template_order,
            "crm.lead": self.template_lead,
        }
        if steps is None:
            steps = [{"name": "First e-mail", "trigger_type": "begin"}]
        step_commands = [
            Command.create(
                {
                    "sequence": index,
                    "action_type": "mail",
                    "mail_template_id": templates[model].id,
                    "delay": 0,
                    **step,
                }
            )
            for index, step in enumerate(steps)
        ]
        scenario = self.env["email.automation.scenario"].create(
            {
                "name": f"Scenario {model}",
                "model_id": model_id,
                "trigger": "manual",
                "category": "transactional",
                "step_ids": step_commands,
                **values,
            }
        )
        if start:
            scenario.action_start()
        return scenario

    def create_order(self, partner=None, **values):
        return self.env["sale.order"].create(
            {
                "partner_id": (partner or self.partner_en).id,
                "order_line": [Command.create({"product_id": self.product.id, "product_uom_qty": 2})],
                **values,
            }
        )

    def run_queue(self):
        return self.env["email.automation.queue"]._process_queue()

    def assertSentTo(self, address, count=1):
        messages = self.smtp.messages_to(address)
        self.assertEqual(len(messages), count, f"{address} received {len(messages)} e-mail(s), expected {count}")
        return messages
