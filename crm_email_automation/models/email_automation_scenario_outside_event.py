import re

from odoo import api, fields, models
from odoo.exceptions import ValidationError

# The names outside systems give their events: what the API accepts and the trigger matches.
EVENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"


class EmailAutomationScenario(models.Model):
    _inherit = "email.automation.scenario"  # pylint: disable=consider-merging-classes-inherited

    trigger = fields.Selection(
        selection_add=[("on_outside_event", "Outside event")],
        ondelete={"on_outside_event": "set default"},
    )
    outside_event_name = fields.Char(
        string="Event Name",
        tracking=True,
        help="The name outside systems post to the event API (for example order_shipped): "
        "each such event enrols the record it names. Its payload is available as `payload` "
        "in the templates and step conditions.",
    )

    @api.constrains("trigger", "outside_event_name")
    def _check_outside_event_name(self):
        for scenario in self.filtered(lambda s: s.trigger == "on_outside_event"):
            if not re.match(EVENT_NAME_PATTERN, scenario.outside_event_name or ""):
                raise ValidationError(
                    self.env._(
                        "Event Name: scenario “%(name)s” needs the name of the outside event, made of "
                        "letters, digits and _ . : - (for example order_shipped).",
                        name=scenario.name,
                    )
                )
