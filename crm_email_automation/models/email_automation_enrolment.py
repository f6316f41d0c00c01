from odoo import fields, models


class EmailAutomationEnrolment(models.Model):
    """A record a trigger fired for, waiting for the queue to enrol it.

    Triggers only write these rows, so that the user's create or write pays one insert;
    the queue checks the segment and the re-entry policy and creates the participants.
    """

    _name = "email.automation.enrolment"
    _description = "E-mail Automation Pending Enrolment"
    _order = "id"

    scenario_id = fields.Many2one("email.automation.scenario", required=True, ondelete="cascade", index=True)
    # Filled by the triggers' INSERT too (see base.py): the company's record rule reads it.
    company_id = fields.Many2one(related="scenario_id.company_id", store=True, index=True)
    res_model = fields.Char(related="scenario_id.model_name", string="Document Model")
    res_id = fields.Many2oneReference(string="Document ID", model_field="res_model", required=True)
    triggered_at = fields.Datetime(required=True, default=fields.Datetime.now)
