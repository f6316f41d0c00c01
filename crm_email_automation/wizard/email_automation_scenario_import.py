import base64
import binascii

from odoo import api, fields, models
from odoo.exceptions import UserError


class EmailAutomationScenarioImport(models.TransientModel):
    """Upload a scenario file (YAML), see what it changes, then apply it all at once."""

    _name = "email.automation.scenario.import"
    _description = "Import E-mail Automation Scenarios"

    document_file = fields.Binary(string="Scenario File", required=True)
    filename = fields.Char()
    state = fields.Selection([("upload", "Upload"), ("review", "Review")], default="upload", required=True)
    diff_html = fields.Html(string="Changes", readonly=True)
    has_changes = fields.Boolean(readonly=True)

    def _document_text(self):
        self.ensure_one()
        try:
            return base64.b64decode(self.document_file or b"").decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise UserError(self.env._("The file is not a text file in UTF-8: export scenarios to get one.")) from error

    @api.onchange("document_file")
    def _onchange_document_file(self):
        self.state = "upload"
        self.diff_html = False

    def action_check(self):
        """Read the file and show what applying it would change; nothing is written."""
        self.ensure_one()
        Document = self.env["email.automation.scenario.document"]
        diff = Document._diff(Document._read_document(self._document_text()))
        self.write(
            {"state": "review", "diff_html": Document._diff_html(diff), "has_changes": Document._diff_has_changes(diff)}
        )
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_email_automation.email_automation_scenario_import_action"
        )
        action["res_id"] = self.id
        return action

    def action_apply(self):
        """Apply the file: every scenario, step and template in it, or nothing."""
        self.ensure_one()
        diff = self.env["email.automation.scenario.document"]._import_text(self._document_text())
        changed = [item for item in diff if item["status"] in ("added", "changed")]
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": self.env._("Scenarios imported"),
                "message": self.env._("%(count)s scenarios and templates added or changed.", count=len(changed)),
                "next": self.env["ir.actions.act_window"]._for_xml_id(
                    "crm_email_automation.email_automation_scenario_action"
                ),
            },
        }
