from odoo import api, fields, models


class EmailAutomationConsentWording(models.Model):
    """The exact text a person saw when giving consent, one record per version."""

    _name = "email.automation.consent.wording"
    _description = "E-mail Consent Wording"
    _order = "date desc, id desc"

    name = fields.Char(required=True, translate=True)
    version = fields.Char(required=True, help="Cited in the consent ledger, for example 2025-01.")
    text = fields.Html(required=True, translate=True, sanitize=True, help="The consent statement shown to the person.")
    date = fields.Date(string="Valid From", required=True, default=fields.Date.context_today)
    active = fields.Boolean(default=True)

    _sql_constraints = [
        ("version_uniq", "unique(version)", "Each consent wording version must be unique."),
    ]

    @api.depends("name", "version")
    def _compute_display_name(self):
        for wording in self:
            wording.display_name = f"{wording.name} ({wording.version})" if wording.version else wording.name

    @api.model
    def _get_current(self):
        """The wording in force: the most recent active version."""
        return self.search([("date", "<=", fields.Date.today())], limit=1) or self.search([], limit=1)
