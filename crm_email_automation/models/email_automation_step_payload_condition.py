from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.safe_eval import safe_eval, test_python_expr


class EmailAutomationStep(models.Model):
    _inherit = "email.automation.step"  # pylint: disable=consider-merging-classes-inherited

    scenario_trigger = fields.Selection(related="scenario_id.trigger", string="Scenario Trigger")
    payload_condition = fields.Char(
        string="Event Condition",
        help="For scenarios triggered by an outside event: a Python expression on the event's "
        "`payload` (a dictionary), checked when the step is due, for example "
        "payload.get('plan') == 'pro'. When false, the step is skipped and the reason recorded.",
    )

    @api.constrains("payload_condition")
    def _check_payload_condition(self):
        for step in self.filtered("payload_condition"):
            error = test_python_expr(step.payload_condition.strip(), mode="eval")
            if error:
                raise ValidationError(
                    self.env._(
                        "Event Condition: step “%(name)s” has an invalid expression: %(error)s",
                        name=step.name,
                        error=error,
                    )
                )

    def _payload_condition_holds(self, payload):
        """Whether the step's event condition is true for `payload`; (False, why) when it
        cannot be evaluated (a missing key read with [] rather than .get, say)."""
        self.ensure_one()
        try:
            return bool(safe_eval(self.payload_condition.strip(), {"payload": payload})), False
        except Exception as error:  # noqa: BLE001 - a bad payload skips the step with the reason
            return False, str(error)


class EmailAutomationTrace(models.Model):
    _inherit = "email.automation.trace"  # pylint: disable=consider-merging-classes-inherited

    def _skip_or_cancel_unfit(self):
        runnable = super()._skip_or_cancel_unfit()
        for trace in runnable.filtered(lambda t: t.step_id.payload_condition):
            holds, error = trace.step_id._payload_condition_holds(trace.participant_id._outside_event_payload())
            if not holds:
                trace._finish("skipped", "condition_false", error)
        return runnable.filtered(lambda t: t.state == "processing")
