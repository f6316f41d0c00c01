from odoo import api, fields, models
from odoo.exceptions import UserError

# What the ledger cites: fixed once an entry points at the wording.
LOCKED_FIELDS = {"text", "version"}


class EmailAutomationConsentWording(models.Model):
    """The exact text a person saw when giving consent, one record per version.

    Once a ledger entry cites a version, its text and version number can no longer change
    (translations included): "New Version" makes a copy to edit instead.
    """

    _name = "email.automation.consent.wording"
    _description = "E-mail Consent Wording"
    _order = "date desc, id desc"

    name = fields.Char(required=True, translate=True)
    version = fields.Char(required=True, copy=False, help="Cited in the consent ledger, for example 2025-01.")
    text = fields.Html(required=True, translate=True, sanitize=True, help="The consent statement shown to the person.")
    date = fields.Date(string="Valid From", required=True, default=fields.Date.context_today)
    active = fields.Boolean(default=True)
    is_cited = fields.Boolean(
        string="Cited in the Ledger",
        compute="_compute_is_cited",
        help="A consent ledger entry cites this version: its text can no longer change.",
    )

    _sql_constraints = [
        ("version_uniq", "unique(version)", "Each consent wording version must be unique."),
    ]

    @api.depends("name", "version")
    def _compute_display_name(self):
        for wording in self:
            wording.display_name = f"{wording.name} ({wording.version})" if wording.version else wording.name

    def _compute_is_cited(self):
        cited = self._cited()
        for wording in self:
            wording.is_cited = wording in cited

    def _cited(self):
        """The wordings of `self` that a ledger entry cites."""
        if not self.ids:
            return self.browse()
        # sudo: whether the ledger cites a wording is no personal data.
        Ledger = self.env["email.automation.consent"].sudo()
        groups = Ledger._read_group([("wording_id", "in", self.ids)], ["wording_id"])
        return self.browse([wording.id for (wording,) in groups])

    def _check_not_cited(self, names):
        if not set(names) & LOCKED_FIELDS:
            return
        if cited := self._cited():
            raise UserError(
                self.env._(
                    "The consent wording %(wordings)s is cited in the consent ledger: its text and version "
                    "cannot change. Use New Version to write a new text.",
                    wordings=", ".join(cited.mapped("display_name")),
                )
            )

    def write(self, vals):
        self._check_not_cited(vals)
        return super().write(vals)

    def _update_field_translations(self, field_name, translations, digest=None, source_lang=None):
        self._check_not_cited([field_name])
        return super()._update_field_translations(field_name, translations, digest=digest, source_lang=source_lang)

    @api.model
    def _get_current(self):
        """The wording in force: the most recent active version."""
        return self.search([("date", "<=", fields.Date.today())], limit=1) or self.search([], limit=1)

    def _next_version(self):
        self.ensure_one()
        base = fields.Date.to_string(fields.Date.context_today(self))
        Wording = self.with_context(active_test=False)
        versions = set(Wording.search([("version", "=like", f"{base}%")]).mapped("version"))
        candidate, number = base, 1
        while candidate in versions:
            number += 1
            candidate = f"{base}-{number}"
        return candidate

    def action_new_version(self):
        """A copy of this wording (translations included) to edit, valid from today."""
        self.ensure_one()
        new = self.copy({"version": self._next_version(), "date": fields.Date.context_today(self)})
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": new.id,
            "view_mode": "form",
            "target": "current",
        }
