from odoo import api, fields, models
from odoo.exceptions import UserError


class EmailAutomationTestRun(models.TransientModel):
    """Test on a record: the scenario runs for one record alone, a step at a time on
    demand, each e-mail to a test address, with what the policies would have done."""

    _name = "email.automation.test.run"
    _description = "E-mail Automation Test Run"

    scenario_id = fields.Many2one("email.automation.scenario", required=True, readonly=True, ondelete="cascade")
    res_model = fields.Char(related="scenario_id.model_name", string="Model Name")
    res_id = fields.Many2oneReference(
        string="Record", model_field="res_model", help="The record the scenario runs for, alone."
    )
    test_email = fields.Char(
        string="Test Address",
        default=lambda self: self.env.user.email,
        help="Every e-mail of the test goes here, marked as a test.",
    )
    participant_id = fields.Many2one("email.automation.participant", readonly=True)
    trace_ids = fields.One2many(related="participant_id.trace_ids", string="Steps Run")
    participant_state = fields.Selection(related="participant_id.state", string="Test Status")
    has_pending = fields.Boolean(compute="_compute_has_pending")

    @api.depends("participant_id.trace_ids.state")
    def _compute_has_pending(self):
        for wizard in self:
            wizard.has_pending = any(t.state == "scheduled" for t in wizard.participant_id.trace_ids)

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Test on a Record"),
        }

    def action_start(self):
        self.ensure_one()
        if self.participant_id:
            raise UserError(self.env._("This test has started already."))
        self.participant_id = self.scenario_id._start_test_run(self.res_id, self.test_email)
        return self._reopen()

    def action_run_next_step(self):
        self.ensure_one()
        if not self.participant_id:
            raise UserError(self.env._("Start the test first."))
        if not self.participant_id._run_next_test_step():
            raise UserError(self.env._("The test run has no step left to run."))
        return self._reopen()

    def action_stop(self):
        self.ensure_one()
        # sudo: ends the test participation the wizard created; managers only.
        self.participant_id.sudo().filtered(lambda p: p.state == "running")._end("cancelled", "manual")
        return self._reopen()
