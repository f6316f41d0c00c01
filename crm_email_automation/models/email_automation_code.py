"""Stable keys of the records a scenario document (YAML) names: scenarios, steps and
e-mail templates are matched by these codes across databases, never by database ids.

A record loaded from a data file takes its XML id as code; any other record gets one
made from its name and a random suffix when it is created. Codes never change by
themselves, so that staging and production keep naming the same scenario the same way.
"""

import re
import secrets

from odoo import api, fields, models
from odoo.tools import SQL


def make_code(name):
    """A readable, unique-enough code: the name's letters and digits, and 6 random hex."""
    slug = re.sub(r"[^a-z0-9]+", "_", (name or "").lower()).strip("_")[:40] or "record"
    return f"{slug}_{secrets.token_hex(3)}"


class EmailAutomationCodeMixin(models.AbstractModel):
    _name = "email.automation.code.mixin"
    _description = "E-mail Automation Stable Code"
    # The field that holds the code; mail.template names its own to stay clear of others.
    _email_automation_code_field = "code"

    @api.model_create_multi
    def create(self, vals_list):
        field_name = self._email_automation_code_field
        for vals in vals_list:
            if not vals.get(field_name):
                name = vals.get("name")
                vals[field_name] = make_code(name if isinstance(name, str) else "")
        return super().create(vals_list)

    def _load_records(self, data_list, update=False, ignore_duplicates=False):
        # A record of a data file takes its XML id as code.
        field_name = self._email_automation_code_field
        for data in data_list:
            if data.get("xml_id") and field_name not in data["values"]:
                data["values"][field_name] = data["xml_id"]
        return super()._load_records(data_list, update=update, ignore_duplicates=ignore_duplicates)

    def init(self):
        result = super().init()
        if not self._abstract:
            self._fill_missing_codes()
        return result

    def _fill_missing_codes(self):
        """Give codes to the rows created before codes existed: their XML id, else a
        generated one (run at install and upgrade, from `init`)."""
        table, column = SQL.identifier(self._table), SQL.identifier(self._email_automation_code_field)
        self.env.cr.execute(
            SQL(
                """
                UPDATE %(table)s t SET %(column)s = d.module || '.' || d.name
                  FROM ir_model_data d
                 WHERE d.model = %(model)s AND d.res_id = t.id AND t.%(column)s IS NULL
                """,
                table=table,
                column=column,
                model=self._name,
            )
        )
        self.env.cr.execute(
            SQL(
                "UPDATE %(table)s SET %(column)s = 'record_' || substr(md5(random()::text || id::text), 1, 10) "
                "WHERE %(column)s IS NULL",
                table=table,
                column=column,
            )
        )


class EmailAutomationScenario(models.Model):
    _name = "email.automation.scenario"
    _inherit = ["email.automation.scenario", "email.automation.code.mixin"]

    code = fields.Char(
        copy=False,
        index=True,
        help="The scenario's stable key in exported scenario files (YAML): the same code names "
        "the same scenario in every database.",
    )

    _sql_constraints = [("code_uniq", "unique(code)", "Each scenario code must be unique.")]


class EmailAutomationStep(models.Model):
    _name = "email.automation.step"
    _inherit = ["email.automation.step", "email.automation.code.mixin"]

    code = fields.Char(copy=False, index=True, help="The step's stable key in exported scenario files (YAML).")

    _sql_constraints = [
        ("scenario_code_uniq", "unique(scenario_id, code)", "Each step code must be unique in its scenario.")
    ]


class MailTemplate(models.Model):
    _name = "mail.template"
    _inherit = ["mail.template", "email.automation.code.mixin"]
    _email_automation_code_field = "email_automation_code"

    email_automation_code = fields.Char(
        string="Automation Code",
        copy=False,
        index=True,
        help="The template's stable key in exported scenario files (YAML).",
    )

    _sql_constraints = [
        ("email_automation_code_uniq", "unique(email_automation_code)", "Each template automation code must be unique.")
    ]
