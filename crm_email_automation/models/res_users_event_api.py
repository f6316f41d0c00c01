from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.base.models.res_users import check_identity

API_GROUP = "crm_email_automation.group_api"


class ResUsers(models.Model):
    _inherit = "res.users"

    is_email_automation_api_user = fields.Boolean(
        string="E-mail Automation API User", compute="_compute_is_email_automation_api_user"
    )

    @api.depends("groups_id")
    def _compute_is_email_automation_api_user(self):
        group = self.env.ref(API_GROUP, raise_if_not_found=False)
        for user in self:
            user.is_email_automation_api_user = bool(group) and group in user.groups_id

    @check_identity
    def action_email_automation_new_api_key(self):
        """Give an event API user a new API key, shown once in Odoo's own key dialog.

        API users are neither internal nor portal users (so that they read nothing), and
        Odoo lets only those create their own keys: an administrator makes it for them."""
        self.ensure_one()
        if not self.env.user.has_group("base.group_erp_manager"):
            raise UserError(self.env._("Only administrators of access rights can create API keys for others."))
        if not self.has_group(API_GROUP):
            raise UserError(self.env._("%(user)s is not in the group E-mail Automation / API.", user=self.name))
        # sudo + with_user: Odoo's key generator makes the key for the current user.
        key = (
            self.env["res.users.apikeys"]
            .with_user(self)
            .sudo()
            ._generate(None, self.env._("E-mail automation event API"), False)
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": "res.users.apikeys.show",
            "name": self.env._("API Key Ready"),
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_key": key},
        }

    def _email_automation_is_api_user(self):
        self.ensure_one()
        return self.active and self.has_group(API_GROUP)
